//! Grid intensity time series: Electricity Maps hourly exports (both header generations:
//! `gCO₂eq`/`gCO2eq`, `Zone id`/`Zone Id`, direct and life-cycle columns, CRLF, dates re-saved by
//! a spreadsheet as `DD/MM/YYYY HH:MM`) and a generic `zone,timestamp,g_per_kwh` CSV.

use super::InputRecord;
use crate::config::{Config, InputFile};
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use chrono::{NaiveDateTime, TimeZone, Utc};
use std::collections::{BTreeMap, HashMap};

/// Grid intensity read from `--grid` files: hourly series and annual tables.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hourly {
    /// zone (upper case) -> hour start (epoch seconds) -> gCO2e/kWh.
    pub zones: HashMap<String, BTreeMap<i64, f64>>,
    /// zone -> the files it came from (for the factor list).
    pub sources: BTreeMap<String, String>,
    /// Annual factors: zone (upper case; cloud regions lower case) -> year (0 when the table
    /// gives none) -> (gCO2e/kWh, source file).
    pub annual: HashMap<String, BTreeMap<i32, (f64, String)>>,
    /// The grid's carbon-free share (0..1) per zone and hour, where a series gives it
    /// (Electricity Maps' "Carbon-free energy percentage (CFE%)", older "Low Carbon Percentage").
    pub cfe: HashMap<String, BTreeMap<i64, f64>>,
}

impl Hourly {
    /// The annual factor for the first of `keys` that has one: the period's year, else the
    /// latest earlier year, else the earliest later one. Returns (g, year, source).
    pub(crate) fn annual_for(
        &self,
        keys: &[&str],
        year: i32,
    ) -> Option<(f64, Option<i32>, String)> {
        for k in keys.iter().filter(|k| !k.is_empty()) {
            let Some(by_year) = self
                .annual
                .get(&k.to_uppercase())
                .or_else(|| self.annual.get(&k.to_lowercase()))
            else {
                continue;
            };
            let pick = by_year
                .range(..=year)
                .next_back()
                .or_else(|| by_year.iter().next());
            if let Some((y, (g, src))) = pick {
                return Some((*g, (*y != 0).then_some(*y), src.clone()));
            }
        }
        None
    }

    /// The series of a zone: by its id, else the Electricity Maps id that ends with it
    /// (`SE3` finds `SE-SE3`).
    fn series(&self, zone: &str) -> Option<(&String, &BTreeMap<i64, f64>)> {
        let z = zone.to_uppercase();
        self.zones.get_key_value(&z).or_else(|| {
            let suffix = format!("-{z}");
            let mut hits = self.zones.iter().filter(|(k, _)| k.ends_with(&suffix));
            match (hits.next(), hits.next()) {
                (Some(hit), None) => Some(hit),
                _ => None,
            }
        })
    }

    /// A zone's hourly carbon-free share, found as its intensity series is (`SE3` finds
    /// `SE-SE3`).
    pub(crate) fn cfe_series(&self, zone: &str) -> Option<&BTreeMap<i64, f64>> {
        let z = zone.to_uppercase();
        self.cfe.get(&z).or_else(|| {
            let suffix = format!("-{z}");
            let mut hits = self.cfe.iter().filter(|(k, _)| k.ends_with(&suffix));
            match (hits.next(), hits.next()) {
                (Some((_, s)), None) => Some(s),
                _ => None,
            }
        })
    }

    /// The file a zone's hourly series came from.
    pub(crate) fn source(&self, zone: &str) -> String {
        self.series(zone)
            .and_then(|(k, _)| self.sources.get(k))
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) fn get(&self, zone: &str, hour: i64) -> Option<f64> {
        self.series(zone).and_then(|(_, m)| m.get(&hour)).copied()
    }
    pub(crate) fn has(&self, zone: &str) -> bool {
        self.series(zone).is_some()
    }
}

fn norm(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .replace('₂', "2")
        .to_ascii_lowercase()
}

/// One grid file: a JSON table, an annual CSV table, else an hourly series.
fn read(
    bytes: &[u8],
    f: &InputFile,
    cfg: &Config,
    out: &mut Hourly,
    rec: &mut InputRecord,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        return read_json(body, f, out, rec, findings);
    }
    if let Some(()) = read_annual_csv(body, f, out, rec, findings)? {
        return Ok(());
    }
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(body);
    let header: Vec<String> = super::csv_header(&mut rdr, &f.shown)?
        .iter()
        .map(|h| norm(h))
        .collect();
    let cols = hourly_columns(&header, cfg, f)?;
    // Every record keeps its true line (a quoted field may span lines); one the CSV reader
    // cannot read (not UTF-8) is counted and reported, never dropped.
    let (mut records, mut lines, mut unreadable) = (Vec::new(), Vec::new(), Vec::new());
    for (i, r) in rdr.records().enumerate() {
        rec.rows += 1;
        let fallback = i as u64 + 2;
        match r {
            Ok(r) => {
                lines.push(r.position().map_or(fallback, |p| p.line()));
                records.push(r);
            }
            Err(e) => unreadable.push(e.position().map_or(fallback, |p| p.line())),
        }
    }
    if !unreadable.is_empty() {
        findings.push(
            Finding::error(codes::GRID_BAD_ROW, format!("{} rows cannot be read as CSV text (not UTF-8?) and are not used (first at line {})", unreadable.len(), unreadable[0]))
                .at(&f.shown, Some(unreadable[0])),
        );
    }
    let month_first = date_order(&records, cols[0], f, findings);
    let cfe_col = header.iter().position(|h| {
        h.starts_with("carbon-free energy percentage")
            || h == "low carbon percentage"
            || h == "cfe_percent"
    });
    let mut bad = Vec::new();
    for (r, &line) in records.iter().zip(&lines) {
        match hourly_value(r, cols, month_first, cfg) {
            Some((zone, hour, g)) => {
                out.sources
                    .entry(zone.clone())
                    .or_insert_with(|| f.shown.clone());
                // The carbon-free share, a percentage; an empty or odd cell is no value.
                if let Some(p) = cfe_col
                    .and_then(|c| r.get(c))
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .filter(|p| (0.0..=100.0).contains(p))
                {
                    out.cfe
                        .entry(zone.clone())
                        .or_default()
                        .insert(hour, p / 100.0);
                }
                out.zones.entry(zone).or_default().insert(hour, g);
                rec.rows_used += 1;
            }
            None => bad.push(line),
        }
    }
    rec.rows_rejected = (bad.len() + unreadable.len()) as u64;
    if !bad.is_empty() {
        findings.push(
            Finding::warning(codes::GRID_BAD_ROW, format!("{} rows without a readable time, zone or intensity are not used (first at line {})", bad.len(), bad[0])).at(&f.shown, Some(bad[0])),
        );
    }
    estimated_hours(&header, &records, f, findings);
    Ok(())
}

/// Electricity Maps marks hours it estimated (`Data Estimated`, with `Data Estimation
/// Method`): a data-quality note counts them, with the methods.
fn estimated_hours(
    header: &[String],
    records: &[csv::StringRecord],
    f: &InputFile,
    findings: &mut Vec<Finding>,
) {
    let Some(c) = header.iter().position(|h| h == "data estimated") else {
        return;
    };
    let m = header.iter().position(|h| h == "data estimation method");
    let mut methods = std::collections::BTreeSet::new();
    let mut n = 0u64;
    for r in records {
        if r.get(c)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        {
            n += 1;
            if let Some(method) = m
                .and_then(|m| r.get(m))
                .map(str::trim)
                .filter(|v| !v.is_empty())
            {
                methods.insert(method.to_string());
            }
        }
    }
    if n > 0 {
        let how: Vec<String> = methods.into_iter().collect();
        let how = if how.is_empty() {
            String::new()
        } else {
            format!(" (methods: {})", how.join(", "))
        };
        findings.push(
            Finding::info(
                codes::GRID_ESTIMATED,
                format!(
                    "{n} of {} hours are estimated by Electricity Maps rather than measured{how}",
                    records.len()
                ),
            )
            .at(&f.shown, None),
        );
    }
}

/// The time, zone and intensity columns of an hourly series (direct intensities, or
/// life-cycle ones with `[grid] lifecycle`).
fn hourly_columns(header: &[String], cfg: &Config, f: &InputFile) -> Result<[usize; 3]> {
    let col = |pred: &dyn Fn(&str) -> bool| header.iter().position(|h| pred(h));
    let t_col = col(&|h| h.starts_with("datetime") || h == "timestamp" || h == "time");
    let zone_col = col(&|h| h == "zone id" || h == "zone" || h == "zone_key" || h == "zone_name")
        .or_else(|| col(&|h| h == "country" || h == "country_code"));
    let g_col = if cfg.grid.lifecycle {
        col(&|h| h.contains("carbon intensity") && (h.contains("life cycle") || h.contains("lca")))
    } else {
        col(&|h| h.contains("carbon intensity") && h.contains("direct"))
    }
    .or_else(|| {
        col(&|h| {
            h == "g_per_kwh"
                || h == "carbon_intensity"
                || h == "intensity"
                || h == "carbon_intensity_avg"
        })
    });
    match (t_col, zone_col, g_col) {
        (Some(t), Some(z), Some(g)) => Ok([t, z, g]),
        _ => Err(Error::in_file(
            &f.shown,
            format!("not a grid intensity file (columns: {})", header.join(", ")),
        )
        .at_line(1)
        .hint("give an Electricity Maps hourly export or a CSV with zone,timestamp,g_per_kwh")),
    }
}

/// Spreadsheet-saved dates (DD/MM/YYYY or MM/DD/YYYY): day-first unless a second part > 12
/// proves month-first; a warning says which was read. True for month-first.
fn date_order(
    records: &[csv::StringRecord],
    t_col: usize,
    f: &InputFile,
    findings: &mut Vec<Finding>,
) -> bool {
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
    month_first
}

/// One hourly row: (zone, hour start, g/kWh), or `None` when a value is missing or unreadable.
fn hourly_value(
    r: &csv::StringRecord,
    [t_col, zone_col, g_col]: [usize; 3],
    month_first: bool,
    cfg: &Config,
) -> Option<(String, i64, f64)> {
    let (t, z, g) = (r.get(t_col)?, r.get(zone_col)?, r.get(g_col)?);
    let g = g
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|g| g.is_finite() && *g >= 0.0)?;
    let hour = parse_hour(t.trim(), month_first, cfg)?;
    Some((z.trim().to_uppercase(), hour, g))
}

/// The start of the hour (epoch seconds, UTC) of a timestamp. Electricity Maps' `Datetime (UTC)`
/// is UTC by its header, so naive times are UTC here.
fn parse_hour(t: &str, month_first: bool, cfg: &Config) -> Option<i64> {
    let secs = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        // The 2021 electricityMap export: epoch seconds (or milliseconds).
        let v: i64 = t.parse().ok()?;
        if v > 100_000_000_000 {
            v / 1000
        } else {
            v
        }
    } else if t.contains('/') {
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

fn add_annual(out: &mut Hourly, zone: &str, year: i32, g: f64, source: &str) {
    // Cloud regions (`us-east-1`) keep their case; zone codes are upper case.
    let key = if zone.chars().any(|c| c.is_ascii_lowercase()) && zone.contains('-') {
        zone.to_lowercase()
    } else {
        zone.to_uppercase()
    };
    out.annual
        .entry(key)
        .or_default()
        .insert(year, (g, source.to_string()));
}

/// Where an annual table keeps its values.
struct AnnualLayout {
    g_col: usize,
    /// Every column naming the zone (a row counts for each).
    zone_cols: Vec<usize>,
    year_col: Option<usize>,
    /// `Datetime (UTC)` of yearly exports: the year is its first four characters.
    dt_col: Option<usize>,
}

/// Annual tables (CSV): Electricity Maps yearly exports, yearly averages by zone_key, OWID and
/// carbontracker country tables, cloud-region tables (region, impact). `None`: not annual.
fn read_annual_csv(
    body: &[u8],
    f: &InputFile,
    out: &mut Hourly,
    rec: &mut InputRecord,
    findings: &mut Vec<Finding>,
) -> Result<Option<()>> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(body);
    let raw = super::csv_header(&mut rdr, &f.shown)?;
    let Some(layout) = annual_layout(&raw, f)? else {
        return Ok(None);
    };
    let mut empty = Vec::new();
    for (i, r) in rdr.records().enumerate() {
        rec.rows += 1;
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                empty.push(e.position().map_or(i as u64 + 2, |p| p.line()));
                continue;
            }
        };
        let line = r.position().map_or(i as u64 + 2, |p| p.line());
        match annual_value(&r, &layout) {
            Some((zones, year, g)) => {
                for z in zones {
                    add_annual(out, z, year, g, &f.shown);
                }
                rec.rows_used += 1;
            }
            None => empty.push(line),
        }
    }
    rec.rows_rejected = empty.len() as u64;
    if !empty.is_empty() {
        findings.push(
            Finding::info(codes::GRID_BAD_ROW, format!("{} rows have no zone code, year or intensity (aggregates, years without data) and are not used (first at line {})", empty.len(), empty[0]))
                .at(&f.shown, Some(empty[0])),
        );
    }
    Ok(Some(()))
}

/// The layout of an annual table, `None` when the header is not one (no year column, not a
/// yearly export, not a cloud-region table); an error when it lacks intensity or zone columns.
fn annual_layout(raw: &[String], f: &InputFile) -> Result<Option<AnnualLayout>> {
    let header: Vec<String> = raw.iter().map(|h| norm(h)).collect();
    let col = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
    let year_col = col(&["year"]);
    let yearly_export =
        f.shown.to_ascii_lowercase().contains("yearly") && col(&["datetime (utc)"]).is_some();
    let cloud = col(&["region"]).filter(|_| header.iter().any(|h| h == "impact"));
    if year_col.is_none() && !yearly_export && cloud.is_none() {
        return Ok(None);
    }
    let intensity = header.iter().position(|h| {
        h.contains("carbon_intensity")
            || (h.contains("carbon intensity") && !h.contains("life cycle") && !h.contains("lca"))
            // Ember / Our World in Data: emissions_intensity_gco2_per_kwh, carbon_intensity_elec.
            || (h.contains("intensity") && h.contains("co2"))
            || h == "impact"
    });
    let Some(g_col) = intensity else {
        return Err(Error::in_file(
            &f.shown,
            format!(
                "an annual table without an intensity column (columns: {})",
                raw.join(", ")
            ),
        )
        .at_line(1));
    };
    let zone_cols: Vec<usize> = match cloud {
        Some(c) => vec![c],
        None => [
            "zone_key",
            "zone id",
            "alpha-2",
            "code",
            "zone",
            "country_code",
            "iso_code",
        ]
        .iter()
        .filter_map(|n| col(&[n]))
        .collect(),
    };
    if zone_cols.is_empty() {
        return Err(Error::in_file(
            &f.shown,
            "an annual table without a zone or country code column",
        )
        .at_line(1));
    }
    Ok(Some(AnnualLayout {
        g_col,
        zone_cols,
        year_col,
        dt_col: col(&["datetime (utc)"]),
    }))
}

/// One annual row: its zone codes, year (0 for tables without one) and g/kWh; `None` when a
/// value is missing (aggregates, years without data).
fn annual_value<'r>(
    r: &'r csv::StringRecord,
    l: &AnnualLayout,
) -> Option<(Vec<&'r str>, i32, f64)> {
    let g = r
        .get(l.g_col)
        .map(str::trim)
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|g| g.is_finite() && *g >= 0.0)?;
    let year = match (l.year_col, l.dt_col) {
        (Some(c), _) => r.get(c).and_then(|y| y.trim().parse::<i32>().ok()),
        (None, Some(c)) => r
            .get(c)
            .and_then(|t| t.trim().get(..4))
            .and_then(|y| y.parse::<i32>().ok()),
        _ => Some(0),
    }?;
    let zones: Vec<&str> = l
        .zone_cols
        .iter()
        .filter_map(|&c| r.get(c))
        .map(str::trim)
        .filter(|z| !z.is_empty())
        .collect();
    (!zones.is_empty()).then_some((zones, year, g))
}

/// JSON tables: CodeCarbon's per-country energy mix (ISO-3 keys) and per-zone factors
/// (`{data: {zone: {emission_factor, year}}}`); anything else is reported, not guessed at.
fn read_json(
    body: &[u8],
    f: &InputFile,
    out: &mut Hourly,
    rec: &mut InputRecord,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        Error::in_file(&f.shown, format!("not valid JSON: {e}")).at_line(e.line() as u64)
    })?;
    let table = v.get("data").filter(|d| d.is_object()).unwrap_or(&v);
    let Some(obj) = table.as_object() else {
        return Err(Error::in_file(
            &f.shown,
            "a JSON grid table must be an object of zones",
        ));
    };
    let mut skipped = 0u64;
    for (zone, entry) in obj {
        rec.rows += 1;
        let g = entry
            .get("carbon_intensity")
            .or_else(|| entry.get("emission_factor"))
            .and_then(|x| x.as_f64());
        let year = entry
            .get("year")
            .and_then(|y| y.as_i64())
            .map(|y| y as i32)
            .unwrap_or(0);
        match g {
            Some(g) if g.is_finite() && g >= 0.0 => {
                add_annual(out, zone, year, g, &f.shown);
                rec.rows_used += 1;
            }
            _ => skipped += 1,
        }
    }
    rec.rows_rejected = skipped;
    if rec.rows_used == 0 {
        findings.push(
            Finding::warning(codes::GRID_BAD_ROW, "no per-zone intensity found (this table is not keyed by zone, e.g. factors per generation source); the file is not used")
                .at(&f.shown, Some(1)),
        );
    } else if skipped > 0 {
        findings.push(
            Finding::info(
                codes::GRID_BAD_ROW,
                format!("{skipped} entries without a zone intensity are not used"),
            )
            .at(&f.shown, None),
        );
    }
    Ok(())
}

/// Hourly grid intensity (`--grid`, `[inputs] grid`), for the factors.
pub(crate) struct GridReader;

impl super::Reader for GridReader {
    fn name(&self) -> &'static str {
        "grid intensity"
    }
    fn given(&self, cfg: &Config) -> bool {
        !cfg.inputs.grid.is_empty()
    }
    fn stands_alone(&self) -> bool {
        false
    }
    fn read(&self, cx: &super::Cx, out: &mut super::Ingested) -> Result<()> {
        let mut hourly = std::mem::take(&mut out.grid);
        super::each_file(&cx.cfg.inputs.grid, "grid", out, |bytes, f, rec, out| {
            read(bytes, f, cx.cfg, &mut hourly, rec, &mut out.findings)
        })?;
        out.grid = hourly;
        Ok(())
    }
}
