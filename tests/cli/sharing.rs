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
        // Grams = 1000 x the location-based kilograms of report.json.
        assert_eq!(
            grams,
            m["location_kgco2e"].as_f64().unwrap() * 1000.0,
            "{file}"
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
