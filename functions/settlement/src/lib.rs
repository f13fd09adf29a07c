//! Settlement (確報): a store chain puts one file per JST business day in the settlements
//! bucket (`settlements/<chain>/<YYYYMMDD>.csv`); its arrival (an S3 event) runs this function,
//! which matches every line to the payment the chain's store reported (速報):
//!
//! - matched, same amount and store, still `completed`: the payment and its invoices become
//!   `settled`, with one `invoice.settled` event per invoice, in one transaction;
//! - everything else is a mismatch, written to `settlements/<chain>/<YYYYMMDD>.report.csv`:
//!   unparseable or repeated lines (with their line numbers), lines with no recorded payment,
//!   another amount or store, voided payments the chain still lists, and payments recorded on
//!   that day that the file leaves out.
//!
//! A file delivered again, or corrected and delivered again, settles only what is not settled
//! yet: every settling write is conditional on the payment being `completed`. The summary of
//! the latest run is stored (`smartpit settlement show`).

use std::collections::{HashMap, HashSet};

use aws_lambda_events::event::s3::S3Event;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use smartpit_shared::config::{OnFirstUse, Resources};
use smartpit_shared::db::{Payment, PaymentStatus, SettleResult};
use smartpit_shared::ids::payment_id;
use smartpit_shared::invoice::jst_timestamp;
use smartpit_shared::settlement::{
    count_by_kind, parse_file, report_csv, FileKey, Mismatch, MismatchKind, SettlementLine,
};
use smartpit_shared::timeouts::{BACKGROUND_DYNAMODB, SETTLEMENT_FILE};
use smartpit_shared::{Db, InvoiceId, Problem};

/// The (bucket, key) of every object an S3 notification names. S3 sends keys URL-encoded
/// (`+` for a space, `%xx` for other bytes): decoded here, as the objects are named.
pub fn objects(event: &S3Event) -> Vec<(String, String)> {
    event
        .records
        .iter()
        .filter_map(|r| {
            let bucket = r.s3.bucket.name.clone()?;
            let key = r.s3.object.key.as_deref()?.replace('+', " ");
            let key = percent_encoding::percent_decode_str(&key)
                .decode_utf8()
                .ok()?
                .into_owned();
            Some((bucket, key))
        })
        .collect()
}

/// The largest settlement file taken (200,000 lines are about 14 MB).
pub const MAX_FILE_BYTES: i64 = 32 * 1024 * 1024;

pub struct SettlementFunction {
    db: Db,
    s3: OnFirstUse<aws_sdk_s3::Client>,
}

/// Why a file could not be reconciled now (the event is retried).
#[derive(Debug)]
pub struct Failed(pub String);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failed {}

impl From<Problem> for Failed {
    fn from(p: Problem) -> Self {
        Failed(p.to_string())
    }
}

impl From<smartpit_shared::db::StoreError> for Failed {
    fn from(e: smartpit_shared::db::StoreError) -> Self {
        Failed::from(Problem::from(e))
    }
}

impl SettlementFunction {
    pub fn new(sdk: &aws_config::SdkConfig, res: Resources) -> Self {
        Self::with_limits(sdk, res, BACKGROUND_DYNAMODB)
    }

    /// With other DynamoDB time limits (the benchmark's emulator copies a whole table on each
    /// transaction, which takes seconds at 10,000 payments).
    pub fn with_limits(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        dynamodb: smartpit_shared::timeouts::CallProfile,
    ) -> Self {
        let for_s3 = sdk.clone();
        SettlementFunction {
            db: Db::with_profile(sdk, res, dynamodb),
            s3: OnFirstUse::new(move || {
                let conf = aws_sdk_s3::config::Builder::from(&for_s3)
                    .force_path_style(true)
                    .timeout_config(SETTLEMENT_FILE.timeouts())
                    .retry_config(SETTLEMENT_FILE.retries())
                    .interceptor(smartpit_shared::calls::CountCalls)
                    .build();
                aws_sdk_s3::Client::from_conf(conf)
            }),
        }
    }

    /// An S3 event in (one or more created objects); the summary of each settlement file out.
    /// Objects that are not settlement files (the reports this function writes next to them)
    /// are skipped. Keys are taken as S3 sends them, URL-encoded: a settlement file's key has
    /// only characters that encoding leaves alone. The bucket is the event's (naming it in the
    /// function's environment would make the template's bucket and function depend on each
    /// other).
    pub async fn handle(&self, event: Value) -> Result<Value, Failed> {
        let event: S3Event = serde_json::from_value(event)
            .map_err(|e| Failed(format!("not an S3 event notification: {e}")))?;
        self.handle_event(&event).await
    }

    /// The files an S3 notification announces (read through its own type, as on Lambda),
    /// each reconciled; objects that are not settlement files are passed by.
    pub async fn handle_event(&self, event: &S3Event) -> Result<Value, Failed> {
        let mut out = Vec::new();
        for (bucket, key) in objects(event) {
            let Some(file) = FileKey::parse(&key) else {
                continue;
            };
            out.push(self.reconcile(&bucket, &file, Utc::now()).await?);
        }
        Ok(json!({ "files": out }))
    }

    /// Reconciles the stored file of a chain and day, writes its report and summary, and
    /// returns the summary. Safe to run any number of times.
    pub async fn reconcile(
        &self,
        bucket: &str,
        file: &FileKey,
        now: DateTime<Utc>,
    ) -> Result<Value, Failed> {
        let (bytes, etag) = self.read_file(bucket, file).await?;
        let mut summary = match parse_file(&bytes) {
            Ok(parsed) => {
                let lines = parsed.lines.len() + parsed.problems.len();
                let mut outcome = self.match_lines(file, &parsed.lines, now).await?;
                outcome.mismatches.extend(parsed.problems);
                self.write_report(bucket, file, &outcome.mismatches).await?;
                outcome.summary(file, lines)
            }
            Err(why) => {
                let m = Mismatch {
                    kind: MismatchKind::Unparseable,
                    line: Some(1),
                    store_transaction_id: String::new(),
                    store_code: String::new(),
                    file_amount: None,
                    recorded_amount: None,
                    payment_id: None,
                    detail: format!("the whole file was refused: {why}"),
                };
                let mut s = Outcome::default().summary(file, 0);
                s["status"] = json!("refused");
                s["error"] = json!(why);
                s["mismatches"] = json!(count_by_kind(std::slice::from_ref(&m)));
                s["mismatch_total"] = json!(1);
                self.write_report(bucket, file, &[m]).await?;
                s
            }
        };
        summary["etag"] = json!(etag);
        summary["processed_at"] = json!(now
            .with_timezone(&smartpit_shared::clock::jst())
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, false));
        self.db.put_settlement_summary(file, &summary, now).await?;
        tracing::info!(
            chain = %file.chain_id,
            date = %file.date,
            lines = summary["lines"].as_u64().unwrap_or(0),
            settled_now = summary["settled_now"].as_u64().unwrap_or(0),
            mismatches = summary["mismatch_total"].as_u64().unwrap_or(0),
            "settlement file reconciled"
        );
        Ok(summary)
    }

    async fn read_file(&self, bucket: &str, file: &FileKey) -> Result<(Vec<u8>, String), Failed> {
        let obj = self
            .s3
            .get()
            .get_object()
            .bucket(bucket)
            .key(file.key())
            .send()
            .await
            .map_err(|e| Failed(format!("reading {}: {e}", file.key())))?;
        if obj.content_length().unwrap_or(0) > MAX_FILE_BYTES {
            return Err(Failed(format!(
                "{} is larger than {MAX_FILE_BYTES} bytes",
                file.key()
            )));
        }
        let etag = obj
            .e_tag()
            .unwrap_or_default()
            .trim_matches('"')
            .to_string();
        let bytes = obj
            .body
            .collect()
            .await
            .map_err(|e| Failed(format!("reading {}: {e}", file.key())))?
            .into_bytes()
            .to_vec();
        Ok((bytes, etag))
    }

    async fn write_report(
        &self,
        bucket: &str,
        file: &FileKey,
        mismatches: &[Mismatch],
    ) -> Result<(), Failed> {
        let body = report_csv(mismatches).map_err(Failed)?;
        self.s3
            .get()
            .put_object()
            .bucket(bucket)
            .key(file.report_key())
            .content_type("text/csv; charset=utf-8")
            .body(body.into())
            .send()
            .await
            .map_err(|e| Failed(format!("writing {}: {e}", file.report_key())))?;
        Ok(())
    }

    /// Matches the file's lines with the recorded payments and settles what matches.
    async fn match_lines(
        &self,
        file: &FileKey,
        lines: &[SettlementLine],
        now: DateTime<Utc>,
    ) -> Result<Outcome, Failed> {
        let ids: Vec<String> = lines
            .iter()
            .map(|l| payment_id(&file.chain_id, &l.store_transaction_id))
            .collect();
        let recorded = self.db.get_payments(&ids).await?;
        let mut out = Outcome::default();
        let mut to_settle: Vec<(&SettlementLine, &Payment)> = Vec::new();
        for (line, id) in lines.iter().zip(&ids) {
            let mismatch = |kind, recorded_amount: Option<i64>, detail: &str| Mismatch {
                kind,
                line: Some(line.line),
                store_transaction_id: line.store_transaction_id.clone(),
                store_code: line.store_code.clone(),
                file_amount: Some(line.amount),
                recorded_amount,
                payment_id: recorded_amount.map(|_| id.clone()),
                detail: detail.to_string(),
            };
            let Some(p) = recorded.get(id) else {
                out.mismatches.push(mismatch(
                    MismatchKind::NotRecorded,
                    None,
                    "no payment of this chain has this store_transaction_id",
                ));
                continue;
            };
            let found = |kind, detail: &str| mismatch(kind, Some(p.amount), detail);
            if p.status == PaymentStatus::Voided {
                out.mismatches.push(found(
                    MismatchKind::VoidedInFile,
                    "the store voided this payment (速報取消); it was not settled",
                ));
            } else if p.amount != line.amount {
                out.mismatches.push(found(
                    MismatchKind::AmountDiffers,
                    "the recorded amount differs; it was not settled",
                ));
            } else if p.store_code != line.store_code {
                out.mismatches.push(found(
                    MismatchKind::StoreDiffers,
                    &format!("recorded at store {}; it was not settled", p.store_code),
                ));
            } else if p.status == PaymentStatus::Settled {
                out.matched(p.amount);
                out.already_settled += 1;
            } else {
                to_settle.push((line, p));
            }
        }
        // Recorded on the file's day, not in the file (voided ones are rightly absent).
        let in_file: HashSet<&str> = ids.iter().map(String::as_str).collect();
        for p in self
            .db
            .chain_day_payments(&file.chain_id, file.date)
            .await?
        {
            if p.status != PaymentStatus::Voided && !in_file.contains(p.id.as_str()) {
                out.mismatches.push(Mismatch {
                    kind: MismatchKind::MissingFromFile,
                    line: None,
                    store_transaction_id: p.store_transaction_id.clone(),
                    store_code: p.store_code.clone(),
                    file_amount: None,
                    recorded_amount: Some(p.amount),
                    payment_id: Some(p.id.clone()),
                    detail: format!(
                        "recorded at {} and not in the file",
                        jst_timestamp(p.created_at)
                    ),
                });
            }
        }
        let invoice_ids: Vec<InvoiceId> = to_settle
            .iter()
            .flat_map(|(_, p)| p.lines.iter())
            .filter_map(|l| InvoiceId::parse(&l.invoice_id))
            .collect();
        let invoices = self.db.get_invoices_by_id(&invoice_ids).await?;
        let payments: Vec<Payment> = to_settle.iter().map(|(_, p)| (*p).clone()).collect();
        let results: HashMap<String, SettleResult> = self
            .db
            .settle_payments(file, &payments, &invoices, now)
            .await?;
        for (line, p) in to_settle {
            match results.get(&p.id) {
                Some(SettleResult::Settled) => {
                    out.matched(p.amount);
                    out.settled_now += 1;
                    out.settled_invoices_now += p.lines.len();
                }
                Some(SettleResult::AlreadySettled(_)) => {
                    out.matched(p.amount);
                    out.already_settled += 1;
                }
                Some(SettleResult::InvoiceNotPaid(invoice)) => out.mismatches.push(Mismatch {
                    kind: MismatchKind::NotSettleable,
                    line: Some(line.line),
                    store_transaction_id: line.store_transaction_id.clone(),
                    store_code: line.store_code.clone(),
                    file_amount: Some(line.amount),
                    recorded_amount: Some(p.amount),
                    payment_id: Some(p.id.clone()),
                    detail: format!("invoice {invoice} is not paid by this payment; not settled"),
                }),
                Some(SettleResult::Voided) | None => out.mismatches.push(Mismatch {
                    kind: MismatchKind::VoidedInFile,
                    line: Some(line.line),
                    store_transaction_id: line.store_transaction_id.clone(),
                    store_code: line.store_code.clone(),
                    file_amount: Some(line.amount),
                    recorded_amount: Some(p.amount),
                    payment_id: Some(p.id.clone()),
                    detail: "the store voided this payment while the file was reconciled".into(),
                }),
            }
        }
        Ok(out)
    }
}

#[derive(Debug, Default)]
struct Outcome {
    matched: usize,
    matched_amount: i64,
    settled_now: usize,
    settled_invoices_now: usize,
    already_settled: usize,
    mismatches: Vec<Mismatch>,
}

impl Outcome {
    fn matched(&mut self, amount: i64) {
        self.matched += 1;
        self.matched_amount += amount;
    }

    fn summary(&self, file: &FileKey, lines: usize) -> Value {
        json!({
            "chain": file.chain_id,
            "date": file.date.to_string(),
            "file": file.key(),
            "report": file.report_key(),
            "status": "reconciled",
            "error": null,
            "lines": lines,
            "matched": self.matched,
            "matched_amount": self.matched_amount,
            "settled_now": self.settled_now,
            "settled_invoices_now": self.settled_invoices_now,
            "already_settled": self.already_settled,
            "mismatches": count_by_kind(&self.mismatches),
            "mismatch_total": self.mismatches.len(),
        })
    }
}

/// What its `main` runs ([`smartpit_shared::lambda::events`]) and the local stack builds.
impl smartpit_shared::lambda::EventFunction for SettlementFunction {
    type Event = S3Event;
    type Answer = Value;

    fn configured(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        _vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        Ok(SettlementFunction::new(sdk, res))
    }

    async fn on_event(&self, event: Self::Event) -> Result<Self::Answer, String> {
        // An error makes Lambda retry the event (twice), then its failure destination.
        self.handle_event(&event).await.map_err(|e| e.0)
    }
}

#[cfg(test)]
mod event_tests {
    use super::*;

    fn sample() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/aws-s3-event.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn aws_sample_event_parses_and_its_key_is_decoded() {
        let event: S3Event = serde_json::from_value(sample()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            objects(&event),
            [("sourcebucket".to_string(), "Happy Face.jpg".to_string())]
        );
        assert!(
            FileKey::parse("Happy Face.jpg").is_none(),
            "not a settlement file"
        );
    }

    #[test]
    fn a_settlement_file_key_is_read_as_s3_encodes_it() {
        let mut v = sample();
        v["Records"][0]["s3"]["object"]["key"] = json!("settlements/ministop/20261128.csv");
        let event: S3Event = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}"));
        let (bucket, key) = objects(&event).pop().unwrap_or_default();
        assert_eq!(bucket, "sourcebucket");
        assert!(FileKey::parse(&key).is_some(), "{key}");
        // Encoded as S3 would have it (`+` a space, `%2B` a plus): decoded, never read as sent.
        v["Records"][0]["s3"]["object"]["key"] = json!("reports/a+b%2Bc%E6%97%A5.csv");
        let event: S3Event = serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(objects(&event)[0].1, "reports/a b+c日.csv");
    }

    #[test]
    fn a_partial_record_is_not_an_s3_event() {
        // What the tests once handed over: a bucket and a key, none of what S3 always sends.
        let partial =
            json!({"Records": [{"s3": {"bucket": {"name": "x"}, "object": {"key": "k"}}}]});
        assert!(serde_json::from_value::<S3Event>(partial).is_err());
    }
}
