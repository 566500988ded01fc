//! The ledger: per-job energy, factors applied, aggregates. The only place with dataframe logic.

pub(crate) mod aggregate;
pub(crate) mod emissions;
pub(crate) mod energy;
pub(crate) mod hourly;
pub(crate) mod inventory;
pub(crate) mod market;
pub(crate) mod resolve;
pub(crate) mod uncertainty;

use crate::config::Config;
use crate::error::Result;
use crate::factors::Factors;
use crate::ingest::Ingested;
use crate::ledger::{
    BestHardware, Figure, Ledger, MonthRow, NodeIdleRow, SiteFactor, SiteIdle, TelemetrySummary,
    Tier,
};
use crate::timeutil::Period;

/// Split each job's figures over the months of its time (see [`MonthRow`]).
fn monthly(rows: &[resolve::Resolved], cols: [&[f64]; 5]) -> Vec<MonthRow> {
    let mut out: std::collections::BTreeMap<String, [f64; 5]> = Default::default();
    for (i, r) in rows.iter().enumerate() {
        for (m, w) in &r.months {
            let acc = out.entry(m.clone()).or_default();
            for (k, col) in cols.iter().enumerate() {
                acc[k] += col.get(i).copied().unwrap_or(0.0) * w;
            }
        }
    }
    out.into_iter()
        .map(|(month, v)| MonthRow {
            month,
            gpu_hours: v[0],
            it_energy_kwh: v[1],
            facility_energy_kwh: v[2],
            location_kgco2e: v[3],
            market_kgco2e: v[4],
        })
        .collect()
}

/// Build the ledger from the canonical tables: attribute telemetry to jobs, resolve each job's
/// factors and tier, compute energy and emissions in a frame, allocate instruments, add the
/// bounds, then aggregate.
pub(crate) fn build(cfg: &Config, factors: &Factors, mut ingested: Ingested) -> Result<Ledger> {
    let mut early = Vec::new();
    let pushdown = ingested.pushdown.is_some();
    let period = period(
        cfg,
        &ingested.jobs,
        &ingested.telemetry,
        pushdown,
        &mut early,
    )?;
    ingested.findings.append(&mut early);
    let attribution = attribute(cfg, factors, &ingested, &period)?;
    let node_sites = node_sites(&ingested.jobs);
    let node_idle = attribution.as_ref().map(node_hours);
    let jobs = std::mem::take(&mut ingested.jobs);
    let profiles = hourly::profiles(
        &jobs,
        attribution.as_ref(),
        !ingested.certificates.is_empty(),
    );
    let tel = attribution.as_ref().map(|a| a.jobs.as_slice());
    let res = resolve::resolve(cfg, factors, jobs, &period, tel, &ingested.grid);
    let mut findings = std::mem::take(&mut ingested.findings);
    let mut inputs = std::mem::take(&mut ingested.inputs);
    let telemetry = attribution.map(|mut a| {
        findings.append(&mut a.findings);
        inputs.append(&mut a.inputs);
        summarise_telemetry(a, &res.rows, cfg, &node_sites)
    });
    findings.extend(res.findings);
    let mut frame = emissions::JobFrame::new(&res.rows)?;
    let facility = frame.total(Figure::FacilityEnergyKwh)?;
    let location = frame.total(Figure::LocationKgco2e)?;
    let context = Context::of(cfg, factors, &period, &ingested, &node_sites);
    let columns = (&facility[..], &location[..]);
    let mut draft = draft_inventory(&context, &res.rows, &frame, columns, node_idle.as_deref())?;
    findings.append(&mut draft.findings);
    let mut consumers = market::job_consumers(&res.rows, &facility, &location, &period);
    for (c, r) in consumers.iter_mut().zip(&res.rows) {
        c.profile = profiles.get(&r.job.job_id).cloned();
    }
    let n_jobs = consumers.len();
    consumers.extend(draft.consumers.iter().cloned());
    let market = market::allocate(cfg, &consumers, &period);
    let teams: Vec<&str> = res.rows.iter().map(|r| r.job.team.as_str()).collect();
    let (matching, mut hourly_findings) = hourly::scope2_hourly(
        cfg,
        &consumers,
        &teams,
        &ingested.certificates,
        &ingested.grid,
        &period,
    );
    findings.append(&mut hourly_findings);
    // Each job's market-based figure with its certificates matched hour by hour.
    let by_hour = matching.as_ref().map(|m| {
        m.shares[..n_jobs]
            .iter()
            .map(|s| s.map(|s| s.market_kg))
            .collect()
    });
    frame.set(
        Figure::MarketHourlyKgco2e,
        by_hour.unwrap_or_else(|| vec![None; n_jobs]),
    )?;
    let scope2_hourly = matching.map(|m| m.table);
    add_market_columns(&mut frame, cfg, &res.rows, &facility, &location, &market)?;
    let (inventory, job_rows) =
        inventory::finish(draft, &market.kg[..n_jobs], &market.kg[n_jobs..], &period);
    add_overhead_columns(
        &mut frame,
        cfg,
        &inventory,
        &job_rows,
        &facility,
        &mut findings,
    )?;
    let monthly = monthly(
        &res.rows,
        [
            &frame.total(Figure::GpuHours)?,
            &frame.total(Figure::ItEnergyKwh)?,
            &facility,
            &location,
            &market.kg[..n_jobs],
        ],
    );
    all_set(&frame, cfg)?;
    let (inventory, cloud) = inventory::split_cloud(inventory, cfg, &period);
    let jobs = emissions::job_rows(&res.rows, &frame)?;
    let agg = aggregate::aggregate(&frame)?;
    findings.extend(market.findings);
    let mut factor_uses = res.factors;
    for f in market.factors {
        factor_uses.entry(f.name.clone()).or_insert(f);
    }
    crate::findings::sort(&mut findings);
    Ok(Ledger {
        jobs,
        teams: agg.teams,
        cpu_teams: agg.cpu_teams,
        models: agg.models,
        totals: agg.totals,
        tiers: agg.tiers,
        factors: factor_uses.into_values().collect(),
        instruments: market.instruments,
        findings,
        inputs,
        telemetry,
        sites: site_factors(cfg, factors, &period),
        best_hardware: best_hardware(factors),
        monthly,
        inventory,
        cloud,
        cloud_carbon: std::mem::take(&mut ingested.cloud_carbon),
        scope2_hourly,
        period,
    })
}

/// Every later step has set its figures: one still null would read as unknown. The overhead
/// figures are null by design unless `overhead = "allocate"`.
fn all_set(frame: &emissions::JobFrame, cfg: &Config) -> Result<()> {
    let overhead = [Figure::OverheadKwh, Figure::OverheadKgco2e];
    let allocate = cfg.accounting.overhead == crate::config::Overhead::Allocate;
    // Null by design: the overhead figures unless allocated, the hourly market-based figure
    // without certificates (or for jobs at no owned or colocation site).
    let waiting = frame.unset()?.into_iter().find(|(f, _)| {
        !frame.is_empty() && *f != Figure::MarketHourlyKgco2e && (allocate || !overhead.contains(f))
    });
    match waiting {
        Some((f, step)) => Err(crate::error::Error::new(format!(
            "internal error: {} was not set by the {step}",
            f.name()
        ))),
        None => Ok(()),
    }
}

/// The period reported on: the configured one, else the jobs' span; telemetry without jobs
/// covers the whole UTC days its samples span (a first pass over the files, and a note saying
/// so). A pushdown's results alone carry no sample times: they need a period.
pub(crate) fn period(
    cfg: &Config,
    jobs: &[crate::ingest::Job],
    telemetry: &[crate::ingest::samples::Source],
    pushdown: bool,
    findings: &mut Vec<crate::findings::Finding>,
) -> Result<Period> {
    if jobs.is_empty() && cfg.report.period.is_none() && (pushdown || !telemetry.is_empty()) {
        let none = || {
            crate::error::Error::new("without jobs the report cannot take its period from them")
                .hint("give --period (e.g. 2026-Q3) or [report] period to report on the fleet's telemetry")
        };
        if telemetry.is_empty() {
            return Err(none());
        }
        let (lo, hi) = telemetry_span(cfg, telemetry)?.ok_or_else(none)?;
        let day = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| t.date_naive().format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        let p = Period::parse(&format!("{}..{}", day(lo), day(hi)))
            .map_err(|e| crate::error::Error::new(format!("internal error: {e}")))?;
        findings.push(crate::findings::Finding::info(
            crate::findings::codes::PERIOD_FROM_TELEMETRY,
            format!(
                "no period and no jobs: the report covers the whole UTC days the telemetry's samples span, {} (give --period to choose another)",
                p.label
            ),
        ));
        return Ok(p);
    }
    Ok(resolve::period_of(cfg, jobs).unwrap_or_else(|| {
        Period::spanning(chrono::DateTime::UNIX_EPOCH, chrono::DateTime::UNIX_EPOCH)
    }))
}

/// The first and last sample time (ms) of the telemetry, read in a first pass over every source
/// (counter readings count too); `None` when no sample has a time.
fn telemetry_span(
    cfg: &Config,
    sources: &[crate::ingest::samples::Source],
) -> Result<Option<(i64, i64)>> {
    let mut span: Option<(i64, i64)> = None;
    let mut widen = |t: i64| {
        span = Some(span.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
    };
    for src in sources {
        let mut nodes = crate::ingest::samples::Nodes::default();
        let mut out = crate::ingest::samples::ScanOutput::default();
        crate::ingest::telemetry::scan(src, cfg, &mut nodes, &mut out, &mut |b| {
            b.t_ms.iter().for_each(|t| widen(*t));
        })?;
        out.counters.iter().for_each(|c| widen(c.t_ms));
    }
    Ok(span)
}

/// Telemetry attributed to the jobs, when any telemetry (or a pushdown's results) was given.
fn attribute(
    cfg: &Config,
    factors: &Factors,
    ingested: &Ingested,
    period: &Period,
) -> Result<Option<energy::Attribution>> {
    if let Some(p) = &ingested.pushdown {
        return energy::pushdown::attribute(cfg, factors, &ingested.jobs, period, p).map(Some);
    }
    if ingested.telemetry.is_empty() {
        return Ok(None);
    }
    energy::attribute(
        cfg,
        factors,
        &ingested.jobs,
        period,
        &ingested.telemetry,
        !cfg.quiet,
    )
    .map(Some)
}

/// The accelerator with the most TFLOPS per watt in the table, for the hardware what-if.
fn best_hardware(factors: &Factors) -> Option<BestHardware> {
    factors.most_efficient().map(|h| BestHardware {
        name: h.name.clone(),
        tflops: h.tflops.unwrap_or(0.0),
        tdp_w: h.tdp_w.unwrap_or(0.0),
    })
}

/// Each node's idle energy per hour, for the inventory.
fn node_hours(a: &energy::Attribution) -> Vec<inventory::NodeHours> {
    a.nodes
        .iter()
        .map(|n| inventory::NodeHours {
            node: n.node.clone(),
            accelerator: n.idle_hourly_j.clone(),
            host: n.idle_host_hourly_j.clone(),
            span_ms: n.span_ms,
        })
        .collect()
}

/// What the inventory needs besides the jobs.
struct Context<'a> {
    cfg: &'a Config,
    factors: &'a Factors,
    period: &'a Period,
    hourly: &'a crate::ingest::grid::Hourly,
    meters: &'a [crate::ingest::meters::Meter],
    node_sites: &'a std::collections::BTreeMap<String, String>,
}

impl<'a> Context<'a> {
    fn of(
        cfg: &'a Config,
        factors: &'a Factors,
        period: &'a Period,
        ingested: &'a Ingested,
        node_sites: &'a std::collections::BTreeMap<String, String>,
    ) -> Self {
        Context {
            cfg,
            factors,
            period,
            hourly: &ingested.grid,
            meters: &ingested.meters,
            node_sites,
        }
    }
}

/// The inventory before its market-based figures, from the job frame (energy, and the
/// facility energy and location-based emissions already read from it, with bounds, which do
/// not depend on the market allocation) and the idle energy.
fn draft_inventory(
    c: &Context,
    rows: &[resolve::Resolved],
    frame: &emissions::JobFrame,
    (facility, location): (&[f64], &[f64]),
    idle: Option<&[inventory::NodeHours]>,
) -> Result<inventory::Draft> {
    let it = frame.total(Figure::ItEnergyKwh)?;
    let accelerator = frame.get(emissions::Col::AcceleratorKwh)?;
    let host = frame.get(emissions::Col::HostKwh)?;
    let (loc_low, loc_high): (Vec<f64>, Vec<f64>) = rows
        .iter()
        .zip(location)
        .map(|(r, kg)| uncertainty::bounds(*kg, c.cfg.uncertainty.relative(r, 0.0).0))
        .unzip();
    Ok(inventory::draft(&inventory::Sources {
        cfg: c.cfg,
        factors: c.factors,
        period: c.period,
        hourly: c.hourly,
        rows,
        jobs: inventory::JobFigures {
            it: &it,
            facility,
            location,
            location_low: &loc_low,
            location_high: &loc_high,
            accelerator: &accelerator,
            host: &host,
        },
        idle,
        node_sites: c.node_sites,
        meters: c.meters,
    }))
}

/// `[accounting] overhead = "allocate"`: each job's share of its sites' idle and unattributed
/// energy and emissions, as frame columns (null otherwise, so that nothing changes).
fn add_overhead_columns(
    frame: &mut emissions::JobFrame,
    cfg: &Config,
    inv: &crate::ledger::Inventory,
    job_rows: &[Vec<(usize, f64)>],
    facility: &[f64],
    findings: &mut Vec<crate::findings::Finding>,
) -> Result<()> {
    let n = facility.len();
    let (kwh, kg): (Vec<Option<f64>>, Vec<Option<f64>>) =
        if cfg.accounting.overhead == crate::config::Overhead::Allocate {
            let (per_job, mut f) = inventory::overhead(inv, job_rows, facility);
            findings.append(&mut f);
            per_job.into_iter().map(|(a, b)| (Some(a), Some(b))).unzip()
        } else {
            (vec![None; n], vec![None; n])
        };
    frame.set(Figure::OverheadKwh, kwh)?;
    frame.set(Figure::OverheadKgco2e, kg)
}

/// The market-based figures and the low/high bounds of both methods, as frame columns.
fn add_market_columns(
    frame: &mut emissions::JobFrame,
    cfg: &Config,
    rows: &[resolve::Resolved],
    facility: &[f64],
    location: &[f64],
    market: &market::Market,
) -> Result<()> {
    let (mut loc_low, mut loc_high, mut mkt_low, mut mkt_high) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, r) in rows.iter().enumerate() {
        let covered = if facility[i] > 0.0 {
            market.covered_kwh[i] / facility[i]
        } else {
            0.0
        };
        let (rl, rm) = cfg.uncertainty.relative(r, covered);
        let (a, b) = uncertainty::bounds(location[i], rl);
        let (c, d) = uncertainty::bounds(market.kg[i], rm);
        loc_low.push(Some(a));
        loc_high.push(Some(b));
        mkt_low.push(Some(c));
        mkt_high.push(Some(d));
    }
    let kg = market.kg[..rows.len()].iter().map(|v| Some(*v)).collect();
    frame.set(Figure::MarketKgco2e, kg)?;
    frame.set(Figure::LocationLow, loc_low)?;
    frame.set(Figure::LocationHigh, loc_high)?;
    frame.set(Figure::MarketLow, mkt_low)?;
    frame.set(Figure::MarketHigh, mkt_high)
}

/// Effective PUE (time-weighted over the period) and annual intensity of each configured site.
fn site_factors(cfg: &Config, factors: &Factors, period: &Period) -> Vec<SiteFactor> {
    let default_pue = cfg
        .estimate
        .default_pue
        .unwrap_or(crate::factors::DEFAULT_PUE);
    cfg.sites
        .iter()
        .filter_map(|s| {
            let g = s.grid_intensity_g_per_kwh.or_else(|| {
                s.zone
                    .as_deref()
                    .and_then(|z| factors.zone(z))
                    .map(|m| m.factor.g_per_kwh)
            })?;
            Some(SiteFactor {
                site: s.id.clone(),
                pue: resolve::site_pue(s, period.start, period.end, default_pue).0,
                intensity_g_per_kwh: g,
            })
        })
        .collect()
}

/// The site of each node: that of the first job (by id) listing it.
fn node_sites(jobs: &[crate::ingest::Job]) -> std::collections::BTreeMap<String, String> {
    let mut sorted: Vec<&crate::ingest::Job> = jobs.iter().collect();
    sorted.sort_by(|a, b| a.job_id.cmp(&b.job_id));
    let mut out = std::collections::BTreeMap::new();
    for j in sorted {
        let (Some(nodes), Some(site)) = (&j.nodes, &j.site) else {
            continue;
        };
        if let Ok(hosts) = crate::hostlist::expand_nodes(nodes) {
            for h in hosts {
                out.entry(crate::hostlist::node_key(&h))
                    .or_insert_with(|| site.clone());
            }
        }
    }
    out
}

fn summarise_telemetry(
    a: energy::Attribution,
    rows: &[resolve::Resolved],
    cfg: &Config,
    node_sites: &std::collections::BTreeMap<String, String>,
) -> TelemetrySummary {
    let (mut covered, mut device_s) = (0.0, 0.0);
    for r in rows {
        if let (Some(c), Tier::Sampled) = (r.coverage, r.tier) {
            let ds = r.job.devices * (r.job.end - r.job.start).num_milliseconds() as f64 / 1000.0
                * r.fraction;
            covered += c * ds;
            device_s += ds;
        }
    }
    let nodes: Vec<NodeIdleRow> = a
        .nodes
        .into_iter()
        .map(|n| NodeIdleRow {
            site: inventory::node_site(cfg, node_sites, &n.node),
            node: n.node,
            idle_kwh: n.idle_kwh,
            total_kwh: n.total_kwh,
        })
        .collect();
    let mut sites: std::collections::BTreeMap<String, f64> = std::collections::BTreeMap::new();
    for n in &nodes {
        *sites
            .entry(n.site.clone().unwrap_or_else(|| "(no site)".into()))
            .or_default() += n.idle_kwh;
    }
    TelemetrySummary {
        stats: a.stats,
        mean_coverage: (device_s > 0.0).then(|| covered / device_s),
        nodes,
        sites: sites
            .into_iter()
            .map(|(site, idle_kwh)| SiteIdle { site, idle_kwh })
            .collect(),
    }
}
