//! Practice scores: pure functions from the ledger's job rows and a rubric. No I/O.
//!
//! Each practice is a metric mapped linearly to 0..100 between a zero point and a full point,
//! clamped; `null` with a stated reason when the data to judge it is missing; overall = the
//! weighted mean of the non-null scores.

pub mod lineage;
pub mod progress;
pub mod whatif;

pub use crate::config::rubric::{Point, PointOverride, Rubric, PRACTICES};
use crate::ledger::{JobRow, Tier};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One practice's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PracticeScore {
    pub practice: &'static str,
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
    pub scores: BTreeMap<&'static str, Option<f64>>,
    pub overall: Option<f64>,
    pub details: Vec<PracticeScore>,
}

const MIXED: [&str; 3] = ["fp16", "bf16", "fp8"];

fn is_training(j: &JobRow) -> bool {
    matches!(
        j.training_type,
        "pretraining" | "fine-tuning" | "distillation"
    )
}

/// The jobs weighing most in a metric: up to three, by weight, then id.
fn evidence<'a>(items: impl Iterator<Item = (&'a str, f64)>) -> Vec<String> {
    let mut v: Vec<(&str, f64)> = items.filter(|(_, w)| *w > 0.0).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    v.into_iter()
        .take(3)
        .map(|(id, _)| id.to_string())
        .collect()
}

/// A practice's metric with its evidence, or why it cannot be judged.
pub type Metric = Result<(f64, Vec<String>), String>;

/// The metric of each practice over `jobs` (one team's, or all), with evidence, or a reason.
pub fn metrics(jobs: &[&JobRow]) -> Vec<(&'static str, Metric)> {
    let sum = |f: &dyn Fn(&JobRow) -> f64| jobs.iter().map(|j| f(j)).sum::<f64>();
    let mut out = Vec::new();

    let facility = sum(&|j| j.amounts.facility_energy_kwh);
    let market = sum(&|j| j.amounts.market_kgco2e.unwrap_or(j.amounts.location_kgco2e));
    out.push((
        "clean_energy",
        if facility > 0.0 {
            Ok((
                market * 1000.0 / facility,
                evidence(
                    jobs.iter()
                        .map(|j| (j.job_id.as_str(), j.amounts.market_kgco2e.unwrap_or(0.0))),
                ),
            ))
        } else {
            Err("no facility energy".into())
        },
    ));

    let training_h = sum(&|j| {
        if is_training(j) {
            j.amounts.gpu_hours
        } else {
            0.0
        }
    });
    let reuse_h = sum(&|j| {
        if is_training(j) && j.base_model.is_some() {
            j.amounts.gpu_hours
        } else {
            0.0
        }
    });
    out.push((
        "pretrained_reuse",
        if training_h > 0.0 {
            Ok((
                reuse_h / training_h,
                evidence(
                    jobs.iter()
                        .filter(|j| is_training(j) && j.base_model.is_some())
                        .map(|j| (j.job_id.as_str(), j.amounts.gpu_hours)),
                ),
            ))
        } else {
            Err("no training GPU-hours".into())
        },
    ));

    let models: BTreeSet<&str> = jobs
        .iter()
        .filter(|j| is_training(j))
        .map(|j| j.model.as_str())
        .collect();
    let students: BTreeSet<&str> = jobs
        .iter()
        .filter(|j| j.training_type == "distillation" || j.teacher_model.is_some())
        .map(|j| j.model.as_str())
        .collect();
    out.push((
        "distillation",
        if models.is_empty() {
            Err("no trained models".into())
        } else {
            Ok((
                students.intersection(&models).count() as f64 / models.len() as f64,
                students.iter().take(3).map(|m| m.to_string()).collect(),
            ))
        },
    ));

    let known_h = sum(&|j| {
        if j.precision.is_some() || j.sparsity.is_some() {
            j.amounts.gpu_hours
        } else {
            0.0
        }
    });
    let efficient = |j: &JobRow| {
        j.precision.as_deref().is_some_and(|p| MIXED.contains(&p))
            || j.sparsity.is_some_and(|s| s > 0.0)
    };
    let total_h = sum(&|j| j.amounts.gpu_hours);
    out.push((
        "efficient_training",
        if known_h > 0.0 && total_h > 0.0 {
            // Share of all GPU-hours: jobs that record no precision count as not mixed.
            Ok((
                sum(&|j| {
                    if efficient(j) {
                        j.amounts.gpu_hours
                    } else {
                        0.0
                    }
                }) / total_h,
                evidence(
                    jobs.iter()
                        .filter(|j| efficient(j))
                        .map(|j| (j.job_id.as_str(), j.amounts.gpu_hours)),
                ),
            ))
        } else {
            Err("no job records its precision or sparsity".into())
        },
    ));

    let measured: Vec<&&JobRow> = jobs
        .iter()
        .filter(|j| {
            j.mean_power_w.is_some()
                && j.tdp_w.is_some_and(|t| t > 0.0)
                && j.amounts.gpu_hours > 0.0
        })
        .collect();
    let mh: f64 = measured.iter().map(|j| j.amounts.gpu_hours).sum();
    out.push((
        "efficient_hardware",
        if mh > 0.0 {
            let u = measured
                .iter()
                .map(|j| {
                    j.amounts.gpu_hours * j.mean_power_w.unwrap_or(0.0) / j.tdp_w.unwrap_or(1.0)
                })
                .sum::<f64>()
                / mh;
            Ok((
                u,
                evidence(
                    measured
                        .iter()
                        .map(|j| (j.job_id.as_str(), j.amounts.gpu_hours)),
                ),
            ))
        } else {
            Err(
                "no measured power (samples, meters or avg_power_w) on hardware with a known TDP"
                    .into(),
            )
        },
    ));

    let hourly: Vec<&&JobRow> = jobs
        .iter()
        .filter(|j| j.zone_period_avg_g_per_kwh.is_some_and(|a| a > 0.0))
        .collect();
    let actual: f64 = hourly
        .iter()
        .map(|j| j.amounts.facility_energy_kwh * j.intensity_g_per_kwh)
        .sum();
    let average: f64 = hourly
        .iter()
        .map(|j| j.amounts.facility_energy_kwh * j.zone_period_avg_g_per_kwh.unwrap_or(0.0))
        .sum();
    out.push((
        "carbon_aware",
        if average > 0.0 {
            Ok((
                actual / average - 1.0,
                evidence(
                    hourly
                        .iter()
                        .map(|j| (j.job_id.as_str(), j.amounts.facility_energy_kwh)),
                ),
            ))
        } else {
            Err("no hourly grid data for the team's jobs".into())
        },
    ));

    let it = sum(&|j| j.amounts.it_energy_kwh);
    let wasted = |j: &JobRow| j.status == "failed" || j.status == "cancelled";
    out.push((
        "low_waste",
        if it > 0.0 {
            Ok((
                sum(&|j| {
                    if wasted(j) {
                        j.amounts.it_energy_kwh
                    } else {
                        0.0
                    }
                }) / it,
                evidence(
                    jobs.iter()
                        .filter(|j| wasted(j))
                        .map(|j| (j.job_id.as_str(), j.amounts.it_energy_kwh)),
                ),
            ))
        } else {
            Err("no energy".into())
        },
    ));

    let all_models: BTreeSet<&str> = jobs.iter().map(|j| j.model.as_str()).collect();
    let published: BTreeSet<&str> = jobs
        .iter()
        .filter(|j| j.published.is_some())
        .map(|j| j.model.as_str())
        .collect();
    out.push((
        "transparency",
        if it > 0.0 && !all_models.is_empty() {
            let measured_share = sum(&|j| {
                if j.energy_source != Tier::Estimated {
                    j.amounts.it_energy_kwh
                } else {
                    0.0
                }
            }) / it;
            let published_share = published.len() as f64 / all_models.len() as f64;
            Ok((
                (measured_share + published_share) / 2.0,
                published.iter().take(3).map(|m| m.to_string()).collect(),
            ))
        } else {
            Err("no energy or no models".into())
        },
    ));
    out
}

/// Score `jobs` with `rubric`.
pub fn scorecard(jobs: &[&JobRow], rubric: &Rubric) -> ScoreCard {
    let mut scores = BTreeMap::new();
    let mut details = Vec::new();
    let (mut weighted, mut weights) = (0.0, 0.0);
    for (practice, m) in metrics(jobs) {
        let (metric, score, reason, evidence) = match m {
            Ok((metric, ev)) => {
                let s = rubric.score(practice, metric);
                let w = rubric.practices[practice].weight;
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
