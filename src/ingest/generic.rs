//! Generic power samples, CSV or Parquet: `timestamp, node, device, power_w` (as
//! shared/bench/gen_fleet.py writes them). Parquet is scanned lazily by polars' streaming engine;
//! CSV is read through a fixed-size buffer on a parser thread (polars maps the whole file into
//! memory, which for a quarter of samples is gigabytes). Either way samples are handed on in
//! batches, so memory does not grow with the file.

use super::telemetry::{parse_ms, Kind, Nodes, SampleBatch, ScanOutput, Source};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use polars::prelude::*;

/// Accepted spellings of the four columns.
const TIME: [&str; 4] = ["timestamp", "time", "ts", "datetime"];
const NODE: [&str; 4] = ["node", "host", "hostname", "nodename"];
const DEVICE: [&str; 5] = ["device", "gpu", "gpu_index", "index", "device_id"];
const POWER: [&str; 5] = ["power_w", "power", "power_watts", "watts", "power.draw"];

/// Find the four columns among `cols` (case-insensitive); their names as in the file.
pub fn resolve_columns(cols: &[String]) -> std::result::Result<[String; 4], String> {
    let find = |names: &[&str]| {
        cols.iter()
            .find(|c| names.iter().any(|n| c.trim().eq_ignore_ascii_case(n)))
            .cloned()
    };
    match (find(&TIME), find(&NODE), find(&DEVICE), find(&POWER)) {
        (Some(t), Some(n), Some(d), Some(p)) => Ok([t, n, d, p]),
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
    if src.kind == Kind::GenericCsv {
        return scan_csv(src, cfg, nodes, out, on_batch);
    }
    let shown = src.file.shown.as_str();
    let path = PlRefPath::try_from_path(&src.file.path).map_err(pe(shown))?;
    let mut lf = match src.kind {
        Kind::GenericParquet => {
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
    let [t, n, d, p] = resolve_columns(&names).map_err(|m| Error::in_file(shown, m).at_line(1))?;
    let lf = lf.select([
        col(t.as_str()).alias("t"),
        col(n.as_str()).cast(DataType::String).alias("n"),
        // Non-strict numeric casts: a value that is not a number becomes null (a bad row).
        col(d.as_str()).cast(DataType::UInt32).alias("d"),
        col(p.as_str()).cast(DataType::Float64).alias("p"),
    ]);

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

    let mut rows = 0u64;
    let mut bad_time = (0u64, None::<String>);
    let mut bad_device = (0u64, None::<String>);
    let mut naive = 0u64;
    let mut batch = SampleBatch::default();
    let mut last_node: (String, u32) = (String::from("\u{0}"), 0);
    let mut result = Ok(());
    for msg in rx {
        let df = match msg {
            Ok(df) => df,
            Err(e) => {
                result = Err(pe(shown)(e));
                break;
            }
        };
        batch.node.clear();
        batch.device.clear();
        batch.t_ms.clear();
        batch.power_w.clear();
        let h = df.height();
        rows += h as u64;
        let tcol = df.column("t").map_err(pe(shown))?;
        let times: Vec<Option<i64>> = match tcol.dtype() {
            DataType::Datetime(unit, _) => {
                let div = match unit {
                    TimeUnit::Nanoseconds => 1_000_000,
                    TimeUnit::Microseconds => 1_000,
                    TimeUnit::Milliseconds => 1,
                };
                tcol.cast(&DataType::Int64)
                    .map_err(pe(shown))?
                    .i64()
                    .map_err(pe(shown))?
                    .iter()
                    .map(|v| v.map(|v| v.div_euclid(div)))
                    .collect()
            }
            _ => {
                let s = tcol.cast(&DataType::String).map_err(pe(shown))?;
                s.str()
                    .map_err(pe(shown))?
                    .iter()
                    .map(|v| {
                        let v = v?;
                        match parse_ms(v, cfg) {
                            Ok((ms, zoned)) => {
                                if !zoned {
                                    naive += 1;
                                }
                                Some(ms)
                            }
                            Err(_) => {
                                bad_time.0 += 1;
                                bad_time.1.get_or_insert_with(|| v.to_string());
                                None
                            }
                        }
                    })
                    .collect()
            }
        };
        let column = |name: &str| df.column(name).map_err(pe(shown));
        let ncol = column("n")?.str().map_err(pe(shown))?.clone();
        let dcol = column("d")?.u32().map_err(pe(shown))?.clone();
        let pcol = column("p")?.f64().map_err(pe(shown))?.clone();
        for (i, ((nv, dv), pv)) in ncol.iter().zip(dcol.iter()).zip(pcol.iter()).enumerate() {
            let (Some(t), Some(nv), Some(device)) = (times[i], nv, dv) else {
                bad_device.0 += 1;
                if bad_device.1.is_none() && times[i].is_some() {
                    bad_device.1 = Some(format!("node {}", nv.unwrap_or("(empty)")));
                }
                continue;
            };
            let node = if nv == last_node.0 {
                last_node.1
            } else {
                let id = nodes.id(nv);
                last_node = (nv.to_string(), id);
                id
            };
            // A missing power value is NaN: the integrator drops it with a finding.
            batch.push(node, device, t, pv.unwrap_or(f64::NAN));
        }
        on_batch(&batch);
    }
    let _ = runner.join();
    result?;
    if bad_time.0 > 0 {
        out.findings.push(
            Finding::error(
                codes::TELEMETRY_BAD_ROW,
                format!(
                    "{} samples have an unreadable timestamp (e.g. '{}'); they are not used",
                    bad_time.0,
                    bad_time.1.unwrap_or_default()
                ),
            )
            .at(shown, None),
        );
    }
    if bad_device.0 > bad_time.0 {
        out.findings.push(
            Finding::error(
                codes::TELEMETRY_BAD_ROW,
                format!(
                    "{} samples lack a node or a numeric device (e.g. '{}'); they are not used",
                    bad_device.0 - bad_time.0,
                    bad_device.1.unwrap_or_default()
                ),
            )
            .at(shown, None),
        );
    }
    if naive > 0 {
        out.findings.push(
            Finding::warning(
                codes::TELEMETRY_NAIVE_TIMESTAMP,
                format!(
                    "{naive} timestamps have no time zone; they were read as {}",
                    cfg.timezone_name
                ),
            )
            .at(shown, None),
        );
    }
    Ok(rows)
}

/// Rows per batch handed from the CSV parser thread to the integrator.
const CSV_BATCH: usize = 1 << 16;

/// What the CSV parser thread found wrong, for findings.
#[derive(Default)]
struct CsvTrouble {
    bad_time: (u64, Option<String>),
    bad_other: (u64, Option<(u64, String)>),
    naive: u64,
    rows: u64,
}

/// Stream a generic CSV file: a parser thread fills batches, this thread integrates them.
fn scan_csv(
    src: &Source,
    cfg: &Config,
    nodes: &mut Nodes,
    out: &mut ScanOutput,
    on_batch: &mut dyn FnMut(&SampleBatch),
) -> Result<u64> {
    let shown = src.file.shown.as_str();
    let file = std::fs::File::open(&src.file.path)
        .map_err(|e| Error::io(shown, "read the telemetry file", e))?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| Error::in_file(shown, format!("cannot read the header: {e}")).at_line(1))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    let cols = resolve_columns(&header).map_err(|m| Error::in_file(shown, m).at_line(1))?;
    let idx: Vec<usize> = cols
        .iter()
        .map(|c| header.iter().position(|h| h == c).unwrap_or(0))
        .collect();
    let (it, in_, id, ip) = (idx[0], idx[1], idx[2], idx[3]);

    let (tx, rx) = std::sync::mpsc::sync_channel::<SampleBatch>(4);
    let (back_tx, back_rx) = std::sync::mpsc::channel::<SampleBatch>();
    let trouble = std::thread::scope(|scope| {
        let parser = scope.spawn(move || -> std::result::Result<CsvTrouble, String> {
            let mut t = CsvTrouble::default();
            let mut rec = csv::ByteRecord::new();
            let mut batch = SampleBatch::default();
            let mut last_node: (Vec<u8>, u32) = (Vec::new(), u32::MAX);
            loop {
                match rdr.read_byte_record(&mut rec) {
                    Ok(false) => break,
                    Ok(true) => {}
                    Err(e) => return Err(format!("unreadable CSV ({e})")),
                }
                t.rows += 1;
                let line = rec.position().map(|p| p.line()).unwrap_or(0);
                let field = |i: usize| {
                    rec.get(i)
                        .map(|b| std::str::from_utf8(b).unwrap_or("").trim())
                };
                let (Some(ts), Some(node), Some(dev), Some(pw)) =
                    (field(it), field(in_), field(id), field(ip))
                else {
                    t.bad_other.0 += 1;
                    t.bad_other
                        .1
                        .get_or_insert((line, "a field is missing".into()));
                    continue;
                };
                let ms = match parse_ms(ts, cfg) {
                    Ok((ms, zoned)) => {
                        if !zoned {
                            t.naive += 1;
                        }
                        ms
                    }
                    Err(_) => {
                        t.bad_time.0 += 1;
                        t.bad_time.1.get_or_insert_with(|| ts.to_string());
                        continue;
                    }
                };
                let Ok(device) = dev.parse::<u32>() else {
                    t.bad_other.0 += 1;
                    t.bad_other
                        .1
                        .get_or_insert((line, format!("device '{dev}' is not a number")));
                    continue;
                };
                if node.is_empty() {
                    t.bad_other.0 += 1;
                    t.bad_other
                        .1
                        .get_or_insert((line, "the node is empty".into()));
                    continue;
                }
                let node_id = if node.as_bytes() == last_node.0.as_slice() {
                    last_node.1
                } else {
                    let id = nodes.id(node);
                    last_node = (node.as_bytes().to_vec(), id);
                    id
                };
                // An empty or unreadable power is NaN: the integrator drops it with a finding.
                let p = pw.parse::<f64>().unwrap_or(f64::NAN);
                batch.push(node_id, device, ms, p);
                if batch.len() >= CSV_BATCH {
                    let mut next = back_rx.try_recv().unwrap_or_default();
                    std::mem::swap(&mut batch, &mut next);
                    batch.node.clear();
                    batch.device.clear();
                    batch.t_ms.clear();
                    batch.power_w.clear();
                    if tx.send(next).is_err() {
                        return Ok(t);
                    }
                }
            }
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
            Ok(t)
        });
        for b in rx {
            on_batch(&b);
            let _ = back_tx.send(b);
        }
        parser
            .join()
            .unwrap_or_else(|_| Err("the CSV parser stopped".into()))
    });
    let t = trouble.map_err(|m| Error::in_file(shown, m))?;
    if t.bad_time.0 > 0 {
        out.findings.push(
            Finding::error(
                codes::TELEMETRY_BAD_ROW,
                format!(
                    "{} samples have an unreadable timestamp (e.g. '{}'); they are not used",
                    t.bad_time.0,
                    t.bad_time.1.unwrap_or_default()
                ),
            )
            .at(shown, None),
        );
    }
    if let (n, Some((line, why))) = t.bad_other {
        out.findings.push(
            Finding::error(
                codes::TELEMETRY_BAD_ROW,
                format!("{n} samples cannot be read ({why} at the first); they are not used"),
            )
            .at(shown, Some(line)),
        );
    }
    if t.naive > 0 {
        out.findings.push(
            Finding::warning(
                codes::TELEMETRY_NAIVE_TIMESTAMP,
                format!(
                    "{} timestamps have no time zone; they were read as {}",
                    t.naive, cfg.timezone_name
                ),
            )
            .at(shown, None),
        );
    }
    Ok(t.rows)
}
