//! The money path end to end over HTTP: register, look up, pay, void, cancel; replays, races
//! and isolation between merchants. State is read back from DynamoDB.

use serde_json::{json, Value};
use smartpit_shared::db::item::{get_n, get_s};
use smartpit_tests::{due_in, stack, unique, Client, TestStack};

async fn register(
    c: &Client,
    s: &TestStack,
    merchant: usize,
    number: &str,
    amount: i64,
    days: i64,
) -> Value {
    let r = c
        .register(
            s.merchant_key(merchant),
            &unique("idem"),
            &json!({"merchant_order_id": unique("order"), "amount": amount,
                    "due_date": due_in(days), "smartpit_number": number}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn register_lookup_pay_and_the_merchant_sees_paid() {
    let s = stack();
    let c = s.client();
    let number = s.fresh_card().await.to_string();
    // Two merchants bill the same card; the store sees both, earliest due first.
    let later = register(&c, s, 0, &number, 1200, 10).await;
    let sooner = register(&c, s, 1, &number, 3456, 2).await;
    assert_eq!(later["status"], "registered");
    assert_eq!(later["smartpit_number"], number);

    let lawson = s.chain_key("lawson");
    let look = c
        .post_json(
            "/store/v1/lookup",
            lawson,
            &json!({"store_code": "L0001", "smartpit_number": number}),
        )
        .await;
    assert_eq!(look.status, 200, "{:?}", look.body);
    let listed: Vec<&str> = look.body["invoices"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(listed, [id_of(&sooner), id_of(&later)]);
    assert_eq!(look.body["invoices"][0]["merchant_name"], "サンプル書店");
    assert_eq!(look.body["total_amount"], 4656);

    let pay = c
        .post_json(
            "/store/v1/payments",
            lawson,
            &json!({"store_code": "L0001", "store_transaction_id": unique("txn"),
                    "invoice_ids": [id_of(&sooner), id_of(&later)], "amount": 4656}),
        )
        .await;
    assert_eq!(pay.status, 201, "{:?}", pay.body);
    assert_eq!(pay.body["status"], "completed");
    let payment_id = pay.body["id"].as_str().unwrap_or_default().to_string();

    // Each merchant sees its own invoice paid.
    for (m, inv) in [(0, &later), (1, &sooner)] {
        let got = c
            .send(c.get(&format!("/v1/invoices/{}", id_of(inv)), s.merchant_key(m)))
            .await;
        assert_eq!(got.status, 200);
        assert_eq!(got.body["status"], "paid");
        assert_eq!(got.body["payment_id"], payment_id.as_str());
        assert_eq!(got.body["store_chain"], "lawson");
    }
    // And the table agrees.
    let rows = s.number_partition(&number).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| get_s(r, "status") == Some("paid")));
    let stored = s
        .item(&format!("PAY#{payment_id}"), "#")
        .await
        .expect("payment stored");
    assert_eq!(get_n(&stored, "amount"), Some(4656));
    // Nothing is left to pay on the number.
    let again = c
        .post_json(
            "/store/v1/lookup",
            lawson,
            &json!({"store_code": "L0001", "smartpit_number": number}),
        )
        .await;
    assert_eq!(again.status, 404);
    assert_eq!(again.code(), "billing_not_found");
    assert_eq!(again.body["title"], "請求情報が存在しません");
    assert_eq!(again.content_type, "application/problem+json");
    // The merchant's listing shows it under paid.
    let list = c
        .send(c.get("/v1/invoices?status=paid&limit=100", s.merchant_key(0)))
        .await;
    assert!(list.body["invoices"]
        .as_array()
        .is_some_and(|a| a.iter().any(|i| i["id"] == later["id"])));
}

#[tokio::test]
async fn a_payment_replay_returns_the_first_result() {
    let s = stack();
    let c = s.client();
    let number = s.fresh_card().await.to_string();
    let inv = register(&c, s, 0, &number, 5000, 5).await;
    let body = json!({"store_code": "F-12", "store_transaction_id": unique("txn"),
                      "invoice_ids": [id_of(&inv)], "amount": 5000});
    let key = s.chain_key("familymart");
    let first = c.post_json("/store/v1/payments", key, &body).await;
    let second = c.post_json("/store/v1/payments", key, &body).await;
    assert_eq!(first.status, 201);
    assert_eq!(second.status, 201);
    assert_eq!(first.body, second.body);
    assert_eq!(
        second
            .headers
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    // The same transaction id with other content is refused and changes nothing.
    let mut other = body.clone();
    other["store_code"] = json!("F-99");
    let third = c.post_json("/store/v1/payments", key, &other).await;
    assert_eq!(third.status, 422);
    assert_eq!(third.code(), "store_transaction_reused");
    // Another chain's same transaction id is another payment; the invoice is already paid.
    let lawson = c
        .post_json("/store/v1/payments", s.chain_key("lawson"), &body)
        .await;
    assert_eq!(lawson.status, 409);
    assert_eq!(lawson.code(), "invoice_not_payable");
    assert_eq!(lawson.body["invoice_id"], inv["id"]);
    assert_eq!(lawson.body["invoice_status"], "paid");
    assert_eq!(lawson.body["status"], 409);
}

#[tokio::test]
async fn twenty_concurrent_payments_of_one_invoice_pay_it_once() {
    let s = stack();
    let c = s.client();
    let number = s.fresh_card().await.to_string();
    let inv = register(&c, s, 0, &number, 777, 3).await;
    let key = s.chain_key("ministop").to_string();
    let attempts = (0..20).map(|i| {
        let c = c.clone();
        let key = key.clone();
        let body = json!({"store_code": format!("M{i}"), "store_transaction_id": unique("race"),
                          "invoice_ids": [id_of(&inv)], "amount": 777});
        async move { c.post_json("/store/v1/payments", &key, &body).await }
    });
    let replies = futures::future::join_all(attempts).await;
    let won: Vec<_> = replies.iter().filter(|r| r.status == 201).collect();
    assert_eq!(
        won.len(),
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(replies
        .iter()
        .filter(|r| r.status != 201)
        .all(|r| r.status == 409 && r.code() == "invoice_not_payable"));
    let rows = s.number_partition(&number).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(get_s(&rows[0], "status"), Some("paid"));
    assert_eq!(get_s(&rows[0], "payment_id"), won[0].body["id"].as_str());
}

#[tokio::test]
async fn all_or_nothing_and_the_amount_must_match() {
    let s = stack();
    let c = s.client();
    let number = s.fresh_card().await.to_string();
    let a = register(&c, s, 0, &number, 1000, 3).await;
    let b = register(&c, s, 0, &number, 2000, 3).await;
    let lawson = s.chain_key("lawson");
    let wrong = c
        .post_json(
            "/store/v1/payments",
            lawson,
            &json!({"store_code": "L1", "store_transaction_id": unique("t"),
                    "invoice_ids": [id_of(&a), id_of(&b)], "amount": 2999}),
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert_eq!(wrong.code(), "amount_mismatch");
    assert_eq!(wrong.body["expected_amount"], 3000);
    // Cancel b, then paying both fails as a whole: a stays registered.
    let cancel = c
        .send(c.post(
            &format!("/v1/invoices/{}/cancel", id_of(&b)),
            s.merchant_key(0),
        ))
        .await;
    assert_eq!(cancel.status, 200);
    assert_eq!(cancel.body["status"], "cancelled");
    let both = c
        .post_json(
            "/store/v1/payments",
            lawson,
            &json!({"store_code": "L1", "store_transaction_id": unique("t"),
                    "invoice_ids": [id_of(&a), id_of(&b)], "amount": 3000}),
        )
        .await;
    assert_eq!(both.status, 409);
    assert_eq!(both.body["invoice_id"], b["id"]);
    assert_eq!(both.body["invoice_status"], "cancelled");
    let stored = s.number_partition(&number).await;
    let status_of = |id: &Value| {
        stored
            .iter()
            .find(|r| get_s(r, "id") == id.as_str())
            .and_then(|r| get_s(r, "status"))
            .map(str::to_string)
    };
    assert_eq!(status_of(&a["id"]).as_deref(), Some("registered"));
    assert_eq!(status_of(&b["id"]).as_deref(), Some("cancelled"));
    // A paid invoice cannot be cancelled.
    let pay = c
        .post_json(
            "/store/v1/payments",
            lawson,
            &json!({"store_code": "L1", "store_transaction_id": unique("t"),
                    "invoice_ids": [id_of(&a)], "amount": 1000}),
        )
        .await;
    assert_eq!(pay.status, 201);
    let late = c
        .send(c.post(
            &format!("/v1/invoices/{}/cancel", id_of(&a)),
            s.merchant_key(0),
        ))
        .await;
    assert_eq!(late.status, 409);
    assert_eq!(late.code(), "invoice_not_cancellable");
}

#[tokio::test]
async fn a_same_day_void_makes_the_invoice_payable_again() {
    let s = stack();
    let c = s.client();
    let number = s.fresh_card().await.to_string();
    let inv = register(&c, s, 1, &number, 4321, 4).await;
    let lawson = s.chain_key("lawson");
    let pay = c
        .post_json(
            "/store/v1/payments",
            lawson,
            &json!({"store_code": "L2", "store_transaction_id": unique("t"),
                    "invoice_ids": [id_of(&inv)], "amount": 4321}),
        )
        .await;
    assert_eq!(pay.status, 201);
    let pid = pay.body["id"].as_str().unwrap_or_default().to_string();
    // Another chain cannot void it.
    let foreign = c
        .send(c.post(
            &format!("/store/v1/payments/{pid}/void"),
            s.chain_key("ministop"),
        ))
        .await;
    assert_eq!(foreign.status, 404);
    let void = c
        .send(c.post(&format!("/store/v1/payments/{pid}/void"), lawson))
        .await;
    assert_eq!(void.status, 200, "{:?}", void.body);
    assert_eq!(void.body["status"], "voided");
    let rows = s.number_partition(&number).await;
    assert_eq!(get_s(&rows[0], "status"), Some("registered"));
    assert!(get_s(&rows[0], "payment_id").is_none());
    let look = c
        .post_json(
            "/store/v1/lookup",
            lawson,
            &json!({"store_code": "L2", "smartpit_number": number}),
        )
        .await;
    assert_eq!(look.status, 200);
    assert_eq!(look.body["invoices"][0]["id"], inv["id"]);
    // Voiding twice answers the same.
    let twice = c
        .send(c.post(&format!("/store/v1/payments/{pid}/void"), lawson))
        .await;
    assert_eq!(twice.status, 200);
    assert_eq!(twice.body["status"], "voided");
}

#[tokio::test]
async fn register_chains_take_barcodes_not_typed_numbers() {
    let s = stack();
    let c = s.client();
    let number = s.fresh_card().await.to_string();
    register(&c, s, 0, &number, 990, 1).await;
    let circle_k = s.chain_key("circle-k");
    let typed = c
        .post_json(
            "/store/v1/lookup",
            circle_k,
            &json!({"store_code": "C1", "smartpit_number": number}),
        )
        .await;
    assert_eq!(typed.status, 400);
    assert_eq!(typed.code(), "channel_not_supported");
    let scanned = c
        .post_json(
            "/store/v1/lookup",
            circle_k,
            &json!({"store_code": "C1", "barcode": number}),
        )
        .await;
    assert_eq!(scanned.status, 200, "{:?}", scanned.body);
    assert_eq!(scanned.body["invoices"][0]["amount"], 990);
}

#[tokio::test]
async fn idempotent_registration() {
    let s = stack();
    let c = s.client();
    let number = s.fresh_card().await.to_string();
    let key = unique("idem");
    let body = json!({"merchant_order_id": unique("order"), "amount": 1500,
                      "due_date": due_in(7), "smartpit_number": number});
    let first = c.register(s.merchant_key(0), &key, &body).await;
    let replay = c.register(s.merchant_key(0), &key, &body).await;
    assert_eq!(first.status, 201);
    assert_eq!(replay.status, 201);
    assert_eq!(first.body, replay.body);
    assert!(replay.headers.contains_key("idempotent-replayed"));
    assert_eq!(s.number_partition(&number).await.len(), 1);
    // Same key, other body: 422 and nothing new.
    let mut changed = body.clone();
    changed["amount"] = json!(1501);
    let reused = c.register(s.merchant_key(0), &key, &changed).await;
    assert_eq!(reused.status, 422);
    assert_eq!(reused.code(), "idempotency_key_reused");
    // Keys are per merchant: the other merchant's same key is a new request.
    let other = c
        .register(
            s.merchant_key(1),
            &key,
            &json!({"merchant_order_id": unique("order"), "amount": 1500,
                    "due_date": due_in(7), "smartpit_number": number}),
        )
        .await;
    assert_eq!(other.status, 201);
    assert_eq!(s.number_partition(&number).await.len(), 2);
    // Same order id under a new key: 409 naming the first invoice.
    let dup = c.register(s.merchant_key(0), &unique("idem"), &body).await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.code(), "duplicate_order_id");
    assert_eq!(dup.body["invoice_id"], first.body["id"]);
    // While a request with the key is still running, another gets 409.
    let busy_key = unique("idem");
    let fresh = json!({"merchant_order_id": unique("order"), "amount": 10,
                       "due_date": due_in(1), "smartpit_number": number});
    let fp = smartpit_shared::idempotent::fingerprint("POST", "/v1/invoices", &fresh);
    let claim = s
        .db()
        .claim_idempotency_key(s.merchant_id(0), &busy_key, &fp, chrono::Utc::now())
        .await;
    assert!(matches!(claim, Ok(smartpit_shared::db::Claim::Proceed(_))));
    let busy = c.register(s.merchant_key(0), &busy_key, &fresh).await;
    assert_eq!(busy.status, 409);
    assert_eq!(busy.code(), "idempotency_key_in_use");
}

#[tokio::test]
async fn merchants_never_see_each_others_invoices() {
    let s = stack();
    let c = s.client();
    let number = s.fresh_card().await.to_string();
    let mine = register(&c, s, 0, &number, 2500, 6).await;
    let (a, b) = (s.merchant_key(0), s.merchant_key(1));
    let read = c
        .send(c.get(&format!("/v1/invoices/{}", id_of(&mine)), b))
        .await;
    assert_eq!(read.status, 404);
    assert_eq!(read.code(), "invoice_not_found");
    let cancel = c
        .send(c.post(&format!("/v1/invoices/{}/cancel", id_of(&mine)), b))
        .await;
    assert_eq!(cancel.status, 404);
    let listed = c.send(c.get("/v1/invoices?limit=100", b)).await;
    assert_eq!(listed.status, 200);
    assert!(listed.body["invoices"]
        .as_array()
        .is_some_and(|l| l.iter().all(|i| i["id"] != mine["id"])));
    // A's own page cursor is refused to B.
    let page = c.send(c.get("/v1/invoices?limit=1", a)).await;
    let cursor = page.body["next_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!cursor.is_empty());
    let stolen = c
        .send(c.get(&format!("/v1/invoices?limit=1&cursor={cursor}"), b))
        .await;
    assert_eq!(stolen.status, 400);
    assert_eq!(stolen.code(), "invalid_cursor");
    // Still registered, untouched.
    let rows = s.number_partition(&number).await;
    assert_eq!(get_s(&rows[0], "status"), Some("registered"));
    // A store key is not a merchant key, nor the reverse.
    let store_as_merchant = c.send(c.get("/v1/invoices", s.chain_key("lawson"))).await;
    assert_eq!(store_as_merchant.status, 401);
    let merchant_as_store = c
        .post_json(
            "/store/v1/lookup",
            a,
            &json!({"store_code": "L1", "smartpit_number": number}),
        )
        .await;
    assert_eq!(merchant_as_store.status, 401);
}

#[tokio::test]
async fn listing_pages_through_every_invoice_once() {
    let s = stack();
    let c = s.client();
    let number = s.fresh_card().await.to_string();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(id_of(&register(&c, s, 1, &number, 100, 1).await));
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cur) => format!("/v1/invoices?limit=2&cursor={cur}"),
            None => "/v1/invoices?limit=2".to_string(),
        };
        let page = c.send(c.get(&path, s.merchant_key(1))).await;
        assert_eq!(page.status, 200);
        for i in page.body["invoices"].as_array().into_iter().flatten() {
            seen.push(i["id"].as_str().unwrap_or_default().to_string());
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    for id in &ids {
        assert_eq!(seen.iter().filter(|s| *s == id).count(), 1, "{id}");
    }
}

#[tokio::test]
async fn a_lost_cards_bill_moves_to_the_new_card() {
    let s = stack();
    let c = s.client();
    let old_card = s.fresh_card().await.to_string();
    let new_card = s.fresh_card().await.to_string();
    let order = unique("order");
    let r = c
        .register(
            s.merchant_key(0),
            &unique("idem"),
            &json!({"merchant_order_id": order, "amount": 2_500, "due_date": due_in(4),
                    "smartpit_number": old_card}),
        )
        .await;
    assert_eq!(r.status, 201);
    let old_id = id_of(&r.body);
    let move_to = |number: &str, key: String| {
        let body = json!({"smartpit_number": number});
        let path = format!("/v1/invoices/{old_id}/move");
        let c = &c;
        async move {
            c.send(
                c.post(&path, s.merchant_key(0))
                    .header("Idempotency-Key", key)
                    .json(&body),
            )
            .await
        }
    };
    let key = unique("idem");
    let moved = move_to(&new_card, key.clone()).await;
    assert_eq!(moved.status, 201, "{:?}", moved.body);
    let new_id = id_of(&moved.body);
    assert_ne!(new_id, old_id);
    assert_eq!(moved.body["smartpit_number"], new_card.as_str());
    assert_eq!(moved.body["moved_from"], old_id.as_str());
    assert_eq!(moved.body["merchant_order_id"], order.as_str());
    let replay = move_to(&new_card, key).await;
    assert_eq!(replay.body, moved.body);

    // The old number no longer shows it; the new one does; the old bill says where it went.
    let look = |number: String| {
        let c = &c;
        async move {
            c.post_json(
                "/store/v1/lookup",
                s.chain_key("lawson"),
                &json!({"store_code": "L1", "smartpit_number": number}),
            )
            .await
        }
    };
    assert_eq!(look(old_card.clone()).await.code(), "billing_not_found");
    let found = look(new_card.clone()).await;
    assert_eq!(found.body["invoices"][0]["id"], new_id.as_str());
    let old = c
        .send(c.get(&format!("/v1/invoices/{old_id}"), s.merchant_key(0)))
        .await;
    assert_eq!(
        (&old.body["status"], &old.body["moved_to"]),
        (&json!("moved"), &json!(new_id))
    );
    // The order id follows the bill; a moved bill moves no further, nor to a sheet.
    let dup = c
        .register(
            s.merchant_key(0),
            &unique("idem"),
            &json!({"merchant_order_id": order, "amount": 1, "due_date": due_in(4),
                    "smartpit_number": new_card}),
        )
        .await;
    assert_eq!(
        (dup.status, dup.body["invoice_id"].as_str()),
        (409, Some(new_id.as_str()))
    );
    let third = s.fresh_card().await.to_string();
    let again = move_to(&third, unique("idem")).await;
    assert_eq!(
        (again.status, again.code()),
        (409, "invoice_not_changeable")
    );
    // Another merchant cannot move it.
    let theirs = c
        .send(
            c.post(&format!("/v1/invoices/{new_id}/move"), s.merchant_key(1))
                .header("Idempotency-Key", unique("idem"))
                .json(&json!({"smartpit_number": old_card})),
        )
        .await;
    assert_eq!(theirs.status, 404);
    // Paying the moved bill on the new card works as any other.
    let pay = c
        .post_json(
            "/store/v1/payments",
            s.chain_key("lawson"),
            &json!({"store_code": "L1", "store_transaction_id": unique("t"),
                    "invoice_ids": [new_id], "amount": 2_500}),
        )
        .await;
    assert_eq!(pay.status, 201, "{:?}", pay.body);
}

/// The operator's smoke command (`smartpit smoke`) passes against the local stack.
#[tokio::test]
async fn the_smoke_command_passes_against_the_local_stack() {
    let s = stack();
    let card = s.fresh_card().await.to_string();
    let smoke = smartpit_cli::smoke::Smoke {
        api_url: &s.api,
        merchant_key: s.merchant_key(0),
        chain_key: s.chain_key("lawson"),
        card: &card,
    };
    let steps = smoke.run().await.expect("smoke test");
    let names: Vec<&str> = steps.iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        ["register", "lookup", "pay", "read paid", "void", "cancel"]
    );
    // It leaves nothing payable behind.
    let rows = s.number_partition(&card).await;
    assert_eq!(get_s(&rows[0], "status"), Some("cancelled"));
}

/// A Japanese form (or a kiosk's soft keyboard) sends a number in full-width digits, grouped
/// with a full-width dash: it is the same number at registration and at the store.
#[tokio::test]
async fn a_number_typed_in_full_width_is_the_same_number() {
    let s = stack();
    let c = s.client();
    let number = s.fresh_card().await.to_string();
    let wide: String = number
        .chars()
        .enumerate()
        .flat_map(|(i, d)| {
            let w = char::from_u32(u32::from(d) - u32::from('0') + 0xFF10).unwrap_or(d);
            let dash = (i == 4 || i == 8).then_some('－');
            dash.into_iter().chain(std::iter::once(w))
        })
        .collect();
    assert_eq!(wide.chars().count(), 15, "{wide}");
    let inv = register(&c, s, 0, &wide, 2_400, 3).await;
    assert_eq!(
        inv["smartpit_number"], number,
        "stored and answered in ASCII"
    );
    let look = c
        .post_json(
            "/store/v1/lookup",
            s.chain_key("lawson"),
            &json!({"store_code": "L0001", "smartpit_number": wide}),
        )
        .await;
    assert_eq!(look.status, 200, "{:?}", look.body);
    assert_eq!(look.body["invoices"][0]["id"], inv["id"]);
    // Read back from DynamoDB: the invoice sits in the number's own partition.
    let sort_keys: Vec<String> = s
        .number_partition(&number)
        .await
        .iter()
        .filter_map(|it| get_s(it, "sk").map(str::to_string))
        .collect();
    let want = format!("INV#{}", inv["id"].as_str().unwrap_or_default());
    assert!(sort_keys.contains(&want), "{sort_keys:?}");
}

/// What the customer buys (`store_description`, at most 20 characters) is shown at the kiosk
/// beside the merchant's name; the merchant may change or clear it.
#[tokio::test]
async fn the_store_shows_what_the_customer_buys() {
    let s = stack();
    let c = s.client();
    let number = s.fresh_card().await.to_string();
    let what = "年間購読料 2027年（12冊）";
    assert_eq!(what.chars().count(), 16);
    let r = c
        .register(
            s.merchant_key(0),
            &unique("idem"),
            &json!({"merchant_order_id": unique("order"), "amount": 6_000,
                    "due_date": due_in(5), "smartpit_number": number,
                    "store_description": what}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["store_description"], what);
    let id = id_of(&r.body);
    let stored = s
        .item(&format!("NUM#{number}"), &format!("INV#{id}"))
        .await
        .expect("invoice item");
    assert_eq!(get_s(&stored, "store_description"), Some(what));

    let lookup = || async {
        let body = json!({"store_code": "L0001", "smartpit_number": number});
        c.post_json("/store/v1/lookup", s.chain_key("lawson"), &body)
            .await
    };
    let look = lookup().await;
    assert_eq!(look.status, 200, "{:?}", look.body);
    let shown = &look.body["invoices"][0];
    assert_eq!(
        (&shown["merchant_name"], &shown["store_description"]),
        (&json!("スマートピット商店"), &json!(what))
    );

    // Changed, then cleared, by PATCH; the kiosk shows each.
    let patch = |body: Value| {
        c.send(
            c.http
                .patch(format!("{}/v1/invoices/{id}", c.api))
                .bearer_auth(s.merchant_key(0))
                .header("Idempotency-Key", unique("idem"))
                .json(&body),
        )
    };
    let changed = patch(json!({"store_description": "ノート 3冊"})).await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(
        lookup().await.body["invoices"][0]["store_description"],
        "ノート 3冊"
    );
    let too_long = patch(json!({"store_description": "x".repeat(21)})).await;
    assert_eq!(
        (too_long.status, too_long.code()),
        (400, "invalid_store_description")
    );
    let cleared = patch(json!({"store_description": null})).await;
    assert_eq!(cleared.status, 200, "{:?}", cleared.body);
    assert_eq!(
        lookup().await.body["invoices"][0]["store_description"],
        Value::Null
    );
}

fn ids_in(v: &Value) -> Vec<String> {
    v["invoices"]
        .as_array()
        .map(|l| l.iter().map(id_of).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_merchant_finds_its_bills_by_order_number_status_and_day() {
    let s = stack();
    let c = s.client();
    let number = s.fresh_card().await.to_string();
    let first = register(&c, s, 1, &number, 700, 3).await;
    let second = register(&c, s, 1, &number, 800, 3).await;
    let foreign = register(&c, s, 0, &number, 900, 3).await;
    let key = s.merchant_key(1);
    let list = |q: String| {
        let c = c.clone();
        async move { c.send(c.get(&format!("/v1/invoices?{q}"), key)).await }
    };
    // By number: its own two, newest first, never the other merchant's bill on the card.
    let on_card = list(format!("smartpit_number={number}")).await;
    assert_eq!(on_card.status, 200, "{:?}", on_card.body);
    assert_eq!(ids_in(&on_card.body), vec![id_of(&second), id_of(&first)]);
    assert!(!ids_in(&on_card.body).contains(&id_of(&foreign)));
    // As a Japanese form writes it (full-width digits).
    let wide: String = number
        .chars()
        .map(|d| char::from_u32(d as u32 - '0' as u32 + '０' as u32).unwrap_or(d))
        .collect();
    let by_wide = list(format!("smartpit_number={}", urlencode(&wide))).await;
    assert_eq!(ids_in(&by_wide.body), ids_in(&on_card.body));
    // One a page through the filter, then the end.
    let page1 = list(format!("smartpit_number={number}&limit=1")).await;
    assert_eq!(ids_in(&page1.body), vec![id_of(&second)]);
    let cursor = page1.body["next_cursor"].as_str().unwrap_or_default();
    let page2 = list(format!("smartpit_number={number}&limit=1&cursor={cursor}")).await;
    assert_eq!(ids_in(&page2.body), vec![id_of(&first)]);
    // The number's partition is read whole: the last page says it is the last.
    assert_eq!(page2.body["next_cursor"], Value::Null, "{:?}", page2.body);
    // By order id: exactly the bill; another merchant's order id finds nothing.
    let order = first["merchant_order_id"].as_str().unwrap_or_default();
    let by_order = list(format!("merchant_order_id={order}")).await;
    assert_eq!(ids_in(&by_order.body), vec![id_of(&first)]);
    assert_eq!(by_order.body["next_cursor"], Value::Null);
    let theirs = foreign["merchant_order_id"].as_str().unwrap_or_default();
    assert!(ids_in(&list(format!("merchant_order_id={theirs}")).await.body).is_empty());
    // By status: cancel one; the cancelled listing on the card holds it alone.
    let cancelled = c
        .send(c.post(&format!("/v1/invoices/{}/cancel", id_of(&first)), key))
        .await;
    assert_eq!(cancelled.status, 200);
    let gone = list(format!("smartpit_number={number}&status=cancelled")).await;
    assert_eq!(ids_in(&gone.body), vec![id_of(&first)]);
    let open = list(format!("smartpit_number={number}&status=registered")).await;
    assert_eq!(ids_in(&open.body), vec![id_of(&second)]);
    // By registration day (JST): today holds both, tomorrow none.
    let (today, tomorrow) = (due_in(0), due_in(1));
    let today_only = list(format!(
        "smartpit_number={number}&created_from={today}&created_to={today}"
    ))
    .await;
    assert_eq!(ids_in(&today_only.body).len(), 2);
    for q in [
        "created_to=2000-01-01",
        "created_to=0000-01-01",
        "created_from=9999-12-31",
    ] {
        let r = list(q.to_string()).await;
        assert_eq!((r.status, ids_in(&r.body).len()), (200, 0), "{q}");
    }
    let later = list(format!("smartpit_number={number}&created_from={tomorrow}")).await;
    assert_eq!(later.status, 200);
    assert!(ids_in(&later.body).is_empty());
    // Odd but plausible input: a clear 400 each, and a cursor from outside the days asked.
    for (q, code) in [
        (
            format!("created_from={tomorrow}&created_to={today}"),
            "invalid_date",
        ),
        ("created_from=2026-13-01".to_string(), "invalid_date"),
        ("smartpit_number=2010".to_string(), "invalid_number"),
        (
            "merchant_order_id=a%20b".to_string(),
            "invalid_merchant_order_id",
        ),
    ] {
        let r = list(q.clone()).await;
        assert_eq!((r.status, r.code()), (400, code), "{q}");
    }
    let outside = list(format!("created_from={tomorrow}&cursor={cursor}")).await;
    assert_eq!((outside.status, outside.code()), (400, "invalid_cursor"));
}

/// Every byte percent-encoded (valid for any query value).
fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}
