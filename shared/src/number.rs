//! The 13-digit Smart Pit number: GS1 mod-10 check digit, kinds, parsing and display.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Number of digits in a Smart Pit number, check digit included.
pub const NUMBER_LEN: usize = 13;

/// A valid Smart Pit number (13 digits, the last one a GS1 mod-10 check digit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SmartPitNumber(u64);

/// Why a string is not a Smart Pit number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("a Smart Pit number has 13 digits, this one has {0}")]
    WrongLength(usize),
    #[error("a Smart Pit number has only digits 0-9")]
    NonDigit,
    #[error("the check digit does not match: the number was probably mistyped")]
    BadCheckDigit,
    #[error("spaces or hyphens may stand only between the printed groups, as in 2010 0000 00014")]
    Separators,
}

/// How a number reached its holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberKind {
    /// Generic card from a store's leaflet: printed, reusable, no expiry.
    Card,
    /// Card issued by one merchant under its own design.
    JointCard,
    /// Issued for one purchase, mailed as a PDF link; expires.
    Sheet,
}

impl NumberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NumberKind::Card => "card",
            NumberKind::JointCard => "joint_card",
            NumberKind::Sheet => "sheet",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "card" => Some(NumberKind::Card),
            "joint_card" => Some(NumberKind::JointCard),
            "sheet" => Some(NumberKind::Sheet),
            _ => None,
        }
    }

    /// The two leading digits of numbers of this kind: GS1 restricted-circulation prefixes
    /// (20-29), which never name a product.
    fn prefix(self) -> u64 {
        match self {
            NumberKind::Card => 20,
            NumberKind::JointCard => 21,
            NumberKind::Sheet => 22,
        }
    }
}

/// GS1 mod-10 check digit over `digits` (weights 3, 1, 3, ... from the rightmost digit).
pub fn gs1_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| u32::from(*d) * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// The 13 characters of a number written whole or in its printed groups 4-4-5, each gap one
/// space or one hyphen (the same in both gaps).
fn ungroup(input: &str) -> Result<String, NumberError> {
    let is_sep = |c: char| c == ' ' || c == '-';
    if !input.contains(is_sep) {
        return Ok(input.to_string());
    }
    let b = input.as_bytes();
    let grouped = b.len() == NUMBER_LEN + 2
        && is_sep(char::from(b[4]))
        && b[9] == b[4]
        && input
            .char_indices()
            .all(|(i, c)| i == 4 || i == 9 || !is_sep(c));
    if !grouped {
        return Err(NumberError::Separators);
    }
    Ok(input.chars().filter(|c| !is_sep(*c)).collect())
}

/// Digits of a string of ASCII digits, or `None` if any character is not a digit.
pub fn ascii_digits(s: &str) -> Option<Vec<u8>> {
    s.bytes()
        .map(|b| b.is_ascii_digit().then(|| b - b'0'))
        .collect()
}

/// A number as a Japanese form or IME types it, in ASCII: full-width digits (`２０１０`), the
/// full-width space and the dashes an IME puts between groups (`－`, `ー`, `‐`, `−`) become
/// their ASCII forms. Anything else is left for `parse` to refuse.
fn fold_width(input: &str) -> std::borrow::Cow<'_, str> {
    let folded = |c: char| match c {
        '０'..='９' => char::from_u32(u32::from(c) - 0xFF10 + u32::from('0')),
        '\u{3000}' => Some(' '),
        '－' | 'ー' | '‐' | '‑' | '‒' | '–' | '−' => Some('-'),
        _ => None,
    };
    if input.chars().any(|c| folded(c).is_some()) {
        input.chars().map(|c| folded(c).unwrap_or(c)).collect()
    } else {
        input.into()
    }
}

impl SmartPitNumber {
    /// Parses exactly 13 digits. One space or hyphen between the printed groups (4-4-5, as on
    /// a card or sheet: `2010 0000 00014`) is accepted and ignored; a separator anywhere
    /// else is refused. Full-width digits, spaces and dashes count as their ASCII forms.
    pub fn parse(input: &str) -> Result<Self, NumberError> {
        let compact = ungroup(&fold_width(input))?;
        let digits = ascii_digits(&compact).ok_or(NumberError::NonDigit)?;
        if digits.len() != NUMBER_LEN {
            return Err(NumberError::WrongLength(compact.chars().count()));
        }
        if gs1_check_digit(&digits[..NUMBER_LEN - 1]) != digits[NUMBER_LEN - 1] {
            return Err(NumberError::BadCheckDigit);
        }
        Ok(SmartPitNumber(
            digits.iter().fold(0u64, |n, d| n * 10 + u64::from(*d)),
        ))
    }

    /// A fresh random number of the given kind: prefix, 10 random digits, check digit.
    /// Uniqueness is enforced by the conditional write that stores it, not here.
    pub fn random<R: Rng + ?Sized>(kind: NumberKind, rng: &mut R) -> Self {
        Self::of_kind(kind, rng.random_range(0..10_000_000_000u64))
    }

    /// A number of the given kind whose 10 digits after the prefix come from `entropy`.
    pub fn of_kind(kind: NumberKind, entropy: u64) -> Self {
        Self::with_check_digit(kind.prefix() * 10_000_000_000 + entropy % 10_000_000_000)
    }

    /// The number whose first 12 digits are `body`, with its check digit appended.
    pub fn from_body(body: u64) -> Self {
        Self::with_check_digit(body % 1_000_000_000_000)
    }

    fn with_check_digit(body: u64) -> Self {
        let digits: Vec<u8> = format!("{body:012}").bytes().map(|b| b - b'0').collect();
        SmartPitNumber(body * 10 + u64::from(gs1_check_digit(&digits)))
    }

    /// The number as an integer (fits in 44 bits).
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// Rebuilds a number from its integer form, checking it.
    pub fn from_u64(n: u64) -> Result<Self, NumberError> {
        if n >= 10_000_000_000_000 {
            return Err(NumberError::WrongLength(n.to_string().len()));
        }
        Self::parse(&format!("{n:013}"))
    }

    /// Displayed as on a card: `2012 3456 78901`.
    pub fn grouped(self) -> String {
        let s = self.to_string();
        format!("{} {} {}", &s[0..4], &s[4..8], &s[8..13])
    }
}

impl fmt::Display for SmartPitNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:013}", self.0)
    }
}

impl FromStr for SmartPitNumber {
    type Err = NumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for SmartPitNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// From a JSON string, as [`SmartPitNumber::parse`] reads it (its refusal in its words).
impl<'de> serde::Deserialize<'de> for SmartPitNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Number;
        impl serde::de::Visitor<'_> for Number {
            type Value = SmartPitNumber;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string of 13 digits")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SmartPitNumber, E> {
                SmartPitNumber::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ean13_check_digits() {
        // 4901234567894 is the JAN example of GS1 Japan; 2000000000008 is restricted.
        assert!(SmartPitNumber::parse("4901234567894").is_ok());
        assert_eq!(
            SmartPitNumber::parse("4901234567895"),
            Err(NumberError::BadCheckDigit)
        );
        assert_eq!(gs1_check_digit(&[2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 8);
    }

    #[test]
    fn parse_tells_errors_apart() {
        assert_eq!(
            SmartPitNumber::parse("490123456789"),
            Err(NumberError::WrongLength(12))
        );
        assert_eq!(
            SmartPitNumber::parse("49012345678a4"),
            Err(NumberError::NonDigit)
        );
        assert_eq!(
            SmartPitNumber::parse("４９０１２３４５６７８９４"),
            SmartPitNumber::parse("4901234567894"),
            "full-width digits, as a Japanese form sends them"
        );
        assert_eq!(
            SmartPitNumber::parse("４９０１２３４５６７８９ａ"),
            Err(NumberError::NonDigit)
        );
        assert_eq!(
            SmartPitNumber::parse("４９０１２３４５６７８９5"),
            Err(NumberError::BadCheckDigit)
        );
        assert_eq!(SmartPitNumber::parse(""), Err(NumberError::WrongLength(0)));
    }

    #[test]
    fn separators_only_between_the_printed_groups() {
        let n = SmartPitNumber::parse("2010000000014").unwrap();
        assert_eq!(SmartPitNumber::parse("2010 0000 00014"), Ok(n));
        assert_eq!(SmartPitNumber::parse("2010-0000-00014"), Ok(n));
        for typed in [
            "２０１０－００００－０００１４",
            "２０１０ー００００ー０００１４",
            "２０１０\u{3000}００００\u{3000}０００１４",
            "2010−0000−00014",
        ] {
            assert_eq!(SmartPitNumber::parse(typed), Ok(n), "{typed:?}");
        }
        for bad in [
            "２０１０－００００\u{3000}０００１４",
            "2-0-1-0-0-0-0-0-0-0-0-1-4",
            "--2010000000014--",
            " 2010000000014",
            "2010000000014 ",
            "2010  0000 00014",
            "2010 0000-00014",
            "20100 000 00014",
            "2010 000000014",
        ] {
            assert_eq!(
                SmartPitNumber::parse(bad),
                Err(NumberError::Separators),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn grouped_display_round_trips() {
        let n = SmartPitNumber::parse("4901234567894").unwrap();
        assert_eq!(n.grouped(), "4901 2345 67894");
        assert_eq!(SmartPitNumber::parse(&n.grouped()), Ok(n));
        assert_eq!(SmartPitNumber::from_u64(n.as_u64()), Ok(n));
    }

    #[test]
    fn random_numbers_are_valid_and_carry_their_prefix() {
        let mut rng = rand::rng();
        for kind in [NumberKind::Card, NumberKind::JointCard, NumberKind::Sheet] {
            for _ in 0..1000 {
                let n = SmartPitNumber::random(kind, &mut rng);
                let s = n.to_string();
                assert_eq!(s.len(), 13);
                assert!(s.starts_with(&kind.prefix().to_string()));
                assert_eq!(SmartPitNumber::parse(&s), Ok(n));
            }
        }
    }

    #[test]
    fn single_digit_errors_are_always_caught() {
        let n = SmartPitNumber::parse("2012345678906").map(|n| n.to_string());
        let s = n.unwrap_or_else(|_| SmartPitNumber::with_check_digit(201234567890).to_string());
        for pos in 0..13 {
            for d in b'0'..=b'9' {
                let mut b = s.clone().into_bytes();
                if b[pos] == d {
                    continue;
                }
                b[pos] = d;
                let typo = String::from_utf8(b).unwrap();
                assert_eq!(
                    SmartPitNumber::parse(&typo),
                    Err(NumberError::BadCheckDigit)
                );
            }
        }
    }
}
