//! Slurm `sacct -P` (`--parsable2`) output, with or without a header (then `[sacct] columns`
//! gives the field list). Jobs come from the allocation rows: team = Account, model = JobName
//! (or a mapping), nodes = NodeList (hostlists), devices = `gres/gpu` in AllocTRES. Step rows
//! (`123.batch`, `123.0`, `123.extern`) fold into their job without double counting;
//! `ConsumedEnergyRaw` (joules) is metered energy. A manifest row with the same job_id keeps its
//! own fields and gains what sacct adds (energy, nodes).

mod json;

use super::{CpuUse, InputRecord, Job, Metered, Origin, Status};
use crate::config::{Config, InputFile};
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use crate::timeutil::parse_timestamp;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Fields without which no job can be placed in time; `JobID` itself is required.
const TIMES: [&str; 2] = ["start", "end"];

/// The GPU count in an AllocTRES value: `gres/gpu=4`, `gres/gpu:a100=4` (summed).
pub(crate) fn gpus(tres: &str) -> Option<f64> {
    let mut n = None;
    for part in tres.split(',') {
        let (k, v) = part.split_once('=')?;
        let k = k.trim().to_ascii_lowercase();
        if k == "gres/gpu" || k.starts_with("gres/gpu:") {
            // `gres/gpu=4` and `gres/gpu:a100=4` both appear; count the typed ones only when no
            // plain count is given.
            let v: f64 = v.trim().parse().ok()?;
            if k == "gres/gpu" {
                return Some(v);
            }
            n = Some(n.unwrap_or(0.0) + v);
        }
    }
    n
}

/// The value of `key` in a TRES list (`billing=1,cpu=10,mem=40G,node=1`).
fn tres_value<'t>(tres: &'t str, key: &str) -> Option<&'t str> {
    tres.split(',')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(key))
        .map(|(_, v)| v.trim())
}

/// GB of a Slurm memory size (`40G`, `38400M`, `1T`, `512K`; a bare number is MB). Slurm's
/// units are binary: 1 G = 1024 M.
fn memory_gb(v: &str) -> Option<f64> {
    let v = v.trim();
    let (num, unit) = match v.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&v[..i], &v[i..i + 1]),
        None => (v, "M"),
    };
    let n: f64 = num
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)?;
    let per_gb = match unit.to_ascii_uppercase().as_str() {
        "K" => 1024.0 * 1024.0,
        "M" => 1024.0,
        "G" => 1.0,
        "T" => 1.0 / 1024.0,
        _ => return None,
    };
    Some(n / per_gb)
}

/// The memory a job was given, GB: the `mem=` of AllocTRES, else ReqMem (`3000Mc` per CPU,
/// `48000Mn` or a bare size per node).
fn job_memory_gb(get: &dyn Fn(&str) -> Option<String>, cores: f64) -> Option<f64> {
    if let Some(m) = get("alloctres").and_then(|t| tres_value(&t, "mem").and_then(memory_gb)) {
        return Some(m);
    }
    let req = get("reqmem")?;
    let nodes = get("nnodes")
        .or_else(|| get("allocnodes"))
        .and_then(|n| n.parse::<f64>().ok())
        .filter(|n| *n >= 1.0)
        .unwrap_or(1.0);
    let (size, per) = match req.strip_suffix(['c', 'n']) {
        Some(size) => (size, if req.ends_with('c') { cores } else { nodes }),
        None => (req.as_str(), nodes),
    };
    memory_gb(size).filter(|m| *m > 0.0).map(|m| m * per)
}

/// The CPUs and memory of a job from its allocation row, with its core usage (TotalCPU over
/// cores x run time) when TotalCPU measures one that the cores could give; `None` when no
/// core count is given.
fn cpu_use(row: &BTreeMap<String, String>, run_s: f64) -> Option<CpuUse> {
    let get = |k: &str| cell(row, k).map(String::from);
    let cores = get("ncpus")
        .or_else(|| get("alloccpus"))
        .and_then(|n| n.parse::<f64>().ok())
        .or_else(|| get("alloctres").and_then(|t| tres_value(&t, "cpu")?.parse().ok()))
        .or_else(|| get("reqtres").and_then(|t| tres_value(&t, "cpu")?.parse().ok()))
        .filter(|n: &f64| n.is_finite() && *n >= 1.0)?;
    let cpu_s = get("totalcpu").and_then(|t| duration_s(&t));
    let usage = cpu_s
        .filter(|s| *s > 0.0 && run_s > 0.0)
        .map(|s| s / (cores * run_s))
        // Rounding of TotalCPU and of Start/End allows a hair over 1.
        .filter(|u| *u <= 1.01)
        .map(|u| u.min(1.0));
    Some(CpuUse {
        cores,
        memory_gb: job_memory_gb(&get, cores),
        usage,
    })
}

/// Per-job accumulation across allocation and step rows.
#[derive(Debug, Default)]
pub(super) struct Acc {
    pub(super) alloc: Option<BTreeMap<String, String>>,
    pub(super) line: u64,
    pub(super) alloc_energy_j: Option<f64>,
    pub(super) step_energy_j: f64,
    pub(super) extern_energy_j: f64,
    pub(super) steps: u64,
}

impl Acc {
    /// Energy: the allocation's own figure, else the steps' (batch and numbered steps; the
    /// extern step only when nothing else measured).
    fn energy_j(&self) -> Option<f64> {
        self.alloc_energy_j.or(if self.step_energy_j > 0.0 {
            Some(self.step_energy_j)
        } else if self.extern_energy_j > 0.0 {
            Some(self.extern_energy_j)
        } else {
            None
        })
    }
}

/// What sacct says a job's run was.
struct Run {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    devices: f64,
    nodes: Option<String>,
    status: Status,
    metered: Option<Metered>,
    cpu: Option<CpuUse>,
}

/// One sacct file being read: where findings go, and what is tallied for them.
struct Reader<'a> {
    f: &'a InputFile,
    cfg: &'a Config,
    rec: &'a mut InputRecord,
    findings: &'a mut Vec<Finding>,
    /// Jobs not counted, by reason.
    skipped: BTreeMap<&'static str, Vec<String>>,
    /// Jobs taking node-level ConsumedEnergyRaw on possibly shared nodes.
    metered_shared: u64,
    /// The field delimiter (`|`, or what `--delimiter` gave, several bytes too).
    delim: String,
    /// Columns a job needs that the header lacks.
    missing: Vec<&'static str>,
    /// Jobs placed at Submit for Elapsed (no Start/End columns).
    from_submit: u64,
    /// Whether the input has an energy field (the `ConsumedEnergyRaw` column, JSON's TRES).
    energy_field: bool,
    /// Counted jobs whose energy field says "not measured" (empty, 0, negative, unset).
    energy_unmeasured: Vec<String>,
    /// Counted CPU-only jobs whose core usage is not measured (no TotalCPU, 0, or more than
    /// their cores could give).
    usage_unknown: Vec<String>,
}

/// Read one sacct file into jobs (merged into `jobs`: manifest rows with the same id are
/// enriched instead).
pub(crate) fn read(
    bytes: &[u8],
    f: &InputFile,
    cfg: &Config,
    rec: &mut InputRecord,
    jobs: &mut Vec<Job>,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start_matches('\u{feff}');
    if text.trim_start().starts_with('{') {
        return read_json(text, f, cfg, rec, jobs, findings);
    }
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .peekable();
    let first = lines.peek().map(|(_, l)| *l).unwrap_or("");
    let delim = delimiter(first);
    let has_header = first
        .split(delim.as_str())
        .any(|c| c.trim().eq_ignore_ascii_case("jobid"));
    let header: Vec<String> = if has_header {
        let (_, h) = lines.next().unwrap_or((0, ""));
        h.split(delim.as_str())
            .map(|c| c.trim().to_ascii_lowercase())
            .collect()
    } else {
        configured_columns(f, cfg)?
    };
    let mut r = Reader::new(f, cfg, rec, findings, delim);
    r.energy_field = header.iter().any(|h| h == "consumedenergyraw");
    r.check_columns(&header)?;
    let (accs, order) = r.accumulate(lines, &header);
    r.emit(order.iter().map(|id| (id.as_str(), &accs[id])), jobs);
    Ok(())
}

/// `sacct --json` (Slurm 21.08 and later): each job becomes the same allocation row and step
/// energies as the `-P` output, and goes through the same steps.
fn read_json(
    text: &str,
    f: &InputFile,
    cfg: &Config,
    rec: &mut InputRecord,
    jobs: &mut Vec<Job>,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let accs = json::jobs(text, &f.shown)?;
    let mut r = Reader::new(f, cfg, rec, findings, "|".into());
    r.energy_field = true;
    // A JSON job is its allocation row and its steps, as in -P output.
    for (_, acc) in &accs {
        r.rec.rows += 1 + acc.steps;
        r.rec.rows_superseded += acc.steps;
    }
    r.emit(accs.iter().map(|(id, acc)| (id.as_str(), acc)), jobs);
    Ok(())
}

/// The field list of headerless output, from `[sacct] columns`.
fn configured_columns(f: &InputFile, cfg: &Config) -> Result<Vec<String>> {
    match &cfg.sacct.columns {
        Some(cols) => Ok(cols.iter().map(|c| c.trim().to_ascii_lowercase()).collect()),
        None => Err(Error::in_file(
            &f.shown,
            "sacct output without a header line: the columns are unknown",
        )
        .at_line(1)
        .hint("list them in [sacct] columns, in the order of the --format that produced the file")),
    }
}

/// A field of a row; `None` when empty or one of sacct's placeholders.
fn cell<'r>(row: &'r BTreeMap<String, String>, k: &str) -> Option<&'r str> {
    row.get(k)
        .map(String::as_str)
        .filter(|v| !v.is_empty() && *v != "Unknown" && *v != "None assigned" && *v != "None")
}

/// The field delimiter of a header line: `|` (`-P`), else what follows `JobID` up to the next
/// field name (`sacct --parsable --delimiter=X`, several characters too).
fn delimiter(first: &str) -> String {
    if first.contains('|') {
        return "|".into();
    }
    let lower = first.to_ascii_lowercase();
    let Some(p) = lower.find("jobid") else {
        return "|".into();
    };
    let rest = &first[p + 5..];
    let d: String = rest
        .chars()
        .take_while(|c| !c.is_alphanumeric() && *c != ' ')
        .collect();
    if d.is_empty() {
        "|".into()
    } else {
        d
    }
}

/// Split a delimited row into its fields, or `None` when their number differs from the
/// header's (`-p` adds a trailing delimiter; a delimiter inside a field has no escape and
/// breaks the row).
fn fields<'l>(line: &'l str, header: &[String], delim: &str) -> Option<Vec<&'l str>> {
    let fields: Vec<&str> = line.split(delim).collect();
    let n = if fields.len() == header.len() + 1 && fields.last() == Some(&"") {
        header.len()
    } else {
        fields.len()
    };
    (n == header.len()).then_some(fields)
}

/// The job status of a sacct State, or why the job is not counted (not finished).
fn status(state: &str) -> std::result::Result<Status, &'static str> {
    const FAILED: [&str; 8] = [
        "FAILED",
        "TIMEOUT",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "OUT_OF_ME",
        "BOOT_FAIL",
        "DEADLINE",
        "PREEMPTED",
    ];
    if state.starts_with("COMPLETED") {
        Ok(Status::Completed)
    } else if state.starts_with("CANCELLED") {
        Ok(Status::Cancelled)
    } else if FAILED.iter().any(|s| state.starts_with(s)) {
        Ok(Status::Failed)
    } else if state.starts_with("RUNNING") {
        Err("still running")
    } else {
        Err("never ran (pending or requeued)")
    }
}

impl<'a> Reader<'a> {
    fn new(
        f: &'a InputFile,
        cfg: &'a Config,
        rec: &'a mut InputRecord,
        findings: &'a mut Vec<Finding>,
        delim: String,
    ) -> Self {
        Reader {
            f,
            cfg,
            rec,
            findings,
            skipped: BTreeMap::new(),
            metered_shared: 0,
            delim,
            missing: Vec::new(),
            from_submit: 0,
            energy_field: false,
            energy_unmeasured: Vec::new(),
            usage_unknown: Vec::new(),
        }
    }

    /// Every job in file order: new ones into `jobs` (manifest rows of the same id are
    /// enriched), then the file's findings.
    fn emit<'x>(mut self, accs: impl Iterator<Item = (&'x str, &'x Acc)>, jobs: &mut Vec<Job>) {
        let stem = self
            .f
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        for (id, acc) in accs {
            if let Some(job) = self.job(id, acc, &stem, jobs) {
                jobs.push(job);
            }
        }
        self.finish();
    }

    /// `JobID` is required (else the file cannot be read); without Start or End no job can be
    /// placed in time (a warning: the rows are still counted and reported).
    fn check_columns(&mut self, header: &[String]) -> Result<()> {
        if !header.iter().any(|h| h == "jobid") {
            return Err(Error::in_file(
                &self.f.shown,
                format!(
                    "sacct column 'JobID' is missing (columns: {})",
                    header.join(", ")
                ),
            )
            .at_line(1));
        }
        let missing: Vec<&'static str> = TIMES
            .iter()
            .copied()
            .filter(|c| !header.iter().any(|h| h == c))
            .collect();
        let has = |c: &str| header.iter().any(|h| h == c);
        if !missing.is_empty() && has("submit") && has("elapsed") {
            // Placed at Submit for Elapsed (a finding says how many).
            return Ok(());
        }
        self.missing = missing.clone();
        if !missing.is_empty() {
            self.findings.push(
                Finding::warning(
                    codes::SACCT_SKIPPED,
                    format!(
                        "the file has no {} column, so no job in it can be accounted; run sacct -P --format=JobID,JobName,Account,Partition,State,Start,End,NodeList,AllocTRES,ConsumedEnergyRaw",
                        missing.join(" or ")
                    ),
                )
                .at(&self.f.shown, Some(1)),
            );
        }
        Ok(())
    }

    /// Fold every row into its job: the allocation row (`123`) gives the fields, step rows
    /// (`123.batch`, `123.0`, `123.extern`) add their energy. Returns the jobs and their order
    /// of first appearance; rows with the wrong number of fields are one error finding.
    fn accumulate<'l>(
        &mut self,
        lines: impl Iterator<Item = (usize, &'l str)>,
        header: &[String],
    ) -> (BTreeMap<String, Acc>, Vec<String>) {
        let mut accs: BTreeMap<String, Acc> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        let mut bad = Vec::new();
        for (i, line) in lines {
            self.rec.rows += 1;
            let Some(fields) = fields(line, header, &self.delim) else {
                bad.push(i as u64 + 1);
                self.rec.rows_rejected += 1;
                continue;
            };
            let row: BTreeMap<String, String> = header
                .iter()
                .cloned()
                .zip(fields.iter().map(|s| s.trim().to_string()))
                .collect();
            let id = row.get("jobid").cloned().unwrap_or_default();
            let (base, step) = match id.split_once('.') {
                Some((b, s)) => (b.to_string(), Some(s.to_string())),
                None => (id.clone(), None),
            };
            let energy = row
                .get("consumedenergyraw")
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v > 0.0);
            if !accs.contains_key(&base) {
                order.push(base.clone());
            }
            let acc = accs.entry(base).or_default();
            match step {
                None => {
                    acc.alloc_energy_j = energy;
                    acc.line = i as u64 + 1;
                    acc.alloc = Some(row);
                }
                Some(s) => {
                    acc.steps += 1;
                    self.rec.rows_superseded += 1;
                    if s == "extern" {
                        acc.extern_energy_j += energy.unwrap_or(0.0);
                    } else {
                        acc.step_energy_j += energy.unwrap_or(0.0);
                    }
                }
            }
        }
        if !bad.is_empty() {
            self.findings.push(
                Finding::error(codes::SACCT_BAD_ROW, format!("{} rows have a different number of fields than the header (a '|' inside a field?) and are not used", bad.len()))
                    .at(&self.f.shown, Some(bad[0])),
            );
        }
        (accs, order)
    }

    /// Note a job that is not counted, and why.
    fn skip(&mut self, why: &'static str, id: &str) {
        self.skipped.entry(why).or_default().push(id.to_string());
    }

    /// One job from its rows: a new job, or `None` when it is not counted (with a reason) or
    /// enriches the manifest's row of the same id (which wins; sacct adds what it lacks).
    fn job(&mut self, id: &str, acc: &Acc, stem: &str, jobs: &mut [Job]) -> Option<Job> {
        let Some(row) = &acc.alloc else {
            // Steps without their allocation row (e.g. `sacct -s` filters): nothing to attach to.
            self.skip("steps without an allocation row", id);
            // Count their rows as set aside, not folded (finish adds one for the id).
            self.rec.rows_superseded -= acc.steps;
            self.rec.rows_rejected += acc.steps.saturating_sub(1);
            return None;
        };
        let get = |k: &str| cell(row, k);
        let state = get("state").unwrap_or("").to_ascii_uppercase();
        let status = match status(&state) {
            Ok(s) => s,
            Err(why) => {
                self.skip(why, id);
                return None;
            }
        };
        let (start, end) = match (get("start"), get("end"), get("submit"), get("elapsed")) {
            (None, None, Some(submit), Some(elapsed)) => {
                self.placed_at_submit(id, acc, submit, elapsed)?
            }
            (start, end, _, _) => self.times(id, acc, start, end)?,
        };
        let devices = get("alloctres")
            .and_then(gpus)
            .or_else(|| get("reqtres").and_then(gpus))
            .unwrap_or(0.0);
        let nodes = get("nodelist").map(String::from);
        let cpu = cpu_use(row, crate::timeutil::seconds(start, end));
        let metered = acc.energy_j().map(|j| Metered {
            it_kwh: j / 3.6e6,
            boundary: crate::ledger::Boundary::Node,
            accelerator_share: None,
            source: format!("Slurm ConsumedEnergyRaw of job {id}"),
        });
        if metered.is_some() && !self.cfg.sacct.exclusive {
            self.metered_shared += 1;
        }
        if let Some(existing) = jobs
            .iter_mut()
            .find(|j| j.job_id == id && !j.from_codecarbon)
        {
            if existing.metered.is_none() {
                existing.metered = metered;
            }
            if existing.nodes.is_none() {
                existing.nodes = nodes;
            }
            if existing.cpu.is_none() {
                existing.cpu = cpu;
            }
            self.rec.rows_used += 1;
            return None;
        }
        if devices <= 0.0 && metered.is_none() && cpu.is_none() {
            self.skip("no GPUs or CPUs allocated and no energy measured", id);
            return None;
        }
        if self.energy_field && metered.is_none() {
            self.energy_unmeasured.push(id.to_string());
        }
        if devices <= 0.0 && cpu.as_ref().is_some_and(|c| c.usage.is_none()) {
            self.usage_unknown.push(id.to_string());
        }
        self.rec.rows_used += 1;
        let run = Run {
            start,
            end,
            devices,
            nodes,
            status,
            metered,
            cpu,
        };
        Some(self.new_job(id, row, stem, acc.line, run))
    }

    /// A job from an allocation row: team = Account, model = JobName (or its mapping),
    /// hardware from the partition, site from the cluster, and what the run was.
    fn new_job(
        &self,
        id: &str,
        row: &BTreeMap<String, String>,
        stem: &str,
        line: u64,
        run: Run,
    ) -> Job {
        let cfg = self.cfg;
        let get = |k: &str| cell(row, k);
        let name = get("jobname").unwrap_or("unnamed").to_string();
        let cluster = get("cluster").map(String::from);
        let mut j = Job::bare(
            id.to_string(),
            cfg.sacct.models.get(&name).cloned().unwrap_or(name),
            get("account").unwrap_or("unassigned").to_string(),
            (run.start, run.end),
            Origin {
                file: self.f.shown.clone(),
                line,
            },
        );
        j.project = cluster.clone().or_else(|| Some(stem.to_string()));
        j.site = cluster
            .as_ref()
            .and_then(|c| cfg.sacct.sites.get(c))
            .cloned()
            .or_else(|| cfg.sacct.site.clone());
        let partition = get("partition").and_then(|p| cfg.sacct.partitions.get(p));
        // `[sacct] hardware` names the accelerators; a job without any ran on CPUs.
        let default = if run.devices > 0.0 {
            cfg.sacct.hardware.as_deref()
        } else {
            Some("cpu")
        };
        j.hardware = partition
            .map(String::as_str)
            .or(default)
            .unwrap_or("unknown")
            .to_string();
        (j.devices, j.nodes, j.status, j.metered, j.cpu) =
            (run.devices, run.nodes, run.status, run.metered, run.cpu);
        j
    }

    /// The job's Start and End (UTC), or `None`: skipped when missing or of no duration, an
    /// error finding when unreadable.
    fn times(
        &mut self,
        id: &str,
        acc: &Acc,
        start: Option<&str>,
        end: Option<&str>,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let (Some(start), Some(end)) = (start, end) else {
            self.skip("no start or end time", id);
            return None;
        };
        let tz = &self.cfg.inputs.timezone;
        let (Ok(start), Ok(end)) = (parse_timestamp(start, tz), parse_timestamp(end, tz)) else {
            self.findings.push(
                Finding::error(
                    codes::SACCT_BAD_ROW,
                    format!("job {id}: unreadable Start/End; not counted"),
                )
                .at(&self.f.shown, Some(acc.line)),
            );
            self.rec.rows_rejected += 1;
            return None;
        };
        if end.utc <= start.utc {
            self.skip("ran for no time", id);
            return None;
        }
        Some((start.utc, end.utc))
    }

    /// An export without Start and End: the job is placed at Submit and lasts Elapsed
    /// (`[D-]HH:MM:SS`), which gives its duration (and GPU-hours) but not its exact hours.
    fn placed_at_submit(
        &mut self,
        id: &str,
        acc: &Acc,
        submit: &str,
        elapsed: &str,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let start = parse_timestamp(submit, &self.cfg.inputs.timezone).ok();
        let (Some(start), Some(secs)) = (start, elapsed_s(elapsed)) else {
            self.findings.push(
                Finding::error(
                    codes::SACCT_BAD_ROW,
                    format!("job {id}: unreadable Submit or Elapsed; not counted"),
                )
                .at(&self.f.shown, Some(acc.line)),
            );
            self.rec.rows_rejected += 1;
            return None;
        };
        if secs <= 0 {
            self.skip("ran for no time", id);
            return None;
        }
        self.from_submit += 1;
        Some((start.utc, start.utc + chrono::Duration::seconds(secs)))
    }

    /// One finding per reason jobs were not counted (their rows set aside), and the warning
    /// about node-level energy on shared nodes.
    fn finish(self) {
        for (why, ids) in &self.skipped {
            let n = ids.len() as u64;
            self.rec.rows_rejected += n;
            self.findings.push(
                Finding::info(
                    codes::SACCT_SKIPPED,
                    format!("{n} job(s) not counted: {why}: {}", head(ids)),
                )
                .at(&self.f.shown, None),
            );
        }
        if self.from_submit > 0 {
            self.findings.push(
                Finding::warning(
                    codes::SACCT_SKIPPED,
                    format!("{} job(s) have no Start and End: each is placed at its Submit time and lasts its Elapsed time, so its energy is right but its hours (and hourly grid factors) may be off; export Start and End for exact times", self.from_submit),
                )
                .at(&self.f.shown, None),
            );
        }
        if self.rec.rows > 0 && self.rec.rows_used == 0 {
            let why = if self.missing.is_empty() {
                "every job was set aside (see the notes above)".to_string()
            } else {
                format!("the file has no {} column", self.missing.join(" or "))
            };
            self.findings.push(
                Finding::error(
                    codes::SACCT_NO_JOB,
                    format!("{} rows gave no job: {why}; run sacct -P --format=JobID,JobName,Account,Partition,State,Start,End,NodeList,AllocTRES,ConsumedEnergyRaw", self.rec.rows),
                )
                .at(&self.f.shown, Some(1)),
            );
        }
        if !self.energy_unmeasured.is_empty() {
            let ids = &self.energy_unmeasured;
            self.findings.push(
                Finding::info(
                    codes::SACCT_ENERGY_NOT_MEASURED,
                    format!("{} job(s) have no measured energy (the energy field is empty, 0, negative or unset, which is how Slurm says it did not measure): their energy is estimated, never taken as 0 kWh: {}", ids.len(), head(ids)),
                )
                .at(&self.f.shown, None),
            );
        }
        if !self.usage_unknown.is_empty() {
            let ids = &self.usage_unknown;
            self.findings.push(
                Finding::info(
                    codes::SACCT_CPU_USAGE,
                    format!("{} CPU-only job(s) have no usable TotalCPU (missing, 0, or more than their cores could use in their run time): the core usage of [cpu] usage ({}) applies: {}", ids.len(), self.cfg.cpu.usage, head(ids)),
                )
                .at(&self.f.shown, None),
            );
        }
        if self.metered_shared > 0 {
            self.findings.push(
                Finding::warning(
                    codes::SACCT_SHARED_ENERGY,
                    format!("{} job(s) take ConsumedEnergyRaw, which Slurm measures per node: if nodes were shared with other jobs it includes their use (set [sacct] exclusive = true when allocations are exclusive)", self.metered_shared),
                )
                .at(&self.f.shown, None),
            );
        }
    }
}

/// The first eight ids of a list, and "..." when there are more.
fn head(ids: &[String]) -> String {
    let shown: Vec<&str> = ids.iter().take(8).map(String::as_str).collect();
    format!(
        "{}{}",
        shown.join(", "),
        if ids.len() > 8 { " ..." } else { "" }
    )
}

/// Seconds of a Slurm duration: `[D-]HH:MM:SS`, `MM:SS`, `MM:SS.mmm` (TotalCPU), or plain
/// seconds (sacct JSON, `*Raw` columns).
fn duration_s(v: &str) -> Option<f64> {
    let (days, rest) = match v.trim().split_once('-') {
        Some((d, r)) => (d.parse::<u32>().ok()?, r),
        None => (0, v.trim()),
    };
    let parts: Vec<f64> = rest
        .split(':')
        .map(|p| p.parse::<f64>().ok().filter(|x| x.is_finite() && *x >= 0.0))
        .collect::<Option<Vec<f64>>>()?;
    let secs = match parts.as_slice() {
        [h, m, s] => h * 3600.0 + m * 60.0 + s,
        [m, s] => m * 60.0 + s,
        [s] if days == 0 => *s,
        _ => return None,
    };
    Some(f64::from(days) * 86400.0 + secs)
}

/// Whole seconds of a Slurm Elapsed value.
fn elapsed_s(v: &str) -> Option<i64> {
    duration_s(v).map(|s| s.round() as i64)
}

/// Slurm accounting (`--sacct`, `[inputs] sacct`): fills manifest jobs of the same id, or adds
/// jobs.
pub(crate) struct SacctReader;

impl super::Reader for SacctReader {
    fn name(&self) -> &'static str {
        "Slurm accounting"
    }
    fn given(&self, cfg: &Config) -> bool {
        !cfg.inputs.sacct.is_empty()
    }
    fn read(&self, cx: &super::Cx, out: &mut super::Ingested) -> Result<()> {
        super::each_file(&cx.cfg.inputs.sacct, "sacct", out, |bytes, f, rec, out| {
            read(bytes, f, cx.cfg, rec, &mut out.jobs, &mut out.findings)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{cpu_use, duration_s, gpus, memory_gb};
    use std::collections::BTreeMap;

    fn row(cells: &[(&str, &str)]) -> BTreeMap<String, String> {
        cells
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn slurm_sizes_and_durations() {
        assert_eq!(memory_gb("40G"), Some(40.0));
        assert_eq!(memory_gb("38400M"), Some(37.5));
        assert_eq!(memory_gb("38400"), Some(37.5));
        assert_eq!(memory_gb("1T"), Some(1024.0));
        assert_eq!(memory_gb("108200K"), Some(108200.0 / 1024.0 / 1024.0));
        assert_eq!(memory_gb("12Q"), None);
        assert_eq!(memory_gb("-1G"), None);
        assert_eq!(duration_s("00:21.129"), Some(21.129));
        assert_eq!(duration_s("05:00:00"), Some(18000.0));
        assert_eq!(duration_s("1-02:00:00"), Some(93600.0));
        assert_eq!(duration_s("1218.047"), Some(1218.047));
        assert_eq!(duration_s("1-30"), None);
        assert_eq!(duration_s("aa:00"), None);
    }

    /// Cores from NCPUS, else AllocCPUS, else the cpu TRES; memory per CPU or per node; usage
    /// only when TotalCPU is one the cores could give.
    #[test]
    fn cpus_memory_and_usage() {
        let c = cpu_use(
            &row(&[
                ("ncpus", "4"),
                ("reqmem", "3000Mc"),
                ("totalcpu", "02:00:00"),
            ]),
            3600.0,
        )
        .unwrap();
        assert_eq!((c.cores, c.usage), (4.0, Some(0.5)));
        assert!((c.memory_gb.unwrap() - 12000.0 / 1024.0).abs() < 1e-12);
        let c = cpu_use(
            &row(&[
                ("alloctres", "billing=8,cpu=8,mem=64G,node=2"),
                ("reqmem", "48000Mn"),
                ("nnodes", "2"),
            ]),
            3600.0,
        )
        .unwrap();
        assert_eq!((c.cores, c.memory_gb, c.usage), (8.0, Some(64.0), None));
        let c = cpu_use(
            &row(&[("alloccpus", "2"), ("reqmem", "48000Mn"), ("nnodes", "2")]),
            1.0,
        )
        .unwrap();
        assert!((c.memory_gb.unwrap() - 96000.0 / 1024.0).abs() < 1e-12);
        // 3 h of CPU time from 2 cores in 1 h is impossible: not a usage.
        let c = cpu_use(&row(&[("ncpus", "2"), ("totalcpu", "03:00:00")]), 3600.0).unwrap();
        assert_eq!(c.usage, None);
        assert!(cpu_use(&row(&[("ncpus", "0")]), 3600.0).is_none());
        assert!(cpu_use(&row(&[("jobid", "1")]), 3600.0).is_none());
    }

    #[test]
    fn gpu_counts_from_tres() {
        assert_eq!(
            gpus("billing=1,cpu=1,gres/gpu=4,mem=1000M,node=1"),
            Some(4.0)
        );
        assert_eq!(gpus("gres/gpu:a100=2,gres/gpu:v100=1"), Some(3.0));
        assert_eq!(gpus("gres/gpu:a100=2,gres/gpu=2"), Some(2.0));
        assert_eq!(gpus("billing=36,cpu=36,mem=48000M,node=3"), None);
        assert_eq!(gpus("gres/gpu=2"), Some(2.0));
    }
}
