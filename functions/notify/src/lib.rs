//! The notifier: consumes the outbox table's stream as Lambda delivers it (DynamoDB stream
//! batches, partial batch failure reporting). For each record it stores the sheet PDF (if the
//! invoice has one) and sends the customer's mails. Each step's outcome is recorded on the
//! outbox record and, as a notice, on the invoice (one transaction), before the batch is
//! acknowledged, so a retried record skips what was done and the merchant sees where it stands.
//!
//! One failure never holds back the others:
//! - a permanent failure (SES refuses the address, the sheet cannot be made) is recorded as
//!   `failed` on its notice and the record counts as delivered;
//! - a bill that is no longer payable (cancelled, expired, paid) gets no mail: `skipped`;
//! - a passing failure (throttling, time-out, an unverified sender) is retried; after
//!   `park_after_attempts` tries over at least `park_after_seconds` the record is parked: sent
//!   to the failure queue with its outbox id, its queued notices read `failed`, and the stream
//!   moves on. `smartpit redeliver` puts parked records back.
//!
//! The one window left: SES accepted a mail and the process died before recording it. SES has
//! no idempotency key, so that retry sends the mail again.

pub mod failure;
pub mod mail;
pub mod mail_events;
pub mod stream;

use std::collections::BTreeMap;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use smartpit_shared::config::{OnFirstUse, Resources};
use smartpit_shared::db::{OutboxRecord, Step};
use smartpit_shared::merchant_contact::MerchantContact;
use smartpit_shared::notice::{NoticeKind, NoticeStatus};
use smartpit_shared::sheet::payment_code::{company_code, PaymentCode};
use smartpit_shared::sheet::{pdf, SheetContent};
use smartpit_shared::timeouts::{BACKGROUND_DYNAMODB, MAIL_SEND, QUEUE_SEND, SHEET_UPLOAD};
use smartpit_shared::{Db, Invoice, InvoiceId, InvoiceStatus};

use failure::Failure;

/// How the notifier gives up on a record that keeps failing for a passing reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The failure queue (`FAILURES_QUEUE_URL`): parked records go there.
    pub failures_queue_url: Option<String>,
    /// The SES configuration set mail goes through (`MAIL_CONFIGURATION_SET`; empty: none):
    /// its event destination reports bounces and complaints to `mail-events`.
    pub configuration_set: Option<String>,
    /// Park after this many failed tries (`NOTIFY_PARK_AFTER_ATTEMPTS`)...
    pub park_after_attempts: i64,
    /// ...of which the first is at least this old (`NOTIFY_PARK_AFTER_SECONDS`), so a short
    /// outage is ridden out by retries and never needs an operator.
    pub park_after_seconds: i64,
}

impl Settings {
    /// From a function environment (Lambda's, or the local stack's from the template).
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Self {
        let num =
            |k: &str, default: i64| vars.get(k).and_then(|v| v.parse().ok()).unwrap_or(default);
        Settings {
            failures_queue_url: vars.get("FAILURES_QUEUE_URL").cloned(),
            configuration_set: vars
                .get("MAIL_CONFIGURATION_SET")
                .filter(|s| !s.is_empty())
                .cloned(),
            park_after_attempts: num("NOTIFY_PARK_AFTER_ATTEMPTS", 8),
            park_after_seconds: num("NOTIFY_PARK_AFTER_SECONDS", 300),
        }
    }

    pub fn from_env() -> Self {
        Self::from_vars(&std::env::vars().collect())
    }
}

/// The clients of S3, SES and SQS are built when a record first needs them (start-up builds
/// only DynamoDB's): issue 12's start-up target.
pub struct NotifyFunction {
    db: Db,
    s3: OnFirstUse<aws_sdk_s3::Client>,
    ses: OnFirstUse<aws_sdk_sesv2::Client>,
    sqs: OnFirstUse<aws_sdk_sqs::Client>,
    settings: Settings,
}

/// What a record's steps are run for: its bill, the merchant's contact, the payment a
/// confirmation is of, and why all are skipped (if they are).
struct Steps<'a> {
    rec: &'a OutboxRecord,
    invoice: &'a Invoice,
    contact: &'a MerchantContact,
    payment_id: Option<&'a str>,
    skipped: Option<&'static str>,
}

/// The mails of a record: which address, which step records it, how it is written.
type Compose = fn(&str, &Invoice, Option<&str>, &MerchantContact) -> mail::Mail;

impl NotifyFunction {
    pub fn new(sdk: &aws_config::SdkConfig, res: Resources, settings: Settings) -> Self {
        let (for_s3, for_ses, for_sqs) = (sdk.clone(), sdk.clone(), sdk.clone());
        NotifyFunction {
            db: Db::with_profile(sdk, res, BACKGROUND_DYNAMODB),
            s3: OnFirstUse::new(move || {
                let conf = aws_sdk_s3::config::Builder::from(&for_s3)
                    .force_path_style(true)
                    .timeout_config(SHEET_UPLOAD.timeouts())
                    .retry_config(SHEET_UPLOAD.retries())
                    .interceptor(smartpit_shared::calls::CountCalls)
                    .build();
                aws_sdk_s3::Client::from_conf(conf)
            }),
            ses: OnFirstUse::new(move || {
                let conf = aws_sdk_sesv2::config::Builder::from(&for_ses)
                    .timeout_config(MAIL_SEND.timeouts())
                    .retry_config(MAIL_SEND.retries())
                    .interceptor(smartpit_shared::calls::CountCalls)
                    .build();
                aws_sdk_sesv2::Client::from_conf(conf)
            }),
            sqs: OnFirstUse::new(move || {
                let conf = aws_sdk_sqs::config::Builder::from(&for_sqs)
                    .timeout_config(QUEUE_SEND.timeouts())
                    .retry_config(QUEUE_SEND.retries())
                    .build();
                aws_sdk_sqs::Client::from_conf(conf)
            }),
            settings,
        }
    }

    /// A DynamoDB stream event in (as JSON: the local stack and the tests), `{"batchItemFailures":
    /// [...]}` out; read through the event's own type, as on Lambda (`main.rs`).
    pub async fn handle(&self, event: Value) -> Value {
        self.handle_at(event, Utc::now).await
    }

    /// As `handle`, with the clock given (tests move it instead of sleeping).
    pub async fn handle_at(&self, event: Value, clock: impl Fn() -> DateTime<Utc>) -> Value {
        let answer = match stream::parse(event) {
            Ok(event) => self.handle_stream(&event, clock).await,
            Err((why, answer)) => {
                tracing::error!(error = %why, "not a DynamoDB stream event; the batch is retried");
                answer
            }
        };
        serde_json::to_value(answer).unwrap_or_else(|_| json!({"batchItemFailures": []}))
    }

    /// A stream batch: each new outbox record delivered in order. Records after the first
    /// failure are reported too, so they are retried in order.
    pub async fn handle_stream(
        &self,
        event: &StreamEvent,
        clock: impl Fn() -> DateTime<Utc>,
    ) -> DynamoDbEventResponse {
        let mut failures = Vec::new();
        for record in &event.records {
            if !failures.is_empty() {
                failures.push(stream::failed(record));
                continue;
            }
            let Some(id) = stream::new_outbox_id(record) else {
                continue;
            };
            let failed = match self.deliver(&id, clock()).await {
                Ok(()) => continue,
                Err(reason) => reason,
            };
            tracing::warn!(outbox_id = %id, reason = %failed, "delivery failed");
            match self.count_or_park(&id, &failed, clock()).await {
                Ok(true) => tracing::error!(outbox_id = %id, "delivery parked for an operator"),
                Ok(false) => failures.push(stream::failed(record)),
                Err(p) => {
                    tracing::warn!(outbox_id = %id, problem = %p, "could not count or park a failure");
                    failures.push(stream::failed(record));
                }
            }
        }
        stream::answer(failures)
    }

    /// Everything one outbox record asks for, skipping the steps that have an outcome.
    /// `Err` only for a passing failure: the record is to be retried.
    pub async fn deliver(&self, outbox_id: &str, now: DateTime<Utc>) -> Result<(), String> {
        let Some(rec) = self.db.get_outbox(outbox_id).await.map_err(passing)? else {
            return Ok(()); // expired by TTL: nothing left to do
        };
        if rec.parked() {
            return Ok(());
        }
        let Some(id) = InvoiceId::parse(&rec.invoice_id) else {
            tracing::error!(outbox_id = %outbox_id, "outbox names a malformed invoice id; dropped");
            return Ok(());
        };
        let Some(invoice) = self.db.get_invoice(&id).await.map_err(passing)? else {
            tracing::error!(outbox_id = %outbox_id, "outbox names an unknown invoice; dropped");
            return Ok(());
        };
        // How the customer reaches the merchant, in every mail (and on the sheet).
        let contact = self
            .db
            .merchant_contact(&invoice.merchant_id)
            .await
            .map_err(passing)?;
        if let Some(request) = &rec.refund {
            return self
                .ask_for_account(&rec, &invoice, request, &contact, now)
                .await;
        }
        if let Some(payment_id) = &rec.payment_id {
            return self
                .confirm_payment(&rec, &invoice, payment_id, &contact, now)
                .await;
        }
        if rec.reminder.is_some() {
            return self.remind(&rec, &invoice, &contact, now).await;
        }
        let steps = self.steps(&rec, &invoice);
        // A bill that can no longer be paid gets no "please pay" mail.
        let skipped = (!invoice.is_payable_at(now)).then(|| match invoice.status_at(now) {
            InvoiceStatus::Cancelled => "the invoice was cancelled before this notice went out",
            InvoiceStatus::Paid => "the invoice was paid before this notice went out",
            _ => "the invoice expired before this notice went out",
        });
        let run = Steps {
            rec: &rec,
            invoice: &invoice,
            contact: &contact,
            payment_id: None,
            skipped,
        };
        self.run_steps(&run, steps, now).await
    }

    /// A record's steps in order, each outcome recorded: all `skipped` with `run.skipped`'s
    /// reason; otherwise the PDF stored (the sheet, or a payment's confirmation) or the mail
    /// sent, a permanent failure recorded as `failed`, a passing one returned to retry.
    async fn run_steps(
        &self,
        run: &Steps<'_>,
        steps: Vec<(Step, Option<String>, Option<Compose>)>,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let (rec, invoice) = (run.rec, run.invoice);
        if let Some(why) = run.skipped {
            for (step, _, _) in steps {
                let s = NoticeStatus::Skipped;
                self.record(rec, invoice, step, s, "skipped", Some(why), now)
                    .await
                    .map_err(passing)?;
            }
            return Ok(());
        }
        for (step, to, compose) in steps {
            let outcome = match (step, to, compose, run.payment_id) {
                (Step::SheetStored, ..) => self.store_sheet(rec, invoice, run.contact, now).await,
                (Step::ConfirmationStored, _, _, Some(payment_id)) => {
                    self.store_confirmation(invoice, payment_id, now).await
                }
                (_, Some(to), Some(compose), _) => {
                    let link = invoice.sheet_url.as_deref();
                    let mail = compose(&to, invoice, link, run.contact);
                    self.send(&mail, invoice.id.as_str(), step.notice()).await
                }
                _ => continue,
            };
            if let Err(Failure::Permanent(_)) = &outcome {
                tracing::warn!(outbox_id = %rec.id, notice = step.notice().as_str(), "notice failed for good; not retried");
            }
            let (status, value, reason) =
                outcome.map_or_else(outcome_of_failure, |v| Ok((NoticeStatus::Sent, v, None)))?;
            self.record(rec, invoice, step, status, &value, reason.as_deref(), now)
                .await
                .map_err(passing)?;
        }
        Ok(())
    }

    /// 「返金手続きのお願い」: a refund's page to the bill's address (PC, else mobile), once;
    /// unless the refund no longer waits for an account (given, cancelled): then skipped.
    async fn ask_for_account(
        &self,
        rec: &OutboxRecord,
        invoice: &Invoice,
        request: &smartpit_shared::db::RefundRequest,
        contact: &MerchantContact,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let step = Step::RefundMailSent;
        if rec.done(step) {
            return Ok(());
        }
        let to = invoice
            .customer
            .email
            .as_ref()
            .or(invoice.customer.mobile_email.as_ref());
        let waiting = self
            .db
            .refund_in(invoice.id.as_str(), &request.refund_id)
            .await
            .map_err(passing)?
            .is_some_and(|r| {
                matches!(
                    r.status,
                    smartpit_shared::refund::RefundStatus::AwaitingDetails
                )
            });
        let (status, value, reason) = match to {
            Some(to) if waiting => self
                .send(
                    &mail::refund_request(to, invoice, request, contact),
                    invoice.id.as_str(),
                    NoticeKind::RefundMail,
                )
                .await
                .map_or_else(outcome_of_failure, |id| Ok((NoticeStatus::Sent, id, None)))?,
            _ => (
                NoticeStatus::Skipped,
                "skipped".to_string(),
                Some("the refund no longer waits for the customer's account".to_string()),
            ),
        };
        self.record(rec, invoice, step, status, &value, reason.as_deref(), now)
            .await
            .map_err(passing)
    }

    /// A payment's notices: the confirmation PDF (a sheet bill's), then 「お支払い完了のお知らせ」
    /// to each address on the bill; each once. Skipped, all of them, once the payment no longer
    /// stands on the bill (the store voided it): a void sends nothing further.
    async fn confirm_payment(
        &self,
        rec: &OutboxRecord,
        invoice: &Invoice,
        payment_id: &str,
        contact: &MerchantContact,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let mut steps: Vec<(Step, Option<String>, Option<Compose>)> = Vec::new();
        if invoice.sheet_url.is_some() {
            steps.push((Step::ConfirmationStored, None, None));
        }
        if let Some(to) = &invoice.customer.email {
            steps.push((
                Step::PaidMailSent,
                Some(to.clone()),
                Some(mail::paid_notice),
            ));
        }
        if let Some(to) = &invoice.customer.mobile_email {
            steps.push((
                Step::PaidMobileMailSent,
                Some(to.clone()),
                Some(mail::paid_mobile_notice),
            ));
        }
        steps.retain(|(step, _, _)| !rec.done(*step));
        let stands = invoice.payment_stands(payment_id);
        // The bill as this payment left it (a repeat bill may have been paid again since).
        let as_paid = match invoice.payments.iter().find(|e| e.id == payment_id) {
            Some(e) => Invoice {
                payment_id: Some(e.id.clone()),
                paid_at: Some(e.paid_at),
                store_chain: Some(e.store_chain.clone()),
                store_code: Some(e.store_code.clone()),
                store_transaction_id: Some(e.store_transaction_id.clone()),
                ..invoice.clone()
            },
            None => invoice.clone(),
        };
        let run = Steps {
            rec,
            invoice: &as_paid,
            contact,
            payment_id: Some(payment_id),
            skipped: (!stands).then_some("the payment was voided before this notice went out"),
        };
        self.run_steps(&run, steps, now).await
    }

    /// 「お支払い期限のお知らせ」, once: to the PC address (with the payment page of a sheet
    /// bill), else the mobile one; `skipped` when the bill can no longer be paid (paid,
    /// cancelled, expired, moved) or a kiosk slip holds it.
    async fn remind(
        &self,
        rec: &OutboxRecord,
        invoice: &Invoice,
        contact: &MerchantContact,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let step = Step::ReminderMailSent;
        if rec.done(step) {
            return Ok(());
        }
        let to = match (&invoice.customer.email, &invoice.customer.mobile_email) {
            (Some(pc), _) => Some((pc, false)),
            (None, Some(mobile)) => Some((mobile, true)),
            (None, None) => None,
        };
        let (status, value, reason) = match to {
            Some((to, mobile)) if invoice.is_payable_at(now) => {
                let m = mail::reminder(to, invoice, invoice.sheet_url.as_deref(), contact, mobile);
                self.send(&m, invoice.id.as_str(), NoticeKind::ReminderMail)
                    .await
                    .map_or_else(outcome_of_failure, |id| Ok((NoticeStatus::Sent, id, None)))?
            }
            None => (
                NoticeStatus::Skipped,
                "skipped".to_string(),
                Some("the invoice has no customer address any more".to_string()),
            ),
            Some(_) => (
                NoticeStatus::Skipped,
                "skipped".to_string(),
                Some(format!(
                    "the invoice was {} when the reminder was due",
                    match invoice.held_at(now) {
                        Some(_) => "held by a kiosk slip",
                        None => invoice.status_at(now).as_str(),
                    }
                )),
            ),
        };
        self.record(rec, invoice, step, status, &value, reason.as_deref(), now)
            .await
            .map_err(passing)
    }

    /// Renders the お支払い完了証明 of the payment standing on the bill and puts it at its key
    /// (a retry overwrites the same object). Returns when it was stored.
    async fn store_confirmation(
        &self,
        inv: &Invoice,
        payment_id: &str,
        now: DateTime<Utc>,
    ) -> Result<String, Failure> {
        use smartpit_shared::confirmation::{self, Confirmation};
        let Some(c) = Confirmation::of(inv) else {
            return Err(Failure::Permanent(
                "the bill has no payment to confirm".into(),
            ));
        };
        let issued = smartpit_shared::clock::japanese_date(smartpit_shared::clock::jst_date(now));
        let bytes = confirmation::render(&c, &issued).map_err(|e| {
            Failure::Permanent(format!("the confirmation could not be rendered: {e}"))
        })?;
        let put = self
            .s3
            .get()
            .put_object()
            .bucket(&self.db.res.sheets_bucket)
            .key(confirmation::s3_key(inv.id.as_str(), payment_id))
            .content_type("application/pdf")
            .body(bytes.into())
            .send()
            .await;
        if let Err(e) = put {
            let status = e.raw_response().map(|r| r.status().as_u16());
            return Err(failure::s3(&e, status));
        }
        Ok(smartpit_shared::db::timestamp(now))
    }

    /// The steps of a record that have no outcome yet, in order: the PDF, then the mails.
    fn steps(
        &self,
        rec: &OutboxRecord,
        inv: &Invoice,
    ) -> Vec<(Step, Option<String>, Option<Compose>)> {
        let mut out: Vec<(Step, Option<String>, Option<Compose>)> = Vec::new();
        if rec.sheet_token.is_some() {
            out.push((Step::SheetStored, None, None));
            // The sheet delivery notice goes to the PC address of sheet customers only.
            if let Some(to) = &inv.customer.email {
                out.push((Step::MailSent, Some(to.clone()), Some(mail::sheet_notice)));
            }
        }
        // The mobile registration notice goes to any mobile address.
        if let Some(to) = &inv.customer.mobile_email {
            out.push((
                Step::MobileMailSent,
                Some(to.clone()),
                Some(mail::mobile_notice),
            ));
        }
        out.retain(|(step, _, _)| !rec.done(*step));
        out
    }

    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        rec: &OutboxRecord,
        inv: &Invoice,
        step: Step,
        status: NoticeStatus,
        value: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), smartpit_shared::db::StoreError> {
        let kind: NoticeKind = step.notice();
        let notice = match inv.notice(kind) {
            Some(n) => n.now(status, reason.map(str::to_string), now),
            None => smartpit_shared::notice::Notice {
                status,
                reason: reason.map(str::to_string),
                ..smartpit_shared::notice::Notice::queued(kind, None, now)
            },
        };
        self.db
            .record_notice(&rec.id, step, value, inv, &notice, now)
            .await?;
        Ok(())
    }

    /// Renders the sheet and puts it at the link's S3 key (a retry overwrites the same object,
    /// never adds one), then marks the link stored. Returns when it was stored.
    async fn store_sheet(
        &self,
        rec: &OutboxRecord,
        inv: &Invoice,
        contact: &MerchantContact,
        now: DateTime<Utc>,
    ) -> Result<String, Failure> {
        let Some(token) = &rec.sheet_token else {
            return Err(Failure::Permanent("the record names no sheet".into()));
        };
        let Some(link) = self.db.get_sheet_link(token).await? else {
            return Err(Failure::Permanent("the sheet link is missing".into()));
        };
        let content = SheetContent {
            number: inv.number(),
            merchant_name: inv.merchant_name.clone(),
            amount: inv.amount,
            customer_fee: inv.customer_fee,
            due_date: inv.due_date,
            merchant_order_id: inv.merchant_order_id.clone(),
            description: inv.description.clone(),
            payment_code: PaymentCode::new(
                &company_code(),
                inv.number(),
                inv.due_date,
                inv.total(),
            )
            .reissued(inv.reissue()),
            contact: (!contact.is_empty()).then(|| contact.one_line()),
        };
        let bytes = pdf::render(&content)
            .map_err(|e| Failure::Permanent(format!("the sheet could not be rendered: {e}")))?;
        let put = self
            .s3
            .get()
            .put_object()
            .bucket(&self.db.res.sheets_bucket)
            .key(&link.s3_key)
            .content_type("application/pdf")
            .body(bytes.into())
            .send()
            .await;
        if let Err(e) = put {
            let status = e.raw_response().map(|r| r.status().as_u16());
            return Err(failure::s3(&e, status));
        }
        self.db.mark_sheet_stored(token, now).await?;
        Ok(smartpit_shared::db::timestamp(now))
    }

    /// Sends one mail; its SES message id on success. The message is built whole here (MIME,
    /// by the `mail-builder` crate: a text part, and an HTML part where there is one) and sent
    /// raw, so both parts reach SES exactly as written, and the local emulator keeps both.
    /// Sends one mail, tagged with its invoice and notice (SES's bounce and complaint events
    /// carry the tags back: `mail_events`), through the configuration set when there is one.
    async fn send(
        &self,
        m: &mail::Mail,
        invoice_id: &str,
        kind: smartpit_shared::notice::NoticeKind,
    ) -> Result<String, Failure> {
        use aws_sdk_sesv2::primitives::Blob;
        use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
        let mut message = mail_builder::MessageBuilder::new()
            .from(("スマートピットセンター", self.db.res.mail_from.as_str()))
            .to(m.to.as_str())
            .subject(m.subject)
            .text_body(m.text.as_str());
        if let Some(html) = &m.html {
            message = message.html_body(html.as_str());
        }
        let bytes = message
            .write_to_vec()
            .map_err(|e| Failure::Permanent(format!("the mail could not be built: {e}")))?;
        let raw = RawMessage::builder()
            .data(Blob::new(bytes))
            .build()
            .map_err(|e| Failure::Permanent(format!("the mail could not be built: {e}")))?;
        let res = self
            .ses
            .get()
            .send_email()
            .from_email_address(&self.db.res.mail_from)
            .destination(Destination::builder().to_addresses(&m.to).build())
            .content(EmailContent::builder().raw(raw).build())
            .set_configuration_set_name(self.settings.configuration_set.clone())
            .email_tags(tag("invoice_id", invoice_id)?)
            .email_tags(tag("notice", kind.as_str())?)
            .send()
            .await;
        match res {
            Ok(out) => Ok(out.message_id().unwrap_or("sent").to_string()),
            Err(e) => Err(failure::ses(&e, &self.db.res.mail_from)),
        }
    }

    /// Counts a passing failure; parks the record once it has failed often enough for long
    /// enough. `Ok(true)`: parked, the stream may move on.
    async fn count_or_park(
        &self,
        id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, smartpit_shared::Problem> {
        let f = self.db.count_failure(id, reason, now).await?;
        let long_enough = now.timestamp() - f.first_failed_at >= self.settings.park_after_seconds;
        if f.attempts < self.settings.park_after_attempts || !long_enough {
            return Ok(false);
        }
        let Some(queue) = &self.settings.failures_queue_url else {
            return Ok(false);
        };
        let Some(rec) = self.db.get_outbox(id).await? else {
            return Ok(true);
        };
        let invoice = match InvoiceId::parse(&rec.invoice_id) {
            Some(inv) => self.db.get_invoice(&inv).await?,
            None => None,
        };
        let why = format!(
            "delivery stopped after {} attempts ({reason}); an operator will redeliver it",
            f.attempts
        );
        let message = json!({
            "kind": "outbox_parked",
            "outbox_id": rec.id,
            "invoice_id": rec.invoice_id,
            "attempts": f.attempts,
            "reason": reason,
            "parked_at": smartpit_shared::db::timestamp(now),
        });
        self.sqs
            .get()
            .send_message()
            .queue_url(queue)
            .message_body(message.to_string())
            .send()
            .await
            .map_err(|e| {
                smartpit_shared::Problem::unavailable(&aws_sdk_sqs::error::DisplayErrorContext(&e))
            })?;
        self.db
            .park_outbox(&rec, invoice.as_ref(), &why, now)
            .await?;
        Ok(true)
    }
}

/// A storage failure while delivering: passing (the record is retried), as the problem it
/// would answer (`503 service_unavailable`).
fn passing(e: smartpit_shared::db::StoreError) -> String {
    let p = smartpit_shared::Problem::from(e);
    format!("{} {}", p.status().as_u16(), p.code)
}

/// A step's failure as its notice records it (`failed` with the reason), or the passing reason
/// the record is retried for.
fn outcome_of_failure(f: Failure) -> Result<(NoticeStatus, String, Option<String>), String> {
    match f {
        Failure::Permanent(reason) => {
            Ok((NoticeStatus::Failed, "failed".to_string(), Some(reason)))
        }
        Failure::Passing(reason) => Err(reason),
    }
}

fn tag(name: &str, value: &str) -> Result<aws_sdk_sesv2::types::MessageTag, Failure> {
    aws_sdk_sesv2::types::MessageTag::builder()
        .name(name)
        .value(value)
        .build()
        .map_err(|e| Failure::Permanent(format!("the mail could not be tagged: {e}")))
}

/// What its `main` runs ([`smartpit_shared::lambda::events`]) and the local stack builds.
impl smartpit_shared::lambda::EventFunction for NotifyFunction {
    type Event = StreamEvent;
    type Answer = DynamoDbEventResponse;

    fn configured(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        Ok(NotifyFunction::new(sdk, res, Settings::from_vars(vars)))
    }

    async fn on_event(&self, event: Self::Event) -> Result<Self::Answer, String> {
        // A stream batch; the records that failed come back in the answer, retried in order.
        Ok(self.handle_stream(&event, Utc::now).await)
    }
}
