//! The bank transfer file (全銀協 総合振込, Zengin "general transfer" format): what the operator
//! uploads to its bank to pay every payout (and later every refund) due on a day. Fixed records
//! of 120 bytes in Shift_JIS with half-width kana, each followed by CR LF:
//!
//! - header (1): kind 21, code set 0, the requester's code and name, the transfer date (MMDD)
//!   and the requester's bank, branch, account type and number;
//! - one data record (2) per transfer: the payee's bank, branch, account type, number and name,
//!   the amount, a customer code (the transfer's line number here);
//! - trailer (8): the count and total of the data records;
//! - end (9).
//!
//! Every text is written in the characters a record accepts (`zengin::transfer_text`), names
//! cut to their field; a value that does not fit its field is refused, never cut silently
//! (numbers and amounts).

use chrono::NaiveDate;

use crate::zengin::{transfer_text, AccountType, Entry};

pub const RECORD_BYTES: usize = 120;

/// Whose account pays (the operator's, as its bank registered it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// 依頼人コード: 10 digits the bank gave.
    pub code: String,
    /// 依頼人名: the name the bank registered, in kana.
    pub name: String,
    pub bank: Entry,
    pub branch: Entry,
    pub account_type: AccountType,
    pub account_number: String,
}

/// One transfer to a payee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub bank: Entry,
    pub branch: Entry,
    pub account_type: AccountType,
    pub account_number: String,
    /// The holder's name as stored (already in transfer characters).
    pub holder: String,
    pub amount: i64,
}

/// A field of `width` bytes: text left-aligned and padded with spaces (cut to the width when
/// `cut`, else refused when longer).
fn text(value: &str, width: usize, cut: bool, what: &str) -> Result<String, String> {
    let t = transfer_text(value).map_err(|e| format!("{what}: {e}"))?;
    let n = t.chars().count();
    if n > width && !cut {
        return Err(format!(
            "{what} is {n} characters; the record holds {width}"
        ));
    }
    let mut out: String = t.chars().take(width).collect();
    out.extend(std::iter::repeat_n(' ', width - out.chars().count()));
    Ok(out)
}

/// A number of `width` digits, zero-padded on the left; a longer one is refused.
fn digits(value: &str, width: usize, what: &str) -> Result<String, String> {
    if !value.bytes().all(|b| b.is_ascii_digit()) || value.len() > width {
        return Err(format!("{what} must be at most {width} digits"));
    }
    Ok(format!("{value:0>width$}"))
}

/// The file's bytes for the transfers of `date`.
pub fn write(
    requester: &Requester,
    date: NaiveDate,
    transfers: &[Transfer],
) -> Result<Vec<u8>, String> {
    let mut records: Vec<String> = Vec::with_capacity(transfers.len() + 3);
    if requester.code.len() != 10 {
        return Err("the requester code is 10 digits".into());
    }
    records.push(
        [
            "1".to_string(),
            "21".into(),
            "0".into(),
            digits(&requester.code, 10, "the requester code")?,
            text(&requester.name, 40, false, "the requester name")?,
            date.format("%m%d").to_string(),
            digits(requester.bank.code, 4, "the bank code")?,
            text(requester.bank.kana, 15, true, "the bank name")?,
            digits(requester.branch.code, 3, "the branch code")?,
            text(requester.branch.kana, 15, true, "the branch name")?,
            requester.account_type.zengin_code().to_string(),
            digits(&requester.account_number, 7, "the account number")?,
            " ".repeat(17),
        ]
        .concat(),
    );
    let mut total: i64 = 0;
    for (i, t) in transfers.iter().enumerate() {
        if t.amount <= 0 {
            return Err(format!("transfer {}: an amount is 1 yen or more", i + 1));
        }
        total = total
            .checked_add(t.amount)
            .ok_or("the total does not fit a transfer file")?;
        records.push(
            [
                "2".to_string(),
                digits(t.bank.code, 4, "a bank code")?,
                text(t.bank.kana, 15, true, "a bank name")?,
                digits(t.branch.code, 3, "a branch code")?,
                text(t.branch.kana, 15, true, "a branch name")?,
                " ".repeat(4),
                t.account_type.zengin_code().to_string(),
                digits(&t.account_number, 7, "an account number")?,
                text(&t.holder, 30, false, "a payee's name")?,
                digits(&t.amount.to_string(), 10, "an amount")?,
                "0".into(),
                digits(&(i + 1).to_string(), 10, "a customer code")?,
                " ".repeat(10),
                "7".into(),
                " ".into(),
                " ".repeat(7),
            ]
            .concat(),
        );
    }
    records.push(
        [
            "8".to_string(),
            digits(&transfers.len().to_string(), 6, "the count")?,
            digits(&total.to_string(), 12, "the total")?,
            " ".repeat(101),
        ]
        .concat(),
    );
    records.push(["9".to_string(), " ".repeat(119)].concat());
    let mut out = Vec::with_capacity(records.len() * (RECORD_BYTES + 2));
    for r in &records {
        let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(r);
        if unmappable || bytes.len() != RECORD_BYTES {
            return Err(format!(
                "a record came to {} bytes in Shift_JIS, not {RECORD_BYTES}",
                bytes.len()
            ));
        }
        out.extend_from_slice(&bytes);
        out.extend_from_slice(b"\r\n");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zengin::{bank, branch, holder_name};

    fn requester() -> Requester {
        Requester {
            code: "1234567890".into(),
            name: "ｽﾏｰﾄﾋﾟﾂﾄ ｶﾌﾞｼｷｶﾞｲｼﾔ".into(),
            bank: bank("0001").expect("bank"),
            branch: branch("0001", "001").expect("branch"),
            account_type: AccountType::Current,
            account_number: "7654321".into(),
        }
    }

    #[test]
    fn records_are_120_bytes_and_add_up() {
        let to = Transfer {
            bank: bank("0005").expect("bank"),
            branch: branch("0005", "001").expect("branch"),
            account_type: AccountType::Ordinary,
            account_number: "1234567".into(),
            holder: holder_name("アクメショウテン").expect("name"),
            amount: 123_456,
        };
        let day = NaiveDate::from_ymd_opt(2026, 12, 7).expect("day");
        let file = write(
            &requester(),
            day,
            &[to.clone(), Transfer { amount: 1, ..to }],
        )
        .expect("file");
        let records: Vec<&[u8]> = file
            .split(|b| *b == b'\n')
            .filter(|r| !r.is_empty())
            .map(|r| r.strip_suffix(b"\r").expect("CR LF"))
            .collect();
        assert_eq!(records.len(), 5);
        assert!(records.iter().all(|r| r.len() == RECORD_BYTES));
        let kinds: Vec<u8> = records.iter().map(|r| r[0]).collect();
        assert_eq!(kinds, b"12289");
        assert_eq!(&records[0][1..3], b"21");
        assert_eq!(&records[0][54..58], b"1207");
        // The trailer: 2 transfers, 123,457 yen.
        assert_eq!(&records[3][1..7], b"000002");
        assert_eq!(&records[3][7..19], b"000000123457");
        // The payee's name in half-width kana, one byte a character in Shift_JIS.
        let (name, _, bad) = encoding_rs::SHIFT_JIS.decode(&records[1][50..80]);
        assert!(!bad);
        assert_eq!(name.trim_end(), "ｱｸﾒｼﾖｳﾃﾝ");
        assert_eq!(&records[1][80..90], b"0000123456");
    }

    #[test]
    fn what_does_not_fit_is_refused() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 7).expect("day");
        let mut r = requester();
        r.code = "12345".into();
        assert!(write(&r, day, &[]).is_err());
        let to = Transfer {
            bank: bank("0005").expect("bank"),
            branch: branch("0005", "001").expect("branch"),
            account_type: AccountType::Ordinary,
            account_number: "1234567".into(),
            holder: "ｱ".into(),
            amount: 10_000_000_000,
        };
        assert!(write(&requester(), day, std::slice::from_ref(&to)).is_err());
        assert!(write(&requester(), day, &[Transfer { amount: 0, ..to }]).is_err());
    }
}
