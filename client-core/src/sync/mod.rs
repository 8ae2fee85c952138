//! Sync: the automerge-repo wire protocol (version 1), as a sans-IO engine shared by the
//! server and every client.
//!
//! [`message`] encodes and decodes the CBOR frames. The engine that drives one automerge
//! `sync::State` per peer and document, taking events and returning effects, builds on it;
//! [`quiet`] is what a device names in its `join` to reconnect without a frame a document.

pub mod engine;
pub mod message;
pub mod quiet;
pub mod refused;
