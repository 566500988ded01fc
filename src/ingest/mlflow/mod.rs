//! MLflow runs as jobs, read from a live tracking server: each run is a job (its id the job id,
//! its tags the manifest's columns), and its GPU power series (system metrics logging:
//! `system/gpu_{i}_power_usage_watts`, or `system/<node_id>/gpu_{i}_…` on multi-node runs)
//! are power samples of one device each, timed by their timestamps (never `step`). The series
//! are spilled once and streamed to compute like any source. Runs without power series are
//! metered by CodeCarbon's MLflow metrics (`energy_consumed`, kWh) when they have them, else
//! estimated from their GPU count and duration.

mod api;

use super::samples::{Kind, LiveSource, Nodes, SampleBatch, ScanOutput, Source};
use super::spill::{self, Record, Spill};
use super::{Ingested, InputRecord, Job, Metered, Origin, Status, TrainingType};
use crate::config::mlflow::Mlflow;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::findings::{codes, list, Finding};
use crate::ledger::Boundary;
use api::{Api, Run};
use std::collections::BTreeMap;

/// What the report says of a job made from a run.
pub(crate) const DERIVED: &str = "mlflow run";

/// One GPU power series: the node it ran on and the GPU's index.
#[derive(Debug, Clone)]
struct Series {
    node: String,
    gpu: u32,
}

/// The fetched power series, spilled.
#[derive(Debug)]
pub(crate) struct Fetched {
    series: Vec<Series>,
    power: Spill,
    rows: u64,
}

impl LiveSource for Fetched {
    fn scan(
        &self,
        nodes: &mut Nodes,
        _out: &mut ScanOutput,
        on_batch: &mut dyn FnMut(&SampleBatch),
    ) -> Result<u64> {
        let ids: Vec<u32> = self.series.iter().map(|s| nodes.id(&s.node)).collect();
        let mut batch = SampleBatch::default();
        self.power.read(&mut |recs| {
            for r in recs {
                let s = &self.series[r.gpu as usize];
                batch.push(ids[r.gpu as usize], s.gpu, r.t_ms, r.value);
            }
            if batch.len() >= 1 << 16 {
                on_batch(&batch);
                batch = SampleBatch::default();
            }
        })?;
        on_batch(&batch);
        Ok(self.power.records)
    }
    fn expected_rows(&self) -> u64 {
        self.rows
    }
}

/// A GPU power series key: `(node id, gpu index)`.
fn power_key(key: &str) -> Option<(Option<&str>, u32)> {
    let rest = key.strip_prefix("system/")?;
    let (node, metric) = match rest.rsplit_once('/') {
        Some((n, m)) => (Some(n), m),
        None => (None, rest),
    };
    let gpu = metric
        .strip_prefix("gpu_")?
        .strip_suffix("_power_usage_watts")?
        .parse()
        .ok()?;
    Some((node, gpu))
}

/// The GPU indices any system metric of the run names (`gpu_{i}_…`), per node.
fn gpus_named(run: &Run) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    for m in &run.data.metrics {
        let Some(rest) = m.key.strip_prefix("system/") else {
            continue;
        };
        let (node, metric) = rest.rsplit_once('/').unwrap_or(("", rest));
        if let Some(i) = metric
            .strip_prefix("gpu_")
            .and_then(|r| r.split('_').next())
            .and_then(|i| i.parse::<u32>().ok())
        {
            seen.insert((node.to_string(), i));
        }
    }
    seen.len()
}

/// Runs from an MLflow tracking server (`[mlflow]`, `--mlflow`).
pub(crate) struct MlflowReader;

impl super::Reader for MlflowReader {
    fn name(&self) -> &'static str {
        "MLflow"
    }
    fn given(&self, cfg: &Config) -> bool {
        cfg.mlflow.is_some()
    }
    fn read(&self, cx: &super::Cx, out: &mut Ingested) -> Result<()> {
        load(cx.cfg, out)
    }
}

/// Read the server's runs into jobs and their power series into a source. Nothing to do
/// without `[mlflow]`/`--mlflow`.
fn load(cfg: &Config, out: &mut Ingested) -> Result<()> {
    let Some(m) = &cfg.mlflow else {
        return Ok(());
    };
    let api = Api::new(m)?;
    let (runs, names, ids) = search(&api, m)?;
    let shown = format!("mlflow {}", m.url);
    let now = chrono::Utc::now().timestamp_millis();
    let (p0, p1) = cfg
        .report
        .period
        .as_ref()
        .map(|p| (p.start.timestamp_millis(), p.end.timestamp_millis()))
        .unwrap_or((i64::MIN, i64::MAX));
    let mut writer = spill::Writer::new()?;
    let mut series: Vec<Series> = Vec::new();
    let mut tally = Tally::default();
    for run in &runs {
        let Some(start) = run.info.start_time else {
            tally.no_start.push(run.info.run_id.clone());
            continue;
        };
        // A run still running (no end, or status RUNNING) is counted to the period's end or now.
        let (end, running) = match run.info.end_time {
            Some(e) if run.info.status != "RUNNING" && e >= start => (e, false),
            _ => (now.min(p1).max(start), true),
        };
        if end < p0 || start >= p1 {
            tally.outside += 1;
            continue;
        }
        let host = run.tag(&m.host_tag).map(str::to_string);
        let sink = (&mut writer, &mut series);
        let placement = fetch_series(&api, run, host, sink, &shown, &mut out.findings)?;
        let exp = names
            .get(&run.info.experiment_id)
            .map_or("", String::as_str);
        let job = job(
            run,
            (start, end),
            placement,
            exp,
            m,
            cfg,
            &shown,
            &mut tally,
        );
        if running {
            tally.running.push(run.info.run_id.clone());
        }
        merge(job, &mut out.jobs, &mut tally);
    }
    let (power, sha256) = writer.finish()?;
    tally.findings(&shown, runs.len(), &mut out.findings);
    let rows = power.records;
    out.inputs.push(record(m, &ids, sha256, rows));
    let fetched = Fetched {
        series,
        power,
        rows,
    };
    out.telemetry.push(Source::live(
        shown,
        Kind::Mlflow,
        std::sync::Arc::new(fetched),
    ));
    Ok(())
}

/// The chosen experiments' runs, every experiment's name by id, and the chosen ids.
type Found = (Vec<Run>, BTreeMap<String, String>, Vec<String>);

fn search(api: &Api, m: &Mlflow) -> Result<Found> {
    let experiments = api.experiments()?;
    let ids: Vec<String> = choose(m, &experiments)?
        .iter()
        .map(|e| e.experiment_id.clone())
        .collect();
    let names = experiments
        .into_iter()
        .map(|e| (e.experiment_id, e.name))
        .collect();
    let runs = if ids.is_empty() {
        Vec::new()
    } else {
        api.runs(&ids, m.filter.as_deref())?
    };
    Ok((runs, names, ids))
}

/// The source's input record: the server, the experiments and filter, the samples' sha256.
fn record(m: &Mlflow, ids: &[String], sha256: String, rows: u64) -> InputRecord {
    InputRecord {
        path: format!("mlflow {}", m.url),
        kind: "mlflow",
        sha256,
        size: rows * 24,
        rows,
        rows_used: rows,
        rows_rejected: 0,
        rows_superseded: 0,
        location: format!(
            "{} experiments={} filter={}",
            m.url,
            ids.join(","),
            m.filter.as_deref().unwrap_or("")
        ),
    }
}

/// The experiments `[mlflow] experiments` names (by id or name), else all; a name the server
/// does not know stops the run.
fn choose<'a>(m: &Mlflow, all: &'a [api::Experiment]) -> Result<Vec<&'a api::Experiment>> {
    if m.experiments.is_empty() {
        return Ok(all.iter().collect());
    }
    m.experiments
        .iter()
        .map(|want| {
            all.iter()
                .find(|e| &e.experiment_id == want)
                .or_else(|| all.iter().find(|e| &e.name == want))
                .ok_or_else(|| {
                    let known: Vec<&str> = all.iter().map(|e| e.name.as_str()).take(20).collect();
                    Error::new(format!(
                        "[mlflow] experiments: '{want}' is no experiment id or name on {} (it has: {})",
                        m.url,
                        known.join(", ")
                    ))
                    .hint("give names or ids as the tracking server's UI shows them")
                })
        })
        .collect()
}

/// Counts for the summary findings.
#[derive(Default)]
struct Tally {
    added: usize,
    enriched: usize,
    outside: usize,
    sampled: usize,
    codecarbon: usize,
    estimated: usize,
    no_team: usize,
    no_gpus: Vec<String>,
    no_start: Vec<String>,
    running: Vec<String>,
    unknown_sites: BTreeMap<String, usize>,
}

impl Tally {
    fn findings(&self, shown: &str, runs: usize, f: &mut Vec<Finding>) {
        let mut msg = format!(
            "{runs} MLflow runs read: {} became jobs and {} matched input rows by run id; {} with GPU power series (sampled), {} with CodeCarbon energy (metered), {} with neither (estimated from GPU count and duration); {} outside the period",
            self.added, self.enriched, self.sampled, self.codecarbon, self.estimated, self.outside
        );
        if self.no_team > 0 {
            msg.push_str(&format!(
                "; {} have no team tag and are booked to 'unassigned'",
                self.no_team
            ));
        }
        f.push(Finding::info(codes::MLFLOW_RUNS, msg).at(shown, None));
        if !self.running.is_empty() {
            f.push(Finding::warning(codes::MLFLOW_RUNNING, format!("{} runs are still running: they are counted up to the period's end or now, whichever is earlier, and will change: {}", self.running.len(), list(&self.running))).at(shown, None));
        }
        if !self.no_gpus.is_empty() {
            f.push(Finding::warning(codes::MLFLOW_NO_GPUS, format!("{} runs without GPU series give no GPU count (tag or param 'gpus'): 1 GPU is assumed for their estimate: {}", self.no_gpus.len(), list(&self.no_gpus))).at(shown, None));
        }
        if !self.no_start.is_empty() {
            f.push(
                Finding::error(
                    codes::MLFLOW_NO_START,
                    format!(
                        "{} runs have no start time and are not used: {}",
                        self.no_start.len(),
                        list(&self.no_start)
                    ),
                )
                .at(shown, None),
            );
        }
        for (site, n) in &self.unknown_sites {
            f.push(Finding::warning(codes::MLFLOW_UNKNOWN_SITE, format!("{n} runs name site '{site}' in their site tag, which no [[site]] defines: their site is left unset")).at(shown, None));
        }
    }
}

/// Fetch the run's GPU power series into the spill; the run's placement (node -> GPUs). A
/// series that cannot be fetched is an error finding naming the run and the metric.
fn fetch_series(
    api: &Api,
    run: &Run,
    host: Option<String>,
    (writer, series): (&mut spill::Writer, &mut Vec<Series>),
    shown: &str,
    findings: &mut Vec<Finding>,
) -> Result<Vec<(String, Vec<u32>)>> {
    let mut keys: Vec<(&str, String, u32)> = run
        .data
        .metrics
        .iter()
        .filter_map(|m| {
            power_key(&m.key).map(|(node, gpu)| {
                let node = node
                    .map(str::to_string)
                    .or_else(|| host.clone())
                    .unwrap_or_else(|| run.info.run_id.clone());
                (m.key.as_str(), node, gpu)
            })
        })
        .collect();
    keys.sort_by(|a, b| (&a.1, a.2).cmp(&(&b.1, b.2)));
    let mut placement: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (key, node, gpu) in keys {
        let points = match api.history(&run.info.run_id, key) {
            Ok(p) => p,
            Err(f) => {
                let why = f.why();
                findings.push(Finding::error(codes::MLFLOW_HISTORY, format!("run {} ({}): the history of '{key}' could not be read, so that GPU's samples are missing: {why}", run.info.run_id, run.info.run_name.as_deref().unwrap_or("")) ).at(shown, None));
                continue;
            }
        };
        let idx = series.len() as u32;
        series.push(Series {
            node: node.clone(),
            gpu,
        });
        let mut pts: Vec<(i64, f64)> = points
            .iter()
            .map(|p| (p.timestamp, p.value.unwrap_or(f64::NAN)))
            .collect();
        pts.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        for (t, v) in pts {
            writer.push(&Record {
                gpu: idx,
                job: 0,
                t_ms: t,
                value: v,
            })?;
        }
        placement.entry(node).or_default().push(gpu);
    }
    Ok(placement
        .into_iter()
        .map(|(n, mut g)| {
            g.sort_unstable();
            g.dedup();
            (n, g)
        })
        .collect())
}

/// The job of a run: tags to columns, the energy tier's inputs (placement, CodeCarbon energy,
/// GPU count).
#[allow(clippy::too_many_arguments)]
fn job(
    run: &Run,
    (start, end): (i64, i64),
    placement: Vec<(String, Vec<u32>)>,
    experiment: &str,
    m: &Mlflow,
    cfg: &Config,
    shown: &str,
    tally: &mut Tally,
) -> Job {
    let ms = |t: i64| chrono::DateTime::from_timestamp_millis(t).unwrap_or_default();
    let name = run
        .info
        .run_name
        .clone()
        .or_else(|| run.tag("mlflow.runName").map(str::to_string));
    let team = run.tag(&m.team_tag).map(str::to_string);
    tally.no_team += usize::from(team.is_none());
    let model = run
        .tag(&m.model_tag)
        .map(str::to_string)
        .unwrap_or_else(|| {
            if experiment.is_empty() {
                run.info.run_id.clone()
            } else {
                experiment.to_string()
            }
        });
    let mut j = Job::bare(
        run.info.run_id.clone(),
        model,
        team.unwrap_or_else(|| "unassigned".into()),
        (ms(start), ms(end)),
        Origin {
            file: shown.to_string(),
            line: 0,
        },
    );
    // The experiment is the run's project; the run's name goes beside its id.
    j.project = (!experiment.is_empty()).then(|| experiment.to_string());
    j.base_model = run.tag(&m.base_model_tag).map(str::to_string);
    j.teacher_model = run.tag(&m.teacher_tag).map(str::to_string);
    j.precision = run.tag(&m.precision_tag).map(str::to_string);
    if let Some(t) = run.tag(&m.training_type_tag).and_then(TrainingType::parse) {
        j.training_type = t;
    }
    j.status = match run.info.status.as_str() {
        "FAILED" => Status::Failed,
        "KILLED" => Status::Cancelled,
        _ => Status::Completed,
    };
    j.hardware = run
        .tag(&m.hardware_tag)
        .map(str::to_string)
        .or_else(|| m.hardware.clone())
        .unwrap_or_else(|| "unknown".into());
    j.site = match run.tag(&m.site_tag) {
        Some(s) if cfg.site(s).is_some() => Some(s.to_string()),
        Some(s) => {
            *tally.unknown_sites.entry(s.to_string()).or_default() += 1;
            None
        }
        None => m.site.clone(),
    };
    // The run's name beside its id, and where it was tracked.
    j.derived = Some(match (&name, experiment.is_empty()) {
        (Some(n), false) => format!("{DERIVED} '{n}' in experiment '{experiment}'"),
        (Some(n), true) => format!("{DERIVED} '{n}'"),
        (None, false) => format!("{DERIVED} in experiment '{experiment}'"),
        (None, true) => DERIVED.to_string(),
    });
    energy_inputs(&mut j, run, placement, m, tally);
    j
}

/// Power series place the job (sampled); else CodeCarbon's metrics meter it; else its GPU
/// count (series of any GPU metric, else the `gpus` tag or param, else 1) is estimated.
fn energy_inputs(
    j: &mut Job,
    run: &Run,
    placement: Vec<(String, Vec<u32>)>,
    m: &Mlflow,
    tally: &mut Tally,
) {
    if !placement.is_empty() {
        j.devices = placement.iter().map(|(_, g)| g.len()).sum::<usize>() as f64;
        j.nodes = Some(
            placement
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(","),
        );
        j.placement = Some(placement);
        tally.sampled += 1;
        return;
    }
    if let Some(kwh) = run
        .metric("energy_consumed")
        .filter(|k| k.is_finite() && *k >= 0.0)
    {
        j.metered = Some(Metered {
            it_kwh: kwh,
            boundary: Boundary::System,
            accelerator_share: None,
            source: format!(
                "CodeCarbon (MLflow run metric energy_consumed of run {})",
                j.job_id
            ),
        });
        j.from_codecarbon = true;
        tally.codecarbon += 1;
    } else {
        tally.estimated += 1;
    }
    let named = gpus_named(run);
    let given = run
        .tag(&m.gpus_tag)
        .or_else(|| run.param(&m.gpus_tag))
        .and_then(|g| g.parse::<f64>().ok())
        .filter(|g| g.is_finite() && *g > 0.0);
    j.devices = match (named, given) {
        (n, _) if n > 0 => n as f64,
        (_, Some(g)) => g,
        _ => {
            if j.metered.is_none() {
                tally.no_gpus.push(j.job_id.clone());
            }
            1.0
        }
    };
}

/// A manifest (or sacct) row with the run's id keeps its own fields and gains the run's
/// placement where it names no GPUs; else the run is a job of its own.
fn merge(run_job: Job, jobs: &mut Vec<Job>, tally: &mut Tally) {
    match jobs.iter_mut().find(|j| j.job_id == run_job.job_id) {
        Some(j) => {
            if j.gpu_ids.is_none() {
                if let Some(p) = run_job.placement {
                    j.nodes = run_job.nodes;
                    j.placement = Some(p);
                }
            }
            if j.hardware == "unknown" {
                j.hardware = run_job.hardware;
            }
            if j.metered.is_none() && j.placement.is_none() {
                j.metered = run_job.metered;
            }
            tally.enriched += 1;
        }
        None => {
            jobs.push(run_job);
            tally.added += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_keys_name_the_node_and_gpu() {
        assert_eq!(power_key("system/gpu_0_power_usage_watts"), Some((None, 0)));
        assert_eq!(
            power_key("system/node_1/gpu_7_power_usage_watts"),
            Some((Some("node_1"), 7))
        );
        assert_eq!(power_key("system/gpu_0_power_usage_percentage"), None);
        assert_eq!(power_key("gpu_0_power_usage_watts"), None);
        assert_eq!(power_key("system/gpu_x_power_usage_watts"), None);
    }
}
