//! Notices as stored on their invoice: a map attribute `notices`, one member per kind, so the
//! notifier updates one notice with `SET notices.<kind> = :notice` and a merchant's read of the
//! invoice stays one `GetItem`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::item::{self, get_s, Item};
use super::timestamp;
use crate::notice::{Notice, NoticeKind, NoticeStatus};

pub fn notice_attr(n: &Notice) -> AttributeValue {
    let mut m: Item = HashMap::new();
    if let Some(to) = &n.to {
        m.insert("to".into(), item::s(to));
    }
    m.insert("status".into(), item::s(n.status.as_str()));
    if let Some(r) = &n.reason {
        m.insert("reason".into(), item::s(r));
    }
    m.insert("at".into(), item::s(timestamp(n.at)));
    AttributeValue::M(m)
}

pub fn notices_attr(list: &[Notice]) -> AttributeValue {
    AttributeValue::M(
        list.iter()
            .map(|n| (n.kind.as_str().to_string(), notice_attr(n)))
            .collect(),
    )
}

/// The notices of an invoice item, in kind order; members this code does not know are skipped.
pub fn notices_of(it: &Item) -> Vec<Notice> {
    let Some(map) = it.get("notices").and_then(|v| v.as_m().ok()) else {
        return Vec::new();
    };
    let mut out: Vec<Notice> = map
        .iter()
        .filter_map(|(k, v)| {
            let m = v.as_m().ok()?;
            Some(Notice {
                kind: NoticeKind::parse(k)?,
                to: get_s(m, "to").map(str::to_string),
                status: NoticeStatus::parse(get_s(m, "status")?)?,
                reason: get_s(m, "reason").map(str::to_string),
                at: get_s(m, "at")
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc))?,
            })
        })
        .collect();
    out.sort_by_key(|n| n.kind);
    out
}
