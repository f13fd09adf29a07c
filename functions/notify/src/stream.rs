//! The outbox stream's events as Lambda delivers them, read through `aws_lambda_events`' types
//! (the DynamoDB stream event, the partial batch failure answer): no JSON read by index.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::Deserialize;
use serde_json::Value;

/// The outbox table's key.
#[derive(Deserialize)]
struct OutboxKey {
    id: String,
}

/// The outbox record a stream record announces: only new records (`INSERT`) ask for delivery;
/// `None` for any other change, or keys that are not an outbox record's.
pub fn new_outbox_id(record: &EventRecord) -> Option<String> {
    if record.event_name != "INSERT" {
        return None;
    }
    serde_dynamo::from_item::<_, OutboxKey>(record.change.keys.clone())
        .ok()
        .map(|k| k.id)
}

/// A record's place in the stream, as the failure answer names it.
pub fn failed(record: &EventRecord) -> DynamoDbBatchItemFailure {
    let mut f = DynamoDbBatchItemFailure::default();
    f.item_identifier = record.change.sequence_number.clone();
    f
}

/// The answer: these records (and, as Lambda reads it, all after the first) are retried.
pub fn answer(failures: Vec<DynamoDbBatchItemFailure>) -> DynamoDbEventResponse {
    let mut r = DynamoDbEventResponse::default();
    r.batch_item_failures = failures;
    r
}

/// An event that is not a DynamoDB stream event (the local stack and the tests hand JSON): its
/// type's error, and the whole batch failed from its first record, so nothing is skipped.
pub fn parse(event: Value) -> Result<Event, (String, DynamoDbEventResponse)> {
    let first_sequence = event
        .pointer("/Records/0/dynamodb/SequenceNumber")
        .and_then(Value::as_str)
        .map(str::to_string);
    serde_json::from_value::<Event>(event).map_err(|e| {
        let mut f = DynamoDbBatchItemFailure::default();
        f.item_identifier = Some(first_sequence.unwrap_or_default());
        (e.to_string(), answer(vec![f]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Event {
        let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn aws_sample_events_parse_and_only_inserts_of_outbox_keys_ask_for_delivery() {
        // AWS's own sample (aws_lambda_events' test data): INSERTs of a table keyed otherwise;
        // nothing of it is an outbox record.
        let sample = fixture("aws-dynamodb-event.json");
        assert_eq!(sample.records.len(), 2);
        assert!(sample.records.iter().all(|r| new_outbox_id(r).is_none()));
        assert_eq!(
            failed(&sample.records[1]).item_identifier.as_deref(),
            Some("1405400000000002063282832")
        );
        let nulls = fixture("aws-dynamodb-event-null-items.json");
        assert!(nulls.records.iter().all(|r| new_outbox_id(r).is_none()));
    }

    #[test]
    fn our_outbox_record_is_read_from_the_keys_of_an_insert() {
        let ours = fixture("outbox-stream-event.json");
        let ids: Vec<Option<String>> = ours.records.iter().map(new_outbox_id).collect();
        assert_eq!(ids, [Some("invoice_registered#inv_1".to_string()), None]);
        let answer =
            serde_json::to_value(answer(vec![failed(&ours.records[0])])).unwrap_or_default();
        assert_eq!(
            answer,
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "4421584500000000017450439091"}]})
        );
    }

    #[test]
    fn what_is_not_a_stream_event_fails_its_whole_batch() {
        let (why, answer) = match parse(serde_json::json!({"Records": [
            {"dynamodb": {"SequenceNumber": "7", "Keys": {"id": {"S": "x"}}}}
        ]})) {
            Ok(_) => panic!("a record without eventID or eventName is not AWS's"),
            Err(e) => e,
        };
        // What AWS always sends and this record lacks (`SizeBytes`, `eventID`, ...).
        assert!(why.contains("missing field"), "{why}");
        assert_eq!(
            answer.batch_item_failures[0].item_identifier.as_deref(),
            Some("7")
        );
    }
}
