//! Host energy from node power (BMC, Redfish, IPMI): in each of a node's windows (the period cut
//! at every hour and claim boundary), node energy minus its accelerators' energy over the time
//! node power covers, shared by the jobs holding the window; a node without accelerators is
//! shared by its CPU-only jobs by cores. One split for both paths: in-process integration
//! ([`from_integrator`]) and an engine's per-window results (`pushdown`).

use super::claims::{Claim, Integrator};
use super::device::HOUR_MS;
use super::{Attribution, NodeIdle};
use crate::findings::{codes, list, Finding};
use crate::ingest::samples::Nodes;
use std::collections::{BTreeMap, HashMap};

/// One window of a node with node power.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Window {
    /// `[a, b)`, epoch milliseconds.
    pub a: i64,
    pub b: i64,
    /// Node power's joules in the window and the milliseconds its segments cover.
    pub node_j: f64,
    pub node_ms: i64,
    /// The node's accelerators' joules in the window (all of their valid segments).
    pub gpu_j: f64,
}

/// A node with node power: its windows that node power covers, in time order.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct NodePower {
    pub node: u32,
    pub name: String,
    pub windows: Vec<Window>,
    /// The node's accelerators that telemetry shows (power samples or energy counters).
    pub gpus: usize,
    /// The first and last valid node power instant (epoch ms).
    pub span: Option<(i64, i64)>,
}

/// The nodes with node power, from the integrator's devices.
pub(super) fn from_integrator(it: &Integrator, nodes: &Nodes) -> Vec<NodePower> {
    let mut by_node: BTreeMap<u32, (Option<usize>, Vec<usize>)> = BTreeMap::new();
    for (i, d) in it.devs.iter().enumerate() {
        let e = by_node.entry(d.node).or_default();
        if d.whole_node {
            e.0 = Some(i);
        } else {
            e.1.push(i);
        }
    }
    let mut out = Vec::new();
    for (node, (whole, gpus)) in by_node {
        let Some(w) = whole else { continue };
        let nd = &it.devs[w];
        let windows = nd
            .windows
            .iter()
            .flat_map(|ws| ws.iter().enumerate())
            .filter(|(k, _)| nd.win_ms[*k] > 0)
            .map(|(k, &(a, b))| Window {
                a,
                b,
                node_j: nd.win_j[k],
                node_ms: nd.win_ms[k],
                gpu_j: gpus.iter().map(|&g| it.devs[g].win_j[k]).sum(),
            })
            .collect();
        out.push(NodePower {
            node,
            name: nodes.name(node).to_string(),
            windows,
            gpus: gpus.len(),
            span: nd.first_t.zip(nd.prev.map(|p| p.0)),
        });
    }
    out
}

/// Host energy of every node with node power, into the jobs' `host_j` and the nodes' idle host
/// energy per hour. In each window, CPU-only jobs beside the accelerator jobs take their cores'
/// share first (of `[cpu] node_cores`; without it their share is unknown: they are estimated,
/// and a warning says the host energy they drew is counted again); the accelerator jobs then
/// take their share of the node's devices, up to what is left; the rest is idle. A node without
/// accelerators is shared by the CPU-only jobs on it ([`cpu_node`]). Other nodes with node power
/// but no accelerators cannot be split: a warning names them.
pub(super) fn host_energy(
    nodes: &[NodePower],
    by_node: &HashMap<u32, Vec<Claim>>,
    node_cores: Option<f64>,
    att: &mut Attribution,
) {
    let mut unsplit = Vec::new();
    let mut beside = Vec::new();
    let mut negative = 0u64;
    for np in nodes {
        let claims: &[Claim] = by_node.get(&np.node).map(Vec::as_slice).unwrap_or(&[]);
        if np.gpus == 0 && claims.iter().any(|c| c.cores.is_some()) {
            cpu_node(np, claims, node_cores, att);
            continue;
        }
        if np.gpus == 0 {
            unsplit.push(np.name.clone());
            continue;
        }
        for c in claims {
            att.jobs[c.job].host_known = true;
        }
        if node_cores.is_none() && claims.iter().any(|c| c.cores.is_some()) {
            beside.push(np.name.clone());
        }
        let devices = np.gpus as f64;
        let mut idle: BTreeMap<i64, f64> = BTreeMap::new();
        for w in &np.windows {
            let covered = w.node_ms as f64 / (w.b - w.a) as f64;
            let mut host = w.node_j - w.gpu_j * covered;
            if host < 0.0 {
                negative += 1;
                host = 0.0;
            }
            let mut taken = 0.0;
            let holding = claims.iter().filter(|c| c.s <= w.a && c.e >= w.b);
            if let Some(whole) = node_cores {
                for c in holding.clone() {
                    let Some(cores) = c.cores else { continue };
                    let share = (cores / whole).min(1.0 - taken);
                    let jt = &mut att.jobs[c.job];
                    jt.host_j += host * share;
                    jt.host_covered_s += w.node_ms as f64 / 1000.0;
                    taken += share;
                }
            }
            for c in holding.filter(|c| c.cores.is_none()) {
                let share = match &c.devices {
                    Some(d) => (d.len() as f64 / devices).min(1.0),
                    None => 1.0,
                };
                let share = share.min(1.0 - taken);
                att.jobs[c.job].host_j += host * share;
                taken += share;
            }
            *idle.entry(w.a.div_euclid(HOUR_MS) * 3600).or_default() += host * (1.0 - taken);
        }
        if let Some(n) = att.nodes.iter_mut().find(|n| n.node == np.name) {
            n.idle_host_hourly_j = Some(idle);
        }
    }
    // CPU nodes join the list in cpu_node: keep it in name order.
    att.nodes.sort_by(|a, b| a.node.cmp(&b.node));
    if !unsplit.is_empty() {
        unsplit.sort();
        att.findings.push(Finding::warning(
            codes::TELEMETRY_NODE_POWER_UNSPLIT,
            format!("node power of {} node(s) has no accelerator samples beside it, so the host cannot be told from the accelerators; it is not used: {}", unsplit.len(), list(&unsplit)),
        ));
    }
    if !beside.is_empty() {
        beside.sort();
        att.findings.push(Finding::warning(
            codes::TELEMETRY_NODE_POWER_UNSPLIT,
            format!("CPU-only jobs ran beside accelerator jobs on {} node(s) with node power, whose cores are not known: their share of the host energy cannot be told, so they are estimated, and the host energy they drew stays with the accelerator jobs and idle (counted twice in the inventory); set [cpu] node_cores: {}", beside.len(), list(&beside)),
        ));
    }
    if negative > 0 {
        att.findings.push(Finding::warning(
            codes::TELEMETRY_NODE_POWER_UNSPLIT,
            format!("in {negative} window(s) node power was below its accelerators' power (clocks or scales differ); the host counts zero there"),
        ));
    }
}

/// Node power of a node without accelerators, shared in each window by the CPU-only jobs
/// holding it, by their cores over the node's (`[cpu] node_cores`, else the cores of the jobs
/// present: they are taken to fill the node); the rest is the node's idle host energy.
fn cpu_node(np: &NodePower, claims: &[Claim], node_cores: Option<f64>, att: &mut Attribution) {
    let mut idle: BTreeMap<i64, f64> = BTreeMap::new();
    for c in claims.iter().filter(|c| c.cores.is_some()) {
        att.jobs[c.job].host_known = true;
    }
    for w in &np.windows {
        let holding: Vec<(usize, f64)> = claims
            .iter()
            .filter(|c| c.s <= w.a && c.e >= w.b)
            .filter_map(|c| c.cores.map(|n| (c.job, n)))
            .collect();
        let present: f64 = holding.iter().map(|(_, n)| n).sum();
        let whole = node_cores.unwrap_or(present).max(present);
        let mut taken = 0.0;
        for (job, cores) in holding {
            let share = cores / whole;
            let jt = &mut att.jobs[job];
            jt.host_j += w.node_j * share;
            jt.host_covered_s += w.node_ms as f64 / 1000.0;
            taken += share;
        }
        *idle.entry(w.a.div_euclid(HOUR_MS) * 3600).or_default() +=
            w.node_j * (1.0 - taken).max(0.0);
    }
    match att.nodes.iter_mut().find(|n| n.node == np.name) {
        Some(n) => n.idle_host_hourly_j = Some(idle),
        None => att.nodes.push(NodeIdle {
            node: np.name.clone(),
            idle_kwh: 0.0,
            total_kwh: 0.0,
            idle_hourly_j: BTreeMap::new(),
            idle_host_hourly_j: Some(idle),
            span_ms: np.span,
        }),
    }
}
