//! The complete inventory: per site and calendar month (UTC), the jobs' energy (accelerators
//! and host), the energy no job claims (idle), the facility overhead (PUE), and what the
//! site's meters saw beyond the ledger (unattributed), with location- and market-based
//! emissions. Market-based figures come from one allocation of each site's instruments over
//! all of it (compute::market), so the draft is finished once the allocation is known.

use super::market::Consumer;
use super::resolve::grid::{hours_of, site_annual, SiteGrid};
use super::resolve::{site_pue, Resolved};
use super::uncertainty;
use crate::config::{Config, MeterScope, Site};
use crate::factors::Factors;
use crate::findings::{codes, Finding};
use crate::ingest::grid::Hourly;
use crate::ingest::meters::Meter;
use crate::ledger::{Inventory, InventoryRow};
use crate::timeutil::{next_month_start, seconds, Period};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// The jobs' figures the inventory adds up, aligned with the resolved rows.
pub(crate) struct JobFigures<'a> {
    pub it: &'a [f64],
    pub facility: &'a [f64],
    pub location: &'a [f64],
    pub location_low: &'a [f64],
    pub location_high: &'a [f64],
    pub accelerator: &'a [Option<f64>],
    pub host: &'a [Option<f64>],
}

/// Everything the inventory is made from.
pub(crate) struct Sources<'a> {
    pub cfg: &'a Config,
    pub factors: &'a Factors,
    pub period: &'a Period,
    pub hourly: &'a Hourly,
    pub rows: &'a [Resolved],
    pub jobs: JobFigures<'a>,
    /// Idle joules per hour of each node; `None` without telemetry.
    pub idle: Option<&'a [NodeHours]>,
    /// The site of each node named by a job.
    pub node_sites: &'a BTreeMap<String, String>,
    pub meters: &'a [Meter],
}

/// A node's idle energy per hour (hour start, epoch seconds -> joules): its accelerators',
/// and, with node power, its host's.
#[derive(Debug, Clone)]
pub(crate) struct NodeHours {
    pub node: String,
    pub accelerator: BTreeMap<i64, f64>,
    pub host: Option<BTreeMap<i64, f64>>,
    /// The first and last sample (epoch ms): months outside it are not covered (unknown).
    pub span_ms: Option<(i64, i64)>,
}

/// What a consumer beyond the jobs is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Line {
    Idle,
    Unattributed,
}

/// The inventory before its market-based figures: the rows, the consumers to allocate
/// instruments to besides the jobs, and where each job's energy falls.
pub(crate) struct Draft {
    rows: Vec<InventoryRow>,
    /// Each extra consumer's row and kind.
    extra: Vec<(usize, Line)>,
    /// Idle and unattributed lines, as consumers for the market-based allocation.
    pub consumers: Vec<Consumer>,
    /// For each job, its (row, share) pairs.
    job_rows: Vec<Vec<(usize, f64)>>,
    /// Market-based kg of negative unattributed lines (no instrument covers them).
    negative_market: Vec<(usize, f64)>,
    pub findings: Vec<Finding>,
}

/// One calendar month of the period, clipped to it.
struct Month {
    label: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// The calendar months (UTC) of the period, clipped to it.
fn months(period: &Period) -> Vec<Month> {
    let mut out = Vec::new();
    let mut t = period.start;
    while t < period.end {
        let next = next_month_start(t).min(period.end);
        out.push(Month {
            label: t.format("%Y-%m").to_string(),
            start: t,
            end: next,
        });
        t = next;
    }
    out
}

/// A row's key: its site (`None` for jobs without one) and its month's index.
type Key = (Option<String>, usize);

/// Sums of one row before it is finished.
#[derive(Debug, Default, Clone)]
struct Acc {
    jobs: u64,
    accelerator: Option<f64>,
    host: Option<f64>,
    unsplit: f64,
    it: f64,
    facility: f64,
    location: f64,
    low: f64,
    high: f64,
    /// Idle joules per hour: accelerators, and hosts (with node power).
    idle_hours: Vec<(i64, f64)>,
    idle_host_hours: Vec<(i64, f64)>,
}

fn add(o: &mut Option<f64>, v: f64) {
    *o = Some(o.unwrap_or(0.0) + v);
}

/// Build the inventory's rows; the market-based figures follow in [`finish`].
pub(crate) fn draft(s: &Sources) -> Draft {
    let months = months(s.period);
    let index: BTreeMap<&str, usize> = months
        .iter()
        .enumerate()
        .map(|(i, m)| (m.label.as_str(), i))
        .collect();
    let mut accs: BTreeMap<Key, Acc> = BTreeMap::new();
    let mut job_keys: Vec<Vec<(Key, f64)>> = Vec::new();
    for (i, r) in s.rows.iter().enumerate() {
        let mut keys = Vec::new();
        for (label, w) in &r.months {
            let Some(&m) = index.get(label.as_str()) else {
                continue;
            };
            let key = (r.job.site.clone(), m);
            let a = accs.entry(key.clone()).or_default();
            a.jobs += 1;
            let j = &s.jobs;
            a.it += w * j.it[i];
            a.facility += w * j.facility[i];
            a.location += w * j.location[i];
            a.low += w * j.location_low[i];
            a.high += w * j.location_high[i];
            match (j.accelerator[i], j.host[i]) {
                (None, _) => a.unsplit += w * j.it[i],
                (Some(acc), host) => {
                    add(&mut a.accelerator, w * acc);
                    if let Some(h) = host {
                        add(&mut a.host, w * h);
                    }
                }
            }
            keys.push((key, *w));
        }
        job_keys.push(keys);
    }
    let mut findings = Vec::new();
    let (covered, host_covered) = idle_by_site(s, &months, &mut accs, &mut findings);
    let present = present_sites(s, &accs);
    let mut d = Draft {
        rows: Vec::new(),
        extra: Vec::new(),
        consumers: Vec::new(),
        job_rows: Vec::new(),
        negative_market: Vec::new(),
        findings,
    };
    let mut row_of: BTreeMap<Key, usize> = BTreeMap::new();
    for site in &present {
        let cfg_site = site.as_deref().and_then(|id| s.cfg.site(id));
        for (m, month) in months.iter().enumerate() {
            let key = (site.clone(), m);
            let acc = accs.get(&key).cloned().unwrap_or_default();
            let known = (
                covered.contains(&(site.clone(), m)),
                host_covered.contains(&(site.clone(), m)),
            );
            row_of.insert(key, d.rows.len());
            let row = d.row(s, site.clone(), cfg_site, month, acc, known);
            d.rows.push(row);
        }
    }
    d.job_rows = job_keys
        .into_iter()
        .map(|keys| {
            keys.into_iter()
                .filter_map(|(k, w)| row_of.get(&k).map(|&r| (r, w)))
                .collect()
        })
        .collect();
    d.meter_findings(&months);
    d
}

/// The site of a node: a `[[site]] nodes` pattern that names it, else the site of the jobs
/// that list it.
pub(crate) fn node_site(
    cfg: &Config,
    node_sites: &BTreeMap<String, String>,
    node: &str,
) -> Option<String> {
    cfg.site_of_node(node)
        .or_else(|| node_sites.get(node).cloned())
}

/// Idle energy of every node into its site's months; returns the site-months whose
/// accelerators, and whose hosts, telemetry covers. Nodes of no site are one warning (their idle energy has
/// no PUE or grid factor).
fn idle_by_site(
    s: &Sources,
    months: &[Month],
    accs: &mut BTreeMap<Key, Acc>,
    findings: &mut Vec<Finding>,
) -> (BTreeSet<Key>, BTreeSet<Key>) {
    let (mut covered, mut host_covered) = (BTreeSet::new(), BTreeSet::new());
    let Some(idle) = s.idle else {
        return (covered, host_covered);
    };
    let starts: Vec<i64> = months.iter().map(|m| m.start.timestamp()).collect();
    let month_of = |h: i64| starts.partition_point(|&t| t <= h).saturating_sub(1);
    let mut orphans: Vec<String> = Vec::new();
    for n in idle {
        let Some(site) = node_site(s.cfg, s.node_sites, &n.node) else {
            let j: f64 = n
                .accelerator
                .values()
                .chain(n.host.iter().flat_map(|h| h.values()))
                .fold(0.0, |a, b| a + b);
            orphans.push(format!("{} ({:.3} kWh)", n.node, j / 3.6e6));
            continue;
        };
        let key_site = Some(site);
        // The months the node's samples span are known (idle energy there, zero or not).
        let spanned: Vec<usize> = months
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                n.span_ms.is_some_and(|(a, b)| {
                    a < m.end.timestamp_millis() && b >= m.start.timestamp_millis()
                })
            })
            .map(|(i, _)| i)
            .collect();
        for &m in &spanned {
            covered.insert((key_site.clone(), m));
        }
        for (&h, &j) in &n.accelerator {
            let a = accs.entry((key_site.clone(), month_of(h))).or_default();
            a.idle_hours.push((h, j));
        }
        if let Some(host) = &n.host {
            for &m in &spanned {
                host_covered.insert((key_site.clone(), m));
            }
            for (&h, &j) in host {
                let a = accs.entry((key_site.clone(), month_of(h))).or_default();
                a.idle_host_hours.push((h, j));
            }
        }
    }
    if !orphans.is_empty() {
        findings.push(Finding::warning(
            codes::INVENTORY_UNKNOWN_NODE_SITE,
            format!("{} node(s) belong to no site, so their idle energy is outside the inventory: {} (name them in a [[site]] nodes list)", orphans.len(), orphans.join(", ")),
        ));
    }
    (covered, host_covered)
}

/// The sites with a row: configured sites with jobs, telemetry or meters, and `None` for
/// jobs without a site.
fn present_sites(s: &Sources, accs: &BTreeMap<Key, Acc>) -> Vec<Option<String>> {
    let mut present: BTreeSet<Option<String>> = accs.keys().map(|(k, _)| k.clone()).collect();
    for m in s.meters {
        present.insert(Some(m.site.clone()));
    }
    present.into_iter().collect()
}

impl Draft {
    /// One row: the jobs' sums, idle energy with the site's PUE and grid factor, the meters
    /// and what they leave unattributed.
    fn row(
        &mut self,
        s: &Sources,
        site: Option<String>,
        cfg_site: Option<&Site>,
        month: &Month,
        acc: Acc,
        (idle_known, host_known): (bool, bool),
    ) -> InventoryRow {
        let u = &s.cfg.uncertainty;
        let default_pue = s
            .cfg
            .estimate
            .default_pue
            .unwrap_or(crate::factors::DEFAULT_PUE);
        let pue = cfg_site.map(|c| site_pue(c, month.start, month.end, default_pue).0);
        let grid = cfg_site.and_then(|c| site_annual(s.factors, s.hourly, c, s.period.year()));
        let kwh = |h: &[(i64, f64)]| h.iter().fold(0.0, |a, (_, j)| a + j) / 3.6e6;
        let idle_acc = idle_known.then(|| kwh(&acc.idle_hours));
        let idle_host = host_known.then(|| kwh(&acc.idle_host_hours));
        let idle = match (idle_acc, idle_host) {
            (None, None) => None,
            (a, h) => Some(a.unwrap_or(0.0) + h.unwrap_or(0.0)),
        };
        let mut idle_hours = acc.idle_hours.clone();
        idle_hours.extend(acc.idle_host_hours.iter().copied());
        let mut row = InventoryRow {
            site,
            period: month.label.clone(),
            accelerator_kwh: acc.accelerator.or((acc.jobs == 0).then_some(0.0)),
            host_kwh: acc.host.or((acc.jobs == 0).then_some(0.0)),
            idle_accelerator_kwh: idle_acc,
            idle_host_kwh: idle_host,
            idle_kwh: idle,
            it_energy_kwh: acc.it + idle.unwrap_or(0.0),
            jobs_it_kwh: acc.it,
            unsplit_kwh: acc.unsplit,
            jobs_location_kgco2e: acc.location,
            location_kgco2e: acc.location,
            location_kgco2e_low: acc.low,
            location_kgco2e_high: acc.high,
            facility_energy_kwh: acc.facility,
            pue,
            ..Default::default()
        };
        let index = self.rows.len();
        if let (Some(kwh), Some(p), Some(g)) = (idle, pue, &grid) {
            let facility = kwh * p;
            let (intensity, hourly) = g.weighted(s.hourly, &idle_hours);
            let kg = facility * intensity / 1000.0;
            let rel = relative(u.sampled, u.pue, u, g, hourly);
            self.line(&mut row, index, Line::Idle, month, facility, kg, rel);
            row.idle_location_kgco2e = Some(kg);
        }
        if let (Some(c), Some(g)) = (cfg_site, &grid) {
            self.meters(s, c, g, month, &mut row, index);
        }
        row.scope2_kwh = row.facility_energy_kwh + row.unattributed_kwh.unwrap_or(0.0);
        row
    }

    /// Add an idle or unattributed line to the row: its facility energy, location-based kg
    /// with bounds, and a consumer for the instruments.
    #[allow(clippy::too_many_arguments)]
    fn line(
        &mut self,
        row: &mut InventoryRow,
        index: usize,
        kind: Line,
        month: &Month,
        facility: f64,
        kg: f64,
        rel: f64,
    ) {
        if kind == Line::Idle {
            row.facility_energy_kwh += facility;
        }
        row.location_kgco2e += kg;
        let (lo, hi) = uncertainty::bounds(kg.abs(), rel);
        let (lo, hi) = if kg < 0.0 { (-hi, -lo) } else { (lo, hi) };
        row.location_kgco2e_low += lo;
        row.location_kgco2e_high += hi;
        if facility > 0.0 {
            self.extra.push((index, kind));
            self.consumers.push(Consumer {
                site: row.site.clone(),
                start: month.start,
                end: month.end,
                facility_kwh: facility,
                location_kg: kg,
                profile: None,
            });
        } else if facility < 0.0 {
            // A ledger above its meter: no instrument covers the difference.
            self.negative_market.push((index, kg));
        }
    }

    /// The site's meters over the month: prorated by time, the metered electricity, the
    /// measured PUE, and what the ledger leaves unattributed.
    fn meters(
        &mut self,
        s: &Sources,
        site: &Site,
        g: &SiteGrid,
        month: &Month,
        row: &mut InventoryRow,
        index: usize,
    ) {
        let (a, b) = (month.start, month.end);
        let len = seconds(a, b);
        let read = |scope: MeterScope| {
            let (mut kwh, mut covered, mut refs) = (0.0, 0.0, Vec::new());
            for m in s
                .meters
                .iter()
                .filter(|m| m.site == site.id && m.scope == scope)
            {
                let o = crate::timeutil::overlap_s(a, b, m.start, m.end);
                if o <= 0.0 {
                    continue;
                }
                kwh += m.kwh * o / seconds(m.start, m.end);
                covered += o;
                refs.push(if m.reference.is_empty() {
                    format!(
                        "{} meter, {} line {}",
                        scope.as_str(),
                        m.origin.file,
                        m.origin.line
                    )
                } else {
                    m.reference.clone()
                });
            }
            (covered > 0.0 && len > 0.0).then(|| (kwh * len / covered, covered / len, refs))
        };
        let facility = read(MeterScope::Facility);
        let it = read(MeterScope::It);
        for (scope, m) in [("facility", &facility), ("IT", &it)] {
            if let Some((_, share, refs)) = m {
                row.meter_references.extend(refs.iter().cloned());
                if *share < 0.999 {
                    self.findings.push(Finding::info(
                        codes::INVENTORY_METER_PRORATED,
                        format!("site '{}' {}: the {scope} meter readings ({}) cover {:.1} % of the month; their kWh are scaled to the whole month by time", site.id, month.label, refs.join(", "), share * 100.0),
                    ));
                }
            }
        }
        row.metered_facility_kwh = facility.as_ref().map(|f| f.0);
        row.metered_it_kwh = it.as_ref().map(|f| f.0);
        let pue = row.pue.unwrap_or(1.0);
        row.metered_kwh = row
            .metered_facility_kwh
            .or(row.metered_it_kwh.map(|k| k * pue));
        if let (Some(f), Some(i)) = (row.metered_facility_kwh, row.metered_it_kwh) {
            if i > 0.0 {
                row.measured_pue = Some(f / i);
                self.check_pue(s, site, month, f / i, pue);
            }
        }
        let Some(metered) = row.metered_kwh else {
            return;
        };
        self.check_above(s, site, month, row);
        let unattributed = metered - row.facility_energy_kwh;
        let weights = hours_of(a.timestamp(), b.timestamp());
        let (intensity, hourly) = g.weighted(s.hourly, &weights);
        let kg = unattributed * intensity / 1000.0;
        let u = &s.cfg.uncertainty;
        // Metered at the site: no PUE applies, only the grid factor's uncertainty.
        let rel = relative(0.0, 0.0, u, g, hourly);
        row.unattributed_kwh = Some(unattributed);
        row.unattributed_location_kgco2e = Some(kg);
        self.line(row, index, Line::Unattributed, month, unattributed, kg, rel);
    }

    /// A measured PUE further from the configured one than the PUE uncertainty: a warning.
    fn check_pue(&mut self, s: &Sources, site: &Site, month: &Month, measured: f64, pue: f64) {
        let u = s.cfg.uncertainty.pue;
        if (measured / pue - 1.0).abs() > u {
            self.findings.push(Finding::warning(
                codes::INVENTORY_PUE_MISMATCH,
                format!("site '{}' {}: the meters give a PUE of {measured:.3} (facility / IT), the configured PUE is {pue:.3}: they differ by more than the PUE uncertainty ({:.0} %); check the site's pue", site.id, month.label, u * 100.0),
            ));
        }
    }

    /// A ledger above its meter beyond its uncertainty is an error: double counting or a
    /// wrong PUE. The comparison is at the meter's scope (facility, else IT).
    fn check_above(&mut self, s: &Sources, site: &Site, month: &Month, row: &InventoryRow) {
        let u = &s.cfg.uncertainty;
        let (ledger, meter, rel, what) = match (row.metered_facility_kwh, row.metered_it_kwh) {
            (Some(m), _) => (
                row.facility_energy_kwh,
                m,
                (u.sampled.powi(2) + u.pue.powi(2)).sqrt(),
                "facility",
            ),
            (None, Some(m)) => (row.it_energy_kwh, m, u.sampled, "IT"),
            (None, None) => return,
        };
        if ledger * (1.0 - rel) > meter {
            self.findings.push(Finding::error(
                codes::INVENTORY_ABOVE_METER,
                format!("site '{}' {}: the ledger's {what} energy, {ledger:.3} kWh (at least {:.3} kWh within its uncertainty), is above the meter's {meter:.3} kWh ({}): energy is counted twice or the PUE is wrong", site.id, month.label, ledger * (1.0 - rel), row.meter_references.join(", ")),
            ));
        }
    }

    /// One note per site whose months no meter covers: nothing reconciles them.
    fn meter_findings(&mut self, months: &[Month]) {
        let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for row in &self.rows {
            if let (Some(site), None) = (&row.site, row.metered_kwh) {
                missing
                    .entry(site.clone())
                    .or_default()
                    .push(row.period.clone());
            }
        }
        for (site, list) in missing {
            let msg = if list.len() == months.len() {
                format!("site '{site}' has no meter reading for the period: nothing reconciles its ledger with the electricity it bought (give [[site.meter]] or --meters)")
            } else {
                format!(
                    "site '{site}' has no meter reading for {}: nothing reconciles those months",
                    list.join(", ")
                )
            };
            self.findings
                .push(Finding::info(codes::INVENTORY_NO_METER, msg));
        }
    }
}

/// Relative uncertainty of a line: its energy's, its PUE's and its grid factor's, in
/// quadrature.
fn relative(
    energy: f64,
    pue: f64,
    u: &crate::config::uncertainty::Uncertainty,
    g: &SiteGrid,
    hourly: bool,
) -> f64 {
    let grid = if g.zone.starts_with("site:") {
        u.grid_site
    } else if hourly {
        u.grid_hourly
    } else {
        u.grid_annual
    };
    (energy * energy + pue * pue + grid * grid).sqrt()
}

/// The inventory with its market-based figures: each job's market-based kg into its rows,
/// each extra consumer's into its row, and the totals.
pub(crate) fn finish(
    d: Draft,
    job_market: &[f64],
    extra_market: &[f64],
    period: &Period,
) -> (Inventory, Vec<Vec<(usize, f64)>>) {
    let mut rows = d.rows;
    for (j, shares) in d.job_rows.iter().enumerate() {
        for &(r, w) in shares {
            rows[r].market_kgco2e += w * job_market[j];
        }
    }
    for (k, &(r, _)) in d.extra.iter().enumerate() {
        rows[r].market_kgco2e += extra_market[k];
    }
    for &(r, kg) in &d.negative_market {
        rows[r].market_kgco2e += kg;
    }
    let totals = totals(&rows, period);
    let inventory = Inventory {
        sites: rows,
        totals,
    };
    (inventory, d.job_rows)
}

/// `[accounting] overhead = "allocate"`: each row's idle and unattributed energy (scope 2 less
/// the jobs' facility energy) and emissions spread over the row's jobs by their facility
/// energy there. Returns (kWh, kgCO2e) per job; a row without jobs to carry it is a warning.
pub(crate) fn overhead(
    inv: &Inventory,
    job_rows: &[Vec<(usize, f64)>],
    facility: &[f64],
) -> (Vec<(f64, f64)>, Vec<Finding>) {
    let mut weight = vec![0.0; inv.sites.len()];
    for (j, shares) in job_rows.iter().enumerate() {
        for &(r, w) in shares {
            weight[r] += w * facility[j];
        }
    }
    let carried = |r: usize| {
        let row = &inv.sites[r];
        (
            row.scope2_kwh
                - (row.facility_energy_kwh - row.idle_kwh.unwrap_or(0.0) * row.pue.unwrap_or(1.0)),
            row.location_kgco2e - row.jobs_location_kgco2e,
        )
    };
    let mut out = vec![(0.0, 0.0); job_rows.len()];
    for (j, shares) in job_rows.iter().enumerate() {
        for &(r, w) in shares {
            if weight[r] > 0.0 {
                let (kwh, kg) = carried(r);
                let share = w * facility[j] / weight[r];
                out[j].0 += kwh * share;
                out[j].1 += kg * share;
            }
        }
    }
    let mut findings = Vec::new();
    for (r, row) in inv.sites.iter().enumerate() {
        let (kwh, _) = carried(r);
        if weight[r] <= 0.0 && kwh.abs() > 1e-9 {
            findings.push(Finding::warning(
                codes::INVENTORY_NO_JOBS,
                format!("site '{}' {}: {kwh:.3} kWh of idle and unattributed energy have no job to carry them; they stay in the inventory, outside the teams", row.site.clone().unwrap_or_default(), row.period),
            ));
        }
    }
    (out, findings)
}

/// The rows of cloud sites taken out of the inventory (their electricity is the provider's:
/// Scope 3 category 1 for the organisation), and the totals summed again over the rest, which
/// is the organisation's Scope 2. Jobs without a site stay in (their own line).
pub(crate) fn split_cloud(
    inv: Inventory,
    cfg: &crate::config::Config,
    period: &Period,
) -> (Inventory, Vec<InventoryRow>) {
    let is_cloud = |r: &InventoryRow| {
        r.site
            .as_deref()
            .and_then(|s| cfg.site(s))
            .is_some_and(|s| !s.kind.scope2())
    };
    let (cloud, own): (Vec<InventoryRow>, Vec<InventoryRow>) =
        inv.sites.into_iter().partition(is_cloud);
    let totals = totals(&own, period);
    (Inventory { sites: own, totals }, cloud)
}

/// The rows summed; nulls stay null only where every row is null.
fn totals(rows: &[InventoryRow], period: &Period) -> InventoryRow {
    let sum = |f: &dyn Fn(&InventoryRow) -> Option<f64>| {
        rows.iter()
            .filter_map(f)
            .fold(None, |a: Option<f64>, v| Some(a.unwrap_or(0.0) + v))
    };
    let both: Vec<&InventoryRow> = rows
        .iter()
        .filter(|r| r.metered_facility_kwh.is_some() && r.metered_it_kwh.is_some())
        .collect();
    let it_m: f64 = both.iter().filter_map(|r| r.metered_it_kwh).sum();
    let fac_m: f64 = both.iter().filter_map(|r| r.metered_facility_kwh).sum();
    InventoryRow {
        site: None,
        period: period.label.clone(),
        accelerator_kwh: sum(&|r| r.accelerator_kwh),
        host_kwh: sum(&|r| r.host_kwh),
        idle_accelerator_kwh: sum(&|r| r.idle_accelerator_kwh),
        idle_host_kwh: sum(&|r| r.idle_host_kwh),
        idle_kwh: sum(&|r| r.idle_kwh),
        it_energy_kwh: rows.iter().map(|r| r.it_energy_kwh).sum(),
        facility_energy_kwh: rows.iter().map(|r| r.facility_energy_kwh).sum(),
        unattributed_kwh: sum(&|r| r.unattributed_kwh),
        metered_kwh: sum(&|r| r.metered_kwh),
        measured_pue: (it_m > 0.0).then(|| fac_m / it_m),
        scope2_kwh: rows.iter().map(|r| r.scope2_kwh).sum(),
        location_kgco2e: rows.iter().map(|r| r.location_kgco2e).sum(),
        market_kgco2e: rows.iter().map(|r| r.market_kgco2e).sum(),
        location_kgco2e_low: rows.iter().map(|r| r.location_kgco2e_low).sum(),
        location_kgco2e_high: rows.iter().map(|r| r.location_kgco2e_high).sum(),
        jobs_it_kwh: rows.iter().map(|r| r.jobs_it_kwh).sum(),
        unsplit_kwh: rows.iter().map(|r| r.unsplit_kwh).sum(),
        jobs_location_kgco2e: rows.iter().map(|r| r.jobs_location_kgco2e).sum(),
        idle_location_kgco2e: sum(&|r| r.idle_location_kgco2e),
        unattributed_location_kgco2e: sum(&|r| r.unattributed_location_kgco2e),
        pue: None,
        metered_facility_kwh: sum(&|r| r.metered_facility_kwh),
        metered_it_kwh: sum(&|r| r.metered_it_kwh),
        meter_references: rows
            .iter()
            .flat_map(|r| r.meter_references.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    }
}
