//! The outbox: one record per notice to send, written in the registration transaction. Its
//! stream feeds the notifier, which records each step it has done on the record itself, so a
//! retried delivery neither stores a sheet twice nor sends a mail twice.

use super::error::StoreError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::item::{self, get_s, Item};
use super::notices::notice_attr;
use super::{applied, av_s, cancellation_codes, put_new, Db};
use super::{invoice_sk, number_pk, timestamp};
use crate::notice::{Notice, NoticeKind, NoticeStatus};

/// How long an outbox record is kept after it was written.
pub const OUTBOX_KEEP_SECONDS: i64 = 90 * 86_400;

/// Steps of a delivery, each recorded once done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    SheetStored,
    MailSent,
    MobileMailSent,
    RefundMailSent,
    /// A payment's お支払い完了証明 stored (sheet bills).
    ConfirmationStored,
    PaidMailSent,
    PaidMobileMailSent,
    ReminderMailSent,
}

impl Step {
    pub fn attribute(self) -> &'static str {
        match self {
            Step::SheetStored => "sheet_stored_at",
            Step::MailSent => "mail_message_id",
            Step::MobileMailSent => "mobile_mail_message_id",
            Step::RefundMailSent => "refund_mail_message_id",
            Step::ConfirmationStored => "confirmation_stored_at",
            Step::PaidMailSent => "paid_mail_message_id",
            Step::PaidMobileMailSent => "paid_mobile_mail_message_id",
            Step::ReminderMailSent => "reminder_mail_message_id",
        }
    }

    /// The notice on the invoice that this step delivers.
    pub fn notice(self) -> NoticeKind {
        match self {
            Step::SheetStored => NoticeKind::Sheet,
            Step::MailSent => NoticeKind::SheetMail,
            Step::MobileMailSent => NoticeKind::MobileMail,
            Step::RefundMailSent => NoticeKind::RefundMail,
            Step::ConfirmationStored => NoticeKind::Confirmation,
            Step::PaidMailSent => NoticeKind::PaidMail,
            Step::PaidMobileMailSent => NoticeKind::PaidMobileMail,
            Step::ReminderMailSent => NoticeKind::ReminderMail,
        }
    }
}

/// How often a record failed for a passing reason, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    pub attempts: i64,
    pub first_failed_at: i64,
}

#[derive(Debug, Clone)]
pub struct OutboxRecord {
    pub id: String,
    pub invoice_id: String,
    pub sheet_token: Option<String>,
    /// A refund's request for an account (`refund_requested`): its page and amount.
    pub refund: Option<RefundRequest>,
    /// A payment's notices (`invoice_paid`): the payment they confirm.
    pub payment_id: Option<String>,
    /// A reminder (`invoice_reminder`): the due day it reminds of.
    pub reminder: Option<String>,
    item: Item,
}

/// What a `refund_requested` record asks the customer for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub refund_id: String,
    pub details_url: String,
    pub amount: i64,
}

impl OutboxRecord {
    /// The step has an outcome: done, failed for good, or skipped. Never to be tried again.
    pub fn done(&self, step: Step) -> bool {
        self.item.contains_key(step.attribute())
    }

    /// Set aside for an operator after too many passing failures (`smartpit redeliver`).
    pub fn parked(&self) -> bool {
        self.item.contains_key("parked_at")
    }

    /// The record as it was written, without what deliveries added except the steps' outcomes:
    /// what `smartpit redeliver` puts back.
    pub fn fresh_item(&self) -> Item {
        let mut it = self.item.clone();
        for k in ["parked_at", "attempts", "first_failed_at", "last_error"] {
            it.remove(k);
        }
        it
    }
}

impl Db {
    /// The transaction item that queues the notices of a newly registered invoice.
    pub fn outbox_put(
        &self,
        invoice_id: &str,
        sheet_token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let it = self.outbox_item(
            "invoice_registered",
            &format!("invoice_registered#{invoice_id}"),
            invoice_id,
            sheet_token,
            now,
        );
        put_new(&self.res.outbox_table, it, "id")
    }

    /// The transaction item that reissues a changed sheet invoice's sheet and mails (one
    /// record per version, so a change never stands in for another).
    pub fn outbox_put_reissue(
        &self,
        invoice_id: &str,
        version: i64,
        sheet_token: &str,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let it = self.outbox_item(
            "invoice_updated",
            &format!("invoice_updated#{invoice_id}#v{version}"),
            invoice_id,
            Some(sheet_token),
            now,
        );
        put_new(&self.res.outbox_table, it, "id")
    }

    /// The transaction item that sends a bill's registration mails again: the sheet is already
    /// stored (its step recorded as done), so only the mails go. One record per re-send
    /// (`n`, the day's count: `invoice_resent#<id>#<JST day>#<n>`).
    pub fn outbox_put_resend(
        &self,
        invoice_id: &str,
        day: &str,
        n: i64,
        sheet_token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut it = self.outbox_item(
            "invoice_resent",
            &format!("invoice_resent#{invoice_id}#{day}#{n}"),
            invoice_id,
            sheet_token,
            now,
        );
        if sheet_token.is_some() {
            it.insert(
                Step::SheetStored.attribute().into(),
                item::s(format!("already stored; resent {}", timestamp(now))),
            );
        }
        put_new(&self.res.outbox_table, it, "id")
    }

    /// The transaction item that sends a bill's registration mail to its corrected addresses
    /// only: the sheet is stored already and an unchanged address's step is recorded as done.
    pub fn outbox_put_address_change(
        &self,
        invoice_id: &str,
        mail: super::changes::AddressMail<'_>,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut it = self.outbox_item(
            "customer_changed",
            &format!(
                "customer_changed#{invoice_id}#{}",
                now.timestamp_nanos_opt().unwrap_or_default()
            ),
            invoice_id,
            mail.sheet_token,
            now,
        );
        let done = |why: &str| item::s(format!("{why}; {}", timestamp(now)));
        if mail.sheet_token.is_some() {
            it.insert(Step::SheetStored.attribute().into(), done("already stored"));
        }
        if !mail.email {
            it.insert(Step::MailSent.attribute().into(), done("address unchanged"));
        }
        if !mail.mobile {
            it.insert(
                Step::MobileMailSent.attribute().into(),
                done("address unchanged"),
            );
        }
        put_new(&self.res.outbox_table, it, "id")
    }

    /// The transaction item that tells a bill's customer its payment went through (the
    /// confirmation PDF, 「お支払い完了のお知らせ」), written in the payment's transaction: one
    /// record per bill and payment, so a retried report adds none.
    pub fn outbox_put_paid(
        &self,
        invoice_id: &str,
        payment_id: &str,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut it = self.outbox_item(
            "invoice_paid",
            &format!("invoice_paid#{invoice_id}#{payment_id}"),
            invoice_id,
            None,
            now,
        );
        it.insert("payment_id".into(), item::s(payment_id));
        put_new(&self.res.outbox_table, it, "id")
    }

    /// The transaction item that asks a bill's customer for the account a refund is paid to
    /// (「返金手続きのお願い」, one record per refund).
    pub fn outbox_put_refund(
        &self,
        invoice_id: &str,
        request: &RefundRequest,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut it = self.outbox_item(
            "refund_requested",
            &format!("refund_requested#{}", request.refund_id),
            invoice_id,
            None,
            now,
        );
        it.insert("refund_id".into(), item::s(&request.refund_id));
        it.insert("details_url".into(), item::s(&request.details_url));
        it.insert("refund_amount".into(), item::n(request.amount));
        put_new(&self.res.outbox_table, it, "id")
    }

    fn outbox_item(
        &self,
        kind: &str,
        id: &str,
        invoice_id: &str,
        sheet_token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Item {
        let mut it = Item::new();
        it.insert("id".into(), item::s(id));
        it.insert("kind".into(), item::s(kind));
        it.insert("invoice_id".into(), item::s(invoice_id));
        it.insert("created_at".into(), item::s(timestamp(now)));
        it.insert(
            "expires_at".into(),
            item::n(now.timestamp() + OUTBOX_KEEP_SECONDS),
        );
        if let Some(t) = sheet_token {
            it.insert("sheet_token".into(), item::s(t));
        }
        it
    }

    /// One consistent read.
    pub async fn get_outbox(&self, id: &str) -> Result<Option<OutboxRecord>, StoreError> {
        let key = Item::from([("id".to_string(), AttributeValue::S(id.to_string()))]);
        let found = self.read(&self.res.outbox_table, key).await?;
        Ok(found.as_ref().and_then(|it| {
            Some(OutboxRecord {
                id: get_s(it, "id")?.to_string(),
                invoice_id: get_s(it, "invoice_id")?.to_string(),
                sheet_token: get_s(it, "sheet_token").map(str::to_string),
                refund: match (
                    get_s(it, "refund_id"),
                    get_s(it, "details_url"),
                    super::item::get_n(it, "refund_amount"),
                ) {
                    (Some(refund_id), Some(url), Some(amount)) => Some(RefundRequest {
                        refund_id: refund_id.to_string(),
                        details_url: url.to_string(),
                        amount,
                    }),
                    _ => None,
                },
                payment_id: get_s(it, "payment_id").map(str::to_string),
                reminder: get_s(it, "reminder").map(str::to_string),
                item: it.clone(),
            })
        }))
    }

    /// Records a step's outcome on the outbox record and the notice it is on the invoice, in one
    /// transaction: `Ok(false)` if the step had an outcome already (then nothing is written).
    pub async fn record_notice(
        &self,
        outbox_id: &str,
        step: Step,
        value: &str,
        invoice: &crate::Invoice,
        notice: &Notice,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let outbox = Update::builder()
            .table_name(&self.res.outbox_table)
            .key("id", av_s(outbox_id))
            .update_expression("SET #step = :v")
            .condition_expression("attribute_exists(id) AND attribute_not_exists(#step)")
            .expression_attribute_names("#step", step.attribute())
            .expression_attribute_values(":v", av_s(value))
            .build()
            .map_err(|e| StoreError::failed(&e))?;
        // A bill that had no notice yet (a card bill with only a PC address, paid or reminded)
        // gets its map with this first one.
        let update = match invoice.notices.is_empty() {
            true => self.first_notice_update(&invoice.id, notice)?,
            false => self.notices_update(&invoice.id, std::slice::from_ref(notice))?,
        };
        let mut tx = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(outbox).build())
            .transact_items(TransactWriteItem::builder().update(update).build());
        if notice.status == NoticeStatus::Failed {
            tx = tx.transact_items(self.notice_failed_event(invoice, notice, now)?);
        }
        let res = tx.send().await;
        match res {
            Ok(_) => Ok(true),
            Err(e) => match cancellation_codes(&e) {
                Some(codes) if codes.first().is_some_and(|c| c == "ConditionalCheckFailed") => {
                    Ok(false)
                }
                _ => Err(e.into()),
            },
        }
    }

    /// Records what SES reported after sending (a hard bounce, a complaint) on the invoice's
    /// notice, with `notice.failed` for the merchant, once per SES message: `Ok(false)` when
    /// this message's event was recorded before (SNS delivers at least once). One transaction.
    pub async fn record_mail_event(
        &self,
        invoice: &crate::Invoice,
        notice: &Notice,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let update = self
            .invoice_update(&invoice.id)
            .update_expression("SET notices.#k = :n ADD mail_events :mid")
            .condition_expression("attribute_exists(notices) AND NOT contains(mail_events, :one)")
            .expression_attribute_names("#k", notice.kind.as_str())
            .expression_attribute_values(":n", notice_attr(notice))
            .expression_attribute_values(
                ":mid",
                aws_sdk_dynamodb::types::AttributeValue::Ss(vec![message_id.to_string()]),
            )
            .expression_attribute_values(":one", av_s(message_id))
            .build()
            .map_err(|e| StoreError::failed(&e))?;
        let res = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(self.notice_failed_event(invoice, notice, now)?)
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if cancellation_codes(&e).is_some() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Counts one passing failure of a record. One update.
    pub async fn count_failure(
        &self,
        id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Failures, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.res.outbox_table)
            .key("id", av_s(id))
            .update_expression(
                "ADD attempts :one SET last_error = :why, \
                 first_failed_at = if_not_exists(first_failed_at, :now)",
            )
            .condition_expression("attribute_exists(id)")
            .expression_attribute_values(":one", item::n(1))
            .expression_attribute_values(":why", av_s(reason))
            .expression_attribute_values(":now", item::n(now.timestamp()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await?;
        let attrs = out.attributes().cloned().unwrap_or_default();
        Ok(Failures {
            attempts: item::get_n(&attrs, "attempts").unwrap_or(1),
            first_failed_at: item::get_n(&attrs, "first_failed_at").unwrap_or(now.timestamp()),
        })
    }

    /// Sets a record aside for an operator: the record says when, and every notice still queued
    /// on the invoice reads `failed` with the reason. One transaction.
    pub async fn park_outbox(
        &self,
        rec: &OutboxRecord,
        invoice: Option<&crate::Invoice>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut items = vec![TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name(&self.res.outbox_table)
                    .key("id", av_s(&rec.id))
                    .update_expression("SET parked_at = :ts")
                    .condition_expression("attribute_exists(id)")
                    .expression_attribute_values(":ts", av_s(&timestamp(now)))
                    .build()
                    .map_err(|e| StoreError::failed(&e))?,
            )
            .build()];
        if let Some(inv) = invoice {
            let failed: Vec<Notice> = inv
                .notices
                .iter()
                .filter(|n| n.status == NoticeStatus::Queued)
                .map(|n| n.now(NoticeStatus::Failed, Some(reason.to_string()), now))
                .collect();
            if !failed.is_empty() {
                let update = self.notices_update(&inv.id, &failed)?;
                items.push(TransactWriteItem::builder().update(update).build());
                for n in &failed {
                    items.push(self.notice_failed_event(inv, n, now)?);
                }
            }
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await?;
        Ok(())
    }

    /// Puts a parked record back as it was written, keeping the steps' outcomes: its stream
    /// INSERT makes the notifier try again. The invoice's notices that parking failed read
    /// `queued` again. A delete, a put and (when notices change) a read and an update: an
    /// operator's command, not a hot path.
    pub async fn requeue_outbox(
        &self,
        rec: &OutboxRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // A put over an existing item is a MODIFY on the stream, which the notifier's filter
        // passes over: the record is deleted first, then put back (an INSERT).
        self.client
            .delete_item()
            .table_name(&self.res.outbox_table)
            .key("id", av_s(&rec.id))
            .send()
            .await?;
        self.client
            .put_item()
            .table_name(&self.res.outbox_table)
            .set_item(Some(rec.fresh_item()))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await?;
        let Some(id) = crate::ids::InvoiceId::parse(&rec.invoice_id) else {
            return Ok(());
        };
        let Some(inv) = self.get_invoice(&id).await? else {
            return Ok(());
        };
        let queued: Vec<Notice> = inv
            .notices
            .iter()
            .filter(|n| n.status == NoticeStatus::Failed && !rec.done(step_of(n.kind)))
            .map(|n| n.now(NoticeStatus::Queued, None, now))
            .collect();
        if queued.is_empty() {
            return Ok(());
        }
        let update = self.notices_update(&id, &queued)?;
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .send()
            .await?;
        Ok(())
    }

    /// `notice.failed` for the invoice's merchant, written with the notice's outcome.
    fn notice_failed_event(
        &self,
        inv: &crate::Invoice,
        notice: &Notice,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut view = inv.clone();
        view.notices.retain(|n| n.kind != notice.kind);
        view.notices.push(notice.clone());
        view.notices.sort_by_key(|n| n.kind);
        self.event_put(&crate::webhook::Event::new(
            &inv.merchant_id,
            crate::webhook::EventType::NoticeFailed,
            Some(inv.id.as_str()),
            serde_json::json!({"invoice": view.merchant_view(now), "notice": notice.view()}),
            now,
        ))
    }

    /// The update that gives an invoice without notices its first: on condition that it still
    /// has none (a concurrent first notice makes this one retry, then take the other path).
    fn first_notice_update(
        &self,
        invoice: &crate::ids::InvoiceId,
        notice: &Notice,
    ) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(
                number_pk(invoice.number()),
                invoice_sk(invoice),
            )))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(notices)")
            .update_expression("SET notices = :all")
            .expression_attribute_values(
                ":all",
                super::notices::notices_attr(std::slice::from_ref(notice)),
            )
            .build()
            .map_err(|e| StoreError::failed(&e))
    }

    /// The update that writes these notices onto their invoice (`SET notices.<kind> = …` for
    /// each), on condition that the invoice carries notices.
    fn notices_update(
        &self,
        invoice: &crate::ids::InvoiceId,
        notices: &[Notice],
    ) -> Result<Update, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(
                number_pk(invoice.number()),
                invoice_sk(invoice),
            )))
            .condition_expression("attribute_exists(pk) AND attribute_exists(notices)");
        let mut sets = Vec::new();
        for (i, n) in notices.iter().enumerate() {
            sets.push(format!("notices.#k{i} = :n{i}"));
            update = update
                .expression_attribute_names(format!("#k{i}"), n.kind.as_str())
                .expression_attribute_values(format!(":n{i}"), notice_attr(n));
        }
        update
            .update_expression(format!("SET {}", sets.join(", ")))
            .build()
            .map_err(|e| StoreError::failed(&e))
    }

    /// Records a step as done, once: `Ok(false)` if it was recorded already.
    pub async fn record_step(&self, id: &str, step: Step, value: &str) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.res.outbox_table)
            .key("id", AttributeValue::S(id.to_string()))
            .update_expression("SET #step = :v")
            .condition_expression("attribute_exists(id) AND attribute_not_exists(#step)")
            .expression_attribute_names("#step", step.attribute())
            .expression_attribute_values(":v", av_s(value))
            .send()
            .await;
        applied(res)
    }
}

/// The step that delivers a notice.
pub fn step_of(kind: NoticeKind) -> Step {
    match kind {
        NoticeKind::Sheet => Step::SheetStored,
        NoticeKind::SheetMail => Step::MailSent,
        NoticeKind::MobileMail => Step::MobileMailSent,
        NoticeKind::RefundMail => Step::RefundMailSent,
        NoticeKind::Confirmation => Step::ConfirmationStored,
        NoticeKind::PaidMail => Step::PaidMailSent,
        NoticeKind::PaidMobileMail => Step::PaidMobileMailSent,
        NoticeKind::ReminderMail => Step::ReminderMailSent,
    }
}
