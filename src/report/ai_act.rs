//! The EU AI Act documentation of each model's training (Art. 53(1)(a), Annex XI section 1
//! point 2(d)(e)): the computational resources (FLOP, training time) and the energy, estimated
//! as the Commission's guidelines C(2025) 5045 (Annex A) say, and the SCI for AI provider
//! score. A report documents this period's jobs; with `--previous`, each model's figures are
//! the previous report's lifetime figures carried forward plus this period's.

use crate::config::{AiAct, ComputeMethod};
use crate::ledger::{JobRow, Tier};
use crate::timeutil::Period;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The opening the GPAI Code of Practice's Model Documentation Form asks of the energy
/// methodology.
pub const METHODOLOGY_OPENING: &str =
    "In the absence of a delegated act adopted under Article 53(5) of Regulation (EU) 2024/1689";

/// A model's training compute, both ways.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compute {
    /// 6 x parameters x training tokens, over the included jobs; `null` unless every one gives
    /// both.
    pub architecture: Option<f64>,
    /// Accelerator-seconds x peak dense 16-bit FLOP/s x `[ai_act] utilisation`; `null` without
    /// a utilisation, or when a job's accelerator has no published peak.
    pub hardware: Option<f64>,
    /// The one reported (`[ai_act] reported`, else the other where only it is known).
    pub reported: Option<f64>,
    /// `architecture` or `hardware`, with how it was computed; or why neither could be.
    pub method: String,
    /// Whether the two agree within 30 % of the reported one (the guidelines' accuracy);
    /// `null` unless both are known.
    pub agree_within_30pct: Option<bool>,
}

/// Training time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingTime {
    /// From the first included job's start to the last one's end, inside the period.
    pub wall_clock_days: f64,
    /// Accelerator-hours / 24.
    pub hardware_days: f64,
}

/// A job left out of the training compute and energy, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Excluded {
    pub job_id: String,
    pub reason: String,
}

/// The compute thresholds of the AI Act (10^23 FLOP: a general-purpose model, indicatively;
/// 10^25: presumed systemic risk).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub over_1e23: Option<bool>,
    pub over_1e25: Option<bool>,
}

/// The SCI for AI provider score: (location-based operational + embodied) emissions over a
/// functional unit, all included jobs; no certificates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SciAi {
    pub per_flop: Option<f64>,
    pub per_training_token: Option<f64>,
    pub per_billion_parameters: Option<f64>,
    /// The same over every job of the model, the ones left out of the training compute
    /// included (SCI for AI's gross score; the three above are the effective one).
    #[serde(default)]
    pub gross: Option<Box<SciAi>>,
}

/// One model's documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelDoc {
    pub model: String,
    /// The periods the figures cover.
    pub periods: Vec<String>,
    /// Facility energy (IT x PUE) of the included jobs, MWh.
    pub training_energy_mwh: f64,
    pub it_energy_mwh: f64,
    /// `measured` (every job metered or sampled), `estimated`, or `mixed`.
    pub energy_basis: String,
    /// The measured share of the IT energy.
    pub measured_share: f64,
    /// What the IT energy covers: `accelerator`, `node`, `system`, or `mixed`.
    pub boundary: String,
    pub training_compute_flop: Compute,
    pub training_time: TrainingTime,
    pub hardware: Vec<String>,
    pub jobs_included: usize,
    pub jobs_excluded: Vec<Excluded>,
    /// The model it was fine-tuned from, when its jobs name one.
    pub base_model: Option<String>,
    /// Its reported compute over the base model's, when this report documents both.
    pub share_of_base_compute: Option<f64>,
    /// Whether that share is over one third (the modifier becomes a provider).
    pub new_provider: Option<bool>,
    pub thresholds: Thresholds,
    pub methodology: String,
    pub sci_ai: SciAi,
    /// Location-based operational plus embodied emissions of the included jobs (the SCI's
    /// numerator), kgCO2e.
    #[serde(default)]
    pub emissions_kgco2e: f64,
    /// The same over every job of the model, those left out included.
    #[serde(default)]
    pub gross_emissions_kgco2e: f64,
    /// Training tokens of the included jobs, when every one gives them.
    #[serde(default)]
    pub tokens: Option<f64>,
    /// The model's parameters (the largest any included job gives).
    #[serde(default)]
    pub parameters: Option<f64>,
    /// Benchmarked inference computation (`[[ai_act.inference_benchmark]]`).
    #[serde(default)]
    pub inference: Vec<Inference>,
}

/// One benchmarked inference of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inference {
    pub task: String,
    pub tokens: f64,
    pub hardware: String,
    /// FLOP for the benchmark; `null` when neither measured nor estimable.
    pub flop: Option<f64>,
    /// `measured`, or `2 x active parameters x tokens`.
    pub method: String,
}

/// The model's benchmarks: given FLOP, else 2 x (active) parameters per token.
fn inference(model: &str, parameters: Option<f64>, cfg: &AiAct) -> Vec<Inference> {
    cfg.inference_benchmarks
        .iter()
        .filter(|b| b.model == model)
        .map(|b| {
            let (flop, method) = match (b.flop, parameters) {
                (Some(f), _) => (Some(f), "measured".to_string()),
                (None, Some(p)) => (
                    Some(2.0 * p * b.tokens),
                    "2 x active parameters x tokens".to_string(),
                ),
                (None, None) => (
                    None,
                    "not computed: the model's parameters are unknown".to_string(),
                ),
            };
            Inference {
                task: b.task.clone(),
                tokens: b.tokens,
                hardware: b.hardware.clone(),
                flop,
                method,
            }
        })
        .collect()
}

/// The documentation of every model with jobs in the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AiActDoc {
    /// What the figures cover: `period` (this report's jobs alone), or `carried forward` (the
    /// previous report's lifetime figures plus this period's: see `carried_from`).
    pub lifetime: String,
    /// The previous report the lifetime figures were carried from.
    pub carried_from: Option<CarriedFrom>,
    /// Why a previous report given was not carried forward, when it was not.
    pub note: Option<String>,
    pub models: Vec<ModelDoc>,
}

/// The previous report a carry-forward started from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CarriedFrom {
    pub file: String,
    pub sha256: String,
    /// The periods its figures covered.
    pub periods: Vec<String>,
}

/// Why a job is left out of its model's training compute, if it is (guidelines, Annex A).
fn exclusion(j: &JobRow) -> Option<&'static str> {
    match (j.training_type, j.status) {
        ("evaluation", _) => Some("evaluation is not training"),
        ("reward-model", _) => Some("a reward model's training may be left out"),
        ("exploratory", "failed" | "cancelled") => Some("a failed exploratory run may be left out"),
        _ => None,
    }
}

/// Every model's documentation for the period, models by name.
pub fn document(jobs: &[JobRow], cfg: &AiAct, period: &Period) -> AiActDoc {
    let mut by_model: BTreeMap<&str, Vec<&JobRow>> = BTreeMap::new();
    for j in jobs {
        by_model.entry(j.model.as_str()).or_default().push(j);
    }
    let mut models: Vec<ModelDoc> = by_model
        .into_iter()
        .map(|(m, js)| model_doc(m, &js, cfg, period))
        .collect();
    fine_tunes(&mut models, cfg);
    AiActDoc {
        lifetime: "period".to_string(),
        carried_from: None,
        note: None,
        models,
    }
}

/// One model's figures from its jobs.
fn model_doc(model: &str, jobs: &[&JobRow], cfg: &AiAct, period: &Period) -> ModelDoc {
    let (included, excluded): (Vec<&JobRow>, Vec<&JobRow>) =
        jobs.iter().copied().partition(|j| exclusion(j).is_none());
    let sum = |f: &dyn Fn(&JobRow) -> f64| included.iter().map(|j| f(j)).sum::<f64>();
    let it = sum(&|j| j.amounts.it_energy_kwh);
    let measured = sum(&|j| match j.energy_source {
        Tier::Metered | Tier::Sampled => j.amounts.it_energy_kwh,
        Tier::Estimated => 0.0,
    });
    let measured_share = if it > 0.0 { measured / it } else { 0.0 };
    let boundaries: BTreeSet<&str> = included.iter().map(|j| j.boundary.as_str()).collect();
    let compute = compute(&included, cfg);
    let flop = compute.reported;
    let tokens = included
        .iter()
        .map(|j| j.amounts.tokens)
        .sum::<Option<f64>>();
    let parameters = included
        .iter()
        .filter_map(|j| j.parameters)
        .reduce(f64::max);
    let active = included
        .iter()
        .filter_map(|j| j.active_parameters)
        .reduce(f64::max);
    let footprint =
        |j: &JobRow| j.amounts.location_kgco2e + j.amounts.embodied_kgco2e.unwrap_or(0.0);
    let emissions = sum(&footprint);
    let gross: f64 = jobs.iter().map(|j| footprint(j)).sum();
    ModelDoc {
        model: model.to_string(),
        periods: vec![period.label.clone()],
        training_energy_mwh: sum(&|j| j.amounts.facility_energy_kwh) / 1000.0,
        it_energy_mwh: it / 1000.0,
        energy_basis: basis(measured_share, !included.is_empty()).to_string(),
        measured_share,
        boundary: match boundaries.len() {
            0 => String::new(),
            1 => boundaries
                .into_iter()
                .next()
                .unwrap_or_default()
                .to_string(),
            _ => "mixed".to_string(),
        },
        training_time: training_time(&included, period),
        hardware: included
            .iter()
            .map(|j| j.hardware.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        jobs_included: included.len(),
        jobs_excluded: excluded
            .iter()
            .map(|j| Excluded {
                job_id: j.job_id.clone(),
                reason: exclusion(j).unwrap_or_default().to_string(),
            })
            .collect(),
        base_model: included.iter().find_map(|j| j.base_model.clone()),
        share_of_base_compute: None,
        new_provider: None,
        thresholds: Thresholds {
            over_1e23: flop.map(|f| f > 1e23),
            over_1e25: flop.map(|f| f > 1e25),
        },
        methodology: methodology(&included, measured_share, &compute),
        sci_ai: sci(emissions, gross, (flop, tokens, parameters)),
        training_compute_flop: compute,
        emissions_kgco2e: emissions,
        gross_emissions_kgco2e: gross,
        tokens,
        inference: inference(model, active.or(parameters), cfg),
        parameters,
    }
}

/// The SCI for AI provider score, effective (`emissions`, the included jobs) and gross (every
/// job), per FLOP, per training token and per billion parameters.
fn sci(
    emissions: f64,
    gross: f64,
    (flop, tokens, parameters): (Option<f64>, Option<f64>, Option<f64>),
) -> SciAi {
    let units = [flop, tokens, parameters.map(|p| p / 1e9)];
    let per = |kg: f64| units.map(|u| u.filter(|u| *u > 0.0).map(|u| kg / u));
    let [f, t, p] = per(emissions);
    let [gf, gt, gp] = per(gross);
    SciAi {
        per_flop: f,
        per_training_token: t,
        per_billion_parameters: p,
        gross: Some(Box::new(SciAi {
            per_flop: gf,
            per_training_token: gt,
            per_billion_parameters: gp,
            gross: None,
        })),
    }
}

/// `measured`, `estimated` or `mixed`, from the measured share of the IT energy.
fn basis(measured_share: f64, any: bool) -> &'static str {
    match measured_share {
        s if !any || s <= 0.0 => "estimated",
        s if s >= 1.0 - 1e-12 => "measured",
        _ => "mixed",
    }
}

/// Both estimates of the included jobs' compute, and the one reported.
fn compute(jobs: &[&JobRow], cfg: &AiAct) -> Compute {
    let architecture = jobs
        .iter()
        .map(|j| Some(6.0 * j.active_parameters.or(j.parameters)? * j.amounts.tokens?))
        .sum::<Option<f64>>()
        .filter(|_| !jobs.is_empty());
    // Each job's own measured MFU, else the configured utilisation.
    let hardware = jobs
        .iter()
        .map(|j| Some(j.amounts.gpu_hours * 3600.0 * j.tflops? * 1e12 * j.mfu.or(cfg.utilisation)?))
        .sum::<Option<f64>>()
        .filter(|_| !jobs.is_empty());
    choose(architecture, hardware, cfg)
}

/// The estimate reported (`[ai_act] reported`, else the other where only it is known), how it
/// was made, and whether the two agree within 30 % of it.
fn choose(architecture: Option<f64>, hardware: Option<f64>, cfg: &AiAct) -> Compute {
    let (first, second) = match cfg.reported {
        ComputeMethod::Architecture => ((architecture, "architecture"), (hardware, "hardware")),
        ComputeMethod::Hardware => ((hardware, "hardware"), (architecture, "architecture")),
    };
    let (reported, name) = match (first, second) {
        ((Some(v), n), _) | ((None, _), (Some(v), n)) => (Some(v), n),
        _ => (None, ""),
    };
    let method = match (reported, name) {
        (Some(_), "architecture") => "architecture-based: 6 x parameters (active parameters for mixture-of-experts models) x training tokens, summed over the included jobs".to_string(),
        (Some(_), _) => match cfg.utilisation {
            Some(u) => format!("hardware-based: accelerator-seconds x peak dense 16-bit FLOP/s x each run's measured MFU, else the configured utilisation {u}"),
            None => "hardware-based: accelerator-seconds x peak dense 16-bit FLOP/s x each run's measured MFU".to_string(),
        },
        (None, _) => "not computed: the jobs give no parameters and tokens for the architecture-based estimate, and [ai_act] utilisation (or a published peak) is missing for the hardware-based one".to_string(),
    };
    Compute {
        architecture,
        hardware,
        reported,
        method,
        agree_within_30pct: match (architecture, hardware, reported) {
            (Some(a), Some(h), Some(r)) if r > 0.0 => Some((a - h).abs() / r <= 0.3),
            _ => None,
        },
    }
}

/// The lifetime figures: each model's figures in the previous report (`previous`, its
/// report.json) plus this period's. A model the previous report documents and this period does
/// not keeps its figures. The previous report must not cover this period already.
pub fn carry_forward(
    now: &AiActDoc,
    previous: &serde_json::Value,
    (file, sha256): (&str, &str),
    cfg: &AiAct,
) -> std::result::Result<AiActDoc, String> {
    let Some(models) = previous.pointer("/ai_act/models") else {
        return Err("it has no ai_act documentation (made by an earlier greenledger): this period's figures stand alone".into());
    };
    let before: Vec<ModelDoc> = serde_json::from_value(models.clone())
        .map_err(|e| format!("its ai_act documentation cannot be read ({e})"))?;
    let this = now
        .models
        .first()
        .map(|m| m.periods.clone())
        .unwrap_or_default();
    let mut periods: BTreeSet<String> = BTreeSet::new();
    for m in &before {
        periods.extend(m.periods.iter().cloned());
    }
    if let Some(p) = this.iter().find(|p| periods.contains(*p)) {
        return Err(format!(
            "it already covers {p}: carrying it forward would count the period twice"
        ));
    }
    let mut by_model: BTreeMap<String, ModelDoc> =
        before.into_iter().map(|m| (m.model.clone(), m)).collect();
    for m in now.models.iter().cloned() {
        let merged = match by_model.remove(&m.model) {
            Some(old) => add(old, m, cfg),
            None => m,
        };
        by_model.insert(merged.model.clone(), merged);
    }
    let mut doc = AiActDoc {
        lifetime: "carried forward".to_string(),
        note: None,
        carried_from: Some(CarriedFrom {
            file: file.to_string(),
            sha256: sha256.to_string(),
            periods: periods.into_iter().collect(),
        }),
        models: by_model.into_values().collect(),
    };
    fine_tunes(&mut doc.models, cfg);
    Ok(doc)
}

/// Two spans of a model's training, one after the other.
fn add(old: ModelDoc, new: ModelDoc, cfg: &AiAct) -> ModelDoc {
    let both = |a: Option<f64>, b: Option<f64>| Some(a? + b?);
    let (oc, nc) = (&old.training_compute_flop, &new.training_compute_flop);
    // A span without jobs adds nothing; otherwise an estimate unknown on either side is unknown.
    let sum = |a: Option<f64>, b: Option<f64>, a_jobs: usize, b_jobs: usize| match (a_jobs, b_jobs)
    {
        (0, _) => b,
        (_, 0) => a,
        _ => both(a, b),
    };
    let (oj, nj) = (old.jobs_included, new.jobs_included);
    let compute = choose(
        sum(oc.architecture, nc.architecture, oj, nj),
        sum(oc.hardware, nc.hardware, oj, nj),
        cfg,
    );
    let it = old.it_energy_mwh + new.it_energy_mwh;
    let measured_share = if it > 0.0 {
        (old.measured_share * old.it_energy_mwh + new.measured_share * new.it_energy_mwh) / it
    } else {
        0.0
    };
    let flop = compute.reported;
    let tokens = sum(old.tokens, new.tokens, oj, nj);
    let parameters = match (old.parameters, new.parameters) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let emissions = old.emissions_kgco2e + new.emissions_kgco2e;
    let gross = old.gross_emissions_kgco2e + new.gross_emissions_kgco2e;
    let boundary = match (old.boundary.as_str(), new.boundary.as_str()) {
        (a, "") => a.to_string(),
        ("", b) => b.to_string(),
        (a, b) if a == b => a.to_string(),
        _ => "mixed".to_string(),
    };
    let mut periods = old.periods.clone();
    periods.extend(new.periods.iter().cloned());
    let mut jobs_excluded = old.jobs_excluded;
    jobs_excluded.extend(new.jobs_excluded);
    ModelDoc {
        model: new.model,
        periods,
        training_energy_mwh: old.training_energy_mwh + new.training_energy_mwh,
        it_energy_mwh: it,
        energy_basis: basis(measured_share, oj + nj > 0).to_string(),
        measured_share,
        boundary,
        training_time: TrainingTime {
            wall_clock_days: old.training_time.wall_clock_days + new.training_time.wall_clock_days,
            hardware_days: old.training_time.hardware_days + new.training_time.hardware_days,
        },
        hardware: old
            .hardware
            .into_iter()
            .chain(new.hardware)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        jobs_included: oj + nj,
        jobs_excluded,
        base_model: new.base_model.or(old.base_model),
        share_of_base_compute: None,
        new_provider: None,
        thresholds: Thresholds {
            over_1e23: flop.map(|f| f > 1e23),
            over_1e25: flop.map(|f| f > 1e25),
        },
        methodology: new.methodology,
        sci_ai: sci(emissions, gross, (flop, tokens, parameters)),
        training_compute_flop: compute,
        emissions_kgco2e: emissions,
        gross_emissions_kgco2e: gross,
        tokens,
        parameters,
        inference: new.inference,
    }
}

/// A fine-tune's compute against its base model's: documented here, else published
/// (`[[published_model]]`).
fn fine_tunes(models: &mut [ModelDoc], cfg: &AiAct) {
    let mut reported: BTreeMap<String, Option<f64>> = cfg
        .published_models
        .iter()
        .map(|p| (p.model.clone(), Some(p.training_compute_flop)))
        .collect();
    for d in models.iter() {
        if let Some(f) = d.training_compute_flop.reported {
            reported.insert(d.model.clone(), Some(f));
        }
    }
    for d in models.iter_mut() {
        d.share_of_base_compute = None;
        d.new_provider = None;
        let base = d
            .base_model
            .as_ref()
            .and_then(|b| reported.get(b))
            .copied()
            .flatten();
        if let (Some(mine), Some(base)) = (d.training_compute_flop.reported, base) {
            if base > 0.0 {
                d.share_of_base_compute = Some(mine / base);
                d.new_provider = Some(mine / base > 1.0 / 3.0);
            }
        }
    }
}

/// Wall-clock span of the included jobs inside the period, and accelerator-days.
fn training_time(jobs: &[&JobRow], period: &Period) -> TrainingTime {
    let parse = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.to_utc())
    };
    let starts = jobs.iter().filter_map(|j| parse(&j.start)).min();
    let ends = jobs.iter().filter_map(|j| parse(&j.end)).max();
    let wall = match (starts, ends) {
        (Some(a), Some(b)) => {
            let (a, b) = (a.max(period.start), b.min(period.end));
            ((b - a).num_milliseconds().max(0) as f64) / 86_400_000.0
        }
        _ => 0.0,
    };
    TrainingTime {
        wall_clock_days: wall,
        hardware_days: jobs.iter().map(|j| j.amounts.gpu_hours).sum::<f64>() / 24.0,
    }
}

/// The energy methodology paragraph the Model Documentation Form asks for.
fn methodology(jobs: &[&JobRow], measured_share: f64, compute: &Compute) -> String {
    let tiers: BTreeSet<&str> = jobs.iter().map(|j| j.energy_source.as_str()).collect();
    // Where metered energy came from (sampled energy is the telemetry's, integrated as the
    // tiers say; estimates name their own power and hours).
    let sources: BTreeSet<&str> = jobs
        .iter()
        .filter(|j| j.energy_source == Tier::Metered && !j.energy_detail.is_empty())
        .map(|j| j.energy_detail.as_str())
        .collect();
    let sources: Vec<&str> = sources.into_iter().collect();
    let named = match sources.len() {
        0 => String::new(),
        n if n <= 4 => format!(" Measured by: {}.", sources.join("; ")),
        n => format!(
            " Measured by: {} and {} more.",
            sources[..4].join("; "),
            n - 4
        ),
    };
    format!(
        "{METHODOLOGY_OPENING}, the energy used for training is measured where the logs allow it and estimated elsewhere: {:.0} % of the IT energy was measured (energy counters, power telemetry integrated between samples with gaps longer than the configured limit left out and reported, or metered totals), the rest estimated from accelerator-hours and the accelerators' power. Energy tiers used: {}.{named} The figure is facility energy: the IT energy of the jobs multiplied by each site's power usage effectiveness over the time each job ran. The training compute is {}.",
        measured_share * 100.0,
        tiers.into_iter().collect::<Vec<_>>().join(", "),
        compute.method
    )
}
