//! Feeds a table's stream to its function the way Lambda does: batches of records in the
//! DynamoDB stream event shape, retried from the first failed record (partial batch failure
//! reporting) after a pause, until it succeeds.

use std::collections::VecDeque;
use std::time::Duration;

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use serde_json::{json, Map, Value};

use smartpit_notify::NotifyFunction;

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
            "Keys": d.and_then(|d| d.keys()).map(image),
            "NewImage": d.and_then(|d| d.new_image()).map(image),
            "SequenceNumber": d.and_then(|d| d.sequence_number()),
            "StreamViewType": d.and_then(|d| d.stream_view_type()).map(|v| v.as_str().to_string()),
        }
    })
}

/// Polls the stream of `table` for ever, delivering to `function`.
pub async fn pump(
    ddb: aws_sdk_dynamodb::Client,
    streams: aws_sdk_dynamodbstreams::Client,
    table: String,
    function: NotifyFunction,
) -> Result<(), String> {
    let desc = ddb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .map_err(|e| format!("describe {table}: {e}"))?;
    let arn = desc
        .table()
        .and_then(|t| t.latest_stream_arn())
        .ok_or_else(|| format!("{table} has no stream"))?
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
    let mut iterator = streams
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .map_err(|e| format!("shard iterator: {e}"))?
        .shard_iterator()
        .map(str::to_string);
    let mut pending: VecDeque<Value> = VecDeque::new();
    loop {
        if let Some(it) = iterator.clone() {
            match streams
                .get_records()
                .shard_iterator(it)
                .limit(100)
                .send()
                .await
            {
                Ok(out) => {
                    pending.extend(out.records().iter().map(|r| event_record(r, &arn)));
                    iterator = out.next_shard_iterator().map(str::to_string);
                }
                Err(e) => tracing::warn!(error = %e, "get records failed"),
            }
        }
        while !pending.is_empty() {
            let batch: Vec<Value> = pending.iter().take(10).cloned().collect();
            let reply = function.handle(json!({"Records": batch})).await;
            let failed = reply["batchItemFailures"]
                .as_array()
                .and_then(|f| f.first())
                .and_then(|f| f["itemIdentifier"].as_str())
                .map(str::to_string);
            match failed {
                None => {
                    for _ in 0..batch.len() {
                        pending.pop_front();
                    }
                }
                Some(seq) => {
                    while pending
                        .front()
                        .is_some_and(|r| r["dynamodb"]["SequenceNumber"].as_str() != Some(&seq))
                    {
                        pending.pop_front();
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
