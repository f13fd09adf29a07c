//! The HTTP contract, infra/openapi.yaml. Every answer of every end-to-end test is checked
//! against it by the local stack (infra/cli/src/contract.rs); here the stack serves the
//! document, and schemathesis (pinned in infra/local/requirements-contract.txt, installed by
//! `make test`) generates requests from it, valid and invalid, and finds no 5xx and no answer
//! outside it.

use smartpit_tests::stack;

#[tokio::test]
async fn the_stack_serves_the_document() {
    let s = stack();
    let c = s.client();
    let r = c.send(c.http.get(format!("{}/openapi.yaml", s.api))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "application/yaml");
    let repo = smartpit_local::stack::repo_root().expect("repo");
    let file = std::fs::read_to_string(repo.join("infra/openapi.yaml")).expect("openapi.yaml");
    assert_eq!(r.text, file);
}

/// schemathesis' examples, coverage and fuzzing phases, a bounded number of cases per
/// operation (infra/local/schemathesis.toml), every check but the two that assume a schema can
/// say which values a business rule accepts. Fixed seed, so a failure reproduces; set
/// `SMARTPIT_CONTRACT_SEED` to explore.
#[tokio::test]
async fn schemathesis_finds_no_server_error_and_nothing_outside_the_document() {
    let s = stack();
    let repo = smartpit_local::stack::repo_root().expect("repo");
    let st = repo.join(".venv-contract/bin/st");
    assert!(
        st.exists(),
        "{} is missing: `make test` installs it (infra/local/requirements-contract.txt)",
        st.display()
    );
    let seed = std::env::var("SMARTPIT_CONTRACT_SEED").unwrap_or_else(|_| "20261127".into());
    let report = std::env::temp_dir().join(format!("smartpit-contract-{}", std::process::id()));
    let out = tokio::process::Command::new(&st)
        .arg("--config-file")
        .arg(repo.join("infra/local/schemathesis.toml"))
        .arg("run")
        .arg(repo.join("infra/openapi.yaml"))
        // One worker: CPython 3.11 keeps the `ast` module's recursion depth in one process-wide
        // counter, and hypothesis parses lambdas' source (ast) on each worker thread; two at once
        // crashed a CI run with "AST constructor recursion depth mismatch" (python/cpython#106905
        // territory), a Runtime Error of the tool, not a finding.
        .args(["--url", &s.api, "--seed", &seed, "--workers", "1"])
        .args(["--max-redirects", "0", "--request-timeout", "10"])
        .args(["--checks", "all"])
        .args([
            "--exclude-checks",
            "positive_data_acceptance,use_after_free,ensure_resource_availability",
        ])
        .args(["--no-color", "--report", "junit", "--report-dir"])
        .arg(&report)
        .env("SMARTPIT_MERCHANT_KEY", s.merchant_key(0))
        .env("SMARTPIT_CHAIN_KEY", s.chain_key("lawson"))
        .env("SCHEMATHESIS_HOOKS", "")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run schemathesis");
    let text = String::from_utf8_lossy(&out.stdout);
    let _ = std::fs::remove_dir_all(&report);
    assert!(
        out.status.success(),
        "schemathesis failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(text.contains("passed"), "{text}");
}
