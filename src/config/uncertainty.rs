//! Relative uncertainties as configured: greenledger's documented defaults with the
//! `[uncertainty]` overrides of greenledger.toml. `compute::uncertainty` applies them.

use serde::{Deserialize, Serialize};

/// Relative standard uncertainties (fractions). Defaults are greenledger's documented
/// assumptions; `[uncertainty]` in greenledger.toml overrides them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Uncertainty {
    /// Energy counters and trackers (metered tier).
    pub metered: f64,
    /// Integrated power samples (sampled tier), for the covered part.
    pub sampled: f64,
    /// The imputed part of a sampled job (uncovered time at the job's mean power).
    pub imputed: f64,
    /// Estimates from a measured average power (avg_power_w).
    pub estimated_measured_power: f64,
    /// Estimates from TDP x utilisation.
    pub estimated_tdp: f64,
    /// PUE of a site.
    pub pue: f64,
    /// Annual grid factor of a zone (embedded or from a factor file).
    pub grid_annual: f64,
    /// Hourly grid factors (job-weighted).
    pub grid_hourly: f64,
    /// A grid intensity configured on the site.
    pub grid_site: f64,
    /// Residual mix (market-based, energy not covered by instruments).
    pub residual_mix: f64,
    /// Contractual instruments' factors.
    pub instrument: f64,
}

impl Default for Uncertainty {
    fn default() -> Self {
        Uncertainty {
            metered: 0.05,
            sampled: 0.05,
            imputed: 0.20,
            estimated_measured_power: 0.15,
            estimated_tdp: 0.30,
            pue: 0.05,
            grid_annual: 0.15,
            grid_hourly: 0.05,
            grid_site: 0.10,
            residual_mix: 0.15,
            instrument: 0.0,
        }
    }
}
