//! Reading requests and writing responses the same way in every function.

use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use crate::problem::Problem;

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(req: &Request) -> Option<&str> {
    let value = req
        .headers()
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(text) => raw_json(status, text),
        Err(e) => Problem::internal(&e).into_response(),
    }
}

/// 302 to a presigned URL of a private file: never cached, never passed on as a referrer.
pub fn private_redirect(location: &str) -> Result<Response<Body>, Problem> {
    let location = HeaderValue::from_str(location).map_err(|e| Problem::internal(&e))?;
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::FOUND;
    let h = resp.headers_mut();
    h.insert(http::header::LOCATION, location);
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        http::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(resp)
}

/// A JSON answer; the body ends with a newline, so a terminal prompt never lands on it.
pub fn raw_json(status: StatusCode, mut text: String) -> Response<Body> {
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let mut resp = Response::new(Body::Text(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Serves one request on Lambda and logs one line for it: the route key (never the path, which
/// may hold a sheet link's token), the status and the handler's time. It runs inside the
/// runtime's invocation span, so the JSON line carries Lambda's `requestId`.
pub async fn served<F, Fut>(req: Request, handle: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response<Body>>,
{
    let route = route_key(&req);
    let start = std::time::Instant::now();
    let resp = handle(req).await;
    tracing::info!(
        route = %route,
        status = resp.status().as_u16(),
        duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        "request served"
    );
    resp
}

/// API Gateway's route key (`GET /v1/invoices/{id}`), or the method alone.
fn route_key(req: &Request) -> String {
    use lambda_http::request::RequestContext;
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => c
            .route_key
            .clone()
            .unwrap_or_else(|| req.method().to_string()),
        _ => req.method().to_string(),
    }
}

/// The client's address as API Gateway saw the connection (never a header the client wrote).
pub fn source_ip(req: &Request) -> Option<String> {
    use lambda_http::request::RequestContext;
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => c.http.source_ip.clone(),
        _ => None,
    }
}

/// Turns a handler's outcome into the response Lambda returns.
pub fn respond(outcome: Result<Response<Body>, Problem>) -> Response<Body> {
    outcome.unwrap_or_else(Problem::into_response)
}
