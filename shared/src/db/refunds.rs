//! Refunds as stored. A refund lives in its bill's partition (`REFUNDS#<invoice id>` /
//! `REFUND#<id>`, so a bill's refunds are one query), with a pointer under its merchant
//! (`MER#<m>` / `REFUND#<id>`: the bill it belongs to) and the customer page's token, hashed
//! (`RTOKEN#<sha256>`). The bill's item carries `refunded`, the sum of its refunds not
//! cancelled: a refund is written only where `refunded` stays within what the customer paid,
//! in one transaction with the refund, its event and the stored answer.

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::error::StoreError;
use super::idempotency::Lock;
use super::invoice_item::parse_time;
use super::item::{self, get_n, get_s, req_n, req_s, Corrupt, Item};
use super::{av_s, cancellation_codes, merchant_pk, put_new, timestamp, Db};
use crate::ids::{sha256_hex, InvoiceId};
use crate::payout::MaskedAccountView;
use crate::refund::{is_refund_id, Refund, RefundStatus};
use crate::webhook::Event;

fn refunds_pk(invoice_id: &str) -> String {
    format!("REFUNDS#{invoice_id}")
}

fn refund_key(invoice_id: &str, id: &str) -> Item {
    item::key(refunds_pk(invoice_id), format!("REFUND#{id}"))
}

fn pointer_key(merchant_id: &str, id: &str) -> Item {
    item::key(merchant_pk(merchant_id), format!("REFUND#{id}"))
}

fn token_key(token: &str) -> Item {
    item::key(format!("RTOKEN#{}", sha256_hex(token)), "#")
}

fn refund_item(r: &Refund) -> Item {
    let mut it = refund_key(&r.invoice_id, &r.id);
    it.insert("type".into(), item::s("refund"));
    it.insert("id".into(), item::s(&r.id));
    it.insert("merchant_id".into(), item::s(&r.merchant_id));
    it.insert("invoice_id".into(), item::s(&r.invoice_id));
    it.insert("payment_id".into(), item::s(&r.payment_id));
    it.insert("amount".into(), item::n(r.amount));
    if let Some(reason) = &r.reason {
        it.insert("reason".into(), item::s(reason));
    }
    it.insert("status".into(), item::s(r.status.as_str()));
    it.insert("details_url".into(), item::s(&r.details_url));
    it.insert("created_at".into(), item::s(timestamp(r.created_at)));
    it.insert("updated_at".into(), item::s(timestamp(r.updated_at)));
    it
}

fn masked_of(it: &Item) -> Option<MaskedAccountView> {
    get_s(it, "account").and_then(|a| serde_json::from_str(a).ok())
}

fn refund_of(it: &Item) -> Result<Refund, Corrupt> {
    let time = |name: &'static str| get_s(it, name).and_then(parse_time);
    Ok(Refund {
        id: req_s(it, "id")?,
        merchant_id: req_s(it, "merchant_id")?,
        invoice_id: req_s(it, "invoice_id")?,
        payment_id: req_s(it, "payment_id")?,
        amount: req_n(it, "amount")?,
        reason: get_s(it, "reason").map(str::to_string),
        status: RefundStatus::parse(&req_s(it, "status")?).ok_or(Corrupt("status"))?,
        details_url: req_s(it, "details_url")?,
        created_at: time("created_at").ok_or(Corrupt("created_at"))?,
        updated_at: time("updated_at").ok_or(Corrupt("updated_at"))?,
        cancelled_at: time("cancelled_at"),
        account: masked_of(it),
        details_received_at: time("details_received_at"),
    })
}

/// What `create_refund` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundWrite {
    Created,
    /// The bill's refunds would sum above what was paid: `refunded` is what they sum to now.
    ExceedsPaid {
        refunded: i64,
    },
    /// The bill is no longer paid by that payment (voided, moved) or changed meanwhile.
    InvoiceChanged,
}

impl Db {
    /// What the bill's refunds not cancelled sum to (0 without any).
    pub async fn refunded_total(&self, invoice_id: &InvoiceId) -> Result<i64, StoreError> {
        let it = self
            .read(
                &self.res.main_table,
                item::key(
                    super::number_pk(invoice_id.number()),
                    super::invoice_sk(invoice_id),
                ),
            )
            .await?;
        Ok(it.as_ref().and_then(|i| get_n(i, "refunded")).unwrap_or(0))
    }

    /// Writes a new refund of `paid` yen's bill, the token of its page, its event and the
    /// stored answer, in one transaction; only while the bill is paid or settled by the
    /// refund's payment and the bill's refunds stay within `paid`. Retries a transaction that
    /// met another (20 refunds of one bill at once each land or are refused, never both).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_refund(
        &self,
        refund: &Refund,
        paid: i64,
        token: &str,
        event: &Event,
        lock: &Lock,
        response_status: u16,
        response_body: &str,
    ) -> Result<RefundWrite, StoreError> {
        let invoice = InvoiceId::parse(&refund.invoice_id)
            .ok_or_else(|| StoreError::failed(&Corrupt("invoice_id")))?;
        let table = &self.res.main_table;
        let room = paid - refund.amount;
        if room < 0 {
            return Ok(RefundWrite::ExceedsPaid {
                refunded: self.refunded_total(&invoice).await?,
            });
        }
        for _ in 0..8 {
            let counter = self
                .invoice_update(&invoice)
                .update_expression("SET refunded = if_not_exists(refunded, :zero) + :amount")
                .condition_expression(
                    "(#status = :paid OR #status = :settled) AND payment_id = :payment \
                     AND (attribute_not_exists(refunded) OR refunded <= :room)",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":zero", item::n(0))
                .expression_attribute_values(":amount", item::n(refund.amount))
                .expression_attribute_values(":paid", av_s("paid"))
                .expression_attribute_values(":settled", av_s("settled"))
                .expression_attribute_values(":payment", av_s(&refund.payment_id))
                .expression_attribute_values(":room", item::n(room))
                .build()
                .map_err(|e| StoreError::failed(&e))?;
            let mut pointer = pointer_key(&refund.merchant_id, &refund.id);
            pointer.insert("invoice_id".into(), item::s(&refund.invoice_id));
            let mut token_item = token_key(token);
            token_item.insert("refund_id".into(), item::s(&refund.id));
            token_item.insert("invoice_id".into(), item::s(&refund.invoice_id));
            token_item.insert("merchant_id".into(), item::s(&refund.merchant_id));
            let items = vec![
                TransactWriteItem::builder().update(counter).build(),
                put_new(table, refund_item(refund), "pk")?,
                put_new(table, pointer, "pk")?,
                put_new(table, token_item, "pk")?,
                self.event_put(event)?,
                self.complete_idempotency_key(lock, response_status, response_body)?,
            ];
            let res = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let codes = match res {
                Ok(_) => return Ok(RefundWrite::Created),
                Err(e) => cancellation_codes(&e).ok_or_else(|| StoreError::from(e))?,
            };
            if codes.first().is_some_and(|c| c == "ConditionalCheckFailed") {
                let refunded = self.refunded_total(&invoice).await?;
                return Ok(if refunded > room {
                    RefundWrite::ExceedsPaid { refunded }
                } else {
                    RefundWrite::InvoiceChanged
                });
            }
            if codes.iter().skip(1).any(|c| c == "ConditionalCheckFailed") {
                return Err(StoreError::failed(&"a new refund's id or token was taken"));
            }
            // TransactionConflict: another refund of the bill at the same moment; again.
        }
        Err(StoreError::unavailable(
            &"refunds of the bill kept conflicting with concurrent writes",
        ))
    }

    /// A merchant's refund (another merchant's is `None`): the pointer, then the refund.
    pub async fn get_refund(
        &self,
        merchant_id: &str,
        id: &str,
    ) -> Result<Option<Refund>, StoreError> {
        if !is_refund_id(id) {
            return Ok(None);
        }
        let Some(pointer) = self
            .read(&self.res.main_table, pointer_key(merchant_id, id))
            .await?
        else {
            return Ok(None);
        };
        let invoice_id = req_s(&pointer, "invoice_id").map_err(|e| StoreError::failed(&e))?;
        self.read(&self.res.main_table, refund_key(&invoice_id, id))
            .await?
            .as_ref()
            .map(refund_of)
            .transpose()
            .map_err(|e| StoreError::failed(&e))
            .map(|r| r.filter(|r| r.merchant_id == merchant_id))
    }

    /// A bill's refunds, oldest first (one query).
    pub async fn list_refunds(&self, invoice_id: &str) -> Result<Vec<Refund>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.res.main_table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :refund)")
            .expression_attribute_values(":pk", av_s(&refunds_pk(invoice_id)))
            .expression_attribute_values(":refund", av_s("REFUND#"))
            .consistent_read(true);
        let mut out = self
            .query_all(query)
            .await?
            .iter()
            .map(refund_of)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::failed(&e))?;
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    /// Cancels a refund still `cancellable` as read (`refund.status`): its amount leaves the
    /// bill's `refunded`, with its event and the stored answer, in one transaction.
    /// `Ok(false)`: it changed meanwhile (filed, paid, cancelled by another request).
    pub async fn cancel_refund(
        &self,
        refund: &Refund,
        event: &Event,
        lock: &Lock,
        response_status: u16,
        response_body: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let invoice = InvoiceId::parse(&refund.invoice_id)
            .ok_or_else(|| StoreError::failed(&Corrupt("invoice_id")))?;
        let table = &self.res.main_table;
        let cancel = Update::builder()
            .table_name(table)
            .set_key(Some(refund_key(&refund.invoice_id, &refund.id)))
            .update_expression("SET #status = :cancelled, cancelled_at = :now, updated_at = :now")
            .condition_expression("#status = :was")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":cancelled", av_s(RefundStatus::Cancelled.as_str()))
            .expression_attribute_values(":was", av_s(refund.status.as_str()))
            .expression_attribute_values(":now", av_s(&timestamp(now)))
            .build()
            .map_err(|e| StoreError::failed(&e))?;
        let counter = self
            .invoice_update(&invoice)
            .update_expression("SET refunded = refunded - :amount")
            .condition_expression("refunded >= :amount")
            .expression_attribute_values(":amount", item::n(refund.amount))
            .build()
            .map_err(|e| StoreError::failed(&e))?;
        let items = vec![
            TransactWriteItem::builder().update(cancel).build(),
            TransactWriteItem::builder().update(counter).build(),
            self.event_put(event)?,
            self.complete_idempotency_key(lock, response_status, response_body)?,
        ];
        self.applied_transaction(items).await
    }

    /// The refund a customer page's token opens (`None`: no such token).
    pub async fn refund_by_token(&self, token: &str) -> Result<Option<Refund>, StoreError> {
        let Some(t) = self.read(&self.res.main_table, token_key(token)).await? else {
            return Ok(None);
        };
        let (Some(invoice_id), Some(id)) = (get_s(&t, "invoice_id"), get_s(&t, "refund_id")) else {
            return Ok(None);
        };
        self.read(&self.res.main_table, refund_key(invoice_id, id))
            .await?
            .as_ref()
            .map(refund_of)
            .transpose()
            .map_err(|e| StoreError::failed(&e))
    }

    /// Stores the customer's account for a refund still waiting for one (or whose transfer
    /// failed): the details sealed, the masked view, `details_received`, with its event, in
    /// one transaction. `Ok(false)`: it no longer waits (given already, cancelled, paid).
    pub async fn put_refund_details(
        &self,
        refund: &Refund,
        masked: &MaskedAccountView,
        sealed: &crate::db::bank_accounts::SealedParts,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let blob = |b: &[u8]| {
            aws_sdk_dynamodb::types::AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
                b.to_vec(),
            ))
        };
        let u = Update::builder()
            .table_name(&self.res.main_table)
            .set_key(Some(refund_key(&refund.invoice_id, &refund.id)))
            .update_expression(
                "SET #status = :received, account = :account, sealed_key = :key, \
                 sealed_nonce = :nonce, sealed_details = :details, details_received_at = :now, \
                 updated_at = :now",
            )
            .condition_expression("#status = :awaiting OR #status = :failed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":received", av_s(RefundStatus::DetailsReceived.as_str()))
            .expression_attribute_values(":awaiting", av_s(RefundStatus::AwaitingDetails.as_str()))
            .expression_attribute_values(":failed", av_s(RefundStatus::Failed.as_str()))
            .expression_attribute_values(
                ":account",
                av_s(&serde_json::to_string(masked).map_err(|e| StoreError::failed(&e))?),
            )
            .expression_attribute_values(":key", blob(&sealed.encrypted_key))
            .expression_attribute_values(":nonce", blob(&sealed.nonce))
            .expression_attribute_values(":details", blob(&sealed.ciphertext))
            .expression_attribute_values(":now", av_s(&timestamp(now)))
            .build()
            .map_err(|e| StoreError::failed(&e))?;
        self.update_with_event(u, event).await
    }
}
