//! Reading a registration request into a checked [`NewInvoice`], reporting every mistake.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};
use smartpit_shared::clock::parse_due_date;
use smartpit_shared::http::{is_reference, Fields};
use smartpit_shared::invoice::{Customer, STORE_DESCRIPTION_CHARS};
use smartpit_shared::mail_address;
use smartpit_shared::money::{check_total, fee_from_json, yen_from_json, MAX_INVOICE_YEN};
use smartpit_shared::number::{NumberError, SmartPitNumber};
use smartpit_shared::Code;
use smartpit_shared::Problem;

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
}

const FIELDS: &[&str] = &[
    "merchant_order_id",
    "amount",
    "customer_fee",
    "due_date",
    "description",
    "store_description",
    "smartpit_number",
    "customer_ref",
    "customer",
];

pub fn number_message(e: &NumberError) -> String {
    e.to_string()
}

fn customer(body: &Map<String, Value>, f: &mut Fields) -> Customer {
    let mut out = Customer::default();
    let Some(v) = body.get("customer") else {
        return out;
    };
    let Value::Object(c) = v else {
        if !v.is_null() {
            f.push("customer", Code::InvalidCustomer, "must be an object");
        }
        return out;
    };
    for key in c.keys() {
        if key != "email" && key != "mobile_email" {
            f.push(
                &format!("customer.{key}"),
                Code::UnknownField,
                "is not a field of customer",
            );
        }
    }
    for (name, slot) in [
        ("email", &mut out.email),
        ("mobile_email", &mut out.mobile_email),
    ] {
        let field = format!("customer.{name}");
        match c.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => match mail_address::check(s) {
                Ok(()) => *slot = Some(s.clone()),
                Err(m) => f.push(&field, Code::InvalidEmail, m),
            },
            Some(_) => f.push(
                &field,
                Code::InvalidEmail,
                "must be a mail address (a string)",
            ),
        }
    }
    out
}

pub fn new_invoice(body: &Map<String, Value>, now: DateTime<Utc>) -> Result<NewInvoice, Problem> {
    let mut f = Fields::default();
    f.only_known(body, FIELDS);
    let merchant_order_id = f.text(
        body,
        "merchant_order_id",
        Code::InvalidMerchantOrderId,
        64,
        true,
    );
    if let Some(id) = &merchant_order_id {
        if !is_reference(id) {
            f.push(
                "merchant_order_id",
                Code::InvalidMerchantOrderId,
                "may hold only letters, digits and . _ : / # -",
            );
        }
    }
    let amount = match body.get("amount") {
        None => {
            f.push("amount", Code::InvalidAmount, "is required");
            None
        }
        Some(v) => match yen_from_json(v, MAX_INVOICE_YEN) {
            Ok(y) => Some(y),
            Err(m) => {
                f.push("amount", Code::InvalidAmount, m);
                None
            }
        },
    };
    let customer_fee = match body.get("customer_fee") {
        None | Some(Value::Null) => 0,
        Some(v) => fee_from_json(v).unwrap_or_else(|m| {
            f.push("customer_fee", Code::InvalidCustomerFee, m);
            0
        }),
    };
    if let Some(Err(m)) = amount.map(|a| check_total(a, customer_fee)) {
        f.push("amount", Code::InvalidAmount, m);
    }
    let due_date = match body.get("due_date") {
        Some(Value::String(s)) => match parse_due_date(s, now) {
            Ok(d) => Some(d),
            Err(m) => {
                f.push("due_date", Code::InvalidDueDate, m);
                None
            }
        },
        Some(_) => {
            f.push(
                "due_date",
                Code::InvalidDueDate,
                "must be a date as YYYY-MM-DD",
            );
            None
        }
        None => {
            f.push("due_date", Code::InvalidDueDate, "is required");
            None
        }
    };
    let description = f.text(body, "description", Code::InvalidDescription, 200, false);
    let store_description = f.text(
        body,
        "store_description",
        Code::InvalidStoreDescription,
        STORE_DESCRIPTION_CHARS,
        false,
    );
    let number = match body.get("smartpit_number") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match SmartPitNumber::parse(s) {
            Ok(n) => Some(n),
            Err(e) => {
                f.push("smartpit_number", Code::InvalidNumber, number_message(&e));
                None
            }
        },
        Some(_) => {
            f.push(
                "smartpit_number",
                Code::InvalidNumber,
                "must be a string of 13 digits",
            );
            None
        }
    };
    let customer_ref = f.text(body, "customer_ref", Code::InvalidCustomerRef, 64, false);
    if customer_ref.as_deref().is_some_and(|r| !is_reference(r)) {
        f.push(
            "customer_ref",
            Code::InvalidCustomerRef,
            "may hold only letters, digits and . _ : / # -",
        );
    }
    if customer_ref.is_some() && !matches!(body.get("smartpit_number"), None | Some(Value::Null)) {
        f.push(
            "customer_ref",
            Code::InvalidCustomerRef,
            "give either smartpit_number or customer_ref, not both",
        );
    }
    let customer = customer(body, &mut f);
    f.finish()?;
    match (merchant_order_id, amount, due_date) {
        (Some(merchant_order_id), Some(amount), Some(due_date)) => Ok(NewInvoice {
            merchant_order_id,
            amount,
            customer_fee,
            due_date,
            description,
            store_description,
            number,
            customer_ref,
            customer,
        }),
        _ => Err(Problem::internal(&"validation passed without all fields")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn code(v: Value) -> String {
        let now = Utc::now();
        match new_invoice(&body(v), now) {
            Ok(_) => "ok".into(),
            Err(p) => p.code.to_string(),
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
