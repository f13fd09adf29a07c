//! `GET /v1/reports/payments?date=YYYY-MM-DD`: the merchant's bills collected that JST day, as
//! CSV (the default, for a spreadsheet) or JSON (`Accept: application/json`), totals last.

use std::collections::HashMap;

use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use smartpit_shared::auth;
use smartpit_shared::http::{self as web};
use smartpit_shared::report;
use smartpit_shared::request;

use crate::requests::PaymentsReport;
use smartpit_shared::Problem;

use crate::InvoicesFunction;

fn wants_json(req: &Request) -> bool {
    req.headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"))
}

impl InvoicesFunction {
    /// One query a page of the day's lines, one read of the fee schedule, one batch read of the
    /// payments' states per 100 payments.
    pub(crate) async fn payments_report(&self, req: &Request) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let q: PaymentsReport = request::query(req, chrono::Utc::now())?;
        let Some(smartpit_shared::clock::Day(day)) = q.date else {
            return Err(Problem::internal(
                &"a checked report request without its date",
            ));
        };
        self.payments_report_as(&merchant, day, wants_json(req))
            .await
    }

    /// The day's report for this merchant, CSV or JSON (the console's download comes here too).
    pub async fn payments_report_as(
        &self,
        merchant: &auth::Merchant,
        day: chrono::NaiveDate,
        json: bool,
    ) -> Result<Response<Body>, Problem> {
        let lines = self.db.paid_lines(&merchant.id, day).await?;
        let fees = self.db.fee_schedule(&merchant.id).await?;
        let mut ids: Vec<String> = lines.iter().map(|l| l.payment_id.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        let payments = self.db.get_payments(&ids).await?;
        let status: HashMap<&str, _> = payments
            .iter()
            .map(|(id, p)| (id.as_str(), p.status))
            .collect();
        let report = report::build(day, lines, |id| status.get(id).copied(), &fees);
        if json {
            return Ok(web::json(StatusCode::OK, &report.json()));
        }
        let body = report.csv().map_err(|e| Problem::internal(&e))?;
        let mut resp = Response::new(Body::Binary(body));
        let headers = resp.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        if let Ok(v) =
            HeaderValue::from_str(&format!("attachment; filename=\"payments-{day}.csv\""))
        {
            headers.insert(http::header::CONTENT_DISPOSITION, v);
        }
        Ok(resp)
    }
}
