//! Bulk registration by CSV: the file as Excel saves it (UTF-8, with or without its BOM, or
//! Shift_JIS), read by the `csv` crate, each line turned into the API's registration request and
//! checked by the API's own rules. The preview names every bad line and why; the commit
//! registers the good ones, each under a key made from the file and the line, so the same file
//! again registers nothing twice.

use chrono::{DateTime, Utc};
use serde_json::Value;
use smartpit_invoices::requests::RegisterInvoice;

use crate::form::{errors_of, InvoiceForm};

/// The columns, as the header names them (any order; unknown columns are refused, so a typo
/// does not silently drop a field).
pub const COLUMNS: &[&str] = &[
    "merchant_order_id",
    "amount",
    "due_date",
    "smartpit_number",
    "email",
    "mobile_email",
    "description",
    "customer_fee",
];

/// The most lines a file may have, and the largest file.
pub const MAX_LINES: usize = 10_000;
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

/// One line of the file (its number counts the header as line 1, as a spreadsheet shows it).
#[derive(Debug, Clone)]
pub struct Line {
    pub number: usize,
    pub json: Value,
}

/// What a file holds: its good lines and, for each bad one, the field and why.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub good: Vec<Line>,
    pub bad: Vec<(usize, String, String)>,
}

/// The text of a file as Excel saves it: UTF-8 (a BOM dropped), else Shift_JIS.
pub fn decode(bytes: &[u8]) -> Result<String, String> {
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(s.to_string());
    }
    let (text, _, had_errors) = encoding_rs::SHIFT_JIS.decode(bytes);
    if had_errors {
        return Err("the file is neither UTF-8 nor Shift_JIS text".into());
    }
    Ok(text.into_owned())
}

/// Reads and checks every line. `Err`: the file itself is not one (no header, unknown or
/// missing columns, too large).
pub fn read(bytes: &[u8], now: DateTime<Utc>) -> Result<Parsed, String> {
    if bytes.len() > MAX_BYTES {
        return Err(format!("the file is over {} MB", MAX_BYTES / 1024 / 1024));
    }
    let text = decode(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("the header line cannot be read: {e}"))?
        .clone();
    let names: Vec<String> = headers.iter().map(|h| h.to_ascii_lowercase()).collect();
    if let Some(unknown) = names.iter().find(|n| !COLUMNS.contains(&n.as_str())) {
        return Err(format!(
            "unknown column \"{unknown}\": the columns are {}",
            COLUMNS.join(", ")
        ));
    }
    for required in ["merchant_order_id", "amount"] {
        if !names.iter().any(|n| n == required) {
            return Err(format!("the column \"{required}\" is missing"));
        }
    }
    let mut out = Parsed::default();
    for (i, record) in reader.records().enumerate() {
        let number = i + 2;
        if out.good.len() + out.bad.len() >= MAX_LINES {
            return Err(format!("the file has more than {MAX_LINES} lines"));
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                out.bad.push((number, String::new(), e.to_string()));
                continue;
            }
        };
        if record.iter().all(str::is_empty) {
            continue;
        }
        let cell = |name: &str| {
            names
                .iter()
                .position(|n| n == name)
                .and_then(|i| record.get(i))
                .unwrap_or_default()
                .to_string()
        };
        let form = InvoiceForm {
            idem: String::new(),
            merchant_order_id: cell("merchant_order_id"),
            amount: cell("amount"),
            customer_fee: cell("customer_fee"),
            due_date: cell("due_date"),
            smartpit_number: cell("smartpit_number"),
            email: cell("email"),
            mobile_email: cell("mobile_email"),
            description: cell("description"),
        };
        match check(&form, now) {
            Ok(json) => out.good.push(Line { number, json }),
            Err(errors) => {
                for (field, message) in errors {
                    out.bad.push((number, field, message));
                }
            }
        }
    }
    Ok(out)
}

/// A line's request, checked by the API's rules: its JSON, or each mistake.
fn check(form: &InvoiceForm, now: DateTime<Utc>) -> Result<Value, Vec<(String, String)>> {
    let (body, json) = form.request()?;
    smartpit_shared::request::checked::<RegisterInvoice>(body, now)
        .map(|_| json)
        .map_err(|p| errors_of(&p))
}

/// The file's id: its SHA-256 (the same file is the same upload).
pub fn file_id(bytes: &[u8]) -> String {
    smartpit_shared::ids::sha256_hex_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-05T01:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn lines_are_checked_by_the_apis_rules_and_bad_ones_named() {
        let file = "\u{feff}merchant_order_id,amount,due_date,smartpit_number,email\n\
                    A-1,1000,2026-12-20,2010000000014,\n\
                    A-2,abc,2026-12-20,2010000000014,\n\
                    A-3,500,2025-01-01,2010000000014,\n\
                    ,,,,\n\
                    A-4,\"1,200\",2026-12-20,,taro@example.jp\n";
        let parsed = read(file.as_bytes(), now()).expect("a file");
        let good: Vec<usize> = parsed.good.iter().map(|l| l.number).collect();
        assert_eq!(good, [2, 6]);
        let bad: Vec<(usize, &str)> = parsed
            .bad
            .iter()
            .map(|(n, f, _)| (*n, f.as_str()))
            .collect();
        assert_eq!(bad, [(3, "amount"), (4, "due_date")]);
        assert_eq!(parsed.good[1].json["amount"], 1200);
    }

    #[test]
    fn shift_jis_reads_and_odd_files_are_refused() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS
            .encode("merchant_order_id,amount,due_date,smartpit_number,description\nB-1,900,2026-12-20,2010000000014,冬物\n");
        let parsed = read(&sjis, now()).expect("a Shift_JIS file");
        assert_eq!(parsed.good[0].json["description"], "冬物");
        assert!(read(b"order,amount\n1,2\n", now()).is_err());
        assert!(read(b"amount\n1\n", now()).is_err());
        assert!(decode(&[0x82, 0xa0, 0xff, 0xff]).is_err());
    }
}
