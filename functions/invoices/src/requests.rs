//! What the invoice routes take: each body and query string as a serde type, and the rules its
//! values must also meet (`Checked::check`). `new_invoice` turns a checked registration into
//! the bill's terms.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::Deserialize;
use smartpit_shared::clock::{check_day_ahead, check_due_date, Day};
use smartpit_shared::contract::Reference;
use smartpit_shared::invoice::{
    Customer, Repeat, MAX_REPEAT_DAYS, MAX_REPEAT_PAYMENTS, STORE_DESCRIPTION_CHARS,
};
use smartpit_shared::money::{check_total, MAX_CUSTOMER_FEE_YEN, MAX_INVOICE_YEN};
use smartpit_shared::request::{Checked, Patch, Report, Whole};
use smartpit_shared::{Code, InvoiceStatus, Problem, SmartPitNumber};

/// Longest `description`.
pub const DESCRIPTION_CHARS: usize = 200;
/// Longest `merchant_order_id` and `customer_ref`.
pub const REFERENCE_CHARS: usize = 64;

/// `POST /v1/invoices`: a bill on a number (a card's, or a sheet number of this merchant), on
/// the merchant's joint card by `customer_ref`, or without either (a sheet number is issued and
/// its PDF mailed to `customer.email`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "NewInvoice")]
pub struct RegisterInvoice {
    #[schemars(required, with = "Reference")]
    pub merchant_order_id: Option<String>,
    /// yen; with customer_fee at most 300000 in all (what the store collects), else 400
    /// invalid_amount
    #[schemars(required, with = "Whole", range(min = 1, max = 300000))]
    pub amount: Option<Whole>,
    #[schemars(range(min = 0, max = 1000))]
    pub customer_fee: Option<Whole>,
    /// JST, today to 59 days ahead; payable until 23:59 that day. Required unless
    /// repeat.until is given (a repeat bill's due date is its until).
    #[schemars(with = "Day")]
    pub due_date: Option<Day>,
    #[schemars(length(max = 200))]
    pub description: Option<String>,
    /// what the customer buys, as the kiosk's screen and the store's receipt show it beside the
    /// merchant's name (at most 20 characters)
    #[schemars(length(max = 20))]
    pub store_description: Option<String>,
    pub smartpit_number: Option<SmartPitNumber>,
    /// the merchant's own reference of a joint card it issued (instead of the number)
    #[schemars(with = "Option<Reference>")]
    pub customer_ref: Option<String>,
    pub customer: Option<CustomerAddresses>,
    /// a repeat bill (リピートオプション), on a card or joint card only (else 400
    /// repeat_not_supported): payable again after each payment until cancelled, until its
    /// until day or its max_payments
    pub repeat: Option<RepeatTerms>,
}

/// How long a repeat bill stays payable.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct RepeatTerms {
    /// the bill closes (paid) with this payment; without it, payable until its due date
    #[schemars(with = "Option<Whole>", range(min = 1, max = 99))]
    pub max_payments: Option<Whole>,
    /// JST, today to 365 days ahead: the last payable day (the bill's due date); without it,
    /// due_date is required
    #[schemars(with = "Option<Day>")]
    pub until: Option<Day>,
}

/// Where the customer is told of the bill.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct CustomerAddresses {
    #[schemars(email, length(max = 254))]
    pub email: Option<String>,
    #[schemars(email, length(max = 254))]
    pub mobile_email: Option<String>,
}

/// An amount of 1 to 300,000 yen.
fn check_amount(r: &mut Report, amount: i64) {
    if amount < 1 {
        r.push("amount", Code::InvalidAmount, "must be at least 1");
    } else if amount > MAX_INVOICE_YEN {
        r.push(
            "amount",
            Code::InvalidAmount,
            format!("must be at most {MAX_INVOICE_YEN}"),
        );
    }
}

/// A customer fee of 0 to 1,000 yen.
fn check_fee(r: &mut Report, fee: i64) {
    if !(0..=MAX_CUSTOMER_FEE_YEN).contains(&fee) {
        r.push(
            "customer_fee",
            Code::InvalidCustomerFee,
            format!("must be from 0 to {MAX_CUSTOMER_FEE_YEN}"),
        );
    }
}

/// What the store collects, the amount and the fee together, is at most 300,000 yen.
fn check_both(r: &mut Report, amount: i64, fee: i64) {
    let in_range =
        (1..=MAX_INVOICE_YEN).contains(&amount) && (0..=MAX_CUSTOMER_FEE_YEN).contains(&fee);
    if let (true, Err(m)) = (in_range, check_total(amount, fee)) {
        r.push("amount", Code::InvalidAmount, m);
    }
}

fn check_descriptions(r: &mut Report, description: Option<&str>, store: Option<&str>) {
    r.text(
        "description",
        Code::InvalidDescription,
        description,
        DESCRIPTION_CHARS,
    );
    r.text(
        "store_description",
        Code::InvalidStoreDescription,
        store,
        STORE_DESCRIPTION_CHARS,
    );
}

impl Checked for RegisterInvoice {
    fn code_of(field: &str) -> Code {
        match field {
            "merchant_order_id" => Code::InvalidMerchantOrderId,
            "amount" => Code::InvalidAmount,
            "customer_fee" => Code::InvalidCustomerFee,
            "due_date" => Code::InvalidDueDate,
            "description" => Code::InvalidDescription,
            "store_description" => Code::InvalidStoreDescription,
            "smartpit_number" => Code::InvalidNumber,
            "customer_ref" => Code::InvalidCustomerRef,
            "customer" => Code::InvalidCustomer,
            f if f.starts_with("repeat") => Code::InvalidRepeat,
            _ => Code::InvalidEmail,
        }
    }

    fn check(&self, now: DateTime<Utc>, r: &mut Report) {
        r.required(
            "merchant_order_id",
            Code::InvalidMerchantOrderId,
            &self.merchant_order_id,
        );
        r.reference(
            "merchant_order_id",
            Code::InvalidMerchantOrderId,
            self.merchant_order_id.as_deref(),
            REFERENCE_CHARS,
        );
        r.required("amount", Code::InvalidAmount, &self.amount);
        let fee = self.customer_fee.map_or(0, |f| f.0);
        if let Some(Whole(a)) = self.amount {
            check_amount(r, a);
        }
        check_fee(r, fee);
        if let Some(Whole(a)) = self.amount {
            check_both(r, a, fee);
        }
        let until = self.repeat.as_ref().and_then(|t| t.until);
        if until.is_none() {
            r.required("due_date", Code::InvalidDueDate, &self.due_date);
        }
        if let Some(Err(m)) = self.due_date.map(|d| check_due_date(d.0, now)) {
            r.push("due_date", Code::InvalidDueDate, m);
        }
        if let Some(t) = &self.repeat {
            check_repeat(r, t, now);
            if t.until.is_some() && self.due_date.is_some() {
                r.push(
                    "repeat.until",
                    Code::InvalidRepeat,
                    "give either due_date or repeat.until: a repeat bill's due date is its until",
                );
            }
            if self.smartpit_number.is_none() && self.customer_ref.is_none() {
                r.push(
                    "repeat",
                    Code::RepeatNotSupported,
                    "a sheet serves one purchase: register a repeat bill on the customer's card \
                     (smartpit_number) or joint card (customer_ref)",
                );
            }
        }
        check_descriptions(
            r,
            self.description.as_deref(),
            self.store_description.as_deref(),
        );
        r.reference(
            "customer_ref",
            Code::InvalidCustomerRef,
            self.customer_ref.as_deref(),
            REFERENCE_CHARS,
        );
        if self.customer_ref.is_some() && self.smartpit_number.is_some() {
            r.push(
                "customer_ref",
                Code::InvalidCustomerRef,
                "give either smartpit_number or customer_ref, not both",
            );
        }
        if let Some(c) = &self.customer {
            r.mail_address("customer.email", c.email.as_deref());
            r.mail_address("customer.mobile_email", c.mobile_email.as_deref());
        }
    }
}

/// A repeat bill's terms: 1 to 99 payments, the last payable day within 365 days.
fn check_repeat(r: &mut Report, t: &RepeatTerms, now: DateTime<Utc>) {
    if let Some(Whole(m)) = t.max_payments {
        if !(1..=MAX_REPEAT_PAYMENTS).contains(&m) {
            r.push(
                "repeat.max_payments",
                Code::InvalidRepeat,
                format!("must be from 1 to {MAX_REPEAT_PAYMENTS}"),
            );
        }
    }
    if let Some(Err(m)) = t.until.map(|d| check_day_ahead(d.0, now, MAX_REPEAT_DAYS)) {
        r.push("repeat.until", Code::InvalidRepeat, m);
    }
}

/// A registration's terms, checked.
pub struct NewInvoice {
    pub merchant_order_id: String,
    pub amount: i64,
    pub customer_fee: i64,
    pub due_date: NaiveDate,
    pub description: Option<String>,
    pub store_description: Option<String>,
    pub number: Option<SmartPitNumber>,
    /// The merchant's own reference of a joint card it issued, instead of the number.
    pub customer_ref: Option<String>,
    pub customer: Customer,
    pub repeat: Option<Repeat>,
}

/// The terms of a checked registration (`check` has required every member this needs).
pub fn new_invoice(r: RegisterInvoice) -> Result<NewInvoice, Problem> {
    let until = r.repeat.as_ref().and_then(|t| t.until);
    let (Some(merchant_order_id), Some(Whole(amount)), Some(Day(due_date))) =
        (r.merchant_order_id, r.amount, until.or(r.due_date))
    else {
        return Err(Problem::internal(
            &"a checked registration without its terms",
        ));
    };
    let customer = r.customer.unwrap_or_default();
    Ok(NewInvoice {
        merchant_order_id,
        amount,
        customer_fee: r.customer_fee.map_or(0, |f| f.0),
        due_date,
        description: r.description,
        store_description: r.store_description,
        number: r.smartpit_number,
        customer_ref: r.customer_ref,
        repeat: r.repeat.map(|t| Repeat {
            max_payments: t.max_payments.map(|m| m.0),
        }),
        customer: Customer {
            email: customer.email,
            mobile_email: customer.mobile_email,
        },
    })
}

/// `PATCH /v1/invoices/{id}`: new terms, each left out to keep it; `description` and
/// `store_description` null to clear them.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "InvoiceChange", extend("minProperties" = 1))]
pub struct ChangeInvoice {
    /// yen; with the bill's customer_fee at most 300000 in all, else 400 invalid_amount
    #[serde(default)]
    #[schemars(with = "Whole", range(min = 1, max = 300000))]
    pub amount: Patch<Whole>,
    #[serde(default)]
    #[schemars(with = "Whole", range(min = 0, max = 1000))]
    pub customer_fee: Patch<Whole>,
    #[serde(default)]
    #[schemars(with = "Day")]
    pub due_date: Patch<Day>,
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub description: Patch<String>,
    #[serde(default)]
    #[schemars(length(max = 20))]
    pub store_description: Patch<String>,
    /// A corrected address: the new one gets the bill's mail, the old one nothing more. An
    /// address alone changes neither the bill's version nor its sheet.
    pub customer: Option<CustomerChange>,
}

/// The customer's addresses in a change: each left out to keep it, null to remove it.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline, extend("minProperties" = 1))]
pub struct CustomerChange {
    #[serde(default)]
    #[schemars(email, length(max = 254))]
    pub email: Patch<String>,
    #[serde(default)]
    #[schemars(email, length(max = 254))]
    pub mobile_email: Patch<String>,
}

impl ChangeInvoice {
    /// Some term of the bill changes (a new version, a reissued sheet), not only an address.
    pub fn changes_terms(&self) -> bool {
        !(self.amount.is_absent()
            && self.customer_fee.is_absent()
            && self.due_date.is_absent()
            && self.description.is_absent()
            && self.store_description.is_absent())
    }
}

impl Checked for ChangeInvoice {
    fn code_of(field: &str) -> Code {
        match field {
            "amount" => Code::InvalidAmount,
            "customer_fee" => Code::InvalidCustomerFee,
            "due_date" => Code::InvalidDueDate,
            "description" => Code::InvalidDescription,
            "store_description" => Code::InvalidStoreDescription,
            "customer" => Code::InvalidCustomer,
            f if f.starts_with("customer.") => Code::InvalidEmail,
            _ => Code::InvalidRequest,
        }
    }

    /// What the body alone decides; the terms against the bill are `change::changes`.
    fn check(&self, _: DateTime<Utc>, r: &mut Report) {
        let addresses = self
            .customer
            .as_ref()
            .is_some_and(|c| !(c.email.is_absent() && c.mobile_email.is_absent()));
        if !self.changes_terms() && !addresses {
            r.push(
                "amount",
                Code::NothingToChange,
                "give at least one of amount, due_date, description, store_description, customer_fee, customer",
            );
        }
        if let Some(c) = &self.customer {
            for (field, p) in [
                ("customer.email", &c.email),
                ("customer.mobile_email", &c.mobile_email),
            ] {
                if let Patch::Value(v) = p {
                    r.mail_address(field, Some(v));
                }
            }
        }
        match self.amount {
            Patch::Value(Whole(a)) => check_amount(r, a),
            Patch::Null => r.push("amount", Code::InvalidAmount, "must not be null"),
            Patch::Absent => {}
        }
        match self.customer_fee {
            Patch::Value(Whole(f)) => check_fee(r, f),
            Patch::Null => r.push("customer_fee", Code::InvalidCustomerFee, "must not be null"),
            Patch::Absent => {}
        }
        if let Patch::Null = self.due_date {
            r.push("due_date", Code::InvalidDueDate, "must not be null");
        }
        fn given(p: &Patch<String>) -> Option<&str> {
            match p {
                Patch::Value(s) => Some(s.as_str()),
                _ => None,
            }
        }
        check_descriptions(r, given(&self.description), given(&self.store_description));
    }
}

/// `POST /v1/invoices/{id}/move`: the card the bill moves to.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "InvoiceMove")]
pub struct MoveInvoice {
    #[schemars(required, with = "SmartPitNumber")]
    pub smartpit_number: Option<SmartPitNumber>,
}

impl Checked for MoveInvoice {
    fn code_of(_: &str) -> Code {
        Code::InvalidNumber
    }

    fn check(&self, _: DateTime<Utc>, r: &mut Report) {
        if self.smartpit_number.is_none() {
            r.push(
                "smartpit_number",
                Code::InvalidNumber,
                "is required (a string of 13 digits)",
            );
        }
    }
}

/// `GET /v1/invoices?status=&merchant_order_id=&smartpit_number=&created_from=&created_to=&limit=&cursor=`:
/// every condition given holds.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInvoices {
    /// only the bills in this status
    pub status: Option<InvoiceStatus>,
    /// only the bill registered under this order id
    #[schemars(with = "Option<Reference>")]
    pub merchant_order_id: Option<String>,
    /// only the bills on this number
    pub smartpit_number: Option<SmartPitNumber>,
    /// only the bills registered on or after this JST day
    #[schemars(with = "Option<Day>")]
    pub created_from: Option<Day>,
    /// only the bills registered on or before this JST day
    #[schemars(with = "Option<Day>")]
    pub created_to: Option<Day>,
    #[serde(default)]
    pub limit: smartpit_shared::request::Limit,
    /// The `next_cursor` of the previous page of the same listing
    pub cursor: Option<String>,
}

impl Checked for ListInvoices {
    fn code_of(field: &str) -> Code {
        match field {
            "status" => Code::InvalidStatus,
            "limit" => Code::InvalidLimit,
            "merchant_order_id" => Code::InvalidMerchantOrderId,
            "smartpit_number" => Code::InvalidNumber,
            "created_from" | "created_to" => Code::InvalidDate,
            _ => Code::InvalidCursor,
        }
    }

    fn check(&self, _: DateTime<Utc>, r: &mut Report) {
        r.reference(
            "merchant_order_id",
            Code::InvalidMerchantOrderId,
            self.merchant_order_id.as_deref(),
            REFERENCE_CHARS,
        );
        if let (Some(Day(from)), Some(Day(to))) = (self.created_from, self.created_to) {
            if from > to {
                r.push(
                    "created_to",
                    Code::InvalidDate,
                    "must not be before created_from",
                );
            }
        }
    }
}

impl ListInvoices {
    pub fn filter(&self) -> smartpit_shared::invoice::InvoiceFilter {
        smartpit_shared::invoice::InvoiceFilter {
            status: self.status,
            merchant_order_id: self.merchant_order_id.clone(),
            number: self.smartpit_number,
            created_from: self.created_from.map(|d| d.0),
            created_to: self.created_to.map(|d| d.0),
        }
    }
}

/// A page of `GET /v1/invoices`, newest first.
#[derive(Debug, serde::Serialize, JsonSchema)]
#[schemars(rename = "InvoicePage", extend("additionalProperties" = false))]
pub struct InvoicePageAnswer {
    pub invoices: Vec<smartpit_shared::invoice::InvoiceView>,
    /// Pass as `cursor` for the next page; null on the last
    pub next_cursor: Option<String>,
}

/// `GET /v1/reports/payments?date=YYYY-MM-DD`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentsReport {
    /// the JST day the bills were collected
    #[schemars(required, with = "Day", extend("examples" = ["2026-11-27"]))]
    pub date: Option<Day>,
}

impl Checked for PaymentsReport {
    fn code_of(_: &str) -> Code {
        Code::InvalidDate
    }

    fn check(&self, _: DateTime<Utc>, r: &mut Report) {
        r.required("date", Code::InvalidDate, &self.date);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn code(v: Value) -> String {
        match smartpit_shared::request::read_value::<RegisterInvoice>(&v, Utc::now()) {
            Ok(_) => "ok".into(),
            Err(p) => p.code.to_string(),
        }
    }

    #[test]
    fn amounts_are_only_whole_positive_numbers_in_range() {
        let today = smartpit_shared::clock::jst_date(Utc::now()).to_string();
        let with_amount = |v: Value| {
            json!({"merchant_order_id": "A-1", "amount": v, "due_date": today,
                   "smartpit_number": "4901234567894"})
        };
        assert_eq!(code(with_amount(json!(1))), "ok");
        assert_eq!(code(with_amount(json!(300000))), "ok");
        for bad in [
            json!(0),
            json!(-1),
            json!(300001),
            json!("100"),
            json!(1.5),
            json!(100.0),
            json!(true),
            json!(null),
            json!(18446744073709551615u64),
        ] {
            assert_eq!(code(with_amount(bad.clone())), "invalid_amount", "{bad}");
        }
    }

    #[test]
    fn each_mistake_has_its_code() {
        let today = smartpit_shared::clock::jst_date(Utc::now()).to_string();
        let good = json!({"merchant_order_id": "A-1", "amount": 100, "due_date": today,
                          "smartpit_number": "4901234567894"});
        assert_eq!(code(good.clone()), "ok");
        let with = |k: &str, v: Value| {
            let mut b = good.clone();
            b[k] = v;
            b
        };
        assert_eq!(code(with("amount", json!(0))), "invalid_amount");
        assert_eq!(code(with("amount", json!("100"))), "invalid_amount");
        assert_eq!(
            code(with("due_date", json!("2000-01-01"))),
            "invalid_due_date"
        );
        assert_eq!(
            code(with("smartpit_number", json!("4901234567895"))),
            "invalid_number"
        );
        assert_eq!(
            code(with("merchant_order_id", json!("a b"))),
            "invalid_merchant_order_id"
        );
        assert_eq!(
            code(with("description", json!("a\u{0}b"))),
            "invalid_description"
        );
        assert_eq!(
            code(with("customer", json!({"email": "nope"}))),
            "invalid_email"
        );
        assert_eq!(code(with("surprise", json!(1))), "unknown_field");
        assert_eq!(code(with("customer_fee", json!(0))), "ok");
        assert_eq!(code(with("customer_fee", json!(1000))), "ok");
        // The store collects amount and fee together: at most ¥300,000 in all.
        let mut top = good.clone();
        top["amount"] = json!(299_000);
        top["customer_fee"] = json!(1_000);
        assert_eq!(code(top.clone()), "ok");
        top["amount"] = json!(299_001);
        assert_eq!(code(top), "invalid_amount");
        for bad in [json!(1001), json!(-1), json!(1.5), json!("110")] {
            assert_eq!(code(with("customer_fee", bad)), "invalid_customer_fee");
        }
    }
}
