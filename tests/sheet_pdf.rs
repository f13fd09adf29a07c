//! The sheet PDF read back as a customer's printer and a store's scanner would: pdftotext gives
//! back the Japanese text, zbar decodes the register barcode.

use chrono::NaiveDate;
use smartpit_shared::sheet::payment_code::PaymentCode;
use smartpit_shared::sheet::{pdf, SheetContent};
use smartpit_shared::SmartPitNumber;
use smartpit_tests::pdf::{barcodes, pdf_text};

fn sheet(merchant_name: &str, amount: i64) -> SheetContent {
    let number = SmartPitNumber::from_body(221_234_567_890);
    let due = NaiveDate::from_ymd_opt(2026, 12, 10).expect("date");
    SheetContent {
        number,
        merchant_name: merchant_name.to_string(),
        amount,
        customer_fee: 0,
        due_date: due,
        merchant_order_id: "ORDER-1001".into(),
        description: Some("ノート 3冊".into()),
        payment_code: PaymentCode::new("912345", number, due, amount),
    }
}

#[test]
fn the_sheet_shows_its_text_and_a_decodable_barcode() {
    let s = sheet("スマートピット商店", 54_321);
    let bytes = pdf::render(&s).expect("render");
    assert!(bytes.len() < 60_000, "sheet is {} bytes", bytes.len());
    let text = pdf_text(&bytes);
    for want in [
        "スマートピットシート",
        "スマートピット商店",
        "¥54,321",
        "2026年12月10日",
        "ORDER-1001",
        "ローソン",
        "ファミリーマート",
        "ミニストップ",
        "スリーエフ",
        "サークルK",
        "サンクス",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
    assert!(text.contains(&s.number.grouped()), "{text}");
    let digits = s.payment_code.digits();
    assert!(text.contains(&digits[..22]) && text.contains(&digits[22..]));
    let scanned = barcodes(&bytes);
    // zbar reports GS1-128 with its FNC1 as a leading "]C1" symbology id or nothing.
    let decoded: Vec<String> = scanned
        .iter()
        .map(|s| s.trim_start_matches("]C1").to_string())
        .collect();
    assert_eq!(decoded, vec![digits], "zbar read {scanned:?}");
    let back = PaymentCode::parse(&decoded[0]).expect("payment code");
    assert_eq!(back.number, s.number);
    assert_eq!(back.amount, 54_321);
    assert!(back.stamp());
}

#[test]
fn merchant_text_cannot_break_the_sheet() {
    let s = sheet("<b>悪い\"店\"</b> & 'x' %PDF-1.7 (paren) \\ 終", 1);
    let bytes = pdf::render(&s).expect("render");
    let text = pdf_text(&bytes);
    assert!(
        text.contains("<b>悪い\"店\"</b> & 'x' %PDF-1.7 (paren) \\ 終"),
        "{text}"
    );
    assert_eq!(barcodes(&bytes).len(), 1);
}
