//! Generic power samples, CSV or Parquet: `timestamp, node, device, power_w` (as
//! bench/gen_fleet.py writes them). Parquet is scanned lazily by polars' streaming
//! engine, a window of row groups at a time (polars maps the file, and what a scan has read stays
//! resident until it ends); CSV is read through a fixed-size buffer on a parser thread (polars
//! maps the whole file into memory, which for a quarter of samples is gigabytes). Either way
//! samples are handed on in batches, so memory does not grow with the file.

use super::samples::{
    parse_ms, Kind, Nodes, SampleBatch, SampleReader, ScanOutput, Source, NODE_DEVICE,
};
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
pub(crate) fn resolve_node_columns(cols: &[String]) -> std::result::Result<[String; 3], String> {
    match spellings(cols) {
        [Some(t), Some(n), None, Some(p)] => Ok([t, n, p]),
        _ => Err(format!(
            "node power needs the columns timestamp, node, power_w; found {}",
            cols.join(", ")
        )),
    }
}

/// Energy columns of counters in the long layout, and the millijoules in one of their units.
const ENERGY: [(&str, f64); 2] = [("energy_mj", 1.0), ("energy_j", 1000.0)];

/// Find the four columns of energy counters (`timestamp, node, device, energy_mj` or
/// `energy_j`, no power column) among `cols` (case-insensitive): their names as in the file, and
/// the millijoules per unit of the energy column.
pub(crate) fn resolve_counter_columns(
    cols: &[String],
) -> std::result::Result<([String; 4], f64), String> {
    let energy = ENERGY.iter().find_map(|(name, scale)| {
        cols.iter()
            .find(|c| c.trim().eq_ignore_ascii_case(name))
            .map(|c| (c.clone(), *scale))
    });
    match (spellings(cols), energy) {
        ([Some(t), Some(n), Some(d), None], Some((e, scale))) => Ok(([t, n, d, e], scale)),
        _ => Err(format!(
            "energy counters need the columns timestamp, node, device, energy_mj (or energy_j); found {}",
            cols.join(", ")
        )),
    }
}

/// The columns of a generic file of `kind`: time, node, device (`None` for node power), power
/// (or energy, for counters).
pub(crate) fn columns_of(
    cols: &[String],
    kind: Kind,
) -> std::result::Result<[Option<String>; 4], String> {
    if kind.counters() {
        let ([t, n, d, e], _) = resolve_counter_columns(cols)?;
        Ok([Some(t), Some(n), Some(d), Some(e)])
    } else if kind.whole_node() {
        let [t, n, p] = resolve_node_columns(cols)?;
        Ok([Some(t), Some(n), None, Some(p)])
    } else {
        let [t, n, d, p] = resolve_columns(cols)?;
        Ok([Some(t), Some(n), Some(d), Some(p)])
    }
}

/// Find the four columns among `cols` (case-insensitive); their names as in the file.
pub(crate) fn resolve_columns(cols: &[String]) -> std::result::Result<[String; 4], String> {
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
pub(crate) struct Generic;

impl SampleReader for Generic {
    fn scan(
        &self,
        src: &Source,
        cfg: &Config,
        nodes: &mut Nodes,
        out: &mut ScanOutput,
        on_batch: &mut dyn FnMut(&SampleBatch),
    ) -> Result<u64> {
        if src.kind.counters() {
            return scan_counters(src, cfg, nodes, out);
        }
        if matches!(src.kind, Kind::GenericCsv | Kind::NodeCsv) {
            return scan_csv(src, cfg, nodes, out, on_batch);
        }
        scan_parquet(src, cfg, nodes, out, on_batch, WINDOW_BYTES)
    }
}

/// Energy counters in the long layout: read as samples are (the same columns, timestamps and
/// bad-row findings), each row a reading in millijoules rather than a power sample. An energy
/// that is not a number reads as NaN, which the integrator drops and counts.
fn scan_counters(
    src: &Source,
    cfg: &Config,
    nodes: &mut Nodes,
    out: &mut ScanOutput,
) -> Result<u64> {
    let shown = src.file.shown.as_str();
    let names: Vec<String> = if src.kind == Kind::CounterParquet {
        let path = PlRefPath::try_from_path(&src.file.path).map_err(pe(shown))?;
        let mut lf =
            LazyFrame::scan_parquet(path, ScanArgsParquet::default()).map_err(pe(shown))?;
        let schema = lf.collect_schema().map_err(pe(shown))?;
        schema.iter_names().map(|n| n.to_string()).collect()
    } else {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(&src.file.path)
            .map_err(|e| Error::in_file(shown, format!("cannot read the header: {e}")))?;
        let header = rdr.headers().map_err(|e| {
            Error::in_file(shown, format!("cannot read the header: {e}")).at_line(1)
        })?;
        header
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
            .collect()
    };
    let (_, scale) =
        resolve_counter_columns(&names).map_err(|m| Error::in_file(shown, m).at_line(1))?;
    let mut readings = Vec::new();
    let mut keep = |b: &SampleBatch| {
        for r in 0..b.len() {
            readings.push(super::samples::CounterReading {
                node: b.node[r],
                device: b.device[r],
                t_ms: b.t_ms[r],
                mj: b.power_w[r] * scale,
            });
        }
    };
    let rows = if src.kind == Kind::CounterCsv {
        scan_csv(src, cfg, nodes, out, &mut keep)
    } else {
        scan_parquet(src, cfg, nodes, out, &mut keep, WINDOW_BYTES)
    };
    out.counters.extend(readings);
    rows
}

/// [`scan`] of a Parquet file in windows of at least `window_bytes` bytes of the file.
fn scan_parquet(
    src: &Source,
    cfg: &Config,
    nodes: &mut Nodes,
    out: &mut ScanOutput,
    on_batch: &mut dyn FnMut(&SampleBatch),
    window_bytes: usize,
) -> Result<u64> {
    let shown = src.file.shown.as_str();
    // One plan (its columns resolved once), sliced per window; each slice is its own scan.
    let lf = lazy_frame(src, shown)?;
    let scans = windows(src, shown, window_bytes)?
        .into_iter()
        .map(|(offset, len)| {
            let len = IdxSize::try_from(len).unwrap_or(IdxSize::MAX);
            lf.clone().slice(offset as i64, len)
        })
        .collect();
    let mut reader = FrameReader {
        cfg,
        shown,
        tally: Tally::default(),
        batch: SampleBatch::default(),
        last_node: (String::from("\u{0}"), 0),
    };
    stream(scans, shown, &mut reader, nodes, on_batch)?;
    let rows = reader.tally.rows;
    reader.tally.findings(shown, cfg, out);
    Ok(rows)
}

/// Bytes of the file per window of a Parquet scan (whole row groups, at least this many).
/// Measured on a billion samples in ten files (bench/billion.sh): 128 MiB windows peak at
/// ~650 MiB where one scan per file peaks at ~1.2 GiB, in the same time.
const WINDOW_BYTES: usize = 128 << 20;

/// Frames polars may decode ahead of the integration. Enough that a window's scan ends, and
/// the next one starts, while this thread still has frames to work on. On a 100M-sample file
/// in 64 MiB windows: with 4, ~1.3x the time of one scan; with 16, under 1.1x.
const FRAMES_AHEAD: usize = 16;

/// A Parquet file's rows as windows of whole row groups, `(offset, rows)`.
///
/// polars maps the whole file into memory and the pages it has read stay resident until the
/// scan ends: one scan of a 750 MB file holds 750 MB. A scan per window of row groups maps
/// the file again and releases it at the window's end, so memory stays at about one window's
/// pages whatever the file's size. Windows follow row-group boundaries so each group is read
/// once.
fn windows(src: &Source, shown: &str, bytes: usize) -> Result<Vec<(usize, usize)>> {
    let file = std::fs::File::open(&src.file.path)
        .map_err(|e| Error::in_file(shown, format!("cannot read telemetry: {e}")))?;
    let mut reader = ParquetReader::new(file);
    let groups: Vec<(usize, usize)> = reader
        .get_metadata()
        .map_err(pe(shown))?
        .row_groups
        .iter()
        .map(|g| (g.num_rows(), g.compressed_size()))
        .collect();
    Ok(group_windows(&groups, bytes))
}

/// Consecutive row groups `(rows, bytes)` gathered into windows of at least `bytes` bytes
/// (the last may be smaller); `(offset, rows)` each.
fn group_windows(groups: &[(usize, usize)], bytes: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let (mut start, mut len, mut size) = (0, 0, 0);
    for &(rows, b) in groups {
        len += rows;
        size += b;
        if size >= bytes {
            out.push((start, len));
            start += len;
            (len, size) = (0, 0);
        }
    }
    if len > 0 || out.is_empty() {
        out.push((start, len));
    }
    out
}

/// Run the scans one after the other on a thread of their own and hand their frames, in file
/// order, to `reader` and `on_batch`. The next scan starts while this thread still works on
/// the last frames of the one before, so the boundaries between windows cost little waiting.
fn stream(
    scans: Vec<LazyFrame>,
    shown: &str,
    reader: &mut FrameReader,
    nodes: &mut Nodes,
    on_batch: &mut dyn FnMut(&SampleBatch),
) -> Result<()> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<PolarsResult<DataFrame>>(FRAMES_AHEAD);
    // Set when this side has stopped listening, so no further window is started.
    let gone = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let runner = std::thread::spawn(move || {
        for lf in scans {
            if gone.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            let (batches, gone) = (tx.clone(), gone.clone());
            let sink = lf.sink_batches(
                PlanCallback::new(move |df: DataFrame| {
                    let stop = batches.send(Ok(df)).is_err();
                    gone.fetch_or(stop, std::sync::atomic::Ordering::Relaxed);
                    Ok(stop)
                }),
                true,
                None,
            );
            let done = sink.and_then(|lf| lf.collect_with_engine(Engine::Streaming));
            if let Err(e) = done {
                let _ = tx.send(Err(e));
                return;
            }
        }
    });
    let mut result = Ok(());
    for msg in rx.iter() {
        let df = match msg {
            Ok(df) => df,
            Err(e) => {
                result = Err(pe(shown)(e));
                break;
            }
        };
        if let Err(e) = reader.frame(&df, nodes) {
            result = Err(e);
            break;
        }
        on_batch(&reader.batch);
    }
    // A receiver gone stops the scan at its next batch (the callback's send fails).
    drop(rx);
    let _ = runner.join();
    result
}

/// The Parquet file as a lazy frame of `t, n, d, p` (time, node, device, power), whatever its
/// column spellings.
fn lazy_frame(src: &Source, shown: &str) -> Result<LazyFrame> {
    let path = PlRefPath::try_from_path(&src.file.path).map_err(pe(shown))?;
    let mut lf = LazyFrame::scan_parquet(path, ScanArgsParquet::default()).map_err(pe(shown))?;
    let schema = lf.collect_schema().map_err(pe(shown))?;
    let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    let [t, n, d, p] =
        columns_of(&names, src.kind).map_err(|m| Error::in_file(shown, m).at_line(1))?;
    let name = |c: Option<String>| c.unwrap_or_default();
    let device = match d {
        // Non-strict numeric casts: a value that is not a number becomes null (a bad row).
        Some(d) => col(d.as_str()).cast(DataType::UInt32),
        // A bare integer literal is an i64 column; the device column is read as u32.
        None => lit(NODE_DEVICE).cast(DataType::UInt32),
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
                        self.naive, cfg.inputs.timezone_name
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InputFile;

    /// Every row of a Parquet file of `kind`, read in windows of at least `window` bytes.
    fn read_as(
        path: &std::path::Path,
        kind: Kind,
        window: usize,
    ) -> (u64, Vec<(u32, u32, i64, f64)>) {
        let (cfg, _) = Config::load(&crate::cli::InputArgs::default()).unwrap();
        let src = Source {
            file: InputFile {
                path: path.to_path_buf(),
                shown: "power.parquet".into(),
            },
            kind,
            live: None,
        };
        let (mut nodes, mut out, mut rows) = (Nodes::default(), ScanOutput::default(), Vec::new());
        let mut keep = |b: &SampleBatch| {
            for i in 0..b.len() {
                rows.push((b.node[i], b.device[i], b.t_ms[i], b.power_w[i]));
            }
        };
        let n = scan_parquet(&src, &cfg, &mut nodes, &mut out, &mut keep, window).unwrap();
        (n, rows)
    }

    #[test]
    fn windows_read_every_row_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("power.parquet");
        let n = 9;
        let mut df = df!(
            "timestamp" => (0..n).map(|i| 1_767_225_600_000 + 10_000 * i as i64).collect::<Vec<_>>(),
            "node" => (0..n).map(|i| if i < 5 { "a" } else { "b" }).collect::<Vec<_>>(),
            "device" => (0..n).map(|i| (i % 2) as i64).collect::<Vec<_>>(),
            "power_w" => (0..n).map(|i| 100.0 + i as f64).collect::<Vec<_>>(),
        )
        .unwrap();
        df.apply("timestamp", |c| {
            c.cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
                .unwrap()
        })
        .unwrap();
        ParquetWriter::new(std::fs::File::create(&path).unwrap())
            .with_row_group_size(Some(2))
            .finish(&mut df)
            .unwrap();
        let groups = ParquetReader::new(std::fs::File::open(&path).unwrap())
            .get_metadata()
            .unwrap()
            .row_groups
            .iter()
            .map(|g| (g.num_rows(), g.compressed_size()))
            .collect::<Vec<_>>();
        // polars folds the short last group into the one before.
        let rows: Vec<usize> = groups.iter().map(|g| g.0).collect();
        assert_eq!(rows, [2, 2, 2, 3]);
        let two = groups[0].1 + groups[1].1;
        let (all, whole) = read_as(&path, Kind::GenericParquet, usize::MAX);
        assert_eq!(all, 9);
        assert_eq!(whole.len(), 9);
        assert_eq!(whole[8], (1, 0, 1_767_225_680_000, 108.0));
        // One window per group, two groups per window, one window.
        for (window, n) in [(1, 4), (two, 2), (usize::MAX, 1)] {
            assert_eq!(group_windows(&groups, window).len(), n);
            assert_eq!(
                read_as(&path, Kind::GenericParquet, window),
                (all, whole.clone()),
                "window {window}"
            );
        }
    }

    #[test]
    fn node_power_in_windows_is_the_node_device() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.parquet");
        let mut df = df!(
            "timestamp" => ["2026-01-01T00:00:00Z", "2026-01-01T00:00:10Z", "2026-01-01T00:00:20Z"],
            "hostname" => ["a", "a", "a"],
            "power_w" => [900.0, 950.0, 1000.0],
        )
        .unwrap();
        ParquetWriter::new(std::fs::File::create(&path).unwrap())
            .with_row_group_size(Some(1))
            .finish(&mut df)
            .unwrap();
        let (n, rows) = read_as(&path, Kind::NodeParquet, 1);
        assert_eq!(n, 3);
        let ms = 1_767_225_600_000;
        assert_eq!(
            rows,
            [
                (0, NODE_DEVICE, ms, 900.0),
                (0, NODE_DEVICE, ms + 10_000, 950.0),
                (0, NODE_DEVICE, ms + 20_000, 1000.0)
            ]
        );
    }

    #[test]
    fn windows_follow_row_groups() {
        let g = |rows: &[usize]| rows.iter().map(|&r| (r, 10 * r)).collect::<Vec<_>>();
        assert_eq!(
            group_windows(&g(&[4, 4, 4, 4, 3]), 80),
            [(0, 8), (8, 8), (16, 3)]
        );
        assert_eq!(group_windows(&g(&[10, 2]), 80), [(0, 10), (10, 2)]);
        assert_eq!(group_windows(&g(&[3, 3]), 80), [(0, 6)]);
        // A file without row groups is one empty window (its columns are still checked).
        assert_eq!(group_windows(&[], 8), [(0, 0)]);
    }

    /// Counters in the long layout are told from samples and node power by their columns; a
    /// file in joules is read in millijoules; an energy that is no number is NaN (the integrator
    /// drops and counts it), a device that is no number is a bad row.
    #[test]
    fn long_layout_counters_read_as_millijoules() {
        let cols = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (_, mj) =
            resolve_counter_columns(&cols(&["timestamp", "node", "device", "energy_mj"])).unwrap();
        assert_eq!(mj, 1.0);
        let (names, j) =
            resolve_counter_columns(&cols(&["Timestamp", "host", "gpu", "Energy_J"])).unwrap();
        assert_eq!((names[3].as_str(), j), ("Energy_J", 1000.0));
        // A power column makes it samples, not counters.
        let both = cols(&["timestamp", "node", "device", "power_w", "energy_mj"]);
        assert!(resolve_counter_columns(&both).is_err());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("energy.csv");
        std::fs::write(
            &path,
            "timestamp,node,device,energy_j\n\
             2026-07-01T00:00:00Z,gpu01.cluster,0,1.5\n\
             2026-07-01T00:00:10Z,gpu01,0,many\n\
             2026-07-01T00:00:20Z,gpu01,x,9\n",
        )
        .unwrap();
        let (cfg, _) = Config::load(&crate::cli::InputArgs::default()).unwrap();
        let src = Source {
            file: InputFile {
                path: path.clone(),
                shown: "energy.csv".into(),
            },
            kind: Kind::CounterCsv,
            live: None,
        };
        let (mut nodes, mut out) = (Nodes::default(), ScanOutput::default());
        let rows = Generic
            .scan(&src, &cfg, &mut nodes, &mut out, &mut |_| {
                panic!("counters are no power samples")
            })
            .unwrap();
        assert_eq!(rows, 3);
        let r = &out.counters;
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!((nodes.name(r[0].node), r[0].device), ("gpu01", 0));
        assert_eq!((r[0].t_ms, r[0].mj), (1_782_864_000_000, 1500.0));
        assert!(r[1].mj.is_nan());
        assert!(out
            .findings
            .iter()
            .any(|f| f.message.contains("device 'x' is not a number")));
    }
}
