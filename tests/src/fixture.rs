//! The village every end-to-end test starts from, made by the server's own administration
//! code on a fresh database: 周官桥乡 with 合益村 (李章桂, a member; 赵杰辉 and 贺俊爱, its
//! branch admins), 双桥村 (刘岳云, a member of another branch) and its township admin 王敏;
//! a system admin; and 白沙镇, another township, with 白沙村 and its township admin 周立新.
//! Everyone has one phone, enrolled, whose device id is his user id.

// A fixture that cannot be set up is a failed test: panicking says where.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use automerge::Automerge;
use client_core::model::branch::Plan;
use client_core::model::common::{MediaRef, Prose, Submission};
use client_core::model::notebook::{Lecture, LectureCategory, Venue};
use client_core::{BranchId, DeviceId, TownshipId, UserId};
use client_core::{Document, DocumentId, Limits, Millis, Month, Notebook, Principal, Role, schema};
use tianjian_server::admin::{NewUser, Organisation};
use tianjian_server::auth::{Claims, KeyRing, Settings};
use tianjian_server::store::{NewDevice, Store, UserRecord, Value};
use tianjian_server::{AppState, Config};

use crate::TestServer;

pub const NOW: Millis = Millis(1_791_770_400_000);
pub const SECRET: &[u8] = b"test signing key, not a real one";

/// The key ring of a test server.
pub fn keys() -> KeyRing {
    KeyRing::new(SECRET, &[]).unwrap()
}

/// A server's state over `store`, with the test key and default settings; media go in a
/// directory beside the database.
pub async fn open(store: &Store) -> AppState {
    AppState::open(store.clone(), config(Settings::default()))
        .await
        .unwrap()
}

/// A server's configuration with the test key, `auth` settings and media in a fresh
/// temporary directory (kept for the life of the process).
pub fn config(auth: Settings) -> Config {
    let media = tempfile::tempdir().unwrap().keep();
    Config {
        auth,
        ..Config::new(keys(), &media)
    }
}

/// Enrols the one phone each test person has. Its device id is the person's user id, so that
/// [`token`] can make a token for it from the person alone.
pub async fn give_phone(store: &Store, user: UserId) {
    // Its refresh token is one nobody holds: the stored "hash" is the user id, padded.
    let mut refresh = [0u8; 32];
    refresh[..16].copy_from_slice(user.as_uuid().as_bytes());
    let device = NewDevice {
        id: phone_of(user),
        user,
        name: "test phone".into(),
        refresh,
        refresh_expires_at: NOW,
    };
    store.enrol_device(device, NOW).await.unwrap();
}

/// The device id of a test person's phone.
pub fn phone_of(user: UserId) -> DeviceId {
    DeviceId::from_uuid(*user.as_uuid())
}

/// A person made through the server's administration code, with a phone.
pub async fn person(
    store: &Store,
    township: TownshipId,
    branch: Option<BranchId>,
    name: &str,
    role: Role,
) -> UserRecord {
    let org = Organisation { store, hub: None };
    let new = NewUser {
        name: name.into(),
        role,
        township,
        branch,
        phone: None,
        password: None,
    };
    let user = org.create_user(new, NOW).await.unwrap();
    give_phone(store, user.id).await;
    user
}

#[derive(Debug, Clone)]
pub struct Village {
    pub li: Principal,
    pub secretary: Principal,
    pub deputy: Principal,
    pub outsider: Principal,
    /// 周官桥乡's township admin (its 组织委员).
    pub township_admin: Principal,
    /// Runs the installation.
    pub system_admin: Principal,
    /// The township admin of 白沙镇, a township with a branch of its own (白沙村).
    pub far_admin: Principal,
    pub township: TownshipId,
    pub heyi: BranchId,
    pub shuangqiao: BranchId,
    pub baisha: BranchId,
    pub branch: DocumentId,
    /// 双桥村's branch document, which nobody of 合益村 may read.
    pub branch_of_outsider: DocumentId,
    pub notebook: DocumentId,
    pub notebook_bytes: Vec<u8>,
}

/// A server database with 合益村's documents and people, and a member of 双桥村.
pub async fn village(store: &Store) -> Village {
    let org = Organisation { store, hub: None };
    let township = org.township("周官桥乡").await.unwrap();
    let heyi = org.create_branch(township, "合益村", NOW).await.unwrap();
    let shuangqiao = org.create_branch(township, "双桥村", NOW).await.unwrap();
    let far = org.township("白沙镇").await.unwrap();
    let baisha = org.create_branch(far, "白沙村", NOW).await.unwrap();
    let heyi_id = Some(heyi.id);
    let li = person(store, township, heyi_id, "李章桂", Role::Member).await;
    let secretary = person(store, township, heyi_id, "赵杰辉", Role::BranchAdmin).await;
    let deputy = person(store, township, heyi_id, "贺俊爱", Role::BranchAdmin).await;
    let outsider = person(store, township, Some(shuangqiao.id), "刘岳云", Role::Member).await;
    let township_admin = person(store, township, None, "王敏", Role::TownshipAdmin).await;
    let system_admin = person(store, township, None, "县信息中心", Role::SystemAdmin).await;
    let far_admin = person(store, far, None, "周立新", Role::TownshipAdmin).await;
    person(store, far, Some(baisha.id), "白沙村党员", Role::Member).await;
    let notebook = li.notebook_document.unwrap();
    Village {
        li: li.principal(),
        secretary: secretary.principal(),
        deputy: deputy.principal(),
        outsider: outsider.principal(),
        township_admin: township_admin.principal(),
        system_admin: system_admin.principal(),
        far_admin: far_admin.principal(),
        township,
        heyi: heyi.id,
        shuangqiao: shuangqiao.id,
        baisha: baisha.id,
        branch: heyi.branch_document,
        branch_of_outsider: shuangqiao.branch_document,
        notebook,
        notebook_bytes: store.load_document(notebook).await.unwrap().unwrap(),
    }
}

/// A fresh database in a temporary directory, with the village.
#[derive(Debug)]
pub struct Database {
    /// Kept so the directory lives as long as the test.
    pub dir: tempfile::TempDir,
    pub path: std::path::PathBuf,
    /// Where the store keeps its data: the SQLite file at `path`, or a PostgreSQL database.
    pub location: tianjian_server::store::Database,
    pub store: Store,
    pub v: Village,
    pub keys: KeyRing,
}

pub async fn database() -> Database {
    database_on(Backend::from_environment()).await
}

/// Which database a test's server keeps its data in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Both, for the storage suite.
    pub const BOTH: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

    /// SQLite, unless `TIANJIAN_E2E_DATABASE=postgres` asks to run the end-to-end tests
    /// on PostgreSQL.
    pub fn from_environment() -> Backend {
        match std::env::var("TIANJIAN_E2E_DATABASE").as_deref() {
            Ok("postgres") => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    /// Where a fresh, empty store on this backend keeps its data: SQLite's file in `dir`.
    pub fn fresh_location(self, dir: &Path) -> tianjian_server::store::Database {
        use tianjian_server::store::Database;
        match self {
            Backend::Sqlite => Database::Sqlite(dir.join("tianjian.sqlite3")),
            Backend::Postgres => Database::Postgres(crate::postgres::fresh_database()),
        }
    }
}

/// A fresh database on `backend`, with the village.
pub async fn database_on(backend: Backend) -> Database {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tianjian.sqlite3");
    let location = backend.fresh_location(dir.path());
    let store = Store::connect(&location).unwrap();
    let v = village(&store).await;
    Database {
        dir,
        path,
        location,
        store,
        v,
        keys: keys(),
    }
}

/// The same, with our server running over it on a loopback port, in process.
pub async fn served() -> (Database, TestServer) {
    let database = database().await;
    let state = open(&database.store).await;
    let server = TestServer::start_with(state).await.unwrap();
    (database, server)
}

/// An access token for `who`'s phone, good until 2100.
pub fn token(keys: &KeyRing, who: &Principal) -> String {
    let claims = Claims {
        sub: who.user,
        dev: phone_of(who.user),
        role: who.role,
        branch: who.branch,
        township: who.township,
        iat: 1_791_770_400,
        exp: 4_102_444_800,
    };
    keys.issue(&claims).unwrap()
}

pub fn lecture(speaker: &Principal) -> Lecture {
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

/// Records `lectures` lectures by `who` on a phone's copy of his notebook, as the app does.
pub fn record_lectures(doc: &mut Automerge, who: &Principal, lectures: usize) {
    let mut notebook = Notebook::load(&doc.save(), Limits::default()).unwrap();
    let before = notebook.heads();
    for r in 0..lectures {
        let lecture = Lecture {
            title: format!("第{r}讲"),
            ..lecture(who)
        };
        notebook.record_lecture(who, NOW, lecture).unwrap();
    }
    let changes = notebook.automerge().save_after(&before);
    doc.load_incremental(&changes).unwrap();
}

pub fn lectures_in(bytes: &[u8]) -> usize {
    Notebook::load(bytes, Limits::default())
        .map(|n| n.records::<Lecture>(&schema::LECTURES).len())
        .unwrap_or(0)
}

/// November's plan for 合益村, as `admin` writes it.
pub fn plan_of(admin: &Principal) -> Plan {
    Plan {
        lecture_topic: "忆扶贫故事、做合格党员、推乡村振兴".into(),
        lecture_speaker: None,
        film_title: "《初心》".into(),
        practice: "屋场坪环境整治".into(),
        theme_day: None,
        notes: Prose::default(),
        created_by: admin.user,
        created_at: NOW,
        withdrawn: None,
    }
}

pub fn november() -> Month {
    "2026-11".parse().unwrap()
}

/// Runs client-core operations on a device's copy of a document, as the app does: through
/// the typed handle, which checks them before they are written.
pub fn operate<H, E>(
    doc: &mut Automerge,
    load: fn(&[u8], Limits) -> Result<H, E>,
    op: impl FnOnce(&mut H),
) where
    H: std::ops::Deref<Target = Document>,
    E: std::fmt::Debug,
{
    let mut handle = load(&doc.save(), Limits::default()).unwrap();
    op(&mut handle);
    doc.load_incremental(&handle.automerge().save()).unwrap();
}

/// The rows of `tables` in `store`, each as one line, in a stable order.
pub async fn table_rows(store: &Store, tables: &[&str]) -> Vec<String> {
    let mut rows = Vec::new();
    for table in tables {
        for row in store.table_rows(table).await.unwrap() {
            let values: Vec<String> = row
                .iter()
                .map(|value| match value {
                    Value::Null => "NULL".to_owned(),
                    Value::Int(i) => i.to_string(),
                    Value::Real(r) => r.to_string(),
                    Value::Text(t) => format!("'{t}'"),
                    Value::Bytes(b) => b.iter().map(|byte| format!("{byte:02x}")).collect(),
                })
                .collect();
            rows.push(format!("{table}: {}", values.join(" | ")));
        }
    }
    rows.sort();
    rows
}

/// The tables that hold documents and everything derived from them: what a refusal must
/// leave exactly as it was (the audit log, which records the refusal, is not among them).
pub const STORAGE: &[&str] = &[
    "documents",
    "changes",
    "sync_states",
    "actors",
    "records",
    "record_people",
    "record_media",
    "record_values",
    "standings",
    "townships",
    "branches",
    "users",
];

/// The projection tables.
pub const PROJECTIONS: &[&str] = &[
    "records",
    "record_people",
    "record_media",
    "record_values",
    "standings",
];

/// A photo as a phone takes it: a JPEG's first bytes, then `size` bytes that do not repeat
/// (so no two runs of a benchmark, nor two parts of a file, compress or deduplicate).
pub fn photo(size: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(size);
    bytes.extend_from_slice(&[
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ]);
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    while bytes.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(size);
    bytes
}

/// A video as MediaRecorder or a phone camera writes it: an MP4's first bytes, then noise.
/// The lower-case hex SHA-256 of `bytes`: a blob's address.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A real WAV file: `seconds` of a 440 Hz tone, 8 kHz, 16-bit mono, that a browser plays.
pub fn wav(seconds: u32) -> Vec<u8> {
    const RATE: u32 = 8_000;
    let samples = RATE * seconds;
    let mut bytes = Vec::with_capacity(44 + 2 * samples as usize);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + 2 * samples).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&RATE.to_le_bytes());
    bytes.extend_from_slice(&(2 * RATE).to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&(2 * samples).to_le_bytes());
    for i in 0..samples {
        let phase = f64::from(i) * 440.0 * std::f64::consts::TAU / f64::from(RATE);
        let sample = (phase.sin() * 8_000.0) as i16;
        bytes.extend_from_slice(&sample.to_le_bytes());
    }
    bytes
}

pub fn video(size: usize) -> Vec<u8> {
    let mut bytes = photo(size);
    let header = b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41";
    bytes[..header.len()].copy_from_slice(header);
    bytes
}
