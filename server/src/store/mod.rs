//! Durable storage in SQLite or PostgreSQL, on threads of their own.
//!
//! Both clients are synchronous, so they never run on the async executor: callers send jobs
//! over a bounded queue to one storage thread and await the answer. Documents are stored as
//! an append-only log of changes keyed by (document, change hash). Appends commute, so a
//! change stored twice is stored once, and several writers (several nodes on one
//! PostgreSQL) converge. SQLite runs in WAL mode with `synchronous = FULL`, and PostgreSQL
//! commits durably: when an append returns, the changes are on disk.

use std::path::Path;

use client_core::DocumentId;
use rusqlite::{Connection, OpenFlags};
use sql::Db;
use tokio::sync::{mpsc, oneshot};

mod admission;
mod audit;
mod documents;
mod identity;
mod leases;
mod ledgers;
mod media;
mod notices;
mod organisation;
mod projections;
mod schema;
mod schema_postgres;
pub(crate) mod sql;
mod standings;
mod statistics;
mod tables;
mod thread;
mod transfer;

pub use audit::{AUDIT_PAGE, AuditEvent, AuditQuery};
pub use documents::Write;
pub use identity::{DeviceRecord, NewDevice, Redemption, RefreshRequest, Rotation, SecretHash};
pub use leases::lease_for;
pub use ledgers::{LedgerRecord, Listing, RecordFile};
pub use media::{BlobRecord, UploadRecord};
pub use notices::{CHANGES_CHANNEL, Heard, Written};
pub use organisation::{BranchRecord, UserRecord};
pub use schema::LATEST as SCHEMA_VERSION;
pub use sql::Value;
pub use standings::Standing;
pub use statistics::{
    BranchFigures, Count, Figure, Narrowing, PlanStanding, RecordLine, Scope, Tally,
};
pub use tables::TABLES;
use thread::{Job, run_jobs};
pub use transfer::{Copied, copy_database, differences};

/// How many storage jobs may wait before callers are slowed down.
const QUEUE: usize = 1024;

/// A change log longer than this is folded into its document's snapshot: loading one saved
/// document is much faster than applying hundreds of small changes.
pub const COMPACT_AFTER: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("storage: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("storage: no such row")]
    NoRow,
    #[error(
        "the database is at schema {found}, newer than this tianjian knows (schema {known}): \
         run the newer tianjian that wrote it, or restore a backup taken before"
    )]
    TooNew { found: usize, known: usize },
    #[error("the database could not be migrated: {0}")]
    Migration(String),
    #[error("the storage thread has stopped")]
    Stopped,
    #[error("not a change: {0}")]
    BadChange(String),
    #[error("document {0} already exists")]
    Exists(DocumentId),
    #[error("the database holds a value this version cannot read: {0}")]
    Corrupt(String),
    #[error("storage: the transaction this write shared failed: {0}")]
    Group(String),
    #[error("someone else has this phone number")]
    PhoneTaken,
    #[error("cannot make an id: {0}")]
    Id(#[from] client_core::ids::IdError),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Whether trying again may succeed: PostgreSQL broke a deadlock between this write and
    /// another node's, or could not serialize them.
    pub fn is_transient(&self) -> bool {
        use postgres::error::SqlState;
        match self {
            StoreError::Postgres(error) => error.code().is_some_and(|code| {
                *code == SqlState::T_R_DEADLOCK_DETECTED
                    || *code == SqlState::T_R_SERIALIZATION_FAILURE
            }),
            _ => false,
        }
    }
}

/// Where the store keeps its data.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file: one node, the default.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL database, by its `postgres://` URL: one node or several.
    Postgres(String),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "SQLite at {}", path.display()),
            // The URL may hold a password.
            Database::Postgres(_) => f.write_str("PostgreSQL"),
        }
    }
}

impl Database {
    /// The database `storage.database` names: absent, SQLite in the data directory; a
    /// `postgres://` (or `postgresql://`) URL, PostgreSQL; anything else, a SQLite file,
    /// relative to the data directory.
    pub fn from_setting(data: &Path, setting: Option<&str>) -> Result<Database, String> {
        match setting.map(str::trim) {
            None | Some("") => Ok(Database::Sqlite(data.join(crate::backup::DATABASE))),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                url.parse::<postgres::Config>()
                    .map_err(|error| format!("not a PostgreSQL URL: {error}"))?;
                Ok(Database::Postgres(url.to_owned()))
            }
            Some(url) if url.contains("://") => Err(format!(
                "{}: neither a file nor a postgres:// URL",
                url.split("://").next().unwrap_or_default()
            )),
            Some(path) => Ok(Database::Sqlite(data.join(path))),
        }
    }
}

/// A handle to the storage thread; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    jobs: mpsc::Sender<Job>,
    /// Long reads (statistics, exports) run on a connection and thread of their own: WAL lets
    /// them read a consistent snapshot while writes go on, so a township's yearly figures
    /// never hold up a phone's sync.
    reads: mpsc::Sender<Job>,
    /// This process among the nodes sharing the database: what its notices are signed with,
    /// and who holds the leases it takes.
    node: std::sync::Arc<str>,
    /// The PostgreSQL database's URL, where other nodes may write: what the listener for
    /// their notices connects to.
    shared: Option<std::sync::Arc<str>>,
}

impl Store {
    /// Opens the store's database, wherever it is.
    pub fn connect(database: &Database) -> Result<Store> {
        match database {
            Database::Sqlite(path) => Store::open(path),
            Database::Postgres(url) => Store::open_postgres(url),
        }
    }

    /// Opens (creating if needed) the database at `path` and starts the storage thread.
    pub fn open(path: &Path) -> Result<Store> {
        let writer = sqlite_writer(path)?;
        let reader = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        reader.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(Store {
            jobs: start_thread("storage", writer)?,
            reads: start_thread("storage-reads", Db::sqlite(reader))?,
            node: new_node()?,
            shared: None,
        })
    }

    /// Connects to the PostgreSQL database at `url`, brings its schema up to date and starts
    /// the storage threads: one that writes, with group commit, and one that reads. The
    /// connections are made on the threads that use them: the blocking client runs a small
    /// runtime of its own, which may not start inside the server's.
    pub fn open_postgres(url: &str) -> Result<Store> {
        let writer_url = url.to_owned();
        let jobs = start_thread_with("storage", move || postgres_writer(&writer_url))?;
        let reader_url = url.to_owned();
        let reads = start_thread_with("storage-reads", move || Db::postgres(&reader_url))?;
        Ok(Store {
            jobs,
            reads,
            node: new_node()?,
            shared: Some(url.into()),
        })
    }

    /// This process among the nodes sharing the database.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// What other nodes write, as they announce it; `None` where no other node can write
    /// (SQLite).
    pub fn hear_other_nodes(&self) -> Option<mpsc::Receiver<Heard>> {
        self.shared
            .as_ref()
            .map(|url| notices::listen(url.to_string()))
    }

    /// Runs `work` on the storage thread and returns its result.
    async fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Db) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Alone(Box::new(move |connection| {
            let _ = reply.send(work(connection));
        }));
        self.jobs.send(job).await.map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    /// Runs `work` on the reading thread, inside one read transaction, so that every query
    /// of it sees the same snapshot of the database.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Db) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Alone(Box::new(move |connection| {
            let outcome = connection.snapshot().and_then(|tx| work(&tx));
            let _ = reply.send(outcome);
        }));
        self.reads
            .send(job)
            .await
            .map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    /// Runs `work` on the storage thread as part of a group commit; returns once it is
    /// committed.
    async fn write(&self, work: impl Fn(&Db) -> Result<()> + Send + 'static) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Grouped(Box::new(work), reply);
        self.jobs.send(job).await.map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }
}

/// Starts a thread that runs the jobs sent to it on `connection`.
fn start_thread(name: &str, connection: Db) -> Result<mpsc::Sender<Job>> {
    start_thread_with(name, move || Ok(connection))
}

/// Starts a thread that makes its connection with `connect`, then runs the jobs sent to it
/// on that connection; returns once the connection is made, or why it could not be.
fn start_thread_with(
    name: &str,
    connect: impl FnOnce() -> Result<Db> + Send + 'static,
) -> Result<mpsc::Sender<Job>> {
    let (jobs, queue) = mpsc::channel::<Job>(QUEUE);
    let (ready, made) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || match connect() {
            Ok(connection) => {
                let _ = ready.send(Ok(()));
                run_jobs(connection, queue);
            }
            Err(error) => {
                let _ = ready.send(Err(error));
            }
        })
        .map_err(|e| StoreError::Corrupt(format!("cannot start the {name} thread: {e}")))?;
    made.recv().map_err(|_| StoreError::Stopped)??;
    Ok(jobs)
}

/// A connection that writes to the SQLite database at `path` (made if new), its schema
/// brought up to date.
fn sqlite_writer(path: &Path) -> Result<Db> {
    let mut connection = Connection::open(path)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    // Every grouped write runs in a savepoint, whose undo journal is a temporary file unless
    // kept in memory; it is thrown away at commit and never needed after a crash.
    connection.pragma_update(None, "temp_store", "MEMORY")?;
    // A checkpoint copies every page the log holds into the database, once however often
    // it was written since: checkpointing every 16 MiB of log rather than every 4 MiB writes
    // the pages that every write touches (indexes, the documents' versions) a quarter as
    // often.
    connection.pragma_update(None, "wal_autocheckpoint", 4096)?;
    // Room for every statement the writer runs, the projection's multi-row shapes included,
    // so that none is parsed again while a storm writes.
    connection.set_prepared_statement_cache_capacity(128);
    // Another process (the command line, a backup) may hold a lock for a moment: wait for
    // it rather than fail a write.
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    schema::migrate(&mut connection, path)?;
    let writer = Db::sqlite(connection);
    schema::reproject_if_asked(&writer)?;
    Ok(writer)
}

/// A connection that writes to the PostgreSQL database at `url`, its schema brought up to
/// date. Not on the async executor: the blocking client runs a runtime of its own.
fn postgres_writer(url: &str) -> Result<Db> {
    let writer = Db::postgres(url)?;
    schema_postgres::migrate(&writer)?;
    schema::reproject_if_asked(&writer)?;
    Ok(writer)
}

/// A connection that writes to `database`, its schema brought up to date.
fn writer(database: &Database) -> Result<Db> {
    match database {
        Database::Sqlite(path) => sqlite_writer(path),
        Database::Postgres(url) => postgres_writer(url),
    }
}

/// A name for this process among the nodes sharing a database, new each start.
fn new_node() -> Result<std::sync::Arc<str>> {
    let id = client_core::sync::message::StorageId::generate()?;
    Ok(format!("node-{}", id.0).into())
}

fn parse<T: std::str::FromStr>(text: &str, what: &str) -> Result<T> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what}: {text:?}")))
}

#[cfg(test)]
mod tests {
    use automerge::ReadDoc;
    use automerge::transaction::Transactable;
    use client_core::{Document, Millis};

    use client_core::projection::Projection;
    use client_core::sync::message::StorageId;
    use client_core::{BranchId, DocKind, Scope, TownshipId, UserId};

    use super::*;

    fn scope() -> Scope {
        Scope {
            kind: DocKind::Branch,
            branch: BranchId::generate().unwrap(),
            township: TownshipId::generate().unwrap(),
            owner: None,
        }
    }

    #[tokio::test]
    async fn documents_are_an_append_only_log_that_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tianjian.sqlite3");
        let store = Store::open(&path).unwrap();
        let scope = scope();
        let id = DocumentId::generate().unwrap();
        let mut document = Document::create(scope, Millis(1_791_770_400_000)).unwrap();
        store
            .create_document(id, scope, 1_791_770_400_000, document.save())
            .await
            .unwrap();
        assert!(matches!(
            store.create_document(id, scope, 0, document.save()).await,
            Err(StoreError::Exists(_))
        ));

        // A second replica adds a change; appending it twice stores it once.
        let mut replica =
            automerge::Automerge::load(&store.load_document(id).await.unwrap().unwrap()).unwrap();
        let before = replica.get_heads();
        let mut tx = replica.transaction();
        let roster = tx.get(automerge::ROOT, "roster").unwrap().unwrap().1;
        tx.put(&roster, "note", "x").unwrap();
        tx.commit();
        let changes = replica.get_changes(&before);
        let write = |changes| Write {
            document: id,
            changes,
            actors: vec![(replica.get_actor().clone(), UserId::SYSTEM)],
            projection: Projection::default(),
            audit: Vec::new(),
            at: Millis(1_791_770_400_000),
        };
        store.append_changes(write(changes.clone())).await.unwrap();
        store.append_changes(write(changes)).await.unwrap();
        let bindings = store.actor_bindings().await.unwrap();
        assert!(bindings.contains(&(replica.get_actor().clone(), UserId::SYSTEM)));
        assert_eq!(bindings.len(), 2, "the creating actor and the replica's");

        store
            .save_sync_state(StorageId("phone".into()), id, vec![9, 9])
            .await
            .unwrap();
        drop(store);
        let store = Store::open(&path).unwrap();
        let loaded =
            automerge::Automerge::load(&store.load_document(id).await.unwrap().unwrap()).unwrap();
        assert_eq!(loaded.get_heads(), replica.get_heads());
        assert_eq!(
            loaded.get_changes(&[]).len(),
            replica.get_changes(&[]).len()
        );
        assert_eq!(
            store
                .load_sync_state(StorageId("phone".into()), id)
                .await
                .unwrap(),
            Some(vec![9, 9])
        );
        assert_eq!(
            store
                .load_document(DocumentId::generate().unwrap())
                .await
                .unwrap(),
            None
        );
        assert_eq!(store.catalogue().await.unwrap(), vec![(id, scope)]);
    }

    /// A fresh database holding one new branch document.
    async fn new_document() -> (tempfile::TempDir, Store, DocumentId) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("tianjian.sqlite3")).unwrap();
        let scope = scope();
        let id = DocumentId::generate().unwrap();
        let mut document = Document::create(scope, Millis(1_791_770_400_000)).unwrap();
        store
            .create_document(id, scope, 1_791_770_400_000, document.save())
            .await
            .unwrap();
        (dir, store, id)
    }

    #[tokio::test]
    async fn a_long_change_log_is_folded_into_a_snapshot_that_loads_the_same() {
        let (_dir, store, id) = new_document().await;
        let mut replica =
            automerge::Automerge::load(&store.load_document(id).await.unwrap().unwrap()).unwrap();
        let roster = replica.get(automerge::ROOT, "roster").unwrap().unwrap().1;
        let change = |replica: &mut automerge::Automerge, value: usize| {
            let before = replica.get_heads();
            let mut tx = replica.transaction();
            tx.put(&roster, "note", value as i64).unwrap();
            tx.commit();
            Write {
                document: id,
                changes: replica.get_changes(&before),
                actors: Vec::new(),
                projection: Projection::default(),
                audit: Vec::new(),
                at: Millis(1_791_770_400_000),
            }
        };
        let mut first = None;
        for value in 0..=COMPACT_AFTER {
            let write = change(&mut replica, value);
            first.get_or_insert_with(|| write.clone());
            store.append_changes(write).await.unwrap();
        }
        assert_eq!(store.compact_logs(COMPACT_AFTER, 10).await.unwrap(), 1);
        assert_eq!(store.compact_logs(COMPACT_AFTER, 10).await.unwrap(), 0);
        let loaded =
            automerge::Automerge::load(&store.load_document(id).await.unwrap().unwrap()).unwrap();
        assert_eq!(loaded.get_heads(), replica.get_heads());

        // After compaction the log goes on, and a change sent again changes nothing.
        store
            .append_changes(change(&mut replica, 1_000))
            .await
            .unwrap();
        store.append_changes(first.unwrap()).await.unwrap();
        let loaded =
            automerge::Automerge::load(&store.load_document(id).await.unwrap().unwrap()).unwrap();
        assert_eq!(loaded.get_heads(), replica.get_heads());
        assert_eq!(
            loaded.get(&roster, "note").unwrap().unwrap().0.as_i64(),
            Some(1_000)
        );
    }

    #[tokio::test]
    async fn writes_queued_together_commit_together_and_fail_alone() {
        let (_dir, store, id) = new_document().await;
        let phones = (0..50u8).map(|i| {
            let store = store.clone();
            async move {
                store
                    .save_sync_state(StorageId(format!("phone-{i}")), id, vec![i])
                    .await
            }
        });
        // A sync state for a document that does not exist breaks a foreign key.
        let ghost = store.save_sync_state(
            StorageId("ghost".into()),
            DocumentId::generate().unwrap(),
            vec![0],
        );
        let (saved, ghost) =
            futures_util::future::join(futures_util::future::join_all(phones), ghost).await;
        assert!(saved.iter().all(Result::is_ok));
        assert!(ghost.is_err());
        for i in 0..50u8 {
            assert_eq!(
                store
                    .load_sync_state(StorageId(format!("phone-{i}")), id)
                    .await
                    .unwrap(),
                Some(vec![i])
            );
        }
    }
}
