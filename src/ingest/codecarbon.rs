//! CodeCarbon `emissions.csv`, every column generation (11 to 38 columns), mapped by header name.
//!
//! Rows sharing a `run_id` are cumulative snapshots of one run: only the latest counts. IT
//! energy is `energy_consumed / pue` (CodeCarbon multiplies its own PUE in).

use super::{InputRecord, Job, Metered, Origin};
use crate::config::{Config, InputFile};
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use crate::ledger::Boundary;
use crate::timeutil::{fmt_utc, parse_timestamp};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// The columns greenledger needs; all other CodeCarbon columns are read past.
pub(crate) const REQUIRED: [&str; 4] = ["timestamp", "project_name", "duration", "energy_consumed"];

/// One CodeCarbon run (its latest snapshot).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Run {
    pub run_id: Option<String>,
    pub experiment_id: Option<String>,
    pub project: String,
    pub end: DateTime<Utc>,
    pub duration_s: f64,
    pub energy_consumed_kwh: f64,
    pub pue: f64,
    pub zone: Option<String>,
    pub gpu_count: f64,
    pub gpu_model: Option<String>,
    /// gpu_energy / (cpu_energy + gpu_energy + ram_energy), when the row gives all three.
    pub gpu_share: Option<f64>,
    /// For a task file (`start_task`/`stop_task`): the tasks summed into this run.
    pub tasks: Vec<String>,
    pub origin: Origin,
}

impl Run {
    /// IT energy: CodeCarbon's energy with its own PUE divided out.
    pub(crate) fn it_kwh(&self) -> f64 {
        self.energy_consumed_kwh / self.pue
    }
    pub(crate) fn start(&self) -> DateTime<Utc> {
        self.end - Duration::milliseconds((self.duration_s * 1000.0).round() as i64)
    }
}

/// Read one file into runs (latest snapshot per run_id).
pub(crate) fn read(
    bytes: &[u8],
    f: &InputFile,
    cfg: &Config,
    rec: &mut InputRecord,
    findings: &mut Vec<Finding>,
) -> Result<Vec<Run>> {
    let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(body);
    let header = header(&mut rdr, f)?;
    let mut runs: Vec<Run> = Vec::new();
    let mut naive = (0u64, None::<u64>);
    let mut lines = super::LineCounter::default();
    for (i, record) in rdr.records().enumerate() {
        let line = record
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map(|p| lines.line_at(body, p.byte() as usize))
            .unwrap_or(i as u64 + 2);
        rec.rows += 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                rec.rows_rejected += 1;
                findings.push(
                    Finding::warning(
                        codes::CC_SHORT_ROW,
                        format!("unreadable row ({e}); not counted"),
                    )
                    .at(&f.shown, Some(line)),
                );
                continue;
            }
        };
        if record.iter().all(|c| c.trim().is_empty()) {
            rec.rows -= 1; // a blank line is not a row
            continue;
        }
        if record.len() != header.len() {
            // CodeCarbon drops empty columns from appended rows, shifting every later field:
            // such a row cannot be mapped by name with confidence.
            rec.rows_rejected += 1;
            findings.push(
                Finding::warning(codes::CC_SHORT_ROW, format!("the row has {} fields but the header has {}; its columns cannot be matched, so it is not counted", record.len(), header.len()))
                    .at(&f.shown, Some(line)),
            );
            continue;
        }
        let cells = Cells {
            header: &header,
            record: &record,
        };
        match run(&cells, cfg, f, line, &mut naive) {
            Ok(run) => runs.push(run),
            Err((code, msg)) => {
                rec.rows_rejected += 1;
                findings.push(
                    Finding::warning(code, format!("{msg}; the row is not counted"))
                        .at(&f.shown, Some(line)),
                );
            }
        }
    }
    naive_finding(naive, f, cfg, findings);
    Ok(if header.iter().any(|h| h == "task_name") {
        sum_tasks(runs, f, rec, findings)
    } else {
        latest_snapshots(runs, f, rec, findings)
    })
}

/// One warning for the naive timestamps of a file (how many, the first line).
fn naive_finding(
    naive: (u64, Option<u64>),
    f: &InputFile,
    cfg: &Config,
    findings: &mut Vec<Finding>,
) {
    if let (n, Some(first)) = naive {
        findings.push(
            Finding::warning(
                codes::CC_NAIVE_TIMESTAMP,
                format!("{n} timestamps have no time zone (CodeCarbon writes local wall-clock time); they were read as {}", cfg.inputs.timezone_name),
            )
            .at(&f.shown, Some(first)),
        );
    }
}

/// A task file (`emissions_<experiment>_<run_id>.csv`, written by `start_task`/`stop_task`):
/// each row is a separate measurement of one task, so the tasks of a run add up (they are not
/// cumulative snapshots). The run spans its tasks.
pub(crate) fn sum_tasks(
    runs: Vec<Run>,
    f: &InputFile,
    rec: &mut InputRecord,
    findings: &mut Vec<Finding>,
) -> Vec<Run> {
    let mut by_id: BTreeMap<String, Run> = BTreeMap::new();
    let n = runs.len();
    for r in runs {
        let id = r
            .run_id
            .clone()
            .unwrap_or_else(|| format!("{}:{}", r.origin.file, r.origin.line));
        match by_id.get_mut(&id) {
            None => {
                by_id.insert(id, r);
            }
            Some(run) => {
                let start = run.start().min(r.start());
                let (a, b) = (run.it_kwh(), r.it_kwh());
                run.gpu_share = match (run.gpu_share, r.gpu_share) {
                    (Some(x), Some(y)) if a + b > 0.0 => Some((a * x + b * y) / (a + b)),
                    _ => None,
                };
                // Energies add at each row's own PUE: keep the sum of IT energy at PUE 1.
                run.energy_consumed_kwh = a + b;
                run.pue = 1.0;
                run.end = run.end.max(r.end);
                run.duration_s = (run.end - start).num_milliseconds() as f64 / 1000.0;
                run.gpu_count = run.gpu_count.max(r.gpu_count);
                run.tasks.extend(r.tasks);
            }
        }
    }
    let out: Vec<Run> = by_id.into_values().collect();
    rec.rows_used = n as u64;
    findings.push(
        Finding::info(
            codes::CC_TASKS,
            format!(
                "a CodeCarbon task file: {n} task rows add up into {} run(s) (each task is its own measurement)",
                out.len()
            ),
        )
        .at(&f.shown, None),
    );
    out
}

/// A run's task sums are its breakdown when the run's own row is also given (from an
/// emissions.csv): the run row is the total, the tasks are not added again.
pub(crate) fn drop_task_sums_with_a_run_row(runs: &mut [Vec<Run>], findings: &mut Vec<Finding>) {
    let with_row: std::collections::BTreeSet<String> = runs
        .iter()
        .flatten()
        .filter(|r| r.tasks.is_empty())
        .filter_map(|r| r.run_id.clone())
        .collect();
    for file in runs.iter_mut() {
        let mut dropped = Vec::new();
        file.retain(|r| {
            let keep =
                r.tasks.is_empty() || !r.run_id.as_ref().is_some_and(|id| with_row.contains(id));
            if !keep {
                dropped.push(r.clone());
            }
            keep
        });
        for r in dropped {
            findings.push(
                Finding::info(
                    codes::CC_TASKS,
                    format!("the tasks of CodeCarbon run {} ({}) are its breakdown: the run's own row is the total, so they are not added again", r.run_id.clone().unwrap_or_default(), r.tasks.join(", ")),
                )
                .at(&r.origin.file, None),
            );
        }
    }
}

/// The header's column names; the run cannot be read without the required ones.
fn header(rdr: &mut csv::Reader<&[u8]>, f: &InputFile) -> Result<Vec<String>> {
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| {
            Error::in_file(&f.shown, format!("cannot read the CSV header: {e}")).at_line(1)
        })?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if let Some(c) = REQUIRED.iter().find(|c| !header.iter().any(|h| h == *c)) {
        return Err(Error::in_file(
            &f.shown,
            format!(
                "{} column '{c}' is missing: this is not a CodeCarbon emissions.csv",
                codes::CC_MISSING_COLUMN
            ),
        )
        .at_line(1)
        .hint(format!(
            "a CodeCarbon file has at least {}",
            REQUIRED.join(", ")
        )));
    }
    Ok(header)
}

/// One row's cells, by header name.
struct Cells<'a> {
    header: &'a [String],
    record: &'a csv::StringRecord,
}

impl Cells<'_> {
    /// A cell's trimmed text; `None` when the column is absent or the cell empty.
    fn get(&self, name: &str) -> Option<&str> {
        self.header
            .iter()
            .position(|h| h == name)
            .and_then(|c| self.record.get(c))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// A cell as a number; `None` when empty.
    fn num(&self, name: &str) -> Option<std::result::Result<f64, String>> {
        self.get(name).map(|s| {
            s.parse::<f64>()
                .map_err(|_| format!("'{name}': cannot read '{s}' as a number"))
        })
    }
}

/// A finding's code and message for a row that is not counted.
type Reject = (&'static str, String);

/// One snapshot row as a run, or why it is not counted. A naive timestamp is counted (with
/// the first line) even when the row is then rejected for another reason.
fn run(
    c: &Cells,
    cfg: &Config,
    f: &InputFile,
    line: u64,
    naive: &mut (u64, Option<u64>),
) -> std::result::Result<Run, Reject> {
    let end = match c
        .get("timestamp")
        .map(|s| parse_timestamp(s, &cfg.inputs.timezone))
    {
        Some(Ok(st)) => {
            if st.naive {
                naive.0 += 1;
                naive.1.get_or_insert(line);
            }
            st.utc
        }
        Some(Err(e)) => return Err((codes::CC_BAD_TIMESTAMP, format!("'timestamp': {e}"))),
        None => return Err((codes::CC_BAD_TIMESTAMP, "'timestamp' is empty".into())),
    };
    let energy = energy(c)?;
    let duration = duration(c)?;
    let pue = pue(c)?;
    let on_cloud = c
        .get("on_cloud")
        .is_some_and(|v| v.eq_ignore_ascii_case("y") || v.eq_ignore_ascii_case("true"));
    let zone = match (on_cloud, c.get("cloud_provider"), c.get("cloud_region")) {
        (true, Some(p), Some(r)) => Some(format!("{}:{}", p.to_lowercase(), r)),
        _ => c.get("country_iso_code").map(String::from),
    };
    let gpu_count = c
        .num("gpu_count")
        .and_then(|r| r.ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .unwrap_or(0.0);
    Ok(Run {
        run_id: c.get("run_id").map(String::from),
        experiment_id: c.get("experiment_id").map(String::from),
        project: c.get("project_name").unwrap_or("codecarbon").to_string(),
        end,
        duration_s: duration,
        energy_consumed_kwh: energy,
        pue,
        zone,
        gpu_count,
        gpu_model: c.get("gpu_model").map(String::from),
        gpu_share: gpu_share(c),
        tasks: c.get("task_name").map(String::from).into_iter().collect(),
        origin: Origin {
            file: f.shown.clone(),
            line,
        },
    })
}

/// The accelerators' share of the energy: gpu_energy over cpu + gpu + ram energy, when all
/// three are numbers >= 0 with a positive sum (older files have no split).
fn gpu_share(c: &Cells) -> Option<f64> {
    let part = |n: &str| c.num(n)?.ok().filter(|v| v.is_finite() && *v >= 0.0);
    let (cpu, gpu, ram) = (
        part("cpu_energy")?,
        part("gpu_energy")?,
        part("ram_energy")?,
    );
    let total = cpu + gpu + ram;
    (total > 0.0).then(|| gpu / total)
}

/// `energy_consumed` (kWh, with CodeCarbon's PUE): required, finite and >= 0.
fn energy(c: &Cells) -> std::result::Result<f64, Reject> {
    match c.num("energy_consumed") {
        Some(Ok(v)) if v.is_finite() && v >= 0.0 => Ok(v),
        Some(Ok(v)) => Err((
            codes::CC_BAD_NUMBER,
            format!("'energy_consumed' = {v} is negative or not finite"),
        )),
        Some(Err(m)) => Err((codes::CC_BAD_NUMBER, m)),
        None => Err((
            codes::CC_NO_ENERGY,
            "'energy_consumed' is empty (CodeCarbon measured nothing for this snapshot)".into(),
        )),
    }
}

/// `duration` (seconds): required, finite and >= 0.
fn duration(c: &Cells) -> std::result::Result<f64, Reject> {
    match c.num("duration") {
        Some(Ok(v)) if v.is_finite() && v >= 0.0 => Ok(v),
        Some(Err(m)) => Err((codes::CC_BAD_NUMBER, m)),
        _ => Err((
            codes::CC_BAD_NUMBER,
            "'duration' is empty or negative".into(),
        )),
    }
}

/// CodeCarbon's own `pue` (1 when absent; else >= 1).
fn pue(c: &Cells) -> std::result::Result<f64, Reject> {
    match c.num("pue") {
        None => Ok(1.0),
        Some(Ok(p)) if p >= 1.0 && p.is_finite() => Ok(p),
        Some(_) => Err((
            codes::CC_BAD_NUMBER,
            format!(
                "'pue' = {:?} is not a PUE (>= 1)",
                c.get("pue").unwrap_or("")
            ),
        )),
    }
}

/// Keep the latest snapshot of each run_id (latest timestamp, then longest duration, then the
/// later line). Rows without a run_id are runs of their own.
pub(crate) fn latest_snapshots(
    runs: Vec<Run>,
    f: &InputFile,
    rec: &mut InputRecord,
    findings: &mut Vec<Finding>,
) -> Vec<Run> {
    let mut by_id: BTreeMap<String, Run> = BTreeMap::new();
    let mut out = Vec::new();
    let mut superseded: Vec<u64> = Vec::new();
    for r in runs {
        let Some(id) = r.run_id.clone() else {
            out.push(r);
            continue;
        };
        match by_id.get(&id) {
            Some(prev)
                if (prev.end, prev.duration_s, prev.origin.line)
                    > (r.end, r.duration_s, r.origin.line) =>
            {
                superseded.push(r.origin.line);
            }
            Some(prev) => {
                superseded.push(prev.origin.line);
                by_id.insert(id, r);
            }
            None => {
                by_id.insert(id, r);
            }
        }
    }
    out.extend(by_id.into_values());
    out.sort_by_key(|r| r.origin.line);
    rec.rows_used = out.len() as u64;
    rec.rows_superseded = superseded.len() as u64;
    if !superseded.is_empty() {
        superseded.sort_unstable();
        let lines: Vec<String> = superseded.iter().take(20).map(|l| l.to_string()).collect();
        let more = if superseded.len() > 20 {
            format!(" and {} more", superseded.len() - 20)
        } else {
            String::new()
        };
        findings.push(
            Finding::info(
                codes::CC_SNAPSHOT,
                format!("{} rows are earlier cumulative snapshots of a run whose latest row is counted (lines {}{more})", superseded.len(), lines.join(", ")),
            )
            .at(&f.shown, None),
        );
    }
    out
}

/// Attach runs to manifest jobs (by run_id or experiment_id = job_id) as metered energy; other
/// runs become jobs of their own.
pub(crate) fn merge(
    runs: Vec<Run>,
    jobs: &mut Vec<Job>,
    cfg: &Config,
    _factors: &crate::factors::Factors,
    rec: &mut InputRecord,
    findings: &mut Vec<Finding>,
) {
    let mut unassigned: BTreeMap<String, u64> = BTreeMap::new();
    for run in runs {
        let target = jobs.iter().position(|j| {
            !j.from_codecarbon
                && (run.run_id.as_deref() == Some(j.job_id.as_str())
                    || run.experiment_id.as_deref() == Some(j.job_id.as_str()))
        });
        let run_name = run
            .run_id
            .clone()
            .unwrap_or_else(|| format!("{}:{}", run.origin.file, run.origin.line));
        match target {
            Some(i) => enrich(&mut jobs[i], &run, &run_name, findings),
            None => {
                let team = match cfg.codecarbon.teams.get(&run.project) {
                    Some(t) => t.clone(),
                    None => {
                        *unassigned.entry(run.project.clone()).or_default() += 1;
                        "unassigned".to_string()
                    }
                };
                jobs.push(run_job(&run, run_name, team, cfg));
            }
        }
    }
    if !unassigned.is_empty() {
        let runs: u64 = unassigned.values().sum();
        let list: Vec<String> = unassigned
            .iter()
            .map(|(p, n)| format!("{p} ({n})"))
            .collect();
        findings.push(
            Finding::warning(
                codes::CC_NO_TEAM,
                format!(
                    "{runs} CodeCarbon run(s) of {} project(s) match no job and no team and are counted under team 'unassigned': {} (map projects to teams in [codecarbon] teams)",
                    unassigned.len(),
                    list.join(", ")
                ),
            )
            .at(&rec.path, None),
        );
    }
}

/// A run matching a manifest job meters it: added to other tracked energy, never replacing
/// the manifest's own `energy_kwh` (that is kept, with a note).
fn enrich(job: &mut Job, run: &Run, run_name: &str, findings: &mut Vec<Finding>) {
    match &mut job.metered {
        Some(m) if m.source == "energy_kwh column" => {
            findings.push(
                Finding::info(codes::CC_MATCHED, format!("CodeCarbon run {run_name} matches job '{}', which already has energy_kwh; the manifest's value is kept", job.job_id))
                    .at(&run.origin.file, Some(run.origin.line)),
            );
        }
        Some(m) => {
            let (a, b) = (m.it_kwh, run.it_kwh());
            // The split of the sum: the runs' shares weighted by their energy, when both have one.
            m.accelerator_share = match (m.accelerator_share, run.gpu_share) {
                (Some(x), Some(y)) if a + b > 0.0 => Some((a * x + b * y) / (a + b)),
                _ => None,
            };
            m.it_kwh = a + b;
            m.source = format!("{}; CodeCarbon run {run_name}", m.source);
        }
        None => {
            job.metered = Some(Metered {
                it_kwh: run.it_kwh(),
                boundary: Boundary::System,
                accelerator_share: run.gpu_share,
                source: format!("CodeCarbon run {run_name}"),
            });
            job.from_codecarbon = true;
        }
    }
}

/// A run that matches no job becomes a metered job of its own: model and project from the
/// project name, the site from `[codecarbon] sites`, its time from the end and duration.
fn run_job(run: &Run, run_name: String, team: String, cfg: &Config) -> Job {
    let start = run.start();
    let mut end = run.end;
    if end <= start {
        end = start + Duration::milliseconds(1).max(Duration::zero());
    }
    let mut j = Job::bare(
        run_name.clone(),
        run.project.clone(),
        team,
        (start, end),
        run.origin.clone(),
    );
    j.project = Some(run.project.clone());
    j.site = cfg.codecarbon.sites.get(&run.project).cloned();
    j.zone = run.zone.clone();
    j.hardware = run.gpu_model.clone().unwrap_or_else(|| "unknown".into());
    j.devices = run.gpu_count;
    j.gpu_hours = Some(run.gpu_count * run.duration_s / 3600.0);
    j.metered = Some(Metered {
        it_kwh: run.it_kwh(),
        boundary: Boundary::System,
        accelerator_share: run.gpu_share,
        source: format!("CodeCarbon run {run_name} (ended {})", fmt_utc(run.end)),
    });
    j.from_codecarbon = true;
    j
}

/// CodeCarbon files (`--codecarbon`, `[inputs] codecarbon`). Two phases: every file is read
/// first, because a task-sum row in one file is dropped when another file has its run's row;
/// then each file's runs meter the jobs they name, or become jobs.
pub(crate) struct CodeCarbonReader;

impl super::Reader for CodeCarbonReader {
    fn name(&self) -> &'static str {
        "CodeCarbon"
    }
    fn given(&self, cfg: &Config) -> bool {
        !cfg.inputs.codecarbon.is_empty()
    }
    fn read(&self, cx: &super::Cx, out: &mut super::Ingested) -> Result<()> {
        let mut files = Vec::new();
        for f in &cx.cfg.inputs.codecarbon {
            let (bytes, mut rec) = super::read_input(f, "codecarbon")?;
            let runs = read(&bytes, f, cx.cfg, &mut rec, &mut out.findings)?;
            files.push((runs, rec));
        }
        let mut runs: Vec<Vec<Run>> = files.iter_mut().map(|(r, _)| std::mem::take(r)).collect();
        drop_task_sums_with_a_run_row(&mut runs, &mut out.findings);
        for (file_runs, (_, mut rec)) in runs.into_iter().zip(files) {
            merge(
                file_runs,
                &mut out.jobs,
                cx.cfg,
                cx.factors,
                &mut rec,
                &mut out.findings,
            );
            out.inputs.push(rec);
        }
        Ok(())
    }
}
