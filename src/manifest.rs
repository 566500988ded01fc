//! manifest.json: every input (path as given, kind, size, sha256, rows used and rejected), the
//! factor set, the rubric, the config, the command line, greenledger's version and the sha256
//! of every output file; and `greenledger verify DIR`, which checks all of it again.

use crate::error::{Error, Result};
use crate::render::Rendered;
use crate::report::Report;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

pub(crate) const SCHEMA: &str = "greenledger/manifest@1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ManifestInput {
    pub path: String,
    pub kind: String,
    pub size: u64,
    pub sha256: String,
    pub rows: u64,
    pub rows_used: u64,
    pub rows_rejected: u64,
    /// Where verify reads it: relative to the working directory, or (`in_output`) to the
    /// output folder.
    pub location: String,
    #[serde(default)]
    pub in_output: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ManifestOutput {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub schema: String,
    pub generator: String,
    /// The command line, with the output folder written as OUT.
    pub command: Vec<String>,
    pub config: Option<String>,
    pub inputs: Vec<ManifestInput>,
    pub factor_set: serde_json::Value,
    pub rubric: serde_json::Value,
    pub outputs: Vec<ManifestOutput>,
}

fn sha(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The command line as recorded: the value of --out replaced by OUT (so that identical inputs
/// give identical manifests wherever the report is written), and that of --sign by KEY (where
/// the secret key lives is nobody's business, and verify never signs).
pub(crate) fn command(argv: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut placeholder: Option<&str> = None;
    for a in argv.iter().skip(1) {
        if let Some(p) = placeholder.take() {
            out.push(p.to_string());
        } else if a == "--out" {
            out.push(a.clone());
            placeholder = Some("OUT");
        } else if a == "--sign" {
            out.push(a.clone());
            placeholder = Some("KEY");
        } else if a.starts_with("--out=") {
            out.push("--out=OUT".to_string());
        } else if a.starts_with("--sign=") {
            out.push("--sign=KEY".to_string());
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// Add manifest.json to the rendered files. `in_output`: the inputs are copies inside the
/// output folder (the demo), under `inputs/`.
pub(crate) fn add(
    files: &mut Rendered,
    report: &Report,
    command: Vec<String>,
    config: Option<String>,
    in_output: bool,
) -> Result<()> {
    let mut outputs: Vec<ManifestOutput> = files
        .iter()
        .map(|(p, b)| ManifestOutput {
            path: p.clone(),
            sha256: sha(b),
        })
        .collect();
    outputs.sort_by(|a, b| a.path.cmp(&b.path));
    let mut inputs: Vec<ManifestInput> = Vec::new();
    if let Some(c) = &config {
        // The config is an input too: from the output folder's copy (demo) or from disk.
        let copy = files
            .iter()
            .find(|(p, _)| *p == format!("inputs/{c}"))
            .map(|(_, b)| b.clone());
        let bytes = match copy {
            Some(b) => b,
            None => std::fs::read(c).map_err(|e| Error::io(c, "read the config", e))?,
        };
        inputs.push(ManifestInput {
            path: c.clone(),
            kind: "config".into(),
            size: bytes.len() as u64,
            sha256: sha(&bytes),
            rows: 0,
            rows_used: 0,
            rows_rejected: 0,
            location: if in_output {
                format!("inputs/{c}")
            } else {
                c.clone()
            },
            in_output,
        });
    }
    inputs.extend(report.inputs.iter().map(|i| ManifestInput {
        path: i.path.clone(),
        kind: i.kind.to_string(),
        size: i.size,
        sha256: i.sha256.clone(),
        rows: i.rows,
        rows_used: i.rows_used,
        rows_rejected: i.rows_rejected,
        location: if in_output {
            format!("inputs/{}", i.path)
        } else {
            i.location.clone()
        },
        in_output,
    }));
    let m = Manifest {
        schema: SCHEMA.into(),
        generator: report.generator.clone(),
        command,
        config,
        inputs,
        factor_set: serde_json::to_value(&report.factor_set)
            .map_err(|e| Error::new(e.to_string()))?,
        rubric: serde_json::to_value(&report.rubric).map_err(|e| Error::new(e.to_string()))?,
        outputs,
    };
    let mut text = serde_json::to_string_pretty(&m).map_err(|e| Error::new(e.to_string()))?;
    text.push('\n');
    files.push(("manifest.json".into(), text.into_bytes()));
    Ok(())
}

/// What verify found: problems (exit 1) in the order met.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    pub problems: Vec<String>,
}

/// How verify may recompute a recorded run: the typed arguments of a `report` or a `demo`, with
/// every output setting that could touch the auditor's files taken out (the caller sets a
/// private folder). Nothing else a manifest records is ever run.
#[derive(Debug)]
pub(crate) enum Recompute {
    Report(Box<crate::cli::ReportArgs>),
    Demo(crate::cli::DemoArgs),
}

impl Recompute {
    /// The output settings, for the caller to point at its private folder.
    pub(crate) fn output_mut(&mut self) -> &mut crate::cli::OutputArgs {
        match self {
            Recompute::Report(a) => &mut a.output,
            Recompute::Demo(a) => &mut a.output,
        }
    }
}

/// What verify will do with a folder: the manifest, what the checks found so far, and the run
/// to recompute (none when the manifest cannot be trusted or a server would have to be asked).
#[derive(Debug)]
pub(crate) struct Plan {
    pub manifest: Manifest,
    pub verdict: Verdict,
    pub recompute: Option<Recompute>,
    /// Outputs the recomputation cannot reproduce (made with templates verify does not use).
    pub not_compared: Vec<String>,
}

/// Read a report folder sent to us and decide what to check. The folder is untrusted: its
/// manifest is read, never obeyed. Inputs and outputs are checked against their sha256; the
/// recorded command is parsed into typed arguments, and only a `report` or `demo` with known
/// flags is accepted; a recorded output folder other than greenledger's own `OUT` placeholder is
/// refused (greenledger never records another); `--templates` is ignored (the embedded
/// templates are used, and the HTML is then not compared); a live source is re-fetched only
/// with `allow_network`.
pub(crate) fn plan(dir: &Path, allow_network: bool) -> Result<Plan> {
    let path = dir.join("manifest.json");
    let m = read_manifest(&path)?;
    let mut v = Verdict::default();
    check_inputs(&m, dir, &mut v);
    check_outputs(&m, dir, &mut v);
    let command = trusted_command(&m);
    // Templates are files the folder's author chose: verify renders with the embedded ones, so
    // the documents they shape are not compared (report.json and the CSV still are).
    let not_compared = match &command {
        Ok((_, true)) => vec!["report.html".to_string(), "report.pdf".to_string()],
        _ => Vec::new(),
    };
    let recompute = match command.map(|(r, _)| r) {
        Err(why) => {
            v.problems
                .push(format!("manifest.json: {why}; nothing was run"));
            None
        }
        // An input or output differs already: the figures would too, and say nothing more.
        Ok(_) if !v.problems.is_empty() => None,
        Ok(r) => match live_sources(&r) {
            Err(e) => {
                v.problems
                    .push(format!("the recorded inputs cannot be read: {e}"));
                None
            }
            Ok(live) if !live.is_empty() && !allow_network => {
                v.problems.push(format!(
                    "{}: not re-fetched (verify contacts no server unless --allow-network is given), so the figures were not recomputed",
                    live.join(", ")
                ));
                None
            }
            Ok(_) => Some(r),
        },
    };
    Ok(Plan {
        manifest: m,
        verdict: v,
        recompute,
        not_compared,
    })
}

/// The recorded command as typed arguments (and whether it named templates, now dropped), or
/// why it is refused.
fn trusted_command(m: &Manifest) -> std::result::Result<(Recompute, bool), String> {
    use crate::cli::{Cli, Command};
    let shown = m.command.join(" ");
    let mut next_is_out = false;
    for a in &m.command {
        let out = if next_is_out {
            Some(a.as_str())
        } else {
            a.strip_prefix("--out=")
        };
        next_is_out = a == "--out";
        if let Some(o) = out.filter(|o| *o != "OUT") {
            return Err(format!(
                "the recorded command writes into '{o}', where greenledger always records OUT: refused (verify writes only into a private temporary folder)"
            ));
        }
    }
    let argv = std::iter::once("greenledger".to_string()).chain(m.command.iter().cloned());
    let cli = <Cli as clap::Parser>::try_parse_from(argv).map_err(|e| {
        let first = e.to_string();
        let first = first.lines().next().unwrap_or_default().to_string();
        format!("the recorded command `{shown}` is not one greenledger accepts ({first})")
    })?;
    let mut r = match cli.command {
        Command::Report(a) => Recompute::Report(Box::new(a)),
        Command::Demo(a) => Recompute::Demo(a),
        _ => {
            return Err(format!(
                "the recorded command `{shown}` is not a report: verify recomputes only `report` and `demo` runs"
            ))
        }
    };
    if let Recompute::Report(a) = &mut r {
        a.inputs.quiet = true;
    }
    let o = r.output_mut();
    o.force = false;
    let templates = o.templates.take().is_some();
    Ok((r, templates))
}

/// The servers a recorded report would read from (the command line's and its config's).
fn live_sources(r: &Recompute) -> Result<Vec<String>> {
    let Recompute::Report(a) = r else {
        return Ok(Vec::new());
    };
    let (cfg, _) = crate::config::Config::load(&a.inputs)?;
    let mut live = Vec::new();
    if let Some(p) = &cfg.prometheus {
        live.extend(p.urls.iter().map(|u| format!("Prometheus {u}")));
    }
    if let Some(m) = &cfg.mlflow {
        live.push(format!("MLflow {}", m.url));
    }
    Ok(live)
}

/// Read and check a manifest.json.
fn read_manifest(path: &Path) -> Result<Manifest> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::io(path, "read the manifest", e)
            .hint("verify takes a folder written by greenledger report or demo")
    })?;
    let m: Manifest = serde_json::from_str(&text).map_err(|e| {
        Error::in_file(path, format!("not a greenledger manifest: {e}")).at_line(e.line() as u64)
    })?;
    if m.schema != SCHEMA {
        return Err(Error::in_file(
            path,
            format!("schema '{}' is not {SCHEMA}", m.schema),
        ));
    }
    Ok(m)
}

/// The kinds of the live inputs (servers, not files).
const LIVE: [&str; 2] = ["prometheus", "mlflow"];

fn is_live(kind: &str) -> bool {
    LIVE.contains(&kind)
}

/// Every input still where it was, with the same sha256. A live source (Prometheus, MLflow) is no
/// file: the rerun fetches it again and [`compare`] checks the samples' sha256.
fn check_inputs(m: &Manifest, dir: &Path, v: &mut Verdict) {
    for i in m.inputs.iter().filter(|i| !is_live(&i.kind)) {
        let at = if i.in_output {
            // A copy inside the folder stays inside it.
            let inside = Path::new(&i.location)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            if !inside {
                v.problems.push(format!(
                    "input {}: manifest.json places its copy at '{}', outside the folder: refused",
                    i.path, i.location
                ));
                continue;
            }
            dir.join(&i.location)
        } else {
            Path::new(&i.location).to_path_buf()
        };
        match std::fs::read(&at) {
            Err(_) => v
                .problems
                .push(format!("input {} ({}) is missing", i.path, at.display())),
            Ok(b) if sha(&b) != i.sha256 => v.problems.push(format!(
                "input {} ({}) changed: sha256 {} instead of {}",
                i.path,
                at.display(),
                sha(&b),
                i.sha256
            )),
            Ok(_) => {}
        }
    }
}

/// Every output present and as written.
fn check_outputs(m: &Manifest, dir: &Path, v: &mut Verdict) {
    for o in &m.outputs {
        match std::fs::read(dir.join(&o.path)) {
            Err(_) => v.problems.push(format!("output {} is missing", o.path)),
            Ok(b) if sha(&b) != o.sha256 => v.problems.push(format!(
                "output {} was modified after it was written",
                o.path
            )),
            Ok(_) => {}
        }
    }
}

/// The recomputed outputs (in `scratch`) against the folder's, and the totals that moved.
pub(crate) fn compare(plan: &mut Plan, dir: &Path, scratch: &Path) -> Result<()> {
    let fresh: Manifest = serde_json::from_str(
        &std::fs::read_to_string(scratch.join("manifest.json"))
            .map_err(|e| Error::io(scratch, "read the recomputed manifest", e))?,
    )
    .map_err(|e| Error::new(e.to_string()))?;
    let m = &plan.manifest;
    let mut problems = compare_inputs(m, &fresh);
    problems.extend(compare_outputs(m, &fresh, &plan.not_compared));
    problems.extend(compare_totals(m, dir, scratch));
    plan.verdict.problems.extend(problems);
    Ok(())
}

/// Inputs: a live source serving other samples, or a file read but not listed with its sha256.
fn compare_inputs(m: &Manifest, fresh: &Manifest) -> Vec<String> {
    let mut problems = Vec::new();
    for i in m.inputs.iter().filter(|i| is_live(&i.kind)) {
        match fresh.inputs.iter().find(|f| f.kind == i.kind && f.path == i.path) {
            Some(f) if f.sha256 == i.sha256 => {}
            Some(f) => problems.push(format!(
                "input {} serves other samples now: sha256 {} instead of {} (late samples or deleted blocks); the figures below say what moved",
                i.path, f.sha256, i.sha256
            )),
            None => problems.push(format!("input {} is no longer read", i.path)),
        }
    }
    for i in fresh.inputs.iter().filter(|i| !is_live(&i.kind)) {
        if !m
            .inputs
            .iter()
            .any(|r| r.path == i.path && r.sha256 == i.sha256)
        {
            problems.push(format!(
                "input {} is read by the recorded command but not listed in manifest.json with its sha256",
                i.path
            ));
        }
    }
    problems
}

/// Outputs: each listed one (but those not compared) produced again, byte for byte.
fn compare_outputs(m: &Manifest, fresh: &Manifest, not_compared: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for o in m.outputs.iter().filter(|o| !not_compared.contains(&o.path)) {
        match fresh.outputs.iter().find(|f| f.path == o.path) {
            None => problems.push(format!("output {} is no longer produced", o.path)),
            Some(f) if f.sha256 != o.sha256 => {
                problems.push(format!("output {} differs when recomputed", o.path))
            }
            Some(_) => {}
        }
    }
    problems
}

/// The headline totals of both report.json files, each that moved named with both values.
fn compare_totals(m: &Manifest, dir: &Path, scratch: &Path) -> Vec<String> {
    let read = |p: &Path| -> std::result::Result<serde_json::Value, String> {
        let text = std::fs::read_to_string(p).map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))
    };
    let (a, b) = match (
        read(&dir.join("report.json")),
        read(&scratch.join("report.json")),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        // Only a report made without the json format has none, and then neither side has one.
        (Err(_), Err(_)) if !m.outputs.iter().any(|o| o.path == "report.json") => {
            return Vec::new()
        }
        (Err(e), _) => return vec![format!("report.json of the folder cannot be read: {e}")],
        (_, Err(e)) => return vec![format!("the recomputed report.json cannot be read: {e}")],
    };
    use crate::ledger::Figure as F;
    let figures = [
        F::GpuHours,
        F::ItEnergyKwh,
        F::FacilityEnergyKwh,
        F::LocationKgco2e,
        F::MarketKgco2e,
        F::EmbodiedKgco2e,
        F::WaterL,
    ];
    std::iter::once("jobs")
        .chain(figures.map(F::name))
        .filter(|key| a["totals"][key] != b["totals"][key])
        .map(|key| {
            format!(
                "totals.{key} moved: {} in the folder, {} recomputed",
                a["totals"][key], b["totals"][key]
            )
        })
        .collect()
}
