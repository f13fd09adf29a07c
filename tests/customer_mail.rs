//! The customer is told (issue 21): a paid bill's 「お支払い完了のお知らせ」 and its お支払い完了証明
//! (PDF, behind the payment page), read back from the emulator; one per payment under a
//! repeated report; nothing further after a void, the page payable again.

use serde_json::{json, Value};
use smartpit_tests::pdf::pdf_text;
use smartpit_tests::{due_in, stack, unique, Client, TestStack};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A sheet bill for a PC and a mobile address; its id and page link.
async fn sheet_bill(
    c: &Client,
    s: &TestStack,
    pc: &str,
    mobile: &str,
    amount: i64,
) -> (String, String) {
    let r = c
        .register(
            s.merchant_key(0),
            &unique("idem"),
            &json!({"merchant_order_id": unique("conf"), "amount": amount, "customer_fee": 150,
                    "due_date": due_in(5), "description": "ノート 3冊",
                    "customer": {"email": pc, "mobile_email": mobile}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    (
        r.body["id"].as_str().expect("id").to_string(),
        r.body["sheet_url"].as_str().expect("link").to_string(),
    )
}

/// A sheet bill of the merchant with `key` for `pc` (and `mobile`), due in 5 days; its id.
async fn sheet_bill_of(
    c: &Client,
    key: &str,
    pc: &str,
    mobile: Option<&str>,
    amount: i64,
) -> String {
    let mut customer = json!({"email": pc});
    if let Some(m) = mobile {
        customer["mobile_email"] = json!(m);
    }
    let r = c
        .register(
            key,
            &unique("idem"),
            &json!({"merchant_order_id": unique("cm"), "amount": amount, "due_date": due_in(5),
                    "customer": customer}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().expect("id").to_string()
}

fn report(id: &str, txn: &str, total: i64) -> Value {
    json!({"store_code": "L0042", "store_transaction_id": txn, "invoice_ids": [id], "amount": total})
}

/// The mails with `subject` to `to`, waiting up to `secs` for `count` of them.
async fn mails_titled(
    s: &TestStack,
    to: &str,
    subject: &str,
    count: usize,
    secs: u64,
) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let found: Vec<Value> = s
            .mail_to(to, 0, 0)
            .await
            .into_iter()
            .filter(|m| m["subject"] == subject)
            .collect();
        if found.len() >= count || std::time::Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

/// The payment page, once its confirmation link shows (the notifier stored the PDF).
async fn page_with_confirmation(link: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let html = reqwest::get(link)
            .await
            .expect("page")
            .text()
            .await
            .unwrap_or_default();
        if html.contains("/confirmation.pdf") || std::time::Instant::now() > deadline {
            return html;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn a_paid_sheet_bill_is_confirmed_by_mail_and_a_pdf_once() {
    let s = stack();
    let c = s.client();
    let pc = format!("{}@example.jp", unique("paid"));
    let mobile = format!("{}@docomo.example.jp", unique("paid"));
    let (id, link) = sheet_bill(&c, s, &pc, &mobile, 4_800).await;
    let txn = unique("T");
    let pay = c
        .post_json(
            "/store/v1/payments",
            s.chain_key("lawson"),
            &report(&id, &txn, 4_950),
        )
        .await;
    assert_eq!(pay.status, 201, "{:?}", pay.body);
    // The POS sends its report again while the first is answered: the same payment.
    let again = c
        .post_json(
            "/store/v1/payments",
            s.chain_key("lawson"),
            &report(&id, &txn, 4_950),
        )
        .await;
    assert_eq!(again.body["id"], pay.body["id"], "{:?}", again.body);

    // 「お支払い完了のお知らせ」 to the PC address: text and HTML, the payment as reported.
    let subject = "【Smart Pit】お支払い完了のお知らせ";
    let mails = mails_titled(s, &pc, subject, 1, 60).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let body = mails[0]["body"].as_str().unwrap_or_default();
    for want in [
        "お支払いが完了しました",
        "¥4,950",
        "うち手数料 ¥150",
        "ローソン",
        "領収書ではありません",
        "ご請求元へお問い合わせください",
        link.as_str(),
    ] {
        assert!(body.contains(want), "{want} in {body}");
    }
    let mobile_mails = mails_titled(s, &mobile, subject, 1, 30).await;
    assert_eq!(mobile_mails.len(), 1, "{mobile_mails:?}");
    assert!(mobile_mails[0]["body"]
        .as_str()
        .is_some_and(|b| b.contains("¥4,950") && b.contains("ローソン")));

    // The paid page links the お支払い完了証明; its PDF reads back.
    let html = page_with_confirmation(&link).await;
    assert!(html.contains("お支払い済みです"), "{html}");
    smartpit_tests::browser::keep(&link, "payment-page-paid-confirmation.png").await;
    let href = html
        .split("href=\"")
        .skip(1)
        .filter_map(|h| h.split('"').next())
        .find(|h| h.ends_with("/confirmation.pdf"))
        .unwrap_or_else(|| panic!("no confirmation link: {html}"))
        .to_string();
    let origin = &link[..link.find("/s/").unwrap_or(0)];
    let client = no_redirects();
    let redirect = client
        .get(format!("{origin}{href}"))
        .send()
        .await
        .expect("confirmation.pdf");
    assert_eq!(redirect.status().as_u16(), 302);
    assert_eq!(
        redirect
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("private, no-store")
    );
    let location = redirect
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(location.contains("confirmations/"), "{location}");
    let pdf = client.get(&location).send().await.expect("pdf");
    assert_eq!(pdf.status().as_u16(), 200);
    let text = pdf_text(&pdf.bytes().await.expect("bytes"));
    let compact: String = text.split_whitespace().collect();
    for want in [
        "お支払い完了証明",
        "領収書ではありません",
        "¥4,950",
        "ローソン",
        "ノート3冊",
        pay.body["id"].as_str().unwrap_or("?"),
    ] {
        assert!(compact.contains(want), "{want} in {text}");
    }

    // The bill lists the notices as sent; a while later still one mail each.
    let r = c
        .send(c.get(&format!("/v1/invoices/{id}"), s.merchant_key(0)))
        .await;
    let notices: Vec<(String, String)> = r.body["notices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            (
                n["kind"].as_str().unwrap_or_default().to_string(),
                n["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for kind in ["confirmation", "paid_mail", "paid_mobile_mail"] {
        assert!(
            notices.contains(&(kind.to_string(), "sent".to_string())),
            "{kind}: {notices:?}"
        );
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(mails_titled(s, &pc, subject, 2, 0).await.len(), 1);
}

#[tokio::test]
async fn a_voided_payment_leaves_the_page_payable_and_no_confirmation() {
    let s = stack();
    let c = s.client();
    let pc = format!("{}@example.jp", unique("void"));
    let mobile = format!("{}@docomo.example.jp", unique("void"));
    let (id, link) = sheet_bill(&c, s, &pc, &mobile, 2_000).await;
    let lawson = s.chain_key("lawson");
    let pay = c
        .post_json(
            "/store/v1/payments",
            lawson,
            &report(&id, &unique("T"), 2_150),
        )
        .await;
    assert_eq!(pay.status, 201, "{:?}", pay.body);
    let pid = pay.body["id"].as_str().expect("id").to_string();
    let void = c
        .send(c.post(&format!("/store/v1/payments/{pid}/void"), lawson))
        .await;
    assert_eq!(void.status, 200, "{:?}", void.body);

    // The page shows the bill payable again, and no confirmation is served for it.
    let page = reqwest::get(&link).await.expect("page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap_or_default();
    assert!(
        html.contains("/sheet.pdf") && !html.contains("/confirmation.pdf"),
        "{html}"
    );
    let conf = no_redirects()
        .get(format!("{link}/confirmation.pdf"))
        .send()
        .await
        .expect("confirmation.pdf");
    assert_eq!(conf.status().as_u16(), 404);

    // Each of the payment's notices has an outcome: sent before the void reached the notifier,
    // or skipped after it; never a mail after the void was recorded as the reason.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let notices = loop {
        let r = c
            .send(c.get(&format!("/v1/invoices/{id}"), s.merchant_key(0)))
            .await;
        let ours: Vec<Value> = r.body["notices"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| {
                ["confirmation", "paid_mail", "paid_mobile_mail"]
                    .contains(&n["kind"].as_str().unwrap_or_default())
            })
            .cloned()
            .collect();
        if ours.len() == 3 || std::time::Instant::now() > deadline {
            break ours;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    assert_eq!(notices.len(), 3, "{notices:?}");
    let subject = "【Smart Pit】お支払い完了のお知らせ";
    for (kind, to) in [("paid_mail", &pc), ("paid_mobile_mail", &mobile)] {
        let n = notices.iter().find(|n| n["kind"] == kind).expect("notice");
        let sent = mails_titled(s, to, subject, 1, 0).await.len();
        match n["status"].as_str() {
            Some("sent") => assert_eq!(sent, 1, "{n:?}"),
            Some("skipped") => {
                assert_eq!(sent, 0, "{n:?}");
                assert!(n["reason"].as_str().is_some_and(|r| r.contains("voided")));
            }
            other => panic!("{kind}: {other:?}"),
        }
    }
}

/// A mistyped address corrected (`PATCH` with `customer`): the new address gets the bill's mail
/// with the same link and barcode (no new version, no reissued sheet); the old one gets nothing
/// more, not even the payment's confirmation. A bad address is refused and changes nothing.
#[tokio::test]
async fn a_corrected_address_gets_the_mail_and_the_old_one_nothing_more() {
    let s = stack();
    let c = s.client();
    let old = format!("{}@exmaple.jp", unique("typo"));
    let new = format!("{}@example.jp", unique("fixed"));
    let mobile = format!("{}@docomo.example.jp", unique("keep"));
    let (id, link) = sheet_bill(&c, s, &old, &mobile, 1_200).await;
    let sheet_subject = "スマートピットシート配信のお知らせ";
    assert_eq!(mails_titled(s, &old, sheet_subject, 1, 30).await.len(), 1);
    assert_eq!(s.mail_to(&mobile, 1, 30).await.len(), 1);
    let before = c
        .send(c.get(&format!("/v1/invoices/{id}"), s.merchant_key(0)))
        .await;
    let patch = |body: Value| {
        c.send(
            c.http
                .patch(format!("{}/v1/invoices/{id}", c.api))
                .bearer_auth(s.merchant_key(0))
                .header("Idempotency-Key", unique("idem"))
                .json(&body),
        )
    };
    let bad = patch(json!({"customer": {"email": "taro@@example.jp"}})).await;
    assert_eq!(
        (bad.status, bad.code()),
        (400, "invalid_email"),
        "{:?}",
        bad.body
    );
    let unknown = patch(json!({"customer": {"phone": "0312345678"}})).await;
    assert_eq!(unknown.status, 400, "{:?}", unknown.body);

    let r = patch(json!({"customer": {"email": new}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["version"], before.body["version"],
        "an address is not a new version"
    );
    assert_eq!(r.body["customer"]["email"], new.as_str());
    assert_eq!(r.body["customer"]["mobile_email"], mobile.as_str());

    // The new address gets the sheet mail with the same link; the mobile one nothing new.
    let got = mails_titled(s, &new, sheet_subject, 1, 60).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0]["body"].as_str().is_some_and(|b| b.contains(&link)));
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        s.mail_to(&mobile, 2, 0).await.len(),
        1,
        "the mobile address was not changed"
    );

    // Two corrections at once (under their own keys): each answered 200 or 409
    // `invoice_changed`; the bill keeps one of them, and only an address answered 200 is sent
    // the mail.
    let (x, y) = (
        format!("{}@example.jp", unique("race-x")),
        format!("{}@example.jp", unique("race-y")),
    );
    let (rx, ry) = tokio::join!(
        patch(json!({"customer": {"mobile_email": x}})),
        patch(json!({"customer": {"mobile_email": y}}))
    );
    let mut won = Vec::new();
    for (r, to) in [(&rx, &x), (&ry, &y)] {
        match (r.status, r.code()) {
            (200, _) => won.push(to.clone()),
            (409, "invoice_changed") => {}
            other => panic!("{other:?} {:?}", r.body),
        }
    }
    assert!(!won.is_empty());
    let stored = c
        .send(c.get(&format!("/v1/invoices/{id}"), s.merchant_key(0)))
        .await;
    let kept = stored.body["customer"]["mobile_email"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(won.contains(&kept), "{kept} of {won:?}");
    // Mail follows the bill's address when it goes: the kept one gets it; one replaced at
    // once may have been passed over; a refused one never.
    assert_eq!(s.mail_to(&kept, 1, 30).await.len(), 1, "{kept}");
    for to in [&x, &y].into_iter().filter(|t| **t != kept) {
        let n = s.mail_to(to, 2, 2).await.len();
        assert!(n <= usize::from(won.contains(to)), "{to}: {n}");
    }
    let mobile = kept;

    // Paid: the confirmation goes to the new address only.
    let pay = c
        .post_json(
            "/store/v1/payments",
            s.chain_key("lawson"),
            &report(&id, &unique("T"), 1_350),
        )
        .await;
    assert_eq!(pay.status, 201, "{:?}", pay.body);
    let paid_subject = "【Smart Pit】お支払い完了のお知らせ";
    assert_eq!(mails_titled(s, &new, paid_subject, 1, 60).await.len(), 1);
    assert_eq!(mails_titled(s, &mobile, paid_subject, 1, 30).await.len(), 1);
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(
        s.mail_to(&old, 2, 0).await.len(),
        1,
        "the old address got its first mail and nothing more"
    );
}

/// The merchant's contact details, set by the operator (`smartpit merchant-contact`, each field
/// read by its parser), are on the sheet (pdftotext), the payment page (Chromium, axe-core),
/// the closed page after a cancel and the mail; a bad phone number is refused and changes
/// nothing.
#[tokio::test]
async fn the_merchants_contact_is_on_the_sheet_the_page_and_the_mail() {
    use smartpit_tests::operator::smartpit;
    let s = stack();
    let c = s.client();
    let shop = smartpit_tests::receiver::shop(s).await;
    let (ok, out) = smartpit(
        s,
        &[
            "merchant-contact",
            "--merchant",
            &shop.id,
            "--phone",
            "12345",
        ],
    );
    assert!(!ok && out.contains("--phone"), "{out}");
    let (ok, out) = smartpit(
        s,
        &[
            "merchant-contact",
            "--merchant",
            &shop.id,
            "--phone",
            "0312345678",
            "--url",
            "https://shop.example.jp/help",
            "--email",
            "help@shop.example.jp",
            "--hours",
            "平日 10:00-18:00",
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("電話 03-1234-5678"), "{out}");
    let (ok, out) = smartpit(
        s,
        &[
            "merchant-contact",
            "--merchant",
            "no-such-shop",
            "--phone",
            "0312345678",
        ],
    );
    assert!(!ok && out.contains("no merchant"), "{out}");

    let pc = format!("{}@example.jp", unique("contact"));
    let r = c
        .register(
            &shop.key,
            &unique("idem"),
            &json!({"merchant_order_id": unique("ct"), "amount": 2_500, "due_date": due_in(5),
                    "customer": {"email": pc}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().expect("id").to_string();
    let link = r.body["sheet_url"].as_str().expect("link").to_string();

    // The mail: text and HTML parts.
    let mails = mails_titled(s, &pc, "スマートピットシート配信のお知らせ", 1, 60).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let body = mails[0]["body"].as_str().unwrap_or_default();
    for want in [
        "お問い合わせ先",
        "03-1234-5678",
        "https://shop.example.jp/help",
        "help@shop.example.jp",
        "平日 10:00-18:00",
    ] {
        assert!(body.contains(want), "{want} in {body}");
    }

    // The sheet, as pdftotext reads it.
    let page = reqwest::get(&link)
        .await
        .expect("page")
        .text()
        .await
        .unwrap_or_default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let pdf = loop {
        let r = reqwest::get(format!("{link}/sheet.pdf"))
            .await
            .expect("sheet.pdf");
        if r.status().as_u16() == 200 || std::time::Instant::now() > deadline {
            break r.bytes().await.expect("bytes").to_vec();
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    let text: String = pdf_text(&pdf).split_whitespace().collect();
    assert!(
        text.contains("お問い合わせ先:ウェブフック商店電話03-1234-5678"),
        "{text}"
    );
    assert!(text.contains("https://shop.example.jp/help"), "{text}");

    // The page in Chromium: the contact under the bill, no accessibility violation.
    assert!(page.contains("tel:0312345678"), "{page}");
    let seen = smartpit_tests::browser::drive(&json!([{"goto": link}, {"axe": true}])).await;
    assert_eq!(seen[0].status, Some(200));
    assert!(seen[0].html.contains("お問い合わせ先") && seen[0].html.contains("平日 10:00-18:00"));
    smartpit_tests::browser::assert_accessible(&seen[1]);

    // Cancelled: the 410 page still says whom to ask.
    let cancel = c
        .send(c.post(&format!("/v1/invoices/{id}/cancel"), &shop.key))
        .await;
    assert_eq!(cancel.status, 200, "{:?}", cancel.body);
    let gone = reqwest::get(&link).await.expect("page");
    assert_eq!(gone.status().as_u16(), 410);
    let html = gone.text().await.unwrap_or_default();
    assert!(
        html.contains("03-1234-5678") && html.contains("help@shop.example.jp"),
        "{html}"
    );
    smartpit_tests::browser::keep(&link, "payment-page-cancelled-contact.png").await;

    // Cleared: the name alone, as before.
    let (ok, out) = smartpit(s, &["merchant-contact", "--merchant", &shop.id, "--clear"]);
    assert!(ok && out.contains("no contact details"), "{out}");
    let html = reqwest::get(&link)
        .await
        .expect("page")
        .text()
        .await
        .unwrap_or_default();
    assert!(!html.contains("03-1234-5678"), "{html}");
}

/// A poison record among good ones: a bill item that cannot be read (its attributes missing)
/// with a reminder and an erasure entry under `day`, as a bug or a hand edit could leave one.
async fn poison(s: &TestStack, day: chrono::NaiveDate, merchant: &str) {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    let number = s.fresh_card().await;
    let id = smartpit_shared::InvoiceId::new(number);
    let put = |pk: String, sk: String, extra: Option<(&str, &str)>| {
        let mut req = s
            .ddb()
            .put_item()
            .table_name(s.main_table())
            .item("pk", A::S(pk))
            .item("sk", A::S(sk));
        if let Some((k, v)) = extra {
            req = req.item(k, A::S(v.to_string()));
        }
        req.send()
    };
    put(
        format!("NUM#{number}"),
        format!("INV#{id}"),
        Some(("type", "invoice")),
    )
    .await
    .expect("poison bill");
    for pk in [format!("REMIND#{day}"), format!("ERASE#{day}")] {
        put(pk, id.to_string(), Some(("merchant_id", merchant)))
            .await
            .expect("poison entry");
    }
}

/// 09:00 JST on `day` minus `before` days, as the sweep's clock (`at_hour` for other hours).
fn jst_clock(day: chrono::NaiveDate, before: u64, at_hour: u32) -> chrono::DateTime<chrono::Utc> {
    let d = day - chrono::Days::new(before);
    let local = d.and_hms_opt(at_hour, 5, 0).expect("time");
    local
        .and_local_timezone(smartpit_shared::clock::jst())
        .single()
        .expect("JST")
        .with_timezone(&chrono::Utc)
}

/// The merchant reminds 3 days before the due date (`smartpit merchant-reminders`): the sweep
/// (its clock moved) queues one 「お支払い期限のお知らせ」 on that day between 09:00 and 20:00
/// JST, none the day before, none at 21:00, none for a paid bill, and never a second one.
#[tokio::test]
async fn a_reminder_goes_out_once_at_the_set_day_and_not_for_a_paid_bill() {
    use smartpit_tests::operator::smartpit;
    let s = stack();
    let c = s.client();
    let shop = smartpit_tests::receiver::shop(s).await;
    let (ok, out) = smartpit(
        s,
        &["merchant-reminders", "--merchant", &shop.id, "--days", "8"],
    );
    assert!(!ok, "8 days is refused: {out}");
    let (ok, out) = smartpit(
        s,
        &["merchant-reminders", "--merchant", &shop.id, "--days", "3"],
    );
    assert!(ok && out.contains("3 days"), "{out}");
    let unpaid_to = format!("{}@example.jp", unique("remind"));
    let paid_to = format!("{}@example.jp", unique("remind"));
    let unpaid = sheet_bill_of(&c, &shop.key, &unpaid_to, None, 3_000).await;
    let paid = sheet_bill_of(&c, &shop.key, &paid_to, None, 3_000).await;
    let pay = c
        .post_json(
            "/store/v1/payments",
            s.chain_key("lawson"),
            &report(&paid, &unique("T"), 3_000),
        )
        .await;
    assert_eq!(pay.status, 201, "{:?}", pay.body);

    let res = s.stack.resources_of("ExpiryFunction").expect("resources");
    let sweep = smartpit_invoices::expiry::ExpirySweep::new(&s.sdk(), res);
    let due = chrono::NaiveDate::parse_from_str(&due_in(5), "%Y-%m-%d").expect("day");
    let subject = "【Smart Pit】お支払い期限のお知らせ";
    // A bill that cannot be read, due a day earlier (its entry read first), holds no one back.
    poison(s, due - chrono::Days::new(1), &shop.id).await;
    // The day before the set day, and the set day after 20:00: nothing.
    sweep.handle_at(Value::Null, || jst_clock(due, 4, 10)).await;
    sweep.handle_at(Value::Null, || jst_clock(due, 3, 21)).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(mails_titled(s, &unpaid_to, subject, 1, 0).await.is_empty());
    // The set day at 10:05: one reminder, for the unpaid bill only; again the next day: none.
    let answer = sweep.handle_at(Value::Null, || jst_clock(due, 3, 10)).await;
    assert!(answer["reminded"].as_u64().unwrap_or(0) >= 1, "{answer}");
    let got = mails_titled(s, &unpaid_to, subject, 1, 60).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let body = got[0]["body"].as_str().unwrap_or_default();
    assert!(
        body.contains("¥3,000") && body.contains("お支払期限が近づいています"),
        "{body}"
    );
    sweep.handle_at(Value::Null, || jst_clock(due, 2, 10)).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        mails_titled(s, &unpaid_to, subject, 2, 0).await.len(),
        1,
        "once per bill"
    );
    assert!(
        mails_titled(s, &paid_to, subject, 1, 0).await.is_empty(),
        "not for a paid bill"
    );
    let r = c
        .send(c.get(&format!("/v1/invoices/{unpaid}"), &shop.key))
        .await;
    assert!(
        r.body["notices"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|n| n["kind"] == "reminder_mail" && n["status"] == "sent"),
        "{:?}",
        r.body["notices"]
    );
}

/// The retention rule: `DELETE /v1/invoices/{id}/customer` erases a bill's addresses at once
/// (the bill and its notices, read back raw); the sweep at 03:00 JST erases a paid bill's once
/// the retention (1 day here, `CUSTOMER_RETENTION_DAYS`) has passed since the payment, not
/// before, and never an open bill's.
#[tokio::test]
async fn customer_addresses_are_erased_at_once_or_after_the_bill_closed() {
    let s = stack();
    let c = s.client();
    let shop = smartpit_tests::receiver::shop(s).await;
    let bill = |to: String| {
        let (c, key) = (&c, shop.key.clone());
        async move { sheet_bill_of(c, &key, &to, Some(&format!("m-{to}")), 1_000).await }
    };
    let raw = |id: String| async move {
        let inv = smartpit_shared::InvoiceId::parse(&id).expect("id");
        s.item(&format!("NUM#{}", inv.number()), &format!("INV#{id}"))
            .await
            .expect("stored")
    };
    let has_address = |it: &smartpit_shared::db::item::Item| {
        it.contains_key("customer_email")
            || it.contains_key("customer_mobile_email")
            || format!("{:?}", it.get("notices")).contains("example.jp")
    };
    let now_erased = bill(format!("{}@example.jp", unique("erase"))).await;
    let paid = bill(format!("{}@example.jp", unique("erase"))).await;
    let open = bill(format!("{}@example.jp", unique("erase"))).await;
    // Wait for the registration mails, so the notices carry their addresses.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(has_address(&raw(now_erased.clone()).await));

    // At once, by the merchant; again the same; another merchant's is 404.
    let erase = |id: &str, key: &str| {
        c.send(
            c.http
                .delete(format!("{}/v1/invoices/{id}/customer", c.api))
                .bearer_auth(key),
        )
    };
    let r = erase(&now_erased, &shop.key).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["customer"],
        json!({"email": null, "mobile_email": null})
    );
    assert!(!has_address(&raw(now_erased.clone()).await));
    assert_eq!(erase(&now_erased, &shop.key).await.status, 200);
    assert_eq!(erase(&paid, s.merchant_key(1)).await.status, 404);

    // The sweep: the paid bill's addresses are kept until the retention has passed.
    let pay = c
        .post_json(
            "/store/v1/payments",
            s.chain_key("lawson"),
            &report(&paid, &unique("T"), 1_000),
        )
        .await;
    assert_eq!(pay.status, 201, "{:?}", pay.body);
    let res = s.stack.resources_of("ExpiryFunction").expect("resources");
    let db = smartpit_shared::Db::new(&s.sdk(), res.clone());
    let soon = chrono::Utc::now() + chrono::Duration::hours(23);
    db.erase_closed_customers(soon, 1).await.expect("pass");
    assert!(
        has_address(&raw(paid.clone()).await),
        "not before the retention"
    );
    // A bill that cannot be read, its entry read before the paid bill's, holds no one back.
    let later = chrono::NaiveDate::parse_from_str(&due_in(6), "%Y-%m-%d").expect("day");
    poison(s, later, &shop.id).await;
    let sweep =
        smartpit_invoices::expiry::ExpirySweep::new(&s.sdk(), res).with_retention(Some("1"));
    let today = smartpit_shared::clock::jst_date(chrono::Utc::now());
    let night = jst_clock(today + chrono::Days::new(2), 0, 3);
    let answer = sweep.handle_at(Value::Null, || night).await;
    assert!(answer["erased"].as_u64().unwrap_or(0) >= 1, "{answer}");
    assert!(!has_address(&raw(paid.clone()).await), "erased after it");
    assert!(raw(paid.clone()).await.contains_key("customer_erased_at"));
    assert!(
        has_address(&raw(open.clone()).await),
        "an open bill keeps its addresses"
    );
}

/// A card bill with only a PC address has no notice at registration (no sheet to mail); paid,
/// its customer still gets 「お支払い完了のお知らせ」 and the bill lists it (its first notice).
#[tokio::test]
async fn a_card_bill_with_only_a_pc_address_gets_its_confirmation_mail() {
    let s = stack();
    let c = s.client();
    let pc = format!("{}@example.jp", unique("card"));
    let number = s.fresh_card().await.to_string();
    let r = c
        .register(
            s.merchant_key(0),
            &unique("idem"),
            &json!({"merchant_order_id": unique("card"), "amount": 800, "due_date": due_in(5),
                    "smartpit_number": number, "customer": {"email": pc}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().expect("id").to_string();
    assert_eq!(
        r.body["notices"],
        json!([]),
        "nothing to send at registration"
    );
    let pay = c
        .post_json(
            "/store/v1/payments",
            s.chain_key("ministop"),
            &report(&id, &unique("T"), 800),
        )
        .await;
    assert_eq!(pay.status, 201, "{:?}", pay.body);
    let mails = mails_titled(s, &pc, "【Smart Pit】お支払い完了のお知らせ", 1, 60).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0]["body"]
        .as_str()
        .is_some_and(|b| b.contains("ミニストップ")));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let r = c
            .send(c.get(&format!("/v1/invoices/{id}"), s.merchant_key(0)))
            .await;
        let notices = r.body["notices"].clone();
        if notices == json!([]) && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            continue;
        }
        assert_eq!(notices[0]["kind"], "paid_mail", "{notices}");
        assert_eq!(notices[0]["status"], "sent", "{notices}");
        break;
    }
}

/// New terms and a first mobile address in one change of a card bill: a new version, and the
/// new address gets the registration notice with the new amount.
#[tokio::test]
async fn new_terms_with_a_new_mobile_address_mail_the_new_address() {
    let s = stack();
    let c = s.client();
    let number = s.fresh_card().await.to_string();
    let r = c
        .register(
            s.merchant_key(0),
            &unique("idem"),
            &json!({"merchant_order_id": unique("mix"), "amount": 800, "due_date": due_in(5),
                    "smartpit_number": number}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().expect("id").to_string();
    let mobile = format!("{}@docomo.example.jp", unique("mix"));
    let changed = c
        .send(
            c.http
                .patch(format!("{}/v1/invoices/{id}", c.api))
                .bearer_auth(s.merchant_key(0))
                .header("Idempotency-Key", unique("idem"))
                .json(&json!({"amount": 900, "customer": {"mobile_email": mobile}})),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(changed.body["version"], 2);
    assert_eq!(changed.body["customer"]["mobile_email"], mobile.as_str());
    let mails = mails_titled(s, &mobile, "【Smart Pit】請求登録のお知らせ", 1, 60).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0]["body"]
        .as_str()
        .is_some_and(|b| b.contains("¥900")));
}
