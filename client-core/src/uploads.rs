//! The device's upload queue: which blobs its records need on the server, how far each has
//! got, and what to send next. It is part of the device's durable state (the app saves it
//! with its documents), so an upload cut off by bad signal, a closed app or a restart goes on
//! from where the server says it is.
//!
//! Sans-IO like the rest of the core: [`UploadQueue::next`] says what request to make (tus
//! creation, a `HEAD` to learn the offset, a `PATCH` of the next chunk), and the app reports
//! the answer. Retries back off, capped; large media wait for an unmetered connection if the
//! person asked for that.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::DocumentId;
use crate::projection::Projection;
use crate::time::Millis;

/// How much one `PATCH` carries: small enough that a cut costs little, large enough that
/// requests do not dominate.
pub const CHUNK: u64 = 1024 * 1024;

/// The longest wait between two attempts.
pub const MAX_BACKOFF_MS: i64 = 5 * 60 * 1000;

/// What kind of connection the device has now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    Offline,
    /// Mobile data, paid by the megabyte.
    Metered,
    Unmetered,
}

/// The person's choice about mobile data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Send media at least `large` bytes only on an unmetered connection ("video only on
    /// Wi-Fi").
    pub large_only_unmetered: bool,
    pub large: u64,
}

impl Policy {
    /// Whether `item` waits for an unmetered connection: every video, and anything large,
    /// once the person chose "video only on Wi-Fi" (a two-minute lesson is video to them,
    /// whatever its size).
    pub fn holds(&self, item: &Item) -> bool {
        self.large_only_unmetered
            && (item.media_type.starts_with("video/") || item.size >= self.large)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            large_only_unmetered: false,
            large: 5 * 1024 * 1024,
        }
    }
}

/// Where one blob stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Stage {
    /// Not yet announced to the server.
    New,
    /// Announced at `url`; `offset` bytes are known to be there, unless `unsure` (after a
    /// failure), when the server is asked first.
    Sending {
        url: String,
        offset: u64,
        unsure: bool,
    },
    Done,
    /// The server refused it for good (too large, not media, over quota): shown to the
    /// person, not retried.
    Refused {
        reason: String,
    },
}

/// One blob a record needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub sha256: String,
    pub size: u64,
    pub media_type: String,
    pub document: DocumentId,
    pub record: String,
    pub stage: Stage,
    /// Failures in a row, for the backoff.
    pub failures: u32,
    pub not_before: Millis,
}

/// A request to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// `POST /files/` with `Upload-Length: size` and metadata `sha256`, `filetype`,
    /// `document` (an `automerge:` URL) and `record`; report with [`UploadQueue::created`].
    Create {
        sha256: String,
        size: u64,
        media_type: String,
        document: String,
        record: String,
    },
    /// `HEAD url`; report the `Upload-Offset` with [`UploadQueue::reached`].
    Ask { sha256: String, url: String },
    /// `PATCH url` with bytes `offset..offset + length` of the blob; report the answer's
    /// `Upload-Offset` with [`UploadQueue::reached`].
    Send {
        sha256: String,
        url: String,
        offset: u64,
        length: u64,
    },
}

/// How a request failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "failure", rename_all = "snake_case")]
pub enum Failure {
    /// No answer, a server fault, a conflict: try again later.
    Retry,
    /// The upload is gone (expired, `404`): start it again.
    Gone,
    /// Refused for good, with the server's reason.
    Refused { reason: String },
}

/// What the person sees.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub files: Vec<FileProgress>,
    pub total_bytes: u64,
    pub sent_bytes: u64,
    /// Blobs still to send.
    pub waiting: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileProgress {
    pub sha256: String,
    pub media_type: String,
    pub size: u64,
    pub sent: u64,
    pub done: bool,
    pub refused: Option<String>,
    /// Waits for Wi-Fi by the person's choice: sent only on an unmetered connection.
    pub unmetered_only: bool,
}

/// The queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadQueue {
    items: BTreeMap<String, Item>,
    pub policy: Policy,
}

impl UploadQueue {
    /// Queues every blob the records of `document` reference (from its projection) that this
    /// device holds (`held` says which), once. A blob someone else attached (the township's
    /// photo on a problem the branch reads) is theirs to send: queuing it here would show an
    /// upload that never moves.
    pub fn need_document(
        &mut self,
        document: DocumentId,
        projection: &Projection,
        held: impl Fn(&str) -> bool,
        now: Millis,
    ) {
        for media in projection.media.iter().filter(|m| held(&m.sha256)) {
            self.items
                .entry(media.sha256.clone())
                .or_insert_with(|| Item {
                    sha256: media.sha256.clone(),
                    size: u64::try_from(media.size).unwrap_or(0),
                    media_type: media.media_type.clone(),
                    document,
                    record: media.key.clone(),
                    stage: Stage::New,
                    failures: 0,
                    not_before: now,
                });
        }
    }

    pub fn item(&self, sha256: &str) -> Option<&Item> {
        self.items.get(sha256)
    }

    /// The next request to make at `now` on `network`, if any may be made.
    pub fn next(&self, now: Millis, network: Network) -> Option<Action> {
        if network == Network::Offline {
            return None;
        }
        self.items
            .values()
            .filter(|item| item.not_before <= now)
            .filter(|item| network == Network::Unmetered || !self.policy.holds(item))
            // The smallest first: photos and audio reach the branch before a long video.
            .filter(|item| matches!(item.stage, Stage::New | Stage::Sending { .. }))
            .min_by_key(|item| (item.size, item.sha256.clone()))
            .map(|item| match &item.stage {
                Stage::Sending {
                    url, unsure: true, ..
                } => Action::Ask {
                    sha256: item.sha256.clone(),
                    url: url.clone(),
                },
                Stage::Sending { url, offset, .. } => Action::Send {
                    sha256: item.sha256.clone(),
                    url: url.clone(),
                    offset: *offset,
                    length: CHUNK.min(item.size.saturating_sub(*offset)),
                },
                _ => Action::Create {
                    sha256: item.sha256.clone(),
                    size: item.size,
                    media_type: item.media_type.clone(),
                    document: item.document.url(),
                    record: item.record.clone(),
                },
            })
    }

    /// The server created the upload at `url`, with `offset` bytes already there (all of
    /// them if it had the file from someone else).
    pub fn created(&mut self, sha256: &str, url: String, offset: u64) {
        if let Some(item) = self.items.get_mut(sha256) {
            item.failures = 0;
            item.stage = Stage::Sending {
                url,
                offset,
                unsure: false,
            };
            settle(item);
        }
    }

    /// The server has `offset` bytes of the blob.
    pub fn reached(&mut self, sha256: &str, offset: u64) {
        if let Some(item) = self.items.get_mut(sha256)
            && let Stage::Sending { url, .. } = &item.stage
        {
            item.failures = 0;
            item.stage = Stage::Sending {
                url: url.clone(),
                offset,
                unsure: false,
            };
            settle(item);
        }
    }

    /// A request for the blob failed at `now`.
    pub fn failed(&mut self, sha256: &str, failure: Failure, now: Millis) {
        let Some(item) = self.items.get_mut(sha256) else {
            return;
        };
        match failure {
            Failure::Retry => {
                item.failures = item.failures.saturating_add(1);
                item.not_before = Millis(now.0 + backoff_ms(item.failures));
                if let Stage::Sending { unsure, .. } = &mut item.stage {
                    *unsure = true;
                }
            }
            Failure::Gone => {
                item.stage = Stage::New;
                item.not_before = now;
            }
            Failure::Refused { reason } => item.stage = Stage::Refused { reason },
        }
    }

    pub fn progress(&self) -> Progress {
        let mut progress = Progress::default();
        for item in self.items.values() {
            let (sent, done, refused) = match &item.stage {
                Stage::New => (0, false, None),
                Stage::Sending { offset, .. } => (*offset, false, None),
                Stage::Done => (item.size, true, None),
                Stage::Refused { reason } => (0, false, Some(reason.clone())),
            };
            progress.total_bytes += item.size;
            progress.sent_bytes += sent;
            if !done && refused.is_none() {
                progress.waiting += 1;
            }
            progress.files.push(FileProgress {
                sha256: item.sha256.clone(),
                media_type: item.media_type.clone(),
                size: item.size,
                sent,
                done,
                refused,
                unmetered_only: self.policy.holds(item),
            });
        }
        progress
    }
}

/// An upload whose every byte is there is done.
fn settle(item: &mut Item) {
    if let Stage::Sending { offset, .. } = item.stage
        && offset >= item.size
    {
        item.stage = Stage::Done;
    }
}

/// One second, doubling with each failure in a row, at most five minutes.
fn backoff_ms(failures: u32) -> i64 {
    (1000_i64 << failures.saturating_sub(1).min(20)).min(MAX_BACKOFF_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projection::MediaRow;

    fn media(sha: char, size: i64, media_type: &str) -> MediaRow {
        MediaRow {
            collection: "lectures",
            key: "lecture-1".into(),
            field: "media",
            sha256: sha.to_string().repeat(64),
            media_type: media_type.into(),
            size,
        }
    }

    #[test]
    fn with_video_on_wifi_every_video_and_anything_large_wait_and_say_so() {
        let now = Millis(1_791_770_400_000);
        let document = DocumentId::generate().unwrap();
        let projection = Projection {
            media: vec![
                media('a', 900_000, "video/webm"),
                media('b', 6_000_000, "audio/ogg"),
                media('c', 2_000_000, "image/jpeg"),
            ],
            ..Projection::default()
        };
        let mut queue = UploadQueue::default();
        queue.need_document(document, &projection, |_| true, now);
        let waits = |queue: &UploadQueue| -> Vec<bool> {
            queue
                .progress()
                .files
                .iter()
                .map(|f| f.unmetered_only)
                .collect()
        };
        assert_eq!(
            waits(&queue),
            [false, false, false],
            "nothing waits by default"
        );
        queue.policy.large_only_unmetered = true;
        assert_eq!(waits(&queue), [true, true, false]);
        let Some(Action::Create { sha256, .. }) = queue.next(now, Network::Metered) else {
            panic!("the photo goes on mobile data");
        };
        assert_eq!(sha256, "c".repeat(64));
        queue.created(&sha256, "/files/1".into(), 0);
        queue.reached(&sha256, 2_000_000);
        assert_eq!(
            queue.next(now, Network::Metered),
            None,
            "a short video waits too"
        );
        assert!(matches!(
            queue.next(now, Network::Unmetered),
            Some(Action::Create { size: 900_000, .. })
        ));
    }

    #[test]
    fn small_media_go_first_large_wait_for_wifi_and_failures_back_off() {
        let now = Millis(1_791_770_400_000);
        let document = DocumentId::generate().unwrap();
        let projection = Projection {
            media: vec![
                media('a', 80_000_000, "video/mp4"),
                media('b', 2_500_000, "image/jpeg"),
            ],
            ..Projection::default()
        };
        let mut queue = UploadQueue::default();
        queue.policy.large_only_unmetered = true;
        queue.need_document(document, &projection, |_| true, now);
        queue.need_document(document, &projection, |_| true, now);
        assert_eq!(queue.progress().files.len(), 2);
        assert_eq!(queue.next(now, Network::Offline), None);

        // On mobile data only the photo goes.
        let photo = "b".repeat(64);
        let Some(Action::Create { sha256, size, .. }) = queue.next(now, Network::Metered) else {
            panic!("the photo is created first");
        };
        assert_eq!((sha256.as_str(), size), (photo.as_str(), 2_500_000));
        queue.created(&photo, "/files/1".into(), 0);
        assert_eq!(
            queue.next(now, Network::Metered),
            Some(Action::Send {
                sha256: photo.clone(),
                url: "/files/1".into(),
                offset: 0,
                length: CHUNK
            })
        );
        // A cut: wait a second, then ask the server where it is before sending more.
        queue.failed(&photo, Failure::Retry, now);
        assert_eq!(queue.next(now, Network::Metered), None);
        let later = Millis(now.0 + 1_000);
        assert!(matches!(
            queue.next(later, Network::Metered),
            Some(Action::Ask { .. })
        ));
        queue.reached(&photo, 2_000_000);
        let Some(Action::Send { offset, length, .. }) = queue.next(later, Network::Metered) else {
            panic!("the rest is sent");
        };
        assert_eq!((offset, length), (2_000_000, 500_000));
        queue.reached(&photo, 2_500_000);
        assert_eq!(
            queue.next(later, Network::Metered),
            None,
            "the video waits for Wi-Fi"
        );
        assert!(matches!(
            queue.next(later, Network::Unmetered),
            Some(Action::Create {
                size: 80_000_000,
                ..
            })
        ));
        let progress = queue.progress();
        assert_eq!(
            (progress.sent_bytes, progress.total_bytes, progress.waiting),
            (2_500_000, 82_500_000, 1)
        );

        // Backoff doubles and stops at five minutes.
        assert_eq!(backoff_ms(1), 1_000);
        assert_eq!(backoff_ms(3), 4_000);
        assert_eq!(backoff_ms(40), MAX_BACKOFF_MS);
        // The queue survives being saved and restored.
        let saved = serde_json::to_string(&queue).unwrap();
        assert_eq!(serde_json::from_str::<UploadQueue>(&saved).unwrap(), queue);
    }

    #[test]
    fn only_what_this_device_holds_is_queued() {
        let now = Millis(1_791_770_400_000);
        let projection = Projection {
            media: vec![
                media('a', 2_000, "image/jpeg"),
                media('b', 3_000, "image/jpeg"),
            ],
            ..Projection::default()
        };
        let mut queue = UploadQueue::default();
        let mine = "a".repeat(64);
        queue.need_document(
            DocumentId::generate().unwrap(),
            &projection,
            |sha256| sha256 == mine,
            now,
        );
        let files = queue.progress().files;
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].sha256, mine);
    }

    #[test]
    fn a_refused_blob_stops_and_a_gone_upload_starts_again() {
        let now = Millis(1_791_770_400_000);
        let projection = Projection {
            media: vec![
                media('c', 1_000, "image/png"),
                media('d', 2_000, "audio/mp4"),
            ],
            ..Projection::default()
        };
        let mut queue = UploadQueue::default();
        queue.need_document(DocumentId::generate().unwrap(), &projection, |_| true, now);
        let (png, audio) = ("c".repeat(64), "d".repeat(64));
        queue.failed(
            &png,
            Failure::Refused {
                reason: "quota".into(),
            },
            now,
        );
        queue.created(&audio, "/files/2".into(), 0);
        queue.failed(&audio, Failure::Gone, now);
        assert!(matches!(
            queue.next(now, Network::Metered),
            Some(Action::Create { size: 2_000, .. })
        ));
        // A blob the server had already is done at creation.
        queue.created(&audio, "/files/3".into(), 2_000);
        assert_eq!(queue.next(now, Network::Metered), None);
        let progress = queue.progress();
        assert_eq!(progress.waiting, 0);
        assert_eq!(progress.files[0].refused.as_deref(), Some("quota"));
        assert!(progress.files[1].done);
    }
}
