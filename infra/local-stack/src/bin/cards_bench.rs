//! `make bench-cards`: issues `--count` card numbers (default 10,000) against its own emulator
//! two ways in one run and prints both: the batch as `smartpit issue-cards` writes it (a hundred
//! conditional puts to a transaction, `issuance::GROUP_CONCURRENCY` in flight) and a bare SDK
//! loop of unconditional `PutItem`s of the same kind of items (16 in flight), the floor any
//! guarded batch is measured against. Reports numbers a second, their ratio and round trips
//! per 1,000 numbers.

use std::time::Instant;

use chrono::Utc;
use clap::Parser;
use futures::stream::{self, StreamExt, TryStreamExt};
use smartpit_local::stack::bench_stack;
use smartpit_shared::db::NumberRecord;
use smartpit_shared::issuance::{issue_grouped, Template, CONCURRENCY};
use smartpit_shared::{NumberKind, SmartPitNumber};

#[derive(Parser)]
struct Args {
    /// Numbers each way.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let running = bench_stack().await?;
    let stack = &running.stack;
    let db = stack.db()?;
    let now = Utc::now();
    let template = Template {
        kind: NumberKind::Card,
        merchant_id: None,
        expires_at: None,
    };

    // The bare loop first, so the grouped batch runs against the larger table.
    let mut rng = rand::rng();
    let bare: Vec<NumberRecord> = (0..args.count)
        .map(|_| {
            NumberRecord::new(
                SmartPitNumber::random(NumberKind::Card, &mut rng),
                NumberKind::Card,
                now,
            )
        })
        .collect();
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&stack.sdk)
            .interceptor(smartpit_shared::calls::CountCalls)
            .build(),
    );
    let table = db.res.numbers_table.clone();
    let started = Instant::now();
    let ((), bare_calls) = smartpit_shared::calls::counted(async {
        let _: Vec<()> = stream::iter(&bare)
            .map(|r| {
                let client = client.clone();
                let table = table.clone();
                async move {
                    client
                        .put_item()
                        .table_name(table)
                        .set_item(Some(r.to_item()))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("bare put: {e}"));
    })
    .await;
    let bare_secs = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let (issued, grouped_calls) =
        smartpit_shared::calls::counted(issue_grouped(&db, &template, args.count, now, |_| {}))
            .await;
    let issued = issued.map_err(|p| p.to_string())?;
    let grouped_secs = started.elapsed().as_secs_f64();
    let distinct: std::collections::BTreeSet<_> = issued.iter().map(|r| r.number).collect();
    assert_eq!(distinct.len(), args.count, "every number once");

    let per_k = |calls: usize| calls as f64 * 1000.0 / args.count as f64;
    let bare_rate = args.count as f64 / bare_secs;
    let grouped_rate = args.count as f64 / grouped_secs;
    println!("numbers each way: {}", args.count);
    println!(
        "bare PutItem loop ({CONCURRENCY} in flight, no condition): {bare_secs:.1} s, {bare_rate:.0} numbers/s, {:.0} calls per 1,000",
        per_k(bare_calls.len())
    );
    println!(
        "issue-cards (conditional, 100 a transaction): {grouped_secs:.1} s, {grouped_rate:.0} numbers/s, {:.0} calls per 1,000",
        per_k(grouped_calls.len())
    );
    println!(
        "rate ratio issue-cards / bare loop: {:.2}",
        grouped_rate / bare_rate
    );
    Ok(())
}
