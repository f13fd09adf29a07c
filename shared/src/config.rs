//! Configuration comes from the environment the SAM template (or the local stack) sets.

use aws_config::{BehaviorVersion, SdkConfig};

/// Names of the resources a function works on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// Invoices, merchants, keys, payments, idempotency records (`MAIN_TABLE`).
    pub main_table: String,
    /// Every issued Smart Pit number (`NUMBERS_TABLE`).
    pub numbers_table: String,
    /// Notices to send, written with the invoice; its stream feeds the notifier (`OUTBOX_TABLE`).
    pub outbox_table: String,
    /// Merchant events, written with the change they report; its stream feeds webhook
    /// delivery (`EVENTS_TABLE`).
    pub events_table: String,
    /// Private bucket of sheet PDFs (`SHEETS_BUCKET`).
    pub sheets_bucket: String,
    /// Sender of customer mail (`MAIL_FROM`).
    pub mail_from: String,
    /// Public base URL of the API, for sheet links in mail (`PUBLIC_BASE_URL`).
    pub public_base_url: String,
    /// `test` or `live` (`KEY_ENVIRONMENT`): only keys of this environment (`sk_test_…`,
    /// `ck_live_…`) are taken.
    pub key_environment: String,
}

impl Resources {
    pub fn from_env() -> Result<Self, String> {
        Ok(Resources {
            main_table: var("MAIN_TABLE")?,
            numbers_table: var("NUMBERS_TABLE")?,
            outbox_table: var("OUTBOX_TABLE")?,
            events_table: var("EVENTS_TABLE")?,
            sheets_bucket: var("SHEETS_BUCKET")?,
            mail_from: var("MAIL_FROM")?,
            public_base_url: var("PUBLIC_BASE_URL")?,
            key_environment: var("KEY_ENVIRONMENT")?,
        })
    }
}

pub fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))
}

/// The AWS configuration of the environment: region, credentials and, locally,
/// `AWS_ENDPOINT_URL` pointing at the emulator.
pub async fn aws_from_env() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// JSON logs without ANSI colours, as CloudWatch wants them. Never log request bodies: they
/// hold customers' mail addresses.
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(log_level(
            std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .or_else(|_| std::env::var("RUST_LOG"))
                .ok()
                .as_deref(),
        ))
        .with_target(false)
        .without_time()
        .try_init();
}

/// The level to log at: Lambda's log level setting (`AWS_LAMBDA_LOG_LEVEL`) or `RUST_LOG`, a
/// bare level (`debug`, `WARN`…); `info` otherwise. A level, not a filter expression: a filter
/// would link a regex engine into every function for a setting nobody needs per module.
pub fn log_level(setting: Option<&str>) -> tracing::Level {
    match setting.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        Some("trace") => tracing::Level::TRACE,
        Some("debug") => tracing::Level::DEBUG,
        Some("warn") => tracing::Level::WARN,
        Some("error" | "fatal") => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    }
}

#[cfg(test)]
mod log_level_tests {
    #[test]
    fn a_bare_level_or_info() {
        use super::log_level;
        assert_eq!(log_level(Some("DEBUG")), tracing::Level::DEBUG);
        assert_eq!(log_level(Some("warn")), tracing::Level::WARN);
        assert_eq!(log_level(Some("FATAL")), tracing::Level::ERROR);
        assert_eq!(log_level(Some("smartpit=debug")), tracing::Level::INFO);
        assert_eq!(log_level(None), tracing::Level::INFO);
    }
}
