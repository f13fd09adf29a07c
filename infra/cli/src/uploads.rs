//! `smartpit uploads redrive`: puts the background upload runs the queue set aside (five
//! failed runs each, on the upload failures queue) back on the upload queue, once the cause
//! is fixed. A run goes on from where its upload stands (each line under its own key), so a
//! message given back twice registers nothing twice.

/// What a redrive did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Messages put back on the upload queue (their bodies: `{"merchant_id", "upload_id"}`).
    pub moved: Vec<String>,
    /// Messages left where they were, with why.
    pub kept: Vec<String>,
}

/// Moves up to `max` messages from `failures` to `uploads`: each is sent first and deleted
/// from `failures` after, so one cut short is given twice, never lost.
pub async fn redrive(
    sqs: &aws_sdk_sqs::Client,
    failures: &str,
    uploads: &str,
    max: usize,
) -> Result<Report, String> {
    let show = |e: &dyn std::fmt::Display| e.to_string();
    let mut report = Report::default();
    let mut seen = 0;
    while seen < max {
        let out = sqs
            .receive_message()
            .queue_url(failures)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "receive: {}",
                    show(&aws_sdk_sqs::error::DisplayErrorContext(&e))
                )
            })?;
        let messages = out.messages();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            seen += 1;
            let body = m.body().unwrap_or_default();
            if serde_json::from_str::<smartpit_console::worker::UploadJob>(body).is_err() {
                report.kept.push(format!(
                    "{}: not an upload run",
                    m.message_id().unwrap_or_default()
                ));
                continue;
            }
            let sent = sqs
                .send_message()
                .queue_url(uploads)
                .message_body(body)
                .send()
                .await;
            if let Err(e) = sent {
                report.kept.push(format!(
                    "send: {}",
                    show(&aws_sdk_sqs::error::DisplayErrorContext(&e))
                ));
                continue;
            }
            if let Some(handle) = m.receipt_handle() {
                sqs.delete_message()
                    .queue_url(failures)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| {
                        format!(
                            "delete: {}",
                            show(&aws_sdk_sqs::error::DisplayErrorContext(&e))
                        )
                    })?;
            }
            report.moved.push(body.to_string());
        }
    }
    Ok(report)
}
