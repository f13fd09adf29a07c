//! The local stack: the template's resources on the local AWS endpoint, the demo data, and
//! every route served through the same handlers Lambda runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use chrono::Utc;
use futures::future::BoxFuture;
use serde::Serialize;
use smartpit_shared::auth::Merchant;
use smartpit_shared::config::Resources;
use smartpit_shared::db::NumberRecord;
use smartpit_shared::{Db, NumberKind, SmartPitNumber};

use crate::provision::{self, resolve_ref};
use crate::template::{ref_target, Template};

/// A function fed events (a stream, a queue, a schedule): the event in, its reply out, or the
/// invocation's error (Lambda's function error: the whole batch failed).
pub type EventHandler = Arc<
    dyn Fn(serde_json::Value) -> BoxFuture<'static, Result<serde_json::Value, String>>
        + Send
        + Sync,
>;

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

/// A bench's own stack: warnings on stderr, the emulator on a free port with the template's
/// resources and the demo data, no functions and no API (a bench runs the code it measures
/// itself). It lives as long as the returned value.
pub async fn bench_stack() -> Result<Running, String> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .try_init();
    start(
        &repo_root()?,
        Options {
            api: None,
            emulator_port: 0,
            emulator_log: None,
            logs: crate::runtime::Logs::Stderr,
        },
    )
    .await
}

/// How to start a whole local stack.
pub struct Options {
    /// The API's listener (bound first, so a busy port is said before anything starts); `None`:
    /// no functions, no API, no event sources (the benches).
    pub api: Option<tokio::net::TcpListener>,
    /// The emulator's port (0: any free one) and where its request log goes.
    pub emulator_port: u16,
    pub emulator_log: Option<PathBuf>,
    /// Where the function processes' output goes.
    pub logs: crate::runtime::Logs,
}

/// A running local stack: the emulator, the template's resources with the demo data, every
/// function as its own processes, their event sources, and the API. It stops when dropped.
pub struct Running {
    pub emulator: crate::emulator::Emulator,
    pub stack: Stack,
    pub functions: crate::runtime::Functions,
    pub seeded: Seeded,
    pub api_url: String,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

/// Starts the whole local stack from the checkout at `repo`: the one start of `make dev`, the
/// tests' harness and the benches.
pub async fn start(repo: &Path, opts: Options) -> Result<Running, String> {
    let emulator =
        crate::emulator::start(repo, opts.emulator_port, opts.emulator_log.as_deref()).await?;
    let api_url = match &opts.api {
        Some(listener) => format!(
            "http://{}",
            listener.local_addr().map_err(|e| e.to_string())?
        ),
        None => "http://127.0.0.1:3000".to_string(),
    };
    // Problem `type` URLs start here, as PUBLIC_BASE_URL makes them on Lambda.
    smartpit_shared::problem::set_public_base_url(&api_url);
    let stack = Stack::new(repo, &emulator.endpoint, &api_url)?;
    stack.provision().await?;
    let seeded = stack.seed().await?;
    let (functions, server) = match opts.api {
        Some(listener) => {
            let functions = stack.start_functions(opts.logs).await?;
            let router = Arc::new(crate::server::Router::new(
                stack.template.clone(),
                functions.clone(),
            ));
            let server = tokio::spawn(crate::server::serve(listener, router));
            stack.start_event_sources(&functions)?;
            (functions, Some(server))
        }
        None => (crate::runtime::Functions::default(), None),
    };
    Ok(Running {
        emulator,
        stack,
        functions,
        seeded,
        api_url,
        server,
    })
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
    /// The checkout the stack runs from (its template, layers and binaries).
    pub repo: PathBuf,
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
            repo: repo.to_path_buf(),
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

    /// Where cargo put the functions' binaries: `SMARTPIT_FUNCTION_BINARIES`, else the debug
    /// build of the checkout (`CARGO_TARGET_DIR` if set). `make dev` and `make test` build them.
    pub fn binaries_dir(&self) -> PathBuf {
        if let Some(dir) = std::env::var_os("SMARTPIT_FUNCTION_BINARIES") {
            return PathBuf::from(dir);
        }
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.repo.join("target"))
            .join("debug")
    }

    /// A path under `/opt` as Lambda mounts the function's layers there: the file in the
    /// layer's content folder (`ContentUri`, as `make font-layer` fills it).
    fn layer_path(&self, function: &str, path: &str) -> Result<Option<String>, String> {
        let Some(rest) = path.strip_prefix("/opt/") else {
            return Ok(None);
        };
        let layers = self
            .template
            .functions
            .get(function)
            .map(|f| f.layers.clone())
            .unwrap_or_default();
        for layer in &layers {
            let Some(uri) = self.template.layers.get(layer) else {
                continue;
            };
            let file = self.repo.join("infra").join(uri).join(rest);
            if file.exists() {
                return Ok(Some(file.display().to_string()));
            }
        }
        Err(format!(
            "{function}: {path} is in none of its layers ({}); build them first (make font-layer)",
            layers.join(", ")
        ))
    }

    /// A function's variables as the stack gives them: the template's, `!Ref`s resolved to
    /// the local resources, `/opt` paths to its layers' folders; webhooks may go to
    /// `http://127.0.0.1` (the local stack's one departure, for the tests' receivers).
    pub fn function_env(&self, function: &str) -> Result<BTreeMap<String, String>, String> {
        let mut env = self.env_of(function)?;
        for value in env.values_mut() {
            if let Some(local) = self.layer_path(function, value)? {
                *value = local;
            }
        }
        if self.loopback_webhooks && env.contains_key("WEBHOOK_ALLOW_LOOPBACK") {
            env.insert("WEBHOOK_ALLOW_LOOPBACK".into(), "true".into());
        }
        Ok(env)
    }

    /// How the stack runs each function of the template: its binary, and the environment
    /// Lambda would give it (the template's variables resolved to the local resources, the
    /// reserved `AWS_LAMBDA_*` variables, local credentials, nothing of the stack's own).
    pub fn function_configs(
        &self,
        logs: crate::runtime::Logs,
    ) -> Result<Vec<crate::runtime::FunctionConfig>, String> {
        let mut guards = crate::iam::guards(&self.template);
        let bin = self.binaries_dir();
        let mut out = Vec::new();
        for (name, spec) in &self.template.functions {
            let mut env = self.function_env(name)?;
            let binary = bin.join(&spec.binary);
            for (k, v) in [
                ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
                (
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                    spec.memory_mb.to_string(),
                ),
                ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
                ("AWS_REGION", LOCAL_REGION.into()),
                ("AWS_DEFAULT_REGION", LOCAL_REGION.into()),
                ("AWS_ACCESS_KEY_ID", "local".into()),
                ("AWS_SECRET_ACCESS_KEY", "local".into()),
                ("AWS_SESSION_TOKEN", "local".into()),
                ("AWS_EC2_METADATA_DISABLED", "true".into()),
                ("AWS_CONFIG_FILE", "/dev/null".into()),
                ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
                ("_HANDLER", "bootstrap".into()),
                ("LAMBDA_TASK_ROOT", bin.display().to_string()),
                ("TZ", ":UTC".into()),
                ("LANG", "en_US.UTF-8".into()),
                ("PATH", "/usr/local/bin:/usr/bin:/bin".into()),
            ] {
                env.insert(k.to_string(), v);
            }
            let http = self.template.routes.iter().any(|r| &r.function == name);
            out.push(crate::runtime::FunctionConfig {
                name: name.clone(),
                binary,
                env,
                timeout: std::time::Duration::from_secs(spec.timeout_seconds),
                min_instances: 1,
                // Enough for the tests' copies sent at once to run at once, as on Lambda.
                max_instances: if http { 8 } else { 4 },
                guard: guards.remove(name),
                upstream: self.endpoint.clone(),
                logs: logs.clone(),
            });
        }
        Ok(out)
    }

    /// Starts every function of the template as its own processes.
    pub async fn start_functions(
        &self,
        logs: crate::runtime::Logs,
    ) -> Result<crate::runtime::Functions, String> {
        crate::runtime::Functions::start(self.function_configs(logs)?).await
    }

    /// A function built in this process exactly as its `main` builds it (its crate's
    /// `configured`, from the environment the stack gives its processes), on `sdk` (an HTTP
    /// client's pooled connections belong to the runtime that opened them, so a test runtime
    /// brings its own). Only for tests that move a clock a process cannot be given.
    pub fn in_process<F: smartpit_shared::lambda::EventFunction>(
        &self,
        function: &str,
        sdk: &SdkConfig,
    ) -> Result<F, String> {
        let vars = self.function_env(function)?;
        F::configured(sdk, Resources::from_vars(&vars)?, &vars)
    }

    /// The notifier, in this process (see `in_process`).
    pub fn notifier(&self, sdk: &SdkConfig) -> Result<smartpit_notify::NotifyFunction, String> {
        self.in_process("NotifyFunction", sdk)
    }

    /// The webhook delivery function, in this process (see `in_process`).
    pub fn webhook_delivery(
        &self,
        sdk: &SdkConfig,
    ) -> Result<smartpit_webhooks::delivery::WebhookDelivery, String> {
        self.in_process("WebhookDeliveryFunction", sdk)
    }

    /// The settlement function, in this process (`smartpit settlement run` on a local stack).
    pub fn settlement(
        &self,
        sdk: &SdkConfig,
    ) -> Result<smartpit_settlement::SettlementFunction, String> {
        self.in_process("SettlementFunction", sdk)
    }

    /// The payout run, in this process (`smartpit payouts run` on a local stack), with the
    /// font of its layer.
    pub fn payout_run(&self, sdk: &SdkConfig) -> Result<smartpit_payouts::run::PayoutRun, String> {
        let vars = self.function_env("PayoutRunFunction")?;
        if let Some(font) = vars.get("SHEET_FONT_PATH") {
            smartpit_shared::pdf::font::use_font_at(font);
        }
        self.in_process("PayoutRunFunction", sdk)
    }

    /// The local name of a bucket the template defines.
    pub fn bucket(&self, logical: &str) -> Result<String, String> {
        resolve_ref(&self.template, logical)
            .ok_or_else(|| format!("no bucket {logical} in the template"))
    }

    /// A function fed events, through its processes: the event in, its answer out, or the
    /// invocation's error. A `batchItemFailures` answer counts only where the template's
    /// mappings report partial batch failures, as on Lambda.
    pub fn event_handler(
        &self,
        function: &str,
        functions: &crate::runtime::Functions,
    ) -> Result<EventHandler, String> {
        let reports = self
            .template
            .functions
            .get(function)
            .ok_or_else(|| format!("no function {function} in the template"))?
            .reports_batch_failures;
        let functions = functions.clone();
        let name = function.to_string();
        Ok(Arc::new(move |event| {
            let functions = functions.clone();
            let name = name.clone();
            Box::pin(async move {
                let invoked = functions
                    .invoke(&name, event.to_string().into_bytes())
                    .await;
                let answer = invoked.result?;
                let mut reply: serde_json::Value = if answer.is_empty() {
                    serde_json::Value::Null
                } else {
                    serde_json::from_slice(&answer)
                        .map_err(|e| format!("{name} answered something that is not JSON: {e}"))?
                };
                if !reports {
                    if let Some(o) = reply.as_object_mut() {
                        o.remove("batchItemFailures");
                    }
                }
                Ok(reply)
            })
        }))
    }

    /// Runs every event source the template gives a function, as Lambda would: table streams
    /// (batch size, bounded retries, bisection, on-failure queue), queues (each received batch
    /// handled on its own, concurrently), schedules and bucket notifications.
    pub fn start_event_sources(&self, functions: &crate::runtime::Functions) -> Result<(), String> {
        for (table, source) in &self.template.streams {
            let f = self.event_handler(&source.function, functions)?;
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
            let f = self.event_handler(&source.function, functions)?;
            let sqs = aws_sdk_sqs::Client::new(&self.sdk);
            let url = provision::queue_url(&self.endpoint, queue);
            let batch = source.batch_size.clamp(1, 10);
            tokio::spawn(crate::queues::poll(sqs, url, batch, f));
        }
        for (bucket, source) in &self.template.bucket_sources {
            let f = self.event_handler(&source.function, functions)?;
            tokio::spawn(crate::buckets::watch(
                s3_client(&self.sdk),
                aws_sdk_sqs::Client::new(&self.sdk),
                self.bucket(bucket)?,
                source.clone(),
                f,
            ));
        }
        for schedule in &self.template.schedules {
            let f = self.event_handler(&schedule.function, functions)?;
            let schedule_rule = format!(
                "arn:aws:events:{LOCAL_REGION}:{}:rule/{}-schedule",
                crate::provision::LOCAL_ACCOUNT,
                schedule.function
            );
            let every = std::time::Duration::from_secs(schedule.every_seconds);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    if let Err(e) = f(scheduled_event(&schedule_rule)).await {
                        tracing::warn!(error = %e, "scheduled invocation failed");
                    }
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
        provision::kms_keys(&aws_sdk_kms::Client::new(&self.sdk), &self.template).await?;
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
            // A console user per demo merchant: `<merchant id>@example.jp`, admin.
            db.put_console_user(
                id,
                &format!("{id}@example.jp"),
                smartpit_shared::console::Role::Admin,
                now,
            )
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
