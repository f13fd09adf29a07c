//! The money pages: the payouts (each period's statement as the payouts API lists it, its PDF
//! and CSV) and the day's payments report (the API's CSV).

use chrono::{DateTime, NaiveDate, Utc};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use maud::{html, Markup};
use smartpit_shared::config::OnFirstUse;
use smartpit_shared::db::payouts::PayoutPage;
use smartpit_shared::money::format_yen as yen;
use smartpit_shared::payout::statement_link::{presigning_client, statement_link, StatementFile};
use smartpit_shared::payout::{Payout, PayoutStatus};
use smartpit_shared::routes::Matched;
use smartpit_shared::Problem;
use smartpit_sheets::page::Lang;

use crate::pages::View;
use crate::{page, Area, Console, Part, Route};

/// The payouts' function (`console-payouts`): the only one linking S3 (the statements'
/// presigned links, as the payouts API gives them).
pub struct Payouts {
    /// Presigning only: no call is made.
    statements: OnFirstUse<aws_sdk_s3::Client>,
    statements_bucket: String,
}

impl Part for Payouts {
    const AREA: Area = Area::Payouts;

    fn configured(
        sdk: &aws_config::SdkConfig,
        vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        let statements_bucket = vars
            .get("STATEMENTS_BUCKET")
            .filter(|b| !b.is_empty())
            .cloned()
            .ok_or("STATEMENTS_BUCKET is not set")?;
        let sdk = sdk.clone();
        Ok(Payouts {
            statements: OnFirstUse::new(move || presigning_client(&sdk)),
            statements_bucket,
        })
    }

    async fn serve<'a>(
        &'a self,
        c: &'a Console,
        req: &'a Request,
        found: &'a Matched<Route>,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let (route, id) = (found.route, found.param("id"));
        let signed = &match c.gate(req, route, lang, now).await? {
            Ok(signed) => signed,
            Err(answer) => return Ok(answer),
        };
        match route {
            Route::Payouts => {
                let q = lambda_http::RequestExt::query_string_parameters(req);
                let cursor = q.first("cursor").filter(|c| !c.is_empty());
                let listed = match c.db.list_payouts(&signed.merchant.id, cursor, 20).await {
                    Ok(p) => p,
                    // A cursor that is not ours: the first page.
                    Err(smartpit_shared::db::StoreError::Refused(_)) => {
                        c.db.list_payouts(&signed.merchant.id, None, 20).await?
                    }
                    Err(e) => return Err(e.into()),
                };
                Ok(page(
                    StatusCode::OK,
                    lang,
                    Some(signed),
                    &View::Payouts(&listed),
                ))
            }
            Route::Payout => {
                let p = c.own_payout(signed, id).await?;
                Ok(page(StatusCode::OK, lang, Some(signed), &View::Payout(&p)))
            }
            _ => {
                let p = c.own_payout(signed, id).await?;
                let file = match route {
                    Route::StatementPdf => StatementFile::Pdf,
                    _ => StatementFile::Csv,
                };
                let url = statement_link(self.statements.get(), &self.statements_bucket, &p, file)
                    .await
                    .map_err(|e| Problem::internal(&e))?;
                smartpit_shared::http::private_redirect(&url)
            }
        }
    }
}

fn status_name(lang: Lang, s: PayoutStatus) -> &'static str {
    match s {
        PayoutStatus::Scheduled => lang.pick("振込予定", "scheduled"),
        PayoutStatus::Held => lang.pick("保留", "held"),
        PayoutStatus::Paid => lang.pick("振込済み", "paid"),
        PayoutStatus::Failed => lang.pick("振込不能", "failed"),
        PayoutStatus::CarriedForward => lang.pick("繰越", "carried forward"),
    }
}

/// The day's report form: a day (today by default) and the CSV download.
pub fn report_form(lang: Lang, href: &impl Fn(&str) -> String, today: NaiveDate) -> Markup {
    html! {
        section aria-labelledby="report-h" {
            h2 #report-h { (lang.pick("入金明細（CSV）", "Payments report (CSV)")) }
            form #report method="get" action=(href("/console/reports/payments")) {
                @if lang == Lang::En { input type="hidden" name="lang" value="en"; }
                label for="report-date" { (lang.pick("入金日（日本時間）", "Day collected (JST)")) }
                " "
                input id="report-date" name="date" type="date" value=(today) required;
                " "
                button type="submit" { (lang.pick("ダウンロード", "Download")) }
            }
        }
    }
}

pub fn payouts(lang: Lang, href: &impl Fn(&str) -> String, page: &PayoutPage) -> Markup {
    html! {
        h1 { (lang.pick("振込（精算）", "Payouts")) }
        p { (lang.pick("締めた期間ごとの振込額です。明細はPDFとCSVでダウンロードできます。", "What each closed period pays you; each statement downloads as PDF and CSV.")) }
        @if page.payouts.is_empty() {
            p { (lang.pick("まだありません。", "None yet.")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (lang.pick("期間", "Period")) }
                    th scope="col" { (lang.pick("振込日", "Pay date")) }
                    th scope="col" { (lang.pick("振込額", "Net")) }
                    th scope="col" { (lang.pick("状態", "Status")) }
                } }
                tbody {
                    @for p in &page.payouts {
                        tr {
                            td { a href=(href(&format!("/console/payouts/{}", p.id))) { (p.period.start) " – " (p.period.end) } }
                            td { (p.pay_date) }
                            td { (yen(p.net)) }
                            td { (status_name(lang, p.status)) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = &page.next_cursor {
            p { a href=(href(&format!("/console/payouts?cursor={next}"))) { (lang.pick("次のページ", "Next page")) } }
        }
    }
}

pub fn payout(lang: Lang, href: &impl Fn(&str) -> String, p: &Payout) -> Markup {
    let rows: [(&str, &str, String); 8] = [
        ("お客様のお支払い", "Paid by customers", yen(p.gross)),
        ("手数料", "Fees", yen(-p.fees)),
        ("返金", "Refunds", yen(-p.refunds)),
        ("前期からの繰越", "Brought forward", yen(p.brought_forward)),
        ("振込額", "Net", yen(p.net)),
        ("次期への繰越", "Carried forward", yen(p.carried_forward)),
        ("件数", "Bills", p.bill_count.to_string()),
        ("振込日", "Pay date", p.pay_date.to_string()),
    ];
    html! {
        h1 { (lang.pick("振込", "Payout")) " " (p.period.start) " – " (p.period.end) }
        dl {
            dt { (lang.pick("状態", "Status")) }
            dd { (status_name(lang, p.status)) }
            @for (ja, en, v) in &rows {
                dt { (lang.pick(ja, en)) }
                dd { (v) }
            }
            @if let Some(a) = &p.account {
                dt { (lang.pick("振込先", "Account")) }
                dd { (a.bank_name) " " (a.branch_name) " " (a.number) }
            }
            @if let Some(r) = &p.held_reason {
                dt { (lang.pick("保留の理由", "Held because")) }
                dd { (r) }
            }
            @if let Some(r) = &p.failure_reason {
                dt { (lang.pick("振込不能の理由", "Failed because")) }
                dd { (r) }
            }
        }
        p {
            a #statement-pdf href=(href(&format!("/console/payouts/{}/statement.pdf", p.id))) { (lang.pick("明細（PDF）", "Statement (PDF)")) }
            " · "
            a #statement-csv href=(href(&format!("/console/payouts/{}/statement.csv", p.id))) { (lang.pick("明細（CSV）", "Statement (CSV)")) }
        }
    }
}
