//! The view-model: one serialisable `Report` that every renderer reads. Nothing is computed
//! after this point except presentation.

use crate::compute::{Amounts, FactorUse, JobRow, Ledger, TelemetrySummary, TierShare};
use crate::config::Config;
use crate::factors::{self, Factors};
use crate::findings::{Finding, Severity};
use crate::ingest::InputRecord;
use crate::timeutil::Period;
use serde::Serialize;

pub const SCHEMA: &str = "greenledger/report@1";

/// Practice scores: 0..100 or null per practice, and the weighted overall.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    #[serde(flatten)]
    pub practices: std::collections::BTreeMap<&'static str, Option<f64>>,
    pub overall: Option<f64>,
}

impl Scores {
    fn from(card: &crate::score::ScoreCard) -> Self {
        Scores {
            practices: card.scores.clone(),
            overall: card.overall,
        }
    }
}

/// The organisation's scores, with the metric, evidence and reasons behind each.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Organization {
    pub scores: Scores,
    pub score_details: Vec<crate::score::PracticeScore>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamView {
    pub team: String,
    #[serde(flatten)]
    pub amounts: Amounts,
    /// Share of the organisation's location-based emissions.
    pub share: f64,
    pub scores: Scores,
    /// The metric, evidence and reason behind each score.
    pub score_details: Vec<crate::score::PracticeScore>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelView {
    pub model: String,
    pub team: String,
    #[serde(flatten)]
    pub amounts: Amounts,
    /// What a model card and a paper statement say about it.
    pub card: ModelCard,
}

/// The facts behind a model's card (Hugging Face `co2_eq_emissions`) and its SCI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelCard {
    /// `pre-training` or `fine-tuning`, as the Hub uses them.
    pub training_type: String,
    /// e.g. "128 x H100-SXM5-80GB".
    pub hardware_used: String,
    /// Site names and grid zones.
    pub geographical_location: String,
    /// Location-based emissions in grams (the Hub's unit).
    pub emissions_g: f64,
    /// Training runs (jobs) of the model in the period.
    pub runs: u64,
    /// Software Carbon Intensity (ISO/IEC 21031): (E x I + M) per training run, kgCO2e, with
    /// E x I the location-based emissions and M the embodied emissions (where known).
    pub sci_kgco2e_per_run: Option<f64>,
    /// The same per million tokens, when tokens are known.
    pub sci_kgco2e_per_million_tokens: Option<f64>,
    /// A safe file name for `model-cards/<file>.yaml`.
    pub file: String,
}

/// A file name from a model name: letters, digits, `.`, `-` and `_` kept, the rest `_`.
pub fn safe_file_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_start_matches('.').to_string();
    if s.is_empty() {
        "model".into()
    } else {
        s
    }
}

fn model_card(model: &str, amounts: &Amounts, jobs: &[JobRow], cfg: &Config) -> ModelCard {
    let mine: Vec<&JobRow> = jobs.iter().filter(|j| j.model == model).collect();
    let training_type = if mine.iter().any(|j| j.training_type == "pretraining") {
        "pre-training"
    } else {
        "fine-tuning"
    };
    // The largest allocation per accelerator type.
    let mut hw: std::collections::BTreeMap<&str, f64> = std::collections::BTreeMap::new();
    for j in &mine {
        let e = hw.entry(j.hardware.as_str()).or_default();
        *e = e.max(j.devices);
    }
    let hardware_used = hw
        .iter()
        .map(|(h, n)| format!("{n} x {h}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut places: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for j in &mine {
        let site = j
            .site
            .as_deref()
            .and_then(|s| cfg.site(s))
            .map(|s| s.name.clone());
        places.insert(match site {
            Some(name) => format!("{name} ({})", j.zone),
            None => j.zone.clone(),
        });
    }
    let runs = mine.len() as u64;
    let total = amounts.location_kgco2e + amounts.embodied_kgco2e.unwrap_or(0.0);
    ModelCard {
        training_type: training_type.into(),
        hardware_used,
        geographical_location: places.into_iter().collect::<Vec<_>>().join("; "),
        emissions_g: amounts.location_kgco2e * 1000.0,
        runs,
        sci_kgco2e_per_run: (runs > 0).then(|| total / runs as f64),
        sci_kgco2e_per_million_tokens: amounts
            .tokens
            .filter(|t| *t > 0.0)
            .map(|t| total / (t / 1e6)),
        file: safe_file_name(model),
    }
}

pub use crate::score::whatif::WhatIf;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingCounts {
    pub error: usize,
    pub warning: usize,
    pub info: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FactorSet {
    pub name: String,
    pub version: String,
    pub sha256: String,
}

/// Settings and assumptions that shaped the numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Methodology {
    /// Relative uncertainties behind the low/high bounds.
    pub uncertainty: crate::compute::uncertainty::Uncertainty,
    pub default_pue: f64,
    pub default_pue_source: String,
    pub utilisation: f64,
    pub timezone: String,
    pub reference_intensity_g_per_kwh: Option<f64>,
    /// Emissions had the facility energy met the reference intensity.
    pub reference_kgco2e: Option<f64>,
    pub embedded_zones: usize,
    pub embedded_cloud_regions: usize,
    pub embedded_hardware: usize,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub generator: String,
    pub title: String,
    pub organization: String,
    pub generated_at: Option<String>,
    pub period: Period,
    pub totals: Amounts,
    pub tiers: Vec<TierShare>,
    /// Energy and emissions per calendar month (UTC) of the period; the months sum to the totals.
    pub monthly: Vec<crate::compute::MonthRow>,
    pub teams: Vec<TeamView>,
    /// The organisation's practice scores.
    pub organization_scores: Organization,
    /// The rubric the scores were computed with.
    pub rubric: crate::score::Rubric,
    /// The model graph and each team's reuse dividend (an estimate).
    pub lineage: crate::score::lineage::Lineage,
    /// Charts of the report (drawn by the HTML and PDF renderers; not part of report.json).
    #[serde(skip)]
    pub charts: Vec<crate::render::chart::BarChart>,
    /// Quarter over quarter: each team's change since an earlier report (`--previous`).
    pub previous: Option<crate::score::progress::Previous>,
    pub models: Vec<ModelView>,
    pub jobs: Vec<JobRow>,
    pub whatifs: Vec<WhatIf>,
    pub findings: Vec<Finding>,
    pub finding_counts: FindingCounts,
    pub inputs: Vec<InputRecord>,
    /// Telemetry summary (samples, gaps, idle energy per node and site); `null` without telemetry.
    pub telemetry: Option<TelemetrySummary>,
    pub factors: Vec<FactorUse>,
    /// Contractual instruments (market-based), with allocation and surplus.
    pub instruments: Vec<crate::compute::market::InstrumentUse>,
    pub factor_set: FactorSet,
    pub methodology: Methodology,
}

impl Report {
    /// The chart models of this report.
    fn build_charts(&mut self) {
        use crate::render::chart::{BarChart, Kind, Series, COLORS};
        let teams: Vec<String> = self.teams.iter().map(|t| t.team.clone()).collect();
        let mut charts = vec![BarChart::new(
            "emissions_by_team",
            "Emissions by team",
            "kgCO₂e",
            teams.clone(),
            vec![
                Series {
                    name: "location-based".into(),
                    values: self
                        .teams
                        .iter()
                        .map(|t| t.amounts.location_kgco2e)
                        .collect(),
                    color: COLORS[0],
                },
                Series {
                    name: "market-based".into(),
                    values: self
                        .teams
                        .iter()
                        .map(|t| t.amounts.market_kgco2e.unwrap_or(0.0))
                        .collect(),
                    color: COLORS[1],
                },
            ],
        )];
        let months: Vec<String> = self.monthly.iter().map(|m| m.month.clone()).collect();
        charts.push(BarChart::of_kind(
            Kind::Stacked,
            "energy_by_month",
            "Facility energy by month",
            "kWh",
            months.clone(),
            vec![
                Series {
                    name: "IT equipment".into(),
                    values: self.monthly.iter().map(|m| m.it_energy_kwh).collect(),
                    color: COLORS[0],
                },
                Series {
                    name: "facility overhead (PUE)".into(),
                    values: self
                        .monthly
                        .iter()
                        .map(|m| m.facility_energy_kwh - m.it_energy_kwh)
                        .collect(),
                    color: COLORS[4],
                },
            ],
        ));
        charts.push(BarChart::of_kind(
            Kind::Lines,
            "emissions_by_month",
            "Emissions by month",
            "kgCO₂e",
            months,
            vec![
                Series {
                    name: "location-based".into(),
                    values: self.monthly.iter().map(|m| m.location_kgco2e).collect(),
                    color: COLORS[0],
                },
                Series {
                    name: "market-based".into(),
                    values: self.monthly.iter().map(|m| m.market_kgco2e).collect(),
                    color: COLORS[1],
                },
            ],
        ));
        charts.push(BarChart::new(
            "energy_by_tier",
            "IT energy by tier",
            "kWh",
            self.tiers
                .iter()
                .map(|t| t.tier.as_str().to_string())
                .collect(),
            vec![Series {
                name: "IT energy".into(),
                values: self.tiers.iter().map(|t| t.it_energy_kwh).collect(),
                color: COLORS[2],
            }],
        ));
        charts.push(BarChart::new(
            "scores_by_team",
            "Practice scores",
            "0-100",
            crate::score::PRACTICES
                .iter()
                .map(|p| p.replace('_', " "))
                .collect(),
            self.teams
                .iter()
                .enumerate()
                .map(|(i, t)| Series {
                    name: t.team.clone(),
                    values: crate::score::PRACTICES
                        .iter()
                        .map(|p| {
                            t.scores
                                .practices
                                .get(p)
                                .copied()
                                .flatten()
                                .unwrap_or(f64::NAN)
                        })
                        .collect(),
                    color: COLORS[i % COLORS.len()],
                })
                .collect(),
        ));
        if let Some(tel) = &self.telemetry {
            charts.push(BarChart::of_kind(
                Kind::Stacked,
                "idle_by_node",
                "Measured energy per node",
                "kWh",
                tel.nodes.iter().map(|n| n.node.clone()).collect(),
                vec![
                    Series {
                        name: "allocated to jobs".into(),
                        values: tel.nodes.iter().map(|n| n.total_kwh - n.idle_kwh).collect(),
                        color: COLORS[0],
                    },
                    Series {
                        name: "idle".into(),
                        values: tel.nodes.iter().map(|n| n.idle_kwh).collect(),
                        color: COLORS[5],
                    },
                ],
            ));
        }
        self.charts = charts;
    }

    pub fn new(
        cfg: &Config,
        factors: &Factors,
        ledger: Ledger,
        generated_at: Option<String>,
    ) -> Report {
        let total_loc = ledger.totals.location_kgco2e;
        let all: Vec<&JobRow> = ledger.jobs.iter().collect();
        let whatifs = crate::score::whatif::whatifs(
            &ledger.jobs,
            &ledger.sites,
            ledger.best_hardware.as_ref(),
        );
        let lineage = crate::score::lineage::lineage(&ledger.jobs, &cfg.published_footprints);
        let org = crate::score::scorecard(&all, &cfg.rubric);
        let teams = ledger
            .teams
            .into_iter()
            .map(|g| {
                let jobs: Vec<&JobRow> = ledger.jobs.iter().filter(|j| j.team == g.key).collect();
                let card = crate::score::scorecard(&jobs, &cfg.rubric);
                TeamView {
                    share: if total_loc > 0.0 {
                        g.amounts.location_kgco2e / total_loc
                    } else {
                        0.0
                    },
                    team: g.key,
                    amounts: g.amounts,
                    scores: Scores::from(&card),
                    score_details: card.details,
                }
            })
            .collect();
        let models = ledger
            .models
            .into_iter()
            .map(|g| ModelView {
                card: model_card(&g.key, &g.amounts, &ledger.jobs, cfg),
                model: g.key,
                team: g.team.unwrap_or_default(),
                amounts: g.amounts,
            })
            .collect::<Vec<ModelView>>();
        // Distinct file names even when two model names sanitise alike.
        let mut models = models;
        let mut seen: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        for m in models.iter_mut() {
            let n = seen.entry(m.card.file.clone()).or_default();
            *n += 1;
            if *n > 1 {
                m.card.file = format!("{}-{}", m.card.file, n);
            }
        }
        let count = |s| ledger.findings.iter().filter(|f| f.severity == s).count();
        let finding_counts = FindingCounts {
            error: count(Severity::Error),
            warning: count(Severity::Warning),
            info: count(Severity::Info),
        };
        let (zones, regions, hw) = factors.counts();
        let mut report = Report {
            schema: SCHEMA,
            generator: format!("greenledger {}", env!("CARGO_PKG_VERSION")),
            title: cfg.title.clone(),
            organization: cfg.organization.clone(),
            generated_at,
            period: ledger.period,
            methodology: Methodology {
                uncertainty: cfg.uncertainty.clone(),
                default_pue: cfg.default_pue.unwrap_or(factors::DEFAULT_PUE),
                default_pue_source: if cfg.default_pue.is_some() {
                    "greenledger.toml".into()
                } else {
                    factors::DEFAULT_PUE_SOURCE.into()
                },
                utilisation: cfg.utilisation,
                timezone: cfg.timezone_name.clone(),
                reference_intensity_g_per_kwh: cfg.reference_intensity_g_per_kwh,
                reference_kgco2e: cfg
                    .reference_intensity_g_per_kwh
                    .map(|g| ledger.totals.facility_energy_kwh * g / 1000.0),
                embedded_zones: zones,
                embedded_cloud_regions: regions,
                embedded_hardware: hw,
            },
            totals: ledger.totals,
            tiers: ledger.tiers,
            monthly: ledger.monthly,
            teams,
            organization_scores: Organization {
                scores: Scores::from(&org),
                score_details: org.details,
            },
            rubric: cfg.rubric.clone(),
            previous: None,
            lineage,
            charts: Vec::new(),
            models,
            jobs: ledger.jobs,
            whatifs,
            finding_counts,
            findings: ledger.findings,
            inputs: ledger.inputs,
            telemetry: ledger.telemetry,
            factors: ledger.factors,
            instruments: ledger.instruments,
            factor_set: FactorSet {
                name: factors.name.clone(),
                version: factors.version.clone(),
                sha256: factors.sha256.clone(),
            },
        };
        report.build_charts();
        report
    }

    /// Prepare the report for outside readers: node and host names become stable pseudonyms
    /// (`node-` and 8 hex digits of a sha256), and file paths are dropped.
    pub fn make_public(&mut self) {
        use sha2::Digest;
        let pseudo = |name: &str| {
            format!(
                "node-{}",
                &format!(
                    "{:x}",
                    sha2::Sha256::digest(format!("greenledger:{name}").as_bytes())
                )[..8]
            )
        };
        let mut names: Vec<(String, String)> = Vec::new();
        if let Some(t) = &mut self.telemetry {
            for n in &mut t.nodes {
                let p = pseudo(&n.node);
                names.push((n.node.clone(), p.clone()));
                n.node = p;
            }
        }
        for c in &mut self.charts {
            for cat in &mut c.categories {
                if let Some((_, p)) = names.iter().find(|(n, _)| n == cat) {
                    *cat = p.clone();
                }
            }
        }
        for (k, i) in self.inputs.iter().enumerate() {
            if !i.path.is_empty() {
                names.push((i.path.clone(), format!("{} input {}", i.kind, k + 1)));
            }
            if !i.location.is_empty() && i.location != i.path {
                names.push((i.location.clone(), format!("{} input {}", i.kind, k + 1)));
            }
        }
        // Longest names first, so that `gpu1` does not eat into `gpu12`.
        names.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        let scrub = |s: &str| {
            names
                .iter()
                .fold(s.to_string(), |acc, (n, p)| acc.replace(n.as_str(), p))
        };
        for f in &mut self.findings {
            f.message = scrub(&f.message);
            f.file = None;
        }
        for (k, i) in self.inputs.iter_mut().enumerate() {
            i.path = format!("{} input {}", i.kind, k + 1);
            i.location = String::new();
        }
        for j in &mut self.jobs {
            j.file = String::new();
            j.energy_detail = scrub(&j.energy_detail);
        }
        for f in &mut self.factors {
            f.source = scrub(&f.source);
            f.name = scrub(&f.name);
        }
        if let Some(p) = &mut self.previous {
            p.file = "previous report".into();
        }
    }

    /// True when any finding is an error (exit code 1).
    pub fn has_errors(&self) -> bool {
        self.finding_counts.error > 0
    }
}
