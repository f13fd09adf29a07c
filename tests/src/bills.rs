//! Bills through their life as a merchant and a store chain make them: registered on a number,
//! paid at a chain's store, settled as the chain's file settles them (the sandbox runs the
//! settlement's code).

use serde_json::json;

use crate::receiver::Shop;
use crate::{due_in, unique, Client, TestStack};

pub async fn bill(c: &Client, shop: &Shop, number: &str, amount: i64, fee: i64) -> String {
    let r = c
        .register(
            &shop.key,
            &unique("idem"),
            &json!({"merchant_order_id": unique("order"), "amount": amount, "customer_fee": fee,
                    "due_date": due_in(5), "smartpit_number": number}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap_or_default().to_string()
}

/// Pays the bill at `chain` (201), answers the payment id.
pub async fn pay(c: &Client, s: &TestStack, chain: &str, id: &str, total: i64) -> String {
    let r = c
        .post_json(
            "/store/v1/payments",
            s.chain_key(chain),
            &json!({"store_code": "P001", "store_transaction_id": unique("T"),
                    "invoice_ids": [id], "amount": total}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap_or_default().to_string()
}

/// Settled as a chain's file settles it (the sandbox runs the settlement's code).
pub async fn settle(c: &Client, shop: &Shop, id: &str) {
    let r = c
        .send(c.post(&format!("/v1/test/invoices/{id}/settle"), &shop.key))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "settled");
}
