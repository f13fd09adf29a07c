//! Attacks a POS, a merchant's client or an attacker really makes (docs/RELIABILITY.md lists
//! each with the test that holds it): copies of one report sent at once, a retry of a voided
//! payment, odd but plausible input. Every answer is checked, and state is read back from
//! DynamoDB.

use base64::Engine;
use futures::future::join_all;
use serde_json::{json, Value};
use smartpit_shared::db::item::get_s;
use smartpit_shared::ids::payment_id;
use smartpit_shared::sheet::payment_code::{company_code, PaymentCode};
use smartpit_tests::{due_in, stack, unique, Client, Reply, TestStack};

async fn register(c: &Client, s: &TestStack, number: &str, amount: i64) -> String {
    let r = c
        .register(
            s.merchant_key(0),
            &unique("idem"),
            &json!({"merchant_order_id": unique("order"), "amount": amount,
                    "due_date": due_in(5), "smartpit_number": number}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap_or_default().to_string()
}

async fn pay(c: &Client, s: &TestStack, txn: &str, ids: &[&str], amount: i64) -> Reply {
    c.post_json(
        "/store/v1/payments",
        s.chain_key("lawson"),
        &json!({"store_code": "L-1", "store_transaction_id": txn, "invoice_ids": ids,
                "amount": amount}),
    )
    .await
}

/// RELIABILITY 1: a POS re-sends its report while the first is in flight. Every copy answers
/// 201 with the same payment; the invoice is paid once.
#[tokio::test]
async fn copies_of_a_store_report_sent_at_once_all_answer_paid() {
    let s = stack();
    let c = s.client();
    let mut answers = 0;
    for round in 0..40 {
        let number = s.fresh_card().await.to_string();
        let inv = register(&c, s, &number, 1000 + round).await;
        let txn = unique("txn");
        let ids = [inv.as_str()];
        let copies = join_all((0..3).map(|_| pay(&c, s, &txn, &ids, 1000 + round))).await;
        let pid = payment_id("lawson", &txn);
        let mut fresh = 0;
        for r in &copies {
            assert_eq!(r.status, 201, "round {round}: {:?}", r.body);
            assert_eq!(r.body["id"], pid.as_str());
            assert_eq!(r.body["status"], "completed");
            if r.headers.get("idempotent-replayed").is_none() {
                fresh += 1;
            }
            answers += 1;
        }
        assert_eq!(
            fresh, 1,
            "round {round}: exactly one copy pays, the others replay"
        );
        let rows = s.number_partition(&number).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(get_s(&rows[0], "status"), Some("paid"));
        assert_eq!(get_s(&rows[0], "payment_id"), Some(pid.as_str()));
        assert!(s.item(&format!("PAY#{pid}"), "#").await.is_some());
    }
    assert_eq!(answers, 120);
}

/// RELIABILITY 2: the retry of a report whose payment was voided since is not a success.
#[tokio::test]
async fn a_retried_report_of_a_voided_payment_is_refused() {
    let s = stack();
    let c = s.client();
    let number = s.fresh_card().await.to_string();
    let inv = register(&c, s, &number, 2500).await;
    let txn = unique("txn");
    let first = pay(&c, s, &txn, &[&inv], 2500).await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let pid = first.body["id"].as_str().unwrap_or_default().to_string();
    let void = c
        .send(c.post(
            &format!("/store/v1/payments/{pid}/void"),
            s.chain_key("lawson"),
        ))
        .await;
    assert_eq!(void.status, 200, "{:?}", void.body);
    let retry = pay(&c, s, &txn, &[&inv], 2500).await;
    assert_eq!((retry.status, retry.code()), (409, "payment_voided"));
    assert_eq!(retry.body["payment_id"], pid.as_str());
    assert!(retry.body["voided_at"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    assert_eq!(retry.content_type, "application/problem+json");
    // The invoice stays payable, and the voided payment is not revived.
    let rows = s.number_partition(&number).await;
    assert_eq!(get_s(&rows[0], "status"), Some("registered"));
    let stored = s.item(&format!("PAY#{pid}"), "#").await.expect("payment");
    assert_eq!(get_s(&stored, "status"), Some("voided"));
}

/// RELIABILITY 3: one payment covers one number (one visit with one card or sheet).
#[tokio::test]
async fn a_payment_may_not_mix_numbers() {
    let s = stack();
    let c = s.client();
    let (n1, n2) = (
        s.fresh_card().await.to_string(),
        s.fresh_card().await.to_string(),
    );
    let a = register(&c, s, &n1, 100).await;
    let b = register(&c, s, &n2, 200).await;
    let txn = unique("txn");
    let r = pay(&c, s, &txn, &[&a, &b], 300).await;
    assert_eq!((r.status, r.code()), (422, "mixed_numbers"), "{:?}", r.body);
    // The problem's type is a page of this service that says what the code means.
    let doc = r.body["type"].as_str().unwrap_or_default().to_string();
    assert_eq!(doc, format!("{}/problems/mixed_numbers", s.api));
    let page = reqwest::get(&doc).await.expect("type page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap_or_default();
    assert!(
        html.contains("mixed_numbers") && html.contains("422"),
        "{html}"
    );
    let none = reqwest::get(format!("{}/problems/no_such_code", s.api))
        .await
        .expect("unknown");
    assert_eq!(none.status().as_u16(), 404);
    for n in [&n1, &n2] {
        let rows = s.number_partition(n).await;
        assert_eq!(get_s(&rows[0], "status"), Some("registered"));
    }
    assert!(s
        .item(&format!("PAY#{}", payment_id("lawson", &txn)), "#")
        .await
        .is_none());
}

/// A registration body with one field replaced, sent raw (to keep duplicates and odd text).
async fn register_raw(s: &TestStack, body: String) -> Reply {
    let c = s.client();
    c.send(
        c.post("/v1/invoices", s.merchant_key(0))
            .header("content-type", "application/json")
            .header("Idempotency-Key", unique("idem"))
            .body(body),
    )
    .await
}

/// Asserts a refusal and that the merchant has no invoice with this order id.
async fn refused(s: &TestStack, r: &Reply, status: u16, code: &str, order: &str, what: &str) {
    assert_eq!((r.status, r.code()), (status, code), "{what}: {:?}", r.body);
    assert_eq!(r.content_type, "application/problem+json", "{what}");
    let merchant = s.merchant_id(0);
    assert!(
        s.item(&format!("MER#{merchant}"), &format!("ORDER#{order}"))
            .await
            .is_none(),
        "{what}: something was written"
    );
}

/// RELIABILITY 5, 9, 10, 12: odd but plausible values are refused with their code, and
/// nothing is written.
#[tokio::test]
async fn odd_but_plausible_values_are_refused_and_write_nothing() {
    let s = stack();
    let number = s.fresh_card().await.to_string();
    let grouped = format!("{} {} {}", &number[..4], &number[4..8], &number[8..]);
    let body = |order: &str, field: &str, value: Value| {
        let mut b = json!({"merchant_order_id": order, "amount": 1000, "due_date": due_in(3),
                           "smartpit_number": number});
        b[field] = value;
        b.to_string()
    };
    let today = due_in(0);
    let unpadded = format!("+{}-{}", &today[..7], today[8..].trim_start_matches('0'));
    let spaced = format!("{} {}", &today[..8], &today[8..]);
    let mut cases: Vec<(&str, Value, &str)> = vec![
        ("due_date", json!(unpadded), "invalid_due_date"),
        ("due_date", json!(spaced), "invalid_due_date"),
        (
            "due_date",
            json!(format!("{today}T00:00:00")),
            "invalid_due_date",
        ),
        (
            "smartpit_number",
            json!(number
                .chars()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join("-")),
            "invalid_number",
        ),
        (
            "smartpit_number",
            json!(format!("--{number}--")),
            "invalid_number",
        ),
        (
            "smartpit_number",
            json!(format!(" {number}")),
            "invalid_number",
        ),
        (
            "smartpit_number",
            json!(format!("{}  {}", &number[..4], &number[4..])),
            "invalid_number",
        ),
    ];
    for c in [
        '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}',
        '\u{2068}', '\u{2069}', '\u{2028}', '\u{2029}', '\u{200b}', '\u{200d}', '\u{feff}',
    ] {
        cases.push((
            "description",
            json!(format!("ノート{c}3冊")),
            "invalid_description",
        ));
    }
    for bad in [
        "a@b@c.jp",
        "a..b@c.jp",
        ".a@c.jp",
        "a@c..jp",
        "a@-c.jp",
        "=?utf-8?B?44GC?=@c.jp",
        "taro@example.jp\r\nBcc: x@y.jp",
    ] {
        cases.push(("customer", json!({"email": bad}), "invalid_email"));
        cases.push(("customer", json!({"mobile_email": bad}), "invalid_email"));
    }
    for (field, value, code) in cases {
        let order = unique("order");
        let r = register_raw(s, body(&order, field, value.clone())).await;
        refused(s, &r, 400, code, &order, &format!("{field}={value}")).await;
    }
    assert!(s.number_partition(&number).await.is_empty());
    // The printed grouping is fine.
    let order = unique("order");
    let ok = register_raw(s, body(&order, "smartpit_number", json!(grouped))).await;
    assert_eq!(ok.status, 201, "{:?}", ok.body);
    assert_eq!(ok.body["smartpit_number"], number.as_str());
}

/// RELIABILITY 11: a member named twice is refused on every route that takes a body.
#[tokio::test]
async fn a_duplicated_member_is_refused_on_every_route() {
    let s = stack();
    let c = s.client();
    let number = s.fresh_card().await.to_string();
    let order = unique("order");
    let due = due_in(3);
    let routes: Vec<(&str, &str, String)> = vec![
        (
            "/v1/invoices",
            s.merchant_key(0),
            format!(r#"{{"merchant_order_id":"{order}","amount":1,"amount":300000,"due_date":"{due}","smartpit_number":"{number}"}}"#),
        ),
        (
            "/v1/invoices",
            s.merchant_key(0),
            format!(r#"{{"merchant_order_id":"{order}","amount":1,"due_date":"{due}","customer":{{"email":"a@b.jp","email":"c@d.jp"}}}}"#),
        ),
        ("/v1/joint-cards", s.merchant_key(0), r#"{"count":1,"count":1000}"#.to_string()),
        (
            "/store/v1/lookup",
            s.chain_key("lawson"),
            format!(r#"{{"store_code":"L-1","store_code":"L-2","smartpit_number":"{number}"}}"#),
        ),
        (
            "/store/v1/payments",
            s.chain_key("lawson"),
            r#"{"store_code":"L-1","store_transaction_id":"T-1","invoice_ids":["x"],"amount":1,"amount":2}"#.to_string(),
        ),
    ];
    for (path, key, body) in routes {
        let r = c
            .send(
                c.post(path, key)
                    .header("content-type", "application/json")
                    .header("Idempotency-Key", unique("idem"))
                    .body(body.clone()),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "duplicate_field"),
            "{path} {body}: {:?}",
            r.body
        );
    }
    let merchant = s.merchant_id(0);
    assert!(s
        .item(&format!("MER#{merchant}"), &format!("ORDER#{order}"))
        .await
        .is_none());
    assert!(s.number_partition(&number).await.is_empty());
}

/// RELIABILITY 13: a cursor this service did not issue is 400, never 500 or another's data.
#[tokio::test]
async fn forged_cursors_are_refused() {
    let s = stack();
    let c = s.client();
    let me = s.merchant_id(0);
    let other = s.merchant_id(1);
    let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let number = s.fresh_card().await.to_string();
    let id = register(&c, s, &number, 700).await;
    let forged = [
        enc(json!({"gsi1pk": format!("MER#{me}")})),
        enc(json!({"gsi1pk": format!("MER#{other}"), "gsi1sk": "x", "pk": "x", "sk": "x"})),
        enc(
            json!({"pk": format!("NUM#{number}"), "sk": format!("INV#{id}"),
                   "gsi1pk": format!("MER#{me}"), "gsi1sk": "not-a-time#x"}),
        ),
        enc(
            json!({"pk": format!("NUM#{number}"), "sk": format!("INV#{id}"),
                   "gsi1pk": format!("MER#{me}"), "gsi1sk": format!("2026-01-01T00:00:00.000Z#{id}"),
                   "extra": "x"}),
        ),
        enc(json!({"pk": 1, "sk": 2})),
        enc(json!([])),
        "%%%".to_string(),
        "A".repeat(5000),
    ];
    for cursor in forged {
        let r = c
            .send(
                c.get("/v1/invoices", s.merchant_key(0))
                    .query(&[("cursor", cursor.as_str()), ("limit", "5")]),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_cursor"),
            "{cursor}: {:?}",
            r.body
        );
    }
    // A real cursor still works.
    register(&c, s, &number, 800).await;
    let page = c
        .send(c.get("/v1/invoices?limit=1", s.merchant_key(0)))
        .await;
    let next = page.body["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_string();
    let r = c
        .send(
            c.get("/v1/invoices", s.merchant_key(0))
                .query(&[("cursor", next.as_str()), ("limit", "1")]),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// RELIABILITY 14: a sheet's printed code must match the bill as it stands.
#[tokio::test]
async fn a_stale_or_altered_sheet_barcode_is_refused() {
    let s = stack();
    let c = s.client();
    let due = due_in(4);
    let r = c
        .register(
            s.merchant_key(0),
            &unique("idem"),
            &json!({"merchant_order_id": unique("o"), "amount": 4321, "due_date": due,
                    "customer": {"email": format!("{}@example.jp", unique("kenta"))}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let number: smartpit_shared::SmartPitNumber = r.body["smartpit_number"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .expect("number");
    let day = chrono::NaiveDate::parse_from_str(&due, "%Y-%m-%d").expect("date");
    let scan = |code: String| {
        let c = c.clone();
        async move {
            c.post_json(
                "/store/v1/lookup",
                s.chain_key("circle-k"),
                &json!({"store_code": "K-1", "barcode": code}),
            )
            .await
        }
    };
    let cc = company_code();
    for (what, code) in [
        ("altered amount", PaymentCode::new(&cc, number, day, 4320)),
        (
            "other deadline",
            PaymentCode::new(&cc, number, day.succ_opt().expect("day"), 4321),
        ),
    ] {
        let r = scan(code.digits()).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "stale_barcode"),
            "{what}: {:?}",
            r.body
        );
        assert!(r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("4321")));
    }
    let ok = scan(PaymentCode::new(&cc, number, day, 4321).digits()).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(ok.body["total_amount"], 4321);
}

#[tokio::test]
async fn keys_are_bound_to_their_environment_revoked_and_rotated() {
    use smartpit_cli::onboard;
    use smartpit_shared::db::keys::KeyOwner;
    let s = stack();
    let c = s.client();
    let db = s.db();
    let merchant = unique("keys");
    let key = onboard::merchant_key(&db, &merchant, "鍵の店", false)
        .await
        .expect("onboard");
    assert!(key.starts_with("sk_test_"), "{key}");
    let ok = |key: String| {
        let c = &c;
        async move { c.send(c.get("/v1/invoices?limit=1", &key)).await.status }
    };
    assert_eq!(ok(key.clone()).await, 200);

    // A live key, stored and valid there, is refused by a test stack before any lookup.
    let live = format!("sk_live_{}", unique("x").replace('-', ""));
    db.put_merchant(
        &smartpit_shared::auth::Merchant {
            id: merchant.clone(),
            name: "鍵の店".into(),
        },
        &live,
        chrono::Utc::now(),
    )
    .await
    .expect("live key");
    let wrong = c.send(c.get("/v1/invoices?limit=1", &live)).await;
    assert_eq!((wrong.status, wrong.code()), (401, "unauthorized"));
    assert!(wrong.body["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("test keys"));

    // Rotation: a new key at once; with no grace the old one stops.
    let owner = KeyOwner::Merchant(merchant.clone());
    let (second, ended) = onboard::rotate(&db, &owner, 3600).await.expect("rotate");
    assert!(ended >= 1);
    // A cold start of the function (a warm one trusts a key it has seen for 60 s).
    s.functions
        .restart("InvoicesFunction")
        .await
        .expect("restart");
    assert_eq!(ok(second.clone()).await, 200);
    assert_eq!(
        ok(key.clone()).await,
        200,
        "the old key works during the grace period"
    );
    let (third, _) = onboard::rotate(&db, &owner, 0).await.expect("rotate");
    // A cold start of the function (a warm one trusts a key it has seen for 60 s).
    s.functions
        .restart("InvoicesFunction")
        .await
        .expect("restart");
    assert_eq!(ok(third.clone()).await, 200);
    assert_eq!(ok(key.clone()).await, 401, "past its end");
    assert_eq!(ok(second.clone()).await, 401);

    // Listing shows prefixes and states, never a key; revoking by prefix stops the key.
    let listed = db.list_keys(&owner).await.expect("list");
    let prefix = smartpit_shared::db::keys::key_prefix(&third);
    assert!(listed
        .iter()
        .any(|k| k.prefix == prefix && k.state(chrono::Utc::now()) == "active"));
    assert!(listed.iter().all(|k| k.prefix.len() == 16));
    assert_eq!(
        db.revoke_key(&prefix, chrono::Utc::now())
            .await
            .expect("revoke"),
        Some(owner.clone())
    );
    // A cold start of the function (a warm one trusts a key it has seen for 60 s).
    s.functions
        .restart("InvoicesFunction")
        .await
        .expect("restart");
    assert_eq!(ok(third).await, 401);
    let after = db.list_keys(&owner).await.expect("list");
    assert!(after
        .iter()
        .any(|k| k.prefix == prefix && k.state(chrono::Utc::now()) == "revoked"));
    assert_eq!(
        db.revoke_key("sk_test_nothing1", chrono::Utc::now())
            .await
            .expect("revoke"),
        None
    );
}

/// A request as API Gateway hands it to a function (for functions built with test settings).
/// The limit these tests give the functions (the template's is sized for a whole chain).
const TEST_MISS_LIMIT: i64 = 20;

fn status_code(r: &Reply) -> (u16, String) {
    (r.status, r.code().to_string())
}

/// A chain key that guesses numbers is refused (429, every lookup, hits too) for the rest of
/// the minute once its misses pass the limit (`MISSES_PER_MINUTE`; 20 here).
#[tokio::test]
async fn a_key_guessing_numbers_is_refused_for_the_minute() {
    let s = stack();
    let c = s.client();
    // The store function's own processes, with the limit set as a deploy would set it.
    let limit = TEST_MISS_LIMIT.to_string();
    let store = s
        .api_with(&["StoreFunction"], &[("MISSES_PER_MINUTE", &limit)])
        .await;
    // A bill the guesser would find.
    let card = s.fresh_card().await.to_string();
    let r = c
        .register(
            s.merchant_key(0),
            &unique("idem"),
            &json!({"merchant_order_id": unique("o"), "amount": 100, "due_date": due_in(2),
                    "smartpit_number": card}),
        )
        .await;
    assert_eq!(r.status, 201);
    smartpit_tests::fresh_minute().await;
    let key = s.chain_key("three-f");
    let look = |barcode: String| {
        let body = json!({"store_code": "F-1", "barcode": barcode});
        let store = &store;
        async move { store.post_json("/store/v1/lookup", key, &body).await }
    };
    let mut refused = None;
    for i in 0..(TEST_MISS_LIMIT + 10) {
        let guess = smartpit_shared::SmartPitNumber::random(
            smartpit_shared::NumberKind::Card,
            &mut rand::rng(),
        );
        let resp = look(guess.to_string()).await;
        let (status, code) = status_code(&resp);
        if status == 429 {
            refused = Some((i, code, resp));
            break;
        }
        assert_eq!(code, "billing_not_found");
    }
    let (i, code, resp) = refused.expect("refused past the limit");
    assert_eq!(
        i, TEST_MISS_LIMIT,
        "the first miss past the limit is refused"
    );
    assert_eq!(code, "too_many_failed_lookups");
    let wait: i64 = resp
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((1..=60).contains(&wait), "{wait}");
    // A hit is refused too: a guesser learns nothing from which answers are not 429.
    assert_eq!(status_code(&look(card.clone()).await).0, 429);
    // Other chains are not affected.
    let other = c
        .post_json(
            "/store/v1/lookup",
            s.chain_key("sunkus"),
            &json!({"store_code": "S-1", "barcode": card}),
        )
        .await;
    assert_eq!(other.status, 200);
}

/// A merchant probing numbers with registrations is refused the same way.
#[tokio::test]
async fn a_merchant_probing_numbers_is_refused_for_the_minute() {
    let s = stack();
    let limit = TEST_MISS_LIMIT.to_string();
    let invoices = s
        .api_with(&["InvoicesFunction"], &[("MISSES_PER_MINUTE", &limit)])
        .await;
    let key = smartpit_cli::onboard::merchant_key(&s.db(), &unique("probe"), "探り屋", false)
        .await
        .expect("merchant");
    smartpit_tests::fresh_minute().await;
    let register = |number: String| {
        let body = json!({"merchant_order_id": unique("o"), "amount": 100,
                          "due_date": due_in(2), "smartpit_number": number});
        let invoices = &invoices;
        let key = &key;
        async move { invoices.register(key, &unique("idem"), &body).await }
    };
    let mut refused_at = None;
    for i in 0..(TEST_MISS_LIMIT + 10) {
        let guess = smartpit_shared::SmartPitNumber::random(
            smartpit_shared::NumberKind::Card,
            &mut rand::rng(),
        );
        let (status, code) = status_code(&register(guess.to_string()).await);
        if status == 429 {
            assert_eq!(code, "too_many_failed_lookups");
            refused_at = Some(i);
            break;
        }
        assert_eq!(code, "number_not_found");
    }
    assert_eq!(refused_at, Some(TEST_MISS_LIMIT));
    // Real registrations of the same merchant are refused for the minute too.
    let card = s.fresh_card().await.to_string();
    assert_eq!(status_code(&register(card).await).0, 429);
}
