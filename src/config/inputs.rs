//! The input files of a run: `[inputs]` entries (paths and globs relative to the config's
//! folder) and the command line's files, by kind, each listed once.

use super::{InputFile, Inputs, Where};
use crate::cli::InputArgs;
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use std::path::{Path, PathBuf};

/// Every kind's files: the config's entries first, then the command line's. A literal path
/// that does not exist stops the run; a glob that matches nothing is a warning.
pub(super) fn collect(
    file: &super::file::InputsSection,
    args: &InputArgs,
    base: &Path,
    w: &Where,
    findings: &mut Vec<Finding>,
) -> Result<Inputs> {
    let mut inputs = Inputs::default();
    for (kind, from_file, from_cli, dest) in [
        ("jobs", &file.jobs, &args.jobs, &mut inputs.jobs),
        (
            "codecarbon",
            &file.codecarbon,
            &args.codecarbon,
            &mut inputs.codecarbon,
        ),
        (
            "telemetry",
            &file.telemetry,
            &args.telemetry,
            &mut inputs.telemetry,
        ),
        ("sacct", &file.sacct, &args.sacct, &mut inputs.sacct),
        ("grid", &file.grid, &args.grid, &mut inputs.grid),
        ("meters", &file.meters, &args.meters, &mut inputs.meters),
        ("zeus", &file.zeus, &args.zeus, &mut inputs.zeus),
        ("boamps", &file.boamps, &args.boamps, &mut inputs.boamps),
        (
            "cloud_carbon",
            &file.cloud_carbon,
            &args.cloud_carbon,
            &mut inputs.cloud_carbon,
        ),
        (
            "certificates",
            &file.certificates,
            &args.certificates,
            &mut inputs.certificates,
        ),
    ] {
        for pattern in from_file {
            expand(base, pattern, kind, w, dest, findings)?;
        }
        for p in from_cli {
            for f in cli_files(p, kind)? {
                let shown = f.display().to_string();
                push_unique(dest, InputFile { path: f, shown });
            }
        }
    }
    Ok(inputs)
}

fn push_unique(dest: &mut Vec<InputFile>, f: InputFile) {
    if !dest.iter().any(|d| d.path == f.path) {
        dest.push(f);
    }
}

/// Expand one `[inputs]` entry, relative to the config's folder. A literal path that does not
/// exist stops the run; a glob that matches nothing is a warning.
fn expand(
    base: &Path,
    pattern: &str,
    kind: &str,
    w: &Where,
    dest: &mut Vec<InputFile>,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let is_glob = pattern.contains(['*', '?', '[']);
    let full = base.join(pattern);
    if !is_glob {
        if !full.exists() {
            let msg = format!(
                "[inputs] {kind}: '{pattern}' does not exist (looked for {})",
                full.display()
            );
            return Err(w
                .value("[inputs]", kind, pattern, msg)
                .hint("paths in [inputs] are relative to the config file's folder"));
        }
        push_unique(
            dest,
            InputFile {
                path: full,
                shown: pattern.to_string(),
            },
        );
        return Ok(());
    }
    let pat = full.to_string_lossy().to_string();
    let mut found: Vec<PathBuf> = glob::glob(&pat)
        .map_err(|e| {
            let msg = format!("[inputs] {kind}: bad pattern '{pattern}': {e}");
            w.value("[inputs]", kind, pattern, msg)
        })?
        .filter_map(|r| r.ok())
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    if found.is_empty() {
        findings.push(
            Finding::warning(
                codes::INPUT_EMPTY,
                format!("[inputs] {kind}: '{pattern}' matches no file"),
            )
            .at(w.path, w.line_of_value("[inputs]", kind, pattern)),
        );
    }
    for p in found {
        let shown = p.strip_prefix(base).unwrap_or(&p).display().to_string();
        push_unique(dest, InputFile { path: p, shown });
    }
    Ok(())
}

/// A command-line input: the file itself, or the files a quoted glob (`runs/*/emissions*.csv`)
/// matches, sorted. A path that does not exist, or a glob that matches nothing, stops the run.
fn cli_files(p: &Path, kind: &str) -> Result<Vec<PathBuf>> {
    if p.exists() {
        return Ok(vec![p.to_path_buf()]);
    }
    let text = p.to_string_lossy();
    if !text.contains(['*', '?', '[']) {
        return Err(
            Error::in_file(p, format!("{kind} input does not exist")).hint("check the path")
        );
    }
    let mut found: Vec<PathBuf> = glob::glob(&text)
        .map_err(|e| Error::in_file(p, format!("{kind}: bad pattern: {e}")))?
        .filter_map(|r| r.ok())
        .filter(|f| f.is_file())
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(
            Error::in_file(p, format!("{kind}: the pattern matches no file"))
                .hint("check the pattern"),
        );
    }
    Ok(found)
}
