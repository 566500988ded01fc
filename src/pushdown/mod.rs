//! `greenledger pushdown`: hand the heavy part of the telemetry integration (samples to per
//! job, device, node and hour energy) to Spark or DuckDB. Writes the claims the engine needs,
//! the SQL generated from greenledger's own rules, a driver and a README; `report --pushdown`
//! reads the engine's results back.

use crate::cli::InputArgs;
use crate::compute::energy::{pushdown, sql};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::factors::Factors;
use crate::findings::{Finding, Severity};
use std::io::Write;
use std::path::Path;

const RUN_DUCKDB: &str = include_str!("run_duckdb.py");

/// What a pushdown folder was made of, for the summary line.
pub(crate) struct Written {
    pub claims: usize,
    pub jobs: usize,
    pub findings: Vec<Finding>,
}

/// Read the config and jobs, compute the claims and the SQL, and write the folder.
pub(crate) fn write(
    inputs: &InputArgs,
    engine: sql::Engine,
    out: &Path,
    force: bool,
) -> Result<Written> {
    let (cfg, mut findings) = Config::load(inputs)?;
    let factors = match &inputs.factors {
        Some(p) => Factors::from_file(p, &p.display().to_string())?,
        None => Factors::embedded(),
    }
    .with_hardware(&cfg.hardware);
    // The samples go to the engine: a source whose samples greenledger would read (files, or a
    // server it would fetch every run's power history from) has no place here.
    if !cfg.inputs.telemetry.is_empty() || cfg.prometheus.is_some() || cfg.mlflow.is_some() {
        return Err(Error::new(
            "pushdown hands the samples to the engine: give them to its driver (--samples), not as --telemetry, Prometheus or MLflow",
        )
        .hint("remove telemetry, [prometheus] and [mlflow] (or --prometheus, --mlflow) for this command"));
    }
    let ingested = crate::ingest::load(&cfg, &factors)?;
    findings.extend(ingested.findings);
    let period = crate::compute::period(&cfg, &ingested.jobs, &[], true, &mut Vec::new())?;
    let claims = pushdown::claim_rows(&ingested.jobs, &factors, &period, &mut findings);
    let rules = pushdown::rules(&cfg, &period, &claims);
    let text = sql::generate(engine, &rules);
    let driver = engine.driver();
    let driver_text = match engine {
        sql::Engine::Spark => sql::SPARK_DRIVER,
        sql::Engine::DuckDb => RUN_DUCKDB,
    };
    let files: crate::render::Rendered = vec![
        (
            "claims.parquet".into(),
            crate::ingest::pushdown::claims_parquet(&claims)?,
        ),
        ("job_energy.sql".into(), text.into_bytes()),
        (driver.into(), driver_text.as_bytes().to_vec()),
        (
            "README.txt".into(),
            readme(engine, driver, &rules, ingested.jobs.len()).into_bytes(),
        ),
    ];
    crate::render::write_atomically(out, &files, force)?;
    make_executable(&out.join(driver));
    crate::findings::sort(&mut findings);
    Ok(Written {
        claims: claims.len(),
        jobs: ingested.jobs.len(),
        findings,
    })
}

#[cfg(unix)]
fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    // Best effort: `python3 run_spark.py` works without it.
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755));
}

#[cfg(not(unix))]
fn make_executable(_: &Path) {}

/// How to run the folder's driver and what comes back.
fn readme(engine: sql::Engine, driver: &str, r: &sql::Rules, jobs: usize) -> String {
    let run = match engine {
        sql::Engine::Spark => format!(
            "On a cluster (the samples on any file system Spark reads; copy the results into this\n\
             folder's results/ before the report):\n\n\
             \x20 spark-submit {driver} --samples 's3a://lake/gpu_power/date=2026-07-*' --out s3a://lake/greenledger/results \\\n\
             \x20     [--node-power 's3a://lake/bmc_power/*'] [--counters 's3a://lake/dcgm_energy/*']\n\n\
             Locally (pip install pyspark; Java 17 or later):\n\n\
             \x20 python3 {driver} --samples power/ --out results\n\n\
             Sizing: measured with greenledger's bench/pushdown.sh (20M samples in one Parquet file read by the\n\
             workers), the whole driver run took 13.3 s on 2 cores and 15.4 s on 1, JVM 0.45 GB, and 16.1 s on 2\n\
             cores with node power and 20M counter readings beside; the integration runs at about 2.2M samples\n\
             per core-second, so a quarter of 10^11 samples needs roughly 45,000 core-seconds, if it scales\n\
             linearly. Add --timings to see each stage. Local mode uses every\n\
             core (--master local[N] for fewer) and --driver-memory 2g.\n"
        ),
        sql::Engine::DuckDb => format!(
            "On one machine (pip install duckdb):\n\n\
             \x20 python3 {driver} --samples 'power/*.parquet' --out results [--node-power node/] [--counters energy/]\n"
        ),
    };
    format!(
        "greenledger pushdown for {label}\n\
         {rule}\n\n\
         This folder hands the telemetry integration of {jobs} jobs ({claims} claims) over the period\n\
         {period} to {label}. greenledger does the rest (factors, market-based, inventory, scores,\n\
         reports) on the small results.\n\n\
         Files\n\
         - claims.parquet: which job holds which device when (job_index, job_id, node, device, start_ms,\n\
         \x20 end_ms, limit_w, cores; device empty = every device of the node, or with cores a CPU-only job that\n\
         \x20 holds no accelerator; epoch milliseconds, clipped to the period)\n\
         - job_energy.sql: {sql}\n\
         \x20 The rules: duplicates at their mean, power outside [0, {factor} x TDP] dropped, segments longer than\n\
         \x20 max_gap_s = {gap} s are gaps, straight-line segments clipped exactly to claims and period\n\
         - {driver}: {does}\n\n\
         Inputs (Parquet, or CSV with a header)\n\
         - --samples: accelerator power, timestamp, node, device, power_w\n\
         - --node-power (optional): whole-node power (BMC), timestamp, node, power_w; 0 is a gap\n\
         - --counters (optional): energy counters, timestamp, node, device, energy_mj (DCGM) or energy_j\n\n\
         Run\n\n{run}\n\
         Results (Parquet, one folder or file per result)\n\
         - job_energy(job_id, sampled_j, covered_s, samples, devices, node_devices)\n\
         - job_hourly(job_id, hour_start, joules)            hour_start in epoch seconds\n\
         - device_energy(node, device, samples, dropped, duplicates, gaps, gap_ms, total_j, idle_j, first_ms, last_ms)\n\
         - node_energy(node, device_count, total_j, idle_j, first_ms, last_ms)\n\
         - node_hourly(node, hour_start, idle_j)\n\
         - node_power(node, samples, dropped, duplicates, gaps, gap_ms, first_ms, last_ms)\n\
         - node_windows(node, start_ms, end_ms, node_j, node_ms, gpu_j)  windows cut at hours and claim bounds\n\
         - device_counters(node, device, readings, dropped, resets)\n\
         - job_counters(job_id, counter_j, covered_s)\n\
         - quality(rows, samples, devices, duplicates, dropped, gaps, gap_s, node_power_rows, counter_rows)\n\n\
         Then\n\n\
         \x20 greenledger report --pushdown <this folder> --config ... --jobs ... --out report\n\n\
         with the same config, jobs and period: the report checks that job_energy.sql is the one it would\n\
         write (rules, period, claims) and refuses results made for another run. Results may also be\n\
         copied back into this folder itself (DIR/job_energy/...).\n",
        label = engine.label(),
        rule = "=".repeat("greenledger pushdown for ".len() + engine.label().len()),
        claims = r.claims_rows,
        period = r.period,
        factor = r.limit_factor,
        gap = r.max_gap_s,
        sql = match engine {
            sql::Engine::DuckDb => "the integration rules as SQL over the views `samples` (timestamp, node, device,\n  power_w) and `claims`",
            sql::Engine::Spark => "reads `samples` (timestamp, node, device, power_w) into rows, and sums the driver's\n  per-device rows when they are too many for the driver; its header names the driver's sha256",
        },
        does = match engine {
            sql::Engine::DuckDb => "registers the views, runs the statements, writes the results",
            sql::Engine::Spark => "integrates each device's rows in the Spark tasks (NumPy; no shuffle when the\n  samples lie by node or time), joins the pieces and writes the results (--timings: each stage)",
        },
    )
}

/// The `pushdown` command: write the folder, print the findings and a summary; exit 1 when a
/// finding is an error.
pub(crate) fn run(inputs: &InputArgs, engine: sql::Engine, out: &Path, force: bool) -> Result<i32> {
    let w = write(inputs, engine, out, force)?;
    let mut err = std::io::stderr().lock();
    for f in w.findings.iter().filter(|f| f.severity != Severity::Info) {
        let _ = writeln!(err, "{f}");
    }
    let driver = engine.driver();
    if !inputs.quiet {
        let _ = writeln!(
            err,
            "wrote {}: {} claims of {} jobs for {}; next: python3 {}/{driver} --samples <samples> [--node-power <node power>] [--counters <energy counters>], then greenledger report --pushdown {}",
            out.display(),
            w.claims,
            w.jobs,
            engine.label(),
            out.display(),
            out.display()
        );
    }
    Ok(
        if w.findings.iter().any(|f| f.severity == Severity::Error) {
            1
        } else {
            0
        },
    )
}
