//! CodeCarbon files: our own fixtures reproducing the quirks, and every real file in
//! ../shared/data/real/codecarbon when that folder exists.

use super::{assert_reconciles, close, fixture, gl, read_json, real_data};

#[test]
fn every_generation_and_quirk_is_read() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("r");
    let o = gl()
        .args(["report", "--config"])
        .arg(fixture("codecarbon/greenledger.toml"))
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = read_json(&dir.join("report.json"));
    let jobs = r["jobs"].as_array().unwrap();
    assert_eq!(
        r["totals"]["jobs"],
        5,
        "{:#?}",
        jobs.iter().map(|j| &j["job_id"]).collect::<Vec<_>>()
    );
    // IT energy: 10 (job-42, 10.8 / 1.08) + 0.5 (v1) + 1.6 (run A, last snapshot 2.0 / 1.25) + 0.25 + 0.8.
    assert!(
        close(r["totals"]["it_energy_kwh"].as_f64().unwrap(), 13.15),
        "{}",
        r["totals"]
    );
    let job = |id: &str| {
        jobs.iter()
            .find(|j| j["job_id"] == id)
            .unwrap_or_else(|| panic!("{id}"))
            .clone()
    };
    let j42 = job("job-42");
    assert_eq!(j42["energy_source"], "metered");
    assert!(close(j42["it_energy_kwh"].as_f64().unwrap(), 10.0));
    assert!(close(
        j42["location_kgco2e"].as_f64().unwrap(),
        10.0 * 1.1 * 18.0 / 1000.0
    ));
    assert!(j42["energy_detail"]
        .as_str()
        .unwrap()
        .contains("CodeCarbon run cccccccc"));
    let a = job("aaaaaaaa-0000-4000-8000-000000000001");
    assert_eq!(a["team"], "vision");
    assert_eq!(a["model"], "vision-sweep");
    assert_eq!(a["zone"], "FR");
    assert!(close(a["it_energy_kwh"].as_f64().unwrap(), 1.6));
    // start = timestamp - duration (naive, read as UTC).
    assert_eq!(a["start"], "2026-07-03T09:30:00Z");
    let cloud = job("bbbbbbbb-0000-4000-8000-000000000002");
    assert_eq!(cloud["zone"], "FR", "zone from the cloud region");
    assert_eq!(cloud["team"], "unassigned");
    let legacy = jobs.iter().find(|j| j["model"] == "legacy-probe").unwrap();
    assert_eq!(legacy["zone"], "MA", "ISO-3 MAR resolves to Morocco");
    assert!(close(legacy["it_energy_kwh"].as_f64().unwrap(), 0.5));

    let inputs = r["inputs"].as_array().unwrap();
    let rec = |suffix: &str| {
        inputs
            .iter()
            .find(|i| i["path"].as_str().unwrap().ends_with(suffix))
            .unwrap()
            .clone()
    };
    let v2 = rec("v2_bom_crlf.csv");
    assert_eq!(
        (
            v2["rows"].as_u64(),
            v2["rows_used"].as_u64(),
            v2["rows_rejected"].as_u64(),
            v2["rows_superseded"].as_u64()
        ),
        (Some(6), Some(3), Some(1), Some(2))
    );
    let v3 = rec("v3_38cols.csv");
    assert_eq!(
        (
            v3["rows"].as_u64(),
            v3["rows_used"].as_u64(),
            v3["rows_rejected"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    let findings = r["findings"].as_array().unwrap();
    let at = |code: &str| {
        findings
            .iter()
            .find(|f| f["code"] == code)
            .unwrap_or_else(|| panic!("{code}"))
            .clone()
    };
    assert_eq!(
        at("codecarbon.no-energy")["line"],
        6,
        "line numbers count CRLF lines"
    );
    assert_eq!(at("codecarbon.short-row")["line"], 3);
    assert!(at("codecarbon.superseded-snapshot")["message"]
        .as_str()
        .unwrap()
        .contains("lines 2, 3"));
    let no_team: Vec<&str> = findings
        .iter()
        .filter(|f| f["code"] == "codecarbon.no-team")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(no_team.len(), 2, "one per file: {no_team:?}");
    assert!(
        no_team.iter().any(|m| m.contains("cloud-probe (1)"))
            && no_team.iter().any(|m| m.contains("legacy-probe (1)")),
        "{no_team:?}"
    );
    assert_reconciles(&r);
}

#[test]
fn a_file_that_is_not_codecarbon_is_refused() {
    let d = super::tmp_with(&[("x.csv", "a,b,c\n1,2,3\n")]);
    gl().args(["validate", "--codecarbon"])
        .arg(d.path().join("x.csv"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("x.csv:1:"))
        .stderr(predicates::str::contains("'timestamp' is missing"));
}

/// Count the runs a CodeCarbon file holds, independently of greenledger: distinct run_ids plus
/// rows without one, among rows whose energy_consumed is a number and whose field count matches.
fn expected_runs(path: &std::path::Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n);
    let (ec, rc) = (col("energy_consumed").unwrap(), col("run_id"));
    let mut ids = std::collections::BTreeSet::new();
    let mut anonymous = 0;
    for l in lines.filter(|l| !l.trim().is_empty()) {
        // The real files have no quoted commas.
        let f: Vec<&str> = l.split(',').collect();
        if f.len() != header.len() || f[ec].trim().parse::<f64>().is_err() {
            continue;
        }
        match rc.map(|c| f[c].trim()).filter(|v| !v.is_empty()) {
            Some(id) => {
                ids.insert(id.to_string());
            }
            None => anonymous += 1,
        }
    }
    ids.len() + anonymous
}

#[test]
fn every_real_codecarbon_file_reports_without_error_each_run_once() {
    let Some(dir) = real_data("codecarbon") else {
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 7, "{files:?}");
    for f in files {
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("r");
        let o = gl()
            .args(["report", "--codecarbon"])
            .arg(&f)
            .arg("--out")
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}: {}",
            f.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        let r = read_json(&dir.join("report.json"));
        assert_eq!(r["finding_counts"]["error"], 0, "{}", f.display());
        let i = &r["inputs"][0];
        let (rows, used, rej, sup) = (
            i["rows"].as_u64().unwrap(),
            i["rows_used"].as_u64().unwrap(),
            i["rows_rejected"].as_u64().unwrap(),
            i["rows_superseded"].as_u64().unwrap(),
        );
        assert_eq!(
            rows,
            used + rej + sup,
            "{}: every row used or reported",
            f.display()
        );
        let want = expected_runs(&f);
        assert_eq!(
            r["totals"]["jobs"].as_u64().unwrap() as usize,
            want,
            "{}: each run counted once",
            f.display()
        );
        assert_reconciles(&r);
    }
}

/// A CodeCarbon task file (start_task/stop_task): three tasks of one run are separate
/// measurements and add up: 0.5 + 1.25 + 2 kWh at PUE 1 = 3.75 kWh. Given with the run's own
/// emissions.csv row (4 kWh), the run row is the total and the tasks its breakdown: 4 kWh,
/// never 7.75.
#[test]
fn task_files_sum_their_tasks_and_defer_to_the_run_row() {
    let tasks = "task_name,timestamp,project_name,run_id,duration,emissions,energy_consumed,country_iso_code\n\
                 load,2026-07-01T10:10:00Z,p,r-1,600,0.1,0.5,FRA\n\
                 train,2026-07-01T11:00:00Z,p,r-1,3000,0.2,1.25,FRA\n\
                 eval,2026-07-01T11:30:00Z,p,r-1,1800,0.3,2,FRA\n";
    let run = "timestamp,project_name,run_id,duration,emissions,energy_consumed,country_iso_code\n\
               2026-07-01T11:30:00Z,p,r-1,5400,0.6,4,FRA\n";
    let d = super::tmp_with(&[("emissions_exp_r-1.csv", tasks), ("emissions.csv", run)]);
    let one = |files: &[&str]| {
        let out = d.path().join(format!("out{}", files.len()));
        let mut c = gl();
        c.args([
            "report",
            "--quiet",
            "--format",
            "json",
            "--force",
            "--codecarbon",
        ]);
        for f in files {
            c.arg(d.path().join(f));
        }
        c.arg("--out").arg(&out).assert().code(0);
        read_json(&out.join("report.json"))
    };
    let r = one(&["emissions_exp_r-1.csv"]);
    assert_eq!(r["totals"]["jobs"], 1);
    assert!(
        (r["totals"]["it_energy_kwh"].as_f64().unwrap() - 3.75).abs() < 1e-12,
        "{}",
        r["totals"]
    );
    let r = one(&["emissions_exp_r-1.csv", "emissions.csv"]);
    assert_eq!(r["totals"]["jobs"], 1);
    assert!((r["totals"]["it_energy_kwh"].as_f64().unwrap() - 4.0).abs() < 1e-12);
    assert!(r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "codecarbon.tasks"
            && f["message"].as_str().unwrap().contains("breakdown")));
}
