//! API Gateway's own HTTP API (payload 2.0) events from fixture files, handed to the invoices
//! function's process as Lambda hands them over: routing, path and query parameters work there
//! as they do behind the local API.

use serde_json::{json, Value};
use smartpit_tests::{due_in, stack, unique, TestStack};

fn event(file: &str, replacements: &[(&str, &str)]) -> Vec<u8> {
    let mut text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(file),
    )
    .expect("fixture");
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    text.into_bytes()
}

/// The function's 2.0 response: status, headers, the body read as JSON.
async fn invoke(s: &TestStack, event: Vec<u8>) -> (u16, Value, Value) {
    let invoked = s.functions.invoke("InvoicesFunction", event).await;
    let answer: Value =
        serde_json::from_slice(&invoked.result.expect("invocation")).expect("2.0 response");
    let body =
        serde_json::from_str(answer["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
    let status = answer["statusCode"].as_u64().unwrap_or(0) as u16;
    (status, answer["headers"].clone(), body)
}

#[tokio::test]
async fn invoice_routes_work_on_api_gateway_events() {
    let s = stack();
    let key = s.merchant_key(0);
    let number = s.fresh_card().await.to_string();
    let inv = s
        .client()
        .register(
            key,
            &unique("idem"),
            &json!({"merchant_order_id": unique("o"), "amount": 640, "due_date": due_in(2),
                    "smartpit_number": number}),
        )
        .await;
    assert_eq!(inv.status, 201);
    let id = inv.body["id"].as_str().unwrap_or_default();

    let (status, _, cancelled) = invoke(
        s,
        event(
            "apigw_v2_cancel_invoice.json",
            &[("MERCHANT_KEY", key), ("INVOICE_ID", id)],
        ),
    )
    .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");

    let (status, _, page) = invoke(
        s,
        event("apigw_v2_list_invoices.json", &[("MERCHANT_KEY", key)]),
    )
    .await;
    assert_eq!(status, 200);
    assert!(page["invoices"]
        .as_array()
        .is_some_and(|l| l.len() <= 5 && l.iter().all(|i| i["status"] == "paid")));

    let (status, headers, _) = invoke(
        s,
        event("apigw_v2_list_invoices.json", &[("MERCHANT_KEY", "nobody")]),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(headers["content-type"], "application/problem+json");
}
