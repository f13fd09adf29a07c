//! Runs a bucket's `Type: S3` event locally: the emulator does not invoke functions, so the
//! bucket is listed under the event's prefix every half second and each object created or
//! replaced since (a new ETag or modification time) is handed to the function in the S3 event shape, as Lambda's
//! asynchronous invocation would (every put is an event, the same bytes put again too). A failing invocation is tried again (three times in all,
//! as Lambda does with `MaximumRetryAttempts: 2`), then logged and left to an operator
//! (`smartpit settlement run`).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use crate::stack::EventHandler;
use crate::template::BucketSource;

const TRIES: u32 = 3;

/// Watches `bucket` for ever.
pub async fn watch(s3: aws_sdk_s3::Client, bucket: String, source: BucketSource, f: EventHandler) {
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut failures: HashMap<(String, String), u32> = HashMap::new();
    loop {
        let mut token = None;
        let mut created = Vec::new();
        loop {
            let listed = s3
                .list_objects_v2()
                .bucket(&bucket)
                .prefix(&source.prefix)
                .set_continuation_token(token.take())
                .send()
                .await;
            let Ok(out) = listed else { break };
            for obj in out.contents() {
                let (Some(key), Some(etag)) = (obj.key(), obj.e_tag()) else {
                    continue;
                };
                // Each put is an event, the same content put again included.
                let stamp = obj
                    .last_modified()
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                let version = format!("{etag}@{stamp}");
                if key.ends_with(&source.suffix)
                    && seen.get(key).map(String::as_str) != Some(version.as_str())
                {
                    created.push((
                        key.to_string(),
                        etag.to_string(),
                        version,
                        obj.size().unwrap_or(0),
                    ));
                }
            }
            token = out.next_continuation_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        for (key, etag, version, size) in created {
            let event = json!({"Records": [{
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": crate::stack::LOCAL_REGION,
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
                    "object": {"key": key, "size": size, "eTag": etag.trim_matches('"')},
                },
            }]});
            let reply = f(event).await;
            let tries = failures.entry((key.clone(), version.clone())).or_default();
            if reply.get("errorMessage").is_some() {
                *tries += 1;
                tracing::warn!(function = %source.function, key = %key, attempt = *tries, reply = %reply, "bucket event failed");
                if *tries < TRIES {
                    continue;
                }
            }
            seen.insert(key, version);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
