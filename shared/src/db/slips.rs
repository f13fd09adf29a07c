//! Kiosk slips (申込券): a kiosk prints a slip for the bills the customer chose; the register
//! must take the cash within 30 minutes. While the slip holds them, the bills are offered to
//! no other store, cannot be paid without the slip, cancelled or changed, and the slip's
//! payment succeeds even if their deadline passed meanwhile.

use super::error::StoreError;
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::item;
use super::{av_s, cancellation_codes, put_new, Db};
use super::{invoice_sk, number_pk, timestamp};
use crate::ids::{base32, random_bytes, InvoiceId};
use crate::invoice::InvoiceStatus;

/// How long a slip holds its bills.
pub const SLIP_HOLD_SECONDS: i64 = 30 * 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slip {
    pub id: String,
    pub chain_id: String,
    pub store_code: String,
    pub invoice_ids: Vec<String>,
    /// What the register collects: the bills' totals, fees included.
    pub amount: i64,
    /// Unix seconds.
    pub hold_until: i64,
}

pub enum SlipOutcome {
    Printed(Slip),
    /// A copy of the same request (same chain, store and bills) while its slip holds them
    /// (one more read, of the slip, to be sure it is the same).
    Replayed(Slip),
    UnknownInvoice(String),
    NotPayable {
        invoice_id: String,
        status: InvoiceStatus,
    },
    Held {
        invoice_id: String,
        until: i64,
    },
}

const ATTEMPTS: usize = 3;

impl Db {
    /// One consistent read of a slip.
    pub async fn get_slip(&self, id: &str) -> Result<Option<Slip>, StoreError> {
        let found = self
            .read(&self.res.main_table, item::key(format!("SLIP#{id}"), "#"))
            .await?;
        Ok(found.map(|it| Slip {
            id: id.to_string(),
            chain_id: item::get_s(&it, "chain_id").unwrap_or_default().to_string(),
            store_code: item::get_s(&it, "store_code")
                .unwrap_or_default()
                .to_string(),
            invoice_ids: item::get_list_s(&it, "invoice_ids"),
            amount: item::get_n(&it, "amount").unwrap_or(0),
            hold_until: item::get_n(&it, "hold_until").unwrap_or(0),
        }))
    }

    /// Holds the bills for a new slip. One batch read, one transaction (the slip and a
    /// conditional hold on each bill: registered, before its deadline, not held).
    pub async fn print_slip(
        &self,
        chain_id: &str,
        store_code: &str,
        ids: &[InvoiceId],
        now: DateTime<Utc>,
    ) -> Result<SlipOutcome, StoreError> {
        for _ in 0..ATTEMPTS {
            let invoices = self.get_invoices_by_id(ids).await?;
            let mut amount = 0;
            let mut holds = Vec::new();
            for id in ids {
                let Some(inv) = invoices.get(id.as_str()) else {
                    return Ok(SlipOutcome::UnknownInvoice(id.to_string()));
                };
                if let Some(h) = inv.held_at(now) {
                    holds.push(h.clone());
                    continue;
                }
                if !inv.is_payable_at(now) {
                    return Ok(SlipOutcome::NotPayable {
                        invoice_id: id.to_string(),
                        status: inv.status_at(now),
                    });
                }
                amount += inv.total();
            }
            if let Some(first) = holds.first() {
                // Every bill held by one slip of this chain: a re-sent print of that slip.
                let same = holds.len() == ids.len()
                    && holds
                        .iter()
                        .all(|h| h.slip_id == first.slip_id && h.chain_id == chain_id);
                if same {
                    if let Some(slip) = self.get_slip(&first.slip_id).await? {
                        let mut wanted: Vec<String> = ids.iter().map(ToString::to_string).collect();
                        let mut printed = slip.invoice_ids.clone();
                        wanted.sort_unstable();
                        printed.sort_unstable();
                        if wanted == printed && slip.store_code == store_code {
                            return Ok(SlipOutcome::Replayed(slip));
                        }
                    }
                }
                let held = ids
                    .iter()
                    .find(|id| {
                        invoices
                            .get(id.as_str())
                            .and_then(|i| i.held_at(now))
                            .is_some()
                    })
                    .map(ToString::to_string)
                    .unwrap_or_default();
                return Ok(SlipOutcome::Held {
                    invoice_id: held,
                    until: first.until,
                });
            }
            let slip = Slip {
                id: format!("slp_{}", base32(&random_bytes::<10>())),
                chain_id: chain_id.to_string(),
                store_code: store_code.to_string(),
                invoice_ids: ids.iter().map(ToString::to_string).collect(),
                amount,
                hold_until: now.timestamp() + SLIP_HOLD_SECONDS,
            };
            let mut record = item::key(format!("SLIP#{}", slip.id), "#");
            record.insert("type".into(), item::s("slip"));
            record.insert("chain_id".into(), item::s(chain_id));
            record.insert("store_code".into(), item::s(store_code));
            record.insert(
                "invoice_ids".into(),
                aws_sdk_dynamodb::types::AttributeValue::L(
                    slip.invoice_ids.iter().map(item::s).collect(),
                ),
            );
            record.insert("amount".into(), item::n(amount));
            record.insert("hold_until".into(), item::n(slip.hold_until));
            record.insert("created_at".into(), item::s(timestamp(now)));
            record.insert("expires_at".into(), item::n(now.timestamp() + 90 * 86_400));
            let mut items = vec![put_new(&self.res.main_table, record, "pk")?];
            for id in ids {
                let update = Update::builder()
                    .table_name(&self.res.main_table)
                    .set_key(Some(item::key(number_pk(id.number()), invoice_sk(id))))
                    .update_expression(
                        "SET hold_slip = :slip, hold_chain = :chain, hold_until = :until",
                    )
                    .condition_expression(
                        "#status = :registered AND deadline >= :now \
                         AND (attribute_not_exists(hold_until) OR hold_until < :now)",
                    )
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":registered", av_s("registered"))
                    .expression_attribute_values(":now", item::n(now.timestamp()))
                    .expression_attribute_values(":slip", av_s(&slip.id))
                    .expression_attribute_values(":chain", av_s(chain_id))
                    .expression_attribute_values(":until", item::n(slip.hold_until))
                    .build()
                    .map_err(|e| StoreError::failed(&e))?;
                items.push(TransactWriteItem::builder().update(update).build());
            }
            match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
            {
                Ok(_) => return Ok(SlipOutcome::Printed(slip)),
                Err(e) if cancellation_codes(&e).is_some() => {
                    // A bill was held, paid or cancelled meanwhile: read again and say which.
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::unavailable(
            &"the slip kept conflicting with concurrent writes",
        ))
    }
}
