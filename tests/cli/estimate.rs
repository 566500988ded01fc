//! `greenledger estimate`.

use super::gl;

#[test]
fn issue_example_gives_400_440_169_4() {
    let out = gl()
        .args([
            "estimate",
            "--gpu-hours",
            "1000",
            "--power-w",
            "400",
            "--pue",
            "1.1",
            "--intensity",
            "385",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!((v["gpu_hours"].as_f64().unwrap() - 1000.0).abs() < 1e-9);
    assert!((v["it_energy_kwh"].as_f64().unwrap() - 400.0).abs() < 1e-9);
    assert!((v["facility_energy_kwh"].as_f64().unwrap() - 440.0).abs() < 1e-9);
    assert!((v["location_kgco2e"].as_f64().unwrap() - 169.4).abs() < 1e-9);
}

#[test]
fn hardware_and_zone_come_from_the_tables() {
    // 10 h of an H100 (700 W) in France (56.03859 g/kWh), PUE 1.2: 7 kWh, 8.4 kWh, 0.470724156 kg.
    let out = gl()
        .args([
            "estimate",
            "--gpu-hours",
            "10",
            "--hardware",
            "H100",
            "--pue",
            "1.2",
            "--zone",
            "FR",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!((v["it_energy_kwh"].as_f64().unwrap() - 7.0).abs() < 1e-12);
    assert!((v["location_kgco2e"].as_f64().unwrap() - 8.4 * 56.03859 / 1000.0).abs() < 1e-12);
}

#[test]
fn missing_or_bad_arguments_exit_2() {
    gl().args(["estimate", "--gpu-hours", "10", "--zone", "FR"])
        .assert()
        .code(2);
    gl().args([
        "estimate",
        "--gpu-hours",
        "10",
        "--power-w",
        "300",
        "--zone",
        "Atlantis",
    ])
    .assert()
    .code(2)
    .stderr(predicates::str::contains("no grid factor for 'Atlantis'"));
    gl().args([
        "estimate",
        "--gpu-hours",
        "10",
        "--hardware",
        "Abacus",
        "--intensity",
        "100",
    ])
    .assert()
    .code(2)
    .stderr(predicates::str::contains("not in the hardware table"));
    gl().args([
        "estimate",
        "--gpu-hours",
        "10",
        "--power-w",
        "300",
        "--intensity",
        "100",
        "--pue",
        "0.5",
    ])
    .assert()
    .code(2);
}
