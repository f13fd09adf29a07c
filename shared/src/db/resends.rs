//! Re-sending a bill's registration mails (`POST /v1/invoices/{id}/resend`): at most
//! `RESENDS_PER_DAY` a bill and JST day, counted on an item of the main table
//! (`RESEND#<invoice id>`, `DAY#<YYYY-MM-DD>`) written in the same transaction as the queued
//! notices and the outbox record, so a count never runs ahead of or behind the mails.

use super::error::StoreError;
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::changes::changeable;
use super::idempotency::Lock;
use super::item::{self, get_n};
use super::notices::notices_attr;
use super::timestamp;
use super::{av_s, Db};
use crate::invoice::Invoice;

/// Re-sends a bill may have in one JST day.
pub const RESENDS_PER_DAY: i64 = 5;
/// How long a day's count is kept (DynamoDB's TTL removes it after).
const COUNT_KEEP_SECONDS: i64 = 3 * 86_400;

fn count_key(invoice_id: &str, day: &str) -> item::Item {
    item::key(format!("RESEND#{invoice_id}"), format!("DAY#{day}"))
}

impl Db {
    /// How many times the bill's mails were re-sent on `day` (JST, `YYYY-MM-DD`).
    pub async fn resends_on(&self, invoice_id: &str, day: &str) -> Result<i64, StoreError> {
        let it = self
            .read(&self.res.main_table, count_key(invoice_id, day))
            .await?;
        Ok(it.as_ref().and_then(|i| get_n(i, "sends")).unwrap_or(0))
    }

    /// Queues the bill's mails again as the day's `seen + 1`th re-send: `changed` carries the
    /// queued notices; the count, the outbox record and the stored answer go in one
    /// transaction. `Ok(false)`: the bill or the day's count changed meanwhile; nothing was
    /// written.
    #[allow(clippy::too_many_arguments)]
    pub async fn resend_invoice(
        &self,
        changed: &Invoice,
        day: &str,
        seen: i64,
        sheet_token: Option<&str>,
        lock: &Lock,
        response_status: u16,
        response_body: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let notices = changeable(
            self.invoice_update(&changed.id)
                .update_expression("SET notices = :notices, updated_at = :ts"),
            changed,
            now,
        )
        .expression_attribute_values(":notices", notices_attr(&changed.notices))
        .expression_attribute_values(":ts", av_s(&timestamp(now)))
        .build()
        .map_err(|e| StoreError::failed(&e))?;
        let count = Update::builder()
            .table_name(&self.res.main_table)
            .set_key(Some(count_key(changed.id.as_str(), day)))
            .update_expression("SET sends = :next, expires_at = :exp")
            .condition_expression(if seen == 0 {
                "attribute_not_exists(sends)"
            } else {
                "sends = :seen"
            })
            .expression_attribute_values(":next", item::n(seen + 1))
            .expression_attribute_values(":exp", item::n(now.timestamp() + COUNT_KEEP_SECONDS));
        let count = if seen == 0 {
            count
        } else {
            count.expression_attribute_values(":seen", item::n(seen))
        }
        .build()
        .map_err(|e| StoreError::failed(&e))?;
        let items = vec![
            TransactWriteItem::builder().update(notices).build(),
            TransactWriteItem::builder().update(count).build(),
            self.outbox_put_resend(changed.id.as_str(), day, seen + 1, sheet_token, now)?,
            self.complete_idempotency_key(lock, response_status, response_body)?,
        ];
        self.applied_transaction(items).await
    }
}
