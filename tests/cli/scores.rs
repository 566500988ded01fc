//! Practice scores on a crafted ledger, worked by hand.
//!
//! Team a: j1 pretraining (m1, published) 10 devices x 10 h = 100 GPU-h, fp32, metered 40 kWh;
//! j2 fine-tuning of base x (m2) 100 GPU-h, bf16, estimated at avg_power_w 350 W = 35 kWh.
//! Site s: grid and residual mix 100 g/kWh, PUE 1, no instruments: market 100 g/kWh.
//! - clean_energy: 100 g/kWh -> (475 - 100) / (475 - 50) = 88.235294...
//! - pretrained_reuse: 100 of 200 training GPU-h -> 0.5 / 0.8 = 62.5
//! - distillation: no student among 2 models -> 0
//! - efficient_training: 100 of 200 GPU-h mixed precision -> 0.5 / 0.9 = 55.5...
//! - hardware_utilisation: j1 400 W (40 kWh over 100 GPU-h), j2 350 W, of 700 W TDP:
//!   (100 x 4/7 + 100 x 0.5) / 200 = 0.535714...; (u - 0.3) / 0.5
//! - efficient_hardware: H100-SXM5 989 TFLOPS / 700 W over the table's best by 2026, H100-PCIe
//!   756 / 350 W: 0.654101...; (x - 0.25) / 0.65
//! - compute_efficiency: no job gives parameters and tokens -> null
//! - carbon_aware: no hourly data -> null, with the reason
//! - low_waste: nothing failed -> 100
//! - transparency: measured 40 of 75 kWh, 1 of 2 models published -> (0.5333 + 0.5) / 2
//!
//! Team b: k1 distillation (m3, teacher m1), failed, 10 GPU-h fp8, metered 5 kWh:
//! distillation 1.0 -> 100; low_waste: all energy wasted -> 0.

use super::{close, gl, read_json, report_json, tmp_with};

const CONFIG: &str = "[report]\nperiod = \"2026-Q3\"\n[inputs]\njobs = [\"jobs.csv\"]\n[[site]]\nid = \"s\"\nzone = \"FR\"\ngrid_intensity_g_per_kwh = 100\nresidual_mix_g_per_kwh = 100\npue = 1.0\n";
const JOBS: &str = "job_id,model,team,site,start,end,hardware,devices,training_type,base_model,teacher_model,precision,status,avg_power_w,energy_kwh,published\n\
j1,m1,a,s,2026-07-01T00:00:00Z,2026-07-01T10:00:00Z,H100,10,pretraining,,,fp32,completed,,40,https://example.org/m1\n\
j2,m2,a,s,2026-07-02T00:00:00Z,2026-07-02T10:00:00Z,H100,10,fine-tuning,x,,bf16,completed,350,,\n\
k1,m3,b,s,2026-07-03T00:00:00Z,2026-07-03T10:00:00Z,H100,1,distillation,,m1,fp8,failed,,5,\n";

fn report(cfg: &str) -> serde_json::Value {
    let d = tmp_with(&[("greenledger.toml", cfg), ("jobs.csv", JOBS)]);
    let out = d.path().join("out");
    gl().args(["report", "--quiet", "--format", "json", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    read_json(&out.join("report.json"))
}

fn team(r: &serde_json::Value, t: &str) -> serde_json::Value {
    r["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["team"] == t)
        .unwrap()
        .clone()
}

#[test]
fn scores_by_hand() {
    let r = report(CONFIG);
    let a = team(&r, "a");
    let s = |p: &str| a["scores"][p].as_f64();
    let u = (100.0 * 4.0 / 7.0 + 100.0 * 0.5) / 200.0;
    let transparency = (40.0 / 75.0 + 0.5) / 2.0;
    let want = [
        ("clean_energy", (475.0 - 100.0) / 425.0 * 100.0),
        ("pretrained_reuse", 62.5),
        ("distillation", 0.0),
        ("efficient_training", 0.5 / 0.9 * 100.0),
        ("hardware_utilisation", (u - 0.3) / 0.5 * 100.0),
        (
            "efficient_hardware",
            ((989.0 / 700.0) / (756.0 / 350.0) - 0.25) / 0.65 * 100.0,
        ),
        ("low_waste", 100.0),
        ("transparency", transparency * 100.0),
    ];
    for (p, v) in want {
        assert!(close(s(p).unwrap_or(f64::NAN), v), "{p}: {:?} vs {v}", s(p));
    }
    assert!(a["scores"]["carbon_aware"].is_null());
    let detail = a["score_details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["practice"] == "carbon_aware")
        .unwrap()
        .clone();
    assert!(
        detail["reason"].as_str().unwrap().contains("hourly"),
        "{detail}"
    );
    assert!(a["scores"]["compute_efficiency"].is_null());
    let overall = want.iter().map(|(_, v)| v).sum::<f64>() / 8.0;
    assert!(close(a["scores"]["overall"].as_f64().unwrap(), overall));
    let reuse = a["score_details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["practice"] == "pretrained_reuse")
        .unwrap()
        .clone();
    assert_eq!(reuse["evidence"][0], "j2");

    let b = team(&r, "b");
    assert!(close(b["scores"]["distillation"].as_f64().unwrap(), 100.0));
    assert!(close(b["scores"]["low_waste"].as_f64().unwrap(), 0.0));
    // The organisation: 1 student of 3 models (1/3 of the way to 0.5 -> 66.7).
    assert!(close(
        r["organization_scores"]["scores"]["distillation"]
            .as_f64()
            .unwrap(),
        (1.0 / 3.0) / 0.5 * 100.0
    ));
}

#[test]
fn rubric_overrides_change_weights_and_points() {
    let cfg = format!("{CONFIG}[rubric.pretrained_reuse]\nfull = 0.5\nweight = 0\n");
    let r = report(&cfg);
    let a = team(&r, "a");
    assert!(close(
        a["scores"]["pretrained_reuse"].as_f64().unwrap(),
        100.0
    ));
    // Weight 0: it no longer counts in the overall.
    let others: f64 = [
        "clean_energy",
        "distillation",
        "efficient_training",
        "efficient_hardware",
        "hardware_utilisation",
        "low_waste",
        "transparency",
    ]
    .iter()
    .map(|p| a["scores"][*p].as_f64().unwrap())
    .sum();
    assert!(close(
        a["scores"]["overall"].as_f64().unwrap(),
        others / 7.0
    ));
    let bad = format!("{CONFIG}[rubric.vibes]\nweight = 1\n");
    let d = tmp_with(&[("greenledger.toml", bad.as_str()), ("jobs.csv", JOBS)]);
    gl().args(["validate", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("unknown practice"))
        .stderr(predicates::str::contains("greenledger.toml:"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

    /// Scores stay in 0..100 and improve monotonically as a practice's metric improves.
    #[test]
    fn scores_are_bounded_and_monotonic(a in -2.0f64..2.0, b in -2.0f64..2.0) {
        let r = greenledger::score::Rubric::default();
        for p in greenledger::score::Practice::ALL {
            let (sa, sb) = (r.score(p, a), r.score(p, b));
            proptest::prop_assert!((0.0..=100.0).contains(&sa));
            let pt = r.practices[&p];
            let better = |x: f64, y: f64| if pt.full > pt.zero { x >= y } else { x <= y };
            if better(a, b) {
                proptest::prop_assert!(sa >= sb, "{p}: {a} -> {sa}, {b} -> {sb}");
            }
        }
    }
}

/// What-ifs by hand: team a's 75 kWh IT at site s (PUE 1, 100 g/kWh) = 7.5 kg; the cleanest
/// configured site, t (PUE 1.5, 20 g/kWh: 30 g per IT kWh), would emit 2.25 kg: saving 5.25 kg.
/// Team b's failed k1: 5 kWh x 100 g = 0.5 kg avoidable; at site t 0.15 kg: saving 0.35 kg.
#[test]
fn whatifs_by_hand() {
    let cfg = format!(
        "{CONFIG}[[site]]\nid = \"t\"\nzone = \"SE3\"\ngrid_intensity_g_per_kwh = 20\npue = 1.5\n"
    );
    let r = report(&cfg);
    let w = r["whatifs"].as_array().unwrap();
    let get = |team: &str, kind: &str| {
        w.iter()
            .find(|x| x["team"] == team && x["kind"] == kind)
            .map(|x| x["saving_kgco2e"].as_f64().unwrap())
    };
    assert!(close(get("a", "cleanest_site").unwrap(), 5.25), "{w:?}");
    assert!(close(get("b", "avoid_failed_work").unwrap(), 0.5));
    assert!(close(get("b", "cleanest_site").unwrap(), 0.35));
    assert!(get("a", "avoid_failed_work").is_none());
    assert!(
        get("a", "carbon_aware_shift").is_none(),
        "no hourly data, no shift what-if"
    );
    let savings: Vec<f64> = w
        .iter()
        .map(|x| x["saving_kgco2e"].as_f64().unwrap())
        .collect();
    assert!(
        savings.windows(2).all(|p| p[0] >= p[1]),
        "sorted by saving: {savings:?}"
    );
}

/// With hourly data: a 1 h job at 300 g/kWh where every other hour within +-12 h is 100 g/kWh.
/// Shift what-if: 1 kWh x (300 - 100) g = 0.2 kg. carbon_aware: job-weighted 300 against the
/// period's mean of the zone's hours (Jul 1 00:00..12:00: (300 + 12 x 100) / 13) = +160 %,
/// clamped to a score of 0.
#[test]
fn carbon_aware_score_and_shift_by_hand() {
    let mut grid = String::from("zone,timestamp,g_per_kwh\n");
    let base = chrono::DateTime::parse_from_rfc3339("2026-06-30T12:00:00Z").unwrap();
    for k in 0..25 {
        let t = base + chrono::Duration::hours(k);
        grid.push_str(&format!(
            "FR,{},{}\n",
            t.format("%Y-%m-%dT%H:%M:%SZ"),
            if k == 12 { 300 } else { 100 }
        ));
    }
    let jobs = "job_id,model,team,site,start,end,hardware,devices,energy_kwh,precision\nh,m,c,p,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,H100,1,1,bf16\n";
    let cfg = "[report]\nperiod = \"2026-Q3\"\n[inputs]\njobs = [\"jobs.csv\"]\ngrid = [\"grid.csv\"]\n[[site]]\nid = \"p\"\nzone = \"FR\"\npue = 1.0\n";
    let d = tmp_with(&[
        ("greenledger.toml", cfg),
        ("jobs.csv", jobs),
        ("grid.csv", &grid),
    ]);
    let r = report_json(d.path(), 0);
    let shift = r["whatifs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "carbon_aware_shift")
        .expect("shift what-if")
        .clone();
    assert!(
        close(shift["saving_kgco2e"].as_f64().unwrap(), 0.2),
        "{shift}"
    );
    let c = team(&r, "c");
    let detail = c["score_details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["practice"] == "carbon_aware")
        .unwrap()
        .clone();
    assert!(
        close(
            detail["metric"].as_f64().unwrap(),
            300.0 / (1500.0 / 13.0) - 1.0
        ),
        "{detail}"
    );
    assert_eq!(c["scores"]["carbon_aware"], 0.0);
}

/// Quarter over quarter: the same ledger with j1 metered at 20 instead of 40 kWh. Team a's
/// location-based emissions go from (40 + 35) x 0.1 = 7.5 kg to 5.5 kg: -2 kg, -26.7 %.
#[test]
fn deltas_against_a_previous_report() {
    let d = tmp_with(&[("greenledger.toml", CONFIG), ("jobs.csv", JOBS)]);
    let prev = d.path().join("prev");
    gl().args(["report", "--quiet", "--format", "json", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .arg("--out")
        .arg(&prev)
        .assert()
        .code(0);
    // Made the previous quarter's (a previous report must end before this period starts).
    let mut earlier = read_json(&prev.join("report.json"));
    earlier["period"] = serde_json::json!({
        "label": "2026-Q2", "start": "2026-04-01T00:00:00Z", "end": "2026-07-01T00:00:00Z"
    });
    std::fs::write(
        prev.join("report.json"),
        serde_json::to_vec(&earlier).unwrap(),
    )
    .unwrap();
    std::fs::write(
        d.path().join("jobs.csv"),
        JOBS.replace("fp32,completed,,40,", "fp32,completed,,20,"),
    )
    .unwrap();
    let out = d.path().join("now");
    gl().args(["report", "--quiet", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .arg("--previous")
        .arg(prev.join("report.json"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let r = read_json(&out.join("report.json"));
    let before = read_json(&prev.join("report.json"));
    let p = &r["previous"];
    assert_eq!(p["period"], "2026-Q2");
    let a = p["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["team"] == "a")
        .unwrap()
        .clone();
    assert!(close(a["location_kgco2e"].as_f64().unwrap(), -2.0), "{a}");
    assert!(close(
        a["location_kgco2e_change"].as_f64().unwrap(),
        5.5 / 7.5 - 1.0
    ));
    let ta = team(&r, "a");
    let tb = before["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["team"] == "a")
        .unwrap()
        .clone();
    let want = ta["scores"]["transparency"].as_f64().unwrap()
        - tb["scores"]["transparency"].as_f64().unwrap();
    assert!(close(a["scores"]["transparency"].as_f64().unwrap(), want));
    assert!(a["scores"]["carbon_aware"].is_null(), "null stays null");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("id=\"progress\""));
    // Not a greenledger report: a clear error.
    std::fs::write(d.path().join("other.json"), "{\"hello\": 1}").unwrap();
    gl().args(["validate", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .arg("--previous")
        .arg(d.path().join("other.json"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not a greenledger report"));
}

/// Lineage: j2 fine-tunes external x (published at 1000 kg), k1 distils m1, which this ledger
/// pretrained (j1: 40 kWh x 100 g = 4 kg). Dividends: team a 1000 kg, team b 4 kg.
#[test]
fn lineage_and_reuse_dividend_by_hand() {
    let cfg = format!("{CONFIG}[[published_footprint]]\nmodel = \"x\"\nkgco2e = 1000\nsource = \"x's model card\"\n");
    let r = report(&cfg);
    let l = &r["lineage"];
    let edges = l["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2);
    let e = |m: &str| edges.iter().find(|e| e["model"] == m).unwrap().clone();
    assert_eq!(e("m2")["relation"], "base");
    assert_eq!(e("m2")["parent_source"], "x's model card");
    assert_eq!(e("m3")["relation"], "teacher");
    assert!(close(e("m3")["parent_kgco2e"].as_f64().unwrap(), 4.0));
    let d = |t: &str| {
        l["dividends"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["team"] == t)
            .unwrap()
            .clone()
    };
    assert!(close(d("a")["kgco2e_estimate"].as_f64().unwrap(), 1000.0));
    assert!(close(d("b")["kgco2e_estimate"].as_f64().unwrap(), 4.0));
    // Without the published figure, x is listed as unknown, not counted as zero.
    let r2 = report(CONFIG);
    let a = r2["lineage"]["dividends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["team"] == "a")
        .unwrap()
        .clone();
    assert_eq!(a["unknown"][0], "x");
    assert!(close(a["kgco2e_estimate"].as_f64().unwrap(), 0.0));
}

/// Efficient hardware: an estimate-only job on A100-SXM4-80GB (312 TFLOPS, 400 W), 10 GPU-h =
/// 4 kWh = 0.4 kg at site s. The table's best work per watt is H100 PCIe (756 TFLOPS, 350 W):
/// the same work takes (350 / 756) / (400 / 312) of the energy: saving 0.4 x (1 - 0.3611...).
#[test]
fn efficient_hardware_whatif_by_hand() {
    let jobs = format!("{JOBS}e1,m9,e,s,2026-07-04T00:00:00Z,2026-07-04T10:00:00Z,A100-SXM4-80GB,1,pretraining,,,bf16,completed,,,\n");
    let d = tmp_with(&[("greenledger.toml", CONFIG), ("jobs.csv", &jobs)]);
    let r = report_json(d.path(), 0);
    let w = r["whatifs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["team"] == "e" && x["kind"] == "efficient_hardware")
        .expect("what-if")
        .clone();
    let want = 0.4 * (1.0 - (350.0 / 756.0) / (400.0 / 312.0));
    assert!(close(w["saving_kgco2e"].as_f64().unwrap(), want), "{w}");
    assert!(w["message"].as_str().unwrap().contains("H100-PCIE-80GB"));
    // Measured or metered jobs are not estimate-only: team a has none.
    assert!(!r["whatifs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["team"] == "a" && x["kind"] == "efficient_hardware"));
}

/// Efficiency by hand (issue 18): team h trains on H100-SXM5 (989 TFLOPS, 700 W), team v on
/// V100-SXM2 (125 TFLOPS, 300 W), both 8 devices x 10 h = 80 GPU-h, metered; team n gives no
/// parameters. Reference 2 TFLOPS/W.
/// - efficient_hardware: h 1.412857 / 2 = 0.706429 -> (x - 0.25) / 0.65 = 70.22; v 0.416667 / 2
///   -> below 0.25 -> 0.
/// - hardware_utilisation: h 40 kWh / 80 h = 500 W of 700 -> (0.714286 - 0.3) / 0.5 = 82.86;
///   v 20 kWh = 250 W of 300 -> 0.8333 -> 100.
/// - compute_efficiency: h 6 x 1e9 x 1e10 = 6e19 FLOPs / 1.44e8 J = 4.16667e11 FLOP/J over
///   989e12 / 700 = 1.412857e12 -> 0.294911 -> (x - 0.1) / 0.4 = 48.73; v 6 x 1e8 x 1e10 /
///   7.2e7 J = 8.3333e10 over 125e12 / 300 = 4.16667e11 -> 0.2 -> 25; n null.
#[test]
fn efficiency_scores_by_hand() {
    let cfg = format!("{CONFIG}[rubric.efficient_hardware]\nreference_tflops_per_w = 2.0\n");
    let jobs = "job_id,model,team,site,start,end,hardware,devices,training_type,energy_kwh,parameters,tokens\n\
        h1,mh,h,s,2026-07-01T00:00:00Z,2026-07-01T10:00:00Z,H100-SXM5-80GB,8,pretraining,40,1e9,1e10\n\
        v1,mv,v,s,2026-07-01T00:00:00Z,2026-07-01T10:00:00Z,V100-SXM2,8,pretraining,20,1e8,1e10\n\
        n1,mn,n,s,2026-07-01T00:00:00Z,2026-07-01T10:00:00Z,H100-SXM5-80GB,8,pretraining,40,,\n\
        p1,mp,p,s,2026-07-01T00:00:00Z,2026-07-01T10:00:00Z,H100-SXM5-80GB,8,pretraining,100,7e9,1e10\n";
    let d = tmp_with(&[("greenledger.toml", cfg.as_str()), ("jobs.csv", jobs)]);
    let r = report_json(d.path(), 0);
    let s = |t: &str, p: &str| team(&r, t)["scores"][p].as_f64();
    let h_eff = (989.0 / 700.0) / 2.0;
    assert!(close(
        s("h", "efficient_hardware").unwrap(),
        (h_eff - 0.25) / 0.65 * 100.0
    ));
    assert!(close(s("v", "efficient_hardware").unwrap(), 0.0));
    assert!(close(
        s("h", "hardware_utilisation").unwrap(),
        (500.0 / 700.0 - 0.3) / 0.5 * 100.0
    ));
    assert!(close(s("v", "hardware_utilisation").unwrap(), 100.0));
    let h_mfu = (6e19 / 1.44e8) / (989e12 / 700.0);
    assert!(close(
        s("h", "compute_efficiency").unwrap(),
        (h_mfu - 0.1) / 0.4 * 100.0
    ));
    assert!(close(s("v", "compute_efficiency").unwrap(), 25.0));
    let detail = |t: &str, p: &str| {
        team(&r, t)["score_details"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["practice"] == p)
            .unwrap()
            .clone()
    };
    assert!(close(
        detail("v", "compute_efficiency")["metric"]
            .as_f64()
            .unwrap(),
        0.2
    ));
    let h = detail("h", "compute_efficiency");
    assert!(close(h["metric"].as_f64().unwrap(), h_mfu), "{h}");
    assert!(s("n", "compute_efficiency").is_none());
    assert!(detail("n", "compute_efficiency")["reason"]
        .as_str()
        .unwrap()
        .contains("parameters and tokens"));
    let ev = detail("h", "efficient_hardware")["evidence"].to_string();
    assert!(
        ev.contains("reference: configured at 2.000 TFLOPS/W"),
        "{ev}"
    );

    // Models: kWh per billion tokens, energy MFU and the closest published run by size.
    // mh: 40 kWh / 10 B tokens = 4; 1B parameters has no published run within a factor of 3.
    let model = |m: &str| {
        r["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["model"] == m)
            .unwrap()
            .clone()
    };
    assert!(close(
        model("mh")["kwh_per_billion_tokens"].as_f64().unwrap(),
        4.0
    ));
    assert!(close(model("mh")["energy_mfu"].as_f64().unwrap(), h_mfu));
    assert!(model("mh")["peer"].is_null());
    // mp: 7B parameters -> Llama 2 7B (184,320 GPU-h x 400 W = 73,728 kWh over 2T tokens:
    // 36.864 kWh per billion tokens; 6 x 7e9 x 2e12 / 2.654208e11 J / (312e12 / 400) =
    // 0.405741); mp uses 100 kWh / 10 B = 10, i.e. 10 / 36.864 of its energy per token.
    let mp = model("mp");
    assert!(close(mp["kwh_per_billion_tokens"].as_f64().unwrap(), 10.0));
    let peer = &mp["peer"];
    assert_eq!(peer["model"], "Llama-2-7B", "{mp}");
    assert!(close(
        peer["kwh_per_billion_tokens"].as_f64().unwrap(),
        36.864
    ));
    assert!(
        (peer["energy_mfu"].as_f64().unwrap() - 0.405741).abs() < 1e-6,
        "{peer}"
    );
    assert!(close(
        peer["times_energy_per_token"].as_f64().unwrap(),
        10.0 / 36.864
    ));
    assert!(peer["source"]
        .as_str()
        .unwrap()
        .contains("arXiv:2307.09288"));
    assert!(model("mn")["kwh_per_billion_tokens"].is_null());
    // The model card says it, with the boundary difference.
    let cards = d.path().join("cards");
    gl().args(["report", "--quiet", "--format", "model-cards", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .arg("--out")
        .arg(&cards)
        .assert()
        .code(0);
    let md = std::fs::read_to_string(cards.join("model-cards/mp.md")).unwrap();
    assert!(md.contains("10.00 kWh per billion tokens"), "{md}");
    assert!(
        md.contains("0.27 x the energy per token of Llama-2-7B"),
        "{md}"
    );
    assert!(md.contains("the boundaries differ"), "{md}");

    // Without a reference: the table's best by 2026 (H100-PCIe, 756 TFLOPS / 350 W), named.
    let d2 = tmp_with(&[("greenledger.toml", CONFIG), ("jobs.csv", jobs)]);
    let r2 = report_json(d2.path(), 0);
    let h2 = team(&r2, "h")["scores"]["efficient_hardware"]
        .as_f64()
        .unwrap();
    assert!(close(
        h2,
        ((989.0 / 700.0) / (756.0 / 350.0) - 0.25) / 0.65 * 100.0
    ));
    let ev = team(&r2, "h")["score_details"].to_string();
    assert!(ev.contains("H100-PCIE-80GB"), "{ev}");

    // A previous report from before hardware_utilisation: its efficient_hardware (then mean
    // power / TDP) is compared with hardware_utilisation, and the delta says so.
    let prev = r#"{"schema": "greenledger/report@1", "period": {"label": "2026-Q2"},
        "teams": [{"team": "h", "scores": {"efficient_hardware": 50.0, "overall": 40.0}}]}"#;
    std::fs::write(d.path().join("prev.json"), prev).unwrap();
    let out = d.path().join("out2");
    gl().args(["report", "--quiet", "--format", "json", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .arg("--previous")
        .arg(d.path().join("prev.json"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let r3 = read_json(&out.join("report.json"));
    let delta = r3["previous"]["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["team"] == "h")
        .unwrap()
        .clone();
    let util = (500.0 / 700.0 - 0.3) / 0.5 * 100.0;
    assert!(
        close(
            delta["scores"]["hardware_utilisation"].as_f64().unwrap(),
            util - 50.0
        ),
        "{delta}"
    );
    assert!(delta["scores"]["efficient_hardware"].is_null(), "{delta}");
    assert!(r3["previous"]["notes"][0]
        .as_str()
        .unwrap()
        .contains("compared with hardware_utilisation"));
}
