//! Renders a sheet as an A4 PDF with printpdf: Japanese text in IPAexGothic embedded as a
//! subset, and the register barcode drawn as vector bars.

use std::sync::OnceLock;

use printpdf::{
    Color, FontId, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rect, Rgb, TextItem, WindingOrder,
};

use super::barcode::barcode_modules;
use super::SheetContent;
use crate::clock::japanese_date;
use crate::money::format_yen;
use crate::store_chain::{catalogue, Channel};

/// Where Debian's `fonts-ipaexfont-gothic` puts the font; `SHEET_FONT_PATH` overrides.
pub const DEFAULT_FONT_PATH: &str = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf";

/// Width of one barcode module: 288 modules plus 10-module quiet zones fit in 60 mm.
pub const MODULE_MM: f32 = 0.19;
pub const BAR_HEIGHT_MM: f32 = 12.0;
const QUIET_MODULES: f32 = 10.0;

static FONT: OnceLock<Result<ParsedFont, String>> = OnceLock::new();

/// The font, read and parsed once per process.
pub fn font() -> Result<&'static ParsedFont, String> {
    FONT.get_or_init(|| {
        let path = std::env::var("SHEET_FONT_PATH").unwrap_or_else(|_| DEFAULT_FONT_PATH.into());
        let bytes = std::fs::read(&path).map_err(|e| format!("sheet font {path}: {e}"))?;
        ParsedFont::from_bytes(&bytes, 0, &mut Vec::new())
            .ok_or_else(|| format!("sheet font {path} could not be parsed"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

struct Page {
    ops: Vec<Op>,
    font: FontId,
}

impl Page {
    fn text(&mut self, x_mm: f32, y_mm: f32, size: f32, text: &str) {
        self.ops.extend([
            Op::StartTextSection,
            Op::SetTextCursor {
                pos: Point {
                    x: Mm(x_mm).into(),
                    y: Mm(y_mm).into(),
                },
            },
            Op::SetFont {
                font: PdfFontHandle::External(self.font.clone()),
                size: Pt(size),
            },
            Op::ShowText {
                // Control characters have no place on paper and could upset a viewer.
                items: vec![TextItem::Text(
                    text.chars().filter(|c| !c.is_control()).collect(),
                )],
            },
            Op::EndTextSection,
        ]);
    }

    fn fill(&mut self, grey: f32) {
        self.ops.push(Op::SetFillColor {
            col: Color::Rgb(Rgb {
                r: grey,
                g: grey,
                b: grey,
                icc_profile: None,
            }),
        });
    }

    fn rect(&mut self, x_mm: f32, y_mm: f32, w_mm: f32, h_mm: f32) {
        self.ops.push(Op::DrawRectangle {
            rectangle: Rect {
                mode: Some(PaintMode::Fill),
                winding_order: Some(WindingOrder::NonZero),
                ..Rect::from_xywh(
                    Mm(x_mm).into(),
                    Mm(y_mm).into(),
                    Mm(w_mm).into(),
                    Mm(h_mm).into(),
                )
            },
        });
    }

    /// Bars for each run of dark modules, lower left corner at (x, y).
    fn barcode(&mut self, x_mm: f32, y_mm: f32, modules: &[u8]) {
        self.fill(0.0);
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
            let x = x_mm + (QUIET_MODULES + start as f32) * MODULE_MM;
            self.rect(x, y_mm, (i - start) as f32 * MODULE_MM, BAR_HEIGHT_MM);
        }
    }
}

/// The sheet as PDF bytes.
pub fn render(sheet: &SheetContent) -> Result<Vec<u8>, String> {
    let font = font()?;
    let mut doc = PdfDocument::new("スマートピットシート");
    let mut p = Page {
        ops: Vec::with_capacity(1024),
        font: doc.add_font(font),
    };
    let left = 20.0;
    p.fill(0.0);
    p.text(left, 272.0, 24.0, "スマートピットシート");
    p.text(left, 265.0, 9.0, "Smart Pit Sheet / コンビニ支払い用シート");

    p.fill(0.93);
    p.rect(left - 2.0, 226.0, 174.0, 32.0);
    p.fill(0.0);
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
        let shown: String = d.chars().filter(|c| !c.is_control()).take(60).collect();
        rows.push(("ご注文内容", shown));
    }
    let mut y = 215.0;
    for (label, value) in &rows {
        p.text(left, y, 11.0, label);
        p.text(left + 35.0, y, 13.0, value);
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
    p.text(
        left,
        y,
        12.0,
        &format!("{}でのお支払い(番号入力)", names(Channel::Kiosk)),
    );
    y -= 7.0;
    for chain in chains.iter().filter(|c| c.channel == Channel::Kiosk) {
        p.text(
            left + 3.0,
            y,
            9.0,
            &format!("{}: {}", chain.name_ja, chain.how_to_pay_ja),
        );
        y -= 5.5;
    }
    y -= 4.0;
    p.text(
        left,
        y,
        12.0,
        &format!("{}でのお支払い(レジ)", names(Channel::Register)),
    );
    y -= 7.0;
    p.text(
        left + 3.0,
        y,
        9.0,
        "このシートを印刷してレジでご提示ください。画面表示やメールの番号だけではお支払いできません。",
    );

    let modules = barcode_modules(&sheet.payment_code.digits())?;
    let bar_y = 62.0;
    p.barcode(left, bar_y, &modules);
    let (l1, l2) = sheet.payment_code.printed_lines();
    p.fill(0.0);
    p.text(left + 2.0, bar_y - 5.0, 8.0, &l1);
    p.text(left + 2.0, bar_y - 9.0, 8.0, &l2);

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

    let page = PdfPage::new(Mm(210.0), Mm(297.0), p.ops);
    let opts = PdfSaveOptions {
        subset_fonts: true,
        ..PdfSaveOptions::default()
    };
    Ok(doc.with_pages(vec![page]).save(&opts, &mut Vec::new()))
}
