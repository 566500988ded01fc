//! Pages being laid out top to bottom: A4 geometry, colours, text and wrapped paragraphs,
//! tables that break across pages and repeat their header, charts drawn from the shared
//! chart layout, and the number formats the tables use.

use super::fonts::{Fonts, BOLD_ID, REGULAR_ID};
use crate::format::{digits_or_dash, group_digits};
use crate::render::chart::{self, Anchor, Prim};
use crate::report::chart::BarChart;
use crate::report::Report;
use printpdf::{
    Color, FontId, Line, LinePoint, Op, PaintMode, PdfFontHandle, Point, Polygon, PolygonRing, Pt,
    Rgb, TextItem, WindingOrder,
};

/// A4 in points, and the margins.
pub(super) const PAGE_W: f32 = 595.276;
pub(super) const PAGE_H: f32 = 841.89;
pub(super) const LEFT: f32 = 48.0;
pub(super) const RIGHT: f32 = PAGE_W - 48.0;
pub(super) const TOP: f32 = PAGE_H - 50.0;
pub(super) const BOTTOM: f32 = 56.0;
pub(super) const WIDTH: f32 = RIGHT - LEFT;

pub(super) fn rgb(hex: &str) -> Color {
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

pub(super) const INK: &str = "#1b2b24";
pub(super) const MUTED: &str = "#5a6b63";
pub(super) const ACCENT: &str = "#1f6f4a";
pub(super) const HEADER_FILL: &str = "#e8efe9";
pub(super) const RULE: &str = "#c9d4cc";

/// A table column: title, share of the width, right-aligned (numbers) or not.
pub(super) struct Col {
    pub(super) title: String,
    pub(super) width: f32,
    pub(super) right: bool,
}

pub(super) fn col(title: &str, width: f32, right: bool) -> Col {
    Col {
        title: title.to_string(),
        width,
        right,
    }
}

/// Pages being laid out, top to bottom.
pub(super) struct Layout<'f> {
    pub(super) fonts: &'f Fonts,
    pub(super) pages: Vec<Vec<Op>>,
    /// The page drawn on: the last while laying out; earlier ones for contents and footers.
    pub(super) current: usize,
    pub(super) y: f32,
    /// Sections: (title, 1-based page) for the contents and the outline.
    pub(super) sections: Vec<(String, usize)>,
}

impl<'f> Layout<'f> {
    pub(super) fn new(fonts: &'f Fonts) -> Self {
        Layout {
            fonts,
            pages: vec![Vec::new()],
            current: 0,
            y: TOP,
            sections: Vec::new(),
        }
    }

    pub(super) fn ops(&mut self) -> &mut Vec<Op> {
        &mut self.pages[self.current]
    }

    pub(super) fn page_no(&self) -> usize {
        self.pages.len()
    }

    pub(super) fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.current = self.pages.len() - 1;
        self.y = TOP;
    }

    /// Start a new page unless `h` points fit above the bottom margin.
    pub(super) fn need(&mut self, h: f32) {
        if self.y - h < BOTTOM {
            self.new_page();
        }
    }

    pub(super) fn text_at(&mut self, x: f32, y: f32, size: f32, bold: bool, color: &str, s: &str) {
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

    pub(super) fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: &str) {
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

    pub(super) fn line(&mut self, points: &[(f32, f32)], color: &str, width: f32) {
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
    pub(super) fn section(&mut self, title: &str) {
        if self.y < TOP {
            self.new_page();
        }
        self.sections.push((title.to_string(), self.page_no()));
        self.text_at(LEFT, self.y - 16.0, 16.0, true, ACCENT, title);
        self.y -= 28.0;
    }

    pub(super) fn heading(&mut self, title: &str) {
        self.need(40.0);
        self.y -= 6.0;
        self.text_at(LEFT, self.y - 11.0, 11.0, true, INK, title);
        self.y -= 18.0;
    }

    /// A wrapped paragraph, indented by `indent` points, with an optional bullet.
    pub(super) fn para_with(&mut self, s: &str, size: f32, color: &str, indent: f32, bullet: bool) {
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

    pub(super) fn para(&mut self, s: &str) {
        self.para_with(s, 9.0, INK, 0.0, false);
    }

    pub(super) fn note(&mut self, s: &str) {
        self.para_with(s, 7.5, MUTED, 0.0, false);
    }

    /// A table: wrapped cells, the header row repeated on every page it spans.
    pub(super) fn table(&mut self, cols: &[Col], rows: &[Vec<String>], size: f32) {
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
    pub(super) fn widths(
        &self,
        cols: &[Col],
        rows: &[Vec<String>],
        size: f32,
        pad: f32,
    ) -> Vec<f32> {
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
    pub(super) fn chart(&mut self, c: &BarChart) {
        self.prims(chart::layout(c), chart::HEIGHT);
    }

    /// Chart primitives `height` chart units tall, scaled to the text width.
    pub(super) fn prims(&mut self, prims: Vec<Prim>, height: f64) {
        let s = (WIDTH as f64 / chart::WIDTH) as f32;
        let h = height as f32 * s;
        self.need(h + 8.0);
        let top = self.y;
        let to_x = |x: f64| LEFT + x as f32 * s;
        let to_y = |y: f64| top - y as f32 * s;
        for p in prims {
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
pub(super) fn n(v: f64, d: usize) -> String {
    group_digits(v, d)
}

pub(super) fn on(v: Option<f64>, d: usize) -> String {
    digits_or_dash(v, d)
}

/// The cells every team, model and total row shares: jobs, accelerator-hours, IT and
/// facility energy, location-, market-based and embodied emissions.
pub(super) fn amount_cells(a: &crate::report::Amounts) -> [String; 7] {
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

pub(super) fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1} %", v * 100.0)
    } else {
        "—".into()
    }
}

/// The chart of the report with this id.
pub(super) fn chart_of<'a>(r: &'a Report, id: &str) -> Option<&'a BarChart> {
    r.charts.iter().find(|c| c.id == id)
}
