//! JSON bodies read strictly: a member named twice in one object is an error, never "the last
//! one wins" (a proxy, a log or a WAF that reads the first would see another request).

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

#[derive(Debug)]
pub enum Error {
    /// The member named twice (in whichever object it was).
    Duplicate(String),
    Syntax(serde_json::Error),
}

/// Parses one JSON document, refusing duplicate members at any depth.
pub fn parse(bytes: &[u8]) -> Result<Value, Error> {
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Strict(&duplicate)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    match (parsed, duplicate.into_inner()) {
        (_, Some(name)) => Err(Error::Duplicate(name)),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(Error::Syntax(e)),
    }
}

#[derive(Clone, Copy)]
struct Strict<'a>(&'a RefCell<Option<String>>);

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                let msg = format!("duplicate member {key:?}");
                *self.0.borrow_mut() = Some(key);
                return Err(de::Error::custom(msg));
            }
            let v = map.next_value_seed(self)?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dup(s: &str) -> Option<String> {
        match parse(s.as_bytes()) {
            Err(Error::Duplicate(n)) => Some(n),
            _ => None,
        }
    }

    #[test]
    fn same_values_as_serde_json() {
        let text = r#"{"a":1,"b":[1.5,-2,"x",null,true,{"c":{}}],"d":18446744073709551615}"#;
        let ours = parse(text.as_bytes()).ok();
        let theirs: Option<Value> = serde_json::from_str(text).ok();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn duplicates_at_any_depth_are_named() {
        assert_eq!(
            dup(r#"{"amount":1,"amount":300000}"#).as_deref(),
            Some("amount")
        );
        assert_eq!(
            dup(r#"{"customer":{"email":"a@b.jp","email":"c@d.jp"}}"#).as_deref(),
            Some("email")
        );
        assert_eq!(dup(r#"[{"x":1},{"x":1,"x":2}]"#).as_deref(), Some("x"));
        // Escapes name the same member.
        assert_eq!(dup(r#"{"a":1,"\u0061":2}"#).as_deref(), Some("a"));
        assert_eq!(dup(r#"{"a":1,"b":{"a":2}}"#), None);
    }

    #[test]
    fn syntax_errors_stay_syntax_errors() {
        assert!(matches!(parse(b"{\"a\":1,}"), Err(Error::Syntax(_))));
        assert!(matches!(parse(b"{} {}"), Err(Error::Syntax(_))));
        assert!(matches!(parse(b""), Err(Error::Syntax(_))));
    }
}
