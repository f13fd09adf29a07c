//! `POST /v1/invoices/{id}/resend` (Idempotency-Key required): the bill's registration mails
//! again, to the addresses on the bill: the sheet mail (a sheet bill's PC address) and the
//! mobile notice. At most `RESENDS_PER_DAY` a bill and JST day (429 `resend_limit`, with
//! `Retry-After` to the next JST midnight); only while the bill may change (registered, before
//! its deadline, not held by a slip). The notifier sends them as it sent the first ones.

use chrono::{DateTime, Duration, Utc};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use smartpit_shared::auth;
use smartpit_shared::clock::{jst, jst_date};
use smartpit_shared::db::RESENDS_PER_DAY;
use smartpit_shared::http as web;
use smartpit_shared::idempotent::Keyed;
use smartpit_shared::notice::{Notice, NoticeKind};
use smartpit_shared::Code;
use smartpit_shared::Problem;

use crate::InvoicesFunction;

impl InvoicesFunction {
    pub(crate) async fn resend(
        &self,
        req: &Request,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let keyed = Keyed::of(req)?;
        self.resend_as(&merchant, &keyed, id, now).await
    }

    /// The re-send for this merchant under this key (the console's button comes here too).
    pub async fn resend_as(
        &self,
        merchant: &smartpit_shared::auth::Merchant,
        keyed: &Keyed,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let (merchant, keyed) = (merchant.clone(), keyed.clone());
        let inv = self.invoice_of(&merchant, id).await?;
        // What the registration sent: the sheet mail to a sheet bill's PC address, the mobile
        // notice to any mobile address.
        let token = inv
            .sheet_url
            .as_deref()
            .and_then(|u| u.rsplit('/').next())
            .map(str::to_string);
        let mut queued = Vec::new();
        if let (Some(_), Some(to)) = (&token, &inv.customer.email) {
            queued.push(Notice::queued(NoticeKind::SheetMail, Some(to), now));
        }
        if let Some(to) = &inv.customer.mobile_email {
            queued.push(Notice::queued(NoticeKind::MobileMail, Some(to), now));
        }
        if queued.is_empty() {
            return Err(Problem::of(Code::NothingToResend)
            .detail("Only a bill registered with a customer's mail address (a sheet bill's, or a mobile address) has registration mail."));
        }
        let day = jst_date(now).to_string();
        let seen = self.db.resends_on(inv.id.as_str(), &day).await?;
        let mut next = inv.clone();
        for n in queued {
            next.notices.retain(|o| o.kind != n.kind);
            next.notices.push(n);
        }
        next.updated_at = now;
        let response = next.merchant_view(now).to_string();
        // The key first: a re-sent request under it answers as the first did, even at the limit.
        let answer = self
            .change_under_key(&keyed, &merchant, &inv, now, |lock| async move {
                if seen >= RESENDS_PER_DAY {
                    return Err(limit(now));
                }
                let applied = self
                    .db
                    .resend_invoice(
                        &next,
                        &day,
                        seen,
                        token.as_deref(),
                        &lock,
                        202,
                        &response,
                        now,
                    )
                    .await?;
                Ok((applied, web::raw_json(StatusCode::ACCEPTED, response)))
            })
            .await?;
        tracing::info!(invoice_id = %inv.id, merchant_id = %merchant.id, resend = seen + 1, "registration mail queued again");
        Ok(answer)
    }
}

/// 429 `resend_limit`, retry at the next JST midnight.
fn limit(now: DateTime<Utc>) -> Problem {
    let tomorrow = jst_date(now) + Duration::days(1);
    let midnight = tomorrow
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(jst()).single())
        .map_or(now.timestamp() + 86_400, |t| t.timestamp());
    let wait = (midnight - now.timestamp()).max(1);
    Problem::of(Code::ResendLimit)
        .detail(format!(
            "A bill's registration mail may be sent again {RESENDS_PER_DAY} times a JST day. \
             Retry after {wait} s."
        ))
        .header(http::header::RETRY_AFTER, &wait.to_string())
}
