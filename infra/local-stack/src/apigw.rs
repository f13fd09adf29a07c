//! API Gateway's HTTP API, locally: a request becomes the payload format 2.0 event AWS hands a
//! Lambda integration, and the function's answer (the 2.0 response format) becomes the HTTP
//! response. As AWS documents it ("Create AWS Lambda proxy integrations for HTTP APIs"): header
//! names lowercased, repeated headers and query parameters joined with commas, cookies moved
//! out of the headers into `cookies`, and a body that is not text base64-encoded.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use base64::Engine;
use http_body_util::Full;
use hyper::body::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

/// One request as API Gateway received it, matched to a route of the template.
pub struct Incoming<'a> {
    pub parts: &'a http::request::Parts,
    pub body: &'a [u8],
    /// The route's method and path pattern (`GET /v1/invoices/{id}`).
    pub route_key: String,
    pub path_parameters: &'a HashMap<String, String>,
    /// The client's address, from the connection (API Gateway never takes it from a header).
    pub peer: SocketAddr,
}

/// Content types API Gateway passes as text; every other body is base64-encoded.
fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || matches!(
            essence.as_str(),
            "application/json" | "application/xml" | "application/javascript"
        )
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
}

/// The payload format 2.0 event.
pub fn event(req: &Incoming<'_>) -> Value {
    let parts = req.parts;
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies: Vec<String> = Vec::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == http::header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string),
            );
            continue;
        }
        headers
            .entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let raw_query = parts.uri.query().unwrap_or_default();
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        query
            .entry(k.into_owned())
            .and_modify(|x| {
                x.push(',');
                x.push_str(&v);
            })
            .or_insert_with(|| v.into_owned());
    }
    let now = chrono::Utc::now();
    let host = headers.get("host").cloned().unwrap_or_default();
    let mut ev = json!({
        "version": "2.0",
        "routeKey": req.route_key,
        "rawPath": parts.uri.path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": crate::provision::LOCAL_ACCOUNT,
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or_default(),
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": req.peer.ip().to_string(),
                "userAgent": headers.get("user-agent").cloned().unwrap_or_default(),
            },
            "requestId": smartpit_shared::ids::base32(&smartpit_shared::ids::random_bytes::<10>()),
            "routeKey": req.route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        ev["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        ev["queryStringParameters"] = json!(query);
    }
    if !req.path_parameters.is_empty() {
        ev["pathParameters"] = json!(req.path_parameters);
    }
    if !req.body.is_empty() {
        let content_type = headers.get("content-type").map(String::as_str);
        match std::str::from_utf8(req.body) {
            Ok(text) if is_text(content_type) => ev["body"] = json!(text),
            _ => {
                ev["body"] = json!(base64::engine::general_purpose::STANDARD.encode(req.body));
                ev["isBase64Encoded"] = json!(true);
            }
        }
    }
    ev
}

/// The 2.0 response format a function answers with.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    status_code: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    multi_value_headers: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    cookies: Vec<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    is_base64_encoded: bool,
}

/// The HTTP response API Gateway makes of a function's answer; `Err` when the answer is not
/// one (API Gateway then answers 500).
pub fn response(answer: &[u8]) -> Result<hyper::Response<Full<Bytes>>, String> {
    let a: Answer = serde_json::from_slice(answer)
        .map_err(|e| format!("the function's answer is not a 2.0 response: {e}"))?;
    let body = match (a.body, a.is_base64_encoded) {
        (None, _) => Vec::new(),
        (Some(b), false) => b.into_bytes(),
        (Some(b), true) => base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| format!("the answer's base64 body: {e}"))?,
    };
    let mut out = hyper::Response::builder().status(a.status_code);
    for (name, value) in &a.headers {
        out = out.header(name, value);
    }
    for (name, values) in &a.multi_value_headers {
        if a.headers.contains_key(name) {
            continue;
        }
        for value in values {
            out = out.header(name, value);
        }
    }
    for cookie in &a.cookies {
        out = out.header(http::header::SET_COOKIE, cookie);
    }
    out.body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("the answer's headers: {e}"))
}

/// API Gateway's own answer when the integration failed (the function errored, timed out or
/// answered something that is not a response).
pub fn internal_error() -> hyper::Response<Full<Bytes>> {
    let mut resp = hyper::Response::new(Full::new(Bytes::from_static(
        br#"{"message":"Internal Server Error"}"#,
    )));
    *resp.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut b = http::Request::builder().method("POST").uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).map(|r| r.into_parts().0).expect("request")
    }

    #[test]
    fn a_request_becomes_the_documented_event() {
        let p = parts(
            "/s/abc/web-number?x=1&x=2&lang=ja",
            &[
                ("Host", "127.0.0.1:3000"),
                ("X-Thing", "a"),
                ("x-thing", "b"),
                ("Cookie", "a=1; b=2"),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
        );
        let params = HashMap::from([("token".to_string(), "abc".to_string())]);
        let ev = event(&Incoming {
            parts: &p,
            body: b"email=a%40b.jp",
            route_key: "POST /s/{token}/web-number".into(),
            path_parameters: &params,
            peer: "192.0.2.7:5555".parse().expect("addr"),
        });
        assert_eq!(ev["version"], "2.0");
        assert_eq!(ev["rawPath"], "/s/abc/web-number");
        assert_eq!(ev["rawQueryString"], "x=1&x=2&lang=ja");
        assert_eq!(ev["queryStringParameters"]["x"], "1,2");
        assert_eq!(ev["headers"]["x-thing"], "a,b");
        assert!(ev["headers"].get("cookie").is_none());
        assert_eq!(ev["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(ev["pathParameters"]["token"], "abc");
        assert_eq!(ev["requestContext"]["http"]["sourceIp"], "192.0.2.7");
        assert_eq!(ev["requestContext"]["stage"], "$default");
        // A form is not text to API Gateway: base64.
        assert_eq!(ev["isBase64Encoded"], true);
        assert_eq!(ev["body"], "ZW1haWw9YSU0MGIuanA=");
        // lambda_http reads it as AWS's own type.
        let parsed: lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest =
            serde_json::from_value(ev).expect("aws_lambda_events reads it");
        assert_eq!(parsed.raw_path.as_deref(), Some("/s/abc/web-number"));
    }

    #[test]
    fn an_answer_becomes_the_response() {
        let resp = response(
            br#"{"statusCode":201,"headers":{"content-type":"application/pdf"},
                 "cookies":["a=1; Secure","b=2"],"body":"JVBERg==","isBase64Encoded":true}"#,
        )
        .expect("response");
        assert_eq!(resp.status(), 201);
        let cookies: Vec<_> = resp.headers().get_all("set-cookie").iter().collect();
        assert_eq!(cookies.len(), 2);
        assert!(response(br#"{"body":"no status"}"#).is_err());
    }
}
