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

/// A function's environment, by name.
pub type Vars = std::collections::BTreeMap<String, String>;

impl Resources {
    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// From an environment given whole (the process's, or the one the template gives a
    /// function, as the local stack builds it).
    pub fn from_vars(vars: &Vars) -> Result<Self, String> {
        let var = |name: &str| {
            vars.get(name)
                .cloned()
                .ok_or_else(|| format!("environment variable {name} is not set"))
        };
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

/// The roots AWS endpoints chain to (see the file's header).
pub const AWS_ROOTS_PEM: &str = include_str!("aws-roots.pem");

/// A new HTTPS client for the SDK: rustls on ring, trusting the AWS roots only (or the
/// system's store with `SMARTPIT_TLS_ROOTS=system`). A new one per call: a connection pool
/// belongs to the runtime that opened its connections.
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
    let system = std::env::var("SMARTPIT_TLS_ROOTS").is_ok_and(|v| v == "system");
    let store = match system {
        true => TrustStore::default(),
        false => TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(AWS_ROOTS_PEM.as_bytes()),
    };
    let builder = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring));
    match TlsContext::builder().with_trust_store(store).build() {
        Ok(ctx) => builder.tls_context(ctx).build_https(),
        // Only a malformed built-in file gets here, and a test reads it.
        Err(e) => {
            tracing::error!(error = %e, "TLS context; using the system's roots");
            builder.build_https()
        }
    }
}

/// The AWS configuration of a function: the region and credentials Lambda puts in the
/// environment and, locally, `AWS_ENDPOINT_URL` pointing at the emulator. Only what a
/// function needs (no profile files, SSO, STS or instance metadata): less to link and to start.
pub async fn aws_from_env() -> SdkConfig {
    use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .ok()
        .map(aws_config::Region::new);
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region)
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .http_client(http_client());
    if let Ok(url) = std::env::var("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(url);
    }
    config.build()
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
mod tls_tests {
    #[test]
    fn the_aws_roots_are_five_certificates() {
        use rustls_pki_types::pem::PemObject;
        let certs: Vec<_> =
            rustls_pki_types::CertificateDer::pem_slice_iter(super::AWS_ROOTS_PEM.as_bytes())
                .collect::<Result<_, _>>()
                .expect("PEM");
        assert_eq!(certs.len(), 5);
        // Building the client parses the store; a bad file would fall back loudly.
        let _ = super::http_client();
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

/// A client built on first use: start-up builds only what every invocation needs (issue 12),
/// and a route or record that never calls S3, SES or SQS never builds their clients.
pub struct OnFirstUse<C> {
    cell: std::sync::OnceLock<C>,
    make: Box<dyn Fn() -> C + Send + Sync>,
}

impl<C> OnFirstUse<C> {
    pub fn new(make: impl Fn() -> C + Send + Sync + 'static) -> Self {
        OnFirstUse {
            cell: std::sync::OnceLock::new(),
            make: Box::new(make),
        }
    }

    /// The client, built by the first caller.
    pub fn get(&self) -> &C {
        self.cell.get_or_init(|| (self.make)())
    }
}

#[cfg(test)]
mod on_first_use {
    use super::OnFirstUse;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn builds_once_and_only_when_asked() {
        let built = Arc::new(AtomicUsize::new(0));
        let counter = built.clone();
        let lazy = OnFirstUse::new(move || counter.fetch_add(1, Ordering::SeqCst) + 41);
        assert_eq!(built.load(Ordering::SeqCst), 0);
        assert_eq!(*lazy.get(), 41);
        assert_eq!(*lazy.get(), 41);
        assert_eq!(built.load(Ordering::SeqCst), 1);
    }
}
