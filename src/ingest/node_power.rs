//! Whole-node power in the wide layout BMC pollers write (Redfish, IPMI DCMI scripts): a
//! timestamp column, then one watts column per node (`gpu01`, `gpu01_power_w`, `gpu01 (W)`).
//! Samples are the node's, with its accelerators (device [`NODE_DEVICE`]); zero or empty
//! readings are gaps, not zero watts. The long layout (`timestamp, node, power_w`) is read by
//! the generic reader.

use super::samples::{parse_ms, Nodes, SampleBatch, SampleReader, ScanOutput, Source, NODE_DEVICE};
use crate::config::Config;
use crate::error::Result;
use crate::findings::{codes, Finding};

/// Names of the time column.
const TIME: [&str; 5] = ["timestamp", "time", "ts", "datetime", "date"];

/// The node of a wide column: its name without a watts suffix.
pub(crate) fn node_of(header: &str) -> String {
    let h = header.trim();
    let lower = h.to_ascii_lowercase();
    for suffix in [
        "_power_w", "_power", "_watts", "_w", " (w)", " [w]", "(w)", "[w]",
    ] {
        if lower.ends_with(suffix) && lower.len() > suffix.len() {
            return h[..h.len() - suffix.len()].trim().to_string();
        }
    }
    h.to_string()
}

/// Whether a header and its first data row look like the wide layout: a time column first,
/// then at least one column whose first value is a number.
pub(crate) fn is_wide(header: &[String], first_row: &[String]) -> bool {
    // Columns other tools write beside a timestamp, which are no node's watts.
    const NOT_NODES: [&str; 12] = [
        "index",
        "name",
        "uuid",
        "gpu",
        "device",
        "node",
        "host",
        "hostname",
        "utilization",
        "memory",
        "temperature",
        "power.draw",
    ];
    let named = |h: &String| {
        let l = h.trim().to_ascii_lowercase();
        !l.is_empty() && !NOT_NODES.iter().any(|n| l.starts_with(n))
    };
    let number_or_empty = |v: &String| v.trim().is_empty() || v.trim().parse::<f64>().is_ok();
    header.len() >= 2
        && TIME.contains(&header[0].trim().to_ascii_lowercase().as_str())
        && header[1..].iter().all(named)
        && first_row.len() == header.len()
        && first_row[0].contains([':', '-'])
        && first_row[1..].iter().all(number_or_empty)
        && first_row[1..].iter().any(|v| !v.trim().is_empty())
}

/// Read a wide node-power file into one batch.
pub(crate) struct NodeWide;

impl SampleReader for NodeWide {
    fn scan(
        &self,
        src: &Source,
        cfg: &Config,
        nodes: &mut Nodes,
        out: &mut ScanOutput,
        on_batch: &mut dyn FnMut(&SampleBatch),
    ) -> Result<u64> {
        let shown = src.file.shown.as_str();
        let bytes = src.bytes("read the node power file")?;
        let mut rdr = super::csv_reader(&bytes);
        let header = super::csv_header(&mut rdr, shown)?;
        let ids: Vec<u32> = header
            .iter()
            .skip(1)
            .map(|h| nodes.id(&node_of(h)))
            .collect();
        let mut batch = SampleBatch::default();
        let (mut rows, mut bad) = (0u64, Vec::new());
        for (i, r) in rdr.records().enumerate() {
            rows += 1;
            let line = i as u64 + 2;
            let Ok(r) = r else {
                bad.push(line);
                continue;
            };
            let Some(Ok((t, _))) = r.get(0).map(|t| parse_ms(t, cfg)) else {
                bad.push(line);
                continue;
            };
            for (k, id) in ids.iter().enumerate() {
                // An empty or unreadable value is NaN: the integrator counts it as a gap.
                let w = r
                    .get(k + 1)
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(f64::NAN);
                batch.push(*id, NODE_DEVICE, t, w);
            }
        }
        if !bad.is_empty() {
            out.findings.push(
                Finding::error(
                    codes::TELEMETRY_BAD_ROW,
                    format!(
                        "{} rows have no readable timestamp and are not used (first at line {})",
                        bad.len(),
                        bad[0]
                    ),
                )
                .at(shown, Some(bad[0])),
            );
        }
        on_batch(&batch);
        Ok(rows)
    }
}
