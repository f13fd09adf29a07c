//! The console's pages (maud escapes every value), in the customer pages' frame, stylesheet and
//! security headers: no script, forms only to us, never cached. Japanese first, English with
//! `?lang=en` (kept on every link and form of the page).

use chrono::{DateTime, NaiveDate, Utc};
use maud::{html, Markup};
use smartpit_shared::db::InvoicePage;
use smartpit_shared::invoice::jst_timestamp;
use smartpit_shared::{Invoice, InvoiceStatus};
use smartpit_sheets::page::{banner, date, frame_with, yen, Lang};

use crate::form::{InvoiceForm, FIELDS};
use crate::Signed;

pub const LOGIN_SUBJECT: &str = "Smart Pit 管理画面へのログイン";

/// What a page shows.
pub enum View<'a> {
    Login {
        sent: bool,
    },
    LoginLink {
        token: &'a str,
    },
    LinkUsed,
    TooMany,
    NotFound,
    Forbidden,
    Fault,
    Today {
        day: NaiveDate,
        paid_count: usize,
        collected: i64,
        open_count: usize,
        more_open: bool,
        due_soon: &'a [Invoice],
        now: DateTime<Utc>,
    },
    Invoices {
        page: &'a InvoicePage,
        status: Option<InvoiceStatus>,
        now: DateTime<Utc>,
    },
    NewInvoice {
        form: &'a InvoiceForm,
        errors: &'a [(String, String)],
    },
    Invoice {
        inv: &'a Invoice,
        now: DateTime<Utc>,
    },
}

/// A path of the console in the page's language.
fn href(lang: Lang, path: &str) -> String {
    match lang {
        Lang::Ja => path.to_string(),
        Lang::En if path.contains('?') => format!("{path}&lang=en"),
        Lang::En => format!("{path}?lang=en"),
    }
}

/// The sign-in mail's text: the link, how long it is good, and what to do if it was not you.
pub fn login_mail(lang: Lang, link: &str) -> String {
    let _ = lang;
    format!(
        "Smart Pit 管理画面へのログインのご案内です。\n\n\
         次のリンクを開き、「ログイン」を押してください（15分間、1回限り有効です）。\n{link}\n\n\
         お心当たりのない場合は、このメールを破棄してください。リンクを開かなければ何も起こりません。\n\n\
         ---\nSign-in link for the Smart Pit console (valid for 15 minutes, once):\n{link}\n\
         If you did not ask for it, ignore this mail.\n"
    )
}

fn status_name(lang: Lang, s: InvoiceStatus) -> &'static str {
    match s {
        InvoiceStatus::Registered => lang.pick("未払い", "open"),
        InvoiceStatus::Paid => lang.pick("支払済", "paid"),
        InvoiceStatus::Settled => lang.pick("確定済", "settled"),
        InvoiceStatus::Cancelled => lang.pick("取消", "cancelled"),
        InvoiceStatus::Expired => lang.pick("期限切れ", "expired"),
        InvoiceStatus::Moved => lang.pick("移動済", "moved"),
    }
}

fn nav(lang: Lang, signed: &Signed) -> Markup {
    html! {
        nav aria-label=(lang.pick("管理画面", "Console")) {
            p {
                strong { (signed.merchant.name) }
                " · "
                a href=(href(lang, "/console")) { (lang.pick("今日", "Today")) }
                " · "
                a href=(href(lang, "/console/invoices")) { (lang.pick("請求一覧", "Bills")) }
                " · "
                a href=(href(lang, "/console/invoices/new")) { (lang.pick("請求登録", "New bill")) }
            }
            form method="post" action=(href(lang, "/console/logout")) {
                input type="hidden" name="csrf" value=(signed.session.csrf);
                button type="submit" { (lang.pick("ログアウト", "Sign out")) }
            }
        }
    }
}

fn bill_rows(lang: Lang, bills: &[Invoice], now: DateTime<Utc>) -> Markup {
    html! {
        table {
            thead {
                tr {
                    th scope="col" { (lang.pick("注文番号", "Order")) }
                    th scope="col" { (lang.pick("金額", "Amount")) }
                    th scope="col" { (lang.pick("支払期限", "Due")) }
                    th scope="col" { (lang.pick("状態", "Status")) }
                }
            }
            tbody {
                @for inv in bills {
                    tr {
                        td { a href=(href(lang, &format!("/console/invoices/{}", inv.id))) { (inv.merchant_order_id) } }
                        td { (yen(inv.total())) }
                        td { (date(lang, inv.due_date)) }
                        td { (status_name(lang, inv.status_at(now))) }
                    }
                }
            }
        }
    }
}

fn login_form(lang: Lang) -> Markup {
    html! {
        form method="post" action=(href(lang, "/console/login")) {
            p {
                label for="email" { (lang.pick("メールアドレス", "Mail address")) }
                br;
                input id="email" name="email" type="email" autocomplete="email" required;
            }
            button type="submit" { (lang.pick("ログイン用リンクを送る", "Send me a sign-in link")) }
        }
    }
}

fn body(lang: Lang, csrf: &str, view: &View) -> (String, Markup) {
    match view {
        View::Login { sent } => (
            lang.pick("管理画面へのログイン", "Sign in to the console")
                .into(),
            html! {
                h1 { (lang.pick("管理画面へのログイン", "Sign in to the console")) }
                @if *sent {
                    (banner("info", lang.pick("メールをご確認ください", "Check your mail"), lang.pick(
                        "登録されたアドレスであれば、ログイン用のリンクをお送りしました（15分間有効）。",
                        "If the address is registered, a sign-in link is on its way (valid for 15 minutes).")))
                }
                (login_form(lang))
            },
        ),
        View::LoginLink { token } => (
            lang.pick("ログイン", "Sign in").into(),
            html! {
                h1 { (lang.pick("ログイン", "Sign in")) }
                p { (lang.pick("このブラウザで管理画面にログインします。", "Sign in to the console in this browser.")) }
                form method="post" action=(href(lang, &format!("/console/login/{token}"))) {
                    button type="submit" { (lang.pick("ログイン", "Sign in")) }
                }
            },
        ),
        View::LinkUsed => (
            lang.pick("リンクが無効です", "This link no longer works")
                .into(),
            html! {
                h1 { (lang.pick("リンクが無効です", "This link no longer works")) }
                p { (lang.pick("ログイン用リンクは15分間、1回限り有効です。もう一度お送りします。",
                    "A sign-in link works once, for 15 minutes. Ask for a new one.")) }
                (login_form(lang))
            },
        ),
        View::TooMany => (
            lang.pick("しばらくお待ちください", "Please wait").into(),
            html! {
                h1 { (lang.pick("しばらくお待ちください", "Please wait")) }
                p { (lang.pick("ログインの要求が多すぎます。15分ほどしてからお試しください。",
                    "Too many sign-in requests. Try again in about 15 minutes.")) }
            },
        ),
        View::NotFound => (
            lang.pick("見つかりません", "Not found").into(),
            html! { h1 { (lang.pick("見つかりません", "Not found")) } },
        ),
        View::Forbidden => (
            lang.pick("操作できません", "Not allowed").into(),
            html! {
                h1 { (lang.pick("操作できません", "Not allowed")) }
                p { (lang.pick("フォームの有効期限が切れたか、別の画面から送信されました。何も変更していません。画面を開き直してください。",
                    "The form was not this session's (it expired, or came from elsewhere). Nothing was changed: open the page again.")) }
            },
        ),
        View::Fault => (
            lang.pick("エラー", "Error").into(),
            html! {
                h1 { (lang.pick("ただいま処理できません", "We cannot do this right now")) }
                p { (lang.pick("しばらくしてからもう一度お試しください。", "Please try again in a moment.")) }
            },
        ),
        View::Today {
            day,
            paid_count,
            collected,
            open_count,
            more_open,
            due_soon,
            now,
        } => (
            lang.pick("今日", "Today").into(),
            html! {
                h1 { (lang.pick("今日", "Today")) " " (date(lang, *day)) }
                dl {
                    dt { (lang.pick("本日の入金", "Collected today")) }
                    dd { (paid_count) (lang.pick("件 ", " payments, ")) (yen(*collected)) }
                    dt { (lang.pick("未払いの請求", "Open bills")) }
                    dd { (open_count) @if *more_open { "+" } (lang.pick("件", "")) }
                }
                h2 { (lang.pick("3日以内に期限を迎える請求", "Due in the next 3 days")) }
                @if due_soon.is_empty() {
                    p { (lang.pick("ありません。", "None.")) }
                } @else {
                    (bill_rows(lang, due_soon, *now))
                }
            },
        ),
        View::Invoices { page, status, now } => (
            lang.pick("請求一覧", "Bills").into(),
            html! {
                h1 { (lang.pick("請求一覧", "Bills")) }
                form method="get" action="/console/invoices" {
                    @if lang == Lang::En { input type="hidden" name="lang" value="en"; }
                    label for="status" { (lang.pick("状態", "Status")) }
                    " "
                    select id="status" name="status" {
                        option value="" { (lang.pick("すべて", "All")) }
                        @for s in [InvoiceStatus::Registered, InvoiceStatus::Paid, InvoiceStatus::Settled, InvoiceStatus::Cancelled, InvoiceStatus::Expired, InvoiceStatus::Moved] {
                            option value=(s.as_str()) selected[*status == Some(s)] { (status_name(lang, s)) }
                        }
                    }
                    " "
                    button type="submit" { (lang.pick("表示", "Show")) }
                }
                @if page.invoices.is_empty() {
                    p { (lang.pick("請求はありません。", "No bills.")) }
                } @else {
                    (bill_rows(lang, &page.invoices, *now))
                }
                @if let Some(next) = &page.next_cursor {
                    @let q = match status { Some(s) => format!("/console/invoices?status={}&cursor={next}", s.as_str()), None => format!("/console/invoices?cursor={next}") };
                    p { a href=(href(lang, &q)) { (lang.pick("次のページ", "Next page")) } }
                }
            },
        ),
        View::NewInvoice { form, errors } => (
            lang.pick("請求登録", "New bill").into(),
            new_invoice(lang, csrf, form, errors),
        ),
        View::Invoice { inv, now } => (
            format!("{} {}", lang.pick("請求", "Bill"), inv.merchant_order_id),
            invoice(lang, inv, *now),
        ),
    }
}

fn label(lang: Lang, field: &str) -> &'static str {
    match field {
        "merchant_order_id" => lang.pick("注文番号", "Order number"),
        "amount" => lang.pick("金額（円）", "Amount (yen)"),
        "customer_fee" => lang.pick(
            "お客様手数料（円、0〜1,000）",
            "Customer fee (yen, 0-1,000)",
        ),
        "due_date" => lang.pick("支払期限", "Due date"),
        "smartpit_number" => lang.pick(
            "スマートピット番号（カードの13桁）",
            "Smart Pit number (the card's 13 digits)",
        ),
        "email" => lang.pick(
            "お客様のメールアドレス（番号がなければ払込票を送ります）",
            "Customer's mail (without a number, a sheet is mailed)",
        ),
        "mobile_email" => lang.pick("お客様の携帯メールアドレス", "Customer's mobile mail"),
        _ => lang.pick("内容", "Description"),
    }
}

fn new_invoice(lang: Lang, csrf: &str, form: &InvoiceForm, errors: &[(String, String)]) -> Markup {
    let general: Vec<&String> = errors
        .iter()
        .filter(|(f, _)| !FIELDS.contains(&f.as_str()))
        .map(|(_, m)| m)
        .collect();
    html! {
        h1 { (lang.pick("請求登録", "New bill")) }
        @if !errors.is_empty() {
            div role="alert" {
                p { strong { (lang.pick("登録できませんでした。次の項目をご確認ください。", "Not registered: check the fields below.")) } }
                @for m in &general { p { (m) } }
            }
        }
        form #register method="post" action=(href(lang, "/console/invoices")) novalidate {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="idem" value=(form.idem);
            @for field in FIELDS {
                @let error = errors.iter().find(|(f, _)| f == field).map(|(_, m)| m);
                @let id = format!("f-{field}");
                p {
                    label for=(id) { (label(lang, field)) }
                    br;
                    input id=(id) name=(field) value=(form.value(field))
                        type=(match *field { "due_date" => "date", "email" | "mobile_email" => "email", _ => "text" })
                        aria-invalid=[error.map(|_| "true")]
                        aria-describedby=[error.map(|_| format!("{id}-error"))];
                    @if let Some(m) = error {
                        br;
                        span id=(format!("{id}-error")) class="error" { (m) }
                    }
                }
            }
            button type="submit" { (lang.pick("登録する", "Register")) }
        }
    }
}

fn invoice(lang: Lang, inv: &Invoice, now: DateTime<Utc>) -> Markup {
    html! {
        h1 { (lang.pick("請求", "Bill")) " " (inv.merchant_order_id) }
        dl {
            dt { (lang.pick("状態", "Status")) }
            dd { (status_name(lang, inv.status_at(now))) }
            dt { (lang.pick("金額", "Amount")) }
            dd { (yen(inv.amount)) @if inv.customer_fee > 0 { " + " (yen(inv.customer_fee)) } }
            dt { (lang.pick("支払期限", "Due")) }
            dd { (date(lang, inv.due_date)) }
            dt { (lang.pick("スマートピット番号", "Smart Pit number")) }
            dd { (inv.number().grouped()) }
            dt { (lang.pick("請求ID", "Bill id")) }
            dd { code { (inv.id) } }
            @if let Some(d) = &inv.description {
                dt { (lang.pick("内容", "Description")) }
                dd { (d) }
            }
            @if let Some(url) = &inv.sheet_url {
                dt { (lang.pick("払込票", "Sheet")) }
                dd { a href=(url) { (lang.pick("お支払いページ", "Payment page")) } }
            }
        }
        h2 { (lang.pick("入金", "Payments")) }
        @if inv.payments.is_empty() {
            p { (lang.pick("まだありません。", "None yet.")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (lang.pick("日時", "When")) }
                    th scope="col" { (lang.pick("店舗", "Store")) }
                    th scope="col" { (lang.pick("状態", "Status")) }
                } }
                tbody {
                    @for p in &inv.payments {
                        tr {
                            td { (jst_timestamp(p.paid_at)) }
                            td { (p.store_chain) " " (p.store_code) }
                            td { (match p.status.as_str() {
                                "voided" => lang.pick("取消", "voided"),
                                "settled" => lang.pick("確定", "settled"),
                                _ => lang.pick("入金", "paid"),
                            }) }
                        }
                    }
                }
            }
        }
        h2 { (lang.pick("お客様への通知", "Notices to the customer")) }
        @if inv.notices.is_empty() {
            p { (lang.pick("ありません。", "None.")) }
        } @else {
            ul {
                @for n in &inv.notices {
                    li { (n.kind.as_str()) ": " (n.status.as_str()) }
                }
            }
        }
    }
}

/// A page: the frame, the signed-in navigation, the view.
pub fn render(lang: Lang, signed: Option<&Signed>, view: &View) -> String {
    let csrf = signed.map_or("", |s| s.session.csrf.as_str());
    let (title, main) = body(lang, csrf, view);
    let content = html! {
        @if let Some(s) = signed { (nav(lang, s)) }
        (main)
    };
    frame_with(
        lang,
        &format!(
            "{title} | {}",
            lang.pick("スマートピット管理画面", "Smart Pit console")
        ),
        None,
        content,
        lang.pick(
            "スマートピット 加盟店管理画面",
            "Smart Pit merchant console",
        ),
    )
}
