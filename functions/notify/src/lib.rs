//! The notifier: consumes the outbox table's stream as Lambda delivers it (DynamoDB stream
//! batches, partial batch failure reporting). For each record it stores the sheet PDF (if the
//! invoice has one) and sends the customer's mails, recording each step on the outbox record
//! before the batch is acknowledged, so a retried record skips what was done.
//!
//! The one window left: SES accepted a mail and the process died before recording it. SES has
//! no idempotency key, so that retry sends the mail again; every other failure (S3, SES, the
//! table) leaves the record to be retried and the invoice untouched.

pub mod mail;

use chrono::Utc;
use serde_json::{json, Value};
use smartpit_shared::config::Resources;
use smartpit_shared::db::{OutboxRecord, Step};
use smartpit_shared::sheet::payment_code::{company_code, PaymentCode};
use smartpit_shared::sheet::{pdf, SheetContent};
use smartpit_shared::{Db, Invoice, InvoiceId, Problem};

pub struct NotifyFunction {
    db: Db,
    s3: aws_sdk_s3::Client,
    ses: aws_sdk_sesv2::Client,
}

impl NotifyFunction {
    pub fn new(sdk: &aws_config::SdkConfig, res: Resources) -> Self {
        let s3_conf = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build();
        NotifyFunction {
            db: Db::new(sdk, res),
            s3: aws_sdk_s3::Client::from_conf(s3_conf),
            ses: aws_sdk_sesv2::Client::new(sdk),
        }
    }

    /// A DynamoDB stream event in; `{"batchItemFailures": [...]}` out. Records after the first
    /// failure are reported too, so they are retried in order.
    pub async fn handle(&self, event: Value) -> Value {
        let mut failures = Vec::new();
        let records = event["Records"].as_array().cloned().unwrap_or_default();
        for record in &records {
            let seq = record["dynamodb"]["SequenceNumber"]
                .as_str()
                .unwrap_or_default();
            if !failures.is_empty() {
                failures.push(json!({"itemIdentifier": seq}));
                continue;
            }
            if record["eventName"] != "INSERT" {
                continue;
            }
            let Some(id) = record["dynamodb"]["Keys"]["id"]["S"].as_str() else {
                continue;
            };
            if let Err(p) = self.deliver(id).await {
                tracing::warn!(outbox_id = %id, problem = %p, "delivery failed; will retry");
                failures.push(json!({"itemIdentifier": seq}));
            }
        }
        json!({"batchItemFailures": failures})
    }

    /// Everything one outbox record asks for, skipping the steps already recorded.
    pub async fn deliver(&self, outbox_id: &str) -> Result<(), Problem> {
        let Some(rec) = self.db.get_outbox(outbox_id).await? else {
            return Ok(()); // expired by TTL: nothing left to do
        };
        let id = InvoiceId::parse(&rec.invoice_id)
            .ok_or_else(|| Problem::internal(&"outbox names a malformed invoice id"))?;
        let invoice = self
            .db
            .get_invoice(&id)
            .await?
            .ok_or_else(|| Problem::internal(&"outbox names an unknown invoice"))?;
        if let Some(token) = &rec.sheet_token {
            self.store_sheet(&rec, token, &invoice).await?;
        }
        let link = invoice.sheet_url.as_deref();
        // The sheet delivery notice goes to the PC address of sheet customers only; the mobile
        // registration notice to any mobile address.
        let pc = rec
            .sheet_token
            .as_ref()
            .and(invoice.customer.email.as_ref());
        let mails = [
            (
                pc,
                Step::MailSent,
                mail::sheet_notice as fn(&str, &Invoice, Option<&str>) -> mail::Mail,
            ),
            (
                invoice.customer.mobile_email.as_ref(),
                Step::MobileMailSent,
                mail::mobile_notice,
            ),
        ];
        for (to, step, compose) in mails {
            let Some(to) = to else { continue };
            if rec.done(step) {
                continue;
            }
            let message_id = self.send(&compose(to, &invoice, link)).await?;
            self.db.record_step(&rec.id, step, &message_id).await?;
        }
        Ok(())
    }

    async fn store_sheet(
        &self,
        rec: &OutboxRecord,
        token: &str,
        inv: &Invoice,
    ) -> Result<(), Problem> {
        if rec.done(Step::SheetStored) {
            return Ok(());
        }
        let Some(link) = self.db.get_sheet_link(token).await? else {
            return Err(Problem::internal(&"outbox names an unknown sheet link"));
        };
        let content = SheetContent {
            number: inv.number(),
            merchant_name: inv.merchant_name.clone(),
            amount: inv.amount,
            due_date: inv.due_date,
            merchant_order_id: inv.merchant_order_id.clone(),
            description: inv.description.clone(),
            payment_code: PaymentCode::new(&company_code(), inv.number(), inv.due_date, inv.amount),
        };
        let bytes = pdf::render(&content).map_err(|e| Problem::internal(&e))?;
        // The key is the link's: a retry overwrites the same object, never adds one.
        self.s3
            .put_object()
            .bucket(&self.db.res.sheets_bucket)
            .key(&link.s3_key)
            .content_type("application/pdf")
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| Problem::unavailable(&aws_sdk_s3::error::DisplayErrorContext(&e)))?;
        let now = Utc::now();
        self.db.mark_sheet_stored(token, now).await?;
        self.db
            .record_step(
                &rec.id,
                Step::SheetStored,
                &smartpit_shared::invoice::timestamp(now),
            )
            .await?;
        Ok(())
    }

    async fn send(&self, m: &mail::Mail) -> Result<String, Problem> {
        use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
        let content = |s: &str| {
            Content::builder()
                .data(s)
                .charset("UTF-8")
                .build()
                .map_err(|e| Problem::internal(&e))
        };
        let mut body = Body::builder().text(content(&m.text)?);
        if let Some(html) = &m.html {
            body = body.html(content(html)?);
        }
        let message = Message::builder()
            .subject(content(m.subject)?)
            .body(body.build())
            .build();
        let res = self
            .ses
            .send_email()
            .from_email_address(&self.db.res.mail_from)
            .destination(Destination::builder().to_addresses(&m.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await;
        match res {
            Ok(out) => Ok(out.message_id().unwrap_or("sent").to_string()),
            // SES refuses this message for good (a malformed address): retrying would only hold
            // back the records behind it. Recorded as the step's outcome, and logged.
            Err(e) if is_permanent(&e) => {
                tracing::warn!(error = %aws_sdk_sesv2::error::DisplayErrorContext(&e), "mail refused for good; not retried");
                Ok("refused".to_string())
            }
            Err(e) => Err(Problem::unavailable(
                &aws_sdk_sesv2::error::DisplayErrorContext(&e),
            )),
        }
    }
}

/// A failure that no retry can mend: SES found the request itself bad. Everything else
/// (throttling, an unverified sender while the operator fixes it, outages) is retried.
fn is_permanent<R>(
    err: &aws_sdk_sesv2::error::SdkError<aws_sdk_sesv2::operation::send_email::SendEmailError, R>,
) -> bool {
    use aws_sdk_sesv2::operation::send_email::SendEmailError;
    matches!(
        err.as_service_error(),
        Some(SendEmailError::BadRequestException(_))
    )
}
