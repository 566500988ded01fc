//! greenledger.toml and the command line, turned once into a validated [`Config`].

mod file;
mod inputs;
pub(crate) mod mlflow;
pub(crate) mod prometheus;
pub(crate) mod rubric;
mod sites;
pub(crate) mod uncertainty;

use crate::cli::{InputArgs, OutputArgs};
use crate::error::{Error, Result};
use crate::findings::Finding;
use crate::timeutil::{InputZone, Period};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// An input file: where it is, and how the user named it (that name goes into the report).
#[derive(Debug, Clone, PartialEq)]
pub struct InputFile {
    pub path: PathBuf,
    pub shown: String,
}

/// The input files of a run, by kind.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub jobs: Vec<InputFile>,
    pub codecarbon: Vec<InputFile>,
    pub telemetry: Vec<InputFile>,
    pub sacct: Vec<InputFile>,
    pub grid: Vec<InputFile>,
    pub meters: Vec<InputFile>,
    pub zeus: Vec<InputFile>,
    pub boamps: Vec<InputFile>,
    pub cloud_carbon: Vec<InputFile>,
    pub certificates: Vec<InputFile>,
    /// The zone naive timestamps are read in (`--timezone`, `[inputs] timezone`), and its
    /// name as given.
    pub timezone: InputZone,
    pub timezone_name: String,
}

/// A PUE value, for the whole time or for one period.
#[derive(Debug, Clone, PartialEq)]
pub struct PueEntry {
    pub period: Option<Period>,
    pub value: f64,
}

/// Who buys a site's electricity, which decides the scope its energy is booked in (GHG
/// Protocol): `[[site]] kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SiteKind {
    /// The organisation's own data centre: its electricity is the organisation's Scope 2.
    Owned,
    /// A colocation space whose power the organisation pays: Scope 2 too.
    Colocation,
    /// A public cloud region: the provider buys the electricity (its Scope 2); for the
    /// organisation the compute is a purchased service, Scope 3 category 1.
    Cloud,
}

/// The embedded cloud regions (`provider,region,zone,location`), for the default site kind.
const CLOUD_REGIONS: &str = include_str!("../factors/data/cloud_regions.csv");

impl SiteKind {
    /// `cloud` for a cloud-region zone (`gcp:us-central1`, `aws:eu-west-1`, `azure:westeurope`,
    /// or a bare region the embedded table knows, such as `us-east-1`), else `owned`.
    pub(crate) fn default_for(zone: Option<&str>) -> SiteKind {
        match zone.and_then(cloud_region) {
            Some(_) => SiteKind::Cloud,
            None => SiteKind::Owned,
        }
    }

    /// Whether its electricity is the organisation's Scope 2.
    pub(crate) fn scope2(self) -> bool {
        !matches!(self, SiteKind::Cloud)
    }
}

/// The provider and region of a cloud-region zone: `gcp:us-central1` -> (`gcp`, `us-central1`);
/// a bare region takes its provider from the embedded table.
pub(crate) fn cloud_region(zone: &str) -> Option<(String, String)> {
    let z = zone.trim().to_ascii_lowercase();
    if let Some((p, r)) = z.split_once(':') {
        if ["gcp", "aws", "azure"].contains(&p) && !r.is_empty() {
            return Some((p.to_string(), r.to_string()));
        }
        return None;
    }
    CLOUD_REGIONS.lines().skip(1).find_map(|l| {
        let mut cells = l.split(',');
        let (p, r) = (cells.next()?, cells.next()?);
        (r == z).then(|| (p.to_string(), r.to_string()))
    })
}

/// A datacenter.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub zone: Option<String>,
    /// Who buys its electricity: `owned` and `colocation` sites are the organisation's Scope 2,
    /// `cloud` sites its Scope 3 category 1.
    pub kind: SiteKind,
    /// The provider's project (Google) or account (AWS account, Azure subscription) whose
    /// carbon export rows are this site's, when several share a region.
    pub cloud_project: Option<String>,
    pub cloud_account: Option<String>,
    /// Whole-time value first (if any), then per-period values.
    pub pue: Vec<PueEntry>,
    pub wue_l_per_kwh: Option<f64>,
    pub grid_intensity_g_per_kwh: Option<f64>,
    pub residual_mix_g_per_kwh: Option<f64>,
    /// Contractual instruments (market-based Scope 2), in config order.
    pub instruments: Vec<Instrument>,
    /// Node names or patterns of the site (for telemetry of nodes no job lists).
    pub nodes: crate::hostlist::NodeSet,
    /// `[[site.meter]]` readings.
    pub meters: Vec<SiteMeter>,
    pub line: u64,
}

/// What a site meter measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MeterScope {
    /// The site's electricity (what the invoice says).
    Facility,
    /// The IT equipment's (UPS or PDU output).
    It,
}

impl MeterScope {
    /// `facility` or `it`.
    pub fn parse(s: &str) -> Option<MeterScope> {
        match s.trim().to_ascii_lowercase().as_str() {
            "facility" | "site" => Some(MeterScope::Facility),
            "it" => Some(MeterScope::It),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            MeterScope::Facility => "facility",
            MeterScope::It => "it",
        }
    }
}

/// A `[[site.meter]]` reading: kWh over a period.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteMeter {
    pub period: Period,
    pub kwh: f64,
    pub scope: MeterScope,
    pub reference: String,
}

/// A contractual instrument: energy attribute certificates or a supplier-specific factor.
#[derive(Debug, Clone, PartialEq)]
pub struct Instrument {
    /// PPA, REC, GO or supplier.
    pub kind: String,
    pub period: Period,
    pub mwh: f64,
    pub intensity_g_per_kwh: f64,
    pub reference: String,
    /// wind, solar, hydro, geothermal, biomass, nuclear, gas, ...; `None` when not given.
    pub technology: Option<String>,
    /// The market (zone or country) the energy was produced in, when given.
    pub market: Option<String>,
    /// Its generation per hour (`profile`: a CSV `hour, mwh`), matched hour by hour as
    /// certificates are; `None` when not given.
    pub profile: Option<InputFile>,
}

/// A `[[hardware]]` entry adding to or overriding the embedded table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardwareOverride {
    pub name: String,
    pub tdp_w: Option<f64>,
    /// Dense 16-bit tensor TFLOPS, for the efficient-hardware what-if.
    pub tflops: Option<f64>,
    pub embodied_kgco2e: Option<f64>,
    pub lifetime_years: Option<f64>,
    pub use_factor: Option<f64>,
    /// Power of the host around each accelerator (CPUs, memory, fans, NICs), W per device: an
    /// assumption used where no node power is measured.
    pub host_w_per_device: Option<f64>,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub source: Option<String>,
}

/// A published training footprint of an external model (`[[published_footprint]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedFootprint {
    pub model: String,
    pub kgco2e: f64,
    pub source: String,
}

/// Output settings.
#[derive(Debug, Clone)]
pub struct Output {
    pub dir: PathBuf,
    /// Pseudonymise names and drop paths (`--public`).
    pub public: bool,
    pub formats: Vec<Format>,
    pub force: bool,
    pub templates: Option<PathBuf>,
    pub generated_at: Option<String>,
    /// The minisign secret key to sign the folder with (`--sign`).
    pub sign: Option<PathBuf>,
}

pub(crate) use crate::cli::Format;

/// The entity's net revenue in the period (`[report] net_revenue`, `currency`).
#[derive(Debug, Clone, PartialEq)]
pub struct NetRevenue {
    pub amount: f64,
    pub currency: String,
}

/// `[boamps]`, with its defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Boamps {
    /// BoAmps `taskFamily` of every model ("other" by default), and per model.
    pub task_family: String,
    pub task_families: BTreeMap<String, String>,
    /// Imports: the PUE CodeCarbon applied in CodeCarbon-made reports (divided out).
    pub codecarbon_pue: Option<f64>,
    /// Imports: the site, else the zone, of reports whose country names no zone.
    pub site: Option<String>,
    pub zone: Option<String>,
}

/// `[[published_footprint]]`: as given, or from a BoAmps report (the sum of its measures'
/// energy, kWh, times its `environment.powerSourceCarbonIntensity`, g/kWh).
fn footprints(
    sections: &[file::FootprintSection],
    base: &Path,
    w: &Where,
) -> Result<Vec<PublishedFootprint>> {
    let mut out = Vec::new();
    for s in sections {
        let (kgco2e, source) = match (&s.boamps, s.kgco2e) {
            (Some(p), None) => boamps_footprint(&base.join(p), p, w)?,
            (None, Some(kg)) => (kg, s.source.clone().unwrap_or_default()),
            _ => {
                return Err(w.key(
                    "[[published_footprint]]",
                    Some(("model", &s.model)),
                    "model",
                    format!(
                "[[published_footprint]] '{}': give kgco2e (with source) or boamps, one of them",
                s.model
            ),
                ))
            }
        };
        out.push(PublishedFootprint {
            model: s.model.clone(),
            kgco2e,
            source,
        });
    }
    Ok(out)
}

/// kgCO2e and a source line from a BoAmps report.
fn boamps_footprint(path: &Path, shown: &str, w: &Where) -> Result<(f64, String)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(path, "read the BoAmps report of [[published_footprint]]", e))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        Error::in_file(shown, format!("not valid JSON: {e}")).at_line(e.line() as u64)
    })?;
    let kwh: f64 = v
        .get("measures")
        .and_then(|m| m.as_array())
        .map(|ms| {
            ms.iter()
                .filter_map(|m| m.get("powerConsumption").and_then(|e| e.as_f64()))
                .sum()
        })
        .unwrap_or(0.0);
    let g = v
        .pointer("/environment/powerSourceCarbonIntensity")
        .and_then(|g| g.as_f64());
    match g {
        Some(g) if kwh > 0.0 => Ok((kwh * g / 1000.0, format!("BoAmps report {shown}: {kwh} kWh x {g} g/kWh"))),
        _ => Err(w.key("[[published_footprint]]", Some(("boamps", shown)), "boamps", format!("[[published_footprint]] boamps = '{shown}': the report needs measures with powerConsumption and environment.powerSourceCarbonIntensity to give a footprint; give kgco2e instead"))),
    }
}

/// `[report] net_revenue` with its `currency` (both or neither; the amount > 0).
fn net_revenue(r: &file::ReportSection, w: &Where) -> Result<Option<NetRevenue>> {
    match (r.net_revenue, &r.currency) {
        (None, None) => Ok(None),
        (Some(a), Some(c)) if a.is_finite() && a > 0.0 && !c.trim().is_empty() => {
            Ok(Some(NetRevenue {
                amount: a,
                currency: c.trim().to_string(),
            }))
        }
        _ => Err(w.key(
            "[report]",
            None,
            "net_revenue",
            "[report] net_revenue needs a number > 0 and a currency (e.g. currency = \"EUR\")",
        )),
    }
}

impl From<file::BoampsSection> for Boamps {
    fn from(s: file::BoampsSection) -> Boamps {
        Boamps {
            task_family: s.task_family.unwrap_or_else(|| "other".to_string()),
            task_families: s.task_families,
            codecarbon_pue: s.codecarbon_pue,
            site: s.site,
            zone: s.zone,
        }
    }
}

/// `[report]`: what the report is and covers.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    pub title: String,
    pub organization: String,
    /// `--period`, else `period` or `start`/`end`; `None`: the jobs' span.
    pub period: Option<Period>,
    pub reference_intensity_g_per_kwh: Option<f64>,
    /// `previous`: an earlier report.json, resolved against the config's folder.
    pub previous: Option<InputFile>,
    /// `net_revenue` and `currency`, for the ESRS E1 intensities.
    pub net_revenue: Option<NetRevenue>,
    /// The Scope 2 method of the headline (`scope2_method`).
    pub scope2_method: Scope2Method,
}

/// `[report] scope2_method`: which Scope 2 the headline shows when certificates are given (both
/// are always shown side by side).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
pub enum Scope2Method {
    /// The GHG Protocol's 2015 market-based rules: instruments pro rata over their period.
    #[default]
    #[serde(rename = "2015")]
    Rules2015,
    /// The revision's proposal: certificates matched hour by hour.
    #[serde(rename = "hourly")]
    Hourly,
}

impl Scope2Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope2Method::Rules2015 => "2015",
            Scope2Method::Hourly => "hourly",
        }
    }
}

/// `[codecarbon]`: the team and site of each CodeCarbon project.
#[derive(Debug, Clone, Default)]
pub struct Codecarbon {
    pub teams: BTreeMap<String, String>,
    pub sites: BTreeMap<String, String>,
}

/// `[estimate]`: the estimate tier's assumptions.
#[derive(Debug, Clone)]
pub struct Estimate {
    /// Share of TDP drawn when only TDP is known.
    pub utilisation: f64,
    /// Default PUE for jobs without a site (else the embedded industry average).
    pub default_pue: Option<f64>,
}

/// `[cpu]`: how CPU-only jobs are estimated (Green Algorithms' model: hours x (cores x power
/// per core x core usage + memory GB x power per GB)).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Cpu {
    /// Power per core, W, when the job's CPU model is not in the CPU table.
    pub w_per_core: f64,
    /// Where `w_per_core` comes from (the default, or `[cpu] source`).
    pub core_source: String,
    /// Power per GB of memory allocated, W.
    pub w_per_gb: f64,
    pub gb_source: String,
    /// Core usage when the input does not measure it.
    pub usage: f64,
    /// Cores per node, to share node power between the CPU jobs on a node; `None`: the jobs
    /// present share all of it.
    pub node_cores: Option<f64>,
}

/// Green Algorithms' power per core of an unknown CPU ("Any" in its TDP_cpu table).
pub(crate) const DEFAULT_W_PER_CORE: f64 = 12.0;
/// Green Algorithms' memory power (its reference values, v2.2 onward).
pub(crate) const DEFAULT_W_PER_GB: f64 = 0.3725;
pub(crate) const GREEN_ALGORITHMS: &str =
    "Green Algorithms (Lannelongue et al. 2021), green-algorithms-tool data v2.2";

/// `[telemetry]`: how power samples are read.
#[derive(Debug, Clone)]
pub struct Telemetry {
    /// A segment between two power samples longer than this is a gap (no energy).
    pub max_gap_s: f64,
    /// Columns of nvidia-smi logs without a header line.
    pub nvidia_smi_columns: Option<Vec<String>>,
    /// The node of telemetry that names none (W&B events).
    pub node: Option<String>,
}

/// `[sacct]`: how Slurm accounting maps to jobs.
#[derive(Debug, Clone, Default)]
pub struct Sacct {
    pub columns: Option<Vec<String>>,
    pub site: Option<String>,
    pub sites: BTreeMap<String, String>,
    pub hardware: Option<String>,
    pub partitions: BTreeMap<String, String>,
    pub models: BTreeMap<String, String>,
    pub exclusive: bool,
}

/// `[grid]`.
#[derive(Debug, Clone, Default)]
pub struct Grid {
    /// Use life-cycle rather than direct (operational) hourly intensities.
    pub lifecycle: bool,
}

/// `[accounting] overhead`: where idle and unattributed energy goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overhead {
    /// Kept apart from the teams, as the inventory's own lines.
    #[default]
    Separate,
    /// Spread over the teams by their energy at each site and month.
    Allocate,
}

/// `[accounting]`.
#[derive(Debug, Clone, Default)]
pub struct Accounting {
    pub overhead: Overhead,
}

/// How a model's training compute is estimated (Commission guidelines C(2025) 5045, Annex A).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComputeMethod {
    /// 6 x parameters x training tokens (dense transformers).
    #[default]
    Architecture,
    /// Accelerators x seconds x peak dense 16-bit FLOP/s x utilisation.
    Hardware,
}

/// `[[published_model]]`: an external model's published training compute, so that a
/// fine-tune of it can be compared with it (the AI Act's one-third line).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedModel {
    pub model: String,
    /// Its training compute, FLOP.
    pub training_compute_flop: f64,
    /// Where the figure is published.
    pub source: String,
}

/// `[[ai_act.inference_benchmark]]`: a benchmarked inference of a model, for the form's
/// "benchmarked inference computation".
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct InferenceBenchmark {
    pub model: String,
    /// The task benchmarked (e.g. "summarise a 2,000-token document").
    pub task: String,
    /// Tokens processed by the benchmark (prompt and output).
    pub tokens: f64,
    /// The hardware it ran on.
    pub hardware: String,
    /// Its computation, FLOP, when measured; else 2 x active parameters x tokens.
    pub flop: Option<f64>,
}

/// `[ai_act]`: the EU AI Act documentation of each model's training.
#[derive(Debug, Clone, Default)]
pub struct AiAct {
    /// The utilisation of the hardware-based estimate; `None`: not computed.
    pub utilisation: Option<f64>,
    /// The estimate reported (the other is shown beside it).
    pub reported: ComputeMethod,
    pub inference_benchmarks: Vec<InferenceBenchmark>,
    /// `[[published_model]]`: base models' published training compute.
    pub published_models: Vec<PublishedModel>,
}

/// Everything a run needs, validated: one field per section of greenledger.toml, as the file
/// nests them, with the command line merged in.
#[derive(Debug, Clone)]
pub struct Config {
    pub config_file: Option<InputFile>,
    pub report: ReportSettings,
    /// `[inputs]` and the command line's files.
    pub inputs: Inputs,
    pub sites: Vec<Site>,
    pub hardware: Vec<HardwareOverride>,
    pub codecarbon: Codecarbon,
    pub estimate: Estimate,
    pub cpu: Cpu,
    pub telemetry: Telemetry,
    /// Relative uncertainties for the low/high bounds.
    pub uncertainty: uncertainty::Uncertainty,
    /// The practice rubric (embedded defaults with `[rubric]` overrides).
    pub rubric: rubric::Rubric,
    /// `[[published_footprint]]`: published footprints of external models.
    pub published_footprints: Vec<PublishedFootprint>,
    pub sacct: Sacct,
    pub grid: Grid,
    pub accounting: Accounting,
    pub ai_act: AiAct,
    /// Live telemetry from Prometheus (`[prometheus]`, `--prometheus`).
    pub prometheus: Option<prometheus::Prometheus>,
    /// `--pushdown DIR`: an engine's integration results in place of telemetry files.
    pub pushdown: Option<InputFile>,
    /// Runs from an MLflow tracking server (`[mlflow]`, `--mlflow`).
    pub mlflow: Option<mlflow::Mlflow>,
    /// `[boamps]`: what exports say that the ledger does not know, and how imports are read.
    pub boamps: Boamps,
    pub quiet: bool,
}

/// 1-based line of a byte offset in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> u64 {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64
        + 1
}

/// The config file's name in messages and its text, for line numbers.
pub(crate) struct Where<'a> {
    pub(crate) path: &'a str,
    pub(crate) text: &'a str,
}

impl Where<'_> {
    /// An error in the config at the line of byte `offset`.
    fn at(&self, offset: usize, msg: String) -> Error {
        Error::in_file(self.path, msg).at_line(line_of(self.text, offset))
    }

    /// An error at the line where `table` (as written: `[report]`, `[[hardware]]`) sets `key`;
    /// `entry` picks one entry of an array of tables by one of its keys' value. Without that
    /// line (a default, or a value from the command line), at the table's header; without the
    /// table, the file alone.
    fn key(
        &self,
        table: &str,
        entry: Option<(&str, &str)>,
        key: &str,
        msg: impl Into<String>,
    ) -> Error {
        let e = Error::in_file(self.path, msg.into());
        match locate(self.text, table, entry, key) {
            Some(offset) => e.at_line(line_of(self.text, offset)),
            None => e,
        }
    }
}

impl Where<'_> {
    /// The line of `value` (a string of the list `key` of `table`, quoted either way), else of
    /// `key`, else of the table.
    fn line_of_value(&self, table: &str, key: &str, value: &str) -> Option<u64> {
        let at = locate(self.text, table, None, key)?;
        let rest = &self.text[at..];
        let found = [format!("\"{value}\""), format!("'{value}'")]
            .iter()
            .filter_map(|q| rest.find(q.as_str()))
            .min();
        Some(line_of(self.text, at + found.unwrap_or(0)))
    }

    /// An error at [`Where::line_of_value`].
    fn value(&self, table: &str, key: &str, value: &str, msg: impl Into<String>) -> Error {
        let e = Error::in_file(self.path, msg.into());
        match self.line_of_value(table, key, value) {
            Some(line) => e.at_line(line),
            None => e,
        }
    }
}

/// The byte offset where `table` (the entry of it whose `entry.0` is `entry.1`) sets `key`,
/// else that table's header. A line scan, not a TOML parser: it reads `key = value` lines
/// under `[table]` headers, which is how greenledger.toml files are written.
fn locate(text: &str, table: &str, entry: Option<(&str, &str)>, key: &str) -> Option<usize> {
    struct Block<'t> {
        name: &'t str,
        header: usize,
        keys: Vec<(&'t str, &'t str, usize)>,
    }
    fn unquote(s: &str) -> &str {
        s.trim().trim_matches('"').trim_matches('\'')
    }
    let mut blocks = vec![Block {
        name: "",
        header: 0,
        keys: Vec::new(),
    }];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let at = offset + (line.len() - line.trim_start().len());
        let t = line.trim();
        offset += line.len();
        if t.starts_with('[') {
            let end = t.rfind(']').map_or(t.len(), |e| e + 1);
            blocks.push(Block {
                name: &t[..end],
                header: at,
                keys: Vec::new(),
            });
        } else if let Some((k, v)) = t.split_once('=') {
            let v = v.split(" #").next().unwrap_or(v);
            if let Some(b) = blocks.last_mut() {
                b.keys.push((unquote(k), unquote(v), at));
            }
        }
    }
    let block = blocks.iter().filter(|b| b.name == table).find(|b| {
        entry.is_none_or(|(k, v)| b.keys.iter().any(|(bk, bv, _)| *bk == k && *bv == v))
    })?;
    Some(
        block
            .keys
            .iter()
            .find(|(k, _, _)| *k == key)
            .map_or(block.header, |(_, _, at)| *at),
    )
}

impl Config {
    /// The site whose `[[site]] nodes` (names, host lists or globs) name `node`.
    pub fn site_of_node(&self, node: &str) -> Option<String> {
        self.sites
            .iter()
            .find(|s| s.nodes.contains(node))
            .map(|s| s.id.clone())
    }

    /// Read the config file (if any) and merge the command line into it.
    /// Returns the config and the findings met on the way (globs matching nothing, ...).
    pub fn load(args: &InputArgs) -> Result<(Config, Vec<Finding>)> {
        let mut findings = Vec::new();
        let file::Read { file, text, input } = file::read(args)?;
        let cfg_path = input.as_ref().map(|f| f.shown.clone()).unwrap_or_default();
        let w = Where {
            path: &cfg_path,
            text: &text,
        };
        let base = args
            .config
            .as_ref()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        let period = period(args, &file.report, &w)?;
        let (timezone, timezone_name) = timezone(args, &file.inputs, &w)?;
        let mut inputs = inputs::collect(&file.inputs, args, &base, &w, &mut findings)?;
        (inputs.timezone, inputs.timezone_name) = (timezone, timezone_name);
        let mut sites = sites::sites(&file.site, &w)?;
        for p in sites
            .iter_mut()
            .flat_map(|s| &mut s.instruments)
            .filter_map(|i| i.profile.as_mut())
        {
            p.path = base.join(&p.shown);
        }
        check_hardware(&file.hardware, &w)?;
        check_codecarbon_sites(&file.codecarbon, &sites, &w)?;
        let utilisation = estimate(&file.estimate, &w)?;
        let cpu = cpu(&file.cpu, &w)?;
        let rubric = rubric(file.rubric.as_ref(), &w)?;
        let max_gap_given = args.max_gap_s.or(file.telemetry.max_gap_s);
        let max_gap_s = seconds(("[telemetry]", "max_gap_s"), max_gap_given, 120.0, &w)?;
        let net_revenue = net_revenue(&file.report, &w)?;
        let published_footprints = footprints(&file.published_footprint, &base, &w)?;
        let prometheus =
            prometheus::prometheus(file.prometheus, &args.prometheus, &sites, &base, &w)?;
        let mlflow = mlflow::mlflow(file.mlflow, args.mlflow.as_deref(), &sites, &w)?;
        let pushdown = pushdown(args, &inputs, prometheus.is_some() || mlflow.is_some())?;
        let previous = file.report.previous.as_ref().map(|p| InputFile {
            path: base.join(p),
            shown: p.clone(),
        });
        let r = file.report;
        let cfg = Config {
            config_file: input,
            report: ReportSettings {
                title: r.title.unwrap_or_else(|| "Training footprint".to_string()),
                organization: r.organization.unwrap_or_default(),
                period,
                reference_intensity_g_per_kwh: r.reference_intensity_g_per_kwh,
                previous,
                net_revenue,
                scope2_method: r.scope2_method.unwrap_or_default(),
            },
            inputs,
            sites,
            hardware: file.hardware,
            codecarbon: file.codecarbon.into(),
            estimate: Estimate {
                utilisation,
                default_pue: file.estimate.default_pue,
            },
            cpu,
            telemetry: Telemetry {
                max_gap_s,
                nvidia_smi_columns: file.telemetry.nvidia_smi_columns,
                node: file.telemetry.node,
            },
            uncertainty: file.uncertainty,
            rubric,
            published_footprints,
            sacct: file.sacct.into(),
            grid: Grid {
                lifecycle: file.grid.lifecycle,
            },
            accounting: Accounting {
                overhead: file.accounting.overhead.unwrap_or_default(),
            },
            ai_act: AiAct {
                published_models: published_models(&file.published_model, &w)?,
                ..ai_act(&file.ai_act, &w)?
            },
            prometheus,
            pushdown,
            mlflow,
            boamps: file.boamps.into(),
            quiet: args.quiet,
        };
        Ok((cfg, findings))
    }

    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.id == id)
    }
}

/// `[[published_model]]`: compute > 0, each model once.
fn published_models(list: &[PublishedModel], w: &Where) -> Result<Vec<PublishedModel>> {
    for (i, p) in list.iter().enumerate() {
        let at = |key: &str, msg: String| {
            w.key("[[published_model]]", Some(("model", &p.model)), key, msg)
        };
        if !(p.training_compute_flop.is_finite() && p.training_compute_flop > 0.0) {
            return Err(at(
                "training_compute_flop",
                format!(
                    "[[published_model]] '{}': training_compute_flop must be a number > 0",
                    p.model
                ),
            ));
        }
        if list[..i].iter().any(|q| q.model == p.model) {
            return Err(at(
                "model",
                format!("[[published_model]] '{}' is given twice", p.model),
            ));
        }
    }
    Ok(list.to_vec())
}

/// `[ai_act]`: a utilisation in (0, 1].
fn ai_act(a: &file::AiActSection, w: &Where) -> Result<AiAct> {
    if let Some(u) = &a.utilisation {
        let v = *u.get_ref();
        if !(v > 0.0 && v <= 1.0) {
            return Err(w.at(
                u.span().start,
                format!("[ai_act] utilisation = {v}: give the share of peak FLOP/s sustained, in (0, 1]"),
            ));
        }
    }
    for b in &a.inference_benchmark {
        let bad = |what: &str| {
            w.key(
                "[[ai_act.inference_benchmark]]",
                Some(("model", &b.model)),
                what,
                format!(
                    "[[ai_act.inference_benchmark]] '{}': {what} must be a number > 0",
                    b.model
                ),
            )
        };
        if !(b.tokens.is_finite() && b.tokens > 0.0) {
            return Err(bad("tokens"));
        }
        if b.flop.is_some_and(|f| !(f.is_finite() && f > 0.0)) {
            return Err(bad("flop"));
        }
    }
    Ok(AiAct {
        utilisation: a.utilisation.as_ref().map(|u| *u.get_ref()),
        reported: a.reported.unwrap_or_default(),
        inference_benchmarks: a.inference_benchmark.clone(),
        published_models: Vec::new(),
    })
}

/// Every site `[codecarbon] sites` names must be a `[[site]]`.
fn check_codecarbon_sites(c: &file::CodecarbonSection, sites: &[Site], w: &Where) -> Result<()> {
    for (project, site) in &c.sites {
        if !sites.iter().any(|s| &s.id == site) {
            let msg = format!("[codecarbon] sites: project '{project}' names site '{site}', which no [[site]] defines");
            return Err(match locate(w.text, "[codecarbon.sites]", None, project) {
                Some(_) => w.key("[codecarbon.sites]", None, project, msg),
                None => w.key("[codecarbon]", None, "sites", msg),
            });
        }
    }
    Ok(())
}

impl From<file::CodecarbonSection> for Codecarbon {
    fn from(c: file::CodecarbonSection) -> Codecarbon {
        Codecarbon {
            teams: c.teams,
            sites: c.sites,
        }
    }
}

impl From<file::SacctSection> for Sacct {
    fn from(s: file::SacctSection) -> Sacct {
        Sacct {
            columns: s.columns,
            site: s.site,
            sites: s.sites,
            hardware: s.hardware,
            partitions: s.partitions,
            models: s.models,
            exclusive: s.exclusive,
        }
    }
}

/// A duration setting `key` of `table` (its value, else `default`): a number of seconds > 0.
fn seconds((table, key): (&str, &str), given: Option<f64>, default: f64, w: &Where) -> Result<f64> {
    let v = given.unwrap_or(default);
    if v.is_finite() && v > 0.0 {
        return Ok(v);
    }
    // The telemetry gap is named bare, as `--max-gap-s` also sets it.
    let name = match table {
        "[telemetry]" => key.to_string(),
        _ => format!("{table} {key}"),
    };
    Err(w.key(
        table,
        None,
        key,
        format!("{name} must be a number of seconds > 0, not {v}"),
    ))
}

/// The most retries a live source's config may ask for (each waits up to [`MAX_WAIT_S`]).
pub(crate) const MAX_RETRIES: u32 = 10;
/// The longest wait between two attempts, whatever the backoff or the server's Retry-After.
pub(crate) const MAX_WAIT_S: f64 = 60.0;

/// Retries of a live source: 0 to [`MAX_RETRIES`] (default 3), so that a
/// server that is down costs minutes, not days.
fn retries(section: &str, given: Option<u32>, w: &Where) -> Result<u32> {
    let max = MAX_RETRIES;
    match given.unwrap_or(3) {
        n if n <= max => Ok(n),
        n => Err(w.key(
            section,
            None,
            "retries",
            format!("{section} retries = {n}: give 0 to {max}"),
        )),
    }
}

/// The first wait between attempts: seconds > 0, at most the longest wait.
fn backoff(section: &str, given: Option<f64>, w: &Where) -> Result<f64> {
    let v = seconds((section, "backoff_s"), given, 0.5, w)?;
    let max = MAX_WAIT_S;
    if v > max {
        return Err(w.key(
            section,
            None,
            "backoff_s",
            format!("{section} backoff_s = {v}: give at most {max} seconds"),
        ));
    }
    Ok(v)
}

/// `--pushdown DIR`: a folder, and the only source of accelerator power.
fn pushdown(args: &InputArgs, inputs: &Inputs, prometheus: bool) -> Result<Option<InputFile>> {
    let Some(dir) = &args.pushdown else {
        return Ok(None);
    };
    let shown = dir.display().to_string();
    if !dir.is_dir() {
        return Err(
            Error::new(format!("--pushdown {shown}: not a folder")).hint(
                "give the folder `greenledger pushdown --out DIR` wrote (its engine must have run)",
            ),
        );
    }
    if !inputs.telemetry.is_empty() || prometheus {
        return Err(Error::new(format!(
            "--pushdown {shown} stands in for telemetry: it cannot be combined with telemetry files, Prometheus or MLflow"
        ))
        .hint("give the samples to the engine (run_spark.py --samples) and only --pushdown here"));
    }
    Ok(Some(InputFile {
        path: dir.clone(),
        shown,
    }))
}

/// The reporting period: `--period`, else `[report] period`, else `[report] start`/`end`
/// (both or neither), else none (the report spans the data).
fn period(args: &InputArgs, r: &file::ReportSection, w: &Where) -> Result<Option<Period>> {
    if let Some(p) = &args.period {
        return Ok(Some(
            Period::parse(p).map_err(|e| Error::new(format!("--period: {e}")))?,
        ));
    }
    if let Some(p) = &r.period {
        return Ok(Some(
            Period::parse(p.get_ref()).map_err(|e| w.at(p.span().start, e))?,
        ));
    }
    match (&r.start, &r.end) {
        (Some(s), Some(e)) => Ok(Some(Period::parse(&format!("{s}..{e}")).map_err(|e| {
            w.key(
                "[report]",
                None,
                "start",
                format!("[report] start/end: {e}"),
            )
        })?)),
        (None, None) => Ok(None),
        _ => Err(w.key(
            "[report]",
            None,
            if r.start.is_some() { "start" } else { "end" },
            "[report] needs both start and end, or period",
        )),
    }
}

/// The zone naive timestamps are read in: `--timezone`, else `[inputs] timezone`, else UTC.
fn timezone(args: &InputArgs, i: &file::InputsSection, w: &Where) -> Result<(InputZone, String)> {
    match (&args.timezone, &i.timezone) {
        (Some(tz), _) => Ok((
            InputZone::parse(tz).map_err(|e| Error::new(format!("--timezone: {e}")))?,
            tz.clone(),
        )),
        (None, Some(tz)) => Ok((
            InputZone::parse(tz.get_ref()).map_err(|e| w.at(tz.span().start, e))?,
            tz.get_ref().clone(),
        )),
        (None, None) => Ok((InputZone::Utc, "UTC".to_string())),
    }
}

/// `[[hardware]]` values: finite and >= 0; lifetime and use factor > 0, use factor <= 1.
fn check_hardware(hardware: &[HardwareOverride], w: &Where) -> Result<()> {
    for h in hardware {
        for (name, v) in [
            ("tdp_w", h.tdp_w),
            ("embodied_kgco2e", h.embodied_kgco2e),
            ("lifetime_years", h.lifetime_years),
            ("use_factor", h.use_factor),
            ("host_w_per_device", h.host_w_per_device),
        ] {
            if let Some(v) = v {
                let zero_banned = name == "lifetime_years" || name == "use_factor";
                if !(v.is_finite() && v >= 0.0) || (zero_banned && v == 0.0) {
                    return Err(w.key(
                        "[[hardware]]",
                        Some(("name", &h.name)),
                        name,
                        format!("[[hardware]] '{}': {name} = {v} is not valid", h.name),
                    ));
                }
            }
        }
        if h.use_factor.is_some_and(|u| u > 1.0) {
            return Err(w.key(
                "[[hardware]]",
                Some(("name", &h.name)),
                "use_factor",
                format!("[[hardware]] '{}': use_factor must be in (0, 1]", h.name),
            ));
        }
    }
    Ok(())
}

/// `[estimate]`: utilisation in (0, 1] (returned; default 1) and default_pue in 1..5.
fn estimate(e: &file::EstimateSection, w: &Where) -> Result<f64> {
    let utilisation = e.utilisation.unwrap_or(1.0);
    if !(utilisation > 0.0 && utilisation <= 1.0) {
        return Err(w.key(
            "[estimate]",
            None,
            "utilisation",
            "[estimate] utilisation must be in (0, 1]",
        ));
    }
    if e.default_pue.is_some_and(|p| !(1.0..=5.0).contains(&p)) {
        return Err(w.key(
            "[estimate]",
            None,
            "default_pue",
            "[estimate] default_pue must be in 1.0..5.0",
        ));
    }
    Ok(utilisation)
}

/// `[cpu]`: powers above zero, usage in (0, 1], node cores at least 1.
fn cpu(c: &file::CpuSection, w: &Where) -> Result<Cpu> {
    let check = |key: &str, v: Option<f64>, ok: fn(f64) -> bool, what: &str| match v {
        Some(x) if !ok(x) => Err(w.key("[cpu]", None, key, format!("[cpu] {key} {what}"))),
        _ => Ok(()),
    };
    check(
        "w_per_core",
        c.w_per_core,
        |x| x > 0.0 && x <= 1000.0,
        "must be in (0, 1000] W",
    )?;
    check(
        "w_per_gb",
        c.w_per_gb,
        |x| (0.0..=100.0).contains(&x),
        "must be in 0..100 W",
    )?;
    check(
        "usage",
        c.usage,
        |x| x > 0.0 && x <= 1.0,
        "must be in (0, 1]",
    )?;
    check(
        "node_cores",
        c.node_cores,
        |x| (1.0..=1e5).contains(&x),
        "must be at least 1",
    )?;
    let given = c
        .source
        .clone()
        .unwrap_or_else(|| "greenledger.toml [cpu]".to_string());
    Ok(Cpu {
        w_per_core: c.w_per_core.unwrap_or(DEFAULT_W_PER_CORE),
        core_source: match c.w_per_core {
            Some(_) => given.clone(),
            None => format!("{GREEN_ALGORITHMS}, TDP per core of an unknown CPU"),
        },
        w_per_gb: c.w_per_gb.unwrap_or(DEFAULT_W_PER_GB),
        gb_source: match c.w_per_gb {
            Some(_) => given,
            None => format!("{GREEN_ALGORITHMS}, memory power"),
        },
        usage: c.usage.unwrap_or(1.0),
        node_cores: c.node_cores,
    })
}

/// The rubric: the embedded one with `[rubric.<practice>]` overrides; an error points at the
/// offending table.
fn rubric(
    overrides: Option<&BTreeMap<String, rubric::PointOverride>>,
    w: &Where,
) -> Result<rubric::Rubric> {
    let Some(r) = overrides else {
        return Ok(rubric::Rubric::default());
    };
    rubric::Rubric::default().with(r).map_err(|m| {
        let name = m
            .split(']')
            .next()
            .unwrap_or("")
            .trim_start_matches("[rubric.");
        let at = w
            .text
            .find(&format!("[rubric.{name}]"))
            .or_else(|| w.text.find("[rubric"))
            .unwrap_or(0);
        w.at(at, m.clone())
    })
}
/// The output formats named in `--format` (clap has parsed each name), each once.
fn distinct_formats(given: &[Format]) -> Result<Vec<Format>> {
    let mut out = Vec::new();
    for f in given {
        if !out.contains(f) {
            out.push(*f);
        }
    }
    if out.is_empty() {
        return Err(Error::new("--format: name at least one format"));
    }
    Ok(out)
}

impl Output {
    pub fn from_args(a: &OutputArgs) -> Result<Output> {
        Ok(Output {
            dir: a.out.clone(),
            public: a.public,
            formats: distinct_formats(&a.format)?,
            force: a.force,
            templates: a.templates.clone(),
            generated_at: a.generated_at.clone(),
            sign: a.sign.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cloud_region_zone_makes_a_cloud_site_by_default() {
        assert_eq!(
            cloud_region("gcp:us-central1"),
            Some(("gcp".into(), "us-central1".into()))
        );
        assert_eq!(
            cloud_region("AWS:eu-west-1"),
            Some(("aws".into(), "eu-west-1".into()))
        );
        // A bare region takes its provider from the embedded table.
        assert_eq!(
            cloud_region("us-east-1"),
            Some(("aws".into(), "us-east-1".into()))
        );
        assert_eq!(cloud_region("FR"), None);
        assert_eq!(cloud_region("SE3"), None);
        assert_eq!(cloud_region("ibm:dal10"), None);
        assert_eq!(
            SiteKind::default_for(Some("azure:westeurope")),
            SiteKind::Cloud
        );
        assert_eq!(SiteKind::default_for(Some("FR")), SiteKind::Owned);
        assert_eq!(SiteKind::default_for(None), SiteKind::Owned);
        assert!(SiteKind::Colocation.scope2() && SiteKind::Owned.scope2());
        assert!(!SiteKind::Cloud.scope2());
    }
}
