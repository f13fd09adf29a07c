//! Issuing numbers: random, never sequential, each stored with a conditional write so that
//! no number is ever issued twice. Writes run a few at a time.

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::db::{Db, NumberRecord};
use crate::number::{NumberKind, SmartPitNumber};
use crate::problem::Problem;

/// Writes in flight at once while issuing a batch.
pub const CONCURRENCY: usize = 16;
/// Draws before giving up on one number (a collision in 10^10 is rare; many mean a bug).
const MAX_DRAWS: usize = 8;

/// What each new number starts as.
#[derive(Debug, Clone)]
pub struct Template {
    pub kind: NumberKind,
    pub merchant_id: Option<String>,
    pub expires_at: Option<i64>,
}

/// Issues one number, drawing again on the rare collision. One conditional write per draw.
pub async fn issue_one(
    db: &Db,
    template: &Template,
    customer_ref: Option<String>,
    now: DateTime<Utc>,
) -> Result<NumberRecord, Problem> {
    for _ in 0..MAX_DRAWS {
        let number = SmartPitNumber::random(template.kind, &mut rand::rng());
        let rec = NumberRecord {
            merchant_id: template.merchant_id.clone(),
            customer_ref: customer_ref.clone(),
            expires_at: template.expires_at,
            ..NumberRecord::new(number, template.kind, now)
        };
        if db.insert_number(&rec).await? {
            return Ok(rec);
        }
        tracing::warn!("number collision, drawing again");
    }
    Err(Problem::internal(&"could not draw a free number"))
}

/// Issues `refs.len()` numbers, in the order of `refs`, calling `progress` after each.
pub async fn issue_many(
    db: &Db,
    template: &Template,
    refs: Vec<Option<String>>,
    now: DateTime<Utc>,
    progress: impl Fn() + Sync,
) -> Result<Vec<NumberRecord>, Problem> {
    let progress = &progress;
    stream::iter(refs)
        .map(|r| async move {
            let rec = issue_one(db, template, r, now).await;
            progress();
            rec
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await
}
