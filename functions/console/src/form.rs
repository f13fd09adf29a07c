//! The console's forms: fields read by `url`'s form parser, and the bill form turned into the
//! API's own registration request (its rules and messages are the API's).

use serde_json::{Map, Value};
use smartpit_invoices::requests::RegisterInvoice;
use smartpit_shared::ids::{base32, random_bytes};
use smartpit_shared::{Invoice, Problem};

/// The largest form read (a bill's fields are short).
pub const FORM_BYTES: usize = 16 * 1024;

/// The form's fields (`application/x-www-form-urlencoded`); a body too large reads empty.
pub fn fields(body: &[u8]) -> Vec<(String, String)> {
    if body.len() > FORM_BYTES {
        return Vec::new();
    }
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// A field's value ("" when absent; the first when given twice).
pub fn get<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// The bill form as filled in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceForm {
    /// The form's own idempotency key: submitting the same form twice registers once.
    pub idem: String,
    pub merchant_order_id: String,
    pub amount: String,
    pub customer_fee: String,
    pub due_date: String,
    pub smartpit_number: String,
    pub email: String,
    pub mobile_email: String,
    pub description: String,
}

/// What the API calls each field, and the form's name for it.
pub const FIELDS: &[&str] = &[
    "merchant_order_id",
    "amount",
    "customer_fee",
    "due_date",
    "smartpit_number",
    "email",
    "mobile_email",
    "description",
];

impl InvoiceForm {
    /// An empty form with a new key.
    pub fn fresh() -> Self {
        InvoiceForm {
            idem: base32(&random_bytes::<16>()),
            ..InvoiceForm::default()
        }
    }

    pub fn read(f: &[(String, String)]) -> Self {
        let v = |name: &str| get(f, name).trim().to_string();
        let idem = v("idem");
        InvoiceForm {
            // A form without its key (or with an odd one) gets one: it may still register once.
            idem: if idem.len() == 26 && idem.bytes().all(|b| b.is_ascii_alphanumeric()) {
                idem
            } else {
                base32(&random_bytes::<16>())
            },
            merchant_order_id: v("merchant_order_id"),
            amount: v("amount"),
            customer_fee: v("customer_fee"),
            due_date: v("due_date"),
            smartpit_number: v("smartpit_number"),
            email: v("email"),
            mobile_email: v("mobile_email"),
            description: v("description"),
        }
    }

    pub fn value(&self, field: &str) -> &str {
        match field {
            "merchant_order_id" => &self.merchant_order_id,
            "amount" => &self.amount,
            "customer_fee" => &self.customer_fee,
            "due_date" => &self.due_date,
            "smartpit_number" => &self.smartpit_number,
            "email" => &self.email,
            "mobile_email" => &self.mobile_email,
            _ => &self.description,
        }
    }

    /// The API's registration request (and its JSON, the idempotency fingerprint's input), or
    /// each field's mistake that the request cannot even carry (yen not a whole number).
    pub fn request(&self) -> Result<(RegisterInvoice, Value), Vec<(String, String)>> {
        let mut body = Map::new();
        let mut errors = Vec::new();
        let text = |s: &str| (!s.is_empty()).then(|| Value::String(s.to_string()));
        for (name, value) in [
            ("merchant_order_id", &self.merchant_order_id),
            ("due_date", &self.due_date),
            ("smartpit_number", &self.smartpit_number),
            ("description", &self.description),
        ] {
            if let Some(v) = text(value) {
                body.insert(name.into(), v);
            }
        }
        for (name, value) in [
            ("amount", &self.amount),
            ("customer_fee", &self.customer_fee),
        ] {
            if value.is_empty() {
                continue;
            }
            match yen(value) {
                Ok(n) => {
                    body.insert(name.into(), Value::from(n));
                }
                Err(m) => errors.push((name.to_string(), m)),
            }
        }
        let mut customer = Map::new();
        for (name, value) in [("email", &self.email), ("mobile_email", &self.mobile_email)] {
            if let Some(v) = text(value) {
                customer.insert(name.into(), v);
            }
        }
        if !customer.is_empty() {
            body.insert("customer".into(), Value::Object(customer));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let json = Value::Object(body);
        match serde_json::from_value::<RegisterInvoice>(json.clone()) {
            Ok(r) => Ok((r, json)),
            Err(e) => Err(vec![(String::new(), e.to_string())]),
        }
    }
}

/// Whole yen as people write it (`1,000`, `¥1000`, `1000円`), or why not.
fn yen(value: &str) -> Result<i64, String> {
    let digits: String = value
        .chars()
        .filter(|c| !matches!(c, ',' | '¥' | '円' | ' '))
        .collect();
    digits
        .parse::<i64>()
        .map_err(|_| "whole yen, digits only".to_string())
}

/// The change form's fields: the bill's terms and the customer's addresses.
pub const CHANGE_FIELDS: &[&str] = &[
    "amount",
    "customer_fee",
    "due_date",
    "description",
    "store_description",
    "email",
    "mobile_email",
];

/// The bill's current value of a change form's field.
pub fn current(inv: &Invoice, field: &str) -> String {
    match field {
        "amount" => inv.amount.to_string(),
        "customer_fee" => inv.customer_fee.to_string(),
        "due_date" => inv.due_date.to_string(),
        "description" => inv.description.clone().unwrap_or_default(),
        "store_description" => inv.store_description.clone().unwrap_or_default(),
        "email" => inv.customer.email.clone().unwrap_or_default(),
        _ => inv.customer.mobile_email.clone().unwrap_or_default(),
    }
}

/// The API's change (`PATCH /v1/invoices/{id}`) the form asks for: only the fields that differ
/// from the bill (a field emptied is removed: null), or `None` when nothing differs; each
/// field's mistake the request cannot even carry (yen not a whole number).
pub fn change_request(
    f: &[(String, String)],
    inv: &Invoice,
) -> Result<Option<Value>, Vec<(String, String)>> {
    let mut body = Map::new();
    let mut customer = Map::new();
    let mut errors = Vec::new();
    for field in CHANGE_FIELDS {
        let given = get(f, field).trim();
        if given == current(inv, field) {
            continue;
        }
        let value = match *field {
            "amount" | "customer_fee" => match yen(if given.is_empty() { "0" } else { given }) {
                Ok(n) if n.to_string() == current(inv, field) => continue,
                Ok(n) => Value::from(n),
                Err(m) => {
                    errors.push((field.to_string(), m));
                    continue;
                }
            },
            _ if given.is_empty() => Value::Null,
            _ => Value::String(given.to_string()),
        };
        match *field {
            "email" | "mobile_email" => customer.insert(field.to_string(), value),
            _ => body.insert(field.to_string(), value),
        };
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if !customer.is_empty() {
        body.insert("customer".into(), Value::Object(customer));
    }
    Ok((!body.is_empty()).then_some(Value::Object(body)))
}

/// A problem's mistakes, field by field (the form's names), or its detail.
pub fn errors_of(p: &Problem) -> Vec<(String, String)> {
    match &p.members.errors {
        Some(list) if !list.is_empty() => list
            .iter()
            .map(|e| {
                let field = e.field.trim_start_matches("customer.").to_string();
                (field, e.message.clone())
            })
            .collect(),
        _ => vec![(
            String::new(),
            p.detail
                .clone()
                .unwrap_or_else(|| p.code.as_str().replace('_', " ")),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_the_api_request() {
        let f = fields(
            "idem=abcdefghijklmnopqrstuvwxyz&merchant_order_id=ORD-1&amount=1%2C500&due_date=2026-12-20&smartpit_number=2010000000014&email=&x=1"
                .as_bytes(),
        );
        let form = InvoiceForm::read(&f);
        assert_eq!(form.idem, "abcdefghijklmnopqrstuvwxyz");
        let (_, json) = form.request().expect("a request");
        assert_eq!(json["amount"], 1500);
        assert_eq!(json["merchant_order_id"], "ORD-1");
        assert!(json.get("customer").is_none());
        let bad = InvoiceForm {
            amount: "12.5".into(),
            ..form
        };
        assert_eq!(
            bad.request().err().map(|e| e[0].0.clone()).as_deref(),
            Some("amount")
        );
        assert_eq!(fields(&vec![b'a'; FORM_BYTES + 1]), Vec::new());
        assert_eq!(InvoiceForm::read(&[]).idem.len(), 26);
    }
}
