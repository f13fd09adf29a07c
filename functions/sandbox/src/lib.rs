//! Test helpers for a merchant's developer, on a test stack only (`KeyEnvironment: test`; the
//! template creates this function nowhere else, and it refuses to run on a live one): make an
//! invoice paid, voided, expired or settled on cue, each through the code the real event runs.
//!
//! - `POST /v1/test/invoices/{id}/pay` `{"store_chain"?, "store_code"?}`: the store's own
//!   payment report (`StoreFunction::pay_as`) as that chain (default `lawson`, store
//!   `TEST-0001`), with a fresh store transaction id: 201 and the payment, as a chain gets it.
//! - `POST /v1/test/invoices/{id}/void`: the chain's void of the payment that paid it.
//! - `POST /v1/test/invoices/{id}/expire`: what the expiry sweep does to it, its deadline
//!   judged at the first second past it (the change and its event stamped now).
//! - `POST /v1/test/invoices/{id}/settle`: what a settlement file confirming its payment does
//!   (`settle_payments`, the file named `<chain>/<today>`).
//!
//! - `GET /sandbox/store`: a store simulator page over the public store API (simulator.rs).
//!
//! Each emits the events the real path emits (paid, voided, expired, settled), so webhooks fire
//! as they will in production. Only the invoice's own merchant may touch it (404 otherwise).

use chrono::{DateTime, Utc};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use schemars::JsonSchema;
use serde::Deserialize;
use smartpit_shared::auth::{self, ChainPrincipal, Merchant};
use smartpit_shared::config::Resources;
use smartpit_shared::db::SettleResult;
use smartpit_shared::http::{self as web};
use smartpit_shared::request::{self, Checked};
use smartpit_shared::routes::Routes;
use smartpit_shared::settlement::FileKey;
use smartpit_shared::store_chain::catalogue;
use smartpit_shared::Code;
use smartpit_shared::{Db, Invoice, InvoiceId, InvoiceStatus, Problem};
use smartpit_store::requests::Payment;
use smartpit_store::StoreFunction;
use std::sync::OnceLock;

pub mod simulator;

/// The chain and store a test payment is made at unless the request names them.
pub const DEFAULT_CHAIN: &str = "lawson";
pub const DEFAULT_STORE: &str = "TEST-0001";

/// What each of the function's routes does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// What a real event does to one of the merchant's invoices.
    Test(Action),
    /// The simulator page (GET) and its form (POST).
    StoreSimulator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pay,
    Void,
    Expire,
    Settle,
}

/// The function's routes, as infra/template.yaml routes them here (a test holds the two equal).
pub fn routes() -> &'static Routes<Route> {
    static ROUTES: OnceLock<Routes<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        Routes::new()
            .add(
                Method::POST,
                "/v1/test/invoices/{id}/pay",
                Route::Test(Action::Pay),
            )
            .add(
                Method::POST,
                "/v1/test/invoices/{id}/void",
                Route::Test(Action::Void),
            )
            .add(
                Method::POST,
                "/v1/test/invoices/{id}/expire",
                Route::Test(Action::Expire),
            )
            .add(
                Method::POST,
                "/v1/test/invoices/{id}/settle",
                Route::Test(Action::Settle),
            )
            .add(Method::GET, "/sandbox/store", Route::StoreSimulator)
            .add(Method::POST, "/sandbox/store", Route::StoreSimulator)
    })
}

/// `POST /v1/test/invoices/{id}/pay`: the chain and store a test payment is made at.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestPayment {
    #[schemars(with = "String", extend("examples" = ["lawson", "three-f"]))]
    pub store_chain: Option<String>,
    #[schemars(with = "smartpit_shared::contract::StoreCode")]
    pub store_code: Option<String>,
}

impl Checked for TestPayment {
    fn code_of(field: &str) -> Code {
        match field {
            "store_chain" => Code::InvalidStoreChain,
            _ => Code::InvalidStoreCode,
        }
    }
}

pub struct SandboxFunction {
    db: Db,
    store: StoreFunction,
    test_stack: bool,
}

impl SandboxFunction {
    pub fn new(sdk: &aws_config::SdkConfig, res: Resources) -> Self {
        let test_stack = res.key_environment == "test";
        SandboxFunction {
            db: Db::new(sdk, res.clone()),
            store: StoreFunction::new(sdk, res),
            test_stack,
        }
    }

    pub async fn handle(&self, req: Request) -> Response<Body> {
        web::respond(self.route(req, Utc::now()).await)
    }

    async fn route(&self, req: Request, now: DateTime<Utc>) -> Result<Response<Body>, Problem> {
        if !self.test_stack {
            return Err(Problem::of(Code::RouteNotFound));
        }
        let found = routes()
            .find(req.method(), req.uri().path())
            .map_err(|miss| miss.problem())?;
        let action = match found.route {
            Route::StoreSimulator => return Ok(simulator::handle(&self.store, &req).await),
            Route::Test(action) => action,
        };
        let merchant = auth::merchant(&self.db, &req).await?;
        let invoice = self.own_invoice(&merchant, found.param("id")).await?;
        match action {
            Action::Pay => self.pay(&req, &invoice, now).await,
            Action::Void => self.void(&invoice, now).await,
            Action::Expire => self.expire(&invoice).await,
            Action::Settle => self.settle(&invoice, now).await,
        }
    }

    /// The merchant's own invoice; another merchant's is as unknown as a missing one.
    async fn own_invoice(&self, merchant: &Merchant, id: &str) -> Result<Invoice, Problem> {
        let not_found = || Problem::of(Code::InvoiceNotFound);
        let id = InvoiceId::parse(id).ok_or_else(not_found)?;
        match self.db.get_invoice(&id).await? {
            Some(inv) if inv.merchant_id == merchant.id => Ok(inv),
            _ => Err(not_found()),
        }
    }

    async fn pay(
        &self,
        req: &Request,
        inv: &Invoice,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let body: TestPayment = request::json_or_empty(req, now)?;
        let chain = chain_of(body.store_chain.as_deref().unwrap_or(DEFAULT_CHAIN))?;
        let txn = format!(
            "test-{}",
            smartpit_shared::ids::base32(&smartpit_shared::ids::random_bytes::<8>())
        );
        // The chain's own report, checked as the store API checks one.
        let report = request::checked(
            Payment {
                store_code: Some(body.store_code.unwrap_or_else(|| DEFAULT_STORE.to_string())),
                store_transaction_id: Some(txn),
                invoice_ids: Some(vec![inv.id.to_string()]),
                amount: Some(request::Whole(inv.total())),
                slip_id: None,
            },
            now,
        )?;
        self.store.pay_as(&chain, report, now).await
    }

    async fn void(&self, inv: &Invoice, now: DateTime<Utc>) -> Result<Response<Body>, Problem> {
        let (Some(payment), Some(chain)) = (&inv.payment_id, &inv.store_chain) else {
            return Err(not_paid(inv, now));
        };
        self.store.void_as(chain, payment, now).await
    }

    async fn expire(&self, inv: &Invoice) -> Result<Response<Body>, Problem> {
        // Judged at the first second past the deadline, as the sweep would then; stamped now.
        let now = Utc::now();
        let past = DateTime::from_timestamp(inv.deadline + 1, 0).unwrap_or(now);
        if !self.db.expire_as_of(&inv.id, past, now).await? {
            return Err(Problem::of(Code::InvoiceNotExpirable)
                .invoice_id(inv.id.as_str())
                .invoice_status(inv.status_at(now).as_str()));
        }
        self.answer(&inv.id, now).await
    }

    async fn settle(&self, inv: &Invoice, now: DateTime<Utc>) -> Result<Response<Body>, Problem> {
        let Some(payment_id) = &inv.payment_id else {
            return Err(not_paid(inv, now));
        };
        let Some(payment) = self.db.get_payment(payment_id).await? else {
            return Err(not_paid(inv, now));
        };
        let ids: Vec<InvoiceId> = payment
            .lines
            .iter()
            .filter_map(|l| InvoiceId::parse(&l.invoice_id))
            .collect();
        let invoices = self.db.get_invoices_by_id(&ids).await?;
        let file = FileKey {
            chain_id: payment.chain_id.clone(),
            date: smartpit_shared::clock::jst_date(now),
        };
        let results = self
            .db
            .settle_payments(&file, std::slice::from_ref(&payment), &invoices, now)
            .await?;
        match results.get(&payment.id) {
            Some(SettleResult::Settled | SettleResult::AlreadySettled(_)) => {
                self.answer(&inv.id, now).await
            }
            _ => Err(not_paid(inv, now)),
        }
    }

    /// The invoice as the merchant reads it now.
    async fn answer(&self, id: &InvoiceId, now: DateTime<Utc>) -> Result<Response<Body>, Problem> {
        let inv = self
            .db
            .get_invoice(id)
            .await?
            .ok_or_else(|| Problem::of(Code::InvoiceNotFound))?;
        Ok(web::json(StatusCode::OK, &inv.merchant_view(now)))
    }
}

fn not_paid(inv: &Invoice, now: DateTime<Utc>) -> Problem {
    let status = inv.status_at(now);
    let _title = match status {
        InvoiceStatus::Settled => "The invoice's payment is settled",
        _ => "The invoice has no payment to act on",
    };
    Problem::of(Code::InvoiceNotPaid)
        .invoice_id(inv.id.as_str())
        .invoice_status(status.as_str())
}

/// A chain of the catalogue, as its key would say.
fn chain_of(id: &str) -> Result<ChainPrincipal, Problem> {
    let chains = catalogue().map_err(|e| Problem::internal(&e))?;
    chains
        .into_iter()
        .find(|c| c.id == id)
        .map(|c| ChainPrincipal {
            id: c.id,
            name_ja: c.name_ja,
            channel: c.channel,
        })
        .ok_or_else(|| Problem::of(Code::UnknownStoreChain).store_chain(id.to_string()))
}

/// What its `main` runs ([`smartpit_shared::lambda::http`]) and the local stack builds.
impl smartpit_shared::lambda::HttpFunction for SandboxFunction {
    fn configured(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        _vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        Ok(SandboxFunction::new(sdk, res))
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
    async fn a_base64_form_body_is_read_as_the_form() {
        let (status, body) = answer_offline::<SandboxFunction>(
            include_str!("../fixtures/apigw-v2-simulator-form.json"),
            &Default::default(),
        )
        .await;
        assert!(status < 500, "{body}");
        // The store code came in the base64-encoded form and is shown back.
        assert!(body.contains("SIM-0001"), "{body}");
    }
}
