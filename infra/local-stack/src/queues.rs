//! Feeds a queue to its function the way Lambda's SQS event source mapping does: batches of
//! messages in the SQS event shape, each received batch handled on its own task (Lambda runs
//! batches concurrently), messages deleted unless the reply lists them as failed (they come
//! back after the visibility timeout).

use std::time::Duration;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::{json, Value};

use crate::stack::EventHandler;

/// Up to `max` messages (with their receive counts), hidden for `visible_after` seconds (the
/// queue's visibility time-out when `None`); after
/// an empty or failed receive it waits 100 ms (the emulator serialises requests, so a long
/// poll would hold every other call).
pub(crate) async fn receive(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    max: usize,
    visible_after: Option<i32>,
) -> Vec<aws_sdk_sqs::types::Message> {
    let got = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(i32::try_from(max).unwrap_or(10))
        .set_visibility_timeout(visible_after)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .wait_time_seconds(0)
        .send()
        .await;
    let messages = match got {
        Ok(out) => out.messages().to_vec(),
        Err(e) => {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "receive failed");
            Vec::new()
        }
    };
    if messages.is_empty() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    messages
}

/// Polls `url` for ever. A received message stays hidden for the queue's own
/// `VisibilityTimeout` (provisioning sets the template's; Lambda's mapping does not change
/// it), so a failed one comes back after that, and after the redrive policy's receives goes
/// to its dead-letter queue.
pub async fn poll(sqs: aws_sdk_sqs::Client, url: String, batch: usize, function: EventHandler) {
    let arn = format!(
        "arn:aws:sqs:{}:{}:{}",
        crate::stack::LOCAL_REGION,
        crate::provision::LOCAL_ACCOUNT,
        url.rsplit('/').next().unwrap_or_default()
    );
    loop {
        let messages = receive(&sqs, &url, batch, None).await;
        if messages.is_empty() {
            continue;
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attribute = |name: MessageSystemAttributeName| {
                    m.attributes()
                        .and_then(|a| a.get(&name))
                        .cloned()
                        .unwrap_or_default()
                };
                json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "attributes": {
                        "ApproximateReceiveCount": attribute(MessageSystemAttributeName::ApproximateReceiveCount),
                        "SentTimestamp": attribute(MessageSystemAttributeName::SentTimestamp),
                        "SenderId": attribute(MessageSystemAttributeName::SenderId),
                        "ApproximateFirstReceiveTimestamp": attribute(MessageSystemAttributeName::ApproximateFirstReceiveTimestamp),
                    },
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": crate::stack::LOCAL_REGION,
                })
            })
            .collect();
        let f = function.clone();
        let sqs = sqs.clone();
        let url = url.clone();
        tokio::spawn(async move {
            let reply = match f(json!({"Records": records})).await {
                Ok(reply) => reply,
                // A function error: the whole batch comes back after the visibility time-out.
                Err(e) => {
                    tracing::warn!(error = %e, "queue batch failed");
                    return;
                }
            };
            let failed: Vec<&str> = reply["batchItemFailures"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .filter_map(|x| x["itemIdentifier"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            for m in messages {
                if failed.contains(&m.message_id().unwrap_or_default()) {
                    continue;
                }
                if let Some(handle) = m.receipt_handle() {
                    let _ = sqs
                        .delete_message()
                        .queue_url(&url)
                        .receipt_handle(handle)
                        .send()
                        .await;
                }
            }
        });
    }
}
