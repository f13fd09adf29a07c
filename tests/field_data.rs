//! Field data comes from maintained sources, pinned (infra/data/package-lock.json): the files
//! the build embeds (shared/data/) must be what those packages give, so a refresh is `make
//! field-data` and a hand edit fails here.

use std::process::Command;

#[test]
fn the_embedded_field_data_is_what_the_pinned_packages_give() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let data = repo.join("infra/data");
    let install = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&data)
        .output()
        .expect("npm (make test installs Node for the browser tests)");
    assert!(
        install.status.success(),
        "{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let check = Command::new("node")
        .args(["build.mjs", "--check"])
        .current_dir(&data)
        .output()
        .expect("node");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}
