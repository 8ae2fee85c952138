//! Parts shared by records of several kinds.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::domain_enum;
use crate::ids::{DocumentId, RecordId, UserId};
use crate::time::Millis;

/// A photo, audio clip or video attached to a record. The bytes are a blob uploaded on its own;
/// the document holds only this reference.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct MediaRef {
    /// Lower-case hex SHA-256 of the blob: its address in the blob store.
    pub sha256: String,
    pub size: i64,
    /// The media type, such as `video/mp4`; only images, audio and video are allowed.
    pub media_type: String,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub duration_ms: Option<i64>,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub caption: Option<String>,
}

/// Where a record was made, from the phone's location service.
#[derive(Debug, Clone, Copy, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Gps {
    pub lat: f64,
    pub lon: f64,
    /// Radius of the 68% confidence circle, in metres.
    pub accuracy_m: f64,
}

/// A record taken out of use. Records are never deleted, so that history and figures can be
/// explained; a withdrawn record is simply not counted or shown.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Withdrawal {
    pub at: Millis,
    pub by: UserId,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub reason: Option<String>,
}

domain_enum!(
    /// Whether a member's record is still being written or has been handed in for review.
    SubmissionState {
        Draft = "draft",
        Submitted = "submitted",
    }
);

/// A reviewable record's submission: each re-submission after a return is a new revision, and a
/// review applies to the revision it saw.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Submission {
    pub state: SubmissionState,
    pub revision: i64,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub submitted_at: Option<Millis>,
}

impl Submission {
    pub fn draft() -> Self {
        Self {
            state: SubmissionState::Draft,
            revision: 0,
            submitted_at: None,
        }
    }
}

domain_enum!(
    /// The kinds of record a member keeps in their notebook that an admin can review or publish.
    ReviewableKind {
        Lecture = "lecture",
        Service = "service",
        Visit = "visit",
        Pledge = "pledge",
    }
);

/// Points at a record in a member's notebook, from the branch document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct RecordRef {
    pub notebook: DocumentId,
    pub kind: ReviewableKind,
    pub id: RecordId,
}

/// One step of a problem's progress: who moved it forward, and when.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Step {
    pub at: Millis,
    pub by: UserId,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub note: Option<String>,
}

domain_enum!(
    /// Where a rectification stands. It only ever moves forward.
    ProgressStatus {
        Open = "open",
        InProgress = "in_progress",
        Done = "done",
        Verified = "verified",
    }
);

/// The progress of a rectification or a township problem, as one optional step per status.
///
/// Storing each step under its own key, never overwriting, makes progress a grow-only set:
/// two admins advancing the same item offline merge to the furthest step either reached, and
/// "moving backwards" is simply not expressible except by deleting a key, which validation
/// refuses.
#[derive(Debug, Clone, Default, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Progress {
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub in_progress: Option<Step>,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub done: Option<Step>,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub verified: Option<Step>,
}

impl Progress {
    pub fn status(&self) -> ProgressStatus {
        if self.verified.is_some() {
            ProgressStatus::Verified
        } else if self.done.is_some() {
            ProgressStatus::Done
        } else if self.in_progress.is_some() {
            ProgressStatus::InProgress
        } else {
            ProgressStatus::Open
        }
    }

    pub fn step(&self, status: ProgressStatus) -> Option<&Step> {
        match status {
            ProgressStatus::Open => None,
            ProgressStatus::InProgress => self.in_progress.as_ref(),
            ProgressStatus::Done => self.done.as_ref(),
            ProgressStatus::Verified => self.verified.as_ref(),
        }
    }

    pub(crate) fn step_mut(&mut self, status: ProgressStatus) -> Option<&mut Option<Step>> {
        match status {
            ProgressStatus::Open => None,
            ProgressStatus::InProgress => Some(&mut self.in_progress),
            ProgressStatus::Done => Some(&mut self.done),
            ProgressStatus::Verified => Some(&mut self.verified),
        }
    }
}

/// Free text that several people may edit at once, such as meeting minutes.
///
/// It is stored as an Automerge text object and written by diffing against what the document
/// holds, so concurrent edits from two devices interleave instead of one replacing the other.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Prose(pub String);

impl Prose {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Prose {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl Reconcile for Prose {
    type Key<'a> = autosurgeon::reconcile::NoKey;
    fn reconcile<R: autosurgeon::Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        use autosurgeon::reconcile::TextReconciler as _;
        reconciler.text()?.update(&self.0)
    }
}

impl Hydrate for Prose {
    fn hydrate_text<D: autosurgeon::ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
    ) -> Result<Self, autosurgeon::HydrateError> {
        Ok(Self(doc.text(obj)?))
    }
}
