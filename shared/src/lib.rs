//! The library every Smart Pit function shares: domain types and rules, DynamoDB access,
//! configuration and errors.

pub mod auth;
pub mod bank_calendar;
pub mod calls;
pub mod clock;
pub mod config;
pub mod confirmation;
pub mod console;
pub mod contract;
pub mod db;
pub mod fees;
pub mod guessing;
pub mod http;
pub mod idempotent;
pub mod ids;
pub mod invoice;
pub mod issuance;
pub mod lambda;
pub mod mail_address;
pub mod merchant_contact;
pub mod money;
pub mod notice;
pub mod number;
pub mod payment;
pub mod payout;
pub mod payout_cycle;
#[cfg(feature = "pdf")]
pub mod pdf;
pub mod principal;
pub mod problem;
#[cfg(feature = "queues")]
pub mod queue;
pub mod refund;
pub mod report;
pub mod request;
pub mod routes;
#[cfg(feature = "sealed")]
pub mod sealed;
pub mod settlement;
pub mod sheet;
pub mod store_chain;
pub mod text;
pub mod timeouts;
#[cfg(feature = "zengin")]
pub mod transfer_file;
pub mod webhook;
#[cfg(feature = "zengin")]
pub mod zengin;

pub use db::Db;
pub use ids::InvoiceId;
pub use invoice::{Invoice, InvoiceStatus};
pub use number::{NumberKind, SmartPitNumber};
pub use problem::{Code, Problem};
pub use store_chain::{Channel, StoreChain};

#[cfg(test)]
mod layers {
    /// The layers, kept visible: what each module of this crate is.
    const DOMAIN: &[&str] = &[
        "bank_calendar",
        "clock",
        "confirmation",
        "console",
        "fees",
        "ids",
        "invoice",
        "mail_address",
        "merchant_contact",
        "money",
        "notice",
        "number",
        "payment",
        "payout",
        "payout_cycle",
        "refund",
        "principal",
        "report",
        "settlement",
        "store_chain",
        "text",
        "transfer_file",
        "webhook",
        "zengin",
    ];
    /// Between a request and storage: they read requests or call storage by design.
    const SERVICE: &[&str] = &[
        "auth",
        "calls",
        "config",
        "contract",
        "guessing",
        "http",
        "idempotent",
        "issuance",
        "lambda",
        "problem",
        "queue",
        "request",
        "routes",
        "sealed",
        "timeouts",
    ];

    /// No domain module reads or writes storage (item mapping lives in `db/`), and every
    /// module of the crate is one or the other, so a new one has to say which.
    #[test]
    fn domain_modules_do_not_import_storage() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        for name in DOMAIN {
            // A module is `name.rs`, or every file of `name/`.
            let mut text =
                std::fs::read_to_string(dir.join(format!("{name}.rs"))).unwrap_or_default();
            if let Ok(files) = std::fs::read_dir(dir.join(name)) {
                for f in files.flatten() {
                    text.push_str(&std::fs::read_to_string(f.path()).unwrap_or_default());
                }
            }
            assert!(!text.is_empty(), "{name}.rs");
            for storage in [
                "crate::db",
                "super::db",
                "aws_sdk_dynamodb",
                "crate::Db",
                "crate::{Db",
            ] {
                assert!(!text.contains(storage), "{name}.rs uses {storage}");
            }
        }
        // Storage answers with its own error; HTTP problems are the web layer's.
        if let Ok(db) = std::fs::read_dir(dir.join("db")) {
            for e in db.flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                let name = e.file_name().to_string_lossy().to_string();
                for web in ["Problem", "crate::Code", "StatusCode", "lambda_http"] {
                    assert!(!text.contains(web), "db/{name} uses {web}");
                }
            }
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            panic!("{}", dir.display());
        };
        for e in entries.flatten() {
            let file = e.file_name().to_string_lossy().to_string();
            let Some(module) = file.strip_suffix(".rs") else {
                continue;
            };
            assert!(
                module == "lib" || DOMAIN.contains(&module) || SERVICE.contains(&module),
                "{module}.rs: add it to DOMAIN or SERVICE"
            );
        }
    }
}
