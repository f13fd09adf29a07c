//! A store payment: which invoices one visit paid, at which store, for how much.

use chrono::{DateTime, NaiveDate, Utc};

use crate::ids::{payment_id, InvoiceId};
use crate::invoice::jst_timestamp;

/// A payment as the store chain (and the merchant's events) see it.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "Payment", extend("additionalProperties" = false))]
pub struct PaymentView {
    #[schemars(pattern("^pay_"))]
    pub id: String,
    #[schemars(extend("enum" = ["completed", "voided", "settled"]))]
    pub status: &'static str,
    pub invoice_ids: Vec<String>,
    pub amount: i64,
    #[schemars(with = "crate::contract::Jpy")]
    pub currency: &'static str,
    pub store_chain: String,
    pub store_code: String,
    pub store_transaction_id: String,
    #[schemars(with = "crate::contract::Timestamp")]
    pub created_at: String,
    #[schemars(with = "Option<crate::contract::Timestamp>")]
    pub voided_at: Option<String>,
    #[schemars(with = "Option<crate::contract::Timestamp>")]
    pub settled_at: Option<String>,
    /// the settlement file (確報) that confirmed it, `<chain>/<YYYYMMDD>`
    pub settlement: Option<String>,
}

/// What a store reports when the customer has paid.
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    pub chain_id: String,
    pub store_code: String,
    pub store_transaction_id: String,
    pub invoice_ids: Vec<InvoiceId>,
    pub amount: i64,
    /// The kiosk slip (申込券) the customer brought to the register, if any.
    pub slip_id: Option<String>,
}

impl PaymentRequest {
    pub fn payment_id(&self) -> String {
        payment_id(&self.chain_id, &self.store_transaction_id)
    }

    /// Two reports are the same payment when they name the same invoices, amount and store.
    pub(crate) fn fingerprint(&self) -> String {
        let mut ids: Vec<&str> = self.invoice_ids.iter().map(InvoiceId::as_str).collect();
        ids.sort_unstable();
        crate::ids::sha256_hex(&format!(
            "{}|{}|{}",
            self.store_code,
            self.amount,
            ids.join(",")
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Reported by the store (速報).
    Completed,
    /// Voided by the store the same day (速報取消).
    Voided,
    /// Confirmed by the chain's settlement file (確報).
    Settled,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Completed => "completed",
            PaymentStatus::Voided => "voided",
            PaymentStatus::Settled => "settled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentLine {
    pub invoice_id: String,
    pub merchant_id: String,
    pub amount: i64,
}

#[derive(Debug, Clone)]
pub struct Payment {
    pub id: String,
    pub chain_id: String,
    pub store_code: String,
    pub store_transaction_id: String,
    pub lines: Vec<PaymentLine>,
    pub amount: i64,
    pub status: PaymentStatus,
    pub created_at: DateTime<Utc>,
    pub jst_day: NaiveDate,
    pub voided_at: Option<DateTime<Utc>>,
    pub settled_at: Option<DateTime<Utc>>,
    /// The settlement file that confirmed it (`<chain>/<YYYYMMDD>`).
    pub settlement: Option<String>,
    pub(crate) fingerprint: String,
}

impl Payment {
    pub fn view(&self) -> PaymentView {
        PaymentView {
            id: self.id.clone(),
            status: self.status.as_str(),
            invoice_ids: self.lines.iter().map(|l| l.invoice_id.clone()).collect(),
            amount: self.amount,
            currency: "JPY",
            store_chain: self.chain_id.clone(),
            store_code: self.store_code.clone(),
            store_transaction_id: self.store_transaction_id.clone(),
            created_at: jst_timestamp(self.created_at),
            voided_at: self.voided_at.map(jst_timestamp),
            settled_at: self.settled_at.map(jst_timestamp),
            settlement: self.settlement.clone(),
        }
    }

    /// A payment just reported by a store: `completed`, on the JST day of `now`.
    pub fn completed(req: &PaymentRequest, lines: Vec<PaymentLine>, now: DateTime<Utc>) -> Self {
        Payment {
            id: req.payment_id(),
            chain_id: req.chain_id.clone(),
            store_code: req.store_code.clone(),
            store_transaction_id: req.store_transaction_id.clone(),
            lines,
            amount: req.amount,
            status: PaymentStatus::Completed,
            created_at: now,
            jst_day: crate::clock::jst_date(now),
            voided_at: None,
            settled_at: None,
            settlement: None,
            fingerprint: req.fingerprint(),
        }
    }
}
