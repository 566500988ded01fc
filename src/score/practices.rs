//! One metric per practice, over a team's (or the organisation's) job rows: the value the
//! rubric maps to 0..100, the jobs or models that weigh most in it, or why it cannot be judged.

use super::Metric;
use crate::ledger::{JobRow, Tier};
use std::collections::BTreeSet;

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

/// True for a number above zero (false for NaN, so that a NaN total is "cannot judge").
fn positive(x: f64) -> bool {
    x > 0.0
}

/// The sum of `f` over the jobs.
fn sum(jobs: &[&JobRow], f: impl Fn(&JobRow) -> f64) -> f64 {
    jobs.iter().map(|j| f(j)).sum::<f64>()
}

/// Market-based g/kWh of facility energy: hour by hour where granular certificates cover the
/// job's site, else by the 2015 rules (location-based where no market figure exists).
pub(super) fn clean_energy(jobs: &[&JobRow]) -> Metric {
    let facility = sum(jobs, |j| j.amounts.facility_energy_kwh);
    let market = sum(jobs, |j| {
        j.amounts
            .market_hourly_kgco2e
            .or(j.amounts.market_kgco2e)
            .unwrap_or(j.amounts.location_kgco2e)
    });
    if !positive(facility) {
        return Err("no facility energy".into());
    }
    Ok((
        market * 1000.0 / facility,
        evidence(
            jobs.iter()
                .map(|j| (j.job_id.as_str(), j.amounts.market_kgco2e.unwrap_or(0.0))),
        ),
    ))
}

/// Share of training GPU-hours that start from a pretrained model.
pub(super) fn pretrained_reuse(jobs: &[&JobRow]) -> Metric {
    let reused = |j: &JobRow| is_training(j) && j.base_model.is_some();
    let training_h = sum(jobs, |j| {
        if is_training(j) {
            j.amounts.gpu_hours
        } else {
            0.0
        }
    });
    let reuse_h = sum(jobs, |j| if reused(j) { j.amounts.gpu_hours } else { 0.0 });
    if !positive(training_h) {
        return Err("no training GPU-hours".into());
    }
    Ok((
        reuse_h / training_h,
        evidence(
            jobs.iter()
                .filter(|j| reused(j))
                .map(|j| (j.job_id.as_str(), j.amounts.gpu_hours)),
        ),
    ))
}

/// Share of the trained models that are distilled students.
pub(super) fn distillation(jobs: &[&JobRow]) -> Metric {
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
    if models.is_empty() {
        return Err("no trained models".into());
    }
    Ok((
        students.intersection(&models).count() as f64 / models.len() as f64,
        students.iter().take(3).map(|m| m.to_string()).collect(),
    ))
}

/// Share of all GPU-hours with mixed precision or sparsity (jobs that record no precision
/// count as not mixed); unknown when no job records either.
pub(super) fn efficient_training(jobs: &[&JobRow]) -> Metric {
    let known_h = sum(jobs, |j| {
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
    let total_h = sum(jobs, |j| j.amounts.gpu_hours);
    if !(positive(known_h) && positive(total_h)) {
        return Err("no job records its precision or sparsity".into());
    }
    Ok((
        sum(jobs, |j| {
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
}

/// Peak TFLOPS per watt of a job's accelerator (dense 16-bit over TDP), when both are known.
fn tflops_per_w(j: &JobRow) -> Option<f64> {
    match (j.tflops, j.tdp_w) {
        (Some(t), Some(w)) if t > 0.0 && w > 0.0 => Some(t / w),
        _ => None,
    }
}

/// GPU-hour-weighted peak TFLOPS per watt of the accelerators used, over the reference.
/// Accelerators without TFLOPS (or TDP) in the table are left out, and the evidence says so.
pub(super) fn efficient_hardware(
    jobs: &[&JobRow],
    reference: Option<&super::HardwareReference>,
) -> Metric {
    let Some(r) = reference.filter(|r| r.tflops_per_w > 0.0) else {
        return Err("no reference TFLOPS per watt: the hardware table has no accelerator with both TFLOPS and TDP by the period's year; set [rubric.efficient_hardware] reference_tflops_per_w".into());
    };
    let known_h = sum(jobs, |j| {
        tflops_per_w(j).map_or(0.0, |_| j.amounts.gpu_hours)
    });
    let mut unknown: BTreeSet<&str> = BTreeSet::new();
    let unknown_h = sum(jobs, |j| {
        if tflops_per_w(j).is_none() && j.amounts.gpu_hours > 0.0 {
            j.amounts.gpu_hours
        } else {
            0.0
        }
    });
    for j in jobs
        .iter()
        .filter(|j| tflops_per_w(j).is_none() && j.amounts.gpu_hours > 0.0)
    {
        unknown.insert(j.hardware.as_str());
    }
    if !positive(known_h) {
        return Err(format!(
            "no GPU-hours on accelerators with TFLOPS and TDP in the hardware table (used: {})",
            unknown.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let weighted = sum(jobs, |j| {
        tflops_per_w(j).map_or(0.0, |e| e * j.amounts.gpu_hours)
    });
    let mut ev = evidence(
        jobs.iter()
            .filter(|j| tflops_per_w(j).is_some())
            .map(|j| (j.job_id.as_str(), j.amounts.gpu_hours)),
    );
    ev.push(format!(
        "reference: {} at {:.3} TFLOPS/W ({})",
        r.name, r.tflops_per_w, r.basis
    ));
    if positive(unknown_h) {
        ev.push(format!(
            "left out: {unknown_h:.1} GPU-hours on {} (no TFLOPS or TDP in the hardware table)",
            unknown.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok((weighted / known_h / r.tflops_per_w, ev))
}

/// Pretraining and fine-tuning: the jobs whose work is `6 x parameters x tokens` (also what a
/// model's energy per token is taken over).
pub fn trains_from_tokens(j: &JobRow) -> bool {
    matches!(j.training_type, "pretraining" | "fine-tuning")
}

/// Energy-normalised model FLOPs utilisation of the training jobs that give parameters and
/// tokens: `6 x parameters x tokens` (the work of dense training) per IT joule, over the peak
/// FLOPs per joule of the job's accelerator, weighted by IT energy.
pub(super) fn compute_efficiency(jobs: &[&JobRow]) -> Metric {
    let work = |j: &JobRow| -> Option<(f64, f64)> {
        if !trains_from_tokens(j) {
            return None;
        }
        let (p, t, e) = (j.parameters?, j.tokens?, tflops_per_w(j)?);
        let joules = j.amounts.it_energy_kwh * 3.6e6;
        (p > 0.0 && t > 0.0 && joules > 0.0).then(|| (joules, 6.0 * p * t / (e * 1e12)))
    };
    // Each job's peak-equivalent joules (work / peak FLOPs per joule) over its joules is its
    // energy MFU; the energy-weighted mean is the sum of one over the sum of the other.
    let (joules, peak_joules) = jobs
        .iter()
        .filter_map(|j| work(j))
        .fold((0.0, 0.0), |(a, b), (j, w)| (a + j, b + w));
    if !positive(joules) {
        return Err("no pretraining or fine-tuning job gives parameters and tokens on hardware with TFLOPS and TDP in the table".into());
    }
    Ok((
        peak_joules / joules,
        evidence(
            jobs.iter()
                .filter_map(|j| work(j).map(|(e, _)| (j.job_id.as_str(), e))),
        ),
    ))
}

/// GPU-hour-weighted measured mean power / TDP of the jobs with measured power (what
/// `efficient_hardware` measured until it measured efficiency).
pub(super) fn hardware_utilisation(jobs: &[&JobRow]) -> Metric {
    let measured: Vec<&&JobRow> = jobs
        .iter()
        .filter(|j| {
            j.mean_power_w.is_some()
                && j.tdp_w.is_some_and(|t| t > 0.0)
                && j.amounts.gpu_hours > 0.0
        })
        .collect();
    let mh: f64 = measured.iter().map(|j| j.amounts.gpu_hours).sum();
    if !positive(mh) {
        return Err(
            "no measured power (samples, meters or avg_power_w) on hardware with a known TDP"
                .into(),
        );
    }
    let u = measured
        .iter()
        .map(|j| j.amounts.gpu_hours * j.mean_power_w.unwrap_or(0.0) / j.tdp_w.unwrap_or(1.0))
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
}

/// Energy-weighted intensity the jobs met over their zones' period average, minus one
/// (hourly data only): negative when jobs ran in cleaner hours.
pub(super) fn carbon_aware(jobs: &[&JobRow]) -> Metric {
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
    if !positive(average) {
        return Err("no hourly grid data for the team's jobs".into());
    }
    Ok((
        actual / average - 1.0,
        evidence(
            hourly
                .iter()
                .map(|j| (j.job_id.as_str(), j.amounts.facility_energy_kwh)),
        ),
    ))
}

/// Share of IT energy in failed or cancelled jobs.
pub(super) fn low_waste(jobs: &[&JobRow]) -> Metric {
    let it = sum(jobs, |j| j.amounts.it_energy_kwh);
    let wasted = |j: &JobRow| j.status == "failed" || j.status == "cancelled";
    if !positive(it) {
        return Err("no energy".into());
    }
    Ok((
        sum(jobs, |j| {
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
}

/// Mean of the share of energy measured (metered or sampled) and the share of models with a
/// published statement.
pub(super) fn transparency(jobs: &[&JobRow]) -> Metric {
    let it = sum(jobs, |j| j.amounts.it_energy_kwh);
    let all_models: BTreeSet<&str> = jobs.iter().map(|j| j.model.as_str()).collect();
    let published: BTreeSet<&str> = jobs
        .iter()
        .filter(|j| j.published.is_some())
        .map(|j| j.model.as_str())
        .collect();
    if !positive(it) || all_models.is_empty() {
        return Err("no energy or no models".into());
    }
    let measured_share = sum(jobs, |j| {
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
}
