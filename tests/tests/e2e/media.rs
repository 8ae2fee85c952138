//! Media end to end, over the tus protocol as a phone speaks it: uploads that resume where a
//! cut connection left them, chunks refused for a bad checksum, whole files refused for a
//! wrong hash, limits refused before a byte is written, and blobs served by range to those who
//! may read a record that references them, and to nobody else.
//!
//! The tests that touch where complete blobs are kept run twice (see
//! [`on_every_blob_store`]): with blobs as files under the data directory, and in a real
//! S3-compatible bucket, the test run's SeaweedFS. Nodes that share a database and a bucket
//! hand an upload over as a phone moves between them.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::BTreeMap;

use client_core::model::common::MediaRef;
use client_core::uploads::{Network, Policy, UploadQueue};
use client_core::{DocKind, DocumentId, Limits, Notebook, projection};
use futures_util::TryStreamExt;
use tianjian_server::auth::Settings;
use tianjian_server::media::blobs::{Blobs, Location};
use tianjian_server::store::Store;
use tianjian_server::{AppState, Config};
use tianjian_tests::browser;
use tianjian_tests::device::Device;
use tianjian_tests::fixture::{
    Backend, Database, NOW, Village, config, database, database_on, lecture, photo, served, sha256,
    table_rows, token, video, village,
};
use tianjian_tests::node::{js_dir, prepare_node, run_blocking};
use tianjian_tests::process::ServerProcess;
use tianjian_tests::proxy::CuttingProxy;
use tianjian_tests::s3::BlobStore;
use tianjian_tests::uploader::upload;
use tianjian_tests::{Response, TestServer, http};
use tokio::io::AsyncWriteExt;

/// Each test named runs twice: `files::NAME`, with blobs as files under the data directory,
/// and `s3::NAME`, with blobs in the test run's S3-compatible bucket.
macro_rules! on_every_blob_store {
    ($($test:ident),* $(,)?) => {
        mod files {
            $(#[tokio::test]
            async fn $test() {
                super::$test(super::BlobStore::Files).await
            })*
        }
        mod s3 {
            $(#[tokio::test]
            async fn $test() {
                super::$test(super::BlobStore::S3).await
            })*
        }
    };
}

on_every_blob_store![
    a_photo_resumes_after_a_cut_and_is_served_by_range_to_the_branch_only,
    a_corrupt_chunk_is_refused_and_a_wrong_whole_file_stores_nothing,
    limits_and_permissions_refuse_before_a_byte_is_written,
    an_upload_resumes_from_the_reported_offset_after_the_server_is_killed,
    a_stock_tus_client_uploads_50_mb_through_a_connection_cut_ten_times,
    an_unfinished_upload_expires_with_its_bytes,
    a_periods_approved_media_download_as_one_zip_laid_out_by_branch_and_record,
    media_are_backed_up_from_and_restored_to_where_blobs_are_kept,
];

/// A server's configuration with the test key, media in a fresh directory, and complete blobs
/// in `blobs`.
fn config_on(blobs: BlobStore) -> Config {
    let mut config = config(Settings::default());
    config.media.blobs = blobs.location();
    config
}

/// The blobs of a server with `config`, as it sees them.
fn blobs_of(config: &Config) -> Blobs {
    Blobs::open(&config.media.blobs, &config.media_dir).unwrap()
}

/// A server with `config` over a fresh database with the village.
async fn served_with(config: Config) -> (Database, TestServer) {
    let db = database().await;
    let state = AppState::open(db.store.clone(), config).await.unwrap();
    (db, TestServer::start_with(state).await.unwrap())
}

/// The files in `dir` and its subdirectories; none if it does not exist.
fn files_under(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().path())
                .map(|path| if path.is_dir() { files_under(&path) } else { 1 })
                .sum()
        })
        .unwrap_or(0)
}

/// Every blob in `blobs`, with its size, in order.
async fn listed(blobs: &Blobs) -> Vec<(String, u64)> {
    let mut listed: Vec<(String, u64)> = blobs.list().try_collect().await.unwrap();
    listed.sort();
    listed
}

const LIMIT: Duration = Duration::from_secs(20);

fn header(name: &str, value: impl ToString) -> (String, String) {
    (name.to_owned(), value.to_string())
}

/// `POST /files/`: starts an upload of a file with `hash` and `length`, declared as `filetype`,
/// for a record of `document`.
pub(crate) async fn create(
    addr: SocketAddr,
    token: &str,
    hash: &str,
    length: usize,
    filetype: &str,
    document: DocumentId,
) -> Response {
    let metadata = format!(
        "sha256 {},filetype {},document {},filename {}",
        STANDARD.encode(hash),
        STANDARD.encode(filetype),
        STANDARD.encode(document.url()),
        STANDARD.encode("屋场坪.jpg"),
    );
    let headers = [
        header("Authorization", format!("Bearer {token}")),
        header("Tus-Resumable", "1.0.0"),
        header("Upload-Length", length),
        header("Upload-Metadata", metadata),
    ];
    http(addr, "POST", "/files/", &headers, &[]).await.unwrap()
}

pub(crate) async fn patch(
    addr: SocketAddr,
    token: &str,
    location: &str,
    offset: usize,
    chunk: &[u8],
    checksum: Option<String>,
) -> Response {
    let mut headers = vec![
        header("Authorization", format!("Bearer {token}")),
        header("Tus-Resumable", "1.0.0"),
        header("Upload-Offset", offset),
        header("Content-Type", "application/offset+octet-stream"),
    ];
    if let Some(checksum) = checksum {
        headers.push(header("Upload-Checksum", checksum));
    }
    http(addr, "PATCH", location, &headers, chunk)
        .await
        .unwrap()
}

pub(crate) async fn offset(addr: SocketAddr, token: &str, location: &str) -> Option<usize> {
    let headers = [
        header("Authorization", format!("Bearer {token}")),
        header("Tus-Resumable", "1.0.0"),
    ];
    let answer = http(addr, "HEAD", location, &headers, &[]).await.unwrap();
    (answer.status == 200).then(|| answer.header("upload-offset").unwrap().parse().unwrap())
}

pub(crate) async fn fetch(
    addr: SocketAddr,
    token: &str,
    hash: &str,
    range: Option<&str>,
) -> Response {
    let mut headers = vec![header("Authorization", format!("Bearer {token}"))];
    if let Some(range) = range {
        headers.push(header("Range", range));
    }
    http(addr, "GET", &format!("/blobs/{hash}"), &headers, &[])
        .await
        .unwrap()
}

/// `POST /api/v1/blobs/{hash}/ticket`: a signed URL for a browser's `<video>`.
async fn ask_ticket(server: &TestServer, token: &str, hash: &str) -> Response {
    server
        .request(
            "POST",
            &format!("/api/v1/blobs/{hash}/ticket"),
            Some(token),
            None,
        )
        .await
        .unwrap()
}

/// 李章桂's phone records a lecture with `media` and syncs it, so that the branch may read it.
async fn record_lecture_with(v: &Village, addr: SocketAddr, token: &str, media: MediaRef) {
    let mut phone = Device::new("li-phone");
    phone.hold(v.notebook, v.notebook_bytes.clone());
    phone.open(v.notebook).await.unwrap();
    let who = v.li.clone();
    phone
        .edit(v.notebook, move |doc| {
            let mut notebook = Notebook::load(&doc.save(), Limits::default()).unwrap();
            let mut lecture = lecture(&who);
            lecture.media = vec![media];
            notebook.record_lecture(&who, NOW, lecture).unwrap();
            doc.load_incremental(&notebook.automerge().save()).unwrap();
        })
        .await
        .unwrap();
    phone.connect(addr, token).await.unwrap();
    assert!(
        phone
            .sync_until_acknowledged(LIMIT, &[v.notebook])
            .await
            .unwrap()
    );
}

/// Sends the head of a PATCH and only `sent` bytes of its body, then drops the connection,
/// as a phone walking out of signal does.
async fn cut_off_patch(
    addr: SocketAddr,
    token: &str,
    location: &str,
    offset: usize,
    rest: &[u8],
    sent: usize,
) {
    let head = format!(
        "PATCH {location} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Tus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {}\r\n\r\n",
        rest.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&rest[..sent]).await.unwrap();
    stream.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(stream);
}

/// Polls `HEAD` until the offset passes `past`.
async fn offset_after(addr: SocketAddr, token: &str, location: &str, past: usize) -> usize {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let now = offset(addr, token, location).await.unwrap();
        if now > past || tokio::time::Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_photo_resumes_after_a_cut_and_is_served_by_range_to_the_branch_only(store: BlobStore) {
    let config = config_on(store);
    let (blobs, media_dir) = (blobs_of(&config), config.media_dir.clone());
    let (db, server) = served_with(config).await;
    let Database { v, keys, .. } = &db;
    let (addr, li) = (server.addr, token(keys, &v.li));
    let bytes = photo(600_000);
    let hash = sha256(&bytes);

    let options = http(addr, "OPTIONS", "/files/", &[], &[]).await.unwrap();
    assert_eq!(options.status, 204);
    assert_eq!(options.header("tus-version"), Some("1.0.0"));
    for extension in [
        "creation",
        "creation-with-upload",
        "checksum",
        "termination",
        "expiration",
    ] {
        assert!(
            options
                .header("tus-extension")
                .unwrap()
                .split(',')
                .any(|e| e == extension)
        );
    }
    assert_eq!(
        options.header("tus-checksum-algorithm"),
        Some("sha1,sha256")
    );

    let created = create(addr, &li, &hash, bytes.len(), "image/jpeg", v.notebook).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(created.header("upload-expires").is_some());
    let location = created.header("location").unwrap().to_owned();

    // The first 100 kB go through; the next PATCH is cut off half-way.
    let first = patch(addr, &li, &location, 0, &bytes[..100_000], None).await;
    assert_eq!(
        (first.status, first.header("upload-offset")),
        (204, Some("100000"))
    );
    cut_off_patch(addr, &li, &location, 100_000, &bytes[100_000..], 200_000).await;
    let resumed_at = offset_after(addr, &li, &location, 100_000).await;
    assert!(
        (100_000..=300_000).contains(&resumed_at) && resumed_at > 100_000,
        "the server keeps what arrived before the cut: {resumed_at}"
    );
    // A PATCH at a stale offset is refused, and the rest from the right one completes it.
    assert_eq!(
        patch(addr, &li, &location, 100_000, &bytes[100_000..], None)
            .await
            .status,
        409
    );
    let done = patch(addr, &li, &location, resumed_at, &bytes[resumed_at..], None).await;
    assert_eq!(done.status, 204, "{}", done.body);
    assert_eq!(done.header("upload-offset"), Some("600000"));
    // The blob is where blobs are kept, and the upload's bytes are gone from the node.
    assert_eq!(listed(&blobs).await, [(hash.clone(), 600_000)]);
    assert_eq!(files_under(&media_dir.join("uploads")), 0);
    if store == BlobStore::S3 {
        assert_eq!(
            files_under(&media_dir),
            0,
            "the node keeps no blob of its own"
        );
    }

    // The uploader reads it back whole and by ranges.
    let whole = fetch(addr, &li, &hash, None).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.bytes, bytes);
    assert_eq!(whole.header("content-type"), Some("image/jpeg"));
    assert_eq!(whole.header("etag"), Some(format!("\"{hash}\"").as_str()));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert!(whole.header("cache-control").unwrap().contains("immutable"));
    let first_bytes = fetch(addr, &li, &hash, Some("bytes=0-99")).await;
    assert_eq!(first_bytes.status, 206);
    assert_eq!(
        first_bytes.header("content-range"),
        Some("bytes 0-99/600000")
    );
    assert_eq!(first_bytes.bytes, bytes[..100]);
    let middle = fetch(addr, &li, &hash, Some("bytes=250000-250999")).await;
    assert_eq!(
        (middle.status, middle.bytes.as_slice()),
        (206, &bytes[250_000..251_000])
    );
    let suffix = fetch(addr, &li, &hash, Some("bytes=-500")).await;
    assert_eq!(
        (suffix.status, suffix.bytes.as_slice()),
        (206, &bytes[599_500..])
    );
    let outside = fetch(addr, &li, &hash, Some("bytes=600000-")).await;
    assert_eq!(outside.status, 416);
    assert_eq!(outside.header("content-range"), Some("bytes */600000"));

    // Before any record names it, the branch cannot see it; an outsider never can, and the
    // answer is the one for a hash that does not exist.
    let secretary = token(keys, &v.secretary);
    let unknown = "0".repeat(64);
    let missing = fetch(addr, &secretary, &unknown, None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        fetch(addr, &secretary, &hash, None).await.body,
        missing.body
    );
    // li records the lecture the photo belongs to, and syncs it.
    let media = MediaRef {
        sha256: hash.clone(),
        size: 600_000,
        media_type: "image/jpeg".into(),
        duration_ms: None,
        caption: None,
    };
    record_lecture_with(v, addr, &li, media).await;
    assert_eq!(fetch(addr, &secretary, &hash, None).await.bytes, bytes);
    let outsider = token(keys, &v.outsider);
    let refused = fetch(addr, &outsider, &hash, Some("bytes=0-0")).await;
    assert_eq!(
        (refused.status, refused.body),
        (missing.status, missing.body)
    );

    // A browser's <video> cannot send a header: it gets a URL that works for this blob alone.
    let ticket = ask_ticket(&server, &secretary, &hash).await;
    assert_eq!(ticket.status, 200, "{}", ticket.body);
    let url = ticket.json()["url"].as_str().unwrap().to_owned();
    let range = [header("Range", "bytes=100-199")];
    let played = http(addr, "GET", &url, &range, &[]).await.unwrap();
    assert_eq!(
        (played.status, played.bytes.as_slice()),
        (206, &bytes[100..200])
    );
    let elsewhere = url.replace(&hash, &unknown);
    let refused = http(addr, "GET", &elsewhere, &[], &[]).await.unwrap();
    assert_eq!(
        (refused.status, refused.error().as_deref()),
        (401, Some("ticket_invalid"))
    );
    let outsiders_ticket = ask_ticket(&server, &outsider, &hash).await;
    assert_eq!(outsiders_ticket.status, 404);

    // The same bytes again finish at once: nothing is sent, and there is one copy.
    let again = create(addr, &li, &hash, bytes.len(), "image/jpeg", v.notebook).await;
    assert_eq!(
        (again.status, again.header("upload-offset")),
        (201, Some("600000"))
    );
    let stock_client = patch(
        addr,
        &li,
        again.header("location").unwrap(),
        0,
        &bytes[..10],
        None,
    )
    .await;
    assert_eq!(stock_client.header("upload-offset"), Some("600000"));
    assert_eq!(table_rows(&db.store, &["blobs"]).await.len(), 1);
    server.stop().await.unwrap();
}

async fn a_corrupt_chunk_is_refused_and_a_wrong_whole_file_stores_nothing(store: BlobStore) {
    let config = config_on(store);
    let blobs = blobs_of(&config);
    let (db, server) = served_with(config).await;
    let Database { v, keys, .. } = &db;
    let (addr, li) = (server.addr, token(keys, &v.li));
    let bytes = photo(300_000);
    let created = create(
        addr,
        &li,
        &sha256(&bytes),
        bytes.len(),
        "image/jpeg",
        v.notebook,
    )
    .await;
    let location = created.header("location").unwrap().to_owned();
    let digest = |algorithm: &str, chunk: &[u8]| {
        let digest = match algorithm {
            "sha1" => <sha1::Sha1 as sha1::Digest>::digest(chunk).to_vec(),
            _ => <sha2::Sha256 as sha2::Digest>::digest(chunk).to_vec(),
        };
        format!("{algorithm} {}", STANDARD.encode(digest))
    };
    // A chunk damaged on the way does not match its checksum: refused, nothing kept.
    let mut damaged = bytes[..100_000].to_vec();
    damaged[5_000] ^= 0x40;
    let refused = patch(
        addr,
        &li,
        &location,
        0,
        &damaged,
        Some(digest("sha256", &bytes[..100_000])),
    )
    .await;
    assert_eq!(
        (refused.status, refused.error().as_deref()),
        (460, Some("checksum_mismatch"))
    );
    assert_eq!(offset(addr, &li, &location).await, Some(0));
    let sent = patch(
        addr,
        &li,
        &location,
        0,
        &bytes[..100_000],
        Some(digest("sha256", &bytes[..100_000])),
    )
    .await;
    assert_eq!(sent.status, 204, "{}", sent.body);
    let sent = patch(
        addr,
        &li,
        &location,
        100_000,
        &bytes[100_000..],
        Some(digest("sha1", &bytes[100_000..])),
    )
    .await;
    assert_eq!(sent.status, 204, "{}", sent.body);
    let unknown = patch(addr, &li, &location, 0, b"x", Some("md5 AAAA".into())).await;
    assert_eq!(unknown.status, 400);

    // A file whose bytes are not the ones announced is refused whole, and nothing stays.
    let other = photo(50_000);
    let wrong = create(
        addr,
        &li,
        &sha256(b"something else"),
        other.len(),
        "image/jpeg",
        v.notebook,
    )
    .await;
    let location = wrong.header("location").unwrap().to_owned();
    let refused = patch(addr, &li, &location, 0, &other, None).await;
    assert_eq!(
        (refused.status, refused.error().as_deref()),
        (422, Some("invalid"))
    );
    assert_eq!(offset(addr, &li, &location).await, None);
    assert_eq!(table_rows(&db.store, &["blobs"]).await.len(), 1);
    assert_eq!(
        table_rows(&db.store, &["uploads"]).await.len(),
        1,
        "only the finished upload"
    );
    assert_eq!(listed(&blobs).await, [(sha256(&bytes), 300_000)]);
    server.stop().await.unwrap();
}

async fn limits_and_permissions_refuse_before_a_byte_is_written(store: BlobStore) {
    let db = database().await;
    let mut config = config_on(store);
    let blobs = blobs_of(&config);
    config.media.max_blob = 1_000_000;
    config.media.quota_per_user = 1_500_000;
    let media_dir = config.media_dir.clone();
    let state = AppState::open(db.store.clone(), config).await.unwrap();
    let server = TestServer::start_with(state).await.unwrap();
    let Database { v, keys, .. } = &db;
    let (addr, li) = (server.addr, token(keys, &v.li));
    let before = table_rows(&db.store, &["uploads", "blobs", "blob_owners"]).await;
    let files = || {
        std::fs::read_dir(media_dir.join("uploads"))
            .unwrap()
            .count()
    };
    let hash = "ab".repeat(32);

    let too_big = create(addr, &li, &hash, 1_000_001, "video/mp4", v.notebook).await;
    assert_eq!(
        (too_big.status, too_big.error().as_deref()),
        (413, Some("too_large"))
    );
    let page = create(addr, &li, &hash, 1_000, "text/html", v.notebook).await;
    assert_eq!(
        (page.status, page.error().as_deref()),
        (415, Some("unsupported_media_type"))
    );
    let outsider = create(
        addr,
        &token(keys, &v.outsider),
        &hash,
        1_000,
        "image/jpeg",
        v.notebook,
    )
    .await;
    assert_eq!(outsider.status, 403);
    let unknown = create(
        addr,
        &li,
        &hash,
        1_000,
        "image/jpeg",
        DocumentId::generate().unwrap(),
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.body.clone()),
        (403, outsider.body.clone())
    );
    let old_client = http(
        addr,
        "POST",
        "/files/",
        &[
            header("Authorization", format!("Bearer {li}")),
            header("Upload-Length", 10),
        ],
        &[],
    )
    .await
    .unwrap();
    assert_eq!(old_client.status, 412);
    assert_eq!(
        table_rows(&db.store, &["uploads", "blobs", "blob_owners"]).await,
        before
    );
    assert_eq!(files(), 0);

    // Within the quota, an upload starts; the next one would pass it.
    let first = create(addr, &li, &hash, 1_000_000, "video/mp4", v.notebook).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let second = create(
        addr,
        &li,
        &"cd".repeat(32),
        600_000,
        "video/mp4",
        v.notebook,
    )
    .await;
    assert_eq!(
        (second.status, second.error().as_deref()),
        (413, Some("quota_exceeded"))
    );

    // A file that says it is a photo but is a web page is refused at its first bytes, and
    // goes; so does an upload its sender ends.
    let location = first.header("location").unwrap().to_owned();
    let lie = patch(
        addr,
        &li,
        &location,
        0,
        format!("<html><script>alert(1)</script>{}</html>", " ".repeat(200)).as_bytes(),
        None,
    )
    .await;
    assert_eq!(
        (lie.status, lie.error().as_deref()),
        (415, Some("unsupported_media_type"))
    );
    assert_eq!(offset(addr, &li, &location).await, None);
    let photo = photo(1_000);
    let ended = create(
        addr,
        &li,
        &sha256(&photo),
        photo.len(),
        "image/jpeg",
        v.notebook,
    )
    .await;
    let location = ended.header("location").unwrap().to_owned();
    assert_eq!(
        patch(addr, &li, &location, 0, &photo[..500], None)
            .await
            .status,
        204
    );
    let others = offset(addr, &token(keys, &v.secretary), &location).await;
    assert_eq!(others, None, "someone else's upload answers like none");
    let headers = [
        header("Authorization", format!("Bearer {li}")),
        header("Tus-Resumable", "1.0.0"),
    ];
    assert_eq!(
        http(addr, "DELETE", &location, &headers, &[])
            .await
            .unwrap()
            .status,
        204
    );
    assert_eq!(offset(addr, &li, &location).await, None);
    assert_eq!(
        table_rows(&db.store, &["uploads", "blobs", "blob_owners"]).await,
        before
    );
    assert_eq!(files(), 0);
    assert_eq!(listed(&blobs).await, []);
    server.stop().await.unwrap();
}

/// The `tianjian` command serving `data` on a free loopback port, its blobs at `blobs`.
fn start_server(data: &Path, blobs: &Location) -> ServerProcess {
    let program = Path::new(env!("CARGO_BIN_EXE_tianjian-under-test"));
    let setting = blobs.to_string();
    let mut env = vec![("TIANJIAN__LOG__LEVEL", "warn")];
    if let Location::S3 { .. } = blobs {
        env.push(("TIANJIAN__MEDIA__BLOBS", &setting));
    }
    ServerProcess::tianjian_with(program, data, &env, None)
}

async fn an_upload_resumes_from_the_reported_offset_after_the_server_is_killed(store: BlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let blobs = store.location();
    let v = {
        let store = Store::open(&dir.path().join("tianjian.sqlite3")).unwrap();
        village(&store).await
    };
    let li = token(&tianjian_tests::fixture::keys(), &v.li);
    let bytes = photo(400_000);
    let server = start_server(dir.path(), &blobs);
    let created = create(
        server.addr,
        &li,
        &sha256(&bytes),
        bytes.len(),
        "image/jpeg",
        v.notebook,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let location = created.header("location").unwrap().to_owned();
    assert_eq!(
        patch(server.addr, &li, &location, 0, &bytes[..150_000], None)
            .await
            .status,
        204
    );
    server.kill().unwrap();

    let server = start_server(dir.path(), &blobs);
    let at = offset(server.addr, &li, &location).await.unwrap();
    assert_eq!(at, 150_000);
    let done = patch(server.addr, &li, &location, at, &bytes[at..], None).await;
    assert_eq!(done.status, 204, "{}", done.body);
    assert_eq!(
        fetch(server.addr, &li, &sha256(&bytes), None).await.bytes,
        bytes
    );
    server.kill().unwrap();
    let blobs = Blobs::open(&blobs, &dir.path().join("media")).unwrap();
    assert_eq!(listed(&blobs).await, [(sha256(&bytes), 400_000)]);
}

async fn a_stock_tus_client_uploads_50_mb_through_a_connection_cut_ten_times(store: BlobStore) {
    tokio::task::spawn_blocking(prepare_node).await.unwrap();
    let (db, server) = served_with(config_on(store)).await;
    let Database { v, keys, .. } = &db;
    let li = token(keys, &v.li);
    let bytes = video(50 * 1024 * 1024);
    let hash = sha256(&bytes);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("微党课.mp4");
    std::fs::write(&file, &bytes).unwrap();

    // Ten cuts, each after 1 to 4.5 MB from the phone (so all ten fall within the 50 MB), at
    // points that differ from run to run.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let proxy = CuttingProxy::start(server.addr, 10, 1_000_000, 4_500_000, seed)
        .await
        .unwrap();
    const CHUNK: usize = 4 * 1024 * 1024;
    let mut node = Command::new("node");
    node.arg(js_dir().join("tus-upload.mjs"))
        .arg(format!("http://{}/files/", proxy.addr))
        .arg(&li)
        .arg(&file)
        .arg(&hash)
        .arg(v.notebook.url())
        .arg("video/mp4")
        .arg(CHUNK.to_string());
    let run = tokio::task::spawn_blocking(move || run_blocking(node, Duration::from_secs(150)))
        .await
        .unwrap();
    assert_eq!(
        run.status,
        Some(0),
        "seed {seed}: the tus client failed:\n{run}"
    );
    assert!(run.stdout.starts_with("UPLOADED "), "{run}");

    let traffic = proxy.traffic();
    assert_eq!(traffic.cuts, 10, "seed {seed}");
    let bound = bytes.len() as u64 + 10 * CHUNK as u64 + 64 * 1024;
    assert!(
        traffic.sent <= bound,
        "seed {seed}: sent {} bytes for a file of {} (at most {bound})",
        traffic.sent,
        bytes.len()
    );
    let stored = fetch(server.addr, &li, &hash, None).await;
    assert_eq!(stored.status, 200);
    assert!(
        stored.bytes == bytes,
        "seed {seed}: the server's bytes differ"
    );
    println!(
        "seed {seed}: {} bytes sent for {} ({} re-sent over {} cuts)",
        traffic.sent,
        bytes.len(),
        traffic.sent.saturating_sub(bytes.len() as u64),
        traffic.cuts
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_phones_upload_queue_sends_its_records_media_through_cuts_and_waits_for_wifi() {
    let (db, server) = served().await;
    let Database { v, keys, .. } = &db;
    let li = token(keys, &v.li);
    let photo = photo(300_000);
    let video = video(3_000_000);
    let blobs: BTreeMap<String, Vec<u8>> = [
        (sha256(&photo), photo.clone()),
        (sha256(&video), video.clone()),
    ]
    .into();

    // 李章桂 records a lecture with a photo and a video; its notebook says what to send.
    let mut notebook = Notebook::load(&v.notebook_bytes, Limits::default()).unwrap();
    let mut record = lecture(&v.li);
    record.media = [(&photo, "image/jpeg"), (&video, "video/mp4")]
        .iter()
        .map(|(bytes, media_type)| MediaRef {
            sha256: sha256(bytes),
            size: bytes.len() as i64,
            media_type: (*media_type).into(),
            duration_ms: None,
            caption: None,
        })
        .collect();
    notebook.record_lecture(&v.li, NOW, record).unwrap();
    let projection = projection::project_all(notebook.automerge(), DocKind::Notebook);
    let mut queue = UploadQueue::default();
    queue.policy = Policy {
        large_only_unmetered: true,
        large: 1_000_000,
    };
    queue.need_document(
        v.notebook,
        &projection,
        |sha256| blobs.contains_key(sha256),
        tianjian_server::now(),
    );

    // On mobile data, through a connection cut three times, only the photo goes.
    let proxy = CuttingProxy::start(server.addr, 3, 50_000, 200_000, 7)
        .await
        .unwrap();
    let failures = upload(&mut queue, &blobs, proxy.addr, &li, Network::Metered, LIMIT).await;
    assert!(failures >= 1, "the cuts made requests fail");
    let progress = queue.progress();
    assert_eq!(
        (progress.waiting, progress.sent_bytes),
        (1, 300_000),
        "{progress:?}"
    );
    assert_eq!(
        fetch(server.addr, &li, &sha256(&photo), None).await.bytes,
        photo
    );
    assert_eq!(
        fetch(server.addr, &li, &sha256(&video), None).await.status,
        404
    );

    // On Wi-Fi the video follows; the saved queue picks up where it was.
    let mut queue: UploadQueue =
        serde_json::from_str(&serde_json::to_string(&queue).unwrap()).unwrap();
    upload(
        &mut queue,
        &blobs,
        proxy.addr,
        &li,
        Network::Unmetered,
        LIMIT,
    )
    .await;
    assert_eq!(queue.progress().waiting, 0);
    assert_eq!(
        fetch(server.addr, &li, &sha256(&video), None).await.bytes,
        video
    );
    assert!(proxy.traffic().sent < 3_300_000 + 3 * client_core::uploads::CHUNK + 100_000);
    server.stop().await.unwrap();
}

async fn an_unfinished_upload_expires_with_its_bytes(store: BlobStore) {
    let db = database().await;
    let mut config = config_on(store);
    let blobs = blobs_of(&config);
    config.media.upload_ttl = Duration::from_secs(1);
    let media_dir = config.media_dir.clone();
    let state = AppState::open(db.store.clone(), config).await.unwrap();
    let server = TestServer::start_with(state).await.unwrap();
    let li = token(&db.keys, &db.v.li);
    let bytes = photo(10_000);
    let created = create(
        server.addr,
        &li,
        &sha256(&bytes),
        bytes.len(),
        "image/jpeg",
        db.v.notebook,
    )
    .await;
    assert!(created.header("upload-expires").unwrap().ends_with("GMT"));
    let location = created.header("location").unwrap().to_owned();
    assert_eq!(
        patch(server.addr, &li, &location, 0, &bytes[..5_000], None)
            .await
            .status,
        204
    );
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(offset(server.addr, &li, &location).await, None);
    assert_eq!(
        patch(server.addr, &li, &location, 5_000, &bytes[5_000..], None)
            .await
            .status,
        404
    );
    assert_eq!(
        std::fs::read_dir(media_dir.join("uploads"))
            .unwrap()
            .count(),
        0
    );
    assert!(table_rows(&db.store, &["uploads"]).await.is_empty());
    assert_eq!(listed(&blobs).await, []);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_video_recorded_by_chromium_plays_and_seeks_when_served_by_range() {
    let (db, server) = served().await;
    let Database { v, keys, .. } = &db;
    let (addr, li) = (server.addr, token(keys, &v.li));
    let origin = format!("http://{addr}");

    // Six seconds from the fake camera, recorded as the app records.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lesson");
    let recorded = browser::run_json(
        "record-video.mjs",
        vec![origin.clone(), file.display().to_string(), "6".into()],
        Duration::from_secs(60),
    )
    .await;
    let bytes = std::fs::read(&file).unwrap();
    assert!(
        recorded["mimeType"]
            .as_str()
            .unwrap()
            .starts_with("video/mp4"),
        "Chromium records MP4, the container that seeks: {recorded}"
    );
    assert_eq!(&bytes[4..8], b"ftyp");

    // It goes up as the phone sends it, with the codecs in its declared type, and a record
    // names it.
    let hash = sha256(&bytes);
    let declared = recorded["mimeType"].as_str().unwrap();
    let created = create(addr, &li, &hash, bytes.len(), declared, v.notebook).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let location = created.header("location").unwrap().to_owned();
    let sent = patch(addr, &li, &location, 0, &bytes, None).await;
    assert_eq!(sent.status, 204, "{}", sent.body);
    let media = MediaRef {
        sha256: hash.clone(),
        size: bytes.len() as i64,
        media_type: "video/mp4".into(),
        duration_ms: Some(6_000),
        caption: None,
    };
    record_lecture_with(v, addr, &li, media).await;
    let stored = fetch(addr, &li, &hash, Some("bytes=0-0")).await;
    assert_eq!(stored.header("content-type"), Some("video/mp4"));

    // The secretary's browser plays it from a signed URL, and seeks into the middle.
    let secretary = token(keys, &v.secretary);
    let url = ask_ticket(&server, &secretary, &hash).await.json()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let played = browser::run_json(
        "play-video.mjs",
        vec![origin, url, "3".into()],
        Duration::from_secs(60),
    )
    .await;
    let duration = played["duration"].as_f64();
    assert!(
        duration.is_some_and(|d| (5.0..7.0).contains(&d)),
        "the duration is known from the start: {played}"
    );
    assert_eq!(played["seeked"], true, "{played}");
    assert!(
        (played["currentTime"].as_f64().unwrap() - 3.0).abs() < 0.1,
        "{played}"
    );
    assert!(
        played["playedTo"].as_f64().unwrap() >= 3.5,
        "it plays on from where it was sought: {played}"
    );
    let statuses = played["statuses"].as_array().unwrap();
    assert!(
        !statuses.is_empty() && statuses.iter().all(|s| s == 206),
        "the browser fetched it by ranges: {played}"
    );
    server.stop().await.unwrap();
}

async fn a_periods_approved_media_download_as_one_zip_laid_out_by_branch_and_record(
    store: BlobStore,
) {
    use client_core::model::branch::Decision;
    use client_core::model::common::{RecordRef, ReviewableKind};
    use client_core::model::notebook::Lecture;
    use client_core::ops::ReviewDecision;
    use tianjian_server::writer::{WriteError, Writer};

    let (db, server) = served_with(config_on(store)).await;
    let Database { v, keys, .. } = &db;
    let (addr, li) = (server.addr, token(keys, &v.li));
    // One photo reaches the server; another's upload never finishes.
    let bytes = photo(300_000);
    let hash = sha256(&bytes);
    let created = create(addr, &li, &hash, bytes.len(), "image/jpeg", v.notebook).await;
    let location = created.header("location").unwrap().to_owned();
    let sent = patch(addr, &li, &location, 0, &bytes, None).await;
    assert_eq!(sent.status, 204, "{}", sent.body);
    let missing = "cd".repeat(32);
    let media = |sha256: &str| MediaRef {
        sha256: sha256.into(),
        size: 300_000,
        media_type: "image/jpeg".into(),
        duration_ms: None,
        caption: None,
    };

    // Two lectures: one approved with both photos and a title that tries to climb out of its
    // folder, one only submitted.
    let w = Writer::new(&db.store, NOW);
    let (approved, pending) = w
        .notebook(v.notebook, &v.li, |n| {
            let approved = n.record_lecture(
                &v.li,
                NOW,
                Lecture {
                    title: "../../屋场坪微党课".into(),
                    media: vec![media(&hash), media(&missing), media(&hash)],
                    ..lecture(&v.li)
                },
            )?;
            n.submit::<Lecture>(&v.li, NOW, approved)?;
            let pending = n.record_lecture(
                &v.li,
                NOW,
                Lecture {
                    media: vec![media(&hash)],
                    ..lecture(&v.li)
                },
            )?;
            n.submit::<Lecture>(&v.li, NOW, pending)?;
            Ok::<_, WriteError>((approved, pending))
        })
        .await
        .unwrap();
    let decision = ReviewDecision {
        record: RecordRef {
            notebook: v.notebook,
            kind: ReviewableKind::Lecture,
            id: approved,
        },
        revision: 1,
        decision: Decision::Approved,
        comment: String::new(),
        publish: false,
        fine_example: false,
    };
    w.review::<Lecture>(v.branch, &v.secretary, decision)
        .await
        .unwrap();

    let path = format!("/api/v1/exports/media?branch={}&period=2026-10", v.heyi);
    let response = server
        .request("GET", &path, Some(&token(keys, &v.secretary)), None)
        .await
        .unwrap();
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.header("content-type"), Some("application/zip"));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(response.bytes)).unwrap();
    let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    let tail: String = approved.to_string().chars().skip(28).collect();
    let photo_name = format!("合益村/2026-10-12 微党课 _.._屋场坪微党课 ({tail})/1.jpg");
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&photo_name), "{names:?}");
    assert!(!names.iter().any(|n| n.contains(&pending.to_string()[28..])));
    let mut kept = Vec::new();
    std::io::copy(&mut zip.by_name(&photo_name).unwrap(), &mut kept).unwrap();
    assert_eq!(sha256(&kept), hash);
    let mut list = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("未收到的文件.txt").unwrap(), &mut list)
        .unwrap();
    assert!(list.contains(&missing), "{list}");

    // A member gets no archive; another branch's admin none of this branch.
    for (who, status) in [(&v.li, 403), (&v.far_admin, 404)] {
        let response = server
            .request("GET", &path, Some(&token(keys, who)), None)
            .await
            .unwrap();
        assert_eq!(response.status, status);
    }
    server.stop().await.unwrap();
}

/// Sends a whole file through tus to the server at `addr`, as one PATCH, and returns its
/// hash.
async fn upload_whole(addr: SocketAddr, token: &str, document: DocumentId, bytes: &[u8]) -> String {
    let hash = sha256(bytes);
    let created = create(addr, token, &hash, bytes.len(), "image/jpeg", document).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let location = created.header("location").unwrap();
    let sent = patch(addr, token, location, 0, bytes, None).await;
    assert_eq!(sent.status, 204, "{}", sent.body);
    hash
}

async fn media_are_backed_up_from_and_restored_to_where_blobs_are_kept(store: BlobStore) {
    // On whichever database the run's tests use: a backup of PostgreSQL is the same
    // single SQLite file as SQLite's, and restores into an empty PostgreSQL database.
    let backend = Backend::from_environment();
    let db = database_on(backend).await;
    let config = config_on(store);
    let (location, blobs) = (config.media.blobs.clone(), blobs_of(&config));
    let state = AppState::open(db.store.clone(), config).await.unwrap();
    let server = TestServer::start_with(state).await.unwrap();
    let li = token(&db.keys, &db.v.li);
    // A photo, and one larger than a part of a multipart upload to a bucket.
    let (small, large) = (photo(300_000), photo(9 * 1024 * 1024 + 5));
    let mut hashes = Vec::new();
    for bytes in [&small, &large] {
        hashes.push(upload_whole(server.addr, &li, db.v.notebook, bytes).await);
    }
    server.stop().await.unwrap();

    // The backup holds both, read from where blobs are kept.
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup");
    let report = {
        let (database, blobs, backup) = (db.location.clone(), blobs.clone(), backup.clone());
        tokio::task::spawn_blocking(move || {
            tianjian_server::backup::backup_from(&database, &blobs, &backup)
        })
        .await
        .unwrap()
        .unwrap()
    };
    assert_eq!(
        (report.manifest.blobs, report.manifest.blob_bytes),
        (2, (small.len() + large.len()) as u64)
    );
    for (hash, bytes) in hashes.iter().zip([&small, &large]) {
        let copy = tianjian_server::backup::blob_path(&backup, hash);
        assert!(std::fs::read(copy).unwrap() == *bytes);
    }

    // The blobs are lost; a restore puts them back where blobs are kept, and a server over
    // the restored data serves them.
    for hash in &hashes {
        blobs.delete(hash).await.unwrap();
    }
    assert_eq!(listed(&blobs).await, []);
    let restore = |data: std::path::PathBuf| {
        let (backup, location) = (backup.clone(), location.clone());
        let database = backend.fresh_location(&data);
        let restored_into = database.clone();
        let restoring = tokio::task::spawn_blocking(move || {
            tianjian_server::backup::restore_with(&backup, &data, &database, &location)
        });
        (restoring, restored_into)
    };
    let restored = dir.path().join("restored");
    let (restoring, restored_into) = restore(restored.clone());
    restoring.await.unwrap().unwrap();
    let media_dir = restored.join(tianjian_server::media::MEDIA_DIR);
    let blobs = Blobs::open(&location, &media_dir).unwrap();
    let mut expected = vec![
        (hashes[0].clone(), small.len() as u64),
        (hashes[1].clone(), large.len() as u64),
    ];
    expected.sort();
    assert_eq!(listed(&blobs).await, expected);
    let store = Store::connect(&restored_into).unwrap();
    let mut config = config_on(BlobStore::Files);
    config.media.blobs = location.clone();
    config.media_dir = media_dir;
    let server = TestServer::start_with(AppState::open(store, config).await.unwrap())
        .await
        .unwrap();
    let whole = fetch(server.addr, &li, &hashes[1], None).await;
    assert!(whole.status == 200 && whole.bytes == large);
    let part = fetch(server.addr, &li, &hashes[1], Some("bytes=8388600-8388700")).await;
    assert_eq!(part.bytes, large[8_388_600..=8_388_700]);
    server.stop().await.unwrap();

    // A backup whose copy of a blob was damaged is refused, and the damaged bytes are not
    // stored under the blob's name.
    blobs.delete(&hashes[0]).await.unwrap();
    let copy = tianjian_server::backup::blob_path(&backup, &hashes[0]);
    let mut damaged = small.clone();
    damaged[1_000] ^= 1;
    std::fs::write(&copy, &damaged).unwrap();
    let refused = restore(dir.path().join("again")).0.await.unwrap();
    assert!(
        matches!(&refused, Err(tianjian_server::backup::BackupError::Blob { sha256, .. }) if *sha256 == hashes[0]),
        "{refused:?}"
    );
    assert_eq!(blobs.size(&hashes[0]).await.unwrap(), None);
}

#[tokio::test]
async fn an_upload_that_moves_between_nodes_starts_again_where_its_bytes_are_not() {
    // Two nodes share the database and the bucket; each has a disk of its own for uploads
    // in progress.
    let db = database().await;
    let location = BlobStore::S3.location();
    let node = || async {
        let mut config = config_on(BlobStore::Files);
        config.media.blobs = location.clone();
        let uploads = config.media_dir.join("uploads");
        let state = AppState::open(db.store.clone(), config).await.unwrap();
        let media = state.media.clone().unwrap();
        (TestServer::start_with(state).await.unwrap(), media, uploads)
    };
    let (a, a_media, a_uploads) = node().await;
    let (b, b_media, b_uploads) = node().await;
    let li = token(&db.keys, &db.v.li);
    // Larger than a part, so that it goes to the bucket in several.
    let bytes = video(12 * 1024 * 1024);
    let hash = sha256(&bytes);
    let created = create(a.addr, &li, &hash, bytes.len(), "video/mp4", db.v.notebook).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let location = created.header("location").unwrap().to_owned();
    let mb = 1024 * 1024;
    assert_eq!(
        patch(a.addr, &li, &location, 0, &bytes[..3 * mb], None)
            .await
            .header("upload-offset"),
        Some((3 * mb).to_string().as_str())
    );

    // The phone moves to B, which does not have those bytes: it says 0, and refuses the
    // offset the phone had from A.
    assert_eq!(offset(b.addr, &li, &location).await, Some(0));
    let stale = patch(
        b.addr,
        &li,
        &location,
        3 * mb,
        &bytes[3 * mb..3 * mb + 64 * 1024],
        None,
    )
    .await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    let sent = patch(b.addr, &li, &location, 0, &bytes[..6 * mb], None).await;
    assert_eq!(
        sent.header("upload-offset"),
        Some((6 * mb).to_string().as_str())
    );

    // Back on A, which holds only the 3 MB it had: it says 0 too, and takes the whole file.
    assert_eq!(offset(a.addr, &li, &location).await, Some(0));
    let done = patch(a.addr, &li, &location, 0, &bytes, None).await;
    assert_eq!(done.status, 204, "{}", done.body);
    assert_eq!(
        done.header("upload-offset"),
        Some(bytes.len().to_string().as_str())
    );

    // Both nodes serve it, whole and by range, from the bucket, which holds it once.
    for node in [&a, &b] {
        let whole = fetch(node.addr, &li, &hash, None).await;
        assert!(
            whole.status == 200 && whole.bytes == bytes,
            "{}",
            whole.status
        );
        let part = fetch(node.addr, &li, &hash, Some("bytes=8388000-8389000")).await;
        assert_eq!(
            (part.status, part.bytes.as_slice()),
            (206, &bytes[8_388_000..=8_389_000])
        );
    }
    assert_eq!(offset(b.addr, &li, &location).await, Some(bytes.len()));
    let blobs = a_media.blobs();
    assert_eq!(listed(blobs).await, [(hash.clone(), bytes.len() as u64)]);
    // A finished it and kept nothing; B's bytes of it go when it sweeps.
    assert_eq!(files_under(&a_uploads), 0);
    assert_eq!(files_under(&b_uploads), 1);
    assert_eq!(a_media.sweep_partials(Duration::ZERO).await.unwrap(), 0);
    assert_eq!(b_media.sweep_partials(Duration::ZERO).await.unwrap(), 1);
    assert_eq!(files_under(&b_uploads), 0);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test]
async fn a_server_refuses_a_blob_store_it_cannot_use_and_says_which_setting() {
    let dir = tempfile::tempdir().unwrap();
    let tianjian = |env: &[(&str, &str)], args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tianjian-under-test"))
            .current_dir(dir.path())
            .env_clear()
            .env(
                "TIANJIAN__AUTH__SECRET",
                String::from_utf8_lossy(tianjian_tests::fixture::SECRET).as_ref(),
            )
            .envs(env.iter().copied())
            .args(args)
            .output()
            .unwrap()
    };
    let serve = ["--data", "data", "serve", "--listen", "127.0.0.1:0"];
    let not_a_bucket = tianjian(&[("TIANJIAN__MEDIA__BLOBS", "/srv/blobs")], &serve);
    let error = String::from_utf8_lossy(&not_a_bucket.stderr);
    assert!(!not_a_bucket.status.success());
    assert!(
        error.contains("media.blobs") && error.contains("s3://"),
        "{error}"
    );

    // Without keys, an S3 client would ask a cloud's metadata service for some: refused.
    let no_keys = tianjian(
        &[
            ("TIANJIAN__MEDIA__BLOBS", "s3://tianjian-test/media"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ],
        &serve,
    );
    let error = String::from_utf8_lossy(&no_keys.stderr);
    assert!(!no_keys.status.success());
    assert!(
        error.contains("AWS_ACCESS_KEY_ID") && error.contains("s3://tianjian-test/media"),
        "{error}"
    );
}
