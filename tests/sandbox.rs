//! The sandbox's test helpers (a test stack, test keys): an invoice paid, voided, expired and
//! settled on cue, each read back as the merchant sees it (status, events) and as a chain does
//! (a paid bill is no longer offered at the kiosk).

use serde_json::{json, Value};
use smartpit_tests::{due_in, stack, unique, Client, Reply, TestStack};

async fn bill(c: &Client, s: &TestStack, merchant: usize, amount: i64) -> (String, String) {
    let number = s.fresh_card().await.to_string();
    let r = c
        .register(
            s.merchant_key(merchant),
            &unique("idem"),
            &json!({"merchant_order_id": unique("sb"), "amount": amount, "due_date": due_in(4),
                    "smartpit_number": number}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    (
        r.body["id"].as_str().unwrap_or_default().to_string(),
        number,
    )
}

async fn helper(
    c: &Client,
    s: &TestStack,
    merchant: usize,
    id: &str,
    action: &str,
    body: Option<Value>,
) -> Reply {
    let req = c.post(
        &format!("/v1/test/invoices/{id}/{action}"),
        s.merchant_key(merchant),
    );
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    c.send(req).await
}

async fn status(c: &Client, s: &TestStack, id: &str) -> String {
    let r = c
        .send(c.get(&format!("/v1/invoices/{id}"), s.merchant_key(0)))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["status"].as_str().unwrap_or_default().to_string()
}

/// The merchant's event types for one invoice, oldest first (the listing is newest first).
async fn events(c: &Client, s: &TestStack, id: &str) -> Vec<String> {
    let r = c
        .send(c.get("/v1/events?limit=100", s.merchant_key(0)))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut types: Vec<String> = r.body["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["data"]["invoice"]["id"] == id)
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect();
    types.reverse();
    types
}

#[tokio::test]
async fn a_developer_pays_voids_pays_again_and_settles_on_cue() {
    let s = stack();
    let c = s.client();
    let (id, number) = bill(&c, s, 0, 2_400).await;

    let paid = helper(&c, s, 0, &id, "pay", None).await;
    assert_eq!(paid.status, 201, "{:?}", paid.body);
    assert_eq!(paid.body["amount"], 2_400);
    assert_eq!(paid.body["store_chain"], "lawson");
    assert_eq!(status(&c, s, &id).await, "paid");
    // A chain sees it as a chain's payment would leave it: nothing to pay on the card.
    let look = c
        .post_json(
            "/store/v1/lookup",
            s.chain_key("lawson"),
            &json!({"store_code": "L-1", "smartpit_number": number}),
        )
        .await;
    assert_eq!((look.status, look.code()), (404, "billing_not_found"));

    let voided = helper(&c, s, 0, &id, "void", None).await;
    assert_eq!(voided.status, 200, "{:?}", voided.body);
    assert_eq!(voided.body["status"], "voided");
    assert_eq!(status(&c, s, &id).await, "registered");

    let again = helper(
        &c,
        s,
        0,
        &id,
        "pay",
        Some(json!({"store_chain": "three-f", "store_code": "TF-7"})),
    )
    .await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(again.body["store_chain"], "three-f");
    assert_ne!(again.body["id"], paid.body["id"]);

    let settled = helper(&c, s, 0, &id, "settle", None).await;
    assert_eq!(settled.status, 200, "{:?}", settled.body);
    assert_eq!(settled.body["status"], "settled");
    assert!(settled.body["settled_at"].is_string());
    // Settled: a void is refused as a chain's would be.
    let late = helper(&c, s, 0, &id, "void", None).await;
    assert_eq!(
        (late.status, late.code()),
        (409, "payment_settled"),
        "{:?}",
        late.body
    );

    assert_eq!(
        events(&c, s, &id).await,
        [
            "invoice.paid",
            "invoice.payment_voided",
            "invoice.paid",
            "invoice.settled"
        ]
    );
}

#[tokio::test]
async fn a_developer_expires_a_bill_and_the_helpers_refuse_what_cannot_be() {
    let s = stack();
    let c = s.client();
    let (id, _) = bill(&c, s, 0, 800).await;
    let unpaid_void = helper(&c, s, 0, &id, "void", None).await;
    assert_eq!(
        (unpaid_void.status, unpaid_void.code()),
        (409, "invoice_not_paid")
    );
    let unpaid_settle = helper(&c, s, 0, &id, "settle", None).await;
    assert_eq!(
        (unpaid_settle.status, unpaid_settle.code()),
        (409, "invoice_not_paid")
    );

    let expired = helper(&c, s, 0, &id, "expire", None).await;
    assert_eq!(expired.status, 200, "{:?}", expired.body);
    assert_eq!(expired.body["status"], "expired");
    assert_eq!(events(&c, s, &id).await, ["invoice.expired"]);
    // Judged past the deadline, stamped now: an event dated at the deadline would sort, and
    // come due for its webhook, days ahead.
    let listed = c
        .send(c.get(
            "/v1/events?type=invoice.expired&limit=100",
            s.merchant_key(0),
        ))
        .await;
    let event = listed.body["events"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["data"]["invoice"]["id"] == id.as_str())
        .cloned()
        .unwrap_or_default();
    let stamped =
        chrono::DateTime::parse_from_rfc3339(event["created_at"].as_str().unwrap_or_default())
            .expect("created_at");
    let late = (stamped.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    assert!(
        late < 60,
        "the expired event is dated {late} s ahead: {event}"
    );
    let twice = helper(&c, s, 0, &id, "expire", None).await;
    assert_eq!((twice.status, twice.code()), (409, "invoice_not_expirable"));
    let pay = helper(&c, s, 0, &id, "pay", None).await;
    assert_eq!((pay.status, pay.code()), (409, "invoice_not_payable"));

    // Another merchant's bill is as unknown as a missing one, for every helper.
    let (theirs, _) = bill(&c, s, 1, 500).await;
    for action in ["pay", "void", "expire", "settle"] {
        let r = helper(&c, s, 0, &theirs, action, None).await;
        assert_eq!((r.status, r.code()), (404, "invoice_not_found"), "{action}");
    }
    assert_eq!(status_of(&c, s, 1, &theirs).await, "registered");

    // Odd input: a chain that does not exist, a chain that is not a string, an unknown field.
    let (fresh, _) = bill(&c, s, 0, 300).await;
    for (body, want) in [
        (
            json!({"store_chain": "seven"}),
            (422, "unknown_store_chain"),
        ),
        (json!({"store_chain": 7}), (400, "invalid_store_chain")),
        (json!({"store_chian": "lawson"}), (400, "unknown_field")),
        (json!({"store_code": ""}), (400, "invalid_store_code")),
    ] {
        let r = helper(&c, s, 0, &fresh, "pay", Some(body.clone())).await;
        assert_eq!((r.status, r.code()), want, "{body}: {:?}", r.body);
    }
    assert_eq!(
        status(&c, s, &fresh).await,
        "registered",
        "nothing was paid"
    );
}

async fn status_of(c: &Client, s: &TestStack, merchant: usize, id: &str) -> String {
    let r = c
        .send(c.get(&format!("/v1/invoices/{id}"), s.merchant_key(merchant)))
        .await;
    r.body["status"].as_str().unwrap_or_default().to_string()
}

/// The store simulator in a browser: a kiosk chain's key and a typed number, the bill listed,
/// paid, then voided; a register chain's key and a sheet's 44-digit code, paid; a typed number
/// at a register chain refused as the store API refuses it. The merchant's invoice is read
/// back after each step.
#[tokio::test]
async fn the_store_simulator_pays_and_voids_through_the_store_api() {
    use smartpit_shared::sheet::payment_code::{company_code, PaymentCode};
    let s = stack();
    let c = s.client();
    let page = format!("{}/sandbox/store", s.api);

    // A kiosk chain: type the number, pay the bill, void the payment.
    let (id, number) = bill(&c, s, 0, 1_700).await;
    let row = format!("tr[data-invoice=\"{id}\"] button");
    let seen = smartpit_tests::browser::drive(&json!([
        {"goto": page},
        {"fill": ["#key", s.chain_key("lawson")]},
        {"fill": ["#number", number]},
        {"click": "#lookup"},
        {"click": row},
        {"click": "#void"},
        {"axe": true},
    ]))
    .await;
    assert_eq!(seen[0].status, Some(200));
    smartpit_tests::browser::assert_accessible(&seen[6]);
    assert!(
        seen[3].html.contains(&id),
        "the bill is listed: {}",
        seen[3].html
    );
    assert!(seen[3].html.contains("¥1,700"));
    assert!(seen[4].html.contains("Paid"), "{}", seen[4].html);
    assert!(seen[5].html.contains("Voided"), "{}", seen[5].html);
    assert!(
        seen.iter().all(|s| s.messages.is_empty()),
        "{:?}",
        seen[5].messages
    );
    let r = c
        .send(c.get(&format!("/v1/invoices/{id}"), s.merchant_key(0)))
        .await;
    assert_eq!(r.body["status"], "registered", "voided: payable again");
    let history: Vec<(&str, &str)> = r.body["payments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["status"].as_str().unwrap_or_default(),
                p["store_chain"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(history, [("voided", "lawson")], "{:?}", r.body);

    // A register chain: paste the sheet's code.
    let r = c
        .register(
            s.merchant_key(0),
            &unique("idem"),
            &json!({"merchant_order_id": unique("sb"), "amount": 900, "due_date": due_in(6),
                    "customer": {"email": format!("{}@example.jp", unique("sim"))}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let sheet_id = r.body["id"].as_str().unwrap_or_default().to_string();
    let inv = s
        .db()
        .get_invoice(&smartpit_shared::InvoiceId::parse(&sheet_id).expect("id"))
        .await
        .expect("read")
        .expect("invoice");
    let code = PaymentCode::new(&company_code(), inv.number(), inv.due_date, inv.total())
        .reissued(inv.reissue())
        .digits();
    let seen = smartpit_tests::browser::drive(&json!([
        {"goto": page},
        {"fill": ["#key", s.chain_key("three-f")]},
        {"fill": ["#barcode", code]},
        {"click": "#lookup"},
        {"click": format!("tr[data-invoice=\"{sheet_id}\"] button")},
        {"goto": page},
        {"fill": ["#key", s.chain_key("three-f")]},
        {"fill": ["#barcode", code]},
        {"click": "#lookup"},
    ]))
    .await;
    assert!(seen[4].html.contains("Paid"), "{}", seen[4].html);
    assert_eq!(status(&c, s, &sheet_id).await, "paid");
    assert!(
        seen[8].html.contains("billing_not_found"),
        "a paid bill is not offered again: {}",
        seen[8].html
    );

    // A register chain: upload the sheet PDF the customer printed (its code is read off it).
    let email = format!("{}@example.jp", unique("upload"));
    let r = c
        .register(
            s.merchant_key(0),
            &unique("idem"),
            &json!({"merchant_order_id": unique("sb"), "amount": 4_321, "due_date": due_in(6),
                    "customer": {"email": email}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let uploaded_id = r.body["id"].as_str().unwrap_or_default().to_string();
    let link = r.body["sheet_url"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        s.mail_to(&email, 1, 60).await.len(),
        1,
        "the sheet was made"
    );
    let pdf = reqwest::get(format!("{link}/sheet.pdf"))
        .await
        .expect("sheet")
        .bytes()
        .await
        .expect("bytes");
    assert!(pdf.starts_with(b"%PDF"));
    let dir = std::env::temp_dir().join(unique("upload"));
    std::fs::create_dir_all(&dir).expect("dir");
    let (sheet, junk) = (dir.join("sheet.pdf"), dir.join("photo.pdf"));
    std::fs::write(&sheet, &pdf).expect("write");
    std::fs::write(&junk, b"%PDF-1.4 not really").expect("write");
    let seen = smartpit_tests::browser::drive(&json!([
        {"goto": page},
        {"fill": ["#key", s.chain_key("sunkus")]},
        {"upload": ["#sheet", junk.display().to_string()]},
        {"click": "#lookup"},
        {"fill": ["#key", s.chain_key("sunkus")]},
        {"upload": ["#sheet", sheet.display().to_string()]},
        {"click": "#lookup"},
        {"click": format!("tr[data-invoice=\"{uploaded_id}\"] button")},
    ]))
    .await;
    assert!(seen[3].html.contains("invalid_barcode"), "{}", seen[3].html);
    assert!(seen[6].html.contains("¥4,321"), "{}", seen[6].html);
    assert!(seen[7].html.contains("Paid"), "{}", seen[7].html);
    assert_eq!(status(&c, s, &uploaded_id).await, "paid");

    // A typed number at a register chain: the store API's own refusal, shown.
    let seen = smartpit_tests::browser::drive(&json!([
        {"goto": page},
        {"fill": ["#key", s.chain_key("three-f")]},
        {"fill": ["#number", inv.number().to_string()]},
        {"click": "#lookup"},
    ]))
    .await;
    assert!(
        seen[3].html.contains("channel_not_supported"),
        "{}",
        seen[3].html
    );
    // A merchant key is not a chain key.
    let seen = smartpit_tests::browser::drive(&json!([
        {"goto": page},
        {"fill": ["#key", s.merchant_key(0)]},
        {"fill": ["#number", inv.number().to_string()]},
        {"click": "#lookup"},
    ]))
    .await;
    assert!(seen[3].html.contains("unauthorized"), "{}", seen[3].html);
    if std::env::var("SMARTPIT_SCREENSHOTS").is_ok() {
        let (id, number) = bill(&c, s, 0, 2_300).await;
        let _ = id;
        let dir = std::env::temp_dir().join(unique("sim"));
        std::fs::create_dir_all(&dir).expect("dir");
        let png = dir.join("sim.png");
        smartpit_tests::browser::drive(&json!([
            {"viewport": [390, 1100, 2]},
            {"goto": page},
            {"fill": ["#key", s.chain_key("lawson")]},
            {"fill": ["#number", number]},
            {"click": "#lookup"},
            {"screenshot": png.display().to_string()},
        ]))
        .await;
        smartpit_tests::browser::keep_file(&png, "store-simulator.png");
    }
}
