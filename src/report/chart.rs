//! The charts a report holds, as data: categories, series and a value scale with rounded
//! ticks. `render::chart` lays them out; the HTML and the PDF draw them.

use super::Report;
use serde::Serialize;

/// A value axis: from `min` to `max`, with tick values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scale {
    pub min: f64,
    pub max: f64,
    pub ticks: Vec<f64>,
}

/// "Nice" ticks covering `[lo, hi]`: steps of 1, 2 or 5 x 10^k, about `n` of them; the scale
/// runs from the first tick to the last.
pub fn nice_scale(lo: f64, hi: f64, n: usize) -> Scale {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo.min(hi), lo.max(hi))
    } else {
        (0.0, 1.0)
    };
    let (lo, hi) = if hi - lo < f64::EPSILON * hi.abs().max(1.0) {
        (lo.min(0.0), if hi > 0.0 { hi * 1.0 } else { 1.0 })
    } else {
        (lo, hi)
    };
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    let raw = span / n.max(1) as f64;
    let exp = raw.log10().floor() as i32;
    let mag = 10f64.powi(exp);
    let mant = [1i64, 2, 5, 10]
        .into_iter()
        .find(|m| *m as f64 * mag >= raw)
        .unwrap_or(10);
    let step = mant as f64 * mag;
    // Ticks are whole multiples of the step, computed as integers over a power of ten so that
    // 0.6 prints as 0.6, not 0.6000000000000001.
    let value = |k: i64| {
        if exp < 0 {
            (k * mant) as f64 / 10f64.powi(-exp)
        } else {
            (k * mant) as f64 * mag
        }
    };
    let first = (lo / step).floor() as i64;
    let last = (hi / step).ceil() as i64;
    let ticks: Vec<f64> = (first..=last.max(first + 1))
        .take(1000)
        .map(value)
        .collect();
    let start = value(first);
    Scale {
        min: start,
        max: *ticks.last().unwrap_or(&start),
        ticks,
    }
}

/// One series of values, one per category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
    pub color: &'static str,
}

/// How the series of a chart are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// One bar per series, side by side in each category.
    Grouped,
    /// The series' bars stacked in each category (the stack is their sum).
    Stacked,
    /// One line per series through the categories.
    Lines,
    /// The first series' values as steps, each bar starting where the one before ended; the
    /// last category is the total, drawn from zero.
    Waterfall,
}

/// A chart: categories along the x axis, one value per category and series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BarChart {
    pub id: String,
    pub title: String,
    pub unit: String,
    pub kind: Kind,
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    pub scale: Scale,
}

impl BarChart {
    /// A grouped bar chart.
    pub fn new(
        id: &str,
        title: &str,
        unit: &str,
        categories: Vec<String>,
        series: Vec<Series>,
    ) -> BarChart {
        BarChart::of_kind(Kind::Grouped, id, title, unit, categories, series)
    }

    /// A chart of the given kind; the scale covers every value (stacks: their sums) and zero.
    pub fn of_kind(
        kind: Kind,
        id: &str,
        title: &str,
        unit: &str,
        categories: Vec<String>,
        series: Vec<Series>,
    ) -> BarChart {
        let finite = |v: &f64| v.is_finite();
        let (lo, hi) = match kind {
            Kind::Stacked => {
                let (mut lo, mut hi) = (0.0f64, 0.0f64);
                for i in 0..categories.len() {
                    let (mut pos, mut neg) = (0.0, 0.0);
                    for v in series
                        .iter()
                        .filter_map(|s| s.values.get(i))
                        .filter(|v| finite(v))
                    {
                        if *v >= 0.0 {
                            pos += v;
                        } else {
                            neg += v;
                        }
                    }
                    hi = hi.max(pos);
                    lo = lo.min(neg);
                }
                (lo, hi)
            }
            Kind::Waterfall => {
                let (mut run, mut lo, mut hi) = (0.0f64, 0.0f64, 0.0f64);
                let steps = series.first().map(|s| s.values.as_slice()).unwrap_or(&[]);
                for (i, v) in steps.iter().filter(|v| finite(v)).enumerate() {
                    if i + 1 < steps.len() {
                        run += v;
                    }
                    lo = lo.min(run).min(*v);
                    hi = hi.max(run).max(*v);
                }
                (lo, hi)
            }
            _ => {
                let vals = || {
                    series
                        .iter()
                        .flat_map(|s| s.values.iter().copied())
                        .filter(finite)
                };
                (vals().fold(0.0f64, f64::min), vals().fold(0.0f64, f64::max))
            }
        };
        BarChart {
            id: id.into(),
            title: title.into(),
            unit: unit.into(),
            kind,
            categories,
            series,
            scale: nice_scale(lo, hi, 5),
        }
    }

    /// The step between ticks.
    pub fn step(&self) -> f64 {
        self.scale
            .ticks
            .windows(2)
            .map(|p| p[1] - p[0])
            .next()
            .unwrap_or(1.0)
    }
}

/// The palette: colour-blind-safe (Okabe-Ito).
pub const COLORS: [&str; 6] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
];

/// The charts of a report, in the order the HTML and the PDF show them.
pub fn charts(r: &Report) -> Vec<BarChart> {
    let mut charts = vec![
        emissions_by_team(r),
        energy_by_month(r),
        emissions_by_month(r),
        energy_by_tier(r),
        scores_by_team(r),
    ];
    charts.extend(idle_by_node(r));
    charts.extend(waterfalls(r));
    charts.extend(bridge(r));
    charts
}

/// With `--previous`: the previous period's emissions (location-based), each effect of the
/// bridge, and this period's, as a waterfall.
fn bridge(r: &Report) -> Option<BarChart> {
    let b = r.bridge.as_ref()?;
    let (c, e) = (&b.location, &b.location.effects);
    let mut steps = vec![
        (b.from.period.as_str(), c.from_kgco2e),
        ("activity", e.activity),
        ("energy per GPU-hour", e.energy_intensity),
        ("PUE", e.pue),
        ("grid", e.grid_intensity),
        ("entered", e.entered_scope),
        ("left", e.left_scope),
    ];
    steps.extend(e.idle_and_unattributed.map(|i| ("idle & unattributed", i)));
    steps.push((r.period.label.as_str(), c.to_kgco2e));
    Some(BarChart::of_kind(
        Kind::Waterfall,
        "bridge_location",
        "Why emissions changed (location-based)",
        "kgCO₂e",
        steps.iter().map(|(k, _)| k.to_string()).collect(),
        vec![series(
            "emissions",
            steps.iter().map(|(_, v)| *v).collect(),
            0,
        )],
    ))
}

/// Per site, from the accelerators in jobs to the electricity the inventory counts: the host in
/// jobs, jobs whose split is unknown, idle, PUE overhead, unattributed (where a meter reads);
/// the last bar is the site's Scope 2 electricity.
fn waterfalls(r: &Report) -> Vec<BarChart> {
    let mut sites: Vec<&str> = r
        .inventory
        .sites
        .iter()
        .filter_map(|x| x.site.as_deref())
        .collect();
    sites.dedup();
    sites
        .into_iter()
        .map(|site| {
            let rows: Vec<_> = r
                .inventory
                .sites
                .iter()
                .filter(|x| x.site.as_deref() == Some(site))
                .collect();
            let sum = |f: &dyn Fn(&crate::ledger::InventoryRow) -> f64| {
                rows.iter().map(|x| f(x)).fold(0.0, |a, b| a + b)
            };
            let mut steps: Vec<(&str, f64)> = vec![
                (
                    "accelerators in jobs",
                    sum(&|x| x.accelerator_kwh.unwrap_or(0.0)),
                ),
                ("host", sum(&|x| x.host_kwh.unwrap_or(0.0))),
            ];
            let unsplit = sum(&|x| x.unsplit_kwh);
            if unsplit > 0.0 {
                steps.push(("split unknown", unsplit));
            }
            steps.push(("idle", sum(&|x| x.idle_kwh.unwrap_or(0.0))));
            steps.push((
                "PUE overhead",
                sum(&|x| x.facility_energy_kwh - x.it_energy_kwh),
            ));
            let metered = rows.iter().any(|x| x.metered_kwh.is_some());
            if metered {
                steps.push(("unattributed", sum(&|x| x.unattributed_kwh.unwrap_or(0.0))));
            }
            steps.push(("scope 2", sum(&|x| x.scope2_kwh)));
            BarChart::of_kind(
                Kind::Waterfall,
                &format!("waterfall_{site}"),
                &format!("From jobs to the site's electricity: {site}"),
                "kWh",
                steps.iter().map(|(k, _)| k.to_string()).collect(),
                vec![series("energy", steps.iter().map(|(_, v)| *v).collect(), 0)],
            )
        })
        .collect()
}

/// A series of values in the palette's `color`-th colour.
fn series(name: &str, values: Vec<f64>, color: usize) -> Series {
    Series {
        name: name.into(),
        values,
        color: COLORS[color % COLORS.len()],
    }
}

/// Location- and market-based emissions side by side per team.
fn emissions_by_team(r: &Report) -> BarChart {
    BarChart::new(
        "emissions_by_team",
        "Emissions by team",
        "kgCO₂e",
        r.teams.iter().map(|t| t.team.clone()).collect(),
        vec![
            series(
                "location-based",
                r.teams.iter().map(|t| t.amounts.location_kgco2e).collect(),
                0,
            ),
            series(
                "market-based",
                r.teams
                    .iter()
                    .map(|t| t.amounts.market_kgco2e.unwrap_or(0.0))
                    .collect(),
                1,
            ),
        ],
    )
}

fn months(r: &Report) -> Vec<String> {
    r.monthly.iter().map(|m| m.month.clone()).collect()
}

/// Facility energy per month, stacked: IT equipment and the PUE overhead on top.
fn energy_by_month(r: &Report) -> BarChart {
    BarChart::of_kind(
        Kind::Stacked,
        "energy_by_month",
        "Facility energy by month",
        "kWh",
        months(r),
        vec![
            series(
                "IT equipment",
                r.monthly.iter().map(|m| m.it_energy_kwh).collect(),
                0,
            ),
            series(
                "facility overhead (PUE)",
                r.monthly
                    .iter()
                    .map(|m| m.facility_energy_kwh - m.it_energy_kwh)
                    .collect(),
                4,
            ),
        ],
    )
}

/// Location- and market-based emissions per month, as lines.
fn emissions_by_month(r: &Report) -> BarChart {
    BarChart::of_kind(
        Kind::Lines,
        "emissions_by_month",
        "Emissions by month",
        "kgCO₂e",
        months(r),
        vec![
            series(
                "location-based",
                r.monthly.iter().map(|m| m.location_kgco2e).collect(),
                0,
            ),
            series(
                "market-based",
                r.monthly.iter().map(|m| m.market_kgco2e).collect(),
                1,
            ),
        ],
    )
}

/// IT energy per energy tier (metered, sampled, estimated).
fn energy_by_tier(r: &Report) -> BarChart {
    BarChart::new(
        "energy_by_tier",
        "IT energy by tier",
        "kWh",
        r.tiers
            .iter()
            .map(|t| t.tier.as_str().to_string())
            .collect(),
        vec![series(
            "IT energy",
            r.tiers.iter().map(|t| t.it_energy_kwh).collect(),
            2,
        )],
    )
}

/// Each team's practice scores, grouped by practice; a null score is a missing bar.
fn scores_by_team(r: &Report) -> BarChart {
    BarChart::new(
        "scores_by_team",
        "Practice scores",
        "0-100",
        r.practices.iter().map(|p| p.label()).collect(),
        r.teams
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let values = r
                    .practices
                    .iter()
                    .map(|p| {
                        t.scores
                            .practices
                            .get(p)
                            .copied()
                            .flatten()
                            .unwrap_or(f64::NAN)
                    })
                    .collect();
                series(&t.team, values, i)
            })
            .collect(),
    )
}

/// Measured energy per node, stacked: allocated to jobs, and idle (with telemetry only).
fn idle_by_node(r: &Report) -> Option<BarChart> {
    let tel = r.telemetry.as_ref()?;
    Some(BarChart::of_kind(
        Kind::Stacked,
        "idle_by_node",
        "Measured energy per node",
        "kWh",
        tel.nodes.iter().map(|n| n.node.clone()).collect(),
        vec![
            series(
                "allocated to jobs",
                tel.nodes.iter().map(|n| n.total_kwh - n.idle_kwh).collect(),
                0,
            ),
            series("idle", tel.nodes.iter().map(|n| n.idle_kwh).collect(), 5),
        ],
    ))
}
