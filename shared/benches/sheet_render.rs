//! Sheet render time (warm: the font is parsed once per process, as in Lambda) and PDF size.
//! Run: `cargo bench -p smartpit-shared --features sheet --bench sheet_render`.

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion};
use smartpit_shared::sheet::payment_code::PaymentCode;
use smartpit_shared::sheet::{pdf, SheetContent};
use smartpit_shared::SmartPitNumber;

fn sheet() -> SheetContent {
    let number = SmartPitNumber::from_body(221_234_567_890);
    let due = NaiveDate::from_ymd_opt(2026, 12, 10).unwrap_or_default();
    SheetContent {
        contact: None,
        number,
        merchant_name: "スマートピット商店".into(),
        amount: 12_345,
        customer_fee: 0,
        due_date: due,
        merchant_order_id: "ORDER-1001".into(),
        description: Some("ノート 3冊".into()),
        payment_code: PaymentCode::new("912345", number, due, 12_345),
    }
}

fn render(c: &mut Criterion) {
    let s = sheet();
    let first = pdf::render(&s).unwrap_or_default();
    println!("sheet size: {} bytes", first.len());
    c.bench_function("sheet_render_warm", |b| {
        b.iter(|| pdf::render(std::hint::black_box(&s)))
    });
}

criterion_group!(benches, render);
criterion_main!(benches);
