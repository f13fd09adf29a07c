//! How long each kind of AWS call may take: every client the service builds takes one of these
//! profiles, so no call waits for ever on a dependency that accepted a connection and never
//! answers. The figures and the reasons are in docs/ARCHITECTURE.md ("Time limits").
//!
//! - `connect`: a TCP/TLS connection; the endpoints are in-region, so a second is generous.
//! - `attempt`: one try of one request; a hung attempt is abandoned and retried (the SDK's
//!   standard retry mode, exponential backoff with jitter) while the operation has time left.
//! - `operation`: the whole call, retries included.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallProfile {
    pub connect: Duration,
    pub attempt: Duration,
    pub operation: Duration,
    pub max_attempts: u32,
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// DynamoDB behind an HTTP route: a route answers within 5 s even when its first call hangs
/// (3 s for the call, then a 503), and DynamoDB's own latency is milliseconds.
pub const API_DYNAMODB: CallProfile = CallProfile {
    connect: ms(1000),
    attempt: ms(2000),
    operation: ms(3000),
    max_attempts: 2,
};

/// DynamoDB from the notifier and scheduled work: nobody waits on the line, so one more try.
pub const BACKGROUND_DYNAMODB: CallProfile = CallProfile {
    connect: ms(1000),
    attempt: ms(3000),
    operation: ms(8000),
    max_attempts: 3,
};

/// S3 uploads of sheet PDFs (about 30 KB each).
pub const SHEET_UPLOAD: CallProfile = CallProfile {
    connect: ms(1000),
    attempt: ms(5000),
    operation: ms(12000),
    max_attempts: 3,
};

/// S3 reads and writes of settlement files and their reports (a few MB at most).
pub const SETTLEMENT_FILE: CallProfile = CallProfile {
    connect: ms(1000),
    attempt: ms(15000),
    operation: ms(40000),
    max_attempts: 3,
};

/// SES SendEmail. Two tries at most: SES has no idempotency key, so a retried attempt that had
/// in fact been accepted sends the mail twice.
pub const MAIL_SEND: CallProfile = CallProfile {
    connect: ms(1000),
    attempt: ms(5000),
    operation: ms(10000),
    max_attempts: 2,
};

/// Operator commands (card batches, onboarding): a person is watching and can stop them.
pub const OPERATOR: CallProfile = CallProfile {
    connect: ms(2000),
    attempt: ms(10000),
    operation: ms(30000),
    max_attempts: 5,
};

/// SQS from the notifier (parking a record it gave up on).
pub const QUEUE_SEND: CallProfile = CallProfile {
    connect: ms(1000),
    attempt: ms(3000),
    operation: ms(8000),
    max_attempts: 3,
};

impl CallProfile {
    pub fn timeouts(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }

    pub fn retries(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(ms(50))
            .with_max_backoff(ms(1000))
    }
}
