//! The hourly Scope 2 (GHG Protocol Scope 2 revision, EnergyTag granular certificates): per site
//! and hour, the facility energy consumed (sampled jobs by their hourly energy profile, other
//! consumers spread evenly over their time) is matched with the deliverable certificates
//! produced in that hour; the rest takes the residual mix (else the grid factor); an hour's excess is not carried.
//! The 24/7 CFE score adds the grid's carbon-free share of each unmatched hour.

use super::market::Consumer;
use crate::config::{Config, Site};
use crate::findings::{codes, Finding};
use crate::ingest::certificates::Certificate;
use crate::ingest::grid::Hourly as Grid;
use crate::ledger::hourly::{
    Exemption, ExemptionOption, HourRow, HourlyAmounts, HourlySite, HourlyWhatIf, Scope2Hourly,
};
use crate::timeutil::Period;
use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeMap;

/// The thresholds (GWh a year) under which the revision's drafts let small consumers keep
/// monthly or annual matching.
const EXEMPTIONS_GWH: [f64; 3] = [5.0, 10.0, 50.0];

/// Whether a certificate issued in market zone `cert` can be delivered to a site in `site`:
/// the same zone, or a bidding zone inside the certificate's (`SE3` in `SE`, `SE-SE3` in `SE`).
pub(crate) fn deliverable(cert: &str, site: &str) -> bool {
    let (c, s) = (cert.to_uppercase(), site.to_uppercase());
    if c == s || s.starts_with(&format!("{c}-")) {
        return true;
    }
    s.len() > c.len() && s.starts_with(&c) && s[c.len()..].bytes().all(|b| b.is_ascii_digit())
}

/// Per hour of one site: consumed kWh and location kg, deliverable and other certificates' kWh.
#[derive(Debug, Clone, Copy, Default)]
struct Hour {
    kwh: f64,
    location_kg: f64,
    deliverable_kwh: f64,
    other_kwh: f64,
}

fn hour_start(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(3600) * 3600
}

/// Spread `amount` evenly over `[start, end)` into the hours it touches.
fn spread(start: DateTime<Utc>, end: DateTime<Utc>, mut add: impl FnMut(i64, f64)) {
    let (a, b) = (start.timestamp(), end.timestamp());
    if b <= a {
        return;
    }
    for (h, s) in super::resolve::grid::hours_of(a, b) {
        add(h, s / (b - a) as f64);
    }
}

/// A consumer's energy into its hours: by its profile where telemetry gives one, else evenly
/// over its time.
fn spread_consumer(c: &Consumer, mut add: impl FnMut(i64, f64)) {
    match &c.profile {
        Some(p) => {
            let total: f64 = p.iter().map(|(_, w)| w).sum();
            if total > 0.0 {
                for (h, w) in p {
                    add(*h, w / total);
                }
            }
        }
        None => spread(c.start, c.end, add),
    }
}

/// The sampled jobs' hourly energy profiles by job id (telemetry covering the job and no meter
/// of its own: as the hourly grid factors weigh them), when certificates are given (else none:
/// nothing reads them).
pub(crate) fn profiles(
    jobs: &[crate::ingest::Job],
    attribution: Option<&super::energy::Attribution>,
    wanted: bool,
) -> std::collections::HashMap<String, Vec<(i64, f64)>> {
    let (Some(a), true) = (attribution, wanted) else {
        return Default::default();
    };
    jobs.iter()
        .zip(&a.jobs)
        .filter_map(|(j, t)| {
            let p = super::resolve::grid::energy_profile(j, Some(t))?;
            Some((j.job_id.clone(), p.iter().map(|(h, w)| (*h, *w)).collect()))
        })
        .collect()
}

/// What became of one site-hour's consumption: the matched fraction, the kg per unmatched
/// kWh, and the grid's carbon-free share.
#[derive(Debug, Clone, Copy)]
struct Fate {
    matched: f64,
    rate: f64,
    cfe: Option<f64>,
}

/// One consumer's share of the hourly matching.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Share {
    pub matched_kwh: f64,
    pub unmatched_kwh: f64,
    pub market_kg: f64,
    /// matched + unmatched x the grid's CFE share (`None` without the share).
    pub cfe_kwh: Option<f64>,
}

/// The hourly Scope 2 and each consumer's share of it (`None` for consumers at no owned or
/// colocation site).
pub(crate) struct Matching {
    pub table: Scope2Hourly,
    pub shares: Vec<Option<Share>>,
}

/// The hourly Scope 2 of the owned and colocation sites, from the consumers (jobs and inventory
/// lines, the first `teams.len()` of them jobs of those teams) and the certificates; `None`
/// without certificates.
pub(crate) fn scope2_hourly(
    cfg: &Config,
    consumers: &[Consumer],
    teams: &[&str],
    certificates: &[Certificate],
    grid: &Grid,
    period: &Period,
) -> (Option<Matching>, Vec<Finding>) {
    let mut findings = Vec::new();
    if certificates.is_empty() {
        return (None, findings);
    }
    let mut hours: BTreeMap<&str, BTreeMap<i64, Hour>> = BTreeMap::new();
    for c in consumers {
        let Some(site) = c.site.as_deref().and_then(|s| cfg.site(s)) else {
            continue;
        };
        if !site.kind.scope2() {
            continue;
        }
        let m = hours.entry(site.id.as_str()).or_default();
        spread_consumer(c, |h, share| {
            let e = m.entry(h).or_default();
            e.kwh += c.facility_kwh * share;
            e.location_kg += c.location_kg * share;
        });
    }
    let mut outside = 0usize;
    for cert in certificates {
        let Some(site) = cfg.site(&cert.site) else {
            continue;
        };
        if !site.kind.scope2() {
            findings.push(
                Finding::error(
                    codes::CERTIFICATES_CLOUD_SITE,
                    format!(
                        "certificate {} names cloud site '{}': the provider buys that electricity, so the organisation's certificates cannot cover it; it is not used",
                        cert.id, site.id
                    ),
                )
                .at(&cert.file, Some(cert.line)),
            );
            continue;
        }
        let (start, end) = (cert.start.max(period.start), cert.end.min(period.end));
        if end <= start {
            outside += 1;
            continue;
        }
        // The part of its production inside the period, by time.
        let inside =
            (end - start).num_seconds() as f64 / (cert.end - cert.start).num_seconds() as f64;
        let kwh = cert.wh / 1000.0 * inside;
        let ok = site
            .zone
            .as_deref()
            .is_some_and(|z| deliverable(&cert.zone, z));
        let m = hours.entry(site.id.as_str()).or_default();
        spread(start, end, |h, share| {
            let e = m.entry(h).or_default();
            if ok {
                e.deliverable_kwh += kwh * share;
            } else {
                e.other_kwh += kwh * share;
            }
        });
    }
    if outside > 0 {
        findings.push(Finding::info(
            codes::CERTIFICATES_OUTSIDE,
            format!("{outside} certificate(s) were produced outside the period and are not used"),
        ));
    }
    let mut out = Scope2Hourly {
        headline_method: cfg.report.scope2_method.as_str().to_string(),
        ..Default::default()
    };
    let mut fates: BTreeMap<&str, BTreeMap<i64, Fate>> = BTreeMap::new();
    for (id, by_hour) in &hours {
        let Some(site) = cfg.site(id) else { continue };
        let (line, rows, fate) = site_hours(site, by_hour, grid, period, &mut findings);
        out.sites.push(line);
        out.hours.extend(rows);
        fates.insert(id, fate);
    }
    out.totals = totals(&out.sites);
    let shares = shares(cfg, consumers, &fates);
    out.whatifs = whatifs(consumers, teams, &shares, &out.sites);
    use chrono::Datelike;
    let year_h = if chrono::NaiveDate::from_ymd_opt(period.start.year(), 2, 29).is_some() {
        8784.0
    } else {
        8760.0
    };
    let period_h = (period.end - period.start).num_seconds() as f64 / 3600.0;
    let annual_gwh = out.totals.consumption_kwh * year_h / period_h.max(1.0) / 1e6;
    out.exemption = Exemption {
        annual_gwh,
        options: EXEMPTIONS_GWH
            .iter()
            .map(|&g| ExemptionOption {
                gwh_per_year: g,
                under: annual_gwh < g,
            })
            .collect(),
    };
    (Some(Matching { table: out, shares }), findings)
}

/// Each consumer's matched and unmatched energy, market kg and CFE-weighted energy: its energy
/// in each hour takes that site-hour's fate.
fn shares(
    cfg: &Config,
    consumers: &[Consumer],
    fates: &BTreeMap<&str, BTreeMap<i64, Fate>>,
) -> Vec<Option<Share>> {
    consumers
        .iter()
        .map(|c| {
            let site = c.site.as_deref().and_then(|s| cfg.site(s))?;
            let fate = fates.get(site.id.as_str())?;
            let mut s = Share {
                cfe_kwh: Some(0.0),
                ..Default::default()
            };
            spread_consumer(c, |h, share| {
                let Some(f) = fate.get(&h) else { return };
                let kwh = c.facility_kwh * share;
                let (m, u) = (kwh * f.matched, kwh * (1.0 - f.matched));
                s.matched_kwh += m;
                s.unmatched_kwh += u;
                s.market_kg += u * f.rate;
                s.cfe_kwh = match (s.cfe_kwh, f.cfe) {
                    (Some(acc), Some(g)) => Some(acc + m + u * g),
                    _ => None,
                };
            });
            Some(s)
        })
        .collect()
}

/// Per team and site: the team's unmatched energy against the certificates the site left
/// unmatched; what matching them would gain.
fn whatifs(
    consumers: &[Consumer],
    teams: &[&str],
    shares: &[Option<Share>],
    sites: &[HourlySite],
) -> Vec<HourlyWhatIf> {
    let mut by: BTreeMap<(&str, &str), Share> = BTreeMap::new();
    for ((c, team), s) in consumers.iter().zip(teams).zip(shares) {
        let (Some(site), Some(s)) = (c.site.as_deref(), s) else {
            continue;
        };
        let e = by.entry((team, site)).or_insert(Share {
            cfe_kwh: Some(0.0),
            ..Default::default()
        });
        e.matched_kwh += s.matched_kwh;
        e.unmatched_kwh += s.unmatched_kwh;
        e.market_kg += s.market_kg;
        e.cfe_kwh = e.cfe_kwh.zip(s.cfe_kwh).map(|(a, b)| a + b);
    }
    let mut out = Vec::new();
    for ((team, site), s) in by {
        let Some(line) = sites.iter().find(|l| l.site == site) else {
            continue;
        };
        let excess = line.amounts.excess_kwh;
        let gain = s.unmatched_kwh.min(excess);
        if gain <= 0.0 {
            continue;
        }
        let total = s.matched_kwh + s.unmatched_kwh;
        // The unmatched energy's mean carbon-free share, which matching would replace by 1.
        let cfe_unmatched = s
            .cfe_kwh
            .map(|c| (c - s.matched_kwh) / s.unmatched_kwh.max(f64::MIN_POSITIVE));
        out.push(HourlyWhatIf {
            team: team.to_string(),
            site: site.to_string(),
            unmatched_kwh: s.unmatched_kwh,
            excess_kwh: excess,
            gain_kwh: gain,
            saving_kgco2e: s.market_kg * gain / s.unmatched_kwh,
            cfe_now: s.cfe_kwh.map(|c| c / total),
            cfe_if_shifted: s
                .cfe_kwh
                .zip(cfe_unmatched)
                .map(|(c, g)| (c + gain * (1.0 - g)) / total),
        });
    }
    out
}

/// One site's line and hour rows.
fn site_hours(
    site: &Site,
    by_hour: &BTreeMap<i64, Hour>,
    grid: &Grid,
    period: &Period,
    findings: &mut Vec<Finding>,
) -> (HourlySite, Vec<HourRow>, BTreeMap<i64, Fate>) {
    let series = site.zone.as_deref().and_then(|z| grid.cfe_series(z));
    // A missing hour takes the series' mean over the period (else over all it holds).
    let mean = series.and_then(|s| {
        let (a, b) = (hour_start(period.start), hour_start(period.end));
        let inside: Vec<f64> = s.range(a..b).map(|(_, v)| *v).collect();
        let pool: Vec<f64> = if inside.is_empty() {
            s.values().copied().collect()
        } else {
            inside
        };
        (!pool.is_empty()).then(|| pool.iter().sum::<f64>() / pool.len() as f64)
    });
    let mut l = HourlySite {
        site: site.id.clone(),
        zone: site.zone.clone(),
        ..Default::default()
    };
    let (mut cfe_num, mut rows, mut fate) = (0.0, Vec::new(), BTreeMap::new());
    for (&h, x) in by_hour {
        let matched = x.kwh.min(x.deliverable_kwh);
        let unmatched = x.kwh - matched;
        let rate = match site.residual_mix_g_per_kwh {
            Some(g) => g / 1000.0,
            None if x.kwh > 0.0 => x.location_kg / x.kwh,
            None => 0.0,
        };
        let share = match series.and_then(|s| s.get(&h)) {
            Some(v) => Some(*v),
            None if x.kwh > 0.0 => {
                l.cfe_hours_filled += u64::from(mean.is_some());
                mean
            }
            None => mean,
        };
        cfe_num += matched + unmatched * share.unwrap_or(0.0);
        if x.kwh > 0.0 {
            fate.insert(
                h,
                Fate {
                    matched: matched / x.kwh,
                    rate,
                    cfe: share,
                },
            );
        }
        l.amounts.consumption_kwh += x.kwh;
        l.amounts.matched_kwh += matched;
        l.amounts.unmatched_kwh += unmatched;
        l.amounts.market_kgco2e += unmatched * rate;
        l.amounts.excess_kwh += x.deliverable_kwh - matched;
        l.amounts.not_deliverable_kwh += x.other_kwh;
        l.amounts.certificates_kwh += x.deliverable_kwh + x.other_kwh;
        rows.push(HourRow {
            site: site.id.clone(),
            hour: Utc
                .timestamp_opt(h, 0)
                .single()
                .map(crate::timeutil::fmt_utc)
                .unwrap_or_default(),
            consumption_kwh: x.kwh,
            matched_kwh: matched,
            excess_kwh: x.deliverable_kwh - matched,
            unmatched_kwh: unmatched,
            not_deliverable_kwh: x.other_kwh,
            grid_cfe: share,
        });
    }
    let share = |a: f64| (l.amounts.consumption_kwh > 0.0).then(|| a / l.amounts.consumption_kwh);
    l.amounts.matched_share = share(l.amounts.matched_kwh);
    l.amounts.cfe_score = if series.is_some() {
        share(cfe_num)
    } else {
        None
    };
    if l.amounts.not_deliverable_kwh > 0.0 {
        findings.push(Finding::warning(
            codes::CERTIFICATES_NOT_DELIVERABLE,
            format!(
                "site {}: {:.3} kWh of certificates were issued in another market zone than the site's ({}): not deliverable, not used",
                site.id,
                l.amounts.not_deliverable_kwh,
                site.zone.as_deref().unwrap_or("no zone")
            ),
        ));
    }
    (l, rows, fate)
}

/// The sites' sums; the CFE score over the sites that have one, weighted by consumption.
fn totals(sites: &[HourlySite]) -> HourlyAmounts {
    let mut t = HourlyAmounts::default();
    let (mut cfe_num, mut cfe_den) = (0.0, 0.0);
    for s in sites.iter().map(|s| &s.amounts) {
        t.consumption_kwh += s.consumption_kwh;
        t.matched_kwh += s.matched_kwh;
        t.unmatched_kwh += s.unmatched_kwh;
        t.market_kgco2e += s.market_kgco2e;
        t.excess_kwh += s.excess_kwh;
        t.not_deliverable_kwh += s.not_deliverable_kwh;
        t.certificates_kwh += s.certificates_kwh;
        if let Some(c) = s.cfe_score {
            cfe_num += c * s.consumption_kwh;
            cfe_den += s.consumption_kwh;
        }
    }
    t.matched_share = (t.consumption_kwh > 0.0).then(|| t.matched_kwh / t.consumption_kwh);
    t.cfe_score = (cfe_den > 0.0).then(|| cfe_num / cfe_den);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliverability_by_zone() {
        assert!(deliverable("GB", "GB"));
        assert!(!deliverable("FR", "GB"));
        assert!(deliverable("SE", "SE3"));
        assert!(deliverable("SE", "SE-SE3"));
        assert!(!deliverable("SE3", "SE4"));
        assert!(!deliverable("DE", "DK1"));
    }

    #[test]
    fn spreading_keeps_the_whole_amount() {
        let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let mut got = BTreeMap::new();
        spread(
            t("2026-07-01T00:30:00Z"),
            t("2026-07-01T02:00:00Z"),
            |h, s| {
                got.insert(h, s);
            },
        );
        let v: Vec<f64> = got.values().copied().collect();
        assert_eq!(v.len(), 2);
        assert!((v[0] - 1.0 / 3.0).abs() < 1e-12 && (v[1] - 2.0 / 3.0).abs() < 1e-12);
    }
}
