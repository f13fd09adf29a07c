//! Lambda, locally: every function of the template runs as its own processes, started from the
//! binary cargo builds for it (the one `sam build` packs as `bootstrap`), with the environment
//! the template gives it, pulling its invocations from the documented Lambda Runtime API
//! (`/2018-06-01/runtime/invocation/next`, `/response`, `/error`) that this module serves.
//!
//! Each instance (one process at a time) gets a port of its own. On it the instance finds its
//! Runtime API (`AWS_LAMBDA_RUNTIME_API`) and its AWS endpoint (`AWS_ENDPOINT_URL`): every AWS
//! call the function makes goes through here to the emulator, so the stack knows which
//! invocation made it (an instance runs one invocation at a time, as on Lambda), counts it for
//! the tests' round trips and checks it against the function's role (`crate::iam`), outside
//! the function's process as AWS does.
//!
//! As Lambda does: an instance is started when an invocation finds none idle (up to a
//! function's limit), one that dies is started again (its invocation fails), one that runs past
//! the template's time-out is killed (its invocation fails with `Sandbox.Timedout`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};

/// Lambda refuses a synchronous response larger than this (`Function.ResponseSizeTooLarge`).
const MAX_RESPONSE: usize = 6 * 1024 * 1024;
/// The largest AWS request a function may send through the stack (an S3 put of a file).
const MAX_AWS_REQUEST: usize = 64 * 1024 * 1024;
/// How long an AWS call may take through the stack before it gives up (the function's own
/// client gives up sooner: its profiles in shared/src/timeouts.rs).
const AWS_CALL_LIMIT: Duration = Duration::from_secs(120);
/// How long an invocation may wait for an instance to take it (one that never starts: a
/// binary that dies at start-up).
const QUEUE_LIMIT: Duration = Duration::from_secs(30);

/// How the stack runs one function.
#[derive(Clone)]
pub struct FunctionConfig {
    /// The template's logical id (also the function's name here).
    pub name: String,
    pub binary: PathBuf,
    /// The whole environment of its processes: the template's variables resolved, Lambda's
    /// reserved variables, the local credentials. Nothing else of the stack's own leaks in.
    pub env: BTreeMap<String, String>,
    pub timeout: Duration,
    /// Instances started with the stack, and the most that may run at once.
    pub min_instances: usize,
    pub max_instances: usize,
    /// Checks each AWS call against the function's role before it is sent.
    pub guard: Option<crate::iam::Guard>,
    /// Where the instances' AWS calls go (the emulator).
    pub upstream: String,
    /// Where the instances' log lines go (stdout and stderr, prefixed with the function).
    pub logs: Logs,
}

/// Where function processes' output goes.
#[derive(Clone, Debug)]
pub enum Logs {
    /// The stack's stderr (`make dev`).
    Stderr,
    /// A file per function in this folder (the tests: read it when a test fails).
    Folder(PathBuf),
}

impl Logs {
    /// A line of the stack's own about a function (a process ended, an invocation failed).
    pub fn note(&self, function: &str, line: &str) {
        match self {
            Logs::Stderr => eprintln!("{function} [stack] {line}"),
            Logs::Folder(dir) => {
                use std::io::Write;
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join(format!("{function}.log")))
                {
                    let _ = writeln!(f, "{function} [stack] {line}");
                }
            }
        }
    }
}

/// How an invocation ended, as the caller sees it.
#[derive(Debug)]
pub struct Invoked {
    /// The function's response, or its error (`errorType: errorMessage`).
    pub result: Result<Vec<u8>, String>,
    /// The AWS calls it made, in order (`DynamoDB:GetItem`, …).
    pub calls: Vec<String>,
}

struct Invocation {
    id: String,
    payload: Vec<u8>,
    reply: oneshot::Sender<Invoked>,
}

/// One invocation an instance is running.
struct InFlight {
    id: String,
    reply: oneshot::Sender<Invoked>,
    calls: Vec<String>,
}

struct Instance {
    number: usize,
    port: u16,
    current: Mutex<Option<InFlight>>,
    /// Bumped each time the instance's process is started: a `/next` from an earlier process
    /// (still pending when it died) gives its invocation back.
    generation: AtomicU64,
    died: Notify,
    kill: Notify,
    /// Asked to end once it is between invocations (`Functions::restart`).
    retire: std::sync::atomic::AtomicBool,
    retire_now: Notify,
    pid: Mutex<Option<u32>>,
}

/// One function's instances and the invocations waiting for one.
pub struct Pool {
    config: FunctionConfig,
    dispatch: Mutex<Dispatch>,
    instances: Mutex<Vec<Arc<Instance>>>,
    client: reqwest::Client,
}

/// Idle instances (each waiting in `/next`) and invocations no instance has taken yet. Like
/// Lambda, an invocation goes to the instance that became idle last (a warm one keeps its
/// caches), and a new instance starts only when an invocation has waited.
#[derive(Default)]
struct Dispatch {
    idle: Vec<oneshot::Sender<Invocation>>,
    backlog: std::collections::VecDeque<Invocation>,
}

/// A function process the stack started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub function: String,
    pub instance: usize,
    pub pid: u32,
    pub binary: PathBuf,
}

/// Every function of the stack, by logical id.
#[derive(Clone, Default)]
pub struct Functions {
    pools: BTreeMap<String, Arc<Pool>>,
}

impl Functions {
    /// Starts each function's first instances and waits until each has asked for its first
    /// invocation (its `main` ran: configuration read, clients built), or says why not.
    pub async fn start(configs: Vec<FunctionConfig>) -> Result<Functions, String> {
        let mut pools = BTreeMap::new();
        for config in configs {
            if !config.binary.is_file() {
                return Err(format!(
                    "{}: no binary at {} (make dev and make test build them: cargo build --bins)",
                    config.name,
                    config.binary.display()
                ));
            }
            if let Logs::Folder(dir) = &config.logs {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            let client = reqwest::Client::builder()
                .timeout(AWS_CALL_LIMIT)
                .connect_timeout(Duration::from_secs(5))
                .build()
                .map_err(|e| e.to_string())?;
            let pool = Arc::new(Pool {
                config,
                dispatch: Mutex::new(Dispatch::default()),
                instances: Mutex::new(Vec::new()),
                client,
            });
            for _ in 0..pool.config.min_instances.max(1) {
                pool.clone().add_instance().await?;
            }
            pools.insert(pool.config.name.clone(), pool);
        }
        let functions = Functions { pools };
        // Every first instance reached `/next`: its configuration was good.
        let ready = async {
            loop {
                let starting: Vec<&str> = functions
                    .pools
                    .values()
                    .filter(|p| p.idle_count() == 0)
                    .map(|p| p.config.name.as_str())
                    .collect();
                if starting.is_empty() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(30), ready)
            .await
            .is_err()
        {
            let stuck: Vec<&str> = functions
                .pools
                .values()
                .filter(|p| p.idle_count() == 0)
                .map(|p| p.config.name.as_str())
                .collect();
            return Err(format!(
                "these functions did not ask for an invocation within 30 s (see their logs): {}",
                stuck.join(", ")
            ));
        }
        Ok(functions)
    }

    /// Invokes `function` with `payload` (the event's JSON), as Lambda's synchronous invoke.
    pub async fn invoke(&self, function: &str, payload: Vec<u8>) -> Invoked {
        match self.pools.get(function) {
            Some(pool) => pool.clone().invoke(payload).await,
            None => Invoked {
                result: Err(format!("ResourceNotFoundException: no function {function}")),
                calls: Vec::new(),
            },
        }
    }

    /// The processes running now, by function and instance.
    pub fn processes(&self) -> Vec<Process> {
        let mut out = Vec::new();
        for pool in self.pools.values() {
            let instances = pool.instances.lock().map(|l| l.clone()).unwrap_or_default();
            for i in instances {
                if let Some(pid) = i.pid.lock().ok().and_then(|p| *p) {
                    out.push(Process {
                        function: pool.config.name.clone(),
                        instance: i.number,
                        pid,
                        binary: pool.config.binary.clone(),
                    });
                }
            }
        }
        out
    }

    /// Ends every process of `function` once it is between invocations and waits until their
    /// replacements ask for work: a cold start of each instance, as after a deploy (caches,
    /// such as keys trusted for 60 s, are gone).
    pub async fn restart(&self, function: &str) -> Result<(), String> {
        let pool = self
            .pools
            .get(function)
            .ok_or_else(|| format!("no function {function}"))?;
        let before: Vec<(Arc<Instance>, u64)> = pool
            .instances
            .lock()
            .map(|l| {
                l.iter()
                    .map(|i| (i.clone(), i.generation.load(Ordering::SeqCst)))
                    .collect()
            })
            .unwrap_or_default();
        // Each ends when it is between invocations: nobody's request is cut off.
        for (i, _) in &before {
            i.retire.store(true, Ordering::SeqCst);
            i.retire_now.notify_waiters();
        }
        let replaced = async {
            while before
                .iter()
                .any(|(i, g)| i.generation.load(Ordering::SeqCst) == *g)
                || pool.idle_count() < before.len()
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), replaced)
            .await
            .map_err(|_| format!("{function} did not start again within 30 s"))
    }

    /// A line of the stack's own in `function`'s log.
    pub fn note(&self, function: &str, line: &str) {
        if let Some(p) = self.pools.get(function) {
            p.config.logs.note(function, line);
        }
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pools.keys().map(String::as_str)
    }
}

impl Pool {
    fn idle_count(&self) -> usize {
        self.dispatch
            .lock()
            .map(|d| d.idle.iter().filter(|s| !s.is_closed()).count())
            .unwrap_or(0)
    }

    /// Hands the invocation to the instance idle last, or leaves it for the next to ask.
    /// `true` when no instance took it.
    fn hand_over(&self, mut invocation: Invocation) -> bool {
        let Ok(mut d) = self.dispatch.lock() else {
            return false;
        };
        while let Some(instance) = d.idle.pop() {
            match instance.send(invocation) {
                Ok(()) => return false,
                // That instance's `/next` went away (its process died): the next one.
                Err(back) => invocation = back,
            }
        }
        d.backlog.push_back(invocation);
        true
    }

    async fn invoke(self: Arc<Self>, payload: Vec<u8>) -> Invoked {
        let invoked = self.clone().invoke_once(payload).await;
        if let Err(e) = &invoked.result {
            self.config
                .logs
                .note(&self.config.name, &format!("invocation failed: {e}"));
        }
        invoked
    }

    async fn invoke_once(self: Arc<Self>, payload: Vec<u8>) -> Invoked {
        let (reply, answer) = oneshot::channel();
        let id = request_id();
        let waiting = self.hand_over(Invocation {
            id: id.clone(),
            payload,
            reply,
        });
        if waiting {
            // Still waiting a moment later (no instance came back for it): start one more, as
            // Lambda scales out, up to the function's limit.
            let pool = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(25)).await;
                let still = pool
                    .dispatch
                    .lock()
                    .map(|d| d.backlog.iter().any(|i| i.id == id))
                    .unwrap_or(false);
                if still {
                    if let Err(e) = pool.clone().add_instance().await {
                        tracing::warn!(function = %pool.config.name, error = %e, "no new instance");
                    }
                }
            });
        }
        let limit = QUEUE_LIMIT + self.config.timeout + Duration::from_secs(5);
        match tokio::time::timeout(limit, answer).await {
            Ok(Ok(invoked)) => invoked,
            Ok(Err(_)) => failed("the invocation was lost"),
            Err(_) => failed("no instance took the invocation"),
        }
    }

    /// One more instance, unless the function already has its most (checked under the list's
    /// lock: invocations waiting at once each ask, and only so many may start).
    async fn add_instance(self: Arc<Self>) -> Result<(), String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let instance = {
            let mut list = self.instances.lock().map_err(|_| "poisoned")?;
            if list.len() >= self.config.max_instances.max(self.config.min_instances) {
                return Ok(());
            }
            let i = Arc::new(Instance {
                number: list.len(),
                port,
                current: Mutex::new(None),
                generation: AtomicU64::new(0),
                died: Notify::new(),
                kill: Notify::new(),
                retire: std::sync::atomic::AtomicBool::new(false),
                retire_now: Notify::new(),
                pid: Mutex::new(None),
            });
            list.push(i.clone());
            i
        };
        tokio::spawn(serve(listener, self.clone(), instance.clone()));
        tokio::spawn(supervise(self, instance));
        Ok(())
    }

    /// `GET …/invocation/next`: the next invocation, when one comes.
    async fn next(&self, instance: &Arc<Instance>) -> hyper::Response<Full<Bytes>> {
        let generation = instance.generation.load(Ordering::SeqCst);
        // Between invocations: the moment a retiring instance ends.
        if instance.retire.swap(false, Ordering::SeqCst) {
            instance.kill.notify_one();
            return plain(410, "instance retired");
        }
        let (tx, mut rx) = oneshot::channel();
        let waiting = match self.dispatch.lock() {
            Ok(mut d) => match d.backlog.pop_front() {
                Some(invocation) => Ok(invocation),
                None => {
                    d.idle.push(tx);
                    Err(())
                }
            },
            Err(_) => return plain(500, "poisoned"),
        };
        let invocation = match waiting {
            Ok(invocation) => invocation,
            Err(()) => {
                let died = instance.died.notified();
                let retire = instance.retire_now.notified();
                let gone = tokio::select! {
                    got = &mut rx => match got {
                        Ok(invocation) => Ok(invocation),
                        Err(_) => Err("instance gone"),
                    },
                    _ = died => Err("instance gone"),
                    _ = retire => Err("instance retired"),
                };
                match gone {
                    Ok(invocation) => invocation,
                    Err(why) => {
                        // Nothing more may be handed to it; one handed over just now goes on.
                        rx.close();
                        if let Ok(invocation) = rx.try_recv() {
                            self.hand_over(invocation);
                        }
                        if instance.retire.swap(false, Ordering::SeqCst) {
                            instance.kill.notify_one();
                        }
                        return plain(410, why);
                    }
                }
            }
        };
        if instance.generation.load(Ordering::SeqCst) != generation {
            // Asked for by a process that has died since: the invocation goes to another.
            self.hand_over(invocation);
            return plain(410, "instance gone");
        }
        let deadline = chrono::Utc::now()
            + chrono::Duration::from_std(self.config.timeout).unwrap_or_default();
        let id = invocation.id.clone();
        if let Ok(mut current) = instance.current.lock() {
            *current = Some(InFlight {
                id: id.clone(),
                reply: invocation.reply,
                calls: Vec::new(),
            });
        }
        // The time-out: the instance is killed and the invocation fails, as Lambda does.
        {
            let instance = instance.clone();
            let timeout = self.config.timeout;
            let name = self.config.name.clone();
            let logs = self.config.logs.clone();
            let id = id.clone();
            tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                let timed_out = instance
                    .current
                    .lock()
                    .ok()
                    .and_then(|mut c| match c.as_ref() {
                        Some(f) if f.id == id => c.take(),
                        _ => None,
                    });
                if let Some(f) = timed_out {
                    logs.note(&name, &format!("{id} timed out: instance killed"));
                    let _ = f.reply.send(Invoked {
                        result: Err(format!(
                            "Sandbox.Timedout: Task timed out after {:.2} seconds",
                            timeout.as_secs_f64()
                        )),
                        calls: f.calls,
                    });
                    instance.kill.notify_one();
                }
            });
        }
        let arn = format!(
            "arn:aws:lambda:{}:{}:function:{}",
            crate::stack::LOCAL_REGION,
            crate::provision::LOCAL_ACCOUNT,
            self.config.name
        );
        let mut resp = hyper::Response::new(Full::new(Bytes::from(invocation.payload)));
        let headers = resp.headers_mut();
        for (name, value) in [
            ("lambda-runtime-aws-request-id", id),
            (
                "lambda-runtime-deadline-ms",
                deadline.timestamp_millis().to_string(),
            ),
            ("lambda-runtime-invoked-function-arn", arn),
            (
                "lambda-runtime-trace-id",
                format!(
                    "Root=1-{:08x}-{};Parent={};Sampled=0",
                    chrono::Utc::now().timestamp(),
                    hex(&smartpit_shared::ids::random_bytes::<12>()),
                    hex(&smartpit_shared::ids::random_bytes::<8>())
                ),
            ),
            ("content-type", "application/json".into()),
        ] {
            if let Ok(v) = hyper::header::HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
        resp
    }

    /// `POST …/invocation/{id}/response` or `/error`.
    fn finish(
        &self,
        instance: &Instance,
        id: &str,
        result: Result<Vec<u8>, String>,
    ) -> hyper::Response<Full<Bytes>> {
        let done = instance
            .current
            .lock()
            .ok()
            .and_then(|mut c| match c.as_ref() {
                Some(f) if f.id == id => c.take(),
                _ => None,
            });
        let Some(f) = done else {
            // Timed out already, or never given: Lambda's answer to a stale id.
            return plain(400, r#"{"errorType":"InvalidRequestID"}"#);
        };
        let _ = f.reply.send(Invoked {
            result,
            calls: f.calls,
        });
        plain(202, r#"{"status":"OK"}"#)
    }

    /// An AWS call of an instance: named, checked against the role, counted, sent on.
    async fn proxy(
        &self,
        instance: &Instance,
        parts: http::request::Parts,
        body: Bytes,
    ) -> hyper::Response<Full<Bytes>> {
        let (service, operation) = aws_operation(&parts, &body);
        if let Some(guard) = &self.config.guard {
            if let Err(why) = guard(&service, &operation, &body) {
                tracing::error!(function = %self.config.name, %why, "call refused");
                let body = serde_json::json!({
                    "__type": "com.amazon.coral.service#AccessDeniedException",
                    "message": why,
                });
                let mut resp = plain(400, &body.to_string());
                resp.headers_mut().insert(
                    "content-type",
                    hyper::header::HeaderValue::from_static("application/x-amz-json-1.0"),
                );
                return resp;
            }
        }
        if let Ok(mut current) = instance.current.lock() {
            if let Some(f) = current.as_mut() {
                f.calls.push(format!("{service}:{operation}"));
            }
        }
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let url = format!("{}{path}", self.config.upstream);
        let mut req = self.client.request(parts.method.clone(), url);
        for (name, value) in &parts.headers {
            if !hop_by_hop(name.as_str()) {
                req = req.header(name, value);
            }
        }
        match req.body(body).send().await {
            Ok(resp) => {
                let mut out = hyper::Response::builder().status(resp.status());
                for (name, value) in resp.headers() {
                    if !hop_by_hop(name.as_str()) {
                        out = out.header(name, value);
                    }
                }
                let bytes = resp.bytes().await.unwrap_or_default();
                out.body(Full::new(bytes))
                    .unwrap_or_else(|_| plain(502, "bad answer from the emulator"))
            }
            Err(e) => {
                tracing::warn!(function = %self.config.name, error = %e, "emulator call failed");
                plain(504, "the local AWS endpoint did not answer")
            }
        }
    }
}

fn failed(why: &str) -> Invoked {
    Invoked {
        result: Err(format!("ServiceException: {why}")),
        calls: Vec::new(),
    }
}

fn hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "host" | "connection" | "keep-alive" | "transfer-encoding" | "content-length" | "upgrade"
    )
}

fn plain(status: u16, text: &str) -> hyper::Response<Full<Bytes>> {
    let mut resp = hyper::Response::new(Full::new(Bytes::from(text.to_string())));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    resp
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A request id in Lambda's form (a UUID v4).
fn request_id() -> String {
    let mut b = smartpit_shared::ids::random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The service and operation of an AWS request, as the SDK names them: the JSON protocols say
/// it in `X-Amz-Target`; S3 and SES v2 (REST) by method and path.
pub fn aws_operation(parts: &http::request::Parts, _body: &[u8]) -> (String, String) {
    if let Some(target) = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        let (prefix, op) = target.split_once('.').unwrap_or((target, ""));
        let service = match prefix {
            p if p.starts_with("DynamoDBStreams") => "DynamoDBStreams",
            p if p.starts_with("DynamoDB") => "DynamoDB",
            "AmazonSQS" => "SQS",
            "TrentService" => "KMS",
            other => other,
        };
        return (service.to_string(), op.to_string());
    }
    let path = parts.uri.path();
    let method = parts.method.as_str();
    if let Some(rest) = path.strip_prefix("/v2/email/") {
        let op = match (method, rest.split('/').next().unwrap_or_default()) {
            ("POST", "outbound-emails") => "SendEmail",
            ("GET", "identities") => "GetEmailIdentity",
            ("POST", "identities") => "CreateEmailIdentity",
            ("PUT", "suppression") => "PutSuppressedDestination",
            ("GET", "suppression") => "GetSuppressedDestination",
            _ => method,
        };
        return ("SESv2".into(), op.into());
    }
    let query = parts.uri.query().unwrap_or_default();
    let has_key = path.trim_start_matches('/').contains('/');
    let op = match (method, has_key) {
        ("PUT", true) if parts.headers.contains_key("x-amz-copy-source") => "CopyObject",
        ("PUT", true) => "PutObject",
        ("GET", true) => "GetObject",
        ("HEAD", true) => "HeadObject",
        ("DELETE", true) => "DeleteObject",
        ("GET", false) if query.contains("list-type=2") => "ListObjectsV2",
        ("GET", false) => "ListObjects",
        ("POST", false) if query.contains("delete") => "DeleteObjects",
        ("PUT", false) => "CreateBucket",
        _ => method,
    };
    ("S3".into(), op.into())
}

/// One instance's port: its Runtime API and its AWS endpoint.
async fn serve(listener: TcpListener, pool: Arc<Pool>, instance: Arc<Instance>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let pool = pool.clone();
        let instance = instance.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<Incoming>| {
                let pool = pool.clone();
                let instance = instance.clone();
                async move { Ok::<_, Infallible>(route(&pool, &instance, req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn route(
    pool: &Pool,
    instance: &Arc<Instance>,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let limit = if parts.uri.path().starts_with("/2018-06-01/") {
        MAX_RESPONSE + 1
    } else {
        MAX_AWS_REQUEST
    };
    let body = match Limited::new(body, limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) if parts.uri.path().ends_with("/response") => {
            let id = parts.uri.path().split('/').nth(4).unwrap_or_default();
            return pool.finish(
                instance,
                id,
                Err("Function.ResponseSizeTooLarge: Response payload size exceeded maximum allowed payload size (6291556 bytes).".into()),
            );
        }
        Err(_) => return plain(413, "too large"),
    };
    let path = parts.uri.path().to_string();
    let Some(runtime) = path.strip_prefix("/2018-06-01/runtime/") else {
        return pool.proxy(instance, parts, body).await;
    };
    let segments: Vec<&str> = runtime.split('/').collect();
    match (parts.method.as_str(), segments.as_slice()) {
        ("GET", ["invocation", "next"]) => pool.next(instance).await,
        ("POST", ["invocation", id, "response"]) => pool.finish(instance, id, Ok(body.to_vec())),
        ("POST", ["invocation", id, "error"]) => {
            let error: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let text = format!(
                "{}: {}",
                error["errorType"].as_str().unwrap_or("Unhandled"),
                error["errorMessage"].as_str().unwrap_or_default()
            );
            pool.finish(instance, id, Err(text))
        }
        ("POST", ["init", "error"]) => {
            tracing::error!(function = %pool.config.name, error = %String::from_utf8_lossy(&body), "init error");
            plain(202, r#"{"status":"OK"}"#)
        }
        _ => plain(404, "not a Runtime API path"),
    }
}

/// Runs the instance's process, again and again: Lambda starts a new one when one dies.
async fn supervise(pool: Arc<Pool>, instance: Arc<Instance>) {
    let name = pool.config.name.clone();
    let mut quick_deaths = 0u32;
    loop {
        instance.generation.fetch_add(1, Ordering::SeqCst);
        let started = std::time::Instant::now();
        let mut command = tokio::process::Command::new(&pool.config.binary);
        command
            .env_clear()
            .envs(&pool.config.env)
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("127.0.0.1:{}", instance.port),
            )
            .env(
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", instance.port),
            )
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("local/[$LATEST]{}", instance.number),
            )
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = match command.spawn() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(function = %name, error = %e, "cannot start");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Ok(mut pid) = instance.pid.lock() {
            *pid = child.id();
        }
        let label = format!("{name}#{}", instance.number);
        if let Some(out) = child.stdout.take() {
            tokio::spawn(forward(out, label.clone(), pool.config.logs.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(forward(err, label.clone(), pool.config.logs.clone()));
        }
        let status = tokio::select! {
            s = child.wait() => s.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()),
            _ = instance.kill.notified() => {
                let _ = child.kill().await;
                "killed".to_string()
            }
        };
        if let Ok(mut pid) = instance.pid.lock() {
            *pid = None;
        }
        // What it was running fails, as Lambda's `Runtime.ExitError`.
        let lost = instance.current.lock().ok().and_then(|mut c| c.take());
        if let Some(f) = lost {
            let _ = f.reply.send(Invoked {
                result: Err(format!("Runtime.ExitError: the process exited: {status}")),
                calls: f.calls,
            });
        }
        instance.died.notify_waiters();
        pool.config.logs.note(
            &label,
            &format!("process ended ({status}); starting another"),
        );
        // A binary that dies at start-up is not started in a tight loop.
        quick_deaths = if started.elapsed() < Duration::from_secs(2) {
            quick_deaths + 1
        } else {
            0
        };
        let pause = 100u64 << quick_deaths.min(6);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

async fn forward<R: tokio::io::AsyncRead + Unpin>(from: R, label: String, to: Logs) {
    let mut lines = BufReader::new(from).lines();
    let mut file = match &to {
        Logs::Folder(dir) => {
            let function = label.split('#').next().unwrap_or(&label);
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(format!("{function}.log")))
                .ok()
        }
        Logs::Stderr => None,
    };
    while let Ok(Some(line)) = lines.next_line().await {
        match file.as_mut() {
            Some(f) => {
                use std::io::Write;
                let _ = writeln!(f, "{label} {line}");
            }
            None => eprintln!("{label} {line}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, uri: &str, target: Option<&str>) -> http::request::Parts {
        let mut b = http::Request::builder().method(method).uri(uri);
        if let Some(t) = target {
            b = b.header("x-amz-target", t);
        }
        b.body(()).map(|r| r.into_parts().0).expect("request")
    }

    #[test]
    fn aws_calls_are_named_as_the_sdk_names_them() {
        let name = |m, u, t| aws_operation(&parts(m, u, t), b"");
        let pair = |s: &str, o: &str| (s.to_string(), o.to_string());
        assert_eq!(
            name("POST", "/", Some("DynamoDB_20120810.TransactWriteItems")),
            pair("DynamoDB", "TransactWriteItems")
        );
        assert_eq!(
            name("POST", "/", Some("AmazonSQS.SendMessage")),
            pair("SQS", "SendMessage")
        );
        assert_eq!(
            name("POST", "/v2/email/outbound-emails", None),
            pair("SESv2", "SendEmail")
        );
        assert_eq!(
            name("PUT", "/sheets/inv_1/sheet.pdf", None),
            pair("S3", "PutObject")
        );
        assert_eq!(
            name("GET", "/settlements?list-type=2&prefix=in/", None),
            pair("S3", "ListObjectsV2")
        );
    }

    #[test]
    fn request_ids_are_uuids() {
        let id = request_id();
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(&id[14..15], "4");
    }
}
