//! Typed ids: the one macro, `typed_id!`, that defines every id type of the crate.
//!
//! An id is a newtype over an SQLite rowid, so a chunk id can never be passed where a document
//! id is expected. The types themselves live beside the tables they key: `catalog::FolderId`,
//! `DocId`, `VersionId`, `ChunkId`; `audit::SessionId`, `AuditId`, `PinId`.

/// Defines `pub struct $name(pub i64)` (so `Id(n)` builds one and `.0` reads it) with `Debug`,
/// `Clone`, `Copy`, `PartialEq`, `Eq`, `Hash`, `PartialOrd`, `Ord`, serde `Serialize` and
/// `Deserialize` as the bare integer (`#[serde(transparent)]`), and `Display` printing the
/// integer. Doc comments and attributes written before the name are kept.
macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            ::serde::Serialize,
            ::serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

pub(crate) use typed_id;
