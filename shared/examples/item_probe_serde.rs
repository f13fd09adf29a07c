//! Size probe (issue 18): an invoice written and read back through serde_dynamo (see
//! `item_probe_hand`).

use smartpit_shared::db::serde_probe::{from_item, paid_item, sample_invoice, to_item};

fn main() {
    let inv = sample_invoice(std::env::args().count() as u64);
    let Ok(written) = to_item(&inv) else {
        return;
    };
    let read = from_item(paid_item(written.clone()));
    println!("{} {:?}", written.len(), read.map(|i| i.amount));
}
