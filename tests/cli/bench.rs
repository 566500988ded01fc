//! The benchmark's own tools (`bench/gen_fleet.py`, `bench/reference_duckdb.py`) work, and the
//! reference is an oracle worth the name: it reproduces the per-job energy kept with the fleet
//! fixtures, and greenledger agrees with it on a fleet generated here. They need Python with
//! duckdb, numpy and pyarrow (scripts/test.sh installs them); without it they say SKIPPED.

use super::{fixture, gl, job, read_json, root};
use std::path::Path;
use std::process::Command;

const MODULES: &str = "duckdb, numpy, pyarrow";

/// `bench/reference_duckdb.py DIR ARGS`: its (job_id, kWh, covered device-seconds) rows.
fn reference(py: &Path, dir: &Path, args: &[&str]) -> Vec<(String, f64, f64)> {
    let o = Command::new(py)
        .arg(root().join("bench/reference_duckdb.py"))
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("job_id,sampled_kwh,covered_device_s"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].into(), f[1].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect()
}

#[test]
fn the_reference_reproduces_the_kept_fleet_references() {
    let Some(py) = super::python_with(MODULES, "the benchmark tools' test") else {
        return;
    };
    for case in ["fleet-s1", "fleet-s2", "fleet-s3"] {
        let dir = fixture(case);
        let kept = std::fs::read_to_string(dir.join("expected-reference.csv")).unwrap();
        let got = reference(&py, &dir, &["--no-total"]);
        let kept: Vec<(String, f64)> = kept
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[0].into(), f[1].parse().unwrap())
            })
            .collect();
        assert_eq!(got.len(), kept.len(), "{case}");
        for ((id, kwh, _), (kid, kkwh)) in got.iter().zip(&kept) {
            assert_eq!(id, kid, "{case}");
            // Both are printed to 9 decimals.
            assert!(
                (kwh - kkwh).abs() <= 2e-9,
                "{case} {id}: {kwh} vs kept {kkwh}"
            );
        }
    }
}

#[test]
fn a_generated_fleet_agrees_with_greenledger_and_regenerates_identically() {
    let Some(py) = super::python_with(MODULES, "the benchmark tools' test") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let gen = |out: &Path| {
        let o = Command::new(&py)
            .arg(root().join("bench/gen_fleet.py"))
            .arg(out)
            .args([
                "--nodes",
                "6",
                "--days",
                "2",
                "--interval",
                "30",
                "--seed",
                "7",
                "--csv",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    gen(&a);
    gen(&b);
    for f in ["power.parquet", "power.csv", "jobs.csv", "greenledger.toml"] {
        assert!(
            std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(),
            "{f} differs between two runs with one seed"
        );
    }
    let want = reference(&py, &a, &["--period", "2026-06-30..2026-07-03"]);
    assert!(want.len() >= 3, "{want:?}");
    for file in ["power.parquet", "power.csv"] {
        let out = tmp.path().join(format!("r-{file}"));
        gl().args(["report", "--quiet", "--format", "json", "--period"])
            .arg("2026-06-30..2026-07-03")
            .arg("--config")
            .arg(a.join("greenledger.toml"))
            .arg("--jobs")
            .arg(a.join("jobs.csv"))
            .arg("--telemetry")
            .arg(a.join(file))
            .arg("--out")
            .arg(&out)
            .assert()
            .code(0);
        let r = read_json(&out.join("report.json"));
        assert_eq!(r["jobs"].as_array().unwrap().len(), want.len());
        for (id, kwh, covered) in &want {
            let j = job(&r, id);
            let got = j["sampled_kwh"].as_f64().unwrap();
            assert!(
                (got - kwh).abs() <= 1e-9 * kwh.max(1.0),
                "{file} {id}: {got} vs the reference's {kwh}"
            );
            assert!(*covered > 0.0, "{id} has samples");
        }
    }
}
