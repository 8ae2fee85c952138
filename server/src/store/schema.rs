//! The database schema, as numbered migrations kept in the binary and recorded in SQLite's
//! `user_version`. `migrate` brings a database up to date when the store opens, after a
//! backup of it; it refuses a database newer than the binary, whose meaning it cannot know.
//!
//! A migration is never edited once released: a change to the schema is a new migration,
//! and a test opens a database made at the version before it.

use std::path::{Path, PathBuf};

use client_core::DocumentId;
use rusqlite::Connection;
use rusqlite_migration::{HookError, M, Migrations};

use super::StoreError;
use super::sql::{Db, OptionalExtension};

/// The schema this binary writes.
pub const LATEST: usize = 9;

/// Every migration's SQL, oldest first; the `n`th brings a database to version `n`. The same
/// on PostgreSQL, read in its types (`schema_postgres.rs`).
pub(super) const MIGRATIONS: [&str; LATEST] = [
    V1_FIRST_RELEASE,
    V2_STATISTICS,
    V3_COUNTED_APPROVALS,
    V4_REFUSALS_COUNTED,
    V5_ADMISSION_SHARED,
    V6_LEASES,
    V7_DOCUMENT_VERSIONS,
    V8_STANDINGS,
    V9_FIELDS_CLUSTERED,
];

/// The migrations after which every document is projected afresh (they add to the
/// projections); a new database has none to project.
pub(super) const REPROJECTING: [usize; 3] = [2, 3, 8];

/// The migrations that change only how SQLite lays out its tables: PostgreSQL records them
/// and has nothing to do.
pub(super) const SQLITE_ONLY: [usize; 1] = [9];

/// Every migration, as SQLite runs them.
fn migrations() -> Migrations<'static> {
    Migrations::new(
        MIGRATIONS
            .iter()
            .enumerate()
            .map(|(index, sql)| {
                if REPROJECTING.contains(&(index + 1)) {
                    M::up_with_hook(sql, ask_to_reproject)
                } else {
                    M::up(sql)
                }
            })
            .collect(),
    )
}

/// Brings the database at `path` (open as `connection`) to [`LATEST`], backing it up
/// beside it first if it has data at an older version.
pub(super) fn migrate(connection: &mut Connection, path: &Path) -> Result<(), StoreError> {
    adopt_unversioned(connection)?;
    let found = version(connection)?;
    if found > LATEST {
        return Err(StoreError::TooNew {
            found,
            known: LATEST,
        });
    }
    if found == LATEST {
        return Ok(());
    }
    if found > 0 {
        let copy = backup_path(path, found);
        crate::backup::copy_database(path, &copy)
            .map_err(|error| StoreError::Migration(format!("cannot back up first: {error}")))?;
        tracing::info!(from = found, to = LATEST, backup = %copy.display(), "migrating the database");
    }
    migrations()
        .to_latest(connection)
        .map_err(|error| StoreError::Migration(error.to_string()))
}

fn version(connection: &Connection) -> Result<usize, StoreError> {
    let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    Ok(usize::try_from(version).unwrap_or(usize::MAX))
}

/// A database with no version recorded (made before the schema had versions, or whose
/// version was lost) is recognised by what it holds (the first release had no
/// `record_values`, the second no index of when records were held, the third no index of
/// refused changes, the fourth no shared sync tickets, the fifth no leases, the sixth no document versions, the seventh no standings, the
/// eighth no record values in the order of their key) and given the
/// version it is at.
fn adopt_unversioned(connection: &Connection) -> Result<(), StoreError> {
    let has = |kind: &str, name: &str| -> Result<bool, StoreError> {
        Ok(connection.query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = ?1 AND name = ?2",
            [kind, name],
            |row| row.get(0),
        )?)
    };
    if version(connection)? != 0 || !has("table", "documents")? {
        return Ok(());
    }
    let clustered = connection.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'record_values'
           AND sql LIKE '%WITHOUT ROWID%'",
        [],
        |row| row.get::<_, bool>(0),
    )?;
    let at = if clustered {
        9
    } else if has("table", "standings")? {
        8
    } else if has("index", "changes_by_version")? {
        7
    } else if has("table", "leases")? {
        6
    } else if has("table", "sync_tickets")? {
        5
    } else if has("index", "audit_by_refused")? {
        4
    } else if has("index", "record_values_by_held_at")? {
        3
    } else if has("table", "record_values")? {
        2
    } else {
        1
    };
    connection.pragma_update(None, "user_version", at)?;
    Ok(())
}

/// Where the copy made before migrating from `version` goes: `backups/` beside the database.
fn backup_path(database: &Path, version: usize) -> PathBuf {
    let dir = database
        .parent()
        .map_or_else(|| PathBuf::from("backups"), |p| p.join("backups"));
    let _ = std::fs::create_dir_all(&dir);
    dir.join(format!(
        "before-schema-{}-from-{version}-{}.sqlite3",
        LATEST,
        crate::now().0
    ))
}

/// A migration that adds to the projections leaves a note, in its own transaction, that
/// every document is to be projected afresh; [`reproject_if_asked`] does so once the store
/// is open, and takes the note away in the transaction that does it. A crash in between
/// leaves the note, and the next start projects again.
fn ask_to_reproject(tx: &rusqlite::Transaction) -> Result<(), HookError> {
    tx.execute(
        "INSERT INTO settings (name, value) VALUES ('reproject', 'asked')
         ON CONFLICT (name) DO NOTHING",
        (),
    )?;
    Ok(())
}

/// Projects every document afresh if a migration asked for it.
pub(super) fn reproject_if_asked(db: &Db) -> Result<(), StoreError> {
    let asked = db
        .query_row(
            "SELECT 1 FROM settings WHERE name = 'reproject'",
            (),
            |row| row.get::<_, i64>(0),
        )
        .optional()?;
    if asked.is_none() {
        return Ok(());
    }
    let tx = db.transaction()?;
    let documents: Vec<String> = tx
        .prepare("SELECT id FROM documents")?
        .query_map((), |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    for id in documents {
        let document: DocumentId = id
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("document id {id}")))?;
        super::projections::reproject(&tx, document)?;
    }
    tx.execute("DELETE FROM settings WHERE name = 'reproject'", ())?;
    tx.commit()
}

/// The first release: documents and their change logs, people and devices, the audit log,
/// the projections, media and sync states.
const V1_FIRST_RELEASE: &str = "
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
-- `revision` grows with every change to a person (a new role, a move), so the directory of a
-- running server can read only what changed since it last looked.
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    branch TEXT REFERENCES branches(id),
    township TEXT NOT NULL REFERENCES townships(id),
    notebook_document TEXT REFERENCES documents(id),
    phone TEXT UNIQUE,
    password_hash TEXT,
    revision INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS users_by_revision ON users(revision);
CREATE INDEX IF NOT EXISTS users_by_branch ON users(branch);
-- Enrolled phones and browsers. A revoked device's tokens stop working at once.
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    enrolled_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    revoked_at INTEGER,
    revoked_because TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS devices_by_user ON devices(user);
-- Refresh tokens, by the SHA-256 of the token (the token itself is never stored). A token is
-- used once: `replaced_by` is the token issued for it.
CREATE TABLE IF NOT EXISTS refresh_tokens (
    hash BLOB PRIMARY KEY,
    device TEXT NOT NULL REFERENCES devices(id),
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    replaced_by BLOB
) STRICT;
CREATE INDEX IF NOT EXISTS refresh_tokens_by_device ON refresh_tokens(device);
-- One-time invite codes, by the SHA-256 of the code.
CREATE TABLE IF NOT EXISTS invites (
    hash BLOB PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(id),
    issued_by TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    redeemed_at INTEGER,
    device TEXT
) STRICT;
-- Which person each Automerge actor writes for: bound the first time a signed-in device
-- writes with it, and never rebound.
CREATE TABLE IF NOT EXISTS actors (
    actor BLOB PRIMARY KEY,
    user TEXT NOT NULL,
    bound_at INTEGER NOT NULL,
    -- The device that registered it, when it was registered rather than first written with.
    device TEXT
) STRICT;
-- Who did what: logins, enrolments, token refreshes, refusals, reviews, role changes,
-- revocations. `branch` and `township` say whose business it is, for admins reading it.
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    event TEXT NOT NULL,
    user TEXT,
    device TEXT,
    branch TEXT,
    township TEXT,
    document TEXT,
    rule TEXT,
    address TEXT,
    detail TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS audit_by_time ON audit(at);
CREATE INDEX IF NOT EXISTS audit_by_branch ON audit(branch, at);
CREATE INDEX IF NOT EXISTS audit_by_township ON audit(township, at);
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
-- Elections whole (JSON), for checking the ballots in members' notebooks: what a ballot is
-- checked against (candidates, window, choices) never changes once an election exists.
CREATE TABLE IF NOT EXISTS elections (
    id TEXT PRIMARY KEY,
    branch TEXT NOT NULL,
    document TEXT NOT NULL REFERENCES documents(id),
    election TEXT NOT NULL
) STRICT;
-- Media, content-addressed: one row (and one file) per SHA-256.
CREATE TABLE IF NOT EXISTS blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    stored_at INTEGER NOT NULL
) STRICT;
-- Who uploaded each blob: quotas count per person, and an uploader may fetch what he sent
-- before the record that references it reaches the server.
CREATE TABLE IF NOT EXISTS blob_owners (
    sha256 TEXT NOT NULL REFERENCES blobs(sha256),
    user TEXT NOT NULL,
    PRIMARY KEY (sha256, user)
) STRICT;
-- Resumable uploads (tus). `offset` counts the bytes on disk and flushed; bytes beyond it in
-- the partial file were never confirmed and are cut off before the upload goes on.
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    document TEXT NOT NULL,
    record TEXT,
    sha256 TEXT NOT NULL,
    declared_type TEXT NOT NULL,
    media_type TEXT,
    length INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    completed_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS uploads_by_user ON uploads(user);
CREATE TABLE IF NOT EXISTS sync_states (
    storage_id TEXT NOT NULL,
    document TEXT NOT NULL REFERENCES documents(id),
    bytes BLOB NOT NULL,
    PRIMARY KEY (storage_id, document)
) STRICT;
";

/// Statistics: reviews name their record by notebook and collection as well as id; every
/// scalar field of every record in `record_values`; indexes for the figures. The new columns
/// and table are filled by projecting every document again.
const V2_STATISTICS: &str = "
ALTER TABLE records ADD COLUMN subject_document TEXT;
ALTER TABLE records ADD COLUMN subject_collection TEXT;
DROP INDEX IF EXISTS records_by_subject;
CREATE INDEX records_by_collection ON records(collection, branch, occurred_at);
-- A record's reviews, latest first: what decides whether it is approved.
CREATE INDEX records_by_review_subject
    ON records(subject_document, subject, revision, occurred_at, key);
-- Each scalar field of each record, a row a field (a lecture's title, category, venue and
-- audience, a service's hours, the plan a record carries out), so that statistics and ledger
-- exports never load a document. Text, choices, people, months and days are `text`; numbers,
-- times (Automerge timestamps) and yes-or-no are `number`.
CREATE TABLE record_values (
    document TEXT NOT NULL,
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    field TEXT NOT NULL,
    text TEXT,
    number REAL,
    PRIMARY KEY (document, collection, key, field)
) STRICT;
-- The records that carry out a month's plan, for the plan standing of every branch.
CREATE INDEX record_values_by_plan ON record_values(text) WHERE field = 'plan';
";

/// Approvals count what they carry (`Counted`): a review's counted fields are projected as
/// its own, so every document is projected again, and figures find a period's approvals by
/// when their records were held.
const V3_COUNTED_APPROVALS: &str = "
-- The counted fields of approvals are rows of record_values and record_people, like any
-- record's fields. Figures start from when the approved records were held: a month reads
-- a month's approvals.
CREATE INDEX record_values_by_held_at ON record_values(collection, number)
    WHERE field = 'held_at';
";

const V4_REFUSALS_COUNTED: &str = "
-- A refusal of changes names the first change it refused; the same changes offered again are
-- answered from memory and counted on that line (repeats), not written as new lines.
ALTER TABLE audit ADD COLUMN refused TEXT;
ALTER TABLE audit ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;
CREATE INDEX audit_by_refused ON audit(refused) WHERE refused IS NOT NULL;
";

const V5_ADMISSION_SHARED: &str = "
-- Single-use sync tickets and failed sign-ins, where every node sees them: a ticket issued
-- by one node opens a connection on another, and guessing is counted once.
CREATE TABLE sync_tickets (
    ticket BLOB PRIMARY KEY,
    user TEXT NOT NULL,
    device TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sync_tickets_by_expiry ON sync_tickets(expires_at);
CREATE TABLE sign_in_failures (
    guesser TEXT PRIMARY KEY,
    started INTEGER NOT NULL,
    failures INTEGER NOT NULL
) STRICT;
CREATE INDEX sign_in_failures_by_start ON sign_in_failures(started);
";

const V6_LEASES: &str = "
-- Work done by one node at a time, and until when the node holding it may do it.
CREATE TABLE leases (
    work TEXT PRIMARY KEY,
    node TEXT NOT NULL,
    until INTEGER NOT NULL
) STRICT;
";

/// Several nodes on one database: each document's version, bumped in the transaction of
/// every write to it, and the version each change was stored at, so that a node learns what
/// another wrote since the version it holds; a snapshot says the version it folded.
const V7_DOCUMENT_VERSIONS: &str = "
ALTER TABLE documents ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE snapshots ADD COLUMN through_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX changes_by_version ON changes(document, version);
";

/// The review that stands on each reviewed record, kept with the reviews (`standings.rs`):
/// figures count a period's approvals from it in one pass. Filled by projecting every
/// document again. Figures no longer search approvals by their `held_at` values.
const V8_STANDINGS: &str = "
-- The review that stands on each member's record an admin reviewed (the latest review of the
-- latest revision reviewed, by revision, time and review id, as on every device), written in
-- the transaction of the reviews and feed items it comes from: whether it approved, what an
-- approval counts (when the record was held, its title, choices, plan, audience and hours,
-- how many attended or took part, the speakers space-separated), whose record it is, and
-- whether it is published and a fine example.
CREATE TABLE standings (
    document TEXT NOT NULL,
    subject_document TEXT NOT NULL,
    subject_collection TEXT NOT NULL,
    subject TEXT NOT NULL,
    branch TEXT NOT NULL,
    review TEXT NOT NULL,
    revision INTEGER,
    decision TEXT NOT NULL,
    held_at INTEGER,
    owner TEXT,
    title TEXT,
    category TEXT,
    venue TEXT,
    plan TEXT,
    audience REAL,
    hours REAL,
    attendees INTEGER NOT NULL,
    participants INTEGER NOT NULL,
    speakers TEXT NOT NULL,
    published INTEGER NOT NULL,
    fine_example INTEGER NOT NULL,
    PRIMARY KEY (document, subject_document, subject_collection, subject)
) STRICT;
-- A period's approvals by branch and when they were held, with everything the figures and
-- the plan standing read of them, so that counting a year reads this index alone.
CREATE INDEX standings_approved ON standings(branch, held_at, subject_collection, owner,
    category, venue, plan, audience, attendees, participants, hours, speakers, title)
    WHERE decision = 'approved';
DROP INDEX record_values_by_held_at;
";

/// A record's values, people and media kept in the order of their key (`WITHOUT ROWID`), as
/// the rows of each are always read: all of one record at once. A ledger reads a year's
/// records' fields by one descent of one tree each, not the key's index and then the table
/// for every field; and a projection writes each row into one tree, not two. The rows are
/// copied as they are.
const V9_FIELDS_CLUSTERED: &str = "
CREATE TABLE record_values_by_key (
    document TEXT NOT NULL,
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    field TEXT NOT NULL,
    text TEXT,
    number REAL,
    PRIMARY KEY (document, collection, key, field)
) STRICT, WITHOUT ROWID;
INSERT INTO record_values_by_key SELECT document, collection, key, field, text, number
    FROM record_values;
DROP TABLE record_values;
ALTER TABLE record_values_by_key RENAME TO record_values;
CREATE INDEX record_values_by_plan ON record_values(text) WHERE field = 'plan';
CREATE TABLE record_people_by_key (
    document TEXT NOT NULL,
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    field TEXT NOT NULL,
    person TEXT NOT NULL,
    PRIMARY KEY (document, collection, key, field, person)
) STRICT, WITHOUT ROWID;
INSERT INTO record_people_by_key SELECT document, collection, key, field, person
    FROM record_people;
DROP TABLE record_people;
ALTER TABLE record_people_by_key RENAME TO record_people;
CREATE INDEX record_people_by_person ON record_people(person);
CREATE TABLE record_media_by_key (
    document TEXT NOT NULL,
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    field TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (document, collection, key, field, sha256)
) STRICT, WITHOUT ROWID;
INSERT INTO record_media_by_key SELECT document, collection, key, field, sha256, media_type, size
    FROM record_media;
DROP TABLE record_media;
ALTER TABLE record_media_by_key RENAME TO record_media;
CREATE INDEX record_media_by_hash ON record_media(sha256);
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_migrations_are_well_formed() {
        assert!(migrations().validate().is_ok());
    }
}
