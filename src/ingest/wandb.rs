//! Weights & Biases system metrics, `wandb-events.jsonl`: one JSON object per line with
//! `_timestamp` (epoch seconds) and `system.gpu.<N>.powerWatts`. The node is `[telemetry]
//! node`, else the run's folder (`run-.../files/wandb-events.jsonl` -> `run-...`).

use super::samples::{Nodes, SampleBatch, SampleReader, ScanOutput, Source};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};

/// Whether the first line looks like W&B system events.
pub(crate) fn is_events(first_line: &str) -> bool {
    first_line.trim_start().starts_with('{')
        && first_line.contains("\"_timestamp\"")
        && first_line.contains("\"system.")
}

/// The node a W&B run ran on: configured, else the run's folder name.
fn node_of(src: &Source, cfg: &Config) -> String {
    if let Some(n) = &cfg.telemetry.node {
        return n.clone();
    }
    let parent = src.file.path.parent();
    let dir = match parent
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy())
    {
        Some(n) if n == "files" => parent
            .and_then(|p| p.parent())
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_string()),
        Some(n) => Some(n.to_string()),
        None => None,
    };
    dir.unwrap_or_else(|| "wandb".into())
}

/// Read the events into one batch: a sample per GPU power value of each line.
pub(crate) struct WandbEvents;

impl SampleReader for WandbEvents {
    fn scan(
        &self,
        src: &Source,
        cfg: &Config,
        nodes: &mut Nodes,
        out: &mut ScanOutput,
        on_batch: &mut dyn FnMut(&SampleBatch),
    ) -> Result<u64> {
        let shown = src.file.shown.as_str();
        let text = std::fs::read_to_string(&src.file.path)
            .map_err(|e| Error::io(shown, "read the W&B events", e))?;
        let node_name = node_of(src, cfg);
        let node = nodes.id(&node_name);
        let mut batch = SampleBatch::default();
        let (mut rows, mut bad) = (0u64, Vec::new());
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            rows += 1;
            let v: serde_json::Value = match serde_json::from_str(line) {
                Ok(v) => v,
                Err(_) => {
                    bad.push(i as u64 + 1);
                    continue;
                }
            };
            let Some(t) = v.get("_timestamp").and_then(|t| t.as_f64()) else {
                bad.push(i as u64 + 1);
                continue;
            };
            let Some(obj) = v.as_object() else { continue };
            for (k, w) in obj {
                let Some(rest) = k.strip_prefix("system.gpu.") else {
                    continue;
                };
                let Some((gpu, "powerWatts")) = rest.split_once('.') else {
                    continue;
                };
                let (Ok(gpu), Some(w)) = (gpu.parse::<u32>(), w.as_f64()) else {
                    continue;
                };
                batch.push(node, gpu, (t * 1000.0).round() as i64, w);
            }
        }
        if !bad.is_empty() {
            out.findings.push(
            Finding::error(
                codes::TELEMETRY_BAD_ROW,
                format!(
                    "{} lines are not JSON events with a _timestamp and are not used (first at line {})",
                    bad.len(),
                    bad[0]
                ),
            )
            .at(shown, Some(bad[0])),
        );
        }
        if cfg.telemetry.node.is_none() {
            out.findings.push(
            Finding::info(
                codes::TELEMETRY_NODE_FROM_NAME,
                format!("W&B events carry no host name: the node is taken from the run's folder, '{node_name}' (set [telemetry] node to name it)"),
            )
            .at(shown, None),
        );
        }
        on_batch(&batch);
        Ok(rows)
    }
}
