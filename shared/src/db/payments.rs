//! Store payments: all listed invoices are paid in one transaction, or none; the payment's id
//! follows from the store's transaction id, so a retried report finds the first result.

use super::error::StoreError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::item;
use super::{av_s, cancellation_codes, put_new, Db};
use super::{invoice_sk, merchant_status_pk, number_pk, open_shard, timestamp};
use crate::clock::jst_date;
use crate::ids::InvoiceId;
use crate::invoice::{Invoice, InvoiceStatus, PaymentEntry};
use crate::payment::{Payment, PaymentLine, PaymentRequest, PaymentStatus};
use crate::webhook::{Event, EventType};
use serde_json::json;

pub enum PayOutcome {
    /// Paid now.
    Paid(Payment),
    /// This store transaction was reported before with the same content: its first result.
    Replayed(Payment),
    /// This store transaction id was used before for a different payment.
    TransactionIdReused(Payment),
    /// An invoice is unknown (or not well-formed).
    UnknownInvoice(String),
    /// An invoice can no longer be paid.
    NotPayable {
        invoice_id: String,
        status: InvoiceStatus,
    },
    /// The amount is not the sum of the invoices.
    WrongAmount { expected: i64 },
    /// This store transaction paid before and was voided since: a retry must not read as a
    /// success.
    Voided(Payment),
    /// A kiosk slip holds the invoice for its own payment.
    Held { invoice_id: String, until: i64 },
    /// The payment names a slip that does not hold the invoice (another chain's, lapsed, or
    /// not for this invoice).
    SlipNotValid { invoice_id: String },
}

pub enum VoidOutcome {
    Voided(Payment),
    NotFound,
    /// Voids are taken only on the JST day of the payment.
    WindowClosed(Payment),
    /// The chain's settlement (確報) confirmed it: it can no longer be voided.
    Settled(Payment),
}

/// Attempts of a payment's (or a void's) transaction that met another on the same bill: a
/// repeat bill paid at several stores at once counts its payments one after the other.
const MAX_TRANSACTION_ATTEMPTS: usize = 8;

/// The pause before another attempt: 10 to 49 ms, drawn, so that payments that met once do
/// not meet again.
fn conflict_pause() -> std::time::Duration {
    std::time::Duration::from_millis(10 + rand::random::<u64>() % 40)
}

/// What must still hold of an invoice when the payment's transaction applies: registered with
/// the amount and fee read, and either unheld before its deadline, or held by the payment's own
/// slip (which may outlast the deadline: the slip was printed before it).
fn pay_condition(fee: i64, by_slip: bool) -> &'static str {
    match (fee == 0, by_slip) {
        (true, false) => {
            "#status = :registered AND deadline >= :now AND amount = :amount \
             AND (attribute_not_exists(customer_fee) OR customer_fee = :fee) \
             AND (attribute_not_exists(hold_until) OR hold_until < :now)"
        }
        (false, false) => {
            "#status = :registered AND deadline >= :now AND amount = :amount \
             AND customer_fee = :fee \
             AND (attribute_not_exists(hold_until) OR hold_until < :now)"
        }
        (true, true) => {
            "#status = :registered AND amount = :amount \
             AND (attribute_not_exists(customer_fee) OR customer_fee = :fee) \
             AND hold_slip = :slip AND hold_chain = :chain AND hold_until >= :now"
        }
        (false, true) => {
            "#status = :registered AND amount = :amount AND customer_fee = :fee \
             AND hold_slip = :slip AND hold_chain = :chain AND hold_until >= :now"
        }
    }
}

impl Db {
    /// A bill's update in the payment's transaction, conditional on the bill as read (its
    /// amount and fee; a repeat bill's occurrences, so two payments of it at once are counted
    /// one after the other). It closes the bill (`paid`) unless a repeat bill has room for more.
    fn pay_update(
        &self,
        req: &PaymentRequest,
        payment: &Payment,
        inv: &Invoice,
        entry: &PaymentEntry,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let closes = inv.closes_with_next_payment();
        let (close, remove) = if closes {
            ("#status = :paid, gsi2pk = :gsi2pk, ", "open_shard, ")
        } else {
            ("", "")
        };
        let (count, counted) = match inv.repeat {
            Some(_) => (", occurrences = :next", " AND occurrences = :occ"),
            None => ("", ""),
        };
        let update = Update::builder()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(
                number_pk(inv.number()),
                invoice_sk(&inv.id),
            )))
            .update_expression(format!(
                "SET {close}payment_id = :pid, paid_at = :ts, updated_at = :ts, \
                 store_chain = :chain, store_code = :store, store_transaction_id = :txn, \
                 payments = list_append(if_not_exists(payments, :none), :entry){count} \
                 REMOVE {remove}hold_slip, hold_chain, hold_until"
            ))
            .condition_expression(format!(
                "{}{counted}",
                pay_condition(inv.customer_fee, req.slip_id.is_some())
            ))
            .expression_attribute_values(":txn", av_s(&req.store_transaction_id))
            .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":entry", AttributeValue::L(vec![entry.to_attr()]))
            .expression_attribute_values(":fee", item::n(inv.customer_fee))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":registered", av_s("registered"))
            .expression_attribute_values(":pid", av_s(&payment.id))
            .expression_attribute_values(":ts", av_s(&timestamp(now)))
            .expression_attribute_values(":chain", av_s(&req.chain_id))
            .expression_attribute_values(":store", av_s(&req.store_code))
            .expression_attribute_values(":now", item::n(now.timestamp()))
            .expression_attribute_values(":amount", item::n(inv.amount));
        let update = if closes {
            update
                .expression_attribute_values(":paid", av_s("paid"))
                .expression_attribute_values(
                    ":gsi2pk",
                    av_s(&merchant_status_pk(&inv.merchant_id, InvoiceStatus::Paid)),
                )
        } else {
            update
        };
        let update = match inv.repeat {
            Some(_) => update
                .expression_attribute_values(":occ", item::n(inv.occurrences))
                .expression_attribute_values(":next", item::n(inv.occurrences + 1)),
            None => update,
        };
        let update = match &req.slip_id {
            Some(slip) => update.expression_attribute_values(":slip", av_s(slip)),
            None => update,
        }
        .build()
        .map_err(|e| StoreError::failed(&e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// A repeat bill's update when one of its occurrences (entry `i`) is voided: the entry
    /// marked, one occurrence less, the bill open again if that payment had closed it (a
    /// cancelled bill stays cancelled). Conditional on the bill as read, and on what was
    /// refunded staying within the occurrences that stand. With the bill as it becomes.
    fn void_occurrence(
        &self,
        bill: &Invoice,
        i: usize,
        payment_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(TransactWriteItem, Invoice), StoreError> {
        let mut back = bill.clone();
        if let Some(e) = back.payments.get_mut(i) {
            e.status = PaymentStatus::Voided.as_str().to_string();
            e.voided_at = Some(now);
        }
        back.occurrences = (bill.occurrences - 1).max(0);
        back.updated_at = now;
        let standing: i64 = back
            .payments
            .iter()
            .filter(|e| e.status != "voided")
            .map(|e| e.amount.unwrap_or(bill.total()))
            .sum();
        let reopens = bill.stored_status == InvoiceStatus::Paid;
        let reopen = if reopens {
            back.stored_status = InvoiceStatus::Registered;
            ", #status = :registered, gsi2pk = :gsi2pk, open_shard = :open"
        } else {
            ""
        };
        let latest = bill.payment_id.as_deref() == Some(payment_id);
        let clear = if latest {
            back.payment_id = None;
            back.paid_at = None;
            back.store_chain = None;
            back.store_code = None;
            back.store_transaction_id = None;
            " REMOVE payment_id, paid_at, store_chain, store_code, store_transaction_id"
        } else {
            ""
        };
        let update = Update::builder()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(
                number_pk(bill.number()),
                invoice_sk(&bill.id),
            )))
            .update_expression(format!(
                "SET payments[{i}].#status = :voided, payments[{i}].voided_at = :ts, \
                 occurrences = :left, updated_at = :ts{reopen}{clear}"
            ))
            .condition_expression(format!(
                "payments[{i}].id = :pid AND payments[{i}].#status = :completed \
                 AND occurrences = :occ AND #status = :was \
                 AND (attribute_not_exists(refunded) OR refunded <= :standing)"
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":voided", av_s("voided"))
            .expression_attribute_values(":completed", av_s("completed"))
            .expression_attribute_values(":pid", av_s(payment_id))
            .expression_attribute_values(":ts", av_s(&timestamp(now)))
            .expression_attribute_values(":left", item::n(back.occurrences))
            .expression_attribute_values(":occ", item::n(bill.occurrences))
            .expression_attribute_values(":was", av_s(bill.stored_status.as_str()))
            .expression_attribute_values(":standing", item::n(standing));
        let update = if reopens {
            update
                .expression_attribute_values(":registered", av_s("registered"))
                .expression_attribute_values(":open", av_s(&open_shard(&bill.id)))
                .expression_attribute_values(
                    ":gsi2pk",
                    av_s(&merchant_status_pk(
                        &bill.merchant_id,
                        InvoiceStatus::Registered,
                    )),
                )
        } else {
            update
        }
        .build()
        .map_err(|e| StoreError::failed(&e))?;
        Ok((TransactWriteItem::builder().update(update).build(), back))
    }

    /// One consistent read of a payment.
    pub async fn get_payment(&self, id: &str) -> Result<Option<Payment>, StoreError> {
        let found = self
            .read(&self.res.main_table, item::key(format!("PAY#{id}"), "#"))
            .await?;
        found.as_ref().map(Payment::from_item).transpose()
    }

    fn replay(&self, req: &PaymentRequest, existing: Payment) -> PayOutcome {
        if existing.fingerprint != req.fingerprint() {
            PayOutcome::TransactionIdReused(existing)
        } else if existing.status == PaymentStatus::Voided {
            PayOutcome::Voided(existing)
        } else {
            PayOutcome::Replayed(existing)
        }
    }

    /// An invoice found paid by this very payment id means a copy of this report won the race:
    /// answer with the stored payment, never "not payable". `None` when it is not ours.
    async fn ours(
        &self,
        req: &PaymentRequest,
        id: &str,
        inv: &Invoice,
    ) -> Result<Option<PayOutcome>, StoreError> {
        if !inv.payments.iter().any(|e| e.id == id) {
            return Ok(None);
        }
        Ok(self
            .get_payment(id)
            .await?
            .map(|existing| self.replay(req, existing)))
    }

    /// Pays every invoice of the request at once, exactly once. Round trips: one read of the
    /// payment id, one batch read of the invoices, one transaction.
    pub async fn pay(
        &self,
        req: &PaymentRequest,
        now: DateTime<Utc>,
    ) -> Result<PayOutcome, StoreError> {
        let id = req.payment_id();
        for _ in 0..MAX_TRANSACTION_ATTEMPTS {
            if let Some(existing) = self.get_payment(&id).await? {
                return Ok(self.replay(req, existing));
            }
            let invoices = self.get_invoices_by_id(&req.invoice_ids).await?;
            let mut lines = Vec::with_capacity(req.invoice_ids.len());
            for wanted in &req.invoice_ids {
                let Some(inv) = invoices.get(wanted.as_str()) else {
                    return Ok(PayOutcome::UnknownInvoice(wanted.to_string()));
                };
                let payable = match &req.slip_id {
                    None => inv.is_payable_at(now),
                    Some(slip) => inv
                        .held_at(now)
                        .is_some_and(|h| h.slip_id == *slip && h.chain_id == req.chain_id),
                };
                if !payable {
                    if let Some(replay) = self.ours(req, &id, inv).await? {
                        return Ok(replay);
                    }
                    if req.slip_id.is_some() && inv.stored_status == InvoiceStatus::Registered {
                        return Ok(PayOutcome::SlipNotValid {
                            invoice_id: wanted.to_string(),
                        });
                    }
                    if let Some(h) = inv.held_at(now) {
                        return Ok(PayOutcome::Held {
                            invoice_id: wanted.to_string(),
                            until: h.until,
                        });
                    }
                    return Ok(PayOutcome::NotPayable {
                        invoice_id: wanted.to_string(),
                        status: inv.status_at(now),
                    });
                }
                lines.push(PaymentLine {
                    invoice_id: inv.id.to_string(),
                    merchant_id: inv.merchant_id.clone(),
                    amount: inv.total(),
                });
            }
            let expected: i64 = lines.iter().map(|l| l.amount).sum();
            if expected != req.amount {
                return Ok(PayOutcome::WrongAmount { expected });
            }
            let payment = Payment::completed(req, lines, now);
            let mut items = vec![put_new(&self.res.main_table, payment.to_item(), "pk")?];
            let mut events = Vec::with_capacity(payment.lines.len());
            let entry = PaymentEntry {
                amount: None,
                customer_fee: None,
                id: payment.id.clone(),
                status: PaymentStatus::Completed.as_str().to_string(),
                paid_at: now,
                voided_at: None,
                store_chain: req.chain_id.clone(),
                store_code: req.store_code.clone(),
                store_transaction_id: req.store_transaction_id.clone(),
            };
            for (line, wanted) in payment.lines.iter().zip(&req.invoice_ids) {
                let Some(inv) = invoices.get(wanted.as_str()) else {
                    return Ok(PayOutcome::UnknownInvoice(wanted.to_string()));
                };
                let entry = PaymentEntry {
                    amount: Some(line.amount),
                    customer_fee: Some(inv.customer_fee),
                    ..entry.clone()
                };
                items.push(self.pay_update(req, &payment, inv, &entry, now)?);
                // invoice.paid, in the same transaction: no paid invoice without its event.
                let mut payments = inv.payments.clone();
                payments.push(entry);
                let closes = inv.closes_with_next_payment();
                let occurrence = inv.occurrences + 1;
                let paid = Invoice {
                    stored_status: if closes {
                        InvoiceStatus::Paid
                    } else {
                        InvoiceStatus::Registered
                    },
                    payment_id: Some(payment.id.clone()),
                    paid_at: Some(now),
                    store_chain: Some(req.chain_id.clone()),
                    store_code: Some(req.store_code.clone()),
                    store_transaction_id: Some(req.store_transaction_id.clone()),
                    payments,
                    updated_at: now,
                    occurrences: if inv.repeat.is_some() { occurrence } else { 0 },
                    hold: None,
                    ..inv.clone()
                };
                events.push(self.paid_line_put(&payment, inv)?);
                // The customer is told (mail, and the confirmation behind a sheet's page).
                if inv.customer.email.is_some()
                    || inv.customer.mobile_email.is_some()
                    || inv.sheet_url.is_some()
                {
                    events.push(self.outbox_put_paid(inv.id.as_str(), &payment.id, now)?);
                }
                events.push(self.event_put(&Event::new(
                    &inv.merchant_id,
                    EventType::InvoicePaid,
                    Some(inv.id.as_str()),
                    json!({
                        "invoice": paid.merchant_view(now),
                        "payment": payment.view(),
                        "occurrence": if inv.repeat.is_some() { occurrence } else { 1 },
                    }),
                    now,
                ))?);
            }
            let invoice_count = req.invoice_ids.len();
            items.extend(events);
            let res = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let err = match res {
                Ok(_) => return Ok(PayOutcome::Paid(payment)),
                Err(e) => e,
            };
            let Some(codes) = cancellation_codes(&err) else {
                return Err(err.into());
            };
            if codes.first().is_some_and(|c| c == "ConditionalCheckFailed") {
                // The same store transaction won a race with this one: answer as it did.
                if let Some(existing) = self.get_payment(&id).await? {
                    return Ok(self.replay(req, existing));
                }
                continue;
            }
            if let Some(i) = codes
                .iter()
                .skip(1)
                .take(invoice_count)
                .position(|c| c == "ConditionalCheckFailed")
            {
                let wanted = &req.invoice_ids[i];
                let current = self.get_invoice(wanted).await?;
                if let Some(inv) = &current {
                    if let Some(replay) = self.ours(req, &id, inv).await? {
                        return Ok(replay);
                    }
                }
                let status = current.map_or(InvoiceStatus::Cancelled, |inv| inv.status_at(now));
                if status != InvoiceStatus::Registered {
                    return Ok(PayOutcome::NotPayable {
                        invoice_id: wanted.to_string(),
                        status,
                    });
                }
            }
            // A concurrent transaction touched one of the items: read again and retry.
            tokio::time::sleep(conflict_pause()).await;
        }
        Err(StoreError::unavailable(
            &"payment transaction kept conflicting with concurrent writes",
        ))
    }

    /// Makes a payment's invoices payable again, on the JST day it was made. One read and one
    /// transaction; voiding a voided payment answers as the first void did.
    pub async fn void_payment(
        &self,
        chain_id: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<VoidOutcome, StoreError> {
        for _ in 0..MAX_TRANSACTION_ATTEMPTS {
            if let Some(outcome) = self.try_void(chain_id, id, now).await? {
                return Ok(outcome);
            }
            // A repeat bill took another payment meanwhile: read it again.
            tokio::time::sleep(conflict_pause()).await;
        }
        Err(StoreError::unavailable(&"void conflicted; retry"))
    }

    /// One attempt at a void; `None` when the bill changed under it and it may be tried again.
    async fn try_void(
        &self,
        chain_id: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<VoidOutcome>, StoreError> {
        let Some(payment) = self
            .get_payment(id)
            .await?
            .filter(|p| p.chain_id == chain_id)
        else {
            return Ok(Some(VoidOutcome::NotFound));
        };
        match payment.status {
            PaymentStatus::Voided => return Ok(Some(VoidOutcome::Voided(payment))),
            PaymentStatus::Settled => return Ok(Some(VoidOutcome::Settled(payment))),
            PaymentStatus::Completed => {}
        }
        if payment.jst_day != jst_date(now) {
            return Ok(Some(VoidOutcome::WindowClosed(payment)));
        }
        let mut items = vec![TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name(&self.res.main_table)
                    .set_key(Some(item::key(format!("PAY#{id}"), "#")))
                    .update_expression("SET #status = :voided, voided_at = :ts")
                    .condition_expression("#status = :completed")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":voided", av_s("voided"))
                    .expression_attribute_values(":completed", av_s("completed"))
                    .expression_attribute_values(":ts", av_s(&timestamp(now)))
                    .build()
                    .map_err(|e| StoreError::failed(&e))?,
            )
            .build()];
        let ids: Vec<InvoiceId> = payment
            .lines
            .iter()
            .map(|l| InvoiceId::parse(&l.invoice_id))
            .collect::<Option<_>>()
            .ok_or_else(|| StoreError::failed(&item::Corrupt("invoice_ids")))?;
        let current = self.get_invoices_by_id(&ids).await?;
        let voided = Payment {
            status: PaymentStatus::Voided,
            voided_at: Some(now),
            ..payment.clone()
        };
        let mut events = Vec::with_capacity(ids.len());
        for line in &payment.lines {
            let inv = InvoiceId::parse(&line.invoice_id)
                .ok_or_else(|| StoreError::failed(&item::Corrupt("invoice_ids")))?;
            // invoice.payment_voided, in the same transaction as the void.
            let history_at = current
                .get(inv.as_str())
                .and_then(|p| p.entry_index(&payment.id));
            if let (Some(bill), Some(i)) = (current.get(inv.as_str()), history_at) {
                if bill.repeat.is_some() {
                    let (update, back) = self.void_occurrence(bill, i, id, now)?;
                    items.push(update);
                    events.push(self.event_put(&Event::new(
                        &line.merchant_id,
                        EventType::InvoicePaymentVoided,
                        Some(inv.as_str()),
                        json!({"invoice": back.merchant_view(now), "payment": voided.view()}),
                        now,
                    ))?);
                    continue;
                }
            }
            if let Some(paid) = current.get(inv.as_str()) {
                let mut payments = paid.payments.clone();
                if let Some(e) = history_at.and_then(|i| payments.get_mut(i)) {
                    e.status = PaymentStatus::Voided.as_str().to_string();
                    e.voided_at = Some(now);
                }
                let back = Invoice {
                    stored_status: InvoiceStatus::Registered,
                    payment_id: None,
                    paid_at: None,
                    store_chain: None,
                    store_code: None,
                    store_transaction_id: None,
                    payments,
                    updated_at: now,
                    ..paid.clone()
                };
                events.push(self.event_put(&Event::new(
                    &line.merchant_id,
                    EventType::InvoicePaymentVoided,
                    Some(inv.as_str()),
                    json!({"invoice": back.merchant_view(now), "payment": voided.view()}),
                    now,
                ))?);
            }
            // The payment stays in the invoice's history, marked voided.
            let history = history_at.map_or(String::new(), |i| {
                format!(", payments[{i}].#status = :voided, payments[{i}].voided_at = :ts")
            });
            let mut update = Update::builder();
            if history_at.is_some() {
                update = update.expression_attribute_values(":voided", av_s("voided"));
            }
            let update = update
                .table_name(&self.res.main_table)
                .set_key(Some(item::key(number_pk(inv.number()), invoice_sk(&inv))))
                .update_expression(format!(
                    "SET #status = :registered, updated_at = :ts, gsi2pk = :gsi2pk, \
                     open_shard = :open{history} \
                     REMOVE payment_id, paid_at, store_chain, store_code, store_transaction_id"
                ))
                .expression_attribute_values(":open", av_s(&open_shard(&inv)))
                // Never a payment something was refunded of (refunds start the next JST
                // day; a void decided just before midnight may land after one).
                .condition_expression(
                    "#status = :paid AND payment_id = :pid \
                     AND (attribute_not_exists(refunded) OR refunded = :none)",
                )
                .expression_attribute_values(":none", item::n(0))
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":registered", av_s("registered"))
                .expression_attribute_values(":paid", av_s("paid"))
                .expression_attribute_values(":pid", av_s(id))
                .expression_attribute_values(":ts", av_s(&timestamp(now)))
                .expression_attribute_values(
                    ":gsi2pk",
                    av_s(&merchant_status_pk(
                        &line.merchant_id,
                        InvoiceStatus::Registered,
                    )),
                )
                .build()
                .map_err(|e| StoreError::failed(&e))?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        items.extend(events);
        let res = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match res {
            Ok(_) => Ok(Some(VoidOutcome::Voided(voided))),
            Err(e) if cancellation_codes(&e).is_some() => {
                // Voided concurrently: report the stored state; else the bill changed.
                match self.get_payment(id).await? {
                    Some(p) if p.status == PaymentStatus::Voided => {
                        Ok(Some(VoidOutcome::Voided(p)))
                    }
                    Some(p) if p.status == PaymentStatus::Settled => {
                        Ok(Some(VoidOutcome::Settled(p)))
                    }
                    _ => Ok(None),
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}
