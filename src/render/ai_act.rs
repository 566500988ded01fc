//! `ai-act/<model>.md` and `ai-act/<model>.json`: each model's training compute and energy as
//! the GPAI Code of Practice's Model Documentation Form asks them (AI Act Annex XI section 1
//! point 2(d)(e)), with the recipients of each field, from `ai_act` of the view-model.

use super::{Rendered, Renderer};
use crate::error::{Error, Result};
use crate::report::ai_act::ModelDoc;
use crate::report::{safe_file_name, Report};

/// The AI Act files of every model with training jobs in the period.
pub struct AiAct;

impl Renderer for AiAct {
    fn render(&self, report: &Report) -> Result<Rendered> {
        let mut out = Vec::new();
        for m in report.ai_act.models.iter().filter(|m| m.jobs_included > 0) {
            let base = format!("ai-act/{}", safe_file_name(&m.model));
            let json = serde_json::to_vec_pretty(m)
                .map_err(|e| Error::new(format!("cannot write {base}.json: {e}")))?;
            out.push((format!("{base}.json"), json));
            let span = match &report.ai_act.carried_from {
                Some(c) => format!(
                    "the previous report ({}, sha256 {}) carried forward, plus this period",
                    c.file, c.sha256
                ),
                None => "this period alone: no earlier report was carried forward".to_string(),
            };
            out.push((
                format!("{base}.md"),
                markdown(m, &report.organization, &span).into_bytes(),
            ));
        }
        Ok(out)
    }
}

/// A number to two significant figures, as the form asks (`39`, `0.42`, `1.1e23`).
pub fn two_figures(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = x.abs().log10().floor() as i32;
    if !(-3..6).contains(&magnitude) {
        return format!("{x:.1e}");
    }
    let decimals = (1 - magnitude).max(0) as usize;
    let unit = 10f64.powi(magnitude - 1);
    format!("{:.*}", decimals, (x / unit).round() * unit)
}

/// The form's energy and compute section for one model.
fn markdown(m: &ModelDoc, organization: &str, span: &str) -> String {
    let c = &m.training_compute_flop;
    let recipients = "AI Office, national competent authorities";
    let compute = match c.reported {
        Some(f) => format!("{} FLOP ({})", two_figures(f), c.method),
        None => format!("not documented: {}", c.method),
    };
    let other = match (c.architecture, c.hardware) {
        (Some(a), Some(h)) => format!(
            "Architecture-based {} FLOP, hardware-based {} FLOP: {} within 30 %.",
            two_figures(a),
            two_figures(h),
            if c.agree_within_30pct == Some(true) {
                "they agree"
            } else {
                "they do not agree"
            }
        ),
        _ => "Only one estimate could be made.".to_string(),
    };
    let excluded: Vec<String> = m
        .jobs_excluded
        .iter()
        .map(|x| format!("{} ({})", x.job_id, x.reason))
        .collect();
    let base = match (&m.base_model, m.share_of_base_compute) {
        (Some(b), Some(s)) => format!(
            "Modified from {b}: {:.1} % of its training compute; {}.",
            s * 100.0,
            if m.new_provider == Some(true) {
                "over one third, so the modifier is a provider of the modified model"
            } else {
                "not over one third"
            }
        ),
        (Some(b), None) => {
            format!("Modified from {b}, whose training compute this report does not document.")
        }
        _ => "Not a modification of another model documented here.".to_string(),
    };
    format!(
        "# {model}: training compute and energy (EU AI Act, Annex XI 1.2(d)(e))\n\n\
Provider: {organization}. Periods: {periods}; the figures cover {span}.\n\n\
| field | value | recipients |\n|---|---|---|\n\
| Training time | {wall} days wall-clock, {hw} accelerator-days | {recipients} |\n\
| Amount of computation | {compute} | {recipients} |\n\
| Energy used for training | {mwh} MWh ({basis}, {share:.0} % measured; IT energy {it} MWh, boundary: {boundary}) | {recipients} |\n\
| Benchmarked inference computation | {inference} | {recipients} |\n\n\
{other} Over 10^23 FLOP: {t23}; over 10^25 FLOP: {t25}.\n\n\
Jobs counted: {n}. Left out: {excluded}.\n\n{base}\n\n\
## Energy methodology\n\n{methodology}\n",
        model = m.model,
        periods = m.periods.join(", "),
        wall = two_figures(m.training_time.wall_clock_days),
        hw = two_figures(m.training_time.hardware_days),
        mwh = two_figures(m.training_energy_mwh),
        basis = m.energy_basis,
        share = m.measured_share * 100.0,
        it = two_figures(m.it_energy_mwh),
        boundary = m.boundary,
        t23 = yes_no(m.thresholds.over_1e23),
        t25 = yes_no(m.thresholds.over_1e25),
        n = m.jobs_included,
        excluded = if excluded.is_empty() { "none".to_string() } else { excluded.join(", ") },
        methodology = m.methodology,
        inference = inference(m),
    )
}

/// The benchmarks of `[[ai_act.inference_benchmark]]`, or why there are none.
fn inference(m: &ModelDoc) -> String {
    if m.inference.is_empty() {
        return "no benchmark given ([[ai_act.inference_benchmark]])".to_string();
    }
    m.inference
        .iter()
        .map(|b| match b.flop {
            Some(f) => format!(
                "{}: {} FLOP for {} tokens on {} ({})",
                b.task,
                two_figures(f),
                b.tokens,
                b.hardware,
                b.method
            ),
            None => format!("{}: {}", b.task, b.method),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown (no compute figure)",
    }
}

#[cfg(test)]
mod tests {
    use super::two_figures;

    #[test]
    fn two_significant_figures() {
        assert_eq!(two_figures(39.13), "39");
        assert_eq!(two_figures(0.4213), "0.42");
        assert_eq!(two_figures(6.0), "6.0");
        assert_eq!(two_figures(1.1232e23), "1.1e23");
        assert_eq!(two_figures(6.58674e23), "6.6e23");
        assert_eq!(two_figures(14402.0), "14000");
        assert_eq!(two_figures(0.0), "0");
    }
}
