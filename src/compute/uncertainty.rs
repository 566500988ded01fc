//! Uncertainty bounds: each job's emissions get a low and a high value from documented relative
//! uncertainties per energy tier and per factor kind, combined in quadrature (independent
//! errors). Sums of bounds are taken as fully correlated (low and high add up), which is the
//! conservative choice for totals.

use super::resolve::Resolved;
pub(crate) use crate::config::uncertainty::Uncertainty;
use crate::ledger::Tier;

impl Uncertainty {
    /// Relative uncertainty of a job's IT energy.
    pub fn energy(&self, r: &Resolved) -> f64 {
        match r.tier {
            Tier::Metered => self.metered,
            Tier::Sampled => {
                let (s, i) = (r.sampled_kwh.unwrap_or(0.0), r.imputed_kwh.unwrap_or(0.0));
                if s + i > 0.0 {
                    (s * self.sampled + i * self.imputed) / (s + i)
                } else {
                    self.sampled
                }
            }
            Tier::Estimated if r.job.avg_power_w.is_some() => self.estimated_measured_power,
            Tier::Estimated => self.estimated_tdp,
        }
    }

    /// Relative uncertainties of a job's location- and market-based emissions; `covered` is
    /// the share of its facility energy covered by instruments.
    pub fn relative(&self, r: &Resolved, covered: f64) -> (f64, f64) {
        let e = self.energy(r);
        let grid = if r.zone.starts_with("site:") {
            self.grid_site
        } else if r.hourly {
            self.grid_hourly
        } else {
            self.grid_annual
        };
        let loc = (e * e + self.pue * self.pue + grid * grid).sqrt();
        let factor = covered * self.instrument + (1.0 - covered) * self.residual_mix.max(grid);
        let mkt = (e * e + self.pue * self.pue + factor * factor).sqrt();
        (loc, mkt)
    }
}

/// (low, high) of `kg` with relative uncertainty `rel`, never below zero.
pub(crate) fn bounds(kg: f64, rel: f64) -> (f64, f64) {
    ((kg * (1.0 - rel)).max(0.0), kg * (1.0 + rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadrature_and_clamping() {
        let u = Uncertainty::default();
        // Estimated from TDP with an annual factor: sqrt(0.3^2 + 0.05^2 + 0.15^2).
        let want: f64 = (0.09f64 + 0.0025 + 0.0225).sqrt();
        assert!((want - 0.33911649915626).abs() < 1e-12);
        assert_eq!(bounds(10.0, 0.25), (7.5, 12.5));
        assert_eq!(bounds(10.0, 1.5), (0.0, 25.0));
        assert!(
            u.estimated_tdp > u.estimated_measured_power && u.estimated_measured_power > u.metered
        );
        assert!(u.grid_annual > u.grid_site && u.grid_site > u.grid_hourly);
    }
}
