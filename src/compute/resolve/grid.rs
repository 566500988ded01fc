//! A job's grid factor: the site's configured intensity, else its zone's annual factor (a
//! `--grid` annual table before the embedded one), then hourly factors where `--grid` has them,
//! weighted by the job's energy profile or its time.

use super::{GridUse, JobContext, Resolver};
use crate::findings::{codes, Finding};
use crate::ingest::grid::Hourly;

impl Resolver<'_> {
    /// The annual factor that applies to the job, or `None` (with an error finding) when the
    /// job has no location or its zone no factor. A zone with hourly data but no annual factor
    /// gets NaN here: hours without data are then reported by [`Self::hourly_factor`].
    pub(super) fn annual_factor(&mut self, ctx: &JobContext) -> Option<GridUse> {
        if let Some(s) = ctx.site {
            if let Some(g) = s.grid_intensity_g_per_kwh {
                self.res.use_factor(
                    format!("grid {}", s.id),
                    g,
                    "gCO2e/kWh",
                    &format!(
                        "greenledger.toml [[site]] {} grid_intensity_g_per_kwh",
                        s.id
                    ),
                    None,
                );
                return Some(annual(g, format!("site:{}", s.id), None));
            }
        }
        let zone = ctx
            .site
            .and_then(|s| s.zone.clone())
            .or_else(|| ctx.job.zone.clone());
        let Some(zn) = zone else {
            let f = ctx.at(Finding::error(codes::JOBS_NO_LOCATION, format!("job '{}' has no site and no zone, so no grid factor applies; the job is not counted", ctx.job.job_id)));
            self.res.findings.push(f);
            return None;
        };
        self.zone_factor(ctx, &zn)
    }

    /// The annual factor of a named zone: embedded (or its country's), with a `--grid` annual
    /// table of the period's year taking precedence.
    fn zone_factor(&mut self, ctx: &JobContext, zn: &str) -> Option<GridUse> {
        let year = self.period.year();
        if let Some(m) = self.factors.zone(zn) {
            let own = zn.to_uppercase();
            if m.fallback && self.hourly.has(&own) {
                // A sub-national zone with its own hourly series (--grid) uses it; the country's
                // annual factor only fills hours the series lacks (and those are reported).
                let (g, y, name, source) = match self.hourly.annual_for(&[zn], year) {
                    Some((g, y, source)) => (g, y, format!("grid {zn} ({source})"), source),
                    None => (
                        m.factor.g_per_kwh,
                        Some(m.factor.year),
                        format!("grid {} (fills hours {zn}'s series lacks)", m.factor.zone),
                        format!("{} ({})", m.factor.source, m.factor.licence),
                    ),
                };
                self.res.use_factor(name, g, "gCO2e/kWh", &source, y);
                return Some(annual(g, own, y));
            }
            if m.fallback {
                self.tallies
                    .fallback_zones
                    .insert(zn.to_string(), m.factor.zone.clone());
            }
            let f = m.factor;
            // An hourly series may be keyed by any spelling of the zone (Zone Id, ISO-2, or
            // ISO-3 in a Country column): the one the --grid file uses is the series' key.
            let key = [f.zone.as_str(), f.iso3.as_str()]
                .into_iter()
                .find(|k| self.hourly.has(k))
                .unwrap_or(f.zone.as_str())
                .to_string();
            if let Some((g, y, source)) = self
                .hourly
                .annual_for(&[f.zone.as_str(), f.iso3.as_str(), zn], year)
            {
                self.res.use_factor(
                    format!("grid {} ({source})", f.zone),
                    g,
                    "gCO2e/kWh",
                    &source,
                    y,
                );
                return Some(annual(g, key, y));
            }
            // A factor of another year than the period's says so in its own row (and a
            // finding lists them all).
            let other_year = if f.year != year {
                format!("; the latest year available, {}, stands for {year}", f.year)
            } else {
                String::new()
            };
            self.res.use_factor(
                format!("grid {}", f.zone),
                f.g_per_kwh,
                "gCO2e/kWh",
                &format!("{} ({}){other_year}", f.source, f.licence),
                Some(f.year),
            );
            return Some(annual(f.g_per_kwh, key, Some(f.year)));
        }
        if let Some((g, y, source)) = self.hourly.annual_for(&[zn], year) {
            self.res
                .use_factor(format!("grid {zn} ({source})"), g, "gCO2e/kWh", &source, y);
            return Some(annual(g, zn.to_uppercase(), y));
        }
        if self.hourly.has(zn) {
            // No annual factor, but hourly data: missing hours will be reported.
            return Some(annual(f64::NAN, zn.to_uppercase(), None));
        }
        let f = ctx.at(Finding::error(
            codes::ZONE_NO_FACTOR,
            format!("job '{}': zone '{zn}' has no grid factor (use an ISO country code, a bidding zone or a cloud region, or set grid_intensity_g_per_kwh on the site); the job is not counted", ctx.job.job_id),
        ));
        self.res.findings.push(f);
        None
    }

    /// Hourly factors: each hour of the job's time in the period meets that hour's intensity,
    /// weighted by the job's sampled energy per hour when telemetry gives a profile, else by
    /// its time in each hour; hours without data take the annual factor. `None` (with an error
    /// finding) when hours lack data and there is no annual factor to fill them.
    pub(super) fn hourly_factor(&mut self, ctx: &JobContext, annual: GridUse) -> Option<GridUse> {
        let zone = annual.zone.clone();
        if zone.starts_with("site:") || !self.hourly.has(&zone) {
            return Some(annual);
        }
        let (mut weighted, mut total, mut missing) = (0.0, 0.0, 0u64);
        for (h, w) in hour_weights(ctx) {
            match self.hourly.get(&zone, h) {
                Some(g) => weighted += w * g,
                None => {
                    missing += 1;
                    weighted += w * annual.intensity;
                }
            }
            total += w;
        }
        if missing > 0 {
            *self.tallies.missing_hours.entry(zone.clone()).or_default() += missing;
        }
        if !weighted.is_finite() {
            let f = ctx.at(Finding::error(
                codes::ZONE_NO_FACTOR,
                format!("job '{}': zone '{zone}' has hourly data but not for all of the job's hours, and no annual factor to fill them; the job is not counted", ctx.job.job_id),
            ));
            self.res.findings.push(f);
            return None;
        }
        let (hourly, period) = (self.hourly, self.period);
        self.tallies
            .zone_avgs
            .entry(zone.clone())
            .or_insert_with(|| {
                period_mean(
                    hourly,
                    &zone,
                    period.start.timestamp(),
                    period.end.timestamp(),
                )
            });
        let intensity = if total > 0.0 {
            weighted / total
        } else {
            annual.intensity
        };
        let source = self.hourly.source(&zone);
        self.res.use_factor(
            format!("grid {zone} hourly"),
            intensity,
            "gCO2e/kWh (job-weighted mean)",
            &format!("hourly series from {source}"),
            None,
        );
        Some(GridUse {
            intensity,
            zone,
            year: annual.year,
            hourly: true,
        })
    }
}

/// An annual (not hourly) grid factor.
fn annual(intensity: f64, zone: String, year: Option<i32>) -> GridUse {
    GridUse {
        intensity,
        zone,
        year,
        hourly: false,
    }
}

/// A job's energy profile, its sampled joules per hour (hour start), when telemetry covers it
/// and no meter of its own does: what its hours weigh for hourly grid factors and the hourly
/// Scope 2.
pub(crate) fn energy_profile<'t>(
    job: &crate::ingest::Job,
    tel: Option<&'t crate::compute::energy::JobTelemetry>,
) -> Option<&'t std::collections::BTreeMap<i64, f64>> {
    tel.filter(|t| t.covered_s > 0.0 && !t.hourly_j.is_empty() && job.metered.is_none())
        .map(|t| &t.hourly_j)
}

/// The weight of each hour of the job's time in the period (hour start, weight): its sampled
/// joules when telemetry gives a profile (and no meter covers the job), else its seconds.
fn hour_weights(ctx: &JobContext) -> Vec<(i64, f64)> {
    if let Some(p) = energy_profile(ctx.job, ctx.tel) {
        return p.iter().map(|(h, j)| (*h, *j)).collect();
    }
    hours_of(ctx.clip_a.timestamp(), ctx.clip_b.timestamp())
}

/// The zone's mean hourly intensity over `[p0, p1)`, over the hours that have data.
fn period_mean(hourly: &Hourly, zone: &str, p0: i64, p1: i64) -> Option<f64> {
    let mut h = p0.div_euclid(3600) * 3600;
    let (mut sum, mut n) = (0.0, 0.0);
    while h < p1 {
        if let Some(g) = hourly.get(zone, h) {
            sum += g;
            n += 1.0;
        }
        h += 3600;
    }
    (n > 0.0).then(|| sum / n)
}

/// The lowest mean intensity of `[a, b)` shifted by whole hours within +-12 h, over shifts whose
/// every hour has data (energy spread evenly).
pub(super) fn best_shift(hourly: &Hourly, zone: &str, a: i64, b: i64) -> Option<f64> {
    let mut best: Option<f64> = None;
    for k in -12i64..=12 {
        if let Some(g) = shifted_mean(hourly, zone, a + k * 3600, b + k * 3600) {
            best = Some(best.map_or(g, |x: f64| x.min(g)));
        }
    }
    best
}

/// The time-weighted mean intensity of `[sa, sb)`, when every hour of it has data.
fn shifted_mean(hourly: &Hourly, zone: &str, sa: i64, sb: i64) -> Option<f64> {
    let (mut weighted, mut total) = (0.0, 0.0);
    let mut h = sa.div_euclid(3600) * 3600;
    while h < sb {
        let w = ((h + 3600).min(sb) - h.max(sa)) as f64;
        weighted += w * hourly.get(zone, h)?;
        total += w;
        h += 3600;
    }
    (total > 0.0).then(|| weighted / total)
}

/// A site's annual grid factor, as a job at the site would get it (for the energy no job
/// claims): the configured intensity, else a `--grid` annual table of the year, else the
/// embedded factor, else NaN when only hourly data exist. `None` without any factor.
pub(crate) fn site_annual(
    factors: &crate::factors::Factors,
    hourly: &Hourly,
    site: &crate::config::Site,
    year: i32,
) -> Option<SiteGrid> {
    if let Some(g) = site.grid_intensity_g_per_kwh {
        return Some(SiteGrid {
            g,
            zone: format!("site:{}", site.id),
            hourly: false,
        });
    }
    let zn = site.zone.as_deref()?;
    let (g, zone) = match factors.zone(zn) {
        Some(m) if m.fallback && hourly.has(&zn.to_uppercase()) => (
            hourly
                .annual_for(&[zn], year)
                .map_or(m.factor.g_per_kwh, |(g, _, _)| g),
            zn.to_uppercase(),
        ),
        Some(m) => {
            let f = m.factor;
            let key = if !hourly.has(&f.zone) && hourly.has(&f.iso3) {
                f.iso3.clone()
            } else {
                f.zone.clone()
            };
            match hourly.annual_for(&[f.zone.as_str(), f.iso3.as_str(), zn], year) {
                Some((g, _, _)) => (g, key),
                None => (f.g_per_kwh, key),
            }
        }
        None => match hourly.annual_for(&[zn], year) {
            Some((g, _, _)) => (g, zn.to_uppercase()),
            None if hourly.has(zn) => (f64::NAN, zn.to_uppercase()),
            None => return None,
        },
    };
    Some(SiteGrid {
        hourly: hourly.has(&zone),
        g,
        zone,
    })
}

/// A site's grid factor for energy no job claims.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SiteGrid {
    /// The annual factor (NaN when only hourly data exist).
    pub g: f64,
    pub zone: String,
    /// Hourly data exist for the zone.
    pub hourly: bool,
}

impl SiteGrid {
    /// The intensity met by energy spread as `weights` (hour start, weight): each hour its
    /// hourly factor where given, else the annual one. Returns the intensity and whether
    /// hourly factors were used.
    pub(crate) fn weighted(&self, hourly: &Hourly, weights: &[(i64, f64)]) -> (f64, bool) {
        if !self.hourly {
            return (self.g, false);
        }
        let (mut sum, mut total) = (0.0, 0.0);
        for &(h, w) in weights {
            sum += w * hourly.get(&self.zone, h).unwrap_or(self.g);
            total += w;
        }
        if total > 0.0 {
            (sum / total, true)
        } else {
            (self.g, false)
        }
    }
}

/// The time in each hour of `[a, b)` (hour start, seconds).
pub(crate) fn hours_of(a: i64, b: i64) -> Vec<(i64, f64)> {
    let mut v = Vec::new();
    let mut h = a.div_euclid(3600) * 3600;
    while h < b {
        v.push((h, ((h + 3600).min(b) - h.max(a)) as f64));
        h += 3600;
    }
    v
}
