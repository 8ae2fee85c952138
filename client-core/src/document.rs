//! Documents: the unit of replication and of permission.
//!
//! A [`Document`] wraps an Automerge document with the [`Scope`] the server gave it when it
//! created it. The typed handles in [`crate::ops`] ([`crate::Notebook`], [`crate::Branch`],
//! [`crate::Ledger`], [`crate::Supervision`]) carry the operations of each kind.

use automerge::{
    ActorId, Automerge, ChangeHash, ObjType, ROOT, ReadDoc, transaction::Transactable,
};
use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::access::{self, Action, Denied, Principal};
use crate::ids::{BranchId, TownshipId, UserId};
use crate::model::domain_enum;
use crate::schema::Collection;
use crate::time::Millis;
use crate::validate::{self, Context, Elections, Limits, Touched, Violation};

domain_enum!(
    /// The four kinds of document, one per permission boundary.
    DocKind {
        /// Roster, plans, schedule, meetings, reviews, elections, rectifications, feed.
        Branch = "branch",
        /// One member's lectures, services, visits, ballots and pledges.
        Notebook = "notebook",
        /// Private data about the branch's members.
        Ledger = "ledger",
        /// The township's notes, problem list and assessment of one branch.
        Supervision = "supervision",
    }
);

/// The version of the document layout this code writes and reads.
pub const SCHEMA_VERSION: i64 = 1;

/// What a document is and whom it belongs to: fixed by the server at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub kind: DocKind,
    pub branch: BranchId,
    pub township: TownshipId,
    /// The member whose notebook this is; `None` for other kinds.
    #[serde(default)]
    pub owner: Option<UserId>,
}

/// The `meta` map of every document.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
struct Meta {
    kind: DocKind,
    schema: i64,
    branch: BranchId,
    township: TownshipId,
    owner: Option<UserId>,
    created_at: Millis,
}

/// Why a document could not be created, loaded or changed.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("{size} bytes is more than the {max} a document may have")]
    TooLarge { size: usize, max: usize },
    #[error("not an Automerge document: {0}")]
    Undecodable(#[from] automerge::AutomergeError),
    #[error("the document could not be written: {0}")]
    Reconcile(#[from] autosurgeon::ReconcileError),
    #[error("the document has no readable meta: {0}")]
    NoMeta(#[from] autosurgeon::HydrateError),
    #[error("this is a {found} document, not a {expected} one")]
    WrongKind { expected: DocKind, found: DocKind },
    #[error(transparent)]
    Invalid(#[from] Violation),
}

/// Why an operation was refused. Nothing is written when an operation fails.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Invalid(#[from] Violation),
    #[error("no {collection} record {key}")]
    NotFound {
        collection: &'static str,
        key: String,
    },
    #[error("{0}")]
    NotAllowed(&'static str),
    #[error("the document could not be changed: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    #[error("a record could not be written: {0}")]
    Reconcile(#[from] autosurgeon::ReconcileError),
    #[error("a record could not be read: {0}")]
    Hydrate(#[from] autosurgeon::HydrateError),
    #[error(transparent)]
    Id(#[from] crate::ids::IdError),
}

/// An Automerge document together with what it is.
#[derive(Debug)]
pub struct Document {
    doc: Automerge,
    scope: Scope,
    limits: Limits,
    /// Heads at the last save, so saving after an edit writes only the new changes.
    saved_heads: Vec<ChangeHash>,
}

impl Document {
    /// Creates the empty document of `scope`: its meta and every collection of its kind.
    /// Only the server does this; a client cannot introduce a document.
    pub fn create(scope: Scope, now: Millis) -> Result<Self, DocumentError> {
        let mut doc = Automerge::new();
        let meta = Meta {
            kind: scope.kind,
            schema: SCHEMA_VERSION,
            branch: scope.branch,
            township: scope.township,
            owner: scope.owner,
            created_at: now,
        };
        let mut tx = doc.transaction();
        autosurgeon::reconcile_prop(&mut tx, ROOT, "meta", &meta)?;
        for collection in Collection::of_kind(scope.kind) {
            tx.put_object(ROOT, collection.name, ObjType::Map)?;
        }
        tx.commit_with(commit_options(now));
        let document = Self {
            doc,
            scope,
            limits: Limits::default(),
            saved_heads: Vec::new(),
        };
        document.validate()?;
        Ok(document)
    }

    /// Loads a saved document (whole or as saved incrementally, concatenated), refusing
    /// anything larger than the limit before decoding it.
    pub fn load(bytes: &[u8], limits: Limits) -> Result<Self, DocumentError> {
        if bytes.len() > limits.max_document_bytes {
            return Err(DocumentError::TooLarge {
                size: bytes.len(),
                max: limits.max_document_bytes,
            });
        }
        let doc = Automerge::load(bytes)?;
        let meta: Meta = autosurgeon::hydrate_prop(&doc, ROOT, "meta")?;
        let scope = Scope {
            kind: meta.kind,
            branch: meta.branch,
            township: meta.township,
            owner: meta.owner,
        };
        let saved_heads = doc.get_heads();
        Ok(Self {
            doc,
            scope,
            limits,
            saved_heads,
        })
    }

    /// Loads a document and checks that it is of the expected kind.
    pub fn load_kind(bytes: &[u8], kind: DocKind, limits: Limits) -> Result<Self, DocumentError> {
        let document = Self::load(bytes, limits)?;
        if document.scope.kind != kind {
            return Err(DocumentError::WrongKind {
                expected: kind,
                found: document.scope.kind,
            });
        }
        Ok(document)
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    pub fn automerge(&self) -> &Automerge {
        &self.doc
    }

    /// Sets the actor id this device writes with (registered with the server per device).
    pub fn set_actor(&mut self, actor: ActorId) {
        self.doc.set_actor(actor);
    }

    /// The whole document, compressed.
    pub fn save(&mut self) -> Vec<u8> {
        self.saved_heads = self.doc.get_heads();
        self.doc.save()
    }

    /// Only the changes since the last save: appended to what was stored, they load as the
    /// whole document. This is what a device writes after every edit.
    pub fn save_incremental(&mut self) -> Vec<u8> {
        let bytes = self.doc.save_after(&self.saved_heads);
        self.saved_heads = self.doc.get_heads();
        bytes
    }

    /// Applies changes that are already stored (a device storing what the server sent), without
    /// checks, so that the next incremental save does not write them again. Returns whatever
    /// had not been saved before, which the caller must store.
    pub fn apply_stored(&mut self, changes: &[u8]) -> Result<Vec<u8>, DocumentError> {
        let unsaved = self.save_incremental();
        self.doc.load_incremental(changes)?;
        self.saved_heads = self.doc.get_heads();
        Ok(unsaved)
    }

    /// Merges changes received from elsewhere (another replica, or storage), without checks:
    /// for a device applying what the server already accepted.
    pub fn merge(&mut self, other: &mut Document) -> Result<(), DocumentError> {
        self.doc.merge(&mut other.doc)?;
        Ok(())
    }

    pub fn heads(&self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Checks the whole document against its schema, as the server does on load.
    pub fn validate(&self) -> Result<(), Violation> {
        validate::validate_document(&self.doc, &self.context(&[], None))
    }

    fn context<'a>(
        &self,
        authors: &'a [Principal],
        elections: Option<&'a dyn Elections>,
    ) -> Context<'a> {
        Context {
            scope: self.scope,
            authors,
            elections,
            limits: self.limits,
            rules: validate::RULES,
        }
    }

    /// Reads one record.
    pub fn get<T: Hydrate>(
        &self,
        collection: &Collection,
        key: &str,
    ) -> Result<Option<T>, OpError> {
        let Some(obj) = self.collection_obj(collection) else {
            return Ok(None);
        };
        match self.doc.get(&obj, key)? {
            None => Ok(None),
            Some(_) => Ok(Some(autosurgeon::hydrate_prop(&self.doc, &obj, key)?)),
        }
    }

    /// Reads every record of a collection that can be read as `T`, in key order.
    ///
    /// A record that cannot be read (possible only in a document that was never validated) is
    /// skipped rather than hiding every other record.
    pub fn records<T: Hydrate>(&self, collection: &Collection) -> Vec<(String, T)> {
        let Some(obj) = self.collection_obj(collection) else {
            return Vec::new();
        };
        self.doc
            .keys(&obj)
            .filter_map(|key| {
                let record = autosurgeon::hydrate_prop(&self.doc, &obj, key.as_str()).ok()?;
                Some((key, record))
            })
            .collect()
    }

    fn collection_obj(&self, collection: &Collection) -> Option<automerge::ObjId> {
        match self.doc.get(ROOT, collection.name) {
            Ok(Some((automerge::Value::Object(ObjType::Map), obj))) => Some(obj),
            Ok(_) | Err(_) => None,
        }
    }

    /// Writes one record as `by`, after checking `by` may write this document and that the
    /// result passes validation. On any failure the transaction is rolled back: the document
    /// is exactly as it was.
    pub(crate) fn write<T: Reconcile>(
        &mut self,
        by: &Principal,
        now: Millis,
        collection: &'static Collection,
        key: &str,
        record: &T,
        elections: Option<&dyn Elections>,
    ) -> Result<(), OpError> {
        access::check(by, &self.scope, Action::Write)?;
        let before = self.doc.get_heads();
        let obj = self.collection_obj(collection).ok_or(Violation::Missing {
            path: collection.name.into(),
        })?;
        let authors = std::slice::from_ref(by);
        let ctx = Context {
            scope: self.scope,
            authors,
            elections,
            limits: self.limits,
            rules: validate::RULES,
        };
        let mut tx = self.doc.transaction();
        if let Err(error) = autosurgeon::reconcile_prop(&mut tx, &obj, key, record) {
            tx.rollback();
            return Err(error.into());
        }
        let touched: Touched = [(collection.name, key.to_owned())].into_iter().collect();
        match validate::check_touched(&tx, &before, &touched, &ctx) {
            Ok(()) => {
                tx.commit_with(commit_options(now));
                Ok(())
            }
            Err(violation) => {
                tx.rollback();
                Err(violation.into())
            }
        }
    }
}

fn commit_options(now: Millis) -> automerge::transaction::CommitOptions {
    // Automerge change times are in seconds, as in the JavaScript implementation.
    automerge::transaction::CommitOptions::default().with_time(now.0.div_euclid(1000))
}
