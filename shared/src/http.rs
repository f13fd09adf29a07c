//! Reading requests and writing responses the same way in every function.

use crate::Code;
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::problem::{FieldError, Problem};

/// Largest JSON body any route accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

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

/// The body as a JSON object, after checking its media type and size.
pub fn json_object(req: &Request) -> Result<Map<String, Value>, Problem> {
    let content_type = header(req, "content-type").unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" {
        return Err(Problem::of(Code::UnsupportedMediaType));
    }
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Problem::of(Code::PayloadTooLarge)
            .detail(format!("The body may hold at most {MAX_BODY_BYTES} bytes.")));
    }
    let value = crate::strict_json::parse(bytes).map_err(|e| match e {
        crate::strict_json::Error::Duplicate(name) => Problem::of(Code::DuplicateField)
            .detail(format!(
                "The member {name:?} is given more than once; send each member once."
            ))
            .with("field", name),
        crate::strict_json::Error::Syntax(e) => {
            Problem::of(Code::MalformedJson).detail(format!("The body is not valid JSON: {e}"))
        }
    })?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(Problem::of(Code::MalformedJson).detail("The body must be a JSON object.")),
    }
}

/// Collects field errors while a body is read, so a client learns of every mistake at once.
#[derive(Default)]
pub struct Fields {
    pub errors: Vec<FieldError>,
}

impl Fields {
    pub fn push(&mut self, field: &str, code: Code, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.to_string(),
            code,
            message: message.into(),
        });
    }

    /// Refuses members the route does not know, so a misspelt field is never silently dropped.
    pub fn only_known(&mut self, body: &Map<String, Value>, known: &[&str]) {
        for key in body.keys() {
            if !known.contains(&key.as_str()) {
                self.push(key, Code::UnknownField, "is not a field of this request");
            }
        }
    }

    /// A string of 1..=max characters (trimmed of nothing) with nothing that hides or reorders
    /// text: no control, format (bidirectional overrides, zero-width characters, the BOM) or
    /// line and paragraph separator characters.
    pub fn text(
        &mut self,
        body: &Map<String, Value>,
        field: &str,
        code: Code,
        max_chars: usize,
        required: bool,
    ) -> Option<String> {
        match body.get(field) {
            None | Some(Value::Null) => {
                if required {
                    self.push(field, code, "is required");
                }
                None
            }
            Some(Value::String(s)) => {
                let n = s.chars().count();
                if n == 0 || s.trim().is_empty() {
                    self.push(field, code, "must not be empty");
                    None
                } else if n > max_chars {
                    self.push(
                        field,
                        code,
                        format!("must be at most {max_chars} characters"),
                    );
                    None
                } else if let Some(c) = crate::text::hidden_char(s) {
                    self.push(field, code, format!("must not contain {c}"));
                    None
                } else {
                    Some(s.clone())
                }
            }
            Some(_) => {
                self.push(field, code, "must be a string");
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), Problem> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Problem::validation(self.errors))
        }
    }
}

/// `[A-Za-z0-9._:/#-]`, for identifiers that merchants and stores choose.
pub fn is_reference(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._:/#-".contains(&b))
}

/// A listing's page size: `limit`, 1 to 100, 20 when absent.
pub fn limit_param(req: &Request) -> Result<i32, Problem> {
    match query_param(req, "limit") {
        None => Ok(20),
        Some(s) => s
            .parse::<i32>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .ok_or_else(|| Problem::of(Code::InvalidLimit)),
    }
}

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters()
        .first(name)
        .map(str::to_string)
}

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(text) => raw_json(status, text),
        Err(e) => Problem::internal(&e).into_response(),
    }
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
