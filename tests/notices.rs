//! Notices that cannot go out never hold back the others, and the merchant sees each one's
//! state on the invoice: refused addresses (`failed`), bills cancelled first (`skipped`),
//! passing failures that outlast their retries (parked, then `smartpit redeliver`). In its own
//! binary: some tests break the emulator's SES for a while, so they run one at a time.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use smartpit_shared::db::item::get_s;
use smartpit_tests::{due_in, stack, unique, TestStack};
use tokio::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

const SENDER: &str = "no-reply@card.smartpit.example";

async fn set_ses_sender(s: &TestStack, verified: bool) {
    let ses = aws_sdk_sesv2::Client::new(&s.sdk());
    for identity in [SENDER, "card.smartpit.example"] {
        if verified {
            ses.create_email_identity()
                .email_identity(identity)
                .send()
                .await
                .expect("create identity");
        } else {
            ses.delete_email_identity()
                .email_identity(identity)
                .send()
                .await
                .expect("delete identity");
        }
    }
}

async fn register(s: &TestStack, customer: Value, number: Option<&str>) -> Value {
    let mut body = json!({"merchant_order_id": unique("web"), "amount": 1980,
                          "due_date": due_in(5), "customer": customer});
    if let Some(n) = number {
        body["smartpit_number"] = json!(n);
    }
    let r = s
        .client()
        .register(s.merchant_key(0), &unique("idem"), &body)
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body
}

async fn invoice(s: &TestStack, id: &str) -> Value {
    let c = s.client();
    let r = c
        .send(c.get(&format!("/v1/invoices/{id}"), s.merchant_key(0)))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

fn notice<'a>(inv: &'a Value, kind: &str) -> &'a Value {
    inv["notices"]
        .as_array()
        .and_then(|l| l.iter().find(|n| n["kind"] == kind))
        .unwrap_or(&Value::Null)
}

/// Waits until every named notice of the invoice has left `queued`.
async fn settled(s: &TestStack, id: &str, kinds: &[&str], secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let inv = invoice(s, id).await;
        let done = kinds.iter().all(|k| {
            let st = &notice(&inv, k)["status"];
            st != "queued" && !st.is_null()
        });
        if done || Instant::now() > deadline {
            return inv;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// RELIABILITY 6: an address SES refuses fails its own notice; the sheets behind it are
/// stored and mailed within seconds.
#[tokio::test]
async fn a_refused_address_holds_back_no_other_notice() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = stack();
    let refused = format!("{}@unverified.example", unique("taro"));
    let bad = register(s, json!({"email": refused}), None).await;
    let good_addresses: Vec<String> = (0..3)
        .map(|_| format!("{}@example.jp", unique("hanako")))
        .collect();
    let mut good = Vec::new();
    for a in &good_addresses {
        good.push(register(s, json!({"email": a}), None).await);
    }
    let started = Instant::now();
    for (a, inv) in good_addresses.iter().zip(&good) {
        assert_eq!(s.mail_to(a, 1, 15).await.len(), 1, "mail to a good address");
        let id = inv["id"].as_str().unwrap_or_default();
        let view = settled(s, id, &["sheet", "sheet_mail"], 10).await;
        assert_eq!(notice(&view, "sheet")["status"], "sent");
        assert_eq!(notice(&view, "sheet_mail")["status"], "sent");
        let token = inv["sheet_url"]
            .as_str()
            .and_then(|u| u.rsplit('/').next())
            .unwrap_or_default();
        let link = s.item(&format!("SHEET#{token}"), "#").await.expect("link");
        assert!(link.contains_key("stored_at"), "the PDF is stored");
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "good notices waited {:?}",
        started.elapsed()
    );
    let id = bad["id"].as_str().unwrap_or_default();
    let view = settled(s, id, &["sheet", "sheet_mail"], 10).await;
    assert_eq!(notice(&view, "sheet")["status"], "sent", "{view}");
    let failed = notice(&view, "sheet_mail");
    assert_eq!(failed["status"], "failed", "{view}");
    assert_eq!(failed["to"], refused.as_str());
    assert!(
        failed["reason"]
            .as_str()
            .is_some_and(|r| r.contains("MessageRejected")),
        "{failed}"
    );
    assert!(s.mail_to(&refused, 1, 0).await.is_empty());
    let outbox = s.outbox(id).await.expect("record");
    assert_eq!(get_s(&outbox, "mail_message_id"), Some("failed"));
    assert!(!outbox.contains_key("parked_at"));
    // The merchant is told: notice.failed, written with the outcome (this merchant has no
    // endpoint, so the event is listed, not pushed).
    let c = s.client();
    let events = c
        .send(c.get("/v1/events?type=notice.failed&limit=100", s.merchant_key(0)))
        .await;
    assert_eq!(events.status, 200, "{:?}", events.body);
    let ours = events.body["events"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["data"]["invoice"]["id"] == id).cloned())
        .expect("a notice.failed event");
    assert_eq!(ours["data"]["notice"]["kind"], "sheet_mail");
    assert_eq!(ours["data"]["notice"]["status"], "failed");

    // A card holder's refused mobile address: the same, on its own notice.
    let card = s.fresh_card().await.to_string();
    let mobile = format!("{}@unverified.example", unique("jiro"));
    let inv = register(s, json!({"mobile_email": mobile}), Some(&card)).await;
    let view = settled(
        s,
        inv["id"].as_str().unwrap_or_default(),
        &["mobile_mail"],
        10,
    )
    .await;
    assert_eq!(notice(&view, "mobile_mail")["status"], "failed", "{view}");
    assert!(
        notice(&view, "sheet").is_null(),
        "a card holder gets no sheet"
    );
}

/// RELIABILITY 7: a bill cancelled before its notice went out gets no mail.
#[tokio::test]
async fn a_bill_cancelled_before_its_notice_gets_no_mail() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = stack();
    let c = s.client();
    // SES refuses for a while (the sender is unverified: a passing failure), so the notices
    // are still owed when the merchant cancels.
    set_ses_sender(s, false).await;
    let email = format!("{}@example.jp", unique("ichiro"));
    let mobile = format!("{}@docomo.example.jp", unique("ichiro"));
    let sheet = register(s, json!({"email": email, "mobile_email": mobile}), None).await;
    let card = s.fresh_card().await.to_string();
    let mobile2 = format!("{}@au.example.jp", unique("jiro"));
    let carded = register(s, json!({"mobile_email": mobile2}), Some(&card)).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    for inv in [&sheet, &carded] {
        let id = inv["id"].as_str().unwrap_or_default();
        let r = c
            .send(c.post(&format!("/v1/invoices/{id}/cancel"), s.merchant_key(0)))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    set_ses_sender(s, true).await;
    for (inv, kinds) in [
        (&sheet, vec!["sheet_mail", "mobile_mail"]),
        (&carded, vec!["mobile_mail"]),
    ] {
        let id = inv["id"].as_str().unwrap_or_default();
        let view = settled(s, id, &kinds, 15).await;
        for k in kinds {
            let n = notice(&view, k);
            assert_eq!(n["status"], "skipped", "{k}: {view}");
            assert!(
                n["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("cancelled")),
                "{n}"
            );
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for a in [&email, &mobile, &mobile2] {
        assert!(s.mail_to(a, 1, 0).await.is_empty(), "no mail to {a}");
    }
}

/// RELIABILITY 6 (parking): a passing failure that outlasts the notifier's retries parks the
/// record (failure queue, notices `failed`); once the cause is fixed `smartpit redeliver` puts
/// it back and the mail goes out once.
#[tokio::test]
async fn a_record_that_keeps_failing_is_parked_and_redelivered() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = stack();
    set_ses_sender(s, false).await;
    let email = format!("{}@example.jp", unique("shiro"));
    let inv = register(s, json!({"email": email}), None).await;
    let id = inv["id"].as_str().unwrap_or_default().to_string();
    let outbox_id = format!("invoice_registered#{id}");
    // The notifier with the template's settings, its clock moved past the parking age: each
    // call is one more failed try, until it parks the record.
    let notifier = s.stack.notifier(&s.sdk()).expect("notifier");
    let event: Value = serde_json::from_str(
        &include_str!("fixtures/outbox_stream_event.json")
            .replace("OUTBOX_ID", &outbox_id)
            .replace("INVOICE_ID", &id),
    )
    .expect("fixture");
    // The stack's own pump meets the failure first, at the real time.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let item = s.outbox(&id).await;
        if item.is_some_and(|it| it.contains_key("first_failed_at")) {
            break;
        }
        assert!(Instant::now() < deadline, "the failure was never counted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let later = || chrono::Utc::now() + chrono::Duration::minutes(10);
    let mut parked = false;
    for _ in 0..20 {
        let reply = notifier.handle_at(event.clone(), later).await;
        if reply == json!({"batchItemFailures": []}) {
            parked = true;
            break;
        }
    }
    assert!(parked, "the record was never parked");
    let view = invoice(s, &id).await;
    assert_eq!(notice(&view, "sheet")["status"], "sent", "{view}");
    let n = notice(&view, "sheet_mail");
    assert_eq!(n["status"], "failed", "{view}");
    assert!(n["reason"]
        .as_str()
        .is_some_and(|r| r.contains("delivery stopped")));
    // The failure queue names the record.
    let sqs = aws_sdk_sqs::Client::new(&s.sdk());
    let url = smartpit_local::provision::queue_url(&s.endpoint, "NotifyFailuresQueue");
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .expect("queue");
    let depth = attrs
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|v| v.parse::<u32>().ok());
    assert!(depth.is_some_and(|d| d >= 1), "{depth:?}");
    // The stack's own pump leaves a parked record alone, even once SES works again.
    set_ses_sender(s, true).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(s.mail_to(&email, 1, 0).await.is_empty());
    // The operator redelivers: the mail goes out, once.
    let queue = smartpit_cli::redeliver::Queue {
        sqs: &sqs,
        url: &url,
        streams: &aws_sdk_dynamodbstreams::Client::new(&s.sdk()),
    };
    let report = smartpit_cli::redeliver::redeliver(&s.db(), &queue, 100)
        .await
        .expect("redeliver");
    assert!(report.redelivered.contains(&outbox_id), "{report:?}");
    assert_eq!(s.mail_to(&email, 1, 20).await.len(), 1);
    let view = settled(s, &id, &["sheet_mail"], 10).await;
    assert_eq!(notice(&view, "sheet_mail")["status"], "sent", "{view}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(s.mail_to(&email, 2, 0).await.len(), 1, "exactly one mail");
}

/// RELIABILITY 6 (the event source mapping): when the function cannot park a record itself
/// (here: no failure queue configured), the mapping's bound ends the retries and reports the
/// batch to the on-failure queue, as Lambda does; `smartpit redeliver` reads that batch back
/// from the stream and puts its records back.
#[tokio::test]
async fn a_batch_the_mapping_gives_up_is_reported_and_redelivered() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = stack();
    let sqs = aws_sdk_sqs::Client::new(&s.sdk());
    // A queue of this test's own for the mapping's on-failure destination.
    let queue = sqs
        .create_queue()
        .queue_name(unique("esm-failures"))
        .send()
        .await
        .expect("queue")
        .queue_url()
        .unwrap_or_default()
        .to_string();
    // The notifier's own process, deployed without a failure queue.
    let notifier = s
        .functions_with(&["NotifyFunction"], &[("FAILURES_QUEUE_URL", "")])
        .await;
    set_ses_sender(s, false).await;
    let email = format!("{}@example.jp", unique("goro"));
    let inv = register(s, json!({"email": email}), None).await;
    let outbox_id = format!(
        "invoice_registered#{}",
        inv["id"].as_str().unwrap_or_default()
    );
    let source = &s.stack.template.streams["OutboxTable"];
    let mapping = smartpit_local::streams::Mapping {
        function: "NotifyFunction".into(),
        table: smartpit_local::provision::table_name("OutboxTable"),
        batch_size: source.batch_size,
        max_retries: 2,
        bisect: source.bisect,
        on_failure_queue: Some(queue.clone()),
    };
    let clients = smartpit_local::streams::Clients {
        ddb: s.ddb(),
        streams: aws_sdk_dynamodbstreams::Client::new(&s.sdk()),
        sqs: sqs.clone(),
    };
    let handler: smartpit_local::stack::EventHandler = std::sync::Arc::new(move |ev| {
        let f = notifier.clone();
        Box::pin(async move {
            let out = f
                .invoke("NotifyFunction", ev.to_string().into_bytes())
                .await
                .result?;
            serde_json::from_slice(&out).map_err(|e| e.to_string())
        })
    });
    let pump = tokio::spawn(smartpit_local::streams::pump(clients, mapping, handler));
    // The mapping gives the batch up after its retries: Lambda's record, naming the range.
    let deadline = Instant::now() + Duration::from_secs(30);
    let report = loop {
        let got = sqs
            .receive_message()
            .queue_url(&queue)
            .visibility_timeout(0)
            .send()
            .await
            .expect("receive");
        if let Some(m) = got.messages().first() {
            break serde_json::from_str::<Value>(m.body().unwrap_or("")).expect("json");
        }
        assert!(Instant::now() < deadline, "no on-failure record");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    pump.abort();
    assert_eq!(
        report["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );
    assert!(report["DDBStreamBatchInfo"]["startSequenceNumber"].is_string());
    set_ses_sender(s, true).await;
    // The stack's own pump may deliver it meanwhile (it has not given up); either way, after
    // redelivery the customer has exactly one mail.
    let q = smartpit_cli::redeliver::Queue {
        sqs: &sqs,
        url: &queue,
        streams: &aws_sdk_dynamodbstreams::Client::new(&s.sdk()),
    };
    let done = smartpit_cli::redeliver::redeliver(&s.db(), &q, 10)
        .await
        .expect("redeliver");
    assert!(done.redelivered.contains(&outbox_id), "{done:?}");
    assert!(done.kept.is_empty(), "{done:?}");
    assert_eq!(s.mail_to(&email, 1, 20).await.len(), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(s.mail_to(&email, 2, 0).await.len(), 1, "exactly one mail");
}

/// SES's event for a message, as its configuration set publishes it to SNS and SNS hands it to
/// MailEventsFunction.
fn ses_event(kind: &str, message_id: &str, invoice_id: &str, notice: &str, to: &str) -> Value {
    let mut message = json!({
        "eventType": kind,
        "mail": {"messageId": message_id, "destination": [to],
                 "tags": {"invoice_id": [invoice_id], "notice": [notice]}},
    });
    match kind {
        "Bounce" => {
            message["bounce"] = json!({"bounceType": "Permanent", "bounceSubType": "NoEmail",
                "bouncedRecipients": [{"emailAddress": to,
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]})
        }
        "SoftBounce" => {
            message["eventType"] = json!("Bounce");
            message["bounce"] = json!({"bounceType": "Transient", "bounceSubType": "MailboxFull",
                "bouncedRecipients": [{"emailAddress": to}]})
        }
        _ => message["complaint"] = json!({"complainedRecipients": [{"emailAddress": to}]}),
    }
    // In the envelope SNS hands Lambda (AWS's sample notification), carrying SES's event.
    let mut event: Value = serde_json::from_str(include_str!(
        "../functions/notify/fixtures/aws-sns-event.json"
    ))
    .expect("fixture");
    event["Records"][0]["Sns"]["Message"] = json!(message.to_string());
    event
}

/// A mail SES accepted and the receiver then refused marks the notice `bounced`, a complaint
/// `complained`; the merchant gets one notice.failed each, however often SNS delivers.
#[tokio::test]
async fn bounces_and_complaints_mark_the_notice_and_tell_the_merchant_once() {
    let s = stack();
    let pc = format!("{}@example.jp", unique("gone"));
    let mobile = format!("{}@docomo.example.jp", unique("spam"));
    let inv = register(s, json!({"email": pc, "mobile_email": mobile}), None).await;
    let id = inv["id"].as_str().unwrap_or_default().to_string();
    let sent = settled(s, &id, &["sheet_mail", "mobile_mail"], 20).await;
    assert_eq!(notice(&sent, "sheet_mail")["status"], "sent", "{sent}");
    let events = s
        .stack
        .event_handler("MailEventsFunction", &s.functions)
        .expect("function");
    let soft = events(ses_event("SoftBounce", "m-soft", &id, "sheet_mail", &pc))
        .await
        .expect("invocation");
    assert_eq!(soft["recorded"], 0, "a soft bounce changes nothing: {soft}");
    for _ in 0..2 {
        events(ses_event("Bounce", "m-1", &id, "sheet_mail", &pc))
            .await
            .expect("invocation");
        events(ses_event("Complaint", "m-2", &id, "mobile_mail", &mobile))
            .await
            .expect("invocation");
    }
    let now = invoice(s, &id).await;
    let bounced = notice(&now, "sheet_mail");
    assert_eq!(bounced["status"], "bounced", "{now}");
    assert!(bounced["reason"]
        .as_str()
        .unwrap_or_default()
        .contains("550 5.1.1"));
    assert_eq!(notice(&now, "mobile_mail")["status"], "complained");
    assert_eq!(notice(&now, "sheet")["status"], "sent");
    let c = s.client();
    let listed = c
        .send(c.get("/v1/events?type=notice.failed&limit=100", s.merchant_key(0)))
        .await;
    let mine: Vec<&str> = listed.body["events"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter(|e| e["data"]["invoice"]["id"] == id.as_str())
                .filter_map(|e| e["data"]["notice"]["status"].as_str())
                .collect()
        })
        .unwrap_or_default();
    let mut mine = mine;
    mine.sort_unstable();
    assert_eq!(mine, ["bounced", "complained"]);
}
