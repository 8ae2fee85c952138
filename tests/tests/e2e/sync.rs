use std::time::Duration;

use client_core::model::branch::{BranchRole, RosterEntry};
use client_core::model::common::{MediaRef, Submission};
use client_core::model::notebook::{Lecture, LectureCategory, Venue};
use client_core::sync::engine::Effect;
use client_core::{
    Branch, BranchId, DocKind, DocumentId, Limits, Millis, Notebook, Principal, Role, Scope,
    TownshipId, UserId, schema,
};
use tianjian_server::AppState;
use tianjian_server::auth::{Claims, Keys};
use tianjian_server::store::Store;
use tianjian_tests::TestServer;
use tianjian_tests::device::Device;

const NOW: Millis = Millis(1_791_770_400_000);
const SECRET: &[u8] = b"test signing key, not a real one";
const LIMIT: Duration = Duration::from_secs(20);

struct Village {
    li: Principal,
    secretary: Principal,
    outsider: Principal,
    branch: DocumentId,
    notebook: DocumentId,
    notebook_bytes: Vec<u8>,
}

/// A server database with 合益村's branch document and 李章桂's notebook.
async fn village(store: &Store) -> Village {
    let (township, branch_id) = (
        TownshipId::generate().unwrap(),
        BranchId::generate().unwrap(),
    );
    let person = |role| Principal {
        user: UserId::generate().unwrap(),
        role,
        branch: Some(branch_id),
        township: Some(township),
    };
    let (li, secretary) = (person(Role::Member), person(Role::BranchAdmin));
    let outsider = Principal {
        branch: Some(BranchId::generate().unwrap()),
        ..person(Role::Member)
    };
    let (branch, notebook) = (
        DocumentId::generate().unwrap(),
        DocumentId::generate().unwrap(),
    );
    let scope = |kind, owner| Scope {
        kind,
        branch: branch_id,
        township,
        owner,
    };
    let mut branch_doc = Branch::create(scope(DocKind::Branch, None), NOW).unwrap();
    let entry = RosterEntry {
        name: "李章桂".into(),
        role: BranchRole::Member,
        notebook,
        joined_at: NOW,
        left_at: None,
        silver: false,
    };
    branch_doc
        .enrol_member(&secretary, NOW, li.user, entry)
        .unwrap();
    let mut notebook_doc = Notebook::create(scope(DocKind::Notebook, Some(li.user)), NOW).unwrap();
    let notebook_bytes = notebook_doc.document_mut().save();
    store
        .create_document(
            branch,
            *branch_doc.scope(),
            NOW.0,
            branch_doc.document_mut().save(),
        )
        .await
        .unwrap();
    store
        .create_document(
            notebook,
            *notebook_doc.scope(),
            NOW.0,
            notebook_bytes.clone(),
        )
        .await
        .unwrap();
    Village {
        li,
        secretary,
        outsider,
        branch,
        notebook,
        notebook_bytes,
    }
}

fn token(keys: &Keys, who: &Principal) -> String {
    let claims = Claims {
        sub: who.user,
        role: who.role,
        branch: who.branch,
        township: who.township,
        exp: 4_102_444_800,
    };
    keys.issue(&claims).unwrap()
}

fn lecture(speaker: &Principal) -> Lecture {
    Lecture {
        title: "忆扶贫故事、做合格党员、推乡村振兴".into(),
        category: LectureCategory::PoliticalTheory,
        venue: Venue::Courtyard,
        held_at: NOW,
        duration_min: 25,
        place: "合益村屋场坪".into(),
        gps: None,
        speakers: vec![speaker.user],
        guest_speaker: None,
        recorded_by: speaker.user,
        attendees: vec![],
        audience: 30,
        summary: "屋场坪上讲党课".into(),
        media: vec![MediaRef {
            sha256: "ab".repeat(32),
            size: 2_400_000,
            media_type: "image/jpeg".into(),
            duration_ms: None,
            caption: None,
        }],
        plan: None,
        submission: Submission::draft(),
        created_at: NOW,
        withdrawn: None,
    }
}

fn lectures_in(bytes: &[u8]) -> usize {
    Notebook::load(bytes, Limits::default())
        .map(|n| n.records::<Lecture>(&schema::LECTURES).len())
        .unwrap_or(0)
}

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
