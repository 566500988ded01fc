//! Market-based Scope 2 (GHG Protocol): per site, contractual instruments are allocated to the
//! facility energy of the site's jobs pro rata, within each instrument's period; covered energy
//! takes the instrument's factor, the rest the site's residual mix, else the grid factor (with a
//! warning naming the site). Surplus is reported, never carried to other periods or sites.
//!
//! A job's energy is taken as spread evenly over its time in the period; time is cut at every
//! instrument boundary, so instruments of different periods never see each other's energy.

use super::resolve::Resolved;
use crate::config::{Config, Instrument, Site};
use crate::findings::{codes, Finding};
use crate::ledger::{FactorUse, InstrumentUse};
use crate::timeutil::{overlap_s, Period};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Market-based emissions per job (aligned with the rows) and the instrument inventory.
#[derive(Debug, Clone, Default)]
pub(crate) struct Market {
    pub kg: Vec<f64>,
    /// Facility kWh of each job covered by instruments.
    pub covered_kwh: Vec<f64>,
    pub instruments: Vec<InstrumentUse>,
    pub findings: Vec<Finding>,
    pub factors: Vec<FactorUse>,
}

/// Something that consumed electricity at a site: a job, or an inventory line (idle energy,
/// energy only the meter saw). Its energy is spread evenly over `[start, end)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Consumer {
    pub site: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub facility_kwh: f64,
    pub location_kg: f64,
    /// Its energy per hour (hour start, any unit) where telemetry gives the profile; `None`:
    /// spread evenly. Only the hourly Scope 2 reads it (the 2015 allocation spreads evenly).
    pub profile: Option<Vec<(i64, f64)>>,
}

/// The jobs as consumers: their site, their time clipped to the period, their facility energy
/// and location-based emissions.
pub(crate) fn job_consumers(
    rows: &[Resolved],
    facility_kwh: &[f64],
    location_kg: &[f64],
    period: &Period,
) -> Vec<Consumer> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| Consumer {
            site: r.job.site.clone(),
            start: r.job.start.max(period.start),
            end: r.job.end.min(period.end),
            facility_kwh: facility_kwh[i],
            location_kg: location_kg[i],
            profile: None,
        })
        .collect()
}

/// Allocate instruments over every consumer of each site.
pub(crate) fn allocate(cfg: &Config, consumers: &[Consumer], period: &Period) -> Market {
    let facility_kwh: Vec<f64> = consumers.iter().map(|c| c.facility_kwh).collect();
    let location_kg: Vec<f64> = consumers.iter().map(|c| c.location_kg).collect();
    let (facility_kwh, location_kg) = (&facility_kwh[..], &location_kg[..]);
    let mut m = Market {
        kg: vec![0.0; consumers.len()],
        covered_kwh: vec![0.0; consumers.len()],
        ..Default::default()
    };
    let mut no_site = 0usize;
    let mut by_site: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in consumers.iter().enumerate() {
        match c.site.as_deref().and_then(|s| cfg.site(s)) {
            Some(s) => by_site.entry(s.id.as_str()).or_default().push(i),
            None => {
                // No site: no instruments, no residual mix; the grid factor stands in.
                m.kg[i] = location_kg[i];
                no_site += 1;
            }
        }
    }
    for site in &cfg.sites {
        if !site.kind.scope2() {
            refuse_instruments(cfg, site, &mut m);
        }
        match by_site.get(site.id.as_str()) {
            None if !site.kind.scope2() => {}
            None => unused_instruments(site, period, &mut m),
            Some(jobs) => {
                let mut a = SiteAllocation {
                    site,
                    jobs,
                    facility_kwh,
                    location_kg,
                    slices: slices(site, period),
                    uncovered: Vec::new(),
                };
                a.uncovered = a.spread(consumers);
                for ins in site.instruments.iter().filter(|_| site.kind.scope2()) {
                    a.instrument(ins, period, &mut m);
                }
                a.rest(cfg, &mut m);
            }
        }
    }
    if no_site > 0 {
        m.findings.push(Finding::warning(
            codes::MARKET_NO_RESIDUAL,
            format!("{no_site} job(s) have no site, so no instruments or residual mix apply: their market-based figure uses the grid factor"),
        ));
    }
    m
}

/// A cloud site's instruments: the provider buys the electricity, so the organisation's
/// certificates cannot cover it (GHG Protocol Scope 2 Guidance, quality criteria; the compute
/// is Scope 3 category 1). Each is an error finding, and none is applied or listed.
fn refuse_instruments(cfg: &Config, site: &Site, m: &mut Market) {
    for ins in &site.instruments {
        let f = Finding::error(
                codes::MARKET_CLOUD_INSTRUMENT,
                format!("instrument '{}' ({} {} MWh) of site {} is not applied: {} is a cloud site, whose electricity the provider buys; the organisation's certificates cannot cover it (the compute is Scope 3 category 1). Move the instrument to an owned or colocation site, or remove it", ins.reference, ins.kind, ins.mwh, site.id, site.id),
            );
        m.findings.push(match &cfg.config_file {
            Some(c) => f.at(&c.shown, Some(site.line)),
            None => f,
        });
    }
}

/// A site with no jobs: its instruments are listed, all surplus.
fn unused_instruments(site: &Site, period: &Period, m: &mut Market) {
    for ins in &site.instruments {
        let available = available_mwh(ins.mwh, &ins.period, period);
        m.instruments.push(InstrumentUse {
            site: site.id.clone(),
            kind: ins.kind.clone(),
            period: ins.period.label.clone(),
            reference: ins.reference.clone(),
            intensity_g_per_kwh: ins.intensity_g_per_kwh,
            mwh: ins.mwh,
            available_mwh: available,
            consumption_mwh: 0.0,
            allocated_mwh: 0.0,
            surplus_mwh: available,
            share_covered: None,
            technology: ins.technology.clone(),
            market: ins.market.clone(),
        });
    }
}

/// Elementary slices: the reporting period cut at every instrument boundary of the site.
fn slices(site: &Site, period: &Period) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut cuts = vec![period.start, period.end];
    for ins in &site.instruments {
        for t in [ins.period.start, ins.period.end] {
            if t > period.start && t < period.end {
                cuts.push(t);
            }
        }
    }
    cuts.sort();
    cuts.dedup();
    cuts.windows(2).map(|w| (w[0], w[1])).collect()
}

/// One site's allocation in progress.
struct SiteAllocation<'a> {
    site: &'a Site,
    /// The rows at the site.
    jobs: &'a [usize],
    facility_kwh: &'a [f64],
    location_kg: &'a [f64],
    slices: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// `uncovered[j][k]`: facility kWh of the site's job j in slice k not yet covered.
    uncovered: Vec<Vec<f64>>,
}

impl SiteAllocation<'_> {
    /// Each consumer's facility energy spread evenly over its time in the period, per slice.
    fn spread(&self, consumers: &[Consumer]) -> Vec<Vec<f64>> {
        self.jobs
            .iter()
            .map(|&i| {
                let (a, b) = (consumers[i].start, consumers[i].end);
                let span = overlap_s(a, b, a, b);
                self.slices
                    .iter()
                    .map(|&(s, e)| {
                        if span > 0.0 {
                            self.facility_kwh[i] * overlap_s(a, b, s, e) / span
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// Allocate one instrument pro rata over the uncovered energy of the slices inside its
    /// period; list it, its factor and any surplus.
    fn instrument(&mut self, ins: &Instrument, period: &Period, m: &mut Market) {
        let site = self.site;
        let inside: Vec<usize> = (0..self.slices.len())
            .filter(|&k| self.slices[k].0 >= ins.period.start && self.slices[k].1 <= ins.period.end)
            .collect();
        let consumption: f64 = self
            .uncovered
            .iter()
            .map(|u| inside.iter().map(|&k| u[k]).sum::<f64>())
            .sum();
        let available = available_mwh(ins.mwh, &ins.period, period) * 1000.0;
        let ratio = if consumption > 0.0 {
            (available / consumption).min(1.0)
        } else {
            0.0
        };
        let mut allocated = 0.0;
        for (jj, u) in self.uncovered.iter_mut().enumerate() {
            for &k in &inside {
                let c = u[k] * ratio;
                u[k] -= c;
                allocated += c;
                m.kg[self.jobs[jj]] += c * ins.intensity_g_per_kwh / 1000.0;
                m.covered_kwh[self.jobs[jj]] += c;
            }
        }
        m.factors.push(FactorUse {
            name: format!("instrument {} {} {}", site.id, ins.kind, ins.period.label),
            value: ins.intensity_g_per_kwh,
            unit: "gCO2e/kWh".into(),
            source: if ins.reference.is_empty() {
                format!("greenledger.toml [[site.instrument]] of {}", site.id)
            } else {
                ins.reference.clone()
            },
            year: None,
        });
        m.instruments.push(InstrumentUse {
            site: site.id.clone(),
            kind: ins.kind.clone(),
            period: ins.period.label.clone(),
            reference: ins.reference.clone(),
            intensity_g_per_kwh: ins.intensity_g_per_kwh,
            mwh: ins.mwh,
            available_mwh: available / 1000.0,
            consumption_mwh: consumption / 1000.0,
            allocated_mwh: allocated / 1000.0,
            surplus_mwh: (available - allocated).max(0.0) / 1000.0,
            share_covered: (consumption > 0.0).then(|| allocated / consumption),
            technology: ins.technology.clone(),
            market: ins.market.clone(),
        });
        if available > allocated + 1e-9 {
            m.findings.push(Finding::info(
                codes::MARKET_SURPLUS,
                format!(
                    "site '{}': {} {} has {:.3} MWh more than the site consumed in its period; the surplus is reported, not carried over",
                    site.id,
                    ins.kind,
                    ins.period.label,
                    (available - allocated) / 1000.0
                ),
            ));
        }
    }

    /// The energy no instrument covers: the residual mix, else the grid factor (a warning
    /// naming the site).
    fn rest(&self, cfg: &Config, m: &mut Market) {
        let site = self.site;
        let mut fallback_kwh = 0.0;
        for (jj, u) in self.uncovered.iter().enumerate() {
            let i = self.jobs[jj];
            let rest: f64 = u.iter().sum();
            match site.residual_mix_g_per_kwh {
                Some(g) => m.kg[i] += rest * g / 1000.0,
                None => {
                    if self.facility_kwh[i] > 0.0 {
                        m.kg[i] += self.location_kg[i] * rest / self.facility_kwh[i];
                    }
                    fallback_kwh += rest;
                }
            }
        }
        match site.residual_mix_g_per_kwh {
            Some(g) => m.factors.push(FactorUse {
                name: format!("residual mix {}", site.id),
                value: g,
                unit: "gCO2e/kWh".into(),
                source: format!("greenledger.toml [[site]] {} residual_mix_g_per_kwh", site.id),
                year: None,
            }),
            // A cloud site's market-based figure is no Scope 2 disclosure: no residual mix is
            // asked for.
            None if fallback_kwh > 0.0 && site.kind.scope2() => m.findings.push(
                Finding::warning(
                    codes::MARKET_NO_RESIDUAL,
                    format!(
                        "site '{}' has no residual_mix_g_per_kwh: {:.3} MWh not covered by instruments take the grid (location) factor in the market-based figure; give the supplier's residual mix",
                        site.id,
                        fallback_kwh / 1000.0
                    ),
                )
                .at(&cfg.config_file.as_ref().map(|f| f.shown.clone()).unwrap_or_default(), Some(site.line)),
            ),
            None => {}
        }
    }
}

/// The part of an instrument's MWh that falls in the reporting period, by time.
fn available_mwh(mwh: f64, ins: &Period, report: &Period) -> f64 {
    let len = overlap_s(ins.start, ins.end, ins.start, ins.end);
    if len <= 0.0 {
        return 0.0;
    }
    mwh * overlap_s(ins.start, ins.end, report.start, report.end) / len
}
