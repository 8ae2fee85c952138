//! Durable storage in SQLite, on a thread of its own.
//!
//! rusqlite is synchronous, so it never runs on the async executor: callers send jobs over a
//! bounded queue to one storage thread and await the answer. Documents are stored as an
//! append-only log of changes keyed by (document, change hash). Appends commute, so a
//! change stored twice is stored once, and several writers converge. The database runs in
//! WAL mode with `synchronous = FULL`: when an append returns, the changes are on disk.

use std::collections::VecDeque;
use std::path::Path;

use automerge::ActorId;
use client_core::projection::{self, Projection};
use client_core::sync::message::StorageId;
use client_core::{BranchId, DocKind, DocumentId, Millis, Principal, Scope, TownshipId, UserId};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

/// How many storage jobs may wait before callers are slowed down.
const QUEUE: usize = 1024;

/// A change log longer than this is folded into its document's snapshot: loading one saved
/// document is much faster than applying hundreds of small changes.
pub const COMPACT_AFTER: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
    #[error("cannot make an id: {0}")]
    Id(#[from] client_core::ids::IdError),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Work for the storage thread.
enum Job {
    /// Runs alone, with the connection to itself.
    Alone(Box<dyn FnOnce(&mut Connection) + Send>),
    /// A write that may share one transaction, and so one flush to disk, with the writes
    /// queued beside it (group commit). It is answered only once that transaction is
    /// committed: an answer still means "on disk".
    Grouped(GroupedWork, oneshot::Sender<Result<()>>),
}

/// A write that runs inside a shared transaction.
type GroupedWork = Box<dyn FnOnce(&Connection) -> Result<()> + Send>;

/// The most writes committed together.
const MOST_GROUPED: usize = 256;

/// The storage thread: runs jobs in the order they came, committing each run of grouped
/// writes in one transaction.
fn run_jobs(mut connection: Connection, mut queue: mpsc::Receiver<Job>) {
    let mut pending: VecDeque<Job> = VecDeque::new();
    loop {
        if pending.is_empty() {
            match queue.blocking_recv() {
                Some(job) => pending.push_back(job),
                None => return,
            }
        }
        while pending.len() < MOST_GROUPED
            && let Ok(job) = queue.try_recv()
        {
            pending.push_back(job);
        }
        match pending.pop_front() {
            Some(Job::Alone(work)) => work(&mut connection),
            Some(Job::Grouped(work, reply)) => {
                let mut group = vec![(work, reply)];
                while group.len() < MOST_GROUPED
                    && matches!(pending.front(), Some(Job::Grouped(..)))
                {
                    if let Some(Job::Grouped(work, reply)) = pending.pop_front() {
                        group.push((work, reply));
                    }
                }
                commit_group(&mut connection, group);
            }
            None => {}
        }
    }
}

type Grouped = (GroupedWork, oneshot::Sender<Result<()>>);

/// Runs writes in one transaction, each in a savepoint of its own so that one that fails is
/// undone alone, and answers each once the transaction is committed.
fn commit_group(connection: &mut Connection, group: Vec<Grouped>) {
    let mut tx = match connection.transaction() {
        Ok(tx) => tx,
        Err(error) => {
            let message = error.to_string();
            for (_, reply) in group {
                let _ = reply.send(Err(StoreError::Group(message.clone())));
            }
            return;
        }
    };
    let mut outcomes = Vec::with_capacity(group.len());
    for (work, reply) in group {
        let outcome = tx
            .savepoint()
            .map_err(StoreError::from)
            .and_then(|savepoint| {
                work(&savepoint)?;
                savepoint.commit()?;
                Ok(())
            });
        outcomes.push((reply, outcome));
    }
    match tx.commit() {
        Ok(()) => {
            for (reply, outcome) in outcomes {
                let _ = reply.send(outcome);
            }
        }
        Err(error) => {
            // Nothing of the group is on disk: every write hears so, even those that ran.
            let message = error.to_string();
            for (reply, _) in outcomes {
                let _ = reply.send(Err(StoreError::Group(message.clone())));
            }
        }
    }
}

/// A handle to the storage thread; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    jobs: mpsc::Sender<Job>,
}

const SCHEMA: &str = "
-- Facts about this database itself, such as the storage id peers know it by.
CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    branch TEXT NOT NULL,
    township TEXT NOT NULL,
    owner TEXT,
    created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    document TEXT NOT NULL REFERENCES documents(id),
    hash BLOB NOT NULL,
    bytes BLOB NOT NULL,
    UNIQUE (document, hash)
) STRICT;
CREATE INDEX IF NOT EXISTS changes_by_document ON changes(document, seq);
-- A compacted document: every change up to row `through_seq` of the log, saved as one
-- Automerge document, and those rows gone from `changes`.
CREATE TABLE IF NOT EXISTS snapshots (
    document TEXT PRIMARY KEY REFERENCES documents(id),
    bytes BLOB NOT NULL,
    through_seq INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS townships (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS branches (
    id TEXT PRIMARY KEY,
    township TEXT NOT NULL REFERENCES townships(id),
    name TEXT NOT NULL,
    branch_document TEXT NOT NULL REFERENCES documents(id),
    ledger_document TEXT NOT NULL REFERENCES documents(id),
    supervision_document TEXT NOT NULL REFERENCES documents(id)
) STRICT;
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    branch TEXT REFERENCES branches(id),
    township TEXT NOT NULL REFERENCES townships(id),
    notebook_document TEXT REFERENCES documents(id)
) STRICT;
-- Which person each Automerge actor writes for: bound the first time a signed-in device
-- writes with it, and never rebound.
CREATE TABLE IF NOT EXISTS actors (
    actor BLOB PRIMARY KEY,
    user TEXT NOT NULL,
    bound_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    event TEXT NOT NULL,
    user TEXT,
    document TEXT,
    rule TEXT,
    detail TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS audit_by_time ON audit(at);
-- Projections: views of the documents for SQL queries, kept in the same transaction as the
-- changes they come from, and rebuilt from the documents on demand.
CREATE TABLE IF NOT EXISTS records (
    document TEXT NOT NULL REFERENCES documents(id),
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    branch TEXT NOT NULL,
    owner TEXT,
    occurred_at INTEGER,
    status TEXT NOT NULL,
    revision INTEGER,
    subject TEXT,
    PRIMARY KEY (document, collection, key)
) STRICT;
CREATE INDEX IF NOT EXISTS records_by_branch ON records(branch, collection, occurred_at);
CREATE INDEX IF NOT EXISTS records_by_subject ON records(subject);
CREATE TABLE IF NOT EXISTS record_people (
    document TEXT NOT NULL,
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    field TEXT NOT NULL,
    person TEXT NOT NULL,
    PRIMARY KEY (document, collection, key, field, person)
) STRICT;
CREATE INDEX IF NOT EXISTS record_people_by_person ON record_people(person);
CREATE TABLE IF NOT EXISTS record_media (
    document TEXT NOT NULL,
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    field TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (document, collection, key, field, sha256)
) STRICT;
CREATE INDEX IF NOT EXISTS record_media_by_hash ON record_media(sha256);
CREATE TABLE IF NOT EXISTS sync_states (
    storage_id TEXT NOT NULL,
    document TEXT NOT NULL REFERENCES documents(id),
    bytes BLOB NOT NULL,
    PRIMARY KEY (storage_id, document)
) STRICT;
";

impl Store {
    /// Opens (creating if needed) the database at `path` and starts the storage thread.
    pub fn open(path: &Path) -> Result<Store> {
        let connection = Connection::open(path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        // Another process (the command line, a backup) may hold a lock for a moment: wait for
        // it rather than fail a write.
        connection.busy_timeout(std::time::Duration::from_secs(10))?;
        connection.execute_batch(SCHEMA)?;
        let (jobs, queue) = mpsc::channel::<Job>(QUEUE);
        std::thread::Builder::new()
            .name("storage".into())
            .spawn(move || run_jobs(connection, queue))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the storage thread: {e}")))?;
        Ok(Store { jobs })
    }

    /// Runs `work` on the storage thread and returns its result.
    async fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Alone(Box::new(move |connection| {
            let _ = reply.send(work(connection));
        }));
        self.jobs.send(job).await.map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    /// Runs `work` on the storage thread as part of a group commit; returns once it is
    /// committed.
    async fn write(
        &self,
        work: impl FnOnce(&Connection) -> Result<()> + Send + 'static,
    ) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Grouped(Box::new(work), reply);
        self.jobs.send(job).await.map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    /// Stores a new document made by the server, with its first changes.
    pub async fn create_document(
        &self,
        id: DocumentId,
        scope: Scope,
        created_at: i64,
        bytes: Vec<u8>,
    ) -> Result<()> {
        self.call(move |connection| {
            let tx = connection.transaction()?;
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO documents (id, kind, branch, township, owner, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id.to_string(),
                    scope.kind.as_str(),
                    scope.branch.to_string(),
                    scope.township.to_string(),
                    scope.owner.map(|o| o.to_string()),
                    created_at
                ],
            )?;
            if inserted == 0 {
                return Err(StoreError::Exists(id));
            }
            let doc = automerge::Automerge::load(&bytes)
                .map_err(|e| StoreError::BadChange(e.to_string()))?;
            let (changes, actors) = changes_of(&doc);
            append(&tx, id, &changes)?;
            project(&tx, id, &projection::project_all(&doc, scope.kind))?;
            // What the server writes is the server's: nobody else may write as it.
            let system: Vec<_> = actors.into_iter().map(|a| (a, UserId::SYSTEM)).collect();
            bind_actors(&tx, &system, Millis(created_at))?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// The stored document: every change, in the order stored, concatenated so that
    /// `Automerge::load` reads it whole. `None` if there is no such document.
    pub async fn load_document(&self, id: DocumentId) -> Result<Option<Vec<u8>>> {
        self.call(move |connection| {
            let exists: Option<String> = connection
                .query_row(
                    "SELECT id FROM documents WHERE id = ?1",
                    [id.to_string()],
                    |row| row.get(0),
                )
                .optional()?;
            if exists.is_none() {
                return Ok(None);
            }
            Ok(Some(stored_bytes(connection, id)?))
        })
        .await
    }

    /// Appends changes to a document's log, with the bindings of the actors that wrote them,
    /// in one transaction; returns once they are durable.
    pub async fn append_changes(&self, write: Write) -> Result<()> {
        // Parsed here, off the storage thread, which only writes.
        let changes = write
            .changes
            .iter()
            .map(|bytes| {
                automerge::Change::from_bytes(bytes.clone())
                    .map(|change| (change.hash(), bytes.clone()))
                    .map_err(|e| StoreError::BadChange(e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        self.write(move |connection| {
            append(connection, write.document, &changes)?;
            bind_actors(connection, &write.actors, write.at)?;
            project(connection, write.document, &write.projection)
        })
        .await
    }

    /// Rebuilds every projected row of `document` from the document itself, in one
    /// transaction on the storage thread, so no write can slip in between the read and the
    /// rebuilt rows. Returns how many records it holds.
    pub async fn rebuild_projection(&self, document: DocumentId) -> Result<usize> {
        self.call(move |connection| {
            let tx = connection.transaction()?;
            let kind: String = tx.query_row(
                "SELECT kind FROM documents WHERE id = ?1",
                [document.to_string()],
                |row| row.get(0),
            )?;
            let kind = DocKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("kind of document {document}")))?;
            let bytes = stored_bytes(&tx, document)?;
            let doc = automerge::Automerge::load(&bytes)
                .map_err(|e| StoreError::BadChange(e.to_string()))?;
            let projection = projection::project_all(&doc, kind);
            for table in ["records", "record_people", "record_media"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE document = ?1"),
                    [document.to_string()],
                )?;
            }
            project(&tx, document, &projection)?;
            tx.commit()?;
            Ok(projection.records.len())
        })
        .await
    }

    /// Compacts up to `limit` documents whose change log has grown past `threshold` rows;
    /// returns how many it compacted. Each is compacted on the storage thread in a
    /// transaction of its own, so writes wait for one document at most.
    pub async fn compact_logs(&self, threshold: usize, limit: usize) -> Result<usize> {
        let due: Vec<String> = self
            .call(move |connection| {
                let mut statement = connection.prepare(
                    "SELECT document FROM changes GROUP BY document HAVING COUNT(*) > ?1 LIMIT ?2",
                )?;
                let rows = statement.query_map(
                    params![
                        i64::try_from(threshold).unwrap_or(i64::MAX),
                        i64::try_from(limit).unwrap_or(i64::MAX)
                    ],
                    |row| row.get(0),
                )?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await?;
        for document in &due {
            let id: DocumentId = parse(document, "logged document")?;
            self.call(move |connection| compact(connection, id)).await?;
        }
        Ok(due.len())
    }

    /// Compacts change logs every `every`, until the store stops.
    pub async fn keep_compacting(self, every: std::time::Duration) {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match self.compact_logs(COMPACT_AFTER, 64).await {
                Ok(0) => {}
                Ok(count) => tracing::debug!(count, "compacted change logs"),
                Err(StoreError::Stopped) => return,
                Err(error) => tracing::warn!(%error, "cannot compact change logs"),
            }
        }
    }

    /// The storage id this database goes by in the sync protocol, made once when the database
    /// is new. Peers key their sync states by it: a server whose data is replaced (restored,
    /// or started afresh) gets a new id, so no peer trusts a sync state made with the old
    /// data.
    pub async fn storage_id(&self) -> Result<StorageId> {
        let fresh = StorageId::generate()?;
        self.call(|connection| {
            connection.execute(
                "INSERT OR IGNORE INTO settings (name, value) VALUES ('storage_id', ?1)",
                [fresh.0],
            )?;
            Ok(StorageId(connection.query_row(
                "SELECT value FROM settings WHERE name = 'storage_id'",
                [],
                |row| row.get(0),
            )?))
        })
        .await
    }

    /// Every actor binding, for the directory.
    pub async fn actor_bindings(&self) -> Result<Vec<(ActorId, UserId)>> {
        self.call(|connection| {
            let mut statement = connection.prepare("SELECT actor, user FROM actors")?;
            let rows = statement.query_map([], |row| {
                Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, String>(1)?))
            })?;
            let mut bindings = Vec::new();
            for row in rows {
                let (actor, user) = row?;
                bindings.push((ActorId::from(actor), parse(&user, "actor's user")?));
            }
            Ok(bindings)
        })
        .await
    }

    /// The people created after row `since`, as principals, and the last row read.
    pub async fn people_since(&self, since: i64) -> Result<(Vec<Principal>, i64)> {
        self.call(move |connection| {
            let mut statement = connection.prepare(
                "SELECT rowid, id, role, branch, township FROM users WHERE rowid > ?1 ORDER BY rowid",
            )?;
            let rows = statement.query_map([since], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, String>(4)?,
                ))
            })?;
            let mut people = Vec::new();
            let mut last = since;
            for row in rows {
                let (rowid, id, role, branch, township) = row?;
                people.push(Principal {
                    user: parse(&id, "user id")?,
                    role: client_core::Role::parse(&role)
                        .ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
                    branch: branch.map(|b| parse(&b, "user branch")).transpose()?,
                    township: Some(parse(&township, "user township")?),
                });
                last = rowid;
            }
            Ok((people, last))
        })
        .await
    }

    /// Records something for the audit log.
    pub async fn audit(&self, event: AuditEvent) -> Result<()> {
        self.call(move |connection| {
            connection.execute(
                "INSERT INTO audit (at, event, user, document, rule, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    event.at.0,
                    event.event,
                    event.user.map(|u| u.to_string()),
                    event.document.map(|d| d.to_string()),
                    event.rule,
                    event.detail
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// The audit log from `since` on, oldest first.
    pub async fn audit_since(&self, since: Millis) -> Result<Vec<AuditEvent>> {
        self.call(move |connection| {
            let mut statement = connection.prepare(
                "SELECT at, event, user, document, rule, detail FROM audit WHERE at >= ?1 ORDER BY id",
            )?;
            let rows = statement.query_map([since.0], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, String>(5)?,
                ))
            })?;
            let mut events = Vec::new();
            for row in rows {
                let (at, event, user, document, rule, detail) = row?;
                events.push(AuditEvent {
                    at: Millis(at),
                    event,
                    user: user.map(|u| parse(&u, "audited user")).transpose()?,
                    document: document.map(|d| parse(&d, "audited document")).transpose()?,
                    rule,
                    detail,
                });
            }
            Ok(events)
        })
        .await
    }

    pub async fn save_sync_state(
        &self,
        storage: StorageId,
        document: DocumentId,
        bytes: Vec<u8>,
    ) -> Result<()> {
        self.write(move |connection| {
            connection.execute(
                "INSERT INTO sync_states (storage_id, document, bytes) VALUES (?1, ?2, ?3)
                 ON CONFLICT (storage_id, document) DO UPDATE SET bytes = excluded.bytes",
                params![storage.0, document.to_string(), bytes],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn load_sync_state(
        &self,
        storage: StorageId,
        document: DocumentId,
    ) -> Result<Option<Vec<u8>>> {
        self.call(move |connection| {
            Ok(connection
                .query_row(
                    "SELECT bytes FROM sync_states WHERE storage_id = ?1 AND document = ?2",
                    params![storage.0, document.to_string()],
                    |row| row.get(0),
                )
                .optional()?)
        })
        .await
    }

    /// Every document and its scope: what the server consults to decide who may read what.
    pub async fn catalogue(&self) -> Result<Vec<(DocumentId, Scope)>> {
        Ok(self.catalogue_since(0).await?.0)
    }

    /// The documents created after row `since`, and the last row read: lets a running server
    /// learn of documents an administrator created from the command line.
    pub async fn catalogue_since(&self, since: i64) -> Result<(Vec<(DocumentId, Scope)>, i64)> {
        self.call(move |connection| {
            let mut statement = connection.prepare(
                "SELECT rowid, id, kind, branch, township, owner FROM documents WHERE rowid > ?1 ORDER BY rowid",
            )?;
            let rows = statement.query_map([since], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, Option<String>>(5)?,
                ))
            })?;
            let mut catalogue = Vec::new();
            let mut last = since;
            for row in rows {
                let (rowid, id, kind, branch, township, owner) = row?;
                catalogue.push(read_scope(&id, &kind, &branch, &township, owner.as_deref())?);
                last = rowid;
            }
            Ok((catalogue, last))
        })
        .await
    }
}

/// New changes to one document, stored together with what they imply.
#[derive(Debug, Clone)]
pub struct Write {
    pub document: DocumentId,
    /// Raw Automerge changes.
    pub changes: Vec<Vec<u8>>,
    /// Actors written with for the first time, and whom they write for.
    pub actors: Vec<(ActorId, UserId)>,
    /// The rows of the records the changes touched.
    pub projection: Projection,
    pub at: Millis,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: Millis,
    /// What happened: `refusal`, and in time logins, reviews, revocations.
    pub event: String,
    pub user: Option<UserId>,
    pub document: Option<DocumentId>,
    /// For refusals, the rule that refused.
    pub rule: Option<String>,
    pub detail: String,
}

/// A branch and the documents the server made for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchRecord {
    pub id: BranchId,
    pub township: TownshipId,
    pub name: String,
    pub branch_document: DocumentId,
    pub ledger_document: DocumentId,
    pub supervision_document: DocumentId,
}

/// A person with an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    pub name: String,
    pub role: client_core::Role,
    pub branch: Option<BranchId>,
    pub township: TownshipId,
    pub notebook_document: Option<DocumentId>,
}

fn parse<T: std::str::FromStr>(text: &str, what: &str) -> Result<T> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what}: {text:?}")))
}

impl Store {
    pub async fn create_township(&self, id: TownshipId, name: String) -> Result<()> {
        self.call(move |connection| {
            connection.execute(
                "INSERT INTO townships (id, name) VALUES (?1, ?2)",
                params![id.to_string(), name],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn township_named(&self, name: String) -> Result<Option<TownshipId>> {
        self.call(move |connection| {
            let id: Option<String> = connection
                .query_row("SELECT id FROM townships WHERE name = ?1", [name], |row| {
                    row.get(0)
                })
                .optional()?;
            id.map(|id| parse(&id, "township id")).transpose()
        })
        .await
    }

    pub async fn create_branch(&self, branch: BranchRecord) -> Result<()> {
        self.call(move |connection| {
            connection.execute(
                "INSERT INTO branches (id, township, name, branch_document, ledger_document, supervision_document)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    branch.id.to_string(),
                    branch.township.to_string(),
                    branch.name,
                    branch.branch_document.to_string(),
                    branch.ledger_document.to_string(),
                    branch.supervision_document.to_string()
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn branch(&self, id: BranchId) -> Result<Option<BranchRecord>> {
        self.call(move |connection| {
            let row: Option<[String; 5]> = connection
                .query_row(
                    "SELECT township, name, branch_document, ledger_document, supervision_document
                     FROM branches WHERE id = ?1",
                    [id.to_string()],
                    |row| {
                        Ok([
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                        ])
                    },
                )
                .optional()?;
            let Some(
                [
                    township,
                    name,
                    branch_document,
                    ledger_document,
                    supervision_document,
                ],
            ) = row
            else {
                return Ok(None);
            };
            Ok(Some(BranchRecord {
                id,
                township: parse(&township, "branch township")?,
                name,
                branch_document: parse(&branch_document, "branch document")?,
                ledger_document: parse(&ledger_document, "ledger document")?,
                supervision_document: parse(&supervision_document, "supervision document")?,
            }))
        })
        .await
    }

    pub async fn create_user(&self, user: UserRecord) -> Result<()> {
        self.call(move |connection| {
            connection.execute(
                "INSERT INTO users (id, name, role, branch, township, notebook_document)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    user.id.to_string(),
                    user.name,
                    user.role.as_str(),
                    user.branch.map(|b| b.to_string()),
                    user.township.to_string(),
                    user.notebook_document.map(|d| d.to_string())
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn user(&self, id: UserId) -> Result<Option<UserRecord>> {
        self.call(move |connection| {
            type Row = (String, String, Option<String>, String, Option<String>);
            let row: Option<Row> = connection
                .query_row(
                    "SELECT name, role, branch, township, notebook_document FROM users WHERE id = ?1",
                    [id.to_string()],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)),
                )
                .optional()?;
            let Some((name, role, branch, township, notebook)) = row else {
                return Ok(None);
            };
            Ok(Some(UserRecord {
                id,
                name,
                role: client_core::Role::parse(&role)
                    .ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
                branch: branch.map(|b| parse(&b, "user branch")).transpose()?,
                township: parse(&township, "user township")?,
                notebook_document: notebook.map(|d| parse(&d, "notebook")).transpose()?,
            }))
        })
        .await
    }
}

fn read_scope(
    id: &str,
    kind: &str,
    branch: &str,
    township: &str,
    owner: Option<&str>,
) -> Result<(DocumentId, Scope)> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("{what} of document {id}"));
    let scope = Scope {
        kind: DocKind::parse(kind).ok_or_else(|| corrupt("kind"))?,
        branch: branch.parse::<BranchId>().map_err(|_| corrupt("branch"))?,
        township: township
            .parse::<TownshipId>()
            .map_err(|_| corrupt("township"))?,
        owner: owner
            .map(|o| o.parse::<UserId>())
            .transpose()
            .map_err(|_| corrupt("owner"))?,
    };
    Ok((id.parse().map_err(|_| corrupt("id"))?, scope))
}

/// The changes a saved document holds, with their hashes, and the actors that wrote them.
type Changes = Vec<(automerge::ChangeHash, Vec<u8>)>;
fn changes_of(doc: &automerge::Automerge) -> (Changes, Vec<ActorId>) {
    let changes = doc.get_changes(&[]);
    let mut actors: Vec<ActorId> = changes.iter().map(|c| c.actor_id().clone()).collect();
    actors.sort();
    actors.dedup();
    let changes = changes
        .into_iter()
        .map(|change| (change.hash(), change.raw_bytes().to_vec()))
        .collect();
    (changes, actors)
}

/// A document as stored: its snapshot, if compacted, then every change logged since, in the
/// order stored. Automerge loads the concatenation as one document.
fn stored_bytes(connection: &Connection, id: DocumentId) -> Result<Vec<u8>> {
    let mut bytes: Vec<u8> = connection
        .query_row(
            "SELECT bytes FROM snapshots WHERE document = ?1",
            [id.to_string()],
            |row| row.get(0),
        )
        .optional()?
        .unwrap_or_default();
    let mut statement =
        connection.prepare_cached("SELECT bytes FROM changes WHERE document = ?1 ORDER BY seq")?;
    let mut rows = statement.query([id.to_string()])?;
    while let Some(row) = rows.next()? {
        let change: Vec<u8> = row.get(0)?;
        bytes.extend_from_slice(&change);
    }
    Ok(bytes)
}

/// Folds a document's change log into its snapshot, in one transaction: the snapshot holds
/// every change the log held, so nothing is lost if it stops half-way.
fn compact(connection: &mut Connection, id: DocumentId) -> Result<()> {
    let tx = connection.transaction()?;
    let through: Option<i64> = tx.query_row(
        "SELECT MAX(seq) FROM changes WHERE document = ?1",
        [id.to_string()],
        |row| row.get(0),
    )?;
    let Some(through) = through else {
        return Ok(());
    };
    let doc = automerge::Automerge::load(&stored_bytes(&tx, id)?)
        .map_err(|e| StoreError::Corrupt(format!("document {id} does not load: {e}")))?;
    tx.execute(
        "INSERT INTO snapshots (document, bytes, through_seq) VALUES (?1, ?2, ?3)
         ON CONFLICT (document) DO UPDATE SET bytes = excluded.bytes, through_seq = excluded.through_seq",
        params![id.to_string(), doc.save(), through],
    )?;
    tx.execute(
        "DELETE FROM changes WHERE document = ?1 AND seq <= ?2",
        params![id.to_string(), through],
    )?;
    tx.commit()?;
    Ok(())
}

/// Replaces the rows of the records `projection` touched.
fn project(tx: &Connection, document: DocumentId, projection: &Projection) -> Result<()> {
    let id = document.to_string();
    for table in ["records", "record_people", "record_media"] {
        let mut clear = tx.prepare_cached(&format!(
            "DELETE FROM {table} WHERE document = ?1 AND collection = ?2 AND key = ?3"
        ))?;
        for (collection, key) in &projection.touched {
            clear.execute(params![id, collection, key])?;
        }
    }
    let mut record = tx.prepare_cached(
        "INSERT INTO records (document, collection, key, branch, owner, occurred_at, status, revision, subject)
         SELECT ?1, ?2, ?3, branch, ?4, ?5, ?6, ?7, ?8 FROM documents WHERE id = ?1",
    )?;
    for row in &projection.records {
        record.execute(params![
            id,
            row.collection,
            row.key,
            row.owner,
            row.occurred_at,
            row.status,
            row.revision,
            row.subject
        ])?;
    }
    let mut person = tx.prepare_cached(
        "INSERT OR IGNORE INTO record_people (document, collection, key, field, person)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for row in &projection.people {
        person.execute(params![id, row.collection, row.key, row.field, row.person])?;
    }
    let mut media = tx.prepare_cached(
        "INSERT OR IGNORE INTO record_media (document, collection, key, field, sha256, media_type, size)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for row in &projection.media {
        media.execute(params![
            id,
            row.collection,
            row.key,
            row.field,
            row.sha256,
            row.media_type,
            row.size
        ])?;
    }
    Ok(())
}

fn bind_actors(tx: &Connection, actors: &[(ActorId, UserId)], at: Millis) -> Result<()> {
    let mut statement = tx.prepare_cached(
        "INSERT OR IGNORE INTO actors (actor, user, bound_at) VALUES (?1, ?2, ?3)",
    )?;
    for (actor, user) in actors {
        statement.execute(params![actor.to_bytes(), user.to_string(), at.0])?;
    }
    Ok(())
}

fn append(
    tx: &Connection,
    id: DocumentId,
    changes: &[(automerge::ChangeHash, Vec<u8>)],
) -> Result<()> {
    let mut statement = tx.prepare_cached(
        "INSERT OR IGNORE INTO changes (document, hash, bytes) VALUES (?1, ?2, ?3)",
    )?;
    for (hash, bytes) in changes {
        statement.execute(params![id.to_string(), hash.as_ref(), bytes])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use automerge::ReadDoc;
    use automerge::transaction::Transactable;
    use client_core::{Document, Millis};

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
        let changes: Vec<Vec<u8>> = replica
            .get_changes(&before)
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        let write = |changes| Write {
            document: id,
            changes,
            actors: vec![(replica.get_actor().clone(), UserId::SYSTEM)],
            projection: Projection::default(),
            at: Millis(1_791_770_400_000),
        };
        store.append_changes(write(changes.clone())).await.unwrap();
        store.append_changes(write(changes)).await.unwrap();
        let bindings = store.actor_bindings().await.unwrap();
        assert!(bindings.contains(&(replica.get_actor().clone(), UserId::SYSTEM)));
        assert_eq!(bindings.len(), 2, "the creating actor and the replica's");
        assert!(matches!(
            store.append_changes(write(vec![vec![1, 2, 3]])).await,
            Err(StoreError::BadChange(_))
        ));

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

    #[tokio::test]
    async fn a_long_change_log_is_folded_into_a_snapshot_that_loads_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("tianjian.sqlite3")).unwrap();
        let scope = scope();
        let id = DocumentId::generate().unwrap();
        let mut document = Document::create(scope, Millis(1_791_770_400_000)).unwrap();
        store
            .create_document(id, scope, 1_791_770_400_000, document.save())
            .await
            .unwrap();
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
                changes: vec![replica.get_changes(&before)[0].raw_bytes().to_vec()],
                actors: Vec::new(),
                projection: Projection::default(),
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
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("tianjian.sqlite3")).unwrap();
        let scope = scope();
        let id = DocumentId::generate().unwrap();
        let mut document = Document::create(scope, Millis(1_791_770_400_000)).unwrap();
        store
            .create_document(id, scope, 1_791_770_400_000, document.save())
            .await
            .unwrap();
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
