//! ESRS E1 datapoints, worked out by hand from a one-site inventory.
//!
//! Site s (FR, its own 100 g/kWh, PUE 1.5, residual mix 300 g/kWh): job j1 metered 4000 kWh IT
//! in July -> 6000 kWh = 6 MWh facility energy (the whole Scope 2: no telemetry, no idle).
//! Location-based 6000 x 100 g = 0.6 t. Instruments for Q3: a 2 MWh wind PPA and a 1 MWh GO
//! with no technology, both at 0 g/kWh: 3 of the 6 MWh covered, 3 MWh x 300 g = 0.9 t
//! market-based. Renewable: the PPA's 2 MWh only (the GO names no technology: a warning),
//! 2 / 6 = 33.33 %. Net revenue 1,000,000 EUR: 6e-7 and 9e-7 tCO2e per EUR.
//! Scope 2 table: the PPA (French market, 2026 vintage) meets both criteria; the GO is from
//! the German market: it lacks the same-market one. Half the 6 MWh is not covered.

use super::{close, report_json, tmp_with};

const CONFIG: &str = r#"
[report]
period = "2026-Q3"
net_revenue = 1000000
currency = "EUR"

[inputs]
jobs = ["jobs.csv"]

[[site]]
id = "s"
zone = "FR"
grid_intensity_g_per_kwh = 100
pue = 1.5
residual_mix_g_per_kwh = 300

[[site.instrument]]
kind = "PPA"
period = "2026-Q3"
mwh = 2
intensity_g_per_kwh = 0
technology = "Wind"
market = "FR"
reference = "PPA-1"

[[site.instrument]]
kind = "GO"
period = "2026-Q3"
mwh = 1
intensity_g_per_kwh = 0
market = "DE"
reference = "GO-1"
"#;

const JOBS: &str = "job_id,model,team,site,start,end,hardware,devices,energy_kwh\nj1,m,t,s,2026-07-01T00:00:00Z,2026-07-02T00:00:00Z,A100-SXM4-80GB,8,4000\n";

#[test]
fn esrs_e1_datapoints_match_the_hand_calculation() {
    let d = tmp_with(&[("greenledger.toml", CONFIG), ("jobs.csv", JOBS)]);
    let r = report_json(d.path(), 0);
    let rows = r["esrs_e1"].as_array().unwrap();
    let value = |element: &str| {
        let row = rows
            .iter()
            .find(|x| x["element"] == format!("esrs:{element}"))
            .unwrap_or_else(|| panic!("{element} in {rows:?}"));
        (
            row["value"].as_f64().unwrap(),
            row["unit"].as_str().unwrap().to_string(),
        )
    };
    for (element, want, unit) in [
        ("EnergyConsumptionRelatedToOwnOperations", 6.0, "MWh"),
        (
            "GrossLocationBasedScope2GreenhouseGasEmissions",
            0.6,
            "tCO2e",
        ),
        ("GrossMarketBasedScope2GreenhouseGasEmissions", 0.9, "tCO2e"),
        ("EnergyConsumptionFromRenewableSources", 2.0, "MWh"),
        (
            "PercentageOfRenewableSourcesInTotalEnergyConsumption",
            100.0 / 3.0,
            "%",
        ),
        (
            "GHGEmissionsIntensityLocationbasedTotalGHGEmissionsPerNetRevenue",
            6e-7,
            "tCO2e/EUR",
        ),
        (
            "GHGEmissionsIntensityMarketbasedTotalGHGEmissionsPerNetRevenue",
            9e-7,
            "tCO2e/EUR",
        ),
    ] {
        let (v, u) = value(element);
        assert!(
            close(v, want) || (v - want).abs() < 1e-15,
            "{element}: {v}, want {want}"
        );
        assert_eq!(u, unit, "{element}");
    }
    assert_eq!(rows[0]["scope"], "s");
    assert_eq!(rows[0]["period"], "2026-Q3");
    let codes = super::finding_codes(&r);
    assert!(
        codes.contains(&"esrs.instrument-without-technology"),
        "{codes:?}"
    );
}

#[test]
fn the_csv_cites_the_sha256_of_report_json() {
    use sha2::Digest;
    let d = tmp_with(&[("greenledger.toml", CONFIG), ("jobs.csv", JOBS)]);
    let out = d.path().join("out");
    super::gl()
        .args(["report", "--quiet", "--format", "json,csv", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let sha = format!(
        "{:x}",
        sha2::Sha256::digest(std::fs::read(out.join("report.json")).unwrap())
    );
    let csv = std::fs::read_to_string(out.join("csv/esrs-e1.csv")).unwrap();
    assert!(
        csv.starts_with("element,label,value,unit,period,scope,method,source\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 8, "{csv}");
    assert!(
        csv.lines()
            .skip(1)
            .all(|l| l.ends_with(&format!("report.json sha256 {sha}"))),
        "{csv}"
    );
}

#[test]
fn net_revenue_needs_its_currency() {
    let cfg = CONFIG.replace("currency = \"EUR\"\n", "");
    let d = tmp_with(&[("greenledger.toml", &cfg), ("jobs.csv", JOBS)]);
    super::gl()
        .args(["validate", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "net_revenue needs a number > 0 and a currency",
        ));
}

#[test]
fn the_scope2_table_lists_sites_instruments_and_criteria() {
    let d = tmp_with(&[("greenledger.toml", CONFIG), ("jobs.csv", JOBS)]);
    let r = report_json(d.path(), 0);
    let s2 = &r["scope2"];
    let site = &s2["sites"][0];
    assert_eq!(site["site"], "s");
    assert_eq!(site["zone"], "FR");
    for (k, want) in [
        ("mwh", 6.0),
        ("location_tco2e", 0.6),
        ("market_tco2e", 0.9),
        ("instruments_mwh", 3.0),
        ("share_not_covered", 0.5),
        ("residual_mix_g_per_kwh", 300.0),
    ] {
        assert!(close(site[k].as_f64().unwrap(), want), "{k}: {}", site[k]);
    }
    assert!(close(s2["total"]["market_tco2e"].as_f64().unwrap(), 0.9));
    let ins = s2["instruments"].as_array().unwrap();
    let ppa = ins.iter().find(|i| i["kind"] == "PPA").unwrap();
    let go = ins.iter().find(|i| i["kind"] == "GO").unwrap();
    assert_eq!(ppa["technology"], "wind");
    assert!(close(ppa["mwh"].as_f64().unwrap(), 2.0));
    assert_eq!(ppa["vintage_in_reporting_year"], "meets");
    assert_eq!(ppa["same_market"], "meets");
    assert_eq!(go["same_market"], "lacks");
    assert!(!s2["exclusions"].as_array().unwrap().is_empty());
    // The CSV: a site row, the total, two instruments, the exclusions; every row 17 cells.
    let out = d.path().join("out");
    super::gl()
        .args([
            "report", "--quiet", "--format", "csv", "--force", "--config",
        ])
        .arg(d.path().join("greenledger.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let csv = std::fs::read_to_string(out.join("csv/scope2.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.iter().filter(|r| &r[0] == "instrument").count(), 2);
    assert_eq!(rows.iter().filter(|r| &r[0] == "total").count(), 1);
    assert!(rows.iter().all(|r| r.len() == 17));
}
