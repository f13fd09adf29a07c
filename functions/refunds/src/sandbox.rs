//! `POST /v1/test/refunds/{id}/details` (RefundSandboxFunction, test stacks only, as the
//! sandbox's other helpers): fills a refund's customer account with test details, as if the
//! customer had given them on the page, so a merchant's developer sees the whole flow
//! (`refund.details_received`, then the transfer file). The details are sealed as real ones.

use std::sync::OnceLock;

use chrono::Utc;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use smartpit_shared::config::Resources;
use smartpit_shared::http as web;
use smartpit_shared::refund::RefundStatus;
use smartpit_shared::routes::Routes;
use smartpit_shared::zengin::{AccountForm, CheckedAccount};
use smartpit_shared::{auth, Code, Db, Problem};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Details,
}

/// The function's routes, as infra/template.yaml routes them here (a test holds the two equal).
pub fn routes() -> &'static Routes<Route> {
    static ROUTES: OnceLock<Routes<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        Routes::new().add(
            Method::POST,
            "/v1/test/refunds/{id}/details",
            Route::Details,
        )
    })
}

/// The account a test refund is paid to: a real bank and branch of the list, a test name.
fn test_account() -> AccountForm {
    AccountForm {
        bank: "0001".into(),
        branch: "001".into(),
        account_type: "ordinary".into(),
        number: "1234567".into(),
        holder: "ﾃｽﾄ ﾀﾛｳ".into(),
    }
}

pub struct RefundSandbox {
    db: Db,
    /// Built when details first arrive: a page view never needs it (start-up, issue 12).
    kms: smartpit_shared::config::OnFirstUse<aws_sdk_kms::Client>,
    key_id: String,
    test_stack: bool,
}

impl RefundSandbox {
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
        let Route::Details = found.route;
        let merchant = auth::merchant(&self.db, &req).await?;
        let refund = self
            .db
            .get_refund(&merchant.id, found.param("id"))
            .await?
            .ok_or_else(|| Problem::of(Code::RefundNotFound))?;
        let given = || {
            Problem::of(Code::RefundDetailsGiven)
                .invoice_id(refund.invoice_id.as_str())
                .detail(format!("The refund is {}.", refund.status.as_str()))
        };
        if !matches!(
            refund.status,
            RefundStatus::AwaitingDetails | RefundStatus::Failed
        ) {
            return Err(given());
        }
        let checked = CheckedAccount::of(&test_account())
            .map_err(|_| Problem::internal(&"the test account is not a valid Zengin account"))?;
        let (stored, received) = crate::store_details(
            &self.db,
            self.kms.get(),
            &self.key_id,
            &refund,
            &checked,
            Utc::now(),
        )
        .await?;
        if !stored {
            return Err(given());
        }
        Ok(web::json(StatusCode::OK, &received.view()))
    }
}

/// What its `main` runs ([`smartpit_shared::lambda::http`]) and the local stack builds.
impl smartpit_shared::lambda::HttpFunction for RefundSandbox {
    fn configured(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        let key = vars
            .get("BANK_DATA_KEY")
            .ok_or("BANK_DATA_KEY: the key refund accounts are sealed under")?;
        let test_stack = res.key_environment == "test";
        Ok(RefundSandbox {
            db: Db::new(sdk, res),
            kms: {
                let sdk = sdk.clone();
                smartpit_shared::config::OnFirstUse::new(move || aws_sdk_kms::Client::new(&sdk))
            },
            key_id: key.to_string(),
            test_stack,
        })
    }

    fn serve(&self, req: Request) -> impl std::future::Future<Output = Response<Body>> + Send {
        self.handle(req)
    }
}
