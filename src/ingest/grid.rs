//! Grid intensity time series: Electricity Maps hourly exports (both header generations:
//! `gCO₂eq`/`gCO2eq`, `Zone id`/`Zone Id`, direct and life-cycle columns, CRLF, dates re-saved by
//! a spreadsheet as `DD/MM/YYYY HH:MM`) and a generic `zone,timestamp,g_per_kwh` CSV.

use super::InputRecord;
use crate::config::{Config, InputFile};
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use chrono::{NaiveDateTime, TimeZone, Utc};
use std::collections::{BTreeMap, HashMap};

/// Hourly intensity per zone: zone (upper case) -> hour start (epoch seconds) -> gCO2e/kWh.
#[derive(Debug, Clone, Default)]
pub struct Hourly {
    pub zones: HashMap<String, BTreeMap<i64, f64>>,
    /// zone -> the files it came from (for the factor list).
    pub sources: BTreeMap<String, String>,
}

impl Hourly {
    pub fn get(&self, zone: &str, hour: i64) -> Option<f64> {
        self.zones
            .get(&zone.to_uppercase())
            .and_then(|m| m.get(&hour))
            .copied()
    }
    pub fn has(&self, zone: &str) -> bool {
        self.zones.contains_key(&zone.to_uppercase())
    }
}

fn norm(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .replace('₂', "2")
        .to_ascii_lowercase()
}

/// Read every grid file.
pub fn load(
    cfg: &Config,
    inputs: &mut Vec<InputRecord>,
    findings: &mut Vec<Finding>,
) -> Result<Hourly> {
    let mut h = Hourly::default();
    for f in &cfg.inputs.grid {
        let (bytes, mut rec) = super::read_input(f, "grid")?;
        read(&bytes, f, cfg, &mut h, &mut rec, findings)?;
        inputs.push(rec);
    }
    Ok(h)
}

fn read(
    bytes: &[u8],
    f: &InputFile,
    cfg: &Config,
    out: &mut Hourly,
    rec: &mut InputRecord,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(body);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| Error::in_file(&f.shown, format!("cannot read the header: {e}")).at_line(1))?
        .iter()
        .map(norm)
        .collect();
    let col = |pred: &dyn Fn(&str) -> bool| header.iter().position(|h| pred(h));
    let t_col = col(&|h| h.starts_with("datetime") || h == "timestamp" || h == "time");
    let zone_col = col(&|h| h == "zone id" || h == "zone" || h == "zone_key");
    let want_lca = cfg.grid_lifecycle;
    let g_col = if want_lca {
        col(&|h| h.contains("carbon intensity") && (h.contains("life cycle") || h.contains("lca")))
    } else {
        col(&|h| h.contains("carbon intensity") && h.contains("direct"))
    }
    .or_else(|| col(&|h| h == "g_per_kwh" || h == "carbon_intensity" || h == "intensity"));
    let (Some(t_col), Some(zone_col), Some(g_col)) = (t_col, zone_col, g_col) else {
        return Err(Error::in_file(
            &f.shown,
            format!("not a grid intensity file (columns: {})", header.join(", ")),
        )
        .at_line(1)
        .hint("give an Electricity Maps hourly export or a CSV with zone,timestamp,g_per_kwh"));
    };
    let records: Vec<csv::StringRecord> = rdr.records().filter_map(|r| r.ok()).collect();
    // Spreadsheet-saved dates: DD/MM/YYYY or MM/DD/YYYY. Day-first unless a first part > 12
    // proves otherwise... or rather: a second part > 12 proves month-first.
    let slash: Vec<&str> = records
        .iter()
        .filter_map(|r| r.get(t_col))
        .filter(|t| t.contains('/'))
        .collect();
    let month_first = !slash.is_empty()
        && slash.iter().any(|t| {
            t.split('/')
                .nth(1)
                .and_then(|d| d.parse::<u32>().ok())
                .is_some_and(|d| d > 12)
        });
    if !slash.is_empty() {
        findings.push(
            Finding::warning(
                codes::GRID_DATE_ORDER,
                format!(
                    "dates like '{}' were re-saved by a spreadsheet; read as {}",
                    slash[0],
                    if month_first {
                        "MM/DD/YYYY"
                    } else {
                        "DD/MM/YYYY"
                    }
                ),
            )
            .at(&f.shown, Some(2)),
        );
    }
    let mut bad = Vec::new();
    for (i, r) in records.iter().enumerate() {
        rec.rows += 1;
        let line = i as u64 + 2;
        let (Some(t), Some(z), Some(g)) = (r.get(t_col), r.get(zone_col), r.get(g_col)) else {
            bad.push(line);
            continue;
        };
        let g = match g.trim().parse::<f64>() {
            Ok(g) if g.is_finite() && g >= 0.0 => g,
            _ => {
                bad.push(line);
                continue;
            }
        };
        let Some(hour) = parse_hour(t.trim(), month_first, cfg) else {
            bad.push(line);
            continue;
        };
        let zone = z.trim().to_uppercase();
        out.sources
            .entry(zone.clone())
            .or_insert_with(|| f.shown.clone());
        out.zones.entry(zone).or_default().insert(hour, g);
        rec.rows_used += 1;
    }
    rec.rows_rejected = bad.len() as u64;
    if !bad.is_empty() {
        findings.push(
            Finding::warning(codes::GRID_BAD_ROW, format!("{} rows without a readable time, zone or intensity are not used (first at line {})", bad.len(), bad[0])).at(&f.shown, Some(bad[0])),
        );
    }
    Ok(())
}

/// The start of the hour (epoch seconds, UTC) of a timestamp. Electricity Maps' `Datetime (UTC)`
/// is UTC by its header, so naive times are UTC here.
fn parse_hour(t: &str, month_first: bool, cfg: &Config) -> Option<i64> {
    let secs = if t.contains('/') {
        let fmt = if month_first {
            "%m/%d/%Y %H:%M"
        } else {
            "%d/%m/%Y %H:%M"
        };
        let n = NaiveDateTime::parse_from_str(t, fmt)
            .or_else(|_| NaiveDateTime::parse_from_str(t, &format!("{fmt}:%S")))
            .ok()?;
        Utc.from_utc_datetime(&n).timestamp()
    } else {
        let _ = cfg;
        crate::timeutil::parse_timestamp(t, &crate::timeutil::InputZone::Utc)
            .ok()?
            .utc
            .timestamp()
    };
    Some(secs.div_euclid(3600) * 3600)
}
