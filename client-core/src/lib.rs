//! Tianjian's shared core: the domain model, the access rules, schema validation and (later)
//! the sync engine, used by the server, by native test devices and, compiled to WASM, by the
//! PWA.
//!
//! It owns every rule about what a document may contain and who may change it, so that the
//! server and every client agree. It must never do IO: no clock, no network, no files. Time
//! comes in as an argument; bytes come in and go out as values.

pub mod access;
pub mod document;
pub mod documents;
pub mod ids;
pub mod model;
pub mod ops;
pub mod projection;
pub mod recovery;
pub mod replica;
pub mod schema;
pub mod session;
pub mod sync;
pub mod time;
pub mod uploads;
pub mod validate;
pub mod views;
#[cfg(feature = "wasm")]
mod wasm;

pub use access::{Principal, Role};
pub use document::{DocKind, Document, DocumentError, OpError, Scope};
pub use documents::{Documents, Held, HeldError};
pub use ids::{BranchId, DeviceId, DocumentId, RecordId, TownshipId, UserId};
pub use ops::{Branch, Ledger, Notebook, Supervision};
pub use time::{Date, Millis, Month, Period};
pub use validate::{Limits, Violation};

/// Error messages quote hostile input: never more than a few characters of it.
pub(crate) fn quote(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut short: String = s.chars().take(MAX).collect();
        short.push('…');
        short
    }
}
