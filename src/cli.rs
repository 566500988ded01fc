//! Command-line definitions (clap derive). Only parsing lives here; `config` validates.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// An output format, as `--format` names it (`model-cards`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Html,
    Json,
    Csv,
    ModelCards,
    Pdf,
    Boamps,
    /// `ai-act/<model>.md` and `.json`: the EU AI Act documentation of each model's training.
    AiAct,
}

/// The engine a pushdown folder is written for (`--engine`). Its SQL dialect is in
/// `compute::energy::sql`, its driver and result names in `ingest::pushdown`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    #[default]
    Spark,
    #[value(name = "duckdb")]
    DuckDb,
}

#[derive(Debug, Parser)]
#[command(name = "greenledger", version, about = "Audit-grade energy and emissions accounts for ML training", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the report for a period from the inputs.
    Report(ReportArgs),
    /// Read and check the inputs; print the findings. Exit 1 when any finding is an error.
    Validate(InputArgs),
    /// Hand the telemetry integration to Spark or DuckDB: write claims.parquet, job_energy.sql,
    /// a driver and a README into --out; then `report --pushdown DIR` reads the engine's results.
    Pushdown(PushdownArgs),
    /// Quick single-run calculator: energy and location-based emissions of one run.
    Estimate(EstimateArgs),
    /// Write the bundled demo quarter and report on it.
    Demo(DemoArgs),
    /// Check a report folder: inputs unchanged (sha256), outputs untouched, figures recomputed.
    /// Exit 0 when all match, 1 naming what changed. Run it from the folder the report was made in.
    Verify(VerifyArgs),
    /// Print the trail behind a figure of a report folder: a job's sources and steps, or a
    /// team's, model's or site's jobs by share. Exit 1 (with the closest ids) when unknown.
    Explain(ExplainArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout: `greenledger man > greenledger.1`.
    Man,
}

#[derive(Debug, Args, Clone)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args, Clone)]
pub struct ExplainArgs {
    /// The output folder of greenledger report or demo.
    pub dir: PathBuf,
    /// A job id, or team:NAME, model:NAME or site:NAME.
    pub id: String,
}

#[derive(Debug, Args, Clone)]
pub struct VerifyArgs {
    /// The output folder of greenledger report or demo.
    pub dir: PathBuf,
    /// Fetch live sources (Prometheus, MLflow) the report read again. Without it verify
    /// contacts no server, and a report that read one is not recomputed.
    #[arg(long)]
    pub allow_network: bool,
    /// Check manifest.json.minisig with this minisign public key first, and say who signed.
    #[arg(long, value_name = "KEY.pub")]
    pub pubkey: Option<PathBuf>,
}

/// The inputs of a run; command-line inputs add to those of the config file.
#[derive(Debug, Args, Clone, Default)]
pub struct InputArgs {
    /// greenledger.toml (inputs in it are relative to its folder).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Jobs manifest, CSV or Parquet (several files, globs and repeats allowed).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub jobs: Vec<PathBuf>,
    /// CodeCarbon emissions.csv (several files, globs and repeats allowed).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub codecarbon: Vec<PathBuf>,
    /// Power telemetry: generic samples, nvidia-smi or DCGM (several files, globs and repeats allowed).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub telemetry: Vec<PathBuf>,
    /// Slurm `sacct -P` output (several files, globs and repeats allowed).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub sacct: Vec<PathBuf>,
    /// Grid intensity time series (several files, globs and repeats allowed).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub grid: Vec<PathBuf>,
    /// Site meter readings, CSV `site,start,end,kwh,scope,reference` (several files, globs and repeats allowed).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub meters: Vec<PathBuf>,
    /// Zeus ZeusMonitor logs (`start_time,window_name,elapsed_time,gpuN_energy`), each named
    /// after the job it measured: `<job_id>.csv` (several files, globs and repeats allowed).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub zeus: Vec<PathBuf>,
    /// A Prometheus-compatible server (Prometheus, Thanos, Mimir, VictoriaMetrics) to read DCGM
    /// power and energy from, with jobs from the series' labels (repeatable; needs a period).
    #[arg(long, value_name = "URL")]
    pub prometheus: Vec<String>,
    /// An MLflow tracking server whose runs become jobs, with the GPU power of their system
    /// metrics (e.g. http://mlflow:5000; `[mlflow]` says which experiments and tags).
    #[arg(long, value_name = "URL")]
    pub mlflow: Option<String>,
    /// BoAmps reports (JSON), each read as a metered job (several files, globs and repeats allowed).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub boamps: Vec<PathBuf>,
    /// Cloud providers' carbon exports (Google Cloud Carbon Footprint as JSON lines or CSV, AWS
    /// CARBON_EMISSIONS as CSV or Parquet, Azure item details by location as JSON), set beside
    /// the cloud sites' own figures.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub cloud_carbon: Vec<PathBuf>,
    /// Granular certificates (EnergyTag, CSV), matched hour by hour with the sites'
    /// consumption: the hourly Scope 2 and the 24/7 CFE score beside the 2015 figures.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub certificates: Vec<PathBuf>,
    /// A `greenledger pushdown` folder whose engine has run: its results (per job, device,
    /// node and hour) stand in for telemetry files; the same config and jobs must be given.
    #[arg(long, value_name = "DIR")]
    pub pushdown: Option<PathBuf>,
    /// A factor file (TOML) replacing the embedded grid factors: restates the period.
    #[arg(long, value_name = "FILE")]
    pub factors: Option<PathBuf>,
    /// An earlier greenledger report.json: the report shows each team's change since then.
    #[arg(long, value_name = "FILE")]
    pub previous: Option<PathBuf>,
    /// Reporting period: 2026-Q3, 2026-07, 2026 or START..END. Default: the span of the data.
    #[arg(long, value_name = "PERIOD")]
    pub period: Option<String>,
    /// Time zone for naive timestamps (UTC, +02:00, Europe/Paris). Overrides the config.
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
    /// Seconds between two power samples above which the segment is a gap (default 120).
    #[arg(long, value_name = "S")]
    pub max_gap_s: Option<f64>,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// How the config file is named in the report (the demo's is written to a scratch folder).
    #[arg(skip)]
    pub config_name: Option<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct OutputArgs {
    /// Output folder.
    #[arg(long, value_name = "DIR", default_value = "greenledger-report")]
    pub out: PathBuf,
    /// Comma-separated output formats.
    #[arg(
        long,
        value_name = "LIST",
        value_enum,
        value_delimiter = ',',
        default_value = "html,json,csv,model-cards,pdf,boamps,ai-act"
    )]
    pub format: Vec<Format>,
    /// Replace a non-empty output folder.
    #[arg(long)]
    pub force: bool,
    /// Folder of templates overriding the embedded ones (same file names).
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Outputs for outside readers: node and host names pseudonymised (keyed by
    /// GREENLEDGER_PUBLIC_KEY, else a random key), file paths dropped.
    #[arg(long)]
    pub public: bool,
    /// Timestamp to print as the generation time (RFC 3339). Default: SOURCE_DATE_EPOCH, else none.
    #[arg(long, value_name = "TIME")]
    pub generated_at: Option<String>,
    /// Sign the folder with a minisign secret key: writes manifest.json.minisig (checkable with
    /// `minisign -V -p KEY.pub -m manifest.json` or `greenledger verify --pubkey`). An encrypted
    /// key takes its password from GREENLEDGER_SIGN_PASSWORD.
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    #[command(flatten)]
    pub inputs: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args, Clone)]
pub struct PushdownArgs {
    #[command(flatten)]
    pub inputs: InputArgs,
    /// The engine to write SQL and a driver for.
    #[arg(long, value_name = "ENGINE", value_enum, default_value = "spark")]
    pub engine: Engine,
    /// Output folder.
    #[arg(long, value_name = "DIR", default_value = "greenledger-pushdown")]
    pub out: PathBuf,
    /// Replace a non-empty output folder.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    #[command(flatten)]
    pub output: OutputArgs,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args, Clone)]
#[command(group = clap::ArgGroup::new("power").required(true).args(["power_w", "hardware"]))]
#[command(group = clap::ArgGroup::new("grid").required(true).args(["zone", "intensity"]))]
pub struct EstimateArgs {
    /// Accelerator-hours of the run.
    #[arg(long, value_name = "H")]
    pub gpu_hours: f64,
    /// Mean power per accelerator, in watts.
    #[arg(long, value_name = "W")]
    pub power_w: Option<f64>,
    /// Accelerator name from the hardware table (its TDP is used).
    #[arg(long, value_name = "NAME")]
    pub hardware: Option<String>,
    /// Power usage effectiveness of the facility (default: the embedded industry average).
    #[arg(long, value_name = "P")]
    pub pue: Option<f64>,
    /// Grid zone (ISO country code, bidding zone or cloud region).
    #[arg(long, value_name = "Z")]
    pub zone: Option<String>,
    /// Grid intensity in gCO2e/kWh.
    #[arg(long, value_name = "G")]
    pub intensity: Option<f64>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}
