//! The money pages: the payouts (each period's statement as the payouts API lists it, its PDF
//! and CSV) and the day's payments report (the API's CSV).

use chrono::NaiveDate;
use maud::{html, Markup};
use smartpit_shared::db::payouts::PayoutPage;
use smartpit_shared::money::format_yen as yen;
use smartpit_shared::payout::{Payout, PayoutStatus};
use smartpit_sheets::page::Lang;

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
