//! Power telemetry: the canonical samples table, streamed in batches, from any of the readers
//! (generic CSV/Parquet, nvidia-smi logs, DCGM exporter scrapes and query_range exports).

use super::hostlist::node_key;
use super::{dcgm, generic, node_power, nvidia_smi, wandb, InputRecord};
use crate::config::{Config, InputFile};
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use std::collections::HashMap;

/// Node names, interned: samples carry a `u32` id. Names are compared in [`node_key`] form.
#[derive(Debug, Clone, Default)]
pub struct Nodes {
    pub names: Vec<String>,
    index: HashMap<String, u32>,
}

impl Nodes {
    pub fn id(&mut self, name: &str) -> u32 {
        let key = node_key(name);
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(key.clone());
        self.index.insert(key, i);
        i
    }
    pub fn get(&self, name: &str) -> Option<u32> {
        self.index.get(&node_key(name)).copied()
    }
    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}

/// The device number of whole-node power samples (BMC: Redfish, IPMI DCMI, node_exporter
/// hwmon), which measure the server with its accelerators.
pub const NODE_DEVICE: u32 = u32::MAX;

/// A batch of power samples: parallel columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SampleBatch {
    pub node: Vec<u32>,
    pub device: Vec<u32>,
    /// Milliseconds since the Unix epoch, UTC.
    pub t_ms: Vec<i64>,
    pub power_w: Vec<f64>,
}

impl SampleBatch {
    pub fn len(&self) -> usize {
        self.t_ms.len()
    }
    pub fn is_empty(&self) -> bool {
        self.t_ms.is_empty()
    }
    pub fn push(&mut self, node: u32, device: u32, t_ms: i64, power_w: f64) {
        self.node.push(node);
        self.device.push(device);
        self.t_ms.push(t_ms);
        self.power_w.push(power_w);
    }
}

/// One reading of a cumulative energy counter (DCGM total energy, millijoules since boot).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CounterReading {
    pub node: u32,
    pub device: u32,
    pub t_ms: i64,
    pub mj: f64,
}

/// Which reader a telemetry file needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    GenericCsv,
    GenericParquet,
    NvidiaSmi,
    DcgmText,
    DcgmJson,
    /// Whole-node power: `timestamp, node, power_w` (CSV or Parquet, no device column) and
    /// the wide layout of BMC pollers (a timestamp, then one watts column per node).
    NodeCsv,
    NodeParquet,
    NodeWide,
    /// Weights & Biases `wandb-events.jsonl`.
    WandbEvents,
    /// DCGM series fetched from a Prometheus-compatible server (no file).
    Prometheus,
    /// GPU power series of MLflow runs (system metrics), fetched from a tracking server.
    Mlflow,
}

impl Kind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::GenericCsv => "telemetry (generic CSV)",
            Kind::GenericParquet => "telemetry (generic Parquet)",
            Kind::NvidiaSmi => "telemetry (nvidia-smi)",
            Kind::DcgmText => "telemetry (DCGM text)",
            Kind::DcgmJson => "telemetry (DCGM query_range JSON)",
            Kind::NodeCsv => "node power (CSV)",
            Kind::NodeParquet => "node power (Parquet)",
            Kind::NodeWide => "node power (BMC wide CSV)",
            Kind::WandbEvents => "telemetry (W&B events)",
            Kind::Prometheus => "telemetry (Prometheus)",
            Kind::Mlflow => "telemetry (MLflow system metrics)",
        }
    }

    /// The reader's short name, as a job's energy source says it.
    pub fn reader(&self) -> &'static str {
        match self {
            Kind::GenericCsv | Kind::GenericParquet => "power samples",
            Kind::NvidiaSmi => "nvidia-smi",
            Kind::DcgmText | Kind::DcgmJson => "DCGM",
            Kind::NodeCsv | Kind::NodeParquet | Kind::NodeWide => "node power",
            Kind::WandbEvents => "W&B",
            Kind::Prometheus => "Prometheus (DCGM)",
            Kind::Mlflow => "MLflow system metrics",
        }
    }

    /// Whole-node power rather than accelerator power.
    pub fn whole_node(&self) -> bool {
        matches!(self, Kind::NodeCsv | Kind::NodeParquet | Kind::NodeWide)
    }
}

/// Decide the format of a telemetry file from its name and first bytes.
pub fn detect(f: &InputFile, cfg: &Config) -> Result<std::result::Result<Kind, String>> {
    if super::table::is_parquet(&f.path) {
        return Ok(Ok(parquet_kind(f)));
    }
    use std::io::Read;
    let mut head = vec![0u8; 64 * 1024];
    let n = std::fs::File::open(&f.path)
        .and_then(|mut h| h.read(&mut head))
        .map_err(|e| Error::io(&f.shown, "read the telemetry file", e))?;
    head.truncate(n);
    let text = String::from_utf8_lossy(&head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if wandb::is_events(text.lines().next().unwrap_or("")) {
        return Ok(Ok(Kind::WandbEvents));
    }
    if text.starts_with('{') {
        return Ok(Ok(Kind::DcgmJson));
    }
    if text.contains("DCGM_FI_")
        && text
            .lines()
            .any(|l| l.starts_with("DCGM_FI_") || l.starts_with("# TYPE"))
    {
        return Ok(Ok(Kind::DcgmText));
    }
    let first = text.lines().next().unwrap_or("").to_ascii_lowercase();
    if first.contains("power.draw") {
        return Ok(Ok(Kind::NvidiaSmi));
    }
    // `--format=csv,noheader`: a first field like 2026/07/14 08:12:53.353.
    let lead = first.split(',').next().unwrap_or("").trim();
    if lead.len() >= 19 && lead.as_bytes()[4] == b'/' && lead.as_bytes()[7] == b'/' {
        return Ok(if cfg.nvidia_smi_columns.is_some() {
            Ok(Kind::NvidiaSmi)
        } else {
            Err("this looks like an nvidia-smi log without a header (--format=csv,noheader); list its columns in [telemetry] nvidia_smi_columns, e.g. [\"timestamp\", \"index\", \"power.draw\"]".into())
        });
    }
    let cells = |line: &str| -> Vec<String> {
        line.split(',')
            .map(|c| c.trim().trim_matches('"').to_string())
            .collect()
    };
    let cols = cells(&first);
    if generic::resolve_columns(&cols).is_ok() {
        return Ok(Ok(Kind::GenericCsv));
    }
    if generic::resolve_node_columns(&cols).is_ok() {
        return Ok(Ok(Kind::NodeCsv));
    }
    // The wide layout's node names keep their case (the first line as written).
    let mut lines = text.lines();
    let raw = cells(lines.next().unwrap_or(""));
    let second = cells(lines.next().unwrap_or(""));
    if node_power::is_wide(&raw, &second) {
        return Ok(Ok(Kind::NodeWide));
    }
    if let Some(why) = near_miss(text, &first) {
        return Ok(Err(why));
    }
    Ok(Err(format!(
        "not a telemetry format greenledger reads (first line: '{}'); expected generic samples (timestamp,node,device,power_w), an nvidia-smi --query-gpu CSV with power.draw, or a DCGM exporter scrape / query_range JSON",
        first.chars().take(80).collect::<String>()
    )))
}

/// Layouts that are almost readable, with what to do about them: an nvidia-smi log without a
/// power column, or one whose headerless rows follow a `date` line.
fn near_miss(text: &str, first: &str) -> Option<String> {
    let smi_fields = ["utilization.", "memory.", "temperature.", "pci.", "clocks."];
    if first.contains("timestamp") && smi_fields.iter().any(|f| first.contains(f)) {
        return Some("this nvidia-smi log has no power column: log with --query-gpu=timestamp,index,power.draw,... --format=csv".into());
    }
    const DAYS: [&str; 7] = ["mon ", "tue ", "wed ", "thu ", "fri ", "sat ", "sun "];
    let second = text.lines().nth(1).unwrap_or("");
    let lead = second.split(',').next().unwrap_or("").trim();
    let slashed = lead.len() >= 19 && lead.as_bytes()[4] == b'/' && lead.as_bytes()[7] == b'/';
    if DAYS.iter().any(|d| first.starts_with(d)) && slashed {
        return Some(format!("this nvidia-smi log starts with a `date` line ('{}') before rows without a header: remove that line and list the columns in [telemetry] nvidia_smi_columns", first.trim()));
    }
    None
}

/// A Parquet file's kind by its columns: node power when it has no device column.
fn parquet_kind(f: &InputFile) -> Kind {
    use polars::prelude::{LazyFrame, PlRefPath, ScanArgsParquet};
    let names: Option<Vec<String>> = PlRefPath::try_from_path(&f.path)
        .ok()
        .and_then(|p| LazyFrame::scan_parquet(p, ScanArgsParquet::default()).ok())
        .and_then(|mut lf| lf.collect_schema().ok())
        .map(|s| s.iter_names().map(|n| n.to_string()).collect());
    match names {
        Some(n) if generic::resolve_node_columns(&n).is_ok() => Kind::NodeParquet,
        _ => Kind::GenericParquet,
    }
}

/// A telemetry file with its detected format, or a live source already fetched.
#[derive(Debug, Clone)]
pub struct Source {
    pub file: InputFile,
    pub kind: Kind,
    /// The fetched samples of a live source (a server read once at the start of the run); a
    /// file's samples are read from the file at each pass.
    pub live: Option<std::sync::Arc<dyn LiveSource>>,
}

/// A source fetched from a server once per run and streamed to compute like a file: a new
/// server is one file in ingest/ implementing this.
pub trait LiveSource: std::fmt::Debug + Send + Sync {
    /// Stream the samples as batches (and energy counters into `out`); the records read.
    fn scan(
        &self,
        nodes: &mut Nodes,
        out: &mut ScanOutput,
        on_batch: &mut dyn FnMut(&SampleBatch),
    ) -> Result<u64>;
    /// The samples held, for the progress bar.
    fn expected_rows(&self) -> u64;
}

impl Source {
    /// A live source named `shown` (its servers).
    pub fn live(shown: String, kind: Kind, fetched: std::sync::Arc<dyn LiveSource>) -> Source {
        Source {
            file: InputFile {
                path: std::path::PathBuf::new(),
                shown,
            },
            kind,
            live: Some(fetched),
        }
    }
}

/// Everything the readers found besides samples.
#[derive(Debug, Default)]
pub struct ScanOutput {
    pub counters: Vec<CounterReading>,
    pub findings: Vec<Finding>,
}

/// Read one source, handing each batch of samples to `on_batch`. Returns rows read.
pub fn scan(
    src: &Source,
    cfg: &Config,
    nodes: &mut Nodes,
    out: &mut ScanOutput,
    on_batch: &mut dyn FnMut(&SampleBatch),
) -> Result<u64> {
    match src.kind {
        Kind::GenericCsv | Kind::GenericParquet => generic::scan(src, cfg, nodes, out, on_batch),
        Kind::NvidiaSmi => nvidia_smi::scan(src, cfg, nodes, out, on_batch),
        Kind::DcgmText => dcgm::scan_text(src, nodes, out, on_batch),
        Kind::DcgmJson => dcgm::scan_json(src, nodes, out, on_batch),
        Kind::NodeCsv | Kind::NodeParquet => generic::scan(src, cfg, nodes, out, on_batch),
        Kind::NodeWide => node_power::scan(src, cfg, nodes, out, on_batch),
        Kind::WandbEvents => wandb::scan(src, cfg, nodes, out, on_batch),
        Kind::Prometheus | Kind::Mlflow => match &src.live {
            Some(f) => f.scan(nodes, out, on_batch),
            None => Ok(0),
        },
    }
}

/// Detect every telemetry input; files in no known format become error findings.
pub fn sources(
    cfg: &Config,
    inputs: &mut Vec<InputRecord>,
    findings: &mut Vec<Finding>,
) -> Result<Vec<Source>> {
    let mut out = Vec::new();
    for f in &cfg.inputs.telemetry {
        match detect(f, cfg)? {
            Ok(kind) => out.push(Source {
                file: f.clone(),
                kind,
                live: None,
            }),
            Err(msg) => {
                findings.push(
                    Finding::error(
                        codes::TELEMETRY_UNRECOGNISED,
                        format!("{msg}; the file is not used"),
                    )
                    .at(&f.shown, Some(1)),
                );
                let (_, rec) = super::read_input_meta(f, "telemetry")?;
                inputs.push(rec);
            }
        }
    }
    Ok(out)
}

/// Rows a source is expected to hold, for the progress bar: exact for Parquet (metadata),
/// estimated from the mean line length of the first 64 KiB for text files.
pub fn expected_rows(src: &Source) -> Option<u64> {
    use std::io::Read;
    if let Some(f) = &src.live {
        return Some(f.expected_rows());
    }
    if src.kind == Kind::GenericParquet {
        let f = std::fs::File::open(&src.file.path).ok()?;
        let mut r = <polars::prelude::ParquetReader<std::fs::File> as polars::prelude::SerReader<
            _,
        >>::new(f);
        return r.num_rows().ok().map(|n| n as u64);
    }
    let size = std::fs::metadata(&src.file.path).ok()?.len();
    let mut head = vec![0u8; 64 * 1024];
    let n = std::fs::File::open(&src.file.path)
        .ok()?
        .read(&mut head)
        .ok()?;
    let lines = head[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    (lines > 1).then(|| size * lines / n as u64)
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn digits(b: &[u8]) -> Option<i64> {
    let mut v = 0i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as i64;
    }
    Some(v)
}

/// Fast path for `YYYY-MM-DD[T ]HH:MM:SS[.fff][Z|±HH:MM]`: epoch milliseconds, and whether the
/// text had a zone. `None` for anything else (the caller falls back to the general parser).
pub fn fast_timestamp(s: &str) -> Option<(i64, bool)> {
    let b = s.trim().as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (h, mi, sec) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut ms = 0i64;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &b[start..i];
        if frac.is_empty() {
            return None;
        }
        let take = frac.len().min(3);
        ms = digits(&frac[..take])? * 10i64.pow(3 - take as u32);
    }
    let mut offset_min = 0i64;
    let zoned = match &b[i..] {
        [] => false,
        [b'Z'] | [b'z'] => true,
        rest if rest == b" UTC" || rest == b"UTC" => true,
        [sign @ (b'+' | b'-'), hh1, hh2, b':', mm1, mm2] => {
            let hh = digits(&[*hh1, *hh2])?;
            let mm = digits(&[*mm1, *mm2])?;
            offset_min = (hh * 60 + mm) * if *sign == b'-' { -1 } else { 1 };
            true
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some((
        ((days * 24 + h) * 60 + mi - offset_min) * 60_000 + sec * 1000 + ms,
        zoned,
    ))
}

/// Parse a telemetry timestamp: the fast path, else the general parser (naive = input zone).
pub fn parse_ms(s: &str, cfg: &Config) -> std::result::Result<(i64, bool), String> {
    match fast_timestamp(s) {
        Some((ms, true)) => Ok((ms, true)),
        Some((_, false)) | None => {
            let st = crate::timeutil::parse_timestamp(s, &cfg.timezone)?;
            Ok((st.utc.timestamp_millis(), !st.naive))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_timestamps_agree_with_chrono() {
        for s in [
            "2026-07-01 00:00:09.078Z",
            "2026-07-01T00:00:09Z",
            "2025-09-08T17:26:50+08:00",
            "2024-02-29T23:59:59.999-05:30",
            "1999-12-31 23:00:00 UTC",
        ] {
            let (ms, zoned) = fast_timestamp(s).unwrap_or_else(|| panic!("{s}"));
            assert!(zoned);
            let want = crate::timeutil::parse_timestamp(s, &crate::timeutil::InputZone::Utc)
                .unwrap()
                .utc
                .timestamp_millis();
            assert_eq!(ms, want, "{s}");
        }
        assert_eq!(
            fast_timestamp("2026-07-01 00:00:00"),
            Some((1_782_864_000_000, false))
        );
        assert!(fast_timestamp("2026/07/01 00:00:00").is_none());
        assert!(fast_timestamp("2026-13-01 00:00:00Z").is_none());
    }
}
