//! nvidia-smi `--query-gpu=... --format=csv` logs: with or without units, `, ` separators,
//! bracketed sentinels (`[N/A]`, `[Not Supported]`, ...) and bare `N/A` as missing, repeated
//! header lines from appended logs, a partial last sample. Power from `power.draw.average`, else
//! `power.draw`, else `power.draw.instant` (a finding says which was used).

use super::telemetry::{parse_ms, Nodes, SampleBatch, ScanOutput, Source};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use std::collections::{BTreeMap, BTreeSet};

/// The power fields, in order of preference.
pub const POWER_FIELDS: [&str; 3] = ["power.draw.average", "power.draw", "power.draw.instant"];
/// Columns that may number the GPU on its node.
const DEVICE_FIELDS: [&str; 4] = ["index", "gpu", "gpu_index", "minor_number"];

/// A header name without its unit suffix: `power.draw [W]` -> `power.draw`.
pub fn field_name(h: &str) -> String {
    let h = h.trim().trim_start_matches('\u{feff}');
    h.split('[').next().unwrap_or(h).trim().to_ascii_lowercase()
}

/// A cell's value, or `None` for sentinels: any `[...]`, `N/A`, `-`, empty.
pub fn cell(v: &str) -> Option<&str> {
    let v = v.trim();
    if v.is_empty() || v.starts_with('[') || v.eq_ignore_ascii_case("n/a") || v == "-" {
        None
    } else {
        Some(v)
    }
}

/// A number with an optional unit after it (`19.46 W`, `4096 MiB`).
pub fn number(v: &str) -> Option<f64> {
    let v = cell(v)?;
    let num = v.split_whitespace().next()?;
    num.parse::<f64>().ok().filter(|x| x.is_finite())
}

pub fn scan(
    src: &Source,
    cfg: &Config,
    nodes: &mut Nodes,
    out: &mut ScanOutput,
    on_batch: &mut dyn FnMut(&SampleBatch),
) -> Result<u64> {
    let shown = src.file.shown.as_str();
    let bytes = std::fs::read(&src.file.path)
        .map_err(|e| Error::io(shown, "read the nvidia-smi log", e))?;
    let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
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
    let Some((_, first)) = records.first() else {
        return Err(Error::in_file(shown, "the nvidia-smi log is empty"));
    };
    // A log without a header line takes its columns from [telemetry] nvidia_smi_columns.
    let has_header = first
        .iter()
        .any(|h| field_name(h).starts_with("power.draw") || field_name(h) == "timestamp");
    let fields: Vec<String> = match (&cfg.nvidia_smi_columns, has_header) {
        (Some(cols), false) => cols.iter().map(|c| field_name(c)).collect(),
        _ => first.iter().map(field_name).collect(),
    };
    let skip = usize::from(has_header);
    let col = |name: &str| fields.iter().position(|f| f == name);
    let t_col = col("timestamp").ok_or_else(|| {
        Error::in_file(shown, "no 'timestamp' column")
            .at_line(1)
            .hint("log with --query-gpu=timestamp,index,power.draw,... --format=csv")
    })?;
    let power_cols: Vec<(usize, &str)> = POWER_FIELDS
        .iter()
        .filter_map(|f| col(f).map(|c| (c, *f)))
        .collect();
    if power_cols.is_empty() {
        return Err(Error::in_file(shown, "no power.draw column").at_line(1));
    }
    let host_col = col("hostname")
        .or_else(|| col("host"))
        .or_else(|| col("node"));
    let stem = src
        .file
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "node".into());
    let data: Vec<&(u64, csv::StringRecord)> = records
        .iter()
        .skip(skip)
        .filter(|(_, r)| r.get(t_col).map(field_name).as_deref() != Some("timestamp"))
        .collect();
    let repeated_headers = records.len() - skip - data.len();

    // The device column: the candidate with the most distinct values (a mislabelled constant
    // `index` loses to a `gpu` column that varies).
    let mut device_col = None;
    let mut best = 0usize;
    for name in DEVICE_FIELDS {
        if let Some(c) = col(name) {
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
    if let (Some((_, chosen)), Some(_)) = (device_col, col("index")) {
        if chosen != "index" {
            out.findings.push(
                Finding::warning(codes::TELEMETRY_DEVICE_COLUMN, format!("column 'index' holds one value while '{chosen}' varies; GPUs are numbered by '{chosen}'")).at(shown, Some(1)),
            );
        }
    }

    let mut batch = SampleBatch::default();
    let mut used: BTreeMap<&str, u64> = BTreeMap::new();
    let mut missing_power = Vec::new();
    let mut bad_time = Vec::new();
    let mut short = Vec::new();
    let mut naive = 0u64;
    let mut node_ids: BTreeMap<String, u32> = BTreeMap::new();
    for (line, r) in &data {
        if r.len() != fields.len() {
            short.push(*line);
            continue;
        }
        let t = match r.get(t_col).and_then(cell).map(|s| parse_ms(s, cfg)) {
            Some(Ok((ms, zoned))) => {
                if !zoned {
                    naive += 1;
                }
                ms
            }
            _ => {
                bad_time.push(*line);
                continue;
            }
        };
        let Some((p, field)) = power_cols
            .iter()
            .find_map(|(c, f)| r.get(*c).and_then(number).map(|p| (p, *f)))
        else {
            missing_power.push(*line);
            continue;
        };
        *used.entry(field).or_default() += 1;
        let host = host_col
            .and_then(|c| r.get(c))
            .and_then(cell)
            .unwrap_or(&stem)
            .to_string();
        let node = match node_ids.get(&host) {
            Some(&id) => id,
            None => {
                let id = nodes.id(&host);
                node_ids.insert(host, id);
                id
            }
        };
        let device = device_col
            .and_then(|(c, _)| r.get(c))
            .and_then(cell)
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0);
        batch.push(node, device, t, p);
    }
    let summary = |lines: &[u64]| {
        let shown: Vec<String> = lines.iter().take(10).map(|l| l.to_string()).collect();
        format!(
            "{}{}",
            shown.join(", "),
            if lines.len() > 10 {
                format!(" and {} more", lines.len() - 10)
            } else {
                String::new()
            }
        )
    };
    if !used.is_empty() {
        let list: Vec<String> = used
            .iter()
            .map(|(f, n)| format!("{f} ({n} samples)"))
            .collect();
        out.findings.push(
            Finding::info(
                codes::TELEMETRY_POWER_FIELD,
                format!("power read from {}", list.join(", ")),
            )
            .at(shown, None),
        );
    }
    if !missing_power.is_empty() {
        out.findings.push(
            Finding::warning(
                codes::TELEMETRY_BAD_ROW,
                format!(
                    "{} rows have no power value ([N/A] or similar) and are not used (lines {})",
                    missing_power.len(),
                    summary(&missing_power)
                ),
            )
            .at(shown, missing_power.first().copied()),
        );
    }
    if !bad_time.is_empty() {
        out.findings.push(
            Finding::error(
                codes::TELEMETRY_BAD_ROW,
                format!(
                    "{} rows have an unreadable timestamp and are not used (lines {})",
                    bad_time.len(),
                    summary(&bad_time)
                ),
            )
            .at(shown, bad_time.first().copied()),
        );
    }
    if !short.is_empty() {
        out.findings.push(
            Finding::warning(codes::TELEMETRY_BAD_ROW, format!("{} rows have a different number of fields than the header and are not used (lines {})", short.len(), summary(&short)))
                .at(shown, short.first().copied()),
        );
    }
    if repeated_headers > 0 {
        out.findings.push(
            Finding::info(
                codes::TELEMETRY_BAD_ROW,
                format!("{repeated_headers} repeated header lines (appended logs) skipped"),
            )
            .at(shown, None),
        );
    }
    if naive > 0 {
        out.findings.push(
            Finding::warning(codes::TELEMETRY_NAIVE_TIMESTAMP, format!("{naive} timestamps have no time zone (nvidia-smi writes local time); they were read as {}", cfg.timezone_name))
                .at(shown, None),
        );
    }
    if host_col.is_none() {
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
