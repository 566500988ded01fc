//! Power telemetry: detects each file's format and dispatches it to its reader (generic
//! CSV/Parquet, nvidia-smi logs, DCGM exporter scrapes and query_range exports, node power,
//! W&B events, live sources); the batch types they all yield are in `samples`.

use super::samples::{Kind, Nodes, SampleBatch, SampleReader, ScanOutput, Source};
use super::{amd_smi, dcgm, generic, node_power, nvidia_smi, wandb, InputRecord};
use crate::config::{Config, InputFile};
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
/// Decide the format of a telemetry file from its name and first bytes.
pub(crate) fn detect(f: &InputFile, cfg: &Config) -> Result<std::result::Result<Kind, String>> {
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
        // hl-smi's query fields are nvidia-smi's, with Gaudi's own (`*.aip`, `module_id`).
        let gaudi = first.contains(".aip") || first.contains("module_id");
        return Ok(Ok(if gaudi { Kind::HlSmi } else { Kind::NvidiaSmi }));
    }
    if amd_smi::is_amd(&first) {
        return Ok(Ok(Kind::AmdSmi));
    }
    // `--format=csv,noheader`: a first field like 2026/07/14 08:12:53.353.
    let lead = first.split(',').next().unwrap_or("").trim();
    if lead.len() >= 19 && lead.as_bytes()[4] == b'/' && lead.as_bytes()[7] == b'/' {
        return Ok(if cfg.telemetry.nvidia_smi_columns.is_some() {
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
    if generic::resolve_counter_columns(&cols).is_ok() {
        return Ok(Ok(Kind::CounterCsv));
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
        "not a telemetry format greenledger reads (first line: '{}'); expected generic samples (timestamp,node,device,power_w), node power (timestamp,node,power_w), energy counters (timestamp,node,device,energy_mj), an nvidia-smi --query-gpu CSV with power.draw, or a DCGM exporter scrape / query_range JSON",
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
        Some(n) if generic::resolve_counter_columns(&n).is_ok() => Kind::CounterParquet,
        _ => Kind::GenericParquet,
    }
}

/// The reader of each kind of telemetry file.
pub(crate) fn reader(kind: Kind) -> &'static dyn SampleReader {
    match kind {
        Kind::GenericCsv
        | Kind::GenericParquet
        | Kind::NodeCsv
        | Kind::NodeParquet
        | Kind::CounterCsv
        | Kind::CounterParquet => &generic::Generic,
        Kind::NvidiaSmi | Kind::HlSmi => &nvidia_smi::NvidiaSmi,
        Kind::AmdSmi => &amd_smi::AmdSmi,
        Kind::DcgmText => &dcgm::DcgmText,
        Kind::DcgmJson => &dcgm::DcgmJson,
        Kind::NodeWide => &node_power::NodeWide,
        Kind::WandbEvents => &wandb::WandbEvents,
        Kind::Prometheus | Kind::Mlflow => &NothingFetched,
    }
}

/// A live kind whose server gave nothing: no samples.
struct NothingFetched;

impl SampleReader for NothingFetched {
    fn scan(
        &self,
        _: &Source,
        _: &Config,
        _: &mut Nodes,
        _: &mut ScanOutput,
        _: &mut dyn FnMut(&SampleBatch),
    ) -> Result<u64> {
        Ok(0)
    }
}

/// Read one source (a file by its kind's reader, a live source from what was fetched), handing
/// each batch of samples to `on_batch`. Returns rows read.
pub(crate) fn scan(
    src: &Source,
    cfg: &Config,
    nodes: &mut Nodes,
    out: &mut ScanOutput,
    on_batch: &mut dyn FnMut(&SampleBatch),
) -> Result<u64> {
    match &src.live {
        Some(live) => live.scan(nodes, out, on_batch),
        None => reader(src.kind).scan(src, cfg, nodes, out, on_batch),
    }
}

/// Detect every telemetry input; files in no known format become error findings.
pub(crate) fn sources(
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
pub(crate) fn expected_rows(src: &Source) -> Option<u64> {
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

/// Telemetry files (`--telemetry`, `[inputs] telemetry`): detected here, streamed by compute.
pub(crate) struct TelemetryReader;

impl super::Reader for TelemetryReader {
    fn name(&self) -> &'static str {
        "telemetry files"
    }
    fn given(&self, cfg: &Config) -> bool {
        !cfg.inputs.telemetry.is_empty()
    }
    fn read(&self, cx: &super::Cx, out: &mut super::Ingested) -> Result<()> {
        let found = sources(cx.cfg, &mut out.inputs, &mut out.findings)?;
        out.telemetry.extend(found);
        Ok(())
    }
}
