//! Why emissions changed since the previous report: an additive LMDI-I decomposition (Ang
//! 2004, 2015) of the jobs' emissions per cell (site x team), C = A x I x P x G, into activity
//! (A, accelerator-hours), energy intensity (I, IT kWh per accelerator-hour), PUE (P, facility
//! over IT kWh) and grid intensity (G, kg per facility kWh); market-based adds the instruments
//! (M, market over location kg). Effect of X = sum over cells of L(C1, C0) ln(X1 / X0), with
//! L(a, b) = (a - b) / (ln a - ln b) and L(a, a) = a; a cell on one side only goes whole to
//! `entered_scope` or `left_scope`. The inventory's lines no job claims (idle and
//! unattributed energy) are their own effect, `idle_and_unattributed`, for the organisation,
//! each site and each scope. The effects add up to the change with no residual. Pure: the cells
//! come from the job rows of both reports, the lines from their inventories.

use serde::Serialize;
use std::collections::BTreeMap;

/// One cell's quantities: accelerator-hours, IT kWh, facility kWh, location kg, market kg.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cell {
    pub gpu_hours: f64,
    pub it_kwh: f64,
    pub facility_kwh: f64,
    pub location_kg: f64,
    pub market_kg: f64,
}

impl Cell {
    fn add(&mut self, o: &Cell) {
        self.gpu_hours += o.gpu_hours;
        self.it_kwh += o.it_kwh;
        self.facility_kwh += o.facility_kwh;
        self.location_kg += o.location_kg;
        self.market_kg += o.market_kg;
    }

    /// The factors A, I, P, G, M (`None` where a ratio's denominator is zero).
    fn factors(&self) -> [f64; 5] {
        let r = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        [
            self.gpu_hours,
            r(self.it_kwh, self.gpu_hours),
            r(self.facility_kwh, self.it_kwh),
            r(self.location_kg, self.facility_kwh),
            r(self.market_kg, self.location_kg),
        ]
    }
}

/// The effects of one method (location- or market-based).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Effects {
    pub activity: f64,
    pub energy_intensity: f64,
    pub pue: f64,
    pub grid_intensity: f64,
    /// Market-based only: the change in instruments' and residual mixes' cover.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instruments: Option<f64>,
    pub entered_scope: f64,
    pub left_scope: f64,
    /// The change in the inventory's lines no job claims (idle and unattributed energy's
    /// emissions); absent for teams, which have no such lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_and_unattributed: Option<f64>,
}

impl Effects {
    fn total(&self) -> f64 {
        self.named().iter().map(|(_, v)| v).sum()
    }
}

/// A change and its effects.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Change {
    pub from_kgco2e: f64,
    pub to_kgco2e: f64,
    pub effects: Effects,
    /// The effect of the largest size (`null` when nothing changed): what explains the change
    /// most.
    pub main_effect: Option<MainEffect>,
}

/// An effect by name, with its kgCO2e.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MainEffect {
    pub effect: &'static str,
    pub kgco2e: f64,
}

impl Effects {
    /// The effects by name, in a fixed order.
    fn named(&self) -> Vec<(&'static str, f64)> {
        let mut v = vec![
            ("activity", self.activity),
            ("energy_intensity", self.energy_intensity),
            ("pue", self.pue),
            ("grid_intensity", self.grid_intensity),
        ];
        v.extend(self.instruments.map(|i| ("instruments", i)));
        v.extend([
            ("entered_scope", self.entered_scope),
            ("left_scope", self.left_scope),
        ]);
        v.extend(
            self.idle_and_unattributed
                .map(|i| ("idle_and_unattributed", i)),
        );
        v
    }

    /// The largest effect by size (the first of equals), when one is not zero.
    fn main(&self) -> Option<MainEffect> {
        self.named()
            .into_iter()
            .filter(|(_, v)| *v != 0.0)
            .fold(
                None,
                |best: Option<(&'static str, f64)>, (k, v)| match best {
                    Some((_, b)) if b.abs() >= v.abs() => best,
                    _ => Some((k, v)),
                },
            )
            .map(|(effect, kgco2e)| MainEffect { effect, kgco2e })
    }
}

/// The logarithmic mean.
fn log_mean(a: f64, b: f64) -> f64 {
    if (a - b).abs() <= 1e-12 * a.abs().max(b.abs()) {
        a
    } else {
        (a - b) / (a.ln() - b.ln())
    }
}

/// The change of one cell present in both reports, split over its factors (`n` factors: 4
/// location-based, 5 market-based). Where a factor is zero on one side the logarithms fail:
/// the change goes to the factors that are zero on one side (the limit of LMDI-I as zeros are
/// replaced by a vanishing number), equally.
fn split(c0: f64, c1: f64, f0: &[f64], f1: &[f64]) -> Vec<f64> {
    let n = f0.len();
    if c0 == c1 && c0 == 0.0 {
        return vec![0.0; n];
    }
    if c0 > 0.0 && c1 > 0.0 && f0.iter().chain(f1).all(|x| *x > 0.0) {
        let l = log_mean(c1, c0);
        return (0..n).map(|k| l * (f1[k] / f0[k]).ln()).collect();
    }
    let zeroed: Vec<usize> = (0..n).filter(|&k| (f0[k] > 0.0) != (f1[k] > 0.0)).collect();
    let mut out = vec![0.0; n];
    if zeroed.is_empty() {
        // Both sides zero through the same factor: nothing changed that can be told apart.
        out[0] = c1 - c0;
    } else {
        for &k in &zeroed {
            out[k] = (c1 - c0) / zeroed.len() as f64;
        }
    }
    out
}

/// The kgCO2e of a site's inventory lines that no job claims (its idle and unattributed
/// energy), location- and market-based.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Line {
    pub location_kg: f64,
    pub market_kg: f64,
}

/// One report's side of the bridge: its cells (site, team) and, when its inventory is known,
/// each site's lines no job claims.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Side {
    pub cells: BTreeMap<(String, String), Cell>,
    pub lines: Option<BTreeMap<String, Line>>,
}

/// The decomposition of the cells of two reports (keys present in either), with the lines no
/// job claims as their own effect when both sides give them.
pub fn decompose<K: Ord + Clone>(
    before: &BTreeMap<K, Cell>,
    after: &BTreeMap<K, Cell>,
    lines: Option<(Line, Line)>,
) -> (Change, Change) {
    let (mut loc, mut mkt) = (Change::default(), Change::default());
    mkt.effects.instruments = Some(0.0);
    let keys: std::collections::BTreeSet<&K> = before.keys().chain(after.keys()).collect();
    for k in keys {
        match (before.get(k), after.get(k)) {
            (Some(b), Some(a)) => {
                let (fb, fa) = (b.factors(), a.factors());
                let l = split(b.location_kg, a.location_kg, &fb[..4], &fa[..4]);
                let m = split(b.market_kg, a.market_kg, &fb, &fa);
                add_effects(&mut loc.effects, &l);
                add_effects(&mut mkt.effects, &m);
            }
            (None, Some(a)) => {
                loc.effects.entered_scope += a.location_kg;
                mkt.effects.entered_scope += a.market_kg;
            }
            (Some(b), None) => {
                loc.effects.left_scope -= b.location_kg;
                mkt.effects.left_scope -= b.market_kg;
            }
            (None, None) => {}
        }
    }
    let sum = |m: &BTreeMap<K, Cell>| {
        let mut t = Cell::default();
        m.values().for_each(|c| t.add(c));
        t
    };
    let (b, a) = (sum(before), sum(after));
    loc.from_kgco2e = b.location_kg;
    loc.to_kgco2e = a.location_kg;
    mkt.from_kgco2e = b.market_kg;
    mkt.to_kgco2e = a.market_kg;
    if let Some((l0, l1)) = lines {
        loc.effects.idle_and_unattributed = Some(l1.location_kg - l0.location_kg);
        mkt.effects.idle_and_unattributed = Some(l1.market_kg - l0.market_kg);
        loc.from_kgco2e += l0.location_kg;
        loc.to_kgco2e += l1.location_kg;
        mkt.from_kgco2e += l0.market_kg;
        mkt.to_kgco2e += l1.market_kg;
    }
    loc.main_effect = loc.effects.main();
    mkt.main_effect = mkt.effects.main();
    (loc, mkt)
}

fn add_effects(e: &mut Effects, parts: &[f64]) {
    e.activity += parts[0];
    e.energy_intensity += parts[1];
    e.pue += parts[2];
    e.grid_intensity += parts[3];
    if let (Some(i), Some(p)) = (e.instruments.as_mut(), parts.get(4)) {
        *i += p;
    }
}

/// A group's (team's or site's) bridge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupBridge {
    pub name: String,
    /// The team's name again, under the key DESIGN's contract gives team entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// The site's name again, for site entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    pub location: Change,
    pub market: Change,
}

/// A scope's bridge: `scope_2` (owned and colocation sites) or `scope_3_category_1_cloud`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScopeBridge {
    pub scope: &'static str,
    pub location: Change,
    pub market: Change,
}

/// The bridge from the previous report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bridge {
    /// The previous report: its period label and sha256.
    pub from: BridgeFrom,
    /// The organisation: the jobs' emissions and, when both inventories are known, the lines
    /// no job claims (`idle_and_unattributed`).
    pub location: Change,
    pub market: Change,
    pub teams: Vec<GroupBridge>,
    pub sites: Vec<GroupBridge>,
    /// Scope 2 and, when a cloud site is in either report, Scope 3 category 1, apart.
    pub scopes: Vec<ScopeBridge>,
    /// The largest location-based effects of the organisation, each in one sentence with the
    /// site that drove it most.
    pub sentences: Vec<String>,
    /// Effects merged because the previous report lacks a quantity; `null` when none.
    pub note: Option<String>,
}

/// Which report the bridge starts from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BridgeFrom {
    pub period: String,
    pub sha256: String,
}

type Cells = BTreeMap<(String, String), Cell>;

/// The cells of one site, team or scope, and the sum of its sites' lines.
fn part(
    side: &Side,
    keep: &dyn Fn(&(String, String)) -> bool,
    site: &dyn Fn(&str) -> bool,
) -> (Cells, Option<Line>) {
    let cells = side
        .cells
        .iter()
        .filter(|(k, _)| keep(k))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let lines = side.lines.as_ref().map(|m| {
        m.iter()
            .filter(|(s, _)| site(s))
            .fold(Line::default(), |a, (_, l)| Line {
                location_kg: a.location_kg + l.location_kg,
                market_kg: a.market_kg + l.market_kg,
            })
    });
    (cells, lines)
}

/// The decomposition of the part of both sides that `keep` (cells) and `site` (lines) select;
/// lines only when `with_lines` and both sides know them.
fn split_part(
    before: &Side,
    after: &Side,
    keep: &dyn Fn(&(String, String)) -> bool,
    site: &dyn Fn(&str) -> bool,
    with_lines: bool,
) -> (Change, Change) {
    let (c0, l0) = part(before, keep, site);
    let (c1, l1) = part(after, keep, site);
    let lines = match (l0, l1) {
        (Some(a), Some(b)) if with_lines => Some((a, b)),
        _ => None,
    };
    decompose(&c0, &c1, lines)
}

/// The bridge between two reports: the organisation, each team, each site and each scope;
/// `cloud` names the sites of Scope 3 category 1 (this report's classification, applied to both
/// periods alike).
pub fn bridge(
    before: &Side,
    after: &Side,
    cloud: &std::collections::BTreeSet<String>,
    from: BridgeFrom,
) -> Bridge {
    let all = |_: &(String, String)| true;
    let any = |_: &str| true;
    let (location, market) = split_part(before, after, &all, &any, true);
    let names = |pick: &dyn Fn(&(String, String)) -> String, lines: bool| {
        let mut n: std::collections::BTreeSet<String> = before
            .cells
            .keys()
            .chain(after.cells.keys())
            .map(pick)
            .collect();
        if lines {
            for side in [before, after] {
                n.extend(side.lines.iter().flat_map(|m| m.keys().cloned()));
            }
        }
        n
    };
    let teams = names(&|k| k.1.clone(), false)
        .into_iter()
        .map(|name| {
            let (location, market) = split_part(before, after, &|k| k.1 == name, &|_| false, false);
            GroupBridge {
                team: Some(name.clone()),
                site: None,
                name,
                location,
                market,
            }
        })
        .collect();
    let sites: Vec<GroupBridge> = names(&|k| k.0.clone(), true)
        .into_iter()
        .map(|name| {
            let (location, market) =
                split_part(before, after, &|k| k.0 == name, &|s| s == name, true);
            GroupBridge {
                site: Some(name.clone()),
                team: None,
                name,
                location,
                market,
            }
        })
        .collect();
    let mut scopes = Vec::new();
    let has_cloud = sites.iter().any(|g| cloud.contains(&g.name));
    for (scope, is_cloud) in [("scope_2", false), ("scope_3_category_1_cloud", true)] {
        if is_cloud && !has_cloud {
            continue;
        }
        let (location, market) = split_part(
            before,
            after,
            &|k| cloud.contains(&k.0) == is_cloud,
            &|s| cloud.contains(s) == is_cloud,
            true,
        );
        scopes.push(ScopeBridge {
            scope,
            location,
            market,
        });
    }
    let note = match (&before.lines, &after.lines) {
        (Some(_), Some(_)) => None,
        _ => Some("the previous report has no inventory by site: the lines no job claims (idle and unattributed energy) are left out of both periods, and the bridge covers the jobs' emissions alone".to_string()),
    };
    let sentences = sentences(&location, &sites, before, after);
    Bridge {
        from,
        location,
        market,
        teams,
        sites,
        scopes,
        sentences,
        note,
    }
}

/// One site's cells summed over its teams, of the cells in both reports (those the factor
/// effects come from; cells that enter or leave are their own effects).
fn site_cell(side: &Side, other: &Side, site: &str) -> Cell {
    let mut t = Cell::default();
    side.cells
        .iter()
        .filter(|(k, _)| k.0 == site && other.cells.contains_key(*k))
        .for_each(|(_, c)| t.add(c));
    t
}

/// kgCO2e with its sign and one decimal, digits grouped (`−1,234.5 kg`).
fn kg(x: f64) -> String {
    let g = crate::format::group_digits(x.abs(), 1);
    let sign = if g == "0.0" {
        ""
    } else if x < 0.0 {
        "−"
    } else {
        "+"
    };
    format!("{sign}{g} kg")
}

/// A change in words: `30 % cleaner`, `12 % dirtier`, by the words for down and up.
fn pct(a: f64, b: f64, down: &str, up: &str) -> String {
    if a <= 0.0 {
        return up.to_string();
    }
    let p = (b / a - 1.0) * 100.0;
    format!("{:.0} % {}", p.abs(), if p < 0.0 { down } else { up })
}

/// The three largest location-based effects of the organisation, each in a sentence naming
/// the site whose effect of that kind is largest, with its factor before and after.
fn sentences(org: &Change, sites: &[GroupBridge], before: &Side, after: &Side) -> Vec<String> {
    let mut effects: Vec<(&'static str, f64)> = org
        .effects
        .named()
        .into_iter()
        .filter(|(_, v)| v.abs() >= 0.05)
        .collect();
    effects.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    effects
        .into_iter()
        .take(3)
        .filter_map(|(effect, total)| {
            let of = |g: &GroupBridge| {
                g.location
                    .effects
                    .named()
                    .into_iter()
                    .find(|(k, _)| *k == effect)
                    .map_or(0.0, |(_, v)| v)
            };
            let top = sites
                .iter()
                .filter(|g| of(g) * total > 0.0)
                .max_by(|a, b| of(a).abs().total_cmp(&of(b).abs()).then(b.name.cmp(&a.name)))?;
            let (s, here) = (top.name.as_str(), of(top));
            let (c0, c1) = (site_cell(before, after, s), site_cell(after, before, s));
            let (f0, f1) = (c0.factors(), c1.factors());
            let what = match effect {
                "activity" if f0[0] > 0.0 => format!(
                    "Accelerator-hours at {s} {} {:.0} % ({:.0} → {:.0})",
                    if f1[0] < f0[0] { "fell" } else { "rose" },
                    (f1[0] / f0[0] - 1.0).abs() * 100.0,
                    f0[0],
                    f1[0]
                ),
                "activity" => format!("Accelerator-hours at {s} (none before)"),
                "energy_intensity" => format!(
                    "Each accelerator-hour at {s} drew {} energy ({:.3} → {:.3} kWh)",
                    pct(f0[1], f1[1], "less", "more"),
                    f0[1],
                    f1[1]
                ),
                "pue" => format!("The PUE at {s} went from {:.2} to {:.2}", f0[2], f1[2]),
                "grid_intensity" => format!(
                    "The grid at {s} was {} ({:.0} → {:.0} g per facility kWh)",
                    pct(f0[3], f1[3], "cleaner", "dirtier"),
                    f0[3] * 1000.0,
                    f1[3] * 1000.0
                ),
                "entered_scope" => format!("Work new to the comparison (teams or sites that were not in the previous report), most at {s}"),
                "left_scope" => format!("Work gone since the previous report (teams or sites no longer in it), most at {s}"),
                "idle_and_unattributed" => format!("Idle and unattributed energy at {s} (what no job claims)"),
                _ => return None,
            };
            let all = if (here - total).abs() >= 0.05 {
                format!(" ({} in all)", kg(total))
            } else {
                String::new()
            };
            Some(format!("{what}: {}{all}.", kg(here)))
        })
        .collect()
}

/// One report.json's side: its cells from `jobs` (site, `(no site)` when none, and team; a
/// market-based figure a report lacks is taken as the location-based one) and, when it has an
/// `inventory`, each site's lines no job claims: the site's inventory (and Scope 3 cloud)
/// emissions less its jobs'.
pub fn side_of_json(report: &serde_json::Value) -> Side {
    let cells = cells_of_json(report);
    let lines = report.get("inventory").map(|inv| {
        let mut lines: BTreeMap<String, Line> = BTreeMap::new();
        let rows = inv
            .get("sites")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten();
        let cloud = report
            .pointer("/scope3/category_1_cloud/sites")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten();
        for r in rows.chain(cloud) {
            let site = r
                .get("site")
                .and_then(|s| s.as_str())
                .unwrap_or("(no site)");
            let num = |k: &str| r.get(k).and_then(|x| x.as_f64()).unwrap_or(0.0);
            let l = lines.entry(site.to_string()).or_default();
            l.location_kg += num("location_kgco2e");
            l.market_kg += num("market_kgco2e");
        }
        for ((site, _), c) in &cells {
            let l = lines.entry(site.clone()).or_default();
            l.location_kg -= c.location_kg;
            l.market_kg -= c.market_kg;
        }
        lines
    });
    Side { cells, lines }
}

/// The cells of a report.json's `jobs`.
fn cells_of_json(report: &serde_json::Value) -> Cells {
    let mut out: Cells = BTreeMap::new();
    let num = |j: &serde_json::Value, k: &str| j.get(k).and_then(|x| x.as_f64());
    for j in report
        .get("jobs")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
    {
        let site = j
            .get("site")
            .and_then(|s| s.as_str())
            .unwrap_or("(no site)")
            .to_string();
        let team = j
            .get("team")
            .and_then(|s| s.as_str())
            .unwrap_or("")
            .to_string();
        let location = num(j, "location_kgco2e").unwrap_or(0.0);
        out.entry((site, team)).or_default().add(&Cell {
            gpu_hours: num(j, "gpu_hours").unwrap_or(0.0),
            it_kwh: num(j, "it_energy_kwh").unwrap_or(0.0),
            facility_kwh: num(j, "facility_energy_kwh").unwrap_or(0.0),
            location_kg: location,
            market_kg: num(j, "market_kgco2e").unwrap_or(location),
        });
    }
    out
}

/// Whether every change's effects add up to it (to `tol` kg).
pub fn reconciles(b: &Bridge, tol: f64) -> bool {
    let ok = |c: &Change| (c.effects.total() - (c.to_kgco2e - c.from_kgco2e)).abs() <= tol;
    ok(&b.location)
        && ok(&b.market)
        && b.teams
            .iter()
            .chain(&b.sites)
            .all(|g| ok(&g.location) && ok(&g.market))
        && b.scopes.iter().all(|g| ok(&g.location) && ok(&g.market))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cell of `h` accelerator-hours at `w` W, PUE `pue` and `g` g per facility kWh.
    fn cell(h: f64, w: f64, pue: f64, g: f64) -> Cell {
        let it = h * w / 1000.0;
        let fac = it * pue;
        Cell {
            gpu_hours: h,
            it_kwh: it,
            facility_kwh: fac,
            location_kg: fac * g / 1000.0,
            market_kg: fac * g / 1000.0,
        }
    }

    /// The hand case: one site, one team; 1000 -> 1500 GPU-hours, 400 -> 300 W, PUE
    /// 1.2 -> 1.1, 100 -> 50 g/kWh. C0 = 1000 x 0.4 x 1.2 x 0.1 = 48 kg, C1 = 1500 x 0.3 x 1.1
    /// x 0.05 = 24.75 kg, L = 23.25 / ln(48 / 24.75) = 35.1002...; activity L ln 1.5 = +14.232,
    /// energy intensity L ln 0.75 = -10.098, PUE L ln(1.1/1.2) = -3.054, grid L ln 0.5 =
    /// -24.330; sum -23.25.
    #[test]
    fn the_hand_case() {
        let k = ("s".to_string(), "t".to_string());
        let before = BTreeMap::from([(k.clone(), cell(1000.0, 400.0, 1.2, 100.0))]);
        let after = BTreeMap::from([(k, cell(1500.0, 300.0, 1.1, 50.0))]);
        let (loc, _) = decompose(&before, &after, None);
        let e = &loc.effects;
        let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
        assert_eq!(r3(e.activity), 14.232);
        assert_eq!(r3(e.energy_intensity), -10.098);
        assert_eq!(r3(e.pue), -3.054);
        assert_eq!(r3(e.grid_intensity), -24.330);
        assert!((e.total() - (-23.25)).abs() < 1e-9);
        assert!((loc.from_kgco2e - 48.0).abs() < 1e-12 && (loc.to_kgco2e - 24.75).abs() < 1e-12);
        // The grid explains the change most.
        let main = loc.main_effect.unwrap();
        assert_eq!((main.effect, r3(main.kgco2e)), ("grid_intensity", -24.33));
    }

    #[test]
    fn zeros_entries_and_exits_reconcile() {
        let c = |h: f64, loc: f64, mkt: f64| Cell {
            gpu_hours: h,
            it_kwh: h * 0.5,
            facility_kwh: h * 0.6,
            location_kg: loc,
            market_kg: mkt,
        };
        let k = |s: &str, t: &str| (s.to_string(), t.to_string());
        // A cell that stays, one whose market-based figure goes to zero under instruments, one
        // that enters, one that leaves.
        let before = BTreeMap::from([
            (k("a", "x"), c(100.0, 30.0, 30.0)),
            (k("a", "y"), c(50.0, 10.0, 10.0)),
            (k("b", "x"), c(20.0, 5.0, 5.0)),
        ]);
        let after = BTreeMap::from([
            (k("a", "x"), c(120.0, 33.0, 33.0)),
            (k("a", "y"), c(50.0, 12.0, 0.0)),
            (k("c", "z"), c(10.0, 4.0, 4.0)),
        ]);
        let side = |cells| Side { cells, lines: None };
        let b = bridge(
            &side(before),
            &side(after),
            &Default::default(),
            BridgeFrom {
                period: "q".into(),
                sha256: String::new(),
            },
        );
        assert!(reconciles(&b, 1e-9), "{b:?}");
        assert!((b.location.effects.entered_scope - 4.0).abs() < 1e-12);
        assert!((b.location.effects.left_scope + 5.0).abs() < 1e-12);
        // The market-based zero is the instruments' doing: the whole 10 kg for that cell.
        let y = b.teams.iter().find(|g| g.name == "y").unwrap();
        // Only the instruments factor (market over location) went to zero: it takes all -10.
        assert_eq!(y.market.effects.instruments, Some(-10.0));
        assert_eq!(y.market.effects.activity, 0.0);
        assert_eq!(y.market.effects.grid_intensity, 0.0);
        assert_eq!(y.market.to_kgco2e, 0.0);
        assert_eq!(b.teams.len(), 3);
        assert_eq!(b.sites.len(), 3);
    }

    /// The hand case at an owned site `own` with idle lines (10 kg location / 8 market before,
    /// 4 / 3 after), beside a cloud site `gcp` whose accelerator-hours grow by half at the same
    /// intensities (20 -> 30 kg: activity L(30, 20) ln 1.5 = +10 exactly) and which gains a 2 kg
    /// line. Organisation 78 -> 60.75 kg: grid -24.330, activity +24.232, energy -10.098, PUE
    /// -3.054, idle and unattributed (4 + 2) - 10 = -4. Scope 2 58 -> 28.75 (idle -6); Scope 3
    /// 20 -> 32 (activity +10, idle +2). The team has no idle line: 68 -> 54.75.
    #[test]
    fn idle_lines_and_scopes_by_hand() {
        let k = |s: &str| (s.to_string(), "t".to_string());
        let line = |l: f64, m: f64| Line {
            location_kg: l,
            market_kg: m,
        };
        let gcp_g = 20.0 / 44.0 * 1000.0;
        let before = Side {
            cells: BTreeMap::from([
                (k("own"), cell(1000.0, 400.0, 1.2, 100.0)),
                (k("gcp"), cell(100.0, 400.0, 1.1, gcp_g)),
            ]),
            lines: Some(BTreeMap::from([
                ("own".to_string(), line(10.0, 8.0)),
                ("gcp".to_string(), line(0.0, 0.0)),
            ])),
        };
        let after = Side {
            cells: BTreeMap::from([
                (k("own"), cell(1500.0, 300.0, 1.1, 50.0)),
                (k("gcp"), cell(150.0, 400.0, 1.1, gcp_g)),
            ]),
            lines: Some(BTreeMap::from([
                ("own".to_string(), line(4.0, 3.0)),
                ("gcp".to_string(), line(2.0, 2.0)),
            ])),
        };
        let cloud = std::collections::BTreeSet::from(["gcp".to_string()]);
        let from = BridgeFrom {
            period: "Q2".into(),
            sha256: String::new(),
        };
        let b = bridge(&before, &after, &cloud, from);
        assert!(reconciles(&b, 1e-9), "{b:?}");
        let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
        let e = &b.location.effects;
        assert_eq!(
            (r3(b.location.from_kgco2e), r3(b.location.to_kgco2e)),
            (78.0, 60.75)
        );
        assert_eq!(r3(e.activity), 24.232);
        assert_eq!(r3(e.grid_intensity), -24.33);
        assert_eq!(e.idle_and_unattributed.map(r3), Some(-4.0));
        assert_eq!(b.market.effects.idle_and_unattributed.map(r3), Some(-3.0)); // (3 + 2) - 8
        let scope = |name: &str| b.scopes.iter().find(|s| s.scope == name).unwrap();
        let s2 = &scope("scope_2").location;
        assert_eq!((r3(s2.from_kgco2e), r3(s2.to_kgco2e)), (58.0, 28.75));
        assert_eq!(s2.effects.idle_and_unattributed.map(r3), Some(-6.0));
        let s3 = &scope("scope_3_category_1_cloud").location;
        assert_eq!((r3(s3.from_kgco2e), r3(s3.to_kgco2e)), (20.0, 32.0));
        assert_eq!(r3(s3.effects.activity), 10.0);
        assert_eq!(s3.effects.idle_and_unattributed.map(r3), Some(2.0));
        assert_eq!(r3(s3.effects.grid_intensity), 0.0);
        let t = &b.teams[0].location;
        assert_eq!(
            (
                r3(t.from_kgco2e),
                r3(t.to_kgco2e),
                t.effects.idle_and_unattributed
            ),
            (68.0, 54.75, None)
        );
        assert_eq!(b.note, None);
        assert_eq!(
            b.sentences,
            vec![
                "The grid at own was 50 % cleaner (100 → 50 g per facility kWh): −24.3 kg.",
                "Accelerator-hours at own rose 50 % (1000 → 1500): +14.2 kg (+24.2 kg in all).",
                "Each accelerator-hour at own drew 25 % less energy (0.400 → 0.300 kWh): −10.1 kg.",
            ]
        );
        // Without the previous inventory the lines are left out of both sides, and a note says so.
        let older = Side {
            lines: None,
            ..before.clone()
        };
        let b = bridge(&older, &after, &cloud, b.from.clone());
        assert!(reconciles(&b, 1e-9));
        assert_eq!(b.location.effects.idle_and_unattributed, None);
        assert_eq!(r3(b.location.to_kgco2e), 54.75);
        assert!(b.note.unwrap().contains("no inventory"));
    }

    #[test]
    fn kilograms_are_signed_and_grouped() {
        assert_eq!(kg(-1234.56), "−1,234.6 kg");
        assert_eq!(kg(14.23), "+14.2 kg");
        assert_eq!(kg(0.01), "0.0 kg");
        assert_eq!(kg(1234567.0), "+1,234,567.0 kg");
    }
}
