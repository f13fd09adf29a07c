//! Onboarding: merchants, store chains and their API keys. Keys are stored only as hashes.

use super::error::StoreError;
use chrono::{DateTime, Utc};

use super::item::{self, get_s, Item};
use super::Db;
use super::{key_pk, merchant_pk, timestamp};
use crate::merchant_contact::MerchantContact;
use crate::principal::{ChainPrincipal, Merchant, Principal};

/// The merchant record's attribute of each contact field.
fn contact_attributes(c: &MerchantContact) -> [(&'static str, Option<&str>); 4] {
    [
        ("contact_phone", c.phone.as_deref()),
        ("contact_url", c.url.as_deref()),
        ("contact_email", c.email.as_deref()),
        ("contact_hours", c.hours.as_deref()),
    ]
}
use crate::store_chain::{Channel, StoreChain};

impl Db {
    /// Creates or renames a merchant and registers one API key for it.
    pub async fn put_merchant(
        &self,
        merchant: &Merchant,
        api_key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // The merchant's record is updated, not replaced: a rename keeps its contact details.
        self.client
            .update_item()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(merchant_pk(&merchant.id), "#")))
            .update_expression(
                "SET #type = :type, #name = :name, created_at = if_not_exists(created_at, :now)",
            )
            .expression_attribute_names("#type", "type")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":type", item::s("merchant"))
            .expression_attribute_values(":name", item::s(&merchant.name))
            .expression_attribute_values(":now", item::s(timestamp(now)))
            .send()
            .await?;
        let mut k = item::key(key_pk(api_key), "#");
        k.insert("type".into(), item::s("api_key"));
        k.insert("principal".into(), item::s("merchant"));
        k.insert("merchant_id".into(), item::s(&merchant.id));
        k.insert("merchant_name".into(), item::s(&merchant.name));
        k.insert("created_at".into(), item::s(timestamp(now)));
        // The directory of merchants (`MERCHANTS` / id): what the payout run goes through.
        let mut d = item::key(super::payouts::DIRECTORY_PK, &merchant.id);
        d.insert("type".into(), item::s("merchant_entry"));
        let mut items = vec![k, d];
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

    /// Sets (or with an empty contact, clears) how customers reach a merchant. `Ok(false)`: no
    /// such merchant.
    pub async fn set_merchant_contact(
        &self,
        id: &str,
        contact: &MerchantContact,
    ) -> Result<bool, StoreError> {
        let mut set = Vec::new();
        let mut remove = Vec::new();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(merchant_pk(id), "#")))
            .condition_expression("attribute_exists(pk)");
        for (attr, value) in contact_attributes(contact) {
            match value {
                Some(v) => {
                    set.push(format!("{attr} = :{attr}"));
                    update = update.expression_attribute_values(format!(":{attr}"), item::s(v));
                }
                None => remove.push(attr),
            }
        }
        let mut expr = String::new();
        if !set.is_empty() {
            expr.push_str(&format!("SET {}", set.join(", ")));
        }
        if !remove.is_empty() {
            expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let res = update.update_expression(expr.trim()).send().await;
        super::applied(res)
    }

    /// How customers reach a merchant (empty when it gave nothing, or is unknown). One
    /// eventually consistent read: a contact changes seldom and is shown, never decided on.
    pub async fn merchant_contact(&self, id: &str) -> Result<MerchantContact, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(merchant_pk(id), "#")))
            .projection_expression("contact_phone, contact_url, contact_email, contact_hours")
            .send()
            .await?;
        let Some(it) = out.item() else {
            return Ok(MerchantContact::default());
        };
        let get = |k: &str| get_s(it, k).map(str::to_string);
        Ok(MerchantContact {
            phone: get("contact_phone"),
            url: get("contact_url"),
            email: get("contact_email"),
            hours: get("contact_hours"),
        })
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
