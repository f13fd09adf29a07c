//! The refund page's HTML (maud escapes every value), in the payment page's frame, stylesheet
//! and security headers: no script, forms only to us, never cached.

use chrono::NaiveDate;
use maud::{html, Markup};
use smartpit_shared::refund::Refund;
use smartpit_shared::zengin::{AccountForm, AccountType};
use smartpit_sheets::page::{banner, date, frame_with, yen, Lang};

/// What the page shows.
pub enum View<'a> {
    /// The form, empty or again with each field's mistake.
    Form {
        refund: &'a Refund,
        merchant_name: &'a str,
        form: &'a AccountForm,
        errors: &'a [(&'static str, String)],
    },
    /// The details are stored: what was received and when the money is expected.
    Received {
        refund: &'a Refund,
        merchant_name: &'a str,
        expected: Option<NaiveDate>,
    },
    AlreadyGiven,
    Paid,
    Cancelled,
    Unknown,
    TooMany,
    Fault,
}

fn field_error(lang: Lang, errors: &[(&'static str, String)], field: &str) -> Option<String> {
    let (_, message) = errors.iter().find(|e| e.0 == field)?;
    // The checks' messages are English; the Japanese page leads with its own words.
    Some(match lang {
        Lang::Ja => format!(
            "{}（{message}）",
            match field {
                "bank" => "金融機関コードを確認してください",
                "branch" => "支店コードを確認してください",
                "account_type" => "預金種目を選んでください",
                "number" => "口座番号は7桁です",
                _ => "口座名義はカナでご入力ください",
            }
        ),
        Lang::En => message.clone(),
    })
}

fn input(
    lang: Lang,
    errors: &[(&'static str, String)],
    name: &str,
    label: (&str, &str),
    value: &str,
    hint: (&str, &str),
    mode: &str,
) -> Markup {
    let error = field_error(lang, errors, name);
    html! {
        label for=(name) { (lang.pick(label.0, label.1)) }
        input id=(name) name=(name) value=(value) inputmode=(mode) autocomplete="off"
            aria-invalid=(if error.is_some() { "true" } else { "false" })
            aria-describedby=(format!("{name}-hint"));
        p.version id=(format!("{name}-hint")) { (lang.pick(hint.0, hint.1)) }
        @if let Some(e) = error {
            p.error role="alert" { (e) }
        }
    }
}

fn summary(lang: Lang, refund: &Refund, merchant_name: &str) -> Markup {
    html! {
        dl.bill {
            dt { (lang.pick("ご返金元", "Refunded by")) }
            dd.merchant { (merchant_name) }
            dt { (lang.pick("ご返金額", "Amount")) }
            dd.amount { (yen(refund.amount)) }
            @if let Some(reason) = &refund.reason {
                dt { (lang.pick("理由", "Reason")) }
                dd { (reason) }
            }
        }
    }
}

fn form(
    lang: Lang,
    refund: &Refund,
    merchant_name: &str,
    f: &AccountForm,
    errors: &[(&'static str, String)],
) -> Markup {
    let type_error = field_error(lang, errors, "account_type");
    let returned = refund.status == smartpit_shared::refund::RefundStatus::Failed;
    html! {
        @if returned {
            (banner("expired", lang.pick("お振込みができませんでした", "The transfer came back"), lang.pick(
                "ご登録の口座へのお振込みが銀行から返却されました。口座情報をご確認のうえ、もう一度ご登録ください。",
                "The bank returned the transfer to the account you gave. Please check it and enter it again."
            )))
        }
        h1 { (lang.pick("返金先口座のご登録", "Your account for the refund")) }
        p { (lang.pick(
            "コンビニでお支払いいただいた代金を、銀行振込でお返しします。お振込先の口座をご入力ください。",
            "The cash you paid at the store is given back by bank transfer. Please enter the account to pay it to."
        )) }
        (summary(lang, refund, merchant_name))
        @if !errors.is_empty() {
            p.error role="alert" { (lang.pick("入力内容をご確認ください。", "Please check the fields marked below.")) }
        }
        form method="post" {
            (input(lang, errors, "bank", ("金融機関コード（4桁）", "Bank code (4 digits)"), &f.bank, ("例: 0005", "e.g. 0005"), "numeric"))
            (input(lang, errors, "branch", ("支店コード（3桁）", "Branch code (3 digits)"), &f.branch, ("例: 001", "e.g. 001"), "numeric"))
            label for="account_type" { (lang.pick("預金種目", "Account type")) }
            select id="account_type" name="account_type"
                aria-invalid=(if type_error.is_some() { "true" } else { "false" }) {
                @for t in [AccountType::Ordinary, AccountType::Current, AccountType::Savings] {
                    option value=(t.as_str()) selected[f.account_type == t.as_str()] {
                        (match lang { Lang::Ja => t.japanese(), Lang::En => t.as_str() })
                    }
                }
            }
            @if let Some(e) = type_error {
                p.error role="alert" { (e) }
            }
            (input(lang, errors, "number", ("口座番号（7桁）", "Account number (7 digits)"), &f.number, ("通帳に記載の番号", "As your passbook shows it"), "numeric"))
            (input(lang, errors, "holder", ("口座名義（カナ）", "Account holder (kana)"), &f.holder, ("例: ヤマダ タロウ", "e.g. ヤマダ タロウ"), "text"))
            p { button type="submit" { (lang.pick("この口座に返金を受け取る", "Send the refund to this account")) } }
        }
    }
}

/// The page of `view`; `path` for the language switch.
pub fn render(lang: Lang, path: Option<&str>, view: &View) -> String {
    let title = lang.pick("スマートピット ご返金", "Smart Pit refund");
    let body = match view {
        View::Form {
            refund,
            merchant_name,
            form: f,
            errors,
        } => form(lang, refund, merchant_name, f, errors),
        View::Received {
            refund,
            merchant_name,
            expected,
        } => {
            let when = expected.map(|d| date(lang, d)).unwrap_or_default();
            html! {
                (banner("paid", lang.pick("口座情報を受け付けました", "Your account is received"), &match lang {
                    Lang::Ja => format!("{when}ごろまでにお振込みの予定です。", ),
                    Lang::En => format!("The transfer is expected by {when}."),
                }))
                (summary(lang, refund, merchant_name))
                @if let Some(a) = &refund.account {
                    dl.bill {
                        dt { (lang.pick("金融機関", "Bank")) }
                        dd { (a.bank_name) " (" (a.bank_code) ")" }
                        dt { (lang.pick("支店", "Branch")) }
                        dd { (a.branch_name) " (" (a.branch_code) ")" }
                        dt { (lang.pick("口座番号", "Account number")) }
                        dd { (a.number) }
                    }
                }
            }
        }
        View::AlreadyGiven => banner(
            "paid",
            lang.pick("口座情報はお受けしています", "Your account was received already"),
            lang.pick(
                "このご返金の口座情報はすでにお受けしています。変更はご返金元へお問い合わせください。",
                "The account for this refund was given already. To change it, please contact the merchant.",
            ),
        ),
        View::Paid => banner(
            "paid",
            lang.pick("お振込み済みです", "The refund is paid"),
            lang.pick(
                "このご返金はお振込み済みです。",
                "This refund has been transferred.",
            ),
        ),
        View::Cancelled => banner(
            "cancelled",
            lang.pick("このご返金は取り消されました", "This refund was cancelled"),
            lang.pick(
                "ご返金元がこのご返金を取り消しました。ご返金元へお問い合わせください。",
                "The merchant cancelled this refund. Please contact the merchant.",
            ),
        ),
        View::Unknown => banner(
            "unknown",
            lang.pick("ページが見つかりません", "No such page"),
            lang.pick(
                "このリンクのご返金は見つかりません。メールのURLをご確認ください。",
                "No refund is found for this link. Please check the URL you were given.",
            ),
        ),
        View::TooMany => banner(
            "unknown",
            lang.pick("しばらくお待ちください", "Please wait a moment"),
            lang.pick(
                "短い間に多くのリンクが開かれました。1分ほどしてから再度お開きください。",
                "Too many links were opened in a short time. Please try again in a minute.",
            ),
        ),
        View::Fault => banner(
            "unknown",
            lang.pick("ただいま表示できません", "The page cannot be shown now"),
            lang.pick(
                "しばらくしてから再度お試しください。ご入力の内容は保存されていません。",
                "Please try again shortly. Nothing you entered was stored.",
            ),
        ),
    };
    let footer = lang.pick(
        "ご返金の内容についてのお問い合わせはご返金元へお願いします。口座情報は暗号化して保管し、お振込み後30日で消去します。",
        "For questions about the refund, please contact the merchant. Your account is stored encrypted and erased 30 days after the transfer.",
    );
    frame_with(lang, title, path, body, footer)
}
