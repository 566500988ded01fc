//! `greenledger explain DIR ID`: the trail behind a figure of a report folder, as text. A job's
//! trail step by step (its sources with their sha256, each step with the numbers it used and
//! the factors it named, ending in the figures report.json holds); a team's, model's or site's
//! jobs by share, adding up to its figure. Reads report.json (and manifest.json, to say whether
//! report.json is the file the run wrote); the folder is read, never obeyed.

use crate::error::{Error, Result};
use crate::report::evidence::{self, sig};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// What an id names.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    Job(String),
    Group(Kind, String),
}

/// A kind of group a figure is given for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Team,
    Model,
    Site,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Team => "team",
            Kind::Model => "model",
            Kind::Site => "site",
        }
    }
}

fn target(id: &str) -> Target {
    for k in [Kind::Team, Kind::Model, Kind::Site] {
        if let Some(rest) = id.strip_prefix(&format!("{}:", k.name())) {
            return Target::Group(k, rest.to_string());
        }
    }
    Target::Job(id.to_string())
}

fn text<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn list<'a>(r: &'a Value, k: &str) -> impl Iterator<Item = &'a Value> {
    r.get(k).and_then(Value::as_array).into_iter().flatten()
}

/// Print the trail of `id` in the report folder `dir`: `Ok(0)` when found, `Ok(1)` (with the
/// closest ids) when not; an unreadable folder is an error (exit 2).
pub(crate) fn run(dir: &Path, id: &str, out: &mut dyn std::io::Write) -> Result<i32> {
    let path = dir.join("report.json");
    let shown = path.display().to_string();
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&shown, "read the report", e))?;
    let report: Value = serde_json::from_slice(&bytes).map_err(|e| {
        Error::in_file(&shown, format!("not valid JSON: {e}")).at_line(e.line() as u64)
    })?;
    if text(&report, "schema") != Some(crate::report::SCHEMA) {
        return Err(Error::in_file(
            &shown,
            format!(
                "not a greenledger report (schema {})",
                crate::report::SCHEMA
            ),
        )
        .hint("give the folder greenledger report or demo wrote"));
    }
    let mut s = header(dir, &report, &bytes);
    let found = match target(id) {
        Target::Job(j) => list(&report, "jobs")
            .find(|x| text(x, "job_id") == Some(j.as_str()))
            .map(|job| job_trail(&report, job, &mut s)),
        Target::Group(k, name) => group(&report, k, &name, &mut s),
    };
    if found.is_none() {
        let close = suggestions(&report, id);
        let _ = writeln!(
            out,
            "no job, team, model or site '{id}' in {shown}{}",
            if close.is_empty() {
                String::new()
            } else {
                format!("; did you mean: {}?", close.join(", "))
            }
        );
        let _ = writeln!(
            out,
            "give a job id, or team:NAME, model:NAME or site:NAME (site:(no site) for jobs without a site)"
        );
        return Ok(1);
    }
    out.write_all(s.as_bytes())
        .map_err(|e| Error::new(format!("cannot write to stdout: {e}")))?;
    Ok(0)
}

/// Whose report it is, and whether report.json is the file its manifest records.
fn header(dir: &Path, report: &Value, bytes: &[u8]) -> String {
    use sha2::Digest;
    let sha = format!("{:x}", sha2::Sha256::digest(bytes));
    let recorded = std::fs::read(dir.join("manifest.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|m| {
            list(&m, "outputs")
                .find(|o| text(o, "path") == Some("report.json"))
                .and_then(|o| text(o, "sha256").map(String::from))
        });
    let check = match recorded {
        Some(r) if r == sha => "as its manifest.json records it".to_string(),
        Some(r) => format!(
            "NOT the file its manifest.json records ({r}): it was modified after it was written"
        ),
        None => "no manifest.json records it".to_string(),
    };
    format!(
        "report.json of {}, period {} (sha256 {sha}, {check})\n\n",
        text(report, "organization")
            .filter(|o| !o.is_empty())
            .unwrap_or("(no organisation named)"),
        report
            .pointer("/period/label")
            .and_then(Value::as_str)
            .unwrap_or("?"),
    )
}

/// A job's trail, step by step, ending in its figures as report.json holds them.
fn job_trail(report: &Value, job: &Value, s: &mut String) {
    let t = evidence::trail(report, job);
    let held = match job.pointer("/cpu/cores").and_then(Value::as_f64) {
        // A CPU-only job holds cores, not accelerators.
        Some(cores) => format!(
            "{} cores ({}, CPU-only)",
            sig(cores),
            text(job, "hardware").unwrap_or("?")
        ),
        None => format!(
            "{} × {}",
            job.get("devices")
                .and_then(Value::as_f64)
                .map_or("?".into(), sig),
            text(job, "hardware").unwrap_or("?")
        ),
    };
    let _ = writeln!(
        s,
        "job {}: team {}, model {}, site {}, {held}",
        t.job_id,
        text(job, "team").unwrap_or("?"),
        text(job, "model").unwrap_or("?"),
        text(job, "site").unwrap_or("(none)"),
    );
    let _ = writeln!(s, "\nsources");
    for x in &t.sources {
        let at = match (&x.file, x.line) {
            (Some(f), Some(n)) => format!(": {f}:{n}"),
            (Some(f), None) => format!(": {f}"),
            _ => String::new(),
        };
        let sha = x
            .sha256
            .as_deref()
            .map_or(String::new(), |h| format!(" (sha256 {h})"));
        let _ = writeln!(s, "  {}{at}{sha}", x.what);
    }
    let _ = writeln!(s, "\nsteps");
    for (i, step) in t.steps.iter().enumerate() {
        let _ = writeln!(s, "  {}. {}: {}", i + 1, step.step, step.says);
        if let Some(v) = step.value {
            let _ = writeln!(s, "     = {} {}", sig(v), step.unit);
        }
        for f in &step.factors {
            let _ = writeln!(s, "     factor {}", factor_line(report, f));
        }
    }
    let _ = writeln!(s, "\nin report.json");
    for k in [
        "gpu_hours",
        "it_energy_kwh",
        "facility_energy_kwh",
        "location_kgco2e",
        "market_kgco2e",
        "embodied_kgco2e",
    ] {
        if let Some(v) = job.get(k).and_then(Value::as_f64) {
            let _ = writeln!(s, "  {k} {v}");
        }
    }
}

/// A factor of the report's table: name, value and unit, source and year.
fn factor_line(report: &Value, name: &str) -> String {
    match list(report, "factors").find(|f| text(f, "name") == Some(name)) {
        Some(f) => format!(
            "{name} = {} {} ({}{})",
            f.get("value")
                .and_then(Value::as_f64)
                .map_or("?".into(), sig),
            text(f, "unit").unwrap_or(""),
            text(f, "source").unwrap_or(""),
            f.get("year")
                .and_then(Value::as_i64)
                .map_or(String::new(), |y| format!(", {y}"))
        ),
        None => name.to_string(),
    }
}

/// A team's, model's or site's jobs by share of its location-based emissions, and the sum
/// against report.json's figure; `None` when no job has it.
fn group(report: &Value, kind: Kind, name: &str, s: &mut String) -> Option<()> {
    let key = |j: &Value| -> String {
        match kind {
            Kind::Team => text(j, "team").unwrap_or("").to_string(),
            Kind::Model => text(j, "model").unwrap_or("").to_string(),
            Kind::Site => text(j, "site").unwrap_or("(no site)").to_string(),
        }
    };
    let loc = |j: &Value| {
        j.get("location_kgco2e")
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
    };
    let mut jobs: Vec<&Value> = list(report, "jobs").filter(|j| key(j) == name).collect();
    if jobs.is_empty() {
        return None;
    }
    jobs.sort_by(|a, b| {
        loc(b)
            .total_cmp(&loc(a))
            .then(text(a, "job_id").cmp(&text(b, "job_id")))
    });
    let total: f64 = jobs.iter().map(|j| loc(j)).sum();
    let _ = writeln!(
        s,
        "{} {name}: {} job(s), {} kgCO2e location-based\n",
        kind.name(),
        jobs.len(),
        sig(total)
    );
    let _ = writeln!(
        s,
        "  {:>7}  {:>14}  job (model, team)",
        "share", "location kg"
    );
    for j in &jobs {
        let share = if total > 0.0 {
            loc(j) / total * 100.0
        } else {
            0.0
        };
        let _ = writeln!(
            s,
            "  {:>6.1} %  {:>14}  {} ({}, {})",
            share,
            sig(loc(j)),
            text(j, "job_id").unwrap_or("?"),
            text(j, "model").unwrap_or("?"),
            text(j, "team").unwrap_or("?"),
        );
    }
    let _ = writeln!(s);
    let figure = match kind {
        Kind::Team => list(report, "teams")
            .find(|t| text(t, "team") == Some(name))
            .and_then(|t| t.get("location_kgco2e").and_then(Value::as_f64)),
        Kind::Model => list(report, "models")
            .find(|t| text(t, "model") == Some(name))
            .and_then(|t| t.get("location_kgco2e").and_then(Value::as_f64)),
        Kind::Site => None,
    };
    match figure {
        Some(f) => {
            let _ = writeln!(
                s,
                "The jobs add up to {} kgCO2e; report.json's {} figure is {} ({}).",
                sig(total),
                kind.name(),
                f,
                if (f - total).abs() <= 1e-9 * f.abs().max(1.0) {
                    "they agree"
                } else {
                    "THEY DIFFER"
                }
            );
        }
        None => site_lines(report, name, total, s),
    }
    let _ = writeln!(s, "`greenledger explain DIR JOB_ID` prints a job's trail.");
    Some(())
}

/// A site's inventory beside its jobs: the lines no job claims (idle and unattributed energy).
fn site_lines(report: &Value, name: &str, jobs: f64, s: &mut String) {
    let site = |r: &&Value| text(r, "site").unwrap_or("(no site)") == name;
    let rows: Vec<&Value> = report
        .get("inventory")
        .into_iter()
        .flat_map(|inv| list(inv, "sites"))
        .filter(site)
        .chain(
            report
                .pointer("/scope3/category_1_cloud/sites")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(site),
        )
        .collect();
    let inventory: f64 = rows
        .iter()
        .filter_map(|r| r.get("location_kgco2e").and_then(Value::as_f64))
        .sum();
    if rows.is_empty() {
        let _ = writeln!(s, "The jobs add up to {} kgCO2e.", sig(jobs));
        return;
    }
    let _ = writeln!(
        s,
        "The jobs add up to {} kgCO2e; the site's inventory counts {} kgCO2e location-based, of which {} kgCO2e is energy no job claims (idle and unattributed).",
        sig(jobs),
        sig(inventory),
        sig(inventory - jobs)
    );
}

/// Up to five ids close to `id`: those containing it (or contained in it), then the nearest by
/// edit distance.
fn suggestions(report: &Value, id: &str) -> Vec<String> {
    let mut all: Vec<String> = list(report, "jobs")
        .filter_map(|j| text(j, "job_id").map(String::from))
        .collect();
    for (k, field) in [("team", "team"), ("model", "model")] {
        let mut names: Vec<String> = list(report, "jobs")
            .filter_map(|j| text(j, field).map(|n| format!("{k}:{n}")))
            .collect();
        names.sort();
        names.dedup();
        all.extend(names);
    }
    let mut sites: Vec<String> = list(report, "jobs")
        .map(|j| format!("site:{}", text(j, "site").unwrap_or("(no site)")))
        .collect();
    sites.sort();
    sites.dedup();
    all.extend(sites);
    let low = id.to_lowercase();
    let bare = low.split_once(':').map_or(low.as_str(), |(_, b)| b);
    let mut scored: Vec<(usize, String)> = all
        .into_iter()
        .map(|c| {
            let cl = c.to_lowercase();
            let score = if !bare.is_empty() && (cl.contains(bare) || bare.contains(cl.as_str())) {
                0
            } else {
                1 + distance(&low, &cl)
            };
            (score, c)
        })
        .filter(|(d, c)| *d <= (c.len().max(id.len()) / 2).max(1))
        .collect();
    scored.sort();
    scored.into_iter().take(5).map(|(_, c)| c).collect()
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_jobs_or_groups() {
        assert_eq!(target("aur-1"), Target::Job("aur-1".into()));
        assert_eq!(
            target("team:speech"),
            Target::Group(Kind::Team, "speech".into())
        );
        assert_eq!(
            target("site:(no site)"),
            Target::Group(Kind::Site, "(no site)".into())
        );
    }

    #[test]
    fn edit_distance_by_hand() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("aur-0017", "aur-0071"), 2);
    }
}
