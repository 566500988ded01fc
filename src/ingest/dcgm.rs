//! DCGM exporter data: Prometheus text scrapes and Prometheus `query_range` JSON exports.
//! `DCGM_FI_DEV_POWER_USAGE` is a power gauge (W); `DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION` a
//! counter in millijoules since boot (the integrator takes deltas and detects resets).
//! Devices are keyed by (Hostname, gpu); a second UUID under one key is reported.

use super::samples::{CounterReading, Nodes, SampleBatch, SampleReader, ScanOutput, Source};
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use std::collections::BTreeMap;

pub(crate) use crate::config::prometheus::{ENERGY, POWER};

/// Parse `{a="x",b="y"}` label text (escapes `\"`, `\\`, `\n`; `, ` separators tolerated).
pub(crate) fn parse_labels(s: &str) -> std::result::Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == ',' || b[i].is_whitespace()) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && b[i] != '=' {
            i += 1;
        }
        let key: String = b[start..i].iter().collect::<String>().trim().to_string();
        i += 1;
        if i >= b.len() || b[i] != '"' {
            return Err(format!("label '{key}' has no quoted value"));
        }
        i += 1;
        let mut val = String::new();
        while i < b.len() && b[i] != '"' {
            if b[i] == '\\' && i + 1 < b.len() {
                i += 1;
                val.push(match b[i] {
                    'n' => '\n',
                    c => c,
                });
            } else {
                val.push(b[i]);
            }
            i += 1;
        }
        if i >= b.len() {
            return Err(format!("label '{key}' is not closed"));
        }
        i += 1;
        out.insert(key, val);
    }
    Ok(out)
}

/// The device a label set names: (host, gpu index, uuid).
fn device_of(labels: &BTreeMap<String, String>) -> Option<(String, u32, Option<String>)> {
    let host = ["Hostname", "hostname", "instance", "node"]
        .iter()
        .find_map(|k| labels.get(*k))
        .filter(|h| !h.is_empty())?;
    let host = host.split(':').next().unwrap_or(host).to_string();
    let gpu = ["gpu", "GPU", "device_index"]
        .iter()
        .find_map(|k| labels.get(*k))
        .and_then(|g| g.trim().parse::<u32>().ok())?;
    Some((
        host,
        gpu,
        labels.get("UUID").or_else(|| labels.get("uuid")).cloned(),
    ))
}

/// Collects samples and counter readings, and what could not be used.
#[derive(Default)]
struct Collector {
    batch: SampleBatch,
    uuids: BTreeMap<(u32, u32), String>,
    no_device: u64,
    no_time: u64,
    uuid_clash: Vec<String>,
    rows: u64,
}

impl Collector {
    fn add(
        &mut self,
        nodes: &mut Nodes,
        out: &mut ScanOutput,
        metric: &str,
        labels: &BTreeMap<String, String>,
        value: f64,
        t_ms: Option<i64>,
    ) {
        if metric != POWER && metric != ENERGY {
            return;
        }
        self.rows += 1;
        let Some((host, gpu, uuid)) = device_of(labels) else {
            self.no_device += 1;
            return;
        };
        let Some(t) = t_ms else {
            self.no_time += 1;
            return;
        };
        let node = nodes.id(&host);
        if let Some(u) = uuid {
            match self.uuids.get(&(node, gpu)) {
                Some(prev) if prev != &u => self
                    .uuid_clash
                    .push(format!("{host} gpu {gpu}: {prev} and {u}")),
                Some(_) => {}
                None => {
                    self.uuids.insert((node, gpu), u);
                }
            }
        }
        if metric == POWER {
            self.batch.push(node, gpu, t, value);
        } else {
            out.counters.push(CounterReading {
                node,
                device: gpu,
                t_ms: t,
                mj: value,
            });
        }
    }

    fn finish(
        mut self,
        shown: &str,
        out: &mut ScanOutput,
        on_batch: &mut dyn FnMut(&SampleBatch),
    ) -> u64 {
        if self.no_device > 0 {
            out.findings.push(
                Finding::warning(codes::TELEMETRY_BAD_ROW, format!("{} DCGM power/energy samples have no Hostname and gpu labels; they cannot be attributed and are not used", self.no_device))
                    .at(shown, None),
            );
        }
        if self.no_time > 0 {
            out.findings.push(
                Finding::warning(
                    codes::TELEMETRY_NO_TIME,
                    format!("{} DCGM samples carry no timestamp (a single /metrics scrape); they cannot be placed in time and are not used (export with timestamps, or use a query_range JSON)", self.no_time),
                )
                .at(shown, None),
            );
        }
        self.uuid_clash.sort();
        self.uuid_clash.dedup();
        for c in &self.uuid_clash {
            out.findings.push(
                Finding::warning(
                    codes::TELEMETRY_DEVICE_COLUMN,
                    format!(
                        "two GPUs share one (Hostname, gpu) key: {c}; their samples are merged"
                    ),
                )
                .at(shown, None),
            );
        }
        on_batch(&self.batch);
        std::mem::take(&mut self.batch);
        self.rows
    }
}

/// A Prometheus text scrape (several concatenated scrapes with timestamps work too).
pub(crate) struct DcgmText;

impl SampleReader for DcgmText {
    fn scan(
        &self,
        src: &Source,
        _cfg: &crate::config::Config,
        nodes: &mut Nodes,
        out: &mut ScanOutput,
        on_batch: &mut dyn FnMut(&SampleBatch),
    ) -> Result<u64> {
        let shown = src.file.shown.as_str();
        let text = std::fs::read_to_string(&src.file.path)
            .map_err(|e| Error::io(shown, "read the DCGM scrape", e))?;
        let mut c = Collector::default();
        let mut bad = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, labels, rest) = match line.find('{') {
                Some(open) => match line[open..].find('}') {
                    Some(close) => (
                        &line[..open],
                        &line[open + 1..open + close],
                        &line[open + close + 1..],
                    ),
                    None => {
                        bad.push(i as u64 + 1);
                        continue;
                    }
                },
                None => match line.split_once(char::is_whitespace) {
                    Some((n, r)) => (n, "", r),
                    None => {
                        bad.push(i as u64 + 1);
                        continue;
                    }
                },
            };
            let mut parts = rest.split_whitespace();
            let Some(value) = parts.next().and_then(|v| v.parse::<f64>().ok()) else {
                bad.push(i as u64 + 1);
                continue;
            };
            let ts = parts.next().and_then(|t| t.parse::<i64>().ok());
            let Ok(labels) = parse_labels(labels) else {
                bad.push(i as u64 + 1);
                continue;
            };
            c.add(nodes, out, name.trim(), &labels, value, ts);
        }
        if !bad.is_empty() {
            out.findings.push(
                Finding::warning(
                    codes::TELEMETRY_BAD_ROW,
                    format!(
                        "{} lines are not Prometheus samples and are skipped (first at line {})",
                        bad.len(),
                        bad[0]
                    ),
                )
                .at(shown, Some(bad[0])),
            );
        }
        Ok(c.finish(shown, out, on_batch))
    }
}

/// A Prometheus HTTP API `query_range` (matrix) or `query` (vector) JSON export.
pub(crate) struct DcgmJson;

impl SampleReader for DcgmJson {
    fn scan(
        &self,
        src: &Source,
        _cfg: &crate::config::Config,
        nodes: &mut Nodes,
        out: &mut ScanOutput,
        on_batch: &mut dyn FnMut(&SampleBatch),
    ) -> Result<u64> {
        let shown = src.file.shown.as_str();
        let text = std::fs::read_to_string(&src.file.path)
            .map_err(|e| Error::io(shown, "read the DCGM export", e))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            Error::in_file(shown, format!("not valid JSON: {e}")).at_line(e.line() as u64)
        })?;
        let results = v
            .pointer("/data/result")
            .and_then(|r| r.as_array())
            .ok_or_else(|| {
                Error::in_file(
                    shown,
                    "no data.result array: not a Prometheus query_range export",
                )
                .hint("export with /api/v1/query_range?query=DCGM_FI_DEV_POWER_USAGE")
            })?;
        let mut c = Collector::default();
        for series in results {
            let labels: BTreeMap<String, String> = series
                .get("metric")
                .and_then(|m| m.as_object())
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            let metric = labels.get("__name__").cloned().unwrap_or_default();
            let points: Vec<&serde_json::Value> = match (
                series.get("values").and_then(|v| v.as_array()),
                series.get("value"),
            ) {
                (Some(vs), _) => vs.iter().collect(),
                (None, Some(one)) => vec![one],
                _ => Vec::new(),
            };
            for p in points {
                let ts = p
                    .get(0)
                    .and_then(|t| t.as_f64())
                    .map(|s| (s * 1000.0).round() as i64);
                let val = p.get(1).and_then(|x| {
                    x.as_str()
                        .and_then(|s| s.parse::<f64>().ok())
                        .or_else(|| x.as_f64())
                });
                match val {
                    Some(val) => c.add(nodes, out, &metric, &labels, val, ts),
                    None => c.rows += 1,
                }
            }
        }
        Ok(c.finish(shown, out, on_batch))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_labels;

    #[test]
    fn labels_with_escapes_and_loose_separators() {
        let l = parse_labels(r#"gpu="0", UUID="GPU-1",Hostname="h1",modelName="Tesla \"T4\"""#)
            .unwrap();
        assert_eq!(l["gpu"], "0");
        assert_eq!(l["Hostname"], "h1");
        assert_eq!(l["modelName"], "Tesla \"T4\"");
        assert!(parse_labels(r#"gpu=0"#).is_err());
        assert!(parse_labels("").unwrap().is_empty());
    }
}
