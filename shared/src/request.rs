//! Requests are the contract: every route's JSON body and query string is a serde type of its
//! function (`deny_unknown_fields`, each member typed), read here, then checked by a pass over the
//! typed value ([`Checked::check`]). Both kinds of mistake become one problem+json: a member of
//! the wrong shape (a string for a number, an unknown or twice-named member) as serde finds it,
//! with the path serde_path_to_error reports; every rule the value breaks (ranges, characters,
//! dates) at once, each under its field's path and code.

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::problem::{Code, FieldError, Problem};

/// Largest JSON body any route accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A request type: what serde reads, then what the value must also satisfy.
pub trait Checked: DeserializeOwned {
    /// The code a mistake in a member is answered with, by the member's path as clients write
    /// it (`amount`, `customer.email`, `invoice_ids[2]`).
    fn code_of(field: &str) -> Code;

    /// Every rule serde cannot see (lengths, characters, ranges, dates against today), each
    /// broken one reported to `report`. The default checks nothing.
    fn check(&self, now: DateTime<Utc>, report: &mut Report) {
        let _ = (now, report);
    }
}

/// The mistakes one request makes, so a client learns of them all at once.
#[derive(Debug, Default)]
pub struct Report {
    errors: Vec<FieldError>,
}

impl Report {
    pub fn push(&mut self, field: &str, code: Code, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, code, message));
    }

    /// A required member that is absent (or null).
    pub fn required<T>(&mut self, field: &str, code: Code, value: &Option<T>) {
        if value.is_none() {
            self.push(field, code, "is required");
        }
    }

    /// Text of 1..=max characters with nothing that hides or reorders it: no control, format
    /// (bidirectional overrides, zero-width characters, the BOM) or line and paragraph separator
    /// characters.
    pub fn text(&mut self, field: &str, code: Code, value: Option<&str>, max_chars: usize) {
        let Some(s) = value else { return };
        let n = s.chars().count();
        if n == 0 || s.trim().is_empty() {
            self.push(field, code, "must not be empty");
        } else if n > max_chars {
            self.push(
                field,
                code,
                format!("must be at most {max_chars} characters"),
            );
        } else if let Some(c) = crate::text::hidden_char(s) {
            self.push(field, code, format!("must not contain {c}"));
        }
    }

    /// An identifier merchants and stores choose: text of `[A-Za-z0-9._:/#-]` only.
    pub fn reference(&mut self, field: &str, code: Code, value: Option<&str>, max_chars: usize) {
        let before = self.errors.len();
        self.text(field, code, value, max_chars);
        if self.errors.len() == before && value.is_some_and(|s| !is_reference(s)) {
            self.push(field, code, "may hold only letters, digits and . _ : / # -");
        }
    }

    /// A mail address as SMTP takes it.
    pub fn mail_address(&mut self, field: &str, value: Option<&str>) {
        if let Some(Err(m)) = value.map(crate::mail_address::check) {
            self.push(field, Code::InvalidEmail, m);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
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

/// The body as `T`: its media type and size checked, read by serde, then checked.
pub fn json<T: Checked>(req: &Request, now: DateTime<Utc>) -> Result<T, Problem> {
    let bytes = json_bytes(req)?;
    let value = from_json::<T>(bytes)?;
    let mut report = Report::default();
    value.check(now, &mut report);
    report.finish()?;
    Ok(value)
}

/// A request built in code (a test helper's report in a chain's name), checked as a body is.
pub fn checked<T: Checked>(value: T, now: DateTime<Utc>) -> Result<T, Problem> {
    let mut report = Report::default();
    value.check(now, &mut report);
    report.finish()?;
    Ok(value)
}

/// As [`json`], for a route whose body may be left out (an empty body reads as `{}`).
pub fn json_or_empty<T: Checked>(req: &Request, now: DateTime<Utc>) -> Result<T, Problem> {
    let empty = match req.body() {
        Body::Empty => true,
        Body::Text(t) => t.trim().is_empty(),
        Body::Binary(b) => b.iter().all(u8::is_ascii_whitespace),
        _ => false,
    };
    if !empty {
        return json(req, now);
    }
    let value = from_json::<T>(b"{}")?;
    let mut report = Report::default();
    value.check(now, &mut report);
    report.finish()?;
    Ok(value)
}

/// The query string as `T` (each parameter's first value, as a string), then checked; a
/// parameter the route does not know is refused as a body's unknown member is.
pub fn query<T: Checked>(req: &Request, now: DateTime<Utc>) -> Result<T, Problem> {
    let params = req.query_string_parameters();
    let mut map = Map::new();
    for (name, _) in params.iter() {
        if let Some(v) = params.first(name) {
            map.insert(name.to_string(), Value::String(v.to_string()));
        }
    }
    let value: T = serde_path_to_error::deserialize(Value::Object(map))
        .map_err(|e| shape_problem::<T>(&path_of(e.path()), &e.inner().to_string()))?;
    let mut report = Report::default();
    value.check(now, &mut report);
    report.finish()?;
    Ok(value)
}

/// `T` from a JSON value, refused and checked as a body is (for unit tests of request types).
pub fn read_value<T: Checked>(value: &Value, now: DateTime<Utc>) -> Result<T, Problem> {
    let bytes = serde_json::to_vec(value).map_err(|e| Problem::internal(&e))?;
    let value = from_json::<T>(&bytes)?;
    let mut report = Report::default();
    value.check(now, &mut report);
    report.finish()?;
    Ok(value)
}

/// A listing's page size (`limit`): 1 to 100, 20 when left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub i32);

impl Default for Limit {
    fn default() -> Self {
        Limit(20)
    }
}

impl<'de> serde::Deserialize<'de> for Limit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<i32>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .map(Limit)
            .ok_or_else(|| serde::de::Error::custom("must be 1 to 100"))
    }
}

/// Reads a name from a closed list (a status, an event type) in a `Deserialize` impl: a name
/// not on it is refused with the list, `names`.
pub fn by_name<'de, D: serde::Deserializer<'de>, T>(
    d: D,
    parse: fn(&str) -> Option<T>,
    names: &str,
) -> Result<T, D::Error> {
    let text = String::deserialize(d)?;
    parse(&text).ok_or_else(|| serde::de::Error::custom(format!("must be one of {names}")))
}

/// The canonical form of the body a request sent (members sorted at every depth), for the
/// idempotency fingerprint; `{}` for an empty body. Call after [`json`] accepted it.
pub fn body_value(req: &Request) -> Value {
    serde_json::from_slice(req.body().as_ref()).unwrap_or_else(|_| Value::Object(Map::new()))
}

fn json_bytes(req: &Request) -> Result<&[u8], Problem> {
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
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
    Ok(bytes)
}

fn from_json<T: Checked>(bytes: &[u8]) -> Result<T, Problem> {
    // serde reads a struct from an array too (by position): a body is an object, said first.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        let syntax = serde_json::from_slice::<serde::de::IgnoredAny>(bytes).err();
        return Err(Problem::of(Code::MalformedJson).detail(match syntax {
            Some(e) => format!("The body is not valid JSON: {e}"),
            None => "The body must be a JSON object.".to_string(),
        }));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => v,
        Err(e) => {
            let path = path_of(e.path());
            let inner = e.into_inner();
            return Err(match inner.classify() {
                serde_json::error::Category::Data => {
                    shape_problem::<T>(&path, &without_position(&inner))
                }
                _ => Problem::of(Code::MalformedJson)
                    .detail(format!("The body is not valid JSON: {inner}")),
            });
        }
    };
    de.end().map_err(|e| {
        Problem::of(Code::MalformedJson).detail(format!("The body is not valid JSON: {e}"))
    })?;
    Ok(value)
}

/// serde_json's message without the " at line 1 column 23" it appends.
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// `customer.email`, `invoice_ids[2]`; empty for the body itself.
fn path_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Enum { variant } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(variant);
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// The name serde quotes in "unknown field `x`, expected ...", "duplicate field `x`", ...
fn quoted(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

/// A member serde refused, as the problem clients get: the member's path, its code, and what
/// serde said of it (its own words for types; ours where our types refuse a value).
fn shape_problem<T: Checked>(path: &str, message: &str) -> Problem {
    // serde_path_to_error names the member itself for some refusals, its object for others.
    let join = |name: &str| {
        if path == name || path.ends_with(&format!(".{name}")) {
            path.to_string()
        } else if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    if let Some(name) = message
        .strip_prefix("duplicate field ")
        .and_then(|_| quoted(message))
    {
        let field = join(name);
        return Problem::of(Code::DuplicateField)
            .detail(format!(
                "The member {field:?} is given more than once; send each member once."
            ))
            .about_field(field);
    }
    if message.starts_with("unknown field ") {
        if let Some(name) = quoted(message) {
            let field = join(name);
            return Problem::field(&field, Code::UnknownField, "is not a field of this request");
        }
    }
    if message.starts_with("missing field ") {
        if let Some(name) = quoted(message) {
            let field = join(name);
            return Problem::field(&field, T::code_of(&field), "is required");
        }
    }
    if path.is_empty() {
        return Problem::of(Code::MalformedJson).detail("The body must be a JSON object.");
    }
    Problem::field(path, T::code_of(path), readable(message))
}

/// serde's words for a wrong JSON type, in the words of this API.
fn readable(message: &str) -> String {
    match message.strip_prefix("invalid type: ") {
        Some(rest) => match rest.split_once(", expected ") {
            Some((got, wanted)) => format!("must be {wanted}, not {got}"),
            None => message.to_string(),
        },
        None => message.to_string(),
    }
}

/// A whole number as JSON writes one: never a string, a fraction or `true` (an amount, a
/// count). Its range is the request's check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Whole(pub i64);

impl<'de> Deserialize<'de> for Whole {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Whole;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Whole, E> {
                Ok(Whole(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Whole, E> {
                i64::try_from(v)
                    .map(Whole)
                    .map_err(|_| E::custom("is far too large"))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Whole, E> {
                Err(E::custom("must be a whole number, not a fraction"))
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Whole, E> {
                Err(E::custom("must be a JSON integer, not a string"))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Whole, E> {
                Err(E::custom("must be an integer, not true or false"))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// A member of a change: left out (kept), null (cleared), or a new value. Read with
/// `#[serde(default)]` so that a member left out is `Absent`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<T> Patch<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Patch<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(d).map(|o| o.map_or(Patch::Null, Patch::Value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // read by serde only: the tests are of what it refuses
    struct Order {
        name: Option<String>,
        amount: Option<Whole>,
        customer: Option<Customer>,
        #[serde(default)]
        ids: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Customer {
        email: Option<String>,
    }

    impl Checked for Order {
        fn code_of(field: &str) -> Code {
            match field {
                "amount" => Code::InvalidAmount,
                f if f.starts_with("customer") => Code::InvalidEmail,
                _ => Code::InvalidRequest,
            }
        }
        fn check(&self, _: DateTime<Utc>, r: &mut Report) {
            r.required("name", Code::InvalidMerchantOrderId, &self.name);
            r.reference(
                "name",
                Code::InvalidMerchantOrderId,
                self.name.as_deref(),
                8,
            );
            if self.amount.is_some_and(|a| a.0 < 1) {
                r.push("amount", Code::InvalidAmount, "must be at least 1");
            }
        }
    }

    fn read(body: &str) -> Result<Order, (Code, Value)> {
        let value = from_json::<Order>(body.as_bytes()).map_err(|p| (p.code, p.json()))?;
        let mut r = Report::default();
        value.check(Utc::now(), &mut r);
        r.finish().map_err(|p| (p.code, p.json()))?;
        Ok(value)
    }

    fn code(body: &str) -> Code {
        read(body).err().map_or(Code::InternalError, |(c, _)| c)
    }

    #[test]
    fn shapes_are_serdes_and_answered_with_the_members_code_and_path() {
        assert!(read(r#"{"name":"a","amount":3}"#).is_ok());
        assert!(read(r#"{"name":"a","amount":null,"customer":null}"#).is_ok());
        let (c, body) = read(r#"{"name":"a","amount":"3"}"#).expect_err("refused");
        assert_eq!(c, Code::InvalidAmount);
        assert_eq!(body["errors"][0]["field"], "amount");
        assert_eq!(
            body["errors"][0]["message"],
            "must be a JSON integer, not a string"
        );
        assert_eq!(code(r#"{"name":"a","amount":1.5}"#), Code::InvalidAmount);
        assert_eq!(code(r#"{"name":"a","amount":true}"#), Code::InvalidAmount);
        assert_eq!(
            code(r#"{"name":"a","amount":18446744073709551615}"#),
            Code::InvalidAmount
        );
        let (c, body) = read(r#"{"name":"a","customer":{"email":1}}"#).expect_err("refused");
        assert_eq!(c, Code::InvalidEmail);
        assert_eq!(body["errors"][0]["field"], "customer.email");
        let (c, body) = read(r#"{"name":"a","ids":["x",2]}"#).expect_err("refused");
        assert_eq!(c, Code::InvalidRequest);
        assert_eq!(body["errors"][0]["field"], "ids[1]");
    }

    #[test]
    fn unknown_and_twice_named_members_are_refused_at_any_depth() {
        let (c, body) = read(r#"{"name":"a","surprise":1}"#).expect_err("refused");
        assert_eq!(c, Code::UnknownField);
        assert_eq!(body["errors"][0]["field"], "surprise");
        let (c, body) = read(r#"{"name":"a","customer":{"mail":"x"}}"#).expect_err("refused");
        assert_eq!(c, Code::UnknownField);
        assert_eq!(body["errors"][0]["field"], "customer.mail");
        let (c, body) = read(r#"{"name":"a","amount":1,"amount":300000}"#).expect_err("refused");
        assert_eq!(c, Code::DuplicateField);
        assert_eq!(body["field"], "amount");
        let (c, body) = read(r#"{"name":"a","customer":{"email":"a@b.jp","email":"c@d.jp"}}"#)
            .expect_err("refused");
        assert_eq!(c, Code::DuplicateField);
        assert_eq!(body["field"], "customer.email");
    }

    #[test]
    fn what_is_not_a_json_object_is_malformed() {
        for body in [
            "",
            "{",
            "[1]",
            "\"x\"",
            "1",
            "null",
            r#"{"name":"a"} x"#,
            "{\"name\":\"a\",}",
        ] {
            assert_eq!(code(body), Code::MalformedJson, "{body}");
        }
    }

    #[test]
    fn every_broken_rule_is_reported_at_once() {
        let (c, body) = read(r#"{"amount":0}"#).expect_err("refused");
        assert_eq!(c, Code::InvalidMerchantOrderId);
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        assert_eq!(errors.len(), 2, "{body}");
        assert_eq!(errors[1]["code"], "invalid_amount");
        assert_eq!(code(r#"{"name":"a b"}"#), Code::InvalidMerchantOrderId);
        assert_eq!(
            code(r#"{"name":"123456789"}"#),
            Code::InvalidMerchantOrderId
        );
        assert_eq!(
            code("{\"name\":\"a\u{200b}\"}"),
            Code::InvalidMerchantOrderId
        );
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Listing {
        #[serde(default)]
        limit: Limit,
        cursor: Option<String>,
    }

    impl Checked for Listing {
        fn code_of(field: &str) -> Code {
            match field {
                "limit" => Code::InvalidLimit,
                _ => Code::InvalidCursor,
            }
        }
    }

    fn listing(query: &[(&str, &str)]) -> Result<Listing, Code> {
        let params: std::collections::HashMap<String, Vec<String>> = query
            .iter()
            .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
            .collect();
        let req = lambda_http::Request::default().with_query_string_parameters(params);
        super::query::<Listing>(&req, Utc::now()).map_err(|p| p.code)
    }

    #[test]
    fn query_strings_are_read_as_their_types() {
        assert_eq!(listing(&[]).map(|l| l.limit), Ok(Limit(20)));
        assert_eq!(
            listing(&[("limit", "100")]).map(|l| l.limit),
            Ok(Limit(100))
        );
        for bad in ["0", "101", "ten", "1.5", ""] {
            assert_eq!(
                listing(&[("limit", bad)]).err(),
                Some(Code::InvalidLimit),
                "{bad}"
            );
        }
        assert_eq!(
            listing(&[("limit", "5"), ("limt", "5")]).err(),
            Some(Code::UnknownField)
        );
    }

    #[test]
    fn serdes_words_are_made_readable() {
        assert_eq!(
            readable("invalid type: integer `1`, expected a string"),
            "must be a string, not integer `1`"
        );
    }
}
