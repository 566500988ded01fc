//! The complete inventory (issue 12): job boundaries, idle energy, site meters and the
//! reconciliation, every figure worked out by hand.

use super::{close, job, report_json, tmp_with};

fn f(v: &serde_json::Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"))
}

/// H100-SXM5-80GB: 700 W TDP (embedded), host 200 W per device (configured).
/// j1 estimated, 8 devices x 10 h: accelerators 8 x 10 x 700 W = 56 kWh, host 8 x 10 x 200 W =
///    16 kWh; IT 72 kWh, boundary node; facility x 1.5 = 108 kWh; 100 g/kWh -> 10.8 kg.
/// j2 energy_kwh 50 declared `accelerator`: host 16 kWh is added -> IT 66 kWh, boundary node.
/// j3 energy_kwh 40 (default boundary node): split unknown -> accelerator and host null.
/// j4 CodeCarbon-like split is tested with the CodeCarbon reader below.
/// j5 on hardware without host power (A100): host outside the boundary, with a finding.
#[test]
fn boundaries_and_host_power_per_device() {
    let d = tmp_with(&[
        (
            "greenledger.toml",
            r#"
[report]
period = "2026-07"
[inputs]
jobs = ["jobs.csv"]
[[site]]
id = "a"
grid_intensity_g_per_kwh = 100
pue = 1.5
[[hardware]]
name = "H100-SXM5-80GB"
host_w_per_device = 200
"#,
        ),
        (
            "jobs.csv",
            "job_id,model,team,site,start,end,hardware,devices,energy_kwh,boundary\n\
             j1,m,t,a,2026-07-01T00:00:00Z,2026-07-01T10:00:00Z,H100,8,,\n\
             j2,m,t,a,2026-07-02T00:00:00Z,2026-07-02T10:00:00Z,H100,8,50,accelerator\n\
             j3,m,t,a,2026-07-03T00:00:00Z,2026-07-03T10:00:00Z,H100,8,40,\n\
             j5,m,t,a,2026-07-04T00:00:00Z,2026-07-04T10:00:00Z,A100-SXM4-40GB,1,,\n",
        ),
    ]);
    let r = report_json(d.path(), 0);
    let j1 = job(&r, "j1");
    assert_eq!(j1["boundary"], "node");
    assert!(close(f(j1, "accelerator_kwh"), 56.0));
    assert!(close(f(j1, "host_kwh"), 16.0));
    assert!(close(f(j1, "it_energy_kwh"), 72.0));
    assert!(close(f(j1, "facility_energy_kwh"), 108.0));
    assert!(close(f(j1, "location_kgco2e"), 10.8));
    // The mean power per device stays the accelerators' (the host is not measured power).
    assert!(j1["mean_power_w"].is_null());
    let j2 = job(&r, "j2");
    assert_eq!(j2["boundary"], "node");
    assert!(close(f(j2, "accelerator_kwh"), 50.0));
    assert!(close(f(j2, "host_kwh"), 16.0));
    assert!(close(f(j2, "it_energy_kwh"), 66.0));
    assert!(close(f(j2, "mean_power_w"), 50.0 * 1000.0 / 80.0));
    let j3 = job(&r, "j3");
    assert_eq!(j3["boundary"], "node");
    assert!(j3["accelerator_kwh"].is_null() && j3["host_kwh"].is_null());
    assert!(close(f(j3, "it_energy_kwh"), 40.0));
    let j5 = job(&r, "j5");
    assert_eq!(j5["boundary"], "accelerator");
    assert!(j5["host_kwh"].is_null());
    // A100-SXM4-40GB: 400 W x 10 h = 4 kWh.
    assert!(close(f(j5, "accelerator_kwh"), 4.0));
    let outside: Vec<&serde_json::Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["code"] == "boundary.host-outside")
        .collect();
    assert_eq!(outside.len(), 1, "one finding per site");
    assert!(outside[0]["message"]
        .as_str()
        .unwrap()
        .contains("site 'a': 1 job(s) (4.000 kWh)"));
    let host_factor = r["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "host power H100-SXM5-80GB")
        .expect("the assumption is listed as a factor");
    assert_eq!(host_factor["value"], 200.0);
    assert!(host_factor["source"]
        .as_str()
        .unwrap()
        .contains("assumption"));
}

/// CodeCarbon measures CPU, GPU and RAM: boundary `system`, split by gpu_energy over the sum.
/// cpu 1, gpu 3, ram 0.5 kWh = 4.5 kWh at CodeCarbon's PUE 1.5 -> IT 3 kWh, of which the
/// accelerators 3 x 3 / 4.5 = 2 kWh and the host 1 kWh.
#[test]
fn codecarbon_is_a_system_boundary_split_by_its_gpu_energy() {
    let d = tmp_with(&[
        (
            "greenledger.toml",
            "[inputs]\ncodecarbon = [\"emissions.csv\"]\n[codecarbon.teams]\np = \"t\"\n",
        ),
        (
            "emissions.csv",
            "timestamp,project_name,run_id,duration,emissions,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_iso_code,pue\n\
             2026-07-01T10:00:00Z,p,r1,3600,1,1,3,0.5,4.5,FRA,1.5\n",
        ),
    ]);
    let r = report_json(d.path(), 0);
    let j = job(&r, "r1");
    assert_eq!(j["boundary"], "system");
    assert!(close(f(j, "it_energy_kwh"), 3.0));
    assert!(close(f(j, "accelerator_kwh"), 2.0));
    assert!(close(f(j, "host_kwh"), 1.0));
}

/// Power samples every 60 s over `[0, hours]` (inclusive), at `w` watts, as CSV rows.
fn samples(node: &str, device: Option<u32>, hours: u32, w: f64) -> String {
    let mut s = String::new();
    for k in 0..=(hours * 60) {
        let (h, m) = (k / 60, k % 60);
        let t = format!("2026-07-01T{h:02}:{m:02}:00Z");
        match device {
            Some(d) => s.push_str(&format!("{t},{node},{d},{w}\n")),
            None => s.push_str(&format!("{t},{node},{w}\n")),
        }
    }
    s
}

/// The fleet of the hand calculation: nodes n1 and n2 with 8 GPUs each over 10 h; n1's GPUs
/// at 300 W and the node at 3,000 W; n2's GPUs at 100 W and the node at 1,200 W.
fn fleet(config_extra: &str, jobs: &str) -> tempfile::TempDir {
    let mut gpu = String::from("timestamp,node,device,power_w\n");
    let mut node = String::from("timestamp,node,power_w\n");
    for d in 0..8 {
        gpu.push_str(&samples("n1", Some(d), 10, 300.0));
        gpu.push_str(&samples("n2", Some(d), 10, 100.0));
    }
    node.push_str(&samples("n1", None, 10, 3000.0));
    node.push_str(&samples("n2", None, 10, 1200.0));
    let config = format!(
        r#"
[report]
period = "2026-07-01T00:00:00Z..2026-07-01T10:00:00Z"
[inputs]
jobs = ["jobs.csv"]
telemetry = ["gpu.csv", "node.csv"]
[[site]]
id = "s"
grid_intensity_g_per_kwh = 100
residual_mix_g_per_kwh = 300
pue = 1.5
nodes = ["n[1-2]"]
{config_extra}
"#
    );
    tmp_with(&[
        ("greenledger.toml", &config),
        ("gpu.csv", &gpu),
        ("node.csv", &node),
        ("jobs.csv", jobs),
    ])
}

const ONE_JOB: &str = "job_id,model,team,site,start,end,hardware,devices,nodes\n\
                       j1,m,t,s,2026-07-01T02:00:00Z,2026-07-01T07:00:00Z,H100,8,n1\n";

/// Every inventory line by hand. Accelerators: n1 8 x 300 W x 10 h = 24 kWh, of which the job
/// (5 h) 12 kWh and 12 kWh idle; n2 8 x 100 W x 10 h = 8 kWh idle: idle accelerators 20 kWh.
/// Host: n1 3,000 - 2,400 = 600 W: 3 kWh in the job, 3 kWh idle; n2 1,200 - 800 = 400 W x 10 h
/// = 4 kWh idle: idle host 7 kWh. IT = 15 (job) + 27 (idle) = 42 kWh; facility x 1.5 = 63 kWh
/// (PUE overhead 21 kWh). Facility meter 70 kWh -> unattributed 7 kWh; scope 2 = 70 kWh.
/// Location at 100 g/kWh: job 22.5 kWh -> 2.25 kg; idle 40.5 kWh -> 4.05 kg; unattributed
/// 0.7 kg; total 7.0 kg. Market: a 35 kWh PPA at 0 g over the site's 70 kWh covers half of
/// everything, the rest at the 300 g residual mix: 35 kWh x 0.3 = 10.5 kg, of which the job
/// 11.25 kWh x 0.3 = 3.375 kg.
#[test]
fn every_inventory_line_by_hand() {
    let d = fleet(
        r#"
[[site.meter]]
period = "2026-07-01T00:00:00Z..2026-07-01T10:00:00Z"
kwh = 70
scope = "facility"
reference = "invoice 42"
[[site.instrument]]
kind = "PPA"
period = "2026-07-01T00:00:00Z..2026-07-01T10:00:00Z"
mwh = 0.035
"#,
        ONE_JOB,
    );
    let r = report_json(d.path(), 0);
    let j1 = job(&r, "j1");
    assert_eq!(j1["boundary"], "node");
    assert!(close(f(j1, "accelerator_kwh"), 12.0), "{j1}");
    assert!(close(f(j1, "host_kwh"), 3.0));
    assert!(close(f(j1, "it_energy_kwh"), 15.0));
    assert!(close(f(j1, "market_kgco2e"), 3.375));
    let inv = &r["inventory"];
    let rows = inv["sites"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["site"], "s");
    assert_eq!(row["period"], "2026-07");
    for (k, want) in [
        ("accelerator_kwh", 12.0),
        ("host_kwh", 3.0),
        ("idle_accelerator_kwh", 20.0),
        ("idle_host_kwh", 7.0),
        ("idle_kwh", 27.0),
        ("it_energy_kwh", 42.0),
        ("facility_energy_kwh", 63.0),
        ("unattributed_kwh", 7.0),
        ("metered_kwh", 70.0),
        ("scope2_kwh", 70.0),
        ("location_kgco2e", 7.0),
        ("market_kgco2e", 10.5),
        ("jobs_location_kgco2e", 2.25),
        ("idle_location_kgco2e", 4.05),
        ("unattributed_location_kgco2e", 0.7),
    ] {
        assert!(close(f(row, k), want), "{k}: {} (want {want})", row[k]);
    }
    assert!(row["measured_pue"].is_null(), "no IT meter");
    // Bounds: the job and idle lines carry sampled (5 %), PUE (5 %) and a site intensity
    // (10 %) in quadrature; the metered line only the intensity's 10 %.
    let rel = (0.05f64.powi(2) * 2.0 + 0.01).sqrt();
    let low = (2.25 + 4.05) * (1.0 - rel) + 0.7 * 0.9;
    let high = (2.25 + 4.05) * (1.0 + rel) + 0.7 * 1.1;
    assert!(
        close(f(row, "location_kgco2e_low"), low),
        "{}",
        row["location_kgco2e_low"]
    );
    assert!(close(f(row, "location_kgco2e_high"), high));
    // The totals: the jobs' totals plus the idle and unattributed lines.
    let t = &inv["totals"];
    assert!(close(
        f(t, "location_kgco2e"),
        f(&r["totals"], "location_kgco2e") + 4.05 + 0.7
    ));
    assert!(close(f(t, "scope2_kwh"), 70.0));
    // The instrument was allocated over the whole site's 70 kWh.
    let ins = &r["instruments"][0];
    assert!(close(f(ins, "consumption_mwh"), 0.07));
    assert!(close(f(ins, "allocated_mwh"), 0.035));
    // The ledger's 63 kWh is well below the meter: no error.
    assert!(!r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["code"] == "inventory.ledger-above-meter"));
}

fn codes_of(r: &serde_json::Value, code: &str) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["code"] == code)
        .map(|x| x["message"].as_str().unwrap().to_string())
        .collect()
}

/// A ledger above its meter: 63 kWh of facility energy, at least 63 x (1 - sqrt(0.05^2 +
/// 0.05^2)) = 58.5 kWh within its uncertainty, against a 40 kWh invoice: an error (exit 1);
/// unattributed is -23 kWh and scope 2 is the meter's 40 kWh.
#[test]
fn a_ledger_above_its_meter_is_an_error() {
    let d = fleet(
        "[[site.meter]]\nperiod = \"2026-07-01T00:00:00Z..2026-07-01T10:00:00Z\"\nkwh = 40\nscope = \"facility\"\nreference = \"inv-7\"\n",
        ONE_JOB,
    );
    let r = report_json(d.path(), 1);
    let row = &r["inventory"]["sites"][0];
    assert!(close(f(row, "unattributed_kwh"), -23.0));
    assert!(close(f(row, "scope2_kwh"), 40.0));
    assert!(close(f(row, "location_kgco2e"), 4.0));
    let e = codes_of(&r, "inventory.ledger-above-meter");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].contains("63.000 kWh") && e[0].contains("inv-7"),
        "{}",
        e[0]
    );
}

/// Meters from a --meters CSV: an IT meter (UPS output) of 42 kWh beside a facility meter of
/// 70 kWh give a measured PUE of 70 / 42 = 1.667, more than 5 % from the configured 1.5: a
/// warning. The facility meter covers only the first half of the period (00:00..05:00, 35
/// kWh): it is scaled to the whole period (70 kWh) and says so.
#[test]
fn meters_file_measured_pue_and_a_meter_covering_half_the_period() {
    let d = fleet("", ONE_JOB);
    std::fs::write(
        d.path().join("meters.csv"),
        "site,start,end,kwh,scope,reference\n\
         s,2026-07-01T00:00:00Z,2026-07-01T05:00:00Z,35,facility,inv-8\n\
         s,2026-07-01T00:00:00Z,2026-07-01T10:00:00Z,42,it,ups-1\n\
         nowhere,2026-07-01T00:00:00Z,2026-07-01T10:00:00Z,1,it,x\n",
    )
    .unwrap();
    let out = d.path().join("out");
    super::gl()
        .args(["report", "--quiet", "--format", "json", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .arg("--meters")
        .arg(d.path().join("meters.csv"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1);
    let r = super::read_json(&out.join("report.json"));
    let row = &r["inventory"]["sites"][0];
    assert!(close(f(row, "metered_facility_kwh"), 70.0));
    assert!(close(f(row, "metered_it_kwh"), 42.0));
    assert!(close(f(row, "measured_pue"), 70.0 / 42.0));
    assert!(close(f(row, "unattributed_kwh"), 7.0));
    assert_eq!(
        row["meter_references"],
        serde_json::json!(["inv-8", "ups-1"])
    );
    assert_eq!(codes_of(&r, "inventory.measured-pue").len(), 1);
    let prorated = codes_of(&r, "inventory.meter-prorated");
    assert_eq!(prorated.len(), 1);
    assert!(prorated[0].contains("50.0 %"), "{}", prorated[0]);
    // The reading for an undefined site is an error finding with its line.
    let bad: Vec<&serde_json::Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["code"] == "meters.bad-row")
        .collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["line"], 4);
    let rec = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "meters")
        .unwrap();
    assert_eq!(
        (rec["rows"].as_u64(), rec["rows_used"].as_u64()),
        (Some(3), Some(2))
    );
}

/// Node power in the wide BMC layout, with zero readings: n1 reads 0 W from 03:00 to 03:09,
/// so its samples at 02:59 and 03:10 are 11 minutes apart, a gap: the host loses 600 W x
/// 11 min = 0.11 kWh, and the job's host is 3 - 0.11 = 2.89 kWh. n2's host is unchanged.
#[test]
fn wide_node_power_with_zero_readings_leaves_a_gap() {
    let mut wide = String::from("timestamp,n1_power_w,n2 (W)\n");
    for k in 0..=600 {
        let (h, m) = (k / 60, k % 60);
        let n1 = if (180..190).contains(&k) { 0.0 } else { 3000.0 };
        wide.push_str(&format!("2026-07-01T{h:02}:{m:02}:00Z,{n1},1200\n"));
    }
    let d = fleet("", ONE_JOB);
    std::fs::write(d.path().join("node.csv"), wide).unwrap();
    let r = report_json(d.path(), 0);
    let j1 = job(&r, "j1");
    assert!(close(f(j1, "host_kwh"), 2.89), "{}", j1["host_kwh"]);
    let row = &r["inventory"]["sites"][0];
    assert!(
        close(f(row, "idle_host_kwh"), 7.0),
        "{}",
        row["idle_host_kwh"]
    );
    let gaps = codes_of(&r, "telemetry.gaps");
    assert!(gaps[0].contains("n1/node (660 s)"), "{}", gaps[0]);
    let rec = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"] == "node.csv")
        .unwrap();
    assert_eq!(rec["kind"], "telemetry");
    assert_eq!(rec["rows"], 601);
}

/// Telemetry without jobs is a valid run: the fleet is all idle, with a warning.
#[test]
fn telemetry_without_jobs_shows_the_idle_fleet() {
    let d = fleet(
        "",
        "job_id,model,team,site,start,end,hardware,devices,nodes\n",
    );
    let r = report_json(d.path(), 0);
    let row = &r["inventory"]["sites"][0];
    assert!(close(f(row, "idle_accelerator_kwh"), 32.0));
    assert!(close(f(row, "idle_host_kwh"), 10.0));
    assert!(close(f(row, "facility_energy_kwh"), 63.0));
    assert_eq!(r["totals"]["jobs"], 0);
    assert_eq!(codes_of(&r, "inventory.no-jobs").len(), 1);
}

/// `[accounting] overhead = "allocate"`: j1 (team t, n1 02:00..07:00) and j2 (team u, all of
/// n2 for 10 h). Facility: j1 15 kWh x 1.5 = 22.5 kWh, j2 (8 + 4) x 1.5 = 18 kWh; the meter's
/// 70 kWh leave 70 - 40.5 = 29.5 kWh of idle and unattributed energy, 7.0 - 2.25 - 1.8 = 2.95
/// kg. Shared by facility energy: t 22.5 / 40.5 of it, u 18 / 40.5. The teams with their
/// overhead then add up to the inventory.
#[test]
fn allocated_overhead_reconciles_teams_with_the_inventory() {
    let d = fleet(
        "[[site.meter]]\nperiod = \"2026-07-01T00:00:00Z..2026-07-01T10:00:00Z\"\nkwh = 70\nscope = \"facility\"\n[accounting]\noverhead = \"allocate\"\n",
        "job_id,model,team,site,start,end,hardware,devices,nodes\n\
         j1,m,t,s,2026-07-01T02:00:00Z,2026-07-01T07:00:00Z,H100,8,n1\n\
         j2,m2,u,s,2026-07-01T00:00:00Z,2026-07-01T10:00:00Z,H100,8,n2\n",
    );
    let r = report_json(d.path(), 0);
    let team = |name: &str| {
        r["teams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["team"] == name)
            .unwrap()
            .clone()
    };
    let (t, u) = (team("t"), team("u"));
    assert!(close(f(&t, "overhead_kwh"), 29.5 * 22.5 / 40.5), "{t}");
    assert!(close(f(&u, "overhead_kwh"), 29.5 * 18.0 / 40.5));
    assert!(close(f(&t, "overhead_kgco2e"), 2.95 * 22.5 / 40.5));
    assert!(close(f(&u, "overhead_kgco2e"), 2.95 * 18.0 / 40.5));
    let inv = &r["inventory"]["totals"];
    let with = |k: &str, o: &str| f(&t, k) + f(&t, o) + f(&u, k) + f(&u, o);
    assert!(close(
        with("location_kgco2e", "overhead_kgco2e"),
        f(inv, "location_kgco2e")
    ));
    assert!(close(
        with("facility_energy_kwh", "overhead_kwh"),
        f(inv, "scope2_kwh")
    ));
    // Without the setting there is no overhead key at all.
    assert!(r["models"][0]["overhead_kwh"].is_number());
    let plain = fleet("", ONE_JOB);
    let p = report_json(plain.path(), 0);
    assert!(p["teams"][0].get("overhead_kwh").is_none());
}

/// Without jobs and without a period, the period is the whole UTC day the samples span (here
/// 1 July, 00:00 to 10:00), with a note; the idle fleet is the same as over the ten hours.
#[test]
fn telemetry_without_jobs_or_period_spans_its_days() {
    let d = fleet(
        "",
        "job_id,model,team,site,start,end,hardware,devices,nodes\n",
    );
    let cfg = std::fs::read_to_string(d.path().join("greenledger.toml")).unwrap();
    let cfg = cfg.replace(
        "period = \"2026-07-01T00:00:00Z..2026-07-01T10:00:00Z\"\n",
        "",
    );
    std::fs::write(d.path().join("greenledger.toml"), cfg).unwrap();
    let r = report_json(d.path(), 0);
    assert_eq!(r["period"]["label"], "2026-07-01..2026-07-01");
    assert_eq!(r["period"]["end"], "2026-07-02T00:00:00Z");
    assert_eq!(codes_of(&r, "period.from-telemetry").len(), 1);
    let row = &r["inventory"]["sites"][0];
    assert!(close(f(row, "idle_accelerator_kwh"), 32.0));
    assert!(close(f(row, "idle_host_kwh"), 10.0));
}

/// With allocated overhead, teams.csv and models.csv carry it, and the HTML teams table shows
/// it; without, neither has the columns.
#[test]
fn allocated_overhead_in_csv_and_html() {
    let d = fleet(
        "[[site.meter]]\nperiod = \"2026-07-01T00:00:00Z..2026-07-01T10:00:00Z\"\nkwh = 70\nscope = \"facility\"\n[accounting]\noverhead = \"allocate\"\n",
        ONE_JOB,
    );
    let out = d.path().join("o");
    super::gl()
        .args(["report", "--quiet", "--format", "csv,html", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let teams = std::fs::read_to_string(out.join("csv/teams.csv")).unwrap();
    assert!(
        teams
            .lines()
            .next()
            .unwrap()
            .ends_with("overhead_kwh,overhead_kgco2e"),
        "{teams}"
    );
    // The one job carries all of it: 70 - 22.5 = 47.5 kWh, 7.0 - 2.25 = 4.75 kg.
    assert!(
        teams.lines().nth(1).unwrap().ends_with(",47.5,4.75"),
        "{teams}"
    );
    let models = std::fs::read_to_string(out.join("csv/models.csv")).unwrap();
    assert!(models.lines().next().unwrap().ends_with("overhead_kgco2e"));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("overhead kWh") && html.contains("47.5"));
    let plain = fleet("", ONE_JOB);
    let out = plain.path().join("o");
    super::gl()
        .args(["report", "--quiet", "--format", "csv,html", "--config"])
        .arg(plain.path().join("greenledger.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    assert!(!std::fs::read_to_string(out.join("csv/teams.csv"))
        .unwrap()
        .contains("overhead"));
    assert!(!std::fs::read_to_string(out.join("report.html"))
        .unwrap()
        .contains("overhead kWh"));
}
