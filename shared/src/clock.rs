//! Japan Standard Time dates: due dates, deadlines and "the same day" for voids.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc};

/// Days after the registration day a due date may lie (60 days counting the registration day).
pub const MAX_DUE_DAYS_AFTER_REGISTRATION: i64 = 59;

pub fn jst() -> FixedOffset {
    // 9 hours east of UTC is always a valid offset.
    FixedOffset::east_opt(9 * 3600).unwrap_or_else(|| unreachable!())
}

/// The JST calendar day of an instant.
pub fn jst_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&jst()).date_naive()
}

/// The last second of a JST day, 23:59:59 JST, as Unix seconds.
pub fn deadline_epoch(day: NaiveDate) -> i64 {
    let next = day.succ_opt().unwrap_or(day);
    match jst().from_local_datetime(&next.and_time(chrono::NaiveTime::MIN)) {
        chrono::LocalResult::Single(t) => t.timestamp() - 1,
        _ => i64::MAX,
    }
}

/// The first instant of a JST day (00:00 JST), in UTC.
pub fn jst_day_start(day: NaiveDate) -> DateTime<Utc> {
    match jst().from_local_datetime(&day.and_time(chrono::NaiveTime::MIN)) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        _ => DateTime::<Utc>::MIN_UTC,
    }
}

/// `2026年12月10日`.
pub fn japanese_date(day: NaiveDate) -> String {
    format!("{}年{}月{}日", day.year(), day.month(), day.day())
}

/// A day written exactly `YYYY-MM-DD`: chrono alone takes a sign, unpadded fields and inner
/// spaces (`+2026-12-2`, `2026-12- 2`), so the shape is checked first, exactly four, two and two
/// ASCII digits.
pub fn parse_day(s: &str) -> Result<NaiveDate, String> {
    let shaped = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|_| shaped)
        .ok_or_else(|| "must be a date as YYYY-MM-DD".to_string())
}

/// A day a client writes, exactly `YYYY-MM-DD` ([`parse_day`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day(pub NaiveDate);

impl<'de> serde::Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Day;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a date as YYYY-MM-DD")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Day, E> {
                parse_day(v).map(Day).map_err(E::custom)
            }
        }
        d.deserialize_str(Visit)
    }
}

/// A merchant's due date lies from the registration day (JST) to 59 days later.
pub fn check_due_date(day: NaiveDate, now: DateTime<Utc>) -> Result<(), String> {
    check_day_ahead(day, now, MAX_DUE_DAYS_AFTER_REGISTRATION)
}

/// A day from today (JST) to `max_days` later.
pub fn check_day_ahead(day: NaiveDate, now: DateTime<Utc>, max_days: i64) -> Result<(), String> {
    let today = jst_date(now);
    if day < today {
        return Err(format!("must not be before today ({today}, JST)"));
    }
    let last = today + Duration::days(max_days);
    if day > last {
        return Err(format!(
            "must be at most {max_days} days after today, {last} at the latest (JST)"
        ));
    }
    Ok(())
}

/// Checks a merchant's due date: `YYYY-MM-DD`, from the registration day (JST) to 59 days later.
pub fn parse_due_date(s: &str, now: DateTime<Utc>) -> Result<NaiveDate, String> {
    let day = parse_day(s)?;
    check_due_date(day, now)?;
    Ok(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn jst_day_turns_at_15_utc() {
        assert_eq!(
            jst_date(utc("2026-11-26T14:59:59Z")).to_string(),
            "2026-11-26"
        );
        assert_eq!(
            jst_date(utc("2026-11-26T15:00:00Z")).to_string(),
            "2026-11-27"
        );
    }

    #[test]
    fn deadline_is_last_second_of_the_jst_day() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 10).unwrap();
        assert_eq!(deadline_epoch(d), utc("2026-12-10T14:59:59Z").timestamp());
        assert_eq!(japanese_date(d), "2026年12月10日");
    }

    #[test]
    fn due_date_window() {
        let now = utc("2026-11-26T16:00:00Z"); // 2026-11-27 01:00 JST
        assert!(parse_due_date("2026-11-27", now).is_ok());
        assert!(parse_due_date("2026-11-26", now).is_err());
        assert!(parse_due_date("2027-01-25", now).is_ok());
        assert!(parse_due_date("2027-01-26", now).is_err());
        assert!(parse_due_date("2026-13-01", now).is_err());
        assert!(parse_due_date("2026-12-1", now).is_err());
        assert!(parse_due_date("20261201", now).is_err());
        assert!(parse_due_date("+2026-12-2", now).is_err());
        assert!(parse_due_date("2026-12- 2", now).is_err());
        assert!(parse_due_date("2026-12-02", now).is_ok());
        assert!(parse_due_date("２０２６-12-02", now).is_err());
    }
}
