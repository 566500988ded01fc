//! Per-job references resolved against the config and factor set: site, zone factor, PUE over
//! the job's time in the period, hardware power and embodied rate, and the share of the job
//! inside the reporting period. Jobs that cannot be accounted become error findings.

use super::energy::JobTelemetry;
use crate::config::{Config, Site};
use crate::factors::{self, Factors};
use crate::findings::{codes, Finding};
use crate::ingest::Job;
use crate::timeutil::{fmt_utc, next_month_start, overlap_s, seconds, Period};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// A factor the ledger used, as the report lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FactorUse {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub source: String,
    pub year: Option<i32>,
}

/// The energy tier of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Metered,
    Sampled,
    Estimated,
}

impl Tier {
    pub fn as_str(&self) -> &'static str {
        match self {
            Tier::Metered => "metered",
            Tier::Sampled => "sampled",
            Tier::Estimated => "estimated",
        }
    }
}

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
    pub imputed_kwh: Option<f64>,
    pub coverage: Option<f64>,
    /// Device-hours of the whole job (gpu_hours, else devices x duration).
    pub device_hours_full: f64,
    /// IT energy of the whole job, kWh.
    pub it_kwh_full: f64,
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
pub fn month_weights(
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
pub struct Resolution {
    pub rows: Vec<Resolved>,
    pub factors: BTreeMap<String, FactorUse>,
    pub findings: Vec<Finding>,
}

fn use_factor(
    map: &mut BTreeMap<String, FactorUse>,
    name: String,
    value: f64,
    unit: &str,
    source: &str,
    year: Option<i32>,
) {
    map.entry(name.clone()).or_insert(FactorUse {
        name,
        value,
        unit: unit.to_string(),
        source: source.to_string(),
        year,
    });
}

/// The period a run reports on: the configured one, else the span of the jobs.
pub fn period_of(cfg: &Config, jobs: &[Job]) -> Option<Period> {
    if let Some(p) = &cfg.period {
        return Some(p.clone());
    }
    let start = jobs.iter().map(|j| j.start).min()?;
    let end = jobs.iter().map(|j| j.end).max()?;
    Some(Period::spanning(start, end))
}

/// Time-weighted PUE of a site over `[a, b)`: per-period values where they apply, else the
/// site's whole-time value, else `default`. The flag says whether `default` filled any time.
pub fn site_pue(
    site: &Site,
    a: chrono::DateTime<chrono::Utc>,
    b: chrono::DateTime<chrono::Utc>,
    default: f64,
) -> (f64, bool) {
    let total = seconds(a, b);
    let whole = site.pue.iter().any(|e| e.period.is_none());
    if total <= 0.0 {
        return (default, !whole);
    }
    let base = site
        .pue
        .iter()
        .find(|e| e.period.is_none())
        .map(|e| e.value)
        .unwrap_or(default);
    let mut covered = 0.0;
    let mut weighted = 0.0;
    for e in &site.pue {
        if let Some(p) = &e.period {
            let o = overlap_s(a, b, p.start, p.end);
            covered += o;
            weighted += o * e.value;
        }
    }
    let uncovered = (total - covered).max(0.0);
    (
        (weighted + uncovered * base) / total,
        !whole && uncovered > 0.0,
    )
}

/// The lowest mean intensity of `[a, b)` shifted by whole hours within +-12 h, over shifts whose
/// every hour has data (energy spread evenly).
fn best_shift(hourly: &crate::ingest::grid::Hourly, zone: &str, a: i64, b: i64) -> Option<f64> {
    let mut best: Option<f64> = None;
    for k in -12i64..=12 {
        let (sa, sb) = (a + k * 3600, b + k * 3600);
        let (mut weighted, mut total) = (0.0, 0.0);
        let mut h = sa.div_euclid(3600) * 3600;
        let mut complete = true;
        while h < sb {
            let w = ((h + 3600).min(sb) - h.max(sa)) as f64;
            match hourly.get(zone, h) {
                Some(g) => weighted += w * g,
                None => {
                    complete = false;
                    break;
                }
            }
            total += w;
            h += 3600;
        }
        if complete && total > 0.0 {
            let g = weighted / total;
            best = Some(best.map_or(g, |x: f64| x.min(g)));
        }
    }
    best
}

/// Whole-job metered energy (not clipped telemetry counters): its mean power is energy over
/// device-hours.
fn energy_fraction_is_whole(job: &Job) -> bool {
    job.metered.is_some()
}

/// Resolve every job. Jobs outside the period or with unresolvable references are left out,
/// each with a finding.
pub fn resolve(
    cfg: &Config,
    factors: &Factors,
    jobs: Vec<Job>,
    period: &Period,
    telemetry: Option<&[JobTelemetry]>,
    hourly: &crate::ingest::grid::Hourly,
) -> Resolution {
    let mut missing_hours: BTreeMap<String, u64> = BTreeMap::new();
    let mut zone_avgs: BTreeMap<String, Option<f64>> = BTreeMap::new();
    let mut imputed_jobs = (0u64, 0.0f64);
    let mut unsampled: Vec<String> = Vec::new();
    let mut over_covered: Vec<String> = Vec::new();
    let mut res = Resolution::default();
    let default_pue = cfg.default_pue.unwrap_or(factors::DEFAULT_PUE);
    let default_pue_source = if cfg.default_pue.is_some() {
        "greenledger.toml [estimate] default_pue"
    } else {
        factors::DEFAULT_PUE_SOURCE
    };
    let default_pue_year = if cfg.default_pue.is_some() {
        None
    } else {
        Some(factors::DEFAULT_PUE_YEAR)
    };
    let mut unknown_hw: BTreeMap<String, (u64, String, u64)> = BTreeMap::new();
    let mut straddling = 0u64;
    let mut default_pue_users: BTreeMap<String, u64> = BTreeMap::new();
    let mut fallback_zones: BTreeMap<String, String> = BTreeMap::new();
    for (index, job) in jobs.into_iter().enumerate() {
        let tel = telemetry.map(|t| &t[index]);
        let at = |f: Finding| f.at(&job.origin.file, Some(job.origin.line));
        let duration_s = seconds(job.start, job.end);
        let inside = period.overlap_s(job.start, job.end);
        if inside <= 0.0 {
            res.findings.push(at(Finding::info(
                codes::JOBS_OUTSIDE_PERIOD,
                format!(
                    "job '{}' ({} .. {}) lies outside the period {}; not counted",
                    job.job_id,
                    fmt_utc(job.start),
                    fmt_utc(job.end),
                    period.label
                ),
            )));
            continue;
        }
        let fraction = (inside / duration_s).min(1.0);
        if fraction < 1.0 {
            straddling += 1;
        }
        let clip_a = job.start.max(period.start);
        let clip_b = job.end.min(period.end);

        // Site, zone and PUE.
        let site = match &job.site {
            Some(id) => match cfg.site(id) {
                Some(s) => Some(s),
                None => {
                    res.findings.push(at(Finding::error(
                        codes::JOBS_UNKNOWN_SITE,
                        format!("job '{}': site '{id}' is not defined; add a [[site]] with id = \"{id}\" to greenledger.toml; the job is not counted", job.job_id),
                    )));
                    continue;
                }
            },
            None => None,
        };
        let (pue, default_used) = match site {
            Some(s) => {
                let (p, filled) = site_pue(s, clip_a, clip_b, default_pue);
                for e in &s.pue {
                    let name = match &e.period {
                        Some(p) => format!("PUE {} {}", s.id, p.label),
                        None => format!("PUE {}", s.id),
                    };
                    let applies = e
                        .period
                        .as_ref()
                        .is_none_or(|p| overlap_s(clip_a, clip_b, p.start, p.end) > 0.0);
                    if applies {
                        use_factor(
                            &mut res.factors,
                            name,
                            e.value,
                            "ratio",
                            &format!("greenledger.toml [[site]] {} (line {})", s.id, s.line),
                            None,
                        );
                    }
                }
                (p, filled)
            }
            None => (default_pue, true),
        };
        // The default PUE is listed, and its users counted, whenever it filled any of the time:
        // jobs without a site, sites without a PUE, and time no per-period value covers.
        if default_used {
            let who = site
                .map(|s| format!("site '{}'", s.id))
                .unwrap_or_else(|| "jobs without a site".to_string());
            *default_pue_users.entry(who).or_default() += 1;
            use_factor(
                &mut res.factors,
                "PUE (default)".into(),
                default_pue,
                "ratio",
                default_pue_source,
                default_pue_year,
            );
        }
        let zone_name = site
            .and_then(|s| s.zone.clone())
            .or_else(|| job.zone.clone());
        let (intensity, zone, factor_year) = match site
            .and_then(|s| s.grid_intensity_g_per_kwh.map(|g| (s, g)))
        {
            Some((s, g)) => {
                use_factor(
                    &mut res.factors,
                    format!("grid {}", s.id),
                    g,
                    "gCO2e/kWh",
                    &format!(
                        "greenledger.toml [[site]] {} grid_intensity_g_per_kwh",
                        s.id
                    ),
                    None,
                );
                (g, format!("site:{}", s.id), None)
            }
            None => {
                let Some(zn) = zone_name else {
                    res.findings.push(at(Finding::error(codes::JOBS_NO_LOCATION, format!("job '{}' has no site and no zone, so no grid factor applies; the job is not counted", job.job_id))));
                    continue;
                };
                match factors.zone(&zn) {
                    Some(m) => {
                        if m.fallback {
                            fallback_zones.insert(zn.clone(), m.factor.zone.clone());
                        }
                        let f = m.factor;
                        // An annual table given with --grid takes precedence over the embedded one.
                        if let Some((g, year, source)) = hourly.annual_for(
                            &[f.zone.as_str(), f.iso3.as_str(), zn.as_str()],
                            period.year(),
                        ) {
                            use_factor(
                                &mut res.factors,
                                format!("grid {} ({source})", f.zone),
                                g,
                                "gCO2e/kWh",
                                &source,
                                year,
                            );
                            (g, f.zone.clone(), year)
                        } else {
                            use_factor(
                                &mut res.factors,
                                format!("grid {}", f.zone),
                                f.g_per_kwh,
                                "gCO2e/kWh",
                                &format!("{} ({})", f.source, f.licence),
                                Some(f.year),
                            );
                            (f.g_per_kwh, f.zone.clone(), Some(f.year))
                        }
                    }
                    None if hourly.annual_for(&[zn.as_str()], period.year()).is_some() => {
                        let (g, year, source) = hourly
                            .annual_for(&[zn.as_str()], period.year())
                            .expect("checked by the guard");
                        use_factor(
                            &mut res.factors,
                            format!("grid {zn} ({source})"),
                            g,
                            "gCO2e/kWh",
                            &source,
                            year,
                        );
                        (g, zn.to_uppercase(), year)
                    }
                    None if hourly.has(&zn) => {
                        // No annual factor, but hourly data: missing hours will be reported.
                        (f64::NAN, zn.to_uppercase(), None)
                    }
                    None => {
                        res.findings.push(at(Finding::error(
                            codes::ZONE_NO_FACTOR,
                            format!("job '{}': zone '{zn}' has no grid factor (use an ISO country code, a bidding zone or a cloud region, or set grid_intensity_g_per_kwh on the site); the job is not counted", job.job_id),
                        )));
                        continue;
                    }
                }
            }
        };

        // Hourly factors: each hour of the job's time in the period meets that hour's intensity
        // (energy spread evenly over the job's time); hours without data take the annual factor.
        let mut hourly_used = false;
        let (intensity, factor_year) = if !zone.starts_with("site:") && hourly.has(&zone) {
            let (a, b) = (clip_a.timestamp(), clip_b.timestamp());
            let (mut weighted, mut total, mut missing) = (0.0, 0.0, 0u64);
            // The weights: the job's sampled energy per hour when telemetry gives a profile,
            // else its time in each hour (energy spread evenly).
            let profile: Vec<(i64, f64)> = match tel
                .filter(|t| t.covered_s > 0.0 && !t.hourly_j.is_empty() && job.metered.is_none())
            {
                Some(t) => t.hourly_j.iter().map(|(h, j)| (*h, *j)).collect(),
                None => {
                    let mut v = Vec::new();
                    let mut h = a.div_euclid(3600) * 3600;
                    while h < b {
                        v.push((h, ((h + 3600).min(b) - h.max(a)) as f64));
                        h += 3600;
                    }
                    v
                }
            };
            for (h, w) in profile {
                match hourly.get(&zone, h) {
                    Some(g) => weighted += w * g,
                    None => {
                        missing += 1;
                        weighted += w * intensity;
                    }
                }
                total += w;
            }
            if missing > 0 {
                *missing_hours.entry(zone.clone()).or_default() += missing;
            }
            if !weighted.is_finite() {
                res.findings.push(at(Finding::error(
                    codes::ZONE_NO_FACTOR,
                    format!("job '{}': zone '{zone}' has hourly data but not for all of the job's hours, and no annual factor to fill them; the job is not counted", job.job_id),
                )));
                continue;
            }
            hourly_used = true;
            zone_avgs.entry(zone.clone()).or_insert_with(|| {
                let (p0, p1) = (period.start.timestamp(), period.end.timestamp());
                let mut h = p0.div_euclid(3600) * 3600;
                let (mut sum, mut n) = (0.0, 0.0);
                while h < p1 {
                    if let Some(g) = hourly.get(&zone, h) {
                        sum += g;
                        n += 1.0;
                    }
                    h += 3600;
                }
                (n > 0.0).then(|| sum / n)
            });
            let source = hourly.source(&zone);
            use_factor(
                &mut res.factors,
                format!("grid {zone} hourly"),
                if total > 0.0 {
                    weighted / total
                } else {
                    intensity
                },
                "gCO2e/kWh (job-weighted mean)",
                &format!("hourly series from {source}"),
                None,
            );
            (
                if total > 0.0 {
                    weighted / total
                } else {
                    intensity
                },
                factor_year,
            )
        } else {
            (intensity, factor_year)
        };

        // Hardware, energy tier and embodied rate.
        let hw = factors.hardware(&job.hardware);
        let duration_h = duration_s / 3600.0;
        let device_hours_full = job.gpu_hours.unwrap_or(job.devices * duration_h);
        let power_w = job
            .avg_power_w
            .or_else(|| hw.and_then(|h| h.tdp_w).map(|t| t * cfg.utilisation));
        if hw.is_none() && job.devices > 0.0 && !(job.from_codecarbon && job.hardware == "unknown")
        {
            let e = unknown_hw.entry(job.hardware.clone()).or_insert((
                0,
                job.origin.file.clone(),
                job.origin.line,
            ));
            e.0 += 1;
        }
        // The best tier available: a meter for the whole job (energy_kwh, CodeCarbon), energy
        // counters (DCGM), power samples, else an estimate.
        let device_s = job.devices * inside;
        let from_telemetry = |j: f64, covered: f64| {
            let mut coverage = if device_s > 0.0 {
                covered / device_s
            } else {
                0.0
            };
            // Float noise on a fully covered job must not read as over-coverage.
            if coverage > 1.0 && coverage < 1.0 + 1e-9 {
                coverage = 1.0;
            }
            let imputed = if covered > 0.0 && device_s > covered {
                j / covered * (device_s - covered)
            } else {
                0.0
            };
            (j / 3.6e6, imputed / 3.6e6, coverage)
        };
        let mut telemetry_tier = None;
        if job.metered.is_none() {
            if let Some(t) = tel {
                if t.counter_covered_s > 0.0 {
                    telemetry_tier = Some((
                        Tier::Metered,
                        from_telemetry(t.counter_j, t.counter_covered_s),
                    ));
                } else if t.covered_s > 0.0 {
                    telemetry_tier =
                        Some((Tier::Sampled, from_telemetry(t.sampled_j, t.covered_s)));
                } else if job.nodes.is_some() {
                    unsampled.push(job.job_id.clone());
                }
            }
        }
        let (tier, it_kwh_full) = match (&job.metered, power_w, telemetry_tier) {
            (Some(m), _, _) => (Tier::Metered, m.it_kwh),
            (None, _, Some((tier, (measured, imputed, coverage)))) => {
                if imputed > 0.0 {
                    imputed_jobs.0 += 1;
                    imputed_jobs.1 += imputed;
                }
                if coverage > 1.001 {
                    over_covered.push(format!("{} ({:.0} %)", job.job_id, coverage * 100.0));
                }
                (tier, measured + imputed)
            }
            (None, Some(p), None) => {
                if job.avg_power_w.is_none() {
                    if let Some(h) = hw {
                        use_factor(
                            &mut res.factors,
                            format!("TDP {}", h.name),
                            h.tdp_w.unwrap_or(0.0),
                            "W",
                            &h.source,
                            h.year,
                        );
                    }
                }
                (Tier::Estimated, device_hours_full * p / 1000.0)
            }
            (None, None, None) => {
                let why = match hw {
                    Some(h) => format!("'{}' has no published TDP", h.name),
                    None => format!("hardware '{}' is not in the hardware table", job.hardware),
                };
                res.findings.push(at(Finding::error(
                    codes::JOBS_NO_POWER,
                    format!("job '{}': no energy can be estimated: no energy_kwh, no avg_power_w, and {why}; give one of them or a [[hardware]] entry; the job is not counted", job.job_id),
                )));
                continue;
            }
        };
        let embodied = hw.and_then(|h| {
            let e = h.embodied_kgco2e?;
            let life = h.lifetime_years.unwrap_or(factors::DEFAULT_LIFETIME_YEARS);
            let uf = h.use_factor.unwrap_or(factors::DEFAULT_USE_FACTOR);
            let (src, year) = match &h.embodied_source {
                Some(s) => (s.as_str(), None),
                None => (h.source.as_str(), h.year),
            };
            let default_src = "greenledger default (documented assumption)";
            use_factor(
                &mut res.factors,
                format!("embodied {}", h.name),
                e,
                "kgCO2e/device",
                src,
                year,
            );
            use_factor(
                &mut res.factors,
                format!("lifetime {}", h.name),
                life,
                "years",
                if h.lifetime_years.is_some() {
                    src
                } else {
                    default_src
                },
                year,
            );
            use_factor(
                &mut res.factors,
                format!("use factor {}", h.name),
                uf,
                "ratio",
                if h.use_factor.is_some() {
                    src
                } else {
                    default_src
                },
                year,
            );
            Some(e / (life * 8760.0 * uf))
        });
        let wue = site.and_then(|s| s.wue_l_per_kwh);
        if let (Some(s), Some(w)) = (site, wue) {
            use_factor(
                &mut res.factors,
                format!("WUE {}", s.id),
                w,
                "L/kWh",
                &format!("greenledger.toml [[site]] {}", s.id),
                None,
            );
        }
        let (energy_fraction, sampled_kwh, imputed_kwh, coverage) = match telemetry_tier {
            Some((_, (m, i, c))) if job.metered.is_none() => (1.0, Some(m), Some(i), Some(c)),
            _ => (fraction, None, None, None),
        };
        let months = month_weights(
            clip_a,
            clip_b,
            tel.filter(|t| t.covered_s > 0.0 && job.metered.is_none())
                .map(|t| &t.hourly_j),
        );
        res.rows.push(Resolved {
            months,
            hourly: hourly_used,
            shift_best: if hourly_used {
                best_shift(hourly, &zone, clip_a.timestamp(), clip_b.timestamp())
            } else {
                None
            },
            zone_period_avg: if hourly_used {
                zone_avgs.get(&zone).copied().flatten()
            } else {
                None
            },
            tdp_w: hw.and_then(|h| h.tdp_w),
            tflops: hw.and_then(|h| h.tflops),
            measured_power_w: match (tier, tel) {
                (Tier::Sampled, Some(t)) if t.covered_s > 0.0 => Some(t.sampled_j / t.covered_s),
                (Tier::Metered, _) if device_hours_full > 0.0 && energy_fraction_is_whole(&job) => {
                    Some(it_kwh_full * 1000.0 / device_hours_full)
                }
                (Tier::Metered, Some(t)) if t.counter_covered_s > 0.0 => {
                    Some(t.counter_j / t.counter_covered_s)
                }
                (Tier::Estimated, _) => job.avg_power_w,
                _ => None,
            },
            tier,
            fraction,
            energy_fraction,
            sampled_kwh,
            imputed_kwh,
            coverage,
            device_hours_full,
            it_kwh_full,
            pue,
            intensity_g_per_kwh: intensity,
            zone,
            factor_year,
            embodied_per_device_hour: embodied,
            wue_l_per_kwh: wue,
            hardware_name: hw.map(|h| h.name.clone()),
            power_w: if tier == Tier::Estimated {
                power_w
            } else {
                None
            },
            job,
        });
    }
    for (name, (n, file, line)) in unknown_hw {
        res.findings.push(
            Finding::warning(
                codes::JOBS_UNKNOWN_HARDWARE,
                format!("hardware '{name}' ({n} job(s)) is not in the hardware table: its embodied emissions are unknown; add a [[hardware]] entry"),
            )
            .at(&file, Some(line)),
        );
    }
    for (who, n) in default_pue_users {
        res.findings.push(Finding::info(
            codes::SITE_DEFAULT_PUE,
            format!("{n} job(s) of {who} have no configured PUE for some or all of their time; the default {default_pue} ({default_pue_source}) applies there"),
        ));
    }
    for (zone, country) in fallback_zones {
        res.findings.push(Finding::warning(
            codes::ZONE_NO_FACTOR,
            format!("zone '{zone}' has no factor of its own; the annual average of {country} is used (give a grid file or the site's grid_intensity_g_per_kwh for a better figure)"),
        ));
    }
    for (zone, n) in &missing_hours {
        res.findings.push(Finding::warning(
            codes::GRID_MISSING_HOURS,
            format!("{n} job-hours in zone {zone} have no hourly grid data; they take the annual factor"),
        ));
    }
    if imputed_jobs.0 > 0 {
        res.findings.push(Finding::info(
            codes::TELEMETRY_IMPUTED,
            format!(
                "{} job(s) had device-time without valid samples; {:.3} kWh were imputed at each job's mean measured power (imputed_kwh in the job rows)",
                imputed_jobs.0, imputed_jobs.1
            ),
        ));
    }
    if !unsampled.is_empty() {
        res.findings.push(Finding::warning(
            codes::TELEMETRY_NO_SAMPLES,
            format!(
                "{} job(s) list nodes but no telemetry covers them, so they are estimated: {}",
                unsampled.len(),
                unsampled.join(", ")
            ),
        ));
    }
    if !over_covered.is_empty() {
        res.findings.push(Finding::warning(
            codes::TELEMETRY_IMPUTED,
            format!("telemetry covers more device-time than devices x duration for: {} (check the devices and gpu_ids columns)", over_covered.join(", ")),
        ));
    }
    if straddling > 0 {
        res.findings.push(Finding::info(
            codes::JOBS_PARTLY_OUTSIDE_PERIOD,
            format!("{straddling} job(s) run past the edges of the period {}; their energy, GPU-hours and emissions are prorated by time", period.label),
        ));
    }
    let year = period.year();
    let old: Vec<String> = res
        .factors
        .values()
        .filter(|f| f.unit == "gCO2e/kWh" && f.year.is_some_and(|y| y != year))
        .map(|f| format!("{} ({})", f.name, f.year.unwrap_or_default()))
        .collect();
    if !old.is_empty() {
        res.findings.push(Finding::info(
            codes::FACTOR_YEAR,
            format!("the period is in {year}, but the latest annual grid factors available are from other years: {}", old.join(", ")),
        ));
    }
    res
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
