//! `GET|POST /sandbox/store`: a store simulator for test stacks. The developer pastes a test
//! chain key (`ck_test_…`, which says the chain), then types a number as at a kiosk or pastes a
//! sheet's 44-digit code as at a register, sees the bills, pays them and voids the payment.
//! Every step is a request to the public store API, built as a chain's (its key in
//! `Authorization`, a JSON body) and answered by the store function's own handler, so the
//! simulator exercises exactly what a chain does; the page shows the answer. No script: each
//! step is a form (the key rides along in a hidden field; the page is never cached and sends no
//! referrer).

use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use maud::{html, Markup};
use serde_json::{json, Value};
use smartpit_sheets::page::{self, Lang};
use smartpit_store::StoreFunction;

/// One step's form fields.
#[derive(Debug, Default)]
struct Form {
    key: String,
    store_code: String,
    number: String,
    barcode: String,
    action: String,
    invoice_ids: Vec<String>,
    amount: String,
    payment_id: String,
}

fn parse_form(body: &[u8]) -> Form {
    let mut f = Form::default();
    for (k, v) in url::form_urlencoded::parse(body) {
        let v = v.trim().to_string();
        match k.as_ref() {
            "key" => f.key = v,
            "store_code" => f.store_code = v,
            "number" => f.number = v,
            "barcode" => f.barcode = v,
            "action" => f.action = v,
            "invoice_ids" => f.invoice_ids = v.split(',').map(str::to_string).collect(),
            "amount" => f.amount = v,
            "payment_id" => f.payment_id = v,
            _ => {}
        }
    }
    if f.store_code.is_empty() {
        f.store_code = "SIM-0001".into();
    }
    f
}

/// A request to the store API, as a chain's POS sends it.
fn store_request(path: &str, key: &str, body: &Value) -> Request {
    let mut req = Request::new(Body::Text(body.to_string()));
    *req.method_mut() = http::Method::POST;
    if let Ok(uri) = path.parse() {
        *req.uri_mut() = uri;
    }
    let headers = req.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {key}")) {
        headers.insert(http::header::AUTHORIZATION, v);
    }
    req
}

/// The store API's answer: its status and JSON body.
async fn call(store: &StoreFunction, path: &str, key: &str, body: &Value) -> (u16, Value) {
    let resp = store.handle(store_request(path, key, body)).await;
    let status = resp.status().as_u16();
    let json = match resp.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, json)
}

fn yen(v: &Value) -> String {
    smartpit_shared::money::format_yen(v.as_i64().unwrap_or_default())
}

fn hidden(f: &Form) -> Markup {
    html! {
        input type="hidden" name="key" value=(f.key);
        input type="hidden" name="store_code" value=(f.store_code);
    }
}

/// The first form: the key, the store, and a number or a code.
fn start(f: &Form) -> Markup {
    html! {
        form method="post" action="/sandbox/store" {
            p {
                label for="key" { "テスト用チェーンキー / Test chain key (ck_test_…)" } br;
                input #key type="password" name="key" value=(f.key) autocomplete="off" required;
            }
            p {
                label for="store_code" { "店舗コード / Store code" } br;
                input #store_code type="text" name="store_code" value=(f.store_code);
            }
            p {
                label for="number" { "端末で入力する番号 (13桁) / Number typed at a kiosk" } br;
                input #number type="text" name="number" inputmode="numeric" value=(f.number);
            }
            p {
                label for="barcode" { "レジで読み取るコード (44桁) / Code scanned at a register" } br;
                input #barcode type="text" name="barcode" inputmode="numeric" value=(f.barcode);
            }
            input type="hidden" name="action" value="lookup";
            button #lookup type="submit" { "請求を照会 / Look up" }
        }
    }
}

fn problem(status: u16, body: &Value) -> Markup {
    html! {
        section class="banner expired" role="status" {
            h1 { "HTTP " (status) " " (body["code"].as_str().unwrap_or_default()) }
            p { (body["title"].as_str().unwrap_or_default()) }
            @if let Some(d) = body["detail"].as_str() { p { (d) } }
        }
    }
}

fn bills(f: &Form, body: &Value) -> Markup {
    let list = body["invoices"].as_array().cloned().unwrap_or_default();
    let all: Vec<String> = list
        .iter()
        .filter_map(|i| i["id"].as_str().map(str::to_string))
        .collect();
    html! {
        h2 { "ご請求 / Bills for " (body["smartpit_number"].as_str().unwrap_or_default()) }
        table.bills {
            thead { tr { th { "ご請求元 / Merchant" } th { "金額 / Total" } th { "期限 / Due" } th {} } }
            tbody {
                @for inv in &list {
                    tr data-invoice=(inv["id"].as_str().unwrap_or_default()) {
                        td { (inv["merchant_name"].as_str().unwrap_or_default()) }
                        td { (yen(&inv["total"])) }
                        td { (inv["due_date"].as_str().unwrap_or_default()) }
                        td {
                            form method="post" action="/sandbox/store" {
                                (hidden(f))
                                input type="hidden" name="action" value="pay";
                                input type="hidden" name="invoice_ids" value=(inv["id"].as_str().unwrap_or_default());
                                input type="hidden" name="amount" value=(inv["total"].as_i64().unwrap_or_default());
                                button type="submit" { "支払う / Pay" }
                            }
                        }
                    }
                }
            }
        }
        @if list.len() > 1 {
            form method="post" action="/sandbox/store" {
                (hidden(f))
                input type="hidden" name="action" value="pay";
                input type="hidden" name="invoice_ids" value=(all.join(","));
                input type="hidden" name="amount" value=(body["total_amount"].as_i64().unwrap_or_default());
                button #pay-all type="submit" { "まとめて支払う / Pay all " (yen(&body["total_amount"])) }
            }
        }
    }
}

fn payment(f: &Form, body: &Value, voided: bool) -> Markup {
    html! {
        section class="banner paid" role="status" {
            h1 { @if voided { "取り消しました / Voided" } @else { "お支払いを受け付けました / Paid" } }
            p { "payment " span.payment-id { (body["id"].as_str().unwrap_or_default()) }
                " · " (yen(&body["amount"])) " · " (body["store_chain"].as_str().unwrap_or_default())
                " " (body["store_code"].as_str().unwrap_or_default()) }
        }
        @if !voided {
            form method="post" action="/sandbox/store" {
                (hidden(f))
                input type="hidden" name="action" value="void";
                input type="hidden" name="payment_id" value=(body["id"].as_str().unwrap_or_default());
                button #void type="submit" { "取り消す (当日のみ) / Void (same day)" }
            }
        }
    }
}

/// `GET /sandbox/store` and each step's `POST`.
pub async fn handle(store: &StoreFunction, req: &Request) -> Response<Body> {
    let form = match req.method() {
        &http::Method::POST => parse_form(req.body().as_ref()),
        _ => parse_form(b""),
    };
    let outcome = match form.action.as_str() {
        "lookup" => {
            let body = match (form.number.is_empty(), form.barcode.is_empty()) {
                (false, true) => {
                    json!({"store_code": form.store_code, "smartpit_number": form.number})
                }
                (true, false) => json!({"store_code": form.store_code, "barcode": form.barcode}),
                _ => json!({"store_code": form.store_code}),
            };
            let (status, answer) = call(store, "/store/v1/lookup", &form.key, &body).await;
            Some(match status {
                200 => bills(&form, &answer),
                _ => problem(status, &answer),
            })
        }
        "pay" => {
            let txn = format!(
                "sim-{}",
                smartpit_shared::ids::base32(&smartpit_shared::ids::random_bytes::<8>())
            );
            let amount: i64 = form.amount.parse().unwrap_or_default();
            let body = json!({"store_code": form.store_code, "store_transaction_id": txn,
                              "invoice_ids": form.invoice_ids, "amount": amount});
            let (status, answer) = call(store, "/store/v1/payments", &form.key, &body).await;
            Some(match status {
                201 => payment(&form, &answer, false),
                _ => problem(status, &answer),
            })
        }
        "void" => {
            let path = format!("/store/v1/payments/{}/void", form.payment_id);
            let (status, answer) = call(store, &path, &form.key, &json!({})).await;
            Some(match status {
                200 => payment(&form, &answer, true),
                _ => problem(status, &answer),
            })
        }
        _ => None,
    };
    let body = html! {
        h1 { "店舗シミュレーター / Store simulator" }
        p.note { "テスト環境専用。すべての操作は公開の店舗API (/store/v1) に、入力したチェーンキーで送られます。 \
                  Test stacks only: every step is a request to the public store API with the chain key you give." }
        @if let Some(o) = outcome { (o) }
        (start(&form))
    };
    page::respond(
        StatusCode::OK,
        page::frame(Lang::Ja, "Store simulator", None, body),
    )
}
