//! Payouts to merchants (issue 19). `run`: the daily run that closes each merchant's period and
//! makes its one payout with its statement (PayoutRunFunction, on a schedule; also `smartpit
//! payouts run`). `api`: the merchant's `GET /v1/payouts` routes (PayoutsApiFunction).
//! `sandbox`: `POST /v1/test/payouts/run` on test stacks (PayoutSandboxFunction).

pub mod api;
pub mod run;
pub mod sandbox;

/// The private bucket of payout statements (`STATEMENTS_BUCKET`).
pub fn statements_bucket(vars: &smartpit_shared::config::Vars) -> Result<String, String> {
    vars.get("STATEMENTS_BUCKET")
        .filter(|b| !b.is_empty())
        .cloned()
        .ok_or_else(|| "STATEMENTS_BUCKET is not set".to_string())
}
