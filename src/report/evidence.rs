//! The evidence behind each job's figures, step by step: its sources (file and line with the
//! input's sha256, or the live query), how its energy was obtained, the PUE, the grid factor and
//! the market-based cover that make its emissions, and its bounds, each step with the numbers
//! it used and the factors it names. Built from report.json alone (the view-model), so that the
//! HTML, the PDF and `greenledger explain` tell the same trail, and an older report.json gets it
//! too.

use serde::Serialize;
use serde_json::Value;

/// One job's trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trail {
    pub job_id: String,
    pub sources: Vec<Source>,
    pub steps: Vec<Step>,
}

/// An input the job's figures come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    /// What it gave (`the job's row`, `power samples`).
    pub what: String,
    pub file: Option<String>,
    pub line: Option<u64>,
    /// The input's sha256, from the report's inputs.
    pub sha256: Option<String>,
}

/// One step: what it did with which numbers, its result, and the factors (by their name in the
/// report's factor table) it used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub step: &'static str,
    pub says: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    pub unit: &'static str,
    pub factors: Vec<String>,
}

/// A number with six significant digits, trailing zeros dropped (`3.32976`, `0.0647305`).
pub fn sig(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (5 - x.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn num(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(Value::as_f64)
}

fn text<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn list<'a>(r: &'a Value, k: &str) -> impl Iterator<Item = &'a Value> {
    r.get(k).and_then(Value::as_array).into_iter().flatten()
}

/// A fragment identifier for any name: letters, digits, `-`, `_` and `.` kept, every other byte
/// written `_` and its two hex digits (so that distinct names give distinct anchors).
pub fn anchor(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02x}"));
        }
    }
    out
}

/// Every job's trail, in the report's job order.
pub fn trails(report: &Value) -> Vec<Trail> {
    list(report, "jobs").map(|j| trail(report, j)).collect()
}

/// The names of the report's factors that `keep` selects.
fn factors_named(report: &Value, keep: &dyn Fn(&str) -> bool) -> Vec<String> {
    list(report, "factors")
        .filter_map(|f| text(f, "name"))
        .filter(|n| keep(n))
        .map(String::from)
        .collect()
}

/// One job's trail from its report.json row and the report's inputs, factors and instruments.
pub fn trail(report: &Value, j: &Value) -> Trail {
    let site = text(j, "site");
    let zone = text(j, "zone").unwrap_or("");
    let mut steps = vec![energy(report, j)];
    let it = num(j, "it_energy_kwh").unwrap_or(0.0);
    let pue = num(j, "pue").unwrap_or(1.0);
    let facility = num(j, "facility_energy_kwh").unwrap_or(0.0);
    let pue_factors = match site {
        Some(s) => factors_named(report, &|n| {
            n == format!("PUE {s}") || n.starts_with(&format!("PUE {s} "))
        }),
        None => Vec::new(),
    };
    let pue_factors = if pue_factors.is_empty() {
        factors_named(report, &|n| n == "PUE (default)")
    } else {
        // A PUE per period: the one whose value the job took, when one is (else all of them,
        // weighted by time).
        let same: Vec<String> = pue_factors
            .iter()
            .filter(|n| factor_value(report, n).is_some_and(|v| (v - pue).abs() <= 1e-12))
            .cloned()
            .collect();
        if same.is_empty() {
            pue_factors
        } else {
            same
        }
    };
    let weighted = if pue_factors.len() > 1 {
        ", weighted by time over the periods the job spans"
    } else {
        ""
    };
    steps.push(Step {
        step: "facility",
        says: format!(
            "{} kWh IT × PUE {} ({}{weighted})",
            sig(it),
            sig(pue),
            site.map_or("no site: the default PUE".to_string(), |s| format!(
                "site {s}"
            ))
        ),
        value: Some(facility),
        unit: "kWh",
        factors: pue_factors,
    });
    let intensity = num(j, "intensity_g_per_kwh").unwrap_or(0.0);
    let location = num(j, "location_kgco2e").unwrap_or(0.0);
    let grid = factors_named(report, &|n| {
        site.is_some_and(|s| n == format!("grid {s}"))
            || (!zone.is_empty()
                && (n == format!("grid {zone}") || n.starts_with(&format!("grid {zone} "))))
    });
    let hourly = if grid.iter().any(|n| n.ends_with(" hourly")) {
        ", the hourly series weighted by the job's hours (hours without data at the annual factor)"
    } else {
        ""
    };
    steps.push(Step {
        step: "location",
        says: format!(
            "{} kWh × {} g/kWh (zone {}{}{hourly}) ÷ 1000",
            sig(facility),
            sig(intensity),
            if zone.is_empty() { "unknown" } else { zone },
            num(j, "factor_year").map_or(String::new(), |y| format!(", factor of {y}"))
        ),
        value: Some(location),
        unit: "kgCO2e",
        factors: grid,
    });
    steps.push(market(report, j, facility));
    if let (Some(lo), Some(hi)) = (
        num(j, "location_kgco2e_low"),
        num(j, "location_kgco2e_high"),
    ) {
        steps.push(Step {
            step: "bounds",
            says: format!(
                "location-based between {} and {} kgCO2e (the uncertainties of its energy tier, PUE and factor kind, in quadrature)",
                sig(lo),
                sig(hi)
            ),
            value: None,
            unit: "kgCO2e",
            factors: Vec::new(),
        });
    }
    if let Some(e) = num(j, "embodied_kgco2e") {
        let hw = text(j, "hardware").unwrap_or("");
        steps.push(Step {
            step: "embodied",
            says: format!(
                "{} GPU-hours × the {hw}'s embodied emissions per device-hour",
                sig(num(j, "gpu_hours").unwrap_or(0.0))
            ),
            value: Some(e),
            unit: "kgCO2e",
            factors: factors_named(report, &|n| {
                ["embodied ", "lifetime ", "use factor "]
                    .iter()
                    .any(|p| n == format!("{p}{hw}"))
            }),
        });
    }
    Trail {
        job_id: text(j, "job_id").unwrap_or("").to_string(),
        sources: sources(report, j),
        steps,
    }
}

/// The value of the report's factor `name`.
fn factor_value(report: &Value, name: &str) -> Option<f64> {
    list(report, "factors")
        .find(|f| text(f, "name") == Some(name))
        .and_then(|f| num(f, "value"))
}

/// The job's row and, for a job whose energy was integrated from power samples, the telemetry
/// inputs read for the period (which of them held this job's nodes is not recorded); each with
/// its sha256 from the report's inputs.
fn sources(report: &Value, j: &Value) -> Vec<Source> {
    let sha_of = |file: &str| {
        list(report, "inputs")
            .find(|i| text(i, "path") == Some(file))
            .and_then(|i| text(i, "sha256"))
            .map(String::from)
    };
    let mut out = Vec::new();
    let file = text(j, "file").map(String::from);
    out.push(Source {
        what: "the job's row".into(),
        sha256: file.as_deref().and_then(sha_of),
        line: j.get("line").and_then(Value::as_u64),
        file,
    });
    if text(j, "energy_source") == Some("sampled") {
        for i in list(report, "inputs").filter(|i| {
            let k = text(i, "kind").unwrap_or("");
            k.starts_with("telemetry") || k == "prometheus" || k == "pushdown"
        }) {
            out.push(Source {
                what: format!(
                    "power samples: {} input read for the period ({} rows)",
                    text(i, "kind").unwrap_or(""),
                    i.get("rows").and_then(Value::as_u64).unwrap_or(0)
                ),
                file: text(i, "path").map(String::from),
                line: None,
                sha256: text(i, "sha256").map(String::from),
            });
        }
    }
    out
}

/// How the job's IT energy in the period was obtained, by tier.
fn energy(report: &Value, j: &Value) -> Step {
    let it = num(j, "it_energy_kwh").unwrap_or(0.0);
    let detail = text(j, "energy_detail").unwrap_or("");
    let boundary = text(j, "boundary").unwrap_or("unknown");
    let tier = text(j, "energy_source").unwrap_or("estimated");
    let mut says = match tier {
        "metered" => format!("metered: {detail}; {boundary} boundary"),
        "sampled" => {
            let mut s = format!("sampled: {detail}; {boundary} boundary");
            if let Some(k) = num(j, "sampled_kwh") {
                s.push_str(&format!("; {} kWh from samples", sig(k)));
            }
            if let Some(k) = num(j, "imputed_kwh").filter(|k| *k > 0.0) {
                s.push_str(&format!(", {} kWh imputed over gaps", sig(k)));
            }
            if let Some(c) = num(j, "coverage") {
                s.push_str(&format!(", samples cover {:.1} % of its time", c * 100.0));
            }
            s
        }
        _ => {
            let power = match (num(j, "mean_power_w"), num(j, "tdp_w")) {
                (Some(p), Some(t)) if (p - t * report_utilisation(report)).abs() > 1e-9 => {
                    format!("{} W mean power per device (measured or given)", sig(p))
                }
                (Some(p), _) => format!("{} W per device (TDP × utilisation)", sig(p)),
                _ => String::new(),
            };
            if power.is_empty() {
                format!("estimated: {detail}; {boundary} boundary")
            } else {
                format!("estimated: {detail} ({power}); {boundary} boundary")
            }
        }
    };
    let f = num(j, "fraction_in_period").unwrap_or(1.0);
    if f < 1.0 {
        says.push_str(&format!(
            "; {:.1} % of the job falls in the period",
            f * 100.0
        ));
    }
    if let (Some(a), Some(h)) = (num(j, "accelerator_kwh"), num(j, "host_kwh")) {
        says.push_str(&format!(
            "; accelerators {} kWh, host {} kWh",
            sig(a),
            sig(h)
        ));
    }
    let hw = text(j, "hardware").unwrap_or("");
    Step {
        step: "energy",
        says,
        value: Some(it),
        unit: "kWh IT",
        factors: if tier == "estimated" && j.get("cpu").is_some() {
            // A CPU-only job: power per core (its model's, or the default) and memory power.
            factors_named(report, &|n| {
                n == "CPU power per core"
                    || n == "memory power"
                    || n == format!("TDP per core {hw}")
            })
        } else if tier == "estimated" {
            factors_named(report, &|n| n == format!("TDP {hw}"))
        } else {
            Vec::new()
        },
    }
}

fn report_utilisation(report: &Value) -> f64 {
    report
        .pointer("/methodology/utilisation")
        .and_then(Value::as_f64)
        .unwrap_or(1.0)
}

/// The market-based figure: the site's instruments (their share of its consumption covered)
/// and the residual mix, else the grid factor, for the rest.
fn market(report: &Value, j: &Value, facility: f64) -> Step {
    let m = num(j, "market_kgco2e").unwrap_or(0.0);
    let site = text(j, "site");
    let instruments: Vec<String> = list(report, "instruments")
        .filter(|i| site.is_some() && text(i, "site") == site)
        .map(|i| {
            format!(
                "{} {} ({}, {:.1} % of the site's consumption covered)",
                text(i, "kind").unwrap_or(""),
                text(i, "period").unwrap_or(""),
                text(i, "reference").unwrap_or(""),
                num(i, "share_covered").unwrap_or(0.0) * 100.0
            )
        })
        .collect();
    let effective = if facility > 0.0 {
        m / facility * 1000.0
    } else {
        0.0
    };
    let mut says = format!(
        "{} kWh at {} g/kWh in effect",
        sig(facility),
        sig(effective)
    );
    if instruments.is_empty() {
        says.push_str(": no contractual instrument; the site's residual mix, else the grid factor");
    } else {
        says.push_str(&format!(
            ": instruments allocated pro rata over the site's consumption in their period: {}; the rest at the site's residual mix, else the grid factor",
            instruments.join("; ")
        ));
    }
    let factors = match site {
        Some(s) => factors_named(report, &|n| {
            n == format!("residual mix {s}") || n.starts_with(&format!("instrument {s} "))
        }),
        None => Vec::new(),
    };
    Step {
        step: "market",
        says,
        value: Some(m),
        unit: "kgCO2e",
        factors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_distinct_and_safe() {
        assert_eq!(anchor("aur-0017"), "aur-0017");
        assert_eq!(anchor("a b/c"), "a_20b_2fc");
        assert_ne!(anchor("a_b"), anchor("a b"));
        assert_eq!(anchor("é"), "_c3_a9");
    }

    #[test]
    fn six_significant_digits() {
        assert_eq!(sig(3.32975839), "3.32976");
        assert_eq!(sig(0.06473050310160001), "0.0647305");
        assert_eq!(sig(7357.866666666667), "7357.87");
        assert_eq!(sig(1.08), "1.08");
        assert_eq!(sig(1200000.0), "1200000");
        assert_eq!(sig(0.0), "0");
    }

    /// A hand-made report: one estimated job at a site with a PUE per month and a PPA.
    #[test]
    fn a_jobs_trail_names_its_numbers_and_factors() {
        let r = serde_json::json!({
            "methodology": {"utilisation": 0.8},
            "inputs": [{"path": "jobs.csv", "kind": "jobs", "sha256": "ab12"}],
            "factors": [
                {"name": "PUE s 2026-07", "value": 1.2}, {"name": "PUE t", "value": 1.5},
                {"name": "grid FR", "value": 50.0}, {"name": "TDP A100", "value": 400.0},
                {"name": "residual mix s", "value": 60.0},
                {"name": "instrument s PPA 2026-Q3", "value": 0.0}
            ],
            "instruments": [{"site": "s", "kind": "PPA", "period": "2026-Q3", "reference": "wind", "share_covered": 0.25}],
            "jobs": [{
                "job_id": "a", "site": "s", "zone": "FR", "hardware": "A100",
                "energy_source": "estimated", "energy_detail": "1000 device-hours x 320 W",
                "boundary": "accelerator", "fraction_in_period": 0.5,
                "gpu_hours": 500.0, "it_energy_kwh": 160.0, "pue": 1.2,
                "facility_energy_kwh": 192.0, "intensity_g_per_kwh": 50.0, "factor_year": 2023,
                "location_kgco2e": 9.6, "market_kgco2e": 8.64, "mean_power_w": 320.0,
                "tdp_w": 400.0, "location_kgco2e_low": 7.0, "location_kgco2e_high": 12.0,
                "file": "jobs.csv", "line": 2
            }]
        });
        let t = &trails(&r)[0];
        assert_eq!(t.job_id, "a");
        assert_eq!(t.sources[0].sha256.as_deref(), Some("ab12"));
        assert_eq!(t.sources[0].line, Some(2));
        let step = |k: &str| t.steps.iter().find(|s| s.step == k).unwrap();
        let e = step("energy");
        assert_eq!(e.value, Some(160.0));
        assert!(
            e.says
                .contains("1000 device-hours x 320 W (320 W per device (TDP × utilisation))"),
            "{}",
            e.says
        );
        assert!(e.says.contains("50.0 % of the job falls in the period"));
        assert_eq!(e.factors, vec!["TDP A100"]);
        let f = step("facility");
        assert_eq!(f.says, "160 kWh IT × PUE 1.2 (site s)");
        assert_eq!(f.factors, vec!["PUE s 2026-07"]);
        let l = step("location");
        assert_eq!(
            l.says,
            "192 kWh × 50 g/kWh (zone FR, factor of 2023) ÷ 1000"
        );
        assert_eq!(
            (l.value, l.factors.clone()),
            (Some(9.6), vec!["grid FR".to_string()])
        );
        let m = step("market");
        // 8.64 kg over 192 kWh = 45 g/kWh in effect (a quarter at 0, the rest at 60).
        assert!(
            m.says
                .starts_with("192 kWh at 45 g/kWh in effect: instruments"),
            "{}",
            m.says
        );
        assert!(m
            .says
            .contains("PPA 2026-Q3 (wind, 25.0 % of the site's consumption covered)"));
        assert_eq!(
            m.factors,
            vec!["residual mix s", "instrument s PPA 2026-Q3"]
        );
        assert!(step("bounds").says.contains("between 7 and 12"));
    }
}
