//! The per-ticket report as a one-or-more-page A4 PDF laid out as the template's table, with the text
//! in an embedded subset of a CJK font.
//!
//! Only the glyphs the report uses are embedded: `subsetter` (typst's, maintained with its PDF
//! writer `pdf-writer`) cuts a TrueType or CFF font down to them, so a one-page report weighs tens of
//! kilobytes instead of the megabytes of a whole CJK font. `ttf-parser` measures the glyphs for
//! wrapping. The font is found once at start-up ([`ReportFont::find`]): `api.pdf_font` if set, else
//! the first installed of [`FONT_CANDIDATES`] (Debian's `fonts-wqy-microhei` or `fonts-noto-cjk`).

use std::collections::BTreeMap;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use crate::error::{ApiError, ApiResult};
use crate::render::ReportDoc;

/// CJK fonts first, in Debian's paths.
pub const FONT_CANDIDATES: [&str; 6] = [
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
];

/// A font file and the face in it that draws Chinese.
pub struct ReportFont {
    pub path: String,
    pub data: Vec<u8>,
    pub index: u32,
}

impl ReportFont {
    /// Reads `configured`, else the first candidate that exists; in a collection picks the face with
    /// simplified-Chinese glyph forms (`SC`) when there is one.
    pub fn find(configured: Option<&str>) -> Option<ReportFont> {
        let paths: Vec<&str> = match configured {
            Some(p) => vec![p],
            None => FONT_CANDIDATES.to_vec(),
        };
        paths.into_iter().find_map(|path| {
            let data = std::fs::read(path).ok()?;
            let faces = ttf_parser::fonts_in_collection(&data).unwrap_or(1);
            let family = |i: u32| {
                ttf_parser::Face::parse(&data, i).ok().and_then(|f| {
                    f.names()
                        .into_iter()
                        .filter(|n| n.name_id == ttf_parser::name_id::FAMILY && n.is_unicode())
                        .find_map(|n| n.to_string())
                })
            };
            let index = (0..faces)
                .find(|&i| family(i).is_some_and(|f| f.contains(" SC")))
                .unwrap_or(0);
            ttf_parser::Face::parse(&data, index).ok()?;
            Some(ReportFont {
                path: path.to_string(),
                data,
                index,
            })
        })
    }

    /// Whether the font draws Chinese at all.
    pub fn has_cjk(&self) -> bool {
        ttf_parser::Face::parse(&self.data, self.index)
            .ok()
            .and_then(|f| f.glyph_index('报'))
            .is_some()
    }
}

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 42.0;
const SIZE: f32 = 9.5;
const LEADING: f32 = 13.0;
const PAD: f32 = 4.0;

/// Positioned text and rules, measured with the font.
struct Layout<'f> {
    face: ttf_parser::Face<'f>,
    pages: Vec<Page>,
    y: f32,
}

#[derive(Default)]
struct Page {
    texts: Vec<(f32, f32, f32, String)>,
    rules: Vec<(f32, f32, f32, f32)>,
    fills: Vec<(f32, f32, f32, f32)>,
}

impl<'f> Layout<'f> {
    fn width(&self, text: &str, size: f32) -> f32 {
        let upem = f32::from(self.face.units_per_em());
        text.chars()
            .map(|c| {
                let gid = self.face.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0));
                f32::from(self.face.glyph_hor_advance(gid).unwrap_or(0)) * size / upem
            })
            .sum()
    }

    /// Breaks `text` into lines no wider than `max` (at a space when a Latin word allows it).
    fn wrap(&self, text: &str, max: f32) -> Vec<String> {
        let mut out = Vec::new();
        for para in text.split('\n') {
            let mut line = String::new();
            for c in para.chars() {
                let candidate = format!("{line}{c}");
                if !line.is_empty() && self.width(&candidate, SIZE) > max {
                    let cut = line
                        .rfind(' ')
                        .filter(|_| c.is_ascii_alphanumeric())
                        .filter(|&i| i > 0);
                    match cut {
                        Some(i) => {
                            let rest = line[i + 1..].to_string();
                            line.truncate(i);
                            out.push(std::mem::take(&mut line));
                            line = rest;
                        }
                        None => out.push(std::mem::take(&mut line)),
                    }
                }
                line.push(c);
            }
            out.push(line);
        }
        out
    }

    fn page(&mut self) -> &mut Page {
        self.pages.last_mut().expect("a page")
    }

    /// Starts a new page when `height` does not fit; returns whether it did.
    fn ensure(&mut self, height: f32) -> bool {
        if self.y - height < MARGIN {
            self.pages.push(Page::default());
            self.y = PAGE_H - MARGIN;
            return true;
        }
        false
    }

    /// One table row: cells of the given widths, the first `shaded` ones on grey.
    fn row(&mut self, cells: &[(&str, f32)], shaded: usize) {
        let wrapped: Vec<Vec<String>> = cells
            .iter()
            .map(|(t, w)| self.wrap(t, w - 2.0 * PAD))
            .collect();
        let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let mut height = lines as f32 * LEADING + 2.0 * PAD;
        // A row taller than a page is cut into page-high pieces.
        let max_lines = ((PAGE_H - 2.0 * MARGIN - 2.0 * PAD) / LEADING) as usize;
        if lines > max_lines {
            type Cells = Vec<(String, f32)>;
            let (first, rest): (Cells, Cells) = cells
                .iter()
                .zip(&wrapped)
                .map(|((_, w), l)| {
                    let cut = l.len().min(max_lines);
                    ((l[..cut].join("\n"), *w), (l[cut..].join("\n"), *w))
                })
                .unzip();
            let first: Vec<(&str, f32)> = first.iter().map(|(t, w)| (t.as_str(), *w)).collect();
            let rest: Vec<(&str, f32)> = rest.iter().map(|(t, w)| (t.as_str(), *w)).collect();
            self.row(&first, shaded);
            self.row(&rest, shaded);
            return;
        }
        self.ensure(height);
        height = lines as f32 * LEADING + 2.0 * PAD;
        let top = self.y;
        let mut x = MARGIN;
        for (i, ((_, w), text)) in cells.iter().zip(&wrapped).enumerate() {
            if i < shaded {
                self.page().fills.push((x, top - height, *w, height));
            }
            for (n, line) in text.iter().enumerate() {
                let baseline = top - PAD - SIZE - n as f32 * LEADING + 1.5;
                self.page()
                    .texts
                    .push((x + PAD, baseline, SIZE, line.clone()));
            }
            self.page().rules.push((x, top - height, *w, height));
            x += w;
        }
        self.y -= height;
    }

    fn heading(&mut self, text: &str, size: f32, centered: bool) {
        self.ensure(size * 2.0);
        let x = if centered {
            (PAGE_W - self.width(text, size)) / 2.0
        } else {
            MARGIN
        };
        let y = self.y - size;
        self.page().texts.push((x, y, size, text.to_string()));
        self.y -= size * 2.0;
    }
}

fn pdf_err(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("pdf: {e}"))
}

/// Draws the report. Without a font there is no report: the api refuses it with a clear error.
pub fn render(doc: &ReportDoc, font: Option<&ReportFont>) -> ApiResult<Vec<u8>> {
    let font = font.ok_or_else(|| ApiError::Detailed {
        status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
        code: "no_font",
        message: "no font for PDF reports is installed (install fonts-noto-cjk or fonts-wqy-microhei, or set api.pdf_font)".into(),
        field: None,
        details: None,
    })?;
    let face = ttf_parser::Face::parse(&font.data, font.index).map_err(pdf_err)?;
    let mut layout = Layout {
        face,
        pages: vec![Page::default()],
        y: PAGE_H - MARGIN,
    };
    let full = PAGE_W - 2.0 * MARGIN;
    layout.heading(&doc.title, 16.0, true);
    let label_w = 92.0;
    for (k, v) in &doc.fields {
        layout.row(&[(k, label_w), (v, full - label_w)], 1);
    }
    layout.y -= 14.0;
    layout.heading(&doc.log_title, 12.0, false);
    let widths = [82.0, 110.0, 92.0, full - 284.0];
    let heads: Vec<(&str, f32)> = doc
        .log_heads
        .iter()
        .zip(widths)
        .map(|(h, w)| (h.as_str(), w))
        .collect();
    layout.row(&heads, 4);
    for line in &doc.log {
        if layout.ensure(LEADING + 2.0 * PAD) {
            layout.row(&heads, 4);
        }
        layout.row(
            &[
                (&line.at, widths[0]),
                (&line.who, widths[1]),
                (&line.action, widths[2]),
                (&line.result, widths[3]),
            ],
            0,
        );
    }
    write(&layout, font)
}

/// Subsets the font to the glyphs used and writes the document.
fn write(layout: &Layout<'_>, font: &ReportFont) -> ApiResult<Vec<u8>> {
    let face = &layout.face;
    // Every character used, with its glyph in the full font; the subset renumbers the glyphs.
    let mut chars: BTreeMap<char, u16> = BTreeMap::new();
    for page in &layout.pages {
        for (_, _, _, text) in &page.texts {
            for c in text.chars() {
                chars
                    .entry(c)
                    .or_insert_with(|| face.glyph_index(c).map(|g| g.0).unwrap_or(0));
            }
        }
    }
    let mut remapper = subsetter::GlyphRemapper::new();
    for gid in chars.values() {
        remapper.remap(*gid);
    }
    let subset = subsetter::subset(&font.data, font.index, &remapper).map_err(pdf_err)?;
    let new_gid = |c: char| remapper.get(chars[&c]).unwrap_or(0);

    let mut next = 1;
    let mut alloc = || {
        let r = Ref::new(next);
        next += 1;
        r
    };
    let (catalog, tree, type0, cid, descriptor, file, cmap) = (
        alloc(),
        alloc(),
        alloc(),
        alloc(),
        alloc(),
        alloc(),
        alloc(),
    );
    let page_ids: Vec<(Ref, Ref)> = layout.pages.iter().map(|_| (alloc(), alloc())).collect();
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().map(|(p, _)| *p))
        .count(page_ids.len() as i32);

    let font_name = Name(b"LoopdeskReportFont");
    let cff = face.tables().cff.is_some();
    let system = || SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    pdf.type0_font(type0)
        .base_font(font_name)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap);
    let upem = f32::from(face.units_per_em());
    let scale = |v: f32| v * 1000.0 / upem;
    let mut widths: Vec<(u16, f32)> = chars
        .iter()
        .map(|(c, old)| {
            let adv = face
                .glyph_hor_advance(ttf_parser::GlyphId(*old))
                .unwrap_or(0);
            (new_gid(*c), scale(f32::from(adv)))
        })
        .collect();
    widths.sort_by_key(|(g, _)| *g);
    widths.dedup_by_key(|(g, _)| *g);
    {
        let mut cid_font = pdf.cid_font(cid);
        cid_font
            .subtype(if cff {
                CidFontType::Type0
            } else {
                CidFontType::Type2
            })
            .base_font(font_name)
            .system_info(system())
            .font_descriptor(descriptor)
            .default_width(0.0);
        if !cff {
            cid_font.cid_to_gid_map_predefined(Name(b"Identity"));
        }
        let mut w = cid_font.widths();
        for (gid, width) in &widths {
            w.consecutive(*gid, [*width]);
        }
    }
    let bbox = face.global_bounding_box();
    let mut fd = pdf.font_descriptor(descriptor);
    fd.name(font_name)
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(
            scale(f32::from(bbox.x_min)),
            scale(f32::from(bbox.y_min)),
            scale(f32::from(bbox.x_max)),
            scale(f32::from(bbox.y_max)),
        ))
        .italic_angle(0.0)
        .ascent(scale(f32::from(face.ascender())))
        .descent(scale(f32::from(face.descender())))
        .cap_height(scale(f32::from(
            face.capital_height().unwrap_or(face.ascender()),
        )))
        .stem_v(80.0);
    if cff {
        fd.font_file3(file);
    } else {
        fd.font_file2(file);
    }
    fd.finish();
    let mut stream = pdf.stream(file, &subset);
    if cff {
        stream.pair(Name(b"Subtype"), Name(b"OpenType"));
    }
    stream.finish();
    let mut unicode = UnicodeCmap::new(Name(b"Loopdesk-UTF16"), system());
    for c in chars.keys() {
        unicode.pair(new_gid(*c), *c);
    }
    pdf.cmap(cmap, &unicode.finish());

    for (page, (page_id, content_id)) in layout.pages.iter().zip(&page_ids) {
        let mut c = Content::new();
        c.set_fill_gray(0.93);
        for (x, y, w, h) in &page.fills {
            c.rect(*x, *y, *w, *h);
        }
        c.fill_nonzero();
        c.set_line_width(0.6).set_stroke_gray(0.35);
        for (x, y, w, h) in &page.rules {
            c.rect(*x, *y, *w, *h);
        }
        c.stroke();
        c.set_fill_gray(0.0);
        for (x, y, size, text) in &page.texts {
            let encoded: Vec<u8> = text
                .chars()
                .flat_map(|ch| new_gid(ch).to_be_bytes())
                .collect();
            c.begin_text()
                .set_font(Name(b"F1"), *size)
                .set_text_matrix([1.0, 0.0, 0.0, 1.0, *x, *y])
                .show(Str(&encoded))
                .end_text();
        }
        let content = c.finish();
        pdf.stream(*content_id, &content);
        let mut p = pdf.page(*page_id);
        p.parent(tree)
            .media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .contents(*content_id);
        p.resources().fonts().pair(Name(b"F1"), type0);
    }
    Ok(pdf.finish())
}
