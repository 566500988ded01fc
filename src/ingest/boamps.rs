//! BoAmps reports (Boavizta's JSON format for AI energy measurements, 1.x): each file is one
//! metered job. `measures[].powerConsumption` is an energy in kWh (summed over the measures);
//! the job spans the measures (`measurementDateTime` plus `measurementDuration`). A report
//! made by CodeCarbon carries CodeCarbon's PUE inside its energy (1.0 unless configured):
//! `[boamps] codecarbon_pue` divides it out, and a note says so either way.

use super::{InputRecord, Job, Metered, Origin, TrainingType};
use crate::config::{Config, InputFile};
use crate::factors::Factors;
use crate::findings::{codes, Finding};
use crate::ledger::Boundary;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// BoAmps reports (`--boamps`, `[inputs] boamps`): one metered job each.
pub(crate) struct BoampsReader;

impl super::Reader for BoampsReader {
    fn name(&self) -> &'static str {
        "BoAmps"
    }
    fn given(&self, cfg: &Config) -> bool {
        !cfg.inputs.boamps.is_empty()
    }
    fn read(&self, cx: &super::Cx, out: &mut super::Ingested) -> crate::error::Result<()> {
        super::each_file(
            &cx.cfg.inputs.boamps,
            "boamps",
            out,
            |bytes, f, rec, out| {
                read(
                    bytes,
                    f,
                    cx.cfg,
                    cx.factors,
                    rec,
                    &mut out.jobs,
                    &mut out.findings,
                );
                Ok(())
            },
        )
    }
}

/// Read one report as a job; a file that is no usable report is an error finding.
pub(crate) fn read(
    bytes: &[u8],
    f: &InputFile,
    cfg: &Config,
    factors: &Factors,
    rec: &mut InputRecord,
    jobs: &mut Vec<Job>,
    findings: &mut Vec<Finding>,
) {
    rec.rows = 1;
    match job(bytes, f, cfg, factors, findings) {
        Ok(j) => {
            rec.rows_used = 1;
            if jobs.iter().any(|x| x.job_id == j.job_id) {
                rec.rows_used = 0;
                rec.rows_rejected = 1;
                findings.push(
                    Finding::error(codes::JOBS_DUPLICATE_ID, format!("BoAmps report '{}' has the id of a job already read; it is not used (give each report its own header.reportId)", j.job_id))
                        .at(&f.shown, None),
                );
                return;
            }
            jobs.push(j);
        }
        Err(why) => {
            rec.rows_rejected = 1;
            findings.push(
                Finding::error(
                    codes::BOAMPS_BAD_REPORT,
                    format!("{why}; the report is not used"),
                )
                .at(&f.shown, None),
            );
        }
    }
}

fn text<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    v.pointer(path)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The job a report describes, or why it cannot be one.
fn job(
    bytes: &[u8],
    f: &InputFile,
    cfg: &Config,
    factors: &Factors,
    findings: &mut Vec<Finding>,
) -> std::result::Result<Job, String> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("not valid JSON: {e} (line {})", e.line()))?;
    let measures = v
        .get("measures")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or("no measures[]: not a BoAmps report")?;
    let (kwh, start, end) = span(measures, cfg)?;
    let method = text(&v, "/measures/0/measurementMethod")
        .unwrap_or("")
        .to_lowercase();
    let pue = codecarbon_pue(&method, cfg, f, findings);
    let source = format!(
        "BoAmps report ({})",
        if method.is_empty() {
            "method not given"
        } else {
            &method
        }
    );
    Ok(build(
        &v,
        f,
        cfg,
        factors,
        kwh / pue.unwrap_or(1.0),
        (start, end),
        source,
    ))
}

/// A CodeCarbon-made report's PUE to divide out (`[boamps] codecarbon_pue`), with a note
/// either way.
fn codecarbon_pue(
    method: &str,
    cfg: &Config,
    f: &InputFile,
    findings: &mut Vec<Finding>,
) -> Option<f64> {
    if !method.contains("codecarbon") {
        return None;
    }
    let pue = cfg.boamps.codecarbon_pue;
    findings.push(Finding::info(codes::BOAMPS_CODECARBON_PUE, match pue {
        Some(p) => format!("a CodeCarbon-made report: its energy includes CodeCarbon's PUE, {p} by [boamps] codecarbon_pue, which is divided out before the site's PUE applies"),
        None => "a CodeCarbon-made report: its energy includes CodeCarbon's PUE (1.0 unless its run set one); set [boamps] codecarbon_pue to divide another value out".to_string(),
    }).at(&f.shown, None));
    pue
}

/// The job of a parsed report, with its IT energy and span.
#[allow(clippy::too_many_arguments)]
fn build(
    v: &Value,
    f: &InputFile,
    cfg: &Config,
    factors: &Factors,
    it_kwh: f64,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    source: String,
) -> Job {
    let stem = f
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let algo = |k: &str| text(v, &format!("/task/algorithms/0/{k}")).map(str::to_string);
    let (hardware, devices) = gpus(v);
    let zone = text(v, "/environment/country")
        .and_then(|c| country_zone(c, factors))
        .or_else(|| cfg.boamps.zone.clone());
    let mut j = Job::bare(
        text(v, "/header/reportId")
            .map(str::to_string)
            .unwrap_or(stem.clone()),
        algo("algorithmName")
            .or_else(|| algo("foundationModelName"))
            .unwrap_or(stem),
        text(v, "/header/publisher/division")
            .or_else(|| text(v, "/header/publisher/name"))
            .unwrap_or("unassigned")
            .to_string(),
        (start, end),
        Origin {
            file: f.shown.clone(),
            line: 0,
        },
    );
    j.project = text(v, "/header/publisher/projectName").map(str::to_string);
    j.site = cfg.boamps.site.clone();
    j.zone = zone;
    (j.hardware, j.devices) = (hardware, devices);
    j.training_type = match text(v, "/task/taskStage").unwrap_or("") {
        "finetuning" | "fineTuning" => TrainingType::FineTuning,
        "inference" => TrainingType::Evaluation,
        "training" => TrainingType::Pretraining,
        _ => TrainingType::Other,
    };
    j.base_model = algo("foundationModelName");
    j.precision = algo("quantization");
    j.parameters = v
        .pointer("/task/algorithms/0/parametersNumber")
        .and_then(Value::as_f64)
        .map(|b| b * 1e9);
    j.tokens = tokens(v);
    j.metered = Some(Metered {
        it_kwh,
        // CodeCarbon and most BoAmps writers measure CPU, RAM and GPU: the node.
        boundary: Boundary::Node,
        accelerator_share: None,
        source,
    });
    j
}

/// The measures' energy (kWh) and span: each starts at `measurementDateTime` and lasts
/// `measurementDuration` seconds.
fn span(
    measures: &[Value],
    cfg: &Config,
) -> std::result::Result<(f64, DateTime<Utc>, DateTime<Utc>), String> {
    let (mut kwh, mut start, mut end): (f64, Option<DateTime<Utc>>, Option<DateTime<Utc>>) =
        (0.0, None, None);
    for (i, m) in measures.iter().enumerate() {
        let e = m
            .get("powerConsumption")
            .and_then(Value::as_f64)
            .filter(|e| e.is_finite() && *e >= 0.0)
            .ok_or(format!(
                "measures[{i}].powerConsumption is missing or not an energy >= 0 (kWh)"
            ))?;
        kwh += e;
        let at = m
            .get("measurementDateTime")
            .and_then(Value::as_str)
            .ok_or(format!(
                "measures[{i}] has no measurementDateTime: the job cannot be placed in time"
            ))?;
        let t0 = crate::timeutil::parse_timestamp(at, &cfg.inputs.timezone)
            .map_err(|e| format!("measures[{i}].measurementDateTime '{at}': {e}"))?
            .utc;
        let secs = m
            .get("measurementDuration")
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
            .max(0.0);
        let t1 = t0 + chrono::Duration::milliseconds((secs * 1000.0).round() as i64);
        start = Some(start.map_or(t0, |s| s.min(t0)));
        end = Some(end.map_or(t1, |x| x.max(t1)));
    }
    match (start, end) {
        (Some(s), Some(e)) => Ok((kwh, s, e)),
        _ => Err("no measures".to_string()),
    }
}

/// The GPUs of `infrastructure.components` (name and count), else unknown hardware x 1.
fn gpus(v: &Value) -> (String, f64) {
    let comps = v
        .pointer("/infrastructure/components")
        .and_then(Value::as_array);
    for c in comps.into_iter().flatten() {
        if c.get("componentType").and_then(Value::as_str) == Some("gpu") {
            let n = c
                .get("nbComponent")
                .and_then(Value::as_f64)
                .unwrap_or(1.0)
                .max(1.0);
            let name = c
                .get("componentName")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            // "2 x Tesla V100S-PCIE-32GB": the count is nbComponent, the name the rest.
            let name = name.split_once(" x ").map(|(_, r)| r).unwrap_or(name);
            return (name.trim().to_string(), n);
        }
    }
    ("unknown".to_string(), 1.0)
}

/// Input tokens of the dataset entries, when given as tokens.
fn tokens(v: &Value) -> Option<f64> {
    let ds = v.pointer("/task/dataset").and_then(Value::as_array)?;
    let n: f64 = ds
        .iter()
        .filter(|d| d.get("dataType").and_then(Value::as_str) == Some("token"))
        .filter(|d| d.get("dataUsage").and_then(Value::as_str) == Some("input"))
        .filter_map(|d| d.get("dataQuantity").and_then(Value::as_f64))
        .sum();
    (n > 0.0).then_some(n)
}

/// A grid zone from BoAmps' free-text country: a zone or ISO code as written, else a
/// country name of the factor table ("france" -> FR).
fn country_zone(country: &str, factors: &Factors) -> Option<String> {
    if factors.zone(country).is_some() {
        return Some(country.to_uppercase());
    }
    factors.zone_by_name(country)
}
