//! Reading a PDF back as a person and a scanner would: pdftotext for the text, pdftoppm at
//! 600 dpi and zbarimg for the barcode.

use std::process::Command;

use crate::unique;

pub fn pdf_text(pdf: &[u8]) -> String {
    let dir = std::env::temp_dir().join(unique("pdf"));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("sheet.pdf");
    std::fs::write(&path, pdf).expect("write");
    let out = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (make tools)");
    assert!(out.status.success());
    String::from_utf8(out.stdout).expect("utf-8")
}

pub fn barcodes(pdf: &[u8]) -> Vec<String> {
    let dir = std::env::temp_dir().join(unique("scan"));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("sheet.pdf");
    std::fs::write(&path, pdf).expect("write");
    let png = dir.join("page");
    let ok = Command::new("pdftoppm")
        .args(["-r", "600", "-gray", "-png", "-singlefile"])
        .arg(&path)
        .arg(&png)
        .status()
        .expect("pdftoppm")
        .success();
    assert!(ok);
    scan_png(&dir.join("page.png"))
}

/// The Code 128 symbols zbar finds in a picture.
pub fn scan_png(png: &std::path::Path) -> Vec<String> {
    scan(png, "code128")
}

/// The symbols of one symbology (`code128`, `ean13`) zbar finds in a picture.
pub fn scan(png: &std::path::Path, symbology: &str) -> Vec<String> {
    let out = Command::new("zbarimg")
        .args(["--quiet", "--raw", "-Sdisable"])
        .arg(format!("-S{symbology}.enable"))
        .arg(png)
        .output()
        .expect("zbarimg (make tools)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}
