use std::time::Duration;

use client_core::sync::engine::Effect;
use client_core::{Limits, Notebook};
use tianjian_server::AppState;
use tianjian_server::auth::Keys;
use tianjian_server::store::Store;
use tianjian_tests::TestServer;
use tianjian_tests::device::Device;

use crate::fixture::{NOW, SECRET, lecture, lectures_in, token, village};

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_lecture_recorded_offline_reaches_the_secretary_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tianjian.sqlite3");
    let store = Store::open(&path).unwrap();
    let v = village(&store).await;
    let keys = Keys::from_secret(SECRET);
    let server = TestServer::start_with(AppState::open(store.clone(), SECRET).await.unwrap())
        .await
        .unwrap();

    // 李章桂 records a lecture with no signal, on the notebook his phone already holds.
    let mut li_phone = Device::new("li-phone");
    li_phone.hold(v.notebook, v.notebook_bytes.clone());
    li_phone.open(v.notebook).await.unwrap();
    let li = v.li.clone();
    li_phone
        .edit(v.notebook, |doc| {
            let mut notebook = Notebook::load(&doc.save(), Limits::default()).unwrap();
            notebook.record_lecture(&li, NOW, lecture(&li)).unwrap();
            doc.load_incremental(&notebook.automerge().save()).unwrap();
        })
        .await
        .unwrap();

    // Back in signal: the lecture reaches the server's database without anything else.
    li_phone
        .connect(server.addr, &token(&keys, &v.li))
        .await
        .unwrap();
    let store_view = store.clone();
    let notebook = v.notebook;
    let stored = li_phone
        .sync_until(LIMIT, |_| {
            let store = store_view.clone();
            async move {
                store
                    .load_document(notebook)
                    .await
                    .unwrap()
                    .is_some_and(|b| lectures_in(&b) == 1)
            }
        })
        .await
        .unwrap();
    assert!(stored, "the lecture never reached the server's storage");

    // The secretary's phone asks for the notebook and receives the lecture.
    let mut secretary_phone = Device::new("secretary-phone");
    secretary_phone
        .connect(server.addr, &token(&keys, &v.secretary))
        .await
        .unwrap();
    secretary_phone.open(v.notebook).await.unwrap();
    let received = secretary_phone
        .sync_until(LIMIT, |d| {
            let count = d
                .document(notebook)
                .map_or(0, |doc| lectures_in(&doc.save()));
            async move { count == 1 }
        })
        .await
        .unwrap();
    assert!(received);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn another_branchs_document_is_unavailable_and_bad_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tianjian.sqlite3")).unwrap();
    let v = village(&store).await;
    let keys = Keys::from_secret(SECRET);
    let server = TestServer::start_with(AppState::open(store.clone(), SECRET).await.unwrap())
        .await
        .unwrap();

    let mut curious = Device::new("curious-phone");
    curious
        .connect(server.addr, &token(&keys, &v.outsider))
        .await
        .unwrap();
    curious.open(v.branch).await.unwrap();
    let branch = v.branch;
    let refused = curious
        .sync_until(LIMIT, |d| {
            let unavailable = d
                .log
                .iter()
                .any(|e| matches!(e, Effect::Unavailable { document } if *document == branch));
            async move { unavailable }
        })
        .await
        .unwrap();
    assert!(
        refused,
        "the document of another branch must be unavailable"
    );
    assert!(
        curious
            .document(v.branch)
            .is_none_or(|doc| doc.get_heads().is_empty())
    );

    let mut forged = Device::new("forged");
    let wrong_key = Keys::from_secret(b"someone else's key");
    assert!(
        forged
            .connect(server.addr, &token(&wrong_key, &v.li))
            .await
            .is_err()
    );
    assert!(forged.connect(server.addr, "not-a-token").await.is_err());
    server.stop().await.unwrap();
}

/// The database file and its write-ahead log, byte for byte.
fn database_bytes(path: &std::path::Path) -> (Vec<u8>, Vec<u8>) {
    let wal = path.with_extension("sqlite3-wal");
    (
        std::fs::read(path).unwrap(),
        std::fs::read(wal).unwrap_or_default(),
    )
}

#[tokio::test]
async fn garbage_oversized_frames_and_hostile_changes_leave_storage_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tianjian.sqlite3");
    let store = Store::open(&path).unwrap();
    let v = village(&store).await;
    let keys = Keys::from_secret(SECRET);
    let server = TestServer::start_with(AppState::open(store.clone(), SECRET).await.unwrap())
        .await
        .unwrap();
    let before = database_bytes(&path);
    let closed = |d: &Device| {
        let closed = !d.is_connected();
        async move { closed }
    };

    // Garbage instead of a frame: the session ends.
    let mut phone = Device::new("li-phone");
    phone
        .connect(server.addr, &token(&keys, &v.li))
        .await
        .unwrap();
    phone.send_raw(vec![0xff, 0x00, 0x13, 0x37]).await.unwrap();
    assert!(
        phone.sync_until(LIMIT, closed).await.unwrap(),
        "garbage must end the session"
    );

    // A frame over the size limit: refused before it is read.
    let mut phone = Device::new("li-phone");
    phone
        .connect(server.addr, &token(&keys, &v.li))
        .await
        .unwrap();
    let _ = phone
        .send_raw(vec![0u8; tianjian_server::sync::MAX_FRAME_BYTES + 1])
        .await;
    assert!(
        phone.sync_until(LIMIT, closed).await.unwrap(),
        "an oversized frame must end the session"
    );

    // A tampered phone writes a lecture naming someone else into li's notebook.
    let mut phone = Device::new("li-phone");
    phone.hold(v.notebook, v.notebook_bytes.clone());
    phone.open(v.notebook).await.unwrap();
    let stranger = v.outsider.clone();
    phone
        .edit(v.notebook, |doc| {
            use automerge::ReadDoc;
            let mut tx = doc.transaction();
            let lectures = tx.get(automerge::ROOT, "lectures").unwrap().unwrap().1;
            let key = client_core::RecordId::generate(NOW).unwrap().to_string();
            autosurgeon::reconcile_prop(&mut tx, &lectures, key.as_str(), lecture(&stranger))
                .unwrap();
            tx.commit();
        })
        .await
        .unwrap();
    phone
        .connect(server.addr, &token(&keys, &v.li))
        .await
        .unwrap();
    assert!(
        phone.sync_until(LIMIT, closed).await.unwrap(),
        "a hostile change must end the session"
    );

    // A member of another branch cannot write into li's notebook either: it is not even there.
    assert!(
        database_bytes(&path) == before,
        "storage must be byte-for-byte unchanged"
    );
    assert_eq!(
        lectures_in(&store.load_document(v.notebook).await.unwrap().unwrap()),
        0
    );
    server.stop().await.unwrap();
}
