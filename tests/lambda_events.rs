//! The handlers fed API Gateway's own HTTP API (payload 2.0) events from fixture files, as
//! Lambda hands them over: routing, path and query parameters work there as they do locally.

use serde_json::{json, Value};
use smartpit_invoices::InvoicesFunction;
use smartpit_tests::{due_in, stack, unique};

fn event(file: &str, replacements: &[(&str, &str)]) -> lambda_http::Request {
    let mut text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(file),
    )
    .expect("fixture");
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    lambda_http::request::from_str(&text).expect("API Gateway event")
}

fn body(resp: &lambda_http::Response<lambda_http::Body>) -> Value {
    serde_json::from_slice(resp.body().as_ref()).unwrap_or(Value::Null)
}

#[tokio::test]
async fn invoice_routes_work_on_api_gateway_events() {
    let s = stack();
    let function = InvoicesFunction::new(
        &s.sdk(),
        s.stack.resources_of("InvoicesFunction").expect("resources"),
    );
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

    let cancel = function
        .handle(event(
            "apigw_v2_cancel_invoice.json",
            &[("MERCHANT_KEY", key), ("INVOICE_ID", id)],
        ))
        .await;
    assert_eq!(cancel.status().as_u16(), 200, "{:?}", body(&cancel));
    assert_eq!(body(&cancel)["status"], "cancelled");

    let list = function
        .handle(event(
            "apigw_v2_list_invoices.json",
            &[("MERCHANT_KEY", key)],
        ))
        .await;
    assert_eq!(list.status().as_u16(), 200);
    let page = body(&list);
    assert!(page["invoices"]
        .as_array()
        .is_some_and(|l| l.len() <= 5 && l.iter().all(|i| i["status"] == "paid")));

    let unauthorised = function
        .handle(event(
            "apigw_v2_list_invoices.json",
            &[("MERCHANT_KEY", "nobody")],
        ))
        .await;
    assert_eq!(unauthorised.status().as_u16(), 401);
    assert_eq!(
        unauthorised.headers()["content-type"],
        "application/problem+json"
    );
}
