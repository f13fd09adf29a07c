//! Sheets side by side with reportlab, in one run: 1,000 different sheets (the notifier's batch)
//! rendered in this process, and the same sheets drawn by `reportlab_sheet.py` from the same
//! layouts and font, alternating rounds so both see the same machine. Prints a Markdown table
//! for docs/BENCHMARKS.md.
//!
//! Run: `make bench-sheets` (reportlab comes with the test venv), or
//! `cargo bench -p smartpit-shared --features sheet --bench sheet_batch -- \
//!   --python .venv/bin/python [--sheets 1000] [--rounds 5] [--font PATH] [--out DIR]`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use chrono::NaiveDate;
use smartpit_shared::pdf::font;
use smartpit_shared::sheet::payment_code::PaymentCode;
use smartpit_shared::sheet::{layout, pdf, SheetContent};
use smartpit_shared::SmartPitNumber;

const MERCHANTS: [&str; 8] = [
    "スマートピット商店",
    "株式会社みどり通販",
    "Blue Harbor Books",
    "髙橋﨑商会",
    "ひまわり生活協同組合",
    "Café Lumière 渋谷店",
    "北海道ファーム直送便",
    "ABCネットショップ",
];
const ITEMS: [&str; 6] = [
    "ノート 3冊",
    "お米 5kg ×2",
    "Tシャツ（白）Ｌサイズ",
    "年間購読料 2027年1月〜12月",
    "",
    "冷凍ケーキ詰め合わせ 🍰",
];

fn sheets(n: usize) -> Vec<SheetContent> {
    (0..n)
        .map(|i| {
            let number = SmartPitNumber::from_body(221_000_000_000 + i as u64 * 7_919);
            let due = NaiveDate::from_ymd_opt(2026, 12, 1 + (i % 28) as u32).unwrap_or_default();
            let amount = 300 + (i as i64 * 7_331) % 299_700;
            let fee = if i % 4 == 0 { 110 } else { 0 };
            let item = ITEMS[i % ITEMS.len()];
            SheetContent {
                contact: None,
                number,
                merchant_name: MERCHANTS[i % MERCHANTS.len()].into(),
                amount,
                customer_fee: fee,
                due_date: due,
                merchant_order_id: format!("ORDER-{:06}", 100_000 + i),
                description: (!item.is_empty()).then(|| item.to_string()),
                payment_code: PaymentCode::new("912345", number, due, amount + fee),
            }
        })
        .collect()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

struct Round {
    first_us: f64,
    median_us: f64,
    total_ms: f64,
    sizes: Vec<usize>,
}

fn ours(contents: &[SheetContent], out: Option<&PathBuf>) -> Round {
    let start = Instant::now();
    let first = pdf::render(&contents[0]).unwrap_or_else(|e| panic!("render: {e}"));
    let first_us = start.elapsed().as_secs_f64() * 1e6;
    if let Some(dir) = out {
        std::fs::write(dir.join("smartpit.pdf"), &first).unwrap_or_default();
    }
    let mut times = Vec::with_capacity(contents.len());
    let mut sizes = vec![first.len()];
    let all = Instant::now();
    for c in &contents[1..] {
        let t = Instant::now();
        let bytes = pdf::render(std::hint::black_box(c)).unwrap_or_else(|e| panic!("render: {e}"));
        times.push(t.elapsed().as_secs_f64() * 1e6);
        sizes.push(bytes.len());
    }
    Round {
        first_us,
        total_ms: all.elapsed().as_secs_f64() * 1e3,
        median_us: median(&mut times),
        sizes,
    }
}

fn reportlab(python: &str, layouts: &PathBuf, font: &str, out: Option<&PathBuf>) -> Round {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/reportlab_sheet.py");
    let mut cmd = Command::new(python);
    cmd.arg(script).arg(layouts).arg(font);
    if let Some(dir) = out {
        cmd.arg(dir.join("reportlab.pdf"));
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e} (make venv)"));
    assert!(
        output.status.success(),
        "reportlab peer failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("peer output: {e}"));
    let mut times: Vec<f64> = v["times_us"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t.as_f64()).collect())
        .unwrap_or_default();
    let total_ms = times.iter().sum::<f64>() / 1e3;
    Round {
        first_us: v["first_us"].as_f64().unwrap_or(f64::NAN),
        median_us: median(&mut times),
        total_ms,
        sizes: v["sizes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_u64())
                    .map(|s| s as usize)
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = arg(&args, "--sheets")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
    let rounds: usize = arg(&args, "--rounds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let python = arg(&args, "--python").unwrap_or_else(|| "python3".into());
    let font = arg(&args, "--font")
        .or_else(|| std::env::var("SHEET_FONT_PATH").ok())
        .unwrap_or_else(|| font::DEFAULT_FONT_PATH.into());
    // Our renderer reads the font from here on its first sheet.
    std::env::set_var("SHEET_FONT_PATH", &font);
    let out = arg(&args, "--out").map(PathBuf::from);

    let contents = sheets(n.max(2));
    let layouts: Vec<layout::Page> = contents
        .iter()
        .map(|c| layout::layout(c).unwrap_or_else(|e| panic!("layout: {e}")))
        .collect();
    let dir = std::env::temp_dir().join(format!("sheet-batch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let layouts_path = dir.join("layouts.json");
    std::fs::write(
        &layouts_path,
        serde_json::to_vec(&layouts).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    if let Some(o) = &out {
        std::fs::create_dir_all(o).unwrap_or_default();
    }

    println!(
        "{} sheets a round, {rounds} rounds alternating, font {font}",
        contents.len()
    );
    println!();
    println!(
        "| round | smartpit median | reportlab median | ratio | smartpit batch | reportlab batch |"
    );
    println!("|---|---|---|---|---|---|");
    let mut ratios = Vec::new();
    let (mut firsts, mut peer_firsts) = (Vec::new(), Vec::new());
    let (mut ours_med, mut peer_med) = (Vec::new(), Vec::new());
    let (mut our_sizes, mut peer_sizes) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        // Alternate which goes first, so neither always gets the warmer machine.
        let keep = if r == 0 { out.as_ref() } else { None };
        let (a, b) = if r % 2 == 0 {
            let a = ours(&contents, keep);
            (a, reportlab(&python, &layouts_path, &font, keep))
        } else {
            let b = reportlab(&python, &layouts_path, &font, keep);
            (ours(&contents, keep), b)
        };
        let ratio = b.median_us / a.median_us;
        println!(
            "| {} | {:.0} µs | {:.0} µs | {:.1}x | {:.0} ms | {:.0} ms |",
            r + 1,
            a.median_us,
            b.median_us,
            ratio,
            a.total_ms,
            b.total_ms
        );
        ratios.push(ratio);
        if r == 0 {
            // Only this process's first sheet reads the font; the peer starts afresh each round.
            firsts.push(a.first_us);
        }
        peer_firsts.push(b.first_us);
        ours_med.push(a.median_us);
        peer_med.push(b.median_us);
        our_sizes = a.sizes;
        peer_sizes = b.sizes;
    }
    let size_stats = |s: &mut Vec<usize>| {
        s.sort_unstable();
        (s[s.len() / 2], s[s.len() - 1])
    };
    let (om, ox) = size_stats(&mut our_sizes);
    let (pm, px) = size_stats(&mut peer_sizes);
    println!();
    println!(
        "median of rounds: smartpit {:.0} µs a sheet, reportlab {:.0} µs, ratio {:.1}x",
        median(&mut ours_med),
        median(&mut peer_med),
        median(&mut ratios)
    );
    println!(
        "first sheet of a process (font read and shared subset made / font registered): smartpit {:.1} ms, reportlab {:.1} ms",
        median(&mut firsts) / 1e3,
        median(&mut peer_firsts) / 1e3
    );
    println!(
        "size: smartpit median {om} bytes, largest {ox}; reportlab median {pm} bytes, largest {px}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
