//! Renderers: each reads only the [`Report`] view-model and returns files to write.

pub mod boamps;
pub mod chart;
pub mod csv;
pub mod html;
pub mod json;
pub mod model_card;
pub mod pdf;

use crate::config::{Format, Output};
use crate::error::{Error, Result};
use crate::report::Report;
use std::path::{Path, PathBuf};

/// A rendered file: its path inside the output folder and its bytes.
pub type Rendered = Vec<(String, Vec<u8>)>;

/// One output format.
pub trait Renderer {
    /// Render the report into files (relative paths).
    fn render(&self, report: &Report) -> Result<Rendered>;
}

/// The renderer of a format.
pub fn renderer(format: Format, out: &Output) -> Result<Box<dyn Renderer>> {
    Ok(match format {
        Format::Json => Box::new(json::Json),
        Format::Csv => Box::new(csv::Csv),
        // The HTML and the model cards name the BoAmps files when they are written.
        Format::ModelCards => Box::new(model_card::ModelCards {
            boamps: out.formats.contains(&Format::Boamps),
        }),
        Format::Html => Box::new(
            html::Html::new(out.templates.as_deref())?
                .listing_boamps(out.formats.contains(&Format::Boamps)),
        ),
        Format::Pdf => Box::new(pdf::Pdf::new(out.templates.as_deref())?),
        Format::Boamps => Box::new(boamps::Boamps),
    })
}

/// Render every requested format.
pub fn render_all(report: &Report, out: &Output) -> Result<Rendered> {
    let mut files: Rendered = Vec::new();
    for f in &out.formats {
        files.extend(renderer(*f, out)?.render(report)?);
    }
    Ok(files)
}

/// A block of the plain-text templates (the methodology appendix): one per line, `## ` a
/// heading, `- ` a bullet, anything else a paragraph; blank lines are skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Heading(String),
    Bullet(String),
    Para(String),
}

/// Split a rendered plain-text template into blocks.
pub fn blocks(text: &str) -> Vec<Block> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            if let Some(h) = l.strip_prefix("## ") {
                Block::Heading(h.to_string())
            } else if let Some(b) = l.strip_prefix("- ") {
                Block::Bullet(b.to_string())
            } else {
                Block::Para(l.to_string())
            }
        })
        .collect()
}

/// Refuse to replace a non-empty folder without `force`.
pub fn check_out_dir(dir: &Path, force: bool) -> Result<()> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(
                Error::in_file(dir, "the output path exists and is not a folder")
                    .hint("choose another --out"),
            );
        }
        let non_empty = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, "read the output folder", e))?
            .next()
            .is_some();
        if non_empty && !force {
            return Err(
                Error::in_file(dir, "the output folder exists and is not empty")
                    .hint("pass --force to replace it, or choose another --out"),
            );
        }
    }
    Ok(())
}

/// Write `files` under `dir` via a temporary folder and a rename.
pub fn write_atomically(dir: &Path, files: &Rendered, force: bool) -> Result<Vec<PathBuf>> {
    check_out_dir(dir, force)?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| Error::io(&parent, "create the output's parent folder", e))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "out".into());
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)
            .map_err(|e| Error::io(&tmp, "remove a stale temporary folder", e))?;
    }
    let mut written = Vec::new();
    let result = (|| {
        for (rel, bytes) in files {
            let p = tmp.join(rel);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).map_err(|e| Error::io(d, "create a folder", e))?;
            }
            std::fs::write(&p, bytes).map_err(|e| Error::io(&p, "write", e))?;
            written.push(dir.join(rel));
        }
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .map_err(|e| Error::io(dir, "replace the output folder", e))?;
        }
        std::fs::rename(&tmp, dir)
            .map_err(|e| Error::io(dir, "move the finished report into place", e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result.map(|_| written)
}
