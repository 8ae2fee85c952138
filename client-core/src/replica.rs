//! One device's documents, kept in sync with the server: the typed documents the app reads
//! and changes ([`Documents`]) joined to the sync engine that exchanges them, so that every
//! change, made here or received, reaches both and storage.
//!
//! Like the engine it does no IO. The app calls it and then carries out the [`Task`]s it
//! queued, in order: store bytes, send frames, tell the screens what changed. Two rules
//! matter to the people using the app:
//!
//! - a change made here is queued for storage before anything is sent, so an app that awaits
//!   its [`Task::Store`]s before saying "saved" never says it of something it could lose;
//! - changes from the server are acknowledged to the engine only once the app has stored them
//!   ([`Replica::stored`]), so a crash between receiving and storing costs a re-send, never
//!   data.
//!
//! The engine keeps its own Automerge copy of each document, so each change is applied twice;
//! documents are small (a branch's year is a few hundred kilobytes) and this keeps the engine
//! shared, unchanged, with the server.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use automerge::sync::{self as am_sync};
use automerge::{ActorId, ChangeHash, PatchAction, Prop, ReadDoc};
use serde::Serialize;

use crate::access::Principal;
use crate::document::{Document, DocumentError};
use crate::documents::{Documents, HeldError};
use crate::ids::DocumentId;
use crate::recovery::{self, Quarantine, Returned};
use crate::sync::engine::{ConnectionId, Effect, Engine, Event, Refusal, Side, Trusting};
use crate::sync::message::{PeerId, PeerMetadata, RefusedChanges, StorageId};
use crate::time::Millis;
use crate::validate::{Elections, Limits};

/// The rule a server refuses an app's changes by when the app is older than it still takes:
/// nothing can be put back until the app is updated, so everything returns to the person.
pub const APP_TOO_OLD: &str = "app_too_old";

/// The device's one connection: to the server.
const SERVER: ConnectionId = ConnectionId(1);

/// Something the app must do, in the order queued.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "task", rename_all = "camelCase")]
pub enum Task {
    /// Send a frame to the server.
    Send {
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// Close the connection; `reason` is the server's refusal, if it refused something.
    Close { reason: String },
    /// Append `bytes` to what is stored for `document`; stored chunks, concatenated in order,
    /// load as the whole document. With a `ticket`, report [`Replica::stored`] once durable.
    Store {
        document: DocumentId,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
        ticket: Option<u64>,
    },
    /// Keep the sync state with the server for the next session, replacing the last one.
    SaveSyncState {
        /// The server's storage id, under which the state is restored.
        server: StorageId,
        document: DocumentId,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// A document changed (here or from the server): redraw what shows it.
    Changed { document: DocumentId },
    /// The server does not have `document`, or will not show it to this device.
    Unavailable { document: DocumentId },
    /// The server refused changes made here to a document: store this durably before
    /// anything else, then call [`Replica::recover`] with it (again after a restart, until
    /// [`Task::Recovered`]). The document does not sync until then.
    Quarantine { quarantine: Quarantine },
    /// Every change made here from now on is written with this actor (hex): keep it as the
    /// person's actor on this device.
    Actor { actor: String },
    /// Replace everything stored for `document` (its chunks and its sync state) with `bytes`.
    Replace {
        document: DocumentId,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// A record the person wrote could not be put back: keep it in their returned items
    /// (by document, collection and key: the same item comes again after a restart).
    Returned { item: Returned },
    /// The recovery of `document` is done: its quarantine may go.
    Recovered { document: DocumentId },
}

/// Why a change could not be made or taken.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error(transparent)]
    Held(#[from] HeldError),
    #[error(transparent)]
    Document(Box<DocumentError>),
    #[error("the sync engine does not hold document {0}")]
    NotSyncing(DocumentId),
    #[error("cannot apply changes to document {0}: {1}")]
    Apply(DocumentId, Box<automerge::AutomergeError>),
}

// Boxed: Automerge's errors are large, and these travel through every `Result` here.
impl From<DocumentError> for ReplicaError {
    fn from(error: DocumentError) -> Self {
        ReplicaError::Document(Box::new(error))
    }
}

pub type Result<T, E = ReplicaError> = std::result::Result<T, E>;

/// The documents of one device and their sync with the server.
#[derive(Debug)]
pub struct Replica {
    documents: Documents,
    engine: Engine<Trusting>,
    actor: Option<ActorId>,
    /// Sync states with the server, by the server's storage id, as last saved.
    sync_states: BTreeMap<(StorageId, DocumentId), Vec<u8>>,
    /// What `open` was given, for the engine's load that follows, so that opening a document
    /// does not save it again just to hand the engine its bytes.
    opened: BTreeMap<DocumentId, Vec<u8>>,
    tasks: VecDeque<Task>,
    /// Documents whose refused work was put back in this session.
    recovered: BTreeSet<DocumentId>,
}

impl Replica {
    /// A replica for the device whose storage (its IndexedDB, say) is named `storage`: the
    /// server keeps its sync state with us under that name between connections.
    pub fn new(peer: PeerId, storage: StorageId) -> Self {
        Self::writing_by(peer, storage, crate::validate::RULES)
    }

    /// A replica that tells the server it writes by version `rules` of the rules, as an app
    /// of that version does: what an older app meets, for tests.
    pub fn writing_by(peer: PeerId, storage: StorageId, rules: u32) -> Self {
        let metadata = PeerMetadata {
            storage_id: Some(storage),
            is_ephemeral: Some(false),
            rules: Some(rules),
            quiet: None,
        };
        Self {
            documents: Documents::new(),
            engine: Engine::new(peer, metadata, Side::Client, Trusting),
            actor: None,
            sync_states: BTreeMap::new(),
            opened: BTreeMap::new(),
            tasks: VecDeque::new(),
            recovered: BTreeSet::new(),
        }
    }

    pub fn documents(&self) -> &Documents {
        &self.documents
    }

    /// Holds a document as it was stored (its chunks concatenated) and keeps it in sync.
    pub fn open(&mut self, document: DocumentId, stored: &[u8]) -> Result<()> {
        let mut loaded = Document::load(stored, Limits::default())?;
        if let Some(actor) = &self.actor {
            loaded.set_actor(actor.clone());
        }
        self.documents.insert(document, loaded);
        self.opened.insert(document, stored.to_vec());
        self.sync(document);
        self.opened.remove(&document);
        Ok(())
    }

    /// Keeps a document in sync, asking the server for it if this device has none of it yet.
    pub fn sync(&mut self, document: DocumentId) {
        self.handle(Event::Open { document });
    }

    /// The sync state saved with a [`Task::SaveSyncState`] in an earlier session.
    pub fn restore_sync_state(&mut self, server: StorageId, document: DocumentId, bytes: Vec<u8>) {
        self.sync_states.insert((server, document), bytes);
    }

    /// The actor every change made here is written with (the person's, on this device).
    pub fn set_actor(&mut self, actor: ActorId) {
        for id in self.ids() {
            if let Ok(held) = self.documents.get_mut(id) {
                held.document_mut().set_actor(actor.clone());
            }
        }
        self.actor = Some(actor);
    }

    /// Makes a change to the held documents through `edit` (an operation of client-core),
    /// then queues the change of `document` for storage and for the server. A failed edit
    /// changes nothing and queues nothing.
    pub fn edit<T, E>(
        &mut self,
        document: DocumentId,
        edit: impl FnOnce(&mut Documents) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E>
    where
        E: From<ReplicaError>,
    {
        let done = edit(&mut self.documents)?;
        self.commit(document).map_err(E::from)?;
        Ok(done)
    }

    /// Queues what `document` gained since it was last stored.
    fn commit(&mut self, document: DocumentId) -> Result<()> {
        let held = self.documents.get_mut(document)?;
        let bytes = held.document_mut().save_incremental();
        if bytes.is_empty() {
            return Ok(());
        }
        let synced = self
            .engine
            .document_mut(document)
            .ok_or(ReplicaError::NotSyncing(document))?;
        synced
            .load_incremental(&bytes)
            .map_err(|error| ReplicaError::Apply(document, Box::new(error)))?;
        self.tasks.push_back(Task::Store {
            document,
            bytes,
            ticket: None,
        });
        self.tasks.push_back(Task::Changed { document });
        self.handle(Event::LocalChange { document });
        Ok(())
    }

    /// The connection to the server is open.
    pub fn connected(&mut self) {
        let shared = crate::sync::quiet::last_shared(&self.sync_states);
        self.handle(Event::Connected {
            connection: SERVER,
            identity: (),
            shared,
        });
    }

    /// A frame arrived from the server.
    pub fn received(&mut self, bytes: Vec<u8>) {
        self.handle(Event::Frame {
            connection: SERVER,
            bytes,
        });
    }

    /// The connection closed or failed.
    pub fn disconnected(&mut self) {
        self.handle(Event::Disconnected { connection: SERVER });
    }

    /// A while passed without word from the server: offer again what it has not acknowledged.
    pub fn tick(&mut self) {
        self.handle(Event::Tick);
    }

    /// The [`Task::Store`] with `ticket` is durable.
    pub fn stored(&mut self, ticket: u64) {
        self.handle(Event::Persisted { ticket });
    }

    /// The [`Task::Store`] with `ticket` failed: the server will send those changes again.
    pub fn store_failed(&mut self, ticket: u64) {
        self.handle(Event::PersistFailed { ticket });
    }

    /// Whether the server has said it keeps everything this device has of `document`.
    pub fn acknowledged(&self, document: DocumentId) -> bool {
        self.engine.acknowledged(document)
    }

    /// How many records of `document` this device has that the server has not yet confirmed
    /// keeping: what the status line counts as waiting. Measured from the server's heads in
    /// the last sync state saved, so it holds offline and across restarts.
    pub fn waiting(&self, document: DocumentId) -> usize {
        if self.engine.acknowledged(document) {
            return 0;
        }
        let Some(doc) = self.engine.document(document) else {
            return 0;
        };
        let confirmed: Vec<ChangeHash> = self
            .sync_states
            .iter()
            .filter(|((_, id), _)| *id == document)
            .filter_map(|(_, bytes)| am_sync::State::decode(bytes).ok())
            .flat_map(|state| state.shared_heads)
            .filter(|head| doc.get_change_by_hash(head).is_some())
            .collect();
        let mut records = BTreeSet::new();
        for patch in doc.diff(&confirmed, &doc.get_heads()) {
            // Records sit at ROOT/collection/key; anything deeper belongs to one of them.
            let record = match (patch.path.first(), patch.path.get(1), &patch.action) {
                (Some((_, Prop::Map(collection))), Some((_, Prop::Map(key))), _) => {
                    (collection.clone(), key.clone())
                }
                (
                    Some((_, Prop::Map(collection))),
                    None,
                    PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key },
                ) => (collection.clone(), key.clone()),
                _ => continue,
            };
            if record.0 != "meta" {
                records.insert(record);
            }
        }
        records.len()
    }

    /// The documents held here.
    pub fn ids(&self) -> Vec<DocumentId> {
        self.documents.ids()
    }

    /// The whole document as one chunk, to replace its stored chunks when they grow many.
    pub fn save(&mut self, document: DocumentId) -> Result<Vec<u8>> {
        Ok(self.documents.get_mut(document)?.document_mut().save())
    }

    /// Takes the tasks queued so far, oldest first.
    pub fn take_tasks(&mut self) -> Vec<Task> {
        self.tasks.drain(..).collect()
    }

    fn handle(&mut self, event: Event<()>) {
        let mut events = VecDeque::from([event]);
        while let Some(event) = events.pop_front() {
            for effect in self.engine.handle(event) {
                if let Some(answer) = self.carry_out(effect) {
                    events.push_back(answer);
                }
            }
        }
    }

    /// Does what the engine asked, answering at once what the replica knows itself.
    fn carry_out(&mut self, effect: Effect) -> Option<Event<()>> {
        match effect {
            Effect::Send { bytes, .. } => self.tasks.push_back(Task::Send { bytes }),
            Effect::Close { reason, .. } => self.tasks.push_back(Task::Close { reason }),
            Effect::Load { document } => {
                let bytes = self.opened.remove(&document).or_else(|| {
                    self.documents
                        .get_mut(document)
                        .ok()
                        .map(|held| held.document_mut().save())
                });
                return Some(Event::Loaded { document, bytes });
            }
            Effect::LoadSyncState { storage, document } => {
                let bytes = self.sync_states.get(&(storage.clone(), document)).cloned();
                return Some(Event::SyncStateLoaded {
                    storage,
                    document,
                    bytes,
                });
            }
            Effect::Persist {
                ticket,
                document,
                changes,
                ..
            } => {
                // The engine's copy is what is stored; the typed copy follows it.
                let bytes: Vec<u8> = changes
                    .iter()
                    .flat_map(|c| c.raw_bytes())
                    .copied()
                    .collect();
                self.take_in(document, &bytes);
                self.tasks.push_back(Task::Store {
                    document,
                    bytes,
                    ticket: Some(ticket),
                });
            }
            Effect::SaveSyncState {
                storage,
                document,
                bytes,
            } => {
                self.sync_states
                    .insert((storage.clone(), document), bytes.clone());
                self.tasks.push_back(Task::SaveSyncState {
                    server: storage,
                    document,
                    bytes,
                });
            }
            Effect::Changed { document } => self.tasks.push_back(Task::Changed { document }),
            Effect::Unavailable { document } => {
                self.tasks.push_back(Task::Unavailable { document })
            }
            Effect::ChangesRefused {
                changes, refusal, ..
            } => self.quarantine(changes, refusal),
            // Refusals of frames are the server's business; a device learns of them from
            // `Close`. Presence is not used yet.
            Effect::Refused { .. } | Effect::Ephemeral { .. } => {}
        }
        None
    }

    /// Applies changes received from the server to the typed copy of `document`.
    fn take_in(&mut self, document: DocumentId, changes: &[u8]) {
        if let Ok(held) = self.documents.get_mut(document) {
            match held.document_mut().apply_stored(changes) {
                // Never the case, as every edit is committed at once; kept rather than lost.
                Ok(unsaved) if !unsaved.is_empty() => self.tasks.push_back(Task::Store {
                    document,
                    bytes: unsaved,
                    ticket: None,
                }),
                Ok(_) => {}
                // The engine's copy took them: remake the typed copy from it.
                Err(_) => self.remake(document),
            }
        } else {
            self.remake(document);
        }
    }

    /// The server refused changes to a document: what the person saw is kept first.
    fn quarantine(&mut self, changes: RefusedChanges, refusal: Refusal) {
        let Ok(held) = self.documents.get_mut(changes.document_id) else {
            return;
        };
        let hex = |hashes: &[ChangeHash]| hashes.iter().map(ChangeHash::to_string).collect();
        let quarantine = Quarantine {
            document: changes.document_id,
            saved: held.document_mut().save(),
            rule: refusal.rule,
            message: refusal.message,
            heads: hex(&changes.heads),
            refused: hex(&changes.refused),
        };
        self.tasks.push_back(Task::Quarantine { quarantine });
        self.tasks.push_back(Task::Changed {
            document: changes.document_id,
        });
    }

    /// Puts the person's work back after a refusal, once its [`Quarantine`] is stored:
    /// rebuilds the document at the server's heads with a fresh actor (unless that is done
    /// already), writes each record the person saw again as `by` with the rules the phone
    /// knows now, and syncs what passes. What does not comes back as [`Task::Returned`].
    /// Taken again after a crash, at any step, it ends the same.
    pub fn recover(&mut self, quarantine: &Quarantine, by: &Principal, now: Millis) -> Result<()> {
        let document = quarantine.document;
        let saved = Document::load(&quarantine.saved, Limits::default())?;
        if recovery::holds_refused(self.documents.get(document)?.document(), quarantine) {
            // Never again the actor of the refused changes: its next sequence numbers are
            // the refused ones'.
            let actor = ActorId::random();
            let mut rebuilt = recovery::rebuild(
                self.documents.get(document)?.document(),
                quarantine,
                actor.clone(),
            )?;
            self.set_actor(actor.clone());
            self.tasks.push_back(Task::Actor {
                actor: actor.to_hex_string(),
            });
            let bytes = rebuilt.save();
            let synced = automerge::Automerge::load(&bytes)
                .map_err(|error| ReplicaError::Apply(document, Box::new(error)))?;
            self.engine.replace(document, synced);
            self.documents.insert(document, rebuilt);
            self.sync_states.retain(|(_, d), _| *d != document);
            self.tasks.push_back(Task::Replace { document, bytes });
        }
        let Some(mut target) = self.documents.take(document) else {
            return Err(ReplicaError::NotSyncing(document));
        };
        let branch = target.document().scope().branch;
        let elections = self
            .documents
            .branch_of(branch)
            .map(|b| b as &dyn Elections);
        // Put back once a session: if the server refuses what was put back, the phone's rules
        // and the server's differ, and the person decides instead of the two going round.
        let trust_rules = self.recovered.insert(document) && quarantine.rule != APP_TOO_OLD;
        let returned = recovery::replay(
            document,
            target.document_mut(),
            &saved,
            quarantine,
            by,
            now,
            elections,
            trust_rules,
        );
        self.documents.insert_held(document, target);
        self.commit(document)?;
        for item in returned {
            self.tasks.push_back(Task::Returned { item });
        }
        self.tasks.push_back(Task::Recovered { document });
        self.tasks.push_back(Task::Changed { document });
        self.sync(document);
        Ok(())
    }

    /// Makes the typed copy of `document` from the engine's. A document received in part
    /// may not yet read as one of ours (its first change names its kind); it is made again
    /// when more arrives.
    fn remake(&mut self, document: DocumentId) {
        let Some(synced) = self.engine.document(document) else {
            return;
        };
        if let Ok(mut loaded) = Document::load(&synced.save(), Limits::default()) {
            if let Some(actor) = &self.actor {
                loaded.set_actor(actor.clone());
            }
            self.documents.insert(document, loaded);
        }
    }
}
