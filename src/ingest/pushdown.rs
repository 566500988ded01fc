//! The results of a pushdown run (`greenledger pushdown`, then Spark or DuckDB): the SQL that
//! made them, the claims they were made for, and the ten result tables, read with polars.
//! Compute checks them against the claims and rules of this run and attributes them to jobs.

use crate::config::InputFile;
use crate::error::{Error, Result};
use crate::ledger::InputRecord;
use polars::prelude::*;
use std::io::Cursor;
use std::path::{Path, PathBuf};

pub(crate) use crate::cli::Engine;

/// What the pushdown folder and its results need to know of each engine.
impl Engine {
    /// The name used on the command line and in the SQL's header.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Spark => "spark",
            Engine::DuckDb => "duckdb",
        }
    }

    /// The name a reader sees in the report.
    pub fn label(self) -> &'static str {
        match self {
            Engine::Spark => "Apache Spark",
            Engine::DuckDb => "DuckDB",
        }
    }

    /// The driver script written beside the SQL.
    pub fn driver(self) -> &'static str {
        match self {
            Engine::Spark => "run_spark.py",
            Engine::DuckDb => "run_duckdb.py",
        }
    }

    /// The SQL's kind in the manifest, which names the engine.
    fn sql_kind(self) -> &'static str {
        match self {
            Engine::Spark => "pushdown sql (spark)",
            Engine::DuckDb => "pushdown sql (duckdb)",
        }
    }

    /// Parse `spark` or `duckdb`.
    pub fn parse(s: &str) -> Option<Engine> {
        <Engine as clap::ValueEnum>::from_str(s.trim(), true).ok()
    }
}

/// One expanded claim: a job's hold on one device (or, with `device` None, every device) of a
/// node, in epoch milliseconds clipped to the period; `limit_w` is the node's power limit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClaimRow {
    pub job_index: i64,
    pub job_id: String,
    pub node: String,
    pub device: Option<i64>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub limit_w: Option<f64>,
    /// A CPU-only job's cores (then `device` is empty and the claim holds no accelerator: it
    /// only cuts the node's windows and takes a share of node power).
    pub cores: Option<f64>,
}

/// `job_energy`: a job's joules and device-seconds within its claims and the period.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JobEnergy {
    pub job_id: String,
    pub sampled_j: f64,
    pub covered_s: f64,
    pub samples: i64,
    /// Devices the job held, and the devices (with telemetry) of the nodes it held them on.
    pub devices: i64,
    pub node_devices: i64,
}

/// `device_energy`: one device's data quality and energy.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeviceEnergy {
    pub node: String,
    pub device: i64,
    pub samples: i64,
    pub dropped: i64,
    pub duplicates: i64,
    pub gaps: i64,
    pub gap_ms: i64,
    pub total_j: f64,
    pub idle_j: f64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
}

/// `node_energy`: a node's devices, energy and idle energy.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NodeEnergy {
    pub node: String,
    pub device_count: i64,
    pub total_j: f64,
    pub idle_j: f64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
}

/// `node_power`: one node's whole-node power samples (the node's device, `node/node`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NodePowerRow {
    pub node: String,
    pub samples: i64,
    pub dropped: i64,
    pub duplicates: i64,
    pub gaps: i64,
    pub gap_ms: i64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
}

/// `node_windows`: node power and its accelerators' energy in one window of a node with node
/// power (the period cut at every hour and claim boundary), where node power covers any of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NodeWindowRow {
    pub node: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub node_j: f64,
    pub node_ms: i64,
    pub gpu_j: f64,
}

/// `device_counters`: one device's energy-counter readings (those used), those not used, and
/// the resets among them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeviceCounters {
    pub node: String,
    pub device: i64,
    pub readings: i64,
    pub dropped: i64,
    pub resets: i64,
}

/// `job_counters`: a job's joules from energy counters and the device-seconds they cover.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JobCounters {
    pub job_id: String,
    pub counter_j: f64,
    pub covered_s: f64,
}

/// `quality`: the totals of the data-quality counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Quality {
    pub rows: i64,
    pub samples: i64,
    pub devices: i64,
    pub duplicates: i64,
    pub dropped: i64,
    pub gaps: i64,
    pub gap_s: f64,
    /// Rows read of node power and of energy counters (with those that cannot be read).
    pub node_power_rows: i64,
    pub counter_rows: i64,
}

/// Everything a pushdown folder holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pushdown {
    /// The folder as given.
    pub shown: String,
    pub sql: String,
    /// The engine named in the SQL's header (`-- engine: spark`).
    pub engine: Engine,
    pub sql_sha256: String,
    pub claims: Vec<ClaimRow>,
    pub jobs: Vec<JobEnergy>,
    /// (job_id, hour start in epoch seconds, joules).
    pub job_hourly: Vec<(String, i64, f64)>,
    pub devices: Vec<DeviceEnergy>,
    pub nodes: Vec<NodeEnergy>,
    /// (node, hour start in epoch seconds, idle joules).
    pub node_hourly: Vec<(String, i64, f64)>,
    pub node_power: Vec<NodePowerRow>,
    pub node_windows: Vec<NodeWindowRow>,
    pub device_counters: Vec<DeviceCounters>,
    pub job_counters: Vec<JobCounters>,
    pub quality: Quality,
}

/// Read a pushdown folder: `job_energy.sql` and `claims.parquet` in it, the results in
/// `results/` (or in the folder itself), each `NAME.parquet` or a folder of part files (as
/// Spark writes them). Every file read is an input record.
pub(crate) fn read(dir: &InputFile, inputs: &mut Vec<InputRecord>) -> Result<Pushdown> {
    let shown = dir.shown.trim_end_matches('/').to_string();
    let sql_file = file_in(dir, "job_energy.sql");
    let (bytes, mut rec) = super::read_input(&sql_file, "pushdown sql")?;
    let sql =
        String::from_utf8(bytes).map_err(|_| Error::in_file(&sql_file.shown, "not UTF-8 text"))?;
    let named = sql
        .lines()
        .find_map(|l| l.strip_prefix("-- engine: "))
        .ok_or_else(|| {
            Error::in_file(
                &sql_file.shown,
                "no '-- engine:' line: not written by greenledger pushdown",
            )
            .hint("run `greenledger pushdown` to make the folder")
        })?;
    let engine = Engine::parse(named).ok_or_else(|| {
        Error::in_file(
            &sql_file.shown,
            format!("unknown engine '{}'", named.trim()),
        )
        .hint("run `greenledger pushdown --engine spark|duckdb` to make the folder")
    })?;
    // The manifest names the engine with the SQL's sha256.
    rec.kind = engine.sql_kind();
    let mut p = Pushdown {
        shown,
        sql_sha256: rec.sha256.clone(),
        sql,
        engine,
        ..Default::default()
    };
    inputs.push(rec);
    let claims = table(&[file_in(dir, "claims.parquet")], "pushdown claims", inputs)?;
    p.claims = claim_rows(&claims.0, &claims.1)?;
    let results = results_dir(dir);
    let t = result(&results, "job_energy", inputs)?;
    p.jobs = job_energy(&t.0, &t.1)?;
    let t = result(&results, "job_hourly", inputs)?;
    p.job_hourly = hourly(&t.0, &t.1, "job_id", "joules")?;
    let t = result(&results, "device_energy", inputs)?;
    p.devices = device_energy(&t.0, &t.1)?;
    let t = result(&results, "node_energy", inputs)?;
    p.nodes = node_energy(&t.0, &t.1)?;
    let t = result(&results, "node_hourly", inputs)?;
    p.node_hourly = hourly(&t.0, &t.1, "node", "idle_j")?;
    let t = result(&results, "node_power", inputs)?;
    p.node_power = node_power(&t.0, &t.1)?;
    let t = result(&results, "node_windows", inputs)?;
    p.node_windows = node_windows(&t.0, &t.1)?;
    let t = result(&results, "device_counters", inputs)?;
    p.device_counters = device_counters(&t.0, &t.1)?;
    let t = result(&results, "job_counters", inputs)?;
    p.job_counters = job_counters(&t.0, &t.1)?;
    let t = result(&results, "quality", inputs)?;
    p.quality = quality(&t.0, &t.1)?;
    Ok(p)
}

fn file_in(dir: &InputFile, name: &str) -> InputFile {
    InputFile {
        path: dir.path.join(name),
        shown: format!("{}/{name}", dir.shown.trim_end_matches('/')),
    }
}

/// `DIR/results` when it holds the results, else DIR.
fn results_dir(dir: &InputFile) -> InputFile {
    let sub = file_in(dir, "results");
    if sub.path.is_dir() {
        sub
    } else {
        dir.clone()
    }
}

/// The files of one result: `NAME.parquet` (a file, or a folder of part files) or `NAME/`.
fn result_files(dir: &InputFile, name: &str) -> Result<Vec<InputFile>> {
    for cand in [format!("{name}.parquet"), name.to_string()] {
        let f = file_in(dir, &cand);
        if f.path.is_file() {
            return Ok(vec![f]);
        }
        if f.path.is_dir() {
            let mut parts: Vec<PathBuf> = std::fs::read_dir(&f.path)
                .map_err(|e| Error::io(&f.shown, "list the folder", e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| is_part(p))
                .collect();
            parts.sort();
            if parts.is_empty() {
                return Err(Error::in_file(&f.shown, "holds no Parquet part files")
                    .hint("the engine did not finish: run it again"));
            }
            return Ok(parts
                .into_iter()
                .map(|p| InputFile {
                    shown: format!(
                        "{}/{}",
                        f.shown,
                        p.file_name().unwrap_or_default().to_string_lossy()
                    ),
                    path: p,
                })
                .collect());
        }
    }
    Err(Error::in_file(
        &dir.shown,
        format!("no result '{name}' ({name}.parquet or {name}/)"),
    )
    .hint("run the pushdown's driver (run_spark.py or run_duckdb.py) first; it writes results/ beside itself"))
}

/// A Parquet part file (not Spark's `_SUCCESS`, `.crc` or hidden files).
fn is_part(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !name.starts_with(['.', '_']) && name.ends_with(".parquet")
}

fn result(
    dir: &InputFile,
    name: &str,
    inputs: &mut Vec<InputRecord>,
) -> Result<(DataFrame, String)> {
    table(&result_files(dir, name)?, "pushdown result", inputs)
}

/// Read Parquet files into one frame (their rows in file order), each an input record.
fn table(
    files: &[InputFile],
    kind: &'static str,
    inputs: &mut Vec<InputRecord>,
) -> Result<(DataFrame, String)> {
    let mut frames: Vec<DataFrame> = Vec::new();
    for f in files {
        let (bytes, mut rec) = super::read_input(f, kind)?;
        let df = ParquetReader::new(Cursor::new(bytes))
            .finish()
            .map_err(|e| Error::in_file(&f.shown, format!("cannot read as Parquet: {e}")))?;
        rec.rows = df.height() as u64;
        rec.rows_used = rec.rows;
        inputs.push(rec);
        frames.push(df);
    }
    let shown = files.first().map(|f| f.shown.clone()).unwrap_or_default();
    let mut it = frames.into_iter();
    let mut df = it.next().unwrap_or_default();
    for more in it {
        df.vstack_mut(&more)
            .map_err(|e| Error::in_file(&shown, format!("part files differ in columns: {e}")))?;
    }
    Ok((df, shown))
}

/// A column as typed values, or an error naming the file and the column.
struct Cols<'a> {
    df: &'a DataFrame,
    shown: &'a str,
}

impl Cols<'_> {
    fn col(&self, name: &str, dt: &DataType) -> Result<Series> {
        let c = self.df.column(name).map_err(|_| {
            Error::in_file(self.shown, format!("no column '{name}'"))
                .hint("the results were not written by this version's SQL: run the pushdown again")
        })?;
        // Strict: a value of the wrong type is an error, never a null read as zero energy.
        c.as_materialized_series().strict_cast(dt).map_err(|e| {
            Error::in_file(self.shown, format!("column '{name}' is not {dt}: {e}")).hint(
                "the results are damaged or were not written by this SQL: run the engine again",
            )
        })
    }
    fn f64(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let s = self.col(name, &DataType::Float64)?;
        Ok(s.f64().map_err(|e| self.err(name, e))?.iter().collect())
    }
    fn i64(&self, name: &str) -> Result<Vec<Option<i64>>> {
        let s = self.col(name, &DataType::Int64)?;
        Ok(s.i64().map_err(|e| self.err(name, e))?.iter().collect())
    }
    fn str(&self, name: &str) -> Result<Vec<Option<String>>> {
        let s = self.col(name, &DataType::String)?;
        Ok(s.str()
            .map_err(|e| self.err(name, e))?
            .iter()
            .map(|v| v.map(str::to_string))
            .collect())
    }
    fn err(&self, name: &str, e: PolarsError) -> Error {
        Error::in_file(self.shown, format!("column '{name}': {e}"))
    }
    /// A device number (0 to 2^32 - 2; the last is node power's in-process), or an error at its
    /// row: an engine's results are read, never bent into a device.
    fn device(&self, v: Option<i64>, row: usize) -> Result<i64> {
        let d = self.need(v, "device", row)?;
        if !(0..u32::MAX as i64).contains(&d) {
            return Err(Error::in_file(
                self.shown,
                format!("row {}: device {d} is not a device number", row + 1),
            )
            .hint("the results are damaged: run the engine again"));
        }
        Ok(d)
    }
    /// A value that must be present, or an error at its row.
    fn need<T>(&self, v: Option<T>, name: &str, row: usize) -> Result<T> {
        v.ok_or_else(|| {
            Error::in_file(self.shown, format!("row {}: '{name}' is empty", row + 1))
                .hint("the results are damaged: run the engine again")
        })
    }
}

fn claim_rows(df: &DataFrame, shown: &str) -> Result<Vec<ClaimRow>> {
    let c = Cols { df, shown };
    let (ji, id, node) = (c.i64("job_index")?, c.str("job_id")?, c.str("node")?);
    let (dev, s, e, lim) = (
        c.i64("device")?,
        c.i64("start_ms")?,
        c.i64("end_ms")?,
        c.f64("limit_w")?,
    );
    let cores = c.f64("cores")?;
    (0..df.height())
        .map(|r| {
            Ok(ClaimRow {
                job_index: c.need(ji[r], "job_index", r)?,
                job_id: c.need(id[r].clone(), "job_id", r)?,
                node: c.need(node[r].clone(), "node", r)?,
                device: dev[r],
                start_ms: c.need(s[r], "start_ms", r)?,
                end_ms: c.need(e[r], "end_ms", r)?,
                limit_w: lim[r],
                cores: cores[r],
            })
        })
        .collect()
}

fn job_energy(df: &DataFrame, shown: &str) -> Result<Vec<JobEnergy>> {
    let c = Cols { df, shown };
    let (id, j, cs) = (c.str("job_id")?, c.f64("sampled_j")?, c.f64("covered_s")?);
    let (n, d, nd) = (c.i64("samples")?, c.i64("devices")?, c.i64("node_devices")?);
    (0..df.height())
        .map(|r| {
            Ok(JobEnergy {
                job_id: c.need(id[r].clone(), "job_id", r)?,
                sampled_j: c.need(j[r], "sampled_j", r)?,
                covered_s: c.need(cs[r], "covered_s", r)?,
                samples: c.need(n[r], "samples", r)?,
                devices: c.need(d[r], "devices", r)?,
                node_devices: c.need(nd[r], "node_devices", r)?,
            })
        })
        .collect()
}

fn hourly(df: &DataFrame, shown: &str, key: &str, value: &str) -> Result<Vec<(String, i64, f64)>> {
    let c = Cols { df, shown };
    let (k, h, v) = (c.str(key)?, c.i64("hour_start")?, c.f64(value)?);
    (0..df.height())
        .map(|r| {
            Ok((
                c.need(k[r].clone(), key, r)?,
                c.need(h[r], "hour_start", r)?,
                c.need(v[r], value, r)?,
            ))
        })
        .collect()
}

fn device_energy(df: &DataFrame, shown: &str) -> Result<Vec<DeviceEnergy>> {
    let c = Cols { df, shown };
    let (node, dev, n) = (c.str("node")?, c.i64("device")?, c.i64("samples")?);
    let (dr, du, g, gm) = (
        c.i64("dropped")?,
        c.i64("duplicates")?,
        c.i64("gaps")?,
        c.i64("gap_ms")?,
    );
    let (t, i, f, l) = (
        c.f64("total_j")?,
        c.f64("idle_j")?,
        c.i64("first_ms")?,
        c.i64("last_ms")?,
    );
    (0..df.height())
        .map(|r| {
            Ok(DeviceEnergy {
                node: c.need(node[r].clone(), "node", r)?,
                device: c.device(dev[r], r)?,
                samples: c.need(n[r], "samples", r)?,
                dropped: c.need(dr[r], "dropped", r)?,
                duplicates: c.need(du[r], "duplicates", r)?,
                gaps: c.need(g[r], "gaps", r)?,
                gap_ms: c.need(gm[r], "gap_ms", r)?,
                total_j: c.need(t[r], "total_j", r)?,
                idle_j: c.need(i[r], "idle_j", r)?,
                first_ms: f[r],
                last_ms: l[r],
            })
        })
        .collect()
}

fn node_energy(df: &DataFrame, shown: &str) -> Result<Vec<NodeEnergy>> {
    let c = Cols { df, shown };
    let (node, n, t) = (c.str("node")?, c.i64("device_count")?, c.f64("total_j")?);
    let (i, f, l) = (c.f64("idle_j")?, c.i64("first_ms")?, c.i64("last_ms")?);
    (0..df.height())
        .map(|r| {
            Ok(NodeEnergy {
                node: c.need(node[r].clone(), "node", r)?,
                device_count: c.need(n[r], "device_count", r)?,
                total_j: c.need(t[r], "total_j", r)?,
                idle_j: c.need(i[r], "idle_j", r)?,
                first_ms: f[r],
                last_ms: l[r],
            })
        })
        .collect()
}

fn node_power(df: &DataFrame, shown: &str) -> Result<Vec<NodePowerRow>> {
    let c = Cols { df, shown };
    let (node, n, dr) = (c.str("node")?, c.i64("samples")?, c.i64("dropped")?);
    let (du, g, gm) = (c.i64("duplicates")?, c.i64("gaps")?, c.i64("gap_ms")?);
    let (f, l) = (c.i64("first_ms")?, c.i64("last_ms")?);
    (0..df.height())
        .map(|r| {
            Ok(NodePowerRow {
                node: c.need(node[r].clone(), "node", r)?,
                samples: c.need(n[r], "samples", r)?,
                dropped: c.need(dr[r], "dropped", r)?,
                duplicates: c.need(du[r], "duplicates", r)?,
                gaps: c.need(g[r], "gaps", r)?,
                gap_ms: c.need(gm[r], "gap_ms", r)?,
                first_ms: f[r],
                last_ms: l[r],
            })
        })
        .collect()
}

fn node_windows(df: &DataFrame, shown: &str) -> Result<Vec<NodeWindowRow>> {
    let c = Cols { df, shown };
    let (node, s, e) = (c.str("node")?, c.i64("start_ms")?, c.i64("end_ms")?);
    let (nj, nm, gj) = (c.f64("node_j")?, c.i64("node_ms")?, c.f64("gpu_j")?);
    (0..df.height())
        .map(|r| {
            Ok(NodeWindowRow {
                node: c.need(node[r].clone(), "node", r)?,
                start_ms: c.need(s[r], "start_ms", r)?,
                end_ms: c.need(e[r], "end_ms", r)?,
                node_j: c.need(nj[r], "node_j", r)?,
                node_ms: c.need(nm[r], "node_ms", r)?,
                gpu_j: c.need(gj[r], "gpu_j", r)?,
            })
        })
        .collect()
}

fn device_counters(df: &DataFrame, shown: &str) -> Result<Vec<DeviceCounters>> {
    let c = Cols { df, shown };
    let (node, dev, n) = (c.str("node")?, c.i64("device")?, c.i64("readings")?);
    let (dr, rs) = (c.i64("dropped")?, c.i64("resets")?);
    (0..df.height())
        .map(|r| {
            Ok(DeviceCounters {
                node: c.need(node[r].clone(), "node", r)?,
                device: c.device(dev[r], r)?,
                readings: c.need(n[r], "readings", r)?,
                dropped: c.need(dr[r], "dropped", r)?,
                resets: c.need(rs[r], "resets", r)?,
            })
        })
        .collect()
}

fn job_counters(df: &DataFrame, shown: &str) -> Result<Vec<JobCounters>> {
    let c = Cols { df, shown };
    let (id, j, cs) = (c.str("job_id")?, c.f64("counter_j")?, c.f64("covered_s")?);
    (0..df.height())
        .map(|r| {
            Ok(JobCounters {
                job_id: c.need(id[r].clone(), "job_id", r)?,
                counter_j: c.need(j[r], "counter_j", r)?,
                covered_s: c.need(cs[r], "covered_s", r)?,
            })
        })
        .collect()
}

fn quality(df: &DataFrame, shown: &str) -> Result<Quality> {
    let c = Cols { df, shown };
    if df.height() != 1 {
        return Err(
            Error::in_file(shown, format!("{} rows, not one", df.height()))
                .hint("the results are damaged: run the engine again"),
        );
    }
    // rows and devices are counts (never null); the sums over devices are null only when
    // there is no device at all, and then they are zero.
    let devices = c.need(c.i64("devices")?[0], "devices", 0)?;
    let sum = |v: Option<i64>, name: &str| match v {
        None if devices == 0 => Ok(0),
        v => c.need(v, name, 0),
    };
    let gap_s = match c.f64("gap_s")?[0] {
        None if devices == 0 => 0.0,
        v => c.need(v, "gap_s", 0)?,
    };
    Ok(Quality {
        rows: c.need(c.i64("rows")?[0], "rows", 0)?,
        samples: sum(c.i64("samples")?[0], "samples")?,
        devices,
        duplicates: sum(c.i64("duplicates")?[0], "duplicates")?,
        dropped: sum(c.i64("dropped")?[0], "dropped")?,
        gaps: sum(c.i64("gaps")?[0], "gaps")?,
        gap_s,
        node_power_rows: c.need(c.i64("node_power_rows")?[0], "node_power_rows", 0)?,
        counter_rows: c.need(c.i64("counter_rows")?[0], "counter_rows", 0)?,
    })
}

/// The claims as Parquet bytes (greenledger pushdown): one row per claim, typed columns.
pub(crate) fn claims_parquet(rows: &[ClaimRow]) -> Result<Vec<u8>> {
    let height = rows.len();
    let mut df = DataFrame::new(
        height,
        vec![
            Column::new(
                "job_index".into(),
                rows.iter().map(|r| r.job_index).collect::<Vec<_>>(),
            ),
            Column::new(
                "job_id".into(),
                rows.iter().map(|r| r.job_id.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "node".into(),
                rows.iter().map(|r| r.node.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "device".into(),
                rows.iter().map(|r| r.device).collect::<Vec<_>>(),
            ),
            Column::new(
                "start_ms".into(),
                rows.iter().map(|r| r.start_ms).collect::<Vec<_>>(),
            ),
            Column::new(
                "end_ms".into(),
                rows.iter().map(|r| r.end_ms).collect::<Vec<_>>(),
            ),
            Column::new(
                "limit_w".into(),
                rows.iter().map(|r| r.limit_w).collect::<Vec<_>>(),
            ),
            Column::new(
                "cores".into(),
                rows.iter().map(|r| r.cores).collect::<Vec<_>>(),
            ),
        ],
    )
    .map_err(|e| Error::new(format!("cannot build the claims table: {e}")))?;
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf)
        .finish(&mut df)
        .map_err(|e| Error::new(format!("cannot write the claims as Parquet: {e}")))?;
    Ok(buf)
}

/// An engine's results (`--pushdown DIR`), in place of telemetry files.
pub(crate) struct PushdownReader;

impl super::Reader for PushdownReader {
    fn name(&self) -> &'static str {
        "pushdown folder"
    }
    fn given(&self, cfg: &crate::config::Config) -> bool {
        cfg.pushdown.is_some()
    }
    fn read(&self, cx: &super::Cx, out: &mut super::Ingested) -> Result<()> {
        if let Some(dir) = &cx.cfg.pushdown {
            out.pushdown = Some(read(dir, &mut out.inputs)?);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(cols: Vec<Column>) -> DataFrame {
        DataFrame::new_infer_height(cols).unwrap()
    }

    /// An engine result whose energy column holds text is refused, not read as nulls (and then
    /// zero energy); an empty energy is refused too.
    #[test]
    fn engine_results_are_cast_strictly_and_need_their_values() {
        let ok = frame(vec![
            Column::new("node".into(), ["n1"]),
            Column::new("device_count".into(), [8i64]),
            Column::new("total_j".into(), [3.6e6]),
            Column::new("idle_j".into(), [0.0]),
            Column::new("first_ms".into(), [Some(0i64)]),
            Column::new("last_ms".into(), [None::<i64>]),
        ]);
        let n = node_energy(&ok, "node_energy.parquet").unwrap();
        assert_eq!(n[0].total_j, 3.6e6);
        assert_eq!(n[0].last_ms, None);

        let text = ok
            .clone()
            .with_column(Column::new("total_j".into(), ["3.6e6 J"]))
            .unwrap()
            .clone();
        let e = node_energy(&text, "node_energy.parquet")
            .unwrap_err()
            .to_string();
        assert!(e.contains("column 'total_j' is not f64"), "{e}");

        let empty = ok
            .clone()
            .with_column(Column::new("idle_j".into(), [None::<f64>]))
            .unwrap()
            .clone();
        let e = node_energy(&empty, "node_energy.parquet")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'idle_j' is empty"), "{e}");
    }

    /// A device number no device can have (negative, or node power's own) is refused, never
    /// read as a device.
    #[test]
    fn a_device_out_of_range_is_refused() {
        let counters = |device: i64| {
            frame(vec![
                Column::new("node".into(), ["n1"]),
                Column::new("device".into(), [device]),
                Column::new("readings".into(), [3i64]),
                Column::new("dropped".into(), [0i64]),
                Column::new("resets".into(), [0i64]),
            ])
        };
        assert_eq!(device_counters(&counters(7), "c").unwrap()[0].device, 7);
        for bad in [-1, u32::MAX as i64] {
            let e = device_counters(&counters(bad), "c")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("device {bad} is not a device number")),
                "{e}"
            );
        }
    }

    #[test]
    fn quality_sums_may_be_empty_only_without_devices() {
        let q = |devices: i64, samples: Option<i64>| {
            frame(vec![
                Column::new("rows".into(), [10i64]),
                Column::new("samples".into(), [samples]),
                Column::new("devices".into(), [devices]),
                Column::new("duplicates".into(), [samples]),
                Column::new("dropped".into(), [samples]),
                Column::new("gaps".into(), [samples]),
                Column::new("gap_s".into(), [samples.map(|s| s as f64)]),
                Column::new("node_power_rows".into(), [0i64]),
                Column::new("counter_rows".into(), [0i64]),
            ])
        };
        assert_eq!(quality(&q(0, None), "q").unwrap().samples, 0);
        assert_eq!(quality(&q(2, Some(7)), "q").unwrap().samples, 7);
        assert!(quality(&q(2, None), "q").is_err());
    }
}
