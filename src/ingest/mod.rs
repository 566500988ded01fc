//! Input adapters, one per format. Each yields canonical rows and findings; none computes
//! emissions.

pub mod boamps;
pub mod codecarbon;
pub mod dcgm;
pub mod generic;
pub mod grid;
pub mod http;
pub mod jobs;
pub mod meters;
pub mod mlflow;
pub mod node_power;
pub mod nvidia_smi;
pub mod prometheus;
pub mod pushdown;
pub mod sacct;
pub mod samples;
pub mod spill;
pub mod table;
pub mod telemetry;
pub mod wandb;
pub mod zeus;

use crate::config::{Config, InputFile};
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// What kind of work a job did. Input files may use the aliases (any case, `_` for `-`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrainingType {
    #[serde(alias = "pre-training")]
    Pretraining,
    #[serde(alias = "finetuning", alias = "fine-tune", alias = "finetune")]
    FineTuning,
    Distillation,
    #[serde(alias = "eval", alias = "inference")]
    Evaluation,
    Other,
}

/// The variant of a serde enum that `name` (or one of its aliases) names.
fn by_name<T: serde::de::DeserializeOwned>(name: &str) -> Option<T> {
    use serde::de::value::{Error, StrDeserializer};
    T::deserialize(StrDeserializer::<Error>::new(name)).ok()
}

impl TrainingType {
    pub fn parse(s: &str) -> Option<Self> {
        by_name(&s.trim().to_lowercase().replace('_', "-"))
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pretraining => "pretraining",
            Self::FineTuning => "fine-tuning",
            Self::Distillation => "distillation",
            Self::Evaluation => "evaluation",
            Self::Other => "other",
        }
    }
}

/// How a job ended. Failed and cancelled work counts too. Input files may use the aliases
/// (any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[serde(
        alias = "complete",
        alias = "success",
        alias = "succeeded",
        alias = "done"
    )]
    Completed,
    #[serde(
        alias = "failure",
        alias = "error",
        alias = "timeout",
        alias = "node_fail",
        alias = "oom"
    )]
    Failed,
    #[serde(alias = "canceled", alias = "killed", alias = "preempted")]
    Cancelled,
}

impl Status {
    pub fn parse(s: &str) -> Option<Self> {
        by_name(&s.trim().to_lowercase())
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Energy measured by a counter or a tracker for a job (the metered tier), before PUE.
#[derive(Debug, Clone, PartialEq)]
pub struct Metered {
    pub it_kwh: f64,
    /// What the meter covers.
    pub boundary: crate::ledger::Boundary,
    /// The accelerators' share of `it_kwh`, when the meter splits it (CodeCarbon's
    /// gpu_energy over its total).
    pub accelerator_share: Option<f64>,
    /// Where it came from, e.g. `energy_kwh column` or `CodeCarbon run 409f7ac2…`.
    pub source: String,
}

/// Where a canonical row came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    pub file: String,
    pub line: u64,
}

/// One training job, validated: the canonical jobs table.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub job_id: String,
    pub model: String,
    pub team: String,
    pub project: Option<String>,
    pub site: Option<String>,
    pub zone: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub hardware: String,
    pub devices: f64,
    pub nodes: Option<String>,
    pub gpu_ids: Option<String>,
    pub training_type: TrainingType,
    pub base_model: Option<String>,
    pub teacher_model: Option<String>,
    pub sparsity: Option<f64>,
    pub precision: Option<String>,
    pub parameters: Option<f64>,
    pub tokens: Option<f64>,
    pub status: Status,
    pub gpu_hours: Option<f64>,
    pub avg_power_w: Option<f64>,
    pub metered: Option<Metered>,
    pub published: Option<String>,
    /// CodeCarbon's own PUE was divided out of this job's metered energy.
    pub from_codecarbon: bool,
    /// Exactly which devices of which nodes the job held (from telemetry labels): wins over
    /// `nodes` and `gpu_ids`, which cannot say that a job held different GPUs on each node.
    pub placement: Option<Vec<(String, Vec<u32>)>>,
    /// How the job was found when no input row names it, e.g. `prometheus labels`.
    pub derived: Option<String>,
    pub origin: Origin,
}

impl Job {
    /// A job with its identity, team, time and origin, and nothing else known: unknown
    /// hardware on one device, `other` work, completed (the reader sets what it knows).
    pub fn bare(
        job_id: String,
        model: String,
        team: String,
        (start, end): (DateTime<Utc>, DateTime<Utc>),
        origin: Origin,
    ) -> Job {
        Job {
            job_id,
            model,
            team,
            project: None,
            site: None,
            zone: None,
            start,
            end,
            hardware: "unknown".to_string(),
            devices: 1.0,
            nodes: None,
            gpu_ids: None,
            training_type: TrainingType::Other,
            base_model: None,
            teacher_model: None,
            sparsity: None,
            precision: None,
            parameters: None,
            tokens: None,
            status: Status::Completed,
            gpu_hours: None,
            avg_power_w: None,
            metered: None,
            published: None,
            from_codecarbon: false,
            placement: None,
            derived: None,
            origin,
        }
    }
}

pub use crate::ledger::InputRecord;

/// Everything read from the inputs.
#[derive(Debug, Clone, Default)]
pub struct Ingested {
    pub jobs: Vec<Job>,
    /// Telemetry files, detected but not yet read (compute streams them).
    pub telemetry: Vec<samples::Source>,
    /// The results of a pushdown run (`--pushdown DIR`), in place of telemetry files.
    pub pushdown: Option<pushdown::Pushdown>,
    /// Hourly grid intensity from --grid files.
    pub grid: grid::Hourly,
    /// Site meter readings (`[[site.meter]]` and `--meters`).
    pub meters: Vec<meters::Meter>,
    pub inputs: Vec<InputRecord>,
    pub findings: Vec<Finding>,
}

/// A CSV reader over a file's bytes without their byte-order mark; rows may differ in length
/// (the readers report them), cells trimmed.
pub(crate) fn csv_reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(body)
}

/// The header's cells as written, or an error at line 1 of the file.
pub(crate) fn csv_header<R: std::io::Read>(
    rdr: &mut csv::Reader<R>,
    shown: &str,
) -> Result<Vec<String>> {
    Ok(rdr
        .headers()
        .map_err(|e| Error::in_file(shown, format!("cannot read the header: {e}")).at_line(1))?
        .iter()
        .map(String::from)
        .collect())
}

/// Read a whole input file, returning its bytes and its record (hash, size).
pub fn read_input(f: &InputFile, kind: &'static str) -> Result<(Vec<u8>, InputRecord)> {
    let bytes = std::fs::read(&f.path).map_err(|e| Error::io(&f.shown, "read the file", e))?;
    let sha256 = format!("{:x}", Sha256::digest(&bytes));
    let rec = InputRecord {
        path: f.shown.clone(),
        kind,
        sha256,
        size: bytes.len() as u64,
        rows: 0,
        rows_used: 0,
        rows_rejected: 0,
        rows_superseded: 0,
        location: f.path.display().to_string(),
    };
    Ok((bytes, rec))
}

/// Line numbers of records met in increasing byte order, counted incrementally (so a whole file
/// costs one pass). The csv crate's own line count is off after CRLF, and a record's offset may
/// point at the `\n` of the preceding CRLF: line breaks at the offset are skipped.
#[derive(Debug, Default)]
pub struct LineCounter {
    pos: usize,
    line: u64,
}

impl LineCounter {
    /// 1-based line of the record starting at `offset`.
    pub fn line_at(&mut self, body: &[u8], mut offset: usize) -> u64 {
        while offset < body.len() && (body[offset] == b'\n' || body[offset] == b'\r') {
            offset += 1;
        }
        let offset = offset.min(body.len());
        if offset < self.pos {
            // Not in order after all: count from the start.
            self.pos = 0;
            self.line = 0;
        }
        self.line += body[self.pos..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        self.pos = offset;
        self.line + 1
    }
}

/// Hash a file without holding it in memory (telemetry can be many gigabytes).
pub fn read_input_meta(f: &InputFile, kind: &'static str) -> Result<((), InputRecord)> {
    use std::io::Read;
    let mut h =
        std::fs::File::open(&f.path).map_err(|e| Error::io(&f.shown, "read the file", e))?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = h
            .read(&mut buf)
            .map_err(|e| Error::io(&f.shown, "read the file", e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hash.update(&buf[..n]);
    }
    Ok((
        (),
        InputRecord {
            path: f.shown.clone(),
            kind,
            sha256: format!("{:x}", hash.finalize()),
            size,
            rows: 0,
            rows_used: 0,
            rows_rejected: 0,
            rows_superseded: 0,
            location: f.path.display().to_string(),
        },
    ))
}

/// Read every input named by the config.
pub fn load(cfg: &Config, factors: &crate::factors::Factors) -> Result<Ingested> {
    let mut out = Ingested::default();
    if cfg.inputs.jobs.is_empty()
        && cfg.inputs.codecarbon.is_empty()
        && cfg.inputs.sacct.is_empty()
        && cfg.inputs.telemetry.is_empty()
        && cfg.prometheus.is_none()
        && cfg.inputs.boamps.is_empty()
        && cfg.pushdown.is_none()
        && cfg.mlflow.is_none()
    {
        return Err(Error::new(
            "no inputs: give --jobs or --codecarbon files, or a --config naming them",
        )
        .hint("try `greenledger demo` to see a complete example"));
    }
    for f in &cfg.inputs.jobs {
        let (bytes, mut rec) = read_input(f, "jobs")?;
        let jobs = jobs::read(&bytes, f, cfg, &mut rec, &mut out.findings)?;
        out.jobs.extend(jobs);
        out.inputs.push(rec);
    }
    jobs::check_duplicates(&mut out.jobs, &mut out.findings, &mut out.inputs);
    for f in &cfg.inputs.sacct {
        let (bytes, mut rec) = read_input(f, "sacct")?;
        sacct::read(&bytes, f, cfg, &mut rec, &mut out.jobs, &mut out.findings)?;
        out.inputs.push(rec);
    }
    let mut cc = Vec::new();
    for f in &cfg.inputs.codecarbon {
        let (bytes, mut rec) = read_input(f, "codecarbon")?;
        let runs = codecarbon::read(&bytes, f, cfg, &mut rec, &mut out.findings)?;
        cc.push((runs, rec));
    }
    let mut runs: Vec<Vec<codecarbon::Run>> =
        cc.iter_mut().map(|(r, _)| std::mem::take(r)).collect();
    codecarbon::drop_task_sums_with_a_run_row(&mut runs, &mut out.findings);
    for (file_runs, (_, mut rec)) in runs.into_iter().zip(cc) {
        codecarbon::merge(
            file_runs,
            &mut out.jobs,
            cfg,
            factors,
            &mut rec,
            &mut out.findings,
        );
        out.inputs.push(rec);
    }
    boamps::load(cfg, factors, &mut out)?;
    for f in &cfg.inputs.zeus {
        let (bytes, mut rec) = read_input(f, "zeus")?;
        zeus::read(&bytes, f, &mut rec, &mut out.jobs, &mut out.findings)?;
        out.inputs.push(rec);
    }
    out.telemetry = telemetry::sources(cfg, &mut out.inputs, &mut out.findings)?;
    if let Some(dir) = &cfg.pushdown {
        out.pushdown = Some(pushdown::read(dir, &mut out.inputs)?);
    }
    prometheus::load(cfg, &mut out)?;
    mlflow::load(cfg, &mut out)?;
    out.grid = grid::load(cfg, &mut out.inputs, &mut out.findings)?;
    out.meters = meters::from_config(cfg);
    for f in &cfg.inputs.meters {
        let (bytes, mut rec) = read_input(f, "meters")?;
        let m = meters::read(&bytes, f, cfg, &mut rec, &mut out.findings)?;
        out.meters.extend(m);
        out.inputs.push(rec);
    }
    if out.jobs.is_empty() && !out.telemetry.is_empty() {
        out.findings.push(Finding::warning(
            codes::INVENTORY_NO_JOBS,
            "no jobs were given: the inventory shows the fleet's energy as idle (unallocated)",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_read_back_to_their_variant() {
        for t in [
            TrainingType::Pretraining,
            TrainingType::FineTuning,
            TrainingType::Distillation,
            TrainingType::Evaluation,
            TrainingType::Other,
        ] {
            assert_eq!(TrainingType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert_eq!(
            TrainingType::parse(" Fine_Tune "),
            Some(TrainingType::FineTuning)
        );
        assert_eq!(TrainingType::parse("EVAL"), Some(TrainingType::Evaluation));
        assert_eq!(
            TrainingType::parse("pre_training"),
            Some(TrainingType::Pretraining)
        );
        assert_eq!(TrainingType::parse("training"), None);
        for s in [Status::Completed, Status::Failed, Status::Cancelled] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(Status::parse("NODE_FAIL"), Some(Status::Failed));
        assert_eq!(Status::parse("Canceled"), Some(Status::Cancelled));
        assert_eq!(Status::parse("succeeded"), Some(Status::Completed));
        assert_eq!(Status::parse("running"), None);
        assert_eq!(Status::parse(""), None);
    }
}
