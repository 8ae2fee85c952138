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

/// Runs `work` with a client of the test server's superuser, on a thread of its own (the
/// blocking client runs a runtime of its own).
fn as_admin<T: Send + 'static>(
    work: impl FnOnce(&mut postgres::Client) -> T + Send + 'static,
) -> T {
    let admin = std::env::var(TEST_POSTGRES)
        .unwrap_or_else(|_| panic!("{TEST_POSTGRES} is not set: a superuser's postgres:// URL"));
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&admin, postgres::NoTls)
            .expect("cannot reach the test PostgreSQL server");
        work(&mut client)
    })
    .join()
    .unwrap()
}

/// The name of the database at `url` (made by [`fresh_database`]).
fn database_name(url: &str) -> String {
    let (_, name) = url.rsplit_once('/').expect("a URL ends in its database");
    name.split('?').next().unwrap_or(name).to_owned()
}

/// The process ids of the server processes (backends) serving the connections to the
/// database at `url` now: a benchmark on the same machine reads what they cost.
pub fn backends(url: &str) -> Vec<u32> {
    let name = database_name(url);
    as_admin(move |client| {
        client
            .query(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&name],
            )
            .expect("cannot list the database's connections")
            .iter()
            .filter_map(|row| u32::try_from(row.get::<_, i32>(0)).ok())
            .collect()
    })
}

/// Drops the database at `url`, made by [`fresh_database`], whoever is still connected.
pub fn drop_database(url: &str) {
    let name = database_name(url);
    as_admin(move |client| {
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .expect("cannot drop a test database");
    });
}
