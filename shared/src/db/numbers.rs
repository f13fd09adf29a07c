//! Issued numbers: one item each in the numbers table, written with a condition so that a
//! number is never issued twice.

use super::error::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::item::{self, get_n, get_s, Item};
use super::timestamp;
use super::{applied, put_new, Db};
use crate::number::{NumberKind, SmartPitNumber};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberRecord {
    pub number: SmartPitNumber,
    pub kind: NumberKind,
    /// The merchant a joint card or sheet was issued to.
    pub merchant_id: Option<String>,
    /// The merchant's own customer reference for a joint card.
    pub customer_ref: Option<String>,
    /// Unix seconds after which no bill may be registered on a sheet.
    pub expires_at: Option<i64>,
    pub created_at: String,
    /// The issuing request a number of a merchant's batch belongs to (joint cards): a retry of
    /// that request finds its numbers by it.
    pub batch_id: Option<String>,
}

impl NumberRecord {
    pub fn new(number: SmartPitNumber, kind: NumberKind, now: DateTime<Utc>) -> Self {
        NumberRecord {
            number,
            kind,
            merchant_id: None,
            customer_ref: None,
            expires_at: None,
            created_at: timestamp(now),
            batch_id: None,
        }
    }

    pub fn to_item(&self) -> Item {
        let mut it = Item::new();
        it.insert("number".into(), item::s(self.number.to_string()));
        it.insert("kind".into(), item::s(self.kind.as_str()));
        it.insert("created_at".into(), item::s(&self.created_at));
        if let Some(m) = &self.merchant_id {
            it.insert("merchant_id".into(), item::s(m));
        }
        if let Some(r) = &self.customer_ref {
            it.insert("customer_ref".into(), item::s(r));
            // The sparse `by_customer_ref` index: a merchant finds its own joint card by its
            // own reference.
            if let Some(m) = &self.merchant_id {
                it.insert("ref_key".into(), item::s(ref_key(m, r)));
            }
        }
        if let Some(e) = self.expires_at {
            it.insert("expires_at".into(), item::n(e));
        }
        if let Some(b) = &self.batch_id {
            it.insert("batch_id".into(), item::s(b));
        }
        it
    }

    fn from_item(it: &Item) -> Option<Self> {
        Some(NumberRecord {
            number: SmartPitNumber::parse(get_s(it, "number")?).ok()?,
            kind: NumberKind::parse(get_s(it, "kind")?)?,
            merchant_id: get_s(it, "merchant_id").map(str::to_string),
            customer_ref: get_s(it, "customer_ref").map(str::to_string),
            expires_at: get_n(it, "expires_at"),
            created_at: get_s(it, "created_at").unwrap_or_default().to_string(),
            batch_id: get_s(it, "batch_id").map(str::to_string),
        })
    }
}

/// The `by_customer_ref` key: the issuing merchant and its reference.
pub fn ref_key(merchant_id: &str, customer_ref: &str) -> String {
    format!("{merchant_id}#{customer_ref}")
}

impl Db {
    /// The merchant's joint card issued for `customer_ref`: the newest one when a customer was
    /// given a new card (a lost one). One query of the `by_customer_ref` index (eventually
    /// consistent: a card issued a moment ago may not be found yet).
    pub async fn joint_card_by_ref(
        &self,
        merchant_id: &str,
        customer_ref: &str,
    ) -> Result<Option<NumberRecord>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.res.numbers_table)
            .index_name("by_customer_ref")
            .key_condition_expression("ref_key = :r")
            .expression_attribute_values(
                ":r",
                AttributeValue::S(ref_key(merchant_id, customer_ref)),
            )
            .scan_index_forward(false)
            .limit(1)
            .send()
            .await?;
        Ok(out.items().first().and_then(NumberRecord::from_item))
    }

    /// Stores a freshly drawn number unless it exists already. One round trip.
    /// `Ok(false)` means the number was taken: draw another.
    pub async fn insert_number(&self, rec: &NumberRecord) -> Result<bool, StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.res.numbers_table)
            .set_item(Some(rec.to_item()))
            .condition_expression("attribute_not_exists(#n)")
            .expression_attribute_names("#n", "number")
            .send()
            .await;
        applied(res)
    }

    /// Stores a number of a batch unless another batch (or a single issue) holds it. One round
    /// trip. `Ok(true)` also when this batch stored it before: a retry of the batch rewrites
    /// the same item.
    pub async fn insert_batch_number(&self, rec: &NumberRecord) -> Result<bool, StoreError> {
        let Some(batch) = &rec.batch_id else {
            return self.insert_number(rec).await;
        };
        let res = self
            .client
            .put_item()
            .table_name(&self.res.numbers_table)
            .set_item(Some(rec.to_item()))
            .condition_expression("attribute_not_exists(#n) OR batch_id = :batch")
            .expression_attribute_names("#n", "number")
            .expression_attribute_values(":batch", AttributeValue::S(batch.clone()))
            .send()
            .await;
        applied(res)
    }

    /// Stores up to 100 freshly drawn numbers in one transaction, each only if it is free: all
    /// or none. `Taken` names the positions whose number exists already (nothing was written:
    /// draw those again and resend the group). The request token is derived from the group's
    /// numbers, so the SDK's retry of a transaction that did commit succeeds again instead of
    /// finding its own numbers taken. One round trip.
    pub async fn insert_numbers(&self, recs: &[NumberRecord]) -> Result<GroupOutcome, StoreError> {
        let items = recs
            .iter()
            .map(|r| self.number_put(r))
            .collect::<Result<Vec<_>, _>>()?;
        let numbers: Vec<String> = recs.iter().map(|r| r.number.to_string()).collect();
        let token = crate::ids::sha256_hex(&numbers.join(","));
        let res = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(&token[..36])
            .send()
            .await;
        let err = match res {
            Ok(_) => return Ok(GroupOutcome::Stored),
            Err(e) => e,
        };
        match super::cancellation_codes(&err) {
            Some(codes) if codes.iter().any(|c| c == "ConditionalCheckFailed") => {
                Ok(GroupOutcome::Taken(
                    codes
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| *c == "ConditionalCheckFailed")
                        .map(|(i, _)| i)
                        .collect(),
                ))
            }
            Some(codes) if codes.iter().any(|c| c == "TransactionConflict") => {
                Ok(GroupOutcome::Conflict)
            }
            _ => Err(err.into()),
        }
    }

    /// The transaction item that issues a number only if it is free.
    pub fn number_put(
        &self,
        rec: &NumberRecord,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
        put_new(&self.res.numbers_table, rec.to_item(), "number")
    }

    /// One strongly consistent read.
    pub async fn get_number(&self, n: SmartPitNumber) -> Result<Option<NumberRecord>, StoreError> {
        let key = Item::from([("number".to_string(), AttributeValue::S(n.to_string()))]);
        let found = self.read(&self.res.numbers_table, key).await?;
        Ok(found.as_ref().and_then(NumberRecord::from_item))
    }
}

/// What became of a group of numbers sent in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupOutcome {
    Stored,
    /// These positions hold numbers that exist already; nothing was written.
    Taken(Vec<usize>),
    /// Another transaction was writing one of the items: nothing was written, send it again.
    Conflict,
}
