//! The store API: what a kiosk or register asks when a customer comes to pay.
//!
//! Routes (see infra/template.yaml):
//! - `POST /store/v1/lookup`: payable invoices on a number or barcode
//! - `POST /store/v1/payments`: pay invoices, all or none, exactly once
//! - `POST /store/v1/payments/{id}/void`: same-day void (速報取消)
//! - `POST /store/v1/slips`: a kiosk's slip (申込券), holding its bills 30 minutes for the
//!   register

use chrono::{DateTime, Utc};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use smartpit_shared::auth::{self, ChainPrincipal};
use smartpit_shared::config::Resources;
use smartpit_shared::db::{PayOutcome, Slip, SlipOutcome, VoidOutcome};
use smartpit_shared::guessing;
use smartpit_shared::http::{self as web};
use smartpit_shared::idempotent::mark_replayed;
use smartpit_shared::invoice::jst_timestamp;
use smartpit_shared::number::ascii_digits;
use smartpit_shared::request;
use smartpit_shared::routes::Routes;
use smartpit_shared::sheet::payment_code::{company_code, PaymentCode, PAYMENT_CODE_LEN};
use smartpit_shared::Code;
use smartpit_shared::{Channel, Db, Invoice, Problem, SmartPitNumber};
use std::sync::OnceLock;

pub mod requests;

/// The most invoices one visit may pay together. The payment is one transaction of at most
/// 1 + 4 items per bill (the bill, its settled line, `invoice.paid`, the customer's notices'
/// outbox record): 81 of DynamoDB's 100.
pub const MAX_INVOICES_PER_PAYMENT: usize = 20;

/// What each of the function's routes does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Lookup,
    Pay,
    Slip,
    Void,
}

/// The function's routes, as infra/template.yaml routes them here (a test holds the two equal).
pub fn routes() -> &'static Routes<Route> {
    static ROUTES: OnceLock<Routes<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        Routes::new()
            .add(Method::POST, "/store/v1/lookup", Route::Lookup)
            .add(Method::POST, "/store/v1/payments", Route::Pay)
            .add(Method::POST, "/store/v1/payments/{id}/void", Route::Void)
            .add(Method::POST, "/store/v1/slips", Route::Slip)
    })
}

pub struct StoreFunction {
    db: Db,
    /// Failed lookups a chain key may make in a minute (`MISSES_PER_MINUTE`).
    miss_limit: i64,
}

impl StoreFunction {
    pub fn new(sdk: &aws_config::SdkConfig, res: Resources) -> Self {
        StoreFunction {
            db: Db::new(sdk, res),
            miss_limit: guessing::DEFAULT_MISSES_PER_MINUTE,
        }
    }

    /// With the environment's `MISSES_PER_MINUTE`.
    pub fn with_miss_limit(self, limit: i64) -> Self {
        StoreFunction {
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
        match found.route {
            Route::Lookup => self.lookup(&req, now).await,
            Route::Pay => self.pay(&req, now).await,
            Route::Slip => self.slip(&req, now).await,
            Route::Void => self.void(&req, found.param("id"), now).await,
        }
    }

    async fn lookup(&self, req: &Request, now: DateTime<Utc>) -> Result<Response<Body>, Problem> {
        let chain = auth::store_chain(&self.db, req).await?;
        let who = format!("chain#{}", chain.id);
        if let Some(until) = guessing::refused_until(&who, now) {
            return Err(guessing::too_many(until, now));
        }
        let body: requests::Lookup = request::json(req, now)?;
        let (number, code) = match (&body.smartpit_number, &body.barcode) {
            (Some(n), None) => (typed_number(&chain, n)?, None),
            (None, Some(b)) => scanned_number(b)?,
            _ => {
                return Err(Problem::of(Code::InvalidRequest)
                    .detail("Send exactly one of smartpit_number and barcode"))
            }
        };
        let invoices = self.db.payable_invoices(number, now).await?;
        if let (Some(code), Some(inv)) = (&code, invoices.first()) {
            check_not_stale(code, inv)?;
        }
        if invoices.is_empty() {
            // A miss is counted (one write); past the limit this key is refused for the minute.
            if self.db.count_miss(&who, now).await? > self.miss_limit {
                let until = guessing::refuse(&who, now);
                return Err(guessing::too_many(until, now));
            }
            return Err(Problem::of(Code::BillingNotFound)
            .detail("No payable billing information is registered for this number. The customer should ask the merchant."));
        }
        let total: i64 = invoices.iter().map(Invoice::total).sum();
        Ok(web::json(
            StatusCode::OK,
            &requests::LookupAnswer {
                smartpit_number: number.to_string(),
                invoices: invoices.iter().map(Invoice::store_view).collect(),
                total_amount: total,
            },
        ))
    }

    async fn pay(&self, req: &Request, now: DateTime<Utc>) -> Result<Response<Body>, Problem> {
        let chain = auth::store_chain(&self.db, req).await?;
        let body: requests::Payment = request::json(req, now)?;
        self.pay_as(&chain, body, now).await
    }

    /// A payment report as `chain` sends it (`POST /store/v1/payments` once its key is known):
    /// also the sandbox's way to pay, so a test payment takes exactly the store's path.
    pub async fn pay_as(
        &self,
        chain: &ChainPrincipal,
        body: requests::Payment,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let request = body.into_request(&chain.id)?;
        let outcome = self.db.pay(&request, now).await?;
        match outcome {
            PayOutcome::Paid(p) => {
                tracing::info!(payment_id = %p.id, chain = %p.chain_id, amount = p.amount, invoices = p.lines.len(), "payment recorded");
                Ok(web::json(StatusCode::CREATED, &p.view()))
            }
            PayOutcome::Replayed(p) => {
                let mut resp = web::json(StatusCode::CREATED, &p.view());
                mark_replayed(&mut resp);
                Ok(resp)
            }
            PayOutcome::TransactionIdReused(p) => Err(Problem::of(Code::StoreTransactionReused)
            .payment_id(p.id)),
            PayOutcome::UnknownInvoice(id) => Err(Problem::of(Code::InvoiceNotFound)
            .invoice_id(id)),
            PayOutcome::NotPayable { invoice_id, status } => Err(Problem::of(Code::InvoiceNotPayable)
            .detail(format!(
                "Invoice {invoice_id} is {}. Nothing was paid.",
                status.as_str()
            ))
            .invoice_id(invoice_id)
            .invoice_status(status.as_str())),
            PayOutcome::Voided(p) => Err(Problem::of(Code::PaymentVoided)
            .detail(format!(
                "Payment {} of this store transaction was voided at {}. Nothing was paid now; \
                 report a new store_transaction_id to pay again.",
                p.id,
                p.voided_at.map(jst_timestamp).unwrap_or_default()
            ))
            .payment_id(p.id.clone())
            .voided_at(p.voided_at.map(jst_timestamp))),
            PayOutcome::Held { invoice_id, until } => Err(Problem::of(Code::InvoiceHeld)
            .detail("Pay it with that slip (slip_id), or after the slip has lapsed. Nothing was paid.")
            .invoice_id(invoice_id)
            .held_until(held_until(until))),
            PayOutcome::SlipNotValid { invoice_id } => Err(Problem::of(Code::SlipNotValid)
            .detail("The slip lapsed (30 minutes), is another chain's, or was printed for other bills. Print a new slip. Nothing was paid.")
            .invoice_id(invoice_id)),
            PayOutcome::WrongAmount { expected } => Err(Problem::of(Code::AmountMismatch)
            .detail(format!(
                "The invoices total {expected} yen. Nothing was paid."
            ))
            .expected_amount(expected)),
        }
    }

    /// `{"store_code", "smartpit_number", "invoice_ids"}` -> 201 `{"id", "invoice_ids",
    /// "amount", "hold_until"}`. Kiosk chains only; a copy of the same request while the slip
    /// holds answers with the same slip.
    async fn slip(&self, req: &Request, now: DateTime<Utc>) -> Result<Response<Body>, Problem> {
        let chain = auth::store_chain(&self.db, req).await?;
        if chain.channel == Channel::Register {
            return Err(Problem::of(Code::ChannelNotSupported)
                .detail("Slips are printed by kiosk chains; a register takes the bills directly"));
        }
        let body: requests::SlipRequest = request::json(req, now)?;
        let (store, number, ids) = body.into_parts()?;
        // Bills of another number are not this customer's: unknown here.
        if let Some(other) = ids.iter().find(|id| id.number() != number) {
            return Err(Problem::of(Code::InvoiceNotFound).invoice_id(other.to_string()));
        }
        let view = |s: &Slip| requests::SlipAnswer {
            id: s.id.clone(),
            smartpit_number: number.to_string(),
            invoice_ids: s.invoice_ids.clone(),
            amount: s.amount,
            currency: "JPY",
            store_code: s.store_code.clone(),
            hold_until: held_until(s.hold_until),
        };
        match self.db.print_slip(&chain.id, &store, &ids, now).await? {
            SlipOutcome::Printed(s) => {
                tracing::info!(slip_id = %s.id, chain = %chain.id, amount = s.amount, invoices = s.invoice_ids.len(), "slip printed");
                Ok(web::json(StatusCode::CREATED, &view(&s)))
            }
            SlipOutcome::Replayed(s) => {
                let mut resp = web::json(StatusCode::CREATED, &view(&s));
                mark_replayed(&mut resp);
                Ok(resp)
            }
            SlipOutcome::UnknownInvoice(id) => {
                Err(Problem::of(Code::InvoiceNotFound).invoice_id(id))
            }
            SlipOutcome::NotPayable { invoice_id, status } => {
                Err(Problem::of(Code::InvoiceNotPayable)
                    .invoice_id(invoice_id)
                    .invoice_status(status.as_str()))
            }
            SlipOutcome::Held { invoice_id, until } => Err(Problem::of(Code::InvoiceHeld)
                .detail("Another slip holds this bill for payment at the register")
                .invoice_id(invoice_id)
                .held_until(held_until(until))),
        }
    }

    async fn void(
        &self,
        req: &Request,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let chain = auth::store_chain(&self.db, req).await?;
        self.void_as(&chain.id, id, now).await
    }

    /// A void as `chain_id` sends it (`POST /store/v1/payments/{id}/void` once its key is
    /// known): also the sandbox's.
    pub async fn void_as(
        &self,
        chain_id: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        match self.db.void_payment(chain_id, id, now).await? {
            VoidOutcome::Voided(p) => {
                tracing::info!(payment_id = %p.id, chain = %p.chain_id, "payment voided");
                Ok(web::json(StatusCode::OK, &p.view()))
            }
            VoidOutcome::NotFound => Err(Problem::of(Code::PaymentNotFound)),
            VoidOutcome::Settled(p) => Err(Problem::of(Code::PaymentSettled).payment_id(p.id)),
            VoidOutcome::WindowClosed(p) => {
                Err(Problem::of(Code::VoidWindowClosed).payment_id(p.id))
            }
        }
    }
}

fn held_until(until: i64) -> Option<String> {
    DateTime::from_timestamp(until, 0).map(jst_timestamp)
}

/// A number typed at a kiosk. Register chains take only scanned barcodes.
fn typed_number(chain: &ChainPrincipal, s: &str) -> Result<SmartPitNumber, Problem> {
    if chain.channel == Channel::Register {
        return Err(Problem::of(Code::ChannelNotSupported).detail("This chain takes only a scanned barcode, not a typed number. Ask the customer for the card or the printed sheet."));
    }
    SmartPitNumber::parse(s).map_err(|e| Problem::of(Code::InvalidNumber).detail(e.to_string()))
}

/// A scanned barcode: a card's EAN-13, which is its number, or a sheet's 44-digit GS1-128
/// payment code, whose free field holds the sheet's number (returned with the code, whose
/// amount and deadline are checked against the bill).
fn scanned_number(s: &str) -> Result<(SmartPitNumber, Option<PaymentCode>), Problem> {
    let invalid = |detail: &str| Problem::of(Code::InvalidBarcode).detail(detail.to_string());
    let digits = ascii_digits(s).ok_or_else(|| invalid("barcode must hold only digits"))?;
    match digits.len() {
        13 => SmartPitNumber::parse(s)
            .map(|n| (n, None))
            .map_err(|e| invalid(&e.to_string())),
        PAYMENT_CODE_LEN => {
            let code = PaymentCode::parse(s).map_err(|e| invalid(&e))?;
            if code.company_code != company_code() {
                return Err(invalid("this payment code is another biller's"));
            }
            Ok((code.number, Some(code)))
        }
        n => Err(invalid(&format!(
            "a card's barcode has 13 digits and a sheet's 44, this one has {n}"
        ))),
    }
}

/// A sheet's printed code names the amount and deadline the bill had when it was printed: a
/// code that no longer matches the bill (an altered or outdated sheet) is refused.
fn check_not_stale(code: &PaymentCode, inv: &Invoice) -> Result<(), Problem> {
    let expected = PaymentCode::new(&code.company_code, inv.number(), inv.due_date, inv.total());
    if code.amount == inv.total()
        && code.deadline == expected.deadline
        && code.reissue == inv.reissue()
    {
        return Ok(());
    }
    Err(Problem::of(Code::StaleBarcode).detail(format!(
        "The sheet reads {} yen due {}, but the bill is {} yen due {}. Ask the customer \
             for the latest sheet from the mail, or pay by typing the number at a kiosk chain.",
        code.amount,
        code.deadline.map_or("-".to_string(), |d| d.to_string()),
        inv.total(),
        inv.due_date
    )))
}

/// What its `main` runs ([`smartpit_shared::lambda::http`]) and the local stack builds.
impl smartpit_shared::lambda::HttpFunction for StoreFunction {
    fn configured(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        Ok(
            StoreFunction::new(sdk, res).with_miss_limit(guessing::limit_from(
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

    /// API Gateway's own event shape, read by lambda_http, routed, answered without AWS.
    #[tokio::test]
    async fn a_lookup_without_a_key_is_refused_before_any_call() {
        let (status, body) = answer_offline::<StoreFunction>(
            include_str!("../fixtures/apigw-v2-lookup.json"),
            &Default::default(),
        )
        .await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("\"unauthorized\""), "{body}");
    }
}
