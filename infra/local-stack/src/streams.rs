//! Feeds a table's stream to its function the way Lambda's event source mapping does, with the
//! template's settings: batches of records in the DynamoDB stream event shape, retried from the
//! first failed record (partial batch failure reporting), split on a function error (bisect),
//! given up after the maximum retries and reported to the on-failure queue.

use std::collections::VecDeque;
use std::time::Duration;

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use serde_json::{json, Map, Value};

use crate::stack::EventHandler;

fn attr(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::L(l) => json!({"L": l.iter().map(attr).collect::<Vec<_>>()}),
        AttributeValue::M(m) => json!({"M": image(m)}),
        AttributeValue::Ss(s) => json!({"SS": s}),
        _ => Value::Null,
    }
}

fn image(m: &std::collections::HashMap<String, AttributeValue>) -> Map<String, Value> {
    m.iter().map(|(k, v)| (k.clone(), attr(v))).collect()
}

/// One stream record as Lambda's event carries it.
pub fn event_record(r: &Record, arn: &str) -> Value {
    let d = r.dynamodb();
    json!({
        "eventID": r.event_id(),
        "eventName": r.event_name().map(|n| n.as_str().to_string()),
        "eventSource": "aws:dynamodb",
        "awsRegion": crate::stack::LOCAL_REGION,
        "eventSourceARN": arn,
        "dynamodb": {
            "ApproximateCreationDateTime": d
                .and_then(|d| d.approximate_creation_date_time())
                .map(|t| t.secs()),
            "Keys": d.and_then(|d| d.keys()).map(image),
            "NewImage": d.and_then(|d| d.new_image()).map(image),
            "OldImage": d.and_then(|d| d.old_image()).map(image),
            "SequenceNumber": d.and_then(|d| d.sequence_number()),
            "SizeBytes": d.and_then(|d| d.size_bytes()),
            "StreamViewType": d.and_then(|d| d.stream_view_type()).map(|v| v.as_str().to_string()),
        }
    })
}

/// The event source mapping's settings, from the template.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// The function's logical id.
    pub function: String,
    pub table: String,
    pub batch_size: usize,
    /// -1: retry for ever.
    pub max_retries: i64,
    pub bisect: bool,
    /// URL of the queue given-up batches are reported to.
    pub on_failure_queue: Option<String>,
}

pub struct Clients {
    pub ddb: aws_sdk_dynamodb::Client,
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub sqs: aws_sdk_sqs::Client,
}

/// What one invocation said about a batch.
enum Outcome {
    /// Every record done.
    Done,
    /// Records from this sequence number on are to be retried.
    FailedFrom(String),
    /// The invocation failed (an error answered, a crash, a time-out): the whole batch.
    FunctionError(String),
}

async fn invoke(function: &EventHandler, batch: Vec<Value>) -> Outcome {
    match function(json!({"Records": batch})).await {
        Ok(reply) => match reply["batchItemFailures"]
            .as_array()
            .and_then(|f| f.first())
            .and_then(|f| f["itemIdentifier"].as_str())
        {
            None => Outcome::Done,
            Some(seq) => Outcome::FailedFrom(seq.to_string()),
        },
        Err(e) => Outcome::FunctionError(e),
    }
}

/// Lambda's on-failure record for a stream batch it gave up on: the batch's place in the
/// stream, not its records (`smartpit redeliver` reads them back from the stream).
fn failure_record(
    batch: &[Value],
    m_function: &str,
    (arn, shard): (&str, &str),
    invokes: i64,
    why: &str,
) -> Value {
    let seq = |r: Option<&Value>| {
        r.and_then(|r| r["dynamodb"]["SequenceNumber"].as_str())
            .map(str::to_string)
    };
    json!({
        "requestContext": {
            "requestId": smartpit_shared::ids::base32(&smartpit_shared::ids::random_bytes::<10>()),
            "functionArn": format!("arn:aws:lambda:{}:{}:function:{}", crate::stack::LOCAL_REGION, crate::provision::LOCAL_ACCOUNT, m_function),
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": invokes,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": why},
        "version": "1.0",
        "timestamp": smartpit_shared::db::timestamp(chrono::Utc::now()),
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": seq(batch.first()),
            "endSequenceNumber": seq(batch.last()),
            "batchSize": batch.len(),
            "streamArn": arn,
        }
    })
}

/// Polls the stream of the mapping's table for ever, delivering to `function` as Lambda's event
/// source mapping does: in order, a batch at a time, retrying from the first failed record
/// (`ReportBatchItemFailures`), splitting a batch whose invocation failed (bisect), and giving a
/// batch up after `max_retries` retries, reported to the on-failure queue.
pub async fn pump(clients: Clients, m: Mapping, function: EventHandler) -> Result<(), String> {
    let Clients { ddb, streams, sqs } = clients;
    let desc = ddb
        .describe_table()
        .table_name(&m.table)
        .send()
        .await
        .map_err(|e| format!("describe {}: {e}", m.table))?;
    let arn = desc
        .table()
        .and_then(|t| t.latest_stream_arn())
        .ok_or_else(|| format!("{} has no stream", m.table))?
        .to_string();
    let stream = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .map_err(|e| format!("describe stream: {e}"))?;
    let shard = stream
        .stream_description()
        .and_then(|d| d.shards().first())
        .and_then(|s| s.shard_id())
        .ok_or("stream has no shard")?
        .to_string();
    let mut pending: VecDeque<Value> = VecDeque::new();
    // Retries of the batch at the front of `pending`, and how far it is split.
    let mut retries: i64 = 0;
    let mut limit = m.batch_size;
    // A fresh iterator after the last record read, at every poll: the emulator replaces a
    // table (and its stream shard) with a copy when a transaction on it fails, so an
    // iterator kept from an earlier poll would read the abandoned shard and see nothing new.
    let mut last_seq: Option<String> = None;
    loop {
        let kind = match last_seq {
            Some(_) => ShardIteratorType::AfterSequenceNumber,
            None => ShardIteratorType::TrimHorizon,
        };
        let iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(&shard)
            .shard_iterator_type(kind)
            .set_sequence_number(last_seq.clone())
            .send()
            .await
            .map(|o| o.shard_iterator().map(str::to_string));
        match iterator {
            Ok(Some(it)) => match streams
                .get_records()
                .shard_iterator(it)
                .limit(100)
                .send()
                .await
            {
                Ok(out) => {
                    if let Some(seq) = out
                        .records()
                        .last()
                        .and_then(|r| r.dynamodb())
                        .and_then(|d| d.sequence_number())
                    {
                        last_seq = Some(seq.to_string());
                    }
                    pending.extend(out.records().iter().map(|r| event_record(r, &arn)));
                }
                Err(e) => tracing::warn!(error = %e, "get records failed"),
            },
            Ok(None) => tracing::warn!("the stream gave no iterator"),
            Err(e) => tracing::warn!(error = %e, "get shard iterator failed"),
        }
        while !pending.is_empty() {
            let batch: Vec<Value> = pending.iter().take(limit).cloned().collect();
            let failed_from = match invoke(&function, batch.clone()).await {
                Outcome::Done => {
                    pending.drain(..batch.len());
                    retries = 0;
                    limit = m.batch_size;
                    continue;
                }
                Outcome::FunctionError(e) if m.bisect && batch.len() > 1 => {
                    // Splitting does not count as a retry.
                    tracing::warn!(error = %e, size = batch.len(), "function error: bisecting");
                    limit = batch.len().div_ceil(2);
                    continue;
                }
                Outcome::FunctionError(e) => (0, e),
                Outcome::FailedFrom(seq) => {
                    let at = batch
                        .iter()
                        .position(|r| r["dynamodb"]["SequenceNumber"].as_str() == Some(&seq))
                        .unwrap_or(0);
                    (at, "records reported as failed".to_string())
                }
            };
            let (at, why) = failed_from;
            pending.drain(..at);
            retries += 1;
            if m.max_retries >= 0 && retries > m.max_retries {
                let failed: Vec<Value> = batch[at..].to_vec();
                let record = failure_record(&failed, &m.function, (&arn, &shard), retries, &why);
                match &m.on_failure_queue {
                    Some(q) => {
                        if let Err(e) = sqs
                            .send_message()
                            .queue_url(q)
                            .message_body(record.to_string())
                            .send()
                            .await
                        {
                            tracing::error!(error = %e, "on-failure destination unreachable");
                        }
                    }
                    None => tracing::error!("batch given up with no on-failure destination"),
                }
                pending.drain(..failed.len().min(pending.len()));
                retries = 0;
                limit = m.batch_size;
                continue;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
