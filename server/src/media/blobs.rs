//! Complete blobs, named by their SHA-256, behind one interface (the `object_store` crate):
//! files under the media directory (`blobs/ab/<sha256>`, the layout data directories have
//! always had), or an S3-compatible bucket that several nodes share (`media.blobs =
//! "s3://bucket/prefix"`, with credentials and endpoint from the standard `AWS_*` variables).
//!
//! **Architecture Invariant:** a blob is stored under the SHA-256 of its bytes, and only once
//! those bytes are known to hash to it (checked here, or by the upload that received them);
//! a stored blob never changes.

use std::io::{Read, Seek};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as Key;
use object_store::prefix::PrefixStore;
use object_store::{
    ClientOptions, GetOptions, GetRange, GetResultPayload, ObjectStore, ObjectStoreExt, PutPayload,
    RetryConfig, WriteMultipart,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::runtime::Handle;

use super::{hex, sha256_hex};

/// Where complete blobs are kept: `media.blobs` in the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Location {
    /// Files in `blobs/` under the media directory (the setting absent).
    #[default]
    MediaDir,
    /// An S3-compatible bucket, and a prefix for the keys in it (`s3://bucket/prefix`).
    S3 { bucket: String, prefix: String },
}

impl Location {
    /// Reads `media.blobs`: an `s3://bucket/prefix` URL (the prefix may be empty).
    pub fn parse(text: &str) -> Result<Location, String> {
        let shape = "an s3://bucket/prefix URL, or absent for files under the data directory";
        let Some(rest) = text.trim().strip_prefix("s3://") else {
            return Err(format!("must be {shape}"));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // S3's rules for bucket names, less the rarer ones.
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
            && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !bucket_ok {
            return Err(format!(
                "the bucket {bucket:?} is not a bucket name (3 to 63 lower-case letters, \
                 digits, dots and hyphens): must be {shape}"
            ));
        }
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() && Key::parse(prefix).is_err() {
            return Err(format!(
                "the prefix {prefix:?} is not a key prefix (no empty, `.` or `..` parts): \
                 must be {shape}"
            ));
        }
        Ok(Location::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::MediaDir => f.write_str("files under the media directory"),
            Location::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BlobsError {
    #[error(
        "media.blobs is {0}, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set \
         (the endpoint goes in AWS_ENDPOINT_URL, the region in AWS_REGION)"
    )]
    NoCredentials(Location),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("blob {0}: not stored")]
    NotFound(String),
    #[error("blob {sha256}: the bytes are {size} hashing to {actual}, not that")]
    Mismatch {
        sha256: String,
        size: u64,
        actual: String,
    },
    #[error("the blob store: {0}")]
    Store(#[from] object_store::Error),
}

pub type Result<T, E = BlobsError> = std::result::Result<T, E>;

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BlobsError {
    let what = what.into();
    move |source| BlobsError::Io { what, source }
}

/// How much of a file one request to the store carries when putting it: a file no larger is
/// put in one request, a larger one in parts of this size, a few at a time.
const PART: usize = 8 << 20;
const PARTS_IN_FLIGHT: usize = 2;

/// How much a download reads from a file at a time: a few kilobytes makes a video crawl.
const READ_CHUNK: usize = 256 * 1024;

/// How long the S3 client waits for the next bytes before it tries again. There is no limit
/// on a whole request: a video streams to a slow phone for as long as the phone takes.
const S3_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Complete blobs, wherever they are kept.
#[derive(Debug, Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// For files, their directory: a finished upload on the same disk is moved into place
    /// rather than copied.
    dir: Option<PathBuf>,
}

impl Blobs {
    /// The blobs at `location`; `media_dir` is the media directory of the data directory.
    pub fn open(location: &Location, media_dir: &Path) -> Result<Blobs> {
        match location {
            Location::MediaDir => Blobs::local(&media_dir.join("blobs")),
            Location::S3 { bucket, prefix } => Blobs::s3(bucket, prefix),
        }
    }

    /// Files in `dir`, created if missing: `dir/ab/abcd…`, each written to a temporary file,
    /// synced, and renamed into place.
    pub fn local(dir: &Path) -> Result<Blobs> {
        std::fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
        let store = LocalFileSystem::new_with_prefix(dir)?.with_fsync(true);
        Ok(Blobs {
            store: Arc::new(store),
            dir: Some(dir.to_owned()),
        })
    }

    /// Keys under `prefix` in an S3-compatible bucket, reached as the standard `AWS_*`
    /// variables say.
    pub fn s3(bucket: &str, prefix: &str) -> Result<Blobs> {
        // Without keys the client would ask the cloud's instance metadata service for some.
        let set = |name: &str| std::env::var_os(name).is_some_and(|value| !value.is_empty());
        if !set("AWS_ACCESS_KEY_ID") || !set("AWS_SECRET_ACCESS_KEY") {
            return Err(BlobsError::NoCredentials(Location::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
            }));
        }
        // The client's TLS runs on ring; a provider installed already is as good. (rustls
        // deprecates ring's provider for want of post-quantum key exchange, which only
        // aws-lc-rs has, at the price of a C library to build.)
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut client = ClientOptions::new()
            .with_timeout_disabled()
            .with_read_timeout(S3_READ_TIMEOUT);
        // The client settings `from_env` reads (`AWS_ALLOW_HTTP`, `AWS_PROXY_URL`, …), which
        // the options set here would otherwise replace.
        for (name, value) in std::env::vars() {
            if let Ok(AmazonS3ConfigKey::Client(key)) = name.to_ascii_lowercase().parse() {
                client = client.with_config(key, value);
            }
        }
        let s3 = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_client_options(client)
            .with_retry(RetryConfig {
                max_retries: 5,
                retry_timeout: Duration::from_secs(60),
                ..RetryConfig::default()
            })
            .build()?;
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, prefix))
        };
        Ok(Blobs { store, dir: None })
    }

    /// The size of a stored blob; `None` if it is not stored.
    pub async fn size(&self, sha256: &str) -> Result<Option<u64>> {
        match self.store.head(&key(sha256)?).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// The bytes `range` of a blob, as a stream.
    pub async fn read(
        &self,
        sha256: &str,
        range: Range<u64>,
    ) -> Result<BoxStream<'static, std::io::Result<Bytes>>> {
        if range.is_empty() {
            return Ok(futures_util::stream::empty().boxed());
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(range.clone())),
            ..GetOptions::default()
        };
        let got = self
            .store
            .get_opts(&key(sha256)?, options)
            .await
            .map_err(|error| not_found(error, sha256))?;
        Ok(match got.payload {
            // A file is read in large pieces (object_store reads 8 KiB at a time).
            GetResultPayload::File(file, _) => {
                let mut file = tokio::fs::File::from_std(file);
                file.seek(std::io::SeekFrom::Start(got.range.start))
                    .await
                    .map_err(io(format!("cannot read blob {sha256}")))?;
                let length = got.range.end - got.range.start;
                tokio_util::io::ReaderStream::with_capacity(file.take(length), READ_CHUNK).boxed()
            }
            GetResultPayload::Stream(stream) => stream.map_err(std::io::Error::other).boxed(),
        })
    }

    /// A whole blob for code that reads synchronously, off the executor (a blocking thread,
    /// where `handle` is the runtime's); `None` if it is not stored.
    pub fn blocking_reader(&self, handle: &Handle, sha256: &str) -> Result<Option<BlobReader>> {
        let got = match handle.block_on(self.store.get(&key(sha256)?)) {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        Ok(Some(match got.payload {
            GetResultPayload::File(mut file, _) => {
                file.seek(std::io::SeekFrom::Start(0))
                    .map_err(io(format!("cannot read blob {sha256}")))?;
                BlobReader::File(file)
            }
            GetResultPayload::Stream(stream) => BlobReader::Stream {
                handle: handle.clone(),
                stream,
                chunk: Bytes::new(),
            },
        }))
    }

    /// Stores the file at `path`, whose `size` bytes the caller has checked hash to
    /// `sha256`, and removes it: files on the same disk are renamed into place. If the blob
    /// is stored already, the file is just removed. On an error the file stays where it was.
    pub async fn move_in(&self, sha256: &str, path: &Path, size: u64) -> Result<()> {
        if self.size(sha256).await? == Some(size) {
            return remove(path).await;
        }
        if let Some(dir) = &self.dir {
            let target = dir.join(&sha256[..2]).join(sha256);
            match rename_durably(path, &target).await {
                Ok(()) => return Ok(()),
                // Another disk: copied below.
                Err(error) if error.kind() == std::io::ErrorKind::CrossesDevices => {}
                Err(error) => return Err(io(format!("cannot store blob {sha256}"))(error)),
            }
        }
        self.put(sha256, path, None).await?;
        remove(path).await
    }

    /// Stores a copy of the file at `path` as blob `sha256`, after checking, as it is read,
    /// that its bytes hash to that: a file that does not is refused and nothing is stored.
    /// Returns its size.
    pub async fn put_file(&self, sha256: &str, path: &Path) -> Result<u64> {
        let mut hasher = Sha256::new();
        let size = self.put(sha256, path, Some(&mut hasher)).await?;
        Ok(size)
    }

    /// Puts the file in one request, or in parts when larger than [`PART`], streaming it
    /// rather than holding it in memory; with a `hasher`, completes only if the bytes hash
    /// to `sha256`.
    async fn put(&self, sha256: &str, path: &Path, mut hasher: Option<&mut Sha256>) -> Result<u64> {
        let key = key(sha256)?;
        let reading = || io(format!("cannot read {}", path.display()));
        let mut file = tokio::fs::File::open(path).await.map_err(reading())?;
        let size = file.metadata().await.map_err(reading())?.len();
        let mut buffer = vec![0u8; PART];
        let mut read_part = async |file: &mut tokio::fs::File, hasher: &mut Option<&mut Sha256>| {
            let mut filled = 0;
            while filled < buffer.len() {
                let n = file.read(&mut buffer[filled..]).await.map_err(reading())?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if let Some(hasher) = hasher {
                hasher.update(&buffer[..filled]);
            }
            Ok::<_, BlobsError>(Bytes::copy_from_slice(&buffer[..filled]))
        };
        let check = |hasher: Option<&mut Sha256>, read: u64| match hasher {
            Some(hasher) => {
                let actual = hex(&std::mem::take(hasher).finalize());
                if actual == sha256 {
                    Ok(())
                } else {
                    Err(BlobsError::Mismatch {
                        sha256: sha256.to_owned(),
                        size: read,
                        actual,
                    })
                }
            }
            None => Ok(()),
        };
        if size <= PART as u64 {
            let bytes = read_part(&mut file, &mut hasher).await?;
            let read = bytes.len() as u64;
            check(hasher, read)?;
            self.store.put(&key, PutPayload::from(bytes)).await?;
            return Ok(read);
        }
        let upload = self.store.put_multipart(&key).await?;
        let mut parts = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut read = 0u64;
        let sent = async {
            loop {
                parts.wait_for_capacity(PARTS_IN_FLIGHT).await?;
                let bytes = read_part(&mut file, &mut hasher).await?;
                if bytes.is_empty() {
                    break;
                }
                read += bytes.len() as u64;
                parts.put(bytes);
            }
            Ok::<_, BlobsError>(())
        }
        .await;
        match sent.and_then(|()| check(hasher, read)) {
            Ok(()) => {
                parts.finish().await?;
                Ok(read)
            }
            Err(error) => {
                let _ = parts.abort().await;
                Err(error)
            }
        }
    }

    /// Deletes a blob; one that is not stored is deleted already.
    pub async fn delete(&self, sha256: &str) -> Result<()> {
        match self.store.delete(&key(sha256)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Every stored blob, with its size, in no particular order. Keys that are not blobs
    /// (a file left by hand, another program's objects under the prefix) are passed over.
    pub fn list(&self) -> BoxStream<'static, Result<(String, u64)>> {
        self.store
            .list(None)
            .try_filter_map(|meta| async move {
                let name = meta.location.filename().and_then(sha256_hex);
                let named = name.filter(|sha256| key(sha256).ok().as_ref() == Some(&meta.location));
                Ok(named.map(|sha256| (sha256, meta.size)))
            })
            .map_err(BlobsError::from)
            .boxed()
    }
}

/// A blob's key: `ab/abcd…`, so that no directory of files grows too large.
fn key(sha256: &str) -> Result<Key> {
    // A name that is not a hash would make a key of anything.
    let sha256 = sha256_hex(sha256).ok_or_else(|| BlobsError::NotFound(sha256.to_owned()))?;
    Ok(Key::from_iter([&sha256[..2], &sha256]))
}

fn not_found(error: object_store::Error, sha256: &str) -> BlobsError {
    match error {
        object_store::Error::NotFound { .. } => BlobsError::NotFound(sha256.to_owned()),
        error => error.into(),
    }
}

async fn remove(path: &Path) -> Result<()> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(io(format!("cannot remove {}", path.display()))(error)),
    }
}

/// Renames `from` to `to`, creating its directory, so that the rename outlives a crash.
async fn rename_durably(from: &Path, to: &Path) -> std::io::Result<()> {
    let (from, to) = (from.to_owned(), to.to_owned());
    tokio::task::spawn_blocking(move || {
        let dir = to.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        std::fs::File::open(&from)?.sync_all()?;
        std::fs::rename(&from, &to)?;
        std::fs::File::open(dir)?.sync_all()
    })
    .await
    .map_err(std::io::Error::other)?
}

/// A whole blob, read synchronously: see [`Blobs::blocking_reader`].
pub enum BlobReader {
    File(std::fs::File),
    Stream {
        handle: Handle,
        stream: BoxStream<'static, object_store::Result<Bytes>>,
        chunk: Bytes,
    },
}

impl std::fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BlobReader::File(_) => "BlobReader::File",
            BlobReader::Stream { .. } => "BlobReader::Stream",
        })
    }
}

impl Read for BlobReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        match self {
            BlobReader::File(file) => file.read(out),
            BlobReader::Stream {
                handle,
                stream,
                chunk,
            } => {
                while chunk.is_empty() {
                    match handle.block_on(stream.next()) {
                        Some(next) => *chunk = next.map_err(std::io::Error::other)?,
                        None => return Ok(0),
                    }
                }
                let n = out.len().min(chunk.len());
                out[..n].copy_from_slice(&chunk.split_to(n));
                Ok(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_is_an_s3_url_with_a_bucket_and_a_prefix() {
        assert_eq!(
            Location::parse("s3://media/county-a/2026").unwrap(),
            Location::S3 {
                bucket: "media".into(),
                prefix: "county-a/2026".into()
            }
        );
        assert_eq!(
            Location::parse("s3://media.example-1/").unwrap(),
            Location::S3 {
                bucket: "media.example-1".into(),
                prefix: String::new()
            }
        );
        for bad in [
            "/var/lib/tianjian/blobs",
            "http://127.0.0.1:8333/media",
            "s3://",
            "s3://b1/x",
            "s3://Media/x",
            "s3://-media/x",
            "s3://media/a//b",
            "s3://media/a/../b",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_are_the_layout_of_the_blob_files() {
        let sha256 = "ab".repeat(32);
        assert_eq!(key(&sha256).unwrap().as_ref(), format!("ab/{sha256}"));
        assert!(key("../../etc/passwd").is_err());
    }

    #[tokio::test]
    async fn files_are_checked_put_read_by_range_listed_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(&dir.path().join("blobs")).unwrap();
        let bytes: Vec<u8> = (0..PART as u32 + 1000).map(|i| (i % 251) as u8).collect();
        let sha256 = hex(&Sha256::digest(&bytes));
        let file = dir.path().join("file");
        std::fs::write(&file, &bytes).unwrap();

        let wrong = "cd".repeat(32);
        assert!(matches!(
            blobs.put_file(&wrong, &file).await,
            Err(BlobsError::Mismatch { .. })
        ));
        assert_eq!(blobs.size(&wrong).await.unwrap(), None);
        assert_eq!(
            blobs.put_file(&sha256, &file).await.unwrap(),
            bytes.len() as u64
        );
        assert!(file.exists(), "a put copies");
        let on_disk = dir.path().join("blobs").join(&sha256[..2]).join(&sha256);
        assert_eq!(std::fs::read(&on_disk).unwrap(), bytes);

        let read: Vec<Bytes> = blobs
            .read(&sha256, 1000..PART as u64 + 10)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(read.concat(), bytes[1000..PART + 10]);
        let listed: Vec<(String, u64)> = blobs.list().try_collect().await.unwrap();
        assert_eq!(listed, [(sha256.clone(), bytes.len() as u64)]);
        blobs.delete(&sha256).await.unwrap();
        blobs.delete(&sha256).await.unwrap();
        assert!(matches!(
            blobs.read(&sha256, 0..1).await,
            Err(BlobsError::NotFound(_))
        ));
    }
}
