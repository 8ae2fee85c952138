//! Blobs and resumable uploads: what is on disk, and who sent it.

use super::sql::{OptionalExtension, params};
use client_core::{DocumentId, Millis, UserId};

use super::{Result, Store, parse};

/// A resumable upload, as the tus endpoints see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    pub id: String,
    pub user: UserId,
    pub document: DocumentId,
    pub record: Option<String>,
    /// The SHA-256 the whole file must have, lower-case hex.
    pub sha256: String,
    pub declared_type: String,
    /// What the first bytes say it is, once they are in.
    pub media_type: Option<String>,
    pub length: u64,
    pub offset: u64,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub completed_at: Option<Millis>,
}

/// A stored blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRecord {
    pub sha256: String,
    pub size: u64,
    pub media_type: String,
}

fn size(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn column(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Store {
    pub async fn create_upload(&self, upload: UploadRecord) -> Result<()> {
        self.call(move |connection| {
            connection.execute(
                "INSERT INTO uploads (id, \"user\", document, record, sha256, declared_type, media_type,
                     length, \"offset\", created_at, expires_at, completed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    upload.id,
                    upload.user.to_string(),
                    upload.document.to_string(),
                    upload.record,
                    upload.sha256,
                    upload.declared_type,
                    upload.media_type,
                    column(upload.length),
                    column(upload.offset),
                    upload.created_at.0,
                    upload.expires_at.0,
                    upload.completed_at.map(|at| at.0),
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn upload(&self, id: String) -> Result<Option<UploadRecord>> {
        self.call(move |connection| {
            let row = connection
                .query_row(
                    "SELECT id, \"user\", document, record, sha256, declared_type, media_type, length,
                         \"offset\", created_at, expires_at, completed_at
                     FROM uploads WHERE id = ?1",
                    [id],
                    |row| {
                        Ok((
                            (
                                row.get::<_, String>(0)?,
                                row.get::<_, String>(1)?,
                                row.get::<_, String>(2)?,
                                row.get::<_, Option<String>>(3)?,
                                row.get::<_, String>(4)?,
                                row.get::<_, String>(5)?,
                            ),
                            (
                                row.get::<_, Option<String>>(6)?,
                                row.get::<_, i64>(7)?,
                                row.get::<_, i64>(8)?,
                                row.get::<_, i64>(9)?,
                                row.get::<_, i64>(10)?,
                                row.get::<_, Option<i64>>(11)?,
                            ),
                        ))
                    },
                )
                .optional()?;
            let Some((
                (id, user, document, record, sha256, declared_type),
                (media_type, length, offset, created_at, expires_at, completed_at),
            )) = row
            else {
                return Ok(None);
            };
            Ok(Some(UploadRecord {
                id,
                user: parse(&user, "uploader")?,
                document: parse(&document, "upload's document")?,
                record,
                sha256,
                declared_type,
                media_type,
                length: size(length),
                offset: size(offset),
                created_at: Millis(created_at),
                expires_at: Millis(expires_at),
                completed_at: completed_at.map(Millis),
            }))
        })
        .await
    }

    /// Records how far an upload has come, and what its first bytes said it is.
    pub async fn advance_upload(
        &self,
        id: String,
        offset: u64,
        media_type: Option<String>,
    ) -> Result<()> {
        self.call(move |connection| {
            connection.execute(
                "UPDATE uploads SET \"offset\" = ?2, media_type = COALESCE(?3, media_type) WHERE id = ?1",
                params![id, column(offset), media_type],
            )?;
            Ok(())
        })
        .await
    }

    /// Completes an upload: the blob is stored (once per hash) and owned by the uploader,
    /// in one transaction.
    pub async fn complete_upload(
        &self,
        id: String,
        blob: BlobRecord,
        user: UserId,
        now: Millis,
    ) -> Result<()> {
        self.call(move |connection| {
            let tx = connection.transaction()?;
            tx.execute(
                "INSERT INTO blobs (sha256, size, media_type, stored_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                params![blob.sha256, column(blob.size), blob.media_type, now.0],
            )?;
            tx.execute(
                "INSERT INTO blob_owners (sha256, \"user\") VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![blob.sha256, user.to_string()],
            )?;
            tx.execute(
                "UPDATE uploads SET \"offset\" = length, completed_at = ?2 WHERE id = ?1",
                params![id, now.0],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub async fn delete_upload(&self, id: String) -> Result<()> {
        self.call(move |connection| {
            connection.execute("DELETE FROM uploads WHERE id = ?1", [id])?;
            Ok(())
        })
        .await
    }

    /// Unfinished uploads whose time ran out by `now`.
    pub async fn expired_uploads(&self, now: Millis) -> Result<Vec<String>> {
        self.call(move |connection| {
            let mut statement = connection.prepare(
                "SELECT id FROM uploads WHERE completed_at IS NULL AND expires_at <= ?1",
            )?;
            let ids = statement.query_map([now.0], |row| row.get(0))?;
            ids.collect::<Result<_>>()
        })
        .await
    }

    pub async fn blob(&self, sha256: String) -> Result<Option<BlobRecord>> {
        self.call(move |connection| {
            let row = connection
                .query_row(
                    "SELECT size, media_type FROM blobs WHERE sha256 = ?1",
                    [&sha256],
                    |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)),
                )
                .optional()?;
            Ok(row.map(|(size_, media_type)| BlobRecord {
                sha256,
                size: size(size_),
                media_type,
            }))
        })
        .await
    }

    /// The bytes a person holds against his quota: the blobs he uploaded, and what his
    /// unfinished uploads will add.
    pub async fn bytes_held_by(&self, user: UserId) -> Result<u64> {
        self.call(move |connection| {
            let user = user.to_string();
            let stored: i64 = connection.query_row(
                "SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM blob_owners o JOIN blobs b ON b.sha256 = o.sha256
                 WHERE o.\"user\" = ?1",
                [&user],
                |row| row.get(0),
            )?;
            let pending: i64 = connection.query_row(
                "SELECT CAST(COALESCE(SUM(length), 0) AS BIGINT) FROM uploads WHERE \"user\" = ?1 AND completed_at IS NULL",
                [&user],
                |row| row.get(0),
            )?;
            Ok(size(stored) + size(pending))
        })
        .await
    }

    /// Uploads begun and not complete, and the bytes of the complete blobs: what `/metrics`
    /// reports of the media store.
    pub async fn media_totals(&self) -> Result<(u64, u64)> {
        self.read(|connection| {
            let (uploads, bytes): (i64, i64) = connection.query_row(
                "SELECT (SELECT count(*) FROM uploads WHERE completed_at IS NULL),
                        (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM blobs)",
                (),
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            Ok((size(uploads), size(bytes)))
        })
        .await
    }

    /// The documents that reference a blob (through their records' media), and whether
    /// `user` uploaded it.
    pub async fn blob_readers(
        &self,
        sha256: String,
        user: UserId,
    ) -> Result<(Vec<DocumentId>, bool)> {
        self.call(move |connection| {
            let mut statement = connection
                .prepare("SELECT DISTINCT document FROM record_media WHERE sha256 = ?1")?;
            let rows = statement.query_map([&sha256], |row| row.get::<_, String>(0))?;
            let mut documents = Vec::new();
            for row in rows {
                documents.push(parse(&row?, "referencing document")?);
            }
            let owner = connection
                .query_row(
                    "SELECT 1 FROM blob_owners WHERE sha256 = ?1 AND \"user\" = ?2",
                    [&sha256, &user.to_string()],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            Ok((documents, owner))
        })
        .await
    }
}
