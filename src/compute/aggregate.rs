//! Sums per team, per model, per tier and in total, with polars group-bys.

use super::emissions::{c, f64s, pe, Col, JobFrame};
use crate::error::Result;
use crate::ledger::{ratio, Amounts, Figure, GroupRow, Tier, TierShare};
use polars::prelude::*;

/// The aggregates of a job frame.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Aggregates {
    pub totals: Amounts,
    pub teams: Vec<GroupRow>,
    /// Each team's CPU-only jobs (teams without any are absent), sorted by team.
    pub cpu_teams: Vec<GroupRow>,
    pub models: Vec<GroupRow>,
    pub tiers: Vec<TierShare>,
}

/// The summed figures' column names, with the count of known values beside each.
fn known_count(f: Figure) -> String {
    format!("{}__n", f.name())
}

/// The job count of a group.
const JOBS: &str = "jobs";

/// Emissions of the jobs that give tokens, for an intensity per token that is not diluted.
const LOCATION_WITH_TOKENS: &str = "location_with_tokens";

fn sum_exprs() -> Vec<Expr> {
    let mut e = vec![len().cast(DataType::Float64).alias(JOBS)];
    for &f in Figure::ALL.iter().filter(|f| f.summed()) {
        e.push(c(f).sum().alias(f.name()));
        // Known-value counts, so that a sum over only unknowns stays unknown (null), not zero.
        e.push(
            c(f).is_not_null()
                .cast(DataType::Float64)
                .sum()
                .alias(known_count(f)),
        );
    }
    e.push(
        c(Figure::LocationKgco2e)
            .filter(c(Figure::Tokens).is_not_null())
            .sum()
            .alias(LOCATION_WITH_TOKENS),
    );
    e
}

fn amounts_at(df: &DataFrame, i: usize) -> Result<Amounts> {
    let get = |c: &str| -> Result<Option<f64>> { Ok(f64s(df, c)?[i]) };
    let mut sums = Vec::new();
    for &f in Figure::ALL.iter().filter(|f| f.summed()) {
        let n = get(&known_count(f))?.unwrap_or(0.0);
        sums.push((f, if n > 0.0 { get(f.name())? } else { None }));
    }
    let sum = |f: Figure| sums.iter().find(|(g, _)| *g == f).and_then(|(_, v)| *v);
    Ok(Amounts::assemble(
        get(JOBS)?.unwrap_or(0.0) as u64,
        sum,
        get(LOCATION_WITH_TOKENS)?.unwrap_or(0.0),
    ))
}

fn strings(df: &DataFrame, k: Col) -> Result<Vec<String>> {
    Ok(df
        .column(k.name())
        .map_err(pe)?
        .str()
        .map_err(pe)?
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

fn grouped(df: &DataFrame, by: &[Col]) -> Result<DataFrame> {
    grouped_where(df, by, lit(true))
}

/// Sums of the rows `keep` selects, grouped by `by` and sorted by it.
fn grouped_where(df: &DataFrame, by: &[Col], keep: Expr) -> Result<DataFrame> {
    let keys: Vec<Expr> = by.iter().map(|k| c(*k)).collect();
    let names: Vec<PlSmallStr> = by
        .iter()
        .map(|k| PlSmallStr::from_static(k.name()))
        .collect();
    df.clone()
        .lazy()
        .filter(keep)
        .group_by(keys)
        .agg(sum_exprs())
        .sort(names, SortMultipleOptions::default())
        .collect()
        .map_err(pe)
}

/// One row per team of a frame grouped by team.
fn by_team(t: &DataFrame) -> Result<Vec<GroupRow>> {
    let mut teams = Vec::new();
    for (i, k) in strings(t, Col::Team)?.into_iter().enumerate() {
        teams.push(GroupRow {
            key: k,
            team: None,
            amounts: amounts_at(t, i)?,
        });
    }
    Ok(teams)
}

/// Totals, teams (sorted by name), models (sorted by name) and the tier mix.
pub(crate) fn aggregate(frame: &JobFrame) -> Result<Aggregates> {
    let df = frame.frame();
    let totals_df = df
        .clone()
        .lazy()
        .select(sum_exprs())
        .collect()
        .map_err(pe)?;
    let totals = amounts_at(&totals_df, 0)?;

    let teams = by_team(&grouped(df, &[Col::Team])?)?;
    let cpu_teams = by_team(&grouped_where(
        df,
        &[Col::Team],
        c(Col::CpuOnly).gt(lit(0.0)),
    )?)?;

    // A model belongs to the team with the most of its jobs (ties: the first by name).
    let mt = grouped(df, &[Col::Model, Col::Team])?;
    let (mt_models, mt_teams) = (strings(&mt, Col::Model)?, strings(&mt, Col::Team)?);
    let mt_jobs = f64s(&mt, JOBS)?;
    let m = grouped(df, &[Col::Model])?;
    let mut models = Vec::new();
    for (i, k) in strings(&m, Col::Model)?.into_iter().enumerate() {
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

    let tr = grouped(df, &[Col::Tier])?;
    let mut tiers = Vec::new();
    for (i, k) in strings(&tr, Col::Tier)?.into_iter().enumerate() {
        let a = amounts_at(&tr, i)?;
        let tier = [Tier::Metered, Tier::Sampled, Tier::Estimated]
            .into_iter()
            .find(|t| t.as_str() == k)
            .unwrap_or(Tier::Estimated);
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
        cpu_teams,
        models,
        tiers,
    })
}
