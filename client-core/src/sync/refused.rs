//! What a server remembers of the changes it refused: a phone (or a stock client) that offers
//! the same changes again, or changes built on them, is answered from here, without
//! validating them again and without a new line in the audit log. Bounded: the oldest
//! hashes are forgotten first, and a forgotten change offered again is only validated again.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use automerge::{Change, ChangeHash};

use super::engine::Refusal;
use crate::ids::DocumentId;

/// How many refused change hashes a server remembers. A hash and its entry take about a
/// hundred bytes, so this is a few megabytes at most.
pub const REMEMBERED: usize = 32_768;

/// One refusal, shared by every change it refused.
#[derive(Debug)]
pub struct Remembered {
    pub document: DocumentId,
    pub refusal: Refusal,
    /// The first change refused, which names the refusal in the audit log.
    pub first: ChangeHash,
}

#[derive(Debug)]
pub struct RefusedMemory {
    by_hash: HashMap<ChangeHash, Arc<Remembered>>,
    order: VecDeque<ChangeHash>,
    capacity: usize,
}

impl Default for RefusedMemory {
    fn default() -> Self {
        Self::with_capacity(REMEMBERED)
    }
}

impl RefusedMemory {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            by_hash: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// Remembers that `changes` of `document` were refused for `refusal`.
    pub fn remember(&mut self, document: DocumentId, changes: &[ChangeHash], refusal: Refusal) {
        let Some(&first) = changes.first() else {
            return;
        };
        let remembered = Arc::new(Remembered {
            document,
            refusal,
            first,
        });
        for hash in changes {
            self.insert(*hash, remembered.clone());
        }
    }

    /// The refusal `changes` of `document` fall under, if any was refused before or builds on
    /// one that was; those that build on a refused change are remembered with it.
    pub fn recall(&mut self, document: DocumentId, changes: &[Change]) -> Option<Arc<Remembered>> {
        let refused = |hash: &ChangeHash| {
            self.by_hash
                .get(hash)
                .filter(|r| r.document == document)
                .cloned()
        };
        let found = changes.iter().find_map(|change| {
            refused(&change.hash()).or_else(|| change.deps().iter().find_map(refused))
        })?;
        for change in changes {
            self.insert(change.hash(), found.clone());
        }
        Some(found)
    }

    fn insert(&mut self, hash: ChangeHash, remembered: Arc<Remembered>) {
        if self.by_hash.insert(hash, remembered).is_none() {
            self.order.push_back(hash);
        }
        while self.order.len() > self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.by_hash.remove(&oldest);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};

    use super::*;

    /// `n` changes, each on the one before.
    fn chain(n: usize) -> Vec<Change> {
        let mut doc = AutoCommit::new();
        for i in 0..n {
            doc.put(ROOT, "n", i as i64).unwrap();
            doc.commit();
        }
        doc.get_changes(&[])
    }

    fn refusal() -> Refusal {
        Refusal {
            rule: "not_owner".into(),
            message: "not yours".into(),
        }
    }

    #[test]
    fn what_builds_on_a_refused_change_is_refused_with_it_and_only_in_its_document() {
        let changes = chain(3);
        let document = DocumentId::from_bytes([1; 16]);
        let mut memory = RefusedMemory::default();
        memory.remember(document, &[changes[0].hash()], refusal());
        assert!(
            memory
                .recall(DocumentId::from_bytes([2; 16]), &changes[1..2])
                .is_none()
        );
        let found = memory.recall(document, &changes[1..2]).unwrap();
        assert_eq!(found.first, changes[0].hash());
        // Remembered with it: the next change on it is refused as well.
        assert!(memory.recall(document, &changes[2..3]).is_some());
        assert_eq!(memory.len(), 3);
    }

    #[test]
    fn the_oldest_are_forgotten_first() {
        let changes = chain(4);
        let hashes: Vec<ChangeHash> = changes.iter().map(Change::hash).collect();
        let document = DocumentId::from_bytes([1; 16]);
        let mut memory = RefusedMemory::with_capacity(2);
        memory.remember(document, &hashes[..3], refusal());
        assert_eq!(memory.len(), 2);
        assert!(
            memory.recall(document, &changes[..1]).is_none(),
            "forgotten"
        );
        assert!(
            memory.recall(document, &changes[3..]).is_some(),
            "builds on a remembered one"
        );
    }
}
