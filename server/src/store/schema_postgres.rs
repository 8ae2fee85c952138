//! The schema on PostgreSQL: the same tables as SQLite's at the same version numbers, with
//! PostgreSQL's types, recorded in a `schema_version` table (PostgreSQL has no
//! `user_version`).
//!
//! PostgreSQL support began at schema 6, so a new database is made at 6 in one step; every
//! later change to the schema is a migration numbered the same on both databases. Nodes that
//! start together migrate one at a time, under an advisory lock.

use super::sql::Db;
use super::{Result, StoreError};

/// The schema this binary writes, on either database.
use super::schema::LATEST;

/// The number PostgreSQL's first schema has: SQLite's schema at the time, made whole.
const FIRST: usize = 6;

/// Every migration after [`FIRST`], oldest first: the `n`th brings a database to `FIRST + n`.
/// They are SQLite's own, read in PostgreSQL's types by [`in_postgres_types`].
const LATER: [&str; LATEST - FIRST] = [super::schema::V7_DOCUMENT_VERSIONS];

/// Brings the database to [`LATEST`]; refuses one newer than this binary.
pub(super) fn migrate(db: &Db) -> Result<()> {
    let tx = db.transaction()?;
    // Any key will do, as long as it is always the same one: it is this schema's lock.
    tx.execute_batch(
        "SELECT pg_advisory_xact_lock(7311);
         CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);",
    )?;
    let found: Option<i64> = tx
        .prepare("SELECT max(version) FROM schema_version")?
        .query_row((), |row| row.get(0))?;
    let found = found.map_or(0, |v| usize::try_from(v).unwrap_or(usize::MAX));
    if found > LATEST {
        return Err(StoreError::TooNew {
            found,
            known: LATEST,
        });
    }
    if found == 0 {
        tx.execute_batch(&in_postgres_types(FIRST_SCHEMA))?;
    } else if found < FIRST {
        return Err(StoreError::Migration(format!(
            "schema {found} was never written on PostgreSQL"
        )));
    }
    for sql in LATER.iter().skip(found.saturating_sub(FIRST)) {
        tx.execute_batch(&in_postgres_types(sql))?;
    }
    if found != LATEST {
        tx.execute("DELETE FROM schema_version", ())?;
        tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [LATEST])?;
    }
    tx.commit()
}

/// A migration written for SQLite in PostgreSQL's types: SQLite's integers and reals are
/// 64-bit, its blobs are `bytea`, and `STRICT` is SQLite's alone. Every text column compares
/// and sorts by its bytes, as SQLite's do, whatever locale the database was made with: a
/// ledger lists its rows in the same order on either database.
fn in_postgres_types(ddl: &str) -> String {
    ddl.replace(" TEXT", " TEXT COLLATE \"C\"")
        .replace(" INTEGER", " BIGINT")
        .replace(" REAL", " DOUBLE PRECISION")
        .replace(" BLOB", " BYTEA")
        .replace(") STRICT;", ");")
}

/// Schema 6 whole. `rowid` on documents and users stands for SQLite's hidden row number,
/// which the catalogue and the directory read to learn what is new since they last looked.
const FIRST_SCHEMA: &str = r#"
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    branch TEXT NOT NULL,
    township TEXT NOT NULL,
    owner TEXT,
    created_at BIGINT NOT NULL,
    rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
);
CREATE TABLE changes (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document TEXT NOT NULL REFERENCES documents(id),
    hash BYTEA NOT NULL,
    bytes BYTEA NOT NULL,
    UNIQUE (document, hash)
);
CREATE INDEX changes_by_document ON changes(document, seq);
CREATE TABLE snapshots (
    document TEXT PRIMARY KEY REFERENCES documents(id),
    bytes BYTEA NOT NULL,
    through_seq BIGINT NOT NULL
);
CREATE TABLE townships (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE branches (
    id TEXT PRIMARY KEY,
    township TEXT NOT NULL REFERENCES townships(id),
    name TEXT NOT NULL,
    branch_document TEXT NOT NULL REFERENCES documents(id),
    ledger_document TEXT NOT NULL REFERENCES documents(id),
    supervision_document TEXT NOT NULL REFERENCES documents(id)
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    branch TEXT REFERENCES branches(id),
    township TEXT NOT NULL REFERENCES townships(id),
    notebook_document TEXT REFERENCES documents(id),
    phone TEXT UNIQUE,
    password_hash TEXT,
    revision BIGINT NOT NULL,
    rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
);
CREATE INDEX users_by_revision ON users(revision);
CREATE INDEX users_by_branch ON users(branch);
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    "user" TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    enrolled_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_because TEXT
);
CREATE INDEX devices_by_user ON devices("user");
CREATE TABLE refresh_tokens (
    hash BYTEA PRIMARY KEY,
    device TEXT NOT NULL REFERENCES devices(id),
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    replaced_by BYTEA
);
CREATE INDEX refresh_tokens_by_device ON refresh_tokens(device);
CREATE TABLE invites (
    hash BYTEA PRIMARY KEY,
    "user" TEXT NOT NULL REFERENCES users(id),
    issued_by TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    redeemed_at BIGINT,
    device TEXT
);
CREATE TABLE actors (
    actor BYTEA PRIMARY KEY,
    "user" TEXT NOT NULL,
    bound_at BIGINT NOT NULL,
    device TEXT
);
CREATE TABLE audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    event TEXT NOT NULL,
    "user" TEXT,
    device TEXT,
    branch TEXT,
    township TEXT,
    document TEXT,
    rule TEXT,
    address TEXT,
    detail TEXT NOT NULL,
    refused TEXT,
    repeats BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX audit_by_time ON audit(at);
CREATE INDEX audit_by_branch ON audit(branch, at);
CREATE INDEX audit_by_township ON audit(township, at);
CREATE INDEX audit_by_refused ON audit(refused) WHERE refused IS NOT NULL;
CREATE TABLE records (
    document TEXT NOT NULL REFERENCES documents(id),
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    branch TEXT NOT NULL,
    owner TEXT,
    occurred_at BIGINT,
    status TEXT NOT NULL,
    revision BIGINT,
    subject TEXT,
    subject_document TEXT,
    subject_collection TEXT,
    PRIMARY KEY (document, collection, key)
);
CREATE INDEX records_by_branch ON records(branch, collection, occurred_at);
CREATE INDEX records_by_collection ON records(collection, branch, occurred_at);
CREATE INDEX records_by_review_subject
    ON records(subject_document, subject, revision, occurred_at, key);
CREATE TABLE record_people (
    document TEXT NOT NULL,
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    field TEXT NOT NULL,
    person TEXT NOT NULL,
    PRIMARY KEY (document, collection, key, field, person)
);
CREATE INDEX record_people_by_person ON record_people(person);
CREATE TABLE record_media (
    document TEXT NOT NULL,
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    field TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    PRIMARY KEY (document, collection, key, field, sha256)
);
CREATE INDEX record_media_by_hash ON record_media(sha256);
CREATE TABLE record_values (
    document TEXT NOT NULL,
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    field TEXT NOT NULL,
    text TEXT,
    number DOUBLE PRECISION,
    PRIMARY KEY (document, collection, key, field)
);
CREATE INDEX record_values_by_plan ON record_values(text) WHERE field = 'plan';
CREATE INDEX record_values_by_held_at ON record_values(collection, number)
    WHERE field = 'held_at';
CREATE TABLE elections (
    id TEXT PRIMARY KEY,
    branch TEXT NOT NULL,
    document TEXT NOT NULL REFERENCES documents(id),
    election TEXT NOT NULL
);
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    media_type TEXT NOT NULL,
    stored_at BIGINT NOT NULL
);
CREATE TABLE blob_owners (
    sha256 TEXT NOT NULL REFERENCES blobs(sha256),
    "user" TEXT NOT NULL,
    PRIMARY KEY (sha256, "user")
);
CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    "user" TEXT NOT NULL,
    document TEXT NOT NULL,
    record TEXT,
    sha256 TEXT NOT NULL,
    declared_type TEXT NOT NULL,
    media_type TEXT,
    length BIGINT NOT NULL,
    "offset" BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX uploads_by_user ON uploads("user");
CREATE TABLE sync_states (
    storage_id TEXT NOT NULL,
    document TEXT NOT NULL REFERENCES documents(id),
    bytes BYTEA NOT NULL,
    PRIMARY KEY (storage_id, document)
);
CREATE TABLE sync_tickets (
    ticket BYTEA PRIMARY KEY,
    "user" TEXT NOT NULL,
    device TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sync_tickets_by_expiry ON sync_tickets(expires_at);
CREATE TABLE sign_in_failures (
    guesser TEXT PRIMARY KEY,
    started BIGINT NOT NULL,
    failures BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_by_start ON sign_in_failures(started);
CREATE TABLE leases (
    work TEXT PRIMARY KEY,
    node TEXT NOT NULL,
    until BIGINT NOT NULL
);
"#;
