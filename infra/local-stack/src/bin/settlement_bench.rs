//! `make bench-settlement`: reconciles a settlement file of `--lines` lines (default 10,000)
//! against its own emulator and prints the wall time and the AWS calls by operation, per line.
//! The payments and invoices are written directly (batch writes) as the store API would have
//! left them; every line matches except a few planted mismatches.

use std::collections::BTreeMap;
use std::time::Instant;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use chrono::Utc;
use clap::Parser;
use smartpit_local::stack::{bench_stack, s3_client};
use smartpit_shared::db::item::s;
use smartpit_shared::db::{Payment, PaymentRequest};
use smartpit_shared::invoice::{Customer, Invoice, InvoiceStatus};
use smartpit_shared::payment::PaymentLine;
use smartpit_shared::settlement::FileKey;
use smartpit_shared::{InvoiceId, NumberKind, SmartPitNumber};

#[derive(Parser)]
struct Args {
    /// Lines in the file (each a payment of one invoice).
    #[arg(long, default_value_t = 10_000)]
    lines: usize,
}

const CHAIN: &str = "lawson";
/// Lines whose amount the file gets wrong, and lines nobody reported.
const PLANTED: usize = 10;

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let running = bench_stack().await?;
    let stack = &running.stack;
    let db = stack.db()?;
    let now = Utc::now();
    let mut rng = rand::rng();

    let started = Instant::now();
    let mut items = Vec::with_capacity(args.lines * 2);
    let mut csv = String::from("store_transaction_id,store_code,paid_at,amount\n");
    for i in 0..args.lines {
        let number = SmartPitNumber::random(NumberKind::Card, &mut rng);
        let id = InvoiceId::new(number);
        let amount = 1000 + (i as i64 % 5000);
        let req = PaymentRequest {
            chain_id: CHAIN.into(),
            store_code: "L0001".into(),
            store_transaction_id: format!("BENCH-{i:06}"),
            invoice_ids: vec![id.clone()],
            amount,
            slip_id: None,
        };
        let payment = Payment::completed(
            &req,
            vec![PaymentLine {
                invoice_id: id.to_string(),
                merchant_id: "demo-shop".into(),
                amount,
            }],
            now,
        );
        let invoice = Invoice {
            id,
            merchant_id: "demo-shop".into(),
            merchant_name: "スマートピット商店".into(),
            merchant_order_id: format!("order-{i}"),
            amount,
            customer_fee: 0,
            due_date: smartpit_shared::clock::jst_date(now),
            deadline: now.timestamp() + 86_400,
            description: None,
            store_description: None,
            stored_status: InvoiceStatus::Paid,
            customer: Customer::default(),
            created_at: now,
            updated_at: now,
            payment_id: None,
            paid_at: None,
            store_chain: None,
            store_code: None,
            store_transaction_id: None,
            payments: Vec::new(),
            cancelled_at: None,
            settled_at: None,
            hold: None,
            version: 1,
            moved_to: None,
            moved_from: None,
            refunded: 0,
            repeat: None,
            occurrences: 0,
            sheet_url: None,
            notices: Vec::new(),
        };
        let mut inv = invoice.to_item();
        inv.insert("payment_id".into(), s(&payment.id));
        items.push(inv);
        items.push(payment.to_item());
        let filed = if i < PLANTED { amount + 1 } else { amount };
        csv.push_str(&format!(
            "BENCH-{i:06},L0001,{},{filed}\n",
            smartpit_shared::invoice::jst_timestamp(now)
        ));
    }
    for i in 0..PLANTED {
        csv.push_str(&format!(
            "NOBODY-{i},L0001,{},100\n",
            smartpit_shared::invoice::jst_timestamp(now)
        ));
    }
    for chunk in items.chunks(25) {
        let writes = chunk
            .iter()
            .map(|it| {
                PutRequest::builder()
                    .set_item(Some(it.clone()))
                    .build()
                    .map(|p| WriteRequest::builder().put_request(p).build())
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = db
            .client
            .batch_write_item()
            .request_items(&db.res.main_table, writes)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if out.unprocessed_items().is_some_and(|u| !u.is_empty()) {
            return Err("the emulator left writes unprocessed".into());
        }
    }
    let file = FileKey {
        chain_id: CHAIN.into(),
        date: smartpit_shared::clock::jst_date(now),
    };
    let bucket = stack.bucket("SettlementsBucket")?;
    s3_client(&stack.sdk)
        .put_object()
        .bucket(&bucket)
        .key(file.key())
        .body(csv.into_bytes().into())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "seeded {} payments and invoices in {:.1} s",
        args.lines,
        started.elapsed().as_secs_f64()
    );

    // The emulator deep-copies each table a transaction touches (its undo copy): at 10,000
    // payments that is seconds a transaction, past the function's 8 s limit. The figures below
    // therefore measure the emulator; the calls per line are the service's.
    let function = smartpit_settlement::SettlementFunction::with_limits(
        &stack.sdk,
        stack.resources_of("SettlementFunction")?,
        smartpit_shared::timeouts::OPERATOR,
    );
    let started = Instant::now();
    let (summary, calls) =
        smartpit_shared::calls::counted(function.reconcile(&bucket, &file, Utc::now())).await;
    let elapsed = started.elapsed();
    let summary = summary.map_err(|e| e.0)?;
    let mut by_op: BTreeMap<String, usize> = BTreeMap::new();
    for c in &calls {
        *by_op.entry(c.clone()).or_default() += 1;
    }
    let lines = args.lines + PLANTED;
    println!("lines: {lines}");
    println!(
        "settled now: {}, mismatches: {}",
        summary["settled_now"], summary["mismatch_total"]
    );
    println!(
        "wall time: {:.1} s ({:.2} ms per line)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / lines as f64
    );
    println!(
        "AWS calls: {} ({:.4} per line)",
        calls.len(),
        calls.len() as f64 / lines as f64
    );
    for (op, n) in by_op {
        println!("  {op}: {n} ({:.4} per line)", n as f64 / lines as f64);
    }
    Ok(())
}
