//! fixtures/handcalc: every figure worked out by hand.
//!
//! X1: 500 W TDP, embodied 876 kg over 1 year x 8760 h x use 1.0 = 0.1 kg per device-hour.
//! j1 site a (100 g/kWh, PUE 1.5, WUE 0.5): 2 dev x 10 h x 500 W = 10 kWh -> 15 kWh -> 1.5 kg;
//!    embodied 20 x 0.1 = 2 kg; water 5 L.
//! j2 site b (SE3 18 g/kWh), 4 h in July (PUE 1.2) + 4 h in August (1.4): PUE 1.3; metered 8 kWh
//!    -> 10.4 kWh -> 0.1872 kg; embodied 8 x 0.1 = 0.8 kg; no WUE.
//! j3 site b, 2 of its 4 h in the period (fraction 0.5): 4 dev x 4 h x 250 W = 4 kWh -> 2 kWh,
//!    8 device-hours; PUE 1.2 (July) -> 2.4 kWh -> 0.0432 kg; embodied 0.8 kg.
//! j4 zone DE (380.95047 g/kWh), no site -> default PUE 1.6: 1 H100 x 2 h x 700 W = 1.4 kWh ->
//!    2.24 kWh -> 0.8533290528 kg; H100 embodied unknown.
//! j5 lies in October: not counted.
//! j6 site a, gpu_hours 16 given: 16 x 500 W = 8 kWh -> 12 kWh -> 1.2 kg; embodied 1.6 kg; 4 L.
//! Tokens: j1 1e9 (1.5 kg -> 0.0015 kg per million), j3 4e8 prorated to 2e8; over the jobs that
//! give tokens: (1.5 + 0.0432) kg / 1200 million = 0.001286 kg per million tokens.
//! Parameters: j1 2e9 -> 1.5 kg / 2 = 0.75 kg per billion parameters.

use super::{assert_reconciles, close, fixture, gl, read_json};

#[test]
fn every_figure_matches_the_hand_calculation() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("r");
    gl().args(["report", "--config"])
        .arg(fixture("handcalc/greenledger.toml"))
        .arg("--out")
        .arg(&dir)
        .assert()
        .code(0);
    let r = read_json(&dir.join("report.json"));
    let job = |id: &str| {
        r["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["job_id"] == id)
            .unwrap_or_else(|| panic!("{id}"))
            .clone()
    };
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"));

    let j1 = job("j1");
    for (k, want) in [
        ("gpu_hours", 20.0),
        ("it_energy_kwh", 10.0),
        ("facility_energy_kwh", 15.0),
        ("location_kgco2e", 1.5),
        ("embodied_kgco2e", 2.0),
        ("water_l", 5.0),
    ] {
        assert!(close(f(&j1, k), want), "j1 {k}: {}", j1[k]);
    }
    assert_eq!(j1["energy_source"], "estimated");
    assert!(close(f(&j1, "kgco2e_per_million_tokens"), 0.0015));
    assert!(close(f(&j1, "kgco2e_per_billion_parameters"), 0.75));
    // Uncertainty: estimated from TDP (30 %), PUE (5 %), a site-configured intensity (10 %), in
    // quadrature: sqrt(0.1025) = 0.3201562...; location 1.5 kg -> 1.0197657 .. 1.9802343 kg.
    let rel = 0.1025f64.sqrt();
    assert!(
        close(f(&j1, "location_kgco2e_low"), 1.5 * (1.0 - rel)),
        "{}",
        j1["location_kgco2e_low"]
    );
    assert!(close(f(&j1, "location_kgco2e_high"), 1.5 * (1.0 + rel)));
    // Metered j2 with an annual grid factor: sqrt(0.05^2 + 0.05^2 + 0.15^2).
    let rel2 = (0.0025f64 + 0.0025 + 0.0225).sqrt();
    let j2b = job("j2");
    assert!(close(
        f(&j2b, "location_kgco2e_high"),
        0.1872 * (1.0 + rel2)
    ));
    let j2 = job("j2");
    assert_eq!(j2["energy_source"], "metered");
    for (k, want) in [
        ("pue", 1.3),
        ("facility_energy_kwh", 10.4),
        ("location_kgco2e", 0.1872),
        ("embodied_kgco2e", 0.8),
    ] {
        assert!(close(f(&j2, k), want), "j2 {k}: {}", j2[k]);
    }
    assert!(j2["water_l"].is_null(), "unknown water stays unknown");
    let j3 = job("j3");
    for (k, want) in [
        ("fraction_in_period", 0.5),
        ("gpu_hours", 8.0),
        ("it_energy_kwh", 2.0),
        ("pue", 1.2),
        ("location_kgco2e", 0.0432),
    ] {
        assert!(close(f(&j3, k), want), "j3 {k}: {}", j3[k]);
    }
    let j4 = job("j4");
    for (k, want) in [
        ("pue", 1.6),
        ("facility_energy_kwh", 2.24),
        ("location_kgco2e", 0.8533290528),
    ] {
        assert!(close(f(&j4, k), want), "j4 {k}: {}", j4[k]);
    }
    assert!(j4["embodied_kgco2e"].is_null());
    assert!(r["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|j| j["job_id"] != "j5"));
    let j6 = job("j6");
    for (k, want) in [
        ("gpu_hours", 16.0),
        ("it_energy_kwh", 8.0),
        ("location_kgco2e", 1.2),
        ("embodied_kgco2e", 1.6),
        ("water_l", 4.0),
    ] {
        assert!(close(f(&j6, k), want), "j6 {k}: {}", j6[k]);
    }

    let t = &r["totals"];
    assert_eq!(t["jobs"], 5);
    for (k, want) in [
        ("gpu_hours", 54.0),
        ("it_energy_kwh", 29.4),
        ("facility_energy_kwh", 42.04),
        ("location_kgco2e", 3.7837290528),
        ("embodied_kgco2e", 5.2),
        ("water_l", 9.0),
    ] {
        assert!(close(f(t, k), want), "totals {k}: {}", t[k]);
    }
    // No instruments and no residual mix: market-based falls back to the grid factor.
    assert!(close(f(t, "market_kgco2e"), 3.7837290528));
    assert!(close(f(t, "tokens"), 1.2e9));
    assert!(close(f(t, "kgco2e_per_million_tokens"), 0.001286));
    assert!(close(f(&job("j3"), "tokens"), 2e8));
    let team = |n: &str| {
        r["teams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["team"] == n)
            .unwrap()
            .clone()
    };
    assert!(close(f(&team("alpha"), "location_kgco2e"), 1.6872));
    assert!(close(f(&team("beta"), "location_kgco2e"), 2.0965290528));
    // By month (UTC): j2 runs 4 h in July and 4 h in August, so half of it goes to each; j3 is
    // clipped to July; j4 and j6 are in September.
    let months: Vec<&serde_json::Value> = r["monthly"].as_array().unwrap().iter().collect();
    let names: Vec<&str> = months
        .iter()
        .map(|m| m["month"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["2026-07", "2026-08", "2026-09"]);
    for (m, want) in months.iter().zip([
        [32.0, 16.0, 22.6, 1.6368],
        [4.0, 4.0, 5.2, 0.0936],
        [18.0, 9.4, 14.24, 2.0533290528],
    ]) {
        for (k, w) in [
            "gpu_hours",
            "it_energy_kwh",
            "facility_energy_kwh",
            "location_kgco2e",
        ]
        .iter()
        .zip(want)
        {
            assert!(close(f(m, k), w), "{} {k}: {}", m["month"], m[k]);
        }
    }
    assert_reconciles(&r);

    // The outside job is reported, and so is the default PUE.
    let codes = super::finding_codes(&r);
    assert!(codes.contains(&"jobs.outside-period"), "{codes:?}");
    assert!(codes.contains(&"sites.default-pue"), "{codes:?}");
    assert!(codes.contains(&"jobs.partly-outside-period"), "{codes:?}");
    // Every factor used is listed with its source.
    let factors: Vec<&str> = r["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    for want in [
        "grid DE",
        "grid a",
        "PUE b 2026-07",
        "PUE b 2026-08",
        "PUE (default)",
        "TDP X1",
        "TDP H100-SXM5-80GB",
        "embodied X1",
        "WUE a",
    ] {
        assert!(factors.contains(&want), "{want} not in {factors:?}");
    }
    // The tier mix: j2 metered (8 kWh IT) of 29.4.
    let tiers = r["tiers"].as_array().unwrap();
    let metered = tiers.iter().find(|x| x["tier"] == "metered").unwrap();
    assert!(close(f(metered, "share"), 8.0 / 29.4));
}

#[test]
fn restated_factors_replace_the_grid_table_and_are_named() {
    // Restate with DE at 400 g/kWh: j4's 2.24 kWh -> 0.896 kg (was 0.8533290528).
    let d = super::tmp_with(&[(
        "restated.toml",
        "name = \"corporate-2026\"\nversion = \"2026.2\"\n[[grid]]\nzone = \"DE\"\ng_per_kwh = 400\nyear = 2025\nsource = \"utility statement 2025\"\n[[grid]]\nzone = \"SE3\"\ng_per_kwh = 18\nyear = 2024\nsource = \"ENTSO-E\"\n",
    )]);
    let out = d.path().join("out");
    gl().args(["report", "--quiet", "--format", "json", "--config"])
        .arg(fixture("handcalc/greenledger.toml"))
        .arg("--factors")
        .arg(d.path().join("restated.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let r = read_json(&out.join("report.json"));
    let j4 = r["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_id"] == "j4")
        .unwrap()
        .clone();
    assert!(
        close(j4["location_kgco2e"].as_f64().unwrap(), 0.896),
        "{}",
        j4["location_kgco2e"]
    );
    assert_eq!(j4["factor_year"], 2025);
    assert_eq!(r["factor_set"]["name"], "corporate-2026");
    assert_eq!(r["factor_set"]["version"], "2026.2");
    let text = std::fs::read(d.path().join("restated.toml")).unwrap();
    use sha2::Digest;
    assert_eq!(
        r["factor_set"]["sha256"],
        format!("{:x}", sha2::Sha256::digest(&text))
    );
    let embedded = read_json(&fixture("handcalc/expected/report.json"));
    assert_ne!(embedded["factor_set"]["sha256"], r["factor_set"]["sha256"]);
    assert_eq!(embedded["factor_set"]["name"], "greenledger-embedded");
    // A zone the restated set lacks has no factor: an error finding, not a silent fallback.
    let d2 = super::tmp_with(&[("only-de.toml", "name = \"x\"\nversion = \"1\"\n[[grid]]\nzone = \"DE\"\ng_per_kwh = 400\nyear = 2025\nsource = \"s\"\n")]);
    let out2 = d2.path().join("out");
    gl().args(["report", "--quiet", "--format", "json", "--config"])
        .arg(fixture("handcalc/greenledger.toml"))
        .arg("--factors")
        .arg(d2.path().join("only-de.toml"))
        .arg("--out")
        .arg(&out2)
        .assert()
        .code(1);
    let r2 = read_json(&out2.join("report.json"));
    assert!(r2["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "factors.zone-without-factor"
            && f["message"].as_str().unwrap().contains("'SE3'")));
    let bad = super::tmp_with(&[(
        "bad.toml",
        "name = \"x\"\nversion = \"1\"\n[[grid]]\nzone = \"DE\"\n",
    )]);
    gl().args(["validate", "--config"])
        .arg(fixture("handcalc/greenledger.toml"))
        .arg("--factors")
        .arg(bad.path().join("bad.toml"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("bad.toml"));
}

/// A site whose per-period PUE covers July only: an August job takes the default PUE, which is
/// then listed among the factors and reported, like for a site without any PUE.
#[test]
fn time_outside_every_pue_period_uses_the_listed_default() {
    let cfg = "[report]\nperiod = \"2026-Q3\"\n[inputs]\njobs = [\"jobs.csv\"]\n[estimate]\ndefault_pue = 1.6\n[[site]]\nid = \"b\"\nzone = \"SE3\"\n[[site.pue]]\nperiod = \"2026-07\"\nvalue = 1.2\n";
    let jobs = "job_id,model,team,site,start,end,hardware,devices,energy_kwh\nx,m,t,b,2026-07-31T12:00:00Z,2026-08-01T12:00:00Z,H100,1,10\n";
    let d = super::tmp_with(&[("greenledger.toml", cfg), ("jobs.csv", jobs)]);
    let r = super::report_json(d.path(), 0);
    // Half in July (1.2), half in August (default 1.6): 1.4.
    assert!(close(r["jobs"][0]["pue"].as_f64().unwrap(), 1.4));
    assert!(r["factors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "PUE (default)" && f["value"] == 1.6));
    assert!(r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "sites.default-pue"
            && f["message"].as_str().unwrap().contains("site 'b'")));
}
