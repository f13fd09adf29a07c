//! A payout as it is kept and shown: one per merchant and closed period, made once by the
//! payout run, then filed in a transfer file and confirmed paid or failed by the operator.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{base32, sha256_hex};
use crate::invoice::jst_timestamp;
use crate::payout_cycle::Period;

/// Where a payout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayoutStatus {
    /// Due on its pay date, in that day's transfer file.
    Scheduled,
    /// Owed but not payable: the merchant has no bank account yet (`held_reason`). The first
    /// transfer file after one is registered pays it.
    Held,
    /// The operator's bank confirmed the transfer.
    Paid,
    /// The transfer failed; its amount went back to the merchant's balance.
    Failed,
    /// Nothing to pay: the period's balance was zero or below (what is owed is carried).
    CarriedForward,
}

impl PayoutStatus {
    pub const ALL: [PayoutStatus; 5] = [
        PayoutStatus::Scheduled,
        PayoutStatus::Held,
        PayoutStatus::Paid,
        PayoutStatus::Failed,
        PayoutStatus::CarriedForward,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PayoutStatus::Scheduled => "scheduled",
            PayoutStatus::Held => "held",
            PayoutStatus::Paid => "paid",
            PayoutStatus::Failed => "failed",
            PayoutStatus::CarriedForward => "carried_forward",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Why a payout is held.
pub const HELD_NO_BANK_ACCOUNT: &str = "no_bank_account";

/// A payout's id: `po_`, the close day (so a merchant's payouts sort by period), and a digest of
/// the merchant and the day. The same merchant and close always give the same id, which is how
/// a second run of the same close finds the first one's payout instead of making another.
pub fn payout_id(merchant_id: &str, close: NaiveDate) -> String {
    let digest = sha256_hex(&format!("payout|{merchant_id}|{close}"));
    let short = base32(digest.as_bytes()).to_lowercase();
    format!("po_{}{}", close.format("%Y%m%d"), &short[..12])
}

/// Whether `s` has the shape of a payout id (checked before it reaches storage).
pub fn is_payout_id(s: &str) -> bool {
    s.len() == 23
        && s.starts_with("po_")
        && s[3..11].bytes().all(|b| b.is_ascii_digit())
        && s[11..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// What may be shown of the account a payout goes to (never the number, never the holder).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "BankAccount", extend("additionalProperties" = false))]
pub struct MaskedAccountView {
    pub bank_code: String,
    pub bank_name: String,
    pub branch_code: String,
    pub branch_name: String,
    #[schemars(extend("enum" = ["ordinary", "current", "savings"]))]
    pub account_type: String,
    /// The last three digits only: `****567`.
    pub number: String,
}

/// A payout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    pub id: String,
    pub merchant_id: String,
    pub period: Period,
    pub pay_date: NaiveDate,
    pub gross: i64,
    pub fees: i64,
    pub refunds: i64,
    pub net: i64,
    pub bill_count: usize,
    pub brought_forward: i64,
    pub carried_forward: i64,
    pub status: PayoutStatus,
    pub held_reason: Option<String>,
    pub account: Option<MaskedAccountView>,
    /// The pay date of the transfer file that holds it, once filed.
    pub transfer_date: Option<NaiveDate>,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    /// Where the statement lies in the statements bucket (`<key>.pdf`, `<key>.csv`).
    pub statement_key: String,
}

/// A payout as the merchant API shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "Payout", extend("additionalProperties" = false))]
pub struct PayoutView {
    pub id: String,
    #[schemars(with = "crate::clock::Day")]
    pub period_start: String,
    #[schemars(with = "crate::clock::Day")]
    pub period_end: String,
    #[schemars(with = "crate::clock::Day")]
    pub pay_date: String,
    #[schemars(with = "crate::contract::Jpy")]
    pub currency: &'static str,
    /// What the customers paid for the bills settled in the period (amounts and customer fees).
    pub gross: i64,
    /// The merchant's fees on those bills.
    pub fees: i64,
    /// Refunds paid in the period.
    pub refunds: i64,
    /// What earlier periods left: below zero owed by the merchant, above zero a failed transfer
    /// returned.
    pub brought_forward: i64,
    /// Transferred to the merchant's account (never below zero).
    pub net: i64,
    /// Owed to the next period when the balance went below zero.
    pub carried_forward: i64,
    pub bill_count: usize,
    #[schemars(extend("enum" = ["scheduled", "held", "paid", "failed", "carried_forward"]))]
    pub status: &'static str,
    /// Why a held payout waits (`no_bank_account`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_account: Option<MaskedAccountView>,
    /// The statement (支払通知書) as PDF: answers with a redirect to a 5-minute link.
    pub statement_pdf: String,
    /// One line per bill, as CSV: answers with a redirect to a 5-minute link.
    pub statement_csv: String,
    #[schemars(with = "crate::contract::Timestamp")]
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<crate::contract::Timestamp>")]
    pub paid_at: Option<String>,
}

impl Payout {
    pub fn view(&self) -> PayoutView {
        PayoutView {
            id: self.id.clone(),
            period_start: self.period.start.to_string(),
            period_end: self.period.end.to_string(),
            pay_date: self.pay_date.to_string(),
            currency: "JPY",
            gross: self.gross,
            fees: self.fees,
            refunds: self.refunds,
            brought_forward: self.brought_forward,
            net: self.net,
            carried_forward: self.carried_forward,
            bill_count: self.bill_count,
            status: self.status.as_str(),
            held_reason: self.held_reason.clone(),
            failure_reason: self.failure_reason.clone(),
            bank_account: self.account.clone(),
            statement_pdf: format!("/v1/payouts/{}/statement.pdf", self.id),
            statement_csv: format!("/v1/payouts/{}/statement.csv", self.id),
            created_at: jst_timestamp(self.created_at),
            paid_at: self.paid_at.map(jst_timestamp),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_one_per_merchant_and_close_and_sort_by_close() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day");
        let a = payout_id("m_1", d("2026-11-30"));
        assert_eq!(a, payout_id("m_1", d("2026-11-30")));
        assert_ne!(a, payout_id("m_2", d("2026-11-30")));
        let b = payout_id("m_1", d("2026-12-31"));
        assert!(a < b, "{a} sorts before {b}");
        assert!(is_payout_id(&a) && is_payout_id(&b), "{a}");
        assert!(!is_payout_id("po_2026113"));
        assert!(!is_payout_id(&a.replace("po_", "px_")));
        assert!(!is_payout_id(&format!("{}A", &a[..22])));
    }
}
