//! Scope 3 category 1 (purchased goods and services): the compute bought from public cloud
//! providers. A cloud region's electricity is the provider's Scope 2; for the organisation it
//! is part of a purchased service. One line per cloud site, from the cloud sites' rows of the
//! inventory (facility energy, plus what a meter alone saw, with their emissions).

use crate::config::{cloud_region, Site};
use crate::findings::{codes, Finding};
use crate::ledger::{InventoryRow, ProviderRow};
use crate::timeutil::{next_month_start, seconds, Period};
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What a provider's own carbon export says of a site for the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderReported {
    pub location_kgco2e: Option<f64>,
    pub market_kgco2e: Option<f64>,
    /// The provider's methodology version (its restatements differ).
    pub model_version: Option<String>,
    /// The export it comes from.
    pub source: String,
}

/// One cloud site over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CloudSite {
    pub site: String,
    /// `gcp`, `aws` or `azure`, from the site's zone; `null` when the zone names no provider.
    pub provider: Option<String>,
    /// The provider's region (`us-central1`), else the site's zone.
    pub region: Option<String>,
    /// Facility energy, plus what a meter alone saw.
    pub kwh: f64,
    pub location_kgco2e: f64,
    /// The jobs' share: their IT energy and location-based emissions (the rest is idle and
    /// unattributed energy of the site).
    pub jobs_it_kwh: f64,
    pub jobs_location_kgco2e: f64,
    /// The same with no instrument (the organisation's certificates cannot cover a cloud
    /// provider's electricity): the site's residual mix, else its grid factor.
    pub market_kgco2e: f64,
    /// The provider's own figure, when its export was given; `null` otherwise.
    pub provider_reported: Option<ProviderReported>,
    /// Ours less the provider's figure, by `difference_method`: location-based where the
    /// provider gives one, else market-based (Azure's one figure); `null` without an export.
    pub difference_kgco2e: Option<f64>,
    /// `location-based` or `market-based`; `null` without an export.
    pub difference_method: Option<String>,
}

/// The cloud sites' sum.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CloudTotals {
    pub kwh: f64,
    pub location_kgco2e: f64,
    pub market_kgco2e: f64,
    pub jobs_it_kwh: f64,
    pub jobs_location_kgco2e: f64,
}

/// Scope 3 category 1, the cloud share.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Category1Cloud {
    pub sites: Vec<CloudSite>,
    pub totals: CloudTotals,
}

/// The Scope 3 categories greenledger accounts for.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scope3 {
    pub category_1_cloud: Category1Cloud,
}

/// The cloud sites' lines (sites in config order) from their inventory rows, each with the
/// provider's own figure where `exports` hold its rows; findings for months without rows, for
/// restated exports and for rows no site claims.
pub fn table(
    rows: &[InventoryRow],
    sites: &[Site],
    exports: &[ProviderRow],
    period: &Period,
) -> (Scope3, Vec<Finding>) {
    let mut out = Category1Cloud::default();
    let mut findings = Vec::new();
    let mut claimed = vec![false; exports.len()];
    for site in sites.iter().filter(|s| !s.kind.scope2()) {
        let mine: Vec<&InventoryRow> = rows
            .iter()
            .filter(|r| r.site.as_deref() == Some(site.id.as_str()))
            .collect();
        if mine.is_empty() {
            continue;
        }
        let (provider, region) = match site.zone.as_deref().map(|z| (z, cloud_region(z))) {
            Some((_, Some((p, r)))) => (Some(p), Some(r)),
            Some((z, None)) => (None, Some(z.to_string())),
            None => (None, None),
        };
        let matching: Vec<usize> = (0..exports.len())
            .filter(|&i| claims(site, provider.as_deref(), region.as_deref(), &exports[i]))
            .collect();
        for &i in &matching {
            claimed[i] = true;
        }
        let picked: Vec<&ProviderRow> = matching.iter().map(|&i| &exports[i]).collect();
        let reported = reported(site, &picked, period, &mut findings);
        let location: f64 = mine.iter().map(|r| r.location_kgco2e).sum();
        let market: f64 = mine.iter().map(|r| r.market_kgco2e).sum();
        let difference =
            reported
                .as_ref()
                .and_then(|p| match (p.location_kgco2e, p.market_kgco2e) {
                    (Some(l), _) => Some((location - l, "location-based")),
                    (None, Some(m)) => Some((market - m, "market-based")),
                    (None, None) => None,
                });
        let line = CloudSite {
            site: site.id.clone(),
            provider,
            region,
            kwh: mine.iter().map(|r| r.scope2_kwh).sum(),
            location_kgco2e: location,
            jobs_it_kwh: mine.iter().map(|r| r.jobs_it_kwh).sum(),
            jobs_location_kgco2e: mine.iter().map(|r| r.jobs_location_kgco2e).sum(),
            market_kgco2e: market,
            difference_kgco2e: difference.map(|d| d.0),
            difference_method: difference.map(|d| d.1.to_string()),
            provider_reported: reported,
        };
        out.totals.kwh += line.kwh;
        out.totals.location_kgco2e += line.location_kgco2e;
        out.totals.market_kgco2e += line.market_kgco2e;
        out.totals.jobs_it_kwh += line.jobs_it_kwh;
        out.totals.jobs_location_kgco2e += line.jobs_location_kgco2e;
        out.sites.push(line);
    }
    findings.extend(unclaimed(exports, &claimed, period));
    (
        Scope3 {
            category_1_cloud: out,
        },
        findings,
    )
}

/// Whether a cloud site claims an export row: same provider and region, and the site's
/// project and account when it names them.
fn claims(site: &Site, provider: Option<&str>, region: Option<&str>, row: &ProviderRow) -> bool {
    let same = |want: &Option<String>, got: &Option<String>| {
        want.as_ref()
            .is_none_or(|w| got.as_deref() == Some(w.as_str()))
    };
    provider == Some(row.provider.as_str())
        && region == Some(row.region.as_str())
        && same(&site.cloud_project, &row.project)
        && same(&site.cloud_account, &row.account)
}

/// The first instant of a `YYYY-MM` month and of the next.
fn month_span(month: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let d = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    let start = Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN));
    Some((start, next_month_start(start)))
}

/// The share of a month inside the period (0 when outside).
fn share_in(month: &str, period: &Period) -> f64 {
    match month_span(month) {
        Some((a, b)) => period.overlap_s(a, b) / seconds(a, b),
        None => 0.0,
    }
}

/// The months that overlap the period, as `YYYY-MM`.
fn period_months(period: &Period) -> Vec<String> {
    let mut out = Vec::new();
    let mut t = period.start;
    while t < period.end {
        out.push(t.format("%Y-%m").to_string());
        t = next_month_start(t);
    }
    out
}

/// A version's numbers, for ordering (`v3.0.0` after `v2.10.1`, `12` after `9`).
fn version_key(v: &str) -> Vec<u64> {
    v.split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The provider's figure for one site over the period: per month, the rows of its latest model
/// version (earlier versions named in a finding), prorated by the month's share of the period;
/// months of the period without rows named in a finding. `None` when no row is the site's.
fn reported(
    site: &Site,
    rows: &[&ProviderRow],
    period: &Period,
    findings: &mut Vec<Finding>,
) -> Option<ProviderReported> {
    let inside: Vec<&ProviderRow> = rows
        .iter()
        .copied()
        .filter(|r| share_in(&r.month, period) > 0.0)
        .collect();
    if inside.is_empty() {
        return None;
    }
    let mut by_month: BTreeMap<&str, Vec<&ProviderRow>> = BTreeMap::new();
    for r in &inside {
        by_month.entry(r.month.as_str()).or_default().push(r);
    }
    let (mut location, mut market) = (Known::default(), Known::default());
    let (mut used, mut dropped) = (BTreeSet::new(), BTreeSet::new());
    for (month, rs) in &by_month {
        let latest = rs
            .iter()
            .filter_map(|r| r.model_version.as_deref())
            .max_by_key(|v| version_key(v));
        let share = share_in(month, period);
        for r in rs {
            if r.model_version.as_deref() != latest {
                dropped.extend(r.model_version.clone());
                continue;
            }
            used.extend(r.model_version.clone());
            location.add(r.location_kgco2e.map(|x| share * x));
            market.add(r.market_kgco2e.map(|x| share * x));
        }
    }
    let dropped: Vec<String> = dropped.difference(&used).cloned().collect();
    if !dropped.is_empty() {
        findings.push(Finding::info(
            codes::CLOUD_RESTATED,
            format!(
                "site {}: the provider's export restates months under model versions {}; the latest ({}) is used",
                site.id,
                dropped.join(", "),
                used.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let missing: Vec<String> = period_months(period)
        .into_iter()
        .filter(|m| !by_month.contains_key(m.as_str()))
        .collect();
    if !missing.is_empty() {
        findings.push(Finding::warning(
            codes::CLOUD_NO_MONTH,
            format!(
                "site {}: the provider's export has no row for {}; its figure covers the other months only",
                site.id,
                missing.join(", ")
            ),
        ));
    }
    let files: BTreeSet<&str> = inside.iter().map(|r| r.file.as_str()).collect();
    Some(ProviderReported {
        location_kgco2e: location.sum(),
        market_kgco2e: market.sum(),
        model_version: (!used.is_empty()).then(|| used.into_iter().collect::<Vec<_>>().join(", ")),
        source: format!(
            "{} export ({})",
            provider_name(&inside[0].provider),
            files.into_iter().collect::<Vec<_>>().join(", ")
        ),
    })
}

/// A sum that is known only when every term is.
#[derive(Default)]
struct Known {
    sum: f64,
    unknown: bool,
}

impl Known {
    fn add(&mut self, x: Option<f64>) {
        match x {
            Some(x) => self.sum += x,
            None => self.unknown = true,
        }
    }
    fn sum(&self) -> Option<f64> {
        (!self.unknown).then_some(self.sum)
    }
}

fn provider_name(p: &str) -> &str {
    match p {
        "gcp" => "Google Cloud Carbon Footprint",
        "aws" => "AWS Customer Carbon Footprint",
        "azure" => "Azure carbon optimisation",
        other => other,
    }
}

/// Rows of the period no cloud site claims: one note with their regions.
fn unclaimed(exports: &[ProviderRow], claimed: &[bool], period: &Period) -> Option<Finding> {
    let left: Vec<&ProviderRow> = exports
        .iter()
        .zip(claimed)
        .filter(|(r, c)| !**c && share_in(&r.month, period) > 0.0)
        .map(|(r, _)| r)
        .collect();
    if left.is_empty() {
        return None;
    }
    let regions: BTreeSet<String> = left
        .iter()
        .map(|r| format!("{}:{}", r.provider, r.region))
        .collect();
    Some(Finding::info(
        codes::CLOUD_UNMATCHED,
        format!(
            "{} row(s) of the providers' exports in the period belong to no cloud site ({}): a [[site]] with that zone (and cloud_project or cloud_account) would claim them",
            left.len(),
            regions.into_iter().collect::<Vec<_>>().join(", ")
        ),
    ))
}
