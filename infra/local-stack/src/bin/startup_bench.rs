//! `make bench-startup`: how long each function binary takes to start, against a Lambda
//! Runtime API on loopback, next to a hello-world `lambda_runtime` binary built with the same
//! profile in the same run. Per binary, the median of `--runs` starts (interleaved, so the
//! machine's noise falls on all alike) of: process start to its first `GET
//! /runtime/invocation/next` (init), and to its first answered invocation. Each gets an event
//! its handler answers without an AWS call (an API request without a key, an empty batch);
//! nothing can reach AWS (a closed local endpoint, dummy credentials).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use serde_json::{json, Value};
use tokio::sync::oneshot;

#[derive(Parser)]
struct Args {
    /// Starts per binary.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Where the release binaries are.
    #[arg(long, default_value = "target/release")]
    dir: PathBuf,
    /// Only these binaries (comma-separated; hello-lambda is always measured).
    #[arg(long, value_delimiter = ',')]
    bins: Vec<String>,
}

/// What the Runtime API hands out next, and whom it tells.
#[derive(Default)]
struct Run {
    event: Option<Value>,
    polled: Option<oneshot::Sender<Instant>>,
    answered: Option<oneshot::Sender<(Instant, Value)>>,
}

async fn runtime_api(
    run: Arc<Mutex<Run>>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let now = Instant::now();
    let path = req.uri().path().to_string();
    if path.ends_with("/invocation/next") {
        let event = match run.lock() {
            Ok(mut r) => {
                if let Some(tx) = r.polled.take() {
                    let _ = tx.send(now);
                }
                r.event.take()
            }
            Err(_) => None,
        };
        let Some(event) = event else {
            std::future::pending::<()>().await;
            unreachable!();
        };
        let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
        return Ok(hyper::Response::builder()
            .header("lambda-runtime-aws-request-id", "bench-1")
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:ap-northeast-1:123456789012:function:bench",
            )
            .body(Full::new(Bytes::from(event.to_string())))
            .unwrap_or_default());
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let value = if path.ends_with("/response") {
        value
    } else {
        json!({"runtime_error": value, "path": path})
    };
    if let Ok(mut r) = run.lock() {
        if let Some(tx) = r.answered.take() {
            let _ = tx.send((now, value));
        }
    }
    Ok(hyper::Response::builder()
        .status(202)
        .body(Full::new(Bytes::new()))
        .unwrap_or_default())
}

fn http_event(route: &str, path: &str) -> Value {
    let (method, _) = route.split_once(' ').unwrap_or(("GET", path));
    json!({
        "version": "2.0", "routeKey": route, "rawPath": path, "rawQueryString": "",
        "headers": {"host": "bench.example", "content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "domainName": "bench.example",
            "domainPrefix": "bench",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.10", "userAgent": "bench"},
            "requestId": "bench", "routeKey": route, "stage": "$default",
            "time": "27/Nov/2026:00:00:00 +0000", "timeEpoch": 1764201600000_i64
        },
        "body": "{}",
        "isBase64Encoded": false
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let empty = json!({"Records": []});
    let subjects: Vec<(&str, Value)> = vec![
        ("hello-lambda", json!({"hello": "?"})),
        ("invoices", http_event("GET /v1/invoices", "/v1/invoices")),
        (
            "store",
            http_event("POST /store/v1/lookup", "/store/v1/lookup"),
        ),
        (
            "numbers",
            http_event("POST /v1/joint-cards", "/v1/joint-cards"),
        ),
        ("webhooks-api", http_event("GET /v1/events", "/v1/events")),
        (
            "sheets",
            http_event("GET /problems/{code}", "/problems/invalid_amount"),
        ),
        (
            "sandbox",
            http_event("GET /sandbox/store", "/sandbox/store"),
        ),
        ("payouts-api", http_event("GET /v1/payouts", "/v1/payouts")),
        (
            "payouts-sandbox",
            http_event("POST /v1/test/payouts/run", "/v1/test/payouts/run"),
        ),
        (
            "refund-sandbox",
            http_event(
                "POST /v1/test/refunds/{id}/details",
                "/v1/test/refunds/ref_x/details",
            ),
        ),
        // The page looks its token up at once: against the closed endpoint, its answer is the
        // fault page after the SDK's retries (init is the figure to read).
        ("refund-page", http_event("GET /r/{token}", "/r/x")),
        ("notify", empty.clone()),
        ("mail-events", empty.clone()),
        ("settlement", empty.clone()),
        ("webhooks", empty.clone()),
    ];
    let subjects: Vec<(&str, Value)> = subjects
        .into_iter()
        .filter(|(b, _)| {
            *b == "hello-lambda" || args.bins.is_empty() || args.bins.iter().any(|x| x == b)
        })
        .collect();
    for (bin, _) in &subjects {
        if !args.dir.join(bin).exists() {
            return Err(format!(
                "{} is missing: build the release binaries first (make bench-startup does)",
                args.dir.join(bin).display()
            ));
        }
    }
    let run = Arc::new(Mutex::new(Run::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let served = run.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let run = served.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |r| runtime_api(run.clone(), r));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    let mut init: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut first: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for round in 0..args.runs {
        for (bin, event) in &subjects {
            let (polled_tx, polled_rx) = oneshot::channel();
            let (answered_tx, answered_rx) = oneshot::channel();
            if let Ok(mut r) = run.lock() {
                *r = Run {
                    event: Some(event.clone()),
                    polled: Some(polled_tx),
                    answered: Some(answered_tx),
                };
            }
            let start = Instant::now();
            let mut child = tokio::process::Command::new(args.dir.join(bin))
                .env_clear()
                .envs(env(&addr.to_string(), bin))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("{bin}: {e}"))?;
            let polled = tokio::time::timeout(Duration::from_secs(10), polled_rx)
                .await
                .map_err(|_| format!("{bin} did not poll within 10 s"))?
                .map_err(|e| e.to_string())?;
            let (answered, value) = tokio::time::timeout(Duration::from_secs(10), answered_rx)
                .await
                .map_err(|_| format!("{bin} did not answer within 10 s"))?
                .map_err(|e| e.to_string())?;
            if round == 0 && value.get("runtime_error").is_some() {
                eprintln!("note: {bin} answered with an error: {value}");
            }
            let _ = child.start_kill();
            let _ = child.wait().await;
            init.entry(bin)
                .or_default()
                .push((polled - start).as_secs_f64() * 1000.0);
            first
                .entry(bin)
                .or_default()
                .push((answered - start).as_secs_f64() * 1000.0);
        }
    }
    let hello_init = median(init.get("hello-lambda").cloned().unwrap_or_default());
    let hello_first = median(first.get("hello-lambda").cloned().unwrap_or_default());
    println!(
        "| binary | init (to first /next), median ms | first answer, median ms | init / hello | first answer - hello's |"
    );
    println!("|---|---|---|---|---|");
    for (bin, _) in &subjects {
        let i = median(init.get(bin).cloned().unwrap_or_default());
        let f = median(first.get(bin).cloned().unwrap_or_default());
        println!(
            "| `{bin}` | {i:.1} | {f:.1} | {:.2} | {:+.1} |",
            i / hello_init,
            f - hello_first
        );
    }
    println!("\n{} starts each, interleaved", args.runs);
    Ok(())
}

/// What the template gives a function, with values that cannot reach anything.
fn env(runtime_api: &str, bin: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api),
        ("AWS_LAMBDA_FUNCTION_NAME", bin),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "1"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_REGION", "ap-northeast-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("MAIN_TABLE", "t"),
        ("NUMBERS_TABLE", "t"),
        ("OUTBOX_TABLE", "t"),
        ("EVENTS_TABLE", "t"),
        ("SHEETS_BUCKET", "b"),
        ("MAIL_FROM", "no-reply@example.jp"),
        ("PUBLIC_BASE_URL", "https://pay.example.jp"),
        ("KEY_ENVIRONMENT", "test"),
        ("WEBHOOK_QUEUE_URL", "http://127.0.0.1:9/queue"),
        ("STATEMENTS_BUCKET", "b"),
        ("BANK_DATA_KEY", "alias/bench"),
        (
            "FONT_PATH",
            "/usr/share/fonts/truetype/vlgothic/VL-Gothic-Regular.ttf",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}
