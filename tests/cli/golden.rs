//! Golden tests, the one snapshot mechanism of the suite: each fixtures/<case>/ with an
//! expected/ folder is reported on, and every file in expected/ must match byte for byte; the
//! renderers' snapshots (tests/cli/snapshots/) are golden files too. `UPDATE_GOLDEN=1 cargo
//! test` rewrites them all (review the diff).

use super::{assert_reconciles, fixture, gl, read_json, root};
use std::path::Path;

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().filter_map(|e| e.ok()) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(
                    p.strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    out.sort();
    out
}

fn check_case(case: &str) {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("r");
    // Run from the case's folder with a relative config path, as a user would: paths in the
    // outputs are as given, so the golden files do not depend on where the checkout is.
    let o = gl()
        .current_dir(fixture(case))
        .args([
            "report",
            "--quiet",
            "--format",
            "json,csv",
            "--config",
            "greenledger.toml",
        ])
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{case}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let expected = fixture(case).join("expected");
    if updating() {
        let _ = std::fs::remove_dir_all(&expected);
    }
    for f in files_under(&dir) {
        assert_golden(
            &expected.join(&f),
            &std::fs::read_to_string(dir.join(&f)).unwrap(),
        );
    }
    assert_eq!(
        files_under(&expected),
        files_under(&dir),
        "{case}: the set of output files changed"
    );
}

/// Whether this run rewrites the golden files (`UPDATE_GOLDEN=1`).
fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some()
}

/// `got` must equal the golden file at `path` byte for byte; with `UPDATE_GOLDEN=1`, it
/// becomes the golden file. A difference names the first line that differs.
pub fn assert_golden(path: &Path, got: &str) {
    if updating() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, got).unwrap();
    }
    let shown = path
        .strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string();
    let want = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{shown}: {e}; run with UPDATE_GOLDEN=1 once"));
    if want != got {
        let line = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(got.lines().count()));
        panic!(
            "{shown} differs from the output at line {}:\n  want: {}\n  got:  {}\n(UPDATE_GOLDEN=1 to accept)",
            line + 1,
            want.lines().nth(line).unwrap_or("(end)"),
            got.lines().nth(line).unwrap_or("(end)")
        );
    }
}

#[test]
fn demo_matches_golden() {
    check_case("demo");
}

#[test]
fn handcalc_matches_golden() {
    check_case("handcalc");
}

#[test]
fn demo_quarter_is_complete_and_reconciles() {
    let r = read_json(&fixture("demo/expected/report.json"));
    assert_eq!(r["schema"], "greenledger/report@1");
    assert_eq!(r["period"]["label"], "2026-Q3");
    assert!(r["teams"].as_array().unwrap().len() >= 4);
    assert!(r["models"].as_array().unwrap().len() >= 10);
    assert!(r["jobs"].as_array().unwrap().len() >= 60);
    assert_eq!(r["finding_counts"]["error"], 0);
    let sites: std::collections::BTreeSet<&str> = r["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|j| j["site"].as_str())
        .collect();
    assert!(sites.len() >= 3, "{sites:?}");
    let kinds: std::collections::BTreeSet<&str> = r["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["training_type"].as_str().unwrap())
        .collect();
    for k in ["pretraining", "fine-tuning", "distillation"] {
        assert!(kinds.contains(k), "{kinds:?}");
    }
    let statuses: std::collections::BTreeSet<&str> = r["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["status"].as_str().unwrap())
        .collect();
    assert!(statuses.contains("failed") && statuses.contains("cancelled"));
    let tiers: Vec<&str> = r["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tier"].as_str().unwrap())
        .collect();
    assert!(tiers.contains(&"metered") && tiers.contains(&"estimated"));
    assert!(r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["kind"] == "codecarbon"));
    for kind in ["jobs", "codecarbon", "telemetry", "sacct", "grid"] {
        assert!(
            r["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["kind"] == kind),
            "the demo has {kind} input"
        );
    }
    assert!(tiers.contains(&"sampled"), "{tiers:?}");
    assert!(!r["instruments"].as_array().unwrap().is_empty());
    assert!(
        r["totals"]["market_kgco2e"].as_f64().unwrap()
            < r["totals"]["location_kgco2e"].as_f64().unwrap()
    );
    assert!(r["factors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "grid FR hourly"));
    // Scorecards, lineage, what-ifs and deltas against the bundled previous quarter.
    assert!(r["teams"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["scores"]["overall"].is_number()));
    assert!(!r["lineage"]["edges"].as_array().unwrap().is_empty());
    assert!(!r["whatifs"].as_array().unwrap().is_empty());
    assert_eq!(r["previous"]["period"], "2026-Q2");
    assert_eq!(
        r["previous"]["teams"].as_array().unwrap().len(),
        r["teams"].as_array().unwrap().len()
    );
    assert!(r["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|j| j["energy_detail"]
            .as_str()
            .unwrap()
            .contains("ConsumedEnergyRaw")));
    assert_reconciles(&r);
    // The inventory (issue 12): node power for Paris, a facility and an IT meter for July.
    let paris = r["inventory"]["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["site"] == "paris-1" && x["period"] == "2026-07")
        .unwrap()
        .clone();
    assert!(
        paris["host_kwh"].as_f64().unwrap() > 0.0,
        "host from node power"
    );
    assert!(paris["idle_host_kwh"].as_f64().unwrap() > 0.0);
    assert_eq!(paris["metered_kwh"], 745.0);
    assert!((paris["measured_pue"].as_f64().unwrap() - 745.0 / 560.0).abs() < 1e-12);
    assert!(paris["unattributed_kwh"].as_f64().unwrap() > 0.0);
}

#[test]
fn demo_command_writes_the_same_report_and_its_inputs() {
    let (_out, dir) = super::demo_folder();
    for f in [
        "report.json",
        "csv/jobs.csv",
        "csv/teams.csv",
        "csv/models.csv",
        "csv/findings.csv",
    ] {
        assert_eq!(
            std::fs::read(dir.join(f)).unwrap(),
            std::fs::read(fixture("demo/expected").join(f)).unwrap(),
            "{f}"
        );
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    for section in [
        "id=\"summary\"",
        "id=\"teams\"",
        "id=\"models\"",
        "id=\"jobs\"",
        "id=\"findings\"",
        "id=\"factors\"",
        "id=\"inputs\"",
        "id=\"methodology\"",
        "Aurora Labs",
    ] {
        assert!(html.contains(section), "{section}");
    }
    // The charts are inline SVG with their text as text.
    for id in [
        "emissions_by_team",
        "energy_by_tier",
        "scores_by_team",
        "idle_by_node",
    ] {
        assert!(
            html.contains(&format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"{id}\""
            )),
            "{id}"
        );
    }
    assert!(html.contains(">Emissions by team (kgCO₂e)</text>"));
    for (rel, bytes) in greenledger::demo::FILES {
        assert_eq!(
            std::fs::read(dir.join("inputs").join(rel)).unwrap(),
            bytes,
            "{rel}"
        );
    }
    // Without --force the folder is kept.
    gl().args(["demo", "--quiet", "--out"])
        .arg(&dir)
        .assert()
        .code(2);
}

#[test]
fn every_demo_fixture_is_embedded() {
    let src = fixture("demo");
    let on_disk: Vec<String> = files_under(&src)
        .into_iter()
        .filter(|f| !f.starts_with("expected/"))
        .collect();
    let embedded: Vec<String> = greenledger::demo::FILES
        .iter()
        .map(|(p, _)| p.to_string())
        .collect();
    let mut e = embedded.clone();
    e.sort();
    assert_eq!(on_disk, e);
    for (rel, bytes) in greenledger::demo::FILES {
        assert!(
            std::fs::read(src.join(rel)).unwrap() == bytes,
            "{rel}: fixtures/demo and the embedded copy differ"
        );
    }
}

#[test]
fn identical_inputs_give_identical_files() {
    let out = tempfile::tempdir().unwrap();
    let (a, b) = (out.path().join("a"), out.path().join("b"));
    for d in [&a, &b] {
        gl().args([
            "demo",
            "--quiet",
            "--generated-at",
            "2026-10-02T08:00:00Z",
            "--out",
        ])
        .arg(d)
        .assert()
        .code(0);
    }
    let files = files_under(&a);
    assert_eq!(files, files_under(&b));
    for f in &files {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
    let html = std::fs::read_to_string(a.join("report.html")).unwrap();
    assert!(html.contains("generated 2026-10-02T08:00:00Z"));
    // SOURCE_DATE_EPOCH works too.
    let c = out.path().join("c");
    gl().env("SOURCE_DATE_EPOCH", "1790000000")
        .args(["demo", "--quiet", "--format", "json", "--out"])
        .arg(&c)
        .assert()
        .code(0);
    assert_eq!(
        read_json(&c.join("report.json"))["generated_at"],
        "2026-09-21T14:13:20Z"
    );
}

#[test]
fn html_renderer_snapshot() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("r");
    gl().current_dir(fixture("handcalc"))
        .args([
            "report",
            "--quiet",
            "--format",
            "html",
            "--generated-at",
            "2026-10-01T00:00:00Z",
            "--config",
            "greenledger.toml",
        ])
        .arg("--out")
        .arg(&dir)
        .assert()
        .code(0);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert_golden(
        &root().join("tests/cli/snapshots/handcalc_report.html"),
        &html,
    );
}

#[test]
fn templates_can_be_overridden() {
    let d = super::tmp_with(&[(
        "report.html.tera",
        "<p>{{ title }}: {{ totals.jobs }} jobs, {{ totals.location_kgco2e | num(d=4) }} kg</p>",
    )]);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("r");
    gl().args(["report", "--quiet", "--format", "html", "--config"])
        .arg(fixture("handcalc/greenledger.toml"))
        .arg("--templates")
        .arg(d.path())
        .arg("--out")
        .arg(&dir)
        .assert()
        .code(0);
    assert_eq!(
        std::fs::read_to_string(dir.join("report.html")).unwrap(),
        "<p>Hand calculation: 5 jobs, 3.7837 kg</p>"
    );
    let bad = super::tmp_with(&[("report.html.tera", "{% if %}")]);
    gl().args(["report", "--quiet", "--config"])
        .arg(fixture("handcalc/greenledger.toml"))
        .arg("--templates")
        .arg(bad.path())
        .arg("--out")
        .arg(out.path().join("x"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("template error"));
}
