//! client-core's integration tests: one binary, one module per area.
#![allow(clippy::unwrap_used)]

mod convergence; // random operations on replicas, merged in random orders, converge and validate
mod fixture; // a township with a branch, its people and their documents
mod hostile; // hand-made hostile documents, patches and bytes are refused, never panic
mod operations; // each operation: the permitted call succeeds, each forbidden one fails cleanly
mod projection; // what the server's SQL tables hold about each record
mod replica; // a phone's documents and sync engine joined: stored before sent, kept across restarts
mod sync; // the sync engine on a deterministic in-memory network
