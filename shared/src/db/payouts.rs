//! Payouts and what they are made from (main table):
//! - `MER#<id>` / `PAYOUT_SETTING`: the merchant's cycle (operator).
//! - `MER#<id>#SETTLED` / `<settled at>#<payment id>#<invoice id>`: a bill settled (確報), written
//!   in the settlement's transaction; what a payout pays. Sorted by the instant it was settled,
//!   so a payout takes exactly the lines after the previous payout's cut-off and up to its own.
//! - `MER#<id>` / `PAYOUT_STATE`: the merchant's payout state (`version`, the last `cutoff` and
//!   `last_end`, the `balance` carried: below zero owed by the merchant, above zero a failed
//!   transfer to pay again). Every payout and every failed transfer changes it under a
//!   condition on `version`.
//! - `MER#<id>` / `PAYOUT#<payout id>`: a payout (ids sort by close day: newest first backwards).
//! - `PAYDUE#<pay date>` / `<payout id>`: what that day's transfer file pays; `PAYHELD` /
//!   `<payout id>`: payouts held for want of a bank account.
//! - `MERCHANTS` / `<merchant id>`: the directory the payout run goes through.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};

use super::bank_accounts::MaskedAccount;
use super::error::{Refusal, StoreError};
use super::item::{self, get_n, get_s, Item};
use super::{av_s, cancellation_codes, merchant_pk, put_new, timestamp, Db, MAX_BATCH_KEYS};
use crate::clock::jst_date;
use crate::fees::FeeSchedule;
use crate::invoice::Invoice;
use crate::payment::{Payment, PaymentLine};
use crate::payout::{
    is_payout_id, MaskedAccountView, Payout, PayoutStatus, RefundPaid, SettledBill,
};
use crate::payout_cycle::{Cycle, PayoutSetting, Period};
use crate::webhook::Event;

pub(crate) const DIRECTORY_PK: &str = "MERCHANTS";
const HELD_PK: &str = "PAYHELD";
/// Settled lines are kept 400 days (the statements keep them after).
const SETTLED_KEEP_SECONDS: i64 = 400 * 86_400;

fn setting_key(merchant_id: &str) -> Item {
    item::key(merchant_pk(merchant_id), "PAYOUT_SETTING")
}

fn state_key(merchant_id: &str) -> Item {
    item::key(merchant_pk(merchant_id), "PAYOUT_STATE")
}

fn payout_key(merchant_id: &str, id: &str) -> Item {
    item::key(merchant_pk(merchant_id), format!("PAYOUT#{id}"))
}

fn settled_pk(merchant_id: &str) -> String {
    format!("MER#{merchant_id}#SETTLED")
}

/// The payouts due and not yet in a transfer file, sorted by pay date: a file takes every one
/// due on or before its day (a payout made after its pay date's file is paid by the next).
const DUE_PK: &str = "PAYDUE";

fn due_key(day: NaiveDate, id: &str) -> Item {
    item::key(DUE_PK, format!("{day}#{id}"))
}

/// A transfer file's partition: its record (`#`) and one `PAYOUT#<id>` item per payout in it,
/// each written with its payout, so the file's contents are fixed once it is made.
pub(crate) fn transfer_pk(day: NaiveDate) -> String {
    format!("TRANSFER#{day}")
}

pub(crate) fn transfer_key(day: NaiveDate) -> Item {
    item::key(transfer_pk(day), "#")
}

fn filed_key(day: NaiveDate, id: &str) -> Item {
    item::key(transfer_pk(day), format!("PAYOUT#{id}"))
}

/// A settled line's sort key starts with the instant, fixed width, so lines sort by it.
fn instant(t: DateTime<Utc>) -> String {
    timestamp(t)
}

/// A merchant's payout state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayoutState {
    /// 0: no state stored yet.
    pub version: i64,
    /// The last payout's cut-off: lines settled up to it are paid out.
    pub cutoff: Option<DateTime<Utc>>,
    pub last_end: Option<NaiveDate>,
    /// Below zero owed by the merchant; above zero owed to it (a failed transfer returned).
    pub balance: i64,
}

/// What a merchant's payout is made from, read in one pass for many merchants.
#[derive(Debug, Clone)]
pub struct PayoutInputs {
    pub merchant_id: String,
    pub merchant_name: String,
    pub setting: PayoutSetting,
    pub fees: FeeSchedule,
    pub state: PayoutState,
    pub account: Option<MaskedAccountView>,
}

/// What `create_payout` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    Created,
    /// A payout of that close exists already (another run made it).
    Exists,
    /// The merchant's state changed since it was read: read again and retry.
    StateChanged,
}

/// Where a transfer file stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferStatus {
    /// One `transfers file` is putting payouts in it (`token` says which).
    Making,
    /// Made: its payouts and its bytes are fixed; made again, the same file.
    Filed,
    /// The bank's answer is recorded.
    Confirmed,
}

impl TransferStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Making => "making",
            Self::Filed => "filed",
            Self::Confirmed => "confirmed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "filed" => Self::Filed,
            "confirmed" => Self::Confirmed,
            _ => Self::Making,
        }
    }
}

/// A transfer file's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRecord {
    pub day: NaiveDate,
    pub status: TransferStatus,
    pub count: i64,
    pub total: i64,
    /// The file as first made (SSE-KMS), and its SHA-256 in hex.
    pub s3_key: String,
    pub digest: String,
    /// The `transfers file` that holds (or held) the claim, and since when.
    pub token: String,
    pub claimed_at: String,
}

/// What claiming a day's transfer file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferClaim {
    /// Ours: put the payouts in it, then `finish_transfer`.
    Claimed,
    /// Made (or confirmed) already.
    Made(TransferRecord),
    /// Another `transfers file` is making it, since that instant.
    Busy(String),
}

/// The check, in a filing transaction, that the day's file is still claimed by `token`.
pub(crate) fn claim_check(
    table: &str,
    day: NaiveDate,
    token: &str,
) -> Result<TransactWriteItem, StoreError> {
    let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(transfer_key(day)))
        .condition_expression("#status = :making AND #token = :token")
        .expression_attribute_names("#status", "status")
        .expression_attribute_names("#token", "token")
        .expression_attribute_values(":making", av_s(TransferStatus::Making.as_str()))
        .expression_attribute_values(":token", av_s(token))
        .build()
        .map_err(|e| StoreError::failed(&e))?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

/// What `file_payout` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOutcome {
    Filed,
    /// Filed already, or no longer payable: nothing written.
    NotPayable,
    /// The claim on the file is no longer ours (taken over after it went stale).
    ClaimLost,
}

pub fn masked_view(m: &MaskedAccount) -> MaskedAccountView {
    MaskedAccountView {
        bank_code: m.bank_code.clone(),
        bank_name: m.bank_name.clone(),
        branch_code: m.branch_code.clone(),
        branch_name: m.branch_name.clone(),
        account_type: m.account_type.clone(),
        number: m.number.clone(),
    }
}

fn payout_item(p: &Payout) -> Result<Item, StoreError> {
    let mut it = payout_key(&p.merchant_id, &p.id);
    let s = |v: &str| item::s(v);
    it.insert("type".into(), s("payout"));
    it.insert("id".into(), s(&p.id));
    it.insert("merchant_id".into(), s(&p.merchant_id));
    it.insert("cycle".into(), s(p.period.cycle.as_str()));
    it.insert("period_start".into(), s(&p.period.start.to_string()));
    it.insert("period_end".into(), s(&p.period.end.to_string()));
    it.insert("pay_date".into(), s(&p.pay_date.to_string()));
    for (k, v) in [
        ("gross", p.gross),
        ("fees", p.fees),
        ("refunds", p.refunds),
        ("net", p.net),
        ("brought_forward", p.brought_forward),
        ("carried_forward", p.carried_forward),
    ] {
        it.insert(k.into(), item::n(v));
    }
    it.insert(
        "bill_count".into(),
        item::n(i64::try_from(p.bill_count).unwrap_or(i64::MAX)),
    );
    it.insert("status".into(), s(p.status.as_str()));
    if let Some(r) = &p.held_reason {
        it.insert("held_reason".into(), s(r));
    }
    if let Some(a) = &p.account {
        it.insert(
            "account".into(),
            s(&serde_json::to_string(a).map_err(|e| StoreError::failed(&e))?),
        );
    }
    if let Some(d) = p.transfer_date {
        it.insert("transfer_date".into(), s(&d.to_string()));
    }
    if let Some(r) = &p.failure_reason {
        it.insert("failure_reason".into(), s(r));
    }
    it.insert("created_at".into(), s(&timestamp(p.created_at)));
    it.insert("updated_at".into(), s(&timestamp(p.updated_at)));
    if let Some(t) = p.paid_at {
        it.insert("paid_at".into(), s(&timestamp(t)));
    }
    it.insert("statement_key".into(), s(&p.statement_key));
    Ok(it)
}

fn payout_of(it: &Item) -> Result<Payout, StoreError> {
    let bad = |f: &'static str| StoreError::failed(&item::Corrupt(f));
    let text = |f: &'static str| get_s(it, f).map(str::to_string).ok_or_else(|| bad(f));
    let day = |f: &'static str| {
        get_s(it, f)
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            .ok_or_else(|| bad(f))
    };
    let time = |f: &'static str| {
        get_s(it, f)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let num = |f: &'static str| get_n(it, f).ok_or_else(|| bad(f));
    let cycle: Cycle = text("cycle")?.parse().map_err(|_| bad("cycle"))?;
    Ok(Payout {
        id: text("id")?,
        merchant_id: text("merchant_id")?,
        period: Period {
            cycle,
            start: day("period_start")?,
            end: day("period_end")?,
        },
        pay_date: day("pay_date")?,
        gross: num("gross")?,
        fees: num("fees")?,
        refunds: num("refunds")?,
        net: num("net")?,
        bill_count: usize::try_from(num("bill_count")?).map_err(|_| bad("bill_count"))?,
        brought_forward: num("brought_forward")?,
        carried_forward: num("carried_forward")?,
        status: PayoutStatus::parse(&text("status")?).ok_or_else(|| bad("status"))?,
        held_reason: get_s(it, "held_reason").map(str::to_string),
        account: get_s(it, "account")
            .map(serde_json::from_str::<MaskedAccountView>)
            .transpose()
            .map_err(|_| bad("account"))?,
        transfer_date: get_s(it, "transfer_date")
            .map(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d"))
            .transpose()
            .map_err(|_| bad("transfer_date"))?,
        failure_reason: get_s(it, "failure_reason").map(str::to_string),
        created_at: time("created_at").ok_or_else(|| bad("created_at"))?,
        updated_at: time("updated_at").ok_or_else(|| bad("updated_at"))?,
        paid_at: time("paid_at"),
        statement_key: text("statement_key")?,
    })
}

fn state_of(it: &Item) -> PayoutState {
    PayoutState {
        version: get_n(it, "version").unwrap_or(0),
        cutoff: get_s(it, "cutoff")
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc)),
        last_end: get_s(it, "last_end").and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()),
        balance: get_n(it, "balance").unwrap_or(0),
    }
}

fn settled_of(it: &Item) -> Result<SettledBill, StoreError> {
    let bad = |f: &'static str| StoreError::failed(&item::Corrupt(f));
    let text = |f: &'static str| get_s(it, f).map(str::to_string).ok_or_else(|| bad(f));
    Ok(SettledBill {
        settled_on: NaiveDate::parse_from_str(&text("settled_on")?, "%Y-%m-%d")
            .map_err(|_| bad("settled_on"))?,
        chain_id: text("chain_id")?,
        store_code: text("store_code")?,
        invoice_id: text("invoice_id")?,
        payment_id: text("payment_id")?,
        merchant_order_id: text("merchant_order_id")?,
        amount: get_n(it, "amount").ok_or_else(|| bad("amount"))?,
        customer_fee: get_n(it, "customer_fee").unwrap_or(0),
        paid_at: DateTime::parse_from_rfc3339(&text("paid_at")?)
            .map_err(|_| bad("paid_at"))?
            .with_timezone(&Utc),
    })
}

fn refund_line_of(it: &Item) -> Result<RefundPaid, StoreError> {
    let bad = |f: &'static str| StoreError::failed(&item::Corrupt(f));
    Ok(RefundPaid {
        paid_on: NaiveDate::parse_from_str(get_s(it, "paid_on").unwrap_or_default(), "%Y-%m-%d")
            .map_err(|_| bad("paid_on"))?,
        refund_id: get_s(it, "refund_id")
            .ok_or_else(|| bad("refund_id"))?
            .to_string(),
        amount: get_n(it, "amount").ok_or_else(|| bad("amount"))?,
    })
}

/// The line of a refund paid at `paid_at`, deducted from the merchant's next payout: in the
/// settled lines' partition, sorted by the same instant.
pub fn refund_line_item(
    merchant_id: &str,
    refund_id: &str,
    amount: i64,
    paid_at: DateTime<Utc>,
) -> Item {
    let mut it = item::key(
        settled_pk(merchant_id),
        format!("{}#{refund_id}", instant(paid_at)),
    );
    it.insert("type".into(), item::s("refund_line"));
    it.insert("refund_id".into(), item::s(refund_id));
    it.insert("amount".into(), item::n(amount));
    it.insert("paid_on".into(), item::s(jst_date(paid_at).to_string()));
    it.insert(
        "expires_at".into(),
        item::n(paid_at.timestamp() + SETTLED_KEEP_SECONDS),
    );
    it
}

/// A conditional update's builder on the main table.
fn update(table: &str, key: Item) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
    Update::builder().table_name(table).set_key(Some(key))
}

fn tx_update(
    u: aws_sdk_dynamodb::types::builders::UpdateBuilder,
) -> Result<TransactWriteItem, StoreError> {
    Ok(TransactWriteItem::builder()
        .update(u.build().map_err(|e| StoreError::failed(&e))?)
        .build())
}

pub(crate) fn tx_put(table: &str, it: Item) -> Result<TransactWriteItem, StoreError> {
    Ok(TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(table)
                .set_item(Some(it))
                .build()
                .map_err(|e| StoreError::failed(&e))?,
        )
        .build())
}

pub(crate) fn tx_delete(table: &str, key: Item) -> Result<TransactWriteItem, StoreError> {
    Ok(TransactWriteItem::builder()
        .delete(
            Delete::builder()
                .table_name(table)
                .set_key(Some(key))
                .build()
                .map_err(|e| StoreError::failed(&e))?,
        )
        .build())
}

fn encode_cursor(id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("payouts:{id}"))
}

fn decode_cursor(cursor: &str) -> Option<String> {
    if cursor.len() > 64 {
        return None;
    }
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let id = String::from_utf8(raw)
        .ok()?
        .strip_prefix("payouts:")?
        .to_string();
    is_payout_id(&id).then_some(id)
}

/// A page of a merchant's payouts.
#[derive(Debug, Clone)]
pub struct PayoutPage {
    pub payouts: Vec<Payout>,
    pub next_cursor: Option<String>,
}

impl Db {
    /// The merchant's payout setting; the default (month end, 5 business days) if none is set.
    pub async fn payout_setting(&self, merchant_id: &str) -> Result<PayoutSetting, StoreError> {
        let found = self
            .read(&self.res.main_table, setting_key(merchant_id))
            .await?;
        setting_of(found.as_ref())
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

    /// A settled bill's line, for the settlement's transaction: the bill as the payment paid it
    /// (`invoice` when it was read; else the payment's line alone).
    pub(crate) fn settled_line_put(
        &self,
        payment: &Payment,
        line: &PaymentLine,
        invoice: Option<&Invoice>,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        // What this payment collected (a repeat bill's terms may have changed since).
        let (order, amount, fee) = match invoice {
            Some(inv) => {
                let (amount, fee) = inv.collected_by(&payment.id);
                (inv.merchant_order_id.clone(), amount, fee)
            }
            None => (String::new(), line.amount, 0),
        };
        let bill = SettledBill {
            settled_on: jst_date(now),
            chain_id: payment.chain_id.clone(),
            store_code: payment.store_code.clone(),
            invoice_id: line.invoice_id.clone(),
            payment_id: payment.id.clone(),
            merchant_order_id: order,
            amount,
            customer_fee: fee,
            paid_at: payment.created_at,
        };
        put_new(
            &self.res.main_table,
            settled_line_item(&line.merchant_id, &bill, now),
            "pk",
        )
    }

    /// The merchant's payout state (consistent); the default when none is stored.
    pub async fn payout_state(&self, merchant_id: &str) -> Result<PayoutState, StoreError> {
        Ok(self
            .read(&self.res.main_table, state_key(merchant_id))
            .await?
            .as_ref()
            .map(state_of)
            .unwrap_or_default())
    }

    /// The lines of a merchant's next payout: bills settled and refunds paid after `after` up
    /// to `through` (one partition, sorted by instant: one consistent query per 1 MB).
    pub async fn period_lines(
        &self,
        merchant_id: &str,
        after: Option<DateTime<Utc>>,
        through: DateTime<Utc>,
    ) -> Result<(Vec<SettledBill>, Vec<RefundPaid>), StoreError> {
        // `$` sorts after `#`: lines at exactly `after` are left out, those at `through` in;
        // with no `after`, from the first (a key may not be empty: "0" is before any instant).
        let low = after
            .map(|t| format!("{}$", instant(t)))
            .unwrap_or_else(|| "0".into());
        let high = format!("{}#~", instant(through));
        let query = self
            .client
            .query()
            .table_name(&self.res.main_table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
            .expression_attribute_values(":pk", av_s(&settled_pk(merchant_id)))
            .expression_attribute_values(":low", av_s(&low))
            .expression_attribute_values(":high", av_s(&high))
            .consistent_read(true);
        let mut bills = Vec::new();
        let mut refunds = Vec::new();
        for it in self.query_all(query).await? {
            if get_s(&it, "type") == Some("refund_line") {
                refunds.push(refund_line_of(&it)?);
            } else {
                bills.push(settled_of(&it)?);
            }
        }
        Ok((bills, refunds))
    }

    /// The bills of `period_lines`.
    pub async fn settled_bills(
        &self,
        merchant_id: &str,
        after: Option<DateTime<Utc>>,
        through: DateTime<Utc>,
    ) -> Result<Vec<SettledBill>, StoreError> {
        Ok(self.period_lines(merchant_id, after, through).await?.0)
    }

    /// Every merchant's id, from the directory. One consistent query a page.
    pub async fn merchant_ids(&self) -> Result<Vec<String>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.res.main_table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", av_s(DIRECTORY_PK))
            .projection_expression("sk")
            .consistent_read(true);
        Ok(self
            .query_all(query)
            .await?
            .iter()
            .filter_map(|it| get_s(it, "sk").map(str::to_string))
            .collect())
    }

    /// Puts every onboarded merchant in the directory (once, for merchants onboarded before it
    /// existed): a `Scan` of the merchants' items, page by page, and a conditional `PutItem`
    /// for each one missing. Answers how many it added.
    pub async fn backfill_merchant_directory(&self) -> Result<usize, StoreError> {
        let scan = self
            .client
            .scan()
            .table_name(&self.res.main_table)
            .filter_expression("sk = :hash AND begins_with(pk, :mer) AND #type = :merchant")
            .expression_attribute_names("#type", "type")
            .expression_attribute_values(":hash", av_s("#"))
            .expression_attribute_values(":mer", av_s("MER#"))
            .expression_attribute_values(":merchant", av_s("merchant"))
            .projection_expression("pk");
        let mut start: Option<Item> = None;
        let mut added = 0;
        loop {
            let page = scan.clone().set_exclusive_start_key(start).send().await?;
            for it in page.items() {
                let Some(id) = get_s(it, "pk").and_then(|pk| pk.strip_prefix("MER#")) else {
                    continue;
                };
                let mut entry = item::key(DIRECTORY_PK, id);
                entry.insert("type".into(), item::s("merchant_entry"));
                let res = self
                    .client
                    .put_item()
                    .table_name(&self.res.main_table)
                    .set_item(Some(entry))
                    .condition_expression("attribute_not_exists(pk)")
                    .send()
                    .await;
                if super::applied(res)? {
                    added += 1;
                }
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(added);
            }
        }
    }

    /// Name, setting, fees, state and masked account of each merchant: 5 keys a merchant, one
    /// `BatchGetItem` per 20 merchants (consistent). A merchant not onboarded is left out.
    pub async fn payout_inputs(
        &self,
        merchant_ids: &[String],
    ) -> Result<Vec<PayoutInputs>, StoreError> {
        let mut out = Vec::with_capacity(merchant_ids.len());
        for chunk in merchant_ids.chunks(MAX_BATCH_KEYS / 5) {
            let mut keys = Vec::with_capacity(chunk.len() * 5);
            for m in chunk {
                keys.push(item::key(merchant_pk(m), "#"));
                keys.push(setting_key(m));
                keys.push(item::key(merchant_pk(m), "FEES"));
                keys.push(state_key(m));
                keys.push(item::key(merchant_pk(m), "BANK_ACCOUNT"));
            }
            let mut found: HashMap<(String, String), Item> = HashMap::new();
            for it in self.batch_read(keys).await? {
                let pk = get_s(&it, "pk").unwrap_or_default().to_string();
                let sk = get_s(&it, "sk").unwrap_or_default().to_string();
                found.insert((pk, sk), it);
            }
            for m in chunk {
                let pk = merchant_pk(m);
                let get = |sk: &str| found.get(&(pk.clone(), sk.to_string()));
                let Some(name) = get("#").and_then(|it| get_s(it, "name")) else {
                    continue;
                };
                let fees = get("FEES")
                    .and_then(|it| get_s(it, "schedule"))
                    .and_then(|s| serde_json::from_str(s).ok())
                    .unwrap_or_default();
                out.push(PayoutInputs {
                    merchant_id: m.clone(),
                    merchant_name: name.to_string(),
                    setting: setting_of(get("PAYOUT_SETTING"))?,
                    fees,
                    state: get("PAYOUT_STATE").map(state_of).unwrap_or_default(),
                    account: get("BANK_ACCOUNT")
                        .and_then(super::bank_accounts::masked_of)
                        .map(|m| masked_view(&m)),
                });
            }
        }
        Ok(out)
    }

    /// Writes a new payout in one transaction: the payout (only if none of that close exists),
    /// the merchant's new state (only if still at `state.version`), its `payout.created` event
    /// and what the transfer file reads (`PAYDUE#` for a scheduled one, `PAYHELD` for a held
    /// one).
    pub async fn create_payout(
        &self,
        payout: &Payout,
        read_state: &PayoutState,
        new_state: &PayoutState,
        cutoff: DateTime<Utc>,
        event: &Event,
    ) -> Result<CreateOutcome, StoreError> {
        let table = &self.res.main_table;
        let mut state = state_key(&payout.merchant_id);
        state.insert("type".into(), item::s("payout_state"));
        state.insert("version".into(), item::n(new_state.version));
        state.insert("cutoff".into(), item::s(timestamp(cutoff)));
        state.insert("last_end".into(), item::s(payout.period.end.to_string()));
        state.insert("balance".into(), item::n(new_state.balance));
        state.insert("last_payout".into(), item::s(&payout.id));
        let state_put = Put::builder()
            .table_name(table)
            .set_item(Some(state))
            .condition_expression("attribute_not_exists(pk) OR version = :v")
            .expression_attribute_values(":v", item::n(read_state.version))
            .build()
            .map_err(|e| StoreError::failed(&e))?;
        let mut items = vec![
            put_new(table, payout_item(payout)?, "pk")?,
            TransactWriteItem::builder().put(state_put).build(),
            self.event_put(event)?,
        ];
        match payout.status {
            PayoutStatus::Scheduled => {
                let mut due = due_key(payout.pay_date, &payout.id);
                due.insert("merchant_id".into(), item::s(&payout.merchant_id));
                items.push(tx_put(table, due)?);
            }
            PayoutStatus::Held => {
                let mut held = item::key(HELD_PK, &payout.id);
                held.insert("merchant_id".into(), item::s(&payout.merchant_id));
                items.push(tx_put(table, held)?);
            }
            _ => {}
        }
        let res = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match res {
            Ok(_) => Ok(CreateOutcome::Created),
            Err(e) => match cancellation_codes(&e) {
                Some(codes) if codes.first().is_some_and(|c| c == "ConditionalCheckFailed") => {
                    Ok(CreateOutcome::Exists)
                }
                Some(_) => Ok(CreateOutcome::StateChanged),
                None => Err(e.into()),
            },
        }
    }

    /// A merchant's payout, or `None` (another merchant's is `None` too). One consistent read.
    pub async fn get_payout(
        &self,
        merchant_id: &str,
        id: &str,
    ) -> Result<Option<Payout>, StoreError> {
        if !is_payout_id(id) {
            return Ok(None);
        }
        self.read(&self.res.main_table, payout_key(merchant_id, id))
            .await?
            .as_ref()
            .map(payout_of)
            .transpose()
    }

    /// The merchant's payouts, newest close first, `limit` a page.
    pub async fn list_payouts(
        &self,
        merchant_id: &str,
        cursor: Option<&str>,
        limit: i32,
    ) -> Result<PayoutPage, StoreError> {
        let pk = merchant_pk(merchant_id);
        let start = match cursor {
            None => None,
            Some(c) => {
                let id = decode_cursor(c).ok_or(Refusal::InvalidCursor {
                    with_status_filter: false,
                })?;
                Some(payout_key(merchant_id, &id))
            }
        };
        let out = self
            .client
            .query()
            .table_name(&self.res.main_table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :payout)")
            .expression_attribute_values(":pk", av_s(&pk))
            .expression_attribute_values(":payout", av_s("PAYOUT#"))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        let payouts = out
            .items()
            .iter()
            .map(payout_of)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = out
            .last_evaluated_key()
            .and_then(|k| get_s(k, "sk"))
            .and_then(|sk| sk.strip_prefix("PAYOUT#"))
            .map(encode_cursor);
        Ok(PayoutPage {
            payouts,
            next_cursor,
        })
    }

    /// The payouts to put in the transfer file of `day` (merchant and payout ids): those due on
    /// or before it and not filed, and those held.
    pub async fn payouts_to_file(
        &self,
        day: NaiveDate,
    ) -> Result<(Vec<(String, String)>, Vec<(String, String)>), StoreError> {
        let due = self
            .client
            .query()
            .table_name(&self.res.main_table)
            .key_condition_expression("pk = :pk AND sk <= :last")
            .expression_attribute_values(":pk", av_s(DUE_PK))
            // '~' sorts after every character of a payout id.
            .expression_attribute_values(":last", av_s(&format!("{day}#~")))
            .consistent_read(true);
        let held = self
            .client
            .query()
            .table_name(&self.res.main_table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", av_s(HELD_PK))
            .consistent_read(true);
        let ids = |items: Vec<Item>| {
            items
                .iter()
                .filter_map(|it| {
                    let sk = get_s(it, "sk")?;
                    Some((
                        get_s(it, "merchant_id")?.to_string(),
                        sk.rsplit('#').next()?.to_string(),
                    ))
                })
                .collect::<Vec<_>>()
        };
        Ok((
            ids(self.query_all(due).await?),
            ids(self.query_all(held).await?),
        ))
    }

    /// Claims the transfer file of `day` for one `transfers file` (`token`): where none was
    /// made, or a claim older than `stale_before` was left by one that stopped.
    pub async fn claim_transfer(
        &self,
        day: NaiveDate,
        token: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<TransferClaim, StoreError> {
        let mut it = transfer_key(day);
        it.insert("type".into(), item::s("transfer_file"));
        it.insert("status".into(), item::s(TransferStatus::Making.as_str()));
        it.insert("token".into(), item::s(token));
        it.insert("claimed_at".into(), item::s(timestamp(now)));
        let res = self
            .client
            .put_item()
            .table_name(&self.res.main_table)
            .set_item(Some(it))
            .condition_expression(
                "attribute_not_exists(pk) OR (#status = :making AND claimed_at < :stale)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":making", av_s(TransferStatus::Making.as_str()))
            .expression_attribute_values(":stale", av_s(&timestamp(stale_before)))
            .send()
            .await;
        if super::applied(res)? {
            return Ok(TransferClaim::Claimed);
        }
        Ok(match self.transfer_record(day).await? {
            Some(rec) if rec.status != TransferStatus::Making => TransferClaim::Made(rec),
            Some(rec) => TransferClaim::Busy(rec.claimed_at),
            None => TransferClaim::Busy(timestamp(now)),
        })
    }

    /// Lets go of a claim that made no file (nothing to transfer, or it failed on the way):
    /// what it filed stays in the day's partition, and the next claim's file holds it.
    pub async fn release_transfer(&self, day: NaiveDate, token: &str) -> Result<(), StoreError> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.res.main_table)
            .set_key(Some(transfer_key(day)))
            .condition_expression("#status = :making AND #token = :token")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":making", av_s(TransferStatus::Making.as_str()))
            .expression_attribute_values(":token", av_s(token))
            .send()
            .await;
        super::applied(res).map(|_| ())
    }

    /// Puts a payout in the transfer file of `day`, under the claim `token`: a scheduled one
    /// due by then, or a held one whose merchant now has an account (it becomes scheduled for
    /// `day`, with that account). One transaction: the payout, its entry in the file, its
    /// due or held entry gone, the claim checked.
    pub async fn file_payout(
        &self,
        payout: &Payout,
        account: &MaskedAccountView,
        day: NaiveDate,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<FileOutcome, StoreError> {
        let table = &self.res.main_table;
        let mut filed = filed_key(day, &payout.id);
        filed.insert("merchant_id".into(), item::s(&payout.merchant_id));
        filed.insert("amount".into(), item::n(payout.net));
        let listed = if payout.status == PayoutStatus::Held {
            item::key(HELD_PK, &payout.id)
        } else {
            due_key(payout.pay_date, &payout.id)
        };
        let items = vec![
            claim_check(table, day, token)?,
            tx_update(
                update(table, payout_key(&payout.merchant_id, &payout.id))
                    .update_expression(
                        "SET transfer_date = :day, pay_date = :day, #status = :scheduled, \
                         account = :account, updated_at = :now REMOVE held_reason",
                    )
                    .condition_expression(
                        "(#status = :scheduled OR #status = :held) AND attribute_not_exists(transfer_date)",
                    )
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":day", av_s(&day.to_string()))
                    .expression_attribute_values(":scheduled", av_s("scheduled"))
                    .expression_attribute_values(":held", av_s("held"))
                    .expression_attribute_values(
                        ":account",
                        av_s(&serde_json::to_string(account).map_err(|e| StoreError::failed(&e))?),
                    )
                    .expression_attribute_values(":now", av_s(&timestamp(now))),
            )?,
            tx_put(table, filed)?,
            tx_delete(table, listed)?,
        ];
        self.file_under_claim(items).await
    }

    /// The payouts in the transfer file of `day` (merchant and payout ids, by id).
    pub async fn filed_payouts(&self, day: NaiveDate) -> Result<Vec<(String, String)>, StoreError> {
        self.filed_entries(day, "PAYOUT#", "merchant_id").await
    }

    /// The entries of the transfer file of `day` whose key starts `prefix` (`PAYOUT#`,
    /// `REFUND#`): the `parent` attribute of each and its id, by id. One consistent query.
    pub(crate) async fn filed_entries(
        &self,
        day: NaiveDate,
        prefix: &str,
        parent: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.res.main_table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", av_s(&transfer_pk(day)))
            .expression_attribute_values(":prefix", av_s(prefix))
            .consistent_read(true);
        let mut ids: Vec<(String, String)> = self
            .query_all(query)
            .await?
            .iter()
            .filter_map(|it| {
                Some((
                    get_s(it, parent)?.to_string(),
                    get_s(it, "sk")?.strip_prefix(prefix)?.to_string(),
                ))
            })
            .collect();
        ids.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(ids)
    }

    /// Runs a filing transaction whose first item checks the day's claim.
    pub(crate) async fn file_under_claim(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<FileOutcome, StoreError> {
        let res = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match res {
            Ok(_) => Ok(FileOutcome::Filed),
            Err(e) => match cancellation_codes(&e) {
                Some(codes) if codes.first().is_some_and(|c| c == "ConditionalCheckFailed") => {
                    Ok(FileOutcome::ClaimLost)
                }
                Some(_) => Ok(FileOutcome::NotPayable),
                None => Err(e.into()),
            },
        }
    }

    /// Marks a filed payout paid, with its `payout.paid` event. `Ok(false)`: it was not
    /// scheduled in that day's file (confirmed before, or never filed).
    pub async fn mark_payout_paid(
        &self,
        payout: &Payout,
        day: NaiveDate,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let u = update(
            &self.res.main_table,
            payout_key(&payout.merchant_id, &payout.id),
        )
        .update_expression("SET #status = :paid, paid_at = :now, updated_at = :now")
        .condition_expression("#status = :scheduled AND transfer_date = :day")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":paid", av_s("paid"))
        .expression_attribute_values(":scheduled", av_s("scheduled"))
        .expression_attribute_values(":day", av_s(&day.to_string()))
        .expression_attribute_values(":now", av_s(&timestamp(now)))
        .build()
        .map_err(|e| StoreError::failed(&e))?;
        self.update_with_event(u, event).await
    }

    /// Marks a filed payout failed: its net goes back to the merchant's balance (paid with the
    /// next payout), with its `payout.failed` event, in one transaction. `Ok(false)`: not
    /// scheduled in that day's file; `Err(Unavailable)` after the state kept changing.
    pub async fn mark_payout_failed(
        &self,
        payout: &Payout,
        day: NaiveDate,
        reason: &str,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let table = &self.res.main_table;
        for _ in 0..5 {
            let state = self
                .read(table, state_key(&payout.merchant_id))
                .await?
                .as_ref()
                .map(state_of)
                .unwrap_or_default();
            let items = vec![
                tx_update(
                    update(table, payout_key(&payout.merchant_id, &payout.id))
                        .update_expression(
                            "SET #status = :failed, failure_reason = :reason, updated_at = :now",
                        )
                        .condition_expression("#status = :scheduled AND transfer_date = :day")
                        .expression_attribute_names("#status", "status")
                        .expression_attribute_values(":failed", av_s("failed"))
                        .expression_attribute_values(":scheduled", av_s("scheduled"))
                        .expression_attribute_values(":day", av_s(&day.to_string()))
                        .expression_attribute_values(":reason", av_s(reason))
                        .expression_attribute_values(":now", av_s(&timestamp(now))),
                )?,
                tx_update(
                    update(table, state_key(&payout.merchant_id))
                        .update_expression("SET balance = :balance, version = :next, #type = :type")
                        .condition_expression("attribute_not_exists(pk) OR version = :v")
                        .expression_attribute_names("#type", "type")
                        .expression_attribute_values(":type", av_s("payout_state"))
                        .expression_attribute_values(
                            ":balance",
                            item::n(state.balance + payout.net),
                        )
                        .expression_attribute_values(":next", item::n(state.version + 1))
                        .expression_attribute_values(":v", item::n(state.version)),
                )?,
                self.event_put(event)?,
            ];
            let res = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            match res {
                Ok(_) => return Ok(true),
                Err(e) => match cancellation_codes(&e) {
                    Some(codes) if codes.first().is_some_and(|c| c == "ConditionalCheckFailed") => {
                        return Ok(false)
                    }
                    Some(_) => continue,
                    None => return Err(e.into()),
                },
            }
        }
        Err(StoreError::unavailable(
            &"the merchant's payout state kept changing",
        ))
    }

    /// The record of the transfer file of `day`, if one was claimed.
    pub async fn transfer_record(
        &self,
        day: NaiveDate,
    ) -> Result<Option<TransferRecord>, StoreError> {
        Ok(self
            .read(&self.res.main_table, transfer_key(day))
            .await?
            .map(|it| {
                let text = |name: &str| get_s(&it, name).unwrap_or_default().to_string();
                TransferRecord {
                    day,
                    status: TransferStatus::parse(get_s(&it, "status").unwrap_or_default()),
                    count: get_n(&it, "count").unwrap_or(0),
                    total: get_n(&it, "total").unwrap_or(0),
                    s3_key: text("s3_key"),
                    digest: text("digest"),
                    token: text("token"),
                    claimed_at: text("claimed_at"),
                }
            }))
    }

    /// Marks the file made (its count, total, S3 copy and digest), if the claim is still ours.
    pub async fn finish_transfer(
        &self,
        rec: &TransferRecord,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.res.main_table)
            .set_key(Some(transfer_key(rec.day)))
            .update_expression(
                "SET #status = :filed, #count = :count, #total = :total, s3_key = :key, \
                 digest = :digest, updated_at = :now",
            )
            .condition_expression("#status = :making AND #token = :token")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#token", "token")
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#total", "total")
            .expression_attribute_values(":filed", av_s(TransferStatus::Filed.as_str()))
            .expression_attribute_values(":making", av_s(TransferStatus::Making.as_str()))
            .expression_attribute_values(":token", av_s(&rec.token))
            .expression_attribute_values(":count", item::n(rec.count))
            .expression_attribute_values(":total", item::n(rec.total))
            .expression_attribute_values(":key", av_s(&rec.s3_key))
            .expression_attribute_values(":digest", av_s(&rec.digest))
            .expression_attribute_values(":now", av_s(&timestamp(now)))
            .send()
            .await;
        super::applied(res)
    }

    /// Marks a made file confirmed (once).
    pub async fn confirm_transfer(
        &self,
        day: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.res.main_table)
            .set_key(Some(transfer_key(day)))
            .update_expression("SET #status = :confirmed, updated_at = :now")
            .condition_expression("#status = :filed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":confirmed", av_s(TransferStatus::Confirmed.as_str()))
            .expression_attribute_values(":filed", av_s(TransferStatus::Filed.as_str()))
            .expression_attribute_values(":now", av_s(&timestamp(now)))
            .send()
            .await;
        super::applied(res)
    }
}

/// The item of a bill settled at `settled_at` (its `settled_on` is that instant's JST day).
pub fn settled_line_item(merchant_id: &str, bill: &SettledBill, settled_at: DateTime<Utc>) -> Item {
    let mut it = item::key(
        settled_pk(merchant_id),
        format!(
            "{}#{}#{}",
            instant(settled_at),
            bill.payment_id,
            bill.invoice_id
        ),
    );
    it.insert("type".into(), item::s("settled_line"));
    it.insert("settled_on".into(), item::s(bill.settled_on.to_string()));
    it.insert("chain_id".into(), item::s(&bill.chain_id));
    it.insert("store_code".into(), item::s(&bill.store_code));
    it.insert("invoice_id".into(), item::s(&bill.invoice_id));
    it.insert("payment_id".into(), item::s(&bill.payment_id));
    it.insert("merchant_order_id".into(), item::s(&bill.merchant_order_id));
    it.insert("amount".into(), item::n(bill.amount));
    it.insert("customer_fee".into(), item::n(bill.customer_fee));
    it.insert("paid_at".into(), item::s(timestamp(bill.paid_at)));
    it.insert(
        "expires_at".into(),
        item::n(settled_at.timestamp() + SETTLED_KEEP_SECONDS),
    );
    it
}

fn setting_of(found: Option<&Item>) -> Result<PayoutSetting, StoreError> {
    let Some(it) = found else {
        return Ok(PayoutSetting::default());
    };
    let cycle: Cycle = get_s(it, "cycle")
        .unwrap_or_default()
        .parse()
        .map_err(|e: String| StoreError::failed(&e))?;
    let days = get_n(it, "pay_after_business_days")
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| StoreError::failed(&"payout setting without its business days"))?;
    PayoutSetting::new(cycle, days).map_err(|e| StoreError::failed(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_payout_ids_and_nothing_else() {
        let id = crate::payout::payout_id("m", NaiveDate::from_ymd_opt(2026, 11, 30).expect("day"));
        assert_eq!(decode_cursor(&encode_cursor(&id)), Some(id));
        assert_eq!(decode_cursor(&encode_cursor("PAYOUT#x")), None);
        assert_eq!(decode_cursor("not base64!"), None);
        assert_eq!(
            decode_cursor(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("po_1")),
            None
        );
    }

    #[test]
    fn a_settled_line_reads_back_as_the_bill_it_was() {
        let t = DateTime::parse_from_rfc3339("2026-12-04T15:30:00Z")
            .expect("t")
            .with_timezone(&Utc);
        let bill = SettledBill {
            settled_on: jst_date(t),
            chain_id: "lawson".into(),
            store_code: "L1".into(),
            invoice_id: "inv_x".into(),
            payment_id: "pay_y".into(),
            merchant_order_id: "o-1".into(),
            amount: 1_000,
            customer_fee: 100,
            paid_at: t,
        };
        let it = settled_line_item("m", &bill, t);
        assert_eq!(settled_of(&it).expect("reads"), bill);
        // 00:30 JST the next day: the JST day, not UTC's.
        assert_eq!(bill.settled_on.to_string(), "2026-12-05");
        assert_eq!(get_s(&it, "pk"), Some("MER#m#SETTLED"));
    }

    #[test]
    fn settled_lines_sort_by_the_instant_they_were_settled() {
        let t = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("t")
                .with_timezone(&Utc)
        };
        let a = instant(t("2026-12-04T09:00:00Z"));
        let b = instant(t("2026-12-04T10:00:00.5Z"));
        assert!(a < b && a.len() == b.len(), "{a} {b}");
        assert!(format!("{a}#pay_x#inv_y") < format!("{a}$"));
        assert!(format!("{a}#pay_x#inv_y") < format!("{a}#~"));
    }
}
