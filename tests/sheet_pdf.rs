//! The sheet PDF read back as a customer's printer and a store's scanner would: pdftotext gives
//! back the Japanese text, zbar decodes the register barcode.

use chrono::NaiveDate;
use smartpit_shared::sheet::payment_code::PaymentCode;
use smartpit_shared::sheet::{pdf, SheetContent};
use smartpit_shared::SmartPitNumber;
use smartpit_tests::pdf::{barcodes, pdf_fonts, pdf_text};

fn sheet(merchant_name: &str, amount: i64) -> SheetContent {
    let number = SmartPitNumber::from_body(221_234_567_890);
    let due = NaiveDate::from_ymd_opt(2026, 12, 10).expect("date");
    SheetContent {
        contact: None,
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
    // Issue 12's budget: a sheet is at most 20 KB (docs/BENCHMARKS.md has the batch's sizes).
    assert!(bytes.len() <= 20 * 1024, "sheet is {} bytes", bytes.len());
    // Every font is a subset, embedded, with a ToUnicode map (the text above came from it).
    let fonts = pdf_fonts(&bytes);
    assert!(!fonts.is_empty());
    for (name, kind, embedded, subset, unicode) in &fonts {
        assert!(*embedded && *subset && *unicode, "{name} {kind}: {fonts:?}");
        assert_eq!(kind, "CID TrueType", "{name}");
        assert!(name.len() > 7 && name.as_bytes()[6] == b'+', "{name}");
    }
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

#[test]
fn a_sheet_shows_any_merchant_text_and_marks_what_its_font_lacks() {
    // Kanji beyond the shared subset (the sheet's second font), a rare variant (髙, 﨑), full-width
    // Latin, and an emoji the font has no glyph for: printed as 〓, as Japanese print marks a
    // missing character, never silently dropped.
    let mut s = sheet("髙橋﨑商会 ＡＢＣ", 8_800);
    s.description = Some("鬱蒼とした森の写真集 🍰".into());
    let bytes = pdf::render(&s).expect("render");
    let text = pdf_text(&bytes);
    assert!(text.contains("髙橋﨑商会 ＡＢＣ"), "{text}");
    assert!(text.contains("鬱蒼とした森の写真集 〓"), "{text}");
    assert!(!text.contains('🍰'));
    assert_eq!(
        pdf_fonts(&bytes).len(),
        2,
        "the shared subset and this sheet's extras"
    );
    assert_eq!(barcodes(&bytes).len(), 1);
}

#[test]
fn a_sheet_of_the_fixed_wording_and_ascii_needs_one_font() {
    let mut s = sheet("SMART PIT", 100);
    s.merchant_order_id = "123".into();
    s.description = None;
    let bytes = pdf::render(&s).expect("render");
    let fonts = pdf_fonts(&bytes);
    // Capital letters other than the fixed wording's come in a second subset; "SMART PIT"
    // is all in "Smart Pit Sheet" except M, R, A, T and I.
    assert_eq!(fonts.len(), 2, "{fonts:?}");
    s.merchant_name = "スマート".into();
    let bytes = pdf::render(&s).expect("render");
    assert_eq!(
        pdf_fonts(&bytes).len(),
        1,
        "everything is in the shared subset"
    );
    assert!(pdf_text(&bytes).contains("スマート"));
}

#[test]
fn a_long_description_of_rare_kanji_stays_small() {
    // The heaviest sheet a merchant can ask for: 60 characters (all a sheet prints), each a
    // different kanji no fixed wording uses.
    let rare = "鬱鬳鬵鬹鬻鬽魂魄魈魌魎魑魕魗魚魞魣魦魪魬魮魲魴魷魹鮀鮄鮆鮉鮋鮎鮐鮒鮔鮗鮝鮟鮦鮨鮪鮬鮮鮱鮴鮸鮻鮾鯀鯆鯈鯊鯏鯑鯔鯗鯛鯟鯢鯤鯧";
    assert_eq!(rare.chars().count(), 60);
    let mut s = sheet("スマートピット商店", 1);
    s.description = Some(rare.into());
    let bytes = pdf::render(&s).expect("render");
    // Wrapped over lines of 10 or 11 pt, all of it within the page.
    let text = pdf_text(&bytes);
    let joined: String = text.split_whitespace().collect();
    assert!(joined.contains(rare), "{text}");
    assert!(bytes.len() < 40 * 1024, "{} bytes", bytes.len());
    println!("a sheet with 60 rare kanji: {} bytes", bytes.len());
}
