//! From resolved jobs to per-job energy and emissions: the job frame, whose columns are the
//! figures of [`crate::ledger::Figure`], each computed by its [`rule`].
//!
//! facility = IT x PUE; location = facility x intensity / 1000; embodied = device-hours x
//! embodied / (lifetime x 8760 x use factor); water = IT x WUE. Every quantity is prorated by the
//! share of the job inside the period.

use super::resolve::Resolved;
use crate::error::{Error, Result};
use crate::ledger::{ratio, Amounts, Figure, JobRow};
use crate::timeutil::fmt_utc;
use polars::prelude::*;

pub(crate) fn pe(e: PolarsError) -> Error {
    Error::new(format!("internal table error: {e}"))
}

/// The job frame's columns besides the figures: what resolve gives each job, and the split of
/// its IT energy between accelerators and host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Col {
    Team,
    Model,
    Tier,
    Fraction,
    EnergyFraction,
    DeviceHoursFull,
    ItKwhFull,
    AcceleratorKwhFull,
    HostKwhFull,
    Pue,
    Intensity,
    EmbodiedRate,
    Wue,
    TokensFull,
    AcceleratorKwh,
    HostKwh,
    /// 1 for a CPU-only job, else 0.
    CpuOnly,
    /// A figure of [`Amounts`].
    Figure(Figure),
}

impl Col {
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Col::Team => "team",
            Col::Model => "model",
            Col::Tier => "tier",
            Col::Fraction => "fraction",
            Col::EnergyFraction => "energy_fraction",
            Col::DeviceHoursFull => "device_hours_full",
            Col::ItKwhFull => "it_kwh_full",
            Col::AcceleratorKwhFull => "accelerator_kwh_full",
            Col::HostKwhFull => "host_kwh_full",
            Col::Pue => "pue",
            Col::Intensity => "intensity",
            Col::EmbodiedRate => "embodied_rate",
            Col::Wue => "wue",
            Col::TokensFull => "tokens_full",
            Col::AcceleratorKwh => "accelerator_kwh",
            Col::HostKwh => "host_kwh",
            Col::CpuOnly => "cpu_only",
            Col::Figure(f) => f.name(),
        }
    }
}

impl From<Figure> for Col {
    fn from(f: Figure) -> Col {
        Col::Figure(f)
    }
}

/// A column of the job frame as a polars expression.
pub(crate) fn c(x: impl Into<Col>) -> Expr {
    col(x.into().name())
}

/// How the job frame gets a figure.
pub(crate) enum Rule {
    /// Computed from the job's inputs and the figures before it in [`Figure::ALL`].
    Expr(Expr),
    /// Set by a later step of `compute::build` (named), null until then.
    SetBy(&'static str),
    /// A ratio derived after summing ([`Amounts::assemble`]); not a column.
    Derived,
}

/// Each figure's rule. Every quantity is prorated by the job's share inside the period.
pub(crate) fn rule(f: Figure) -> Rule {
    use Figure as F;
    match f {
        F::GpuHours => Rule::Expr(c(Col::DeviceHoursFull) * c(Col::Fraction)),
        F::ItEnergyKwh => Rule::Expr(c(Col::ItKwhFull) * c(Col::EnergyFraction)),
        F::FacilityEnergyKwh => Rule::Expr(c(F::ItEnergyKwh) * c(Col::Pue)),
        F::LocationKgco2e => Rule::Expr(c(F::FacilityEnergyKwh) * c(Col::Intensity) / lit(1000.0)),
        F::EmbodiedKgco2e => Rule::Expr(c(F::GpuHours) * c(Col::EmbodiedRate)),
        F::WaterL => Rule::Expr(c(F::ItEnergyKwh) * c(Col::Wue)),
        F::Tokens => Rule::Expr(c(Col::TokensFull) * c(Col::Fraction)),
        F::MarketKgco2e => Rule::SetBy("market allocation"),
        F::LocationLow | F::LocationHigh | F::MarketLow | F::MarketHigh => {
            Rule::SetBy("uncertainty bounds")
        }
        F::OverheadKwh | F::OverheadKgco2e => Rule::SetBy("overhead allocation"),
        F::MarketHourlyKgco2e => Rule::SetBy("hourly matching"),
        F::KgPerGpuHour | F::KgPerMillionTokens => Rule::Derived,
    }
}

/// One row per job (in the order of the resolved rows): its inputs, then every figure by its
/// [`rule`]. Columns are named by [`Col`] and [`Figure`] only, so that none can be misspelt.
#[derive(Debug, Clone)]
pub(crate) struct JobFrame(DataFrame);

impl JobFrame {
    /// The frame of `rows`, with the figures set by later steps still null.
    pub(crate) fn new(rows: &[Resolved]) -> Result<JobFrame> {
        let v = |f: &dyn Fn(&Resolved) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
        let o =
            |f: &dyn Fn(&Resolved) -> Option<f64>| rows.iter().map(f).collect::<Vec<Option<f64>>>();
        let s = |f: &dyn Fn(&Resolved) -> String| rows.iter().map(f).collect::<Vec<String>>();
        let n = |c: Col| PlSmallStr::from_static(c.name());
        let df = DataFrame::new(
            rows.len(),
            vec![
                Column::new(n(Col::Team), s(&|r| r.job.team.clone())),
                Column::new(n(Col::Model), s(&|r| r.job.model.clone())),
                Column::new(n(Col::Tier), s(&|r| r.tier.as_str().to_string())),
                Column::new(n(Col::Fraction), v(&|r| r.fraction)),
                Column::new(n(Col::EnergyFraction), v(&|r| r.energy_fraction)),
                Column::new(n(Col::DeviceHoursFull), v(&|r| r.device_hours_full)),
                Column::new(n(Col::ItKwhFull), v(&|r| r.it_kwh_full)),
                Column::new(n(Col::AcceleratorKwhFull), o(&|r| r.accelerator_kwh_full)),
                Column::new(n(Col::HostKwhFull), o(&|r| r.host_kwh_full)),
                Column::new(n(Col::Pue), v(&|r| r.pue)),
                Column::new(n(Col::Intensity), v(&|r| r.intensity_g_per_kwh)),
                Column::new(n(Col::EmbodiedRate), o(&|r| r.embodied_per_device_hour)),
                Column::new(n(Col::Wue), o(&|r| r.wue_l_per_kwh)),
                Column::new(n(Col::TokensFull), o(&|r| r.job.tokens)),
                Column::new(
                    n(Col::CpuOnly),
                    v(&|r| if r.job.cpu_only() { 1.0 } else { 0.0 }),
                ),
            ],
        )
        .map_err(pe)?;
        let mut lazy = df.lazy().with_columns([
            (c(Col::AcceleratorKwhFull) * c(Col::EnergyFraction)).alias(Col::AcceleratorKwh.name()),
            (c(Col::HostKwhFull) * c(Col::EnergyFraction)).alias(Col::HostKwh.name()),
        ]);
        // One step per figure, in order, so that a rule may use the figures before it.
        for &f in Figure::ALL {
            lazy = match rule(f) {
                Rule::Expr(e) => lazy.with_column(e.alias(f.name())),
                Rule::SetBy(_) => {
                    lazy.with_column(lit(NULL).cast(DataType::Float64).alias(f.name()))
                }
                Rule::Derived => lazy,
            };
        }
        lazy.collect().map(JobFrame).map_err(pe)
    }

    /// The frame, for the group-bys.
    pub(crate) fn frame(&self) -> &DataFrame {
        &self.0
    }

    /// Whether it has no job.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.height() == 0
    }

    /// A column's values (`None`: unknown).
    pub(crate) fn get(&self, x: impl Into<Col>) -> Result<Vec<Option<f64>>> {
        f64s(&self.0, x.into().name())
    }

    /// A figure's values with unknowns as 0 (for the figures every job has).
    pub(crate) fn total(&self, f: Figure) -> Result<Vec<f64>> {
        Ok(self.get(f)?.into_iter().map(|v| v.unwrap_or(0.0)).collect())
    }

    /// Set a figure a later step computes (its rule is [`Rule::SetBy`]).
    pub(crate) fn set(&mut self, f: Figure, values: Vec<Option<f64>>) -> Result<()> {
        let internal = |why: String| Err(Error::new(format!("internal error: {why}")));
        match rule(f) {
            Rule::SetBy(_) if values.len() != self.0.height() => {
                return internal(format!(
                    "{} has {} values for {} jobs",
                    f.name(),
                    values.len(),
                    self.0.height()
                ))
            }
            Rule::SetBy(_) => {}
            Rule::Expr(_) => return internal(format!("{} is computed by its rule", f.name())),
            Rule::Derived => return internal(format!("{} is derived after summing", f.name())),
        }
        self.0
            .with_column(Column::new(PlSmallStr::from_static(f.name()), values))
            .map_err(pe)?;
        Ok(())
    }

    /// The figures still waiting for a later step (all null), with the step that sets each.
    pub(crate) fn unset(&self) -> Result<Vec<(Figure, &'static str)>> {
        let mut out = Vec::new();
        for &f in Figure::ALL {
            if let Rule::SetBy(step) = rule(f) {
                if self.get(f)?.iter().all(Option::is_none) {
                    out.push((f, step));
                }
            }
        }
        Ok(out)
    }
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

/// Every summed figure of the job frame, read once.
struct Columns(Vec<(Figure, Vec<Option<f64>>)>);

impl Columns {
    fn read(frame: &JobFrame) -> Result<Columns> {
        let mut out = Vec::new();
        for &f in Figure::ALL.iter().filter(|f| f.summed()) {
            out.push((f, frame.get(f)?));
        }
        Ok(Columns(out))
    }

    fn at(&self, f: Figure, i: usize) -> Option<f64> {
        self.0.iter().find(|(g, _)| *g == f).and_then(|(_, v)| v[i])
    }

    /// Row `i`'s amounts, with its intensities per GPU-hour and per million tokens.
    fn amounts(&self, i: usize) -> Amounts {
        let with_tokens = match self.at(Figure::Tokens, i) {
            Some(_) => self.at(Figure::LocationKgco2e, i).unwrap_or(0.0),
            None => 0.0,
        };
        Amounts::assemble(1, |f| self.at(f, i), with_tokens)
    }
}

/// Where a job's energy came from, as the ledger states it.
fn energy_detail(r: &Resolved) -> String {
    if let Some(d) = &r.cpu_detail {
        return d.clone();
    }
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
pub(crate) fn job_rows(rows: &[Resolved], frame: &JobFrame) -> Result<Vec<JobRow>> {
    let cols = Columns::read(frame)?;
    let (accelerator, host) = (frame.get(Col::AcceleratorKwh)?, frame.get(Col::HostKwh)?);
    let mut out: Vec<JobRow> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| job_row(r, cols.amounts(i), accelerator[i], host[i]))
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
        active_parameters: j.active_parameters,
        cpu: j.cpu.clone().filter(|_| j.cpu_only()),
        mfu: j.mfu,
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
            cpu_detail: None,
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
        let df = JobFrame::new(&rows).unwrap();
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
    fn later_figures_are_null_until_set_and_computed_ones_cannot_be_set() {
        let rows = vec![resolved(1.0, 56.0, 1.2, 56.0, None, None)];
        let mut frame = JobFrame::new(&rows).unwrap();
        let unset: Vec<Figure> = frame.unset().unwrap().into_iter().map(|u| u.0).collect();
        assert!(unset.contains(&Figure::MarketKgco2e));
        assert!(unset.contains(&Figure::OverheadKwh));
        frame.set(Figure::MarketKgco2e, vec![Some(1.5)]).unwrap();
        assert_eq!(frame.get(Figure::MarketKgco2e).unwrap(), vec![Some(1.5)]);
        assert!(!frame
            .unset()
            .unwrap()
            .iter()
            .any(|u| u.0 == Figure::MarketKgco2e));
        assert!(frame.set(Figure::LocationKgco2e, vec![Some(0.0)]).is_err());
        assert!(frame.set(Figure::KgPerGpuHour, vec![Some(0.0)]).is_err());
        assert!(frame.set(Figure::MarketLow, vec![]).is_err());
        // Every summed figure is a column; ratios are not.
        for &f in Figure::ALL {
            assert_eq!(frame.get(f).is_ok(), f.summed(), "{}", f.name());
        }
    }

    #[test]
    fn quantities_are_prorated_by_time_in_period() {
        let rows = vec![resolved(0.25, 56.0, 1.5, 100.0, None, None)];
        let df = JobFrame::new(&rows).unwrap();
        let a = &job_rows(&rows, &df).unwrap()[0].amounts;
        assert!((a.gpu_hours - 20.0).abs() < 1e-12);
        assert!((a.it_energy_kwh - 14.0).abs() < 1e-12);
        assert!((a.facility_energy_kwh - 21.0).abs() < 1e-12);
        assert!((a.location_kgco2e - 2.1).abs() < 1e-12);
        assert_eq!(a.embodied_kgco2e, None);
        assert_eq!(a.water_l, None);
    }
}
