//! Quarter over quarter: deltas per team against an earlier greenledger report.json. Pure: the
//! caller reads the file.

use crate::ledger::Figure;
use crate::score::Practice;
use serde::Serialize;
use std::collections::BTreeMap;

/// One team's change since the previous report (current minus previous).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamDelta {
    pub team: String,
    /// Whether the team is in the previous report at all.
    pub in_previous: bool,
    pub location_kgco2e: Option<f64>,
    /// Relative change of location-based emissions.
    pub location_kgco2e_change: Option<f64>,
    pub market_kgco2e: Option<f64>,
    pub kgco2e_per_gpu_hour: Option<f64>,
    /// practice (and `overall`) -> score change, null when either score is null.
    pub scores: BTreeMap<String, Option<f64>>,
}

/// The previous report as it is compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Previous {
    pub file: String,
    pub period: String,
    pub sha256: String,
    pub teams: Vec<TeamDelta>,
    /// How practices whose meaning changed are compared (the delta table prints these).
    pub notes: Vec<String>,
}

/// A report from before `hardware_utilisation` existed: its `efficient_hardware` was mean
/// power / TDP, which is today's `hardware_utilisation`.
fn old_hardware_key(previous: &serde_json::Value) -> bool {
    let scores: Vec<&serde_json::Value> = previous
        .get("teams")
        .and_then(|t| t.as_array())
        .map(|a| a.iter().filter_map(|t| t.get("scores")).collect())
        .unwrap_or_default();
    !scores.is_empty()
        && scores
            .iter()
            .all(|s| s.get("hardware_utilisation").is_none())
        && scores.iter().any(|s| s.get("efficient_hardware").is_some())
}

/// The notes of [`Previous`] for this previous report.
pub fn notes(previous: &serde_json::Value) -> Vec<String> {
    if old_hardware_key(previous) {
        vec!["the previous report's efficient_hardware measured mean power / TDP: it is compared with hardware_utilisation; efficient_hardware (TFLOPS per watt) has no earlier value".to_string()]
    } else {
        Vec::new()
    }
}

fn num(v: &serde_json::Value, k: &str) -> Option<f64> {
    v.get(k).and_then(|x| x.as_f64())
}

/// A team's figures now, as they are compared with the previous report.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamNow<'a> {
    pub team: &'a str,
    pub location_kgco2e: f64,
    pub market_kgco2e: Option<f64>,
    pub kgco2e_per_gpu_hour: Option<f64>,
    /// practice -> 0..100 or null.
    pub scores: &'a BTreeMap<Practice, Option<f64>>,
    pub overall: Option<f64>,
}

/// Deltas of `teams` against the `teams` array of a previous report.
pub fn deltas(teams: &[TeamNow], previous: &serde_json::Value) -> Vec<TeamDelta> {
    let prev: BTreeMap<&str, &serde_json::Value> = previous
        .get("teams")
        .and_then(|t| t.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|t| t.get("team").and_then(|n| n.as_str()).map(|n| (n, t)))
                .collect()
        })
        .unwrap_or_default();
    let old = old_hardware_key(previous);
    teams
        .iter()
        .map(|t| {
            let p = prev.get(t.team).copied();
            let d = |now: Option<f64>, k: &str| Some(now? - num(p?, k)?);
            let mut scores = BTreeMap::new();
            for (practice, now) in t.scores {
                // What the previous report called this practice's metric.
                let key = match (*practice, old) {
                    (Practice::HardwareUtilisation, true) => {
                        Some(Practice::EfficientHardware.name())
                    }
                    (Practice::EfficientHardware, true) => None,
                    (k, _) => Some(k.name()),
                };
                let before = p
                    .and_then(|p| p.get("scores"))
                    .and_then(|s| s.get(key?))
                    .and_then(|x| x.as_f64());
                scores.insert(practice.to_string(), now.zip(before).map(|(a, b)| a - b));
            }
            let before_overall = p
                .and_then(|p| p.get("scores"))
                .and_then(|s| s.get("overall"))
                .and_then(|x| x.as_f64());
            scores.insert(
                "overall".to_string(),
                t.overall.zip(before_overall).map(|(a, b)| a - b),
            );
            let loc_before = p.and_then(|p| num(p, Figure::LocationKgco2e.name()));
            TeamDelta {
                team: t.team.to_string(),
                in_previous: p.is_some(),
                location_kgco2e: d(Some(t.location_kgco2e), Figure::LocationKgco2e.name()),
                location_kgco2e_change: loc_before
                    .filter(|b| *b > 0.0)
                    .map(|b| t.location_kgco2e / b - 1.0),
                market_kgco2e: d(t.market_kgco2e, Figure::MarketKgco2e.name()),
                kgco2e_per_gpu_hour: d(t.kgco2e_per_gpu_hour, Figure::KgPerGpuHour.name()),
                scores,
            }
        })
        .collect()
}
