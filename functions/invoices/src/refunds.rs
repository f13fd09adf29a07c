//! Refunds of a paid bill (issue 20): `POST /v1/invoices/{id}/refunds` (Idempotency-Key
//! required), `GET /v1/invoices/{id}/refunds`, `GET /v1/refunds/{id}`, `POST
//! /v1/refunds/{id}/cancel`. A bill's refunds never sum above what the customer paid for it
//! (`refund_exceeds_paid`, held by a conditional write, also for refunds made at once); the
//! customer gives the account to pay it to on the page of `details_url`.

use chrono::{DateTime, Utc};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use smartpit_shared::auth;
use smartpit_shared::db::refunds::{RefundMail, RefundWrite};
use smartpit_shared::db::RefundRequest;
use smartpit_shared::http as web;
use smartpit_shared::idempotent::{Keyed, OnFailure};
use smartpit_shared::invoice::Invoice;
use smartpit_shared::notice::{Notice, NoticeKind};
use smartpit_shared::refund::{
    new_details_token, new_refund_id, refundable, refunded_payment, NotRefundable, Refund,
    RefundStatus, RefundView, REASON_CHARS,
};
use smartpit_shared::request::{self, Checked, Report, Whole};
use smartpit_shared::webhook::{Event, EventType};
use smartpit_shared::{Code, Problem};

use crate::InvoicesFunction;

/// The most a customer can have paid for one bill: what a store may collect for it, the
/// amount and the customer fee together.
const MAX_REFUND_YEN: i64 = smartpit_shared::money::MAX_INVOICE_YEN;

/// `POST /v1/invoices/{id}/refunds`: yen going back to the customer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "NewRefund")]
pub struct CreateRefund {
    /// yen, at least 1; with the bill's other refunds at most what the customer paid for it
    /// (amount and customer fee), else 422 refund_exceeds_paid
    #[schemars(required, with = "Whole", range(min = 1, max = 300000))]
    pub amount: Option<Whole>,
    /// why, for the merchant's records and the customer's page
    #[schemars(length(max = 200))]
    pub reason: Option<String>,
}

impl Checked for CreateRefund {
    fn code_of(field: &str) -> Code {
        match field {
            "reason" => Code::InvalidReason,
            _ => Code::InvalidAmount,
        }
    }

    fn check(&self, _now: DateTime<Utc>, r: &mut Report) {
        r.required("amount", Code::InvalidAmount, &self.amount);
        if let Some(Whole(a)) = self.amount {
            if a < 1 {
                r.push("amount", Code::InvalidAmount, "must be at least 1");
            } else if a > MAX_REFUND_YEN {
                r.push(
                    "amount",
                    Code::InvalidAmount,
                    format!("must be at most {MAX_REFUND_YEN}, the most a bill can have been paid"),
                );
            }
        }
        r.text(
            "reason",
            Code::InvalidReason,
            self.reason.as_deref(),
            REASON_CHARS,
        );
    }
}

/// `GET /v1/invoices/{id}/refunds`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "RefundList", extend("additionalProperties" = false))]
pub struct RefundListAnswer {
    /// Oldest first, cancelled ones included.
    pub refunds: Vec<RefundView>,
}

fn not_refundable(inv: &Invoice, why: NotRefundable, now: DateTime<Utc>) -> Problem {
    let p = Problem::of(Code::InvoiceNotRefundable)
        .invoice_id(inv.id.as_str())
        .invoice_status(inv.status_at(now).as_str());
    match why {
        NotRefundable::NotPaid(status) => p.detail(format!(
            "The bill is {}: only what a customer paid can be refunded.",
            status.as_str()
        )),
        NotRefundable::VoidablePayment => p.detail(
            "The bill was paid today: the store may still void the payment until the end of \
             its day (JST). Refund it from tomorrow.",
        ),
    }
}

impl InvoicesFunction {
    pub(crate) async fn create_refund(
        &self,
        req: &Request,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let keyed = Keyed::of(req)?;
        let body: CreateRefund = request::json(req, now)?;
        let inv = self.invoice_of(&merchant, id).await?;
        let (merchant, inv, body) = (&merchant, &inv, &body);
        keyed
            .run(
                &self.db,
                &merchant.id,
                now,
                OnFailure::Release,
                |lock| async move {
                    let paid = refundable(inv, now).map_err(|w| not_refundable(inv, w, now))?;
                    let payment_id = refunded_payment(inv, now).unwrap_or_default();
                    let token = new_details_token();
                    let refund = Refund {
                        id: new_refund_id(),
                        merchant_id: merchant.id.clone(),
                        invoice_id: inv.id.as_str().to_string(),
                        payment_id,
                        amount: body.amount.map_or(0, |a| a.0),
                        reason: body.reason.clone(),
                        status: RefundStatus::AwaitingDetails,
                        details_url: format!(
                            "{}/r/{token}",
                            smartpit_shared::problem::public_base_url()
                        ),
                        created_at: now,
                        updated_at: now,
                        cancelled_at: None,
                        account: None,
                        details_received_at: None,
                        transfer_date: None,
                        paid_at: None,
                        failure_reason: None,
                    };
                    let view = refund.view();
                    let response = serde_json::to_string(&view).map_err(|e| Problem::internal(&e))?;
                    let event = Event::new(
                        &merchant.id,
                        EventType::RefundCreated,
                        Some(inv.id.as_str()),
                        json!({"refund": view, "invoice": inv.merchant_view(now)}),
                        now,
                    );
                    // Where the bill has the customer's address, they are asked by mail.
                    let to = inv.customer.email.as_ref().or(inv.customer.mobile_email.as_ref());
                    let mail = to.map(|to| RefundMail {
                        request: RefundRequest {
                            refund_id: refund.id.clone(),
                            details_url: refund.details_url.clone(),
                            amount: refund.amount,
                        },
                        notice: Notice::queued(NoticeKind::RefundMail, Some(to), now),
                        first_notice: inv.notices.is_empty(),
                    });
                    let written = self
                        .db
                        .create_refund(
                            &refund,
                            paid,
                            inv.repeat.map(|_| inv.occurrences),
                            &token,
                            mail.as_ref(),
                            &event,
                            &lock,
                            201,
                            &response,
                        )
                        .await?;
                    match written {
                        RefundWrite::Created => {
                            tracing::info!(refund_id = %refund.id, invoice_id = %inv.id, merchant_id = %merchant.id, amount = refund.amount, "refund created");
                            let mut resp = web::raw_json(StatusCode::CREATED, response);
                            if let Ok(v) =
                                http::HeaderValue::from_str(&format!("/v1/refunds/{}", refund.id))
                            {
                                resp.headers_mut().insert(http::header::LOCATION, v);
                            }
                            Ok(resp)
                        }
                        RefundWrite::ExceedsPaid { refunded } => {
                            Err(Problem::of(Code::RefundExceedsPaid)
                                .invoice_id(inv.id.as_str())
                                .detail(format!(
                                    "The customer paid {paid} yen for the bill and {refunded} \
                                     yen of it is refunded already: at most {} yen more.",
                                    (paid - refunded).max(0)
                                )))
                        }
                        RefundWrite::InvoiceChanged => {
                            match self.db.get_merchant_invoice(&merchant.id, id).await? {
                                Some(now_inv) => match refundable(&now_inv, now) {
                                    Err(w) => Err(not_refundable(&now_inv, w, now)),
                                    Ok(_) => Err(Problem::of(Code::InvoiceChanged).detail(
                                        "Read the bill again and send the refund with a new \
                                         Idempotency-Key.",
                                    )),
                                },
                                None => Err(Problem::of(Code::InvoiceNotFound)),
                            }
                        }
                    }
                },
            )
            .await
    }

    pub(crate) async fn list_refunds(
        &self,
        req: &Request,
        id: &str,
    ) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let inv = self.invoice_of(&merchant, id).await?;
        let refunds = self.db.list_refunds(inv.id.as_str()).await?;
        Ok(web::json(
            StatusCode::OK,
            &RefundListAnswer {
                refunds: refunds
                    .iter()
                    .filter(|r| r.merchant_id == merchant.id)
                    .map(Refund::view)
                    .collect(),
            },
        ))
    }

    async fn refund_of(&self, merchant_id: &str, id: &str) -> Result<Refund, Problem> {
        self.db
            .get_refund(merchant_id, id)
            .await?
            .ok_or_else(|| Problem::of(Code::RefundNotFound))
    }

    pub(crate) async fn get_refund(
        &self,
        req: &Request,
        id: &str,
    ) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let refund = self.refund_of(&merchant.id, id).await?;
        Ok(web::json(StatusCode::OK, &refund.view()))
    }

    pub(crate) async fn cancel_refund(
        &self,
        req: &Request,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let keyed = Keyed::of(req)?;
        let refund = self.refund_of(&merchant.id, id).await?;
        let (merchant, refund) = (&merchant, &refund);
        keyed
            .run(
                &self.db,
                &merchant.id,
                now,
                OnFailure::Release,
                |lock| async move {
                    let not_cancellable = |r: &Refund| {
                        Problem::of(Code::RefundNotCancellable)
                            .invoice_id(r.invoice_id.as_str())
                            .detail(format!("The refund is {}.", r.status.as_str()))
                    };
                    if !refund.status.cancellable() {
                        return Err(not_cancellable(refund));
                    }
                    let cancelled = Refund {
                        status: RefundStatus::Cancelled,
                        cancelled_at: Some(now),
                        updated_at: now,
                        ..refund.clone()
                    };
                    let view = cancelled.view();
                    let response = serde_json::to_string(&view).map_err(|e| Problem::internal(&e))?;
                    let event = Event::new(
                        &merchant.id,
                        EventType::RefundCancelled,
                        Some(refund.invoice_id.as_str()),
                        json!({"refund": view}),
                        now,
                    );
                    if self
                        .db
                        .cancel_refund(refund, &event, &lock, 200, &response, now)
                        .await?
                    {
                        tracing::info!(refund_id = %refund.id, merchant_id = %merchant.id, "refund cancelled");
                        return Ok(web::raw_json(StatusCode::OK, response));
                    }
                    let again = self.refund_of(&merchant.id, id).await?;
                    Err(not_cancellable(&again))
                },
            )
            .await
    }
}
