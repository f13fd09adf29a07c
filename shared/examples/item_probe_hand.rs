//! Size probe (issue 18): an invoice written and read back by the hand item mapping. Its twin,
//! `item_probe_serde`, does the same through serde_dynamo; `make bench-item-mapping` builds
//! both in release and reports the stripped sizes.

use smartpit_shared::db::serde_probe::{paid_item, sample_invoice};
use smartpit_shared::invoice::Invoice;

fn main() {
    let inv = sample_invoice(std::env::args().count() as u64);
    let written = inv.to_item();
    let read = Invoice::from_item(&paid_item(written.clone()));
    println!("{} {:?}", written.len(), read.map(|i| i.amount));
}
