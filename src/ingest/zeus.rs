//! Zeus (`ZeusMonitor`) logs: `start_time, window_name, elapsed_time, gpu0_energy, ...`, one
//! row per measurement window, energy in joules per GPU. `start_time` is a monotonic clock,
//! not a date, so a log cannot be placed in time by itself: it meters the job it is named
//! after (`<job_id>.csv`, or `<job_id>.zeus.csv`), whose times the manifest gives. The windows
//! are taken as consecutive (as the power-limit optimizer and per-epoch windows are).

use super::{InputRecord, Job, Metered};
use crate::config::InputFile;
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use crate::ledger::Boundary;

/// Read one log and meter its job with the windows' energy (accelerators only).
pub(crate) fn read(
    bytes: &[u8],
    f: &InputFile,
    rec: &mut InputRecord,
    jobs: &mut [Job],
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let mut rdr = super::csv_reader(bytes);
    let header: Vec<String> = super::csv_header(&mut rdr, &f.shown)?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let gpus = energy_columns(&header, f)?;
    let (joules, windows) = windows(&mut rdr, &gpus, f, rec, findings);
    attach(f, rec, jobs, findings, joules, windows, gpus.len());
    Ok(())
}

/// The `gpuN_energy` columns; a file without them (or without `window_name`) is no Zeus log.
fn energy_columns(header: &[String], f: &InputFile) -> Result<Vec<usize>> {
    let gpus: Vec<usize> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| h.starts_with("gpu") && h.ends_with("_energy"))
        .map(|(i, _)| i)
        .collect();
    if !header.iter().any(|h| h == "window_name") || gpus.is_empty() {
        return Err(Error::in_file(
            &f.shown,
            format!("not a Zeus log (columns: {})", header.join(", ")),
        )
        .at_line(1)
        .hint("a ZeusMonitor log has start_time, window_name, elapsed_time, gpu0_energy, ..."));
    }
    Ok(gpus)
}

/// The joules of every readable window and their number; bad windows are one error.
fn windows(
    rdr: &mut csv::Reader<&[u8]>,
    gpus: &[usize],
    f: &InputFile,
    rec: &mut InputRecord,
    findings: &mut Vec<Finding>,
) -> (f64, u64) {
    let (mut joules, mut windows, mut bad) = (0.0, 0u64, Vec::new());
    for (i, r) in rdr.records().enumerate() {
        rec.rows += 1;
        let energies: Option<Vec<f64>> = r.ok().and_then(|r| {
            gpus.iter()
                .map(|&c| {
                    r.get(c)?
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite() && *v >= 0.0)
                })
                .collect()
        });
        match energies {
            Some(e) => {
                joules += e.iter().sum::<f64>();
                windows += 1;
            }
            None => bad.push(i as u64 + 2),
        }
    }
    rec.rows_rejected = bad.len() as u64;
    if !bad.is_empty() {
        findings.push(
            Finding::error(
                codes::ZEUS_BAD_ROW,
                format!("{} windows have an unreadable or negative energy and are not used (first at line {})", bad.len(), bad[0]),
            )
            .at(&f.shown, Some(bad[0])),
        );
    }
    (joules, windows)
}

/// Meter the job the log is named after (unless another meter already covers it).
fn attach(
    f: &InputFile,
    rec: &mut InputRecord,
    jobs: &mut [Job],
    findings: &mut Vec<Finding>,
    joules: f64,
    windows: u64,
    gpus: usize,
) {
    let stem = f
        .path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let id = stem.trim_end_matches(".csv").trim_end_matches(".zeus");
    let Some(job) = jobs.iter_mut().find(|j| j.job_id == id) else {
        findings.push(
            Finding::error(
                codes::ZEUS_NO_JOB,
                format!("the Zeus log names no job of the manifest ('{id}'): its clock is monotonic, so it cannot be placed in time on its own; name the file <job_id>.csv"),
            )
            .at(&f.shown, None),
        );
        rec.rows_rejected = rec.rows;
        return;
    };
    rec.rows_used = windows;
    match &job.metered {
        Some(m) => findings.push(
            Finding::info(
                codes::ZEUS_NO_JOB,
                format!(
                    "job '{id}' is already metered ({}); the Zeus log is not added to it",
                    m.source
                ),
            )
            .at(&f.shown, None),
        ),
        None => {
            job.metered = Some(Metered {
                it_kwh: joules / 3.6e6,
                boundary: Boundary::Accelerator,
                accelerator_share: None,
                source: format!("Zeus log, {windows} windows, {gpus} GPUs"),
            });
        }
    }
}

/// Zeus logs (`--zeus`, `[inputs] zeus`): each meters the job it is named after.
pub(crate) struct ZeusReader;

impl super::Reader for ZeusReader {
    fn name(&self) -> &'static str {
        "Zeus"
    }
    fn given(&self, cfg: &crate::config::Config) -> bool {
        !cfg.inputs.zeus.is_empty()
    }
    fn stands_alone(&self) -> bool {
        false
    }
    fn read(&self, cx: &super::Cx, out: &mut super::Ingested) -> Result<()> {
        super::each_file(&cx.cfg.inputs.zeus, "zeus", out, |bytes, f, rec, out| {
            read(bytes, f, rec, &mut out.jobs, &mut out.findings)
        })
    }
}
