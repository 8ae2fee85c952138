//! A native device for tests and benchmarks: client-core's sync engine over a real WebSocket,
//! with storage in memory. Many can run in one process.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use automerge::Automerge;
use client_core::DocumentId;
use client_core::sync::engine::{ConnectionId, Effect, Engine, Event, Side, Trusting};
use client_core::sync::message::{PeerId, PeerMetadata, RefusedChanges, StorageId};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const LINK: ConnectionId = ConnectionId(1);

/// One simulated phone.
pub struct Device {
    engine: Engine<Trusting>,
    storage: BTreeMap<DocumentId, Vec<u8>>,
    sync_states: BTreeMap<(StorageId, DocumentId), Vec<u8>>,
    socket: Option<Socket>,
    /// Everything the engine reported, for tests to inspect.
    pub log: Vec<Effect>,
    /// WebSocket payload bytes sent and received, for benchmarks.
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// The code of the last close frame the server sent, if it gave one.
    pub closed_with: Option<u16>,
    /// Every frame sent and received, in the order this device saw them, while `Some`: for
    /// benchmarks that take the traffic apart by document and message.
    pub frames: Option<Vec<Frame>>,
    /// Whether `join` names the documents still at the heads last shared with the server
    /// (client-core's quiet reconnect, as the app does); off, the device joins as a stock
    /// client does and shows its heads for each document.
    pub names_quiet: bool,
}

/// One WebSocket frame's payload, as a device sent or received it.
#[derive(Debug, Clone)]
pub struct Frame {
    pub sent: bool,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("connected", &self.socket.is_some())
            .finish_non_exhaustive()
    }
}

pub type Error = Box<dyn std::error::Error + Send + Sync>;

impl Device {
    /// A device with persistent storage named `name`, a stock client as far as the rules go
    /// (it does not say which version it writes by).
    pub fn new(name: &str) -> Device {
        Device::writing_by(name, None)
    }

    /// A device that says it writes by version `rules` of client-core's rules, as an app of
    /// that version does.
    pub fn writing_by(name: &str, rules: Option<u32>) -> Device {
        let metadata = PeerMetadata {
            storage_id: Some(StorageId(format!("{name}-storage"))),
            is_ephemeral: Some(false),
            rules,
            quiet: None,
        };
        Device::introduced_as(name, metadata)
    }

    /// A device with peer id `peer` that says `metadata` of itself in `join`: with or without
    /// a storage id under which the server keeps what they share.
    pub fn introduced_as(peer: &str, metadata: PeerMetadata) -> Device {
        Device {
            engine: Engine::new(PeerId(peer.to_owned()), metadata, Side::Client, Trusting),
            storage: BTreeMap::new(),
            sync_states: BTreeMap::new(),
            socket: None,
            log: Vec::new(),
            bytes_sent: 0,
            bytes_received: 0,
            closed_with: None,
            frames: None,
            names_quiet: true,
        }
    }

    /// Puts a document in the device's storage, as an earlier session left it.
    pub fn hold(&mut self, document: DocumentId, bytes: Vec<u8>) {
        self.storage.insert(document, bytes);
    }

    /// Forgets what this device shared with every server, as an app that keeps no sync states
    /// would: its next session starts from its documents alone.
    pub fn forget_sync_states(&mut self) {
        self.sync_states.clear();
    }

    pub fn document(&self, document: DocumentId) -> Option<&Automerge> {
        self.engine.document(document)
    }

    /// Whether the server has said it keeps everything this device has of `document`.
    pub fn acknowledged(&self, document: DocumentId) -> bool {
        self.engine.acknowledged(document)
    }

    /// Changes a document locally, saves it, and offers it to the server if connected.
    pub async fn edit(
        &mut self,
        document: DocumentId,
        edit: impl FnOnce(&mut Automerge),
    ) -> Result<(), Error> {
        let doc = self
            .engine
            .document_mut(document)
            .ok_or("document not open")?;
        edit(doc);
        let bytes = doc.save();
        self.storage.insert(document, bytes);
        self.handle(Event::LocalChange { document }).await
    }

    /// Opens a WebSocket to the server's `/sync` with an access token.
    pub async fn connect(&mut self, addr: SocketAddr, token: &str) -> Result<(), Error> {
        let mut request = format!("ws://{addr}/sync").into_client_request()?;
        request
            .headers_mut()
            .insert("Authorization", format!("Bearer {token}").parse()?);
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        self.socket = Some(socket);
        let shared = if self.names_quiet {
            client_core::sync::quiet::last_shared(&self.sync_states)
        } else {
            Vec::new()
        };
        self.handle(Event::Connected {
            connection: LINK,
            identity: (),
            shared,
        })
        .await
    }

    pub async fn disconnect(&mut self) -> Result<(), Error> {
        if let Some(mut socket) = self.socket.take() {
            let _ = socket.close(None).await;
        }
        self.handle(Event::Disconnected { connection: LINK }).await
    }

    /// Sends bytes as they are, bypassing the engine: for tests of hostile input.
    pub async fn send_raw(&mut self, bytes: Vec<u8>) -> Result<(), Error> {
        let socket = self.socket.as_mut().ok_or("not connected")?;
        socket.send(WsMessage::Binary(bytes.into())).await?;
        Ok(())
    }

    pub fn is_connected(&self) -> bool {
        self.socket.is_some()
    }

    pub async fn open(&mut self, document: DocumentId) -> Result<(), Error> {
        self.handle(Event::Open { document }).await
    }

    /// Receives frames until `done` holds or `limit` passes; returns whether it held.
    pub async fn sync_until<F, Fut>(&mut self, limit: Duration, mut done: F) -> Result<bool, Error>
    where
        F: FnMut(&Device) -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + limit;
        let mut quiet_since = tokio::time::Instant::now();
        loop {
            if done(self).await {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            let Some(socket) = self.socket.as_mut() else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            match tokio::time::timeout(Duration::from_millis(50), socket.next()).await {
                Ok(Some(Ok(WsMessage::Binary(bytes)))) => {
                    quiet_since = tokio::time::Instant::now();
                    self.bytes_received += bytes.len() as u64;
                    if let Some(frames) = self.frames.as_mut() {
                        frames.push(Frame {
                            sent: false,
                            bytes: bytes.to_vec(),
                        });
                    }
                    self.handle(Event::Frame {
                        connection: LINK,
                        bytes: bytes.to_vec(),
                    })
                    .await?;
                }
                Ok(Some(Ok(WsMessage::Close(frame)))) => {
                    self.closed_with = frame.map(|f| u16::from(f.code));
                    self.socket = None;
                    self.handle(Event::Disconnected { connection: LINK })
                        .await?;
                }
                Ok(None) | Ok(Some(Err(_))) => {
                    self.socket = None;
                    self.handle(Event::Disconnected { connection: LINK })
                        .await?;
                }
                Ok(Some(Ok(_))) => {}
                // A second without word: offer again what the server has not acknowledged.
                Err(_) if quiet_since.elapsed() >= Duration::from_secs(1) => {
                    quiet_since = tokio::time::Instant::now();
                    self.handle(Event::Tick).await?;
                }
                Err(_) => {}
            }
        }
    }

    /// Syncs until the server has acknowledged everything this device has of `documents`,
    /// or `limit` passes; returns whether it did.
    pub async fn sync_until_acknowledged(
        &mut self,
        limit: Duration,
        documents: &[DocumentId],
    ) -> Result<bool, Error> {
        self.sync_until(limit, |d| {
            let kept = documents.iter().all(|doc| d.acknowledged(*doc));
            async move { kept }
        })
        .await
    }

    /// Syncs until the server says `document` is unavailable, or `limit` passes; returns
    /// whether it did.
    pub async fn sync_until_unavailable(
        &mut self,
        limit: Duration,
        document: DocumentId,
    ) -> Result<bool, Error> {
        self.sync_until(limit, |d| {
            let unavailable = d
                .log
                .iter()
                .any(|e| matches!(e, Effect::Unavailable { document: d } if *d == document));
            async move { unavailable }
        })
        .await
    }

    /// Syncs until the server refuses changes to `document`, or `limit` passes; returns what
    /// it said it refused.
    pub async fn sync_until_refused(
        &mut self,
        limit: Duration,
        document: DocumentId,
    ) -> Result<Option<RefusedChanges>, Error> {
        let refused = |d: &Device| {
            d.log.iter().find_map(|e| match e {
                Effect::ChangesRefused { changes, .. } if changes.document_id == document => {
                    Some(changes.clone())
                }
                _ => None,
            })
        };
        self.sync_until(limit, |d| {
            let done = refused(d).is_some();
            async move { done }
        })
        .await?;
        Ok(refused(self))
    }

    /// Syncs until the connection is closed, or `limit` passes; returns whether it was.
    pub async fn sync_until_closed(&mut self, limit: Duration) -> Result<bool, Error> {
        self.sync_until(limit, |d| {
            let closed = !d.is_connected();
            async move { closed }
        })
        .await
    }

    /// Runs an event through the engine and carries out every effect, including those of the
    /// answers it gives.
    async fn handle(&mut self, event: Event<()>) -> Result<(), Error> {
        let mut pending = vec![event];
        while let Some(event) = pending.pop() {
            for effect in self.engine.handle(event) {
                match &effect {
                    Effect::Send { bytes, .. } => {
                        self.bytes_sent += bytes.len() as u64;
                        if let Some(frames) = self.frames.as_mut() {
                            frames.push(Frame {
                                sent: true,
                                bytes: bytes.clone(),
                            });
                        }
                        if let Some(socket) = self.socket.as_mut() {
                            socket.send(WsMessage::Binary(bytes.clone().into())).await?;
                        }
                    }
                    Effect::Close { .. } => {
                        if let Some(mut socket) = self.socket.take() {
                            let _ = socket.close(None).await;
                        }
                    }
                    Effect::Load { document } => pending.push(Event::Loaded {
                        document: *document,
                        bytes: self.storage.get(document).cloned(),
                    }),
                    Effect::LoadSyncState { storage, document } => {
                        pending.push(Event::SyncStateLoaded {
                            storage: storage.clone(),
                            document: *document,
                            bytes: self.sync_states.get(&(storage.clone(), *document)).cloned(),
                        })
                    }
                    Effect::Persist {
                        ticket,
                        document,
                        changes,
                        ..
                    } => {
                        let stored = self.storage.entry(*document).or_default();
                        for change in changes {
                            stored.extend_from_slice(change.raw_bytes());
                        }
                        pending.push(Event::Persisted { ticket: *ticket });
                    }
                    Effect::SaveSyncState {
                        storage,
                        document,
                        bytes,
                    } => {
                        self.sync_states
                            .insert((storage.clone(), *document), bytes.clone());
                    }
                    Effect::Refused { .. }
                    | Effect::ChangesRefused { .. }
                    | Effect::Unavailable { .. }
                    | Effect::Changed { .. }
                    | Effect::Ephemeral { .. } => {}
                }
                self.log.push(effect);
            }
        }
        Ok(())
    }
}
