//! The documents a device holds, by id: what the PWA and a native device open, edit, and hand
//! to the views. A device holds only what the server let it read.

use std::collections::BTreeMap;

use crate::document::{DocKind, Document, DocumentError};
use crate::ids::DocumentId;
use crate::model::notebook::Ballot;
use crate::ops::{Branch, Ledger, Notebook, Supervision};
use crate::schema;
use crate::validate::Limits;

/// One held document, typed by its kind.
#[derive(Debug)]
pub enum Held {
    Branch(Branch),
    Notebook(Notebook),
    Ledger(Ledger),
    Supervision(Supervision),
}

impl Held {
    pub fn document(&self) -> &Document {
        match self {
            Held::Branch(branch) => branch,
            Held::Notebook(notebook) => notebook,
            Held::Ledger(ledger) => ledger,
            Held::Supervision(supervision) => supervision,
        }
    }

    pub fn document_mut(&mut self) -> &mut Document {
        match self {
            Held::Branch(branch) => branch.document_mut(),
            Held::Notebook(notebook) => notebook.document_mut(),
            Held::Ledger(ledger) => ledger.document_mut(),
            Held::Supervision(supervision) => supervision.document_mut(),
        }
    }
}

impl From<Document> for Held {
    fn from(document: Document) -> Self {
        let kind = document.scope().kind;
        // The conversions below cannot fail: each is chosen by the document's own kind.
        match kind {
            DocKind::Branch => Held::Branch(Branch::from_checked(document)),
            DocKind::Notebook => Held::Notebook(Notebook::from_checked(document)),
            DocKind::Ledger => Held::Ledger(Ledger::from_checked(document)),
            DocKind::Supervision => Held::Supervision(Supervision::from_checked(document)),
        }
    }
}

/// Why a held document could not be used as asked.
#[derive(Debug, thiserror::Error)]
pub enum HeldError {
    #[error("document {0} is not open on this device")]
    NotOpen(DocumentId),
    #[error("document {id} is a {found} document, not a {expected} one")]
    WrongKind {
        id: DocumentId,
        expected: DocKind,
        found: DocKind,
    },
    #[error(transparent)]
    Document(Box<DocumentError>),
    #[error(transparent)]
    Op(Box<crate::document::OpError>),
}

// Boxed: Automerge's errors are large, and these travel through every `Result` here.
impl From<DocumentError> for HeldError {
    fn from(error: DocumentError) -> Self {
        HeldError::Document(Box::new(error))
    }
}

impl From<crate::document::OpError> for HeldError {
    fn from(error: crate::document::OpError) -> Self {
        HeldError::Op(Box::new(error))
    }
}

/// The documents open on one device.
#[derive(Debug, Default)]
pub struct Documents {
    held: BTreeMap<DocumentId, Held>,
}

macro_rules! typed_access {
    ($get:ident, $get_mut:ident, $variant:ident, $type:ty) => {
        pub fn $get(&self, id: DocumentId) -> Result<&$type, HeldError> {
            match self.held.get(&id) {
                Some(Held::$variant(doc)) => Ok(doc),
                Some(other) => Err(self.wrong_kind(id, DocKind::$variant, other)),
                None => Err(HeldError::NotOpen(id)),
            }
        }

        pub fn $get_mut(&mut self, id: DocumentId) -> Result<&mut $type, HeldError> {
            let found = self.held.get(&id).map(|held| held.document().scope().kind);
            match (self.held.get_mut(&id), found) {
                (Some(Held::$variant(doc)), _) => Ok(doc),
                (Some(_), Some(found)) => Err(HeldError::WrongKind {
                    id,
                    expected: DocKind::$variant,
                    found,
                }),
                (_, _) => Err(HeldError::NotOpen(id)),
            }
        }
    };
}

impl Documents {
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens a document from its stored bytes, replacing any copy already held.
    pub fn open(&mut self, id: DocumentId, bytes: &[u8]) -> Result<&Held, HeldError> {
        let document = Document::load(bytes, Limits::default())?;
        self.held.insert(id, Held::from(document));
        self.get(id)
    }

    /// Holds a document made or loaded elsewhere.
    pub fn insert(&mut self, id: DocumentId, document: Document) {
        self.held.insert(id, Held::from(document));
    }

    pub fn get(&self, id: DocumentId) -> Result<&Held, HeldError> {
        self.held.get(&id).ok_or(HeldError::NotOpen(id))
    }

    pub fn get_mut(&mut self, id: DocumentId) -> Result<&mut Held, HeldError> {
        self.held.get_mut(&id).ok_or(HeldError::NotOpen(id))
    }

    typed_access!(branch, branch_mut, Branch, Branch);
    typed_access!(notebook, notebook_mut, Notebook, Notebook);
    typed_access!(ledger, ledger_mut, Ledger, Ledger);
    typed_access!(supervision, supervision_mut, Supervision, Supervision);

    fn wrong_kind(&self, id: DocumentId, expected: DocKind, found: &Held) -> HeldError {
        HeldError::WrongKind {
            id,
            expected,
            found: found.document().scope().kind,
        }
    }

    /// The notebooks held of the members on a branch's roster.
    pub fn notebooks_of(&self, branch: &Branch) -> Vec<&Notebook> {
        branch
            .document()
            .records::<crate::model::branch::RosterEntry>(&schema::ROSTER)
            .into_iter()
            .filter_map(|(_, entry)| self.notebook(entry.notebook).ok())
            .collect()
    }

    /// Casts a member's ballot, checked against the election in the branch document.
    pub fn cast_ballot(
        &mut self,
        notebook: DocumentId,
        branch: DocumentId,
        by: &crate::access::Principal,
        now: crate::time::Millis,
        election: crate::ids::RecordId,
        choices: Vec<crate::ids::RecordId>,
    ) -> Result<(), HeldError> {
        // Take the notebook out while the branch is borrowed, and always put it back.
        let mut held = self
            .held
            .remove(&notebook)
            .ok_or(HeldError::NotOpen(notebook))?;
        let result = match (&mut held, self.branch(branch)) {
            (Held::Notebook(notebook), Ok(branch)) => notebook
                .cast_ballot(by, now, branch, election, choices)
                .map_err(HeldError::from),
            (Held::Notebook(_), Err(error)) => Err(error),
            (other, _) => Err(self.wrong_kind(notebook, DocKind::Notebook, other)),
        };
        self.held.insert(notebook, held);
        result
    }

    /// The ballots cast in one election, from the notebooks held of the branch's members.
    pub fn ballots(&self, branch: &Branch, election: crate::ids::RecordId) -> Vec<Ballot> {
        self.notebooks_of(branch)
            .into_iter()
            .filter_map(|notebook| {
                notebook
                    .get::<Ballot>(&schema::BALLOTS, &election.to_string())
                    .ok()
                    .flatten()
            })
            .collect()
    }
}
