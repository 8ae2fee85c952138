//! End-to-end tests: one binary, one module per area.
#![allow(clippy::unwrap_used)]

mod convergence; // three devices reconnect in every order; projections match a rebuild
mod durability; // the server process is killed mid-storm; nothing acknowledged is lost
mod elections; // an election counted by the server once it closes, its result in the branch document
mod health; // the server starts on a loopback port and answers /healthz
mod identity; // enrolment, refresh, revocation, re-enrolment, moves between branches
mod javascript; // a stock automerge-repo client in Node syncs with our server
mod media; // tus uploads that resume, checksums, limits, blobs by range to those who may read them, a recorded video that seeks
mod nodes; // two server processes on one PostgreSQL and one bucket: live relay, one killed mid-storm, an upload moving between them
mod operations; // the command as a county IT office runs it: configuration layered and checked
mod plan_standing; // random months: a member's phone, the secretary's and the server agree on every plan and figure
mod pwa; // the web app in headless Chromium: the stories of PRODUCT.md, offline and online
mod recovery; // refused work comes back to the person; a phone dropped mid-recovery ends the same
mod samod; // samod, the Rust automerge-repo, syncs with our server both ways
mod security; // forged or stale credentials, others' objects, hostile input: refused, nothing changed
mod statistics;
mod sync; // devices sync through a real server and SQLite file over WebSocket // figures counted by hand and by client-core agree; nothing leaks between branches or townships
