//! The payout run: for every merchant whose period closes on a day, one payout of the bills
//! settled since its last payout's cut-off (the end of the close day, JST), less the merchant's
//! fees and refunds, with what earlier periods left; its statement (PDF and CSV) in the private
//! statements bucket; all written in one transaction with its `payout.created` event.
//!
//! Exactly one payout per merchant and close: the payout's id is made from the two, written
//! only where none is (a second run, a retry or a concurrent run finds it), and the merchant's
//! payout state (cut-off, balance) moves only from the version that was read. A crash before
//! the transaction leaves at most statement files no payout names; the next run makes the
//! payout again from the same lines.

use std::sync::OnceLock;

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use futures::StreamExt;
use serde::Serialize;
use serde_json::{json, Value};

use smartpit_shared::clock::{jst, jst_date};
use smartpit_shared::config::{OnFirstUse, Resources, Vars};
use smartpit_shared::db::payouts::{CreateOutcome, PayoutInputs, PayoutState};
use smartpit_shared::payout::{
    document, files, payout_id, statement, Payout, PayoutStatus, HELD_NO_BANK_ACCOUNT,
};
use smartpit_shared::payout_cycle::Period;
use smartpit_shared::pdf::Writer;
use smartpit_shared::timeouts::{BACKGROUND_DYNAMODB, SETTLEMENT_FILE};
use smartpit_shared::webhook::{Event, EventType};
use smartpit_shared::Db;

/// A settlement's transaction that read the clock before the cut-off commits well within this;
/// a cut-off closer to now than this is not taken (the close day has not ended).
pub const SETTLE_GRACE: TimeDelta = TimeDelta::seconds(10);
/// The sandbox's close: a test payout takes what was settled up to 2 seconds ago (a test
/// merchant settles and runs at once; test money only).
pub const SANDBOX_GRACE: TimeDelta = TimeDelta::seconds(2);
/// Merchants paid out at once.
const CONCURRENT_MERCHANTS: usize = 8;

/// The last instant of a JST day (its lines settled up to then are in its close).
pub fn end_of_day(day: NaiveDate) -> DateTime<Utc> {
    let next = day.checked_add_days(Days::new(1)).unwrap_or(day);
    let midnight = next
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(jst()).single())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    midnight - TimeDelta::milliseconds(1)
}

/// What happened to one merchant.
#[derive(Debug, Clone)]
pub enum Made {
    Created(Box<Payout>),
    /// The payout of this close was made before (by this run's earlier try or another run).
    Exists(String),
    /// No bills, no refunds, nothing carried: no payout.
    NothingToPay,
    /// A later close was paid out already: this date is behind the merchant.
    Behind,
}

/// What a run did, for its log and its answer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub close: String,
    pub merchants: usize,
    pub closing: usize,
    pub created: Vec<String>,
    pub existing: Vec<String>,
    pub held: usize,
    pub nothing_to_pay: usize,
    /// Merchants whose payout could not be made this time, with why (the next run retries
    /// them).
    pub failed: Vec<String>,
    /// Refunds whose customers' sealed accounts were erased (paid 30 days ago or more).
    pub refund_details_erased: usize,
}

pub struct PayoutRun {
    db: Db,
    s3: OnFirstUse<aws_sdk_s3::Client>,
    bucket: String,
    writer: OnceLock<Result<Writer, String>>,
}

impl PayoutRun {
    pub fn new(sdk: &aws_config::SdkConfig, res: Resources, bucket: String) -> Self {
        Self::with_limits(sdk, res, bucket, BACKGROUND_DYNAMODB)
    }

    /// With other DynamoDB time limits (the benchmark's emulator scans its whole table for
    /// every query and copies it for every transaction: seconds each at 100,000 lines).
    pub fn with_limits(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        bucket: String,
        dynamodb: smartpit_shared::timeouts::CallProfile,
    ) -> Self {
        let for_s3 = sdk.clone();
        PayoutRun {
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
            bucket,
            writer: OnceLock::new(),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    fn writer(&self) -> Result<&Writer, String> {
        self.writer
            .get_or_init(|| Writer::new(document::COMMON_TEXT.chars()))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Closes `close` for every merchant whose cycle closes that day. Each merchant's failure
    /// is its own: the others are paid out, and the run answers `Err` at the end so that it
    /// is retried (what was made is found again, not made twice).
    pub async fn run_day(&self, close: NaiveDate, now: DateTime<Utc>) -> Result<RunReport, String> {
        let cutoff = end_of_day(close);
        if cutoff > now - SETTLE_GRACE {
            return Err(format!(
                "{close} has not ended in Japan yet: its payouts are made after it"
            ));
        }
        let ids = self.db.merchant_ids().await.map_err(|e| e.to_string())?;
        let inputs = self
            .db
            .payout_inputs(&ids)
            .await
            .map_err(|e| e.to_string())?;
        let mut report = RunReport {
            close: close.to_string(),
            merchants: inputs.len(),
            ..Default::default()
        };
        let closing: Vec<PayoutInputs> = inputs
            .into_iter()
            .filter(|i| i.setting.cycle.closes_on(close))
            .collect();
        report.closing = closing.len();
        let work: Vec<_> = closing
            .into_iter()
            .map(|i| async move {
                let made = self.pay_out(&i, close, cutoff, now).await;
                (i.merchant_id, made)
            })
            .collect();
        let mut results = futures::stream::iter(work).buffer_unordered(CONCURRENT_MERCHANTS);
        while let Some((merchant, made)) = results.next().await {
            match made {
                Ok(Made::Created(p)) => {
                    if p.status == PayoutStatus::Held {
                        report.held += 1;
                    }
                    report.created.push(p.id.clone());
                }
                Ok(Made::Exists(id)) => report.existing.push(id),
                Ok(Made::NothingToPay) | Ok(Made::Behind) => report.nothing_to_pay += 1,
                Err(e) => {
                    tracing::error!(merchant_id = %merchant, error = %e, "payout not made; the next run retries it");
                    // The cause's first words: enough to act on, the log has the rest.
                    let short: String = e.chars().take(300).collect();
                    report.failed.push(format!("{merchant}: {short}"));
                }
            }
        }
        report.created.sort();
        report.existing.sort();
        report.failed.sort();
        // The day's other duty: customers' refund accounts are kept 30 days after the transfer.
        match self.db.erase_paid_refund_details(now).await {
            Ok(erased) => report.refund_details_erased = erased.len(),
            Err(e) => {
                tracing::error!(error = %e, "refund details not erased; the next run retries");
                report.failed.push(format!(
                    "refund details erasure: {}",
                    e.to_string().chars().take(300).collect::<String>()
                ));
            }
        }
        tracing::info!(
            close = %close,
            created = report.created.len(),
            existing = report.existing.len(),
            held = report.held,
            failed = report.failed.len(),
            "payout run"
        );
        Ok(report)
    }

    /// The sandbox's close: the merchant's period closes now, whatever its cycle (lines
    /// settled up to `SANDBOX_GRACE` ago).
    pub async fn run_now(&self, merchant_id: &str, now: DateTime<Utc>) -> Result<Made, String> {
        let inputs = self
            .db
            .payout_inputs(&[merchant_id.to_string()])
            .await
            .map_err(|e| e.to_string())?;
        let Some(i) = inputs.first() else {
            return Err(format!("merchant {merchant_id} is not onboarded"));
        };
        self.pay_out(i, jst_date(now), now - SANDBOX_GRACE, now)
            .await
    }

    /// One merchant's payout of the close `close` (lines settled up to `cutoff`).
    pub async fn pay_out(
        &self,
        inputs: &PayoutInputs,
        close: NaiveDate,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Made, String> {
        let m = &inputs.merchant_id;
        let id = payout_id(m, close);
        let mut state = inputs.state.clone();
        for _ in 0..4 {
            if let Some(last) = state.last_end {
                if last == close {
                    return Ok(Made::Exists(id));
                }
                if last > close {
                    return Ok(Made::Behind);
                }
            }
            let (bills, refunds) = self
                .db
                .period_lines(m, state.cutoff, cutoff)
                .await
                .map_err(|e| e.to_string())?;
            let cycle = inputs.setting.cycle;
            let mut start = match state.last_end {
                Some(last) => last.succ_opt().unwrap_or(last),
                None => cycle.period_of(close).map(|p| p.start).unwrap_or(close),
            };
            // Lines settled on the last close's day after its cut-off (a sandbox close made
            // during the day), or before a first payout's period: paid here, and the period
            // says from when.
            let first_bill = bills.iter().map(|b| b.settled_on).min();
            let first_refund = refunds.iter().map(|r| r.paid_on).min();
            if let Some(first) = first_bill.into_iter().chain(first_refund).min() {
                start = start.min(first);
            }
            let period = Period {
                cycle,
                start: start.min(close),
                end: close,
            };
            let st = statement(period, &bills, &refunds, &inputs.fees, state.balance)?;
            if st.lines.is_empty() && st.refunds.is_empty() && state.balance == 0 {
                return Ok(Made::NothingToPay);
            }
            let pay_date = period
                .pay_date(inputs.setting.pay_after_business_days)
                .map_err(|e| e.to_string())?;
            let (status, held_reason) = if st.net == 0 {
                (PayoutStatus::CarriedForward, None)
            } else if inputs.account.is_none() {
                (PayoutStatus::Held, Some(HELD_NO_BANK_ACCOUNT.to_string()))
            } else {
                (PayoutStatus::Scheduled, None)
            };
            let payout = Payout {
                id: id.clone(),
                merchant_id: m.clone(),
                period,
                pay_date,
                gross: st.gross,
                fees: st.fees,
                refunds: st.refunded,
                net: st.net,
                bill_count: bills.len(),
                brought_forward: st.brought_forward,
                carried_forward: st.carried_out,
                status,
                held_reason,
                account: inputs.account.clone(),
                transfer_date: None,
                failure_reason: None,
                created_at: now,
                updated_at: now,
                paid_at: None,
                // Each try its own files: only the one its payout names is ever shown.
                statement_key: format!("statements/{m}/{id}-v{}", state.version + 1),
            };
            self.store_statement(&payout, inputs, &st, &bills).await?;
            let event = Event::new(
                m,
                EventType::PayoutCreated,
                None,
                json!({ "payout": payout.view() }),
                now,
            );
            let next = PayoutState {
                version: state.version + 1,
                cutoff: Some(cutoff),
                last_end: Some(close),
                balance: -st.carried_out,
            };
            match self
                .db
                .create_payout(&payout, &state, &next, cutoff, &event)
                .await
                .map_err(|e| e.to_string())?
            {
                CreateOutcome::Created => return Ok(Made::Created(Box::new(payout))),
                CreateOutcome::Exists => return Ok(Made::Exists(id)),
                CreateOutcome::StateChanged => {
                    state = self.db.payout_state(m).await.map_err(|e| e.to_string())?;
                }
            }
        }
        Err(format!(
            "merchant {m}: its payout state kept changing while the payout was made"
        ))
    }

    /// The statement's PDF and CSV, in the statements bucket.
    async fn store_statement(
        &self,
        payout: &Payout,
        inputs: &PayoutInputs,
        st: &smartpit_shared::payout::Statement,
        bills: &[smartpit_shared::payout::SettledBill],
    ) -> Result<(), String> {
        let pages = document::pages(payout, &inputs.merchant_name, st);
        let pdf = self.writer()?.write_pages(document::TITLE, &pages)?;
        let csv = files::csv(bills, &inputs.fees, st)?;
        for (ext, body, kind) in [
            ("pdf", pdf, "application/pdf"),
            ("csv", csv, "text/csv; charset=utf-8"),
        ] {
            self.s3
                .get()
                .put_object()
                .bucket(&self.bucket)
                .key(format!("{}.{ext}", payout.statement_key))
                .content_type(kind)
                .body(body.into())
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "statement {}: {}",
                        payout.id,
                        aws_sdk_s3::error::DisplayErrorContext(&e)
                    )
                })?;
        }
        Ok(())
    }
}

/// The run's event: EventBridge's scheduled event (close: yesterday in Japan), or an
/// operator's `{"date": "YYYY-MM-DD"}`.
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
pub enum RunEvent {
    Date { date: String },
    Scheduled(Box<aws_lambda_events::event::eventbridge::EventBridgeEvent<Value>>),
}

/// What its `main` runs ([`smartpit_shared::lambda::events`]) and the local stack builds.
impl smartpit_shared::lambda::EventFunction for PayoutRun {
    type Event = RunEvent;
    type Answer = RunReport;

    fn configured(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        vars: &Vars,
    ) -> Result<Self, String> {
        Ok(PayoutRun::new(sdk, res, crate::statements_bucket(vars)?))
    }

    async fn on_event(&self, event: Self::Event) -> Result<Self::Answer, String> {
        let now = Utc::now();
        let close = match event {
            RunEvent::Date { date } => smartpit_shared::clock::parse_day(&date)?,
            RunEvent::Scheduled(_) => jst_date(now).pred_opt().ok_or("no day before today")?,
        };
        let report = self.run_day(close, now).await?;
        if report.failed.is_empty() {
            Ok(report)
        } else {
            // Lambda retries the run: what was made is found, the rest is made.
            Err(format!(
                "payouts of {} merchant(s) not made for {close}",
                report.failed.len()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_ends_at_midnight_in_japan() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 31).expect("day");
        assert_eq!(end_of_day(d).to_rfc3339(), "2026-12-31T14:59:59.999+00:00");
        assert_eq!(jst_date(end_of_day(d)), d);
        assert_eq!(
            jst_date(end_of_day(d) + TimeDelta::milliseconds(1)),
            d.succ_opt().expect("next")
        );
    }

    #[test]
    fn the_schedule_event_aws_sends_and_an_operator_date_are_read() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/aws-eventbridge-schedule.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let ev: RunEvent = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(ev, RunEvent::Scheduled(_)));
        let ev: RunEvent = serde_json::from_value(json!({"date": "2026-11-30"})).expect("date");
        assert!(matches!(ev, RunEvent::Date { .. }));
    }
}
