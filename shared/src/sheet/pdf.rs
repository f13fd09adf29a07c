//! Writes a sheet's layout as a one-page A4 PDF with `pdf-writer`: text in the sheet font,
//! embedded as subsets (CID fonts, Identity-H, with ToUnicode so the text can be searched and
//! copied), and the register barcode as one path of bars.
//!
//! Once per process the font is read and the glyphs every sheet shows (the fixed wording, the
//! chains' instructions, ASCII, dates and amounts) are subset and compressed. A sheet then adds
//! only what its merchant's text needs beyond them: usually a handful of glyphs, often none.

use std::sync::OnceLock;

use pdf_writer::types::{CidFontType, FontFlags};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Settings, Str, TextStr};

use super::font::{SheetFont, Subset, DEFAULT_FONT_PATH, SYSTEM_INFO};
use super::layout::{layout, Layout, Mark, PAGE_HEIGHT_MM, PAGE_WIDTH_MM};
use super::SheetContent;

pub use super::font::MISSING;

const PT_PER_MM: f32 = 72.0 / 25.4;

/// Millimetres in points, to a hundredth of a point (3.5 µm: finer than any printer, and the
/// content stream stays short).
fn pt(mm: f32) -> f32 {
    (mm * PT_PER_MM * 100.0).round() / 100.0
}
/// Compression of the once-per-process subset (best) and of what each sheet adds (fast: a
/// sheet's own streams are a few KB, and level 6 spends time for a few bytes).
const SHARED_LEVEL: u8 = 10;
const SHEET_LEVEL: u8 = 6;

struct Shared {
    font: SheetFont,
    subset: Subset,
}

static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();

/// The font and the shared subset, made on first use.
fn shared() -> Result<&'static Shared, String> {
    SHARED
        .get_or_init(|| {
            let path =
                std::env::var("SHEET_FONT_PATH").unwrap_or_else(|_| DEFAULT_FONT_PATH.into());
            let font = SheetFont::load(&path)?;
            let mut chars: Vec<char> = common_chars()?.into_iter().map(|c| font.shown(c)).collect();
            chars.sort_unstable();
            chars.dedup();
            let subset = font.subset(&chars, SHARED_LEVEL)?;
            Ok(Shared { font, subset })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// What every sheet shows whatever its merchant: the wording of a sheet without merchant text
/// and the characters of numbers, dates and amounts. Not all of ASCII: every glyph of the
/// shared subset is in every sheet, so a glyph only some sheets need goes in their extras.
fn common_chars() -> Result<Vec<char>, String> {
    use super::payment_code::PaymentCode;
    use crate::number::SmartPitNumber;
    let number = SmartPitNumber::from_body(0);
    let due = chrono::NaiveDate::default();
    let blank = SheetContent {
        number,
        merchant_name: String::new(),
        amount: 1,
        // Fees are the exception: their rows' glyphs come with the sheets that have one.
        customer_fee: 0,
        due_date: due,
        merchant_order_id: String::new(),
        description: Some(String::new()),
        payment_code: PaymentCode::new("000000", number, due, 2),
    };
    let mut chars: Vec<char> = layout(&blank)?.chars().collect();
    chars.extend("0123456789¥,年月日".chars());
    Ok(chars)
}

/// The sheet as PDF bytes.
pub fn render(sheet: &SheetContent) -> Result<Vec<u8>, String> {
    write(&layout(sheet)?)
}

/// A laid-out page as PDF bytes.
pub fn write(page: &Layout) -> Result<Vec<u8>, String> {
    let shared = shared()?;
    let font = &shared.font;
    let mut extra: Vec<char> = page
        .chars()
        .map(|c| font.shown(c))
        .filter(|c| shared.subset.cid(*c).is_none())
        .collect();
    extra.sort_unstable();
    extra.dedup();
    let extras = if extra.is_empty() {
        None
    } else {
        Some(font.subset(&extra, SHEET_LEVEL)?)
    };
    let content = content(page, font, &shared.subset, extras.as_ref());
    let content = miniz_oxide::deflate::compress_to_vec_zlib(&content, SHEET_LEVEL);

    let mut next = 0;
    let mut id = || {
        next += 1;
        Ref::new(next)
    };
    let (catalog, pages, page_id, content_id, info) = (id(), id(), id(), id(), id());
    let shared_font = id();
    let extras_font = extras.as_ref().map(|_| id());

    let mut pdf = Pdf::with_settings(Settings { pretty: false });
    pdf.catalog(catalog).pages(pages);
    pdf.pages(pages).kids([page_id]).count(1);
    {
        let mut p = pdf.page(page_id);
        p.media_box(Rect::new(
            0.0,
            0.0,
            PAGE_WIDTH_MM * PT_PER_MM,
            PAGE_HEIGHT_MM * PT_PER_MM,
        ))
        .parent(pages)
        .contents(content_id);
        let mut resources = p.resources();
        let mut fonts = resources.fonts();
        fonts.pair(Name(b"F1"), shared_font);
        if let Some(f) = extras_font {
            fonts.pair(Name(b"F2"), f);
        }
    }
    pdf.stream(content_id, &content).filter(Filter::FlateDecode);
    pdf.document_info(info)
        .title(TextStr(page.title))
        .producer(TextStr("smartpit"));
    embed(&mut pdf, &mut id, shared_font, font, &shared.subset);
    if let (Some(f), Some(subset)) = (extras_font, extras.as_ref()) {
        embed(&mut pdf, &mut id, f, font, subset);
    }
    Ok(pdf.finish())
}

/// The Type0 font `font_id` for `subset`, with its CID font, descriptor, program and ToUnicode.
fn embed(
    pdf: &mut Pdf,
    id: &mut impl FnMut() -> Ref,
    font_id: Ref,
    font: &SheetFont,
    subset: &Subset,
) {
    let (cid_id, descriptor, program, to_unicode) = (id(), id(), id(), id());
    let name = format!("{}+{}", subset.tag, font.ps_name);
    let name = Name(name.as_bytes());
    pdf.type0_font(font_id)
        .base_font(name)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_id)
        .to_unicode(to_unicode);
    let mut cid = pdf.cid_font(cid_id);
    cid.subtype(CidFontType::Type2)
        .base_font(name)
        .system_info(SYSTEM_INFO)
        .font_descriptor(descriptor)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    let (default, ranges) = subset.width_ranges();
    cid.default_width(default);
    let mut widths = cid.widths();
    for (first, last, w) in ranges {
        widths.same(first, last, w);
    }
    widths.finish();
    cid.finish();
    let [x0, y0, x1, y1] = font.bbox;
    pdf.font_descriptor(descriptor)
        .name(name)
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(x0, y0, x1, y1))
        .italic_angle(0.0)
        .ascent(font.ascent)
        .descent(font.descent)
        .cap_height(font.cap_height)
        .stem_v(80.0)
        .font_file2(program);
    pdf.stream(program, &subset.program)
        .filter(Filter::FlateDecode)
        .pair(
            Name(b"Length1"),
            i32::try_from(subset.program_len).unwrap_or(i32::MAX),
        );
    pdf.cmap(to_unicode, &subset.to_unicode)
        .filter(Filter::FlateDecode);
}

/// The page's drawing operators.
fn content(page: &Layout, font: &SheetFont, shared: &Subset, extras: Option<&Subset>) -> Vec<u8> {
    let mut c = Content::new();
    let mut cids = Vec::with_capacity(128);
    for mark in &page.marks {
        match mark {
            Mark::Text { x, y, size, text } => {
                c.begin_text();
                c.next_line(pt(*x), pt(*y));
                // Runs of characters in the same subset, each shown with its font.
                let mut current: Option<bool> = None;
                for ch in text.chars().map(|ch| font.shown(ch)) {
                    let (in_shared, cid) = match shared.cid(ch) {
                        Some(cid) => (true, cid),
                        None => (false, extras.and_then(|e| e.cid(ch)).unwrap_or(0)),
                    };
                    if current != Some(in_shared) {
                        if !cids.is_empty() {
                            c.show(Str(&cids));
                            cids.clear();
                        }
                        let name: &[u8] = if in_shared { b"F1" } else { b"F2" };
                        c.set_font(Name(name), *size);
                        current = Some(in_shared);
                    }
                    cids.extend_from_slice(&cid.to_be_bytes());
                }
                if !cids.is_empty() {
                    c.show(Str(&cids));
                    cids.clear();
                }
                c.end_text();
            }
            Mark::Box { x, y, w, h, grey } => {
                c.set_fill_gray(*grey);
                c.rect(pt(*x), pt(*y), pt(*w), pt(*h));
                c.fill_nonzero();
                c.set_fill_gray(0.0);
            }
            Mark::Bars {
                x,
                y,
                module,
                height,
                bars,
            } => {
                c.set_fill_gray(0.0);
                for &(start, width) in bars {
                    c.rect(
                        pt(x + f32::from(start) * module),
                        pt(*y),
                        pt(f32::from(width) * module),
                        pt(*height),
                    );
                }
                c.fill_nonzero();
            }
        }
    }
    c.finish().to_vec()
}
