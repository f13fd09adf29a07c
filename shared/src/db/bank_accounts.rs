//! Merchants' payout accounts (`MER#<id>` / `BANK_ACCOUNT`): the details sealed
//! (`crate::sealed`, binary attributes), beside what may be shown: bank and branch codes and
//! names, the account type and the last three digits.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::error::StoreError;
use super::item::{self, get_s, Item};
use super::{merchant_pk, timestamp, Db};

/// What may be shown of an account: never the number, never the holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskedAccount {
    pub bank_code: String,
    pub bank_name: String,
    pub branch_code: String,
    pub branch_name: String,
    pub account_type: String,
    /// `****567`
    pub number: String,
}

/// A stored account: its masked view and its sealed details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAccount {
    pub masked: MaskedAccount,
    pub encrypted_key: Vec<u8>,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// Sealed details as stored (the parts of `crate::sealed::Sealed`, without its feature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedParts {
    pub encrypted_key: Vec<u8>,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

fn account_key(merchant_id: &str) -> Item {
    item::key(merchant_pk(merchant_id), "BANK_ACCOUNT")
}

fn bytes(it: &Item, name: &str) -> Option<Vec<u8>> {
    match it.get(name) {
        Some(AttributeValue::B(b)) => Some(b.as_ref().to_vec()),
        _ => None,
    }
}

impl Db {
    /// Stores the merchant's payout account (operator), replacing the one before.
    pub async fn put_bank_account(
        &self,
        merchant_id: &str,
        account: &StoredAccount,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let m = &account.masked;
        let mut it = account_key(merchant_id);
        for (k, v) in [
            ("type", "bank_account"),
            ("bank_code", m.bank_code.as_str()),
            ("bank_name", m.bank_name.as_str()),
            ("branch_code", m.branch_code.as_str()),
            ("branch_name", m.branch_name.as_str()),
            ("account_type", m.account_type.as_str()),
            ("masked_number", m.number.as_str()),
        ] {
            it.insert(k.into(), item::s(v));
        }
        for (k, v) in [
            ("sealed_key", &account.encrypted_key),
            ("sealed_nonce", &account.nonce),
            ("sealed_details", &account.ciphertext),
        ] {
            it.insert(k.into(), AttributeValue::B(Blob::new(v.clone())));
        }
        it.insert("updated_at".into(), item::s(timestamp(now)));
        self.client
            .put_item()
            .table_name(&self.res.main_table)
            .set_item(Some(it))
            .send()
            .await?;
        Ok(())
    }

    /// The merchant's payout account, if one is set.
    pub async fn bank_account(
        &self,
        merchant_id: &str,
    ) -> Result<Option<StoredAccount>, StoreError> {
        let Some(it) = self
            .read(&self.res.main_table, account_key(merchant_id))
            .await?
        else {
            return Ok(None);
        };
        let sealed = |k: &str| {
            bytes(&it, k).ok_or_else(|| StoreError::failed(&format!("bank account without {k}")))
        };
        Ok(Some(StoredAccount {
            masked: masked_of(&it)
                .ok_or_else(|| StoreError::failed(&"bank account without its masked view"))?,
            encrypted_key: sealed("sealed_key")?,
            nonce: sealed("sealed_nonce")?,
            ciphertext: sealed("sealed_details")?,
        }))
    }
}

/// What may be shown of a stored account item.
pub(crate) fn masked_of(it: &Item) -> Option<MaskedAccount> {
    let text = |k: &str| get_s(it, k).map(str::to_string);
    Some(MaskedAccount {
        bank_code: text("bank_code")?,
        bank_name: text("bank_name")?,
        branch_code: text("branch_code")?,
        branch_name: text("branch_name")?,
        account_type: text("account_type")?,
        number: text("masked_number")?,
    })
}
