//! Reads infra/template.yaml: the functions and their routes, the tables and buckets, and the
//! environment each function gets. The local stack follows it, so it is the one source of truth.

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml::Value;
use smartpit_shared::routes::Routes;

/// One route of the HTTP API: method, path pattern with `{param}`s, and the function serving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    pub path: String,
    pub function: String,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub routes: Vec<Route>,
    /// Logical id -> CloudFormation properties of each `AWS::DynamoDB::Table`.
    pub tables: BTreeMap<String, Value>,
    /// Logical ids of the `AWS::S3::Bucket`s.
    pub buckets: Vec<String>,
    /// Logical id -> environment of each function, globals merged, `!Ref`s unresolved.
    pub function_env: BTreeMap<String, BTreeMap<String, Value>>,
    /// Parameter -> its default value.
    pub parameters: BTreeMap<String, String>,
    /// Logical ids of the tables with a stream, and how each feeds its function.
    pub streams: BTreeMap<String, StreamSource>,
    /// Logical ids of the `AWS::SQS::Queue`s.
    pub queues: Vec<String>,
    /// Logical id -> the settings of each queue the local stack plays (visibility, redrive).
    pub queue_settings: BTreeMap<String, QueueSettings>,
    /// Logical ids of the `AWS::KMS::Key`s.
    pub kms_keys: Vec<String>,
    /// `Type: SQS` events: queue logical id -> how it feeds its function.
    pub queue_sources: BTreeMap<String, QueueSource>,
    /// `Type: Schedule` events.
    pub schedules: Vec<ScheduleSource>,
    /// `Type: S3` events: bucket logical id -> the function its created objects run.
    pub bucket_sources: BTreeMap<String, BucketSource>,
    /// Logical id -> how each function is built and run (binary, time-out, memory, layers).
    pub functions: BTreeMap<String, FunctionSpec>,
    /// Logical id -> content directory of each `AWS::Serverless::LayerVersion` (relative to
    /// the template's folder, as SAM reads `ContentUri`).
    pub layers: BTreeMap<String, String>,
    /// The whole document (the functions' policies are read from it: `crate::iam`).
    pub raw: Value,
}

/// What Lambda needs to run one function: the binary `sam build` builds for it
/// (`Metadata.BuildProperties.Binary`), its time-out and memory (globals applied) and the
/// layers mounted under `/opt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    pub binary: String,
    pub timeout_seconds: u64,
    pub memory_mb: u64,
    pub layers: Vec<String>,
    /// Its event source mappings report partial batch failures (`FunctionResponseTypes:
    /// [ReportBatchItemFailures]`): only then does a `batchItemFailures` answer count.
    pub reports_batch_failures: bool,
}

/// A `Type: S3` event (`s3:ObjectCreated:*`): objects created under `prefix` whose key ends
/// with `suffix` run the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSource {
    pub function: String,
    pub prefix: String,
    pub suffix: String,
}

/// What an `AWS::SQS::Queue` says of how its messages come back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueSettings {
    /// `VisibilityTimeout` (SQS's default, 30 s, when the template says none).
    pub visibility_seconds: u64,
    /// `RedrivePolicy`: the queue (logical id) a message goes to after `maxReceiveCount`
    /// receives.
    pub dead_letter: Option<(String, u64)>,
}

/// A `Type: SQS` event source mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSource {
    pub function: String,
    pub batch_size: usize,
}

/// A `Type: Schedule` event: the function runs every `every_seconds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSource {
    pub function: String,
    pub every_seconds: u64,
}

/// `rate(1 minute)`, `rate(5 minutes)`, `rate(1 hour)`, in seconds.
pub fn rate_seconds(expr: &str) -> Option<u64> {
    let inner = expr.strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.split_once(' ')?;
    let n: u64 = n.parse().ok()?;
    let unit_seconds = match unit.trim_end_matches('s') {
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        _ => return None,
    };
    Some(n * unit_seconds)
}

/// A `Type: DynamoDB` event: the event source mapping Lambda runs, as the local stack runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSource {
    pub function: String,
    pub batch_size: usize,
    /// Retries of a failing batch before it is given up (`MaximumRetryAttempts`; -1: for ever).
    pub max_retries: i64,
    /// Split a failing batch in two, and again, until the failing record stands alone.
    pub bisect: bool,
    /// The queue given up batches are reported to (`DestinationConfig.OnFailure`).
    pub on_failure_queue: Option<String>,
}

fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_mapping()?.get(Value::String(key.to_string()))
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    get(v, key)?.as_str()
}

fn env_of(v: Option<&Value>) -> BTreeMap<String, Value> {
    v.and_then(|f| get(f, "Environment"))
        .and_then(|e| get(e, "Variables"))
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.clone())))
                .collect()
        })
        .unwrap_or_default()
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let doc: Value = serde_yaml::from_str(text).map_err(|e| format!("template: {e}"))?;
        let globals = get(&doc, "Globals").and_then(|g| get(g, "Function"));
        let globals_env = env_of(globals);
        let global_u64 = |k: &str, default: u64| {
            globals
                .and_then(|g| get(g, k))
                .and_then(Value::as_u64)
                .unwrap_or(default)
        };
        // Lambda's own defaults when neither the function nor the globals say.
        let (default_timeout, default_memory) =
            (global_u64("Timeout", 3), global_u64("MemorySize", 128));
        let resources = get(&doc, "Resources")
            .and_then(Value::as_mapping)
            .ok_or("template has no Resources")?;
        let mut t = Template {
            routes: Vec::new(),
            tables: BTreeMap::new(),
            buckets: Vec::new(),
            function_env: BTreeMap::new(),
            parameters: BTreeMap::new(),
            streams: BTreeMap::new(),
            queues: Vec::new(),
            queue_settings: BTreeMap::new(),
            kms_keys: Vec::new(),
            queue_sources: BTreeMap::new(),
            schedules: Vec::new(),
            bucket_sources: BTreeMap::new(),
            functions: BTreeMap::new(),
            layers: BTreeMap::new(),
            raw: doc.clone(),
        };
        if let Some(params) = get(&doc, "Parameters").and_then(Value::as_mapping) {
            for (name, p) in params {
                let default = match get(p, "Default") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => String::new(),
                };
                if let Some(name) = name.as_str() {
                    t.parameters.insert(name.to_string(), default);
                }
            }
        }
        for (id, res) in resources {
            let id = id
                .as_str()
                .ok_or("resource id is not a string")?
                .to_string();
            let props = get(res, "Properties");
            match str_of(res, "Type") {
                Some("AWS::Serverless::Function") => {
                    let mut env = globals_env.clone();
                    env.extend(env_of(props));
                    t.function_env.insert(id.clone(), env);
                    let own = |k: &str, default: u64| {
                        props
                            .and_then(|p| get(p, k))
                            .and_then(Value::as_u64)
                            .unwrap_or(default)
                    };
                    let binary = get(res, "Metadata")
                        .and_then(|m| get(m, "BuildProperties"))
                        .and_then(|b| str_of(b, "Binary"))
                        .ok_or_else(|| format!("{id} has no Metadata.BuildProperties.Binary"))?;
                    let layers = props
                        .and_then(|p| get(p, "Layers"))
                        .and_then(Value::as_sequence)
                        .into_iter()
                        .flatten()
                        .filter_map(|l| ref_target(l).map(str::to_string))
                        .collect();
                    let reports_batch_failures = props
                        .and_then(|p| get(p, "Events"))
                        .and_then(Value::as_mapping)
                        .into_iter()
                        .flatten()
                        .filter_map(|(_, ev)| get(ev, "Properties"))
                        .filter_map(|p| get(p, "FunctionResponseTypes"))
                        .filter_map(Value::as_sequence)
                        .flatten()
                        .any(|v| v.as_str() == Some("ReportBatchItemFailures"));
                    t.functions.insert(
                        id.clone(),
                        FunctionSpec {
                            binary: binary.to_string(),
                            timeout_seconds: own("Timeout", default_timeout),
                            memory_mb: own("MemorySize", default_memory),
                            layers,
                            reports_batch_failures,
                        },
                    );
                    let events = props
                        .and_then(|p| get(p, "Events"))
                        .and_then(Value::as_mapping);
                    for (_, ev) in events.into_iter().flatten() {
                        if str_of(ev, "Type") == Some("DynamoDB") {
                            let p =
                                get(ev, "Properties").ok_or("DynamoDB event without Properties")?;
                            let table = get(p, "Stream")
                                .and_then(get_att_target)
                                .ok_or("DynamoDB event without !GetAtt Table.StreamArn")?;
                            let int = |k: &str, default: i64| {
                                get(p, k).and_then(Value::as_i64).unwrap_or(default)
                            };
                            let source = StreamSource {
                                function: id.clone(),
                                batch_size: usize::try_from(int("BatchSize", 100)).unwrap_or(100),
                                max_retries: int("MaximumRetryAttempts", -1),
                                bisect: get(p, "BisectBatchOnFunctionError")
                                    .and_then(Value::as_bool)
                                    .unwrap_or(false),
                                on_failure_queue: get(p, "DestinationConfig")
                                    .and_then(|d| get(d, "OnFailure"))
                                    .and_then(|o| get(o, "Destination"))
                                    .and_then(get_att_target)
                                    .map(str::to_string),
                            };
                            t.streams.insert(table.to_string(), source);
                            continue;
                        }
                        if str_of(ev, "Type") == Some("SQS") {
                            let p = get(ev, "Properties").ok_or("SQS event without Properties")?;
                            let queue = get(p, "Queue")
                                .and_then(get_att_target)
                                .ok_or("SQS event without !GetAtt Queue.Arn")?;
                            let batch = get(p, "BatchSize").and_then(Value::as_u64).unwrap_or(10);
                            t.queue_sources.insert(
                                queue.to_string(),
                                QueueSource {
                                    function: id.clone(),
                                    batch_size: usize::try_from(batch).unwrap_or(10),
                                },
                            );
                            continue;
                        }
                        if str_of(ev, "Type") == Some("S3") {
                            let p = get(ev, "Properties").ok_or("S3 event without Properties")?;
                            let bucket = get(p, "Bucket")
                                .and_then(ref_target)
                                .ok_or("S3 event without !Ref Bucket")?;
                            let rule = |name: &str| {
                                get(p, "Filter")
                                    .and_then(|f| get(f, "S3Key"))
                                    .and_then(|k| get(k, "Rules"))
                                    .and_then(Value::as_sequence)
                                    .into_iter()
                                    .flatten()
                                    .find(|r| str_of(r, "Name") == Some(name))
                                    .and_then(|r| str_of(r, "Value"))
                                    .unwrap_or_default()
                                    .to_string()
                            };
                            t.bucket_sources.insert(
                                bucket.to_string(),
                                BucketSource {
                                    function: id.clone(),
                                    prefix: rule("prefix"),
                                    suffix: rule("suffix"),
                                },
                            );
                            continue;
                        }
                        if str_of(ev, "Type") == Some("Schedule") {
                            let expr = get(ev, "Properties")
                                .and_then(|p| str_of(p, "Schedule"))
                                .ok_or("Schedule event without Schedule")?;
                            // A time of day (the payout run's `cron(...)`) is not fired
                            // locally: `smartpit payouts run --date` and the sandbox's
                            // `POST /v1/test/payouts/run` run it on cue.
                            if expr.starts_with("cron(") {
                                continue;
                            }
                            let every_seconds = rate_seconds(expr)
                                .ok_or_else(|| format!("unsupported schedule {expr}"))?;
                            t.schedules.push(ScheduleSource {
                                function: id.clone(),
                                every_seconds,
                            });
                            continue;
                        }
                        if str_of(ev, "Type") != Some("HttpApi") {
                            continue;
                        }
                        let p = get(ev, "Properties").ok_or("HttpApi event without Properties")?;
                        t.routes.push(Route {
                            method: str_of(p, "Method")
                                .ok_or("route without Method")?
                                .to_uppercase(),
                            path: str_of(p, "Path").ok_or("route without Path")?.to_string(),
                            function: id.clone(),
                        });
                    }
                }
                Some("AWS::DynamoDB::Table") => {
                    t.tables.insert(id, props.cloned().unwrap_or(Value::Null));
                }
                Some("AWS::S3::Bucket") => t.buckets.push(id),
                Some("AWS::Serverless::LayerVersion") => {
                    if let Some(uri) = props.and_then(|p| str_of(p, "ContentUri")) {
                        t.layers.insert(id, uri.to_string());
                    }
                }
                Some("AWS::SQS::Queue") => {
                    let redrive = props.and_then(|p| get(p, "RedrivePolicy"));
                    let dead_letter = match redrive {
                        None => None,
                        Some(r) => Some((
                            get(r, "deadLetterTargetArn")
                                .and_then(get_att_target)
                                .ok_or("RedrivePolicy without !GetAtt deadLetterTargetArn")?
                                .to_string(),
                            get(r, "maxReceiveCount")
                                .and_then(Value::as_u64)
                                .ok_or("RedrivePolicy without maxReceiveCount")?,
                        )),
                    };
                    let visibility_seconds = props
                        .and_then(|p| get(p, "VisibilityTimeout"))
                        .and_then(Value::as_u64)
                        .unwrap_or(30);
                    t.queue_settings.insert(
                        id.clone(),
                        QueueSettings {
                            visibility_seconds,
                            dead_letter,
                        },
                    );
                    t.queues.push(id);
                }
                Some("AWS::KMS::Key") => t.kms_keys.push(id),
                _ => {}
            }
        }
        Ok(t)
    }

    /// The HTTP API's routes as API Gateway matches them: each to its index in `routes`.
    pub fn api_routes(&self) -> Result<Routes<usize>, matchit::InsertError> {
        let mut api = Routes::new();
        for (i, r) in self.routes.iter().enumerate() {
            let method = http::Method::from_bytes(r.method.as_bytes()).map_err(|_| {
                matchit::InsertError::Conflict {
                    with: format!("not a method: {}", r.method),
                }
            })?;
            api.try_add(method, &r.path, i)?;
        }
        Ok(api)
    }
}

/// The resource of a `!GetAtt Logical.Attribute`.
fn get_att_target(v: &Value) -> Option<&str> {
    match v {
        Value::Tagged(t) if t.tag == "!GetAtt" => t.value.as_str()?.split('.').next(),
        _ => None,
    }
}

/// The value of a `!Ref Logical` (or `{Ref: Logical}`) node, if it is one.
pub fn ref_target(v: &Value) -> Option<&str> {
    match v {
        Value::Tagged(t) if t.tag == "!Ref" || t.tag == "Ref" => t.value.as_str(),
        Value::Mapping(_) => str_of(v, "Ref"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smartpit_shared::routes::Miss;

    fn repo_template() -> Template {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        Template::load(&path).unwrap()
    }

    #[test]
    fn functions_say_how_they_are_built_and_run() {
        let t = repo_template();
        assert_eq!(t.functions.len(), t.function_env.len());
        let notify = &t.functions["NotifyFunction"];
        assert_eq!(notify.binary, "notify");
        assert_eq!((notify.timeout_seconds, notify.memory_mb), (60, 512));
        assert_eq!(notify.layers, ["SheetFontLayer"]);
        assert!(notify.reports_batch_failures);
        let invoices = &t.functions["InvoicesFunction"];
        // The globals' time-out and memory.
        assert_eq!((invoices.timeout_seconds, invoices.memory_mb), (10, 256));
        assert!(!invoices.reports_batch_failures);
        assert_eq!(t.layers["SheetFontLayer"], "../.build/font-layer");
    }

    #[test]
    fn template_routes_and_resources() {
        let t = repo_template();
        assert!(t
            .routes
            .iter()
            .any(|r| r.method == "POST" && r.path == "/v1/invoices"));
        assert!(t.tables.contains_key("MainTable"));
        assert!(t.tables.contains_key("NumbersTable"));
        let outbox = &t.streams["OutboxTable"];
        assert_eq!(outbox.function, "NotifyFunction");
        assert_eq!(outbox.batch_size, 10);
        assert!(outbox.bisect);
        assert!(outbox.max_retries > 0);
        assert_eq!(
            outbox.on_failure_queue.as_deref(),
            Some("NotifyFailuresQueue")
        );
        assert!(t.queues.iter().any(|q| q == "NotifyFailuresQueue"));
        let uploads = &t.queue_settings["UploadQueue"];
        assert_eq!(uploads.visibility_seconds, 180);
        assert_eq!(
            uploads.dead_letter,
            Some(("UploadFailuresQueue".to_string(), 5))
        );
        assert_eq!(t.queue_settings["WebhookQueue"].visibility_seconds, 60);
        assert_eq!(t.queue_settings["WebhookQueue"].dead_letter, None);
        assert_eq!(t.streams["EventsTable"].function, "WebhookDeliveryFunction");
        assert_eq!(
            t.queue_sources["WebhookQueue"].function,
            "WebhookDeliveryFunction"
        );
        assert!(t
            .schedules
            .iter()
            .any(|s| s.function == "WebhookDeliveryFunction" && s.every_seconds == 60));
        assert_eq!(rate_seconds("rate(5 minutes)"), Some(300));
        assert_eq!(rate_seconds("cron(0 * * * ? *)"), None);
        let settlement = &t.bucket_sources["SettlementsBucket"];
        assert_eq!(settlement.function, "SettlementFunction");
        assert_eq!(settlement.prefix, "settlements/");
        assert_eq!(settlement.suffix, ".csv");
        let env = &t.function_env["InvoicesFunction"];
        assert_eq!(ref_target(&env["MAIN_TABLE"]), Some("MainTable"));
        let api = t.api_routes().expect("routes");
        match api.find(&http::Method::POST, "/v1/invoices/inv_abc/cancel") {
            Ok(m) => {
                assert_eq!(t.routes[m.route].function, "InvoicesFunction");
                assert_eq!(m.param("id"), "inv_abc");
            }
            _ => panic!("no route"),
        }
        assert!(matches!(
            api.find(&http::Method::DELETE, "/v1/invoices"),
            Err(Miss::WrongMethod(m)) if m == [http::Method::GET, http::Method::POST]
        ));
        assert!(matches!(
            api.find(&http::Method::GET, "/nope"),
            Err(Miss::NotFound)
        ));
    }

    /// Durable data: every table and queue survives a stack deletion or replacement, every
    /// table has point-in-time recovery, deletion protection and encryption, every bucket blocks
    /// public access, encrypts and refuses plain HTTP, queues keep messages 14 days.
    #[test]
    fn data_is_durable() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let resources = get(&doc, "Resources").and_then(Value::as_mapping).unwrap();
        let of_type = |t: &str| -> Vec<(String, Value)> {
            resources
                .iter()
                .filter(|(_, r)| str_of(r, "Type") == Some(t))
                .map(|(k, r)| (k.as_str().unwrap_or_default().to_string(), r.clone()))
                .collect()
        };
        let prop = |r: &Value, path: &[&str]| -> Option<Value> {
            let mut v = get(r, "Properties")?.clone();
            for p in path {
                v = get(&v, p)?.clone();
            }
            Some(v)
        };
        let retained = |id: &str, r: &Value| {
            assert_eq!(str_of(r, "DeletionPolicy"), Some("Retain"), "{id}");
            assert_eq!(str_of(r, "UpdateReplacePolicy"), Some("Retain"), "{id}");
        };
        let tables = of_type("AWS::DynamoDB::Table");
        assert_eq!(tables.len(), 4);
        for (id, r) in &tables {
            retained(id, r);
            let yes = Some(Value::Bool(true));
            assert_eq!(
                prop(
                    r,
                    &[
                        "PointInTimeRecoverySpecification",
                        "PointInTimeRecoveryEnabled"
                    ]
                ),
                yes,
                "{id}"
            );
            assert_eq!(prop(r, &["DeletionProtectionEnabled"]), yes, "{id}");
            assert_eq!(prop(r, &["SSESpecification", "SSEEnabled"]), yes, "{id}");
        }
        for (id, r) in of_type("AWS::SQS::Queue") {
            retained(&id, &r);
            assert_eq!(
                prop(&r, &["MessageRetentionPeriod"]).and_then(|v| v.as_u64()),
                Some(1_209_600),
                "{id}"
            );
        }
        let policies = of_type("AWS::S3::BucketPolicy");
        for (id, r) in of_type("AWS::S3::Bucket") {
            retained(&id, &r);
            let block = prop(&r, &["PublicAccessBlockConfiguration"]).unwrap();
            for k in [
                "BlockPublicAcls",
                "BlockPublicPolicy",
                "IgnorePublicAcls",
                "RestrictPublicBuckets",
            ] {
                assert_eq!(get(&block, k), Some(&Value::Bool(true)), "{id}.{k}");
            }
            assert!(prop(&r, &["BucketEncryption"]).is_some(), "{id}");
            let tls_only = policies.iter().any(|(_, p)| {
                prop(p, &["Bucket"]).as_ref().and_then(ref_target) == Some(id.as_str())
                    && serde_yaml::to_string(p)
                        .unwrap()
                        .contains("aws:SecureTransport")
            });
            assert!(tls_only, "{id} has no TLS-only bucket policy");
        }
    }

    /// Every alarm names its runbook entry, and the entry exists.
    #[test]
    fn every_alarm_has_a_runbook() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let text = std::fs::read_to_string(root.join("infra/template.yaml")).unwrap();
        let doc: Value = serde_yaml::from_str(&text).unwrap();
        let ops = std::fs::read_to_string(root.join("docs/OPERATIONS.md")).unwrap();
        let anchors: Vec<String> = ops
            .lines()
            .filter_map(|l| l.strip_prefix("### "))
            .map(|h| h.trim().to_lowercase().replace(' ', "-"))
            .collect();
        let resources = get(&doc, "Resources").and_then(Value::as_mapping).unwrap();
        let mut alarms = 0;
        for (id, r) in resources {
            if str_of(r, "Type") != Some("AWS::CloudWatch::Alarm") {
                continue;
            }
            alarms += 1;
            let desc = get(r, "Properties")
                .and_then(|p| str_of(p, "AlarmDescription"))
                .unwrap_or("");
            let anchor = desc
                .strip_prefix("runbook: docs/OPERATIONS.md#")
                .unwrap_or("");
            assert!(
                anchors.iter().any(|a| a == anchor),
                "{id:?}: no runbook entry {anchor:?}"
            );
        }
        assert!(alarms >= 20, "{alarms} alarms");
    }
}
