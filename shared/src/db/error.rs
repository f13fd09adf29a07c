//! What storage answers when it cannot do what it was asked: its own error, which the HTTP layer
//! turns into a problem+json answer in one place (problem.rs).

use chrono::{DateTime, Utc};

/// A storage failure or refusal.
#[derive(Debug, Clone)]
pub enum StoreError {
    /// DynamoDB throttled, timed out, could not be reached, or a transaction met another: the
    /// same request may succeed later.
    Unavailable(String),
    /// Anything else: a request DynamoDB refused, an item that does not read as what it should
    /// be. A fault of ours; the cause is for the log only.
    Failed(String),
    /// A condition storage enforces, which the caller answers as such.
    Refused(Refusal),
}

/// The conditions storage enforces for its callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A listing's cursor this service did not issue for this listing (of invoices, filtered by
    /// status, or of events).
    InvalidCursor { with_status_filter: bool },
    /// An idempotency key another request holds (`taken_over`: a retry took this one's over).
    KeyInUse { taken_over: bool },
    /// An idempotency key used before for another request.
    KeyReused,
    /// A kiosk slip holds the bill for payment at the register until `until`.
    PaymentInProgress {
        invoice_id: String,
        until: Option<DateTime<Utc>>,
    },
    /// No such invoice of this merchant.
    InvoiceNotFound,
    /// The bill is in a status that cannot be cancelled.
    InvoiceNotCancellable { invoice_id: String, status: String },
}

impl StoreError {
    pub fn failed(cause: &dyn std::fmt::Display) -> Self {
        StoreError::Failed(cause.to_string())
    }

    pub fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        StoreError::Unavailable(cause.to_string())
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Unavailable(c) => write!(f, "storage unavailable: {c}"),
            StoreError::Failed(c) => write!(f, "storage failed: {c}"),
            StoreError::Refused(r) => write!(f, "storage refused: {r:?}"),
        }
    }
}

impl From<Refusal> for StoreError {
    fn from(r: Refusal) -> Self {
        StoreError::Refused(r)
    }
}

impl From<super::item::Corrupt> for StoreError {
    fn from(e: super::item::Corrupt) -> Self {
        StoreError::failed(&e)
    }
}

/// SDK failures are unavailable when the service throttled or could not be reached, else failed.
impl<E, R> From<aws_sdk_dynamodb::error::SdkError<E, R>> for StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    fn from(err: aws_sdk_dynamodb::error::SdkError<E, R>) -> Self {
        use aws_sdk_dynamodb::error::SdkError;
        let text = aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string();
        match &err {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
                StoreError::Unavailable(text)
            }
            _ if text.contains("Throttl") || text.contains("ProvisionedThroughputExceeded") => {
                StoreError::Unavailable(text)
            }
            _ => StoreError::Failed(text),
        }
    }
}
