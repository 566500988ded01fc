//! The detailed sections: the job ledger, telemetry, findings, instruments, factors with
//! their sources, inputs with their sha256, and the methodology appendix.

use super::layout::*;
use crate::render::{self, Block};
use crate::report::Report;

/// The job ledger.
pub(super) fn jobs(l: &mut Layout, r: &Report) {
    l.section("Jobs");
    let rows: Vec<Vec<String>> = r
        .jobs
        .iter()
        .map(|j| {
            vec![
                j.job_id.clone(),
                j.model.clone(),
                j.team.clone(),
                match &j.site {
                    Some(s) => format!("{s} / {}", j.zone),
                    None => j.zone.clone(),
                },
                format!("{} × {}", j.devices, j.hardware),
                j.status.to_string(),
                j.energy_source.as_str().to_string(),
                format!("{:.0} %", j.fraction_in_period * 100.0),
                n(j.amounts.gpu_hours, 1),
                n(j.amounts.it_energy_kwh, 2),
                n(j.pue, 3),
                n(j.intensity_g_per_kwh, 1),
                n(j.amounts.location_kgco2e, 2),
                on(j.amounts.market_kgco2e, 2),
            ]
        })
        .collect();
    l.table(
        &[
            col("job", 1.5, false),
            col("model", 1.5, false),
            col("team", 1.0, false),
            col("site / zone", 1.1, false),
            col("devices", 1.3, false),
            col("status", 0.9, false),
            col("tier", 0.8, false),
            col("in period", 0.6, true),
            col("accel.-h", 0.8, true),
            col("IT kWh", 0.8, true),
            col("PUE", 0.6, true),
            col("g/kWh", 0.7, true),
            col("location kg", 0.8, true),
            col("market kg", 0.8, true),
        ],
        &rows,
        6.0,
    );
}

/// Telemetry: coverage and idle energy per node.
pub(super) fn telemetry(l: &mut Layout, r: &Report) {
    if let Some(tel) = &r.telemetry {
        l.section("Telemetry");
        l.para(&format!(
            "Mean coverage of the sampled jobs: {}.",
            tel.mean_coverage.map(pct).unwrap_or_else(|| "—".into())
        ));
        if let Some(engine) = &tel.stats.engine {
            l.para(&format!("Power samples integrated by {engine}."));
        }
        if let Some(c) = chart_of(r, "idle_by_node") {
            l.chart(c);
        }
        let rows: Vec<Vec<String>> = tel
            .nodes
            .iter()
            .map(|nd| {
                vec![
                    nd.node.clone(),
                    nd.site.clone().unwrap_or_else(|| "—".into()),
                    n(nd.total_kwh, 2),
                    n(nd.idle_kwh, 2),
                    if nd.total_kwh > 0.0 {
                        pct(nd.idle_kwh / nd.total_kwh)
                    } else {
                        "—".into()
                    },
                ]
            })
            .collect();
        l.table(
            &[
                col("node", 2.0, false),
                col("site", 1.0, false),
                col("measured kWh", 1.0, true),
                col("idle kWh", 1.0, true),
                col("idle share", 1.0, true),
            ],
            &rows,
            7.5,
        );
    }
}

/// Findings.
pub(super) fn findings(l: &mut Layout, r: &Report) {
    l.section(&format!(
        "Findings ({} errors, {} warnings, {} notes)",
        r.finding_counts.error, r.finding_counts.warning, r.finding_counts.info
    ));
    if r.findings.is_empty() {
        l.para("No findings: every input row was used.");
    } else {
        let rows: Vec<Vec<String>> = r
            .findings
            .iter()
            .map(|f| {
                vec![
                    format!("{:?}", f.severity).to_lowercase(),
                    f.code.to_string(),
                    match (&f.file, f.line) {
                        (Some(p), Some(k)) => format!("{p}:{k}"),
                        (Some(p), None) => p.clone(),
                        _ => String::new(),
                    },
                    f.message.clone(),
                ]
            })
            .collect();
        l.table(
            &[
                col("severity", 0.7, false),
                col("code", 1.3, false),
                col("where", 1.5, false),
                col("message", 4.5, false),
            ],
            &rows,
            6.5,
        );
    }
}

/// Contractual instruments (market-based).
pub(super) fn instruments(l: &mut Layout, r: &Report) {
    l.section("Contractual instruments");
    if r.instruments.is_empty() {
        l.para("No contractual instruments were configured: market-based emissions use residual mixes where given, else grid factors.");
    } else {
        let rows: Vec<Vec<String>> = r
            .instruments
            .iter()
            .map(|i| {
                vec![
                    i.site.clone(),
                    i.kind.clone(),
                    i.period.clone(),
                    i.reference.clone(),
                    n(i.intensity_g_per_kwh, 1),
                    n(i.mwh, 3),
                    n(i.allocated_mwh, 3),
                    n(i.surplus_mwh, 3),
                    i.share_covered.map(pct).unwrap_or_else(|| "—".into()),
                ]
            })
            .collect();
        l.table(
            &[
                col("site", 0.9, false),
                col("kind", 0.7, false),
                col("period", 1.4, false),
                col("reference", 1.6, false),
                col("g/kWh", 0.7, true),
                col("MWh", 0.8, true),
                col("allocated MWh", 0.9, true),
                col("surplus MWh", 0.9, true),
                col("site covered", 0.8, true),
            ],
            &rows,
            6.5,
        );
    }
}

/// Factors used, with their sources.
pub(super) fn factors(l: &mut Layout, r: &Report) {
    l.section("Factors used");
    l.para(&format!(
        "Factor set: {} {} (sha256 {}).",
        r.factor_set.name, r.factor_set.version, r.factor_set.sha256
    ));
    let rows: Vec<Vec<String>> = r
        .factors
        .iter()
        .map(|f| {
            vec![
                f.name.clone(),
                n(f.value, 3),
                f.unit.clone(),
                f.source.clone(),
                f.year.map(|y| y.to_string()).unwrap_or_else(|| "—".into()),
            ]
        })
        .collect();
    l.table(
        &[
            col("factor", 1.8, false),
            col("value", 0.8, true),
            col("unit", 1.2, false),
            col("source", 3.5, false),
            col("year", 0.5, true),
        ],
        &rows,
        6.5,
    );
}

/// Inputs, with their sha256.
pub(super) fn inputs(l: &mut Layout, r: &Report) {
    l.section("Inputs");
    let rows: Vec<Vec<String>> = r
        .inputs
        .iter()
        .map(|i| {
            vec![
                i.path.clone(),
                i.kind.to_string(),
                i.rows.to_string(),
                i.rows_used.to_string(),
                i.rows_rejected.to_string(),
                i.sha256.clone(),
            ]
        })
        .collect();
    l.table(
        &[
            col("file", 2.2, false),
            col("kind", 0.9, false),
            col("rows", 0.6, true),
            col("used", 0.6, true),
            col("rejected", 0.7, true),
            col("sha256", 2.6, false),
        ],
        &rows,
        6.5,
    );
}

/// The methodology appendix (the shared plain-text template).
pub(super) fn methodology_appendix(l: &mut Layout, methodology: &str) {
    l.section("Methodology");
    for b in render::blocks(methodology) {
        match b {
            Block::Heading(h) => l.heading(&render::plain(&h)),
            Block::Bullet(t) => l.para_with(&render::plain(&t), 8.5, INK, 12.0, true),
            Block::Para(t) => l.para_with(&render::plain(&t), 8.5, INK, 0.0, false),
        }
    }
}

/// How many jobs' trails the PDF prints (largest location-based emissions first); the HTML and
/// `greenledger explain` have every job's.
const EVIDENCE_JOBS: usize = 25;

/// The evidence appendix: the trails of the jobs with the largest location-based emissions,
/// compactly (sources, then each step with its result and the factors it named).
pub(super) fn evidence(l: &mut Layout, r: &Report) {
    if r.evidence.is_empty() {
        return;
    }
    l.section("Evidence per job");
    let mut order: Vec<usize> = (0..r.jobs.len().min(r.evidence.len())).collect();
    order.sort_by(|&a, &b| {
        r.jobs[b]
            .amounts
            .location_kgco2e
            .total_cmp(&r.jobs[a].amounts.location_kgco2e)
            .then(r.jobs[a].job_id.cmp(&r.jobs[b].job_id))
    });
    let shown = order.len().min(EVIDENCE_JOBS);
    l.note(&format!(
        "The trails of the {shown} job(s) with the largest location-based emissions, of {}: each step with the numbers it used, its result and the factors it named (see Factors used). {}",
        order.len(),
        if order.len() > shown {
            "The other jobs' trails are in report.html (Evidence per job) and printed by `greenledger explain DIR JOB_ID`."
        } else {
            "`greenledger explain DIR JOB_ID` prints the same from the report folder."
        }
    ));
    for &i in order.iter().take(shown) {
        let (j, t) = (&r.jobs[i], &r.evidence[i]);
        l.heading(&format!(
            "{} ({}, {}): {} kgCO₂e",
            j.job_id,
            j.team,
            j.model,
            n(j.amounts.location_kgco2e, 2)
        ));
        let sources: Vec<String> = t
            .sources
            .iter()
            .map(|s| {
                let at = match (&s.file, s.line) {
                    (Some(f), Some(n)) => format!(" {f}:{n}"),
                    (Some(f), None) => format!(" {f}"),
                    _ => String::new(),
                };
                let sha = s.sha256.as_deref().map_or(String::new(), |h| {
                    format!(" (sha256 {})", &h[..h.len().min(16)])
                });
                format!("{}{at}{sha}", s.what)
            })
            .collect();
        l.note(&format!("Sources: {}.", sources.join("; ")));
        for s in &t.steps {
            let value = s.value.map_or(String::new(), |v| {
                format!(" = {} {}", crate::report::evidence::sig(v), s.unit)
            });
            let factors = if s.factors.is_empty() {
                String::new()
            } else {
                format!(" [{}]", s.factors.join("; "))
            };
            l.para_with(
                &format!("{}: {}{value}{factors}", s.step, s.says),
                7.5,
                INK,
                12.0,
                true,
            );
        }
    }
}
