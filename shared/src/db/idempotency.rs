//! Idempotency keys (IETF httpapi draft semantics), scoped per merchant and kept 48 hours.
//!
//! A request first *claims* its key with a conditional put (one round trip). The handler then
//! commits its own writes and the key's stored response in one transaction, so a crash can
//! never leave an invoice without its replayable response or the other way round. A failing
//! request releases its claim, leaving no trace.

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::item::{self, get_n, get_s};
use super::{av_s, is_conditional_failure, Db};
use crate::ids::{base32, random_bytes};
use crate::problem::Problem;
use http::StatusCode;

/// How long a stored response is replayed.
pub const KEEP_SECONDS: i64 = 48 * 3600;
/// How long a claim blocks others before a crashed holder's claim may be taken over.
pub const LEASE_SECONDS: i64 = 30;

/// A claim on a key, held while the request runs.
#[derive(Debug, Clone)]
pub struct Lock {
    pk: String,
    token: String,
}

pub enum Claim {
    /// The key is ours: run the request.
    Proceed(Lock),
    /// The key was used before with the same request: answer as then.
    Replay { status: u16, body: String },
}

fn in_use() -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "idempotency_key_in_use",
        "A request with this Idempotency-Key is still being processed",
    )
    .detail("Retry after it has finished to receive its result.")
}

fn reused() -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
        "This Idempotency-Key was used with a different request",
    )
    .detail("Use a new key for a new request.")
}

impl Db {
    /// Claims `key` for `scope` (the merchant) and a request whose fingerprint is given.
    pub async fn claim_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, Problem> {
        let pk = format!("IDEM#{scope}#{key}");
        for _ in 0..3 {
            let token = base32(&random_bytes::<10>());
            let mut it = item::key(&pk, "#");
            it.insert("type".into(), item::s("idempotency"));
            it.insert("state".into(), item::s("in_progress"));
            it.insert("fingerprint".into(), item::s(fingerprint));
            it.insert("lock_token".into(), item::s(&token));
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
                .condition_expression(
                    "attribute_not_exists(pk) OR expires_at < :now OR \
                     (#state = :in_progress AND locked_until < :now AND fingerprint = :fp)",
                )
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":now", item::n(now.timestamp()))
                .expression_attribute_values(":in_progress", av_s("in_progress"))
                .expression_attribute_values(":fp", av_s(fingerprint))
                .send()
                .await;
            match put {
                Ok(_) => return Ok(Claim::Proceed(Lock { pk, token })),
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
            match get_s(it, "state") {
                Some("done") => {
                    let status = get_n(it, "response_status").unwrap_or(200);
                    let body = get_s(it, "response_body").unwrap_or("{}").to_string();
                    return Ok(Claim::Replay {
                        status: u16::try_from(status).unwrap_or(200),
                        body,
                    });
                }
                _ => return Err(in_use()),
            }
        }
        Err(in_use())
    }

    /// The transaction item that stores the response under the claimed key; it fails the
    /// whole transaction if the claim was lost meanwhile.
    pub fn complete_idempotency_key(
        &self,
        lock: &Lock,
        status: u16,
        body: &str,
    ) -> Result<TransactWriteItem, Problem> {
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
            .map_err(|e| Problem::internal(&e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Gives the key back after a request that failed, so nothing of it remains.
    pub async fn release_idempotency_key(&self, lock: &Lock) {
        let res = self
            .client
            .delete_item()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(&lock.pk, "#")))
            .condition_expression("lock_token = :token")
            .expression_attribute_values(":token", av_s(&lock.token))
            .send()
            .await;
        if let Err(e) = res {
            if !is_conditional_failure(&e) {
                // The lease runs out by itself; a retry with the same request may take it over.
                tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&e), "could not release idempotency key");
            }
        }
    }
}

/// A stable fingerprint of a request: method, path and the body with object keys sorted.
pub fn fingerprint(method: &str, path: &str, body: &serde_json::Value) -> String {
    fn canonical(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Object(m) => {
                let mut keys: Vec<_> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push(':');
                    if let Some(inner) = m.get(k) {
                        canonical(inner, out);
                    }
                }
                out.push('}');
            }
            serde_json::Value::Array(a) => {
                out.push('[');
                for (i, inner) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(inner, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = format!("{method} {path}\n");
    canonical(body, &mut text);
    crate::ids::sha256_hex(&text)
}

impl Db {
    /// Stores the response under a claimed key on its own, for requests whose writes cannot
    /// share one transaction with it.
    pub async fn finish_idempotency_key(
        &self,
        lock: &Lock,
        status: u16,
        body: &str,
    ) -> Result<(), Problem> {
        let update = self.complete_idempotency_key(lock, status, body)?;
        let Some(u) = update.update else {
            return Err(Problem::internal(
                &"idempotency completion is not an update",
            ));
        };
        self.client
            .update_item()
            .table_name(u.table_name)
            .set_key(Some(u.key))
            .update_expression(u.update_expression)
            .set_condition_expression(u.condition_expression)
            .set_expression_attribute_names(u.expression_attribute_names)
            .set_expression_attribute_values(u.expression_attribute_values)
            .send()
            .await?;
        Ok(())
    }
}

/// Reads and checks the `Idempotency-Key` header: required, 1 to 255 visible ASCII characters.
pub fn idempotency_key(req: &lambda_http::Request) -> Result<String, Problem> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "idempotency_key_missing",
            "The Idempotency-Key header is required",
        )
        .detail("Send a unique key (for example a UUID) per new request; reuse it on retries."));
    };
    let text = value.to_str().unwrap_or("");
    let ok = !text.is_empty() && text.len() <= 255 && text.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            "The Idempotency-Key header is not valid",
        )
        .detail("Use 1 to 255 visible ASCII characters."));
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::fingerprint;
    use serde_json::json;

    #[test]
    fn fingerprint_ignores_key_order_but_not_values() {
        let a = fingerprint(
            "POST",
            "/v1/invoices",
            &json!({"a": 1, "b": {"x": 1, "y": 2}}),
        );
        let b = fingerprint(
            "POST",
            "/v1/invoices",
            &json!({"b": {"y": 2, "x": 1}, "a": 1}),
        );
        let c = fingerprint(
            "POST",
            "/v1/invoices",
            &json!({"a": 2, "b": {"x": 1, "y": 2}}),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
