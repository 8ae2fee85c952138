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

    /// Holds a document again that [`Documents::take`] handed over.
    pub fn insert_held(&mut self, id: DocumentId, held: Held) {
        self.held.insert(id, held);
    }

    /// Stops holding a document, handing it over.
    pub fn take(&mut self, id: DocumentId) -> Option<Held> {
        self.held.remove(&id)
    }

    /// The branch document of `branch`, if held.
    pub fn branch_of(&self, branch: crate::ids::BranchId) -> Option<&Branch> {
        self.held.values().find_map(|held| match held {
            Held::Branch(doc) if doc.document().scope().branch == branch => Some(doc),
            _ => None,
        })
    }

    /// The ids of the documents held.
    pub fn ids(&self) -> Vec<DocumentId> {
        self.held.keys().copied().collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Principal, Role};
    use crate::document::Scope;
    use crate::ids::{BranchId, RecordId, TownshipId, UserId};
    use crate::model::branch::{BranchRole, Candidate, Election, RosterEntry};
    use crate::time::Millis;

    const NOW: Millis = Millis(1_791_770_400_000);

    #[test]
    fn documents_are_held_by_id_and_typed_by_kind() {
        let (branch_id, township) = (
            BranchId::generate().unwrap(),
            TownshipId::generate().unwrap(),
        );
        let admin = Principal {
            user: UserId::generate().unwrap(),
            role: Role::BranchAdmin,
            branch: Some(branch_id),
            township: Some(township),
        };
        let member = Principal {
            user: UserId::generate().unwrap(),
            role: Role::Member,
            ..admin.clone()
        };
        let scope = |kind, owner| Scope {
            kind,
            branch: branch_id,
            township,
            owner,
        };
        let (branch_doc, notebook_doc) = (
            DocumentId::generate().unwrap(),
            DocumentId::generate().unwrap(),
        );

        let mut branch = Branch::create(scope(DocKind::Branch, None), NOW).unwrap();
        let entry = RosterEntry {
            name: "贺俊爱".into(),
            role: BranchRole::Member,
            notebook: notebook_doc,
            joined_at: NOW,
            left_at: None,
            silver: false,
            lecturer: false,
        };
        branch
            .enrol_member(&admin, NOW, member.user, entry)
            .unwrap();
        let candidate = RecordId::generate(NOW).unwrap();
        let election = Election {
            title: "发展之星".into(),
            candidates: vec![Candidate {
                id: candidate,
                label: "贺俊爱".into(),
                member: Some(member.user),
            }],
            max_choices: 1,
            opens_at: NOW,
            closes_at: Millis(NOW.0 + 86_400_000),
            created_by: admin.user,
            created_at: NOW,
            result: None,
            withdrawn: None,
        };
        let election_id = branch.create_election(&admin, NOW, election).unwrap();
        let mut notebook =
            Notebook::create(scope(DocKind::Notebook, Some(member.user)), NOW).unwrap();

        let mut documents = Documents::new();
        documents
            .open(branch_doc, &branch.document_mut().save())
            .unwrap();
        documents
            .open(notebook_doc, &notebook.document_mut().save())
            .unwrap();
        assert!(matches!(
            documents.notebook(branch_doc),
            Err(HeldError::WrongKind { .. })
        ));
        assert!(matches!(
            documents.ledger_mut(DocumentId::generate().unwrap()),
            Err(HeldError::NotOpen(_))
        ));

        documents
            .cast_ballot(
                notebook_doc,
                branch_doc,
                &member,
                Millis(NOW.0 + 60_000),
                election_id,
                vec![candidate],
            )
            .unwrap();
        // A refused ballot leaves the notebook in place.
        assert!(
            documents
                .cast_ballot(notebook_doc, branch_doc, &member, NOW, election_id, vec![])
                .is_err()
        );
        let branch = documents.branch(branch_doc).unwrap();
        assert_eq!(documents.notebooks_of(branch).len(), 1);
        assert_eq!(documents.ballots(branch, election_id).len(), 1);
    }
}
