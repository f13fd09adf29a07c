//! Merchants' payout settings (`MER#<id>` / `PAYOUT_SETTING`).

use chrono::{DateTime, Utc};

use super::error::StoreError;
use super::item::{self, get_n, get_s, Item};
use super::{merchant_pk, timestamp, Db};
use crate::payout_cycle::{Cycle, PayoutSetting};

fn setting_key(merchant_id: &str) -> Item {
    item::key(merchant_pk(merchant_id), "PAYOUT_SETTING")
}

impl Db {
    /// The merchant's payout setting; the default (month end, 5 business days) if none is set.
    pub async fn payout_setting(&self, merchant_id: &str) -> Result<PayoutSetting, StoreError> {
        let found = self
            .read(&self.res.main_table, setting_key(merchant_id))
            .await?;
        let Some(it) = found else {
            return Ok(PayoutSetting::default());
        };
        let cycle: Cycle = get_s(&it, "cycle")
            .unwrap_or_default()
            .parse()
            .map_err(|e: String| StoreError::failed(&e))?;
        let days = get_n(&it, "pay_after_business_days")
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| StoreError::failed(&"payout setting without its business days"))?;
        PayoutSetting::new(cycle, days).map_err(|e| StoreError::failed(&e))
    }

    /// Sets the merchant's payout setting (operator).
    pub async fn put_payout_setting(
        &self,
        merchant_id: &str,
        setting: &PayoutSetting,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut it = setting_key(merchant_id);
        it.insert("type".into(), item::s("payout_setting"));
        it.insert("cycle".into(), item::s(setting.cycle.as_str()));
        it.insert(
            "pay_after_business_days".into(),
            item::n(i64::from(setting.pay_after_business_days)),
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
