//! The telemetry integration handed to an outside engine: the claims and rules it needs
//! (`greenledger pushdown`), and its results turned back into the attribution the in-process
//! path makes (`greenledger report --pushdown`), after checking that they were made for this
//! run's jobs and rules.

use super::claims::{claims, Claim, Integrator};
use super::device::Params;
use super::sql::{self, Rules};
use super::{data_quality, overlap_findings, power_limits, telemetry_findings};
use super::{Attribution, DeviceLists, Quality};
use super::{JobTelemetry, NodeIdle, LIMIT_TDP_FACTOR};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::factors::Factors;
use crate::findings::{codes, Finding};
use crate::ingest::pushdown::{ClaimRow, Pushdown};
use crate::ingest::samples::Nodes;
use crate::ingest::Job;
use crate::timeutil::Period;
use std::collections::{BTreeMap, HashMap};

/// The claims as the engine reads them: one row per job, node and device (no device: all of
/// the node's), sorted by node, device, start, end and job; and findings for node lists that
/// cannot be read.
pub(crate) fn claim_rows(
    jobs: &[Job],
    factors: &Factors,
    period: &Period,
    findings: &mut Vec<Finding>,
) -> Vec<ClaimRow> {
    expanded(jobs, factors, period, findings).2
}

/// The node ids, the claims by node (as compute makes them) and their rows.
type Expanded = (Nodes, HashMap<u32, Vec<Claim>>, Vec<ClaimRow>);

fn expanded(
    jobs: &[Job],
    factors: &Factors,
    period: &Period,
    findings: &mut Vec<Finding>,
) -> Expanded {
    let mut nodes = Nodes::default();
    let by_node = claims(jobs, period, &mut nodes, findings);
    let limits = power_limits(&by_node, jobs, factors);
    let mut rows = Vec::new();
    for (n, cs) in &by_node {
        for c in cs {
            let devices: Vec<Option<i64>> = match &c.devices {
                // A CPU-only job: one row, no device, its cores.
                Some(d) if d.is_empty() && c.cores.is_some() => vec![None],
                Some(d) => d.iter().map(|&x| Some(x as i64)).collect(),
                None => vec![None],
            };
            for device in devices {
                rows.push(ClaimRow {
                    job_index: c.job as i64,
                    job_id: jobs[c.job].job_id.clone(),
                    node: nodes.name(*n).to_string(),
                    device,
                    start_ms: c.s,
                    end_ms: c.e,
                    limit_w: limits.get(n).copied(),
                    cores: c.cores,
                });
            }
        }
    }
    rows.sort_by(|a, b| {
        (&a.node, a.device, a.start_ms, a.end_ms, a.job_index).cmp(&(
            &b.node,
            b.device,
            b.start_ms,
            b.end_ms,
            b.job_index,
        ))
    });
    (nodes, by_node, rows)
}

/// sha256 of the claims, row by row (tab-separated, floats as their bits): what the SQL's
/// header names, so that results are only used with the claims they were made for.
pub(crate) fn claims_digest(rows: &[ClaimRow]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for r in rows {
        let device = r.device.map(|d| d.to_string()).unwrap_or_default();
        let bits = |v: Option<f64>| v.map(|l| l.to_bits().to_string()).unwrap_or_default();
        let (limit, cores) = (bits(r.limit_w), bits(r.cores));
        h.update(format!(
            "{}\t{}\t{}\t{device}\t{}\t{}\t{limit}\t{cores}\n",
            r.job_index, r.job_id, r.node, r.start_ms, r.end_ms
        ));
    }
    format!("{:x}", h.finalize())
}

/// The rules of this run, for the SQL.
pub(crate) fn rules(cfg: &Config, period: &Period, claims: &[ClaimRow]) -> Rules {
    Rules {
        p0: period.start.timestamp_millis(),
        p1: period.end.timestamp_millis(),
        period: period.label.clone(),
        max_gap_s: cfg.telemetry.max_gap_s,
        max_gap_ms: (cfg.telemetry.max_gap_s * 1000.0).round() as i64,
        limit_factor: LIMIT_TDP_FACTOR,
        time_zone: cfg.inputs.timezone_name.clone(),
        claims_rows: claims.len(),
        claims_sha256: claims_digest(claims),
    }
}

/// The attribution from a pushdown's results, after checking that its SQL is the one this run
/// would write (same engine, period, rules and claims) and that its claims are this run's.
pub(crate) fn attribute(
    cfg: &Config,
    factors: &Factors,
    jobs: &[Job],
    period: &Period,
    p: &Pushdown,
) -> Result<Attribution> {
    let mut att = Attribution {
        jobs: vec![JobTelemetry::default(); jobs.len()],
        ..Default::default()
    };
    let (mut ids, by_node, rows) = expanded(jobs, factors, period, &mut att.findings);
    check(cfg, period, p, &rows)?;
    let index: HashMap<&str, usize> = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| (j.job_id.as_str(), i))
        .collect();
    // A result naming a job this run does not have was made for another run.
    let job = |result: &str, id: &str| {
        index.get(id).copied().ok_or_else(|| {
            stale(
                p,
                &format!("{result} names job '{id}', which this run does not have"),
            )
        })
    };
    for r in &p.jobs {
        let jt = &mut att.jobs[job("job_energy", &r.job_id)?];
        jt.sampled_j = r.sampled_j;
        jt.covered_s = r.covered_s;
        if r.covered_s > 0.0 {
            jt.sources = vec![p.engine.label()];
            if r.node_devices > 0 {
                jt.node_share = Some(r.devices as f64 / r.node_devices as f64);
            }
        }
    }
    for (id, h, j) in &p.job_hourly {
        *att.jobs[job("job_hourly", id)?]
            .hourly_j
            .entry(*h)
            .or_default() += j;
    }
    for r in &p.job_counters {
        let jt = &mut att.jobs[job("job_counters", &r.job_id)?];
        jt.counter_j += r.counter_j;
        jt.counter_covered_s += r.covered_s;
    }
    let lists = devices(p, &mut att)?;
    att.nodes = nodes(p);
    let with_power = node_power(p, period, &mut ids, &by_node)?;
    if !p.node_power.is_empty() {
        super::host::host_energy(&with_power, &by_node, cfg.cpu.node_cores, &mut att);
    }
    let dropped: i64 = p.device_counters.iter().map(|d| d.dropped).sum();
    super::counter_findings(dropped.max(0) as u64, &mut att.findings);
    att.stats.counter_resets = p
        .device_counters
        .iter()
        .map(|d| d.resets.max(0) as u64)
        .sum();
    overlaps(jobs, ids, by_node, p, &mut att.findings);
    telemetry_findings(&att.stats, cfg, &lists, &mut att.findings);
    Ok(att)
}

fn stale(p: &Pushdown, what: &str) -> Error {
    Error::in_file(
        &p.shown,
        format!("the pushdown was made for another run: {what}"),
    )
    .hint(
        "run `greenledger pushdown` again with this run's config, jobs and period, then the engine",
    )
}

/// The SQL must be what this run would generate, and the claims this run's.
fn check(cfg: &Config, period: &Period, p: &Pushdown, rows: &[ClaimRow]) -> Result<()> {
    if claims_digest(&p.claims) != claims_digest(rows) {
        return Err(stale(
            p,
            &format!(
                "claims.parquet holds {} claims, this run's jobs make {} (or they differ in jobs, nodes, devices or times)",
                p.claims.len(),
                rows.len()
            ),
        ));
    }
    let want = sql::generate(p.engine, &rules(cfg, period, rows));
    if want != p.sql {
        let line = want
            .lines()
            .zip(p.sql.lines())
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("this run writes '{a}', the file says '{b}'"))
            .unwrap_or_else(|| "the file is longer or shorter".into());
        return Err(stale(p, &format!("job_energy.sql differs: {line}")));
    }
    Ok(())
}

/// Data-quality counts and energy totals from the devices, in the in-process order (node,
/// device); the engine's `quality` row must agree.
fn devices(p: &Pushdown, att: &mut Attribution) -> Result<DeviceLists> {
    // The in-process order: by node, then device, the node's own power last.
    let mut devs: Vec<(&str, u64, Quality, f64, f64)> = p
        .devices
        .iter()
        .map(|d| {
            let q = Quality::sorted(d.samples, d.duplicates, d.dropped, d.gaps, d.gap_ms);
            (d.node.as_str(), d.device as u64, q, d.total_j, d.idle_j)
        })
        .collect();
    devs.extend(p.node_power.iter().map(|n| {
        let q = Quality::sorted(n.samples, n.duplicates, n.dropped, n.gaps, n.gap_ms);
        (n.node.as_str(), u64::MAX, q, 0.0, 0.0)
    }));
    devs.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let mut lists = DeviceLists::default();
    let st = &mut att.stats;
    for (node, device, q, total_j, idle_j) in devs {
        let name = if device == u64::MAX {
            format!("{node}/node")
        } else {
            format!("{node}/gpu{device}")
        };
        data_quality(q, name, st, &mut lists);
        st.total_kwh += total_j / 3.6e6;
        st.idle_kwh += idle_j / 3.6e6;
    }
    st.devices = p.devices.len();
    st.engine = Some(format!(
        "{} (greenledger pushdown; job_energy.sql sha256 {})",
        p.engine.label(),
        p.sql_sha256
    ));
    st.allocated_kwh = st.total_kwh - st.idle_kwh;
    let q = &p.quality;
    let of = |f: fn(&crate::ingest::pushdown::DeviceEnergy) -> i64| -> i64 {
        p.devices.iter().map(f).sum()
    };
    let sums = (
        of(|d| d.samples),
        p.devices.len() as i64,
        of(|d| d.duplicates),
        of(|d| d.dropped),
        of(|d| d.gaps),
    );
    if (q.samples, q.devices, q.duplicates, q.dropped, q.gaps) != sums {
        return Err(Error::in_file(
            &p.shown,
            format!("the quality result (samples, devices, duplicates, dropped, gaps = {:?}) disagrees with device_energy ({sums:?})", (q.samples, q.devices, q.duplicates, q.dropped, q.gaps)),
        )
        .hint("the results come from different runs: run the engine again into an empty folder"));
    }
    let node_samples: i64 = p.node_power.iter().map(|n| n.samples).sum();
    let readings: i64 = p
        .device_counters
        .iter()
        .map(|d| d.readings + d.dropped)
        .sum();
    for (rows, used, what, columns) in [
        (q.rows, q.samples, "sample", "timestamp, node or device"),
        (
            q.node_power_rows,
            node_samples,
            "node power",
            "timestamp or node",
        ),
        (
            q.counter_rows,
            readings,
            "energy-counter",
            "timestamp, node, device or energy",
        ),
    ] {
        if rows > used {
            att.findings.push(Finding::error(
                codes::TELEMETRY_UNRECOGNISED,
                format!(
                    "{} of {rows} {what} rows have no readable {columns} and are not used (the engine cannot name their lines: check the {what} columns)",
                    rows - used,
                ),
            ).at(&p.shown, None));
        }
    }
    att.findings.push(
        Finding::info(
            codes::TELEMETRY_PUSHDOWN,
            format!(
            "power samples integrated by {} (job_energy.sql sha256 {}): {} samples of {} devices",
            p.engine.label(),
            &p.sql_sha256[..12.min(p.sql_sha256.len())],
            st.samples,
            st.devices
        ),
        )
        .at(&p.shown, None),
    );
    Ok(lists)
}

/// Each node's energy, idle energy per hour and the time its samples span.
fn nodes(p: &Pushdown) -> Vec<NodeIdle> {
    let mut hourly: BTreeMap<&str, BTreeMap<i64, f64>> = BTreeMap::new();
    for (n, h, j) in &p.node_hourly {
        *hourly.entry(n.as_str()).or_default().entry(*h).or_default() += j;
    }
    let mut out: Vec<NodeIdle> = p
        .nodes
        .iter()
        .map(|n| NodeIdle {
            node: n.node.clone(),
            idle_kwh: n.idle_j / 3.6e6,
            total_kwh: n.total_j / 3.6e6,
            idle_hourly_j: hourly.remove(n.node.as_str()).unwrap_or_default(),
            idle_host_hourly_j: None,
            span_ms: widen(
                n.first_ms.zip(n.last_ms),
                p.node_power
                    .iter()
                    .find(|w| w.node == n.node)
                    .and_then(|w| w.first_ms.zip(w.last_ms)),
            ),
        })
        .collect();
    out.sort_by(|a, b| a.node.cmp(&b.node));
    out
}

/// The time two spans cover together.
fn widen(a: Option<(i64, i64)>, b: Option<(i64, i64)>) -> Option<(i64, i64)> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
        (a, b) => a.or(b),
    }
}

/// The nodes with node power and their windows, after checking that each window is one this
/// run cuts (the period at every hour and claim boundary of the node).
fn node_power(
    p: &Pushdown,
    period: &Period,
    ids: &mut Nodes,
    by_node: &HashMap<u32, Vec<Claim>>,
) -> Result<Vec<super::host::NodePower>> {
    let (p0, p1) = (
        period.start.timestamp_millis(),
        period.end.timestamp_millis(),
    );
    let mut gpus: HashMap<&str, usize> = HashMap::new();
    for d in &p.devices {
        *gpus.entry(d.node.as_str()).or_default() += 1;
    }
    let mut wins: HashMap<&str, Vec<&crate::ingest::pushdown::NodeWindowRow>> = HashMap::new();
    for w in &p.node_windows {
        wins.entry(w.node.as_str()).or_default().push(w);
    }
    let mut out = Vec::new();
    for n in &p.node_power {
        let id = ids.id(&n.node);
        let cut =
            super::claims::windows(p0, p1, by_node.get(&id).map(Vec::as_slice).unwrap_or(&[]));
        let mut rows = wins.remove(n.node.as_str()).unwrap_or_default();
        rows.sort_by_key(|w| w.start_ms);
        let mut windows = Vec::with_capacity(rows.len());
        for w in rows {
            if cut.binary_search(&(w.start_ms, w.end_ms)).is_err() {
                return Err(stale(
                    p,
                    &format!(
                        "node_windows has a window [{}, {}) of node '{}' that this run does not cut",
                        w.start_ms, w.end_ms, n.node
                    ),
                ));
            }
            windows.push(super::host::Window {
                a: w.start_ms,
                b: w.end_ms,
                node_j: w.node_j,
                node_ms: w.node_ms,
                gpu_j: w.gpu_j,
            });
        }
        out.push(super::host::NodePower {
            node: id,
            name: n.node.clone(),
            windows,
            gpus: gpus.get(n.node.as_str()).copied().unwrap_or(0),
            span: n.first_ms.zip(n.last_ms),
        });
    }
    if let Some(node) = wins.keys().next() {
        return Err(stale(
            p,
            &format!("node_windows names node '{node}', which node_power does not have"),
        ));
    }
    Ok(out)
}

/// Jobs claiming one device at once: the same claims, made disjoint for every device the
/// engine saw, as in-process.
fn overlaps(
    jobs: &[Job],
    mut nodes: Nodes,
    by_node: HashMap<u32, Vec<Claim>>,
    p: &Pushdown,
    findings: &mut Vec<Finding>,
) {
    let mut it = Integrator {
        params: Params {
            p0: 0,
            p1: 0,
            max_gap_ms: 0,
        },
        limits: HashMap::new(),
        by_node,
        devs: Vec::new(),
        index: HashMap::new(),
        overlaps: BTreeMap::new(),
        node_power: false,
        windows: HashMap::new(),
    };
    for d in &p.devices {
        let n = nodes.id(&d.node);
        if let Ok(dev) = u32::try_from(d.device) {
            it.dev(n, dev);
        }
    }
    overlap_findings(&it, jobs, &nodes, findings);
}
