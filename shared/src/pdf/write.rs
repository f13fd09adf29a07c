//! Writes `Page`s as an A4 PDF with printpdf: text in the typeface, embedded as subsets (CID
//! TrueType, Identity-H, with ToUnicode so the text can be searched and copied), boxes and
//! barcode bars as filled vector rectangles.
//!
//! A `Writer` is made once per process for a kind of document: it subsets and compresses the
//! glyphs every document of that kind shows. A document then adds only what its own text needs
//! beyond them (often nothing). printpdf builds the document (fonts, widths, ToUnicode maps,
//! pages, content streams) and lopdf, which it builds on, saves it. The one step of ours in
//! between (`finish`) puts in the shared program and its ToUnicode map as compressed once, so no
//! document deflates them again, writes the widths as ranges and drops empty Info fields.
//!
//! printpdf 0.12 has no hook for a font program that is already compressed, nor for a font
//! shared by many documents: without one, every save deflates the whole shared subset again (a
//! sheet took twice as long). `to_lopdf_document`, printpdf's way to the document before it is
//! saved, is where that step goes.

use printpdf::{
    Color, FontId, Greyscale, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFont, PdfFontHandle,
    PdfPage, PdfParseErrorSeverity, PdfSaveOptions, Point, Pt, Rect, TextItem,
};

use super::font::{typeface, Subset, Typeface};
use super::page::{Mark, Page, PAGE_HEIGHT_MM, PAGE_WIDTH_MM};

const PT_PER_MM: f32 = 72.0 / 25.4;

/// Compression of the once-per-process subset: the best miniz has (10), paid once.
const SHARED_LEVEL: u8 = 10;
/// Compression of what each document adds (its content, ToUnicode maps, its own glyphs: a few
/// KB): lopdf's `compress` (printpdf's `optimize`) takes level 9 for them, which costs time
/// for a few bytes.
const DOCUMENT_LEVEL: u8 = 6;

/// Millimetres in points, to a hundredth of a point (3.5 µm: finer than any printer, and the
/// content stream stays short).
fn pt(mm: f32) -> Pt {
    Pt((mm * PT_PER_MM * 100.0).round() / 100.0)
}

/// PDFs of one kind of document, sharing one subset of the typeface.
pub struct Writer {
    face: &'static Typeface,
    shared: Subset,
    /// The shared subset's whole ToUnicode map, as printpdf writes one, compressed once.
    shared_to_unicode: Vec<u8>,
}

/// The resource names of a document's fonts (`add_font` names a font by 32 random letters,
/// repeated at every change of font in the content stream).
const SHARED_FONT: &str = "FS";
const EXTRAS_FONT: &str = "FX";

impl Writer {
    /// A writer whose shared subset holds `common`: what every document of its kind shows.
    /// Every glyph of it is in every document, so a glyph only some documents need is better
    /// left to their own extras.
    pub fn new(common: impl IntoIterator<Item = char>) -> Result<Self, String> {
        let face = typeface()?;
        let mut chars: Vec<char> = common.into_iter().map(|c| face.shown(c)).collect();
        chars.sort_unstable();
        chars.dedup();
        let shared = face.subset(&chars, Some(SHARED_LEVEL))?;
        let cmap = printpdf::ToUnicodeCMap {
            mappings: shared
                .font
                .codepoint_to_glyph
                .iter()
                .map(|(c, cid)| (u32::from(*cid), vec![*c]))
                .collect(),
        };
        let shared_to_unicode = miniz_oxide::deflate::compress_to_vec_zlib(
            cmap.to_cmap_string(SHARED_FONT).as_bytes(),
            SHARED_LEVEL,
        );
        Ok(Self {
            face,
            shared,
            shared_to_unicode,
        })
    }

    /// A one-page document as PDF bytes.
    pub fn write(&self, page: &Page) -> Result<Vec<u8>, String> {
        self.write_pages(page.title, std::slice::from_ref(page))
    }

    /// A document of `pages` (in order) as PDF bytes.
    pub fn write_pages(&self, title: &str, pages: &[Page]) -> Result<Vec<u8>, String> {
        let face = self.face;
        let mut extra: Vec<char> = pages
            .iter()
            .flat_map(Page::chars)
            .map(|c| face.shown(c))
            .filter(|c| self.shared.cid(*c).is_none())
            .collect();
        extra.sort_unstable();
        extra.dedup();
        let extras = if extra.is_empty() {
            None
        } else {
            Some(face.subset(&extra, None)?)
        };

        let mut doc = PdfDocument::new(title);
        doc.metadata.info.producer = "smartpit".into();
        let mut add = |name: &str, font: &ParsedFont| {
            let id = FontId(name.into());
            doc.resources
                .fonts
                .map
                .insert(id.clone(), PdfFont::new(font.clone()));
            PdfFontHandle::External(id)
        };
        let fonts = Fonts {
            face,
            shared: (&self.shared.font, add(SHARED_FONT, &self.shared.font)),
            extras: extras
                .as_ref()
                .map(|e| (&e.font, add(EXTRAS_FONT, &e.font))),
        };
        let pages = pages
            .iter()
            .map(|p| PdfPage::new(Mm(PAGE_WIDTH_MM), Mm(PAGE_HEIGHT_MM), fonts.ops(p)))
            .collect();
        doc.with_pages(pages);
        let opts = PdfSaveOptions {
            optimize: false,
            subset_fonts: false,
            secure: true,
            image_optimization: None,
        };
        let mut warnings = Vec::new();
        let mut pdf = doc.to_lopdf_document(&opts, &mut warnings);
        if let Some(w) = warnings
            .iter()
            .find(|w| w.severity == PdfParseErrorSeverity::Error)
        {
            return Err(format!("pdf: {}", w.msg));
        }
        self.finish(&mut pdf)
    }

    /// What printpdf's own save does (compress the streams, save), with the shared program put
    /// in as compressed once per process, the rest at `DOCUMENT_LEVEL`, widths compacted and an
    /// Info dictionary without empty entries.
    fn finish(&self, pdf: &mut lopdf::Document) -> Result<Vec<u8>, String> {
        let raw = &self.shared.font.original_bytes;
        // printpdf maps only the glyphs this page shows; the map of the whole shared subset,
        // made once, says the same for them.
        let to_unicode = pdf.objects.values().find_map(|o| {
            let d = o.as_dict().ok()?;
            let name = d.get(b"BaseFont").and_then(|n| n.as_name()).ok()?;
            (Some(name) == self.shared.font.font_name.as_deref().map(str::as_bytes))
                .then(|| d.get(b"ToUnicode").and_then(|r| r.as_reference()).ok())
                .flatten()
        });
        for (id, object) in pdf.objects.iter_mut() {
            compact_widths(object);
            let lopdf::Object::Stream(s) = object else {
                continue;
            };
            if s.dict.has(b"Filter") || !s.allows_compression {
                continue;
            }
            let deflated = match &self.shared.deflated {
                Some(shared) if s.dict.has(b"Length1") && s.content == *raw => shared.clone(),
                _ if Some(*id) == to_unicode => self.shared_to_unicode.clone(),
                _ => miniz_oxide::deflate::compress_to_vec_zlib(&s.content, DOCUMENT_LEVEL),
            };
            s.set_content(deflated);
            s.dict.set("Filter", "FlateDecode");
        }
        if let Ok(info) = pdf
            .trailer
            .get(b"Info")
            .and_then(lopdf::Object::as_reference)
        {
            if let Ok(lopdf::Object::Dictionary(d)) = pdf.get_object_mut(info) {
                // printpdf writes every field, empty or not, and 1970 for dates it was not given.
                let keep: Vec<(Vec<u8>, lopdf::Object)> = d
                    .iter()
                    .filter(|(k, v)| {
                        matches!(k.as_slice(), b"Title" | b"Producer")
                            && v.as_str().is_ok_and(|s| !s.is_empty())
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                *d = keep.into_iter().collect();
            }
        }
        let mut out = Vec::with_capacity(24 * 1024);
        pdf.save_to(&mut out).map_err(|e| format!("pdf: {e}"))?;
        Ok(out)
    }
}

/// printpdf lists the width of every glyph a CID font shows (`/W [first [w w ...] ...]`) under a
/// default of 1000; the same widths as the most common one for a default and ranges of one
/// width for the rest (`first last w`, PDF 32000-1, 9.7.4.3) say the same in a tenth of the
/// bytes. Fonts are inside the descendant arrays of Type0 fonts.
fn compact_widths(object: &mut lopdf::Object) {
    use lopdf::Object::{Array, Integer, Real};
    let Ok(font) = object.as_dict_mut() else {
        return;
    };
    let Ok(Array(descendants)) = font.get_mut(b"DescendantFonts") else {
        return;
    };
    for cid_font in descendants.iter_mut() {
        let Ok(cid_font) = cid_font.as_dict_mut() else {
            continue;
        };
        let Ok(Array(w)) = cid_font.get(b"W") else {
            continue;
        };
        let mut widths: Vec<(i64, i64)> = Vec::new();
        for pair in w.chunks(2) {
            let [Integer(first), Array(ws)] = pair else {
                return; // not the form printpdf writes: leave it as it is
            };
            for (i, width) in (0..).zip(ws) {
                match width {
                    Integer(v) => widths.push((first + i, *v)),
                    Real(v) => widths.push((first + i, v.round() as i64)),
                    _ => return,
                }
            }
        }
        let mut counts: Vec<(i64, usize)> = Vec::new();
        for (_, v) in &widths {
            match counts.iter_mut().find(|(x, _)| x == v) {
                Some((_, n)) => *n += 1,
                None => counts.push((*v, 1)),
            }
        }
        let Some(&(default, _)) = counts.iter().max_by_key(|(_, n)| *n) else {
            continue;
        };
        let mut ranges: Vec<(i64, i64, i64)> = Vec::new();
        for (cid, v) in widths.into_iter().filter(|(_, v)| *v != default) {
            match ranges.last_mut() {
                Some((_, last, lw)) if *last + 1 == cid && *lw == v => *last = cid,
                _ => ranges.push((cid, cid, v)),
            }
        }
        let w: Vec<lopdf::Object> = ranges
            .into_iter()
            .flat_map(|(first, last, v)| [Integer(first), Integer(last), Integer(v)])
            .collect();
        cid_font.set("W", Array(w));
        cid_font.set("DW", Integer(default));
    }
}

/// The fonts of one document: the shared subset and this document's extras.
struct Fonts<'a> {
    face: &'a Typeface,
    shared: (&'a ParsedFont, PdfFontHandle),
    extras: Option<(&'a ParsedFont, PdfFontHandle)>,
}

impl Fonts<'_> {
    /// The page's drawing operations.
    fn ops(&self, page: &Page) -> Vec<Op> {
        let mut ops = Vec::with_capacity(page.marks.len() * 6 + 128);
        let black = || Op::SetFillColor {
            col: Color::Greyscale(Greyscale::new(0.0, None)),
        };
        let fill = |x: Pt, y: Pt, width: Pt, height: Pt| Op::DrawRectangle {
            rectangle: Rect {
                x,
                y,
                width,
                height,
                mode: Some(PaintMode::Fill),
                winding_order: None,
            },
        };
        for mark in &page.marks {
            match mark {
                Mark::Text { x, y, size, text } => {
                    ops.push(Op::StartTextSection);
                    ops.push(Op::SetTextCursor {
                        pos: Point {
                            x: pt(*x),
                            y: pt(*y),
                        },
                    });
                    self.runs(text, Pt(*size), &mut ops);
                    ops.push(Op::EndTextSection);
                }
                Mark::Box { x, y, w, h, grey } => {
                    ops.push(Op::SetFillColor {
                        col: Color::Greyscale(Greyscale::new(*grey, None)),
                    });
                    ops.push(fill(pt(*x), pt(*y), pt(*w), pt(*h)));
                    ops.push(black());
                }
                Mark::Bars {
                    x,
                    y,
                    module,
                    height,
                    bars,
                } => {
                    ops.push(black());
                    for &(start, width) in bars {
                        ops.push(fill(
                            pt(x + f32::from(start) * module),
                            pt(*y),
                            pt(f32::from(width) * module),
                            pt(*height),
                        ));
                    }
                }
            }
        }
        ops
    }

    /// A line's characters in runs of the same subset, each shown with its font.
    fn runs(&self, text: &str, size: Pt, ops: &mut Vec<Op>) {
        let mut run = String::new();
        let mut current: Option<bool> = None;
        let flush = |run: &mut String, in_shared: bool, ops: &mut Vec<Op>| {
            if run.is_empty() {
                return;
            }
            let font = match (&self.extras, in_shared) {
                (Some((_, extras)), false) => extras.clone(),
                _ => self.shared.1.clone(),
            };
            ops.push(Op::SetFont { font, size });
            ops.push(Op::ShowText {
                items: vec![TextItem::Text(std::mem::take(run))],
            });
        };
        for ch in text.chars().map(|c| self.face.shown(c)) {
            let in_shared = self.shared.0.lookup_glyph_index(u32::from(ch)).is_some()
                || self
                    .extras
                    .as_ref()
                    .is_none_or(|(f, _)| f.lookup_glyph_index(u32::from(ch)).is_none());
            if let Some(c) = current.filter(|c| *c != in_shared) {
                flush(&mut run, c, ops);
            }
            current = Some(in_shared);
            run.push(ch);
        }
        flush(&mut run, current.unwrap_or(true), ops);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fonts_of(pdf: &lopdf::Document) -> Vec<(String, Vec<u8>, Vec<u8>)> {
        // (BaseFont, the embedded program inflated, its stream as stored) of every Type0 font.
        let mut out = Vec::new();
        for object in pdf.objects.values() {
            let Ok(d) = object.as_dict() else { continue };
            if !d
                .get(b"Subtype")
                .and_then(|s| s.as_name())
                .is_ok_and(|n| n == b"Type0")
            {
                continue;
            }
            let name = d
                .get(b"BaseFont")
                .and_then(|n| n.as_name())
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_default();
            let program = d
                .get(b"DescendantFonts")
                .and_then(|a| a.as_array())
                .ok()
                .and_then(|a| a.first())
                .and_then(|cid| cid.as_dict().ok())
                .and_then(|cid| cid.get(b"FontDescriptor").ok())
                .and_then(|r| r.as_reference().ok())
                .and_then(|r| pdf.get_dictionary(r).ok())
                .and_then(|fd| fd.get(b"FontFile2").ok())
                .and_then(|r| r.as_reference().ok())
                .and_then(|r| pdf.get_object(r).ok())
                .and_then(|s| s.as_stream().ok());
            let stored = program.map(|s| s.content.clone()).unwrap_or_default();
            let program = program
                .and_then(|s| s.decompressed_content().ok())
                .unwrap_or_default();
            out.push((name, program, stored));
        }
        out.sort();
        out
    }

    #[test]
    fn a_page_is_written_with_the_shared_subset_once_compressed_and_its_own_extras() {
        let writer = Writer::new("スマートピット0123456789".chars())
            .unwrap_or_else(|e| panic!("{e} (make tools)"));
        let mut page = Page::new("テスト");
        page.text(20.0, 250.0, 12.0, "スマートピット髙橋0123");
        page.marks.push(Mark::Box {
            x: 18.0,
            y: 200.0,
            w: 100.0,
            h: 20.0,
            grey: 0.9,
        });
        page.marks.push(Mark::Bars {
            x: 20.0,
            y: 60.0,
            module: 0.19,
            height: 12.0,
            bars: vec![(10, 2), (13, 1)],
        });
        let bytes = writer.write(&page).unwrap_or_else(|e| panic!("{e}"));
        let pdf = lopdf::Document::load_mem(&bytes).unwrap_or_else(|e| panic!("{e}"));

        // Two fonts: the shared subset, whose program is the one compressed once, and this
        // page's extras (髙橋), each named with its subset tag.
        let fonts = fonts_of(&pdf);
        assert_eq!(
            fonts.len(),
            2,
            "{:?}",
            fonts.iter().map(|f| &f.0).collect::<Vec<_>>()
        );
        let shared = &writer.shared.font;
        let ours = fonts
            .iter()
            .find(|(n, _, _)| Some(n) == shared.font_name.as_ref())
            .unwrap_or_else(|| panic!("the shared subset is not embedded"));
        assert_eq!(ours.1, shared.original_bytes);
        assert_eq!(
            Some(&ours.2),
            writer.shared.deflated.as_ref(),
            "not compressed again"
        );
        let maps: Vec<&Vec<u8>> = pdf
            .objects
            .values()
            .filter_map(|o| o.as_stream().ok())
            .map(|s| &s.content)
            .filter(|c| **c == writer.shared_to_unicode)
            .collect();
        assert_eq!(maps.len(), 1, "the shared ToUnicode map, as made once");
        for (name, program, _) in &fonts {
            assert_eq!(name.as_bytes().get(6), Some(&b'+'), "{name}");
            assert!(ttf_parser::Face::parse(program, 0).is_ok(), "{name}");
        }
        // Widths as a default and ranges: the shared font's digits are one half-width run.
        let cid_fonts: Vec<&lopdf::Dictionary> = pdf
            .objects
            .values()
            .filter_map(|o| o.as_dict().ok())
            .filter_map(|d| d.get(b"DescendantFonts").and_then(|a| a.as_array()).ok())
            .filter_map(|a| a.first().and_then(|d| d.as_dict().ok()))
            .collect();
        assert_eq!(cid_fonts.len(), 2);
        for d in cid_fonts {
            let dw = d.get(b"DW").and_then(|v| v.as_i64()).unwrap_or_default();
            let w = d
                .get(b"W")
                .and_then(|v| v.as_array())
                .map(Vec::len)
                .unwrap_or(1);
            assert_eq!(dw, 1000, "full-width glyphs are most of them");
            assert_eq!(w % 3, 0, "first last width triples");
        }
        // Text extracts through the ToUnicode maps; one page, A4.
        let text = pdf.extract_text(&[1]).unwrap_or_else(|e| panic!("{e}"));
        assert!(text.contains("スマートピット髙橋0123"), "{text}");
        let pages = pdf.get_pages();
        assert_eq!(pages.len(), 1);
        let content = pdf.get_page_content(pages[&1]);
        let content = String::from_utf8_lossy(&content);
        // The grey box and two bars as filled rectangles.
        assert_eq!(
            content.matches(" re\n").count() + content.matches(" re ").count(),
            3
        );
        // Info holds the title and producer only (no empty fields, no 1970 dates).
        let info = pdf
            .trailer
            .get(b"Info")
            .and_then(|r| r.as_reference())
            .and_then(|r| pdf.get_dictionary(r))
            .unwrap_or_else(|e| panic!("{e}"));
        let keys: Vec<&[u8]> = info.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(keys.len(), 2, "{keys:?}");
    }

    #[test]
    fn a_document_of_several_pages_shares_its_fonts() {
        let writer = Writer::new("ABC".chars()).unwrap_or_else(|e| panic!("{e} (make tools)"));
        let mut first = Page::new("t");
        first.text(20.0, 250.0, 12.0, "ABC 支払");
        let mut second = Page::new("t");
        second.text(20.0, 250.0, 12.0, "CBA 通知");
        let bytes = writer
            .write_pages("明細", &[first, second])
            .unwrap_or_else(|e| panic!("{e}"));
        let pdf = lopdf::Document::load_mem(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pdf.get_pages().len(), 2);
        assert_eq!(
            fonts_of(&pdf).len(),
            2,
            "one shared subset, one of both pages' extras"
        );
        let second = pdf.extract_text(&[2]).unwrap_or_else(|e| panic!("{e}"));
        assert!(second.contains("CBA 通知"), "{second}");
    }

    #[test]
    fn a_page_all_in_the_shared_subset_embeds_one_font() {
        let writer = Writer::new("ABC".chars()).unwrap_or_else(|e| panic!("{e} (make tools)"));
        let mut page = Page::new("t");
        page.text(20.0, 250.0, 12.0, "CAB");
        let bytes = writer.write(&page).unwrap_or_else(|e| panic!("{e}"));
        let pdf = lopdf::Document::load_mem(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fonts_of(&pdf).len(), 1);
    }
}
