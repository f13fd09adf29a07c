//! Number guessing: failed lookups (a store chain's) and failed registrations on unknown
//! numbers (a merchant's) are counted per caller and minute, with one write made only when a
//! lookup fails, so a normal lookup stays one round trip.

use super::error::StoreError;
use chrono::{DateTime, Utc};

use super::item;
use super::Db;

impl Db {
    /// Counts one failed lookup of `who` (`chain#lawson`, `merchant#acme`) in the current
    /// minute; returns the minute's count so far. One conditional-free update.
    pub async fn count_miss(&self, who: &str, now: DateTime<Utc>) -> Result<i64, StoreError> {
        self.count_in_minute("MISS", who, now).await
    }

    /// Counts one number issued from the web site to a client address in the current minute;
    /// returns the minute's count so far. One conditional-free update.
    pub async fn count_web_number(
        &self,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.count_in_minute("WEBNUM", address, now).await
    }

    /// Counts one console sign-in request for `who` (an address's hash or a client address) in
    /// the current quarter hour; returns the count so far.
    pub async fn count_login_request(
        &self,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.count_in("CLOGINREQ", who, now, 15 * 60).await
    }

    async fn count_in_minute(
        &self,
        what: &str,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.count_in(what, who, now, 60).await
    }

    async fn count_in(
        &self,
        what: &str,
        who: &str,
        now: DateTime<Utc>,
        window: i64,
    ) -> Result<i64, StoreError> {
        let slot = now.timestamp() / window;
        let out = self
            .client
            .update_item()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(format!("{what}#{who}"), slot.to_string())))
            .update_expression("ADD n :one SET expires_at = if_not_exists(expires_at, :ttl)")
            .expression_attribute_values(":one", item::n(1))
            .expression_attribute_values(":ttl", item::n(slot * window + window + 3600))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await?;
        Ok(out
            .attributes()
            .and_then(|a| item::get_n(a, "n"))
            .unwrap_or(1))
    }
}
