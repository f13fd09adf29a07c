//! Merchant webhooks end to end: a receiver per merchant on loopback verifies every delivery
//! with an independent Standard Webhooks implementation (the `standardwebhooks` crate); state
//! is read back over the API and from DynamoDB. Retries are driven by moving the sweep's clock,
//! never by sleeping through the schedule.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{json, Value};
use smartpit_tests::receiver::{shop, verify, Answer, Delivery, Shop};
use smartpit_tests::{due_in, stack, unique, Client, Reply, TestStack};

async fn invoice(c: &Client, s: &TestStack, shop: &Shop, number: &str, amount: i64) -> String {
    let r = c
        .register(
            &shop.key,
            &unique("idem"),
            &json!({"merchant_order_id": unique("o"), "amount": amount, "due_date": due_in(3),
                    "smartpit_number": number}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let _ = s;
    r.body["id"].as_str().unwrap_or_default().to_string()
}

async fn pay(c: &Client, s: &TestStack, ids: &[&str], amount: i64) -> Reply {
    c.post_json(
        "/store/v1/payments",
        s.chain_key("lawson"),
        &json!({"store_code": "L-5", "store_transaction_id": unique("t"),
                "invoice_ids": ids, "amount": amount}),
    )
    .await
}

async fn events(c: &Client, key: &str, query: &str) -> Reply {
    c.send(c.get(&format!("/v1/events{query}"), key)).await
}

/// The delivery function with a clock of the test's choosing, for the retry sweep.
fn sweep_at(s: &TestStack, later: chrono::Duration) -> impl std::future::Future<Output = Value> {
    let f = s.stack.webhook_delivery(&s.sdk()).expect("delivery");
    async move {
        f.handle_at(
            smartpit_local::stack::scheduled_event("arn:aws:events:ap-northeast-1:0:rule/test"),
            move || Utc::now() + later,
        )
        .await
    }
}

#[tokio::test]
async fn a_payment_pushes_one_signed_invoice_paid_within_two_seconds() {
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let number = s.fresh_card().await.to_string();
    let inv = invoice(&c, s, &shop, &number, 2980).await;
    let started = Instant::now();
    let paid = pay(&c, s, &[&inv], 2980).await;
    assert_eq!(paid.status, 201, "{:?}", paid.body);
    let got = shop.receiver.wait_for(1, 5).await;
    assert_eq!(got.len(), 1, "one delivery");
    assert!(
        got[0].at.duration_since(started) < Duration::from_secs(2),
        "arrived after {:?}",
        got[0].at.duration_since(started)
    );
    verify(&shop.secret, &got[0]);
    let body = got[0].json();
    assert_eq!(body["type"], "invoice.paid");
    assert!(body["id"].as_str().is_some_and(|i| i.starts_with("evt_")));
    assert_eq!(
        got[0].headers["webhook-id"],
        body["id"].as_str().unwrap_or_default()
    );
    assert_eq!(body["data"]["invoice"]["id"], inv.as_str());
    assert_eq!(body["data"]["invoice"]["status"], "paid");
    assert_eq!(body["data"]["payment"]["id"], paid.body["id"]);
    // The store's receipt reference is on the paid invoice.
    assert_eq!(body["data"]["invoice"]["store_chain"], "lawson");
    assert_eq!(body["data"]["invoice"]["store_code"], "L-5");
    assert_eq!(
        body["data"]["invoice"]["store_transaction_id"],
        paid.body["store_transaction_id"]
    );
    // Nothing more arrives, and the event reads delivered with its attempt.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(shop.receiver.deliveries().len(), 1, "delivered once");
    let id = body["id"].as_str().unwrap_or_default();
    let e = c.send(c.get(&format!("/v1/events/{id}"), &shop.key)).await;
    assert_eq!(e.status, 200, "{:?}", e.body);
    assert_eq!(e.body["status"], "delivered");
    assert_eq!(e.body["attempts"][0]["status"], 200);
    assert_eq!(e.body["attempts"].as_array().map(Vec::len), Some(1));
    // A sweep a day later finds nothing to send.
    sweep_at(s, chrono::Duration::days(1)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(shop.receiver.deliveries().len(), 1);
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_and_nothing_arrives_twice_after_a_2xx() {
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    shop.receiver
        .plan
        .lock()
        .expect("lock")
        .extend([Answer::Status(500), Answer::Status(500)]);
    let number = s.fresh_card().await.to_string();
    let inv = invoice(&c, s, &shop, &number, 1000).await;
    assert_eq!(pay(&c, s, &[&inv], 1000).await.status, 201);
    assert_eq!(shop.receiver.wait_for(1, 5).await.len(), 1);
    // The clock moves past each retry: the sweep queues the event again (other tests' sweeps
    // may too; either way each attempt follows the last one's outcome).
    let deadline = Instant::now() + Duration::from_secs(20);
    while shop.receiver.deliveries().len() < 3 {
        assert!(Instant::now() < deadline, "the retries never came");
        sweep_at(s, chrono::Duration::hours(1)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let got = shop.receiver.deliveries();
    for d in &got {
        verify(&shop.secret, d);
    }
    let ids: Vec<Value> = got.iter().map(|d| d.json()["id"].clone()).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "the same event each time");
    let id = ids[0].as_str().unwrap_or_default();
    let e = c.send(c.get(&format!("/v1/events/{id}"), &shop.key)).await;
    assert_eq!(e.body["status"], "delivered", "{:?}", e.body);
    let statuses: Vec<Value> = e.body["attempts"]
        .as_array()
        .map(|a| a.iter().map(|x| x["status"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(statuses, [json!(500), json!(500), json!(200)]);
    assert!(e.body["attempts"][0]["response"]
        .as_str()
        .is_some_and(|r| r.contains("500")));
    // Delivered: no sweep sends it again.
    sweep_at(s, chrono::Duration::days(3)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(shop.receiver.deliveries().len(), 3, "nothing after the 2xx");
}

#[tokio::test]
async fn void_and_cancel_are_pushed_too() {
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let number = s.fresh_card().await.to_string();
    let a = invoice(&c, s, &shop, &number, 700).await;
    let b = invoice(&c, s, &shop, &number, 800).await;
    let paid = pay(&c, s, &[&a], 700).await;
    let pid = paid.body["id"].as_str().unwrap_or_default().to_string();
    let void = c
        .send(c.post(
            &format!("/store/v1/payments/{pid}/void"),
            s.chain_key("lawson"),
        ))
        .await;
    assert_eq!(void.status, 200);
    let cancel = c
        .send(c.post(&format!("/v1/invoices/{b}/cancel"), &shop.key))
        .await;
    assert_eq!(cancel.status, 200);
    // Cancelling again is a no-op: no second event.
    let again = c
        .send(c.post(&format!("/v1/invoices/{b}/cancel"), &shop.key))
        .await;
    assert_eq!(again.status, 200);
    let got = shop.receiver.wait_for(3, 5).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = if got.len() == 3 {
        shop.receiver.deliveries()
    } else {
        got
    };
    assert_eq!(got.len(), 3);
    let mut types: Vec<String> = got
        .iter()
        .map(|d| {
            verify(&shop.secret, d);
            d.json()["type"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "invoice.cancelled",
            "invoice.paid",
            "invoice.payment_voided"
        ]
    );
    let voided = got
        .iter()
        .map(Delivery::json)
        .find(|b| b["type"] == "invoice.payment_voided")
        .expect("voided");
    assert_eq!(voided["data"]["invoice"]["status"], "registered");
    assert_eq!(voided["data"]["payment"]["status"], "voided");
    // The void keeps the history: the invoice is payable again and shows the voided payment.
    let inv = c.send(c.get(&format!("/v1/invoices/{a}"), &shop.key)).await;
    assert_eq!(inv.body["status"], "registered");
    assert_eq!(inv.body["payment_id"], Value::Null);
    let history = &inv.body["payments"];
    assert_eq!(history.as_array().map(Vec::len), Some(1), "{history}");
    assert_eq!(history[0]["id"], pid.as_str());
    assert_eq!(history[0]["status"], "voided");
    assert!(history[0]["voided_at"].is_string() && history[0]["paid_at"].is_string());
    assert_eq!(history[0]["store_chain"], "lawson");
    assert_eq!(history[0]["store_code"], "L-5");
    assert!(history[0]["store_transaction_id"].is_string());
    assert_eq!(voided["data"]["invoice"]["payments"], *history);
    // Paid again later: two entries, the second completed.
    assert_eq!(pay(&c, s, &[&a], 700).await.status, 201);
    let inv = c.send(c.get(&format!("/v1/invoices/{a}"), &shop.key)).await;
    assert_eq!(inv.body["payments"].as_array().map(Vec::len), Some(2));
    assert_eq!(inv.body["payments"][1]["status"], "completed");
    // The merchant's event list, filtered.
    let list = events(&c, &shop.key, "?type=invoice.cancelled").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["events"].as_array().map(Vec::len), Some(1));
    assert_eq!(list.body["events"][0]["data"]["invoice"]["id"], b.as_str());
}

#[tokio::test]
async fn endpoints_that_reach_inside_are_refused() {
    let s = stack();
    let c = s.client();
    let key = s.merchant_key(1);
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254/",
        "https://10.0.0.1/hook",
        "http://10.0.0.1/hook",
        "https://192.168.0.10/",
        "https://[fd00:ec2::254]/",
        "https://[::ffff:169.254.169.254]/",
        "ftp://example.jp/",
        "https://user:pw@example.jp/",
        "not a url",
    ] {
        let r = c
            .send(
                c.http
                    .put(format!("{}/v1/webhook-endpoint", s.api))
                    .bearer_auth(key)
                    .json(&json!({"url": url})),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_webhook_url"),
            "{url}: {:?}",
            r.body
        );
    }
    let none = c.send(c.get("/v1/webhook-endpoint", key)).await;
    assert_eq!(
        (none.status, none.code()),
        (404, "webhook_endpoint_not_found")
    );
}

#[tokio::test]
async fn a_merchant_never_sees_another_merchants_events() {
    let s = stack();
    let c = s.client();
    let a = shop(s).await;
    let b = shop(s).await;
    let number = s.fresh_card().await.to_string();
    let inv = invoice(&c, s, &a, &number, 1500).await;
    assert_eq!(pay(&c, s, &[&inv], 1500).await.status, 201);
    let got = a.receiver.wait_for(1, 5).await;
    let id = got[0].json()["id"].as_str().unwrap_or_default().to_string();
    let theirs = c.send(c.get(&format!("/v1/events/{id}"), &b.key)).await;
    assert_eq!((theirs.status, theirs.code()), (404, "event_not_found"));
    let redeliver = c
        .send(c.post(&format!("/v1/events/{id}/redeliver"), &b.key))
        .await;
    assert_eq!(redeliver.status, 404);
    let list = events(&c, &b.key, "").await;
    assert_eq!(list.body["events"], json!([]));
    assert!(b.receiver.deliveries().is_empty());
    let forged = events(&c, &b.key, &format!("?cursor={}", "x".repeat(30))).await;
    assert_eq!((forged.status, forged.code()), (400, "invalid_cursor"));
    let limit = events(&c, &b.key, "?limit=0").await;
    assert_eq!((limit.status, limit.code()), (400, "invalid_limit"));
    let kind = events(&c, &b.key, "?type=invoice.nope").await;
    assert_eq!((kind.status, kind.code()), (400, "invalid_event_type"));
}

#[tokio::test]
async fn a_rotated_secret_and_the_old_one_both_verify() {
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let rotated = c
        .send(c.post("/v1/webhook-endpoint/rotate", &shop.key))
        .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    let fresh = rotated.body["secret"]
        .as_str()
        .expect("new secret")
        .to_string();
    assert_ne!(fresh, shop.secret);
    let shown = c.send(c.get("/v1/webhook-endpoint", &shop.key)).await;
    assert!(
        shown.body.get("secret").is_none(),
        "GET never shows a secret"
    );
    let number = s.fresh_card().await.to_string();
    let inv = invoice(&c, s, &shop, &number, 600).await;
    assert_eq!(pay(&c, s, &[&inv], 600).await.status, 201);
    let got = shop.receiver.wait_for(1, 5).await;
    let sig = got[0].headers["webhook-signature"]
        .to_str()
        .unwrap_or_default();
    assert_eq!(sig.split(' ').count(), 2, "{sig}");
    verify(&shop.secret, &got[0]);
    verify(&fresh, &got[0]);
    // 24 hours on, the old secret has run out: only the new one signs.
    let db = s.db();
    let mut endpoint = db
        .get_endpoint(&shop.id)
        .await
        .expect("read")
        .expect("endpoint");
    for secret in &mut endpoint.secrets {
        if secret.expires_at.is_some() {
            secret.expires_at = Some(Utc::now().timestamp() - 1);
        }
    }
    db.put_endpoint(&shop.id, &endpoint).await.expect("write");
    let inv = invoice(&c, s, &shop, &number, 650).await;
    assert_eq!(pay(&c, s, &[&inv], 650).await.status, 201);
    let got = shop.receiver.wait_for(2, 5).await;
    let sig = got[1].headers["webhook-signature"]
        .to_str()
        .unwrap_or_default();
    assert_eq!(sig.split(' ').count(), 1, "{sig}");
    verify(&fresh, &got[1]);
    let old = standardwebhooks::Webhook::new(&shop.secret).expect("secret");
    assert!(old.verify(&got[1].body, &got[1].headers).is_err());
}

#[tokio::test]
async fn one_slow_endpoint_delays_no_other_merchant_and_no_mail() {
    let s = stack();
    let c = s.client();
    let slow = shop(s).await;
    *slow.receiver.default.lock().expect("lock") = Answer::Sleep(30);
    let fast = shop(s).await;
    let n1 = s.fresh_card().await.to_string();
    let n2 = s.fresh_card().await.to_string();
    for _ in 0..3 {
        let a = invoice(&c, s, &slow, &n1, 100).await;
        assert_eq!(pay(&c, s, &[&a], 100).await.status, 201);
    }
    assert!(!slow.receiver.wait_for(1, 5).await.is_empty());
    let b = invoice(&c, s, &fast, &n2, 200).await;
    let started = Instant::now();
    assert_eq!(pay(&c, s, &[&b], 200).await.status, 201);
    let got = fast.receiver.wait_for(1, 5).await;
    assert_eq!(got.len(), 1);
    assert!(
        got[0].at.duration_since(started) < Duration::from_secs(2),
        "the other merchant waited {:?}",
        got[0].at.duration_since(started)
    );
    verify(&fast.secret, &got[0]);
    // A customer's sheet mail goes out meanwhile.
    let email = format!("{}@example.jp", unique("mail"));
    let r = c
        .register(
            &fast.key,
            &unique("idem"),
            &json!({"merchant_order_id": unique("o"), "amount": 300, "due_date": due_in(2),
                    "customer": {"email": email}}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(s.mail_to(&email, 1, 5).await.len(), 1);
}

#[tokio::test]
async fn a_failed_event_can_be_redelivered() {
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    *shop.receiver.default.lock().expect("lock") = Answer::Status(503);
    let number = s.fresh_card().await.to_string();
    let inv = invoice(&c, s, &shop, &number, 400).await;
    assert_eq!(pay(&c, s, &[&inv], 400).await.status, 201);
    assert_eq!(shop.receiver.wait_for(1, 5).await.len(), 1);
    let id = shop.receiver.deliveries()[0].json()["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Every attempt of the schedule fails: the clock runs three days on, a sweep at a time
    // (other tests' sweeps may take it too), until the event has failed.
    let deadline = Instant::now() + Duration::from_secs(40);
    let failed = loop {
        let e = c.send(c.get(&format!("/v1/events/{id}"), &shop.key)).await;
        if e.body["status"] == "failed" || Instant::now() > deadline {
            break e;
        }
        sweep_at(s, chrono::Duration::days(3)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(
        shop.receiver.deliveries().len(),
        8,
        "the whole schedule, once"
    );
    assert_eq!(failed.body["status"], "failed", "{:?}", failed.body);
    assert_eq!(failed.body["attempts"].as_array().map(Vec::len), Some(8));
    let listed = events(&c, &shop.key, "?status=failed").await;
    assert_eq!(listed.body["events"][0]["id"], id.as_str());
    // No more attempts of its own.
    sweep_at(s, chrono::Duration::days(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(shop.receiver.deliveries().len(), 8);
    // The merchant fixes its endpoint and redelivers.
    *shop.receiver.default.lock().expect("lock") = Answer::Status(204);
    let r = c
        .send(c.post(&format!("/v1/events/{id}/redeliver"), &shop.key))
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(shop.receiver.wait_for(9, 5).await.len(), 9);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let e = c.send(c.get(&format!("/v1/events/{id}"), &shop.key)).await;
        if e.body["status"] == "delivered" {
            break;
        }
        assert!(Instant::now() < deadline, "{:?}", e.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_expiry_sweep_stores_expired_and_pushes_it_once() {
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let number = s.fresh_card().await.to_string();
    let mut ids = Vec::new();
    for amount in [310, 320, 330] {
        let r = c
            .register(
                &shop.key,
                &unique("idem"),
                &json!({"merchant_order_id": unique("o"), "amount": amount,
                        "due_date": due_in(0), "smartpit_number": number}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        ids.push(r.body["id"].as_str().unwrap_or_default().to_string());
    }
    let sweep = smartpit_invoices::expiry::ExpirySweep::new(
        &s.sdk(),
        s.stack.resources_of("ExpiryFunction").expect("resources"),
    );
    // The clock moves a day on, past today's 23:59:59 JST.
    let later = || Utc::now() + chrono::Duration::days(1);
    let done = sweep.handle_at(json!({}), later).await;
    assert!(done["expired"].as_u64().is_some_and(|n| n >= 3), "{done}");
    let rows = s.number_partition(&number).await;
    assert!(rows
        .iter()
        .all(|r| smartpit_shared::db::item::get_s(r, "status") == Some("expired")));
    let got = shop.receiver.wait_for(3, 5).await;
    assert_eq!(got.len(), 3);
    for d in &got {
        verify(&shop.secret, d);
        let b = d.json();
        assert_eq!(b["type"], "invoice.expired");
        assert_eq!(b["data"]["invoice"]["status"], "expired");
    }
    // Stored, so the listing gives full pages.
    let page = c
        .send(c.get("/v1/invoices?status=expired&limit=2", &shop.key))
        .await;
    assert_eq!(page.body["invoices"].as_array().map(Vec::len), Some(2));
    let next = page.body["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_string();
    let rest = c
        .send(c.get("/v1/invoices", &shop.key).query(&[
            ("status", "expired"),
            ("limit", "2"),
            ("cursor", next.as_str()),
        ]))
        .await;
    assert_eq!(
        rest.body["invoices"].as_array().map(Vec::len),
        Some(1),
        "{:?}",
        rest.body
    );
    // Not payable, not cancellable; a second sweep sends nothing more.
    let paid = pay(&c, s, &[&ids[0]], 310).await;
    assert_eq!((paid.status, paid.code()), (409, "invoice_not_payable"));
    let cancel = c
        .send(c.post(&format!("/v1/invoices/{}/cancel", ids[1]), &shop.key))
        .await;
    assert_eq!(cancel.status, 409);
    sweep.handle_at(json!({}), later).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(shop.receiver.deliveries().len(), 3);
}

#[tokio::test]
async fn a_test_event_reaches_an_endpoint_that_takes_other_types_signed() {
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    // The endpoint takes invoice.paid alone; the test event goes all the same.
    let narrowed = c
        .send(
            c.http
                .put(format!("{}/v1/webhook-endpoint", s.api))
                .bearer_auth(&shop.key)
                .json(&json!({"url": shop.receiver.url, "events": ["invoice.paid"]})),
        )
        .await;
    assert_eq!(narrowed.status, 200, "{:?}", narrowed.body);
    assert!(
        narrowed.body.get("secret").is_none(),
        "the secret is shown once"
    );
    let sent = c.send(c.post("/v1/webhook-endpoint/test", &shop.key)).await;
    assert_eq!(sent.status, 202, "{:?}", sent.body);
    assert_eq!(sent.body["type"], "webhook.test");
    let got = shop.receiver.wait_for(1, 5).await;
    assert_eq!(got.len(), 1);
    verify(&shop.secret, &got[0]);
    let body = got[0].json();
    assert_eq!(body["id"], sent.body["id"]);
    assert_eq!(body["type"], "webhook.test");
    assert_eq!(body["data"]["endpoint_url"], shop.receiver.url.as_str());
    // Its delivery reads back as every event's does.
    let id = sent.body["id"].as_str().unwrap_or_default();
    let mut status = Value::Null;
    for _ in 0..50 {
        let read = c.send(c.get(&format!("/v1/events/{id}"), &shop.key)).await;
        status = read.body["status"].clone();
        if status == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "delivered");
    // Without an endpoint: 404, and no event written.
    let gone = c
        .send(
            c.http
                .delete(format!("{}/v1/webhook-endpoint", s.api))
                .bearer_auth(&shop.key),
        )
        .await;
    assert_eq!(gone.status, 204);
    let none = c.send(c.post("/v1/webhook-endpoint/test", &shop.key)).await;
    assert_eq!(
        (none.status, none.code()),
        (404, "webhook_endpoint_not_found")
    );
    let listed = events(&c, &shop.key, "?type=webhook.test").await;
    assert_eq!(listed.body["events"].as_array().map(Vec::len), Some(1));
}
