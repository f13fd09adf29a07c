//! Settlement cycles (精算周期) of merchant payouts: when a period closes, what it covers and
//! when its transfer is paid. Dates are JST calendar days.
//!
//! - `5day` (5日締): closes on the 5th, 10th, 15th, 20th, 25th and the last day of the month;
//! - `10day` (10日締): the 10th, 20th and the last day;
//! - `half_month` (半月締): the 15th and the last day;
//! - `month_end` (月末締, the default): the last day.
//!
//! A period runs from the day after the previous close to its close, both included; it is paid
//! `pay_after_business_days` bank business days after the close (`crate::bank_calendar`).

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

use crate::bank_calendar::{business_days_after, NotCovered};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cycle {
    FiveDay,
    TenDay,
    HalfMonth,
    #[default]
    MonthEnd,
}

/// Business days after a close the transfer is paid, unless the merchant's setting says.
pub const DEFAULT_PAY_AFTER_BUSINESS_DAYS: u32 = 5;
/// The most a setting may say (a payout later than this is not a settlement cycle).
pub const MAX_PAY_AFTER_BUSINESS_DAYS: u32 = 20;

impl Cycle {
    pub const ALL: [Cycle; 4] = [
        Cycle::FiveDay,
        Cycle::TenDay,
        Cycle::HalfMonth,
        Cycle::MonthEnd,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Cycle::FiveDay => "5day",
            Cycle::TenDay => "10day",
            Cycle::HalfMonth => "half_month",
            Cycle::MonthEnd => "month_end",
        }
    }

    /// Whether a period closes on `day`.
    pub fn closes_on(self, day: NaiveDate) -> bool {
        let last = day
            .succ_opt()
            .is_none_or(|next| next.month() != day.month());
        last || match self {
            Cycle::FiveDay => day.day().is_multiple_of(5) && day.day() <= 25,
            Cycle::TenDay => day.day() == 10 || day.day() == 20,
            Cycle::HalfMonth => day.day() == 15,
            Cycle::MonthEnd => false,
        }
    }

    /// The period that closes on `day`, if one does.
    pub fn period_closing_on(self, day: NaiveDate) -> Option<Period> {
        if !self.closes_on(day) {
            return None;
        }
        let mut start = day;
        while let Some(before) = start.pred_opt() {
            if self.closes_on(before) {
                break;
            }
            start = before;
        }
        Some(Period {
            cycle: self,
            start,
            end: day,
        })
    }

    /// The period `day` falls in (its close is on or after `day`).
    pub fn period_of(self, day: NaiveDate) -> Option<Period> {
        let mut end = day;
        while !self.closes_on(end) {
            end = end.succ_opt()?;
        }
        self.period_closing_on(end)
    }
}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Cycle {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cycle::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!("a cycle is one of 5day, 10day, half_month, month_end (not {s:?})")
            })
    }
}

/// A merchant's payout setting (operator: `smartpit merchant-payout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayoutSetting {
    pub cycle: Cycle,
    /// Bank business days from a close to its transfer.
    pub pay_after_business_days: u32,
}

impl Default for PayoutSetting {
    fn default() -> Self {
        PayoutSetting {
            cycle: Cycle::MonthEnd,
            pay_after_business_days: DEFAULT_PAY_AFTER_BUSINESS_DAYS,
        }
    }
}

impl PayoutSetting {
    pub fn new(cycle: Cycle, pay_after_business_days: u32) -> Result<Self, String> {
        if pay_after_business_days > MAX_PAY_AFTER_BUSINESS_DAYS {
            return Err(format!(
                "a payout is paid at most {MAX_PAY_AFTER_BUSINESS_DAYS} business days after its close"
            ));
        }
        Ok(PayoutSetting {
            cycle,
            pay_after_business_days,
        })
    }

    /// The first period closing on or after `today`, and its pay date.
    pub fn next(&self, today: NaiveDate) -> Result<(Period, NaiveDate), String> {
        let period = self
            .cycle
            .period_of(today)
            .ok_or("no close after this day")?;
        let pay = period
            .pay_date(self.pay_after_business_days)
            .map_err(|e| e.to_string())?;
        Ok((period, pay))
    }
}

/// One settlement period of a cycle, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub cycle: Cycle,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Period {
    /// The day its transfer is paid: `after` bank business days after the close.
    pub fn pay_date(&self, after: u32) -> Result<NaiveDate, NotCovered> {
        business_days_after(self.end, after)
    }

    /// The period before this one.
    pub fn previous(&self) -> Option<Period> {
        self.cycle.period_closing_on(self.start.pred_opt()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn closes(cycle: Cycle, month: &str) -> Vec<u32> {
        let first = d(&format!("{month}-01"));
        first
            .iter_days()
            .take_while(|x| x.month() == first.month())
            .filter(|x| cycle.closes_on(*x))
            .map(|x| x.day())
            .collect()
    }

    #[test]
    fn each_cycle_closes_on_its_days() {
        assert_eq!(closes(Cycle::FiveDay, "2026-12"), [5, 10, 15, 20, 25, 31]);
        assert_eq!(closes(Cycle::FiveDay, "2027-02"), [5, 10, 15, 20, 25, 28]);
        assert_eq!(closes(Cycle::TenDay, "2026-11"), [10, 20, 30]);
        assert_eq!(closes(Cycle::HalfMonth, "2028-02"), [15, 29]);
        assert_eq!(closes(Cycle::MonthEnd, "2026-04"), [30]);
    }

    #[test]
    fn a_period_runs_from_the_day_after_the_last_close() {
        let p = Cycle::FiveDay
            .period_closing_on(d("2026-12-31"))
            .expect("closes");
        assert_eq!((p.start, p.end), (d("2026-12-26"), d("2026-12-31")));
        let p = Cycle::HalfMonth
            .period_closing_on(d("2027-01-15"))
            .expect("closes");
        assert_eq!((p.start, p.end), (d("2027-01-01"), d("2027-01-15")));
        let p = Cycle::MonthEnd.period_of(d("2027-02-14")).expect("period");
        assert_eq!((p.start, p.end), (d("2027-02-01"), d("2027-02-28")));
        assert_eq!(
            p.previous().map(|q| (q.start, q.end)),
            Some((d("2027-01-01"), d("2027-01-31")))
        );
        assert!(Cycle::TenDay.period_closing_on(d("2026-12-11")).is_none());
    }

    #[test]
    fn pay_dates_skip_weekends_holidays_and_the_year_end() {
        let month_end = |day: &str| {
            Cycle::MonthEnd
                .period_closing_on(d(day))
                .expect("closes")
                .pay_date(DEFAULT_PAY_AFTER_BUSINESS_DAYS)
                .expect("covered")
        };
        // December 2026 closes into the banks' New Year: paid Friday 8 January.
        assert_eq!(month_end("2026-12-31"), d("2027-01-08"));
        // April 2026 closes into Golden Week: paid Tuesday 12 May.
        assert_eq!(month_end("2026-04-30"), d("2026-05-12"));
        // The 10th-day close of 20 September 2026 runs into Silver Week.
        let p = Cycle::TenDay
            .period_closing_on(d("2026-09-20"))
            .expect("closes");
        assert_eq!(p.pay_date(5), Ok(d("2026-09-30")));
        assert_eq!(p.pay_date(0), Ok(d("2026-09-24")));
    }

    #[test]
    fn a_setting_says_the_next_close_and_its_pay_date() {
        let s = PayoutSetting::new(Cycle::HalfMonth, 3).expect("setting");
        let (p, pay) = s.next(d("2026-12-04")).expect("next");
        assert_eq!(
            (p.start, p.end, pay),
            (d("2026-12-01"), d("2026-12-15"), d("2026-12-18"))
        );
        assert!(PayoutSetting::new(Cycle::MonthEnd, 21).is_err());
        assert_eq!(PayoutSetting::default().cycle, Cycle::MonthEnd);
    }

    #[test]
    fn cycles_read_and_print_as_the_operator_types_them() {
        for c in Cycle::ALL {
            assert_eq!(c.as_str().parse::<Cycle>(), Ok(c));
        }
        assert!("monthly".parse::<Cycle>().is_err());
        assert_eq!(Cycle::default(), Cycle::MonthEnd);
    }
}
