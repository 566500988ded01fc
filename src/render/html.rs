//! report.html: tera templates over the view-model; self-contained (inline CSS), escaped.
//! Templates are embedded; a `--templates DIR` with files of the same names overrides them.

use super::{Rendered, Renderer};
use crate::error::{Error, Result};
use crate::format::{group_digits, quantity};
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
    /// List the BoAmps files (written with this report).
    boamps: bool,
}

/// `{{ name | anchor }}`: a fragment identifier for any name (see `evidence::anchor`).
fn anchor_filter(v: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(crate::report::evidence::anchor(
        v.as_str().unwrap_or_default(),
    )))
}

/// `{{ x | sig }}`: six significant digits, as the evidence trails write numbers.
fn sig_filter(v: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(match v.as_f64() {
        Some(x) => Value::String(crate::report::evidence::sig(x)),
        None => Value::String("—".into()),
    })
}

/// The jobs behind each team, model and site figure, largest location-based emissions first,
/// each with its share of the group's: (group name, location kg, jobs).
fn drill(report: &Report, key: &dyn Fn(&crate::ledger::JobRow) -> Option<String>) -> Value {
    let mut groups: std::collections::BTreeMap<String, Vec<&crate::ledger::JobRow>> =
        std::collections::BTreeMap::new();
    for j in &report.jobs {
        groups
            .entry(key(j).unwrap_or_else(|| "(no site)".into()))
            .or_default()
            .push(j);
    }
    let out: Vec<Value> = groups
        .into_iter()
        .map(|(name, mut jobs)| {
            jobs.sort_by(|a, b| {
                b.amounts
                    .location_kgco2e
                    .total_cmp(&a.amounts.location_kgco2e)
                    .then(a.job_id.cmp(&b.job_id))
            });
            let total: f64 = jobs.iter().map(|j| j.amounts.location_kgco2e).sum();
            let rows: Vec<Value> = jobs
                .iter()
                .map(|j| {
                    serde_json::json!({
                        "job_id": j.job_id,
                        "model": j.model,
                        "team": j.team,
                        "location_kgco2e": j.amounts.location_kgco2e,
                        "share": if total > 0.0 { j.amounts.location_kgco2e / total } else { 0.0 },
                    })
                })
                .collect();
            serde_json::json!({ "name": name, "location_kgco2e": total, "jobs": rows })
        })
        .collect();
    Value::Array(out)
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

/// `{{ x | sig2 }}`: two significant figures, as the AI Act documentation form asks; null
/// shows as an em dash.
fn sig2_filter(v: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(match v.as_f64() {
        Some(x) => super::ai_act::two_figures(x),
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
        tera.register_filter("sig2", sig2_filter);
        tera.register_filter("anchor", anchor_filter);
        tera.register_filter("sig", sig_filter);
        Ok(Html {
            tera,
            boamps: false,
        })
    }

    /// The same renderer, listing the BoAmps files when `yes`.
    pub fn listing_boamps(self, yes: bool) -> Html {
        Html {
            boamps: yes,
            ..self
        }
    }
}

/// Escape text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A block's spans as HTML (escaped).
fn inline_html(spans: &[super::Span]) -> String {
    use super::Span;
    spans
        .iter()
        .map(|s| match s {
            Span::Text(t) => esc(t),
            Span::Bold(t) => format!("<b>{}</b>", esc(t)),
            Span::Code(t) => format!("<code>{}</code>", esc(t)),
        })
        .collect()
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
        let boamps: Vec<String> = if self.boamps {
            crate::report::boamps_files(report)
                .into_iter()
                .map(|(p, _)| p)
                .collect()
        } else {
            Vec::new()
        };
        ctx.insert("boamps_files", &boamps);
        // Charts as inline SVG, by id (drawn from the chart models of the view-model).
        let charts: std::collections::BTreeMap<&str, String> = report
            .charts
            .iter()
            .map(|c| (c.id.as_str(), super::chart::svg(c)))
            .collect();
        ctx.insert("charts", &charts);
        // The per-site waterfalls of the inventory, in site order.
        let waterfalls: Vec<String> = report
            .charts
            .iter()
            .filter(|c| c.id.starts_with("waterfall_"))
            .map(super::chart::svg)
            .collect();
        ctx.insert("waterfalls", &waterfalls);
        // The hourly Scope 2's heat maps, per site.
        let heatmaps: std::collections::BTreeMap<&str, String> = report
            .scope2
            .hourly
            .iter()
            .flat_map(|h| &h.sites)
            .map(|s| {
                let (prims, height) =
                    super::chart::heatmap(&super::chart::heat_days(report, &s.site));
                let id = format!("heatmap_{}", crate::report::evidence::anchor(&s.site));
                let title = format!(
                    "{}: share of each hour's consumption matched by certificates",
                    s.site
                );
                (
                    s.site.as_str(),
                    super::chart::svg_of(&id, &title, height, prims),
                )
            })
            .collect();
        ctx.insert("heatmaps", &heatmaps);
        // The factors by name, for the trails' inline sources.
        let factor_map: std::collections::BTreeMap<&str, &crate::ledger::FactorUse> = report
            .factors
            .iter()
            .map(|f| (f.name.as_str(), f))
            .collect();
        ctx.insert("factor_map", &factor_map);
        // The drill-down from each team, model and site figure to its jobs.
        ctx.insert(
            "drill",
            &serde_json::json!({
                "team": drill(report, &|j| Some(j.team.clone())),
                "model": drill(report, &|j| Some(j.model.clone())),
                "site": drill(report, &|j| j.site.clone()),
            }),
        );
        let methodology = methodology_html(&self.methodology_in(&ctx)?);
        ctx.insert("methodology_html", &methodology);
        let html = self
            .tera
            .render("report.html.tera", &ctx)
            .map_err(|e| Error::new(format!("template error: {}", tera_chain(&e))))?;
        Ok(vec![("report.html".into(), html.into_bytes())])
    }
}
