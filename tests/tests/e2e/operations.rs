//! Running the server for real: the `tianjian` command's configuration, layered from
//! defaults, a file and the environment, shown with its secrets redacted, and refused with
//! the key named when a value is wrong.

use std::path::Path;
use std::process::{Command, Output};

const FILE_SECRET: &str = "a signing key from the file, long enough to use";
const ENV_SECRET: &str = "a signing key from the environment, long enough";

/// Runs the `tianjian` command in `dir` with only `env` set, as a service manager would.
fn tianjian(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tianjian-under-test"))
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_configuration_is_layered_and_printed_with_its_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tianjian.toml"),
        format!(
            "[media]\nmax_blob_bytes = 1000\nquota_per_user_bytes = 2000\n\n\
             [log]\nformat = \"json\"\n\n[auth]\nsecret = \"{FILE_SECRET}\"\n"
        ),
    )
    .unwrap();
    // The file in the working directory is read without being named; the environment wins
    // over it; what neither sets keeps its default.
    let out = tianjian(
        dir.path(),
        &["config", "--print"],
        &[
            ("TIANJIAN__MEDIA__QUOTA_PER_USER_BYTES", "5000"),
            ("TIANJIAN__AUTH__SECRET", ENV_SECRET),
            (
                "TIANJIAN__AUTH__PREVIOUS_SECRETS",
                &format!("[\"{FILE_SECRET}\"]"),
            ),
        ],
    );
    let printed = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for line in [
        "max_blob_bytes = 1000",
        "quota_per_user_bytes = 5000",
        "format = \"json\"",
        "listen = \"127.0.0.1:8080\"",
        "secret = \"<redacted>\"",
        "previous_secrets = [\"<redacted>\"]",
    ] {
        assert!(printed.contains(line), "{line} in\n{printed}");
    }
    assert!(!printed.contains(FILE_SECRET) && !printed.contains(ENV_SECRET));

    // A file named on the command line is read instead; `--data` overrides all.
    let elsewhere = dir.path().join("elsewhere.toml");
    std::fs::write(&elsewhere, "[server]\nlisten = \"0.0.0.0:9000\"\n").unwrap();
    let out = tianjian(
        dir.path(),
        &[
            "--config",
            "elsewhere.toml",
            "--data",
            "/srv/tianjian",
            "config",
            "--print",
        ],
        &[],
    );
    let printed = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(printed.contains("listen = \"0.0.0.0:9000\""), "{printed}");
    assert!(printed.contains("data = \"/srv/tianjian\""), "{printed}");
    assert!(printed.contains("max_blob_bytes = 500000000"), "{printed}");

    // The commented example in the repository is a valid file, of every default.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tianjian.example.toml");
    let out = tianjian(
        dir.path(),
        &["--config", example.to_str().unwrap(), "config", "--print"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let empty = tempfile::tempdir().unwrap();
    let defaults = tianjian(empty.path(), &["config", "--print"], &[]);
    assert_eq!(text(&out.stdout), text(&defaults.stdout));
}

#[test]
fn a_bad_value_is_refused_with_its_key_and_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let refused = |args: &[&str], env: &[(&str, &str)], file: Option<&str>| {
        if let Some(file) = file {
            std::fs::write(dir.path().join("tianjian.toml"), file).unwrap();
        }
        let out = tianjian(dir.path(), args, env);
        let _ = std::fs::remove_file(dir.path().join("tianjian.toml"));
        assert!(
            !out.status.success(),
            "{args:?} {env:?} {file:?} was accepted"
        );
        text(&out.stderr)
    };
    let print = ["config", "--print"];

    let error = refused(&print, &[("TIANJIAN__MEDIA__MAX_BLOB_BYTES", "lots")], None);
    assert!(error.contains("media.max_blob_bytes"), "{error}");
    assert!(error.contains("TIANJIAN__MEDIA__MAX_BLOB_BYTES"), "{error}");

    let error = refused(&print, &[], Some("[log]\nformat = \"xml\"\n"));
    assert!(error.contains("log.format"), "{error}");
    assert!(error.contains("tianjian.toml"), "{error}");

    let error = refused(&print, &[], Some("[media]\nmax_blob = 5\n"));
    assert!(error.contains("max_blob"), "{error}");

    let error = refused(&print, &[], Some("[server]\nlisten = \"everywhere\"\n"));
    assert!(error.contains("server.listen"), "{error}");

    let error = refused(&print, &[("TIANJIAN__AUTH__SECRET", "short")], None);
    assert!(
        error.contains("auth.secret: must be at least 32 bytes"),
        "{error}"
    );
    assert!(!error.contains("short"), "a secret is never shown: {error}");

    let error = refused(&print, &[("TIANJIAN__LOG__LEVEL", "loud[")], None);
    assert!(error.contains("log.level"), "{error}");

    let error = refused(&print, &[("TIANJIAN__AUTH__ACCESS_TOKEN_SECS", "0")], None);
    assert!(error.contains("auth.access_token_secs"), "{error}");

    let error = refused(&["--config", "missing.toml", "config"], &[], None);
    assert!(error.contains("missing.toml: not found"), "{error}");

    // Serving needs a signing key; nothing else does.
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let error = refused(
        &["--data", data, "serve", "--listen", "127.0.0.1:0"],
        &[],
        None,
    );
    assert!(error.contains("auth.secret: required"), "{error}");
    let error = refused(
        &["--data", data, "serve", "--listen", "127.0.0.1:0"],
        &[
            ("TIANJIAN__AUTH__SECRET", ENV_SECRET),
            ("TIANJIAN__SERVER__WEB", "/nowhere/pwa"),
        ],
        None,
    );
    assert!(
        error.contains("server.web: /nowhere/pwa has no index.html"),
        "{error}"
    );
}

/// Sends a JSON request to a server process.
async fn call(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> tianjian_tests::Response {
    let body = (!body.is_null()).then(|| body.to_string());
    tianjian_tests::request(addr, method, path, token, body.as_deref())
        .await
        .unwrap()
}

#[tokio::test]
async fn log_lines_say_who_was_served_and_never_carry_a_secret() {
    use serde_json::{Value, json};
    use tianjian_server::store::Store;
    use tianjian_tests::device::Device;
    use tianjian_tests::fixture::{keys, token, village};
    use tianjian_tests::process::ServerProcess;

    let dir = tempfile::tempdir().unwrap();
    let v = {
        let store = Store::open(&dir.path().join("tianjian.sqlite3")).unwrap();
        village(&store).await
    };
    let log_path = dir.path().join("server.log");
    let server = ServerProcess::tianjian_with(
        Path::new(env!("CARGO_BIN_EXE_tianjian-under-test")),
        dir.path(),
        &[
            ("TIANJIAN__LOG__FORMAT", "json"),
            ("TIANJIAN__LOG__LEVEL", "debug"),
        ],
        Some(std::fs::File::create(&log_path).unwrap()),
    );
    let addr = server.addr;
    let secretary = token(&keys(), &v.secretary);
    let mut secrets = vec![secretary.clone()];

    // The secretary invites 李章桂's new phone; the phone enrols, sets a password, refreshes
    // its token and syncs, over a WebSocket and with a browser's ticket.
    let invite = call(
        addr,
        "POST",
        &format!("/api/v1/users/{}/invites", v.li.user),
        Some(&secretary),
        json!({}),
    )
    .await;
    assert_eq!(invite.status, 201, "{}", invite.body);
    let code = invite.json()["code"].as_str().unwrap().to_owned();
    let enrolled = call(
        addr,
        "POST",
        "/api/v1/enrol",
        None,
        json!({"code": code, "device_name": "红米"}),
    )
    .await;
    assert_eq!(enrolled.status, 200, "{}", enrolled.body);
    let session = enrolled.json();
    let access = session["access_token"].as_str().unwrap().to_owned();
    let refresh = session["refresh_token"].as_str().unwrap().to_owned();
    let device = session["device"].as_str().unwrap().to_owned();
    let password = "屋场坪-2026-secret-password";
    let set = call(
        addr,
        "PUT",
        "/api/v1/me/password",
        Some(&access),
        json!({"new": password}),
    )
    .await;
    assert_eq!(set.status, 204, "{}", set.body);
    let wrong = call(
        addr,
        "PUT",
        "/api/v1/me/password",
        Some(&access),
        json!({"current": "a-wrong-guess-of-it", "new": "another-new-password"}),
    )
    .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let refreshed = call(
        addr,
        "POST",
        "/api/v1/token",
        None,
        json!({"refresh_token": refresh}),
    )
    .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let access_2 = refreshed.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh_2 = refreshed.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = call(addr, "GET", "/api/v1/me", Some(&access_2), Value::Null).await;
    assert_eq!(me.status, 200, "{}", me.body);
    let forged = "eyJhbGciOiJIUzI1NiJ9.forged.token-that-must-not-be-logged";
    let refused = call(addr, "GET", "/api/v1/me", Some(forged), Value::Null).await;
    assert_eq!(refused.status, 401);

    let mut phone = Device::new("li");
    phone.connect(addr, &access_2).await.unwrap();
    phone.open(v.notebook).await.unwrap();
    let synced = phone
        .sync_until(std::time::Duration::from_secs(20), |d| {
            // Received from the server: the notebook's contents, not just its name.
            let held = d.document(v.notebook).is_some_and(|doc| {
                automerge::ReadDoc::get(doc, automerge::ROOT, "meta").is_ok_and(|m| m.is_some())
            });
            async move { held }
        })
        .await
        .unwrap();
    assert!(synced);
    phone.disconnect().await.unwrap();
    let ticket = call(
        addr,
        "POST",
        "/api/v1/sync-ticket",
        Some(&access_2),
        json!({}),
    )
    .await;
    assert_eq!(ticket.status, 200, "{}", ticket.body);
    let ticket = ticket.json()["ticket"].as_str().unwrap().to_owned();
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/sync?ticket={ticket}"))
            .await
            .unwrap();
    socket.close(None).await.unwrap();
    drop(socket);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    server.kill().unwrap();
    secrets.extend([code, access, refresh, access_2, refresh_2, ticket]);
    secrets.extend(
        [
            "a-wrong-guess-of-it",
            "another-new-password",
            password,
            forged,
        ]
        .map(str::to_owned),
    );

    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(lines.len() > 12, "{log}");
    for secret in &secrets {
        for line in log.lines() {
            assert!(!line.contains(secret.as_str()), "{secret} logged in {line}");
        }
    }
    // Every request line names its path and status, and those of a signed-in person say who.
    let requests: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request")
        .collect();
    assert!(requests.len() >= 9, "{log}");
    let me_line = requests
        .iter()
        .find(|l| l["span"]["path"] == "/api/v1/me" && l["fields"]["status"] == 200)
        .unwrap_or_else(|| panic!("no line for GET /api/v1/me in {log}"));
    assert_eq!(me_line["span"]["user"], v.li.user.to_string());
    assert_eq!(me_line["span"]["device"], device);
    assert_eq!(me_line["span"]["branch"], v.heyi.to_string());
    let enrol_line = requests
        .iter()
        .find(|l| l["span"]["path"] == "/api/v1/enrol")
        .unwrap_or_else(|| panic!("no line for the enrolment in {log}"));
    assert_eq!(enrol_line["span"]["device"], device, "{enrol_line}");
    // Each sync session, with a token or a ticket, says whose it is.
    let opened: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "sync session opened")
        .collect();
    assert_eq!(opened.len(), 2, "{log}");
    for line in opened {
        assert_eq!(line["span"]["user"], v.li.user.to_string(), "{line}");
        assert_eq!(line["span"]["device"], device, "{line}");
        assert_eq!(line["span"]["branch"], v.heyi.to_string(), "{line}");
    }
    // The document the phone asked for is named where it was loaded.
    let notebook = v.notebook.to_string();
    assert!(
        lines.iter().any(|l| l.to_string().contains(&notebook)),
        "no line names the notebook {notebook}: {log}"
    );
}

/// The value of the sample `name` (with its labels, if any) in a `/metrics` answer; `None`
/// if there is no such sample.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(' ')?;
        value.split(' ').next()?.parse().ok()
    })
}

async fn scrape(server: &tianjian_tests::TestServer) -> String {
    let answer = server.request("GET", "/metrics", None, None).await.unwrap();
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text")),
        "{:?}",
        answer.headers
    );
    answer.body
}

#[tokio::test]
async fn metrics_count_sessions_traffic_changes_refusals_uploads_and_refreshes() {
    use client_core::Notebook;
    use tianjian_tests::device::Device;
    use tianjian_tests::fixture::{NOW, lecture, operate, photo, served, sha256, token};

    let (db, server) = served().await;
    let (v, keys) = (&db.v, &db.keys);
    let before = scrape(&server).await;
    assert_eq!(
        sample(&before, "tianjian_sync_sessions_open"),
        Some(0.0),
        "{before}"
    );
    assert_eq!(
        sample(&before, "tianjian_changes_accepted_total"),
        Some(0.0)
    );

    // 李章桂's phone syncs a lecture it recorded offline.
    let mut phone = Device::new("li-phone");
    phone.hold(v.notebook, v.notebook_bytes.clone());
    phone.open(v.notebook).await.unwrap();
    let li = v.li.clone();
    phone
        .edit(v.notebook, |doc| {
            operate(doc, Notebook::load, |notebook| {
                notebook.record_lecture(&li, NOW, lecture(&li)).unwrap();
            });
        })
        .await
        .unwrap();
    phone
        .connect(server.addr, &token(keys, &v.li))
        .await
        .unwrap();
    let acknowledged = phone
        .sync_until_acknowledged(std::time::Duration::from_secs(20), &[v.notebook])
        .await
        .unwrap();
    assert!(acknowledged);
    let during = scrape(&server).await;
    assert_eq!(
        sample(&during, "tianjian_sync_sessions_open"),
        Some(1.0),
        "{during}"
    );
    assert!(sample(&during, "tianjian_changes_accepted_total").unwrap() >= 1.0);
    assert!(sample(&during, "tianjian_documents_loaded_total").unwrap() >= 1.0);
    assert!(sample(&during, "tianjian_documents_in_memory").unwrap() >= 1.0);
    assert!(sample(&during, "tianjian_storage_write_latency_seconds_count").unwrap() >= 1.0);
    let frames_in = sample(&during, "tianjian_sync_frames_total{direction=\"in\"}")
        .unwrap_or_else(|| panic!("{during}"));
    let bytes_in = sample(&during, "tianjian_sync_frame_bytes_total{direction=\"in\"}").unwrap();
    assert!(frames_in >= 2.0 && bytes_in > frames_in, "{during}");
    assert!(sample(&during, "tianjian_sync_frames_total{direction=\"out\"}").unwrap() >= 2.0);

    // A frame that is not the protocol is refused, by its rule.
    phone.send_raw(b"not cbor at all".to_vec()).await.unwrap();
    assert!(
        phone
            .sync_until_closed(std::time::Duration::from_secs(20))
            .await
            .unwrap()
    );
    // A refresh with a token nobody was given fails; a photo is half uploaded.
    let refused = server
        .request(
            "POST",
            "/api/v1/token",
            None,
            Some(r#"{"refresh_token": "0000000000000000000000000000000000000000000000000000000000000000"}"#),
        )
        .await
        .unwrap();
    assert_eq!(refused.status, 401);
    let picture = photo(40_000);
    let li_token = token(keys, &v.li);
    let created = crate::media::create(
        server.addr,
        &li_token,
        &sha256(&picture),
        picture.len(),
        "image/jpeg",
        v.notebook,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let location = created.header("location").unwrap().to_owned();
    let sent = crate::media::patch(
        server.addr,
        &li_token,
        &location,
        0,
        &picture[..10_000],
        None,
    )
    .await;
    assert_eq!(sent.status, 204, "{}", sent.body);

    let after = scrape(&server).await;
    assert_eq!(
        sample(&after, "tianjian_changes_refused_total{rule=\"bad_frame\"}"),
        Some(1.0),
        "{after}"
    );
    assert_eq!(
        sample(&after, "tianjian_token_refreshes_total{outcome=\"failed\"}"),
        Some(1.0),
        "{after}"
    );
    assert_eq!(
        sample(&after, "tianjian_uploads_in_progress"),
        Some(1.0),
        "{after}"
    );
    assert_eq!(
        sample(&after, "tianjian_uploaded_bytes_total"),
        Some(10_000.0)
    );
    assert_eq!(sample(&after, "tianjian_blob_store_bytes"), Some(0.0));
    assert_eq!(
        sample(&after, "tianjian_sync_sessions_open"),
        Some(0.0),
        "{after}"
    );
    // Nobody syncs the notebook any more: it has left memory.
    assert!(
        sample(&after, "tianjian_documents_evicted_total").unwrap() >= 1.0,
        "{after}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn readiness_needs_a_database_that_commits_and_room_above_the_reserve() {
    use tianjian_server::AppState;
    use tianjian_tests::TestServer;
    use tianjian_tests::fixture::{config, database};

    let db = database().await;
    let state = AppState::open(db.store.clone(), config(Default::default()))
        .await
        .unwrap();
    let server = TestServer::start_with(state).await.unwrap();
    let ready = server.request("GET", "/readyz", None, None).await.unwrap();
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.json()["ready"], true);
    server.stop().await.unwrap();

    // A disk whose free space is all reserve takes no more uploads: not ready.
    let mut full = config(Default::default());
    full.media.disk_reserve = u64::MAX;
    let state = AppState::open(db.store.clone(), full).await.unwrap();
    let server = TestServer::start_with(state).await.unwrap();
    let not_ready = server.request("GET", "/readyz", None, None).await.unwrap();
    assert_eq!(not_ready.status, 503, "{}", not_ready.body);
    let problems = not_ready.json()["problems"].to_string();
    assert!(problems.contains("reserve"), "{problems}");
    // Alive all the same.
    assert_eq!(server.get("/healthz").await.unwrap().0, 200);
    server.stop().await.unwrap();
}

/// What version 2 of the schema added, taken away again: a database as the first release
/// left it, with its data.
const BACK_TO_VERSION_1: &str = "
CREATE TABLE record_values_with_rowid (
    document TEXT NOT NULL,
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    field TEXT NOT NULL,
    text TEXT,
    number REAL,
    PRIMARY KEY (document, collection, key, field)
) STRICT;
INSERT INTO record_values_with_rowid SELECT * FROM record_values;
DROP TABLE record_values;
ALTER TABLE record_values_with_rowid RENAME TO record_values;
CREATE INDEX record_values_by_plan ON record_values(text) WHERE field = 'plan';
DROP TABLE standings;
CREATE INDEX record_values_by_held_at ON record_values(collection, number)
    WHERE field = 'held_at';
DROP INDEX changes_by_version;
ALTER TABLE changes DROP COLUMN version;
ALTER TABLE documents DROP COLUMN version;
ALTER TABLE snapshots DROP COLUMN through_version;
DROP TABLE leases;
DROP TABLE sync_tickets;
DROP TABLE sign_in_failures;
DROP INDEX audit_by_refused;
ALTER TABLE audit DROP COLUMN refused;
ALTER TABLE audit DROP COLUMN repeats;
DROP INDEX record_values_by_plan;
DROP TABLE record_values;
DROP INDEX records_by_review_subject;
DROP INDEX records_by_collection;
ALTER TABLE records DROP COLUMN subject_collection;
ALTER TABLE records DROP COLUMN subject_document;
CREATE INDEX records_by_subject ON records(subject);
PRAGMA user_version = 1;
";

fn user_version(path: &Path) -> i64 {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_database_of_the_previous_schema_is_backed_up_migrated_and_counts_the_same() {
    use client_core::{Date, Period};
    use tianjian_server::store::{Count, SCHEMA_VERSION, Scope, Store};
    use tianjian_tests::fixture::{Backend, database_on};

    // SQLite's own migrations, on a file: whatever backend the other tests run on.
    let db = database_on(Backend::Sqlite).await;
    crate::statistics::write_october(&db).await;
    let count = || Count {
        scope: Scope {
            branches: vec![db.v.heyi],
        },
        period: Period::Year(2026).range(),
        today: Date {
            year: 2026,
            month: 11,
            day: 1,
        },
    };
    let before = db.store.figures(count()).await.unwrap();
    assert!(before.total.figures.lectures > 0);
    assert_eq!(user_version(&db.path), SCHEMA_VERSION as i64);
    let documents = db.store.catalogue().await.unwrap().len();

    // The same data as the previous release kept it.
    rusqlite::Connection::open(&db.path)
        .unwrap()
        .execute_batch(BACK_TO_VERSION_1)
        .unwrap();
    assert_eq!(user_version(&db.path), 1);

    // Opened by this release: backed up as it was, migrated, and every figure the same.
    let store = Store::open(&db.path).unwrap();
    assert_eq!(user_version(&db.path), SCHEMA_VERSION as i64);
    let backups: Vec<_> = std::fs::read_dir(db.path.parent().unwrap().join("backups"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(user_version(&backups[0]), 1);
    assert_eq!(store.figures(count()).await.unwrap(), before);
    assert_eq!(store.catalogue().await.unwrap().len(), documents);
    for (document, _) in store.catalogue().await.unwrap() {
        let bytes = store.load_document(document).await.unwrap().unwrap();
        client_core::Document::load(&bytes, client_core::Limits::default())
            .unwrap()
            .validate()
            .unwrap();
    }
    drop(store);

    // A database from before versions, at today's shape, is taken as it is: no backup.
    let connection = rusqlite::Connection::open(&db.path).unwrap();
    connection.pragma_update(None, "user_version", 0).unwrap();
    drop(connection);
    Store::open(&db.path).unwrap();
    assert_eq!(user_version(&db.path), SCHEMA_VERSION as i64);

    // A database a newer release wrote is refused, and left as it is.
    let connection = rusqlite::Connection::open(&db.path).unwrap();
    connection.pragma_update(None, "user_version", 99).unwrap();
    drop(connection);
    let refused = Store::open(&db.path).unwrap_err().to_string();
    assert!(refused.contains("schema 99, newer"), "{refused}");
    assert_eq!(user_version(&db.path), 99);
}

#[tokio::test]
async fn behind_a_trusted_proxy_guessing_is_counted_per_client_and_a_forged_header_helps_nobody() {
    use tianjian_server::AppState;
    use tianjian_server::auth::{AttemptLimits, Settings};
    use tianjian_tests::TestServer;
    use tianjian_tests::fixture::{config, database};

    let db = database().await;
    let start = |trusted: Vec<std::net::IpAddr>| {
        let store = db.store.clone();
        async move {
            let mut config = config(Settings {
                attempts: AttemptLimits {
                    per_account: 100,
                    per_address: 2,
                    window: std::time::Duration::from_secs(900),
                },
                ..Settings::default()
            });
            config.trusted_proxies = trusted;
            TestServer::start_with(AppState::open(store, config).await.unwrap())
                .await
                .unwrap()
        }
    };
    let guess = |server: &TestServer, forwarded: &str| {
        let (addr, forwarded) = (server.addr, forwarded.to_owned());
        async move {
            let headers = [
                ("Content-Type".to_owned(), "application/json".to_owned()),
                ("X-Forwarded-For".to_owned(), forwarded),
            ];
            let body = br#"{"phone": "13800000000", "password": "a guess", "device_name": "x"}"#;
            tianjian_tests::http(addr, "POST", "/api/v1/login", &headers, body)
                .await
                .unwrap()
                .status
        }
    };

    // nginx on the same machine: each village's phone is its own address.
    let server = start(vec!["127.0.0.1".parse().unwrap()]).await;
    assert_eq!(guess(&server, "203.0.113.9").await, 401);
    assert_eq!(guess(&server, "203.0.113.9").await, 401);
    assert_eq!(guess(&server, "203.0.113.9").await, 429);
    // Another phone is not held up by the first one's guessing.
    assert_eq!(guess(&server, "198.51.100.7").await, 401);
    // Writing someone else's address first changes nothing: the proxy appended the real one.
    assert_eq!(guess(&server, "198.51.100.99, 203.0.113.9").await, 429);
    server.stop().await.unwrap();

    // Nobody trusted: a header a client wrote is no way around the limit.
    let server = start(Vec::new()).await;
    assert_eq!(guess(&server, "192.0.2.1").await, 401);
    assert_eq!(guess(&server, "192.0.2.2").await, 401);
    assert_eq!(guess(&server, "192.0.2.3").await, 429);
    server.stop().await.unwrap();
}

/// A county moves from SQLite to PostgreSQL: the demo's database copied by
/// `migrate-storage`, which compares the two itself, and compared again here. A second copy
/// into the same database is refused and changes nothing.
#[tokio::test]
async fn migrate_storage_copies_the_demo_into_postgres_with_every_document_and_figure_equal() {
    use tianjian_server::store::{Store, differences};
    use tianjian_tests::postgres::fresh_database;

    let dir = tempfile::tempdir().unwrap();
    let env = [("TIANJIAN__AUTH__SECRET", ENV_SECRET)];
    let demo = tianjian(dir.path(), &["--data", "data", "demo"], &env);
    assert!(demo.status.success(), "{}", text(&demo.stderr));
    let url = fresh_database();
    let migrated = tianjian(
        dir.path(),
        &["--data", "data", "migrate-storage", "--to", &url],
        &env,
    );
    assert!(migrated.status.success(), "{}", text(&migrated.stderr));
    let said = text(&migrated.stdout);
    assert!(
        said.contains("every document's heads and every figure are the same"),
        "{said}"
    );

    let sqlite = Store::open(&dir.path().join("data/tianjian.sqlite3")).unwrap();
    let postgres = Store::open_postgres(&url).unwrap();
    assert_eq!(
        differences(&sqlite, &postgres).await.unwrap(),
        Vec::<String>::new()
    );
    assert!(!postgres.catalogue().await.unwrap().is_empty());
    assert_eq!(
        sqlite.storage_id().await.unwrap(),
        postgres.storage_id().await.unwrap(),
        "phones know the server by its storage id"
    );

    let again = tianjian(
        dir.path(),
        &["--data", "data", "migrate-storage", "--to", &url],
        &env,
    );
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("already holds"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(
        differences(&sqlite, &postgres).await.unwrap(),
        Vec::<String>::new()
    );
}
