//! A payment as stored: its item, and the key of the chain-day index.

use super::error::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, NaiveDate, Utc};

use super::item::{self, get_list_s, get_n, get_s, Item};
use super::timestamp;
use crate::payment::{Payment, PaymentLine, PaymentStatus};

/// The `by_chain_day` key of a payment: its chain and JST day.
pub fn chain_day(chain_id: &str, day: NaiveDate) -> String {
    format!("{chain_id}#{day}")
}

impl Payment {
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

    pub fn from_item(it: &Item) -> Result<Self, StoreError> {
        let bad = |f: &'static str| StoreError::failed(&item::Corrupt(f));
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
