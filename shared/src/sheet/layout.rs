//! What a sheet shows and where, on an A4 page in millimetres from its lower left corner:
//! `crate::pdf` writes it; the sheet benchmark hands the same page to its reportlab peer, so
//! both draw exactly the same sheet.

use super::barcode::barcode_modules;
use super::SheetContent;
use crate::clock::japanese_date;
use crate::money::format_yen;
pub use crate::pdf::{Mark, Page, PAGE_HEIGHT_MM, PAGE_WIDTH_MM};
use crate::store_chain::{catalogue, Channel};

/// Width of one barcode module: 288 modules plus quiet zones fit in 60 mm.
pub const MODULE_MM: f32 = 0.19;
pub const BAR_HEIGHT_MM: f32 = 12.0;
/// The quiet zone left of the bars, in modules (GS1-128 needs 10).
pub const QUIET_MODULES: u16 = 10;
/// The most characters of a description a sheet prints.
pub const DESCRIPTION_CHARS: usize = 60;
/// Where the values of the bill's rows start, and the right margin nothing passes.
pub const VALUE_X_MM: f32 = 55.0;
pub const RIGHT_MM: f32 = 190.0;
/// The lowest a line of the bill or the instructions may sit: above the barcode and its gap.
pub const LOWEST_TEXT_MM: f32 = 80.0;
const MM_PER_PT: f32 = 25.4 / 72.0;

pub const TITLE: &str = "スマートピットシート";

/// Lays out one sheet.
pub fn layout(sheet: &SheetContent) -> Result<Page, String> {
    let mut p = Page::new(TITLE);
    let left = 20.0;
    p.text(left, 272.0, 24.0, TITLE);
    p.text(left, 265.0, 9.0, "Smart Pit Sheet / コンビニ支払い用シート");

    p.marks.push(Mark::Box {
        x: left - 2.0,
        y: 226.0,
        w: 174.0,
        h: 32.0,
        grey: 0.93,
    });
    p.text(left, 250.0, 11.0, "スマートピット番号");
    p.text(left, 233.0, 28.0, &sheet.number.grouped());

    let mut rows = vec![("ご請求元", sheet.merchant_name.clone())];
    if sheet.customer_fee > 0 {
        rows.push(("ご請求金額", format_yen(sheet.amount)));
        rows.push(("手数料", format_yen(sheet.customer_fee)));
        rows.push(("お支払合計", format_yen(sheet.amount + sheet.customer_fee)));
    } else {
        rows.push(("お支払金額", format_yen(sheet.amount)));
    }
    rows.extend([
        (
            "お支払期限",
            format!("{} 23:59まで", japanese_date(sheet.due_date)),
        ),
        ("ご注文番号", sheet.merchant_order_id.clone()),
    ]);
    if let Some(d) = &sheet.description {
        let shown: String = d
            .chars()
            .filter(|c| !c.is_control())
            .take(DESCRIPTION_CHARS)
            .collect();
        rows.push(("ご注文内容", shown));
    }
    let mut y = 215.0;
    for (label, value) in &rows {
        p.text(left, y, 11.0, label);
        let (size, lines) = fit(value, RIGHT_MM - VALUE_X_MM);
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                y -= size * MM_PER_PT * 1.35;
            }
            p.text(VALUE_X_MM, y, size, line);
        }
        y -= 8.0;
    }

    let chains = catalogue().map_err(|e| e.to_string())?;
    let names = |ch: Channel| {
        chains
            .iter()
            .filter(|c| c.channel == ch)
            .map(|c| c.name_ja.as_str())
            .collect::<Vec<_>>()
            .join("・")
    };
    y -= 4.0;
    let kiosks = format!("{}でのお支払い(番号入力)", names(Channel::Kiosk));
    p.text(left, y, 12.0, &kiosks);
    y -= 7.0;
    for chain in chains.iter().filter(|c| c.channel == Channel::Kiosk) {
        let line = format!("{}: {}", chain.name_ja, chain.how_to_pay_ja);
        p.text(left + 3.0, y, 9.0, &line);
        y -= 5.5;
    }
    y -= 4.0;
    let registers = format!("{}でのお支払い(レジ)", names(Channel::Register));
    p.text(left, y, 12.0, &registers);
    y -= 7.0;
    p.text(
        left + 3.0,
        y,
        9.0,
        "このシートを印刷してレジでご提示ください。画面表示やメールの番号だけではお支払いできません。",
    );

    if y < LOWEST_TEXT_MM {
        return Err(format!("the sheet's text runs into its barcode ({y} mm)"));
    }

    let bar_y = 62.0;
    let modules = barcode_modules(&sheet.payment_code.digits())?;
    p.marks.push(Mark::Bars {
        x: left,
        y: bar_y,
        module: MODULE_MM,
        height: BAR_HEIGHT_MM,
        bars: bars(&modules, QUIET_MODULES),
    });
    let (l1, l2) = sheet.payment_code.printed_lines();
    p.text(left + 2.0, bar_y - 5.0, 8.0, &l1);
    p.text(left + 2.0, bar_y - 9.0, 8.0, &l2);

    if let Some(contact) = &sheet.contact {
        let line = format!("お問い合わせ先: {} {contact}", sheet.merchant_name);
        // One line of 8.5 pt, cut with "…" where the page ends.
        let room = (RIGHT_MM - left) / (8.5 * MM_PER_PT);
        let mut used = 0.0;
        let mut shown = String::new();
        for c in line.chars() {
            if used + ems(c) > room - 1.0 {
                shown.push('…');
                break;
            }
            used += ems(c);
            shown.push(c);
        }
        p.text(left, 42.0, 8.5, &shown);
    }
    p.text(
        left,
        36.0,
        9.0,
        "お支払いは現金のみです。期限を過ぎるとお支払いいただけません。",
    );
    p.text(
        left,
        31.0,
        9.0,
        "ご請求内容についてはご請求元へお問い合わせください。",
    );
    p.text(left, 26.0, 9.0, "スマートピットセンター");
    Ok(p)
}

/// A character's advance in ems: CJK and other wide characters one, the rest half (the sheet
/// font's proportions: VL Gothic is monospaced, half-width and full-width). Characters of
/// ambiguous width count as wide, as Japanese fonts draw most of them: never narrower than
/// printed, so a line may wrap early but never runs off.
fn ems(c: char) -> f32 {
    match unicode_width::UnicodeWidthChar::width_cjk(c) {
        Some(2) => 1.0,
        Some(0) | None => 0.0,
        _ => 0.5,
    }
}

/// A row's value in at most 3 lines of `width` mm: one line at 13 pt if it fits, else the
/// largest of 11 and 10 pt where it wraps into 3 lines, else 3 lines of 9 pt ending in "…".
/// Japanese breaks between any two characters; so does this.
pub(crate) fn fit(text: &str, width: f32) -> (f32, Vec<String>) {
    const MAX_LINES: usize = 3;
    for size in [13.0, 11.0, 10.0, 9.0] {
        let per_line = width / (size * MM_PER_PT);
        let mut lines = vec![String::new()];
        let mut used = 0.0;
        for c in text.chars() {
            let w = ems(c);
            if used + w > per_line && used > 0.0 {
                lines.push(String::new());
                used = 0.0;
            }
            used += w;
            if let Some(last) = lines.last_mut() {
                last.push(c);
            }
        }
        if lines.len() == 1 && size == 13.0 || size < 13.0 && lines.len() <= MAX_LINES {
            return (size, lines);
        }
        if size == 9.0 {
            lines.truncate(MAX_LINES);
            if let Some(last) = lines.last_mut() {
                let mut used: f32 = last.chars().map(ems).sum();
                while used + 1.0 > per_line {
                    match last.pop() {
                        Some(c) => used -= ems(c),
                        None => break,
                    }
                }
                last.push('…');
            }
            return (size, lines);
        }
    }
    (13.0, vec![text.to_string()])
}

/// Each run of dark modules as (first module, modules), offset by `quiet`.
fn bars(modules: &[u8], quiet: u16) -> Vec<(u16, u16)> {
    let mut out = Vec::with_capacity(modules.len() / 3);
    let mut i = 0;
    while i < modules.len() {
        if modules[i] == 0 {
            i += 1;
            continue;
        }
        let start = i;
        while i < modules.len() && modules[i] != 0 {
            i += 1;
        }
        // A symbol is a few hundred modules: the casts cannot truncate.
        out.push((start as u16 + quiet, (i - start) as u16));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::payment_code::PaymentCode;
    use crate::SmartPitNumber;

    fn widest(text: &str, size: f32) -> f32 {
        text.chars().map(ems).sum::<f32>() * size * MM_PER_PT
    }

    #[test]
    fn short_values_keep_one_line_and_long_ones_wrap_within_the_margin() {
        assert_eq!(
            fit("ORDER-1001", 135.0),
            (13.0, vec!["ORDER-1001".to_string()])
        );
        let long = "髙".repeat(60);
        let (size, lines) = fit(&long, 135.0);
        assert!(size < 13.0 && lines.len() <= 3, "{size} {lines:?}");
        assert_eq!(lines.concat(), long, "nothing lost");
        for l in &lines {
            assert!(widest(l, size) <= 135.0, "{l}");
        }
        let huge = "鬱".repeat(200);
        let (size, lines) = fit(&huge, 135.0);
        assert_eq!((size, lines.len()), (9.0, 3));
        assert!(lines[2].ends_with('…'));
        assert!(widest(&lines[2], size) <= 135.0);
    }

    #[test]
    fn the_longest_bill_fits_the_page_above_its_barcode() {
        let number = SmartPitNumber::from_body(221_234_567_890);
        let due = chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap_or_default();
        let sheet = SheetContent {
            contact: None,
            number,
            // The longest a merchant name (100), an order id (64) and a description can be.
            merchant_name: "株".repeat(100),
            amount: 9_999_999,
            customer_fee: 1_000,
            due_date: due,
            merchant_order_id: "W".repeat(64),
            description: Some("鬱".repeat(200)),
            payment_code: PaymentCode::new("912345", number, due, 10_000_999),
        };
        let page = layout(&sheet).unwrap_or_else(|e| panic!("{e}"));
        for m in &page.marks {
            if let Mark::Text { x, y, size, text } = m {
                assert!(x + widest(text, *size) <= 195.0, "{text} runs off the page");
                assert!(*y >= 20.0);
            }
        }
    }

    #[test]
    fn bars_are_the_runs_of_dark_modules() {
        assert_eq!(
            bars(&[1, 1, 0, 1, 0, 0, 1, 1, 1], 10),
            vec![(10, 2), (13, 1), (16, 3)]
        );
        assert_eq!(bars(&[0, 0], 10), vec![]);
    }
}
