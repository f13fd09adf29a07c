//! The register barcode of a sheet: GS1 Japan's 44-digit convenience-store payment code
//! (「GS1-128による標準料金代理収納ガイドライン」), printed as GS1-128.
//!
//! | digits | field |
//! |---|---|
//! | 2 | AI `91` |
//! | 6 | billing company code |
//! | 21 | free field: here the sheet's Smart Pit number, zero-padded |
//! | 1 | reissue count, 0 on first issue |
//! | 6 | payment deadline YYMMDD (`999999`: none) |
//! | 1 | stamp flag: 1 from ¥50,000 |
//! | 6 | amount in yen |
//! | 1 | GS1 mod-10 check digit over the first 43 |

use chrono::{Datelike, NaiveDate};

use crate::money::STAMP_THRESHOLD_YEN;
use crate::number::{ascii_digits, gs1_check_digit, SmartPitNumber};

pub const PAYMENT_CODE_LEN: usize = 44;
/// The company code used when `BILLER_COMPANY_CODE` is not set (GS1 Japan assigns the real one).
pub const DEFAULT_COMPANY_CODE: &str = "912345";

/// The biller's company code: `BILLER_COMPANY_CODE`, six digits.
pub fn company_code() -> String {
    std::env::var("BILLER_COMPANY_CODE")
        .ok()
        .filter(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| DEFAULT_COMPANY_CODE.to_string())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentCode {
    pub company_code: String,
    pub number: SmartPitNumber,
    pub reissue: u8,
    pub deadline: Option<NaiveDate>,
    pub amount: i64,
}

impl PaymentCode {
    pub fn new(
        company_code: &str,
        number: SmartPitNumber,
        deadline: NaiveDate,
        amount: i64,
    ) -> Self {
        PaymentCode {
            company_code: company_code.to_string(),
            number,
            reissue: 0,
            deadline: Some(deadline),
            amount,
        }
    }

    /// The same code for a reissued sheet (再発行区分 `n`, 0 to 9).
    pub fn reissued(self, n: u8) -> Self {
        PaymentCode {
            reissue: n.min(9),
            ..self
        }
    }

    pub fn stamp(&self) -> bool {
        self.amount >= STAMP_THRESHOLD_YEN
    }

    /// The 44 digits, check digit last.
    pub fn digits(&self) -> String {
        let deadline = self.deadline.map_or_else(
            || "999999".to_string(),
            |d| format!("{:02}{:02}{:02}", d.year() % 100, d.month(), d.day()),
        );
        let body = format!(
            "91{}{:021}{}{}{}{:06}",
            self.company_code,
            self.number.as_u64(),
            self.reissue % 10,
            deadline,
            u8::from(self.stamp()),
            self.amount.clamp(0, 999_999)
        );
        let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
        format!("{body}{}", gs1_check_digit(&digits))
    }

    /// Reads a scanned code back, checking its form and check digit.
    pub fn parse(s: &str) -> Result<Self, String> {
        let d = ascii_digits(s).ok_or("a payment code has only digits")?;
        if d.len() != PAYMENT_CODE_LEN {
            return Err(format!(
                "a payment code has 44 digits, this one has {}",
                d.len()
            ));
        }
        if &s[..2] != "91" {
            return Err("a payment code starts with 91".into());
        }
        if gs1_check_digit(&d[..43]) != d[43] {
            return Err("the check digit does not match".into());
        }
        let free: u64 = s[8..29].parse().map_err(|_| "bad free field")?;
        let number = SmartPitNumber::from_u64(free).map_err(|e| e.to_string())?;
        let deadline = match &s[30..36] {
            "999999" => None,
            ymd => Some(
                NaiveDate::parse_from_str(&format!("20{ymd}"), "%Y%m%d")
                    .map_err(|_| "bad deadline")?,
            ),
        };
        Ok(PaymentCode {
            company_code: s[2..8].to_string(),
            number,
            reissue: d[29],
            deadline,
            amount: s[37..43].parse().map_err(|_| "bad amount")?,
        })
    }

    /// Printed under the bars in two lines of 22 digits.
    pub fn printed_lines(&self) -> (String, String) {
        let d = self.digits();
        (d[..22].to_string(), d[22..].to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_round_trip() {
        let n = SmartPitNumber::parse("4901234567894").unwrap();
        let due = NaiveDate::from_ymd_opt(2026, 12, 10).unwrap();
        let code = PaymentCode::new("912345", n, due, 54_321);
        let d = code.digits();
        assert_eq!(d.len(), 44);
        assert_eq!(&d[..2], "91");
        assert_eq!(&d[2..8], "912345");
        assert_eq!(&d[8..29], "000000004901234567894");
        assert_eq!(&d[29..30], "0");
        assert_eq!(&d[30..36], "261210");
        assert_eq!(&d[36..37], "1", "stamp flag from 50,000 yen");
        assert_eq!(&d[37..43], "054321");
        assert_eq!(PaymentCode::parse(&d), Ok(code.clone()));
        let small = PaymentCode::new("912345", n, due, 49_999).digits();
        assert_eq!(&small[36..37], "0");
        let mut typo = d.into_bytes();
        typo[40] = if typo[40] == b'9' { b'0' } else { typo[40] + 1 };
        assert!(PaymentCode::parse(&String::from_utf8(typo).unwrap()).is_err());
    }
}
