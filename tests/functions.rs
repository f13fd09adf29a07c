//! The local stack runs every function as Lambda does (issue 23): each function of the
//! template as its own processes, from the binary cargo built for it, with the template's
//! environment and nothing else, fed through the Runtime API; a process that dies is replaced,
//! one that runs past its time-out is killed and its invocation fails.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use smartpit_local::runtime::{FunctionConfig, Functions, Logs};
use smartpit_tests::{stack, TestStack};

fn environ(pid: u32) -> BTreeMap<String, String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

#[tokio::test]
async fn every_function_of_the_template_runs_as_its_own_process() {
    let s = stack();
    let processes = s.functions.processes();
    for (name, spec) in &s.stack.template.functions {
        let p = processes
            .iter()
            .find(|p| &p.function == name)
            .unwrap_or_else(|| panic!("no process for {name}: {processes:?}"));
        assert_ne!(p.pid, std::process::id());
        // The binary `sam build` packs for it, as cargo built it.
        let exe = std::fs::read_link(format!("/proc/{}/exe", p.pid)).expect("exe");
        assert_eq!(
            exe.file_name().and_then(|n| n.to_str()),
            Some(spec.binary.as_str()),
            "{name}"
        );
        // Lambda's environment and the template's, nothing of the test's own.
        let env = environ(p.pid);
        assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], *name);
        assert!(env["AWS_LAMBDA_RUNTIME_API"].starts_with("127.0.0.1:"));
        assert_eq!(
            env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"],
            spec.memory_mb.to_string()
        );
        assert!(env.contains_key("MAIN_TABLE"), "{name}: {env:?}");
        assert!(
            !env.keys().any(|k| k.starts_with("CARGO") || k == "HOME"),
            "{name} sees the test's environment: {env:?}"
        );
    }
    assert_eq!(
        s.stack.template.functions.len(),
        s.functions.names().count()
    );
}

/// API Gateway's own event, from a fixture file, handed to the invoices function's process:
/// lambda_http in that binary parses it.
#[tokio::test]
async fn a_fixture_event_from_api_gateway_is_served_by_the_process() {
    let s = stack();
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/apigw_v2_list_invoices.json"),
    )
    .expect("fixture")
    .replace("MERCHANT_KEY", s.merchant_key(0));
    let invoked = s
        .functions
        .invoke("InvoicesFunction", text.into_bytes())
        .await;
    let answer: Value =
        serde_json::from_slice(&invoked.result.expect("invocation")).expect("2.0 response");
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap_or("")).expect("json");
    assert!(body["invoices"].is_array(), "{body}");
    assert!(invoked.calls.iter().all(|c| c.starts_with("DynamoDB:")));
    // Something that is not an API Gateway event is an invocation error, as on Lambda.
    let wrong = s
        .functions
        .invoke("InvoicesFunction", b"{\"Records\": []}".to_vec())
        .await;
    assert!(wrong.result.is_err(), "{:?}", wrong.result);
}

#[tokio::test]
async fn a_process_that_dies_is_replaced() {
    let s = stack();
    let pid_of = |s: &TestStack| {
        s.functions
            .processes()
            .into_iter()
            .find(|p| p.function == "NumbersFunction" && p.instance == 0)
            .map(|p| p.pid)
    };
    let before = pid_of(s).expect("a numbers process");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &before.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let after = loop {
        match pid_of(s) {
            Some(p) if p != before => break p,
            _ if Instant::now() > deadline => panic!("not replaced"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    assert_ne!(before, after);
    let c = s.client();
    let r = c
        .send(c.get("/v1/joint-cards/2010000000014", s.merchant_key(0)))
        .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
}

/// A function whose AWS endpoint accepts the connection and never answers runs into the
/// time-out the pool enforces: the process is killed, the invocation fails with Lambda's
/// `Sandbox.Timedout`, and a new process takes the next invocation.
#[tokio::test]
async fn a_function_past_its_time_out_is_killed() {
    let s = stack();
    // Accepts connections (the kernel's backlog) and never reads or answers.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dir = std::env::temp_dir().join(format!("smartpit-timeout-{}", std::process::id()));
    let mut config: FunctionConfig = s
        .stack
        .function_configs(Logs::Folder(dir.clone()))
        .expect("configs")
        .into_iter()
        .find(|c| c.name == "InvoicesFunction")
        .expect("invoices");
    config.timeout = Duration::from_millis(300);
    config.max_instances = 1;
    config.upstream = format!("http://{}", hung.local_addr().expect("addr"));
    let functions = Functions::start(vec![config]).await.expect("start");
    let first = functions.processes()[0].pid;
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/apigw_v2_list_invoices.json"),
    )
    .expect("fixture")
    .replace("MERCHANT_KEY", "sk_test_never_seen_before");
    let started = Instant::now();
    let invoked = functions
        .invoke("InvoicesFunction", text.into_bytes())
        .await;
    let err = invoked.result.expect_err("timed out");
    assert!(err.starts_with("Sandbox.Timedout"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let deadline = Instant::now() + Duration::from_secs(20);
    while functions.processes().first().map(|p| p.pid) == Some(first)
        || functions.processes().is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the timed-out process was not replaced"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Invocations waiting at once start more instances, never more than the function's limit.
#[tokio::test]
async fn scaling_out_stops_at_the_functions_limit() {
    let s = stack();
    let dir = std::env::temp_dir().join(format!("smartpit-scale-{}", std::process::id()));
    let mut config: FunctionConfig = s
        .stack
        .function_configs(Logs::Folder(dir.clone()))
        .expect("configs")
        .into_iter()
        .find(|c| c.name == "InvoicesFunction")
        .expect("invoices");
    config.max_instances = 2;
    let functions = Functions::start(vec![config]).await.expect("start");
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/apigw_v2_list_invoices.json"),
    )
    .expect("fixture")
    .replace("MERCHANT_KEY", s.merchant_key(0));
    let all = futures::future::join_all(
        (0..16).map(|_| functions.invoke("InvoicesFunction", text.clone().into_bytes())),
    )
    .await;
    for invoked in all {
        let answer: Value =
            serde_json::from_slice(&invoked.result.expect("invocation")).expect("2.0 response");
        assert_eq!(answer["statusCode"], 200, "{answer}");
    }
    let running = functions.processes().len();
    assert!((1..=2).contains(&running), "{running} instances");
    let _ = std::fs::remove_dir_all(dir);
}
