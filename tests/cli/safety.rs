//! Folders and input someone sends us are read, never obeyed: `verify` on forged manifests,
//! arguments that are not UTF-8, and the checks that refuse odd input instead of bending it.

use super::{fixture, gl, read_json, tmp_with};
use sha2::Digest;
use std::path::Path;

/// A fresh demo folder `d` inside a temporary working folder.
fn demo_in_tmp() -> tempfile::TempDir {
    let w = tempfile::tempdir().unwrap();
    gl().current_dir(w.path())
        .args(["demo", "--quiet", "--out", "d"])
        .assert()
        .code(0);
    w
}

/// Rewrite `d/manifest.json` with `edit`.
fn forge(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let p = dir.join("manifest.json");
    let mut m = read_json(&p);
    edit(&mut m);
    std::fs::write(&p, serde_json::to_string_pretty(&m).unwrap()).unwrap();
}

fn verify(work: &Path, args: &[&str]) -> (i32, String) {
    let o = gl()
        .current_dir(work)
        .arg("verify")
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap(),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

#[test]
fn a_forged_output_folder_is_refused_and_left_untouched() {
    let w = demo_in_tmp();
    let victim = w.path().join("auditor-work");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("notes.txt"), "mine").unwrap();
    let target = victim.display().to_string();
    forge(&w.path().join("d"), |m| {
        m["command"] = serde_json::json!(["demo", "--out", target, "--force"]);
    });
    let (code, text) = verify(w.path(), &["d"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("refused"), "{text}");
    assert!(text.contains(&target), "{text}");
    // The folder the manifest named is as it was: nothing deleted, nothing written.
    let names: Vec<_> = std::fs::read_dir(&victim).unwrap().collect();
    assert_eq!(names.len(), 1);
    assert_eq!(
        std::fs::read_to_string(victim.join("notes.txt")).unwrap(),
        "mine"
    );
    // `--out=...` is refused the same way.
    forge(&w.path().join("d"), |m| {
        m["command"] = serde_json::json!(["demo", format!("--out={}", victim.display())]);
    });
    assert_eq!(verify(w.path(), &["d"]).0, 1);
    assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 1);
}

#[test]
fn only_report_and_demo_runs_are_recomputed() {
    let w = demo_in_tmp();
    for command in [
        serde_json::json!(["pushdown", "--engine", "duckdb", "--out", "OUT"]),
        serde_json::json!([
            "estimate",
            "--gpu-hours",
            "1",
            "--power-w",
            "1",
            "--intensity",
            "1"
        ]),
        serde_json::json!(["demo", "--no-such-flag"]),
    ] {
        let shown = command.to_string();
        forge(&w.path().join("d"), |m| m["command"] = command);
        let (code, text) = verify(w.path(), &["d"]);
        assert_eq!(code, 1, "{shown}: {text}");
        assert!(text.contains("nothing was run"), "{shown}: {text}");
    }
    assert!(!w.path().join("OUT").exists());
    // The genuine command still verifies.
    forge(&w.path().join("d"), |m| {
        m["command"] = serde_json::json!(["demo", "--quiet", "--out", "OUT"])
    });
    let (code, text) = verify(w.path(), &["d"]);
    assert_eq!(code, 0, "{text}");
}

#[test]
fn no_server_is_contacted_without_allow_network() {
    // A report of the hand-calculated fixture, whose manifest is then made to name a server.
    let w = tempfile::tempdir().unwrap();
    gl().current_dir(w.path())
        .args([
            "report", "--quiet", "--format", "json", "--out", "r", "--config",
        ])
        .arg(fixture("handcalc/greenledger.toml"))
        .assert()
        .code(0);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    forge(&w.path().join("r"), |m| {
        let mut c: Vec<serde_json::Value> = m["command"].as_array().unwrap().clone();
        c.push("--prometheus".into());
        c.push(url.clone().into());
        c.push("--period".into());
        c.push("2026-Q3".into());
        m["command"] = c.into();
    });
    let (code, text) = verify(w.path(), &["r"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("not re-fetched"), "{text}");
    assert!(text.contains(&url), "{text}");
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("verify contacted the server: {other:?}"),
    }
}

#[test]
fn a_copy_outside_the_folder_is_refused() {
    let w = demo_in_tmp();
    forge(&w.path().join("d"), |m| {
        m["inputs"][1]["location"] = "inputs/../../../etc/hostname".into();
    });
    let (code, text) = verify(w.path(), &["d"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("outside the folder: refused"), "{text}");
}

#[test]
fn an_unreadable_report_json_is_a_problem_not_a_match() {
    let w = demo_in_tmp();
    let d = w.path().join("d");
    let garbage = b"{ not json".to_vec();
    std::fs::write(d.join("report.json"), &garbage).unwrap();
    let sha = format!("{:x}", sha2::Sha256::digest(&garbage));
    // A manifest forged to match, so that only the comparison can tell.
    forge(&d, |m| {
        for o in m["outputs"].as_array_mut().unwrap() {
            if o["path"] == "report.json" {
                o["sha256"] = sha.clone().into();
            }
        }
    });
    let (code, text) = verify(w.path(), &["d"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("report.json of the folder cannot be read"),
        "{text}"
    );
}

#[cfg(unix)]
#[test]
fn arguments_that_are_not_utf8_are_errors_not_panics() {
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"jobs-\xff.csv");
    // A path: accepted by the parser, then an unreadable input (exit 2).
    let o = gl().args(["validate", "--jobs"]).arg(bad).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    // A text value: the parser says so (exit 2).
    let o = gl()
        .args(["validate", "--period"])
        .arg(bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
}

#[test]
fn live_source_settings_are_bounded() {
    for (section, want) in [
        ("retries = 20", "retries = 20: give 0 to 10"),
        ("concurrency = 0", "concurrency = 0"),
        ("backoff_s = 600", "backoff_s = 600"),
        (
            "basic_password_env = \"PW\"",
            "basic_password_env is given without basic_user",
        ),
    ] {
        let d = tmp_with(&[(
            "greenledger.toml",
            &format!("[report]\nperiod = \"2026-Q3\"\n[prometheus]\nurl = \"http://127.0.0.1:9\"\n{section}\n"),
        )]);
        let o = gl()
            .args(["validate", "--config"])
            .arg(d.path().join("greenledger.toml"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{section}: {err}");
        assert!(err.contains(want), "{section}: {err}");
    }
    let d = tmp_with(&[(
        "greenledger.toml",
        "[report]\nperiod = \"2026-Q3\"\n[mlflow]\nurl = \"http://127.0.0.1:9\"\nretries = 11\n",
    )]);
    let o = gl()
        .args(["validate", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("[mlflow] retries = 11"));
}

#[test]
fn pushdown_refuses_mlflow_as_it_refuses_prometheus() {
    let d = tmp_with(&[(
        "jobs.csv",
        "job_id,model,team,zone,start,end,hardware,devices,nodes\nj,m,t,FR,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,H100,1,n1\n",
    )]);
    let o = gl()
        .args([
            "pushdown", "--quiet", "--engine", "duckdb", "--period", "2026-Q3",
        ])
        .arg("--jobs")
        .arg(d.path().join("jobs.csv"))
        .args(["--mlflow", "http://127.0.0.1:9"])
        .arg("--out")
        .arg(d.path().join("pd"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("MLflow"), "{err}");
    assert!(!d.path().join("pd").exists());
}
