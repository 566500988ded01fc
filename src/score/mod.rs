//! Practice scores: pure functions from the ledger's job rows and a rubric. No I/O.
//!
//! Each practice is a metric mapped linearly to 0..100 between a zero point and a full point,
//! clamped; `null` with a stated reason when the data to judge it is missing; overall = the
//! weighted mean of the non-null scores.

pub mod bridge;
pub mod lineage;
mod practices;
pub mod progress;
pub mod whatif;

pub use practices::trains_from_tokens;

pub use crate::config::rubric::{Point, PointOverride, Practice, Rubric};
use crate::ledger::JobRow;
use serde::Serialize;
use std::collections::BTreeMap;

/// One practice's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PracticeScore {
    pub practice: Practice,
    pub metric: Option<f64>,
    pub score: Option<f64>,
    /// Why the score is null, when it is.
    pub reason: Option<String>,
    /// The jobs (or models) that weigh most in the metric.
    pub evidence: Vec<String>,
}

/// Scores of a team or of the organisation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreCard {
    /// practice -> 0..100 or null, and `overall`.
    pub scores: BTreeMap<Practice, Option<f64>>,
    pub overall: Option<f64>,
    pub details: Vec<PracticeScore>,
}

/// A practice's metric with its evidence, or why it cannot be judged.
pub type Metric = Result<(f64, Vec<String>), String>;

/// The TFLOPS per watt `efficient_hardware` counts as 1.0, and where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HardwareReference {
    /// The accelerator (or "configured").
    pub name: String,
    pub tflops_per_w: f64,
    pub basis: String,
}

/// The metric of each practice over `jobs` (one team's, or all), with evidence, or a reason.
pub fn metrics(jobs: &[&JobRow], reference: Option<&HardwareReference>) -> Vec<(Practice, Metric)> {
    use practices::*;
    vec![
        (Practice::CleanEnergy, clean_energy(jobs)),
        (Practice::PretrainedReuse, pretrained_reuse(jobs)),
        (Practice::Distillation, distillation(jobs)),
        (Practice::EfficientTraining, efficient_training(jobs)),
        (Practice::ComputeEfficiency, compute_efficiency(jobs)),
        (
            Practice::EfficientHardware,
            efficient_hardware(jobs, reference),
        ),
        (Practice::HardwareUtilisation, hardware_utilisation(jobs)),
        (Practice::CarbonAware, carbon_aware(jobs)),
        (Practice::LowWaste, low_waste(jobs)),
        (Practice::Transparency, transparency(jobs)),
    ]
}

/// The energy-normalised MFU of `jobs` (what `compute_efficiency` measures), when they give
/// parameters and tokens.
pub fn energy_mfu(jobs: &[&JobRow]) -> Option<f64> {
    practices::compute_efficiency(jobs).ok().map(|(m, _)| m)
}

/// Score `jobs` with `rubric` (`reference`: what efficient hardware is measured against).
pub fn scorecard(
    jobs: &[&JobRow],
    rubric: &Rubric,
    reference: Option<&HardwareReference>,
) -> ScoreCard {
    let mut scores = BTreeMap::new();
    let mut details = Vec::new();
    let (mut weighted, mut weights) = (0.0, 0.0);
    for (practice, m) in metrics(jobs, reference) {
        let (metric, score, reason, evidence) = match m {
            Ok((metric, ev)) => {
                let s = rubric.score(practice, metric);
                let w = rubric.practices[&practice].weight;
                weighted += w * s;
                weights += w;
                (Some(metric), Some(s), None, ev)
            }
            Err(why) => (None, None, Some(why), Vec::new()),
        };
        scores.insert(practice, score);
        details.push(PracticeScore {
            practice,
            metric,
            score,
            reason,
            evidence,
        });
    }
    ScoreCard {
        scores,
        overall: (weights > 0.0).then(|| weighted / weights),
        details,
    }
}
