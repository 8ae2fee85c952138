//! What the web app costs a phone, in headless Chromium against our server on loopback: the
//! bytes of a first visit (gzipped, as the server sends them), and the time from navigation
//! to an interactive home screen offline, against the time the service worker takes to hand
//! over the page itself, in the same run. The person signing in is the demo's 李章桂, whose
//! home shows his branch's lectures.
//!
//!     cargo xtask build-pwa && cargo bench -p tianjian-tests --bench pwa -- [--runs 10]

// A benchmark that cannot set itself up has nothing to report: panicking says why.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Duration;

use tianjian_server::auth::Settings;
use tianjian_server::store::Store;
use tianjian_server::{AppState, Config, demo};
use tianjian_tests::TestServer;
use tianjian_tests::browser;
use tianjian_tests::fixture::config;

fn runs() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

#[tokio::main]
async fn main() {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../pwa/dist");
    assert!(
        dist.join("index.html").is_file(),
        "run `cargo xtask build-pwa` first"
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tianjian.sqlite3")).unwrap();
    let people = demo::load(&store, tianjian_server::now())
        .await
        .unwrap()
        .unwrap();
    let li = people.iter().find(|p| p.user.name == "李章桂").unwrap();
    let invite = tianjian_server::auth::issue_invite(
        &store,
        &li.principal,
        &li.user,
        Duration::from_secs(3600),
        tianjian_server::now(),
    )
    .await
    .unwrap();
    let config = Config {
        web_dir: Some(dist),
        ..config(Settings::default())
    };
    let state = AppState::open(store, config).await.unwrap();
    let server = TestServer::start_with(state).await.unwrap();

    let runs = runs();
    let measured = browser::run_json(
        "measure-app.mjs",
        vec![
            format!("http://{}", server.addr),
            invite.code,
            runs.to_string(),
        ],
        Duration::from_secs(600),
    )
    .await;

    println!("first visit, as sent (gzip) and as used:");
    let files = measured["firstVisit"]["files"].as_array().unwrap();
    for file in files {
        println!(
            "  {:<48} {:>9} B  {:>9} B",
            file["name"].as_str().unwrap(),
            file["encoded"],
            file["decoded"]
        );
    }
    let kib = |v: &serde_json::Value| v.as_f64().unwrap() / 1024.0;
    println!(
        "  {:<48} {:>7.0} KiB  {:>7.0} KiB",
        "total",
        kib(&measured["firstVisit"]["encoded"]),
        kib(&measured["firstVisit"]["decoded"])
    );

    let mut shell: Vec<f64> = Vec::new();
    let mut home: Vec<f64> = Vec::new();
    for run in measured["offline"].as_array().unwrap() {
        shell.push(run["shell"].as_f64().unwrap());
        home.push(run["home"].as_f64().unwrap());
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let (shell, home) = (median(&mut shell), median(&mut home));
    println!("offline start, median of {runs}:");
    println!("  the page from the service worker (DOMContentLoaded): {shell:.0} ms");
    println!("  home screen with the records:                        {home:.0} ms");
    println!("  ratio: {:.1} ×", home / shell);
    server.stop().await.unwrap();
}
