//! `GET /sync`: the automerge-repo protocol over WebSocket, driven by client-core's engine.
//!
//! One hub task owns the engine and is the only place its state changes. Connections feed it
//! frames; it carries out the engine's effects: frames go to each connection's outbox, storage
//! work goes to the store, and the outcome comes back as an event. The engine holds replies
//! and relays until the store says the changes are durable.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use automerge::{Automerge, ChangeHash};
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use client_core::sync::engine::{ConnectionId, Effect, Engine, Event, Gate, Refusal, Side};
use client_core::sync::message::{PeerId, PeerMetadata, StorageId};
use client_core::validate::{self, Context, Limits};
use client_core::{DocumentId, Principal, Scope, access};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::AppState;
use crate::store::Store;

/// The largest frame accepted: a batch of changes is limited to 16 MiB by validation, and a
/// frame carries at most one batch.
pub const MAX_FRAME_BYTES: usize = 17 << 20;

/// Which documents exist and what they are: the server's catalogue, never a document's own
/// claim about itself.
pub type Catalogue = Arc<RwLock<HashMap<DocumentId, Scope>>>;

/// Adds documents created since row `last` (by the command line, say) to the catalogue,
/// every two seconds.
pub async fn follow_catalogue(store: Store, catalogue: Catalogue, mut last: i64) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
    loop {
        tick.tick().await;
        match store.catalogue_since(last).await {
            Ok((new, newest)) => {
                if let Ok(mut map) = catalogue.write() {
                    map.extend(new);
                }
                last = newest;
            }
            Err(crate::store::StoreError::Stopped) => return,
            Err(error) => tracing::warn!(%error, "cannot refresh the catalogue"),
        }
    }
}

/// The server's policy: read rules from client-core's access table; changes checked by
/// client-core's validation, with the connection's principal as their author.
#[derive(Debug, Clone)]
pub struct ServerGate {
    catalogue: Catalogue,
}

impl ServerGate {
    fn scope(&self, document: DocumentId) -> Option<Scope> {
        self.catalogue.read().ok()?.get(&document).copied()
    }
}

impl Gate for ServerGate {
    type Identity = Principal;

    fn can_read(&self, who: &Principal, document: DocumentId) -> bool {
        self.scope(document)
            .is_some_and(|scope| access::can_read(who, &scope))
    }

    fn check_changes(
        &self,
        who: &Principal,
        document: DocumentId,
        doc: &Automerge,
        before: &[ChangeHash],
    ) -> Result<(), Refusal> {
        let scope = self.scope(document).ok_or_else(|| Refusal {
            rule: "unknown_document".into(),
            message: document.to_string(),
        })?;
        let ctx = Context {
            scope,
            authors: std::slice::from_ref(who),
            elections: None,
            limits: Limits::default(),
        };
        validate::validate_changes(doc, before, &ctx).map_err(|violation| Refusal {
            rule: violation.rule().into(),
            message: violation.to_string(),
        })
    }
}

/// What the hub is told.
#[derive(Debug)]
enum HubInput {
    Connected {
        connection: ConnectionId,
        identity: Principal,
        outbox: mpsc::Sender<Outbound>,
    },
    Event(Event<Principal>),
}

/// What a connection's writer is told.
#[derive(Debug)]
enum Outbound {
    Frame(Vec<u8>),
    Close,
}

/// The running sync service: a handle to the hub.
#[derive(Debug, Clone)]
pub struct Hub {
    inputs: mpsc::Sender<HubInput>,
    next_connection: Arc<AtomicU64>,
}

impl Hub {
    /// Starts the hub task.
    pub fn start(store: Store, catalogue: Catalogue) -> Hub {
        let (inputs, queue) = mpsc::channel(4096);
        let engine = Engine::new(
            PeerId(format!("tianjian-server-{}", std::process::id())),
            PeerMetadata {
                storage_id: Some(StorageId("tianjian-server".into())),
                is_ephemeral: Some(false),
            },
            Side::Server,
            ServerGate { catalogue },
        );
        tokio::spawn(run_hub(engine, store, queue, inputs.clone()));
        Hub {
            inputs,
            next_connection: Arc::new(AtomicU64::new(1)),
        }
    }
}

async fn run_hub(
    mut engine: Engine<ServerGate>,
    store: Store,
    mut queue: mpsc::Receiver<HubInput>,
    inputs: mpsc::Sender<HubInput>,
) {
    let mut outboxes: HashMap<ConnectionId, mpsc::Sender<Outbound>> = HashMap::new();
    while let Some(input) = queue.recv().await {
        let effects = match input {
            HubInput::Connected {
                connection,
                identity,
                outbox,
            } => {
                outboxes.insert(connection, outbox);
                engine.handle(Event::Connected {
                    connection,
                    identity,
                })
            }
            HubInput::Event(event) => {
                if let Event::Disconnected { connection } = &event {
                    outboxes.remove(connection);
                }
                engine.handle(event)
            }
        };
        for effect in effects {
            carry_out(effect, &mut outboxes, &store, &inputs);
        }
    }
}

/// Carries out one effect. Storage work runs on the store's thread; its outcome returns to
/// the hub as an event, so the engine's state changes only here.
fn carry_out(
    effect: Effect,
    outboxes: &mut HashMap<ConnectionId, mpsc::Sender<Outbound>>,
    store: &Store,
    inputs: &mpsc::Sender<HubInput>,
) {
    let back = |inputs: &mpsc::Sender<HubInput>, event: Event<Principal>| {
        let inputs = inputs.clone();
        async move {
            let _ = inputs.send(HubInput::Event(event)).await;
        }
    };
    match effect {
        Effect::Send { connection, bytes } => {
            // A connection too slow to take its frames is closed rather than waited for.
            if let Some(outbox) = outboxes.get(&connection)
                && outbox.try_send(Outbound::Frame(bytes)).is_err()
            {
                let _ = outbox.try_send(Outbound::Close);
                outboxes.remove(&connection);
            }
        }
        Effect::Close { connection, reason } => {
            tracing::info!(connection = connection.0, %reason, "closing sync session");
            if let Some(outbox) = outboxes.remove(&connection) {
                let _ = outbox.try_send(Outbound::Close);
            }
        }
        Effect::Load { document } => {
            let (store, inputs) = (store.clone(), inputs.clone());
            tokio::spawn(async move {
                let bytes = match store.load_document(document).await {
                    Ok(bytes) => bytes,
                    Err(error) => {
                        tracing::error!(%document, %error, "cannot load document");
                        None
                    }
                };
                back(&inputs, Event::Loaded { document, bytes }).await;
            });
        }
        Effect::LoadSyncState { storage, document } => {
            let (store, inputs) = (store.clone(), inputs.clone());
            tokio::spawn(async move {
                let bytes = store
                    .load_sync_state(storage.clone(), document)
                    .await
                    .unwrap_or_else(|error| {
                        tracing::error!(%document, %error, "cannot load sync state");
                        None
                    });
                back(
                    &inputs,
                    Event::SyncStateLoaded {
                        storage,
                        document,
                        bytes,
                    },
                )
                .await;
            });
        }
        Effect::Persist {
            ticket,
            document,
            changes,
        } => {
            let (store, inputs) = (store.clone(), inputs.clone());
            tokio::spawn(async move {
                match store.append_changes(document, changes).await {
                    Ok(()) => back(&inputs, Event::Persisted { ticket }).await,
                    // Never acknowledged: the peer keeps its changes and sends them again.
                    Err(error) => tracing::error!(%document, %error, "cannot persist changes"),
                }
            });
        }
        Effect::SaveSyncState {
            storage,
            document,
            bytes,
        } => {
            let store = store.clone();
            tokio::spawn(async move {
                if let Err(error) = store.save_sync_state(storage, document, bytes).await {
                    tracing::warn!(%document, %error, "cannot save sync state");
                }
            });
        }
        Effect::Refused {
            connection,
            document,
            refusal,
        } => {
            tracing::warn!(
                connection = connection.0,
                document = ?document,
                rule = %refusal.rule,
                message = %refusal.message,
                "refused"
            );
        }
        Effect::Unavailable { .. } | Effect::Changed { .. } | Effect::Ephemeral { .. } => {}
    }
}

/// The query of `GET /sync`: browsers cannot set headers on a WebSocket, so they pass a
/// short-lived ticket instead.
#[derive(Debug, serde::Deserialize)]
pub struct SyncQuery {
    ticket: Option<String>,
}

/// `GET /sync`: authenticates (`Authorization: Bearer`, or `?ticket=`), then upgrades to the
/// protocol. Until single-use tickets exist (identity issue), a ticket is a short-lived
/// access token.
pub async fn endpoint(
    State(state): State<AppState>,
    Query(query): Query<SyncQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let (Some(hub), Some(keys)) = (state.hub.clone(), state.keys.clone()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let verified = match &query.ticket {
        Some(ticket) => keys.verify(ticket),
        None => keys.verify_header(&headers),
    };
    let claims = match verified {
        Ok(claims) => claims,
        Err(error) => return (StatusCode::UNAUTHORIZED, error.to_string()).into_response(),
    };
    let identity = claims.principal();
    upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| session(socket, hub, identity))
}

/// One connection: frames in to the hub, frames out from its outbox.
async fn session(socket: WebSocket, hub: Hub, identity: Principal) {
    let connection = ConnectionId(hub.next_connection.fetch_add(1, Ordering::Relaxed));
    let (outbox, mut outgoing) = mpsc::channel::<Outbound>(256);
    if hub
        .inputs
        .send(HubInput::Connected {
            connection,
            identity,
            outbox,
        })
        .await
        .is_err()
    {
        return;
    }
    let (mut sink, mut stream) = socket.split();
    let writer = tokio::spawn(async move {
        while let Some(out) = outgoing.recv().await {
            match out {
                Outbound::Frame(bytes) => {
                    if sink.send(WsMessage::Binary(bytes.into())).await.is_err() {
                        break;
                    }
                }
                Outbound::Close => {
                    let _ = sink.send(WsMessage::Close(None)).await;
                    break;
                }
            }
        }
    });
    while let Some(Ok(message)) = stream.next().await {
        let bytes = match message {
            WsMessage::Binary(bytes) => bytes.to_vec(),
            // The protocol is binary; a text frame is garbage like any other.
            WsMessage::Text(text) => text.as_bytes().to_vec(),
            WsMessage::Close(_) => break,
            WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
        };
        let event = Event::Frame { connection, bytes };
        if hub.inputs.send(HubInput::Event(event)).await.is_err() {
            break;
        }
    }
    let _ = hub
        .inputs
        .send(HubInput::Event(Event::Disconnected { connection }))
        .await;
    writer.abort();
}
