//! The hourly Scope 2 (granular certificates matched hour by hour) and the 24/7 CFE score, by
//! hand.

use super::{close, read_json, tmp_with};

/// A British site at PUE 1 (400 g/kWh residual mix) draws 6.25 kWh in each of two hours (a
/// 12.5 kWh job from 00:00 to 02:00). Certificates: 8 kWh of British wind in hour 0 (6.25
/// matched, 1.75 excess), 5 kWh of French hydro in hour 1 (not deliverable), 4 kWh in hour 5
/// (no consumption: excess). Matched 6.25, unmatched 6.25 at 400 g = 2.5 kg, excess 5.75, not
/// deliverable 5. The grid's carbon-free share is 60 % in hour 1: CFE = (6.25 + 6.25 x 0.6) /
/// 12.5 = 0.80. A REC of 0.0125 MWh for the day on the same site makes the 2015 market-based
/// figure 0 kg (pro rata over the period, whatever the hour); the hourly one stays 2.5 kg.
const CONFIG: &str = r#"
[report]
period = "2026-07-01..2026-07-01"
scope2_method = "hourly"

[inputs]
jobs = ["jobs.csv"]
grid = ["gb.csv"]
certificates = ["gc.csv"]

[[site]]
id = "london-1"
zone = "GB"
kind = "owned"
pue = 1.0
residual_mix_g_per_kwh = 400

[[site.instrument]]
kind = "REC"
period = "2026-07-01..2026-07-01"
mwh = 0.0125
reference = "annual REC"
technology = "wind"
"#;

const JOBS: &str = "job_id,model,team,site,start,end,hardware,devices,energy_kwh\n\
j1,m,t,london-1,2026-07-01T00:00:00Z,2026-07-01T02:00:00Z,A100-SXM4-80GB,8,12.5\n";

const GRID: &str = "Datetime (UTC),Country,Zone name,Zone id,Carbon intensity gCO₂eq/kWh (direct),Carbon intensity gCO₂eq/kWh (Life cycle),Carbon-free energy percentage (CFE%),Renewable energy percentage (RE%),Data source,Data estimated,Data estimation method\n\
2026-07-01 00:00:00,Great Britain,Great Britain,GB,200,250,70,50,elexon,false,\n\
2026-07-01 01:00:00,Great Britain,Great Britain,GB,220,270,60,45,elexon,false,\n\
2026-07-01 05:00:00,Great Britain,Great Britain,GB,180,230,75,55,elexon,false,\n";

const CERTS: &str = "certificate_id,site,production_starting_interval,production_ending_interval,face_value_wh,energy_source,issue_market_zone,device_id,certificate_status\n\
GC-1,london-1,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,8000,wind,GB,WF-1,issued\n\
GC-2,london-1,2026-07-01T01:00:00Z,2026-07-01T02:00:00Z,5000,hydro,FR,HY-7,issued\n\
GC-3,london-1,2026-07-01T05:00:00Z,2026-07-01T06:00:00Z,4000,wind,GB,WF-1,issued\n";

/// A run's report.json, scope2-hourly.csv, HTML, the PDF's text and the exit code.
struct Run {
    r: serde_json::Value,
    csv: String,
    scope2: String,
    html: String,
    pdf: String,
    code: i32,
}

fn run(certs: &str) -> Run {
    let d = tmp_with(&[
        ("greenledger.toml", CONFIG),
        ("jobs.csv", JOBS),
        ("gb.csv", GRID),
        ("gc.csv", certs),
    ]);
    let out = d.path().join("out");
    let o = super::gl()
        .args([
            "report",
            "--quiet",
            "--format",
            "json,csv,html,pdf",
            "--config",
        ])
        .arg(d.path().join("greenledger.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let pdf = lopdf::Document::load(out.join("report.pdf")).unwrap();
    Run {
        r: read_json(&out.join("report.json")),
        csv: std::fs::read_to_string(out.join("csv/scope2-hourly.csv")).unwrap(),
        scope2: std::fs::read_to_string(out.join("csv/scope2.csv")).unwrap(),
        html: std::fs::read_to_string(out.join("report.html")).unwrap(),
        pdf: pdf
            .get_pages()
            .keys()
            .map(|n| pdf.extract_text(&[*n]).unwrap_or_default())
            .collect(),
        code: o.status.code().unwrap_or(-1),
    }
}

#[test]
fn the_two_hour_case_by_hand() {
    let Run {
        r,
        csv,
        scope2,
        html,
        pdf,
        ..
    } = run(CERTS);
    // The HTML and the PDF carry the section, the comparison and the exemption options.
    // (The PDF wraps lines anywhere: compared without whitespace.)
    let squeeze = |s: &str| -> String { s.chars().filter(|c| !c.is_whitespace()).collect() };
    for text in [squeeze(&html), squeeze(&pdf)] {
        assert!(text.contains(&squeeze(
            "Hour by hour: granular certificates and the 24/7 carbon-free score"
        )));
        assert!(text.contains("under5GWh"), "the exemption options");
    }
    assert!(html.contains(r#"id="heatmap_london-1""#), "the heat map");
    assert!(
        html.contains(
            "certified sites' Scope 2, market-based with certificates matched hour by hour"
        ),
        "the headline follows scope2_method"
    );
    let h = &r["scope2"]["hourly"];
    assert_eq!(h["headline_method"], "hourly");
    let s = &h["sites"][0];
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    assert_eq!(s["site"], "london-1");
    assert!(close(f(&s["consumption_kwh"]), 12.5), "{s}");
    assert!(close(f(&s["matched_kwh"]), 6.25));
    assert!(close(f(&s["market_kgco2e"]), 2.5));
    assert!(close(f(&s["excess_kwh"]), 5.75));
    assert!(close(f(&s["not_deliverable_kwh"]), 5.0));
    assert!(close(f(&s["cfe_score"]), 0.8), "{s}");
    // The 2015 rules: the annual REC covers everything, 0 kg; side by side with 2.5.
    assert!(close(f(&s["market_2015_kgco2e"]), 0.0), "{s}");
    assert!(close(f(&h["totals"]["market_kgco2e"]), 2.5));
    assert!(close(f(&h["totals"]["cfe_score"]), 0.8));
    // 12.5 kWh in a day is far under every exemption threshold.
    let ex = &h["exemption"]["options"];
    assert_eq!(ex.as_array().unwrap().len(), 3);
    assert!(ex.as_array().unwrap().iter().all(|o| o["under"] == true));
    // The French certificate is named as not deliverable.
    assert!(r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["code"] == "certificates.not-deliverable"));
    // The job holds all the consumption: its hourly market-based figure is the site's, and the
    // clean-energy metric takes it (2.5 kg over 12.5 kWh = 200 g/kWh).
    let j = super::job(&r, "j1");
    assert!(close(f(&j["market_hourly_kgco2e"]), 2.5), "{j}");
    let team = &r["teams"][0];
    assert!(close(f(&team["market_hourly_kgco2e"]), 2.5));
    let clean = team["score_details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["practice"] == "clean_energy")
        .unwrap();
    assert!(close(f(&clean["metric"]), 200.0), "{clean}");
    // The what-if: 6.25 kWh unmatched, 5.75 kWh of the site's certificates unmatched: 5.75 kWh
    // more matched, 2.5 x 5.75 / 6.25 = 2.3 kg saved; CFE from 0.8 to (10 + 5.75 x 0.4) / 12.5
    // = 0.984.
    let w = &h["whatifs"][0];
    assert!(
        close(f(&w["gain_kwh"]), 5.75) && close(f(&w["saving_kgco2e"]), 2.3),
        "{w}"
    );
    assert!(
        close(f(&w["cfe_now"]), 0.8) && close(f(&w["cfe_if_shifted"]), 0.984),
        "{w}"
    );
    let wi = r["whatifs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["kind"] == "hourly_matching")
        .unwrap();
    assert!(close(f(&wi["saving_kgco2e"]), 2.3));
    assert!(
        wi["message"]
            .as_str()
            .unwrap()
            .contains("from 80 % to 98 %"),
        "{wi}"
    );
    // scope2.csv sets the hourly figures beside the 2015 ones: 0.0025 t, half matched, CFE 0.8.
    assert!(scope2
        .lines()
        .next()
        .unwrap()
        .ends_with(",market_hourly_tco2e,matched_share,cfe_score"));
    let site_row = scope2
        .lines()
        .find(|l| l.starts_with("site,london-1,"))
        .unwrap();
    assert!(site_row.ends_with(",0.0025,0.5,0.8"), "{site_row}");
    // The CSV: one row per site and hour, hours 0, 1 and 5.
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "site,hour,consumption_kwh,matched_kwh,excess_kwh,unmatched_kwh,not_deliverable_kwh,grid_cfe");
    assert_eq!(rows.len(), 4, "{csv}");
    assert!(
        rows[1].starts_with("london-1,2026-07-01T00:00:00Z,6.25,6.25,1.75,0,0,0.7"),
        "{csv}"
    );
    assert!(
        rows[2].starts_with("london-1,2026-07-01T01:00:00Z,6.25,0,0,6.25,5,0.6"),
        "{csv}"
    );
    assert!(
        rows[3].starts_with("london-1,2026-07-01T05:00:00Z,0,0,4,0,0,0.75"),
        "{csv}"
    );
}

#[test]
fn bad_certificates_are_findings_with_their_lines() {
    let certs = format!(
        "{CERTS}GC-1,london-1,2026-07-01T03:00:00Z,2026-07-01T04:00:00Z,1000,wind,GB,WF-1,issued\n\
GC-4,london-1,2026-07-01T00:00:00Z,2026-07-01T02:00:00Z,1000,wind,GB,WF-1,issued\n\
GC-5,london-1,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,9000,wind,GB,WF-1,cancelled\n\
GC-6,london-1,2026-02-30T00:00:00Z,2026-07-01T01:00:00Z,9000,wind,GB,WF-1,issued\n"
    );
    let Run { r, code, .. } = run(&certs);
    assert_eq!(code, 1);
    let of = |c: &str| super::findings_of(&r, c);
    let dup = of("certificates.duplicate");
    assert_eq!(dup.len(), 1);
    assert_eq!(dup[0]["line"], 5);
    assert!(dup[0]["message"]
        .as_str()
        .unwrap()
        .contains("first at gc.csv:2"));
    let bad = of("certificates.bad-row");
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert_eq!(bad[0]["line"], 6);
    assert!(bad[0]["message"].as_str().unwrap().contains("120 minutes"));
    assert_eq!(bad[1]["line"], 8);
    assert!(of("certificates.not-used")[0]["message"]
        .as_str()
        .unwrap()
        .contains("GC-5 (cancelled)"));
    // None of them changed the matching.
    let s = &r["scope2"]["hourly"]["sites"][0];
    assert!(close(s["matched_kwh"].as_f64().unwrap(), 6.25));
    assert!(close(s["certificates_kwh"].as_f64().unwrap(), 17.0));
}

/// Without certificates nothing of this appears, and the 2015 table is as before.
#[test]
fn without_certificates_there_is_no_hourly_scope2() {
    let d = tmp_with(&[
        (
            "greenledger.toml",
            &CONFIG.replace("certificates = [\"gc.csv\"]\n", ""),
        ),
        ("jobs.csv", JOBS),
        ("gb.csv", GRID),
    ]);
    let out = d.path().join("out");
    super::gl()
        .args(["report", "--quiet", "--format", "json,csv", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let r = read_json(&out.join("report.json"));
    assert!(r["scope2"]["hourly"].is_null());
    assert_eq!(r["scope2"]["sites"][0]["market_tco2e"], 0.0);
    let csv = std::fs::read_to_string(out.join("csv/scope2-hourly.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1, "header only: {csv}");
}

/// A sampled job is matched by its own hourly profile, not spread evenly: 100 W in hour 0
/// (plus the one-minute ramp to 300 W: 366,000 J) and 300 W in hour 1 (1,080,000 J), at PUE 1,
/// with a 300 Wh certificate in hour 1 only. By its profile hour 1 draws 0.3 kWh: all matched.
/// Spread evenly, hour 1 would draw 0.2008 kWh, and 0.2008 would be matched.
#[test]
fn sampled_jobs_are_matched_by_their_hourly_profile() {
    let power = super::two_hour_power();
    let cfg = "[report]\nperiod = \"2026-07-01..2026-07-01\"\n[inputs]\njobs = [\"jobs.csv\"]\ntelemetry = [\"power.csv\"]\ncertificates = [\"gc.csv\"]\n[[site]]\nid = \"p\"\nzone = \"FR\"\npue = 1.0\nresidual_mix_g_per_kwh = 60\n";
    let jobs = "job_id,model,team,site,start,end,hardware,devices,nodes,gpu_ids\ns1,m,t,p,2026-07-01T00:00:00Z,2026-07-01T02:00:00Z,H100,1,n1,0\n";
    let certs = "certificate_id,site,production_starting_interval,production_ending_interval,face_value_wh,energy_source,issue_market_zone\nGC-1,p,2026-07-01T01:00:00Z,2026-07-01T02:00:00Z,300,hydro,FR\n";
    let d = tmp_with(&[
        ("greenledger.toml", cfg),
        ("jobs.csv", jobs),
        ("power.csv", &power),
        ("gc.csv", certs),
    ]);
    let r = super::report_json(d.path(), 0);
    assert_eq!(r["jobs"][0]["energy_source"], "sampled");
    let s = &r["scope2"]["hourly"]["sites"][0];
    let (h0, h1) = (366_000.0 / 3.6e6, 1_080_000.0 / 3.6e6);
    assert!(
        close(s["consumption_kwh"].as_f64().unwrap(), h0 + h1),
        "{s}"
    );
    assert!(close(s["matched_kwh"].as_f64().unwrap(), h1), "{s}");
    assert!(
        close(s["market_kgco2e"].as_f64().unwrap(), h0 * 0.06),
        "{s}"
    );
}

/// A PPA's metered output per hour (`[[site.instrument]] profile`) is matched as certificates
/// are: 4 kWh in hour 0 and 8 kWh in hour 1 against 6.25 kWh a hour: 4 + 6.25 = 10.25 matched,
/// 1.75 excess, 2.25 unmatched at 400 g = 0.9 kg. A row without a number is an error finding
/// with its line.
#[test]
fn a_ppa_profile_is_matched_hour_by_hour() {
    let config = CONFIG
        .replace("certificates = [\"gc.csv\"]\n", "")
        .replace("kind = \"REC\"", "kind = \"PPA\"\nprofile = \"ppa.csv\"");
    let ppa = "hour,mwh\n2026-07-01T00:00:00Z,0.004\n2026-07-01T01:00:00Z,0.008\n2026-07-01T02:00:00Z,lots\n";
    let d = tmp_with(&[
        ("greenledger.toml", &config),
        ("jobs.csv", JOBS),
        ("gb.csv", GRID),
        ("ppa.csv", ppa),
    ]);
    let r = super::report_json(d.path(), 1);
    let s = &r["scope2"]["hourly"]["sites"][0];
    let f = |k: &str| s[k].as_f64().unwrap();
    assert!(close(f("matched_kwh"), 10.25), "{s}");
    assert!(close(f("excess_kwh"), 1.75));
    assert!(close(f("market_kgco2e"), 0.9));
    let bad = super::findings_of(&r, "certificates.bad-row");
    assert_eq!(
        (bad[0]["file"].as_str(), bad[0]["line"].as_u64()),
        (Some("ppa.csv"), Some(4))
    );
    assert!(r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["kind"] == "generation profile" && i["rows_used"] == 2));
}
