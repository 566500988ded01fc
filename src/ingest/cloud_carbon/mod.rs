//! Cloud providers' own carbon exports, set beside the cloud sites' bottom-up figures (as a
//! meter is set beside a site): Google Cloud Carbon Footprint (the BigQuery table as JSON lines,
//! nested as `bq extract` writes it, or as CSV with dotted or underscored column names) and
//! AWS Customer Carbon Footprint `CARBON_EMISSIONS` Data Exports (CSV or Parquet, MTCO2e), and
//! Azure carbon optimisation item details by location (JSON, kgCO2e; in `azure`). Each row is a
//! month of one account or project, region and service. The layout is told by the columns.

mod azure;

use super::InputRecord;
use crate::config::Config;
use crate::error::Result;
use crate::findings::{codes, Finding};
use crate::ledger::ProviderRow;
use serde_json::Value;

/// The providers' exports (`--cloud-carbon`, `[inputs] cloud_carbon`).
pub(crate) struct CloudCarbonReader;

impl super::Reader for CloudCarbonReader {
    fn name(&self) -> &'static str {
        "cloud carbon exports"
    }
    fn given(&self, cfg: &Config) -> bool {
        !cfg.inputs.cloud_carbon.is_empty()
    }
    fn stands_alone(&self) -> bool {
        false
    }
    fn read(&self, cx: &super::Cx, out: &mut super::Ingested) -> Result<()> {
        let files = &cx.cfg.inputs.cloud_carbon;
        super::each_file(files, "cloud carbon", out, |bytes, f, rec, out| {
            let (rows, findings) = read(bytes, &f.shown, rec);
            out.cloud_carbon.extend(rows);
            out.findings.extend(findings);
            Ok(())
        })
    }
}

/// A row that cannot be used, and why.
type Rejected = (u64, String);

/// Read one export: its rows, and a finding per row set aside (and per file not understood).
pub(crate) fn read(
    bytes: &[u8],
    shown: &str,
    rec: &mut InputRecord,
) -> (Vec<ProviderRow>, Vec<Finding>) {
    let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = String::from_utf8_lossy(body);
    let mut notes = Vec::new();
    let parsed = if body.starts_with(b"PAR1") {
        parquet_rows(body, shown)
    } else if text.trim_start().starts_with('{') {
        // One JSON document with a `value` list is Azure's response; else Google's JSON lines.
        match serde_json::from_str::<Value>(&text) {
            Ok(v) if azure::is_response(&v) => {
                azure::rows(&v, &text, shown).map(|(rows, rejected, n)| {
                    notes = n;
                    (rows, rejected)
                })
            }
            _ => google_jsonl(&text, shown),
        }
    } else {
        csv_rows(body, shown)
    };
    let (rows, rejected) = match parsed {
        Ok(v) => v,
        Err(why) => {
            let f = Finding::error(
                codes::CLOUD_BAD_FILE,
                format!("{why}; the file is not used"),
            )
            .at(shown, Some(1));
            return (Vec::new(), vec![f]);
        }
    };
    rec.rows = (rows.len() + rejected.len()) as u64;
    rec.rows_used = rows.len() as u64;
    rec.rows_rejected = rejected.len() as u64;
    notes.extend(rejected.into_iter().map(|(line, why)| {
        Finding::error(codes::CLOUD_BAD_ROW, format!("{why}; the row is not used"))
            .at(shown, Some(line))
    }));
    (rows, notes)
}

/// A number given as a JSON number or as text (BigQuery writes INT64 as text).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite())
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `YYYY-MM` of a date (`2026-07-01`, `2026-07-01 00:00:00Z`, `2026-07-01T00:00:00Z`), checked
/// to be a real month.
fn month(s: &str) -> Option<String> {
    let d = s.trim().get(..10)?;
    chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?;
    Some(d[..7].to_string())
}

/// Google's rows as JSON lines (nested records).
fn google_jsonl(
    body: &str,
    shown: &str,
) -> std::result::Result<(Vec<ProviderRow>, Vec<Rejected>), String> {
    let (mut rows, mut rejected) = (Vec::new(), Vec::new());
    for (i, line) in body.lines().enumerate() {
        let n = i as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                rejected.push((n, format!("not a JSON object ({e})")));
                continue;
            }
        };
        let get = |p: &str| v.pointer(p).unwrap_or(&Value::Null);
        let fields = Fields {
            month: text(get("/usage_month")),
            region: text(get("/location/region")),
            account: text(get("/billing_account_id")),
            project: text(get("/project/id")),
            service: text(get("/service/description")),
            location_kg: number(get("/carbon_footprint_kgCO2e/scope2/location_based")),
            market_kg: number(get("/carbon_footprint_kgCO2e/scope2/market_based")),
            model_version: text(get("/carbon_model_version")),
        };
        match fields.row("gcp", 1.0, shown, n) {
            Ok(r) => rows.push(r),
            Err(why) => rejected.push((n, why)),
        }
    }
    if rows.is_empty()
        && rejected.iter().all(|(_, w)| w.starts_with("not a JSON"))
        && !rejected.is_empty()
    {
        return Err("not a Google Cloud carbon footprint export (JSON lines)".into());
    }
    Ok((rows, rejected))
}

/// What one row gives, before it is checked.
struct Fields {
    month: Option<String>,
    region: Option<String>,
    account: Option<String>,
    project: Option<String>,
    service: Option<String>,
    location_kg: Option<f64>,
    market_kg: Option<f64>,
    model_version: Option<String>,
}

impl Fields {
    /// The row, with its figures x `to_kg`; a row without a real month, a region or a
    /// location-based figure is refused.
    fn row(
        self,
        provider: &'static str,
        to_kg: f64,
        shown: &str,
        line: u64,
    ) -> std::result::Result<ProviderRow, String> {
        let raw = self.month.ok_or("no usage month")?;
        let month = month(&raw).ok_or_else(|| format!("usage month '{raw}' is not a date"))?;
        let region = self.region.ok_or("no region")?.to_ascii_lowercase();
        let location = self
            .location_kg
            .ok_or("no location-based Scope 2 figure (or not a number)")?;
        if location < 0.0 || self.market_kg.is_some_and(|m| m < 0.0) {
            return Err("a negative emissions figure".into());
        }
        Ok(ProviderRow {
            provider: provider.to_string(),
            month,
            region,
            account: self.account,
            project: self.project,
            service: self.service,
            location_kgco2e: Some(location * to_kg),
            market_kgco2e: self.market_kg.map(|m| m * to_kg),
            model_version: self.model_version,
            file: shown.to_string(),
            line,
        })
    }
}

/// A row of a table export: its line (row number for Parquet) and its cells, or why it
/// cannot be read.
type TableRow = std::result::Result<(u64, Vec<Option<String>>), Rejected>;

/// A CSV export: Google's (dotted or underscored names) or AWS's `CARBON_EMISSIONS`.
fn csv_rows(
    body: &[u8],
    shown: &str,
) -> std::result::Result<(Vec<ProviderRow>, Vec<Rejected>), String> {
    let mut rdr = super::csv_reader(body);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| format!("cannot read the header ({e})"))?
        .iter()
        .map(String::from)
        .collect();
    let mut lines = super::LineCounter::default();
    let rows = rdr.records().map(|rec| match rec {
        Ok(r) => {
            let line = lines.line_at(body, r.position().map_or(0, |p| p.byte() as usize));
            let cells = r.iter().map(|c| Some(c.to_string())).collect();
            Ok((line, cells))
        }
        Err(e) => Err((
            e.position().map_or(0, |p| p.line()),
            format!("unreadable CSV ({e})"),
        )),
    });
    table_rows(&header, rows, shown)
}

/// A Parquet export (AWS's Data Exports write Parquet too); rows are numbered from 1.
fn parquet_rows(
    bytes: &[u8],
    shown: &str,
) -> std::result::Result<(Vec<ProviderRow>, Vec<Rejected>), String> {
    let t = super::table::read_parquet(bytes, shown).map_err(|e| e.message)?;
    let rows = (0..t.rows).map(|r| {
        let cells = (0..t.columns.len())
            .map(|c| t.get(c, r).map(String::from))
            .collect();
        Ok((t.line(r), cells))
    });
    table_rows(&t.columns, rows, shown)
}

/// The rows of a table export, by its layout (told by its columns).
fn table_rows(
    raw_header: &[String],
    rows: impl Iterator<Item = TableRow>,
    shown: &str,
) -> std::result::Result<(Vec<ProviderRow>, Vec<Rejected>), String> {
    let header: Vec<String> = raw_header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase().replace('.', "_"))
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let layout = if col("carbon_footprint_kgco2e_scope2_location_based").is_some() {
        Layout::Google
    } else if col("region_code").is_some() && col("usage_period_start").is_some() {
        Layout::Aws
    } else {
        return Err(format!(
            "not a cloud carbon export greenledger reads (first columns: {}); expected Google's carbon footprint export (usage_month, location.region, carbon_footprint_kgCO2e.scope2.location_based, ...) or AWS's CARBON_EMISSIONS export (usage_period_start, region_code, total_lbm_emissions_value, ...)",
            header.iter().take(6).cloned().collect::<Vec<_>>().join(", ")
        ));
    };
    let (mut out, mut rejected) = (Vec::new(), Vec::new());
    for row in rows {
        let (line, cells) = match row {
            Ok(r) => r,
            Err(r) => {
                rejected.push(r);
                continue;
            }
        };
        let cell = |name: &str| {
            col(name)
                .and_then(|i| cells.get(i))
                .and_then(|c| c.as_deref())
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let num = |name: &str| {
            cell(name)
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|x| x.is_finite())
        };
        let own = |name: &str| cell(name).map(String::from);
        let row = match layout {
            Layout::Google => Fields {
                month: own("usage_month"),
                region: own("location_region"),
                account: own("billing_account_id"),
                project: own("project_id"),
                service: own("service_description"),
                location_kg: num("carbon_footprint_kgco2e_scope2_location_based"),
                market_kg: num("carbon_footprint_kgco2e_scope2_market_based"),
                model_version: own("carbon_model_version"),
            }
            .row("gcp", 1.0, shown, line),
            Layout::Aws => aws_fields(&cell, &num).and_then(|f| f.row("aws", 1000.0, shown, line)),
        };
        match row {
            Ok(r) => out.push(r),
            Err(why) => rejected.push((line, why)),
        }
    }
    Ok((out, rejected))
}

/// The CSV layouts.
enum Layout {
    Google,
    Aws,
}

/// An AWS row: the Scope 2 columns where the export has them, else the totals (which AWS
/// defines as Scope 1 and 2); in metric tonnes, the only unit AWS writes.
fn aws_fields<'a>(
    cell: &dyn Fn(&str) -> Option<&'a str>,
    num: &dyn Fn(&str) -> Option<f64>,
) -> std::result::Result<Fields, String> {
    for unit in ["total_lbm_emissions_unit", "total_mbm_emissions_unit"] {
        if let Some(u) = cell(unit).filter(|u| !u.eq_ignore_ascii_case("MTCO2e")) {
            return Err(format!("{unit} is '{u}', not MTCO2e"));
        }
    }
    let pick = |scope2: &str, total: &str| {
        if cell(scope2).is_some() {
            num(scope2)
        } else {
            num(total)
        }
    };
    Ok(Fields {
        month: cell("usage_period_start").map(String::from),
        region: cell("region_code").map(String::from),
        account: cell("usage_account_id").map(String::from),
        project: None,
        service: cell("product_code").map(String::from),
        location_kg: pick(
            "total_scope_2_lbm_emissions_value",
            "total_lbm_emissions_value",
        ),
        market_kg: pick(
            "total_scope_2_mbm_emissions_value",
            "total_mbm_emissions_value",
        ),
        model_version: cell("model_version").map(String::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> InputRecord {
        InputRecord {
            path: "x".into(),
            kind: "cloud carbon",
            sha256: String::new(),
            size: 0,
            rows: 0,
            rows_used: 0,
            rows_rejected: 0,
            rows_superseded: 0,
            location: String::new(),
        }
    }

    #[test]
    fn google_nested_lines_and_flat_csv_give_the_same_rows() {
        let jsonl = r#"{"usage_month":"2026-07-01","billing_account_id":"0A-1","project":{"id":"lab","number":"12"},"service":{"description":"Compute Engine","id":"6F81"},"location":{"location":"us-central1-a","region":"us-central1"},"carbon_model_version":"12","carbon_footprint_kgCO2e":{"scope1":1.5,"scope2":{"location_based":400.5,"market_based":105.8},"scope3":90}}
{"usage_month":"2026-08-01","billing_account_id":"0A-1","project":{"id":"lab"},"service":{"description":"Compute Engine"},"location":{"region":"us-central1"},"carbon_model_version":12,"carbon_footprint_kgCO2e":{"scope2":{"location_based":"380","market_based":null}}}
"#;
        let csv = "usage_month,billing_account_id,project.id,service.description,location.region,carbon_model_version,carbon_footprint_kgCO2e.scope2.location_based,carbon_footprint_kgCO2e.scope2.market_based\n\
2026-07-01,0A-1,lab,Compute Engine,us-central1,12,400.5,105.8\n\
2026-08-01,0A-1,lab,Compute Engine,us-central1,12,380,\n";
        let (a, fa) = read(jsonl.as_bytes(), "g.jsonl", &mut rec());
        let (b, fb) = read(csv.as_bytes(), "g.csv", &mut rec());
        assert!(fa.is_empty() && fb.is_empty(), "{fa:?} {fb:?}");
        assert_eq!(a.len(), 2);
        let strip = |v: Vec<ProviderRow>| -> Vec<ProviderRow> {
            v.into_iter()
                .map(|mut r| {
                    r.file.clear();
                    r.line = 0;
                    r
                })
                .collect()
        };
        assert_eq!(strip(a.clone()), strip(b));
        assert_eq!(a[0].month, "2026-07");
        assert_eq!(a[0].region, "us-central1");
        assert_eq!(a[0].project.as_deref(), Some("lab"));
        assert_eq!(a[0].location_kgco2e, Some(400.5));
        assert_eq!(a[0].market_kgco2e, Some(105.8));
        assert_eq!(a[1].market_kgco2e, None);
        assert_eq!(a[1].model_version.as_deref(), Some("12"));
        assert_eq!(a[1].line, 2);
    }

    #[test]
    fn aws_rows_are_tonnes_and_restatements_keep_their_version() {
        let csv = "last_refresh_timestamp,location,model_version,payer_account_id,product_code,region_code,total_lbm_emissions_unit,total_lbm_emissions_value,total_mbm_emissions_unit,total_mbm_emissions_value,usage_account_id,usage_period_end,usage_period_start\n\
2026-10-21 00:00:00Z,US East (N. Virginia),v2.0.0,111,AmazonEC2,us-east-1,MTCO2e,1.25,MTCO2e,0.5,222,2026-08-01 00:00:00Z,2026-07-01 00:00:00Z\n\
2026-11-21 00:00:00Z,US East (N. Virginia),v3.0.0,111,AmazonEC2,us-east-1,MTCO2e,1.5,MTCO2e,0.25,222,2026-08-01 00:00:00Z,2026-07-01 00:00:00Z\n\
2026-11-21 00:00:00Z,US East (N. Virginia),v3.0.0,111,AmazonEC2,us-east-1,kgCO2e,1.5,MTCO2e,0.25,222,2026-08-01 00:00:00Z,2026-07-01 00:00:00Z\n\
2026-11-21 00:00:00Z,US East (N. Virginia),v3.0.0,111,AmazonEC2,us-east-1,MTCO2e,lots,MTCO2e,0.25,222,2026-08-01 00:00:00Z,2026-02-30 00:00:00Z\n";
        let mut r = rec();
        let (rows, findings) = read(csv.as_bytes(), "aws.csv", &mut r);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].provider, "aws");
        assert_eq!(rows[0].month, "2026-07");
        assert_eq!(rows[0].location_kgco2e, Some(1250.0));
        assert_eq!(rows[0].market_kgco2e, Some(500.0));
        assert_eq!(rows[1].model_version.as_deref(), Some("v3.0.0"));
        assert_eq!(rows[0].account.as_deref(), Some("222"));
        // A unit other than tonnes, and an impossible date: findings with their lines.
        assert_eq!(findings.len(), 2);
        assert_eq!(findings[0].line, Some(4));
        assert!(findings[0].message.contains("not MTCO2e"));
        assert_eq!(findings[1].line, Some(5));
        assert!(
            findings[1].message.contains("not a date"),
            "{}",
            findings[1].message
        );
        assert_eq!((r.rows, r.rows_used, r.rows_rejected), (4, 2, 2));
    }

    /// The same AWS rows as Parquet, with typed columns (timestamps, doubles) as AWS writes them.
    #[test]
    fn aws_parquet_reads_like_its_csv() {
        use polars::prelude::*;
        let ms = |d: &str| {
            chrono::DateTime::parse_from_rfc3339(d)
                .unwrap()
                .timestamp_millis()
        };
        let start = Series::new(
            "usage_period_start".into(),
            vec![ms("2026-07-01T00:00:00Z"), ms("2026-08-01T00:00:00Z")],
        )
        .cast(&DataType::Datetime(
            TimeUnit::Milliseconds,
            Some(TimeZone::UTC),
        ))
        .unwrap();
        let mut df = DataFrame::new(
            2,
            vec![
                Column::new("model_version".into(), vec!["v3.0.0", "v3.0.0"]),
                Column::new("region_code".into(), vec!["us-east-1", "us-east-1"]),
                Column::new("usage_account_id".into(), vec!["222", "222"]),
                Column::new("total_lbm_emissions_unit".into(), vec!["MTCO2e", "MTCO2e"]),
                Column::new("total_lbm_emissions_value".into(), vec![1.5f64, 0.25]),
                Column::new("total_mbm_emissions_value".into(), vec![Some(0.5f64), None]),
                start.into(),
            ],
        )
        .unwrap();
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes).finish(&mut df).unwrap();
        let mut r = rec();
        let (rows, findings) = read(&bytes, "aws.parquet", &mut r);
        assert!(findings.is_empty(), "{findings:?}");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].month, "2026-07");
        assert_eq!(rows[1].month, "2026-08");
        assert_eq!(rows[0].location_kgco2e, Some(1500.0));
        assert_eq!(rows[0].market_kgco2e, Some(500.0));
        assert_eq!(rows[1].market_kgco2e, None);
        assert_eq!((rows[0].line, rows[1].line), (1, 2));
        assert_eq!(r.rows_used, 2);
    }

    #[test]
    fn other_files_are_one_error() {
        let (rows, f) = read(b"a,b\n1,2\n", "x.csv", &mut rec());
        assert!(rows.is_empty());
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("not a cloud carbon export"));
    }
}
