//! Backups of a data directory, taken while the server runs, and restores into an empty one.
//!
//! A backup is a directory: `tianjian.sqlite3`, a consistent copy of the database made with
//! SQLite's online backup API in a single step (one read transaction, so the copy is the
//! database at one instant, while writers go on in the WAL), or, from PostgreSQL, every
//! table copied into a SQLite file of the same schema from one snapshot (`REPEATABLE READ`),
//! so a backup reads the same whichever database it came from; `media/blobs/…`, every
//! complete blob that copy knows of, read from wherever blobs are kept (files or a bucket)
//! and each hashed as it is copied; and `manifest.json`, written last, so that a backup cut
//! short is never taken for a whole one. Blobs are named by their SHA-256 and never change
//! once complete, and a blob's row is written only after the blob is stored, so every blob
//! the copied database names can be copied after it.
//!
//! A restore copies a backup into an empty data directory (or an empty PostgreSQL
//! database), and its blobs back to where blobs are kept, checks every byte, and gives the
//! database a new storage id and no sync
//! states: phones then take it for a server they have never synced with and offer
//! everything they hold, bringing back what was written after the backup.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::media;
use crate::media::blobs::{Blobs, BlobsError, Location};
use crate::store::{Database, StoreError};

/// The database file inside a data directory, and inside a backup.
pub const DATABASE: &str = "tianjian.sqlite3";
const MANIFEST: &str = "manifest.json";

/// Where a blob lives under a data directory (and under a backup, laid out the same way).
pub fn blob_path(root: &Path, sha256: &str) -> PathBuf {
    media::blob_path(&root.join(media::MEDIA_DIR), sha256)
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("the database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("{0} has no database to back up")]
    NoDatabase(PathBuf),
    #[error(
        "{0} is not empty: a backup goes into a new directory, a restore into an empty data directory"
    )]
    NotEmpty(PathBuf),
    #[error("{0} is not a complete backup (it has no manifest.json)")]
    Incomplete(PathBuf),
    #[error("the copied database fails SQLite's check: {0}")]
    Corrupt(String),
    #[error("blob {sha256}: {why}")]
    Blob { sha256: String, why: String },
    #[error(transparent)]
    Blobs(#[from] BlobsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the database stayed busy; try again")]
    Busy,
}

pub type Result<T, E = BackupError> = std::result::Result<T, E>;

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Io { what, source }
}

/// What a backup holds, kept in its `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The database's schema version (`PRAGMA user_version`).
    pub schema_version: i64,
    /// When the backup was taken, in milliseconds since the epoch.
    pub taken_at: i64,
    pub database_bytes: u64,
    pub blobs: u64,
    pub blob_bytes: u64,
}

/// What a backup or restore did, for the command to print.
#[derive(Debug, Clone)]
pub struct Report {
    pub manifest: Manifest,
    pub elapsed: Duration,
}

/// Backs up the data directory `data`, its database and blobs files in it, into `dest`,
/// which must not exist or be empty.
pub fn backup(data: &Path, dest: &Path) -> Result<Report> {
    backup_with(
        data,
        &Database::Sqlite(data.join(DATABASE)),
        &Location::MediaDir,
        dest,
    )
}

/// Backs up `database` (`storage.database`) and the blobs where `blobs` says
/// (`media.blobs`), the data directory being `data`, into `dest`, which must not exist or
/// be empty. Call it off the executor.
pub fn backup_with(
    data: &Path,
    database: &Database,
    blobs: &Location,
    dest: &Path,
) -> Result<Report> {
    if let Database::Sqlite(path) = database
        && !path.is_file()
    {
        return Err(BackupError::NoDatabase(data.to_owned()));
    }
    let blobs = Blobs::open(blobs, &data.join(media::MEDIA_DIR))?;
    backup_from(database, &blobs, dest)
}

/// Backs up the database at `database` and the blobs under `root` (`root/media/blobs/…`)
/// into `dest`, which must not exist or be empty.
pub fn backup_files(database: &Path, root: &Path, dest: &Path) -> Result<Report> {
    let blobs = Blobs::local(&root.join(media::MEDIA_DIR).join("blobs"))?;
    backup_from(&Database::Sqlite(database.to_owned()), &blobs, dest)
}

/// Backs up the database at `database`, and the blobs it names from `blobs`, into `dest`,
/// which must not exist or be empty. Call it off the executor: on a blocking thread of a
/// runtime (the blob store's requests then run on that runtime), or outside any.
pub fn backup_from(database: &Database, blobs: &Blobs, dest: &Path) -> Result<Report> {
    let started = Instant::now();
    let runner = Runner::here()?;
    claim_empty(dest)?;
    let copy = dest.join(DATABASE);
    match database {
        Database::Sqlite(path) => copy_database(path, &copy)?,
        Database::Postgres(_) => {
            crate::store::copy_database(database, &Database::Sqlite(copy.clone()))?;
            // The copy stands alone: one file, no write-ahead log beside it.
            Connection::open(&copy)?.pragma_update(None, "journal_mode", "DELETE")?;
        }
    }
    let connection = Connection::open_with_flags(&copy, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    check(&connection)?;
    let schema_version: i64 = connection.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let listed = listed_blobs(&connection)?;
    drop(connection);
    let mut blob_bytes = 0;
    for (sha256, size) in &listed {
        let stored = blobs
            .blocking_reader(&runner.handle, sha256)
            .map_err(|error| BackupError::Blob {
                sha256: sha256.clone(),
                why: format!("cannot read: {error}"),
            })?
            .ok_or_else(|| BackupError::Blob {
                sha256: sha256.clone(),
                why: "the database names it, and the blobs do not have it".to_owned(),
            })?;
        copy_blob(stored, &blob_path(dest, sha256), sha256, *size)?;
        blob_bytes += size;
    }
    let manifest = Manifest {
        schema_version,
        taken_at: crate::now().0,
        database_bytes: file_size(&copy)?,
        blobs: listed.len() as u64,
        blob_bytes,
    };
    write_manifest(dest, &manifest)?;
    Ok(Report {
        manifest,
        elapsed: started.elapsed(),
    })
}

/// Restores the backup at `src` into the data directory `data`, which must not exist or be
/// empty, its database and blobs files in it.
pub fn restore(src: &Path, data: &Path) -> Result<Report> {
    restore_with(
        src,
        data,
        &Database::Sqlite(data.join(DATABASE)),
        &Location::MediaDir,
    )
}

/// Restores the backup at `src` into `database` (`storage.database`: a SQLite file, or a
/// PostgreSQL database that holds nothing yet), its blobs to where `blobs` says
/// (`media.blobs`), the data directory being `data`, which must not exist or be empty. Call
/// it off the executor.
pub fn restore_with(
    src: &Path,
    data: &Path,
    database: &Database,
    blobs: &Location,
) -> Result<Report> {
    let started = Instant::now();
    let manifest = read_manifest(src)?;
    claim_empty(data)?;
    let partial = data.join(format!("{DATABASE}.restoring"));
    let restored = Blobs::open(blobs, &data.join(media::MEDIA_DIR))
        .map_err(BackupError::from)
        .and_then(|blobs| restore_into(src, &partial, &blobs))
        .and_then(|()| match database {
            Database::Sqlite(path) => {
                std::fs::rename(&partial, path).map_err(io("cannot put the database in place"))
            }
            Database::Postgres(_) => {
                crate::store::copy_database(&Database::Sqlite(partial.clone()), database)?;
                std::fs::remove_file(&partial).map_err(io("cannot remove the restored copy"))
            }
        });
    if restored.is_err() {
        // Leave the directory empty again, for the next attempt. Blobs put in a bucket stay:
        // other servers may share it, and a blob is the same bytes whoever put it.
        let _ = std::fs::remove_file(&partial);
        let _ = std::fs::remove_dir_all(data.join(media::MEDIA_DIR));
    }
    restored?;
    Ok(Report {
        manifest,
        elapsed: started.elapsed(),
    })
}

/// The backup's database, checked, at `partial`, and its blobs where they are kept.
fn restore_into(src: &Path, partial: &Path, blobs: &Blobs) -> Result<()> {
    let runner = Runner::here()?;
    std::fs::copy(src.join(DATABASE), partial).map_err(io("cannot copy the database"))?;
    {
        let connection = Connection::open(partial)?;
        check(&connection)?;
        // A new storage id, and no sync states: see the module's comment.
        connection.execute_batch(
            "DELETE FROM settings WHERE name = 'storage_id'; DELETE FROM sync_states;",
        )?;
        for (sha256, size) in &listed_blobs(&connection)? {
            let damaged = |why: String| BackupError::Blob {
                sha256: sha256.clone(),
                why,
            };
            // Checked against its hash as it is read, and stored only if it matches.
            let put = runner
                .handle
                .block_on(blobs.put_file(sha256, &blob_path(src, sha256)))
                .map_err(|error| damaged(error.to_string()))?;
            if put != *size {
                return Err(damaged(format!(
                    "{put} bytes, not the {size} it was stored as"
                )));
            }
        }
    }
    Ok(())
}

/// Copies the live database at `source` to `target` (a new file) in one step of the online
/// backup API: one read transaction, so a consistent copy whatever writers do meanwhile.
pub fn copy_database(source: &Path, target: &Path) -> Result<()> {
    // Read-write, though it only reads: a read-only connection cannot set up the WAL index
    // of a database no server has open.
    let from = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    from.busy_timeout(Duration::from_secs(10))?;
    let mut to = Connection::open(target)?;
    {
        let backup = Backup::new(&from, &mut to)?;
        let mut done = false;
        for _ in 0..100 {
            match backup.step(-1)? {
                StepResult::Done => {
                    done = true;
                    break;
                }
                // Another connection held a lock the copy's read needed: wait and retry.
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        if !done {
            return Err(BackupError::Busy);
        }
    }
    // The copy stands alone: one file, no write-ahead log beside it.
    to.pragma_update(None, "journal_mode", "DELETE")?;
    Ok(())
}

/// Creates `dir` if needed and checks nothing is in it.
fn claim_empty(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
    let mut entries =
        std::fs::read_dir(dir).map_err(io(format!("cannot read {}", dir.display())))?;
    if entries.next().is_some() {
        return Err(BackupError::NotEmpty(dir.to_owned()));
    }
    Ok(())
}

fn check(connection: &Connection) -> Result<()> {
    let verdict: String = connection.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if verdict == "ok" {
        Ok(())
    } else {
        Err(BackupError::Corrupt(verdict))
    }
}

/// The complete blobs the database knows, with their sizes.
fn listed_blobs(connection: &Connection) -> Result<Vec<(String, u64)>> {
    let mut statement = connection.prepare("SELECT sha256, size FROM blobs ORDER BY sha256")?;
    let rows = statement.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
    })?;
    let mut blobs = Vec::new();
    for row in rows {
        let (name, size) = row?;
        // A name that is not a hash would make a path of anything.
        let sha256 = media::sha256_hex(&name).ok_or_else(|| BackupError::Blob {
            sha256: name,
            why: "not a SHA-256 name".to_owned(),
        })?;
        blobs.push((sha256, u64::try_from(size).unwrap_or(0)));
    }
    Ok(blobs)
}

/// Where the blob store's requests run while a backup or restore waits for them on its own
/// thread: the caller's runtime, or one of its own outside any. (A worker thread of its
/// own, since only a runtime's worker drives its IO while another thread blocks on it.)
struct Runner {
    _own: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
}

impl Runner {
    fn here() -> Result<Runner> {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            return Ok(Runner { _own: None, handle });
        }
        let own = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(io("cannot start the blob store's runtime"))?;
        Ok(Runner {
            handle: own.handle().clone(),
            _own: Some(own),
        })
    }
}

/// Copies one blob out of `source`, checking its size and hash on the way: a backup of a
/// damaged blob is no backup.
fn copy_blob(mut source: impl Read, to: &Path, sha256: &str, size: u64) -> Result<()> {
    let damaged = |why: String| BackupError::Blob {
        sha256: sha256.to_owned(),
        why,
    };
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)
            .map_err(io(format!("cannot create {}", parent.display())))?;
    }
    let partial = to.with_extension("partial");
    let mut target =
        File::create(&partial).map_err(io(format!("cannot create {}", partial.display())))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut copied = 0u64;
    loop {
        let n = source
            .read(&mut buffer)
            .map_err(|e| damaged(format!("cannot read: {e}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        target
            .write_all(&buffer[..n])
            .map_err(io(format!("cannot write {}", partial.display())))?;
        copied += n as u64;
    }
    target
        .sync_all()
        .map_err(io(format!("cannot write {}", partial.display())))?;
    let hash = media::hex(&hasher.finalize());
    if copied != size || hash != sha256 {
        let _ = std::fs::remove_file(&partial);
        return Err(damaged(format!(
            "{copied} bytes hashing to {hash}, not the {size} bytes it was stored as"
        )));
    }
    std::fs::rename(&partial, to).map_err(io(format!("cannot write {}", to.display())))
}

fn file_size(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .map_err(io(format!("cannot read {}", path.display())))?
        .len())
}

fn write_manifest(dest: &Path, manifest: &Manifest) -> Result<()> {
    let text = serde_json::to_string_pretty(manifest).unwrap_or_default();
    let path = dest.join(MANIFEST);
    let mut file = File::create(&path).map_err(io(format!("cannot write {}", path.display())))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io(format!("cannot write {}", path.display())))
}

fn read_manifest(src: &Path) -> Result<Manifest> {
    let text = std::fs::read_to_string(src.join(MANIFEST))
        .map_err(|_| BackupError::Incomplete(src.to_owned()))?;
    serde_json::from_str(&text).map_err(|_| BackupError::Incomplete(src.to_owned()))
}
