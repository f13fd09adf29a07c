//! Sheet links: `SHEET#<token>` in the main table says which invoice's PDF a link opens, where
//! it is stored, until when, and whether it has been stored yet.

use super::error::StoreError;
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};

use super::item::{self, get_n, get_s};
use super::timestamp;
use super::{av_s, put_new, Db};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetLink {
    pub token: String,
    pub invoice_id: String,
    pub s3_key: String,
    /// Unix seconds; after it the link answers 410.
    pub expires_at: i64,
    /// Set once the PDF is in the bucket.
    pub stored: bool,
}

impl SheetLink {
    pub fn new(token: &str, invoice_id: &str, expires_at: i64) -> Self {
        SheetLink {
            token: token.to_string(),
            invoice_id: invoice_id.to_string(),
            s3_key: format!("sheets/{token}.pdf"),
            expires_at,
            stored: false,
        }
    }

    pub fn url(&self, base: &str) -> String {
        format!("{}/s/{}", base.trim_end_matches('/'), self.token)
    }
}

fn pk(token: &str) -> String {
    format!("SHEET#{token}")
}

impl Db {
    pub fn sheet_link_put(
        &self,
        link: &SheetLink,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut it = item::key(pk(&link.token), "#");
        it.insert("type".into(), item::s("sheet_link"));
        it.insert("invoice_id".into(), item::s(&link.invoice_id));
        it.insert("s3_key".into(), item::s(&link.s3_key));
        it.insert("link_expires_at".into(), item::n(link.expires_at));
        it.insert("created_at".into(), item::s(timestamp(now)));
        put_new(&self.res.main_table, it, "pk")
    }

    /// The transaction item that moves a link's expiry with its bill's new deadline.
    pub(crate) fn sheet_link_expiry(
        &self,
        token: &str,
        expires_at: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(pk(token), "#")))
            .update_expression("SET link_expires_at = :e")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":e", item::n(expires_at))
            .build()
            .map_err(|e| StoreError::failed(&e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// One read; `None` for an unknown token.
    pub async fn get_sheet_link(&self, token: &str) -> Result<Option<SheetLink>, StoreError> {
        let found = self
            .read(&self.res.main_table, item::key(pk(token), "#"))
            .await?;
        Ok(found.as_ref().and_then(|it| {
            Some(SheetLink {
                token: token.to_string(),
                invoice_id: get_s(it, "invoice_id")?.to_string(),
                s3_key: get_s(it, "s3_key")?.to_string(),
                expires_at: get_n(it, "link_expires_at")?,
                stored: it.contains_key("stored_at"),
            })
        }))
    }

    pub async fn mark_sheet_stored(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(pk(token), "#")))
            .update_expression("SET stored_at = :t")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":t", av_s(&timestamp(now)))
            .send()
            .await?;
        Ok(())
    }
}
