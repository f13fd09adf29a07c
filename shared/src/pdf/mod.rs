//! Every PDF the service writes (the sheet today; payment confirmations and payout statements
//! next) goes through here: a document lays out `Page`s of marks, and a `Writer` made once per
//! process for its kind writes them with printpdf, in the one typeface, embedded as subsets.

pub mod font;
mod page;
mod write;

pub use font::MISSING;
pub use page::{Mark, Page, PAGE_HEIGHT_MM, PAGE_WIDTH_MM};
pub use write::Writer;
