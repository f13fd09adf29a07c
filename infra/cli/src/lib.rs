//! The operator's command and the local stack.

pub mod buckets;
pub mod cards;
pub mod contract;
pub mod emulator;
pub mod iam;
pub mod mail;
pub mod onboard;
pub mod provision;
pub mod queues;
pub mod redeliver;
pub mod server;
pub mod smoke;
pub mod stack;
pub mod streams;
pub mod template;
