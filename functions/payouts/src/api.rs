//! The merchant's payouts: `GET /v1/payouts` (newest close first), `GET /v1/payouts/{id}` and
//! its statement as PDF or CSV (a redirect to a presigned URL of the private statements bucket
//! that lives 5 minutes). Another merchant's payout is not found.

use std::sync::OnceLock;

use chrono::Utc;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use schemars::JsonSchema;
use serde::Deserialize;
use smartpit_shared::config::{OnFirstUse, Resources};
use smartpit_shared::http as web;
use smartpit_shared::payout::statement_link::{presigning_client, statement_link, StatementFile};
use smartpit_shared::payout::{Payout, PayoutView};
use smartpit_shared::request::{self, Checked, Limit};
use smartpit_shared::routes::Routes;
use smartpit_shared::{auth, Code, Db, Problem};

/// What each of the function's routes does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    List,
    Get,
    StatementPdf,
    StatementCsv,
}

/// The function's routes, as infra/template.yaml routes them here (a test holds the two equal).
pub fn routes() -> &'static Routes<Route> {
    static ROUTES: OnceLock<Routes<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        Routes::new()
            .add(Method::GET, "/v1/payouts", Route::List)
            .add(Method::GET, "/v1/payouts/{id}", Route::Get)
            .add(
                Method::GET,
                "/v1/payouts/{id}/statement.pdf",
                Route::StatementPdf,
            )
            .add(
                Method::GET,
                "/v1/payouts/{id}/statement.csv",
                Route::StatementCsv,
            )
    })
}

/// `GET /v1/payouts?limit=&cursor=`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPayouts {
    #[serde(default)]
    pub limit: Limit,
    /// The `next_cursor` of the previous page
    pub cursor: Option<String>,
}

impl Checked for ListPayouts {
    fn code_of(field: &str) -> Code {
        match field {
            "limit" => Code::InvalidLimit,
            _ => Code::InvalidCursor,
        }
    }
}

/// A page of `GET /v1/payouts`, newest close first.
#[derive(Debug, serde::Serialize, JsonSchema)]
#[schemars(rename = "PayoutPage", extend("additionalProperties" = false))]
pub struct PayoutPageAnswer {
    pub payouts: Vec<PayoutView>,
    /// Pass as `cursor` for the next page; null on the last
    pub next_cursor: Option<String>,
}

pub struct PayoutsApi {
    db: Db,
    s3: OnFirstUse<aws_sdk_s3::Client>,
    bucket: String,
}

impl PayoutsApi {
    pub fn new(sdk: &aws_config::SdkConfig, res: Resources, bucket: String) -> Self {
        let for_s3 = sdk.clone();
        PayoutsApi {
            db: Db::new(sdk, res),
            // Presigning only: no call is made.
            s3: OnFirstUse::new(move || presigning_client(&for_s3)),
            bucket,
        }
    }

    pub async fn handle(&self, req: Request) -> Response<Body> {
        web::respond(self.route(req).await)
    }

    async fn route(&self, req: Request) -> Result<Response<Body>, Problem> {
        let found = routes()
            .find(req.method(), req.uri().path())
            .map_err(|miss| miss.problem())?;
        let id = found.param("id");
        match found.route {
            Route::List => self.list(&req).await,
            Route::Get => {
                let p = self.own(&req, id).await?;
                Ok(web::json(StatusCode::OK, &p.view()))
            }
            Route::StatementPdf => self.statement(&req, id, StatementFile::Pdf).await,
            Route::StatementCsv => self.statement(&req, id, StatementFile::Csv).await,
        }
    }

    async fn list(&self, req: &Request) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let q: ListPayouts = request::query(req, Utc::now())?;
        let page = self
            .db
            .list_payouts(&merchant.id, q.cursor.as_deref(), q.limit.0)
            .await?;
        Ok(web::json(
            StatusCode::OK,
            &PayoutPageAnswer {
                payouts: page.payouts.iter().map(Payout::view).collect(),
                next_cursor: page.next_cursor,
            },
        ))
    }

    /// The caller's payout (another merchant's is not found).
    async fn own(&self, req: &Request, id: &str) -> Result<Payout, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        self.db
            .get_payout(&merchant.id, id)
            .await?
            .ok_or_else(|| Problem::of(Code::PayoutNotFound))
    }

    /// A redirect to a 5-minute presigned URL of the statement's file.
    async fn statement(
        &self,
        req: &Request,
        id: &str,
        file: StatementFile,
    ) -> Result<Response<Body>, Problem> {
        let p = self.own(req, id).await?;
        let url = statement_link(self.s3.get(), &self.bucket, &p, file)
            .await
            .map_err(|e| Problem::internal(&e))?;
        web::private_redirect(&url)
    }
}

/// What its `main` runs ([`smartpit_shared::lambda::http`]) and the local stack builds.
impl smartpit_shared::lambda::HttpFunction for PayoutsApi {
    fn configured(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        Ok(PayoutsApi::new(sdk, res, crate::statements_bucket(vars)?))
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
    async fn the_payouts_listing_without_a_key_is_refused_before_any_call() {
        let vars = [("STATEMENTS_BUCKET".to_string(), "statements".to_string())].into();
        let (status, body) = answer_offline::<PayoutsApi>(
            include_str!("../fixtures/apigw-v2-list-payouts.json"),
            &vars,
        )
        .await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("\"unauthorized\""), "{body}");
    }
}
