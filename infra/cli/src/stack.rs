//! The local stack: the template's resources on the local AWS endpoint, the demo data, and
//! every route served through the same handlers Lambda runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use chrono::Utc;
use futures::future::BoxFuture;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use smartpit_shared::auth::Merchant;
use smartpit_shared::config::Resources;
use smartpit_shared::db::NumberRecord;
use smartpit_shared::{Db, NumberKind, SmartPitNumber};

use crate::provision::{self, resolve_ref};
use crate::template::{ref_target, Template};

pub type Handler = Arc<dyn Fn(Request) -> BoxFuture<'static, Response<Body>> + Send + Sync>;

/// A function fed events (a stream, a queue, a schedule): the event in, its reply out.
pub type EventHandler =
    Arc<dyn Fn(serde_json::Value) -> BoxFuture<'static, serde_json::Value> + Send + Sync>;

/// The region the local stack claims to be in.
pub const LOCAL_REGION: &str = "ap-northeast-1";

/// SDK configuration for the local endpoint, with dummy credentials: nothing can reach AWS.
/// Time limits are the operator's (no call waits for ever); each function's own clients apply
/// their own profiles over these.
pub fn local_sdk_config(endpoint: &str) -> SdkConfig {
    let creds =
        aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "smartpit-local");
    let limits = smartpit_shared::timeouts::OPERATOR;
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .timeout_config(limits.timeouts())
        .retry_config(limits.retries())
        .region(Region::new(LOCAL_REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            creds,
        ))
        .http_client(smartpit_shared::config::http_client())
        .build()
}

/// A bench's own stack: warnings on stderr, an emulator on a free port with the template's
/// tables and buckets (no demo data, no API). The emulator lives as long as the returned guard.
pub async fn bench_stack() -> Result<(crate::emulator::Emulator, Stack), String> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .try_init();
    let repo = repo_root()?;
    let emu = crate::emulator::start(&repo, 0, None).await?;
    let stack = Stack::new(&repo, &emu.endpoint, "http://127.0.0.1:3000")?;
    stack.provision().await?;
    Ok((emu, stack))
}

pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// The repository the stack runs from: `SMARTPIT_REPO`, or the checkout the current
/// directory is in (the nearest folder above it with `infra/template.yaml` and `Cargo.toml`).
/// Never the path this binary was compiled in: a copied checkout runs its own template,
/// venv and `.local/`.
pub fn repo_root() -> Result<PathBuf, String> {
    if let Some(repo) = std::env::var_os("SMARTPIT_REPO") {
        return Ok(PathBuf::from(repo));
    }
    let cwd = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
    cwd.ancestors()
        .find(|d| d.join("infra/template.yaml").is_file() && d.join("Cargo.toml").is_file())
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            format!(
                "{} is not inside a smartpit checkout (no infra/template.yaml above it); \
                 run from the repository or set SMARTPIT_REPO",
                cwd.display()
            )
        })
}

pub struct Stack {
    pub template: Template,
    pub sdk: SdkConfig,
    pub endpoint: String,
    /// Where the local API listens: the base of sheet links in mail.
    pub api_url: String,
    /// Webhook endpoints may be `http://127.0.0.1:*` (the local stack's explicit setting).
    pub loopback_webhooks: bool,
}

impl Stack {
    pub fn new(repo: &Path, endpoint: &str, api_url: &str) -> Result<Self, String> {
        Ok(Stack {
            template: Template::load(&repo.join("infra/template.yaml"))?,
            sdk: local_sdk_config(endpoint),
            endpoint: endpoint.to_string(),
            api_url: api_url.to_string(),
            loopback_webhooks: true,
        })
    }

    /// A `!Ref` resolved locally: a table or bucket's local name, or a parameter's value
    /// (`PublicBaseUrl` is the local API).
    fn resolve(&self, target: &str) -> Option<String> {
        if target == "PublicBaseUrl" {
            return Some(self.api_url.clone());
        }
        // The emulator's SES has no configuration sets: local mail goes without one.
        if target == "MailConfigurationSet" {
            return Some(String::new());
        }
        // Every key of the local stack is a test key.
        if target == "KeyEnvironment" {
            return Some("test".into());
        }
        if self.template.queues.iter().any(|q| q == target) {
            return Some(provision::queue_url(&self.endpoint, target));
        }
        resolve_ref(&self.template, target)
            .or_else(|| self.template.parameters.get(target).cloned())
    }

    /// A function's environment as the template gives it, `!Ref`s resolved to local names.
    pub fn env_of(&self, function: &str) -> Result<BTreeMap<String, String>, String> {
        let env = self
            .template
            .function_env
            .get(function)
            .ok_or_else(|| format!("no function {function} in the template"))?;
        env.iter()
            .map(|(k, v)| {
                let value = match (ref_target(v), v.as_str()) {
                    (Some(target), _) => self
                        .resolve(target)
                        .ok_or_else(|| format!("{function}.{k}: cannot resolve !Ref {target}"))?,
                    (None, Some(s)) => s.to_string(),
                    (None, None) => return Err(format!("{function}.{k}: unsupported value")),
                };
                Ok((k.clone(), value))
            })
            .collect()
    }

    pub fn resources_of(&self, function: &str) -> Result<Resources, String> {
        let env = self.env_of(function)?;
        let get = |k: &str| {
            env.get(k)
                .cloned()
                .ok_or_else(|| format!("{function} has no {k} in the template"))
        };
        Ok(Resources {
            main_table: get("MAIN_TABLE")?,
            numbers_table: get("NUMBERS_TABLE")?,
            outbox_table: get("OUTBOX_TABLE")?,
            events_table: get("EVENTS_TABLE")?,
            sheets_bucket: get("SHEETS_BUCKET")?,
            mail_from: get("MAIL_FROM")?,
            public_base_url: get("PUBLIC_BASE_URL")?,
            key_environment: get("KEY_ENVIRONMENT")?,
        })
    }

    /// The handler of each function the template declares, built as its Lambda `main` would.
    pub fn handlers(&self) -> Result<BTreeMap<String, Handler>, String> {
        let mut out: BTreeMap<String, Handler> = BTreeMap::new();
        for function in self.template.function_env.keys() {
            let res = self.resources_of(function)?;
            let handler: Handler = match function.as_str() {
                "InvoicesFunction" => {
                    let f = Arc::new(
                        smartpit_invoices::InvoicesFunction::new(&self.sdk, res)
                            .with_miss_limit(self.miss_limit(function)?),
                    );
                    Arc::new(move |req| {
                        let f = f.clone();
                        Box::pin(async move { f.handle(req).await })
                    })
                }
                "StoreFunction" => {
                    let f = Arc::new(
                        smartpit_store::StoreFunction::new(&self.sdk, res)
                            .with_miss_limit(self.miss_limit(function)?),
                    );
                    Arc::new(move |req| {
                        let f = f.clone();
                        Box::pin(async move { f.handle(req).await })
                    })
                }
                "NumbersFunction" => {
                    let f = Arc::new(smartpit_numbers::NumbersFunction::new(&self.sdk, res));
                    Arc::new(move |req| {
                        let f = f.clone();
                        Box::pin(async move { f.handle(req).await })
                    })
                }
                "SandboxFunction" => {
                    let f = Arc::new(smartpit_sandbox::SandboxFunction::new(&self.sdk, res));
                    Arc::new(move |req| {
                        let f = f.clone();
                        Box::pin(async move { f.handle(req).await })
                    })
                }
                "SheetsFunction" => {
                    let limit = self.env_of("SheetsFunction")?;
                    let f = Arc::new(
                        smartpit_sheets::SheetsFunction::new(&self.sdk, res).with_web_number_limit(
                            limit.get("WEB_NUMBERS_PER_MINUTE").map(String::as_str),
                        ),
                    );
                    Arc::new(move |req| {
                        let f = f.clone();
                        Box::pin(async move { f.handle(req).await })
                    })
                }
                "WebhookApiFunction" => {
                    let f = Arc::new(smartpit_webhooks::api::WebhookApi::new(
                        &self.sdk,
                        res,
                        self.webhook_settings(function)?,
                    ));
                    Arc::new(move |req| {
                        let f = f.clone();
                        Box::pin(async move { f.handle(req).await })
                    })
                }
                // Fed by streams, queues and schedules, not by HTTP: see `start_event_sources`.
                "NotifyFunction"
                | "WebhookDeliveryFunction"
                | "ExpiryFunction"
                | "SettlementFunction"
                | "MailEventsFunction" => continue,
                other => {
                    return Err(format!(
                        "the template names {other}, which the local stack does not know"
                    ))
                }
            };
            out.insert(function.clone(), handler);
        }
        Ok(out)
    }

    /// The notifier as its Lambda `main` builds it, from the template's environment, on `sdk`
    /// (the stack's own, or a caller's: an HTTP client's pooled connections belong to the
    /// runtime that opened them, so a test runtime brings its own).
    pub fn notifier(&self, sdk: &SdkConfig) -> Result<smartpit_notify::NotifyFunction, String> {
        let env = self.env_of("NotifyFunction")?;
        Ok(smartpit_notify::NotifyFunction::new(
            sdk,
            self.resources_of("NotifyFunction")?,
            smartpit_notify::Settings::from_vars(&env),
        ))
    }

    /// The webhook functions' settings: the template's environment, except that the local
    /// stack allows `http://127.0.0.1:*` endpoints when `loopback_webhooks` says so (an
    /// explicit stack setting; the template never does).
    pub fn webhook_settings(&self, function: &str) -> Result<smartpit_webhooks::Settings, String> {
        let mut env = self.env_of(function)?;
        if self.loopback_webhooks {
            env.insert("WEBHOOK_ALLOW_LOOPBACK".into(), "true".into());
        }
        smartpit_webhooks::Settings::from_vars(&env)
    }

    /// The webhook delivery function as its Lambda `main` builds it, on `sdk`.
    pub fn webhook_delivery(
        &self,
        sdk: &SdkConfig,
    ) -> Result<smartpit_webhooks::delivery::WebhookDelivery, String> {
        Ok(smartpit_webhooks::delivery::WebhookDelivery::new(
            sdk,
            self.resources_of("WebhookDeliveryFunction")?,
            self.webhook_settings("WebhookDeliveryFunction")?,
        ))
    }

    /// A function's `MISSES_PER_MINUTE`, as the template sets it.
    fn miss_limit(&self, function: &str) -> Result<i64, String> {
        let env = self.env_of(function)?;
        Ok(smartpit_shared::guessing::limit_from(
            env.get("MISSES_PER_MINUTE").map(String::as_str),
        ))
    }

    /// The settlement function as its Lambda `main` builds it, on `sdk`.
    pub fn settlement(
        &self,
        sdk: &SdkConfig,
    ) -> Result<smartpit_settlement::SettlementFunction, String> {
        Ok(smartpit_settlement::SettlementFunction::new(
            sdk,
            self.resources_of("SettlementFunction")?,
        ))
    }

    /// The local name of a bucket the template defines.
    pub fn bucket(&self, logical: &str) -> Result<String, String> {
        resolve_ref(&self.template, logical)
            .ok_or_else(|| format!("no bucket {logical} in the template"))
    }

    /// The handler of a function fed events, built on `sdk`, its calls checked against the
    /// function's role as AWS would.
    pub fn event_handler(&self, function: &str, sdk: &SdkConfig) -> Result<EventHandler, String> {
        let inner = self.unguarded_event_handler(function, sdk)?;
        let Some(guard) = crate::iam::guards(&self.template).remove(function) else {
            return Ok(inner);
        };
        Ok(Arc::new(move |ev| {
            let inner = inner.clone();
            let guard = guard.clone();
            Box::pin(async move { smartpit_shared::calls::guarded(guard, inner(ev)).await })
        }))
    }

    fn unguarded_event_handler(
        &self,
        function: &str,
        sdk: &SdkConfig,
    ) -> Result<EventHandler, String> {
        Ok(match function {
            "NotifyFunction" => {
                let f = Arc::new(self.notifier(sdk)?);
                Arc::new(move |ev| {
                    let f = f.clone();
                    Box::pin(async move { f.handle(ev).await })
                })
            }
            "ExpiryFunction" => {
                let f = Arc::new(smartpit_invoices::expiry::ExpirySweep::new(
                    sdk,
                    self.resources_of("ExpiryFunction")?,
                ));
                Arc::new(move |ev| {
                    let f = f.clone();
                    Box::pin(async move { f.handle(ev).await })
                })
            }
            "MailEventsFunction" => {
                let f = Arc::new(smartpit_notify::mail_events::MailEvents::new(
                    sdk,
                    self.resources_of("MailEventsFunction")?,
                ));
                Arc::new(move |ev| {
                    let f = f.clone();
                    Box::pin(async move {
                        match f.handle(ev).await {
                            Ok(v) => v,
                            Err(e) => serde_json::json!({"errorMessage": e}),
                        }
                    })
                })
            }
            "SettlementFunction" => {
                let f = Arc::new(self.settlement(sdk)?);
                Arc::new(move |ev| {
                    let f = f.clone();
                    Box::pin(async move {
                        match f.handle(ev).await {
                            Ok(v) => v,
                            Err(e) => serde_json::json!({"errorMessage": e.0}),
                        }
                    })
                })
            }
            "WebhookDeliveryFunction" => {
                let f = Arc::new(self.webhook_delivery(sdk)?);
                Arc::new(move |ev| {
                    let f = f.clone();
                    Box::pin(async move { f.handle(ev).await })
                })
            }
            other => return Err(format!("no local event consumer for {other}")),
        })
    }

    /// Runs every event source the template gives a function, as Lambda would: table streams
    /// (batch size, bounded retries, bisection, on-failure queue), queues (each received batch
    /// handled on its own, concurrently), schedules and bucket notifications.
    pub fn start_event_sources(&self) -> Result<(), String> {
        for (table, source) in &self.template.streams {
            let f = self.event_handler(&source.function, &self.sdk)?;
            let mapping = crate::streams::Mapping {
                function: source.function.clone(),
                table: provision::table_name(table),
                batch_size: source.batch_size.max(1),
                max_retries: source.max_retries,
                bisect: source.bisect,
                on_failure_queue: source
                    .on_failure_queue
                    .as_ref()
                    .map(|q| provision::queue_url(&self.endpoint, q)),
            };
            let clients = crate::streams::Clients {
                ddb: aws_sdk_dynamodb::Client::new(&self.sdk),
                streams: aws_sdk_dynamodbstreams::Client::new(&self.sdk),
                sqs: aws_sdk_sqs::Client::new(&self.sdk),
            };
            tokio::spawn(async move {
                if let Err(e) = crate::streams::pump(clients, mapping, f).await {
                    tracing::error!(error = %e, "stream pump stopped");
                }
            });
        }
        for (queue, source) in &self.template.queue_sources {
            let f = self.event_handler(&source.function, &self.sdk)?;
            let sqs = aws_sdk_sqs::Client::new(&self.sdk);
            let url = provision::queue_url(&self.endpoint, queue);
            let batch = source.batch_size.clamp(1, 10);
            tokio::spawn(crate::queues::poll(sqs, url, batch, f));
        }
        for (bucket, source) in &self.template.bucket_sources {
            let f = self.event_handler(&source.function, &self.sdk)?;
            tokio::spawn(crate::buckets::watch(
                s3_client(&self.sdk),
                aws_sdk_sqs::Client::new(&self.sdk),
                self.bucket(bucket)?,
                source.clone(),
                f,
            ));
        }
        for schedule in &self.template.schedules {
            let f = self.event_handler(&schedule.function, &self.sdk)?;
            let schedule_rule = format!(
                "arn:aws:events:{LOCAL_REGION}:{}:rule/{}-schedule",
                crate::provision::LOCAL_ACCOUNT,
                schedule.function
            );
            let every = std::time::Duration::from_secs(schedule.every_seconds);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    f(scheduled_event(&schedule_rule)).await;
                }
            });
        }
        Ok(())
    }

    /// Lets SES send from the template's sender address.
    pub async fn verify_mail_identity(&self) -> Result<(), String> {
        let res = self.resources_of("NotifyFunction")?;
        let ses = aws_sdk_sesv2::Client::new(&self.sdk);
        let domain = res
            .mail_from
            .rsplit('@')
            .next()
            .unwrap_or_default()
            .to_string();
        for identity in [res.mail_from.clone(), domain] {
            let _ = ses
                .create_email_identity()
                .email_identity(identity)
                .send()
                .await;
        }
        Ok(())
    }

    /// Operator-side access to the tables.
    pub fn db(&self) -> Result<Db, String> {
        Ok(Db::with_profile(
            &self.sdk,
            self.resources_of("InvoicesFunction")?,
            smartpit_shared::timeouts::OPERATOR,
        ))
    }

    /// Tables and buckets, as the template defines them.
    pub async fn provision(&self) -> Result<(), String> {
        provision::tables(&aws_sdk_dynamodb::Client::new(&self.sdk), &self.template).await?;
        provision::buckets(&s3_client(&self.sdk), &self.template).await?;
        provision::queues(
            &aws_sdk_sqs::Client::new(&self.sdk),
            &self.template,
            &self.endpoint,
        )
        .await?;
        self.verify_mail_identity().await
    }

    /// Two demo merchants, every chain of the catalogue, a few card numbers. Same keys every
    /// time, so the README's examples work as written; they exist only on the local endpoint.
    pub async fn seed(&self) -> Result<Seeded, String> {
        let db = self.db()?;
        let now = Utc::now();
        let mut merchants = Vec::new();
        for (id, name, key) in DEMO_MERCHANTS {
            let m = Merchant {
                id: id.to_string(),
                name: name.to_string(),
            };
            db.put_merchant(&m, key, now)
                .await
                .map_err(|p| p.to_string())?;
            // A demo fee schedule, so the daily report shows fees and nets.
            let mut fees = smartpit_shared::fees::FeeSchedule {
                default: smartpit_shared::fees::Fee {
                    fixed_yen: 60,
                    rate_bp: 0,
                },
                ..Default::default()
            };
            fees.chains.insert(
                "lawson".into(),
                smartpit_shared::fees::Fee {
                    fixed_yen: 40,
                    rate_bp: 50,
                },
            );
            db.put_fee_schedule(id, &fees, now)
                .await
                .map_err(|p| p.to_string())?;
            merchants.push(SeededMerchant {
                id: id.to_string(),
                name: name.to_string(),
                api_key: key.to_string(),
            });
        }
        let mut store_chains = BTreeMap::new();
        for chain in smartpit_shared::store_chain::catalogue().map_err(|e| e.to_string())? {
            let key = format!("ck_test_{}", chain.id.replace('-', "_"));
            db.put_store_chain(&chain, &key, now)
                .await
                .map_err(|p| p.to_string())?;
            store_chains.insert(chain.id.clone(), key);
        }
        let mut cards = Vec::new();
        for body in DEMO_CARD_BODIES {
            let number = SmartPitNumber::from_body(body);
            db.insert_number(&NumberRecord::new(number, NumberKind::Card, now))
                .await
                .map_err(|p| p.to_string())?;
            cards.push(number.to_string());
        }
        Ok(Seeded {
            merchants,
            store_chains,
            cards,
        })
    }
}

pub const DEMO_MERCHANTS: [(&str, &str, &str); 2] = [
    ("demo-shop", "スマートピット商店", "sk_test_demo_shop"),
    ("sample-books", "サンプル書店", "sk_test_sample_books"),
];

const DEMO_CARD_BODIES: [u64; 5] = [
    201_000_000_001,
    201_000_000_002,
    201_000_000_003,
    201_000_000_004,
    201_000_000_005,
];

#[derive(Debug, Clone, Serialize)]
pub struct SeededMerchant {
    pub id: String,
    pub name: String,
    pub api_key: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Seeded {
    pub merchants: Vec<SeededMerchant>,
    pub store_chains: BTreeMap<String, String>,
    pub cards: Vec<String>,
}

/// `.local/stack.json`: what a developer or a script needs to talk to the local stack.
#[derive(Debug, Clone, Serialize)]
pub struct StackFile<'a> {
    /// The checkout this stack runs from.
    pub repository: String,
    pub api_url: String,
    pub aws_endpoint_url: String,
    pub merchants: &'a [SeededMerchant],
    pub store_chains: &'a BTreeMap<String, String>,
    pub cards: &'a [String],
}

/// EventBridge's scheduled event as Lambda receives it (every field AWS sends: `detail` is an
/// empty object, `resources` the rule).
pub fn scheduled_event(rule_arn: &str) -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "id": smartpit_shared::ids::base32(&smartpit_shared::ids::random_bytes::<10>()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": crate::provision::LOCAL_ACCOUNT,
        "time": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": LOCAL_REGION,
        "resources": [rule_arn],
        "detail": {},
    })
}
