//! The customer's pages, server-rendered HTML (maud escapes every value): the payment page
//! behind a sheet link, its state pages, and the free-number page. No script anywhere; one
//! small stylesheet, inline and allowed by its hash in the Content-Security-Policy; the pages
//! work on a phone and print on one A4 page.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use smartpit_shared::clock::japanese_date;
use smartpit_shared::merchant_contact::MerchantContact;
use smartpit_shared::money::format_yen;
use smartpit_shared::store_chain::{catalogue, how_to_pay, Channel};
use smartpit_shared::SmartPitNumber;

/// The pages' whole stylesheet.
pub const CSS: &str = include_str!("page.css");

/// The stylesheet's SHA-256, base64 (build.rs).
const STYLE_SHA256: &str = env!("PAGE_CSS_SHA256");

/// No script, no frame, nothing from elsewhere: the stylesheet by its hash, forms only to us.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src 'sha256-{STYLE_SHA256}'; img-src 'self' data:; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    /// `?lang=` first, then `Accept-Language`, else Japanese.
    pub fn of(req: &Request) -> Lang {
        let asked = lambda_http::RequestExt::query_string_parameters(req)
            .first("lang")
            .map(str::to_string);
        match asked.as_deref() {
            Some("en") => return Lang::En,
            Some("ja") => return Lang::Ja,
            _ => {}
        }
        let header = smartpit_shared::http::header(req, "accept-language").unwrap_or_default();
        match accept_language::intersection(header, &["ja", "en"])
            .first()
            .map(String::as_str)
        {
            Some("en") => Lang::En,
            _ => Lang::Ja,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    pub fn pick<'a>(self, ja: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Ja => ja,
            Lang::En => en,
        }
    }
}

/// What the payment page shows of one bill.
pub struct Bill<'a> {
    pub token: &'a str,
    pub merchant_name: &'a str,
    pub merchant_order_id: &'a str,
    pub description: Option<&'a str>,
    pub amount: i64,
    pub customer_fee: i64,
    pub due_date: NaiveDate,
    pub number: SmartPitNumber,
    /// The 44-digit register code (the sheet's barcode).
    pub payment_code: String,
}

/// What a link's page says about its bill.
pub enum State<'a> {
    Payable(Bill<'a>),
    Paid {
        merchant_name: &'a str,
        total: i64,
        paid_on: NaiveDate,
        /// The お支払い完了証明's link, once the notifier stored it.
        confirmation: Option<String>,
    },
    Expired,
    Cancelled,
    Moved,
    Unknown,
    /// The sheet PDF is not made yet (the PDF route only).
    Preparing,
    /// The PDF of a paid bill (the PDF route only).
    AlreadyPaid,
    /// The confirmation of a payment that is not made yet (the confirmation route only).
    ConfirmationPreparing,
    /// The confirmation of a bill with no payment standing (never paid, or voided).
    NotPaid,
}

impl State<'_> {
    pub fn status(&self) -> StatusCode {
        match self {
            State::Payable(_) | State::Paid { .. } => StatusCode::OK,
            State::Expired | State::Cancelled | State::Moved | State::AlreadyPaid => {
                StatusCode::GONE
            }
            State::Unknown | State::NotPaid => StatusCode::NOT_FOUND,
            State::Preparing | State::ConfirmationPreparing => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

pub fn english_date(d: NaiveDate) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let month = MONTHS.get(d.month0() as usize).copied().unwrap_or_default();
    format!("{} {month} {}", d.day(), d.year())
}

pub fn date(lang: Lang, d: NaiveDate) -> String {
    match lang {
        Lang::Ja => japanese_date(d),
        Lang::En => english_date(d),
    }
}

pub fn yen(amount: i64) -> String {
    format_yen(amount)
}

/// The page frame: language switch, title, the stylesheet, the body.
pub fn frame(lang: Lang, title: &str, switch_to: Option<&str>, body: Markup) -> String {
    let footer = lang.pick(
        "お支払いは現金のみです。ご請求内容のお問い合わせはご請求元へお願いします。",
        "Cash only. For questions about the bill, please contact the merchant.",
    );
    frame_with(lang, title, switch_to, body, footer)
}

/// As `frame`, with the footer's words.
pub fn frame_with(
    lang: Lang,
    title: &str,
    switch_to: Option<&str>,
    body: Markup,
    footer: &str,
) -> String {
    let other = match lang {
        Lang::Ja => ("en", "English"),
        Lang::En => ("ja", "日本語"),
    };
    let page = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                meta name="robots" content="noindex";
                // No favicon request (the API has no such route).
                link rel="icon" href="data:,";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    span.brand { (lang.pick("スマートピット", "Smart Pit")) }
                    @if let Some(path) = switch_to {
                        a.lang href=(format!("{path}?lang={}", other.0)) hreflang=(other.0) { (other.1) }
                    }
                }
                main { (body) }
                footer {
                    p { (footer) }
                }
            }
        }
    };
    page.into_string()
}

pub fn banner(kind: &str, heading: &str, text: &str) -> Markup {
    html! {
        section class=(format!("banner {kind}")) role="status" {
            h1 { (heading) }
            p { (text) }
        }
    }
}

fn instructions(lang: Lang) -> Markup {
    let chains = catalogue().unwrap_or_default();
    let how = how_to_pay().ok();
    let steps_of = |id: &str| -> Vec<String> {
        how.as_ref()
            .and_then(|h| h.chains.get(id))
            .map(|s| match lang {
                Lang::Ja => s.ja.clone(),
                Lang::En => s.en.clone(),
            })
            .unwrap_or_default()
    };
    let group = |channel: Channel| -> Vec<(String, Vec<String>)> {
        chains
            .iter()
            .filter(|c| c.channel == channel)
            .map(|c| {
                let name = lang.pick(&c.name_ja, &c.name_en).to_string();
                (name, steps_of(&c.id))
            })
            .collect()
    };
    html! {
        section.how {
            h2 { (lang.pick("お支払い方法", "How to pay")) }
            h3 { (lang.pick("店内の端末で番号を入力するお店", "Stores where you type the number at a kiosk")) }
            @for (name, steps) in group(Channel::Kiosk) {
                details open {
                    summary { (name) }
                    ol { @for s in &steps { li { (s) } } }
                }
            }
            h3 { (lang.pick("レジでバーコードを読み取るお店", "Stores where the register scans the barcode")) }
            @for (name, steps) in group(Channel::Register) {
                details open {
                    summary { (name) }
                    ol { @for s in &steps { li { (s) } } }
                }
            }
            @if let Some(h) = &how {
                p.version { (lang.pick("手順の版", "Instructions as of")) " " (h.version) }
            }
        }
    }
}

fn payable(lang: Lang, bill: &Bill) -> Markup {
    let total = bill.amount + bill.customer_fee;
    let deadline = match lang {
        Lang::Ja => format!("{} 23:59まで", japanese_date(bill.due_date)),
        Lang::En => format!("23:59 on {} (Japan time)", english_date(bill.due_date)),
    };
    let svg = smartpit_shared::sheet::barcode::barcode_svg(&bill.payment_code, 50, "GS1-128")
        .unwrap_or_default();
    let (first, second) = bill.payment_code.split_at(bill.payment_code.len().min(22));
    html! {
        h1 { (lang.pick("お支払いのご案内", "Your payment slip")) }
        dl.bill {
            dt { (lang.pick("ご請求元", "Merchant")) }
            dd.merchant { (bill.merchant_name) }
            dt { (lang.pick("ご注文番号", "Order number")) }
            dd { (bill.merchant_order_id) }
            @if let Some(d) = bill.description {
                dt { (lang.pick("ご購入内容", "Purchase")) }
                dd { (d) }
            }
            dt { (lang.pick("お支払金額", "Amount to pay")) }
            dd.amount {
                (yen(total))
                @if bill.customer_fee > 0 {
                    small { " (" (lang.pick("代金", "price")) " " (yen(bill.amount)) " + "
                        (lang.pick("手数料", "fee")) " " (yen(bill.customer_fee)) ")" }
                }
            }
            dt { (lang.pick("お支払期限", "Pay by")) }
            dd.deadline { (deadline) }
        }
        section.number {
            h2 { (lang.pick("スマートピット番号", "Smart Pit number")) }
            p.digits { (bill.number.grouped()) }
        }
        section.barcode {
            h2 { (lang.pick("レジ用バーコード", "Barcode for the register")) }
            div.bars { (PreEscaped(svg)) }
            p.code { (first) br; (second) }
        }
        p.download {
            a.button href=(format!("/s/{}/sheet.pdf", bill.token)) download {
                (lang.pick("シートをダウンロード (PDF)", "Download the sheet (PDF)"))
            }
        }
        (instructions(lang))
    }
}

/// How to reach the merchant, under a bill's page (payable, paid or closed) when it gave any.
pub fn contact_block(lang: Lang, merchant_name: &str, contact: &MerchantContact) -> Markup {
    html! {
        @if !contact.is_empty() {
            section.contact aria-labelledby="contact" {
                h2 #contact { (lang.pick("お問い合わせ先", "Contact the merchant")) ": " (merchant_name) }
                dl.bill {
                    @for (ja, en, v) in contact.labelled() {
                        dt { (lang.pick(ja, en)) }
                        dd {
                            @match ja {
                                "Web" => a href=(v) rel="noopener noreferrer" { (v) },
                                "メール" => a href=(format!("mailto:{v}")) { (v) },
                                "電話" => a href=(format!("tel:{}", v.replace('-', ""))) { (v) },
                                _ => (v),
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The page of a link's state, with the merchant's contact details (`merchant`: its name and
/// contact) under it.
pub fn render_for(
    lang: Lang,
    state: &State,
    path: Option<&str>,
    merchant: Option<(&str, &MerchantContact)>,
) -> String {
    let shown = render_body(lang, state);
    let body = match merchant {
        Some((name, contact)) => html! { (shown) (contact_block(lang, name, contact)) },
        None => shown,
    };
    frame(
        lang,
        lang.pick("スマートピット お支払い", "Smart Pit payment"),
        path,
        body,
    )
}

/// The page of a link's state.
pub fn render(lang: Lang, state: &State, path: Option<&str>) -> String {
    render_for(lang, state, path, None)
}

/// The body of a link's state's page.
fn render_body(lang: Lang, state: &State) -> Markup {
    match state {
        State::Payable(bill) => payable(lang, bill),
        State::Paid {
            merchant_name,
            total,
            paid_on,
            confirmation,
        } => html! {
            (banner("paid", lang.pick("お支払い済みです", "Paid"), &match lang {
                Lang::Ja => format!("{}にお支払いいただきました。ありがとうございました。", date(lang, *paid_on)),
                Lang::En => format!("This bill was paid on {}. Thank you.", date(lang, *paid_on)),
            }))
            dl.bill {
                dt { (lang.pick("ご請求元", "Merchant")) }
                dd.merchant { (merchant_name) }
                dt { (lang.pick("お支払金額", "Amount paid")) }
                dd.amount { (yen(*total)) }
            }
            @if let Some(href) = confirmation {
                p.download {
                    a.button href=(href) {
                        (lang.pick("お支払い完了証明 (PDF)", "Payment confirmation (PDF)"))
                    }
                }
            } @else {
                p { (lang.pick("お支払い完了証明を準備しています。しばらくしてから再度お開きください。",
                    "The payment confirmation is being prepared. Please open this page again in a moment.")) }
            }
            p { (lang.pick("お支払い完了証明は領収書ではありません。領収書はお支払いいただいた店舗のレシートです。",
                "The payment confirmation is not a receipt: the store's receipt is.")) }
        },
        State::Expired => banner(
            "expired",
            lang.pick("お支払期限を過ぎました", "This bill has expired"),
            lang.pick(
                "このシートはお支払期限を過ぎたため、ご利用いただけません。ご請求元へお問い合わせください。",
                "Its payment deadline has passed, so it can no longer be paid. Please contact the merchant.",
            ),
        ),
        State::Cancelled => banner(
            "cancelled",
            lang.pick("このご請求は取り消されました", "This bill was cancelled"),
            lang.pick(
                "ご請求元がこのご請求を取り消しました。ご請求元へお問い合わせください。",
                "The merchant cancelled this bill. Please contact the merchant.",
            ),
        ),
        State::Moved => banner(
            "cancelled",
            lang.pick("このご請求は別の番号に移されました", "This bill was moved"),
            lang.pick(
                "このご請求は別のスマートピット番号に移されました。ご請求元からのご案内をご確認ください。",
                "This bill was moved to another Smart Pit number. Please see the merchant's message.",
            ),
        ),
        State::Unknown => banner(
            "unknown",
            lang.pick("シートが見つかりません", "No sheet found"),
            lang.pick(
                "このリンクのシートは見つかりません。メールのURLをご確認ください。",
                "No sheet is found for this link. Please check the URL in your mail.",
            ),
        ),
        State::AlreadyPaid => banner(
            "paid",
            lang.pick("お支払い済みです", "Paid"),
            lang.pick(
                "このご請求はお支払い済みのため、シートは不要です。",
                "This bill is paid: its sheet is no longer needed.",
            ),
        ),
        State::ConfirmationPreparing => banner(
            "unknown",
            lang.pick("お支払い完了証明を準備しています", "The payment confirmation is being prepared"),
            lang.pick(
                "お支払い完了証明を準備しています。しばらくしてから再度お開きください。",
                "The payment confirmation is being prepared. Please try again in a moment.",
            ),
        ),
        State::NotPaid => banner(
            "unknown",
            lang.pick("お支払いの記録がありません", "No payment to confirm"),
            lang.pick(
                "このご請求にはお支払いの記録がありません。お支払いページをご確認ください。",
                "There is no payment of this bill to confirm. Please see the payment page.",
            ),
        ),
        State::Preparing => banner(
            "unknown",
            lang.pick("シートを準備しています", "The sheet is being prepared"),
            lang.pick(
                "シートを準備しています。しばらくしてから再度お開きください。",
                "The sheet is being prepared. Please try again in a moment.",
            ),
        ),
    }
}

/// An HTML answer with the pages' security headers: the policy above, no referrer (a link's
/// token is in its URL), no sniffing, no framing, never cached anywhere.
pub fn respond(status: StatusCode, html: String) -> Response<Body> {
    let mut resp = Response::new(Body::Text(html));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy()) {
        h.insert(http::header::CONTENT_SECURITY_POLICY, csp);
    }
    h.insert(
        http::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        http::header::X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        http::header::VARY,
        HeaderValue::from_static("Accept-Language"),
    );
    resp
}

/// The day a payment was made, in Japan.
pub fn paid_on(at: DateTime<Utc>) -> NaiveDate {
    smartpit_shared::clock::jst_date(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bill() -> Bill<'static> {
        Bill {
            token: "sht_abc",
            merchant_name: "<script>alert(1)</script>書店",
            merchant_order_id: "A&B",
            description: Some("本"),
            amount: 1_200,
            customer_fee: 100,
            due_date: NaiveDate::from_ymd_opt(2026, 12, 10).unwrap_or_default(),
            number: SmartPitNumber::parse("4901234567894")
                .unwrap_or_else(|_| SmartPitNumber::from_body(0)),
            payment_code: "9".repeat(44),
        }
    }

    #[test]
    fn values_are_escaped_and_nothing_runs() {
        let page = render(Lang::Ja, &State::Payable(bill()), Some("/s/sht_abc"));
        assert!(!page.contains("<script"), "{page}");
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("A&amp;B"));
        assert!(page.contains("2026年12月10日 23:59まで"));
        assert!(page.contains("¥1,300"));
        assert!(page.contains("4901 2345 67894"));
    }

    #[test]
    fn the_policy_names_the_stylesheet_by_its_hash() {
        use base64::Engine;
        use sha2::{Digest, Sha256};
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(CSS));
        assert!(content_security_policy().contains(&format!("'sha256-{hash}'")));
    }

    #[test]
    fn the_policy_allows_exactly_the_stylesheet() {
        let csp = content_security_policy();
        assert!(csp.contains("default-src 'none'"));
        assert!(!csp.contains("unsafe"));
        assert!(!csp.contains("script-src"));
        let page = render(Lang::En, &State::Expired, None);
        assert!(page.contains(&format!("<style>{CSS}</style>")));
    }
}
