//! Merchant events pushed as signed webhooks.
//!
//! - `api` (WebhookApiFunction): `PUT|GET|DELETE /v1/webhook-endpoint`,
//!   `POST /v1/webhook-endpoint/rotate`, `GET /v1/events`, `GET /v1/events/{id}`,
//!   `POST /v1/events/{id}/redeliver`.
//! - `delivery` (WebhookDeliveryFunction): the events table's stream puts each new event on the
//!   delivery queue; the queue's consumer delivers each event on its own (one merchant's slow
//!   endpoint holds back nobody else); a scheduled sweep re-queues the events whose retry is
//!   due.

pub mod api;
pub mod delivery;

use std::collections::BTreeMap;

use smartpit_shared::webhook::UrlPolicy;

/// What the webhook functions take from their environment besides the tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The delivery queue (`WEBHOOK_QUEUE_URL`).
    pub queue_url: String,
    pub url_policy: UrlPolicy,
}

impl Settings {
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, String> {
        Ok(Settings {
            queue_url: vars
                .get("WEBHOOK_QUEUE_URL")
                .cloned()
                .ok_or("environment variable WEBHOOK_QUEUE_URL is not set")?,
            url_policy: UrlPolicy {
                allow_loopback_http: vars.get("WEBHOOK_ALLOW_LOOPBACK").map(String::as_str)
                    == Some("true"),
            },
        })
    }

    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(&std::env::vars().collect())
    }
}

/// The webhook queue's client, built on first use (a read of events never builds it).
pub use smartpit_shared::queue::queue_client;

/// Puts events on the delivery queue: `{"merchant_id", "id"}` each.
pub async fn enqueue(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    keys: &[(String, String)],
) -> Result<(), String> {
    for chunk in keys.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, (m, id))| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(serde_json::json!({"merchant_id": m, "id": id}).to_string())
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = sqs
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())?;
        if !out.failed().is_empty() {
            return Err(format!("{} messages were not queued", out.failed().len()));
        }
    }
    Ok(())
}
