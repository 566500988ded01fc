//! AMD Instinct telemetry: `amd-smi monitor --csv` (`timestamp` in epoch seconds in watch mode,
//! `gpu`, `power_usage` W), `amd-smi metric -p [-E] --csv` (`gpu`, `socket_power` W, and with
//! `-E` `total_energy_consumption` in J: an energy counter) and the legacy `rocm-smi --showpower
//! --csv` (`device` as `card0`, `Average Graphics Package Power (W)` or `Current Socket Graphics
//! Package Power (W)`; it writes no time, so the wrapper's prepended `timestamp` column is
//! needed). Bare numbers, `N/A` where missing; a watch-mode log repeats its header after a blank
//! line. The node is the file's `hostname` column, else its name. On dual-die cards (MI250,
//! MI250X) one die reports the card's power and the other 0 or N/A: the card's power is split
//! between its two dies, with a note.

use super::nvidia_smi::{cell, number};
use super::samples::{
    parse_ms, CounterReading, Nodes, SampleBatch, SampleReader, ScanOutput, Source,
};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use std::collections::BTreeMap;

/// Whether a header (lower case) is one of amd-smi's or rocm-smi's power layouts.
pub(crate) fn is_amd(header: &str) -> bool {
    let has = |k: &str| header.split(',').any(|c| c.trim().trim_matches('"') == k);
    (has("gpu") && (has("power_usage") || has("socket_power")))
        || (has("device") && header.contains("graphics package power"))
}

/// The columns of one log.
struct Columns {
    time: usize,
    device: usize,
    power: Option<usize>,
    energy_j: Option<usize>,
    host: Option<usize>,
}

fn columns(header: &[String], shown: &str) -> Result<Columns> {
    let find = |pred: &dyn Fn(&str) -> bool| header.iter().position(|h| pred(h));
    let time = find(&|h| h == "timestamp" || h == "time");
    let device = find(&|h| h == "gpu" || h == "device");
    let power = find(&|h| h == "power_usage")
        .or_else(|| find(&|h| h == "socket_power"))
        .or_else(|| find(&|h| h.starts_with("average graphics package power")))
        .or_else(|| find(&|h| h.contains("graphics package power")));
    let energy_j = find(&|h| h == "total_energy_consumption");
    let host = find(&|h| h == "hostname" || h == "host" || h == "node");
    match (time, device) {
        (Some(time), Some(device)) if power.is_some() || energy_j.is_some() => Ok(Columns {
            time,
            device,
            power,
            energy_j,
            host,
        }),
        (None, _) => Err(Error::in_file(
            shown,
            "this AMD log has no timestamp column: run amd-smi in watch mode (-w SECONDS) or prepend a timestamp to each rocm-smi line",
        )
        .at_line(1)),
        _ => Err(Error::in_file(shown, "this AMD log has no gpu and power columns").at_line(1)),
    }
}

/// A time cell: epoch seconds (or milliseconds) as amd-smi's watch mode writes it, else a
/// timestamp.
fn time_ms(v: &str, cfg: &Config) -> Option<i64> {
    let v = v.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = v.parse().ok()?;
        return Some(if n > 100_000_000_000 { n } else { n * 1000 });
    }
    parse_ms(v, cfg).ok().map(|(ms, _)| ms)
}

/// `card3` or `3`: the device number; anything else is no device.
fn device(v: &str) -> Option<u32> {
    let v = v.trim();
    v.strip_prefix("card").unwrap_or(v).parse().ok()
}

/// One row read: node, device, time, power (None: missing), energy J (None: missing).
type Row = (String, u32, i64, Option<f64>, Option<f64>);

/// The amd-smi and rocm-smi reader.
pub(crate) struct AmdSmi;

impl SampleReader for AmdSmi {
    fn scan(
        &self,
        src: &Source,
        cfg: &Config,
        nodes: &mut Nodes,
        out: &mut ScanOutput,
        on_batch: &mut dyn FnMut(&SampleBatch),
    ) -> Result<u64> {
        let shown = src.file.shown.as_str();
        let bytes = src.bytes("read the AMD log")?;
        let (rows, bad, read) = rows(&bytes, cfg, &src.stem(), shown)?;
        if !bad.is_empty() {
            out.findings.push(
                Finding::warning(
                    codes::TELEMETRY_BAD_ROW,
                    format!(
                        "{} row(s) without a readable time or gpu are not used (first at line {})",
                        bad.len(),
                        bad[0]
                    ),
                )
                .at(shown, Some(bad[0])),
            );
        }
        let split = dual_die(&rows);
        if !split.is_empty() {
            out.findings.push(
                Finding::info(
                    codes::TELEMETRY_DUAL_DIE,
                    format!(
                        "dual-die cards: one die reports the card's power and the other 0 or N/A, so the card's power is split between its dies (GPUs {})",
                        split
                            .iter()
                            .map(|(n, d)| format!("{n}:{d}+{}", d + 1))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .at(shown, None),
            );
        }
        let mut batch = SampleBatch::default();
        let halves: BTreeMap<(&str, u32, i64), f64> = rows
            .iter()
            .filter(|(n, d, _, _, _)| split.contains(&(n.clone(), d - d % 2)))
            .filter_map(|(n, d, t, p, _)| {
                p.filter(|p| *p > 0.0)
                    .map(|p| ((n.as_str(), d - d % 2, *t), p / 2.0))
            })
            .collect();
        for (n, d, t, p, e) in &rows {
            let id = nodes.id(n);
            let pair = split.contains(&(n.clone(), d - d % 2));
            let power = if pair {
                halves.get(&(n.as_str(), d - d % 2, *t)).copied()
            } else {
                *p
            };
            if let Some(p) = power {
                batch.push(id, *d, *t, p);
            }
            if let Some(j) = e {
                out.counters.push(CounterReading {
                    node: id,
                    device: *d,
                    t_ms: *t,
                    mj: j * 1000.0,
                });
            }
        }
        on_batch(&batch);
        Ok(read)
    }
}

/// Every data row, with the lines of those set aside and the count read. Blank lines and
/// repeated headers (watch mode) are skipped; a row the CSV reader cannot read is set aside.
fn rows(bytes: &[u8], cfg: &Config, stem: &str, shown: &str) -> Result<(Vec<Row>, Vec<u64>, u64)> {
    let mut rdr = super::csv_reader(bytes);
    let header: Vec<String> = super::csv_header(&mut rdr, shown)?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let cols = columns(&header, shown)?;
    let (mut out, mut bad, mut read) = (Vec::new(), Vec::new(), 0u64);
    for r in rdr.records() {
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                read += 1;
                bad.push(e.position().map_or(0, |p| p.line()));
                continue;
            }
        };
        let line = r.position().map_or(0, |p| p.line());
        let get = |c: usize| r.get(c).unwrap_or("");
        if get(cols.time).eq_ignore_ascii_case(&header[cols.time]) {
            continue;
        }
        read += 1;
        let (Some(t), Some(d)) = (time_ms(get(cols.time), cfg), device(get(cols.device))) else {
            bad.push(line);
            continue;
        };
        let node = cols
            .host
            .and_then(|h| cell(get(h)))
            .unwrap_or(stem)
            .to_string();
        let power = cols
            .power
            .and_then(|c| number(get(c)))
            .filter(|p| *p >= 0.0);
        let energy = cols
            .energy_j
            .and_then(|c| number(get(c)))
            .filter(|e| *e >= 0.0);
        out.push((node, d, t, power, energy));
    }
    Ok((out, bad, read))
}

/// The (node, even device) pairs whose odd die never reports power while the even one does at
/// the same times, at two times or more: dual-die cards reporting per card (one missing value
/// is no pattern).
fn dual_die(rows: &[Row]) -> Vec<(String, u32)> {
    let mut by: BTreeMap<(&str, u32), (u32, bool, bool)> = BTreeMap::new();
    let mut at: BTreeMap<(&str, u32, i64), f64> = BTreeMap::new();
    for (n, d, t, p, _) in rows {
        at.insert((n.as_str(), *d, *t), p.unwrap_or(0.0));
    }
    for (n, d, t, p, _) in rows.iter().filter(|r| r.1 % 2 == 1) {
        let Some(even) = at.get(&(n.as_str(), d - 1, *t)) else {
            continue;
        };
        let e = by.entry((n.as_str(), d - 1)).or_insert((0, false, true));
        e.0 += 1;
        e.1 |= *even > 0.0;
        e.2 &= p.unwrap_or(0.0) == 0.0;
    }
    by.into_iter()
        .filter(|(_, (seen, even_on, odd_off))| *seen >= 2 && *even_on && *odd_off)
        .map(|((n, d), _)| (n.to_string(), d))
        .collect()
}
