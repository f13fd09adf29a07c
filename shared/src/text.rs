//! Free text that reaches a customer or a store (descriptions, merchant names): nothing in it
//! may hide, reorder or break what the reader sees.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// The first character that may not stand in shown text, described for an error message:
/// controls (Cc), format characters (Cf: bidirectional embeddings, overrides and isolates,
/// zero-width spaces and joiners, the BOM, the soft hyphen) and the line and paragraph
/// separators (Zl, Zp).
pub fn hidden_char(s: &str) -> Option<String> {
    s.chars().find_map(|c| {
        let what = match c.general_category() {
            GeneralCategory::Control => "control characters",
            GeneralCategory::Format => "invisible formatting characters",
            GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => {
                "line or paragraph separators"
            }
            _ => return None,
        };
        Some(format!("{what} (U+{:04X})", u32::from(c)))
    })
}

#[cfg(test)]
mod tests {
    use super::hidden_char;

    #[test]
    fn japanese_text_and_emoji_pass() {
        for ok in [
            "ノート 3冊",
            "Tシャツ（白）Ｌサイズ",
            "café 1€ — «ok»",
            "👍 ✨",
        ] {
            assert_eq!(hidden_char(ok), None, "{ok}");
        }
    }

    #[test]
    fn what_hides_or_reorders_text_is_found() {
        for c in [
            '\u{0}', '\u{7}', '\n', '\u{7f}', '\u{85}', '\u{202a}', '\u{202b}', '\u{202c}',
            '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{2028}',
            '\u{2029}', '\u{200b}', '\u{200c}', '\u{200d}', '\u{200e}', '\u{200f}', '\u{2060}',
            '\u{feff}', '\u{ad}',
        ] {
            let s = format!("abc{c}def");
            assert!(hidden_char(&s).is_some(), "U+{:04X} passed", u32::from(c));
        }
    }
}
