//! SES fails; the notice is retried from the stream until SES recovers, and exactly one mail
//! goes out. In its own test binary: it breaks the emulator's SES for a while.

use serde_json::json;
use smartpit_shared::db::item::get_s;
use smartpit_tests::{due_in, stack, unique};

#[tokio::test]
async fn a_failed_send_is_retried_and_sends_exactly_one_mail() {
    let s = stack();
    let ses = aws_sdk_sesv2::Client::new(&s.sdk());
    let from = "no-reply@card.smartpit.example";
    // Without a verified identity SES refuses to send: the failure we inject.
    for identity in [from, "card.smartpit.example"] {
        ses.delete_email_identity()
            .email_identity(identity)
            .send()
            .await
            .expect("delete identity");
    }
    let email = format!("{}@example.jp", unique("saburo"));
    let r = s
        .client()
        .register(
            s.merchant_key(0),
            &unique("idem"),
            &json!({"merchant_order_id": unique("o"), "amount": 3000, "due_date": due_in(4),
                    "customer": {"email": email}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let invoice_id = r.body["id"].as_str().unwrap_or_default().to_string();
    // The stream delivers: the sheet is stored, the send fails, nothing is recorded as sent.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let outbox = loop {
        let item = s.outbox(&invoice_id).await.expect("outbox record");
        if get_s(&item, "sheet_stored_at").is_some() || std::time::Instant::now() > deadline {
            break item;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    // Let the failing send be retried a few times.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(s.mail_to(&email, 1, 0).await.is_empty());
    assert!(get_s(&outbox, "mail_message_id").is_none());
    assert!(
        get_s(&outbox, "sheet_stored_at").is_some(),
        "the sheet step is done and kept"
    );
    let number = r.body["smartpit_number"].as_str().unwrap_or_default();
    assert_eq!(s.number_partition(number).await.len(), 1);
    // SES recovers: the retry sends it, once.
    for identity in [from, "card.smartpit.example"] {
        ses.create_email_identity()
            .email_identity(identity)
            .send()
            .await
            .expect("create identity");
    }
    let mails = s.mail_to(&email, 1, 20).await;
    assert_eq!(mails.len(), 1);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(s.mail_to(&email, 2, 0).await.len(), 1, "exactly one mail");
}
