//! `POST /v1/invoices`: registration on a card number, or with a sheet issued for the purchase.

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use smartpit_shared::auth::{self, Merchant};
use smartpit_shared::clock::deadline_epoch;
use smartpit_shared::db::{Lock, NumberRecord, RegisterOutcome, SheetLink};
use smartpit_shared::http::{self as web};
use smartpit_shared::idempotent::{Keyed, OnFailure};
use smartpit_shared::ids::new_secret;
use smartpit_shared::notice::{Notice, NoticeKind};
use smartpit_shared::request;
use smartpit_shared::Code;
use smartpit_shared::{Invoice, InvoiceId, InvoiceStatus, NumberKind, Problem, SmartPitNumber};

use crate::requests::{self, NewInvoice};
use crate::InvoicesFunction;

/// Draws of a sheet number before giving up (a collision in 10^10 is rare).
const MAX_SHEET_NUMBER_DRAWS: usize = 4;

impl InvoicesFunction {
    pub(crate) async fn register(
        &self,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let keyed = Keyed::of(req)?;
        let body = request::json(req, now)?;
        self.register_as(&merchant, &keyed, body, now).await
    }

    /// A registration for this merchant under this key, its body as the API reads it (the
    /// console's form comes here too: the same rules, errors and events).
    pub async fn register_as(
        &self,
        merchant: &Merchant,
        keyed: &Keyed,
        body: requests::RegisterInvoice,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let body = request::checked(body, now)?;
        let mut new = requests::new_invoice(body)?;
        if let Some(r) = &new.customer_ref {
            new.number = Some(self.joint_card_of(merchant, r).await?);
        }
        let wants_mail = new.customer.email.is_some() || new.customer.mobile_email.is_some();
        match new.number {
            // Found by its reference: the merchant's own joint card, usable as such.
            Some(_) if new.customer_ref.is_some() => {}
            Some(n) => {
                let kind = self.check_number_usable(merchant, n, now).await?;
                if new.repeat.is_some() && kind == NumberKind::Sheet {
                    return Err(Problem::field(
                        "repeat",
                        Code::RepeatNotSupported,
                        "a sheet number serves one purchase: register a repeat bill on the \
                         customer's card or joint card",
                    ));
                }
            }
            None if wants_mail => {}
            None => {
                return Err(Problem::field(
                    "smartpit_number",
                    Code::SmartpitNumberRequired,
                    "is required unless customer.email or customer.mobile_email is given, to \
                     receive a sheet",
                ))
            }
        }

        let new = &new;
        keyed
            .run(
                &self.db,
                &merchant.id,
                now,
                OnFailure::Release,
                |lock| async move { self.commit(merchant, new, &lock, now).await },
            )
            .await
    }

    /// Writes the registration in one transaction, drawing another sheet number on the rare
    /// collision. On error nothing was written and the caller releases the key.
    async fn commit(
        &self,
        merchant: &Merchant,
        new: &NewInvoice,
        lock: &Lock,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        for _ in 0..MAX_SHEET_NUMBER_DRAWS {
            let (invoice, extra) = self.draft(merchant, new, now)?;
            let body = invoice.merchant_view(now).to_string();
            let outcome = self
                .db
                .register_invoice(&invoice, lock, StatusCode::CREATED.as_u16(), &body, extra)
                .await?;
            match outcome {
                RegisterOutcome::Registered => {
                    tracing::info!(invoice_id = %invoice.id, merchant_id = %merchant.id, amount = invoice.amount, sheet = invoice.sheet_url.is_some(), "invoice registered");
                    let mut resp = web::raw_json(StatusCode::CREATED, body);
                    if let Ok(v) = HeaderValue::from_str(&format!("/v1/invoices/{}", invoice.id)) {
                        resp.headers_mut().insert(http::header::LOCATION, v);
                    }
                    return Ok(resp);
                }
                RegisterOutcome::ExtraConflict(_) if new.number.is_none() => continue,
                RegisterOutcome::ExtraConflict(_) => {
                    return Err(Problem::internal(&"registration conflicted"))
                }
                RegisterOutcome::DuplicateOrder {
                    existing_invoice_id,
                } => {
                    let p = Problem::of(Code::DuplicateOrderId);
                    return Err(match existing_invoice_id {
                        Some(id) => p.invoice_id(id),
                        None => p,
                    });
                }
            }
        }
        Err(Problem::internal(&"could not draw a free sheet number"))
    }

    /// The invoice and the other items its transaction writes: for a purchase without a number
    /// a fresh sheet number and its link; an outbox record when the customer is to be mailed
    /// (a sheet goes to every address given; a card holder, who has the number already, gets
    /// only the mobile registration notice).
    fn draft(
        &self,
        merchant: &Merchant,
        new: &NewInvoice,
        now: DateTime<Utc>,
    ) -> Result<(Invoice, Vec<TransactWriteItem>), Problem> {
        let deadline = deadline_epoch(new.due_date);
        let number = new
            .number
            .unwrap_or_else(|| SmartPitNumber::random(NumberKind::Sheet, &mut rand::rng()));
        let id = InvoiceId::new(number);
        let mut extra = Vec::new();
        let mut sheet_url = None;
        let mut sheet_token = None;
        if new.number.is_none() {
            let token = new_secret("sht");
            let link = SheetLink::new(&token, id.as_str(), deadline);
            sheet_url = Some(link.url(&self.db.res.public_base_url));
            let rec = NumberRecord {
                merchant_id: Some(merchant.id.clone()),
                expires_at: Some(deadline),
                ..NumberRecord::new(number, NumberKind::Sheet, now)
            };
            extra.push(self.db.number_put(&rec)?);
            extra.push(self.db.sheet_link_put(&link, now)?);
            sheet_token = Some(token);
        }
        if sheet_token.is_some() || new.customer.mobile_email.is_some() {
            extra.push(
                self.db
                    .outbox_put(id.as_str(), sheet_token.as_deref(), now)?,
            );
        }
        let invoice = Invoice {
            id,
            merchant_id: merchant.id.clone(),
            merchant_name: merchant.name.clone(),
            merchant_order_id: new.merchant_order_id.clone(),
            amount: new.amount,
            customer_fee: new.customer_fee,
            due_date: new.due_date,
            deadline,
            description: new.description.clone(),
            store_description: new.store_description.clone(),
            stored_status: InvoiceStatus::Registered,
            customer: new.customer.clone(),
            created_at: now,
            updated_at: now,
            payment_id: None,
            paid_at: None,
            store_chain: None,
            store_code: None,
            store_transaction_id: None,
            payments: Vec::new(),
            cancelled_at: None,
            settled_at: None,
            hold: None,
            version: 1,
            moved_to: None,
            moved_from: None,
            refunded: 0,
            repeat: new.repeat,
            occurrences: 0,
            sheet_url,
            notices: queued_notices(new, sheet_token.is_some(), now),
        };
        // A customer with an address may be reminded before the due date.
        if invoice.customer.email.is_some() || invoice.customer.mobile_email.is_some() {
            extra.push(self.db.reminder_entry_put(&invoice)?);
            extra.push(self.db.erasure_entry_put(&invoice)?);
        }
        Ok((invoice, extra))
    }

    /// The merchant's own joint card issued for its customer reference (the newest, after a
    /// lost card was replaced). Another merchant's references are never searched.
    async fn joint_card_of(
        &self,
        merchant: &Merchant,
        customer_ref: &str,
    ) -> Result<SmartPitNumber, Problem> {
        self.db
            .joint_card_by_ref(&merchant.id, customer_ref)
            .await?
            .map(|rec| rec.number)
            .ok_or_else(|| {
                Problem::of(Code::CustomerRefNotFound)
                .detail("Issue a joint card for the customer (POST /v1/joint-cards) or register with the card's number.")
                .customer_ref(customer_ref.to_string())
            })
    }

    /// The number must have been issued, as a card, joint card or web sheet: any merchant may
    /// bill a card (a joint card is a Smart Pit card too: usable at every merchant, by its
    /// number) and a web sheet until it expires. Returns its kind.
    pub(crate) async fn check_number_usable(
        &self,
        merchant: &Merchant,
        number: smartpit_shared::SmartPitNumber,
        now: DateTime<Utc>,
    ) -> Result<NumberKind, Problem> {
        let unusable = |code: Code| Problem::of(code).smartpit_number(number.to_string());
        let who = format!("merchant#{}", merchant.id);
        if let Some(until) = smartpit_shared::guessing::refused_until(&who, now) {
            return Err(guessing_refused(until, now));
        }
        let Some(rec) = self.db.get_number(number).await? else {
            // Probing numbers costs a merchant its registrations on unknown numbers for the
            // minute once past the limit.
            if self.db.count_miss(&who, now).await? > self.miss_limit {
                let until = smartpit_shared::guessing::refuse(&who, now);
                return Err(guessing_refused(until, now));
            }
            return Err(unusable(Code::NumberNotFound).detail(
                "No Smart Pit number like this has been issued: check the number with the customer.",
            ));
        };
        // A sheet from the web site (no merchant) is the customer's own, like a card, until
        // it expires (FAQ Q07): any merchant may bill it.
        if rec.kind == NumberKind::Sheet && rec.merchant_id.is_none() {
            if rec.expires_at.is_some_and(|e| now.timestamp() > e) {
                return Err(unusable(Code::NumberExpired).detail(
                    "A number from the web site is valid for 60 days: the customer can get a new one there.",
                ));
            }
            return Ok(rec.kind);
        }
        // A sheet a merchant's registration issued belongs to the one purchase it was issued
        // for; the next purchase gets its own.
        if rec.kind == NumberKind::Sheet {
            let mut p = unusable(Code::NumberNotUsable).detail(
                "A sheet number serves only the purchase it was issued for: register without a \
                 number to issue a new sheet.",
            );
            if rec.merchant_id.as_deref() == Some(merchant.id.as_str())
                && rec.expires_at.is_some_and(|e| now.timestamp() > e)
            {
                p.code = Code::NumberExpired;
            }
            return Err(p);
        }
        Ok(rec.kind)
    }
}

/// What the outbox record owes the customer, as the merchant first sees it: a sheet customer
/// gets the PDF and the sheet mail at the PC address; any mobile address gets the registration
/// notice.
fn queued_notices(new: &NewInvoice, sheet: bool, now: DateTime<Utc>) -> Vec<Notice> {
    let mut out = Vec::new();
    if sheet {
        out.push(Notice::queued(NoticeKind::Sheet, None, now));
        if let Some(to) = &new.customer.email {
            out.push(Notice::queued(NoticeKind::SheetMail, Some(to), now));
        }
    }
    if let Some(to) = &new.customer.mobile_email {
        out.push(Notice::queued(NoticeKind::MobileMail, Some(to), now));
    }
    out
}

fn guessing_refused(until: i64, now: DateTime<Utc>) -> Problem {
    let wait = (until - now.timestamp()).max(1);
    Problem::of(Code::TooManyFailedLookups).detail(format!(
        "Too many registrations on numbers that were never issued. Retry after {wait} s; check \
         the numbers with the customers."
    ))
}
