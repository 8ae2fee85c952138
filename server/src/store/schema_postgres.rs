//! The schema on PostgreSQL: SQLite's migrations, numbered the same, read in PostgreSQL's
//! types, and recorded in a `schema_version` table (PostgreSQL has no `user_version`).
//! Nodes that start together migrate one at a time, under an advisory lock.

use super::schema::{LATEST, MIGRATIONS, REPROJECTING, SQLITE_ONLY};
use super::sql::Db;
use super::{Result, StoreError};

/// What PostgreSQL needs beside a migration: the stand-ins for SQLite's hidden row numbers,
/// which the catalogue and the directory read to learn what is new since they last looked.
fn beside(version: usize) -> &'static str {
    match version {
        1 => {
            "ALTER TABLE documents ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE;
             ALTER TABLE users ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE;"
        }
        _ => "",
    }
}

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
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found) {
        if SQLITE_ONLY.contains(&(index + 1)) {
            continue;
        }
        tx.execute_batch(&in_postgres_types(sql))?;
        tx.execute_batch(beside(index + 1))?;
    }
    // As on SQLite, a migration that adds to the projections leaves a note that every
    // document is to be projected afresh (a new database has none).
    if found > 0 && REPROJECTING.iter().any(|&version| version > found) {
        tx.execute(
            "INSERT INTO settings (name, value) VALUES ('reproject', 'asked')
             ON CONFLICT (name) DO NOTHING",
            (),
        )?;
    }
    if found != LATEST {
        tx.execute("DELETE FROM schema_version", ())?;
        tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [LATEST])?;
    }
    tx.commit()
}

/// A migration written for SQLite in PostgreSQL's types: SQLite's integers and reals are
/// 64-bit, its blobs are `bytea`, its row numbers identity columns, and `STRICT` is its
/// alone; `user` and `offset`, reserved words in PostgreSQL, are quoted. Every text column
/// compares and sorts by its bytes, as SQLite's do, whatever locale the database was made
/// with: a ledger lists its rows in the same order on either database.
fn in_postgres_types(ddl: &str) -> String {
    let typed = ddl
        .replace(
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        )
        .replace(" TEXT", " TEXT COLLATE \"C\"")
        .replace(" INTEGER", " BIGINT")
        .replace(" REAL", " DOUBLE PRECISION")
        .replace(" BLOB", " BYTEA")
        .replace(") STRICT;", ");");
    quote_words(&typed, &["user", "offset"])
}

/// `ddl` with each of `words`, where it stands alone, in double quotes.
fn quote_words(ddl: &str, words: &[&str]) -> String {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '"';
    let mut out = String::with_capacity(ddl.len());
    let mut rest = ddl;
    'scan: while !rest.is_empty() {
        let before = out.chars().next_back();
        for word in words {
            if let Some(after) = rest.strip_prefix(word)
                && !before.is_some_and(is_name)
                && !after.chars().next().is_some_and(is_name)
            {
                out.push('"');
                out.push_str(word);
                out.push('"');
                rest = after;
                continue 'scan;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_ddl_reads_in_postgres_types() {
        assert_eq!(
            in_postgres_types(
                "CREATE TABLE t (\n    id INTEGER PRIMARY KEY AUTOINCREMENT,\n    user TEXT,\n    users_offset INTEGER, offset REAL, b BLOB\n) STRICT;\nCREATE INDEX t_by_user ON t(user);"
            ),
            "CREATE TABLE t (\n    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    \"user\" TEXT COLLATE \"C\",\n    users_offset BIGINT, \"offset\" DOUBLE PRECISION, b BYTEA\n);\nCREATE INDEX t_by_user ON t(\"user\");"
        );
    }
}
