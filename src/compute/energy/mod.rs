//! Power samples to job energy, by the integration rules of the guide (Methodology):
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
use crate::findings::{codes, list, Finding};
use crate::ingest::samples::{CounterReading, Nodes, SampleBatch, ScanOutput, Source};
use crate::ingest::telemetry;
use crate::ingest::Job;
use crate::ledger::{InputRecord, TelemetryStats};
use crate::timeutil::Period;
use claims::{claims, Claim, Integrator};
use device::{Params, HOUR_MS};
use std::collections::{BTreeMap, HashMap};

mod claims;
mod device;
pub(super) mod host;
pub(crate) mod pushdown;
pub(crate) mod sql;

/// Power above this many times the largest TDP of a node's jobs is implausible and dropped
/// (the guide's Methodology); the pushdown's SQL names the same constant.
pub(crate) const LIMIT_TDP_FACTOR: f64 = 2.0;

/// What telemetry says about one job (by index in the jobs list).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct JobTelemetry {
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
    /// Host joules (node power minus its accelerators, by the job's share of the node's
    /// devices), and whether node power covered any of the job's time.
    pub host_j: f64,
    pub host_known: bool,
    /// Seconds of a CPU-only job's time that node power covers (its `host_j` is then all
    /// its energy).
    pub host_covered_s: f64,
    /// The readers whose samples gave the job's energy (e.g. "nvidia-smi", "DCGM"), sorted.
    pub sources: Vec<&'static str>,
    /// Bits of the telemetry sources (see `Dev::sources`), turned into `sources` at the end.
    source_bits: u64,
    /// The job's share of its nodes' accelerators (the devices it held over those the
    /// telemetry shows on its nodes), when telemetry covers it.
    pub node_share: Option<f64>,
    held: std::collections::BTreeSet<(u32, u32)>,
}

/// Idle (unallocated) energy of one node.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct NodeIdle {
    pub node: String,
    pub idle_kwh: f64,
    pub total_kwh: f64,
    /// Idle joules per hour (hour start, epoch seconds).
    #[serde(skip)]
    pub idle_hourly_j: BTreeMap<i64, f64>,
    /// Idle host joules per hour, for nodes with node power; `None` without it.
    #[serde(skip)]
    pub idle_host_hourly_j: Option<BTreeMap<i64, f64>>,
    /// The first and last sample of the node's devices (epoch ms): the time telemetry covers.
    #[serde(skip)]
    pub span_ms: Option<(i64, i64)>,
}

/// The result of attribution.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attribution {
    pub jobs: Vec<JobTelemetry>,
    pub nodes: Vec<NodeIdle>,
    pub stats: TelemetryStats,
    pub findings: Vec<Finding>,
    pub inputs: Vec<InputRecord>,
}

/// The progress bar of a telemetry scan on a terminal: samples against the expected total
/// where the files tell it, else a counter. Hidden when stderr is not a terminal or with
/// `--quiet`.
fn progress_bar(show: bool, expected: u64) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let (bar, template) = if expected > 0 {
        (
            indicatif::ProgressBar::new(expected),
            "telemetry [{bar:24}] {percent:>3} %  {pos} samples  {elapsed_precise}",
        )
    } else {
        (
            indicatif::ProgressBar::new_spinner(),
            "telemetry {spinner} {pos} samples  {elapsed_precise}",
        )
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("#-"));
    }
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar
}

/// Largest number of samples held in memory at once when out-of-order devices are re-read.
const ROW_BUDGET: u64 = 40_000_000;

/// Attribute the telemetry of `sources` (and its energy counters) to `jobs`: stream every
/// source once, re-read the devices whose samples came out of order, spread counter deltas
/// over the claims, then collect per job, node and device in a fixed order.
pub(crate) fn attribute(
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
    let params = Params {
        p0: period.start.timestamp_millis(),
        p1: period.end.timestamp_millis(),
        max_gap_ms: (cfg.telemetry.max_gap_s * 1000.0).round() as i64,
    };
    let mut it = Integrator {
        params,
        limits: power_limits(&by_node, jobs, factors),
        by_node,
        devs: Vec::new(),
        index: HashMap::new(),
        overlaps: BTreeMap::new(),
        node_power: sources.iter().any(|s| s.kind.whole_node()),
        windows: HashMap::new(),
    };
    let mut scan_out = ScanOutput::default();
    att.inputs = stream(&mut it, sources, cfg, &mut nodes, &mut scan_out, progress)?;
    resort_late(&mut it, sources, cfg, &mut nodes)?;
    for d in it.devs.iter_mut() {
        d.finish(&params);
    }
    let mut bad_readings = 0;
    let resets = counters(
        &mut it,
        &scan_out.counters,
        &mut att.jobs,
        &mut bad_readings,
    );
    counter_findings(bad_readings, &mut att.findings);
    let lists = collect(&it, &nodes, &mut att);
    if it.node_power {
        let list = host::from_integrator(&it, &nodes);
        host::host_energy(&list, &it.by_node, cfg.cpu.node_cores, &mut att);
    }
    node_shares(&it, &mut att.jobs);
    for jt in att.jobs.iter_mut() {
        let mut names: Vec<&'static str> = sources
            .iter()
            .enumerate()
            .filter(|(i, _)| jt.source_bits & (1u64 << (*i).min(63)) != 0)
            .map(|(_, s)| s.kind.reader())
            .collect();
        names.sort_unstable();
        names.dedup();
        jt.sources = names;
    }
    att.stats.files = sources.len();
    att.stats.counter_resets = resets;
    telemetry_findings(&att.stats, cfg, &lists, &mut att.findings);
    overlap_findings(&it, jobs, &nodes, &mut att.findings);
    att.findings.append(&mut scan_out.findings);
    Ok(att)
}

/// Each job's share of the accelerators of the nodes it ran on.
fn node_shares(it: &Integrator, jobs: &mut [JobTelemetry]) {
    let mut per_node: HashMap<u32, usize> = HashMap::new();
    for d in it.devs.iter().filter(|d| !d.whole_node) {
        *per_node.entry(d.node).or_default() += 1;
    }
    for jt in jobs.iter_mut().filter(|j| !j.held.is_empty()) {
        let nodes: std::collections::BTreeSet<u32> = jt.held.iter().map(|&(n, _)| n).collect();
        let all: usize = nodes
            .iter()
            .map(|n| per_node.get(n).copied().unwrap_or(0))
            .sum();
        if all > 0 {
            jt.node_share = Some(jt.held.len() as f64 / all as f64);
        }
        jt.held.clear();
    }
}

/// Implausible power per node: above twice the largest TDP of the hardware of its jobs.
fn power_limits(
    by_node: &HashMap<u32, Vec<Claim>>,
    jobs: &[Job],
    factors: &Factors,
) -> HashMap<u32, f64> {
    let mut limits = HashMap::new();
    for (n, cs) in by_node {
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
            limits.insert(*n, LIMIT_TDP_FACTOR * t);
        }
    }
    limits
}

/// Pass 1: stream every source, integrating devices whose samples come in time order (with a
/// progress line on a terminal). Returns each source's input record.
fn stream(
    it: &mut Integrator,
    sources: &[Source],
    cfg: &Config,
    nodes: &mut Nodes,
    scan_out: &mut ScanOutput,
    progress: bool,
) -> Result<Vec<InputRecord>> {
    let show = progress && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let expected: u64 = if show {
        sources.iter().filter_map(telemetry::expected_rows).sum()
    } else {
        0
    };
    let bar = progress_bar(show, expected);
    let (mut seen, mut last_shown) = (0u64, 0u64);
    let mut inputs = Vec::new();
    for (si, src) in sources.iter().enumerate() {
        let mut last = (u32::MAX, u32::MAX, 0usize);
        let mut used = 0u64;
        // Energy-counter readings are used rows too (DCGM and amd-smi files carry both).
        let counters_before = scan_out.counters.len();
        let bit = 1u64 << si.min(63);
        let scanned = telemetry::scan(src, cfg, nodes, scan_out, &mut |b: &SampleBatch| {
            it.feed(b, &mut last, bit);
            used += b.len() as u64;
            seen += b.len() as u64;
            if show && seen - last_shown >= 100_000 {
                last_shown = seen;
                bar.set_position(seen);
            }
        });
        // A file that cannot be read is an error finding for that file; the run goes on.
        used += (scan_out.counters.len() - counters_before) as u64;
        let rows = scanned.unwrap_or_else(|e| {
            scan_out.findings.push(unreadable(src, e, used));
            used
        });
        if src.live.is_some() {
            // A live source's record was made when it was fetched (and is listed already).
            continue;
        }
        let (_, mut rec) = crate::ingest::read_input_meta(&src.file, "telemetry")?;
        rec.rows = rows;
        rec.rows_used = used;
        rec.rows_rejected = rows.saturating_sub(used);
        inputs.push(rec);
    }
    bar.finish_and_clear();
    Ok(inputs)
}

/// The finding for a telemetry file that could not be read to its end: where, why, what to
/// do, and whether rows before the problem were used.
fn unreadable(src: &Source, e: crate::error::Error, used: u64) -> Finding {
    let what = if used == 0 {
        "the file is not used".to_string()
    } else {
        format!("its first {used} rows are used, the rest is not")
    };
    let hint = e.hint.map(|h| format!(" ({h})")).unwrap_or_default();
    Finding::error(
        codes::TELEMETRY_UNRECOGNISED,
        format!("{}{hint}; {what}", e.message),
    )
    .at(e.file.as_deref().unwrap_or(&src.file.shown), e.line)
}

/// The devices whose samples came out of time order, in groups of at most [`ROW_BUDGET`]
/// samples (a device larger than the budget is a group of its own).
fn late_groups(it: &Integrator) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut size = 0u64;
    for (i, d) in it.devs.iter().enumerate().filter(|(_, d)| d.out_of_order) {
        if groups.is_empty() || size + d.rows > ROW_BUDGET {
            groups.push(Vec::new());
            size = 0;
        }
        size += d.rows;
        groups.last_mut().expect("a group was pushed").push(i);
    }
    groups
}

/// Pass 2: each group of out-of-order devices is re-read from every source, sorted by time
/// (then power, so that the result does not depend on row order) and integrated again.
fn resort_late(
    it: &mut Integrator,
    sources: &[Source],
    cfg: &Config,
    nodes: &mut Nodes,
) -> Result<()> {
    let params = it.params;
    for group in late_groups(it) {
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
            // A file that failed in pass 1 fails the same way here: its finding is written.
            let _ = telemetry::scan(src, cfg, nodes, &mut quiet, &mut |b: &SampleBatch| {
                for r in 0..b.len() {
                    if let Some(&bi) = wanted.get(&(b.node[r], b.device[r])) {
                        buffers[bi].push((b.t_ms[r], b.power_w[r]));
                    }
                }
            });
        }
        for (buf, &i) in buffers.iter_mut().zip(&group) {
            buf.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
            let dev = &mut it.devs[i];
            dev.reset();
            for &(t, p) in buf.iter() {
                dev.push(t, p, &params);
            }
            dev.out_of_order = true;
        }
    }
    Ok(())
}

/// Energy counters: deltas between readings (a reading below the previous one is a reset,
/// counted from zero), each spread evenly over its interval onto the device's claims. Returns
/// the number of resets; readings that are no count are added to `dropped`.
fn counters(
    it: &mut Integrator,
    readings: &[CounterReading],
    jobs: &mut [JobTelemetry],
    dropped: &mut u64,
) -> u64 {
    let mut by_dev: BTreeMap<(u32, u32), Vec<(i64, f64)>> = BTreeMap::new();
    for c in readings {
        // A reading that is no count (NaN, infinite, negative) would poison every delta it
        // bounds: it is not used, and counted.
        if !(c.mj.is_finite() && c.mj >= 0.0) {
            *dropped += 1;
            continue;
        }
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
                    jobs[job].counter_j += delta_j * o as f64 / span;
                    jobs[job].counter_covered_s += o as f64 / 1000.0;
                }
            }
        }
    }
    resets
}

/// A warning for energy-counter readings that were not used.
pub(super) fn counter_findings(dropped: u64, f: &mut Vec<Finding>) {
    if dropped > 0 {
        f.push(Finding::warning(
            codes::TELEMETRY_DROPPED,
            format!("{dropped} energy-counter readings that are not a finite, non-negative count were not used"),
        ));
    }
}

/// The devices a finding names: with dropped samples, with gaps, out of order.
#[derive(Debug, Default)]
struct DeviceLists {
    dropped: Vec<String>,
    gaps: Vec<String>,
    late: Vec<String>,
}

/// Collect each device's results into the jobs, the nodes' idle energy and the stats, in a
/// fixed order (node name, device) so that sums do not depend on input order.
fn collect(it: &Integrator, nodes: &Nodes, att: &mut Attribution) -> DeviceLists {
    let mut order: Vec<usize> = (0..it.devs.len()).collect();
    order.sort_by(|&a, &b| {
        (nodes.name(it.devs[a].node), it.devs[a].device)
            .cmp(&(nodes.name(it.devs[b].node), it.devs[b].device))
    });
    let mut idle: BTreeMap<String, (f64, f64, BTreeMap<i64, f64>)> = BTreeMap::new();
    let mut lists = DeviceLists::default();
    let st = &mut att.stats;
    for &i in &order {
        let d = &it.devs[i];
        let name = if d.whole_node {
            format!("{}/node", nodes.name(d.node))
        } else {
            format!("{}/gpu{}", nodes.name(d.node), d.device)
        };
        data_quality(Quality::from(d), name, st, &mut lists);
        if d.whole_node {
            // Node power is no accelerator energy: it only gives the host (host_energy).
            continue;
        }
        for (k, &(job, s, _)) in d.claims.iter().enumerate() {
            let jt = &mut att.jobs[job];
            if d.claim_s[k] > 0.0 {
                jt.source_bits |= d.sources;
                jt.held.insert((d.node, d.device));
            }
            jt.sampled_j += d.claim_j[k];
            jt.covered_s += d.claim_s[k];
            let base = s.div_euclid(HOUR_MS);
            for (h, j) in d.claim_hours[k].iter().enumerate() {
                if *j != 0.0 {
                    *jt.hourly_j.entry((base + h as i64) * 3600).or_default() += j;
                }
            }
        }
        let e = idle.entry(nodes.name(d.node).to_string()).or_default();
        e.0 += d.idle_j;
        e.1 += d.total_j;
        for (k, j) in d.idle_hours.iter().enumerate() {
            if *j != 0.0 {
                *e.2.entry((d.idle_base + k as i64) * 3600).or_default() += j;
            }
        }
        st.total_kwh += d.total_j / 3.6e6;
        st.idle_kwh += d.idle_j / 3.6e6;
    }
    st.devices = it.devs.iter().filter(|d| !d.whole_node).count();
    let mut spans: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for d in &it.devs {
        if let (Some(a), Some((b, _))) = (d.first_t, d.prev) {
            let e = spans.entry(nodes.name(d.node)).or_insert((a, b));
            *e = (e.0.min(a), e.1.max(b));
        }
    }
    st.out_of_order_devices = it.devs.iter().filter(|d| d.out_of_order).count();
    st.allocated_kwh = st.total_kwh - st.idle_kwh;
    att.nodes = idle
        .into_iter()
        .map(|(node, (i, t, hours))| NodeIdle {
            node,
            idle_kwh: i / 3.6e6,
            total_kwh: t / 3.6e6,
            idle_hourly_j: hours,
            idle_host_hourly_j: None,
            span_ms: None,
        })
        .collect();
    for n in &mut att.nodes {
        n.span_ms = spans.get(n.node.as_str()).copied();
    }
    lists
}

/// One device's data-quality counts, from the integrator or from an engine's results.
struct Quality {
    rows: u64,
    duplicates: u64,
    dropped: u64,
    gaps: u64,
    gap_ms: i64,
    out_of_order: bool,
}

impl Quality {
    /// An engine's counts: it sorts, so it cannot see samples arrive out of order.
    fn sorted(rows: i64, duplicates: i64, dropped: i64, gaps: i64, gap_ms: i64) -> Quality {
        let n = |v: i64| v.max(0) as u64;
        Quality {
            rows: n(rows),
            duplicates: n(duplicates),
            dropped: n(dropped),
            gaps: n(gaps),
            gap_ms,
            out_of_order: false,
        }
    }
}

impl From<&device::Dev> for Quality {
    fn from(d: &device::Dev) -> Quality {
        Quality {
            rows: d.rows,
            duplicates: d.duplicates,
            dropped: d.dropped,
            gaps: d.gaps,
            gap_ms: d.gap_ms,
            out_of_order: d.out_of_order,
        }
    }
}

/// A device's samples, duplicates, drops and gaps into the stats, and its name into the
/// lists the findings name.
fn data_quality(d: Quality, name: String, st: &mut TelemetryStats, lists: &mut DeviceLists) {
    st.samples += d.rows;
    st.duplicates += d.duplicates;
    st.dropped += d.dropped;
    st.gaps += d.gaps;
    st.gap_seconds += d.gap_ms as f64 / 1000.0;
    if d.dropped > 0 {
        lists.dropped.push(format!("{name} ({})", d.dropped));
    }
    if d.gaps > 0 {
        lists.gaps.push(format!("{name} ({} s)", d.gap_ms / 1000));
    }
    if d.out_of_order {
        lists.late.push(name);
    }
}

/// Data-quality findings: duplicates, dropped samples, gaps, out-of-order devices, resets.
fn telemetry_findings(st: &TelemetryStats, cfg: &Config, l: &DeviceLists, f: &mut Vec<Finding>) {
    if st.duplicates > 0 {
        f.push(Finding::warning(codes::TELEMETRY_DUPLICATES, format!("{} duplicate samples (same node, device and timestamp) were counted once, at their mean power", st.duplicates)));
    }
    if st.dropped > 0 {
        f.push(Finding::warning(
            codes::TELEMETRY_DROPPED,
            format!("{} samples with missing, negative or implausible power (above 2 x TDP of the node's jobs) were dropped: {}", st.dropped, list(&l.dropped)),
        ));
    }
    if st.gaps > 0 {
        f.push(Finding::warning(
            codes::TELEMETRY_GAPS,
            format!("{} gaps longer than max_gap_s = {} s ({:.1} h in all) carry no energy; covered time is imputed for jobs: {}", st.gaps, cfg.telemetry.max_gap_s, st.gap_seconds / 3600.0, list(&l.gaps)),
        ));
    }
    if !l.late.is_empty() {
        f.push(Finding::warning(
            codes::TELEMETRY_OUT_OF_ORDER,
            format!("samples of {} devices arrived out of time order (clock going backwards, or unsorted files); they were re-read and sorted: {}", l.late.len(), list(&l.late)),
        ));
    }
    if st.counter_resets > 0 {
        f.push(Finding::warning(codes::TELEMETRY_COUNTER_RESET, format!("{} energy-counter resets (driver reload or reboot): the energy after each reset counts, the unseen part before it is lost", st.counter_resets)));
    }
}

/// An error per pair of jobs claiming one device at once, at the later job's row.
fn overlap_findings(it: &Integrator, jobs: &[Job], nodes: &Nodes, f: &mut Vec<Finding>) {
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
}
