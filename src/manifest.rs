//! manifest.json: every input (path as given, kind, size, sha256, rows used and rejected), the
//! factor set, the rubric, the config, the command line, greenledger's version and the sha256
//! of every output file; and `greenledger verify DIR`, which checks all of it again.

use crate::error::{Error, Result};
use crate::render::Rendered;
use crate::report::Report;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

pub const SCHEMA: &str = "greenledger/manifest@1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestInput {
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
pub struct ManifestOutput {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
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
/// give identical manifests wherever the report is written).
pub fn command(argv: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut next_is_out = false;
    for a in argv.iter().skip(1) {
        if next_is_out {
            out.push("OUT".to_string());
            next_is_out = false;
        } else if a == "--out" {
            out.push(a.clone());
            next_is_out = true;
        } else if a.starts_with("--out=") {
            out.push("--out=OUT".to_string());
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// Add manifest.json to the rendered files. `in_output`: the inputs are copies inside the
/// output folder (the demo), under `inputs/`.
pub fn add(
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

/// What verify found.
#[derive(Debug, Default)]
pub struct Verdict {
    pub problems: Vec<String>,
}

/// A way to run a command line again (the library's `run`), so that `verify` can recompute
/// a report without depending on the pipeline that calls it.
pub type Rerun = fn(crate::cli::Cli, &[String]) -> Result<i32>;

/// Check a report folder: inputs unchanged, outputs untouched, and the report recomputed from
/// the inputs equal to the stored one.
pub fn verify(dir: &Path, rerun: Rerun) -> Result<Verdict> {
    let path = dir.join("manifest.json");
    let m = read_manifest(&path)?;
    let mut v = Verdict::default();
    check_inputs(&m, dir, &mut v);
    check_outputs(&m, dir, &mut v);
    if !v.problems.is_empty() {
        return Ok(v);
    }
    // Recompute into a scratch folder with the recorded command and compare.
    let scratch = std::env::temp_dir().join(format!("greenledger-verify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let argv = rerun_argv(&m, &scratch);
    let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(&argv).map_err(|e| {
        Error::in_file(
            &path,
            format!("the recorded command cannot be run again: {e}"),
        )
    })?;
    let result = rerun(cli, &argv).and_then(|_| compare(&m, dir, &scratch, &mut v));
    let _ = std::fs::remove_dir_all(&scratch);
    result.map(|_| v)
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

/// The recorded command, writing into `scratch` and quietly.
fn rerun_argv(m: &Manifest, scratch: &Path) -> Vec<String> {
    let mut argv = vec!["greenledger".to_string()];
    for a in &m.command {
        argv.push(match a.as_str() {
            "OUT" => scratch.display().to_string(),
            "--out=OUT" => format!("--out={}", scratch.display()),
            _ => a.clone(),
        });
    }
    if !m
        .command
        .iter()
        .any(|a| a == "--out" || a.starts_with("--out="))
    {
        argv.push("--out".into());
        argv.push(scratch.display().to_string());
    }
    if !m.command.iter().any(|a| a == "--quiet" || a == "-q") {
        argv.push("--quiet".into());
    }
    argv
}

/// The recomputed outputs against the recorded ones, and the totals that moved.
fn compare(m: &Manifest, dir: &Path, scratch: &Path, v: &mut Verdict) -> Result<()> {
    let fresh: Manifest = serde_json::from_str(
        &std::fs::read_to_string(scratch.join("manifest.json"))
            .map_err(|e| Error::io(scratch, "read the recomputed manifest", e))?,
    )
    .map_err(|e| Error::new(e.to_string()))?;
    for i in m.inputs.iter().filter(|i| is_live(&i.kind)) {
        match fresh.inputs.iter().find(|f| f.kind == i.kind && f.path == i.path) {
            Some(f) if f.sha256 == i.sha256 => {}
            Some(f) => v.problems.push(format!(
                "input {} serves other samples now: sha256 {} instead of {} (late samples or deleted blocks); the figures below say what moved",
                i.path, f.sha256, i.sha256
            )),
            None => v.problems.push(format!("input {} is no longer read", i.path)),
        }
    }
    for o in &m.outputs {
        match fresh.outputs.iter().find(|f| f.path == o.path) {
            None => v
                .problems
                .push(format!("output {} is no longer produced", o.path)),
            Some(f) if f.sha256 != o.sha256 => v
                .problems
                .push(format!("output {} differs when recomputed", o.path)),
            Some(_) => {}
        }
    }
    let (Ok(a), Ok(b)) = (
        std::fs::read_to_string(dir.join("report.json")),
        std::fs::read_to_string(scratch.join("report.json")),
    ) else {
        return Ok(());
    };
    let (a, b): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&a).unwrap_or_default(),
        serde_json::from_str(&b).unwrap_or_default(),
    );
    for key in [
        "jobs",
        "gpu_hours",
        "it_energy_kwh",
        "facility_energy_kwh",
        "location_kgco2e",
        "market_kgco2e",
        "embodied_kgco2e",
        "water_l",
    ] {
        if a["totals"][key] != b["totals"][key] {
            v.problems.push(format!(
                "totals.{key} moved: {} in the folder, {} recomputed",
                a["totals"][key], b["totals"][key]
            ));
        }
    }
    Ok(())
}
