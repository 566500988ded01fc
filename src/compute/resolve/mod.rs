//! Per-job references resolved against the config and factor set: site, zone factor, PUE over
//! the job's time in the period, hardware power and embodied rate, and the share of the job
//! inside the reporting period. Jobs that cannot be accounted become error findings.

use super::energy::JobTelemetry;
use grid::best_shift;

pub(crate) mod grid;
mod site;
mod tier;

use crate::config::{Config, Site};
use crate::factors::{self, Factors};
use crate::findings::{codes, Finding};
use crate::ingest::grid::Hourly;
use crate::ingest::Job;
use crate::ledger::{Boundary, FactorUse, Tier};
use crate::timeutil::{fmt_utc, next_month_start, seconds, Period};
use chrono::{DateTime, Utc};
pub(crate) use site::site_pue;
use std::collections::BTreeMap;

/// Everything compute needs about one job, before the arithmetic.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub job: Job,
    pub tier: Tier,
    /// Share of the job's duration inside the period (0 < f <= 1).
    pub fraction: f64,
    /// The factor applied to `it_kwh_full`: `fraction` for whole-job energy (prorated by time),
    /// 1 for telemetry, which is already clipped to the period.
    pub energy_fraction: f64,
    /// Telemetry tier details: energy integrated from samples, imputed for uncovered time
    /// (kWh), and the covered share of device-time.
    pub sampled_kwh: Option<f64>,
    /// The telemetry readers behind a sampled job's energy.
    pub telemetry_sources: Vec<&'static str>,
    /// The job's share of its nodes' accelerators, from telemetry.
    pub node_share: Option<f64>,
    pub imputed_kwh: Option<f64>,
    pub coverage: Option<f64>,
    /// Device-hours of the whole job (gpu_hours, else devices x duration).
    pub device_hours_full: f64,
    /// IT energy of the whole job, kWh (accelerators, plus the host where it is known).
    pub it_kwh_full: f64,
    /// What the IT energy covers, and its split on the same basis as `it_kwh_full`.
    pub boundary: Boundary,
    pub accelerator_kwh_full: Option<f64>,
    pub host_kwh_full: Option<f64>,
    /// Time-weighted PUE over the job's time in the period.
    pub pue: f64,
    pub intensity_g_per_kwh: f64,
    /// The grid zone whose factor applies (or `site:<id>` for a configured intensity).
    pub zone: String,
    pub factor_year: Option<i32>,
    /// Embodied kgCO2e per device-hour, when the hardware's embodied emissions are known.
    pub embodied_per_device_hour: Option<f64>,
    pub wue_l_per_kwh: Option<f64>,
    /// The hardware table's name for the accelerator, when known.
    pub hardware_name: Option<String>,
    pub power_w: Option<f64>,
    /// The intensity is the job-weighted mean of hourly factors.
    pub hourly: bool,
    /// The zone's mean hourly intensity over the period (when hourly data exist), for
    /// carbon-aware scheduling.
    pub zone_period_avg: Option<f64>,
    /// The lowest mean hourly intensity over the job's time shifted by -12..=12 h (hourly data
    /// covering every hour), for the carbon-aware what-if.
    pub shift_best: Option<f64>,
    /// How a CPU-only job's energy was found.
    pub cpu_detail: Option<String>,
    /// TDP of the accelerator, when known.
    pub tdp_w: Option<f64>,
    /// Dense 16-bit TFLOPS of the accelerator, when known.
    pub tflops: Option<f64>,
    /// Measured mean power per device: from samples, a meter over device-hours, or avg_power_w.
    pub measured_power_w: Option<f64>,
    /// The job's share of its in-period figures in each calendar month (UTC, `YYYY-MM`),
    /// summing to 1: by its sampled energy per hour when telemetry gives a profile, else by
    /// its time.
    pub months: Vec<(String, f64)>,
}

/// Split `[a, b)` over calendar months (UTC): by the hourly energy `profile` (hour start,
/// joules) when it has any energy, else by time. The weights sum to 1.
pub(crate) fn month_weights(
    a: DateTime<Utc>,
    b: DateTime<Utc>,
    profile: Option<&BTreeMap<i64, f64>>,
) -> Vec<(String, f64)> {
    let mut w: BTreeMap<String, f64> = BTreeMap::new();
    let month = |t: i64| {
        DateTime::<Utc>::from_timestamp(t, 0)
            .unwrap_or(a)
            .format("%Y-%m")
            .to_string()
    };
    match profile.filter(|p| p.values().any(|j| *j > 0.0)) {
        Some(p) => {
            for (h, j) in p {
                *w.entry(month(*h)).or_default() += j.max(0.0);
            }
        }
        None => {
            let mut t = a;
            while t < b {
                let next = next_month_start(t).min(b);
                *w.entry(t.format("%Y-%m").to_string()).or_default() += seconds(t, next).max(0.0);
                t = next;
            }
        }
    }
    let total: f64 = w.values().sum();
    if total <= 0.0 {
        return vec![(a.format("%Y-%m").to_string(), 1.0)];
    }
    w.into_iter().map(|(m, v)| (m, v / total)).collect()
}

/// Collected while resolving: factors used and findings.
#[derive(Debug, Default)]
pub(crate) struct Resolution {
    pub rows: Vec<Resolved>,
    pub factors: BTreeMap<String, FactorUse>,
    pub findings: Vec<Finding>,
}

impl Resolution {
    /// Record a factor the ledger used (the first use of a name is the one listed).
    fn use_factor(
        &mut self,
        name: String,
        value: f64,
        unit: &str,
        source: &str,
        year: Option<i32>,
    ) {
        self.factors.entry(name.clone()).or_insert(FactorUse {
            name,
            value,
            unit: unit.to_string(),
            source: source.to_string(),
            year,
        });
    }
}

/// The period a run reports on: the configured one, else the span of the jobs.
pub(crate) fn period_of(cfg: &Config, jobs: &[Job]) -> Option<Period> {
    if let Some(p) = &cfg.report.period {
        return Some(p.clone());
    }
    let start = jobs.iter().map(|j| j.start).min()?;
    let end = jobs.iter().map(|j| j.end).max()?;
    Some(Period::spanning(start, end))
}

/// Counts gathered over all jobs, stated as one finding each once every job is resolved.
#[derive(Debug, Default)]
struct Tallies {
    /// Job-hours per zone without hourly data.
    missing_hours: BTreeMap<String, u64>,
    /// Mean hourly intensity of each zone over the period (computed once per zone).
    zone_avgs: BTreeMap<String, Option<f64>>,
    /// Jobs with imputed energy, and the kWh imputed.
    imputed_jobs: (u64, f64),
    /// Jobs that list nodes that no telemetry covers.
    unsampled: Vec<String>,
    /// Jobs whose energy counters read nothing while their power samples read power.
    zero_counter: Vec<String>,
    /// Jobs whose samples cover more device-time than they hold.
    over_covered: Vec<String>,
    /// Hardware names not in the table: jobs, and the first file and line naming it.
    unknown_hw: BTreeMap<String, (u64, String, u64)>,
    /// Jobs crossing the period's edges.
    straddling: u64,
    /// Who used the default PUE, and how many jobs.
    default_pue_users: BTreeMap<String, u64>,
    /// Sub-national zones that fell back to their country.
    fallback_zones: BTreeMap<String, String>,
    /// Per site, jobs whose host is outside the boundary: how many, and their kWh.
    host_outside: BTreeMap<String, (u64, f64)>,
}

/// The default PUE in force and where it comes from.
struct DefaultPue {
    value: f64,
    source: &'static str,
    year: Option<i32>,
}

impl DefaultPue {
    fn of(cfg: &Config) -> Self {
        match cfg.estimate.default_pue {
            Some(v) => DefaultPue {
                value: v,
                source: "greenledger.toml [estimate] default_pue",
                year: None,
            },
            None => DefaultPue {
                value: factors::DEFAULT_PUE,
                source: factors::DEFAULT_PUE_SOURCE,
                year: Some(factors::DEFAULT_PUE_YEAR),
            },
        }
    }
}

/// The run-wide state of resolution: inputs, what has been resolved, and the tallies.
struct Resolver<'a> {
    cfg: &'a Config,
    factors: &'a Factors,
    period: &'a Period,
    hourly: &'a Hourly,
    default_pue: DefaultPue,
    tallies: Tallies,
    res: Resolution,
}

/// One job being resolved: the job, its telemetry, its site and its time in the period.
struct JobContext<'a> {
    job: &'a Job,
    tel: Option<&'a JobTelemetry>,
    site: Option<&'a Site>,
    /// Seconds of the job inside the period.
    inside: f64,
    /// Share of the job's duration inside the period.
    fraction: f64,
    /// The job's time clipped to the period.
    clip_a: DateTime<Utc>,
    clip_b: DateTime<Utc>,
}

impl JobContext<'_> {
    /// A finding located at the job's input row.
    fn at(&self, f: Finding) -> Finding {
        f.at(&self.job.origin.file, Some(self.job.origin.line))
    }
}

/// The grid factor applied to a job.
struct GridUse {
    intensity: f64,
    /// The zone whose factor applies (or `site:<id>` for a configured intensity).
    zone: String,
    year: Option<i32>,
    /// The intensity is the job-weighted mean of hourly factors.
    hourly: bool,
}

/// Resolve every job. Jobs outside the period or with unresolvable references are left out,
/// each with a finding.
pub(crate) fn resolve(
    cfg: &Config,
    factors: &Factors,
    jobs: Vec<Job>,
    period: &Period,
    telemetry: Option<&[JobTelemetry]>,
    hourly: &Hourly,
) -> Resolution {
    let mut r = Resolver {
        cfg,
        factors,
        period,
        hourly,
        default_pue: DefaultPue::of(cfg),
        tallies: Tallies::default(),
        res: Resolution::default(),
    };
    for (index, job) in jobs.into_iter().enumerate() {
        let tel = telemetry.map(|t| &t[index]);
        if let Some(row) = r.job(job, tel) {
            r.res.rows.push(row);
        }
    }
    r.finish()
}

impl<'a> Resolver<'a> {
    /// Resolve one job, or leave it out with a finding: clip it to the period, find its site,
    /// PUE and grid factor, then its energy tier, embodied rate and water.
    fn job(&mut self, job: Job, tel: Option<&JobTelemetry>) -> Option<Resolved> {
        let ctx = self.context(&job, tel)?;
        let pue = self.pue(&ctx);
        let grid = self.annual_factor(&ctx)?;
        let grid = self.hourly_factor(&ctx, grid)?;
        let energy = self.energy(&ctx)?;
        if energy.boundary == Boundary::Accelerator && energy.host_kwh_full.is_none() {
            let who = ctx
                .site
                .map(|s| format!("site '{}'", s.id))
                .unwrap_or_else(|| "jobs without a site".to_string());
            let e = self.tallies.host_outside.entry(who).or_default();
            e.0 += 1;
            e.1 += energy.it_kwh_full * energy.energy_fraction(ctx.fraction);
        }
        let embodied = energy.hw.and_then(|h| self.embodied(h));
        let wue = self.wue(ctx.site);
        let (shift_best, zone_period_avg) = if grid.hourly {
            (
                best_shift(
                    self.hourly,
                    &grid.zone,
                    ctx.clip_a.timestamp(),
                    ctx.clip_b.timestamp(),
                ),
                self.tallies.zone_avgs.get(&grid.zone).copied().flatten(),
            )
        } else {
            (None, None)
        };
        let months = month_weights(
            ctx.clip_a,
            ctx.clip_b,
            tel.filter(|t| t.covered_s > 0.0 && job.metered.is_none())
                .map(|t| &t.hourly_j),
        );
        let hw = energy.hw;
        Some(Resolved {
            months,
            hourly: grid.hourly,
            shift_best,
            zone_period_avg,
            tdp_w: hw.and_then(|h| h.tdp_w),
            tflops: hw.and_then(|h| h.tflops),
            measured_power_w: energy.measured_power_w(&job, tel),
            cpu_detail: energy.cpu_detail.clone(),
            tier: energy.tier,
            fraction: ctx.fraction,
            energy_fraction: energy.energy_fraction(ctx.fraction),
            sampled_kwh: energy.sampled.map(|s| s.measured_kwh),
            telemetry_sources: tel.map(|t| t.sources.clone()).unwrap_or_default(),
            node_share: tel.and_then(|t| t.node_share),
            imputed_kwh: energy.sampled.map(|s| s.imputed_kwh),
            coverage: energy.sampled.map(|s| s.coverage),
            device_hours_full: energy.device_hours_full,
            it_kwh_full: energy.it_kwh_full,
            boundary: energy.boundary,
            accelerator_kwh_full: energy.accelerator_kwh_full,
            host_kwh_full: energy.host_kwh_full,
            pue,
            intensity_g_per_kwh: grid.intensity,
            zone: grid.zone,
            factor_year: grid.year,
            embodied_per_device_hour: embodied,
            wue_l_per_kwh: wue,
            hardware_name: hw.map(|h| h.name.clone()).or_else(|| {
                // A CPU-only job names its CPU model as the CPU table does.
                let cpu = job.cpu_only().then(|| self.factors.cpu(&job.hardware));
                cpu.flatten().map(|m| m.name.clone())
            }),
            power_w: if energy.tier == Tier::Estimated {
                energy.power_w
            } else {
                None
            },
            job,
        })
    }

    /// The job's time in the period and its site; `None` (with a finding) when it lies
    /// outside the period or names a site the config does not define.
    fn context<'j>(&mut self, job: &'j Job, tel: Option<&'j JobTelemetry>) -> Option<JobContext<'j>>
    where
        'a: 'j,
    {
        let duration_s = seconds(job.start, job.end);
        let inside = self.period.overlap_s(job.start, job.end);
        let mut ctx = JobContext {
            job,
            tel,
            site: None,
            inside,
            fraction: 0.0,
            clip_a: job.start.max(self.period.start),
            clip_b: job.end.min(self.period.end),
        };
        if inside <= 0.0 {
            let f = ctx.at(Finding::info(
                codes::JOBS_OUTSIDE_PERIOD,
                format!(
                    "job '{}' ({} .. {}) lies outside the period {}; not counted",
                    job.job_id,
                    fmt_utc(job.start),
                    fmt_utc(job.end),
                    self.period.label
                ),
            ));
            self.res.findings.push(f);
            return None;
        }
        ctx.fraction = (inside / duration_s).min(1.0);
        if ctx.fraction < 1.0 {
            self.tallies.straddling += 1;
        }
        if let Some(id) = &job.site {
            match self.cfg.site(id) {
                Some(s) => ctx.site = Some(s),
                None => {
                    let f = ctx.at(Finding::error(
                        codes::JOBS_UNKNOWN_SITE,
                        format!("job '{}': site '{id}' is not defined; add a [[site]] with id = \"{id}\" to greenledger.toml; the job is not counted", job.job_id),
                    ));
                    self.res.findings.push(f);
                    return None;
                }
            }
        }
        Some(ctx)
    }

    /// State the tallies as findings and hand over what was resolved.
    fn finish(mut self) -> Resolution {
        let t = std::mem::take(&mut self.tallies);
        let findings = &mut self.res.findings;
        for (name, (n, file, line)) in t.unknown_hw {
            findings.push(
                Finding::warning(
                    codes::JOBS_UNKNOWN_HARDWARE,
                    format!("hardware '{name}' ({n} job(s)) is not in the hardware table: its embodied emissions are unknown; add a [[hardware]] entry"),
                )
                .at(&file, Some(line)),
            );
        }
        let d = &self.default_pue;
        for (who, n) in t.default_pue_users {
            findings.push(Finding::info(
                codes::SITE_DEFAULT_PUE,
                format!("{n} job(s) of {who} have no configured PUE for some or all of their time; the default {} ({}) applies there", d.value, d.source),
            ));
        }
        for (who, (n, kwh)) in t.host_outside {
            findings.push(Finding::info(
                codes::BOUNDARY_HOST_OUTSIDE,
                format!("{who}: {n} job(s) ({kwh:.3} kWh) count their accelerators only; the host around them (CPUs, memory, fans, NICs) is outside the boundary: give node power telemetry or [[hardware]] host_w_per_device"),
            ));
        }
        for (zone, country) in t.fallback_zones {
            findings.push(Finding::warning(
                codes::ZONE_NO_FACTOR,
                format!("zone '{zone}' has no factor of its own; the annual average of {country} is used (give a grid file or the site's grid_intensity_g_per_kwh for a better figure)"),
            ));
        }
        for (zone, n) in &t.missing_hours {
            findings.push(Finding::warning(
                codes::GRID_MISSING_HOURS,
                format!("{n} job-hours in zone {zone} have no hourly grid data; they take the annual factor"),
            ));
        }
        if t.imputed_jobs.0 > 0 {
            findings.push(Finding::info(
                codes::TELEMETRY_IMPUTED,
                format!(
                    "{} job(s) had device-time without valid samples; {:.3} kWh were imputed at each job's mean measured power (imputed_kwh in the job rows)",
                    t.imputed_jobs.0, t.imputed_jobs.1
                ),
            ));
        }
        if !t.unsampled.is_empty() {
            findings.push(Finding::warning(
                codes::TELEMETRY_NO_SAMPLES,
                format!(
                    "{} job(s) list nodes but no telemetry covers them, so they are estimated: {}",
                    t.unsampled.len(),
                    t.unsampled.join(", ")
                ),
            ));
        }
        if !t.zero_counter.is_empty() {
            findings.push(Finding::warning(
                codes::TELEMETRY_ZERO_COUNTER,
                format!(
                    "{} job(s) have energy counters that read no energy while their power samples read power (vGPU or pre-Volta GPUs do this): their energy is integrated from the power samples instead: {}",
                    t.zero_counter.len(),
                    t.zero_counter.join(", ")
                ),
            ));
        }
        if !t.over_covered.is_empty() {
            findings.push(Finding::warning(
                codes::TELEMETRY_IMPUTED,
                format!("telemetry covers more device-time than devices x duration for: {} (check the devices and gpu_ids columns)", t.over_covered.join(", ")),
            ));
        }
        if t.straddling > 0 {
            findings.push(Finding::info(
                codes::JOBS_PARTLY_OUTSIDE_PERIOD,
                format!("{} job(s) run past the edges of the period {}; their energy, GPU-hours and emissions are prorated by time", t.straddling, self.period.label),
            ));
        }
        self.old_factor_years();
        self.res
    }

    /// A note when annual grid factors come from other years than the period's.
    fn old_factor_years(&mut self) {
        let year = self.period.year();
        let old: Vec<String> = self
            .res
            .factors
            .values()
            .filter(|f| f.unit == "gCO2e/kWh" && f.year.is_some_and(|y| y != year))
            .map(|f| format!("{} ({})", f.name, f.year.unwrap_or_default()))
            .collect();
        if !old.is_empty() {
            self.res.findings.push(Finding::info(
                codes::FACTOR_YEAR,
                format!("the period is in {year}, but the latest annual grid factors available are from other years: {}", old.join(", ")),
            ));
        }
    }
}

#[cfg(test)]
mod month_tests {
    use super::*;
    use chrono::TimeZone;

    fn t(m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn months_split_by_time_or_by_energy() {
        // 4 h before and 12 h after midnight of 1 August: a quarter and three quarters.
        assert_eq!(
            month_weights(t(7, 31, 20), t(8, 1, 12), None),
            vec![("2026-07".to_string(), 0.25), ("2026-08".to_string(), 0.75)]
        );
        // The same span with a profile: 300 J in July's last hour, 100 J after.
        let p: BTreeMap<i64, f64> = [
            (t(7, 31, 23).timestamp(), 300.0),
            (t(8, 1, 5).timestamp(), 100.0),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            month_weights(t(7, 31, 20), t(8, 1, 12), Some(&p)),
            vec![("2026-07".to_string(), 0.75), ("2026-08".to_string(), 0.25)]
        );
        // December rolls into January; an empty span falls into its month.
        let dec = Utc.with_ymd_and_hms(2026, 12, 31, 12, 0, 0).unwrap();
        let jan = Utc.with_ymd_and_hms(2027, 1, 1, 12, 0, 0).unwrap();
        assert_eq!(
            month_weights(dec, jan, None),
            vec![("2026-12".to_string(), 0.5), ("2027-01".to_string(), 0.5)]
        );
        assert_eq!(
            month_weights(dec, dec, None),
            vec![("2026-12".to_string(), 1.0)]
        );
    }
}
