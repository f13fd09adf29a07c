//! `smartpit` is the operator's command for a deployed stack: it runs from anywhere, not only
//! inside a checkout. Here the "deployed" stack is the emulator with the template's tables,
//! named by their table names as a stack's outputs name them, reached through the standard
//! `AWS_ENDPOINT_URL` (dummy credentials: nothing can reach AWS).

use std::process::Command;

#[tokio::test]
async fn the_operator_command_works_outside_a_checkout() {
    let repo = smartpit_local::stack::repo_root().expect("checkout");
    let emu = smartpit_local::emulator::start(&repo, 0, None)
        .await
        .expect("emulator");
    let stack = smartpit_local::stack::Stack::new(&repo, &emu.endpoint, "http://127.0.0.1:9")
        .expect("template");
    stack.provision().await.expect("provision");
    let main_table = smartpit_local::provision::table_name("MainTable");
    let elsewhere = std::env::temp_dir();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_smartpit"))
            .args(args)
            .current_dir(&elsewhere)
            .env_remove("SMARTPIT_REPO")
            .env("AWS_ENDPOINT_URL", &emu.endpoint)
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_REGION", "ap-northeast-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .expect("smartpit")
    };
    let out = run(&[
        "merchant-key",
        "--id",
        "far-away",
        "--name",
        "遠くの店",
        "--main-table",
        &main_table,
        "--key-environment",
        "test",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(key.starts_with("sk_test_"), "{key}");
    // The key is stored (as its hash) in the table named.
    let listed = run(&[
        "keys",
        "list",
        "--merchant",
        "far-away",
        "--main-table",
        &main_table,
        "--key-environment",
        "test",
    ]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains(&key[..16]), "{text}");
    // Its payout cycle: stored, read back as the payout run will read it.
    let payout = run(&[
        "merchant-payout",
        "--id",
        "far-away",
        "--cycle",
        "half_month",
        "--pay-after-business-days",
        "3",
        "--main-table",
        &main_table,
    ]);
    assert!(
        payout.status.success(),
        "{}",
        String::from_utf8_lossy(&payout.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&payout.stdout).expect("json");
    assert_eq!(shown["cycle"], "half_month");
    assert!(shown["next_pay_date"]
        .as_str()
        .is_some_and(|d| d.len() == 10));
    let db = stack.db().expect("db");
    let setting = db.payout_setting("far-away").await.expect("read");
    assert_eq!(
        (setting.cycle.as_str(), setting.pay_after_business_days),
        ("half_month", 3)
    );
    assert_eq!(
        db.payout_setting("nobody").await.expect("read"),
        smartpit_shared::payout_cycle::PayoutSetting::default()
    );
    let wrong = run(&[
        "merchant-payout",
        "--id",
        "far-away",
        "--cycle",
        "weekly",
        "--main-table",
        &main_table,
    ]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("5day, 10day, half_month, month_end"));
    // A local-stack shortcut still needs the checkout, and says so.
    let local = run(&[
        "merchant-key",
        "--id",
        "x",
        "--name",
        "y",
        "--endpoint",
        &emu.endpoint,
    ]);
    assert!(!local.status.success());
    assert!(String::from_utf8_lossy(&local.stderr).contains("checkout"));
}
