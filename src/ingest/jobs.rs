//! The jobs manifest (CSV or Parquet): one row per training job, every column of DESIGN §3.

use super::table::{self, TextTable};
use super::{InputRecord, Job, Metered, Origin, Status, TrainingType};
use crate::config::{Config, InputFile};
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use crate::timeutil::parse_timestamp;
use std::collections::BTreeMap;

/// Columns that must be present.
pub const REQUIRED: [&str; 7] = [
    "job_id", "model", "team", "start", "end", "hardware", "devices",
];
/// Every column the manifest may have.
pub const KNOWN: [&str; 24] = [
    "job_id",
    "model",
    "team",
    "project",
    "site",
    "zone",
    "start",
    "end",
    "hardware",
    "devices",
    "nodes",
    "gpu_ids",
    "training_type",
    "base_model",
    "teacher_model",
    "sparsity",
    "precision",
    "parameters",
    "tokens",
    "status",
    "gpu_hours",
    "avg_power_w",
    "energy_kwh",
    "published",
];
const PRECISIONS: [&str; 7] = ["fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4"];

/// Read one manifest. Rows with errors are set aside with a finding; the rest become jobs.
pub fn read(
    bytes: &[u8],
    f: &InputFile,
    cfg: &Config,
    rec: &mut InputRecord,
    findings: &mut Vec<Finding>,
) -> Result<Vec<Job>> {
    let t = if table::is_parquet(&f.path) {
        table::read_parquet(bytes, &f.shown)?
    } else {
        table::read_csv(bytes, &f.shown)?
    };
    rec.rows = t.rows as u64;
    let header_line = if table::is_parquet(&f.path) {
        None
    } else {
        Some(1)
    };
    for c in REQUIRED {
        if t.col(c).is_none() {
            return Err(Error::in_file(
                &f.shown,
                format!("{} column '{c}' is missing", codes::JOBS_MISSING_COLUMN),
            )
            .at_line(1)
            .hint(format!(
                "the jobs manifest needs the columns {}",
                REQUIRED.join(", ")
            )));
        }
    }
    if t.col("site").is_none() && t.col("zone").is_none() {
        return Err(Error::in_file(&f.shown, format!("{} the manifest needs a 'site' or a 'zone' column", codes::JOBS_MISSING_COLUMN))
            .at_line(1)
            .hint("name each job's datacenter (site, defined in greenledger.toml) or its grid zone (e.g. FR)"));
    }
    for c in &t.columns {
        if !KNOWN.contains(&c.as_str()) {
            findings.push(
                Finding::warning(
                    codes::JOBS_UNKNOWN_COLUMN,
                    format!(
                        "unknown column '{c}' is ignored (known columns: {})",
                        KNOWN.join(", ")
                    ),
                )
                .at(&f.shown, header_line),
            );
        }
    }
    if t.rows == 0 {
        findings.push(
            Finding::warning(codes::INPUT_EMPTY, "the manifest has a header but no jobs")
                .at(&f.shown, header_line),
        );
    }
    let mut naive = (0u64, None::<u64>);
    let mut jobs = Vec::with_capacity(t.rows);
    for r in 0..t.rows {
        match row(&t, r, f, cfg, findings, &mut naive) {
            Some(j) => jobs.push(j),
            None => rec.rows_rejected += 1,
        }
    }
    rec.rows_used = jobs.len() as u64;
    if let (n, Some(first)) = naive {
        findings.push(
            Finding::warning(
                codes::JOBS_NAIVE_TIMESTAMP,
                format!("{n} start/end timestamps have no time zone; they were read as {} (set [inputs] timezone or --timezone, or write RFC 3339 with an offset)", cfg.timezone_name),
            )
            .at(&f.shown, Some(first)),
        );
    }
    Ok(jobs)
}

fn row(
    t: &TextTable,
    r: usize,
    f: &InputFile,
    cfg: &Config,
    findings: &mut Vec<Finding>,
    naive: &mut (u64, Option<u64>),
) -> Option<Job> {
    let line = t.line(r);
    let get = |c: &str| t.col(c).and_then(|i| t.get(i, r)).map(str::to_string);
    let mut errors = Vec::new();
    let mut warn = |code: &'static str, msg: String| {
        findings.push(Finding::warning(code, msg).at(&f.shown, Some(line)))
    };

    let req = |c: &str, errors: &mut Vec<(&'static str, String)>| {
        let v = get(c);
        if v.is_none() {
            errors.push((
                codes::JOBS_MISSING_VALUE,
                format!("'{c}' is empty; every job needs one"),
            ));
        }
        v
    };
    let job_id = req("job_id", &mut errors);
    let model = req("model", &mut errors);
    let team = req("team", &mut errors);
    let hardware = req("hardware", &mut errors);
    let site = get("site");
    let zone = get("zone");
    if site.is_none() && zone.is_none() {
        errors.push((
            codes::JOBS_MISSING_VALUE,
            "neither 'site' nor 'zone' is given; name the datacenter or the grid zone".into(),
        ));
    }
    let mut stamp = |c: &str, errors: &mut Vec<(&'static str, String)>| match get(c) {
        None => {
            errors.push((
                codes::JOBS_MISSING_VALUE,
                format!("'{c}' is empty; every job needs a start and an end"),
            ));
            None
        }
        Some(s) => match parse_timestamp(&s, &cfg.timezone) {
            Ok(st) => {
                if st.naive {
                    naive.0 += 1;
                    naive.1.get_or_insert(line);
                }
                Some(st.utc)
            }
            Err(e) => {
                errors.push((
                    codes::JOBS_BAD_TIMESTAMP,
                    format!("'{c}': {e}; use RFC 3339 such as 2026-07-01T09:30:00Z"),
                ));
                None
            }
        },
    };
    let start = stamp("start", &mut errors);
    let end = stamp("end", &mut errors);
    let number =
        |c: &str, min: f64, max: f64, errors: &mut Vec<(&'static str, String)>| -> Option<f64> {
            let s = get(c)?;
            match s.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= min && v <= max => Some(v),
                Ok(v) => {
                    errors.push((
                        codes::JOBS_BAD_NUMBER,
                        format!("'{c}' = {v} is out of range ({min}..{max})"),
                    ));
                    None
                }
                Err(_) => {
                    errors.push((
                        codes::JOBS_BAD_NUMBER,
                        format!("'{c}': cannot read '{s}' as a number"),
                    ));
                    None
                }
            }
        };
    let devices = match get("devices") {
        None => {
            errors.push((
                codes::JOBS_MISSING_VALUE,
                "'devices' is empty; give the number of accelerators".into(),
            ));
            None
        }
        Some(_) => number("devices", 0.0, 1e7, &mut errors).filter(|d| {
            let ok = *d > 0.0;
            if !ok {
                errors.push((
                    codes::JOBS_BAD_NUMBER,
                    "'devices' must be at least 1".into(),
                ));
            }
            ok
        }),
    };
    // Numbers that change the energy: a bad value rejects the row.
    let gpu_hours = number("gpu_hours", 0.0, 1e12, &mut errors);
    let avg_power_w = number("avg_power_w", 0.0, 1e5, &mut errors);
    let energy_kwh = number("energy_kwh", 0.0, 1e12, &mut errors);
    // Descriptive numbers: a bad value is dropped with a warning, the job still counts.
    let mut soft = Vec::new();
    let sparsity = number("sparsity", 0.0, 1.0, &mut soft);
    let parameters = number("parameters", 0.0, 1e16, &mut soft);
    let tokens = number("tokens", 0.0, 1e18, &mut soft);
    for (code, m) in soft {
        warn(code, format!("{m}; the value is ignored"));
    }
    let training_type = match get("training_type") {
        None => TrainingType::Pretraining,
        Some(s) => TrainingType::parse(&s).unwrap_or_else(|| {
            warn(codes::JOBS_BAD_VALUE, format!("training_type '{s}' is not one of pretraining, fine-tuning, distillation, evaluation, other; counted as other"));
            TrainingType::Other
        }),
    };
    let status = match get("status") {
        None => Status::Completed,
        Some(s) => Status::parse(&s).unwrap_or_else(|| {
            warn(
                codes::JOBS_BAD_VALUE,
                format!(
                    "status '{s}' is not one of completed, failed, cancelled; counted as completed"
                ),
            );
            Status::Completed
        }),
    };
    let precision = get("precision").and_then(|p| {
        let l = p.to_lowercase();
        if PRECISIONS.contains(&l.as_str()) {
            Some(l)
        } else {
            warn(
                codes::JOBS_BAD_VALUE,
                format!(
                    "precision '{p}' is not one of {}; ignored",
                    PRECISIONS.join(", ")
                ),
            );
            None
        }
    });
    if let (Some(s), Some(e)) = (start, end) {
        if e <= s {
            errors.push((
                codes::JOBS_END_BEFORE_START,
                format!(
                    "end {} is not after start {}; fix the timestamps",
                    crate::timeutil::fmt_utc(e),
                    crate::timeutil::fmt_utc(s)
                ),
            ));
        }
    }
    if !errors.is_empty() {
        let id = job_id
            .as_deref()
            .map(|i| format!("job '{i}': "))
            .unwrap_or_default();
        for (code, m) in errors {
            findings.push(
                Finding::error(code, format!("{id}{m}; the row is not counted"))
                    .at(&f.shown, Some(line)),
            );
        }
        return None;
    }
    Some(Job {
        job_id: job_id?,
        model: model?,
        team: team?,
        project: get("project"),
        site,
        zone,
        start: start?,
        end: end?,
        hardware: hardware?,
        devices: devices?,
        nodes: get("nodes"),
        gpu_ids: get("gpu_ids"),
        training_type,
        base_model: get("base_model"),
        teacher_model: get("teacher_model"),
        sparsity,
        precision,
        parameters,
        tokens,
        status,
        gpu_hours,
        avg_power_w,
        metered: energy_kwh.map(|e| Metered {
            it_kwh: e,
            source: "energy_kwh column".into(),
        }),
        published: get("published"),
        from_codecarbon: false,
        origin: Origin {
            file: f.shown.clone(),
            line,
        },
    })
}

/// A job_id seen twice (in one manifest or across manifests) counts once: the first row wins,
/// the others are error findings.
pub fn check_duplicates(
    jobs: &mut Vec<Job>,
    findings: &mut Vec<Finding>,
    inputs: &mut [InputRecord],
) {
    let mut first: BTreeMap<String, Origin> = BTreeMap::new();
    jobs.retain(|j| match first.get(&j.job_id) {
        Some(o) => {
            findings.push(
                Finding::error(
                    codes::JOBS_DUPLICATE_ID,
                    format!(
                        "job_id '{}' was already given at {}:{}; this row is not counted",
                        j.job_id, o.file, o.line
                    ),
                )
                .at(&j.origin.file, Some(j.origin.line)),
            );
            if let Some(rec) = inputs
                .iter_mut()
                .find(|r| r.path == j.origin.file && r.kind == "jobs")
            {
                rec.rows_used -= 1;
                rec.rows_rejected += 1;
            }
            false
        }
        None => {
            first.insert(j.job_id.clone(), j.origin.clone());
            true
        }
    });
}
