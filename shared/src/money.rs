//! Amounts are whole yen, never floating point.

/// The largest amount one bill may carry (tax included), as at the real service.
pub const MAX_INVOICE_YEN: i64 = 300_000;
/// From this amount the receipt needs a revenue stamp (印紙).
pub const STAMP_THRESHOLD_YEN: i64 = 50_000;

/// The largest customer fee a merchant may add to a bill (collected by the store with it).
pub const MAX_CUSTOMER_FEE_YEN: i64 = 1_000;

/// What the store collects for a bill (its amount and the customer fee) may not pass
/// [`MAX_INVOICE_YEN`]: the limit is on the cash taken, not on the merchant's part of it.
pub fn check_total(amount: i64, customer_fee: i64) -> Result<i64, String> {
    let total = amount.saturating_add(customer_fee);
    if total > MAX_INVOICE_YEN {
        return Err(format!(
            "with the customer fee the store would collect {total}: a bill may collect at most {MAX_INVOICE_YEN}"
        ));
    }
    Ok(total)
}

/// `¥12,345`.
pub fn format_yen(yen: i64) -> String {
    let digits = yen.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{}¥{out}", if yen < 0 { "-" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_on_what_the_store_collects() {
        assert_eq!(check_total(299_000, 1_000), Ok(300_000));
        assert_eq!(check_total(300_000, 0), Ok(300_000));
        assert!(check_total(300_000, 1_000).is_err());
        assert!(check_total(299_001, 1_000).is_err());
        assert!(check_total(i64::MAX, 1).is_err());
    }

    #[test]
    fn yen_is_formatted_with_separators() {
        assert_eq!(format_yen(12345), "¥12,345");
        assert_eq!(format_yen(300000), "¥300,000");
        assert_eq!(format_yen(999), "¥999");
        assert_eq!(format_yen(1000), "¥1,000");
    }
}
