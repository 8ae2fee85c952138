//! Databases on the test run's PostgreSQL server, whose superuser's URL `cargo xtask test`
//! puts in `TIANJIAN_TEST_POSTGRES` (a throwaway server it started on loopback): a fresh
//! database for each test, so that tests running side by side never see each other's rows.

// A database that cannot be made is a failed test: panicking says where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};

/// Where the test PostgreSQL server is.
pub const TEST_POSTGRES: &str = "TIANJIAN_TEST_POSTGRES";

/// The URL of a new, empty database on the test server.
pub fn fresh_database() -> String {
    static MADE: AtomicUsize = AtomicUsize::new(0);
    let admin = std::env::var(TEST_POSTGRES).unwrap_or_else(|_| {
        panic!(
            "{TEST_POSTGRES} is not set: run the tests with `cargo xtask test`, which starts \
             PostgreSQL, or set it to a superuser's postgres:// URL"
        )
    });
    let name = format!(
        "t{}_{}_{}",
        std::process::id(),
        MADE.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |t| t.subsec_nanos())
    );
    // The blocking client runs a runtime of its own, so not on a test's runtime thread.
    let create = {
        let (admin, name) = (admin.clone(), name.clone());
        std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&admin, postgres::NoTls)
                .expect("cannot reach the test PostgreSQL server");
            client
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("cannot create a test database");
        })
    };
    create.join().unwrap();
    let (base, _) = admin.rsplit_once('/').expect("a URL ends in its database");
    format!("{base}/{name}")
}
