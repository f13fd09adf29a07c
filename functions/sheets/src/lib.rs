//! The customer's web. `GET /s/{token}`, the long-lived link in a customer's mail, is the
//! payment page: the bill, its number and register barcode, how to pay at each chain (page.rs);
//! after expiry, cancellation or a move 410, unknown 404, paid a banner with the date.
//! `GET /s/{token}/sheet.pdf` answers 302 to a presigned S3 URL of the PDF that lives 5 minutes
//! (a presigned URL signed with a Lambda role's temporary credentials dies with them, so the
//! lasting link must be ours). Validity is checked here, never left to S3.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use chrono::Utc;
use http::{HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use smartpit_shared::config::{OnFirstUse, Resources};
use smartpit_shared::db::SheetLink;
use smartpit_shared::http::{self as web};
use smartpit_shared::routes::Routes;
use smartpit_shared::sheet::payment_code::{company_code, PaymentCode};
use smartpit_shared::{Db, Invoice, InvoiceId, InvoiceStatus, Problem};

pub mod page;
pub mod web_number;
use page::{Bill, Lang, State};

/// Lifetime of the presigned URL a link redirects to.
pub const PRESIGNED_SECONDS: u64 = 300;

/// What each of the function's routes does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    PaymentPage,
    SheetPdf,
    ConfirmationPdf,
    GetNumberPage,
    GetNumber,
    ProblemType,
}

/// The function's routes, as infra/template.yaml routes them here (a test holds the two equal).
pub fn routes() -> &'static Routes<Route> {
    static ROUTES: std::sync::OnceLock<Routes<Route>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| {
        Routes::new()
            .add(Method::GET, "/s/{token}", Route::PaymentPage)
            .add(Method::GET, "/s/{token}/sheet.pdf", Route::SheetPdf)
            .add(
                Method::GET,
                "/s/{token}/confirmation.pdf",
                Route::ConfirmationPdf,
            )
            .add(Method::GET, "/get-number", Route::GetNumberPage)
            .add(Method::POST, "/get-number", Route::GetNumber)
            .add(Method::GET, "/problems/{code}", Route::ProblemType)
    })
}

pub struct SheetsFunction {
    db: Db,
    s3: OnFirstUse<aws_sdk_s3::Client>,
    /// Numbers one client address may take from the web site in a minute.
    web_numbers_per_minute: i64,
}

fn page(status: StatusCode, ja: &str, en: &str) -> Response<Body> {
    let html = format!(
        "<!doctype html><html lang=\"ja\"><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>スマートピットシート</title>\
         <body style=\"font-family:sans-serif;max-width:32em;margin:2em auto\">\
         <h1>スマートピットシート</h1><p>{ja}</p><p lang=\"en\">{en}</p></body></html>"
    );
    let mut resp = Response::new(Body::Text(html));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    resp
}

/// `GET /problems/{code}`: what an error code means, from docs/ERRORS.md (the `type` of every
/// problem points here).
fn problem_page(code: &str) -> Response<Body> {
    let esc = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('`', "")
    };
    let Some((status, when)) = smartpit_shared::problem::documented(code) else {
        return page(
            StatusCode::NOT_FOUND,
            "このエラーコードはありません。",
            "There is no such error code.",
        );
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{c}</title>\
         <body style=\"font-family:sans-serif;max-width:40em;margin:2em auto\">\
         <h1><code>{c}</code></h1><p>HTTP {s}</p><p>{w}</p>\
         <p>Every error is <code>application/problem+json</code> (RFC 9457) with this stable \
         <code>code</code>. A request refused with a 4xx wrote nothing.</p></body></html>",
        c = esc(code),
        s = esc(&status),
        w = esc(&when),
    );
    let mut resp = Response::new(Body::Text(html));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

impl SheetsFunction {
    pub fn new(sdk: &aws_config::SdkConfig, res: Resources) -> Self {
        let for_s3 = sdk.clone();
        SheetsFunction {
            db: Db::new(sdk, res),
            // Only the PDF route presigns: the pages never build it.
            s3: OnFirstUse::new(move || {
                let conf = aws_sdk_s3::config::Builder::from(&for_s3)
                    .force_path_style(true)
                    .build();
                aws_sdk_s3::Client::from_conf(conf)
            }),
            web_numbers_per_minute: web_number::DEFAULT_PER_MINUTE,
        }
    }

    /// With the environment's `WEB_NUMBERS_PER_MINUTE`.
    pub fn with_web_number_limit(mut self, var: Option<&str>) -> Self {
        self.web_numbers_per_minute = web_number::limit_from(var);
        self
    }

    pub async fn handle(&self, req: Request) -> Response<Body> {
        let found = match routes().find(req.method(), req.uri().path()) {
            Ok(found) => found,
            Err(miss) => return miss.problem().into_response(),
        };
        let answer = match found.route {
            Route::ProblemType => return problem_page(found.param("code")),
            Route::GetNumberPage => return web_number::form(Lang::of(&req)),
            Route::GetNumber => {
                web_number::issue(&self.db, self.web_numbers_per_minute, &req, Utc::now()).await
            }
            Route::PaymentPage => self.payment_page(&req, found.param("token")).await,
            Route::SheetPdf => self.sheet_pdf(&req, found.param("token")).await,
            Route::ConfirmationPdf => self.confirmation_pdf(&req, found.param("token")).await,
        };
        web::respond(answer)
    }

    /// What a link leads to.
    async fn look_up(&self, token: &str) -> Result<Found, Problem> {
        Ok(self.look_up_with_merchant(token).await?.0)
    }

    /// What a link leads to, and its bill's merchant (id and name) when the bill is known (one
    /// read of the link, one of its invoice).
    async fn look_up_with_merchant(
        &self,
        token: &str,
    ) -> Result<(Found, Option<(String, String)>), Problem> {
        let valid_form = token.len() <= 64 && token.starts_with("sht_");
        let link = match valid_form {
            true => self.db.get_sheet_link(token).await?,
            false => None,
        };
        let Some(link) = link else {
            return Ok((Found::Closed(State::Unknown), None));
        };
        let now = Utc::now();
        // Past the deadline nothing can be paid; a bill paid in time still says it was paid.
        let past_deadline = now.timestamp() > link.expires_at;
        let invoice = match InvoiceId::parse(&link.invoice_id) {
            Some(id) => self.db.get_invoice(&id).await?,
            None => None,
        };
        let Some(invoice) = invoice else {
            let state = match past_deadline {
                true => State::Expired,
                false => State::Unknown,
            };
            return Ok((Found::Closed(state), None));
        };
        let merchant = Some((invoice.merchant_id.clone(), invoice.merchant_name.clone()));
        let found = match invoice.status_at(now) {
            InvoiceStatus::Moved => Found::Closed(State::Moved),
            InvoiceStatus::Cancelled => Found::Closed(State::Cancelled),
            InvoiceStatus::Expired => Found::Closed(State::Expired),
            InvoiceStatus::Paid | InvoiceStatus::Settled => Found::Paid(Box::new(invoice)),
            InvoiceStatus::Registered if past_deadline => Found::Closed(State::Expired),
            InvoiceStatus::Registered => Found::Payable(link, Box::new(invoice)),
        };
        Ok((found, merchant))
    }

    /// `GET /s/{token}`: the payment page (or the page of its state), with the merchant's
    /// contact details under it (one more read when the bill is known).
    async fn payment_page(&self, req: &Request, token: &str) -> Result<Response<Body>, Problem> {
        let lang = Lang::of(req);
        let path = format!("/s/{token}");
        let (found, merchant) = self.look_up_with_merchant(token).await?;
        let contact = match &merchant {
            Some((id, _)) => self.db.merchant_contact(id).await?,
            None => Default::default(),
        };
        let merchant = merchant.as_ref().map(|(_, name)| (name.as_str(), &contact));
        let state = match &found {
            Found::Closed(state) => page::render_for(lang, state, Some(&path), merchant),
            Found::Paid(inv) => page::render_for(
                lang,
                &State::Paid {
                    merchant_name: &inv.merchant_name,
                    total: inv.total(),
                    paid_on: page::paid_on(inv.paid_at.unwrap_or(inv.updated_at)),
                    confirmation: confirmation_stored(inv)
                        .then(|| format!("/s/{token}/confirmation.pdf")),
                },
                Some(&path),
                merchant,
            ),
            Found::Payable(_, inv) => page::render_for(
                lang,
                &State::Payable(Bill {
                    token,
                    merchant_name: &inv.merchant_name,
                    merchant_order_id: &inv.merchant_order_id,
                    description: inv.description.as_deref(),
                    amount: inv.amount,
                    customer_fee: inv.customer_fee,
                    due_date: inv.due_date,
                    number: inv.number(),
                    payment_code: payment_code(inv),
                }),
                Some(&path),
                merchant,
            ),
        };
        let status = match &found {
            Found::Closed(state) => state.status(),
            Found::Paid(_) | Found::Payable(..) => StatusCode::OK,
        };
        Ok(page::respond(status, state))
    }

    /// `GET /s/{token}/sheet.pdf`: while the bill can be paid, a redirect to a presigned URL of
    /// the PDF that lives 5 minutes; else the page of its state (a paid bill's sheet is of no
    /// use at a store any more: 410).
    async fn sheet_pdf(&self, req: &Request, token: &str) -> Result<Response<Body>, Problem> {
        let lang = Lang::of(req);
        let link = match self.look_up(token).await? {
            Found::Payable(link, _) => link,
            Found::Paid(_) => {
                return Ok(page::respond(
                    StatusCode::GONE,
                    page::render(lang, &State::AlreadyPaid, None),
                ))
            }
            Found::Closed(state) => {
                return Ok(page::respond(
                    state.status(),
                    page::render(lang, &state, None),
                ))
            }
        };
        if !link.stored {
            let mut resp = page::respond(
                StatusCode::SERVICE_UNAVAILABLE,
                page::render(lang, &State::Preparing, None),
            );
            resp.headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("5"));
            return Ok(resp);
        }
        self.presigned_pdf(&link.s3_key).await
    }

    /// `GET /s/{token}/confirmation.pdf`: a paid bill's お支払い完了証明, once the notifier
    /// stored it (503 before); a bill with no payment standing (never paid, or voided since)
    /// has none (404); a closed bill answers its state's page.
    async fn confirmation_pdf(
        &self,
        req: &Request,
        token: &str,
    ) -> Result<Response<Body>, Problem> {
        let lang = Lang::of(req);
        let inv = match self.look_up(token).await? {
            Found::Paid(inv) => inv,
            Found::Payable(..) => {
                return Ok(page::respond(
                    StatusCode::NOT_FOUND,
                    page::render(lang, &State::NotPaid, None),
                ))
            }
            Found::Closed(state) => {
                return Ok(page::respond(
                    state.status(),
                    page::render(lang, &state, None),
                ))
            }
        };
        let Some(payment_id) = inv
            .payment_id
            .as_deref()
            .filter(|_| confirmation_stored(&inv))
        else {
            let mut resp = page::respond(
                StatusCode::SERVICE_UNAVAILABLE,
                page::render(lang, &State::ConfirmationPreparing, None),
            );
            resp.headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("5"));
            return Ok(resp);
        };
        let key = smartpit_shared::confirmation::s3_key(inv.id.as_str(), payment_id);
        self.presigned_pdf(&key).await
    }

    /// A redirect to a presigned URL of a PDF in the sheets bucket, living 5 minutes.
    async fn presigned_pdf(&self, key: &str) -> Result<Response<Body>, Problem> {
        let config = PresigningConfig::expires_in(Duration::from_secs(PRESIGNED_SECONDS))
            .map_err(|e| Problem::internal(&e))?;
        let presigned = self
            .s3
            .get()
            .get_object()
            .bucket(&self.db.res.sheets_bucket)
            .key(key)
            .response_content_type("application/pdf")
            .presigned(config)
            .await
            .map_err(|e| Problem::internal(&aws_sdk_s3::error::DisplayErrorContext(&e)))?;
        web::private_redirect(presigned.uri())
    }
}

/// The notifier stored the confirmation of the payment standing on the bill: its notice is
/// `sent` and no later than the payment (a notice of an earlier, voided payment does not count).
fn confirmation_stored(inv: &Invoice) -> bool {
    use smartpit_shared::notice::{NoticeKind, NoticeStatus};
    inv.notice(NoticeKind::Confirmation).is_some_and(|n| {
        n.status == NoticeStatus::Sent && inv.paid_at.is_some_and(|paid| n.at >= paid)
    })
}

/// What a sheet link leads to.
enum Found {
    Payable(SheetLink, Box<Invoice>),
    Paid(Box<Invoice>),
    Closed(State<'static>),
}

/// The bill's register code, as its sheet prints it.
fn payment_code(inv: &Invoice) -> String {
    PaymentCode::new(&company_code(), inv.number(), inv.due_date, inv.total())
        .reissued(inv.reissue())
        .digits()
}

/// What its `main` runs ([`smartpit_shared::lambda::http`]) and the local stack builds.
impl smartpit_shared::lambda::HttpFunction for SheetsFunction {
    fn configured(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        Ok(SheetsFunction::new(sdk, res)
            .with_web_number_limit(vars.get("WEB_NUMBERS_PER_MINUTE").map(String::as_str)))
    }

    fn serve(&self, req: Request) -> impl std::future::Future<Output = Response<Body>> + Send {
        self.handle(req)
    }
}

#[cfg(test)]
mod api_gateway_events {
    use super::*;
    use smartpit_shared::lambda::answer_offline;

    /// API Gateway's own event shape, read by lambda_http, routed, answered without AWS.
    #[tokio::test]
    async fn a_problem_page_is_served_from_its_path_parameter() {
        let (status, body) = answer_offline::<SheetsFunction>(
            include_str!("../fixtures/apigw-v2-problem-page.json"),
            &Default::default(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("invoice_not_found"), "{body}");
    }
}
