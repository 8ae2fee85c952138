//! Writing documents on the server as a given person: the demo, the end-to-end tests and the
//! benchmarks make records the way a phone would (through client-core's operations, each
//! person with an Automerge actor of their own, bound to them) without a phone in between.
//! What it stores passes every check a phone's changes pass, and carries its projection.

use automerge::{ActorId, ChangeHash};
use client_core::ops::{ReviewDecision, Reviewable};
use client_core::{
    Branch, DocKind, Document, DocumentError, DocumentId, Ledger, Limits, Millis, Notebook,
    OpError, Principal, RecordId, Supervision, projection,
};

use crate::store::{Store, StoreError, Write};
use crate::sync::Hub;

/// Why a write could not be made.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("document {0} is not stored")]
    Missing(DocumentId),
    #[error("stored document {0} does not load: {1}")]
    Document(DocumentId, Box<DocumentError>),
    #[error("operation refused: {0}")]
    Refused(Box<OpError>),
}

// Boxed: Automerge's errors are large, and these travel through every `Result` here.
impl From<OpError> for WriteError {
    fn from(error: OpError) -> Self {
        WriteError::Refused(Box::new(error))
    }
}

/// Writes changes at `now` to the documents of `store`, and hands them to the sync hub of a
/// running server if it has one, so that peers syncing those documents get them at once.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    store: &'a Store,
    hub: Option<&'a Hub>,
    now: Millis,
}

impl<'a> Writer<'a> {
    pub fn new(store: &'a Store, now: Millis) -> Self {
        Writer {
            store,
            hub: None,
            now,
        }
    }

    /// The same, handing what it stores to `hub`.
    pub fn through(self, hub: Option<&'a Hub>) -> Self {
        Writer { hub, ..self }
    }

    pub fn now(&self) -> Millis {
        self.now
    }
}

macro_rules! edit_as {
    ($(#[$doc:meta])* $method:ident, $handle:ident, $kind:ident) => {
        $(#[$doc])*
        pub async fn $method<T, E: From<WriteError>>(
            &self,
            document: DocumentId,
            by: &Principal,
            edit: impl FnOnce(&mut $handle) -> Result<T, E>,
        ) -> Result<T, E> {
            let bytes = self.bytes(document).await?;
            let mut handle = $handle::load(&bytes, Limits::default())
                .map_err(|e| WriteError::Document(document, Box::new(e)))?;
            let begun = begin(handle.document_mut());
            let done = edit(&mut handle)?;
            self.finish(document, DocKind::$kind, by, handle.document_mut(), begun)
                .await?;
            Ok(done)
        }
    };
}

impl Writer<'_> {
    edit_as!(
        /// Runs `edit` on a notebook as `by`, and stores what it changed.
        notebook, Notebook, Notebook
    );
    edit_as!(
        /// Runs `edit` on a branch document as `by`, and stores what it changed.
        branch, Branch, Branch
    );
    edit_as!(
        /// Runs `edit` on a branch's ledger as `by`, and stores what it changed.
        ledger, Ledger, Ledger
    );
    edit_as!(
        /// Runs `edit` on a branch's supervision document as `by`, and stores what it changed.
        supervision, Supervision, Supervision
    );

    /// A member's record as his notebook stores it.
    pub async fn record<T: Reviewable>(
        &self,
        notebook: DocumentId,
        id: RecordId,
    ) -> Result<T, WriteError> {
        let bytes = self.bytes(notebook).await?;
        let held = Notebook::load(&bytes, Limits::default())
            .map_err(|e| WriteError::Document(notebook, Box::new(e)))?;
        Ok(held.require::<T>(&id.to_string())?)
    }

    /// Reviews a member's record in `branch` as `by`, who reads it in its notebook first, as
    /// an admin's phone does: an approval carries what the record counts.
    pub async fn review<T: Reviewable>(
        &self,
        branch: DocumentId,
        by: &Principal,
        decision: ReviewDecision,
    ) -> Result<RecordId, WriteError> {
        let read: T = self
            .record(decision.record.notebook, decision.record.id)
            .await?;
        self.branch(branch, by, |b| {
            Ok::<_, WriteError>(b.review(by, self.now, decision, &read)?)
        })
        .await
    }

    /// A stored document, whole.
    pub async fn bytes(&self, document: DocumentId) -> Result<Vec<u8>, WriteError> {
        self.store
            .load_document(document)
            .await?
            .ok_or(WriteError::Missing(document))
    }

    /// Stores what `doc` gained since `begin`, its actor bound to `by`, with the projection
    /// of the records it touched.
    async fn finish(
        &self,
        document: DocumentId,
        kind: DocKind,
        by: &Principal,
        doc: &mut Document,
        (actor, before): (ActorId, Vec<ChangeHash>),
    ) -> Result<(), WriteError> {
        let changes = doc.automerge().get_changes(&before);
        if changes.is_empty() {
            return Ok(());
        }
        let raw: Vec<Vec<u8>> = changes.iter().map(|c| c.raw_bytes().to_vec()).collect();
        let write = Write {
            document,
            projection: projection::project_changes(doc.automerge(), kind, &changes),
            changes,
            actors: vec![(actor, by.user)],
            audit: Vec::new(),
            at: self.now,
        };
        self.store.append_changes(write).await?;
        if let Some(hub) = self.hub {
            hub.stored(document, raw).await;
        }
        Ok(())
    }
}

/// Gives `doc` an actor of its own, for one person's edit; returns it and where it began.
fn begin(doc: &mut Document) -> (ActorId, Vec<ChangeHash>) {
    let actor = ActorId::random();
    doc.set_actor(actor.clone());
    (actor, doc.heads())
}
