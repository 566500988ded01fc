//! Market-based Scope 2: instruments below, equal to and above consumption, pro rata across
//! jobs, two sites with instruments, and a site without residual mix. Worked by hand:
//!
//! Site A (grid 100 g/kWh, residual mix 500, PUE 1): a1 and a3 use 1000 kWh each in July, a2
//! 3000 kWh in August. PPA for July, 0.5 MWh: July consumption 2000 kWh, so a quarter of each
//! job's energy is covered (pro rata): a1 = a3 = 750 kWh x 500 g = 375 kg. REC for August, 3 MWh:
//! equal to a2's consumption, a2 = 0 kg.
//! Site B (grid 200 g/kWh, no residual mix): b1 500 kWh in July; GO for the quarter, 2 MWh:
//! above consumption, b1 = 0 kg, surplus 1.5 MWh.
//! Site C (grid 300 g/kWh, no residual mix, no instruments): c1 100 kWh: the grid factor,
//! 30 kg, with a warning naming site C.
//! Location-based: a1 100, a3 100, a2 300, b1 100, c1 30 = 630 kg; market-based 780 kg.

use super::{assert_reconciles, close, gl, report_json, tmp_with};

const CONFIG: &str = r#"
[report]
period = "2026-Q3"
[inputs]
jobs = ["jobs.csv"]

[[site]]
id = "A"
zone = "FR"
grid_intensity_g_per_kwh = 100
pue = 1.0
residual_mix_g_per_kwh = 500
[[site.instrument]]
kind = "PPA"
period = "2026-07"
mwh = 0.5
reference = "PPA-1"
[[site.instrument]]
kind = "REC"
period = "2026-08"
mwh = 3
reference = "REC-7"

[[site]]
id = "B"
zone = "DE"
grid_intensity_g_per_kwh = 200
pue = 1.0
[[site.instrument]]
kind = "GO"
period = "2026-Q3"
mwh = 2
reference = "GO-3"

[[site]]
id = "C"
zone = "PL"
grid_intensity_g_per_kwh = 300
pue = 1.0
"#;

const JOBS: &str = "job_id,model,team,site,start,end,hardware,devices,energy_kwh\n\
a1,m,t,A,2026-07-01T00:00:00Z,2026-07-02T00:00:00Z,H100,1,1000\n\
a3,m,t,A,2026-07-05T00:00:00Z,2026-07-06T00:00:00Z,H100,1,1000\n\
a2,m,u,A,2026-08-01T00:00:00Z,2026-08-02T00:00:00Z,H100,1,3000\n\
b1,m,u,B,2026-07-10T00:00:00Z,2026-07-11T00:00:00Z,H100,1,500\n\
c1,n,u,C,2026-07-10T00:00:00Z,2026-07-11T00:00:00Z,H100,1,100\n";

#[test]
fn instruments_are_allocated_by_hand() {
    let d = tmp_with(&[("greenledger.toml", CONFIG), ("jobs.csv", JOBS)]);
    let r = report_json(d.path(), 0);
    let job = |id: &str| {
        r["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["job_id"] == id)
            .unwrap()
            .clone()
    };
    for (id, loc, market) in [
        ("a1", 100.0, 375.0),
        ("a3", 100.0, 375.0),
        ("a2", 300.0, 0.0),
        ("b1", 100.0, 0.0),
        ("c1", 30.0, 30.0),
    ] {
        let j = job(id);
        assert!(
            close(j["location_kgco2e"].as_f64().unwrap(), loc),
            "{id} location {}",
            j["location_kgco2e"]
        );
        assert!(
            close(j["market_kgco2e"].as_f64().unwrap(), market),
            "{id} market {}",
            j["market_kgco2e"]
        );
    }
    assert!(close(
        r["totals"]["location_kgco2e"].as_f64().unwrap(),
        630.0
    ));
    assert!(close(r["totals"]["market_kgco2e"].as_f64().unwrap(), 780.0));
    assert_reconciles(&r);
    let team_t = r["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["team"] == "t")
        .unwrap();
    assert!(close(team_t["market_kgco2e"].as_f64().unwrap(), 750.0));

    let ins = r["instruments"].as_array().unwrap();
    let get = |reference: &str| {
        ins.iter()
            .find(|i| i["reference"] == reference)
            .unwrap()
            .clone()
    };
    let ppa = get("PPA-1");
    assert!(close(ppa["consumption_mwh"].as_f64().unwrap(), 2.0));
    assert!(close(ppa["allocated_mwh"].as_f64().unwrap(), 0.5));
    assert!(close(ppa["share_covered"].as_f64().unwrap(), 0.25));
    assert!(close(ppa["surplus_mwh"].as_f64().unwrap(), 0.0));
    let rec = get("REC-7");
    assert!(close(rec["allocated_mwh"].as_f64().unwrap(), 3.0));
    assert!(close(rec["share_covered"].as_f64().unwrap(), 1.0));
    let go = get("GO-3");
    assert!(close(go["allocated_mwh"].as_f64().unwrap(), 0.5));
    assert!(close(go["surplus_mwh"].as_f64().unwrap(), 1.5));

    let findings = r["findings"].as_array().unwrap();
    let no_residual: Vec<&str> = findings
        .iter()
        .filter(|f| f["code"] == "market.no-residual-mix")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(no_residual.len(), 1, "{no_residual:?}");
    assert!(no_residual[0].contains("site 'C'"), "{no_residual:?}");
    assert!(findings
        .iter()
        .any(|f| f["code"] == "market.surplus" && f["message"].as_str().unwrap().contains("'B'")));
}

#[test]
fn a_job_across_two_instrument_periods_is_split_by_time() {
    // x runs 12 h in July and 12 h in August at site A, 2400 kWh: 1200 kWh in each month.
    // July: 1200 kWh against the 500 kWh PPA -> 700 kWh at 500 g; August: 1200 kWh, the REC's
    // 3000 kWh cover it all (surplus 1.8 MWh). Market: 350 kg.
    let jobs = "job_id,model,team,site,start,end,hardware,devices,energy_kwh\nx,m,t,A,2026-07-31T12:00:00Z,2026-08-01T12:00:00Z,H100,1,2400\n";
    let d = tmp_with(&[("greenledger.toml", CONFIG), ("jobs.csv", jobs)]);
    let r = report_json(d.path(), 0);
    assert!(
        close(r["totals"]["market_kgco2e"].as_f64().unwrap(), 350.0),
        "{}",
        r["totals"]
    );
    let rec = r["instruments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["reference"] == "REC-7")
        .unwrap()
        .clone();
    assert!(close(rec["surplus_mwh"].as_f64().unwrap(), 1.8));
}

#[test]
fn bad_instruments_are_config_errors() {
    for (body, want) in [
        (
            "kind = \"coupon\"\nperiod = \"2026-Q3\"\nmwh = 1\n",
            "not one of PPA",
        ),
        (
            "kind = \"supplier\"\nperiod = \"2026-Q3\"\nmwh = 1\n",
            "needs intensity_g_per_kwh",
        ),
        (
            "kind = \"PPA\"\nperiod = \"Q3\"\nmwh = 1\n",
            "instrument period",
        ),
        (
            "kind = \"PPA\"\nperiod = \"2026-Q3\"\nmwh = -1\n",
            "mwh must be >= 0",
        ),
    ] {
        let cfg = format!("[[site]]\nid = \"A\"\nzone = \"FR\"\n[[site.instrument]]\n{body}");
        let d = tmp_with(&[("greenledger.toml", &cfg)]);
        gl().args(["validate", "--config"])
            .arg(d.path().join("greenledger.toml"))
            .assert()
            .code(2)
            .stderr(predicates::str::contains(want))
            .stderr(predicates::str::contains("greenledger.toml:1:"));
    }
}
