//! Every route makes exactly the AWS calls docs/ARCHITECTURE.md documents ("Access patterns and
//! round trips"), counted by the local stack at each function instance's AWS endpoint and
//! reported in `x-local-aws-calls`. A change that adds a call fails here. Keys are warm
//! (a warm function trusts a key it has seen for 60 s).

use serde_json::json;
use smartpit_tests::{due_in, stack, unique, Reply};

fn calls(r: &Reply) -> Vec<String> {
    r.headers
        .get("x-local-aws-calls")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn ddb(ops: &[&str]) -> Vec<String> {
    ops.iter().map(|o| format!("DynamoDB:{o}")).collect()
}

#[tokio::test]
async fn each_route_makes_the_documented_calls() {
    let s = stack();
    let c = s.client();
    let key = s.merchant_key(0);
    let lawson = s.chain_key("lawson");
    // Warm both keys: the first request of a key reads it (one GetItem more).
    let first = c.send(c.get("/v1/invoices?limit=1", key)).await;
    assert_eq!(calls(&first), ddb(&["GetItem", "Query"]));
    let number = s.fresh_card().await.to_string();
    let look = c
        .post_json(
            "/store/v1/lookup",
            lawson,
            &json!({"store_code": "L-1", "smartpit_number": number}),
        )
        .await;
    assert_eq!(look.status, 404);
    // A miss is counted (number guessing): one write more than a hit.
    assert_eq!(calls(&look), ddb(&["GetItem", "Query", "UpdateItem"]));

    let idem = unique("idem");
    let body = json!({"merchant_order_id": unique("o"), "amount": 1000, "due_date": due_in(3),
                      "smartpit_number": number});
    let reg = c.register(key, &idem, &body).await;
    assert_eq!(reg.status, 201);
    assert_eq!(
        calls(&reg),
        ddb(&["GetItem", "PutItem", "TransactWriteItems"]),
        "register on a number: number, claim, transaction"
    );
    let replay = c.register(key, &idem, &body).await;
    assert_eq!(replay.status, 201);
    assert_eq!(
        calls(&replay),
        ddb(&["GetItem", "PutItem", "GetItem"]),
        "replay: number, refused claim, stored response"
    );
    let id = reg.body["id"].as_str().unwrap_or_default().to_string();
    let get = c.send(c.get(&format!("/v1/invoices/{id}"), key)).await;
    assert_eq!(calls(&get), ddb(&["GetItem"]));
    let list = c.send(c.get("/v1/invoices?limit=5", key)).await;
    assert_eq!(calls(&list), ddb(&["Query"]));
    let look = c
        .post_json(
            "/store/v1/lookup",
            lawson,
            &json!({"store_code": "L-1", "smartpit_number": number}),
        )
        .await;
    assert_eq!(look.status, 200);
    assert_eq!(calls(&look), ddb(&["Query"]), "a warm lookup is one query");
    let pay_body = json!({"store_code": "L-1", "store_transaction_id": unique("t"),
                          "invoice_ids": [id], "amount": 1000});
    let pay = c.post_json("/store/v1/payments", lawson, &pay_body).await;
    assert_eq!(pay.status, 201);
    assert_eq!(
        calls(&pay),
        ddb(&["GetItem", "BatchGetItem", "TransactWriteItems"])
    );
    let again = c.post_json("/store/v1/payments", lawson, &pay_body).await;
    assert_eq!(again.status, 201);
    assert_eq!(calls(&again), ddb(&["GetItem"]), "a payment replay");
    let pid = pay.body["id"].as_str().unwrap_or_default();
    let void = c
        .send(c.post(&format!("/store/v1/payments/{pid}/void"), lawson))
        .await;
    assert_eq!(void.status, 200);
    assert_eq!(
        calls(&void),
        ddb(&["GetItem", "BatchGetItem", "TransactWriteItems"])
    );
    let cancel = c
        .send(c.post(&format!("/v1/invoices/{id}/cancel"), key))
        .await;
    assert_eq!(cancel.status, 200);
    assert_eq!(calls(&cancel), ddb(&["GetItem", "TransactWriteItems"]));

    // A sheet: no number to read; the link reads the link and the invoice.
    let sheet = c
        .register(
            key,
            &unique("idem"),
            &json!({"merchant_order_id": unique("o"), "amount": 700, "due_date": due_in(3),
                    "customer": {"email": format!("{}@example.jp", unique("r"))}}),
        )
        .await;
    assert_eq!(sheet.status, 201);
    assert_eq!(calls(&sheet), ddb(&["PutItem", "TransactWriteItems"]));
    let path = sheet.body["sheet_url"]
        .as_str()
        .and_then(|u| u.find("/s/").map(|i| u[i..].to_string()))
        .unwrap_or_default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let link = loop {
        let r = c
            .send(
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .expect("client")
                    .get(format!("{}{path}/sheet.pdf", s.api)),
            )
            .await;
        if r.status == 302 || std::time::Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(link.status, 302);
    assert_eq!(
        calls(&link),
        ddb(&["GetItem", "GetItem"]),
        "link, invoice; presigning is local"
    );
    let page = c.send(c.http.get(format!("{}{path}", s.api))).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        calls(&page),
        ddb(&["GetItem", "GetItem", "GetItem"]),
        "link, invoice, the merchant's contact details"
    );
    let number = c.send(c.http.post(format!("{}/get-number", s.api))).await;
    assert_eq!(number.status, 201);
    assert_eq!(
        calls(&number),
        ddb(&["UpdateItem", "PutItem"]),
        "the address's count, the number"
    );

    // Merchant events (the webhook API is a function of its own: its first request reads the
    // key, as every function's first does).
    let cold = c.send(c.get("/v1/events?limit=5", key)).await;
    assert_eq!(calls(&cold), ddb(&["GetItem", "Query"]));
    let events = c.send(c.get("/v1/events?limit=5", key)).await;
    assert_eq!(events.status, 200);
    assert_eq!(calls(&events), ddb(&["Query"]));
}
