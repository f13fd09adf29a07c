//! Repeat bills (リピートオプション, issue 21): a card's bill that stays payable after each
//! payment. Paid three times at kiosks and closed at `max_payments`, the fourth refused; each
//! payment one occurrence in the events (signed, `occurrence` 1, 2, 3) and the daily report; one
//! occurrence voided and paid again; the last free occurrence paid twice at once (one lands);
//! settlement and refunds per occurrence; odd terms refused writing nothing. State read back
//! from DynamoDB.

use chrono::Utc;
use serde_json::{json, Value};
use smartpit_shared::clock::jst_date;
use smartpit_shared::db::item::{get_n, get_s};
use smartpit_tests::bills::pay;
use smartpit_tests::receiver::{shop, verify, Shop};
use smartpit_tests::{due_in, stack, unique, Client, Reply, TestStack};

async fn register(c: &Client, shop: &Shop, body: Value) -> Reply {
    c.register(&shop.key, &unique("idem"), &body).await
}

/// A repeat bill on a fresh card: (its id, the card's number).
async fn repeat_bill(
    c: &Client,
    s: &TestStack,
    shop: &Shop,
    amount: i64,
    repeat: Value,
) -> (String, String) {
    let card = s.fresh_card().await.to_string();
    let r = register(
        c,
        shop,
        json!({"merchant_order_id": unique("monthly"), "amount": amount,
               "due_date": due_in(30), "smartpit_number": card, "repeat": repeat}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["repeat"]["occurrences"], 0, "{:?}", r.body);
    assert_eq!(r.body["repeat"]["until"], due_in(30).as_str());
    let id = r.body["id"].as_str().expect("id").to_string();
    (id, card)
}

async fn invoice(c: &Client, shop: &Shop, id: &str) -> Value {
    let r = c
        .send(c.get(&format!("/v1/invoices/{id}"), &shop.key))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

async fn report_payment(c: &Client, s: &TestStack, id: &str, total: i64) -> Reply {
    c.post_json(
        "/store/v1/payments",
        s.chain_key("lawson"),
        &json!({"store_code": "K7", "store_transaction_id": unique("T"),
                "invoice_ids": [id], "amount": total}),
    )
    .await
}

/// The bills a kiosk lists for the number.
async fn kiosk_lists(c: &Client, s: &TestStack, number: &str) -> Vec<String> {
    let look = c
        .post_json(
            "/store/v1/lookup",
            s.chain_key("lawson"),
            &json!({"store_code": "K7", "smartpit_number": number}),
        )
        .await;
    look.body["invoices"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The bill's item as stored.
async fn stored(s: &TestStack, number: &str, id: &str) -> smartpit_shared::db::item::Item {
    s.item(&format!("NUM#{number}"), &format!("INV#{id}"))
        .await
        .expect("the bill's item")
}

async fn void(c: &Client, s: &TestStack, payment: &str) -> Reply {
    c.send(c.post(
        &format!("/store/v1/payments/{payment}/void"),
        s.chain_key("lawson"),
    ))
    .await
}

#[tokio::test]
async fn a_repeat_bill_is_paid_three_times_at_kiosks_and_closes_at_max_payments() {
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let (id, card) = repeat_bill(&c, s, &shop, 1_500, json!({"max_payments": 3})).await;

    let mut payments = Vec::new();
    for n in 1..=3 {
        assert!(
            kiosk_lists(&c, s, &card).await.contains(&id),
            "payable before payment {n}"
        );
        let pid = pay(&c, s, "lawson", &id, 1_500).await;
        let now = invoice(&c, &shop, &id).await;
        assert_eq!(now["repeat"]["occurrences"], n, "{now:?}");
        assert_eq!(now["payment_id"], pid.as_str());
        let status = if n < 3 { "registered" } else { "paid" };
        assert_eq!(now["status"], status, "after payment {n}");
        payments.push(pid);
    }
    // Closed at max_payments: the kiosk no longer shows it and a fourth report is refused.
    assert!(!kiosk_lists(&c, s, &card).await.contains(&id));
    let fourth = report_payment(&c, s, &id, 1_500).await;
    assert_eq!(
        (fourth.status, fourth.code()),
        (409, "invoice_not_payable"),
        "{:?}",
        fourth.body
    );

    // As stored: three occurrences, each with what was paid.
    let it = stored(s, &card, &id).await;
    assert_eq!(get_n(&it, "occurrences"), Some(3));
    assert_eq!(get_s(&it, "status"), Some("paid"));
    let entries = it
        .get("payments")
        .and_then(|v| v.as_l().ok())
        .expect("payments");
    assert_eq!(entries.len(), 3);
    for (e, pid) in entries.iter().zip(&payments) {
        let m = e.as_m().expect("entry");
        assert_eq!(get_s(m, "id"), Some(pid.as_str()));
        assert_eq!(get_n(m, "amount"), Some(1_500));
        assert_eq!(get_s(m, "status"), Some("completed"));
    }

    // One signed invoice.paid per payment, counting the occurrences.
    let got = shop.receiver.wait_for(3, 30).await;
    let mut seen: Vec<(i64, String, String)> = got
        .iter()
        .map(|d| {
            verify(&shop.secret, d);
            d.json()
        })
        .filter(|e| e["type"] == "invoice.paid" && e["data"]["invoice"]["id"] == id.as_str())
        .map(|e| {
            (
                e["data"]["occurrence"].as_i64().unwrap_or_default(),
                e["data"]["payment"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                e["data"]["invoice"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    seen.sort();
    let want: Vec<(i64, String, String)> = payments
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let n = i64::try_from(i).unwrap_or_default() + 1;
            let status = if n < 3 { "registered" } else { "paid" };
            (n, p.clone(), status.to_string())
        })
        .collect();
    assert_eq!(seen, want);

    // Each payment is its own line in the day's report.
    let today = jst_date(Utc::now());
    let r = c
        .send(
            c.get(&format!("/v1/reports/payments?date={today}"), &shop.key)
                .header("accept", "application/json"),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut lines: Vec<String> = r.body["payments"]
        .as_array()
        .expect("payments")
        .iter()
        .filter(|l| l["invoice_id"] == id.as_str())
        .filter_map(|l| l["payment_id"].as_str().map(str::to_string))
        .collect();
    lines.sort();
    let mut want: Vec<String> = payments.clone();
    want.sort();
    assert_eq!(lines, want, "{:?}", r.body);
    assert_eq!(r.body["totals"]["collected"], 4_500);
}

#[tokio::test]
async fn an_occurrence_is_voided_and_paid_again_and_the_last_one_paid_twice_at_once_lands_once() {
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let (id, card) = repeat_bill(&c, s, &shop, 800, json!({"max_payments": 2})).await;
    let first = pay(&c, s, "lawson", &id, 800).await;
    let second = pay(&c, s, "lawson", &id, 800).await;
    assert_eq!(invoice(&c, &shop, &id).await["status"], "paid");

    // The closing occurrence voided: open again, one occurrence standing.
    let v = void(&c, s, &second).await;
    assert_eq!(v.status, 200, "{:?}", v.body);
    let now = invoice(&c, &shop, &id).await;
    assert_eq!(now["status"], "registered");
    assert_eq!(now["repeat"]["occurrences"], 1);
    assert_eq!(now["payments"][1]["status"], "voided");
    assert_eq!(now["payments"][0]["status"], "completed");
    assert!(kiosk_lists(&c, s, &card).await.contains(&id));
    // The earlier one voided too: none standing.
    assert_eq!(void(&c, s, &first).await.status, 200);
    let now = invoice(&c, &shop, &id).await;
    assert_eq!(now["repeat"]["occurrences"], 0);
    assert_eq!(now["payments"][0]["status"], "voided");

    // Two different reports at once with room for both: both land, counted one after the
    // other (not both as the first), and the second closes the bill.
    let both = futures::future::join_all((0..2).map(|_| report_payment(&c, s, &id, 800))).await;
    assert!(
        both.iter().all(|r| r.status == 201),
        "{:?}",
        both.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    let now = invoice(&c, &shop, &id).await;
    assert_eq!(now["repeat"]["occurrences"], 2, "{now:?}");
    assert_eq!(now["status"], "paid");
    let one = both[0].body["id"].as_str().expect("id").to_string();
    assert_eq!(void(&c, s, &one).await.status, 200);

    // Then two different reports for the last occurrence at once: one lands.
    let both = futures::future::join_all((0..2).map(|_| report_payment(&c, s, &id, 800))).await;
    let mut codes: Vec<(u16, String)> = both
        .iter()
        .map(|r| (r.status, r.code().to_string()))
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            (201, String::new()),
            (409, "invoice_not_payable".to_string())
        ],
        "{:?}",
        both.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    let it = stored(s, &card, &id).await;
    assert_eq!(get_n(&it, "occurrences"), Some(2));
    assert_eq!(get_s(&it, "status"), Some("paid"));
    let standing = it.get("payments").and_then(|v| v.as_l().ok()).map(|l| {
        l.iter()
            .filter(|e| {
                e.as_m()
                    .is_ok_and(|m| get_s(m, "status") == Some("completed"))
            })
            .count()
    });
    assert_eq!(standing, Some(2));
    assert_eq!(
        invoice(&c, &shop, &id).await["payments"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );
}

#[tokio::test]
async fn eight_payments_of_a_repeat_bill_at_once_are_each_counted() {
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let (id, card) = repeat_bill(&c, s, &shop, 300, json!({})).await;
    // Eight stores' reports at once; a POS re-sends one answered 503 (busy: nothing written)
    // with the same transaction id until it is answered.
    let bodies: Vec<Value> = (0..8)
        .map(|_| {
            json!({"store_code": "K7", "store_transaction_id": unique("T"),
                   "invoice_ids": [id], "amount": 300})
        })
        .collect();
    let send = |body: Value| {
        let c = &c;
        async move {
            for _ in 0..10 {
                let r = c
                    .post_json("/store/v1/payments", s.chain_key("lawson"), &body)
                    .await;
                if r.status != 503 {
                    return r;
                }
            }
            panic!("still busy after 10 tries");
        }
    };
    let all = futures::future::join_all(bodies.into_iter().map(send)).await;
    assert!(
        all.iter().all(|r| r.status == 201),
        "{:?}",
        all.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    let it = stored(s, &card, &id).await;
    let entries = it.get("payments").and_then(|v| v.as_l().ok()).map(Vec::len);
    assert_eq!(entries, Some(8));
    assert_eq!(get_n(&it, "occurrences"), Some(8));
    assert_eq!(get_s(&it, "status"), Some("registered"));
}

#[tokio::test]
async fn an_occurrence_is_settled_and_refunded_on_its_own() {
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let card = s.fresh_card().await.to_string();
    // No max_payments: payable until its last day, however often.
    let until = due_in(200);
    let r = register(
        &c,
        &shop,
        json!({"merchant_order_id": unique("topup"), "amount": 2_000, "customer_fee": 100,
               "smartpit_number": card, "repeat": {"until": until}}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["due_date"], until.as_str());
    assert_eq!(r.body["repeat"]["max_payments"], Value::Null);
    let id = r.body["id"].as_str().expect("id").to_string();
    let first = pay(&c, s, "lawson", &id, 2_100).await;
    // The merchant raises the amount for the next payments before the first one settles.
    let raised = c
        .send(
            c.http
                .patch(format!("{}/v1/invoices/{id}", c.api))
                .bearer_auth(&shop.key)
                .header("Idempotency-Key", unique("ch"))
                .json(&json!({"amount": 3_000})),
        )
        .await;
    assert_eq!(raised.status, 200, "{:?}", raised.body);

    // The chain's settlement confirms the first occurrence; the bill stays payable.
    let settled = c
        .send(c.post(&format!("/v1/test/invoices/{id}/settle"), &shop.key))
        .await;
    assert_eq!(settled.status, 200, "{:?}", settled.body);
    assert_eq!(settled.body["status"], "registered");
    assert_eq!(settled.body["payments"][0]["status"], "settled");
    let payment = s.item(&format!("PAY#{first}"), "#").await.expect("payment");
    assert_eq!(get_s(&payment, "status"), Some("settled"));
    // What the payout pays for it is what that payment collected, not the new terms.
    let lines = s
        .ddb()
        .query()
        .table_name(s.main_table())
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("MER#{}#SETTLED", shop.id)),
        )
        .send()
        .await
        .expect("settled lines");
    let line = lines
        .items()
        .iter()
        .find(|it| get_s(it, "payment_id") == Some(first.as_str()))
        .expect("the settled line");
    assert_eq!(
        (get_n(line, "amount"), get_n(line, "customer_fee")),
        (Some(2_000), Some(100))
    );

    // A second occurrence today: the store may still void it, so it is not refundable yet.
    let second = pay(&c, s, "lawson", &id, 3_100).await;
    let refund = |amount: i64| {
        let c = &c;
        let key = shop.key.clone();
        let id = id.clone();
        async move {
            c.send(
                c.post(&format!("/v1/invoices/{id}/refunds"), &key)
                    .header("Idempotency-Key", unique("rf"))
                    .json(&json!({"amount": amount, "reason": "二重入金"})),
            )
            .await
        }
    };
    let over = refund(2_101).await;
    assert_eq!((over.status, over.code()), (422, "refund_exceeds_paid"));
    let ok = refund(2_100).await;
    assert_eq!(ok.status, 201, "{:?}", ok.body);
    assert_eq!(ok.body["payment_id"], first.as_str());
    // The refund stands on the settled occurrence: today's may still be voided.
    assert_eq!(void(&c, s, &second).await.status, 200);
    let now = invoice(&c, &shop, &id).await;
    assert_eq!(now["refunded"], 2_100);
    assert_eq!(now["repeat"]["occurrences"], 1);
    assert_eq!(now["status"], "registered");
    let it = stored(s, &card, &id).await;
    assert_eq!(get_n(&it, "refunded"), Some(2_100));
}

#[tokio::test]
async fn odd_repeat_terms_are_refused_and_write_nothing() {
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let card = s.fresh_card().await.to_string();
    let order = unique("monthly");
    let base = json!({"merchant_order_id": order, "amount": 980, "smartpit_number": card});
    let with = |extra: Value| {
        let mut b = base.clone();
        if let (Some(m), Some(e)) = (b.as_object_mut(), extra.as_object()) {
            m.extend(e.clone());
        }
        b
    };
    let cases = [
        // A sheet serves one purchase.
        (
            json!({"merchant_order_id": order, "amount": 980, "due_date": due_in(5),
                   "customer": {"email": "repeat@example.jp"}, "repeat": {"max_payments": 2}}),
            "repeat_not_supported",
        ),
        (
            with(json!({"due_date": due_in(5), "repeat": {"max_payments": 0}})),
            "invalid_repeat",
        ),
        (
            with(json!({"due_date": due_in(5), "repeat": {"max_payments": 100}})),
            "invalid_repeat",
        ),
        (
            with(json!({"due_date": due_in(5), "repeat": {"max_payments": "3"}})),
            "invalid_repeat",
        ),
        (
            with(json!({"repeat": {"until": due_in(366)}})),
            "invalid_repeat",
        ),
        (
            with(json!({"due_date": due_in(5), "repeat": {"until": due_in(20)}})),
            "invalid_repeat",
        ),
        (
            with(json!({"due_date": due_in(5), "repeat": {"every": "month"}})),
            "unknown_field",
        ),
        (
            with(json!({"due_date": due_in(5), "repeat": true})),
            "invalid_repeat",
        ),
        // Without until, a repeat bill's due date is still 59 days at most.
        (
            with(json!({"due_date": due_in(60), "repeat": {}})),
            "invalid_due_date",
        ),
        (
            with(json!({"repeat": {"max_payments": 2}})),
            "invalid_due_date",
        ),
    ];
    for (body, code) in cases {
        let r = register(&c, &shop, body.clone()).await;
        assert_eq!((r.status, r.code()), (400, code), "{body}: {:?}", r.body);
        assert!(
            r.body.get("errors").is_some(),
            "the field is named: {:?}",
            r.body
        );
    }
    // Nothing was written: the order id is free, and the card has no bill.
    assert!(s
        .number_partition(&card)
        .await
        .iter()
        .all(|it| get_s(it, "type") != Some("invoice")));
    let ok = register(&c, &shop, with(json!({"repeat": {"until": due_in(365)}}))).await;
    assert_eq!(ok.status, 201, "{:?}", ok.body);
    let id = ok.body["id"].as_str().expect("id").to_string();
    // A repeat bill's due date moves within 365 days of its registration; another bill's not.
    let patch = |id: String, day: String| {
        let c = &c;
        let key = shop.key.clone();
        async move {
            c.send(
                c.http
                    .patch(format!("{}/v1/invoices/{id}", c.api))
                    .bearer_auth(&key)
                    .header("Idempotency-Key", unique("ch"))
                    .json(&json!({"due_date": day})),
            )
            .await
        }
    };
    let moved = patch(id.clone(), due_in(300)).await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    assert_eq!(moved.body["repeat"]["until"], due_in(300).as_str());
    let other_card = s.fresh_card().await.to_string();
    let once = smartpit_tests::bills::bill(&c, &shop, &other_card, 500, 0).await;
    let far = patch(once, due_in(300)).await;
    assert_eq!((far.status, far.code()), (400, "invalid_due_date"));
}
