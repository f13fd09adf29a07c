//! Schemas the request types share in the generated OpenAPI document (`make openapi`): each is
//! named once here and appears once under `components/schemas`, where the answers' schemas
//! (infra/openapi/document.yaml) refer to them too. A request type's member says which with
//! `#[schemars(with = "...")]` where its Rust type alone would say less.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

macro_rules! named_schema {
    ($(#[$doc:meta])* $name:ident, $schema:tt) => {
        $(#[$doc])*
        pub struct $name;

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

named_schema!(
    /// An identifier a merchant or a store chooses (order ids, references, transaction ids).
    Reference,
    {
        "type": "string",
        "minLength": 1,
        "maxLength": 64,
        "pattern": "^[A-Za-z0-9._:/#-]+$"
    }
);

named_schema!(
    /// The store's own code for itself.
    StoreCode,
    {
        "type": "string",
        "minLength": 1,
        "maxLength": 32,
        "pattern": "^[A-Za-z0-9._:/#-]+$"
    }
);

named_schema!(
    /// A time, shown in JST.
    Timestamp,
    {
        "type": "string",
        "format": "date-time",
        "description": "JST, e.g. `2026-11-27T21:04:05+09:00`"
    }
);

named_schema!(
    /// A Smart Pit number as this service writes it.
    SmartPitNumber,
    {
        "type": "string",
        "pattern": "^[0-9]{13}$",
        "description": "13 digits, check digit last"
    }
);

/// The currency of every amount: yen.
pub struct Jpy;

impl JsonSchema for Jpy {
    fn schema_name() -> Cow<'static, str> {
        "Jpy".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "const": "JPY" })
    }
}

named_schema!(
    /// The bills one payment or slip covers.
    InvoiceIds,
    {
        "type": "array",
        "minItems": 1,
        "maxItems": 20,
        "uniqueItems": true,
        "items": { "type": "string", "pattern": "^inv_[0-9a-z]{26}$" }
    }
);

/// A day, `YYYY-MM-DD` (JST).
impl JsonSchema for crate::clock::Day {
    fn schema_name() -> Cow<'static, str> {
        "Day".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "date" })
    }
}

/// A whole number (its range is the member's).
impl JsonSchema for crate::request::Whole {
    fn schema_name() -> Cow<'static, str> {
        "Whole".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "integer" })
    }
}

/// A Smart Pit number as a client may write it.
impl JsonSchema for crate::number::SmartPitNumber {
    fn schema_name() -> Cow<'static, str> {
        "SmartPitNumberInput".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "13 digits; spaces or hyphens only between the printed groups 4-4-5; full-width digits, spaces and dashes (２０１０－…) count as their ASCII forms",
            "examples": ["2010000000014", "2010 0000 00014", "２０１０－００００－０００１４"]
        })
    }
}

impl JsonSchema for crate::webhook::EventType {
    fn schema_name() -> Cow<'static, str> {
        "EventType".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = Self::ALL.iter().map(|t| t.as_str()).collect();
        json_schema!({ "type": "string", "enum": names })
    }
}

/// A member of a change is its value or null (to clear it), and may be left out.
impl<T: JsonSchema> JsonSchema for crate::request::Patch<T> {
    fn schema_name() -> Cow<'static, str> {
        <Option<T>>::schema_name()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        <Option<T>>::json_schema(generator)
    }
}

/// The statuses of a bill (a listing's filter, and a bill's `status`).
impl JsonSchema for crate::invoice::InvoiceStatus {
    fn schema_name() -> Cow<'static, str> {
        "InvoiceStatus".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        use crate::invoice::InvoiceStatus as S;
        let names: Vec<&str> = [
            S::Registered,
            S::Paid,
            S::Settled,
            S::Cancelled,
            S::Expired,
            S::Moved,
        ]
        .iter()
        .map(|s| s.as_str())
        .collect();
        json_schema!({ "type": "string", "enum": names })
    }
}

impl JsonSchema for crate::webhook::EventStatus {
    fn schema_name() -> Cow<'static, str> {
        "EventStatus".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        use crate::webhook::EventStatus as S;
        let names: Vec<&str> = [S::Pending, S::Delivered, S::Failed, S::Skipped]
            .iter()
            .map(|s| s.as_str())
            .collect();
        json_schema!({ "type": "string", "enum": names })
    }
}

/// A listing's page size.
impl JsonSchema for crate::request::Limit {
    fn schema_name() -> Cow<'static, str> {
        "Limit".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "integer", "minimum": 1, "maximum": 100, "default": 20 })
    }
}
