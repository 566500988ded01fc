//! report.pdf: the report's content on A4 pages, drawn with printpdf from the view-model: a
//! cover with headline figures and contents, the charts (the same chart layout as the HTML,
//! as vector operations with real text), tables that break across pages and repeat their
//! header row, findings, the methodology appendix and factor sources, page numbers.
//!
//! Byte-identical for identical inputs: fonts get fixed resource names, the document /ID is a
//! hash of the content, and the only date written is `generated_at` (from `--generated-at` or
//! `SOURCE_DATE_EPOCH`); without it the document carries no date at all.

mod fonts;
mod inventory;
mod layout;
mod ledger;
mod sections;

use super::html::Html;
use super::{Rendered, Renderer};
use crate::error::{Error, Result};
use crate::report::Report;
use fonts::*;
use inventory::{inventory, scope2, scope3};
use layout::*;
use ledger::*;
use printpdf::{FontId, PdfDocument, PdfFont, PdfPage, PdfSaveOptions};
use sections::*;
use std::path::Path;

/// The PDF renderer; it shares the HTML's templates for the methodology appendix.
pub struct Pdf {
    html: Html,
}

impl Pdf {
    pub fn new(templates: Option<&Path>) -> Result<Pdf> {
        Ok(Pdf {
            html: Html::new(templates)?,
        })
    }
}

impl Renderer for Pdf {
    fn render(&self, report: &Report) -> Result<Rendered> {
        let methodology = self.html.methodology(report)?;
        Ok(vec![("report.pdf".into(), render(report, &methodology)?)])
    }
}

/// Lay the report out and serialise it.
pub fn render(r: &Report, methodology: &str) -> Result<Vec<u8>> {
    let fonts = fonts()?;
    let mut l = Layout::new(fonts);
    let contents_y = cover(&mut l, r);
    summary(&mut l, r);
    inventory(&mut l, r);
    scope2(&mut l, r);
    scope3(&mut l, r);
    teams(&mut l, r);
    scores(&mut l, r);
    progress(&mut l, r);
    recommendations(&mut l, r);
    lineage(&mut l, r);
    models(&mut l, r);
    ai_act(&mut l, r);
    jobs(&mut l, r);
    telemetry(&mut l, r);
    findings(&mut l, r);
    instruments(&mut l, r);
    factors(&mut l, r);
    inputs(&mut l, r);
    evidence(&mut l, r);
    methodology_appendix(&mut l, methodology);
    contents(&mut l, contents_y);
    footers(&mut l, r);
    let mut lo = document(l, r);
    finish(&mut lo, r.generated_at.as_deref())
}

/// The cover's contents, drawn once the pages are known: each section and its page, joined
/// by a rule.
fn contents(l: &mut Layout, contents_y: f32) {
    let fonts = l.fonts;
    let sections = l.sections.clone();
    l.current = 0;
    let mut y = contents_y - 14.0;
    l.text_at(LEFT, y, 13.0, true, ACCENT, "Contents");
    y -= 18.0;
    for (title, page) in &sections {
        l.text_at(LEFT, y, 10.0, false, INK, title);
        let p = page.to_string();
        let w = fonts.width(&p, 10.0, false);
        l.text_at(RIGHT - w, y, 10.0, false, INK, &p);
        let dots_from = LEFT + fonts.width(title, 10.0, false) + 4.0;
        l.line(
            &[(dots_from, y + 1.0), (RIGHT - w - 4.0, y + 1.0)],
            RULE,
            0.4,
        );
        y -= 15.0;
    }
}

/// Footers on every page: title, period and "Page i of n".
fn footers(l: &mut Layout, r: &Report) {
    let fonts = l.fonts;
    let pages = l.pages.len();
    for i in 0..pages {
        l.current = i;
        l.line(&[(LEFT, BOTTOM - 18.0), (RIGHT, BOTTOM - 18.0)], RULE, 0.5);
        let left = format!("{} · {}", r.title, r.period.label);
        l.text_at(LEFT, BOTTOM - 30.0, 7.5, false, MUTED, &left);
        let right = format!("Page {} of {pages}", i + 1);
        let w = fonts.width(&right, 7.5, false);
        l.text_at(RIGHT - w, BOTTOM - 30.0, 7.5, false, MUTED, &right);
    }
}

/// The laid-out pages as a document: metadata, the two fonts as subsets under fixed resource
/// names (printpdf's own come from a process-wide counter), the outline.
fn document(l: Layout, r: &Report) -> lopdf::Document {
    let fonts = l.fonts;
    let mut doc = PdfDocument::new(&r.title);
    let info = &mut doc.metadata.info;
    info.author = r.organization.clone();
    info.creator = r.generator.clone();
    info.producer = format!("{} (printpdf)", r.generator);
    info.subject = format!("Energy and emissions, {}", r.period.label);
    let used = used_chars(&l.pages);
    for (id, face, chars) in [
        (REGULAR_ID, &fonts.regular, &used.0),
        (BOLD_ID, &fonts.bold, &used.1),
    ] {
        doc.resources
            .fonts
            .map
            .insert(FontId(id.into()), PdfFont::new(subset(face, chars)));
    }
    for (k, (title, page)) in l.sections.iter().enumerate() {
        doc.bookmarks.map.insert(
            printpdf::PageAnnotId(format!("S{k:03}")),
            printpdf::PageAnnotation {
                name: format!("{}. {title}", k + 1),
                page: *page,
            },
        );
    }
    let pages: Vec<PdfPage> = l
        .pages
        .into_iter()
        .map(|ops| PdfPage::new(printpdf::Mm(210.0), printpdf::Mm(297.0), ops))
        .collect();
    doc.with_pages(pages);
    let mut warnings = Vec::new();
    printpdf::serialize::to_lopdf_doc(&doc, &PdfSaveOptions::default(), &mut warnings)
}

/// Dates and the document /ID: the only date is `generated_at`; the /ID is a hash of the
/// document written with a placeholder ID, so that it depends on the content alone.
fn finish(doc: &mut lopdf::Document, generated_at: Option<&str>) -> Result<Vec<u8>> {
    use lopdf::{Object, StringFormat};
    use sha2::Digest;
    if let Ok(info_id) = doc.trailer.get(b"Info").and_then(Object::as_reference) {
        if let Ok(Object::Dictionary(d)) = doc.get_object_mut(info_id) {
            match generated_at.and_then(pdf_date) {
                Some(date) => {
                    for k in ["CreationDate", "ModDate"] {
                        d.set(
                            k,
                            Object::String(date.clone().into_bytes(), StringFormat::Literal),
                        );
                    }
                }
                None => {
                    d.remove(b"CreationDate");
                    d.remove(b"ModDate");
                }
            }
            // printpdf writes a PDF/X version key (empty) and empty fields; the document
            // claims no conformance it was not checked against.
            for k in ["GTS_PDFXVersion", "Trapped", "Identifier", "Keywords"] {
                d.remove(k.as_bytes());
            }
        }
    }
    // Name the embedded faces as subsets (a six-letter tag and '+', PDF 32000-1 9.6.4), with a
    // tag fixed per face so that the bytes do not vary.
    for (_, obj) in doc.objects.iter_mut() {
        if let Object::Dictionary(d) = obj {
            for key in [b"BaseFont".as_slice(), b"FontName".as_slice()] {
                let name = match d.get(key).and_then(Object::as_name) {
                    Ok(n) if n == REGULAR_ID.as_bytes() => "GLDJVR+DejaVuSans",
                    Ok(n) if n == BOLD_ID.as_bytes() => "GLDJVB+DejaVuSans-Bold",
                    _ => continue,
                };
                d.set(key, Object::Name(name.as_bytes().to_vec()));
            }
        }
    }
    let id = |b: &[u8]| {
        Object::Array(vec![
            Object::String(b.to_vec(), StringFormat::Hexadecimal),
            Object::String(b.to_vec(), StringFormat::Hexadecimal),
        ])
    };
    doc.trailer.set("ID", id(&[0; 16]));
    doc.compress();
    let save = |doc: &mut lopdf::Document| -> Result<Vec<u8>> {
        let mut out = Vec::new();
        doc.save_to(&mut out)
            .map_err(|e| Error::new(format!("cannot write the PDF: {e}")))?;
        Ok(out)
    };
    let draft = save(doc)?;
    let digest = sha2::Sha256::digest(&draft);
    doc.trailer.set("ID", id(&digest[..16]));
    save(doc)
}

/// `2026-10-01T09:00:00Z` as a PDF date `D:20261001090000Z`.
fn pdf_date(s: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    Some(
        t.with_timezone(&chrono::Utc)
            .format("D:%Y%m%d%H%M%SZ")
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn wrapping_keeps_every_line_within_the_width_and_every_character() {
        let f = fonts().unwrap();
        let text = "run-0001-with-a-rather-long-identifier on H100-SXM5-80GB × 256, CO₂ ≤ 5 t";
        for width in [30.0, 60.0, 120.0, 400.0] {
            let lines = f.wrap(text, width, 8.0, false);
            for l in &lines {
                // A line may overflow only when it is a single character.
                assert!(
                    f.width(l, 8.0, false) <= width || l.chars().count() == 1,
                    "{l:?} at {width}"
                );
            }
            let joined: String = lines.concat();
            let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            assert_eq!(joined.replace(' ', ""), squeezed, "at {width}");
        }
        assert_eq!(f.wrap("", 50.0, 8.0, false), vec![String::new()]);
        // The font has the glyphs the report prints (not .notdef, which has another width).
        for c in ['₂', '≤', '—', 'é', '×', '³'] {
            assert!(f.regular.lookup_glyph_index(c as u32).is_some(), "{c}");
        }
    }

    #[test]
    fn subsets_keep_the_characters_drawn() {
        let f = fonts().unwrap();
        let chars: BTreeSet<char> = "Aurora CO₂ ≤ 1,234.5 t".chars().collect();
        let s = subset(&f.regular, &chars);
        assert!(s.original_bytes.len() < f.regular.original_bytes.len() / 10);
        for c in &chars {
            assert!(s.lookup_glyph_index(*c as u32).is_some(), "{c}");
        }
    }
}
