//! The invoice item mapped by hand (`db/invoice_item.rs`, what the functions run) and through
//! serde_dynamo (`db/serde_probe.rs`), on the same items, checked equal first.
//! Run: `make bench-item-mapping` (figures in docs/BENCHMARKS.md, "Item mapping").

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use smartpit_shared::db::serde_probe::{from_item, paid_item, sample_invoice, to_item};
use smartpit_shared::invoice::Invoice;

fn mapping(c: &mut Criterion) {
    let inv = sample_invoice(7);
    // The same stored shape both ways, or the comparison means nothing.
    let by_serde = to_item(&inv).unwrap_or_default();
    assert_eq!(by_serde, inv.to_item(), "registration items differ");
    let paid = paid_item(inv.to_item());
    let by_hand = Invoice::from_item(&paid).ok();
    assert!(by_hand.is_some(), "the hand mapping reads the paid item");
    assert_eq!(
        from_item(paid.clone()).ok(),
        by_hand,
        "read invoices differ"
    );
    println!(
        "paid item: {} attributes, {} payments",
        paid.len(),
        by_hand.map(|i| i.payments.len()).unwrap_or(0)
    );

    c.bench_function("write_item/hand", |b| {
        b.iter(|| std::hint::black_box(&inv).to_item())
    });
    c.bench_function("write_item/serde_dynamo", |b| {
        b.iter(|| to_item(std::hint::black_box(&inv)))
    });
    // The SDK hands each item over owned: serde_dynamo takes it; the hand mapping borrows it.
    c.bench_function("read_item/hand", |b| {
        b.iter_batched(
            || paid.clone(),
            |it| Invoice::from_item(&it),
            BatchSize::SmallInput,
        )
    });
    c.bench_function("read_item/serde_dynamo", |b| {
        b.iter_batched(|| paid.clone(), from_item, BatchSize::SmallInput)
    });
}

criterion_group!(benches, mapping);
criterion_main!(benches);
