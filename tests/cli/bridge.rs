//! The bridge between two reports, by hand (LMDI-I, additive).

use super::{close, read_json, tmp_with};

fn report(
    dir: &std::path::Path,
    period: &str,
    pue: f64,
    g: f64,
    jobs: &str,
    previous: Option<&std::path::Path>,
) -> serde_json::Value {
    let config = format!("[report]\nperiod = \"{period}\"\n\n[inputs]\njobs = [\"jobs-{period}.csv\"]\n\n[[site]]\nid = \"s\"\nzone = \"FR\"\ngrid_intensity_g_per_kwh = {g}\npue = {pue}\n");
    std::fs::write(dir.join(format!("{period}.toml")), config).unwrap();
    std::fs::write(dir.join(format!("jobs-{period}.csv")), jobs).unwrap();
    let out = dir.join(format!("out-{period}"));
    let mut cmd = super::gl();
    cmd.args(["report", "--quiet", "--format", "json,csv", "--config"])
        .arg(dir.join(format!("{period}.toml")))
        .arg("--out")
        .arg(&out);
    if let Some(p) = previous {
        cmd.arg("--previous").arg(p);
    }
    cmd.assert().code(0);
    read_json(&out.join("report.json"))
}

/// One site, one team: 1000 -> 1500 GPU-hours, 400 -> 300 W, PUE 1.2 -> 1.1, 100 -> 50 g/kWh.
/// 48 kg -> 24.75 kg; activity +14.232, energy intensity -10.098, PUE -3.054, grid -24.330,
/// sum -23.25 kg. A team that enters (u, 100 h at 500 W: 50 kWh x 1.1 x 0.05 = 2.75 kg).
#[test]
fn the_hand_case_and_a_team_that_enters() {
    let d = tmp_with(&[]);
    let q2 = "job_id,model,team,site,start,end,hardware,devices,gpu_hours,avg_power_w\n\
a,m,t,s,2026-05-01T00:00:00Z,2026-05-02T00:00:00Z,A100-SXM4-80GB,8,1000,400\n";
    let q3 = "job_id,model,team,site,start,end,hardware,devices,gpu_hours,avg_power_w\n\
b,m,t,s,2026-08-01T00:00:00Z,2026-08-02T00:00:00Z,A100-SXM4-80GB,8,1500,300\n\
c,n,u,s,2026-08-03T00:00:00Z,2026-08-04T00:00:00Z,A100-SXM4-80GB,8,100,500\n";
    report(d.path(), "2026-Q2", 1.2, 100.0, q2, None);
    let r = report(
        d.path(),
        "2026-Q3",
        1.1,
        50.0,
        q3,
        Some(&d.path().join("out-2026-Q2/report.json")),
    );
    let b = &r["bridge"];
    assert_eq!(b["from"]["period"], "2026-Q2");
    let t = b["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "t")
        .unwrap();
    let e = &t["location"]["effects"];
    let r3 = |v: &serde_json::Value| (v.as_f64().unwrap() * 1000.0).round() / 1000.0;
    assert_eq!(r3(&e["activity"]), 14.232);
    assert_eq!(r3(&e["energy_intensity"]), -10.098);
    assert_eq!(r3(&e["pue"]), -3.054);
    assert_eq!(r3(&e["grid_intensity"]), -24.33);
    assert_eq!(t["location"]["main_effect"]["effect"], "grid_intensity");
    assert!(close(t["location"]["from_kgco2e"].as_f64().unwrap(), 48.0));
    assert!(close(t["location"]["to_kgco2e"].as_f64().unwrap(), 24.75));
    let org = &b["location"];
    assert!(close(
        org["effects"]["entered_scope"].as_f64().unwrap(),
        2.75
    ));
    let total: f64 = [
        "activity",
        "energy_intensity",
        "pue",
        "grid_intensity",
        "entered_scope",
        "left_scope",
    ]
    .iter()
    .map(|k| org["effects"][k].as_f64().unwrap())
    .sum();
    assert!((total - (27.5 - 48.0)).abs() < 1e-9, "{total}");
    // The waterfall: the previous total, each effect, this total.
    let chart = r["charts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "bridge_location")
        .unwrap();
    assert_eq!(chart["kind"], "waterfall");
    assert_eq!(chart["categories"][0], "2026-Q2");
    assert_eq!(chart["categories"][7], "2026-Q3");
    let v: Vec<f64> = chart["series"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert!(close(v[0], 48.0) && close(v[7], 27.5));
    assert!((v[..7].iter().sum::<f64>() - v[7]).abs() < 1e-9);
    let csv = std::fs::read_to_string(d.path().join("out-2026-Q3/csv/bridge.csv")).unwrap();
    assert!(
        csv.lines()
            .any(|l| l.starts_with("team,t,location,48,24.75")),
        "{csv}"
    );
}

/// The demo's Q2 -> Q3 bridge adds up, for the organisation, each team and each site, both
/// methods.
#[test]
fn the_demos_bridge_adds_up() {
    let r = read_json(&super::fixture("demo/expected/report.json"));
    let b = &r["bridge"];
    let check = |c: &serde_json::Value| {
        let e = &c["effects"];
        let sum: f64 = e
            .as_object()
            .unwrap()
            .values()
            .filter_map(|v| v.as_f64())
            .sum();
        let change = c["to_kgco2e"].as_f64().unwrap() - c["from_kgco2e"].as_f64().unwrap();
        assert!((sum - change).abs() < 1e-9 * change.abs().max(1.0), "{c}");
    };
    for m in ["location", "market"] {
        check(&b[m]);
        for g in b["teams"]
            .as_array()
            .unwrap()
            .iter()
            .chain(b["sites"].as_array().unwrap())
        {
            check(&g[m]);
        }
    }
    assert!(close(
        b["location"]["to_kgco2e"].as_f64().unwrap(),
        r["totals"]["location_kgco2e"].as_f64().unwrap()
    ));
}

/// Another organisation's report cannot be a previous report.
#[test]
fn another_organisations_report_is_refused() {
    let d = tmp_with(&[]);
    let jobs = "job_id,model,team,site,start,end,hardware,devices\n\
a,m,t,s,2026-05-01T00:00:00Z,2026-05-02T00:00:00Z,A100-SXM4-80GB,8\n";
    report(d.path(), "2026-Q2", 1.2, 100.0, jobs, None);
    let config = "[report]\nperiod = \"2026-Q3\"\norganization = \"Other Lab\"\n\n[inputs]\njobs = [\"jobs-2026-Q2.csv\"]\n\n[[site]]\nid = \"s\"\nzone = \"FR\"\npue = 1.2\n";
    std::fs::write(d.path().join("other.toml"), config).unwrap();
    // The first report names no organisation: no refusal on that ground.
    super::gl()
        .args(["report", "--quiet", "--format", "json", "--config"])
        .arg(d.path().join("other.toml"))
        .arg("--previous")
        .arg(d.path().join("out-2026-Q2/report.json"))
        .arg("--out")
        .arg(d.path().join("o1"))
        .assert()
        .code(0);
    // Its own report as the previous one of a third organisation's: refused.
    let third = config.replace("Other Lab", "Third Lab");
    std::fs::write(d.path().join("third.toml"), third).unwrap();
    let moved = d.path().join("q1.json");
    let mut v = read_json(&d.path().join("o1/report.json"));
    v["period"]["start"] = "2026-01-01T00:00:00Z".into();
    v["period"]["end"] = "2026-04-01T00:00:00Z".into();
    std::fs::write(&moved, serde_json::to_vec(&v).unwrap()).unwrap();
    super::gl()
        .args(["report", "--quiet", "--format", "json", "--config"])
        .arg(d.path().join("third.toml"))
        .arg("--previous")
        .arg(&moved)
        .arg("--out")
        .arg(d.path().join("o2"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "the previous report is Other Lab's, this one Third Lab's",
        ));
}
