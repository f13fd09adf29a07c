//! A payout's statement (支払通知書) as a PDF: the period's lines (one per day and chain: count,
//! gross, fees, net; then the refunds and the totals), the bank account masked, laid out here as
//! `Page`s that `crate::pdf` writes with printpdf.

use std::collections::BTreeMap;

use super::record::Payout;
use super::Statement;
use crate::clock::japanese_date;
use crate::money::format_yen;
use crate::pdf::{Mark, Page};
use crate::store_chain::catalogue;

pub const TITLE: &str = "支払通知書";

/// Every character a statement always shows (the writer's shared subset).
pub const COMMON_TEXT: &str = "支払通知書 Payout statement 様 お支払番号 対象期間 お支払予定日 \
    振込先 銀行 支店 普通 当座 貯蓄 口座 ご請求元 内訳 日付 コンビニ 件数 収納金額 手数料 差引額 \
    返金 前期繰越 次期繰越 お振込金額 合計 ページ 0123456789,¥-*/()年月日 ～ 〓 \
    ローソン ファミリーマート セブン-イレブン ミニストップ デイリーヤマザキ セイコーマート \
    本通知書は確報(決済確定)済みのお支払をもとに作成しています。 ";

const LEFT: f32 = 18.0;
const RIGHT: f32 = 192.0;
const MM_PER_PT: f32 = 25.4 / 72.0;
/// Table rows on the first page and on each page after it.
const FIRST_PAGE_ROWS: usize = 28;
const PAGE_ROWS: usize = 48;
const ROW_MM: f32 = 5.2;

/// The name a chain is shown by (its id when the catalogue does not know it).
fn chain_name(names: &BTreeMap<String, String>, id: &str) -> String {
    names.get(id).cloned().unwrap_or_else(|| id.to_string())
}

/// Text whose right edge is at `right` (digits, commas and ¥ are half an em wide in the
/// typeface; anything else counts a full em).
fn text_right(p: &mut Page, right: f32, y: f32, size: f32, text: &str) {
    let ems: f32 = text
        .chars()
        .map(|c| if c.is_ascii() || c == '¥' { 0.5 } else { 1.0 })
        .sum();
    p.text(right - ems * size * MM_PER_PT, y, size, text);
}

/// What a table row holds: day, chain, count, gross, fees, net.
struct Row {
    cells: [String; 6],
}

/// Column right edges (the day and chain columns are left-aligned at their start).
const COLUMNS: [f32; 6] = [LEFT, LEFT + 28.0, 118.0, 145.0, 168.0, RIGHT];

fn table_head(p: &mut Page, y: f32) {
    p.marks.push(Mark::Box {
        x: LEFT - 1.5,
        y: y - 1.6,
        w: RIGHT - LEFT + 3.0,
        h: ROW_MM,
        grey: 0.9,
    });
    p.text(COLUMNS[0], y, 9.0, "日付");
    p.text(COLUMNS[1], y, 9.0, "コンビニ");
    for (i, h) in ["件数", "収納金額", "手数料", "差引額"].iter().enumerate() {
        text_right(p, COLUMNS[i + 2], y, 9.0, h);
    }
}

fn table_row(p: &mut Page, y: f32, row: &Row) {
    p.text(COLUMNS[0], y, 9.0, &row.cells[0]);
    p.text(COLUMNS[1], y, 9.0, &row.cells[1]);
    for (right, cell) in COLUMNS.iter().zip(&row.cells).skip(2) {
        text_right(p, *right, y, 9.0, cell);
    }
}

/// The statement's pages: the heading, the account and the totals on the first, then the
/// lines, as many pages as they need (a page number on each).
pub fn pages(payout: &Payout, merchant_name: &str, statement: &Statement) -> Vec<Page> {
    let names: BTreeMap<String, String> = catalogue()
        .map(|c| c.into_iter().map(|c| (c.id, c.name_ja)).collect())
        .unwrap_or_default();
    let mut rows: Vec<Row> = statement
        .lines
        .iter()
        .map(|l| Row {
            cells: [
                l.day.format("%Y-%m-%d").to_string(),
                chain_name(&names, &l.chain_id),
                l.count.to_string(),
                format_yen(l.gross),
                format_yen(l.fees),
                format_yen(l.net),
            ],
        })
        .collect();
    for r in &statement.refunds {
        rows.push(Row {
            cells: [
                r.paid_on.format("%Y-%m-%d").to_string(),
                format!("返金 {}", r.refund_id),
                String::new(),
                String::new(),
                String::new(),
                format_yen(-r.amount),
            ],
        });
    }
    let bills: usize = statement.lines.iter().map(|l| l.count).sum();
    rows.push(Row {
        cells: [
            "合計".into(),
            String::new(),
            bills.to_string(),
            format_yen(statement.gross),
            format_yen(statement.fees),
            format_yen(statement.gross - statement.fees - statement.refunded),
        ],
    });

    let mut chunks: Vec<&[Row]> = Vec::new();
    let (first, mut rest) = rows.split_at(rows.len().min(FIRST_PAGE_ROWS));
    chunks.push(first);
    while !rest.is_empty() {
        let (page, more) = rest.split_at(rest.len().min(PAGE_ROWS));
        chunks.push(page);
        rest = more;
    }
    let total_pages = chunks.len();
    let mut pages = Vec::with_capacity(total_pages);
    for (n, chunk) in chunks.into_iter().enumerate() {
        let mut p = Page::new(TITLE);
        let mut y = if n == 0 {
            heading(&mut p, payout, merchant_name, statement)
        } else {
            p.text(LEFT, 280.0, 11.0, &format!("{TITLE}  {}", payout.id));
            270.0
        };
        table_head(&mut p, y);
        y -= ROW_MM + 0.6;
        for row in chunk {
            table_row(&mut p, y, row);
            y -= ROW_MM;
        }
        text_right(
            &mut p,
            RIGHT,
            12.0,
            8.0,
            &format!("{}/{} ページ", n + 1, total_pages),
        );
        pages.push(p);
    }
    pages
}

/// The first page's heading; answers where the table starts.
fn heading(p: &mut Page, payout: &Payout, merchant_name: &str, s: &Statement) -> f32 {
    p.text(LEFT, 276.0, 20.0, TITLE);
    p.text(LEFT, 269.0, 8.0, "Payout statement");
    p.text(LEFT, 258.0, 12.0, &format!("{merchant_name} 様"));
    let mut y = 248.0;
    let account = payout.account.as_ref().map(|a| {
        let kind = match a.account_type.as_str() {
            "current" => "当座",
            "savings" => "貯蓄",
            _ => "普通",
        };
        format!("{} {} {} {}", a.bank_name, a.branch_name, kind, a.number)
    });
    for (label, value) in [
        ("お支払番号", payout.id.clone()),
        (
            "対象期間",
            format!(
                "{} ～ {}",
                japanese_date(s.period.start),
                japanese_date(s.period.end)
            ),
        ),
        ("お支払予定日", japanese_date(payout.pay_date)),
        (
            "振込先",
            account.unwrap_or_else(|| "口座未登録 (保留)".into()),
        ),
    ] {
        p.text(LEFT, y, 10.0, label);
        p.text(LEFT + 32.0, y, 10.0, &value);
        y -= 6.5;
    }
    y -= 3.0;
    p.marks.push(Mark::Box {
        x: LEFT - 1.5,
        y: y - 33.0,
        w: RIGHT - LEFT + 3.0,
        h: 37.0,
        grey: 0.95,
    });
    for (label, value) in [
        ("収納金額", s.gross),
        ("手数料", -s.fees),
        ("返金", -s.refunded),
        ("前期繰越", s.brought_forward),
        ("お振込金額", s.net),
        ("次期繰越", -s.carried_out),
    ] {
        p.text(LEFT + 2.0, y, 10.0, label);
        text_right(p, 90.0, y, 10.0, &format_yen(value));
        y -= 5.8;
    }
    p.text(
        LEFT,
        y - 3.0,
        7.5,
        "本通知書は確報(決済確定)済みのお支払をもとに作成しています。",
    );
    y - 14.0
}
