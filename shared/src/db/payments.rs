//! Store payments: all listed invoices are paid in one transaction, or none; the payment's id
//! follows from the store's transaction id, so a retried report finds the first result.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem, Update};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

use super::item::{self, get_list_s, get_n, get_s, Item};
use super::{av_s, cancellation_codes, Db};
use crate::clock::jst_date;
use crate::ids::{payment_id, InvoiceId};
use crate::invoice::{
    invoice_sk, jst_timestamp, merchant_status_pk, number_pk, timestamp, Invoice, InvoiceStatus,
};
use crate::problem::Problem;

/// What a store reports when the customer has paid.
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    pub chain_id: String,
    pub store_code: String,
    pub store_transaction_id: String,
    pub invoice_ids: Vec<InvoiceId>,
    pub amount: i64,
}

impl PaymentRequest {
    pub fn payment_id(&self) -> String {
        payment_id(&self.chain_id, &self.store_transaction_id)
    }

    /// Two reports are the same payment when they name the same invoices, amount and store.
    fn fingerprint(&self) -> String {
        let mut ids: Vec<&str> = self.invoice_ids.iter().map(InvoiceId::as_str).collect();
        ids.sort_unstable();
        crate::ids::sha256_hex(&format!(
            "{}|{}|{}",
            self.store_code,
            self.amount,
            ids.join(",")
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    Completed,
    Voided,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Completed => "completed",
            PaymentStatus::Voided => "voided",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentLine {
    pub invoice_id: String,
    pub merchant_id: String,
    pub amount: i64,
}

#[derive(Debug, Clone)]
pub struct Payment {
    pub id: String,
    pub chain_id: String,
    pub store_code: String,
    pub store_transaction_id: String,
    pub lines: Vec<PaymentLine>,
    pub amount: i64,
    pub status: PaymentStatus,
    pub created_at: DateTime<Utc>,
    pub jst_day: NaiveDate,
    pub voided_at: Option<DateTime<Utc>>,
    fingerprint: String,
}

impl Payment {
    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "status": self.status.as_str(),
            "invoice_ids": self.lines.iter().map(|l| l.invoice_id.as_str()).collect::<Vec<_>>(),
            "amount": self.amount,
            "currency": "JPY",
            "store_chain": self.chain_id,
            "store_code": self.store_code,
            "store_transaction_id": self.store_transaction_id,
            "created_at": jst_timestamp(self.created_at),
            "voided_at": self.voided_at.map(jst_timestamp),
        })
    }

    fn to_item(&self) -> Item {
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
        it.insert("fingerprint".into(), item::s(&self.fingerprint));
        let lines = |f: fn(&PaymentLine) -> AttributeValue| {
            AttributeValue::L(self.lines.iter().map(f).collect())
        };
        it.insert("invoice_ids".into(), lines(|l| item::s(&l.invoice_id)));
        it.insert("merchant_ids".into(), lines(|l| item::s(&l.merchant_id)));
        it.insert("amounts".into(), lines(|l| item::n(l.amount)));
        it
    }

    fn from_item(it: &Item) -> Result<Self, Problem> {
        let bad = |f: &'static str| Problem::internal(&item::Corrupt(f));
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
                _ => return Err(bad("status")),
            },
            created_at: time("created_at").ok_or_else(|| bad("created_at"))?,
            jst_day: get_s(it, "jst_day")
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .ok_or_else(|| bad("jst_day"))?,
            voided_at: time("voided_at"),
            fingerprint: get_s(it, "fingerprint").unwrap_or_default().to_string(),
        })
    }
}

pub enum PayOutcome {
    /// Paid now.
    Paid(Payment),
    /// This store transaction was reported before with the same content: its first result.
    Replayed(Payment),
    /// This store transaction id was used before for a different payment.
    TransactionIdReused(Payment),
    /// An invoice is unknown (or not well-formed).
    UnknownInvoice(String),
    /// An invoice can no longer be paid.
    NotPayable {
        invoice_id: String,
        status: InvoiceStatus,
    },
    /// The amount is not the sum of the invoices.
    WrongAmount { expected: i64 },
}

pub enum VoidOutcome {
    Voided(Payment),
    NotFound,
    /// Voids are taken only on the JST day of the payment.
    WindowClosed(Payment),
}

const MAX_TRANSACTION_ATTEMPTS: usize = 4;

impl Db {
    /// One consistent read of a payment.
    pub async fn get_payment(&self, id: &str) -> Result<Option<Payment>, Problem> {
        let out = self
            .client
            .get_item()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(format!("PAY#{id}"), "#")))
            .consistent_read(true)
            .send()
            .await?;
        out.item().map(Payment::from_item).transpose()
    }

    fn replay(&self, req: &PaymentRequest, existing: Payment) -> PayOutcome {
        if existing.fingerprint == req.fingerprint() {
            PayOutcome::Replayed(existing)
        } else {
            PayOutcome::TransactionIdReused(existing)
        }
    }

    /// Strongly consistent reads of up to 100 invoices in one batch call.
    async fn get_invoices(&self, ids: &[InvoiceId]) -> Result<HashMap<String, Invoice>, Problem> {
        let mut keys: Vec<Item> = ids
            .iter()
            .map(|id| item::key(number_pk(id.number()), invoice_sk(id)))
            .collect();
        let mut found = HashMap::new();
        for _ in 0..5 {
            if keys.is_empty() {
                break;
            }
            let ka = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut keys)))
                .consistent_read(true)
                .build()
                .map_err(|e| Problem::internal(&e))?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.res.main_table, ka)
                .send()
                .await?;
            for it in out
                .responses()
                .and_then(|r| r.get(&self.res.main_table))
                .into_iter()
                .flatten()
            {
                let inv = Invoice::from_item(it).map_err(|e| Problem::internal(&e))?;
                found.insert(inv.id.as_str().to_string(), inv);
            }
            keys = out
                .unprocessed_keys()
                .and_then(|u| u.get(&self.res.main_table))
                .map(|k| k.keys().to_vec())
                .unwrap_or_default();
        }
        if !keys.is_empty() {
            return Err(Problem::unavailable(&"batch read left keys unprocessed"));
        }
        Ok(found)
    }

    /// Pays every invoice of the request at once, exactly once. Round trips: one read of the
    /// payment id, one batch read of the invoices, one transaction.
    pub async fn pay(
        &self,
        req: &PaymentRequest,
        now: DateTime<Utc>,
    ) -> Result<PayOutcome, Problem> {
        let id = req.payment_id();
        for _ in 0..MAX_TRANSACTION_ATTEMPTS {
            if let Some(existing) = self.get_payment(&id).await? {
                return Ok(self.replay(req, existing));
            }
            let invoices = self.get_invoices(&req.invoice_ids).await?;
            let mut lines = Vec::with_capacity(req.invoice_ids.len());
            for wanted in &req.invoice_ids {
                let Some(inv) = invoices.get(wanted.as_str()) else {
                    return Ok(PayOutcome::UnknownInvoice(wanted.to_string()));
                };
                if !inv.is_payable_at(now) {
                    return Ok(PayOutcome::NotPayable {
                        invoice_id: wanted.to_string(),
                        status: inv.status_at(now),
                    });
                }
                lines.push(PaymentLine {
                    invoice_id: inv.id.to_string(),
                    merchant_id: inv.merchant_id.clone(),
                    amount: inv.amount,
                });
            }
            let expected: i64 = lines.iter().map(|l| l.amount).sum();
            if expected != req.amount {
                return Ok(PayOutcome::WrongAmount { expected });
            }
            let payment = Payment {
                id: id.clone(),
                chain_id: req.chain_id.clone(),
                store_code: req.store_code.clone(),
                store_transaction_id: req.store_transaction_id.clone(),
                lines,
                amount: req.amount,
                status: PaymentStatus::Completed,
                created_at: now,
                jst_day: jst_date(now),
                voided_at: None,
                fingerprint: req.fingerprint(),
            };
            let mut items = vec![TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.res.main_table)
                        .set_item(Some(payment.to_item()))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .map_err(|e| Problem::internal(&e))?,
                )
                .build()];
            for (line, wanted) in payment.lines.iter().zip(&req.invoice_ids) {
                let update = Update::builder()
                    .table_name(&self.res.main_table)
                    .set_key(Some(item::key(
                        number_pk(wanted.number()),
                        invoice_sk(wanted),
                    )))
                    .update_expression(
                        "SET #status = :paid, payment_id = :pid, paid_at = :ts, updated_at = :ts, \
                         store_chain = :chain, store_code = :store, gsi2pk = :gsi2pk",
                    )
                    .condition_expression(
                        "#status = :registered AND deadline >= :now AND amount = :amount",
                    )
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":paid", av_s("paid"))
                    .expression_attribute_values(":registered", av_s("registered"))
                    .expression_attribute_values(":pid", av_s(&payment.id))
                    .expression_attribute_values(":ts", av_s(&timestamp(now)))
                    .expression_attribute_values(":chain", av_s(&req.chain_id))
                    .expression_attribute_values(":store", av_s(&req.store_code))
                    .expression_attribute_values(
                        ":gsi2pk",
                        av_s(&merchant_status_pk(&line.merchant_id, InvoiceStatus::Paid)),
                    )
                    .expression_attribute_values(":now", item::n(now.timestamp()))
                    .expression_attribute_values(":amount", item::n(line.amount))
                    .build()
                    .map_err(|e| Problem::internal(&e))?;
                items.push(TransactWriteItem::builder().update(update).build());
            }
            let res = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let err = match res {
                Ok(_) => return Ok(PayOutcome::Paid(payment)),
                Err(e) => e,
            };
            let Some(codes) = cancellation_codes(&err) else {
                return Err(err.into());
            };
            if codes.first().is_some_and(|c| c == "ConditionalCheckFailed") {
                // The same store transaction won a race with this one: answer as it did.
                if let Some(existing) = self.get_payment(&id).await? {
                    return Ok(self.replay(req, existing));
                }
                continue;
            }
            if let Some(i) = codes
                .iter()
                .skip(1)
                .position(|c| c == "ConditionalCheckFailed")
            {
                let wanted = &req.invoice_ids[i];
                let status = self
                    .get_invoice(wanted)
                    .await?
                    .map_or(InvoiceStatus::Cancelled, |inv| inv.status_at(now));
                if status != InvoiceStatus::Registered {
                    return Ok(PayOutcome::NotPayable {
                        invoice_id: wanted.to_string(),
                        status,
                    });
                }
            }
            // A concurrent transaction touched one of the items: read again and retry.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Err(Problem::unavailable(
            &"payment transaction kept conflicting with concurrent writes",
        ))
    }

    /// Makes a payment's invoices payable again, on the JST day it was made. One read and one
    /// transaction; voiding a voided payment answers as the first void did.
    pub async fn void_payment(
        &self,
        chain_id: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<VoidOutcome, Problem> {
        let Some(payment) = self
            .get_payment(id)
            .await?
            .filter(|p| p.chain_id == chain_id)
        else {
            return Ok(VoidOutcome::NotFound);
        };
        if payment.status == PaymentStatus::Voided {
            return Ok(VoidOutcome::Voided(payment));
        }
        if payment.jst_day != jst_date(now) {
            return Ok(VoidOutcome::WindowClosed(payment));
        }
        let mut items = vec![TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name(&self.res.main_table)
                    .set_key(Some(item::key(format!("PAY#{id}"), "#")))
                    .update_expression("SET #status = :voided, voided_at = :ts")
                    .condition_expression("#status = :completed")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":voided", av_s("voided"))
                    .expression_attribute_values(":completed", av_s("completed"))
                    .expression_attribute_values(":ts", av_s(&timestamp(now)))
                    .build()
                    .map_err(|e| Problem::internal(&e))?,
            )
            .build()];
        for line in &payment.lines {
            let inv = InvoiceId::parse(&line.invoice_id)
                .ok_or_else(|| Problem::internal(&item::Corrupt("invoice_ids")))?;
            let update = Update::builder()
                .table_name(&self.res.main_table)
                .set_key(Some(item::key(number_pk(inv.number()), invoice_sk(&inv))))
                .update_expression(
                    "SET #status = :registered, updated_at = :ts, gsi2pk = :gsi2pk \
                     REMOVE payment_id, paid_at, store_chain, store_code",
                )
                .condition_expression("#status = :paid AND payment_id = :pid")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":registered", av_s("registered"))
                .expression_attribute_values(":paid", av_s("paid"))
                .expression_attribute_values(":pid", av_s(id))
                .expression_attribute_values(":ts", av_s(&timestamp(now)))
                .expression_attribute_values(
                    ":gsi2pk",
                    av_s(&merchant_status_pk(
                        &line.merchant_id,
                        InvoiceStatus::Registered,
                    )),
                )
                .build()
                .map_err(|e| Problem::internal(&e))?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        let res = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match res {
            Ok(_) => Ok(VoidOutcome::Voided(Payment {
                status: PaymentStatus::Voided,
                voided_at: Some(now),
                ..payment
            })),
            Err(e) if cancellation_codes(&e).is_some() => {
                // Voided concurrently: report the stored state.
                match self.get_payment(id).await? {
                    Some(p) if p.status == PaymentStatus::Voided => Ok(VoidOutcome::Voided(p)),
                    _ => Err(Problem::unavailable(&"void conflicted; retry")),
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}
