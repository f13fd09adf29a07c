//! The retention rule for customer addresses: a closed bill's addresses (and the addresses its
//! notices were sent to) are erased `CustomerRetentionDays` (90 by default) after it closed:
//! paid (its payment's time), cancelled, expired (its deadline) or moved. A merchant may erase
//! them at once (`DELETE /v1/invoices/{id}/customer`).
//!
//! A bill with an address has an erasure entry under its due day (`ERASE#<due day>`, written with
//! the bill, again with a new due date). A bill closes at the latest at its deadline and at the
//! earliest when registered, at most 59 days before it, so the bills whose addresses are due now
//! have due days from `retention + 30` (a month of catch-up) to `retention - 59` days ago. The
//! sweep (at 03:00 JST) reads those days' entries, erases what is due and removes those entries;
//! a bill still open keeps its entry.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use chrono::{DateTime, Days, Utc};

use super::error::StoreError;
use super::item::{self, get_s};
use super::{av_s, invoice_sk, number_pk, timestamp, Db};
use crate::clock::jst_date;
use crate::ids::InvoiceId;
use crate::invoice::{Invoice, InvoiceStatus};

/// Days a closed bill's customer addresses are kept (the template's `CustomerRetentionDays`).
pub const DEFAULT_RETENTION_DAYS: u64 = 90;
/// The longest retention the template takes.
pub const MAX_RETENTION_DAYS: u64 = 365;
/// Entries read per day and pass at most (a backlog waits for the next pass).
const MAX_PAGES: usize = 20;

fn entry_pk(day: chrono::NaiveDate) -> String {
    format!("ERASE#{day}")
}

/// When a bill closed, if it did: paid (or settled) at its payment, cancelled, expired at its
/// deadline, moved at its last change. A bill voided back to registered is open again.
pub fn closed_at(inv: &Invoice, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match inv.status_at(now) {
        InvoiceStatus::Paid | InvoiceStatus::Settled => inv.paid_at,
        InvoiceStatus::Cancelled => inv.cancelled_at.or(Some(inv.updated_at)),
        InvoiceStatus::Expired => DateTime::from_timestamp(inv.deadline, 0),
        InvoiceStatus::Moved => Some(inv.updated_at),
        InvoiceStatus::Registered => None,
    }
}

impl Db {
    /// The transaction item that puts a bill's erasure entry (a bill with an address).
    pub fn erasure_entry_put(&self, inv: &Invoice) -> Result<TransactWriteItem, StoreError> {
        let mut it = item::key(entry_pk(inv.due_date), inv.id.as_str());
        it.insert("type".into(), item::s("erasure_entry"));
        // Past any sweep's window (retention at most a year) the entry is of no use: TTL.
        it.insert(
            "expires_at".into(),
            item::n(inv.deadline + (MAX_RETENTION_DAYS as i64 + 60) * 86_400),
        );
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.res.main_table)
                    .set_item(Some(it))
                    .build()
                    .map_err(|e| StoreError::failed(&e))?,
            )
            .build())
    }

    /// Erases a bill's customer addresses and the addresses on its notices. `closed_only`: only
    /// if the bill is still closed (the sweep); the merchant's erasure takes any bill. Returns
    /// the bill as it is now, `None` when it is unknown (or, `closed_only`, open again).
    pub async fn erase_customer(
        &self,
        inv: &Invoice,
        closed_only: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<Invoice>, StoreError> {
        let mut remove = vec![
            "customer_email".to_string(),
            "customer_mobile_email".to_string(),
        ];
        let mut update = self
            .client
            .update_item()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(
                number_pk(inv.id.number()),
                invoice_sk(&inv.id),
            )))
            .expression_attribute_values(":ts", av_s(&timestamp(now)));
        for (i, n) in inv.notices.iter().enumerate() {
            if n.to.is_some() {
                remove.push(format!("notices.#k{i}.#to"));
                update = update
                    .expression_attribute_names(format!("#k{i}"), n.kind.as_str())
                    .expression_attribute_names("#to", "to");
            }
        }
        let condition = match closed_only {
            true => {
                update = update.expression_attribute_values(":registered", av_s("registered"));
                "attribute_exists(pk) AND #status <> :registered"
            }
            false => "attribute_exists(pk)",
        };
        if closed_only {
            update = update.expression_attribute_names("#status", "status");
        }
        let res = update
            .update_expression(format!(
                "SET customer_erased_at = :ts REMOVE {}",
                remove.join(", ")
            ))
            .condition_expression(condition)
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match res {
            Ok(out) => out
                .attributes()
                .map(|it| Invoice::from_item(&it.clone()))
                .transpose()
                .map_err(|e| StoreError::failed(&e)),
            Err(e) => match super::applied::<(), _, _>(Err(e)) {
                Ok(_) => Ok(None),
                Err(e) => Err(e),
            },
        }
    }

    /// The retention pass: the customer addresses of bills closed at least `retention_days` ago
    /// erased, their entries removed. Returns how many bills were erased.
    pub async fn erase_closed_customers(
        &self,
        now: DateTime<Utc>,
        retention_days: u64,
    ) -> Result<usize, StoreError> {
        let today = jst_date(now);
        let mut erased = 0;
        let back = retention_days as i64;
        for offset in (back - 59)..=(back + 30) {
            let Some(day) = (match offset < 0 {
                true => today.checked_add_days(Days::new(offset.unsigned_abs())),
                false => today.checked_sub_days(Days::new(offset.unsigned_abs())),
            }) else {
                continue;
            };
            for entry in self.partition_items(&entry_pk(day), MAX_PAGES).await? {
                let Some(id) = get_s(&entry, "sk").and_then(InvoiceId::parse) else {
                    continue;
                };
                // One bad entry or bill never holds back the others: logged, kept, retried
                // by the next pass.
                match self.erase_entry(day, &id, now, retention_days).await {
                    Ok(true) => erased += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(invoice_id = %id, error = %e, "addresses not erased; the next pass tries again")
                    }
                }
            }
        }
        Ok(erased)
    }

    /// One erasure entry: `Ok(true)` when the bill's addresses were erased now.
    async fn erase_entry(
        &self,
        day: chrono::NaiveDate,
        id: &InvoiceId,
        now: DateTime<Utc>,
        retention_days: u64,
    ) -> Result<bool, StoreError> {
        let inv = self.get_invoice(id).await?;
        let addressed = inv.as_ref().is_some_and(|i| {
            i.customer.email.is_some()
                || i.customer.mobile_email.is_some()
                || i.notices.iter().any(|n| n.to.is_some())
        });
        let due = inv
            .as_ref()
            .and_then(|i| closed_at(i, now))
            .is_some_and(|c| {
                c.checked_add_days(Days::new(retention_days))
                    .is_some_and(|t| t <= now)
            });
        let Some(inv) = inv.filter(|_| addressed) else {
            // Unknown, or nothing left to erase: the entry has done its work.
            self.drop_entry(day, id).await?;
            return Ok(false);
        };
        // Open, or closed too recently: a later pass. Reopened meanwhile (a void): nothing
        // erased, the entry kept.
        if due && self.erase_customer(&inv, true, now).await?.is_some() {
            self.drop_entry(day, id).await?;
            return Ok(true);
        }
        Ok(false)
    }

    async fn drop_entry(&self, day: chrono::NaiveDate, id: &InvoiceId) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(entry_pk(day), id.as_str())))
            .send()
            .await?;
        Ok(())
    }
}
