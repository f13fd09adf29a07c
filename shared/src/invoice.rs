//! The invoice (請求情報): what a merchant bills against a Smart Pit number.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use crate::contract;

use crate::clock::jst;
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

/// Which of a merchant's bills a listing shows (`GET /v1/invoices` and the console's search):
/// every given condition holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceFilter {
    pub status: Option<InvoiceStatus>,
    /// the bill the merchant registered under this order id (at most one)
    pub merchant_order_id: Option<String>,
    /// the bills on this number (a card, a joint card or a sheet)
    pub number: Option<SmartPitNumber>,
    /// registered on or after this JST day
    pub created_from: Option<NaiveDate>,
    /// registered on or before this JST day
    pub created_to: Option<NaiveDate>,
}

impl InvoiceFilter {
    pub fn by_status(status: Option<InvoiceStatus>) -> Self {
        InvoiceFilter {
            status,
            ..Self::default()
        }
    }

    /// Whether a bill meets every condition (the status as of `now`).
    pub fn admits(&self, inv: &Invoice, now: DateTime<Utc>) -> bool {
        let day = crate::clock::jst_date(inv.created_at);
        self.status.is_none_or(|s| inv.status_at(now) == s)
            && self
                .merchant_order_id
                .as_ref()
                .is_none_or(|o| *o == inv.merchant_order_id)
            && self.number.is_none_or(|n| n == inv.id.number())
            && self.created_from.is_none_or(|d| day >= d)
            && self.created_to.is_none_or(|d| day <= d)
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
    /// Yen refunded of what the customer paid (the refunds not cancelled), 0 without any.
    pub refunded: i64,
    /// A repeat bill (リピートオプション): payable again after each payment until cancelled,
    /// its due date (`until`) or its `max_payments`.
    pub repeat: Option<Repeat>,
    /// A repeat bill's payments standing (not voided): its occurrences so far. 0 for any
    /// other bill (its status says whether it is paid).
    pub occurrences: i64,
}

/// What makes a bill a repeat bill: at most `max_payments` payments (none: until its due date).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeat {
    pub max_payments: Option<i64>,
}

/// The most payments a repeat bill may take.
pub const MAX_REPEAT_PAYMENTS: i64 = 99;
/// How far ahead a repeat bill's last payable day (`until`) may lie, in days from today (JST).
pub const MAX_REPEAT_DAYS: i64 = 365;

/// A repeat bill as the merchant API shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(inline, extend("additionalProperties" = false))]
pub struct RepeatView {
    /// the most payments the bill takes; null: as many as come until its due date
    #[schemars(range(min = 1, max = 99))]
    pub max_payments: Option<i64>,
    /// the last payable day (JST): the bill's due date
    #[schemars(with = "crate::clock::Day")]
    pub until: String,
    /// payments standing on the bill (voided ones not counted)
    #[schemars(range(min = 0))]
    pub occurrences: i64,
}

/// An invoice as the merchant API shows it, and its webhook events carry it: every member
/// always present (null when it has no value).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "Invoice", extend("additionalProperties" = false))]
pub struct InvoiceView {
    #[schemars(pattern("^inv_[0-9a-z]{26}$"))]
    pub id: String,
    pub status: InvoiceStatus,
    #[schemars(with = "contract::SmartPitNumber")]
    pub smartpit_number: String,
    #[schemars(range(min = 1))]
    pub amount: i64,
    #[schemars(range(min = 0))]
    pub customer_fee: i64,
    /// amount + customer_fee: what the customer pays
    pub total: i64,
    #[schemars(with = "contract::Jpy")]
    pub currency: &'static str,
    #[schemars(with = "crate::clock::Day")]
    pub due_date: String,
    #[schemars(with = "contract::Timestamp")]
    pub deadline: String,
    pub merchant_order_id: String,
    pub description: Option<String>,
    pub store_description: Option<String>,
    pub customer: CustomerView,
    #[schemars(with = "contract::Timestamp")]
    pub created_at: String,
    #[schemars(with = "contract::Timestamp")]
    pub updated_at: String,
    pub payment_id: Option<String>,
    #[schemars(with = "Option<contract::Timestamp>")]
    pub paid_at: Option<String>,
    pub store_chain: Option<String>,
    pub store_code: Option<String>,
    pub store_transaction_id: Option<String>,
    /// every payment of this invoice, voided ones included
    pub payments: Vec<PaymentEntryView>,
    #[schemars(with = "Option<contract::Timestamp>")]
    pub cancelled_at: Option<String>,
    #[schemars(with = "Option<contract::Timestamp>")]
    pub settled_at: Option<String>,
    #[schemars(range(min = 1))]
    pub version: i64,
    pub moved_to: Option<String>,
    pub moved_from: Option<String>,
    #[schemars(with = "Option<contract::Timestamp>")]
    pub held_until: Option<String>,
    #[schemars(url)]
    pub sheet_url: Option<String>,
    pub notices: Vec<crate::notice::NoticeView>,
    /// yen refunded of what the customer paid (refunds not cancelled; see its refunds)
    #[schemars(range(min = 0))]
    pub refunded: i64,
    /// a repeat bill's terms and occurrences; null for a bill paid once
    pub repeat: Option<RepeatView>,
}

impl std::fmt::Display for InvoiceView {
    /// The view as JSON (what a stored answer keeps).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| std::fmt::Error)?;
        f.write_str(&text)
    }
}

/// A bill as a kiosk or register shows it: no customer data, no merchant internals.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(inline, extend("additionalProperties" = false))]
pub struct StoreInvoiceView {
    pub id: String,
    pub merchant_name: String,
    /// what the customer buys, to show beside the merchant's name (kiosk screen, receipt)
    #[schemars(length(max = 20))]
    pub store_description: Option<String>,
    pub amount: i64,
    pub customer_fee: i64,
    pub total: i64,
    #[schemars(with = "crate::clock::Day")]
    pub due_date: String,
}

/// Where the customer is told of the bill.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(inline, extend("additionalProperties" = false))]
pub struct CustomerView {
    pub email: Option<String>,
    pub mobile_email: Option<String>,
}

/// One payment of an invoice, as the merchant sees it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(inline, extend("additionalProperties" = false))]
pub struct PaymentEntryView {
    pub id: String,
    #[schemars(extend("enum" = ["completed", "voided", "settled"]))]
    pub status: String,
    /// what the customer paid for the bill by this payment, its customer fee included (null in
    /// entries older than it)
    pub amount: Option<i64>,
    #[schemars(with = "contract::Timestamp")]
    pub paid_at: String,
    #[schemars(with = "Option<contract::Timestamp>")]
    pub voided_at: Option<String>,
    pub store_chain: String,
    pub store_code: String,
    pub store_transaction_id: String,
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
    /// `completed` or `voided`; a repeat bill's occurrence is `settled` once the chain's
    /// settlement confirmed it (another bill's settlement shows on the bill's status).
    pub status: String,
    /// What the customer paid for the bill by this payment (amount and fee as they were);
    /// `None` in entries written before it was kept.
    pub amount: Option<i64>,
    /// The customer fee in it (a repeat bill's terms may change between payments).
    pub customer_fee: Option<i64>,
    pub paid_at: DateTime<Utc>,
    pub voided_at: Option<DateTime<Utc>>,
    pub store_chain: String,
    pub store_code: String,
    pub store_transaction_id: String,
}

impl PaymentEntry {
    pub fn view(&self) -> PaymentEntryView {
        PaymentEntryView {
            id: self.id.clone(),
            status: self.status.clone(),
            amount: self.amount,
            paid_at: jst_timestamp(self.paid_at),
            voided_at: self.voided_at.map(jst_timestamp),
            store_chain: self.store_chain.clone(),
            store_code: self.store_code.clone(),
            store_transaction_id: self.store_transaction_id.clone(),
        }
    }
}

/// Shown to clients in JST.
pub fn jst_timestamp(t: DateTime<Utc>) -> String {
    t.with_timezone(&jst())
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The most characters a bill's `store_description` may have: a kiosk's line and a receipt's.
pub const STORE_DESCRIPTION_CHARS: usize = 20;

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

    /// Whether this payment stands on the bill: in its history and not voided.
    pub fn payment_stands(&self, payment_id: &str) -> bool {
        self.payments
            .iter()
            .any(|e| e.id == payment_id && e.status != "voided")
    }

    /// Whether a payment made today (JST) stands on the bill: the store may still void it.
    pub fn payment_stands_today(&self, now: DateTime<Utc>) -> bool {
        let today = crate::clock::jst_date(now);
        self.payments
            .iter()
            .any(|e| e.status == "completed" && crate::clock::jst_date(e.paid_at) == today)
    }

    /// What this payment collected for the bill: (amount, customer fee) as they were when it
    /// was paid (the bill's terms for entries that do not say).
    pub fn collected_by(&self, payment_id: &str) -> (i64, i64) {
        let entry = self.payments.iter().find(|e| e.id == payment_id);
        match entry.and_then(|e| Some((e.amount?, e.customer_fee?))) {
            Some((total, fee)) => (total - fee, fee),
            None => (self.amount, self.customer_fee),
        }
    }

    /// Where the bill's history holds this payment.
    pub fn entry_index(&self, payment_id: &str) -> Option<usize> {
        self.payments.iter().rposition(|e| e.id == payment_id)
    }

    /// Whether the next payment closes the bill: any bill but a repeat bill with room for more.
    pub fn closes_with_next_payment(&self) -> bool {
        match self.repeat {
            None => true,
            Some(r) => r.max_payments.is_some_and(|m| self.occurrences + 1 >= m),
        }
    }

    pub fn notice(&self, kind: NoticeKind) -> Option<&Notice> {
        self.notices.iter().find(|n| n.kind == kind)
    }

    /// What the merchant API shows (and the invoice's webhook events carry).
    pub fn merchant_view(&self, now: DateTime<Utc>) -> InvoiceView {
        InvoiceView {
            id: self.id.to_string(),
            status: self.status_at(now),
            smartpit_number: self.number().to_string(),
            amount: self.amount,
            customer_fee: self.customer_fee,
            total: self.total(),
            currency: "JPY",
            due_date: self.due_date.to_string(),
            deadline: jst_timestamp(DateTime::from_timestamp(self.deadline, 0).unwrap_or_default()),
            merchant_order_id: self.merchant_order_id.clone(),
            description: self.description.clone(),
            store_description: self.store_description.clone(),
            customer: CustomerView {
                email: self.customer.email.clone(),
                mobile_email: self.customer.mobile_email.clone(),
            },
            created_at: jst_timestamp(self.created_at),
            updated_at: jst_timestamp(self.updated_at),
            payment_id: self.payment_id.clone(),
            paid_at: self.paid_at.map(jst_timestamp),
            store_chain: self.store_chain.clone(),
            store_code: self.store_code.clone(),
            store_transaction_id: self.store_transaction_id.clone(),
            payments: self.payments.iter().map(PaymentEntry::view).collect(),
            cancelled_at: self.cancelled_at.map(jst_timestamp),
            settled_at: self.settled_at.map(jst_timestamp),
            version: self.version,
            moved_to: self.moved_to.clone(),
            refunded: self.refunded,
            moved_from: self.moved_from.clone(),
            repeat: self.repeat.map(|r| RepeatView {
                max_payments: r.max_payments,
                until: self.due_date.to_string(),
                occurrences: self.occurrences,
            }),
            held_until: self
                .held_at(now)
                .and_then(|h| DateTime::from_timestamp(h.until, 0))
                .map(jst_timestamp),
            sheet_url: self.sheet_url.clone(),
            notices: self.notices.iter().map(Notice::view).collect(),
        }
    }

    /// What a store's kiosk or register shows: no customer data, no merchant internals.
    pub fn store_view(&self) -> StoreInvoiceView {
        StoreInvoiceView {
            id: self.id.to_string(),
            merchant_name: self.merchant_name.clone(),
            store_description: self.store_description.clone(),
            amount: self.amount,
            customer_fee: self.customer_fee,
            total: self.total(),
            due_date: self.due_date.to_string(),
        }
    }
}
