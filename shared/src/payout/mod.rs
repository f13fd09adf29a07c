//! A payout's arithmetic (issue 19), in integer yen: the bills settled (確報) in a period, by day
//! and chain, what the customers paid for them (amount and customer fee) as gross, minus the
//! merchant's fee on each bill (its schedule, `crate::fees`), minus the refunds paid in the
//! period (a line each), minus what an earlier period left owing. Never negative: a balance
//! below zero pays nothing and is carried to the next period, and the statement says so.

#[cfg(feature = "pdf")]
pub mod document;
pub mod files;
mod record;
#[cfg(feature = "statements")]
pub mod statement_link;

pub use record::{
    is_payout_id, payout_id, MaskedAccountView, Payout, PayoutStatus, PayoutView,
    HELD_NO_BANK_ACCOUNT,
};

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use crate::fees::FeeSchedule;
use crate::payout_cycle::Period;

/// One bill settled in the period, as the settlement recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledBill {
    pub settled_on: NaiveDate,
    pub chain_id: String,
    pub store_code: String,
    pub invoice_id: String,
    pub payment_id: String,
    pub merchant_order_id: String,
    pub amount: i64,
    pub customer_fee: i64,
    pub paid_at: DateTime<Utc>,
}

impl SettledBill {
    /// What the customer paid for it at the store (amount plus customer fee).
    pub fn collected(&self) -> i64 {
        self.amount + self.customer_fee
    }
}

/// One refund paid out in the period (issue 20), deducted from the merchant's payout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundPaid {
    pub paid_on: NaiveDate,
    pub refund_id: String,
    pub amount: i64,
}

/// A statement line: the bills of one day and chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayLine {
    pub day: NaiveDate,
    pub chain_id: String,
    pub count: usize,
    pub gross: i64,
    pub fees: i64,
    pub net: i64,
}

/// A payout statement (支払通知書) before it is paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub period: Period,
    pub lines: Vec<DayLine>,
    pub refunds: Vec<RefundPaid>,
    pub gross: i64,
    pub fees: i64,
    pub refunded: i64,
    /// What earlier periods left: below zero what the merchant owes (a shortfall carried,
    /// deducted here), above zero what is owed to the merchant (a failed transfer returned).
    pub brought_forward: i64,
    /// Paid to the merchant's account: never below zero.
    pub net: i64,
    /// Owed to the next period when the balance went below zero (0 otherwise).
    pub carried_out: i64,
}

/// The statement of `period`. Bills or refunds outside the period and negative amounts are
/// refused (a caller's mistake must not move money).
pub fn statement(
    period: Period,
    bills: &[SettledBill],
    refunds: &[RefundPaid],
    fees: &FeeSchedule,
    brought_forward: i64,
) -> Result<Statement, String> {
    let within = |d: NaiveDate| period.start <= d && d <= period.end;
    let mut lines: BTreeMap<(NaiveDate, &str), DayLine> = BTreeMap::new();
    for b in bills {
        if !within(b.settled_on) {
            return Err(format!(
                "{} was settled on {}, outside {}..{}",
                b.invoice_id, b.settled_on, period.start, period.end
            ));
        }
        if b.amount < 0 || b.customer_fee < 0 {
            return Err(format!("{} collected a negative amount", b.invoice_id));
        }
        let collected = b.collected();
        let fee = fees.for_chain(&b.chain_id).on(collected);
        let line = lines
            .entry((b.settled_on, b.chain_id.as_str()))
            .or_insert_with(|| DayLine {
                day: b.settled_on,
                chain_id: b.chain_id.clone(),
                count: 0,
                gross: 0,
                fees: 0,
                net: 0,
            });
        line.count += 1;
        line.gross += collected;
        line.fees += fee;
        line.net += collected - fee;
    }
    let mut refunds = refunds.to_vec();
    for r in &refunds {
        if !within(r.paid_on) || r.amount <= 0 {
            return Err(format!(
                "refund {} ({} yen on {}) does not belong to this period",
                r.refund_id, r.amount, r.paid_on
            ));
        }
    }
    refunds.sort_by(|a, b| (a.paid_on, &a.refund_id).cmp(&(b.paid_on, &b.refund_id)));
    let lines: Vec<DayLine> = lines.into_values().collect();
    let gross = lines.iter().map(|l| l.gross).sum::<i64>();
    let fees_total = lines.iter().map(|l| l.fees).sum::<i64>();
    let refunded = refunds.iter().map(|r| r.amount).sum::<i64>();
    let balance = gross - fees_total - refunded + brought_forward;
    Ok(Statement {
        period,
        lines,
        refunds,
        gross,
        fees: fees_total,
        refunded,
        brought_forward,
        net: balance.max(0),
        carried_out: (-balance).max(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fees::Fee;
    use crate::payout_cycle::Cycle;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn bill(day: &str, chain: &str, id: &str, collected: i64) -> SettledBill {
        SettledBill {
            settled_on: d(day),
            chain_id: chain.into(),
            store_code: "000123".into(),
            invoice_id: id.into(),
            payment_id: format!("pay_{id}"),
            merchant_order_id: format!("order-{id}"),
            amount: collected,
            customer_fee: 0,
            paid_at: Utc::now(),
        }
    }

    fn fees() -> FeeSchedule {
        let mut f = FeeSchedule {
            default: Fee {
                fixed_yen: 60,
                rate_bp: 0,
            },
            ..Default::default()
        };
        f.chains.insert(
            "lawson".into(),
            Fee {
                fixed_yen: 40,
                rate_bp: 50,
            },
        );
        f
    }

    fn december() -> Period {
        Cycle::MonthEnd
            .period_closing_on(d("2026-12-31"))
            .expect("period")
    }

    #[test]
    fn bills_add_up_by_day_and_chain_less_fees_and_refunds() {
        let s = statement(
            december(),
            &[
                bill("2026-12-04", "lawson", "inv_a", 12_345),
                bill("2026-12-04", "lawson", "inv_b", 1_000),
                bill("2026-12-04", "familymart", "inv_c", 3_000),
                bill("2026-12-28", "lawson", "inv_d", 999),
            ],
            &[RefundPaid {
                paid_on: d("2026-12-20"),
                refund_id: "ref_1".into(),
                amount: 500,
            }],
            &fees(),
            0,
        )
        .expect("statement");
        // Lawson: 40 yen + 0.5 % (rounded down) a bill; others 60 yen.
        let first = &s.lines[0];
        assert_eq!((first.chain_id.as_str(), first.count), ("familymart", 1));
        assert_eq!((first.gross, first.fees, first.net), (3_000, 60, 2_940));
        let lawson = &s.lines[1];
        assert_eq!((lawson.count, lawson.gross), (2, 13_345));
        assert_eq!(lawson.fees, (40 + 61) + (40 + 5));
        assert_eq!(s.lines.len(), 3);
        assert_eq!(s.gross, 12_345 + 1_000 + 3_000 + 999);
        assert_eq!(s.fees, 146 + 60 + 44);
        assert_eq!(s.refunded, 500);
        assert_eq!(s.net, s.gross - s.fees - 500);
        assert_eq!(s.carried_out, 0);
        // Every yen is somewhere: lines add up to the totals.
        assert_eq!(s.lines.iter().map(|l| l.net).sum::<i64>(), s.gross - s.fees);
    }

    #[test]
    fn a_negative_balance_pays_nothing_and_is_carried() {
        let s = statement(
            december(),
            &[bill("2026-12-10", "ministop", "inv_a", 1_000)],
            &[RefundPaid {
                paid_on: d("2026-12-11"),
                refund_id: "ref_1".into(),
                amount: 5_000,
            }],
            &fees(),
            -200,
        )
        .expect("statement");
        assert_eq!(s.net, 0);
        assert_eq!(s.carried_out, 5_000 + 200 + 60 - 1_000);
        // The next period pays it back first.
        let january = december().cycle.period_of(d("2027-01-15")).expect("period");
        let next = statement(
            january,
            &[bill("2027-01-15", "ministop", "inv_b", 10_000)],
            &[],
            &fees(),
            -s.carried_out,
        )
        .expect("statement");
        assert_eq!(next.net, 10_000 - 60 - s.carried_out);
        assert_eq!(next.carried_out, 0);
    }

    #[test]
    fn what_does_not_belong_is_refused() {
        let outside = statement(
            december(),
            &[bill("2027-01-01", "lawson", "inv_a", 100)],
            &[],
            &fees(),
            0,
        );
        assert!(outside.unwrap_err().contains("outside"));
        let negative = statement(
            december(),
            &[bill("2026-12-01", "lawson", "inv_a", -1)],
            &[],
            &fees(),
            0,
        );
        assert!(negative.is_err());
        // A failed transfer returned is paid with the next period's bills.
        let returned = statement(december(), &[], &[], &fees(), 1_500).expect("returned");
        assert_eq!((returned.net, returned.carried_out), (1_500, 0));
        let empty = statement(december(), &[], &[], &fees(), 0).expect("empty");
        assert_eq!((empty.net, empty.carried_out, empty.lines.len()), (0, 0, 0));
    }
}
