//! Merchant webhooks: the events a merchant is pushed, the endpoint it registers, and how each
//! delivery is signed (the Standard Webhooks specification, so a merchant verifies with any
//! Standard Webhooks library).

use std::net::IpAddr;

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::ids::{base32, random_bytes};
use crate::invoice::jst_timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// 速報: a store reported the payment.
    InvoicePaid,
    /// 速報取消: the store voided the payment the same day; the invoice is payable again.
    InvoicePaymentVoided,
    InvoiceExpired,
    InvoiceCancelled,
    /// The merchant changed the bill (amount, due date, description, fee) or moved it to
    /// another number.
    InvoiceUpdated,
    /// 確報: the chain's settlement confirmed the payment (emitted by settlement work).
    InvoiceSettled,
    /// A customer's mail or sheet could not be delivered.
    NoticeFailed,
    /// A period closed and its payout was made (scheduled, held or carried forward).
    PayoutCreated,
    /// The operator's bank confirmed the payout's transfer.
    PayoutPaid,
    /// The payout's transfer failed; its amount returns to the next payout.
    PayoutFailed,
    /// The merchant refunded (part of) a paid bill; the customer is asked for an account.
    RefundCreated,
    /// The customer gave the account the refund is paid to.
    RefundDetailsReceived,
    /// The merchant cancelled a refund before it was paid.
    RefundCancelled,
    /// The operator's bank confirmed the refund's transfer.
    RefundPaid,
    /// The bank returned the refund's transfer; the customer's page asks for an account again.
    RefundFailed,
    /// Asked for by the merchant (`POST /v1/webhook-endpoint/test`, the console's button) to
    /// try its endpoint; sent whatever types the endpoint takes.
    WebhookTest,
}

impl EventType {
    pub const ALL: [EventType; 16] = [
        EventType::InvoicePaid,
        EventType::InvoicePaymentVoided,
        EventType::InvoiceExpired,
        EventType::InvoiceCancelled,
        EventType::InvoiceUpdated,
        EventType::InvoiceSettled,
        EventType::NoticeFailed,
        EventType::PayoutCreated,
        EventType::PayoutPaid,
        EventType::PayoutFailed,
        EventType::RefundCreated,
        EventType::RefundDetailsReceived,
        EventType::RefundCancelled,
        EventType::RefundPaid,
        EventType::RefundFailed,
        EventType::WebhookTest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::InvoicePaid => "invoice.paid",
            EventType::InvoicePaymentVoided => "invoice.payment_voided",
            EventType::InvoiceExpired => "invoice.expired",
            EventType::InvoiceCancelled => "invoice.cancelled",
            EventType::InvoiceUpdated => "invoice.updated",
            EventType::InvoiceSettled => "invoice.settled",
            EventType::NoticeFailed => "notice.failed",
            EventType::PayoutCreated => "payout.created",
            EventType::PayoutPaid => "payout.paid",
            EventType::PayoutFailed => "payout.failed",
            EventType::RefundCreated => "refund.created",
            EventType::RefundDetailsReceived => "refund.details_received",
            EventType::RefundCancelled => "refund.cancelled",
            EventType::RefundPaid => "refund.paid",
            EventType::RefundFailed => "refund.failed",
            EventType::WebhookTest => "webhook.test",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl serde::Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl serde::Serialize for EventStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        crate::request::by_name(d, EventType::parse, &names.join(", "))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    /// Waiting for its next attempt.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt of the schedule failed (redeliverable).
    Failed,
    /// The merchant had no endpoint for this type when it was due (redeliverable).
    Skipped,
}

impl<'de> serde::Deserialize<'de> for EventStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::request::by_name(d, EventStatus::parse, "pending, delivered, failed, skipped")
    }
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Pending => "pending",
            EventStatus::Delivered => "delivered",
            EventStatus::Failed => "failed",
            EventStatus::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            EventStatus::Pending,
            EventStatus::Delivered,
            EventStatus::Failed,
            EventStatus::Skipped,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// Seconds to wait after each failed attempt: 8 attempts over about 27 hours.
pub const RETRY_DELAYS: [i64; 7] = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];
/// An attempt ends at this many seconds without an answer.
pub const ATTEMPT_TIMEOUT_SECONDS: u64 = 10;
/// What of an answer is kept on the attempt.
pub const KEPT_RESPONSE_BYTES: usize = 1024;
/// An event put on the delivery queue is left alone by the retry sweep for this long, so the
/// two never deliver it at once.
pub const QUEUED_GRACE_SECONDS: i64 = 60;
/// How long a rotated-out secret still signs.
pub const ROTATION_OVERLAP_SECONDS: i64 = 24 * 3600;

/// An event as the merchant API lists it.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "Event", extend("additionalProperties" = false))]
pub struct EventView {
    #[schemars(pattern("^evt_"))]
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    #[schemars(with = "crate::contract::Timestamp")]
    pub created_at: String,
    pub status: EventStatus,
    pub attempt_count: usize,
    #[schemars(with = "Option<crate::contract::Timestamp>")]
    pub next_attempt_at: Option<String>,
    /// what the webhook carries (docs/WEBHOOKS.md), e.g. `{"invoice": …}`
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub data: Value,
    /// on `GET /v1/events/{id}` only
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<Vec<AttemptView>>,
}

/// One delivery attempt, as the merchant sees it.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
#[schemars(inline, extend("additionalProperties" = false))]
pub struct AttemptView {
    #[schemars(with = "crate::contract::Timestamp")]
    pub at: String,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: Option<i64>,
    pub response: Option<String>,
}

/// The merchant's webhook endpoint, as the API shows it.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "WebhookEndpoint", extend("additionalProperties" = false))]
pub struct EndpointView {
    pub url: String,
    /// the types sent; empty means every type
    pub events: Vec<EventType>,
    #[schemars(with = "crate::contract::Timestamp")]
    pub updated_at: String,
    /// shown when the endpoint is created and when it is rotated, never again
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(pattern("^whsec_"))]
    pub secret: Option<String>,
}

/// One attempt to deliver an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    /// The HTTP status, when the endpoint answered.
    pub status: Option<u16>,
    /// Why there was no answer (refused address, time-out, connection error).
    pub error: Option<String>,
    pub duration_ms: i64,
    /// The first KB of the answer.
    pub response: String,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    pub fn view(&self) -> AttemptView {
        AttemptView {
            at: jst_timestamp(self.at),
            status: self.status,
            error: self.error.clone(),
            duration_ms: Some(self.duration_ms),
            response: Some(self.response.clone()),
        }
    }
}

/// An event for one merchant, its body fixed when it was written (every delivery sends the
/// same bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub merchant_id: String,
    pub kind: EventType,
    pub created_at: DateTime<Utc>,
    /// The JSON body as delivered: `{"id", "type", "created_at", "data"}`.
    pub body: String,
    pub status: EventStatus,
    pub attempts: Vec<Attempt>,
    /// Unix seconds of the next attempt while pending.
    pub next_attempt_at: Option<i64>,
    /// The invoice the event is about, if any.
    pub invoice_id: Option<String>,
}

/// `evt_` + base32(milliseconds since 1970 as 6 bytes ++ 10 random bytes): ids sort by time.
pub fn new_event_id(now: DateTime<Utc>) -> String {
    event_id_at(now, random_bytes::<10>())
}

/// The lowest id an event written at `at` or later can have (a key bound: ids sort by time).
pub fn event_id_floor(at: DateTime<Utc>) -> String {
    event_id_at(at, [0u8; 10])
}

fn event_id_at(at: DateTime<Utc>, tail: [u8; 10]) -> String {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    let mut raw = [0u8; 16];
    raw[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    raw[6..].copy_from_slice(&tail);
    format!("evt_{}", base32(&raw))
}

impl Event {
    /// A new event, due at once. `data` holds `invoice` (as GET returns it) and, where it
    /// applies, `payment` or `notice`.
    pub fn new(
        merchant_id: &str,
        kind: EventType,
        invoice_id: Option<&str>,
        data: Value,
        now: DateTime<Utc>,
    ) -> Self {
        let id = new_event_id(now);
        let body = json!({
            "id": id,
            "type": kind.as_str(),
            "created_at": jst_timestamp(now),
            "data": data,
        })
        .to_string();
        Event {
            id,
            merchant_id: merchant_id.to_string(),
            kind,
            created_at: now,
            body,
            status: EventStatus::Pending,
            attempts: Vec::new(),
            // The table's stream queues it at once; the sweep is the safety net.
            next_attempt_at: Some(now.timestamp() + QUEUED_GRACE_SECONDS),
            invoice_id: invoice_id.map(str::to_string),
        }
    }

    /// When to try again after `failed_attempts` failures, or `None` when the schedule is
    /// spent.
    pub fn retry_at(failed_attempts: usize, now: DateTime<Utc>) -> Option<i64> {
        let delay = RETRY_DELAYS.get(failed_attempts.checked_sub(1)?)?;
        Some(now.timestamp() + delay)
    }

    pub fn view(&self, with_attempts: bool) -> EventView {
        let mut body: Value = serde_json::from_str(&self.body).unwrap_or(Value::Null);
        EventView {
            id: self.id.clone(),
            kind: self.kind,
            created_at: jst_timestamp(self.created_at),
            status: self.status,
            attempt_count: self.attempts.len(),
            next_attempt_at: self
                .next_attempt_at
                .and_then(|t| DateTime::from_timestamp(t, 0))
                .map(jst_timestamp),
            data: body["data"].take(),
            attempts: with_attempts.then(|| self.attempts.iter().map(Attempt::view).collect()),
        }
    }
}

/// A signing secret: `whsec_` + base64 of 32 random bytes; the HMAC key is those bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub value: String,
    /// Set on a rotated-out secret: it signs until then.
    pub expires_at: Option<i64>,
}

pub fn new_secret() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(random_bytes::<32>())
    )
}

/// The `webhook-signature` header: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` for every
/// secret still valid at `now`, space-separated (Standard Webhooks allows several, so a
/// merchant rotating its secret verifies with either).
pub fn signature(secrets: &[Secret], id: &str, timestamp: i64, body: &str) -> String {
    let now = timestamp;
    secrets
        .iter()
        .filter(|s| s.expires_at.is_none_or(|e| e > now))
        .filter_map(|s| {
            let key = base64::engine::general_purpose::STANDARD
                .decode(s.value.strip_prefix("whsec_").unwrap_or(&s.value))
                .ok()?;
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
            mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
            Some(format!(
                "v1,{}",
                base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
            ))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The endpoint a merchant registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    /// The types sent; empty: all.
    pub events: Vec<EventType>,
    pub secrets: Vec<Secret>,
    pub updated_at: DateTime<Utc>,
}

impl Endpoint {
    /// A new endpoint, with a new secret.
    pub fn new(url: String, events: Vec<EventType>, now: DateTime<Utc>) -> Self {
        Endpoint {
            url,
            events,
            secrets: vec![Secret {
                value: new_secret(),
                expires_at: None,
            }],
            updated_at: now,
        }
    }

    /// The secret new deliveries are signed with first.
    pub fn current_secret(&self) -> Option<&str> {
        self.secrets.first().map(|s| s.value.as_str())
    }

    /// The endpoint with a new secret first; the others keep signing for
    /// [`ROTATION_OVERLAP_SECONDS`] at most, and the ended ones are dropped.
    pub fn rotated(self, now: DateTime<Utc>) -> Self {
        let until = now.timestamp() + ROTATION_OVERLAP_SECONDS;
        let mut secrets = vec![Secret {
            value: new_secret(),
            expires_at: None,
        }];
        for s in self.secrets {
            if s.expires_at.is_some_and(|x| x <= now.timestamp()) {
                continue;
            }
            secrets.push(Secret {
                expires_at: Some(s.expires_at.map_or(until, |x| x.min(until))),
                ..s
            });
        }
        Endpoint {
            secrets,
            updated_at: now,
            ..self
        }
    }

    pub fn wants(&self, kind: EventType) -> bool {
        kind == EventType::WebhookTest || self.events.is_empty() || self.events.contains(&kind)
    }

    pub fn view(&self) -> EndpointView {
        EndpointView {
            url: self.url.clone(),
            events: self.events.clone(),
            updated_at: jst_timestamp(self.updated_at),
            secret: None,
        }
    }
}

/// Whether loopback `http://` endpoints are allowed: only where the stack says so explicitly
/// (`WEBHOOK_ALLOW_LOOPBACK=true`: the local stack), never by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UrlPolicy {
    pub allow_loopback_http: bool,
}

impl UrlPolicy {
    pub fn from_env() -> Self {
        UrlPolicy {
            allow_loopback_http: std::env::var("WEBHOOK_ALLOW_LOOPBACK").as_deref() == Ok("true"),
        }
    }

    /// The URL as it is stored, once its form passes [`Self::check_url`] and its name resolves
    /// to an address the policy allows ([`Self::resolve`]): the API's and the console's check.
    pub async fn admit(&self, text: &str) -> Result<String, String> {
        let parsed = self.check_url(text)?;
        self.resolve(&parsed).await?;
        Ok(parsed.to_string())
    }

    /// Checks a URL's form (parsed by the `url` crate): https, a host, no credentials, at most
    /// 2,000 characters. Loopback `http://127.0.0.1:<port>` only where allowed.
    pub fn check_url(&self, text: &str) -> Result<url::Url, String> {
        if text.len() > 2000 {
            return Err("must be at most 2,000 characters".into());
        }
        let url = url::Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials".into());
        }
        if url.fragment().is_some() {
            return Err("must not have a fragment".into());
        }
        let host = url.host().ok_or("must name a host")?;
        match url.scheme() {
            "https" => Ok(url),
            "http"
                if self.allow_loopback_http
                    && matches!(host, url::Host::Ipv4(ip) if ip.is_loopback()) =>
            {
                Ok(url)
            }
            _ => Err("must be an https URL".into()),
        }
    }

    /// Refuses an address a delivery must never reach: loopback (unless allowed), private,
    /// link-local, carrier-grade NAT, unspecified, multicast, broadcast, documentation and
    /// cloud metadata addresses, in IPv4, IPv6 and IPv4-mapped IPv6.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let refused = match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                (v4.is_loopback() && !self.allow_loopback_http)
                    || v4.is_private()
                    || v4.is_link_local()
                    || v4.is_unspecified()
                    || v4.is_broadcast()
                    || v4.is_multicast()
                    || v4.is_documentation()
                    || o[0] == 0
                    || (o[0] == 100 && (64..128).contains(&o[1]))
                    || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                    || (o[0] == 198 && (18..20).contains(&o[1]))
                    || o[0] >= 240
            }
            IpAddr::V6(v6) => {
                let s = v6.segments();
                v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (s[0] & 0xfe00) == 0xfc00
                    || (s[0] & 0xffc0) == 0xfe80
                    || (s[0] & 0xffc0) == 0xfec0
                    || s[0] == 0x2001 && s[1] == 0x0db8
                    || s[0] == 0x64 && s[1] == 0xff9b
            }
        };
        if refused {
            Err(format!(
                "resolves to {ip}, an address webhooks may not reach (private, loopback, \
                 link-local or metadata)"
            ))
        } else {
            Ok(())
        }
    }

    /// Resolves the URL's host and checks every address; returns the first, to connect to it
    /// and nothing else (a second resolution could answer otherwise: DNS rebinding).
    pub async fn resolve(&self, url: &url::Url) -> Result<std::net::SocketAddr, String> {
        let port = url.port_or_known_default().ok_or("has no port")?;
        let addrs: Vec<std::net::SocketAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => vec![(IpAddr::V4(ip), port).into()],
            Some(url::Host::Ipv6(ip)) => vec![(IpAddr::V6(ip), port).into()],
            Some(url::Host::Domain(d)) => {
                let lookup = tokio::net::lookup_host((d, port));
                tokio::time::timeout(std::time::Duration::from_secs(3), lookup)
                    .await
                    .map_err(|_| "its host did not resolve in 3 s".to_string())?
                    .map_err(|e| format!("its host does not resolve: {e}"))?
                    .collect()
            }
            None => return Err("must name a host".into()),
        };
        if addrs.is_empty() {
            return Err("its host has no address".into());
        }
        for a in &addrs {
            self.check_ip(a.ip())?;
        }
        Ok(addrs[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_events_floor_sorts_before_every_id_of_its_instant_and_after_earlier_ones() {
        let at = Utc::now();
        let floor = event_id_floor(at);
        for _ in 0..50 {
            assert!(new_event_id(at) >= floor);
            assert!(new_event_id(at - chrono::Duration::milliseconds(1)) < floor);
        }
    }

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // The specification's example: secret, id, timestamp, payload and signature.
        let secret = Secret {
            value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            expires_at: None,
        };
        let sig = signature(
            &[secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_rotated_out_secret_signs_until_it_expires() {
        let old = Secret {
            value: new_secret(),
            expires_at: Some(1000),
        };
        let new = Secret {
            value: new_secret(),
            expires_at: None,
        };
        let both = signature(&[new.clone(), old.clone()], "m", 999, "{}");
        assert_eq!(both.split(' ').count(), 2);
        let after = signature(&[new.clone(), old], "m", 1000, "{}");
        assert_eq!(after, signature(&[new], "m", 1000, "{}"));
    }

    #[test]
    fn urls_and_addresses_that_webhooks_may_not_reach() {
        let strict = UrlPolicy::default();
        let local = UrlPolicy {
            allow_loopback_http: true,
        };
        assert!(strict.check_url("https://shop.example.jp/hooks").is_ok());
        for bad in [
            "http://shop.example.jp/hooks",
            "ftp://shop.example.jp/",
            "https://user:pw@shop.example.jp/",
            "https://[::1]:x/",
            "not a url",
            "http://127.0.0.1:8080/",
        ] {
            assert!(strict.check_url(bad).is_err(), "{bad}");
        }
        assert!(local.check_url("http://127.0.0.1:8080/").is_ok());
        assert!(local.check_url("http://10.0.0.1/").is_err());
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(strict.check_ip(ip).is_err(), "{ip}");
        }
        assert!(local.check_ip("127.0.0.1".parse().unwrap()).is_ok());
        assert!(local.check_ip("169.254.169.254".parse().unwrap()).is_err());
        assert!(strict.check_ip("203.0.114.7".parse().unwrap()).is_ok());
        assert!(strict.check_ip("2606:4700::1".parse().unwrap()).is_ok());
    }

    #[test]
    fn the_retry_schedule_spans_a_day_in_eight_attempts() {
        let now = DateTime::from_timestamp(0, 0).unwrap();
        let total: i64 = RETRY_DELAYS.iter().sum();
        assert!(total >= 24 * 3600);
        assert_eq!(RETRY_DELAYS.len() + 1, 8);
        assert_eq!(Event::retry_at(1, now), Some(5));
        assert_eq!(Event::retry_at(8, now), None);
    }

    #[test]
    fn event_ids_sort_by_time() {
        let a = new_event_id(DateTime::from_timestamp(1_800_000_000, 0).unwrap());
        let b = new_event_id(DateTime::from_timestamp(1_800_000_001, 0).unwrap());
        assert!(a < b);
    }
}
