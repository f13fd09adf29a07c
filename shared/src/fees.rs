//! What the service charges a merchant per paid bill (operator configuration): a fixed number
//! of yen plus a rate in basis points of what the store collected, by chain, with a default.
//! All in whole yen: the rate's part is rounded down.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One chain's (or the default) fee: `fixed_yen + floor(collected * rate_bp / 10,000)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fee {
    pub fixed_yen: i64,
    /// Basis points: 100 is 1%.
    pub rate_bp: i64,
}

/// The most a fee may be set to: 1,000 yen fixed, 10% rate.
pub const MAX_FIXED_YEN: i64 = 1_000;
pub const MAX_RATE_BP: i64 = 1_000;

impl Fee {
    pub fn check(&self) -> Result<(), String> {
        if !(0..=MAX_FIXED_YEN).contains(&self.fixed_yen) {
            return Err(format!("fixed_yen must be 0 to {MAX_FIXED_YEN}"));
        }
        if !(0..=MAX_RATE_BP).contains(&self.rate_bp) {
            return Err(format!("rate_bp must be 0 to {MAX_RATE_BP} (10%)"));
        }
        Ok(())
    }

    /// The fee on one paid bill that collected `collected` yen (never more than collected).
    pub fn on(&self, collected: i64) -> i64 {
        let rate = collected.saturating_mul(self.rate_bp) / 10_000;
        (self.fixed_yen + rate).min(collected)
    }
}

/// A merchant's schedule: a default and per-chain overrides. No schedule: no fee.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeSchedule {
    #[serde(default)]
    pub default: Fee,
    #[serde(default)]
    pub chains: BTreeMap<String, Fee>,
}

impl FeeSchedule {
    pub fn for_chain(&self, chain_id: &str) -> Fee {
        self.chains.get(chain_id).copied().unwrap_or(self.default)
    }

    pub fn check(&self) -> Result<(), String> {
        self.default.check()?;
        for (chain, fee) in &self.chains {
            fee.check().map_err(|e| format!("{chain}: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_are_whole_yen_rounded_down_and_by_chain() {
        let f = Fee {
            fixed_yen: 60,
            rate_bp: 35,
        };
        assert_eq!(f.on(10_000), 60 + 35);
        assert_eq!(f.on(999), 60 + 3); // 3.4965 rounds down
        assert_eq!(f.on(50), 50); // never more than collected
        let mut s = FeeSchedule::default();
        assert_eq!(s.for_chain("lawson").on(5_000), 0);
        s.default = f;
        s.chains.insert(
            "lawson".into(),
            Fee {
                fixed_yen: 40,
                rate_bp: 0,
            },
        );
        assert_eq!(s.for_chain("lawson").on(5_000), 40);
        assert_eq!(s.for_chain("ministop").on(5_000), 60 + 17);
        assert!(s.check().is_ok());
        s.default.rate_bp = 1_001;
        assert!(s.check().is_err());
    }
}
