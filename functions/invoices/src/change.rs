//! `PATCH /v1/invoices/{id}` (new terms: `amount`, `due_date`, `description`,
//! `store_description`, `customer_fee`)
//! and `POST /v1/invoices/{id}/move` (`smartpit_number`: a lost card's bill goes to the new
//! card), both under an `Idempotency-Key`, both emitting `invoice.updated`. A bill can change
//! while it is registered, before its deadline and not held by a kiosk slip.

use chrono::{DateTime, Duration, Utc};
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use smartpit_shared::auth::{self, Merchant};
use smartpit_shared::clock::{
    check_day_ahead, deadline_epoch, jst_date, Day, MAX_DUE_DAYS_AFTER_REGISTRATION,
};
use smartpit_shared::db::Lock;
use smartpit_shared::http::{self as web};
use smartpit_shared::idempotent::{Keyed, OnFailure};
use smartpit_shared::invoice::{Repeat, MAX_REPEAT_DAYS};
use smartpit_shared::money::check_total;
use smartpit_shared::notice::{Notice, NoticeKind};
use smartpit_shared::request::{self, Patch, Report, Whole};
use smartpit_shared::Code;
use smartpit_shared::{Invoice, InvoiceId, InvoiceStatus, NumberKind, Problem};

use crate::requests::{ChangeInvoice, MoveInvoice};
use crate::InvoicesFunction;

fn not_changeable(inv: &Invoice, now: DateTime<Utc>) -> Option<Problem> {
    if let Some(h) = inv.held_at(now) {
        return Some(
            Problem::of(Code::PaymentInProgress)
                .invoice_id(inv.id.as_str())
                .held_until(
                    DateTime::from_timestamp(h.until, 0)
                        .map(smartpit_shared::invoice::jst_timestamp),
                ),
        );
    }
    let status = inv.status_at(now);
    (status != InvoiceStatus::Registered).then(|| {
        Problem::of(Code::InvoiceNotChangeable)
            .detail(format!("The invoice is {}.", status.as_str()))
            .invoice_id(inv.id.as_str())
            .invoice_status(status.as_str())
    })
}

/// The bill with the new terms (`ChangeInvoice::check` has checked each on its own): the amount
/// and fee together within what a store collects, the due date from today to 59 days after the
/// day the bill was registered.
fn changes(body: ChangeInvoice, inv: &Invoice, now: DateTime<Utc>) -> Result<Invoice, Problem> {
    let mut r = Report::default();
    let mut next = inv.clone();
    if let Some(c) = &body.customer {
        for (p, slot) in [
            (&c.email, &mut next.customer.email),
            (&c.mobile_email, &mut next.customer.mobile_email),
        ] {
            match p {
                Patch::Value(v) => *slot = Some(v.clone()),
                Patch::Null => *slot = None,
                Patch::Absent => {}
            }
        }
    }
    let terms_change = body.changes_terms();
    if let Patch::Value(Whole(a)) = body.amount {
        next.amount = a;
    }
    if let Patch::Value(Whole(f)) = body.customer_fee {
        next.customer_fee = f;
    }
    if !body.amount.is_absent() || !body.customer_fee.is_absent() {
        if let Err(m) = check_total(next.amount, next.customer_fee) {
            r.push("amount", Code::InvalidAmount, m);
        }
    }
    if let Patch::Value(Day(d)) = body.due_date {
        // A repeat bill's due date is its until: up to 365 days after registration.
        let days = match inv.repeat {
            Some(_) => MAX_REPEAT_DAYS,
            None => MAX_DUE_DAYS_AFTER_REGISTRATION,
        };
        let last = jst_date(inv.created_at) + Duration::days(days);
        match check_day_ahead(d, now, days) {
            Err(m) => r.push("due_date", Code::InvalidDueDate, m),
            Ok(()) if d > last => r.push(
                "due_date",
                Code::InvalidDueDate,
                format!("must be at most {last} ({days} days after the registration day, JST)"),
            ),
            Ok(()) => {
                next.due_date = d;
                next.deadline = deadline_epoch(d);
            }
        }
    }
    match body.description {
        Patch::Value(d) => next.description = Some(d),
        Patch::Null => next.description = None,
        Patch::Absent => {}
    }
    match body.store_description {
        Patch::Value(d) => next.store_description = Some(d),
        Patch::Null => next.store_description = None,
        Patch::Absent => {}
    }
    r.finish()?;
    if terms_change {
        next.version = inv.version + 1;
    }
    next.updated_at = now;
    Ok(next)
}

/// The terms an `invoice.updated` event shows as they were.
fn terms(inv: &Invoice) -> Value {
    json!({
        "smartpit_number": inv.number().to_string(),
        "amount": inv.amount,
        "customer_fee": inv.customer_fee,
        "due_date": inv.due_date.to_string(),
        "description": inv.description,
        "store_description": inv.store_description,
        "version": inv.version,
    })
}

impl InvoicesFunction {
    /// The caller, its Idempotency-Key and the body read and checked (before any bill is read:
    /// bad input is refused as bad input).
    async fn begin<T: request::Checked>(
        &self,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<(Merchant, Keyed, T), Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let keyed = Keyed::of(req)?;
        let body = request::json(req, now)?;
        Ok((merchant, keyed, body))
    }

    /// Runs `write` (one transaction with the answer stored under the key) on a bill that may
    /// still change, under the request's key: a replay answers as the first request did; a bill
    /// that may no longer change, or changed meanwhile (`write` gives `false`), is refused and
    /// the key given back.
    pub(crate) async fn change_under_key<F, Fut>(
        &self,
        keyed: &Keyed,
        merchant: &Merchant,
        inv: &Invoice,
        now: DateTime<Utc>,
        write: F,
    ) -> Result<Response<Body>, Problem>
    where
        F: FnOnce(Lock) -> Fut,
        Fut: std::future::Future<Output = Result<(bool, Response<Body>), Problem>>,
    {
        keyed
            .run(
                &self.db,
                &merchant.id,
                now,
                OnFailure::Release,
                |lock| async move {
                    if let Some(p) = not_changeable(inv, now) {
                        return Err(p);
                    }
                    match write(lock).await? {
                        (true, answer) => Ok(answer),
                        (false, _) => Err(self.lost_race(merchant, inv.id.as_str(), now).await),
                    }
                },
            )
            .await
    }

    /// After a lost race: what the bill is now.
    async fn lost_race(&self, merchant: &Merchant, id: &str, now: DateTime<Utc>) -> Problem {
        match self.db.get_merchant_invoice(&merchant.id, id).await {
            Ok(Some(inv)) => not_changeable(&inv, now).unwrap_or_else(|| {
                Problem::of(Code::InvoiceChanged)
                    .detail("Read it again and send the change with a new Idempotency-Key.")
            }),
            Ok(None) => Problem::of(Code::InvoiceNotFound),
            Err(e) => e.into(),
        }
    }

    pub(crate) async fn change(
        &self,
        req: &Request,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let (merchant, keyed, body) = self.begin::<ChangeInvoice>(req, now).await?;
        self.change_as(&merchant, &keyed, body, id, now).await
    }

    /// The change for this merchant under this key (the console's form comes here too).
    pub async fn change_as(
        &self,
        merchant: &Merchant,
        keyed: &Keyed,
        body: ChangeInvoice,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let (merchant, keyed) = (merchant.clone(), keyed.clone());
        let inv = self.invoice_of(&merchant, id).await?;
        if !body.changes_terms() {
            let next = changes(body, &inv, now)?;
            return self
                .change_addresses(&merchant, &keyed, &inv, next, now)
                .await;
        }
        let mut next = changes(body, &inv, now)?;
        // A sheet customer gets the new sheet (its barcode's reissue digit one higher) and mail.
        let token = inv
            .sheet_url
            .as_deref()
            .and_then(|u| u.rsplit('/').next())
            .map(str::to_string);
        if token.is_some() {
            let mut notices = vec![Notice::queued(NoticeKind::Sheet, None, now)];
            if let Some(to) = &next.customer.email {
                notices.push(Notice::queued(NoticeKind::SheetMail, Some(to), now));
            }
            if let Some(to) = &next.customer.mobile_email {
                notices.push(Notice::queued(NoticeKind::MobileMail, Some(to), now));
            }
            next.notices = notices;
        }
        let view = next.merchant_view(now);
        let response = view.to_string();
        let event = json!({"invoice": view, "previous": terms(&inv)});
        let version = next.version;
        let inv = &inv;
        let answer = self
            .change_under_key(&keyed, &merchant, inv, now, |lock| async move {
                let applied = self
                    .db
                    .change_invoice(
                        inv,
                        &next,
                        event,
                        token.as_deref(),
                        &lock,
                        200,
                        &response,
                        now,
                    )
                    .await?;
                Ok((applied, web::raw_json(StatusCode::OK, response)))
            })
            .await?;
        tracing::info!(invoice_id = %inv.id, merchant_id = %merchant.id, version, "invoice changed");
        Ok(answer)
    }

    /// A change of the customer's addresses only: the bill keeps its version and sheet; each
    /// changed address gets the bill's registration mail (a sheet's mail to the PC address, the
    /// registration notice to the mobile one), and mail still to go follows the bill's
    /// addresses, so the old ones get nothing more.
    async fn change_addresses(
        &self,
        merchant: &Merchant,
        keyed: &Keyed,
        inv: &Invoice,
        mut next: Invoice,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let token = inv
            .sheet_url
            .as_deref()
            .and_then(|u| u.rsplit('/').next())
            .map(str::to_string);
        let email = (next.customer.email != inv.customer.email)
            .then_some(next.customer.email.as_deref())
            .flatten()
            .filter(|_| token.is_some());
        let mobile = (next.customer.mobile_email != inv.customer.mobile_email)
            .then_some(next.customer.mobile_email.as_deref())
            .flatten();
        let mut queued = Vec::new();
        if let Some(to) = email {
            queued.push(Notice::queued(NoticeKind::SheetMail, Some(to), now));
        }
        if let Some(to) = mobile {
            queued.push(Notice::queued(NoticeKind::MobileMail, Some(to), now));
        }
        for n in &queued {
            next.notices.retain(|m| m.kind != n.kind);
            next.notices.push(n.clone());
        }
        next.notices.sort_by_key(|n| n.kind);
        let view = next.merchant_view(now);
        let response = view.to_string();
        let event = json!({"invoice": view, "previous": terms(inv), "customer_changed": true});
        let mail = smartpit_shared::db::AddressMail {
            sheet_token: token.as_deref(),
            email: email.is_some(),
            mobile: mobile.is_some(),
        };
        let next = &next;
        let answer = self
            .change_under_key(keyed, merchant, inv, now, |lock| async move {
                let applied = self
                    .db
                    .change_addresses(inv, next, event, mail, &lock, 200, &response, now)
                    .await?;
                Ok((applied, web::raw_json(StatusCode::OK, response)))
            })
            .await?;
        tracing::info!(invoice_id = %inv.id, merchant_id = %merchant.id, "customer addresses changed");
        Ok(answer)
    }

    pub(crate) async fn move_to(
        &self,
        req: &Request,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let (merchant, keyed, body) = self.begin::<MoveInvoice>(req, now).await?;
        self.move_as(&merchant, &keyed, body, id, now).await
    }

    /// The move for this merchant under this key (the console's form comes here too).
    pub async fn move_as(
        &self,
        merchant: &Merchant,
        keyed: &Keyed,
        body: MoveInvoice,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let (merchant, keyed) = (merchant.clone(), keyed.clone());
        let inv = self.invoice_of(&merchant, id).await?;
        let Some(number) = body.smartpit_number else {
            return Err(Problem::internal(&"a checked move without its number"));
        };
        if number == inv.number() {
            return Err(Problem::of(Code::SameNumber));
        }
        // The new number must be a card (sheets serve only their own purchase), checked before
        // the key is claimed.
        let kind = self.check_number_usable(&merchant, number, now).await?;
        if inv.repeat.is_some() && kind == NumberKind::Sheet {
            return Err(Problem::field(
                "smartpit_number",
                Code::RepeatNotSupported,
                "a repeat bill moves to a card or joint card, not a sheet number",
            ));
        }
        // A repeat bill goes on where it stands: the payments it took stay on this bill and
        // count against its max_payments.
        let moved = Invoice {
            repeat: inv.repeat.map(|r| Repeat {
                max_payments: r.max_payments.map(|m| (m - inv.occurrences).max(1)),
            }),
            occurrences: 0,
            id: InvoiceId::new(number),
            created_at: now,
            updated_at: now,
            version: 1,
            moved_from: Some(inv.id.to_string()),
            refunded: 0,
            moved_to: None,
            payments: Vec::new(),
            notices: Vec::new(),
            sheet_url: None,
            hold: None,
            ..inv.clone()
        };
        let view = moved.merchant_view(now);
        let response = view.to_string();
        let event =
            json!({"invoice": view, "previous": terms(&inv), "moved_from": inv.id.as_str()});
        let mut answer = web::raw_json(StatusCode::CREATED, response.clone());
        if let Ok(v) = HeaderValue::from_str(&format!("/v1/invoices/{}", moved.id)) {
            answer.headers_mut().insert(http::header::LOCATION, v);
        }
        let moved_to = moved.id.to_string();
        let inv = &inv;
        let answer = self
            .change_under_key(&keyed, &merchant, inv, now, |lock| async move {
                let applied = self
                    .db
                    .move_invoice(inv, &moved, event, &lock, 201, &response, now)
                    .await?;
                Ok((applied, answer))
            })
            .await?;
        tracing::info!(invoice_id = %inv.id, moved_to = %moved_to, merchant_id = %merchant.id, "invoice moved");
        Ok(answer)
    }
}
