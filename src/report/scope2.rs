//! The GHG Protocol Scope 2 disclosure table: per site and in total, location- and market-based
//! emissions side by side with the energy; the contractual instruments by kind and technology
//! with their share, vintage and reference, and the quality criteria each meets or lacks
//! (vintage in the reporting year, same market as the site's zone); the residual mix used and
//! its source; the share not covered; and what the inventory leaves out.

use crate::config::Site;
use crate::ledger::{InstrumentUse, Inventory};
use serde::Serialize;
use std::collections::BTreeMap;

/// One site, or the total (`site` = "total").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scope2Site {
    pub site: String,
    pub zone: Option<String>,
    pub mwh: f64,
    pub location_tco2e: f64,
    pub market_tco2e: f64,
    pub instruments_mwh: f64,
    /// Share of the energy covered by instruments, and the rest.
    pub share_covered: f64,
    pub share_not_covered: f64,
    pub residual_mix_g_per_kwh: Option<f64>,
    pub residual_mix_source: String,
}

/// One instrument as the disclosure lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scope2Instrument {
    pub site: String,
    pub kind: String,
    pub technology: Option<String>,
    pub mwh: f64,
    pub share_of_consumption: Option<f64>,
    pub vintage: String,
    pub reference: String,
    /// "meets" or "lacks".
    pub vintage_in_reporting_year: &'static str,
    /// "meets", "lacks", or "unknown" (no `market` on the instrument, or a cloud region).
    pub same_market: &'static str,
}

/// The whole table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scope2 {
    pub sites: Vec<Scope2Site>,
    pub total: Scope2Site,
    pub instruments: Vec<Scope2Instrument>,
    pub exclusions: Vec<String>,
    /// The hourly-matched Scope 2 (granular certificates) beside the 2015 figures above;
    /// `null` without certificates.
    pub hourly: Option<crate::ledger::hourly::Scope2Hourly>,
}

/// The hourly Scope 2 with each site's (and the total's) 2015 market-based figure beside it.
pub fn with_2015(
    mut h: crate::ledger::hourly::Scope2Hourly,
    table: &Scope2,
) -> crate::ledger::hourly::Scope2Hourly {
    for s in &mut h.sites {
        s.amounts.market_2015_kgco2e = table
            .sites
            .iter()
            .find(|x| x.site == s.site)
            .map(|x| x.market_tco2e * 1000.0);
    }
    h.totals.market_2015_kgco2e = h
        .sites
        .iter()
        .map(|s| s.amounts.market_2015_kgco2e)
        .sum::<Option<f64>>();
    h
}

/// The two-letter country of a grid zone (`SE3` -> SE, `US-CAL-CISO` -> US); `None` for cloud
/// regions and other codes.
pub fn country(zone: &str) -> Option<String> {
    if zone.contains(':') {
        return None;
    }
    let c: String = zone
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    (c.len() == 2).then(|| c.to_uppercase())
}

/// The table from the inventory, the instruments and the sites' configuration; `year` is the
/// reporting period's.
pub fn table(
    inv: &Inventory,
    instruments: &[InstrumentUse],
    sites: &[Site],
    year: i32,
    no_site_idle_kwh: f64,
) -> Scope2 {
    let mut by_site = site_rows(inv, sites);
    let listed = instruments
        .iter()
        .map(|i| {
            if let Some(s) = by_site.get_mut(&i.site) {
                s.instruments_mwh += i.allocated_mwh;
            }
            instrument(i, sites, year)
        })
        .collect();
    let t = &inv.totals;
    let mut total = Scope2Site {
        site: "total".into(),
        zone: None,
        mwh: t.scope2_kwh / 1000.0,
        location_tco2e: t.location_kgco2e / 1000.0,
        market_tco2e: t.market_kgco2e / 1000.0,
        instruments_mwh: instruments.iter().map(|i| i.allocated_mwh).sum(),
        share_covered: 0.0,
        share_not_covered: 1.0,
        residual_mix_g_per_kwh: None,
        residual_mix_source: "per site".into(),
    };
    let mut sites_out: Vec<Scope2Site> = by_site.into_values().collect();
    for s in sites_out.iter_mut().chain(std::iter::once(&mut total)) {
        s.share_covered = if s.mwh > 0.0 {
            (s.instruments_mwh / s.mwh).min(1.0)
        } else {
            0.0
        };
        s.share_not_covered = 1.0 - s.share_covered;
    }
    Scope2 {
        sites: sites_out,
        total,
        instruments: listed,
        exclusions: exclusions(no_site_idle_kwh),
        hourly: None,
    }
}

/// Each site's energy and emissions over the period's months, with its residual mix.
fn site_rows(inv: &Inventory, sites: &[Site]) -> BTreeMap<String, Scope2Site> {
    let mut by_site: BTreeMap<String, Scope2Site> = BTreeMap::new();
    for row in &inv.sites {
        let id = row.site.clone().unwrap_or_else(|| "(no site)".into());
        let cfg = sites.iter().find(|s| Some(&s.id) == row.site.as_ref());
        let residual = cfg.and_then(|s| s.residual_mix_g_per_kwh);
        let e = by_site.entry(id.clone()).or_insert_with(|| Scope2Site {
            site: id,
            zone: cfg.and_then(|s| s.zone.clone()),
            mwh: 0.0,
            location_tco2e: 0.0,
            market_tco2e: 0.0,
            instruments_mwh: 0.0,
            share_covered: 0.0,
            share_not_covered: 1.0,
            residual_mix_g_per_kwh: residual,
            residual_mix_source: match (residual, cfg) {
                (Some(_), Some(c)) => {
                    format!("greenledger.toml [[site]] {} residual_mix_g_per_kwh", c.id)
                }
                _ => "none configured: the location-based factor stands in (a warning says so)"
                    .into(),
            },
        });
        e.mwh += row.scope2_kwh / 1000.0;
        e.location_tco2e += row.location_kgco2e / 1000.0;
        e.market_tco2e += row.market_kgco2e / 1000.0;
    }
    by_site
}

/// An instrument with the GHG Protocol criteria it meets or lacks.
fn instrument(i: &InstrumentUse, sites: &[Site], year: i32) -> Scope2Instrument {
    let zone = sites
        .iter()
        .find(|s| s.id == i.site)
        .and_then(|s| s.zone.clone());
    Scope2Instrument {
        site: i.site.clone(),
        kind: i.kind.clone(),
        technology: i.technology.clone(),
        mwh: i.allocated_mwh,
        share_of_consumption: i.share_covered,
        vintage: i.period.clone(),
        reference: i.reference.clone(),
        vintage_in_reporting_year: if i.period.starts_with(&year.to_string()) {
            "meets"
        } else {
            "lacks"
        },
        same_market: match (i.market.as_deref(), zone.as_deref().and_then(country)) {
            (Some(m), Some(c)) if country(m).as_deref() == Some(c.as_str()) => "meets",
            (Some(_), Some(_)) => "lacks",
            _ => "unknown",
        },
    }
}

/// What the inventory leaves out.
fn exclusions(no_site_idle_kwh: f64) -> Vec<String> {
    let mut out = vec![
        "Scope 1 and Scope 3 other than the accelerators' embodied emissions (reported apart)".to_string(),
        "energy outside the compute boundary: offices, networks beyond the sites' meters, serving not listed as jobs".to_string(),
    ];
    if no_site_idle_kwh > 0.0 {
        out.push(format!("idle energy of nodes that belong to no site: {no_site_idle_kwh:.3} kWh (name them in a [[site]] nodes list)"));
    }
    out
}
