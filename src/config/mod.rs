//! greenledger.toml and the command line, turned once into a validated [`Config`].

pub mod rubric;
pub mod uncertainty;

use crate::cli::{InputArgs, OutputArgs};
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
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
}

/// A PUE value, for the whole time or for one period.
#[derive(Debug, Clone, PartialEq)]
pub struct PueEntry {
    pub period: Option<Period>,
    pub value: f64,
}

/// A datacenter.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub zone: Option<String>,
    /// Whole-time value first (if any), then per-period values.
    pub pue: Vec<PueEntry>,
    pub wue_l_per_kwh: Option<f64>,
    pub grid_intensity_g_per_kwh: Option<f64>,
    pub residual_mix_g_per_kwh: Option<f64>,
    /// Contractual instruments (market-based Scope 2), in config order.
    pub instruments: Vec<Instrument>,
    pub line: u64,
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
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Json,
    Csv,
    ModelCards,
    Pdf,
}

/// Everything a run needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub config_file: Option<InputFile>,
    pub title: String,
    pub organization: String,
    pub period: Option<Period>,
    pub reference_intensity_g_per_kwh: Option<f64>,
    pub inputs: Inputs,
    pub timezone: InputZone,
    pub timezone_name: String,
    pub sites: Vec<Site>,
    pub hardware: Vec<HardwareOverride>,
    pub codecarbon_teams: BTreeMap<String, String>,
    pub codecarbon_sites: BTreeMap<String, String>,
    /// Share of TDP drawn when only TDP is known (estimate tier).
    pub utilisation: f64,
    /// Default PUE for jobs without a site (else the embedded industry average).
    pub default_pue: Option<f64>,
    /// A segment between two power samples longer than this is a gap (no energy).
    pub max_gap_s: f64,
    /// Columns of nvidia-smi logs without a header line.
    pub nvidia_smi_columns: Option<Vec<String>>,
    /// Relative uncertainties for the low/high bounds.
    pub uncertainty: uncertainty::Uncertainty,
    /// The practice rubric (embedded defaults with `[rubric]` overrides).
    pub rubric: rubric::Rubric,
    /// `[report] previous`: an earlier report.json, resolved against the config's folder.
    pub previous: Option<InputFile>,
    /// Published footprints of external models.
    pub published_footprints: Vec<PublishedFootprint>,
    pub sacct_columns: Option<Vec<String>>,
    pub sacct_site: Option<String>,
    pub sacct_sites: BTreeMap<String, String>,
    pub sacct_hardware: Option<String>,
    pub sacct_partitions: BTreeMap<String, String>,
    pub sacct_models: BTreeMap<String, String>,
    pub sacct_exclusive: bool,
    /// Use life-cycle rather than direct (operational) hourly intensities.
    pub grid_lifecycle: bool,
    pub quiet: bool,
}

// ---- the file as written -------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    report: ReportSection,
    #[serde(default)]
    inputs: InputsSection,
    #[serde(default)]
    site: Vec<toml::Spanned<SiteSection>>,
    #[serde(default)]
    hardware: Vec<HardwareOverride>,
    #[serde(default)]
    codecarbon: CodecarbonSection,
    #[serde(default)]
    estimate: EstimateSection,
    #[serde(default)]
    telemetry: TelemetrySection,
    #[serde(default)]
    uncertainty: uncertainty::Uncertainty,
    #[serde(default)]
    sacct: SacctSection,
    #[serde(default)]
    grid: GridSection,
    /// Published training footprints of external models (for the reuse dividend).
    #[serde(default)]
    published_footprint: Vec<PublishedFootprint>,
    /// Overrides of the practice rubric, per practice.
    #[serde(default)]
    rubric: Option<BTreeMap<String, rubric::PointOverride>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportSection {
    title: Option<String>,
    organization: Option<String>,
    period: Option<toml::Spanned<String>>,
    start: Option<String>,
    end: Option<String>,
    reference_intensity_g_per_kwh: Option<f64>,
    /// An earlier report.json to compare with (relative to this file).
    previous: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputsSection {
    #[serde(default)]
    jobs: Vec<String>,
    #[serde(default)]
    codecarbon: Vec<String>,
    #[serde(default)]
    telemetry: Vec<String>,
    #[serde(default)]
    sacct: Vec<String>,
    #[serde(default)]
    grid: Vec<String>,
    timezone: Option<toml::Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteSection {
    id: String,
    name: Option<String>,
    /// `grid_zone` is accepted too (the spelling of shared/bench/gen_fleet.py).
    #[serde(alias = "grid_zone")]
    zone: Option<String>,
    pue: Option<PueSpec>,
    wue_l_per_kwh: Option<f64>,
    grid_intensity_g_per_kwh: Option<f64>,
    residual_mix_g_per_kwh: Option<f64>,
    #[serde(default)]
    instrument: Vec<InstrumentSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstrumentSection {
    kind: String,
    period: String,
    mwh: f64,
    intensity_g_per_kwh: Option<f64>,
    #[serde(default)]
    reference: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PueSpec {
    One(f64),
    ByPeriod(Vec<PuePeriodSection>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PuePeriodSection {
    period: String,
    value: f64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodecarbonSection {
    #[serde(default)]
    teams: BTreeMap<String, String>,
    #[serde(default)]
    sites: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GridSection {
    /// Life-cycle intensities instead of direct (operational) ones.
    #[serde(default)]
    lifecycle: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SacctSection {
    /// Field list of headerless output (`--noheader`), in order.
    columns: Option<Vec<String>>,
    /// Site of every sacct job, or per cluster.
    site: Option<String>,
    #[serde(default)]
    sites: BTreeMap<String, String>,
    /// Accelerator of every sacct job, or per partition.
    hardware: Option<String>,
    #[serde(default)]
    partitions: BTreeMap<String, String>,
    /// JobName -> model.
    #[serde(default)]
    models: BTreeMap<String, String>,
    /// Nodes are allocated exclusively (ConsumedEnergyRaw is then the job's own).
    #[serde(default)]
    exclusive: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TelemetrySection {
    max_gap_s: Option<f64>,
    /// Columns of nvidia-smi logs written with `--format=csv,noheader`.
    nvidia_smi_columns: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EstimateSection {
    utilisation: Option<f64>,
    default_pue: Option<f64>,
}

/// 1-based line of a byte offset in `text`.
pub fn line_of(text: &str, offset: usize) -> u64 {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64
        + 1
}

impl Config {
    /// Read the config file (if any) and merge the command line into it.
    /// Returns the config and the findings met on the way (globs matching nothing, ...).
    pub fn load(args: &InputArgs) -> Result<(Config, Vec<Finding>)> {
        let mut findings = Vec::new();
        let (file, text, cfg_file) = match &args.config {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    Error::io(p, "read the config", e).hint("check the path given to --config")
                })?;
                let parsed: FileConfig = toml::from_str(&text).map_err(|e| {
                    let mut err = Error::in_file(p, e.message().to_string()).hint(
                        "see the greenledger.toml section of DESIGN.md for the accepted keys",
                    );
                    if let Some(span) = e.span() {
                        err = err.at_line(line_of(&text, span.start));
                    }
                    err
                })?;
                let shown = args
                    .config_name
                    .clone()
                    .unwrap_or_else(|| p.display().to_string());
                (
                    parsed,
                    text,
                    Some(InputFile {
                        path: p.clone(),
                        shown,
                    }),
                )
            }
            None => (FileConfig::default(), String::new(), None),
        };
        let cfg_path = cfg_file
            .as_ref()
            .map(|f| f.shown.clone())
            .unwrap_or_default();
        let base = args
            .config
            .as_ref()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default();

        let err_at = |offset: usize, msg: String| {
            Error::in_file(&cfg_path, msg).at_line(line_of(&text, offset))
        };

        // Period: the command line wins over the file.
        let period = if let Some(p) = &args.period {
            Some(Period::parse(p).map_err(|e| Error::new(format!("--period: {e}")))?)
        } else if let Some(p) = &file.report.period {
            Some(Period::parse(p.get_ref()).map_err(|e| err_at(p.span().start, e))?)
        } else {
            match (&file.report.start, &file.report.end) {
                (Some(s), Some(e)) => {
                    Some(Period::parse(&format!("{s}..{e}")).map_err(|e| {
                        Error::in_file(&cfg_path, format!("[report] start/end: {e}"))
                    })?)
                }
                (None, None) => None,
                _ => {
                    return Err(Error::in_file(
                        &cfg_path,
                        "[report] needs both start and end, or period",
                    ))
                }
            }
        };

        let (timezone, timezone_name) = match (&args.timezone, &file.inputs.timezone) {
            (Some(tz), _) => (
                InputZone::parse(tz).map_err(|e| Error::new(format!("--timezone: {e}")))?,
                tz.clone(),
            ),
            (None, Some(tz)) => (
                InputZone::parse(tz.get_ref()).map_err(|e| err_at(tz.span().start, e))?,
                tz.get_ref().clone(),
            ),
            (None, None) => (InputZone::Utc, "UTC".to_string()),
        };

        let mut inputs = Inputs::default();
        for (kind, from_file, from_cli, dest) in [
            ("jobs", &file.inputs.jobs, &args.jobs, &mut inputs.jobs),
            (
                "codecarbon",
                &file.inputs.codecarbon,
                &args.codecarbon,
                &mut inputs.codecarbon,
            ),
            (
                "telemetry",
                &file.inputs.telemetry,
                &args.telemetry,
                &mut inputs.telemetry,
            ),
            ("sacct", &file.inputs.sacct, &args.sacct, &mut inputs.sacct),
            ("grid", &file.inputs.grid, &args.grid, &mut inputs.grid),
        ] {
            for pattern in from_file {
                expand(&base, pattern, kind, &cfg_path, dest, &mut findings)?;
            }
            for p in from_cli {
                if !p.exists() {
                    return Err(Error::in_file(p, format!("{kind} input does not exist"))
                        .hint("check the path"));
                }
                push_unique(
                    dest,
                    InputFile {
                        path: p.clone(),
                        shown: p.display().to_string(),
                    },
                );
            }
        }

        let mut sites = Vec::new();
        for s in &file.site {
            let line = line_of(&text, s.span().start);
            let site = s.get_ref();
            let bad = |m: String| {
                Error::in_file(&cfg_path, format!("[[site]] '{}': {m}", site.id)).at_line(line)
            };
            if sites.iter().any(|x: &Site| x.id == site.id) {
                return Err(bad("a site with this id is already defined".into()));
            }
            let mut pue = Vec::new();
            match &site.pue {
                Some(PueSpec::One(v)) => pue.push(PueEntry {
                    period: None,
                    value: *v,
                }),
                Some(PueSpec::ByPeriod(list)) => {
                    for e in list {
                        let p = Period::parse(&e.period)
                            .map_err(|m| bad(format!("pue period: {m}")))?;
                        pue.push(PueEntry {
                            period: Some(p),
                            value: e.value,
                        });
                    }
                }
                None => {}
            }
            for e in &pue {
                if !(1.0..=5.0).contains(&e.value) {
                    return Err(bad(format!("pue {} is outside 1.0..5.0", e.value)));
                }
            }
            // Per-period values must not overlap: each instant has one PUE.
            let periods: Vec<&Period> = pue.iter().filter_map(|e| e.period.as_ref()).collect();
            for (i, a) in periods.iter().enumerate() {
                for b in &periods[i + 1..] {
                    if a.start < b.end && b.start < a.end {
                        return Err(bad(format!(
                            "pue periods {} and {} overlap; give each instant one PUE",
                            a.label, b.label
                        )));
                    }
                }
            }
            for (name, v) in [
                ("wue_l_per_kwh", site.wue_l_per_kwh),
                ("grid_intensity_g_per_kwh", site.grid_intensity_g_per_kwh),
                ("residual_mix_g_per_kwh", site.residual_mix_g_per_kwh),
            ] {
                if let Some(v) = v {
                    if !(v.is_finite() && v >= 0.0) {
                        return Err(bad(format!("{name} must be a number >= 0")));
                    }
                }
            }
            if site.zone.is_none() && site.grid_intensity_g_per_kwh.is_none() {
                return Err(bad("give a zone or a grid_intensity_g_per_kwh".into()));
            }
            let mut instruments = Vec::new();
            for i in &site.instrument {
                let kind = i.kind.trim().to_ascii_uppercase();
                let kind = match kind.as_str() {
                    "PPA" | "REC" | "GO" => kind,
                    "SUPPLIER" => "supplier".to_string(),
                    _ => {
                        return Err(bad(format!(
                            "instrument kind '{}' is not one of PPA, REC, GO, supplier",
                            i.kind
                        )))
                    }
                };
                let period =
                    Period::parse(&i.period).map_err(|m| bad(format!("instrument period: {m}")))?;
                if !(i.mwh.is_finite() && i.mwh >= 0.0) {
                    return Err(bad(format!("instrument mwh must be >= 0, not {}", i.mwh)));
                }
                // Certificates (PPA, REC, GO) carry the zero-emission attribute unless stated;
                // a supplier-specific factor must be given.
                let g = match (i.intensity_g_per_kwh, kind.as_str()) {
                    (Some(g), _) if g.is_finite() && g >= 0.0 => g,
                    (Some(g), _) => {
                        return Err(bad(format!(
                            "instrument intensity_g_per_kwh must be >= 0, not {g}"
                        )))
                    }
                    (None, "supplier") => {
                        return Err(bad("a supplier instrument needs intensity_g_per_kwh".into()))
                    }
                    (None, _) => 0.0,
                };
                instruments.push(Instrument {
                    kind,
                    period,
                    mwh: i.mwh,
                    intensity_g_per_kwh: g,
                    reference: i.reference.clone(),
                });
            }
            sites.push(Site {
                id: site.id.clone(),
                name: site.name.clone().unwrap_or_else(|| site.id.clone()),
                zone: site.zone.clone(),
                pue,
                wue_l_per_kwh: site.wue_l_per_kwh,
                grid_intensity_g_per_kwh: site.grid_intensity_g_per_kwh,
                residual_mix_g_per_kwh: site.residual_mix_g_per_kwh,
                instruments,
                line,
            });
        }
        for h in &file.hardware {
            for (name, v, lo) in [
                ("tdp_w", h.tdp_w, 0.0),
                ("embodied_kgco2e", h.embodied_kgco2e, 0.0),
                ("lifetime_years", h.lifetime_years, 0.0),
                ("use_factor", h.use_factor, 0.0),
            ] {
                if let Some(v) = v {
                    if !(v.is_finite() && v >= lo)
                        || ((name == "lifetime_years" || name == "use_factor") && v == 0.0)
                    {
                        return Err(Error::in_file(
                            &cfg_path,
                            format!("[[hardware]] '{}': {name} = {v} is not valid", h.name),
                        ));
                    }
                }
            }
            if h.use_factor.is_some_and(|u| u > 1.0) {
                return Err(Error::in_file(
                    &cfg_path,
                    format!("[[hardware]] '{}': use_factor must be in (0, 1]", h.name),
                ));
            }
        }
        for (project, site) in &file.codecarbon.sites {
            if !sites.iter().any(|s| &s.id == site) {
                return Err(Error::in_file(
                    &cfg_path,
                    format!("[codecarbon] sites: project '{project}' names site '{site}', which no [[site]] defines"),
                ));
            }
        }
        let utilisation = file.estimate.utilisation.unwrap_or(1.0);
        if !(utilisation > 0.0 && utilisation <= 1.0) {
            return Err(Error::in_file(
                &cfg_path,
                "[estimate] utilisation must be in (0, 1]",
            ));
        }
        if let Some(p) = file.estimate.default_pue {
            if !(1.0..=5.0).contains(&p) {
                return Err(Error::in_file(
                    &cfg_path,
                    "[estimate] default_pue must be in 1.0..5.0",
                ));
            }
        }
        let rubric = match &file.rubric {
            Some(r) => rubric::Rubric::default().with(r).map_err(|m| {
                // Point at the offending [rubric.<practice>] table.
                let name = m
                    .split(']')
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("[rubric.");
                let at = text
                    .find(&format!("[rubric.{name}]"))
                    .or_else(|| text.find("[rubric"))
                    .unwrap_or(0);
                Error::in_file(&cfg_path, m.clone()).at_line(line_of(&text, at))
            })?,
            None => rubric::Rubric::default(),
        };
        let max_gap_s = args.max_gap_s.or(file.telemetry.max_gap_s).unwrap_or(120.0);
        if !(max_gap_s.is_finite() && max_gap_s > 0.0) {
            return Err(Error::in_file(
                &cfg_path,
                format!("max_gap_s must be a number of seconds > 0, not {max_gap_s}"),
            ));
        }
        Ok((
            Config {
                config_file: cfg_file,
                title: file
                    .report
                    .title
                    .clone()
                    .unwrap_or_else(|| "Training footprint".to_string()),
                organization: file.report.organization.clone().unwrap_or_default(),
                period,
                reference_intensity_g_per_kwh: file.report.reference_intensity_g_per_kwh,
                inputs,
                timezone,
                timezone_name,
                sites,
                hardware: file.hardware,
                codecarbon_teams: file.codecarbon.teams,
                codecarbon_sites: file.codecarbon.sites,
                utilisation,
                default_pue: file.estimate.default_pue,
                max_gap_s,
                nvidia_smi_columns: file.telemetry.nvidia_smi_columns.clone(),
                uncertainty: file.uncertainty.clone(),
                rubric,
                previous: file.report.previous.as_ref().map(|p| InputFile {
                    path: base.join(p),
                    shown: p.clone(),
                }),
                published_footprints: file.published_footprint.clone(),
                sacct_columns: file.sacct.columns.clone(),
                sacct_site: file.sacct.site.clone(),
                sacct_sites: file.sacct.sites.clone(),
                sacct_hardware: file.sacct.hardware.clone(),
                sacct_partitions: file.sacct.partitions.clone(),
                sacct_models: file.sacct.models.clone(),
                sacct_exclusive: file.sacct.exclusive,
                grid_lifecycle: file.grid.lifecycle,
                quiet: args.quiet,
            },
            findings,
        ))
    }

    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.id == id)
    }
}

fn push_unique(dest: &mut Vec<InputFile>, f: InputFile) {
    if !dest.iter().any(|d| d.path == f.path) {
        dest.push(f);
    }
}

/// Expand one `[inputs]` entry, relative to the config's folder. A literal path that does not
/// exist stops the run; a glob that matches nothing is a warning.
fn expand(
    base: &Path,
    pattern: &str,
    kind: &str,
    cfg: &str,
    dest: &mut Vec<InputFile>,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let is_glob = pattern.contains(['*', '?', '[']);
    let full = base.join(pattern);
    if !is_glob {
        if !full.exists() {
            return Err(Error::in_file(
                cfg,
                format!(
                    "[inputs] {kind}: '{pattern}' does not exist (looked for {})",
                    full.display()
                ),
            )
            .hint("paths in [inputs] are relative to the config file's folder"));
        }
        push_unique(
            dest,
            InputFile {
                path: full,
                shown: pattern.to_string(),
            },
        );
        return Ok(());
    }
    let pat = full.to_string_lossy().to_string();
    let mut found: Vec<PathBuf> = glob::glob(&pat)
        .map_err(|e| {
            Error::in_file(
                cfg,
                format!("[inputs] {kind}: bad pattern '{pattern}': {e}"),
            )
        })?
        .filter_map(|r| r.ok())
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    if found.is_empty() {
        findings.push(
            Finding::warning(
                codes::INPUT_EMPTY,
                format!("[inputs] {kind}: '{pattern}' matches no file"),
            )
            .at(cfg, None),
        );
    }
    for p in found {
        let shown = p.strip_prefix(base).unwrap_or(&p).display().to_string();
        push_unique(dest, InputFile { path: p, shown });
    }
    Ok(())
}

/// The output formats named in `--format`.
pub fn parse_formats(s: &str) -> Result<Vec<Format>> {
    let mut out = Vec::new();
    for f in s.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let fmt = match f {
            "html" => Format::Html,
            "json" => Format::Json,
            "csv" => Format::Csv,
            "model-cards" => Format::ModelCards,
            "pdf" => Format::Pdf,
            other => {
                return Err(Error::new(format!("--format: unknown format '{other}'"))
                    .hint("use a comma-separated list of html, json, csv, model-cards, pdf"))
            }
        };
        if !out.contains(&fmt) {
            out.push(fmt);
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
            formats: parse_formats(&a.format)?,
            force: a.force,
            templates: a.templates.clone(),
            generated_at: a.generated_at.clone(),
        })
    }
}
