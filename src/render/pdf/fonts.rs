//! The PDF's fonts: DejaVu Sans regular and bold, parsed once, measured for wrapping, and
//! embedded as subsets of the glyphs drawn.

use crate::error::{Error, Result};
use printpdf::{Op, ParsedFont, PdfFontHandle, TextItem};
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// DejaVu Sans (Bitstream Vera licence, see assets/fonts/LICENSE): covers accents, CO₂, ≤, —.
pub(super) static REGULAR_TTF: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
pub(super) static BOLD_TTF: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");

/// The two faces, parsed once per process.
pub(super) struct Fonts {
    pub(super) regular: ParsedFont,
    pub(super) bold: ParsedFont,
}

pub(super) fn fonts() -> Result<&'static Fonts> {
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
    pub(super) fn face(&self, bold: bool) -> &ParsedFont {
        if bold {
            &self.bold
        } else {
            &self.regular
        }
    }

    /// Width of `s` at `size` points.
    pub(super) fn width(&self, s: &str, size: f32, bold: bool) -> f32 {
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
    pub(super) fn wrap(&self, s: &str, width: f32, size: f32, bold: bool) -> Vec<String> {
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

pub(super) const REGULAR_ID: &str = "F1";
pub(super) const BOLD_ID: &str = "F2";

/// The characters drawn in each face (regular, bold), read off the pages' operations.
pub(super) fn used_chars(pages: &[Vec<Op>]) -> (BTreeSet<char>, BTreeSet<char>) {
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
pub(super) fn subset(face: &ParsedFont, chars: &BTreeSet<char>) -> ParsedFont {
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
