//! Idempotency keys (IETF httpapi draft semantics), scoped per merchant and kept 48 hours.
//!
//! A request first *claims* its key with a conditional put (one round trip). The handler then
//! commits its own writes and the key's stored response in one transaction, so a crash can
//! never leave an invoice without its replayable response or the other way round. A failing
//! request releases its claim, leaving no trace.

use super::error::{Refusal, StoreError};
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::item::{self, get_n, get_s};
use super::{av_s, is_conditional_failure, Db};
use crate::ids::{base32, random_bytes};

/// How long a stored response is replayed.
pub const KEEP_SECONDS: i64 = 48 * 3600;
/// How long a claim blocks others before a crashed holder's claim may be taken over.
pub const LEASE_SECONDS: i64 = 30;

/// How long a failing request spends giving its key back.
const RELEASE_WITHIN: std::time::Duration = std::time::Duration::from_millis(800);

/// A claim on a key, held while the request runs.
#[derive(Debug, Clone)]
pub struct Lock {
    pk: String,
    token: String,
    /// Random, kept across takeovers of the claim: what the request derives its writes from.
    pub seed: String,
}

pub enum Claim {
    /// The key is ours: run the request.
    Proceed(Lock),
    /// The key was used before with the same request: answer as then.
    Replay { status: u16, body: String },
}

fn in_use() -> StoreError {
    Refusal::KeyInUse { taken_over: false }.into()
}

fn reused() -> StoreError {
    Refusal::KeyReused.into()
}

impl Db {
    /// Claims `key` for `scope` (the merchant) and a request whose fingerprint is given. One
    /// conditional put for a new key; a read (and, to take over a crashed holder's claim whose
    /// lease ran out, one conditional update) otherwise. A claim carries a random `seed` that
    /// survives takeovers, so a request can derive what it writes from it and a retry under the
    /// same key writes the very same items (joint-card numbers).
    pub async fn claim_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let pk = format!("IDEM#{scope}#{key}");
        for _ in 0..3 {
            let token = base32(&random_bytes::<10>());
            let seed = base32(&random_bytes::<20>());
            let mut it = item::key(&pk, "#");
            it.insert("type".into(), item::s("idempotency"));
            it.insert("state".into(), item::s("in_progress"));
            it.insert("fingerprint".into(), item::s(fingerprint));
            it.insert("lock_token".into(), item::s(&token));
            it.insert("seed".into(), item::s(&seed));
            it.insert(
                "locked_until".into(),
                item::n(now.timestamp() + LEASE_SECONDS),
            );
            it.insert("expires_at".into(), item::n(now.timestamp() + KEEP_SECONDS));
            let put = self
                .client
                .put_item()
                .table_name(&self.res.main_table)
                .set_item(Some(it))
                .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
                .expression_attribute_values(":now", item::n(now.timestamp()))
                .send()
                .await;
            match put {
                Ok(_) => return Ok(Claim::Proceed(Lock { pk, token, seed })),
                Err(e) if is_conditional_failure(&e) => {}
                Err(e) => return Err(e.into()),
            }
            let existing = self.read(&self.res.main_table, item::key(&pk, "#")).await?;
            let Some(it) = existing.as_ref() else {
                continue; // released in between: claim again
            };
            if get_s(it, "fingerprint") != Some(fingerprint) {
                return Err(reused());
            }
            match (get_s(it, "state"), get_n(it, "locked_until")) {
                (Some("done"), _) => {
                    let status = get_n(it, "response_status").unwrap_or(200);
                    let body = get_s(it, "response_body").unwrap_or("{}").to_string();
                    return Ok(Claim::Replay {
                        status: u16::try_from(status).unwrap_or(200),
                        body,
                    });
                }
                (Some("in_progress"), Some(until)) if until < now.timestamp() => {
                    let old = get_s(it, "lock_token").unwrap_or_default().to_string();
                    let seed = get_s(it, "seed").unwrap_or(&old).to_string();
                    return match self.take_over(&pk, &old, &token, now).await? {
                        true => Ok(Claim::Proceed(Lock { pk, token, seed })),
                        false => Err(in_use()),
                    };
                }
                _ => return Err(in_use()),
            }
        }
        Err(in_use())
    }

    /// Moves a claim whose lease ran out to a new holder, keeping its seed. `false`: another
    /// retry took it first.
    async fn take_over(
        &self,
        pk: &str,
        old_token: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(pk, "#")))
            .update_expression("SET lock_token = :token, locked_until = :until")
            .condition_expression(
                "#state = :in_progress AND lock_token = :old AND locked_until < :now",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":in_progress", av_s("in_progress"))
            .expression_attribute_values(":old", av_s(old_token))
            .expression_attribute_values(":token", av_s(token))
            .expression_attribute_values(":until", item::n(now.timestamp() + LEASE_SECONDS))
            .expression_attribute_values(":now", item::n(now.timestamp()))
            .send()
            .await;
        super::applied(res)
    }

    /// The transaction item that stores the response under the claimed key; it fails the
    /// whole transaction if the claim was lost meanwhile.
    pub fn complete_idempotency_key(
        &self,
        lock: &Lock,
        status: u16,
        body: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(&lock.pk, "#")))
            .update_expression(
                "SET #state = :done, response_status = :status, response_body = :body \
                 REMOVE lock_token, locked_until",
            )
            .condition_expression("lock_token = :token")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":done", av_s("done"))
            .expression_attribute_values(":status", item::n(i64::from(status)))
            .expression_attribute_values(":body", av_s(body))
            .expression_attribute_values(":token", av_s(&lock.token))
            .build()
            .map_err(|e| StoreError::failed(&e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Gives the key back after a request that failed, so nothing of it remains. Best effort
    /// and brief (the request is already failing, often because DynamoDB does not answer):
    /// a claim left behind runs out with its lease and the retry takes it over.
    pub async fn release_idempotency_key(&self, lock: &Lock) {
        let delete = self
            .client
            .delete_item()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(&lock.pk, "#")))
            .condition_expression("lock_token = :token")
            .expression_attribute_values(":token", av_s(&lock.token))
            .send();
        let Ok(res) = tokio::time::timeout(RELEASE_WITHIN, delete).await else {
            tracing::warn!("idempotency key release timed out; its lease runs out by itself");
            return;
        };
        if let Err(e) = res {
            if !is_conditional_failure(&e) {
                // The lease runs out by itself; a retry with the same request may take it over.
                tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&e), "could not release idempotency key");
            }
        }
    }
}

impl Db {
    /// Stores the response under a claimed key on its own, for requests whose writes cannot
    /// share one transaction with it. `Ok(false)`: a retry took the claim over meanwhile (and
    /// stores its own, equal, response).
    pub async fn finish_idempotency_key(
        &self,
        lock: &Lock,
        status: u16,
        body: &str,
    ) -> Result<bool, StoreError> {
        let update = self.complete_idempotency_key(lock, status, body)?;
        let Some(u) = update.update else {
            return Err(StoreError::failed(
                &"idempotency completion is not an update",
            ));
        };
        let res = self
            .client
            .update_item()
            .table_name(u.table_name)
            .set_key(Some(u.key))
            .update_expression(u.update_expression)
            .set_condition_expression(u.condition_expression)
            .set_expression_attribute_names(u.expression_attribute_names)
            .set_expression_attribute_values(u.expression_attribute_values)
            .send()
            .await;
        super::applied(res)
    }
}
