//! The test run's S3-compatible bucket: `cargo xtask test` starts a real one (SeaweedFS, on
//! loopback) and names it in `TIANJIAN_TEST_S3` (`s3://bucket/prefix`), with the standard
//! `AWS_*` variables that the server reads. Each test gets a fresh prefix in it, so that
//! tests running side by side never see each other's blobs.

// A bucket that cannot be had is a failed test: panicking says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};

use tianjian_server::media::blobs::Location;

/// Where the test bucket is.
pub const TEST_S3: &str = "TIANJIAN_TEST_S3";

/// Where a test's server keeps complete blobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobStore {
    /// Files under the media directory, the default.
    Files,
    /// The test run's S3-compatible bucket.
    S3,
}

impl BlobStore {
    /// `media.blobs` for a test: the default, or a fresh prefix in the test bucket.
    pub fn location(self) -> Location {
        match self {
            BlobStore::Files => Location::MediaDir,
            BlobStore::S3 => fresh_prefix(),
        }
    }
}

/// A fresh, empty prefix in the test bucket.
pub fn fresh_prefix() -> Location {
    static MADE: AtomicUsize = AtomicUsize::new(0);
    let run = "run the tests with `cargo xtask test`, which starts an S3-compatible server \
               (SeaweedFS) on loopback and sets it";
    let url = std::env::var(TEST_S3).unwrap_or_else(|_| panic!("{TEST_S3} is not set: {run}"));
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL",
    ] {
        assert!(std::env::var_os(name).is_some(), "{name} is not set: {run}");
    }
    // The tests talk to a server on this machine, never to a cloud.
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    assert!(
        ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"]
            .iter()
            .any(|loopback| endpoint.starts_with(loopback)),
        "AWS_ENDPOINT_URL is {endpoint}, not a server on loopback: {run}"
    );
    let Location::S3 { bucket, prefix } =
        Location::parse(&url).unwrap_or_else(|why| panic!("{TEST_S3}: {why}"))
    else {
        unreachable!("an s3:// URL is a bucket")
    };
    let test = format!(
        "t{}-{}-{}",
        std::process::id(),
        MADE.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |t| t.subsec_nanos())
    );
    let prefix = if prefix.is_empty() {
        test
    } else {
        format!("{prefix}/{test}")
    };
    Location::S3 { bucket, prefix }
}
