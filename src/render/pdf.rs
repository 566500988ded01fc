//! report.pdf: the report's content on A4 pages, drawn with printpdf from the view-model: a
//! cover with headline figures and contents, the charts (the same chart layout as the HTML,
//! as vector operations with real text), tables that break across pages and repeat their
//! header row, findings, the methodology appendix and factor sources, page numbers.
//!
//! Byte-identical for identical inputs: fonts get fixed resource names, the document /ID is a
//! hash of the content, and the only date written is `generated_at` (from `--generated-at` or
//! `SOURCE_DATE_EPOCH`); without it the document carries no date at all.

use super::chart::{self, Anchor, BarChart, Prim};
use super::html::{group_digits, Html};
use super::{Block, Rendered, Renderer};
use crate::error::{Error, Result};
use crate::report::Report;
use printpdf::{
    Color, FontId, Line, LinePoint, Op, PaintMode, ParsedFont, PdfDocument, PdfFont, PdfFontHandle,
    PdfPage, PdfSaveOptions, Point, Polygon, PolygonRing, Pt, Rgb, TextItem, WindingOrder,
};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

/// DejaVu Sans (Bitstream Vera licence, see assets/fonts/LICENSE): covers accents, CO₂, ≤, —.
static REGULAR_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// A4 in points, and the margins.
const PAGE_W: f32 = 595.276;
const PAGE_H: f32 = 841.89;
const LEFT: f32 = 48.0;
const RIGHT: f32 = PAGE_W - 48.0;
const TOP: f32 = PAGE_H - 50.0;
const BOTTOM: f32 = 56.0;
const WIDTH: f32 = RIGHT - LEFT;

/// The two faces, parsed once per process.
struct Fonts {
    regular: ParsedFont,
    bold: ParsedFont,
}

fn fonts() -> Result<&'static Fonts> {
    static FONTS: OnceLock<Option<Fonts>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut w = Vec::new();
            Some(Fonts {
                regular: ParsedFont::from_bytes(REGULAR_TTF, 0, &mut w)?,
                bold: ParsedFont::from_bytes(BOLD_TTF, 0, &mut w)?,
            })
        })
        .as_ref()
        .ok_or_else(|| Error::new("the embedded PDF font could not be read (a build problem)"))
}

impl Fonts {
    fn face(&self, bold: bool) -> &ParsedFont {
        if bold {
            &self.bold
        } else {
            &self.regular
        }
    }

    /// Width of `s` at `size` points.
    fn width(&self, s: &str, size: f32, bold: bool) -> f32 {
        let f = self.face(bold);
        let upm = f.units_per_em.max(1) as f32;
        s.chars()
            .map(|c| {
                let g = f.lookup_glyph_index(c as u32).unwrap_or(0);
                f.get_glyph_width(g).unwrap_or(0) as f32 / upm * size
            })
            .sum()
    }

    /// Greedy word wrap to `width` points; a word longer than a line is cut by characters.
    fn wrap(&self, s: &str, width: f32, size: f32, bold: bool) -> Vec<String> {
        let mut lines = Vec::new();
        let mut cur = String::new();
        for word in s.split_whitespace() {
            let candidate = if cur.is_empty() {
                word.to_string()
            } else {
                format!("{cur} {word}")
            };
            if self.width(&candidate, size, bold) <= width {
                cur = candidate;
                continue;
            }
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
            }
            // The word alone: cut it where it overflows.
            for ch in word.chars() {
                let mut next = cur.clone();
                next.push(ch);
                if !cur.is_empty() && self.width(&next, size, bold) > width {
                    lines.push(std::mem::take(&mut cur));
                    cur.push(ch);
                } else {
                    cur = next;
                }
            }
        }
        if !cur.is_empty() || lines.is_empty() {
            lines.push(cur);
        }
        lines
    }
}

const REGULAR_ID: &str = "F1";
const BOLD_ID: &str = "F2";

fn rgb(hex: &str) -> Color {
    let h = hex.trim_start_matches('#');
    let c = |i: usize| {
        h.get(i..i + 2)
            .and_then(|x| u8::from_str_radix(x, 16).ok())
            .unwrap_or(0) as f32
            / 255.0
    };
    Color::Rgb(Rgb {
        r: c(0),
        g: c(2),
        b: c(4),
        icc_profile: None,
    })
}

const INK: &str = "#1b2b24";
const MUTED: &str = "#5a6b63";
const ACCENT: &str = "#1f6f4a";
const HEADER_FILL: &str = "#e8efe9";
const RULE: &str = "#c9d4cc";

/// A table column: title, share of the width, right-aligned (numbers) or not.
struct Col {
    title: String,
    width: f32,
    right: bool,
}

fn col(title: &str, width: f32, right: bool) -> Col {
    Col {
        title: title.to_string(),
        width,
        right,
    }
}

/// Pages being laid out, top to bottom.
struct Layout<'f> {
    fonts: &'f Fonts,
    pages: Vec<Vec<Op>>,
    /// The page drawn on: the last while laying out; earlier ones for contents and footers.
    current: usize,
    y: f32,
    /// Sections: (title, 1-based page) for the contents and the outline.
    sections: Vec<(String, usize)>,
}

impl<'f> Layout<'f> {
    fn new(fonts: &'f Fonts) -> Self {
        Layout {
            fonts,
            pages: vec![Vec::new()],
            current: 0,
            y: TOP,
            sections: Vec::new(),
        }
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        &mut self.pages[self.current]
    }

    fn page_no(&self) -> usize {
        self.pages.len()
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.current = self.pages.len() - 1;
        self.y = TOP;
    }

    /// Start a new page unless `h` points fit above the bottom margin.
    fn need(&mut self, h: f32) {
        if self.y - h < BOTTOM {
            self.new_page();
        }
    }

    fn text_at(&mut self, x: f32, y: f32, size: f32, bold: bool, color: &str, s: &str) {
        let font = FontId(if bold { BOLD_ID } else { REGULAR_ID }.into());
        let col = rgb(color);
        self.ops().extend([
            Op::StartTextSection,
            Op::SetFont {
                font: PdfFontHandle::External(font),
                size: Pt(size),
            },
            Op::SetFillColor { col },
            Op::SetTextCursor {
                pos: Point { x: Pt(x), y: Pt(y) },
            },
            Op::ShowText {
                items: vec![TextItem::Text(s.to_string())],
            },
            Op::EndTextSection,
        ]);
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: &str) {
        let p = |x: f32, y: f32| LinePoint {
            p: Point { x: Pt(x), y: Pt(y) },
            bezier: false,
        };
        let col = rgb(color);
        self.ops().extend([
            Op::SetFillColor { col },
            Op::DrawPolygon {
                polygon: Polygon {
                    rings: vec![PolygonRing {
                        points: vec![p(x, y), p(x + w, y), p(x + w, y + h), p(x, y + h)],
                    }],
                    mode: PaintMode::Fill,
                    winding_order: WindingOrder::NonZero,
                },
            },
        ]);
    }

    fn line(&mut self, points: &[(f32, f32)], color: &str, width: f32) {
        let col = rgb(color);
        self.ops().extend([
            Op::SetOutlineColor { col },
            Op::SetOutlineThickness { pt: Pt(width) },
            Op::DrawLine {
                line: Line {
                    points: points
                        .iter()
                        .map(|(x, y)| LinePoint {
                            p: Point {
                                x: Pt(*x),
                                y: Pt(*y),
                            },
                            bezier: false,
                        })
                        .collect(),
                    is_closed: false,
                },
            },
        ]);
    }

    /// A section heading (level 1 starts a new page and enters the contents).
    fn section(&mut self, title: &str) {
        if self.y < TOP {
            self.new_page();
        }
        self.sections.push((title.to_string(), self.page_no()));
        self.text_at(LEFT, self.y - 16.0, 16.0, true, ACCENT, title);
        self.y -= 28.0;
    }

    fn heading(&mut self, title: &str) {
        self.need(40.0);
        self.y -= 6.0;
        self.text_at(LEFT, self.y - 11.0, 11.0, true, INK, title);
        self.y -= 18.0;
    }

    /// A wrapped paragraph, indented by `indent` points, with an optional bullet.
    fn para_with(&mut self, s: &str, size: f32, color: &str, indent: f32, bullet: bool) {
        let lh = size * 1.35;
        let lines = self.fonts.wrap(s, WIDTH - indent, size, false);
        for (i, l) in lines.iter().enumerate() {
            self.need(lh);
            if bullet && i == 0 {
                self.text_at(LEFT + indent - 9.0, self.y - size, size, false, color, "•");
            }
            self.text_at(LEFT + indent, self.y - size, size, false, color, l);
            self.y -= lh;
        }
        self.y -= size * 0.4;
    }

    fn para(&mut self, s: &str) {
        self.para_with(s, 9.0, INK, 0.0, false);
    }

    fn note(&mut self, s: &str) {
        self.para_with(s, 7.5, MUTED, 0.0, false);
    }

    /// A table: wrapped cells, the header row repeated on every page it spans.
    fn table(&mut self, cols: &[Col], rows: &[Vec<String>], size: f32) {
        let pad = 2.5;
        let widths = self.widths(cols, rows, size, pad);
        let lh = size * 1.25;
        let wrap_row = |cells: &[String], bold: bool| -> Vec<Vec<String>> {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| self.fonts.wrap(c, w - 2.0 * pad, size, bold))
                .collect()
        };
        let header: Vec<String> = cols.iter().map(|c| c.title.clone()).collect();
        let header_lines = wrap_row(&header, true);
        let height = |cells: &[Vec<String>]| {
            cells.iter().map(Vec::len).max().unwrap_or(1) as f32 * lh + 2.0 * pad
        };
        let header_h = height(&header_lines);
        let draw_row = |me: &mut Self, cells: &[Vec<String>], bold: bool, fill: Option<&str>| {
            let h = height(cells);
            if let Some(f) = fill {
                me.rect(LEFT, me.y - h, WIDTH, h, f);
            }
            let mut x = LEFT;
            for ((lines, w), c) in cells.iter().zip(&widths).zip(cols) {
                for (k, l) in lines.iter().enumerate() {
                    let ty = me.y - pad - size - k as f32 * lh + 1.0;
                    let tx = if c.right {
                        x + w - pad - me.fonts.width(l, size, bold)
                    } else {
                        x + pad
                    };
                    me.text_at(tx, ty, size, bold, INK, l);
                }
                x += w;
            }
            me.y -= h;
            me.line(&[(LEFT, me.y), (RIGHT, me.y)], RULE, 0.4);
        };
        self.need(header_h + lh + 2.0 * pad);
        draw_row(self, &header_lines, true, Some(HEADER_FILL));
        for r in rows {
            let cells = wrap_row(r, false);
            let h = height(&cells);
            if self.y - h < BOTTOM {
                self.new_page();
                draw_row(self, &header_lines, true, Some(HEADER_FILL));
            }
            draw_row(self, &cells, false, None);
        }
        self.y -= 8.0;
    }

    /// Column widths: each column at least as wide as its longest word (numbers whole, text
    /// words up to a fifth of the page), the rest shared by the columns' weights. When even
    /// that does not fit, the weights alone decide and long words are cut.
    fn widths(&self, cols: &[Col], rows: &[Vec<String>], size: f32, pad: f32) -> Vec<f32> {
        let weight: f32 = cols
            .iter()
            .map(|c| c.width)
            .sum::<f32>()
            .max(f32::MIN_POSITIVE);
        let need: Vec<f32> = cols
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let header = c
                    .title
                    .split_whitespace()
                    .map(|w| self.fonts.width(w, size, true))
                    .fold(0.0f32, f32::max);
                let cells = rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .map(|cell| {
                        if c.right {
                            self.fonts.width(cell, size, false)
                        } else {
                            cell.split_whitespace()
                                .map(|w| self.fonts.width(w, size, false))
                                .fold(0.0f32, f32::max)
                                .min(WIDTH / 5.0)
                        }
                    })
                    .fold(0.0f32, f32::max);
                header.max(cells) + 2.0 * pad + 0.5
            })
            .collect();
        let sum: f32 = need.iter().sum();
        if sum > WIDTH {
            // Numbers and short words keep their width; the columns with long words (ids,
            // hardware names) share the rest by weight and have their words cut.
            let short = WIDTH / 10.0;
            let keeps = |n: f32, c: &Col| c.right || n <= short;
            let kept: f32 = need
                .iter()
                .zip(cols)
                .filter(|(n, c)| keeps(**n, c))
                .map(|(n, _)| n)
                .sum();
            let cut_weight: f32 = need
                .iter()
                .zip(cols)
                .filter(|(n, c)| !keeps(**n, c))
                .map(|(_, c)| c.width)
                .sum();
            if kept >= WIDTH * 0.8 || cut_weight <= 0.0 {
                return cols.iter().map(|c| c.width / weight * WIDTH).collect();
            }
            return need
                .iter()
                .zip(cols)
                .map(|(n, c)| {
                    if keeps(*n, c) {
                        *n
                    } else {
                        (WIDTH - kept) * c.width / cut_weight
                    }
                })
                .collect();
        }
        let extra = WIDTH - sum;
        need.iter()
            .zip(cols)
            .map(|(n, c)| n + extra * c.width / weight)
            .collect()
    }

    /// A chart: the shared layout, scaled to the text width.
    fn chart(&mut self, c: &BarChart) {
        let s = (WIDTH as f64 / chart::WIDTH) as f32;
        let h = chart::HEIGHT as f32 * s;
        self.need(h + 8.0);
        let top = self.y;
        let to_x = |x: f64| LEFT + x as f32 * s;
        let to_y = |y: f64| top - y as f32 * s;
        for p in chart::layout(c) {
            match p {
                Prim::Rect {
                    x, y, w, h, color, ..
                } => {
                    let (px, py) = (to_x(x), to_y(y + h));
                    self.rect(px, py, w as f32 * s, h as f32 * s, color);
                }
                Prim::Line {
                    points,
                    color,
                    width,
                } => {
                    let pts: Vec<(f32, f32)> =
                        points.iter().map(|(x, y)| (to_x(*x), to_y(*y))).collect();
                    self.line(&pts, color, width as f32 * s);
                }
                Prim::Text {
                    x,
                    y,
                    size,
                    anchor,
                    bold,
                    text,
                } => {
                    let size = size as f32 * s;
                    let w = self.fonts.width(&text, size, bold);
                    let px = match anchor {
                        Anchor::Start => to_x(x),
                        Anchor::Middle => to_x(x) - w / 2.0,
                        Anchor::End => to_x(x) - w,
                    };
                    self.text_at(px, to_y(y), size, bold, chart::INK, &text);
                }
            }
        }
        self.y -= h + 8.0;
    }
}

/// Numbers as in the HTML: grouped digits, unknown as an em dash.
fn n(v: f64, d: usize) -> String {
    group_digits(v, d)
}

fn on(v: Option<f64>, d: usize) -> String {
    v.map(|x| group_digits(x, d)).unwrap_or_else(|| "—".into())
}

/// The cells every team, model and total row shares: jobs, accelerator-hours, IT and
/// facility energy, location-, market-based and embodied emissions.
fn amount_cells(a: &crate::compute::Amounts) -> [String; 7] {
    [
        a.jobs.to_string(),
        n(a.gpu_hours, 1),
        n(a.it_energy_kwh, 1),
        n(a.facility_energy_kwh, 1),
        n(a.location_kgco2e, 1),
        on(a.market_kgco2e, 1),
        on(a.embodied_kgco2e, 1),
    ]
}

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1} %", v * 100.0)
    } else {
        "—".into()
    }
}

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
    teams(&mut l, r);
    scores(&mut l, r);
    progress(&mut l, r);
    recommendations(&mut l, r);
    lineage(&mut l, r);
    models(&mut l, r);
    jobs(&mut l, r);
    telemetry(&mut l, r);
    findings(&mut l, r);
    instruments(&mut l, r);
    factors(&mut l, r);
    inputs(&mut l, r);
    methodology_appendix(&mut l, methodology);

    // The cover's contents, now that the pages are known.
    let sections = l.sections.clone();
    let pages = l.pages.len();
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
    // Footers: title, period and page numbers.
    for i in 0..pages {
        l.current = i;
        l.line(&[(LEFT, BOTTOM - 18.0), (RIGHT, BOTTOM - 18.0)], RULE, 0.5);
        let left = format!("{} · {}", r.title, r.period.label);
        l.text_at(LEFT, BOTTOM - 30.0, 7.5, false, MUTED, &left);
        let right = format!("Page {} of {pages}", i + 1);
        let w = fonts.width(&right, 7.5, false);
        l.text_at(RIGHT - w, BOTTOM - 30.0, 7.5, false, MUTED, &right);
    }

    let mut doc = PdfDocument::new(&r.title);
    let info = &mut doc.metadata.info;
    info.author = r.organization.clone();
    info.creator = r.generator.clone();
    info.producer = format!("{} (printpdf)", r.generator);
    info.subject = format!("Energy and emissions, {}", r.period.label);
    // Fixed resource names (printpdf's own come from a process-wide counter).
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
    for (k, (title, page)) in sections.iter().enumerate() {
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
    let mut lo = printpdf::serialize::to_lopdf_doc(&doc, &PdfSaveOptions::default(), &mut warnings);
    finish(&mut lo, r.generated_at.as_deref())
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

/// The text of a template line without its inline markup.
fn plain(s: &str) -> String {
    s.replace("**", "").replace('`', "")
}

/// The cover: title, organisation, period, headline figures; returns where the contents go.
fn cover(l: &mut Layout, r: &Report) -> f32 {
    let fonts = l.fonts;
    // The cover: its contents list is drawn once the pages are known.
    l.y = TOP - 60.0;
    for line in fonts.wrap(&r.title, WIDTH, 24.0, true) {
        l.text_at(LEFT, l.y, 24.0, true, ACCENT, &line);
        l.y -= 28.0;
    }
    l.y += 2.0;
    if !r.organization.is_empty() {
        l.text_at(LEFT, l.y, 14.0, false, INK, &r.organization);
        l.y -= 20.0;
    }
    l.text_at(
        LEFT,
        l.y,
        11.0,
        false,
        INK,
        &format!(
            "Period {} ({} to {}, end excluded)",
            r.period.label,
            crate::timeutil::fmt_utc(r.period.start),
            crate::timeutil::fmt_utc(r.period.end)
        ),
    );
    l.y -= 16.0;
    let made = match &r.generated_at {
        Some(g) => format!("Generated {g} by {}", r.generator),
        None => format!("Generated by {}", r.generator),
    };
    l.text_at(LEFT, l.y, 9.0, false, MUTED, &made);
    l.y -= 30.0;
    let t = &r.totals;
    let q = super::html::quantity;
    let range = |lo: Option<f64>, hi: Option<f64>, like: Option<f64>| match (lo, hi) {
        (Some(_), Some(_)) => format!("{} to {}", q(lo, "mass", like), q(hi, "mass", like)),
        _ => "bounds unknown".into(),
    };
    let mut cards: Vec<(String, String)> = vec![
        (
            q(Some(t.location_kgco2e), "mass", None),
            format!(
                "CO₂e, location-based ({})",
                range(
                    t.location_kgco2e_low,
                    t.location_kgco2e_high,
                    Some(t.location_kgco2e)
                )
            ),
        ),
        (
            q(t.market_kgco2e, "mass", None),
            format!(
                "CO₂e, market-based, GHG Protocol Scope 2 ({})",
                range(t.market_kgco2e_low, t.market_kgco2e_high, t.market_kgco2e)
            ),
        ),
        (
            q(Some(t.facility_energy_kwh), "energy", None),
            format!(
                "facility energy ({} IT)",
                q(Some(t.it_energy_kwh), "energy", Some(t.facility_energy_kwh))
            ),
        ),
        (
            n(t.gpu_hours, 0),
            format!("accelerator-hours in {} jobs", t.jobs),
        ),
        (
            q(t.embodied_kgco2e, "mass", None),
            "embodied CO₂e (hardware with known figures)".into(),
        ),
        (
            q(t.water_l, "water", None),
            "on-site water (sites with a WUE)".into(),
        ),
        (
            on(t.kgco2e_per_gpu_hour, 3),
            "kgCO₂e per accelerator-hour".into(),
        ),
    ];
    if let Some(kg) = r.methodology.reference_kgco2e {
        cards.push((
            q(Some(kg), "mass", None),
            format!(
                "at the reference {} g/kWh, for comparison",
                on(r.methodology.reference_intensity_g_per_kwh, 0)
            ),
        ));
    }
    let card_w = (WIDTH - 12.0) / 2.0;
    for (i, (v, k)) in cards.iter().enumerate() {
        let x = LEFT + (i % 2) as f32 * (card_w + 12.0);
        let y = l.y - (i / 2) as f32 * 62.0;
        l.rect(x, y - 54.0, card_w, 54.0, HEADER_FILL);
        l.text_at(x + 10.0, y - 24.0, 17.0, true, INK, v);
        let lines = fonts.wrap(k, card_w - 20.0, 8.0, false);
        for (j, line) in lines.iter().take(2).enumerate() {
            l.text_at(x + 10.0, y - 37.0 - j as f32 * 9.5, 8.0, false, MUTED, line);
        }
    }
    l.y -= 62.0 * cards.len().div_ceil(2) as f32 + 10.0;
    l.y
}

/// Summary: emissions by team, by month, by tier.
fn summary(l: &mut Layout, r: &Report) {
    // Summary.
    l.new_page();
    l.section("Summary");
    if let Some(c) = chart_of(r, "emissions_by_team") {
        l.chart(c);
    }
    l.heading("By month");
    for id in ["energy_by_month", "emissions_by_month"] {
        if let Some(c) = chart_of(r, id) {
            l.chart(c);
        }
    }
    let rows: Vec<Vec<String>> = r
        .monthly
        .iter()
        .map(|m| {
            vec![
                m.month.clone(),
                n(m.gpu_hours, 1),
                n(m.it_energy_kwh, 1),
                n(m.facility_energy_kwh, 1),
                n(m.location_kgco2e, 1),
                n(m.market_kgco2e, 1),
            ]
        })
        .collect();
    l.table(
        &[
            col("month (UTC)", 1.2, false),
            col("accelerator-hours", 1.0, true),
            col("IT energy (kWh)", 1.0, true),
            col("facility energy (kWh)", 1.0, true),
            col("location-based (kgCO₂e)", 1.0, true),
            col("market-based (kgCO₂e)", 1.0, true),
        ],
        &rows,
        8.0,
    );
    l.note("A job that spans months is split by its sampled energy per hour when telemetry covers it, else by its time.");
    l.heading("Energy by tier");
    if let Some(c) = chart_of(r, "energy_by_tier") {
        l.chart(c);
    }
    let rows: Vec<Vec<String>> = r
        .tiers
        .iter()
        .map(|t| {
            vec![
                t.tier.as_str().to_string(),
                t.jobs.to_string(),
                n(t.it_energy_kwh, 1),
                pct(t.share),
            ]
        })
        .collect();
    l.table(
        &[
            col("tier", 2.0, false),
            col("jobs", 1.0, true),
            col("IT energy (kWh)", 1.5, true),
            col("share", 1.0, true),
        ],
        &rows,
        8.0,
    );
    l.note(&format!("metered: an energy counter or tracker covers the job (energy_kwh, CodeCarbon); sampled: integrated from power telemetry; estimated: accelerator-hours × power (measured average, else TDP × {}).", r.methodology.utilisation));
}

/// Teams, with the totals row.
fn teams(l: &mut Layout, r: &Report) {
    // Teams.
    l.section("Teams");
    let rows: Vec<Vec<String>> = r
        .teams
        .iter()
        .map(|t| {
            let a = &t.amounts;
            let mut row = vec![t.team.clone()];
            row.extend(amount_cells(a));
            row.extend([on(a.water_l, 0), on(a.kgco2e_per_gpu_hour, 3), pct(t.share)]);
            row
        })
        .chain(std::iter::once({
            let a = &r.totals;
            let mut row = vec!["total".to_string()];
            row.extend(amount_cells(a));
            row.extend([on(a.water_l, 0), on(a.kgco2e_per_gpu_hour, 3), pct(1.0)]);
            row
        }))
        .collect();
    l.table(
        &[
            col("team", 1.6, false),
            col("jobs", 0.6, true),
            col("accel.-hours", 1.0, true),
            col("IT kWh", 1.0, true),
            col("facility kWh", 1.0, true),
            col("location kgCO₂e", 1.0, true),
            col("market kgCO₂e", 1.0, true),
            col("embodied kgCO₂e", 1.0, true),
            col("water L", 0.8, true),
            col("kgCO₂e per accel.-h", 0.9, true),
            col("share", 0.8, true),
        ],
        &rows,
        7.0,
    );
}

/// Practice scores, their chart and the organisation's profile.
fn scores(l: &mut Layout, r: &Report) {
    // Scores.
    l.section("Practice scores");
    let practices = crate::score::PRACTICES;
    let score = |v: Option<&Option<f64>>| on(v.copied().flatten(), 0);
    let mut rows: Vec<Vec<String>> = r
        .teams
        .iter()
        .map(|t| {
            let mut row = vec![t.team.clone()];
            row.extend(practices.iter().map(|p| score(t.scores.practices.get(p))));
            row.push(on(t.scores.overall, 0));
            row
        })
        .collect();
    let mut org = vec!["organisation".to_string()];
    let os = &r.organization_scores.scores;
    org.extend(practices.iter().map(|p| score(os.practices.get(p))));
    org.push(on(os.overall, 0));
    rows.push(org);
    let mut cols = vec![col("team", 1.6, false)];
    cols.extend(
        practices
            .iter()
            .map(|p| col(&p.replace('_', " "), 1.0, true)),
    );
    cols.push(col("overall", 0.9, true));
    l.table(&cols, &rows, 7.0);
    l.note("Scores run from 0 to 100 (the rubric in the methodology); — means the metric has no data for the team.");
    if let Some(c) = chart_of(r, "scores_by_team") {
        l.chart(c);
    }
    l.heading("Organisation profile");
    let rows: Vec<Vec<String>> = r
        .organization_scores
        .score_details
        .iter()
        .map(|d| {
            vec![
                d.practice.replace('_', " "),
                on(d.metric, 3),
                on(d.score, 0),
                match &d.reason {
                    Some(why) => why.clone(),
                    None => d.evidence.join(", "),
                },
            ]
        })
        .collect();
    l.table(
        &[
            col("practice", 1.4, false),
            col("metric", 0.8, true),
            col("score", 0.6, true),
            col("evidence or reason", 4.0, false),
        ],
        &rows,
        7.5,
    );
}

/// Change since the previous report, when one was given.
fn progress(l: &mut Layout, r: &Report) {
    if let Some(p) = &r.previous {
        l.section(&format!("Since {}", p.period));
        let rows: Vec<Vec<String>> = p
            .teams
            .iter()
            .map(|d| {
                vec![
                    if d.in_previous {
                        d.team.clone()
                    } else {
                        format!("{} (new)", d.team)
                    },
                    on(d.location_kgco2e, 1),
                    d.location_kgco2e_change
                        .map(pct)
                        .unwrap_or_else(|| "—".into()),
                    on(d.market_kgco2e, 1),
                    on(d.kgco2e_per_gpu_hour, 4),
                    on(d.scores.get("overall").copied().flatten(), 1),
                ]
            })
            .collect();
        l.table(
            &[
                col("team", 1.6, false),
                col("Δ location kgCO₂e", 1.0, true),
                col("Δ location", 0.8, true),
                col("Δ market kgCO₂e", 1.0, true),
                col("Δ kgCO₂e per accel.-h", 1.0, true),
                col("Δ overall score", 0.9, true),
            ],
            &rows,
            7.5,
        );
    }
}

/// The what-ifs, largest saving first.
fn recommendations(l: &mut Layout, r: &Report) {
    l.section("Recommendations");
    if r.whatifs.is_empty() {
        l.para("No what-if found a saving.");
    } else {
        let rows: Vec<Vec<String>> = r
            .whatifs
            .iter()
            .take(12)
            .map(|w| vec![w.team.clone(), w.message.clone(), n(w.saving_kgco2e, 1)])
            .collect();
        l.table(
            &[
                col("team", 1.0, false),
                col("what if", 5.0, false),
                col("saving kgCO₂e", 1.0, true),
            ],
            &rows,
            7.5,
        );
        if r.whatifs.len() > 12 {
            l.note(&format!(
                "The 12 largest of {} what-ifs; all are in report.json and csv/whatifs.csv.",
                r.whatifs.len()
            ));
        }
    }
}

/// Model lineage and each team's reuse dividend.
fn lineage(l: &mut Layout, r: &Report) {
    l.section("Lineage and reuse");
    if r.lineage.edges.is_empty() {
        l.para("No job names a base or teacher model.");
    } else {
        let rows: Vec<Vec<String>> = r
            .lineage
            .edges
            .iter()
            .map(|e| {
                vec![
                    e.model.clone(),
                    e.team.clone(),
                    format!(
                        "{} ({})",
                        e.parent,
                        if e.relation == "base" {
                            "fine-tuned"
                        } else {
                            "distilled"
                        }
                    ),
                    on(e.parent_kgco2e, 1),
                    e.parent_source.clone(),
                ]
            })
            .collect();
        l.table(
            &[
                col("model", 1.6, false),
                col("team", 1.0, false),
                col("from", 1.8, false),
                col("parent kgCO₂e", 0.9, true),
                col("parent footprint source", 1.8, false),
            ],
            &rows,
            7.5,
        );
        let rows: Vec<Vec<String>> = r
            .lineage
            .dividends
            .iter()
            .map(|d| {
                vec![
                    d.team.clone(),
                    n(d.kgco2e_estimate, 1),
                    d.reused.join(", "),
                    d.unknown.join(", "),
                ]
            })
            .collect();
        l.heading("Reuse dividend per team (estimate)");
        l.table(
            &[
                col("team", 1.0, false),
                col("kgCO₂e not emitted", 1.0, true),
                col("reused", 2.5, false),
                col("footprint unknown", 2.0, false),
            ],
            &rows,
            7.5,
        );
    }
}

/// Models.
fn models(l: &mut Layout, r: &Report) {
    l.section("Models");
    let rows: Vec<Vec<String>> = r
        .models
        .iter()
        .map(|m| {
            let a = &m.amounts;
            let mut row = vec![m.model.clone(), m.team.clone()];
            row.extend(amount_cells(a));
            row.extend([
                on(a.kgco2e_per_million_tokens, 4),
                on(m.card.sci_kgco2e_per_run, 2),
            ]);
            row
        })
        .collect();
    l.table(
        &[
            col("model", 2.0, false),
            col("team", 1.1, false),
            col("jobs", 0.5, true),
            col("accel.-hours", 0.9, true),
            col("IT kWh", 0.9, true),
            col("facility kWh", 0.9, true),
            col("location kgCO₂e", 0.9, true),
            col("market kgCO₂e", 0.9, true),
            col("embodied kgCO₂e", 0.9, true),
            col("kgCO₂e per M tokens", 0.9, true),
            col("SCI kgCO₂e per run", 0.9, true),
        ],
        &rows,
        6.5,
    );
}

/// The job ledger.
fn jobs(l: &mut Layout, r: &Report) {
    l.section("Jobs");
    let rows: Vec<Vec<String>> = r
        .jobs
        .iter()
        .map(|j| {
            vec![
                j.job_id.clone(),
                j.model.clone(),
                j.team.clone(),
                match &j.site {
                    Some(s) => format!("{s} / {}", j.zone),
                    None => j.zone.clone(),
                },
                format!("{} × {}", j.devices, j.hardware),
                j.status.to_string(),
                j.energy_source.as_str().to_string(),
                format!("{:.0} %", j.fraction_in_period * 100.0),
                n(j.amounts.gpu_hours, 1),
                n(j.amounts.it_energy_kwh, 2),
                n(j.pue, 3),
                n(j.intensity_g_per_kwh, 1),
                n(j.amounts.location_kgco2e, 2),
                on(j.amounts.market_kgco2e, 2),
            ]
        })
        .collect();
    l.table(
        &[
            col("job", 1.5, false),
            col("model", 1.5, false),
            col("team", 1.0, false),
            col("site / zone", 1.1, false),
            col("devices", 1.3, false),
            col("status", 0.9, false),
            col("tier", 0.8, false),
            col("in period", 0.6, true),
            col("accel.-h", 0.8, true),
            col("IT kWh", 0.8, true),
            col("PUE", 0.6, true),
            col("g/kWh", 0.7, true),
            col("location kg", 0.8, true),
            col("market kg", 0.8, true),
        ],
        &rows,
        6.0,
    );
}

/// Telemetry: coverage and idle energy per node.
fn telemetry(l: &mut Layout, r: &Report) {
    if let Some(tel) = &r.telemetry {
        l.section("Telemetry");
        l.para(&format!(
            "Mean coverage of the sampled jobs: {}.",
            tel.mean_coverage.map(pct).unwrap_or_else(|| "—".into())
        ));
        if let Some(c) = chart_of(r, "idle_by_node") {
            l.chart(c);
        }
        let rows: Vec<Vec<String>> = tel
            .nodes
            .iter()
            .map(|nd| {
                vec![
                    nd.node.clone(),
                    nd.site.clone().unwrap_or_else(|| "—".into()),
                    n(nd.total_kwh, 2),
                    n(nd.idle_kwh, 2),
                    if nd.total_kwh > 0.0 {
                        pct(nd.idle_kwh / nd.total_kwh)
                    } else {
                        "—".into()
                    },
                ]
            })
            .collect();
        l.table(
            &[
                col("node", 2.0, false),
                col("site", 1.0, false),
                col("measured kWh", 1.0, true),
                col("idle kWh", 1.0, true),
                col("idle share", 1.0, true),
            ],
            &rows,
            7.5,
        );
    }
}

/// Findings.
fn findings(l: &mut Layout, r: &Report) {
    l.section(&format!(
        "Findings ({} errors, {} warnings, {} notes)",
        r.finding_counts.error, r.finding_counts.warning, r.finding_counts.info
    ));
    if r.findings.is_empty() {
        l.para("No findings: every input row was used.");
    } else {
        let rows: Vec<Vec<String>> = r
            .findings
            .iter()
            .map(|f| {
                vec![
                    format!("{:?}", f.severity).to_lowercase(),
                    f.code.to_string(),
                    match (&f.file, f.line) {
                        (Some(p), Some(k)) => format!("{p}:{k}"),
                        (Some(p), None) => p.clone(),
                        _ => String::new(),
                    },
                    f.message.clone(),
                ]
            })
            .collect();
        l.table(
            &[
                col("severity", 0.7, false),
                col("code", 1.3, false),
                col("where", 1.5, false),
                col("message", 4.5, false),
            ],
            &rows,
            6.5,
        );
    }
}

/// Contractual instruments (market-based).
fn instruments(l: &mut Layout, r: &Report) {
    l.section("Contractual instruments");
    if r.instruments.is_empty() {
        l.para("No contractual instruments were configured: market-based emissions use residual mixes where given, else grid factors.");
    } else {
        let rows: Vec<Vec<String>> = r
            .instruments
            .iter()
            .map(|i| {
                vec![
                    i.site.clone(),
                    i.kind.clone(),
                    i.period.clone(),
                    i.reference.clone(),
                    n(i.intensity_g_per_kwh, 1),
                    n(i.mwh, 3),
                    n(i.allocated_mwh, 3),
                    n(i.surplus_mwh, 3),
                    i.share_covered.map(pct).unwrap_or_else(|| "—".into()),
                ]
            })
            .collect();
        l.table(
            &[
                col("site", 0.9, false),
                col("kind", 0.7, false),
                col("period", 1.4, false),
                col("reference", 1.6, false),
                col("g/kWh", 0.7, true),
                col("MWh", 0.8, true),
                col("allocated MWh", 0.9, true),
                col("surplus MWh", 0.9, true),
                col("site covered", 0.8, true),
            ],
            &rows,
            6.5,
        );
    }
}

/// Factors used, with their sources.
fn factors(l: &mut Layout, r: &Report) {
    l.section("Factors used");
    l.para(&format!(
        "Factor set: {} {} (sha256 {}).",
        r.factor_set.name, r.factor_set.version, r.factor_set.sha256
    ));
    let rows: Vec<Vec<String>> = r
        .factors
        .iter()
        .map(|f| {
            vec![
                f.name.clone(),
                n(f.value, 3),
                f.unit.clone(),
                f.source.clone(),
                f.year.map(|y| y.to_string()).unwrap_or_else(|| "—".into()),
            ]
        })
        .collect();
    l.table(
        &[
            col("factor", 1.8, false),
            col("value", 0.8, true),
            col("unit", 1.2, false),
            col("source", 3.5, false),
            col("year", 0.5, true),
        ],
        &rows,
        6.5,
    );
}

/// Inputs, with their sha256.
fn inputs(l: &mut Layout, r: &Report) {
    l.section("Inputs");
    let rows: Vec<Vec<String>> = r
        .inputs
        .iter()
        .map(|i| {
            vec![
                i.path.clone(),
                i.kind.to_string(),
                i.rows.to_string(),
                i.rows_used.to_string(),
                i.rows_rejected.to_string(),
                i.sha256.clone(),
            ]
        })
        .collect();
    l.table(
        &[
            col("file", 2.2, false),
            col("kind", 0.9, false),
            col("rows", 0.6, true),
            col("used", 0.6, true),
            col("rejected", 0.7, true),
            col("sha256", 2.6, false),
        ],
        &rows,
        6.5,
    );
}

/// The methodology appendix (the shared plain-text template).
fn methodology_appendix(l: &mut Layout, methodology: &str) {
    l.section("Methodology");
    for b in super::blocks(methodology) {
        match b {
            Block::Heading(h) => l.heading(&plain(&h)),
            Block::Bullet(t) => l.para_with(&plain(&t), 8.5, INK, 12.0, true),
            Block::Para(t) => l.para_with(&plain(&t), 8.5, INK, 0.0, false),
        }
    }
}

/// The characters drawn in each face (regular, bold), read off the pages' operations.
fn used_chars(pages: &[Vec<Op>]) -> (BTreeSet<char>, BTreeSet<char>) {
    let (mut regular, mut bold) = (BTreeSet::new(), BTreeSet::new());
    for ops in pages {
        let mut is_bold = false;
        for op in ops {
            match op {
                Op::SetFont {
                    font: PdfFontHandle::External(id),
                    ..
                } => is_bold = id.0 == BOLD_ID,
                Op::ShowText { items } => {
                    let set = if is_bold { &mut bold } else { &mut regular };
                    for item in items {
                        if let TextItem::Text(t) = item {
                            set.extend(t.chars());
                        }
                    }
                }
                _ => {}
            }
        }
    }
    (regular, bold)
}

/// The face reduced to the glyphs of `chars` (without its layout engine printpdf embeds whole
/// fonts, ~700 KB each). Should subsetting fail, or lose a character, the whole face is used.
fn subset(face: &ParsedFont, chars: &BTreeSet<char>) -> ParsedFont {
    use allsorts::binary::read::ReadScope;
    use allsorts::font_data::FontData;
    let gids: BTreeSet<u16> = chars
        .iter()
        .filter_map(|c| face.lookup_glyph_index(*c as u32))
        .filter(|g| *g != 0)
        .collect();
    // .notdef first, then each glyph once (allsorts' requirements).
    let ids: Vec<u16> = std::iter::once(0).chain(gids).collect();
    let bytes = ReadScope::new(&face.original_bytes)
        .read::<FontData<'_>>()
        .ok()
        .and_then(|f| {
            let p = f.table_provider(0).ok()?;
            allsorts::subset::subset(
                &p,
                &ids,
                &allsorts::subset::SubsetProfile::Pdf,
                allsorts::subset::CmapTarget::Unicode,
            )
            .ok()
        });
    let keeps_every_char = |p: &ParsedFont| {
        chars.iter().all(|c| {
            face.lookup_glyph_index(*c as u32).is_none()
                || p.lookup_glyph_index(*c as u32).is_some()
        })
    };
    bytes
        .and_then(|b| ParsedFont::from_bytes(&b, 0, &mut Vec::new()))
        .filter(keeps_every_char)
        .unwrap_or_else(|| face.clone())
}

/// The chart of the report with this id.
fn chart_of<'a>(r: &'a Report, id: &str) -> Option<&'a BarChart> {
    r.charts.iter().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

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
