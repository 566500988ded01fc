//! nvidia-smi `--query-gpu=... --format=csv` logs: with or without units, `, ` separators,
//! bracketed sentinels (`[N/A]`, `[Not Supported]`, ...) and bare `N/A` as missing, repeated
//! header lines from appended logs, a partial last sample. Power from `power.draw.average`, else
//! `power.draw`, else `power.draw.instant` (a finding says which was used).

use super::samples::{parse_ms, Nodes, SampleBatch, SampleReader, ScanOutput, Source};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use std::collections::{BTreeMap, BTreeSet};

/// The power fields, in order of preference.
pub(crate) const POWER_FIELDS: [&str; 3] =
    ["power.draw.average", "power.draw", "power.draw.instant"];
/// Columns that may number the GPU on its node.
const DEVICE_FIELDS: [&str; 4] = ["index", "gpu", "gpu_index", "minor_number"];

/// A header name without its unit suffix: `power.draw [W]` -> `power.draw`.
pub(crate) fn field_name(h: &str) -> String {
    let h = h.trim().trim_start_matches('\u{feff}');
    h.split('[').next().unwrap_or(h).trim().to_ascii_lowercase()
}

/// A cell's value, or `None` for sentinels: any `[...]`, `N/A`, `-`, empty.
pub(crate) fn cell(v: &str) -> Option<&str> {
    let v = v.trim();
    if v.is_empty() || v.starts_with('[') || v.eq_ignore_ascii_case("n/a") || v == "-" {
        None
    } else {
        Some(v)
    }
}

/// A number with an optional unit after it (`19.46 W`, `4096 MiB`).
pub(crate) fn number(v: &str) -> Option<f64> {
    let v = cell(v)?;
    let num = v.split_whitespace().next()?;
    num.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// The columns of a log, located once.
struct Columns {
    fields: Vec<String>,
    /// Leading records that are the header (0 or 1).
    skip: usize,
    t_col: usize,
    /// Power columns present, in order of preference.
    power_cols: Vec<(usize, &'static str)>,
    host_col: Option<usize>,
    /// The column numbering GPUs on their node, and its name.
    device_col: Option<(usize, &'static str)>,
}

/// What the rows gave besides samples: the power fields used, and the rows set aside.
#[derive(Default)]
struct Tally {
    used: BTreeMap<&'static str, u64>,
    missing_power: Vec<u64>,
    bad_time: Vec<u64>,
    /// Rows whose GPU index is not a whole number: which GPU they are cannot be told.
    bad_device: Vec<u64>,
    short: Vec<u64>,
    /// Header lines repeated inside the data (appended logs).
    repeated_headers: usize,
    naive: u64,
}

/// Read an nvidia-smi log into one batch of samples (node from a hostname column, else the
/// file's name). Returns the number of data rows.
pub(crate) struct NvidiaSmi;

impl SampleReader for NvidiaSmi {
    fn scan(
        &self,
        src: &Source,
        cfg: &Config,
        nodes: &mut Nodes,
        out: &mut ScanOutput,
        on_batch: &mut dyn FnMut(&SampleBatch),
    ) -> Result<u64> {
        let shown = src.file.shown.as_str();
        let bytes = src.bytes("read the nvidia-smi log")?;
        let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
        let records = records(body, shown, out);
        let Some((_, first)) = records.first() else {
            return Err(Error::in_file(shown, "the nvidia-smi log is empty"));
        };
        let mut cols = columns(first, cfg, shown)?;
        let stem = src.stem();
        let data: Vec<&(u64, csv::StringRecord)> = records
            .iter()
            .skip(cols.skip)
            .filter(|(_, r)| r.get(cols.t_col).map(field_name).as_deref() != Some("timestamp"))
            .collect();
        let repeated_headers = records.len() - cols.skip - data.len();
        cols.device_col = device_column(&cols.fields, &data);
        if let (Some((_, chosen)), true) =
            (cols.device_col, cols.fields.iter().any(|f| f == "index"))
        {
            if chosen != "index" {
                out.findings.push(
                Finding::warning(codes::TELEMETRY_DEVICE_COLUMN, format!("column 'index' holds one value while '{chosen}' varies; GPUs are numbered by '{chosen}'")).at(shown, Some(1)),
            );
            }
        }
        let mut batch = SampleBatch::default();
        let mut tally = samples(&data, &cols, &stem, cfg, nodes, &mut batch);
        tally.repeated_headers = repeated_headers;
        tally_findings(&tally, shown, cfg, &mut out.findings);
        if cols.host_col.is_none() {
            out.findings.push(
                Finding::info(
                    codes::TELEMETRY_NODE_FROM_NAME,
                    format!("no hostname column: the node is taken from the file name, '{stem}'"),
                )
                .at(shown, None),
            );
        }
        on_batch(&batch);
        Ok(data.len() as u64)
    }
}

/// Every CSV record with its line; unreadable lines are warnings.
fn records(body: &[u8], shown: &str, out: &mut ScanOutput) -> Vec<(u64, csv::StringRecord)> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(body);
    let mut records = Vec::new();
    let mut lines = super::LineCounter::default();
    for r in rdr.records() {
        match r {
            Ok(r) => {
                let line = r
                    .position()
                    .map(|p| lines.line_at(body, p.byte() as usize))
                    .unwrap_or(0);
                records.push((line, r));
            }
            Err(e) => {
                out.findings.push(
                    Finding::warning(
                        codes::TELEMETRY_BAD_ROW,
                        format!("unreadable line ({e}); skipped"),
                    )
                    .at(shown, None),
                );
            }
        }
    }
    records
}

/// The columns, from the header line, else (a log written with `noheader`) from
/// `[telemetry] nvidia_smi_columns`. A timestamp and a power column are required.
fn columns(first: &csv::StringRecord, cfg: &Config, shown: &str) -> Result<Columns> {
    let has_header = first
        .iter()
        .any(|h| field_name(h).starts_with("power.draw") || field_name(h) == "timestamp");
    let fields: Vec<String> = match (&cfg.telemetry.nvidia_smi_columns, has_header) {
        (Some(cols), false) => cols.iter().map(|c| field_name(c)).collect(),
        _ => first.iter().map(field_name).collect(),
    };
    let col = |name: &str| fields.iter().position(|f| f == name);
    let t_col = col("timestamp").ok_or_else(|| {
        Error::in_file(shown, "no 'timestamp' column")
            .at_line(1)
            .hint("log with --query-gpu=timestamp,index,power.draw,... --format=csv")
    })?;
    let power_cols: Vec<(usize, &'static str)> = POWER_FIELDS
        .iter()
        .filter_map(|f| col(f).map(|c| (c, *f)))
        .collect();
    if power_cols.is_empty() {
        return Err(Error::in_file(shown, "no power.draw column").at_line(1));
    }
    let host_col = col("hostname")
        .or_else(|| col("host"))
        .or_else(|| col("node"));
    Ok(Columns {
        skip: usize::from(has_header),
        t_col,
        power_cols,
        host_col,
        device_col: None,
        fields,
    })
}

/// The device column: the candidate with the most distinct values (a mislabelled constant
/// `index` loses to a `gpu` column that varies).
fn device_column(
    fields: &[String],
    data: &[&(u64, csv::StringRecord)],
) -> Option<(usize, &'static str)> {
    let mut device_col = None;
    let mut best = 0usize;
    for name in DEVICE_FIELDS {
        if let Some(c) = fields.iter().position(|f| f == name) {
            let distinct: BTreeSet<&str> = data
                .iter()
                .filter_map(|(_, r)| r.get(c).and_then(cell))
                .collect();
            if distinct.len() > best {
                best = distinct.len();
                device_col = Some((c, name));
            }
        }
    }
    device_col
}

/// The data rows as samples: rows of the wrong width, without a readable time or without a
/// power value are tallied, not used.
fn samples(
    data: &[&(u64, csv::StringRecord)],
    cols: &Columns,
    stem: &str,
    cfg: &Config,
    nodes: &mut Nodes,
    batch: &mut SampleBatch,
) -> Tally {
    let mut tally = Tally::default();
    let mut node_ids: BTreeMap<String, u32> = BTreeMap::new();
    for (line, r) in data {
        if r.len() != cols.fields.len() {
            tally.short.push(*line);
            continue;
        }
        let t = match r.get(cols.t_col).and_then(cell).map(|s| parse_ms(s, cfg)) {
            Some(Ok((ms, zoned))) => {
                if !zoned {
                    tally.naive += 1;
                }
                ms
            }
            _ => {
                tally.bad_time.push(*line);
                continue;
            }
        };
        let Some((p, field)) = cols
            .power_cols
            .iter()
            .find_map(|(c, f)| r.get(*c).and_then(number).map(|p| (p, *f)))
        else {
            tally.missing_power.push(*line);
            continue;
        };
        *tally.used.entry(field).or_default() += 1;
        let host = cols
            .host_col
            .and_then(|c| r.get(c))
            .and_then(cell)
            .unwrap_or(stem)
            .to_string();
        let node = match node_ids.get(&host) {
            Some(&id) => id,
            None => {
                let id = nodes.id(&host);
                node_ids.insert(host, id);
                id
            }
        };
        // Without a device column the log is one GPU's (device 0). With one, the index must be
        // a whole number, as the generic reader requires: a sentinel or text is no GPU 0.
        let device = match cols.device_col {
            None => 0,
            Some((c, _)) => match r.get(c).and_then(cell).map(|v| v.parse::<u32>()) {
                Some(Ok(d)) => d,
                _ => {
                    tally.bad_device.push(*line);
                    continue;
                }
            },
        };
        batch.push(node, device, t, p);
    }
    tally
}

/// Up to ten line numbers, then how many more.
fn line_list(lines: &[u64]) -> String {
    let shown: Vec<String> = lines.iter().take(10).map(|l| l.to_string()).collect();
    let more = if lines.len() > 10 {
        format!(" and {} more", lines.len() - 10)
    } else {
        String::new()
    };
    format!("{}{more}", shown.join(", "))
}

/// Findings of the tally: the power fields used, and each kind of row set aside.
fn tally_findings(t: &Tally, shown: &str, cfg: &Config, findings: &mut Vec<Finding>) {
    if !t.used.is_empty() {
        let list: Vec<String> = t
            .used
            .iter()
            .map(|(f, n)| format!("{f} ({n} samples)"))
            .collect();
        findings.push(
            Finding::info(
                codes::TELEMETRY_POWER_FIELD,
                format!("power read from {}", list.join(", ")),
            )
            .at(shown, None),
        );
    }
    if !t.missing_power.is_empty() {
        findings.push(
            Finding::warning(
                codes::TELEMETRY_BAD_ROW,
                format!(
                    "{} rows have no power value ([N/A] or similar) and are not used (lines {})",
                    t.missing_power.len(),
                    line_list(&t.missing_power)
                ),
            )
            .at(shown, t.missing_power.first().copied()),
        );
    }
    if !t.bad_time.is_empty() {
        findings.push(
            Finding::error(
                codes::TELEMETRY_BAD_ROW,
                format!(
                    "{} rows have an unreadable timestamp and are not used (lines {})",
                    t.bad_time.len(),
                    line_list(&t.bad_time)
                ),
            )
            .at(shown, t.bad_time.first().copied()),
        );
    }
    if !t.bad_device.is_empty() {
        findings.push(
            Finding::error(
                codes::TELEMETRY_BAD_ROW,
                format!(
                    "{} rows have a GPU index that is not a whole number and are not used (lines {}); check the index column",
                    t.bad_device.len(),
                    line_list(&t.bad_device)
                ),
            )
            .at(shown, t.bad_device.first().copied()),
        );
    }
    if !t.short.is_empty() {
        findings.push(
            Finding::warning(codes::TELEMETRY_BAD_ROW, format!("{} rows have a different number of fields than the header and are not used (lines {})", t.short.len(), line_list(&t.short)))
                .at(shown, t.short.first().copied()),
        );
    }
    if t.repeated_headers > 0 {
        findings.push(
            Finding::info(
                codes::TELEMETRY_BAD_ROW,
                format!(
                    "{} repeated header lines (appended logs) skipped",
                    t.repeated_headers
                ),
            )
            .at(shown, None),
        );
    }
    if t.naive > 0 {
        findings.push(
            Finding::warning(codes::TELEMETRY_NAIVE_TIMESTAMP, format!("{} timestamps have no time zone (nvidia-smi writes local time); they were read as {}", t.naive, cfg.inputs.timezone_name))
                .at(shown, None),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_units_and_sentinels() {
        assert_eq!(field_name(" power.draw [W]"), "power.draw");
        assert_eq!(number("19.46 W"), Some(19.46));
        assert_eq!(number(" 631.95"), Some(631.95));
        for s in [
            "[N/A]",
            "N/A",
            "[Not Supported]",
            "[Requested functionality has been deprecated]",
            "-",
            "",
        ] {
            assert_eq!(cell(s), None, "{s}");
        }
    }
}
