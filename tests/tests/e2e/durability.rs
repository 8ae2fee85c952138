//! The server process is killed (SIGKILL) in the middle of a storm of writes: every change it
//! acknowledged is on disk when it comes back, and the devices, which kept everything, bring
//! the rest.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use client_core::model::branch::ScheduleEntry;
use client_core::model::notebook::{Lecture, Venue};
use client_core::{Branch, DocumentId, Limits, Notebook, Principal, schema};
use tianjian_server::store::Store;
use tianjian_tests::device::Device;
use tianjian_tests::process::ServerProcess;

use tianjian_tests::fixture::{NOW, Village, keys, lecture, operate, token, village};

const LIMIT: Duration = Duration::from_secs(30);

/// The `tianjian` command serving `data` on a free loopback port.
fn start_server(data: &Path) -> ServerProcess {
    ServerProcess::tianjian(Path::new(env!("CARGO_BIN_EXE_tianjian-under-test")), data)
}

#[tokio::test]
async fn acknowledged_changes_survive_the_server_being_killed() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("tianjian.sqlite3");
    let (v, branch_bytes) = village_at(&database).await;
    let server = start_server(dir.path());

    let mut phones = Phones::connected(&v, branch_bytes, server.addr).await;

    // Both write as fast as they can; every few writes they wait for the server to say it
    // kept them. The server is killed right after a pair of writes, without waiting.
    let (mut acknowledged_lectures, mut acknowledged_entries) = (0_usize, 0_usize);
    for round in 1..=24 {
        phones.write_round(&v, round).await;
        if round == 24 {
            break;
        }
        if round % 4 == 0 {
            phones
                .until_acknowledged(&v, &format!("round {round}"))
                .await;
            (acknowledged_lectures, acknowledged_entries) = (round as usize, round as usize);
        }
    }
    server.kill().unwrap();
    assert_eq!(acknowledged_lectures, 20);

    // Everything acknowledged is on disk, read straight from the database file.
    let (lectures, entries) = stored(&database, &v).await;
    assert!(lectures >= acknowledged_lectures);
    assert!(entries >= acknowledged_entries);

    // The server comes back; the phones reconnect and bring what it never acknowledged.
    let server = start_server(dir.path());
    phones.reconnect(&v, server.addr).await;
    server.kill().unwrap();
    assert_eq!(stored(&database, &v).await, (24, 24));
}

#[tokio::test]
async fn a_sigterm_tells_every_phone_and_keeps_everything_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("tianjian.sqlite3");
    let (v, branch_bytes) = village_at(&database).await;
    let mut server = ServerProcess::tianjian_with(
        Path::new(env!("CARGO_BIN_EXE_tianjian-under-test")),
        dir.path(),
        &[
            ("TIANJIAN__LOG__LEVEL", "warn"),
            ("TIANJIAN__SERVER__SHUTDOWN_GRACE_SECS", "10"),
        ],
        None,
    );
    let mut phones = Phones::connected(&v, branch_bytes, server.addr).await;

    // Twelve rounds acknowledged, then two more sent as the service manager stops the server.
    for round in 1..=14 {
        phones.write_round(&v, round).await;
        if round == 12 {
            phones.until_acknowledged(&v, "round 12").await;
        }
    }
    server.terminate().unwrap();
    // Each phone is told the server is going away, and keeps what it was not told was kept.
    let mut everything_kept = Vec::new();
    for (phone, document, _) in phones.each(&v) {
        assert!(phone.sync_until_closed(LIMIT).await.unwrap());
        assert_eq!(phone.closed_with, Some(1001), "closed without going away");
        everything_kept.push(phone.acknowledged(document));
    }
    let status = server
        .wait_exit(Duration::from_secs(15))
        .expect("the server did not exit within its grace");
    assert!(status.success(), "{status}");

    // What was acknowledged, before or during the shutdown, is on disk.
    let (lectures, entries) = stored(&database, &v).await;
    assert!(lectures >= 12 && entries >= 12, "{lectures} {entries}");
    if everything_kept[0] {
        assert_eq!(lectures, 14);
    }
    if everything_kept[1] {
        assert_eq!(entries, 14);
    }

    // Started again, the server receives the rest from the phones.
    let server = start_server(dir.path());
    phones.reconnect(&v, server.addr).await;
    server.kill().unwrap();
    assert_eq!(stored(&database, &v).await, (14, 14));
}

#[tokio::test]
async fn a_backup_taken_during_a_write_storm_restores_everything_acknowledged() {
    use client_core::Document;
    use tianjian_tests::fixture::{photo, sha256};

    let program = Path::new(env!("CARGO_BIN_EXE_tianjian-under-test"));
    let dir = tempfile::tempdir().unwrap();
    let (live, backup, restored) = (
        dir.path().join("live"),
        dir.path().join("backup"),
        dir.path().join("restored"),
    );
    std::fs::create_dir_all(&live).unwrap();
    let (v, branch_bytes) = village_at(&live.join("tianjian.sqlite3")).await;
    let server = start_server(&live);
    let li_token = token(&keys(), &v.li);

    // Two photos uploaded whole before the backup.
    let photos = [photo(30_000), photo(50_000)];
    for picture in &photos {
        let hash = sha256(picture);
        let created = crate::media::create(
            server.addr,
            &li_token,
            &hash,
            picture.len(),
            "image/jpeg",
            v.notebook,
        )
        .await;
        assert_eq!(created.status, 201, "{}", created.body);
        let location = created.header("location").unwrap().to_owned();
        let sent = crate::media::patch(server.addr, &li_token, &location, 0, picture, None).await;
        assert_eq!(sent.status, 204, "{}", sent.body);
    }
    let mut phones = Phones::connected(&v, branch_bytes, server.addr).await;
    for round in 1..=8 {
        phones.write_round(&v, round).await;
    }
    phones.until_acknowledged(&v, "round 8").await;

    // The phones go on writing while the backup is taken.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let storm = {
        let (stop, v) = (stop.clone(), v.clone());
        tokio::spawn(async move {
            let mut round = 8;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && round < 200 {
                round += 1;
                phones.write_round(&v, round).await;
                phones
                    .li
                    .sync_until(Duration::from_millis(20), |_| async { false })
                    .await
                    .unwrap();
            }
            (phones, round)
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let taken = {
        let (program, live, backup) = (program.to_owned(), live.clone(), backup.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(program)
                .arg("--data")
                .arg(&live)
                .arg("backup")
                .arg(&backup)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut phones, written) = storm.await.unwrap();
    assert!(
        taken.status.success(),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    assert!(written > 8, "the storm wrote nothing during the backup");
    server.kill().unwrap();

    // Restored into an empty directory: every document loads and validates, everything
    // acknowledged before the backup is there, and both photos, byte for byte.
    let restore = |to: &Path| {
        std::process::Command::new(program)
            .arg("--data")
            .arg(to)
            .arg("restore")
            .arg(&backup)
            .output()
            .unwrap()
    };
    let out = restore(&restored);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = restore(&restored);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));
    {
        let store = Store::open(&restored.join("tianjian.sqlite3")).unwrap();
        let catalogue = store.catalogue().await.unwrap();
        assert!(catalogue.len() >= 8, "{catalogue:?}");
        for (document, _) in &catalogue {
            let bytes = store.load_document(*document).await.unwrap().unwrap();
            let loaded = Document::load(&bytes, Limits::default()).unwrap();
            loaded.validate().unwrap();
        }
    }
    let (lectures, entries) = stored(&restored.join("tianjian.sqlite3"), &v).await;
    assert!(lectures >= 8 && entries >= 8, "{lectures} {entries}");
    for picture in &photos {
        let hash = sha256(picture);
        let path = tianjian_server::backup::blob_path(&restored, &hash);
        assert_eq!(
            &std::fs::read(&path).unwrap(),
            picture,
            "{}",
            path.display()
        );
    }

    // The restored server takes from the phones what was written after the backup.
    let server = start_server(&restored);
    phones.reconnect(&v, server.addr).await;
    server.kill().unwrap();
    let written = written as usize;
    assert_eq!(
        stored(&restored.join("tianjian.sqlite3"), &v).await,
        (written, written)
    );
}

/// 合益村 in a new database at `database`, and its branch document as the secretary's phone
/// holds it.
async fn village_at(database: &Path) -> (Village, Vec<u8>) {
    let store = Store::open(database).unwrap();
    let v = village(&store).await;
    let branch = store.load_document(v.branch).await.unwrap().unwrap();
    (v, branch)
}

/// The storm's two phones: 李章桂's, with his notebook, and the secretary's, with the branch
/// document.
struct Phones {
    li: Device,
    secretary: Device,
}

impl Phones {
    /// Both phones, holding their documents, connected to the server at `addr`.
    async fn connected(v: &Village, branch_bytes: Vec<u8>, addr: SocketAddr) -> Phones {
        let mut li = Device::new("li-phone");
        li.hold(v.notebook, v.notebook_bytes.clone());
        li.open(v.notebook).await.unwrap();
        let mut secretary = Device::new("secretary-phone");
        secretary.hold(v.branch, branch_bytes);
        secretary.open(v.branch).await.unwrap();
        let mut phones = Phones { li, secretary };
        for (phone, _, who) in phones.each(v) {
            phone.connect(addr, &token(&keys(), who)).await.unwrap();
        }
        phones
    }

    /// Each phone, with the document it writes and whose phone it is.
    fn each<'a>(&'a mut self, v: &'a Village) -> [(&'a mut Device, DocumentId, &'a Principal); 2] {
        [
            (&mut self.li, v.notebook, &v.li),
            (&mut self.secretary, v.branch, &v.secretary),
        ]
    }

    /// One round of the storm: 李章桂 records a lecture, and the secretary schedules one.
    async fn write_round(&mut self, v: &Village, round: u32) {
        self.li
            .edit(v.notebook, |doc| {
                operate(doc, Notebook::load, |notebook| {
                    let lecture = Lecture {
                        title: format!("第{round}讲"),
                        ..lecture(&v.li)
                    };
                    notebook.record_lecture(&v.li, NOW, lecture).unwrap();
                });
            })
            .await
            .unwrap();
        self.secretary
            .edit(v.branch, |doc| {
                operate(doc, Branch::load, |branch| {
                    let entry = ScheduleEntry {
                        date: "2026-11-20".parse().unwrap(),
                        speaker: Some(v.li.user),
                        guest_speaker: None,
                        topic: format!("第{round}讲"),
                        venue: Venue::Courtyard,
                        created_by: v.secretary.user,
                        withdrawn: None,
                    };
                    branch.schedule_lecture(&v.secretary, NOW, entry).unwrap();
                });
            })
            .await
            .unwrap();
    }

    /// Syncs each phone until the server has acknowledged all it holds; `when` says where in
    /// the story, should it not.
    async fn until_acknowledged(&mut self, v: &Village, when: &str) {
        for (phone, document, _) in self.each(v) {
            let received = phone.bytes_received;
            let kept = phone
                .sync_until_acknowledged(LIMIT, &[document])
                .await
                .unwrap();
            assert!(
                kept,
                "{when}: {document} was never acknowledged (still connected: {}; \
                 {} bytes received while waiting; the server's log is above)",
                phone.is_connected(),
                phone.bytes_received - received
            );
        }
    }

    /// Both phones connect to the server at `addr`, a new one or one come back, and bring it
    /// everything it does not have.
    async fn reconnect(&mut self, v: &Village, addr: SocketAddr) {
        for (phone, _, who) in self.each(v) {
            phone.disconnect().await.unwrap();
            phone.connect(addr, &token(&keys(), who)).await.unwrap();
        }
        self.until_acknowledged(v, "after reconnecting").await;
    }
}

/// How many lectures and schedule entries the database at `database` holds.
async fn stored(database: &Path, v: &Village) -> (usize, usize) {
    let store = Store::open(database).unwrap();
    let bytes = store.load_document(v.notebook).await.unwrap().unwrap();
    let notebook = Notebook::load(&bytes, Limits::default()).unwrap();
    let bytes = store.load_document(v.branch).await.unwrap().unwrap();
    let branch = Branch::load(&bytes, Limits::default()).unwrap();
    (
        notebook.records::<Lecture>(&schema::LECTURES).len(),
        branch.records::<ScheduleEntry>(&schema::SCHEDULE).len(),
    )
}
