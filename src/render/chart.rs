//! One backend-neutral chart model (scales with rounded ticks, grouped bars, labels, legends),
//! and its SVG rendering for the HTML report. A PDF backend can draw the same model.

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

/// A grouped bar chart: one group per category, one bar per series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BarChart {
    pub id: String,
    pub title: String,
    pub unit: String,
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    pub scale: Scale,
}

impl BarChart {
    pub fn new(
        id: &str,
        title: &str,
        unit: &str,
        categories: Vec<String>,
        series: Vec<Series>,
    ) -> BarChart {
        let hi = series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        let lo = series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::min);
        BarChart {
            id: id.into(),
            title: title.into(),
            unit: unit.into(),
            categories,
            series,
            scale: nice_scale(lo, hi, 5),
        }
    }
}

/// The palette: colour-blind-safe (Okabe-Ito).
pub const COLORS: [&str; 6] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
];

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
    let (w, h) = (720.0, 300.0);
    let (left, right, top, bottom) = (70.0, 10.0, 34.0, 58.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let y = |v: f64| {
        top + ph - (v - c.scale.min) / (c.scale.max - c.scale.min).max(f64::MIN_POSITIVE) * ph
    };
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{}" viewBox="0 0 {w} {h}" role="img" aria-label="{}">"#,
        esc(&c.id),
        esc(&c.title)
    );
    s.push_str(&format!(
        r#"<text x="{left}" y="18" font-size="14" font-weight="600">{} ({})</text>"#,
        esc(&c.title),
        esc(&c.unit)
    ));
    let step = c
        .scale
        .ticks
        .windows(2)
        .map(|p| p[1] - p[0])
        .next()
        .unwrap_or(1.0);
    for t in &c.scale.ticks {
        let ty = y(*t);
        s.push_str(&format!(r##"<line x1="{left}" x2="{}" y1="{ty:.1}" y2="{ty:.1}" stroke="#d5ddd8" stroke-width="1"/>"##, left + pw));
        s.push_str(&format!(
            r#"<text x="{}" y="{:.1}" font-size="10" text-anchor="end">{}</text>"#,
            left - 6.0,
            ty + 3.5,
            tick_label(*t, step)
        ));
    }
    let groups = c.categories.len().max(1) as f64;
    let gw = pw / groups;
    let nser = c.series.len().max(1) as f64;
    let bw = (gw * 0.8 / nser).min(40.0);
    for (gi, cat) in c.categories.iter().enumerate() {
        let gx = left + gi as f64 * gw + (gw - bw * nser) / 2.0;
        for (si, ser) in c.series.iter().enumerate() {
            let v = ser.values.get(gi).copied().unwrap_or(0.0);
            if !v.is_finite() {
                continue;
            }
            let (y0, y1) = (y(0.0f64.max(c.scale.min)), y(v));
            let (top_y, height) = (y0.min(y1), (y0 - y1).abs());
            s.push_str(&format!(
                r#"<rect x="{:.1}" y="{top_y:.1}" width="{bw:.1}" height="{height:.1}" fill="{}"><title>{}: {} {}</title></rect>"#,
                gx + si as f64 * bw,
                ser.color,
                esc(&format!("{cat}, {}", ser.name)),
                tick_label(v, step / 100.0),
                esc(&c.unit)
            ));
        }
        let label: String = if cat.chars().count() > 14 {
            format!("{}…", cat.chars().take(13).collect::<String>())
        } else {
            cat.clone()
        };
        s.push_str(&format!(
            r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"#,
            left + gi as f64 * gw + gw / 2.0,
            top + ph + 14.0,
            esc(&label)
        ));
    }
    let mut lx = left;
    for ser in &c.series {
        s.push_str(&format!(
            r#"<rect x="{lx:.1}" y="{:.1}" width="10" height="10" fill="{}"/>"#,
            h - 18.0,
            ser.color
        ));
        s.push_str(&format!(
            r#"<text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#,
            lx + 14.0,
            h - 9.0,
            esc(&ser.name)
        ));
        lx += 24.0 + 7.0 * ser.name.chars().count() as f64;
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
}
