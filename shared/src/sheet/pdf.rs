//! The sheet as a one-page A4 PDF, written by `crate::pdf` (printpdf) from its layout.
//!
//! The sheet's writer is made on first use: the typeface is read and the glyphs every sheet
//! shows (the fixed wording, the chains' instructions, dates and amounts) are subset and
//! compressed once per process. A sheet then adds only what its merchant's text needs beyond
//! them: usually a handful of glyphs, often none.

use std::sync::OnceLock;

use super::layout::layout;
use super::SheetContent;
use crate::pdf::Writer;

pub use crate::pdf::MISSING;

static WRITER: OnceLock<Result<Writer, String>> = OnceLock::new();

fn writer() -> Result<&'static Writer, String> {
    WRITER
        .get_or_init(|| Writer::new(common_chars()?))
        .as_ref()
        .map_err(Clone::clone)
}

/// What every sheet shows whatever its merchant: the wording of a sheet without merchant text
/// and the characters of numbers, dates and amounts. Not all of ASCII: every glyph of the
/// shared subset is in every sheet, so a glyph only some sheets need goes in their extras.
fn common_chars() -> Result<Vec<char>, String> {
    use super::payment_code::PaymentCode;
    use crate::number::SmartPitNumber;
    let number = SmartPitNumber::from_body(0);
    let due = chrono::NaiveDate::default();
    let blank = SheetContent {
        contact: None,
        number,
        merchant_name: String::new(),
        amount: 1,
        // Fees are the exception: their rows' glyphs come with the sheets that have one.
        customer_fee: 0,
        due_date: due,
        merchant_order_id: String::new(),
        description: Some(String::new()),
        payment_code: PaymentCode::new("000000", number, due, 2),
    };
    let mut chars: Vec<char> = layout(&blank)?.chars().collect();
    chars.extend("0123456789¥,年月日".chars());
    Ok(chars)
}

/// The sheet as PDF bytes.
pub fn render(sheet: &SheetContent) -> Result<Vec<u8>, String> {
    writer()?.write(&layout(sheet)?)
}
