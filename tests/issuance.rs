//! Number issuance: joint cards over the API, generic card batches by the operator command.

use serde_json::{json, Value};
use smartpit_shared::db::item::get_s;
use smartpit_shared::SmartPitNumber;
use smartpit_tests::{due_in, stack, unique};

#[tokio::test]
async fn joint_cards_are_issued_to_the_merchant_with_their_references() {
    let s = stack();
    let c = s.client();
    let r = c
        .send(
            c.post("/v1/joint-cards", s.merchant_key(1))
                .header("Idempotency-Key", unique("jc"))
                .json(&json!({"count": 3, "customer_refs": ["C-1", "C-2", "C-3"]})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let cards = r.body["cards"].as_array().cloned().unwrap_or_default();
    assert_eq!(cards.len(), 3);
    let ddb = s.ddb();
    for (i, card) in cards.iter().enumerate() {
        let n = card["smartpit_number"].as_str().unwrap_or_default();
        assert!(SmartPitNumber::parse(n).is_ok());
        assert_eq!(card["display"].as_str().map(str::len), Some(15));
        let stored = ddb
            .get_item()
            .table_name(s.db().res.numbers_table)
            .key(
                "number",
                aws_sdk_dynamodb::types::AttributeValue::S(n.to_string()),
            )
            .consistent_read(true)
            .send()
            .await
            .expect("get")
            .item()
            .cloned()
            .expect("stored");
        assert_eq!(get_s(&stored, "kind"), Some("joint_card"));
        assert_eq!(get_s(&stored, "merchant_id"), Some(s.merchant_id(1)));
        let want = format!("C-{}", i + 1);
        assert_eq!(get_s(&stored, "customer_ref"), Some(want.as_str()));
    }
    // A joint card takes invoices like any card.
    let n = cards[0]["smartpit_number"].as_str().unwrap_or_default();
    let inv = c
        .register(
            s.merchant_key(1),
            &unique("idem"),
            &json!({"merchant_order_id": unique("o"), "amount": 100,
                    "due_date": smartpit_tests::due_in(1), "smartpit_number": n}),
        )
        .await;
    assert_eq!(inv.status, 201);
    // Mismatched references are refused.
    let bad = c
        .send(
            c.post("/v1/joint-cards", s.merchant_key(1))
                .json(&json!({"count": 2, "customer_refs": ["only-one"]})),
        )
        .await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_customer_ref"));
    let zero = c
        .send(
            c.post("/v1/joint-cards", s.merchant_key(1))
                .json(&json!({"count": 0})),
        )
        .await;
    assert_eq!((zero.status, zero.code()), (400, "invalid_count"));
}

#[tokio::test]
async fn a_card_batch_writes_the_printer_csv_locally_and_to_s3() {
    let s = stack();
    let dir = std::env::temp_dir().join(unique("batch"));
    std::fs::create_dir_all(&dir).expect("dir");
    let out = dir.join("cards.csv");
    let s3 = smartpit_local::stack::s3_client(&s.sdk());
    let bucket = smartpit_local::provision::bucket_name("CardBatchesBucket");
    let batch = smartpit_cli::cards::issue_cards(&s.db(), &s3, &bucket, 500, &out, false)
        .await
        .expect("batch");
    let local = std::fs::read_to_string(&out).expect("csv");
    let lines: Vec<&str> = local.lines().collect();
    assert_eq!(lines[0], "smartpit_number,display,kind,batch_id,issued_at");
    assert_eq!(lines.len(), 501);
    let numbers: std::collections::BTreeSet<&str> = lines[1..]
        .iter()
        .filter_map(|l| l.split(',').next())
        .collect();
    assert_eq!(numbers.len(), 500, "numbers are unique");
    assert!(numbers.iter().all(|n| SmartPitNumber::parse(n).is_ok()));
    // Not sequential: sorted neighbours are not consecutive.
    let sorted: Vec<u64> = numbers
        .iter()
        .filter_map(|n| n[..12].parse().ok())
        .collect();
    let consecutive = sorted.windows(2).filter(|w| w[1] == w[0] + 1).count();
    assert!(consecutive < 5);
    let object = s3
        .get_object()
        .bucket(&bucket)
        .key(&batch.s3_key)
        .send()
        .await
        .expect("object");
    let remote = object.body.collect().await.expect("body").into_bytes();
    assert_eq!(remote.as_ref(), local.as_bytes());
    // Every number is in the table as a card.
    let first = lines[1].split(',').next().unwrap_or_default();
    let stored = s
        .db()
        .get_number(SmartPitNumber::parse(first).expect("number"))
        .await
        .expect("read");
    assert_eq!(
        stored.map(|r| r.kind),
        Some(smartpit_shared::NumberKind::Card)
    );
}

#[tokio::test]
async fn onboarded_merchants_and_chains_work_with_their_new_keys() {
    let s = stack();
    let db = s.db();
    let id = unique("shop");
    let key = smartpit_cli::onboard::merchant_key(&db, &id, "新しい商店", false)
        .await
        .expect("merchant");
    // Onboarding the same id again is refused; --add-key adds a key, never renames.
    assert!(
        smartpit_cli::onboard::merchant_key(&db, &id, "別の名前", false)
            .await
            .is_err()
    );
    assert!(
        smartpit_cli::onboard::merchant_key(&db, &id, "別の名前", true)
            .await
            .is_err()
    );
    let second = smartpit_cli::onboard::merchant_key(&db, &id, "新しい商店", true)
        .await
        .expect("second key");
    assert_ne!(second, key);
    let c = s.client();
    let both = [&key, &second];
    for k in both {
        let r = c.send(c.get("/v1/invoices?limit=1", k)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    assert!(key.starts_with("sk_test_"));
    // Only the hash is stored: no item holds the key itself.
    let by_hash = format!("KEY#{}", smartpit_shared::ids::sha256_hex(&key));
    let stored = s.item(&by_hash, "#").await.expect("key item");
    assert!(stored
        .values()
        .all(|v| v.as_s().map_or(true, |s| !s.contains(&key))));
    let number = s.fresh_card().await.to_string();
    let r = s
        .client()
        .register(
            &key,
            &unique("idem"),
            &json!({"merchant_order_id": "A-1", "amount": 500,
                    "due_date": smartpit_tests::due_in(1), "smartpit_number": number}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let chain_key = smartpit_cli::onboard::chain_key(&db, "ministop")
        .await
        .expect("chain");
    let look = s
        .client()
        .post_json(
            "/store/v1/lookup",
            &chain_key,
            &json!({"store_code": "M1", "smartpit_number": number}),
        )
        .await;
    assert_eq!(look.status, 200);
    assert_eq!(look.body["invoices"][0]["merchant_name"], "新しい商店");
    assert!(smartpit_cli::onboard::chain_key(&db, "seven-eleven")
        .await
        .is_err());
    assert!(
        smartpit_cli::onboard::merchant_key(&db, "bad id", "x", false)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_merchant_bills_its_joint_card_by_its_own_customer_ref_and_only_its_own() {
    let s = stack();
    let c = s.client();
    let customer = unique("C");
    let issue = |key: &str| {
        let body = json!({"count": 1, "customer_refs": [customer.clone()]});
        let key = key.to_string();
        let c = &c;
        async move {
            let r = c.send(c.post("/v1/joint-cards", &key).json(&body)).await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            r.body["cards"][0]["smartpit_number"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    let first = issue(s.merchant_key(1)).await;
    // The customer lost the card and was given a new one under the same reference.
    let replacement = issue(s.merchant_key(1)).await;
    assert_ne!(first, replacement);

    // The card shows its reference to its merchant only.
    let own = c
        .send(c.get(&format!("/v1/joint-cards/{replacement}"), s.merchant_key(1)))
        .await;
    assert_eq!(own.status, 200, "{:?}", own.body);
    assert_eq!(own.body["customer_ref"], customer.as_str());
    let other = c
        .send(c.get(&format!("/v1/joint-cards/{replacement}"), s.merchant_key(0)))
        .await;
    assert_eq!((other.status, other.code()), (404, "joint_card_not_found"));

    // Billing by reference finds the newest card (the index is eventually consistent: the
    // emulator's is not, DynamoDB's catches up within a second).
    let bill = |key: &str, extra: Value| {
        let mut body = json!({"merchant_order_id": unique("o"), "amount": 1500,
                              "due_date": due_in(3)});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            body[k] = v;
        }
        let key = key.to_string();
        let c = &c;
        async move { c.register(&key, &unique("idem"), &body).await }
    };
    let by_ref = bill(s.merchant_key(1), json!({"customer_ref": customer})).await;
    assert_eq!(by_ref.status, 201, "{:?}", by_ref.body);
    assert_eq!(by_ref.body["smartpit_number"], replacement.as_str());
    // docs/ARCHITECTURE.md: the index query takes the place of the number's read. (An instance
    // that has not seen this merchant's key yet reads it first: the other tests of this file
    // run beside this one, on instances of their own.)
    let calls = by_ref.headers["x-local-aws-calls"]
        .to_str()
        .unwrap_or_default();
    assert_eq!(
        calls.strip_prefix("DynamoDB:GetItem,").unwrap_or(calls),
        "DynamoDB:Query,DynamoDB:PutItem,DynamoDB:TransactWriteItems"
    );

    // Another merchant's references are never searched; its card is still billable by number
    // (a joint card is a Smart Pit card, usable at any merchant).
    let theirs = bill(s.merchant_key(0), json!({"customer_ref": customer})).await;
    assert_eq!(
        (theirs.status, theirs.code()),
        (422, "customer_ref_not_found")
    );
    let by_number = bill(s.merchant_key(0), json!({"smartpit_number": replacement})).await;
    assert_eq!(by_number.status, 201, "{:?}", by_number.body);
    let both = bill(
        s.merchant_key(1),
        json!({"customer_ref": customer, "smartpit_number": replacement}),
    )
    .await;
    assert_eq!((both.status, both.code()), (400, "invalid_customer_ref"));

    // Both bills are on the card at the store.
    let look = c
        .post_json(
            "/store/v1/lookup",
            s.chain_key("lawson"),
            &json!({"store_code": "L1", "smartpit_number": replacement}),
        )
        .await;
    assert_eq!(look.status, 200);
    assert_eq!(look.body["invoices"].as_array().map(Vec::len), Some(2));
}

/// A hundred numbers go in one transaction, each only if free: a group holding a number that
/// exists writes nothing and names it; the batch draws it again and completes, with every
/// number stored once and about one call per hundred numbers.
#[tokio::test]
async fn card_groups_write_all_or_nothing_and_redraw_a_taken_number() {
    use smartpit_shared::db::{GroupOutcome, NumberRecord};
    let s = stack();
    let db = s.db();
    let now = chrono::Utc::now();
    let taken = s.fresh_card().await;
    let mut rng = rand::rng();
    let mut group: Vec<NumberRecord> = (0..100)
        .map(|_| {
            NumberRecord::new(
                SmartPitNumber::random(smartpit_shared::NumberKind::Card, &mut rng),
                smartpit_shared::NumberKind::Card,
                now,
            )
        })
        .collect();
    group[37] = NumberRecord::new(taken, smartpit_shared::NumberKind::Card, now);
    let outcome = db.insert_numbers(&group).await.expect("transaction");
    assert_eq!(outcome, GroupOutcome::Taken(vec![37]));
    for (i, r) in group.iter().enumerate() {
        let stored = db.get_number(r.number).await.expect("read");
        assert_eq!(stored.is_some(), i == 37, "position {i}: all or nothing");
    }
    group[37] = NumberRecord::new(
        SmartPitNumber::random(smartpit_shared::NumberKind::Card, &mut rng),
        smartpit_shared::NumberKind::Card,
        now,
    );
    assert_eq!(
        db.insert_numbers(&group).await.expect("again"),
        GroupOutcome::Stored
    );
    assert!(db
        .get_number(group[99].number)
        .await
        .expect("read")
        .is_some());

    // A batch of 250: three transactions, 250 distinct stored numbers.
    let template = smartpit_shared::issuance::Template {
        kind: smartpit_shared::NumberKind::Card,
        merchant_id: None,
        expires_at: None,
    };
    let (issued, calls) = smartpit_shared::calls::counted(
        smartpit_shared::issuance::issue_grouped(&db, &template, 250, now, |_| {}),
    )
    .await;
    let issued = issued.expect("batch");
    let distinct: std::collections::BTreeSet<_> = issued.iter().map(|r| r.number).collect();
    assert_eq!(distinct.len(), 250);
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(
        calls.iter().all(|c| c.ends_with("TransactWriteItems")),
        "{calls:?}"
    );
    for r in issued.iter().step_by(50) {
        assert!(db.get_number(r.number).await.expect("read").is_some());
    }
}
