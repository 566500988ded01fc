//! The types every telemetry reader shares: interned node names, sample batches, counter
//! readings, the source kinds, the live-source trait, and timestamp parsing. Readers import
//! these; `telemetry` (detection and dispatch) imports the readers, so ingest has no circle.

use crate::config::{Config, InputFile};
use crate::error::Result;
use crate::findings::Finding;
use crate::hostlist::node_key;
use std::collections::HashMap;

/// Node names, interned: samples carry a `u32` id. Names are compared in [`node_key`] form.
#[derive(Debug, Clone, Default)]
pub(crate) struct Nodes {
    pub names: Vec<String>,
    index: HashMap<String, u32>,
}

impl Nodes {
    pub(crate) fn id(&mut self, name: &str) -> u32 {
        let key = node_key(name);
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(key.clone());
        self.index.insert(key, i);
        i
    }
    pub(crate) fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}

/// The device number of whole-node power samples (BMC: Redfish, IPMI DCMI, node_exporter
/// hwmon), which measure the server with its accelerators.
pub(crate) const NODE_DEVICE: u32 = u32::MAX;

/// A batch of power samples: parallel columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SampleBatch {
    pub node: Vec<u32>,
    pub device: Vec<u32>,
    /// Milliseconds since the Unix epoch, UTC.
    pub t_ms: Vec<i64>,
    pub power_w: Vec<f64>,
}

impl SampleBatch {
    pub(crate) fn len(&self) -> usize {
        self.t_ms.len()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.t_ms.is_empty()
    }
    pub(crate) fn push(&mut self, node: u32, device: u32, t_ms: i64, power_w: f64) {
        self.node.push(node);
        self.device.push(device);
        self.t_ms.push(t_ms);
        self.power_w.push(power_w);
    }
}

/// One reading of a cumulative energy counter (DCGM total energy, millijoules since boot).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CounterReading {
    pub node: u32,
    pub device: u32,
    pub t_ms: i64,
    pub mj: f64,
}

/// Which reader a telemetry file needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    GenericCsv,
    GenericParquet,
    NvidiaSmi,
    /// Intel Gaudi `hl-smi -Q ... -f csv`: nvidia-smi's layout, read by its reader.
    HlSmi,
    /// AMD `amd-smi monitor` / `amd-smi metric` and `rocm-smi --showpower` CSV logs.
    AmdSmi,
    DcgmText,
    DcgmJson,
    /// Whole-node power: `timestamp, node, power_w` (CSV or Parquet, no device column) and
    /// the wide layout of BMC pollers (a timestamp, then one watts column per node).
    NodeCsv,
    NodeParquet,
    NodeWide,
    /// Energy counters in the long layout: `timestamp, node, device, energy_mj` (or `energy_j`),
    /// CSV or Parquet, as a data lake holds DCGM's or amd-smi's counters (and the pushdown
    /// engines read them).
    CounterCsv,
    CounterParquet,
    /// Weights & Biases `wandb-events.jsonl`.
    WandbEvents,
    /// DCGM series fetched from a Prometheus-compatible server (no file).
    Prometheus,
    /// GPU power series of MLflow runs (system metrics), fetched from a tracking server.
    Mlflow,
}

impl Kind {
    /// The reader's short name, as a job's energy source says it.
    pub(crate) fn reader(&self) -> &'static str {
        match self {
            Kind::GenericCsv | Kind::GenericParquet => "power samples",
            Kind::NvidiaSmi => "nvidia-smi",
            Kind::HlSmi => "hl-smi",
            Kind::AmdSmi => "amd-smi",
            Kind::DcgmText | Kind::DcgmJson => "DCGM",
            Kind::NodeCsv | Kind::NodeParquet | Kind::NodeWide => "node power",
            Kind::CounterCsv | Kind::CounterParquet => "energy counters",
            Kind::WandbEvents => "W&B",
            Kind::Prometheus => "Prometheus (DCGM)",
            Kind::Mlflow => "MLflow system metrics",
        }
    }

    /// Whole-node power rather than accelerator power.
    pub(crate) fn whole_node(&self) -> bool {
        matches!(self, Kind::NodeCsv | Kind::NodeParquet | Kind::NodeWide)
    }

    /// Energy counters in the long layout rather than power.
    pub(crate) fn counters(&self) -> bool {
        matches!(self, Kind::CounterCsv | Kind::CounterParquet)
    }
}

/// A telemetry file with its detected format, or a live source already fetched.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub file: InputFile,
    pub kind: Kind,
    /// The fetched samples of a live source (a server read once at the start of the run); a
    /// file's samples are read from the file at each pass.
    pub live: Option<std::sync::Arc<dyn LiveSource>>,
}

impl Source {
    /// The file's name without its extension: the node of a log that names none.
    pub(crate) fn stem(&self) -> String {
        self.file
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "node".into())
    }

    /// The file's bytes; `what` names it in the error ("read the nvidia-smi log").
    pub(crate) fn bytes(&self, what: &str) -> crate::error::Result<Vec<u8>> {
        std::fs::read(&self.file.path)
            .map_err(|e| crate::error::Error::io(&self.file.shown, what, e))
    }
}

/// The reader of one telemetry file format: streams a source's samples to compute as batches
/// (and energy counters into `out`), and returns the records read. Compute may scan a source
/// more than once (the readers hold nothing between scans). Every format implements it, and
/// `telemetry::reader` names the reader of each [`Kind`]: a new format is one file in ingest/
/// implementing this, its detection and one line there.
pub(crate) trait SampleReader: Sync {
    fn scan(
        &self,
        src: &Source,
        cfg: &Config,
        nodes: &mut Nodes,
        out: &mut ScanOutput,
        on_batch: &mut dyn FnMut(&SampleBatch),
    ) -> Result<u64>;
}

/// A source fetched from a server once per run and streamed to compute like a file: a new
/// server is one file in ingest/ implementing this.
pub(crate) trait LiveSource: std::fmt::Debug + Send + Sync {
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
    pub(crate) fn live(
        shown: String,
        kind: Kind,
        fetched: std::sync::Arc<dyn LiveSource>,
    ) -> Source {
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
pub(crate) struct ScanOutput {
    pub counters: Vec<CounterReading>,
    pub findings: Vec<Finding>,
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

/// Days in month `m` (1-12) of year `y` (proleptic Gregorian).
fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
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
pub(crate) fn fast_timestamp(s: &str) -> Option<(i64, bool)> {
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
    // Anything the calendar does not have (February 30th, a leap second) goes to the general
    // parser, which refuses an impossible date rather than rolling it into the next month.
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59
    {
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
pub(crate) fn parse_ms(s: &str, cfg: &Config) -> std::result::Result<(i64, bool), String> {
    match fast_timestamp(s) {
        Some((ms, true)) => Ok((ms, true)),
        Some((_, false)) | None => {
            let st = crate::timeutil::parse_timestamp(s, &cfg.inputs.timezone)?;
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

    #[test]
    fn impossible_dates_are_refused_not_rolled_over() {
        let (cfg, _) = crate::config::Config::load(&crate::cli::InputArgs::default()).unwrap();
        for s in [
            "2026-02-30T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-04-31T12:00:00+02:00",
            "2100-02-29 00:00:00Z",
        ] {
            assert!(fast_timestamp(s).is_none(), "{s}");
            assert!(parse_ms(s, &cfg).is_err(), "{s} was accepted");
        }
        // Leap days that exist, and the last day of each month, are read.
        for (s, want) in [
            ("2024-02-29T00:00:00Z", 1_709_164_800_000),
            ("2000-02-29T00:00:00Z", 951_782_400_000),
            ("2026-04-30T00:00:00Z", 1_777_507_200_000),
        ] {
            assert_eq!(fast_timestamp(s), Some((want, true)), "{s}");
        }
        // A leap second is no second of the fast path; chrono decides.
        assert!(fast_timestamp("2016-12-31T23:59:60Z").is_none());
    }
}
