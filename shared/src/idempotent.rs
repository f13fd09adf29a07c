//! Every mutating merchant route under an `Idempotency-Key`, written once (the IETF httpapi
//! draft's semantics): the key is read from the header and claimed for this request's
//! fingerprint (its method, path and body); a key already answered replays that answer
//! (`Idempotent-Replayed: true`); a key used for another request is 422, one still running 409.
//! The request's own work runs under the claim and stores its answer with its writes, in one
//! transaction ([`Db::complete_idempotency_key`]); a request that fails gives the key back, so
//! nothing of it remains and a retry runs afresh.

use std::future::Future;

use chrono::{DateTime, Utc};
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::db::{Claim, Lock};
use crate::problem::{Code, Problem};
use crate::Db;

/// What becomes of a claim when the request fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Give the key back: the failed request wrote nothing (its writes and its answer are one
    /// transaction).
    Release,
    /// Keep it until its lease runs out: the request may have written part of its work, which a
    /// retry under the same key takes over and completes (joint-card batches).
    Keep,
}

/// A request's key and fingerprint, read before anything is claimed.
#[derive(Debug, Clone)]
pub struct Keyed {
    pub key: String,
    pub fingerprint: String,
}

impl Keyed {
    /// The request's `Idempotency-Key` (required) and fingerprint.
    pub fn of(req: &Request) -> Result<Self, Problem> {
        let key = idempotency_key(req)?;
        Ok(Keyed {
            key,
            fingerprint: fingerprint(
                req.method().as_str(),
                req.uri().path(),
                &crate::request::body_value(req),
            ),
        })
    }

    /// As `of`, for a route where the key is optional (`None` without the header).
    pub fn optional(req: &Request) -> Result<Option<Self>, Problem> {
        match req.headers().contains_key("idempotency-key") {
            true => Self::of(req).map(Some),
            false => Ok(None),
        }
    }

    /// Runs `work` under this key for `scope` (the merchant): the stored answer of an earlier
    /// run of the same request, or `work`'s, which stores its answer through the [`Lock`] it is
    /// handed. A failed `work` releases the claim or keeps it, as `on_failure` says.
    pub async fn run<F, Fut>(
        &self,
        db: &Db,
        scope: &str,
        now: DateTime<Utc>,
        on_failure: OnFailure,
        work: F,
    ) -> Result<Response<Body>, Problem>
    where
        F: FnOnce(Lock) -> Fut,
        Fut: Future<Output = Result<Response<Body>, Problem>>,
    {
        let lock = match db
            .claim_idempotency_key(scope, &self.key, &self.fingerprint, now)
            .await?
        {
            Claim::Replay { status, body } => return Ok(replayed(status, body)),
            Claim::Proceed(lock) => lock,
        };
        let outcome = work(lock.clone()).await;
        if outcome.is_err() && on_failure == OnFailure::Release {
            db.release_idempotency_key(&lock).await;
        }
        outcome
    }
}

/// The answer stored under a key, as first given, marked as a replay.
pub fn replayed(status: u16, body: String) -> Response<Body> {
    let mut resp =
        crate::http::raw_json(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body);
    mark_replayed(&mut resp);
    resp
}

/// Marks an answer as the replay of an earlier request's (`Idempotent-Replayed: true`); also
/// for the store's payments and slips, made idempotent by their own ids.
pub fn mark_replayed(resp: &mut Response<Body>) {
    resp.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
}

/// Reads and checks the `Idempotency-Key` header: required, 1 to 255 visible ASCII characters.
pub fn idempotency_key(req: &lambda_http::Request) -> Result<String, Problem> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Err(Problem::of(Code::IdempotencyKeyMissing).detail(
            "Send a unique key (for example a UUID) per new request; reuse it on retries.",
        ));
    };
    let text = value.to_str().unwrap_or("");
    let ok = !text.is_empty() && text.len() <= 255 && text.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(Problem::of(Code::InvalidIdempotencyKey)
            .detail("Use 1 to 255 visible ASCII characters."));
    }
    Ok(text.to_string())
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
