//! A dependency that accepts connections and never answers: the emulator frozen with SIGSTOP.
//! Every route answers 503 problem+json within 5 seconds instead of hanging, and after SIGCONT
//! nothing is half-written: each request either happened whole or not at all, and its retry
//! completes it. In its own binary (it freezes the emulator); the tests run one at a time.

use std::time::{Duration, Instant};

use chrono::Utc;
use futures::future::join_all;
use serde_json::json;
use smartpit_shared::auth::Merchant;
use smartpit_shared::db::item::{get_s, Item};
use smartpit_shared::ids::{new_secret, payment_id};
use smartpit_tests::{due_in, stack, unique, Frozen, Reply, TestStack};
use tokio::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// Retries a request until it stops answering 409 (a claim left by a frozen attempt runs out
/// with its 30 s lease) or 503.
async fn until_settled<F, Fut>(what: &str, mut send: F) -> Reply
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let r = send().await;
        if ![409, 503].contains(&r.status) || Instant::now() > deadline {
            return r;
        }
        eprintln!("{what}: {} {}, retrying", r.status, r.code());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn scan_numbers(s: &TestStack, attr: &str, value: &str) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = s
            .ddb()
            .scan()
            .table_name(s.db().res.numbers_table)
            .filter_expression("#a = :v")
            .expression_attribute_names("#a", attr)
            .expression_attribute_values(
                ":v",
                aws_sdk_dynamodb::types::AttributeValue::S(value.to_string()),
            )
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        out.extend(page.items().iter().cloned());
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return out;
        }
    }
}

/// RELIABILITY 8: with the emulator frozen every route answers 503 within 5 s; after it thaws
/// each request stands whole or not at all, and its retry completes it.
#[tokio::test]
async fn a_frozen_dependency_gets_503s_not_hangs_and_nothing_half_written() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = stack();
    let c = s.client();
    let key = s.merchant_key(0);
    let lawson = s.chain_key("lawson");
    // State to act on, and warm keys (a warm function does not read its key again).
    let card = s.fresh_card().await.to_string();
    let mut ids = Vec::new();
    for amount in [1100, 1200, 1300] {
        let r = c
            .register(
                key,
                &unique("idem"),
                &json!({"merchant_order_id": unique("o"), "amount": amount,
                        "due_date": due_in(3), "smartpit_number": card}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        ids.push(r.body["id"].as_str().unwrap_or_default().to_string());
    }
    let paid = c
        .post_json(
            "/store/v1/payments",
            lawson,
            &json!({"store_code": "L-9", "store_transaction_id": unique("t"),
                    "invoice_ids": [ids[0]], "amount": 1100}),
        )
        .await;
    assert_eq!(paid.status, 201, "{:?}", paid.body);
    let paid_id = paid.body["id"].as_str().unwrap_or_default().to_string();
    let sheet = c
        .register(
            key,
            &unique("idem"),
            &json!({"merchant_order_id": unique("o"), "amount": 900, "due_date": due_in(3),
                    "customer": {"email": format!("{}@example.jp", unique("k"))}}),
        )
        .await;
    assert_eq!(sheet.status, 201);
    let sheet_id = sheet.body["id"].as_str().unwrap_or_default().to_string();
    let resend_key = unique("idem");
    let resend = || {
        c.post(&format!("/v1/invoices/{sheet_id}/resend"), key)
            .header("Idempotency-Key", &resend_key)
    };
    let sheet_path = sheet.body["sheet_url"]
        .as_str()
        .and_then(|u| u.find("/s/").map(|i| u[i..].to_string()))
        .expect("sheet link");
    let new_card = s.fresh_card().await.to_string();
    let (reg_key, reg_order) = (unique("idem"), unique("o"));
    let reg_body = json!({"merchant_order_id": reg_order, "amount": 4000, "due_date": due_in(3),
                          "smartpit_number": new_card});
    let jc_key = unique("idem");
    let txn = unique("t");
    let pay_body = json!({"store_code": "L-9", "store_transaction_id": txn,
                          "invoice_ids": [ids[2]], "amount": 1300});

    // For the money-trail routes: a bill to print a slip for, one to change, one to move.
    let slip_card = s.fresh_card().await.to_string();
    let mut trail = Vec::new();
    for number in [&slip_card, &card, &card] {
        let r = c
            .register(
                key,
                &unique("idem"),
                &json!({"merchant_order_id": unique("o"), "amount": 700,
                        "due_date": due_in(3), "smartpit_number": number}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        trail.push(r.body["id"].as_str().unwrap_or_default().to_string());
    }
    let (slip_bill, patched, moving) = (trail[0].clone(), trail[1].clone(), trail[2].clone());
    let (patch_key, move_key) = (unique("idem"), unique("idem"));
    let move_card = s.fresh_card().await.to_string();
    let patch = || {
        c.http
            .patch(format!("{}/v1/invoices/{patched}", c.api))
            .bearer_auth(key)
            .header("Idempotency-Key", &patch_key)
            .json(&json!({"amount": 750}))
    };
    let move_req = || {
        c.post(&format!("/v1/invoices/{moving}/move"), key)
            .header("Idempotency-Key", &move_key)
            .json(&json!({"smartpit_number": move_card}))
    };
    let slip_body = json!({"store_code": "L-9", "smartpit_number": slip_card,
                           "invoice_ids": [slip_bill]});
    let today = smartpit_shared::clock::jst_date(chrono::Utc::now());
    // A settled bill to refund (a refund is money going back: whole or absent, once).
    let refund_card = s.fresh_card().await.to_string();
    let refunded_bill = c
        .register(
            key,
            &unique("idem"),
            &json!({"merchant_order_id": unique("o"), "amount": 2000, "due_date": due_in(3),
                    "smartpit_number": refund_card}),
        )
        .await;
    let refunded_bill = refunded_bill.body["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = c
        .post_json(
            "/store/v1/payments",
            lawson,
            &json!({"store_code": "L-9", "store_transaction_id": unique("t"),
                    "invoice_ids": [refunded_bill], "amount": 2000}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = c
        .send(c.post(&format!("/v1/test/invoices/{refunded_bill}/settle"), key))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let refund_key = unique("idem");
    let refund_req = || {
        c.post(&format!("/v1/invoices/{refunded_bill}/refunds"), key)
            .header("Idempotency-Key", &refund_key)
            .json(&json!({"amount": 600}))
    };

    let frozen = Frozen::new(s);
    let requests: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "register",
            c.post("/v1/invoices", key)
                .header("Idempotency-Key", &reg_key)
                .json(&reg_body),
        ),
        ("get", c.get(&format!("/v1/invoices/{}", ids[1]), key)),
        ("list", c.get("/v1/invoices?limit=5", key)),
        (
            "cancel",
            c.post(&format!("/v1/invoices/{}/cancel", ids[1]), key),
        ),
        (
            "joint cards",
            c.post("/v1/joint-cards", key)
                .header("Idempotency-Key", &jc_key)
                .json(&json!({"count": 5})),
        ),
        (
            "lookup",
            c.post("/store/v1/lookup", lawson)
                .json(&json!({"store_code": "L-9", "smartpit_number": card})),
        ),
        ("pay", c.post("/store/v1/payments", lawson).json(&pay_body)),
        (
            "void",
            c.post(&format!("/store/v1/payments/{paid_id}/void"), lawson),
        ),
        ("sheet link", c.get(&sheet_path, "")),
        ("webhook endpoint", c.get("/v1/webhook-endpoint", key)),
        ("events", c.get("/v1/events?limit=5", key)),
        ("slip", c.post("/store/v1/slips", lawson).json(&slip_body)),
        ("change", patch()),
        ("move", move_req()),
        ("resend", resend()),
        (
            "report",
            c.get(&format!("/v1/reports/payments?date={today}"), key),
        ),
    ];
    let answers = join_all(requests.into_iter().map(|(what, req)| {
        let c = c.clone();
        async move {
            let started = Instant::now();
            let r = tokio::time::timeout(Duration::from_secs(10), c.send(req)).await;
            (what, started.elapsed(), r)
        }
    }))
    .await;
    // A refund, still frozen, after the others (the invoices function has 8 instances here, as
    // a reserved concurrency would give it, and the batch above keeps them busy).
    let started = Instant::now();
    let refund_answer = tokio::time::timeout(Duration::from_secs(10), c.send(refund_req())).await;
    let mut answers = answers;
    answers.push(("refund", started.elapsed(), refund_answer));
    drop(frozen);
    for (what, took, r) in answers {
        let r = r.unwrap_or_else(|_| panic!("{what} hung for 10 s"));
        assert!(took < Duration::from_secs(5), "{what} took {took:?}");
        assert_eq!(r.status, 503, "{what}: {:?}", r.body);
        assert_eq!(r.content_type, "application/problem+json", "{what}");
        assert!(
            ["service_unavailable", "joint_cards_incomplete"].contains(&r.code()),
            "{what}: {:?}",
            r.body
        );
    }

    // Thawed: the emulator may still apply what it had queued. Each request is whole or absent.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let merchant = s.merchant_id(0);
    let invoices = s.number_partition(&new_card).await;
    let order = s
        .item(&format!("MER#{merchant}"), &format!("ORDER#{reg_order}"))
        .await;
    assert_eq!(
        invoices.len(),
        usize::from(order.is_some()),
        "invoice and order claim stand together"
    );
    let idem = s.item(&format!("IDEM#{merchant}#{reg_key}"), "#").await;
    if !invoices.is_empty() {
        assert_eq!(idem.as_ref().and_then(|i| get_s(i, "state")), Some("done"));
    }
    let pid = payment_id("lawson", &txn);
    let payment = s.item(&format!("PAY#{pid}"), "#").await;
    let inv2 = s.db().get_invoice(&ids[2].parse_id()).await.expect("read");
    assert_eq!(
        payment.is_some(),
        inv2.as_ref()
            .is_some_and(|i| i.payment_id.as_deref() == Some(pid.as_str())),
        "payment and paid invoice stand together"
    );
    let voided = s
        .item(&format!("PAY#{paid_id}"), "#")
        .await
        .expect("payment");
    let inv0 = s.db().get_invoice(&ids[0].parse_id()).await.expect("read");
    assert_eq!(
        get_s(&voided, "status") == Some("voided"),
        inv0.as_ref().is_some_and(|i| i.payment_id.is_none()),
        "a void moves payment and invoice together"
    );

    // The slip holds its bill exactly when its record exists; a change and a move are whole.
    let slip_inv = s
        .db()
        .get_invoice(&slip_bill.parse_id())
        .await
        .expect("read");
    let held_by = slip_inv
        .as_ref()
        .and_then(|i| i.hold.as_ref())
        .map(|h| h.slip_id.clone());
    match &held_by {
        Some(slip) => assert!(s.item(&format!("SLIP#{slip}"), "#").await.is_some()),
        None => assert!(slip_inv.is_some_and(|i| i.hold.is_none())),
    }
    let changed = s.db().get_invoice(&patched.parse_id()).await.expect("read");
    let changed = changed.expect("invoice");
    assert!(
        (changed.version, changed.amount) == (1, 700)
            || (changed.version, changed.amount) == (2, 750),
        "a change is whole or absent"
    );
    let old = s
        .db()
        .get_invoice(&moving.parse_id())
        .await
        .expect("read")
        .expect("invoice");
    assert_eq!(
        old.moved_to.is_some(),
        !s.number_partition(&move_card).await.is_empty(),
        "the old and the new bill of a move stand together"
    );

    // A re-send's count and its outbox record stand together.
    let resend_count = || async {
        s.item(&format!("RESEND#{sheet_id}"), &format!("DAY#{today}"))
            .await
            .and_then(|i| smartpit_shared::db::item::get_n(&i, "sends"))
    };
    let record = s
        .db()
        .get_outbox(&format!("invoice_resent#{sheet_id}#{today}#1"))
        .await
        .expect("read");
    assert_eq!(
        resend_count().await.is_some(),
        record.is_some(),
        "the day's count and the queued mail stand together"
    );

    // A refund and the bill's refunded sum stand together.
    let refunded = || async {
        s.db()
            .refunded_total(&refunded_bill.parse_id())
            .await
            .expect("read")
    };
    let listed = s
        .db()
        .list_refunds(&refunded_bill)
        .await
        .expect("read")
        .len();
    assert_eq!(
        refunded().await,
        600 * i64::try_from(listed).unwrap_or(0),
        "a refund and the bill's sum stand together"
    );

    // Retries with the same keys complete every request, once.
    let r = until_settled("refund", || c.send(refund_req())).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(refunded().await, 600, "one refund under one key");
    let r = until_settled("resend", || c.send(resend())).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(resend_count().await, Some(1), "one re-send under one key");
    let r = until_settled("change", || c.send(patch())).await;
    assert_eq!(
        (r.status, &r.body["version"]),
        (200, &json!(2)),
        "{:?}",
        r.body
    );
    let r = until_settled("move", || c.send(move_req())).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(s.number_partition(&move_card).await.len(), 1);
    let r = until_settled("slip", || {
        c.send(c.post("/store/v1/slips", lawson).json(&slip_body))
    })
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    if let Some(slip) = held_by {
        assert_eq!(
            r.body["id"],
            slip.as_str(),
            "a re-sent print answers with the same slip"
        );
    }
    let r = until_settled("register", || {
        c.send(
            c.post("/v1/invoices", key)
                .header("Idempotency-Key", &reg_key)
                .json(&reg_body),
        )
    })
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(s.number_partition(&new_card).await.len(), 1);
    let r = until_settled("pay", || {
        c.send(c.post("/store/v1/payments", lawson).json(&pay_body))
    })
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["id"], pid.as_str());
    let r = until_settled("joint cards", || {
        c.send(
            c.post("/v1/joint-cards", key)
                .header("Idempotency-Key", &jc_key)
                .json(&json!({"count": 5})),
        )
    })
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let batch = r.body["batch_id"].as_str().unwrap_or_default().to_string();
    assert_eq!(scan_numbers(s, "batch_id", &batch).await.len(), 5);
    let r = c
        .send(c.post(&format!("/v1/invoices/{}/cancel", ids[1]), key))
        .await;
    assert_eq!(
        (r.status, r.body["status"].clone()),
        (200, json!("cancelled"))
    );
}

trait ParseId {
    fn parse_id(&self) -> smartpit_shared::InvoiceId;
}

impl ParseId for String {
    fn parse_id(&self) -> smartpit_shared::InvoiceId {
        smartpit_shared::InvoiceId::parse(self).expect("invoice id")
    }
}

/// RELIABILITY 4: a 1,000-card request frozen past its idempotency lease, retried under the
/// same key while frozen and after: exactly 1,000 numbers exist for the key, and every
/// answer under it names the same ones.
#[tokio::test]
async fn joint_cards_under_one_key_are_issued_once_across_a_freeze() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = stack();
    let c = s.client();
    // A merchant of its own, so its numbers can be counted.
    let merchant = Merchant {
        id: unique("jc"),
        name: "ジョイント商店".into(),
    };
    let key = new_secret("sk_test");
    s.db()
        .put_merchant(&merchant, &key, Utc::now())
        .await
        .expect("merchant");
    let warm = c.send(c.get("/v1/invoices?limit=1", &key)).await;
    assert_eq!(warm.status, 200);
    let idem = unique("idem");
    let send = || {
        c.send(
            c.post("/v1/joint-cards", &key)
                .header("Idempotency-Key", &idem)
                .json(&json!({"count": 1000})),
        )
    };
    let first = tokio::spawn({
        let c = c.clone();
        let key = key.clone();
        let idem = idem.clone();
        async move {
            c.send(
                c.post("/v1/joint-cards", &key)
                    .header("Idempotency-Key", &idem)
                    .json(&json!({"count": 1000})),
            )
            .await
        }
    });
    // Let it claim the key and write part of its numbers, then freeze past the 30 s lease.
    let deadline = Instant::now() + Duration::from_secs(20);
    while scan_numbers(s, "merchant_id", &merchant.id).await.len() < 50 {
        assert!(Instant::now() < deadline, "no numbers were written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let frozen = Frozen::new(s);
    let first = first.await.expect("first request");
    assert_eq!(first.status, 503, "{:?}", first.body);
    assert_eq!(first.code(), "joint_cards_incomplete");
    assert!(
        !first.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("Nothing was changed"),
        "{:?}",
        first.body
    );
    let during = send().await;
    assert_eq!(during.status, 503, "{:?}", during.body);
    tokio::time::sleep(Duration::from_secs(31)).await;
    drop(frozen);
    let done = until_settled("retry", send).await;
    assert_eq!(done.status, 201, "{:?}", done.body);
    assert_eq!(done.body["count"], 1000);
    let again = send().await;
    assert_eq!(again.status, 201);
    assert_eq!(
        again.body["cards"], done.body["cards"],
        "every answer names the same numbers"
    );
    assert!(again.headers.get("idempotent-replayed").is_some());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let batch = done.body["batch_id"].as_str().unwrap_or_default();
    assert_eq!(scan_numbers(s, "batch_id", batch).await.len(), 1000);
    assert_eq!(
        scan_numbers(s, "merchant_id", &merchant.id).await.len(),
        1000,
        "no second set"
    );
}

/// Waits until `check` says yes (or `secs` pass); whether it did.
async fn eventually<F, Fut>(secs: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

/// An upload's id as the console makes it (a file's SHA-256, in hex).
fn upload_id() -> String {
    smartpit_shared::ids::random_bytes::<32>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// RELIABILITY 59: a background upload run that can never go on (its stored lines lost) fails
/// five times and is set aside on the upload failures queue, its page saying it is held up;
/// an upload queued after it goes through meanwhile; once the lines are back, the operator's
/// `smartpit uploads redrive` runs it on, and each line is one bill.
#[tokio::test]
async fn a_poison_upload_run_is_set_aside_after_five_tries_and_holds_back_no_other() {
    use aws_sdk_sqs::types::QueueAttributeName;
    use smartpit_console::worker::UploadJob;
    use smartpit_shared::db::item::key;

    let _one = ONE_AT_A_TIME.lock().await;
    let s = stack();
    let sqs = aws_sdk_sqs::Client::new(&s.sdk());
    let uploads = smartpit_local::provision::queue_url(&s.endpoint, "UploadQueue");
    let failures = smartpit_local::provision::queue_url(&s.endpoint, "UploadFailuresQueue");
    let attribute = |url: String, name: QueueAttributeName| {
        let sqs = sqs.clone();
        async move {
            let out = sqs
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(name.clone())
                .send()
                .await
                .expect("queue attributes");
            out.attributes()
                .and_then(|a| a.get(&name))
                .cloned()
                .unwrap_or_default()
        }
    };
    // The queue as the template makes it: runs hidden 180 s, five receives, then set aside.
    assert_eq!(
        attribute(uploads.clone(), QueueAttributeName::VisibilityTimeout).await,
        "180"
    );
    let policy: serde_json::Value =
        serde_json::from_str(&attribute(uploads.clone(), QueueAttributeName::RedrivePolicy).await)
            .expect("a redrive policy");
    assert_eq!(policy["maxReceiveCount"].to_string().trim_matches('"'), "5");
    assert_eq!(
        policy["deadLetterTargetArn"].as_str(),
        Some(smartpit_local::provision::queue_arn("UploadFailuresQueue").as_str())
    );
    // Here a failed run comes back after a second, so its five tries take seconds.
    sqs.set_queue_attributes()
        .queue_url(&uploads)
        .attributes(QueueAttributeName::VisibilityTimeout, "1")
        .send()
        .await
        .expect("visibility");

    let db = s.db();
    let merchant = s.merchant_id(0).to_string();
    let card = s.fresh_card().await.to_string();
    let now = Utc::now();
    let line = |n: usize| {
        (
            n,
            json!({"merchant_order_id": unique("csv"), "amount": 1500 + n,
                   "due_date": due_in(5), "smartpit_number": card})
            .to_string(),
        )
    };
    let send = |upload_id: &str| {
        let job = UploadJob {
            merchant_id: merchant.clone(),
            upload_id: upload_id.to_string(),
        };
        let (sqs, uploads) = (sqs.clone(), uploads.clone());
        async move {
            sqs.send_message()
                .queue_url(uploads)
                .message_body(serde_json::to_string(&job).expect("job"))
                .send()
                .await
                .expect("send");
        }
    };
    // The poison: an upload whose stored lines are gone (kept aside, to be put back).
    let poison = upload_id();
    db.put_upload(&merchant, &poison, &[line(2)], 0, now)
        .await
        .expect("poison upload");
    let lines_key = key(format!("CUPLOAD#{merchant}#{poison}"), "LINES#00000");
    let lines_item = s
        .ddb()
        .delete_item()
        .table_name(s.main_table())
        .set_key(Some(lines_key))
        .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
        .send()
        .await
        .expect("delete the lines")
        .attributes
        .expect("the lines were stored");
    assert!(db
        .queue_upload(&merchant, &poison, now)
        .await
        .expect("queue"));
    send(&poison).await;
    // A healthy upload queued after it.
    let healthy = upload_id();
    db.put_upload(&merchant, &healthy, &[line(2), line(3), line(4)], 0, now)
        .await
        .expect("healthy upload");
    assert!(db
        .queue_upload(&merchant, &healthy, now)
        .await
        .expect("queue"));
    send(&healthy).await;

    let state = |id: String| {
        let (db, merchant) = (db.clone(), merchant.clone());
        async move {
            db.upload_state(&merchant, &id)
                .await
                .expect("state")
                .expect("the upload")
        }
    };
    assert!(
        eventually(30, || async { state(healthy.clone()).await.next == 3 }).await,
        "the healthy upload did not go through: {:?}",
        state(healthy.clone()).await
    );
    assert_eq!(state(healthy.clone()).await.registered, 3);
    assert!(
        eventually(60, || async {
            attribute(
                failures.clone(),
                QueueAttributeName::ApproximateNumberOfMessages,
            )
            .await
                == "1"
        })
        .await,
        "the poison run was not set aside: {:?}",
        state(poison.clone()).await
    );
    let stuck = state(poison.clone()).await;
    assert_eq!((stuck.next, stuck.registered, stuck.failed_runs), (0, 0, 5));
    assert_eq!(
        attribute(
            uploads.clone(),
            QueueAttributeName::ApproximateNumberOfMessages
        )
        .await,
        "0"
    );

    // The cause fixed (the lines back), the operator redrives: the run goes on, once.
    s.ddb()
        .put_item()
        .table_name(s.main_table())
        .set_item(Some(lines_item))
        .send()
        .await
        .expect("the lines back");
    let report = smartpit_cli::uploads::redrive(&sqs, &failures, &uploads, 100)
        .await
        .expect("redrive");
    assert_eq!(report.kept, Vec::<String>::new());
    assert_eq!(report.moved.len(), 1, "{report:?}");
    assert!(report.moved[0].contains(&poison), "{report:?}");
    assert!(
        eventually(30, || async { state(poison.clone()).await.next == 1 }).await,
        "the redriven run did not go on: {:?}",
        state(poison.clone()).await
    );
    let done = state(poison.clone()).await;
    assert_eq!((done.registered, done.failed_runs), (1, 0));
    // Every line one bill: the card holds four.
    let c = s.client();
    let r = c
        .send(c.get(
            &format!("/v1/invoices?smartpit_number={card}&limit=100"),
            s.merchant_key(0),
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["invoices"].as_array().map(Vec::len), Some(4));
    sqs.set_queue_attributes()
        .queue_url(&uploads)
        .attributes(QueueAttributeName::VisibilityTimeout, "180")
        .send()
        .await
        .expect("visibility back");
}
