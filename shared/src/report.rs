//! The merchant's daily payments report: every bill of the merchant a store collected on one
//! JST day, its payment's state now (completed, voided, settled), the merchant's fee and the
//! net, with totals. Voided lines are listed and count nothing.

use chrono::{DateTime, NaiveDate, Utc};

use crate::fees::FeeSchedule;
use crate::invoice::jst_timestamp;
use crate::payment::PaymentStatus;

/// One bill a payment paid, as written when it was paid (facts that never change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidLine {
    pub payment_id: String,
    pub invoice_id: String,
    pub merchant_order_id: String,
    pub amount: i64,
    pub customer_fee: i64,
    pub chain_id: String,
    pub store_code: String,
    pub paid_at: DateTime<Utc>,
}

/// A line with its payment's state now and the fee on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub line: PaidLine,
    pub status: PaymentStatus,
    pub merchant_fee: i64,
    pub net: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub count: usize,
    pub amount: i64,
    pub customer_fee: i64,
    pub collected: i64,
    pub merchant_fee: i64,
    pub net: i64,
    pub voided_count: usize,
}

/// The day's report as JSON (`Accept: application/json`).
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "PaymentsReport", extend("additionalProperties" = false))]
pub struct ReportView {
    #[schemars(with = "crate::clock::Day")]
    pub date: String,
    #[schemars(with = "crate::contract::Jpy")]
    pub currency: &'static str,
    pub payments: Vec<ReportLineView>,
    pub totals: TotalsView,
}

/// One bill collected that day.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
#[schemars(inline, extend("additionalProperties" = false))]
pub struct ReportLineView {
    pub invoice_id: String,
    pub merchant_order_id: String,
    pub amount: i64,
    pub customer_fee: i64,
    pub collected: i64,
    pub store_chain: String,
    pub store_code: String,
    #[schemars(with = "crate::contract::Timestamp")]
    pub paid_at: String,
    #[schemars(extend("enum" = ["completed", "voided", "settled"]))]
    pub status: &'static str,
    pub merchant_fee: i64,
    pub net: i64,
    pub payment_id: String,
}

/// The day's totals.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
#[schemars(inline, extend("additionalProperties" = false))]
pub struct TotalsView {
    pub count: usize,
    pub voided_count: usize,
    pub amount: i64,
    pub customer_fee: i64,
    pub collected: i64,
    pub merchant_fee: i64,
    pub net: i64,
}

pub struct Report {
    pub date: NaiveDate,
    pub rows: Vec<ReportRow>,
    pub totals: Totals,
}

/// Builds the report. `status_of` gives each payment's state now (`None`: unknown, taken as
/// completed, which cannot happen since a line is written with its payment).
pub fn build(
    date: NaiveDate,
    mut lines: Vec<PaidLine>,
    status_of: impl Fn(&str) -> Option<PaymentStatus>,
    fees: &FeeSchedule,
) -> Report {
    lines.sort_by(|a, b| (a.paid_at, &a.invoice_id).cmp(&(b.paid_at, &b.invoice_id)));
    let mut totals = Totals::default();
    let rows = lines
        .into_iter()
        .map(|line| {
            let status = status_of(&line.payment_id).unwrap_or(PaymentStatus::Completed);
            let collected = line.amount + line.customer_fee;
            let (merchant_fee, net) = if status == PaymentStatus::Voided {
                totals.voided_count += 1;
                (0, 0)
            } else {
                let fee = fees.for_chain(&line.chain_id).on(collected);
                totals.count += 1;
                totals.amount += line.amount;
                totals.customer_fee += line.customer_fee;
                totals.collected += collected;
                totals.merchant_fee += fee;
                totals.net += collected - fee;
                (fee, collected - fee)
            };
            ReportRow {
                line,
                status,
                merchant_fee,
                net,
            }
        })
        .collect();
    Report { date, rows, totals }
}

pub const CSV_HEADER: [&str; 12] = [
    "invoice_id",
    "merchant_order_id",
    "amount",
    "customer_fee",
    "store_chain",
    "store_code",
    "paid_at",
    "status",
    "merchant_fee",
    "net",
    "payment_id",
    "collected",
];

impl Report {
    pub fn csv(&self) -> Result<Vec<u8>, String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let err = |e: csv::Error| e.to_string();
        w.write_record(CSV_HEADER).map_err(err)?;
        for r in &self.rows {
            let l = &r.line;
            w.write_record([
                l.invoice_id.clone(),
                l.merchant_order_id.clone(),
                l.amount.to_string(),
                l.customer_fee.to_string(),
                l.chain_id.clone(),
                l.store_code.clone(),
                jst_timestamp(l.paid_at),
                r.status.as_str().to_string(),
                r.merchant_fee.to_string(),
                r.net.to_string(),
                l.payment_id.clone(),
                (l.amount + l.customer_fee).to_string(),
            ])
            .map_err(err)?;
        }
        let t = &self.totals;
        w.write_record([
            "total".to_string(),
            format!("{} paid / {} voided", t.count, t.voided_count),
            t.amount.to_string(),
            t.customer_fee.to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            t.merchant_fee.to_string(),
            t.net.to_string(),
            String::new(),
            t.collected.to_string(),
        ])
        .map_err(err)?;
        w.into_inner().map_err(|e| e.to_string())
    }

    pub fn json(&self) -> ReportView {
        let t = &self.totals;
        ReportView {
            date: self.date.to_string(),
            currency: "JPY",
            payments: self
                .rows
                .iter()
                .map(|r| ReportLineView {
                    invoice_id: r.line.invoice_id.clone(),
                    merchant_order_id: r.line.merchant_order_id.clone(),
                    amount: r.line.amount,
                    customer_fee: r.line.customer_fee,
                    collected: r.line.amount + r.line.customer_fee,
                    store_chain: r.line.chain_id.clone(),
                    store_code: r.line.store_code.clone(),
                    paid_at: jst_timestamp(r.line.paid_at),
                    status: r.status.as_str(),
                    merchant_fee: r.merchant_fee,
                    net: r.net,
                    payment_id: r.line.payment_id.clone(),
                })
                .collect(),
            totals: TotalsView {
                count: t.count,
                voided_count: t.voided_count,
                amount: t.amount,
                customer_fee: t.customer_fee,
                collected: t.collected,
                merchant_fee: t.merchant_fee,
                net: t.net,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fees::Fee;

    fn line(pay: &str, inv: &str, amount: i64, fee: i64, chain: &str) -> PaidLine {
        PaidLine {
            payment_id: pay.into(),
            invoice_id: inv.into(),
            merchant_order_id: format!("o-{inv}"),
            amount,
            customer_fee: fee,
            chain_id: chain.into(),
            store_code: "S1".into(),
            paid_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn totals_leave_voided_lines_out() {
        let fees = FeeSchedule {
            default: Fee {
                fixed_yen: 50,
                rate_bp: 100,
            },
            ..Default::default()
        };
        let r = build(
            NaiveDate::from_ymd_opt(2027, 1, 15).unwrap_or_default(),
            vec![
                line("p1", "a", 1_000, 100, "lawson"),
                line("p2", "b", 2_000, 0, "ministop"),
                line("p1", "c", 500, 0, "lawson"),
            ],
            |p| {
                Some(if p == "p2" {
                    PaymentStatus::Voided
                } else {
                    PaymentStatus::Settled
                })
            },
            &fees,
        );
        assert_eq!(r.rows[0].merchant_fee, 50 + 11);
        assert_eq!(r.rows[0].net, 1_100 - 61);
        assert_eq!(r.totals.count, 2);
        assert_eq!(r.totals.voided_count, 1);
        assert_eq!(r.totals.amount, 1_500);
        assert_eq!(r.totals.collected, 1_600);
        assert_eq!(r.totals.merchant_fee, 61 + 55);
        assert_eq!(r.totals.net, 1_600 - 116);
        let csv = String::from_utf8(r.csv().unwrap_or_default()).unwrap_or_default();
        assert_eq!(csv.lines().count(), 5);
        assert!(csv.lines().last().is_some_and(|l| l.starts_with("total,")));
    }
}
