//! Small helpers over DynamoDB's attribute maps.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

pub type Item = HashMap<String, AttributeValue>;

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

pub fn get_list_s(item: &Item, name: &str) -> Vec<String> {
    item.get(name)
        .and_then(|v| v.as_l().ok())
        .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
        .unwrap_or_default()
}

/// A stored item lacks a field it must have: the table holds something this code did not write.
#[derive(Debug, thiserror::Error)]
#[error("stored item is missing or has a bad '{0}'")]
pub struct Corrupt(pub &'static str);

pub fn req_s(item: &Item, name: &'static str) -> Result<String, Corrupt> {
    get_s(item, name).map(str::to_string).ok_or(Corrupt(name))
}

pub fn req_n(item: &Item, name: &'static str) -> Result<i64, Corrupt> {
    get_n(item, name).ok_or(Corrupt(name))
}
