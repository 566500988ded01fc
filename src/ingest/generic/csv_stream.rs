//! Generic power samples from CSV, streamed: a parser thread reads through a fixed 1 MiB
//! buffer and fills batches, the caller's thread integrates them, and emptied batches go back
//! to the parser (so memory does not grow with the file).

use super::columns_of;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use crate::ingest::samples::{parse_ms, Nodes, SampleBatch, ScanOutput, Source, NODE_DEVICE};
use std::sync::mpsc::{Receiver, SyncSender};

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

type Reader = csv::Reader<std::io::BufReader<std::fs::File>>;

/// Stream a generic CSV file: a parser thread fills batches, this thread integrates them.
pub(super) fn scan_csv(
    src: &Source,
    cfg: &Config,
    nodes: &mut Nodes,
    out: &mut ScanOutput,
    on_batch: &mut dyn FnMut(&SampleBatch),
) -> Result<u64> {
    let shown = src.file.shown.as_str();
    let (rdr, idx) = open(src, shown)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<SampleBatch>(4);
    let (back_tx, back_rx) = std::sync::mpsc::channel::<SampleBatch>();
    let trouble = std::thread::scope(|scope| {
        let parser = scope.spawn(move || parse(rdr, idx, cfg, nodes, tx, back_rx));
        for b in rx {
            on_batch(&b);
            let _ = back_tx.send(b);
        }
        parser
            .join()
            .unwrap_or_else(|_| Err("the CSV parser stopped".into()))
    });
    let t = trouble.map_err(|m| Error::in_file(shown, m))?;
    findings(&t, shown, cfg, out);
    Ok(t.rows)
}

/// Open the file and locate the four columns (time, node, device, power) in its header.
fn open(src: &Source, shown: &str) -> Result<(Reader, [Option<usize>; 4])> {
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
    let cols = columns_of(&header, src.kind).map_err(|m| Error::in_file(shown, m).at_line(1))?;
    let idx = cols.map(|c| c.and_then(|c| header.iter().position(|h| *h == c)));
    Ok((rdr, idx))
}

impl CsvTrouble {
    /// A row set aside for a reason other than its time (the first one's line is kept).
    fn other(&mut self, line: u64, why: impl FnOnce() -> String) {
        self.bad_other.0 += 1;
        self.bad_other.1.get_or_insert_with(|| (line, why()));
    }
}

/// One record's sample: (node, device, epoch ms, watts), or `None` when the row is set aside
/// (tallied in `t`). An empty or unreadable power is NaN: the integrator drops it with a
/// finding. Node power has no device column: its samples are the whole node's.
#[inline]
fn sample<'r>(
    rec: &'r csv::ByteRecord,
    [it, in_, id, ip]: [Option<usize>; 4],
    cfg: &Config,
    t: &mut CsvTrouble,
) -> Option<(&'r str, u32, i64, f64)> {
    let line = rec.position().map(|p| p.line()).unwrap_or(0);
    let field = |i: Option<usize>| {
        rec.get(i?)
            .map(|b| std::str::from_utf8(b).unwrap_or("").trim())
    };
    let dev = if id.is_some() { field(id) } else { Some("") };
    let (Some(ts), Some(node), Some(dev), Some(pw)) = (field(it), field(in_), dev, field(ip))
    else {
        t.other(line, || "a field is missing".into());
        return None;
    };
    let ms = match parse_ms(ts, cfg) {
        Ok((ms, zoned)) => {
            t.naive += u64::from(!zoned);
            ms
        }
        Err(_) => {
            t.bad_time.0 += 1;
            t.bad_time.1.get_or_insert_with(|| ts.to_string());
            return None;
        }
    };
    let device = if id.is_none() {
        Ok(NODE_DEVICE)
    } else {
        dev.parse::<u32>()
    };
    let Ok(device) = device else {
        t.other(line, || format!("device '{dev}' is not a number"));
        return None;
    };
    if node.is_empty() {
        t.other(line, || "the node is empty".into());
        return None;
    }
    Some((node, device, ms, pw.parse::<f64>().unwrap_or(f64::NAN)))
}

/// The parser thread: every record into batches sent on `tx` (reusing those coming back on
/// `back_rx`); rows that cannot be read are tallied. Stops early when the receiver is gone.
fn parse(
    mut rdr: Reader,
    idx: [Option<usize>; 4],
    cfg: &Config,
    nodes: &mut Nodes,
    tx: SyncSender<SampleBatch>,
    back_rx: Receiver<SampleBatch>,
) -> std::result::Result<CsvTrouble, String> {
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
        let Some((node, device, ms, p)) = sample(&rec, idx, cfg, &mut t) else {
            continue;
        };
        let node_id = if node.as_bytes() == last_node.0.as_slice() {
            last_node.1
        } else {
            let id = nodes.id(node);
            last_node = (node.as_bytes().to_vec(), id);
            id
        };
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
}

/// Errors for the rows not used, a warning for naive timestamps.
fn findings(t: &CsvTrouble, shown: &str, cfg: &Config, out: &mut ScanOutput) {
    if t.bad_time.0 > 0 {
        out.findings.push(
            Finding::error(
                codes::TELEMETRY_BAD_ROW,
                format!(
                    "{} samples have an unreadable timestamp (e.g. '{}'); they are not used",
                    t.bad_time.0,
                    t.bad_time.1.clone().unwrap_or_default()
                ),
            )
            .at(shown, None),
        );
    }
    if let (n, Some((line, why))) = &t.bad_other {
        out.findings.push(
            Finding::error(
                codes::TELEMETRY_BAD_ROW,
                format!("{n} samples cannot be read ({why} at the first); they are not used"),
            )
            .at(shown, Some(*line)),
        );
    }
    if t.naive > 0 {
        out.findings.push(
            Finding::warning(
                codes::TELEMETRY_NAIVE_TIMESTAMP,
                format!(
                    "{} timestamps have no time zone; they were read as {}",
                    t.naive, cfg.inputs.timezone_name
                ),
            )
            .at(shown, None),
        );
    }
}
