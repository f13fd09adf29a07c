//! `GET /s/{token}`: the long-lived link in a customer's mail. While the sheet is valid it
//! answers 302 to a presigned S3 URL that lives 5 minutes (a presigned URL signed with a
//! Lambda role's temporary credentials dies with them, so the lasting link must be ours); after
//! expiry or cancellation 410; unknown 404. Validity is checked here, never left to S3.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use chrono::Utc;
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use smartpit_shared::config::Resources;
use smartpit_shared::http::{self as web};
use smartpit_shared::{Db, InvoiceId, InvoiceStatus, Problem};

/// The HTTP contract (OpenAPI 3.1), served at `/openapi.yaml`.
pub const OPENAPI_YAML: &str = include_str!("../../../infra/openapi.yaml");

/// Lifetime of the presigned URL a link redirects to.
pub const PRESIGNED_SECONDS: u64 = 300;

pub struct SheetsFunction {
    db: Db,
    s3: aws_sdk_s3::Client,
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
        let s3_conf = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build();
        SheetsFunction {
            db: Db::new(sdk, res),
            s3: aws_sdk_s3::Client::from_conf(s3_conf),
        }
    }

    pub async fn handle(&self, req: Request) -> Response<Body> {
        if req.uri().path() == "/openapi.yaml" {
            let mut resp = Response::new(Body::Text(OPENAPI_YAML.to_string()));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/yaml"),
            );
            return resp;
        }
        if let Some(code) = web::path_param(&req, "code") {
            return problem_page(&code);
        }
        match self.link(&req).await {
            Ok(resp) => resp,
            Err(p) => p.into_response(),
        }
    }

    async fn link(&self, req: &Request) -> Result<Response<Body>, Problem> {
        let token = web::path_param(req, "token").unwrap_or_default();
        let valid_form = token.len() <= 64 && token.starts_with("sht_");
        let link = match valid_form {
            true => self.db.get_sheet_link(&token).await?,
            false => None,
        };
        let Some(link) = link else {
            return Ok(page(
                StatusCode::NOT_FOUND,
                "このリンクのシートは見つかりません。メールのURLをご確認ください。",
                "No sheet is found for this link. Please check the URL in your mail.",
            ));
        };
        if Utc::now().timestamp() > link.expires_at {
            return Ok(page(
                StatusCode::GONE,
                "このシートはお支払期限を過ぎたため、ご利用いただけません。ご請求元へお問い合わせください。",
                "This sheet has expired: its payment deadline has passed. Please contact the merchant.",
            ));
        }
        // A cancelled bill's sheet must not send the customer to a store for nothing.
        let invoice = match InvoiceId::parse(&link.invoice_id) {
            Some(id) => self.db.get_invoice(&id).await?,
            None => None,
        };
        if invoice
            .as_ref()
            .is_some_and(|i| i.stored_status == InvoiceStatus::Moved)
        {
            return Ok(page(
                StatusCode::GONE,
                "このご請求は別の番号に移されました。ご請求元からのご案内をご確認ください。",
                "This bill was moved to another number. Please see the merchant's message.",
            ));
        }
        if invoice.is_some_and(|i| i.stored_status == InvoiceStatus::Cancelled) {
            return Ok(page(
                StatusCode::GONE,
                "このご請求は取り消されました。ご請求元へお問い合わせください。",
                "This bill was cancelled by the merchant. Please contact the merchant.",
            ));
        }
        if !link.stored {
            let mut resp = page(
                StatusCode::SERVICE_UNAVAILABLE,
                "シートを準備しています。しばらくしてから再度お開きください。",
                "The sheet is being prepared. Please try again in a moment.",
            );
            resp.headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("5"));
            return Ok(resp);
        }
        let config = PresigningConfig::expires_in(Duration::from_secs(PRESIGNED_SECONDS))
            .map_err(|e| Problem::internal(&e))?;
        let presigned = self
            .s3
            .get_object()
            .bucket(&self.db.res.sheets_bucket)
            .key(&link.s3_key)
            .response_content_type("application/pdf")
            .presigned(config)
            .await
            .map_err(|e| Problem::internal(&aws_sdk_s3::error::DisplayErrorContext(&e)))?;
        let mut resp = Response::new(Body::Empty);
        *resp.status_mut() = StatusCode::FOUND;
        let location = HeaderValue::from_str(presigned.uri()).map_err(|e| Problem::internal(&e))?;
        resp.headers_mut().insert(http::header::LOCATION, location);
        resp.headers_mut().insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        Ok(resp)
    }
}
