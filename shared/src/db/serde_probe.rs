//! Issue 18's measurement, not a path any function takes: the invoice item mapped with
//! serde_dynamo (a serde mirror of the stored attributes, then the domain type) beside the hand
//! mapping of `invoice_item.rs`, to weigh lines, speed and binary size (docs/BENCHMARKS.md,
//! "Item mapping"). Built only with the `dynamo-probe` feature.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::invoice_item::{
    invoice_sk, merchant_pk, merchant_status_pk, number_pk, open_shard, parse_time, timestamp,
};
use super::item::{Corrupt, Item};
use crate::ids::InvoiceId;
use crate::invoice::{Customer, Hold, Invoice, InvoiceStatus, PaymentEntry};
use crate::notice::{Notice, NoticeKind, NoticeStatus};

fn one() -> i64 {
    1
}

/// The invoice item's attributes as serde sees them.
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredInvoice {
    pk: String,
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    id: String,
    merchant_id: String,
    merchant_name: String,
    merchant_order_id: String,
    amount: i64,
    #[serde(default)]
    customer_fee: i64,
    #[serde(default = "one")]
    version: i64,
    due_date: String,
    deadline: i64,
    status: String,
    created_at: String,
    updated_at: String,
    gsi1pk: String,
    gsi1sk: String,
    gsi2pk: String,
    gsi2sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    open_shard: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    moved_from: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    refunded: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    moved_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    store_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    customer_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    customer_mobile_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sheet_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    paid_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    store_chain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    store_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    store_transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    payments: Vec<StoredPayment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cancelled_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    settled_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hold_slip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hold_chain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hold_until: Option<i64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    notices: BTreeMap<String, StoredNotice>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct StoredPayment {
    id: String,
    status: String,
    paid_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    voided_at: Option<String>,
    #[serde(default)]
    store_chain: String,
    #[serde(default)]
    store_code: String,
    #[serde(default)]
    store_transaction_id: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct StoredNotice {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    at: String,
}

/// The registration item (what `Invoice::to_item` writes), through serde_dynamo.
pub fn to_item(inv: &Invoice) -> Result<Item, String> {
    let created = timestamp(inv.created_at);
    let stored = StoredInvoice {
        pk: number_pk(inv.number()),
        sk: invoice_sk(&inv.id),
        kind: "invoice".into(),
        id: inv.id.as_str().to_string(),
        merchant_id: inv.merchant_id.clone(),
        merchant_name: inv.merchant_name.clone(),
        merchant_order_id: inv.merchant_order_id.clone(),
        amount: inv.amount,
        customer_fee: inv.customer_fee,
        version: inv.version,
        due_date: inv.due_date.to_string(),
        deadline: inv.deadline,
        status: inv.stored_status.as_str().to_string(),
        created_at: created.clone(),
        updated_at: timestamp(inv.updated_at),
        gsi1pk: merchant_pk(&inv.merchant_id),
        gsi1sk: format!("{created}#{}", inv.id),
        gsi2pk: merchant_status_pk(&inv.merchant_id, inv.stored_status),
        gsi2sk: format!("{created}#{}", inv.id),
        open_shard: (inv.stored_status == InvoiceStatus::Registered).then(|| open_shard(&inv.id)),
        moved_from: inv.moved_from.clone(),
        refunded: inv.refunded,
        moved_to: None,
        description: inv.description.clone(),
        store_description: inv.store_description.clone(),
        customer_email: inv.customer.email.clone(),
        customer_mobile_email: inv.customer.mobile_email.clone(),
        sheet_url: inv.sheet_url.clone(),
        payment_id: None,
        paid_at: None,
        store_chain: None,
        store_code: None,
        store_transaction_id: None,
        payments: Vec::new(),
        cancelled_at: None,
        settled_at: None,
        hold_slip: None,
        hold_chain: None,
        hold_until: None,
        notices: inv
            .notices
            .iter()
            .map(|n| {
                (
                    n.kind.as_str().to_string(),
                    StoredNotice {
                        to: n.to.clone(),
                        status: n.status.as_str().to_string(),
                        reason: n.reason.clone(),
                        at: timestamp(n.at),
                    },
                )
            })
            .collect(),
    };
    serde_dynamo::to_item(stored).map_err(|e| e.to_string())
}

/// Any invoice item (as `Invoice::from_item` reads it), through serde_dynamo.
pub fn from_item(it: Item) -> Result<Invoice, Corrupt> {
    let s: StoredInvoice = serde_dynamo::from_item(it).map_err(|_| Corrupt("item"))?;
    let time = |t: &Option<String>| t.as_deref().and_then(parse_time);
    let mut notices: Vec<Notice> = s
        .notices
        .iter()
        .filter_map(|(k, n)| {
            Some(Notice {
                kind: NoticeKind::parse(k)?,
                to: n.to.clone(),
                status: NoticeStatus::parse(&n.status)?,
                reason: n.reason.clone(),
                at: parse_time(&n.at)?,
            })
        })
        .collect();
    notices.sort_by_key(|n| n.kind);
    Ok(Invoice {
        id: InvoiceId::parse(&s.id).ok_or(Corrupt("id"))?,
        merchant_id: s.merchant_id,
        merchant_name: s.merchant_name,
        merchant_order_id: s.merchant_order_id,
        amount: s.amount,
        customer_fee: s.customer_fee,
        due_date: NaiveDate::parse_from_str(&s.due_date, "%Y-%m-%d")
            .map_err(|_| Corrupt("due_date"))?,
        deadline: s.deadline,
        description: s.description,
        store_description: s.store_description,
        stored_status: InvoiceStatus::parse(&s.status).ok_or(Corrupt("status"))?,
        customer: Customer {
            email: s.customer_email,
            mobile_email: s.customer_mobile_email,
        },
        created_at: parse_time(&s.created_at).ok_or(Corrupt("created_at"))?,
        updated_at: parse_time(&s.updated_at).ok_or(Corrupt("updated_at"))?,
        payment_id: s.payment_id,
        paid_at: time(&s.paid_at),
        store_chain: s.store_chain,
        store_code: s.store_code,
        store_transaction_id: s.store_transaction_id,
        payments: s
            .payments
            .into_iter()
            .filter_map(|p| {
                Some(PaymentEntry {
                    paid_at: parse_time(&p.paid_at)?,
                    voided_at: p.voided_at.as_deref().and_then(parse_time),
                    id: p.id,
                    status: p.status,
                    amount: None,
                    customer_fee: None,
                    store_chain: p.store_chain,
                    store_code: p.store_code,
                    store_transaction_id: p.store_transaction_id,
                })
            })
            .collect(),
        cancelled_at: time(&s.cancelled_at),
        settled_at: time(&s.settled_at),
        version: s.version,
        moved_to: s.moved_to,
        moved_from: s.moved_from,
        refunded: s.refunded,
        repeat: None,
        occurrences: 0,
        hold: match (s.hold_slip, s.hold_chain, s.hold_until) {
            (Some(slip_id), Some(chain_id), Some(until)) => Some(Hold {
                slip_id,
                chain_id,
                until,
            }),
            _ => None,
        },
        sheet_url: s.sheet_url,
        notices,
    })
}

/// An invoice as a sheet registration makes it (every registration attribute present).
pub fn sample_invoice(seed: u64) -> Invoice {
    use chrono::{TimeZone, Utc};
    let number = crate::SmartPitNumber::from_body(221_234_567_000 + seed % 1000);
    let at = Utc
        .with_ymd_and_hms(2026, 12, 4, 9, 30, 0)
        .single()
        .unwrap_or_default();
    Invoice {
        id: InvoiceId::new(number),
        merchant_id: "m_acme".into(),
        merchant_name: "アクメ商店".into(),
        merchant_order_id: format!("ORDER-{seed}"),
        amount: 12_345,
        customer_fee: 110,
        due_date: NaiveDate::from_ymd_opt(2026, 12, 20).unwrap_or_default(),
        deadline: 1_797_778_799,
        description: Some("ノート 3冊".into()),
        store_description: Some("ノート".into()),
        stored_status: InvoiceStatus::Registered,
        customer: Customer {
            email: Some("taro@example.jp".into()),
            mobile_email: Some("taro@docomo.ne.jp".into()),
        },
        created_at: at,
        updated_at: at,
        payment_id: None,
        paid_at: None,
        store_chain: None,
        store_code: None,
        store_transaction_id: None,
        payments: Vec::new(),
        cancelled_at: None,
        settled_at: None,
        hold: None,
        version: 1,
        moved_to: None,
        moved_from: None,
        refunded: 0,
        repeat: None,
        occurrences: 0,
        sheet_url: Some("https://pay.example.jp/s/abcdefghijklmnopqrstuvwxyz012345".into()),
        notices: vec![
            Notice {
                kind: NoticeKind::Sheet,
                to: None,
                status: NoticeStatus::Sent,
                reason: None,
                at,
            },
            Notice {
                kind: NoticeKind::SheetMail,
                to: Some("taro@example.jp".into()),
                status: NoticeStatus::Sent,
                reason: None,
                at,
            },
        ],
    }
}

/// A registration item after a store payment and a voided earlier one (as the store's update
/// expressions leave it): what every lookup, list and report reads.
pub fn paid_item(registered: Item) -> Item {
    use super::item;
    use aws_sdk_dynamodb::types::AttributeValue;
    let mut it = registered;
    let paid = "2026-12-05T01:02:03.456Z";
    it.insert("status".into(), item::s("paid"));
    it.insert("payment_id".into(), item::s("pay_01"));
    it.insert("paid_at".into(), item::s(paid));
    it.insert("store_chain".into(), item::s("lawson"));
    it.insert("store_code".into(), item::s("P001"));
    it.insert("store_transaction_id".into(), item::s("T-0001"));
    it.insert("version".into(), item::n(2));
    let entry = |id: &str, status: &str, voided: bool| {
        let mut m = Item::new();
        m.insert("id".into(), item::s(id));
        m.insert("status".into(), item::s(status));
        m.insert("paid_at".into(), item::s(paid));
        if voided {
            m.insert("voided_at".into(), item::s(paid));
        }
        m.insert("store_chain".into(), item::s("lawson"));
        m.insert("store_code".into(), item::s("P001"));
        m.insert("store_transaction_id".into(), item::s(format!("T-{id}")));
        AttributeValue::M(m)
    };
    it.insert(
        "payments".into(),
        AttributeValue::L(vec![
            entry("pay_00", "voided", true),
            entry("pay_01", "completed", false),
        ]),
    );
    it
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}
