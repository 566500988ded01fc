//! Input adapters, one per format. Each yields canonical rows and findings; none computes
//! emissions.

pub(crate) mod amd_smi;
pub(crate) mod boamps;
pub(crate) mod certificates;
pub(crate) mod cloud_carbon;
pub(crate) mod codecarbon;
pub(crate) mod dcgm;
pub(crate) mod generic;
pub(crate) mod grid;
pub(crate) mod http;
pub(crate) mod jobs;
pub(crate) mod meters;
pub(crate) mod mlflow;
pub(crate) mod node_power;
pub(crate) mod nvidia_smi;
pub(crate) mod prometheus;
pub(crate) mod pushdown;
pub(crate) mod sacct;
pub(crate) mod samples;
pub(crate) mod spill;
pub(crate) mod table;
pub(crate) mod telemetry;
pub(crate) mod wandb;
pub(crate) mod zeus;

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
    /// Generating synthetic training data with a model (counts towards the model's training
    /// compute under the AI Act guidelines).
    #[serde(alias = "synthetic", alias = "synthetic-data-generation")]
    SyntheticData,
    /// Training a reward model (left out of the policy model's training compute).
    #[serde(alias = "reward")]
    RewardModel,
    /// An exploratory run (left out of the training compute when it failed).
    #[serde(alias = "exploration", alias = "experiment")]
    Exploratory,
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
            Self::SyntheticData => "synthetic-data",
            Self::RewardModel => "reward-model",
            Self::Exploratory => "exploratory",
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

pub(crate) use crate::ledger::CpuUse;

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
    /// Parameters active per token (mixture-of-experts models), for the training compute.
    pub active_parameters: Option<f64>,
    /// Model FLOPs utilisation the run measured, for the hardware-based training compute.
    pub mfu: Option<f64>,
    pub tokens: Option<f64>,
    pub status: Status,
    pub gpu_hours: Option<f64>,
    pub avg_power_w: Option<f64>,
    pub metered: Option<Metered>,
    /// The CPUs and memory held, when the input says (sacct, the manifest's `cpus`); a job
    /// with no accelerator and this set is a CPU-only job.
    pub cpu: Option<CpuUse>,
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
    /// A job on CPUs alone: no accelerator, and the cores it held are known.
    pub fn cpu_only(&self) -> bool {
        self.devices <= 0.0 && self.cpu.is_some()
    }

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
            active_parameters: None,
            mfu: None,
            tokens: None,
            status: Status::Completed,
            gpu_hours: None,
            avg_power_w: None,
            metered: None,
            cpu: None,
            published: None,
            from_codecarbon: false,
            placement: None,
            derived: None,
            origin,
        }
    }
}

pub(crate) use crate::ledger::InputRecord;

/// Everything read from the inputs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ingested {
    pub jobs: Vec<Job>,
    /// Telemetry files, detected but not yet read (compute streams them).
    pub telemetry: Vec<samples::Source>,
    /// The results of a pushdown run (`--pushdown DIR`), in place of telemetry files.
    pub pushdown: Option<pushdown::Pushdown>,
    /// Hourly grid intensity from --grid files.
    pub grid: grid::Hourly,
    /// Site meter readings (`[[site.meter]]` and `--meters`).
    pub meters: Vec<meters::Meter>,
    /// The cloud providers' carbon export rows (`--cloud-carbon`).
    pub cloud_carbon: Vec<crate::ledger::ProviderRow>,
    /// Granular certificates from --certificates files.
    pub certificates: Vec<certificates::Certificate>,
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
pub(crate) fn read_input(f: &InputFile, kind: &'static str) -> Result<(Vec<u8>, InputRecord)> {
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
pub(crate) struct LineCounter {
    pos: usize,
    line: u64,
}

impl LineCounter {
    /// 1-based line of the record starting at `offset`.
    pub(crate) fn line_at(&mut self, body: &[u8], mut offset: usize) -> u64 {
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
pub(crate) fn read_input_meta(f: &InputFile, kind: &'static str) -> Result<((), InputRecord)> {
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

/// What every reader reads with: the validated config and the factor set.
pub(crate) struct Cx<'a> {
    pub cfg: &'a Config,
    pub factors: &'a crate::factors::Factors,
}

/// A source of inputs: files of one format, a live server, or a pushdown folder. A reader reads
/// what the run names for it and adds to what the sources before it gave ([`SOURCES`] is the
/// order): new jobs, energy for jobs already there (metered energy, GPUs seen), sample sources
/// that compute streams, grid series or meter readings; an [`InputRecord`] for each input, and
/// a finding for each row set aside. A new source is one file in ingest/ implementing this,
/// and one line in [`SOURCES`].
pub(crate) trait Reader: Sync {
    /// The source, as the guide names it.
    fn name(&self) -> &'static str;
    /// Whether the run names anything for it.
    fn given(&self, cfg: &Config) -> bool;
    /// Whether a run may consist of it alone (not so for what only adds to others' jobs: Zeus
    /// logs, grid series, meters).
    fn stands_alone(&self) -> bool {
        true
    }
    /// Read it into `out` (nothing when the run does not name it).
    fn read(&self, cx: &Cx, out: &mut Ingested) -> Result<()>;
}

/// Every source, in their order of precedence when several describe one job (the guide's
/// "When sources describe the same job"): a job keeps the fields of the first source that
/// gives it; later ones add what it lacks (energy, nodes, GPUs seen) or new jobs.
pub(crate) const SOURCES: [&dyn Reader; 13] = [
    // 1. The organisation's own list; a repeated job_id is an error finding.
    &jobs::ManifestReader,
    // 2. Slurm allocations: fill manifest jobs of the same id, or become jobs.
    &sacct::SacctReader,
    // 3. CodeCarbon runs: meter the job whose id is their run or experiment id, or become jobs.
    &codecarbon::CodeCarbonReader,
    // 4. BoAmps reports (one metered job each), then Zeus logs (meter the job they name).
    &boamps::BoampsReader,
    &zeus::ZeusReader,
    // 5. Power samples and counters for the jobs above, from files or an engine's results.
    &telemetry::TelemetryReader,
    &pushdown::PushdownReader,
    // 6. Live servers: jobs found in labels or runs; a job above keeps its fields and takes
    //    the GPUs the server saw.
    &prometheus::PrometheusReader,
    &mlflow::MlflowReader,
    // 7. What the factors and the inventory need: hourly grid intensity, site meters.
    &grid::GridReader,
    &meters::MetersReader,
    // 8. The cloud providers' own figures, set beside the cloud sites'.
    &cloud_carbon::CloudCarbonReader,
    // 9. Granular certificates, matched hour by hour with the sites' consumption.
    &certificates::CertificatesReader,
];

/// Read each of `files` whole, hand it to `read` with its record, then keep the record.
pub(crate) fn each_file(
    files: &[InputFile],
    kind: &'static str,
    out: &mut Ingested,
    mut read: impl FnMut(&[u8], &InputFile, &mut InputRecord, &mut Ingested) -> Result<()>,
) -> Result<()> {
    for f in files {
        let (bytes, mut rec) = read_input(f, kind)?;
        read(&bytes, f, &mut rec, out)?;
        out.inputs.push(rec);
    }
    Ok(())
}

/// Read every input named by the config, source by source in [`SOURCES`] order.
pub(crate) fn load(cfg: &Config, factors: &crate::factors::Factors) -> Result<Ingested> {
    if !SOURCES.iter().any(|s| s.stands_alone() && s.given(cfg)) {
        let alone: Vec<&str> = SOURCES
            .iter()
            .filter(|s| s.stands_alone())
            .map(|s| s.name())
            .collect();
        return Err(Error::new(
            "no inputs: give --jobs or --codecarbon files, or a --config naming them",
        )
        .hint(format!(
            "a report needs one of: {}; try `greenledger demo` to see a complete example",
            alone.join(", ")
        )));
    }
    let mut out = Ingested::default();
    let cx = Cx { cfg, factors };
    for source in SOURCES {
        source.read(&cx, &mut out)?;
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
            TrainingType::SyntheticData,
            TrainingType::RewardModel,
            TrainingType::Exploratory,
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

    /// The guide's precedence list names every source, in the order `load` reads them.
    #[test]
    fn the_guide_lists_the_sources_in_their_order() {
        let guide = include_str!("../../docs/src/inputs/README.md").to_lowercase();
        let start = guide.find("## when sources describe the same job").unwrap();
        let section = &guide[start..];
        let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
        let mut at = 0;
        for s in SOURCES {
            let name = s.name().to_lowercase();
            let found = section[at..].find(&name);
            assert!(
                found.is_some(),
                "'{name}' not in the guide's list after byte {at}"
            );
            at += found.unwrap() + name.len();
        }
        let names: std::collections::BTreeSet<&str> = SOURCES.iter().map(|s| s.name()).collect();
        assert_eq!(names.len(), SOURCES.len(), "two sources share a name");
    }
}
