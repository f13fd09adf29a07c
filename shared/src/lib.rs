//! The library every Smart Pit function shares: domain types and rules, DynamoDB access,
//! configuration and errors.

pub mod auth;
pub mod calls;
pub mod clock;
pub mod config;
pub mod db;
pub mod fees;
pub mod guessing;
pub mod http;
pub mod idempotent;
pub mod ids;
pub mod invoice;
pub mod issuance;
pub mod mail_address;
pub mod money;
pub mod notice;
pub mod number;
pub mod payment;
#[cfg(feature = "pdf")]
pub mod pdf;
pub mod problem;
pub mod report;
pub mod request;
pub mod routes;
pub mod settlement;
pub mod sheet;
pub mod store_chain;
pub mod text;
pub mod timeouts;
pub mod webhook;

pub use db::Db;
pub use ids::InvoiceId;
pub use invoice::{Invoice, InvoiceStatus};
pub use number::{NumberKind, SmartPitNumber};
pub use problem::{Code, Problem};
pub use store_chain::{Channel, StoreChain};
