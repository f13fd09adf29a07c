//! The outbox: one record per notice to send, written in the registration transaction. Its
//! stream feeds the notifier, which records each step it has done on the record itself, so a
//! retried delivery neither stores a sheet twice nor sends a mail twice.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::item::{self, get_s, Item};
use super::{applied, av_s, put_new, Db};
use crate::invoice::timestamp;
use crate::problem::Problem;

/// How long an outbox record is kept after it was written.
pub const OUTBOX_KEEP_SECONDS: i64 = 90 * 86_400;

/// Steps of a delivery, each recorded once done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    SheetStored,
    MailSent,
    MobileMailSent,
}

impl Step {
    pub fn attribute(self) -> &'static str {
        match self {
            Step::SheetStored => "sheet_stored_at",
            Step::MailSent => "mail_message_id",
            Step::MobileMailSent => "mobile_mail_message_id",
        }
    }
}

#[derive(Debug, Clone)]
pub struct OutboxRecord {
    pub id: String,
    pub invoice_id: String,
    pub sheet_token: Option<String>,
    item: Item,
}

impl OutboxRecord {
    pub fn done(&self, step: Step) -> bool {
        self.item.contains_key(step.attribute())
    }
}

impl Db {
    /// The transaction item that queues the notices of a newly registered invoice.
    pub fn outbox_put(
        &self,
        invoice_id: &str,
        sheet_token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, Problem> {
        let mut it = Item::new();
        it.insert(
            "id".into(),
            item::s(format!("invoice_registered#{invoice_id}")),
        );
        it.insert("kind".into(), item::s("invoice_registered"));
        it.insert("invoice_id".into(), item::s(invoice_id));
        it.insert("created_at".into(), item::s(timestamp(now)));
        it.insert(
            "expires_at".into(),
            item::n(now.timestamp() + OUTBOX_KEEP_SECONDS),
        );
        if let Some(t) = sheet_token {
            it.insert("sheet_token".into(), item::s(t));
        }
        put_new(&self.res.outbox_table, it, "id")
    }

    /// One consistent read.
    pub async fn get_outbox(&self, id: &str) -> Result<Option<OutboxRecord>, Problem> {
        let key = Item::from([("id".to_string(), AttributeValue::S(id.to_string()))]);
        let found = self.read(&self.res.outbox_table, key).await?;
        Ok(found.as_ref().and_then(|it| {
            Some(OutboxRecord {
                id: get_s(it, "id")?.to_string(),
                invoice_id: get_s(it, "invoice_id")?.to_string(),
                sheet_token: get_s(it, "sheet_token").map(str::to_string),
                item: it.clone(),
            })
        }))
    }

    /// Records a step as done, once: `Ok(false)` if it was recorded already.
    pub async fn record_step(&self, id: &str, step: Step, value: &str) -> Result<bool, Problem> {
        let res = self
            .client
            .update_item()
            .table_name(&self.res.outbox_table)
            .key("id", AttributeValue::S(id.to_string()))
            .update_expression("SET #step = :v")
            .condition_expression("attribute_exists(id) AND attribute_not_exists(#step)")
            .expression_attribute_names("#step", step.attribute())
            .expression_attribute_values(":v", av_s(value))
            .send()
            .await;
        applied(res)
    }
}
