//! お支払い完了証明: a paid bill's payment confirmation, a one-page A4 PDF the customer opens
//! from the payment page (and its mail) once a store reported the payment. It is not a receipt
//! (領収書): the store's receipt is, and the document says so. Made by the notifier when the
//! payment is reported and stored under its payment (`s3_key`), so a payment voided later keeps
//! no link to it (the page shows the bill payable again and the route finds no payment).

use chrono::{DateTime, Utc};

use crate::clock::jst;
use crate::invoice::Invoice;
use crate::number::SmartPitNumber;
use crate::store_chain::catalogue;

pub const TITLE: &str = "お支払い完了証明";

/// What the confirmation shows: the bill, and the payment as the store reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub merchant_name: String,
    pub merchant_order_id: String,
    pub description: Option<String>,
    pub number: SmartPitNumber,
    pub amount: i64,
    pub customer_fee: i64,
    /// The chain's Japanese name (its id when the catalogue does not know it).
    pub store_chain: String,
    pub paid_at: DateTime<Utc>,
    pub payment_id: String,
}

impl Confirmation {
    /// The confirmation of the payment that stands on the bill, if one does.
    pub fn of(inv: &Invoice) -> Option<Self> {
        let payment_id = inv.payment_id.clone()?;
        let paid_at = inv.paid_at?;
        let chain = inv.store_chain.clone()?;
        Some(Confirmation {
            merchant_name: inv.merchant_name.clone(),
            merchant_order_id: inv.merchant_order_id.clone(),
            description: inv.description.clone(),
            number: inv.number(),
            amount: inv.amount,
            customer_fee: inv.customer_fee,
            store_chain: chain_name(&chain),
            paid_at,
            payment_id,
        })
    }

    pub fn total(&self) -> i64 {
        self.amount + self.customer_fee
    }

    /// `2026年12月4日 14:05`, Japan time.
    pub fn paid_at_jst(&self) -> String {
        let t = self.paid_at.with_timezone(&jst());
        format!(
            "{} {}",
            crate::clock::japanese_date(t.date_naive()),
            t.format("%H:%M")
        )
    }
}

/// A chain's Japanese name, by its id.
pub fn chain_name(id: &str) -> String {
    catalogue()
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.id == id)
        .map_or_else(|| id.to_string(), |c| c.name_ja)
}

/// Where a payment's confirmation is stored (the sheets bucket): one object per bill and
/// payment, so a later payment of the same bill never overwrites an earlier one's.
pub fn s3_key(invoice_id: &str, payment_id: &str) -> String {
    format!("confirmations/{invoice_id}/{payment_id}.pdf")
}

/// What the document says it is, and is not.
pub const NOT_A_RECEIPT: &str =
    "本書はお支払いの完了をお知らせするもので、領収書ではありません。領収書はお支払いいただいた店舗のレシートです。";

#[cfg(feature = "sheet")]
mod document {
    use std::sync::OnceLock;

    use super::{Confirmation, NOT_A_RECEIPT, TITLE};
    use crate::money::format_yen;
    use crate::pdf::{Mark, Page, Writer};
    use crate::sheet::layout::fit;

    const LEFT: f32 = 20.0;
    const VALUE_X: f32 = 62.0;
    const RIGHT: f32 = 190.0;
    const MM_PER_PT: f32 = 25.4 / 72.0;

    /// Every character every confirmation shows (the writer's shared subset).
    const COMMON_TEXT: &str =
        "お支払い完了証明 Payment confirmation ご請求元 ご注文番号 ご注文内容 \
        スマートピット番号 お支払金額 うち手数料 お支払日時 お支払店舗 お支払番号 発行 \
        スマートピットセンター 0123456789,¥-:()年月日 様 \
        下記のとおり、コンビニエンスストアでのお支払いが完了したことをお知らせします。";

    static WRITER: OnceLock<Result<Writer, String>> = OnceLock::new();

    fn writer() -> Result<&'static Writer, String> {
        WRITER
            .get_or_init(|| Writer::new(COMMON_TEXT.chars().chain(NOT_A_RECEIPT.chars())))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The page: the title, the rows, what the document is not, who issued it.
    pub fn page(c: &Confirmation, issued_on: &str) -> Page {
        let mut p = Page::new(TITLE);
        p.text(LEFT, 270.0, 20.0, TITLE);
        p.text(LEFT, 262.0, 9.0, "Payment confirmation");
        p.text(RIGHT - 60.0, 270.0, 9.0, &format!("発行 {issued_on}"));
        p.marks.push(Mark::Box {
            x: LEFT,
            y: 255.0,
            w: RIGHT - LEFT,
            h: 0.8,
            grey: 0.3,
        });
        p.text(
            LEFT,
            245.0,
            10.5,
            "下記のとおり、コンビニエンスストアでのお支払いが完了したことをお知らせします。",
        );
        let total = if c.customer_fee > 0 {
            format!(
                "{} (うち手数料 {})",
                format_yen(c.total()),
                format_yen(c.customer_fee)
            )
        } else {
            format_yen(c.total())
        };
        let mut rows = vec![
            ("ご請求元", c.merchant_name.clone()),
            ("ご注文番号", c.merchant_order_id.clone()),
        ];
        if let Some(d) = &c.description {
            rows.push(("ご注文内容", d.clone()));
        }
        rows.extend([
            ("お支払金額", total),
            ("お支払日時", c.paid_at_jst()),
            ("お支払店舗", c.store_chain.clone()),
            ("スマートピット番号", c.number.grouped()),
            ("お支払番号", c.payment_id.clone()),
        ]);
        let mut y = 230.0;
        for (label, value) in rows {
            p.text(LEFT, y, 11.0, label);
            let (size, lines) = fit(&value, RIGHT - VALUE_X);
            for (i, line) in lines.iter().enumerate() {
                if i > 0 {
                    y -= size * MM_PER_PT * 1.35;
                }
                p.text(VALUE_X, y, size, line);
            }
            y -= 9.0;
        }
        y -= 6.0;
        let (size, lines) = fit(NOT_A_RECEIPT, RIGHT - LEFT);
        for line in lines {
            p.text(LEFT, y, size.min(10.0), &line);
            y -= 6.0;
        }
        p.text(LEFT, 30.0, 10.0, "スマートピットセンター");
        p
    }

    /// The confirmation as PDF bytes.
    pub fn render(c: &Confirmation, issued_on: &str) -> Result<Vec<u8>, String> {
        writer()?.write(&page(c, issued_on))
    }
}

#[cfg(feature = "sheet")]
pub use document::{page, render};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_per_bill_and_payment() {
        assert_eq!(
            s3_key("inv_2010000000014_x", "pay_ab"),
            "confirmations/inv_2010000000014_x/pay_ab.pdf"
        );
    }

    #[cfg(feature = "sheet")]
    #[test]
    fn a_long_bill_fits_its_page() {
        let c = Confirmation {
            merchant_name: "株式会社スマートピット商店 オンラインストア 渋谷本店".into(),
            merchant_order_id: "ORDER-2026-12-04-000123".into(),
            description: Some("ノート 3冊、ボールペン(黒・赤・青)各2本、消しゴム".repeat(2)),
            number: SmartPitNumber::from_body(221_234_567_890),
            amount: 299_000,
            customer_fee: 1_000,
            store_chain: chain_name("familymart"),
            paid_at: chrono::DateTime::from_timestamp(1_796_371_200, 0).unwrap_or_default(),
            payment_id: "pay_0123456789abcdef".into(),
        };
        let p = page(&c, "2026年12月4日");
        // Every line stays on the page, above the issuer's line.
        for m in &p.marks {
            if let crate::pdf::Mark::Text { y, text, .. } = m {
                assert!(*y >= 30.0 && *y <= 280.0, "{text} at {y}");
            }
        }
        let pdf = render(&c, "2026年12月4日").unwrap_or_else(|e| panic!("{e} (make tools)"));
        assert!(pdf.starts_with(b"%PDF"));
        if let Ok(path) = std::env::var("SMARTPIT_KEEP_PDF") {
            let _ = std::fs::write(path, &pdf);
        }
    }

    #[test]
    fn the_chain_is_named_in_japanese() {
        assert_eq!(chain_name("lawson"), "ローソン");
        assert_eq!(chain_name("nowhere"), "nowhere");
    }
}
