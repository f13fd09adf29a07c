//! The merchant console (issue 22), end to end: a user the operator added signs in from the
//! mail read back from the emulator, in Chromium; registers a bill by the form and sees it; the
//! store pays it and the console shows it paid. A POST without the session's CSRF token, or
//! with another session's, is 403 and writes nothing; an idle session goes back to sign-in; a
//! sign-out ends every session of the user; a link signs in once; the sign-in form answers the
//! same for any address and mails a user at most 5 times a quarter hour. axe-core on every page.

use chrono::Utc;
use serde_json::{json, Value};
use smartpit_shared::db::item::get_s;
use smartpit_tests::bills::pay;
use smartpit_tests::browser::{assert_accessible, drive, keep_file};
use smartpit_tests::operator::smartpit;
use smartpit_tests::receiver::{shop, Shop};
use smartpit_tests::{due_in, stack, unique, TestStack};

const SUBJECT: &str = "Smart Pit 管理画面へのログイン";

/// Where a test's screenshot goes before `keep_file` keeps it (`make screenshots`).
fn shot(name: &str) -> String {
    std::env::temp_dir()
        .join(format!("{}-{name}.png", unique("shot")))
        .to_string_lossy()
        .to_string()
}

/// A client that does not follow redirects (the console's answers are read as they are).
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A console user of the shop, added by the operator's command.
fn add_user(s: &TestStack, shop: &Shop, role: &str) -> String {
    let address = format!("{}@example.jp", unique("clerk"));
    let (ok, out) = smartpit(
        s,
        &[
            "merchant-user",
            "add",
            "--merchant",
            &shop.id,
            "--email",
            &address,
            "--role",
            role,
        ],
    );
    assert!(ok, "{out}");
    address
}

/// A loopback address of its own for a test's client (the sign-in form counts requests per
/// client address: the tests of one stack are many clients, as people are).
fn client_address() -> std::net::IpAddr {
    let b = smartpit_shared::ids::random_bytes::<3>();
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, b[0], b[1], b[2].max(2)))
}

/// A client that does not follow redirects, from this loopback address.
fn http_from(ip: std::net::IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(ip)
        .build()
        .expect("client")
}

async fn ask_for_link(s: &TestStack, address: &str) -> (u16, String) {
    ask_for_link_from(s, address, client_address()).await
}

async fn ask_for_link_from(s: &TestStack, address: &str, ip: std::net::IpAddr) -> (u16, String) {
    let r = http_from(ip)
        .post(format!("{}/console/login", s.api))
        .form(&[("email", address)])
        .send()
        .await
        .expect("login request");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

/// The sign-in links mailed to `address` so far (waiting for `count`).
async fn links(s: &TestStack, address: &str, count: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let found: Vec<String> = s
            .mail_to(address, 0, 0)
            .await
            .iter()
            .filter(|m| m["subject"] == SUBJECT)
            .filter_map(|m| {
                let text = m["text"].as_str().or(m["body"].as_str())?;
                let at = text.find("http")?;
                text[at..].split_whitespace().next().map(str::to_string)
            })
            .collect();
        if found.len() >= count || std::time::Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Signs in over HTTP: the session cookie's `name=value`.
async fn sign_in(s: &TestStack, address: &str) -> String {
    let before = links(s, address, 0).await.len();
    let (status, _) = ask_for_link(s, address).await;
    assert_eq!(status, 200);
    let all = links(s, address, before + 1).await;
    let link = all.last().expect("a sign-in link").clone();
    let r = http().post(&link).send().await.expect("take link");
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        r.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/console")
    );
    let set = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie")
        .to_string();
    for part in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    assert!(set.starts_with("__Host-smartpit-console="), "{set}");
    assert!(!set.to_ascii_lowercase().contains("domain="), "{set}");
    set.split(';').next().unwrap_or_default().to_string()
}

async fn get(s: &TestStack, cookie: &str, path: &str) -> (u16, String, Option<String>) {
    let r = http()
        .get(format!("{}{path}", s.api))
        .header("cookie", cookie)
        .send()
        .await
        .expect("get");
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, r.text().await.unwrap_or_default(), location)
}

async fn post(s: &TestStack, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let r = http()
        .post(format!("{}{path}", s.api))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .expect("post");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

/// The session's CSRF token, as its forms carry it.
async fn csrf(s: &TestStack, cookie: &str) -> String {
    let (status, html, _) = get(s, cookie, "/console").await;
    assert_eq!(status, 200, "{html}");
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_user_signs_in_from_the_mail_registers_a_bill_and_sees_it_paid() {
    let s = stack();
    let shop = shop(s).await;
    let address = add_user(s, &shop, "staff");

    // The sign-in form answers the same for a user and for anyone else.
    let (ok_status, for_user) = ask_for_link(s, &address).await;
    let (other_status, for_other) =
        ask_for_link(s, &format!("{}@example.jp", unique("nobody"))).await;
    assert_eq!((ok_status, other_status), (200, 200));
    assert_eq!(for_user, for_other);
    let link = links(s, &address, 1).await.pop().expect("the mailed link");
    assert!(
        link.starts_with(&format!("{}/console/login/", s.api)),
        "{link}"
    );

    let card = s.fresh_card().await.to_string();
    let order = unique("console");
    let (bills_png, form_png) = (shot("console-bills"), shot("console-new-bill"));
    let seen = drive(&json!([
        {"goto": format!("{}/console/login", s.api), "axe": true},
        {"goto": link, "axe": true},
        {"click": "button[type=submit]", "axe": true},
        {"goto": format!("{}/console/invoices/new", s.api), "axe": true},
        {"fill": ["#f-merchant_order_id", order]},
        {"fill": ["#f-amount", "3,980"]},
        {"fill": ["#f-due_date", due_in(10)]},
        {"fill": ["#f-smartpit_number", card]},
        {"click": "#register button[type=submit]", "axe": true},
        {"goto": format!("{}/console/invoices", s.api), "axe": true},
        {"goto": format!("{}/console/invoices/new?lang=en", s.api)},
        {"fill": ["#f-merchant_order_id", order]},
        {"fill": ["#f-amount", "abc"]},
        {"click": "#register button[type=submit]", "axe": true},
        {"goto": format!("{}/console?lang=en", s.api), "axe": true},
        {"goto": format!("{}/console/invoices", s.api)},
        {"screenshot": bills_png},
        {"goto": format!("{}/console/invoices/new", s.api)},
        {"screenshot": form_png},
    ]))
    .await;
    keep_file(std::path::Path::new(&bills_png), "console-bills.png");
    keep_file(std::path::Path::new(&form_png), "console-new-bill.png");
    for page in seen.iter().filter(|p| p.axe.is_some()) {
        assert_accessible(page);
        // No script error, no refusal by the policy (the bad form's own 400 aside).
        let unexpected: Vec<&String> = page
            .messages
            .iter()
            .filter(|m| !m.contains("status of 400"))
            .collect();
        assert!(unexpected.is_empty(), "{}: {unexpected:?}", page.url);
    }
    // Signed in: today's page, with the merchant's name.
    assert!(seen[2].url.ends_with("/console"), "{}", seen[2].url);
    assert!(
        seen[2].html.contains("ウェブフック商店"),
        "{}",
        seen[2].html
    );
    // Registered by the form: the bill's page.
    let bill_page = &seen[8];
    assert!(
        bill_page.url.contains("/console/invoices/inv_"),
        "{}",
        bill_page.url
    );
    assert!(bill_page.html.contains(&order));
    assert!(bill_page.html.contains("未払い"));
    let id = bill_page
        .url
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(seen[9].html.contains(&order), "listed");
    // A bad amount: the form again, the field named, in English.
    assert_eq!(seen[13].status, Some(400));
    assert!(seen[13].html.contains("whole yen"), "{}", seen[13].html);
    assert!(seen[13].html.contains("aria-invalid=\"true\""));

    // The bill is the API's: read back from DynamoDB and over the API.
    let c = s.client();
    let r = c
        .send(c.get(&format!("/v1/invoices/{id}"), &shop.key))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["amount"], 3_980);
    assert_eq!(r.body["merchant_order_id"], order.as_str());
    let item = s
        .item(&format!("NUM#{card}"), &format!("INV#{id}"))
        .await
        .expect("the bill's item");
    assert_eq!(get_s(&item, "merchant_id"), Some(shop.id.as_str()));

    // The store pays it: the console shows it paid.
    pay(&c, s, "lawson", &id, 3_980).await;
    let cookie = sign_in(s, &address).await;
    let (status, html, _) = get(s, &cookie, &format!("/console/invoices/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("支払済"), "{html}");
    assert!(html.contains("lawson"));
    // Another merchant's bill is not found here.
    let other = s.fresh_card().await.to_string();
    let foreign = c
        .register(
            s.merchant_key(0),
            &unique("idem"),
            &json!({"merchant_order_id": unique("o"), "amount": 100, "due_date": due_in(3),
                    "smartpit_number": other}),
        )
        .await;
    let foreign_id = foreign.body["id"].as_str().expect("id");
    let (status, _, _) = get(s, &cookie, &format!("/console/invoices/{foreign_id}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_form_without_its_sessions_token_is_refused_and_writes_nothing() {
    let s = stack();
    let shop = shop(s).await;
    let address = add_user(s, &shop, "admin");
    let mine = sign_in(s, &address).await;
    let theirs = sign_in(s, &address).await;
    let token = csrf(s, &mine).await;
    let other_token = csrf(s, &theirs).await;
    assert_ne!(token, other_token);

    let card = s.fresh_card().await.to_string();
    let order = unique("csrf");
    let due = due_in(5);
    let fields = |csrf: &'static str| -> Vec<(&'static str, String)> {
        vec![
            ("merchant_order_id", order.clone()),
            ("amount", "1200".into()),
            ("due_date", due.clone()),
            ("smartpit_number", card.clone()),
            ("csrf", csrf.to_string()),
        ]
    };
    let without: Vec<(&str, String)> = fields("")
        .into_iter()
        .filter(|(k, _)| *k != "csrf")
        .collect();
    let borrowed: Vec<(&str, String)> = fields("")
        .into_iter()
        .map(|(k, v)| match k {
            "csrf" => (k, other_token.clone()),
            _ => (k, v),
        })
        .collect();
    for form in [without, borrowed] {
        let as_refs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, html) = post(s, &mine, "/console/invoices", &as_refs).await;
        assert_eq!(status, 403, "{html}");
    }
    // An upload without the token (or with another session's) is refused the same way.
    for token in ["", other_token.as_str()] {
        let body = format!(
            "--XyZ\r\ncontent-disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n\
             --XyZ\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\
             content-type: text/csv\r\n\r\nmerchant_order_id,amount,due_date,smartpit_number\r\n\
             {order},1200,{due},{card}\r\n\r\n--XyZ--\r\n"
        );
        let r = http()
            .post(format!("{}/console/uploads", s.api))
            .header("cookie", &mine)
            .header("content-type", "multipart/form-data; boundary=XyZ")
            .body(body)
            .send()
            .await
            .expect("upload");
        assert_eq!(r.status().as_u16(), 403);
    }
    // The settings' and payouts' functions check it too (each of the console's functions
    // answers its routes whole): refused, the contact unchanged.
    for form in [
        vec![("phone", "03-1234-5678")],
        vec![("phone", "03-1234-5678"), ("csrf", other_token.as_str())],
    ] {
        let (status, html) = post(s, &mine, "/console/settings/contact", &form).await;
        assert_eq!(status, 403, "{html}");
    }
    let contact = s.db().merchant_contact(&shop.id).await.expect("contact");
    assert!(contact.is_empty(), "{contact:?}");
    // Nothing was written: the card has no bill, and the order id is free.
    assert!(s
        .number_partition(&card)
        .await
        .iter()
        .all(|it| get_s(it, "type") != Some("invoice")));
    // With its own token it registers (once, however often the same form is sent).
    let idem = smartpit_shared::ids::base32(&smartpit_shared::ids::random_bytes::<16>());
    let mut good: Vec<(&str, String)> = fields("")
        .into_iter()
        .map(|(k, v)| match k {
            "csrf" => (k, token.clone()),
            _ => (k, v),
        })
        .collect();
    good.push(("idem", idem));
    let as_refs: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = post(s, &mine, "/console/invoices", &as_refs).await;
    let again = post(s, &mine, "/console/invoices", &as_refs).await;
    assert_eq!((first.0, again.0), (303, 303), "{}", first.1);
    let bills = s
        .number_partition(&card)
        .await
        .into_iter()
        .filter(|it| get_s(it, "type") == Some("invoice"))
        .count();
    assert_eq!(bills, 1);
}

#[tokio::test]
async fn sessions_end_when_idle_or_signed_out_and_links_work_once() {
    let s = stack();
    let shop = shop(s).await;
    let address = add_user(s, &shop, "staff");
    let a = sign_in(s, &address).await;
    let b = sign_in(s, &address).await;
    let idle = sign_in(s, &address).await;

    // A link signs in once.
    let used = links(s, &address, 3).await.pop().expect("a link");
    let again = http().post(&used).send().await.expect("again");
    assert_eq!(again.status().as_u16(), 410);
    // Without a session: the sign-in form.
    let (status, _, location) = get(s, "", "/console/invoices").await;
    assert_eq!((status, location.as_deref()), (303, Some("/console/login")));
    // A forged cookie is no session.
    let (status, _, _) = get(
        s,
        "__Host-smartpit-console=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/console",
    )
    .await;
    assert_eq!(status, 303);

    // Idle for 31 minutes (its last use moved back in DynamoDB): over.
    let value = idle.split('=').nth(1).unwrap_or_default();
    let pk = format!("CSESS#{}", smartpit_shared::ids::sha256_hex(value));
    let back = Utc::now().timestamp() - 31 * 60;
    s.ddb()
        .update_item()
        .table_name(s.main_table())
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("#".into()))
        .update_expression("SET last_seen = :t")
        .expression_attribute_values(
            ":t",
            aws_sdk_dynamodb::types::AttributeValue::N(back.to_string()),
        )
        .send()
        .await
        .expect("age the session");
    let (status, _, location) = get(s, &idle, "/console").await;
    assert_eq!((status, location.as_deref()), (303, Some("/console/login")));

    // Signing out in one browser ends the other's session too.
    assert_eq!(get(s, &b, "/console").await.0, 200);
    let token = csrf(s, &a).await;
    let (status, _) = post(s, &a, "/console/logout", &[("csrf", token.as_str())]).await;
    assert_eq!(status, 303);
    assert_eq!(get(s, &a, "/console").await.0, 303);
    assert_eq!(get(s, &b, "/console").await.0, 303);
    // Every function of the console: the settings' and payouts' pages send it to sign-in.
    for path in ["/console/settings", "/console/payouts"] {
        let (status, _, location) = get(s, &b, path).await;
        assert_eq!(
            (status, location.as_deref()),
            (303, Some("/console/login")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_sign_in_form_mails_a_user_five_times_and_takes_thirty_requests_a_client() {
    let s = stack();
    let shop = shop(s).await;
    let address = add_user(s, &shop, "staff");
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(ask_for_link(s, &address).await.0);
    }
    assert!(statuses.iter().all(|st| *st == 200), "{statuses:?}");
    // One client address asking for many addresses: 30 a quarter hour, then 429.
    let ip = client_address();
    let mut from_one = Vec::new();
    for _ in 0..31 {
        let other = format!("{}@example.jp", unique("probe"));
        from_one.push(ask_for_link_from(s, &other, ip).await.0);
    }
    assert!(from_one[..30].iter().all(|st| *st == 200), "{from_one:?}");
    assert_eq!(from_one[30], 429);
    assert_eq!(
        ask_for_link(s, &address).await.0,
        200,
        "another client is not held back"
    );
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let mailed: Vec<Value> = s
        .mail_to(&address, 0, 0)
        .await
        .into_iter()
        .filter(|m| m["subject"] == SUBJECT)
        .collect();
    assert_eq!(mailed.len(), 5);
    // The mail names no secret but the link, and says how long it works.
    let text = mailed[0]["text"]
        .as_str()
        .or(mailed[0]["body"].as_str())
        .unwrap_or_default();
    assert!(text.contains("15分間"), "{text}");
}

#[tokio::test]
async fn a_csv_of_twenty_lines_with_three_bad_registers_seventeen_once() {
    let s = stack();
    let shop = shop(s).await;
    let address = add_user(s, &shop, "staff");
    let card = s.fresh_card().await.to_string();
    let batch = unique("csv");
    // Excel's Shift_JIS, a description in Japanese, three bad lines (5, 9, 14).
    let mut text =
        String::from("merchant_order_id,amount,due_date,smartpit_number,email,description\r\n");
    for i in 2..=21 {
        let (amount, due, email) = match i {
            5 => ("abc".to_string(), due_in(5), ""),
            9 => ("1000".to_string(), "2020-01-01".to_string(), ""),
            14 => ("1000".to_string(), due_in(5), "taro@@example.jp"),
            _ => ((1000 + i).to_string(), due_in(5), ""),
        };
        text.push_str(&format!(
            "{batch}-{i},{amount},{due},{card},{email},会費{i}\r\n"
        ));
    }
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&text);
    let path = std::env::temp_dir().join(format!("{batch}.csv"));
    std::fs::write(&path, &sjis).expect("the file");
    let file = path.to_string_lossy().to_string();
    let preview_png = shot("console-csv-preview");

    let before = links(s, &address, 0).await.len();
    assert_eq!(ask_for_link(s, &address).await.0, 200);
    let link = links(s, &address, before + 1).await.pop().expect("a link");
    let seen = drive(&json!([
        {"goto": link},
        {"click": "button[type=submit]"},
        {"goto": format!("{}/console/uploads/new", s.api), "axe": true},
        {"upload": ["#file", file]},
        {"click": "#upload button[type=submit]", "axe": true},
        {"screenshot": preview_png},
        {"click": "#commit button[type=submit]", "axe": true},
        // The same file again: nothing registered twice.
        {"goto": format!("{}/console/uploads/new", s.api)},
        {"upload": ["#file", file]},
        {"click": "#upload button[type=submit]"},
        {"click": "#commit button[type=submit]"},
    ]))
    .await;
    let _ = std::fs::remove_file(&path);
    keep_file(
        std::path::Path::new(&preview_png),
        "console-csv-preview.png",
    );
    for page in seen.iter().filter(|p| p.axe.is_some()) {
        assert_accessible(page);
    }
    let preview = &seen[4].html;
    assert!(preview.contains("<strong>17</strong>"), "{preview}");
    for line in [
        "<td>5</td><td>amount</td>",
        "<td>9</td><td>due_date</td>",
        "<td>14</td><td>email</td>",
    ] {
        assert!(preview.contains(line), "{line}: {preview}");
    }
    let first = &seen[6].html;
    assert!(first.contains("<dd id=\"registered\">17</dd>"), "{first}");
    assert!(first.contains("<dd id=\"replayed\">0</dd>"), "{first}");
    let again = &seen[10].html;
    assert!(again.contains("<dd id=\"registered\">0</dd>"), "{again}");
    assert!(again.contains("<dd id=\"replayed\">17</dd>"), "{again}");
    // Read back: 17 bills on the card, the description as written.
    let bills: Vec<_> = s
        .number_partition(&card)
        .await
        .into_iter()
        .filter(|it| get_s(it, "type") == Some("invoice"))
        .collect();
    assert_eq!(bills.len(), 17);
    assert!(bills
        .iter()
        .any(|b| get_s(b, "description") == Some("会費2")));
    assert!(bills
        .iter()
        .all(|b| get_s(b, "merchant_id") == Some(shop.id.as_str())));
}

#[tokio::test]
async fn a_staff_user_cannot_open_keys_and_an_admin_rotates_one() {
    let s = stack();
    let shop = shop(s).await;
    let owner = smartpit_shared::db::keys::KeyOwner::Merchant(shop.id.clone());
    let keys_before = s.db().list_keys(&owner).await.expect("keys").len();

    let staff = add_user(s, &shop, "staff");
    let cookie = sign_in(s, &staff).await;
    let token = csrf(s, &cookie).await;
    let (status, html, _) = get(s, &cookie, "/console/keys").await;
    assert_eq!(status, 403, "{html}");
    assert!(!html.contains("/console/keys/rotate"));
    let (status, _) = post(
        s,
        &cookie,
        "/console/keys/rotate",
        &[("csrf", token.as_str())],
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        s.db().list_keys(&owner).await.expect("keys").len(),
        keys_before
    );
    // Staff see no link to keys.
    assert!(!get(s, &cookie, "/console")
        .await
        .1
        .contains("/console/keys"));
    // The pages that refuse, in the browser: admins only, an unknown bill, a used link.
    let before = links(s, &staff, 0).await.len();
    assert_eq!(ask_for_link(s, &staff).await.0, 200);
    let link = links(s, &staff, before + 1).await.pop().expect("a link");
    let refusals = drive(&json!([
        {"goto": link},
        {"click": "button[type=submit]"},
        {"goto": format!("{}/console/keys", s.api), "axe": true},
        {"goto": format!("{}/console/invoices/inv_00000000000000000000000000", s.api), "axe": true},
        {"goto": link},
        {"click": "button[type=submit]", "axe": true},
    ]))
    .await;
    assert_eq!(
        (refusals[2].status, refusals[3].status, refusals[5].status),
        (Some(403), Some(404), Some(410))
    );
    for i in [2, 3, 5] {
        assert_accessible(&refusals[i]);
    }

    // An admin rotates: the new key is shown once and works; the old one stops in a day.
    let admin = add_user(s, &shop, "admin");
    let before = links(s, &admin, 0).await.len();
    assert_eq!(ask_for_link(s, &admin).await.0, 200);
    let link = links(s, &admin, before + 1).await.pop().expect("a link");
    let seen = drive(&json!([
        {"goto": link},
        {"click": "button[type=submit]"},
        {"goto": format!("{}/console/keys", s.api), "axe": true},
        {"click": "#rotate button[type=submit]", "axe": true},
    ]))
    .await;
    assert_accessible(&seen[2]);
    assert_accessible(&seen[3]);
    assert!(seen[2].html.contains("sk_test_"), "{}", seen[2].html);
    let shown = &seen[3].html;
    let needle = "<code id=\"new-key\">";
    let at = shown.find(needle).expect("the new key") + needle.len();
    let new_key = shown[at..]
        .split('<')
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(new_key.starts_with("sk_test_"), "{new_key}");
    let c = s.client();
    let r = c.send(c.get("/v1/invoices", &new_key)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = c.send(c.get("/v1/invoices", &shop.key)).await;
    assert_eq!(r.status, 200, "the old key works for the grace period");
    let keys = s.db().list_keys(&owner).await.expect("keys");
    assert_eq!(keys.len(), keys_before + 1);
    assert_eq!(
        keys.iter()
            .filter(|k| k.state(Utc::now()) == "expiring")
            .count(),
        keys_before
    );
    // A second view never shows the key again.
    let again = get(s, &sign_in(s, &admin).await, "/console/keys").await.1;
    assert!(!again.contains(&new_key));
}

#[tokio::test]
async fn a_bill_is_mailed_again_and_cancelled_from_its_page_by_the_apis_rules() {
    let s = stack();
    let shop = shop(s).await;
    let address = add_user(s, &shop, "staff");
    let cookie = sign_in(s, &address).await;
    let token = csrf(s, &cookie).await;
    let c = s.client();
    let card = s.fresh_card().await.to_string();
    let mobile = format!("{}@docomo.ne.jp", unique("m"));
    let r = c
        .register(
            &shop.key,
            &unique("idem"),
            &json!({"merchant_order_id": unique("o"), "amount": 700, "due_date": due_in(4),
                    "smartpit_number": card, "customer": {"mobile_email": mobile}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().expect("id").to_string();
    assert_eq!(s.mail_to(&mobile, 1, 30).await.len(), 1);

    // Re-send: one more mail; the same button's form again sends nothing more.
    let (_, page, _) = get(s, &cookie, &format!("/console/invoices/{id}")).await;
    let at = page
        .find("name=\"idem\" value=\"")
        .expect("the button's key")
        + 19;
    let idem = page[at..].split('"').next().unwrap_or_default().to_string();
    let path = format!("/console/invoices/{id}/resend");
    let form = [("csrf", token.as_str()), ("idem", idem.as_str())];
    assert_eq!(post(s, &cookie, &path, &form).await.0, 303);
    assert_eq!(post(s, &cookie, &path, &form).await.0, 303);
    assert_eq!(s.mail_to(&mobile, 2, 30).await.len(), 2);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(s.mail_to(&mobile, 0, 0).await.len(), 2);

    // Cancel: the API's cancellation (read back over the API).
    let cancel = format!("/console/invoices/{id}/cancel");
    assert_eq!(
        post(s, &cookie, &cancel, &[("csrf", token.as_str())])
            .await
            .0,
        303
    );
    let r = c
        .send(c.get(&format!("/v1/invoices/{id}"), &shop.key))
        .await;
    assert_eq!(r.body["status"], "cancelled");
    let (_, page, _) = get(s, &cookie, &format!("/console/invoices/{id}")).await;
    assert!(page.contains("取消"));
    assert!(
        !page.contains("id=\"cancel\""),
        "no button on a closed bill"
    );

    // A paid bill is not cancelled: the API's refusal, on the page.
    let other = s.fresh_card().await.to_string();
    let paid = smartpit_tests::bills::bill(&c, &shop, &other, 900, 0).await;
    pay(&c, s, "lawson", &paid, 900).await;
    let (status, html) = post(
        s,
        &cookie,
        &format!("/console/invoices/{paid}/cancel"),
        &[("csrf", token.as_str())],
    )
    .await;
    assert_eq!(status, 409, "{html}");
    assert!(html.contains("role=\"alert\""), "{html}");
    let r = c
        .send(c.get(&format!("/v1/invoices/{paid}"), &shop.key))
        .await;
    assert_eq!(r.body["status"], "paid");
}

/// The text of `<code id="{id}">…</code>` on a page.
fn code_text(html: &str, id: &str) -> Option<String> {
    let needle = format!("<code id=\"{id}\">");
    let at = html.find(&needle)? + needle.len();
    html[at..].split('<').next().map(str::to_string)
}

#[tokio::test]
async fn settings_set_the_contact_reminders_and_an_admins_webhook_tried_with_a_test_event() {
    let s = stack();
    let shop = shop(s).await;
    let db = s.db();

    // Staff: the contact and reminders, checked as the CLI checks them; no webhook section.
    let staff = add_user(s, &shop, "staff");
    let cookie = sign_in(s, &staff).await;
    let token = csrf(s, &cookie).await;
    let (status, html, _) = get(s, &cookie, "/console/settings").await;
    assert_eq!(status, 200, "{html}");
    assert!(!html.contains("/console/settings/webhook"), "{html}");
    let (status, html) = post(
        s,
        &cookie,
        "/console/settings/contact",
        &[
            ("csrf", token.as_str()),
            ("phone", "123"),
            ("hours", "平日 10:00-18:00"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("id=\"c-phone-error\""), "{html}");
    assert!(
        html.contains("平日 10:00-18:00"),
        "what was typed stays: {html}"
    );
    assert!(db
        .merchant_contact(&shop.id)
        .await
        .expect("read")
        .is_empty());
    let (status, html) = post(
        s,
        &cookie,
        "/console/settings/contact",
        &[
            ("csrf", token.as_str()),
            ("phone", "0312345678"),
            ("url", "https://shop.example.jp/help"),
            ("email", ""),
            ("hours", "平日 10:00-18:00"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let contact = db.merchant_contact(&shop.id).await.expect("read");
    assert_eq!(contact.phone.as_deref(), Some("03-1234-5678"));
    assert_eq!(contact.url.as_deref(), Some("https://shop.example.jp/help"));
    assert_eq!(contact.email, None);
    let (status, _) = post(
        s,
        &cookie,
        "/console/settings/reminders",
        &[("csrf", token.as_str()), ("reminder_days", "3")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(db.reminder_days(&shop.id).await.expect("read"), 3);
    let (status, _) = post(
        s,
        &cookie,
        "/console/settings/reminders",
        &[("csrf", token.as_str()), ("reminder_days", "9")],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(db.reminder_days(&shop.id).await.expect("read"), 3);
    for path in [
        "/console/settings/webhook/test",
        "/console/settings/webhook/delete",
    ] {
        let (status, _) = post(s, &cookie, path, &[("csrf", token.as_str())]).await;
        assert_eq!(status, 403, "{path}");
    }
    assert!(db.get_endpoint(&shop.id).await.expect("read").is_some());

    // An admin tries the endpoint with a test event, in Chromium: the receiver verifies it
    // with the endpoint's secret, and the page shows its delivery.
    let admin = add_user(s, &shop, "admin");
    let before = links(s, &admin, 0).await.len();
    assert_eq!(ask_for_link(s, &admin).await.0, 200);
    let link = links(s, &admin, before + 1).await.pop().expect("a link");
    let settings_png = shot("console-settings");
    let seen = drive(&json!([
        {"goto": link},
        {"click": "button[type=submit]"},
        {"goto": format!("{}/console/settings", s.api), "axe": true},
        {"click": "#webhook-test button[type=submit]", "axe": true},
        {"screenshot": settings_png},
    ]))
    .await;
    keep_file(std::path::Path::new(&settings_png), "console-settings.png");
    assert_accessible(&seen[2]);
    assert_accessible(&seen[3]);
    assert!(seen[2].html.contains("03-1234-5678"), "{}", seen[2].html);
    assert!(
        seen[3].url.contains("/console/settings?event=evt_"),
        "{}",
        seen[3].url
    );
    let got = shop.receiver.wait_for(1, 10).await;
    assert_eq!(got.len(), 1);
    smartpit_tests::receiver::verify(&shop.secret, &got[0]);
    assert_eq!(got[0].json()["type"], "webhook.test");
    let event = got[0].json()["id"].as_str().unwrap_or_default().to_string();
    assert!(seen[3].url.ends_with(&event), "{}", seen[3].url);
    let cookie = sign_in(s, &admin).await;
    let token = csrf(s, &cookie).await;
    let mut shown = String::new();
    for _ in 0..50 {
        shown = get(s, &cookie, &format!("/console/settings?event={event}"))
            .await
            .1;
        if shown.contains("配信済み") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(shown.contains("配信済み (HTTP 200)"), "{shown}");

    // A URL the API refuses is refused here, and nothing changes.
    let (status, html) = post(
        s,
        &cookie,
        "/console/settings/webhook",
        &[("csrf", token.as_str()), ("url", "https://10.0.0.1/hook")],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("id=\"w-url-error\""), "{html}");
    let endpoint = db
        .get_endpoint(&shop.id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(endpoint.url, shop.receiver.url);
    // A new secret, shown once; the old one signs beside it.
    let (status, html) = post(
        s,
        &cookie,
        "/console/settings/webhook/rotate",
        &[("csrf", token.as_str())],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let secret = code_text(&html, "webhook-secret").expect("the new secret");
    assert!(
        secret.starts_with("whsec_") && secret != shop.secret,
        "{secret}"
    );
    let endpoint = db
        .get_endpoint(&shop.id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(endpoint.current_secret(), Some(secret.as_str()));
    assert_eq!(endpoint.secrets.len(), 2);
    assert!(!get(s, &cookie, "/console/settings")
        .await
        .1
        .contains(&secret));
    // Removed; set again: a fresh endpoint's secret is shown once.
    let (status, _) = post(
        s,
        &cookie,
        "/console/settings/webhook/delete",
        &[("csrf", token.as_str())],
    )
    .await;
    assert_eq!(status, 200);
    assert!(db.get_endpoint(&shop.id).await.expect("read").is_none());
    let (status, html) = post(
        s,
        &cookie,
        "/console/settings/webhook",
        &[("csrf", token.as_str()), ("url", &shop.receiver.url)],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let fresh = code_text(&html, "webhook-secret").expect("the secret of a new endpoint");
    let endpoint = db.get_endpoint(&shop.id).await.expect("read").expect("set");
    assert_eq!(endpoint.current_secret(), Some(fresh.as_str()));
}

#[tokio::test]
async fn the_language_switch_is_kept_by_a_cookie() {
    let s = stack();
    let shop = shop(s).await;
    let address = add_user(s, &shop, "staff");
    let session = sign_in(s, &address).await;
    let (status, html, _) = get(s, &session, "/console").await;
    assert_eq!(status, 200);
    assert!(html.contains("href=\"/console?lang=en\""), "{html}");
    let r = http()
        .get(format!("{}/console?lang=en", s.api))
        .header("cookie", &session)
        .send()
        .await
        .expect("get");
    let set = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("__Host-console-lang=en"))
        .expect("the language kept")
        .to_string();
    for part in ["Secure", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    let both = format!("{session}; {}", set.split(';').next().unwrap_or_default());
    let (_, html, _) = get(s, &both, "/console/settings").await;
    assert!(html.contains("<h1>Settings</h1>"), "{html}");
    assert!(html.contains("href=\"/console?lang=ja\""), "{html}");
    let (_, html, _) = get(s, &both, "/console/settings?lang=ja").await;
    assert!(html.contains("<h1>設定</h1>"), "{html}");
}

#[tokio::test]
async fn bills_are_searched_as_the_api_searches_them() {
    let s = stack();
    let shop = shop(s).await;
    let c = s.client();
    let card = s.fresh_card().await.to_string();
    let mut orders = Vec::new();
    for amount in [500, 600] {
        let order = unique("find");
        let r = c
            .register(
                &shop.key,
                &unique("idem"),
                &json!({"merchant_order_id": order, "amount": amount, "due_date": due_in(4),
                        "smartpit_number": card}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        orders.push((order, r.body["id"].as_str().unwrap_or_default().to_string()));
    }
    let address = add_user(s, &shop, "staff");
    let cookie = sign_in(s, &address).await;
    let (status, html, _) = get(
        s,
        &cookie,
        &format!("/console/invoices?merchant_order_id={}", orders[0].0),
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(&orders[0].1) && !html.contains(&orders[1].1),
        "{html}"
    );
    let (_, html, _) = get(
        s,
        &cookie,
        &format!(
            "/console/invoices?smartpit_number={card}&status=registered&created_from=&lang=en"
        ),
    )
    .await;
    assert!(
        html.contains(&orders[0].1) && html.contains(&orders[1].1),
        "{html}"
    );
    let (_, html, _) = get(
        s,
        &cookie,
        &format!(
            "/console/invoices?smartpit_number={card}&created_from={}",
            due_in(1)
        ),
    )
    .await;
    assert!(!html.contains(&orders[0].1), "{html}");
    // The API's refusals, beside their fields; in Chromium with axe.
    let (status, html, _) = get(s, &cookie, "/console/invoices?smartpit_number=2010").await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("id=\"q-smartpit_number-error\""), "{html}");
    let before = links(s, &address, 0).await.len();
    assert_eq!(ask_for_link(s, &address).await.0, 200);
    let link = links(s, &address, before + 1).await.pop().expect("a link");
    let seen = drive(&json!([
        {"goto": link},
        {"click": "button[type=submit]"},
        {"goto": format!("{}/console/invoices?smartpit_number=2010&created_from=2026-13-01", s.api), "axe": true},
        {"goto": format!("{}/console/settings", s.api), "axe": true},
    ]))
    .await;
    assert_eq!(seen[2].status, Some(400));
    // The first refused field (the request type stops at the first it cannot read).
    assert!(
        seen[2].html.contains("id=\"q-created_from-error\""),
        "{}",
        seen[2].html
    );
    assert_accessible(&seen[2]);
    assert_accessible(&seen[3]);
}

/// The value of `<input … name="{name}" value="…">` on a page (the first such field).
fn field_value(html: &str, form_id: &str, name: &str) -> Option<String> {
    let form = &html[html.find(&format!("id=\"{form_id}\""))?..];
    let needle = format!("name=\"{name}\" value=\"");
    let at = form.find(&needle)? + needle.len();
    form[at..].split('"').next().map(str::to_string)
}

#[tokio::test]
async fn a_bill_is_changed_and_moved_from_its_page_by_the_apis_code() {
    let s = stack();
    let shop = shop(s).await;
    let c = s.client();
    let card = s.fresh_card().await.to_string();
    let r = c
        .register(
            &shop.key,
            &unique("idem"),
            &json!({"merchant_order_id": unique("o"), "amount": 1200, "due_date": due_in(5),
                    "smartpit_number": card, "description": "会費"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().expect("id").to_string();
    let address = add_user(s, &shop, "staff");
    let cookie = sign_in(s, &address).await;
    let token = csrf(s, &cookie).await;
    let (_, page, _) = get(s, &cookie, &format!("/console/invoices/{id}")).await;
    let idem = field_value(&page, "change", "idem").expect("the change form's key");
    assert_eq!(
        field_value(&page, "change", "amount").as_deref(),
        Some("1200")
    );
    let read = |id: String| {
        let c = c.clone();
        let key = shop.key.clone();
        async move {
            c.send(c.get(&format!("/v1/invoices/{id}"), &key))
                .await
                .body
        }
    };
    // Not whole yen: refused on the page, nothing written.
    let change = format!("/console/invoices/{id}/change");
    let (status, html) = post(
        s,
        &cookie,
        &change,
        &[
            ("csrf", token.as_str()),
            ("idem", idem.as_str()),
            ("amount", "12.5"),
            ("customer_fee", "0"),
            ("due_date", &due_in(5)),
            ("description", "会費"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert_eq!(read(id.clone()).await["version"], 1);
    // A due date the API refuses: its message on the page.
    let (status, html) = post(
        s,
        &cookie,
        &change,
        &[
            ("csrf", token.as_str()),
            ("idem", idem.as_str()),
            ("amount", "1200"),
            ("customer_fee", "0"),
            ("due_date", "2020-01-01"),
            ("description", "会費"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("due_date"), "{html}");
    // The amount and the description (emptied: removed); the same form twice changes once.
    let form = [
        ("csrf", token.as_str()),
        ("idem", idem.as_str()),
        ("amount", "1,500"),
        ("customer_fee", "0"),
        ("due_date", &due_in(5)),
        ("description", ""),
        ("store_description", ""),
        ("email", ""),
        ("mobile_email", ""),
    ];
    for _ in 0..2 {
        let (status, html) = post(s, &cookie, &change, &form).await;
        assert_eq!(status, 303, "{html}");
    }
    let bill = read(id.clone()).await;
    assert_eq!(
        (bill["amount"].clone(), bill["version"].clone()),
        (json!(1500), json!(2))
    );
    assert_eq!(bill["description"], Value::Null);
    let updated = c
        .send(c.get("/v1/events?type=invoice.updated", &shop.key))
        .await;
    let for_bill = updated.body["events"].as_array().map(|l| {
        l.iter()
            .filter(|e| e["data"]["invoice"]["id"] == id.as_str())
            .count()
    });
    assert_eq!(for_bill, Some(1));

    // Moved to a new card: the page of the new bill; the old one says where it went.
    let (_, page, _) = get(s, &cookie, &format!("/console/invoices/{id}")).await;
    let idem = field_value(&page, "move", "idem").expect("the move form's key");
    let new_card = s.fresh_card().await.to_string();
    let r = http()
        .post(format!("{}/console/invoices/{id}/move", s.api))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", token.as_str()),
            ("idem", idem.as_str()),
            ("smartpit_number", new_card.as_str()),
        ])
        .send()
        .await
        .expect("move");
    assert_eq!(r.status().as_u16(), 303);
    let to = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let new_id = to.rsplit('/').next().unwrap_or_default().to_string();
    assert!(new_id.starts_with("inv_") && new_id != id, "{to}");
    let old = read(id.clone()).await;
    assert_eq!(old["status"], "moved");
    let new = read(new_id.clone()).await;
    assert_eq!(
        (new["smartpit_number"].as_str(), new["amount"].clone()),
        (Some(new_card.as_str()), json!(1500))
    );
    let (_, page, _) = get(s, &cookie, &format!("/console/invoices/{id}")).await;
    assert!(
        page.contains(&format!("/console/invoices/{new_id}")),
        "{page}"
    );
    // The same number again: the API's refusal, on the page.
    let (status, html) = post(
        s,
        &cookie,
        &format!("/console/invoices/{new_id}/move"),
        &[
            ("csrf", token.as_str()),
            ("idem", "AAAAAAAAAAAAAAAAAAAAAAAAAA"),
            ("smartpit_number", new_card.as_str()),
        ],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("same number"), "{html}");
}

#[tokio::test]
async fn payouts_their_statements_and_the_days_report_download_from_the_console() {
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let card = s.fresh_card().await.to_string();
    let id = smartpit_tests::bills::bill(&c, &shop, &card, 2_500, 0).await;
    pay(&c, s, "circle-k", &id, 2_500).await;
    smartpit_tests::bills::settle(&c, &shop, &id).await;
    // The sandbox closes what was settled up to 2 seconds ago.
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let r = c.send(c.post("/v1/test/payouts/run", &shop.key)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let payout = r.body["payout"]["id"].as_str().expect("payout").to_string();

    let address = add_user(s, &shop, "staff");
    let cookie = sign_in(s, &address).await;
    let (status, html, _) = get(s, &cookie, "/console/payouts").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(&format!("/console/payouts/{payout}")),
        "{html}"
    );
    let (status, html, _) = get(s, &cookie, &format!("/console/payouts/{payout}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("¥2,500") && html.contains("保留"), "{html}");
    // The statements: a 5-minute presigned link each, the file read back.
    for (ext, starts) in [("pdf", &b"%PDF"[..]), ("csv", &b""[..])] {
        let (status, _, location) = get(
            s,
            &cookie,
            &format!("/console/payouts/{payout}/statement.{ext}"),
        )
        .await;
        assert_eq!(status, 302, "{ext}");
        let location = location.expect("location");
        assert!(location.contains("X-Amz-Expires=300"), "{location}");
        let file = reqwest::get(&location).await.expect("presigned");
        assert_eq!(file.status().as_u16(), 200);
        let bytes = file.bytes().await.expect("bytes");
        assert!(bytes.starts_with(starts), "{ext}");
        if ext == "csv" {
            assert!(
                String::from_utf8_lossy(&bytes).contains(&id),
                "the bill's line"
            );
        }
    }
    // The pages in Chromium, with axe.
    let before = links(s, &address, 0).await.len();
    assert_eq!(ask_for_link(s, &address).await.0, 200);
    let link = links(s, &address, before + 1).await.pop().expect("a link");
    let seen = drive(&json!([
        {"goto": link},
        {"click": "button[type=submit]", "axe": true},
        {"goto": format!("{}/console/payouts", s.api), "axe": true},
        {"goto": format!("{}/console/payouts/{payout}", s.api), "axe": true},
    ]))
    .await;
    for page in &seen[1..] {
        assert_eq!(page.status, Some(200), "{}", page.url);
        assert_accessible(page);
    }
    assert!(
        seen[1].html.contains("id=\"report\""),
        "the today page's report form"
    );
    // Another merchant's user finds nothing of it.
    let other = smartpit_tests::receiver::shop(s).await;
    let stranger = sign_in(s, &add_user(s, &other, "admin")).await;
    for path in [
        format!("/console/payouts/{payout}"),
        format!("/console/payouts/{payout}/statement.pdf"),
    ] {
        let (status, html, _) = get(s, &stranger, &path).await;
        assert_eq!(status, 404, "{path}: {html}");
    }
    assert!(!get(s, &stranger, "/console/payouts")
        .await
        .1
        .contains(&payout));

    // Today's payments, as the API's CSV; a day that is not one: 400.
    let (status, csv, _) = get(s, &cookie, "/console/reports/payments").await;
    assert_eq!(status, 200, "{csv}");
    assert!(csv.contains(&id), "{csv}");
    let (status, html, _) = get(s, &cookie, "/console/reports/payments?date=2026-02-30").await;
    assert_eq!(status, 400, "{html}");
    let (status, csv, _) = get(s, &stranger, "/console/reports/payments").await;
    assert_eq!(status, 200);
    assert!(!csv.contains(&id), "{csv}");
}

#[tokio::test]
async fn the_today_page_names_a_failed_notice_and_the_bill_shows_its_events() {
    let s = stack();
    let shop = shop(s).await;
    let c = s.client();
    // A sheet to an address SES refuses: its mail fails, notice.failed is written.
    let refused = format!("{}@unverified.example", unique("taro"));
    let r = c
        .register(
            &shop.key,
            &unique("idem"),
            &json!({"merchant_order_id": unique("o"), "amount": 800, "due_date": due_in(4),
                    "customer": {"email": refused}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().expect("id").to_string();
    let got = shop.receiver.wait_for(1, 15).await;
    assert_eq!(
        got.first().map(|d| d.json()["type"].clone()),
        Some(json!("notice.failed"))
    );
    // Another merchant's event naming this bill (the events' `by_invoice` index is keyed by
    // the bill, not the merchant): never on this merchant's page.
    let other = smartpit_tests::receiver::shop(s).await;
    let forged = smartpit_shared::webhook::Event {
        id: smartpit_shared::webhook::new_event_id(chrono::Utc::now()),
        merchant_id: other.id.clone(),
        kind: smartpit_shared::webhook::EventType::InvoicePaid,
        created_at: chrono::Utc::now(),
        body: "{}".into(),
        status: smartpit_shared::webhook::EventStatus::Skipped,
        attempts: Vec::new(),
        next_attempt_at: None,
        invoice_id: Some(id.clone()),
    };
    s.ddb()
        .put_item()
        .table_name(s.db().res.events_table)
        .set_item(Some(smartpit_shared::db::events::event_item(&forged)))
        .send()
        .await
        .expect("another merchant's event");
    let address = add_user(s, &shop, "staff");
    let cookie = sign_in(s, &address).await;
    let (status, html, _) = get(s, &cookie, "/console").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(&format!("/console/invoices/{id}")), "{html}");
    assert!(html.contains("sheet_mail failed"), "{html}");
    // The bill's page: its events and their delivery to the endpoint.
    let mut page = String::new();
    for _ in 0..50 {
        page = get(s, &cookie, &format!("/console/invoices/{id}")).await.1;
        if page.contains("配信済み (HTTP 200)") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let events = &page[page.find("id=\"events\"").expect("the events table")..];
    assert!(events.contains("notice.failed"), "{events}");
    assert!(events.contains("配信済み (HTTP 200)"), "{events}");
    assert!(!events.contains("invoice.paid"), "{events}");
    // Another merchant's today page does not name it.
    let stranger = sign_in(s, &add_user(s, &other, "staff")).await;
    assert!(!get(s, &stranger, "/console").await.1.contains(&id));
}

/// A CSV file posted as the upload form posts it (`multipart/form-data`), over HTTP.
async fn upload_csv(s: &TestStack, cookie: &str, token: &str, csv: &[u8]) -> (u16, String) {
    let boundary = format!("----smartpit{}", unique("b"));
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bills.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(csv);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = http()
        .post(format!("{}/console/uploads", s.api))
        .header("cookie", cookie)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

/// The upload's page until it says done (or `secs` pass).
async fn upload_done(s: &TestStack, cookie: &str, id: &str, secs: u64) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let (status, html, _) = get(s, cookie, &format!("/console/uploads/{id}")).await;
        assert_eq!(status, 200, "{html}");
        if html.contains("完了しました") || std::time::Instant::now() > deadline {
            return html;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

fn count_in(html: &str, id: &str) -> Option<i64> {
    let needle = format!("<dd id=\"{id}\">");
    let at = html.find(&needle)? + needle.len();
    html[at..].split('<').next()?.parse().ok()
}

#[tokio::test]
async fn a_long_file_is_registered_in_the_background_once() {
    let s = stack();
    let shop = shop(s).await;
    let card = s.fresh_card().await.to_string();
    let batch = unique("long");
    // Past what one commit request takes (smartpit_console::INLINE_LINES, 100).
    let lines: i64 = 250;
    let mut csv = String::from("merchant_order_id,amount,due_date,smartpit_number\r\n");
    for i in 1..=lines {
        csv.push_str(&format!(
            "{batch}-{i},{},{},{card}\r\n",
            1000 + i,
            due_in(5)
        ));
    }
    let address = add_user(s, &shop, "staff");
    let cookie = sign_in(s, &address).await;
    let token = csrf(s, &cookie).await;
    for round in 0..2 {
        let (status, preview) = upload_csv(s, &cookie, &token, csv.as_bytes()).await;
        assert_eq!(status, 200, "{preview}");
        let end = preview.find("/commit\"").expect("the commit form");
        let id = preview[end - 64..end].to_string();
        // The button pressed twice: the run is handed over once, each answer its page.
        for _ in 0..2 {
            let r = http()
                .post(format!("{}/console/uploads/{id}/commit", s.api))
                .header("cookie", &cookie)
                .form(&[("csrf", token.as_str())])
                .send()
                .await
                .expect("commit");
            assert_eq!(r.status().as_u16(), 303, "round {round}");
            assert_eq!(
                r.headers().get("location").and_then(|v| v.to_str().ok()),
                Some(format!("/console/uploads/{id}").as_str())
            );
        }
        let (_, first, _) = get(s, &cookie, &format!("/console/uploads/{id}")).await;
        assert!(
            first.contains("id=\"progress\"") || first.contains("完了しました"),
            "{first}"
        );
        let done = upload_done(s, &cookie, &id, 180).await;
        assert!(done.contains("完了しました"), "{done}");
        let (registered, replayed) = (count_in(&done, "registered"), count_in(&done, "replayed"));
        match round {
            0 => assert_eq!((registered, replayed), (Some(lines), Some(0)), "{done}"),
            _ => assert_eq!((registered, replayed), (Some(0), Some(lines)), "{done}"),
        }
    }
    // The upload's own page, in English, in Chromium with axe.
    let (_, preview) = upload_csv(s, &cookie, &token, csv.as_bytes()).await;
    let end = preview.find("/commit\"").expect("the commit form");
    let id = preview[end - 64..end].to_string();
    let before = links(s, &address, 0).await.len();
    assert_eq!(ask_for_link(s, &address).await.0, 200);
    let link = links(s, &address, before + 1).await.pop().expect("a link");
    let seen = drive(&json!([
        {"goto": link},
        {"click": "button[type=submit]"},
        {"goto": format!("{}/console/uploads/{id}?lang=en", s.api), "axe": true},
    ]))
    .await;
    assert_eq!(seen[2].status, Some(200));
    assert!(seen[2].html.contains("lang=\"en\""), "{}", seen[2].html);
    assert_accessible(&seen[2]);
    // Every line a bill, once: the card holds exactly these.
    let c = s.client();
    let mut seen = 0;
    let mut cursor = String::new();
    loop {
        let r = c
            .send(c.get(
                &format!("/v1/invoices?smartpit_number={card}&limit=100{cursor}"),
                &shop.key,
            ))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        seen += r.body["invoices"].as_array().map_or(0, Vec::len);
        match r.body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen as i64, lines);
}
