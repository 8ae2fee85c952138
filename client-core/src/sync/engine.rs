//! The sans-IO sync engine: one automerge `sync::State` per peer and document, driven by
//! [`Event`]s and answering with [`Effect`]s. It does no IO: the server and each device run
//! the same engine and carry out its effects (send a frame, load or persist a document, save a
//! sync state) with their own sockets and storage, telling it the outcome as new events.
//!
//! Two rules shape it. Nothing is acknowledged or relayed before it is durable: after
//! accepting changes the engine asks for them to be persisted and holds every reply and relay
//! until [`Event::Persisted`] arrives. And nothing unchecked is kept: changes go through the
//! [`Gate`] (on the server, read permission and client-core's validation); a refused change
//! drops the in-memory document, so the next use reloads it from storage as it was.
//!
//! Refused changes do not end the session: the server answers with an `error` frame that
//! names the document, the rule, the refused changes and its own heads (our extension of the
//! frame; a stock client reads only its message), remembers the refused hashes
//! ([`RefusedMemory`]) to answer the same offer again without validating it again, and goes
//! on syncing the session's other documents. A device stops syncing the refused document for
//! the session and reports it ([`Effect::ChangesRefused`]) for the person's work to be
//! recovered.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use automerge::sync::{self as am_sync, SyncDoc};
use automerge::{Automerge, Change, ChangeHash};

use super::message::{
    DocumentMessage, Message, PROTOCOL_VERSION, PeerId, PeerMetadata, RefusedChanges, StorageId,
};
use super::quiet::{self, HeadsDigest};
use super::refused::RefusedMemory;
use crate::ids::DocumentId;
use crate::validate::Touched;

/// A transport connection, numbered by whoever drives the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectionId(pub u64);

/// Which end of a connection this engine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Waits for `join`, answers `peer`, serves documents from storage.
    Server,
    /// Sends `join` when connected, asks for the documents it opens.
    Client,
}

/// Why a change or a request was refused, for the answer and the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// A stable code, such as client-core's violation rules.
    pub rule: String,
    pub message: String,
}

/// The policy an engine enforces: who may see a document, and whether changes may stay.
pub trait Gate {
    /// Who is on the other end of a connection, as the transport authenticated them.
    type Identity: Clone + std::fmt::Debug;

    fn can_read(&self, who: &Self::Identity, document: DocumentId) -> bool;

    /// Checks the changes a peer brought; `rules` is the version of the rules the peer said
    /// it writes by, if it said.
    /// Accepted, it answers the records they touched if it read them.
    fn check_changes(
        &self,
        who: &Self::Identity,
        rules: Option<u32>,
        document: DocumentId,
        offered: Offered<'_>,
    ) -> Result<Option<Touched>, Refusal>;
}

/// The changes a peer brought to a document, already applied to it.
#[derive(Debug, Clone, Copy)]
pub struct Offered<'a> {
    pub doc: &'a Automerge,
    /// The document's heads before.
    pub before: &'a [ChangeHash],
    /// What it gained since `before`, read once: building changes from an Automerge document
    /// costs as much as applying them.
    pub changes: &'a [Change],
}

/// A gate that lets everything through: for devices, whose only peer is the server that
/// already checked what it sends.
#[derive(Debug, Clone, Copy, Default)]
pub struct Trusting;

impl Gate for Trusting {
    type Identity = ();

    fn can_read(&self, _: &(), _: DocumentId) -> bool {
        true
    }

    fn check_changes(
        &self,
        _: &(),
        _: Option<u32>,
        _: DocumentId,
        _: Offered<'_>,
    ) -> Result<Option<Touched>, Refusal> {
        Ok(None)
    }
}

/// Something that happened, for the engine to act on.
#[derive(Debug)]
pub enum Event<I> {
    /// A transport connection opened; `identity` is who the transport authenticated.
    /// `shared`, on a device: the heads it last shared with each server (by its storage id)
    /// for each document, as its saved sync states say; those still at them are named in
    /// `join` ([`quiet`]). Empty on a server.
    Connected {
        connection: ConnectionId,
        identity: I,
        shared: Vec<(StorageId, DocumentId, Vec<ChangeHash>)>,
    },
    Frame {
        connection: ConnectionId,
        bytes: Vec<u8>,
    },
    Disconnected {
        connection: ConnectionId,
    },
    /// The answer to [`Effect::Load`]: the stored document, or `None` if there is none.
    Loaded {
        document: DocumentId,
        bytes: Option<Vec<u8>>,
    },
    /// The answer to [`Effect::LoadSyncState`].
    SyncStateLoaded {
        storage: StorageId,
        document: DocumentId,
        bytes: Option<Vec<u8>>,
    },
    /// The changes of [`Effect::Persist`] with this ticket are durable.
    Persisted {
        ticket: u64,
    },
    /// The changes of [`Effect::Persist`] with this ticket could not be stored.
    PersistFailed {
        ticket: u64,
    },
    /// A device wants `document` kept in sync (it may not have it yet).
    Open {
        document: DocumentId,
    },
    /// The app changed `document` through [`Engine::document_mut`].
    LocalChange {
        document: DocumentId,
    },
    /// A frame already decoded: a server that shares documents out among several engines
    /// decodes each frame once to route it, and hands the engine the message.
    Message {
        connection: ConnectionId,
        message: Message,
    },
    /// The peer on `connection` joined through another engine (the one that answered its
    /// `join`): this one learns who it is without answering.
    Joined {
        connection: ConnectionId,
        peer: PeerId,
        metadata: PeerMetadata,
    },
    /// A while has passed without word from the peers: a device offers again whatever a
    /// peer has not acknowledged, in case an exchange stalled with each side waiting for the
    /// other (Automerge does not send twice what it believes is in flight).
    Tick,
}

/// Something the engine needs done.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Send {
        connection: ConnectionId,
        bytes: Vec<u8>,
    },
    Close {
        connection: ConnectionId,
        reason: String,
    },
    Load {
        document: DocumentId,
    },
    LoadSyncState {
        storage: StorageId,
        document: DocumentId,
    },
    /// Make these changes durable, then answer with [`Event::Persisted`].
    Persist {
        ticket: u64,
        document: DocumentId,
        changes: Vec<Change>,
        /// The records they touched, as the gate found checking them, if it read them.
        touched: Option<Touched>,
    },
    SaveSyncState {
        storage: StorageId,
        document: DocumentId,
        bytes: Vec<u8>,
    },
    /// Changes to one document were refused (a server refused them, or, on a device, the
    /// server said it did). `repeat`: they were refused before and answered from memory, so
    /// the audit log counts them against the first refusal (`first`) instead of a new line.
    ChangesRefused {
        connection: ConnectionId,
        changes: RefusedChanges,
        refusal: Refusal,
        first: ChangeHash,
        repeat: bool,
    },
    /// For the audit log: a frame or change from `connection` was refused.
    Refused {
        connection: ConnectionId,
        document: Option<DocumentId>,
        refusal: Refusal,
    },
    /// A document the device opened is not available (missing, or not readable).
    Unavailable {
        document: DocumentId,
    },
    /// New changes arrived for a document and are persisted.
    Changed {
        document: DocumentId,
    },
    /// A device received presence or another ephemeral message for the app.
    Ephemeral {
        document: DocumentId,
        sender: PeerId,
        data: Vec<u8>,
    },
}

#[derive(Debug)]
struct Connection<I> {
    identity: I,
    /// Set once the handshake is done.
    remote: Option<Remote>,
    /// On a device: the documents its `join` named as quiet, with the digests it gave and
    /// the servers (storage ids) whose saved sync states vouch for them.
    announced: BTreeMap<DocumentId, (HeadsDigest, BTreeSet<StorageId>)>,
    /// On a device: document messages that came before `peer`, for once it has. A server
    /// whose shards answer a `join` apart may send a quiet document's first message before
    /// the shard that answers `join` has sent `peer`.
    early: Vec<Message>,
}

#[derive(Debug, Clone)]
struct Remote {
    peer: PeerId,
    storage: Option<StorageId>,
    /// The rules version the peer writes by, if it said.
    rules: Option<u32>,
}

#[derive(Debug)]
enum Stored {
    Loading,
    // Boxed: an Automerge document is large, and most entries of the map are ready.
    Ready(Box<Automerge>),
    Missing,
}

/// A peer's sync with one document.
#[derive(Debug)]
struct PeerSync {
    state: am_sync::State,
    /// Whether the persisted state (if the peer has storage) has been loaded.
    ready: bool,
    /// What the peer said, waiting for the document or the sync state to load.
    inbox: VecDeque<Inbound>,
    /// On a device: the server took this document as quiet, so the saved state is loaded
    /// without offering anything (the server speaks first if it has news).
    quiet: bool,
    /// On a server: the peer's `join` named this document as quiet, and we took it as a
    /// message that needed no answer.
    took_quiet: bool,
    /// Whether `state` changed since it was last saved.
    dirty: bool,
    /// Whether the peer spoke while changes were being persisted, and so is owed an answer
    /// once they are.
    owed: bool,
    /// Ticks since the peer last spoke of this document, and how many a device waits before
    /// offering again what the peer lacks: doubled after each offer that goes unanswered,
    /// so that phones waiting on a server busy storing what they sent do not send it again
    /// and again, burying it deeper at the worst moment.
    quiet_ticks: u32,
    patience: u32,
}

/// What a peer said of a document.
#[derive(Debug)]
enum Inbound {
    /// An Automerge sync message.
    Sync(Vec<u8>),
    /// Its `join` named the document as quiet: it is at the heads with this digest, which it
    /// last shared with us.
    Quiet(HeadsDigest),
}

/// The most ticks a device waits between offers to a silent peer.
const MOST_PATIENCE: u32 = 16;

impl PeerSync {
    fn new(ready: bool) -> PeerSync {
        PeerSync {
            state: am_sync::State::new(),
            ready,
            inbox: VecDeque::new(),
            quiet: false,
            took_quiet: false,
            dirty: false,
            owed: false,
            quiet_ticks: 0,
            patience: 1,
        }
    }

    /// The peer spoke of the document: it is there, and listening.
    fn heard(&mut self) {
        self.quiet_ticks = 0;
        self.patience = 1;
    }
}

#[derive(Debug)]
struct Doc {
    stored: Stored,
    peers: BTreeMap<ConnectionId, PeerSync>,
    /// Persist tickets not yet answered: replies and relays wait for them.
    unpersisted: BTreeSet<u64>,
}

/// One automerge-repo protocol engine.
#[derive(Debug)]
pub struct Engine<G: Gate> {
    me: PeerId,
    metadata: PeerMetadata,
    side: Side,
    gate: G,
    connections: BTreeMap<ConnectionId, Connection<G::Identity>>,
    documents: BTreeMap<DocumentId, Doc>,
    /// Documents a device keeps in sync with every peer.
    open: BTreeSet<DocumentId>,
    next_ticket: u64,
    effects: Vec<Effect>,
    /// Idle documents dropped from memory so far (a server's count, for its metrics).
    evicted: u64,
    /// Changes a server refused, to answer them again from memory.
    refused: RefusedMemory,
}

impl<G: Gate> Engine<G> {
    pub fn new(me: PeerId, metadata: PeerMetadata, side: Side, gate: G) -> Self {
        Self {
            me,
            metadata,
            side,
            gate,
            connections: BTreeMap::new(),
            documents: BTreeMap::new(),
            open: BTreeSet::new(),
            next_ticket: 1,
            effects: Vec::new(),
            evicted: 0,
            refused: RefusedMemory::default(),
        }
    }

    /// The document as this engine holds it, if loaded.
    pub fn document(&self, document: DocumentId) -> Option<&Automerge> {
        match &self.documents.get(&document)?.stored {
            Stored::Ready(doc) => Some(doc),
            Stored::Loading | Stored::Missing => None,
        }
    }

    /// For a device: edit a loaded document, then report [`Event::LocalChange`].
    pub fn document_mut(&mut self, document: DocumentId) -> Option<&mut Automerge> {
        match &mut self.documents.get_mut(&document)?.stored {
            Stored::Ready(doc) => Some(doc),
            Stored::Loading | Stored::Missing => None,
        }
    }

    /// For a device: holds `automerge` as `document` from now on, in place of what it held,
    /// and forgets every peer's sync with it (the device rebuilt it after a refusal); report
    /// [`Event::Open`] to sync it again.
    pub fn replace(&mut self, document: DocumentId, automerge: Automerge) {
        self.documents.insert(
            document,
            Doc {
                stored: Stored::Ready(Box::new(automerge)),
                peers: BTreeMap::new(),
                unpersisted: BTreeSet::new(),
            },
        );
    }

    /// Whether a connected peer has said it holds everything this engine has of `document`.
    /// A server answers only once what it received is durable, so for a device this means
    /// "the server has kept it".
    pub fn acknowledged(&self, document: DocumentId) -> bool {
        let Some(doc) = self.documents.get(&document) else {
            return false;
        };
        let Stored::Ready(automerge) = &doc.stored else {
            return false;
        };
        let heads = automerge.get_heads();
        doc.peers.values().any(|peer| peer_has(&peer.state, &heads))
    }

    /// How many documents are held in memory.
    pub fn loaded_documents(&self) -> usize {
        self.documents.len()
    }

    /// Handles one event and returns what must be done, in order.
    pub fn handle(&mut self, event: Event<G::Identity>) -> Vec<Effect> {
        match event {
            Event::Connected {
                connection,
                identity,
                shared,
            } => self.connected(connection, identity, shared),
            Event::Frame { connection, bytes } => self.frame(connection, bytes),
            Event::Message {
                connection,
                message,
            } => self.message(connection, message),
            Event::Joined {
                connection,
                peer,
                metadata,
            } => {
                if self.connections.contains_key(&connection) {
                    let quiet = metadata.quiet.as_deref().and_then(quiet::decode);
                    self.handshake(connection, peer, metadata);
                    self.take_quiet(connection, quiet.unwrap_or_default());
                }
            }
            Event::Disconnected { connection } => self.disconnected(connection),
            Event::Loaded { document, bytes } => self.loaded(document, bytes),
            Event::SyncStateLoaded {
                storage,
                document,
                bytes,
            } => self.sync_state_loaded(storage, document, bytes),
            Event::Persisted { ticket } => self.persisted(ticket),
            Event::PersistFailed { ticket } => self.persist_failed(ticket),
            Event::Open { document } => self.open_document(document),
            Event::LocalChange { document } => self.sync_all(document),
            Event::Tick => self.tick(),
        }
        std::mem::take(&mut self.effects)
    }

    fn send(&mut self, connection: ConnectionId, message: &Message) {
        match message.encode() {
            Ok(bytes) => self.effects.push(Effect::Send { connection, bytes }),
            Err(error) => self.effects.push(Effect::Refused {
                connection,
                document: None,
                refusal: Refusal {
                    rule: "encode".into(),
                    message: error.to_string(),
                },
            }),
        }
    }

    fn refuse(
        &mut self,
        connection: ConnectionId,
        document: Option<DocumentId>,
        refusal: Refusal,
        close: bool,
    ) {
        if close {
            self.send_error(connection, &refusal, None);
            self.effects.push(Effect::Close {
                connection,
                reason: refusal.rule.clone(),
            });
            self.drop_connection(connection);
        }
        self.effects.push(Effect::Refused {
            connection,
            document,
            refusal,
        });
    }

    /// Tells the peer of a refusal in an `error` frame, with the refused changes if any.
    fn send_error(
        &mut self,
        connection: ConnectionId,
        refusal: &Refusal,
        refused: Option<RefusedChanges>,
    ) {
        let target_id = self.remote(connection).map(|r| r.peer);
        self.send(
            connection,
            &Message::Error {
                sender_id: self.me.clone(),
                target_id,
                message: format!("{}: {}", refusal.rule, refusal.message),
                refused,
            },
        );
    }

    /// Refuses changes a peer offered to `document` without ending the session: what was
    /// applied is dropped (the document is reloaded from storage on next use, so the peer's
    /// sync with it starts afresh), and the peer is told which changes, why, and the heads
    /// the server keeps.
    #[allow(clippy::too_many_arguments)]
    fn refuse_changes(
        &mut self,
        connection: ConnectionId,
        document: DocumentId,
        refusal: Refusal,
        refused: Vec<ChangeHash>,
        heads: Vec<ChangeHash>,
        first: ChangeHash,
        repeat: bool,
    ) {
        self.forget(document);
        let changes = RefusedChanges {
            document_id: document,
            rule: refusal.rule.clone(),
            refused,
            heads,
        };
        self.send_error(connection, &refusal, Some(changes.clone()));
        self.effects.push(Effect::ChangesRefused {
            connection,
            changes,
            refusal,
            first,
            repeat,
        });
    }

    fn connected(
        &mut self,
        connection: ConnectionId,
        identity: G::Identity,
        shared: Vec<(StorageId, DocumentId, Vec<ChangeHash>)>,
    ) {
        // The open documents still at the heads last shared with a server.
        let mut announced: BTreeMap<DocumentId, (HeadsDigest, BTreeSet<StorageId>)> =
            BTreeMap::new();
        for (storage, document, shared) in shared {
            let Some(heads) = self.heads(document) else {
                continue;
            };
            let fits = announced.contains_key(&document) || announced.len() < quiet::MOST_DOCUMENTS;
            if self.open.contains(&document) && !heads.is_empty() && heads == shared && fits {
                let entry = announced
                    .entry(document)
                    .or_insert_with(|| (quiet::digest(&heads), BTreeSet::new()));
                entry.1.insert(storage);
            }
        }
        let mut metadata = self.metadata.clone();
        if self.side == Side::Client && !announced.is_empty() {
            let list: Vec<(DocumentId, HeadsDigest)> = announced
                .iter()
                .map(|(d, (digest, _))| (*d, *digest))
                .collect();
            metadata.quiet = Some(quiet::encode(&list));
        }
        self.connections.insert(
            connection,
            Connection {
                identity,
                remote: None,
                announced,
                early: Vec::new(),
            },
        );
        if self.side == Side::Client {
            self.send(
                connection,
                &Message::Join {
                    sender_id: self.me.clone(),
                    peer_metadata: metadata,
                    supported_protocol_versions: vec![PROTOCOL_VERSION.into()],
                },
            );
        }
    }

    /// The heads of a document held and loaded.
    fn heads(&self, document: DocumentId) -> Option<Vec<ChangeHash>> {
        match &self.documents.get(&document)?.stored {
            Stored::Ready(automerge) => Some(automerge.get_heads()),
            Stored::Loading | Stored::Missing => None,
        }
    }

    fn disconnected(&mut self, connection: ConnectionId) {
        let documents: Vec<DocumentId> = self
            .documents
            .iter()
            .filter(|(_, doc)| doc.peers.contains_key(&connection))
            .map(|(id, _)| *id)
            .collect();
        for document in documents {
            self.flush_sync_state(connection, document);
        }
        self.drop_connection(connection);
    }

    fn drop_connection(&mut self, connection: ConnectionId) {
        self.connections.remove(&connection);
        for doc in self.documents.values_mut() {
            doc.peers.remove(&connection);
        }
        self.evict_idle();
    }

    /// Keeps memory bounded by the documents in use: on a server, a document nobody is
    /// syncing and with nothing left to persist is dropped; it is reloaded on demand.
    fn evict_idle(&mut self) {
        if self.side == Side::Server {
            let before = self.documents.len();
            self.documents.retain(|_, doc| {
                !doc.peers.is_empty()
                    || !doc.unpersisted.is_empty()
                    || matches!(doc.stored, Stored::Loading)
            });
            self.evicted += (before - self.documents.len()) as u64;
        }
    }

    /// How many documents are in memory now.
    pub fn held(&self) -> usize {
        self.documents.len()
    }

    /// How many idle documents have been dropped from memory since the engine started.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    fn frame(&mut self, connection: ConnectionId, bytes: Vec<u8>) {
        if !self.connections.contains_key(&connection) {
            return;
        }
        match Message::decode(&bytes) {
            Ok(message) => self.message(connection, message),
            Err(error) => {
                let refusal = Refusal {
                    rule: "bad_frame".into(),
                    message: error.to_string(),
                };
                self.refuse(connection, None, refusal, true);
            }
        }
    }

    fn message(&mut self, connection: ConnectionId, message: Message) {
        if !self.connections.contains_key(&connection) {
            return;
        }
        let handshaken = self
            .connections
            .get(&connection)
            .is_some_and(|c| c.remote.is_some());
        match message {
            Message::Join {
                sender_id,
                peer_metadata,
                supported_protocol_versions,
            } if self.side == Side::Server => {
                if !supported_protocol_versions
                    .iter()
                    .any(|v| v == PROTOCOL_VERSION)
                {
                    let refusal = Refusal {
                        rule: "unsupported_protocol".into(),
                        message: format!("this server speaks protocol version {PROTOCOL_VERSION}"),
                    };
                    return self.refuse(connection, None, refusal, true);
                }
                let quiet = peer_metadata.quiet.as_deref().and_then(quiet::decode);
                self.handshake(connection, sender_id.clone(), peer_metadata);
                let mut metadata = self.metadata.clone();
                // Saying we took the list is what lets the device stay silent.
                metadata.quiet = quiet.as_ref().map(|_| Vec::new());
                self.send(
                    connection,
                    &Message::Peer {
                        sender_id: self.me.clone(),
                        target_id: sender_id,
                        peer_metadata: metadata,
                        selected_protocol_version: PROTOCOL_VERSION.into(),
                    },
                );
                self.take_quiet(connection, quiet.unwrap_or_default());
            }
            Message::Peer {
                sender_id,
                peer_metadata,
                ..
            } if self.side == Side::Client => {
                let taken = peer_metadata.quiet.is_some();
                self.handshake(connection, sender_id, peer_metadata);
                let open: Vec<DocumentId> = self.open.iter().copied().collect();
                for document in open {
                    if taken && self.still_quiet(connection, document) {
                        self.start_quietly(connection, document);
                    } else {
                        self.start_sync(connection, document);
                    }
                }
                let early = self
                    .connections
                    .get_mut(&connection)
                    .map(|c| std::mem::take(&mut c.early))
                    .unwrap_or_default();
                for message in early {
                    self.message(connection, message);
                }
            }
            message @ (Message::Request(_)
            | Message::Sync(_)
            | Message::DocUnavailable { .. }
            | Message::Ephemeral { .. })
                if self.side == Side::Client
                    && !handshaken
                    && self
                        .connections
                        .get(&connection)
                        .is_some_and(|c| c.early.len() < quiet::MOST_DOCUMENTS) =>
            {
                if let Some(c) = self.connections.get_mut(&connection) {
                    c.early.push(message);
                }
            }
            Message::Request(body) | Message::Sync(body) if handshaken => {
                self.document_message(connection, body.document_id, Inbound::Sync(body.data))
            }
            Message::DocUnavailable { document_id, .. } if handshaken => {
                if let Some(doc) = self.documents.get_mut(&document_id) {
                    doc.peers.remove(&connection);
                }
                self.effects.push(Effect::Unavailable {
                    document: document_id,
                });
            }
            message @ Message::Ephemeral { .. } if handshaken => {
                // Presence is relayed to the other peers of the document, never stored.
                self.relay_ephemeral(connection, message);
            }
            Message::Leave { .. } => {
                self.effects.push(Effect::Close {
                    connection,
                    reason: "leave".into(),
                });
                self.drop_connection(connection);
            }
            // The server refused changes to one document: that document stops syncing for
            // this session, for the device to recover the person's work; the others go on.
            Message::Error {
                message,
                refused: Some(changes),
                ..
            } if self.side == Side::Client => {
                if let Some(doc) = self.documents.get_mut(&changes.document_id) {
                    doc.peers.remove(&connection);
                }
                let refusal = Refusal {
                    rule: changes.rule.clone(),
                    message,
                };
                let first = changes
                    .refused
                    .first()
                    .copied()
                    .unwrap_or(ChangeHash([0; 32]));
                self.effects.push(Effect::ChangesRefused {
                    connection,
                    changes,
                    refusal,
                    first,
                    repeat: false,
                });
            }
            Message::Error { message, .. } => {
                self.effects.push(Effect::Close {
                    connection,
                    reason: message,
                });
                self.drop_connection(connection);
            }
            // Heads gossip and subscriptions between storage peers are optional; a peer that
            // ignores them still syncs correctly. Unknown types come from newer peers.
            Message::RemoteHeadsChanged { .. }
            | Message::RemoteSubscriptionChange { .. }
            | Message::Unknown { .. }
                if handshaken => {}
            other => {
                let refusal = Refusal {
                    rule: "unexpected_frame".into(),
                    message: format!("`{}` is not expected here", other.type_name()),
                };
                self.refuse(connection, None, refusal, true);
            }
        }
    }

    fn handshake(&mut self, connection: ConnectionId, peer: PeerId, metadata: PeerMetadata) {
        // An ephemeral peer keeps no storage, so its sync states are not worth keeping.
        let storage = match metadata.is_ephemeral {
            Some(true) => None,
            Some(false) | None => metadata.storage_id,
        };
        if let Some(c) = self.connections.get_mut(&connection) {
            c.remote = Some(Remote {
                peer,
                storage,
                rules: metadata.rules,
            });
        }
    }

    fn gate_allows_read(&self, connection: ConnectionId, document: DocumentId) -> bool {
        self.connections
            .get(&connection)
            .is_some_and(|c| self.gate.can_read(&c.identity, document))
    }

    /// Forwards an ephemeral message to the other peers syncing its document, as the
    /// JavaScript implementation does: unchanged but for `targetId`.
    fn relay_ephemeral(&mut self, from: ConnectionId, message: Message) {
        let Message::Ephemeral {
            sender_id,
            document_id,
            count,
            session_id,
            data,
            ..
        } = message
        else {
            return;
        };
        if !self.gate_allows_read(from, document_id) {
            return;
        }
        if self.side == Side::Client {
            self.effects.push(Effect::Ephemeral {
                document: document_id,
                sender: sender_id,
                data,
            });
            return;
        }
        let Some(doc) = self.documents.get(&document_id) else {
            return;
        };
        let targets: Vec<ConnectionId> = doc.peers.keys().copied().filter(|c| *c != from).collect();
        for connection in targets {
            let Some(remote) = self.remote(connection) else {
                continue;
            };
            self.send(
                connection,
                &Message::Ephemeral {
                    sender_id: sender_id.clone(),
                    target_id: remote.peer,
                    document_id,
                    count,
                    session_id: session_id.clone(),
                    data: data.clone(),
                },
            );
        }
    }

    /// A `request` or `sync` from a peer, or a quiet document its `join` named: check it may
    /// read, make sure the document and the peer's sync state are loaded, then process it (or
    /// queue it until they are).
    fn document_message(
        &mut self,
        connection: ConnectionId,
        document: DocumentId,
        inbound: Inbound,
    ) {
        if !self.gate_allows_read(connection, document) {
            let refusal = Refusal {
                rule: "read_denied".into(),
                message: format!("{document}"),
            };
            self.effects.push(Effect::Refused {
                connection,
                document: Some(document),
                refusal,
            });
            return self.unavailable(connection, document);
        }
        self.ensure_loaded(document);
        let storage = self.remote(connection).and_then(|r| r.storage);
        let Some(doc) = self.documents.get_mut(&document) else {
            return;
        };
        let peer = doc
            .peers
            .entry(connection)
            .or_insert_with(|| PeerSync::new(storage.is_none()));
        peer.heard();
        peer.inbox.push_back(inbound);
        let first_for_peer = !peer.ready && peer.inbox.len() == 1;
        if first_for_peer && let Some(storage) = storage {
            self.effects
                .push(Effect::LoadSyncState { storage, document });
        }
        self.drain(document);
    }

    fn remote(&self, connection: ConnectionId) -> Option<Remote> {
        self.connections
            .get(&connection)
            .and_then(|c| c.remote.clone())
    }

    fn ensure_loaded(&mut self, document: DocumentId) {
        if let std::collections::btree_map::Entry::Vacant(entry) = self.documents.entry(document) {
            entry.insert(Doc {
                stored: Stored::Loading,
                peers: BTreeMap::new(),
                unpersisted: BTreeSet::new(),
            });
            self.effects.push(Effect::Load { document });
        }
    }

    fn unavailable(&mut self, connection: ConnectionId, document: DocumentId) {
        let Some(remote) = self.remote(connection) else {
            return;
        };
        self.send(
            connection,
            &Message::DocUnavailable {
                sender_id: self.me.clone(),
                target_id: remote.peer,
                document_id: document,
            },
        );
    }

    fn loaded(&mut self, document: DocumentId, bytes: Option<Vec<u8>>) {
        let Some(doc) = self.documents.get_mut(&document) else {
            return;
        };
        if !matches!(doc.stored, Stored::Loading) {
            return;
        }
        doc.stored = match bytes.map(|b| Automerge::load(&b)) {
            Some(Ok(loaded)) => Stored::Ready(Box::new(loaded)),
            // A device may open a document it has not received yet; a server never invents one.
            None if self.side == Side::Client => Stored::Ready(Box::default()),
            None | Some(Err(_)) => Stored::Missing,
        };
        if matches!(doc.stored, Stored::Missing) {
            let waiting: Vec<ConnectionId> = doc.peers.keys().copied().collect();
            self.documents.remove(&document);
            for connection in waiting {
                self.unavailable(connection, document);
            }
            if self.side == Side::Client {
                self.effects.push(Effect::Unavailable { document });
            }
            return;
        }
        if self.side == Side::Client && self.open.contains(&document) {
            self.sync_all(document);
        }
        self.drain(document);
    }

    fn sync_state_loaded(
        &mut self,
        storage: StorageId,
        document: DocumentId,
        bytes: Option<Vec<u8>>,
    ) {
        let connections: Vec<ConnectionId> = self
            .connections
            .iter()
            .filter(|(_, c)| c.remote.as_ref().and_then(|r| r.storage.as_ref()) == Some(&storage))
            .map(|(id, _)| *id)
            .collect();
        let Some(doc) = self.documents.get_mut(&document) else {
            return;
        };
        let mut ready = Vec::new();
        for connection in connections {
            if let Some(peer) = doc.peers.get_mut(&connection)
                && !peer.ready
            {
                if let Some(state) = bytes
                    .as_deref()
                    .and_then(|b| am_sync::State::decode(b).ok())
                {
                    peer.state = state;
                }
                peer.ready = true;
                // A quiet document waits for the server to speak, if it has anything to say.
                if !std::mem::take(&mut peer.quiet) {
                    ready.push(connection);
                }
            }
        }
        self.drain(document);
        if self.side == Side::Client {
            for connection in ready {
                self.reply(connection, document);
            }
        }
    }

    /// Processes every queued message of `document` whose peer is ready.
    fn drain(&mut self, document: DocumentId) {
        loop {
            let Some(doc) = self.documents.get_mut(&document) else {
                return;
            };
            if !matches!(doc.stored, Stored::Ready(_)) {
                return;
            }
            let next = doc
                .peers
                .iter_mut()
                .find(|(_, p)| p.ready && !p.inbox.is_empty())
                .and_then(|(c, p)| Some((*c, p.inbox.pop_front()?)));
            match next {
                Some((connection, Inbound::Sync(data))) => {
                    self.receive(connection, document, &data)
                }
                Some((connection, Inbound::Quiet(digest))) => {
                    self.quiet(connection, document, digest)
                }
                None => return,
            }
        }
    }

    /// Decodes one automerge sync message from a peer and applies it.
    fn receive(&mut self, connection: ConnectionId, document: DocumentId, data: &[u8]) {
        match am_sync::Message::decode(data) {
            Ok(message) => {
                self.answer_after_quiet(connection, document, &message);
                self.apply(connection, document, message)
            }
            Err(error) => {
                let refusal = Refusal {
                    rule: "bad_sync_message".into(),
                    message: error.to_string(),
                };
                self.refuse(connection, Some(document), refusal, true)
            }
        }
    }

    /// A quiet document of a peer's `join`, now that it and the peer's sync state are
    /// loaded. If the digest is of heads we know the peer to be at (ours, or those we last
    /// shared with it), it is the sync message the peer would have sent, and is taken as
    /// one: at our heads it needs no answer; behind them it gets what it lacks. Otherwise we
    /// cannot tell where it is, and open the exchange ourselves.
    fn quiet(&mut self, connection: ConnectionId, document: DocumentId, digest: HeadsDigest) {
        let Some(doc) = self.documents.get(&document) else {
            return;
        };
        let (Stored::Ready(automerge), Some(peer)) = (&doc.stored, doc.peers.get(&connection))
        else {
            return;
        };
        let ours = automerge.get_heads();
        let known = [ours.clone(), peer.state.shared_heads.clone()]
            .into_iter()
            .find(|heads| !heads.is_empty() && quiet::digest(heads) == digest);
        match known {
            Some(heads) => {
                let at_ours = heads == ours;
                let message = am_sync::Message {
                    need: Vec::new(),
                    have: vec![am_sync::Have {
                        last_sync: heads.clone(),
                        bloom: am_sync::BloomFilter::default(),
                    }],
                    heads,
                    changes: Vec::<Vec<u8>>::new().into(),
                    flags: None,
                    version: am_sync::MessageVersion::V1,
                };
                self.apply(connection, document, message);
                if let Some(peer) = self
                    .documents
                    .get_mut(&document)
                    .and_then(|doc| doc.peers.get_mut(&connection))
                {
                    peer.took_quiet = at_ours;
                }
            }
            None => self.reply(connection, document),
        }
    }

    /// A peer whose quiet document we took still shows its heads when it could not vouch for
    /// them with this server (its sync state is with another, or lost): it is owed the answer
    /// Automerge gives a first message, which taking the quiet entry had made it think given.
    fn answer_after_quiet(
        &mut self,
        connection: ConnectionId,
        document: DocumentId,
        message: &am_sync::Message,
    ) {
        let Some(doc) = self.documents.get_mut(&document) else {
            return;
        };
        let (Stored::Ready(automerge), Some(peer)) = (&doc.stored, doc.peers.get_mut(&connection))
        else {
            return;
        };
        if std::mem::take(&mut peer.took_quiet)
            && !says_nothing_new(message, &automerge.get_heads())
        {
            peer.state.have_responded = false;
        }
    }

    /// Applies one automerge sync message from a peer, through the gate.
    fn apply(&mut self, connection: ConnectionId, document: DocumentId, message: am_sync::Message) {
        let Some((identity, rules)) = self
            .connections
            .get(&connection)
            .map(|c| (c.identity.clone(), c.remote.as_ref().and_then(|r| r.rules)))
        else {
            return;
        };
        let Some(doc) = self.documents.get_mut(&document) else {
            return;
        };
        let (Stored::Ready(automerge), Some(peer)) =
            (&mut doc.stored, doc.peers.get_mut(&connection))
        else {
            return;
        };
        let before = automerge.get_heads();
        let nothing_to_tell = says_nothing_new(&message, &before);
        if let Err(error) = automerge.receive_sync_message(&mut peer.state, message) {
            let refusal = Refusal {
                rule: "bad_sync_message".into(),
                message: error.to_string(),
            };
            self.forget(document);
            return self.refuse(connection, Some(document), refusal, true);
        }
        if nothing_to_tell {
            // Automerge answers once in every session, so that the peer learns our heads; this
            // peer has just shown it knows them already, and that we hold its own. The answer
            // would tell it nothing, so it is not sent (a quiet reconnect then costs one frame
            // a document instead of two). Anything we learn later is still sent: Automerge
            // stays silent only while our heads are the ones the peer just sent.
            peer.state.have_responded = true;
        }
        let after = automerge.get_heads();
        if before != after {
            let offered = automerge.get_changes(&before);
            let hashes: Vec<ChangeHash> = offered.iter().map(|c| c.hash()).collect();
            // Offered again, or built on what was refused: the same answer, from memory.
            if let Some(remembered) = self.refused.recall(document, &offered) {
                let (refusal, first) = (remembered.refusal.clone(), remembered.first);
                return self
                    .refuse_changes(connection, document, refusal, hashes, before, first, true);
            }
            let offer = Offered {
                doc: automerge,
                before: &before,
                changes: &offered,
            };
            let touched = match self.gate.check_changes(&identity, rules, document, offer) {
                Ok(touched) => touched,
                Err(refusal) => {
                    self.refused.remember(document, &hashes, refusal.clone());
                    let first = hashes[0];
                    return self.refuse_changes(
                        connection, document, refusal, hashes, before, first, false,
                    );
                }
            };
            let ticket = self.next_ticket;
            self.next_ticket += 1;
            doc.unpersisted.insert(ticket);
            self.effects.push(Effect::Persist {
                ticket,
                document,
                changes: offered,
                touched,
            });
            // Replies, relays and the sync state wait for `Persisted`.
            if let Some(peer) = doc.peers.get_mut(&connection) {
                peer.owed = true;
            }
            self.mark_dirty(connection, document);
            return;
        }
        self.mark_dirty(connection, document);
        self.reply(connection, document);
    }

    fn tick(&mut self) {
        if self.side != Side::Client {
            return;
        }
        let mut stalled = Vec::new();
        for (&document, doc) in &mut self.documents {
            let Stored::Ready(automerge) = &doc.stored else {
                continue;
            };
            let heads = automerge.get_heads();
            for (&connection, peer) in &mut doc.peers {
                if peer.ready && !peer_has(&peer.state, &heads) {
                    peer.quiet_ticks += 1;
                    if peer.quiet_ticks < peer.patience {
                        continue;
                    }
                    peer.quiet_ticks = 0;
                    peer.patience = (peer.patience * 2).min(MOST_PATIENCE);
                    // Forget what was sent in this session, so that whatever the peer still
                    // lacks is sent again.
                    peer.state.in_flight = false;
                    peer.state.sent_hashes.clear();
                    stalled.push((connection, document));
                }
            }
        }
        for (connection, document) in stalled {
            self.reply(connection, document);
        }
    }

    /// Drops a document from memory, and every peer's sync with it: they start over.
    fn forget(&mut self, document: DocumentId) {
        self.documents.remove(&document);
    }

    fn persisted(&mut self, ticket: u64) {
        let Some((&document, doc)) = self
            .documents
            .iter_mut()
            .find(|(_, d)| d.unpersisted.contains(&ticket))
        else {
            return;
        };
        doc.unpersisted.remove(&ticket);
        if doc.unpersisted.is_empty() {
            self.effects.push(Effect::Changed { document });
            let peers: Vec<ConnectionId> = doc.peers.keys().copied().collect();
            for connection in peers {
                self.flush_sync_state(connection, document);
            }
            self.sync_all(document);
        }
        self.evict_idle();
    }

    /// Storage failed: what the document holds in memory is not all on disk, so it is
    /// dropped, and every peer syncing it is disconnected. Nothing was acknowledged, so each
    /// keeps its changes and sends them again when it reconnects, to a document reloaded from
    /// storage as it is.
    fn persist_failed(&mut self, ticket: u64) {
        let Some((&document, doc)) = self
            .documents
            .iter()
            .find(|(_, d)| d.unpersisted.contains(&ticket))
        else {
            return;
        };
        let peers: Vec<ConnectionId> = doc.peers.keys().copied().collect();
        self.forget(document);
        for connection in peers {
            self.effects.push(Effect::Close {
                connection,
                reason: "storage failed; reconnect to try again".into(),
            });
            self.drop_connection(connection);
        }
    }

    fn mark_dirty(&mut self, connection: ConnectionId, document: DocumentId) {
        if let Some(peer) = self
            .documents
            .get_mut(&document)
            .and_then(|d| d.peers.get_mut(&connection))
        {
            peer.dirty = true;
        }
    }

    /// Saves what a peer and this engine share of a document, if it changed. Sync states are
    /// saved only at durable points (changes persisted, a session ending normally), so a
    /// session that ends in a refusal writes nothing at all.
    fn flush_sync_state(&mut self, connection: ConnectionId, document: DocumentId) {
        let Some(storage) = self.remote(connection).and_then(|r| r.storage) else {
            return;
        };
        let Some(peer) = self
            .documents
            .get_mut(&document)
            .and_then(|d| d.peers.get_mut(&connection))
        else {
            return;
        };
        if !std::mem::take(&mut peer.dirty) {
            return;
        }
        let bytes = peer.state.encode();
        self.effects.push(Effect::SaveSyncState {
            storage,
            document,
            bytes,
        });
    }

    /// Sends a peer what it lacks of a document, if anything, unless changes are still
    /// waiting to be persisted.
    fn reply(&mut self, connection: ConnectionId, document: DocumentId) {
        let Some(remote) = self.remote(connection) else {
            return;
        };
        let Some(doc) = self.documents.get_mut(&document) else {
            return;
        };
        if !doc.unpersisted.is_empty() {
            if let Some(peer) = doc.peers.get_mut(&connection) {
                peer.owed = true;
            }
            return;
        }
        let (Stored::Ready(automerge), Some(peer)) = (&doc.stored, doc.peers.get_mut(&connection))
        else {
            return;
        };
        if std::mem::take(&mut peer.owed) {
            // While the answer waited, Automerge may have concluded from the peer's own heads
            // that there is nothing to tell it, when the peer has yet to hear that its changes
            // were kept. Forgetting what was last sent makes it say so.
            peer.state.last_sent_heads.clear();
        }
        let Some(message) = automerge.generate_sync_message(&mut peer.state) else {
            return;
        };
        // A device that has nothing of the document asks for it; otherwise it syncs.
        let asking = self.side == Side::Client && automerge.get_heads().is_empty();
        let body = DocumentMessage {
            sender_id: self.me.clone(),
            target_id: remote.peer,
            document_id: document,
            data: message.encode(),
        };
        self.send(
            connection,
            &if asking {
                Message::Request(body)
            } else {
                Message::Sync(body)
            },
        );
    }

    /// Offers `document` to every peer syncing it (and, on a device, to every peer).
    fn sync_all(&mut self, document: DocumentId) {
        if self.side == Side::Client {
            let connections: Vec<ConnectionId> = self
                .connections
                .iter()
                .filter(|(_, c)| c.remote.is_some())
                .map(|(id, _)| *id)
                .collect();
            for connection in connections {
                self.start_sync(connection, document);
            }
            return;
        }
        let peers: Vec<ConnectionId> = self
            .documents
            .get(&document)
            .map(|d| d.peers.keys().copied().collect())
            .unwrap_or_default();
        for connection in peers {
            self.reply(connection, document);
        }
    }

    /// A device begins (or continues) syncing a document with a peer.
    fn start_sync(&mut self, connection: ConnectionId, document: DocumentId) {
        let storage = self.remote(connection).and_then(|r| r.storage);
        let Some(doc) = self.documents.get_mut(&document) else {
            return;
        };
        if let std::collections::btree_map::Entry::Vacant(entry) = doc.peers.entry(connection) {
            entry.insert(PeerSync::new(storage.is_none()));
            // What this device last shared with that server is worth loading first: the
            // exchange then starts from there instead of from nothing.
            if let Some(storage) = storage {
                self.effects
                    .push(Effect::LoadSyncState { storage, document });
                return;
            }
        }
        self.reply(connection, document);
    }

    /// A server takes the quiet documents of a peer's `join` (those of this engine, when
    /// several share the documents out): each as if the peer had sent its sync message.
    fn take_quiet(&mut self, connection: ConnectionId, documents: Vec<(DocumentId, HeadsDigest)>) {
        if self.side != Side::Server {
            return;
        }
        for (document, digest) in documents {
            self.document_message(connection, document, Inbound::Quiet(digest));
        }
    }

    /// Whether a device's `join` named `document` as quiet, it is still at those heads, and
    /// what vouched for them is a sync state saved with this very server: one restored from
    /// a backup, say, has a new storage id and none of them.
    fn still_quiet(&self, connection: ConnectionId, document: DocumentId) -> bool {
        let Some(connection) = self.connections.get(&connection) else {
            return false;
        };
        let Some(storage) = connection.remote.as_ref().and_then(|r| r.storage.as_ref()) else {
            return false;
        };
        let Some((digest, vouched)) = connection.announced.get(&document) else {
            return false;
        };
        vouched.contains(storage)
            && self
                .heads(document)
                .is_some_and(|h| quiet::digest(&h) == *digest)
    }

    /// A device holds a quiet document with the server: it loads what it last shared with
    /// it, so that it knows the server has its heads, and offers nothing.
    fn start_quietly(&mut self, connection: ConnectionId, document: DocumentId) {
        let Some(storage) = self.remote(connection).and_then(|r| r.storage) else {
            return;
        };
        let Some(doc) = self.documents.get_mut(&document) else {
            return;
        };
        if let std::collections::btree_map::Entry::Vacant(entry) = doc.peers.entry(connection) {
            let mut peer = PeerSync::new(false);
            peer.quiet = true;
            entry.insert(peer);
            self.effects
                .push(Effect::LoadSyncState { storage, document });
        }
    }

    fn open_document(&mut self, document: DocumentId) {
        self.open.insert(document);
        if self.documents.contains_key(&document) {
            self.sync_all(document);
        } else {
            self.ensure_loaded(document);
        }
    }
}

/// Whether a sync message says only what we know: that its sender is at our `heads`, that it
/// knew before it spoke that we hold them too (the heads it last shared with us, which it
/// persisted, are those same heads), and that it needs nothing. Such is a quiet reconnect.
fn says_nothing_new(message: &am_sync::Message, heads: &[ChangeHash]) -> bool {
    !heads.is_empty()
        && message.heads == heads
        && message.need.is_empty()
        && message.changes.is_empty()
        && message.have.len() == 1
        && message.have.iter().all(|have| have.last_sync == heads)
}

/// Whether a peer has said it holds every one of `heads`.
fn peer_has(state: &am_sync::State, heads: &[ChangeHash]) -> bool {
    heads.iter().all(|head| {
        state.shared_heads.contains(head)
            || state
                .their_heads
                .as_ref()
                .is_some_and(|theirs| theirs.contains(head))
    })
}
