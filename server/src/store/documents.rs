//! Documents: the append-only change log, snapshots it is compacted into, the catalogue of
//! what each document is, actor bindings, per-peer sync states, and the database's own
//! storage id.

use automerge::ActorId;
use client_core::projection::{self, Projection};
use client_core::sync::message::StorageId;
use client_core::{BranchId, DocKind, DocumentId, Millis, Scope, TownshipId, UserId};

use super::projections::project;
use super::sql::{Db, OptionalExtension, Serial, params};
use super::{CHANGES_CHANNEL, COMPACT_AFTER, Result, Store, StoreError, Written, lease_for, parse};

impl Store {
    /// Stores a new document made by the server, with its first changes.
    pub async fn create_document(
        &self,
        id: DocumentId,
        scope: Scope,
        created_at: i64,
        bytes: Vec<u8>,
    ) -> Result<()> {
        let node = self.node.clone();
        self.call(move |connection| {
            let tx = connection.transaction()?;
            // The catalogue is read in the order documents were made: on several nodes, one
            // is made at a time, so none commits behind a row another node has read past.
            tx.serialize(Serial::Catalogue)?;
            let inserted = tx.execute(
                "INSERT INTO documents (id, kind, branch, township, owner, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT DO NOTHING",
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
            append(&tx, &node, id, &changes)?;
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

    /// What was stored of `document` after `version`, and the version it is at now: the
    /// changes stored since, or the whole document if some of them have since been folded
    /// into its snapshot. Either loads into a copy at `version` (Automerge skips what it
    /// has). `None` if there is no such document.
    pub async fn written_since(
        &self,
        document: DocumentId,
        version: i64,
    ) -> Result<Option<(Vec<u8>, i64)>> {
        self.call(move |connection| {
            let tx = connection.snapshot()?;
            let Some(now): Option<i64> = tx
                .query_row(
                    "SELECT version FROM documents WHERE id = ?1",
                    [document.to_string()],
                    |row| row.get(0),
                )
                .optional()?
            else {
                return Ok(None);
            };
            if now <= version {
                return Ok(Some((Vec::new(), now)));
            }
            let folded: i64 = tx
                .query_row(
                    "SELECT through_version FROM snapshots WHERE document = ?1",
                    [document.to_string()],
                    |row| row.get(0),
                )
                .optional()?
                .unwrap_or(0);
            if folded > version {
                return Ok(Some((stored_bytes(&tx, document)?, now)));
            }
            let mut bytes = Vec::new();
            let mut statement = tx.prepare(
                "SELECT bytes FROM changes WHERE document = ?1 AND version > ?2 ORDER BY seq",
            )?;
            let mut rows = statement.query(params![document.to_string(), version])?;
            while let Some(row) = rows.next()? {
                bytes.extend_from_slice(&row.get::<_, Vec<u8>>(0)?);
            }
            Ok(Some((bytes, now)))
        })
        .await
    }

    /// The version each of `documents` is at now (those that exist).
    pub async fn versions(&self, documents: Vec<DocumentId>) -> Result<Vec<(DocumentId, i64)>> {
        self.call(move |connection| {
            let ids: Vec<String> = documents.iter().map(ToString::to_string).collect();
            let ids = serde_json::Value::from(ids).to_string();
            let mut statement = connection.prepare(
                "SELECT id, version FROM documents WHERE id IN (SELECT value FROM json_each(?1))",
            )?;
            let rows = statement.query_map([ids], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })?;
            let mut versions = Vec::new();
            for row in rows {
                let (id, version) = row?;
                versions.push((parse(&id, "versioned document")?, version));
            }
            Ok(versions)
        })
        .await
    }

    /// Appends changes to a document's log, with the bindings of the actors that wrote them,
    /// in one transaction; returns once they are durable.
    pub async fn append_changes(&self, write: Write) -> Result<()> {
        let node = self.node.clone();
        self.write(move |connection| {
            append(connection, &node, write.document, &write.changes)?;
            bind_actors(connection, &write.actors, write.at)?;
            for event in &write.audit {
                super::audit::insert(connection, event)?;
            }
            project(connection, write.document, &write.projection)
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
                rows.collect::<Result<_, _>>()
            })
            .await?;
        for document in &due {
            let id: DocumentId = parse(document, "logged document")?;
            self.call(move |connection| compact(connection, id)).await?;
        }
        Ok(due.len())
    }

    /// Compacts change logs every `every`, until the store stops.
    pub async fn keep_compacting(self, every: std::time::Duration, node: String) {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            // One node at a time folds the logs; the others would only race it.
            match self
                .hold_lease("compaction", node.clone(), crate::now(), lease_for(every))
                .await
            {
                Ok(true) => {}
                Ok(false) => continue,
                Err(StoreError::Stopped) => return,
                Err(error) => {
                    tracing::warn!(%error, "cannot take the compaction lease");
                    continue;
                }
            }
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
        self.call(|connection| storage_id_of(connection)).await
    }

    /// Proves the database takes writes: a write through the storage thread, committed.
    pub async fn check_writable(&self, now: Millis) -> Result<()> {
        self.call(move |connection| {
            connection.execute(
                "INSERT INTO settings (name, value) VALUES ('written_at', ?1)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [now.0.to_string()],
            )?;
            Ok(())
        })
        .await
    }

    /// Every actor binding, for the directory.
    pub async fn actor_bindings(&self) -> Result<Vec<(ActorId, UserId)>> {
        self.call(|connection| {
            let mut statement = connection.prepare("SELECT actor, \"user\" FROM actors")?;
            let rows = statement.query_map((), |row| {
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
            connection
                .query_row(
                    "SELECT bytes FROM sync_states WHERE storage_id = ?1 AND document = ?2",
                    params![storage.0, document.to_string()],
                    |row| row.get(0),
                )
                .optional()
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
    pub changes: Vec<automerge::Change>,
    /// Actors written with for the first time, and whom they write for.
    pub actors: Vec<(ActorId, UserId)>,
    /// The rows of the records the changes touched.
    pub projection: Projection,
    /// What the changes did that the audit log keeps (reviews), kept with them.
    pub audit: Vec<super::AuditEvent>,
    pub at: Millis,
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

/// The changes a saved document holds, and the actors that wrote them.
fn changes_of(doc: &automerge::Automerge) -> (Vec<automerge::Change>, Vec<ActorId>) {
    let changes = doc.get_changes(&[]);
    let mut actors: Vec<ActorId> = changes.iter().map(|c| c.actor_id().clone()).collect();
    actors.sort();
    actors.dedup();
    (changes, actors)
}

/// The storage id peers know this database by, made the first time it is asked for.
pub(super) fn storage_id_of(connection: &Db) -> Result<StorageId> {
    let fresh = StorageId::generate()?;
    connection.execute(
        "INSERT INTO settings (name, value) VALUES ('storage_id', ?1) ON CONFLICT DO NOTHING",
        [fresh.0],
    )?;
    Ok(StorageId(connection.query_row(
        "SELECT value FROM settings WHERE name = 'storage_id'",
        (),
        |row| row.get(0),
    )?))
}

/// A document as stored: its snapshot, if compacted, then every change logged since, in the
/// order stored. Automerge loads the concatenation as one document.
pub(super) fn stored_bytes(connection: &Db, id: DocumentId) -> Result<Vec<u8>> {
    let mut bytes: Vec<u8> = connection
        .query_row(
            "SELECT bytes FROM snapshots WHERE document = ?1",
            [id.to_string()],
            |row| row.get(0),
        )
        .optional()?
        .unwrap_or_default();
    let mut statement =
        connection.prepare("SELECT bytes FROM changes WHERE document = ?1 ORDER BY seq")?;
    let mut rows = statement.query([id.to_string()])?;
    while let Some(row) = rows.next()? {
        let change: Vec<u8> = row.get(0)?;
        bytes.extend_from_slice(&change);
    }
    Ok(bytes)
}

/// Folds a document's change log into its snapshot, in one transaction: the snapshot holds
/// every change the log held, so nothing is lost if it stops half-way.
fn compact(connection: &mut Db, id: DocumentId) -> Result<()> {
    let tx = connection.transaction()?;
    // Holds the document's row, as every write to it does: no change is stored beside the
    // fold, to be deleted with the rows it folded.
    let version: i64 = tx.query_row(
        "UPDATE documents SET version = version WHERE id = ?1 RETURNING version",
        [id.to_string()],
        |row| row.get(0),
    )?;
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
        "INSERT INTO snapshots (document, bytes, through_seq, through_version)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (document) DO UPDATE SET bytes = excluded.bytes,
             through_seq = excluded.through_seq, through_version = excluded.through_version",
        params![id.to_string(), doc.save(), through, version],
    )?;
    tx.execute(
        "DELETE FROM changes WHERE document = ?1 AND seq <= ?2",
        params![id.to_string(), through],
    )?;
    tx.commit()?;
    Ok(())
}

fn bind_actors(tx: &Db, actors: &[(ActorId, UserId)], at: Millis) -> Result<()> {
    let mut statement = tx.prepare(
        "INSERT INTO actors (actor, \"user\", bound_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )?;
    for (actor, user) in actors {
        statement.execute(params![actor.to_bytes(), user.to_string(), at.0])?;
    }
    Ok(())
}

/// Appends changes to a document's log at its next version, bumped in the same transaction:
/// a write to a document holds its row until it commits, so versions commit in order, and
/// a node that has read a document at version `v` learns every later write from the changes
/// stored after `v`. On PostgreSQL the other nodes are told at commit (`NOTIFY`).
fn append(tx: &Db, node: &str, id: DocumentId, changes: &[automerge::Change]) -> Result<()> {
    let version: i64 = tx.query_row(
        "UPDATE documents SET version = version + 1 WHERE id = ?1 RETURNING version",
        [id.to_string()],
        |row| row.get(0),
    )?;
    let mut statement = tx.prepare(
        "INSERT INTO changes (document, hash, bytes, version) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING",
    )?;
    for change in changes {
        let hash = change.hash();
        statement.execute(params![
            id.to_string(),
            hash.as_ref(),
            change.raw_bytes(),
            version
        ])?;
    }
    tx.notify(CHANGES_CHANNEL, &Written::notice(node, id, version))
}
