//! greenledger: audit-grade energy and emissions accounts for ML training.
//!
//! The pipeline, as [`report`] runs it:
//! files → [`ingest`] (canonical jobs + findings) → [`compute`] (polars: energy, factors,
//! aggregates → [`compute::Ledger`]) → [`report::Report`] (the view-model) → [`render`] (html,
//! json, csv), written atomically.

#![warn(unreachable_pub)]

pub mod cli;
pub(crate) mod compute;
pub(crate) mod config;
pub mod demo;
pub(crate) mod error;
pub(crate) mod estimate;
pub(crate) mod explain;
pub(crate) mod factors;
pub(crate) mod findings;
pub(crate) mod format;
pub(crate) mod hostlist;
pub(crate) mod ingest;
pub(crate) mod ledger;
pub(crate) mod manifest;
pub(crate) mod pushdown;
pub mod render;
pub mod report;
pub mod score;
pub(crate) mod sign;
pub(crate) mod timeutil;

use cli::{Cli, Command, InputArgs};
use config::{Config, Output};
use error::{Error, Result};
use factors::Factors;
use findings::Severity;
use report::Report;
use std::io::Write;

/// Read, compute and build the view-model (no files written).
pub fn build_report(inputs: &InputArgs, generated_at: Option<String>) -> Result<Report> {
    let (cfg, config_findings) = Config::load(inputs)?;
    let factors = match &inputs.factors {
        Some(p) => Factors::from_file(p, &p.display().to_string())?,
        None => Factors::embedded(),
    }
    .with_hardware(&cfg.hardware);
    let mut ingested = ingest::load(&cfg, &factors)?;
    ingested.findings.extend(config_findings);
    let ledger = compute::build(&cfg, &factors, ingested)?;
    let mut report = Report::new(&cfg, &factors, ledger, generated_at);
    // The view-model once as report.json has it: each job's trail and the bridge's cells (jobs,
    // inventory, cloud sites: nothing a later step changes) are read from it.
    let view = report.to_json()?;
    report.evidence = report::evidence::trails(&view);
    // The command line wins over `[report] previous`.
    let prev = match (&inputs.previous, &cfg.report.previous) {
        (Some(p), _) => Some((p.clone(), p.display().to_string())),
        (None, Some(f)) => Some((f.path.clone(), f.shown.clone())),
        (None, None) => None,
    };
    if let Some((path, shown)) = prev {
        let (prev, earlier) = previous(&path, &shown, &report)?;
        let from = (prev.file.as_str(), prev.sha256.as_str());
        match report::ai_act::carry_forward(&report.ai_act, &earlier, from, &cfg.ai_act) {
            Ok(doc) => report.ai_act = doc,
            Err(why) => {
                report.ai_act.note = Some(format!("{} was not carried forward: {why}", prev.file))
            }
        }
        let before = score::bridge::side_of_json(&earlier);
        let after = score::bridge::side_of_json(&view);
        let from = score::bridge::BridgeFrom {
            period: prev.period.clone(),
            sha256: prev.sha256.clone(),
        };
        let cloud = cloud_sites(&cfg, &earlier);
        report.bridge = Some(score::bridge::bridge(&before, &after, &cloud, from));
        report.previous = Some(prev);
        // The charts are data of the report: the bridge's waterfall joins them.
        report.charts = report::chart::charts(&report);
    }
    Ok(report)
}

/// The sites of Scope 3 category 1 for the bridge: this configuration's cloud sites, and the
/// previous report's cloud sites this configuration no longer names (a site keeps this
/// report's classification in both periods, so they compare like for like).
fn cloud_sites(cfg: &Config, earlier: &serde_json::Value) -> std::collections::BTreeSet<String> {
    let mut out: std::collections::BTreeSet<String> = cfg
        .sites
        .iter()
        .filter(|s| !s.kind.scope2())
        .map(|s| s.id.clone())
        .collect();
    let named = |id: &str| cfg.sites.iter().any(|s| s.id == id);
    out.extend(
        earlier
            .pointer("/scope3/category_1_cloud/sites")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|x| x.get("site").and_then(|s| s.as_str()))
            .filter(|id| !named(id))
            .map(String::from),
    );
    out
}

/// A previous report can be compared with this one: the same organisation (when both name
/// one), and a period that ends before this one starts (else the bridge and the carried
/// figures would count a time twice).
fn comparable(v: &serde_json::Value, shown: &str, report: &Report) -> Result<()> {
    let org = v.get("organization").and_then(|o| o.as_str()).unwrap_or("");
    if !org.is_empty() && !report.organization.is_empty() && org != report.organization {
        return Err(Error::in_file(
            shown,
            format!(
                "the previous report is {org}'s, this one {}'s: they cannot be compared",
                report.organization
            ),
        )
        .hint("give the previous report of the same organisation"));
    }
    let time = |k: &str| {
        v.pointer(&format!("/period/{k}"))
            .and_then(|t| t.as_str())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.to_utc())
    };
    if let (Some(start), Some(end)) = (time("start"), time("end")) {
        if start < report.period.end && report.period.start < end {
            return Err(Error::in_file(
                shown,
                format!(
                    "the previous report's period ({}) overlaps this one ({}): it would count that time twice",
                    v.pointer("/period/label").and_then(|l| l.as_str()).unwrap_or("?"),
                    report.period.label
                ),
            )
            .hint("give the report of an earlier period"));
        }
    }
    Ok(())
}

/// Read an earlier report.json and compare each team with it.
fn previous(
    p: &std::path::Path,
    shown: &str,
    report: &Report,
) -> Result<(score::progress::Previous, serde_json::Value)> {
    use sha2::Digest;
    let shown = shown.to_string();
    let bytes = std::fs::read(p).map_err(|e| Error::io(&shown, "read the previous report", e))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        Error::in_file(&shown, format!("not valid JSON: {e}")).at_line(e.line() as u64)
    })?;
    if v.get("schema").and_then(|s| s.as_str()) != Some(report::SCHEMA) {
        return Err(Error::in_file(
            &shown,
            format!("not a greenledger report (schema {})", report::SCHEMA),
        )
        .hint("give the report.json of an earlier greenledger run"));
    }
    comparable(&v, &shown, report)?;
    let prev = score::progress::Previous {
        file: shown,
        period: v
            .pointer("/period/label")
            .and_then(|l| l.as_str())
            .unwrap_or("")
            .to_string(),
        sha256: format!("{:x}", sha2::Sha256::digest(&bytes)),
        teams: score::progress::deltas(&report.teams_now(), &v),
        notes: score::progress::notes(&v),
    };
    Ok((prev, v))
}

/// The whole `report` command: build the report and write every format into the output folder.
pub fn report(inputs: &InputArgs, out: &Output, argv: &[String]) -> Result<Report> {
    render::check_out_dir(&out.dir, out.force)?;
    // The key first: a run that cannot be signed stops before the work.
    let signer = out.sign.as_deref().map(sign::Signer::load).transpose()?;
    let mut report = build_report(inputs, generated_at(out.generated_at.as_deref())?)?;
    let mut files = publish(&mut report, out)?;
    let config = if out.public {
        None
    } else {
        inputs.config.as_ref().map(|p| p.display().to_string())
    };
    manifest::add(&mut files, &report, manifest::command(argv), config, false)?;
    if let Some(s) = &signer {
        s.sign_folder(&mut files, &report)?;
    }
    render::write_atomically(&out.dir, &files, out.force)?;
    Ok(report)
}

/// Render every format; with `--public`, pseudonymise the report first and check the files.
pub fn publish(report: &mut Report, out: &Output) -> Result<render::Rendered> {
    if !out.public {
        return render::render_all(report, out);
    }
    let names = report.make_public(&public_key()?);
    // The trails again, from the pseudonymised report.
    report.add_evidence()?;
    let mut files = render::render_all(report, out)?;
    render::scrub_public(&mut files, &names)?;
    Ok(files)
}

/// The secret that keys `--public` pseudonyms: `GREENLEDGER_PUBLIC_KEY` (the same key gives the
/// same pseudonyms, so reports can be compared and rerun byte for byte), else 32 random bytes
/// used for this report alone and recorded nowhere.
fn public_key() -> Result<Vec<u8>> {
    match std::env::var("GREENLEDGER_PUBLIC_KEY") {
        Ok(k) if !k.is_empty() => Ok(k.into_bytes()),
        _ => {
            use ring::rand::SecureRandom;
            let mut key = vec![0u8; 32];
            ring::rand::SystemRandom::new()
                .fill(&mut key)
                .map_err(|_| {
                    Error::new(
                        "--public: the system gave no random key; set GREENLEDGER_PUBLIC_KEY",
                    )
                })?;
            Ok(key)
        }
    }
}

/// The generation time printed in reports: `--generated-at`, else `SOURCE_DATE_EPOCH`, else none
/// (so that identical inputs give identical files).
pub fn generated_at(flag: Option<&str>) -> Result<Option<String>> {
    if let Some(s) = flag {
        let st = timeutil::parse_timestamp(s, &timeutil::InputZone::Utc)
            .map_err(|e| Error::new(format!("--generated-at: {e}")))?;
        return Ok(Some(timeutil::fmt_utc(st.utc)));
    }
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.trim().is_empty() => {
            let secs: i64 = v.trim().parse().map_err(|_| {
                Error::new(format!(
                    "SOURCE_DATE_EPOCH='{v}' is not a number of seconds"
                ))
            })?;
            let t = chrono::DateTime::from_timestamp(secs, 0)
                .ok_or_else(|| Error::new("SOURCE_DATE_EPOCH is out of range"))?;
            Ok(Some(timeutil::fmt_utc(t)))
        }
        _ => Ok(None),
    }
}

/// Print a one-line summary and the serious findings of a finished report to stderr.
fn summarise(report: &Report, out: &Output) {
    let c = &report.finding_counts;
    let mut err = std::io::stderr().lock();
    let serious: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .collect();
    for f in serious.iter().take(20) {
        let _ = writeln!(err, "{f}");
    }
    if serious.len() > 20 {
        let _ = writeln!(
            err,
            "... and {} more (see findings in the report)",
            serious.len() - 20
        );
    }
    let _ = writeln!(
        err,
        "wrote {}: {} jobs, {:.3} tCO2e location-based, {:.3} MWh facility energy; {} errors, {} warnings, {} notes",
        out.dir.display(),
        report.totals.jobs,
        report.totals.location_kgco2e / 1000.0,
        report.totals.facility_energy_kwh / 1000.0,
        c.error,
        c.warning,
        c.info
    );
}

/// Run a parsed command line; returns the exit code (0 ok, 1 error findings). Errors that stop
/// the run are returned for the caller to print with exit code 2.
pub fn run(cli: Cli, argv: &[String]) -> Result<i32> {
    match cli.command {
        Command::Report(a) => {
            let out = Output::from_args(&a.output)?;
            let r = report(&a.inputs, &out, argv)?;
            if !a.inputs.quiet {
                summarise(&r, &out);
            }
            Ok(exit_code(&r))
        }
        Command::Validate(a) => validate(&a),
        Command::Pushdown(a) => pushdown::run(&a.inputs, a.engine, &a.out, a.force),
        Command::Estimate(a) => estimate_command(&a),
        Command::Verify(a) => verify(&a),
        Command::Explain(a) => explain::run(&a.dir, &a.id, &mut std::io::stdout().lock()),
        Command::Completions(a) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(a.shell, &mut cmd, "greenledger", &mut std::io::stdout());
            Ok(0)
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd)
                .render(&mut std::io::stdout())
                .map_err(|e| Error::new(format!("cannot write the man page: {e}")))?;
            Ok(0)
        }
        Command::Demo(a) => {
            let out = Output::from_args(&a.output)?;
            let r = demo::run(&out, &manifest::command(argv))?;
            if !a.quiet {
                summarise(&r, &out);
            }
            Ok(exit_code(&r))
        }
    }
}

/// 1 when the report has error findings, else 0.
fn exit_code(r: &Report) -> i32 {
    if r.has_errors() {
        1
    } else {
        0
    }
}

/// `validate`: every finding on stdout and a count; no files written.
fn validate(a: &InputArgs) -> Result<i32> {
    let r = build_report(a, None)?;
    let mut out = std::io::stdout().lock();
    for f in &r.findings {
        let _ = writeln!(out, "{f}");
    }
    let c = &r.finding_counts;
    let _ = writeln!(
        out,
        "{} input files, {} jobs: {} errors, {} warnings, {} notes",
        r.inputs.len(),
        r.totals.jobs,
        c.error,
        c.warning,
        c.info
    );
    Ok(exit_code(&r))
}

/// `estimate`: one run's figures as JSON or text, with their sources.
fn estimate_command(a: &cli::EstimateArgs) -> Result<i32> {
    let e = estimate::estimate(a, &Factors::embedded())?;
    let mut out = std::io::stdout().lock();
    if a.json {
        let json = serde_json::to_string(&e).map_err(|e| Error::new(e.to_string()))?;
        let _ = writeln!(out, "{json}");
        return Ok(0);
    }
    let _ = writeln!(out, "accelerator-hours    {}", e.gpu_hours);
    let _ = writeln!(
        out,
        "IT energy            {:.3} kWh  ({} W per device)",
        e.it_energy_kwh, e.power_w
    );
    let _ = writeln!(
        out,
        "facility energy      {:.3} kWh  (PUE {})",
        e.facility_energy_kwh, e.pue
    );
    let _ = writeln!(
        out,
        "location-based       {:.3} kgCO2e  ({} g/kWh)",
        e.location_kgco2e, e.intensity_g_per_kwh
    );
    for s in &e.sources {
        let _ = writeln!(out, "  {s}");
    }
    Ok(0)
}

/// `verify`: check a report folder sent to us and recompute it into a private temporary folder
/// (never where its manifest says); print the problems (exit 1) or that everything matches.
fn verify(a: &cli::VerifyArgs) -> Result<i32> {
    let dir = &a.dir;
    let mut out = std::io::stdout().lock();
    // The signature first: a manifest whose signature fails cannot be trusted for the rest.
    match &a.pubkey {
        Some(pk) => match sign::check(dir, pk)? {
            Ok(s) => {
                let _ = writeln!(out, "signed by key ID {}: {}", s.key_id, s.trusted_comment);
            }
            Err(why) => {
                let _ = writeln!(out, "{why}");
                let _ = writeln!(
                    out,
                    "{}: the signature does not hold; nothing else was checked",
                    dir.display()
                );
                return Ok(1);
            }
        },
        None if dir.join(sign::FILE).exists() => {
            let _ = writeln!(
                out,
                "{} is present but not checked: give --pubkey KEY.pub to check who signed",
                sign::FILE
            );
        }
        None => {}
    }
    let mut plan = manifest::plan(dir, a.allow_network)?;
    if let Some(mut recompute) = plan.recompute.take() {
        let scratch = tempfile::tempdir()
            .map_err(|e| Error::new(format!("cannot make a temporary folder: {e}")))?;
        let fresh = scratch.path().join("recomputed");
        recompute.output_mut().out = fresh.clone();
        // Verify never signs: the recorded key is only a placeholder.
        recompute.output_mut().sign = None;
        let command: Vec<String> = std::iter::once("greenledger".to_string())
            .chain(plan.manifest.command.iter().cloned())
            .collect();
        match recompute {
            manifest::Recompute::Report(r) => {
                report(&r.inputs, &Output::from_args(&r.output)?, &command)?;
            }
            manifest::Recompute::Demo(d) => {
                demo::run(&Output::from_args(&d.output)?, &manifest::command(&command))?;
            }
        }
        manifest::compare(&mut plan, dir, &fresh)?;
    }
    for p in &plan.verdict.problems {
        let _ = writeln!(out, "{p}");
    }
    for f in &plan.not_compared {
        let _ = writeln!(
            out,
            "{f} was made with --templates, which verify does not use: not compared"
        );
    }
    if plan.verdict.problems.is_empty() {
        let _ = writeln!(
            out,
            "{}: every input, output and figure matches",
            dir.display()
        );
        Ok(0)
    } else {
        let _ = writeln!(
            out,
            "{}: {} problem(s)",
            dir.display(),
            plan.verdict.problems.len()
        );
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    /// The top-level modules each module's code (not its tests or comments) refers to.
    fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![src.clone()];
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        while let Some(p) = files.pop() {
            if p.is_dir() {
                files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let rel = p
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let top = rel
                .split('/')
                .next()
                .unwrap()
                .trim_end_matches(".rs")
                .to_string();
            if top == "lib" || top == "main" || !rel.ends_with(".rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            let deps = graph.entry(top.clone()).or_default();
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for part in line.split("crate::").skip(1) {
                    let name: String = part
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    let is_module =
                        src.join(&name).is_dir() || src.join(format!("{name}.rs")).is_file();
                    if is_module && name != top {
                        deps.insert(name);
                    }
                }
                if line.contains("polars::") {
                    deps.insert("polars".to_string());
                }
            }
        }
        graph
    }

    /// No module depends on itself through others: the layers of the guide's Contributing page
    /// hold (config -> factors -> ingest -> compute -> score -> report -> render).
    #[test]
    fn no_import_cycle_between_modules() {
        let graph = module_graph();
        for (from, deps) in &graph {
            for to in deps {
                let mut stack = vec![to.clone()];
                let mut seen = BTreeSet::new();
                while let Some(m) = stack.pop() {
                    assert!(&m != from, "import cycle: {from} -> {to} -> ... -> {from}");
                    if seen.insert(m.clone()) {
                        stack.extend(graph.get(&m).into_iter().flatten().cloned());
                    }
                }
            }
        }
        // Renderers read the view-model only; only ingest and compute use polars.
        assert!(!graph["render"].contains("compute"));
        assert!(!graph["score"].contains("compute"));
        let polars: Vec<&String> = graph
            .iter()
            .filter(|(m, d)| d.contains("polars") && !["ingest", "compute"].contains(&m.as_str()))
            .map(|(m, _)| m)
            .collect();
        assert!(
            polars.is_empty(),
            "polars used outside ingest and compute: {polars:?}"
        );
    }
}
