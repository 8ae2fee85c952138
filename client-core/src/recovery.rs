//! Putting a person's work back after the server refused changes to a document.
//!
//! Automerge changes are hash-linked: once the server refuses one change of a phone's, every
//! later change that phone makes to the document depends on it and can never be accepted.
//! So the phone starts again from what the server keeps and writes the person's work again
//! on top of it, record by record, through the same validated write every operation uses,
//! with the rules as the phone knows them now (the person's role and branch, the branch's
//! elections). What passes becomes new changes and syncs; what does not comes back to the
//! person as a [`Returned`] item: the record as they wrote it and the rule, never lost.
//!
//! Each step can be taken again after a crash and ends the same: the rebuild only drops
//! changes the server refused, and the replay writes only records that still differ from
//! what the person saw.

use automerge::{ActorId, Automerge, ChangeHash, ReadDoc};
use serde::{Deserialize, Serialize};

use crate::access::Principal;
use crate::document::{Document, DocumentError, OpError};
use crate::ids::DocumentId;
use crate::model::with_record_type;
use crate::schema::Collection;
use crate::time::Millis;
use crate::validate::{Elections, Limits};

/// What a phone keeps of a refused document before it changes anything: the document as the
/// person saw it, and what the server said. The app stores it durably first, and gives it
/// back to [`crate::replica::Replica::recover`] until the recovery is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantine {
    pub document: DocumentId,
    /// The whole document as the person saw it, refused changes included.
    #[serde(with = "serde_bytes")]
    pub saved: Vec<u8>,
    pub rule: String,
    pub message: String,
    /// The server's heads when it refused (hex): what it keeps.
    pub heads: Vec<String>,
    /// The refused changes (hex).
    pub refused: Vec<String>,
}

impl Quarantine {
    pub fn server_heads(&self) -> Vec<ChangeHash> {
        hashes(&self.heads)
    }

    pub fn refused_changes(&self) -> Vec<ChangeHash> {
        hashes(&self.refused)
    }
}

fn hashes(hex: &[String]) -> Vec<ChangeHash> {
    hex.iter().filter_map(|h| h.parse().ok()).collect()
}

/// A record the person wrote that could not be put back: shown to them with the rule, to fix
/// and send again, send where it now belongs, or discard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Returned {
    pub document: DocumentId,
    pub collection: String,
    pub key: String,
    /// The record as the person last wrote it, as its type serializes.
    pub record: ciborium::Value,
    /// Why it could not be put back, as the rule the write broke now.
    pub rule: String,
    pub message: String,
    /// What the server said when it refused the changes.
    pub refused_for: String,
}

/// The document at what the server keeps: `held` without the refused changes (and anything
/// built on them). Heads the phone has not received yet are left for sync to bring.
pub fn rebuild(
    held: &Document,
    quarantine: &Quarantine,
    actor: ActorId,
) -> Result<Document, DocumentError> {
    let doc = held.automerge();
    let known: Vec<ChangeHash> = quarantine
        .server_heads()
        .into_iter()
        .filter(|h| doc.get_change_by_hash(h).is_some())
        .collect();
    let mut forked: Automerge = doc.fork_at(&known)?;
    forked.set_actor(actor);
    let mut rebuilt = Document::load_kind(&forked.save(), held.scope().kind, Limits::default())?;
    rebuilt.set_actor(forked.get_actor().clone());
    Ok(rebuilt)
}

/// Whether `held` still holds any of the refused changes (the rebuild is still to do).
pub fn holds_refused(held: &Document, quarantine: &Quarantine) -> bool {
    quarantine
        .refused_changes()
        .iter()
        .any(|h| held.automerge().get_change_by_hash(h).is_some())
}

/// Writes again, as `by`, every record `saved` holds that differs from `target`; returns
/// those that the rules refuse now. With `trust_rules` false (the server refused what the
/// phone's rules passed, so they differ), nothing is written and every such record returns,
/// with the server's rule.
#[allow(clippy::too_many_arguments)]
pub fn replay(
    document: DocumentId,
    target: &mut Document,
    saved: &Document,
    quarantine: &Quarantine,
    by: &Principal,
    now: Millis,
    elections: Option<&dyn Elections>,
    trust_rules: bool,
) -> Vec<Returned> {
    let mut returned = Vec::new();
    for collection in Collection::of_kind(target.scope().kind) {
        with_record_type!(collection.name, T => {
            for (key, record) in saved.records::<T>(collection) {
                if target.get::<T>(collection, &key).ok().flatten().as_ref() == Some(&record) {
                    continue;
                }
                let refused = if trust_rules {
                    target
                        .write(by, now, collection, &key, &record, elections)
                        .err()
                        .map(|error| (rule_of(&error).to_owned(), error.to_string()))
                } else {
                    Some((quarantine.rule.clone(), quarantine.message.clone()))
                };
                if let Some((rule, message)) = refused {
                    returned.push(Returned {
                        document,
                        collection: collection.name.to_owned(),
                        key,
                        record: ciborium::Value::serialized(&record).unwrap_or(ciborium::Value::Null),
                        rule,
                        message,
                        refused_for: quarantine.rule.clone(),
                    });
                }
            }
        }, _ => {})
    }
    returned
}

/// The stable code of why a write was refused.
fn rule_of(error: &OpError) -> &'static str {
    match error {
        OpError::Invalid(violation) => violation.rule(),
        OpError::Denied(_) => "write_denied",
        OpError::NotFound { .. } => "not_found",
        OpError::NotAllowed(_) => "not_allowed",
        OpError::Automerge(_) | OpError::Reconcile(_) | OpError::Hydrate(_) | OpError::Id(_) => {
            "not_written"
        }
    }
}
