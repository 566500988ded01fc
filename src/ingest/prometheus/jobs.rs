//! Jobs from labels: each job id the series name becomes a job spanning its samples, placed on
//! exactly the GPUs (or shared-GPU slots) that carried it; a manifest or sacct row with the
//! same id keeps its own fields and gains the placement and hardware it lacks.

use super::{slot_device, Fetched};
use crate::config::prometheus::{LabelJobs, Prometheus};
use crate::config::Config;
use crate::findings::{codes, Finding};
use crate::ingest::{Job, Origin};
use std::collections::BTreeMap;

/// What the report says of a job found in labels.
pub(super) const DERIVED: &str = "prometheus labels";

/// Add the labels' jobs to `jobs`, or enrich the rows already there.
pub(super) fn merge(
    f: &Fetched,
    cfg: &Config,
    p: &Prometheus,
    jobs: &mut Vec<Job>,
    findings: &mut Vec<Finding>,
) {
    let shown = format!("prometheus {}", p.urls.join(" "));
    let (mut added, mut matched, mut no_team) = (0usize, 0usize, 0usize);
    for (ji, id) in f.idents.iter().enumerate() {
        if id.gpus.is_empty() {
            continue;
        }
        let placement = placement(f, ji as u32);
        let model_name = id
            .gpus
            .iter()
            .find_map(|&g| f.gpus[g as usize].model.clone())
            .or_else(|| p.hardware.clone());
        if let Some(j) = jobs.iter_mut().find(|j| j.job_id == id.id) {
            enrich(j, placement, model_name);
            matched += 1;
        } else if let Some(j) = new_job(id, placement, model_name, cfg, p, &shown) {
            no_team += usize::from(team(id, p).is_none());
            jobs.push(j);
            added += 1;
        }
    }
    if added + matched > 0 {
        let mode = match p.jobs {
            LabelJobs::HpcJob => "hpc_job",
            LabelJobs::Pod => "pod",
            LabelJobs::None => "none",
        };
        let mut msg = format!("{added} jobs were found in the series' labels ({mode} mode) and {matched} input rows matched by job id took their GPUs from them where they name none; a job spans its first to its last sample");
        if no_team > 0 {
            msg.push_str(&format!("; {no_team} have no team (set [prometheus] team_label, [prometheus.namespaces] or give --sacct/--jobs rows) and are booked to 'unassigned'"));
        }
        findings.push(Finding::info(codes::PROM_LABEL_JOBS, msg).at(&shown, None));
    }
}

/// A manifest or sacct row of a job the labels name: its own fields win; it gains the exact
/// placement where it names no GPUs (sacct names only nodes) and the hardware it lacks.
fn enrich(j: &mut Job, placement: Vec<(String, Vec<u32>)>, model_name: Option<String>) {
    if j.gpu_ids.is_none() {
        j.nodes = Some(hosts(&placement));
        j.placement = Some(placement);
    }
    if j.hardware == "unknown" {
        if let Some(m) = model_name {
            j.hardware = m;
        }
    }
}

/// A job only the labels name.
fn new_job(
    id: &super::Ident,
    placement: Vec<(String, Vec<u32>)>,
    model_name: Option<String>,
    cfg: &Config,
    p: &Prometheus,
    shown: &str,
) -> Option<Job> {
    let start = chrono::DateTime::from_timestamp_millis(id.first_ms)?;
    let end = chrono::DateTime::from_timestamp_millis(id.last_ms)?;
    let host = placement.first()?.0.clone();
    let mut j = Job::bare(
        id.id.clone(),
        label(id, p.model_label.as_deref())
            .or_else(|| owner(id, p))
            .unwrap_or_else(|| id.id.clone()),
        team(id, p).unwrap_or_else(|| "unassigned".to_string()),
        (start, end),
        Origin {
            file: shown.to_string(),
            line: 0,
        },
    );
    j.project = id.labels.get("namespace").cloned();
    // [prometheus.sites], else the [[site]] listing the node, else [prometheus] site.
    j.site = p
        .site_by_glob(&host)
        .or_else(|| cfg.site_of_node(&host))
        .or_else(|| p.site.clone());
    j.hardware = model_name.unwrap_or_else(|| "unknown".to_string());
    j.devices = id.gpus.len() as f64;
    j.nodes = Some(hosts(&placement));
    j.placement = Some(placement);
    j.derived = Some(DERIVED.to_string());
    Some(j)
}

/// The job's devices per host: the GPU's index, or its slot device on a shared GPU.
fn placement(f: &Fetched, ji: u32) -> Vec<(String, Vec<u32>)> {
    let mut by_host: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for &g in &f.idents[ji as usize].gpus {
        let gpu = &f.gpus[g as usize];
        let dev = if gpu.shared {
            let k = gpu.slots.iter().position(|&s| s == ji).unwrap_or(0);
            slot_device(gpu.gpu, k)
        } else {
            gpu.gpu
        };
        by_host.entry(gpu.host.clone()).or_default().push(dev);
    }
    by_host
        .into_iter()
        .map(|(h, mut d)| {
            d.sort_unstable();
            d.dedup();
            (h, d)
        })
        .collect()
}

fn hosts(placement: &[(String, Vec<u32>)]) -> String {
    placement
        .iter()
        .map(|(h, _)| h.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn label(id: &super::Ident, name: Option<&str>) -> Option<String> {
    name.and_then(|n| id.labels.get(n))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The team: the team label, else the namespace's entry of `[prometheus.namespaces]`, else
/// (Kubernetes) the namespace itself.
fn team(id: &super::Ident, p: &Prometheus) -> Option<String> {
    label(id, p.team_label.as_deref()).or_else(|| {
        let ns = id
            .labels
            .get("namespace")
            .or_else(|| id.labels.get("exported_namespace"))?;
        p.namespaces
            .get(ns)
            .cloned()
            .or_else(|| (p.jobs == LabelJobs::Pod).then(|| ns.clone()))
    })
}

/// On Kubernetes, the owner (job label) names the model when no model label is set.
fn owner(id: &super::Ident, p: &Prometheus) -> Option<String> {
    (p.jobs == LabelJobs::Pod)
        .then(|| label(id, p.job_label.as_deref()))
        .flatten()
}
