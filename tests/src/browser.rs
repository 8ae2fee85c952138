//! Headless Chromium for the browser tests: Debian's `chromium`, driven from Node by
//! `playwright-core` with the scripts in `tests/js/browser/`.
//!
//! `cargo xtask test` installs the browser; without it these tests fail with a message that
//! says how to get it, they do not skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::node::{Run, js_dir, prepare_node, run_blocking};

/// Where Debian puts its Chromium; `TIANJIAN_CHROMIUM` names another build.
const DEBIAN_CHROMIUM: &str = "/usr/bin/chromium";

/// The Chromium the tests drive.
pub fn chromium() -> PathBuf {
    let path = std::env::var_os("TIANJIAN_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEBIAN_CHROMIUM));
    assert!(
        path.is_file(),
        "the browser tests need Chromium at {}: `cargo xtask test` installs Debian's \
         `chromium`, or set TIANJIAN_CHROMIUM",
        path.display()
    );
    path
}

/// Runs `tests/js/browser/<script>` with `args` and waits for it, at most `limit`. Blocking:
/// from async code, call it on a blocking thread.
pub fn run_script(script: &str, args: &[&str], limit: Duration) -> Run {
    prepare_node();
    let mut node = Command::new("node");
    node.arg(browser_dir().join(script))
        .args(args)
        .env("TIANJIAN_CHROMIUM", chromium())
        .current_dir(js_dir());
    run_blocking(node, limit)
}

/// Runs a script that prints one JSON object as its last line of output, and returns it;
/// panics with everything the script said if it failed.
pub async fn run_json(script: &str, args: Vec<String>, limit: Duration) -> serde_json::Value {
    let script = script.to_owned();
    let run = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_script(&script, &args, limit)
    })
    .await
    .unwrap_or_else(|error| panic!("the browser script's thread failed: {error}"));
    assert_eq!(run.status, Some(0), "the browser script failed:\n{run}");
    let last = run.stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|error| {
        panic!("the browser script did not end with JSON ({error}):\n{run}")
    })
}

fn browser_dir() -> PathBuf {
    Path::new(&js_dir()).join("browser")
}
