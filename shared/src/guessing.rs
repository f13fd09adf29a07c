//! Refusing number guessers: past `limit` failed lookups in a minute, a caller's lookups (all of
//! them, hits too, or a guesser would learn from which answers are not 429) are refused until
//! the minute ends. The count is shared (DynamoDB, `db::abuse`); the refusal is remembered per
//! process, so each warm function learns it from its own next miss and then needs no call.

use crate::Code;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, Utc};

use crate::problem::Problem;

/// Failed lookups a caller may make in a minute when the environment says nothing.
pub const DEFAULT_MISSES_PER_MINUTE: i64 = 120;

fn blocked() -> &'static Mutex<HashMap<String, i64>> {
    static B: OnceLock<Mutex<HashMap<String, i64>>> = OnceLock::new();
    B.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Until when (Unix seconds) `who` is refused, if it is now.
pub fn refused_until(who: &str, now: DateTime<Utc>) -> Option<i64> {
    let b = blocked().lock().ok()?;
    b.get(who).copied().filter(|u| *u > now.timestamp())
}

/// Remembers that `who` went past its limit in this minute.
pub fn refuse(who: &str, now: DateTime<Utc>) -> i64 {
    let until = (now.timestamp() / 60 + 1) * 60;
    if let Ok(mut b) = blocked().lock() {
        b.retain(|_, u| *u > now.timestamp());
        b.insert(who.to_string(), until);
    }
    until
}

/// The 429 answer, with `Retry-After`.
pub fn too_many(until: i64, now: DateTime<Utc>) -> Problem {
    let wait = (until - now.timestamp()).max(1);
    tracing::warn!(retry_after = wait, "number guessing throttled");
    Problem::of(Code::TooManyFailedLookups)
        .detail(format!(
            "This key looked up more numbers without a bill in a minute than a store does. \
             Retry after {wait} s."
        ))
        .header(http::header::RETRY_AFTER, &wait.to_string())
}

/// The limit from the environment's `MISSES_PER_MINUTE`.
pub fn limit_from(vars: Option<&str>) -> i64 {
    vars.and_then(|v| v.parse().ok())
        .filter(|n: &i64| *n > 0)
        .unwrap_or(DEFAULT_MISSES_PER_MINUTE)
}
