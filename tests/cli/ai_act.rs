//! The EU AI Act documentation of each model's training, worked out by hand, with the
//! Commission guidelines' own examples (C(2025) 5045, Annex A).

use super::{close, report_json, tmp_with};

fn model<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    r["ai_act"]["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == name)
        .unwrap_or_else(|| panic!("{name} in {}", r["ai_act"]))
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// The guidelines' hardware-based examples: 200,000 A100-hours x 312 TFLOP/s x 0.5 ~ 1.1e23,
/// 370,000 H100-hours x 989 TFLOP/s x 0.5 ~ 6.6e23 (exactly 1.1232e23 and 6.58674e23).
#[test]
fn the_guidelines_hardware_examples() {
    let config = "[report]\nperiod = \"2026-Q3\"\n\n[inputs]\njobs = [\"jobs.csv\"]\n\n[ai_act]\nutilisation = 0.5\nreported = \"hardware\"\n";
    let jobs = "job_id,model,team,zone,start,end,hardware,devices,gpu_hours\n\
a1,a,t,FR,2026-07-01T00:00:00Z,2026-09-01T00:00:00Z,A100-SXM4-80GB,256,200000\n\
h1,h,t,FR,2026-07-01T00:00:00Z,2026-09-01T00:00:00Z,H100-SXM5-80GB,512,370000\n";
    let d = tmp_with(&[("greenledger.toml", config), ("jobs.csv", jobs)]);
    let r = report_json(d.path(), 0);
    let a = &model(&r, "a")["training_compute_flop"];
    assert!(close(f(&a["hardware"]), 200_000.0 * 3600.0 * 312e12 * 0.5));
    assert!(close(f(&a["reported"]), 1.1232e23));
    assert!(a["architecture"].is_null());
    assert!(a["method"].as_str().unwrap().starts_with("hardware-based"));
    let h = &model(&r, "h")["training_compute_flop"];
    assert!(close(f(&h["reported"]), 6.58674e23));
    assert_eq!(model(&r, "a")["thresholds"]["over_1e23"], true);
    assert_eq!(model(&r, "a")["thresholds"]["over_1e25"], false);
    assert!(close(
        f(&model(&r, "a")["training_time"]["hardware_days"]),
        200_000.0 / 24.0
    ));
    assert_eq!(r["ai_act"]["lifetime"], "period");
}

/// Site s: 100 g/kWh, PUE 1.5. `base` (7e9 parameters): b1 pretraining on 1e12 tokens,
/// metered 4000 kWh IT, 8 A100 for 48 h; b2 an evaluation and b3 a failed exploratory run,
/// both left out. Architecture: 6 x 7e9 x 1e12 = 4.2e22 FLOP; hardware at utilisation 0.5:
/// 384 h x 3600 x 312e12 x 0.5 = 2.156544e20, far from it. Energy 6 MWh facility (4 IT), all
/// measured; location 600 kg, no embodied figure: SCI 600 / 4.2e22 per FLOP, 600 / 1e12 per
/// token, 600 / 7 per billion parameters (effective); gross adds b2's and b3's 45 kg. Fine-tunes of base: ft1 on 2e11 tokens (8.4e21 =
/// 20 % of base: no new provider), ft2 on 5e11 (2.1e22 = 50 %: a new provider).
#[test]
fn architecture_exclusions_energy_and_fine_tunes_by_hand() {
    let config = "[report]\nperiod = \"2026-Q3\"\n\n[inputs]\njobs = [\"jobs.csv\"]\n\n[ai_act]\nutilisation = 0.5\n\n[[site]]\nid = \"s\"\nzone = \"FR\"\ngrid_intensity_g_per_kwh = 100\npue = 1.5\n";
    let jobs = "job_id,model,team,site,start,end,hardware,devices,training_type,status,parameters,tokens,base_model,energy_kwh\n\
b1,base,t,s,2026-07-01T00:00:00Z,2026-07-03T00:00:00Z,A100-SXM4-80GB,8,pretraining,completed,7e9,1e12,,4000\n\
b2,base,t,s,2026-07-04T00:00:00Z,2026-07-05T00:00:00Z,A100-SXM4-80GB,8,evaluation,completed,7e9,,,100\n\
b3,base,t,s,2026-07-06T00:00:00Z,2026-07-07T00:00:00Z,A100-SXM4-80GB,8,exploratory,failed,7e9,1e10,,200\n\
f1,ft1,t,s,2026-08-01T00:00:00Z,2026-08-02T00:00:00Z,A100-SXM4-80GB,8,fine-tuning,completed,7e9,2e11,base,\n\
f2,ft2,t,s,2026-08-01T00:00:00Z,2026-08-02T00:00:00Z,A100-SXM4-80GB,8,fine-tuning,completed,7e9,5e11,base,\n";
    let d = tmp_with(&[("greenledger.toml", config), ("jobs.csv", jobs)]);
    let r = report_json(d.path(), 0);
    let b = model(&r, "base");
    let c = &b["training_compute_flop"];
    assert!(close(f(&c["architecture"]), 4.2e22));
    assert!(close(f(&c["hardware"]), 384.0 * 3600.0 * 312e12 * 0.5));
    assert!(close(f(&c["reported"]), 4.2e22));
    assert_eq!(c["agree_within_30pct"], false);
    assert_eq!(b["jobs_included"], 1);
    let excluded: Vec<(&str, &str)> = b["jobs_excluded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["job_id"].as_str().unwrap(), x["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(excluded.len(), 2);
    assert_eq!(excluded[0].0, "b2");
    assert!(excluded[0].1.contains("evaluation"));
    assert_eq!(excluded[1].0, "b3");
    assert!(excluded[1].1.contains("failed exploratory"));
    assert!(close(f(&b["training_energy_mwh"]), 6.0));
    assert!(close(f(&b["it_energy_mwh"]), 4.0));
    assert_eq!(b["energy_basis"], "measured");
    assert!(close(f(&b["measured_share"]), 1.0));
    assert_eq!(b["boundary"], "node");
    assert!(close(f(&b["training_time"]["wall_clock_days"]), 2.0));
    assert!(close(f(&b["training_time"]["hardware_days"]), 16.0));
    assert_eq!(b["hardware"][0], "A100-SXM4-80GB");
    assert!(b["methodology"]
        .as_str()
        .unwrap()
        .starts_with("In the absence of a delegated act adopted under Article 53(5)"));
    let sci = &b["sci_ai"];
    assert!(close(f(&sci["per_flop"]) * 4.2e22, 600.0));
    assert!(close(f(&sci["per_training_token"]) * 1e12, 600.0));
    assert!(close(f(&sci["per_billion_parameters"]), 600.0 / 7.0));
    // Gross: every job, b2 (100 kWh IT -> 150 kWh, 15 kg) and b3 (200 -> 300 kWh, 30 kg) too.
    assert!(close(f(&b["gross_emissions_kgco2e"]), 645.0));
    assert!(close(f(&sci["gross"]["per_flop"]) * 4.2e22, 645.0));
    assert!(close(
        f(&sci["gross"]["per_billion_parameters"]),
        645.0 / 7.0
    ));
    let ft1 = model(&r, "ft1");
    assert_eq!(ft1["base_model"], "base");
    assert!(close(f(&ft1["share_of_base_compute"]), 0.2));
    assert_eq!(ft1["new_provider"], false);
    assert_eq!(ft1["energy_basis"], "estimated");
    let ft2 = model(&r, "ft2");
    assert!(close(f(&ft2["share_of_base_compute"]), 0.5));
    assert_eq!(ft2["new_provider"], true);
    assert!(base_has_no_share(b));
}

fn base_has_no_share(b: &serde_json::Value) -> bool {
    b["share_of_base_compute"].is_null() && b["new_provider"].is_null()
}

/// Without parameters and tokens, and without a utilisation, no compute is made up.
#[test]
fn no_compute_without_its_inputs() {
    let config = "[report]\nperiod = \"2026-Q3\"\n\n[inputs]\njobs = [\"jobs.csv\"]\n";
    let jobs = "job_id,model,team,zone,start,end,hardware,devices\n\
x1,x,t,FR,2026-07-01T00:00:00Z,2026-07-02T00:00:00Z,A100-SXM4-80GB,8\n";
    let d = tmp_with(&[("greenledger.toml", config), ("jobs.csv", jobs)]);
    let r = report_json(d.path(), 0);
    let c = &model(&r, "x")["training_compute_flop"];
    assert!(c["architecture"].is_null() && c["hardware"].is_null() && c["reported"].is_null());
    assert!(c["method"].as_str().unwrap().starts_with("not computed"));
    assert!(model(&r, "x")["thresholds"]["over_1e23"].is_null());
}

/// The files: per model with training jobs, the form's fields to two significant figures with
/// their recipients, and the JSON entry of report.json.
#[test]
fn the_ai_act_files_carry_the_forms_fields() {
    let config = "[report]\nperiod = \"2026-Q3\"\norganization = \"Lab\"\n\n[inputs]\njobs = [\"jobs.csv\"]\n\n[ai_act]\nutilisation = 0.5\nreported = \"hardware\"\n";
    let jobs = "job_id,model,team,zone,start,end,hardware,devices,gpu_hours,training_type\n\
a1,a,t,FR,2026-07-01T00:00:00Z,2026-09-01T00:00:00Z,A100-SXM4-80GB,256,200000,pretraining\n\
e1,e,t,FR,2026-07-01T00:00:00Z,2026-07-02T00:00:00Z,A100-SXM4-80GB,8,,evaluation\n";
    let d = tmp_with(&[("greenledger.toml", config), ("jobs.csv", jobs)]);
    let out = d.path().join("out");
    super::gl()
        .args(["report", "--quiet", "--format", "json,ai-act", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let md = std::fs::read_to_string(out.join("ai-act/a.md")).unwrap();
    assert!(
        md.contains("| Amount of computation | 1.1e23 FLOP (hardware-based"),
        "{md}"
    );
    assert!(md.contains("AI Office, national competent authorities"));
    assert!(md.contains("Over 10^23 FLOP: yes; over 10^25 FLOP: no."));
    assert!(md.contains("Provider: Lab. Periods: 2026-Q3; the figures cover this period alone"));
    assert!(md.contains("In the absence of a delegated act adopted under Article 53(5)"));
    // 200,000 accelerator-hours = 8333.3 accelerator-days: 8300 to two figures.
    assert!(md.contains("8300 accelerator-days"), "{md}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("ai-act/a.json")).unwrap()).unwrap();
    let report = super::read_json(&out.join("report.json"));
    assert_eq!(json, model(&report, "a").clone());
    // A model whose jobs are all left out gets no file.
    assert!(!out.join("ai-act/e.md").exists());
    assert_eq!(model(&report, "e")["jobs_included"], 0);
}

/// A two-quarter chain. Site s: 100 g/kWh, PUE 1.5. Q2: `base` (7e9 parameters) b-q2 on 4e11
/// tokens, metered 2000 kWh IT (3 MWh facility, 300 kg), 8 A100 for 24 h; `old` o-q2, 1000 kWh
/// metered, no parameters. Q3, with Q2's report as previous: `base` b-q3 on 6e11 tokens,
/// estimated: 8 x 24 h x 400 W = 76.8 kWh IT (115.2 kWh facility, 11.52 kg); `ft`, a fine-tune
/// of base on 5e11 tokens. Lifetime of base: 6 x 7e9 x (4e11 + 6e11) = 4.2e22 FLOP, 3.1152 MWh
/// (2.0768 IT, 2 / 2.0768 measured: mixed), 16 accelerator-days, 2 jobs, 311.52 kg; ft is
/// 2.1e22 = half of base's lifetime compute: a new provider. `old` keeps its Q2 figures.
#[test]
fn a_models_training_is_carried_across_quarters() {
    let config = |period: &str| {
        format!("[report]\nperiod = \"{period}\"\n\n[inputs]\njobs = [\"jobs.csv\"]\n\n[[site]]\nid = \"s\"\nzone = \"FR\"\ngrid_intensity_g_per_kwh = 100\npue = 1.5\n")
    };
    let q2 = "job_id,model,team,site,start,end,hardware,devices,training_type,parameters,tokens,base_model,energy_kwh\n\
b-q2,base,t,s,2026-06-01T00:00:00Z,2026-06-02T00:00:00Z,A100-SXM4-80GB,8,pretraining,7e9,4e11,,2000\n\
o-q2,old,t,s,2026-06-03T00:00:00Z,2026-06-04T00:00:00Z,A100-SXM4-80GB,8,pretraining,,,,1000\n";
    let q3 = "job_id,model,team,site,start,end,hardware,devices,training_type,parameters,tokens,base_model,energy_kwh\n\
b-q3,base,t,s,2026-07-01T00:00:00Z,2026-07-02T00:00:00Z,A100-SXM4-80GB,8,pretraining,7e9,6e11,,\n\
f-q3,ft,t,s,2026-07-05T00:00:00Z,2026-07-06T00:00:00Z,A100-SXM4-80GB,8,fine-tuning,7e9,5e11,base,\n";
    let d2 = tmp_with(&[
        ("greenledger.toml", config("2026-Q2").as_str()),
        ("jobs.csv", q2),
    ]);
    let r2 = report_json(d2.path(), 0);
    assert_eq!(r2["ai_act"]["lifetime"], "period");
    let q2_json = d2.path().join("out/report.json");
    let d3 = tmp_with(&[
        ("greenledger.toml", config("2026-Q3").as_str()),
        ("jobs.csv", q3),
    ]);
    let out = d3.path().join("out");
    super::gl()
        .args(["report", "--quiet", "--format", "json", "--config"])
        .arg(d3.path().join("greenledger.toml"))
        .arg("--previous")
        .arg(&q2_json)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let r3 = super::read_json(&out.join("report.json"));
    let a = &r3["ai_act"];
    assert_eq!(a["lifetime"], "carried forward");
    assert_eq!(a["carried_from"]["periods"][0], "2026-Q2");
    let sha = {
        use sha2::Digest;
        format!(
            "{:x}",
            sha2::Sha256::digest(std::fs::read(&q2_json).unwrap())
        )
    };
    assert_eq!(a["carried_from"]["sha256"], sha.as_str());
    let b = model(&r3, "base");
    assert_eq!(b["periods"], serde_json::json!(["2026-Q2", "2026-Q3"]));
    assert!(close(f(&b["training_compute_flop"]["reported"]), 4.2e22));
    assert!(close(f(&b["training_energy_mwh"]), 3.1152));
    assert!(close(f(&b["it_energy_mwh"]), 2.0768));
    assert!(close(f(&b["measured_share"]), 2.0 / 2.0768));
    assert_eq!(b["energy_basis"], "mixed");
    assert!(close(f(&b["training_time"]["hardware_days"]), 16.0));
    assert_eq!(b["jobs_included"], 2);
    assert!(close(f(&b["emissions_kgco2e"]), 311.52));
    assert!(close(f(&b["sci_ai"]["per_flop"]) * 4.2e22, 311.52));
    let ft = model(&r3, "ft");
    assert!(close(f(&ft["share_of_base_compute"]), 0.5));
    assert_eq!(ft["new_provider"], true);
    let old = model(&r3, "old");
    assert_eq!(old["periods"], serde_json::json!(["2026-Q2"]));
    assert!(close(f(&old["training_energy_mwh"]), 1.5));
    // A previous report whose period overlaps this one is refused: it would count the time
    // twice.
    let again = d3.path().join("again");
    super::gl()
        .args(["report", "--quiet", "--format", "json", "--config"])
        .arg(d3.path().join("greenledger.toml"))
        .arg("--previous")
        .arg(out.join("report.json"))
        .arg("--out")
        .arg(&again)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("overlaps this one (2026-Q3)"));
}

/// A mixture-of-experts model: 47e9 parameters, 13e9 active, 1e12 tokens -> 6 x 13e9 x 1e12 =
/// 7.8e22 FLOP (not 2.82e23). Its run measured an MFU of 0.4 and no utilisation is configured:
/// 8 A100 for 100 h = 800 h x 3600 x 312e12 x 0.4 = 3.59424e20.
#[test]
fn active_parameters_and_a_measured_mfu() {
    let config = "[report]\nperiod = \"2026-Q3\"\n\n[inputs]\njobs = [\"jobs.csv\"]\n";
    let jobs = "job_id,model,team,zone,start,end,hardware,devices,parameters,active_parameters,tokens,mfu\n\
m1,moe,t,FR,2026-07-01T00:00:00Z,2026-07-05T04:00:00Z,A100-SXM4-80GB,8,47e9,13e9,1e12,0.4\n";
    let d = tmp_with(&[("greenledger.toml", config), ("jobs.csv", jobs)]);
    let r = report_json(d.path(), 0);
    let c = &model(&r, "moe")["training_compute_flop"];
    assert!(close(f(&c["architecture"]), 7.8e22));
    assert!(close(f(&c["hardware"]), 800.0 * 3600.0 * 312e12 * 0.4));
    assert!(close(f(&c["reported"]), 7.8e22));
    let job = &r["jobs"][0];
    assert_eq!(job["active_parameters"], 13e9);
    assert_eq!(job["mfu"], 0.4);
}

/// Benchmarked inference: given FLOP as measured; else 2 x active parameters x tokens
/// (2 x 13e9 x 1500 = 3.9e13).
#[test]
fn benchmarked_inference() {
    let config = "[report]\nperiod = \"2026-Q3\"\n\n[inputs]\njobs = [\"jobs.csv\"]\n\n[[ai_act.inference_benchmark]]\nmodel = \"moe\"\ntask = \"chat\"\ntokens = 1500\nhardware = \"H100-SXM5-80GB\"\n\n[[ai_act.inference_benchmark]]\nmodel = \"moe\"\ntask = \"long summary\"\ntokens = 9000\nhardware = \"H100-SXM5-80GB\"\nflop = 2.5e14\n";
    let jobs =
        "job_id,model,team,zone,start,end,hardware,devices,parameters,active_parameters,tokens\n\
m1,moe,t,FR,2026-07-01T00:00:00Z,2026-07-02T00:00:00Z,A100-SXM4-80GB,8,47e9,13e9,1e11\n";
    let d = tmp_with(&[("greenledger.toml", config), ("jobs.csv", jobs)]);
    let r = report_json(d.path(), 0);
    let inf = model(&r, "moe")["inference"].as_array().unwrap().clone();
    assert_eq!(inf.len(), 2);
    assert!(close(f(&inf[0]["flop"]), 3.9e13));
    assert_eq!(inf[0]["method"], "2 x active parameters x tokens");
    assert!(close(f(&inf[1]["flop"]), 2.5e14));
    assert_eq!(inf[1]["method"], "measured");
}

/// A fine-tune of an external model: its compute against the published figure. 6 x 8e9 x 5e9
/// = 2.4e20 against 7.2e23: 1/3000 of it, no new provider.
#[test]
fn a_fine_tune_of_a_published_model() {
    let config = "[report]\nperiod = \"2026-Q3\"\n\n[inputs]\njobs = [\"jobs.csv\"]\n\n[[published_model]]\nmodel = \"llama-3-8b\"\ntraining_compute_flop = 7.2e23\nsource = \"model card\"\n";
    let jobs = "job_id,model,team,zone,start,end,hardware,devices,training_type,parameters,tokens,base_model\n\
s1,support-bot,t,FR,2026-07-01T00:00:00Z,2026-07-02T00:00:00Z,A100-SXM4-80GB,8,fine-tuning,8e9,5e9,llama-3-8b\n";
    let d = tmp_with(&[("greenledger.toml", config), ("jobs.csv", jobs)]);
    let r = report_json(d.path(), 0);
    let m = model(&r, "support-bot");
    assert!(close(f(&m["share_of_base_compute"]), 2.4e20 / 7.2e23));
    assert_eq!(m["new_provider"], false);
}
