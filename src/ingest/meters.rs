//! Site meter readings: `--meters` CSV files (`site, start, end, kwh, scope, reference`) and
//! the `[[site.meter]]` entries of greenledger.toml, as one canonical list. Start and end are
//! read like `--period START..END`: dates are whole days with the end day included,
//! timestamps are exact with the end excluded.

use super::{InputRecord, Origin};
use crate::config::{Config, InputFile, MeterScope};
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use crate::timeutil::Period;
use chrono::{DateTime, Utc};

/// One meter reading: the site's (or its IT equipment's) kWh over `[start, end)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Meter {
    pub site: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub kwh: f64,
    pub scope: MeterScope,
    /// An invoice number or meter id.
    pub reference: String,
    pub origin: Origin,
}

/// The `[[site.meter]]` entries of the config.
pub(crate) fn from_config(cfg: &Config) -> Vec<Meter> {
    let file = cfg
        .config_file
        .as_ref()
        .map(|f| f.shown.clone())
        .unwrap_or_default();
    cfg.sites
        .iter()
        .flat_map(|s| {
            let file = file.clone();
            s.meters.iter().map(move |m| Meter {
                site: s.id.clone(),
                start: m.period.start,
                end: m.period.end,
                kwh: m.kwh,
                scope: m.scope,
                reference: m.reference.clone(),
                origin: Origin {
                    file: file.clone(),
                    line: s.line,
                },
            })
        })
        .collect()
}

/// Read one meters CSV. A row naming an unknown site, or with an unreadable period, kWh or
/// scope, is an error finding and not used.
pub(crate) fn read(
    bytes: &[u8],
    f: &InputFile,
    cfg: &Config,
    rec: &mut InputRecord,
    findings: &mut Vec<Finding>,
) -> Result<Vec<Meter>> {
    let mut rdr = super::csv_reader(bytes);
    let header: Vec<String> = super::csv_header(&mut rdr, &f.shown)?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let col = |n: &str| header.iter().position(|h| h == n);
    let need = ["site", "start", "end", "kwh", "scope"];
    if let Some(missing) = need.iter().find(|n| col(n).is_none()) {
        return Err(
            Error::in_file(&f.shown, format!("meters column '{missing}' is missing"))
                .at_line(1)
                .hint("a meters file has the columns site, start, end, kwh, scope, reference"),
        );
    }
    let mut meters = Vec::new();
    for (i, r) in rdr.records().enumerate() {
        rec.rows += 1;
        let line = i as u64 + 2;
        let row = r
            .map_err(|e| format!("unreadable row ({e})"))
            .and_then(|r| meter(&r, &col, cfg, f, line));
        match row {
            Ok(m) => {
                rec.rows_used += 1;
                meters.push(m);
            }
            Err(why) => {
                rec.rows_rejected += 1;
                findings.push(
                    Finding::error(
                        codes::METERS_BAD_ROW,
                        format!("{why}; the reading is not used"),
                    )
                    .at(&f.shown, Some(line)),
                );
            }
        }
    }
    Ok(meters)
}

/// One row as a reading, or why not.
fn meter(
    r: &csv::StringRecord,
    col: &dyn Fn(&str) -> Option<usize>,
    cfg: &Config,
    f: &InputFile,
    line: u64,
) -> std::result::Result<Meter, String> {
    let get = |n: &str| col(n).and_then(|c| r.get(c)).unwrap_or("");
    let site = get("site");
    if cfg.site(site).is_none() {
        return Err(format!(
            "site '{site}' is not defined (add a [[site]] with this id)"
        ));
    }
    let period = Period::parse(&format!("{}..{}", get("start"), get("end")))
        .map_err(|e| format!("start/end: {e}"))?;
    let kwh = get("kwh")
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("kwh '{}' is not a number >= 0", get("kwh")))?;
    let scope = MeterScope::parse(get("scope"))
        .ok_or_else(|| format!("scope '{}' is not 'facility' or 'it'", get("scope")))?;
    Ok(Meter {
        site: site.to_string(),
        start: period.start,
        end: period.end,
        kwh,
        scope,
        reference: get("reference").to_string(),
        origin: Origin {
            file: f.shown.clone(),
            line,
        },
    })
}

/// Site meters: the `[[site.meter]]` entries, then `--meters` files, for the inventory.
pub(crate) struct MetersReader;

impl super::Reader for MetersReader {
    fn name(&self) -> &'static str {
        "site meters"
    }
    fn given(&self, cfg: &Config) -> bool {
        !cfg.inputs.meters.is_empty() || cfg.sites.iter().any(|s| !s.meters.is_empty())
    }
    fn stands_alone(&self) -> bool {
        false
    }
    fn read(&self, cx: &super::Cx, out: &mut super::Ingested) -> Result<()> {
        out.meters.extend(from_config(cx.cfg));
        super::each_file(
            &cx.cfg.inputs.meters,
            "meters",
            out,
            |bytes, f, rec, out| {
                let m = read(bytes, f, cx.cfg, rec, &mut out.findings)?;
                out.meters.extend(m);
                Ok(())
            },
        )
    }
}
