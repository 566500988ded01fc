//! The ledger: per-job energy, factors applied, aggregates. The only place with dataframe logic.

pub mod aggregate;
pub mod emissions;
pub mod energy;
pub mod market;
pub mod resolve;
pub mod uncertainty;

use crate::config::Config;
use crate::error::Result;
use crate::factors::Factors;
use crate::findings::Finding;
use crate::ingest::Ingested;
use crate::timeutil::Period;
pub use resolve::{FactorUse, Tier};
use serde::Serialize;

/// Summed quantities: the keys every level of report.json shares.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Amounts {
    pub jobs: u64,
    pub gpu_hours: f64,
    pub it_energy_kwh: f64,
    pub facility_energy_kwh: f64,
    pub location_kgco2e: f64,
    /// Market-based emissions (GHG Protocol Scope 2): instruments, residual mix, else grid.
    pub market_kgco2e: Option<f64>,
    /// Sum over jobs whose hardware has known embodied emissions; `null` when none has.
    pub embodied_kgco2e: Option<f64>,
    /// On-site water, over jobs at sites with a WUE; `null` when none has.
    pub water_l: Option<f64>,
    /// kgCO2e (location-based) per accelerator-hour.
    pub kgco2e_per_gpu_hour: Option<f64>,
    /// Uncertainty bounds of the location- and market-based figures (see compute::uncertainty).
    pub location_kgco2e_low: Option<f64>,
    pub location_kgco2e_high: Option<f64>,
    pub market_kgco2e_low: Option<f64>,
    pub market_kgco2e_high: Option<f64>,
    /// Tokens processed (prorated), over the jobs that give them; `null` when none does.
    pub tokens: Option<f64>,
    /// kgCO2e (location-based) per million tokens, over the jobs that give tokens.
    pub kgco2e_per_million_tokens: Option<f64>,
}

/// One job's row of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRow {
    pub job_id: String,
    pub model: String,
    pub team: String,
    pub project: Option<String>,
    pub site: Option<String>,
    pub zone: String,
    pub hardware: String,
    pub devices: f64,
    pub start: String,
    pub end: String,
    pub training_type: &'static str,
    pub status: &'static str,
    pub base_model: Option<String>,
    pub teacher_model: Option<String>,
    pub precision: Option<String>,
    pub sparsity: Option<f64>,
    pub parameters: Option<f64>,
    pub published: Option<String>,
    pub energy_source: Tier,
    /// Where metered energy came from, or the power used for an estimate.
    pub energy_detail: String,
    /// Share of the job's sampled device-time (telemetry tier); `null` for other tiers.
    pub coverage: Option<f64>,
    pub sampled_kwh: Option<f64>,
    pub imputed_kwh: Option<f64>,
    /// Share of the job's duration inside the period.
    pub fraction_in_period: f64,
    pub pue: f64,
    pub intensity_g_per_kwh: f64,
    pub factor_year: Option<i32>,
    #[serde(flatten)]
    pub amounts: Amounts,
    /// kgCO2e (location-based) per billion parameters of the model, when known.
    pub kgco2e_per_billion_parameters: Option<f64>,
    /// TDP of the accelerator, when the hardware table knows it.
    pub tdp_w: Option<f64>,
    /// Dense 16-bit TFLOPS of the accelerator, when published.
    pub tflops: Option<f64>,
    /// Measured mean power per device (samples, a meter, or avg_power_w); `null` for TDP
    /// estimates.
    pub mean_power_w: Option<f64>,
    /// The zone's mean hourly intensity over the period, when hourly data exist.
    pub zone_period_avg_g_per_kwh: Option<f64>,
    /// The cleanest mean intensity the job could have had shifted within +-12 h (hourly data).
    pub shift_best_g_per_kwh: Option<f64>,
    pub file: String,
    pub line: u64,
}

/// A team's or a model's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRow {
    pub key: String,
    /// For models: the team that owns it (the team with the most jobs of it).
    pub team: Option<String>,
    pub amounts: Amounts,
}

/// Energy per tier.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierShare {
    pub tier: Tier,
    pub jobs: u64,
    pub it_energy_kwh: f64,
    pub share: f64,
}

/// The computed accounts of a period.
#[derive(Debug, Clone, PartialEq)]
pub struct Ledger {
    pub period: Period,
    pub jobs: Vec<JobRow>,
    pub teams: Vec<GroupRow>,
    pub models: Vec<GroupRow>,
    pub totals: Amounts,
    pub tiers: Vec<TierShare>,
    pub factors: Vec<FactorUse>,
    /// Contractual instruments and how they were allocated (market-based).
    pub instruments: Vec<market::InstrumentUse>,
    pub findings: Vec<Finding>,
    pub inputs: Vec<crate::ingest::InputRecord>,
    /// Telemetry summary and idle energy, when telemetry was given.
    pub telemetry: Option<TelemetrySummary>,
    /// Each configured site's PUE and intensity, for the site what-if.
    pub sites: Vec<SiteFactor>,
    /// The accelerator with the most TFLOPS per watt in the table, for the hardware what-if.
    pub best_hardware: Option<BestHardware>,
    /// Energy and emissions per calendar month of the period.
    pub monthly: Vec<MonthRow>,
}

/// One calendar month (UTC) of the period: the jobs' figures split by their energy profile
/// (sampled) or their time (else). The months sum to the totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthRow {
    /// `YYYY-MM`.
    pub month: String,
    pub gpu_hours: f64,
    pub it_energy_kwh: f64,
    pub facility_energy_kwh: f64,
    pub location_kgco2e: f64,
    pub market_kgco2e: f64,
}

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

/// The most efficient accelerator of the hardware table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BestHardware {
    pub name: String,
    pub tflops: f64,
    pub tdp_w: f64,
}

/// A site's effective PUE and location-based intensity over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteFactor {
    pub site: String,
    pub pue: f64,
    pub intensity_g_per_kwh: f64,
}

/// What the telemetry showed as a whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TelemetrySummary {
    #[serde(flatten)]
    pub stats: energy::TelemetryStats,
    /// Mean coverage of the sampled jobs, weighted by their device-time.
    pub mean_coverage: Option<f64>,
    /// Idle (unallocated) energy per node, with the site its jobs ran at.
    pub nodes: Vec<NodeIdleRow>,
    /// Idle energy per site.
    pub sites: Vec<SiteIdle>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeIdleRow {
    pub node: String,
    pub site: Option<String>,
    pub idle_kwh: f64,
    pub total_kwh: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteIdle {
    pub site: String,
    pub idle_kwh: f64,
}

/// Build the ledger from the canonical tables.
pub fn build(cfg: &Config, factors: &Factors, ingested: Ingested) -> Result<Ledger> {
    let mut findings = ingested.findings;
    let mut inputs = ingested.inputs;
    let period = resolve::period_of(cfg, &ingested.jobs).unwrap_or_else(|| {
        Period::spanning(chrono::DateTime::UNIX_EPOCH, chrono::DateTime::UNIX_EPOCH)
    });
    let attribution = if ingested.telemetry.is_empty() {
        None
    } else {
        Some(energy::attribute(
            cfg,
            factors,
            &ingested.jobs,
            &period,
            &ingested.telemetry,
            !cfg.quiet,
        )?)
    };
    let node_sites = node_sites(&ingested.jobs);
    let sites = site_factors(cfg, factors, &period);
    let factors_best = factors.most_efficient().map(|h| BestHardware {
        name: h.name.clone(),
        tflops: h.tflops.unwrap_or(0.0),
        tdp_w: h.tdp_w.unwrap_or(0.0),
    });
    let res = resolve::resolve(
        cfg,
        factors,
        ingested.jobs,
        &period,
        attribution.as_ref().map(|a| a.jobs.as_slice()),
        &ingested.grid,
    );
    let telemetry = attribution.map(|mut a| {
        findings.append(&mut a.findings);
        inputs.append(&mut a.inputs);
        summarise_telemetry(a, &res.rows, &node_sites)
    });
    findings.extend(res.findings);
    let mut frame = emissions::job_frame(&res.rows)?;
    let facility: Vec<f64> = emissions::f64s(&frame, "facility_energy_kwh")?
        .into_iter()
        .map(|v| v.unwrap_or(0.0))
        .collect();
    let location: Vec<f64> = emissions::f64s(&frame, "location_kgco2e")?
        .into_iter()
        .map(|v| v.unwrap_or(0.0))
        .collect();
    let market = market::allocate(cfg, &res.rows, &facility, &location, &period);
    let (mut loc_low, mut loc_high, mut mkt_low, mut mkt_high) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, r) in res.rows.iter().enumerate() {
        let covered = if facility[i] > 0.0 {
            market.covered_kwh[i] / facility[i]
        } else {
            0.0
        };
        let (rl, rm) = cfg.uncertainty.relative(r, covered);
        let (a, b) = uncertainty::bounds(location[i], rl);
        let (c, d) = uncertainty::bounds(market.kg[i], rm);
        loc_low.push(a);
        loc_high.push(b);
        mkt_low.push(c);
        mkt_high.push(d);
    }
    for (name, values) in [
        ("market_kgco2e", market.kg.clone()),
        ("location_kgco2e_low", loc_low),
        ("location_kgco2e_high", loc_high),
        ("market_kgco2e_low", mkt_low),
        ("market_kgco2e_high", mkt_high),
    ] {
        frame
            .with_column(polars::prelude::Column::new(name.into(), values))
            .map_err(emissions::pe)?;
    }
    let col = |name: &str| -> Result<Vec<f64>> {
        Ok(emissions::f64s(&frame, name)?
            .into_iter()
            .map(|v| v.unwrap_or(0.0))
            .collect())
    };
    let monthly = monthly(
        &res.rows,
        [
            &col("gpu_hours")?,
            &col("it_energy_kwh")?,
            &facility,
            &location,
            &market.kg,
        ],
    );
    let jobs = emissions::job_rows(&res.rows, &frame)?;
    let agg = aggregate::aggregate(&frame)?;
    findings.extend(market.findings);
    let mut factors = res.factors;
    for f in market.factors {
        factors.entry(f.name.clone()).or_insert(f);
    }
    crate::findings::sort(&mut findings);
    Ok(Ledger {
        period,
        jobs,
        teams: agg.teams,
        models: agg.models,
        totals: agg.totals,
        tiers: agg.tiers,
        factors: factors.into_values().collect(),
        instruments: market.instruments,
        findings,
        inputs,
        telemetry,
        sites,
        best_hardware: factors_best,
        monthly,
    })
}

/// Effective PUE (time-weighted over the period) and annual intensity of each configured site.
fn site_factors(cfg: &Config, factors: &Factors, period: &Period) -> Vec<SiteFactor> {
    let default_pue = cfg.default_pue.unwrap_or(crate::factors::DEFAULT_PUE);
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
        if let Ok(hosts) = crate::ingest::hostlist::expand_nodes(nodes) {
            for h in hosts {
                out.entry(crate::ingest::hostlist::node_key(&h))
                    .or_insert_with(|| site.clone());
            }
        }
    }
    out
}

fn summarise_telemetry(
    a: energy::Attribution,
    rows: &[resolve::Resolved],
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
            site: node_sites.get(&n.node).cloned(),
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
