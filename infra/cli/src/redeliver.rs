//! `smartpit redeliver`: puts the notices the notifier gave up on back on its stream, once the
//! cause is fixed. The failure queue holds two kinds of message:
//! - the notifier's own (`"kind": "outbox_parked"`), naming the outbox record it parked;
//! - Lambda's on-failure record of a stream batch (`DDBStreamBatchInfo`), naming a range of the
//!   stream, whose records are read back from the stream (kept 24 hours).
//!
//! Each named outbox record is deleted and put back as it was written (keeping the outcomes of
//! its steps), so the stream delivers it again as an INSERT and only the missing steps run. A
//! message is deleted from the queue once every record it names is back; one that cannot be
//! handled stays and is reported.

use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use chrono::Utc;
use serde_json::Value;
use smartpit_shared::Db;

#[derive(Debug, Default)]
pub struct Report {
    /// Outbox ids put back on the stream.
    pub redelivered: Vec<String>,
    /// Messages left in the queue, with why.
    pub kept: Vec<String>,
}

pub struct Queue<'a> {
    pub sqs: &'a aws_sdk_sqs::Client,
    pub url: &'a str,
    pub streams: &'a aws_sdk_dynamodbstreams::Client,
}

/// Works through up to `max` messages of the failure queue.
pub async fn redeliver(db: &Db, q: &Queue<'_>, max: usize) -> Result<Report, String> {
    let mut report = Report::default();
    let mut seen = 0;
    while seen < max {
        let out = q
            .sqs
            .receive_message()
            .queue_url(q.url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(|e| format!("receive: {}", aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
        let messages = out.messages();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            seen += 1;
            let body: Value = serde_json::from_str(m.body().unwrap_or("")).unwrap_or(Value::Null);
            match outbox_ids(&body, q).await {
                Ok(ids) => {
                    let mut all = true;
                    for id in ids {
                        match requeue(db, &id).await {
                            Ok(()) => report.redelivered.push(id),
                            Err(e) => {
                                all = false;
                                report.kept.push(format!("{id}: {e}"));
                            }
                        }
                    }
                    if all {
                        if let Some(handle) = m.receipt_handle() {
                            q.sqs
                                .delete_message()
                                .queue_url(q.url)
                                .receipt_handle(handle)
                                .send()
                                .await
                                .map_err(|e| {
                                    format!(
                                        "delete message: {}",
                                        aws_sdk_sqs::error::DisplayErrorContext(&e)
                                    )
                                })?;
                        }
                    }
                }
                Err(e) => report
                    .kept
                    .push(format!("message {}: {e}", m.message_id().unwrap_or("?"))),
            }
        }
    }
    Ok(report)
}

async fn requeue(db: &Db, id: &str) -> Result<(), String> {
    match db.get_outbox(id).await.map_err(|p| p.to_string())? {
        Some(rec) => db
            .requeue_outbox(&rec, Utc::now())
            .await
            .map_err(|p| p.to_string()),
        None => Err("the outbox record is gone (older than its 90 days)".into()),
    }
}

/// The outbox ids a failure message names.
async fn outbox_ids(body: &Value, q: &Queue<'_>) -> Result<Vec<String>, String> {
    if body["kind"] == "outbox_parked" {
        return body["outbox_id"]
            .as_str()
            .map(|id| vec![id.to_string()])
            .ok_or_else(|| "outbox_parked without outbox_id".into());
    }
    let info = &body["DDBStreamBatchInfo"];
    let (Some(arn), Some(shard), Some(start), Some(end)) = (
        info["streamArn"].as_str(),
        info["shardId"].as_str(),
        info["startSequenceNumber"].as_str(),
        info["endSequenceNumber"].as_str(),
    ) else {
        return Err("neither a parked record nor a stream batch".into());
    };
    let mut iterator = q
        .streams
        .get_shard_iterator()
        .stream_arn(arn)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(start)
        .send()
        .await
        .map_err(|e| format!("the stream range is no longer readable: {e}"))?
        .shard_iterator()
        .map(str::to_string);
    let mut ids = Vec::new();
    // Sequence numbers are decimal strings of growing value: compare by length, then text.
    let after_end = |s: &str| (s.len(), s) > (end.len(), end);
    while let Some(it) = iterator {
        let out = q
            .streams
            .get_records()
            .shard_iterator(it)
            .limit(100)
            .send()
            .await
            .map_err(|e| format!("read stream: {e}"))?;
        let records = out.records();
        if records.is_empty() {
            break;
        }
        for r in records {
            let Some(d) = r.dynamodb() else { continue };
            let seq = d.sequence_number().unwrap_or_default();
            if after_end(seq) {
                return Ok(ids);
            }
            if let Some(id) = d
                .keys()
                .and_then(|k| k.get("id"))
                .and_then(|v| v.as_s().ok())
            {
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
        }
        iterator = out.next_shard_iterator().map(str::to_string);
    }
    Ok(ids)
}
