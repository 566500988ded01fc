//! The ledger's rows: the plain data compute produces (per job, team, model, tier, month,
//! site, instrument, factor) and the report carries. No logic beyond its own sums, so that
//! compute, score, report and the renderers can share it without depending on each other.

use crate::findings::Finding;
use crate::timeutil::Period;
use serde::Serialize;

pub(crate) mod figures;
pub(crate) mod hourly;
pub(crate) use figures::{ratio, Amounts, Figure};

/// The CPUs and memory a job held, for jobs that run on CPUs alone (data preparation,
/// tokenisation, CPU evaluation): what their estimate needs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CpuUse {
    /// CPU cores allocated (Slurm NCPUS / `cpu=` TRES, the manifest's `cpus`).
    pub cores: f64,
    /// Memory allocated, GB (Slurm `mem=` TRES or ReqMem, the manifest's `memory_gb`).
    pub memory_gb: Option<f64>,
    /// Mean share of the cores in use, 0..1 (TotalCPU / (cores x Elapsed), the manifest's
    /// `cpu_usage`); `None` when not measured.
    pub usage: Option<f64>,
}

/// One job's row of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRow {
    pub job_id: String,
    pub model: String,
    pub team: String,
    pub project: Option<String>,
    pub site: Option<String>,
    pub zone: String,
    pub hardware: String,
    pub devices: f64,
    pub start: String,
    pub end: String,
    pub training_type: &'static str,
    pub status: &'static str,
    pub base_model: Option<String>,
    pub teacher_model: Option<String>,
    pub precision: Option<String>,
    pub sparsity: Option<f64>,
    pub parameters: Option<f64>,
    /// Parameters active per token (mixture-of-experts), when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_parameters: Option<f64>,
    /// The CPUs and memory of a CPU-only job (which holds no accelerator: `devices` is 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuUse>,
    /// The run's measured model FLOPs utilisation, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfu: Option<f64>,
    /// Training tokens, when given.
    pub tokens: Option<f64>,
    pub published: Option<String>,
    pub energy_source: Tier,
    /// Where metered energy came from, or the power used for an estimate.
    pub energy_detail: String,
    /// What the IT energy covers.
    pub boundary: Boundary,
    /// Energy of the accelerators, and of the host around them (CPUs, memory, fans, NICs);
    /// `it_energy_kwh` = their sum. `null` when unknown: a node or tracker meter without a
    /// split, or a host outside the boundary.
    pub accelerator_kwh: Option<f64>,
    pub host_kwh: Option<f64>,
    /// Share of the job's sampled device-time (telemetry tier); `null` for other tiers.
    pub coverage: Option<f64>,
    pub sampled_kwh: Option<f64>,
    pub imputed_kwh: Option<f64>,
    /// Share of the job's duration inside the period.
    pub fraction_in_period: f64,
    pub pue: f64,
    pub intensity_g_per_kwh: f64,
    pub factor_year: Option<i32>,
    #[serde(flatten)]
    pub amounts: Amounts,
    /// kgCO2e (location-based) per billion parameters of the model, when known.
    pub kgco2e_per_billion_parameters: Option<f64>,
    /// TDP of the accelerator, when the hardware table knows it.
    pub tdp_w: Option<f64>,
    /// Dense 16-bit TFLOPS of the accelerator, when published.
    pub tflops: Option<f64>,
    /// Measured mean power per device (samples, a meter, or avg_power_w); `null` for TDP
    /// estimates.
    pub mean_power_w: Option<f64>,
    /// The zone's mean hourly intensity over the period, when hourly data exist.
    pub zone_period_avg_g_per_kwh: Option<f64>,
    /// The cleanest mean intensity the job could have had shifted within +-12 h (hourly data).
    pub shift_best_g_per_kwh: Option<f64>,
    /// How the job was found when no input row names it (`prometheus labels`, `mlflow run
    /// '<name>' in experiment '<experiment>'`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The job's share of the accelerators of its nodes, where telemetry shows them all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_share: Option<f64>,
    pub file: String,
    pub line: u64,
}

/// One row of a cloud provider's carbon export: a month of one account or project, region and
/// service, as the provider estimates it (Scope 2 of its electricity).
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderRow {
    /// `gcp`, `aws` or `azure`.
    pub provider: String,
    /// `YYYY-MM`.
    pub month: String,
    pub region: String,
    pub account: Option<String>,
    pub project: Option<String>,
    pub service: Option<String>,
    /// The provider's location-based figure; `None` where it gives one figure only (Azure's,
    /// read as market-based).
    pub location_kgco2e: Option<f64>,
    pub market_kgco2e: Option<f64>,
    pub model_version: Option<String>,
    /// The export and line (row) it was read from.
    pub file: String,
    pub line: u64,
}

/// A team's or a model's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRow {
    pub key: String,
    /// For models: the team that owns it (the team with the most jobs of it).
    pub team: Option<String>,
    pub amounts: Amounts,
}

/// Energy per tier.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierShare {
    pub tier: Tier,
    pub jobs: u64,
    pub it_energy_kwh: f64,
    pub share: f64,
}

/// The computed accounts of a period.
#[derive(Debug, Clone, PartialEq)]
pub struct Ledger {
    pub period: Period,
    pub jobs: Vec<JobRow>,
    pub teams: Vec<GroupRow>,
    /// Each team's CPU-only jobs, summed (teams without any are absent).
    pub cpu_teams: Vec<GroupRow>,
    pub models: Vec<GroupRow>,
    pub totals: Amounts,
    pub tiers: Vec<TierShare>,
    pub factors: Vec<FactorUse>,
    /// Contractual instruments and how they were allocated (market-based).
    pub instruments: Vec<InstrumentUse>,
    pub findings: Vec<Finding>,
    pub inputs: Vec<InputRecord>,
    /// Telemetry summary and idle energy, when telemetry was given.
    pub telemetry: Option<TelemetrySummary>,
    /// Each configured site's PUE and intensity, for the site what-if.
    pub sites: Vec<SiteFactor>,
    /// The accelerator with the most TFLOPS per watt in the table, for the hardware what-if.
    pub best_hardware: Option<BestHardware>,
    /// Energy and emissions per calendar month of the period.
    pub monthly: Vec<MonthRow>,
    /// The complete inventory per site and month: the owned and colocation sites (Scope 2).
    pub inventory: Inventory,
    /// The cloud sites' rows, per site and month (Scope 3 category 1).
    pub cloud: Vec<InventoryRow>,
    /// The cloud providers' own export rows (`--cloud-carbon`).
    pub cloud_carbon: Vec<ProviderRow>,
    /// The hourly-matched Scope 2, when granular certificates were given.
    pub scope2_hourly: Option<hourly::Scope2Hourly>,
}

/// One calendar month (UTC) of the period: the jobs' figures split by their energy profile
/// (sampled) or their time (else). The months sum to the totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthRow {
    /// `YYYY-MM`.
    pub month: String,
    pub gpu_hours: f64,
    pub it_energy_kwh: f64,
    pub facility_energy_kwh: f64,
    pub location_kgco2e: f64,
    pub market_kgco2e: f64,
}

/// The most efficient accelerator of the hardware table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BestHardware {
    pub name: String,
    pub tflops: f64,
    pub tdp_w: f64,
}

/// A site's effective PUE and location-based intensity over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteFactor {
    pub site: String,
    pub pue: f64,
    pub intensity_g_per_kwh: f64,
}

/// What the telemetry showed as a whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TelemetrySummary {
    #[serde(flatten)]
    pub stats: TelemetryStats,
    /// Mean coverage of the sampled jobs, weighted by their device-time.
    pub mean_coverage: Option<f64>,
    /// Idle (unallocated) energy per node, with the site its jobs ran at.
    pub nodes: Vec<NodeIdleRow>,
    /// Idle energy per site.
    pub sites: Vec<SiteIdle>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeIdleRow {
    pub node: String,
    pub site: Option<String>,
    pub idle_kwh: f64,
    pub total_kwh: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteIdle {
    pub site: String,
    pub idle_kwh: f64,
}

/// Counts for the data-quality summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TelemetryStats {
    /// The engine that integrated the samples (`report --pushdown`), with its SQL's sha256;
    /// absent when greenledger integrated them itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    pub files: usize,
    pub samples: u64,
    pub devices: usize,
    pub duplicates: u64,
    pub dropped: u64,
    pub gaps: u64,
    pub gap_seconds: f64,
    pub out_of_order_devices: usize,
    pub counter_resets: u64,
    /// Energy of all valid segments inside the period, kWh.
    pub total_kwh: f64,
    pub allocated_kwh: f64,
    pub idle_kwh: f64,
}

/// One instrument as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstrumentUse {
    pub site: String,
    pub kind: String,
    pub period: String,
    pub reference: String,
    pub intensity_g_per_kwh: f64,
    /// As contracted.
    pub mwh: f64,
    /// The share of `mwh` falling in the reporting period (by time).
    pub available_mwh: f64,
    /// The site's facility energy in the instrument's period (within the reporting period).
    pub consumption_mwh: f64,
    pub allocated_mwh: f64,
    /// Not used: reported, never carried elsewhere.
    pub surplus_mwh: f64,
    /// allocated / consumption.
    pub share_covered: Option<f64>,
    /// The generating technology, when the config names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub technology: Option<String>,
    /// Where its energy was produced, when the config says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
}

/// A factor the ledger used, as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FactorUse {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub source: String,
    pub year: Option<i32>,
}

/// What a job's IT energy covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Boundary {
    /// The accelerators only (GPU power samples, GPU energy counters, TDP estimates).
    Accelerator,
    /// The whole server (Slurm ConsumedEnergyRaw, node power, accelerators plus host).
    Node,
    /// What a software tracker measured (CodeCarbon: CPU, GPU and RAM of the process).
    System,
}

impl Boundary {
    pub fn as_str(&self) -> &'static str {
        match self {
            Boundary::Accelerator => "accelerator",
            Boundary::Node => "node",
            Boundary::System => "system",
        }
    }

    /// `accelerator`, `node` or `system`.
    pub fn parse(s: &str) -> Option<Boundary> {
        match s.trim().to_ascii_lowercase().as_str() {
            "accelerator" | "gpu" => Some(Boundary::Accelerator),
            "node" | "server" => Some(Boundary::Node),
            "system" => Some(Boundary::System),
            _ => None,
        }
    }
}

/// The energy tier of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Metered,
    Sampled,
    Estimated,
}

impl Tier {
    pub fn as_str(&self) -> &'static str {
        match self {
            Tier::Metered => "metered",
            Tier::Sampled => "sampled",
            Tier::Estimated => "estimated",
        }
    }
}

/// An input file as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputRecord {
    pub path: String,
    pub kind: &'static str,
    pub sha256: String,
    pub size: u64,
    /// Data rows read.
    pub rows: u64,
    /// Rows that became (part of) the ledger.
    pub rows_used: u64,
    /// Rows set aside, each with a finding.
    pub rows_rejected: u64,
    /// Rows replaced by a later cumulative snapshot of the same run (CodeCarbon).
    pub rows_superseded: u64,
    /// Where the file was read from (for the manifest and `verify`; not in report.json).
    #[serde(skip)]
    pub location: String,
}

/// One site and month of the inventory, or the inventory's totals: from the jobs' energy to
/// the electricity the site bought. Nulls mean unknown, never zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InventoryRow {
    /// `null` for jobs without a configured site (and in the totals).
    pub site: Option<String>,
    /// `YYYY-MM` (UTC), or the reporting period in the totals.
    pub period: String,
    /// Within jobs: the accelerators' and the hosts' energy, where the jobs' split is known.
    pub accelerator_kwh: Option<f64>,
    pub host_kwh: Option<f64>,
    /// Energy no job claims: accelerators (power samples) and hosts (node power).
    pub idle_accelerator_kwh: Option<f64>,
    pub idle_host_kwh: Option<f64>,
    pub idle_kwh: Option<f64>,
    /// Jobs + idle.
    pub it_energy_kwh: f64,
    /// IT x PUE.
    pub facility_energy_kwh: f64,
    /// Metered - facility: what only the meter saw (storage, network, losses); `null` without
    /// a meter.
    pub unattributed_kwh: Option<f64>,
    /// The site's metered electricity (a facility meter, else an IT meter x the PUE).
    pub metered_kwh: Option<f64>,
    /// Facility meter / IT meter, when both are given.
    pub measured_pue: Option<f64>,
    /// Facility + unattributed: the electricity the inventory counts.
    pub scope2_kwh: f64,
    pub location_kgco2e: f64,
    pub market_kgco2e: f64,
    pub location_kgco2e_low: f64,
    pub location_kgco2e_high: f64,
    /// The jobs' IT energy (all boundaries), and the part whose split between accelerators
    /// and host is unknown (node and tracker meters).
    pub jobs_it_kwh: f64,
    pub unsplit_kwh: f64,
    /// The jobs' share of the emissions, and the idle and unattributed lines'.
    pub jobs_location_kgco2e: f64,
    pub idle_location_kgco2e: Option<f64>,
    pub unattributed_location_kgco2e: Option<f64>,
    /// The configured PUE over the row's time (idle energy takes it).
    pub pue: Option<f64>,
    pub metered_facility_kwh: Option<f64>,
    pub metered_it_kwh: Option<f64>,
    /// The meters read for the row.
    pub meter_references: Vec<String>,
}

/// The organisation's inventory: per site and month, and its totals (the Scope 2 of the
/// period). `totals.location_kgco2e` = the jobs' + idle + unattributed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Inventory {
    pub sites: Vec<InventoryRow>,
    pub totals: InventoryRow,
}
