//! The report's charts (`report::chart`) laid out once as drawing primitives (grid, ticks,
//! grouped and stacked bars, lines, labels, legends), which the SVG (HTML) and PDF backends
//! both draw.

pub use crate::format::tick_label;
use crate::report::chart::{BarChart, Kind, Series, COLORS};

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

/// The plot area of a chart and its value scale, in chart units.
struct Frame<'c> {
    c: &'c BarChart,
    left: f64,
    top: f64,
    /// Plot width and height.
    pw: f64,
    ph: f64,
    /// Width of one category.
    gw: f64,
    /// The step between ticks.
    step: f64,
}

impl Frame<'_> {
    /// The y of a value.
    fn y(&self, v: f64) -> f64 {
        let span = (self.c.scale.max - self.c.scale.min).max(f64::MIN_POSITIVE);
        self.top + self.ph - (v - self.c.scale.min) / span * self.ph
    }

    /// The tooltip of one value: category, series, value and unit.
    fn tip(&self, cat: &str, ser: &Series, v: f64) -> String {
        format!(
            "{cat}, {}: {} {}",
            ser.name,
            tick_label(v, self.step / 100.0),
            self.c.unit
        )
    }

    /// The title, then a grid line and a label per tick.
    fn axes(&self, out: &mut Vec<Prim>) {
        out.push(Prim::Text {
            x: self.left,
            y: 18.0,
            size: 14.0,
            anchor: Anchor::Start,
            bold: true,
            text: format!("{} ({})", self.c.title, self.c.unit),
        });
        for t in &self.c.scale.ticks {
            let ty = self.y(*t);
            out.push(Prim::Line {
                points: vec![(self.left, ty), (self.left + self.pw, ty)],
                color: GRID,
                width: 1.0,
            });
            out.push(Prim::Text {
                x: self.left - 6.0,
                y: ty + 3.5,
                size: 10.0,
                anchor: Anchor::End,
                bold: false,
                text: tick_label(*t, self.step),
            });
        }
    }

    /// One bar per series, side by side in each category, from zero.
    fn grouped(&self, out: &mut Vec<Prim>) {
        let c = self.c;
        let nser = c.series.len().max(1) as f64;
        let zero = self.y(0.0f64.max(c.scale.min));
        let bw = (self.gw * 0.8 / nser).min(40.0);
        for (gi, cat) in c.categories.iter().enumerate() {
            let gx = self.left + gi as f64 * self.gw + (self.gw - bw * nser) / 2.0;
            for (si, ser) in c.series.iter().enumerate() {
                let v = ser.values.get(gi).copied().unwrap_or(0.0);
                if !v.is_finite() {
                    continue;
                }
                let y1 = self.y(v);
                out.push(Prim::Rect {
                    x: gx + si as f64 * bw,
                    y: zero.min(y1),
                    w: bw,
                    h: (zero - y1).abs(),
                    color: ser.color,
                    tip: self.tip(cat, ser, v),
                });
            }
        }
    }

    /// The series stacked in each category: positive values up from zero, negative down.
    fn stacked(&self, out: &mut Vec<Prim>) {
        let c = self.c;
        let bw = (self.gw * 0.6).min(60.0);
        for (gi, cat) in c.categories.iter().enumerate() {
            let gx = self.left + gi as f64 * self.gw + (self.gw - bw) / 2.0;
            let (mut pos, mut neg) = (0.0, 0.0);
            for ser in &c.series {
                let v = ser.values.get(gi).copied().unwrap_or(0.0);
                if !v.is_finite() || v == 0.0 {
                    continue;
                }
                let base = if v >= 0.0 { &mut pos } else { &mut neg };
                let (a, b) = (self.y(*base), self.y(*base + v));
                *base += v;
                out.push(Prim::Rect {
                    x: gx,
                    y: a.min(b),
                    w: bw,
                    h: (a - b).abs(),
                    color: ser.color,
                    tip: self.tip(cat, ser, v),
                });
            }
        }
    }

    /// Floating steps from the first series, each from where the last ended; the last bar is
    /// the total, from zero, in the second colour. No legend is needed.
    fn waterfall(&self, out: &mut Vec<Prim>) {
        let c = self.c;
        let Some(ser) = c.series.first() else {
            return;
        };
        let bw = (self.gw * 0.6).min(60.0);
        let n = c.categories.len();
        let mut run = 0.0;
        for (gi, cat) in c.categories.iter().enumerate() {
            let v = ser.values.get(gi).copied().unwrap_or(0.0);
            if !v.is_finite() {
                continue;
            }
            let last = gi + 1 == n;
            let (from, to) = if last { (0.0, v) } else { (run, run + v) };
            let (a, b) = (self.y(from), self.y(to));
            out.push(Prim::Rect {
                x: self.left + gi as f64 * self.gw + (self.gw - bw) / 2.0,
                y: a.min(b),
                w: bw,
                h: (a - b).abs(),
                color: if last { COLORS[1] } else { ser.color },
                tip: self.tip(cat, ser, v),
            });
            if !last {
                run += v;
            }
        }
    }

    /// A line per series through its finite values, with a marker at each.
    fn lines(&self, out: &mut Vec<Prim>) {
        let c = self.c;
        for ser in &c.series {
            let pts: Vec<(f64, f64)> = ser
                .values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(i, v)| (self.left + i as f64 * self.gw + self.gw / 2.0, self.y(*v)))
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
                    tip: self.tip(cat, ser, v),
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

    /// The category labels under the plot, shortened to fit their width.
    fn categories(&self, out: &mut Vec<Prim>) {
        for (gi, cat) in self.c.categories.iter().enumerate() {
            out.push(Prim::Text {
                x: self.left + gi as f64 * self.gw + self.gw / 2.0,
                y: self.top + self.ph + 14.0,
                size: 10.0,
                anchor: Anchor::Middle,
                bold: false,
                text: shorten(cat, ((self.gw / 6.0) as usize).clamp(4, 24)),
            });
        }
    }

    /// A swatch and the name of each series, left to right along the bottom.
    fn legend(&self, out: &mut Vec<Prim>) {
        let mut lx = self.left;
        for ser in &self.c.series {
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
    }
}

/// Lay the chart out as primitives: title, grid and tick labels, bars or lines, category
/// labels, legend.
pub fn layout(c: &BarChart) -> Vec<Prim> {
    let (left, right, top, bottom) = (70.0, 10.0, 34.0, 58.0);
    let pw = WIDTH - left - right;
    let f = Frame {
        c,
        left,
        top,
        pw,
        ph: HEIGHT - top - bottom,
        gw: pw / c.categories.len().max(1) as f64,
        step: c.step(),
    };
    let mut out = Vec::new();
    f.axes(&mut out);
    match c.kind {
        Kind::Grouped => f.grouped(&mut out),
        Kind::Stacked => f.stacked(&mut out),
        Kind::Lines => f.lines(&mut out),
        Kind::Waterfall => f.waterfall(&mut out),
    }
    f.categories(&mut out);
    if c.kind != Kind::Waterfall {
        f.legend(&mut out);
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

/// Render as inline SVG (text as text, so it is selectable and printable).
pub fn svg(c: &BarChart) -> String {
    svg_of(&c.id, &c.title, HEIGHT, layout(c))
}

/// The colours of the heat map's matched share, from none to all (in fifths), and of an hour
/// without consumption.
const HEAT: [&str; 6] = [
    "#d9776f", "#eba67a", "#f2d07e", "#c9dd8a", "#8cc98f", "#3f8f5f",
];
const NO_LOAD: &str = "#eeeeee";

/// A day-by-hour heat map of a site's matched share: a row per day (label), 24 columns (UTC
/// hours); `None` where the site consumed nothing. Its primitives and height, in chart units.
pub fn heatmap(days: &[(String, [Option<f64>; 24])]) -> (Vec<Prim>, f64) {
    let (left, top, cell_w) = (80.0, 24.0, (WIDTH - 90.0) / 24.0);
    let cell_h = if days.len() > 40 { 4.0 } else { 10.0 };
    let mut out = Vec::new();
    for h in (0..24).step_by(3) {
        out.push(Prim::Text {
            x: left + (h as f64 + 0.5) * cell_w,
            y: top - 6.0,
            size: 9.0,
            anchor: Anchor::Middle,
            bold: false,
            text: format!("{h:02}h"),
        });
    }
    for (i, (day, hours)) in days.iter().enumerate() {
        let y = top + i as f64 * cell_h;
        if days.len() <= 40 || i % 7 == 0 {
            out.push(Prim::Text {
                x: left - 6.0,
                y: y + cell_h.min(9.0),
                size: 8.0,
                anchor: Anchor::End,
                bold: false,
                text: day.clone(),
            });
        }
        for (h, share) in hours.iter().enumerate() {
            let (color, tip) = match share {
                Some(s) => (
                    HEAT[((s * 5.0).floor() as usize).min(5)],
                    format!("{day} {h:02}:00 UTC: {:.0} % matched", s * 100.0),
                ),
                None => (NO_LOAD, format!("{day} {h:02}:00 UTC: no consumption")),
            };
            out.push(Prim::Rect {
                x: left + h as f64 * cell_w,
                y,
                w: cell_w - 0.5,
                h: cell_h - 0.5,
                color,
                tip,
            });
        }
    }
    (out, top + days.len() as f64 * cell_h + 6.0)
}

/// A site's hours as heat-map days: every day of the period (UTC), each hour's matched share
/// where the site consumed.
pub fn heat_days(r: &crate::report::Report, site: &str) -> Vec<(String, [Option<f64>; 24])> {
    let mut days: std::collections::BTreeMap<String, [Option<f64>; 24]> =
        std::collections::BTreeMap::new();
    let mut d = r.period.start.date_naive();
    while d < r.period.end.date_naive()
        || (d == r.period.end.date_naive() && r.period.end.time() > chrono::NaiveTime::MIN)
    {
        days.insert(d.format("%Y-%m-%d").to_string(), [None; 24]);
        d = d.succ_opt().unwrap_or(d);
        if days.len() > 400 {
            break;
        }
    }
    for h in r
        .scope2
        .hourly
        .iter()
        .flat_map(|h| &h.hours)
        .filter(|h| h.site == site)
    {
        let (day, hour) = (
            h.hour.get(..10).unwrap_or(""),
            h.hour.get(11..13).and_then(|x| x.parse::<usize>().ok()),
        );
        if let (Some(row), Some(hr)) = (days.get_mut(day), hour.filter(|x| *x < 24)) {
            if h.consumption_kwh > 0.0 {
                row[hr] = Some(h.matched_kwh / h.consumption_kwh);
            }
        }
    }
    days.into_iter().collect()
}

/// Primitives as inline SVG, `height` chart units tall.
pub fn svg_of(id: &str, title: &str, height: f64, prims: Vec<Prim>) -> String {
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{}">"#,
        esc(id),
        esc(title)
    );
    for p in prims {
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
    use crate::report::chart::{nice_scale, COLORS};

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
