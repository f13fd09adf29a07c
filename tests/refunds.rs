//! Refunds of paid bills (issue 20, the merchant's side): a settled bill refunded in part twice
//! and the third over the rest refused (422), 20 refunds of one bill sent at once of which
//! exactly what was paid lands (the bill's `refunded` read back from DynamoDB), a cancel that
//! frees its amount, a bill paid today or not paid refused (409), another merchant's refunds
//! out of reach (404), odd input refused writing nothing, `refund.created` pushed signed.

use chrono::{TimeDelta, Utc};
use serde_json::{json, Value};
use smartpit_payouts::run::end_of_day;
use smartpit_shared::clock::jst_date;
use smartpit_shared::payout::payout_id;
use smartpit_shared::payout_cycle::Cycle;
use smartpit_tests::bills::{bill, pay, settle};
use smartpit_tests::operator::{smartpit, TransferFile};
use smartpit_tests::receiver::{shop, verify, Shop};
use smartpit_tests::{due_in, stack, unique, Client, Reply, TestStack};

/// The transfer-file test runs alone: a file takes every refund with an account, and the
/// others' refunds must not be filed while they look at theirs.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Paid and settled (確報): past the store's void window, refundable.
async fn settled_bill(c: &Client, s: &TestStack, shop: &Shop, amount: i64, fee: i64) -> String {
    let card = s.fresh_card().await.to_string();
    let id = bill(c, shop, &card, amount, fee).await;
    pay(c, s, "lawson", &id, amount + fee).await;
    settle(c, shop, &id).await;
    id
}

async fn refund(c: &Client, key: &str, invoice: &str, idem: &str, body: &Value) -> Reply {
    c.send(
        c.post(&format!("/v1/invoices/{invoice}/refunds"), key)
            .header("Idempotency-Key", idem)
            .json(body),
    )
    .await
}

/// The bill's `refunded` as stored.
async fn refunded(s: &TestStack, invoice: &str) -> i64 {
    let id = smartpit_shared::ids::InvoiceId::parse(invoice).expect("id");
    s.db().refunded_total(&id).await.expect("read")
}

#[tokio::test]
async fn a_settled_bill_is_refunded_in_part_up_to_what_was_paid() {
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let inv = settled_bill(&c, s, &shop, 3_000, 100).await;

    // Twice in part: 1,000 and 1,500 of the 3,100 paid.
    let idem = unique("rf");
    let first = refund(
        &c,
        &shop.key,
        &inv,
        &idem,
        &json!({"amount": 1_000, "reason": "返品"}),
    )
    .await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let r1 = first.body.clone();
    assert_eq!(r1["status"], "awaiting_details");
    assert_eq!(r1["invoice_id"], inv.as_str());
    assert_eq!(r1["amount"], 1_000);
    assert_eq!(r1["reason"], "返品");
    let url = r1["details_url"].as_str().expect("details_url");
    assert!(url.starts_with(&format!("{}/r/", s.api)), "{url}");
    assert_eq!(url.rsplit('/').next().map(str::len), Some(32), "{url}");
    let rid = r1["id"].as_str().expect("id").to_string();
    assert_eq!(
        first.headers.get("location").and_then(|v| v.to_str().ok()),
        Some(format!("/v1/refunds/{rid}").as_str())
    );
    // The same request again: the same refund, not a second.
    let again = refund(
        &c,
        &shop.key,
        &inv,
        &idem,
        &json!({"amount": 1_000, "reason": "返品"}),
    )
    .await;
    assert_eq!((again.status, &again.body), (201, &r1));
    assert!(again.headers.contains_key("idempotent-replayed"));
    let second = refund(
        &c,
        &shop.key,
        &inv,
        &unique("rf"),
        &json!({"amount": 1_500}),
    )
    .await;
    assert_eq!(second.status, 201, "{:?}", second.body);
    assert_eq!(refunded(s, &inv).await, 2_500);
    // The merchant reads the sum on the bill too.
    let bill = c
        .send(c.get(&format!("/v1/invoices/{inv}"), &shop.key))
        .await;
    assert_eq!(bill.body["refunded"], 2_500, "{:?}", bill.body);

    // A third over the rest (600 left) is refused, writing nothing.
    let over = refund(&c, &shop.key, &inv, &unique("rf"), &json!({"amount": 601})).await;
    assert_eq!(
        (over.status, over.code()),
        (422, "refund_exceeds_paid"),
        "{:?}",
        over.body
    );
    assert!(
        over.body["detail"].as_str().unwrap_or("").contains("600"),
        "{:?}",
        over.body
    );
    assert_eq!(refunded(s, &inv).await, 2_500);
    let list = c
        .send(c.get(&format!("/v1/invoices/{inv}/refunds"), &shop.key))
        .await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    let ids: Vec<&str> = list.body["refunds"]
        .as_array()
        .expect("refunds")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2, "{:?}", list.body);
    assert_eq!(ids[0], rid, "oldest first");

    // Cancelled, its amount may be refunded again; a second cancel is refused.
    let cancel = |idem: String| {
        let c = c.clone();
        let key = shop.key.clone();
        let rid = rid.clone();
        async move {
            c.send(
                c.post(&format!("/v1/refunds/{rid}/cancel"), &key)
                    .header("Idempotency-Key", idem),
            )
            .await
        }
    };
    let r = cancel(unique("cx")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "cancelled");
    assert!(r.body["cancelled_at"].is_string());
    assert!(r.body["details_url"].is_null(), "{:?}", r.body);
    assert_eq!(refunded(s, &inv).await, 1_500);
    let r = cancel(unique("cx")).await;
    assert_eq!(
        (r.status, r.code()),
        (409, "refund_not_cancellable"),
        "{:?}",
        r.body
    );
    let rest = refund(
        &c,
        &shop.key,
        &inv,
        &unique("rf"),
        &json!({"amount": 1_600}),
    )
    .await;
    assert_eq!(rest.status, 201, "{:?}", rest.body);
    assert_eq!(refunded(s, &inv).await, 3_100);
    let r = c
        .send(c.get(&format!("/v1/refunds/{rid}"), &shop.key))
        .await;
    assert_eq!(
        (r.status, r.body["status"].clone()),
        (200, json!("cancelled"))
    );

    // Another merchant reaches none of it.
    let other = s.merchant_key(0);
    let r = c.send(c.get(&format!("/v1/refunds/{rid}"), other)).await;
    assert_eq!((r.status, r.code()), (404, "refund_not_found"));
    let r = c
        .send(c.get(&format!("/v1/invoices/{inv}/refunds"), other))
        .await;
    assert_eq!((r.status, r.code()), (404, "invoice_not_found"));
    let r = refund(&c, other, &inv, &unique("rf"), &json!({"amount": 1})).await;
    assert_eq!((r.status, r.code()), (404, "invoice_not_found"));
    let r = c
        .send(
            c.post(&format!("/v1/refunds/{rid}/cancel"), other)
                .header("Idempotency-Key", unique("cx")),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "refund_not_found"));
    // A forged id is not found, not an error.
    let r = c.send(c.get("/v1/refunds/ref_zzzz", &shop.key)).await;
    assert_eq!((r.status, r.code()), (404, "refund_not_found"));

    // The merchant is told, signed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let created = |got: &[smartpit_tests::receiver::Delivery]| {
        got.iter()
            .filter(|d| d.json()["type"] == "refund.created")
            .count()
    };
    let mut got = shop.receiver.deliveries();
    while created(&got) < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        got = shop.receiver.deliveries();
    }
    assert_eq!(created(&got), 3, "one event a refund made");
    for d in &got {
        verify(&shop.secret, d);
    }
    let first_event = got
        .iter()
        .find(|d| d.json()["data"]["refund"]["id"] == rid.as_str())
        .expect("the first refund's event");
    assert_eq!(first_event.json()["data"]["invoice"]["id"], inv.as_str());
}

#[tokio::test]
async fn twenty_refunds_at_once_never_exceed_what_was_paid() {
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let inv = settled_bill(&c, s, &shop, 5_000, 0).await;
    let replies = futures::future::join_all((0..20).map(|_| {
        let c = c.clone();
        let key = shop.key.clone();
        let inv = inv.clone();
        async move { refund(&c, &key, &inv, &unique("rf"), &json!({"amount": 1_000})).await }
    }))
    .await;
    let made = replies.iter().filter(|r| r.status == 201).count();
    for r in replies.iter().filter(|r| r.status != 201) {
        assert_eq!(
            (r.status, r.code()),
            (422, "refund_exceeds_paid"),
            "{:?}",
            r.body
        );
    }
    assert_eq!(made, 5, "exactly what was paid");
    assert_eq!(refunded(s, &inv).await, 5_000);
    let list = c
        .send(c.get(&format!("/v1/invoices/{inv}/refunds"), &shop.key))
        .await;
    assert_eq!(list.body["refunds"].as_array().map(Vec::len), Some(5));
}

#[tokio::test]
async fn a_bill_not_paid_or_paid_today_and_odd_input_are_refused() {
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let card = s.fresh_card().await.to_string();
    let open = bill(&c, &shop, &card, 2_000, 0).await;
    let r = refund(&c, &shop.key, &open, &unique("rf"), &json!({"amount": 100})).await;
    assert_eq!(
        (r.status, r.code()),
        (409, "invoice_not_refundable"),
        "{:?}",
        r.body
    );
    assert_eq!(r.body["invoice_status"], "registered");
    // Paid today: the store may still void it, so no refund yet.
    let payment = pay(&c, s, "lawson", &open, 2_000).await;
    let r = refund(&c, &shop.key, &open, &unique("rf"), &json!({"amount": 100})).await;
    assert_eq!(
        (r.status, r.code()),
        (409, "invoice_not_refundable"),
        "{:?}",
        r.body
    );
    assert!(
        r.body["detail"].as_str().unwrap_or("").contains("void"),
        "{:?}",
        r.body
    );
    // Voided by the store: never collected, so nothing to refund.
    let voided = c
        .send(c.post(
            &format!("/store/v1/payments/{payment}/void"),
            s.chain_key("lawson"),
        ))
        .await;
    assert_eq!(voided.status, 200, "{:?}", voided.body);
    let r = refund(&c, &shop.key, &open, &unique("rf"), &json!({"amount": 100})).await;
    assert_eq!(
        (r.status, r.code(), r.body["invoice_status"].clone()),
        (409, "invoice_not_refundable", json!("registered"))
    );

    let inv = settled_bill(&c, s, &shop, 1_000, 0).await;
    for (body, code) in [
        (json!({"amount": 0}), "invalid_amount"),
        (json!({"amount": -5}), "invalid_amount"),
        (json!({"amount": "100"}), "invalid_amount"),
        (json!({"amount": 1.5}), "invalid_amount"),
        (json!({}), "invalid_amount"),
        (json!({"amount": 100, "reason": ""}), "invalid_reason"),
        (
            json!({"amount": 100, "reason": "返品\u{202e}"}),
            "invalid_reason",
        ),
        (
            json!({"amount": 100, "reason": "x".repeat(201)}),
            "invalid_reason",
        ),
        (json!({"amount": 100, "currency": "JPY"}), "unknown_field"),
        (
            json!({"amount": 9_007_199_254_740_993_i64}),
            "invalid_amount",
        ),
        (json!({"amount": 1_001}), "refund_exceeds_paid"),
    ] {
        let r = refund(&c, &shop.key, &inv, &unique("rf"), &body).await;
        assert_eq!(r.code(), code, "{body}: {:?}", r.body);
    }
    let r = c
        .send(
            c.post(&format!("/v1/invoices/{inv}/refunds"), &shop.key)
                .json(&json!({"amount": 100})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "idempotency_key_missing"));
    assert_eq!(refunded(s, &inv).await, 0, "nothing written");
    let r = c
        .send(c.get(&format!("/v1/invoices/{inv}/refunds"), &shop.key))
        .await;
    assert_eq!(r.body["refunds"], json!([]));
}

/// The customer's page: the form, a wrong branch refused with its message (nothing stored),
/// the right details sealed (the stored item holds no account number or name in clear), the
/// merchant told; the page then says it has them (410), as a cancelled refund's does.
#[tokio::test]
async fn the_customer_gives_an_account_on_the_page_and_it_is_stored_sealed() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let inv = settled_bill(&c, s, &shop, 4_000, 0).await;
    let r = refund(
        &c,
        &shop.key,
        &inv,
        &unique("rf"),
        &json!({"amount": 1_200, "reason": "返品"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let rid = r.body["id"].as_str().expect("id").to_string();
    let url = r.body["details_url"].as_str().expect("url").to_string();
    let browser = reqwest::Client::new();

    let page = browser.get(&url).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let csp = page
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    let html = page.text().await.expect("html");
    for shown in [
        "ウェブフック商店",
        "返品",
        "name=\"bank\"",
        "name=\"holder\"",
    ] {
        assert!(html.contains(shown), "{shown} not in the page");
    }
    let english = browser
        .get(format!("{url}?lang=en"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(english.contains("Your account for the refund"));

    // A branch the bank does not have, and a name in kanji: the form again, nothing stored.
    let post = |fields: Vec<(&'static str, &'static str)>| {
        let browser = browser.clone();
        let url = url.clone();
        async move {
            let r = browser.post(&url).form(&fields).send().await.expect("post");
            (r.status().as_u16(), r.text().await.expect("html"))
        }
    };
    let (status, html) = post(vec![
        ("bank", "0005"),
        ("branch", "999"),
        ("account_type", "ordinary"),
        ("number", "1234567"),
        ("holder", "山田太郎"),
    ])
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("支店コードを確認してください"), "{html}");
    assert!(html.contains("口座名義はカナでご入力ください"), "{html}");
    let r = c
        .send(c.get(&format!("/v1/refunds/{rid}"), &shop.key))
        .await;
    assert_eq!(r.body["status"], "awaiting_details");
    assert!(r.body["bank_account"].is_null());

    // The right details: received, names shown back, the merchant sees them masked.
    let (status, html) = post(vec![
        ("bank", "0005"),
        ("branch", "001"),
        ("account_type", "ordinary"),
        ("number", "1234567"),
        ("holder", "ヤマダ タロウ"),
    ])
    .await;
    assert_eq!(status, 200, "{html}");
    let bank = smartpit_shared::zengin::bank("0005").expect("bank");
    let branch = smartpit_shared::zengin::branch("0005", "001").expect("branch");
    assert!(
        html.contains(bank.name) && html.contains(branch.name),
        "{html}"
    );
    assert!(
        html.contains("****567") && !html.contains("1234567"),
        "{html}"
    );
    let r = c
        .send(c.get(&format!("/v1/refunds/{rid}"), &shop.key))
        .await;
    assert_eq!(r.body["status"], "details_received", "{:?}", r.body);
    assert_eq!(r.body["bank_account"]["number"], "****567");
    assert_eq!(r.body["bank_account"]["bank_code"], "0005");
    assert!(r.body["details_received_at"].is_string());

    // As stored: nothing of the account in clear but the masked view.
    let item = s
        .item(&format!("REFUNDS#{inv}"), &format!("REFUND#{rid}"))
        .await
        .expect("refund item");
    for (name, value) in &item {
        let bytes: Vec<u8> = match value {
            aws_sdk_dynamodb::types::AttributeValue::S(t) => t.as_bytes().to_vec(),
            aws_sdk_dynamodb::types::AttributeValue::B(b) => b.as_ref().to_vec(),
            _ => continue,
        };
        for secret in ["1234567", "ﾔﾏﾀﾞ", "ヤマダ"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{name} holds {secret} in clear"
            );
        }
    }
    assert!(item.contains_key("sealed_details") && item.contains_key("sealed_key"));

    // Given: the page says so, and a second submit changes nothing.
    let page = browser.get(&url).send().await.expect("page");
    assert_eq!(page.status(), 410);
    let (status, _) = post(vec![
        ("bank", "0001"),
        ("branch", "001"),
        ("account_type", "savings"),
        ("number", "7654321"),
        ("holder", "ﾍﾞﾂｼﾞﾝ"),
    ])
    .await;
    assert_eq!(status, 410);
    let r = c
        .send(c.get(&format!("/v1/refunds/{rid}"), &shop.key))
        .await;
    assert_eq!(r.body["bank_account"]["number"], "****567");

    // A cancelled refund's page, and a link that was never made.
    let other = refund(&c, &shop.key, &inv, &unique("rf"), &json!({"amount": 100})).await;
    let other_url = other.body["details_url"].as_str().expect("url").to_string();
    let other_id = other.body["id"].as_str().expect("id").to_string();
    let r = c
        .send(
            c.post(&format!("/v1/refunds/{other_id}/cancel"), &shop.key)
                .header("Idempotency-Key", unique("cx")),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let page = browser.get(&other_url).send().await.expect("page");
    assert_eq!(page.status(), 410);
    assert!(page
        .text()
        .await
        .expect("html")
        .contains("取り消されました"));
    let page = browser
        .get(format!("{}/r/{}", s.api, "0".repeat(32)))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 404);

    // Cancelled with its account given: the sealed account goes with it.
    let r = c
        .send(
            c.post(&format!("/v1/refunds/{rid}/cancel"), &shop.key)
                .header("Idempotency-Key", unique("cx")),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let item = s
        .item(&format!("REFUNDS#{inv}"), &format!("REFUND#{rid}"))
        .await
        .expect("refund item");
    assert!(!item.contains_key("sealed_details") && !item.contains_key("sealed_key"));

    // The merchant is told, signed, with the account masked.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let got = shop.receiver.deliveries();
        if let Some(d) = got
            .iter()
            .find(|d| d.json()["type"] == "refund.details_received")
        {
            verify(&shop.secret, d);
            assert_eq!(
                d.json()["data"]["refund"]["bank_account"]["number"],
                "****567"
            );
            assert!(!String::from_utf8_lossy(&d.body).contains("1234567"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no refund.details_received"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A refund's customer details given on the page (as a customer's browser posts them).
async fn give_details(url: &str, number: &'static str) {
    let r = reqwest::Client::new()
        .post(url)
        .form(&[
            ("bank", "0005"),
            ("branch", "001"),
            ("account_type", "ordinary"),
            ("number", number),
            ("holder", "ヤマダ タロウ"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
}

fn file_args(day: &str, out: &std::path::Path) -> Vec<String> {
    [
        "transfers",
        "file",
        "--date",
        day,
        "--out",
        out.to_str().expect("path"),
        "--requester-code",
        "1234567890",
        "--requester-name",
        "ｽﾏｰﾄﾋﾟﾂﾄ",
        "--from-bank",
        "0001",
        "--from-branch",
        "001",
        "--from-account-number",
        "7654321",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect()
}

/// The operator's transfer file pays a refund to the customer's account; confirmed, it is
/// paid and deducted from the merchant's next payout (a statement line); a returned one is
/// failed, its account erased and its page open again; 30 days after a transfer the sealed
/// account is erased by the daily run.
#[tokio::test]
async fn a_refund_is_paid_by_the_transfer_file_and_taken_off_the_payout() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let (ok, out) = smartpit(
        s,
        &[
            "merchant-bank",
            "--id",
            &shop.id,
            "--bank",
            "0001",
            "--branch",
            "001",
            "--account-type",
            "ordinary",
            "--account-number",
            "0000777",
            "--holder",
            "ｼﾖｳﾃﾝ",
        ],
    );
    assert!(ok, "{out}");
    let inv = settled_bill(&c, s, &shop, 5_000, 0).await;
    let paid = refund(
        &c,
        &shop.key,
        &inv,
        &unique("rf"),
        &json!({"amount": 1_200}),
    )
    .await;
    let paid_id = paid.body["id"].as_str().expect("id").to_string();
    give_details(paid.body["details_url"].as_str().expect("url"), "1234567").await;
    let returned = refund(&c, &shop.key, &inv, &unique("rf"), &json!({"amount": 300})).await;
    let returned_id = returned.body["id"].as_str().expect("id").to_string();
    let returned_url = returned.body["details_url"]
        .as_str()
        .expect("url")
        .to_string();
    // The other one's account given through the sandbox (a test account, sealed as real).
    let r = c
        .send(c.post(
            &format!("/v1/test/refunds/{returned_id}/details"),
            &shop.key,
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "details_received");
    assert_eq!(r.body["bank_account"]["number"], "****567");
    let r = c
        .send(c.post(
            &format!("/v1/test/refunds/{returned_id}/details"),
            &shop.key,
        ))
        .await;
    assert_eq!((r.status, r.code()), (409, "refund_details_given"));

    // The file of a bank business day some weeks on holds both, to the customer's account.
    let day = smartpit_shared::bank_calendar::business_days_after(
        jst_date(Utc::now()) + TimeDelta::days(45),
        1,
    )
    .expect("covered");
    let out_file = std::env::temp_dir().join(format!("{}.txt", unique("refunds")));
    let args = file_args(&day.to_string(), &out_file);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out) = smartpit(s, &args);
    assert!(ok, "{out}");
    assert!(!out.contains("1234567"), "masked: {out}");
    let transfers = TransferFile::read(&std::fs::read(&out_file).expect("file")).transfers();
    let _ = std::fs::remove_file(&out_file);
    for transfer in [("1234567", "ﾔﾏﾀﾞ ﾀﾛｳ", 1_200), ("1234567", "ﾃｽﾄ ﾀﾛｳ", 300)]
    {
        let t = (transfer.0.to_string(), transfer.1.to_string(), transfer.2);
        assert!(transfers.contains(&t), "{transfers:?}");
    }
    let r = c
        .send(c.get(&format!("/v1/refunds/{paid_id}"), &shop.key))
        .await;
    assert_eq!(r.body["status"], "filed", "{:?}", r.body);
    // In a file: no longer cancellable.
    let r = c
        .send(
            c.post(&format!("/v1/refunds/{paid_id}/cancel"), &shop.key)
                .header("Idempotency-Key", unique("cx")),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "refund_not_cancellable"));

    // The bank pays one and returns the other.
    let (ok, out) = smartpit(
        s,
        &[
            "transfers",
            "confirm",
            "--date",
            &day.to_string(),
            "--failed",
            &returned_id,
            "--reason",
            "口座なし",
        ],
    );
    assert!(ok, "{out}");
    let r = c
        .send(c.get(&format!("/v1/refunds/{paid_id}"), &shop.key))
        .await;
    assert_eq!(r.body["status"], "paid", "{:?}", r.body);
    assert!(r.body["paid_at"].is_string());
    let r = c
        .send(c.get(&format!("/v1/refunds/{returned_id}"), &shop.key))
        .await;
    assert_eq!(r.body["status"], "failed", "{:?}", r.body);
    assert_eq!(r.body["failure_reason"], "口座なし");
    assert!(
        r.body["bank_account"].is_null(),
        "the wrong account is erased"
    );
    let item = s
        .item(&format!("REFUNDS#{inv}"), &format!("REFUND#{returned_id}"))
        .await
        .expect("item");
    assert!(!item.contains_key("sealed_details"));
    // Its page asks again, saying why.
    let page = reqwest::get(&returned_url).await.expect("page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("お振込みができませんでした") && html.contains("name=\"bank\""));

    // The merchant's next payout: the bill, less the refund paid.
    let close = Cycle::MonthEnd
        .period_of(jst_date(Utc::now()))
        .expect("period")
        .end;
    let run = s.stack.payout_run(&s.sdk()).expect("run");
    let after = end_of_day(close) + TimeDelta::minutes(1);
    let report = run.run_day(close, after).await.expect("run");
    let id = payout_id(&shop.id, close);
    assert!(report.created.contains(&id), "{report:?}");
    let p = c.send(c.get(&format!("/v1/payouts/{id}"), &shop.key)).await;
    assert_eq!(p.body["gross"], 5_000, "{:?}", p.body);
    assert_eq!(p.body["refunds"], 1_200, "{:?}", p.body);
    assert_eq!(
        p.body["net"].as_i64(),
        Some(5_000 - p.body["fees"].as_i64().unwrap_or(0) - 1_200)
    );

    // Its statement says so: a refund line in the CSV, 返金 in the PDF.
    let csv = c
        .send(c.get(&format!("/v1/payouts/{id}/statement.csv"), &shop.key))
        .await
        .text;
    assert!(
        csv.lines()
            .any(|l| l.contains(&paid_id) && l.contains("refund") && l.contains("-1200")),
        "{csv}"
    );
    let pdf = c
        .http
        .get(format!("{}/v1/payouts/{id}/statement.pdf", c.api))
        .bearer_auth(&shop.key)
        .send()
        .await
        .expect("pdf")
        .bytes()
        .await
        .expect("bytes");
    let text = smartpit_tests::pdf::pdf_text(&pdf);
    assert!(text.contains("返金") && text.contains(&paid_id), "{text}");

    // Thirty days after its transfer, the daily run erases the paid refund's sealed account.
    let later = run
        .run_day(close, Utc::now() + TimeDelta::days(31))
        .await
        .expect("run");
    assert!(later.refund_details_erased >= 1, "{later:?}");
    let item = s
        .item(&format!("REFUNDS#{inv}"), &format!("REFUND#{paid_id}"))
        .await
        .expect("item");
    assert!(!item.contains_key("sealed_details") && !item.contains_key("sealed_key"));

    // The merchant was told of both, signed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let kinds = |got: &[smartpit_tests::receiver::Delivery]| -> Vec<String> {
        got.iter()
            .map(|d| d.json()["type"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let mut got = shop.receiver.deliveries();
    while !(kinds(&got).contains(&"refund.paid".into())
        && kinds(&got).contains(&"refund.failed".into()))
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        got = shop.receiver.deliveries();
    }
    for d in &got {
        verify(&shop.secret, d);
    }
    let k = kinds(&got);
    assert!(
        k.contains(&"refund.paid".into()) && k.contains(&"refund.failed".into()),
        "{k:?}"
    );
}

/// The refund page in Chromium, as a customer fills it on a phone: a branch the bank does not
/// have shows its message beside the field (what was typed kept), the right one the
/// confirmation with the bank and branch by name; no script runs, nothing breaks the
/// Content-Security-Policy.
#[tokio::test]
async fn the_refund_page_is_filled_in_a_browser() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let inv = settled_bill(&c, s, &shop, 2_000, 0).await;
    let r = refund(
        &c,
        &shop.key,
        &inv,
        &unique("rf"),
        &json!({"amount": 800, "reason": "サイズ違い"}),
    )
    .await;
    let url = r.body["details_url"].as_str().expect("url").to_string();
    let rid = r.body["id"].as_str().expect("id").to_string();
    let seen = smartpit_tests::browser::drive(&json!([
        {"viewport": [390, 1400, 2]},
        {"goto": url},
        {"axe": true},
        {"fill": ["#bank", "0005"]},
        {"fill": ["#branch", "999"]},
        {"select": ["#account_type", "savings"]},
        {"fill": ["#number", "1234567"]},
        {"fill": ["#holder", "やまだ たろう"]},
        {"click": "button[type=submit]"},
        {"axe": true},
        {"fill": ["#branch", "001"]},
        {"click": "button[type=submit]"},
        {"axe": true},
    ]))
    .await;
    let form = &seen[1];
    assert_eq!(form.status, Some(200));
    assert!(form.html.contains("返金先口座のご登録") && form.html.contains("サイズ違い"));
    let refused = &seen[8];
    assert_eq!(refused.status, Some(400), "{}", refused.html);
    assert!(
        refused.html.contains("支店コードを確認してください"),
        "{}",
        refused.html
    );
    assert!(
        refused.html.contains("value=\"1234567\""),
        "what was typed is kept"
    );
    let done = &seen[11];
    assert_eq!(done.status, Some(200), "{}", done.html);
    // axe-core: the form, the form refused (aria-invalid, the messages), the page after.
    for i in [2, 9, 12] {
        smartpit_tests::browser::assert_accessible(&seen[i]);
    }
    let branch = smartpit_shared::zengin::branch("0005", "001").expect("branch");
    assert!(done.html.contains("口座情報を受け付けました") && done.html.contains(branch.name));
    // The form answered 400 is the only message (Chromium notes any 4xx document).
    let messages: Vec<&String> = seen
        .last()
        .map(|s| s.messages.iter().collect())
        .unwrap_or_default();
    assert!(
        messages
            .iter()
            .all(|m| m.contains("status of 400 (Bad Request)")),
        "no script, no CSP refusal: {messages:?}"
    );
    let r = c
        .send(c.get(&format!("/v1/refunds/{rid}"), &shop.key))
        .await;
    assert_eq!(r.body["status"], "details_received");
    assert_eq!(r.body["bank_account"]["account_type"], "savings");
}

/// A bill with the customer's mail address: the refund asks them by mail
/// (「返金手続きのお願い」 with the page's link, read back from the emulator), noted on the bill.
#[tokio::test]
async fn the_customer_of_a_bill_with_an_address_is_asked_by_mail() {
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let to = format!("{}@example.jp", unique("refund"));
    let r = c
        .register(
            &shop.key,
            &unique("idem"),
            &json!({"merchant_order_id": unique("rf"), "amount": 3_300, "due_date": due_in(5),
                    "customer": {"email": to}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let inv = r.body["id"].as_str().expect("id").to_string();
    pay(&c, s, "lawson", &inv, 3_300).await;
    settle(&c, &shop, &inv).await;
    let r = refund(
        &c,
        &shop.key,
        &inv,
        &unique("rf"),
        &json!({"amount": 3_300}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let url = r.body["details_url"].as_str().expect("url").to_string();

    // The refund's mail (the registration's sheet mail may have gone first, or been skipped
    // once the bill was paid).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let asked = loop {
        let mails = s.mail_to(&to, 1, 5).await;
        if let Some(m) = mails
            .into_iter()
            .find(|m| m.to_string().contains("返金手続きのお願い"))
        {
            break m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no refund mail to {to}"
        );
    };
    let text = asked.to_string();
    assert!(text.contains(&url), "{text}");
    assert!(text.contains("3,300"), "{text}");
    // Noted on the bill as sent.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let r = c
            .send(c.get(&format!("/v1/invoices/{inv}"), &shop.key))
            .await;
        let sent = r.body["notices"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|n| n["kind"] == "refund_mail" && n["status"] == "sent");
        if sent {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            r.body["notices"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Someone trying tokens: past the limit of unknown ones in a minute (`MISSES_PER_MINUTE`, 5
/// here) from one address, every page is refused (429 with `Retry-After`), a real one too.
#[tokio::test]
async fn tokens_tried_one_after_another_are_refused_for_the_minute() {
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let inv = settled_bill(&c, s, &shop, 1_000, 0).await;
    let r = refund(&c, &shop.key, &inv, &unique("rf"), &json!({"amount": 100})).await;
    let token = r.body["details_url"]
        .as_str()
        .and_then(|u| u.rsplit('/').next())
        .expect("token")
        .to_string();
    let pages = s
        .api_with(&["RefundPageFunction"], &[("MISSES_PER_MINUTE", "5")])
        .await;
    smartpit_tests::fresh_minute().await;
    let mut refused = None;
    for i in 0..8 {
        let guess = format!("{:0>32}", i);
        let r = pages
            .send(pages.http.get(format!("{}/r/{guess}", pages.api)))
            .await;
        match r.status {
            404 => continue,
            429 => {
                refused = Some(i);
                assert!(r.headers.contains_key("retry-after"));
                break;
            }
            other => panic!("{other}: {}", r.text),
        }
    }
    assert!(refused.is_some_and(|i| i <= 6), "{refused:?}");
    let r = pages
        .send(pages.http.get(format!("{}/r/{token}", pages.api)))
        .await;
    assert_eq!(
        r.status, 429,
        "the real page too, for the rest of the minute"
    );
}
