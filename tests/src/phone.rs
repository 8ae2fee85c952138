//! A native phone as the app runs: client-core's [`Replica`] over a real WebSocket, storage in
//! memory, its tasks carried out in order as the web app carries them out, refused work
//! quarantined and recovered. It can die after a given number of tasks and start again from
//! what it stored, as a phone whose battery runs out does.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use automerge::ActorId;
use client_core::documents::Documents;
use client_core::model::notebook::Lecture;
use client_core::recovery::{Quarantine, Returned};
use client_core::replica::{Replica, Task};
use client_core::sync::message::{PeerId, StorageId};
use client_core::{DocumentId, Millis, Principal, schema};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// What the phone keeps across restarts, as the app keeps it in IndexedDB.
#[derive(Debug, Default, Clone)]
pub struct Kept {
    pub documents: BTreeMap<DocumentId, Vec<u8>>,
    pub sync_states: BTreeMap<(StorageId, DocumentId), Vec<u8>>,
    pub quarantines: BTreeMap<DocumentId, Quarantine>,
    pub returned: BTreeMap<(DocumentId, String, String), Returned>,
    pub actor: Option<String>,
}

pub struct Phone {
    name: String,
    /// Who the person is, as the phone last heard from the server.
    pub who: Principal,
    replica: Replica,
    socket: Option<Socket>,
    pub kept: Kept,
    /// When set, the phone dies after carrying out this many more tasks of a recovery.
    pub dies_in_recovery: Option<usize>,
    dying: Option<usize>,
    now: Millis,
    /// The version of the rules the app says it writes by.
    rules: u32,
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Phone")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Phone {
    pub fn new(name: &str, who: &Principal, now: Millis) -> Phone {
        Phone {
            name: name.to_owned(),
            who: who.clone(),
            replica: replica(name, client_core::validate::RULES),
            socket: None,
            kept: Kept::default(),
            dies_in_recovery: None,
            dying: None,
            now,
            rules: client_core::validate::RULES,
        }
    }

    pub fn documents(&self) -> &Documents {
        self.replica.documents()
    }

    /// Keeps `document` in sync from now on.
    pub fn follow(&mut self, document: DocumentId) {
        self.replica.sync(document);
    }

    /// Makes a change through client-core's operations, as a screen does.
    pub async fn edit<T>(
        &mut self,
        document: DocumentId,
        edit: impl FnOnce(&mut Documents) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let done = self.replica.edit(document, |d| edit(d))?;
        self.carry_out().await?;
        Ok(done)
    }

    pub async fn connect(&mut self, addr: SocketAddr, token: &str) -> Result<(), Error> {
        let mut request = format!("ws://{addr}/sync").into_client_request()?;
        request
            .headers_mut()
            .insert("Authorization", format!("Bearer {token}").parse()?);
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        self.socket = Some(socket);
        self.replica.connected();
        self.carry_out().await
    }

    pub async fn disconnect(&mut self) -> Result<(), Error> {
        if let Some(mut socket) = self.socket.take() {
            let _ = socket.close(None).await;
        }
        self.replica.disconnected();
        self.carry_out().await
    }

    /// The app becomes one that writes by version `rules` of the rules (it starts again from
    /// what it kept), as a phone left on an old version does.
    pub fn writes_by(&mut self, rules: u32) {
        self.rules = rules;
        self.restart()
            .unwrap_or_else(|error| panic!("cannot start again: {error}"));
    }

    pub fn is_dead(&self) -> bool {
        self.dying == Some(0)
    }

    /// The app starts again from what it kept, and goes on recovering what it quarantined.
    pub fn restart(&mut self) -> Result<(), Error> {
        self.socket = None;
        self.dying = None;
        self.replica = replica(&self.name, self.rules);
        if let Some(actor) = &self.kept.actor {
            self.replica.set_actor(ActorId::try_from(actor.as_str())?);
        }
        for ((server, document), bytes) in &self.kept.sync_states {
            self.replica
                .restore_sync_state(server.clone(), *document, bytes.clone());
        }
        for (document, bytes) in &self.kept.documents {
            self.replica.open(*document, bytes)?;
        }
        for quarantine in self.kept.quarantines.values() {
            self.replica.recover(quarantine, &self.who, self.now)?;
        }
        Ok(())
    }

    /// Syncs until `done` holds or `limit` passes (or the phone dies); returns whether it held.
    pub async fn sync_until(
        &mut self,
        limit: Duration,
        done: impl Fn(&Phone) -> bool,
    ) -> Result<bool, Error> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut quiet = tokio::time::Instant::now();
        loop {
            if done(self) {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline || self.is_dead() {
                return Ok(false);
            }
            let Some(socket) = self.socket.as_mut() else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            match tokio::time::timeout(Duration::from_millis(50), socket.next()).await {
                Ok(Some(Ok(WsMessage::Binary(bytes)))) => {
                    quiet = tokio::time::Instant::now();
                    self.replica.received(bytes.to_vec());
                    self.carry_out().await?;
                }
                Ok(Some(Ok(WsMessage::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => {
                    self.socket = None;
                    self.replica.disconnected();
                    self.carry_out().await?;
                }
                Ok(Some(Ok(_))) => {}
                Err(_) if quiet.elapsed() >= Duration::from_secs(1) => {
                    quiet = tokio::time::Instant::now();
                    self.replica.tick();
                    self.carry_out().await?;
                }
                Err(_) => {}
            }
        }
    }

    /// Syncs until the phone holds `documents`, nothing of them waits for the server, and no
    /// recovery is left.
    pub async fn settle(
        &mut self,
        limit: Duration,
        documents: &[DocumentId],
    ) -> Result<bool, Error> {
        let documents = documents.to_vec();
        self.sync_until(limit, move |p| {
            p.kept.quarantines.is_empty()
                && documents.iter().all(|d| {
                    p.replica.documents().get(*d).is_ok()
                        && p.replica.acknowledged(*d)
                        && p.replica.waiting(*d) == 0
                })
        })
        .await
    }

    /// What a test prints when the phone does not settle: per document, whether it is held,
    /// acknowledged, and how many records wait; and what is quarantined and returned.
    pub fn state(&self, documents: &[DocumentId]) -> String {
        let per: Vec<String> = documents
            .iter()
            .map(|d| {
                format!(
                    "{d}: held {} acknowledged {} waiting {}",
                    self.replica.documents().get(*d).is_ok(),
                    self.replica.acknowledged(*d),
                    self.replica.waiting(*d)
                )
            })
            .collect();
        format!(
            "{}; quarantined {:?}; returned {}; connected {}",
            per.join("; "),
            self.kept.quarantines.keys().collect::<Vec<_>>(),
            self.kept.returned.len(),
            self.socket.is_some()
        )
    }

    /// The lectures of `notebook` as this phone holds them.
    pub fn lectures(&self, notebook: DocumentId) -> Vec<Lecture> {
        self.replica
            .documents()
            .notebook(notebook)
            .map(|n| {
                n.records::<Lecture>(&schema::LECTURES)
                    .into_iter()
                    .map(|(_, l)| l)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Carries out the replica's tasks in order, as the app does.
    async fn carry_out(&mut self) -> Result<(), Error> {
        loop {
            let tasks = self.replica.take_tasks();
            if tasks.is_empty() {
                return Ok(());
            }
            for task in tasks {
                match self.dying {
                    Some(0) => return Ok(()),
                    Some(n) => self.dying = Some(n - 1),
                    None => {}
                }
                self.task(task).await?;
            }
        }
    }

    async fn task(&mut self, task: Task) -> Result<(), Error> {
        match task {
            Task::Send { bytes } => {
                if let Some(socket) = self.socket.as_mut() {
                    socket.send(WsMessage::Binary(bytes.into())).await?;
                }
            }
            Task::Close { .. } => {
                if let Some(mut socket) = self.socket.take() {
                    let _ = socket.close(None).await;
                }
                self.replica.disconnected();
            }
            Task::Store {
                document,
                bytes,
                ticket,
            } => {
                self.kept
                    .documents
                    .entry(document)
                    .or_default()
                    .extend_from_slice(&bytes);
                if let Some(ticket) = ticket {
                    self.replica.stored(ticket);
                }
            }
            Task::SaveSyncState {
                server,
                document,
                bytes,
            } => {
                self.kept.sync_states.insert((server, document), bytes);
            }
            Task::Quarantine { quarantine } => {
                self.kept
                    .quarantines
                    .insert(quarantine.document, quarantine.clone());
                if let Some(dies) = self.dies_in_recovery.take() {
                    self.dying = Some(dies);
                }
                if !self.is_dead() {
                    self.replica.recover(&quarantine, &self.who, self.now)?;
                }
            }
            Task::Actor { actor } => self.kept.actor = Some(actor),
            Task::Replace { document, bytes } => {
                self.kept.documents.insert(document, bytes);
                self.kept.sync_states.retain(|(_, d), _| *d != document);
            }
            Task::Returned { item } => {
                let key = (item.document, item.collection.clone(), item.key.clone());
                self.kept.returned.insert(key, item);
            }
            Task::Recovered { document } => {
                self.kept.quarantines.remove(&document);
            }
            Task::Changed { .. } | Task::Unavailable { .. } => {}
        }
        Ok(())
    }
}

fn replica(name: &str, rules: u32) -> Replica {
    Replica::writing_by(
        PeerId(name.to_owned()),
        StorageId(format!("{name}-storage")),
        rules,
    )
}
