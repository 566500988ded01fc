//! csv/: jobs, teams, models and findings tables. Cells that a spreadsheet would run as a
//! formula are neutralised.

use super::{Rendered, Renderer};
use crate::error::{Error, Result};
use crate::ledger::Figure;
use crate::report::{Amounts, InventoryRow, JobRow, Report};

pub struct Csv;

/// Prefix a cell that starts like a spreadsheet formula (`=`, `+`, `-`, `@`, tab, CR) with `'`,
/// so that it is shown as text. Plain numbers are left alone.
pub fn neutralise(cell: &str) -> String {
    let risky = matches!(
        cell.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    );
    if risky && cell.parse::<f64>().is_err() {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

fn num(v: f64) -> String {
    format!("{v}")
}

fn opt(v: Option<f64>) -> String {
    v.map(num).unwrap_or_default()
}

/// The figures every table of jobs, teams and models carries, after `jobs` (the overhead
/// figures, which exist only with `overhead = "allocate"`, are left out).
fn amount_figures() -> impl Iterator<Item = Figure> {
    Figure::ALL.iter().copied().filter(|f| !f.optional_key())
}

fn amount_columns() -> impl Iterator<Item = &'static str> {
    std::iter::once("jobs").chain(amount_figures().map(Figure::name))
}

fn amounts(a: &Amounts) -> Vec<String> {
    std::iter::once(a.jobs.to_string())
        .chain(amount_figures().map(|f| opt(a.get(f))))
        .collect()
}

fn table(header: Vec<&str>, rows: Vec<Vec<String>>) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let e = |e: csv::Error| Error::new(format!("cannot write CSV: {e}"));
    w.write_record(&header).map_err(e)?;
    for r in rows {
        w.write_record(r.iter().map(|c| neutralise(c))).map_err(e)?;
    }
    w.into_inner()
        .map_err(|e| Error::new(format!("cannot write CSV: {e}")))
}

impl Renderer for Csv {
    fn render(&self, r: &Report) -> Result<Rendered> {
        Ok(vec![
            ("csv/jobs.csv".into(), jobs(r)?),
            ("csv/teams.csv".into(), teams(r)?),
            ("csv/models.csv".into(), models(r)?),
            ("csv/monthly.csv".into(), monthly(r)?),
            ("csv/inventory.csv".into(), inventory(r)?),
            ("csv/whatifs.csv".into(), whatifs(r)?),
            ("csv/lineage.csv".into(), lineage(r)?),
            ("csv/reuse_dividends.csv".into(), dividends(r)?),
            ("csv/findings.csv".into(), findings(r)?),
            ("csv/esrs-e1.csv".into(), esrs(r)?),
            ("csv/scope2.csv".into(), scope2(r)?),
            ("csv/scope3.csv".into(), scope3(r)?),
            ("csv/bridge.csv".into(), bridge(r)?),
            ("csv/scope2-hourly.csv".into(), scope2_hourly(r)?),
        ])
    }
}

/// scope2-hourly.csv: per site and hour, consumption, matched, excess, unmatched, not
/// deliverable and the grid's carbon-free share (a header alone without certificates).
fn scope2_hourly(r: &Report) -> Result<Vec<u8>> {
    let header = vec![
        "site",
        "hour",
        "consumption_kwh",
        "matched_kwh",
        "excess_kwh",
        "unmatched_kwh",
        "not_deliverable_kwh",
        "grid_cfe",
    ];
    let rows = r
        .scope2
        .hourly
        .iter()
        .flat_map(|h| &h.hours)
        .map(|x| {
            vec![
                x.site.clone(),
                x.hour.clone(),
                num(x.consumption_kwh),
                num(x.matched_kwh),
                num(x.excess_kwh),
                num(x.unmatched_kwh),
                num(x.not_deliverable_kwh),
                opt(x.grid_cfe),
            ]
        })
        .collect();
    table(header, rows)
}

/// An optional text, empty when unknown.
fn s(o: &Option<String>) -> String {
    o.clone().unwrap_or_default()
}

/// The columns of jobs.csv before and after the amounts.
const JOB_COLUMNS: [&str; 26] = [
    "job_id",
    "model",
    "team",
    "project",
    "site",
    "zone",
    "hardware",
    "devices",
    "start",
    "end",
    "training_type",
    "status",
    "base_model",
    "teacher_model",
    "precision",
    "sparsity",
    "parameters",
    "energy_source",
    "energy_detail",
    "coverage",
    "sampled_kwh",
    "imputed_kwh",
    "fraction_in_period",
    "pue",
    "intensity_g_per_kwh",
    "factor_year",
];
const JOB_TAIL: [&str; 4] = ["kgco2e_per_billion_parameters", "published", "file", "line"];

/// jobs.csv: the ledger, one row per job.
fn jobs(r: &Report) -> Result<Vec<u8>> {
    let mut header = JOB_COLUMNS.to_vec();
    header.extend(amount_columns());
    header.extend(JOB_TAIL);
    let rows = r.jobs.iter().map(job_row).collect();
    table(header, rows)
}

fn job_row(j: &JobRow) -> Vec<String> {
    let mut row = vec![
        j.job_id.clone(),
        j.model.clone(),
        j.team.clone(),
        s(&j.project),
        s(&j.site),
        j.zone.clone(),
        j.hardware.clone(),
        num(j.devices),
        j.start.clone(),
        j.end.clone(),
        j.training_type.into(),
        j.status.into(),
        s(&j.base_model),
        s(&j.teacher_model),
        s(&j.precision),
        opt(j.sparsity),
        opt(j.parameters),
        j.energy_source.as_str().into(),
        j.energy_detail.clone(),
        opt(j.coverage),
        opt(j.sampled_kwh),
        opt(j.imputed_kwh),
        num(j.fraction_in_period),
        num(j.pue),
        num(j.intensity_g_per_kwh),
        j.factor_year.map(|y| y.to_string()).unwrap_or_default(),
    ];
    row.extend(amounts(&j.amounts));
    row.extend([
        opt(j.kgco2e_per_billion_parameters),
        s(&j.published),
        j.file.clone(),
        j.line.to_string(),
    ]);
    row
}

/// teams.csv: amounts, share and practice scores per team.
fn teams(r: &Report) -> Result<Vec<u8>> {
    let mut header = vec!["team"];
    header.extend(amount_columns());
    header.push("share");
    header.extend(r.practices.iter().map(|p| p.name()));
    header.push("overall");
    let overhead = allocated(r);
    if overhead {
        header.extend(OVERHEAD_COLUMNS);
    }
    let cpu = r.teams.iter().any(|t| t.cpu_only.is_some());
    if cpu {
        header.extend(CPU_COLUMNS);
    }
    let rows = r
        .teams
        .iter()
        .map(|t| {
            let mut row = vec![t.team.clone()];
            row.extend(amounts(&t.amounts));
            row.push(num(t.share));
            row.extend(
                r.practices
                    .iter()
                    .map(|p| opt(t.scores.practices.get(p).copied().flatten())),
            );
            row.push(opt(t.scores.overall));
            if overhead {
                row.extend([opt(t.amounts.overhead_kwh), opt(t.amounts.overhead_kgco2e)]);
            }
            if cpu {
                let u = t.cpu_only.as_ref();
                row.extend([
                    u.map_or(0, |u| u.jobs).to_string(),
                    num(u.map_or(0.0, |u| u.it_energy_kwh)),
                    num(u.map_or(0.0, |u| u.facility_energy_kwh)),
                    num(u.map_or(0.0, |u| u.location_kgco2e)),
                    opt(u.and_then(|u| u.market_kgco2e)),
                ]);
            }
            row
        })
        .collect();
    table(header, rows)
}

/// When a team has CPU-only jobs: what of its amounts they make (they are in the amounts, and
/// out of the practice scores).
const CPU_COLUMNS: [&str; 5] = [
    "cpu_only_jobs",
    "cpu_only_it_energy_kwh",
    "cpu_only_facility_energy_kwh",
    "cpu_only_location_kgco2e",
    "cpu_only_market_kgco2e",
];

/// With `[accounting] overhead = "allocate"`, teams and models carry their share of idle and
/// unattributed energy: two more columns.
const OVERHEAD_COLUMNS: [&str; 2] = ["overhead_kwh", "overhead_kgco2e"];

fn allocated(r: &Report) -> bool {
    r.teams.iter().any(|t| t.amounts.overhead_kwh.is_some())
}

/// models.csv: amounts per model and its team.
fn models(r: &Report) -> Result<Vec<u8>> {
    let mut header = vec!["model", "team"];
    header.extend(amount_columns());
    let overhead = allocated(r);
    if overhead {
        header.extend(OVERHEAD_COLUMNS);
    }
    let rows = r
        .models
        .iter()
        .map(|m| {
            let mut row = vec![m.model.clone(), m.team.clone()];
            row.extend(amounts(&m.amounts));
            if overhead {
                row.extend([opt(m.amounts.overhead_kwh), opt(m.amounts.overhead_kgco2e)]);
            }
            row
        })
        .collect();
    table(header, rows)
}

/// monthly.csv: energy and emissions per calendar month.
fn monthly(r: &Report) -> Result<Vec<u8>> {
    let header = vec![
        "month",
        "gpu_hours",
        "it_energy_kwh",
        "facility_energy_kwh",
        "location_kgco2e",
        "market_kgco2e",
    ];
    let rows = r
        .monthly
        .iter()
        .map(|m| {
            vec![
                m.month.clone(),
                num(m.gpu_hours),
                num(m.it_energy_kwh),
                num(m.facility_energy_kwh),
                num(m.location_kgco2e),
                num(m.market_kgco2e),
            ]
        })
        .collect();
    table(header, rows)
}

/// inventory.csv: the inventory per site and month, then its totals (site `total`).
fn inventory(r: &Report) -> Result<Vec<u8>> {
    let header = vec![
        "site",
        "period",
        "accelerator_kwh",
        "host_kwh",
        "unsplit_kwh",
        "idle_accelerator_kwh",
        "idle_host_kwh",
        "idle_kwh",
        "it_energy_kwh",
        "pue",
        "facility_energy_kwh",
        "metered_facility_kwh",
        "metered_it_kwh",
        "metered_kwh",
        "unattributed_kwh",
        "measured_pue",
        "scope2_kwh",
        "location_kgco2e",
        "market_kgco2e",
        "location_kgco2e_low",
        "location_kgco2e_high",
        "meter_references",
    ];
    let row = |x: &InventoryRow, site: String| {
        vec![
            site,
            x.period.clone(),
            opt(x.accelerator_kwh),
            opt(x.host_kwh),
            num(x.unsplit_kwh),
            opt(x.idle_accelerator_kwh),
            opt(x.idle_host_kwh),
            opt(x.idle_kwh),
            num(x.it_energy_kwh),
            opt(x.pue),
            num(x.facility_energy_kwh),
            opt(x.metered_facility_kwh),
            opt(x.metered_it_kwh),
            opt(x.metered_kwh),
            opt(x.unattributed_kwh),
            opt(x.measured_pue),
            num(x.scope2_kwh),
            num(x.location_kgco2e),
            num(x.market_kgco2e),
            num(x.location_kgco2e_low),
            num(x.location_kgco2e_high),
            x.meter_references.join(";"),
        ]
    };
    let mut rows: Vec<Vec<String>> = r
        .inventory
        .sites
        .iter()
        .map(|x| row(x, x.site.clone().unwrap_or_default()))
        .collect();
    rows.push(row(&r.inventory.totals, "total".into()));
    table(header, rows)
}

/// whatifs.csv: each team's what-ifs and their savings.
fn whatifs(r: &Report) -> Result<Vec<u8>> {
    let rows = r
        .whatifs
        .iter()
        .map(|w| {
            vec![
                w.team.clone(),
                w.kind.clone(),
                num(w.saving_kgco2e),
                w.message.clone(),
            ]
        })
        .collect();
    table(vec!["team", "kind", "saving_kgco2e", "message"], rows)
}

/// lineage.csv: the model graph's edges.
fn lineage(r: &Report) -> Result<Vec<u8>> {
    let header = vec![
        "model",
        "team",
        "relation",
        "parent",
        "parent_kgco2e",
        "parent_source",
    ];
    let rows = r
        .lineage
        .edges
        .iter()
        .map(|e| {
            vec![
                e.model.clone(),
                e.team.clone(),
                e.relation.to_string(),
                e.parent.clone(),
                opt(e.parent_kgco2e),
                e.parent_source.clone(),
            ]
        })
        .collect();
    table(header, rows)
}

/// reuse_dividends.csv: each team's reuse dividend (an estimate).
fn dividends(r: &Report) -> Result<Vec<u8>> {
    let rows = r
        .lineage
        .dividends
        .iter()
        .map(|d| {
            vec![
                d.team.clone(),
                num(d.kgco2e_estimate),
                d.reused.join(";"),
                d.unknown.join(";"),
            ]
        })
        .collect();
    table(vec!["team", "kgco2e_estimate", "reused", "unknown"], rows)
}

/// findings.csv: every finding with its code, file and line.
fn findings(r: &Report) -> Result<Vec<u8>> {
    let rows = r
        .findings
        .iter()
        .map(|f| {
            vec![
                f.code.to_string(),
                f.severity.to_string(),
                f.message.clone(),
                s(&f.file),
                f.line.map(|l| l.to_string()).unwrap_or_default(),
            ]
        })
        .collect();
    table(vec!["code", "severity", "message", "file", "line"], rows)
}

/// ESRS E1 datapoints, each citing the sha256 of this run's report.json.
fn esrs(r: &Report) -> Result<Vec<u8>> {
    use sha2::Digest;
    let json = super::Renderer::render(&super::json::Json, r)?;
    let sha = json
        .first()
        .map(|(_, b)| format!("{:x}", sha2::Sha256::digest(b)))
        .unwrap_or_default();
    let rows = r
        .esrs_e1
        .iter()
        .map(|d| {
            vec![
                d.element.to_string(),
                d.label.to_string(),
                num(d.value),
                d.unit.clone(),
                d.period.clone(),
                d.scope.clone(),
                d.method.to_string(),
                format!("report.json sha256 {sha}"),
            ]
        })
        .collect();
    table(
        vec![
            "element", "label", "value", "unit", "period", "scope", "method", "source",
        ],
        rows,
    )
}

/// bridge.csv: why emissions changed since the previous report, by cause, for the
/// organisation, each scope, team and site, location- and market-based (a header alone without
/// `--previous`).
fn bridge(r: &Report) -> Result<Vec<u8>> {
    let header = vec![
        "level",
        "name",
        "method",
        "from_kgco2e",
        "to_kgco2e",
        "activity",
        "energy_intensity",
        "pue",
        "grid_intensity",
        "instruments",
        "entered_scope",
        "left_scope",
        "idle_and_unattributed",
    ];
    let mut rows = Vec::new();
    if let Some(b) = &r.bridge {
        let org = [("organisation", "", &b.location, &b.market)];
        let scopes = b
            .scopes
            .iter()
            .map(|g| ("scope", g.scope, &g.location, &g.market));
        let groups = b
            .teams
            .iter()
            .map(|g| ("team", g.name.as_str(), &g.location, &g.market))
            .chain(
                b.sites
                    .iter()
                    .map(|g| ("site", g.name.as_str(), &g.location, &g.market)),
            );
        for (level, name, loc, mkt) in org.into_iter().chain(scopes).chain(groups) {
            for (method, c) in [("location", loc), ("market", mkt)] {
                let e = &c.effects;
                rows.push(vec![
                    level.to_string(),
                    name.to_string(),
                    method.to_string(),
                    num(c.from_kgco2e),
                    num(c.to_kgco2e),
                    num(e.activity),
                    num(e.energy_intensity),
                    num(e.pue),
                    num(e.grid_intensity),
                    opt(e.instruments),
                    num(e.entered_scope),
                    num(e.left_scope),
                    opt(e.idle_and_unattributed),
                ]);
            }
        }
    }
    table(header, rows)
}

/// Scope 3 category 1, the cloud share: a row per cloud site and the total (`row` says which),
/// with the provider's own figures where its export was given.
fn scope3(r: &Report) -> Result<Vec<u8>> {
    let c = &r.scope3.category_1_cloud;
    let header = vec![
        "row",
        "site",
        "provider",
        "region",
        "kwh",
        "location_kgco2e",
        "market_kgco2e",
        "provider_location_kgco2e",
        "provider_market_kgco2e",
        "provider_model_version",
        "provider_source",
        "difference_kgco2e",
        "difference_method",
    ];
    let mut rows: Vec<Vec<String>> = c
        .sites
        .iter()
        .map(|x| {
            let p = x.provider_reported.as_ref();
            vec![
                "site".to_string(),
                x.site.clone(),
                s(&x.provider),
                s(&x.region),
                num(x.kwh),
                num(x.location_kgco2e),
                num(x.market_kgco2e),
                opt(p.and_then(|p| p.location_kgco2e)),
                opt(p.and_then(|p| p.market_kgco2e)),
                p.and_then(|p| p.model_version.clone()).unwrap_or_default(),
                p.map(|p| p.source.clone()).unwrap_or_default(),
                opt(x.difference_kgco2e),
                s(&x.difference_method),
            ]
        })
        .collect();
    let t = &c.totals;
    let mut total = vec![
        "total".to_string(),
        String::new(),
        String::new(),
        String::new(),
    ];
    total.extend([num(t.kwh), num(t.location_kgco2e), num(t.market_kgco2e)]);
    total.extend(std::iter::repeat_n(String::new(), 6));
    rows.push(total);
    table(header, rows)
}

/// The Scope 2 disclosure: a row per site and the total, one per instrument, one per
/// exclusion (`row` says which).
fn scope2(r: &Report) -> Result<Vec<u8>> {
    let d = &r.scope2;
    let mut rows = Vec::new();
    for (kind, x) in d
        .sites
        .iter()
        .map(|x| ("site", x))
        .chain([("total", &d.total)])
    {
        let mut row = vec![
            kind.to_string(),
            x.site.clone(),
            s(&x.zone),
            num(x.mwh),
            num(x.location_tco2e),
            num(x.market_tco2e),
            num(x.instruments_mwh),
            num(x.share_covered),
            num(x.share_not_covered),
            opt(x.residual_mix_g_per_kwh),
            x.residual_mix_source.clone(),
        ];
        row.extend(std::iter::repeat_n(String::new(), 6));
        // The hourly matching beside the 2015 figures, where certificates were given.
        let hourly = d.hourly.as_ref().and_then(|h| {
            if kind == "total" {
                Some(&h.totals)
            } else {
                h.sites
                    .iter()
                    .find(|s| s.site == x.site)
                    .map(|s| &s.amounts)
            }
        });
        row.extend([
            hourly.map_or(String::new(), |a| num(a.market_kgco2e / 1000.0)),
            opt(hourly.and_then(|a| a.matched_share)),
            opt(hourly.and_then(|a| a.cfe_score)),
        ]);
        rows.push(row);
    }
    for i in &d.instruments {
        let mut row = vec!["instrument".to_string(), i.site.clone(), String::new()];
        row.extend([num(i.mwh), String::new(), String::new(), String::new()]);
        row.extend([
            opt(i.share_of_consumption),
            String::new(),
            String::new(),
            String::new(),
        ]);
        row.extend([
            i.kind.clone(),
            s(&i.technology),
            i.vintage.clone(),
            i.reference.clone(),
            i.vintage_in_reporting_year.to_string(),
            i.same_market.to_string(),
        ]);
        row.extend(std::iter::repeat_n(String::new(), 3));
        rows.push(row);
    }
    for e in &d.exclusions {
        let mut row = vec!["exclusion".to_string(), String::new(), String::new()];
        row.extend(std::iter::repeat_n(String::new(), 8));
        row.extend([
            String::new(),
            String::new(),
            String::new(),
            e.clone(),
            String::new(),
            String::new(),
        ]);
        row.extend(std::iter::repeat_n(String::new(), 3));
        rows.push(row);
    }
    table(
        vec![
            "row",
            "site",
            "zone",
            "mwh",
            "location_tco2e",
            "market_tco2e",
            "instruments_mwh",
            "share_covered",
            "share_not_covered",
            "residual_mix_g_per_kwh",
            "residual_mix_source",
            "instrument_kind",
            "technology",
            "vintage",
            "reference",
            "vintage_in_reporting_year",
            "same_market",
            "market_hourly_tco2e",
            "matched_share",
            "cfe_score",
        ],
        rows,
    )
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("+cmd"), "'+cmd");
        assert_eq!(neutralise("-2+3"), "'-2+3");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("\tx"), "'\tx");
        assert_eq!(neutralise("-1.5"), "-1.5");
        assert_eq!(neutralise("team-a"), "team-a");
    }
}
