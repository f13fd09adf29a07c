//! Headless Chromium (Debian's `chromium`, installed by `make tools`), driven from the command
//! line (a screenshot at a given window size, the DOM after load, the page printed to PDF) or,
//! for clicks and forms, by playwright-core (`tests/browser/drive.mjs`, `make browser-deps`).
//! Each run has a fresh profile, no network beyond loopback, and a time limit.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

use crate::unique;

/// What one run of the browser gave.
pub struct Run {
    pub stdout: String,
    /// Chromium's own log (console messages, Content-Security-Policy reports).
    pub log: String,
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(unique("chromium"));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// What every Chromium of the tests runs with, here and in drive.mjs (handed over in
/// `CHROMIUM_FLAGS`): no sandbox (root), no GPU, and nothing that reaches out to Google's
/// hosts, which this machine's closed network refuses.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

async fn chromium(args: &[String], url: &str) -> Run {
    let profile = scratch();
    let mut cmd = Command::new("chromium");
    cmd.arg("--headless")
        .args(CHROMIUM_FLAGS)
        .args([
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            // A browser in Japan: the pages' language comes from Accept-Language unless `?lang=`.
            "--lang=ja-JP",
            "--accept-lang=ja-JP,ja",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(90), cmd.output())
        .await
        .expect("chromium answered within 90 s")
        .expect("chromium (make tools)");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        log: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A PNG of the page in a window of `width` x `height` CSS pixels at `scale` device pixels
/// each (a phone is 390 wide at 3).
pub async fn screenshot(url: &str, width: u32, height: u32, scale: u32) -> (PathBuf, Run) {
    let png = scratch().join("page.png");
    let run = chromium(
        &[
            format!("--screenshot={}", png.display()),
            format!("--window-size={width},{height}"),
            format!("--force-device-scale-factor={scale}"),
        ],
        url,
    )
    .await;
    assert!(png.exists(), "no screenshot: {}", run.log);
    (png, run)
}

/// The DOM after load, serialised.
pub async fn dom(url: &str) -> Run {
    chromium(&["--dump-dom".to_string()], url).await
}

/// The page printed to PDF (A4 where the page's print stylesheet asks for it).
pub async fn print(url: &str) -> (Vec<u8>, Run) {
    let pdf = scratch().join("page.pdf");
    let run = chromium(
        &[
            format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer".to_string(),
        ],
        url,
    )
    .await;
    let bytes = std::fs::read(&pdf).unwrap_or_else(|e| panic!("no PDF ({e}): {}", run.log));
    (bytes, run)
}

/// With `SMARTPIT_SCREENSHOTS` set (`make screenshots`: docs/screenshots), keeps a picture of
/// the page for the docs: the top of it in a phone's window, at twice its density.
pub async fn keep(url: &str, name: &str) {
    let Ok(dir) = std::env::var("SMARTPIT_SCREENSHOTS") else {
        return;
    };
    let (png, _) = screenshot(url, 390, 1100, 2).await;
    let _ = std::fs::create_dir_all(&dir);
    std::fs::copy(&png, Path::new(&dir).join(name)).expect("keep the screenshot");
}

/// With `SMARTPIT_SCREENSHOTS` set, keeps a picture the test took.
pub fn keep_file(png: &Path, name: &str) {
    if let Ok(dir) = std::env::var("SMARTPIT_SCREENSHOTS") {
        let _ = std::fs::create_dir_all(&dir);
        std::fs::copy(png, Path::new(&dir).join(name)).expect("keep the screenshot");
    }
}

/// What the browser saw after one step of `drive`.
#[derive(Debug, serde::Deserialize)]
pub struct Seen {
    pub url: String,
    /// The status of the last navigation.
    pub status: Option<u16>,
    pub html: String,
    /// Console messages and page errors so far (a Content-Security-Policy refusal shows here).
    pub messages: Vec<String>,
    /// After an `{"axe": true}` step: axe-core's serious and critical violations on the page.
    pub axe: Option<Vec<serde_json::Value>>,
}

/// Runs `steps` (see tests/browser/drive.mjs) in one browser; what each step saw.
pub async fn drive(steps: &serde_json::Value) -> Vec<Seen> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/drive.mjs");
    let mut cmd = Command::new("node");
    cmd.arg(&script)
        .arg(steps.to_string())
        .env(
            "CHROMIUM_FLAGS",
            serde_json::json!(CHROMIUM_FLAGS).to_string(),
        )
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("the browser finished within 120 s")
        .expect("node (make browser-deps)");
    assert!(
        out.status.success(),
        "the browser driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the driver's report")
}

/// The page an `{"axe": true}` step ran on has no serious or critical accessibility violation
/// (axe-core, pinned in tests/browser/package.json).
pub fn assert_accessible(seen: &Seen) {
    let found = seen
        .axe
        .as_ref()
        .unwrap_or_else(|| panic!("no axe step ran on {}", seen.url));
    assert!(
        found.is_empty(),
        "axe-core on {}: {}",
        seen.url,
        serde_json::to_string_pretty(found).unwrap_or_default()
    );
}
