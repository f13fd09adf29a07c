//! Creates what the template defines, on the local endpoint: tables (keys, indexes, TTL) and
//! buckets. Running it again changes nothing.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use serde_yaml::Value;

use crate::template::Template;

/// Local resource names: a table is named after its logical id, a bucket after its logical id
/// in lower case (S3 names must be).
pub fn table_name(logical: &str) -> String {
    format!("smartpit-{logical}")
}

pub fn bucket_name(logical: &str) -> String {
    format!("smartpit-{}", logical.to_lowercase())
}

pub fn queue_name(logical: &str) -> String {
    format!("smartpit-{logical}")
}

/// The account the emulator puts its resources in.
pub const LOCAL_ACCOUNT: &str = "123456789012";

/// A queue's URL on the emulator (what `!Ref` of a queue gives).
pub fn queue_url(endpoint: &str, logical: &str) -> String {
    format!("{endpoint}/{LOCAL_ACCOUNT}/{}", queue_name(logical))
}

/// The local name of the resource a `!Ref` names (a queue's is its URL: see `queue_url`).
pub fn resolve_ref(t: &Template, logical: &str) -> Option<String> {
    if t.tables.contains_key(logical) {
        Some(table_name(logical))
    } else if t.kms_keys.iter().any(|k| k == logical) {
        Some(key_alias(logical))
    } else if t.buckets.iter().any(|b| b == logical) {
        Some(bucket_name(logical))
    } else {
        None
    }
}

/// A KMS key's local name: an alias (KMS takes one wherever it takes a key id).
pub fn key_alias(logical: &str) -> String {
    format!("alias/smartpit-{}", logical.to_lowercase())
}

/// The template's KMS keys, created on the emulator under their aliases (once).
pub async fn kms_keys(kms: &aws_sdk_kms::Client, t: &Template) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("KMS: {e}");
    let existing: Vec<String> = kms
        .list_aliases()
        .send()
        .await
        .map_err(|e| err(&aws_sdk_kms::error::DisplayErrorContext(&e)))?
        .aliases()
        .iter()
        .filter_map(|a| a.alias_name().map(str::to_string))
        .collect();
    for logical in &t.kms_keys {
        let alias = key_alias(logical);
        if existing.contains(&alias) {
            continue;
        }
        let key = kms
            .create_key()
            .description(format!("smartpit local {logical}"))
            .send()
            .await
            .map_err(|e| err(&aws_sdk_kms::error::DisplayErrorContext(&e)))?;
        let id = key
            .key_metadata()
            .map(|m| m.key_id().to_string())
            .ok_or("KMS created a key without an id")?;
        kms.create_alias()
            .alias_name(&alias)
            .target_key_id(id)
            .send()
            .await
            .map_err(|e| err(&aws_sdk_kms::error::DisplayErrorContext(&e)))?;
    }
    Ok(())
}

/// A queue's ARN on the emulator (what `!GetAtt Queue.Arn` gives).
pub fn queue_arn(logical: &str) -> String {
    format!(
        "arn:aws:sqs:{}:{LOCAL_ACCOUNT}:{}",
        crate::stack::LOCAL_REGION,
        queue_name(logical)
    )
}

/// The template's queues, created on the emulator with their visibility time-out and redrive
/// policy (dead-letter queues first); running it again changes nothing.
pub async fn queues(sqs: &aws_sdk_sqs::Client, t: &Template, endpoint: &str) -> Result<(), String> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let err = |logical: &str, e: &dyn std::fmt::Display| format!("queue {logical}: {e}");
    let settings = |logical: &str| t.queue_settings.get(logical).cloned().unwrap_or_default();
    let mut ordered: Vec<&String> = t.queues.iter().collect();
    ordered.sort_by_key(|q| settings(q).dead_letter.is_some());
    for logical in ordered {
        let out = sqs
            .create_queue()
            .queue_name(queue_name(logical))
            .send()
            .await
            .map_err(|e| err(logical, &aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
        let want = queue_url(endpoint, logical);
        if out.queue_url() != Some(want.as_str()) {
            return Err(format!(
                "queue {logical} is at {:?}, expected {want}",
                out.queue_url()
            ));
        }
        let set = settings(logical);
        let mut attributes = sqs.set_queue_attributes().queue_url(&want).attributes(
            QueueAttributeName::VisibilityTimeout,
            set.visibility_seconds.to_string(),
        );
        if let Some((target, max_receives)) = &set.dead_letter {
            let policy = serde_json::json!({
                "deadLetterTargetArn": queue_arn(target),
                "maxReceiveCount": max_receives,
            });
            attributes =
                attributes.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
        }
        attributes
            .send()
            .await
            .map_err(|e| err(logical, &aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
    }
    Ok(())
}

fn s<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("table property {key} missing"))
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_sequence)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn key_schema(v: &Value) -> Result<Vec<KeySchemaElement>, String> {
    list(v, "KeySchema")
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(s(k, "AttributeName")?)
                .key_type(KeyType::from(s(k, "KeyType")?))
                .build()
                .map_err(|e| e.to_string())
        })
        .collect()
}

pub async fn tables(ddb: &aws_sdk_dynamodb::Client, t: &Template) -> Result<(), String> {
    let existing = ddb.list_tables().send().await.map_err(|e| {
        format!(
            "list tables: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(&e)
        )
    })?;
    for (logical, props) in &t.tables {
        let name = table_name(logical);
        if existing.table_names().contains(&name) {
            continue;
        }
        let attrs = list(props, "AttributeDefinitions")
            .iter()
            .map(|a| {
                AttributeDefinition::builder()
                    .attribute_name(s(a, "AttributeName")?)
                    .attribute_type(ScalarAttributeType::from(s(a, "AttributeType")?))
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let gsis = list(props, "GlobalSecondaryIndexes")
            .iter()
            .map(|g| {
                let projection = g
                    .get("Projection")
                    .and_then(|p| p.get("ProjectionType"))
                    .and_then(Value::as_str)
                    .unwrap_or("ALL");
                GlobalSecondaryIndex::builder()
                    .index_name(s(g, "IndexName")?)
                    .set_key_schema(Some(key_schema(g)?))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(projection))
                            .build(),
                    )
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let stream = props
            .get("StreamSpecification")
            .and_then(|s| s.get("StreamViewType"))
            .and_then(Value::as_str);
        ddb.create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(attrs))
            .set_key_schema(Some(key_schema(props)?))
            .set_global_secondary_indexes((!gsis.is_empty()).then_some(gsis))
            .set_stream_specification(
                stream
                    .map(|v| {
                        StreamSpecification::builder()
                            .stream_enabled(true)
                            .stream_view_type(StreamViewType::from(v))
                            .build()
                    })
                    .transpose()
                    .map_err(|e| e.to_string())?,
            )
            .send()
            .await
            .map_err(|e| {
                format!(
                    "create table {name}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                )
            })?;
        if let Some(ttl) = props.get("TimeToLiveSpecification") {
            ddb.update_time_to_live()
                .table_name(&name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(s(ttl, "AttributeName")?)
                        .enabled(true)
                        .build()
                        .map_err(|e| e.to_string())?,
                )
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "ttl {name}: {}",
                        aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                    )
                })?;
        }
    }
    Ok(())
}

pub async fn buckets(s3: &aws_sdk_s3::Client, t: &Template) -> Result<(), String> {
    for logical in &t.buckets {
        let name = bucket_name(logical);
        if s3.head_bucket().bucket(&name).send().await.is_ok() {
            continue;
        }
        let region = s3.config().region().map(|r| r.as_ref().to_string());
        let location = region.filter(|r| r != "us-east-1").map(|r| {
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    r.as_str(),
                ))
                .build()
        });
        s3.create_bucket()
            .bucket(&name)
            .set_create_bucket_configuration(location)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "create bucket {name}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            })?;
    }
    Ok(())
}
