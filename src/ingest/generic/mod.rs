//! Generic power samples, CSV or Parquet: `timestamp, node, device, power_w` (as
//! shared/bench/gen_fleet.py writes them). Parquet is scanned lazily by polars' streaming engine;
//! CSV is read through a fixed-size buffer on a parser thread (polars maps the whole file into
//! memory, which for a quarter of samples is gigabytes). Either way samples are handed on in
//! batches, so memory does not grow with the file.

use super::telemetry::{parse_ms, Kind, Nodes, SampleBatch, ScanOutput, Source, NODE_DEVICE};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use csv_stream::scan_csv;
use polars::prelude::*;

mod csv_stream;

/// Accepted spellings of the four columns.
const TIME: [&str; 4] = ["timestamp", "time", "ts", "datetime"];
const NODE: [&str; 4] = ["node", "host", "hostname", "nodename"];
const DEVICE: [&str; 5] = ["device", "gpu", "gpu_index", "index", "device_id"];
const POWER: [&str; 5] = ["power_w", "power", "power_watts", "watts", "power.draw"];

/// The columns named by one of the accepted spellings of time, node, device and power
/// (case-insensitive), as written in the file.
fn spellings(cols: &[String]) -> [Option<String>; 4] {
    [&TIME[..], &NODE[..], &DEVICE[..], &POWER[..]].map(|names| {
        cols.iter()
            .find(|c| names.iter().any(|n| c.trim().eq_ignore_ascii_case(n)))
            .cloned()
    })
}

/// Find the three columns of node power (`timestamp, node, power_w`, no device column) among
/// `cols` (case-insensitive); their names as in the file.
pub fn resolve_node_columns(cols: &[String]) -> std::result::Result<[String; 3], String> {
    match spellings(cols) {
        [Some(t), Some(n), None, Some(p)] => Ok([t, n, p]),
        _ => Err(format!(
            "node power needs the columns timestamp, node, power_w; found {}",
            cols.join(", ")
        )),
    }
}

/// The columns of a generic file: time, node, device (`None` for node power), power.
pub fn columns_of(
    cols: &[String],
    whole_node: bool,
) -> std::result::Result<[Option<String>; 4], String> {
    if whole_node {
        let [t, n, p] = resolve_node_columns(cols)?;
        Ok([Some(t), Some(n), None, Some(p)])
    } else {
        let [t, n, d, p] = resolve_columns(cols)?;
        Ok([Some(t), Some(n), Some(d), Some(p)])
    }
}

/// Find the four columns among `cols` (case-insensitive); their names as in the file.
pub fn resolve_columns(cols: &[String]) -> std::result::Result<[String; 4], String> {
    match spellings(cols) {
        [Some(t), Some(n), Some(d), Some(p)] => Ok([t, n, d, p]),
        _ => Err(format!(
            "needs the columns timestamp, node, device, power_w; found {}",
            cols.join(", ")
        )),
    }
}

fn pe(shown: &str) -> impl Fn(PolarsError) -> Error + '_ {
    move |e| Error::in_file(shown, format!("cannot read telemetry: {e}"))
}

/// Stream the file through `on_batch`.
pub fn scan(
    src: &Source,
    cfg: &Config,
    nodes: &mut Nodes,
    out: &mut ScanOutput,
    on_batch: &mut dyn FnMut(&SampleBatch),
) -> Result<u64> {
    if matches!(src.kind, Kind::GenericCsv | Kind::NodeCsv) {
        return scan_csv(src, cfg, nodes, out, on_batch);
    }
    let shown = src.file.shown.as_str();
    let lf = lazy_frame(src, shown)?;
    // polars runs the scan on its own threads and sends batches here, in file order.
    let (tx, rx) = std::sync::mpsc::sync_channel::<PolarsResult<DataFrame>>(4);
    let err_tx = tx.clone();
    let lf = lf
        .sink_batches(
            PlanCallback::new(move |df: DataFrame| Ok(tx.send(Ok(df)).is_err())),
            true,
            None,
        )
        .map_err(pe(shown))?;
    let runner = std::thread::spawn(move || {
        if let Err(e) = lf.collect_with_engine(Engine::Streaming) {
            let _ = err_tx.send(Err(e));
        }
    });
    let mut reader = FrameReader {
        cfg,
        shown,
        tally: Tally::default(),
        batch: SampleBatch::default(),
        last_node: (String::from("\u{0}"), 0),
    };
    let mut result = Ok(());
    for msg in rx {
        let df = match msg {
            Ok(df) => df,
            Err(e) => {
                result = Err(pe(shown)(e));
                break;
            }
        };
        reader.frame(&df, nodes)?;
        on_batch(&reader.batch);
    }
    let _ = runner.join();
    result?;
    let rows = reader.tally.rows;
    reader.tally.findings(shown, cfg, out);
    Ok(rows)
}

/// The file as a lazy frame of `t, n, d, p` (time, node, device, power), whatever its column
/// spellings.
fn lazy_frame(src: &Source, shown: &str) -> Result<LazyFrame> {
    let path = PlRefPath::try_from_path(&src.file.path).map_err(pe(shown))?;
    let mut lf = match src.kind {
        Kind::GenericParquet | Kind::NodeParquet => {
            LazyFrame::scan_parquet(path, ScanArgsParquet::default()).map_err(pe(shown))?
        }
        _ => LazyCsvReader::new(path)
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .finish()
            .map_err(pe(shown))?,
    };
    let schema = lf.collect_schema().map_err(pe(shown))?;
    let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    let [t, n, d, p] = columns_of(&names, src.kind.whole_node())
        .map_err(|m| Error::in_file(shown, m).at_line(1))?;
    let name = |c: Option<String>| c.unwrap_or_default();
    let device = match d {
        // Non-strict numeric casts: a value that is not a number becomes null (a bad row).
        Some(d) => col(d.as_str()).cast(DataType::UInt32),
        None => lit(NODE_DEVICE),
    };
    Ok(lf.select([
        col(name(t).as_str()).alias("t"),
        col(name(n).as_str()).cast(DataType::String).alias("n"),
        device.alias("d"),
        col(name(p).as_str()).cast(DataType::Float64).alias("p"),
    ]))
}

/// Rows read and what was wrong with them, for findings.
#[derive(Default)]
struct Tally {
    rows: u64,
    /// Unreadable timestamps: how many, and the first.
    bad_time: (u64, Option<String>),
    /// Rows without a time, node or numeric device (including the bad times), and the first
    /// such node.
    bad_device: (u64, Option<String>),
    naive: u64,
}

impl Tally {
    /// Errors for the rows not used, a warning for naive timestamps.
    fn findings(self, shown: &str, cfg: &Config, out: &mut ScanOutput) {
        if self.bad_time.0 > 0 {
            out.findings.push(
                Finding::error(
                    codes::TELEMETRY_BAD_ROW,
                    format!(
                        "{} samples have an unreadable timestamp (e.g. '{}'); they are not used",
                        self.bad_time.0,
                        self.bad_time.1.unwrap_or_default()
                    ),
                )
                .at(shown, None),
            );
        }
        if self.bad_device.0 > self.bad_time.0 {
            out.findings.push(
                Finding::error(
                    codes::TELEMETRY_BAD_ROW,
                    format!(
                        "{} samples lack a node or a numeric device (e.g. '{}'); they are not used",
                        self.bad_device.0 - self.bad_time.0,
                        self.bad_device.1.unwrap_or_default()
                    ),
                )
                .at(shown, None),
            );
        }
        if self.naive > 0 {
            out.findings.push(
                Finding::warning(
                    codes::TELEMETRY_NAIVE_TIMESTAMP,
                    format!(
                        "{} timestamps have no time zone; they were read as {}",
                        self.naive, cfg.timezone_name
                    ),
                )
                .at(shown, None),
            );
        }
    }
}

/// Turns polars frames into sample batches.
struct FrameReader<'a> {
    cfg: &'a Config,
    shown: &'a str,
    tally: Tally,
    /// The batch of the last frame (reused).
    batch: SampleBatch,
    /// The last node name and its id (rows of one node come together).
    last_node: (String, u32),
}

impl FrameReader<'_> {
    /// One frame into `self.batch`: rows without a time, node or device are tallied; a
    /// missing power value is NaN, which the integrator drops with a finding.
    fn frame(&mut self, df: &DataFrame, nodes: &mut Nodes) -> Result<()> {
        let shown = self.shown;
        let batch = &mut self.batch;
        batch.node.clear();
        batch.device.clear();
        batch.t_ms.clear();
        batch.power_w.clear();
        self.tally.rows += df.height() as u64;
        let times = times(
            df.column("t").map_err(pe(shown))?,
            self.cfg,
            &mut self.tally,
            shown,
        )?;
        let column = |name: &str| df.column(name).map_err(pe(shown));
        let ncol = column("n")?.str().map_err(pe(shown))?.clone();
        let dcol = column("d")?.u32().map_err(pe(shown))?.clone();
        let pcol = column("p")?.f64().map_err(pe(shown))?.clone();
        for (i, ((nv, dv), pv)) in ncol.iter().zip(dcol.iter()).zip(pcol.iter()).enumerate() {
            let (Some(t), Some(nv), Some(device)) = (times[i], nv, dv) else {
                let bad = &mut self.tally.bad_device;
                bad.0 += 1;
                if bad.1.is_none() && times[i].is_some() {
                    bad.1 = Some(format!("node {}", nv.unwrap_or("(empty)")));
                }
                continue;
            };
            let node = if nv == self.last_node.0 {
                self.last_node.1
            } else {
                let id = nodes.id(nv);
                self.last_node = (nv.to_string(), id);
                id
            };
            batch.push(node, device, t, pv.unwrap_or(f64::NAN));
        }
        Ok(())
    }
}

/// Epoch milliseconds of a time column: a Parquet timestamp type, or text parsed by the
/// timestamp rules (naive and unreadable ones tallied).
fn times(tcol: &Column, cfg: &Config, tally: &mut Tally, shown: &str) -> Result<Vec<Option<i64>>> {
    if let DataType::Datetime(unit, _) = tcol.dtype() {
        let div = match unit {
            TimeUnit::Nanoseconds => 1_000_000,
            TimeUnit::Microseconds => 1_000,
            TimeUnit::Milliseconds => 1,
        };
        return Ok(tcol
            .cast(&DataType::Int64)
            .map_err(pe(shown))?
            .i64()
            .map_err(pe(shown))?
            .iter()
            .map(|v| v.map(|v| v.div_euclid(div)))
            .collect());
    }
    let s = tcol.cast(&DataType::String).map_err(pe(shown))?;
    Ok(s.str()
        .map_err(pe(shown))?
        .iter()
        .map(|v| {
            let v = v?;
            match parse_ms(v, cfg) {
                Ok((ms, zoned)) => {
                    if !zoned {
                        tally.naive += 1;
                    }
                    Some(ms)
                }
                Err(_) => {
                    tally.bad_time.0 += 1;
                    tally.bad_time.1.get_or_insert_with(|| v.to_string());
                    None
                }
            }
        })
        .collect())
}
