//! The merchant's record of collected bills by JST day, written in the payment's transaction
//! (`MER#<merchant>#PAID#<YYYY-MM-DD>` / `<payment id>#<invoice id>`, facts that never change),
//! and the merchant's fee schedule (`MER#<merchant>` / `FEES`, operator configuration).

use super::error::StoreError;
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, NaiveDate, Utc};

use super::item::{self, get_n, get_s, Item};
use super::{av_s, put_new, Db};
use super::{merchant_pk, timestamp};
use crate::clock::jst_date;
use crate::fees::FeeSchedule;
use crate::invoice::Invoice;
use crate::payment::Payment;
use crate::report::PaidLine;

fn paid_pk(merchant_id: &str, day: NaiveDate) -> String {
    format!("MER#{merchant_id}#PAID#{day}")
}

fn fees_key(merchant_id: &str) -> Item {
    item::key(merchant_pk(merchant_id), "FEES")
}

impl Db {
    /// The report line of one invoice a payment pays, for the payment's transaction.
    pub(crate) fn paid_line_put(
        &self,
        payment: &Payment,
        inv: &Invoice,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut it = item::key(
            paid_pk(&inv.merchant_id, jst_date(payment.created_at)),
            format!("{}#{}", payment.id, inv.id),
        );
        it.insert("type".into(), item::s("paid_line"));
        it.insert("payment_id".into(), item::s(&payment.id));
        it.insert("invoice_id".into(), item::s(inv.id.as_str()));
        it.insert("merchant_order_id".into(), item::s(&inv.merchant_order_id));
        it.insert("amount".into(), item::n(inv.amount));
        it.insert("customer_fee".into(), item::n(inv.customer_fee));
        it.insert("chain_id".into(), item::s(&payment.chain_id));
        it.insert("store_code".into(), item::s(&payment.store_code));
        it.insert("paid_at".into(), item::s(timestamp(payment.created_at)));
        put_new(&self.res.main_table, it, "pk")
    }

    /// Every bill of the merchant collected on a JST day. One consistent query a page.
    pub async fn paid_lines(
        &self,
        merchant_id: &str,
        day: NaiveDate,
    ) -> Result<Vec<PaidLine>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.res.main_table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", av_s(&paid_pk(merchant_id, day)))
            .consistent_read(true);
        let mut out = Vec::new();
        for it in &self.query_all(query).await? {
            let bad = |f: &'static str| StoreError::failed(&item::Corrupt(f));
            let text = |f: &'static str| get_s(it, f).map(str::to_string).ok_or_else(|| bad(f));
            out.push(PaidLine {
                payment_id: text("payment_id")?,
                invoice_id: text("invoice_id")?,
                merchant_order_id: text("merchant_order_id")?,
                amount: get_n(it, "amount").ok_or_else(|| bad("amount"))?,
                customer_fee: get_n(it, "customer_fee").unwrap_or(0),
                chain_id: text("chain_id")?,
                store_code: text("store_code")?,
                paid_at: DateTime::parse_from_rfc3339(&text("paid_at")?)
                    .map_err(|_| bad("paid_at"))?
                    .with_timezone(&Utc),
            });
        }
        Ok(out)
    }

    /// The merchant's fee schedule; none set: no fee.
    pub async fn fee_schedule(&self, merchant_id: &str) -> Result<FeeSchedule, StoreError> {
        let found = self
            .read(&self.res.main_table, fees_key(merchant_id))
            .await?;
        Ok(found
            .as_ref()
            .and_then(|it| get_s(it, "schedule"))
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default())
    }

    /// Sets the merchant's fee schedule (operator).
    pub async fn put_fee_schedule(
        &self,
        merchant_id: &str,
        schedule: &FeeSchedule,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        schedule
            .check()
            .map_err(|e| StoreError::failed(&format!("fee schedule: {e}")))?;
        let mut it = fees_key(merchant_id);
        it.insert("type".into(), item::s("fee_schedule"));
        it.insert(
            "schedule".into(),
            item::s(serde_json::to_string(schedule).map_err(|e| StoreError::failed(&e))?),
        );
        it.insert("updated_at".into(), item::s(timestamp(now)));
        self.client
            .put_item()
            .table_name(&self.res.main_table)
            .set_item(Some(it))
            .send()
            .await?;
        Ok(())
    }
}
