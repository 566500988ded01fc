//! Which job holds which device when: claims from the jobs' `nodes` and `gpu_ids`, made
//! disjoint per device (two jobs on one device at once: the earlier keeps the overlap), and the
//! integrator that feeds sample batches to the devices' states.

use super::device::{Dev, Params, HOUR_MS};
use crate::findings::{codes, Finding};
use crate::hostlist::{expand_ids, expand_nodes};
use crate::ingest::samples::NODE_DEVICE;
use crate::ingest::samples::{Nodes, SampleBatch};
use crate::ingest::Job;
use crate::timeutil::Period;
use std::collections::{BTreeMap, HashMap};

/// A job's claim on the devices of one node, in milliseconds, clipped to the period.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Claim {
    pub(super) job: usize,
    pub(super) devices: Option<Vec<u32>>,
    pub(super) s: i64,
    pub(super) e: i64,
    /// The cores of a CPU-only job (which holds no accelerator): its share of node power.
    pub(super) cores: Option<f64>,
}

/// Claims of every job on every node, and findings for node lists that cannot be read.
pub(super) fn claims(
    jobs: &[Job],
    period: &Period,
    nodes: &mut Nodes,
    findings: &mut Vec<Finding>,
) -> HashMap<u32, Vec<Claim>> {
    let (p0, p1) = (
        period.start.timestamp_millis(),
        period.end.timestamp_millis(),
    );
    let mut by_node: HashMap<u32, Vec<Claim>> = HashMap::new();
    for (i, j) in jobs.iter().enumerate() {
        if let Some(placed) = &j.placement {
            let s = j.start.timestamp_millis().max(p0);
            let e = j.end.timestamp_millis().min(p1);
            for (host, devices) in placed.iter().filter(|_| e > s) {
                by_node.entry(nodes.id(host)).or_default().push(Claim {
                    job: i,
                    devices: Some(devices.clone()),
                    s,
                    e,
                    cores: None,
                });
            }
            continue;
        }
        let Some(list) = &j.nodes else { continue };
        let hosts = match expand_nodes(list) {
            Ok(h) => h,
            Err(e) => {
                findings.push(
                    Finding::error(
                        codes::JOBS_BAD_VALUE,
                        format!(
                            "job '{}': nodes: {e}; its telemetry cannot be matched",
                            j.job_id
                        ),
                    )
                    .at(&j.origin.file, Some(j.origin.line)),
                );
                continue;
            }
        };
        // A CPU-only job holds no accelerator of its nodes, only a share of their node power.
        let cores = j.cpu.as_ref().filter(|_| j.cpu_only()).map(|c| c.cores);
        let devices = match j.gpu_ids.as_deref().map(expand_ids) {
            _ if cores.is_some() => Some(Vec::new()),
            None => None,
            Some(Ok(ids)) => Some(ids),
            Some(Err(e)) => {
                findings.push(
                    Finding::error(
                        codes::JOBS_BAD_VALUE,
                        format!(
                            "job '{}': gpu_ids: {e}; all devices of its nodes are used",
                            j.job_id
                        ),
                    )
                    .at(&j.origin.file, Some(j.origin.line)),
                );
                None
            }
        };
        let s = j.start.timestamp_millis().max(p0);
        let e = j.end.timestamp_millis().min(p1);
        if e <= s {
            continue;
        }
        for h in hosts {
            let n = nodes.id(&h);
            by_node.entry(n).or_default().push(Claim {
                job: i,
                devices: devices.clone(),
                s,
                e,
                cores,
            });
        }
    }
    by_node
}

/// A node's windows: the period `[p0, p1)` cut at every hour and at every start and end of the
/// node's claims (CPU-only claims too), in time order. Host energy is split per window.
pub(super) fn windows(p0: i64, p1: i64, claims: &[Claim]) -> Vec<(i64, i64)> {
    let mut cuts: Vec<i64> = Vec::new();
    let mut h = p0.div_euclid(HOUR_MS) * HOUR_MS;
    while h < p1 {
        cuts.push(h.max(p0));
        h += HOUR_MS;
    }
    cuts.push(p1);
    for c in claims {
        cuts.extend([c.s, c.e].into_iter().filter(|t| *t > p0 && *t < p1));
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2).map(|p| (p[0], p[1])).collect()
}

/// Everything integration needs while scanning.
pub(super) struct Integrator {
    pub(super) params: Params,
    pub(super) by_node: HashMap<u32, Vec<Claim>>,
    pub(super) limits: HashMap<u32, f64>,
    pub(super) devs: Vec<Dev>,
    pub(super) index: HashMap<(u32, u32), usize>,
    /// Pairs of jobs claiming one device at once, with the first device seen.
    pub(super) overlaps: BTreeMap<(usize, usize), (u32, u32)>,
    /// With node power in the inputs: each node's windows, cut at every hour and claim
    /// boundary inside the period (shared by the node's devices).
    pub(super) node_power: bool,
    pub(super) windows: HashMap<u32, std::sync::Arc<Vec<(i64, i64)>>>,
}

impl Integrator {
    pub(super) fn dev(&mut self, node: u32, device: u32) -> usize {
        if let Some(&i) = self.index.get(&(node, device)) {
            return i;
        }
        let mut list: Vec<(usize, i64, i64)> = self
            .by_node
            .get(&node)
            .map(|cs| {
                cs.iter()
                    .filter(|c| c.devices.as_ref().is_none_or(|d| d.contains(&device)))
                    .map(|c| (c.job, c.s, c.e))
                    .collect()
            })
            .unwrap_or_default();
        list.sort_by_key(|&(j, s, e)| (s, e, j));
        // Two jobs claiming one device at once: the earlier-starting job keeps the overlap.
        let mut reach = i64::MIN;
        let mut reach_job = usize::MAX;
        for c in list.iter_mut() {
            if c.1 < reach {
                let key = (reach_job.min(c.0), reach_job.max(c.0));
                self.overlaps.entry(key).or_insert((node, device));
                c.1 = reach.min(c.2);
            }
            if c.2 > reach {
                reach = c.2;
                reach_job = c.0;
            }
        }
        list.retain(|c| c.2 > c.1);
        let i = self.devs.len();
        let whole_node = device == NODE_DEVICE;
        let mut dev = if whole_node {
            // Node power is no accelerator: it claims nothing and has no TDP bound.
            Dev::new(node, device, Vec::new(), None)
        } else {
            Dev::new(node, device, list, self.limits.get(&node).copied())
        };
        dev.whole_node = whole_node;
        if self.node_power {
            let w = self.windows_of(node);
            dev.set_windows(w);
        }
        self.devs.push(dev);
        self.index.insert((node, device), i);
        i
    }

    /// The node's windows (see [`windows`]), made once per node and shared by its devices.
    fn windows_of(&mut self, node: u32) -> std::sync::Arc<Vec<(i64, i64)>> {
        if let Some(w) = self.windows.get(&node) {
            return w.clone();
        }
        let claims = self.by_node.get(&node).map(Vec::as_slice).unwrap_or(&[]);
        let w = std::sync::Arc::new(windows(self.params.p0, self.params.p1, claims));
        self.windows.insert(node, w.clone());
        w
    }

    /// Feed a batch; devices found out of order stop integrating (pass 2 redoes them).
    pub(super) fn feed(&mut self, b: &SampleBatch, last: &mut (u32, u32, usize), source: u64) {
        let k = self.params;
        for r in 0..b.len() {
            let (n, d) = (b.node[r], b.device[r]);
            let di = if n == last.0 && d == last.1 {
                last.2
            } else {
                let i = self.dev(n, d);
                self.devs[i].sources |= source;
                *last = (n, d, i);
                i
            };
            let dev = &mut self.devs[di];
            if dev.out_of_order {
                dev.rows += 1;
                continue;
            }
            if !dev.push(b.t_ms[r], b.power_w[r], &k) {
                dev.out_of_order = true;
            }
        }
    }
}
