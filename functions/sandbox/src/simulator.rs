//! `GET|POST /sandbox/store`: a store simulator for test stacks. The developer pastes a test
//! chain key (`ck_test_…`, which says the chain), then types a number as at a kiosk, or pastes a
//! sheet's 44-digit code or uploads the sheet PDF (its printed code is read) as at a register,
//! sees the bills, pays them and voids the payment.
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

/// The 44-digit payment code a sheet PDF prints under its bars (two lines of 22 digits), read
/// from the PDF's text as a scanner reads the bars: what a register would scan. Decompression is
/// bounded (a hostile upload is a test user too).
pub fn code_in_sheet(pdf: &[u8]) -> Option<String> {
    let doc = lopdf::Document::load_mem(pdf).ok()?;
    let text = doc.extract_text_with_limit(&[1], 4 << 20).ok()?;
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    lines.windows(2).find_map(|w| {
        let digits = |l: &str| l.len() == 22 && l.bytes().all(|b| b.is_ascii_digit());
        (digits(w[0]) && digits(w[1])).then(|| format!("{}{}", w[0], w[1]))
    })
}

/// A multipart form (the sheet upload): its fields, and the code read from the `sheet` file.
async fn parse_multipart(body: Vec<u8>, boundary: String) -> Result<Form, String> {
    let stream =
        futures::stream::once(async move { Ok::<_, std::io::Error>(bytes::Bytes::from(body)) });
    let mut multipart = multer::Multipart::with_constraints(
        stream,
        boundary,
        multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(4 << 20)),
    );
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut code = None;
    while let Some(field) = multipart.next_field().await.map_err(|e| e.to_string())? {
        let name = field.name().unwrap_or_default().to_string();
        let data = field.bytes().await.map_err(|e| e.to_string())?;
        if name == "sheet" {
            if !data.is_empty() {
                // An upload that is not a sheet gives a code no chain takes.
                code = Some(code_in_sheet(&data).unwrap_or_else(|| "not-a-sheet".into()));
            }
        } else {
            pairs.push((name, String::from_utf8_lossy(&data).into_owned()));
        }
    }
    let encoded: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    let mut form = parse_form(encoded.as_bytes())?;
    if let Some(code) = code {
        form.barcode = code;
    }
    Ok(form)
}

/// The form's fields; a field the simulator does not know is refused (a browser sends only
/// these), as a body that is not a form is.
fn parse_form(body: &[u8]) -> Result<Form, String> {
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
            other => {
                return Err(format!(
                    "unknown field {:?}",
                    other.chars().take(40).collect::<String>()
                ))
            }
        }
    }
    if f.store_code.is_empty() {
        f.store_code = "SIM-0001".into();
    }
    Ok(f)
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
        form method="post" action="/sandbox/store" enctype="multipart/form-data" {
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
            p {
                label for="sheet" { "またはシートのPDF / or the sheet's PDF" } br;
                input #sheet type="file" name="sheet" accept="application/pdf";
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
                        td {
                            (inv["merchant_name"].as_str().unwrap_or_default())
                            @if let Some(d) = inv["store_description"].as_str() {
                                br; small { (d) }
                            }
                        }
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
    let boundary = smartpit_shared::http::header(req, "content-type")
        .and_then(|ct| multer::parse_boundary(ct).ok());
    let form = match (req.method(), boundary) {
        (&http::Method::POST, Some(b)) => parse_multipart(req.body().as_ref().to_vec(), b).await,
        (&http::Method::POST, None) => parse_form(req.body().as_ref()),
        _ => parse_form(b""),
    };
    let form = match form {
        Ok(f) => f,
        Err(why) => {
            let body = html! {
                section class="banner expired" role="status" {
                    h1 { "フォームを読めません / The form could not be read" }
                    p { (why) }
                }
                (start(&Form { store_code: "SIM-0001".into(), ..Form::default() }))
            };
            return page::respond(
                StatusCode::BAD_REQUEST,
                page::frame(Lang::Ja, "Store simulator", None, body),
            );
        }
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

#[cfg(test)]
mod tests {
    use super::code_in_sheet;
    use smartpit_shared::sheet::payment_code::PaymentCode;
    use smartpit_shared::sheet::{pdf, SheetContent};
    use smartpit_shared::SmartPitNumber;

    #[test]
    fn the_code_is_read_from_a_rendered_sheet() {
        let number = SmartPitNumber::from_body(221_234_567_890);
        let due = chrono::NaiveDate::from_ymd_opt(2026, 12, 10).unwrap_or_default();
        let code = PaymentCode::new("912345", number, due, 4_321);
        let sheet = SheetContent {
            contact: None,
            number,
            // Merchant text beyond the shared glyphs: the sheet has two fonts.
            merchant_name: "髙橋﨑商会".into(),
            amount: 4_321,
            customer_fee: 0,
            due_date: due,
            merchant_order_id: "A-1".into(),
            description: Some("鬱蒼".into()),
            payment_code: code.clone(),
        };
        let bytes = pdf::render(&sheet).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(code_in_sheet(&bytes), Some(code.digits()));
        assert_eq!(code_in_sheet(b"%PDF-1.7 not really"), None);
    }
}
