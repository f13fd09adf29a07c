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
use super::notices::notice_attr;
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
        transfer_date: get_s(it, "transfer_date")
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        paid_at: time("paid_at"),
        failure_reason: get_s(it, "failure_reason").map(str::to_string),
    })
}

/// Refunds whose customer gave an account and that no transfer file holds yet.
const DUE_PK: &str = "REFUNDDUE";
/// Refunds paid, by when: their sealed details are erased `ERASE_AFTER_DAYS` after.
const PAID_PK: &str = "REFUNDPAID";
/// Days a paid refund's sealed details are kept (a returned transfer is known by then).
pub const ERASE_AFTER_DAYS: i64 = 30;

fn due_key(id: &str) -> Item {
    item::key(DUE_PK, id)
}

fn filed_key(day: chrono::NaiveDate, id: &str) -> Item {
    item::key(super::payouts::transfer_pk(day), format!("REFUND#{id}"))
}

fn blob_of(it: &Item, name: &str) -> Option<Vec<u8>> {
    match it.get(name) {
        Some(aws_sdk_dynamodb::types::AttributeValue::B(b)) => Some(b.as_ref().to_vec()),
        _ => None,
    }
}

/// The mail a refund sends the bill's customer: its outbox request and the queued notice
/// (`first_notice`: the bill has no notices yet, so the map is written whole).
#[derive(Debug, Clone)]
pub struct RefundMail {
    pub request: super::RefundRequest,
    pub notice: crate::notice::Notice,
    pub first_notice: bool,
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
    /// refund's payment (a repeat bill: still has the `occurrences` counted) and the bill's
    /// refunds stay within `paid`. Retries a transaction that
    /// met another (20 refunds of one bill at once each land or are refused, never both).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_refund(
        &self,
        refund: &Refund,
        paid: i64,
        occurrences: Option<i64>,
        token: &str,
        mail: Option<&RefundMail>,
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
            // A bill with a customer's address: 「返金手続きのお願い」 queued, its notice with it.
            let (notice_set, notice_value) = match mail {
                Some(m) if m.first_notice => (
                    ", notices = :notice",
                    Some(aws_sdk_dynamodb::types::AttributeValue::M(
                        [(m.notice.kind.as_str().to_string(), notice_attr(&m.notice))].into(),
                    )),
                ),
                Some(m) => (
                    ", notices.refund_mail = :notice",
                    Some(notice_attr(&m.notice)),
                ),
                None => ("", None),
            };
            let counter = self
                .invoice_update(&invoice)
                .update_expression(format!(
                    "SET refunded = if_not_exists(refunded, :zero) + :amount{notice_set}"
                ))
                .expression_attribute_values(":amount", item::n(refund.amount));
            let counter = match notice_value {
                Some(v) => counter.expression_attribute_values(":notice", v),
                None => counter,
            };
            let counter = match occurrences {
                // A repeat bill: as many occurrences as when `paid` was counted.
                Some(occ) => counter
                    .condition_expression(
                        "occurrences = :occ \
                         AND (attribute_not_exists(refunded) OR refunded <= :room)",
                    )
                    .expression_attribute_values(":occ", item::n(occ)),
                None => counter
                    .condition_expression(
                        "(#status = :paid OR #status = :settled) AND payment_id = :payment \
                         AND (attribute_not_exists(refunded) OR refunded <= :room)",
                    )
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":paid", av_s("paid"))
                    .expression_attribute_values(":settled", av_s("settled"))
                    .expression_attribute_values(":payment", av_s(&refund.payment_id)),
            }
            .expression_attribute_values(":zero", item::n(0))
            .expression_attribute_values(":amount", item::n(refund.amount))
            .expression_attribute_values(":room", item::n(room))
            .build()
            .map_err(|e| StoreError::failed(&e))?;
            let mut pointer = pointer_key(&refund.merchant_id, &refund.id);
            pointer.insert("invoice_id".into(), item::s(&refund.invoice_id));
            let mut token_item = token_key(token);
            token_item.insert("refund_id".into(), item::s(&refund.id));
            token_item.insert("invoice_id".into(), item::s(&refund.invoice_id));
            token_item.insert("merchant_id".into(), item::s(&refund.merchant_id));
            let mut items = vec![
                TransactWriteItem::builder().update(counter).build(),
                put_new(table, refund_item(refund), "pk")?,
                put_new(table, pointer, "pk")?,
                put_new(table, token_item, "pk")?,
                self.event_put(event)?,
                self.complete_idempotency_key(lock, response_status, response_body)?,
            ];
            if let Some(m) = mail {
                items.push(self.outbox_put_refund(
                    &refund.invoice_id,
                    &m.request,
                    refund.created_at,
                )?);
            }
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
    /// bill's `refunded`, any sealed account is erased, with its event and the stored answer,
    /// in one transaction.
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
            // A customer's account given for it is of no further use: erased with the cancel.
            .update_expression(
                "SET #status = :cancelled, cancelled_at = :now, updated_at = :now \
                 REMOVE sealed_key, sealed_nonce, sealed_details",
            )
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
            super::payouts::tx_delete(table, due_key(&refund.id))?,
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
        let mut due = due_key(&refund.id);
        due.insert("invoice_id".into(), item::s(&refund.invoice_id));
        due.insert("merchant_id".into(), item::s(&refund.merchant_id));
        let items = vec![
            TransactWriteItem::builder().update(u).build(),
            super::payouts::tx_put(&self.res.main_table, due)?,
            self.event_put(event)?,
        ];
        self.applied_transaction(items).await
    }

    /// The refunds waiting for a transfer file (invoice and refund ids).
    pub async fn refunds_to_file(&self) -> Result<Vec<(String, String)>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.res.main_table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", av_s(DUE_PK))
            .consistent_read(true);
        Ok(self
            .query_all(query)
            .await?
            .iter()
            .filter_map(|it| {
                Some((
                    get_s(it, "invoice_id")?.to_string(),
                    get_s(it, "sk")?.to_string(),
                ))
            })
            .collect())
    }

    /// A refund by its bill and id (for the operator's transfer file).
    pub async fn refund_in(
        &self,
        invoice_id: &str,
        id: &str,
    ) -> Result<Option<Refund>, StoreError> {
        self.read(&self.res.main_table, refund_key(invoice_id, id))
            .await?
            .as_ref()
            .map(refund_of)
            .transpose()
            .map_err(|e| StoreError::failed(&e))
    }

    /// A refund's sealed account details, if it holds some.
    pub async fn refund_sealed(
        &self,
        refund: &Refund,
    ) -> Result<Option<crate::db::bank_accounts::SealedParts>, StoreError> {
        let Some(it) = self
            .read(
                &self.res.main_table,
                refund_key(&refund.invoice_id, &refund.id),
            )
            .await?
        else {
            return Ok(None);
        };
        Ok(
            match (
                blob_of(&it, "sealed_key"),
                blob_of(&it, "sealed_nonce"),
                blob_of(&it, "sealed_details"),
            ) {
                (Some(encrypted_key), Some(nonce), Some(ciphertext)) => {
                    Some(crate::db::bank_accounts::SealedParts {
                        encrypted_key,
                        nonce,
                        ciphertext,
                    })
                }
                _ => None,
            },
        )
    }

    /// Drops a due entry whose refund is no longer waiting (cancelled meanwhile).
    pub async fn drop_refund_due(&self, id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.res.main_table)
            .set_key(Some(due_key(id)))
            .send()
            .await?;
        Ok(())
    }

    /// Puts a refund with its customer's account in the transfer file of `day`, under the
    /// claim `token`: the refund, its entry in the day's file, its due entry gone, the claim
    /// checked, one transaction.
    pub async fn file_refund(
        &self,
        refund: &Refund,
        day: chrono::NaiveDate,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<super::payouts::FileOutcome, StoreError> {
        let table = &self.res.main_table;
        let u = Update::builder()
            .table_name(table)
            .set_key(Some(refund_key(&refund.invoice_id, &refund.id)))
            .update_expression("SET #status = :filed, transfer_date = :day, updated_at = :now")
            .condition_expression("#status = :received")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":filed", av_s(RefundStatus::Filed.as_str()))
            .expression_attribute_values(":received", av_s(RefundStatus::DetailsReceived.as_str()))
            .expression_attribute_values(":day", av_s(&day.to_string()))
            .expression_attribute_values(":now", av_s(&timestamp(now)))
            .build()
            .map_err(|e| StoreError::failed(&e))?;
        let mut filed = filed_key(day, &refund.id);
        filed.insert("invoice_id".into(), item::s(&refund.invoice_id));
        filed.insert("merchant_id".into(), item::s(&refund.merchant_id));
        filed.insert("amount".into(), item::n(refund.amount));
        let items = vec![
            super::payouts::claim_check(table, day, token)?,
            TransactWriteItem::builder().update(u).build(),
            super::payouts::tx_put(table, filed)?,
            super::payouts::tx_delete(table, due_key(&refund.id))?,
        ];
        self.file_under_claim(items).await
    }

    /// The refunds in the transfer file of `day` (invoice and refund ids, by id).
    pub async fn filed_refunds(
        &self,
        day: chrono::NaiveDate,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.filed_entries(day, "REFUND#", "invoice_id").await
    }

    /// A filed refund paid: its line on the merchant's next payout, its erasure due in
    /// `ERASE_AFTER_DAYS`, `refund.paid`, one transaction. `Ok(false)`: not filed that day.
    pub async fn mark_refund_paid(
        &self,
        refund: &Refund,
        day: chrono::NaiveDate,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let table = &self.res.main_table;
        let u = Update::builder()
            .table_name(table)
            .set_key(Some(refund_key(&refund.invoice_id, &refund.id)))
            .update_expression("SET #status = :paid, paid_at = :now, updated_at = :now")
            .condition_expression("#status = :filed AND transfer_date = :day")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":paid", av_s(RefundStatus::Paid.as_str()))
            .expression_attribute_values(":filed", av_s(RefundStatus::Filed.as_str()))
            .expression_attribute_values(":day", av_s(&day.to_string()))
            .expression_attribute_values(":now", av_s(&timestamp(now)))
            .build()
            .map_err(|e| StoreError::failed(&e))?;
        let mut erase = item::key(PAID_PK, format!("{}#{}", timestamp(now), refund.id));
        erase.insert("invoice_id".into(), item::s(&refund.invoice_id));
        erase.insert("refund_id".into(), item::s(&refund.id));
        let items = vec![
            TransactWriteItem::builder().update(u).build(),
            super::payouts::tx_put(
                table,
                super::payouts::refund_line_item(
                    &refund.merchant_id,
                    &refund.id,
                    refund.amount,
                    now,
                ),
            )?,
            super::payouts::tx_put(table, erase)?,
            self.event_put(event)?,
        ];
        self.applied_transaction(items).await
    }

    /// A filed refund the bank returned: `failed` with the reason, its sealed account erased
    /// (it was wrong), the page open for new details, `refund.failed`. `Ok(false)`: not filed
    /// that day.
    pub async fn mark_refund_failed(
        &self,
        refund: &Refund,
        day: chrono::NaiveDate,
        reason: &str,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let u = Update::builder()
            .table_name(&self.res.main_table)
            .set_key(Some(refund_key(&refund.invoice_id, &refund.id)))
            .update_expression(
                "SET #status = :failed, failure_reason = :reason, updated_at = :now \
                 REMOVE transfer_date, sealed_key, sealed_nonce, sealed_details, account",
            )
            .condition_expression("#status = :filed AND transfer_date = :day")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":failed", av_s(RefundStatus::Failed.as_str()))
            .expression_attribute_values(":filed", av_s(RefundStatus::Filed.as_str()))
            .expression_attribute_values(":day", av_s(&day.to_string()))
            .expression_attribute_values(":reason", av_s(reason))
            .expression_attribute_values(":now", av_s(&timestamp(now)))
            .build()
            .map_err(|e| StoreError::failed(&e))?;
        self.update_with_event(u, event).await
    }

    /// Erases the sealed details of refunds paid `ERASE_AFTER_DAYS` or more before `now` (the
    /// masked view stays): what it erased. One query, one write a refund.
    pub async fn erase_paid_refund_details(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let before = now - chrono::TimeDelta::days(ERASE_AFTER_DAYS);
        let query = self
            .client
            .query()
            .table_name(&self.res.main_table)
            .key_condition_expression("pk = :pk AND sk <= :before")
            .expression_attribute_values(":pk", av_s(PAID_PK))
            .expression_attribute_values(":before", av_s(&format!("{}#~", timestamp(before))))
            .consistent_read(true);
        let mut erased = Vec::new();
        for it in self.query_all(query).await? {
            let (Some(invoice_id), Some(id), Some(sk)) = (
                get_s(&it, "invoice_id"),
                get_s(&it, "refund_id"),
                get_s(&it, "sk"),
            ) else {
                continue;
            };
            let items = vec![
                TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name(&self.res.main_table)
                            .set_key(Some(refund_key(invoice_id, id)))
                            .update_expression(
                                "SET details_erased_at = :now \
                                 REMOVE sealed_key, sealed_nonce, sealed_details",
                            )
                            .expression_attribute_values(":now", av_s(&timestamp(now)))
                            .build()
                            .map_err(|e| StoreError::failed(&e))?,
                    )
                    .build(),
                super::payouts::tx_delete(&self.res.main_table, item::key(PAID_PK, sk))?,
            ];
            if self.applied_transaction(items).await? {
                erased.push(id.to_string());
            }
        }
        Ok(erased)
    }
}
