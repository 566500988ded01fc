//! Power samples to job energy, by the integration rules of DESIGN.md:
//! duplicates once at their mean; invalid power dropped; consecutive samples of a device form a
//! segment, one longer than `max_gap_s` is a gap; each segment's straight-line integral is
//! clipped exactly to the jobs claiming the device and to the period; what no job claims is idle.
//!
//! Samples are streamed: each device is integrated as its samples arrive, so memory holds one
//! state per device, not the samples. A device whose samples arrive out of time order is
//! re-read in a second pass, sorted, and integrated again (in groups that fit a row budget).

use crate::config::Config;
use crate::error::Result;
use crate::factors::Factors;
use crate::findings::{codes, Finding};
use crate::ingest::hostlist::{expand_ids, expand_nodes};
use crate::ingest::telemetry::{self, Nodes, SampleBatch, ScanOutput, Source};
use crate::ingest::{InputRecord, Job};
use crate::timeutil::Period;
use std::collections::{BTreeMap, HashMap};

/// What telemetry says about one job (by index in the jobs list).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobTelemetry {
    /// Joules integrated from power samples, within the job and the period.
    pub sampled_j: f64,
    /// Device-seconds covered by valid segments.
    pub covered_s: f64,
    /// Joules from energy counters (DCGM), within the job and the period.
    pub counter_j: f64,
    pub counter_covered_s: f64,
    /// Sampled joules per hour (hour start, epoch seconds): the job's energy profile, for
    /// hourly grid factors.
    pub hourly_j: BTreeMap<i64, f64>,
}

/// Idle (unallocated) energy of one node.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NodeIdle {
    pub node: String,
    pub idle_kwh: f64,
    pub total_kwh: f64,
}

/// Counts for the data-quality summary.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TelemetryStats {
    pub files: usize,
    pub samples: u64,
    pub devices: usize,
    pub duplicates: u64,
    pub dropped: u64,
    pub gaps: u64,
    pub gap_seconds: f64,
    pub out_of_order_devices: usize,
    pub counter_resets: u64,
    /// Energy of all valid segments inside the period, kWh.
    pub total_kwh: f64,
    pub allocated_kwh: f64,
    pub idle_kwh: f64,
}

/// The result of attribution.
#[derive(Debug, Clone, Default)]
pub struct Attribution {
    pub jobs: Vec<JobTelemetry>,
    pub nodes: Vec<NodeIdle>,
    pub stats: TelemetryStats,
    pub findings: Vec<Finding>,
    pub inputs: Vec<InputRecord>,
}

/// A job's claim on the devices of one node, in milliseconds, clipped to the period.
#[derive(Debug, Clone, PartialEq)]
struct Claim {
    job: usize,
    devices: Option<Vec<u32>>,
    s: i64,
    e: i64,
}

/// Per-device integration state.
#[derive(Debug, Clone)]
struct Dev {
    node: u32,
    device: u32,
    /// (job, start, end), sorted, made disjoint.
    claims: Vec<(usize, i64, i64)>,
    cursor: usize,
    claim_j: Vec<f64>,
    claim_s: Vec<f64>,
    /// Per claim, joules per hour since the hour of the claim's start.
    claim_hours: Vec<Vec<f64>>,
    prev: Option<(i64, f64)>,
    /// A point not yet final: (t, sum of power, count) — more samples at t may follow.
    pending: Option<(i64, f64, u32)>,
    out_of_order: bool,
    rows: u64,
    duplicates: u64,
    dropped: u64,
    gaps: u64,
    gap_ms: i64,
    total_j: f64,
    idle_j: f64,
    limit_w: Option<f64>,
}

/// The shared parameters of integration.
#[derive(Debug, Clone, Copy)]
struct Params {
    p0: i64,
    p1: i64,
    max_gap_ms: i64,
}

impl Dev {
    fn new(node: u32, device: u32, claims: Vec<(usize, i64, i64)>, limit_w: Option<f64>) -> Dev {
        let n = claims.len();
        Dev {
            node,
            device,
            claims,
            cursor: 0,
            claim_j: vec![0.0; n],
            claim_s: vec![0.0; n],
            claim_hours: vec![Vec::new(); n],
            prev: None,
            pending: None,
            out_of_order: false,
            rows: 0,
            duplicates: 0,
            dropped: 0,
            gaps: 0,
            gap_ms: 0,
            total_j: 0.0,
            idle_j: 0.0,
            limit_w,
        }
    }

    /// Forget every result (before a sorted re-run).
    fn reset(&mut self) {
        let claims = std::mem::take(&mut self.claims);
        *self = Dev::new(self.node, self.device, claims, self.limit_w);
    }

    /// One sample, in arrival order. Returns false when it arrived out of time order.
    #[inline]
    fn push(&mut self, t: i64, p: f64, k: &Params) -> bool {
        self.rows += 1;
        if !(p.is_finite() && p >= 0.0 && self.limit_w.is_none_or(|l| p <= l)) {
            self.dropped += 1;
            return true;
        }
        match self.pending {
            Some((pt, sum, n)) if t == pt => {
                self.pending = Some((pt, sum + p, n + 1));
                self.duplicates += 1;
                true
            }
            Some((pt, _, _)) if t < pt => false,
            Some((pt, sum, n)) => {
                self.point(pt, sum / n as f64, k);
                self.pending = Some((t, p, 1));
                true
            }
            None => {
                self.pending = Some((t, p, 1));
                true
            }
        }
    }

    fn finish(&mut self, k: &Params) {
        if let Some((pt, sum, n)) = self.pending.take() {
            self.point(pt, sum / n as f64, k);
        }
    }

    /// A final point: integrate the segment from the previous one.
    #[inline]
    fn point(&mut self, t1: i64, p1: f64, k: &Params) {
        if let Some((t0, p0)) = self.prev {
            self.segment(t0, p0, t1, p1, k);
        }
        self.prev = Some((t1, p1));
    }

    #[inline]
    fn segment(&mut self, t0: i64, p0: f64, t1: i64, p1: f64, k: &Params) {
        let dt = t1 - t0;
        if dt > k.max_gap_ms {
            // A gap carries no energy; count only the part inside the period.
            let inside = t1.min(k.p1) - t0.max(k.p0);
            if inside > 0 {
                self.gaps += 1;
                self.gap_ms += inside;
            }
            return;
        }
        let a = t0.max(k.p0);
        let b = t1.min(k.p1);
        if b <= a {
            return;
        }
        let e_all = trapezoid(t0, p0, t1, p1, a, b);
        self.total_j += e_all;
        // Claims ending at or before this segment's start can never overlap later segments.
        while self.cursor < self.claims.len() && self.claims[self.cursor].2 <= t0 {
            self.cursor += 1;
        }
        let mut claimed = 0.0;
        let mut i = self.cursor;
        while i < self.claims.len() && self.claims[i].1 < b {
            let (_, s, e) = self.claims[i];
            let ca = a.max(s);
            let cb = b.min(e);
            if cb > ca {
                let ej = trapezoid(t0, p0, t1, p1, ca, cb);
                self.claim_j[i] += ej;
                self.claim_s[i] += (cb - ca) as f64 / 1000.0;
                claimed += ej;
                // The hourly profile: split at hour boundaries (a segment rarely crosses one).
                let base = s.div_euclid(HOUR_MS);
                let hours = &mut self.claim_hours[i];
                let mut x = ca;
                while x < cb {
                    let h = x.div_euclid(HOUR_MS);
                    let y = ((h + 1) * HOUR_MS).min(cb);
                    let part = if x == ca && y == cb {
                        ej
                    } else {
                        trapezoid(t0, p0, t1, p1, x, y)
                    };
                    let k = (h - base) as usize;
                    if hours.len() <= k {
                        hours.resize(k + 1, 0.0);
                    }
                    hours[k] += part;
                    x = y;
                }
            }
            i += 1;
        }
        self.idle_j += e_all - claimed;
    }
}

const HOUR_MS: i64 = 3_600_000;

/// Energy (J) of the straight line from (t0, p0) to (t1, p1), between a and b (ms).
#[inline]
fn trapezoid(t0: i64, p0: f64, t1: i64, p1: f64, a: i64, b: i64) -> f64 {
    let span = (t1 - t0) as f64;
    let pa = p0 + (p1 - p0) * ((a - t0) as f64 / span);
    let pb = p0 + (p1 - p0) * ((b - t0) as f64 / span);
    (pa + pb) / 2.0 * ((b - a) as f64 / 1000.0)
}

/// Claims of every job on every node, and findings for node lists that cannot be read.
fn claims(
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
        let devices = match j.gpu_ids.as_deref().map(expand_ids) {
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
            });
        }
    }
    by_node
}

/// Everything integration needs while scanning.
struct Integrator {
    params: Params,
    by_node: HashMap<u32, Vec<Claim>>,
    limits: HashMap<u32, f64>,
    devs: Vec<Dev>,
    index: HashMap<(u32, u32), usize>,
    /// Pairs of jobs claiming one device at once, with the first device seen.
    overlaps: BTreeMap<(usize, usize), (u32, u32)>,
}

impl Integrator {
    fn dev(&mut self, node: u32, device: u32) -> usize {
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
        self.devs.push(Dev::new(
            node,
            device,
            list,
            self.limits.get(&node).copied(),
        ));
        self.index.insert((node, device), i);
        i
    }

    /// Feed a batch; devices found out of order stop integrating (pass 2 redoes them).
    fn feed(&mut self, b: &SampleBatch, last: &mut (u32, u32, usize)) {
        let k = self.params;
        for r in 0..b.len() {
            let (n, d) = (b.node[r], b.device[r]);
            let di = if n == last.0 && d == last.1 {
                last.2
            } else {
                let i = self.dev(n, d);
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

/// `telemetry [########----------------]  33 %  8.2 M samples` (a counter when the total is
/// unknown).
fn progress_line(seen: u64, expected: u64) -> String {
    if expected == 0 {
        return format!("telemetry: {:.1} M samples", seen as f64 / 1e6);
    }
    let share = (seen as f64 / expected as f64).min(1.0);
    let filled = (share * 24.0).round() as usize;
    format!(
        "telemetry [{}{}] {:3.0} %  {:.1} M samples",
        "#".repeat(filled),
        "-".repeat(24 - filled),
        share * 100.0,
        seen as f64 / 1e6
    )
}

/// Largest number of samples held in memory at once when out-of-order devices are re-read.
const ROW_BUDGET: u64 = 40_000_000;

/// Attribute the telemetry of `sources` (and its energy counters) to `jobs`.
pub fn attribute(
    cfg: &Config,
    factors: &Factors,
    jobs: &[Job],
    period: &Period,
    sources: &[Source],
    progress: bool,
) -> Result<Attribution> {
    let mut nodes = Nodes::default();
    let mut att = Attribution {
        jobs: vec![JobTelemetry::default(); jobs.len()],
        ..Default::default()
    };
    let by_node = claims(jobs, period, &mut nodes, &mut att.findings);
    // Implausible power: above twice the TDP of the hardware of the jobs on the node.
    let mut limits: HashMap<u32, f64> = HashMap::new();
    for (n, cs) in &by_node {
        let tdp = cs
            .iter()
            .filter_map(|c| {
                factors
                    .hardware(&jobs[c.job].hardware)
                    .and_then(|h| h.tdp_w)
            })
            .fold(None, |m: Option<f64>, t| {
                Some(m.map_or(t, |m: f64| m.max(t)))
            });
        if let Some(t) = tdp {
            limits.insert(*n, 2.0 * t);
        }
    }
    let params = Params {
        p0: period.start.timestamp_millis(),
        p1: period.end.timestamp_millis(),
        max_gap_ms: (cfg.max_gap_s * 1000.0).round() as i64,
    };
    let mut it = Integrator {
        params,
        by_node,
        limits,
        devs: Vec::new(),
        index: HashMap::new(),
        overlaps: BTreeMap::new(),
    };
    let mut scan_out = ScanOutput::default();
    let show = progress && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let expected: u64 = if show {
        sources.iter().filter_map(telemetry::expected_rows).sum()
    } else {
        0
    };
    let mut seen = 0u64;
    let mut last_shown = 0u64;

    // Pass 1: stream every source, integrating devices whose samples come in time order.
    for src in sources {
        let mut last = (u32::MAX, u32::MAX, 0usize);
        let mut used = 0u64;
        let rows = telemetry::scan(
            src,
            cfg,
            &mut nodes,
            &mut scan_out,
            &mut |b: &SampleBatch| {
                it.feed(b, &mut last);
                used += b.len() as u64;
                seen += b.len() as u64;
                if show && seen - last_shown >= 1_000_000 {
                    last_shown = seen;
                    eprint!("\r{}", progress_line(seen, expected));
                }
            },
        )?;
        let (_, mut rec) = crate::ingest::read_input_meta(&src.file, "telemetry")?;
        rec.rows = rows;
        rec.rows_used = used;
        rec.rows_rejected = rows.saturating_sub(used);
        att.inputs.push(rec);
    }
    if show {
        eprintln!();
    }

    // Pass 2: devices whose samples were out of time order, re-read in groups, sorted.
    let late: Vec<usize> = (0..it.devs.len())
        .filter(|&i| it.devs[i].out_of_order)
        .collect();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut size = 0u64;
    for &i in &late {
        if groups.is_empty() || size + it.devs[i].rows > ROW_BUDGET {
            groups.push(Vec::new());
            size = 0;
        }
        size += it.devs[i].rows;
        groups.last_mut().expect("a group was pushed").push(i);
    }
    for group in &groups {
        let wanted: HashMap<(u32, u32), usize> = group
            .iter()
            .enumerate()
            .map(|(b, &i)| ((it.devs[i].node, it.devs[i].device), b))
            .collect();
        let mut buffers: Vec<Vec<(i64, f64)>> = group
            .iter()
            .map(|&i| Vec::with_capacity(it.devs[i].rows as usize))
            .collect();
        let mut quiet = ScanOutput::default();
        for src in sources {
            telemetry::scan(src, cfg, &mut nodes, &mut quiet, &mut |b: &SampleBatch| {
                for r in 0..b.len() {
                    if let Some(&bi) = wanted.get(&(b.node[r], b.device[r])) {
                        buffers[bi].push((b.t_ms[r], b.power_w[r]));
                    }
                }
            })?;
        }
        for (bi, &i) in group.iter().enumerate() {
            let buf = &mut buffers[bi];
            // Sort by time, then power, so that the result does not depend on row order.
            buf.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
            let dev = &mut it.devs[i];
            dev.reset();
            for &(t, p) in buf.iter() {
                dev.push(t, p, &params);
            }
            dev.out_of_order = true;
        }
    }
    for d in it.devs.iter_mut() {
        d.finish(&params);
    }

    // Energy counters: deltas between readings, resets detected, spread evenly over each interval.
    let mut by_dev: BTreeMap<(u32, u32), Vec<(i64, f64)>> = BTreeMap::new();
    for c in &scan_out.counters {
        by_dev
            .entry((c.node, c.device))
            .or_default()
            .push((c.t_ms, c.mj));
    }
    let mut resets = 0u64;
    for ((n, d), mut rs) in by_dev {
        rs.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        rs.dedup_by_key(|r| r.0);
        let di = it.dev(n, d);
        let dev = &it.devs[di];
        for w in rs.windows(2) {
            let ((t0, m0), (t1, m1)) = (w[0], w[1]);
            let delta_j = if m1 >= m0 {
                (m1 - m0) / 1000.0
            } else {
                resets += 1;
                m1 / 1000.0
            };
            let span = (t1 - t0) as f64;
            if span <= 0.0 {
                continue;
            }
            for &(job, s, e) in &dev.claims {
                let o = (t1.min(e) - t0.max(s)).max(0);
                if o > 0 {
                    att.jobs[job].counter_j += delta_j * o as f64 / span;
                    att.jobs[job].counter_covered_s += o as f64 / 1000.0;
                }
            }
        }
    }

    // Collect, in a fixed order (node name, device) so that sums do not depend on input order.
    let mut order: Vec<usize> = (0..it.devs.len()).collect();
    order.sort_by(|&a, &b| {
        (nodes.name(it.devs[a].node), it.devs[a].device)
            .cmp(&(nodes.name(it.devs[b].node), it.devs[b].device))
    });
    let mut idle: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let st = &mut att.stats;
    let mut dropped_devs = Vec::new();
    let mut gap_devs = Vec::new();
    let mut late_devs = Vec::new();
    for &i in &order {
        let d = &it.devs[i];
        let name = format!("{}/gpu{}", nodes.name(d.node), d.device);
        for (k, &(job, _, _)) in d.claims.iter().enumerate() {
            att.jobs[job].sampled_j += d.claim_j[k];
            att.jobs[job].covered_s += d.claim_s[k];
            let base = d.claims[k].1.div_euclid(HOUR_MS);
            for (h, j) in d.claim_hours[k].iter().enumerate() {
                if *j != 0.0 {
                    *att.jobs[job]
                        .hourly_j
                        .entry((base + h as i64) * 3600)
                        .or_default() += j;
                }
            }
        }
        let e = idle.entry(nodes.name(d.node).to_string()).or_default();
        e.0 += d.idle_j;
        e.1 += d.total_j;
        st.samples += d.rows;
        st.duplicates += d.duplicates;
        st.dropped += d.dropped;
        st.gaps += d.gaps;
        st.gap_seconds += d.gap_ms as f64 / 1000.0;
        st.total_kwh += d.total_j / 3.6e6;
        st.idle_kwh += d.idle_j / 3.6e6;
        if d.dropped > 0 {
            dropped_devs.push(format!("{name} ({})", d.dropped));
        }
        if d.gaps > 0 {
            gap_devs.push(format!("{name} ({} s)", d.gap_ms / 1000));
        }
        if d.out_of_order {
            late_devs.push(name);
        }
    }
    st.files = sources.len();
    st.devices = it.devs.len();
    st.out_of_order_devices = late_devs.len();
    st.counter_resets = resets;
    st.allocated_kwh = st.total_kwh - st.idle_kwh;
    att.nodes = idle
        .into_iter()
        .map(|(node, (i, t))| NodeIdle {
            node,
            idle_kwh: i / 3.6e6,
            total_kwh: t / 3.6e6,
        })
        .collect();

    let list = |v: &[String]| {
        let head: Vec<&str> = v.iter().take(8).map(String::as_str).collect();
        format!(
            "{}{}",
            head.join(", "),
            if v.len() > 8 {
                format!(" and {} more", v.len() - 8)
            } else {
                String::new()
            }
        )
    };
    let f = &mut att.findings;
    if st.duplicates > 0 {
        f.push(Finding::warning(codes::TELEMETRY_DUPLICATES, format!("{} duplicate samples (same node, device and timestamp) were counted once, at their mean power", st.duplicates)));
    }
    if st.dropped > 0 {
        f.push(Finding::warning(
            codes::TELEMETRY_DROPPED,
            format!("{} samples with missing, negative or implausible power (above 2 x TDP of the node's jobs) were dropped: {}", st.dropped, list(&dropped_devs)),
        ));
    }
    if st.gaps > 0 {
        f.push(Finding::warning(
            codes::TELEMETRY_GAPS,
            format!("{} gaps longer than max_gap_s = {} s ({:.1} h in all) carry no energy; covered time is imputed for jobs: {}", st.gaps, cfg.max_gap_s, st.gap_seconds / 3600.0, list(&gap_devs)),
        ));
    }
    if !late_devs.is_empty() {
        f.push(Finding::warning(
            codes::TELEMETRY_OUT_OF_ORDER,
            format!("samples of {} devices arrived out of time order (clock going backwards, or unsorted files); they were re-read and sorted: {}", late_devs.len(), list(&late_devs)),
        ));
    }
    if resets > 0 {
        f.push(Finding::warning(codes::TELEMETRY_COUNTER_RESET, format!("{resets} energy-counter resets (driver reload or reboot): the energy after each reset counts, the unseen part before it is lost")));
    }
    for ((a, b), (n, d)) in &it.overlaps {
        let (ja, jb) = (&jobs[*a], &jobs[*b]);
        let (first, second) = if (ja.start, &ja.job_id) <= (jb.start, &jb.job_id) {
            (ja, jb)
        } else {
            (jb, ja)
        };
        f.push(
            Finding::error(
                codes::TELEMETRY_OVERLAP,
                format!(
                    "jobs '{}' and '{}' both claim {}/gpu{d} at the same time; the overlap's energy goes to '{}', which started first; fix the nodes or times",
                    first.job_id,
                    second.job_id,
                    nodes.name(*n),
                    first.job_id
                ),
            )
            .at(&second.origin.file, Some(second.origin.line)),
        );
    }
    att.findings.append(&mut scan_out.findings);
    Ok(att)
}
