//! The practice rubric as configured: the embedded defaults (`rubric.toml`) with the
//! `[rubric.<practice>]` overrides of greenledger.toml, validated once. `score` applies it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The embedded default rubric.
pub(crate) const DEFAULT_RUBRIC: &str = include_str!("rubric.toml");

/// A practice that shrinks the footprint of training, scored 0..100. Its serde name
/// (`clean_energy`, ...) is its key in greenledger.toml, rubric.toml and report.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Practice {
    CleanEnergy,
    PretrainedReuse,
    Distillation,
    EfficientTraining,
    ComputeEfficiency,
    EfficientHardware,
    HardwareUtilisation,
    CarbonAware,
    LowWaste,
    Transparency,
}

impl Practice {
    /// The practices, in report order.
    pub const ALL: [Practice; 10] = [
        Practice::CleanEnergy,
        Practice::PretrainedReuse,
        Practice::Distillation,
        Practice::EfficientTraining,
        Practice::ComputeEfficiency,
        Practice::EfficientHardware,
        Practice::HardwareUtilisation,
        Practice::CarbonAware,
        Practice::LowWaste,
        Practice::Transparency,
    ];

    /// Its key (`clean_energy`).
    pub const fn name(self) -> &'static str {
        match self {
            Practice::CleanEnergy => "clean_energy",
            Practice::PretrainedReuse => "pretrained_reuse",
            Practice::Distillation => "distillation",
            Practice::EfficientTraining => "efficient_training",
            Practice::ComputeEfficiency => "compute_efficiency",
            Practice::EfficientHardware => "efficient_hardware",
            Practice::HardwareUtilisation => "hardware_utilisation",
            Practice::CarbonAware => "carbon_aware",
            Practice::LowWaste => "low_waste",
            Practice::Transparency => "transparency",
        }
    }

    /// Its name in prose (`clean energy`).
    pub fn label(self) -> String {
        self.name().replace('_', " ")
    }

    /// The practice a key names.
    pub fn parse(key: &str) -> Option<Practice> {
        Practice::ALL.into_iter().find(|p| p.name() == key)
    }
}

/// Maps keyed by practice list them by name, as report.json always has.
impl Ord for Practice {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name().cmp(other.name())
    }
}

impl PartialOrd for Practice {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Practice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One practice's mapping.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Point {
    pub weight: f64,
    pub zero: f64,
    pub full: f64,
    /// `efficient_hardware` only: the TFLOPS per watt that counts as 1.0 (default: the best
    /// in the hardware table among accelerators of the period's year or earlier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_tflops_per_w: Option<f64>,
}

/// Override of one practice (any field may be left out).
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointOverride {
    pub weight: Option<f64>,
    pub zero: Option<f64>,
    pub full: Option<f64>,
    pub reference_tflops_per_w: Option<f64>,
}

/// The rubric in force.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rubric {
    pub practices: BTreeMap<Practice, Point>,
}

impl Default for Rubric {
    fn default() -> Self {
        let practices: BTreeMap<Practice, Point> =
            toml::from_str(DEFAULT_RUBRIC).expect("the embedded rubric is valid (tested)");
        Rubric { practices }
    }
}

impl Rubric {
    /// Apply `[rubric.<practice>]` overrides. Errors name the practice and what is wrong.
    pub fn with(mut self, overrides: &BTreeMap<String, PointOverride>) -> Result<Rubric, String> {
        for (name, o) in overrides {
            let Some(p) = Practice::parse(name).and_then(|k| self.practices.get_mut(&k)) else {
                let all: Vec<&str> = Practice::ALL.iter().map(|p| p.name()).collect();
                return Err(format!(
                    "[rubric.{name}]: unknown practice; the practices are {}",
                    all.join(", ")
                ));
            };
            if let Some(w) = o.weight {
                p.weight = w;
            }
            if let Some(z) = o.zero {
                p.zero = z;
            }
            if let Some(f) = o.full {
                p.full = f;
            }
            if let Some(r) = o.reference_tflops_per_w {
                if name != "efficient_hardware" || !(r.is_finite() && r > 0.0) {
                    return Err(format!("[rubric.{name}]: reference_tflops_per_w is a number > 0 of [rubric.efficient_hardware] only"));
                }
                p.reference_tflops_per_w = Some(r);
            }
            if !(p.weight.is_finite() && p.weight >= 0.0) {
                return Err(format!("[rubric.{name}]: weight must be a number >= 0"));
            }
            if !(p.zero.is_finite() && p.full.is_finite()) || p.zero == p.full {
                return Err(format!(
                    "[rubric.{name}]: zero and full must be different numbers"
                ));
            }
        }
        Ok(self)
    }

    /// Map a metric to 0..100.
    pub fn score(&self, practice: Practice, metric: f64) -> f64 {
        let p = self.practices[&practice];
        (100.0 * (metric - p.zero) / (p.full - p.zero)).clamp(0.0, 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rubric_matches_design_and_maps_linearly() {
        let r = Rubric::default();
        assert_eq!(r.practices.len(), 10);
        for p in Practice::ALL {
            assert!(r.practices.contains_key(&p), "{p}");
            assert_eq!(Practice::parse(p.name()), Some(p));
        }
        // Half the GPU-hours fine-tuned: 0.5 of the way to 0.8 -> 62.5.
        assert_eq!(r.score(Practice::PretrainedReuse, 0.5), 62.5);
        assert_eq!(r.score(Practice::CleanEnergy, 475.0), 0.0);
        assert_eq!(r.score(Practice::CleanEnergy, 50.0), 100.0);
        assert_eq!(r.score(Practice::CleanEnergy, 10.0), 100.0);
        assert_eq!(r.score(Practice::CleanEnergy, 262.5), 50.0);
        assert_eq!(r.score(Practice::CarbonAware, 0.0), 50.0);
        assert_eq!(r.score(Practice::CarbonAware, -0.3), 100.0);
        assert_eq!(r.score(Practice::LowWaste, 0.05), 75.0);
        // Issue 18's defaults: efficiency 0.25 -> 0.9, utilisation 0.3 -> 0.8, MFU 0.1 -> 0.5.
        let p = |n: &str| {
            let k = Practice::parse(n).unwrap();
            (r.practices[&k].zero, r.practices[&k].full)
        };
        assert_eq!(p("efficient_hardware"), (0.25, 0.9));
        assert_eq!(p("hardware_utilisation"), (0.3, 0.8));
        assert_eq!(p("compute_efficiency"), (0.1, 0.5));
        assert_eq!(r.score(Practice::ComputeEfficiency, 0.3), 50.0);
    }

    #[test]
    fn overrides_are_validated() {
        let mut o = BTreeMap::new();
        o.insert(
            "distillation".to_string(),
            PointOverride {
                weight: Some(3.0),
                full: Some(0.25),
                ..Default::default()
            },
        );
        let r = Rubric::default().with(&o).unwrap();
        assert_eq!(r.score(Practice::Distillation, 0.25), 100.0);
        assert_eq!(r.practices[&Practice::Distillation].weight, 3.0);
        let mut bad = BTreeMap::new();
        bad.insert("vibes".to_string(), PointOverride::default());
        assert!(Rubric::default()
            .with(&bad)
            .unwrap_err()
            .contains("unknown practice"));
        let mut same = BTreeMap::new();
        same.insert(
            "low_waste".to_string(),
            PointOverride {
                zero: Some(0.0),
                full: Some(0.0),
                ..Default::default()
            },
        );
        assert!(Rubric::default().with(&same).is_err());
        // A reference belongs to efficient_hardware only, and is positive.
        let reference = |practice: &str, r: f64| {
            let mut o = BTreeMap::new();
            o.insert(
                practice.to_string(),
                PointOverride {
                    reference_tflops_per_w: Some(r),
                    ..Default::default()
                },
            );
            Rubric::default().with(&o)
        };
        assert_eq!(
            reference("efficient_hardware", 2.0).unwrap().practices[&Practice::EfficientHardware]
                .reference_tflops_per_w,
            Some(2.0)
        );
        assert!(reference("low_waste", 2.0).is_err());
        assert!(reference("efficient_hardware", 0.0).is_err());
    }
}
