//! What-ifs: per team, the emissions (location-based) a change would have saved. Pure.

use crate::ledger::{BestHardware, JobRow, SiteFactor, Tier};
use serde::Serialize;
use std::collections::BTreeMap;

/// One what-if.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatIf {
    pub team: String,
    pub kind: String,
    pub message: String,
    pub saving_kgco2e: f64,
}

/// The what-ifs of every team, largest saving first.
///
/// - `cleanest_site`: the jobs' IT energy at the configured site with the lowest PUE x intensity;
/// - `carbon_aware_shift`: each job moved within +-12 h to its cleanest window (hourly data);
/// - `avoid_failed_work`: the emissions of failed and cancelled jobs;
/// - `efficient_hardware`: estimate-only jobs (energy from TDP) moved to the accelerator with
///   the most TFLOPS per watt, for the same work (TFLOPS x hours) at the same utilisation.
pub fn whatifs(
    jobs: &[JobRow],
    sites: &[SiteFactor],
    best_hw: Option<&BestHardware>,
    hourly: &[crate::ledger::hourly::HourlyWhatIf],
) -> Vec<WhatIf> {
    let mut by_team: BTreeMap<&str, Vec<&JobRow>> = BTreeMap::new();
    for j in jobs {
        by_team.entry(j.team.as_str()).or_default().push(j);
    }
    let best = sites.iter().min_by(|a, b| {
        (a.pue * a.intensity_g_per_kwh)
            .total_cmp(&(b.pue * b.intensity_g_per_kwh))
            .then(a.site.cmp(&b.site))
    });
    let mut out: Vec<WhatIf> = Vec::new();
    for (team, js) in by_team {
        out.extend(best.and_then(|b| cleanest_site(team, &js, b)));
        out.extend(carbon_aware_shift(team, &js));
        out.extend(best_hw.and_then(|b| efficient_hardware(team, &js, b)));
        out.extend(avoid_failed_work(team, &js));
    }
    out.extend(hourly.iter().filter_map(hourly_matching));
    out.sort_by(|a, b| {
        b.saving_kgco2e
            .total_cmp(&a.saving_kgco2e)
            .then(a.team.cmp(&b.team))
            .then(a.kind.cmp(&b.kind))
    });
    out
}

/// `hourly_matching`: the team's jobs run in the hours their site's certificates went unmatched.
fn hourly_matching(w: &crate::ledger::hourly::HourlyWhatIf) -> Option<WhatIf> {
    let cfe = match (w.cfe_now, w.cfe_if_shifted) {
        (Some(a), Some(b)) => format!(
            "; its 24/7 CFE score at {} would go from {:.0} % to {:.0} %",
            w.site,
            a * 100.0,
            b * 100.0
        ),
        _ => String::new(),
    };
    saving(
        &w.team,
        "hourly_matching",
        w.saving_kgco2e,
        format!(
            "{:.1} kWh of its jobs at {} ran in hours no certificate covered, while {:.1} kWh of the site's certificates went unmatched in other hours: run then, {:.1} kWh more would be matched (market-based, hour by hour){cfe}",
            w.unmatched_kwh, w.site, w.excess_kwh, w.gain_kwh
        ),
    )
}

/// A what-if, when it saves anything.
fn saving(team: &str, kind: &str, saving: f64, message: String) -> Option<WhatIf> {
    (saving > 0.0).then(|| WhatIf {
        team: team.to_string(),
        kind: kind.into(),
        message,
        saving_kgco2e: saving,
    })
}

/// The team's IT energy at the configured site with the lowest PUE x intensity.
fn cleanest_site(team: &str, js: &[&JobRow], b: &SiteFactor) -> Option<WhatIf> {
    let s: f64 = js
        .iter()
        .map(|j| {
            let d = j.amounts.location_kgco2e
                - j.amounts.it_energy_kwh * b.pue * b.intensity_g_per_kwh / 1000.0;
            // A job already at the cleanest site differs from it only by rounding: no saving.
            if d > 1e-9 * j.amounts.location_kgco2e.abs() {
                d
            } else {
                0.0
            }
        })
        .sum();
    saving(team, "cleanest_site", s, format!("running {team}'s jobs at {} (PUE {:.2}, {:.0} gCO2e/kWh) would have emitted {s:.1} kgCO2e less", b.site, b.pue, b.intensity_g_per_kwh))
}

/// Each job with hourly data moved within +-12 h to its cleanest window.
fn carbon_aware_shift(team: &str, js: &[&JobRow]) -> Option<WhatIf> {
    let s: f64 = js
        .iter()
        .filter_map(|j| {
            j.shift_best_g_per_kwh.map(|g| {
                (j.amounts.facility_energy_kwh * (j.intensity_g_per_kwh - g) / 1000.0).max(0.0)
            })
        })
        .sum();
    saving(team, "carbon_aware_shift", s, format!("starting each job with hourly grid data up to 12 h earlier or later, in its cleanest window, would have saved {s:.1} kgCO2e"))
}

/// Estimate-only jobs (energy from TDP) on the accelerator with the most TFLOPS per watt, for
/// the same work: energy for the same work scales with watts per TFLOPS.
fn efficient_hardware(team: &str, js: &[&JobRow], b: &BestHardware) -> Option<WhatIf> {
    if !(b.tflops > 0.0 && b.tdp_w > 0.0) {
        return None;
    }
    let best_w_per_tflop = b.tdp_w / b.tflops;
    let s: f64 = js
        .iter()
        .filter(|j| j.energy_source == Tier::Estimated && j.mean_power_w.is_none())
        .filter_map(|j| {
            let (tdp, tf) = (j.tdp_w?, j.tflops?);
            (tf > 0.0 && tdp > 0.0).then(|| {
                (j.amounts.location_kgco2e * (1.0 - best_w_per_tflop / (tdp / tf))).max(0.0)
            })
        })
        .sum();
    saving(
        team,
        "efficient_hardware",
        s,
        format!(
            "running its estimate-only jobs' work on {} ({:.0} TFLOPS at {:.0} W, the most per watt in the hardware table) would have saved {s:.1} kgCO2e",
            b.name, b.tflops, b.tdp_w
        ),
    )
}

/// The emissions of the team's failed and cancelled jobs.
fn avoid_failed_work(team: &str, js: &[&JobRow]) -> Option<WhatIf> {
    let failed: Vec<&&JobRow> = js
        .iter()
        .filter(|j| j.status == "failed" || j.status == "cancelled")
        .collect();
    let waste: f64 = failed.iter().map(|j| j.amounts.location_kgco2e).sum();
    saving(team, "avoid_failed_work", waste, format!("the {} failed or cancelled job(s) emitted {waste:.1} kgCO2e; checkpointing and early validation avoid most of it", failed.len()))
}
