//! Slurm `sacct -P` (`--parsable2`) output, with or without a header (then `[sacct] columns`
//! gives the field list). Jobs come from the allocation rows: team = Account, model = JobName
//! (or a mapping), nodes = NodeList (hostlists), devices = `gres/gpu` in AllocTRES. Step rows
//! (`123.batch`, `123.0`, `123.extern`) fold into their job without double counting;
//! `ConsumedEnergyRaw` (joules) is metered energy. A manifest row with the same job_id keeps its
//! own fields and gains what sacct adds (energy, nodes).

use super::{InputRecord, Job, Metered, Origin, Status, TrainingType};
use crate::config::{Config, InputFile};
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use crate::timeutil::parse_timestamp;
use std::collections::BTreeMap;

/// Fields without which no job can be placed in time; `JobID` itself is required.
const TIMES: [&str; 2] = ["start", "end"];

/// The GPU count in an AllocTRES value: `gres/gpu=4`, `gres/gpu:a100=4` (summed).
pub fn gpus(tres: &str) -> Option<f64> {
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

/// Per-job accumulation across allocation and step rows.
#[derive(Debug, Default)]
struct Acc {
    alloc: Option<BTreeMap<String, String>>,
    line: u64,
    alloc_energy_j: Option<f64>,
    step_energy_j: f64,
    extern_energy_j: f64,
    steps: u64,
}

/// Read one sacct file into jobs (merged into `jobs`: manifest rows with the same id are
/// enriched instead).
pub fn read(
    bytes: &[u8],
    f: &InputFile,
    cfg: &Config,
    rec: &mut InputRecord,
    jobs: &mut Vec<Job>,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .peekable();
    let first = lines.peek().map(|(_, l)| *l).unwrap_or("");
    let has_header = first
        .split('|')
        .any(|c| c.trim().eq_ignore_ascii_case("jobid"));
    let header: Vec<String> = if has_header {
        let (_, h) = lines.next().unwrap_or((0, ""));
        h.split('|')
            .map(|c| c.trim().to_ascii_lowercase())
            .collect()
    } else {
        match &cfg.sacct_columns {
            Some(cols) => cols.iter().map(|c| c.trim().to_ascii_lowercase()).collect(),
            None => return Err(Error::in_file(
                &f.shown,
                "sacct output without a header line: the columns are unknown",
            )
            .at_line(1)
            .hint(
                "list them in [sacct] columns, in the order of the --format that produced the file",
            )),
        }
    };
    if !header.iter().any(|h| h == "jobid") {
        return Err(Error::in_file(
            &f.shown,
            format!(
                "sacct column 'JobID' is missing (columns: {})",
                header.join(", ")
            ),
        )
        .at_line(1));
    }
    let missing: Vec<&str> = TIMES
        .iter()
        .copied()
        .filter(|c| !header.iter().any(|h| h == c))
        .collect();
    if !missing.is_empty() {
        findings.push(
            Finding::warning(
                codes::SACCT_SKIPPED,
                format!(
                    "the file has no {} column, so no job in it can be accounted; run sacct -P --format=JobID,JobName,Account,Partition,State,Start,End,NodeList,AllocTRES,ConsumedEnergyRaw",
                    missing.join(" or ")
                ),
            )
            .at(&f.shown, Some(1)),
        );
    }
    let mut accs: BTreeMap<String, Acc> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in lines {
        rec.rows += 1;
        let fields: Vec<&str> = line.split('|').collect();
        // `-p` adds a trailing `|`; a `|` inside a field has no escape and breaks the row.
        let n = if fields.len() == header.len() + 1 && fields.last() == Some(&"") {
            header.len()
        } else {
            fields.len()
        };
        if n != header.len() {
            bad.push(i as u64 + 1);
            rec.rows_rejected += 1;
            continue;
        }
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
                rec.rows_superseded += 1;
                if s == "extern" {
                    acc.extern_energy_j += energy.unwrap_or(0.0);
                } else {
                    acc.step_energy_j += energy.unwrap_or(0.0);
                }
            }
        }
    }
    if !bad.is_empty() {
        findings.push(
            Finding::error(codes::SACCT_BAD_ROW, format!("{} rows have a different number of fields than the header (a '|' inside a field?) and are not used", bad.len()))
                .at(&f.shown, Some(bad[0])),
        );
    }
    let mut skipped: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut metered_shared = 0u64;
    let stem = f
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    for id in order {
        let acc = &accs[&id];
        let Some(row) = &acc.alloc else {
            // Steps without their allocation row (e.g. `sacct -s` filters): nothing to attach to.
            skipped
                .entry("steps without an allocation row")
                .or_default()
                .push(id.clone());
            // Count their rows as set aside, not folded (the loop below adds one for the id).
            rec.rows_superseded -= acc.steps;
            rec.rows_rejected += acc.steps.saturating_sub(1);
            continue;
        };
        let get = |k: &str| {
            row.get(k).map(String::as_str).filter(|v| {
                !v.is_empty() && *v != "Unknown" && *v != "None assigned" && *v != "None"
            })
        };
        let state = get("state").unwrap_or("").to_ascii_uppercase();
        let status = if state.starts_with("COMPLETED") {
            Status::Completed
        } else if state.starts_with("CANCELLED") {
            Status::Cancelled
        } else if [
            "FAILED",
            "TIMEOUT",
            "NODE_FAIL",
            "OUT_OF_MEMORY",
            "OUT_OF_ME",
            "BOOT_FAIL",
            "DEADLINE",
            "PREEMPTED",
        ]
        .iter()
        .any(|s| state.starts_with(s))
        {
            Status::Failed
        } else {
            skipped
                .entry(if state.starts_with("RUNNING") {
                    "still running"
                } else {
                    "never ran (pending or requeued)"
                })
                .or_default()
                .push(id.clone());
            continue;
        };
        let (Some(start), Some(end)) = (get("start"), get("end")) else {
            skipped
                .entry("no start or end time")
                .or_default()
                .push(id.clone());
            continue;
        };
        let (Ok(start), Ok(end)) = (
            parse_timestamp(start, &cfg.timezone),
            parse_timestamp(end, &cfg.timezone),
        ) else {
            findings.push(
                Finding::error(
                    codes::SACCT_BAD_ROW,
                    format!("job {id}: unreadable Start/End; not counted"),
                )
                .at(&f.shown, Some(acc.line)),
            );
            rec.rows_rejected += 1;
            continue;
        };
        if end.utc <= start.utc {
            skipped
                .entry("ran for no time")
                .or_default()
                .push(id.clone());
            continue;
        }
        // Energy: the allocation's own figure, else the steps' (batch and numbered steps; the
        // extern step only when nothing else measured).
        let energy_j = acc.alloc_energy_j.or(if acc.step_energy_j > 0.0 {
            Some(acc.step_energy_j)
        } else if acc.extern_energy_j > 0.0 {
            Some(acc.extern_energy_j)
        } else {
            None
        });
        let devices = get("alloctres")
            .and_then(gpus)
            .or_else(|| get("reqtres").and_then(gpus))
            .unwrap_or(0.0);
        let nodes = get("nodelist").map(String::from);
        let metered = energy_j.map(|j| Metered {
            it_kwh: j / 3.6e6,
            source: format!("Slurm ConsumedEnergyRaw of job {id}"),
        });
        if metered.is_some() && !cfg.sacct_exclusive {
            metered_shared += 1;
        }
        if let Some(existing) = jobs
            .iter_mut()
            .find(|j| j.job_id == id && !j.from_codecarbon)
        {
            // The manifest's row wins; sacct adds what it lacks.
            if existing.metered.is_none() {
                existing.metered = metered;
            }
            if existing.nodes.is_none() {
                existing.nodes = nodes;
            }
            rec.rows_used += 1;
            continue;
        }
        if devices <= 0.0 && metered.is_none() {
            skipped
                .entry("no GPUs allocated and no energy measured")
                .or_default()
                .push(id.clone());
            continue;
        }
        let account = get("account").unwrap_or("unassigned").to_string();
        let name = get("jobname").unwrap_or("unnamed").to_string();
        let model = cfg.sacct_models.get(&name).cloned().unwrap_or(name);
        let partition = get("partition").map(String::from);
        let hardware = partition
            .as_ref()
            .and_then(|p| cfg.sacct_partitions.get(p))
            .cloned()
            .or_else(|| cfg.sacct_hardware.clone())
            .unwrap_or_else(|| "unknown".to_string());
        let cluster = get("cluster").map(String::from);
        let site = cluster
            .as_ref()
            .and_then(|c| cfg.sacct_sites.get(c))
            .cloned()
            .or_else(|| cfg.sacct_site.clone());
        rec.rows_used += 1;
        jobs.push(Job {
            job_id: id.clone(),
            model,
            team: account,
            project: cluster.clone().or_else(|| Some(stem.clone())),
            site,
            zone: None,
            start: start.utc,
            end: end.utc,
            hardware,
            devices,
            nodes,
            gpu_ids: None,
            training_type: TrainingType::Other,
            base_model: None,
            teacher_model: None,
            sparsity: None,
            precision: None,
            parameters: None,
            tokens: None,
            status,
            gpu_hours: None,
            avg_power_w: None,
            metered,
            published: None,
            from_codecarbon: false,
            origin: Origin {
                file: f.shown.clone(),
                line: acc.line,
            },
        });
    }
    for (why, ids) in skipped {
        let n = ids.len() as u64;
        rec.rows_rejected += n;
        let head: Vec<&str> = ids.iter().take(8).map(String::as_str).collect();
        findings.push(
            Finding::info(
                codes::SACCT_SKIPPED,
                format!(
                    "{n} job(s) not counted: {why}: {}{}",
                    head.join(", "),
                    if ids.len() > 8 { " ..." } else { "" }
                ),
            )
            .at(&f.shown, None),
        );
    }
    if metered_shared > 0 {
        findings.push(
            Finding::warning(
                codes::SACCT_SHARED_ENERGY,
                format!("{metered_shared} job(s) take ConsumedEnergyRaw, which Slurm measures per node: if nodes were shared with other jobs it includes their use (set [sacct] exclusive = true when allocations are exclusive)"),
            )
            .at(&f.shown, None),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::gpus;

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
