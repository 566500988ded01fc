//! report.html: tera templates over the view-model; self-contained (inline CSS), escaped.
//! Templates are embedded; a `--templates DIR` with files of the same names overrides them.

use super::{Rendered, Renderer};
use crate::error::{Error, Result};
use crate::report::Report;
use std::collections::HashMap;
use std::path::Path;
use tera::{Context, Tera, Value};

/// The embedded templates: (name, text).
pub const TEMPLATES: [(&str, &str); 3] = [
    (
        "report.html.tera",
        include_str!("../../templates/report.html.tera"),
    ),
    (
        "methodology.txt.tera",
        include_str!("../../templates/methodology.txt.tera"),
    ),
    ("style.css", include_str!("../../templates/style.css")),
];

pub struct Html {
    tera: Tera,
}

/// Group digits of a number: 1234567.891 with 2 decimals -> "1,234,567.89".
pub fn group_digits(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s
        .split_once('.')
        .map(|(a, b)| (a.to_string(), Some(b.to_string())))
        .unwrap_or((s.clone(), None));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(&f);
    }
    let zero = out.chars().all(|c| c == '0' || c == '.' || c == ',');
    if v < 0.0 && !zero {
        out.insert(0, '-');
    }
    out
}

/// `{{ x | num(d=2, scale=0.001) }}`: grouped digits (after scaling); null shows as an em dash (unknown, never zero).
fn num_filter(v: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let d = args.get("d").and_then(Value::as_u64).unwrap_or(2) as usize;
    let scale = args.get("scale").and_then(Value::as_f64).unwrap_or(1.0);
    Ok(Value::String(match v.as_f64() {
        Some(x) => group_digits(x * scale, d),
        None => "—".into(),
    }))
}

/// A headline quantity in the unit that suits its size: kgCO2e as t from 1,000 kg, kWh as MWh
/// from 1,000 kWh, litres as m³ from 1,000 L; below that the base unit, so that a small
/// report does not print 0.00 t. `like` picks the unit (a range's bounds take their value's).
pub fn quantity(v: Option<f64>, kind: &str, like: Option<f64>) -> String {
    let Some(v) = v.filter(|x| x.is_finite()) else {
        return "—".into();
    };
    let (small, big, d) = match kind {
        "energy" => ("kWh", "MWh", 2),
        "water" => ("L", "m³", 1),
        _ => ("kg", "t", 2),
    };
    if like.unwrap_or(v).abs() >= 1000.0 {
        format!("{} {big}", group_digits(v / 1000.0, d))
    } else {
        format!("{} {small}", group_digits(v, d))
    }
}

/// `{{ x | qty(kind="mass", like=y) }}`: see [`quantity`].
fn qty_filter(v: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let kind = args.get("kind").and_then(Value::as_str).unwrap_or("mass");
    let like = args.get("like").and_then(Value::as_f64);
    Ok(Value::String(quantity(v.as_f64(), kind, like)))
}

/// `{{ x | pct }}`: a share 0..1 as a percentage with one decimal.
fn pct_filter(v: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let d = args.get("d").and_then(Value::as_u64).unwrap_or(1) as usize;
    Ok(Value::String(match v.as_f64() {
        Some(x) => format!("{:.*} %", d, x * 100.0),
        None => "—".into(),
    }))
}

/// `{{ x | pctnum }}`: a share 0..1 as a bare percentage number (for CSS widths).
fn pctnum_filter(v: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(format!(
        "{:.3}",
        v.as_f64().unwrap_or(0.0) * 100.0
    )))
}

impl Html {
    /// Load the embedded templates, then any overrides from `dir`.
    pub fn new(dir: Option<&Path>) -> Result<Html> {
        let mut tera = Tera::default();
        let mut sources: Vec<(String, String)> = TEMPLATES
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        if let Some(dir) = dir {
            if !dir.is_dir() {
                return Err(Error::in_file(dir, "--templates must name a folder")
                    .hint("copy templates/ from the repository and edit it"));
            }
            for (name, text) in sources.iter_mut() {
                let p = dir.join(&*name);
                if p.exists() {
                    *text = std::fs::read_to_string(&p)
                        .map_err(|e| Error::io(&p, "read the template", e))?;
                }
            }
        }
        tera.add_raw_templates(sources.iter().map(|(n, t)| (n.as_str(), t.as_str())))
            .map_err(|e| {
                Error::new(format!("template error: {}", tera_chain(&e)))
                    .hint("check the templates given with --templates")
            })?;
        tera.autoescape_on(vec![".html.tera"]);
        tera.register_filter("num", num_filter);
        tera.register_filter("pct", pct_filter);
        tera.register_filter("qty", qty_filter);
        tera.register_filter("pctnum", pctnum_filter);
        Ok(Html { tera })
    }
}

/// Escape text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Inline markup of the plain-text templates: `**bold**` and `` `code` `` (escaped first).
fn inline_html(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in esc(s).split("**").enumerate() {
        if i % 2 == 1 {
            out.push_str(&format!("<b>{part}</b>"));
        } else {
            for (k, p) in part.split('`').enumerate() {
                if k % 2 == 1 {
                    out.push_str(&format!("<code>{p}</code>"));
                } else {
                    out.push_str(p);
                }
            }
        }
    }
    out
}

/// The methodology appendix as HTML: headings, lists and paragraphs.
fn methodology_html(text: &str) -> String {
    use super::Block;
    let mut out = String::new();
    let mut in_list = false;
    for b in super::blocks(text) {
        let bullet = matches!(b, Block::Bullet(_));
        if bullet && !in_list {
            out.push_str("<ul>\n");
        } else if !bullet && in_list {
            out.push_str("</ul>\n");
        }
        in_list = bullet;
        match b {
            Block::Heading(h) => out.push_str(&format!("<h3>{}</h3>\n", inline_html(&h))),
            Block::Bullet(t) => out.push_str(&format!("<li>{}</li>\n", inline_html(&t))),
            Block::Para(t) => out.push_str(&format!("<p>{}</p>\n", inline_html(&t))),
        }
    }
    if in_list {
        out.push_str("</ul>\n");
    }
    out
}

impl Html {
    /// The methodology appendix (plain text with line markup), rendered over the report.
    pub fn methodology(&self, report: &Report) -> Result<String> {
        self.methodology_in(&context(report)?)
    }

    /// The same over an already serialised report (the HTML renderer has one).
    fn methodology_in(&self, ctx: &Context) -> Result<String> {
        self.tera
            .render("methodology.txt.tera", ctx)
            .map_err(|e| Error::new(format!("template error: {}", tera_chain(&e))))
    }
}

/// The report as a template context.
fn context(report: &Report) -> Result<Context> {
    Context::from_serialize(report).map_err(|e| Error::new(format!("template context: {e}")))
}

fn tera_chain(e: &tera::Error) -> String {
    let mut s = e.to_string();
    let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

impl Renderer for Html {
    fn render(&self, report: &Report) -> Result<Rendered> {
        let mut ctx = context(report)?;
        // The stylesheet is inlined so the report is one self-contained file.
        let css = self
            .tera
            .render("style.css", &Context::new())
            .map_err(|e| Error::new(format!("template error: {}", tera_chain(&e))))?;
        ctx.insert("css", &css);
        // Charts as inline SVG, by id (drawn from the chart models of the view-model).
        let charts: std::collections::BTreeMap<&str, String> = report
            .charts
            .iter()
            .map(|c| (c.id.as_str(), super::chart::svg(c)))
            .collect();
        ctx.insert("charts", &charts);
        let methodology = methodology_html(&self.methodology_in(&ctx)?);
        ctx.insert("methodology_html", &methodology);
        let html = self
            .tera
            .render("report.html.tera", &ctx)
            .map_err(|e| Error::new(format!("template error: {}", tera_chain(&e))))?;
        Ok(vec![("report.html".into(), html.into_bytes())])
    }
}

#[cfg(test)]
mod tests {
    use super::group_digits;

    #[test]
    fn digits_are_grouped() {
        assert_eq!(group_digits(1234567.891, 2), "1,234,567.89");
        assert_eq!(group_digits(999.0, 0), "999");
        assert_eq!(group_digits(-1000.5, 1), "-1,000.5");
        assert_eq!(group_digits(-0.0001, 2), "0.00");
        assert_eq!(group_digits(0.0, 3), "0.000");
    }

    #[test]
    fn quantities_take_the_unit_of_their_size() {
        use super::quantity;
        assert_eq!(quantity(Some(6985.7), "mass", None), "6.99 t");
        assert_eq!(quantity(Some(3.78373), "mass", None), "3.78 kg");
        assert_eq!(quantity(Some(900.0), "mass", Some(1200.0)), "0.90 t");
        assert_eq!(quantity(Some(42.04), "energy", None), "42.04 kWh");
        assert_eq!(quantity(Some(102104.0), "energy", None), "102.10 MWh");
        assert_eq!(quantity(Some(9.0), "water", None), "9.0 L");
        assert_eq!(quantity(Some(16500.0), "water", None), "16.5 m³");
        assert_eq!(quantity(None, "mass", None), "—");
    }
}
