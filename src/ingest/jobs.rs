//! The jobs manifest (CSV or Parquet): one row per training job, every column of the guide's "Jobs manifest" page.

use super::table::{self, TextTable};
use super::{InputRecord, Job, Metered, Origin, Status, TrainingType};
use crate::config::{Config, InputFile};
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use crate::ledger::Boundary;
use crate::timeutil::parse_timestamp;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Columns that must be present.
pub(crate) const REQUIRED: [&str; 7] = [
    "job_id", "model", "team", "start", "end", "hardware", "devices",
];
/// Every column the manifest may have.
pub(crate) const KNOWN: [&str; 30] = [
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
    "active_parameters",
    "mfu",
    "tokens",
    "status",
    "gpu_hours",
    "avg_power_w",
    "energy_kwh",
    "published",
    "boundary",
    "cpus",
    "memory_gb",
    "cpu_usage",
];
const PRECISIONS: [&str; 7] = ["fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4"];

/// Read one manifest. Rows with errors are set aside with a finding; the rest become jobs.
pub(crate) fn read(
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
                format!("{n} start/end timestamps have no time zone; they were read as {} (set [inputs] timezone or --timezone, or write RFC 3339 with an offset)", cfg.inputs.timezone_name),
            )
            .at(&f.shown, Some(first)),
        );
    }
    Ok(jobs)
}

/// One manifest row being read: its cells, the errors that reject it (stated together at
/// the end) and the warnings that do not (stated as they are met).
struct Row<'a> {
    t: &'a TextTable,
    r: usize,
    line: u64,
    cfg: &'a Config,
    shown: &'a str,
    errors: Vec<(&'static str, String)>,
    findings: &'a mut Vec<Finding>,
    naive: &'a mut (u64, Option<u64>),
}

impl Row<'_> {
    /// A cell's text; `None` when empty.
    fn get(&self, c: &str) -> Option<String> {
        self.t
            .col(c)
            .and_then(|i| self.t.get(i, self.r))
            .map(str::to_string)
    }

    fn error(&mut self, code: &'static str, msg: String) {
        self.errors.push((code, msg));
    }

    fn warn(&mut self, code: &'static str, msg: String) {
        self.findings
            .push(Finding::warning(code, msg).at(self.shown, Some(self.line)));
    }

    /// A cell every job needs.
    fn required(&mut self, c: &str) -> Option<String> {
        let v = self.get(c);
        if v.is_none() {
            self.error(
                codes::JOBS_MISSING_VALUE,
                format!("'{c}' is empty; every job needs one"),
            );
        }
        v
    }

    /// A start or end timestamp (naive ones read in the input's time zone, and counted).
    fn stamp(&mut self, c: &str) -> Option<DateTime<Utc>> {
        let Some(s) = self.get(c) else {
            self.error(
                codes::JOBS_MISSING_VALUE,
                format!("'{c}' is empty; every job needs a start and an end"),
            );
            return None;
        };
        match parse_timestamp(&s, &self.cfg.inputs.timezone) {
            Ok(st) => {
                if st.naive {
                    self.naive.0 += 1;
                    self.naive.1.get_or_insert(self.line);
                }
                Some(st.utc)
            }
            Err(e) => {
                self.error(
                    codes::JOBS_BAD_TIMESTAMP,
                    format!("'{c}': {e}; use RFC 3339 such as 2026-07-01T09:30:00Z"),
                );
                None
            }
        }
    }

    /// A number in `min..=max`, or why not; `Ok(None)` when the cell is empty.
    fn parse_number(
        &self,
        c: &str,
        min: f64,
        max: f64,
    ) -> std::result::Result<Option<f64>, (&'static str, String)> {
        let Some(s) = self.get(c) else {
            return Ok(None);
        };
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= min && v <= max => Ok(Some(v)),
            Ok(v) => Err((
                codes::JOBS_BAD_NUMBER,
                format!("'{c}' = {v} is out of range ({min}..{max})"),
            )),
            Err(_) => Err((
                codes::JOBS_BAD_NUMBER,
                format!("'{c}': cannot read '{s}' as a number"),
            )),
        }
    }

    /// A number that changes the energy: a bad value rejects the row.
    fn number(&mut self, c: &str, min: f64, max: f64) -> Option<f64> {
        self.parse_number(c, min, max).unwrap_or_else(|(code, m)| {
            self.error(code, m);
            None
        })
    }

    /// A descriptive number: a bad value is dropped with a warning, the job still counts.
    fn soft_number(&mut self, c: &str, min: f64, max: f64) -> Option<f64> {
        self.parse_number(c, min, max).unwrap_or_else(|(code, m)| {
            self.warn(code, format!("{m}; the value is ignored"));
            None
        })
    }

    /// The number of accelerators: required, at least 1; a CPU-only job (`cpus` given) has
    /// none (empty or 0).
    fn devices(&mut self, cpu_only: bool) -> Option<f64> {
        if cpu_only
            && self
                .get("devices")
                .is_none_or(|d| d.parse::<f64>() == Ok(0.0))
        {
            return Some(0.0);
        }
        if self.get("devices").is_none() {
            self.error(
                codes::JOBS_MISSING_VALUE,
                "'devices' is empty; give the number of accelerators".into(),
            );
            return None;
        }
        let d = self.number("devices", 0.0, 1e7)?;
        if d <= 0.0 {
            self.error(
                codes::JOBS_BAD_NUMBER,
                "'devices' must be at least 1 (a job on CPUs alone gives 'cpus' instead)".into(),
            );
            return None;
        }
        Some(d)
    }

    /// The training type (default pretraining; an unknown one counts as other).
    fn training_type(&mut self) -> TrainingType {
        let Some(s) = self.get("training_type") else {
            return TrainingType::Pretraining;
        };
        TrainingType::parse(&s).unwrap_or_else(|| {
            self.warn(codes::JOBS_BAD_VALUE, format!("training_type '{s}' is not one of pretraining, fine-tuning, distillation, evaluation, other; counted as other"));
            TrainingType::Other
        })
    }

    /// The status (default completed; an unknown one counts as completed).
    fn status(&mut self) -> Status {
        let Some(s) = self.get("status") else {
            return Status::Completed;
        };
        Status::parse(&s).unwrap_or_else(|| {
            self.warn(
                codes::JOBS_BAD_VALUE,
                format!(
                    "status '{s}' is not one of completed, failed, cancelled; counted as completed"
                ),
            );
            Status::Completed
        })
    }

    /// The numeric precision, lower-cased; an unknown one is ignored with a warning.
    fn precision(&mut self) -> Option<String> {
        let p = self.get("precision")?;
        let l = p.to_lowercase();
        if PRECISIONS.contains(&l.as_str()) {
            return Some(l);
        }
        self.warn(
            codes::JOBS_BAD_VALUE,
            format!(
                "precision '{p}' is not one of {}; ignored",
                PRECISIONS.join(", ")
            ),
        );
        None
    }

    /// State the errors at the row (prefixed with the job's id when known); true when any.
    fn reject(&mut self, job_id: Option<&str>) -> bool {
        if self.errors.is_empty() {
            return false;
        }
        let id = job_id.map(|i| format!("job '{i}': ")).unwrap_or_default();
        for (code, m) in std::mem::take(&mut self.errors) {
            self.findings.push(
                Finding::error(code, format!("{id}{m}; the row is not counted"))
                    .at(self.shown, Some(self.line)),
            );
        }
        true
    }
}

/// The cells every job needs, each `None` when missing or invalid (with an error).
struct Core {
    job_id: Option<String>,
    model: Option<String>,
    team: Option<String>,
    hardware: Option<String>,
    site: Option<String>,
    zone: Option<String>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    devices: Option<f64>,
}

/// One manifest row as a job, or `None` when an error rejects it (each error a finding).
fn row(
    t: &TextTable,
    r: usize,
    f: &InputFile,
    cfg: &Config,
    findings: &mut Vec<Finding>,
    naive: &mut (u64, Option<u64>),
) -> Option<Job> {
    let mut row = Row {
        t,
        r,
        line: t.line(r),
        cfg,
        shown: &f.shown,
        errors: Vec::new(),
        findings,
        naive,
    };
    let cpu = row.cpu();
    let core = row.core(cpu.is_some());
    // Numbers that change the energy: a bad value rejects the row.
    let gpu_hours = row.number("gpu_hours", 0.0, 1e12);
    let avg_power_w = row.number("avg_power_w", 0.0, 1e5);
    let energy_kwh = row.number("energy_kwh", 0.0, 1e12);
    // Descriptive values: a bad one is dropped or defaulted with a warning.
    let sparsity = row.soft_number("sparsity", 0.0, 1.0);
    let parameters = row.soft_number("parameters", 0.0, 1e16);
    let active_parameters = row.soft_number("active_parameters", 0.0, 1e16);
    let mfu = row.soft_number("mfu", 0.0, 1.0);
    let tokens = row.soft_number("tokens", 0.0, 1e18);
    let training_type = row.training_type();
    let status = row.status();
    let precision = row.precision();
    let boundary = row.boundary();
    row.check_order(core.start, core.end);
    if row.reject(core.job_id.as_deref()) {
        return None;
    }
    Some(Job {
        job_id: core.job_id?,
        model: core.model?,
        team: core.team?,
        project: row.get("project"),
        site: core.site,
        zone: core.zone,
        start: core.start?,
        end: core.end?,
        hardware: core.hardware?,
        devices: core.devices?,
        nodes: row.get("nodes"),
        gpu_ids: row.get("gpu_ids"),
        training_type,
        base_model: row.get("base_model"),
        teacher_model: row.get("teacher_model"),
        sparsity,
        precision,
        parameters,
        active_parameters,
        mfu,
        tokens,
        status,
        gpu_hours,
        avg_power_w,
        metered: energy_kwh.map(|e| Metered {
            it_kwh: e,
            boundary,
            accelerator_share: None,
            source: "energy_kwh column".into(),
        }),
        cpu,
        published: row.get("published"),
        from_codecarbon: false,
        placement: None,
        derived: None,
        origin: Origin {
            file: f.shown.clone(),
            line: row.line,
        },
    })
}

impl Row<'_> {
    /// The CPUs a job held (`cpus`, `memory_gb`, `cpu_usage`), when `cpus` is given; a bad
    /// value rejects the row (it changes the energy of a CPU-only job).
    fn cpu(&mut self) -> Option<super::CpuUse> {
        let cores = self.number("cpus", 1.0, 1e7);
        let memory_gb = self.number("memory_gb", 0.0, 1e9);
        let usage = self.number("cpu_usage", 0.0, 1.0);
        if cores.is_none()
            && self.get("cpus").is_none()
            && (self.get("memory_gb").is_some() || self.get("cpu_usage").is_some())
        {
            self.warn(
                codes::JOBS_BAD_VALUE,
                "'memory_gb' or 'cpu_usage' is given without 'cpus'; they are not used".into(),
            );
        }
        Some(super::CpuUse {
            cores: cores?,
            memory_gb,
            usage,
        })
    }

    /// The cells every job needs: ids, a site or a zone, start and end, devices (none for a
    /// CPU-only job, whose hardware may be empty or name its CPU model).
    fn core(&mut self, cpu: bool) -> Core {
        let job_id = self.required("job_id");
        let model = self.required("model");
        let team = self.required("team");
        let hardware = match self.get("hardware") {
            None if cpu => Some("cpu".to_string()),
            _ => self.required("hardware"),
        };
        let site = self.get("site");
        let zone = self.get("zone");
        if site.is_none() && zone.is_none() {
            self.error(
                codes::JOBS_MISSING_VALUE,
                "neither 'site' nor 'zone' is given; name the datacenter or the grid zone".into(),
            );
        }
        Core {
            job_id,
            model,
            team,
            hardware,
            site,
            zone,
            start: self.stamp("start"),
            end: self.stamp("end"),
            devices: self.devices(cpu),
        }
    }

    /// What `energy_kwh` covers (default `node`: the IT energy of the job's servers).
    fn boundary(&mut self) -> Boundary {
        let Some(b) = self.get("boundary") else {
            return Boundary::Node;
        };
        Boundary::parse(&b).unwrap_or_else(|| {
            self.warn(
                codes::JOBS_BAD_VALUE,
                format!("boundary '{b}' is not one of accelerator, node, system; node is assumed"),
            );
            Boundary::Node
        })
    }

    /// The end must come after the start.
    fn check_order(&mut self, start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) {
        if let (Some(s), Some(e)) = (start, end) {
            if e <= s {
                self.error(
                    codes::JOBS_END_BEFORE_START,
                    format!(
                        "end {} is not after start {}; fix the timestamps",
                        crate::timeutil::fmt_utc(e),
                        crate::timeutil::fmt_utc(s)
                    ),
                );
            }
        }
    }
}

/// A job_id seen twice (in one manifest or across manifests) counts once: the first row wins,
/// the others are error findings.
pub(crate) fn check_duplicates(
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

/// The jobs manifest (`--jobs`, `[inputs] jobs`): the first source, whose fields win.
pub(crate) struct ManifestReader;

impl super::Reader for ManifestReader {
    fn name(&self) -> &'static str {
        "jobs manifest"
    }
    fn given(&self, cfg: &Config) -> bool {
        !cfg.inputs.jobs.is_empty()
    }
    fn read(&self, cx: &super::Cx, out: &mut super::Ingested) -> Result<()> {
        super::each_file(&cx.cfg.inputs.jobs, "jobs", out, |bytes, f, rec, out| {
            let jobs = read(bytes, f, cx.cfg, rec, &mut out.findings)?;
            out.jobs.extend(jobs);
            Ok(())
        })?;
        check_duplicates(&mut out.jobs, &mut out.findings, &mut out.inputs);
        Ok(())
    }
}
