//! Every error a client sees: RFC 9457 problem details with a stable `code` member.
//! Errors map to HTTP in this one place.

use http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::{json, Map, Value};

mod code;
pub use code::Code;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// The error codes' documentation, served at `/problems/{code}` (see `docs/ERRORS.md`).
pub const ERRORS_MD: &str = include_str!("../../docs/ERRORS.md");

static PROBLEM_BASE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Sets the public address problem `type` URLs start with, for a process that serves the API
/// without Lambda's environment (the local stack). First setting wins; without one,
/// `PUBLIC_BASE_URL` from the environment (as the template gives every function).
pub fn set_public_base_url(url: &str) {
    let _ = PROBLEM_BASE.set(url.trim_end_matches('/').to_string());
}

/// A problem's `type`: the page this service serves for its code, under the API's public
/// address, e.g. `https://pay.example.jp/problems/billing_not_found`.
pub fn problem_type(code: &str) -> String {
    let base = PROBLEM_BASE.get_or_init(|| {
        std::env::var("PUBLIC_BASE_URL")
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string()
    });
    format!("{base}/problems/{code}")
}

/// What docs/ERRORS.md says of a code: its HTTP status and when it is answered.
pub fn documented(code: &str) -> Option<(String, String)> {
    let wanted = format!("`{code}`");
    ERRORS_MD.lines().find_map(|line| {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | codes | status | when |
        if cells.len() < 5 || !cells[1].split(" / ").any(|c| c == wanted) {
            return None;
        }
        Some((cells[2].to_string(), cells[3].to_string()))
    })
}

/// Every code docs/ERRORS.md lists, with its HTTP status.
pub fn documented_codes() -> std::collections::BTreeMap<String, u16> {
    let mut out = std::collections::BTreeMap::new();
    for line in ERRORS_MD.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 5 || !cells[1].starts_with('`') {
            continue;
        }
        let Ok(status) = cells[2].parse::<u16>() else {
            continue;
        };
        for code in cells[1].split(" / ") {
            out.insert(code.trim_matches('`').to_string(), status);
        }
    }
    out
}

/// One field-level complaint inside a validation problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: Code,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: Code, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

/// An error answer: its code (which fixes status and title), what of this request went wrong,
/// and members or headers a code adds (`errors`, `Retry-After`, `Allow`).
#[derive(Debug, Clone)]
pub struct Problem {
    pub code: Code,
    pub detail: Option<String>,
    pub extra: Map<String, Value>,
    pub headers: Vec<(http::HeaderName, String)>,
}

impl Problem {
    /// The problem of `code`.
    pub fn of(code: Code) -> Self {
        Problem {
            code,
            detail: None,
            extra: Map::new(),
            headers: Vec::new(),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    /// A header sent with the answer (a value that is not a valid header is left out).
    pub fn header(mut self, name: http::HeaderName, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    /// A 400 whose code is the first field error's; all of them are listed under `errors`.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let code = errors.first().map_or(Code::InvalidRequest, |e| e.code);
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        let list: Vec<Value> = errors
            .iter()
            .map(|e| json!({"field": e.field, "code": e.code.as_str(), "message": e.message}))
            .collect();
        Problem::of(code).detail(detail).with("errors", list)
    }

    /// One field's mistake, as a validation problem.
    pub fn field(field: &str, code: Code, message: impl Into<String>) -> Self {
        Problem::validation(vec![FieldError::new(field, code, message)])
    }

    pub fn unauthorized() -> Self {
        Problem::of(Code::Unauthorized)
            .detail("Send 'Authorization: Bearer <API key>' with a key issued for this API.")
    }

    /// Something on our side failed; the cause is logged, never sent. It does not claim that
    /// nothing was written (a fault may come after a write): it says what a retry does.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Problem::of(Code::InternalError).detail(
            "The fault is logged. Retrying the same request is safe: with the same \
             Idempotency-Key (or store_transaction_id) it completes the request or returns its \
             first result, never a second one.",
        )
    }

    /// A dependency is overloaded or unreachable: retry later.
    pub fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        tracing::warn!(error = %cause, "dependency unavailable");
        Problem::of(Code::ServiceUnavailable)
            .detail("Retry after a short delay with the same request.")
    }

    pub fn body(&self) -> Value {
        let mut body = Map::new();
        // Extras first: RFC 9457's members always win (an extra named `status` once replaced
        // the HTTP status with an invoice's).
        for (k, v) in &self.extra {
            body.insert(k.clone(), v.clone());
        }
        let code = self.code.as_str();
        body.insert("type".into(), Value::String(problem_type(code)));
        body.insert("title".into(), Value::String(self.code.title().to_string()));
        body.insert("status".into(), Value::from(self.status().as_u16()));
        body.insert("code".into(), Value::String(code.to_string()));
        if let Some(d) = &self.detail {
            body.insert("detail".into(), Value::String(d.clone()));
        }
        Value::Object(body)
    }

    pub fn into_response(self) -> Response<Body> {
        let mut resp = Response::new(Body::Text(format!("{}\n", self.body())));
        *resp.status_mut() = self.status();
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        for (name, value) in self.headers {
            if let Ok(v) = http::HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, v);
            }
        }
        resp
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status().as_u16(), self.code)
    }
}

/// Storage's failures and refusals as clients see them: the one place they map to HTTP.
impl From<crate::db::StoreError> for Problem {
    fn from(e: crate::db::StoreError) -> Self {
        use crate::db::{Refusal, StoreError};
        match e {
            StoreError::Unavailable(cause) => Problem::unavailable(&cause),
            StoreError::Failed(cause) => Problem::internal(&cause),
            StoreError::Refused(r) => match r {
                Refusal::InvalidCursor { with_status_filter } => {
                    Problem::of(Code::InvalidCursor).detail(match with_status_filter {
                        true => "Pass next_cursor from the previous page unchanged, with the same status filter.",
                        false => "Pass next_cursor from the previous page unchanged.",
                    })
                }
                Refusal::KeyInUse { taken_over } => {
                    Problem::of(Code::IdempotencyKeyInUse).detail(match taken_over {
                        true => "The Idempotency-Key was taken over by a retry of this request",
                        false => "Retry after it has finished to receive its result.",
                    })
                }
                Refusal::KeyReused => Problem::of(Code::IdempotencyKeyReused)
                    .detail("Use a new key for a new request."),
                Refusal::PaymentInProgress { invoice_id, until } => {
                    Problem::of(Code::PaymentInProgress)
                        .detail(
                            "A kiosk slip holds it for payment at the register (30 minutes at \
                             most). Try again after held_until: it is then paid, or free again.",
                        )
                        .with("invoice_id", invoice_id)
                        .with("held_until", until.map(crate::invoice::jst_timestamp))
                }
                Refusal::InvoiceNotFound => Problem::of(Code::InvoiceNotFound),
                Refusal::InvoiceNotCancellable { invoice_id, status } => {
                    Problem::of(Code::InvoiceNotCancellable)
                        .detail(format!("The invoice is {status}."))
                        .with("invoice_id", invoice_id)
                        .with("invoice_status", status)
                }
            },
        }
    }
}

/// AWS SDK failures (any client's) become 503 when the service throttled or could not be
/// reached, else 500: as storage classifies them (`db::StoreError`), in one place.
impl<E, R> From<aws_sdk_dynamodb::error::SdkError<E, R>> for Problem
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    fn from(err: aws_sdk_dynamodb::error::SdkError<E, R>) -> Self {
        Problem::from(crate::db::StoreError::from(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_documented() {
        for code in [
            "billing_not_found",
            "duplicate_field",
            "idempotency_key_missing",
            "invalid_idempotency_key",
            "payment_voided",
            "internal_error",
        ] {
            assert!(documented(code).is_some(), "{code}");
        }
        assert_eq!(
            documented("billing_not_found").map(|d| d.0),
            Some("404".into())
        );
        assert!(documented("no_such_code").is_none());
    }

    #[test]
    fn validation_problem_lists_all_errors_and_takes_the_first_code() {
        let p = Problem::validation(vec![
            FieldError::new("amount", Code::InvalidAmount, "must be at least 1"),
            FieldError::new("due_date", Code::InvalidDueDate, "must be a date"),
        ]);
        let b = p.body();
        assert_eq!(b["code"], "invalid_amount");
        assert_eq!(b["status"], 400);
        assert_eq!(b["errors"].as_array().map(Vec::len), Some(2));
        let r = p.into_response();
        assert_eq!(r.headers()["content-type"], PROBLEM_CONTENT_TYPE);
    }
}
