//! A merchant's changes to a registered bill: new terms (`PATCH`, a new version) or another
//! number (a lost card: the bill moves). Each is one transaction with its `invoice.updated`
//! event and the stored idempotent response; both are conditional on the bill being the version
//! read, registered, before its deadline and not held by a kiosk slip.

use super::error::StoreError;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::idempotency::Lock;
use super::item;
use super::notices::notices_attr;
use super::{av_s, cancellation_codes, put_new, Db};
use super::{merchant_pk, merchant_status_pk, timestamp};
use crate::invoice::{Invoice, InvoiceStatus};
use crate::webhook::{Event, EventType};

/// Which of a bill's registration mails a change of its addresses sends: to the new PC address
/// (a sheet bill's, with its link) and to the new mobile address.
#[derive(Debug, Clone, Copy)]
pub struct AddressMail<'a> {
    pub sheet_token: Option<&'a str>,
    pub email: bool,
    pub mobile: bool,
}

/// The condition every change of a bill needs: what was read is what is stored, and it may
/// still change.
const CHANGEABLE: &str = "merchant_id = :m AND #status = :registered AND deadline >= :now \
     AND (attribute_not_exists(hold_until) OR hold_until < :now) \
     AND (attribute_not_exists(version) OR version = :v)";

pub(super) fn changeable(
    b: aws_sdk_dynamodb::types::builders::UpdateBuilder,
    current: &Invoice,
    now: DateTime<Utc>,
) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
    b.condition_expression(CHANGEABLE)
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":m", av_s(&current.merchant_id))
        .expression_attribute_values(":registered", av_s("registered"))
        .expression_attribute_values(":now", item::n(now.timestamp()))
        .expression_attribute_values(":v", item::n(current.version))
}

impl Db {
    /// Stores `changed` (the next version of `current`): its terms, version and queued
    /// notices, the sheet link's new expiry and a reissue record for a sheet invoice, the
    /// event, the response. `Ok(false)`: the bill changed meanwhile; nothing was written.
    #[allow(clippy::too_many_arguments)]
    pub async fn change_invoice(
        &self,
        current: &Invoice,
        changed: &Invoice,
        event_data: Value,
        sheet_token: Option<&str>,
        lock: &Lock,
        response_status: u16,
        response_body: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut set = vec![
            "amount = :amount",
            "customer_fee = :fee",
            "due_date = :due",
            "deadline = :deadline",
            "version = :next",
            "updated_at = :ts",
        ];
        let mut values: HashMap<String, AttributeValue> = HashMap::from([
            (":amount".into(), item::n(changed.amount)),
            (":fee".into(), item::n(changed.customer_fee)),
            (":due".into(), item::s(changed.due_date.to_string())),
            (":deadline".into(), item::n(changed.deadline)),
            (":next".into(), item::n(changed.version)),
            (":ts".into(), item::s(timestamp(now))),
        ]);
        if let Some(d) = &changed.description {
            set.push("description = :desc");
            values.insert(":desc".into(), item::s(d));
        }
        if let Some(d) = &changed.store_description {
            set.push("store_description = :store_desc");
            values.insert(":store_desc".into(), item::s(d));
        }
        if sheet_token.is_some() {
            set.push("notices = :notices");
            values.insert(":notices".into(), notices_attr(&changed.notices));
        }
        if let Some(e) = &changed.customer.email {
            set.push("customer_email = :email");
            values.insert(":email".into(), item::s(e));
        }
        if let Some(e) = &changed.customer.mobile_email {
            set.push("customer_mobile_email = :mobile");
            values.insert(":mobile".into(), item::s(e));
        }
        let mut expr = format!("SET {}", set.join(", "));
        let removed: Vec<&str> = [
            ("description", changed.description.is_none()),
            ("store_description", changed.store_description.is_none()),
            ("customer_email", changed.customer.email.is_none()),
            (
                "customer_mobile_email",
                changed.customer.mobile_email.is_none(),
            ),
        ]
        .into_iter()
        .filter_map(|(name, gone)| gone.then_some(name))
        .collect();
        if !removed.is_empty() {
            expr.push_str(&format!(" REMOVE {}", removed.join(", ")));
        }
        let update = changeable(
            self.invoice_update(&current.id).update_expression(expr),
            current,
            now,
        );
        let mut update = update;
        for (k, v) in values {
            update = update.expression_attribute_values(k, v);
        }
        let update = update.build().map_err(|e| StoreError::failed(&e))?;
        let mut items = vec![
            TransactWriteItem::builder().update(update).build(),
            self.complete_idempotency_key(lock, response_status, response_body)?,
            self.event_put(&Event::new(
                &current.merchant_id,
                EventType::InvoiceUpdated,
                Some(current.id.as_str()),
                event_data,
                now,
            ))?,
        ];
        let addressed = changed.customer.email.is_some() || changed.customer.mobile_email.is_some();
        let had = current.customer.email.is_some() || current.customer.mobile_email.is_some();
        if addressed && (changed.due_date != current.due_date || !had) {
            // The reminder follows the new due day (the old entry finds the bill moved on).
            items.push(self.reminder_entry_put(changed)?);
            items.push(self.erasure_entry_put(changed)?);
        }
        // A card bill's new mobile address gets the registration notice (a sheet bill's new
        // addresses get the reissued sheet's mail below).
        let new_mobile = changed.customer.mobile_email.is_some()
            && changed.customer.mobile_email != current.customer.mobile_email;
        if sheet_token.is_none() && new_mobile {
            let mail = AddressMail {
                sheet_token: None,
                email: false,
                mobile: true,
            };
            items.push(self.outbox_put_address_change(changed.id.as_str(), mail, now)?);
        }
        if let Some(token) = sheet_token {
            items.push(self.sheet_link_expiry(token, changed.deadline)?);
            items.push(self.outbox_put_reissue(
                changed.id.as_str(),
                changed.version,
                token,
                now,
            )?);
        }
        self.applied_transaction(items).await
    }

    /// Stores `changed`'s addresses (the same version of `current`): the addresses, the
    /// notices queued for the changed ones, a record that sends them the bill's mail, the
    /// event, the response. Conditional on the bill as read (its version and last change), so
    /// two corrections at once cannot both land. `Ok(false)`: it changed meanwhile.
    #[allow(clippy::too_many_arguments)]
    pub async fn change_addresses(
        &self,
        current: &Invoice,
        changed: &Invoice,
        event_data: Value,
        mail: AddressMail<'_>,
        lock: &Lock,
        response_status: u16,
        response_body: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut set = vec!["updated_at = :ts"];
        let mut remove = Vec::new();
        let mut update = self.invoice_update(&current.id);
        match &changed.customer.email {
            Some(e) => {
                set.push("customer_email = :email");
                update = update.expression_attribute_values(":email", item::s(e));
            }
            None => remove.push("customer_email"),
        }
        match &changed.customer.mobile_email {
            Some(e) => {
                set.push("customer_mobile_email = :mobile");
                update = update.expression_attribute_values(":mobile", item::s(e));
            }
            None => remove.push("customer_mobile_email"),
        }
        // Only the notices queued now are written: the notifier records the others' outcomes
        // on the same map meanwhile, and a whole map would put back what it read.
        let queued: Vec<&crate::notice::Notice> = changed
            .notices
            .iter()
            .filter(|n| {
                n.status == crate::notice::NoticeStatus::Queued && n.at == changed.updated_at
            })
            .collect();
        let mut paths = Vec::new();
        if current.notices.is_empty() && !changed.notices.is_empty() {
            set.push("notices = :notices");
            update = update.expression_attribute_values(":notices", notices_attr(&changed.notices));
        } else {
            for (i, n) in queued.iter().enumerate() {
                paths.push(format!("notices.#k{i} = :n{i}"));
                update = update
                    .expression_attribute_names(format!("#k{i}"), n.kind.as_str())
                    .expression_attribute_values(format!(":n{i}"), super::notices::notice_attr(n));
            }
        }
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        set.extend(paths);
        let mut expr = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let update = changeable(update.update_expression(expr), current, now)
            .condition_expression(format!("{CHANGEABLE} AND updated_at = :read"))
            .expression_attribute_values(":read", item::s(timestamp(current.updated_at)))
            .expression_attribute_values(":ts", item::s(timestamp(now)))
            .build()
            .map_err(|e| StoreError::failed(&e))?;
        let mut items = vec![
            TransactWriteItem::builder().update(update).build(),
            self.complete_idempotency_key(lock, response_status, response_body)?,
            self.event_put(&Event::new(
                &current.merchant_id,
                EventType::InvoiceUpdated,
                Some(current.id.as_str()),
                event_data,
                now,
            ))?,
        ];
        let had = current.customer.email.is_some() || current.customer.mobile_email.is_some();
        let has = changed.customer.email.is_some() || changed.customer.mobile_email.is_some();
        if has && !had {
            items.push(self.reminder_entry_put(changed)?);
            items.push(self.erasure_entry_put(changed)?);
        }
        if mail.email || mail.mobile {
            items.push(self.outbox_put_address_change(changed.id.as_str(), mail, now)?);
        }
        self.applied_transaction(items).await
    }

    /// Moves `current` to `moved` (the same bill under another number, a new id): the old bill
    /// becomes `moved` (and leaves its number's lookups), the new one is registered, the order
    /// id follows it. `Ok(false)`: the bill changed meanwhile; nothing was written.
    #[allow(clippy::too_many_arguments)]
    pub async fn move_invoice(
        &self,
        current: &Invoice,
        moved: &Invoice,
        event_data: Value,
        lock: &Lock,
        response_status: u16,
        response_body: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let old = changeable(
            self.invoice_update(&current.id).update_expression(
                "SET #status = :moved, moved_to = :to, updated_at = :ts, gsi2pk = :gsi2pk \
                     REMOVE open_shard",
            ),
            current,
            now,
        )
        .expression_attribute_values(":moved", av_s("moved"))
        .expression_attribute_values(":to", av_s(moved.id.as_str()))
        .expression_attribute_values(":ts", av_s(&timestamp(now)))
        .expression_attribute_values(
            ":gsi2pk",
            av_s(&merchant_status_pk(
                &current.merchant_id,
                InvoiceStatus::Moved,
            )),
        )
        .build()
        .map_err(|e| StoreError::failed(&e))?;
        let order = Update::builder()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(
                merchant_pk(&current.merchant_id),
                format!("ORDER#{}", current.merchant_order_id),
            )))
            .update_expression("SET invoice_id = :new")
            .condition_expression("invoice_id = :old")
            .expression_attribute_values(":new", av_s(moved.id.as_str()))
            .expression_attribute_values(":old", av_s(current.id.as_str()))
            .build()
            .map_err(|e| StoreError::failed(&e))?;
        let items = vec![
            TransactWriteItem::builder().update(old).build(),
            put_new(&self.res.main_table, moved.to_item(), "pk")?,
            TransactWriteItem::builder().update(order).build(),
            self.complete_idempotency_key(lock, response_status, response_body)?,
            self.event_put(&Event::new(
                &current.merchant_id,
                EventType::InvoiceUpdated,
                Some(current.id.as_str()),
                event_data,
                now,
            ))?,
        ];
        self.applied_transaction(items).await
    }

    /// `Ok(false)` when a condition failed (nothing was written).
    pub(super) async fn applied_transaction(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<bool, StoreError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if cancellation_codes(&e).is_some() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
