//! One backend-neutral chart model (scales with rounded ticks, grouped and stacked bars, lines,
//! labels, legends),
//! laid out once as drawing primitives, which the SVG (HTML) and PDF backends both draw.

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
pub enum Kind {
    /// One bar per series, side by side in each category.
    Grouped,
    /// The series' bars stacked in each category (the stack is their sum).
    Stacked,
    /// One line per series through the categories.
    Lines,
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
    fn step(&self) -> f64 {
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

/// Grid lines and axis text.
pub const GRID: &str = "#d5ddd8";
pub const INK: &str = "#1b2b24";

/// Where text is anchored horizontally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// A drawing primitive in chart units (origin top left, y down); both backends draw these.
#[derive(Debug, Clone, PartialEq)]
pub enum Prim {
    /// A filled rectangle, with a tooltip (SVG) naming the value.
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        color: &'static str,
        tip: String,
    },
    /// A stroked polyline (two points: a line).
    Line {
        points: Vec<(f64, f64)>,
        color: &'static str,
        width: f64,
    },
    /// Text whose baseline starts, centres or ends at (x, y).
    Text {
        x: f64,
        y: f64,
        size: f64,
        anchor: Anchor,
        bold: bool,
        text: String,
    },
}

/// Width and height of every chart, in chart units (SVG user units; the PDF scales them).
pub const WIDTH: f64 = 720.0;
pub const HEIGHT: f64 = 300.0;

/// A category label shortened visibly (with an ellipsis) to `max` characters.
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() > max {
        format!(
            "{}…",
            s.chars().take(max.saturating_sub(1)).collect::<String>()
        )
    } else {
        s.to_string()
    }
}

/// Lay the chart out as primitives: title, grid and tick labels, bars or lines, category
/// labels, legend.
pub fn layout(c: &BarChart) -> Vec<Prim> {
    let (left, right, top, bottom) = (70.0, 10.0, 34.0, 58.0);
    let (pw, ph) = (WIDTH - left - right, HEIGHT - top - bottom);
    let span = (c.scale.max - c.scale.min).max(f64::MIN_POSITIVE);
    let y = |v: f64| top + ph - (v - c.scale.min) / span * ph;
    let mut out = vec![Prim::Text {
        x: left,
        y: 18.0,
        size: 14.0,
        anchor: Anchor::Start,
        bold: true,
        text: format!("{} ({})", c.title, c.unit),
    }];
    let step = c.step();
    for t in &c.scale.ticks {
        let ty = y(*t);
        out.push(Prim::Line {
            points: vec![(left, ty), (left + pw, ty)],
            color: GRID,
            width: 1.0,
        });
        out.push(Prim::Text {
            x: left - 6.0,
            y: ty + 3.5,
            size: 10.0,
            anchor: Anchor::End,
            bold: false,
            text: tick_label(*t, step),
        });
    }
    let groups = c.categories.len().max(1) as f64;
    let gw = pw / groups;
    let nser = c.series.len().max(1) as f64;
    let zero = y(0.0f64.max(c.scale.min));
    let tip = |cat: &str, ser: &Series, v: f64| {
        format!(
            "{cat}, {}: {} {}",
            ser.name,
            tick_label(v, step / 100.0),
            c.unit
        )
    };
    match c.kind {
        Kind::Grouped => {
            let bw = (gw * 0.8 / nser).min(40.0);
            for (gi, cat) in c.categories.iter().enumerate() {
                let gx = left + gi as f64 * gw + (gw - bw * nser) / 2.0;
                for (si, ser) in c.series.iter().enumerate() {
                    let v = ser.values.get(gi).copied().unwrap_or(0.0);
                    if !v.is_finite() {
                        continue;
                    }
                    let y1 = y(v);
                    out.push(Prim::Rect {
                        x: gx + si as f64 * bw,
                        y: zero.min(y1),
                        w: bw,
                        h: (zero - y1).abs(),
                        color: ser.color,
                        tip: tip(cat, ser, v),
                    });
                }
            }
        }
        Kind::Stacked => {
            let bw = (gw * 0.6).min(60.0);
            for (gi, cat) in c.categories.iter().enumerate() {
                let gx = left + gi as f64 * gw + (gw - bw) / 2.0;
                let (mut pos, mut neg) = (0.0, 0.0);
                for ser in &c.series {
                    let v = ser.values.get(gi).copied().unwrap_or(0.0);
                    if !v.is_finite() || v == 0.0 {
                        continue;
                    }
                    let base = if v >= 0.0 { &mut pos } else { &mut neg };
                    let (a, b) = (y(*base), y(*base + v));
                    *base += v;
                    out.push(Prim::Rect {
                        x: gx,
                        y: a.min(b),
                        w: bw,
                        h: (a - b).abs(),
                        color: ser.color,
                        tip: tip(cat, ser, v),
                    });
                }
            }
        }
        Kind::Lines => {
            for ser in &c.series {
                let pts: Vec<(f64, f64)> = ser
                    .values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(i, v)| (left + i as f64 * gw + gw / 2.0, y(*v)))
                    .collect();
                for (i, (px, py)) in pts.iter().enumerate() {
                    let cat = c.categories.get(i).map(String::as_str).unwrap_or("");
                    let v = ser.values.get(i).copied().unwrap_or(0.0);
                    out.push(Prim::Rect {
                        x: px - 3.0,
                        y: py - 3.0,
                        w: 6.0,
                        h: 6.0,
                        color: ser.color,
                        tip: tip(cat, ser, v),
                    });
                }
                if pts.len() > 1 {
                    out.push(Prim::Line {
                        points: pts,
                        color: ser.color,
                        width: 2.0,
                    });
                }
            }
        }
    }
    for (gi, cat) in c.categories.iter().enumerate() {
        out.push(Prim::Text {
            x: left + gi as f64 * gw + gw / 2.0,
            y: top + ph + 14.0,
            size: 10.0,
            anchor: Anchor::Middle,
            bold: false,
            text: shorten(cat, ((gw / 6.0) as usize).clamp(4, 24)),
        });
    }
    let mut lx = left;
    for ser in &c.series {
        out.push(Prim::Rect {
            x: lx,
            y: HEIGHT - 18.0,
            w: 10.0,
            h: 10.0,
            color: ser.color,
            tip: ser.name.clone(),
        });
        out.push(Prim::Text {
            x: lx + 14.0,
            y: HEIGHT - 9.0,
            size: 11.0,
            anchor: Anchor::Start,
            bold: false,
            text: ser.name.clone(),
        });
        lx += 24.0 + 7.0 * ser.name.chars().count() as f64;
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A tick label: grouped digits, decimals only when the ticks need them.
pub fn tick_label(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 || step == 0.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    super::html::group_digits(v, decimals)
}

/// Render as inline SVG (text as text, so it is selectable and printable).
pub fn svg(c: &BarChart) -> String {
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}">"#,
        esc(&c.id),
        esc(&c.title)
    );
    for p in layout(c) {
        match p {
            Prim::Rect {
                x,
                y,
                w,
                h,
                color,
                tip,
            } => s.push_str(&format!(
                r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{color}"><title>{}</title></rect>"#,
                esc(&tip)
            )),
            Prim::Line {
                points,
                color,
                width,
            } => {
                let pts: Vec<String> = points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                s.push_str(&format!(
                    r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="{width}"/>"#,
                    pts.join(" ")
                ));
            }
            Prim::Text {
                x,
                y,
                size,
                anchor,
                bold,
                text,
            } => {
                let anchor = match anchor {
                    Anchor::Start => "",
                    Anchor::Middle => r#" text-anchor="middle""#,
                    Anchor::End => r#" text-anchor="end""#,
                };
                let weight = if bold { r#" font-weight="600""# } else { "" };
                s.push_str(&format!(
                    r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}"{anchor}{weight}>{}</text>"#,
                    esc(&text)
                ));
            }
        }
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks() {
        let s = nice_scale(0.0, 6979.5, 5);
        assert_eq!(s.ticks, vec![0.0, 2000.0, 4000.0, 6000.0, 8000.0]);
        assert_eq!((s.min, s.max), (0.0, 8000.0));
        assert_eq!(
            nice_scale(0.0, 1.0, 5).ticks,
            vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
        );
        assert_eq!(
            nice_scale(0.0, 100.0, 5).ticks,
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(
            nice_scale(-30.0, 45.0, 5).ticks,
            vec![-40.0, -20.0, 0.0, 20.0, 40.0, 60.0]
        );
        let z = nice_scale(0.0, 0.0, 5);
        assert!(z.max > z.min, "a flat chart still has a scale");
        assert_eq!(tick_label(2000.0, 2000.0), "2,000");
        assert_eq!(tick_label(0.4, 0.2), "0.4");
    }

    #[test]
    fn svg_is_escaped_and_complete() {
        let c = BarChart::new(
            "t",
            "Emissions <by> team",
            "kgCO2e",
            vec!["a&b".into(), "c".into()],
            vec![Series {
                name: "location".into(),
                values: vec![1.0, 2.0],
                color: COLORS[0],
            }],
        );
        let s = svg(&c);
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert!(s.contains("Emissions &lt;by&gt; team"));
        assert!(s.contains("a&amp;b"));
        assert_eq!(
            s.matches("<rect").count(),
            3,
            "two bars and one legend swatch"
        );
    }

    #[test]
    fn stacked_scales_to_the_stack_and_lines_join_points() {
        let ser = |name: &str, v: Vec<f64>| Series {
            name: name.into(),
            values: v,
            color: COLORS[0],
        };
        let c = BarChart::of_kind(
            Kind::Stacked,
            "s",
            "Stacked",
            "kWh",
            vec!["a".into(), "b".into()],
            vec![ser("x", vec![30.0, 50.0]), ser("y", vec![40.0, 45.0])],
        );
        // The tallest stack is 95 (50 + 45): ticks of 20 up to 100.
        assert_eq!(c.scale.max, 100.0);
        let rects: Vec<(f64, f64)> = layout(&c)
            .into_iter()
            .filter_map(|p| match p {
                Prim::Rect { y, h, tip, .. } if tip.contains(", ") => Some((y, h)),
                _ => None,
            })
            .collect();
        assert_eq!(rects.len(), 4);
        // In category a the second segment sits on the first: its bottom is the first's top.
        assert!((rects[1].0 + rects[1].1 - rects[0].0).abs() < 1e-9);
        let l = BarChart::of_kind(
            Kind::Lines,
            "l",
            "Lines",
            "kg",
            vec!["m1".into(), "m2".into(), "m3".into()],
            vec![ser("loc", vec![1.0, 2.0, 3.0])],
        );
        let lines: Vec<usize> = layout(&l)
            .into_iter()
            .filter_map(|p| match p {
                Prim::Line { points, width, .. } if width > 1.0 => Some(points.len()),
                _ => None,
            })
            .collect();
        assert_eq!(lines, vec![3]);
        assert!(svg(&l).contains("<polyline"));
        assert_eq!(shorten("abcdefgh", 5), "abcd…");
    }
}
