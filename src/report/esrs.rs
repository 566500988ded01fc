//! ESRS E1 datapoints (CSRD climate disclosures) of the compute boundary, from the complete
//! inventory: energy consumption, gross location- and market-based Scope 2, renewable energy
//! and its share, and (with `[report] net_revenue`) the intensities per net revenue. Element
//! names are those of the ESRS XBRL taxonomy (2023-12-22). These are the compute boundary's
//! contribution to the entity's figures, not the entity's totals.

use crate::config::NetRevenue;
use crate::findings::{codes, Finding};
use crate::ledger::{InstrumentUse, Inventory};
use serde::Serialize;

/// Technologies whose certificates count as renewable energy.
const RENEWABLE: [&str; 11] = [
    "wind",
    "solar",
    "hydro",
    "hydroelectric",
    "geothermal",
    "biomass",
    "biogas",
    "tidal",
    "wave",
    "ocean",
    "renewable",
];

/// Where the datapoints' figures come from, as report.json names it (the CSV adds its sha256).
pub const SOURCE: &str = "report.json of this run (sha256 in manifest.json)";

/// One datapoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EsrsRow {
    pub element: &'static str,
    pub label: &'static str,
    pub value: f64,
    pub unit: String,
    pub period: String,
    /// The sites included (their ids; jobs without a site as `(no site)`).
    pub scope: String,
    pub method: &'static str,
    pub source: String,
}

fn renewable(technology: Option<&str>) -> bool {
    technology.is_some_and(|t| RENEWABLE.contains(&t))
}

/// The datapoints, and a finding per instrument whose technology is not given (not counted
/// as renewable).
pub fn datapoints(
    inv: &Inventory,
    cloud: &super::scope3::Category1Cloud,
    instruments: &[InstrumentUse],
    period: &str,
    revenue: Option<&NetRevenue>,
    config: Option<&str>,
) -> (Vec<EsrsRow>, Vec<Finding>) {
    let t = &inv.totals;
    let mut sites: Vec<String> = inv
        .sites
        .iter()
        .map(|s| s.site.clone().unwrap_or_else(|| "(no site)".into()))
        .collect();
    sites.sort();
    sites.dedup();
    let scope = sites.join(", ");
    let mwh = t.scope2_kwh / 1000.0;
    let renewable_mwh: f64 = instruments
        .iter()
        .filter(|i| renewable(i.technology.as_deref()))
        .map(|i| i.allocated_mwh)
        .sum();
    let row = |element, label, value: f64, unit: &str, method| EsrsRow {
        element,
        label,
        value,
        unit: unit.to_string(),
        period: period.to_string(),
        scope: scope.clone(),
        method,
        source: SOURCE.to_string(),
    };
    let mut rows = vec![
        row("esrs:EnergyConsumptionRelatedToOwnOperations", "Energy consumption (compute boundary)", mwh, "MWh", "the inventory's Scope 2 energy: facility energy of jobs, idle and unattributed IT energy, or the site meters where they read more"),
        row("esrs:GrossLocationBasedScope2GreenhouseGasEmissions", "Gross location-based Scope 2 GHG emissions", t.location_kgco2e / 1000.0, "tCO2e", "GHG Protocol Scope 2 location-based: grid-average intensity of each site's zone (hourly where given)"),
        row("esrs:GrossMarketBasedScope2GreenhouseGasEmissions", "Gross market-based Scope 2 GHG emissions", t.market_kgco2e / 1000.0, "tCO2e", "GHG Protocol Scope 2 market-based: contractual instruments in time, then the residual mix (location-based where none is configured)"),
        row("esrs:EnergyConsumptionFromRenewableSources", "Energy consumption from renewable sources", renewable_mwh, "MWh", "energy covered by contractual instruments whose technology is renewable (wind, solar, hydro, geothermal, biomass, ...)"),
        row("esrs:PercentageOfRenewableSourcesInTotalEnergyConsumption", "Share of renewable sources in energy consumption", if mwh > 0.0 { 100.0 * renewable_mwh / mwh } else { 0.0 }, "%", "renewable energy over energy consumption"),
    ];
    let c = &cloud.totals;
    if !cloud.sites.is_empty() {
        let mut clouds: Vec<&str> = cloud.sites.iter().map(|s| s.site.as_str()).collect();
        clouds.sort();
        rows.push(EsrsRow {
            scope: clouds.join(", "),
            ..row(
                "esrs:GrossScope3GreenhouseGasEmissions",
                "Gross Scope 3 GHG emissions: category 1, cloud compute (compute boundary)",
                c.location_kgco2e / 1000.0,
                "tCO2e",
                "GHG Protocol Scope 3 category 1 (purchased goods and services), the cloud share only: the facility energy of the cloud sites x the grid-average intensity of each region (location-based); the providers' own figures are in scope3 of report.json where their exports are given",
            )
        });
    }
    if let Some(r) = revenue.filter(|r| r.amount > 0.0) {
        let unit = format!("tCO2e/{}", r.currency);
        rows.push(row(
            "esrs:GHGEmissionsIntensityLocationbasedTotalGHGEmissionsPerNetRevenue",
            "GHG intensity per net revenue (location-based, compute boundary)",
            (t.location_kgco2e + c.location_kgco2e) / 1000.0 / r.amount,
            &unit,
            "gross location-based Scope 2, plus Scope 3 category 1 cloud compute, over [report] net_revenue",
        ));
        rows.push(row(
            "esrs:GHGEmissionsIntensityMarketbasedTotalGHGEmissionsPerNetRevenue",
            "GHG intensity per net revenue (market-based, compute boundary)",
            (t.market_kgco2e + c.location_kgco2e) / 1000.0 / r.amount,
            &unit,
            "gross market-based Scope 2, plus Scope 3 category 1 cloud compute (location-based), over [report] net_revenue",
        ));
    }
    let findings = instruments
        .iter()
        .filter(|i| i.technology.is_none())
        .map(|i| {
            let f = Finding::warning(
                codes::ESRS_NO_TECHNOLOGY,
                format!("instrument '{}' of site {} names no technology, so its {:.3} MWh are not counted as renewable energy in ESRS E1; add technology = \"wind\" (or solar, hydro, ...) to its [[site.instrument]]", i.reference, i.site, i.allocated_mwh),
            );
            match config {
                Some(c) => f.at(c, None),
                None => f,
            }
        })
        .collect();
    (rows, findings)
}
