//! Settlement (確報) end to end: payments reported over the store API, the chain's file put in
//! the settlements bucket (the local stack runs the template's S3 event), then the payments,
//! invoices, events, report and summary read back. Each test uses its own chain, so the day's
//! "recorded but not in the file" list is its own.

use std::time::Duration;

use serde_json::{json, Value};
use smartpit_shared::clock::jst_date;
use smartpit_shared::invoice::jst_timestamp;
use smartpit_shared::settlement::FileKey;
use smartpit_tests::{due_in, stack, unique, Client, TestStack};

struct Paid {
    txn: String,
    payment_id: String,
    invoices: Vec<String>,
    amount: i64,
}

/// Registers one invoice per amount on a fresh card and pays them together at `chain`.
async fn paid(c: &Client, s: &TestStack, chain: &str, amounts: &[i64]) -> Paid {
    let number = s.fresh_card().await.to_string();
    let mut invoices = Vec::new();
    for amount in amounts {
        let r = c
            .register(
                s.merchant_key(0),
                &unique("idem"),
                &json!({"merchant_order_id": unique("o"), "amount": amount,
                        "due_date": due_in(5), "smartpit_number": number}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        invoices.push(r.body["id"].as_str().unwrap_or_default().to_string());
    }
    let txn = unique("T");
    let amount: i64 = amounts.iter().sum();
    let r = c
        .post_json(
            "/store/v1/payments",
            s.chain_key(chain),
            &json!({"store_code": "S001", "store_transaction_id": txn,
                    "invoice_ids": invoices, "amount": amount}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    Paid {
        txn,
        payment_id: r.body["id"].as_str().unwrap_or_default().to_string(),
        invoices,
        amount,
    }
}

fn today_file(chain: &str) -> FileKey {
    FileKey {
        chain_id: chain.to_string(),
        date: jst_date(chrono::Utc::now()),
    }
}

fn line(txn: &str, amount: i64) -> String {
    format!("{txn},S001,{},{amount}", jst_timestamp(chrono::Utc::now()))
}

fn file_of(lines: &[String]) -> String {
    let mut f = String::from("store_transaction_id,store_code,paid_at,amount\r\n");
    for l in lines {
        f.push_str(l);
        f.push_str("\r\n");
    }
    f
}

fn s3(s: &TestStack) -> aws_sdk_s3::Client {
    smartpit_local::stack::s3_client(&s.sdk())
}

async fn deliver(s: &TestStack, file: &FileKey, body: &str) {
    s3(s)
        .put_object()
        .bucket(s.stack.bucket("SettlementsBucket").expect("bucket"))
        .key(file.key())
        .body(body.as_bytes().to_vec().into())
        .send()
        .await
        .expect("put settlement file");
}

/// Waits for a summary processed after `after` (the run of the latest delivery).
async fn summary_after(s: &TestStack, file: &FileKey, runs_before: &str) -> Value {
    let db = s.db();
    // Generous: on a loaded 2-core machine the emulator's transactions slow down a lot.
    for _ in 0..300 {
        if let Ok(Some(v)) = db.get_settlement_summary(file).await {
            if v["processed_at"].as_str() != Some(runs_before) {
                return v;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{} was not reconciled within 60 s", file.key());
}

async fn report(s: &TestStack, file: &FileKey) -> Vec<Vec<String>> {
    let obj = s3(s)
        .get_object()
        .bucket(s.stack.bucket("SettlementsBucket").expect("bucket"))
        .key(file.report_key())
        .send()
        .await
        .expect("report");
    let bytes = obj.body.collect().await.expect("body").into_bytes();
    String::from_utf8(bytes.to_vec())
        .expect("utf-8")
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

async fn invoice(c: &Client, s: &TestStack, id: &str) -> Value {
    let r = c
        .send(c.get(&format!("/v1/invoices/{id}"), s.merchant_key(0)))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

/// How many `invoice.settled` events the merchant has for each invoice.
async fn settled_events(c: &Client, s: &TestStack, ids: &[String]) -> Vec<usize> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/v1/events?type=invoice.settled&limit=100&cursor={c}"),
            None => "/v1/events?type=invoice.settled&limit=100".to_string(),
        };
        let r = c.send(c.get(&q, s.merchant_key(0))).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        all.extend(r.body["events"].as_array().cloned().unwrap_or_default());
        cursor = r.body["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    ids.iter()
        .map(|id| {
            all.iter()
                .filter(|e| e["data"]["invoice"]["id"] == id.as_str())
                .count()
        })
        .collect()
}

#[tokio::test]
async fn a_file_settles_what_matches_and_reports_every_mismatch_by_line() {
    let s = stack();
    let c = s.client();
    let chain = "ministop";
    let one = paid(&c, s, chain, &[1200]).await;
    let two = paid(&c, s, chain, &[1000, 2000]).await;
    let other_amount = paid(&c, s, chain, &[500]).await;
    let voided = paid(&c, s, chain, &[700]).await;
    let left_out = paid(&c, s, chain, &[800]).await;
    let v = c
        .post_json(
            &format!("/store/v1/payments/{}/void", voided.payment_id),
            s.chain_key(chain),
            &json!({}),
        )
        .await;
    assert_eq!(v.status, 200, "{:?}", v.body);

    let file = today_file(chain);
    let body = file_of(&[
        line(&one.txn, one.amount),               // line 2: settles
        line(&two.txn, two.amount),               // line 3: settles both invoices
        line(&other_amount.txn, 999),             // line 4: amount_differs
        line(&voided.txn, voided.amount),         // line 5: voided_in_file
        line("NEVER-REPORTED", 100),              // line 6: not_recorded
        "this line, is not, a settlement".into(), // line 7: unparseable
        line(&one.txn, one.amount),               // line 8: duplicate_line
    ]);
    deliver(s, &file, &body).await;
    let sum = summary_after(s, &file, "").await;
    assert_eq!(sum["status"], "reconciled", "{sum}");
    assert_eq!(sum["lines"], 7);
    assert_eq!(sum["matched"], 2);
    assert_eq!(sum["matched_amount"], one.amount + two.amount);
    assert_eq!(sum["settled_now"], 2);
    assert_eq!(sum["settled_invoices_now"], 3);
    let m = &sum["mismatches"];
    for (kind, n) in [
        ("amount_differs", 1),
        ("voided_in_file", 1),
        ("not_recorded", 1),
        ("unparseable", 1),
        ("duplicate_line", 1),
        ("missing_from_file", 1),
        ("store_differs", 0),
    ] {
        assert_eq!(m[kind], n, "{kind}: {sum}");
    }

    // The report: one row per mismatch, by line, the left-out payment last.
    let rows = report(s, &file).await;
    let kinds: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("4", "amount_differs"),
            ("5", "voided_in_file"),
            ("6", "not_recorded"),
            ("7", "unparseable"),
            ("8", "duplicate_line"),
            ("", "missing_from_file"),
        ]
    );
    assert_eq!(rows[0][4], "999");
    assert_eq!(rows[0][5], "500");
    assert_eq!(rows[5][2], left_out.txn);

    // State read back: settled payments and invoices, the rest untouched.
    for id in one.invoices.iter().chain(&two.invoices) {
        let inv = invoice(&c, s, id).await;
        assert_eq!(inv["status"], "settled", "{inv}");
        assert!(inv["settled_at"].is_string());
    }
    for id in other_amount.invoices.iter().chain(&left_out.invoices) {
        assert_eq!(invoice(&c, s, id).await["status"], "paid");
    }
    let pay = s
        .db()
        .get_payment(&one.payment_id)
        .await
        .expect("read")
        .expect("payment");
    assert_eq!(pay.status.as_str(), "settled");
    assert_eq!(pay.settlement, Some(file.name()));
    let all: Vec<String> = one.invoices.iter().chain(&two.invoices).cloned().collect();
    assert_eq!(settled_events(&c, s, &all).await, [1, 1, 1]);

    // A settled payment can no longer be voided.
    let v = c
        .post_json(
            &format!("/store/v1/payments/{}/void", one.payment_id),
            s.chain_key(chain),
            &json!({}),
        )
        .await;
    assert_eq!(
        (v.status, v.code()),
        (409, "payment_settled"),
        "{:?}",
        v.body
    );

    // The same file again: nothing settles twice, no second event.
    let first_run = sum["processed_at"].as_str().unwrap_or_default().to_string();
    deliver(s, &file, &body).await;
    let again = summary_after(s, &file, &first_run).await;
    assert_eq!(again["settled_now"], 0, "{again}");
    assert_eq!(again["already_settled"], 2);
    assert_eq!(again["matched"], 2);
    assert_eq!(settled_events(&c, s, &all).await, [1, 1, 1]);

    // The chain corrects the amount and adds the left-out payment: only those settle now.
    let corrected = file_of(&[
        line(&one.txn, one.amount),
        line(&two.txn, two.amount),
        line(&other_amount.txn, other_amount.amount),
        line(&left_out.txn, left_out.amount),
    ]);
    let second_run = again["processed_at"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    deliver(s, &file, &corrected).await;
    let fixed = summary_after(s, &file, &second_run).await;
    assert_eq!(fixed["settled_now"], 2, "{fixed}");
    assert_eq!(fixed["already_settled"], 2);
    assert_eq!(fixed["mismatch_total"], 0);
    assert!(report(s, &file).await.is_empty());
    let later: Vec<String> = all
        .iter()
        .chain(&other_amount.invoices)
        .chain(&left_out.invoices)
        .cloned()
        .collect();
    assert_eq!(settled_events(&c, s, &later).await, [1, 1, 1, 1, 1]);
}

#[tokio::test]
async fn copies_of_a_file_reconciled_at_once_settle_each_payment_once() {
    let s = stack();
    let c = s.client();
    let chain = "familymart";
    let mut payments = Vec::new();
    for amounts in [[300].as_slice(), &[400, 500], &[600]] {
        payments.push(paid(&c, s, chain, amounts).await);
    }
    let file = today_file(chain);
    let body = file_of(
        &payments
            .iter()
            .map(|p| line(&p.txn, p.amount))
            .collect::<Vec<_>>(),
    );
    // Written directly, then reconciled by three copies of the function at once (as S3's
    // at-least-once delivery may do), besides the local stack's own run of the put.
    deliver(s, &file, &body).await;
    // Three deliveries of S3's notification at once, to the function's processes.
    let bucket = s.stack.bucket("SettlementsBucket").expect("bucket");
    let event = s3_event(&bucket, &file.key());
    let runs = (0..3).map(|_| s.functions.invoke("SettlementFunction", event.clone()));
    let results: Vec<Result<Value, String>> = futures::future::join_all(runs)
        .await
        .into_iter()
        .map(|r| {
            let out: Value = serde_json::from_slice(&r.result?).map_err(|e| e.to_string())?;
            Ok(out["files"][0].clone())
        })
        .collect();
    let mut settled_now = 0;
    for r in &results {
        let v = r.as_ref().expect("reconciled");
        assert_eq!(v["matched"], 3, "{v}");
        settled_now += v["settled_now"].as_u64().unwrap_or(0);
    }
    assert!(settled_now <= 3, "settled {settled_now} times");
    let ids: Vec<String> = payments.iter().flat_map(|p| p.invoices.clone()).collect();
    // The stack's own run may finish after ours: wait until it has.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(settled_events(&c, s, &ids).await, [1, 1, 1, 1]);
    for id in &ids {
        assert_eq!(invoice(&c, s, id).await["status"], "settled");
    }
    // Once more, counted (docs/ARCHITECTURE.md): everything is settled, so no transaction.
    let again = s.functions.invoke("SettlementFunction", event).await;
    let calls = again.calls;
    let out: Value = serde_json::from_slice(&again.result.expect("reconciled")).expect("json");
    assert_eq!(out["files"][0]["already_settled"], 3, "{out}");
    assert_eq!(
        calls,
        [
            "S3:GetObject",
            "DynamoDB:BatchGetItem",
            "DynamoDB:Query",
            "S3:PutObject",
            "DynamoDB:PutItem"
        ]
    );
}

#[tokio::test]
async fn a_file_that_is_not_one_is_refused_whole_and_reported() {
    let s = stack();
    let c = s.client();
    let chain = "sunkus";
    let p = paid(&c, s, chain, &[900]).await;
    let file = today_file(chain);
    deliver(
        s,
        &file,
        &format!("txn,store,when,yen\r\n{}\r\n", line(&p.txn, 900)),
    )
    .await;
    let sum = summary_after(s, &file, "").await;
    assert_eq!(sum["status"], "refused", "{sum}");
    assert!(sum["error"].as_str().unwrap_or_default().contains("header"));
    assert_eq!(sum["settled_now"], 0);
    let rows = report(s, &file).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0][0].as_str(), rows[0][1].as_str()),
        ("1", "unparseable")
    );
    assert_eq!(invoice(&c, s, &p.invoices[0]).await["status"], "paid");
    // Run again through the function's process: refused again, reported, nothing settled.
    let bucket = s.stack.bucket("SettlementsBucket").expect("bucket");
    let refused = s
        .functions
        .invoke("SettlementFunction", s3_event(&bucket, &file.key()))
        .await;
    let out: Value = serde_json::from_slice(&refused.result.expect("reported")).expect("json");
    assert_eq!(out["files"][0]["status"], "refused", "{out}");
    assert_eq!(
        refused.calls,
        ["S3:GetObject", "S3:PutObject", "DynamoDB:PutItem"]
    );
    // Objects that are not settlement files (the reports, stray keys) run nothing.
    let skipped = s
        .functions
        .invoke("SettlementFunction", s3_event(&bucket, &file.report_key()))
        .await;
    let out: Value = serde_json::from_slice(&skipped.result.expect("skipped")).expect("json");
    assert_eq!(out["files"], json!([]));
    assert_eq!(skipped.calls, Vec::<String>::new());
}

/// S3's notification of a created object, in the shape S3 sends it (AWS's sample event, with
/// this bucket and key), as the function's process receives it.
fn s3_event(bucket: &str, key: &str) -> Vec<u8> {
    let mut event: Value = serde_json::from_str(include_str!(
        "../functions/settlement/fixtures/aws-s3-event.json"
    ))
    .expect("fixture");
    event["Records"][0]["s3"]["bucket"]["name"] = json!(bucket);
    event["Records"][0]["s3"]["object"]["key"] = json!(key);
    event.to_string().into_bytes()
}

/// Registers one invoice for merchant 1 (amount, customer fee) on `number`.
async fn bill(c: &Client, s: &TestStack, number: &str, amount: i64, fee: i64) -> String {
    let r = c
        .register(
            s.merchant_key(1),
            &unique("idem"),
            &json!({"merchant_order_id": unique("r"), "amount": amount, "customer_fee": fee,
                    "due_date": due_in(5), "smartpit_number": number}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn the_daily_report_adds_up_to_the_invoices_with_fees_and_nets() {
    let s = stack();
    let c = s.client();
    let merchant = s.merchant_id(1);
    let mut fees = smartpit_shared::fees::FeeSchedule {
        default: smartpit_shared::fees::Fee {
            fixed_yen: 60,
            rate_bp: 0,
        },
        ..Default::default()
    };
    fees.chains.insert(
        "lawson".into(),
        smartpit_shared::fees::Fee {
            fixed_yen: 40,
            rate_bp: 50,
        },
    );
    s.db()
        .put_fee_schedule(merchant, &fees, chrono::Utc::now())
        .await
        .expect("fees");
    let card = s.fresh_card().await.to_string();
    let a = bill(&c, s, &card, 1_000, 100).await;
    let b = bill(&c, s, &card, 2_000, 0).await;
    let other = s.fresh_card().await.to_string();
    let cc = bill(&c, s, &other, 3_000, 0).await;
    let third = s.fresh_card().await.to_string();
    let d = bill(&c, s, &third, 500, 0).await;
    let pay = |chain: &'static str, ids: Vec<String>, amount: i64| {
        let body = json!({"store_code": "R1", "store_transaction_id": unique("T"),
                          "invoice_ids": ids, "amount": amount});
        let c = &c;
        async move {
            let r = c
                .post_json("/store/v1/payments", s.chain_key(chain), &body)
                .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            r.body["id"].as_str().unwrap_or_default().to_string()
        }
    };
    pay("lawson", vec![a.clone(), b.clone()], 3_100).await;
    pay("circle-k", vec![cc.clone()], 3_000).await;
    let voided = pay("circle-k", vec![d.clone()], 500).await;
    let v = c
        .post_json(
            &format!("/store/v1/payments/{voided}/void"),
            s.chain_key("circle-k"),
            &json!({}),
        )
        .await;
    assert_eq!(v.status, 200);

    // Expected sums from the invoices as the merchant reads them back.
    let mut expected = (0, 0, 0, 0); // amount, customer fee, merchant fee, net
    for (id, chain) in [(&a, "lawson"), (&b, "lawson"), (&cc, "circle-k")] {
        let inv = invoice_of(&c, s, 1, id).await;
        let amount = inv["amount"].as_i64().unwrap_or(-1);
        let fee = inv["customer_fee"].as_i64().unwrap_or(-1);
        let charged = fees.for_chain(chain).on(amount + fee);
        expected.0 += amount;
        expected.1 += fee;
        expected.2 += charged;
        expected.3 += amount + fee - charged;
    }
    assert_eq!(expected, (6_000, 100, 45 + 50 + 60, 6_100 - 155));

    let today = jst_date(chrono::Utc::now()).to_string();
    let csv = c
        .send(c.get(
            &format!("/v1/reports/payments?date={today}"),
            s.merchant_key(1),
        ))
        .await;
    assert_eq!(csv.status, 200, "{:?}", csv.body);
    assert!(csv.headers["content-type"]
        .to_str()
        .is_ok_and(|t| t.starts_with("text/csv")));
    let text = csv.text.clone();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0][0], "invoice_id");
    let body: Vec<&Vec<&str>> = rows[1..rows.len() - 1].iter().collect();
    let listed: Vec<&str> = body.iter().map(|r| r[0]).collect();
    for id in [&a, &b, &cc, &d] {
        assert!(listed.contains(&id.as_str()), "{id} not in {text}");
    }
    assert_eq!(body.len(), 4, "{text}");
    let status_of = |id: &str| body.iter().find(|r| r[0] == id).map(|r| r[7]);
    assert_eq!(status_of(&d), Some("voided"));
    assert_eq!(status_of(&a), Some("completed"));
    let total = &rows[rows.len() - 1];
    assert_eq!(total[0], "total");
    let n = |i: usize| total[i].parse::<i64>().unwrap_or(-1);
    assert_eq!((n(2), n(3), n(8), n(9)), expected, "{text}");
    // Each line's own figures add up to the total row.
    let sum = |i: usize| -> i64 {
        body.iter()
            .filter(|r| r[7] != "voided")
            .map(|r| r[i].parse::<i64>().unwrap_or(0))
            .sum()
    };
    assert_eq!((sum(2), sum(3), sum(8), sum(9)), expected);

    let json_report = c
        .send(
            c.get(
                &format!("/v1/reports/payments?date={today}"),
                s.merchant_key(1),
            )
            .header("accept", "application/json"),
        )
        .await;
    assert_eq!(json_report.status, 200);
    let t = &json_report.body["totals"];
    assert_eq!(
        (
            &t["amount"],
            &t["customer_fee"],
            &t["merchant_fee"],
            &t["net"]
        ),
        (
            &json!(expected.0),
            &json!(expected.1),
            &json!(expected.2),
            &json!(expected.3)
        )
    );
    assert_eq!(t["voided_count"], 1);

    // Another merchant's report never shows these bills; bad dates are refused.
    let theirs = c
        .send(c.get(
            &format!("/v1/reports/payments?date={today}"),
            s.merchant_key(0),
        ))
        .await;
    assert_eq!(theirs.status, 200);
    assert!(!theirs.text.contains(&a) && !theirs.text.contains(&d));
    for q in [
        "",
        "?date=2026-1-05",
        "?date=+2026-01-05",
        "?date=2026-02-30",
    ] {
        let r = c
            .send(c.get(&format!("/v1/reports/payments{q}"), s.merchant_key(1)))
            .await;
        assert_eq!((r.status, r.code()), (400, "invalid_date"), "{q}");
    }
}

async fn invoice_of(c: &Client, s: &TestStack, merchant: usize, id: &str) -> Value {
    let r = c
        .send(c.get(&format!("/v1/invoices/{id}"), s.merchant_key(merchant)))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

/// One record out of line (a matching payment whose invoice is not paid by it) is reported on
/// its line; it holds back no other line of the file.
#[tokio::test]
async fn one_bad_record_is_reported_and_the_rest_of_the_file_settles() {
    let s = stack();
    let c = s.client();
    let chain = "three-f";
    let good = paid(&c, s, chain, &[1_000]).await;
    let bad = paid(&c, s, chain, &[2_000]).await;
    // Corrupt the second payment's invoice behind the service's back.
    let id = smartpit_shared::InvoiceId::parse(&bad.invoices[0]).expect("id");
    s.ddb()
        .update_item()
        .table_name(s.main_table())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("NUM#{}", id.number())),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("INV#{id}")),
        )
        .update_expression("SET #s = :c")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(
            ":c",
            aws_sdk_dynamodb::types::AttributeValue::S("cancelled".into()),
        )
        .send()
        .await
        .expect("corrupt");
    let file = today_file(chain);
    deliver(
        s,
        &file,
        &file_of(&[line(&bad.txn, bad.amount), line(&good.txn, good.amount)]),
    )
    .await;
    let sum = summary_after(s, &file, "").await;
    assert_eq!(sum["status"], "reconciled", "{sum}");
    assert_eq!(sum["settled_now"], 1, "{sum}");
    assert_eq!(sum["mismatches"]["not_settleable"], 1, "{sum}");
    let rows = report(s, &file).await;
    assert_eq!(
        (rows[0][0].as_str(), rows[0][1].as_str()),
        ("2", "not_settleable")
    );
    assert_eq!(invoice(&c, s, &good.invoices[0]).await["status"], "settled");
    assert_eq!(settled_events(&c, s, &bad.invoices).await, [0]);
}

/// The local stack runs a bucket's S3 event for every put, as S3 does: the same bytes put
/// twice within one second are two events (a listing of the bucket, which has modification
/// times to the second, saw one, and a chain's re-sent file went unreconciled), and objects
/// outside the event's prefix and suffix are none. The watcher here is the local stack's own,
/// fed to a handler that records what it is given.
#[tokio::test]
async fn every_put_of_a_file_is_an_event_the_same_bytes_within_a_second_included() {
    use smartpit_local::template::BucketSource;
    use std::sync::{Arc, Mutex};
    let s = stack();
    let bucket = unique("watched").to_lowercase().replace('_', "-");
    s3(s)
        .create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::ApNortheast1)
                .build(),
        )
        .send()
        .await
        .expect("bucket");
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = seen.clone();
    let handler: smartpit_local::stack::EventHandler = Arc::new(move |event: Value| {
        let record = record.clone();
        Box::pin(async move {
            for r in event["Records"].as_array().into_iter().flatten() {
                let key = r["s3"]["object"]["key"].as_str().unwrap_or_default();
                record.lock().expect("lock").push(key.to_string());
            }
            Ok(json!({}))
        })
    });
    let source = BucketSource {
        function: "Recorder".into(),
        prefix: "settlements/".into(),
        suffix: ".csv".into(),
    };
    let sqs = aws_sdk_sqs::Client::new(&s.sdk());
    let queue = smartpit_local::buckets::connect(&s3(s), &sqs, &bucket, &source)
        .await
        .expect("notifications");
    tokio::spawn(smartpit_local::buckets::feed(sqs, queue, source, handler));
    let put = |key: &'static str| {
        s3(s)
            .put_object()
            .bucket(&bucket)
            .key(key)
            .body(b"same bytes".to_vec().into())
            .send()
    };
    put("settlements/seven/20261128.csv").await.expect("put");
    put("settlements/seven/20261128.csv")
        .await
        .expect("put again");
    put("settlements/seven/20261128.report.txt")
        .await
        .expect("put");
    put("elsewhere/20261128.csv").await.expect("put");
    for _ in 0..100 {
        if seen.lock().expect("lock").len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        *seen.lock().expect("lock"),
        [
            "settlements/seven/20261128.csv",
            "settlements/seven/20261128.csv"
        ]
    );
}
