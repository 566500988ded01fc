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
        let limit = r
            .limit_w
            .map(|l| l.to_bits().to_string())
            .unwrap_or_default();
        h.update(format!(
            "{}\t{}\t{}\t{device}\t{}\t{}\t{limit}\n",
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
    let (ids, by_node, rows) = expanded(jobs, factors, period, &mut att.findings);
    check(cfg, period, p, &rows)?;
    let index: HashMap<&str, usize> = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| (j.job_id.as_str(), i))
        .collect();
    for r in &p.jobs {
        let Some(&i) = index.get(r.job_id.as_str()) else {
            return Err(stale(
                p,
                &format!(
                    "job_energy names job '{}', which this run does not have",
                    r.job_id
                ),
            ));
        };
        let jt = &mut att.jobs[i];
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
        let Some(&i) = index.get(id.as_str()) else {
            return Err(stale(
                p,
                &format!("job_hourly names job '{id}', which this run does not have"),
            ));
        };
        *att.jobs[i].hourly_j.entry(*h).or_default() += j;
    }
    let lists = devices(p, &mut att)?;
    att.nodes = nodes(p);
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
    let mut devs: Vec<&crate::ingest::pushdown::DeviceEnergy> = p.devices.iter().collect();
    devs.sort_by(|a, b| (&a.node, a.device).cmp(&(&b.node, b.device)));
    let mut lists = DeviceLists::default();
    let st = &mut att.stats;
    for d in &devs {
        let name = format!("{}/gpu{}", d.node, d.device);
        // An engine sorts: it cannot see samples arrive out of order.
        let q = Quality {
            rows: d.samples as u64,
            duplicates: d.duplicates as u64,
            dropped: d.dropped as u64,
            gaps: d.gaps as u64,
            gap_ms: d.gap_ms,
            out_of_order: false,
        };
        data_quality(q, name, st, &mut lists);
        st.total_kwh += d.total_j / 3.6e6;
        st.idle_kwh += d.idle_j / 3.6e6;
    }
    st.devices = devs.len();
    st.engine = Some(format!(
        "{} (greenledger pushdown; job_energy.sql sha256 {})",
        p.engine.label(),
        p.sql_sha256
    ));
    st.allocated_kwh = st.total_kwh - st.idle_kwh;
    let q = &p.quality;
    let sums = (
        st.samples as i64,
        st.devices as i64,
        st.duplicates as i64,
        st.dropped as i64,
        st.gaps as i64,
    );
    if (q.samples, q.devices, q.duplicates, q.dropped, q.gaps) != sums {
        return Err(Error::in_file(
            &p.shown,
            format!("the quality result (samples, devices, duplicates, dropped, gaps = {:?}) disagrees with device_energy ({sums:?})", (q.samples, q.devices, q.duplicates, q.dropped, q.gaps)),
        )
        .hint("the results come from different runs: run the engine again into an empty folder"));
    }
    if q.rows > q.samples {
        att.findings.push(Finding::error(
            codes::TELEMETRY_UNRECOGNISED,
            format!(
                "{} of {} sample rows have no readable timestamp, node or device and are not used (the engine cannot name their lines: check the samples' columns)",
                q.rows - q.samples,
                q.rows
            ),
        ).at(&p.shown, None));
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
            span_ms: n.first_ms.zip(n.last_ms),
        })
        .collect();
    out.sort_by(|a, b| a.node.cmp(&b.node));
    out
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
