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
    // Its bank account: checked against the Zengin list, sealed with a KMS data key, only the
    // masked view stored in clear.
    let kms = aws_sdk_kms::Client::new(&stack.sdk);
    let key = kms
        .create_key()
        .send()
        .await
        .expect("key")
        .key_metadata()
        .map(|m| m.key_id().to_string())
        .expect("key id");
    let bank = |holder: &str, number: &str| {
        run(&[
            "merchant-bank",
            "--id",
            "far-away",
            "--bank",
            "0001",
            "--branch",
            "001",
            "--account-type",
            "ordinary",
            "--account-number",
            number,
            "--holder",
            holder,
            "--kms-key",
            &key,
            "--main-table",
            &main_table,
        ])
    };
    let refused = bank("山田商店", "1234567");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--holder"));
    assert!(
        db.bank_account("far-away").await.expect("read").is_none(),
        "nothing stored"
    );
    let short = bank("ﾔﾏﾀﾞ", "12345");
    assert!(String::from_utf8_lossy(&short.stderr).contains("7 digits"));
    let set = bank("カ）トオクノミセ", "7654321");
    let said = String::from_utf8_lossy(&set.stdout).to_string();
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    assert!(
        said.contains("****321") && !said.contains("7654321"),
        "{said}"
    );
    let stored = db
        .bank_account("far-away")
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.masked.bank_name, "みずほ");
    assert_eq!(stored.masked.number, "****321");
    // Nothing of the number or the holder in clear anywhere in the item.
    let raw = stack
        .db()
        .expect("db")
        .client
        .get_item()
        .table_name(&main_table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(smartpit_shared::db::merchant_pk(
                "far-away",
            )),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("BANK_ACCOUNT".into()),
        )
        .send()
        .await
        .expect("item");
    let dump = format!("{:?}", raw.item());
    assert!(dump.contains("BANK_ACCOUNT"), "{dump}");
    for clear in ["7654321", "ﾄｵｸﾉﾐｾ", "トオクノミセ"] {
        assert!(!dump.contains(clear), "{clear} stored in clear");
    }
    let sealed = smartpit_shared::sealed::Sealed {
        encrypted_key: stored.encrypted_key.clone(),
        nonce: stored.nonce.clone(),
        ciphertext: stored.ciphertext.clone(),
    };
    let own = [("merchant_id", "far-away"), ("purpose", "payout_account")];
    let opened = smartpit_shared::sealed::open(&kms, &own, &sealed)
        .await
        .expect("opens with its context");
    let details: serde_json::Value = serde_json::from_slice(&opened).expect("json");
    assert_eq!(details["account_number"], "7654321");
    assert_eq!(details["holder"], "ｶ)ﾄｵｸﾉﾐｾ");
    let other = [
        ("merchant_id", "someone-else"),
        ("purpose", "payout_account"),
    ];
    assert!(smartpit_shared::sealed::open(&kms, &other, &sealed)
        .await
        .is_err());
    // On the local stack (from the checkout), the stack's own key is the default.
    let local_bank = Command::new(env!("CARGO_BIN_EXE_smartpit"))
        .args([
            "merchant-bank",
            "--id",
            "far-away",
            "--bank",
            "0001",
            "--branch",
            "001",
            "--account-type",
            "savings",
            "--account-number",
            "1112223",
            "--holder",
            "ﾄｵｸﾉﾐｾ",
            "--endpoint",
            &emu.endpoint,
        ])
        .current_dir(&repo)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("smartpit");
    assert!(
        local_bank.status.success(),
        "{}",
        String::from_utf8_lossy(&local_bank.stderr)
    );
    let again = db
        .bank_account("far-away")
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        (
            again.masked.account_type.as_str(),
            again.masked.number.as_str()
        ),
        ("savings", "****223")
    );
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
