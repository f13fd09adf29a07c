//! The invoice (請求情報): what a merchant bills against a Smart Pit number.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use crate::clock::jst;
use crate::db::item::{self, get_s, req_n, req_s, Corrupt, Item};
use crate::db::notices::{notices_attr, notices_of};
use crate::ids::InvoiceId;
use crate::notice::{Notice, NoticeKind};
use crate::number::SmartPitNumber;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Registered,
    Paid,
    Cancelled,
    Expired,
    /// Paid, and the chain's settlement file (確報) confirmed the payment.
    Settled,
    /// Moved to another number (a lost card): `moved_to` names the bill that replaced it.
    Moved,
}

impl<'de> serde::Deserialize<'de> for InvoiceStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::request::by_name(
            d,
            InvoiceStatus::parse,
            "registered, paid, settled, cancelled, expired, moved",
        )
    }
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Registered => "registered",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Cancelled => "cancelled",
            InvoiceStatus::Expired => "expired",
            InvoiceStatus::Settled => "settled",
            InvoiceStatus::Moved => "moved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "registered" => Some(InvoiceStatus::Registered),
            "paid" => Some(InvoiceStatus::Paid),
            "cancelled" => Some(InvoiceStatus::Cancelled),
            "expired" => Some(InvoiceStatus::Expired),
            "settled" => Some(InvoiceStatus::Settled),
            "moved" => Some(InvoiceStatus::Moved),
            _ => None,
        }
    }
}

/// Where the customer is told about the invoice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Customer {
    pub email: Option<String>,
    pub mobile_email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub id: InvoiceId,
    pub merchant_id: String,
    pub merchant_name: String,
    pub merchant_order_id: String,
    pub amount: i64,
    /// What the store collects on top of `amount` for the merchant (FAQ Q11), 0 to 1,000 yen.
    pub customer_fee: i64,
    pub due_date: NaiveDate,
    /// 23:59:59 JST of the due date, Unix seconds.
    pub deadline: i64,
    pub description: Option<String>,
    /// What the customer buys, as the kiosk's screen and the store's receipt show it beside
    /// the merchant's name (at most 20 characters, their width).
    pub store_description: Option<String>,
    /// As stored; see [`Invoice::status_at`] for what it is now.
    pub stored_status: InvoiceStatus,
    pub customer: Customer,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub payment_id: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub store_chain: Option<String>,
    /// The store's receipt reference while paid: its store code and transaction id.
    pub store_code: Option<String>,
    pub store_transaction_id: Option<String>,
    /// Every payment the invoice has had, voided ones included, oldest first.
    pub payments: Vec<PaymentEntry>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// When the chain's settlement confirmed the payment.
    pub settled_at: Option<DateTime<Utc>>,
    /// A kiosk slip (申込券) holding the bill for payment at the register.
    pub hold: Option<Hold>,
    /// 1 as registered; each change (`PATCH`) adds one. A sheet's reissue digit is version - 1.
    pub version: i64,
    /// The bill this one was moved to (another number), and the one it was moved from.
    pub moved_to: Option<String>,
    pub moved_from: Option<String>,
    /// The link to the sheet PDF, for invoices registered without a number.
    pub sheet_url: Option<String>,
    /// What the customer is sent, and how far each got.
    pub notices: Vec<Notice>,
}

/// A kiosk slip's hold on a bill: until `until` (Unix seconds) only that slip's payment, at
/// that chain, may pay it, and the merchant may neither cancel nor change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub slip_id: String,
    pub chain_id: String,
    pub until: i64,
}

/// One payment of an invoice, as its history keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEntry {
    pub id: String,
    /// `completed` or `voided`.
    pub status: String,
    pub paid_at: DateTime<Utc>,
    pub voided_at: Option<DateTime<Utc>>,
    pub store_chain: String,
    pub store_code: String,
    pub store_transaction_id: String,
}

impl PaymentEntry {
    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "status": self.status,
            "paid_at": jst_timestamp(self.paid_at),
            "voided_at": self.voided_at.map(jst_timestamp),
            "store_chain": self.store_chain,
            "store_code": self.store_code,
            "store_transaction_id": self.store_transaction_id,
        })
    }

    pub fn to_attr(&self) -> aws_sdk_dynamodb::types::AttributeValue {
        let mut m = Item::new();
        m.insert("id".into(), item::s(&self.id));
        m.insert("status".into(), item::s(&self.status));
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
        aws_sdk_dynamodb::types::AttributeValue::M(m)
    }

    fn of(v: &aws_sdk_dynamodb::types::AttributeValue) -> Option<Self> {
        let m = v.as_m().ok()?;
        Some(PaymentEntry {
            id: get_s(m, "id")?.to_string(),
            status: get_s(m, "status")?.to_string(),
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

/// Timestamps are stored in UTC with milliseconds, so they sort as text.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Shown to clients in JST.
pub fn jst_timestamp(t: DateTime<Utc>) -> String {
    t.with_timezone(&jst())
        .to_rfc3339_opts(SecondsFormat::Secs, false)
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

/// The most characters a bill's `store_description` may have: a kiosk's line and a receipt's.
pub const STORE_DESCRIPTION_CHARS: usize = 20;

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
    pub fn number(&self) -> SmartPitNumber {
        self.id.number()
    }

    /// What the customer pays at the store: the amount and the customer fee.
    pub fn total(&self) -> i64 {
        self.amount + self.customer_fee
    }

    /// A registered invoice whose deadline has passed is expired, unless a slip printed before
    /// the deadline still holds it (the register then takes the slip's payment).
    pub fn status_at(&self, now: DateTime<Utc>) -> InvoiceStatus {
        match self.stored_status {
            InvoiceStatus::Registered
                if now.timestamp() > self.deadline && self.held_at(now).is_none() =>
            {
                InvoiceStatus::Expired
            }
            s => s,
        }
    }

    /// The register barcode's reissue digit (再発行区分): 0 as first issued, then one more
    /// for each change of the bill, 9 at most.
    pub fn reissue(&self) -> u8 {
        u8::try_from((self.version - 1).clamp(0, 9)).unwrap_or(9)
    }

    /// The slip holding the bill now, if any.
    pub fn held_at(&self, now: DateTime<Utc>) -> Option<&Hold> {
        self.hold.as_ref().filter(|h| {
            self.stored_status == InvoiceStatus::Registered && h.until >= now.timestamp()
        })
    }

    /// Payable now by anyone: registered, before its deadline, not held by a slip.
    pub fn is_payable_at(&self, now: DateTime<Utc>) -> bool {
        self.status_at(now) == InvoiceStatus::Registered
            && now.timestamp() <= self.deadline
            && self.held_at(now).is_none()
    }

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
        it
    }

    pub fn notice(&self, kind: NoticeKind) -> Option<&Notice> {
        self.notices.iter().find(|n| n.kind == kind)
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
        })
    }

    /// What the merchant API shows.
    pub fn merchant_view(&self, now: DateTime<Utc>) -> Value {
        json!({
            "id": self.id.as_str(),
            "status": self.status_at(now).as_str(),
            "smartpit_number": self.number().to_string(),
            "amount": self.amount,
            "customer_fee": self.customer_fee,
            "total": self.total(),
            "currency": "JPY",
            "due_date": self.due_date.to_string(),
            "deadline": jst_timestamp(DateTime::from_timestamp(self.deadline, 0).unwrap_or_default()),
            "merchant_order_id": self.merchant_order_id,
            "description": self.description,
            "store_description": self.store_description,
            "customer": {
                "email": self.customer.email,
                "mobile_email": self.customer.mobile_email,
            },
            "created_at": jst_timestamp(self.created_at),
            "updated_at": jst_timestamp(self.updated_at),
            "payment_id": self.payment_id,
            "paid_at": self.paid_at.map(jst_timestamp),
            "store_chain": self.store_chain,
            "store_code": self.store_code,
            "store_transaction_id": self.store_transaction_id,
            "payments": self.payments.iter().map(PaymentEntry::view).collect::<Vec<_>>(),
            "cancelled_at": self.cancelled_at.map(jst_timestamp),
            "settled_at": self.settled_at.map(jst_timestamp),
            "version": self.version,
            "moved_to": self.moved_to,
            "moved_from": self.moved_from,
            "held_until": self.held_at(now).and_then(|h| DateTime::from_timestamp(h.until, 0)).map(jst_timestamp),
            "sheet_url": self.sheet_url,
            "notices": self.notices.iter().map(Notice::view).collect::<Vec<_>>(),
        })
    }

    /// What a store's kiosk or register shows: no customer data, no merchant internals.
    pub fn store_view(&self) -> Value {
        json!({
            "id": self.id.as_str(),
            "merchant_name": self.merchant_name,
            "store_description": self.store_description,
            "amount": self.amount,
            "customer_fee": self.customer_fee,
            "total": self.total(),
            "due_date": self.due_date.to_string(),
        })
    }
}
