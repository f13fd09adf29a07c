//! The `sheets` binary as Lambda runs it: against a Lambda Runtime API on loopback (the same
//! three calls Lambda's runtime serves), an API Gateway HTTP API event in, the answer out.
//! Checks what only the real process shows: it starts with the template's environment, answers
//! an invocation, and logs one JSON line per request carrying Lambda's request id and the route
//! key, never the path (a sheet link's token is in it).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::Value;
use tokio::sync::mpsc;

struct RuntimeApi {
    events: Mutex<Vec<(String, Value)>>,
    answers: mpsc::UnboundedSender<(String, Value)>,
}

async fn runtime_api(
    api: Arc<RuntimeApi>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    if path.ends_with("/invocation/next") {
        let next = api.events.lock().map(|mut e| e.pop()).ok().flatten();
        let Some((id, event)) = next else {
            // No more work: hold the request as Lambda does between invocations.
            std::future::pending::<()>().await;
            unreachable!();
        };
        let deadline = chrono::Utc::now().timestamp_millis() + 10_000;
        return Ok(Response::builder()
            .header("lambda-runtime-aws-request-id", id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:ap-northeast-1:123456789012:function:sheets",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000",
            )
            .body(Full::new(Bytes::from(event.to_string())))
            .unwrap_or_default());
    }
    let id = path.split('/').nth(4).unwrap_or_default().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let kind = if path.ends_with("/response") {
        id
    } else {
        format!("error:{path}")
    };
    let _ = api.answers.send((kind, value));
    Ok(Response::builder()
        .status(202)
        .body(Full::new(Bytes::new()))
        .unwrap_or_default())
}

fn event(route: &str, path: &str, params: &[(&str, &str)]) -> Value {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/apigw_v2_list_invoices.json"
    );
    let mut e: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).expect("fixture")).expect("json");
    e["routeKey"] = route.into();
    e["requestContext"]["routeKey"] = route.into();
    e["rawPath"] = path.into();
    e["requestContext"]["http"]["path"] = path.into();
    e["rawQueryString"] = "".into();
    e.as_object_mut().map(|o| o.remove("queryStringParameters"));
    e["headers"]
        .as_object_mut()
        .map(|h| h.remove("authorization"));
    e["pathParameters"] = params
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    e
}

#[tokio::test]
async fn the_binary_answers_an_invocation_and_logs_its_request_id() {
    let (tx, mut answers) = mpsc::unbounded_channel();
    let api = Arc::new(RuntimeApi {
        events: Mutex::new(vec![(
            "req-problem-1".to_string(),
            event(
                "GET /problems/{code}",
                "/problems/invalid_amount",
                &[("code", "invalid_amount")],
            ),
        )]),
        answers: tx,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let served = api.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let api = served.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |r| runtime_api(api.clone(), r));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    let start = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sheets"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "sheets")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/sheets")
        // Nothing may reach AWS: dummy credentials, a closed local port, no metadata.
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_REGION", "ap-northeast-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("MAIN_TABLE", "t")
        .env("NUMBERS_TABLE", "t")
        .env("OUTBOX_TABLE", "t")
        .env("EVENTS_TABLE", "t")
        .env("SHEETS_BUCKET", "b")
        .env("MAIL_FROM", "no-reply@example.jp")
        .env("PUBLIC_BASE_URL", "https://pay.example.jp")
        .env("KEY_ENVIRONMENT", "test")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start sheets");
    let (id, answer) = tokio::time::timeout(Duration::from_secs(20), answers.recv())
        .await
        .expect("an answer within 20 s")
        .expect("answer");
    let first_answer = start.elapsed();
    assert_eq!(id, "req-problem-1", "{answer}");
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert!(answer["body"]
        .as_str()
        .is_some_and(|b| b.contains("invalid_amount")));
    let _ = child.start_kill();
    let out = child.wait_with_output().await.expect("output");
    let logs =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let served = lines
        .iter()
        .find(|l| l["fields"]["message"] == "request served")
        .unwrap_or_else(|| panic!("no request line in:\n{logs}"));
    assert_eq!(
        served["fields"]["route"], "GET /problems/{code}",
        "{served}"
    );
    assert_eq!(served["fields"]["status"], 200, "{served}");
    assert_eq!(served["span"]["requestId"], "req-problem-1", "{served}");
    assert!(
        !logs.contains("/problems/invalid_amount"),
        "the path is not logged:\n{logs}"
    );
    // Every line a function writes is JSON (CloudWatch Logs Insights reads its fields).
    assert_eq!(
        lines.len(),
        logs.lines().filter(|l| !l.trim().is_empty()).count(),
        "{logs}"
    );
    println!(
        "first answered invocation {} ms after process start (debug build)",
        first_answer.as_millis()
    );
}
