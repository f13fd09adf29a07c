//! Sorting the failures of a delivery: a permanent one is recorded on its notice and the stream
//! moves on; a passing one is retried, a bounded number of times, then parked for an operator.

use aws_sdk_sesv2::error::ProvideErrorMetadata;
use smartpit_shared::Problem;

/// Why a step could not be done now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No retry can mend it (SES refused this address or message; the sheet cannot be made).
    /// The reason is shown to the merchant on the invoice.
    Permanent(String),
    /// Throttling, a 5xx, a time-out, a configuration an operator must fix: retried.
    Passing(String),
}

impl From<Problem> for Failure {
    fn from(p: Problem) -> Self {
        Failure::Passing(format!("{} {}", p.status().as_u16(), p.code))
    }
}

/// Storage's failures pass (as the problem they would answer: throttling is a 503).
impl From<smartpit_shared::db::StoreError> for Failure {
    fn from(e: smartpit_shared::db::StoreError) -> Self {
        Failure::from(Problem::from(e))
    }
}

/// SES error codes that say this message or recipient is refused for good.
const SES_PERMANENT: [&str; 3] = [
    "BadRequestException",
    "InvalidParameterValue",
    "MessageRejected",
];

/// An SES SendEmail error. `MessageRejected` is permanent only when it is not the sender that
/// is refused (an unverified sender is an operator's fix, and every mail would fail alike).
pub fn ses<R: std::fmt::Debug>(
    err: &aws_sdk_sesv2::error::SdkError<aws_sdk_sesv2::operation::send_email::SendEmailError, R>,
    sender: &str,
) -> Failure {
    let Some(service) = err.as_service_error() else {
        return Failure::Passing(format!(
            "SES unreachable: {}",
            aws_sdk_sesv2::error::DisplayErrorContext(err)
        ));
    };
    let code = service.code().unwrap_or("Unknown");
    let message = service.message().unwrap_or("");
    let sender_refused = code == "MessageRejected" && message.contains(sender);
    if SES_PERMANENT.contains(&code) && !sender_refused {
        Failure::Permanent(format!("SES refused the mail ({code}): {message}"))
    } else {
        Failure::Passing(format!("SES {code}"))
    }
}

/// An S3 PutObject error: a 4xx other than access, missing bucket, time-out or throttling says
/// the object itself is refused; everything else passes.
pub fn s3<R>(
    err: &aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::put_object::PutObjectError, R>,
    status: Option<u16>,
) -> Failure {
    let code = err
        .as_service_error()
        .and_then(|e| e.code())
        .unwrap_or("Unknown")
        .to_string();
    match status {
        Some(s) if (400..500).contains(&s) && ![403, 404, 408, 429].contains(&s) => {
            Failure::Permanent(format!("S3 refused the sheet ({code})"))
        }
        _ => Failure::Passing(format!("S3 {code}")),
    }
}
