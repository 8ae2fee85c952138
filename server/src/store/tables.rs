//! The store's tables whole, row by row, as plain values: for comparing two databases, and
//! for tests that a refusal changed nothing.

use super::sql::Value;
use super::{Result, Store, StoreError};

/// Every table the store keeps, parents before the tables that refer to them.
pub const TABLES: &[&str] = &[
    "settings",
    "documents",
    "changes",
    "snapshots",
    "townships",
    "branches",
    "users",
    "devices",
    "refresh_tokens",
    "invites",
    "actors",
    "audit",
    "records",
    "record_people",
    "record_media",
    "record_values",
    "standings",
    "elections",
    "blobs",
    "blob_owners",
    "uploads",
    "sync_states",
    "sync_tickets",
    "sign_in_failures",
    "leases",
];

impl Store {
    /// Every row of `table`, each as its columns' values, in no particular order. The
    /// stand-ins for SQLite's hidden row numbers (PostgreSQL's `rowid`) are left out, so
    /// a row reads the same from either database.
    pub async fn table_rows(&self, table: &str) -> Result<Vec<Vec<Value<'static>>>> {
        if !TABLES.contains(&table) {
            return Err(StoreError::Corrupt(format!("no table {table}")));
        }
        let sql = format!("SELECT * FROM {table}");
        self.read(move |connection| {
            let mut statement = connection.prepare(&sql)?;
            let columns: Vec<String> = statement.column_names()?;
            let mut rows = statement.query(())?;
            let mut read = Vec::new();
            while let Some(row) = rows.next()? {
                let mut values = Vec::with_capacity(columns.len());
                for (index, name) in columns.iter().enumerate() {
                    if name != "rowid" {
                        values.push(row.get::<_, Value<'static>>(index)?);
                    }
                }
                read.push(values);
            }
            Ok(read)
        })
        .await
    }
}
