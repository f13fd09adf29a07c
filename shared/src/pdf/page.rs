//! A page as the documents lay it out: text lines, grey boxes and barcode bars on an A4 page, in
//! millimetres from its lower left corner. `Writer` turns it into PDF with printpdf; the sheet
//! benchmark hands the same page to its reportlab peer, so both draw exactly the same thing.

use serde::Serialize;

pub const PAGE_WIDTH_MM: f32 = 210.0;
pub const PAGE_HEIGHT_MM: f32 = 297.0;

/// One thing drawn on the page.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mark {
    /// A line of text, its baseline starting at (x, y); `size` in points.
    Text {
        x: f32,
        y: f32,
        size: f32,
        text: String,
    },
    /// A filled rectangle in a grey level (0 black, 1 white).
    Box {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        grey: f32,
    },
    /// Black bars, lower left corner at (x, y): each (start, width) in modules.
    Bars {
        x: f32,
        y: f32,
        module: f32,
        height: f32,
        bars: Vec<(u16, u16)>,
    },
}

/// One A4 page, in drawing order, and the document's title.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    pub title: &'static str,
    pub marks: Vec<Mark>,
}

impl Page {
    pub fn new(title: &'static str) -> Self {
        Self {
            title,
            marks: Vec::with_capacity(48),
        }
    }

    /// A line of text; control characters are dropped (they have no place on paper and could
    /// upset a viewer).
    pub fn text(&mut self, x: f32, y: f32, size: f32, text: &str) {
        self.marks.push(Mark::Text {
            x,
            y,
            size,
            text: text.chars().filter(|c| !c.is_control()).collect(),
        });
    }

    /// Every character the page shows.
    pub fn chars(&self) -> impl Iterator<Item = char> + '_ {
        self.marks.iter().flat_map(|m| match m {
            Mark::Text { text, .. } => text.chars(),
            _ => "".chars(),
        })
    }
}
