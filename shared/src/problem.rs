//! Every error a client sees: RFC 9457 problem details with a stable `code` member.
//! Errors map to HTTP in this one place.

use http::StatusCode;
use lambda_http::{Body, Response};
use schemars::JsonSchema;
use serde::Serialize;

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

/// The API's public address (no trailing `/`): what `set_public_base_url` set, else
/// `PUBLIC_BASE_URL`. Links the service hands out (problem types, refund pages) start with it.
pub fn public_base_url() -> &'static str {
    PROBLEM_BASE.get_or_init(|| {
        std::env::var("PUBLIC_BASE_URL")
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string()
    })
}

/// A problem's `type`: the page this service serves for its code, under the API's public
/// address, e.g. `https://pay.example.jp/problems/billing_not_found`.
pub fn problem_type(code: &str) -> String {
    format!("{}/problems/{code}", public_base_url())
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

/// A field's mistake as the client reads it, in `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(rename = "FieldError", extend("additionalProperties" = false))]
pub struct FieldErrorBody {
    /// The member's path in the request, e.g. `customer.email`.
    pub field: String,
    /// The code of this mistake (docs/ERRORS.md).
    pub code: String,
    pub message: String,
}

/// The members a code adds to its problem: typed, each named once here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ProblemMembers {
    /// Every field mistake of a 400.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<FieldErrorBody>")]
    pub errors: Option<Vec<FieldErrorBody>>,
    /// The member a shape mistake is about (given twice).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub invoice_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub payment_id: Option<String>,
    /// What the invoice is now (`paid`, `cancelled`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub invoice_status: Option<String>,
    /// What the invoices named total, in yen.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "i64")]
    pub expected_amount: Option<i64>,
    /// Until when a kiosk slip holds the invoice (null: not known).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<crate::contract::Timestamp>")]
    pub held_until: Option<Option<String>>,
    /// When the payment was voided.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<crate::contract::Timestamp>")]
    pub voided_at: Option<Option<String>>,
    /// Why a batch stopped (the first failure's code).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub cause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub customer_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "crate::contract::SmartPitNumber")]
    pub smartpit_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub store_chain: Option<String>,
}

/// RFC 9457 problem details with a stable `code` (docs/ERRORS.md): the body of every error.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "Problem", extend("additionalProperties" = false))]
pub struct ProblemBody {
    /// `<base>/problems/<code>`: the code's page.
    #[serde(rename = "type")]
    #[schemars(extend("format" = "uri"))]
    pub type_url: String,
    pub title: String,
    pub status: u16,
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub detail: Option<String>,
    #[serde(flatten)]
    pub members: ProblemMembers,
}

/// An error answer: its code (which fixes status and title), what of this request went wrong,
/// and members or headers a code adds (`errors`, `Retry-After`, `Allow`).
#[derive(Debug, Clone)]
pub struct Problem {
    pub code: Code,
    pub detail: Option<String>,
    /// Boxed: most problems add none, and a problem travels in every `Result`.
    pub members: Box<ProblemMembers>,
    pub headers: Vec<(http::HeaderName, String)>,
}

/// Typed setters of the members a code adds.
macro_rules! member {
    ($name:ident) => {
        pub fn $name(mut self, value: impl Into<String>) -> Self {
            self.members.$name = Some(value.into());
            self
        }
    };
}

impl Problem {
    /// The problem of `code`.
    pub fn of(code: Code) -> Self {
        Problem {
            code,
            detail: None,
            members: Box::default(),
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

    /// The member a shape mistake is about (`field`).
    pub fn about_field(mut self, path: impl Into<String>) -> Self {
        self.members.field = Some(path.into());
        self
    }

    member!(invoice_id);
    member!(payment_id);
    member!(invoice_status);
    member!(cause);
    member!(customer_ref);
    member!(smartpit_number);
    member!(store_chain);

    pub fn expected_amount(mut self, yen: i64) -> Self {
        self.members.expected_amount = Some(yen);
        self
    }

    /// Until when a slip holds the invoice (JST), null when not known.
    pub fn held_until(mut self, at: Option<String>) -> Self {
        self.members.held_until = Some(at);
        self
    }

    pub fn voided_at(mut self, at: Option<String>) -> Self {
        self.members.voided_at = Some(at);
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
        let mut p = Problem::of(code).detail(detail);
        p.members.errors = Some(
            errors
                .into_iter()
                .map(|e| FieldErrorBody {
                    field: e.field,
                    code: e.code.as_str().to_string(),
                    message: e.message,
                })
                .collect(),
        );
        p
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

    /// The body as sent: RFC 9457's members and the typed ones a code adds (which cannot be
    /// named like RFC 9457's: an untyped extra named `status` once replaced the HTTP status
    /// with an invoice's).
    pub fn body(&self) -> ProblemBody {
        let code = self.code.as_str();
        ProblemBody {
            type_url: problem_type(code),
            title: self.code.title().to_string(),
            status: self.status().as_u16(),
            code: code.to_string(),
            detail: self.detail.clone(),
            members: (*self.members).clone(),
        }
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(self.body()).unwrap_or_default()
    }

    pub fn into_response(self) -> Response<Body> {
        let text = serde_json::to_string(&self.body()).unwrap_or_default();
        let mut resp = Response::new(Body::Text(format!("{text}\n")));
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
                        .invoice_id(invoice_id)
                        .held_until(until.map(crate::invoice::jst_timestamp))
                }
                Refusal::InvoiceNotFound => Problem::of(Code::InvoiceNotFound),
                Refusal::InvoiceNotCancellable { invoice_id, status } => {
                    Problem::of(Code::InvoiceNotCancellable)
                        .detail(format!("The invoice is {status}."))
                        .invoice_id(invoice_id)
                        .invoice_status(status)
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
        let b = p.json();
        assert_eq!(b["code"], "invalid_amount");
        assert_eq!(b["status"], 400);
        assert_eq!(b["errors"].as_array().map(Vec::len), Some(2));
        let r = p.into_response();
        assert_eq!(r.headers()["content-type"], PROBLEM_CONTENT_TYPE);
    }
}
