//! The sheet's typeface, read once per process, and the subsets of it a sheet embeds: the
//! glyphs every sheet shares are subset and compressed once per process (`Subset` is
//! immutable and reused), a sheet adds a small second subset only for merchant text beyond them.
//!
//! Subsetting is the `subsetter` crate's, the font tables are read with `ttf-parser` and the
//! ToUnicode map is `pdf-writer`'s: nothing here parses a font by hand.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use pdf_writer::types::{SystemInfo, UnicodeCmap};
use pdf_writer::{Name, Str};
use subsetter::GlyphRemapper;
use ttf_parser::{name_id, Face, GlyphId};

/// Where Debian's `fonts-vlgothic` puts VL Gothic; `SHEET_FONT_PATH` overrides.
pub const DEFAULT_FONT_PATH: &str = "/usr/share/fonts/truetype/vlgothic/VL-Gothic-Regular.ttf";

/// What a sheet prints for a character its font has no glyph for: 〓 (geta), as Japanese print
/// marks a missing character, rather than an empty box.
pub const MISSING: char = '\u{3013}';

/// The identity ordering every CID font of ours uses (CID = glyph id of the subset).
pub const SYSTEM_INFO: SystemInfo = SystemInfo {
    registry: Str(b"Adobe"),
    ordering: Str(b"Identity"),
    supplement: 0,
};

/// The typeface: its bytes live for the process (one font, read once, never freed).
pub struct SheetFont {
    data: &'static [u8],
    face: Face<'static>,
    /// The PostScript name, ASCII letters, digits and hyphens only.
    pub ps_name: String,
    units_per_em: f32,
    /// In thousandths of an em, as PDF font dictionaries take them.
    pub bbox: [f32; 4],
    pub ascent: f32,
    pub descent: f32,
    pub cap_height: f32,
}

impl SheetFont {
    /// Reads and checks the font at `path` (TrueType or OpenType, face 0).
    pub fn load(path: &str) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("sheet font {path}: {e}"))?;
        let data: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        let face = Face::parse(data, 0).map_err(|e| format!("sheet font {path}: {e}"))?;
        let units_per_em = f32::from(face.units_per_em());
        let scale = |v: i16| f32::from(v) * 1000.0 / units_per_em;
        let b = face.global_bounding_box();
        let ps_name = face
            .names()
            .into_iter()
            .filter(|n| n.name_id == name_id::POST_SCRIPT_NAME)
            .find_map(|n| n.to_string())
            .unwrap_or_else(|| "SheetFont".into())
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        Ok(Self {
            data,
            ps_name,
            units_per_em,
            bbox: [
                scale(b.x_min),
                scale(b.y_min),
                scale(b.x_max),
                scale(b.y_max),
            ],
            ascent: scale(face.ascender()),
            descent: scale(face.descender()),
            cap_height: scale(face.capital_height().unwrap_or(face.ascender())),
            face,
        })
    }

    /// The character as the sheet prints it: itself, or `MISSING` when the font lacks it.
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

    /// A subset holding `chars` (each as `shown` gives it), compressed at `level` (0 to 10).
    pub fn subset(&self, chars: &[char], level: u8) -> Result<Subset, String> {
        let advance = |g: u16| {
            let a = f32::from(self.face.glyph_hor_advance(GlyphId(g)).unwrap_or(0));
            (a * 1000.0 / self.units_per_em).round()
        };
        // Glyphs of one width get consecutive CIDs, so the widths are a few ranges.
        let mut glyphs: Vec<(u16, char)> = chars.iter().map(|&c| (self.glyph(c), c)).collect();
        glyphs.sort_by(|a, b| advance(a.0).total_cmp(&advance(b.0)).then(a.cmp(b)));
        let mut remapper = GlyphRemapper::new();
        let mut cids = HashMap::with_capacity(chars.len());
        for (g, c) in glyphs {
            cids.insert(c, remapper.remap(g));
        }
        let program =
            subsetter::subset(self.data, 0, &remapper).map_err(|e| format!("subset: {e}"))?;
        let program = pdf_tables(&program)?;
        let widths = remapper.remapped_gids().map(advance).collect();
        let mut to_unicode = UnicodeCmap::new(Name(b"Custom"), SYSTEM_INFO);
        let mut mapped: Vec<(&char, &u16)> = cids.iter().collect();
        mapped.sort_by_key(|(_, cid)| **cid);
        mapped.dedup_by_key(|(_, cid)| **cid);
        for (c, cid) in mapped {
            to_unicode.pair(*cid, *c);
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        remapper.hash(&mut hasher);
        Ok(Subset {
            tag: subset_tag(hasher.finish()),
            program_len: program.len(),
            program: miniz_oxide::deflate::compress_to_vec_zlib(&program, level),
            to_unicode: miniz_oxide::deflate::compress_to_vec_zlib(&to_unicode.finish(), level),
            widths,
            cids,
        })
    }
}

/// A font program holding some glyphs, ready to embed as a CID font.
pub struct Subset {
    /// Six capital letters naming this subset (PDF 32000-1, 9.6.4).
    pub tag: String,
    /// The TrueType program, zlib-compressed, and its length before compression.
    pub program: Vec<u8>,
    pub program_len: usize,
    /// The ToUnicode CMap, zlib-compressed: what copying or searching the text gives.
    pub to_unicode: Vec<u8>,
    /// Advance widths by CID, in thousandths of an em.
    pub widths: Vec<f32>,
    cids: HashMap<char, u16>,
}

impl Subset {
    /// The width most glyphs have (the CID font's default), and the ranges of CIDs whose
    /// width differs: (first, last, width).
    pub fn width_ranges(&self) -> (f32, Vec<(u16, u16, f32)>) {
        let mut counts: Vec<(f32, usize)> = Vec::new();
        for w in &self.widths {
            match counts.iter_mut().find(|(x, _)| x == w) {
                Some((_, n)) => *n += 1,
                None => counts.push((*w, 1)),
            }
        }
        let default = counts
            .iter()
            .max_by_key(|(_, n)| *n)
            .map_or(1000.0, |(w, _)| *w);
        let mut ranges: Vec<(u16, u16, f32)> = Vec::new();
        for (cid, w) in (0u16..).zip(self.widths.iter().copied()) {
            if w == default {
                continue;
            }
            match ranges.last_mut() {
                Some((_, last, lw)) if *last + 1 == cid && *lw == w => *last = cid,
                _ => ranges.push((cid, cid, w)),
            }
        }
        (default, ranges)
    }

    /// The CID that shows `c`, if this subset holds it.
    pub fn cid(&self, c: char) -> Option<u16> {
        self.cids.get(&c).copied()
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

    /// The sheet font as `make tools` installs it (the tests that render sheets need it too).
    fn font() -> SheetFont {
        SheetFont::load(DEFAULT_FONT_PATH).unwrap_or_else(|e| panic!("{e} (make tools)"))
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
    fn widths_are_a_default_and_ranges_of_the_others() {
        let f = font();
        let s = f
            .subset(&['A', 'あ', 'B', 'い', 'う', '1'], 6)
            .unwrap_or_else(|e| panic!("{e}"));
        let (default, ranges) = s.width_ranges();
        assert_eq!(default, 1000.0, "most glyphs are full-width");
        // Half-width glyphs got consecutive CIDs, so they are one range.
        assert_eq!(
            ranges.len(),
            2,
            "{ranges:?}: .notdef, then the half-width run"
        );
        let (first, last, w) = ranges[1];
        assert_eq!((last - first + 1, w), (3, 500.0));
        for c in ['A', 'B', '1'] {
            let cid = s.cid(c).unwrap_or_default();
            assert!((first..=last).contains(&cid), "{c}");
        }
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
