//! Runs a bucket's `Type: S3` event locally. The emulator does not invoke functions, but it
//! does send S3's own event notifications to a queue: each watched bucket notifies a local
//! queue of every object created under the event's prefix and suffix (one message per put, the
//! same bytes put again included, exactly the records S3 hands Lambda), and each message is
//! handed to the function on its own task, as Lambda's asynchronous invocations run side by
//! side: a slow or failing file holds back no other. A failing invocation is tried again (three
//! times in all, as Lambda does with `MaximumRetryAttempts: 2`), then logged and left to an
//! operator (`smartpit settlement run`).
//!
//! (Listing the bucket instead cannot see every put: S3 listings give modification times to
//! the second, so the same file put twice within a second looked like one put.)

use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
    QueueConfiguration, S3KeyFilter,
};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::Value;

use crate::stack::EventHandler;
use crate::template::BucketSource;

const TRIES: u32 = 3;

/// How long a received event stays invisible while its invocation runs (more than any
/// function's timeout in the template, so a slow run is not started twice).
const IN_FLIGHT_SECONDS: i32 = 900;

/// Connects `bucket`'s notifications to a queue of its own, then feeds the queue to `f` for
/// ever.
pub async fn watch(
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    bucket: String,
    source: BucketSource,
    f: EventHandler,
) {
    match connect(&s3, &sqs, &bucket, &source).await {
        Ok(url) => feed(sqs, url, source, f).await,
        Err(e) => {
            tracing::error!(function = %source.function, bucket = %bucket, error = %e, "bucket events not connected");
        }
    }
}

/// Hands each event on the bucket's queue (`connect`) to `f`, for ever.
pub async fn feed(sqs: aws_sdk_sqs::Client, url: String, source: BucketSource, f: EventHandler) {
    loop {
        let messages = crate::queues::receive(&sqs, &url, 10, Some(IN_FLIGHT_SECONDS)).await;
        if messages.is_empty() {
            continue;
        }
        for m in messages {
            let (f, sqs, url, function) =
                (f.clone(), sqs.clone(), url.clone(), source.function.clone());
            tokio::spawn(async move {
                let Some(handle) = m.receipt_handle().map(str::to_string) else {
                    return;
                };
                let mut event: Value =
                    serde_json::from_str(m.body().unwrap_or_default()).unwrap_or(Value::Null);
                as_s3_sends(&mut event);
                // S3 sends a test event when notifications are configured: nothing to run.
                let done = if event["Records"].is_array() {
                    let reply = f(event).await;
                    let tries: u32 = m
                        .attributes()
                        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(1);
                    match reply {
                        Ok(_) => true,
                        Err(e) => {
                            tracing::warn!(function = %function, attempt = tries, error = %e, "bucket event failed");
                            tries >= TRIES
                        }
                    }
                } else {
                    true
                };
                let sent = if done {
                    sqs.delete_message()
                        .queue_url(&url)
                        .receipt_handle(&handle)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
                } else {
                    // Back in a second for the next try.
                    sqs.change_message_visibility()
                        .queue_url(&url)
                        .receipt_handle(&handle)
                        .visibility_timeout(1)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
                };
                if let Err(e) = sent {
                    tracing::warn!(error = %e, "bucket event queue unreachable");
                }
            });
        }
    }
}

/// The emulator's S3 notification made the one S3 sends (the notification content structure
/// in S3's documentation, which `aws_lambda_events`' `S3Event` reads):
/// - it URL-encodes the object key with Python's `quote_plus`, which also encodes `/`; S3
///   leaves `/` as it is (`settlements/ministop/20261128.csv`);
/// - its `eventTime` has no zone (`2026-11-28T09:00:00.123456`); S3's is UTC with a `Z`;
/// - it leaves out `userIdentity`, `requestParameters` and `responseElements`, which S3 always
///   sends (`aws_lambda_events` requires the first two).
fn as_s3_sends(event: &mut Value) {
    for record in event["Records"].as_array_mut().into_iter().flatten() {
        let key = &mut record["s3"]["object"]["key"];
        if let Some(k) = key.as_str() {
            *key = Value::from(k.replace("%2F", "/"));
        }
        let time = &mut record["eventTime"];
        if let Some(t) = time.as_str() {
            if chrono::DateTime::parse_from_rfc3339(t).is_err() {
                if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
                {
                    *time = Value::from(
                        naive
                            .and_utc()
                            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    );
                }
            }
        }
        let Some(r) = record.as_object_mut() else {
            continue;
        };
        r.entry("userIdentity")
            .or_insert_with(|| serde_json::json!({"principalId": "AWS:LOCAL"}));
        r.entry("requestParameters")
            .or_insert_with(|| serde_json::json!({"sourceIPAddress": "127.0.0.1"}));
        r.entry("responseElements").or_insert_with(
            || serde_json::json!({"x-amz-request-id": "LOCAL", "x-amz-id-2": "LOCAL"}),
        );
    }
}

/// The bucket's notification configuration, sending created objects under the source's
/// prefix and suffix to a queue made for it; returns the queue's URL.
pub async fn connect(
    s3: &aws_sdk_s3::Client,
    sqs: &aws_sdk_sqs::Client,
    bucket: &str,
    source: &BucketSource,
) -> Result<String, String> {
    let name: String = format!("{bucket}-events").chars().take(80).collect();
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?
        .queue_url()
        .ok_or("the emulator gave no queue URL")?
        .to_string();
    let arn = format!(
        "arn:aws:sqs:{}:{}:{name}",
        crate::stack::LOCAL_REGION,
        crate::provision::LOCAL_ACCOUNT
    );
    let rule =
        |kind: FilterRuleName, value: &str| FilterRule::builder().name(kind).value(value).build();
    let mut key = S3KeyFilter::builder();
    if !source.prefix.is_empty() {
        key = key.filter_rules(rule(FilterRuleName::Prefix, &source.prefix));
    }
    if !source.suffix.is_empty() {
        key = key.filter_rules(rule(FilterRuleName::Suffix, &source.suffix));
    }
    let queue = QueueConfiguration::builder()
        .queue_arn(arn)
        .events(Event::from("s3:ObjectCreated:*"))
        .filter(
            NotificationConfigurationFilter::builder()
                .key(key.build())
                .build(),
        )
        .build()
        .map_err(|e| e.to_string())?;
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(queue)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(e).to_string())?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emulators_notification_becomes_the_one_s3_sends() {
        // What moto 5.2.1 sends for a put (its `_get_s3_event`).
        let mut event = serde_json::json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "ap-northeast-1",
            "eventTime": "2026-11-28T09:00:00.123456", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "settlements",
                   "bucket": {"name": "b", "arn": "arn:aws:s3:::b"},
                   "object": {"key": "settlements%2Fministop%2F20261128.csv", "size": 10,
                              "eTag": "e"}}}]});
        assert!(
            serde_json::from_value::<aws_lambda_events::event::s3::S3Event>(event.clone()).is_err(),
            "as the emulator sends it, AWS's type refuses it"
        );
        as_s3_sends(&mut event);
        let parsed: aws_lambda_events::event::s3::S3Event =
            serde_json::from_value(event).unwrap_or_else(|e| panic!("{e}"));
        let r = &parsed.records[0];
        assert_eq!(
            r.s3.object.key.as_deref(),
            Some("settlements/ministop/20261128.csv")
        );
        assert_eq!(r.event_time.to_rfc3339(), "2026-11-28T09:00:00.123+00:00");
    }
}
