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
/// sum -23.25 kg. A team that enters (u, 100 h at 500 W: 50 kWh x 1.1 x 0.05 = 2.75 kg). No
/// telemetry and no meter: the inventory has no idle or unattributed line, so that effect is 0.
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
    // DESIGN's keys: teams[] carry `team`, sites[] `site` (and both `name`).
    assert_eq!(b["teams"][0]["team"], b["teams"][0]["name"]);
    assert_eq!(b["sites"][0]["site"], "s");
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
        "idle_and_unattributed",
    ]
    .iter()
    .map(|k| org["effects"][k].as_f64().unwrap())
    .sum();
    assert!((total - (27.5 - 48.0)).abs() < 1e-9, "{total}");
    assert!(
        org["effects"]["idle_and_unattributed"]
            .as_f64()
            .unwrap()
            .abs()
            < 1e-9
    );
    // The three largest effects in a sentence each, with the site's factors before and after
    // (of the cells in both reports: team u's hours are its entry, not activity).
    assert_eq!(
        b["sentences"],
        serde_json::json!([
            "The grid at s was 50 % cleaner (100 → 50 g per facility kWh): −24.3 kg.",
            "Accelerator-hours at s rose 50 % (1000 → 1500): +14.2 kg.",
            "Each accelerator-hour at s drew 25 % less energy (0.400 → 0.300 kWh): −10.1 kg.",
        ])
    );
    // One owned site: Scope 2 alone, the same as the organisation.
    assert_eq!(b["scopes"].as_array().unwrap().len(), 1);
    assert_eq!(b["scopes"][0]["scope"], "scope_2");
    assert_eq!(b["scopes"][0]["location"], b["location"]);
    // The waterfall: the previous total, each effect, this total.
    let chart = r["charts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "bridge_location")
        .unwrap();
    assert_eq!(chart["kind"], "waterfall");
    assert_eq!(chart["categories"][0], "2026-Q2");
    assert_eq!(chart["categories"][7], "idle & unattributed");
    assert_eq!(chart["categories"][8], "2026-Q3");
    let v: Vec<f64> = chart["series"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert!(close(v[0], 48.0) && close(v[8], 27.5));
    assert!((v[..8].iter().sum::<f64>() - v[8]).abs() < 1e-9);
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
            .chain(b["scopes"].as_array().unwrap())
        {
            check(&g[m]);
        }
    }
    // Scope 2 and the cloud site's Scope 3 apart, adding up to the organisation.
    let scopes = b["scopes"].as_array().unwrap();
    assert_eq!(scopes.len(), 2);
    assert_eq!(scopes[1]["scope"], "scope_3_category_1_cloud");
    let sum = |k: &str| -> f64 {
        scopes
            .iter()
            .map(|s| s["location"][k].as_f64().unwrap())
            .sum()
    };
    assert!(close(
        sum("to_kgco2e"),
        b["location"]["to_kgco2e"].as_f64().unwrap()
    ));
    assert!(close(
        sum("from_kgco2e"),
        b["location"]["from_kgco2e"].as_f64().unwrap()
    ));
    assert!(close(
        scopes[1]["location"]["to_kgco2e"].as_f64().unwrap(),
        r["scope3"]["category_1_cloud"]["totals"]["jobs_location_kgco2e"]
            .as_f64()
            .unwrap()
    ));
    // The Q2 report was made by an earlier greenledger without an inventory by site: the
    // idle and unattributed lines are left out of both, and the note says so.
    assert!(b["note"].as_str().unwrap().contains("no inventory by site"));
    assert!(b["location"]["effects"]
        .get("idle_and_unattributed")
        .is_none());
    assert_eq!(b["sentences"].as_array().unwrap().len(), 3);
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

/// The hand case with a site meter each quarter: May's invoice reads 580 kWh against 480 kWh
/// of facility energy (100 kWh unattributed, 10 kg at 100 g/kWh), August's 535 against 495
/// (40 kWh, 2 kg at 50 g/kWh). The organisation goes 58 -> 26.75 kg: the hand case's effects
/// (-23.25 kg) and the unattributed line's own, 2 - 10 = -8 kg. The team, which has no such
/// line, keeps 48 -> 24.75. The site is owned: Scope 2 is the organisation.
#[test]
fn the_inventorys_lines_no_job_claims_are_their_own_effect() {
    let d = tmp_with(&[]);
    let run = |period: &str, pue: f64, g: f64, meter: (&str, f64), job: &str, prev: bool| {
        let config = format!(
            "[report]\nperiod = \"{period}\"\n\n[inputs]\njobs = [\"jobs-{period}.csv\"]\n\n[[site]]\nid = \"s\"\nzone = \"FR\"\ngrid_intensity_g_per_kwh = {g}\npue = {pue}\n[[site.meter]]\nperiod = \"{}\"\nkwh = {}\nscope = \"facility\"\nreference = \"invoice\"\n",
            meter.0, meter.1
        );
        std::fs::write(d.path().join(format!("{period}.toml")), config).unwrap();
        let jobs = format!(
            "job_id,model,team,site,start,end,hardware,devices,gpu_hours,avg_power_w\n{job}\n"
        );
        std::fs::write(d.path().join(format!("jobs-{period}.csv")), jobs).unwrap();
        let out = d.path().join(format!("out-{period}"));
        let mut cmd = super::gl();
        cmd.args(["report", "--quiet", "--format", "json,csv,html", "--config"])
            .arg(d.path().join(format!("{period}.toml")))
            .arg("--out")
            .arg(&out);
        if prev {
            cmd.arg("--previous")
                .arg(d.path().join("out-2026-Q2/report.json"));
        }
        let code = cmd.output().unwrap().status.code();
        assert!(matches!(code, Some(0 | 1)), "{code:?}");
        read_json(&out.join("report.json"))
    };
    let q2 = run(
        "2026-Q2",
        1.2,
        100.0,
        ("2026-05", 580.0),
        "a,m,t,s,2026-05-01T00:00:00Z,2026-05-02T00:00:00Z,A100-SXM4-80GB,8,1000,400",
        false,
    );
    assert!(close(
        q2["inventory"]["totals"]["location_kgco2e"]
            .as_f64()
            .unwrap(),
        58.0
    ));
    let r = run(
        "2026-Q3",
        1.1,
        50.0,
        ("2026-08", 535.0),
        "b,m,t,s,2026-08-01T00:00:00Z,2026-08-02T00:00:00Z,A100-SXM4-80GB,8,1500,300",
        true,
    );
    let b = &r["bridge"];
    let f = |v: &serde_json::Value| v.as_f64().unwrap();
    for m in ["location", "market"] {
        let c = &b[m];
        assert!(close(f(&c["from_kgco2e"]), 58.0), "{c}");
        assert!(close(f(&c["to_kgco2e"]), 26.75), "{c}");
        assert!(
            close(f(&c["effects"]["idle_and_unattributed"]), -8.0),
            "{c}"
        );
        assert!(
            (f(&c["effects"]["grid_intensity"]) + 24.330).abs() < 1e-3,
            "{c}"
        );
    }
    assert!(b["note"].is_null());
    let t = &b["teams"][0]["location"];
    assert!(close(f(&t["from_kgco2e"]), 48.0) && close(f(&t["to_kgco2e"]), 24.75));
    assert!(t["effects"].get("idle_and_unattributed").is_none());
    let site = &b["sites"][0]["location"];
    assert!(close(f(&site["effects"]["idle_and_unattributed"]), -8.0));
    assert_eq!(b["scopes"][0]["location"], b["location"]);
    // The organisation's total is the inventory's.
    assert!(close(
        f(&b["location"]["to_kgco2e"]),
        f(&r["inventory"]["totals"]["location_kgco2e"])
    ));
    let csv = std::fs::read_to_string(d.path().join("out-2026-Q3/csv/bridge.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.ends_with(",left_scope,idle_and_unattributed"),
        "{header}"
    );
    assert!(
        csv.lines()
            .any(|l| l.starts_with("scope,scope_2,location,58,26.75")),
        "{csv}"
    );
    let html = std::fs::read_to_string(d.path().join("out-2026-Q3/report.html")).unwrap();
    assert!(html.contains(
        "<li>The grid at s was 50 % cleaner (100 → 50 g per facility kWh): −24.3 kg.</li>"
    ));
    assert!(html.contains("idle &amp; unattributed"));
}
