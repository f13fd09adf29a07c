//! The merchant's webhook endpoint and its events.

use chrono::{DateTime, Utc};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use schemars::JsonSchema;
use serde::Deserialize;
use smartpit_shared::config::{OnFirstUse, Resources};
use smartpit_shared::http::{self as web};
use smartpit_shared::request::{self, Checked, Limit, Report};
use smartpit_shared::routes::Routes;
use smartpit_shared::webhook::{Event, EventStatus, EventType, EventView, UrlPolicy};
use smartpit_shared::Code;
use smartpit_shared::{auth, Db, Problem};
use std::sync::OnceLock;

use crate::Settings;

/// What each of the function's routes does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    PutEndpoint,
    GetEndpoint,
    DeleteEndpoint,
    RotateSecret,
    TestEvent,
    ListEvents,
    GetEvent,
    RedeliverEvent,
}

/// The function's routes, as infra/template.yaml routes them here (a test holds the two equal).
pub fn routes() -> &'static Routes<Route> {
    static ROUTES: OnceLock<Routes<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        Routes::new()
            .add(Method::PUT, "/v1/webhook-endpoint", Route::PutEndpoint)
            .add(Method::GET, "/v1/webhook-endpoint", Route::GetEndpoint)
            .add(
                Method::DELETE,
                "/v1/webhook-endpoint",
                Route::DeleteEndpoint,
            )
            .add(
                Method::POST,
                "/v1/webhook-endpoint/rotate",
                Route::RotateSecret,
            )
            .add(Method::POST, "/v1/webhook-endpoint/test", Route::TestEvent)
            .add(Method::GET, "/v1/events", Route::ListEvents)
            .add(Method::GET, "/v1/events/{id}", Route::GetEvent)
            .add(
                Method::POST,
                "/v1/events/{id}/redeliver",
                Route::RedeliverEvent,
            )
    })
}

/// `PUT /v1/webhook-endpoint`: the HTTPS address events go to, and the types it takes (all
/// when left out).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "WebhookEndpointRequest")]
pub struct PutEndpoint {
    #[schemars(required, with = "String", url, length(max = 2000))]
    pub url: Option<String>,
    pub events: Option<Vec<EventType>>,
}

/// Longest endpoint URL.
pub const URL_CHARS: usize = 2000;

impl Checked for PutEndpoint {
    fn code_of(field: &str) -> Code {
        match field {
            "url" => Code::InvalidWebhookUrl,
            _ => Code::InvalidEventType,
        }
    }

    fn check(&self, _: DateTime<Utc>, r: &mut Report) {
        r.required("url", Code::InvalidWebhookUrl, &self.url);
        r.text(
            "url",
            Code::InvalidWebhookUrl,
            self.url.as_deref(),
            URL_CHARS,
        );
    }
}

/// `GET /v1/events?type=&status=&limit=&cursor=`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListEvents {
    /// only the events of this type
    #[serde(rename = "type")]
    pub kind: Option<EventType>,
    /// only the events in this delivery state
    pub status: Option<EventStatus>,
    #[serde(default)]
    pub limit: Limit,
    /// The `next_cursor` of the previous page of the same listing
    pub cursor: Option<String>,
}

impl Checked for ListEvents {
    fn code_of(field: &str) -> Code {
        match field {
            "type" => Code::InvalidEventType,
            "status" => Code::InvalidStatus,
            "limit" => Code::InvalidLimit,
            _ => Code::InvalidCursor,
        }
    }
}

/// A page of `GET /v1/events`, newest first.
#[derive(Debug, serde::Serialize, JsonSchema)]
#[schemars(rename = "EventPage", extend("additionalProperties" = false))]
pub struct EventPageAnswer {
    pub events: Vec<EventView>,
    /// Pass as `cursor` for the next page; null on the last
    pub next_cursor: Option<String>,
}

/// The endpoint's address, once the URL policy allows it (and its name resolves to an address
/// it allows), and its event types, each once: the API's and the console's check.
pub async fn endpoint_request(
    policy: &UrlPolicy,
    body: PutEndpoint,
) -> Result<(String, Vec<EventType>), Problem> {
    let url = body
        .url
        .ok_or_else(|| Problem::internal(&"a checked endpoint without its url"))?;
    let mut events = Vec::new();
    for t in body.events.unwrap_or_default() {
        if !events.contains(&t) {
            events.push(t);
        }
    }
    let url = policy
        .admit(&url)
        .await
        .map_err(|m| Problem::field("url", Code::InvalidWebhookUrl, m))?;
    Ok((url, events))
}

pub struct WebhookApi {
    db: Db,
    sqs: OnFirstUse<aws_sdk_sqs::Client>,
    settings: Settings,
}

fn endpoint_not_found() -> Problem {
    Problem::of(Code::WebhookEndpointNotFound).detail("Set one with PUT /v1/webhook-endpoint.")
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
        let found = routes()
            .find(req.method(), req.uri().path())
            .map_err(|miss| miss.problem())?;
        let id = found.param("id");
        match found.route {
            Route::PutEndpoint => self.put(&req, now).await,
            Route::GetEndpoint => self.get(&req).await,
            Route::DeleteEndpoint => self.delete(&req).await,
            Route::RotateSecret => self.rotate(&req, now).await,
            Route::TestEvent => self.test(&req, now).await,
            Route::ListEvents => self.list(&req).await,
            Route::GetEvent => self.event(&req, id).await,
            Route::RedeliverEvent => self.redeliver(&req, id, now).await,
        }
    }

    /// `{"url", "events"?}`: sets the endpoint. A new endpoint gets a secret, shown in this
    /// answer only; changing the URL or types keeps the secret.
    async fn put(&self, req: &Request, now: DateTime<Utc>) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let body: PutEndpoint = request::json(req, now)?;
        let (url, events) = endpoint_request(&self.settings.url_policy, body).await?;
        let (endpoint, secret) = self.db.set_endpoint(&merchant.id, url, events, now).await?;
        let mut view = endpoint.view();
        view.secret = secret;
        Ok(web::json(StatusCode::OK, &view))
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
        let (e, secret) = self
            .db
            .rotate_endpoint_secret(&merchant.id, now)
            .await?
            .ok_or_else(endpoint_not_found)?;
        let mut view = e.view();
        view.secret = Some(secret);
        Ok(web::json(StatusCode::OK, &view))
    }

    /// A `webhook.test` event to the endpoint, delivered and signed as every event is.
    async fn test(&self, req: &Request, now: DateTime<Utc>) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let event = self
            .db
            .send_test_event(&merchant.id, now)
            .await?
            .ok_or_else(endpoint_not_found)?;
        tracing::info!(merchant_id = %merchant.id, event_id = %event.id, "webhook test event");
        Ok(web::json(StatusCode::ACCEPTED, &event.view(false)))
    }

    async fn list(&self, req: &Request) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let q: ListEvents = request::query(req, chrono::Utc::now())?;
        let page = self
            .db
            .list_events(
                &merchant.id,
                q.kind,
                q.status,
                q.limit.0,
                q.cursor.as_deref(),
            )
            .await?;
        let events: Vec<EventView> = page.events.iter().map(|e| e.view(false)).collect();
        Ok(web::json(
            StatusCode::OK,
            &EventPageAnswer {
                events,
                next_cursor: page.next_cursor,
            },
        ))
    }

    /// The caller's event (another merchant's is not found).
    async fn own_event(&self, req: &Request, id: &str) -> Result<Event, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        self.db
            .get_event(&merchant.id, id)
            .await?
            .ok_or_else(|| Problem::of(Code::EventNotFound))
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
        view.status = EventStatus::Pending;
        Ok(web::json(StatusCode::ACCEPTED, &view))
    }
}

/// What its `main` runs ([`smartpit_shared::lambda::http`]) and the local stack builds.
impl smartpit_shared::lambda::HttpFunction for WebhookApi {
    fn configured(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        Ok(WebhookApi::new(sdk, res, crate::Settings::from_vars(vars)?))
    }

    fn serve(&self, req: Request) -> impl std::future::Future<Output = Response<Body>> + Send {
        self.handle(req)
    }
}

#[cfg(test)]
mod api_gateway_events {
    use super::*;
    use smartpit_shared::lambda::answer_offline;

    /// API Gateway's own event shape, read by lambda_http, routed, answered without AWS.
    #[tokio::test]
    async fn the_events_listing_without_a_key_is_refused_before_any_call() {
        // The template gives it its queue.
        let vars = [(
            "WEBHOOK_QUEUE_URL".to_string(),
            "http://127.0.0.1:9/q".to_string(),
        )]
        .into();
        let (status, body) = answer_offline::<WebhookApi>(
            include_str!("../fixtures/apigw-v2-list-events.json"),
            &vars,
        )
        .await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("\"unauthorized\""), "{body}");
    }
}
