//! Bank business days in Japan, the days a transfer can be paid: not a Saturday or Sunday, not
//! a public holiday, not the banks' year-end holidays (12/31 to 1/3). The holidays are the
//! Cabinet Office's list as the maintained `@holiday-jp/holiday_jp` package publishes it,
//! pinned in infra/data and written to shared/data/holidays-jp.tsv by `make field-data`
//! (never typed in by hand). Days past the list's end are refused, not guessed.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate, Weekday};

const HOLIDAYS: &str = include_str!("../data/holidays-jp.tsv");

fn holidays() -> &'static BTreeMap<NaiveDate, &'static str> {
    static LIST: OnceLock<BTreeMap<NaiveDate, &'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        HOLIDAYS
            .lines()
            .filter_map(|line| {
                let mut cols = line.split('\t');
                let day = NaiveDate::parse_from_str(cols.next()?, "%Y-%m-%d").ok()?;
                Some((day, cols.next().unwrap_or_default()))
            })
            .collect()
    })
}

/// The last day the holiday list covers (the end of its last year).
pub fn covered_until() -> NaiveDate {
    let last_year = holidays().keys().next_back().map_or(1970, |d| d.year());
    NaiveDate::from_ymd_opt(last_year, 12, 31).unwrap_or(NaiveDate::MIN)
}

/// The public holiday on `day`, by its Japanese name.
pub fn holiday(day: NaiveDate) -> Option<&'static str> {
    holidays().get(&day).copied()
}

/// Why a day cannot be told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is past the holiday list (shared/data/holidays-jp.tsv ends {1}): run make field-data")]
pub struct NotCovered(pub NaiveDate, pub NaiveDate);

/// Whether banks pay transfers on `day`.
pub fn is_business_day(day: NaiveDate) -> Result<bool, NotCovered> {
    let end = covered_until();
    if day > end {
        return Err(NotCovered(day, end));
    }
    let year_end = matches!((day.month(), day.day()), (12, 31) | (1, 1..=3));
    Ok(
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
            && holiday(day).is_none()
            && !year_end,
    )
}

/// The `n`-th business day after `day` (`n` = 0: `day` itself if it is one, else the next).
pub fn business_days_after(day: NaiveDate, n: u32) -> Result<NaiveDate, NotCovered> {
    let mut at = day;
    let mut left = n;
    if n == 0 {
        while !is_business_day(at)? {
            at = at.succ_opt().ok_or(NotCovered(at, covered_until()))?;
        }
        return Ok(at);
    }
    while left > 0 {
        at = at.succ_opt().ok_or(NotCovered(at, covered_until()))?;
        if is_business_day(at)? {
            left -= 1;
        }
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn the_list_holds_the_holidays_of_2026_and_2027() {
        assert_eq!(holiday(d("2026-05-06")), Some("こどもの日 振替休日"));
        assert_eq!(holiday(d("2026-09-22")), Some("休日"));
        assert_eq!(holiday(d("2027-01-11")), Some("成人の日"));
        assert_eq!(holiday(d("2027-03-22")), Some("春分の日 振替休日"));
        assert_eq!(holiday(d("2026-12-04")), None);
        assert!(covered_until() >= d("2027-12-31"));
    }

    #[test]
    fn weekends_holidays_and_the_year_end_are_not_business_days() {
        for day in [
            "2026-12-05", // Saturday
            "2026-12-06", // Sunday
            "2026-11-23", // Labour Thanksgiving
            "2026-12-31", // the banks' year end
            "2027-01-01",
            "2027-01-02",
            "2027-01-03",
        ] {
            assert_eq!(is_business_day(d(day)), Ok(false), "{day}");
        }
        for day in ["2026-12-04", "2026-12-30", "2027-01-04"] {
            assert_eq!(is_business_day(d(day)), Ok(true), "{day}");
        }
    }

    #[test]
    fn counting_business_days_skips_every_closed_day() {
        // The year end and New Year: 12/31 to 1/3, then Monday the 4th is the first.
        assert_eq!(business_days_after(d("2026-12-30"), 1), Ok(d("2027-01-04")));
        assert_eq!(business_days_after(d("2026-12-31"), 5), Ok(d("2027-01-08")));
        // Golden Week 2026: 5/3 (Sunday) moves its holiday to Wednesday 5/6.
        assert_eq!(business_days_after(d("2026-04-30"), 5), Ok(d("2026-05-12")));
        // Silver Week 2026: 9/21, 9/22 (a citizens' holiday between two), 9/23.
        assert_eq!(business_days_after(d("2026-09-20"), 5), Ok(d("2026-09-30")));
        // Zero: the day itself, or the next business day.
        assert_eq!(business_days_after(d("2026-12-04"), 0), Ok(d("2026-12-04")));
        assert_eq!(business_days_after(d("2027-01-09"), 0), Ok(d("2027-01-12")));
    }

    #[test]
    fn a_day_past_the_list_is_refused() {
        let late = covered_until().succ_opt().expect("day");
        assert!(is_business_day(late).is_err());
        assert!(business_days_after(covered_until(), 1).is_err());
    }
}
