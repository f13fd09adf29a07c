//! Onboarding: merchants, store chains and their API keys. Keys are stored only as hashes.

use super::error::StoreError;
use chrono::{DateTime, Utc};

use super::item::{self, get_s, Item};
use super::Db;
use super::{key_pk, merchant_pk, timestamp};
use crate::principal::{ChainPrincipal, Merchant, Principal};
use crate::store_chain::{Channel, StoreChain};

impl Db {
    /// Creates or renames a merchant and registers one API key for it.
    pub async fn put_merchant(
        &self,
        merchant: &Merchant,
        api_key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut m = item::key(merchant_pk(&merchant.id), "#");
        m.insert("type".into(), item::s("merchant"));
        m.insert("name".into(), item::s(&merchant.name));
        m.insert("created_at".into(), item::s(timestamp(now)));
        let mut k = item::key(key_pk(api_key), "#");
        k.insert("type".into(), item::s("api_key"));
        k.insert("principal".into(), item::s("merchant"));
        k.insert("merchant_id".into(), item::s(&merchant.id));
        k.insert("merchant_name".into(), item::s(&merchant.name));
        k.insert("created_at".into(), item::s(timestamp(now)));
        // The directory of merchants (`MERCHANTS` / id): what the payout run goes through.
        let mut d = item::key(super::payouts::DIRECTORY_PK, &merchant.id);
        d.insert("type".into(), item::s("merchant_entry"));
        let mut items = vec![m, k, d];
        items.extend(self.key_records(
            &super::keys::KeyOwner::Merchant(merchant.id.clone()),
            api_key,
            now,
        ));
        self.put_all(items).await
    }

    /// Stores a chain of the catalogue and registers one API key for it.
    pub async fn put_store_chain(
        &self,
        chain: &StoreChain,
        api_key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut c = item::key(format!("CHAIN#{}", chain.id), "#");
        c.insert("type".into(), item::s("store_chain"));
        c.insert("name_ja".into(), item::s(&chain.name_ja));
        c.insert("name_en".into(), item::s(&chain.name_en));
        c.insert("channel".into(), item::s(chain.channel.as_str()));
        let mut k = item::key(key_pk(api_key), "#");
        k.insert("type".into(), item::s("api_key"));
        k.insert("principal".into(), item::s("store_chain"));
        k.insert("chain_id".into(), item::s(&chain.id));
        k.insert("chain_name_ja".into(), item::s(&chain.name_ja));
        k.insert("channel".into(), item::s(chain.channel.as_str()));
        k.insert("created_at".into(), item::s(timestamp(now)));
        let mut items = vec![c, k];
        items.extend(self.key_records(
            &super::keys::KeyOwner::Chain(chain.id.clone()),
            api_key,
            now,
        ));
        self.put_all(items).await
    }

    async fn put_all(&self, items: Vec<Item>) -> Result<(), StoreError> {
        for it in items {
            self.client
                .put_item()
                .table_name(&self.res.main_table)
                .set_item(Some(it))
                .send()
                .await?;
        }
        Ok(())
    }

    /// A merchant as onboarded, or `None`. One consistent read.
    pub async fn get_merchant(&self, id: &str) -> Result<Option<Merchant>, StoreError> {
        let found = self
            .read(&self.res.main_table, item::key(merchant_pk(id), "#"))
            .await?;
        Ok(found.as_ref().and_then(|it| {
            Some(Merchant {
                id: id.to_string(),
                name: item::get_s(it, "name")?.to_string(),
            })
        }))
    }

    /// Who holds this API key, if it still works (not revoked, not past the end a rotation
    /// set). One read.
    pub async fn principal_for_key(&self, api_key: &str) -> Result<Option<Principal>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(key_pk(api_key), "#")))
            .send()
            .await?;
        let Some(it) = out.item() else {
            return Ok(None);
        };
        let ended = item::get_n(it, "key_expires_at").is_some_and(|e| e <= Utc::now().timestamp());
        if it.contains_key("revoked_at") || ended {
            return Ok(None);
        }
        let principal = match get_s(it, "principal") {
            Some("merchant") => match (get_s(it, "merchant_id"), get_s(it, "merchant_name")) {
                (Some(id), Some(name)) => Some(Principal::Merchant(Merchant {
                    id: id.to_string(),
                    name: name.to_string(),
                })),
                _ => None,
            },
            Some("store_chain") => match (
                get_s(it, "chain_id"),
                get_s(it, "chain_name_ja"),
                get_s(it, "channel").and_then(Channel::parse),
            ) {
                (Some(id), Some(name), Some(channel)) => {
                    Some(Principal::StoreChain(ChainPrincipal {
                        id: id.to_string(),
                        name_ja: name.to_string(),
                        channel,
                    }))
                }
                _ => None,
            },
            _ => None,
        };
        Ok(principal)
    }
}
