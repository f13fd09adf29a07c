//! `POST /v1/test/payouts/run` (PayoutSandboxFunction, test stacks only, as the sandbox's
//! other helpers): closes the caller's payout period now, whatever its cycle, and makes its
//! payout as the scheduled run does (`PayoutRun::run_now`: lines settled up to 2 seconds
//! ago); a second call the same day makes none. A function of its own, beside the sandbox's:
//! it renders a statement (printpdf), which the sandbox's binary has no room for.

use std::sync::OnceLock;

use chrono::Utc;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use schemars::JsonSchema;
use smartpit_shared::config::Resources;
use smartpit_shared::http as web;
use smartpit_shared::payout::PayoutView;
use smartpit_shared::routes::Routes;
use smartpit_shared::{auth, Code, Problem};

use crate::run::{Made, PayoutRun};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Run,
}

/// The function's routes, as infra/template.yaml routes them here (a test holds the two equal).
pub fn routes() -> &'static Routes<Route> {
    static ROUTES: OnceLock<Routes<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| Routes::new().add(Method::POST, "/v1/test/payouts/run", Route::Run))
}

/// `POST /v1/test/payouts/run`: the payout the close made now (`created`), the one made before
/// for today's close (`created: false`), or none when nothing was settled since the last one.
#[derive(Debug, serde::Serialize, JsonSchema)]
#[schemars(rename = "TestPayoutRun", extend("additionalProperties" = false))]
pub struct TestPayoutRunAnswer {
    pub created: bool,
    pub payout: Option<PayoutView>,
}

pub struct PayoutSandbox {
    run: PayoutRun,
    test_stack: bool,
}

impl PayoutSandbox {
    pub async fn handle(&self, req: Request) -> Response<Body> {
        web::respond(self.route(req).await)
    }

    async fn route(&self, req: Request) -> Result<Response<Body>, Problem> {
        // Never on a live stack (the template creates the function on test stacks only).
        if !self.test_stack {
            return Err(Problem::of(Code::RouteNotFound));
        }
        let found = routes()
            .find(req.method(), req.uri().path())
            .map_err(|miss| miss.problem())?;
        let Route::Run = found.route;
        let db = self.run.db();
        let merchant = auth::merchant(db, &req).await?;
        let made = self
            .run
            .run_now(&merchant.id, Utc::now())
            .await
            .map_err(|e| Problem::unavailable(&e))?;
        let (created, payout) = match made {
            Made::Created(p) => (true, Some(p.view())),
            Made::Exists(id) => (
                false,
                db.get_payout(&merchant.id, &id).await?.map(|p| p.view()),
            ),
            Made::NothingToPay | Made::Behind => (false, None),
        };
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok(web::json(status, &TestPayoutRunAnswer { created, payout }))
    }
}

/// What its `main` runs ([`smartpit_shared::lambda::http`]) and the local stack builds.
impl smartpit_shared::lambda::HttpFunction for PayoutSandbox {
    fn configured(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        let test_stack = res.key_environment == "test";
        Ok(PayoutSandbox {
            run: PayoutRun::with_limits(
                sdk,
                res,
                crate::statements_bucket(vars)?,
                smartpit_shared::timeouts::API_DYNAMODB,
            ),
            test_stack,
        })
    }

    fn serve(&self, req: Request) -> impl std::future::Future<Output = Response<Body>> + Send {
        self.handle(req)
    }
}
