//! Refunds of cash payments (issue 20): the customer paid at a store, so the money goes back by
//! bank transfer to an account the customer gives on a page of ours. A bill's refunds never sum
//! above what the customer paid for it (amount and customer fee); a bill is refundable once
//! its payment can no longer be voided by the store (the day after it was paid, JST) or is
//! settled.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use crate::clock::jst_date;
use crate::ids::{base32, base32_decode, random_bytes};
use crate::invoice::{jst_timestamp, Invoice, InvoiceStatus};
use crate::payout::MaskedAccountView;

/// Longest `reason`.
pub const REASON_CHARS: usize = 200;

/// Where a refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Made; the customer has not given an account yet (`details_url`).
    AwaitingDetails,
    /// The customer gave an account; the next transfer file pays it.
    DetailsReceived,
    /// In a transfer file, not yet confirmed by the bank.
    Filed,
    Paid,
    /// The bank returned the transfer; the customer's page asks for an account again.
    Failed,
    /// The merchant cancelled it before it was in a transfer file.
    Cancelled,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingDetails => "awaiting_details",
            Self::DetailsReceived => "details_received",
            Self::Filed => "filed",
            Self::Paid => "paid",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::AwaitingDetails,
            Self::DetailsReceived,
            Self::Filed,
            Self::Paid,
            Self::Failed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// Whether the merchant may still cancel it (not yet in a transfer file, not paid).
    pub fn cancellable(self) -> bool {
        matches!(
            self,
            Self::AwaitingDetails | Self::DetailsReceived | Self::Failed
        )
    }
}

/// A refund of (part of) a bill's payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: String,
    pub merchant_id: String,
    pub invoice_id: String,
    /// The payment refunded (the bill's payment when the refund was made).
    pub payment_id: String,
    pub amount: i64,
    pub reason: Option<String>,
    pub status: RefundStatus,
    /// The customer's page (`/r/{token}`); shown to the merchant to hand over.
    pub details_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The customer's account, masked (the details are sealed beside it).
    pub account: Option<MaskedAccountView>,
    pub details_received_at: Option<DateTime<Utc>>,
    /// The pay date of the transfer file that holds it, once filed.
    pub transfer_date: Option<chrono::NaiveDate>,
    pub paid_at: Option<DateTime<Utc>>,
    /// Why the bank returned the transfer (the customer is asked for an account again).
    pub failure_reason: Option<String>,
}

/// A new refund id: `ref_` + base32 of 16 random bytes.
pub fn new_refund_id() -> String {
    format!("ref_{}", base32(&random_bytes::<16>()))
}

/// Whether `s` has the shape of a refund id (checked before it reaches storage).
pub fn is_refund_id(s: &str) -> bool {
    s.strip_prefix("ref_")
        .is_some_and(|rest| base32_decode(rest, 16).is_some())
}

/// A new token for the customer's page: as unguessable as a sheet's (160 random bits).
pub fn new_details_token() -> String {
    base32(&random_bytes::<20>())
}

/// When a refund whose details arrive at `now` is expected in the customer's account: the next
/// bank business day's transfer file (JST). `None` past the holiday list.
pub fn expected_transfer(now: DateTime<Utc>) -> Option<chrono::NaiveDate> {
    crate::bank_calendar::business_days_after(jst_date(now), 1).ok()
}

/// Why a bill cannot be refunded now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotRefundable {
    /// Not paid (registered, cancelled, expired, moved; a voided payment was never collected).
    NotPaid(InvoiceStatus),
    /// Paid today: the store may still void the payment until the end of the JST day.
    VoidablePayment,
}

/// A repeat bill's payments that may be refunded now: each occurrence standing, once settled
/// or from the day after it was paid (the store may void it until the end of its JST day).
fn refundable_occurrences(
    inv: &Invoice,
    now: DateTime<Utc>,
) -> impl Iterator<Item = &crate::invoice::PaymentEntry> {
    let today = jst_date(now);
    inv.payments.iter().filter(move |e| {
        e.status == "settled" || (e.status == "completed" && jst_date(e.paid_at) < today)
    })
}

/// The payment a new refund of the bill is recorded against: the bill's payment, or a repeat
/// bill's latest occurrence that may be refunded.
pub fn refunded_payment(inv: &Invoice, now: DateTime<Utc>) -> Option<String> {
    match inv.repeat {
        Some(_) => refundable_occurrences(inv, now)
            .last()
            .map(|e| e.id.clone()),
        None => inv.payment_id.clone(),
    }
}

/// What the customer paid for the bill (amount and customer fee), if it is refundable now; for
/// a repeat bill, what its occurrences that may be refunded brought in (whatever the bill's
/// status: a cancelled or expired repeat bill keeps its payments).
pub fn refundable(inv: &Invoice, now: DateTime<Utc>) -> Result<i64, NotRefundable> {
    if inv.repeat.is_some() {
        let paid: i64 = refundable_occurrences(inv, now)
            .map(|e| e.amount.unwrap_or(inv.total()))
            .sum();
        if paid > 0 {
            return Ok(paid);
        }
        return Err(if inv.payment_stands_today(now) {
            NotRefundable::VoidablePayment
        } else {
            NotRefundable::NotPaid(inv.status_at(now))
        });
    }
    let status = inv.status_at(now);
    match status {
        InvoiceStatus::Settled => {}
        InvoiceStatus::Paid => {
            let paid_today = inv.paid_at.is_none_or(|at| jst_date(at) >= jst_date(now));
            if paid_today {
                return Err(NotRefundable::VoidablePayment);
            }
        }
        other => return Err(NotRefundable::NotPaid(other)),
    }
    Ok(inv.amount + inv.customer_fee)
}

/// A refund as the merchant API shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "Refund", extend("additionalProperties" = false))]
pub struct RefundView {
    #[schemars(pattern("^ref_[0-9a-z]{26}$"))]
    pub id: String,
    pub invoice_id: String,
    pub payment_id: String,
    #[schemars(with = "crate::contract::Jpy")]
    pub currency: &'static str,
    /// Yen going back to the customer.
    pub amount: i64,
    pub reason: Option<String>,
    pub status: RefundStatus,
    /// The customer's page for their bank account: hand it over where the bill has no mail
    /// address. Null once the refund is paid or cancelled.
    pub details_url: Option<String>,
    #[schemars(with = "crate::contract::Timestamp")]
    pub created_at: String,
    #[schemars(with = "crate::contract::Timestamp")]
    pub updated_at: String,
    #[schemars(with = "Option<crate::contract::Timestamp>")]
    pub cancelled_at: Option<String>,
    /// The account the customer gave, masked; null until then.
    pub bank_account: Option<MaskedAccountView>,
    #[schemars(with = "Option<crate::contract::Timestamp>")]
    pub details_received_at: Option<String>,
    #[schemars(with = "Option<crate::contract::Timestamp>")]
    pub paid_at: Option<String>,
    /// Why the bank returned the transfer; the page asks the customer for an account again.
    pub failure_reason: Option<String>,
}

impl Refund {
    pub fn view(&self) -> RefundView {
        let open = !matches!(self.status, RefundStatus::Paid | RefundStatus::Cancelled);
        RefundView {
            id: self.id.clone(),
            invoice_id: self.invoice_id.clone(),
            payment_id: self.payment_id.clone(),
            currency: "JPY",
            amount: self.amount,
            reason: self.reason.clone(),
            status: self.status,
            details_url: open.then(|| self.details_url.clone()),
            created_at: jst_timestamp(self.created_at),
            updated_at: jst_timestamp(self.updated_at),
            cancelled_at: self.cancelled_at.map(jst_timestamp),
            bank_account: self.account.clone(),
            details_received_at: self.details_received_at.map(jst_timestamp),
            paid_at: self.paid_at.map(jst_timestamp),
            failure_reason: self.failure_reason.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_their_shape() {
        let id = new_refund_id();
        assert!(is_refund_id(&id), "{id}");
        assert!(!is_refund_id("ref_x"));
        assert!(!is_refund_id(&id.replace("ref_", "po_")));
        assert_eq!(new_details_token().len(), 32);
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn entry(id: &str, status: &str, paid_at: &str, amount: i64) -> crate::invoice::PaymentEntry {
        crate::invoice::PaymentEntry {
            id: id.into(),
            status: status.into(),
            amount: Some(amount),
            customer_fee: Some(50),
            paid_at: at(paid_at),
            voided_at: None,
            store_chain: "lawson".into(),
            store_code: "K7".into(),
            store_transaction_id: format!("T-{id}"),
        }
    }

    /// A repeat bill of 1,000 + 50 yen with these payments.
    fn repeat_bill(max: Option<i64>, payments: Vec<crate::invoice::PaymentEntry>) -> Invoice {
        use crate::invoice::{Customer, Repeat};
        let number = crate::SmartPitNumber::from_body(201_000_000_001);
        let created = at("2026-12-01T00:00:00Z");
        Invoice {
            id: crate::ids::InvoiceId::new(number),
            merchant_id: "m".into(),
            merchant_name: "m".into(),
            merchant_order_id: "o".into(),
            amount: 1_000,
            customer_fee: 50,
            due_date: chrono::NaiveDate::from_ymd_opt(2027, 3, 31).unwrap_or_default(),
            deadline: at("2027-03-31T14:59:59Z").timestamp(),
            description: None,
            store_description: None,
            stored_status: InvoiceStatus::Registered,
            customer: Customer::default(),
            created_at: created,
            updated_at: created,
            payment_id: payments.last().map(|e| e.id.clone()),
            paid_at: None,
            store_chain: None,
            store_code: None,
            store_transaction_id: None,
            occurrences: i64::try_from(payments.iter().filter(|e| e.status != "voided").count())
                .unwrap_or_default(),
            payments,
            cancelled_at: None,
            settled_at: None,
            hold: None,
            version: 1,
            moved_to: None,
            moved_from: None,
            sheet_url: None,
            notices: Vec::new(),
            refunded: 0,
            repeat: Some(Repeat { max_payments: max }),
        }
    }

    #[test]
    fn a_repeat_bill_closes_only_at_its_max_payments() {
        let open = repeat_bill(
            None,
            vec![entry("p1", "completed", "2026-12-01T01:00:00Z", 1_050)],
        );
        assert!(!open.closes_with_next_payment());
        let two = repeat_bill(Some(2), Vec::new());
        assert!(!two.closes_with_next_payment());
        let last = repeat_bill(
            Some(2),
            vec![entry("p1", "completed", "2026-12-01T01:00:00Z", 1_050)],
        );
        assert!(last.closes_with_next_payment());
        assert!(last.payment_stands("p1"));
        assert!(!last.payment_stands("p2"));
    }

    #[test]
    fn a_repeat_bill_refunds_its_settled_and_earlier_occurrences_only() {
        // 2026-12-05 10:00 JST.
        let now = at("2026-12-05T01:00:00Z");
        let inv = repeat_bill(
            None,
            vec![
                entry("p1", "settled", "2026-12-01T01:00:00Z", 1_050),
                entry("p2", "completed", "2026-12-03T01:00:00Z", 900),
                entry("p3", "voided", "2026-12-04T01:00:00Z", 1_050),
                // Today in JST (00:30 JST): voidable still.
                entry("p4", "completed", "2026-12-04T15:30:00Z", 1_050),
            ],
        );
        assert_eq!(refundable(&inv, now), Ok(1_950));
        assert_eq!(refunded_payment(&inv, now).as_deref(), Some("p2"));
        let today_only = repeat_bill(
            None,
            vec![entry("p4", "completed", "2026-12-04T15:30:00Z", 1_050)],
        );
        assert_eq!(
            refundable(&today_only, now),
            Err(NotRefundable::VoidablePayment)
        );
        let none = repeat_bill(None, Vec::new());
        assert_eq!(
            refundable(&none, now),
            Err(NotRefundable::NotPaid(InvoiceStatus::Registered))
        );
    }

    #[test]
    fn statuses_read_back() {
        for s in [
            RefundStatus::AwaitingDetails,
            RefundStatus::Filed,
            RefundStatus::Cancelled,
        ] {
            assert_eq!(RefundStatus::parse(s.as_str()), Some(s));
        }
        assert!(RefundStatus::Failed.cancellable());
        assert!(!RefundStatus::Filed.cancellable());
    }
}
