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
