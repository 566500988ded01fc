//! The view-model: one serialisable `Report` that every renderer reads. Nothing is computed
//! after this point except presentation.

pub mod ai_act;
pub mod esrs;
pub mod evidence;
pub mod scope2;
pub mod scope3;
use crate::config::Config;
use crate::factors::{self, Factors};
use crate::findings::{Finding, Severity};
use crate::timeutil::Period;
use serde::Serialize;

pub mod chart;
pub mod efficiency;

/// The ledger rows the view-model carries, named here so that renderers read only the report.
pub use crate::ledger::figures::{Amounts, Figure};
pub use crate::ledger::{
    Boundary, FactorUse, InputRecord, InstrumentUse, Inventory, InventoryRow, JobRow, Ledger,
    MonthRow, TelemetrySummary, Tier, TierShare,
};

pub const SCHEMA: &str = "greenledger/report@1";

/// Practice scores: 0..100 or null per practice, and the weighted overall.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    #[serde(flatten)]
    pub practices: std::collections::BTreeMap<crate::score::Practice, Option<f64>>,
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
    /// The team's CPU-only jobs (data preparation, tokenisation, CPU evaluation), included in
    /// the team's amounts above but not in its practice scores; absent when it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_only: Option<Amounts>,
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
    /// kWh per billion tokens, energy MFU and the closest published run.
    #[serde(flatten)]
    pub efficiency: efficiency::Efficiency,
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
    /// The inventory context: the model's facility energy over the Scope 2 energy of the sites
    /// its jobs ran at, in the period, and those sites.
    pub share_of_sites: Option<f64>,
    pub sites: Vec<String>,
}

/// What a BoAmps file reports on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoampsSubject {
    Job(String),
    Model(String),
}

/// The BoAmps files of a report and what each is about,
/// `boamps/<job_id>.json` then `boamps/<model>.json`, names made safe and unique: a model named
/// like a job (jobs found in labels are) or two names that sanitise alike take `-2`, `-3`...
pub fn boamps_files(r: &Report) -> Vec<(String, BoampsSubject)> {
    let mut used = std::collections::BTreeSet::new();
    let mut path = |name: &str| {
        let base = format!("boamps/{}", safe_file_name(name));
        format!("{}.json", unique_name(&mut used, &base))
    };
    let mut out: Vec<(String, BoampsSubject)> = r
        .jobs
        .iter()
        .map(|j| (path(&j.job_id), BoampsSubject::Job(j.job_id.clone())))
        .collect();
    let with_jobs: std::collections::BTreeSet<&str> =
        r.jobs.iter().map(|j| j.model.as_str()).collect();
    for m in r
        .models
        .iter()
        .filter(|m| with_jobs.contains(m.model.as_str()))
    {
        out.push((path(&m.model), BoampsSubject::Model(m.model.clone())));
    }
    out
}

/// `base`, else `base-2`, `base-3`... the first name not in `taken` (which then holds it).
fn unique_name(taken: &mut std::collections::BTreeSet<String>, base: &str) -> String {
    let mut name = base.to_string();
    let mut n = 1;
    while taken.contains(&name) {
        n += 1;
        name = format!("{base}-{n}");
    }
    taken.insert(name.clone());
    name
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
        return "model".into();
    }
    // File systems refuse names over 255 bytes: a long name keeps its first 80 characters and
    // a digest of the whole, so that it stays recognisable and distinct.
    if s.len() > 96 {
        use sha2::Digest;
        let digest = format!("{:x}", sha2::Sha256::digest(name.as_bytes()));
        return format!("{}-{}", &s[..80], &digest[..12]);
    }
    s
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
        share_of_sites: None,
        sites: Vec::new(),
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
    pub uncertainty: crate::config::uncertainty::Uncertainty,
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
    /// What `efficient_hardware` measures against (null: no accelerator with TFLOPS and TDP).
    pub hardware_reference: Option<crate::score::HardwareReference>,
    /// How CPU-only jobs were estimated; absent when the report has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuMethod>,
}

/// The `[cpu]` settings behind CPU-only jobs' estimates, as the methodology states them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CpuMethod {
    /// CPU-only jobs in the report.
    pub jobs: usize,
    #[serde(flatten)]
    pub settings: crate::config::Cpu,
}

/// `[boamps]` as the BoAmps renderer reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoampsSettings {
    /// BoAmps `taskFamily` of every model not named below.
    pub task_family: String,
    /// `taskFamily` per model.
    pub task_families: std::collections::BTreeMap<String, String>,
}

/// The whole report: the render context every renderer reads, written whole as report.json
/// (an external renderer needs nothing else).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub generator: String,
    pub title: String,
    pub organization: String,
    pub generated_at: Option<String>,
    pub period: Period,
    pub totals: Amounts,
    /// The complete inventory: jobs, idle energy, facility overhead and what the meters saw,
    /// per site and month (the organisation's Scope 2 for the period).
    pub inventory: Inventory,
    /// ESRS E1 datapoints of the compute boundary, from the inventory.
    pub esrs_e1: Vec<esrs::EsrsRow>,
    /// The GHG Protocol Scope 2 disclosure table (owned and colocation sites).
    pub scope2: scope2::Scope2,
    /// Scope 3 category 1: the compute bought from cloud providers, per cloud site.
    pub scope3: scope3::Scope3,
    pub tiers: Vec<TierShare>,
    /// Energy and emissions per calendar month (UTC) of the period; the months sum to the totals.
    pub monthly: Vec<MonthRow>,
    pub teams: Vec<TeamView>,
    /// The organisation's practice scores.
    pub organization_scores: Organization,
    /// The rubric the scores were computed with.
    pub rubric: crate::score::Rubric,
    /// The model graph and each team's reuse dividend (an estimate).
    pub lineage: crate::score::lineage::Lineage,
    /// The EU AI Act documentation of each model's training compute and energy.
    pub ai_act: ai_act::AiActDoc,
    /// The report's charts as data (categories, series, scale), which the HTML and PDF draw.
    pub charts: Vec<chart::BarChart>,
    /// The practices in report order.
    pub practices: Vec<crate::score::Practice>,
    /// Quarter over quarter: each team's change since an earlier report (`--previous`).
    pub previous: Option<crate::score::progress::Previous>,
    /// Why emissions changed since that report, by cause (`--previous`).
    pub bridge: Option<crate::score::bridge::Bridge>,
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
    pub instruments: Vec<InstrumentUse>,
    pub factor_set: FactorSet,
    pub methodology: Methodology,
    /// Made for outside readers (`--public`): node names pseudonymised, paths dropped; BoAmps
    /// says `public`, else `internal`.
    pub public: bool,
    /// What the BoAmps files say that the ledger does not know.
    pub boamps: BoampsSettings,
    /// Each site's configured grid zone (a job's `zone` says `site:<id>` when its site gives
    /// its own intensity).
    pub site_zones: std::collections::BTreeMap<String, String>,
    /// Each job's trail (in `jobs` order): sources, energy, PUE, factors, market cover, bounds.
    /// Made from the rest of this view-model when the report is published.
    pub evidence: Vec<evidence::Trail>,
}

impl Report {
    /// The view-model of a ledger: scores, what-ifs, lineage and model cards added, charts
    /// laid out as data.
    pub fn new(
        cfg: &Config,
        factors: &Factors,
        mut ledger: Ledger,
        generated_at: Option<String>,
    ) -> Report {
        let (scope3, cloud_findings) = scope3::table(
            &ledger.cloud,
            &cfg.sites,
            &ledger.cloud_carbon,
            &ledger.period,
        );
        ledger.findings.extend(cloud_findings);
        let (esrs_e1, scope2) = disclosures(cfg, &mut ledger, &scope3);
        // CPU-only jobs are practice-neutral: the practices judge accelerator work.
        let all: Vec<&JobRow> = ledger.jobs.iter().filter(|j| j.cpu.is_none()).collect();
        let whatifs = crate::score::whatif::whatifs(
            &ledger.jobs,
            &ledger.sites,
            ledger.best_hardware.as_ref(),
            scope2.hourly.as_ref().map_or(&[][..], |h| &h.whatifs[..]),
        );
        let lineage = crate::score::lineage::lineage(&ledger.jobs, &cfg.published_footprints);
        let reference = hardware_reference(cfg, factors, &ledger.period);
        let org = crate::score::scorecard(&all, &cfg.rubric, reference.as_ref());
        let teams = team_views(&ledger, cfg, reference.as_ref());
        let models = model_views(&ledger, cfg, factors);
        let ai_act = ai_act::document(&ledger.jobs, &cfg.ai_act, &ledger.period);
        let mut report = Report {
            schema: SCHEMA,
            generator: format!("greenledger {}", env!("CARGO_PKG_VERSION")),
            title: cfg.report.title.clone(),
            organization: cfg.report.organization.clone(),
            generated_at,
            period: ledger.period.clone(),
            methodology: methodology(cfg, factors, &ledger),
            totals: ledger.totals,
            inventory: ledger.inventory,
            esrs_e1,
            scope2,
            scope3,
            tiers: ledger.tiers,
            monthly: ledger.monthly,
            teams,
            organization_scores: Organization {
                scores: Scores::from(&org),
                score_details: org.details,
            },
            rubric: cfg.rubric.clone(),
            practices: crate::score::Practice::ALL.to_vec(),
            previous: None,
            bridge: None,
            lineage,
            ai_act,
            charts: Vec::new(),
            models,
            jobs: ledger.jobs,
            whatifs,
            finding_counts: FindingCounts::of(&ledger.findings),
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
            public: false,
            boamps: BoampsSettings {
                task_family: cfg.boamps.task_family.clone(),
                task_families: cfg.boamps.task_families.clone(),
            },
            site_zones: cfg
                .sites
                .iter()
                .filter_map(|s| s.zone.clone().map(|z| (s.id.clone(), z)))
                .collect(),
            evidence: Vec::new(),
        };
        report.charts = chart::charts(&report);
        report
    }

    /// The view-model as report.json holds it.
    pub fn to_json(&self) -> crate::error::Result<serde_json::Value> {
        serde_json::to_value(self)
            .map_err(|e| crate::error::Error::new(format!("internal error: {e}")))
    }

    /// Each job's trail, from the report (again after `--public`, so that the trails carry its
    /// pseudonyms).
    pub fn add_evidence(&mut self) -> crate::error::Result<()> {
        self.evidence = evidence::trails(&self.to_json()?);
        Ok(())
    }

    /// Prepare the report for outside readers: node and host names become pseudonyms (`node-`
    /// and 12 hex digits of an HMAC-SHA256 under `key`, a secret: without it nobody can tell
    /// which name a pseudonym stands for by hashing guesses), and file paths are dropped.
    /// Returns every name replaced, with its replacement, for [`crate::render::scrub_public`]
    /// to check the written files against.
    pub fn make_public(&mut self, key: &[u8]) -> Vec<(String, String)> {
        self.public = true;
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
        let pseudo = |name: &str| {
            let tag = ring::hmac::sign(&key, name.as_bytes());
            let hex: String = tag.as_ref()[..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            format!("node-{hex}")
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
        let inventory = &mut self.inventory;
        for row in inventory
            .sites
            .iter_mut()
            .chain(std::iter::once(&mut inventory.totals))
        {
            for m in &mut row.meter_references {
                *m = scrub(m);
            }
        }
        for f in &mut self.factors {
            f.source = scrub(&f.source);
            f.name = scrub(&f.name);
        }
        if let Some(p) = &mut self.previous {
            p.file = "previous report".into();
        }
        names
    }

    /// Each team's figures as `score::progress` compares them with an earlier report.
    pub fn teams_now(&self) -> Vec<crate::score::progress::TeamNow<'_>> {
        self.teams
            .iter()
            .map(|t| crate::score::progress::TeamNow {
                team: &t.team,
                location_kgco2e: t.amounts.location_kgco2e,
                market_kgco2e: t.amounts.market_kgco2e,
                kgco2e_per_gpu_hour: t.amounts.kgco2e_per_gpu_hour,
                scores: &t.scores.practices,
                overall: t.scores.overall,
            })
            .collect()
    }

    /// True when any finding is an error (exit code 1).
    pub fn has_errors(&self) -> bool {
        self.finding_counts.error > 0
    }
}

/// Each team with its share of the organisation's location-based emissions and its scores.
/// The ESRS E1 datapoints (their findings added to the ledger's) and the Scope 2 table.
fn disclosures(
    cfg: &Config,
    ledger: &mut Ledger,
    scope3: &scope3::Scope3,
) -> (Vec<esrs::EsrsRow>, scope2::Scope2) {
    let (esrs_e1, findings) = esrs::datapoints(
        &ledger.inventory,
        &scope3.category_1_cloud,
        &ledger.instruments,
        &ledger.period.label,
        cfg.report.net_revenue.as_ref(),
        cfg.config_file.as_ref().map(|f| f.shown.as_str()),
    );
    ledger.findings.extend(findings);
    let no_site_idle: f64 = ledger
        .telemetry
        .iter()
        .flat_map(|t| &t.nodes)
        .filter(|n| n.site.is_none())
        .map(|n| n.idle_kwh)
        .sum();
    let mut scope2 = scope2::table(
        &ledger.inventory,
        &ledger.instruments,
        &cfg.sites,
        ledger.period.year(),
        no_site_idle,
    );
    scope2.hourly = ledger
        .scope2_hourly
        .take()
        .map(|h| scope2::with_2015(h, &scope2));
    (esrs_e1, scope2)
}

/// What `efficient_hardware` measures against: `[rubric.efficient_hardware]
/// reference_tflops_per_w`, else the hardware table's best TFLOPS per watt by the period's year.
fn hardware_reference(
    cfg: &Config,
    factors: &Factors,
    period: &crate::timeutil::Period,
) -> Option<crate::score::HardwareReference> {
    use crate::score::HardwareReference;
    if let Some(r) = cfg
        .rubric
        .practices
        .get(&crate::score::Practice::EfficientHardware)
        .and_then(|p| p.reference_tflops_per_w)
    {
        return Some(HardwareReference {
            name: "configured".into(),
            tflops_per_w: r,
            basis: "[rubric.efficient_hardware] reference_tflops_per_w".into(),
        });
    }
    let year = period.year();
    factors.most_efficient_by(Some(year)).map(|h| {
        let (t, w) = (h.tflops.unwrap_or(0.0), h.tdp_w.unwrap_or(1.0));
        HardwareReference {
            name: h.name.clone(),
            tflops_per_w: t / w,
            basis: format!(
                "the most TFLOPS per watt in the hardware table among accelerators of {year} or earlier: {t} dense 16-bit TFLOPS / {w} W ({})",
                h.source
            ),
        }
    })
}

fn team_views(
    ledger: &Ledger,
    cfg: &Config,
    reference: Option<&crate::score::HardwareReference>,
) -> Vec<TeamView> {
    let total_loc = ledger.totals.location_kgco2e;
    ledger
        .teams
        .iter()
        .map(|g| {
            let jobs: Vec<&JobRow> = ledger
                .jobs
                .iter()
                .filter(|j| j.team == g.key && j.cpu.is_none())
                .collect();
            let card = crate::score::scorecard(&jobs, &cfg.rubric, reference);
            let cpu_only = ledger
                .cpu_teams
                .iter()
                .find(|c| c.key == g.key)
                .map(|c| c.amounts.clone());
            TeamView {
                share: if total_loc > 0.0 {
                    g.amounts.location_kgco2e / total_loc
                } else {
                    0.0
                },
                team: g.key.clone(),
                amounts: g.amounts.clone(),
                cpu_only,
                scores: Scores::from(&card),
                score_details: card.details,
            }
        })
        .collect()
}

/// Each model with its card facts; card file names are made distinct when two model names
/// sanitise alike (`name`, `name-2`, ...).
fn model_views(ledger: &Ledger, cfg: &Config, factors: &Factors) -> Vec<ModelView> {
    let peers = crate::factors::peers::peers();
    let mut models: Vec<ModelView> = ledger
        .models
        .iter()
        .map(|g| ModelView {
            efficiency: efficiency::of(&g.key, &ledger.jobs, factors, &peers),
            card: model_card(&g.key, &g.amounts, &ledger.jobs, cfg),
            model: g.key.clone(),
            team: g.team.clone().unwrap_or_default(),
            amounts: g.amounts.clone(),
        })
        .collect();
    // Distinct after sanitising: `a/b` and `a_b` become `a_b` and `a_b-2` (a suffix that is
    // itself taken moves on to the next number).
    let mut taken: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for m in models.iter_mut() {
        m.card.file = unique_name(&mut taken, &m.card.file);
        inventory_context(m, &ledger.jobs, &ledger.inventory);
    }
    models
}

/// A model's share of the Scope 2 energy of the sites its jobs ran at.
fn inventory_context(m: &mut ModelView, jobs: &[JobRow], inv: &crate::ledger::Inventory) {
    let mut sites: Vec<String> = jobs
        .iter()
        .filter(|j| j.model == m.model)
        .filter_map(|j| j.site.clone())
        .collect();
    sites.sort();
    sites.dedup();
    let site_kwh: f64 = inv
        .sites
        .iter()
        .filter(|r| r.site.as_ref().is_some_and(|s| sites.contains(s)))
        .map(|r| r.scope2_kwh)
        .sum();
    if site_kwh > 0.0 {
        m.card.share_of_sites = Some(m.amounts.facility_energy_kwh / site_kwh);
    }
    m.card.sites = sites;
}

/// The settings and assumptions behind the numbers, as the methodology appendix states them.
fn methodology(cfg: &Config, factors: &Factors, ledger: &Ledger) -> Methodology {
    let (zones, regions, hw) = factors.counts();
    Methodology {
        uncertainty: cfg.uncertainty.clone(),
        default_pue: cfg.estimate.default_pue.unwrap_or(factors::DEFAULT_PUE),
        default_pue_source: if cfg.estimate.default_pue.is_some() {
            "greenledger.toml".into()
        } else {
            factors::DEFAULT_PUE_SOURCE.into()
        },
        utilisation: cfg.estimate.utilisation,
        timezone: cfg.inputs.timezone_name.clone(),
        reference_intensity_g_per_kwh: cfg.report.reference_intensity_g_per_kwh,
        reference_kgco2e: cfg
            .report
            .reference_intensity_g_per_kwh
            .map(|g| ledger.totals.facility_energy_kwh * g / 1000.0),
        embedded_zones: zones,
        embedded_cloud_regions: regions,
        embedded_hardware: hw,
        hardware_reference: hardware_reference(cfg, factors, &ledger.period),
        cpu: {
            let jobs = ledger.jobs.iter().filter(|j| j.cpu.is_some()).count();
            (jobs > 0).then(|| CpuMethod {
                jobs,
                settings: cfg.cpu.clone(),
            })
        },
    }
}

impl FindingCounts {
    /// Findings counted by severity.
    pub fn of(findings: &[Finding]) -> FindingCounts {
        let count = |s| findings.iter().filter(|f| f.severity == s).count();
        FindingCounts {
            error: count(Severity::Error),
            warning: count(Severity::Warning),
            info: count(Severity::Info),
        }
    }
}

#[cfg(test)]
mod tests {
    /// report.json is the render context: no field of the view-model may be left out of it
    /// (a renderer reading a skipped field would need more than report.json).
    #[test]
    fn nothing_in_the_view_model_is_skipped_from_report_json() {
        let skip = concat!("#[serde", "(skip)]");
        for (name, text) in [
            ("report/mod.rs", include_str!("mod.rs")),
            ("report/chart.rs", include_str!("chart.rs")),
            ("report/scope2.rs", include_str!("scope2.rs")),
            ("report/esrs.rs", include_str!("esrs.rs")),
            ("report/efficiency.rs", include_str!("efficiency.rs")),
        ] {
            assert!(
                !text.contains(skip),
                "{name} skips a field from report.json"
            );
        }
    }
}
