//! Delivery. One function, three event sources (infra/template.yaml):
//! - the events table's stream: each new event goes on the delivery queue;
//! - the delivery queue: each event is delivered on its own, concurrently with the others in
//!   the batch, so a slow endpoint delays only its own merchant's events;
//! - a schedule: events whose retry is due are taken (a conditional update, so two sweeps
//!   never take the same one) and queued.
//!
//! An attempt is a signed POST (Standard Webhooks) that ends at a 2xx within 10 s. Every
//! attempt is recorded on the event; the next follows the retry schedule, and after the last
//! the event is `failed` (the merchant can redeliver it).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde_json::{json, Value};
use smartpit_shared::config::{OnFirstUse, Resources};
use smartpit_shared::timeouts::BACKGROUND_DYNAMODB;
use smartpit_shared::webhook::{
    signature, Attempt, Event, EventStatus, ATTEMPT_TIMEOUT_SECONDS, KEPT_RESPONSE_BYTES,
};
use smartpit_shared::Db;

use crate::Settings;

/// Events one sweep takes at most.
const SWEEP_LIMIT: i32 = 100;

pub struct WebhookDelivery {
    db: Db,
    sqs: OnFirstUse<aws_sdk_sqs::Client>,
    settings: Settings,
}

impl WebhookDelivery {
    pub fn new(sdk: &aws_config::SdkConfig, res: Resources, settings: Settings) -> Self {
        let sqs = crate::queue_client(sdk);
        WebhookDelivery {
            db: Db::with_profile(sdk, res, BACKGROUND_DYNAMODB),
            sqs,
            settings,
        }
    }

    /// Any of the three event shapes in; for the stream and the queue
    /// `{"batchItemFailures": [...]}` out.
    pub async fn handle(&self, event: Value) -> Value {
        self.handle_at(event, Utc::now).await
    }

    /// As `handle`, with the clock given (tests move it instead of sleeping).
    pub async fn handle_at(&self, event: Value, clock: impl Fn() -> DateTime<Utc>) -> Value {
        let records = event["Records"].as_array().cloned().unwrap_or_default();
        let source = records
            .first()
            .and_then(|r| r["eventSource"].as_str().or(r["EventSource"].as_str()))
            .unwrap_or_default()
            .to_string();
        match source.as_str() {
            "aws:dynamodb" => self.queue_new(&records).await,
            "aws:sqs" => self.deliver_batch(&records, &clock).await,
            _ if event["source"] == "aws.events" || event["detail-type"] == "Scheduled Event" => {
                let taken = self.sweep(clock()).await;
                json!({"queued": taken})
            }
            _ => json!({"batchItemFailures": []}),
        }
    }

    /// New events from the stream onto the queue; on a queue failure the records from the
    /// first one not queued are reported, to be retried.
    async fn queue_new(&self, records: &[Value]) -> Value {
        let mut keys = Vec::new();
        for r in records {
            if r["eventName"] != "INSERT" {
                continue;
            }
            let k = &r["dynamodb"]["Keys"];
            if let (Some(m), Some(id)) = (k["merchant_id"]["S"].as_str(), k["id"]["S"].as_str()) {
                keys.push((m.to_string(), id.to_string()));
            }
        }
        match crate::enqueue(self.sqs.get(), &self.settings.queue_url, &keys).await {
            Ok(()) => json!({"batchItemFailures": []}),
            Err(e) => {
                tracing::warn!(error = %e, "could not queue new events");
                let failures: Vec<Value> = records
                    .iter()
                    .filter_map(|r| r["dynamodb"]["SequenceNumber"].as_str())
                    .map(|s| json!({"itemIdentifier": s}))
                    .collect();
                json!({"batchItemFailures": failures})
            }
        }
    }

    /// Each message of the batch delivered concurrently.
    async fn deliver_batch(&self, records: &[Value], clock: &impl Fn() -> DateTime<Utc>) -> Value {
        let outcomes = join_all(records.iter().map(|r| async move {
            let id = r["messageId"].as_str().unwrap_or_default().to_string();
            let body: Value =
                serde_json::from_str(r["body"].as_str().unwrap_or("")).unwrap_or_default();
            match (body["merchant_id"].as_str(), body["id"].as_str()) {
                (Some(m), Some(e)) => (id, self.deliver(m, e, clock()).await),
                _ => (id, Ok(())), // not ours: dropped
            }
        }))
        .await;
        let failures: Vec<Value> = outcomes
            .into_iter()
            .filter_map(|(id, r)| match r {
                Ok(()) => None,
                Err(e) => {
                    tracing::warn!(problem = %e, "delivery step failed; the message is retried");
                    Some(json!({"itemIdentifier": id}))
                }
            })
            .collect();
        json!({"batchItemFailures": failures})
    }

    /// One attempt to deliver one event, if it is still pending. `Err` only when the outcome
    /// could not be recorded (the queue retries the message).
    pub async fn deliver(
        &self,
        merchant_id: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), smartpit_shared::Problem> {
        let Some(event) = self.db.get_event(merchant_id, id).await? else {
            return Ok(());
        };
        if event.status != EventStatus::Pending {
            return Ok(());
        }
        let endpoint = self.db.get_endpoint(merchant_id).await?;
        let Some(endpoint) = endpoint.filter(|e| e.wants(event.kind)) else {
            self.db.skip_event(&event).await?;
            return Ok(());
        };
        // Taken for this attempt, with its attempts as they stand now.
        let Some((event, claim)) = self.db.start_attempt(&event, Utc::now()).await? else {
            return Ok(()); // another attempt of it is running, or it is done
        };
        let attempt = self.attempt(&endpoint, &event, now).await;
        let failures = event.attempts.iter().filter(|a| !a.succeeded()).count() + 1;
        let (status, next) = if attempt.succeeded() {
            (EventStatus::Delivered, None)
        } else {
            match Event::retry_at(failures, now) {
                Some(at) => (EventStatus::Pending, Some(at)),
                None => (EventStatus::Failed, None),
            }
        };
        tracing::info!(event_id = %event.id, merchant_id = %merchant_id, status = ?attempt.status, outcome = status.as_str(), "webhook attempt");
        self.db
            .record_attempt(&event, claim, &attempt, status, next)
            .await?;
        Ok(())
    }

    /// A signed POST to the endpoint, to the address checked now (never one resolved again
    /// later: DNS rebinding), no redirects, 10 s at most.
    async fn attempt(
        &self,
        endpoint: &smartpit_shared::webhook::Endpoint,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Attempt {
        let started = Instant::now();
        let failed = |error: String| Attempt {
            at: now,
            status: None,
            error: Some(error),
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            response: String::new(),
        };
        let policy = self.settings.url_policy;
        let url = match policy.check_url(&endpoint.url) {
            Ok(u) => u,
            Err(e) => return failed(format!("endpoint URL {e}")),
        };
        let addr = match policy.resolve(&url).await {
            Ok(a) => a,
            Err(e) => return failed(format!("endpoint {e}")),
        };
        let host = url.host_str().unwrap_or_default().to_string();
        let client = match reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(ATTEMPT_TIMEOUT_SECONDS))
            .connect_timeout(Duration::from_secs(3))
            .resolve(&host, addr)
            .user_agent("smartpit-webhooks/1")
            .build()
        {
            Ok(c) => c,
            Err(e) => return failed(format!("client: {e}")),
        };
        let ts = Utc::now().timestamp();
        let sig = signature(&endpoint.secrets, &event.id, ts, &event.body);
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &event.id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(event.body.clone())
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let mut text = resp.text().await.unwrap_or_default();
                if text.len() > KEPT_RESPONSE_BYTES {
                    let mut cut = KEPT_RESPONSE_BYTES;
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    text.truncate(cut);
                }
                Attempt {
                    at: now,
                    status: Some(status),
                    error: None,
                    duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
                    response: text,
                }
            }
            Err(e) if e.is_timeout() => {
                failed(format!("no answer within {ATTEMPT_TIMEOUT_SECONDS} s"))
            }
            Err(e) => failed(format!("could not deliver: {}", without_url(&e))),
        }
    }

    /// Takes the events whose retry is due and queues them. Returns how many.
    pub async fn sweep(&self, now: DateTime<Utc>) -> usize {
        let due = match self.db.due_events(now, SWEEP_LIMIT).await {
            Ok(d) => d,
            Err(p) => {
                tracing::warn!(problem = %p, "sweep could not read due events");
                return 0;
            }
        };
        let mut taken = Vec::new();
        for (m, id) in due {
            if let Ok(true) = self.db.claim_due(&m, &id, now).await {
                taken.push((m, id));
            }
        }
        if let Err(e) = crate::enqueue(self.sqs.get(), &self.settings.queue_url, &taken).await {
            // Their next attempt was moved a minute on: the next sweep takes them again.
            tracing::warn!(error = %e, "sweep could not queue due events");
            return 0;
        }
        taken.len()
    }
}

/// A reqwest error's text without the URL (it may carry a merchant's path or query).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(u) = e.url() {
        text = text.replace(u.as_str(), "<endpoint>");
    }
    if e.is_connect() {
        format!("connection failed ({text})")
    } else {
        text
    }
}
