//! DynamoDB access. Every read and write of the service goes through these functions; each
//! documents its round trips. Key layout (see docs/ARCHITECTURE.md):
//!
//! Main table (`pk`, `sk`):
//! - `NUM#<number>` / `INV#<invoice id>`: an invoice, under its number so that a store finds
//!   every payable bill on a number with one strongly consistent query.
//! - `MER#<merchant>` / `#`: a merchant; `MER#<merchant>` / `ORDER#<order id>`: uniqueness of
//!   the merchant's order ids.
//! - `KEY#<sha256 of API key>` / `#`: who an API key belongs to.
//! - `IDEM#<merchant>#<key>` / `#`: an idempotency record (TTL `expires_at`).
//! - `PAY#<payment id>` / `#`: a store payment.
//! - `CHAIN#<id>` / `#`: a store chain.
//! - `MER#<merchant>#PAID#<YYYY-MM-DD>` / `<payment id>#<invoice id>`: a bill collected that
//!   day (the daily report); `MER#<merchant>` / `FEES`: the merchant's fee schedule.
//! - `SLIP#<slip id>` / `#`: a kiosk slip (申込券); its bills carry `hold_slip`, `hold_chain`,
//!   `hold_until` while it holds them.
//! - `MER#<id>` or `CHAIN#<id>` / `KEY#<prefix>`, `KEYPREFIX#<prefix>` / `#`: an API key's records
//!   (listing, revocation by the prefix an operator is shown).
//! - `SETTLE#<chain>/<YYYYMMDD>` / `#`: the summary of a settlement file's reconciliation.
//! - GSI `by_chain_day` (`chain_day` = `<chain>#<YYYY-MM-DD>`, sparse: payments only): what a
//!   chain recorded on a JST day, for reconciliation.
//! - GSI `by_merchant` (`gsi1pk` = `MER#<merchant>`, `gsi1sk` = created#id) and
//!   `by_merchant_status` (`gsi2pk` = `MER#<merchant>#<status>`): a merchant's listing.
//!
//! - `CUSER#<address>`, `CLOGIN#<hash>`, `CSESS#<hash>` / `#`: the merchant console's users,
//!   one-time sign-in links and sessions (`db::console`).
//!
//! Numbers table (`number`): every issued number with its kind.

pub mod item;

mod abuse;
mod admin;
pub mod bank_accounts;
mod changes;
mod console;
mod error;
pub mod events;
mod idempotency;
pub mod invoice_item;
mod invoices;
pub mod keys;
pub mod notices;
mod numbers;
mod outbox;
pub mod payment_item;
mod payments;
pub mod payouts;
pub mod refunds;
mod reminders;
mod reports;
mod resends;
mod retention;
#[cfg(feature = "dynamo-probe")]
pub mod serde_probe;
mod settlements;
mod sheets;
mod slips;

pub use crate::payment::{Payment, PaymentRequest, PaymentStatus};
pub use changes::AddressMail;
pub use console::{UploadState, UPLOAD_LINES_PER_ITEM};
pub use error::{Refusal, StoreError};
pub use idempotency::{Claim, Lock, LEASE_SECONDS};

/// The item of an API key: the hash of the key, never the key.
pub(crate) fn key_pk(api_key: &str) -> String {
    format!("KEY#{}", crate::ids::sha256_hex(api_key))
}

pub use invoice_item::{
    invoice_sk, merchant_pk, merchant_status_pk, number_pk, open_shard, timestamp, OPEN_SHARDS,
};
pub use invoices::{InvoicePage, RegisterOutcome};
pub use numbers::{GroupOutcome, NumberRecord};
pub use outbox::{step_of, Failures, OutboxRecord, RefundRequest, Step};
pub use payments::{PayOutcome, VoidOutcome};
pub use reminders::MAX_REMINDER_DAYS;
pub use resends::RESENDS_PER_DAY;
pub use retention::{closed_at, DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS};
pub use settlements::SettleResult;
pub use sheets::SheetLink;
pub use slips::{Slip, SlipOutcome, SLIP_HOLD_SECONDS};

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::KeysAndAttributes;
use aws_sdk_dynamodb::Client;

use crate::{Invoice, InvoiceId};
use item::Item;

/// Keys one `BatchGetItem` may carry.
pub(crate) const MAX_BATCH_KEYS: usize = 100;

use crate::config::Resources;

/// The tables and the client to reach them.
#[derive(Clone, Debug)]
pub struct Db {
    pub client: Client,
    pub res: Resources,
}

impl Db {
    /// The tables as an HTTP route reaches them (the `API_DYNAMODB` time limits).
    pub fn new(sdk: &aws_config::SdkConfig, res: Resources) -> Self {
        Self::with_profile(sdk, res, crate::timeouts::API_DYNAMODB)
    }

    /// The tables with the time limits of another kind of caller.
    pub fn with_profile(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        profile: crate::timeouts::CallProfile,
    ) -> Self {
        let conf = aws_sdk_dynamodb::config::Builder::from(sdk)
            .timeout_config(profile.timeouts())
            .retry_config(profile.retries())
            .interceptor(crate::calls::CountCalls)
            .build();
        Db {
            client: Client::from_conf(conf),
            res,
        }
    }
}

/// The reasons DynamoDB gave for cancelling a transaction, one per item ("None" where the item
/// was fine), or `None` when the error was not a cancellation.
pub(crate) fn cancellation_codes<R>(
    err: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        R,
    >,
) -> Option<Vec<String>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match err.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(e) => Some(
            e.cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None").to_string())
                .collect(),
        ),
        _ => None,
    }
}

pub(crate) fn is_conditional_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(
    err: &aws_sdk_dynamodb::error::SdkError<E, R>,
) -> bool {
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

/// The outcome of a conditional write: `Ok(true)` written, `Ok(false)` its condition failed.
impl Db {
    /// The items of one partition of the main table, page by page, at most `max_pages` pages
    /// (what is beyond waits for the next pass of whoever reads it).
    pub(crate) async fn partition_items(
        &self,
        pk: &str,
        max_pages: usize,
    ) -> Result<Vec<item::Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        for _ in 0..max_pages {
            let out = self
                .client
                .query()
                .table_name(&self.res.main_table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", av_s(pk))
                .set_exclusive_start_key(start.take())
                .send()
                .await?;
            items.extend(out.items().iter().cloned());
            match out.last_evaluated_key() {
                Some(k) => start = Some(k.clone()),
                None => break,
            }
        }
        Ok(items)
    }
}

pub(crate) fn applied<T, E, R>(
    res: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>,
) -> Result<bool, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match res {
        Ok(_) => Ok(true),
        Err(e) if is_conditional_failure(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn av_s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

impl Db {
    /// Invoices by id, 100 a call (strongly consistent).
    pub async fn get_invoices_by_id(
        &self,
        ids: &[InvoiceId],
    ) -> Result<HashMap<String, Invoice>, StoreError> {
        let mut found = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_BATCH_KEYS) {
            let keys = chunk
                .iter()
                .map(|id| item::key(number_pk(id.number()), invoice_sk(id)))
                .collect();
            for it in self.batch_read(keys).await? {
                let inv = Invoice::from_item(&it).map_err(|e| StoreError::failed(&e))?;
                found.insert(inv.id.as_str().to_string(), inv);
            }
        }
        Ok(found)
    }

    /// One `BatchGetItem` of up to 100 keys of the main table, unprocessed keys retried.
    pub(crate) async fn batch_read(&self, mut keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut out_items = Vec::with_capacity(keys.len());
        for attempt in 0..6u32 {
            if keys.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
            }
            let ka = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut keys)))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::failed(&e))?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.res.main_table, ka)
                .send()
                .await?;
            if let Some(items) = out.responses().and_then(|r| r.get(&self.res.main_table)) {
                out_items.extend(items.iter().cloned());
            }
            keys = out
                .unprocessed_keys()
                .and_then(|u| u.get(&self.res.main_table))
                .map(|k| k.keys().to_vec())
                .unwrap_or_default();
        }
        if !keys.is_empty() {
            return Err(StoreError::unavailable(&"batch read left keys unprocessed"));
        }
        Ok(out_items)
    }

    /// Every item a query finds, page after page (one call per 1 MB page).
    pub(crate) async fn query_all(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = query.clone().set_exclusive_start_key(start).send().await?;
            found.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(found);
            }
        }
    }

    /// An update of the invoice `id` (its item in the main table, under its number).
    pub(crate) fn invoice_update(
        &self,
        id: &InvoiceId,
    ) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(number_pk(id.number()), invoice_sk(id))))
    }

    /// One strongly consistent `GetItem`.
    pub(crate) async fn read(
        &self,
        table: &str,
        key: item::Item,
    ) -> Result<Option<item::Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await?;
        Ok(out.item().cloned())
    }
}

/// A transaction item that puts `item` only where nothing is stored under its key
/// (`key_attr` is the table's partition key).
pub(crate) fn put_new(
    table: &str,
    item: item::Item,
    key_attr: &str,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    let put = aws_sdk_dynamodb::types::Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#k)")
        .expression_attribute_names("#k", key_attr)
        .build()
        .map_err(|e| StoreError::failed(&e))?;
    Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
        .put(put)
        .build())
}
