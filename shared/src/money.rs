//! Amounts are whole yen, never floating point.

use serde_json::Value;

/// The largest amount one bill may carry (tax included), as at the real service.
pub const MAX_INVOICE_YEN: i64 = 300_000;
/// From this amount the receipt needs a revenue stamp (印紙).
pub const STAMP_THRESHOLD_YEN: i64 = 50_000;

/// Reads a JSON value as a whole, positive number of yen no larger than `max`.
/// Strings, fractions, booleans and out-of-range values are refused.
pub fn yen_from_json(v: &Value, max: i64) -> Result<i64, String> {
    let n = match v {
        Value::Number(n) => n,
        Value::String(_) => return Err("must be a JSON integer, not a string".into()),
        _ => return Err("must be an integer number of yen".into()),
    };
    let yen = match n.as_i64() {
        Some(y) => y,
        None if n.is_u64() => return Err(format!("must be at most {max}")),
        None => return Err("must be a whole number of yen".into()),
    };
    if yen < 1 {
        return Err("must be at least 1".into());
    }
    if yen > max {
        return Err(format!("must be at most {max}"));
    }
    Ok(yen)
}

/// The largest customer fee a merchant may add to a bill (collected by the store with it).
pub const MAX_CUSTOMER_FEE_YEN: i64 = 1_000;

/// Reads a customer fee: a whole number of yen from 0 to [`MAX_CUSTOMER_FEE_YEN`].
pub fn fee_from_json(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) if n.as_i64() == Some(0) => Ok(0),
        _ => yen_from_json(v, MAX_CUSTOMER_FEE_YEN)
            .map_err(|m| m.replace("at least 1", "at least 0")),
    }
}

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
    use serde_json::json;

    #[test]
    fn the_limit_is_on_what_the_store_collects() {
        assert_eq!(check_total(299_000, 1_000), Ok(300_000));
        assert_eq!(check_total(300_000, 0), Ok(300_000));
        assert!(check_total(300_000, 1_000).is_err());
        assert!(check_total(299_001, 1_000).is_err());
        assert!(check_total(i64::MAX, 1).is_err());
    }

    #[test]
    fn yen_accepts_only_whole_positive_numbers_in_range() {
        assert_eq!(yen_from_json(&json!(1), MAX_INVOICE_YEN), Ok(1));
        assert_eq!(yen_from_json(&json!(300000), MAX_INVOICE_YEN), Ok(300000));
        for bad in [
            json!(0),
            json!(-1),
            json!(300001),
            json!("100"),
            json!(1.5),
            json!(100.0),
            json!(true),
            json!(null),
            json!(18446744073709551615u64),
        ] {
            assert!(yen_from_json(&bad, MAX_INVOICE_YEN).is_err(), "{bad}");
        }
    }

    #[test]
    fn yen_is_formatted_with_separators() {
        assert_eq!(format_yen(12345), "¥12,345");
        assert_eq!(format_yen(300000), "¥300,000");
        assert_eq!(format_yen(999), "¥999");
        assert_eq!(format_yen(1000), "¥1,000");
    }
}
