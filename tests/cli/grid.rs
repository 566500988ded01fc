//! Hourly location-based factors: each hour of a job's energy meets that hour's intensity;
//! hours without data take the annual factor, with a finding. Real Electricity Maps exports of
//! both header generations are read.

use super::{close, gl, read_json, real_data, report_json, tmp_with};

/// A job from 00:30 to 03:30 using 3 kWh at PUE 1 in FR; hourly intensity 100, 200, 300 g/kWh,
/// nothing for 03:00 (the annual FR factor, 56.03859, fills it). Job-weighted intensity:
/// (0.5 x 100 + 200 + 300 + 0.5 x 56.03859) / 3 = 192.673098 g/kWh, where the mean of the
/// hourly values would be 200: 3 kWh -> 0.578019295 kg.
#[test]
fn each_hour_meets_its_factor() {
    let grid = "zone,timestamp,g_per_kwh\nFR,2026-07-01T00:00:00Z,100\nFR,2026-07-01T01:00:00Z,200\nFR,2026-07-01T02:00:00Z,300\n";
    let jobs = "job_id,model,team,site,start,end,hardware,devices,energy_kwh\nh1,m,t,p,2026-07-01T00:30:00Z,2026-07-01T03:30:00Z,H100,1,3\n";
    let cfg = "[report]\nperiod = \"2026-Q3\"\n[inputs]\njobs = [\"jobs.csv\"]\ngrid = [\"grid.csv\"]\n[[site]]\nid = \"p\"\nzone = \"FR\"\npue = 1.0\n";
    let d = tmp_with(&[
        ("greenledger.toml", cfg),
        ("jobs.csv", jobs),
        ("grid.csv", grid),
    ]);
    let r = report_json(d.path(), 0);
    let j = &r["jobs"][0];
    let want = (0.5 * 100.0 + 200.0 + 300.0 + 0.5 * 56.03859) / 3.0;
    assert!(
        close(j["intensity_g_per_kwh"].as_f64().unwrap(), want),
        "{}",
        j["intensity_g_per_kwh"]
    );
    assert!(close(
        j["location_kgco2e"].as_f64().unwrap(),
        3.0 * want / 1000.0
    ));
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "grid.missing-hours")
        .expect("missing-hours finding")
        .clone();
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .starts_with("1 job-hours in zone FR"),
        "{f}"
    );
    assert!(r["factors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "grid FR hourly"));
    // The hourly factor is tighter than the annual one.
    let rel = (0.05f64 * 0.05 + 0.05 * 0.05 + 0.05 * 0.05).sqrt();
    assert!(close(
        j["location_kgco2e_high"].as_f64().unwrap(),
        3.0 * want / 1000.0 * (1.0 + rel)
    ));
}

#[test]
fn real_electricity_maps_exports_are_read() {
    let Some(dir) = real_data("grid") else {
        return;
    };
    for (file, zone, day) in [
        ("electricitymaps__GB_2023_hourly.csv", "GB", "2023-03-14"),
        (
            "electricitymaps__FR_2022_hourly_excel-edited.csv",
            "FR",
            "2022-03-14",
        ),
    ] {
        let path = dir.join(file);
        // A one-day job: its intensity is the mean of that day's 24 hourly values in the file.
        let text = std::fs::read_to_string(&path).unwrap();
        let (y, m, dd) = (&day[0..4], &day[5..7], &day[8..10]);
        let keys = [format!("{day} "), format!("{dd}/{m}/{y} ")];
        let values: Vec<f64> = text
            .lines()
            .filter(|l| keys.iter().any(|k| l.starts_with(k.as_str())))
            .map(|l| l.split(',').nth(4).unwrap().parse::<f64>().unwrap())
            .collect();
        assert_eq!(values.len(), 24, "{file}");
        let mean = values.iter().sum::<f64>() / 24.0;
        let jobs = format!("job_id,model,team,zone,start,end,hardware,devices,energy_kwh\nd1,m,t,{zone},{day}T00:00:00Z,{day}T23:59:59.999Z,H100,1,1\n");
        let d = tmp_with(&[("jobs.csv", &jobs)]);
        let out = d.path().join("out");
        let o = gl()
            .args(["report", "--quiet", "--format", "json", "--jobs"])
            .arg(d.path().join("jobs.csv"))
            .arg("--grid")
            .arg(&path)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{file}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let r = read_json(&out.join("report.json"));
        let got = r["jobs"][0]["intensity_g_per_kwh"].as_f64().unwrap();
        assert!((got - mean).abs() < 1e-3 * mean, "{file}: {got} vs {mean}");
        let rec = r["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["kind"] == "grid")
            .unwrap()
            .clone();
        assert_eq!(rec["rows"], 8760, "{file}");
        assert_eq!(rec["rows_used"], 8760, "{file}");
        if file.contains("FR") {
            assert!(r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["code"] == "grid.date-order"
                    && f["message"].as_str().unwrap().contains("DD/MM/YYYY")));
        }
    }
}

/// With telemetry, the hours are weighted by the job's sampled energy: 100 W in the first hour,
/// 300 W in the second (one minute ramps between), against 100 and 300 g/kWh: the job-weighted
/// intensity is close to 250 g/kWh, where an even spread would give 200.
#[test]
fn sampled_jobs_weight_hours_by_their_energy() {
    let power = super::two_hour_power();
    let grid =
        "zone,timestamp,g_per_kwh\nFR,2026-07-01T00:00:00Z,100\nFR,2026-07-01T01:00:00Z,300\n";
    let jobs = "job_id,model,team,site,start,end,hardware,devices,nodes,gpu_ids\ns1,m,t,p,2026-07-01T00:00:00Z,2026-07-01T02:00:00Z,H100,1,n1,0\n";
    let cfg = "[report]\nperiod = \"2026-Q3\"\n[inputs]\njobs = [\"jobs.csv\"]\ngrid = [\"grid.csv\"]\ntelemetry = [\"power.csv\"]\n[[site]]\nid = \"p\"\nzone = \"FR\"\npue = 1.0\n";
    let d = tmp_with(&[
        ("greenledger.toml", cfg),
        ("jobs.csv", jobs),
        ("grid.csv", grid),
        ("power.csv", &power),
    ]);
    let r = report_json(d.path(), 0);
    let j = &r["jobs"][0];
    // Hour 0: 100 W for 3540 s plus the 100 -> 300 W ramp over the last minute (12000 J).
    let (h0, h1) = (100.0 * 3540.0 + 12000.0, 300.0 * 3600.0);
    let g = (h0 * 100.0 + h1 * 300.0) / (h0 + h1);
    assert_eq!(j["energy_source"], "sampled");
    assert!(
        close(j["sampled_kwh"].as_f64().unwrap(), (h0 + h1) / 3.6e6),
        "{}",
        j["sampled_kwh"]
    );
    assert!(
        close(j["intensity_g_per_kwh"].as_f64().unwrap(), g),
        "{} vs {g}",
        j["intensity_g_per_kwh"]
    );
    assert!(close(
        j["location_kgco2e"].as_f64().unwrap(),
        (h0 + h1) / 3.6e6 * g / 1000.0
    ));
}

/// Every file in ../shared/data/real/grid is read as hourly series or annual table (or, for a
/// table not keyed by zone, reported); an annual table overrides the embedded factor.
#[test]
fn every_real_grid_file_is_read() {
    let Some(dir) = real_data("grid") else {
        return;
    };
    let jobs = "job_id,model,team,zone,start,end,hardware,devices,energy_kwh\nd1,m,t,FR,2020-02-01T00:00:00Z,2020-02-02T00:00:00Z,H100,1,1\n";
    let d = tmp_with(&[("jobs.csv", jobs)]);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| !p.to_string_lossy().ends_with(".source.txt"))
        .collect();
    files.sort();
    assert!(files.len() >= 11);
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let out = d.path().join("out");
        let o = gl()
            .args(["report", "--quiet", "--format", "json", "--force", "--jobs"])
            .arg(d.path().join("jobs.csv"))
            .arg("--grid")
            .arg(&f)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let r = read_json(&out.join("report.json"));
        let rec = r["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["kind"] == "grid")
            .unwrap()
            .clone();
        let (rows, used, rejected) = (
            rec["rows"].as_u64().unwrap(),
            rec["rows_used"].as_u64().unwrap(),
            rec["rows_rejected"].as_u64().unwrap(),
        );
        assert!(rows > 0 && rows == used + rejected, "{name}: {rec}");
        if name.contains("per_source") {
            assert_eq!(used, 0);
            assert!(r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["code"] == "grid.bad-row"
                    && x["message"].as_str().unwrap().contains("not keyed by zone")));
        }
        if name.contains("eu-carbon-intensity") {
            // France, 2020, in Our World in Data's table: 55 g/kWh; the EU-27 aggregate (no code)
            // is set aside.
            let j = &r["jobs"][0];
            assert!(
                close(j["intensity_g_per_kwh"].as_f64().unwrap(), 55.0),
                "{}",
                j["intensity_g_per_kwh"]
            );
            assert_eq!(j["factor_year"], 2020);
            assert!(rejected > 0);
        }
    }
}

/// A site in bidding zone SE3 finds Electricity Maps' `SE-SE3` series.
#[test]
fn bidding_zones_match_electricity_maps_ids() {
    let grid = "zone,timestamp,g_per_kwh\nSE-SE3,2026-07-01T00:00:00Z,10\nSE-SE4,2026-07-01T00:00:00Z,40\n";
    let jobs = "job_id,model,team,site,start,end,hardware,devices,energy_kwh\ns,m,t,sto,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,H100,1,1\n";
    let cfg = "[report]\nperiod = \"2026-Q3\"\n[inputs]\njobs = [\"jobs.csv\"]\ngrid = [\"grid.csv\"]\n[[site]]\nid = \"sto\"\nzone = \"SE3\"\npue = 1.0\n";
    let d = tmp_with(&[
        ("greenledger.toml", cfg),
        ("jobs.csv", jobs),
        ("grid.csv", grid),
    ]);
    let r = report_json(d.path(), 0);
    assert!(
        close(r["jobs"][0]["intensity_g_per_kwh"].as_f64().unwrap(), 10.0),
        "{}",
        r["jobs"][0]
    );
    let f = r["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "grid SE3 hourly")
        .unwrap()
        .clone();
    assert!(f["source"].as_str().unwrap().contains("grid.csv"), "{f}");
}

/// Direct intensity by default; life-cycle with `[grid] lifecycle = true`.
#[test]
fn lifecycle_on_request() {
    let grid = "Datetime (UTC),Country,Zone name,Zone id,Carbon intensity gCO₂eq/kWh (direct),Carbon intensity gCO₂eq/kWh (Life cycle)\r\n2026-07-01 00:00:00,France,France,FR,25,44\r\n";
    let jobs = "job_id,model,team,site,start,end,hardware,devices,energy_kwh\nh,m,t,p,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,H100,1,1\n";
    let base = "[report]\nperiod = \"2026-Q3\"\n[inputs]\njobs = [\"jobs.csv\"]\ngrid = [\"grid.csv\"]\n[[site]]\nid = \"p\"\nzone = \"FR\"\npue = 1.0\n";
    for (cfg, want) in [
        (base.to_string(), 25.0),
        (format!("{base}[grid]\nlifecycle = true\n"), 44.0),
    ] {
        let d = tmp_with(&[
            ("greenledger.toml", cfg.as_str()),
            ("jobs.csv", jobs),
            ("grid.csv", grid),
        ]);
        let out = d.path().join("out");
        gl().args(["report", "--quiet", "--format", "json", "--config"])
            .arg(d.path().join("greenledger.toml"))
            .arg("--out")
            .arg(&out)
            .assert()
            .code(0);
        let r = read_json(&out.join("report.json"));
        assert!(
            close(r["jobs"][0]["intensity_g_per_kwh"].as_f64().unwrap(), want),
            "{cfg}: {}",
            r["jobs"][0]["intensity_g_per_kwh"]
        );
    }
}

/// A sub-national zone with its own hourly series (US-TEX-ERCO) uses it, not its country's
/// annual average: a job 00:00..02:00 metered 2 kWh at PUE 1 meets 400 and 414 g/kWh -> 407
/// g/kWh, 0.814 kg; no "has no factor of its own" warning.
#[test]
fn a_sub_national_hourly_series_wins_over_the_country_average() {
    let grid = "zone,timestamp,g_per_kwh\nUS-TEX-ERCO,2026-07-01T00:00:00Z,400\nUS-TEX-ERCO,2026-07-01T01:00:00Z,414\n";
    let jobs = "job_id,model,team,site,start,end,hardware,devices,energy_kwh\nt1,m,t,tx,2026-07-01T00:00:00Z,2026-07-01T02:00:00Z,H100,1,2\n";
    let cfg = "[report]\nperiod = \"2026-07\"\n[inputs]\njobs = [\"jobs.csv\"]\ngrid = [\"grid.csv\"]\n[[site]]\nid = \"tx\"\nzone = \"US-TEX-ERCO\"\npue = 1.0\n";
    let d = tmp_with(&[
        ("greenledger.toml", cfg),
        ("jobs.csv", jobs),
        ("grid.csv", grid),
    ]);
    let r = report_json(d.path(), 0);
    let j = &r["jobs"][0];
    assert_eq!(j["zone"], "US-TEX-ERCO");
    assert!(
        close(j["intensity_g_per_kwh"].as_f64().unwrap(), 407.0),
        "{}",
        j["intensity_g_per_kwh"]
    );
    assert!(close(j["location_kgco2e"].as_f64().unwrap(), 0.814));
    assert!(!r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["message"]
            .as_str()
            .unwrap()
            .contains("has no factor of its own")));
    assert!(r["factors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "grid US-TEX-ERCO hourly"));
}

/// More grid layouts: an Ember / Our World in Data annual table (ISO-3 `country_code`, an
/// aggregate row without a code), the third Electricity Maps header generation with
/// estimated hours, and the 2021 electricityMap export (snake_case, epoch timestamps).
#[test]
fn ember_third_generation_and_legacy_grid_layouts() {
    let jobs = "job_id,model,team,site,start,end,hardware,devices,energy_kwh\nj,m,t,s,2026-07-01T00:00:00Z,2026-07-01T02:00:00Z,H100,1,2\n";
    let cfg = |zone: &str| {
        format!("[report]\nperiod = \"2026-07\"\n[inputs]\njobs = [\"jobs.csv\"]\ngrid = [\"grid.csv\"]\n[[site]]\nid = \"s\"\nzone = \"{zone}\"\npue = 1.0\n")
    };
    let run = |zone: &str, grid: &str| {
        let d = tmp_with(&[
            ("greenledger.toml", &cfg(zone)),
            ("jobs.csv", jobs),
            ("grid.csv", grid),
        ]);
        report_json(d.path(), 0)
    };
    // Ember: FRA 2026 at 44 g/kWh; the World aggregate has no code and is set aside.
    let r = run("FR", "country,country_code,year,emissions_intensity_gco2_per_kwh\nFrance,FRA,2026,44\nWorld,,2026,480\n");
    assert!(
        close(r["jobs"][0]["intensity_g_per_kwh"].as_f64().unwrap(), 44.0),
        "{}",
        r["jobs"][0]
    );
    // Electricity Maps, third generation: 100 and 120 g/kWh direct, one hour estimated.
    let em = "Datetime (UTC),Country,Zone name,Zone id,Carbon intensity gCO₂eq/kWh (direct),Carbon intensity gCO₂eq/kWh (Life cycle),Data source,Data estimated,Data estimation method\n\
              2026-07-01 00:00:00,France,France,FR,100,130,x,false,\n\
              2026-07-01 01:00:00,France,France,FR,120,150,x,true,TIME_SLICER_AVERAGE\n";
    let r = run("FR", em);
    assert!(close(
        r["jobs"][0]["intensity_g_per_kwh"].as_f64().unwrap(),
        110.0
    ));
    let note = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "grid.estimated-hours")
        .expect("estimated hours are noted")
        .clone();
    assert!(
        note["message"]
            .as_str()
            .unwrap()
            .starts_with("1 of 2 hours"),
        "{note}"
    );
    // The 2021 export: epoch seconds, zone_name, carbon_intensity_avg.
    let legacy = "timestamp,zone_name,carbon_intensity_avg,carbon_intensity_production_avg\n1782864000,FR,90,80\n1782867600,FR,110,100\n";
    let r = run("FR", legacy);
    assert!(
        close(r["jobs"][0]["intensity_g_per_kwh"].as_f64().unwrap(), 100.0),
        "{}",
        r["jobs"][0]
    );
}

/// An hourly file keyed by ISO-3 codes in a Country column (no Zone id) still meets a job in
/// zone FR: 100 and 120 g/kWh -> 110 g/kWh.
#[test]
fn hourly_series_keyed_by_iso3_in_a_country_column() {
    let grid = "Datetime (UTC),Country,Carbon intensity gCO₂eq/kWh (direct)\n2026-07-01 00:00:00,FRA,100\n2026-07-01 01:00:00,FRA,120\n";
    let jobs = "job_id,model,team,site,start,end,hardware,devices,energy_kwh\nj,m,t,s,2026-07-01T00:00:00Z,2026-07-01T02:00:00Z,H100,1,2\n";
    let cfg = "[report]\nperiod = \"2026-07\"\n[inputs]\njobs = [\"jobs.csv\"]\ngrid = [\"grid.csv\"]\n[[site]]\nid = \"s\"\nzone = \"FR\"\npue = 1.0\n";
    let d = tmp_with(&[
        ("greenledger.toml", cfg),
        ("jobs.csv", jobs),
        ("grid.csv", grid),
    ]);
    let r = report_json(d.path(), 0);
    assert!(
        close(r["jobs"][0]["intensity_g_per_kwh"].as_f64().unwrap(), 110.0),
        "{}",
        r["jobs"][0]
    );
}

/// A record that is not UTF-8 is counted and reported at its line (an error), and the lines of
/// the findings after it are still the file's own: a quoted field spanning two lines too.
#[test]
fn unreadable_grid_rows_are_reported_with_their_true_line() {
    let mut grid: Vec<u8> =
        b"zone,timestamp,g_per_kwh,note\nFR,2026-07-01T00:00:00Z,100,ok\n".to_vec();
    grid.extend_from_slice(b"FR,2026-07-01T01:00:00Z,200,caf\xe9\n"); // line 3: not UTF-8
    grid.extend_from_slice(b"FR,2026-07-01T02:00:00Z,300,\"two\nlines\"\n"); // lines 4-5
    grid.extend_from_slice(b"FR,not a time,300,x\n"); // line 6
    let jobs = "job_id,model,team,site,start,end,hardware,devices,energy_kwh\nh1,m,t,p,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,H100,1,1\n";
    let cfg = "[report]\nperiod = \"2026-Q3\"\n[inputs]\njobs = [\"jobs.csv\"]\ngrid = [\"grid.csv\"]\n[[site]]\nid = \"p\"\nzone = \"FR\"\npue = 1.0\n";
    let d = tmp_with(&[("greenledger.toml", cfg), ("jobs.csv", jobs)]);
    std::fs::write(d.path().join("grid.csv"), grid).unwrap();
    let r = report_json(d.path(), 1);
    let grid_findings: Vec<&serde_json::Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "grid.bad-row")
        .collect();
    let at = |needle: &str| {
        grid_findings
            .iter()
            .find(|f| f["message"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("{needle}: {grid_findings:?}"))
    };
    let unreadable = at("cannot be read as CSV text");
    assert_eq!(unreadable["severity"], "error");
    assert_eq!(unreadable["line"], 3);
    assert_eq!(at("without a readable time")["line"], 6);
    let input = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "grid")
        .unwrap();
    assert_eq!(input["rows"], 4);
    assert_eq!(input["rows_used"], 2);
    assert_eq!(input["rows_rejected"], 2);
    // The hour from 00:00 is read: the job meets 100 g/kWh.
    assert!(close(
        r["jobs"][0]["intensity_g_per_kwh"].as_f64().unwrap(),
        100.0
    ));
}
