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

use aws_lambda_events::event::dynamodb::EventRecord as StreamRecord;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde::Deserialize;
use serde_json::{json, Value};
use smartpit_shared::config::{OnFirstUse, Resources};
use smartpit_shared::timeouts::BACKGROUND_DYNAMODB;
use smartpit_shared::webhook::{
    signature, Attempt, Event, EventStatus, ATTEMPT_TIMEOUT_SECONDS, KEPT_RESPONSE_BYTES,
};
use smartpit_shared::Db;

use crate::Settings;

/// What the function is invoked with, as AWS sends it: the schedule's EventBridge event, the
/// events table's stream batch, or the delivery queue's messages (tried in that order: the
/// first two have fields the others lack; a queue batch must say it comes from SQS).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum DeliveryEvent {
    Schedule(EventBridgeEvent),
    Stream(aws_lambda_events::event::dynamodb::Event),
    Queue(#[serde(deserialize_with = "from_sqs")] SqsEvent),
}

fn from_sqs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SqsEvent, D::Error> {
    let event = SqsEvent::deserialize(d)?;
    if event.records.is_empty()
        || event
            .records
            .iter()
            .any(|r| r.event_source.as_deref() != Some("aws:sqs"))
    {
        return Err(serde::de::Error::custom("not an SQS batch"));
    }
    Ok(event)
}

/// An event to deliver: the events table's key, and the delivery queue's message body.
#[derive(Deserialize)]
struct QueuedEvent {
    merchant_id: String,
    id: String,
}

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

    /// Any of the three event shapes in (as JSON: the local stack and the tests); for the
    /// stream and the queue `{"batchItemFailures": [...]}` out.
    pub async fn handle(&self, event: Value) -> Value {
        self.handle_at(event, Utc::now).await
    }

    /// As `handle`, with the clock given (tests move it instead of sleeping).
    pub async fn handle_at(&self, event: Value, clock: impl Fn() -> DateTime<Utc>) -> Value {
        match serde_json::from_value::<DeliveryEvent>(event) {
            Ok(event) => self.handle_event(&event, clock).await,
            Err(e) => {
                // Lambda would not have invoked the function with it (`main.rs` parses the same
                // type): nothing to retry.
                tracing::error!(error = %e, "not a stream, queue or schedule event; ignored");
                json!({"batchItemFailures": []})
            }
        }
    }

    /// One of the three sources' events, read through its own type, as on Lambda.
    pub async fn handle_event(
        &self,
        event: &DeliveryEvent,
        clock: impl Fn() -> DateTime<Utc>,
    ) -> Value {
        match event {
            DeliveryEvent::Schedule(_) => {
                let taken = self.sweep(clock()).await;
                json!({"queued": taken})
            }
            DeliveryEvent::Stream(stream) => self.queue_new(&stream.records).await,
            DeliveryEvent::Queue(queue) => self.deliver_batch(&queue.records, &clock).await,
        }
    }

    /// New events from the stream onto the queue; on a queue failure the records from the
    /// first one not queued are reported, to be retried.
    async fn queue_new(&self, records: &[StreamRecord]) -> Value {
        let keys: Vec<(String, String)> = records
            .iter()
            .filter(|r| r.event_name == "INSERT")
            .filter_map(|r| serde_dynamo::from_item::<_, QueuedEvent>(r.change.keys.clone()).ok())
            .map(|k| (k.merchant_id, k.id))
            .collect();
        match crate::enqueue(self.sqs.get(), &self.settings.queue_url, &keys).await {
            Ok(()) => json!({"batchItemFailures": []}),
            Err(e) => {
                tracing::warn!(error = %e, "could not queue new events");
                let failures: Vec<Value> = records
                    .iter()
                    .filter_map(|r| r.change.sequence_number.as_deref())
                    .map(|s| json!({"itemIdentifier": s}))
                    .collect();
                json!({"batchItemFailures": failures})
            }
        }
    }

    /// Each message of the batch delivered concurrently.
    async fn deliver_batch(
        &self,
        records: &[SqsMessage],
        clock: &impl Fn() -> DateTime<Utc>,
    ) -> Value {
        let outcomes = join_all(records.iter().map(|r| async move {
            let id = r.message_id.clone().unwrap_or_default();
            let queued = r
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str::<QueuedEvent>(b).ok());
            match queued {
                Some(q) => (id, self.deliver(&q.merchant_id, &q.id, clock()).await),
                None => (id, Ok(())), // not ours: dropped
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

/// What its `main` runs ([`smartpit_shared::lambda::events`]) and the local stack builds.
impl smartpit_shared::lambda::EventFunction for WebhookDelivery {
    type Event = DeliveryEvent;
    type Answer = Value;

    fn configured(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        Ok(WebhookDelivery::new(
            sdk,
            res,
            crate::Settings::from_vars(vars)?,
        ))
    }

    async fn on_event(&self, event: Self::Event) -> Result<Self::Answer, String> {
        Ok(self.handle_event(&event, Utc::now).await)
    }
}

#[cfg(test)]
mod event_tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn kind(v: Value) -> &'static str {
        match serde_json::from_value::<DeliveryEvent>(v) {
            Ok(DeliveryEvent::Schedule(_)) => "schedule",
            Ok(DeliveryEvent::Stream(_)) => "stream",
            Ok(DeliveryEvent::Queue(_)) => "queue",
            Err(_) => "none",
        }
    }

    #[test]
    fn each_of_awss_sample_events_is_read_as_its_source() {
        assert_eq!(kind(fixture("aws-eventbridge-schedule.json")), "schedule");
        assert_eq!(kind(fixture("aws-dynamodb-event.json")), "stream");
        assert_eq!(kind(fixture("aws-sqs-event.json")), "queue");
        // Neither AWS's nor ours: refused, never read as an empty queue batch.
        assert_eq!(kind(json!({})), "none");
        // An empty batch (Lambda sends none) reads as an empty stream batch: nothing to do.
        assert_eq!(kind(json!({"Records": []})), "stream");
        assert_eq!(kind(json!({"Records": [{"body": "x"}]})), "none");
    }

    #[test]
    fn our_queue_message_and_stream_keys_name_the_event() {
        let mut sqs = fixture("aws-sqs-event.json");
        sqs["Records"][0]["body"] = json!(r#"{"merchant_id":"demo-shop","id":"evt_1"}"#);
        let Ok(DeliveryEvent::Queue(q)) = serde_json::from_value::<DeliveryEvent>(sqs) else {
            panic!("a queue batch");
        };
        let body = q.records[0].body.as_deref().unwrap_or_default();
        let queued: QueuedEvent = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (queued.merchant_id.as_str(), queued.id.as_str()),
            ("demo-shop", "evt_1")
        );
        let mut stream = fixture("aws-dynamodb-event.json");
        stream["Records"][0]["dynamodb"]["Keys"] =
            json!({"merchant_id": {"S": "demo-shop"}, "id": {"S": "evt_2"}});
        let Ok(DeliveryEvent::Stream(st)) = serde_json::from_value::<DeliveryEvent>(stream) else {
            panic!("a stream batch");
        };
        let key: QueuedEvent = serde_dynamo::from_item(st.records[0].change.keys.clone())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key.id, "evt_2");
    }
}
