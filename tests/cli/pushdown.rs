//! `greenledger pushdown` and `report --pushdown`: the SQL run by real engines (PySpark in local
//! mode, DuckDB) on the fleet fixtures and on a generated fleet with every quirk, against the
//! in-process integration; a hand-computed case; stale folders refused.
//!
//! The engines come from the Python named by `GREENLEDGER_PYTHON` (scripts/test.sh makes a
//! virtual environment with pyspark and duckdb), else `python3`. Without them these tests print
//! SKIPPED loudly and pass; under scripts/test.sh (`GREENLEDGER_REQUIRE_SERVERS=1`) a missing
//! engine fails them.

use super::{fixture, gl, job, read_json, tmp_with};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python that can import `module`, or None (SKIPPED, or a panic when required).
fn python(module: &str) -> Option<PathBuf> {
    super::python_with(module, "a pushdown test")
}

/// `greenledger pushdown` for `engine` into `out`, with the report's own input arguments.
fn pushdown(engine: &str, inputs: &[&std::ffi::OsStr], out: &Path) {
    let o = gl()
        .args(["pushdown", "--quiet", "--force", "--engine", engine])
        .args(inputs)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(1),
        "pushdown: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Run the folder's driver on `samples`.
fn drive(py: &Path, dir: &Path, engine: &str, samples: &Path) {
    drive_with(py, dir, engine, samples, &[]);
}

/// Run the folder's driver on `samples` with `extra` arguments; its stderr.
fn drive_with(py: &Path, dir: &Path, engine: &str, samples: &Path, extra: &[&str]) -> String {
    let script = dir.join(format!("run_{engine}.py"));
    let mut c = Command::new(py);
    c.arg(&script).arg("--samples").arg(samples).args(extra);
    if engine == "spark" {
        c.args(["--master", "local[2]", "--driver-memory", "1g"]);
    }
    let o = c.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{engine} driver failed: {err}");
    err
}

/// `report --format json` with `inputs` and extra arguments; (exit code, report.json, stderr).
fn report(
    inputs: &[&std::ffi::OsStr],
    extra: &[&std::ffi::OsStr],
    out: &Path,
) -> (i32, serde_json::Value, String) {
    let o = gl()
        .args(["report", "--quiet", "--force", "--format", "json"])
        .args(inputs)
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let code = o.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    let r = if out.join("report.json").exists() {
        read_json(&out.join("report.json"))
    } else {
        serde_json::Value::Null
    };
    (code, r, stderr)
}

/// The report without the lines that name where the energy was integrated: the input files,
/// the reader or engine in each job's energy detail, the telemetry's engine and file count, the
/// pushdown's own note, and the out-of-order note (an engine sorts; it cannot see arrival order).
fn without_engine_lines(mut r: serde_json::Value) -> serde_json::Value {
    r["inputs"] = serde_json::Value::Null;
    r["finding_counts"] = serde_json::Value::Null;
    // The trails are made from the rest of the report (compared here), and name each engine's
    // own inputs and energy detail.
    r["evidence"] = serde_json::Value::Null;
    if let Some(jobs) = r["jobs"].as_array_mut() {
        for j in jobs {
            if j["energy_source"] == "sampled" {
                j["energy_detail"] = "integrated from power samples".into();
            }
        }
    }
    if let Some(t) = r["telemetry"].as_object_mut() {
        t.remove("engine");
        t.remove("files");
        t.remove("out_of_order_devices");
    }
    if let Some(f) = r["findings"].as_array_mut() {
        f.retain(|f| f["code"] != "telemetry.pushdown" && f["code"] != "telemetry.out-of-order");
    }
    r
}

/// Equal structure and strings, numbers to 1e-9 relative (sums in another order differ in the
/// last bits); the path of the first difference.
fn same(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> Result<(), String> {
    use serde_json::Value as V;
    match (a, b) {
        (V::Number(x), V::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            let d = (x - y).abs();
            if d <= 1e-9 * x.abs().max(y.abs()) || d < 1e-12 {
                Ok(())
            } else {
                Err(format!("{path}: {x} vs {y}"))
            }
        }
        (V::Object(x), V::Object(y)) => {
            let mut kx: Vec<_> = x.keys().collect();
            let mut ky: Vec<_> = y.keys().collect();
            kx.sort();
            ky.sort();
            if kx != ky {
                return Err(format!("{path}: keys {kx:?} vs {ky:?}"));
            }
            x.iter()
                .try_for_each(|(k, v)| same(v, &y[k], &format!("{path}/{k}")))
        }
        (V::Array(x), V::Array(y)) => {
            if x.len() != y.len() {
                return Err(format!("{path}: {} vs {} items", x.len(), y.len()));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .try_for_each(|(i, (u, v))| same(u, v, &format!("{path}/{i}")))
        }
        _ if a == b => Ok(()),
        _ => Err(format!("{path}: {a} vs {b}")),
    }
}

fn os(v: &[&str]) -> Vec<std::ffi::OsString> {
    v.iter().map(std::ffi::OsString::from).collect()
}

/// In-process with `--telemetry samples`, then pushdown, the engine and `report --pushdown`:
/// the two reports agree but for the engine lines. Returns the pushdown report.
fn agrees(
    py: &Path,
    engine: &str,
    inputs: &[std::ffi::OsString],
    samples: &Path,
) -> serde_json::Value {
    agrees_with(py, engine, inputs, &[samples], samples, &[]).0
}

/// [`agrees`] with more telemetry: in-process reads the files `telemetry`, the engine's driver
/// `samples` and the arguments `driver` (`--node-power`, `--counters`, ...).
fn agrees_with(
    py: &Path,
    engine: &str,
    inputs: &[std::ffi::OsString],
    telemetry: &[&Path],
    samples: &Path,
    driver: &[&str],
) -> (serde_json::Value, String) {
    let t = tempfile::tempdir().unwrap();
    let args: Vec<&std::ffi::OsStr> = inputs.iter().map(|s| s.as_os_str()).collect();
    let tel: Vec<&std::ffi::OsStr> = telemetry
        .iter()
        .flat_map(|f| [std::ffi::OsStr::new("--telemetry"), f.as_os_str()])
        .collect();
    let (code_in, inproc, err) = report(&args, &tel, &t.path().join("in"));
    assert!(code_in == 0 || code_in == 1, "in-process: {err}");
    let dir = t.path().join("pd");
    pushdown(engine, &args, &dir);
    let said = drive_with(py, &dir, engine, samples, driver);
    if engine == "spark" && samples.extension().is_some_and(|e| e == "parquet") {
        // Parquet with a zoned timestamp: the workers read the row groups themselves.
        assert!(said.contains("read by the workers"), "{said}");
    }
    let pd = [std::ffi::OsStr::new("--pushdown"), dir.as_os_str()];
    let (code, pushed, err) = report(&args, &pd, &t.path().join("out"));
    assert_eq!(
        code, code_in,
        "report --pushdown: {err}; its findings {}; in-process {}",
        pushed["findings"], inproc["findings"]
    );
    assert_eq!(
        pushed["telemetry"]["engine"]
            .as_str()
            .map(|e| e.contains(if engine == "spark" {
                "Apache Spark"
            } else {
                "DuckDB"
            })),
        Some(true)
    );
    let sql = std::fs::read(dir.join("job_energy.sql")).unwrap();
    let sha = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(&sql));
    assert!(
        pushed["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == format!("pushdown sql ({engine})").as_str() && i["sha256"] == sha),
        "the SQL's sha256 is an input"
    );
    if let Err(e) = same(
        &without_engine_lines(inproc),
        &without_engine_lines(pushed.clone()),
        "",
    ) {
        panic!("{engine} on {}: {e}", samples.display());
    }
    (pushed, said)
}

/// A fleet with every quirk the rules handle, made deterministically: three nodes named three
/// ways (domain, upper case), 10-s samples from before the period into it, rows out of order,
/// duplicates, a 10-minute gap, negative, NaN, empty and implausible power, timestamps with Z,
/// offsets and a space; jobs on all devices, on gpu_ids, overlapping on one device, starting
/// before the period, and one without samples; an hourly grid, `max_gap_s = 60`.
fn quirky_fleet() -> tempfile::TempDir {
    let base = chrono::DateTime::parse_from_rfc3339("2026-06-30T23:50:00Z")
        .unwrap()
        .timestamp();
    let nodes = ["gpu-a", "gpu-b.cluster.local", "GPU-C"];
    let mut rows: Vec<String> = Vec::new();
    let mut k: u64 = 7;
    for step in 0..(6 * 360 + 120) {
        let t = base + step * 10;
        for (ni, node) in nodes.iter().enumerate() {
            for dev in 0..4 {
                // gpu-a/1 is silent from 02:00 to 02:10: a gap.
                let since = t - (base + 600);
                if ni == 0 && dev == 1 && (7200..7800).contains(&since) {
                    continue;
                }
                k = k
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let watts = 80.0 + ((k >> 33) % 60000) as f64 / 100.0;
                let power = match (k >> 20) % 211 {
                    0 => "-5".to_string(),
                    1 => "NaN".to_string(),
                    2 => String::new(),
                    3 => "5000".to_string(),
                    _ => format!("{watts:.2}"),
                };
                let when = chrono::DateTime::from_timestamp(t, 0).unwrap();
                let stamp = match (k >> 40) % 3 {
                    0 => when.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    1 => (when + chrono::Duration::hours(2))
                        .format("%Y-%m-%dT%H:%M:%S+02:00")
                        .to_string(),
                    _ => when.format("%Y-%m-%d %H:%M:%S.000Z").to_string(),
                };
                rows.push(format!("{stamp},{node},{dev},{power}"));
                if (k >> 12).is_multiple_of(97) {
                    rows.push(format!("{stamp},{node},{dev},{:.2}", watts / 2.0));
                }
            }
        }
    }
    // Out of order: every 13th row swapped with the one 40 rows later.
    let n = rows.len();
    for i in (0..n.saturating_sub(40)).step_by(13) {
        rows.swap(i, i + 40);
    }
    let power = format!("timestamp,node,device,power_w\n{}\n", rows.join("\n"));
    let jobs = "job_id,model,team,site,start,end,nodes,gpu_ids,hardware,devices,training_type,status\n\
        j-all,m1,alpha,dc,2026-07-01T00:30:00Z,2026-07-01T03:30:00Z,gpu-a,,H100-SXM5-80GB,4,pretraining,completed\n\
        j-early,m2,beta,dc,2026-06-30T22:00:00Z,2026-07-01T02:00:00Z,gpu-b,0-1,H100-SXM5-80GB,2,fine-tuning,completed\n\
        j-overlap,m2,beta,dc,2026-07-01T01:00:00Z,2026-07-01T04:00:00Z,gpu-b,\"1,2\",H100-SXM5-80GB,2,fine-tuning,failed\n\
        j-short,m3,gamma,dc,2026-07-01T04:00:00Z,2026-07-01T05:00:30Z,gpu-c,,H100-SXM5-80GB,4,pretraining,completed\n\
        j-two,m3,gamma,dc,2026-07-01T05:00:00Z,2026-07-01T05:59:00Z,gpu-a;gpu-c,,H100-SXM5-80GB,8,pretraining,completed\n\
        j-none,m4,gamma,dc,2026-07-01T01:00:00Z,2026-07-01T02:00:00Z,gpu-z,,H100-SXM5-80GB,8,pretraining,completed\n";
    let (grid, cfg) = day_config(&["gpu-a", "gpu-b", "gpu-c"]);
    tmp_with(&[
        ("greenledger.toml", &cfg),
        ("jobs.csv", jobs),
        ("power.csv", &power),
        ("grid.csv", &grid),
    ])
}

/// An hourly FR grid for 2026-07-01, and a config for that day (`max_gap_s = 60`) with one
/// site holding `nodes`.
fn day_config(nodes: &[&str]) -> (String, String) {
    let mut grid = String::from("zone,timestamp,g_per_kwh\n");
    for h in 0..24 {
        grid.push_str(&format!("FR,2026-07-01T{h:02}:00:00Z,{}\n", 40 + 7 * h));
    }
    let cfg = format!(
        "[report]\nperiod = \"2026-07-01..2026-07-01\"\n\
         [telemetry]\nmax_gap_s = 60\n\
         [[site]]\nid = \"dc\"\nname = \"DC\"\ngrid_zone = \"FR\"\npue = 1.25\nnodes = {nodes:?}\n"
    );
    (grid, cfg)
}

fn fleet_inputs(case: &str) -> Vec<std::ffi::OsString> {
    let d = fixture(case);
    vec![
        "--config".into(),
        d.join("greenledger.toml").into(),
        "--jobs".into(),
        d.join("jobs.csv").into(),
    ]
}

fn quirky_inputs(d: &Path) -> Vec<std::ffi::OsString> {
    vec![
        "--config".into(),
        d.join("greenledger.toml").into(),
        "--jobs".into(),
        d.join("jobs.csv").into(),
        "--grid".into(),
        d.join("grid.csv").into(),
    ]
}

#[test]
fn duckdb_reproduces_the_in_process_integration() {
    let Some(py) = python("duckdb") else { return };
    for case in ["fleet-s1", "fleet-s2", "fleet-s3"] {
        agrees(
            &py,
            "duckdb",
            &fleet_inputs(case),
            &fixture(case).join("power.parquet"),
        );
    }
    agrees(
        &py,
        "duckdb",
        &fleet_inputs("fleet-s1"),
        &fixture("fleet-s1").join("power.csv"),
    );
    let d = quirky_fleet();
    let r = agrees(
        &py,
        "duckdb",
        &quirky_inputs(d.path()),
        &d.path().join("power.csv"),
    );
    quirks_are_seen(&r);
    // The same as Parquet, NaN power a NaN double (DuckDB must not take it for a number from
    // the column's statistics, which leave NaN out).
    let o = Command::new(&py)
        .args([
            "-c",
            "import pyarrow as pa, pyarrow.compute as pc, pyarrow.csv as c, pyarrow.parquet as pq\n\
             types = c.ConvertOptions(column_types={'timestamp': pa.string(), 'power_w': pa.float64()}, null_values=[''])\n\
             t = c.read_csv('power.csv', convert_options=types)\n\
             assert pc.sum(pc.is_nan(t['power_w'])).as_py() > 0\n\
             pq.write_table(t, 'power.parquet')",
        ])
        .current_dir(d.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = agrees(
        &py,
        "duckdb",
        &quirky_inputs(d.path()),
        &d.path().join("power.parquet"),
    );
    quirks_are_seen(&r);
}

#[test]
fn spark_reproduces_the_in_process_integration() {
    let Some(py) = python("pyspark") else { return };
    for case in ["fleet-s1", "fleet-s2", "fleet-s3"] {
        agrees(
            &py,
            "spark",
            &fleet_inputs(case),
            &fixture(case).join("power.parquet"),
        );
    }
    let d = quirky_fleet();
    let r = agrees(
        &py,
        "spark",
        &quirky_inputs(d.path()),
        &d.path().join("power.csv"),
    );
    quirks_are_seen(&r);
}

/// Spark's tasks each integrate the devices as they lie in them: fleet-s1's CSV (sorted by node,
/// device and time) read in 64 KB splits puts each device's rows in several tasks, whose pieces
/// the driver joins; an idle node named `IDLE-9.Cluster` is named after the pass (`idle-9`).
/// The same rows twice (two files) interleave every device across tasks: the driver shuffles by
/// device instead, and here Spark sums the per-device rows (job_energy.sql's results) rather
/// than the driver. Both equal the in-process integration.
#[test]
fn spark_joins_a_device_across_tasks_or_shuffles() {
    let Some(py) = python("pyspark") else { return };
    let mut csv = std::fs::read_to_string(fixture("fleet-s1").join("power.csv")).unwrap();
    for m in 0..30 {
        csv.push_str(&format!(
            "2026-07-01 00:{m:02}:00.000Z,IDLE-9.Cluster,3,{}\n",
            60 + m
        ));
    }
    let d = tmp_with(&[("power.csv", &csv)]);
    let samples = d.path().join("power.csv");
    let t = tempfile::tempdir().unwrap();
    let inputs = fleet_inputs("fleet-s1");
    let args: Vec<&std::ffi::OsStr> = inputs.iter().map(|s| s.as_os_str()).collect();
    let tel = [std::ffi::OsStr::new("--telemetry"), samples.as_os_str()];
    let (code_in, inproc, err) = report(&args, &tel, &t.path().join("in"));
    assert!(code_in <= 1, "in-process: {err}");
    let dir = t.path().join("pd");
    pushdown("spark", &args, &dir);
    let said = drive_with(
        &py,
        &dir,
        "spark",
        &samples,
        &["--split-bytes", "65536", "--timings"],
    );
    assert!(said.contains("integrated without a shuffle"), "{said}");
    assert!(said.contains("summed on the driver"), "{said}");
    let pd = [std::ffi::OsStr::new("--pushdown"), dir.as_os_str()];
    let (code, pushed, err) = report(&args, &pd, &t.path().join("out"));
    assert_eq!(code, code_in, "{err}");
    same(
        &without_engine_lines(inproc),
        &without_engine_lines(pushed.clone()),
        "",
    )
    .unwrap();
    let nodes: Vec<&str> = pushed["telemetry"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["node"].as_str())
        .collect();
    assert!(nodes.contains(&"idle-9"), "{nodes:?}");
    // The workers' own reading: fleet-s1's Parquet rewritten in row groups of 5,000 rows, so
    // every device spans row groups (tasks), whose pieces the driver joins.
    let small = d.path().join("small.parquet");
    let o = Command::new(&py)
        .args([
            "-c",
            "import sys, pyarrow.parquet as pq; pq.write_table(pq.read_table(sys.argv[1]), sys.argv[2], row_group_size=5000)",
        ])
        .arg(fixture("fleet-s1").join("power.parquet"))
        .arg(&small)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = agrees(&py, "spark", &inputs, &small);
    assert!(r["telemetry"]["devices"].as_u64().unwrap() > 0);
    // The same rows in two files: every instant twice, in different tasks.
    let twice = tempfile::tempdir().unwrap();
    for f in ["a.csv", "b.csv"] {
        std::fs::write(twice.path().join(f), &csv).unwrap();
    }
    let both = twice.path().join("*.csv");
    let tel = [std::ffi::OsStr::new("--telemetry"), both.as_os_str()];
    let (code_in, inproc, err) = report(&args, &tel, &t.path().join("in2"));
    assert!(code_in <= 1, "in-process: {err}");
    pushdown("spark", &args, &dir);
    let said = drive_with(
        &py,
        &dir,
        "spark",
        twice.path(),
        &[
            "--split-bytes",
            "65536",
            "--format",
            "csv",
            "--sum-on",
            "spark",
            "--timings",
        ],
    );
    assert!(said.contains("integrated shuffled by device"), "{said}");
    assert!(said.contains("summed by Spark"), "{said}");
    let (code, pushed, err) = report(&args, &pd, &t.path().join("out2"));
    assert_eq!(code, code_in, "{err}");
    same(
        &without_engine_lines(inproc),
        &without_engine_lines(pushed),
        "",
    )
    .unwrap();
}

/// The generated fleet's quirks all reach the report (so the comparison tested each rule).
fn quirks_are_seen(r: &serde_json::Value) {
    let t = &r["telemetry"];
    for key in ["duplicates", "dropped", "gaps"] {
        assert!(t[key].as_u64().unwrap() > 0, "{key}: {t}");
    }
    let codes = super::finding_codes(r);
    assert!(codes.contains(&"telemetry.overlapping-claims"), "{codes:?}");
    assert_eq!(job(r, "j-none")["energy_source"], "estimated");
    for id in ["j-all", "j-early", "j-overlap", "j-short", "j-two"] {
        assert_eq!(job(r, id)["energy_source"], "sampled", "{id}");
    }
    let c = job(r, "j-all")["coverage"].as_f64().unwrap();
    assert!(c < 1.0, "the gap leaves j-all uncovered time: {c}");
    assert_eq!(t["nodes"].as_array().unwrap().len(), 3);
}

/// One job J on GPU 0 of node n1 over `(start, end)` at site dc (PUE 1) with the samples
/// `power` (CSV rows), pushed down to DuckDB and run: the folder, the pushdown folder and the
/// report's input arguments.
fn one_gpu(
    py: &Path,
    (start, end): (&str, &str),
    power: &str,
) -> (tempfile::TempDir, PathBuf, Vec<std::ffi::OsString>) {
    let jobs = format!("job_id,model,team,site,start,end,nodes,hardware,devices\nJ,m,t,dc,{start},{end},n1,H100-SXM5-80GB,1\n");
    let power = format!("timestamp,node,device,power_w\n{power}");
    let d = tmp_with(&[
        ("greenledger.toml", "[report]\nperiod = \"2026-07-01..2026-07-01\"\n[[site]]\nid = \"dc\"\nname = \"DC\"\ngrid_zone = \"FR\"\npue = 1.0\n"),
        ("jobs.csv", &jobs),
        ("power.csv", &power),
    ]);
    let dir = d.path().join("pd");
    let inputs = os(&[
        "--config",
        &d.path().join("greenledger.toml").display().to_string(),
        "--jobs",
        &d.path().join("jobs.csv").display().to_string(),
    ]);
    let args: Vec<&std::ffi::OsStr> = inputs.iter().map(|s| s.as_os_str()).collect();
    pushdown("duckdb", &args, &dir);
    drive(py, &dir, "duckdb", &d.path().join("power.csv"));
    (d, dir, inputs)
}

/// One device around an hour boundary, by hand (the arithmetic is in the comments).
#[test]
fn hand_computed_results() {
    let Some(py) = python("duckdb") else { return };
    // 00:59 100 W, 01:00 200 W, 01:01 200 W, 01:02 100 W; the job holds [00:59:30, 01:01:30).
    // Hour 00: [00:59:30, 01:00) from 150 W to 200 W = 175 x 30 = 5250 J.
    // Hour 01: 200 x 60 = 12000 J, then [01:01:00, 01:01:30) 200 -> 150 W = 5250 J: 17250 J.
    // Idle: [00:59:00, 00:59:30) 100 -> 150 W = 3750 J (hour 00), [01:01:30, 01:02) 3750 J (hour 01).
    let (d, dir, inputs) = one_gpu(
        &py,
        ("2026-07-01T00:59:30Z", "2026-07-01T01:01:30Z"),
        "2026-07-01T00:59:00Z,n1,0,100\n2026-07-01T01:00:00Z,n1,0,200\n2026-07-01T01:01:00Z,n1,0,200\n2026-07-01T01:02:00Z,n1,0,100\n",
    );
    let args: Vec<&std::ffi::OsStr> = inputs.iter().map(|s| s.as_os_str()).collect();
    let q = |sql: &str| -> String {
        let o = Command::new(&py)
            .args([
                "-c",
                &format!("import duckdb; print(duckdb.sql(\"\"\"{sql}\"\"\").fetchall())"),
            ])
            .current_dir(dir.join("results"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert_eq!(q("SELECT job_id, sampled_j, covered_s, samples, devices, node_devices FROM 'job_energy.parquet'"), "[('J', 22500.0, 120.0, 2, 1, 1)]");
    let h0 = chrono::DateTime::parse_from_rfc3339("2026-07-01T00:00:00Z")
        .unwrap()
        .timestamp();
    assert_eq!(
        q("SELECT hour_start, joules FROM 'job_hourly.parquet' ORDER BY 1"),
        format!("[({h0}, 5250.0), ({}, 17250.0)]", h0 + 3600)
    );
    assert_eq!(
        q("SELECT hour_start, idle_j FROM 'node_hourly.parquet' ORDER BY 1"),
        format!("[({h0}, 3750.0), ({}, 3750.0)]", h0 + 3600)
    );
    assert_eq!(
        q("SELECT node, device_count, total_j, idle_j FROM 'node_energy.parquet'"),
        "[('n1', 1, 30000.0, 7500.0)]"
    );
    assert_eq!(q("SELECT rows, samples, devices, duplicates, dropped, gaps, gap_s FROM 'quality.parquet'"), "[(4, 4, 1, 0, 0, 0, 0.0)]");
    let pd = [std::ffi::OsStr::new("--pushdown"), dir.as_os_str()];
    let (code, r, err) = report(&args, &pd, &d.path().join("out"));
    assert_eq!(code, 0, "{err}");
    let j = job(&r, "J");
    assert_eq!(j["energy_source"], "sampled");
    assert!(super::close(
        j["sampled_kwh"].as_f64().unwrap(),
        22500.0 / 3.6e6
    ));
    assert!(super::close(j["coverage"].as_f64().unwrap(), 1.0));
    assert_eq!(j["energy_detail"], "integrated from power samples (DuckDB)");
    // The manifest holds the results and the SQL: verify recomputes the same figures.
    let v = gl()
        .arg("verify")
        .arg(d.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );
    // A result changed afterwards is caught.
    let f = dir.join("results/job_energy.parquet");
    let bytes = std::fs::read(&f).unwrap();
    let quality = std::fs::read(dir.join("results/quality.parquet")).unwrap();
    std::fs::write(&f, &quality).unwrap();
    let v = gl()
        .arg("verify")
        .arg(d.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(v.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&v.stdout).contains("job_energy.parquet"));
    std::fs::write(&f, bytes).unwrap();
}

/// Results made for other jobs or rules are refused (exit 2, naming what differs); a folder
/// without results says to run the engine.
#[test]
fn stale_or_unfinished_folders_are_refused() {
    let Some(py) = python("duckdb") else { return };
    let case = fixture("fleet-s1");
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("pd");
    let inputs = fleet_inputs("fleet-s1");
    let args: Vec<&std::ffi::OsStr> = inputs.iter().map(|s| s.as_os_str()).collect();
    pushdown("duckdb", &args, &dir);
    let pd = [std::ffi::OsStr::new("--pushdown"), dir.as_os_str()];
    let (code, _, err) = report(&args, &pd, &t.path().join("r0"));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no result 'job_energy'") && err.contains("run_duckdb.py"),
        "{err}"
    );
    drive(&py, &dir, "duckdb", &case.join("power.parquet"));
    // Another gap rule: the SQL differs.
    let gap = [
        std::ffi::OsStr::new("--pushdown"),
        dir.as_os_str(),
        std::ffi::OsStr::new("--max-gap-s"),
        std::ffi::OsStr::new("60"),
    ];
    let (code, _, err) = report(&args, &gap, &t.path().join("r1"));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("made for another run") && err.contains("max_gap_s: 60"),
        "{err}"
    );
    // Other jobs: one job ends an hour earlier.
    let jobs = std::fs::read_to_string(case.join("jobs.csv"))
        .unwrap()
        .replace("2026-07-02T06:30:06Z", "2026-07-02T05:30:06Z");
    let other = tmp_with(&[("jobs.csv", &jobs)]);
    let changed = os(&[
        "--config",
        &case.join("greenledger.toml").display().to_string(),
        "--jobs",
        &other.path().join("jobs.csv").display().to_string(),
    ]);
    let cargs: Vec<&std::ffi::OsStr> = changed.iter().map(|s| s.as_os_str()).collect();
    let (code, _, err) = report(&cargs, &pd, &t.path().join("r2"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("claims.parquet"), "{err}");
    // Telemetry files and a pushdown at once cannot both give the accelerators' energy.
    let tel = case.join("power.parquet");
    let both = [
        std::ffi::OsStr::new("--pushdown"),
        dir.as_os_str(),
        std::ffi::OsStr::new("--telemetry"),
        tel.as_os_str(),
    ];
    let (code, _, err) = report(&args, &both, &t.path().join("r3"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot be combined"), "{err}");
    // Results copied into the folder itself, not results/, are read the same.
    let (code, before, err) = report(&args, &pd, &t.path().join("r4"));
    assert_eq!(code, 0, "{err}");
    for e in std::fs::read_dir(dir.join("results")).unwrap() {
        let e = e.unwrap();
        std::fs::rename(e.path(), dir.join(e.file_name())).unwrap();
    }
    std::fs::remove_dir(dir.join("results")).unwrap();
    let (code, after, err) = report(&args, &pd, &t.path().join("r5"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(before["jobs"], after["jobs"]);
}

/// Rows an engine cannot read (no timestamp, node or device) are counted and reported, not lost.
#[test]
fn unreadable_rows_are_a_finding() {
    let Some(py) = python("duckdb") else { return };
    let (d, dir, inputs) = one_gpu(
        &py,
        ("2026-07-01T01:00:00Z", "2026-07-01T01:02:00Z"),
        "2026-07-01T01:00:00Z,n1,0,100\nyesterday,n1,0,100\n2026-07-01T01:01:00Z,n1,zero,100\n2026-07-01T01:02:00Z,n1,0,100\n",
    );
    let args: Vec<&std::ffi::OsStr> = inputs.iter().map(|s| s.as_os_str()).collect();
    let pd = [std::ffi::OsStr::new("--pushdown"), dir.as_os_str()];
    let (code, r, err) = report(&args, &pd, &d.path().join("out"));
    assert_eq!(code, 1, "{err}");
    let f: Vec<&serde_json::Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "telemetry.unrecognised-format")
        .collect();
    assert_eq!(f.len(), 1, "{}", r["findings"]);
    assert!(
        f[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("2 of 4 sample rows"),
        "{}",
        f[0]
    );
    // The two good samples: 120 s at 100 W.
    assert!(super::close(
        job(&r, "J")["sampled_kwh"].as_f64().unwrap(),
        12000.0 / 3.6e6
    ));
}

/// The Spark driver integrates the samples itself, so job_energy.sql names its sha256: a
/// folder whose SQL names another driver is refused by the report as made for another run, and
/// an edited run_spark.py refuses to run (before Spark starts).
#[test]
fn an_edited_spark_driver_refuses_to_run() {
    let Some(py) = python("pyspark") else { return };
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("pd");
    let inputs = fleet_inputs("fleet-s1");
    let args: Vec<&std::ffi::OsStr> = inputs.iter().map(|s| s.as_os_str()).collect();
    pushdown("spark", &args, &dir);
    let samples = fixture("fleet-s1").join("power.parquet");
    drive(&py, &dir, "spark", &samples);
    let pd = [std::ffi::OsStr::new("--pushdown"), dir.as_os_str()];
    let (code, _, err) = report(&args, &pd, &t.path().join("r0"));
    assert!(code <= 1, "{err}");
    let sql = dir.join("job_energy.sql");
    let text = std::fs::read_to_string(&sql).unwrap();
    let other: String = text
        .lines()
        .map(|l| match l.strip_prefix("-- driver sha256: ") {
            Some(_) => format!("-- driver sha256: {}\n", "0".repeat(64)),
            None => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&sql, other).unwrap();
    let (code, _, err) = report(&args, &pd, &t.path().join("r1"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("job_energy.sql differs"), "{err}");
    std::fs::write(&sql, text).unwrap();
    let driver = dir.join("run_spark.py");
    let script = std::fs::read_to_string(&driver).unwrap();
    std::fs::write(
        &driver,
        script.replace("k[\"max_gap_ms\"])", "k[\"max_gap_ms\"] * 2)"),
    )
    .unwrap();
    let o = Command::new(&py)
        .arg(&driver)
        .arg("--samples")
        .arg(&samples)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("is not the driver job_energy.sql was written for"),
        "{err}"
    );
}

/// A fleet with node power and energy counters beside the accelerators' samples, with their
/// quirks: gpu-a (two GPUs) with node power every 30 s and counters, one reset, one NaN reading
/// and one instant read twice; gpu-b with node power that reads 0 at times (a BMC's gap) and
/// below its GPUs for an hour, and a third GPU seen only by its counter; cpu-1, no GPU, node
/// power shared by two CPU-only jobs by cores (`node_cores = 64`); a third CPU-only job beside
/// j-a on gpu-a; idle-9, node power alone (cannot be split).
/// Returns the folder: config, jobs, grid, power.csv, node.csv and counters.csv (read by
/// greenledger in-process and by the engines alike).
fn power_fleet() -> tempfile::TempDir {
    let base = chrono::DateTime::parse_from_rfc3339("2026-06-30T23:50:00Z")
        .unwrap()
        .timestamp();
    let stamp = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let mut power = String::from("timestamp,node,device,power_w\n");
    let mut node = String::from("timestamp,node,power_w\n");
    let mut counters = String::from("timestamp,node,device,energy_mj\n");
    let mut count = |t: i64, n: &str, d: u32, mj: &str| {
        counters.push_str(&format!("{},{n},{d},{mj}\n", stamp(t)));
    };
    let mut energy = [[0.0f64; 3]; 2];
    let mut reset_at = 0.0;
    let mut k: u64 = 11;
    let steps = 6 * 360 + 120;
    for step in 0..steps {
        let t = base + step * 10;
        let mut gpus = [0.0f64; 2];
        for (ni, n) in ["gpu-a", "gpu-b"].iter().enumerate() {
            for d in 0..2u32 {
                k = k
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let w = 100.0 + ((k >> 33) % 50000) as f64 / 100.0;
                power.push_str(&format!("{},{n},{d},{w:.2}\n", stamp(t)));
                gpus[ni] += w;
                energy[ni][d as usize] += w * 10.0 * 1000.0;
            }
            // The counter-only GPU of gpu-b draws 90 W.
            energy[1][2] += 90.0 * 10.0 * 1000.0;
        }
        if step % 3 == 0 {
            let since = step * 10;
            let host_a = 300.0 + (step % 7) as f64 * 3.5;
            node.push_str(&format!("{},gpu-a,{:.2}\n", stamp(t), gpus[0] + host_a));
            // gpu-b: every 17th reading is 0 (no reading); from 03:00 to 04:00 the BMC reads
            // less than the GPUs draw.
            let b = if step % 17 == 0 {
                0.0
            } else if (3 * 3600 + 600..4 * 3600 + 600).contains(&since) {
                150.0
            } else {
                gpus[1] + 210.0
            };
            node.push_str(&format!("{},GPU-B.cluster,{b:.2}\n", stamp(t)));
            node.push_str(&format!(
                "{},cpu-1,{:.2}\n",
                stamp(t),
                180.0 + (step % 11) as f64 * 4.0
            ));
            node.push_str(&format!("{},idle-9,{:.2}\n", stamp(t), 95.0));
            if step == 900 {
                // gpu-a/1's counter restarts at step 900 (a driver reload): it reads 1 kJ there.
                reset_at = energy[0][1] - 1.0e6;
            }
            for d in 0..2u32 {
                let mj = energy[0][d as usize] - if d == 1 { reset_at } else { 0.0 };
                let v = if d == 0 && step == 600 {
                    "NaN".to_string()
                } else {
                    format!("{mj:.0}")
                };
                count(t, "gpu-a", d, &v);
                if d == 0 && step == 300 {
                    // The same instant read twice: the smaller reading counts.
                    count(t, "gpu-a", d, &format!("{:.0}", mj + 5000.0));
                }
            }
            count(t, "gpu-b", 2, &format!("{:.0}", energy[1][2]));
        }
    }
    let jobs = "job_id,model,team,site,start,end,nodes,gpu_ids,hardware,devices,cpus,training_type,status\n\
        j-a,m1,alpha,dc,2026-07-01T00:30:00Z,2026-07-01T03:30:00Z,gpu-a,,H100-SXM5-80GB,2,,pretraining,completed\n\
        j-a2,m1,alpha,dc,2026-07-01T04:00:00Z,2026-07-01T05:00:00Z,gpu-a,1,H100-SXM5-80GB,1,,fine-tuning,completed\n\
        j-b,m2,beta,dc,2026-07-01T01:00:00Z,2026-07-01T05:30:00Z,gpu-b,\"0,2\",H100-SXM5-80GB,2,,fine-tuning,completed\n\
        c-1,m3,gamma,dc,2026-07-01T01:00:00Z,2026-07-01T04:00:00Z,cpu-1,,,,16,pretraining,completed\n\
        c-2,m3,gamma,dc,2026-07-01T02:00:00Z,2026-07-01T05:00:00Z,cpu-1,,,,48,pretraining,completed\n\
        c-3,m3,gamma,dc,2026-07-01T02:15:00Z,2026-07-01T03:05:00Z,gpu-a,,,,8,pretraining,completed\n";
    let (grid, cfg) = day_config(&["gpu-a", "gpu-b", "cpu-1", "idle-9"]);
    let cfg = format!("{cfg}[cpu]\nnode_cores = 64\n");
    tmp_with(&[
        ("greenledger.toml", &cfg),
        ("jobs.csv", jobs),
        ("power.csv", &power),
        ("node.csv", &node),
        ("counters.csv", &counters),
        ("grid.csv", &grid),
    ])
}

/// The fleet's inputs: config, jobs and grid.
fn power_inputs(d: &Path) -> Vec<std::ffi::OsString> {
    quirky_inputs(d)
}

/// Node power, energy counters and CPU-only jobs through an engine (node power and counters
/// from `node` and `counters` in the fleet's folder, made by `make` there first; in-process
/// reads the same files): the report equals the in-process one, and each rule of these inputs
/// shows in it. The driver's stderr.
fn power_agrees(
    py: &Path,
    engine: &str,
    (node, counters): (&str, &str),
    make: Option<&str>,
    driver: &[&str],
) -> String {
    let d = power_fleet();
    let p = |f: &str| d.path().join(f);
    if let Some(code) = make {
        let o = Command::new(py)
            .args(["-c", code])
            .current_dir(d.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let (node, counters) = (p(node), p(counters));
    let mut args = vec![
        "--node-power",
        node.to_str().unwrap(),
        "--counters",
        counters.to_str().unwrap(),
    ];
    args.extend_from_slice(driver);
    let (r, said) = agrees_with(
        py,
        engine,
        &power_inputs(d.path()),
        &[&p("power.csv"), &node, &counters],
        &p("power.csv"),
        &args,
    );
    let t = &r["telemetry"];
    // gpu-a/1's reset.
    assert_eq!(t["counter_resets"], 1, "{t}");
    // gpu-b's zero readings are dropped (and nothing else: the GPUs' are clean): node power is
    // read at every third of 2,280 steps, 0 at every 17th of those (steps 0, 51, ..., 2,244).
    assert_eq!(t["dropped"], 45, "{t}");
    let codes = super::finding_codes(&r);
    for code in ["telemetry.node-power-unsplit", "telemetry.dropped-power"] {
        assert!(codes.contains(&code), "{code}: {codes:?}");
    }
    let text = serde_json::to_string(&r["findings"]).unwrap();
    assert!(text.contains("idle-9"), "the unsplit node is named");
    assert!(
        text.contains("1 energy-counter readings"),
        "the NaN reading"
    );
    // Counters give j-a and j-b their energy (j-b's from its counter-only GPU too); node power
    // the CPU-only jobs theirs.
    for id in ["j-a", "j-b"] {
        assert_eq!(job(&r, id)["energy_source"], "metered", "{id}");
    }
    // c-3 runs beside j-a on gpu-a: its cores' share of that node's host energy.
    for id in ["c-1", "c-2", "c-3"] {
        let j = job(&r, id);
        assert_eq!(j["energy_source"], "sampled", "{id}: {j}");
        let detail = j["energy_detail"].as_str().unwrap();
        assert!(detail.contains("share of node power"), "{id}: {detail}");
    }
    said
}

/// Node power and counters as Parquet (zoned timestamps) in row groups of 300 rows, so that each
/// node's and device's rows lie in several tasks.
const AS_PARQUET: &str = "import pyarrow as pa, pyarrow.compute as pc, pyarrow.csv as c, pyarrow.parquet as pq\n\
    types = c.ConvertOptions(column_types={'power_w': pa.float64(), 'energy_mj': pa.float64()}, null_values=[''])\n\
    for f in ('node', 'counters'):\n\
    \x20   pq.write_table(c.read_csv(f + '.csv', convert_options=types), f + '.parquet', row_group_size=300)\n";

#[test]
fn duckdb_reproduces_node_power_and_counters() {
    let Some(py) = python("duckdb") else { return };
    power_agrees(&py, "duckdb", ("node.csv", "counters.csv"), None, &[]);
    power_agrees(
        &py,
        "duckdb",
        ("node.parquet", "counters.parquet"),
        Some(AS_PARQUET),
        &[],
    );
}

#[test]
fn spark_reproduces_node_power_and_counters() {
    let Some(py) = python("pyspark") else { return };
    let csv = ("node.csv", "counters.csv");
    let said = power_agrees(&py, "spark", csv, None, &["--timings"]);
    assert!(said.contains("4 nodes, shuffled by node"), "{said}");
    assert!(said.contains("spread (shuffled by device)"), "{said}");
    // The per-device rows summed by Spark (job_energy.sql's result statements), not the driver.
    power_agrees(&py, "spark", csv, None, &["--sum-on", "spark"]);
    // Parquet the workers read themselves, each node's and device's rows in several tasks:
    // the driver joins the pieces.
    let parquet = ("node.parquet", "counters.parquet");
    let said = power_agrees(&py, "spark", parquet, Some(AS_PARQUET), &["--timings"]);
    assert!(said.contains("4 nodes, read by the workers"), "{said}");
    assert!(said.contains("spread (read by the workers)"), "{said}");
}

/// Node power and counter rows the engine cannot read are counted and reported, as samples
/// are; a node window that this run does not cut (results edited, or made with other claims)
/// is refused.
#[test]
fn node_power_and_counter_rows_are_checked() {
    let Some(py) = python("duckdb") else { return };
    let node = "timestamp,node,power_w\n\
        2026-07-01T01:00:00Z,n1,500\nyesterday,n1,500\n2026-07-01T01:01:00Z,n1,500\n2026-07-01T01:02:00Z,,500\n";
    let counters = "timestamp,node,device,energy_mj\n\
        2026-07-01T01:00:00Z,n1,0,1000\n2026-07-01T01:01:00Z,n1,0,many\n2026-07-01T01:01:30Z,n1,-1,5000\n\
        2026-07-01T01:02:00Z,n1,0,25001000\n";
    let (d, dir, inputs) = one_gpu(
        &py,
        ("2026-07-01T01:00:00Z", "2026-07-01T01:02:00Z"),
        "2026-07-01T01:00:00Z,n1,0,100\n2026-07-01T01:01:00Z,n1,0,100\n2026-07-01T01:02:00Z,n1,0,100\n",
    );
    std::fs::write(d.path().join("node.csv"), node).unwrap();
    std::fs::write(d.path().join("counters.csv"), counters).unwrap();
    let (n, c) = (d.path().join("node.csv"), d.path().join("counters.csv"));
    drive_with(
        &py,
        &dir,
        "duckdb",
        &d.path().join("power.csv"),
        &[
            "--node-power",
            n.to_str().unwrap(),
            "--counters",
            c.to_str().unwrap(),
        ],
    );
    let args: Vec<&std::ffi::OsStr> = inputs.iter().map(|s| s.as_os_str()).collect();
    let pd = [std::ffi::OsStr::new("--pushdown"), dir.as_os_str()];
    let (code, r, err) = report(&args, &pd, &d.path().join("out"));
    assert_eq!(code, 1, "{err}");
    let said: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "telemetry.unrecognised-format")
        .filter_map(|f| f["message"].as_str())
        .collect();
    assert!(
        said.iter().any(|m| m.starts_with("2 of 4 node power rows")),
        "{said:?}"
    );
    assert!(
        said.iter()
            .any(|m| m.starts_with("2 of 4 energy-counter rows")),
        "{said:?}"
    );
    // The counter: 1,000 mJ at 01:00, 25,001,000 mJ at 01:02: 25 kJ over the job's 120 s.
    let j = job(&r, "J");
    assert_eq!(j["energy_source"], "metered", "{j}");
    assert!(super::close(
        j["accelerator_kwh"].as_f64().unwrap(),
        25_000.0 / 3.6e6
    ));
    // Node power is read at 01:00 and 01:01 (the row at 01:02 names no node): 500 W over
    // [01:00, 01:01) = 30 kJ. The job's window is [01:00, 01:02), where the GPU draws 12 kJ;
    // node power covers half of it, so 6 kJ of it is taken off: host 24 kJ, all the job's (it
    // holds the node's only device).
    assert!(
        super::close(j["host_kwh"].as_f64().unwrap(), 24_000.0 / 3.6e6),
        "{j}"
    );
    // A window moved by a millisecond is not one this run cuts.
    let o = Command::new(&py)
        .args([
            "-c",
            "import sys, pyarrow as pa, pyarrow.parquet as pq, pyarrow.compute as pc\n\
             t = pq.read_table(sys.argv[1])\n\
             t = t.set_column(1, 'start_ms', pc.add(t['start_ms'], 1))\n\
             pq.write_table(t, sys.argv[1])",
        ])
        .arg(dir.join("results").join("node_windows.parquet"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (code, _, err) = report(&args, &pd, &d.path().join("out2"));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("node_windows has a window") && err.contains("does not cut"),
        "{err}"
    );
}
