//! An invoice as stored: its item under its number's partition, its keys and index keys, the
//! payment history inside it. The domain type (`crate::invoice`) knows nothing of this.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use super::item::{self, get_s, req_n, req_s, Corrupt, Item};
use super::notices::{notices_attr, notices_of};
use crate::ids::InvoiceId;
use crate::invoice::{Customer, Hold, Invoice, InvoiceStatus, PaymentEntry, Repeat};
use crate::number::SmartPitNumber;

/// Timestamps are stored in UTC with milliseconds, so they sort as text.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub fn number_pk(number: SmartPitNumber) -> String {
    format!("NUM#{number}")
}

pub fn invoice_sk(id: &InvoiceId) -> String {
    format!("INV#{id}")
}

pub fn merchant_pk(merchant_id: &str) -> String {
    format!("MER#{merchant_id}")
}

/// Shards of the `by_open_deadline` index (registered invoices by deadline).
pub const OPEN_SHARDS: u8 = 8;

/// The `by_open_deadline` shard of a registered invoice (`open#0` .. `open#7`).
pub fn open_shard(id: &InvoiceId) -> String {
    let digest = crate::ids::sha256_hex(id.as_str());
    let n = u8::from_str_radix(&digest[..2], 16).unwrap_or(0) % OPEN_SHARDS;
    format!("open#{n}")
}

pub fn merchant_status_pk(merchant_id: &str, status: InvoiceStatus) -> String {
    format!("MER#{merchant_id}#{}", status.as_str())
}

impl Invoice {
    /// The item as stored under its number's partition.
    pub fn to_item(&self) -> Item {
        let mut it = item::key(number_pk(self.number()), invoice_sk(&self.id));
        let created = timestamp(self.created_at);
        it.insert("type".into(), item::s("invoice"));
        it.insert("id".into(), item::s(self.id.as_str()));
        it.insert("merchant_id".into(), item::s(&self.merchant_id));
        it.insert("merchant_name".into(), item::s(&self.merchant_name));
        it.insert("merchant_order_id".into(), item::s(&self.merchant_order_id));
        it.insert("amount".into(), item::n(self.amount));
        it.insert("customer_fee".into(), item::n(self.customer_fee));
        it.insert("version".into(), item::n(self.version));
        if self.refunded > 0 {
            it.insert("refunded".into(), item::n(self.refunded));
        }
        if let Some(m) = &self.moved_from {
            it.insert("moved_from".into(), item::s(m));
        }
        it.insert("due_date".into(), item::s(self.due_date.to_string()));
        it.insert("deadline".into(), item::n(self.deadline));
        it.insert("status".into(), item::s(self.stored_status.as_str()));
        it.insert("created_at".into(), item::s(&created));
        it.insert("updated_at".into(), item::s(timestamp(self.updated_at)));
        it.insert("gsi1pk".into(), item::s(merchant_pk(&self.merchant_id)));
        it.insert("gsi1sk".into(), item::s(format!("{created}#{}", self.id)));
        it.insert(
            "gsi2pk".into(),
            item::s(merchant_status_pk(&self.merchant_id, self.stored_status)),
        );
        it.insert("gsi2sk".into(), item::s(format!("{created}#{}", self.id)));
        if self.stored_status == InvoiceStatus::Registered {
            it.insert("open_shard".into(), item::s(open_shard(&self.id)));
        }
        if let Some(d) = &self.description {
            it.insert("description".into(), item::s(d));
        }
        if let Some(d) = &self.store_description {
            it.insert("store_description".into(), item::s(d));
        }
        if let Some(e) = &self.customer.email {
            it.insert("customer_email".into(), item::s(e));
        }
        if let Some(e) = &self.customer.mobile_email {
            it.insert("customer_mobile_email".into(), item::s(e));
        }
        if let Some(u) = &self.sheet_url {
            it.insert("sheet_url".into(), item::s(u));
        }
        if !self.notices.is_empty() {
            it.insert("notices".into(), notices_attr(&self.notices));
        }
        if let Some(r) = self.repeat {
            it.insert("repeat".into(), AttributeValue::Bool(true));
            if let Some(m) = r.max_payments {
                it.insert("repeat_max".into(), item::n(m));
            }
            it.insert("occurrences".into(), item::n(self.occurrences));
        }
        it
    }

    pub fn from_item(it: &Item) -> Result<Self, Corrupt> {
        let id = InvoiceId::parse(&req_s(it, "id")?).ok_or(Corrupt("id"))?;
        let due_date = NaiveDate::parse_from_str(&req_s(it, "due_date")?, "%Y-%m-%d")
            .map_err(|_| Corrupt("due_date"))?;
        let time = |name: &'static str| get_s(it, name).and_then(parse_time);
        Ok(Invoice {
            id,
            merchant_id: req_s(it, "merchant_id")?,
            merchant_name: req_s(it, "merchant_name")?,
            merchant_order_id: req_s(it, "merchant_order_id")?,
            amount: req_n(it, "amount")?,
            customer_fee: item::get_n(it, "customer_fee").unwrap_or(0),
            due_date,
            deadline: req_n(it, "deadline")?,
            description: get_s(it, "description").map(str::to_string),
            store_description: get_s(it, "store_description").map(str::to_string),
            stored_status: InvoiceStatus::parse(&req_s(it, "status")?).ok_or(Corrupt("status"))?,
            customer: Customer {
                email: get_s(it, "customer_email").map(str::to_string),
                mobile_email: get_s(it, "customer_mobile_email").map(str::to_string),
            },
            created_at: time("created_at").ok_or(Corrupt("created_at"))?,
            updated_at: time("updated_at").ok_or(Corrupt("updated_at"))?,
            payment_id: get_s(it, "payment_id").map(str::to_string),
            paid_at: time("paid_at"),
            store_chain: get_s(it, "store_chain").map(str::to_string),
            store_code: get_s(it, "store_code").map(str::to_string),
            store_transaction_id: get_s(it, "store_transaction_id").map(str::to_string),
            payments: it
                .get("payments")
                .and_then(|v| v.as_l().ok())
                .map(|l| l.iter().filter_map(PaymentEntry::of).collect())
                .unwrap_or_default(),
            cancelled_at: time("cancelled_at"),
            settled_at: time("settled_at"),
            version: item::get_n(it, "version").unwrap_or(1),
            moved_to: get_s(it, "moved_to").map(str::to_string),
            moved_from: get_s(it, "moved_from").map(str::to_string),
            refunded: item::get_n(it, "refunded").unwrap_or(0),
            hold: match (
                get_s(it, "hold_slip"),
                get_s(it, "hold_chain"),
                item::get_n(it, "hold_until"),
            ) {
                (Some(slip), Some(chain), Some(until)) => Some(Hold {
                    slip_id: slip.to_string(),
                    chain_id: chain.to_string(),
                    until,
                }),
                _ => None,
            },
            sheet_url: get_s(it, "sheet_url").map(str::to_string),
            notices: notices_of(it),
            repeat: it
                .get("repeat")
                .and_then(|v| v.as_bool().ok())
                .filter(|b| **b)
                .map(|_| Repeat {
                    max_payments: item::get_n(it, "repeat_max"),
                }),
            occurrences: item::get_n(it, "occurrences").unwrap_or_default(),
        })
    }
}

impl PaymentEntry {
    pub fn to_attr(&self) -> AttributeValue {
        let mut m = Item::new();
        m.insert("id".into(), item::s(&self.id));
        m.insert("status".into(), item::s(&self.status));
        if let Some(a) = self.amount {
            m.insert("amount".into(), item::n(a));
        }
        if let Some(f) = self.customer_fee {
            m.insert("customer_fee".into(), item::n(f));
        }
        m.insert("paid_at".into(), item::s(timestamp(self.paid_at)));
        if let Some(v) = self.voided_at {
            m.insert("voided_at".into(), item::s(timestamp(v)));
        }
        m.insert("store_chain".into(), item::s(&self.store_chain));
        m.insert("store_code".into(), item::s(&self.store_code));
        m.insert(
            "store_transaction_id".into(),
            item::s(&self.store_transaction_id),
        );
        AttributeValue::M(m)
    }

    pub(crate) fn of(v: &AttributeValue) -> Option<Self> {
        let m = v.as_m().ok()?;
        Some(PaymentEntry {
            id: get_s(m, "id")?.to_string(),
            status: get_s(m, "status")?.to_string(),
            amount: item::get_n(m, "amount"),
            customer_fee: item::get_n(m, "customer_fee"),
            paid_at: get_s(m, "paid_at").and_then(parse_time)?,
            voided_at: get_s(m, "voided_at").and_then(parse_time),
            store_chain: get_s(m, "store_chain").unwrap_or_default().to_string(),
            store_code: get_s(m, "store_code").unwrap_or_default().to_string(),
            store_transaction_id: get_s(m, "store_transaction_id")
                .unwrap_or_default()
                .to_string(),
        })
    }
}
