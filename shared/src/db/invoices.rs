//! Invoices: registration (one transaction), reads by id (one consistent read), a merchant's
//! listing (one GSI query a page), cancellation (one conditional update) and the store's
//! lookup by number (one strongly consistent query).

use super::error::{Refusal, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::idempotency::Lock;
use super::item::{self, get_s, Item};
use super::{av_s, cancellation_codes, put_new, Db};
use super::{invoice_sk, merchant_pk, merchant_status_pk, number_pk, timestamp};
use crate::clock::jst_day_start;
use crate::ids::InvoiceId;
use crate::invoice::{Invoice, InvoiceFilter, InvoiceStatus};
use crate::number::SmartPitNumber;
use crate::webhook::{Event, EventType};

/// Queries one page of a filtered listing may take before it ends early (with its cursor).
pub const LISTING_QUERIES: usize = 10;
/// Bills a filtered listing's query reads at once.
const FILTERED_PAGE: i32 = 100;

/// The merchant's listing a page of bills is read as: its index's key names and the key
/// (the merchant's, or the merchant's in a status), and the sort key's range.
struct Listing<'a> {
    pk_name: &'static str,
    sk_name: &'static str,
    pk: &'a str,
    low: &'a str,
    high: &'a str,
}

pub enum RegisterOutcome {
    Registered,
    /// The condition of the `extra` item at this index failed (e.g. a freshly drawn sheet
    /// number was taken): nothing was written; draw again.
    ExtraConflict(usize),
    /// The merchant already has an invoice with this order id.
    DuplicateOrder {
        existing_invoice_id: Option<String>,
    },
}

pub struct InvoicePage {
    pub invoices: Vec<Invoice>,
    pub next_cursor: Option<String>,
}

/// A kiosk slip holds the bill while the customer pays at the register.
fn in_progress(inv: &Invoice, until: i64) -> StoreError {
    Refusal::PaymentInProgress {
        invoice_id: inv.id.to_string(),
        until: DateTime::from_timestamp(until, 0),
    }
    .into()
}

fn corrupt(e: item::Corrupt) -> StoreError {
    StoreError::failed(&e)
}

fn order_key(merchant_id: &str, order_id: &str) -> Item {
    item::key(merchant_pk(merchant_id), format!("ORDER#{order_id}"))
}

impl Db {
    /// Writes the invoice, claims its order id and stores the idempotent response, all or
    /// nothing, plus any `extra` items of the same registration (the outbox). One transaction.
    pub async fn register_invoice(
        &self,
        invoice: &Invoice,
        lock: &Lock,
        response_status: u16,
        response_body: &str,
        extra: Vec<TransactWriteItem>,
    ) -> Result<RegisterOutcome, StoreError> {
        let mut order = order_key(&invoice.merchant_id, &invoice.merchant_order_id);
        order.insert("type".into(), item::s("order"));
        order.insert("invoice_id".into(), item::s(invoice.id.as_str()));
        let mut items = vec![
            put_new(&self.res.main_table, invoice.to_item(), "pk")?,
            put_new(&self.res.main_table, order, "pk")?,
            self.complete_idempotency_key(lock, response_status, response_body)?,
        ];
        items.extend(extra);
        let res = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match res {
            Ok(_) => Ok(RegisterOutcome::Registered),
            Err(e) => match cancellation_codes(&e) {
                Some(codes) if codes.get(1).is_some_and(|c| c == "ConditionalCheckFailed") => {
                    let key = order_key(&invoice.merchant_id, &invoice.merchant_order_id);
                    let existing = self.read(&self.res.main_table, key).await?;
                    let existing_invoice_id = existing
                        .as_ref()
                        .and_then(|i| get_s(i, "invoice_id"))
                        .map(str::to_string);
                    // The order is claimed by this very invoice: an earlier attempt of this
                    // transaction (timed out on our side) was applied after all.
                    if existing_invoice_id.as_deref() == Some(invoice.id.as_str()) {
                        return Ok(RegisterOutcome::Registered);
                    }
                    Ok(RegisterOutcome::DuplicateOrder {
                        existing_invoice_id,
                    })
                }
                Some(codes) if codes.get(2).is_some_and(|c| c == "ConditionalCheckFailed") => {
                    Err(Refusal::KeyInUse { taken_over: true }.into())
                }
                Some(codes) if codes.iter().skip(3).any(|c| c == "ConditionalCheckFailed") => {
                    let i = codes
                        .iter()
                        .skip(3)
                        .position(|c| c == "ConditionalCheckFailed")
                        .unwrap_or(0);
                    Ok(RegisterOutcome::ExtraConflict(i))
                }
                Some(codes) if codes.iter().any(|c| c == "TransactionConflict") => Err(
                    StoreError::unavailable(&"registration transaction conflicted; retry"),
                ),
                _ => Err(e.into()),
            },
        }
    }

    /// One strongly consistent read; `None` for an unknown id.
    pub async fn get_invoice(&self, id: &InvoiceId) -> Result<Option<Invoice>, StoreError> {
        let key = item::key(number_pk(id.number()), invoice_sk(id));
        let found = self.read(&self.res.main_table, key).await?;
        found
            .as_ref()
            .map(Invoice::from_item)
            .transpose()
            .map_err(corrupt)
    }

    /// The merchant's invoice, or `None` when it does not exist or is another merchant's:
    /// the two are indistinguishable to the caller.
    pub async fn get_merchant_invoice(
        &self,
        merchant_id: &str,
        id: &str,
    ) -> Result<Option<Invoice>, StoreError> {
        let Some(id) = InvoiceId::parse(id) else {
            return Ok(None);
        };
        Ok(self
            .get_invoice(&id)
            .await?
            .filter(|inv| inv.merchant_id == merchant_id))
    }

    /// The merchant's bills meeting `filter`, newest first, `limit` at most a page. By order id:
    /// two reads (the order's claim, then the bill). By number: the number's own partition
    /// (bills are stored under their number; a card's bills are few), kept to the merchant's,
    /// sorted as the listing sorts them. Otherwise one GSI query a page (the merchant's, or the
    /// merchant's in one status), the registration days as a key range; with a filter a page
    /// may take several queries (at most [`LISTING_QUERIES`], then it ends early with its
    /// cursor). Expired invoices are stored as registered until swept, so the two are told
    /// apart by their deadline. Every way takes and gives the same cursors.
    pub async fn list_invoices(
        &self,
        merchant_id: &str,
        filter: &InvoiceFilter,
        limit: i32,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<InvoicePage, StoreError> {
        if let Some(order) = &filter.merchant_order_id {
            // One bill at most: a cursor has nothing after it.
            let invoices = match cursor {
                Some(_) => Vec::new(),
                None => self
                    .invoice_by_order(merchant_id, order)
                    .await?
                    .filter(|inv| filter.admits(inv, now))
                    .into_iter()
                    .collect(),
            };
            return Ok(InvoicePage {
                invoices,
                next_cursor: None,
            });
        }
        let (index, pk_name, sk_name, pk) = match filter.status {
            None => ("by_merchant", "gsi1pk", "gsi1sk", merchant_pk(merchant_id)),
            Some(s) => (
                "by_merchant_status",
                "gsi2pk",
                "gsi2sk",
                merchant_status_pk(merchant_id, s),
            ),
        };
        // The sort key starts with the registration instant (RFC 3339, UTC, milliseconds), so
        // JST days are a range of it.
        // (DynamoDB refuses an empty string in a key condition, and a range whose low end is
        // above its high end: both were a 500 for `created_to=2000-01-01`.)
        let low = filter
            .created_from
            .map(|d| timestamp(jst_day_start(d)))
            .unwrap_or_else(|| "0".into());
        let high = filter
            .created_to
            .and_then(|d| d.succ_opt())
            .map(|d| timestamp(jst_day_start(d)))
            .unwrap_or_else(|| "~".into());
        let bounded = filter.created_from.is_some() || filter.created_to.is_some();
        if high < low {
            return Ok(InvoicePage {
                invoices: Vec::new(),
                next_cursor: None,
            });
        }
        let mut start = cursor.map(|c| decode_cursor(c, pk_name, &pk)).transpose()?;
        // A cursor from outside the range would be refused by DynamoDB (a 500): ours never is.
        if let Some(sort) = start.as_ref().and_then(|k| k.get(sk_name)?.as_s().ok()) {
            if bounded && (sort.as_str() < low.as_str() || sort.as_str() > high.as_str()) {
                return Err(Refusal::InvalidCursor {
                    with_status_filter: true,
                }
                .into());
            }
        }
        if let Some(n) = filter.number {
            let listing = Listing {
                pk_name,
                sk_name,
                pk: &pk,
                low: &low,
                high: &high,
            };
            let registered = filter.status == Some(InvoiceStatus::Registered);
            return self
                .number_page(n, &listing, registered, start.as_ref(), limit, now)
                .await;
        }
        let mut conditions = Vec::new();
        // Registered past the deadline but not swept yet (at most a sweep's interval): not
        // listed as registered.
        if filter.status == Some(InvoiceStatus::Registered) {
            conditions.push("deadline >= :now");
        }
        let limit = limit.max(1);
        let per_query = if conditions.is_empty() {
            limit
        } else {
            limit.max(FILTERED_PAGE)
        };
        let mut invoices = Vec::new();
        let mut next_cursor = None;
        for _ in 0..LISTING_QUERIES {
            let mut q = self
                .client
                .query()
                .table_name(&self.res.main_table)
                .index_name(index)
                .expression_attribute_names("#pk", pk_name)
                .expression_attribute_values(":pk", av_s(&pk))
                .scan_index_forward(false)
                .limit(per_query)
                .set_exclusive_start_key(start.take());
            q = if bounded {
                q.key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
                    .expression_attribute_names("#sk", sk_name)
                    .expression_attribute_values(":low", av_s(&low))
                    .expression_attribute_values(":high", av_s(&high))
            } else {
                q.key_condition_expression("#pk = :pk")
            };
            if filter.status == Some(InvoiceStatus::Registered) {
                q = q.expression_attribute_values(":now", item::n(now.timestamp()));
            }
            if !conditions.is_empty() {
                q = q.filter_expression(conditions.join(" AND "));
            }
            let out = q.send().await?;
            for it in out.items() {
                invoices.push(Invoice::from_item(it).map_err(corrupt)?);
                if invoices.len() >= limit as usize {
                    // The page is full: the next one starts after this bill.
                    let key: Item = ["pk", "sk", pk_name, sk_name]
                        .iter()
                        .filter_map(|k| Some((k.to_string(), it.get(*k)?.clone())))
                        .collect();
                    return Ok(InvoicePage {
                        invoices,
                        next_cursor: Some(encode_cursor(&key)),
                    });
                }
            }
            next_cursor = out.last_evaluated_key().map(encode_cursor);
            match out.last_evaluated_key() {
                Some(k) => start = Some(k.clone()),
                None => break,
            }
        }
        Ok(InvoicePage {
            invoices,
            next_cursor,
        })
    }

    /// One page of the merchant's bills under a number: the number's partition read whole
    /// (its bills of every merchant; a card's are few) with the listing's own conditions as
    /// filters (its index key names the merchant, and the status), sorted newest first by the
    /// listing's sort key, from the cursor's place on. One query of a page or two where the
    /// listing's filter read up to [`LISTING_QUERIES`] pages of the merchant's bills.
    async fn number_page(
        &self,
        number: SmartPitNumber,
        listing: &Listing<'_>,
        registered: bool,
        start: Option<&Item>,
        limit: i32,
        now: DateTime<Utc>,
    ) -> Result<InvoicePage, StoreError> {
        let mut filter = String::from("#ipk = :mpk AND #isk BETWEEN :low AND :high");
        if registered {
            filter.push_str(" AND deadline >= :now");
        }
        let mut query = self
            .client
            .query()
            .table_name(&self.res.main_table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :inv)")
            .filter_expression(filter)
            .expression_attribute_names("#ipk", listing.pk_name)
            .expression_attribute_names("#isk", listing.sk_name)
            .expression_attribute_values(":pk", av_s(&number_pk(number)))
            .expression_attribute_values(":inv", av_s("INV#"))
            .expression_attribute_values(":mpk", av_s(listing.pk))
            .expression_attribute_values(":low", av_s(listing.low))
            .expression_attribute_values(":high", av_s(listing.high));
        if registered {
            query = query.expression_attribute_values(":now", item::n(now.timestamp()));
        }
        let mut items = self.query_all(query).await?;
        let sort = |it: &Item| get_s(it, listing.sk_name).unwrap_or_default().to_string();
        items.sort_by_key(|it| std::cmp::Reverse(sort(it)));
        let after = start.map(sort);
        let mut rest = items
            .into_iter()
            .filter(|it| after.as_ref().is_none_or(|a| sort(it) < *a));
        let mut invoices = Vec::new();
        let mut last = None;
        for it in rest
            .by_ref()
            .take(usize::try_from(limit.max(1)).unwrap_or(1))
        {
            invoices.push(Invoice::from_item(&it).map_err(corrupt)?);
            last = Some(it);
        }
        let next_cursor = match (rest.next(), last) {
            (Some(_), Some(it)) => {
                let key: Item = ["pk", "sk", listing.pk_name, listing.sk_name]
                    .iter()
                    .filter_map(|k| Some((k.to_string(), it.get(*k)?.clone())))
                    .collect();
                Some(encode_cursor(&key))
            }
            _ => None,
        };
        Ok(InvoicePage {
            invoices,
            next_cursor,
        })
    }

    /// The merchant's bill under this order id (the order's claim names it).
    pub async fn invoice_by_order(
        &self,
        merchant_id: &str,
        order_id: &str,
    ) -> Result<Option<Invoice>, StoreError> {
        let claim = self
            .read(&self.res.main_table, order_key(merchant_id, order_id))
            .await?;
        let Some(id) = claim
            .as_ref()
            .and_then(|c| get_s(c, "invoice_id"))
            .and_then(InvoiceId::parse)
        else {
            return Ok(None);
        };
        Ok(self
            .get_invoice(&id)
            .await?
            .filter(|inv| inv.merchant_id == merchant_id))
    }

    /// Cancels a registered, unexpired invoice of this merchant and writes its
    /// `invoice.cancelled` event, in one transaction after one read. Cancelling a cancelled
    /// invoice is a no-op (no second event).
    pub async fn cancel_invoice(
        &self,
        merchant_id: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Invoice, StoreError> {
        let not_found = || StoreError::from(Refusal::InvoiceNotFound);
        let current = self
            .get_merchant_invoice(merchant_id, id)
            .await?
            .ok_or_else(not_found)?;
        let refuse = |inv: &Invoice, s: InvoiceStatus| {
            StoreError::from(Refusal::InvoiceNotCancellable {
                invoice_id: inv.id.to_string(),
                status: s.as_str().to_string(),
            })
        };
        match current.status_at(now) {
            InvoiceStatus::Registered => {}
            InvoiceStatus::Cancelled => return Ok(current),
            s => return Err(refuse(&current, s)),
        }
        if let Some(h) = current.held_at(now) {
            return Err(in_progress(&current, h.until));
        }
        let cancelled = Invoice {
            stored_status: InvoiceStatus::Cancelled,
            cancelled_at: Some(now),
            updated_at: now,
            ..current.clone()
        };
        let update = self
            .invoice_update(&current.id)
            .update_expression(
                "SET #status = :cancelled, cancelled_at = :now_ts, updated_at = :now_ts, gsi2pk = :gsi2pk \
                 REMOVE open_shard",
            )
            .condition_expression(
                "merchant_id = :m AND #status = :registered AND deadline >= :now \
                 AND (attribute_not_exists(hold_until) OR hold_until < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":cancelled", av_s("cancelled"))
            .expression_attribute_values(":registered", av_s("registered"))
            .expression_attribute_values(":m", av_s(merchant_id))
            .expression_attribute_values(":now", item::n(now.timestamp()))
            .expression_attribute_values(":now_ts", av_s(&timestamp(now)))
            .expression_attribute_values(
                ":gsi2pk",
                av_s(&merchant_status_pk(merchant_id, InvoiceStatus::Cancelled)),
            )
            .build()
            .map_err(|e| StoreError::failed(&e))?;
        let event = Event::new(
            merchant_id,
            EventType::InvoiceCancelled,
            Some(current.id.as_str()),
            json!({"invoice": cancelled.merchant_view(now)}),
            now,
        );
        match self.update_with_event(update, &event).await? {
            true => Ok(cancelled),
            false => {
                // Paid, cancelled or expired in between: say what it is now.
                let now_is = self
                    .get_merchant_invoice(merchant_id, id)
                    .await?
                    .ok_or_else(not_found)?;
                match now_is.status_at(now) {
                    InvoiceStatus::Cancelled => Ok(now_is),
                    InvoiceStatus::Registered => match now_is.held_at(now) {
                        Some(h) => Err(in_progress(&now_is, h.until)),
                        None => Err(StoreError::unavailable(&"cancel conflicted; retry")),
                    },
                    s => Err(refuse(&now_is, s)),
                }
            }
        }
    }

    /// Stores `expired` on up to `limit` registered invoices whose deadline has passed, each
    /// with its `invoice.expired` event in one transaction. A query per shard of the sparse
    /// `by_open_deadline` index, then per invoice one consistent read and one transaction
    /// (conditional: an invoice paid or cancelled meanwhile is left alone). Returns the ids.
    pub async fn expire_due(
        &self,
        now: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<InvoiceId>, StoreError> {
        let mut expired = Vec::new();
        for shard in 0..crate::db::OPEN_SHARDS {
            let out = self
                .client
                .query()
                .table_name(&self.res.main_table)
                .index_name("by_open_deadline")
                .key_condition_expression("open_shard = :s AND deadline < :now")
                .expression_attribute_values(":s", av_s(&format!("open#{shard}")))
                .expression_attribute_values(":now", item::n(now.timestamp()))
                .limit(limit)
                .send()
                .await?;
            for key in out.items() {
                let Some(id) = get_s(key, "sk")
                    .and_then(|sk| sk.strip_prefix("INV#"))
                    .and_then(InvoiceId::parse)
                else {
                    continue;
                };
                if self.expire_one(&id, now).await? {
                    expired.push(id);
                }
            }
        }
        Ok(expired)
    }

    /// Expires one invoice if it is due at `now` and no slip holds it, with its
    /// `invoice.expired` event: what the sweep does for each due invoice. `Ok(false)`: not
    /// expired now.
    pub async fn expire_one(&self, id: &InvoiceId, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.expire_as_of(id, now, now).await
    }

    /// As `expire_one`, with the deadline judged at `judged_at` (the sandbox's expire helper
    /// passes the first second past it) while the change, its event and the slip check keep
    /// the real `now`: an event stamped at the deadline would sort and come due weeks ahead.
    pub async fn expire_as_of(
        &self,
        id: &InvoiceId,
        judged_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let Some(inv) = self.get_invoice(id).await? else {
            return Ok(false);
        };
        if inv.stored_status != InvoiceStatus::Registered
            || inv.deadline >= judged_at.timestamp()
            || inv.held_at(now).is_some()
        {
            // Not due, or a slip printed before the deadline still holds it: a later sweep
            // stores `expired` once the slip has lapsed unpaid.
            return Ok(false);
        }
        let expired = Invoice {
            stored_status: InvoiceStatus::Expired,
            updated_at: now,
            ..inv.clone()
        };
        let update = Update::builder()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(number_pk(id.number()), invoice_sk(id))))
            .update_expression(
                "SET #status = :expired, updated_at = :ts, gsi2pk = :gsi2pk REMOVE open_shard",
            )
            .condition_expression(
                "#status = :registered AND deadline < :judged \
                 AND (attribute_not_exists(hold_until) OR hold_until < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":expired", av_s("expired"))
            .expression_attribute_values(":registered", av_s("registered"))
            .expression_attribute_values(":ts", av_s(&timestamp(now)))
            .expression_attribute_values(":now", item::n(now.timestamp()))
            .expression_attribute_values(":judged", item::n(judged_at.timestamp()))
            .expression_attribute_values(
                ":gsi2pk",
                av_s(&merchant_status_pk(
                    &inv.merchant_id,
                    InvoiceStatus::Expired,
                )),
            )
            .build()
            .map_err(|e| StoreError::failed(&e))?;
        let event = Event::new(
            &inv.merchant_id,
            EventType::InvoiceExpired,
            Some(id.as_str()),
            json!({"invoice": expired.merchant_view(now)}),
            now,
        );
        self.update_with_event(update, &event).await
    }

    /// Every invoice payable now on a number, from every merchant, earliest due first.
    /// One strongly consistent query (more only past 1 MB of bills on one number).
    pub async fn payable_invoices(
        &self,
        number: SmartPitNumber,
        now: DateTime<Utc>,
    ) -> Result<Vec<Invoice>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.res.main_table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :inv)")
            .filter_expression(
                "#status = :registered AND deadline >= :now \
                     AND (attribute_not_exists(hold_until) OR hold_until < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pk", av_s(&number_pk(number)))
            .expression_attribute_values(":inv", av_s("INV#"))
            .expression_attribute_values(":registered", av_s("registered"))
            .expression_attribute_values(":now", item::n(now.timestamp()))
            .consistent_read(true);
        let mut found = self
            .query_all(query)
            .await?
            .iter()
            .map(Invoice::from_item)
            .collect::<Result<Vec<_>, _>>()
            .map_err(corrupt)?;
        found.sort_by(|a, b| {
            (a.due_date, a.created_at, a.id.as_str()).cmp(&(
                b.due_date,
                b.created_at,
                b.id.as_str(),
            ))
        });
        Ok(found)
    }
}

fn encode_cursor(key: &Item) -> String {
    let map: serde_json::Map<String, serde_json::Value> = key
        .iter()
        .filter_map(|(k, v)| {
            v.as_s()
                .ok()
                .map(|s| (k.clone(), serde_json::Value::from(s.clone())))
        })
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::Value::Object(map).to_string())
}

/// A cursor is ours only if it has exactly the shape this listing's cursors have and continues
/// the same merchant's listing: the index's partition key is the merchant's, the table key names
/// a well-formed invoice under its own number, and the sort key is that invoice's. A crafted
/// cursor can therefore only start inside the caller's own listing, and never reaches DynamoDB
/// in a shape it would reject (that was a 500).
fn decode_cursor(cursor: &str, pk_name: &str, pk: &str) -> Result<Item, StoreError> {
    let bad = || {
        StoreError::from(Refusal::InvalidCursor {
            with_status_filter: true,
        })
    };
    if cursor.len() > 1024 {
        return Err(bad());
    }
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&raw).map_err(|_| bad())?;
    let sk_name = if pk_name == "gsi1pk" {
        "gsi1sk"
    } else {
        "gsi2sk"
    };
    let wanted = ["pk", "sk", pk_name, sk_name];
    if map.len() != wanted.len() || !wanted.iter().all(|k| map.contains_key(*k)) {
        return Err(bad());
    }
    let text = |k: &str| map.get(k).and_then(|v| v.as_str()).ok_or_else(bad);
    let id = text("sk")?
        .strip_prefix("INV#")
        .and_then(InvoiceId::parse)
        .ok_or_else(bad)?;
    let sort = text(sk_name)?;
    let ts = sort
        .strip_suffix(id.as_str())
        .and_then(|t| t.strip_suffix('#'))
        .ok_or_else(bad)?;
    let shaped = text("pk")? == number_pk(id.number())
        && text(pk_name)? == pk
        && DateTime::parse_from_rfc3339(ts).is_ok();
    if !shaped {
        return Err(bad());
    }
    Ok(wanted
        .iter()
        .filter_map(|k| Some((k.to_string(), AttributeValue::S(text(k).ok()?.to_string()))))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(pairs: &[(&str, &str)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
            .collect()
    }

    #[test]
    fn cursor_round_trips_and_is_bound_to_its_merchant() {
        let n = SmartPitNumber::parse("2010000000014").unwrap();
        let id = InvoiceId::new(n);
        let sk = format!("INV#{id}");
        let sort = format!("2026-11-27T01:02:03.456Z#{id}");
        let key = key_of(&[
            ("pk", "NUM#2010000000014"),
            ("sk", &sk),
            ("gsi1pk", "MER#a"),
            ("gsi1sk", &sort),
        ]);
        let c = encode_cursor(&key);
        assert_eq!(decode_cursor(&c, "gsi1pk", "MER#a").ok(), Some(key));
        assert!(decode_cursor(&c, "gsi1pk", "MER#b").is_err());
        assert!(decode_cursor(&c, "gsi2pk", "MER#a").is_err());
        assert!(decode_cursor("not base64!", "gsi1pk", "MER#a").is_err());
        // Only the caller's own partition key: well-formed base64 JSON, refused before DynamoDB.
        let only_pk = encode_cursor(&key_of(&[("gsi1pk", "MER#a")]));
        assert!(decode_cursor(&only_pk, "gsi1pk", "MER#a").is_err());
        // Another number in pk than the invoice id carries.
        let moved = encode_cursor(&key_of(&[
            ("pk", "NUM#2010000000021"),
            ("sk", &sk),
            ("gsi1pk", "MER#a"),
            ("gsi1sk", &sort),
        ]));
        assert!(decode_cursor(&moved, "gsi1pk", "MER#a").is_err());
        let extra = encode_cursor(&key_of(&[
            ("pk", "NUM#2010000000014"),
            ("sk", &sk),
            ("gsi1pk", "MER#a"),
            ("gsi1sk", &sort),
            ("gsi2pk", "MER#b"),
        ]));
        assert!(decode_cursor(&extra, "gsi1pk", "MER#a").is_err());
    }
}
