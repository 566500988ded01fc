//! The one definition of the figures every job carries and every site, model, team and total
//! sums: their names (the job frame's columns, report.json's keys, the CSV headers), how a sum
//! treats unknown values, and the typed [`Amounts`] that holds them.
//!
//! A new figure is one entry in [`figures!`] below. The compiler then asks for its rule in
//! `compute::emissions::rule` (how the job frame computes it); the group-bys, the reading back
//! of the frame, report.json and the CSV tables follow from the entry.

use serde::Serialize;

/// How a figure behaves when summed, and its Rust type in [`Amounts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Every job has it (`f64`); a sum over no job is 0.
    Total,
    /// Some jobs have it (`Option<f64>`); a sum over jobs that all lack it is unknown (`null`),
    /// never zero.
    Known,
    /// A ratio of other figures, computed after summing (see [`Amounts::derive`]); not a
    /// column of the job frame.
    Ratio,
}

macro_rules! figure_type {
    (Total) => { f64 };
    (Known) => { Option<f64> };
    (Ratio) => { Option<f64> };
}

macro_rules! figure_value {
    (Total, $v:expr) => {
        $v.unwrap_or(0.0)
    };
    (Known, $v:expr) => {
        $v
    };
    (Ratio, $v:expr) => {
        None
    };
}

macro_rules! figure_read {
    (Total, $v:expr) => {
        Some($v)
    };
    (Known, $v:expr) => {
        $v
    };
    (Ratio, $v:expr) => {
        $v
    };
}

/// Declares [`Figure`] and [`Amounts`] from one list: `Variant field: Kind`, in report.json's
/// key order, each with its documentation and serde attributes.
macro_rules! figures {
    ($(
        $(#[$meta:meta])*
        $var:ident $field:ident: $kind:ident
    ),* $(,)?) => {
        /// A figure of [`Amounts`], named by type so that a misspelt figure does not compile.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Figure {
            $($var),*
        }

        impl Figure {
            /// Every figure, in report.json's order.
            pub const ALL: &'static [Figure] = &[$(Figure::$var),*];

            /// Its key in report.json and the CSV tables, and its column in the job frame.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Figure::$var => stringify!($field)),*
                }
            }

            /// How it sums.
            pub const fn kind(self) -> Kind {
                match self {
                    $(Figure::$var => Kind::$kind),*
                }
            }
        }

        /// Summed quantities: the keys every level of report.json shares.
        #[derive(Debug, Clone, Default, PartialEq, Serialize)]
        pub struct Amounts {
            /// Jobs counted.
            pub jobs: u64,
            $($(#[$meta])* pub $field: figure_type!($kind),)*
        }

        impl Amounts {
            /// The amounts of `jobs` jobs whose summed figures `sum` gives (`None`: unknown),
            /// with the ratios derived; `location_with_tokens` is the location-based emissions
            /// of the jobs that give tokens.
            pub fn assemble(
                jobs: u64,
                sum: impl Fn(Figure) -> Option<f64>,
                location_with_tokens: f64,
            ) -> Amounts {
                let mut a = Amounts {
                    jobs,
                    $($field: figure_value!($kind, sum(Figure::$var)),)*
                };
                a.derive(location_with_tokens);
                a
            }

            /// One figure's value (`None`: unknown).
            pub fn get(&self, f: Figure) -> Option<f64> {
                match f {
                    $(Figure::$var => figure_read!($kind, self.$field)),*
                }
            }
        }
    };
}

figures! {
    /// Accelerator-hours inside the period.
    GpuHours gpu_hours: Total,
    /// The jobs' IT energy (see each job's `boundary`), kWh.
    ItEnergyKwh it_energy_kwh: Total,
    /// IT energy x PUE, kWh.
    FacilityEnergyKwh facility_energy_kwh: Total,
    /// Facility energy x the grid's intensity (location-based), kgCO2e.
    LocationKgco2e location_kgco2e: Total,
    /// Market-based emissions (GHG Protocol Scope 2): instruments, residual mix, else grid.
    MarketKgco2e market_kgco2e: Known,
    /// Sum over jobs whose hardware has known embodied emissions; `null` when none has.
    EmbodiedKgco2e embodied_kgco2e: Known,
    /// On-site water, over jobs at sites with a WUE; `null` when none has.
    WaterL water_l: Known,
    /// kgCO2e (location-based) per accelerator-hour.
    KgPerGpuHour kgco2e_per_gpu_hour: Ratio,
    /// Uncertainty bounds of the location- and market-based figures (see compute::uncertainty).
    LocationLow location_kgco2e_low: Known,
    LocationHigh location_kgco2e_high: Known,
    MarketLow market_kgco2e_low: Known,
    MarketHigh market_kgco2e_high: Known,
    /// Tokens processed (prorated), over the jobs that give them; `null` when none does.
    Tokens tokens: Known,
    /// kgCO2e (location-based) per million tokens, over the jobs that give tokens.
    KgPerMillionTokens kgco2e_per_million_tokens: Ratio,
    /// With `[accounting] overhead = "allocate"`: the idle and unattributed energy (facility
    /// level) and its location-based emissions carried, by energy share at each site and
    /// month; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    OverheadKwh overhead_kwh: Known,
    #[serde(skip_serializing_if = "Option::is_none")]
    OverheadKgco2e overhead_kgco2e: Known,
    /// With granular certificates (`--certificates`): the market-based emissions with the
    /// certificates matched hour by hour, over the jobs at owned and colocation sites; absent
    /// otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    MarketHourlyKgco2e market_hourly_kgco2e: Known,
}

impl Figure {
    /// Whether the job frame holds it (every figure but the ratios).
    pub const fn summed(self) -> bool {
        !matches!(self.kind(), Kind::Ratio)
    }

    /// Whether report.json leaves it out when unknown (the overhead figures exist only with
    /// `overhead = "allocate"`); the CSV tables leave these out altogether.
    pub const fn optional_key(self) -> bool {
        matches!(
            self,
            Figure::OverheadKwh | Figure::OverheadKgco2e | Figure::MarketHourlyKgco2e
        )
    }
}

impl Amounts {
    /// The ratios: per accelerator-hour over all jobs, per million tokens over the jobs that
    /// give tokens (so that jobs without tokens do not dilute it).
    fn derive(&mut self, location_with_tokens: f64) {
        self.kgco2e_per_gpu_hour = ratio(self.location_kgco2e, self.gpu_hours);
        self.kgco2e_per_million_tokens = self
            .tokens
            .and_then(|t| ratio(location_with_tokens, t / 1e6));
    }
}

/// `num / den`, `None` when the denominator is not positive.
pub(crate) fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| num / den)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_report_json_keys_in_order() {
        let a = Amounts::assemble(1, |_| Some(1.0), 1.0);
        let v = serde_json::to_value(&a).unwrap();
        let keys: std::collections::BTreeSet<&str> =
            v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let mut want = vec!["jobs"];
        want.extend(Figure::ALL.iter().map(|f| f.name()));
        assert_eq!(keys, want.iter().copied().collect());
        let text = serde_json::to_string(&a).unwrap();
        let positions: Vec<usize> = want
            .iter()
            .map(|k| text.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn unknowns_stay_unknown_and_totals_default_to_zero() {
        let a = Amounts::assemble(2, |_| None, 0.0);
        assert_eq!(a.gpu_hours, 0.0);
        assert_eq!(a.location_kgco2e, 0.0);
        assert_eq!(a.market_kgco2e, None);
        assert_eq!(a.tokens, None);
        assert_eq!(a.kgco2e_per_gpu_hour, None);
        let text = serde_json::to_string(&a).unwrap();
        assert!(!text.contains("overhead"), "{text}");
    }

    #[test]
    fn ratios_are_derived_by_hand() {
        // 12 kg over 40 GPU-hours; 9 kg of it from jobs giving 3 million tokens.
        let a = Amounts::assemble(
            3,
            |f| match f {
                Figure::LocationKgco2e => Some(12.0),
                Figure::GpuHours => Some(40.0),
                Figure::Tokens => Some(3e6),
                _ => None,
            },
            9.0,
        );
        assert_eq!(a.kgco2e_per_gpu_hour, Some(0.3));
        assert_eq!(a.kgco2e_per_million_tokens, Some(3.0));
        assert_eq!(a.get(Figure::GpuHours), Some(40.0));
        assert_eq!(a.get(Figure::KgPerGpuHour), Some(0.3));
    }
}
