//! The operator's batch of generic card numbers for the card printer: numbers drawn at random
//! and stored a hundred to a conditional transaction, then one CSV written locally and to S3.

use std::io::Write;
use std::path::Path;

use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use smartpit_shared::db::timestamp;
use smartpit_shared::db::NumberRecord;
use smartpit_shared::ids::{base32, random_bytes};
use smartpit_shared::issuance::{issue_grouped, Template};
use smartpit_shared::{Db, NumberKind};

pub struct Batch {
    pub id: String,
    pub numbers: Vec<NumberRecord>,
    pub s3_key: String,
}

/// The printer's file: a header, then one card a line.
pub fn csv(batch_id: &str, numbers: &[NumberRecord]) -> String {
    let mut out = String::with_capacity(numbers.len() * 48 + 64);
    out.push_str("smartpit_number,display,kind,batch_id,issued_at\n");
    for n in numbers {
        out.push_str(&format!(
            "{},{},card,{batch_id},{}\n",
            n.number,
            n.number.grouped(),
            n.created_at
        ));
    }
    out
}

pub async fn issue_cards(
    db: &Db,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    count: usize,
    out: &Path,
    show_progress: bool,
) -> Result<Batch, String> {
    if count == 0 {
        return Err("--count must be at least 1".into());
    }
    let now = Utc::now();
    let id = format!(
        "{}-{}",
        now.format("%Y%m%dT%H%M%SZ"),
        base32(&random_bytes::<5>())
    );
    let bar = if show_progress {
        ProgressBar::new(count as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {wide_bar} {pos}/{len} numbers ({rate}, {eta} left)",
        )
        .map_err(|e| e.to_string())?
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            },
        ),
    );
    let template = Template {
        kind: NumberKind::Card,
        merchant_id: None,
        expires_at: None,
    };
    let numbers = issue_grouped(db, &template, count, now, |n| bar.inc(n as u64))
        .await
        .map_err(|p| p.to_string())?;
    bar.finish();
    let text = csv(&id, &numbers);
    let mut file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    file.write_all(text.as_bytes())
        .map_err(|e| format!("{}: {e}", out.display()))?;
    let s3_key = format!("card-batches/{id}.csv");
    s3.put_object()
        .bucket(bucket)
        .key(&s3_key)
        .content_type("text/csv; charset=utf-8")
        .body(text.into_bytes().into())
        .send()
        .await
        .map_err(|e| {
            format!(
                "upload s3://{bucket}/{s3_key}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        })?;
    tracing::info!(batch = %id, count, created = %timestamp(now), "card batch issued");
    Ok(Batch {
        id,
        numbers,
        s3_key,
    })
}
