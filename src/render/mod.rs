//! Renderers: each reads only the [`Report`] view-model and returns files to write.

pub mod ai_act;
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
        Format::AiAct => Box::new(ai_act::AiAct),
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

/// A block of the methodology appendix: a heading, a bullet or a paragraph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Heading(Vec<Span>),
    Bullet(Vec<Span>),
    Para(Vec<Span>),
}

/// A run of text in a block, with its emphasis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    Text(String),
    Bold(String),
    Code(String),
}

impl Span {
    /// The text without its emphasis.
    pub fn text(&self) -> &str {
        match self {
            Span::Text(t) | Span::Bold(t) | Span::Code(t) => t,
        }
    }
}

/// The text of `spans` without emphasis.
pub fn plain(spans: &[Span]) -> String {
    spans.iter().map(Span::text).collect()
}

/// The blocks of a rendered methodology template, which is Markdown (CommonMark): `## `
/// headings, `- ` bullets, paragraphs, `**bold**` and `` `code` ``. Other inline markup keeps
/// its text; raw HTML is text too (the renderers escape everything).
pub fn blocks(markdown: &str) -> Vec<Block> {
    use pulldown_cmark::{Event, Parser, Tag, TagEnd};
    let mut out = Vec::new();
    let mut spans: Vec<Span> = Vec::new();
    let (mut bold, mut items) = (0usize, 0usize);
    let push = |spans: &mut Vec<Span>, bold: usize, t: &str| match (spans.last_mut(), bold > 0) {
        (Some(Span::Text(s)), false) | (Some(Span::Bold(s)), true) => s.push_str(t),
        (_, false) => spans.push(Span::Text(t.to_string())),
        (_, true) => spans.push(Span::Bold(t.to_string())),
    };
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::Strong) => bold += 1,
            Event::End(TagEnd::Strong) => bold = bold.saturating_sub(1),
            Event::Text(t) | Event::Html(t) | Event::InlineHtml(t) => push(&mut spans, bold, &t),
            Event::Code(t) => spans.push(Span::Code(t.to_string())),
            Event::SoftBreak | Event::HardBreak => push(&mut spans, bold, " "),
            Event::End(TagEnd::Heading(_)) => out.push(Block::Heading(std::mem::take(&mut spans))),
            Event::Start(Tag::Item) => items += 1,
            Event::End(TagEnd::Item) => {
                items = items.saturating_sub(1);
                out.push(Block::Bullet(std::mem::take(&mut spans)));
            }
            // Paragraphs inside a list item (a loose list) are the item's text.
            Event::End(TagEnd::Paragraph) if items > 0 => push(&mut spans, bold, " "),
            Event::End(TagEnd::Paragraph) => out.push(Block::Para(std::mem::take(&mut spans))),
            _ => {}
        }
    }
    out
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
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempdir_in(&parent)
        .map_err(|e| Error::io(&parent, "make a temporary folder", e))?;
    let mut written = Vec::new();
    for (rel, bytes) in files {
        let p = tmp.path().join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, "create a folder", e))?;
        }
        std::fs::write(&p, bytes).map_err(|e| Error::io(&p, "write", e))?;
        written.push(dir.join(rel));
    }
    swap_in(tmp.path(), dir, &parent, &name)?;
    Ok(written)
}

/// Move the finished folder `new` to `dir`. An existing `dir` is first renamed aside and removed
/// only once the new one is in place; if the move fails, it is put back, so a failed run never
/// leaves the user with neither.
fn swap_in(new: &Path, dir: &Path, parent: &Path, name: &str) -> Result<()> {
    if !dir.exists() {
        return std::fs::rename(new, dir)
            .map_err(|e| Error::io(dir, "move the finished report into place", e));
    }
    let aside = tempfile::Builder::new()
        .prefix(&format!(".{name}.old-"))
        .tempdir_in(parent)
        .map_err(|e| Error::io(parent, "make a temporary folder", e))?;
    let old = aside.path().join(name);
    std::fs::rename(dir, &old)
        .map_err(|e| Error::io(dir, "move the old output folder aside", e))?;
    if let Err(e) = std::fs::rename(new, dir) {
        // Put the old report back; `aside` is then empty and goes when dropped.
        let _ = std::fs::rename(&old, dir);
        return Err(Error::io(dir, "move the finished report into place", e));
    }
    // `aside`, holding the old report, is removed when dropped.
    Ok(())
}

/// The written files of a `--public` report, checked as they will be read: every private name
/// (node names, input paths) left in a text file (HTML, JSON, CSV, Markdown, YAML), raw or in
/// the escaped forms of HTML and JSON, is replaced by its pseudonym there; the PDF, whose text
/// is compressed, is read back and refused if it still names one (the view-model it was drawn
/// from should not have held it).
pub fn scrub_public(files: &mut Rendered, names: &[(String, String)]) -> Result<()> {
    let mut forms: Vec<(String, &str)> = Vec::new();
    for (name, pseudo) in names.iter().filter(|(n, _)| !n.is_empty()) {
        let html = tera::escape_html(name);
        let json = serde_json::to_string(name).unwrap_or_default();
        let json = json.trim_matches('"').to_string();
        for f in [name.clone(), html, json] {
            if !forms.iter().any(|(g, _)| *g == f) {
                forms.push((f, pseudo.as_str()));
            }
        }
    }
    // Longest first, so that `gpu1` does not eat into `gpu12`.
    forms.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
    for (path, bytes) in files.iter_mut() {
        if path.ends_with(".pdf") {
            let text = pdf_text(bytes).map_err(|e| {
                Error::new(format!(
                    "--public: cannot read back {path} to check it: {e}"
                ))
            })?;
            if let Some((name, _)) = names
                .iter()
                .find(|(n, _)| !n.is_empty() && text.contains(&squeeze(n)))
            {
                return Err(Error::new(format!(
                    "--public: {path} still names '{name}'; no public report was written"
                )));
            }
            continue;
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            continue;
        };
        if forms.iter().any(|(f, _)| text.contains(f.as_str())) {
            let text = forms
                .iter()
                .fold(text.to_string(), |acc, (f, p)| acc.replace(f.as_str(), p));
            *bytes = text.into_bytes();
        }
    }
    Ok(())
}

/// A PDF's text without white space (table cells wrap long names over lines).
fn pdf_text(bytes: &[u8]) -> std::result::Result<String, String> {
    let doc = lopdf::Document::load_mem(bytes).map_err(|e| e.to_string())?;
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let text = doc.extract_text(&pages).map_err(|e| e.to_string())?;
    Ok(squeeze(&text))
}

fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_files_are_scrubbed_in_every_escaped_form() {
        let names = vec![
            ("a&b/host-1".to_string(), "node-1".to_string()),
            ("host-12".to_string(), "node-2".to_string()),
        ];
        let mut files: Rendered = vec![
            (
                "report.json".into(),
                br#"{"m":"on a&b/host-1 and host-12"}"#.to_vec(),
            ),
            (
                "report.html".into(),
                b"<td>a&amp;b&#x2F;host-1</td><td>host-12</td>".to_vec(),
            ),
            ("x.bin".into(), vec![0xff, 0xfe]),
        ];
        scrub_public(&mut files, &names).unwrap();
        assert_eq!(files[0].1, br#"{"m":"on node-1 and node-2"}"#.to_vec());
        assert_eq!(files[1].1, b"<td>node-1</td><td>node-2</td>".to_vec());
        assert_eq!(files[2].1, vec![0xff, 0xfe]);
    }

    #[test]
    fn a_failed_move_puts_the_old_report_back() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("report");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("report.json"), "old").unwrap();
        // The new folder is gone before the move (the failure), so the move fails.
        let missing = root.path().join("vanished");
        assert!(swap_in(&missing, &dir, root.path(), "report").is_err());
        assert_eq!(
            std::fs::read_to_string(dir.join("report.json")).unwrap(),
            "old"
        );
        // Nothing is left beside it.
        let names: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_forced_run_replaces_the_old_report_and_leaves_nothing_behind() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("out");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("stale.txt"), "old").unwrap();
        let files: Rendered = vec![("report.json".into(), b"new".to_vec())];
        write_atomically(&dir, &files, true).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("report.json")).unwrap(),
            "new"
        );
        assert!(!dir.join("stale.txt").exists());
        let names: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temporary folders left: {names:?}");
    }
}
