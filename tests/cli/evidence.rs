//! The evidence an auditor follows: `greenledger explain` for every job, team, model and site of
//! the demo, a job's trail by hand, and the HTML's drill-down from every figure to its jobs and
//! from every job to its trail.

use super::{demo_folder, fixture, gl, read_json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn explain(dir: &Path, id: &str) -> (i32, String) {
    let o = gl().arg("explain").arg(dir).arg(id).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).to_string(),
    )
}

/// j2 of the hand-calculation fixture: 8 kWh metered at site b, whose PUE is 1.2 in July and
/// 1.4 in August; the job runs 4 h in each (31 July 20:00 to 1 August 04:00): PUE 1.3, 10.4 kWh,
/// at SE3's 18 g/kWh 0.1872 kg.
#[test]
fn a_jobs_trail_by_hand() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("hc");
    gl().current_dir(fixture("handcalc"))
        .args([
            "report",
            "--quiet",
            "--format",
            "json",
            "--config",
            "greenledger.toml",
            "--out",
        ])
        .arg(&out)
        .assert()
        .code(0);
    let (code, said) = explain(&out, "j2");
    assert_eq!(code, 0, "{said}");
    let lines: Vec<&str> = said.lines().collect();
    let after = |head: &str| {
        let i = lines
            .iter()
            .position(|l| l.contains(head))
            .unwrap_or_else(|| panic!("{head} in {said}"));
        lines[i + 1].trim().to_string()
    };
    assert!(said.contains("as its manifest.json records it"), "{said}");
    assert!(
        said.contains("the job's row: jobs.csv:3 (sha256 "),
        "{said}"
    );
    assert_eq!(after("1. energy: metered: energy_kwh column"), "= 8 kWh IT");
    assert_eq!(
        after("2. facility: 8 kWh IT × PUE 1.3 (site b, weighted by time over the periods the job spans)"),
        "= 10.4 kWh"
    );
    assert!(said.contains("factor PUE b 2026-07 = 1.2 ratio"));
    assert!(said.contains("factor PUE b 2026-08 = 1.4 ratio"));
    assert_eq!(
        after("3. location: 10.4 kWh × 18 g/kWh (zone SE3, factor of 2024) ÷ 1000"),
        "= 0.1872 kgCO2e"
    );
    assert!(said.contains("factor grid SE3 = 18 gCO2e/kWh"));
    // It ends in report.json's own figures.
    let r = read_json(&out.join("report.json"));
    let j = super::job(&r, "j2");
    assert!(
        said.contains(&format!("  location_kgco2e {}\n", j["location_kgco2e"])),
        "{said}"
    );
    // A report.json changed after it was written is called out.
    let text = std::fs::read_to_string(out.join("report.json")).unwrap();
    std::fs::write(
        out.join("report.json"),
        text.replacen("Test Org", "Test Org ", 1),
    )
    .unwrap();
    let (_, said) = explain(&out, "j2");
    assert!(
        said.contains("NOT the file its manifest.json records"),
        "{said}"
    );
}

#[test]
fn explain_answers_for_every_job_team_model_and_site_of_the_demo() {
    let (_t, dir) = demo_folder();
    let r = read_json(&dir.join("report.json"));
    let jobs = r["jobs"].as_array().unwrap();
    for j in jobs {
        let id = j["job_id"].as_str().unwrap();
        let (code, said) = explain(&dir, id);
        assert_eq!(code, 0, "{id}: {said}");
        assert!(said.contains(&format!("job {id}: ")), "{said}");
        assert!(
            said.contains(&format!("  location_kgco2e {}\n", j["location_kgco2e"])),
            "{id}: {said}"
        );
    }
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    for j in jobs {
        for (k, v) in [
            ("team", &j["team"]),
            ("model", &j["model"]),
            ("site", &j["site"]),
        ] {
            *groups
                .entry(format!("{k}:{}", v.as_str().unwrap_or("(no site)")))
                .or_default() += 1;
        }
    }
    for (id, n) in &groups {
        let (code, said) = explain(&dir, id);
        assert_eq!(code, 0, "{id}: {said}");
        assert!(said.contains(&format!(": {n} job(s), ")), "{id}: {said}");
        if !id.starts_with("site:") {
            assert!(said.contains("(they agree)"), "{id}: {said}");
        } else if id != "site:(no site)" {
            assert!(said.contains("the site's inventory counts"), "{id}: {said}");
        }
    }
    // An unknown id: exit 1, with the closest ones.
    let (code, said) = explain(&dir, "team:speach");
    assert_eq!(code, 1);
    assert!(said.contains("did you mean: team:speech?"), "{said}");
    let (code, said) = explain(&dir, "aur-017");
    assert_eq!(code, 1);
    assert!(said.contains("aur-0017"), "{said}");
    // Not a report folder: exit 2.
    gl().arg("explain")
        .arg(dir.join("csv"))
        .arg("x")
        .assert()
        .code(2);
}

/// Every link of the demo's HTML lands on an element; each team, model and site row links to a
/// list of exactly its jobs, whose shares add up to 100 %; each job links to its trail, which
/// links back to the job and to the factors it names.
#[test]
fn the_html_drills_from_every_figure_to_its_jobs_and_their_trails() {
    let (_t, dir) = demo_folder();
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let r = read_json(&dir.join("report.json"));
    let attr = |name: &str| -> Vec<String> {
        let pat = format!("{name}=\"");
        html.match_indices(&pat)
            .map(|(i, _)| {
                let rest = &html[i + pat.len()..];
                rest[..rest.find('"').unwrap()].to_string()
            })
            .collect()
    };
    let ids: BTreeSet<String> = attr("id").into_iter().collect();
    let links: BTreeSet<String> = attr("href")
        .into_iter()
        .filter_map(|h| h.strip_prefix('#').map(String::from))
        .collect();
    let dangling: Vec<&String> = links.difference(&ids).collect();
    assert!(dangling.is_empty(), "links to nothing: {dangling:?}");
    let anchor = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' {
                    (b as char).to_string()
                } else {
                    format!("_{b:02x}")
                }
            })
            .collect()
    };
    let jobs = r["jobs"].as_array().unwrap();
    for j in jobs {
        let a = anchor(j["job_id"].as_str().unwrap());
        assert!(
            ids.contains(&format!("job-{a}")) && ids.contains(&format!("evidence-{a}")),
            "{a}"
        );
        assert!(links.contains(&format!("evidence-{a}")) && links.contains(&format!("job-{a}")));
    }
    for (kind, list, key) in [("team", "teams", "team"), ("model", "models", "model")] {
        for g in r[list].as_array().unwrap() {
            let name = g[key].as_str().unwrap();
            let target = format!("jobs-of-{kind}-{}", anchor(name));
            assert!(links.contains(&target), "{target}");
            // The group's block lists exactly its jobs.
            let start = html.find(&format!("id=\"{target}\"")).unwrap();
            let block = &html[start..start + html[start..].find("</details>").unwrap()];
            let listed = block.matches("href=\"#evidence-").count();
            let expected = jobs.iter().filter(|j| j[key] == g[key]).count();
            assert_eq!(listed, expected, "{target}");
            assert_eq!(expected as u64, g["jobs"].as_u64().unwrap());
        }
    }
    for s in r["scope2"]["sites"].as_array().unwrap() {
        assert!(links.contains(&format!(
            "jobs-of-site-{}",
            anchor(s["site"].as_str().unwrap())
        )));
    }
    // Factors named by trails are linked to the factor table.
    let factor_links = links.iter().filter(|l| l.starts_with("factor-")).count();
    assert!(factor_links > 5, "{factor_links}");
    assert_eq!(r["evidence"].as_array().unwrap().len(), jobs.len());
}
