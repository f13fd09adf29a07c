//! Registering an upload's good lines, in file order, each by the API's registration under the
//! key `csv-<file's SHA-256>-<line>` (the same file again registers nothing twice), a stored
//! chunk at a time, until the lines end or the time given runs out. The commit request runs it
//! for a short file; the background run (`worker`) for a long one. Two runs of one upload at
//! once (a re-sent message, a second press) only replay each other's lines: each chunk's
//! progress is recorded on condition nobody recorded it first.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use smartpit_invoices::InvoicesFunction;
use smartpit_shared::auth::Merchant;
use smartpit_shared::db::{UploadState, UPLOAD_LINES_PER_ITEM};
use smartpit_shared::idempotent::{fingerprint, Keyed};
use smartpit_shared::{Db, Problem};

use crate::form;

/// The page shows the first refusals (the counts hold them all).
const SHOWN_REFUSALS: usize = 200;

/// Runs the upload on from where it stands for at most `budget`; where it stands then.
pub async fn register_lines(
    db: &Db,
    invoices: &InvoicesFunction,
    merchant: &Merchant,
    id: &str,
    budget: Duration,
    now: DateTime<Utc>,
) -> Result<UploadState, Problem> {
    let gone = || Problem::of(smartpit_shared::Code::RouteNotFound);
    let mut state = db.upload_state(&merchant.id, id).await?.ok_or_else(gone)?;
    let until = Instant::now() + budget;
    while state.next < state.good && Instant::now() < until {
        let at = usize::try_from(state.next).unwrap_or(0);
        let lines = db
            .upload_lines(&merchant.id, id, at / UPLOAD_LINES_PER_ITEM)
            .await?;
        let todo: Vec<&(usize, String)> = lines.iter().skip(at % UPLOAD_LINES_PER_ITEM).collect();
        if todo.is_empty() {
            break;
        }
        let (mut registered, mut replayed, mut failures) = (0, 0, Vec::new());
        for (number, json) in &todo {
            let value: serde_json::Value =
                serde_json::from_str(json).map_err(|e| Problem::internal(&e))?;
            let body = serde_json::from_value(value.clone()).map_err(|e| Problem::internal(&e))?;
            let keyed = Keyed {
                key: format!("csv-{id}-{number}"),
                fingerprint: fingerprint("POST", "/v1/invoices", &value),
            };
            match invoices.register_as(merchant, &keyed, body, now).await {
                Ok(r) if r.headers().contains_key("idempotent-replayed") => replayed += 1,
                Ok(r) if r.status().is_success() => registered += 1,
                Ok(r) => failures.push(format!("{number}: HTTP {}", r.status().as_u16())),
                Err(p) if p.status().is_client_error() => {
                    let why: Vec<String> = form::errors_of(&p)
                        .into_iter()
                        .map(|(f, m)| if f.is_empty() { m } else { format!("{f}: {m}") })
                        .collect();
                    failures.push(format!(
                        "{number}: {} ({})",
                        why.join("; "),
                        p.code.as_str()
                    ));
                }
                Err(p) => return Err(p),
            }
        }
        let to = state.next + i64::try_from(todo.len()).unwrap_or(0);
        let refused = i64::try_from(failures.len()).unwrap_or(0);
        failures.truncate(SHOWN_REFUSALS.saturating_sub(state.failures.len()));
        let moved = db
            .advance_upload(
                &merchant.id,
                id,
                state.next,
                to,
                (registered, replayed, refused),
                &failures,
            )
            .await?;
        state = db.upload_state(&merchant.id, id).await?.ok_or_else(gone)?;
        if !moved {
            break;
        }
    }
    tracing::info!(merchant_id = %merchant.id, done = state.next, of = state.good, registered = state.registered, "bulk registration");
    Ok(state)
}
