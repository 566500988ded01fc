//! Sums per team, per model, per tier and in total, with polars group-bys.

use super::emissions::{f64s, pe, ratio};
use crate::error::Result;
use crate::ledger::{Amounts, GroupRow, Tier, TierShare};
use polars::prelude::*;

/// The aggregates of a job frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregates {
    pub totals: Amounts,
    pub teams: Vec<GroupRow>,
    pub models: Vec<GroupRow>,
    pub tiers: Vec<TierShare>,
}

const SUMMED: [&str; 14] = [
    "overhead_kwh",
    "overhead_kgco2e",
    "gpu_hours",
    "it_energy_kwh",
    "facility_energy_kwh",
    "location_kgco2e",
    "market_kgco2e",
    "location_kgco2e_low",
    "location_kgco2e_high",
    "market_kgco2e_low",
    "market_kgco2e_high",
    "embodied_kgco2e",
    "water_l",
    "tokens",
];

fn sum_exprs() -> Vec<Expr> {
    let mut e = vec![len().cast(DataType::Float64).alias("jobs")];
    for c in SUMMED {
        e.push(col(c).sum().alias(c));
        // Known-value counts, so that a sum over only unknowns stays unknown (null), not zero.
        e.push(
            col(c)
                .is_not_null()
                .cast(DataType::Float64)
                .sum()
                .alias(format!("{c}__n")),
        );
    }
    // Emissions of the jobs that give tokens, for an intensity per token that is not diluted.
    e.push(
        col("location_kgco2e")
            .filter(col("tokens").is_not_null())
            .sum()
            .alias("location_with_tokens"),
    );
    e
}

fn amounts_at(df: &DataFrame, i: usize) -> Result<Amounts> {
    let get = |c: &str| -> Result<Option<f64>> { Ok(f64s(df, c)?[i]) };
    let known = |c: &str| -> Result<Option<f64>> {
        let n = get(&format!("{c}__n"))?.unwrap_or(0.0);
        Ok(if n > 0.0 { get(c)? } else { None })
    };
    let location = get("location_kgco2e")?.unwrap_or(0.0);
    let gpu_hours = get("gpu_hours")?.unwrap_or(0.0);
    Ok(Amounts {
        jobs: get("jobs")?.unwrap_or(0.0) as u64,
        gpu_hours,
        it_energy_kwh: get("it_energy_kwh")?.unwrap_or(0.0),
        facility_energy_kwh: get("facility_energy_kwh")?.unwrap_or(0.0),
        location_kgco2e: location,
        market_kgco2e: known("market_kgco2e")?,
        embodied_kgco2e: known("embodied_kgco2e")?,
        water_l: known("water_l")?,
        kgco2e_per_gpu_hour: ratio(location, gpu_hours),
        location_kgco2e_low: known("location_kgco2e_low")?,
        location_kgco2e_high: known("location_kgco2e_high")?,
        market_kgco2e_low: known("market_kgco2e_low")?,
        market_kgco2e_high: known("market_kgco2e_high")?,
        tokens: known("tokens")?,
        overhead_kwh: known("overhead_kwh")?,
        overhead_kgco2e: known("overhead_kgco2e")?,
        kgco2e_per_million_tokens: known("tokens")?.and_then(|t| {
            ratio(
                get("location_with_tokens").ok().flatten().unwrap_or(0.0),
                t / 1e6,
            )
        }),
    })
}

fn strings(df: &DataFrame, c: &str) -> Result<Vec<String>> {
    Ok(df
        .column(c)
        .map_err(pe)?
        .str()
        .map_err(pe)?
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

fn grouped(df: &DataFrame, by: &[&str]) -> Result<DataFrame> {
    let keys: Vec<Expr> = by.iter().map(|c| col(*c)).collect();
    let names: Vec<PlSmallStr> = by.iter().map(|c| PlSmallStr::from(*c)).collect();
    df.clone()
        .lazy()
        .group_by(keys)
        .agg(sum_exprs())
        .sort(names, SortMultipleOptions::default())
        .collect()
        .map_err(pe)
}

/// Totals, teams (sorted by name), models (sorted by name) and the tier mix.
pub fn aggregate(df: &DataFrame) -> Result<Aggregates> {
    let totals_df = df
        .clone()
        .lazy()
        .select(sum_exprs())
        .collect()
        .map_err(pe)?;
    let totals = amounts_at(&totals_df, 0)?;

    let t = grouped(df, &["team"])?;
    let team_names = strings(&t, "team")?;
    let mut teams = Vec::new();
    for (i, k) in team_names.into_iter().enumerate() {
        teams.push(GroupRow {
            key: k,
            team: None,
            amounts: amounts_at(&t, i)?,
        });
    }

    // A model belongs to the team with the most of its jobs (ties: the first by name).
    let mt = grouped(df, &["model", "team"])?;
    let (mt_models, mt_teams) = (strings(&mt, "model")?, strings(&mt, "team")?);
    let mt_jobs = f64s(&mt, "jobs")?;
    let m = grouped(df, &["model"])?;
    let mut models = Vec::new();
    for (i, k) in strings(&m, "model")?.into_iter().enumerate() {
        let owner = (0..mt_models.len())
            .filter(|&j| mt_models[j] == k)
            .max_by(|&a, &b| {
                mt_jobs[a]
                    .partial_cmp(&mt_jobs[b])
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(mt_teams[b].cmp(&mt_teams[a]))
            })
            .map(|j| mt_teams[j].clone());
        models.push(GroupRow {
            key: k,
            team: owner,
            amounts: amounts_at(&m, i)?,
        });
    }

    let tr = grouped(df, &["tier"])?;
    let mut tiers = Vec::new();
    for (i, k) in strings(&tr, "tier")?.into_iter().enumerate() {
        let a = amounts_at(&tr, i)?;
        let tier = match k.as_str() {
            "metered" => Tier::Metered,
            "sampled" => Tier::Sampled,
            _ => Tier::Estimated,
        };
        tiers.push(TierShare {
            tier,
            jobs: a.jobs,
            it_energy_kwh: a.it_energy_kwh,
            share: ratio(a.it_energy_kwh, totals.it_energy_kwh).unwrap_or(0.0),
        });
    }
    tiers.sort_by_key(|t| t.tier);
    Ok(Aggregates {
        totals,
        teams,
        models,
        tiers,
    })
}
