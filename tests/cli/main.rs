//! Integration tests: one crate (every test binary links polars), one module per concern.

mod ai_act;
mod bench;
mod boamps;
mod bridge;
mod codecarbon;
mod cpu;
mod disclosure;
mod errors;
mod estimate;
mod evidence;
mod golden;
mod grid;
mod handcalc;
mod hourly;
mod inventory;
mod market;
mod mlflow;
mod pdf;
mod prometheus;
mod props;
mod pushdown;
mod sacct;
mod safety;
mod scores;
mod sharing;
mod signing;
mod telemetry;

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// The greenledger binary, with a clean environment for determinism.
pub fn gl() -> Command {
    let mut c = Command::cargo_bin("greenledger").unwrap();
    c.env_remove("SOURCE_DATE_EPOCH");
    c
}

/// `greenledger demo` written into a fresh temporary folder (kept alive by the first value).
pub fn demo_folder() -> (tempfile::TempDir, PathBuf) {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("demo");
    gl().args(["demo", "--quiet", "--out"])
        .arg(&dir)
        .assert()
        .code(0);
    (out, dir)
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(case: &str) -> PathBuf {
    root().join("fixtures").join(case)
}

/// Material from outside the repository (the workplace's `../shared`: real files written by other
/// tools, the published BoAmps schemas), when it is beside the clone. A bare clone has none of
/// it: the test says so loudly and passes, unless `GREENLEDGER_REQUIRE_SHARED=1` (set by `.ci/run`
/// for the run that has it) makes its absence a failure, so those tests cannot pass vacuously.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = root().join("..").join("shared").join(rel);
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("GREENLEDGER_REQUIRE_SHARED").as_deref() == Ok("1") {
        panic!(
            "{} is missing but GREENLEDGER_REQUIRE_SHARED=1",
            p.display()
        );
    }
    loud(&format!(
        "*** SKIPPED: this test reads {} (outside the repository), which is not here ***",
        p.display()
    ));
    None
}

/// A line on the real stderr, past the test harness's capture, so that a skip shows in every
/// run's log (a captured eprintln! is shown only when the test fails).
pub fn loud(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "\n{line}\n");
}

/// Real files written by other tools (`shared/data/real/<sub>`), when present (see [`shared`]).
pub fn real_data(sub: &str) -> Option<PathBuf> {
    shared(&format!("data/real/{sub}"))
}

/// The Python that can import every one of `modules` (from `GREENLEDGER_PYTHON`, else
/// `python3`), or None after a loud SKIPPED line; under `GREENLEDGER_REQUIRE_SERVERS=1`
/// (scripts/test.sh, which makes a virtual environment with them) a missing one fails.
pub fn python_with(modules: &str, what: &str) -> Option<PathBuf> {
    let py = std::env::var("GREENLEDGER_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&py)
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        // A relative path must survive the commands run in other folders (made absolute, not
        // canonicalised: a virtual environment's python is a symlink that must stay one).
        let p = PathBuf::from(&py);
        return Some(if p.is_relative() && p.components().count() > 1 {
            std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
        } else {
            p
        });
    }
    if std::env::var("GREENLEDGER_REQUIRE_SERVERS").as_deref() == Ok("1") {
        panic!("{py} cannot import {modules} but GREENLEDGER_REQUIRE_SERVERS=1: run scripts/test.sh (it makes a virtual environment with them)");
    }
    loud(&format!(
        "*** SKIPPED: {what} needs Python with `{modules}` (run scripts/test.sh) ***"
    ));
    None
}

/// Power samples of device 0 of node n1 each minute from 2026-07-01 00:00 to 02:00 UTC: 100 W in
/// the first hour, 300 W from 01:00 (one minute's ramp between).
pub fn two_hour_power() -> String {
    let base = chrono::DateTime::parse_from_rfc3339("2026-07-01T00:00:00Z").unwrap();
    let mut power = String::from("timestamp,node,device,power_w\n");
    for k in 0..=120 {
        let p = if k < 60 { 100.0 } else { 300.0 };
        let t = base + chrono::Duration::seconds(k * 60);
        power.push_str(&format!("{},n1,0,{p}\n", t.format("%Y-%m-%dT%H:%M:%SZ")));
    }
    power
}

/// The findings of a report.json with `code`.
pub fn findings_of(r: &serde_json::Value, code: &str) -> Vec<serde_json::Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["code"] == code)
        .cloned()
        .collect()
}

/// The job `id` of a report.json (a panic naming the jobs there when it has none).
pub fn job<'a>(r: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    r["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_id"] == id)
        .unwrap_or_else(|| panic!("no job {id} in {}", r["jobs"]))
}

/// The codes of a report.json's findings, in its order.
pub fn finding_codes(r: &serde_json::Value) -> Vec<&str> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect()
}

pub fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Run `report --quiet --format json --config greenledger.toml` on the folder `dir`, assert
/// the exit code, and return its report.json.
pub fn report_json(dir: &Path, code: i32) -> serde_json::Value {
    let out = dir.join("out");
    gl().args([
        "report", "--quiet", "--format", "json", "--force", "--config",
    ])
    .arg(dir.join("greenledger.toml"))
    .arg("--out")
    .arg(&out)
    .assert()
    .code(code);
    read_json(&out.join("report.json"))
}

/// The report of the folder `dir` (its greenledger.toml), built in-process.
pub fn build_in(dir: &Path) -> greenledger::report::Report {
    let args = greenledger::cli::InputArgs {
        config: Some(dir.join("greenledger.toml")),
        quiet: true,
        ..Default::default()
    };
    greenledger::build_report(&args, None).unwrap()
}

/// Write `files` (name, text) into a fresh temporary folder.
pub fn tmp_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = d.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    d
}

/// Equal to 1e-9 relative (absolute below 1): for figures computed by hand.
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

/// Relative difference, for reconciliation checks.
pub fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs())
    }
}

/// Assert that teams, models and jobs each add up to the totals (1e-9 relative).
pub fn assert_reconciles(r: &serde_json::Value) {
    let totals = &r["totals"];
    assert_inventory_reconciles(r);
    for key in [
        "gpu_hours",
        "it_energy_kwh",
        "facility_energy_kwh",
        "location_kgco2e",
        "market_kgco2e",
    ] {
        let sum: f64 = r["monthly"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m[key].as_f64().unwrap())
            .sum();
        let total = totals[key].as_f64().unwrap_or(0.0);
        assert!(
            rel(sum, total) <= 1e-9,
            "monthly.{key}: {sum} vs totals {total}"
        );
    }
    for level in ["teams", "models", "jobs"] {
        for key in [
            "gpu_hours",
            "it_energy_kwh",
            "facility_energy_kwh",
            "location_kgco2e",
            "embodied_kgco2e",
            "water_l",
        ] {
            let sum: f64 = r[level]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|x| x[key].as_f64())
                .sum();
            let total = totals[key].as_f64().unwrap_or(0.0);
            assert!(
                rel(sum, total) <= 1e-9,
                "{level}.{key}: {sum} vs totals {total}"
            );
        }
        let jobs: u64 = r[level]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["jobs"].as_u64().unwrap())
            .sum();
        assert_eq!(jobs, totals["jobs"].as_u64().unwrap(), "{level}.jobs");
    }
}

/// The inventory adds up: its rows to its totals; its jobs' share, with the cloud sites' jobs
/// (Scope 3 category 1), to the report's totals; its location-based total to its jobs' plus
/// the idle and unattributed lines; IT to jobs + idle; scope 2 to facility + unattributed.
pub fn assert_inventory_reconciles(r: &serde_json::Value) {
    let inv = &r["inventory"];
    let rows = inv["sites"].as_array().unwrap();
    let t = &inv["totals"];
    let sum = |k: &str| -> f64 { rows.iter().filter_map(|x| x[k].as_f64()).sum() };
    let num = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(0.0);
    for k in [
        "it_energy_kwh",
        "facility_energy_kwh",
        "scope2_kwh",
        "location_kgco2e",
        "market_kgco2e",
        "idle_kwh",
        "jobs_it_kwh",
    ] {
        assert!(
            rel(sum(k), num(t, k)) <= 1e-9,
            "inventory {k}: rows {} vs totals {}",
            sum(k),
            num(t, k)
        );
    }
    let cloud = &r["scope3"]["category_1_cloud"]["totals"];
    let jobs_loc = num(t, "jobs_location_kgco2e");
    assert!(
        rel(
            jobs_loc + num(cloud, "jobs_location_kgco2e"),
            num(&r["totals"], "location_kgco2e")
        ) <= 1e-9,
        "jobs' location: Scope 2 + cloud"
    );
    assert!(
        rel(
            num(t, "jobs_it_kwh") + num(cloud, "jobs_it_kwh"),
            num(&r["totals"], "it_energy_kwh")
        ) <= 1e-9,
        "jobs' IT: Scope 2 + cloud"
    );
    assert!(num(cloud, "location_kgco2e") >= num(cloud, "jobs_location_kgco2e") - 1e-9);
    let lines = jobs_loc + num(t, "idle_location_kgco2e") + num(t, "unattributed_location_kgco2e");
    assert!(
        rel(num(t, "location_kgco2e"), lines) <= 1e-9,
        "location: jobs + idle + unattributed"
    );
    for x in rows.iter().chain(std::iter::once(t)) {
        let it = num(x, "jobs_it_kwh") + num(x, "idle_kwh");
        assert!(
            rel(num(x, "it_energy_kwh"), it) <= 1e-9,
            "IT = jobs + idle in {x}"
        );
        let s2 = num(x, "facility_energy_kwh") + num(x, "unattributed_kwh");
        assert!(rel(num(x, "scope2_kwh"), s2) <= 1e-9, "scope 2 in {x}");
    }
}
