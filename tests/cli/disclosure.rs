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
    assert!(rows.iter().all(|r| r.len() == 20));
}

/// Three sites by who buys the power. `own` (FR, 100 g/kWh, PUE 1.5, residual mix 300 g/kWh,
/// a 2 MWh wind PPA): j1 4000 kWh IT -> 6000 kWh, 600 kg location; 2 MWh at 0 g and 4 MWh x
/// 300 g = 1200 kg market. `cage`, a colocation cage in a cloud-region zone (50 g/kWh, PUE
/// 1.2): j2 1000 kWh IT -> 1200 kWh, 60 kg both ways (no residual mix: the grid factor).
/// `cloud`, by default a cloud site for its zone gcp:us-central1 (400 g/kWh, PUE 1.1, a REC
/// that must be refused): j3 2000 kWh IT -> 2200 kWh, 880 kg both ways.
/// Scope 2 = own + cage: 7200 kWh, 660 kg location, 1260 kg market; Scope 3 category 1 =
/// cloud: 2200 kWh, 880 kg. The jobs keep their whole footprint: 1540 kg = 660 + 880.
const THREE_SITES: &str = r#"
[report]
period = "2026-Q3"
net_revenue = 1000000
currency = "EUR"

[inputs]
jobs = ["jobs.csv"]

[[site]]
id = "own"
zone = "FR"
grid_intensity_g_per_kwh = 100
pue = 1.5
residual_mix_g_per_kwh = 300
[[site.instrument]]
kind = "PPA"
period = "2026-Q3"
mwh = 2
intensity_g_per_kwh = 0
technology = "wind"
market = "FR"
reference = "PPA-1"

[[site]]
id = "cage"
zone = "gcp:europe-west9"
kind = "colocation"
grid_intensity_g_per_kwh = 50
pue = 1.2

[[site]]
id = "cloud"
zone = "gcp:us-central1"
grid_intensity_g_per_kwh = 400
pue = 1.1
[[site.instrument]]
kind = "REC"
period = "2026-Q3"
mwh = 1
reference = "REC-on-cloud"
"#;

const THREE_JOBS: &str = "job_id,model,team,site,start,end,hardware,devices,energy_kwh\n\
j1,m,t,own,2026-07-01T00:00:00Z,2026-07-02T00:00:00Z,A100-SXM4-80GB,8,4000\n\
j2,m,t,cage,2026-07-01T00:00:00Z,2026-07-02T00:00:00Z,A100-SXM4-80GB,8,1000\n\
j3,m,t,cloud,2026-07-01T00:00:00Z,2026-07-02T00:00:00Z,A100-SXM4-80GB,8,2000\n";

#[test]
fn cloud_sites_are_scope_3_category_1_by_hand() {
    let d = tmp_with(&[("greenledger.toml", THREE_SITES), ("jobs.csv", THREE_JOBS)]);
    // The REC on the cloud site is refused: an error finding, exit 1, the report is made.
    let r = report_json(d.path(), 1);
    let inv = &r["inventory"]["totals"];
    let f = |v: &serde_json::Value| v.as_f64().unwrap();
    assert!(close(f(&inv["scope2_kwh"]), 7200.0), "{inv}");
    assert!(close(f(&inv["location_kgco2e"]), 660.0), "{inv}");
    assert!(close(f(&inv["market_kgco2e"]), 1260.0), "{inv}");
    // Per site and month: the three months of the quarter for each Scope 2 site.
    let sites: std::collections::BTreeSet<&str> = r["inventory"]["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["site"].as_str().unwrap())
        .collect();
    assert_eq!(sites.into_iter().collect::<Vec<_>>(), ["cage", "own"]);
    let s2: Vec<&str> = r["scope2"]["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["site"].as_str().unwrap())
        .collect();
    assert_eq!(s2, ["cage", "own"]);
    // Scope 3 category 1: the cloud site alone, with the contract's keys.
    let c = &r["scope3"]["category_1_cloud"];
    let line = &c["sites"][0];
    assert_eq!(c["sites"].as_array().unwrap().len(), 1);
    assert_eq!(line["site"], "cloud");
    assert_eq!(line["provider"], "gcp");
    assert_eq!(line["region"], "us-central1");
    assert!(close(f(&line["kwh"]), 2200.0));
    assert!(close(f(&line["location_kgco2e"]), 880.0));
    assert!(close(f(&line["market_kgco2e"]), 880.0));
    assert!(line["provider_reported"].is_null());
    assert!(line["difference_kgco2e"].is_null());
    assert!(close(f(&c["totals"]["location_kgco2e"]), 880.0));
    // The jobs keep their whole footprint, and the two scopes add up to it.
    assert!(close(f(&r["totals"]["location_kgco2e"]), 1540.0));
    let j3 = r["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_id"] == "j3")
        .unwrap();
    assert!(close(f(&j3["location_kgco2e"]), 880.0));
    // The refused instrument: a finding at the cloud site's line, and no allocation.
    let refused = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["code"] == "market.cloud-instrument")
        .expect("the REC on the cloud site is refused");
    assert_eq!(refused["severity"], "error");
    assert_eq!(refused["line"], 32);
    assert!(refused["message"]
        .as_str()
        .unwrap()
        .contains("REC-on-cloud"));
    let listed: Vec<&str> = r["instruments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reference"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["PPA-1"]);
    // ESRS E1: energy and Scope 2 of own + cage; Scope 3 the cloud share; intensities of both.
    let rows = r["esrs_e1"].as_array().unwrap();
    let value = |element: &str| {
        let row = rows
            .iter()
            .find(|x| x["element"] == format!("esrs:{element}"))
            .unwrap_or_else(|| panic!("{element} in {rows:?}"));
        (f(&row["value"]), row["scope"].as_str().unwrap().to_string())
    };
    assert!(close(
        value("EnergyConsumptionRelatedToOwnOperations").0,
        7.2
    ));
    assert!(close(
        value("GrossLocationBasedScope2GreenhouseGasEmissions").0,
        0.66
    ));
    assert!(close(
        value("GrossMarketBasedScope2GreenhouseGasEmissions").0,
        1.26
    ));
    let (s3, scope) = value("GrossScope3GreenhouseGasEmissions");
    assert!(close(s3, 0.88));
    assert_eq!(scope, "cloud");
    assert!(close(value("EnergyConsumptionFromRenewableSources").0, 2.0));
    assert!(close(
        value("PercentageOfRenewableSourcesInTotalEnergyConsumption").0,
        100.0 * 2.0 / 7.2
    ));
    assert!(close(
        value("GHGEmissionsIntensityLocationbasedTotalGHGEmissionsPerNetRevenue").0,
        1.54 / 1e6
    ));
    assert!(close(
        value("GHGEmissionsIntensityMarketbasedTotalGHGEmissionsPerNetRevenue").0,
        (1.26 + 0.88) / 1e6
    ));
}

/// Without cloud sites there is no Scope 3 line and no ESRS Scope 3 datapoint.
#[test]
fn without_cloud_sites_scope_3_is_empty() {
    let d = tmp_with(&[("greenledger.toml", CONFIG), ("jobs.csv", JOBS)]);
    let r = report_json(d.path(), 0);
    let c = &r["scope3"]["category_1_cloud"];
    assert_eq!(c["sites"].as_array().unwrap().len(), 0);
    assert_eq!(c["totals"]["kwh"], 0.0);
    assert!(!r["esrs_e1"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["element"] == "esrs:GrossScope3GreenhouseGasEmissions"));
}

/// The providers' own figures beside two cloud sites, by hand. `gcp` (gcp:us-central1,
/// project `lab`, 400 g/kWh, PUE 1.1): j3 2000 kWh IT -> 2200 kWh, 880 kg. `aws` (a bare
/// us-east-1: AWS's by the embedded table, 300 g/kWh, PUE 1.2): j4 1000 kWh -> 1200 kWh, 360 kg.
/// Google's export: lab in us-central1, July 300 kg (market 100), August 250 kg (80), no
/// September (a warning); a June row (outside the period, ignored); project `other` (no site
/// claims it: a note); a row without a region (an error with its line). AWS's: us-east-1 July
/// restated (v2.0.0 0.1 t, v3.0.0 0.12 t: the latest counts), August 0.1 t, September 0.08 t;
/// market 0.01 t a month. Over Q3: Google 550 kg (market 180), difference 880 - 550 = 330;
/// AWS 300 kg (market 30), difference 60. Over 16 July - 30 September, July counts 16/31.
const CLOUD_SITES: &str = r#"
[inputs]
jobs = ["jobs.csv"]
cloud_carbon = ["google.jsonl", "aws.csv"]

[[site]]
id = "gcp"
zone = "gcp:us-central1"
cloud_project = "lab"
grid_intensity_g_per_kwh = 400
pue = 1.1

[[site]]
id = "aws"
zone = "us-east-1"
grid_intensity_g_per_kwh = 300
pue = 1.2
"#;

const CLOUD_JOBS: &str = "job_id,model,team,site,start,end,hardware,devices,energy_kwh\n\
j3,m,t,gcp,2026-08-01T00:00:00Z,2026-08-02T00:00:00Z,A100-SXM4-80GB,8,2000\n\
j4,m,t,aws,2026-08-01T00:00:00Z,2026-08-02T00:00:00Z,A100-SXM4-80GB,8,1000\n";

const GOOGLE: &str = r#"{"usage_month":"2026-07-01","billing_account_id":"0A","project":{"id":"lab"},"service":{"description":"Compute Engine"},"location":{"region":"us-central1"},"carbon_model_version":12,"carbon_footprint_kgCO2e":{"scope1":5,"scope2":{"location_based":300,"market_based":100},"scope3":50}}
{"usage_month":"2026-08-01","billing_account_id":"0A","project":{"id":"lab"},"service":{"description":"Compute Engine"},"location":{"region":"us-central1"},"carbon_model_version":12,"carbon_footprint_kgCO2e":{"scope2":{"location_based":250,"market_based":80}}}
{"usage_month":"2026-06-01","billing_account_id":"0A","project":{"id":"lab"},"service":{"description":"Compute Engine"},"location":{"region":"us-central1"},"carbon_model_version":12,"carbon_footprint_kgCO2e":{"scope2":{"location_based":999,"market_based":999}}}
{"usage_month":"2026-08-01","billing_account_id":"0A","project":{"id":"other"},"service":{"description":"Compute Engine"},"location":{"region":"us-central1"},"carbon_model_version":12,"carbon_footprint_kgCO2e":{"scope2":{"location_based":70,"market_based":7}}}
{"usage_month":"2026-08-01","billing_account_id":"0A","project":{"id":"lab"},"service":{"description":"BigQuery"},"location":{},"carbon_model_version":12,"carbon_footprint_kgCO2e":{"scope2":{"location_based":1}}}
"#;

const AWS: &str = "model_version,payer_account_id,product_code,region_code,total_lbm_emissions_unit,total_lbm_emissions_value,total_mbm_emissions_unit,total_mbm_emissions_value,usage_account_id,usage_period_end,usage_period_start\n\
v2.0.0,1,AmazonEC2,us-east-1,MTCO2e,0.1,MTCO2e,0.01,2,2026-08-01 00:00:00Z,2026-07-01 00:00:00Z\n\
v3.0.0,1,AmazonEC2,us-east-1,MTCO2e,0.12,MTCO2e,0.01,2,2026-08-01 00:00:00Z,2026-07-01 00:00:00Z\n\
v3.0.0,1,AmazonEC2,us-east-1,MTCO2e,0.1,MTCO2e,0.01,2,2026-09-01 00:00:00Z,2026-08-01 00:00:00Z\n\
v3.0.0,1,AmazonEC2,us-east-1,MTCO2e,0.08,MTCO2e,0.01,2,2026-10-01 00:00:00Z,2026-09-01 00:00:00Z\n";

#[test]
fn the_providers_exports_sit_beside_the_cloud_sites_by_hand() {
    let d = tmp_with(&[
        ("greenledger.toml", CLOUD_SITES),
        ("jobs.csv", CLOUD_JOBS),
        ("google.jsonl", GOOGLE),
        ("aws.csv", AWS),
    ]);
    let run = |period: &str| {
        let out = d.path().join("out");
        super::gl()
            .args([
                "report", "--quiet", "--format", "json,csv", "--force", "--config",
            ])
            .arg(d.path().join("greenledger.toml"))
            .args(["--period", period, "--out"])
            .arg(&out)
            .assert()
            .code(1);
        super::read_json(&out.join("report.json"))
    };
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    let r = run("2026-Q3");
    let sites = r["scope3"]["category_1_cloud"]["sites"].as_array().unwrap();
    let (g, a) = (&sites[0], &sites[1]);
    assert_eq!(
        (g["site"].as_str(), a["site"].as_str()),
        (Some("gcp"), Some("aws"))
    );
    assert_eq!(a["provider"], "aws");
    assert_eq!(a["region"], "us-east-1");
    assert!(close(f(&g["location_kgco2e"]), 880.0));
    assert!(
        close(f(&g["provider_reported"]["location_kgco2e"]), 550.0),
        "{g}"
    );
    assert!(close(f(&g["provider_reported"]["market_kgco2e"]), 180.0));
    assert_eq!(g["provider_reported"]["model_version"], "12");
    assert!(g["provider_reported"]["source"]
        .as_str()
        .unwrap()
        .contains("Google Cloud Carbon Footprint"));
    assert!(close(f(&g["difference_kgco2e"]), 330.0));
    assert!(close(f(&a["location_kgco2e"]), 360.0));
    assert!(
        close(f(&a["provider_reported"]["location_kgco2e"]), 300.0),
        "{a}"
    );
    assert!(close(f(&a["provider_reported"]["market_kgco2e"]), 30.0));
    assert_eq!(a["provider_reported"]["model_version"], "v3.0.0");
    assert!(close(f(&a["difference_kgco2e"]), 60.0));
    let finding = |code: &str| super::findings_of(&r, code);
    let missing = finding("cloud.month-missing");
    assert_eq!(missing.len(), 1);
    assert!(missing[0]["message"].as_str().unwrap().contains("site gcp"));
    assert!(missing[0]["message"].as_str().unwrap().contains("2026-09"));
    let restated = finding("cloud.restated");
    assert!(restated[0]["message"].as_str().unwrap().contains("v2.0.0"));
    let unmatched = finding("cloud.unmatched-rows");
    assert!(
        unmatched[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("1 row(s)"),
        "{unmatched:?}"
    );
    let bad = finding("cloud.bad-row");
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["file"], "google.jsonl");
    assert_eq!(bad[0]["line"], 5);
    let csv = std::fs::read_to_string(d.path().join("out/csv/scope3.csv")).unwrap();
    assert!(csv.contains("site,gcp,gcp,us-central1,2200"), "{csv}");
    // Part of July: its rows count by the share of July inside the period.
    let r = run("2026-07-16..2026-09-30");
    let sites = r["scope3"]["category_1_cloud"]["sites"].as_array().unwrap();
    let july = 16.0 / 31.0;
    assert!(close(
        f(&sites[0]["provider_reported"]["location_kgco2e"]),
        300.0 * july + 250.0
    ));
    assert!(close(
        f(&sites[1]["provider_reported"]["location_kgco2e"]),
        120.0 * july + 100.0 + 80.0
    ));
}

/// Azure's item details beside an Azure site, by hand. `az` (azure:eastus, 300 g/kWh, PUE 1.2):
/// j5 1000 kWh IT -> 1200 kWh, 360 kg, and 360 kg market-based (no residual mix: the grid
/// factor). Azure's response for August (the month in the file's name) gives `east us` 200 kg,
/// read as market-based: the difference is market-based, 360 - 200 = 160 kg; July and
/// September have no export (a warning). A second response keeps its request (July, Scope 2
/// only) and gives 150 kg; with it the July warning goes and Azure's figure is 350 kg. A third
/// response by subscription is refused as a whole (an error at its line 1); a row without a
/// number is an error with its line.
const AZURE_SITE: &str = r#"
[inputs]
jobs = ["jobs.csv"]
cloud_carbon = ["azure-2026-08.json", "july.json", "by-subscription-2026-09.json"]

[[site]]
id = "az"
zone = "azure:eastus"
grid_intensity_g_per_kwh = 300
pue = 1.2
"#;

const AZURE_AUGUST: &str = r#"{
  "subscriptionAccessDecisionList": [{ "subscriptionId": "sub-1", "decision": "Allowed" }],
  "value": [
    { "dataType": "ItemDetailsData", "itemName": "east us", "categoryType": "Location",
      "latestMonthEmissions": 200, "previousMonthEmissions": 150,
      "monthOverMonthEmissionsChangeRatio": 0.333, "monthlyEmissionsChangeValue": 50 },
    { "dataType": "ItemDetailsData", "itemName": "west europe", "categoryType": "Location",
      "latestMonthEmissions": 40 },
    { "dataType": "ItemDetailsData", "itemName": "north europe", "categoryType": "Location" }
  ]
}"#;

const AZURE_JULY: &str = r#"{"reportType":"ItemDetailsReport","subscriptionList":["sub-1"],"carbonScopeList":["Scope2"],"dateRange":{"start":"2026-07-01","end":"2026-07-01"},"categoryType":"Location","value":[{"dataType":"ItemDetailsData","itemName":"east us","categoryType":"Location","latestMonthEmissions":150}]}"#;

const AZURE_BY_SUBSCRIPTION: &str = r#"{"value":[{"dataType":"ItemDetailsData","itemName":"sub-1","categoryType":"Subscription","latestMonthEmissions":999}]}"#;

#[test]
fn azures_item_details_sit_beside_an_azure_site_by_hand() {
    let jobs = "job_id,model,team,site,start,end,hardware,devices,energy_kwh\n\
j5,m,t,az,2026-08-01T00:00:00Z,2026-08-02T00:00:00Z,A100-SXM4-80GB,8,1000\n";
    let run = |files: &[(&str, &str)], config: &str| {
        let mut all = vec![("greenledger.toml", config), ("jobs.csv", jobs)];
        all.extend_from_slice(files);
        let d = tmp_with(&all);
        let out = d.path().join("out");
        super::gl()
            .args(["report", "--quiet", "--format", "json,csv", "--config"])
            .arg(d.path().join("greenledger.toml"))
            .args(["--period", "2026-Q3", "--out"])
            .arg(&out)
            .assert()
            .code(1);
        let csv = std::fs::read_to_string(out.join("csv/scope3.csv")).unwrap();
        (super::read_json(&out.join("report.json")), csv)
    };
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    let one = AZURE_SITE.replace(r#", "july.json", "by-subscription-2026-09.json""#, "");
    let (r, csv) = run(&[("azure-2026-08.json", AZURE_AUGUST)], &one);
    let site = &r["scope3"]["category_1_cloud"]["sites"][0];
    assert_eq!(
        (site["provider"].as_str(), site["region"].as_str()),
        (Some("azure"), Some("eastus"))
    );
    assert!(close(f(&site["location_kgco2e"]), 360.0));
    assert!(close(f(&site["market_kgco2e"]), 360.0));
    let p = &site["provider_reported"];
    assert!(p["location_kgco2e"].is_null(), "{p}");
    assert!(close(f(&p["market_kgco2e"]), 200.0), "{p}");
    assert!(p["source"]
        .as_str()
        .unwrap()
        .contains("Azure carbon optimisation"));
    assert!(close(f(&site["difference_kgco2e"]), 160.0));
    assert_eq!(site["difference_method"], "market-based");
    assert!(csv.contains(",160,market-based"), "{csv}");
    let codes = |r: &serde_json::Value| -> Vec<(String, Option<u64>, String)> {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["code"].as_str().unwrap().starts_with("cloud."))
            .map(|x| {
                (
                    x["code"].as_str().unwrap().to_string(),
                    x["line"].as_u64(),
                    x["message"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let found = codes(&r);
    let has = |code: &str, text: &str| found.iter().any(|(c, _, m)| c == code && m.contains(text));
    assert!(has("cloud.month-missing", "2026-07, 2026-09"), "{found:?}");
    assert!(
        has("cloud.azure-scopes-assumed", "Scope 2 alone"),
        "{found:?}"
    );
    assert!(has("cloud.unmatched-rows", "azure:westeurope"), "{found:?}");
    let bad: Vec<_> = found
        .iter()
        .filter(|(c, _, _)| c == "cloud.bad-row")
        .collect();
    assert_eq!(bad.len(), 1, "{found:?}");
    assert_eq!(bad[0].1, Some(9), "the row without a number, by its line");

    // With July's response (its request kept) and a report by subscription.
    let (r, _) = run(
        &[
            ("azure-2026-08.json", AZURE_AUGUST),
            ("july.json", AZURE_JULY),
            ("by-subscription-2026-09.json", AZURE_BY_SUBSCRIPTION),
        ],
        AZURE_SITE,
    );
    let site = &r["scope3"]["category_1_cloud"]["sites"][0];
    assert!(close(f(&site["provider_reported"]["market_kgco2e"]), 350.0));
    assert!(close(f(&site["difference_kgco2e"]), 10.0));
    let found = codes(&r);
    let missing: Vec<_> = found
        .iter()
        .filter(|(c, _, _)| c == "cloud.month-missing")
        .collect();
    assert!(missing[0].2.contains("2026-09") && !missing[0].2.contains("2026-07"));
    let refused = found
        .iter()
        .find(|(c, _, _)| c == "cloud.unrecognised")
        .expect("the report by subscription is refused");
    assert!(refused.2.contains("not by Location"), "{refused:?}");
    assert_eq!(refused.1, Some(1));
}
