//! The background run of long uploads (ConsoleUploadsFunction, fed by the upload queue): each
//! message names an upload (`{"merchant_id", "upload_id"}`); the run registers its lines for up
//! to [`RUN_BUDGET`] and, with lines left, puts the next message on the queue itself. A message
//! whose run fails is reported alone (`batchItemFailures`) and counted on the upload (its page
//! says it is held up): the queue gives it again later, five times, then sets it aside on the
//! upload failures queue for an operator (alarmed); one merchant's broken upload holds back
//! no other.

use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use chrono::Utc;
use serde_json::{json, Value};
use smartpit_invoices::InvoicesFunction;
use smartpit_shared::config::{OnFirstUse, Resources};
use smartpit_shared::Db;

use crate::bulk::register_lines;

/// How long one message's run registers lines (the function's time-out is 90 s).
pub const RUN_BUDGET: Duration = Duration::from_secs(60);

/// A message of the upload queue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UploadJob {
    pub merchant_id: String,
    pub upload_id: String,
}

pub struct UploadWorker {
    db: Db,
    invoices: InvoicesFunction,
    sqs: OnFirstUse<aws_sdk_sqs::Client>,
    queue_url: String,
}

/// The upload queue's client, built on first use.
pub use smartpit_shared::queue::queue_client;

/// Puts an upload's run on the queue.
pub async fn enqueue(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    job: &UploadJob,
) -> Result<(), String> {
    let body = serde_json::to_string(job).map_err(|e| e.to_string())?;
    sqs.send_message()
        .queue_url(queue_url)
        .message_body(body)
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    Ok(())
}

/// The upload queue's URL (`UPLOAD_QUEUE_URL`).
pub fn queue_url(vars: &smartpit_shared::config::Vars) -> Result<String, String> {
    vars.get("UPLOAD_QUEUE_URL")
        .filter(|u| !u.is_empty())
        .cloned()
        .ok_or_else(|| "UPLOAD_QUEUE_URL is not set".to_string())
}

impl UploadWorker {
    pub fn new(sdk: &aws_config::SdkConfig, res: Resources, queue_url: String) -> Self {
        UploadWorker {
            db: Db::new(sdk, res.clone()),
            invoices: InvoicesFunction::new(sdk, res),
            sqs: queue_client(sdk),
            queue_url,
        }
    }

    /// One run of the job: `Err` when it could not go on (the message is given again).
    async fn run(&self, job: &UploadJob) -> Result<(), String> {
        let Some(merchant) = self
            .db
            .get_merchant(&job.merchant_id)
            .await
            .map_err(|e| e.to_string())?
        else {
            // The merchant is gone: nothing to do, and nothing to retry.
            return Ok(());
        };
        let before = self
            .db
            .upload_state(&merchant.id, &job.upload_id)
            .await
            .map_err(|e| e.to_string())?;
        let Some(before) = before else {
            // Gone (a day after the upload): nothing to retry.
            return Ok(());
        };
        if before.next >= before.good {
            return Ok(());
        }
        let state = register_lines(
            &self.db,
            &self.invoices,
            &merchant,
            &job.upload_id,
            RUN_BUDGET,
            Utc::now(),
        )
        .await
        .map_err(|p| format!("{}: {}", p.code.as_str(), p.detail.unwrap_or_default()))?;
        if state.next < state.good {
            if state.next == before.next {
                return Err("no line went through".into());
            }
            enqueue(self.sqs.get(), &self.queue_url, job).await?;
        }
        Ok(())
    }

    pub async fn handle(&self, event: &SqsEvent) -> Value {
        let mut failures = Vec::new();
        for record in &event.records {
            let id = record.message_id.clone().unwrap_or_default();
            let job: Option<UploadJob> = record
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str(b).ok());
            let Some(job) = job else {
                // Not a job of ours: nothing a retry would mend.
                tracing::warn!(message_id = %id, "upload queue message that is not a job");
                continue;
            };
            if let Err(e) = self.run(&job).await {
                tracing::warn!(merchant_id = %job.merchant_id, error = %e, "background upload run failed");
                // The upload's page says it is held up (best effort: the store may be what failed).
                if let Err(e) = self
                    .db
                    .note_failed_upload_run(&job.merchant_id, &job.upload_id)
                    .await
                {
                    tracing::warn!(merchant_id = %job.merchant_id, error = %e, "failed run not recorded on the upload");
                }
                failures.push(json!({"itemIdentifier": id}));
            }
        }
        json!({"batchItemFailures": failures})
    }
}

impl smartpit_shared::lambda::EventFunction for UploadWorker {
    type Event = SqsEvent;
    type Answer = Value;

    fn configured(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        Ok(UploadWorker::new(sdk, res, queue_url(vars)?))
    }

    async fn on_event(&self, event: Self::Event) -> Result<Self::Answer, String> {
        Ok(self.handle(&event).await)
    }
}
