//! Sharing: model cards (Hugging Face co2_eq_emissions), paper statements and SCI.

use super::{fixture, gl, read_json};

#[test]
fn model_cards_match_the_report() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("r");
    gl().current_dir(fixture("handcalc"))
        .args(["report", "--quiet", "--config", "greenledger.toml", "--out"])
        .arg(&dir)
        .assert()
        .code(0);
    let r = read_json(&dir.join("report.json"));
    for m in r["models"].as_array().unwrap() {
        let file = m["card"]["file"].as_str().unwrap();
        let yaml =
            std::fs::read_to_string(dir.join("model-cards").join(format!("{file}.yaml"))).unwrap();
        let grams: f64 = yaml
            .lines()
            .find_map(|l| l.trim().strip_prefix("emissions: "))
            .unwrap()
            .parse()
            .unwrap();
        // Grams = 1000 x the location-based kilograms of report.json, to a tenth of a gram.
        let want = m["location_kgco2e"].as_f64().unwrap() * 1000.0;
        assert!(
            (grams - want).abs() <= 0.05 + 1e-9,
            "{file}: {grams} vs {want}"
        );
        let text = yaml.lines().find(|l| l.contains("emissions: ")).unwrap();
        assert!(
            text.split('.').nth(1).is_some_and(|d| d.len() == 1),
            "{text}"
        );
        assert!(yaml.starts_with("co2_eq_emissions:\n"));
        for key in [
            "source:",
            "training_type:",
            "geographical_location:",
            "hardware_used:",
        ] {
            assert!(yaml.contains(key), "{file}: {key}");
        }
        let md =
            std::fs::read_to_string(dir.join("model-cards").join(format!("{file}.md"))).unwrap();
        assert!(md.starts_with("## Environmental impact"));
        assert!(md.contains("```latex"));
    }
    // m-one: j1 (2 x X1, pretraining) and j2 (1 x X1), both at known sites.
    let one = std::fs::read_to_string(dir.join("model-cards/m-one.yaml")).unwrap();
    assert!(one.contains("training_type: \"pre-training\""), "{one}");
    assert!(one.contains("hardware_used: \"2 x X1\""), "{one}");
    // SCI per run: (location 1.5 + 0.1872 kg) + (embodied 2.0 + 0.8 kg), over 2 runs.
    let m = r["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "m-one")
        .unwrap()
        .clone();
    let sci = m["card"]["sci_kgco2e_per_run"].as_f64().unwrap();
    assert!(
        (sci - (1.5 + 0.1872 + 2.0 + 0.8) / 2.0).abs() < 1e-9,
        "{sci}"
    );
}

#[test]
fn model_names_become_safe_file_names() {
    assert_eq!(
        greenledger::report::safe_file_name("org/model v2"),
        "org_model_v2"
    );
    assert_eq!(
        greenledger::report::safe_file_name("../../etc/passwd"),
        "_.._etc_passwd"
    );
    assert_eq!(greenledger::report::safe_file_name(""), "model");
}

#[test]
fn verify_passes_untouched_and_names_what_changed() {
    let d = super::tmp_with(&[
        (
            "greenledger.toml",
            &std::fs::read_to_string(fixture("handcalc/greenledger.toml")).unwrap(),
        ),
        (
            "jobs.csv",
            &std::fs::read_to_string(fixture("handcalc/jobs.csv")).unwrap(),
        ),
    ]);
    gl().current_dir(d.path())
        .args([
            "report",
            "--quiet",
            "--config",
            "greenledger.toml",
            "--out",
            "r",
        ])
        .assert()
        .code(0);
    let m = read_json(&d.path().join("r/manifest.json"));
    assert_eq!(m["schema"], "greenledger/manifest@1");
    assert_eq!(
        m["command"],
        serde_json::json!([
            "report",
            "--quiet",
            "--config",
            "greenledger.toml",
            "--out",
            "OUT"
        ])
    );
    let kinds: Vec<&str> = m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["config", "jobs"]);
    let outputs: Vec<&str> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    for want in [
        "report.json",
        "report.html",
        "csv/jobs.csv",
        "model-cards/m-one.yaml",
    ] {
        assert!(outputs.contains(&want), "{want} in {outputs:?}");
    }
    assert_eq!(m["factor_set"]["name"], "greenledger-embedded");
    gl().current_dir(d.path())
        .args(["verify", "r"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("matches"));

    // One byte of an input changes: exit 1, naming the file.
    let jobs = d.path().join("jobs.csv");
    let original = std::fs::read(&jobs).unwrap();
    let mut changed = original.clone();
    let last = changed.len() - 2;
    changed[last] = b'9';
    std::fs::write(&jobs, &changed).unwrap();
    gl().current_dir(d.path())
        .args(["verify", "r"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("input jobs.csv"))
        .stdout(predicates::str::contains("changed"));
    // The file disappears.
    std::fs::remove_file(&jobs).unwrap();
    gl().current_dir(d.path())
        .args(["verify", "r"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("input jobs.csv"))
        .stdout(predicates::str::contains("missing"));
    // Restored, but an output was edited by hand.
    std::fs::write(&jobs, &original).unwrap();
    gl().current_dir(d.path())
        .args(["verify", "r"])
        .assert()
        .code(0);
    let csv = d.path().join("r/csv/teams.csv");
    let text = std::fs::read_to_string(&csv)
        .unwrap()
        .replace("alpha", "alpha-team");
    std::fs::write(&csv, text).unwrap();
    gl().current_dir(d.path())
        .args(["verify", "r"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains(
            "output csv/teams.csv was modified",
        ));
    // Not a report folder.
    gl().args(["verify"]).arg(d.path()).assert().code(2);
}

#[test]
fn the_demo_folder_verifies() {
    let out = tempfile::tempdir().unwrap();
    gl().current_dir(out.path())
        .args(["demo", "--quiet", "--out", "d"])
        .assert()
        .code(0);
    assert!(out.path().join("d/manifest.json").exists());
    assert!(out.path().join("d/model-cards/aurora-7b.yaml").exists());
    gl().current_dir(out.path())
        .args(["verify", "d"])
        .assert()
        .code(0);
    std::fs::remove_file(out.path().join("d/inputs/sacct/sto-cluster-2026Q3.txt")).unwrap();
    gl().current_dir(out.path())
        .args(["verify", "d"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("sacct/sto-cluster-2026Q3.txt"));
}

/// --public: no node or host name and no file path from the inputs appears in the outputs.
#[test]
fn public_outputs_carry_no_node_names_or_paths() {
    let power = "timestamp,node,device,power_w\n2026-07-01T00:00:00Z,secret-host-17.corp.example,0,100\n2026-07-01T00:01:00Z,secret-host-17.corp.example,0,100\n2026-07-01T00:00:00Z,hidden-node-3,0,50\n2026-07-01T00:01:00Z,hidden-node-3,0,50\n";
    let jobs = "job_id,model,team,zone,start,end,hardware,devices,nodes,gpu_ids\nJ,m,t,FR,2026-07-01T00:00:00Z,2026-07-01T00:01:00Z,H100,1,secret-host-17,0\n";
    let cfg = "[report]\nperiod = \"2026-07-01..2026-07-01\"\n[inputs]\njobs = [\"private-dir/jobs.csv\"]\ntelemetry = [\"private-dir/power-log.csv\"]\n";
    let d = super::tmp_with(&[
        ("greenledger.toml", cfg),
        ("private-dir/jobs.csv", jobs),
        ("private-dir/power-log.csv", power),
    ]);
    gl().current_dir(d.path())
        .args([
            "report",
            "--quiet",
            "--public",
            "--config",
            "greenledger.toml",
            "--out",
            "pub",
        ])
        .assert()
        .code(0);
    let mut files = vec![d.path().join("pub")];
    let mut checked = 0;
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&p).unwrap();
        // The PDF's streams are compressed: read its text instead of its bytes.
        let text = if p.extension().is_some_and(|e| e == "pdf") {
            let doc = lopdf::Document::load_mem(&bytes).unwrap();
            let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
            let text = doc.extract_text(&pages).unwrap();
            assert!(text.contains("node-"), "the PDF names the pseudonyms");
            // Table cells wrap long names over lines: compare without whitespace.
            text.chars().filter(|c| !c.is_whitespace()).collect()
        } else {
            String::from_utf8_lossy(&bytes).to_string()
        };
        for secret in [
            "secret-host",
            "hidden-node",
            "private-dir",
            "power-log",
            d.path().to_str().unwrap(),
        ] {
            assert!(!text.contains(secret), "{} contains {secret}", p.display());
        }
        checked += 1;
    }
    assert!(checked >= 6);
    let r = read_json(&d.path().join("pub/report.json"));
    // Stable pseudonyms: the same name gives the same pseudonym.
    let nodes: Vec<&str> = r["telemetry"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap())
        .collect();
    assert_eq!(nodes.len(), 2);
    assert!(
        nodes
            .iter()
            .all(|n| n.starts_with("node-") && n.len() == 17),
        "{nodes:?}"
    );
    assert_eq!(
        r["jobs"][0]["energy_source"], "sampled",
        "the figures are unchanged"
    );
    // Not the unkeyed hash anyone could recompute from a guess of the name.
    use sha2::Digest;
    let unkeyed = format!(
        "node-{}",
        &format!("{:x}", sha2::Sha256::digest(b"greenledger:secret-host-17"))[..8]
    );
    assert!(!nodes.iter().any(|n| n.starts_with(&unkeyed)), "{nodes:?}");
    // With a key the pseudonyms are the key's: the same key, the same files; another key,
    // other pseudonyms; without one, a fresh random key each run.
    let run = |key: Option<&str>, out: &str| {
        let mut c = gl();
        c.current_dir(d.path()).env_remove("GREENLEDGER_PUBLIC_KEY");
        if let Some(k) = key {
            c.env("GREENLEDGER_PUBLIC_KEY", k);
        }
        c.args([
            "report", "--quiet", "--public", "--format", "json", "--config",
        ])
        .arg("greenledger.toml")
        .args(["--out", out])
        .assert()
        .code(0);
        std::fs::read_to_string(d.path().join(out).join("report.json")).unwrap()
    };
    let pseudonyms = |text: &str| -> Vec<String> {
        let r: serde_json::Value = serde_json::from_str(text).unwrap();
        r["telemetry"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["node"].as_str().unwrap().to_string())
            .collect()
    };
    let (a1, a2, b) = (
        run(Some("k1"), "a1"),
        run(Some("k1"), "a2"),
        run(Some("k2"), "b"),
    );
    assert_eq!(a1, a2);
    assert_ne!(pseudonyms(&a1), pseudonyms(&b));
    assert_ne!(pseudonyms(&run(None, "c1")), pseudonyms(&run(None, "c2")));
}

/// Model names become file names safely: a 1,000,000-character name is bounded (and the run
/// does not abort with "File name too long"), path separators are replaced, and names that
/// sanitise alike stay distinct.
#[test]
fn model_names_become_safe_distinct_file_names() {
    let long = "x".repeat(1_000_000);
    let jobs = format!(
        "job_id,model,team,zone,start,end,hardware,devices\n\
         j1,{long},t,FR,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,H100,1\n\
         j2,a/b,t,FR,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,H100,1\n\
         j3,a_b,t,FR,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,H100,1\n\
         j4,a_b-2,t,FR,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,H100,1\n"
    );
    let d = super::tmp_with(&[("jobs.csv", &jobs)]);
    let out = d.path().join("out");
    gl().args(["report", "--quiet", "--jobs"])
        .arg(d.path().join("jobs.csv"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let mut names: Vec<String> = std::fs::read_dir(out.join("model-cards"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(
        names.iter().all(|n| n.len() < 120 && !n.contains('/')),
        "{names:?}"
    );
    for want in ["a_b.yaml", "a_b-2.yaml", "a_b-2-2.yaml"] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
}
