//! SES's reports on mail it accepted (MailEventsFunction, from the configuration set's SNS
//! topic): a hard bounce, a complaint or a reject marks the invoice's notice `bounced` or
//! `complained` (or `failed`) with SES's words, and the merchant gets `notice.failed`, once per
//! message however often SNS delivers it. The configuration set's suppression options put the
//! address on the account's suppression list (SES does that itself), so it is not mailed again.
//! Soft bounces (mailbox full, greylisting) are SES's to retry and change nothing here.

use aws_lambda_events::event::sns::SnsEvent;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use smartpit_shared::config::Resources;
use smartpit_shared::notice::{NoticeKind, NoticeStatus};
use smartpit_shared::timeouts::BACKGROUND_DYNAMODB;
use smartpit_shared::{Db, InvoiceId};

pub struct MailEvents {
    db: Db,
}

/// One report, as SES's event publishing (`eventType`) or notification (`notificationType`)
/// format has it.
struct Report {
    status: NoticeStatus,
    message_id: String,
    invoice_id: Option<String>,
    notice: Option<NoticeKind>,
    reason: String,
}

fn tag<'a>(mail: &'a Value, name: &str) -> Option<&'a str> {
    mail["tags"][name].as_array()?.first()?.as_str()
}

fn report(message: &Value) -> Option<Report> {
    let kind = message["eventType"]
        .as_str()
        .or_else(|| message["notificationType"].as_str())?;
    let mail = &message["mail"];
    let (status, reason) = match kind {
        "Bounce" => {
            let b = &message["bounce"];
            if b["bounceType"] != "Permanent" {
                return None;
            }
            let detail = b["bouncedRecipients"][0]["diagnosticCode"]
                .as_str()
                .unwrap_or("no diagnostic");
            (
                NoticeStatus::Bounced,
                format!(
                    "the receiving server refused the mail for good ({}, {}): {detail}",
                    b["bounceType"].as_str().unwrap_or("Permanent"),
                    b["bounceSubType"].as_str().unwrap_or("General"),
                ),
            )
        }
        "Complaint" => (
            NoticeStatus::Complained,
            "the customer marked the mail as spam; it is not mailed again".to_string(),
        ),
        "Reject" => (
            NoticeStatus::Failed,
            format!(
                "SES rejected the mail: {}",
                message["reject"]["reason"]
                    .as_str()
                    .unwrap_or("no reason given")
            ),
        ),
        _ => return None,
    };
    Some(Report {
        status,
        message_id: mail["messageId"].as_str()?.to_string(),
        invoice_id: tag(mail, "invoice_id").map(str::to_string),
        notice: tag(mail, "notice").and_then(NoticeKind::parse),
        reason,
    })
}

impl MailEvents {
    pub fn new(sdk: &aws_config::SdkConfig, res: Resources) -> Self {
        MailEvents {
            db: Db::with_profile(sdk, res, BACKGROUND_DYNAMODB),
        }
    }

    /// An SNS event in; `{"recorded": n}` out. A record that cannot be recorded now (DynamoDB)
    /// fails the invocation, so SNS delivers it again.
    pub async fn handle(&self, event: Value) -> Result<Value, String> {
        self.handle_at(event, Utc::now()).await
    }

    pub async fn handle_at(&self, event: Value, now: DateTime<Utc>) -> Result<Value, String> {
        let event: SnsEvent =
            serde_json::from_value(event).map_err(|e| format!("not an SNS event: {e}"))?;
        self.handle_event(&event, now).await
    }

    /// SNS's delivery of SES's events (read through its own type, as on Lambda): each
    /// bounce or complaint recorded on its notice once.
    pub async fn handle_event(
        &self,
        event: &SnsEvent,
        now: DateTime<Utc>,
    ) -> Result<Value, String> {
        let mut recorded = 0;
        for record in &event.records {
            let Ok(message) = serde_json::from_str::<Value>(&record.sns.message) else {
                tracing::warn!("an SNS message that is not JSON; ignored");
                continue;
            };
            let Some(r) = report(&message) else { continue };
            let (Some(id), Some(kind)) =
                (r.invoice_id.as_deref().and_then(InvoiceId::parse), r.notice)
            else {
                tracing::warn!(message_id = %r.message_id, "a mail event without our tags; ignored");
                continue;
            };
            let Some(invoice) = self.db.get_invoice(&id).await.map_err(|p| p.to_string())? else {
                continue;
            };
            let Some(current) = invoice.notice(kind) else {
                continue;
            };
            let notice = current.now(r.status, Some(r.reason.clone()), now);
            if self
                .db
                .record_mail_event(&invoice, &notice, &r.message_id, now)
                .await
                .map_err(|p| p.to_string())?
            {
                recorded += 1;
                tracing::warn!(invoice_id = %invoice.id, notice = kind.as_str(), status = r.status.as_str(), "mail not delivered");
            }
        }
        Ok(json!({ "recorded": recorded }))
    }
}

/// What its `main` runs ([`smartpit_shared::lambda::events`]) and the local stack builds.
impl smartpit_shared::lambda::EventFunction for MailEvents {
    type Event = SnsEvent;
    type Answer = Value;

    fn configured(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        _vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        Ok(MailEvents::new(sdk, res))
    }

    async fn on_event(&self, event: Self::Event) -> Result<Self::Answer, String> {
        self.handle_event(&event, Utc::now()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/aws-sns-event.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn snss_envelope_parses_and_carries_ses_event_as_its_message() {
        let plain: SnsEvent = serde_json::from_value(sample()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plain.records[0].sns.message, "Hello\r\nworld!");
        let mut v = sample();
        let ses = json!({"eventType": "Bounce",
            "mail": {"messageId": "m-1", "tags": {"invoice_id": ["inv_x"], "notice": ["sheet_mail"]}},
            "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "a@b.jp"}]}});
        v["Records"][0]["Sns"]["Message"] = json!(ses.to_string());
        let event: SnsEvent = serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"));
        let message: Value =
            serde_json::from_str(&event.records[0].sns.message).unwrap_or_default();
        let r = report(&message).unwrap_or_else(|| panic!("a bounce is a report"));
        assert_eq!(r.message_id, "m-1");
        assert_eq!(r.invoice_id.as_deref(), Some("inv_x"));
        // What a test once handed over (no MessageId, Timestamp, TopicArn...) is not SNS's.
        let partial = json!({"Records": [{"EventSource": "aws:sns",
            "Sns": {"Type": "Notification", "Message": "{}"}}]});
        assert!(serde_json::from_value::<SnsEvent>(partial).is_err());
    }
}
