//! A whole database copied into another, row for row, and the two compared: how a county
//! moves from SQLite to PostgreSQL (`tianjian migrate-storage`), and how PostgreSQL is
//! backed up into, and restored from, the same single-file backup as SQLite.

use std::collections::BTreeMap;

use client_core::{BranchId, Date, Period};
use sha2::{Digest, Sha256};

use super::sql::{Db, Dialect, Value};
use super::statistics::{Count, Scope};
use super::tables::TABLES;
use super::{Database, Result, Store, StoreError, writer};

/// Rows inserted by one statement: few enough for either database's limit on parameters.
const ROWS_PER_INSERT: usize = 100;

/// What was copied: the rows of each table.
pub type Copied = BTreeMap<&'static str, u64>;

/// Copies every row of `from` into `to`, which must hold no documents yet (it is made, or
/// brought to the current schema, first), in one transaction: a copy cut short leaves `to`
/// as it was. `from` is read in one snapshot, so it may be in use meanwhile. Blocking: run
/// it on a thread of its own.
pub fn copy_database(from: &Database, to: &Database) -> Result<Copied> {
    let source = writer(from)?;
    let target = writer(to)?;
    let documents: i64 =
        target.query_row("SELECT count(*) FROM documents", (), |row| row.get(0))?;
    if documents > 0 {
        return Err(StoreError::Migration(format!(
            "{to:?} already holds {documents} documents: copy only into an empty database"
        )));
    }
    // The copy is the same server to the phones: it has the storage id they know.
    super::documents::storage_id_of(&source)?;
    let read = source.snapshot()?;
    let write = target.transaction()?;
    // What the target wrote of itself on being made (a note to project afresh) is replaced
    // by the source's own settings, its storage id among them: phones know the server by it.
    write.execute("DELETE FROM settings", ())?;
    let mut copied = Copied::new();
    for &table in TABLES {
        copied.insert(table, copy_table(&read, &write, table)?);
    }
    if write.dialect() == Dialect::Postgres {
        // Numbers given with the rows: the next ones follow them.
        for (table, column) in [
            ("changes", "seq"),
            ("audit", "id"),
            ("documents", "rowid"),
            ("users", "rowid"),
        ] {
            write.execute_batch(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                               COALESCE(max({column}), 0) + 1, false) FROM {table}"
            ))?;
        }
    }
    write.commit()?;
    Ok(copied)
}

/// The order a table's rows are copied in, where it matters: rows numbered as they were
/// written keep their order.
fn order_of(table: &str) -> &'static str {
    match table {
        "documents" | "users" => " ORDER BY rowid",
        "changes" => " ORDER BY seq",
        "audit" => " ORDER BY id",
        _ => "",
    }
}

fn copy_table(from: &Db, to: &Db, table: &str) -> Result<u64> {
    let select = format!("SELECT * FROM {table}{}", order_of(table));
    let names = from.prepare(&select)?.column_names()?;
    // The stand-in for SQLite's row number is numbered afresh, in the order copied.
    let kept: Vec<usize> = (0..names.len()).filter(|&i| names[i] != "rowid").collect();
    let columns: Vec<String> = kept.iter().map(|&i| format!("\"{}\"", names[i])).collect();
    let overriding = match to.dialect() {
        Dialect::Postgres => " OVERRIDING SYSTEM VALUE",
        Dialect::Sqlite => "",
    };
    let insert = |rows: usize| {
        let width = columns.len();
        let tuples: Vec<String> = (0..rows)
            .map(|row| {
                let places: Vec<String> = (1..=width)
                    .map(|i| format!("?{}", row * width + i))
                    .collect();
                format!("({})", places.join(", "))
            })
            .collect();
        format!(
            "INSERT INTO {table} ({}){overriding} VALUES {}",
            columns.join(", "),
            tuples.join(", ")
        )
    };
    let mut batch: Vec<Value<'static>> = Vec::new();
    let mut count = 0u64;
    from.each(&select, (), |row| {
        for &i in &kept {
            batch.push(row.get::<_, Value<'static>>(i)?);
        }
        count += 1;
        if batch.len() == ROWS_PER_INSERT * kept.len() {
            to.execute(&insert(ROWS_PER_INSERT), std::mem::take(&mut batch))?;
        }
        Ok(())
    })?;
    if !batch.is_empty() {
        to.execute(&insert(batch.len() / kept.len()), batch)?;
    }
    Ok(count)
}

/// Where `a` and `b` differ, in words: empty if every table holds the same rows, every
/// document has the same heads, and every figure of every branch, year by year, is the same.
pub async fn differences(a: &Store, b: &Store) -> Result<Vec<String>> {
    let mut differences = Vec::new();
    for &table in TABLES {
        let (in_a, in_b) = (a.table_digest(table).await?, b.table_digest(table).await?);
        if in_a != in_b {
            differences.push(format!(
                "table {table}: {} rows against {}, not the same",
                in_a.len(),
                in_b.len()
            ));
        }
    }
    let catalogue = a.catalogue().await?;
    let mut branches: Vec<BranchId> = Vec::new();
    for (document, scope) in &catalogue {
        if !branches.contains(&scope.branch) {
            branches.push(scope.branch);
        }
        let heads = |bytes: Option<Vec<u8>>| -> Result<Option<Vec<automerge::ChangeHash>>> {
            bytes
                .map(|bytes| {
                    automerge::Automerge::load(&bytes)
                        .map(|doc| doc.get_heads())
                        .map_err(|e| StoreError::Corrupt(format!("{document}: {e}")))
                })
                .transpose()
        };
        let (in_a, in_b) = (
            heads(a.load_document(*document).await?)?,
            heads(b.load_document(*document).await?)?,
        );
        if in_a != in_b {
            differences.push(format!("document {document}: different heads"));
        }
    }
    let today: Date = crate::now().cst_date();
    for year in 2020..=today.year {
        let count = || Count {
            scope: Scope {
                branches: branches.clone(),
            },
            period: Period::Year(year).range(),
            today,
        };
        if a.figures(count()).await? != b.figures(count()).await? {
            differences.push(format!("the figures of {year}"));
        }
    }
    Ok(differences)
}

impl Store {
    /// A digest of each row of `table` (its stand-in row numbers left out), sorted: two
    /// tables with the same digests hold the same rows.
    pub async fn table_digest(&self, table: &'static str) -> Result<Vec<[u8; 32]>> {
        self.read(move |connection| {
            let select = format!("SELECT * FROM {table}");
            let names = connection.prepare(&select)?.column_names()?;
            let mut digests = Vec::new();
            connection.each(&select, (), |row| {
                let mut hasher = Sha256::new();
                for (i, name) in names.iter().enumerate() {
                    if name == "rowid" {
                        continue;
                    }
                    match row.get::<_, Value<'static>>(i)? {
                        Value::Null => hasher.update([0]),
                        Value::Int(n) => {
                            hasher.update([1]);
                            hasher.update(n.to_be_bytes());
                        }
                        Value::Real(n) => {
                            hasher.update([2]);
                            hasher.update(n.to_bits().to_be_bytes());
                        }
                        Value::Text(text) => {
                            hasher.update([3]);
                            hasher.update((text.len() as u64).to_be_bytes());
                            hasher.update(text.as_bytes());
                        }
                        Value::Bytes(bytes) => {
                            hasher.update([4]);
                            hasher.update((bytes.len() as u64).to_be_bytes());
                            hasher.update(&bytes);
                        }
                    }
                }
                digests.push(hasher.finalize().into());
                Ok(())
            })?;
            digests.sort_unstable();
            Ok(digests)
        })
        .await
    }
}
