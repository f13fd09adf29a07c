//! Invoice registration (請求情報登録) and the merchant's reads, listing and cancellation.
//!
//! Routes (see infra/template.yaml):
//! - `POST /v1/invoices` (Idempotency-Key required)
//! - `GET /v1/invoices?status=&limit=&cursor=`
//! - `GET /v1/invoices/{id}`
//! - `POST /v1/invoices/{id}/cancel`
//! - `POST /v1/invoices/{id}/resend` (Idempotency-Key required)
//! - `PATCH /v1/invoices/{id}`, `POST /v1/invoices/{id}/move` (Idempotency-Key required)
//! - `GET /v1/reports/payments?date=YYYY-MM-DD` (CSV, or JSON with `Accept: application/json`)

mod change;
pub mod expiry;
pub mod refunds;
mod register;
mod reports;
pub mod requests;
mod resend;

use chrono::{DateTime, Utc};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use smartpit_shared::auth;
use smartpit_shared::config::Resources;
use smartpit_shared::http::{self as web};
use smartpit_shared::invoice::InvoiceView;
use smartpit_shared::request;
use smartpit_shared::routes::Routes;
use smartpit_shared::Code;
use smartpit_shared::{Db, Problem};
use std::sync::OnceLock;

/// What each of the function's routes does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Contract,
    Register,
    List,
    Get,
    Change,
    Move,
    Cancel,
    Resend,
    EraseCustomer,
    PaymentsReport,
    CreateRefund,
    ListRefunds,
    GetRefund,
    CancelRefund,
}

/// The function's routes, as infra/template.yaml routes them here (a test holds the two equal).
pub fn routes() -> &'static Routes<Route> {
    static ROUTES: OnceLock<Routes<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        Routes::new()
            .add(Method::GET, "/openapi.yaml", Route::Contract)
            .add(Method::POST, "/v1/invoices", Route::Register)
            .add(Method::GET, "/v1/invoices", Route::List)
            .add(Method::GET, "/v1/invoices/{id}", Route::Get)
            .add(Method::PATCH, "/v1/invoices/{id}", Route::Change)
            .add(Method::POST, "/v1/invoices/{id}/move", Route::Move)
            .add(Method::POST, "/v1/invoices/{id}/cancel", Route::Cancel)
            .add(Method::POST, "/v1/invoices/{id}/resend", Route::Resend)
            .add(
                Method::DELETE,
                "/v1/invoices/{id}/customer",
                Route::EraseCustomer,
            )
            .add(Method::GET, "/v1/reports/payments", Route::PaymentsReport)
            .add(
                Method::POST,
                "/v1/invoices/{id}/refunds",
                Route::CreateRefund,
            )
            .add(Method::GET, "/v1/invoices/{id}/refunds", Route::ListRefunds)
            .add(Method::GET, "/v1/refunds/{id}", Route::GetRefund)
            .add(Method::POST, "/v1/refunds/{id}/cancel", Route::CancelRefund)
    })
}

pub struct InvoicesFunction {
    db: Db,
    /// Registrations on unknown numbers a merchant may make in a minute (`MISSES_PER_MINUTE`).
    miss_limit: i64,
}

impl InvoicesFunction {
    pub fn new(sdk: &aws_config::SdkConfig, res: Resources) -> Self {
        InvoicesFunction {
            db: Db::new(sdk, res),
            miss_limit: smartpit_shared::guessing::DEFAULT_MISSES_PER_MINUTE,
        }
    }

    /// With the environment's `MISSES_PER_MINUTE`.
    pub fn with_miss_limit(self, limit: i64) -> Self {
        InvoicesFunction {
            miss_limit: limit,
            ..self
        }
    }

    pub async fn handle(&self, req: Request) -> Response<Body> {
        self.handle_at(req, Utc::now()).await
    }

    /// As `handle`, at a time of the caller's choosing (tests of deadlines and holds).
    pub async fn handle_at(&self, req: Request, now: DateTime<Utc>) -> Response<Body> {
        web::respond(self.route(req, now).await)
    }

    async fn route(&self, req: Request, now: DateTime<Utc>) -> Result<Response<Body>, Problem> {
        let found = routes()
            .find(req.method(), req.uri().path())
            .map_err(|miss| miss.problem())?;
        let id = found.param("id");
        match found.route {
            Route::Contract => Ok(contract()),
            Route::Register => self.register(&req, now).await,
            Route::List => self.list(&req, now).await,
            Route::Get => self.get(&req, id, now).await,
            Route::Change => self.change(&req, id, now).await,
            Route::Move => self.move_to(&req, id, now).await,
            Route::Cancel => self.cancel(&req, id, now).await,
            Route::Resend => self.resend(&req, id, now).await,
            Route::EraseCustomer => self.erase_customer(&req, id, now).await,
            Route::PaymentsReport => self.payments_report(&req).await,
            Route::CreateRefund => self.create_refund(&req, id, now).await,
            Route::ListRefunds => self.list_refunds(&req, id).await,
            Route::GetRefund => self.get_refund(&req, id).await,
            Route::CancelRefund => self.cancel_refund(&req, id, now).await,
        }
    }

    async fn get(
        &self,
        req: &Request,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let invoice = self.invoice_of(&merchant, id).await?;
        Ok(web::json(StatusCode::OK, &invoice.merchant_view(now)))
    }

    /// `DELETE /v1/invoices/{id}/customer`: the customer's addresses erased from the bill now
    /// (and from its notices), whatever its state; no mail goes to them any more. Erasing
    /// twice answers the same bill.
    async fn erase_customer(
        &self,
        req: &Request,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let invoice = self.invoice_of(&merchant, id).await?;
        let erased = self
            .db
            .erase_customer(&invoice, false, now)
            .await?
            .ok_or_else(|| Problem::of(Code::InvoiceNotFound))?;
        tracing::info!(invoice_id = %invoice.id, merchant_id = %merchant.id, "customer addresses erased");
        Ok(web::json(StatusCode::OK, &erased.merchant_view(now)))
    }

    /// The merchant's invoice `id`: another merchant's is 404, as a missing one.
    pub(crate) async fn invoice_of(
        &self,
        merchant: &auth::Merchant,
        id: &str,
    ) -> Result<smartpit_shared::Invoice, Problem> {
        self.db
            .get_merchant_invoice(&merchant.id, id)
            .await?
            .ok_or_else(|| Problem::of(Code::InvoiceNotFound))
    }

    async fn list(&self, req: &Request, now: DateTime<Utc>) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let q: requests::ListInvoices = request::query(req, now)?;
        let page = self
            .db
            .list_invoices(
                &merchant.id,
                &q.filter(),
                q.limit.0,
                q.cursor.as_deref(),
                now,
            )
            .await?;
        let invoices: Vec<InvoiceView> =
            page.invoices.iter().map(|i| i.merchant_view(now)).collect();
        Ok(web::json(
            StatusCode::OK,
            &requests::InvoicePageAnswer {
                invoices,
                next_cursor: page.next_cursor,
            },
        ))
    }

    async fn cancel(
        &self,
        req: &Request,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let invoice = self.db.cancel_invoice(&merchant.id, id, now).await?;
        tracing::info!(invoice_id = %invoice.id, merchant_id = %merchant.id, "invoice cancelled");
        Ok(web::json(StatusCode::OK, &invoice.merchant_view(now)))
    }
}

/// The HTTP contract (OpenAPI 3.1), served at `/openapi.yaml` without a key.
pub const OPENAPI_YAML: &str = include_str!("../../../infra/openapi.yaml");

fn contract() -> Response<Body> {
    let mut resp = Response::new(Body::Text(OPENAPI_YAML.to_string()));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/yaml"),
    );
    resp
}

/// What its `main` runs ([`smartpit_shared::lambda::http`]) and the local stack builds.
impl smartpit_shared::lambda::HttpFunction for InvoicesFunction {
    fn configured(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        Ok(
            InvoicesFunction::new(sdk, res).with_miss_limit(smartpit_shared::guessing::limit_from(
                vars.get("MISSES_PER_MINUTE").map(String::as_str),
            )),
        )
    }

    fn serve(&self, req: Request) -> impl std::future::Future<Output = Response<Body>> + Send {
        self.handle(req)
    }
}

#[cfg(test)]
mod api_gateway_events {
    use super::*;
    use smartpit_shared::lambda::answer_offline;

    /// API Gateway's own event shape, read by lambda_http, routed with its path parameter,
    /// and a key of the other environment refused before any AWS call.
    #[tokio::test]
    async fn a_live_key_on_a_test_stack_is_refused_before_any_call() {
        let (status, body) = answer_offline::<InvoicesFunction>(
            include_str!("../fixtures/apigw-v2-cancel-invoice.json"),
            &Default::default(),
        )
        .await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("test keys"), "{body}");
    }
}
