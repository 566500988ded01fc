//! Power telemetry to job energy: hand-computed cases, agreement with the DuckDB reference,
//! row order and file splits, and the real nvidia-smi and DCGM files.

use super::{build_in, close, fixture, gl, job, read_json, real_data, tmp_with};

/// 2026-07-01T00:00:00Z in epoch milliseconds.
const BASE_MS: i64 = 1_782_864_000_000;

fn ts(s: i64) -> String {
    let t = chrono::DateTime::from_timestamp_millis(BASE_MS + s * 1000).unwrap();
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

const JOBS_HEADER: &str = "job_id,model,team,zone,start,end,hardware,devices,nodes,gpu_ids\n";

/// The hand-computed case, as files: see `hand_computed_cases` for the arithmetic.
fn hand_case() -> Vec<(String, String)> {
    let mut power = String::from("timestamp,node,device,power_w\n");
    // n1/gpu0: a ramp, a gap, a duplicate at 460 s (mean 200 W).
    for (t, p) in [
        (0, 100.0),
        (60, 200.0),
        (120, 200.0),
        (400, 100.0),
        (460, 100.0),
        (460, 300.0),
        (520, 200.0),
    ] {
        power.push_str(&format!("{},n1,0,{p}\n", ts(t)));
    }
    // n1/gpu1 is not claimed by any job (gpu_ids = 0): all idle, 50 W for 60 s.
    for t in [0, 60] {
        power.push_str(&format!("{},n1,1,50\n", ts(t)));
    }
    // n2/gpu0: two jobs claim it at once.
    for t in [0, 50, 100, 150] {
        power.push_str(&format!("{},n2,0,100\n", ts(t)));
    }
    let mut dcgm = String::from("# HELP DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION Total energy consumption since boot (in mJ).\n# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter\n");
    for (t, mj) in [
        (0, 1_000_000.0),
        (60, 7_000_000.0),
        (120, 2_000_000.0),
        (180, 8_000_000.0),
    ] {
        dcgm.push_str(&format!("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{{gpu=\"0\",UUID=\"GPU-3\",Hostname=\"n3\"}} {mj} {}\n", BASE_MS + t * 1000));
    }
    let job = |id: &str, s: i64, e: i64, nodes: &str, ids: &str| {
        format!("{id},m,t,FR,{},{},H100,1,{nodes},{ids}\n", ts(s), ts(e))
    };
    let mut jobs = String::from(JOBS_HEADER);
    jobs.push_str(&job("A", 30, 90, "n1", "0"));
    jobs.push_str(&job("B", 90, 430, "n1", "0"));
    jobs.push_str(&job("C", 430, 500, "n1", "0"));
    jobs.push_str(&job("D", 0, 100, "n2", ""));
    jobs.push_str(&job("E", 50, 150, "n2", ""));
    jobs.push_str(&job("F", 30, 150, "n3", "0"));
    jobs.push_str(&job("G", 30, 150, "n9", "0"));
    let cfg = "[report]\nperiod = \"2026-07-01..2026-07-01\"\n[inputs]\njobs = [\"jobs.csv\"]\ntelemetry = [\"power.csv\", \"dcgm.prom\"]\n";
    vec![
        ("greenledger.toml".into(), cfg.into()),
        ("jobs.csv".into(), jobs),
        ("power.csv".into(), power),
        ("dcgm.prom".into(), dcgm),
    ]
}

fn write(files: &[(String, String)]) -> tempfile::TempDir {
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    tmp_with(&refs)
}

fn report(dir: &std::path::Path) -> serde_json::Value {
    let out = dir.join("out");
    let o = gl()
        .args(["report", "--quiet", "--format", "json", "--config"])
        .arg(dir.join("greenledger.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    read_json(&out.join("report.json"))
}

/// n1/gpu0 segments: [0,60] 100->200 W (9000 J), [60,120] 200 W (12000 J), [120,400] a gap,
/// [400,460] 100->200 W (the duplicate at 460 s averages 100 and 300), [460,520] 200 W.
/// A [30,90): 150->200 W for 30 s = 5250 J, then 200 W for 30 s = 6000 J: 11250 J, 60 s.
/// B [90,430): 6000 J in [90,120], the gap, 100->150 W over [400,430] = 3750 J: 9750 J in 60 s
///   of its 340 s; imputed at 162.5 W for 280 s = 45500 J.
/// C [430,500): 150->200 W over [430,460] = 5250 J, 200 W over [460,500] = 8000 J (ends between
///   two samples): 13250 J.
/// Idle on n1: [0,30] = 3750 J, [500,520] = 4000 J on gpu0, and gpu1's 3000 J.
/// n2/gpu0, 100 W: D [0,100) and E [50,150) overlap; D keeps [0,100): 10000 J; E: 5000 J.
/// n3/gpu0 counter (mJ): 1e6, 7e6 at 60 s, 2e6 at 120 s (reset), 8e6 at 180 s: F [30,150) gets
///   6000 J x 30/60 + 2000 J + 6000 J x 30/60 = 8000 J, metered.
/// G lists a node with no telemetry: estimated (700 W x 120 s).
#[test]
fn hand_computed_cases() {
    let d = write(&hand_case());
    let r = report(d.path());
    let kwh = |j: f64| j / 3.6e6;
    let a = job(&r, "A");
    assert_eq!(a["energy_source"], "sampled");
    assert!(
        close(a["sampled_kwh"].as_f64().unwrap(), kwh(11250.0)),
        "{a}"
    );
    assert!(close(a["coverage"].as_f64().unwrap(), 1.0));
    assert!(close(a["imputed_kwh"].as_f64().unwrap(), 0.0));
    let b = job(&r, "B");
    assert!(
        close(b["sampled_kwh"].as_f64().unwrap(), kwh(9750.0)),
        "{b}"
    );
    assert!(close(b["coverage"].as_f64().unwrap(), 60.0 / 340.0));
    assert!(close(b["imputed_kwh"].as_f64().unwrap(), kwh(45500.0)));
    assert!(close(
        b["it_energy_kwh"].as_f64().unwrap(),
        kwh(9750.0 + 45500.0)
    ));
    let c = job(&r, "C");
    assert!(
        close(c["sampled_kwh"].as_f64().unwrap(), kwh(13250.0)),
        "{c}"
    );
    assert!(close(
        job(&r, "D")["sampled_kwh"].as_f64().unwrap(),
        kwh(10000.0)
    ));
    assert!(close(
        job(&r, "E")["sampled_kwh"].as_f64().unwrap(),
        kwh(5000.0)
    ));
    let f = job(&r, "F");
    assert_eq!(f["energy_source"], "metered");
    assert!(
        close(f["it_energy_kwh"].as_f64().unwrap(), kwh(8000.0)),
        "{f}"
    );
    let g = job(&r, "G");
    assert_eq!(g["energy_source"], "estimated");
    assert!(close(
        g["it_energy_kwh"].as_f64().unwrap(),
        0.7 * 120.0 / 3600.0
    ));

    let t = &r["telemetry"];
    let node = |n: &str| {
        t["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["node"] == n)
            .unwrap()
            .clone()
    };
    assert!(close(
        node("n1")["idle_kwh"].as_f64().unwrap(),
        kwh(3750.0 + 4000.0 + 3000.0)
    ));
    assert!(close(
        node("n1")["total_kwh"].as_f64().unwrap(),
        kwh(9000.0 + 12000.0 + 9000.0 + 12000.0 + 3000.0)
    ));
    assert_eq!(t["duplicates"], 1);
    assert_eq!(t["gaps"], 1);
    assert!(close(t["gap_seconds"].as_f64().unwrap(), 280.0));
    assert_eq!(t["counter_resets"], 1);
    let findings = r["findings"].as_array().unwrap();
    let overlap = findings
        .iter()
        .find(|f| f["code"] == "telemetry.overlapping-claims")
        .expect("overlap finding");
    assert_eq!(overlap["severity"], "error");
    assert!(
        overlap["message"].as_str().unwrap().contains("'D' and 'E'"),
        "{overlap}"
    );
    for code in [
        "telemetry.duplicates",
        "telemetry.gaps",
        "telemetry.counter-reset",
        "telemetry.imputed",
        "telemetry.no-samples",
    ] {
        assert!(findings.iter().any(|f| f["code"] == code), "{code}");
    }
}

/// Shuffle the hand case's samples with `seed`, split them in two files at `cut`, and report.
fn shuffled_and_split(
    files: &[(String, String)],
    seed: u64,
    cut: usize,
) -> greenledger::report::Report {
    let power = &files.iter().find(|(n, _)| n == "power.csv").unwrap().1;
    let mut lines: Vec<&str> = power.lines().skip(1).collect();
    let mut s = seed | 1;
    for i in (1..lines.len()).rev() {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        lines.swap(i, (s >> 33) as usize % (i + 1));
    }
    let cut = cut % (lines.len() + 1);
    let part = |ls: &[&str]| {
        format!(
            "timestamp,node,device,power_w\n{}",
            ls.iter().map(|l| format!("{l}\n")).collect::<String>()
        )
    };
    let mut variant: Vec<(String, String)> = files
        .iter()
        .filter(|(n, _)| n != "power.csv" && n != "greenledger.toml")
        .cloned()
        .collect();
    variant.push(("a.csv".into(), part(&lines[..cut])));
    variant.push(("b.csv".into(), part(&lines[cut..])));
    variant.push((
        "greenledger.toml".into(),
        files[0].1.replace("\"power.csv\"", "\"a.csv\", \"b.csv\""),
    ));
    build_in(write(&variant).path())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 16, ..Default::default() })]

    /// Splitting a telemetry file in two, or shuffling its rows, changes nothing.
    #[test]
    fn splitting_or_shuffling_the_samples_changes_nothing(seed in proptest::prelude::any::<u64>(), cut in 0usize..64) {
        let files = hand_case();
        let base = build_in(write(&files).path());
        let r = shuffled_and_split(&files, seed, cut);
        for (x, y) in base.jobs.iter().zip(&r.jobs) {
            proptest::prop_assert_eq!(&x.job_id, &y.job_id);
            proptest::prop_assert!(close(x.amounts.it_energy_kwh, y.amounts.it_energy_kwh), "{}: {} vs {}", x.job_id, x.amounts.it_energy_kwh, y.amounts.it_energy_kwh);
            proptest::prop_assert_eq!(x.coverage.map(|c| (c * 1e9).round()), y.coverage.map(|c| (c * 1e9).round()));
        }
        let (bt, rt) = (base.telemetry.as_ref().unwrap(), r.telemetry.as_ref().unwrap());
        proptest::prop_assert!(close(bt.stats.idle_kwh, rt.stats.idle_kwh));
        proptest::prop_assert_eq!(bt.stats.duplicates, rt.stats.duplicates);
        proptest::prop_assert_eq!(bt.stats.gaps, rt.stats.gaps);
    }
}

fn reference(case: &str) -> Vec<(String, f64)> {
    let text = std::fs::read_to_string(fixture(case).join("expected-reference.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].parse().unwrap())
        })
        .collect()
}

/// gen_fleet.py fleets with the per-job energy reference_duckdb.py computed (kept as fixtures,
/// so this test needs no Python): 1e-6 relative, Parquet and CSV.
#[test]
fn agrees_with_the_duckdb_reference() {
    for (case, file) in [
        ("fleet-s1", "power.parquet"),
        ("fleet-s1", "power.csv"),
        ("fleet-s2", "power.parquet"),
        ("fleet-s3", "power.parquet"),
    ] {
        let dir = fixture(case);
        let out = tempfile::tempdir().unwrap();
        let o = gl()
            .args(["report", "--quiet", "--format", "json", "--config"])
            .arg(dir.join("greenledger.toml"))
            .arg("--jobs")
            .arg(dir.join("jobs.csv"))
            .arg("--telemetry")
            .arg(dir.join(file))
            .arg("--out")
            .arg(out.path().join("r"))
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{case}/{file}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let r = read_json(&out.path().join("r/report.json"));
        // One site: moving to the cleanest site saves nothing (not a rounding residue).
        assert!(
            r["whatifs"]
                .as_array()
                .unwrap()
                .iter()
                .all(|w| w["kind"] != "cleanest_site"),
            "{case}: {}",
            r["whatifs"]
        );
        let want = reference(case);
        assert!(!want.is_empty());
        for (id, kwh) in want {
            let j = job(&r, &id);
            assert_eq!(j["energy_source"], "sampled", "{case} {id}");
            let got = j["sampled_kwh"].as_f64().unwrap();
            assert!(
                (got - kwh).abs() <= 1e-6 * kwh,
                "{case}/{file} {id}: {got} vs reference {kwh}"
            );
        }
    }
}

/// The report of one job J on gpu-host-7/gpu0 from 0 to `seconds`, with `log` as that host's
/// nvidia-smi log and `inputs` added to the config's [inputs].
fn nvidia_smi_report(log: &str, seconds: i64, inputs: &str) -> serde_json::Value {
    let jobs = format!(
        "{JOBS_HEADER}J,m,t,FR,{},{},H100,1,gpu-host-7,0\n",
        ts(0),
        ts(seconds)
    );
    let cfg = format!("[report]\nperiod = \"2026-07-01..2026-07-01\"\n[inputs]\njobs = [\"jobs.csv\"]\ntelemetry = [\"gpu-host-7.csv\"]\n{inputs}");
    let d = tmp_with(&[
        ("greenledger.toml", &cfg),
        ("jobs.csv", &jobs),
        ("gpu-host-7.csv", log),
    ]);
    report(d.path())
}

/// A GPU index that is not a number is an error for that row, never GPU 0 (whose energy it
/// would have been averaged with as a "duplicate").
#[test]
fn an_nvidia_smi_index_that_is_no_number_is_refused() {
    let log = "timestamp, index, power.draw [W]\n\
        2026-07-01T00:00:00Z, 0, 100.00 W\n\
        2026-07-01T00:00:00Z, x, 900.00 W\n\
        2026-07-01T00:01:00Z, 0, 100.00 W\n\
        2026-07-01T00:01:00Z, [N/A], 900.00 W\n";
    let r = nvidia_smi_report(log, 60, "");
    // GPU 0 alone: 100 W for 60 s.
    let j = job(&r, "J");
    assert!(
        close(j["sampled_kwh"].as_f64().unwrap(), 6000.0 / 3.6e6),
        "{j}"
    );
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["message"]
                .as_str()
                .unwrap()
                .contains("GPU index that is not a whole number")
        })
        .unwrap_or_else(|| panic!("{}", r["findings"]));
    assert_eq!(f["severity"], "error");
    assert_eq!(f["line"], 3);
    assert!(f["message"].as_str().unwrap().contains("lines 3, 5"), "{f}");
}

#[test]
fn nvidia_smi_quirks_are_read() {
    // Units in header and cells, ", " separators, sentinels, a repeated header from an appended
    // log, average power preferred over instant, a partial last sample, local time (+02:00 zone).
    let log = "timestamp, index, name, power.draw.average [W], power.draw.instant [W], memory.used [MiB]\n\
        2026/07/01 02:00:00.000, 0, NVIDIA H100 80GB HBM3, 100.00 W, 90.00 W, 4096 MiB\n\
        2026/07/01 02:00:00.000, 1, NVIDIA H100 80GB HBM3, [N/A], 50.00 W, 4096 MiB\n\
        timestamp, index, name, power.draw.average [W], power.draw.instant [W], memory.used [MiB]\n\
        2026/07/01 02:01:00.000, 0, NVIDIA H100 80GB HBM3, 200.00 W, 210.00 W, [N/A]\n\
        2026/07/01 02:01:00.000, 1, NVIDIA H100 80GB HBM3, [N/A], N/A, 4096 MiB\n\
        2026/07/01 02:02:00.000, 0, NVIDIA H100 80GB HBM3, 200.00 W, 210.00 W, 4096 MiB\n";
    let r = nvidia_smi_report(log, 120, "timezone = \"+02:00\"\n");
    // gpu0: 100 -> 200 W over 60 s (9000 J) then 200 W for 60 s (12000 J).
    let j = job(&r, "J");
    assert_eq!(j["energy_source"], "sampled");
    assert!(
        close(j["sampled_kwh"].as_f64().unwrap(), 21000.0 / 3.6e6),
        "{j}"
    );
    let findings = r["findings"].as_array().unwrap();
    let msg = |code: &str| {
        findings
            .iter()
            .filter(|f| f["code"] == code)
            .map(|f| f["message"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    assert!(
        msg("telemetry.power-field").contains("power.draw.average (3 samples)"),
        "{}",
        msg("telemetry.power-field")
    );
    assert!(msg("telemetry.power-field").contains("power.draw.instant (1 samples)"));
    assert!(
        msg("telemetry.bad-row").contains("repeated header"),
        "{}",
        msg("telemetry.bad-row")
    );
    assert!(msg("telemetry.bad-row").contains("no power value"));
    assert!(msg("telemetry.node-from-file-name").contains("gpu-host-7"));
}

#[test]
fn unknown_formats_are_error_findings_not_crashes() {
    let jobs = format!("{JOBS_HEADER}J,m,t,FR,{},{},H100,1,,\n", ts(0), ts(120));
    let cfg = "[inputs]\njobs = [\"jobs.csv\"]\ntelemetry = [\"notes.txt\"]\n";
    let d = tmp_with(&[
        ("greenledger.toml", cfg),
        ("jobs.csv", &jobs),
        ("notes.txt", "hello\nworld\n"),
    ]);
    let out = d.path().join("out");
    gl().args(["report", "--quiet", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1);
    let r = read_json(&out.join("report.json"));
    assert!(r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "telemetry.unrecognised-format" && f["file"] == "notes.txt"));
}

#[test]
fn every_real_nvidia_smi_and_dcgm_file_is_read_or_rejected_cleanly() {
    let mut files = Vec::new();
    for sub in ["nvidia-smi", "dcgm"] {
        let Some(dir) = real_data(sub) else {
            continue;
        };
        for e in std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()) {
            let p = e.path();
            if !p.to_string_lossy().ends_with(".source.txt") {
                files.push(p);
            }
        }
    }
    files.sort();
    for f in files {
        let jobs = format!("{JOBS_HEADER}J,m,t,FR,{},{},H100,1,,\n", ts(0), ts(120));
        let d = tmp_with(&[("jobs.csv", &jobs)]);
        let out = d.path().join("out");
        let o = gl()
            .args(["report", "--quiet", "--format", "json", "--jobs"])
            .arg(d.path().join("jobs.csv"))
            .arg("--telemetry")
            .arg(&f)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!stderr.contains("panicked"), "{}: {stderr}", f.display());
        let code = o.status.code().unwrap();
        assert!(code <= 2, "{}", f.display());
        if code == 2 {
            assert!(
                stderr.contains(&*f.file_name().unwrap().to_string_lossy()),
                "{}: the error names the file: {stderr}",
                f.display()
            );
            continue;
        }
        let r = read_json(&out.join("report.json"));
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let about: Vec<&serde_json::Value> = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["file"].as_str().is_some_and(|p| p.ends_with(&name)))
            .collect();
        let rec = r["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["path"].as_str().unwrap().ends_with(&name))
            .unwrap();
        if name.contains("capture") {
            assert!(
                about
                    .iter()
                    .any(|x| x["code"] == "telemetry.unrecognised-format"),
                "{name} is rejected with a finding"
            );
        } else if name.starts_with("datadog") {
            // A single scrape without timestamps: read, and every sample reported as unusable.
            assert!(
                about.iter().any(|x| x["code"] == "telemetry.no-timestamp"),
                "{name}: {about:?}"
            );
        } else {
            assert!(rec["rows_used"].as_u64().unwrap() > 0, "{name}: {rec}");
        }
    }
}

#[test]
fn nvidia_smi_without_header_needs_its_columns() {
    let log = "2026/07/01 02:00:00.000, 0, 100.00 W\n2026/07/01 02:01:00.000, 0, 200.00 W\n";
    let jobs = format!(
        "{JOBS_HEADER}J,m,t,FR,{},{},H100,1,node7,0\n",
        ts(0),
        ts(60)
    );
    let base = "[report]\nperiod = \"2026-07-01..2026-07-01\"\n[inputs]\njobs = [\"jobs.csv\"]\ntelemetry = [\"node7.csv\"]\ntimezone = \"+02:00\"\n";
    let with_cols = format!(
        "{base}[telemetry]\nnvidia_smi_columns = [\"timestamp\", \"index\", \"power.draw [W]\"]\n"
    );
    let d = tmp_with(&[
        ("greenledger.toml", with_cols.as_str()),
        ("jobs.csv", &jobs),
        ("node7.csv", log),
    ]);
    let r = report(d.path());
    let j = job(&r, "J");
    assert_eq!(j["energy_source"], "sampled");
    assert!(
        close(j["sampled_kwh"].as_f64().unwrap(), 9000.0 / 3.6e6),
        "{j}"
    );
    let d = tmp_with(&[
        ("greenledger.toml", base),
        ("jobs.csv", &jobs),
        ("node7.csv", log),
    ]);
    let r = report(d.path());
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "telemetry.unrecognised-format")
        .expect("finding")
        .clone();
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("nvidia_smi_columns"),
        "{f}"
    );
}

/// One unreadable telemetry file is an error finding for that file, whatever its layout; the
/// run goes on with the others (exit 1), and the messages say what is wrong.
#[test]
fn an_unreadable_telemetry_file_is_a_finding_and_the_run_goes_on() {
    let good = "timestamp,node,device,power_w\n2026-07-01T00:00:00Z,n1,0,100\n2026-07-01T00:01:00Z,n1,0,100\n";
    let files = [
        ("good.csv", good),
        (
            "nopower.csv",
            "timestamp, index, utilization.gpu [%]\n2026/07/01 00:00:00.000, 0, 50 %\n",
        ),
        (
            "dated.csv",
            "Tue Jul 14 08:12:53 CEST 2026\n2026/07/14 08:12:53.353, 0, 71.2 W\n",
        ),
        (
            "lines.json",
            "{\"ts\": 1, \"w\": 2}\n{\"ts\": 2, \"w\": 3}\n",
        ),
        ("nodevice.parquet.csv", "when,who,watts\n1,2,3\n"),
    ];
    let mut all: Vec<(&str, &str)> = files.to_vec();
    let jobs = "job_id,model,team,zone,start,end,hardware,devices,nodes\nj,m,t,FR,2026-07-01T00:00:00Z,2026-07-01T00:01:00Z,H100,1,n1\n";
    all.push(("jobs.csv", jobs));
    let d = super::tmp_with(&all);
    let out = d.path().join("out");
    let mut cmd = super::gl();
    cmd.args([
        "report", "--quiet", "--format", "json", "--period", "2026-07", "--jobs",
    ])
    .arg(d.path().join("jobs.csv"))
    .arg("--telemetry");
    for (name, _) in &files {
        cmd.arg(d.path().join(name));
    }
    cmd.arg("--out").arg(&out).assert().code(1);
    let r = super::read_json(&out.join("report.json"));
    let errors: Vec<(String, String)> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "telemetry.unrecognised-format")
        .map(|f| {
            (
                f["file"].as_str().unwrap_or("").to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(errors.len(), 4, "{errors:?}");
    let msg = |name: &str| {
        errors
            .iter()
            .find(|(f, _)| f.ends_with(name))
            .map(|(_, m)| m.clone())
            .unwrap_or_else(|| panic!("{name} in {errors:?}"))
    };
    assert!(msg("nopower.csv").contains("no power column"));
    assert!(msg("dated.csv").contains("`date` line"));
    assert!(msg("lines.json").contains("not used"));
    assert!(msg("nodevice.parquet.csv").contains("not a telemetry format"));
    // The good file was used: the job is sampled.
    assert_eq!(r["jobs"][0]["energy_source"], "sampled");
}

/// Weights & Biases `wandb-events.jsonl`: GPU power per line at `_timestamp` (epoch seconds);
/// the node is the run's folder. Two GPUs at 200 W and 300 W over 1 h (samples every 60 s) for
/// a job claiming the node: 0.5 kWh.
#[test]
fn wandb_events_are_read_with_the_node_from_the_run_folder() {
    let mut events = String::new();
    for k in 0..=60 {
        let t = 1782864000 + k * 60;
        events.push_str(&format!(
            "{{\"system.gpu.0.powerWatts\": 200.0, \"system.gpu.1.powerWatts\": 300, \"system.cpu\": 12, \"_timestamp\": {t}.25, \"_runtime\": {k}}}\n"
        ));
    }
    events.push_str("not json\n");
    let jobs = "job_id,model,team,zone,start,end,hardware,devices,nodes\nj,m,t,FR,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,H100,2,run-abc\n";
    let d = super::tmp_with(&[
        ("run-abc/files/wandb-events.jsonl", &events),
        ("jobs.csv", jobs),
    ]);
    let out = d.path().join("out");
    super::gl()
        .args([
            "report", "--quiet", "--format", "json", "--period", "2026-07", "--jobs",
        ])
        .arg(d.path().join("jobs.csv"))
        .arg("--telemetry")
        .arg(d.path().join("run-abc/files/wandb-events.jsonl"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1);
    let r = super::read_json(&out.join("report.json"));
    let j = &r["jobs"][0];
    assert_eq!(j["energy_source"], "sampled");
    // The samples sit 0.25 s after each minute: the job's first quarter second is uncovered
    // and imputed at its mean power, so (200 + 300) W x 1 h = 0.5 kWh.
    assert!(
        (j["it_energy_kwh"].as_f64().unwrap() - 0.5).abs() < 1e-9,
        "{j}"
    );
    assert!(r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "telemetry.bad-row" && f["line"] == 62));
}

/// A Zeus log meters the job it is named after: 2 windows x (1,800,000 + 1,800,000) J =
/// 7.2 MJ = 2 kWh, accelerators only; a log named after no job is an error (its clock is
/// monotonic, it cannot be placed in time). The real Zeus profile log is read the same way.
#[test]
fn zeus_logs_meter_the_job_they_are_named_after() {
    let log = "start_time,window_name,elapsed_time,gpu0_energy,gpu1_energy\n\
               13586624.12,__GlobalPowerLimitOptimizer_300,33.2,1800000,1800000\n\
               13586667.13,__GlobalPowerLimitOptimizer_275,33.0,1800000.0,1800000\n";
    let jobs = "job_id,model,team,zone,start,end,hardware,devices\nrun-9,m,t,FR,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,A40,2\n";
    let d = super::tmp_with(&[("run-9.csv", log), ("other.csv", log), ("jobs.csv", jobs)]);
    let out = d.path().join("out");
    super::gl()
        .args(["report", "--quiet", "--format", "json", "--jobs"])
        .arg(d.path().join("jobs.csv"))
        .arg("--zeus")
        .arg(d.path().join("run-9.csv"))
        .arg(d.path().join("other.csv"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1);
    let r = super::read_json(&out.join("report.json"));
    let j = &r["jobs"][0];
    assert_eq!(j["energy_source"], "metered");
    assert_eq!(j["boundary"], "accelerator");
    assert!(
        (j["it_energy_kwh"].as_f64().unwrap() - 2.0).abs() < 1e-12,
        "{j}"
    );
    assert!(r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "zeus.no-job"));
    if let Some(dir) = super::real_data("zeus") {
        let real = dir.join("zeus__profile_A40_resnet18_4gpu.csv");
        let named = d.path().join("zeus__profile_A40_resnet18_4gpu.csv");
        std::fs::copy(&real, &named).unwrap();
        let jobs = "job_id,model,team,zone,start,end,hardware,devices\nzeus__profile_A40_resnet18_4gpu,m,t,FR,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,A40,4\n";
        std::fs::write(d.path().join("jobs2.csv"), jobs).unwrap();
        super::gl()
            .args(["report", "--quiet", "--format", "json", "--force", "--jobs"])
            .arg(d.path().join("jobs2.csv"))
            .arg("--zeus")
            .arg(&named)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(0);
        let r = super::read_json(&out.join("report.json"));
        assert_eq!(r["jobs"][0]["energy_source"], "metered");
        assert_eq!(
            r["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["kind"] == "zeus")
                .unwrap()["rows_used"],
            9
        );
    }
}

/// The progress bar is for terminals: with stderr piped (and without --quiet) it writes
/// nothing but the summary.
#[test]
fn no_progress_bar_when_stderr_is_piped() {
    let mut t = String::from("timestamp,node,device,power_w\n");
    for k in 0..600 {
        t.push_str(&format!(
            "2026-07-01T00:{:02}:{:02}Z,n1,0,100\n",
            k / 60,
            k % 60
        ));
    }
    let jobs = "job_id,model,team,zone,start,end,hardware,devices,nodes\nj,m,t,FR,2026-07-01T00:00:00Z,2026-07-01T00:09:00Z,H100,1,n1\n";
    let d = super::tmp_with(&[("t.csv", &t), ("jobs.csv", jobs)]);
    let o = super::gl()
        .args(["report", "--format", "json", "--jobs"])
        .arg(d.path().join("jobs.csv"))
        .arg("--telemetry")
        .arg(d.path().join("t.csv"))
        .arg("--out")
        .arg(d.path().join("out"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("telemetry [") && !err.contains('\r'), "{err}");
    assert!(err.contains("wrote "), "{err}");
}

/// On a terminal the scan shows a progress bar on stderr (run in a pseudo-terminal with
/// util-linux `script`; skipped loudly where it is missing).
#[test]
fn a_progress_bar_on_a_terminal() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        super::loud(
            "*** SKIPPED: util-linux `script` is not installed, the terminal case is untested ***",
        );
        return;
    }
    let mut t = String::from("timestamp,node,device,power_w\n");
    for d in 0..8 {
        // 15,000 samples 5 s apart: 20.8 h, 120,000 samples in all.
        for k in 0..15000 {
            let s = k * 5;
            t.push_str(&format!(
                "2026-07-01T{:02}:{:02}:{:02}Z,n1,{d},100\n",
                s / 3600,
                s / 60 % 60,
                s % 60
            ));
        }
    }
    let jobs = "job_id,model,team,zone,start,end,hardware,devices,nodes\nj,m,t,FR,2026-07-01T00:00:00Z,2026-07-02T00:00:00Z,H100,8,n1\n";
    let d = super::tmp_with(&[("t.csv", &t), ("jobs.csv", jobs)]);
    let bin = assert_cmd::cargo::cargo_bin("greenledger");
    let cmd = format!(
        "{} report --format json --jobs {} --telemetry {} --out {}",
        bin.display(),
        d.path().join("jobs.csv").display(),
        d.path().join("t.csv").display(),
        d.path().join("out").display()
    );
    let log = d.path().join("tty.log");
    let o = std::process::Command::new("script")
        .args(["-qc", &cmd])
        .arg(&log)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let shown = std::fs::read_to_string(&log).unwrap();
    assert!(
        shown.contains("telemetry [") && shown.contains("samples"),
        "{shown}"
    );
}

/// A newcomer's first try: `report --telemetry gpu.csv`, no jobs, no config, no period. The
/// report covers the whole UTC days the samples span (1 July 23:00 to 2 July 01:00: 1 and 2
/// July) and says so; the fleet is idle: 300 W for 2 h = 0.6 kWh of idle energy (of a node no
/// site names: outside the inventory, with a warning).
#[test]
fn telemetry_alone_reports_on_the_days_it_spans() {
    let base = chrono::DateTime::parse_from_rfc3339("2026-07-01T23:00:00Z").unwrap();
    let mut power = String::from("timestamp,node,device,power_w\n");
    for k in 0..=120 {
        let t = base + chrono::Duration::seconds(k * 60);
        power.push_str(&format!("{},n1,0,300\n", t.format("%Y-%m-%dT%H:%M:%SZ")));
    }
    let d = super::tmp_with(&[("gpu.csv", &power)]);
    let out = d.path().join("out");
    super::gl()
        .args(["report", "--quiet", "--format", "json", "--telemetry"])
        .arg(d.path().join("gpu.csv"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let r = super::read_json(&out.join("report.json"));
    assert_eq!(r["period"]["start"], "2026-07-01T00:00:00Z");
    assert_eq!(r["period"]["end"], "2026-07-03T00:00:00Z");
    let said = super::findings_of(&r, "period.from-telemetry");
    assert!(
        said[0]["message"]
            .as_str()
            .unwrap()
            .contains("2026-07-01..2026-07-02"),
        "{said:?}"
    );
    let t = &r["telemetry"];
    assert_eq!(t["samples"], 121);
    assert!(super::close(t["idle_kwh"].as_f64().unwrap(), 0.6), "{t}");
    assert!(super::close(
        t["nodes"][0]["idle_kwh"].as_f64().unwrap(),
        0.6
    ));
}

/// An energy counter that reads nothing (the same value at every scrape, as on vGPUs) while the
/// power gauge reads 100 W: never a 0 kWh job. F [30, 150) on n3 is integrated from its power
/// samples, 100 W x 120 s = 12,000 J, with a warning naming it.
#[test]
fn a_counter_that_reads_nothing_falls_back_to_the_power_samples() {
    let mut dcgm = String::from("# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter\n# TYPE DCGM_FI_DEV_POWER_USAGE gauge\n");
    for t in [0, 60, 120, 180] {
        let at = BASE_MS + t * 1000;
        dcgm.push_str(&format!(
            "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{{gpu=\"0\",Hostname=\"n3\"}} 5000000 {at}\n"
        ));
        dcgm.push_str(&format!(
            "DCGM_FI_DEV_POWER_USAGE{{gpu=\"0\",Hostname=\"n3\"}} 100 {at}\n"
        ));
    }
    let jobs = format!("{JOBS_HEADER}F,m,t,FR,{},{},H100,1,n3,0\n", ts(30), ts(150));
    let cfg = "[report]\nperiod = \"2026-07-01..2026-07-01\"\n[inputs]\njobs = [\"jobs.csv\"]\ntelemetry = [\"dcgm.prom\"]\n";
    let d = tmp_with(&[
        ("greenledger.toml", cfg),
        ("jobs.csv", &jobs),
        ("dcgm.prom", &dcgm),
    ]);
    let r = report(d.path());
    let f = job(&r, "F");
    assert_eq!(f["energy_source"], "sampled", "{f}");
    assert!(
        close(f["it_energy_kwh"].as_f64().unwrap(), 12_000.0 / 3.6e6),
        "{f}"
    );
    let w = super::findings_of(&r, "telemetry.zero-counter");
    assert!(w[0]["message"].as_str().unwrap().ends_with(": F"), "{w:?}");
}

/// One telemetry file and jobs on its node, reported over 1 July: the report.json.
fn one_log(name: &str, log: &str, jobs: &[(&str, &str)]) -> serde_json::Value {
    let mut csv = String::from(JOBS_HEADER);
    for (id, gpu) in jobs {
        let node = name.split('.').next().unwrap();
        csv.push_str(&format!(
            "{id},m,t,FR,{},{},MI250X,1,{node},{gpu}\n",
            ts(0),
            ts(120)
        ));
    }
    let cfg = format!("[report]\nperiod = \"2026-07-01..2026-07-01\"\n[inputs]\njobs = [\"jobs.csv\"]\ntelemetry = [\"{name}\"]\n");
    let d = tmp_with(&[("greenledger.toml", &cfg), ("jobs.csv", &csv), (name, log)]);
    report(d.path())
}

/// `amd-smi monitor --csv -w 60` to stdout: epoch seconds, N/A for a missing value, the header
/// block repeated after a blank line. GPU 0 at 300 W from 0 to 120 s: 36,000 J.
#[test]
fn an_amd_smi_monitor_log_by_hand() {
    let s = BASE_MS / 1000;
    let log = format!(
        "timestamp,gpu,power_usage,hotspot_temperature,gfx_util\n{s},0,300,51,97\n{s},1,N/A,40,0\n\ntimestamp,gpu,power_usage,hotspot_temperature,gfx_util\n{},0,300,52,98\n{},0,300,52,98\n",
        s + 60,
        s + 120
    );
    let r = one_log("mi01.csv", &log, &[("A", "0")]);
    let a = job(&r, "A");
    assert_eq!(a["energy_source"], "sampled", "{a}");
    assert!(
        close(a["it_energy_kwh"].as_f64().unwrap(), 36_000.0 / 3.6e6),
        "{a}"
    );
    assert!(
        a["energy_detail"].as_str().unwrap().contains("amd-smi"),
        "{a}"
    );
}

/// `amd-smi metric -p -E --csv -w 60`: the energy counter (J) makes the job metered: 1,000 J,
/// 19,000 J, 37,000 J at 0, 60 and 120 s: 36,000 J.
#[test]
fn an_amd_smi_metric_log_with_its_energy_counter() {
    let s = BASE_MS / 1000;
    let log = format!(
        "timestamp,gpu,socket_power,gfx_voltage,total_energy_consumption\n{s},0,290,0.8,1000\n{},0,310,0.8,19000\n{},0,300,0.8,37000\n",
        s + 60,
        s + 120
    );
    let r = one_log("mi02.csv", &log, &[("E", "0")]);
    let e = job(&r, "E");
    assert_eq!(e["energy_source"], "metered", "{e}");
    assert!(
        close(e["it_energy_kwh"].as_f64().unwrap(), 36_000.0 / 3.6e6),
        "{e}"
    );
}

/// `rocm-smi --showpower --csv` with the timestamp a wrapper prepends; devices as `card0`:
/// 200 W for 120 s = 24,000 J.
#[test]
fn a_rocm_smi_log_by_hand() {
    let log = format!(
        "timestamp,device,Average Graphics Package Power (W)\n{},card0,200.0\n{},card0,200.0\n{},card0,200.0\n",
        ts(0),
        ts(60),
        ts(120)
    );
    let r = one_log("mi03.csv", &log, &[("R", "0")]);
    let j = job(&r, "R");
    assert!(
        close(j["it_energy_kwh"].as_f64().unwrap(), 24_000.0 / 3.6e6),
        "{j}"
    );
}

/// Intel Gaudi `hl-smi -Q timestamp,index,name,module_id,power.draw -f csv -l 60`: values with
/// " W". 500 W for 120 s = 60,000 J, named hl-smi.
#[test]
fn an_hl_smi_log_by_hand() {
    let at = |s: i64| {
        chrono::DateTime::from_timestamp_millis(BASE_MS + s * 1000)
            .unwrap()
            .format("%Y/%m/%d %H:%M:%S%.3f")
            .to_string()
    };
    let log = format!(
        "timestamp, index, name, module_id, power.draw [W]\n{}, 0, HL-325L, 0, 500 W\n{}, 0, HL-325L, 0, 500 W\n{}, 0, HL-325L, 0, 500 W\n",
        at(0),
        at(60),
        at(120)
    );
    let r = one_log("gaudi01.csv", &log, &[("H", "0")]);
    let j = job(&r, "H");
    assert!(
        close(j["it_energy_kwh"].as_f64().unwrap(), 60_000.0 / 3.6e6),
        "{j}"
    );
    assert!(
        j["energy_detail"].as_str().unwrap().contains("hl-smi"),
        "{j}"
    );
}

/// An MI250X card: die 0 reports the card's 400 W, die 1 reports 0. A job on die 1 alone gets
/// half the card: 200 W for 120 s = 24,000 J, with a note.
#[test]
fn a_dual_die_card_splits_its_power() {
    let s = BASE_MS / 1000;
    let mut log = String::from("timestamp,gpu,power_usage\n");
    for t in [0, 60, 120] {
        log.push_str(&format!("{},0,400\n{},1,0\n", s + t, s + t));
    }
    let r = one_log("mi04.csv", &log, &[("D1", "1")]);
    let j = job(&r, "D1");
    assert!(
        close(j["it_energy_kwh"].as_f64().unwrap(), 24_000.0 / 3.6e6),
        "{j}"
    );
    let note = super::findings_of(&r, "telemetry.dual-die");
    assert!(
        note[0]["message"].as_str().unwrap().contains("mi04:0+1"),
        "{note:?}"
    );
}
