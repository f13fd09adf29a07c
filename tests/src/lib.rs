//! The harness: one local stack per test binary (its own emulator on a free port, the
//! template's tables, the demo data, the API on a free port), shared by the binary's tests.

pub mod bills;
pub mod browser;
pub mod operator;
pub mod pdf;
pub mod receiver;

use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use serde_json::Value;
use smartpit_local::stack::{repo_root, Seeded, Stack};
use smartpit_shared::db::item::{key, Item};
use smartpit_shared::issuance::{issue_one, Template};
use smartpit_shared::{Db, NumberKind, SmartPitNumber};

pub struct TestStack {
    pub api: String,
    pub endpoint: String,
    /// The emulator's process id.
    pub emulator_pid: Option<u32>,
    pub seeded: Seeded,
    pub stack: Stack,
    /// Every function of the template, running as its own processes.
    pub functions: smartpit_local::runtime::Functions,
    /// Where the function processes' output goes (a file per function).
    pub function_logs: std::path::PathBuf,
}

static STACK: OnceLock<TestStack> = OnceLock::new();

/// The binary's stack, started on first use on a runtime of its own that lives as long as the
/// process; the emulator exits when the process does.
pub fn stack() -> &'static TestStack {
    STACK.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => panic!("runtime: {e}"),
            };
            rt.block_on(async move {
                let repo = repo_root().expect("repository");
                let api = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                // Each function's processes write to a file of their own, read when a test
                // fails: target/function-logs/<test binary>/<function>.log, afresh each run.
                let binary = std::env::current_exe()
                    .ok()
                    .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                    .unwrap_or_default();
                let binary = binary.split('-').next().unwrap_or("tests").to_string();
                let logs = repo.join("target/function-logs").join(binary);
                let _ = std::fs::remove_dir_all(&logs);
                let running = smartpit_local::stack::start(
                    &repo,
                    smartpit_local::stack::Options {
                        api: Some(api),
                        emulator_port: 0,
                        emulator_log: None,
                        logs: smartpit_local::runtime::Logs::Folder(logs.clone()),
                    },
                )
                .await
                .unwrap_or_else(|e| panic!("the local stack did not start: {e}"));
                tx.send(TestStack {
                    api: running.api_url.clone(),
                    endpoint: running.emulator.endpoint.clone(),
                    emulator_pid: running.emulator.pid,
                    seeded: running.seeded.clone(),
                    stack: Stack::new(&repo, &running.emulator.endpoint, &running.api_url)
                        .expect("template"),
                    functions: running.functions.clone(),
                    function_logs: logs,
                })
                .expect("send");
                // Keep the emulator, the functions and the server alive for the life of the
                // process.
                let _running = running;
                std::future::pending::<()>().await;
            });
        });
        rx.recv().expect("stack did not start")
    })
}

/// Freezes the emulator (SIGSTOP): it keeps accepting connections and never answers, as a hung
/// dependency does. Thawed (SIGCONT) when the guard drops, even if the test fails.
pub struct Frozen(u32);

impl Frozen {
    pub fn new(s: &TestStack) -> Frozen {
        let pid = s.emulator_pid.expect("emulator pid");
        signal("-STOP", pid);
        Frozen(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal("-CONT", self.0);
    }
}

fn signal(sig: &str, pid: u32) {
    let ok = std::process::Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid}");
}

impl TestStack {
    /// AWS configuration for a test's own clients: the emulator, with an HTTP client of its
    /// own. (The stack's handlers run on the stack's runtime; pooled connections opened on a
    /// test's runtime die with it, so tests never share the stack's client.)
    pub fn sdk(&self) -> aws_config::SdkConfig {
        smartpit_local::stack::local_sdk_config(&self.endpoint)
    }

    pub fn db(&self) -> Db {
        Db::with_profile(
            &self.sdk(),
            self.stack
                .resources_of("InvoicesFunction")
                .expect("resources"),
            smartpit_shared::timeouts::OPERATOR,
        )
    }

    pub fn ddb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk())
    }

    pub fn main_table(&self) -> String {
        self.db().res.main_table
    }

    pub fn merchant_key(&self, i: usize) -> &str {
        &self.seeded.merchants[i].api_key
    }

    pub fn merchant_id(&self, i: usize) -> &str {
        &self.seeded.merchants[i].id
    }

    pub fn chain_key(&self, chain: &str) -> &str {
        &self.seeded.store_chains[chain]
    }

    /// A new generic card number, stored as the operator's batch would store it.
    pub async fn fresh_card(&self) -> SmartPitNumber {
        let t = Template {
            kind: NumberKind::Card,
            merchant_id: None,
            expires_at: None,
        };
        issue_one(&self.db(), &t, None, Utc::now())
            .await
            .expect("issue card")
            .number
    }

    /// A raw item of the main table, read strongly consistently.
    pub async fn item(&self, pk: &str, sk: &str) -> Option<Item> {
        self.ddb()
            .get_item()
            .table_name(self.main_table())
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .expect("get item")
            .item()
            .cloned()
    }

    /// The outbox record of an invoice, read strongly consistently.
    pub async fn outbox(&self, invoice_id: &str) -> Option<Item> {
        self.ddb()
            .get_item()
            .table_name(self.db().res.outbox_table)
            .key(
                "id",
                AttributeValue::S(format!("invoice_registered#{invoice_id}")),
            )
            .consistent_read(true)
            .send()
            .await
            .expect("outbox")
            .item()
            .cloned()
    }

    /// Every item of a number's partition (its invoices).
    pub async fn number_partition(&self, n: &str) -> Vec<Item> {
        self.ddb()
            .query()
            .table_name(self.main_table())
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("NUM#{n}")))
            .consistent_read(true)
            .send()
            .await
            .expect("query")
            .items()
            .to_vec()
    }

    /// Every mail the emulator's SES has accepted, each with its parts (`text`, `html`, and
    /// `body`: the HTML part, or the text where there is none), read back from moto's data API.
    pub async fn sent_mail(&self) -> Vec<Value> {
        smartpit_cli::mail::sent(&self.endpoint)
            .await
            .expect("moto data")
    }

    /// The mails sent to `to`, waiting up to `secs` for at least `count` of them.
    pub async fn mail_to(&self, to: &str, count: usize, secs: u64) -> Vec<Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let found: Vec<Value> = self
                .sent_mail()
                .await
                .into_iter()
                .filter(|m| {
                    m["destinations"]["ToAddresses"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x == to))
                })
                .collect();
            if found.len() >= count || std::time::Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn client(&self) -> Client {
        Client {
            api: self.api.clone(),
            http: reqwest::Client::new(),
        }
    }

    /// An API of the test's own in front of new processes of `functions`, their environment
    /// changed as `env` says (a setting the template fixes otherwise), as a deploy with that
    /// setting would run them: one instance each. Lives as long as the test's runtime.
    pub async fn api_with(&self, functions: &[&str], env: &[(&str, &str)]) -> Client {
        let started = self.functions_with(functions, env).await;
        let router = std::sync::Arc::new(smartpit_local::server::Router::new(
            self.stack.template.clone(),
            started,
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let api = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(smartpit_local::server::serve(listener, router));
        Client {
            api,
            http: reqwest::Client::new(),
        }
    }

    /// New processes of `functions` (one instance each), their environment changed as `env`
    /// says; an empty value removes the variable. Live as long as the test's runtime.
    pub async fn functions_with(
        &self,
        functions: &[&str],
        env: &[(&str, &str)],
    ) -> smartpit_local::runtime::Functions {
        let configs = self
            .stack
            .function_configs(smartpit_local::runtime::Logs::Folder(
                self.function_logs.join("api_with"),
            ))
            .expect("configs")
            .into_iter()
            .filter(|c| functions.contains(&c.name.as_str()))
            .map(|mut c| {
                for (k, v) in env {
                    match v.is_empty() {
                        true => c.env.remove(*k),
                        false => c.env.insert(k.to_string(), v.to_string()),
                    };
                }
                c.max_instances = 1;
                c
            })
            .collect();
        smartpit_local::runtime::Functions::start(configs)
            .await
            .expect("functions")
    }
}

/// A due date `days` after today, JST.
/// Waits for the next minute when this one is nearly over, so a per-minute count a test
/// drives up is not reset half way.
pub async fn fresh_minute() {
    let secs = chrono::Utc::now().timestamp() % 60;
    if secs > 50 {
        tokio::time::sleep(Duration::from_secs((61 - secs) as u64)).await;
    }
}

pub fn due_in(days: i64) -> String {
    (smartpit_shared::clock::jst_date(Utc::now()) + chrono::Duration::days(days)).to_string()
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        smartpit_shared::ids::base32(&smartpit_shared::ids::random_bytes::<8>())
    )
}

/// A reply: status, headers and JSON body (Null when the body is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    /// The body as text (CSV answers).
    pub text: String,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

#[derive(Clone)]
pub struct Client {
    pub api: String,
    pub http: reqwest::Client,
}

impl Client {
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = resp.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            content_type,
            headers,
            body,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub fn post(&self, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.api))
            .bearer_auth(key)
    }

    pub fn get(&self, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.api))
            .bearer_auth(key)
    }

    pub async fn post_json(&self, path: &str, key: &str, body: &Value) -> Reply {
        self.send(self.post(path, key).json(body)).await
    }

    pub async fn register(&self, key: &str, idem: &str, body: &Value) -> Reply {
        self.send(
            self.post("/v1/invoices", key)
                .header("Idempotency-Key", idem)
                .json(body),
        )
        .await
    }
}
