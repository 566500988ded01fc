//! `greenledger demo`: the bundled demo quarter (fixtures/demo, embedded in the binary), written
//! out next to the report made from it.

use crate::cli::InputArgs;
use crate::config::Output;
use crate::error::{Error, Result};
use crate::render;
use crate::report::Report;

/// The demo's input files: (path relative to the demo folder, bytes).
pub const FILES: [(&str, &[u8]); 11] = [
    (
        "greenledger.toml",
        include_bytes!("../fixtures/demo/greenledger.toml"),
    ),
    ("jobs.csv", include_bytes!("../fixtures/demo/jobs.csv")),
    (
        "codecarbon/aur-0008.csv",
        include_bytes!("../fixtures/demo/codecarbon/aur-0008.csv"),
    ),
    (
        "codecarbon/speech-workstation.csv",
        include_bytes!("../fixtures/demo/codecarbon/speech-workstation.csv"),
    ),
    (
        "telemetry/par-gpu42.nvidia-smi.csv",
        include_bytes!("../fixtures/demo/telemetry/par-gpu42.nvidia-smi.csv"),
    ),
    (
        "telemetry/par-gpu42.bmc.csv",
        include_bytes!("../fixtures/demo/telemetry/par-gpu42.bmc.csv"),
    ),
    (
        "telemetry/sto-gpu18.dcgm.json",
        include_bytes!("../fixtures/demo/telemetry/sto-gpu18.dcgm.json"),
    ),
    (
        "grid/FR_2026Q3_hourly.csv",
        include_bytes!("../fixtures/demo/grid/FR_2026Q3_hourly.csv"),
    ),
    (
        "previous/2026-Q2.report.json",
        include_bytes!("../fixtures/demo/previous/2026-Q2.report.json"),
    ),
    (
        "sacct/sto-cluster-2026Q3.txt",
        include_bytes!("../fixtures/demo/sacct/sto-cluster-2026Q3.txt"),
    ),
    (
        "cloud/gcp-carbon-footprint.jsonl",
        include_bytes!("../fixtures/demo/cloud/gcp-carbon-footprint.jsonl"),
    ),
];

/// Write the demo inputs into `dir`.
pub fn write_inputs(dir: &std::path::Path) -> Result<()> {
    for (rel, bytes) in FILES {
        let p = dir.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, "create a folder", e))?;
        }
        std::fs::write(&p, bytes).map_err(|e| Error::io(&p, "write", e))?;
    }
    Ok(())
}

/// Report on the demo quarter: the output folder gets the report and, under `inputs/`, the
/// files it was made from.
pub fn run(out: &Output, command: &[String]) -> Result<Report> {
    render::check_out_dir(&out.dir, out.force)?;
    let signer = out
        .sign
        .as_deref()
        .map(crate::sign::Signer::load)
        .transpose()?;
    // The inputs are written to a private scratch folder, removed when it is dropped.
    let tmp = tempfile::Builder::new()
        .prefix("greenledger-demo-")
        .tempdir()
        .map_err(|e| Error::new(format!("cannot make a temporary folder: {e}")))?;
    let scratch = tmp.path();
    write_inputs(scratch)?;
    let args = InputArgs {
        config: Some(scratch.join("greenledger.toml")),
        config_name: Some("greenledger.toml".into()),
        quiet: true,
        ..Default::default()
    };
    let mut report = crate::build_report(&args, crate::generated_at(out.generated_at.as_deref())?)?;
    let mut files = crate::publish(&mut report, out)?;
    for (rel, bytes) in FILES {
        files.push((format!("inputs/{rel}"), bytes.to_vec()));
    }
    crate::manifest::add(
        &mut files,
        &report,
        command.to_vec(),
        Some("greenledger.toml".into()),
        true,
    )?;
    if let Some(s) = &signer {
        s.sign_folder(&mut files, &report)?;
    }
    render::write_atomically(&out.dir, &files, out.force)?;
    Ok(report)
}
