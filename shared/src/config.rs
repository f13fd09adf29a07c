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
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .without_time()
        .try_init();
}
