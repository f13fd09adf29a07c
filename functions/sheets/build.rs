//! The pages' Content-Security-Policy allows their one stylesheet by its SHA-256: computed
//! here, at build time, so the function links no hash code for it (issue 12's size budget).

use base64::Engine;
use sha2::{Digest, Sha256};

fn main() {
    println!("cargo:rerun-if-changed=src/page.css");
    let css = std::fs::read("src/page.css").expect("src/page.css");
    let digest = Sha256::digest(&css);
    println!(
        "cargo:rustc-env=PAGE_CSS_SHA256={}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    );
}
