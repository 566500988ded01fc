//! The inventory section: per site, the waterfall from the jobs' energy to the site's
//! electricity, and the reconciliation table per site and month with its totals.

use super::layout::*;
use crate::report::{InventoryRow, Report};

/// Inventory and reconciliation.
pub(super) fn inventory(l: &mut Layout, r: &Report) {
    l.section("Inventory and reconciliation");
    l.para("From each job's energy to the electricity the sites bought: accelerators and host within jobs, energy no job claims (idle), the facility overhead (PUE), and, where a meter reconciles it, what only the meter saw (unattributed). Idle and unattributed energy are in the organisation's Scope 2, not in the teams' figures.");
    for c in r.charts.iter().filter(|c| c.id.starts_with("waterfall_")) {
        l.chart(c);
    }
    let cell = |row: &InventoryRow| {
        vec![
            row.site.clone().unwrap_or_else(|| "(no site)".into()),
            row.period.clone(),
            on(row.accelerator_kwh, 1),
            on(row.host_kwh, 1),
            n(row.unsplit_kwh, 1),
            on(row.idle_kwh, 1),
            n(row.it_energy_kwh, 1),
            n(row.facility_energy_kwh, 1),
            on(row.metered_kwh, 1),
            on(row.unattributed_kwh, 1),
            on(row.measured_pue, 3),
            n(row.scope2_kwh, 1),
            n(row.location_kgco2e, 1),
            n(row.market_kgco2e, 1),
        ]
    };
    let mut rows: Vec<Vec<String>> = r.inventory.sites.iter().map(cell).collect();
    let mut total = cell(&r.inventory.totals);
    total[0] = "total".into();
    rows.push(total);
    l.table(
        &[
            col("site", 1.3, false),
            col("month", 1.0, false),
            col("accel. kWh", 1.0, true),
            col("host kWh", 1.0, true),
            col("split unknown", 1.0, true),
            col("idle kWh", 1.0, true),
            col("IT kWh", 1.0, true),
            col("facility kWh", 1.0, true),
            col("metered kWh", 1.0, true),
            col("unattrib. kWh", 1.0, true),
            col("meas. PUE", 0.8, true),
            col("scope 2 kWh", 1.0, true),
            col("location kgCO₂e", 1.0, true),
            col("market kgCO₂e", 1.0, true),
        ],
        &rows,
        6.5,
    );
    l.note("A dash is unknown, never zero: idle energy needs power telemetry of the site's nodes, host energy node power or [[hardware]] host_w_per_device, and the unattributed line a meter reading. Meters covering part of a month are scaled to it by time (see Findings).");
}

/// Scope 3 category 1, the cloud share: per cloud site and in total, with the provider's own
/// figure where its export was given. Nothing without cloud sites.
pub(super) fn scope3(l: &mut Layout, r: &Report) {
    let c = &r.scope3.category_1_cloud;
    if c.sites.is_empty() {
        return;
    }
    l.section("Cloud compute (Scope 3, category 1)");
    l.para("A public cloud region's electricity is bought by the provider (its Scope 2); for the organisation the compute is a purchased service, GHG Protocol Scope 3 category 1, and its certificates cannot cover it. Jobs, models and teams keep these sites' footprint; the Scope 2 tables leave them out.");
    let mut rows: Vec<Vec<String>> = c
        .sites
        .iter()
        .map(|x| {
            let p = x.provider_reported.as_ref();
            vec![
                x.site.clone(),
                x.provider.clone().unwrap_or_else(|| "-".into()),
                x.region.clone().unwrap_or_else(|| "-".into()),
                n(x.kwh, 1),
                n(x.location_kgco2e, 1),
                n(x.market_kgco2e, 1),
                on(p.and_then(|p| p.location_kgco2e), 1),
                on(p.and_then(|p| p.market_kgco2e), 1),
                match (x.difference_kgco2e, x.difference_method.as_deref()) {
                    (Some(d), Some(m)) => format!("{} ({})", n(d, 1), m.trim_end_matches("-based")),
                    _ => "-".into(),
                },
            ]
        })
        .collect();
    let t = &c.totals;
    rows.push(vec![
        "total".into(),
        String::new(),
        String::new(),
        n(t.kwh, 1),
        n(t.location_kgco2e, 1),
        n(t.market_kgco2e, 1),
        String::new(),
        String::new(),
        String::new(),
    ]);
    l.table(
        &[
            col("site", 1.3, false),
            col("provider", 0.8, false),
            col("region", 1.2, false),
            col("kWh", 1.0, true),
            col("location kgCO₂e", 1.1, true),
            col("market kgCO₂e", 1.1, true),
            col("provider loc.", 1.0, true),
            col("provider mkt.", 1.0, true),
            col("difference", 1.3, true),
        ],
        &rows,
        7.0,
    );
}

/// The Scope 2 disclosure: per site and total, the instruments with their quality criteria,
/// and the exclusions.
pub(super) fn scope2(l: &mut Layout, r: &Report) {
    let d = &r.scope2;
    l.section("Scope 2 disclosure (GHG Protocol)");
    l.para("Location-based and market-based emissions side by side, per site and in total; the contractual instruments applied, and the residual mix for what they do not cover.");
    let site_row = |x: &crate::report::scope2::Scope2Site| {
        vec![
            x.site.clone(),
            x.zone.clone().unwrap_or_else(|| "-".into()),
            n(x.mwh, 3),
            n(x.location_tco2e, 3),
            n(x.market_tco2e, 3),
            n(x.instruments_mwh, 3),
            pct(x.share_not_covered),
            on(x.residual_mix_g_per_kwh, 1),
        ]
    };
    let mut rows: Vec<Vec<String>> = d.sites.iter().map(site_row).collect();
    rows.push(site_row(&d.total));
    l.table(
        &[
            col("site", 1.3, false),
            col("zone", 1.0, false),
            col("MWh", 1.0, true),
            col("location tCO₂e", 1.0, true),
            col("market tCO₂e", 1.0, true),
            col("instruments MWh", 1.0, true),
            col("not covered", 0.9, true),
            col("residual g/kWh", 1.0, true),
        ],
        &rows,
        7.0,
    );
    let rows: Vec<Vec<String>> = d
        .instruments
        .iter()
        .map(|i| {
            vec![
                i.site.clone(),
                i.kind.clone(),
                i.technology.clone().unwrap_or_else(|| "-".into()),
                n(i.mwh, 3),
                i.share_of_consumption
                    .map(pct)
                    .unwrap_or_else(|| "-".into()),
                i.vintage.clone(),
                i.vintage_in_reporting_year.to_string(),
                i.same_market.to_string(),
                i.reference.clone(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        l.table(
            &[
                col("site", 1.2, false),
                col("kind", 0.6, false),
                col("technology", 0.9, false),
                col("MWh", 0.8, true),
                col("share", 0.7, true),
                col("vintage", 0.8, false),
                col("vintage in year", 0.9, false),
                col("same market", 0.9, false),
                col("reference", 2.6, false),
            ],
            &rows,
            6.5,
        );
    }
    l.note(&format!("Excluded: {}.", d.exclusions.join("; ")));
    scope2_hourly(l, r);
}

/// The hourly Scope 2 beside the 2015 rules: per site and in total, the exemption options,
/// and each site's day-by-hour heat map of matched share.
fn scope2_hourly(l: &mut Layout, r: &Report) {
    let Some(h) = &r.scope2.hourly else {
        return;
    };
    l.heading("Hour by hour: granular certificates and the 24/7 carbon-free score");
    l.para(&format!(
        "The GHG Protocol's Scope 2 revision proposes that certificates cover consumption of the same hour and market, unmatched hours at the residual mix. Beside the 2015 rules above, the same consumption matched hour by hour; the headline uses the {} method.",
        h.headline_method
    ));
    let row = |name: &str, a: &crate::ledger::hourly::HourlyAmounts| {
        vec![
            name.to_string(),
            n(a.consumption_kwh, 1),
            n(a.matched_kwh, 1),
            a.matched_share.map(pct).unwrap_or_else(|| "-".into()),
            n(a.excess_kwh, 1),
            n(a.not_deliverable_kwh, 1),
            n(a.market_kgco2e, 1),
            on(a.market_2015_kgco2e, 1),
            a.cfe_score.map(pct).unwrap_or_else(|| "-".into()),
        ]
    };
    let mut rows: Vec<Vec<String>> = h.sites.iter().map(|s| row(&s.site, &s.amounts)).collect();
    rows.push(row("total", &h.totals));
    l.table(
        &[
            col("site", 1.2, false),
            col("consumption kWh", 1.0, true),
            col("matched kWh", 0.9, true),
            col("matched", 0.7, true),
            col("excess kWh", 0.8, true),
            col("not deliverable", 0.9, true),
            col("market kg, hourly", 0.9, true),
            col("market kg, 2015", 0.9, true),
            col("CFE score", 0.7, true),
        ],
        &rows,
        6.5,
    );
    let options: Vec<String> = h
        .exemption
        .options
        .iter()
        .map(|o| {
            format!(
                "{} {} GWh",
                if o.under { "under" } else { "over" },
                n(o.gwh_per_year, 0)
            )
        })
        .collect();
    l.note(&format!(
        "An hour's excess is not carried over; certificates of another market zone are not deliverable. The CFE score adds the grid's carbon-free share of each unmatched hour. The organisation's consumption, {} GWh a year at this period's rate, is {} (the small-consumer options discussed).",
        n(h.exemption.annual_gwh, 3),
        options.join(", ")
    ));
    for s in &h.sites {
        let (prims, height) =
            crate::render::chart::heatmap(&crate::render::chart::heat_days(r, &s.site));
        l.para(&format!(
            "{}: the share of each hour's consumption matched (UTC; grey: none consumed).",
            s.site
        ));
        l.prims(prims, height);
    }
}
