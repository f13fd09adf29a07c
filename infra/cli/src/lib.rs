//! The operator's commands (`smartpit`): keys, fees, cards, settlement files, redelivery and
//! the smoke run, against a deployed stack or the local one (`smartpit_local`).

pub mod cards;
pub mod mail;
pub mod onboard;
pub mod payouts;
pub mod redeliver;
pub mod smoke;
pub mod uploads;
