//! A store payment: which invoices one visit paid, at which store, for how much.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

use crate::db::item::{self, get_list_s, get_n, get_s, Item};
use crate::ids::{payment_id, InvoiceId};
use crate::invoice::{jst_timestamp, timestamp};
use crate::problem::Problem;

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

/// The `by_chain_day` key of a payment: its chain and JST day.
pub fn chain_day(chain_id: &str, day: NaiveDate) -> String {
    format!("{chain_id}#{day}")
}

impl Payment {
    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "status": self.status.as_str(),
            "invoice_ids": self.lines.iter().map(|l| l.invoice_id.as_str()).collect::<Vec<_>>(),
            "amount": self.amount,
            "currency": "JPY",
            "store_chain": self.chain_id,
            "store_code": self.store_code,
            "store_transaction_id": self.store_transaction_id,
            "created_at": jst_timestamp(self.created_at),
            "voided_at": self.voided_at.map(jst_timestamp),
            "settled_at": self.settled_at.map(jst_timestamp),
            "settlement": self.settlement,
        })
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

    pub fn to_item(&self) -> Item {
        let mut it = item::key(format!("PAY#{}", self.id), "#");
        it.insert("type".into(), item::s("payment"));
        it.insert("id".into(), item::s(&self.id));
        it.insert("chain_id".into(), item::s(&self.chain_id));
        it.insert("store_code".into(), item::s(&self.store_code));
        it.insert(
            "store_transaction_id".into(),
            item::s(&self.store_transaction_id),
        );
        it.insert("amount".into(), item::n(self.amount));
        it.insert("status".into(), item::s(self.status.as_str()));
        it.insert("created_at".into(), item::s(timestamp(self.created_at)));
        it.insert("jst_day".into(), item::s(self.jst_day.to_string()));
        it.insert(
            "chain_day".into(),
            item::s(chain_day(&self.chain_id, self.jst_day)),
        );
        it.insert("fingerprint".into(), item::s(&self.fingerprint));
        let lines = |f: fn(&PaymentLine) -> AttributeValue| {
            AttributeValue::L(self.lines.iter().map(f).collect())
        };
        it.insert("invoice_ids".into(), lines(|l| item::s(&l.invoice_id)));
        it.insert("merchant_ids".into(), lines(|l| item::s(&l.merchant_id)));
        it.insert("amounts".into(), lines(|l| item::n(l.amount)));
        it
    }

    pub fn from_item(it: &Item) -> Result<Self, Problem> {
        let bad = |f: &'static str| Problem::internal(&item::Corrupt(f));
        let ids = get_list_s(it, "invoice_ids");
        let merchants = get_list_s(it, "merchant_ids");
        let amounts: Vec<i64> = it
            .get("amounts")
            .and_then(|v| v.as_l().ok())
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_n().ok()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        if ids.len() != merchants.len() || ids.len() != amounts.len() {
            return Err(bad("invoice_ids"));
        }
        let time = |f: &'static str| {
            get_s(it, f)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        Ok(Payment {
            id: get_s(it, "id").ok_or_else(|| bad("id"))?.to_string(),
            chain_id: get_s(it, "chain_id")
                .ok_or_else(|| bad("chain_id"))?
                .to_string(),
            store_code: get_s(it, "store_code").unwrap_or_default().to_string(),
            store_transaction_id: get_s(it, "store_transaction_id")
                .unwrap_or_default()
                .to_string(),
            lines: ids
                .into_iter()
                .zip(merchants)
                .zip(amounts)
                .map(|((invoice_id, merchant_id), amount)| PaymentLine {
                    invoice_id,
                    merchant_id,
                    amount,
                })
                .collect(),
            amount: get_n(it, "amount").ok_or_else(|| bad("amount"))?,
            status: match get_s(it, "status") {
                Some("voided") => PaymentStatus::Voided,
                Some("completed") => PaymentStatus::Completed,
                Some("settled") => PaymentStatus::Settled,
                _ => return Err(bad("status")),
            },
            created_at: time("created_at").ok_or_else(|| bad("created_at"))?,
            jst_day: get_s(it, "jst_day")
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .ok_or_else(|| bad("jst_day"))?,
            voided_at: time("voided_at"),
            settled_at: time("settled_at"),
            settlement: get_s(it, "settlement").map(str::to_string),
            fingerprint: get_s(it, "fingerprint").unwrap_or_default().to_string(),
        })
    }
}
