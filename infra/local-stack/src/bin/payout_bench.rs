//! `make bench-payouts`: a period of `--merchants` merchants (default 100) with `--bills` settled
//! bills each (default 1,000) on its own emulator, closed by the payout run (its clock moved
//! past the month's end); prints the wall time and the AWS calls by operation, per bill and per
//! payout. Then the statement of one payout of `--pdf-bills` bills (default 10,000), rendered
//! in this process: PDF and CSV, median of `--rounds`.
//!
//! The settled lines are written directly (batch writes) as the settlement's transactions would
//! have left them: the emulator deep-copies its tables in every transaction, so seeding through
//! them would measure that. The emulator also scans the whole table for every query, so its
//! time here is the emulator's; the calls are the service's.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use chrono::{Datelike, TimeDelta, Utc};
use clap::Parser;
use smartpit_local::stack::bench_stack;
use smartpit_payouts::run::end_of_day;
use smartpit_shared::auth::Merchant;
use smartpit_shared::clock::jst_date;
use smartpit_shared::db::item::Item;
use smartpit_shared::db::payouts::settled_line_item;
use smartpit_shared::fees::{Fee, FeeSchedule};
use smartpit_shared::payout::{document, files, statement, Payout, PayoutStatus, SettledBill};
use smartpit_shared::payout_cycle::{Cycle, Period};
use smartpit_shared::pdf::Writer;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 100)]
    merchants: usize,
    /// Settled bills per merchant.
    #[arg(long, default_value_t = 1_000)]
    bills: usize,
    /// Bills of the one statement rendered for time.
    #[arg(long, default_value_t = 10_000)]
    pdf_bills: usize,
    #[arg(long, default_value_t = 10)]
    rounds: usize,
}

const CHAINS: [&str; 6] = [
    "lawson",
    "familymart",
    "ministop",
    "three-f",
    "circle-k",
    "sunkus",
];

fn bill(i: usize, settled_on: chrono::NaiveDate, paid_at: chrono::DateTime<Utc>) -> SettledBill {
    SettledBill {
        settled_on,
        chain_id: CHAINS[i % CHAINS.len()].into(),
        store_code: format!("S{:04}", i % 977),
        invoice_id: format!("inv_bench{i:08}"),
        payment_id: format!("pay_bench{i:08}"),
        merchant_order_id: format!("order-{i}"),
        amount: 1_000 + (i as i64 * 37) % 20_000,
        customer_fee: if i.is_multiple_of(4) { 110 } else { 0 },
        paid_at,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let running = bench_stack().await?;
    let stack = &running.stack;
    let db = stack.db()?;
    let now = Utc::now();
    let today = jst_date(now);

    let started = Instant::now();
    let mut items: Vec<Item> = Vec::with_capacity(args.merchants * args.bills);
    let mut fees = FeeSchedule {
        default: Fee {
            fixed_yen: 60,
            rate_bp: 0,
        },
        ..Default::default()
    };
    fees.chains.insert(
        "lawson".into(),
        Fee {
            fixed_yen: 40,
            rate_bp: 50,
        },
    );
    for m in 0..args.merchants {
        let id = format!("bench-{m:04}");
        db.put_merchant(
            &Merchant {
                id: id.clone(),
                name: format!("ベンチ商店{m}"),
            },
            &format!(
                "sk_test_bench_{m:04}_{}",
                smartpit_shared::ids::base32(&smartpit_shared::ids::random_bytes::<10>())
            ),
            now,
        )
        .await
        .map_err(|e| e.to_string())?;
        db.put_fee_schedule(&id, &fees, now)
            .await
            .map_err(|e| e.to_string())?;
        for i in 0..args.bills {
            let at = now - TimeDelta::milliseconds(i as i64);
            items.push(settled_line_item(&id, &bill(i, jst_date(at), at), at));
        }
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
    eprintln!(
        "seeded {} merchants x {} settled bills in {:.1} s",
        args.merchants,
        args.bills,
        started.elapsed().as_secs_f64()
    );

    // Every merchant is on the default cycle (month end): close this month, just after it.
    let close = Cycle::MonthEnd.period_of(today).ok_or("no close")?.end;
    // The service's calls with time limits the emulator can meet (see the module's note).
    let _font = stack.payout_run(&stack.sdk)?;
    let run = smartpit_payouts::run::PayoutRun::with_limits(
        &stack.sdk,
        stack.resources_of("PayoutRunFunction")?,
        stack
            .env_of("PayoutRunFunction")?
            .get("STATEMENTS_BUCKET")
            .cloned()
            .ok_or("no STATEMENTS_BUCKET")?,
        smartpit_shared::timeouts::CallProfile {
            connect: Duration::from_secs(2),
            attempt: Duration::from_secs(600),
            operation: Duration::from_secs(600),
            max_attempts: 1,
        },
    );
    let started = Instant::now();
    let (report, calls) = smartpit_shared::calls::counted(
        run.run_day(close, end_of_day(close) + TimeDelta::minutes(1)),
    )
    .await;
    let elapsed = started.elapsed();
    let report = report?;
    let bench_payouts = report.created.len();
    let mut by_op: BTreeMap<String, usize> = BTreeMap::new();
    for c in &calls {
        *by_op.entry(c.clone()).or_default() += 1;
    }
    let bills = (args.merchants * args.bills) as f64;
    let reads: usize = by_op
        .iter()
        .filter(|(op, _)| {
            ["GetItem", "Query", "BatchGetItem"]
                .iter()
                .any(|r| op.ends_with(r))
        })
        .map(|(_, n)| n)
        .sum();
    println!(
        "close: {close}; payouts made: {bench_payouts}; failed: {}",
        report.failed.len()
    );
    println!(
        "wall time: {:.1} s ({:.1} ms per payout)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / bench_payouts.max(1) as f64
    );
    println!(
        "AWS calls: {}; DynamoDB reads {} ({:.4} per bill, one per {:.0} bills)",
        calls.len(),
        reads,
        reads as f64 / bills,
        bills / reads.max(1) as f64
    );
    for (op, n) in &by_op {
        println!(
            "  {op}: {n} ({:.3} per payout)",
            *n as f64 / bench_payouts.max(1) as f64
        );
    }

    // One statement of `pdf_bills` bills over a month, six chains.
    let start = close.with_day0(0).unwrap_or(close);
    let days = (close - start).num_days() as usize + 1;
    let big: Vec<SettledBill> = (0..args.pdf_bills)
        .map(|i| {
            let day = start + TimeDelta::days((i % days) as i64);
            bill(i, day, now)
        })
        .collect();
    let period = Period {
        cycle: Cycle::MonthEnd,
        start,
        end: close,
    };
    let st = statement(period, &big, &[], &fees, 0)?;
    let payout = Payout {
        id: "po_bench".into(),
        merchant_id: "bench".into(),
        period,
        pay_date: close,
        gross: st.gross,
        fees: st.fees,
        refunds: 0,
        net: st.net,
        bill_count: big.len(),
        brought_forward: 0,
        carried_forward: 0,
        status: PayoutStatus::Scheduled,
        held_reason: None,
        account: None,
        transfer_date: None,
        failure_reason: None,
        created_at: now,
        updated_at: now,
        paid_at: None,
        statement_key: String::new(),
    };
    let writer = Writer::new(document::COMMON_TEXT.chars())?;
    let (mut pdf_times, mut csv_times, mut size, mut csv_size, mut pages) =
        (Vec::new(), Vec::new(), 0, 0, 0);
    for _ in 0..args.rounds {
        let t = Instant::now();
        let laid = document::pages(&payout, "ベンチ商店", &st);
        let pdf = writer.write_pages(document::TITLE, &laid)?;
        pdf_times.push(t.elapsed());
        (size, pages) = (pdf.len(), laid.len());
        let t = Instant::now();
        let csv = files::csv(&big, &fees, &st)?;
        csv_times.push(t.elapsed());
        csv_size = csv.len();
    }
    println!(
        "statement of {} bills ({} lines, {pages} pages): PDF median {:.1} ms ({size} bytes), CSV median {:.1} ms ({csv_size} bytes), {} rounds",
        args.pdf_bills,
        st.lines.len(),
        median(pdf_times).as_secs_f64() * 1000.0,
        median(csv_times).as_secs_f64() * 1000.0,
        args.rounds
    );
    Ok(())
}
