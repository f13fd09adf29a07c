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

/// The fonts a PDF uses as pdffonts lists them: (name, type, embedded, subset, has ToUnicode).
pub fn pdf_fonts(pdf: &[u8]) -> Vec<(String, String, bool, bool, bool)> {
    let dir = std::env::temp_dir().join(unique("fonts"));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("sheet.pdf");
    std::fs::write(&path, pdf).expect("write");
    let out = Command::new("pdffonts")
        .arg(&path)
        .output()
        .expect("pdffonts (make tools)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // name, type (two or three words), encoding, emb, sub, uni, object, generation.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(2)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let n = cols.len();
            (n >= 8).then(|| {
                (
                    cols[0].to_string(),
                    cols[1..n - 6].join(" "),
                    cols[n - 5] == "yes",
                    cols[n - 4] == "yes",
                    cols[n - 3] == "yes",
                )
            })
        })
        .collect()
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
