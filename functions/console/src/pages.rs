//! The console's pages (maud escapes every value), in the customer pages' frame, stylesheet and
//! security headers: no script, forms only to us, never cached. Japanese first, English with
//! `?lang=en` (kept on every link and form of the page).

use chrono::{DateTime, NaiveDate, Utc};
use maud::{html, Markup};
use smartpit_shared::db::keys::KeyRecord;
use smartpit_shared::db::{InvoicePage, UploadState};
use smartpit_shared::invoice::jst_timestamp;
use smartpit_shared::webhook::Event;
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
        /// `notice.failed` events among the latest ones.
        failed_notices: &'a [Event],
        now: DateTime<Utc>,
    },
    Invoices {
        page: &'a InvoicePage,
        /// The search as asked (field, value), to fill the form and the next page's link.
        search: &'a [(String, String)],
        /// What the API's request type refused, field by field.
        errors: &'a [(String, String)],
        now: DateTime<Utc>,
    },
    NewInvoice {
        form: &'a InvoiceForm,
        errors: &'a [(String, String)],
    },
    Invoice {
        inv: &'a Invoice,
        /// Why the last button was refused.
        refused: Option<&'a str>,
        /// The bill's events (oldest first) with their deliveries; `more_events`: not all read.
        events: &'a [Event],
        more_events: bool,
        now: DateTime<Utc>,
    },
    NewUpload {
        error: Option<&'a str>,
    },
    AdminsOnly,
    Keys {
        keys: &'a [KeyRecord],
        new_key: Option<&'a str>,
        now: DateTime<Utc>,
    },
    Preview {
        id: &'a str,
        good: usize,
        bad: &'a [(usize, String, String)],
    },
    Committed {
        id: &'a str,
        state: &'a UploadState,
    },
    Settings(&'a crate::settings::SettingsView<'a>),
    Payouts(&'a smartpit_shared::db::payouts::PayoutPage),
    Payout(&'a smartpit_shared::payout::Payout),
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
                " · "
                a href=(href(lang, "/console/uploads/new")) { (lang.pick("一括登録", "Bulk (CSV)")) }
                " · "
                a href=(href(lang, "/console/payouts")) { (lang.pick("振込", "Payouts")) }
                " · "
                a href=(href(lang, "/console/settings")) { (lang.pick("設定", "Settings")) }
                @if signed.session.role == smartpit_shared::console::Role::Admin {
                    " · "
                    a href=(href(lang, "/console/keys")) { (lang.pick("APIキー", "API keys")) }
                }
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
        View::TooMany => message(
            lang,
            ("しばらくお待ちください", "Please wait"),
            (
                "ログインの要求が多すぎます。15分ほどしてからお試しください。",
                "Too many sign-in requests. Try again in about 15 minutes.",
            ),
        ),
        View::NotFound => message(lang, ("見つかりません", "Not found"), ("", "")),
        View::Forbidden => message(
            lang,
            ("操作できません", "Not allowed"),
            (
                "フォームの有効期限が切れたか、別の画面から送信されました。何も変更していません。画面を開き直してください。",
                "The form was not this session's (it expired, or came from elsewhere). Nothing was changed: open the page again.",
            ),
        ),
        View::Fault => message(
            lang,
            ("ただいま処理できません", "We cannot do this right now"),
            (
                "しばらくしてからもう一度お試しください。",
                "Please try again in a moment.",
            ),
        ),
        View::Today {
            day,
            paid_count,
            collected,
            open_count,
            more_open,
            due_soon,
            failed_notices,
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
                h2 { (lang.pick("届かなかったお客様への通知", "Notices that did not reach the customer")) }
                p { (lang.pick("最近のイベント100件のうち", "Among the latest 100 events.")) }
                @if failed_notices.is_empty() {
                    p { (lang.pick("ありません。", "None.")) }
                } @else {
                    (failed_rows(lang, failed_notices))
                }
                (crate::money::report_form(lang, &|p| href(lang, p), *day))
            },
        ),
        View::Invoices {
            page,
            search,
            errors,
            now,
        } => (
            lang.pick("請求一覧", "Bills").into(),
            bills_page(lang, page, search, errors, *now),
        ),
        View::NewInvoice { form, errors } => (
            lang.pick("請求登録", "New bill").into(),
            new_invoice(lang, csrf, form, errors),
        ),
        View::NewUpload { error } => (
            lang.pick("一括登録", "Bulk registration").into(),
            html! {
                h1 { (lang.pick("CSVで一括登録", "Register bills from a CSV file")) }
                @if let Some(e) = error {
                    div role="alert" { p { strong { (lang.pick("読み込めませんでした: ", "Not read: ")) } (e) } }
                }
                p { (lang.pick("1行目に列名: ", "First line, the column names: ")) code { (crate::upload::COLUMNS.join(",")) } }
                p { (lang.pick("UTF-8 または Shift_JIS（Excelの「CSV」保存）、10,000行まで。登録前に確認画面が出ます。",
                    "UTF-8 or Shift_JIS (as Excel saves CSV), up to 10,000 lines. You see a preview before anything is registered.")) }
                form #upload method="post" action=(href(lang, "/console/uploads")) enctype="multipart/form-data" {
                    input type="hidden" name="csrf" value=(csrf);
                    p {
                        label for="file" { (lang.pick("CSVファイル", "CSV file")) }
                        br;
                        input id="file" name="file" type="file" accept=".csv,text/csv";
                    }
                    button type="submit" { (lang.pick("確認する", "Preview")) }
                }
            },
        ),
        View::Preview { id, good, bad } => (
            lang.pick("一括登録の確認", "Preview").into(),
            html! {
                h1 { (lang.pick("一括登録の確認", "Preview")) }
                p { (lang.pick("登録できる行: ", "Lines to register: ")) strong { (good) } }
                @if bad.is_empty() {
                    p { (lang.pick("誤りのある行はありません。", "No line has a mistake.")) }
                } @else {
                    h2 { (lang.pick("登録されない行", "Lines that will not be registered")) }
                    table {
                        thead { tr {
                            th scope="col" { (lang.pick("行", "Line")) }
                            th scope="col" { (lang.pick("項目", "Column")) }
                            th scope="col" { (lang.pick("理由", "Why")) }
                        } }
                        tbody {
                            @for (line, field, why) in bad.iter() {
                                tr { td { (line) } td { (field) } td { (why) } }
                            }
                        }
                    }
                }
                @if *good > 0 {
                    form #commit method="post" action=(href(lang, &format!("/console/uploads/{id}/commit"))) {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { (lang.pick("登録する", "Register")) " " (good) (lang.pick("行", " lines")) }
                    }
                }
            },
        ),
        View::Committed { id, state } => (
            lang.pick("一括登録の結果", "Bulk registration").into(),
            html! {
                h1 { (lang.pick("一括登録の結果", "Bulk registration")) }
                @let done = state.next >= state.good;
                p role="status" {
                    @if done { (lang.pick("完了しました。", "Done.")) }
                    @else { (lang.pick("処理中: ", "In progress: ")) (state.next) " / " (state.good) }
                }
                dl {
                    dt { (lang.pick("新たに登録", "Registered now")) }
                    dd #registered { (state.registered) }
                    dt { (lang.pick("登録済み（同じファイルの同じ行）", "Registered before (the same line of the same file)")) }
                    dd #replayed { (state.replayed) }
                    dt { (lang.pick("登録できなかった行", "Refused")) }
                    dd #refused { (state.refused) }
                    dt { (lang.pick("誤りのため対象外の行", "Left out (mistakes)")) }
                    dd { (state.bad) }
                }
                @if !state.failures.is_empty() {
                    ul { @for f in &state.failures { li { (lang.pick("行 ", "line ")) (f) } } }
                }
                @if !done && state.queued && state.failed_runs > 0 {
                    p #held-up role="alert" { (lang.pick("登録が途中で止まっています（失敗 ", "Registration is held up (")) (state.failed_runs)
                        (lang.pick(" 回）。自動で再試行します。続かない場合は運営者に通知され、運営者が再開します。登録済みの行はそのままです。",
                            " failed runs). It is tried again on its own; if it still does not go on, our operators are alerted and resume it. The lines registered so far stand.")) }
                }
                @if !done && state.queued {
                    p { (lang.pick("長いファイルのため、バックグラウンドで登録しています。このページを離れても続きます。",
                        "A long file: it is registered in the background, and goes on if you leave this page.")) }
                    p { a #progress href=(href(lang, &format!("/console/uploads/{id}"))) { (lang.pick("最新の状態を見る", "See how far it is")) } }
                } @else if !done {
                    form #commit method="post" action=(href(lang, &format!("/console/uploads/{id}/commit"))) {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { (lang.pick("続ける", "Go on")) }
                    }
                }
            },
        ),
        View::AdminsOnly => message(
            lang,
            ("管理者のみが操作できます", "Only an admin may open this"),
            (
                "APIキー、Webhook、振込の設定は管理者の権限です。",
                "API keys, webhooks and payout settings are an admin's.",
            ),
        ),
        View::Keys { keys, new_key, now } => (
            lang.pick("APIキー", "API keys").into(),
            html! {
                h1 { (lang.pick("APIキー", "API keys")) }
                @if let Some(k) = new_key {
                    div role="status" {
                        p { strong { (lang.pick("新しいキー（この一度だけ表示します）:", "The new key (shown this once):")) } }
                        p { code #new-key { (k) } }
                        p { (lang.pick("以前のキーは24時間後に使えなくなります。", "The earlier keys stop working in 24 hours.")) }
                    }
                }
                table {
                    thead { tr {
                        th scope="col" { (lang.pick("キー", "Key")) }
                        th scope="col" { (lang.pick("状態", "State")) }
                        th scope="col" { (lang.pick("作成", "Created")) }
                    } }
                    tbody {
                        @for k in keys.iter() {
                            tr { td { code { (k.prefix) "…" } } td { (k.state(*now)) } td { (k.created_at) } }
                        }
                    }
                }
                form #rotate method="post" action=(href(lang, "/console/keys/rotate")) {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { (lang.pick("新しいキーを発行する", "Issue a new key")) }
                }
            },
        ),
        View::Payouts(page) => (
            lang.pick("振込", "Payouts").into(),
            crate::money::payouts(lang, &|p| href(lang, p), page),
        ),
        View::Payout(p) => (
            lang.pick("振込", "Payout").into(),
            crate::money::payout(lang, &|x| href(lang, x), p),
        ),
        View::Settings(v) => (
            lang.pick("設定", "Settings").into(),
            crate::settings::page(lang, csrf, |p| href(lang, p), v),
        ),
        View::Invoice {
            inv,
            refused,
            events,
            more_events,
            now,
        } => (
            format!("{} {}", lang.pick("請求", "Bill"), inv.merchant_order_id),
            html! {
                (invoice(lang, csrf, inv, *refused, *now))
                (event_rows(lang, events, *more_events))
            },
        ),
    }
}

/// The `notice.failed` events: when, which bill, which notice and why.
fn failed_rows(lang: Lang, events: &[Event]) -> Markup {
    html! {
        table {
            thead { tr {
                th scope="col" { (lang.pick("日時", "When")) }
                th scope="col" { (lang.pick("請求", "Bill")) }
                th scope="col" { (lang.pick("通知", "Notice")) }
            } }
            tbody {
                @for e in events {
                    @let body: serde_json::Value = serde_json::from_str(&e.body).unwrap_or_default();
                    tr {
                        td { (jst_timestamp(e.created_at)) }
                        td {
                            @if let Some(id) = &e.invoice_id {
                                a href=(href(lang, &format!("/console/invoices/{id}"))) { code { (id) } }
                            }
                        }
                        td {
                            (body["data"]["notice"]["kind"].as_str().unwrap_or_default())
                            " "
                            (body["data"]["notice"]["status"].as_str().unwrap_or_default())
                            @if let Some(why) = body["data"]["notice"]["reason"].as_str() {
                                ": " (why)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A bill's events with their delivery to the merchant's endpoint.
fn event_rows(lang: Lang, events: &[Event], more: bool) -> Markup {
    html! {
        h2 { (lang.pick("イベント（Webhook）", "Events (webhook)")) }
        @if events.is_empty() {
            p { (lang.pick("ありません。", "None.")) }
        } @else {
            table #events {
                thead { tr {
                    th scope="col" { (lang.pick("日時", "When")) }
                    th scope="col" { (lang.pick("種類", "Type")) }
                    th scope="col" { (lang.pick("配信", "Delivery")) }
                    th scope="col" { (lang.pick("試行", "Attempts")) }
                } }
                tbody {
                    @for e in events {
                        tr {
                            td { (jst_timestamp(e.created_at)) }
                            td { code { (e.kind.as_str()) } }
                            td { (crate::settings::event_state(lang, e)) }
                            td { (e.attempts.len()) }
                        }
                    }
                }
            }
        }
        @if more {
            p { (lang.pick("イベントが多いため、最初の一部のみ表示しています（すべては API の GET /v1/events で）。", "Many events: the first ones only (GET /v1/events lists them all).")) }
        }
    }
}

/// A page that only says something: its heading (also its title) and a line.
fn message(lang: Lang, heading: (&str, &str), text: (&str, &str)) -> (String, Markup) {
    let h = lang.pick(heading.0, heading.1);
    let t = lang.pick(text.0, text.1);
    (
        h.to_string(),
        html! {
            h1 { (h) }
            @if !t.is_empty() { p { (t) } }
        },
    )
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
        "store_description" => lang.pick(
            "店頭での表示（20文字まで）",
            "Shown at the store (up to 20 characters)",
        ),
        _ => lang.pick("内容", "Description"),
    }
}

/// The bill's change and move forms (a registered bill's): the change form holds the bill's
/// values, and sends only what differs; each form has its own idempotency key.
fn change_forms(lang: Lang, csrf: &str, inv: &Invoice) -> Markup {
    let sheet = inv.sheet_url.is_some();
    html! {
        details #change-bill {
            summary { (lang.pick("請求内容を変更する", "Change the bill")) }
            form #change method="post" action=(href(lang, &format!("/console/invoices/{}/change", inv.id))) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="idem" value=(crate::form::InvoiceForm::fresh().idem);
                @for field in crate::form::CHANGE_FIELDS {
                    @let id = format!("x-{field}");
                    p {
                        label for=(id) {
                            @match *field {
                                "email" => (lang.pick("お客様のメールアドレス", "Customer's mail")),
                                f => (label(lang, f)),
                            }
                        }
                        " "
                        input id=(id) name=(field) value=(crate::form::current(inv, field))
                            type=(match *field { "due_date" => "date", "email" | "mobile_email" => "email", _ => "text" });
                    }
                }
                @if sheet {
                    p { (lang.pick("金額・期限・内容を変えると払込票を作り直してお送りします。", "A change of amount, due date or description reissues the sheet and mails it.")) }
                }
                button type="submit" { (lang.pick("変更する", "Change")) }
            }
        }
        @if !sheet {
            details #move-bill {
                summary { (lang.pick("別のカードに移す（紛失など）", "Move to another card (a lost card)")) }
                form #move method="post" action=(href(lang, &format!("/console/invoices/{}/move", inv.id))) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="idem" value=(crate::form::InvoiceForm::fresh().idem);
                    p {
                        label for="m-number" { (lang.pick("新しいカードのスマートピット番号（13桁）", "The new card's Smart Pit number (13 digits)")) }
                        " "
                        input id="m-number" name="smartpit_number" inputmode="numeric" autocomplete="off";
                    }
                    button type="submit" { (lang.pick("移す", "Move")) }
                }
            }
        }
    }
}

/// The bills with the search form (the API's query names; a refused field says why beside it).
fn bills_page(
    lang: Lang,
    page: &InvoicePage,
    search: &[(String, String)],
    errors: &[(String, String)],
    now: DateTime<Utc>,
) -> Markup {
    let value = |name: &str| {
        search
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let status = InvoiceStatus::parse(value("status"));
    let fields: [(&str, &str, &str, &str); 4] = [
        (
            "merchant_order_id",
            lang.pick("注文番号", "Order id"),
            "text",
            "off",
        ),
        (
            "smartpit_number",
            lang.pick("スマートピット番号", "Smart Pit number"),
            "text",
            "off",
        ),
        (
            "created_from",
            lang.pick("登録日（から）", "Registered from"),
            "date",
            "off",
        ),
        (
            "created_to",
            lang.pick("登録日（まで）", "Registered to"),
            "date",
            "off",
        ),
    ];
    let general: Vec<&String> = errors
        .iter()
        .filter(|(f, _)| !SEARCH_NAMES.contains(&f.as_str()))
        .map(|(_, m)| m)
        .collect();
    html! {
        h1 { (lang.pick("請求一覧", "Bills")) }
        @if !errors.is_empty() {
            div role="alert" {
                p { strong { (lang.pick("検索条件をご確認ください。", "Check the search below.")) } }
                @for m in &general { p { (m) } }
            }
        }
        form method="get" action="/console/invoices" role="search" {
            @if lang == Lang::En { input type="hidden" name="lang" value="en"; }
            @for (name, text, kind, auto) in fields {
                @let error = errors.iter().find(|(f, _)| f == name).map(|(_, m)| m);
                @let id = format!("q-{name}");
                p {
                    label for=(id) { (text) }
                    " "
                    input id=(id) name=(name) type=(kind) value=(value(name)) autocomplete=(auto)
                        aria-invalid=[error.map(|_| "true")]
                        aria-describedby=[error.map(|_| format!("{id}-error"))];
                    @if let Some(m) = error {
                        " "
                        span id=(format!("{id}-error")) class="error" { (m) }
                    }
                }
            }
            p {
                label for="q-status" { (lang.pick("状態", "Status")) }
                " "
                select id="q-status" name="status" {
                    option value="" { (lang.pick("すべて", "All")) }
                    @for s in [InvoiceStatus::Registered, InvoiceStatus::Paid, InvoiceStatus::Settled, InvoiceStatus::Cancelled, InvoiceStatus::Expired, InvoiceStatus::Moved] {
                        option value=(s.as_str()) selected[status == Some(s)] { (status_name(lang, s)) }
                    }
                }
                " "
                button type="submit" { (lang.pick("検索", "Search")) }
            }
        }
        @if page.invoices.is_empty() {
            p { (lang.pick("該当する請求はありません。", "No bills found.")) }
        } @else {
            (bill_rows(lang, &page.invoices, now))
        }
        @if let Some(next) = &page.next_cursor {
            @let q = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(search.iter().filter(|(k, _)| k != "cursor"))
                .append_pair("cursor", next)
                .finish();
            p { a href=(href(lang, &format!("/console/invoices?{q}"))) { (lang.pick("次のページ", "Next page")) } }
        }
    }
}

/// The search's fields (an error on any other is shown above the form).
const SEARCH_NAMES: [&str; 5] = [
    "merchant_order_id",
    "smartpit_number",
    "status",
    "created_from",
    "created_to",
];

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

fn invoice(
    lang: Lang,
    csrf: &str,
    inv: &Invoice,
    refused: Option<&str>,
    now: DateTime<Utc>,
) -> Markup {
    let open = inv.status_at(now) == InvoiceStatus::Registered;
    let has_mail = inv.customer.mobile_email.is_some()
        || (inv.sheet_url.is_some() && inv.customer.email.is_some());
    html! {
        h1 { (lang.pick("請求", "Bill")) " " (inv.merchant_order_id) }
        @if let Some(why) = refused {
            div role="alert" { p { strong { (lang.pick("できませんでした: ", "Not done: ")) } (why) } }
        }
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
        @if open {
            h2 { (lang.pick("操作", "Actions")) }
            @if has_mail {
                form #resend method="post" action=(href(lang, &format!("/console/invoices/{}/resend", inv.id))) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="idem" value=(crate::form::InvoiceForm::fresh().idem);
                    button type="submit" { (lang.pick("登録メールを再送する", "Send the bill's mail again")) }
                }
            }
            form #cancel method="post" action=(href(lang, &format!("/console/invoices/{}/cancel", inv.id))) {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { (lang.pick("この請求を取り消す", "Cancel this bill")) }
            }
            (change_forms(lang, csrf, inv))
        }
        @if let Some(to) = &inv.moved_to {
            p { (lang.pick("移動先: ", "Moved to: ")) a href=(href(lang, &format!("/console/invoices/{to}"))) { code { (to) } } }
        }
        @if let Some(from) = &inv.moved_from {
            p { (lang.pick("移動元: ", "Moved from: ")) a href=(href(lang, &format!("/console/invoices/{from}"))) { code { (from) } } }
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
    // The other language, kept by a cookie from then on (the switch's target is a page that
    // is always there: today's, or the sign-in form).
    let home = match signed {
        Some(_) => "/console",
        None => "/console/login",
    };
    let content = html! {
        p class="lang-switch" {
            @match lang {
                Lang::Ja => a href=(format!("{home}?lang=en")) lang="en" hreflang="en" { "English" },
                Lang::En => a href=(format!("{home}?lang=ja")) lang="ja" hreflang="ja" { "日本語" },
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn committed(state: &UploadState) -> String {
        render(Lang::En, None, &View::Committed { id: "u1", state })
    }

    #[test]
    fn a_background_upload_with_failed_runs_says_it_is_held_up_until_it_moves() {
        let mut state = UploadState {
            good: 300,
            next: 100,
            registered: 100,
            queued: true,
            failed_runs: 2,
            ..Default::default()
        };
        let page = committed(&state);
        assert!(page.contains("id=\"held-up\""), "{page}");
        assert!(page.contains("(2 failed runs)"), "{page}");
        assert!(page.contains("id=\"progress\""), "{page}");
        state.failed_runs = 0;
        assert!(!committed(&state).contains("held-up"));
        // Done: nothing to be held up.
        state.failed_runs = 3;
        state.next = 300;
        assert!(!committed(&state).contains("held-up"));
    }
}
