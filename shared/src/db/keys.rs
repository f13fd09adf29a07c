//! API key lifecycle: every key has a record under its owner (`MER#<id>` or `CHAIN#<id>` /
//! `KEY#<prefix>`) and a prefix record (`KEYPREFIX#<prefix>`), so an operator lists an owner's
//! keys and revokes one by the prefix it was shown, and a rotation sets an end to the old keys.
//! The key itself is stored only as its hash (`KEY#<sha256>`), which says whether it still
//! works (`revoked_at`, `expires_at`).

use super::error::StoreError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::item::{self, get_n, get_s, Item};
use super::key_pk;
use super::timestamp;
use super::{av_s, Db};
use crate::invoice::jst_timestamp;

/// Whose key it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    Merchant(String),
    Chain(String),
}

impl KeyOwner {
    fn pk(&self) -> String {
        match self {
            KeyOwner::Merchant(id) => format!("MER#{id}"),
            KeyOwner::Chain(id) => format!("CHAIN#{id}"),
        }
    }

    fn parse(pk: &str) -> Option<Self> {
        if let Some(id) = pk.strip_prefix("MER#") {
            return Some(KeyOwner::Merchant(id.to_string()));
        }
        pk.strip_prefix("CHAIN#")
            .map(|id| KeyOwner::Chain(id.to_string()))
    }
}

/// What an operator sees of a key: never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// `sk_test_` and the first 8 characters of the secret: enough to say which key.
    pub prefix: String,
    pub owner: KeyOwner,
    pub created_at: String,
    pub revoked_at: Option<String>,
    /// Unix seconds after which a rotated-out key stops working (`key_expires_at`: not the
    /// table's TTL attribute, so the record stays to be listed).
    pub expires_at: Option<i64>,
}

impl KeyRecord {
    pub fn state(&self, now: DateTime<Utc>) -> &'static str {
        match (&self.revoked_at, self.expires_at) {
            (Some(_), _) => "revoked",
            (None, Some(e)) if e <= now.timestamp() => "expired",
            (None, Some(_)) => "expiring",
            (None, None) => "active",
        }
    }

    pub fn describe(&self, now: DateTime<Utc>) -> String {
        let until = self
            .expires_at
            .and_then(|e| DateTime::from_timestamp(e, 0))
            .map(|t| format!(" until {}", jst_timestamp(t)))
            .unwrap_or_default();
        format!(
            "{}  {}{}  created {}",
            self.prefix,
            self.state(now),
            until,
            self.created_at
        )
    }
}

/// The prefix an operator is shown for a key.
pub fn key_prefix(api_key: &str) -> String {
    // `sk_test_` / `ck_live_` (8) and 8 characters of the secret.
    api_key.chars().take(16).collect()
}

fn record_key(owner: &KeyOwner, prefix: &str) -> Item {
    item::key(owner.pk(), format!("KEY#{prefix}"))
}

fn prefix_key(prefix: &str) -> Item {
    item::key(format!("KEYPREFIX#{prefix}"), "#")
}

impl Db {
    /// The records that make a new key listable and revocable (written with its hash item).
    pub(crate) fn key_records(
        &self,
        owner: &KeyOwner,
        api_key: &str,
        now: DateTime<Utc>,
    ) -> Vec<Item> {
        let prefix = key_prefix(api_key);
        let mut rec = record_key(owner, &prefix);
        rec.insert("type".into(), item::s("api_key_record"));
        rec.insert("key_hash_pk".into(), item::s(key_pk(api_key)));
        rec.insert("created_at".into(), item::s(timestamp(now)));
        let mut by_prefix = prefix_key(&prefix);
        by_prefix.insert("type".into(), item::s("api_key_prefix"));
        by_prefix.insert("owner_pk".into(), item::s(owner.pk()));
        by_prefix.insert("key_hash_pk".into(), item::s(key_pk(api_key)));
        vec![rec, by_prefix]
    }

    /// An owner's keys, oldest first. One query.
    pub async fn list_keys(&self, owner: &KeyOwner) -> Result<Vec<KeyRecord>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.res.main_table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :k)")
            .expression_attribute_values(":pk", av_s(&owner.pk()))
            .expression_attribute_values(":k", av_s("KEY#"))
            .consistent_read(true)
            .send()
            .await?;
        let mut keys: Vec<KeyRecord> = out
            .items()
            .iter()
            .filter_map(|it| {
                Some(KeyRecord {
                    prefix: get_s(it, "sk")?.strip_prefix("KEY#")?.to_string(),
                    owner: owner.clone(),
                    created_at: get_s(it, "created_at").unwrap_or_default().to_string(),
                    revoked_at: get_s(it, "revoked_at").map(str::to_string),
                    expires_at: get_n(it, "key_expires_at"),
                })
            })
            .collect();
        keys.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(keys)
    }

    /// Revokes the key shown as `prefix`: it stops working at once (within a warm function's
    /// key cache, a minute). `None` for an unknown prefix.
    pub async fn revoke_key(
        &self,
        prefix: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<KeyOwner>, StoreError> {
        let Some(found) = self.read(&self.res.main_table, prefix_key(prefix)).await? else {
            return Ok(None);
        };
        let (Some(owner), Some(hash_pk)) = (
            get_s(&found, "owner_pk").and_then(KeyOwner::parse),
            get_s(&found, "key_hash_pk"),
        ) else {
            return Err(StoreError::failed(&item::Corrupt("api_key_prefix")));
        };
        self.update_key_items(
            hash_pk,
            &owner,
            prefix,
            "SET revoked_at = if_not_exists(revoked_at, :v)",
            av_s(&timestamp(now)),
        )
        .await?;
        Ok(Some(owner))
    }

    /// Sets an end (`until`, Unix seconds) to every working key of the owner but `keep`: what a
    /// rotation does to the old keys. Returns how many.
    pub async fn expire_keys(
        &self,
        owner: &KeyOwner,
        keep: &str,
        until: i64,
    ) -> Result<usize, StoreError> {
        let mut n = 0;
        for k in self.list_keys(owner).await? {
            if k.prefix == key_prefix(keep)
                || k.revoked_at.is_some()
                || k.expires_at.is_some_and(|e| e <= until)
            {
                continue;
            }
            let Some(found) = self
                .read(&self.res.main_table, prefix_key(&k.prefix))
                .await?
            else {
                continue;
            };
            let Some(hash_pk) = get_s(&found, "key_hash_pk") else {
                continue;
            };
            self.update_key_items(
                hash_pk,
                owner,
                &k.prefix,
                "SET key_expires_at = :v",
                item::n(until),
            )
            .await?;
            n += 1;
        }
        Ok(n)
    }

    /// One change to both items of a key (the one auth reads by hash and the owner's listing
    /// record), in one transaction, each only if it exists. `:v` is `value`.
    async fn update_key_items(
        &self,
        hash_pk: &str,
        owner: &KeyOwner,
        prefix: &str,
        expression: &str,
        value: AttributeValue,
    ) -> Result<(), StoreError> {
        let mut items = Vec::new();
        for key in [item::key(hash_pk, "#"), record_key(owner, prefix)] {
            let update = Update::builder()
                .table_name(&self.res.main_table)
                .set_key(Some(key))
                .update_expression(expression)
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":v", value.clone())
                .build()
                .map_err(|e| StoreError::failed(&e))?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await?;
        Ok(())
    }
}
