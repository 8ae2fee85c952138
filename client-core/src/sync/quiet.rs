//! A quiet reconnect: a device names in its `join` the documents it believes it shares with
//! the server, each with a digest of its heads, and sends nothing more for them.
//!
//! A device knows from its saved sync state which heads it last shared with the server. Where
//! a document's heads are still those, it has nothing to offer, and only the server can say
//! whether it has news. Without this, the device sends one `sync` frame a document to show its
//! heads (about 190 bytes, most of them the frame's envelope); with it, 24 bytes in the
//! handshake it sends anyway. The server takes each entry as the sync message the device
//! would have sent when the digest matches heads it knows (its own, or those it last shared
//! with the device), and opens the exchange itself when it does not.
//!
//! It is our extension of `join`'s `peerMetadata` (`quiet`, bytes), like `rules`: a stock
//! server ignores it and sends no `quiet` back in `peer`, and the device then syncs every
//! document as before. A stock client never sends it.

use std::collections::BTreeMap;

use automerge::ChangeHash;
use automerge::sync::State;
use sha2::{Digest as _, Sha256};

use super::message::StorageId;
use crate::ids::DocumentId;

/// The first bytes of the SHA-256 of a document's heads. Eight are plenty: a device only
/// vouches for its own heads, so a collision could fool no one but itself, once in 2^64.
pub type HeadsDigest = [u8; 8];

/// Each entry: the document's 16-byte id, then the digest of its heads.
const ENTRY: usize = 16 + 8;

/// The most documents one `join` may name; a longer list is ignored whole (the device then
/// syncs as a stock client would). A branch secretary holds a few dozen.
pub const MOST_DOCUMENTS: usize = 4096;

/// The digest of `heads` (as Automerge orders them).
pub fn digest(heads: &[ChangeHash]) -> HeadsDigest {
    let mut hasher = Sha256::new();
    for head in heads {
        hasher.update(head.0);
    }
    let whole = hasher.finalize();
    let mut digest = [0; 8];
    digest.copy_from_slice(&whole[..8]);
    digest
}

/// The heads a device last shared with each server (by its storage id) for each document,
/// from the sync states it saved, for
/// [`Event::Connected`](super::engine::Event::Connected).
pub fn last_shared(
    saved: &BTreeMap<(StorageId, DocumentId), Vec<u8>>,
) -> Vec<(StorageId, DocumentId, Vec<ChangeHash>)> {
    saved
        .iter()
        .filter_map(|((storage, document), bytes)| {
            let shared = State::decode(bytes).ok()?.shared_heads;
            Some((storage.clone(), *document, shared))
        })
        .collect()
}

/// The list as `join` carries it.
pub fn encode(documents: &[(DocumentId, HeadsDigest)]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(documents.len() * ENTRY);
    for (document, digest) in documents {
        bytes.extend_from_slice(document.as_bytes());
        bytes.extend_from_slice(digest);
    }
    bytes
}

/// The list a `join` carries, or `None` if it is not one (a length that is not a whole number
/// of entries, or more than [`MOST_DOCUMENTS`]).
pub fn decode(bytes: &[u8]) -> Option<Vec<(DocumentId, HeadsDigest)>> {
    if !bytes.len().is_multiple_of(ENTRY) || bytes.len() / ENTRY > MOST_DOCUMENTS {
        return None;
    }
    let entries = bytes.chunks_exact(ENTRY).map(|entry| {
        let (id, digest) = entry.split_at(16);
        let id: [u8; 16] = id.try_into().expect("16 bytes");
        let digest: HeadsDigest = digest.try_into().expect("8 bytes");
        (DocumentId::from_bytes(id), digest)
    });
    Some(entries.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_reads_back_as_written_and_anything_else_is_no_list() {
        let documents = vec![
            (
                DocumentId::from_bytes([1; 16]),
                digest(&[ChangeHash([7; 32])]),
            ),
            (DocumentId::from_bytes([2; 16]), digest(&[])),
        ];
        let bytes = encode(&documents);
        assert_eq!(bytes.len(), 48);
        assert_eq!(decode(&bytes), Some(documents));
        assert_eq!(decode(&[]), Some(vec![]));
        assert_eq!(decode(&bytes[..47]), None);
        assert_eq!(decode(&vec![0; ENTRY * (MOST_DOCUMENTS + 1)]), None);
        assert_eq!(
            decode(&vec![0; ENTRY * MOST_DOCUMENTS]).map(|l| l.len()),
            Some(MOST_DOCUMENTS)
        );
    }

    #[test]
    fn the_digest_depends_on_every_head_and_their_order() {
        let (a, b) = (ChangeHash([1; 32]), ChangeHash([2; 32]));
        assert_ne!(digest(&[a]), digest(&[b]));
        assert_ne!(digest(&[a, b]), digest(&[b, a]));
        assert_ne!(digest(&[a]), digest(&[a, b]));
    }
}
