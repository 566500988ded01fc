//! Why emissions changed since the previous report: an additive LMDI-I decomposition (Ang
//! 2004, 2015) of the jobs' emissions per cell (site x team), C = A x I x P x G, into activity
//! (A, accelerator-hours), energy intensity (I, IT kWh per accelerator-hour), PUE (P, facility
//! over IT kWh) and grid intensity (G, kg per facility kWh); market-based adds the instruments
//! (M, market over location kg). Effect of X = sum over cells of L(C1, C0) ln(X1 / X0), with
//! L(a, b) = (a - b) / (ln a - ln b) and L(a, a) = a; a cell on one side only goes whole to
//! `entered_scope` or `left_scope`. The effects add up to the change with no residual. Pure:
//! the cells come from the job rows of both reports.

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
}

impl Effects {
    fn total(&self) -> f64 {
        self.activity
            + self.energy_intensity
            + self.pue
            + self.grid_intensity
            + self.instruments.unwrap_or(0.0)
            + self.entered_scope
            + self.left_scope
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

/// The decomposition of the cells of two reports (keys present in either).
pub fn decompose<K: Ord + Clone>(
    before: &BTreeMap<K, Cell>,
    after: &BTreeMap<K, Cell>,
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
    loc.main_effect = loc.effects.main();
    mkt.main_effect = mkt.effects.main();
    loc.from_kgco2e = b.location_kg;
    loc.to_kgco2e = a.location_kg;
    mkt.from_kgco2e = b.market_kg;
    mkt.to_kgco2e = a.market_kg;
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
    pub location: Change,
    pub market: Change,
}

/// The bridge from the previous report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bridge {
    /// The previous report: its period label and sha256.
    pub from: BridgeFrom,
    /// The jobs' emissions (the inventory's idle and unattributed lines are not decomposed).
    pub location: Change,
    pub market: Change,
    pub teams: Vec<GroupBridge>,
    pub sites: Vec<GroupBridge>,
}

/// Which report the bridge starts from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BridgeFrom {
    pub period: String,
    pub sha256: String,
}

/// The bridge over cells keyed (site, team): the organisation, each team and each site.
pub fn bridge(
    before: &BTreeMap<(String, String), Cell>,
    after: &BTreeMap<(String, String), Cell>,
    from: BridgeFrom,
) -> Bridge {
    let (location, market) = decompose(before, after);
    let group = |pick: &dyn Fn(&(String, String)) -> &String| {
        let mut names: std::collections::BTreeSet<String> =
            before.keys().map(|k| pick(k).clone()).collect();
        names.extend(after.keys().map(|k| pick(k).clone()));
        names
            .into_iter()
            .map(|name| {
                let only =
                    |m: &BTreeMap<(String, String), Cell>| -> BTreeMap<(String, String), Cell> {
                        m.iter()
                            .filter(|(k, _)| *pick(k) == name)
                            .map(|(k, v)| (k.clone(), *v))
                            .collect()
                    };
                let (location, market) = decompose(&only(before), &only(after));
                GroupBridge {
                    name,
                    location,
                    market,
                }
            })
            .collect::<Vec<_>>()
    };
    Bridge {
        from,
        location,
        market,
        teams: group(&|k| &k.1),
        sites: group(&|k| &k.0),
    }
}

/// The cells of a report.json's `jobs` (site, `(no site)` when none, and team); a market-based
/// figure a report lacks is taken as the location-based one.
pub fn cells_of_json(report: &serde_json::Value) -> BTreeMap<(String, String), Cell> {
    let mut out: BTreeMap<(String, String), Cell> = BTreeMap::new();
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand case: one site, one team; 1000 -> 1500 GPU-hours, 400 -> 300 W, PUE
    /// 1.2 -> 1.1, 100 -> 50 g/kWh. C0 = 1000 x 0.4 x 1.2 x 0.1 = 48 kg, C1 = 1500 x 0.3 x 1.1
    /// x 0.05 = 24.75 kg, L = 23.25 / ln(48 / 24.75) = 35.1002...; activity L ln 1.5 = +14.232,
    /// energy intensity L ln 0.75 = -10.098, PUE L ln(1.1/1.2) = -3.054, grid L ln 0.5 =
    /// -24.330; sum -23.25.
    #[test]
    fn the_hand_case() {
        let cell = |h: f64, w: f64, pue: f64, g: f64| {
            let it = h * w / 1000.0;
            let fac = it * pue;
            Cell {
                gpu_hours: h,
                it_kwh: it,
                facility_kwh: fac,
                location_kg: fac * g / 1000.0,
                market_kg: fac * g / 1000.0,
            }
        };
        let k = ("s".to_string(), "t".to_string());
        let before = BTreeMap::from([(k.clone(), cell(1000.0, 400.0, 1.2, 100.0))]);
        let after = BTreeMap::from([(k, cell(1500.0, 300.0, 1.1, 50.0))]);
        let (loc, _) = decompose(&before, &after);
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
        let b = bridge(
            &before,
            &after,
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
}
