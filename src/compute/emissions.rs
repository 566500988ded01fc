//! From resolved jobs to per-job energy and emissions, as polars column expressions.
//!
//! facility = IT x PUE; location = facility x intensity / 1000; embodied = device-hours x
//! embodied / (lifetime x 8760 x use factor); water = IT x WUE. Every quantity is prorated by the
//! share of the job inside the period.

use super::resolve::Resolved;
use crate::error::{Error, Result};
use crate::ledger::{Amounts, JobRow};
use crate::timeutil::fmt_utc;
use polars::prelude::*;

pub(crate) fn pe(e: PolarsError) -> Error {
    Error::new(format!("internal table error: {e}"))
}

/// One row per job with its inputs and computed quantities, in the order of `rows`.
pub fn job_frame(rows: &[Resolved]) -> Result<DataFrame> {
    let v = |f: &dyn Fn(&Resolved) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let o = |f: &dyn Fn(&Resolved) -> Option<f64>| rows.iter().map(f).collect::<Vec<Option<f64>>>();
    let s = |f: &dyn Fn(&Resolved) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let df = df!(
        "team" => s(&|r| r.job.team.clone()),
        "model" => s(&|r| r.job.model.clone()),
        "tier" => s(&|r| r.tier.as_str().to_string()),
        "fraction" => v(&|r| r.fraction),
        "energy_fraction" => v(&|r| r.energy_fraction),
        "device_hours_full" => v(&|r| r.device_hours_full),
        "it_kwh_full" => v(&|r| r.it_kwh_full),
        "accelerator_kwh_full" => o(&|r| r.accelerator_kwh_full),
        "host_kwh_full" => o(&|r| r.host_kwh_full),
        "pue" => v(&|r| r.pue),
        "intensity" => v(&|r| r.intensity_g_per_kwh),
        "embodied_rate" => o(&|r| r.embodied_per_device_hour),
        "wue" => o(&|r| r.wue_l_per_kwh),
        "tokens_full" => o(&|r| r.job.tokens),
    )
    .map_err(pe)?;
    df.lazy()
        .with_columns([
            (col("device_hours_full") * col("fraction")).alias("gpu_hours"),
            (col("it_kwh_full") * col("energy_fraction")).alias("it_energy_kwh"),
            (col("accelerator_kwh_full") * col("energy_fraction")).alias("accelerator_kwh"),
            (col("host_kwh_full") * col("energy_fraction")).alias("host_kwh"),
            (col("tokens_full") * col("fraction")).alias("tokens"),
        ])
        .with_columns([
            (col("it_energy_kwh") * col("pue")).alias("facility_energy_kwh"),
            (col("gpu_hours") * col("embodied_rate")).alias("embodied_kgco2e"),
            (col("it_energy_kwh") * col("wue")).alias("water_l"),
        ])
        .with_columns([
            (col("facility_energy_kwh") * col("intensity") / lit(1000.0)).alias("location_kgco2e"),
        ])
        .collect()
        .map_err(pe)
}

pub(crate) fn f64s(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    Ok(df
        .column(name)
        .map_err(pe)?
        .f64()
        .map_err(pe)?
        .iter()
        .collect())
}

/// Per-mille-safe ratio: `None` when the denominator is zero.
pub fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| num / den)
}

/// The job frame's computed columns, read once.
struct Columns {
    gpu: Vec<Option<f64>>,
    it: Vec<Option<f64>>,
    fac: Vec<Option<f64>>,
    loc: Vec<Option<f64>>,
    emb: Vec<Option<f64>>,
    water: Vec<Option<f64>>,
    tokens: Vec<Option<f64>>,
    market: Vec<Option<f64>>,
    accelerator: Vec<Option<f64>>,
    host: Vec<Option<f64>>,
    overhead_kwh: Vec<Option<f64>>,
    overhead_kg: Vec<Option<f64>>,
    /// Location low, high; market low, high.
    bounds: [Vec<Option<f64>>; 4],
}

impl Columns {
    /// Market-based emissions and bounds are added by compute::build; a bare job frame has
    /// none (they are then null).
    fn read(df: &DataFrame) -> Result<Columns> {
        let optional = |name: &str| -> Result<Vec<Option<f64>>> {
            if df.column(name).is_ok() {
                f64s(df, name)
            } else {
                Ok(vec![None; df.height()])
            }
        };
        Ok(Columns {
            gpu: f64s(df, "gpu_hours")?,
            it: f64s(df, "it_energy_kwh")?,
            fac: f64s(df, "facility_energy_kwh")?,
            loc: f64s(df, "location_kgco2e")?,
            emb: f64s(df, "embodied_kgco2e")?,
            water: f64s(df, "water_l")?,
            tokens: f64s(df, "tokens")?,
            market: optional("market_kgco2e")?,
            accelerator: f64s(df, "accelerator_kwh")?,
            host: f64s(df, "host_kwh")?,
            overhead_kwh: optional("overhead_kwh")?,
            overhead_kg: optional("overhead_kgco2e")?,
            bounds: [
                optional("location_kgco2e_low")?,
                optional("location_kgco2e_high")?,
                optional("market_kgco2e_low")?,
                optional("market_kgco2e_high")?,
            ],
        })
    }

    /// Row `i`'s amounts, with its intensities per GPU-hour and per million tokens.
    fn amounts(&self, i: usize) -> Amounts {
        let location = self.loc[i].unwrap_or(0.0);
        let gpu_hours = self.gpu[i].unwrap_or(0.0);
        let tokens = self.tokens[i];
        Amounts {
            jobs: 1,
            gpu_hours,
            it_energy_kwh: self.it[i].unwrap_or(0.0),
            facility_energy_kwh: self.fac[i].unwrap_or(0.0),
            location_kgco2e: location,
            market_kgco2e: self.market[i],
            embodied_kgco2e: self.emb[i],
            water_l: self.water[i],
            kgco2e_per_gpu_hour: ratio(location, gpu_hours),
            location_kgco2e_low: self.bounds[0][i],
            location_kgco2e_high: self.bounds[1][i],
            market_kgco2e_low: self.bounds[2][i],
            market_kgco2e_high: self.bounds[3][i],
            tokens,
            kgco2e_per_million_tokens: tokens.and_then(|t| ratio(location, t / 1e6)),
            overhead_kwh: self.overhead_kwh[i],
            overhead_kgco2e: self.overhead_kg[i],
        }
    }
}

/// Where a job's energy came from, as the ledger states it.
fn energy_detail(r: &Resolved) -> String {
    match (&r.job.metered, r.power_w) {
        (Some(m), _) => m.source.clone(),
        (None, _) if r.tier == super::Tier::Metered => {
            "energy counters (DCGM total energy)".to_string()
        }
        (None, _) if r.tier == super::Tier::Sampled && !r.telemetry_sources.is_empty() => {
            format!(
                "integrated from power samples ({})",
                r.telemetry_sources.join(", ")
            )
        }
        (None, _) if r.tier == super::Tier::Sampled => "integrated from power samples".to_string(),
        (None, Some(p)) => format!("{} device-hours x {p} W", r.device_hours_full),
        (None, None) => String::new(),
    }
}

/// The ledger's job rows, sorted by job_id.
pub fn job_rows(rows: &[Resolved], df: &DataFrame) -> Result<Vec<JobRow>> {
    let cols = Columns::read(df)?;
    let mut out: Vec<JobRow> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| job_row(r, cols.amounts(i), cols.accelerator[i], cols.host[i]))
        .collect();
    out.sort_by(|a, b| a.job_id.cmp(&b.job_id));
    Ok(out)
}

/// One job's row: its description, tier, factors and amounts.
fn job_row(
    r: &Resolved,
    amounts: Amounts,
    accelerator_kwh: Option<f64>,
    host_kwh: Option<f64>,
) -> JobRow {
    let j = &r.job;
    let location = amounts.location_kgco2e;
    JobRow {
        job_id: j.job_id.clone(),
        model: j.model.clone(),
        team: j.team.clone(),
        project: j.project.clone(),
        site: j.site.clone(),
        zone: r.zone.clone(),
        hardware: r
            .hardware_name
            .clone()
            .unwrap_or_else(|| j.hardware.clone()),
        devices: j.devices,
        start: fmt_utc(j.start),
        end: fmt_utc(j.end),
        training_type: j.training_type.as_str(),
        status: j.status.as_str(),
        base_model: j.base_model.clone(),
        teacher_model: j.teacher_model.clone(),
        precision: j.precision.clone(),
        sparsity: j.sparsity,
        parameters: j.parameters,
        tokens: j.tokens,
        published: j.published.clone(),
        energy_source: r.tier,
        energy_detail: energy_detail(r),
        boundary: r.boundary,
        accelerator_kwh,
        host_kwh,
        coverage: r.coverage,
        sampled_kwh: r.sampled_kwh,
        imputed_kwh: r.imputed_kwh,
        fraction_in_period: r.fraction,
        pue: r.pue,
        intensity_g_per_kwh: r.intensity_g_per_kwh,
        factor_year: r.factor_year,
        amounts,
        kgco2e_per_billion_parameters: j.parameters.and_then(|p| ratio(location, p / 1e9)),
        tdp_w: r.tdp_w,
        tflops: r.tflops,
        mean_power_w: r.measured_power_w,
        zone_period_avg_g_per_kwh: r.zone_period_avg,
        shift_best_g_per_kwh: r.shift_best,
        origin: j.derived.clone(),
        node_share: r.node_share,
        file: j.origin.file.clone(),
        line: j.origin.line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{Job, Origin, TrainingType};
    use crate::ledger::Tier;
    use chrono::{TimeZone, Utc};

    fn resolved(
        fraction: f64,
        it: f64,
        pue: f64,
        g: f64,
        emb: Option<f64>,
        wue: Option<f64>,
    ) -> Resolved {
        let t = Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap();
        Resolved {
            job: Job {
                zone: Some("FR".into()),
                hardware: "H100".into(),
                devices: 8.0,
                training_type: TrainingType::Pretraining,
                tokens: Some(2e9),
                ..Job::bare(
                    "j".into(),
                    "m".into(),
                    "t".into(),
                    (t, t + chrono::Duration::hours(10)),
                    Origin {
                        file: "jobs.csv".into(),
                        line: 2,
                    },
                )
            },
            tier: Tier::Estimated,
            fraction,
            energy_fraction: fraction,
            sampled_kwh: None,
            telemetry_sources: Vec::new(),
            node_share: None,
            imputed_kwh: None,
            coverage: None,
            device_hours_full: 80.0,
            it_kwh_full: it,
            boundary: crate::ledger::Boundary::Accelerator,
            accelerator_kwh_full: Some(it),
            host_kwh_full: None,
            pue,
            intensity_g_per_kwh: g,
            zone: "FR".into(),
            factor_year: Some(2023),
            embodied_per_device_hour: emb,
            wue_l_per_kwh: wue,
            hardware_name: Some("H100-SXM5-80GB".into()),
            power_w: Some(700.0),
            hourly: false,
            zone_period_avg: None,
            shift_best: None,
            tdp_w: Some(700.0),
            tflops: Some(989.0),
            measured_power_w: None,
            months: vec![("2026-07".into(), 1.0)],
        }
    }

    #[test]
    fn formulas_match_hand_computation() {
        // 8 x H100 for 10 h at 700 W = 56 kWh IT; PUE 1.2 -> 67.2 kWh; 56 g/kWh -> 3.7632 kg.
        // Embodied 460 kg over 6 y x 8760 h x 0.85 use = 0.0103106... kg/device-hour x 80 h.
        let rate = 460.0 / (6.0 * 8760.0 * 0.85);
        let rows = vec![resolved(1.0, 56.0, 1.2, 56.0, Some(rate), Some(0.4))];
        let df = job_frame(&rows).unwrap();
        let r = &job_rows(&rows, &df).unwrap()[0];
        let a = &r.amounts;
        assert!((a.it_energy_kwh - 56.0).abs() < 1e-12);
        assert!((a.facility_energy_kwh - 67.2).abs() < 1e-12);
        assert!((a.location_kgco2e - 3.7632).abs() < 1e-12);
        assert!((a.embodied_kgco2e.unwrap() - 80.0 * 460.0 / 44676.0).abs() < 1e-12);
        assert!((a.water_l.unwrap() - 22.4).abs() < 1e-12);
        assert!((a.kgco2e_per_gpu_hour.unwrap() - 3.7632 / 80.0).abs() < 1e-15);
        assert!((a.kgco2e_per_million_tokens.unwrap() - 3.7632 / 2000.0).abs() < 1e-15);
    }

    #[test]
    fn quantities_are_prorated_by_time_in_period() {
        let rows = vec![resolved(0.25, 56.0, 1.5, 100.0, None, None)];
        let df = job_frame(&rows).unwrap();
        let a = &job_rows(&rows, &df).unwrap()[0].amounts;
        assert!((a.gpu_hours - 20.0).abs() < 1e-12);
        assert!((a.it_energy_kwh - 14.0).abs() < 1e-12);
        assert!((a.facility_energy_kwh - 21.0).abs() < 1e-12);
        assert!((a.location_kgco2e - 2.1).abs() < 1e-12);
        assert_eq!(a.embodied_kgco2e, None);
        assert_eq!(a.water_l, None);
    }
}
