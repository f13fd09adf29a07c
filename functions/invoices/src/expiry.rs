//! The expiry sweep (ExpiryFunction, on a schedule): stores `expired` on every registered
//! invoice past its deadline (23:59:59 JST of its due date) and emits `invoice.expired`, in one
//! transaction each; between 09:00 and 20:00 JST it also queues the reminders whose day has come
//! (`Db::remind_due`). Lookups and payments never offered such an invoice anyway (they check the
//! deadline themselves); the sweep makes the state stored, listable and pushed.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use smartpit_shared::config::Resources;
use smartpit_shared::timeouts::BACKGROUND_DYNAMODB;
use smartpit_shared::Db;

/// Invoices taken per shard in one query.
const PAGE: i32 = 100;
/// Passes of one run at most (a backlog is worked off over the next runs).
const MAX_PASSES: usize = 10;

pub struct ExpirySweep {
    db: Db,
    /// Days a closed bill's customer addresses are kept (`CUSTOMER_RETENTION_DAYS`).
    retention_days: u64,
}

impl ExpirySweep {
    pub fn new(sdk: &aws_config::SdkConfig, res: Resources) -> Self {
        ExpirySweep {
            db: Db::with_profile(sdk, res, BACKGROUND_DYNAMODB),
            retention_days: smartpit_shared::db::DEFAULT_RETENTION_DAYS,
        }
    }

    /// With the environment's `CUSTOMER_RETENTION_DAYS` (1 to 365; else the default, 90).
    pub fn with_retention(mut self, var: Option<&str>) -> Self {
        if let Some(d) = var.and_then(|v| v.parse::<u64>().ok()) {
            self.retention_days = d.clamp(1, smartpit_shared::db::MAX_RETENTION_DAYS);
        }
        self
    }

    /// A scheduled event in; `{"expired": n}` out.
    pub async fn handle(&self, event: Value) -> Value {
        self.handle_at(event, Utc::now).await
    }

    /// As `handle`, with the clock given (tests move it past a deadline instead of waiting).
    pub async fn handle_at(&self, _event: Value, clock: impl Fn() -> DateTime<Utc>) -> Value {
        let mut total = 0;
        for _ in 0..MAX_PASSES {
            match self.db.expire_due(clock(), PAGE).await {
                Ok(ids) if ids.is_empty() => break,
                Ok(ids) => {
                    total += ids.len();
                    tracing::info!(count = ids.len(), "invoices expired");
                }
                Err(p) => {
                    tracing::warn!(problem = %p, "expiry sweep stopped; the next run goes on");
                    break;
                }
            }
        }
        // Reminders go out in the day only (09:00-20:00 JST), each once.
        let hour = chrono::Timelike::hour(&clock().with_timezone(&smartpit_shared::clock::jst()));
        let mut reminded = 0;
        if (9..20).contains(&hour) {
            match self.db.remind_due(clock()).await {
                Ok(ids) => {
                    reminded = ids.len();
                    if reminded > 0 {
                        tracing::info!(count = reminded, "reminders queued");
                    }
                }
                Err(p) => tracing::warn!(problem = %p, "reminders stopped; the next run goes on"),
            }
        }
        // The retention rule: closed bills' customer addresses erased, in the night.
        let mut erased = 0;
        if hour == 3 {
            match self
                .db
                .erase_closed_customers(clock(), self.retention_days)
                .await
            {
                Ok(n) => {
                    erased = n;
                    if n > 0 {
                        tracing::info!(count = n, "customer addresses erased");
                    }
                }
                Err(p) => tracing::warn!(problem = %p, "erasure stopped; the next run goes on"),
            }
        }
        json!({"expired": total, "reminded": reminded, "erased": erased})
    }
}

/// What its `main` runs ([`smartpit_shared::lambda::events`]) and the local stack builds.
impl smartpit_shared::lambda::EventFunction for ExpirySweep {
    type Event = aws_lambda_events::event::eventbridge::EventBridgeEvent<Value>;
    type Answer = Value;

    fn configured(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        Ok(ExpirySweep::new(sdk, res)
            .with_retention(vars.get("CUSTOMER_RETENTION_DAYS").map(String::as_str)))
    }

    async fn on_event(&self, event: Self::Event) -> Result<Self::Answer, String> {
        // EventBridge's scheduled event: the sweep reads nothing of it but that it is one.
        let _ = event;
        Ok(self.handle_at(Value::Null, Utc::now).await)
    }
}

#[cfg(test)]
mod event_tests {
    use super::*;
    use smartpit_shared::lambda::EventFunction;

    /// EventBridge's scheduled event as AWS sends it reads as the sweep's event type.
    #[test]
    fn the_schedule_event_aws_sends_is_read() {
        let event: <ExpirySweep as EventFunction>::Event =
            serde_json::from_str(include_str!("../fixtures/aws-eventbridge-schedule.json"))
                .expect("EventBridge event");
        assert_eq!(event.detail_type, "Scheduled Event");
        assert!(
            serde_json::from_str::<<ExpirySweep as EventFunction>::Event>(r#"{"Records": []}"#)
                .is_err()
        );
    }
}
