//! The customer mails, in Japanese. Everything a merchant sent is escaped in HTML parts and
//! stripped of control characters in text parts.

use smartpit_shared::clock::japanese_date;
use smartpit_shared::money::format_yen;
use smartpit_shared::store_chain::{catalogue, Channel};
use smartpit_shared::Invoice;

pub const SHEET_SUBJECT: &str = "スマートピットシート配信のお知らせ";
pub const MOBILE_SUBJECT: &str = "【Smart Pit】請求登録のお知らせ";
pub const REFUND_SUBJECT: &str = "【Smart Pit】返金手続きのお願い";
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
pub fn sheet_notice(to: &str, inv: &Invoice, link: Option<&str>) -> Mail {
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
         {CASH_ONLY}{ASK_THE_MERCHANT}\n\n\
         スマートピットセンター\n"
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
         <p>{CASH_ONLY}{ASK_THE_MERCHANT}</p><p>スマートピットセンター</p></body></html>",
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

/// 「返金手続きのお願い」: the merchant refunds (part of) what the customer paid at a store; the
/// link is the page where the customer gives the account it is paid to. Plain text (read on a
/// phone as on a PC).
pub fn refund_request(
    to: &str,
    inv: &Invoice,
    request: &smartpit_shared::db::RefundRequest,
) -> Mail {
    let merchant = plain(&inv.merchant_name);
    let order = plain(&inv.merchant_order_id);
    let amount = format_yen(request.amount);
    let link = plain(&request.details_url);
    let text = format!(
        "{merchant}から、コンビニでお支払いいただいた代金の返金のお知らせです。\n\n\
         ■ご返金元: {merchant}\n■ご注文番号: {order}\n■ご返金額: {amount}\n\n\
         返金は銀行振込でお受け取りいただきます。次のページでお振込先の口座をご登録ください。\n\
         {link}\n\n\
         口座情報は暗号化して保管し、お振込み後30日で消去します。\n\
         ご返金の内容についてはご返金元へお問い合わせください。\n\n\
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
pub fn mobile_notice(to: &str, inv: &Invoice, link: Option<&str>) -> Mail {
    let link_line = link.map_or(String::new(), |l| {
        format!(
            "{}でお支払いの場合はシートを印刷してレジへ:\n{l}\n",
            chains(Channel::Register)
        )
    });
    let text = format!(
        "請求が登録されました。\n番号:{}\n金額:{}\n期限:{}\n請求元:{}\n{}で番号を入力してお支払いください。\n{link_line}{CASH_ONLY}\n{ASK_THE_MERCHANT}\nスマートピットセンター\n",
        inv.number().grouped(),
        shown_amount(inv),
        japanese_date(inv.due_date),
        plain(&inv.merchant_name),
        chains(Channel::Kiosk),
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
            sheet_url: None,
            notices: Vec::new(),
        }
    }

    #[test]
    fn every_part_of_every_mail_says_cash_only_and_whom_to_ask() {
        let inv = invoice();
        let sheet = sheet_notice("a@example.jp", &inv, Some("https://x/s/t"));
        let mobile = mobile_notice("b@example.jp", &inv, Some("https://x/s/t"));
        for part in [&sheet.text, sheet.html.as_ref().unwrap(), &mobile.text] {
            assert!(part.contains(CASH_ONLY), "{part}");
            assert!(part.contains(ASK_THE_MERCHANT), "{part}");
        }
    }

    #[test]
    fn the_link_is_called_the_payment_page_it_is() {
        // The link opens the payment page (the bill, the barcode, the sheet to print), not a PDF.
        let inv = invoice();
        let sheet = sheet_notice("a@example.jp", &inv, Some("https://x/s/t"));
        for part in [&sheet.text, sheet.html.as_ref().unwrap()] {
            assert!(part.contains("お支払いページ"), "{part}");
            assert!(!part.contains("PDF"), "{part}");
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
