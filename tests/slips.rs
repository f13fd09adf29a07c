//! Kiosk slips (申込券) with a clock of the test's choosing: the store and invoice functions
//! are called as Lambda calls them, with `handle_at`, against the local stack's tables; the
//! rest goes over HTTP at the real time.

use chrono::{DateTime, Duration, Utc};
use http::Request;
use lambda_http::Body;
use serde_json::{json, Value};
use smartpit_shared::clock::{deadline_epoch, jst_date};
use smartpit_tests::{due_in, stack, unique, Client, TestStack};

struct Functions {
    store: smartpit_store::StoreFunction,
    invoices: smartpit_invoices::InvoicesFunction,
    expiry: smartpit_invoices::expiry::ExpirySweep,
}

fn functions(s: &TestStack) -> Functions {
    let sdk = s.sdk();
    let res = |f: &str| s.stack.resources_of(f).expect("resources");
    Functions {
        store: smartpit_store::StoreFunction::new(&sdk, res("StoreFunction")),
        invoices: smartpit_invoices::InvoicesFunction::new(&sdk, res("InvoicesFunction")),
        expiry: smartpit_invoices::expiry::ExpirySweep::new(&sdk, res("ExpiryFunction")),
    }
}

fn request(path: &str, key: &str, body: &Value) -> lambda_http::Request {
    Request::builder()
        .method("POST")
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

async fn call(
    f: &Functions,
    store: bool,
    path: &str,
    key: &str,
    body: Value,
    at: DateTime<Utc>,
) -> (u16, Value) {
    let req = request(path, key, &body);
    let resp = if store {
        f.store.handle_at(req, at).await
    } else {
        f.invoices.handle_at(req, at).await
    };
    let status = resp.status().as_u16();
    let v = serde_json::from_slice(resp.body().as_ref()).unwrap_or(Value::Null);
    (status, v)
}

async fn register(c: &Client, s: &TestStack, number: &str, amount: i64, due: &str) -> String {
    let r = c
        .register(
            s.merchant_key(0),
            &unique("idem"),
            &json!({"merchant_order_id": unique("o"), "amount": amount, "customer_fee": 110,
                    "due_date": due, "smartpit_number": number}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap_or_default().to_string()
}

fn slip_body(number: &str, ids: &[&str]) -> Value {
    json!({"store_code": "L-7", "smartpit_number": number, "invoice_ids": ids})
}

fn pay_body(ids: &[&str], amount: i64, slip: Option<&str>) -> Value {
    let mut b = json!({"store_code": "L-7", "store_transaction_id": unique("T"),
                       "invoice_ids": ids, "amount": amount});
    if let Some(slip) = slip {
        b["slip_id"] = json!(slip);
    }
    b
}

#[tokio::test]
async fn a_slip_holds_its_bills_and_frees_them_when_it_lapses() {
    let s = stack();
    let c = s.client();
    let f = functions(s);
    let lawson = s.chain_key("lawson");
    let number = s.fresh_card().await.to_string();
    let a = register(&c, s, &number, 1_000, &due_in(3)).await;
    let b = register(&c, s, &number, 2_000, &due_in(3)).await;
    let t0 = Utc::now();

    let (st, slip) = call(
        &f,
        true,
        "/store/v1/slips",
        lawson,
        slip_body(&number, &[&a, &b]),
        t0,
    )
    .await;
    assert_eq!(st, 201, "{slip}");
    assert_eq!(slip["amount"], 3_220, "amounts and fees: {slip}");
    let slip_id = slip["id"].as_str().unwrap_or_default().to_string();
    // The kiosk re-sends the print: the same slip.
    let (st, again) = call(
        &f,
        true,
        "/store/v1/slips",
        lawson,
        slip_body(&number, &[&a, &b]),
        t0,
    )
    .await;
    assert_eq!((st, &again["id"]), (201, &slip["id"]));
    // Not a copy: a print of only one of the held bills.
    let (st, part) = call(
        &f,
        true,
        "/store/v1/slips",
        lawson,
        slip_body(&number, &[&a]),
        t0,
    )
    .await;
    assert_eq!(
        (st, part["code"].as_str()),
        (409, Some("invoice_held")),
        "{part}"
    );

    // While held: no other kiosk sees the bills, nobody pays them without the slip, another
    // slip cannot take them, the merchant can neither cancel them.
    let look = c
        .post_json(
            "/store/v1/lookup",
            s.chain_key("familymart"),
            &json!({"store_code": "F1", "smartpit_number": number}),
        )
        .await;
    assert_eq!((look.status, look.code()), (404, "billing_not_found"));
    let unslipped = c
        .post_json(
            "/store/v1/payments",
            lawson,
            &pay_body(&[&a, &b], 3_220, None),
        )
        .await;
    assert_eq!(
        (unslipped.status, unslipped.code()),
        (409, "invoice_held"),
        "{:?}",
        unslipped.body
    );
    let (st, other) = call(
        &f,
        true,
        "/store/v1/slips",
        s.chain_key("ministop"),
        slip_body(&number, &[&a]),
        t0,
    )
    .await;
    assert_eq!((st, other["code"].as_str()), (409, Some("invoice_held")));
    let cancel = c
        .post_json(
            &format!("/v1/invoices/{a}/cancel"),
            s.merchant_key(0),
            &json!({}),
        )
        .await;
    assert_eq!(
        (cancel.status, cancel.code()),
        (409, "payment_in_progress"),
        "{:?}",
        cancel.body
    );
    let patched = c
        .send(
            c.http
                .patch(format!("{}/v1/invoices/{a}", c.api))
                .bearer_auth(s.merchant_key(0))
                .header("Idempotency-Key", unique("idem"))
                .json(&json!({"amount": 999})),
        )
        .await;
    assert_eq!(
        (patched.status, patched.code()),
        (409, "payment_in_progress")
    );
    let view = c
        .send(c.get(&format!("/v1/invoices/{a}"), s.merchant_key(0)))
        .await;
    assert_eq!(view.body["status"], "registered");
    assert!(view.body["held_until"].is_string(), "{:?}", view.body);
    // Another chain cannot use the slip.
    let stolen = c
        .post_json(
            "/store/v1/payments",
            s.chain_key("ministop"),
            &pay_body(&[&a, &b], 3_220, Some(&slip_id)),
        )
        .await;
    assert_eq!((stolen.status, stolen.code()), (409, "slip_not_valid"));

    // 31 minutes later the slip has lapsed: the slip no longer pays, the merchant may cancel.
    let later = t0 + Duration::minutes(31);
    let (st, lapsed) = call(
        &f,
        true,
        "/store/v1/payments",
        lawson,
        pay_body(&[&a, &b], 3_220, Some(&slip_id)),
        later,
    )
    .await;
    assert_eq!(
        (st, lapsed["code"].as_str()),
        (409, Some("slip_not_valid")),
        "{lapsed}"
    );
    let (st, cancelled) = call(
        &f,
        false,
        &format!("/v1/invoices/{a}/cancel"),
        s.merchant_key(0),
        json!({}),
        later,
    )
    .await;
    assert_eq!(
        (st, cancelled["status"].as_str()),
        (200, Some("cancelled")),
        "{cancelled}"
    );
    // And the other bill is payable without a slip again.
    let (st, paid) = call(
        &f,
        true,
        "/store/v1/payments",
        lawson,
        pay_body(&[&b], 2_110, None),
        later,
    )
    .await;
    assert_eq!(st, 201, "{paid}");
}

#[tokio::test]
async fn a_slip_printed_at_23_59_40_on_the_due_date_is_paid_at_00_00_10() {
    let s = stack();
    let c = s.client();
    let f = functions(s);
    let lawson = s.chain_key("lawson");
    let number = s.fresh_card().await.to_string();
    let today = due_in(0);
    let due = register(&c, s, &number, 5_000, &today).await;
    let unslipped = register(&c, s, &number, 700, &today).await;
    let deadline = deadline_epoch(jst_date(Utc::now()));
    let printed_at = DateTime::from_timestamp(deadline - 19, 0).expect("time"); // 23:59:40 JST
    let paid_at = DateTime::from_timestamp(deadline + 11, 0).expect("time"); // 00:00:10 JST

    let (st, slip) = call(
        &f,
        true,
        "/store/v1/slips",
        lawson,
        slip_body(&number, &[&due]),
        printed_at,
    )
    .await;
    assert_eq!(st, 201, "{slip}");
    let slip_id = slip["id"].as_str().unwrap_or_default().to_string();

    // Past the deadline: the sweep leaves the held bill alone and expires the other one.
    let swept = f.expiry.handle_at(json!({}), || paid_at).await;
    assert!(swept["expired"].as_u64().unwrap_or(0) >= 1, "{swept}");
    let rows = s.number_partition(&number).await;
    let status_of = |id: &str| {
        rows.iter()
            .find(|r| smartpit_shared::db::item::get_s(r, "id") == Some(id))
            .and_then(|r| smartpit_shared::db::item::get_s(r, "status"))
            .map(str::to_string)
    };
    assert_eq!(status_of(&due).as_deref(), Some("registered"));
    assert_eq!(status_of(&unslipped).as_deref(), Some("expired"));

    // Without the slip the bill is past its deadline; with it, it is paid.
    let (st, refused) = call(
        &f,
        true,
        "/store/v1/payments",
        lawson,
        pay_body(&[&due], 5_110, None),
        paid_at,
    )
    .await;
    assert_eq!(st, 409, "{refused}");
    let (st, paid) = call(
        &f,
        true,
        "/store/v1/payments",
        lawson,
        pay_body(&[&due], 5_110, Some(&slip_id)),
        paid_at,
    )
    .await;
    assert_eq!(st, 201, "{paid}");
    let rows = s.number_partition(&number).await;
    let inv = rows
        .iter()
        .find(|r| smartpit_shared::db::item::get_s(r, "id") == Some(due.as_str()))
        .expect("invoice");
    assert_eq!(
        smartpit_shared::db::item::get_s(inv, "status"),
        Some("paid")
    );
    assert!(
        !inv.contains_key("hold_until"),
        "the hold is released on payment"
    );
}
