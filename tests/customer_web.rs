//! The customer's web in a real browser (headless Chromium): the payment page behind a sheet
//! link in both languages at a phone's size and printed on A4, its barcode decoded by zbar from
//! the screenshot and from the print, its four state banners, and its security headers.

use chrono::Utc;
use serde_json::{json, Value};
use smartpit_shared::db::item;
use smartpit_shared::sheet::payment_code::{company_code, PaymentCode};
use smartpit_shared::{Invoice, InvoiceId};
use smartpit_tests::browser::{self, keep, keep_file};
use smartpit_tests::pdf::{barcodes, pdf_text, scan_png};
use smartpit_tests::{due_in, stack, unique, TestStack};

/// A bill registered without a number: its sheet link, and the invoice as stored.
async fn sheet_bill(s: &TestStack, amount: i64, fee: i64) -> (String, Invoice) {
    let r = s
        .client()
        .register(
            s.merchant_key(0),
            &unique("idem"),
            &json!({"merchant_order_id": unique("web"), "amount": amount, "customer_fee": fee,
                    "due_date": due_in(9), "description": "ノート 3冊",
                    "customer": {"email": format!("{}@example.jp", unique("web"))}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let link = r.body["sheet_url"]
        .as_str()
        .expect("sheet link")
        .to_string();
    let id = InvoiceId::parse(r.body["id"].as_str().unwrap_or_default()).expect("id");
    let inv = s
        .db()
        .get_invoice(&id)
        .await
        .expect("read")
        .expect("invoice");
    (link, inv)
}

/// Moves a sheet link's expiry into the past, as time would.
async fn expire_link(s: &TestStack, link: &str) {
    let token = link.rsplit('/').next().unwrap_or_default();
    s.ddb()
        .update_item()
        .table_name(s.main_table())
        .key("pk", item::s(format!("SHEET#{token}")))
        .key("sk", item::s("#"))
        .update_expression("SET link_expires_at = :t")
        .expression_attribute_values(":t", item::n(Utc::now().timestamp() - 1))
        .send()
        .await
        .expect("expire the link");
}

fn code_of(inv: &Invoice) -> String {
    PaymentCode::new(&company_code(), inv.number(), inv.due_date, inv.total())
        .reissued(inv.reissue())
        .digits()
}

fn no_policy_violation(log: &str) {
    assert!(
        !log.contains("Content Security Policy") && !log.contains("Refused to"),
        "the page broke its own Content-Security-Policy: {log}"
    );
}

#[tokio::test]
async fn the_payment_page_shows_the_bill_on_a_phone_in_both_languages_and_prints_on_a4() {
    let s = stack();
    let (link, inv) = sheet_bill(s, 12_800, 220).await;
    let code = code_of(&inv);
    let number = inv.number().grouped();

    // Japanese, at a phone's size: everything the sheet says, and a barcode a scanner reads.
    let (png, run) = browser::screenshot(&link, 390, 2400, 3).await;
    no_policy_violation(&run.log);
    assert_eq!(
        scan_png(&png),
        std::slice::from_ref(&code),
        "the barcode on screen"
    );
    keep(&link, "payment-page-ja.png").await;
    let ja = browser::dom(&link).await;
    no_policy_violation(&ja.log);
    let page = ja.stdout;
    assert!(page.contains("<html lang=\"ja\">"), "{page}");
    for shown in [
        inv.merchant_name.as_str(),
        "¥13,020",
        "代金 ¥12,800",
        "手数料 ¥220",
        &format!(
            "{} 23:59まで",
            smartpit_shared::clock::japanese_date(inv.due_date)
        ),
        &number,
        "ノート 3冊",
        &inv.merchant_order_id,
        &code[..22],
        &code[22..],
        "シートをダウンロード (PDF)",
        "ローソン",
        "ファミリーマート",
        "ミニストップ",
        "スリーエフ",
        "サークルK",
        "サンクス",
        "各種番号をお持ちの方",
        "画面に表示した番号だけではお支払いいただけません",
    ] {
        assert!(page.contains(shown), "the page shows {shown}: {page}");
    }
    assert!(!page.contains("<script"), "no script");
    let token = link.rsplit('/').next().unwrap_or_default();
    assert!(page.contains(&format!("href=\"/s/{token}/sheet.pdf\"")));

    // English, by the query and by the browser's language.
    let en_url = format!("{link}?lang=en");
    let (png, _) = browser::screenshot(&en_url, 390, 2400, 3).await;
    assert_eq!(scan_png(&png), std::slice::from_ref(&code));
    keep(&en_url, "payment-page-en.png").await;
    let en = browser::dom(&en_url).await.stdout;
    for shown in [
        "<html lang=\"en\">",
        "Amount to pay",
        "¥13,020",
        "Download the sheet (PDF)",
        "How to pay",
        "23:59 on",
        "Lawson",
        "Famiport",
        "A number shown on a screen is not accepted",
    ] {
        assert!(en.contains(shown), "the English page shows {shown}: {en}");
    }
    let english = reqwest::Client::new()
        .get(&link)
        .header("Accept-Language", "en-GB,en;q=0.9,ja;q=0.5")
        .send()
        .await
        .expect("page");
    assert!(english
        .text()
        .await
        .unwrap_or_default()
        .contains("lang=\"en\""));

    // Driven by playwright: no console message or page error (a CSP refusal would be one), and
    // no serious or critical accessibility violation (axe-core) in either language.
    let seen =
        browser::drive(&json!([{"goto": link}, {"axe": true}, {"goto": en_url}, {"axe": true}]))
            .await;
    assert_eq!(
        seen.iter().map(|s| s.status).collect::<Vec<_>>(),
        [Some(200), Some(200), Some(200), Some(200)]
    );
    browser::assert_accessible(&seen[1]);
    browser::assert_accessible(&seen[3]);
    assert!(
        seen.iter().all(|s| s.messages.is_empty()),
        "{:?}",
        seen[1].messages
    );

    // Printed: one A4 page, the bill's text, and the barcode read off the paper.
    let (pdf, run) = browser::print(&link).await;
    no_policy_violation(&run.log);
    let dir = std::env::temp_dir().join(unique("print"));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("p.pdf"), &pdf).expect("write");
    let info = std::process::Command::new("pdfinfo")
        .arg(dir.join("p.pdf"))
        .output()
        .expect("pdfinfo (make tools)");
    let info = String::from_utf8_lossy(&info.stdout).into_owned();
    assert!(info.contains("Pages:           1"), "{info}");
    assert!(info.contains("(A4)"), "{info}");
    let text = pdf_text(&pdf);
    assert!(text.contains("¥13,020") && text.contains(&number), "{text}");
    assert!(!text.contains("(PDF)"), "no button on paper: {text}");
    assert_eq!(barcodes(&pdf), [code], "the barcode on paper");
}

/// A link, its state's name, the status it answers, what its page shows, and its bill.
type Case<'a> = (&'a str, &'a str, u16, Vec<&'a str>, Option<&'a Invoice>);

/// Paid, expired, cancelled, unknown: a banner each, the right status, and nothing of the bill
/// that is not the link's own; a closed bill shows no number and no barcode.
#[tokio::test]
async fn each_state_of_a_bill_has_its_banner_and_shows_no_more_than_it_should() {
    let s = stack();
    let c = s.client();

    // Paid at a kiosk chain.
    let (paid_link, paid) = sheet_bill(s, 1_500, 0).await;
    let r = c
        .post_json(
            "/store/v1/payments",
            s.chain_key("lawson"),
            &json!({"store_code": "L-1", "store_transaction_id": unique("T"),
                    "invoice_ids": [paid.id.to_string()], "amount": 1_500}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);

    // Cancelled by the merchant.
    let (cancelled_link, cancelled) = sheet_bill(s, 900, 0).await;
    let r = c
        .send(c.post(
            &format!("/v1/invoices/{}/cancel", cancelled.id),
            s.merchant_key(0),
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // Past its deadline (the link's expiry moved into the past, as time would).
    let (expired_link, expired) = sheet_bill(s, 700, 0).await;
    expire_link(s, &expired_link).await;

    let unknown_link = format!("{}/s/{}", s.api, smartpit_shared::ids::new_secret("sht"));
    let today = smartpit_shared::clock::japanese_date(smartpit_shared::clock::jst_date(Utc::now()));
    let cases: [Case; 4] = [
        (
            &paid_link,
            "paid",
            200,
            vec!["お支払い済みです", &today, "¥1,500"],
            Some(&paid),
        ),
        (
            &expired_link,
            "expired",
            410,
            vec!["お支払期限を過ぎました"],
            Some(&expired),
        ),
        (
            &cancelled_link,
            "cancelled",
            410,
            vec!["このご請求は取り消されました"],
            Some(&cancelled),
        ),
        (
            &unknown_link,
            "unknown",
            404,
            vec!["シートが見つかりません"],
            None,
        ),
    ];
    // axe-core on every state's page, in one browser.
    let steps: Vec<Value> = cases
        .iter()
        .flat_map(|(link, ..)| [json!({"goto": link}), json!({"axe": true})])
        .collect();
    for seen in browser::drive(&json!(steps))
        .await
        .iter()
        .skip(1)
        .step_by(2)
    {
        browser::assert_accessible(seen);
    }
    for (link, kind, status, shown, inv) in cases {
        let answer = reqwest::Client::new().get(link).send().await.expect("page");
        assert_eq!(answer.status().as_u16(), status, "{kind}");
        let (png, run) = browser::screenshot(link, 390, 900, 2).await;
        no_policy_violation(&run.log);
        keep(link, &format!("payment-page-{kind}.png")).await;
        assert!(scan_png(&png).is_empty(), "{kind}: no barcode");
        let dom = browser::dom(link).await.stdout;
        assert!(
            dom.contains(&format!("class=\"banner {kind}\"")),
            "{kind}: {dom}"
        );
        for t in shown {
            assert!(dom.contains(t), "{kind} shows {t}: {dom}");
        }
        if let Some(inv) = inv {
            let n = inv.number().to_string();
            assert!(
                !dom.contains(&inv.number().grouped()) && !dom.contains(&n),
                "{kind}: no number"
            );
            assert!(!dom.contains("sheet.pdf"), "{kind}: no download");
        }
        if kind == "paid" {
            // Its deadline passing later does not turn a paid bill's page into "expired".
            expire_link(s, link).await;
            let later = reqwest::get(link).await.expect("page");
            assert_eq!(later.status().as_u16(), 200);
            let text = later.text().await.unwrap_or_default();
            assert!(text.contains("お支払い済みです"), "{text}");
        }
        let pdf = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
            .get(format!("{link}/sheet.pdf"))
            .send()
            .await
            .expect("sheet.pdf");
        assert_eq!(
            pdf.status().as_u16(),
            if status == 200 { 410 } else { status },
            "{kind}: no PDF of a bill that cannot be paid"
        );
    }
}

/// The headers that keep the token in the URL where it is: no referrer, never cached, no
/// framing, no sniffing, and a policy that allows no script.
#[tokio::test]
async fn the_page_sends_its_security_headers() {
    let s = stack();
    let (link, _) = sheet_bill(s, 400, 0).await;
    for url in [link.clone(), format!("{}/s/sht_unknown", s.api)] {
        let r = reqwest::Client::new().get(&url).send().await.expect("page");
        let h = |name: &str| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(h("referrer-policy"), "no-referrer");
        assert_eq!(h("cache-control"), "private, no-store");
        assert_eq!(h("x-content-type-options"), "nosniff");
        assert_eq!(h("x-frame-options"), "DENY");
        assert!(h("content-type").starts_with("text/html"));
        let csp = h("content-security-policy");
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(
            !csp.contains("script-src") && !csp.contains("unsafe"),
            "{csp}"
        );
    }
}

/// FAQ Q03/Q07 in a browser: the page, the button, a number shown as a card whose barcode a
/// scanner reads; the number stored as a web sheet valid for 60 days; any merchant bills it
/// until it expires; one address gets a 429 page past its numbers a minute.
#[tokio::test]
async fn a_free_number_from_the_web_site_is_billed_by_any_merchant_until_it_expires() {
    let s = stack();
    let dir = std::env::temp_dir().join(unique("getnumber"));
    std::fs::create_dir_all(&dir).expect("dir");
    let card_png = dir.join("card.png");
    let seen = browser::drive(&json!([
        {"viewport": [390, 900, 3]},
        {"goto": format!("{}/get-number", s.api)},
        {"axe": true},
        {"click": "button[type=submit]"},
        {"screenshot": card_png.display().to_string()},
        {"axe": true},
    ]))
    .await;
    let (form, card) = (&seen[1], &seen[3]);
    browser::assert_accessible(&seen[2]);
    browser::assert_accessible(&seen[5]);
    assert_eq!(form.status, Some(200));
    assert!(form.html.contains("番号を発行する"), "{}", form.html);
    assert_eq!(card.status, Some(201), "{}", card.html);
    assert!(card.url.ends_with("/get-number"));
    assert!(
        seen.iter().all(|s| s.messages.is_empty()),
        "no console message, no CSP refusal: {:?}",
        seen.last().map(|s| &s.messages)
    );
    let scanned = smartpit_tests::pdf::scan(&card_png, "ean13");
    assert_eq!(scanned.len(), 1, "one EAN-13 symbol on the card");
    let number = smartpit_shared::SmartPitNumber::parse(&scanned[0]).expect("a Smart Pit number");
    assert!(card.html.contains(&number.grouped()), "{}", card.html);
    let today = smartpit_shared::clock::jst_date(Utc::now());
    let until = today + chrono::Days::new(59);
    assert!(card.html.contains(&format!(
        "{} 23:59まで",
        smartpit_shared::clock::japanese_date(until)
    )));
    if std::env::var("SMARTPIT_SCREENSHOTS").is_ok() {
        let seen = browser::drive(&json!([
            {"viewport": [390, 1100, 2]},
            {"goto": format!("{}/get-number", s.api)},
            {"screenshot": dir.join("form.png").display().to_string()},
        ]))
        .await;
        assert_eq!(seen[1].status, Some(200));
        keep_file(&dir.join("form.png"), "get-number.png");
        keep_file(&card_png, "get-number-card.png");
    }

    // Stored as a web sheet: no merchant, valid through the 60th day.
    let rec = s
        .db()
        .get_number(number)
        .await
        .expect("read")
        .expect("issued");
    assert_eq!(rec.kind, smartpit_shared::NumberKind::Sheet);
    assert_eq!(rec.merchant_id, None);
    assert_eq!(
        rec.expires_at,
        Some(smartpit_shared::clock::deadline_epoch(until))
    );

    // Any merchant bills it.
    let c = s.client();
    for merchant in [0, 1] {
        let r = c
            .register(
                s.merchant_key(merchant),
                &unique("idem"),
                &json!({"merchant_order_id": unique("o"), "amount": 500, "due_date": due_in(3),
                        "smartpit_number": number.to_string()}),
            )
            .await;
        assert_eq!(r.status, 201, "merchant {merchant}: {:?}", r.body);
    }
    // Until it expires.
    s.ddb()
        .update_item()
        .table_name(s.db().res.numbers_table.clone())
        .key("number", item::s(number.to_string()))
        .update_expression("SET expires_at = :t")
        .expression_attribute_values(":t", item::n(Utc::now().timestamp() - 1))
        .send()
        .await
        .expect("expire the number");
    let late = c
        .register(
            s.merchant_key(0),
            &unique("idem"),
            &json!({"merchant_order_id": unique("o"), "amount": 500, "due_date": due_in(3),
                    "smartpit_number": number.to_string()}),
        )
        .await;
    assert_eq!(
        (late.status, late.code()),
        (422, "number_expired"),
        "{:?}",
        late.body
    );

    // One address takes at most WebNumbersPerMinute (3) a minute, copies sent at once
    // included (the count is one atomic ADD): of eight at once, at most six pass (three in
    // each minute, should one turn over) and the rest get the page that says to wait.
    let http = reqwest::Client::new();
    let answers = futures::future::join_all(
        (0..8).map(|_| http.post(format!("{}/get-number?lang=en", s.api)).send()),
    )
    .await;
    let mut issued = 0;
    let mut refused = None;
    for a in answers {
        let a = a.expect("post");
        match a.status().as_u16() {
            201 => issued += 1,
            429 => refused = Some(a),
            other => panic!("{other}"),
        }
    }
    assert!(issued <= 6, "{issued} numbers to one address at once");
    let refused = refused.expect("a 429 among eight at once");
    let wait: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&wait));
    assert!(refused
        .text()
        .await
        .unwrap_or_default()
        .contains("Please wait a moment"));
}
