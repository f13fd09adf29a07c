//! Reminders (「お支払い期限のお知らせ」): one mail per bill before its due date, at the
//! merchant's `reminder_days_before` (0-7, 0 = off). A bill with a customer address has an
//! entry under its due day (`REMIND#<due day>` / its id, written with the bill or its new due
//! date; TTL after the deadline). The sweep reads the entries of the next 8 days; when an
//! entry's day has come for its merchant it queues the reminder (an `invoice_reminder#<id>`
//! outbox record, written once per bill ever) and removes the entry, in one transaction. A bill
//! no longer payable when the notifier reaches it (paid, cancelled, expired, held by a slip,
//! moved) gets nothing: its notice reads `skipped`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};
use chrono::{DateTime, Days, Utc};

use super::error::StoreError;
use super::item::{self, get_s, Item};
use super::{cancellation_codes, merchant_pk, put_new, Db};
use crate::clock::jst_date;
use crate::ids::InvoiceId;
use crate::invoice::Invoice;

/// The most days before the due date a merchant may be reminded for.
pub const MAX_REMINDER_DAYS: u8 = 7;
/// Entries read per day and sweep at most (a backlog waits for the next sweep).
const MAX_PAGES: usize = 20;

fn entry_pk(day: chrono::NaiveDate) -> String {
    format!("REMIND#{day}")
}

impl Db {
    /// The transaction item that puts a bill's reminder entry under its due day (a bill with a
    /// customer address). Kept by TTL one day past its deadline at most.
    pub fn reminder_entry_put(&self, inv: &Invoice) -> Result<TransactWriteItem, StoreError> {
        let mut it = item::key(entry_pk(inv.due_date), inv.id.as_str());
        it.insert("type".into(), item::s("reminder_entry"));
        it.insert("merchant_id".into(), item::s(&inv.merchant_id));
        it.insert("expires_at".into(), item::n(inv.deadline + 86_400));
        Ok(TransactWriteItem::builder()
            .put(
                aws_sdk_dynamodb::types::Put::builder()
                    .table_name(&self.res.main_table)
                    .set_item(Some(it))
                    .build()
                    .map_err(|e| StoreError::failed(&e))?,
            )
            .build())
    }

    /// Sets a merchant's `reminder_days_before` (0 turns reminders off). `Ok(false)`: no such
    /// merchant.
    pub async fn set_reminder_days(&self, merchant_id: &str, days: u8) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(merchant_pk(merchant_id), "#")))
            .update_expression("SET reminder_days_before = :d")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":d", item::n(i64::from(days.min(MAX_REMINDER_DAYS))))
            .send()
            .await;
        super::applied(res)
    }

    /// A merchant's `reminder_days_before` (0: off, the default).
    pub async fn reminder_days(&self, merchant_id: &str) -> Result<u8, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(merchant_pk(merchant_id), "#")))
            .projection_expression("reminder_days_before")
            .send()
            .await?;
        Ok(out
            .item()
            .and_then(|it| item::get_n(it, "reminder_days_before"))
            .map_or(0, |d| d.clamp(0, i64::from(MAX_REMINDER_DAYS)) as u8))
    }

    /// Queues the reminders whose day has come at `now` (the caller keeps to the hours mail may
    /// go): for each entry of the next 8 days whose merchant reminds that many days ahead, the
    /// bill read again; still payable, not moved to another due day and with an address, its
    /// reminder is queued once. Returns the bills reminded.
    pub async fn remind_due(&self, now: DateTime<Utc>) -> Result<Vec<InvoiceId>, StoreError> {
        let today = jst_date(now);
        let mut days_of: HashMap<String, u8> = HashMap::new();
        let mut reminded = Vec::new();
        for ahead in 0..=u64::from(MAX_REMINDER_DAYS) {
            let Some(day) = today.checked_add_days(Days::new(ahead)) else {
                continue;
            };
            for entry in self.partition_items(&entry_pk(day), MAX_PAGES).await? {
                let (Some(id), Some(merchant)) = (
                    get_s(&entry, "sk").and_then(InvoiceId::parse),
                    get_s(&entry, "merchant_id"),
                ) else {
                    continue;
                };
                let days = match days_of.get(merchant) {
                    Some(d) => *d,
                    None => {
                        let Ok(d) = self.reminder_days(merchant).await else {
                            tracing::warn!(merchant_id = %merchant, "reminder setting unread; its entries wait");
                            continue;
                        };
                        days_of.insert(merchant.to_string(), d);
                        d
                    }
                };
                if days == 0 || ahead > u64::from(days) {
                    continue; // not yet (or off: the merchant may turn it on)
                }
                // One bad entry or bill never holds back the others: logged, kept, retried
                // by the next sweep.
                match self.remind_one(&id, day, now).await {
                    Ok(true) => reminded.push(id),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(invoice_id = %id, error = %e, "reminder not queued; the next sweep tries again")
                    }
                }
            }
        }
        Ok(reminded)
    }

    /// One entry whose day has come: the reminder queued and the entry removed (one
    /// transaction), or only the entry removed when the bill needs none.
    async fn remind_one(
        &self,
        id: &InvoiceId,
        day: chrono::NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let remove = TransactWriteItem::builder()
            .delete(
                Delete::builder()
                    .table_name(&self.res.main_table)
                    .set_key(Some(item::key(entry_pk(day), id.as_str())))
                    .build()
                    .map_err(|e| StoreError::failed(&e))?,
            )
            .build();
        let wanted = self.get_invoice(id).await?.is_some_and(|inv| {
            inv.due_date == day
                && inv.is_payable_at(now)
                && (inv.customer.email.is_some() || inv.customer.mobile_email.is_some())
        });
        let mut items = vec![remove];
        if wanted {
            let mut it = Item::new();
            it.insert("id".into(), item::s(format!("invoice_reminder#{id}")));
            it.insert("kind".into(), item::s("invoice_reminder"));
            it.insert("invoice_id".into(), item::s(id.as_str()));
            it.insert("reminder".into(), item::s(day.to_string()));
            it.insert("created_at".into(), item::s(super::timestamp(now)));
            it.insert(
                "expires_at".into(),
                item::n(now.timestamp() + super::outbox::OUTBOX_KEEP_SECONDS),
            );
            items.push(put_new(&self.res.outbox_table, it, "id")?);
        }
        let res = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match res {
            Ok(_) => Ok(wanted),
            Err(e) => match cancellation_codes(&e) {
                // Reminded before (a copy of this sweep, or an earlier due date): only the entry.
                Some(codes) if codes.get(1).is_some_and(|c| c == "ConditionalCheckFailed") => {
                    self.client
                        .delete_item()
                        .table_name(&self.res.main_table)
                        .set_key(Some(item::key(entry_pk(day), id.as_str())))
                        .send()
                        .await?;
                    Ok(false)
                }
                _ => Err(e.into()),
            },
        }
    }
}
