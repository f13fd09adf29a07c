//! The functions' DynamoDB permissions as the template grants them, enforced by the local stack:
//! every DynamoDB call a function makes is checked, before it is sent, against its role's
//! statements (action, table, index), so a call the role would not allow fails here as it would
//! on AWS. `SMARTPIT_IAM_RECORD=<file>` records the calls instead (`function action table
//! index` lines), which is how the template's statements were derived.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Arc;

use serde_json::Value as Json;
use serde_yaml::Value;

use crate::provision::table_name;
use crate::template::Template;

/// Decides whether a function's AWS call may be sent: the service, the operation and the
/// request body in; `Err` with the reason to refuse it, as AWS would (the stack asks it at each
/// instance's AWS endpoint, `crate::runtime`).
pub type Guard = Arc<dyn Fn(&str, &str, &[u8]) -> Result<(), String> + Send + Sync>;

/// One DynamoDB permission: `dynamodb:<action>` on a table (`index: None`) or its index
/// (`Some("*")`: any index).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub action: String,
    pub table: String,
    pub index: Option<String>,
}

/// What each function's code calls on DynamoDB, by table and index: the `shared/src/db` entry
/// points each function reaches (read from its crate), as `Function action Table[/index]`.
/// The template must grant exactly this (`template_grants_exactly_what_the_code_calls`), and
/// the local stack refuses any call outside it, so every end-to-end test checks it is enough.
pub const NEEDS: &[&str] = &[
    // Joint cards: key lookup, idempotency claims (put, take over, finish, release), numbers.
    "NumbersFunction GetItem MainTable",
    "NumbersFunction PutItem MainTable",
    "NumbersFunction UpdateItem MainTable",
    "NumbersFunction DeleteItem MainTable",
    "NumbersFunction GetItem NumbersTable",
    "NumbersFunction PutItem NumbersTable",
    // Registration, reads, listings, cancel, change, move, report.
    "InvoicesFunction GetItem MainTable",
    "InvoicesFunction PutItem MainTable",
    "InvoicesFunction UpdateItem MainTable",
    "InvoicesFunction DeleteItem MainTable",
    "InvoicesFunction Query MainTable",
    "InvoicesFunction BatchGetItem MainTable",
    "InvoicesFunction Query MainTable/by_merchant",
    "InvoicesFunction Query MainTable/by_merchant_status",
    "InvoicesFunction GetItem NumbersTable",
    "InvoicesFunction PutItem NumbersTable",
    "InvoicesFunction Query NumbersTable/by_customer_ref",
    "InvoicesFunction PutItem OutboxTable",
    "InvoicesFunction PutItem EventsTable",
    // The money path: lookup, payment, void, slips. No Scan, no DeleteItem, no batch writes.
    "StoreFunction GetItem MainTable",
    "StoreFunction PutItem MainTable",
    "StoreFunction UpdateItem MainTable",
    "StoreFunction Query MainTable",
    "StoreFunction BatchGetItem MainTable",
    "StoreFunction PutItem EventsTable",
    "StoreFunction PutItem OutboxTable",
    // Notices: reads and outcome updates; notice.failed events.
    "NotifyFunction GetItem MainTable",
    "NotifyFunction UpdateItem MainTable",
    "NotifyFunction GetItem OutboxTable",
    "NotifyFunction UpdateItem OutboxTable",
    "NotifyFunction PutItem EventsTable",
    "MailEventsFunction GetItem MainTable",
    "MailEventsFunction UpdateItem MainTable",
    "MailEventsFunction PutItem EventsTable",
    "ExpiryFunction GetItem MainTable",
    "ExpiryFunction Query MainTable",
    "ExpiryFunction DeleteItem MainTable",
    "ExpiryFunction PutItem OutboxTable",
    "ExpiryFunction UpdateItem MainTable",
    "ExpiryFunction Query MainTable/by_open_deadline",
    "ExpiryFunction PutItem EventsTable",
    "SettlementFunction PutItem MainTable",
    "SettlementFunction UpdateItem MainTable",
    "SettlementFunction BatchGetItem MainTable",
    "SettlementFunction Query MainTable/by_chain_day",
    "SettlementFunction PutItem EventsTable",
    "WebhookApiFunction GetItem MainTable",
    "WebhookApiFunction PutItem MainTable",
    "WebhookApiFunction DeleteItem MainTable",
    "WebhookApiFunction GetItem EventsTable",
    // ... and writes the webhook.test event.
    "WebhookApiFunction PutItem EventsTable",
    "WebhookApiFunction UpdateItem EventsTable",
    "WebhookApiFunction Query EventsTable",
    "WebhookDeliveryFunction GetItem MainTable",
    "WebhookDeliveryFunction GetItem EventsTable",
    "WebhookDeliveryFunction UpdateItem EventsTable",
    "WebhookDeliveryFunction Query EventsTable/by_due",
    // Payouts: the run reads merchants, their settled lines and states, writes payouts (one
    // transaction each) and payout.created; the API reads.
    "PayoutRunFunction GetItem MainTable",
    "PayoutRunFunction PutItem MainTable",
    "PayoutRunFunction Query MainTable",
    "PayoutRunFunction BatchGetItem MainTable",
    // ... and erases refund accounts paid 30 days ago (the sealed attributes, the queue entry).
    "PayoutRunFunction UpdateItem MainTable",
    "PayoutRunFunction DeleteItem MainTable",
    "PayoutRunFunction PutItem EventsTable",
    "PayoutSandboxFunction GetItem MainTable",
    "PayoutSandboxFunction PutItem MainTable",
    "PayoutSandboxFunction Query MainTable",
    "PayoutSandboxFunction BatchGetItem MainTable",
    "PayoutSandboxFunction PutItem EventsTable",
    // The refund page reads the token, refund and bill, counts misses, stores the sealed
    // details with refund.details_received.
    // The console: users, links, sessions, counters; the registration's own calls.
    "ConsoleFunction GetItem MainTable",
    "ConsoleFunction PutItem MainTable",
    "ConsoleFunction UpdateItem MainTable",
    "ConsoleFunction DeleteItem MainTable",
    "ConsoleFunction Query MainTable",
    // ... and the day's report reads its payments' states (as the invoices function does).
    "ConsoleFunction BatchGetItem MainTable",
    "ConsoleFunction Query MainTable/by_merchant",
    "ConsoleFunction Query MainTable/by_merchant_status",
    "ConsoleFunction GetItem NumbersTable",
    "ConsoleFunction PutItem NumbersTable",
    "ConsoleFunction Query NumbersTable/by_customer_ref",
    "ConsoleFunction PutItem OutboxTable",
    "ConsoleFunction PutItem EventsTable",
    // ... and the failed notices among the latest events, and a bill's events (its index).
    "ConsoleFunction Query EventsTable",
    "ConsoleFunction Query EventsTable/by_invoice",
    // The console's settings: the session (read, touched), contact, reminders and the webhook
    // endpoint (set, rotated, removed), the test event written and read back.
    "ConsoleSettingsFunction GetItem MainTable",
    "ConsoleSettingsFunction PutItem MainTable",
    "ConsoleSettingsFunction UpdateItem MainTable",
    "ConsoleSettingsFunction DeleteItem MainTable",
    "ConsoleSettingsFunction GetItem EventsTable",
    "ConsoleSettingsFunction PutItem EventsTable",
    // The console's payouts: the session (read, touched), the merchant's payouts.
    "ConsolePayoutsFunction GetItem MainTable",
    "ConsolePayoutsFunction UpdateItem MainTable",
    "ConsolePayoutsFunction Query MainTable",
    // The background run of long uploads: the upload's state and lines, the registration's
    // own calls.
    "ConsoleUploadsFunction GetItem MainTable",
    "ConsoleUploadsFunction PutItem MainTable",
    "ConsoleUploadsFunction UpdateItem MainTable",
    "ConsoleUploadsFunction DeleteItem MainTable",
    "ConsoleUploadsFunction Query MainTable",
    "ConsoleUploadsFunction GetItem NumbersTable",
    "ConsoleUploadsFunction PutItem NumbersTable",
    "ConsoleUploadsFunction Query NumbersTable/by_customer_ref",
    "ConsoleUploadsFunction PutItem OutboxTable",
    "ConsoleUploadsFunction PutItem EventsTable",
    "RefundPageFunction GetItem MainTable",
    "RefundPageFunction UpdateItem MainTable",
    "RefundPageFunction PutItem MainTable",
    "RefundPageFunction PutItem EventsTable",
    "RefundSandboxFunction GetItem MainTable",
    "RefundSandboxFunction UpdateItem MainTable",
    "RefundSandboxFunction PutItem MainTable",
    "RefundSandboxFunction PutItem EventsTable",
    "PayoutsApiFunction GetItem MainTable",
    "PayoutsApiFunction Query MainTable",
    // Sandbox helpers (test stacks): the store's payment and void, the sweep's expiry, the
    // settlement's settle, on the merchant's own invoice.
    "SandboxFunction GetItem MainTable",
    "SandboxFunction PutItem MainTable",
    "SandboxFunction UpdateItem MainTable",
    "SandboxFunction Query MainTable",
    "SandboxFunction BatchGetItem MainTable",
    "SandboxFunction PutItem EventsTable",
    "SandboxFunction PutItem OutboxTable",
    "SheetsFunction GetItem MainTable",
    "SheetsFunction UpdateItem MainTable",
    "SheetsFunction PutItem NumbersTable",
];

/// One call's needs: the action, the local table name, the index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Access {
    pub action: String,
    pub table: String,
    pub index: Option<String>,
}

/// What a DynamoDB request needs, from its JSON body.
pub fn dynamodb_access(op: &str, body: &[u8]) -> Vec<Access> {
    let v: Json = serde_json::from_slice(body).unwrap_or(Json::Null);
    let one = |action: &str, b: &Json| Access {
        action: action.to_string(),
        table: b["TableName"].as_str().unwrap_or_default().to_string(),
        index: b["IndexName"].as_str().map(str::to_string),
    };
    match op {
        "TransactWriteItems" => v["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let (kind, b) = item.as_object()?.iter().next()?;
                let action = match kind.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    _ => return None,
                };
                Some(one(action, b))
            })
            .collect(),
        "BatchGetItem" | "BatchWriteItem" => v["RequestItems"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
            .map(|t| Access {
                action: op.to_string(),
                table: t.clone(),
                index: None,
            })
            .collect(),
        _ => vec![one(op, &v)],
    }
}

fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_mapping()?.get(Value::String(key.to_string()))
}

fn list(v: Option<&Value>) -> Vec<Value> {
    match v {
        Some(Value::Sequence(s)) => s.clone(),
        Some(other) => vec![other.clone()],
        None => Vec::new(),
    }
}

/// `!GetAtt MainTable.Arn` -> (MainTable, None); `!Sub "${MainTable.Arn}/index/x"` ->
/// (MainTable, Some(x)).
fn table_resource(v: &Value) -> Option<(String, Option<String>)> {
    let Value::Tagged(t) = v else { return None };
    let text = t.value.as_str()?;
    match t.tag.to_string().as_str() {
        "!GetAtt" => Some((text.strip_suffix(".Arn")?.to_string(), None)),
        "!Sub" => {
            let rest = text.strip_prefix("${")?;
            let (logical, tail) = rest.split_once(".Arn}")?;
            let index = tail.strip_prefix("/index/")?;
            Some((logical.to_string(), Some(index.to_string())))
        }
        _ => None,
    }
}

/// The DynamoDB grants of each function, from its explicit policy statements (SAM's policy
/// templates are not read: a function's DynamoDB access must be spelled out).
pub fn grants(doc: &Value) -> BTreeMap<String, BTreeSet<Grant>> {
    let mut out: BTreeMap<String, BTreeSet<Grant>> = BTreeMap::new();
    let Some(resources) = get(doc, "Resources").and_then(Value::as_mapping) else {
        return out;
    };
    for (id, res) in resources {
        if get(res, "Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let Some(id) = id.as_str() else { continue };
        let set = out.entry(id.to_string()).or_default();
        let policies = list(get(res, "Properties").and_then(|p| get(p, "Policies")));
        for policy in policies {
            for st in list(get(&policy, "Statement")) {
                if get(&st, "Effect").and_then(Value::as_str) != Some("Allow") {
                    continue;
                }
                let actions: Vec<String> = list(get(&st, "Action"))
                    .iter()
                    .filter_map(|a| a.as_str()?.strip_prefix("dynamodb:").map(str::to_string))
                    .collect();
                for r in list(get(&st, "Resource")) {
                    let Some((table, index)) = table_resource(&r) else {
                        continue;
                    };
                    for action in &actions {
                        set.insert(Grant {
                            action: action.clone(),
                            table: table.clone(),
                            index: index.clone(),
                        });
                    }
                }
            }
        }
    }
    out
}

fn allowed(grants: &BTreeSet<Grant>, logical_of: &BTreeMap<String, String>, a: &Access) -> bool {
    let Some(logical) = logical_of.get(&a.table) else {
        return false;
    };
    grants.iter().any(|g| {
        g.action == a.action
            && &g.table == logical
            && match (&g.index, &a.index) {
                (None, None) => true,
                (Some(w), Some(i)) => w == "*" || w == i,
                _ => false,
            }
    })
}

/// The guard of each function: refuses (or, when recording, writes down) its DynamoDB calls.
pub fn guards(template: &Template) -> BTreeMap<String, Guard> {
    let g = grants(&template.raw);
    let logical_of: BTreeMap<String, String> = template
        .tables
        .keys()
        .map(|t| (table_name(t), t.clone()))
        .collect();
    let record = std::env::var_os("SMARTPIT_IAM_RECORD");
    template
        .function_env
        .keys()
        .map(|function| {
            let own = g.get(function).cloned().unwrap_or_default();
            let logical_of = logical_of.clone();
            let name = function.clone();
            let record = record.clone();
            let guard: Guard = Arc::new(move |service, op, body| {
                if service != "DynamoDB" {
                    return Ok(());
                }
                for a in dynamodb_access(op, body) {
                    if let Some(path) = &record {
                        let logical = logical_of.get(&a.table).cloned().unwrap_or(a.table.clone());
                        if let Ok(mut f) = std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(path)
                        {
                            let _ = writeln!(
                                f,
                                "{name} {} {logical} {}",
                                a.action,
                                a.index.as_deref().unwrap_or("-")
                            );
                        }
                        continue;
                    }
                    if !allowed(&own, &logical_of, &a) {
                        return Err(format!(
                            "AccessDenied: {name}'s role does not allow dynamodb:{} on {}{} \
                             (infra/template.yaml)",
                            a.action,
                            a.table,
                            a.index
                                .as_deref()
                                .map(|i| format!("/index/{i}"))
                                .unwrap_or_default()
                        ));
                    }
                }
                Ok(())
            });
            (function.clone(), guard)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_grants_exactly_what_the_code_calls() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let granted: BTreeSet<String> = grants(&doc)
            .into_iter()
            .flat_map(|(f, gs)| {
                gs.into_iter().map(move |g| {
                    let index = g.index.map(|i| format!("/{i}")).unwrap_or_default();
                    format!("{f} {} {}{index}", g.action, g.table)
                })
            })
            .collect();
        let needed: BTreeSet<String> = NEEDS.iter().map(|s| s.to_string()).collect();
        let extra: Vec<_> = granted.difference(&needed).collect();
        let missing: Vec<_> = needed.difference(&granted).collect();
        assert!(
            extra.is_empty(),
            "granted beyond what the code calls: {extra:?}"
        );
        assert!(missing.is_empty(), "not granted: {missing:?}");
    }

    #[test]
    fn a_transaction_needs_each_of_its_writes() {
        let body = br#"{"TransactItems":[{"Put":{"TableName":"a"}},{"Update":{"TableName":"b"}},
                      {"ConditionCheck":{"TableName":"a"}}]}"#;
        let got: Vec<(String, String)> = dynamodb_access("TransactWriteItems", body)
            .into_iter()
            .map(|a| (a.action, a.table))
            .collect();
        assert_eq!(
            got,
            [
                ("PutItem".into(), "a".into()),
                ("UpdateItem".into(), "b".into()),
                ("ConditionCheckItem".into(), "a".into())
            ]
        );
        let q = dynamodb_access("Query", br#"{"TableName":"t","IndexName":"by_x"}"#);
        assert_eq!(q[0].index.as_deref(), Some("by_x"));
    }
}
