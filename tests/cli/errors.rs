//! Bad input: clear messages naming file and line, exit codes 1 (report made, error findings)
//! and 2 (run impossible); never a panic.

use super::{gl, read_json, tmp_with};
use predicates::str::contains;

const CONFIG: &str =
    "[inputs]\njobs = [\"jobs.csv\"]\n\n[[site]]\nid = \"s1\"\nzone = \"FR\"\npue = 1.2\n";
const HEADER: &str = "job_id,model,team,site,start,end,hardware,devices\n";
const GOOD: &str = "ok-1,m,t,s1,2026-07-01T00:00:00Z,2026-07-01T10:00:00Z,H100,8\n";

/// Run `report` on a config + jobs.csv; returns (exit code, stderr, report.json if written).
fn run(jobs: &str) -> (i32, String, Option<serde_json::Value>) {
    let d = tmp_with(&[("greenledger.toml", CONFIG), ("jobs.csv", jobs)]);
    let out = d.path().join("out");
    let o = gl()
        .args(["report", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let json = out.join("report.json");
    (
        o.status.code().unwrap(),
        String::from_utf8_lossy(&o.stderr).to_string(),
        json.exists().then(|| read_json(&json)),
    )
}

fn finding(r: &serde_json::Value, code: &str) -> serde_json::Value {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {}", r["findings"]))
        .clone()
}

#[test]
fn missing_column_stops_the_run_naming_file_and_line() {
    let (code, err, _) = run("job_id,model,team,site,start,end,devices\nx,m,t,s1,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,1\n");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("jobs.csv:1:"), "{err}");
    assert!(err.contains("'hardware' is missing"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn unparsable_timestamp_is_an_error_finding_with_its_line() {
    let (code, err, r) = run(&format!(
        "{HEADER}{GOOD}bad-1,m,t,s1,01/07/2026 10:00,2026-07-01T10:00:00Z,H100,8\n"
    ));
    assert_eq!(code, 1, "{err}");
    let r = r.unwrap();
    let f = finding(&r, "jobs.bad-timestamp");
    assert_eq!(f["line"], 3);
    assert_eq!(f["severity"], "error");
    assert!(f["file"].as_str().unwrap().ends_with("jobs.csv"));
    assert!(err.contains("jobs.csv:3:"), "{err}");
    assert_eq!(r["totals"]["jobs"], 1, "the bad row is not counted");
    assert_eq!(r["inputs"][0]["rows_rejected"], 1);
}

#[test]
fn unparsable_number_end_before_start_and_duplicates() {
    let jobs = format!(
        "{HEADER}{GOOD}n-1,m,t,s1,2026-07-01T00:00:00Z,2026-07-01T10:00:00Z,H100,eight\ne-1,m,t,s1,2026-07-02T00:00:00Z,2026-07-01T10:00:00Z,H100,8\n{GOOD}"
    );
    let (code, _, r) = run(&jobs);
    assert_eq!(code, 1);
    let r = r.unwrap();
    assert_eq!(finding(&r, "jobs.bad-number")["line"], 3);
    assert_eq!(finding(&r, "jobs.end-before-start")["line"], 4);
    let dup = finding(&r, "jobs.duplicate-id");
    assert_eq!(dup["line"], 5);
    assert!(
        dup["message"].as_str().unwrap().contains("jobs.csv:2"),
        "{dup}"
    );
    assert_eq!(r["totals"]["jobs"], 1);
    let i = &r["inputs"][0];
    assert_eq!(
        (
            i["rows"].as_u64(),
            i["rows_used"].as_u64(),
            i["rows_rejected"].as_u64()
        ),
        (Some(4), Some(1), Some(3))
    );
}

#[test]
fn unknown_site_hardware_and_zone() {
    let jobs = "job_id,model,team,site,zone,start,end,hardware,devices,avg_power_w\n\
        s-1,m,t,nowhere,,2026-07-01T00:00:00Z,2026-07-01T10:00:00Z,H100,8,\n\
        h-1,m,t,s1,,2026-07-01T00:00:00Z,2026-07-01T10:00:00Z,Abacus-9000,8,\n\
        h-2,m,t,s1,,2026-07-01T00:00:00Z,2026-07-01T10:00:00Z,Abacus-9000,8,300\n\
        z-1,m,t,,Atlantis,2026-07-01T00:00:00Z,2026-07-01T10:00:00Z,H100,8,\n";
    let (code, _, r) = run(jobs);
    assert_eq!(code, 1);
    let r = r.unwrap();
    let site = finding(&r, "jobs.unknown-site");
    assert_eq!(site["line"], 2);
    assert!(site["message"].as_str().unwrap().contains("add a [[site]]"));
    assert_eq!(finding(&r, "jobs.no-power")["line"], 3);
    assert_eq!(finding(&r, "jobs.unknown-hardware")["severity"], "warning");
    assert_eq!(finding(&r, "factors.zone-without-factor")["line"], 5);
    // h-2 has a measured power, so it is estimated from it; the others are not counted.
    assert_eq!(r["totals"]["jobs"], 1);
    assert!((r["totals"]["it_energy_kwh"].as_f64().unwrap() - 24.0).abs() < 1e-9);
}

#[test]
fn naive_timestamps_and_unknown_columns_are_warnings() {
    let jobs = "job_id,model,team,site,start,end,hardware,devices,colour\nn-1,m,t,s1,2026-07-01 00:00:00,2026-07-01 10:00:00,H100,8,blue\n";
    let (code, _, r) = run(jobs);
    assert_eq!(code, 0);
    let r = r.unwrap();
    let naive = finding(&r, "jobs.naive-timestamp");
    assert_eq!(naive["severity"], "warning");
    assert_eq!(naive["line"], 2);
    let unknown = finding(&r, "jobs.unknown-column");
    assert_eq!(unknown["line"], 1);
    assert!(unknown["message"].as_str().unwrap().contains("'colour'"));
}

#[test]
fn bad_config_names_file_and_line() {
    let d = tmp_with(&[
        (
            "greenledger.toml",
            "[report]\ntitle = \"x\"\ncolour = \"green\"\n",
        ),
        ("jobs.csv", HEADER),
    ]);
    gl().args(["validate", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .assert()
        .code(2)
        .stderr(contains("greenledger.toml:3:"))
        .stderr(contains("unknown field `colour`"));
    let d = tmp_with(&[(
        "greenledger.toml",
        "[[site]]\nid = \"a\"\nzone = \"FR\"\npue = 0.7\n",
    )]);
    gl().args(["validate", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .assert()
        .code(2)
        .stderr(contains("greenledger.toml:1:"))
        .stderr(contains("pue 0.7"));
    let d = tmp_with(&[(
        "greenledger.toml",
        "[inputs]\njobs = [\n  \"jobs.csv\",\n  \"missing.csv\",\n]\n",
    )]);
    std::fs::write(d.path().join("jobs.csv"), HEADER).unwrap();
    gl().args(["validate", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .assert()
        .code(2)
        .stderr(contains("greenledger.toml:4:"))
        .stderr(contains("missing.csv"));
}

/// Every check of the config's values names the line of the value it refuses (or, for a
/// value left to its default, the line of its table).
#[test]
fn every_config_check_names_its_line() {
    let head = "[inputs]\njobs = [\"jobs.csv\"]\n\n[[site]]\nid = \"s1\"\nzone = \"FR\"\n";
    // (config after `head`, the line expected, words of the message)
    let cases: &[(&str, u64, &str)] = &[
        ("\n[estimate]\nutilisation = 1.5\n", 9, "utilisation must be in (0, 1]"),
        ("\n[estimate]\ndefault_pue = 0.5\n", 9, "default_pue must be in 1.0..5.0"),
        ("\n[telemetry]\nmax_gap_s = -3\n", 9, "max_gap_s must be a number of seconds > 0"),
        ("\n[accounting]\noverhead = \"share\"\n", 9, "unknown variant `share`"),
        (
            "\n[[hardware]]\nname = \"A\"\ntdp_w = 300\n\n[[hardware]]\nname = \"B\"\nuse_factor = 2.0\n",
            14,
            "'B': use_factor must be in (0, 1]",
        ),
        ("\n[report]\ntitle = \"t\"\nstart = \"2026-07-01\"\n", 10, "needs both start and end"),
        ("\n[report]\nnet_revenue = -5\ncurrency = \"EUR\"\n", 9, "net_revenue needs a number > 0"),
        ("\n[codecarbon.sites]\nproj = \"nowhere\"\n", 9, "names site 'nowhere'"),
        ("\n[prometheus]\nurl = \"http://127.0.0.1:9\"\n\nretries = 99\n", 11, "retries = 99"),
        ("\n[prometheus]\nurl = \"http://127.0.0.1:9\"\njobs = \"slurm\"\n", 10, "unknown variant `slurm`"),
        ("\n[prometheus]\nurl = \"http://127.0.0.1:9\"\nsite = \"moon\"\n", 10, "names site 'moon'"),
        ("\n[mlflow]\nurl = \"http://127.0.0.1:9\"\nsite = \"moon\"\n", 10, "site = 'moon'"),
        (
            "\n[[published_footprint]]\nmodel = \"x\"\nsource = \"paper\"\n",
            9,
            "give kgco2e (with source) or boamps",
        ),
    ];
    for (rest, line, words) in cases {
        let cfg = format!("{head}{rest}");
        let d = tmp_with(&[("greenledger.toml", cfg.as_str()), ("jobs.csv", HEADER)]);
        gl().args(["validate", "--config"])
            .arg(d.path().join("greenledger.toml"))
            .assert()
            .code(2)
            .stderr(contains(format!("greenledger.toml:{line}:")))
            .stderr(contains(*words));
    }
}

#[test]
fn validate_exits_1_on_error_findings_and_0_when_clean() {
    let d = tmp_with(&[
        ("greenledger.toml", CONFIG),
        ("jobs.csv", &format!("{HEADER}{GOOD}")),
    ]);
    gl().args(["validate", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .assert()
        .code(0)
        .stdout(contains("0 errors"));
    let d = tmp_with(&[
        ("greenledger.toml", CONFIG),
        (
            "jobs.csv",
            &format!("{HEADER}{GOOD}x,m,t,s1,never,2026-07-01T10:00:00Z,H100,8\n"),
        ),
    ]);
    gl().args(["validate", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .assert()
        .code(1)
        .stdout(contains("jobs.csv:3: error [jobs.bad-timestamp]"));
}

#[test]
fn output_folder_is_never_overwritten_without_force() {
    let d = tmp_with(&[
        ("greenledger.toml", CONFIG),
        ("jobs.csv", &format!("{HEADER}{GOOD}")),
        ("out/keep.txt", "mine"),
    ]);
    let cfg = d.path().join("greenledger.toml");
    let out = d.path().join("out");
    gl().args(["report", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(contains("--force"));
    assert_eq!(
        std::fs::read_to_string(out.join("keep.txt")).unwrap(),
        "mine"
    );
    gl().args(["report", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .arg("--force")
        .assert()
        .code(0);
    assert!(!out.join("keep.txt").exists());
    assert!(
        out.join("report.json").exists()
            && out.join("report.html").exists()
            && out.join("csv/jobs.csv").exists()
    );
    // No temporary folder is left behind.
    let left: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(left.is_empty());
}

#[test]
fn bad_arguments_exit_2() {
    gl().args(["report", "--period", "2026-Q9", "--jobs", "x.csv"])
        .assert()
        .code(2);
    let d = tmp_with(&[("jobs.csv", &format!("{HEADER}{GOOD}"))]);
    gl().args(["report", "--jobs"])
        .arg(d.path().join("jobs.csv"))
        .args(["--period", "last year"])
        .assert()
        .code(2)
        .stderr(contains("2026-Q3"));
    gl().args(["report", "--jobs"])
        .arg(d.path().join("jobs.csv"))
        .args(["--format", "docx"])
        .assert()
        .code(2)
        .stderr(contains("invalid value 'docx'"))
        .stderr(contains(
            "html, json, csv, model-cards, pdf, boamps, ai-act",
        ));
    gl().args(["report"])
        .assert()
        .code(2)
        .stderr(contains("no inputs"));
    gl().args(["report", "--jobs"])
        .arg(d.path().join("nope.csv"))
        .assert()
        .code(2)
        .stderr(contains("does not exist"));
    gl().args(["frobnicate"]).assert().code(2);
}

#[test]
fn hostile_names_are_escaped_and_neutralised() {
    let jobs = format!("{HEADER}=HYPERLINK(\"http://x\"),<script>alert(1)</script>,@team,s1,2026-07-01T00:00:00Z,2026-07-01T10:00:00Z,H100,8\n");
    let d = tmp_with(&[("greenledger.toml", CONFIG), ("jobs.csv", &jobs)]);
    let out = d.path().join("out");
    gl().args(["report", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"));
    let csv = std::fs::read_to_string(out.join("csv/jobs.csv")).unwrap();
    assert!(csv.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{csv}");
    assert!(csv.contains(",'@team,"), "{csv}");
}

#[test]
fn garbage_input_never_panics() {
    for body in [
        "",
        "\u{feff}",
        "job_id\n",
        "a,b\n1,2,3\n",
        "\u{0}\u{1}binary",
        "job_id,model,team,site,start,end,hardware,devices\n\"unterminated",
    ] {
        let d = tmp_with(&[("greenledger.toml", CONFIG), ("jobs.csv", body)]);
        let o = gl()
            .args(["validate", "--config"])
            .arg(d.path().join("greenledger.toml"))
            .output()
            .unwrap();
        let code = o.status.code().unwrap();
        assert!(code == 1 || code == 2, "{body:?}: {code}");
        assert!(
            !String::from_utf8_lossy(&o.stderr).contains("panicked"),
            "{body:?}"
        );
    }
}

#[test]
fn overlapping_pue_periods_are_refused() {
    let cfg = "[[site]]\nid = \"a\"\nzone = \"FR\"\n[[site.pue]]\nperiod = \"2026-Q3\"\nvalue = 1.2\n[[site.pue]]\nperiod = \"2026-08\"\nvalue = 1.3\n";
    let d = tmp_with(&[("greenledger.toml", cfg)]);
    gl().args(["validate", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .assert()
        .code(2)
        .stderr(contains("overlap"));
}

#[test]
fn without_a_period_the_report_spans_the_data() {
    let jobs = "job_id,model,team,zone,start,end,hardware,devices\na,m,t,FR,2026-07-03T00:00:00Z,2026-07-03T10:00:00Z,H100,1\nb,m,t,DE,2026-08-01T00:00:00Z,2026-08-02T00:00:00Z,H100,1\n";
    let d = tmp_with(&[("jobs.csv", jobs)]);
    let out = d.path().join("out");
    gl().args(["report", "--quiet", "--jobs"])
        .arg(d.path().join("jobs.csv"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let r = read_json(&out.join("report.json"));
    assert_eq!(r["period"]["start"], "2026-07-03T00:00:00Z");
    assert_eq!(r["period"]["end"], "2026-08-02T00:00:00Z");
    assert_eq!(r["totals"]["jobs"], 2);
    // 10 h + 24 h of 700 W at the default PUE 1.58.
    assert!(
        (r["totals"]["facility_energy_kwh"].as_f64().unwrap() - 34.0 * 0.7 * 1.58).abs() < 1e-9
    );
}

#[test]
fn parquet_manifest_gives_the_same_ledger_as_csv() {
    use polars::prelude::*;
    let csv_path = super::fixture("handcalc/jobs.csv");
    let d = tempfile::tempdir().unwrap();
    // Typed columns as a data engineer would write them: UTC timestamps, integer devices.
    let mut df = CsvReadOptions::default()
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(csv_path))
        .unwrap()
        .finish()
        .unwrap();
    for c in ["start", "end"] {
        let ms: Vec<i64> = df
            .column(c)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| {
                chrono::DateTime::parse_from_rfc3339(v.unwrap())
                    .unwrap()
                    .timestamp_millis()
            })
            .collect();
        let s = Series::new(c.into(), ms)
            .cast(&DataType::Datetime(
                TimeUnit::Milliseconds,
                Some(TimeZone::UTC),
            ))
            .unwrap();
        df.with_column(s.into()).unwrap();
    }
    let devices = df
        .column("devices")
        .unwrap()
        .cast(&DataType::Int64)
        .unwrap();
    df.with_column(devices).unwrap();
    let pq = d.path().join("jobs.parquet");
    ParquetWriter::new(std::fs::File::create(&pq).unwrap())
        .finish(&mut df)
        .unwrap();
    let cfg = std::fs::read_to_string(super::fixture("handcalc/greenledger.toml"))
        .unwrap()
        .replace("jobs.csv", "jobs.parquet");
    std::fs::write(d.path().join("greenledger.toml"), cfg).unwrap();
    let out = d.path().join("out");
    gl().args(["report", "--quiet", "--format", "json", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let from_pq = read_json(&out.join("report.json"));
    let from_csv = read_json(&super::fixture("handcalc/expected/report.json"));
    assert_eq!(from_pq["totals"], from_csv["totals"]);
    assert_eq!(from_pq["teams"], from_csv["teams"]);
    assert_eq!(from_pq["jobs"].as_array().unwrap().len(), 5);
    assert_eq!(from_pq["jobs"][0]["start"], "2026-07-10T00:00:00Z");
}

/// Every input flag takes several values and quoted globs (`--codecarbon runs/*/e*.csv`); a
/// glob that matches nothing stops the run naming it.
#[test]
fn input_flags_take_several_files_and_globs() {
    let row = |id: &str| {
        format!("timestamp,project_name,run_id,duration,energy_consumed,country_iso_code\n2026-07-01T10:00:00Z,p,{id},3600,2,FRA\n")
    };
    let d = super::tmp_with(&[
        ("runs/a/emissions.csv", &row("ra")),
        ("runs/b/emissions.csv", &row("rb")),
        ("c.csv", &row("rc")),
    ]);
    let out = d.path().join("out");
    gl().args(["report", "--quiet", "--format", "json", "--codecarbon"])
        .arg(d.path().join("runs/*/emissions*.csv"))
        .arg(d.path().join("c.csv"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let r = super::read_json(&out.join("report.json"));
    assert_eq!(r["totals"]["jobs"], 3);
    gl().args(["report", "--quiet", "--codecarbon"])
        .arg(d.path().join("none/*.csv"))
        .arg("--out")
        .arg(d.path().join("out2"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("matches no file"));
}

/// Shell completions and the man page come from the same clap definitions.
#[test]
fn completions_and_man_page() {
    let out = gl().args(["completions", "bash"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("_greenledger()") && text.contains("--codecarbon"),
        "{}",
        &text[..200]
    );
    let out = gl().args(["completions", "zsh"]).output().unwrap();
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("#compdef greenledger"));
    let out = gl().arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let man = String::from_utf8(out.stdout).unwrap();
    assert!(
        man.contains(".TH greenledger 1") && man.contains("report"),
        "{}",
        &man[..200]
    );
    gl().args(["completions", "cmd.exe"]).assert().code(2);
}

/// Arbitrary and mutated bytes never panic any reader: telemetry (every detected layout),
/// sacct (text and JSON), meters and grid files. Each run ends with exit 0, 1 or 2.
#[test]
fn every_reader_survives_garbage() {
    let seeds = [
        "timestamp,node,device,power_w\n2026-07-01T00:00:00Z,n,0,1e309\n,,,\n",
        "timestamp,node,power_w\n2026-07-01T00:00:00Z,n,-5\nx,y\n",
        "timestamp,n1_power_w\n2026-07-01T00:00:00Z,\n2026-07-01T00:01:00Z,abc\n",
        "{\"_timestamp\": \"x\", \"system.gpu.a.powerWatts\": null}\n{",
        "{\"jobs\": [{\"job_id\": {\"set\": true}, \"time\": {\"start\": \"no\"}, \"steps\": 5}]}",
        "{\"status\":\"success\",\"data\":{\"result\":[{\"metric\":{},\"values\":[[1,\"x\"]]}]}}",
        "JobID☃State☃\n1☃☃☃☃\n",
        "site,start,end,kwh,scope\ns,2026-07-02,2026-07-01,-1,moon\n",
        "\u{0}\u{1}\u{2}",
        "",
    ];
    let cfg = "[report]\nperiod = \"2026-07\"\n[[site]]\nid = \"s\"\nzone = \"FR\"\n";
    let jobs = "job_id,model,team,site,start,end,hardware,devices\nj,m,t,s,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,H100,1\n";
    for (k, seed) in seeds.iter().enumerate() {
        // Each seed as is, and with a byte flipped in the middle.
        let mut mutated = seed.as_bytes().to_vec();
        if !mutated.is_empty() {
            let m = mutated.len() / 2;
            mutated[m] ^= 0x5a;
        }
        for bytes in [seed.as_bytes().to_vec(), mutated] {
            for flag in [
                "--telemetry",
                "--sacct",
                "--meters",
                "--grid",
                "--zeus",
                "--codecarbon",
            ] {
                let d = super::tmp_with(&[("greenledger.toml", cfg), ("jobs.csv", jobs)]);
                let f = d.path().join(format!("input{k}.txt"));
                std::fs::write(&f, &bytes).unwrap();
                let o = gl()
                    .args(["validate", "--config"])
                    .arg(d.path().join("greenledger.toml"))
                    .arg("--jobs")
                    .arg(d.path().join("jobs.csv"))
                    .arg(flag)
                    .arg(&f)
                    .output()
                    .unwrap();
                let code = o.status.code().unwrap_or(-1);
                let err = String::from_utf8_lossy(&o.stderr);
                assert!(
                    (0..=2).contains(&code) && !err.contains("panicked"),
                    "{flag} {seed:?}: {code} {err}"
                );
            }
        }
    }
}
