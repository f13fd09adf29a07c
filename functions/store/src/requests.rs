//! What the store routes take: each body as a serde type, and the rules its values must also
//! meet (`Checked::check`).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Deserialize;
use smartpit_shared::contract::{InvoiceIds, Reference, StoreCode};
use smartpit_shared::db::PaymentRequest;
use smartpit_shared::money::MAX_INVOICE_YEN;
use smartpit_shared::request::{Checked, Report, Whole};
use smartpit_shared::{Code, InvoiceId, Problem, SmartPitNumber};

use crate::MAX_INVOICES_PER_PAYMENT;

/// Longest `store_code`.
pub const STORE_CODE_CHARS: usize = 32;
/// Longest `store_transaction_id`.
pub const STORE_TRANSACTION_ID_CHARS: usize = 64;
/// The most one payment may collect: twenty bills of the most a bill may be.
pub const MAX_PAYMENT_YEN: i64 = MAX_INVOICE_YEN * MAX_INVOICES_PER_PAYMENT as i64;

fn check_store_code(r: &mut Report, code: &Option<String>) {
    r.required("store_code", Code::InvalidStoreCode, code);
    r.reference(
        "store_code",
        Code::InvalidStoreCode,
        code.as_deref(),
        STORE_CODE_CHARS,
    );
}

/// `invoice_ids`: 1 to 20 distinct invoice ids.
fn check_invoice_ids(r: &mut Report, ids: &Option<Vec<String>>) {
    let list = ids.as_deref().unwrap_or_default();
    if list.is_empty() || list.len() > MAX_INVOICES_PER_PAYMENT {
        r.push(
            "invoice_ids",
            Code::InvalidInvoiceIds,
            format!("must be a list of 1 to {MAX_INVOICES_PER_PAYMENT} invoice ids"),
        );
        return;
    }
    for (i, id) in list.iter().enumerate() {
        let field = format!("invoice_ids[{i}]");
        if InvoiceId::parse(id).is_none() {
            r.push(&field, Code::InvalidInvoiceIds, "is not an invoice id");
        } else if list[..i].contains(id) {
            r.push(&field, Code::InvalidInvoiceIds, "is listed twice");
        }
    }
}

/// The ids of a checked `invoice_ids`.
fn invoice_ids(ids: Option<Vec<String>>) -> Vec<InvoiceId> {
    ids.unwrap_or_default()
        .iter()
        .filter_map(|id| InvoiceId::parse(id))
        .collect()
}

/// `POST /store/v1/lookup`: the store, and the number typed at a kiosk or the barcode scanned
/// at a register (exactly one).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "LookupRequest")]
pub struct Lookup {
    #[schemars(required, with = "StoreCode")]
    pub store_code: Option<String>,
    /// typed at a kiosk (kiosk chains only)
    // Read once the chain is known to type numbers (a register chain's is refused as such).
    #[schemars(with = "Option<SmartPitNumber>")]
    pub smartpit_number: Option<String>,
    /// a card's 13 digits or a sheet's 44-digit payment code
    pub barcode: Option<String>,
}

impl Checked for Lookup {
    fn code_of(field: &str) -> Code {
        match field {
            "store_code" => Code::InvalidStoreCode,
            "smartpit_number" => Code::InvalidNumber,
            _ => Code::InvalidBarcode,
        }
    }

    fn check(&self, _: DateTime<Utc>, r: &mut Report) {
        check_store_code(r, &self.store_code);
    }
}

/// `POST /store/v1/payments`: what the customer paid, for which bills.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PaymentReport")]
pub struct Payment {
    #[schemars(required, with = "StoreCode")]
    pub store_code: Option<String>,
    #[schemars(required, with = "Reference")]
    pub store_transaction_id: Option<String>,
    #[schemars(required, with = "InvoiceIds")]
    pub invoice_ids: Option<Vec<String>>,
    /// the total in yen, customer fees included
    #[schemars(required, with = "Whole", range(min = 1, max = 6000000))]
    pub amount: Option<Whole>,
    /// The kiosk slip the customer brought to the register, if any.
    #[schemars(pattern("^slp_[0-9a-z]{16}$"))]
    pub slip_id: Option<String>,
}

impl Checked for Payment {
    fn code_of(field: &str) -> Code {
        match field {
            "store_code" => Code::InvalidStoreCode,
            "store_transaction_id" => Code::InvalidStoreTransactionId,
            "amount" => Code::InvalidAmount,
            "slip_id" => Code::InvalidSlipId,
            _ => Code::InvalidInvoiceIds,
        }
    }

    fn check(&self, _: DateTime<Utc>, r: &mut Report) {
        check_store_code(r, &self.store_code);
        r.required(
            "store_transaction_id",
            Code::InvalidStoreTransactionId,
            &self.store_transaction_id,
        );
        r.reference(
            "store_transaction_id",
            Code::InvalidStoreTransactionId,
            self.store_transaction_id.as_deref(),
            STORE_TRANSACTION_ID_CHARS,
        );
        check_invoice_ids(r, &self.invoice_ids);
        if let Some(s) = &self.slip_id {
            let is_slip =
                s.len() == 20 && s.starts_with("slp_") && smartpit_shared::request::is_reference(s);
            if !is_slip {
                r.push("slip_id", Code::InvalidSlipId, "is not a slip id");
            }
        }
        match self.amount.map(|a| a.0) {
            None => r.push("amount", Code::InvalidAmount, "is required"),
            Some(a) if a < 1 => r.push("amount", Code::InvalidAmount, "must be at least 1"),
            Some(a) if a > MAX_PAYMENT_YEN => r.push(
                "amount",
                Code::InvalidAmount,
                format!("must be at most {MAX_PAYMENT_YEN}"),
            ),
            Some(_) => {}
        }
    }
}

impl Payment {
    /// The payment `chain` reports (the body checked); one payment covers one number's bills.
    pub fn into_request(self, chain_id: &str) -> Result<PaymentRequest, Problem> {
        let ids = invoice_ids(self.invoice_ids);
        let first = ids.first().map(InvoiceId::number);
        if ids.iter().any(|id| Some(id.number()) != first) {
            return Err(Problem::of(Code::MixedNumbers).detail(
                "The invoices belong to different numbers: report one payment per card or \
                 sheet. Nothing was paid.",
            ));
        }
        match (self.store_code, self.store_transaction_id, self.amount) {
            (Some(store_code), Some(store_transaction_id), Some(Whole(amount))) => {
                Ok(PaymentRequest {
                    chain_id: chain_id.to_string(),
                    store_code,
                    store_transaction_id,
                    invoice_ids: ids,
                    amount,
                    slip_id: self.slip_id,
                })
            }
            _ => Err(Problem::internal(&"a checked payment without its terms")),
        }
    }
}

/// `POST /store/v1/slips`: the bills a kiosk prints a slip for.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlipRequest {
    #[schemars(required, with = "StoreCode")]
    pub store_code: Option<String>,
    #[schemars(required, with = "SmartPitNumber")]
    pub smartpit_number: Option<SmartPitNumber>,
    #[schemars(required, with = "InvoiceIds")]
    pub invoice_ids: Option<Vec<String>>,
}

impl Checked for SlipRequest {
    fn code_of(field: &str) -> Code {
        match field {
            "store_code" => Code::InvalidStoreCode,
            "smartpit_number" => Code::InvalidNumber,
            _ => Code::InvalidInvoiceIds,
        }
    }

    fn check(&self, _: DateTime<Utc>, r: &mut Report) {
        check_store_code(r, &self.store_code);
        r.required(
            "smartpit_number",
            Code::InvalidNumber,
            &self.smartpit_number,
        );
        check_invoice_ids(r, &self.invoice_ids);
    }
}

impl SlipRequest {
    /// The store, the number and its bills (the body checked).
    pub fn into_parts(self) -> Result<(String, SmartPitNumber, Vec<InvoiceId>), Problem> {
        match (self.store_code, self.smartpit_number) {
            (Some(store), Some(number)) => Ok((store, number, invoice_ids(self.invoice_ids))),
            _ => Err(Problem::internal(
                &"a checked slip request without its terms",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use smartpit_shared::request::read_value;

    fn code<T: Checked + std::fmt::Debug>(v: Value) -> String {
        match read_value::<T>(&v, Utc::now()) {
            Ok(_) => "ok".into(),
            Err(p) => p.code.to_string(),
        }
    }

    fn with_ids(good: &Value, ids: Value) -> Value {
        let mut b = good.clone();
        b["invoice_ids"] = ids;
        b
    }

    #[test]
    fn a_payment_report_is_checked_member_by_member() {
        let number = SmartPitNumber::parse("4901234567894").expect("a number");
        let id = InvoiceId::new(number).to_string();
        let good = json!({"store_code": "L-1", "store_transaction_id": "T-1",
                          "invoice_ids": [id], "amount": 1000});
        assert_eq!(code::<Payment>(good.clone()), "ok");
        assert_eq!(
            code::<Payment>(with_ids(&good, json!([id, id]))),
            "invalid_invoice_ids"
        );
        let with = |k: &str, v: Value| {
            let mut b = good.clone();
            b[k] = v;
            b
        };
        assert_eq!(code::<Payment>(with("amount", json!(0))), "invalid_amount");
        assert_eq!(
            code::<Payment>(with("amount", json!("1000"))),
            "invalid_amount"
        );
        assert_eq!(
            code::<Payment>(with("amount", json!(MAX_PAYMENT_YEN + 1))),
            "invalid_amount"
        );
        assert_eq!(
            code::<Payment>(with("store_code", json!("L 1"))),
            "invalid_store_code"
        );
        assert_eq!(
            code::<Payment>(with("store_code", json!(1))),
            "invalid_store_code"
        );
        assert_eq!(
            code::<Payment>(with("store_transaction_id", json!(""))),
            "invalid_store_transaction_id"
        );
        assert_eq!(
            code::<Payment>(with("invoice_ids", json!([]))),
            "invalid_invoice_ids"
        );
        assert_eq!(
            code::<Payment>(with("invoice_ids", json!(["x"]))),
            "invalid_invoice_ids"
        );
        assert_eq!(
            code::<Payment>(with("invoice_ids", json!([1]))),
            "invalid_invoice_ids"
        );
        assert_eq!(
            code::<Payment>(with("slip_id", json!("slp_x"))),
            "invalid_slip_id"
        );
        assert_eq!(code::<Payment>(with("tip", json!(100))), "unknown_field");
        assert_eq!(
            code::<SlipRequest>(json!({"store_code": "K-1", "invoice_ids": ["x"]})),
            "invalid_number"
        );
        assert_eq!(
            code::<Lookup>(json!({"smartpit_number": "1"})),
            "invalid_store_code"
        );
    }
}

/// `POST /store/v1/lookup`'s answer: the payable bills on the number.
#[derive(Debug, serde::Serialize, JsonSchema)]
#[schemars(rename = "Lookup", extend("additionalProperties" = false))]
pub struct LookupAnswer {
    #[schemars(with = "smartpit_shared::contract::SmartPitNumber")]
    pub smartpit_number: String,
    #[schemars(length(min = 1))]
    pub invoices: Vec<smartpit_shared::invoice::StoreInvoiceView>,
    /// what the customer pays for all of them
    pub total_amount: i64,
}

/// `POST /store/v1/slips`' answer: the slip, holding its bills for the register.
#[derive(Debug, serde::Serialize, JsonSchema)]
#[schemars(rename = "Slip", extend("additionalProperties" = false))]
pub struct SlipAnswer {
    #[schemars(pattern("^slp_"))]
    pub id: String,
    #[schemars(with = "smartpit_shared::contract::SmartPitNumber")]
    pub smartpit_number: String,
    pub invoice_ids: Vec<String>,
    pub amount: i64,
    #[schemars(with = "smartpit_shared::contract::Jpy")]
    pub currency: &'static str,
    pub store_code: String,
    #[schemars(with = "Option<smartpit_shared::contract::Timestamp>")]
    pub hold_until: Option<String>,
}
