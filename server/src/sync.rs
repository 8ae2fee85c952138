//! `GET /sync`: the automerge-repo protocol over WebSocket, driven by client-core's engine.
//!
//! One hub task owns the engine and is the only place its state changes. Connections feed it
//! frames; it carries out the engine's effects: frames go to each connection's outbox, storage
//! work goes to the store, and the outcome comes back as an event. The engine holds replies
//! and relays until the store says the changes are durable.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use automerge::{ActorId, ChangeHash};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{
    CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade, close_code,
};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use client_core::projection::{self, Projection};
use client_core::replica::APP_TOO_OLD;
use client_core::sync::engine::{
    ConnectionId, Effect, Engine, Event, Gate, Offered, Refusal, Side,
};
use client_core::sync::message::{Message, PROTOCOL_VERSION, PeerId, PeerMetadata, StorageId};
use client_core::sync::quiet;
use client_core::validate::{self, Context, Elections, Limits, Touched};
use client_core::{DeviceId, DocKind, DocumentId, Principal, UserId, access};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::auth::Caller;
use crate::directory::Directory;
use crate::error::ApiError;
use crate::store::{AuditEvent, Heard, Store, Write};
use crate::telemetry::metrics::{Direction, Metrics, OpenSession};
use crate::{AppState, now};

/// The largest frame accepted: a batch of changes is limited to 16 MiB by validation, and a
/// frame carries at most one batch.
pub const MAX_FRAME_BYTES: usize = 17 << 20;

/// How often a node that shares its database with others catches up on the documents it
/// holds, in case a notice of another node's write was lost.
const CATCH_UP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a peer has to answer the server's close before its connection is dropped.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The server's policy: read rules from client-core's access table; new changes checked by
/// client-core's validation, each attributed to the person its actor is bound to.
#[derive(Debug, Clone)]
pub struct ServerGate {
    directory: Directory,
}

impl ServerGate {
    pub fn new(directory: Directory) -> ServerGate {
        ServerGate { directory }
    }
}

impl Gate for ServerGate {
    type Identity = Principal;

    fn can_read(&self, who: &Principal, document: DocumentId) -> bool {
        self.directory
            .scope(document)
            .is_some_and(|scope| access::can_read(who, &scope))
    }

    fn check_changes(
        &self,
        who: &Principal,
        rules: Option<u32>,
        document: DocumentId,
        offered: Offered<'_>,
    ) -> Result<Option<Touched>, Refusal> {
        let rules = rules_for(rules)?;
        let scope = self.directory.scope(document).ok_or_else(|| Refusal {
            rule: "unknown_document".into(),
            message: document.to_string(),
        })?;
        let mut actors: Vec<ActorId> = offered
            .changes
            .iter()
            .map(|change| change.actor_id().clone())
            .collect();
        actors.sort();
        actors.dedup();
        let authorship = self
            .directory
            .authorship(who, actors)
            .map_err(|error| Refusal {
                rule: "unknown_author".into(),
                message: error.to_string(),
            })?;
        // Passing on another person's changes is allowed only where that person may write.
        if let Some(other) = authorship
            .authors
            .iter()
            .find(|author| author.user != who.user && !access::can_change(author, &scope))
        {
            return Err(Refusal {
                rule: "foreign_actor".into(),
                message: format!(
                    "changes written with an actor of {}, who may not write this {} document",
                    other.user, scope.kind
                ),
            });
        }
        let elections = self.directory.elections_of(scope.branch);
        let ctx = Context {
            scope,
            authors: &authorship.authors,
            elections: (scope.kind == DocKind::Notebook).then_some(&elections as &dyn Elections),
            limits: Limits::default(),
            rules,
        };
        let touched =
            validate::validate_offered(offered.doc, offered.before, offered.changes, &ctx)
                .map_err(|violation| Refusal {
                    rule: violation.rule().into(),
                    message: violation.to_string(),
                })?;
        self.directory.bind(&authorship.new_actors, who.user);
        Ok(Some(touched))
    }
}

/// The rules a change is checked by: those of the app that wrote it, back to the version
/// before the server's own, so that a phone offline through an upgrade still sends what it
/// wrote. An app older than that is refused, and told to update; its work comes back to the
/// person as returned items. A peer that does not say (a stock client) is checked by the
/// server's own rules.
fn rules_for(declared: Option<u32>) -> Result<u32, Refusal> {
    let rules = declared.unwrap_or(validate::RULES);
    if rules + 1 < validate::RULES {
        return Err(Refusal {
            rule: APP_TOO_OLD.into(),
            message: format!(
                "请更新应用：这个版本（规则 {rules}）太旧，服务器只接收规则 {} 及以上写的记录",
                validate::RULES - 1
            ),
        });
    }
    Ok(rules.min(validate::RULES))
}

/// What the hub is told.
#[derive(Debug)]
enum HubInput {
    Connected {
        connection: ConnectionId,
        identity: Principal,
        device: DeviceId,
        outbox: mpsc::Sender<Outbound>,
        /// The session's span: what the hub logs about the session is logged in it.
        span: tracing::Span,
    },
    Event(Event<Principal>),
    /// A device was revoked, or a person's role or branch changed: their sessions end, and
    /// they come back (if they still may) as who they are now.
    End(Ending),
    /// The server changed a document itself (an admin enrolled a member on a branch's
    /// roster): the changes are stored; peers syncing the document get them now.
    Stored {
        document: DocumentId,
        changes: Vec<Vec<u8>>,
    },
    /// Another node wrote to a document, or the listener for such notices reconnected.
    Heard(Heard),
    /// The version a document held is at in storage now.
    StoredAt {
        document: DocumentId,
        version: i64,
    },
    /// Now and then, in case a notice from another node never came: catch up on every
    /// document held.
    CatchUp,
    /// The version a document was at just before it was loaded.
    Version {
        document: DocumentId,
        version: i64,
    },
    /// What another node wrote to a document, read from storage: changes, or the whole
    /// document, to merge into the copy held.
    Written {
        document: DocumentId,
        bytes: Vec<u8>,
        version: i64,
    },
    /// The transport broke the rules below the protocol (a frame over the size limit, bad
    /// WebSocket framing): the session ends, and the audit log says why.
    Broken {
        connection: ConnectionId,
        rule: &'static str,
        detail: String,
    },
}

/// Whose sessions end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Device(DeviceId),
    User(UserId),
    /// The server is shutting down: every session ends.
    Everyone,
}

/// Counts a write to storage as in flight for as long as it lives.
struct WritingNow(Arc<AtomicU64>);

impl WritingNow {
    fn new(writing: &Arc<AtomicU64>) -> WritingNow {
        writing.fetch_add(1, Ordering::AcqRel);
        WritingNow(writing.clone())
    }
}

impl Drop for WritingNow {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a connection's writer is told.
#[derive(Debug)]
enum Outbound {
    Frame(Vec<u8>),
    Close,
    /// Close with 1001 (going away): the server is shutting down, and the peer should come
    /// back later.
    GoingAway,
}

/// The running sync service: a handle to the hub.
#[derive(Debug, Clone)]
pub struct Hub {
    shards: Shards,
    next_connection: Arc<AtomicU64>,
    metrics: Metrics,
    /// Accepted changes being written to storage now: a shutdown waits for them.
    writing: Arc<AtomicU64>,
}

impl Hub {
    /// Starts the hub: one task per core, each the only owner of the documents shared out
    /// to it.
    pub fn start(store: Store, directory: Directory, storage: StorageId, metrics: Metrics) -> Hub {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Hub::start_sharded(store, directory, storage, metrics, cores)
    }

    /// Starts the hub with `count` shards.
    pub fn start_sharded(
        store: Store,
        directory: Directory,
        storage: StorageId,
        metrics: Metrics,
        count: usize,
    ) -> Hub {
        let writing = Arc::new(AtomicU64::new(0));
        let other_nodes = store.hear_other_nodes();
        let mut senders = Vec::new();
        for _ in 0..count.max(1) {
            let (inputs, queue) = mpsc::channel(4096);
            let engine = Engine::new(
                PeerId(format!("tianjian-server-{}", std::process::id())),
                PeerMetadata {
                    storage_id: Some(storage.clone()),
                    is_ephemeral: Some(false),
                    rules: Some(validate::RULES),
                    quiet: None,
                },
                Side::Server,
                ServerGate::new(directory.clone()),
            );
            let shard = HubTask {
                engine,
                versions: other_nodes.is_some().then(HashMap::new),
                store: store.clone(),
                directory: directory.clone(),
                inputs: inputs.clone(),
                sessions: HashMap::new(),
                metrics: metrics.clone(),
                evicted: 0,
                held: 0,
                writing: writing.clone(),
                repeats: HashMap::new(),
            };
            tokio::spawn(shard.run(queue));
            senders.push(inputs);
        }
        let shards = Shards(senders.into());
        if let Some(heard) = other_nodes {
            tokio::spawn(follow_other_nodes(heard, shards.clone()));
        }
        Hub {
            shards,
            next_connection: Arc::new(AtomicU64::new(1)),
            metrics,
            writing,
        }
    }

    /// The server's metrics, which the hub and its sessions count into.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Ends every sync session, telling each peer the server is going away (a WebSocket
    /// close with 1001), as a shutdown begins.
    pub async fn close_all_sessions(&self) {
        self.shards.all(|| HubInput::End(Ending::Everyone)).await;
    }

    /// Waits until no accepted change is still being written and every session has ended,
    /// or until `deadline`; returns whether everything settled in time.
    pub async fn settled(&self, deadline: tokio::time::Instant) -> bool {
        loop {
            let quiet =
                self.writing.load(Ordering::Acquire) == 0 && self.metrics.sync_sessions.get() == 0;
            if quiet {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Closes the sync sessions of a revoked device.
    pub async fn end_sessions_of_device(&self, device: DeviceId) {
        self.shards
            .all(|| HubInput::End(Ending::Device(device)))
            .await;
    }

    /// Closes a person's sync sessions, after a change of role or branch.
    pub async fn end_sessions_of_user(&self, user: UserId) {
        self.shards.all(|| HubInput::End(Ending::User(user))).await;
    }

    /// Hands peers changes the server has stored itself.
    pub async fn stored(&self, document: DocumentId, changes: Vec<Vec<u8>>) {
        let _ = self
            .shards
            .of(document)
            .send(HubInput::Stored { document, changes })
            .await;
    }
}

/// The hub's shards. Documents are shared out among them by id: each shard alone holds its
/// documents' engine state, so the shards work on different cores without sharing anything
/// but storage. A connection reaches every shard; each of its frames goes to the shard of
/// the document it is about, and what concerns the connection as a whole to the first.
#[derive(Debug, Clone)]
struct Shards(Arc<[mpsc::Sender<HubInput>]>);

impl Shards {
    /// The shard that holds `document`.
    fn of(&self, document: DocumentId) -> &mpsc::Sender<HubInput> {
        &self.0[self.index_of(document)]
    }

    fn index_of(&self, document: DocumentId) -> usize {
        let bytes = document.as_bytes();
        let mut low = [0u8; 8];
        low.copy_from_slice(&bytes[8..]);
        // The random half of the id: documents spread evenly.
        let index = u64::from_le_bytes(low) % self.0.len() as u64;
        usize::try_from(index).unwrap_or_default()
    }

    /// The shard that answers for a connection as a whole: its handshake, its farewell, its
    /// broken frames.
    fn lead(&self) -> &mpsc::Sender<HubInput> {
        &self.0[0]
    }

    /// Tells every shard.
    async fn all(&self, input: impl Fn() -> HubInput) {
        for shard in self.0.iter() {
            let _ = shard.send(input()).await;
        }
    }

    /// Where a frame goes: the shard of its document, or the lead; a `join` also tells the
    /// other shards who the peer is, once the lead has it.
    async fn route(&self, connection: ConnectionId, bytes: Vec<u8>) -> bool {
        let mut message = match Message::decode(&bytes) {
            Ok(message) => message,
            // The lead refuses it, and says why.
            Err(_) => {
                let event = Event::Frame { connection, bytes };
                return self.lead().send(HubInput::Event(event)).await.is_ok();
            }
        };
        let shard = match &message {
            Message::Request(body) | Message::Sync(body) => self.of(body.document_id),
            Message::DocUnavailable { document_id, .. }
            | Message::Ephemeral { document_id, .. } => self.of(*document_id),
            _ => self.lead(),
        };
        let joined = match &mut message {
            Message::Join {
                sender_id,
                peer_metadata,
                supported_protocol_versions,
            } if supported_protocol_versions
                .iter()
                .any(|v| v == PROTOCOL_VERSION) =>
            {
                // Each shard takes the quiet documents it holds; the lead answers for all.
                let quiet = peer_metadata.quiet.as_deref().and_then(quiet::decode);
                let metadata = peer_metadata.clone();
                peer_metadata.quiet = quiet.as_ref().map(|list| self.quiet_of(0, list));
                Some((sender_id.clone(), metadata, quiet))
            }
            _ => None,
        };
        let event = Event::Message {
            connection,
            message,
        };
        if shard.send(HubInput::Event(event)).await.is_err() {
            return false;
        }
        if let Some((peer, metadata, quiet)) = joined {
            for (index, other) in self.0.iter().enumerate().skip(1) {
                let mut metadata = metadata.clone();
                metadata.quiet = quiet.as_ref().map(|list| self.quiet_of(index, list));
                let event = Event::Joined {
                    connection,
                    peer: peer.clone(),
                    metadata,
                };
                let _ = other.send(HubInput::Event(event)).await;
            }
        }
        true
    }

    /// The entries of a `join`'s quiet list that shard `index` holds, as `join` carries them.
    fn quiet_of(&self, index: usize, list: &[(DocumentId, quiet::HeadsDigest)]) -> Vec<u8> {
        let own: Vec<(DocumentId, quiet::HeadsDigest)> = list
            .iter()
            .filter(|(document, _)| self.index_of(*document) == index)
            .copied()
            .collect();
        quiet::encode(&own)
    }
}

/// Passes on to the hub what other nodes write, and asks it to catch up now and then.
async fn follow_other_nodes(mut heard: mpsc::Receiver<Heard>, shards: Shards) {
    let mut tick = tokio::time::interval(CATCH_UP_EVERY);
    loop {
        tokio::select! {
            notice = heard.recv() => match notice {
                Some(Heard::Written(written)) => {
                    let shard = shards.of(written.document);
                    if shard.send(HubInput::Heard(Heard::Written(written))).await.is_err() {
                        return;
                    }
                }
                Some(Heard::Reconnected) => {
                    shards.all(|| HubInput::Heard(Heard::Reconnected)).await;
                }
                None => return,
            },
            _ = tick.tick() => shards.all(|| HubInput::CatchUp).await,
        }
    }
}

/// A connected session as the hub sees it.
#[derive(Debug)]
struct Session {
    identity: Principal,
    device: DeviceId,
    span: tracing::Span,
    outbox: mpsc::Sender<Outbound>,
}

/// The hub task: the only owner of the engine.
struct HubTask {
    engine: Engine<ServerGate>,
    /// Where other nodes may write the same documents: the version of each document held
    /// that this node has read, to read what was written after it.
    versions: Option<HashMap<DocumentId, i64>>,
    store: Store,
    directory: Directory,
    /// Where storage outcomes come back as events.
    inputs: mpsc::Sender<HubInput>,
    sessions: HashMap<ConnectionId, Session>,
    metrics: Metrics,
    /// The engine's eviction count when the metrics last heard of it.
    evicted: u64,
    /// The documents this shard held when the metrics last heard of it.
    held: i64,
    writing: Arc<AtomicU64>,
    /// Offers of refused changes answered from memory and not yet counted in the audit log,
    /// by the refusal's document and first change.
    repeats: HashMap<(DocumentId, ChangeHash), u64>,
}

/// How many repeated offers of refused changes the hub counts before writing them to the
/// audit log (it writes them too when a session ends), so that a client offering the same
/// changes in a loop costs one small write now and then.
const REPEATS_PER_WRITE: u64 = 64;

impl HubTask {
    async fn run(mut self, mut queue: mpsc::Receiver<HubInput>) {
        while let Some(input) = queue.recv().await {
            let effects = match input {
                HubInput::Connected {
                    connection,
                    identity,
                    device,
                    outbox,
                    span,
                } => {
                    let session = Session {
                        identity: identity.clone(),
                        device,
                        span,
                        outbox,
                    };
                    self.sessions.insert(connection, session);
                    self.engine.handle(Event::Connected {
                        connection,
                        identity,
                        shared: Vec::new(),
                    })
                }
                HubInput::Event(event) => {
                    if let Event::Disconnected { connection } = &event {
                        self.sessions.remove(connection);
                        self.count_repeats(0);
                    }
                    self.engine.handle(event)
                }
                HubInput::End(ending) => self.end(ending),
                HubInput::Stored { document, changes } => {
                    let Some(doc) = self.engine.document_mut(document) else {
                        // Not held: whoever opens it next loads it with the changes.
                        continue;
                    };
                    for bytes in changes {
                        if let Ok(change) = automerge::Change::from_bytes(bytes)
                            && let Err(error) = doc.apply_changes([change])
                        {
                            tracing::error!(%document, %error, "cannot apply a stored change");
                        }
                    }
                    self.engine.handle(Event::LocalChange { document })
                }
                HubInput::Heard(Heard::Written(written)) => {
                    if written.node != self.store.node() {
                        self.catch_up(written.document, written.version);
                    }
                    continue;
                }
                HubInput::StoredAt { document, version } => {
                    self.catch_up(document, version);
                    continue;
                }
                HubInput::Heard(Heard::Reconnected) | HubInput::CatchUp => {
                    self.catch_up_all();
                    continue;
                }
                HubInput::Version { document, version } => {
                    if let Some(versions) = &mut self.versions {
                        versions.insert(document, version);
                    }
                    continue;
                }
                HubInput::Written {
                    document,
                    bytes,
                    version,
                } => {
                    let Some(doc) = self.engine.document_mut(document) else {
                        continue;
                    };
                    if let Err(error) = doc.load_incremental(&bytes) {
                        tracing::error!(%document, %error, "cannot merge another node's write");
                        continue;
                    }
                    if let Some(versions) = &mut self.versions {
                        let known = versions.entry(document).or_default();
                        *known = (*known).max(version);
                    }
                    self.engine.handle(Event::LocalChange { document })
                }
                HubInput::Broken {
                    connection,
                    rule,
                    detail,
                } => {
                    let refusal = Refusal {
                        rule: rule.into(),
                        message: detail,
                    };
                    vec![Effect::Refused {
                        connection,
                        document: None,
                        refusal,
                    }]
                }
            };
            for effect in effects {
                self.carry_out(effect);
            }
            let evicted = self.engine.evicted();
            self.metrics
                .documents_evicted
                .inc_by(evicted.saturating_sub(self.evicted));
            self.evicted = evicted;
            // The gauge is every shard's together: each adds what changed of its own.
            let held = i64::try_from(self.engine.held()).unwrap_or(i64::MAX);
            self.metrics.documents_held.inc_by(held - self.held);
            self.held = held;
        }
    }

    /// Reads what other nodes wrote to `document` after the version held, if it is held and
    /// behind `version`, and hands it back to the hub to merge.
    fn catch_up(&mut self, document: DocumentId, version: i64) {
        let Some(versions) = &self.versions else {
            return;
        };
        if self.engine.document(document).is_none() {
            return;
        }
        let known = versions.get(&document).copied().unwrap_or(0);
        if known >= version {
            return;
        }
        let (store, inputs) = (self.store.clone(), self.inputs.clone());
        tokio::spawn(async move {
            match store.written_since(document, known).await {
                Ok(Some((bytes, version))) if !bytes.is_empty() => {
                    let written = HubInput::Written {
                        document,
                        bytes,
                        version,
                    };
                    let _ = inputs.send(written).await;
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%document, %error, "cannot read another node's write");
                }
            }
        });
    }

    /// Catches up on every document held: forgets the versions of those no longer held,
    /// asks storage the versions of the rest, and reads what is new.
    fn catch_up_all(&mut self) {
        let engine = &self.engine;
        let Some(versions) = &mut self.versions else {
            return;
        };
        versions.retain(|document, _| engine.document(*document).is_some());
        let held: Vec<DocumentId> = versions.keys().copied().collect();
        if held.is_empty() {
            return;
        }
        let (store, inputs) = (self.store.clone(), self.inputs.clone());
        tokio::spawn(async move {
            match store.versions(held).await {
                Ok(now) => {
                    for (document, version) in now {
                        let stored = HubInput::StoredAt { document, version };
                        if inputs.send(stored).await.is_err() {
                            return;
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot catch up on other nodes' writes"),
            }
        });
    }

    /// Ends the sessions `ending` names: each is told to close, and the engine forgets it.
    fn end(&mut self, ending: Ending) -> Vec<Effect> {
        let ended: Vec<ConnectionId> = self
            .sessions
            .iter()
            .filter(|(_, session)| match ending {
                Ending::Device(device) => session.device == device,
                Ending::User(user) => session.identity.user == user,
                Ending::Everyone => true,
            })
            .map(|(connection, _)| *connection)
            .collect();
        let mut effects = Vec::new();
        for connection in ended {
            if let Some(session) = self.sessions.remove(&connection) {
                session
                    .span
                    .in_scope(|| tracing::info!(?ending, "ending sync session"));
                let close = match ending {
                    Ending::Everyone => Outbound::GoingAway,
                    Ending::Device(_) | Ending::User(_) => Outbound::Close,
                };
                let _ = session.outbox.try_send(close);
            }
            effects.extend(self.engine.handle(Event::Disconnected { connection }));
        }
        effects
    }

    /// Runs `work` off the hub and hands the event it yields back to the hub, so the
    /// engine's state changes only in [`HubTask::run`].
    fn spawn_then<F>(&self, work: F)
    where
        F: Future<Output = Option<Event<Principal>>> + Send + 'static,
    {
        let inputs = self.inputs.clone();
        tokio::spawn(async move {
            if let Some(event) = work.await {
                let _ = inputs.send(HubInput::Event(event)).await;
            }
        });
    }

    /// Carries out one effect. Storage work runs on the store's thread.
    fn carry_out(&mut self, effect: Effect) {
        let store = self.store.clone();
        match effect {
            Effect::Send { connection, bytes } => {
                // A connection too slow to take its frames is closed rather than waited for.
                if let Some(session) = self.sessions.get(&connection)
                    && let Err(mpsc::error::TrySendError::Full(_)) =
                        session.outbox.try_send(Outbound::Frame(bytes))
                {
                    session
                        .span
                        .in_scope(|| tracing::warn!("too slow to take its frames: closed"));
                    let _ = session.outbox.try_send(Outbound::Close);
                    self.sessions.remove(&connection);
                }
            }
            Effect::Close { connection, reason } => {
                if let Some(session) = self.sessions.remove(&connection) {
                    session
                        .span
                        .in_scope(|| tracing::info!(%reason, "closing sync session"));
                    let _ = session.outbox.try_send(Outbound::Close);
                }
            }
            Effect::Load { document } => {
                let loaded = self.metrics.documents_loaded.clone();
                let (follows, inputs) = (self.versions.is_some(), self.inputs.clone());
                self.spawn_then(async move {
                    tracing::debug!(%document, "loading document");
                    if follows {
                        // Read before the document, so that whatever lands in between is
                        // read again, never missed.
                        match store.versions(vec![document]).await {
                            Ok(found) => {
                                for (document, version) in found {
                                    let _ = inputs.send(HubInput::Version { document, version }).await;
                                }
                            }
                            Err(error) => {
                                tracing::warn!(%document, %error, "cannot read a document's version");
                            }
                        }
                    }
                    let bytes = store.load_document(document).await.unwrap_or_else(|error| {
                        tracing::error!(%document, %error, "cannot load document");
                        None
                    });
                    if bytes.is_some() {
                        loaded.inc();
                    }
                    Some(Event::Loaded { document, bytes })
                })
            }
            Effect::LoadSyncState { storage, document } => self.spawn_then(async move {
                let bytes = store
                    .load_sync_state(storage.clone(), document)
                    .await
                    .unwrap_or_else(|error| {
                        tracing::error!(%document, %error, "cannot load sync state");
                        None
                    });
                Some(Event::SyncStateLoaded {
                    storage,
                    document,
                    bytes,
                })
            }),
            Effect::Persist {
                ticket,
                document,
                changes,
                touched,
            } => {
                let write = self.write(document, changes, touched);
                let elections = write.projection.elections.clone();
                let (directory, branch) = (
                    self.directory.clone(),
                    self.directory.scope(document).map(|s| s.branch),
                );
                tracing::debug!(%document, ticket, "persisting");
                let metrics = self.metrics.clone();
                let count = write.changes.len() as u64;
                let writing = WritingNow::new(&self.writing);
                self.spawn_then(async move {
                    let started = std::time::Instant::now();
                    let stored = store.append_changes(write).await;
                    drop(writing);
                    metrics
                        .storage_write_seconds
                        .observe(started.elapsed().as_secs_f64());
                    match stored {
                        Ok(()) => {
                            metrics.changes_accepted.inc_by(count);
                            tracing::debug!(%document, ticket, "persisted");
                            if let Some(branch) = branch
                                && !elections.is_empty()
                            {
                                directory.add_elections(branch, elections);
                            }
                            Some(Event::Persisted { ticket })
                        }
                        // Never acknowledged: the peer keeps its changes and sends them again.
                        Err(error) => {
                            tracing::error!(%document, %error, "cannot persist changes");
                            Some(Event::PersistFailed { ticket })
                        }
                    }
                });
            }
            Effect::SaveSyncState {
                storage,
                document,
                bytes,
            } => self.spawn_then(async move {
                if let Err(error) = store.save_sync_state(storage, document, bytes).await {
                    tracing::warn!(%document, %error, "cannot save sync state");
                }
                None
            }),
            Effect::ChangesRefused {
                changes,
                refusal,
                first,
                repeat: true,
                ..
            } => {
                self.metrics.refused_again(&refusal.rule);
                *self
                    .repeats
                    .entry((changes.document_id, first))
                    .or_default() += 1;
                self.count_repeats(REPEATS_PER_WRITE);
            }
            Effect::ChangesRefused {
                connection,
                changes,
                refusal,
                first,
                repeat: false,
            } => self.audit_refusal(connection, Some(changes.document_id), refusal, Some(first)),
            Effect::Refused {
                connection,
                document,
                refusal,
            } => self.audit_refusal(connection, document, refusal, None),
            Effect::Unavailable { .. } | Effect::Changed { .. } | Effect::Ephemeral { .. } => {}
        }
    }

    /// Writes the repeated offers of refused changes counted so far to the audit log, for
    /// each refusal offered again at least `at_least` times.
    fn count_repeats(&mut self, at_least: u64) {
        let due: Vec<((DocumentId, ChangeHash), u64)> = self
            .repeats
            .iter()
            .filter(|(_, n)| **n >= at_least.max(1))
            .map(|(key, n)| (*key, *n))
            .collect();
        for ((document, first), repeats) in due {
            self.repeats.remove(&(document, first));
            let store = self.store.clone();
            self.spawn_then(async move {
                if let Err(error) = store
                    .audit_repeats(document, first.to_string(), repeats)
                    .await
                {
                    tracing::error!(%error, "cannot write the audit log");
                }
                None
            });
        }
    }

    /// A refused frame or change, in the log and the audit log; `first` names a refusal of
    /// changes, which repeated offers are counted against.
    fn audit_refusal(
        &self,
        connection: ConnectionId,
        document: Option<DocumentId>,
        refusal: Refusal,
        first: Option<ChangeHash>,
    ) {
        self.metrics.refused(&refusal.rule);
        let session = self.sessions.get(&connection);
        let span = session.map_or_else(tracing::Span::none, |s| s.span.clone());
        span.in_scope(|| {
            tracing::warn!(
                document = ?document,
                rule = %refusal.rule,
                message = %refusal.message,
                "refused"
            );
        });
        let mut event = AuditEvent::new(now(), "refusal", refusal.message)
            .rule(refusal.rule)
            .document(document);
        if let Some(first) = first {
            event = event.refused(first.to_string());
        }
        if let Some(session) = session {
            event = event.by(&session.identity).device(Some(session.device));
        }
        // A refusal about a document is the business of the document's branch.
        if let Some(scope) = document.and_then(|d| self.directory.scope(d)) {
            event = event.concerning(Some(scope.branch), Some(scope.township));
        }
        let store = self.store.clone();
        self.spawn_then(async move {
            if let Err(error) = store.audit(event).await {
                tracing::error!(%error, "cannot write the audit log");
            }
            None
        });
    }

    /// What storing accepted changes involves: the changes, the binding of each actor written
    /// with for the first time (the gate bound them in memory when it accepted them), and the
    /// projection of the records they touched, read from the document they were applied to.
    fn write(
        &self,
        document: DocumentId,
        changes: Vec<automerge::Change>,
        touched: Option<Touched>,
    ) -> Write {
        let mut actors: Vec<(ActorId, UserId)> = Vec::new();
        for change in &changes {
            let actor = change.actor_id();
            if !actors.iter().any(|(a, _)| a == actor)
                && let Some(user) = self.directory.author_of(actor)
            {
                actors.push((actor.clone(), user));
            }
        }
        let scope = self.directory.scope(document);
        let projection = match (self.engine.document(document), scope) {
            (Some(doc), Some(scope)) => match touched {
                Some(touched) => projection::project_touched(doc, scope.kind, touched),
                None => projection::project_changes(doc, scope.kind, &changes),
            },
            _ => Projection::default(),
        };
        let at = now();
        let audit = reviews(&projection, at)
            .map(|event| {
                event
                    .document(Some(document))
                    .concerning(scope.map(|s| s.branch), scope.map(|s| s.township))
            })
            .collect();
        Write {
            document,
            changes,
            actors,
            projection,
            audit,
            at,
        }
    }
}

/// The reviews among the records new changes wrote: the audit log keeps who approved,
/// returned or published what.
fn reviews(projection: &Projection, at: client_core::Millis) -> impl Iterator<Item = AuditEvent> {
    projection
        .records
        .iter()
        .filter(|row| row.collection == client_core::schema::REVIEWS.name)
        .map(move |row| {
            let mut event = AuditEvent::new(
                at,
                "review",
                format!(
                    "{} {} (revision {})",
                    row.status,
                    row.subject.as_deref().unwrap_or("?"),
                    row.revision.unwrap_or(0)
                ),
            );
            event.user = row.owner.as_deref().and_then(|owner| owner.parse().ok());
            event
        })
}

/// The query of `GET /sync`: browsers cannot set headers on a WebSocket, so they pass a
/// single-use ticket instead (never the access token: URLs end up in logs).
#[derive(Debug, serde::Deserialize)]
pub struct SyncQuery {
    ticket: Option<String>,
}

/// `GET /sync`: authenticates (`Authorization: Bearer`, or `?ticket=`), then upgrades to the
/// protocol.
pub async fn endpoint(
    State(state): State<AppState>,
    Query(query): Query<SyncQuery>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let (Some(hub), Some(auth)) = (state.hub.clone(), state.auth.clone()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let caller = match &query.ticket {
        Some(ticket) => auth.authenticate_ticket(ticket, now()).await,
        None => crate::api::bearer(&headers).and_then(|token| auth.authenticate(token)),
    };
    let caller = match caller {
        Ok(caller) => caller,
        Err(error) => return ApiError::from(error).into_response(),
    };
    crate::telemetry::identify(&caller);
    // Authenticated first, so that whoever asks learns nothing before that.
    let Ok(upgrade) = upgrade else {
        return ApiError::Malformed("/sync speaks the sync protocol over WebSocket".into())
            .into_response();
    };
    upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| {
            // The session outlives the request: a span of its own, naming who it serves.
            let span = tracing::info_span!(
                "sync_session",
                connection = tracing::field::Empty,
                user = %caller.who.user,
                device = %caller.device,
                branch = tracing::field::Empty,
            );
            if let Some(branch) = caller.who.branch {
                span.record("branch", tracing::field::display(branch));
            }
            session(socket, hub, caller).instrument(span)
        })
}

/// One connection: frames in to the hub, frames out from its outbox.
async fn session(socket: WebSocket, hub: Hub, caller: Caller) {
    let connection = ConnectionId(hub.next_connection.fetch_add(1, Ordering::Relaxed));
    tracing::Span::current().record("connection", connection.0);
    tracing::info!("sync session opened");
    let _open = OpenSession::new(&hub.metrics);
    let metrics = hub.metrics.clone();
    let (outbox, mut outgoing) = mpsc::channel::<Outbound>(256);
    let span = tracing::Span::current();
    hub.shards
        .all(|| HubInput::Connected {
            connection,
            identity: caller.who.clone(),
            device: caller.device,
            outbox: outbox.clone(),
            span: span.clone(),
        })
        .await;
    drop(outbox);
    let (mut sink, mut stream) = socket.split();
    let (closed, mut closing) = tokio::sync::oneshot::channel::<()>();
    let writer = tokio::spawn(async move {
        while let Some(out) = outgoing.recv().await {
            match out {
                Outbound::Frame(bytes) => {
                    metrics.frame(Direction::Out, bytes.len());
                    if sink.send(WsMessage::Binary(bytes.into())).await.is_err() {
                        break;
                    }
                }
                Outbound::Close | Outbound::GoingAway => {
                    let frame = matches!(out, Outbound::GoingAway).then(|| CloseFrame {
                        code: close_code::AWAY,
                        reason: "the server is shutting down".into(),
                    });
                    let _ = sink.send(WsMessage::Close(frame)).await;
                    let _ = closed.send(());
                    break;
                }
            }
        }
    });
    // Once the server has closed, the peer has a moment to answer the close; a peer that
    // does not is cut off rather than kept reading.
    let deadline = async move {
        if closing.try_recv().is_err() && (&mut closing).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(CLOSE_GRACE).await;
    };
    tokio::pin!(deadline);
    loop {
        let received = tokio::select! {
            received = stream.next() => received,
            () = &mut deadline => break,
        };
        let Some(received) = received else { break };
        let message = match received {
            Ok(message) => message,
            Err(error) => {
                let detail = error.to_string();
                match violation(error) {
                    Some(rule) => {
                        let broken = HubInput::Broken {
                            connection,
                            rule,
                            detail,
                        };
                        let _ = hub.shards.lead().send(broken).await;
                    }
                    None => tracing::debug!(%detail, "connection lost"),
                }
                break;
            }
        };
        let bytes = match message {
            WsMessage::Binary(bytes) => bytes.to_vec(),
            // The protocol is binary; a text frame is garbage like any other.
            WsMessage::Text(text) => text.as_bytes().to_vec(),
            WsMessage::Close(_) => break,
            WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
        };
        hub.metrics.frame(Direction::In, bytes.len());
        if !hub.shards.route(connection, bytes).await {
            break;
        }
    }
    hub.shards
        .all(|| HubInput::Event(Event::Disconnected { connection }))
        .await;
    writer.abort();
    tracing::info!("sync session closed");
}

/// The rule a WebSocket error broke, or `None` if the connection was merely lost: a phone
/// walking out of signal drops its connection without a closing handshake every day, and
/// that is no one's fault.
fn violation(error: axum::Error) -> Option<&'static str> {
    use tungstenite::Error;
    use tungstenite::error::ProtocolError;
    let Ok(error) = error.into_inner().downcast::<Error>() else {
        return Some("bad_transport");
    };
    match *error {
        Error::ConnectionClosed
        | Error::AlreadyClosed
        | Error::Io(_)
        | Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        Error::Capacity(_) => Some("frame_too_large"),
        // Every other failure is the peer not speaking WebSocket properly.
        _ => Some("bad_transport"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shard_takes_the_quiet_documents_it_holds() {
        let (senders, _receivers): (Vec<_>, Vec<_>) = (0..3).map(|_| mpsc::channel(1)).unzip();
        let shards = Shards(senders.into());
        let list: Vec<(DocumentId, quiet::HeadsDigest)> = (0..30u8)
            .map(|i| (DocumentId::generate().unwrap(), [i; 8]))
            .collect();
        let mut taken = Vec::new();
        for index in 0..3 {
            let own = quiet::decode(&shards.quiet_of(index, &list)).unwrap();
            for (document, _) in &own {
                assert!(shards.of(*document).same_channel(&shards.0[index]));
            }
            taken.extend(own);
        }
        taken.sort_unstable();
        let mut all = list;
        all.sort_unstable();
        assert_eq!(taken, all);
    }
}
