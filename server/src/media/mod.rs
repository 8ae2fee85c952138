//! Media: resumable uploads over tus 1.0 (`/files/`), complete blobs named by their hash
//! ([`blobs`]: files under the data directory, or an S3-compatible bucket), and
//! `GET /blobs/{sha256}` with HTTP ranges.
//!
//! An upload in progress lives on the disk of the node receiving it, in `uploads/`; the
//! database, which every node shares, records how far it has come. A node asked about an
//! upload whose bytes it does not hold (the phone moved to another node) says it is at 0, so
//! the phone starts again there: no node ever claims an offset it cannot continue from.
//!
//! An upload names the document its record is in; only someone who may write that document
//! may upload, and only someone who may read a document that references a blob (or who
//! uploaded it) may fetch it. Limits are checked before a byte is written, and every file is
//! stored as what its first bytes say it is.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use client_core::{Millis, UserId};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::directory::Directory;
use crate::error::ApiError;
use crate::store::{BlobRecord, Store, UploadRecord};
use crate::telemetry::metrics::Metrics;
use blobs::{Blobs, BlobsError};

pub mod blobs;
pub mod download;
pub mod sniff;
pub mod tus;

/// Limits, from configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The largest blob.
    pub max_blob: u64,
    /// What one person may hold, stored and in progress.
    pub quota_per_user: u64,
    /// Free disk space that uploads never eat into.
    pub disk_reserve: u64,
    /// How long an unfinished upload is kept.
    pub upload_ttl: Duration,
    /// Where complete blobs are kept.
    pub blobs: blobs::Location,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_blob: 500_000_000,
            quota_per_user: 4_000_000_000,
            disk_reserve: 1_000_000_000,
            upload_ttl: Duration::from_secs(7 * 24 * 3600),
            blobs: blobs::Location::MediaDir,
        }
    }
}

/// The media service.
#[derive(Debug)]
pub struct Media {
    store: Store,
    directory: Directory,
    /// The media directory: partial uploads in `uploads/` (and blobs in `blobs/`, when they
    /// are files).
    root: PathBuf,
    blobs: Blobs,
    pub settings: Settings,
    metrics: Metrics,
    /// One lock per upload: one request writes it at a time, and a `HEAD` waits for the
    /// write in progress, so that after a cut it reports every byte that arrived.
    writing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The SHA-256 of each upload's bytes so far, as they arrived, with how many it covers:
    /// a finished upload is then checked without reading the file again. After a restart, or
    /// a chunk that was not kept, the file is read instead.
    running: Mutex<HashMap<String, (u64, Sha256)>>,
    /// One lock per person while an upload of theirs is being started, so that two started
    /// at once cannot both fit in what is left of the quota.
    starting: Mutex<HashMap<UserId, Arc<tokio::sync::Mutex<()>>>>,
}

/// How much of a body is gathered before it is written to the file.
const WRITE_BUFFER: usize = 1 << 20;

/// How long a request waits for another one writing the same upload.
const WAIT_FOR_WRITER: Duration = Duration::from_secs(10);

/// How long the bytes of an upload that ended on another node stay untouched before they go.
const SWEEP_AFTER: Duration = Duration::from_secs(600);

fn io(error: std::io::Error) -> ApiError {
    ApiError::Internal(error.to_string())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The media directory under a data directory.
pub const MEDIA_DIR: &str = "media";

/// Where a complete blob lives under a media directory when blobs are files: `blobs/ab/abcd…`,
/// so that no directory grows too large. `sha256` is a hash (see [`sha256_hex`]).
pub fn blob_path(media_root: &Path, sha256: &str) -> PathBuf {
    media_root.join("blobs").join(&sha256[..2]).join(sha256)
}

/// A lower-case hex SHA-256, or `None`.
pub fn sha256_hex(text: &str) -> Option<String> {
    (text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| text.to_ascii_lowercase())
}

impl Media {
    pub fn open(
        store: Store,
        directory: Directory,
        root: &Path,
        settings: Settings,
        metrics: Metrics,
    ) -> Result<Arc<Media>, BlobsError> {
        let uploads = root.join("uploads");
        std::fs::create_dir_all(&uploads).map_err(|source| BlobsError::Io {
            what: format!("cannot create {}", uploads.display()),
            source,
        })?;
        let blobs = Blobs::open(&settings.blobs, root)?;
        Ok(Arc::new(Media {
            store,
            directory,
            root: root.to_owned(),
            blobs,
            settings,
            metrics,
            writing: Mutex::new(HashMap::new()),
            running: Mutex::new(HashMap::new()),
            starting: Mutex::new(HashMap::new()),
        }))
    }

    /// The free space on the media's disk, and the reserve uploads never eat into.
    pub fn room(&self) -> std::io::Result<(u64, u64)> {
        Ok((
            fs4::available_space(&self.root)?,
            self.settings.disk_reserve,
        ))
    }

    fn partial(&self, id: &str) -> PathBuf {
        self.root.join("uploads").join(id)
    }

    /// Where complete blobs are kept.
    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// Waits for the upload's lock; `423` if another request holds it too long.
    async fn claim(&self, id: &str) -> Result<tokio::sync::OwnedMutexGuard<()>, ApiError> {
        let lock = {
            let mut writing = self.writing.lock().map_err(|_| ApiError::Locked)?;
            writing.entry(id.to_owned()).or_default().clone()
        };
        tokio::time::timeout(WAIT_FOR_WRITER, lock.lock_owned())
            .await
            .map_err(|_| ApiError::Locked)
    }

    /// The upload as it stands once any write in progress has ended, at an offset this node
    /// can continue from (see [`Media::reconcile`]). One whose bytes all arrived but whose
    /// blob was not stored (the store failed, or the server stopped in between) is finished
    /// now: a client told it is all there asks no more.
    pub async fn settled(
        &self,
        upload: UploadRecord,
        now: Millis,
    ) -> Result<UploadRecord, ApiError> {
        let _claim = self.claim(&upload.id).await?;
        let upload = self
            .store
            .upload(upload.id.clone())
            .await?
            .ok_or(ApiError::NotFound)?;
        let upload = self.reconcile(upload).await?;
        if upload.completed_at.is_none() && upload.offset == upload.length {
            return self.finish(upload, now).await;
        }
        Ok(upload)
    }

    /// An unfinished upload at an offset this node can continue from. The database, which
    /// every node shares, says how far the upload came; its bytes are on the disk of the
    /// node that received them. A node that holds fewer (the phone moved to another node, or
    /// the disk was replaced) starts the upload again from 0, in the database too, rather
    /// than claim an offset it cannot continue from. Call it holding the upload's claim.
    async fn reconcile(&self, upload: UploadRecord) -> Result<UploadRecord, ApiError> {
        if upload.completed_at.is_some() {
            return Ok(upload);
        }
        let held = match tokio::fs::metadata(self.partial(&upload.id)).await {
            Ok(metadata) => Some(metadata.len()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(io(error)),
        };
        // More than the offset is a chunk cut off mid-write, which the next one overwrites.
        if held.is_some_and(|held| held >= upload.offset) {
            return Ok(upload);
        }
        tracing::info!(
            upload = %upload.id,
            offset = upload.offset,
            held = held.unwrap_or(0),
            "this node does not hold the upload's bytes: it starts again from 0"
        );
        if let Ok(mut running) = self.running.lock() {
            running.remove(&upload.id);
        }
        self.empty_partial(&upload.id).await?;
        self.store
            .advance_upload(upload.id.clone(), 0, None)
            .await?;
        Ok(UploadRecord {
            offset: 0,
            ..upload
        })
    }

    /// An empty partial file for upload `id`, on disk before its offset says 0.
    async fn empty_partial(&self, id: &str) -> Result<(), ApiError> {
        tokio::fs::File::create(self.partial(id))
            .await
            .map_err(io)?
            .sync_all()
            .await
            .map_err(io)
    }

    /// Checks that a new upload of `length` bytes fits: the size limit, the person's quota,
    /// and the disk's reserve.
    async fn check_room(&self, user: UserId, length: u64) -> Result<(), ApiError> {
        if length > self.settings.max_blob {
            return Err(ApiError::TooLarge);
        }
        let held = self.store.bytes_held_by(user).await?;
        if held.saturating_add(length) > self.settings.quota_per_user {
            return Err(ApiError::QuotaExceeded(format!(
                "this would take you past your quota of {} bytes ({held} held)",
                self.settings.quota_per_user
            )));
        }
        let available = fs4::available_space(&self.root).map_err(io)?;
        if available < length.saturating_add(self.settings.disk_reserve) {
            return Err(ApiError::InsufficientStorage);
        }
        Ok(())
    }

    /// Starts an upload if it fits (see [`Media::check_room`]). If the blob is stored
    /// already, the upload is complete at once.
    pub async fn create(
        &self,
        upload: UploadRecord,
        now: Millis,
    ) -> Result<UploadRecord, ApiError> {
        let lock = {
            let mut starting = self.starting.lock().map_err(|_| ApiError::Locked)?;
            starting.entry(upload.user).or_default().clone()
        };
        let _starting = lock.lock().await;
        self.check_room(upload.user, upload.length).await?;
        if let Some(blob) = self.store.blob(upload.sha256.clone()).await? {
            if blob.size != upload.length {
                return Err(ApiError::Invalid(
                    "a file with this SHA-256 has another length".into(),
                ));
            }
            let done = UploadRecord {
                offset: upload.length,
                media_type: Some(blob.media_type.clone()),
                completed_at: Some(now),
                ..upload
            };
            self.store.create_upload(done.clone()).await?;
            self.store
                .complete_upload(done.id.clone(), blob, done.user, now)
                .await?;
            return Ok(done);
        }
        self.empty_partial(&upload.id).await?;
        self.store.create_upload(upload.clone()).await?;
        Ok(upload)
    }

    /// The upload `id` of `user`: someone else's answers like none.
    pub async fn upload_of(
        &self,
        id: &str,
        user: UserId,
        now: Millis,
    ) -> Result<UploadRecord, ApiError> {
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::NotFound);
        }
        match self.store.upload(id.to_owned()).await? {
            Some(upload) if upload.user == user => {
                if upload.completed_at.is_none() && upload.expires_at <= now {
                    self.discard(&upload.id).await?;
                    return Err(ApiError::NotFound);
                }
                Ok(upload)
            }
            _ => Err(ApiError::NotFound),
        }
    }

    /// Appends a chunk at `offset`. Without a checksum, whatever arrives before a connection
    /// drops is kept (that is what lets a phone resume where it was cut off); with one, the
    /// chunk is kept only whole and matching. Returns the upload as it now stands.
    pub async fn append<S>(
        &self,
        upload: UploadRecord,
        offset: u64,
        checksum: Option<Checksum>,
        mut body: S,
        now: Millis,
    ) -> Result<UploadRecord, ApiError>
    where
        S: futures_util::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin,
    {
        use futures_util::StreamExt;
        let _claim = self.claim(&upload.id).await?;
        // What another request wrote while this one waited.
        let upload = self
            .store
            .upload(upload.id.clone())
            .await?
            .ok_or(ApiError::NotFound)?;
        if upload.completed_at.is_some() {
            // A stock client that does not know the server had this file already starts at
            // zero; the answer is that it is all there.
            return Ok(upload);
        }
        let mut upload = self.reconcile(upload).await?;
        if offset != upload.offset {
            return Err(ApiError::Conflict(format!(
                "the upload is at offset {}, not {offset}",
                upload.offset
            )));
        }
        let path = self.partial(&upload.id);
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .await
            .map_err(io)?;
        // Bytes past the confirmed offset were never confirmed (a crash mid-chunk).
        file.set_len(upload.offset).await.map_err(io)?;
        file.seek(std::io::SeekFrom::Start(upload.offset))
            .await
            .map_err(io)?;
        // The body comes in pieces of a few kilobytes; each write to a file is a trip to a
        // blocking thread, so they are gathered first.
        let mut file = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut digest = checksum.as_ref().map(Checksum::hasher);
        // The whole file's SHA-256 is computed on another thread while this task receives and
        // writes: on a machine without SHA instructions, hashing is the slowest part.
        let (feed, hashing) = match self.running_hash(&upload.id, upload.offset) {
            Some(mut hasher) => {
                let (feed, mut chunks) = tokio::sync::mpsc::channel::<axum::body::Bytes>(64);
                let hashing = tokio::task::spawn_blocking(move || {
                    while let Some(chunk) = chunks.blocking_recv() {
                        hasher.update(&chunk);
                    }
                    hasher
                });
                (Some(feed), Some(hashing))
            }
            None => (None, None),
        };
        let mut written = upload.offset;
        let mut broken = None;
        let mut overflow = false;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(error) => {
                    broken = Some(ApiError::Malformed(format!("the body broke off: {error}")));
                    break;
                }
            };
            let end = written + chunk.len() as u64;
            if end > upload.length {
                overflow = true;
                break;
            }
            if let Err(error) = file.write_all(&chunk).await {
                broken = Some(io(error));
                break;
            }
            self.metrics.uploaded_bytes.inc_by(chunk.len() as u64);
            if let Some(digest) = &mut digest {
                digest.update(&chunk);
            }
            if let Some(feed) = &feed {
                let _ = feed.send(chunk.clone()).await;
            }
            written = end;
        }
        drop(feed);
        let mut whole = match hashing {
            Some(hashing) => hashing.await.ok(),
            None => None,
        };
        let mismatch = match (&checksum, digest) {
            (Some(checksum), Some(digest)) => broken.is_none() && !checksum.matches(digest),
            _ => false,
        };
        // A chunk with a checksum is kept only whole and matching; one that overflows the
        // length is not kept at all.
        if overflow || mismatch || (checksum.is_some() && broken.is_some()) {
            written = upload.offset;
            whole = None;
        }
        // What the buffer holds is written before the length is settled; a write that fails
        // leaves the file at what is confirmed below.
        let flushed = file.flush().await;
        let file = file.into_inner();
        if let Err(error) = flushed {
            // How much reached the file is unknown: none of this request's bytes count.
            broken = broken.or(Some(io(error)));
            written = upload.offset;
            whole = None;
        }
        if let (Some(whole), Ok(mut running)) = (whole, self.running.lock()) {
            running.insert(upload.id.clone(), (written, whole));
        }
        file.set_len(written).await.map_err(io)?;
        file.sync_all().await.map_err(io)?;
        drop(file);
        if upload.media_type.is_none()
            && written >= upload.length.min(sniff::NEEDED as u64)
            && written > 0
        {
            let mut head = vec![0u8; sniff::NEEDED.min(usize::try_from(written).unwrap_or(0))];
            let mut reader = tokio::fs::File::open(&path).await.map_err(io)?;
            reader.read_exact(&mut head).await.map_err(io)?;
            match sniff::media_type(&head, &upload.declared_type) {
                Some(media_type) => upload.media_type = Some(media_type.to_owned()),
                None => {
                    self.discard(&upload.id).await?;
                    return Err(ApiError::UnsupportedMedia(
                        "this file is not a photo, audio or video we take".into(),
                    ));
                }
            }
        }
        upload.offset = written;
        self.store
            .advance_upload(upload.id.clone(), written, upload.media_type.clone())
            .await?;
        if overflow {
            return Err(ApiError::Malformed(
                "more bytes than the upload's length".into(),
            ));
        }
        if mismatch {
            return Err(ApiError::ChecksumMismatch);
        }
        if let Some(error) = broken {
            return Err(error);
        }
        if upload.offset == upload.length {
            return self.finish(upload, now).await;
        }
        Ok(upload)
    }

    /// Checks the whole file against the SHA-256 it was announced with and moves it into the
    /// blobs; a file that does not match is thrown away, upload and all. If the blobs cannot
    /// take it, the file stays, and the next request about the upload tries again.
    async fn finish(
        &self,
        mut upload: UploadRecord,
        now: Millis,
    ) -> Result<UploadRecord, ApiError> {
        let path = self.partial(&upload.id);
        let hashing = path.clone();
        let running = self
            .running
            .lock()
            .ok()
            .and_then(|mut running| running.remove(&upload.id))
            .filter(|(covered, _)| *covered == upload.length);
        let actual = match running {
            Some((_, hasher)) => hex(&hasher.finalize()),
            None => self.hash_file(hashing).await?,
        };
        if actual != upload.sha256 {
            self.discard(&upload.id).await?;
            return Err(ApiError::Invalid(format!(
                "the file's SHA-256 is {actual}, not {}: nothing was stored",
                upload.sha256
            )));
        }
        // The blob is in place before its row is written: a blob the database names is
        // always there to read.
        self.blobs
            .move_in(&upload.sha256, &path, upload.length)
            .await
            .map_err(|error| ApiError::Internal(error.to_string()))?;
        let blob = BlobRecord {
            sha256: upload.sha256.clone(),
            size: upload.length,
            media_type: upload
                .media_type
                .clone()
                .unwrap_or_else(|| upload.declared_type.clone()),
        };
        self.store
            .complete_upload(upload.id.clone(), blob, upload.user, now)
            .await?;
        if let Ok(mut writing) = self.writing.lock() {
            writing.remove(&upload.id);
        }
        upload.completed_at = Some(now);
        Ok(upload)
    }

    /// The running hash of an upload, if it covers exactly its first `offset` bytes (or a
    /// new one, at the start).
    fn running_hash(&self, id: &str, offset: u64) -> Option<Sha256> {
        let kept = self.running.lock().ok()?.remove(id);
        match kept {
            Some((covered, hasher)) if covered == offset => Some(hasher),
            _ if offset == 0 => Some(Sha256::new()),
            _ => None,
        }
    }

    /// The SHA-256 of a file, read on a blocking thread.
    async fn hash_file(&self, path: PathBuf) -> Result<String, ApiError> {
        tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            use std::io::Read;
            let mut file = std::fs::File::open(path)?;
            let mut hasher = Sha256::new();
            let mut buffer = vec![0u8; 1 << 20];
            loop {
                let read = file.read(&mut buffer)?;
                if read == 0 {
                    break;
                }
                hasher.update(&buffer[..read]);
            }
            Ok(hex(&hasher.finalize()))
        })
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?
        .map_err(io)
    }

    /// Forgets an unfinished upload and its bytes (termination, expiry, refusal).
    pub async fn discard(&self, id: &str) -> Result<(), ApiError> {
        match tokio::fs::remove_file(self.partial(id)).await {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io(error)),
        }
        self.store.delete_upload(id.to_owned()).await?;
        if let Ok(mut writing) = self.writing.lock() {
            writing.remove(id);
        }
        if let Ok(mut running) = self.running.lock() {
            running.remove(id);
        }
        Ok(())
    }

    /// Deletes unfinished uploads whose time has run out, and this node's bytes of uploads
    /// that ended elsewhere, every `period`.
    pub async fn keep_expiring(self: Arc<Self>, period: Duration) {
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            match self.store.expired_uploads(crate::now()).await {
                Ok(ids) => {
                    for id in ids {
                        if let Err(error) = self.discard(&id).await {
                            tracing::warn!(%error, upload = %id, "cannot discard an expired upload");
                        }
                    }
                }
                Err(crate::store::StoreError::Stopped) => return,
                Err(error) => tracing::warn!(%error, "cannot list expired uploads"),
            }
            if let Err(error) = self.sweep_partials(SWEEP_AFTER).await {
                tracing::warn!(%error, "cannot sweep the partial uploads");
            }
        }
    }

    /// Removes the bytes on this node's disk of uploads that another node finished, ended or
    /// let expire (the phone moved on), once untouched for `older_than`: a younger file may
    /// be an upload whose row is still being written. Returns how many it removed.
    pub async fn sweep_partials(&self, older_than: Duration) -> Result<usize, ApiError> {
        let mut entries = tokio::fs::read_dir(self.root.join("uploads"))
            .await
            .map_err(io)?;
        let mut removed = 0;
        while let Some(entry) = entries.next_entry().await.map_err(io)? {
            let Ok(id) = entry.file_name().into_string() else {
                continue;
            };
            let untouched = entry
                .metadata()
                .await
                .ok()
                .and_then(|metadata| metadata.modified().ok())
                .and_then(|modified| modified.elapsed().ok())
                .is_some_and(|age| age >= older_than);
            if !untouched {
                continue;
            }
            let ended = match self.store.upload(id.clone()).await? {
                Some(upload) => upload.completed_at.is_some(),
                None => true,
            };
            if ended {
                match tokio::fs::remove_file(entry.path()).await {
                    Ok(()) => removed += 1,
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    Err(error) => return Err(io(error)),
                }
                if let Ok(mut running) = self.running.lock() {
                    running.remove(&id);
                }
            }
        }
        Ok(removed)
    }

    /// Whether `who` may fetch a blob: he uploaded it, or may read a document referencing it.
    pub async fn may_fetch(
        &self,
        who: &client_core::Principal,
        sha256: &str,
    ) -> Result<bool, ApiError> {
        let (documents, owner) = self.store.blob_readers(sha256.to_owned(), who.user).await?;
        Ok(owner
            || documents.iter().any(|document| {
                self.directory
                    .scope(*document)
                    .is_some_and(|scope| client_core::access::can_read(who, &scope))
            }))
    }

    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// An `Upload-Checksum`: the algorithm and the digest the chunk must have.
#[derive(Debug, Clone)]
pub enum Checksum {
    Sha1(Vec<u8>),
    Sha256(Vec<u8>),
}

/// A running digest of a chunk.
enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(Sha256),
}

impl Hasher {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha1(hasher) => sha1::Digest::update(hasher, bytes),
            Hasher::Sha256(hasher) => Digest::update(hasher, bytes),
        }
    }
}

impl Checksum {
    /// Reads `Upload-Checksum: <algorithm> <base64 digest>`.
    pub fn parse(header: &str) -> Result<Checksum, ApiError> {
        use base64::Engine;
        let (algorithm, digest) = header.split_once(' ').ok_or_else(|| {
            ApiError::Malformed("Upload-Checksum is `<algorithm> <base64>`".into())
        })?;
        let digest = base64::engine::general_purpose::STANDARD
            .decode(digest.trim())
            .map_err(|_| ApiError::Malformed("the checksum is not base64".into()))?;
        match algorithm {
            "sha1" => Ok(Checksum::Sha1(digest)),
            "sha256" => Ok(Checksum::Sha256(digest)),
            // tus: an algorithm the server does not support is a bad request.
            _ => Err(ApiError::Malformed(format!(
                "no checksum algorithm {algorithm:.20}"
            ))),
        }
    }

    fn hasher(&self) -> Hasher {
        match self {
            Checksum::Sha1(_) => Hasher::Sha1(sha1::Sha1::default()),
            Checksum::Sha256(_) => Hasher::Sha256(Sha256::new()),
        }
    }

    fn matches(&self, hasher: Hasher) -> bool {
        match (self, hasher) {
            (Checksum::Sha1(expected), Hasher::Sha1(hasher)) => {
                sha1::Digest::finalize(hasher).as_slice() == expected.as_slice()
            }
            (Checksum::Sha256(expected), Hasher::Sha256(hasher)) => {
                hasher.finalize().as_slice() == expected.as_slice()
            }
            _ => false,
        }
    }
}
