//! Merchant events and webhook endpoints in DynamoDB.
//!
//! EventsTable (`merchant_id`, `id`): one item per event, newest last (ids sort by time), with
//! its body as delivered, status, attempts and, while pending, `due_shard` = `due` and `due_at`
//! (the sparse GSI `by_due` the retry sweep queries). The table's stream (INSERT) puts each new
//! event on the delivery queue at once.
//!
//! MainTable `MER#<merchant>` / `WEBHOOK`: the merchant's endpoint: URL, event types, secrets.

use super::error::{Refusal, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use base64::Engine;
use chrono::{DateTime, Utc};

use super::item::{self, get_n, get_s, Item};
use super::{applied, av_s, put_new, Db};
use super::{merchant_pk, timestamp};
use crate::webhook::{Attempt, Endpoint, Event, EventStatus, EventType, Secret};

/// Queries (a page each) one bill's events may take ([`Db::invoice_events`]).
pub const INVOICE_EVENT_QUERIES: usize = 5;

/// Events are kept this long.
pub const EVENT_KEEP_SECONDS: i64 = 90 * 86_400;
/// How long an attempt holds its event: the attempt's own time limit and some.
const IN_FLIGHT_SECONDS: i64 = 30;
/// Attempts kept on an event (the latest).
const KEPT_ATTEMPTS: usize = 20;

pub struct EventPage {
    pub events: Vec<Event>,
    pub next_cursor: Option<String>,
}

fn time(s: Option<&str>) -> Option<DateTime<Utc>> {
    s.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn attempt_attr(a: &Attempt) -> AttributeValue {
    let mut m = Item::new();
    m.insert("at".into(), item::s(timestamp(a.at)));
    if let Some(s) = a.status {
        m.insert("status".into(), item::n(i64::from(s)));
    }
    if let Some(e) = &a.error {
        m.insert("error".into(), item::s(e));
    }
    m.insert("duration_ms".into(), item::n(a.duration_ms));
    m.insert("response".into(), item::s(&a.response));
    AttributeValue::M(m)
}

fn attempt_of(v: &AttributeValue) -> Option<Attempt> {
    let m = v.as_m().ok()?;
    Some(Attempt {
        at: time(get_s(m, "at"))?,
        status: get_n(m, "status").and_then(|s| u16::try_from(s).ok()),
        error: get_s(m, "error").map(str::to_string),
        duration_ms: get_n(m, "duration_ms").unwrap_or(0),
        response: get_s(m, "response").unwrap_or_default().to_string(),
    })
}

pub fn event_item(e: &Event) -> Item {
    let mut it = Item::new();
    it.insert("merchant_id".into(), item::s(&e.merchant_id));
    it.insert("id".into(), item::s(&e.id));
    it.insert("type".into(), item::s(e.kind.as_str()));
    it.insert("created_at".into(), item::s(timestamp(e.created_at)));
    it.insert("body".into(), item::s(&e.body));
    it.insert("status".into(), item::s(e.status.as_str()));
    it.insert(
        "attempts".into(),
        AttributeValue::L(e.attempts.iter().map(attempt_attr).collect()),
    );
    // The `by_invoice` index's key: never empty (DynamoDB refuses an empty key value).
    if let Some(inv) = e.invoice_id.as_deref().filter(|i| !i.is_empty()) {
        it.insert("invoice_id".into(), item::s(inv));
    }
    if let (EventStatus::Pending, Some(at)) = (e.status, e.next_attempt_at) {
        it.insert("next_attempt_at".into(), item::n(at));
        it.insert("due_shard".into(), item::s("due"));
        it.insert("due_at".into(), item::n(at));
    }
    it.insert(
        "expires_at".into(),
        item::n(e.created_at.timestamp() + EVENT_KEEP_SECONDS),
    );
    it
}

pub fn event_of(it: &Item) -> Option<Event> {
    Some(Event {
        id: get_s(it, "id")?.to_string(),
        merchant_id: get_s(it, "merchant_id")?.to_string(),
        kind: EventType::parse(get_s(it, "type")?)?,
        created_at: time(get_s(it, "created_at"))?,
        body: get_s(it, "body")?.to_string(),
        status: EventStatus::parse(get_s(it, "status")?)?,
        attempts: it
            .get("attempts")
            .and_then(|v| v.as_l().ok())
            .map(|l| l.iter().filter_map(attempt_of).collect())
            .unwrap_or_default(),
        next_attempt_at: get_n(it, "next_attempt_at"),
        invoice_id: get_s(it, "invoice_id").map(str::to_string),
    })
}

fn endpoint_key(merchant_id: &str) -> Item {
    item::key(merchant_pk(merchant_id), "WEBHOOK")
}

impl Db {
    /// The transaction item that writes a new event beside the change it reports.
    pub fn event_put(&self, e: &Event) -> Result<TransactWriteItem, StoreError> {
        put_new(&self.res.events_table, event_item(e), "id")
    }

    /// One conditional update of an item and the event that reports it, in one transaction.
    /// `Ok(false)`: the update's condition failed, and nothing was written.
    pub(crate) async fn update_with_event(
        &self,
        update: aws_sdk_dynamodb::types::Update,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(self.event_put(event)?)
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if super::cancellation_codes(&e).is_some() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// One consistent read; another merchant's event is `None`.
    pub async fn get_event(
        &self,
        merchant_id: &str,
        id: &str,
    ) -> Result<Option<Event>, StoreError> {
        let key = Item::from([
            ("merchant_id".to_string(), av_s(merchant_id)),
            ("id".to_string(), av_s(id)),
        ]);
        let found = self.read(&self.res.events_table, key).await?;
        Ok(found.as_ref().and_then(event_of))
    }

    /// A merchant's events, newest first, filtered by type and status. One query a page.
    pub async fn list_events(
        &self,
        merchant_id: &str,
        kind: Option<EventType>,
        status: Option<EventStatus>,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<EventPage, StoreError> {
        let start = cursor
            .map(|c| decode_event_cursor(c, merchant_id))
            .transpose()?;
        let mut q = self
            .client
            .query()
            .table_name(&self.res.events_table)
            .key_condition_expression("merchant_id = :m")
            .expression_attribute_values(":m", av_s(merchant_id))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start);
        let mut filters = Vec::new();
        if let Some(k) = kind {
            filters.push("#type = :type");
            q = q
                .expression_attribute_names("#type", "type")
                .expression_attribute_values(":type", av_s(k.as_str()));
        }
        if let Some(s) = status {
            filters.push("#status = :status");
            q = q
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", av_s(s.as_str()));
        }
        if !filters.is_empty() {
            q = q.filter_expression(filters.join(" AND "));
        }
        let out = q.send().await?;
        let events = out.items().iter().filter_map(event_of).collect();
        let next_cursor = out.last_evaluated_key().and_then(|k| {
            let id = get_s(k, "id")?;
            Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id))
        });
        Ok(EventPage {
            events,
            next_cursor,
        })
    }

    /// One bill's events, oldest first: a query of the events table's `by_invoice` index (the
    /// bill's id; event ids sort by time), kept to the merchant's own, however busy the
    /// merchant and however old the bill. At most [`INVOICE_EVENT_QUERIES`] pages (1 MB each);
    /// `true` when it stopped with more to read.
    pub async fn invoice_events(
        &self,
        merchant_id: &str,
        invoice_id: &str,
    ) -> Result<(Vec<Event>, bool), StoreError> {
        let mut events = Vec::new();
        let mut start = None;
        for _ in 0..INVOICE_EVENT_QUERIES {
            let out = self
                .client
                .query()
                .table_name(&self.res.events_table)
                .index_name("by_invoice")
                .key_condition_expression("invoice_id = :inv")
                .filter_expression("merchant_id = :m")
                .expression_attribute_values(":m", av_s(merchant_id))
                .expression_attribute_values(":inv", av_s(invoice_id))
                .set_exclusive_start_key(start.take())
                .send()
                .await?;
            events.extend(out.items().iter().filter_map(event_of));
            match out.last_evaluated_key() {
                Some(k) => start = Some(k.clone()),
                None => return Ok((events, false)),
            }
        }
        Ok((events, true))
    }

    /// Records one attempt and what follows: delivered, failed for good, or due again at
    /// `next`. One update, on condition the event is still pending and still taken by this
    /// attempt's `claim` (from `start_attempt`).
    pub async fn record_attempt(
        &self,
        e: &Event,
        claim: i64,
        attempt: &Attempt,
        status: EventStatus,
        next: Option<i64>,
    ) -> Result<bool, StoreError> {
        let mut attempts: Vec<AttributeValue> = e.attempts.iter().map(attempt_attr).collect();
        attempts.push(attempt_attr(attempt));
        let skip = attempts.len().saturating_sub(KEPT_ATTEMPTS);
        let attempts: Vec<AttributeValue> = attempts.into_iter().skip(skip).collect();
        let mut u = self
            .client
            .update_item()
            .table_name(&self.res.events_table)
            .key("merchant_id", av_s(&e.merchant_id))
            .key("id", av_s(&e.id))
            .condition_expression("#status = :pending AND in_flight_until = :claim")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", av_s(EventStatus::Pending.as_str()))
            .expression_attribute_values(":claim", item::n(claim))
            .expression_attribute_values(":new", av_s(status.as_str()))
            .expression_attribute_values(":attempts", AttributeValue::L(attempts));
        u = match (status, next) {
            (EventStatus::Pending, Some(at)) => u
                .update_expression(
                    "SET #status = :new, attempts = :attempts, next_attempt_at = :at, \
                     due_shard = :due, due_at = :at REMOVE in_flight_until",
                )
                .expression_attribute_values(":at", item::n(at))
                .expression_attribute_values(":due", av_s("due")),
            _ => u.update_expression(
                "SET #status = :new, attempts = :attempts \
                 REMOVE next_attempt_at, due_shard, due_at, in_flight_until",
            ),
        };
        applied(u.send().await)
    }

    /// Takes a pending event for one attempt: at most one attempt of an event runs at a time,
    /// even when the queue and the sweep both hand it over. Returns the event as it stands
    /// once taken (its attempts so far), or `None`: another attempt is running, or the event
    /// is no longer pending.
    pub async fn start_attempt(
        &self,
        e: &Event,
        now: DateTime<Utc>,
    ) -> Result<Option<(Event, i64)>, StoreError> {
        let until = now.timestamp_millis() + IN_FLIGHT_SECONDS * 1000;
        let res = self
            .client
            .update_item()
            .table_name(&self.res.events_table)
            .key("merchant_id", av_s(&e.merchant_id))
            .key("id", av_s(&e.id))
            .update_expression("SET in_flight_until = :until")
            .condition_expression(
                "#status = :pending AND (attribute_not_exists(in_flight_until) OR in_flight_until < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", av_s(EventStatus::Pending.as_str()))
            .expression_attribute_values(":until", item::n(until))
            .expression_attribute_values(":now", item::n(now.timestamp_millis()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match res {
            Ok(out) => Ok(out
                .attributes()
                .and_then(event_of)
                .map(|fresh| (fresh, until))),
            Err(e) if super::is_conditional_failure(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Marks an event as skipped (no endpoint wanted it when it was due).
    pub async fn skip_event(&self, e: &Event) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.res.events_table)
            .key("merchant_id", av_s(&e.merchant_id))
            .key("id", av_s(&e.id))
            .update_expression("SET #status = :skipped REMOVE next_attempt_at, due_shard, due_at")
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", av_s(EventStatus::Pending.as_str()))
            .expression_attribute_values(":skipped", av_s(EventStatus::Skipped.as_str()))
            .send()
            .await;
        applied(res)
    }

    /// Takes a due event for the queue: moves its next attempt `QUEUED_GRACE_SECONDS` on, on
    /// condition no one else took it. `Ok(false)`: taken already.
    pub async fn claim_due(
        &self,
        merchant_id: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let later = now.timestamp() + crate::webhook::QUEUED_GRACE_SECONDS;
        let res = self
            .client
            .update_item()
            .table_name(&self.res.events_table)
            .key("merchant_id", av_s(merchant_id))
            .key("id", av_s(id))
            .update_expression("SET next_attempt_at = :later, due_at = :later")
            .condition_expression("#status = :pending AND due_at <= :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", av_s(EventStatus::Pending.as_str()))
            .expression_attribute_values(":later", item::n(later))
            .expression_attribute_values(":now", item::n(now.timestamp()))
            .send()
            .await;
        applied(res)
    }

    /// Makes an event due again now, whatever its state: a merchant's redelivery.
    pub async fn make_due(&self, e: &Event, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.res.events_table)
            .key("merchant_id", av_s(&e.merchant_id))
            .key("id", av_s(&e.id))
            .update_expression(
                "SET #status = :pending, next_attempt_at = :at, due_shard = :due, due_at = :at",
            )
            .condition_expression("attribute_exists(id)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", av_s(EventStatus::Pending.as_str()))
            .expression_attribute_values(
                ":at",
                item::n(now.timestamp() + crate::webhook::QUEUED_GRACE_SECONDS),
            )
            .expression_attribute_values(":due", av_s("due"))
            .send()
            .await?;
        Ok(())
    }

    /// Keys (merchant, id) of pending events due by `now`, oldest first. One query on the
    /// sparse `by_due` index.
    pub async fn due_events(
        &self,
        now: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.res.events_table)
            .index_name("by_due")
            .key_condition_expression("due_shard = :due AND due_at <= :now")
            .expression_attribute_values(":due", av_s("due"))
            .expression_attribute_values(":now", item::n(now.timestamp()))
            .limit(limit)
            .send()
            .await?;
        Ok(out
            .items()
            .iter()
            .filter_map(|it| {
                Some((
                    get_s(it, "merchant_id")?.to_string(),
                    get_s(it, "id")?.to_string(),
                ))
            })
            .collect())
    }

    pub async fn get_endpoint(&self, merchant_id: &str) -> Result<Option<Endpoint>, StoreError> {
        let found = self
            .read(&self.res.main_table, endpoint_key(merchant_id))
            .await?;
        Ok(found.as_ref().and_then(|it| {
            Some(Endpoint {
                url: get_s(it, "url")?.to_string(),
                events: item::get_list_s(it, "events")
                    .iter()
                    .filter_map(|e| EventType::parse(e))
                    .collect(),
                secrets: it
                    .get("secrets")
                    .and_then(|v| v.as_l().ok())
                    .map(|l| {
                        l.iter()
                            .filter_map(|v| {
                                let m = v.as_m().ok()?;
                                Some(Secret {
                                    value: get_s(m, "value")?.to_string(),
                                    expires_at: get_n(m, "expires_at"),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                updated_at: time(get_s(it, "updated_at"))?,
            })
        }))
    }

    pub async fn put_endpoint(&self, merchant_id: &str, e: &Endpoint) -> Result<(), StoreError> {
        let mut it = endpoint_key(merchant_id);
        it.insert("type".into(), item::s("webhook_endpoint"));
        it.insert("url".into(), item::s(&e.url));
        it.insert(
            "events".into(),
            AttributeValue::L(e.events.iter().map(|t| item::s(t.as_str())).collect()),
        );
        let secrets = e
            .secrets
            .iter()
            .map(|s| {
                let mut m = Item::new();
                m.insert("value".into(), item::s(&s.value));
                if let Some(x) = s.expires_at {
                    m.insert("expires_at".into(), item::n(x));
                }
                AttributeValue::M(m)
            })
            .collect();
        it.insert("secrets".into(), AttributeValue::L(secrets));
        it.insert("updated_at".into(), item::s(timestamp(e.updated_at)));
        self.client
            .put_item()
            .table_name(&self.res.main_table)
            .set_item(Some(it))
            .send()
            .await?;
        Ok(())
    }

    /// Sets the merchant's endpoint. A new one gets a secret, returned to be shown this once; a
    /// change of URL or types keeps the secrets.
    pub async fn set_endpoint(
        &self,
        merchant_id: &str,
        url: String,
        events: Vec<EventType>,
        now: DateTime<Utc>,
    ) -> Result<(Endpoint, Option<String>), StoreError> {
        let (endpoint, created) = match self.get_endpoint(merchant_id).await? {
            Some(e) => (
                Endpoint {
                    url,
                    events,
                    updated_at: now,
                    ..e
                },
                false,
            ),
            None => (Endpoint::new(url, events, now), true),
        };
        self.put_endpoint(merchant_id, &endpoint).await?;
        let secret = created
            .then(|| endpoint.current_secret().map(str::to_string))
            .flatten();
        Ok((endpoint, secret))
    }

    /// A new signing secret (returned, to be shown this once); the current one keeps signing
    /// for 24 hours beside it. `None`: no endpoint.
    pub async fn rotate_endpoint_secret(
        &self,
        merchant_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Endpoint, String)>, StoreError> {
        let Some(e) = self.get_endpoint(merchant_id).await? else {
            return Ok(None);
        };
        let e = e.rotated(now);
        self.put_endpoint(merchant_id, &e).await?;
        let secret = e.current_secret().unwrap_or_default().to_string();
        Ok(Some((e, secret)))
    }

    /// A `webhook.test` event to the merchant's endpoint, delivered as every event is (the
    /// table's stream queues it). `None`: no endpoint.
    pub async fn send_test_event(
        &self,
        merchant_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Event>, StoreError> {
        let Some(endpoint) = self.get_endpoint(merchant_id).await? else {
            return Ok(None);
        };
        let event = Event::new(
            merchant_id,
            EventType::WebhookTest,
            None,
            serde_json::json!({"endpoint_url": endpoint.url}),
            now,
        );
        self.client
            .put_item()
            .table_name(&self.res.events_table)
            .set_item(Some(event_item(&event)))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await?;
        Ok(Some(event))
    }

    pub async fn delete_endpoint(&self, merchant_id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.res.main_table)
            .set_key(Some(endpoint_key(merchant_id)))
            .send()
            .await?;
        Ok(())
    }
}

/// An events cursor is the last event id of a page; it continues only this merchant's list.
fn decode_event_cursor(cursor: &str, merchant_id: &str) -> Result<Item, StoreError> {
    let bad = || {
        StoreError::from(Refusal::InvalidCursor {
            with_status_filter: false,
        })
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let id = String::from_utf8(raw).map_err(|_| bad())?;
    let body = id.strip_prefix("evt_").ok_or_else(bad)?;
    if crate::ids::base32_decode(body, 16).is_none() {
        return Err(bad());
    }
    Ok(Item::from([
        ("merchant_id".to_string(), av_s(merchant_id)),
        ("id".to_string(), av_s(&id)),
    ]))
}
