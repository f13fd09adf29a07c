//! Settlement (確報) storage: reading the payments a file names, the payments a chain recorded
//! on a day, settling confirmed payments with their invoices and `invoice.settled` events
//! (exactly once: every write is conditional on the payment still being `completed`), and the
//! summary of a file's reconciliation.
//!
//! Round trips for a file of n lines: n/100 batch reads of payments, one `by_chain_day` query
//! page per 1 MB of the day's payments, n/100 batch reads of invoices, and one transaction per
//! group of payments (up to 100 items: a payment and, per invoice, its update and its event).

use super::error::StoreError;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;

use super::item::{self, get_s, Item};
use super::payment_item::chain_day;
use super::{av_s, cancellation_codes, Db, MAX_BATCH_KEYS};
use super::{invoice_sk, merchant_status_pk, number_pk, timestamp};
use crate::ids::InvoiceId;
use crate::invoice::{Invoice, InvoiceStatus};
use crate::payment::{Payment, PaymentStatus};
use crate::settlement::FileKey;
use crate::webhook::{Event, EventType};

/// Items one transaction may carry.
const MAX_TRANSACTION_ITEMS: usize = 100;

/// What became of one payment the file confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettleResult {
    /// Settled now, by this file.
    Settled,
    /// Settled before (this file delivered again, or another file).
    AlreadySettled(Option<String>),
    /// Voided since it was read: not settled.
    Voided,
    /// An invoice of the payment is not paid by it: not settled (the rest of the file is).
    InvoiceNotPaid(String),
}

fn payment_key(id: &str) -> Item {
    item::key(format!("PAY#{id}"), "#")
}

fn summary_key(file: &FileKey) -> Item {
    item::key(format!("SETTLE#{}", file.name()), "#")
}

impl Db {
    /// Strongly consistent batch reads of payments by id (100 a call); unknown ids are absent.
    pub async fn get_payments(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Payment>, StoreError> {
        let mut found = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_BATCH_KEYS) {
            for it in self
                .batch_read(chunk.iter().map(|id| payment_key(id)).collect())
                .await?
            {
                let p = Payment::from_item(&it)?;
                found.insert(p.id.clone(), p);
            }
        }
        Ok(found)
    }

    /// Every payment a chain recorded on a JST day (the sparse `by_chain_day` index).
    pub async fn chain_day_payments(
        &self,
        chain_id: &str,
        day: NaiveDate,
    ) -> Result<Vec<Payment>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.res.main_table)
            .index_name("by_chain_day")
            .key_condition_expression("chain_day = :d")
            .expression_attribute_values(":d", av_s(&chain_day(chain_id, day)));
        let found = self
            .query_all(query)
            .await?
            .iter()
            .map(Payment::from_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(found)
    }

    /// Settles completed payments the file confirmed: each payment, its invoices and one
    /// `invoice.settled` event per invoice in the same transaction, several payments per
    /// transaction. A group that fails is settled again payment by payment, and a payment whose
    /// condition fails is read again to say what it is now. `invoices` holds the payments'
    /// invoices as read before (for the events' content).
    pub async fn settle_payments(
        &self,
        file: &FileKey,
        payments: &[Payment],
        invoices: &HashMap<String, Invoice>,
        now: DateTime<Utc>,
    ) -> Result<HashMap<String, SettleResult>, StoreError> {
        let mut results = HashMap::with_capacity(payments.len());
        let mut group: Vec<&Payment> = Vec::new();
        let mut items: Vec<TransactWriteItem> = Vec::new();
        for p in payments {
            let own = self.settle_items(file, p, invoices, now)?;
            if items.len() + own.len() > MAX_TRANSACTION_ITEMS && !group.is_empty() {
                self.settle_group(
                    file,
                    &group,
                    std::mem::take(&mut items),
                    invoices,
                    now,
                    &mut results,
                )
                .await?;
                group.clear();
            }
            items.extend(own);
            group.push(p);
        }
        if !group.is_empty() {
            self.settle_group(file, &group, items, invoices, now, &mut results)
                .await?;
        }
        Ok(results)
    }

    async fn settle_group(
        &self,
        file: &FileKey,
        group: &[&Payment],
        items: Vec<TransactWriteItem>,
        invoices: &HashMap<String, Invoice>,
        now: DateTime<Utc>,
        results: &mut HashMap<String, SettleResult>,
    ) -> Result<(), StoreError> {
        let res = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match res {
            Ok(_) => {
                for p in group {
                    results.insert(p.id.clone(), SettleResult::Settled);
                }
                return Ok(());
            }
            Err(e) if cancellation_codes(&e).is_none() => return Err(e.into()),
            Err(_) => {}
        }
        // Something in the group was settled, voided or written meanwhile: one at a time.
        for p in group {
            let r = self.settle_one(file, p, invoices, now).await?;
            results.insert(p.id.clone(), r);
        }
        Ok(())
    }

    async fn settle_one(
        &self,
        file: &FileKey,
        payment: &Payment,
        invoices: &HashMap<String, Invoice>,
        now: DateTime<Utc>,
    ) -> Result<SettleResult, StoreError> {
        for attempt in 0..4u32 {
            let items = self.settle_items(file, payment, invoices, now)?;
            let res = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let err = match res {
                Ok(_) => return Ok(SettleResult::Settled),
                Err(e) => e,
            };
            let Some(codes) = cancellation_codes(&err) else {
                return Err(err.into());
            };
            if codes.first().is_some_and(|c| c == "ConditionalCheckFailed") {
                let now_is = self
                    .get_payments(std::slice::from_ref(&payment.id))
                    .await?
                    .remove(&payment.id);
                return match now_is.map(|p| (p.status, p.settlement)) {
                    Some((PaymentStatus::Settled, by)) => Ok(SettleResult::AlreadySettled(by)),
                    Some((PaymentStatus::Voided, _)) => Ok(SettleResult::Voided),
                    _ => Err(StoreError::failed(&"payment changed while settling")),
                };
            }
            if let Some(i) = codes
                .iter()
                .skip(1)
                .position(|c| c == "ConditionalCheckFailed")
            {
                // Items are the payment, then per invoice its update, its event and its
                // settled line.
                let invoice = payment
                    .lines
                    .get(i / 3)
                    .map(|l| l.invoice_id.clone())
                    .unwrap_or_default();
                return Ok(SettleResult::InvoiceNotPaid(invoice));
            }
            // A concurrent write (the same file delivered twice at once): try again.
            tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
        }
        Err(StoreError::unavailable(
            &"settlement kept conflicting with concurrent writes",
        ))
    }

    /// The payment's conditional update, then per invoice its update, its event and its settled
    /// line (what the merchant's payout pays).
    fn settle_items(
        &self,
        file: &FileKey,
        payment: &Payment,
        invoices: &HashMap<String, Invoice>,
        now: DateTime<Utc>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let ts = timestamp(now);
        let settled_payment = Payment {
            status: PaymentStatus::Settled,
            settled_at: Some(now),
            settlement: Some(file.name()),
            ..payment.clone()
        };
        let mut items = Vec::with_capacity(1 + 3 * payment.lines.len());
        let update = Update::builder()
            .table_name(&self.res.main_table)
            .set_key(Some(payment_key(&payment.id)))
            .update_expression("SET #status = :settled, settled_at = :ts, settlement = :file")
            .condition_expression("#status = :completed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":settled", av_s("settled"))
            .expression_attribute_values(":completed", av_s("completed"))
            .expression_attribute_values(":ts", av_s(&ts))
            .expression_attribute_values(":file", av_s(&file.name()))
            .build()
            .map_err(|e| StoreError::failed(&e))?;
        items.push(TransactWriteItem::builder().update(update).build());
        for line in &payment.lines {
            let id = InvoiceId::parse(&line.invoice_id)
                .ok_or_else(|| StoreError::failed(&item::Corrupt("invoice_ids")))?;
            let bill = invoices.get(&line.invoice_id);
            let occurrence = bill
                .filter(|b| b.repeat.is_some())
                .and_then(|b| Some((b, b.entry_index(&payment.id)?)));
            let update = match occurrence {
                // A repeat bill stays as it is: its occurrence is settled.
                Some((_, i)) => Update::builder()
                    .update_expression(format!(
                        "SET payments[{i}].#status = :settled, updated_at = :ts"
                    ))
                    .condition_expression(format!(
                        "payments[{i}].id = :pid AND payments[{i}].#status = :completed"
                    ))
                    .expression_attribute_values(":completed", av_s("completed")),
                None => Update::builder()
                    .update_expression(
                        "SET #status = :settled, settled_at = :ts, updated_at = :ts, gsi2pk = :gsi2pk",
                    )
                    .condition_expression("#status = :paid AND payment_id = :pid")
                    .expression_attribute_values(":paid", av_s("paid"))
                    .expression_attribute_values(
                        ":gsi2pk",
                        av_s(&merchant_status_pk(
                            &line.merchant_id,
                            InvoiceStatus::Settled,
                        )),
                    ),
            }
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(number_pk(id.number()), invoice_sk(&id))))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":settled", av_s("settled"))
            .expression_attribute_values(":pid", av_s(&payment.id))
            .expression_attribute_values(":ts", av_s(&ts))
            .build()
            .map_err(|e| StoreError::failed(&e))?;
            items.push(TransactWriteItem::builder().update(update).build());
            let view = bill.map(|inv| {
                let mut settled = Invoice {
                    updated_at: now,
                    ..inv.clone()
                };
                match occurrence {
                    Some((_, i)) => {
                        if let Some(e) = settled.payments.get_mut(i) {
                            e.status = "settled".to_string();
                        }
                    }
                    None => {
                        settled.stored_status = InvoiceStatus::Settled;
                        settled.settled_at = Some(now);
                    }
                }
                settled.merchant_view(now)
            });
            let event = Event::new(
                &line.merchant_id,
                EventType::InvoiceSettled,
                Some(&line.invoice_id),
                json!({
                    "invoice": view,
                    "payment": settled_payment.view(),
                    "settlement": {"chain": file.chain_id, "date": file.date.to_string()},
                }),
                now,
            );
            items.push(self.event_put(&event)?);
            // What the merchant's next payout pays (db/payouts.rs).
            items.push(self.settled_line_put(
                payment,
                line,
                invoices.get(&line.invoice_id),
                now,
            )?);
        }
        Ok(items)
    }

    /// Stores the summary of a file's latest reconciliation (a JSON document).
    pub async fn put_settlement_summary(
        &self,
        file: &FileKey,
        summary: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut it = summary_key(file);
        it.insert("type".into(), item::s("settlement"));
        it.insert("summary".into(), item::s(summary.to_string()));
        it.insert("updated_at".into(), item::s(timestamp(now)));
        self.client
            .put_item()
            .table_name(&self.res.main_table)
            .set_item(Some(it))
            .send()
            .await?;
        Ok(())
    }

    /// The summary of a file's latest reconciliation, if it was reconciled.
    pub async fn get_settlement_summary(
        &self,
        file: &FileKey,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let found = self.read(&self.res.main_table, summary_key(file)).await?;
        Ok(found
            .as_ref()
            .and_then(|it| get_s(it, "summary"))
            .and_then(|s| serde_json::from_str(s).ok()))
    }
}
