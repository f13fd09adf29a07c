//! Settlement (確報): a store chain's file of what it collected on one JST business day, and
//! the reconciliation report made from it. Pure rules; storage is in `db/settlements.rs`.
//!
//! A chain puts `settlements/<chain>/<YYYYMMDD>.csv` (UTF-8, a BOM tolerated, CRLF or LF) with
//! the header `store_transaction_id,store_code,paid_at,amount`. Every line is read on its own:
//! one that cannot be read is reported with its line number and the rest still reconciles.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};

use crate::money::MAX_INVOICE_YEN;
use crate::request::is_reference;

/// The header a settlement file starts with, exactly.
pub const HEADER: [&str; 4] = ["store_transaction_id", "store_code", "paid_at", "amount"];
/// Where chains put their files (and where the reports are written).
pub const PREFIX: &str = "settlements/";
/// Lines one file may hold; a larger file is refused whole (and reported).
pub const MAX_LINES: usize = 200_000;
/// The largest amount one line may carry: one visit pays at most 20 bills.
pub const MAX_LINE_YEN: i64 = MAX_INVOICE_YEN * 20;

/// Which file an object key is: `settlements/<chain>/<YYYYMMDD>.csv`. Reports
/// (`<YYYYMMDD>.report.csv`) and anything else are not settlement files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileKey {
    pub chain_id: String,
    pub date: NaiveDate,
}

impl FileKey {
    pub fn parse(key: &str) -> Option<Self> {
        let rest = key.strip_prefix(PREFIX)?;
        let (chain_id, file) = rest.split_once('/')?;
        let stem = file.strip_suffix(".csv")?;
        let chain_ok = !chain_id.is_empty()
            && chain_id.len() <= 32
            && chain_id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !chain_ok || stem.len() != 8 || !stem.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let date = NaiveDate::parse_from_str(stem, "%Y%m%d").ok()?;
        Some(FileKey {
            chain_id: chain_id.to_string(),
            date,
        })
    }

    pub fn key(&self) -> String {
        format!(
            "{PREFIX}{}/{}.csv",
            self.chain_id,
            self.date.format("%Y%m%d")
        )
    }

    pub fn report_key(&self) -> String {
        format!(
            "{PREFIX}{}/{}.report.csv",
            self.chain_id,
            self.date.format("%Y%m%d")
        )
    }

    /// `lawson/20261127`: how a payment names the file that settled it.
    pub fn name(&self) -> String {
        format!("{}/{}", self.chain_id, self.date.format("%Y%m%d"))
    }
}

/// One line the chain says it collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementLine {
    /// 1-based line number in the file (the header is line 1).
    pub line: usize,
    pub store_transaction_id: String,
    pub store_code: String,
    pub paid_at: DateTime<Utc>,
    pub amount: i64,
}

/// What is wrong with a line, or with a recorded payment the file left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MismatchKind {
    /// The line cannot be read (its detail says why).
    Unparseable,
    /// A second line with a store transaction id the file already had.
    DuplicateLine,
    /// No payment of this chain has this store transaction id.
    NotRecorded,
    /// The payment was recorded with another amount.
    AmountDiffers,
    /// The payment was recorded at another store.
    StoreDiffers,
    /// The payment was voided (速報取消), yet the chain says it collected it.
    VoidedInFile,
    /// A payment recorded on the file's day that the file does not list.
    MissingFromFile,
    /// The payment matches, but one of its invoices is not paid by it (a record out of line
    /// with the data model): not settled, for an operator to look at.
    NotSettleable,
}

impl MismatchKind {
    pub const ALL: [MismatchKind; 8] = [
        MismatchKind::Unparseable,
        MismatchKind::DuplicateLine,
        MismatchKind::NotRecorded,
        MismatchKind::AmountDiffers,
        MismatchKind::StoreDiffers,
        MismatchKind::VoidedInFile,
        MismatchKind::MissingFromFile,
        MismatchKind::NotSettleable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MismatchKind::Unparseable => "unparseable",
            MismatchKind::DuplicateLine => "duplicate_line",
            MismatchKind::NotRecorded => "not_recorded",
            MismatchKind::AmountDiffers => "amount_differs",
            MismatchKind::StoreDiffers => "store_differs",
            MismatchKind::VoidedInFile => "voided_in_file",
            MismatchKind::MissingFromFile => "missing_from_file",
            MismatchKind::NotSettleable => "not_settleable",
        }
    }
}

/// One row of the reconciliation report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub kind: MismatchKind,
    /// The file's line number; `None` for a payment missing from the file.
    pub line: Option<usize>,
    pub store_transaction_id: String,
    pub store_code: String,
    pub file_amount: Option<i64>,
    pub recorded_amount: Option<i64>,
    pub payment_id: Option<String>,
    pub detail: String,
}

/// A file read line by line: the lines that parsed, and a mismatch for every one that did not
/// (or that repeats an earlier line's transaction id).
#[derive(Debug, Default)]
pub struct ParsedFile {
    pub lines: Vec<SettlementLine>,
    pub problems: Vec<Mismatch>,
}

fn unparseable(line: usize, txn: &str, detail: impl Into<String>) -> Mismatch {
    Mismatch {
        kind: MismatchKind::Unparseable,
        line: Some(line),
        store_transaction_id: txn.to_string(),
        store_code: String::new(),
        file_amount: None,
        recorded_amount: None,
        payment_id: None,
        detail: detail.into(),
    }
}

/// Reads a settlement file. `Err` only when the file as a whole is not one (no header, another
/// header, too many lines): then nothing in it can be trusted.
pub fn parse_file(bytes: &[u8]) -> Result<ParsedFile, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // Line by line, so every line number is the one an editor shows (a settlement line never
    // holds a line break, quoted or not).
    let mut lines = bytes
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l));
    let header = match lines.next().map(|(_, l)| record_of(l)) {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(format!("line 1: {e}")),
        None => return Err("the file is empty; line 1 must be the header".into()),
    };
    let header: Vec<&[u8]> = header.iter().collect();
    if header.len() != HEADER.len() || header.iter().zip(HEADER).any(|(h, w)| *h != w.as_bytes()) {
        return Err(format!("line 1 must be the header {}", HEADER.join(",")));
    }
    let mut out = ParsedFile::default();
    let mut seen = HashSet::new();
    for (line, raw) in lines {
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue; // a blank line (the last line break makes one)
        }
        if out.lines.len() + out.problems.len() >= MAX_LINES {
            return Err(format!("the file has more than {MAX_LINES} lines"));
        }
        let parsed = record_of(raw)
            .map_err(|e| Box::new(unparseable(line, "", e)))
            .and_then(|r| parse_line(line, &r));
        match parsed {
            Ok(l) if !seen.insert(l.store_transaction_id.clone()) => out.problems.push(Mismatch {
                kind: MismatchKind::DuplicateLine,
                line: Some(line),
                store_transaction_id: l.store_transaction_id,
                store_code: l.store_code,
                file_amount: Some(l.amount),
                recorded_amount: None,
                payment_id: None,
                detail: "an earlier line has this store_transaction_id; only the first counts"
                    .into(),
            }),
            Ok(l) => out.lines.push(l),
            Err(m) => out.problems.push(*m),
        }
    }
    Ok(out)
}

/// One line's fields (RFC 4180 quoting allowed).
fn record_of(line: &[u8]) -> Result<csv::ByteRecord, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line);
    let mut record = csv::ByteRecord::new();
    match reader.read_byte_record(&mut record) {
        Ok(true) => Ok(record),
        Ok(false) => Ok(csv::ByteRecord::new()),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_line(line: usize, record: &csv::ByteRecord) -> Result<SettlementLine, Box<Mismatch>> {
    let field = |i: usize| -> Result<&str, Box<Mismatch>> {
        let raw = record.get(i).unwrap_or_default();
        std::str::from_utf8(raw)
            .map_err(|_| Box::new(unparseable(line, "", format!("{} is not UTF-8", HEADER[i]))))
    };
    if record.len() != HEADER.len() {
        return Err(Box::new(unparseable(
            line,
            "",
            format!("has {} fields, not {}", record.len(), HEADER.len()),
        )));
    }
    let txn = field(0)?;
    let bad = |what: String| {
        Box::new(unparseable(
            line,
            if is_reference(txn) { txn } else { "" },
            what,
        ))
    };
    if txn.is_empty() || txn.len() > 64 || !is_reference(txn) {
        return Err(bad(
            "store_transaction_id must be 1 to 64 letters, digits or . _ : / # -".into(),
        ));
    }
    let store = field(1)?;
    if store.is_empty() || store.len() > 32 || !is_reference(store) {
        return Err(bad(
            "store_code must be 1 to 32 letters, digits or . _ : / # -".into(),
        ));
    }
    let paid_at = DateTime::parse_from_rfc3339(field(2)?)
        .map_err(|_| bad("paid_at must be an ISO 8601 time with its offset".into()))?
        .with_timezone(&Utc);
    let amount_text = field(3)?;
    let amount = amount_text
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| amount_text.parse::<i64>().ok())
        .flatten()
        .filter(|a| (1..=MAX_LINE_YEN).contains(a) && amount_text.len() <= 8)
        .ok_or_else(|| bad(format!("amount must be whole yen, 1 to {MAX_LINE_YEN}")))?;
    Ok(SettlementLine {
        line,
        store_transaction_id: txn.to_string(),
        store_code: store.to_string(),
        paid_at,
        amount,
    })
}

/// The report: a header, then one row per mismatch, in file order (missing payments last).
pub fn report_csv(mismatches: &[Mismatch]) -> Result<Vec<u8>, String> {
    let mut sorted: Vec<&Mismatch> = mismatches.iter().collect();
    sorted.sort_by_key(|m| {
        (
            m.line.unwrap_or(usize::MAX),
            m.kind,
            m.store_transaction_id.clone(),
        )
    });
    let mut w = csv::Writer::from_writer(Vec::new());
    let row_err = |e: csv::Error| e.to_string();
    w.write_record([
        "line",
        "kind",
        "store_transaction_id",
        "store_code",
        "file_amount",
        "recorded_amount",
        "payment_id",
        "detail",
    ])
    .map_err(row_err)?;
    let opt = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    for m in sorted {
        w.write_record([
            m.line.map(|l| l.to_string()).unwrap_or_default(),
            m.kind.as_str().to_string(),
            m.store_transaction_id.clone(),
            m.store_code.clone(),
            opt(m.file_amount),
            opt(m.recorded_amount),
            m.payment_id.clone().unwrap_or_default(),
            m.detail.clone(),
        ])
        .map_err(row_err)?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

/// Counts by kind, every kind present (zero where none).
pub fn count_by_kind(mismatches: &[Mismatch]) -> BTreeMap<&'static str, usize> {
    let mut out: BTreeMap<&'static str, usize> =
        MismatchKind::ALL.iter().map(|k| (k.as_str(), 0)).collect();
    for m in mismatches {
        *out.entry(m.kind.as_str()).or_default() += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys() {
        let k = FileKey::parse("settlements/lawson/20261127.csv").unwrap();
        assert_eq!(k.chain_id, "lawson");
        assert_eq!(k.date, NaiveDate::from_ymd_opt(2026, 11, 27).unwrap());
        assert_eq!(k.key(), "settlements/lawson/20261127.csv");
        assert_eq!(k.report_key(), "settlements/lawson/20261127.report.csv");
        for not in [
            "settlements/lawson/20261127.report.csv",
            "settlements/lawson/20261332.csv",
            "settlements/Lawson/20261127.csv",
            "settlements/lawson/x/20261127.csv",
            "settlements//20261127.csv",
            "other/lawson/20261127.csv",
            "settlements/lawson/2026112.csv",
        ] {
            assert_eq!(FileKey::parse(not), None, "{not}");
        }
    }

    #[test]
    fn lines_parse_on_their_own() {
        let file = "\u{feff}store_transaction_id,store_code,paid_at,amount\r\n\
                    T1,L001,2026-11-27T10:00:00+09:00,1200\r\n\
                    T2,L001,yesterday,1200\r\n\
                    T3,L001,2026-11-27T10:00:00+09:00,-5\r\n\
                    T1,L002,2026-11-27T11:00:00+09:00,1200\r\n\
                    \r\n\
                    T4,L001,2026-11-27T01:00:00Z,12.5\r\n\
                    T5,L 1,2026-11-27T01:00:00Z,5\r\n\
                    T6,L001,2026-11-27T01:00:00Z\r\n\
                    \"T7\",L001,2026-11-27T01:00:00Z,1200000\n";
        let p = parse_file(file.as_bytes()).unwrap();
        assert_eq!(p.lines.len(), 2);
        assert_eq!(p.lines[0].line, 2);
        assert_eq!(p.lines[0].amount, 1200);
        assert_eq!(p.lines[1].store_transaction_id, "T7");
        assert_eq!(p.lines[1].line, 10);
        let kinds: Vec<(Option<usize>, MismatchKind)> =
            p.problems.iter().map(|m| (m.line, m.kind)).collect();
        assert_eq!(
            kinds,
            [
                (Some(3), MismatchKind::Unparseable),
                (Some(4), MismatchKind::Unparseable),
                (Some(5), MismatchKind::DuplicateLine),
                (Some(7), MismatchKind::Unparseable),
                (Some(8), MismatchKind::Unparseable),
                (Some(9), MismatchKind::Unparseable),
            ]
        );
        assert_eq!(p.problems[0].store_transaction_id, "T2");
    }

    #[test]
    fn a_file_without_its_header_is_refused() {
        assert!(parse_file(b"").is_err());
        assert!(parse_file(b"T1,L001,2026-11-27T10:00:00+09:00,1200\n").is_err());
        assert!(parse_file(b"store_transaction_id,store_code,paid_at\n").is_err());
        assert!(
            parse_file(b"store_transaction_id,store_code,paid_at,amount\n")
                .unwrap()
                .lines
                .is_empty()
        );
    }

    #[test]
    fn report_lists_mismatches_in_file_order() {
        let m = |kind, line| Mismatch {
            kind,
            line,
            store_transaction_id: "T,\"1".into(),
            store_code: "L1".into(),
            file_amount: Some(5),
            recorded_amount: None,
            payment_id: None,
            detail: "x".into(),
        };
        let csv = report_csv(&[
            m(MismatchKind::MissingFromFile, None),
            m(MismatchKind::NotRecorded, Some(3)),
        ])
        .unwrap();
        let text = String::from_utf8(csv).unwrap();
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 3);
        assert!(rows[1].starts_with("3,not_recorded,\"T,\"\"1\""));
        assert!(rows[2].starts_with(",missing_from_file,"));
        assert_eq!(
            count_by_kind(&[m(MismatchKind::NotRecorded, Some(3))])["not_recorded"],
            1
        );
    }
}
