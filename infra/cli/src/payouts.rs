//! The operator's payout day (docs/OPERATIONS.md#payouts): `smartpit payouts run` closes a
//! day's periods (the scheduled run's code, in this process), `smartpit transfers file` writes
//! the Zengin transfer file of a pay date (and keeps it in S3, encrypted with the bank-data
//! key), `smartpit transfers confirm` marks its payouts paid, or failed as the bank says.

use std::collections::BTreeSet;

use aws_sdk_s3::types::ServerSideEncryption;
use chrono::{NaiveDate, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::json;

use smartpit_payouts::run::{PayoutRun, RunReport};
use smartpit_shared::db::payouts::{FileOutcome, TransferClaim, TransferRecord, TransferStatus};
use smartpit_shared::payout::{Payout, PayoutStatus};
use smartpit_shared::refund::{Refund, RefundStatus};
use smartpit_shared::transfer_file::{self, Requester, Transfer};
use smartpit_shared::webhook::{Event, EventType};
use smartpit_shared::zengin::{self, AccountType};
use smartpit_shared::Db;

/// What the payout commands work on.
pub struct PayoutStack {
    pub db: Db,
    pub sdk: aws_config::SdkConfig,
    pub bucket: String,
    pub kms_key: String,
    pub run: PayoutRun,
}

/// The operator's account the transfers are paid from, as its bank registered it.
pub struct RequesterArgs {
    pub code: String,
    pub name: String,
    pub bank: String,
    pub branch: String,
    pub account_type: String,
    pub account_number: String,
}

impl RequesterArgs {
    pub fn checked(&self) -> Result<Requester, String> {
        let code = self.code.trim();
        if code.len() != 10 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err("--requester-code: the 10 digits the bank gave".into());
        }
        let bank = zengin::bank_code(&self.bank).map_err(|e| format!("--from-bank: {e}"))?;
        let branch = zengin::branch_code(bank.code, &self.branch)
            .map_err(|e| format!("--from-branch: {e}"))?;
        let name =
            zengin::transfer_text(&self.name).map_err(|e| format!("--requester-name: {e}"))?;
        if name.is_empty() || name.chars().count() > 40 {
            return Err("--requester-name: 1 to 40 characters in a transfer record".into());
        }
        Ok(Requester {
            code: code.to_string(),
            name,
            bank,
            branch,
            account_type: AccountType::parse(&self.account_type)
                .map_err(|e| format!("--from-account-type: {e}"))?,
            account_number: zengin::account_number(&self.account_number)
                .map_err(|e| format!("--from-account-number: {e}"))?,
        })
    }
}

pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    smartpit_shared::clock::parse_day(s).map_err(|e| format!("--date: {e}"))
}

/// `smartpit payouts run --date D`.
pub async fn run(stack: &PayoutStack, date: NaiveDate) -> Result<RunReport, String> {
    let report = stack.run.run_day(date, Utc::now()).await?;
    if !report.failed.is_empty() {
        return Err(format!(
            "payouts of {} merchant(s) were not made ({}); run again: what was made is kept",
            report.failed.len(),
            report.failed.join(", ")
        ));
    }
    Ok(report)
}

/// The sealed details of a merchant's account.
#[derive(Deserialize)]
struct Details {
    bank_code: String,
    branch_code: String,
    account_type: String,
    account_number: String,
    holder: String,
}

/// One line of the file as the operator is shown it (never the number or the holder).
pub struct FiledLine {
    pub payout_id: String,
    pub merchant_id: String,
    pub amount: i64,
    pub account: String,
}

/// A claim on a day's file left this long by a `transfers file` that stopped is taken over.
const CLAIM_STALE_AFTER: TimeDelta = TimeDelta::minutes(10);

/// `smartpit transfers file --date D --out FILE`: every payout due by D and not yet filed
/// (and every held one whose merchant now has an account) put in D's file, the file written and
/// kept in S3. The first making fixes the file: made again until it is confirmed, it is the
/// same bytes (the S3 copy, its digest checked) with the same payouts; a payout that becomes
/// payable meanwhile goes in the next day's file.
pub async fn file(
    stack: &PayoutStack,
    date: NaiveDate,
    requester: &Requester,
) -> Result<(Vec<u8>, Vec<FiledLine>, TransferRecord), String> {
    let db = &stack.db;
    let err = |e: smartpit_shared::db::StoreError| e.to_string();
    if !smartpit_shared::bank_calendar::is_business_day(date).map_err(|e| e.to_string())? {
        return Err(format!(
            "{date} is not a bank business day (a weekend, a public holiday or 12/31-1/3)"
        ));
    }
    let now = Utc::now();
    let token = format!("{:032x}", rand::random::<u128>());
    match db
        .claim_transfer(date, &token, now, now - CLAIM_STALE_AFTER)
        .await
        .map_err(err)?
    {
        TransferClaim::Claimed => {}
        TransferClaim::Made(rec) if rec.status == TransferStatus::Confirmed => {
            return Err(format!("the transfer file of {date} is confirmed already"));
        }
        TransferClaim::Made(rec) => return made_again(stack, rec).await,
        TransferClaim::Busy(since) => {
            return Err(format!(
                "another `smartpit transfers file` has been making the file of {date} since \
                 {since}; run again when it is done (or 10 minutes after that if it stopped)"
            ));
        }
    }
    match make(stack, date, requester, &token, now).await {
        Ok(made) => Ok(made),
        Err(Failed::TakenOver) => Err(taken_over(date)),
        Err(Failed::Other(e)) => {
            // Whatever was filed stays filed under the day: a run again makes the file of it.
            if let Err(r) = db.release_transfer(date, &token).await {
                return Err(format!("{e} (and the claim on the file stays: {r})"));
            }
            Err(e)
        }
    }
}

enum Failed {
    TakenOver,
    Other(String),
}

impl From<String> for Failed {
    fn from(e: String) -> Self {
        Self::Other(e)
    }
}

/// The file made under the claim `token`.
async fn make(
    stack: &PayoutStack,
    date: NaiveDate,
    requester: &Requester,
    token: &str,
    now: chrono::DateTime<Utc>,
) -> Result<(Vec<u8>, Vec<FiledLine>, TransferRecord), Failed> {
    let db = &stack.db;
    let err = |e: smartpit_shared::db::StoreError| e.to_string();
    let (due, held) = db.payouts_to_file(date).await.map_err(err)?;
    for (merchant, id) in due.iter().chain(held.iter()) {
        let Some(p) = db.get_payout(merchant, id).await.map_err(err)? else {
            continue;
        };
        if p.transfer_date.is_some()
            || !matches!(p.status, PayoutStatus::Scheduled | PayoutStatus::Held)
        {
            continue;
        }
        let Some(account) = db.bank_account(merchant).await.map_err(err)? else {
            continue; // still held: no account yet
        };
        let masked = smartpit_shared::db::payouts::masked_view(&account.masked);
        if db
            .file_payout(&p, &masked, date, token, now)
            .await
            .map_err(err)?
            == FileOutcome::ClaimLost
        {
            return Err(Failed::TakenOver);
        }
    }
    // Refunds whose customers gave an account.
    for (invoice, id) in db.refunds_to_file().await.map_err(err)? {
        match db.refund_in(&invoice, &id).await.map_err(err)? {
            Some(r) if r.status == RefundStatus::DetailsReceived => {
                if db.file_refund(&r, date, token, now).await.map_err(err)?
                    == FileOutcome::ClaimLost
                {
                    return Err(Failed::TakenOver);
                }
            }
            // Cancelled (or gone) since: no longer due.
            _ => db.drop_refund_due(&id).await.map_err(err)?,
        }
    }
    // The file holds what is filed under the day: by this claim, or by one that stopped.
    let mut filed: Vec<Payout> = Vec::new();
    for (merchant, id) in db.filed_payouts(date).await.map_err(err)? {
        filed.push(
            db.get_payout(&merchant, &id)
                .await
                .map_err(err)?
                .ok_or_else(|| format!("{id}: filed but not found"))?,
        );
    }
    let mut refunds: Vec<Refund> = Vec::new();
    for (invoice, id) in db.filed_refunds(date).await.map_err(err)? {
        refunds.push(
            db.refund_in(&invoice, &id)
                .await
                .map_err(err)?
                .ok_or_else(|| format!("{id}: filed but not found"))?,
        );
    }
    if filed.is_empty() && refunds.is_empty() {
        return Err(format!("nothing to transfer on {date}: no file made").into());
    }
    let kms = aws_sdk_kms::Client::new(&stack.sdk);
    let mut transfers = Vec::with_capacity(filed.len() + refunds.len());
    for p in &filed {
        let account = db
            .bank_account(&p.merchant_id)
            .await
            .map_err(err)?
            .ok_or_else(|| format!("{}: the merchant's account is gone", p.id))?;
        let context = [
            ("merchant_id", p.merchant_id.as_str()),
            ("purpose", "payout_account"),
        ];
        let plain = smartpit_shared::sealed::open(
            &kms,
            &context,
            &smartpit_shared::sealed::Sealed {
                encrypted_key: account.encrypted_key.clone(),
                nonce: account.nonce.clone(),
                ciphertext: account.ciphertext.clone(),
            },
        )
        .await?;
        let d: Details = serde_json::from_slice(&plain)
            .map_err(|_| format!("{}: the sealed account does not read", p.id))?;
        let bank = zengin::bank_code(&d.bank_code)?;
        transfers.push(Transfer {
            bank,
            branch: zengin::branch_code(bank.code, &d.branch_code)?,
            account_type: AccountType::parse(&d.account_type)?,
            account_number: d.account_number,
            holder: d.holder,
            amount: p.net,
        });
    }
    for r in &refunds {
        let sealed = db
            .refund_sealed(r)
            .await
            .map_err(err)?
            .ok_or_else(|| format!("{}: the customer's account is gone", r.id))?;
        let context = [("refund_id", r.id.as_str()), ("purpose", "refund_account")];
        let plain = smartpit_shared::sealed::open(
            &kms,
            &context,
            &smartpit_shared::sealed::Sealed {
                encrypted_key: sealed.encrypted_key,
                nonce: sealed.nonce,
                ciphertext: sealed.ciphertext,
            },
        )
        .await?;
        let d: Details = serde_json::from_slice(&plain)
            .map_err(|_| format!("{}: the sealed account does not read", r.id))?;
        let bank = zengin::bank_code(&d.bank_code)?;
        transfers.push(Transfer {
            bank,
            branch: zengin::branch_code(bank.code, &d.branch_code)?,
            account_type: AccountType::parse(&d.account_type)?,
            account_number: d.account_number,
            holder: d.holder,
            amount: r.amount,
        });
    }
    let bytes = transfer_file::write(requester, date, &transfers)?;
    // Each making its own object: one that stopped cannot overwrite the file made.
    let key = format!("transfers/{date}-{token}.txt");
    // Account numbers and names: encrypted with the bank-data key.
    smartpit_local::stack::s3_client(&stack.sdk)
        .put_object()
        .bucket(&stack.bucket)
        .key(&key)
        .content_type("text/plain; charset=Shift_JIS")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&stack.kms_key)
        .body(bytes.clone().into())
        .send()
        .await
        .map_err(|e| format!("S3: {}", aws_sdk_s3::error::DisplayErrorContext(&e)))?;
    let rec = TransferRecord {
        day: date,
        status: TransferStatus::Filed,
        count: i64::try_from(transfers.len()).unwrap_or(i64::MAX),
        total: transfers.iter().map(|t| t.amount).sum(),
        s3_key: key,
        digest: digest(&bytes),
        token: token.to_string(),
        claimed_at: String::new(),
    };
    if !db.finish_transfer(&rec, now).await.map_err(err)? {
        return Err(Failed::TakenOver);
    }
    let lines = filed
        .iter()
        .map(line)
        .chain(refunds.iter().map(refund_line))
        .collect();
    Ok((bytes, lines, rec))
}

fn taken_over(date: NaiveDate) -> String {
    format!(
        "the transfer file of {date} was taken over by another `smartpit transfers file` \
         (this one had stopped too long): use the file it made"
    )
}

fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The line the operator is shown (the masked account the payout was filed with).
fn line(p: &Payout) -> FiledLine {
    FiledLine {
        payout_id: p.id.clone(),
        merchant_id: p.merchant_id.clone(),
        amount: p.net,
        account: p
            .account
            .as_ref()
            .map(|a| format!("{} {} {}", a.bank_name, a.branch_name, a.number))
            .unwrap_or_default(),
    }
}

/// A refund's line as the operator is shown it.
fn refund_line(r: &Refund) -> FiledLine {
    FiledLine {
        payout_id: r.id.clone(),
        merchant_id: r.merchant_id.clone(),
        amount: r.amount,
        account: r
            .account
            .as_ref()
            .map(|a| format!("{} {} {}", a.bank_name, a.branch_name, a.number))
            .unwrap_or_default(),
    }
}

/// A made file again: the bytes kept in S3, checked against the digest recorded.
async fn made_again(
    stack: &PayoutStack,
    rec: TransferRecord,
) -> Result<(Vec<u8>, Vec<FiledLine>, TransferRecord), String> {
    let db = &stack.db;
    let err = |e: smartpit_shared::db::StoreError| e.to_string();
    let object = smartpit_local::stack::s3_client(&stack.sdk)
        .get_object()
        .bucket(&stack.bucket)
        .key(&rec.s3_key)
        .send()
        .await
        .map_err(|e| format!("S3: {}", aws_sdk_s3::error::DisplayErrorContext(&e)))?;
    let bytes = object
        .body
        .collect()
        .await
        .map_err(|e| format!("S3: {e}"))?
        .into_bytes()
        .to_vec();
    if digest(&bytes) != rec.digest {
        return Err(format!(
            "the kept copy of the transfer file of {} does not match its digest: do not send \
             it; see docs/OPERATIONS.md#payouts",
            rec.day
        ));
    }
    let mut lines = Vec::new();
    for (merchant, id) in db.filed_payouts(rec.day).await.map_err(err)? {
        if let Some(p) = db.get_payout(&merchant, &id).await.map_err(err)? {
            lines.push(line(&p));
        }
    }
    for (invoice, id) in db.filed_refunds(rec.day).await.map_err(err)? {
        if let Some(r) = db.refund_in(&invoice, &id).await.map_err(err)? {
            lines.push(refund_line(&r));
        }
    }
    Ok((bytes, lines, rec))
}

/// What `confirm` did.
#[derive(Debug, Default)]
pub struct Confirmed {
    pub paid: Vec<String>,
    pub failed: Vec<String>,
}

/// `smartpit transfers confirm --date D [--failed po_…]`: the file's payouts paid, those the
/// bank returned failed (their amounts back on the merchants' balances), each with its event.
pub async fn confirm(
    stack: &PayoutStack,
    date: NaiveDate,
    failed: &[String],
    reason: &str,
) -> Result<Confirmed, String> {
    let db = &stack.db;
    let err = |e: smartpit_shared::db::StoreError| e.to_string();
    match db.transfer_record(date).await.map_err(err)? {
        None => return Err(format!("no transfer file was made for {date}")),
        Some(rec) if rec.status == TransferStatus::Making => {
            return Err(format!("the transfer file of {date} is not made yet"))
        }
        Some(_) => {}
    }
    // Exactly the payouts of the file as made.
    let mut in_file = Vec::new();
    for (merchant, id) in db.filed_payouts(date).await.map_err(err)? {
        if let Some(p) = db.get_payout(&merchant, &id).await.map_err(err)? {
            in_file.push(p);
        }
    }
    let mut refunds_in_file = Vec::new();
    for (invoice, id) in db.filed_refunds(date).await.map_err(err)? {
        if let Some(r) = db.refund_in(&invoice, &id).await.map_err(err)? {
            refunds_in_file.push(r);
        }
    }
    // Every id named must be in the file: checked before anything is written.
    let named: BTreeSet<&str> = failed.iter().map(String::as_str).collect();
    for id in &named {
        if !in_file.iter().any(|p| p.id == *id) && !refunds_in_file.iter().any(|r| r.id == *id) {
            return Err(format!("{id} is not in the transfer file of {date}"));
        }
    }
    let now = Utc::now();
    let mut out = Confirmed::default();
    for p in in_file
        .iter()
        .filter(|p| p.status == PayoutStatus::Scheduled)
    {
        if named.contains(p.id.as_str()) {
            let view = Payout {
                status: PayoutStatus::Failed,
                failure_reason: Some(reason.to_string()),
                updated_at: now,
                ..p.clone()
            }
            .view();
            let event = Event::new(
                &p.merchant_id,
                EventType::PayoutFailed,
                None,
                json!({ "payout": view }),
                now,
            );
            if db
                .mark_payout_failed(p, date, reason, &event, now)
                .await
                .map_err(err)?
            {
                out.failed.push(p.id.clone());
            }
        } else {
            let view = Payout {
                status: PayoutStatus::Paid,
                paid_at: Some(now),
                updated_at: now,
                ..p.clone()
            }
            .view();
            let event = Event::new(
                &p.merchant_id,
                EventType::PayoutPaid,
                None,
                json!({ "payout": view }),
                now,
            );
            if db
                .mark_payout_paid(p, date, &event, now)
                .await
                .map_err(err)?
            {
                out.paid.push(p.id.clone());
            }
        }
    }
    for r in refunds_in_file
        .iter()
        .filter(|r| r.status == RefundStatus::Filed)
    {
        let failed_here = named.contains(r.id.as_str());
        let after = Refund {
            status: if failed_here {
                RefundStatus::Failed
            } else {
                RefundStatus::Paid
            },
            paid_at: (!failed_here).then_some(now),
            failure_reason: failed_here.then(|| reason.to_string()),
            account: if failed_here { None } else { r.account.clone() },
            updated_at: now,
            ..r.clone()
        };
        let event = Event::new(
            &r.merchant_id,
            if failed_here {
                EventType::RefundFailed
            } else {
                EventType::RefundPaid
            },
            Some(r.invoice_id.as_str()),
            json!({ "refund": after.view() }),
            now,
        );
        let done = if failed_here {
            db.mark_refund_failed(r, date, reason, &event, now).await
        } else {
            db.mark_refund_paid(r, date, &event, now).await
        }
        .map_err(err)?;
        if done {
            if failed_here {
                out.failed.push(r.id.clone());
            } else {
                out.paid.push(r.id.clone());
            }
        }
    }
    db.confirm_transfer(date, now).await.map_err(err)?;
    Ok(out)
}
