//! Media throughput on loopback: a video uploaded over tus to our server (the `tianjian`
//! command, release build) and downloaded from it, against a plain copy of the same file on
//! the same disk, and the same upload to the stock tus server in Node (`@tus/server` with
//! `@tus/file-store`, `tests/js/tus-server.mjs`), one after the other in one run. Then what a
//! cut connection costs: tus-js-client uploads through a proxy that cuts it again and again.
//!
//!     cargo bench -p tianjian-tests --bench media -- [--mb 200] [--cuts 10] [--runs 3]

// A benchmark that cannot set itself up has nothing to report: panicking says why.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use tianjian_server::store::Store;
use tianjian_tests::fixture::{keys, token, video, village};
use tianjian_tests::node::{js_dir, prepare_node, run_blocking};
use tianjian_tests::process::ServerProcess;
use tianjian_tests::proxy::CuttingProxy;
use tianjian_tests::{Response, http};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Options {
    mb: usize,
    cuts: u32,
    runs: usize,
}

fn options() -> Options {
    let mut options = Options {
        mb: 200,
        cuts: 10,
        runs: 3,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = || args.get(i + 1).and_then(|v| v.parse().ok());
        match args[i].as_str() {
            "--mb" => options.mb = value().unwrap(),
            "--cuts" => options.cuts = value().map(|v: usize| v as u32).unwrap(),
            "--runs" => options.runs = value().unwrap(),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    options
}

fn header(name: &str, value: impl ToString) -> (String, String) {
    (name.to_owned(), value.to_string())
}

/// Creates an upload at `addr` and sends the whole file in one PATCH, as tus-js-client does by
/// default; returns how long it took, from the first request to the last answer.
async fn upload(
    addr: std::net::SocketAddr,
    token: Option<&str>,
    bytes: &[u8],
    metadata: &str,
) -> Duration {
    let started = Instant::now();
    let mut headers = vec![
        header("Tus-Resumable", "1.0.0"),
        header("Upload-Length", bytes.len()),
        header("Upload-Metadata", metadata),
    ];
    if let Some(token) = token {
        headers.push(header("Authorization", format!("Bearer {token}")));
    }
    let created: Response = http(addr, "POST", "/files/", &headers, &[]).await.unwrap();
    assert_eq!(created.status, 201, "{}", created.body);
    let location = created.header("location").unwrap();
    // @tus/server answers with an absolute URL, ours with a path.
    let path = location
        .find("/files/")
        .map(|at| location[at..].to_owned())
        .unwrap();
    headers.truncate(1);
    headers.push(header("Upload-Offset", 0));
    headers.push(header("Content-Type", "application/offset+octet-stream"));
    if let Some(token) = token {
        headers.push(header("Authorization", format!("Bearer {token}")));
    }
    let sent = http(addr, "PATCH", &path, &headers, bytes).await.unwrap();
    assert_eq!(sent.status, 204, "{}", sent.body);
    assert_eq!(
        sent.header("upload-offset"),
        Some(bytes.len().to_string().as_str())
    );
    started.elapsed()
}

/// Downloads `path` and counts its bytes without keeping them.
async fn download(addr: std::net::SocketAddr, path: &str, token: &str) -> (Duration, u64) {
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let read = stream.read(&mut buffer).await.unwrap();
        if read == 0 {
            break;
        }
        total += read as u64;
    }
    (started.elapsed(), total)
}

fn copy(source: &Path, target: &Path) -> Duration {
    let started = Instant::now();
    std::fs::copy(source, target).unwrap();
    std::fs::File::open(target).unwrap().sync_all().unwrap();
    let elapsed = started.elapsed();
    std::fs::remove_file(target).unwrap();
    elapsed
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    prepare_node();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let v = {
            let store = Store::open(&dir.path().join("tianjian.sqlite3")).unwrap();
            village(&store).await
        };
        let li = token(&keys(), &v.li);
        let size = options.mb * 1024 * 1024;
        let source = dir.path().join("source.mp4");

        let program = Path::new(env!("CARGO_BIN_EXE_tianjian-under-test"));
        let ours = ServerProcess::tianjian(program, dir.path());
        let mut node = Command::new("node");
        node.arg(js_dir().join("tus-server.mjs"))
            .arg("--dir")
            .arg(dir.path().join("tus-node"));
        let stock = ServerProcess::start(node).unwrap();

        let (mut copies, mut ups, mut downs, mut stock_ups) = (vec![], vec![], vec![], vec![]);
        for run in 0..options.runs {
            // A new file each run: ours keeps one copy per hash and would finish at once.
            let mut bytes = video(size);
            bytes[40..48].copy_from_slice(&(run as u64).to_le_bytes());
            std::fs::write(&source, &bytes).unwrap();
            let hash: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let metadata = format!(
                "sha256 {},filetype {},document {}",
                STANDARD.encode(&hash),
                STANDARD.encode("video/mp4"),
                STANDARD.encode(v.notebook.url())
            );
            copies.push(copy(&source, &dir.path().join("copy.mp4")));
            ups.push(upload(ours.addr, Some(&li), &bytes, &metadata).await);
            let (time, received) = download(ours.addr, &format!("/blobs/{hash}"), &li).await;
            assert!(received >= size as u64, "downloaded {received} bytes");
            downs.push(time);
            stock_ups.push(upload(stock.addr, None, &bytes, &metadata).await);
        }
        let mb = options.mb as f64;
        let copy = median(copies);
        println!(
            "{} MB, median of {} runs, one after the other on one machine:",
            options.mb, options.runs
        );
        for (what, time) in [
            ("plain file copy (with fsync)", copy),
            (
                "upload to ours (tus, one PATCH, SHA-256 checked)",
                median(ups),
            ),
            ("download from ours (GET /blobs)", median(downs)),
            ("upload to @tus/server + @tus/file-store", median(stock_ups)),
        ] {
            println!(
                "  {what:<52} {:>7.2} s  {:>7.1} MB/s  {:>5.2}× the copy",
                time.as_secs_f64(),
                mb / time.as_secs_f64(),
                time.as_secs_f64() / copy.as_secs_f64()
            );
        }

        // What a cut costs: a stock client through a connection cut again and again.
        let bytes = video(50 * 1024 * 1024);
        let file = dir.path().join("cut.mp4");
        std::fs::write(&file, &bytes).unwrap();
        let hash: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let proxy = CuttingProxy::start(ours.addr, options.cuts, 1_000_000, 4_500_000, 42)
            .await
            .unwrap();
        let mut client = Command::new("node");
        client
            .arg(js_dir().join("tus-upload.mjs"))
            .arg(format!("http://{}/files/", proxy.addr))
            .arg(&li)
            .arg(&file)
            .arg(&hash)
            .arg(v.notebook.url())
            .arg("video/mp4");
        let run =
            tokio::task::spawn_blocking(move || run_blocking(client, Duration::from_secs(300)))
                .await
                .unwrap();
        assert_eq!(run.status, Some(0), "{run}");
        let traffic = proxy.traffic();
        let resent = traffic.sent.saturating_sub(bytes.len() as u64);
        println!(
            "tus-js-client, 50 MB, {} cuts: {} bytes sent, {} re-sent, {} per cut",
            traffic.cuts,
            traffic.sent,
            resent,
            resent / u64::from(traffic.cuts.max(1))
        );
        ours.kill().unwrap();
        stock.kill().unwrap();
    });
}
