//! The merchant's webhook endpoint and its events.

use chrono::{DateTime, Utc};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Map, Value};
use smartpit_shared::config::{OnFirstUse, Resources};
use smartpit_shared::http::{self as web, json_object, Fields};
use smartpit_shared::webhook::{
    new_secret, Endpoint, Event, EventStatus, EventType, Secret, ROTATION_OVERLAP_SECONDS,
};
use smartpit_shared::{auth, Db, Problem};

use crate::Settings;

pub struct WebhookApi {
    db: Db,
    sqs: OnFirstUse<aws_sdk_sqs::Client>,
    settings: Settings,
}

fn endpoint_not_found() -> Problem {
    Problem::not_found("webhook_endpoint_not_found", "Webhook endpoint")
        .detail("Set one with PUT /v1/webhook-endpoint.")
}

impl WebhookApi {
    pub fn new(sdk: &aws_config::SdkConfig, res: Resources, settings: Settings) -> Self {
        let sqs = crate::queue_client(sdk);
        WebhookApi {
            db: Db::new(sdk, res),
            sqs,
            settings,
        }
    }

    pub async fn handle(&self, req: Request) -> Response<Body> {
        web::respond(self.route(req, Utc::now()).await)
    }

    async fn route(&self, req: Request, now: DateTime<Utc>) -> Result<Response<Body>, Problem> {
        let (method, segments) = web::route(&req);
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match (segments.as_slice(), method) {
            (["v1", "webhook-endpoint"], Method::PUT) => self.put(&req, now).await,
            (["v1", "webhook-endpoint"], Method::GET) => self.get(&req).await,
            (["v1", "webhook-endpoint"], Method::DELETE) => self.delete(&req).await,
            (["v1", "webhook-endpoint", "rotate"], Method::POST) => self.rotate(&req, now).await,
            (["v1", "events"], Method::GET) => self.list(&req).await,
            (["v1", "events", id], Method::GET) => self.event(&req, id).await,
            (["v1", "events", id, "redeliver"], Method::POST) => {
                self.redeliver(&req, id, now).await
            }
            (["v1", "webhook-endpoint", ..] | ["v1", "events", ..], _) => {
                Err(Problem::method_not_allowed())
            }
            _ => Err(Problem::route_not_found()),
        }
    }

    /// `{"url", "events"?}`: sets the endpoint. A new endpoint gets a secret, shown in this
    /// answer only; changing the URL or types keeps the secret.
    async fn put(&self, req: &Request, now: DateTime<Utc>) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let body = json_object(req)?;
        let (url, events) = self.endpoint_request(&body).await?;
        let existing = self.db.get_endpoint(&merchant.id).await?;
        let created = existing.is_none();
        let secrets = existing.map(|e| e.secrets).unwrap_or_else(|| {
            vec![Secret {
                value: new_secret(),
                expires_at: None,
            }]
        });
        let endpoint = Endpoint {
            url,
            events,
            secrets,
            updated_at: now,
        };
        self.db.put_endpoint(&merchant.id, &endpoint).await?;
        let mut view = endpoint.view();
        if created {
            view["secret"] = json!(endpoint.secrets.first().map(|s| s.value.clone()));
        }
        Ok(web::json(StatusCode::OK, &view))
    }

    async fn endpoint_request(
        &self,
        body: &Map<String, Value>,
    ) -> Result<(String, Vec<EventType>), Problem> {
        let mut f = Fields::default();
        f.only_known(body, &["url", "events"]);
        let url = f.text(body, "url", "invalid_webhook_url", 2000, true);
        let mut events = Vec::new();
        match body.get("events") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for (i, v) in list.iter().enumerate() {
                    match v.as_str().and_then(EventType::parse) {
                        Some(t) if !events.contains(&t) => events.push(t),
                        Some(_) => {}
                        None => f.push(
                            &format!("events[{i}]"),
                            "invalid_event_type",
                            format!(
                                "must be one of {}",
                                EventType::ALL.map(|t| t.as_str()).join(", ")
                            ),
                        ),
                    }
                }
            }
            Some(_) => f.push("events", "invalid_event_type", "must be a list of types"),
        }
        f.finish()?;
        let url = url.ok_or_else(|| Problem::internal(&"validation passed without url"))?;
        let bad = |m: String| {
            Problem::validation(vec![smartpit_shared::problem::FieldError {
                field: "url".into(),
                code: "invalid_webhook_url",
                message: m,
            }])
        };
        let parsed = self.settings.url_policy.check_url(&url).map_err(bad)?;
        self.settings
            .url_policy
            .resolve(&parsed)
            .await
            .map_err(bad)?;
        Ok((parsed.to_string(), events))
    }

    async fn get(&self, req: &Request) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let e = self
            .db
            .get_endpoint(&merchant.id)
            .await?
            .ok_or_else(endpoint_not_found)?;
        Ok(web::json(StatusCode::OK, &e.view()))
    }

    async fn delete(&self, req: &Request) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        self.db.delete_endpoint(&merchant.id).await?;
        let mut resp = Response::new(Body::Empty);
        *resp.status_mut() = StatusCode::NO_CONTENT;
        Ok(resp)
    }

    /// A new secret; the current one keeps signing for 24 hours beside it.
    async fn rotate(&self, req: &Request, now: DateTime<Utc>) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let mut e = self
            .db
            .get_endpoint(&merchant.id)
            .await?
            .ok_or_else(endpoint_not_found)?;
        let until = now.timestamp() + ROTATION_OVERLAP_SECONDS;
        let fresh = Secret {
            value: new_secret(),
            expires_at: None,
        };
        let mut secrets = vec![fresh.clone()];
        for s in e.secrets {
            if s.expires_at.is_some_and(|x| x <= now.timestamp()) {
                continue;
            }
            secrets.push(Secret {
                expires_at: Some(s.expires_at.map_or(until, |x| x.min(until))),
                ..s
            });
        }
        e.secrets = secrets;
        e.updated_at = now;
        self.db.put_endpoint(&merchant.id, &e).await?;
        let mut view = e.view();
        view["secret"] = json!(fresh.value);
        Ok(web::json(StatusCode::OK, &view))
    }

    async fn list(&self, req: &Request) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let bad = |code: &'static str, title: &str| {
            Problem::new(StatusCode::BAD_REQUEST, code, title.to_string())
        };
        let kind = web::query_param(req, "type")
            .map(|t| {
                EventType::parse(&t).ok_or_else(|| bad("invalid_event_type", "Unknown event type"))
            })
            .transpose()?;
        let status = web::query_param(req, "status")
            .map(|s| {
                EventStatus::parse(&s).ok_or_else(|| {
                    bad("invalid_status", "Unknown event status")
                        .detail("Use pending, delivered, failed or skipped.")
                })
            })
            .transpose()?;
        let limit = web::limit_param(req)?;
        let cursor = web::query_param(req, "cursor");
        let page = self
            .db
            .list_events(&merchant.id, kind, status, limit, cursor.as_deref())
            .await?;
        let events: Vec<Value> = page.events.iter().map(|e| e.view(false)).collect();
        Ok(web::json(
            StatusCode::OK,
            &json!({"events": events, "next_cursor": page.next_cursor}),
        ))
    }

    /// The caller's event (another merchant's is not found).
    async fn own_event(&self, req: &Request, id: &str) -> Result<Event, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        self.db
            .get_event(&merchant.id, id)
            .await?
            .ok_or_else(|| Problem::not_found("event_not_found", "Event"))
    }

    async fn event(&self, req: &Request, id: &str) -> Result<Response<Body>, Problem> {
        let e = self.own_event(req, id).await?;
        Ok(web::json(StatusCode::OK, &e.view(true)))
    }

    /// Delivers an event again (also a failed or skipped one): due now, queued at once.
    async fn redeliver(
        &self,
        req: &Request,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let e = self.own_event(req, id).await?;
        self.db.make_due(&e, now).await?;
        crate::enqueue(
            self.sqs.get(),
            &self.settings.queue_url,
            &[(e.merchant_id.clone(), e.id.clone())],
        )
        .await
        .map_err(|m| Problem::unavailable(&m))?;
        let mut view = e.view(false);
        view["status"] = json!(EventStatus::Pending.as_str());
        Ok(web::json(StatusCode::ACCEPTED, &view))
    }
}
