//! The customer mails, in Japanese. Everything a merchant sent is escaped in HTML parts and
//! stripped of control characters in text parts.

use smartpit_shared::clock::japanese_date;
use smartpit_shared::merchant_contact::MerchantContact;
use smartpit_shared::money::format_yen;
use smartpit_shared::store_chain::{catalogue, Channel};
use smartpit_shared::Invoice;

pub const SHEET_SUBJECT: &str = "スマートピットシート配信のお知らせ";
pub const MOBILE_SUBJECT: &str = "【Smart Pit】請求登録のお知らせ";
pub const REFUND_SUBJECT: &str = "【Smart Pit】返金手続きのお願い";
pub const PAID_SUBJECT: &str = "【Smart Pit】お支払い完了のお知らせ";
pub const REMINDER_SUBJECT: &str = "【Smart Pit】お支払い期限のお知らせ";
/// Said in every payment confirmation: the store's receipt is the receipt.
pub const NOT_A_RECEIPT: &str =
    "このメールは領収書ではありません。領収書はお支払いいただいた店舗のレシートです。";
/// Said in every part of every mail, as on the sheet (FAQ 12 and 14).
pub const CASH_ONLY: &str = "お支払いは現金のみです。";
pub const ASK_THE_MERCHANT: &str = "ご請求内容についてはご請求元へお問い合わせください。";

pub struct Mail {
    pub to: String,
    pub subject: &'static str,
    pub text: String,
    pub html: Option<String>,
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

fn plain(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

fn chains(ch: Channel) -> String {
    catalogue()
        .unwrap_or_default()
        .iter()
        .filter(|c| c.channel == ch)
        .map(|c| c.name_ja.clone())
        .collect::<Vec<_>>()
        .join("・")
}

/// Whom to ask, in a text part: the sentence every mail says, then the merchant's contact
/// details when it gave any.
fn ask_text(inv: &Invoice, contact: &MerchantContact) -> String {
    if contact.is_empty() {
        return ASK_THE_MERCHANT.to_string();
    }
    let lines: String = contact
        .labelled()
        .into_iter()
        .map(|(ja, _, v)| format!("  {ja}: {}\n", plain(v)))
        .collect();
    format!(
        "{ASK_THE_MERCHANT}\n■お問い合わせ先: {}\n{}",
        plain(&inv.merchant_name),
        lines.trim_end()
    )
}

/// Whom to ask, in an HTML part (the page a link, the address a mailto link).
fn ask_html(inv: &Invoice, contact: &MerchantContact) -> String {
    if contact.is_empty() {
        return format!("<p>{ASK_THE_MERCHANT}</p>");
    }
    let rows: String = contact
        .labelled()
        .into_iter()
        .map(|(ja, _, v)| {
            let v = escape_html(v);
            let shown = match ja {
                "Web" => format!("<a href=\"{v}\">{v}</a>"),
                "メール" => format!("<a href=\"mailto:{v}\">{v}</a>"),
                _ => v,
            };
            format!("<tr><th>{ja}</th><td>{shown}</td></tr>")
        })
        .collect();
    format!(
        "<p>{ASK_THE_MERCHANT}</p><table><caption>お問い合わせ先: {}</caption>{rows}</table>",
        escape_html(&inv.merchant_name)
    )
}

/// What the customer pays, with the merchant's fee when there is one.
fn shown_amount(inv: &Invoice) -> String {
    if inv.customer_fee > 0 {
        format!(
            "{} (うち手数料 {})",
            format_yen(inv.total()),
            format_yen(inv.customer_fee)
        )
    } else {
        format_yen(inv.amount)
    }
}

/// 「スマートピットシート配信のお知らせ」: the sheet link and the bill, for a PC mail address.
pub fn sheet_notice(
    to: &str,
    inv: &Invoice,
    link: Option<&str>,
    contact: &MerchantContact,
) -> Mail {
    let number = inv.number().grouped();
    let amount = shown_amount(inv);
    let deadline = format!("{} 23:59", japanese_date(inv.due_date));
    let merchant = plain(&inv.merchant_name);
    let order = plain(&inv.merchant_order_id);
    let item = inv
        .description
        .as_deref()
        .map_or(String::new(), |d| format!("■ご注文内容: {}\n", plain(d)));
    let item_html = inv.description.as_deref().map_or(String::new(), |d| {
        format!("<tr><th>ご注文内容</th><td>{}</td></tr>", escape_html(d))
    });
    let kiosk = chains(Channel::Kiosk);
    let register = chains(Channel::Register);
    let link_line = link.map_or(String::new(), |l| {
        format!("■お支払いページ(ご請求内容・バーコード・シートの印刷)\n{l}\nシートを印刷して{register}のレジでご提示ください。\n\n")
    });
    let text = format!(
        "{merchant}でのお買い物の代金お支払い用に、スマートピットセンターからお知らせします。\n\n\
         ■ご請求元: {merchant}\n■ご注文番号: {order}\n{item}■お支払金額: {amount}\n■お支払期限: {deadline}\n\
         ■スマートピット番号: {number}\n\n{link_line}\
         {kiosk}では、店内の端末でスマートピット番号を入力するだけでお支払いいただけます(シートの印刷は不要です)。\n\
         {CASH_ONLY}{ask}\n\n\
         スマートピットセンター\n",
        ask = ask_text(inv, contact),
    );
    let link_html = link.map_or(String::new(), |l| {
        let l = escape_html(l);
        format!("<p><a href=\"{l}\">お支払いページを開く</a>(ご請求内容・バーコード・シートの印刷)<br>シートを印刷して{register}のレジでご提示ください。</p>")
    });
    let html = format!(
        "<!doctype html><html lang=\"ja\"><meta charset=\"utf-8\"><body>\
         <p>{m}でのお買い物の代金お支払い用に、スマートピットセンターからお知らせします。</p>\
         <table><tr><th>ご請求元</th><td>{m}</td></tr><tr><th>ご注文番号</th><td>{o}</td></tr>\
         {item_html}<tr><th>お支払金額</th><td>{amount}</td></tr>\
         <tr><th>お支払期限</th><td>{deadline}</td></tr><tr><th>スマートピット番号</th><td>{number}</td></tr></table>\
         {link_html}<p>{kiosk}では、店内の端末でスマートピット番号を入力するだけでお支払いいただけます。</p>\
         <p>{CASH_ONLY}</p>{ask}<p>スマートピットセンター</p></body></html>",
        ask = ask_html(inv, contact),
        m = escape_html(&inv.merchant_name),
        o = escape_html(&inv.merchant_order_id),
    );
    Mail {
        to: to.to_string(),
        subject: SHEET_SUBJECT,
        text,
        html: Some(html),
    }
}

/// The payment standing on the bill: when, where, how much.
fn payment_lines(inv: &Invoice) -> (String, String, String) {
    let confirmation = smartpit_shared::confirmation::Confirmation::of(inv);
    let when = confirmation
        .as_ref()
        .map_or_else(String::new, |c| c.paid_at_jst());
    let chain = confirmation.map_or_else(String::new, |c| c.store_chain);
    (shown_amount(inv), when, chain)
}

/// 「お支払い完了のお知らせ」 to the PC address: the payment as the store reported it and, for a
/// sheet bill, the payment page where its お支払い完了証明 (PDF) is.
pub fn paid_notice(to: &str, inv: &Invoice, link: Option<&str>, contact: &MerchantContact) -> Mail {
    let (amount, when, chain) = payment_lines(inv);
    let merchant = plain(&inv.merchant_name);
    let order = plain(&inv.merchant_order_id);
    let number = inv.number().grouped();
    let link_line = link.map_or(String::new(), |l| {
        format!("■お支払い完了証明(PDF)はお支払いページからご覧いただけます\n{l}\n\n")
    });
    let text = format!(
        "{merchant}へのお支払いが完了しました。ご利用ありがとうございました。\n\n\
         ■ご請求元: {merchant}\n■ご注文番号: {order}\n■お支払金額: {amount}\n\
         ■お支払日時: {when}\n■お支払店舗: {chain}\n■スマートピット番号: {number}\n\n\
         {link_line}{NOT_A_RECEIPT}\n{ask}\n\n\
         スマートピットセンター\n",
        ask = ask_text(inv, contact),
    );
    let link_html = link.map_or(String::new(), |l| {
        let l = escape_html(l);
        format!(
            "<p><a href=\"{l}\">お支払いページを開く</a>(お支払い完了証明のPDFはこちらから)</p>"
        )
    });
    let html = format!(
        "<!doctype html><html lang=\"ja\"><meta charset=\"utf-8\"><body>\
         <p>{m}へのお支払いが完了しました。ご利用ありがとうございました。</p>\
         <table><tr><th>ご請求元</th><td>{m}</td></tr><tr><th>ご注文番号</th><td>{o}</td></tr>\
         <tr><th>お支払金額</th><td>{amount}</td></tr><tr><th>お支払日時</th><td>{when}</td></tr>\
         <tr><th>お支払店舗</th><td>{c}</td></tr><tr><th>スマートピット番号</th><td>{number}</td></tr></table>\
         {link_html}<p>{NOT_A_RECEIPT}</p>{ask}<p>スマートピットセンター</p></body></html>",
        ask = ask_html(inv, contact),
        m = escape_html(&inv.merchant_name),
        o = escape_html(&inv.merchant_order_id),
        c = escape_html(&chain),
    );
    Mail {
        to: to.to_string(),
        subject: PAID_SUBJECT,
        text,
        html: Some(html),
    }
}

/// 「お支払い完了のお知らせ」 to the mobile address: short plain text.
pub fn paid_mobile_notice(
    to: &str,
    inv: &Invoice,
    link: Option<&str>,
    contact: &MerchantContact,
) -> Mail {
    let (amount, when, chain) = payment_lines(inv);
    let link_line = link.map_or(String::new(), |l| format!("完了証明:\n{l}\n"));
    let text = format!(
        "お支払いが完了しました。\n請求元:{}\n金額:{amount}\n日時:{when}\n店舗:{chain}\n番号:{}\n{link_line}{NOT_A_RECEIPT}\n{}\nスマートピットセンター\n",
        plain(&inv.merchant_name),
        inv.number().grouped(),
        ask_text(inv, contact),
    );
    Mail {
        to: to.to_string(),
        subject: PAID_SUBJECT,
        text,
        html: None,
    }
}

/// 「お支払い期限のお知らせ」: the bill is still unpaid and its due date near. For the PC
/// address text and HTML, with the payment page when the bill has a sheet; for a mobile address
/// text only.
pub fn reminder(
    to: &str,
    inv: &Invoice,
    link: Option<&str>,
    contact: &MerchantContact,
    mobile: bool,
) -> Mail {
    let number = inv.number().grouped();
    let amount = shown_amount(inv);
    let deadline = format!("{} 23:59", japanese_date(inv.due_date));
    let merchant = plain(&inv.merchant_name);
    let kiosk = chains(Channel::Kiosk);
    let link_line = link.map_or(String::new(), |l| {
        format!("■お支払いページ(ご請求内容・バーコード・シートの印刷)\n{l}\n")
    });
    let text = format!(
        "{merchant}からのご請求のお支払期限が近づいています。まだお支払いがお済みでない場合は、\
         期限までにコンビニでお支払いください。行き違いでお支払い済みの場合はご容赦ください。\n\n\
         ■ご請求元: {merchant}\n■ご注文番号: {order}\n■お支払金額: {amount}\n■お支払期限: {deadline}\n\
         ■スマートピット番号: {number}\n{link_line}\n\
         {kiosk}では、店内の端末でスマートピット番号を入力してお支払いいただけます。\n\
         {CASH_ONLY}{ask}\n\nスマートピットセンター\n",
        order = plain(&inv.merchant_order_id),
        ask = ask_text(inv, contact),
    );
    let html = (!mobile).then(|| {
        let link_html = link.map_or(String::new(), |l| {
            let l = escape_html(l);
            format!("<p><a href=\"{l}\">お支払いページを開く</a>(ご請求内容・バーコード・シートの印刷)</p>")
        });
        format!(
            "<!doctype html><html lang=\"ja\"><meta charset=\"utf-8\"><body>\
             <p>{m}からのご請求のお支払期限が近づいています。まだお支払いがお済みでない場合は、期限までにコンビニでお支払いください。\
             行き違いでお支払い済みの場合はご容赦ください。</p>\
             <table><tr><th>ご請求元</th><td>{m}</td></tr><tr><th>ご注文番号</th><td>{o}</td></tr>\
             <tr><th>お支払金額</th><td>{amount}</td></tr><tr><th>お支払期限</th><td>{deadline}</td></tr>\
             <tr><th>スマートピット番号</th><td>{number}</td></tr></table>{link_html}\
             <p>{kiosk}では、店内の端末でスマートピット番号を入力してお支払いいただけます。</p>\
             <p>{CASH_ONLY}</p>{ask}<p>スマートピットセンター</p></body></html>",
            m = escape_html(&inv.merchant_name),
            o = escape_html(&inv.merchant_order_id),
            ask = ask_html(inv, contact),
        )
    });
    Mail {
        to: to.to_string(),
        subject: REMINDER_SUBJECT,
        text,
        html,
    }
}

/// 「返金手続きのお願い」: the merchant refunds (part of) what the customer paid at a store; the
/// link is the page where the customer gives the account it is paid to. Plain text (read on a
/// phone as on a PC).
pub fn refund_request(
    to: &str,
    inv: &Invoice,
    request: &smartpit_shared::db::RefundRequest,
    contact: &MerchantContact,
) -> Mail {
    let merchant = plain(&inv.merchant_name);
    let order = plain(&inv.merchant_order_id);
    let amount = format_yen(request.amount);
    let link = plain(&request.details_url);
    let contact_lines: String = match contact.is_empty() {
        true => String::new(),
        false => format!(
            "\n■お問い合わせ先: {merchant}\n{}",
            contact
                .labelled()
                .into_iter()
                .map(|(ja, _, v)| format!("  {ja}: {}", plain(v)))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    let text = format!(
        "{merchant}から、コンビニでお支払いいただいた代金の返金のお知らせです。\n\n\
         ■ご返金元: {merchant}\n■ご注文番号: {order}\n■ご返金額: {amount}\n\n\
         返金は銀行振込でお受け取りいただきます。次のページでお振込先の口座をご登録ください。\n\
         {link}\n\n\
         口座情報は暗号化して保管し、お振込み後30日で消去します。\n\
         ご返金の内容についてはご返金元へお問い合わせください。{contact_lines}\n\n\
         スマートピットセンター\n"
    );
    Mail {
        to: to.to_string(),
        subject: REFUND_SUBJECT,
        text,
        html: None,
    }
}

/// 「【Smart Pit】請求登録のお知らせ」: short plain text for a phone.
pub fn mobile_notice(
    to: &str,
    inv: &Invoice,
    link: Option<&str>,
    contact: &MerchantContact,
) -> Mail {
    let link_line = link.map_or(String::new(), |l| {
        format!(
            "{}でお支払いの場合はシートを印刷してレジへ:\n{l}\n",
            chains(Channel::Register)
        )
    });
    let text = format!(
        "請求が登録されました。\n番号:{}\n金額:{}\n期限:{}\n請求元:{}\n{}で番号を入力してお支払いください。\n{link_line}{CASH_ONLY}\n{}\nスマートピットセンター\n",
        inv.number().grouped(),
        shown_amount(inv),
        japanese_date(inv.due_date),
        plain(&inv.merchant_name),
        chains(Channel::Kiosk),
        ask_text(inv, contact),
    );
    Mail {
        to: to.to_string(),
        subject: MOBILE_SUBJECT,
        text,
        html: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use smartpit_shared::invoice::{Customer, Invoice};
    use smartpit_shared::{InvoiceId, InvoiceStatus, SmartPitNumber};

    fn invoice() -> Invoice {
        let n = SmartPitNumber::parse("2010000000014").unwrap();
        Invoice {
            id: InvoiceId::new(n),
            merchant_id: "m".into(),
            merchant_name: "店".into(),
            merchant_order_id: "o-1".into(),
            amount: 1200,
            customer_fee: 0,
            due_date: Utc::now().date_naive(),
            deadline: 0,
            description: None,
            store_description: None,
            stored_status: InvoiceStatus::Registered,
            customer: Customer::default(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            payment_id: None,
            paid_at: None,
            store_chain: None,
            store_code: None,
            store_transaction_id: None,
            payments: Vec::new(),
            cancelled_at: None,
            settled_at: None,
            hold: None,
            version: 1,
            moved_to: None,
            moved_from: None,
            refunded: 0,
            repeat: None,
            occurrences: 0,
            sheet_url: None,
            notices: Vec::new(),
        }
    }

    #[test]
    fn every_part_of_every_mail_says_cash_only_and_whom_to_ask() {
        let inv = invoice();
        let none = MerchantContact::default();
        let sheet = sheet_notice("a@example.jp", &inv, Some("https://x/s/t"), &none);
        let mobile = mobile_notice("b@example.jp", &inv, Some("https://x/s/t"), &none);
        for part in [&sheet.text, sheet.html.as_ref().unwrap(), &mobile.text] {
            assert!(part.contains(CASH_ONLY), "{part}");
            assert!(part.contains(ASK_THE_MERCHANT), "{part}");
        }
    }

    #[test]
    fn the_link_is_called_the_payment_page_it_is() {
        // The link opens the payment page (the bill, the barcode, the sheet to print), not a PDF.
        let inv = invoice();
        let sheet = sheet_notice(
            "a@example.jp",
            &inv,
            Some("https://x/s/t"),
            &MerchantContact::default(),
        );
        for part in [&sheet.text, sheet.html.as_ref().unwrap()] {
            assert!(part.contains("お支払いページ"), "{part}");
            assert!(!part.contains("PDF"), "{part}");
        }
    }

    #[test]
    fn the_merchants_contact_is_in_every_part_of_every_mail() {
        let inv = invoice();
        let contact = MerchantContact {
            phone: Some("03-1234-5678".into()),
            url: Some("https://shop.example.jp/help?a=1&b=<2>".into()),
            email: Some("help@shop.example.jp".into()),
            hours: Some("平日 10:00-18:00".into()),
        };
        let link = Some("https://x/s/t");
        let to = "a@example.jp";
        let mails = [
            sheet_notice(to, &inv, link, &contact),
            mobile_notice(to, &inv, link, &contact),
            paid_notice(to, &inv, link, &contact),
            paid_mobile_notice(to, &inv, link, &contact),
        ];
        for m in &mails {
            for part in std::iter::once(&m.text).chain(m.html.as_ref()) {
                assert!(part.contains("03-1234-5678"), "{part}");
                assert!(part.contains("平日 10:00-18:00"), "{part}");
                assert!(part.contains("help@shop.example.jp"), "{part}");
                assert!(part.contains(ASK_THE_MERCHANT), "{part}");
            }
            if let Some(html) = &m.html {
                assert!(
                    html.contains("href=\"https://shop.example.jp/help?a=1&amp;b=&lt;2&gt;\""),
                    "{html}"
                );
            }
        }
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<script>\"a\" & 'b'\u{7}</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
