//! A payout's statement as CSV: one line per bill settled in the period, one per refund paid
//! in it (negative, `refund` in the order column), then the totals.

use super::{SettledBill, Statement};
use crate::fees::FeeSchedule;
use crate::invoice::jst_timestamp;

/// The CSV: one line per bill, then the totals.
pub const CSV_HEADER: [&str; 12] = [
    "settled_on",
    "paid_at",
    "invoice_id",
    "merchant_order_id",
    "payment_id",
    "store_chain",
    "store_code",
    "amount",
    "customer_fee",
    "collected",
    "merchant_fee",
    "net",
];

pub fn csv(bills: &[SettledBill], fees: &FeeSchedule, s: &Statement) -> Result<Vec<u8>, String> {
    let mut sorted: Vec<&SettledBill> = bills.iter().collect();
    sorted.sort_by(|a, b| {
        (a.settled_on, a.paid_at, &a.invoice_id).cmp(&(b.settled_on, b.paid_at, &b.invoice_id))
    });
    let mut w = csv::Writer::from_writer(Vec::with_capacity(160 * (bills.len() + 2)));
    let err = |e: csv::Error| e.to_string();
    w.write_record(CSV_HEADER).map_err(err)?;
    for b in sorted {
        let collected = b.collected();
        let fee = fees.for_chain(&b.chain_id).on(collected);
        w.write_record([
            b.settled_on.to_string(),
            jst_timestamp(b.paid_at),
            b.invoice_id.clone(),
            b.merchant_order_id.clone(),
            b.payment_id.clone(),
            b.chain_id.clone(),
            b.store_code.clone(),
            b.amount.to_string(),
            b.customer_fee.to_string(),
            collected.to_string(),
            fee.to_string(),
            (collected - fee).to_string(),
        ])
        .map_err(err)?;
    }
    let blank = String::new;
    for r in &s.refunds {
        w.write_record([
            r.paid_on.to_string(),
            blank(),
            r.refund_id.clone(),
            "refund".to_string(),
            blank(),
            blank(),
            blank(),
            blank(),
            blank(),
            (-r.amount).to_string(),
            "0".to_string(),
            (-r.amount).to_string(),
        ])
        .map_err(err)?;
    }
    w.write_record([
        "total".to_string(),
        blank(),
        blank(),
        format!("{} bills", bills.len()),
        blank(),
        blank(),
        blank(),
        blank(),
        blank(),
        (s.gross - s.refunded).to_string(),
        s.fees.to_string(),
        (s.gross - s.fees - s.refunded).to_string(),
    ])
    .map_err(err)?;
    w.into_inner().map_err(|e| e.to_string())
}
