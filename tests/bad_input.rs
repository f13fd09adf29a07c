//! Bad input gets a clear problem+json answer with a stable code, and writes nothing.

use serde_json::{json, Value};
use smartpit_shared::ids::payment_id;
use smartpit_shared::SmartPitNumber;
use smartpit_tests::{due_in, stack, unique, Reply, TestStack};

/// One bad registration: what to change in a good request, and what must come back.
struct Case {
    name: &'static str,
    status: u16,
    code: &'static str,
    tweak: fn(&mut Req),
}

struct Req {
    key: Option<String>,
    idem: Option<String>,
    content_type: &'static str,
    body: Value,
    raw: Option<String>,
}

fn unknown_number() -> String {
    // A well-formed number in a range this service never issues (prefix 29).
    SmartPitNumber::from_body(299_999_999_999).to_string()
}

fn bad_check_digit(n: &str) -> String {
    let mut b = n.as_bytes().to_vec();
    b[12] = if b[12] == b'9' { b'0' } else { b[12] + 1 };
    String::from_utf8(b).unwrap_or_default()
}

const CASES: &[Case] = &[
    Case {
        name: "amount 0",
        status: 400,
        code: "invalid_amount",
        tweak: |r| r.body["amount"] = json!(0),
    },
    Case {
        name: "amount -1",
        status: 400,
        code: "invalid_amount",
        tweak: |r| r.body["amount"] = json!(-1),
    },
    Case {
        name: "amount 300001",
        status: 400,
        code: "invalid_amount",
        tweak: |r| r.body["amount"] = json!(300001),
    },
    Case {
        name: "amount and customer fee over 300000",
        status: 400,
        code: "invalid_amount",
        tweak: |r| {
            r.body["amount"] = json!(299_500);
            r.body["customer_fee"] = json!(1_000);
        },
    },
    Case {
        name: "store description of 21 characters",
        status: 400,
        code: "invalid_store_description",
        tweak: |r| r.body["store_description"] = json!("あ".repeat(21)),
    },
    Case {
        name: "store description with a bidi override",
        status: 400,
        code: "invalid_store_description",
        tweak: |r| r.body["store_description"] = json!("ノート\u{202E}3冊"),
    },
    Case {
        name: "amount as string",
        status: 400,
        code: "invalid_amount",
        tweak: |r| r.body["amount"] = json!("100"),
    },
    Case {
        name: "amount 1.5",
        status: 400,
        code: "invalid_amount",
        tweak: |r| r.body["amount"] = json!(1.5),
    },
    Case {
        name: "amount missing",
        status: 400,
        code: "invalid_amount",
        tweak: |r| {
            r.body.as_object_mut().map(|o| o.remove("amount"));
        },
    },
    Case {
        name: "due date yesterday",
        status: 400,
        code: "invalid_due_date",
        tweak: |r| r.body["due_date"] = json!(due_in(-1)),
    },
    Case {
        name: "due date 60 days on",
        status: 400,
        code: "invalid_due_date",
        tweak: |r| r.body["due_date"] = json!(due_in(60)),
    },
    Case {
        name: "due date slashed",
        status: 400,
        code: "invalid_due_date",
        tweak: |r| r.body["due_date"] = json!(due_in(3).replace('-', "/")),
    },
    Case {
        name: "bad check digit",
        status: 400,
        code: "invalid_number",
        tweak: |r| {
            r.body["smartpit_number"] = json!(bad_check_digit(
                r.body["smartpit_number"].as_str().unwrap_or_default()
            ))
        },
    },
    Case {
        name: "12 digits",
        status: 400,
        code: "invalid_number",
        tweak: |r| {
            r.body["smartpit_number"] =
                json!(r.body["smartpit_number"].as_str().unwrap_or_default()[..12].to_string())
        },
    },
    Case {
        name: "letters in number",
        status: 400,
        code: "invalid_number",
        tweak: |r| r.body["smartpit_number"] = json!("20100000000AB"),
    },
    Case {
        name: "number never issued",
        status: 422,
        code: "number_not_found",
        tweak: |r| r.body["smartpit_number"] = json!(unknown_number()),
    },
    Case {
        name: "no number and no mail",
        status: 400,
        code: "smartpit_number_required",
        tweak: |r| {
            r.body.as_object_mut().map(|o| o.remove("smartpit_number"));
        },
    },
    Case {
        name: "missing idempotency key",
        status: 400,
        code: "idempotency_key_missing",
        tweak: |r| r.idem = None,
    },
    Case {
        name: "overlong idempotency key",
        status: 400,
        code: "invalid_idempotency_key",
        tweak: |r| r.idem = Some("k".repeat(256)),
    },
    Case {
        name: "malformed JSON",
        status: 400,
        code: "malformed_json",
        tweak: |r| r.raw = Some("{\"amount\": 100,".into()),
    },
    Case {
        name: "JSON array",
        status: 400,
        code: "malformed_json",
        tweak: |r| r.raw = Some("[1,2]".into()),
    },
    Case {
        name: "oversized body",
        status: 413,
        code: "payload_too_large",
        tweak: |r| r.body["description"] = json!("x".repeat(70_000)),
    },
    Case {
        name: "wrong content type",
        status: 415,
        code: "unsupported_media_type",
        tweak: |r| r.content_type = "text/plain",
    },
    Case {
        name: "no credentials",
        status: 401,
        code: "unauthorized",
        tweak: |r| r.key = None,
    },
    Case {
        name: "wrong credentials",
        status: 401,
        code: "unauthorized",
        tweak: |r| r.key = Some("sk_test_nobody".into()),
    },
    Case {
        name: "store key on merchant API",
        status: 401,
        code: "unauthorized",
        tweak: |r| r.key = Some("ck_test_lawson".into()),
    },
    Case {
        name: "empty order id",
        status: 400,
        code: "invalid_merchant_order_id",
        tweak: |r| r.body["merchant_order_id"] = json!(""),
    },
    Case {
        name: "overlong order id",
        status: 400,
        code: "invalid_merchant_order_id",
        tweak: |r| r.body["merchant_order_id"] = json!("o".repeat(65)),
    },
    Case {
        name: "order id with space",
        status: 400,
        code: "invalid_merchant_order_id",
        tweak: |r| r.body["merchant_order_id"] = json!("A 1"),
    },
    Case {
        name: "control character",
        status: 400,
        code: "invalid_description",
        tweak: |r| r.body["description"] = json!("ok\u{7}bell"),
    },
    Case {
        name: "unknown field",
        status: 400,
        code: "unknown_field",
        tweak: |r| r.body["merchant_id"] = json!("sample-books"),
    },
    Case {
        name: "bad customer mail",
        status: 400,
        code: "invalid_email",
        tweak: |r| r.body["customer"] = json!({"email": "taro@"}),
    },
];

async fn send(s: &TestStack, r: &Req) -> Reply {
    let c = s.client();
    let mut req = c
        .http
        .post(format!("{}/v1/invoices", s.api))
        .header("content-type", r.content_type);
    if let Some(k) = &r.key {
        req = req.bearer_auth(k);
    }
    if let Some(i) = &r.idem {
        req = req.header("Idempotency-Key", i);
    }
    req = req.body(r.raw.clone().unwrap_or_else(|| r.body.to_string()));
    c.send(req).await
}

#[tokio::test]
async fn every_bad_registration_has_its_code_and_leaves_no_trace() {
    let s = stack();
    assert!(CASES.len() >= 25);
    let merchant = s.merchant_id(0).to_string();
    for case in CASES {
        let number = s.fresh_card().await.to_string();
        let order = unique("order");
        let idem = unique("idem");
        let mut r = Req {
            key: Some(s.merchant_key(0).to_string()),
            idem: Some(idem.clone()),
            content_type: "application/json",
            body: json!({"merchant_order_id": order, "amount": 1000, "due_date": due_in(3),
                         "smartpit_number": number}),
            raw: None,
        };
        (case.tweak)(&mut r);
        let reply = send(s, &r).await;
        assert_eq!(reply.status, case.status, "{}: {:?}", case.name, reply.body);
        assert_eq!(reply.code(), case.code, "{}: {:?}", case.name, reply.body);
        assert_eq!(
            reply.content_type, "application/problem+json",
            "{}",
            case.name
        );
        assert_eq!(reply.body["status"], case.status, "{}", case.name);
        assert!(reply.body["title"].as_str().is_some_and(|t| !t.is_empty()));
        // No invoice, no order id, no idempotency record.
        assert!(
            s.number_partition(&number).await.is_empty(),
            "{}",
            case.name
        );
        assert!(
            s.item(&format!("MER#{merchant}"), &format!("ORDER#{order}"))
                .await
                .is_none(),
            "{}",
            case.name
        );
        assert!(
            s.item(&format!("IDEM#{merchant}#{idem}"), "#")
                .await
                .is_none(),
            "{}",
            case.name
        );
        // The same request made good succeeds: the failure left nothing in the way.
        if case.status != 401 {
            let good = s
                .client()
                .register(
                    s.merchant_key(0),
                    &idem,
                    &json!({"merchant_order_id": order, "amount": 1000, "due_date": due_in(3),
                            "smartpit_number": number}),
                )
                .await;
            assert_eq!(good.status, 201, "{} then good: {:?}", case.name, good.body);
        }
    }
}

#[tokio::test]
async fn bad_store_requests_are_refused_and_pay_nothing() {
    let s = stack();
    let c = s.client();
    let number = s.fresh_card().await.to_string();
    let inv = c
        .register(
            s.merchant_key(0),
            &unique("idem"),
            &json!({"merchant_order_id": unique("o"), "amount": 800, "due_date": due_in(2),
                    "smartpit_number": number}),
        )
        .await;
    assert_eq!(inv.status, 201);
    let id = inv.body["id"].as_str().unwrap_or_default().to_string();
    let lawson = s.chain_key("lawson");
    let lookups = [
        (
            json!({"store_code": "L1", "smartpit_number": bad_check_digit(&number)}),
            400,
            "invalid_number",
        ),
        (
            json!({"store_code": "L1", "smartpit_number": &number[..12]}),
            400,
            "invalid_number",
        ),
        (
            json!({"store_code": "L1", "smartpit_number": number, "barcode": number}),
            400,
            "invalid_request",
        ),
        (
            json!({"smartpit_number": number}),
            400,
            "invalid_store_code",
        ),
        (
            json!({"store_code": "L1", "barcode": "12345"}),
            400,
            "invalid_barcode",
        ),
        (
            json!({"store_code": "L1", "smartpit_number": unknown_number()}),
            404,
            "billing_not_found",
        ),
    ];
    for (body, status, code) in lookups {
        let r = c.post_json("/store/v1/lookup", lawson, &body).await;
        assert_eq!((r.status, r.code()), (status, code), "{body}");
    }
    let payments = [
        (
            json!({"store_code": "L1", "invoice_ids": [id], "amount": 0}),
            400,
            "invalid_amount",
        ),
        (
            json!({"store_code": "L1", "invoice_ids": [], "amount": 800}),
            400,
            "invalid_invoice_ids",
        ),
        (
            json!({"store_code": "L1", "invoice_ids": ["inv_nope"], "amount": 800}),
            400,
            "invalid_invoice_ids",
        ),
        (
            json!({"store_code": "L1", "invoice_ids": [id, id], "amount": 1600}),
            400,
            "invalid_invoice_ids",
        ),
        (
            json!({"store_code": "L1", "invoice_ids": [id], "amount": "800"}),
            400,
            "invalid_amount",
        ),
        (
            json!({"store_code": "L1", "invoice_ids": [id], "amount": 801}),
            422,
            "amount_mismatch",
        ),
    ];
    for (mut body, status, code) in payments {
        let txn = unique("t");
        body["store_transaction_id"] = json!(txn);
        let r = c.post_json("/store/v1/payments", lawson, &body).await;
        assert_eq!((r.status, r.code()), (status, code), "{body}");
        assert!(s
            .item(&format!("PAY#{}", payment_id("lawson", &txn)), "#")
            .await
            .is_none());
    }
    let rows = s.number_partition(&number).await;
    assert_eq!(
        smartpit_shared::db::item::get_s(&rows[0], "status"),
        Some("registered")
    );
    // Routes and methods.
    let r = c.send(c.get("/v1/nothing-here", s.merchant_key(0))).await;
    assert_eq!((r.status, r.code()), (404, "route_not_found"));
    let r = c
        .send(c.http.delete(format!("{}/v1/invoices", s.api)))
        .await;
    assert_eq!((r.status, r.code()), (405, "method_not_allowed"));
    let r = c
        .send(c.get("/v1/invoices?status=lost", s.merchant_key(0)))
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_status"));
    let r = c
        .send(c.get("/v1/invoices?limit=0", s.merchant_key(0)))
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_limit"));
    let r = c
        .send(c.get("/v1/invoices/inv_unknown", s.merchant_key(0)))
        .await;
    assert_eq!((r.status, r.code()), (404, "invoice_not_found"));
    let r = c
        .send(c.post("/store/v1/payments/pay_unknown/void", lawson))
        .await;
    assert_eq!((r.status, r.code()), (404, "payment_not_found"));
}
