//! The documents' typeface, read once per process, and the subsets of it a document embeds.
//!
//! printpdf embeds a font program as it is given (`subset_fonts: false`) and writes its
//! dictionaries, widths and ToUnicode map from a `printpdf::ParsedFont`. What it does not do is
//! keep a subset across documents: every save would re-subset the whole typeface. So the
//! subsetting stays here (the `subsetter` crate, tables read with `ttf-parser`): the glyphs
//! every document of a kind shows are subset once per process and handed to printpdf as an
//! already-subset `ParsedFont`; a document adds a small second subset only for its own text
//! beyond them.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

use printpdf::{FontMetrics, FontType, ParsedFont, PdfFontMetricsStub};
use subsetter::GlyphRemapper;
use ttf_parser::{name_id, Face, GlyphId};

/// Where Debian's `fonts-vlgothic` puts VL Gothic; `SHEET_FONT_PATH` overrides (the template
/// points it at the font layer).
pub const DEFAULT_FONT_PATH: &str = "/usr/share/fonts/truetype/vlgothic/VL-Gothic-Regular.ttf";

/// What a document prints for a character its font has no glyph for: 〓 (geta), as Japanese
/// print marks a missing character, rather than an empty box.
pub const MISSING: char = '\u{3013}';

/// The typeface: its bytes live for the process (one font, read once, never freed).
pub struct Typeface {
    data: &'static [u8],
    face: Face<'static>,
    /// The PostScript name, ASCII letters, digits and hyphens only.
    pub ps_name: String,
    units_per_em: u16,
    bbox: ttf_parser::Rect,
    ascent: i16,
    descent: i16,
    caret_rise: i16,
    caret_run: i16,
    weight: u16,
}

static TYPEFACE: OnceLock<Result<Typeface, String>> = OnceLock::new();

/// The process's typeface (`SHEET_FONT_PATH`, else `DEFAULT_FONT_PATH`), read on first use.
pub fn typeface() -> Result<&'static Typeface, String> {
    TYPEFACE
        .get_or_init(|| {
            let path =
                std::env::var("SHEET_FONT_PATH").unwrap_or_else(|_| DEFAULT_FONT_PATH.into());
            Typeface::load(&path)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Reads the process's typeface from `path` before anything asks for it (an operator's command
/// running a function's code in its own process, where the function's `SHEET_FONT_PATH` is not
/// the process's). Has no effect once the typeface is read.
pub fn use_font_at(path: &str) {
    let _ = TYPEFACE.get_or_init(|| Typeface::load(path));
}

impl Typeface {
    /// Reads and checks the font at `path` (TrueType, face 0).
    pub fn load(path: &str) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("font {path}: {e}"))?;
        let data: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        let face = Face::parse(data, 0).map_err(|e| format!("font {path}: {e}"))?;
        let ps_name = face
            .names()
            .into_iter()
            .filter(|n| n.name_id == name_id::POST_SCRIPT_NAME)
            .find_map(|n| n.to_string())
            .unwrap_or_else(|| "Typeface".into())
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        // The caret's slope as printpdf derives the ItalicAngle from it (upright: 1000 / 0).
        let slant = face.italic_angle().to_radians().tan();
        Ok(Self {
            data,
            ps_name,
            units_per_em: face.units_per_em(),
            bbox: face.global_bounding_box(),
            ascent: face.ascender(),
            descent: face.descender(),
            caret_rise: 1000,
            caret_run: (-slant * 1000.0).round() as i16,
            weight: face.weight().to_number(),
            face,
        })
    }

    /// The character as a document prints it: itself, or `MISSING` when the font lacks it.
    pub fn shown(&self, c: char) -> char {
        if self.face.glyph_index(c).is_some() {
            c
        } else {
            MISSING
        }
    }

    fn glyph(&self, c: char) -> u16 {
        self.face.glyph_index(c).map_or(0, |g| g.0)
    }

    fn advance(&self, g: u16) -> u16 {
        self.face.glyph_hor_advance(GlyphId(g)).unwrap_or(0)
    }

    /// A subset holding `chars` (each as `shown` gives it). `deflate_level` (0 to 10): also keep
    /// the program zlib-compressed at that level, for a subset that serves many documents.
    pub fn subset(&self, chars: &[char], deflate_level: Option<u8>) -> Result<Subset, String> {
        // Glyphs of one width get consecutive CIDs (the same order as the old writer's ranges).
        let mut glyphs: Vec<(u16, char)> = chars.iter().map(|&c| (self.glyph(c), c)).collect();
        glyphs.sort_by(|a, b| self.advance(a.0).cmp(&self.advance(b.0)).then(a.cmp(b)));
        let mut remapper = GlyphRemapper::new();
        let mut codepoint_to_glyph = BTreeMap::new();
        for (g, c) in glyphs {
            codepoint_to_glyph.insert(u32::from(c), remapper.remap(g));
        }
        let program =
            subsetter::subset(self.data, 0, &remapper).map_err(|e| format!("subset: {e}"))?;
        let program = pdf_tables(&program)?;
        let glyph_widths = (0u16..)
            .zip(remapper.remapped_gids())
            .map(|(cid, g)| (cid, self.advance(g)))
            .collect();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        remapper.hash(&mut hasher);
        let tag = subset_tag(hasher.finish());
        let deflated =
            deflate_level.map(|l| miniz_oxide::deflate::compress_to_vec_zlib(&program, l));
        let b = self.bbox;
        let font = ParsedFont {
            original_bytes: program,
            font_index: 0,
            // The subset tag tells readers (and pdffonts) this program holds only some glyphs.
            font_name: Some(format!("{tag}+{}", self.ps_name)),
            codepoint_to_glyph,
            glyph_widths,
            units_per_em: self.units_per_em,
            font_metrics: FontMetrics {
                ascent: self.ascent,
                descent: self.descent,
            },
            font_type: FontType::TrueType,
            pdf_font_metrics: PdfFontMetricsStub {
                units_per_em: self.units_per_em,
                x_min: b.x_min,
                y_min: b.y_min,
                x_max: b.x_max,
                y_max: b.y_max,
                caret_slope_rise: self.caret_rise,
                caret_slope_run: self.caret_run,
                us_weight_class: self.weight,
            },
        };
        Ok(Subset { font, deflated })
    }
}

/// Some glyphs of the typeface, as printpdf embeds them.
pub struct Subset {
    /// The program (`original_bytes`), CIDs by code point, widths by CID, metrics.
    pub font: ParsedFont,
    /// The program zlib-compressed, when it was asked for.
    pub deflated: Option<Vec<u8>>,
}

impl Subset {
    /// The CID that shows `c`, if this subset holds it.
    pub fn cid(&self, c: char) -> Option<u16> {
        self.font.lookup_glyph_index(u32::from(c))
    }

    /// The six capital letters naming this subset (PDF 32000-1, 9.6.4).
    pub fn tag(&self) -> &str {
        self.font
            .font_name
            .as_deref()
            .and_then(|n| n.get(..6))
            .unwrap_or("")
    }
}

/// The tables a TrueType program embedded in a PDF needs (PDF 32000-1, 9.9): the subset
/// without its `name` and `post` tables, which no viewer reads from an embedded CID font.
fn pdf_tables(font: &[u8]) -> Result<Vec<u8>, String> {
    const KEEP: [&[u8; 4]; 9] = [
        b"cvt ", b"fpgm", b"glyf", b"head", b"hhea", b"hmtx", b"loca", b"maxp", b"prep",
    ];
    let raw = ttf_parser::RawFace::parse(font, 0).map_err(|e| format!("subset: {e}"))?;
    let mut tables = Vec::with_capacity(KEEP.len());
    for record in raw.table_records {
        if KEEP.contains(&&record.tag.to_bytes()) {
            let data = raw
                .table(record.tag)
                .ok_or_else(|| "subset: a table lies outside the font".to_string())?;
            tables.push((record.tag.to_bytes(), record.check_sum, data));
        }
    }
    // The offset table (PDF viewers, like other font readers, expect its search fields).
    let n = tables.len() as u16;
    let power = if n == 0 {
        0
    } else {
        1u16 << (15 - n.leading_zeros())
    };
    let mut out = Vec::with_capacity(font.len());
    out.extend_from_slice(&0x0001_0000u32.to_be_bytes());
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(&(power * 16).to_be_bytes());
    out.extend_from_slice(&(power.max(1).trailing_zeros() as u16).to_be_bytes());
    out.extend_from_slice(&((n - power.min(n)) * 16).to_be_bytes());
    let mut offset = 12 + 16 * tables.len();
    for (tag, check_sum, data) in &tables {
        out.extend_from_slice(tag);
        out.extend_from_slice(&check_sum.to_be_bytes());
        out.extend_from_slice(&(offset as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        offset += data.len().next_multiple_of(4);
    }
    for (_, _, data) in &tables {
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    Ok(out)
}

fn subset_tag(mut h: u64) -> String {
    (0..6)
        .map(|_| {
            let c = char::from(b'A' + (h % 26) as u8);
            h /= 26;
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typeface as `make tools` installs it (the tests that render documents need it too).
    fn font() -> Typeface {
        Typeface::load(DEFAULT_FONT_PATH).unwrap_or_else(|e| panic!("{e} (make tools)"))
    }

    #[test]
    fn an_embedded_program_is_a_font_with_only_the_tables_a_pdf_reads() {
        let f = font();
        let mut remapper = GlyphRemapper::new();
        for c in "スマートピット¥1,234".chars() {
            remapper.remap(f.glyph(c));
        }
        let program = subsetter::subset(f.data, 0, &remapper).unwrap_or_else(|e| panic!("{e}"));
        let kept = pdf_tables(&program).unwrap_or_else(|e| panic!("{e}"));
        let face = Face::parse(&kept, 0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(face.number_of_glyphs(), remapper.num_gids());
        // Each glyph keeps its outline and advance (glyph 1 is the first character's).
        let first = f.face.glyph_index('ス').unwrap_or_else(|| panic!("ス"));
        assert_eq!(
            face.glyph_hor_advance(GlyphId(1)),
            f.face.glyph_hor_advance(first)
        );
        assert!(face.glyph_bounding_box(GlyphId(1)).is_some());
        let raw = ttf_parser::RawFace::parse(&kept, 0).unwrap_or_else(|e| panic!("{e}"));
        let tags: Vec<[u8; 4]> = raw
            .table_records
            .into_iter()
            .map(|r| r.tag.to_bytes())
            .collect();
        assert!(!tags.contains(b"name") && !tags.contains(b"post") && !tags.contains(b"cmap"));
        assert!(tags.contains(b"glyf") && tags.contains(b"loca") && tags.contains(b"head"));
        assert_eq!(kept.len() % 4, 0);
    }

    #[test]
    fn a_subset_is_a_parsed_font_printpdf_embeds_as_it_is() {
        let f = font();
        let s = f
            .subset(&['A', 'あ', 'B', 'い', 'う', '1'], Some(6))
            .unwrap_or_else(|e| panic!("{e}"));
        // .notdef, then the half-width glyphs first (consecutive CIDs), then the full-width.
        for (c, want) in [('1', 1), ('A', 2), ('B', 3)] {
            assert_eq!(s.cid(c), Some(want), "{c}");
        }
        let wide: Vec<u16> = ['あ', 'い', 'う']
            .iter()
            .filter_map(|c| s.cid(*c))
            .collect();
        assert_eq!(wide.len(), 3);
        assert!(wide.iter().all(|cid| *cid > 3));
        let em = s.font.units_per_em;
        assert_eq!(s.font.get_glyph_width(2), Some(em / 2), "A is half-width");
        assert_eq!(
            s.font.get_glyph_width(wide[0]),
            Some(em),
            "あ is full-width"
        );
        // The program parses, holds exactly these glyphs, and its compressed copy inflates to it.
        let face = Face::parse(&s.font.original_bytes, 0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(face.number_of_glyphs(), 7);
        let inflated =
            miniz_oxide::inflate::decompress_to_vec_zlib(s.deflated.as_deref().unwrap_or_default())
                .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(inflated, s.font.original_bytes);
        let name = s.font.font_name.clone().unwrap_or_default();
        assert_eq!(name, format!("{}+{}", s.tag(), f.ps_name));
        assert_eq!(f.shown('🍰'), MISSING);
        assert_eq!(f.shown('髙'), '髙');
    }

    #[test]
    fn a_subset_tag_is_six_capitals() {
        for h in [0, 1, u64::MAX, 0x1234_5678_9abc] {
            let t = subset_tag(h);
            assert_eq!(t.len(), 6);
            assert!(t.chars().all(|c| c.is_ascii_uppercase()), "{t}");
        }
        assert_ne!(subset_tag(1), subset_tag(2));
    }
}
