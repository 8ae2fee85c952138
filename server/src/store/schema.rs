//! The database schema. Every table is created if missing, so a new database and an
//! existing one open the same way.

pub(super) const SCHEMA: &str = "
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
    -- The notebook and collection of the record `subject` names (reviews, feed items): ids
    -- are made on devices, so only all three are sure to name one record.
    subject_document TEXT,
    subject_collection TEXT,
    PRIMARY KEY (document, collection, key)
) STRICT;
CREATE INDEX IF NOT EXISTS records_by_branch ON records(branch, collection, occurred_at);
CREATE INDEX IF NOT EXISTS records_by_collection ON records(collection, branch, occurred_at);
-- A record's reviews, latest first: what decides whether it is approved.
CREATE INDEX IF NOT EXISTS records_by_review_subject
    ON records(subject_document, subject, revision, occurred_at, key);
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
-- Each scalar field of each record, a row a field (a lecture's title, category, venue and
-- audience, a service's hours, the plan a record carries out), so that statistics and ledger
-- exports never load a document. Text, choices, people, months and days are `text`; numbers,
-- times (Automerge timestamps) and yes-or-no are `number`.
CREATE TABLE IF NOT EXISTS record_values (
    document TEXT NOT NULL,
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    field TEXT NOT NULL,
    text TEXT,
    number REAL,
    PRIMARY KEY (document, collection, key, field)
) STRICT;
-- The records that carry out a month's plan, for the plan standing of every branch.
CREATE INDEX IF NOT EXISTS record_values_by_plan ON record_values(text) WHERE field = 'plan';
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

/// Columns added to a table after it was first created, which `CREATE TABLE IF NOT EXISTS`
/// leaves out of an older database: `(table, column, type)`. Rows projected before the column
/// existed get it filled by `tianjian rebuild-projections`.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("records", "subject_document", "TEXT"),
    ("records", "subject_collection", "TEXT"),
];

/// Adds the columns of `ADDED_COLUMNS` that an older database lacks. It runs before `SCHEMA`,
/// whose indexes may name the new columns; a table not there yet is left to `SCHEMA`.
pub(super) fn add_missing_columns(connection: &rusqlite::Connection) -> rusqlite::Result<()> {
    for (table, column, kind) in ADDED_COLUMNS {
        let (exists, present): (bool, bool) = connection.query_row(
            &format!(
                "SELECT count(*) > 0, coalesce(sum(name = ?1), 0) > 0 FROM pragma_table_info('{table}')"
            ),
            [column],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        if exists && !present {
            connection.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
        }
    }
    Ok(())
}
