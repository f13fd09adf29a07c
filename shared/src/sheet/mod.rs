//! The Smart Pit sheet (スマートピットシート): a PDF for one purchase with the number, the bill
//! and the register barcode, kept in a private bucket behind a link of ours.

#[cfg(feature = "barcode")]
pub mod barcode;
#[cfg(feature = "sheet")]
pub mod layout;
pub mod payment_code;
#[cfg(feature = "sheet")]
pub mod pdf;

use chrono::NaiveDate;

use crate::number::SmartPitNumber;

/// Everything printed on a sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetContent {
    pub number: SmartPitNumber,
    pub merchant_name: String,
    pub amount: i64,
    /// The merchant's fee collected with the amount (0: none); the barcode carries the total.
    pub customer_fee: i64,
    pub due_date: NaiveDate,
    pub merchant_order_id: String,
    /// What was bought, as the merchant described it.
    pub description: Option<String>,
    pub payment_code: payment_code::PaymentCode,
    /// How to reach the merchant, on one line (`MerchantContact::one_line`), when it gave any.
    pub contact: Option<String>,
}
