//! BoAmps exports. What greenledger promises of every file it writes (the required fields and
//! types of the BoAmps 1.1.0 model, the values it chooses from, kWh and seconds) is checked
//! against [`promise`], a schema written here from the model, which needs nothing outside the
//! repository. Where the published 1.1.0 schemas are beside the clone (`shared/schemas/boamps`,
//! `$ref` URLs mapped to the local files) every file is validated against them too; a bare clone
//! says loudly that it skipped that part.

use super::{fixture, gl, read_json};
use serde_json::json;
use std::path::{Path, PathBuf};

fn schemas() -> Option<PathBuf> {
    super::shared("schemas/boamps")
}

/// Maps the schemas' raw GitHub URLs to the local copies (the tests have no network).
struct Local(PathBuf);

impl jsonschema::Retrieve for Local {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri
            .as_str()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let text = std::fs::read_to_string(self.0.join(&name))?;
        Ok(serde_json::from_str(&text)?)
    }
}

/// The published BoAmps report schema, when it is here.
pub fn validator() -> Option<jsonschema::Validator> {
    let dir = schemas()?;
    let schema = read_json(&dir.join("report_schema.json"));
    Some(
        jsonschema::options()
            .with_retriever(Local(dir))
            .build(&schema)
            .expect("the BoAmps report schema compiles"),
    )
}

/// What greenledger promises of each BoAmps file it writes, written from the BoAmps 1.1.0 model
/// (report, measure, hardware, algorithm and dataset): every field the model requires, with its
/// type, and the values greenledger chooses from. `powerConsumption` is energy in kWh and
/// `measurementDuration` seconds (BoAmps' units): the hand-calculated test checks the values.
fn promise() -> jsonschema::Validator {
    let text = |values: &[&str]| json!({"type": "string", "enum": values});
    let schema = json!({
        "type": "object",
        "required": ["header", "task", "measures", "infrastructure", "environment", "quality"],
        "properties": {
            "header": {
                "type": "object",
                "required": ["formatVersion", "reportId", "reportDatetime", "reportStatus", "publisher"],
                "properties": {
                    "formatVersion": {"const": "1.1.0"},
                    "reportId": {"type": "string", "minLength": 1},
                    "reportDatetime": {"type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$"},
                    "reportStatus": {"const": "final"},
                    "publisher": {
                        "type": "object",
                        "required": ["confidentialityLevel"],
                        "properties": {
                            "confidentialityLevel": text(&["public", "internal"]),
                            "name": {"type": "string"},
                            "division": {"type": "string"},
                            "projectName": {"type": "string"}
                        }
                    }
                }
            },
            "task": {
                "type": "object",
                "required": ["taskStage", "taskFamily", "algorithms", "dataset"],
                "properties": {
                    "taskStage": text(&["training", "finetuning", "inference"]),
                    "taskFamily": {"type": "string"},
                    "taskDescription": {"type": "string"},
                    "algorithms": {"type": "array", "minItems": 1, "items": {
                        "type": "object",
                        "properties": {
                            "algorithmName": {"type": "string"},
                            "trainingType": {"type": "string"},
                            "foundationModelName": {"type": "string"},
                            "parametersNumber": {"type": "number", "exclusiveMinimum": 0},
                            "quantization": {"type": "string"}
                        }
                    }},
                    "dataset": {"type": "array", "minItems": 1, "items": {
                        "type": "object",
                        "required": ["dataUsage", "dataType"],
                        "properties": {
                            "dataUsage": {"const": "input"},
                            "dataType": text(&["token", "other"]),
                            "dataQuantity": {"type": "number", "exclusiveMinimum": 0}
                        }
                    }}
                }
            },
            "measures": {"type": "array", "minItems": 1, "items": {
                "type": "object",
                "required": ["measurementMethod", "powerConsumption", "measurementDateTime"],
                "properties": {
                    "measurementMethod": {"type": "string", "minLength": 1},
                    "powerConsumption": {"type": "number", "minimum": 0},
                    "measurementDuration": {"type": "number", "minimum": 0},
                    "measurementDateTime": {"type": "string"},
                    "manufacturer": {"const": "greenledger"},
                    "version": {"type": "string"}
                }
            }},
            "infrastructure": {
                "type": "object",
                "required": ["infraType", "components"],
                "properties": {
                    "infraType": text(&["onPremise", "publicCloud"]),
                    "cloudProvider": {"type": "string"},
                    "components": {"type": "array", "minItems": 1, "items": {
                        "type": "object",
                        "required": ["componentType", "nbComponent"],
                        "properties": {
                            "componentName": {"type": "string"},
                            "componentType": {"const": "gpu"},
                            "nbComponent": {"type": "integer", "minimum": 1},
                            "share": {"type": "number", "minimum": 0, "maximum": 1}
                        }
                    }}
                }
            },
            "environment": {
                "type": "object",
                "required": ["country"],
                "properties": {
                    "country": {"type": "string", "minLength": 1},
                    "location": {"type": "string"},
                    "powerSourceCarbonIntensity": {"type": "number", "minimum": 0}
                }
            },
            "quality": text(&["high", "medium", "low"])
        }
    });
    jsonschema::validator_for(&schema).expect("the promise schema compiles")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

/// Every file keeps the promise and, where the published schemas are here, validates.
fn assert_boamps(files: &[PathBuf]) {
    assert_valid(&promise(), files);
    if let Some(v) = validator() {
        assert_valid(&v, files);
    }
}

fn assert_valid(v: &jsonschema::Validator, files: &[PathBuf]) {
    assert!(!files.is_empty());
    for f in files {
        let doc = read_json(f);
        let errors: Vec<String> = v
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", f.display());
    }
}

#[test]
fn the_promise_refuses_what_it_should() {
    // The hand-calculated fixture's j1 keeps the promise; each breach below is caught.
    let out = tempfile::tempdir().unwrap();
    let dir = handcalc_boamps(&out.path().join("r"));
    let good = read_json(&dir.join("boamps/j1.json"));
    let v = promise();
    assert!(v.is_valid(&good));
    type Breach = fn(&mut serde_json::Value);
    let breaches: [(&str, Breach); 6] = [
        ("no energy", |d| {
            d["measures"][0]
                .as_object_mut()
                .unwrap()
                .remove("powerConsumption");
        }),
        ("energy as text", |d| {
            d["measures"][0]["powerConsumption"] = json!("10 kWh")
        }),
        ("no country", |d| {
            d["environment"].as_object_mut().unwrap().remove("country");
        }),
        ("a fractional GPU count", |d| {
            d["infrastructure"]["components"][0]["nbComponent"] = json!(1.5)
        }),
        ("an unknown stage", |d| {
            d["task"]["taskStage"] = json!("pretraining")
        }),
        ("another version", |d| {
            d["header"]["formatVersion"] = json!("1.0.0")
        }),
    ];
    for (what, breach) in breaches {
        let mut doc = good.clone();
        breach(&mut doc);
        assert!(!v.is_valid(&doc), "{what} was not caught");
    }
}

#[test]
fn the_schema_folders_example_validates_so_the_validator_is_real() {
    let (Some(v), Some(dir)) = (validator(), schemas()) else {
        return;
    };
    let example = read_json(&dir.join("example-energy-report-llm-inference.json"));
    assert!(v.is_valid(&example));
    let mut broken = example.clone();
    broken["measures"][0]
        .as_object_mut()
        .unwrap()
        .remove("powerConsumption");
    assert!(!v.is_valid(&broken));
}

#[test]
fn every_demo_boamps_file_validates() {
    let (_out, dir) = super::demo_folder();
    let files = json_files(&dir.join("boamps"));
    let r = read_json(&dir.join("report.json"));
    let jobs = r["jobs"].as_array().unwrap().len();
    let models = r["models"].as_array().unwrap().len();
    assert_eq!(files.len(), jobs + models);
    assert_boamps(&files);
    // The HTML lists them.
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("BoAmps 1.1.0 reports") && html.contains("boamps&#x2F;aurora-7b.json"),
        "the HTML lists the BoAmps files"
    );
}

/// The hand-calculated fixture's BoAmps files, written into `dir`.
fn handcalc_boamps(dir: &Path) -> PathBuf {
    gl().args(["report", "--quiet", "--format", "boamps", "--config"])
        .arg(fixture("handcalc/greenledger.toml"))
        .arg("--out")
        .arg(dir)
        .assert()
        .code(0);
    dir.to_path_buf()
}

#[test]
fn the_hand_calculated_jobs_say_what_was_worked_out() {
    let out = tempfile::tempdir().unwrap();
    let dir = handcalc_boamps(&out.path().join("r"));
    let files = json_files(&dir.join("boamps"));
    assert_boamps(&files);
    let j1 = read_json(&dir.join("boamps/j1.json"));
    // 2 X1 x 10 h x 500 W = 10 kWh IT (15 kWh with PUE 1.5), site a in France at 100 g/kWh.
    assert_eq!(j1["measures"][0]["powerConsumption"], 10.0);
    assert_eq!(j1["measures"][0]["measurementDuration"], 36000.0);
    assert_eq!(j1["measures"][0]["measurementMethod"], "estimate");
    assert_eq!(j1["infrastructure"]["components"][0]["nbComponent"], 2);
    assert_eq!(j1["infrastructure"]["components"][0]["componentName"], "X1");
    assert_eq!(j1["environment"]["country"], "FR");
    assert_eq!(j1["environment"]["powerSourceCarbonIntensity"], 100.0);
    assert_eq!(j1["task"]["algorithms"][0]["parametersNumber"], 2.0);
    assert_eq!(j1["task"]["dataset"][0]["dataQuantity"], 1e9);
    assert!(j1["task"]["taskDescription"]
        .as_str()
        .unwrap()
        .contains("facility energy is 15.000000 kWh"));
    // The band is +-32 % (estimated from TDP): low quality.
    assert_eq!(j1["quality"], "low");
    assert_eq!(j1["header"]["reportStatus"], "final");
    assert_eq!(j1["header"]["publisher"]["name"], "Test Org");
    // j2 was metered (energy_kwh column, 8 kWh) in SE3; j3 counts its 2 of 4 h in the period.
    let j2 = read_json(&dir.join("boamps/j2.json"));
    assert_eq!(j2["measures"][0]["powerConsumption"], 8.0);
    assert!(j2["measures"][0]["measurementMethod"]
        .as_str()
        .unwrap()
        .starts_with("metered"));
    assert_eq!(j2["environment"]["country"], "SE");
    let j3 = read_json(&dir.join("boamps/j3.json"));
    assert_eq!(j3["measures"][0]["powerConsumption"], 2.0);
    // The model m-one has j1 and j2 as its measures.
    let m1 = read_json(&dir.join("boamps/m-one.json"));
    assert_eq!(m1["measures"].as_array().unwrap().len(), 2);
    // The id is the content's hash: a second run writes the same bytes.
    let dir2 = handcalc_boamps(&out.path().join("r2"));
    for f in files {
        let rel = f.strip_prefix(&dir).unwrap();
        assert_eq!(
            std::fs::read(&f).unwrap(),
            std::fs::read(dir2.join(rel)).unwrap(),
            "{}",
            rel.display()
        );
    }
}

#[test]
fn the_schema_folders_example_is_read_as_a_metered_job() {
    let Some(schemas) = schemas() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let bad = out.path().join("bad.json");
    std::fs::write(&bad, "{\"header\": {}}").unwrap();
    gl().args([
        "report",
        "--quiet",
        "--format",
        "json",
        "--period",
        "2024-09-30..2024-09-30",
        "--boamps",
    ])
    .arg(schemas.join("example-energy-report-llm-inference.json"))
    .arg(&bad)
    .arg("--out")
    .arg(out.path().join("r"))
    .assert()
    .code(1);
    let r = read_json(&out.path().join("r/report.json"));
    let j = &r["jobs"][0];
    assert_eq!(r["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(j["job_id"], "2f4643f7-68b5-4fb6-21f0-b5dcda04897d");
    assert_eq!(j["energy_source"], "metered");
    assert_eq!(j["it_energy_kwh"], 0.00267074);
    // "france" is France's zone; "2 x Tesla V100S-PCIE-32GB" is two of that GPU.
    assert_eq!(j["zone"], "FR");
    assert_eq!(j["devices"], 2.0);
    assert_eq!(j["team"], "sopra steria");
    assert_eq!(j["model"], "llama2-13b");
    assert_eq!(j["start"], "2024-09-30T09:09:40Z");
    let codes = super::finding_codes(&r);
    assert!(codes.contains(&"boamps.codecarbon-pue"), "{codes:?}");
    assert!(codes.contains(&"boamps.bad-report"), "{codes:?}");
    let bad_input = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"].as_str().unwrap().ends_with("bad.json"))
        .unwrap();
    assert_eq!(bad_input["rows_rejected"], 1);
}

#[test]
fn an_exported_report_reads_back_to_the_same_energy() {
    let out = tempfile::tempdir().unwrap();
    let dir = handcalc_boamps(&out.path().join("r"));
    gl().args([
        "report", "--quiet", "--format", "json", "--period", "2026-Q3", "--boamps",
    ])
    .arg(dir.join("boamps/j1.json"))
    .arg("--out")
    .arg(out.path().join("back"))
    .assert()
    .code(0);
    let r = read_json(&out.path().join("back/report.json"));
    let j = &r["jobs"][0];
    assert_eq!(j["it_energy_kwh"], 10.0);
    assert_eq!(j["model"], "m-one");
    assert_eq!(j["team"], "alpha");
    assert_eq!(j["zone"], "FR");
    assert_eq!(j["start"], "2026-07-10T00:00:00Z");
    assert_eq!(j["end"], "2026-07-10T10:00:00Z");
}

#[test]
fn the_model_card_names_its_boamps_report_and_its_share_of_the_sites() {
    // m-one: j1 (site a, 15 kWh facility) and j2 (site b, 10.4 kWh). Sites a and b use
    // 15 + 12 (j6) and 10.4 + 2.4 (j3) kWh: 25.4 / 39.8 = 63.82 %.
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("r");
    gl().args([
        "report",
        "--quiet",
        "--format",
        "model-cards,boamps",
        "--config",
    ])
    .arg(fixture("handcalc/greenledger.toml"))
    .arg("--out")
    .arg(&dir)
    .assert()
    .code(0);
    let md = std::fs::read_to_string(dir.join("model-cards/m-one.md")).unwrap();
    assert!(
        md.contains("63.82 % of the Scope 2 energy of a, b in 2026-Q3"),
        "{md}"
    );
    assert!(md.contains("**BoAmps report:** boamps/m-one.json"), "{md}");
    assert!(
        md.contains("published as the BoAmps report boamps/m-one.json"),
        "{md}"
    );
    assert!(dir.join("boamps/m-one.json").is_file());
}

#[test]
fn a_published_footprint_can_be_a_boamps_report() {
    // The exported j1 report: 10 kWh at 100 g/kWh = 1 kgCO2e, the footprint of base model m-one
    // for a fine-tuning job that starts from it.
    let out = tempfile::tempdir().unwrap();
    let dir = handcalc_boamps(&out.path().join("r"));
    let d = super::tmp_with(&[
        ("greenledger.toml", "[report]\nperiod = \"2026-Q3\"\n\n[inputs]\njobs = [\"jobs.csv\"]\n\n[[published_footprint]]\nmodel = \"m-one\"\nboamps = \"m-one.json\"\n"),
        ("jobs.csv", "job_id,model,team,zone,start,end,hardware,devices,training_type,base_model,energy_kwh\nft,m-ft,t,FR,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,A100-SXM4-80GB,1,fine-tuning,m-one,1\n"),
    ]);
    std::fs::copy(dir.join("boamps/j1.json"), d.path().join("m-one.json")).unwrap();
    let r = super::report_json(d.path(), 0);
    let edge = r["lineage"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["parent"] == "m-one")
        .unwrap()
        .clone();
    assert_eq!(edge["parent_kgco2e"], 1.0, "{edge}");
    assert_eq!(
        edge["parent_source"],
        "BoAmps report m-one.json: 10 kWh x 100 g/kWh"
    );
}

#[test]
fn public_reports_say_so() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("p");
    gl().args([
        "report", "--quiet", "--public", "--format", "boamps", "--config",
    ])
    .arg(fixture("handcalc/greenledger.toml"))
    .arg("--out")
    .arg(&dir)
    .assert()
    .code(0);
    let j1 = read_json(&dir.join("boamps/j1.json"));
    assert_eq!(j1["header"]["publisher"]["confidentialityLevel"], "public");
    let private = read_json(&handcalc_boamps(&out.path().join("i")).join("boamps/j1.json"));
    assert_eq!(
        private["header"]["publisher"]["confidentialityLevel"],
        "internal"
    );
}

#[test]
fn the_demos_disclosures_reconcile_with_its_inventory() {
    let (_out, dir) = super::demo_folder();
    let r = read_json(&dir.join("report.json"));
    let t = &r["inventory"]["totals"];
    let f = |v: &serde_json::Value| v.as_f64().unwrap();
    let esrs = |e: &str| {
        f(&r["esrs_e1"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["element"] == e)
            .unwrap()["value"])
    };
    assert!(super::close(
        esrs("esrs:EnergyConsumptionRelatedToOwnOperations"),
        f(&t["scope2_kwh"]) / 1000.0
    ));
    assert!(super::close(
        esrs("esrs:GrossLocationBasedScope2GreenhouseGasEmissions"),
        f(&t["location_kgco2e"]) / 1000.0
    ));
    assert!(super::close(
        esrs("esrs:GrossMarketBasedScope2GreenhouseGasEmissions"),
        f(&t["market_kgco2e"]) / 1000.0
    ));
    let s2 = &r["scope2"];
    for k in ["mwh", "location_tco2e", "market_tco2e"] {
        let sum: f64 = s2["sites"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| f(&s[k]))
            .sum();
        assert!(
            super::close(sum, f(&s2["total"][k])),
            "scope2 {k}: sites {sum}, total {}",
            s2["total"][k]
        );
    }
    // Every job's BoAmps energy is its IT energy; the jobs' files add up to the ledger's.
    let mut boamps_kwh = 0.0;
    for j in r["jobs"].as_array().unwrap() {
        let name = j["job_id"].as_str().unwrap();
        let b = read_json(&dir.join(format!("boamps/{name}.json")));
        boamps_kwh += f(&b["measures"][0]["powerConsumption"]);
    }
    assert!(super::close(boamps_kwh, f(&r["totals"]["it_energy_kwh"])));
    // A job sampled from an nvidia-smi log names that reader as its measurement method.
    let sampled = r["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["energy_detail"] == "integrated from power samples (nvidia-smi)")
        .expect("the demo has an nvidia-smi job");
    let b = read_json(&dir.join(format!(
        "boamps/{}.json",
        sampled["job_id"].as_str().unwrap()
    )));
    assert_eq!(b["measures"][0]["measurementMethod"], "nvidia-smi");
}
