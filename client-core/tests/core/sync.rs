//! The sync engine on a deterministic in-memory network: a server engine with storage and a
//! gate built on client-core's validation, and devices with the trusting gate. No sockets, no
//! sleeps: effects are carried out in order until nothing is left to do.

use std::collections::{BTreeMap, VecDeque};

use automerge::{Automerge, ReadDoc};
use client_core::model::notebook::Lecture;
use client_core::sync::engine::{
    ConnectionId, Effect, Engine, Event, Gate, Offered, Refusal, Side, Trusting,
};
use client_core::sync::message::{Message, PeerId, PeerMetadata, StorageId};
use client_core::sync::quiet;
use client_core::validate::{self, Context, Limits, Touched};
use client_core::{DocumentId, Millis, Notebook, Principal, Scope, access, schema};

use crate::fixture::{NOW, Person, Village, later, lecture};

/// The server's policy: read rules from `access`, changes checked by `validate_changes`.
pub struct ServerGate {
    pub catalogue: BTreeMap<DocumentId, Scope>,
}

impl Gate for ServerGate {
    type Identity = Principal;

    fn can_read(&self, who: &Principal, document: DocumentId) -> bool {
        self.catalogue
            .get(&document)
            .is_some_and(|scope| access::can_read(who, scope))
    }

    fn check_changes(
        &self,
        who: &Principal,
        _: Option<u32>,
        document: DocumentId,
        offered: Offered<'_>,
    ) -> Result<Option<Touched>, Refusal> {
        let scope = *self.catalogue.get(&document).ok_or(Refusal {
            rule: "unknown".into(),
            message: String::new(),
        })?;
        let ctx = Context {
            scope,
            authors: std::slice::from_ref(who),
            elections: None,
            limits: Limits::default(),
            rules: validate::RULES,
        };
        validate::validate_offered(offered.doc, offered.before, offered.changes, &ctx)
            .map(Some)
            .map_err(|v| Refusal {
                rule: v.rule().into(),
                message: v.to_string(),
            })
    }
}

/// Storage of one node: append-only bytes per document, sync states per peer storage.
#[derive(Default)]
pub struct Storage {
    pub documents: BTreeMap<DocumentId, Vec<u8>>,
    pub sync_states: BTreeMap<(StorageId, DocumentId), Vec<u8>>,
}

pub struct Node<G: Gate> {
    pub engine: Engine<G>,
    pub storage: Storage,
    /// Persist tickets held back to test that nothing is acknowledged before it is durable.
    hold_persists: bool,
    held: Vec<u64>,
    log: Vec<Effect>,
}

impl<G: Gate> Node<G> {
    pub fn new(engine: Engine<G>) -> Self {
        Self {
            engine,
            storage: Storage::default(),
            hold_persists: false,
            held: Vec::new(),
            log: Vec::new(),
        }
    }
}

/// Where a frame goes: to the server on a connection, or to a device.
#[derive(Debug, Clone, Copy)]
enum To {
    Server(ConnectionId),
    Device(usize),
}

struct Net {
    catalogue: BTreeMap<DocumentId, Scope>,
    server: Node<ServerGate>,
    devices: Vec<Node<Trusting>>,
    /// Device index → the server-side connection id of its link, while connected.
    links: BTreeMap<usize, ConnectionId>,
    next_connection: u64,
    bytes_to_server: usize,
    bytes_to_devices: usize,
    /// The server reads `join` as a stock server does: without our `quiet` list.
    stock_server: bool,
    /// `peer` reaches the device after the frames the server sends next, as it can when a
    /// server's shards answer a `join` apart; the `peer` held back, for which device.
    peer_late: bool,
    held_peer: Option<(usize, Vec<u8>)>,
    /// Frames sent each way.
    frames_to_server: usize,
    frames_to_devices: usize,
}

const DEVICE_SIDE: ConnectionId = ConnectionId(0);

/// The server's engine, keeping its sync states under `storage`.
fn server_engine(catalogue: BTreeMap<DocumentId, Scope>, storage: &str) -> Engine<ServerGate> {
    Engine::new(
        PeerId("server".into()),
        PeerMetadata {
            storage_id: Some(StorageId(storage.into())),
            is_ephemeral: Some(false),
            rules: None,
            quiet: None,
        },
        Side::Server,
        ServerGate { catalogue },
    )
}

impl Net {
    fn new(catalogue: BTreeMap<DocumentId, Scope>, stored: Vec<(DocumentId, Vec<u8>)>) -> Self {
        let mut server = Node::new(server_engine(catalogue.clone(), "server-storage"));
        server.storage.documents.extend(stored);
        Self {
            catalogue,
            server,
            devices: Vec::new(),
            links: BTreeMap::new(),
            next_connection: 1,
            bytes_to_server: 0,
            bytes_to_devices: 0,
            stock_server: false,
            peer_late: false,
            held_peer: None,
            frames_to_server: 0,
            frames_to_devices: 0,
        }
    }

    fn add_device(&mut self, name: &str) -> usize {
        let metadata = PeerMetadata {
            storage_id: Some(StorageId(format!("{name}-storage"))),
            is_ephemeral: Some(false),
            rules: None,
            quiet: None,
        };
        self.devices.push(Node::new(Engine::new(
            PeerId(name.into()),
            metadata,
            Side::Client,
            Trusting,
        )));
        self.devices.len() - 1
    }

    fn connect(&mut self, device: usize, who: &Principal) {
        let connection = ConnectionId(self.next_connection);
        self.next_connection += 1;
        self.links.insert(device, connection);
        let effects = self.server.engine.handle(Event::Connected {
            connection,
            identity: who.clone(),
            shared: Vec::new(),
        });
        self.run_server(effects);
        let shared = quiet::last_shared(&self.devices[device].storage.sync_states);
        let effects = self.devices[device].engine.handle(Event::Connected {
            connection: DEVICE_SIDE,
            identity: (),
            shared,
        });
        self.run_device(device, effects);
    }

    /// The server restored from a backup of its storage as it is now, as `restore` leaves
    /// it: the same documents, a new storage id, no sync states.
    fn restore_server(&mut self) {
        let documents = std::mem::take(&mut self.server.storage.documents);
        self.server = Node::new(server_engine(self.catalogue.clone(), "restored-storage"));
        self.server.storage.documents = documents;
    }

    fn disconnect(&mut self, device: usize) {
        if let Some(connection) = self.links.remove(&device) {
            let effects = self
                .server
                .engine
                .handle(Event::Disconnected { connection });
            self.run_server(effects);
            let effects = self.devices[device].engine.handle(Event::Disconnected {
                connection: DEVICE_SIDE,
            });
            self.run_device(device, effects);
        }
    }

    fn device_event(&mut self, device: usize, event: Event<()>) {
        let effects = self.devices[device].engine.handle(event);
        self.run_device(device, effects);
    }

    fn run_server(&mut self, effects: Vec<Effect>) {
        let mut queue: VecDeque<Effect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            let follow = match &effect {
                Effect::Send { connection, bytes } => {
                    self.bytes_to_devices += bytes.len();
                    self.frames_to_devices += 1;
                    let device = self
                        .links
                        .iter()
                        .find(|(_, c)| *c == connection)
                        .map(|(d, _)| *d);
                    let is_peer = matches!(Message::decode(bytes), Ok(Message::Peer { .. }));
                    match device {
                        Some(device) if self.peer_late && is_peer => {
                            self.held_peer = Some((device, bytes.clone()));
                        }
                        Some(device) => self.deliver(To::Device(device), bytes.clone()),
                        None => {}
                    }
                    Vec::new()
                }
                Effect::Close { connection, .. } => {
                    let device = self
                        .links
                        .iter()
                        .find(|(_, c)| *c == connection)
                        .map(|(d, _)| *d);
                    if let Some(device) = device {
                        self.links.remove(&device);
                        let effects = self.devices[device].engine.handle(Event::Disconnected {
                            connection: DEVICE_SIDE,
                        });
                        self.run_device(device, effects);
                    }
                    Vec::new()
                }
                other => answer(&mut self.server, other),
            };
            self.server.log.push(effect);
            queue.extend(follow);
        }
        if let Some((device, bytes)) = self.held_peer.take() {
            self.deliver(To::Device(device), bytes);
        }
    }

    fn run_device(&mut self, device: usize, effects: Vec<Effect>) {
        let mut queue: VecDeque<Effect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            let follow = match &effect {
                Effect::Send { bytes, .. } => {
                    self.bytes_to_server += bytes.len();
                    self.frames_to_server += 1;
                    if let Some(connection) = self.links.get(&device).copied() {
                        self.deliver(To::Server(connection), bytes.clone());
                    }
                    Vec::new()
                }
                Effect::Close { .. } => {
                    if let Some(connection) = self.links.remove(&device) {
                        let effects = self
                            .server
                            .engine
                            .handle(Event::Disconnected { connection });
                        self.run_server(effects);
                    }
                    Vec::new()
                }
                other => answer(&mut self.devices[device], other),
            };
            self.devices[device].log.push(effect);
            queue.extend(follow);
        }
    }

    fn deliver(&mut self, to: To, bytes: Vec<u8>) {
        match to {
            To::Server(connection) => {
                let bytes = if self.stock_server {
                    without_quiet(bytes)
                } else {
                    bytes
                };
                let effects = self
                    .server
                    .engine
                    .handle(Event::Frame { connection, bytes });
                self.run_server(effects);
            }
            To::Device(device) => {
                let effects = self.devices[device].engine.handle(Event::Frame {
                    connection: DEVICE_SIDE,
                    bytes,
                });
                self.run_device(device, effects);
            }
        }
    }

    fn release_persists(&mut self) {
        let held = std::mem::take(&mut self.server.held);
        for ticket in held {
            let effects = self.server.engine.handle(Event::Persisted { ticket });
            self.run_server(effects);
        }
    }

    /// The held writes fail: storage goes back to what it held before them.
    fn fail_persists(&mut self, stored: BTreeMap<DocumentId, Vec<u8>>) {
        self.server.storage.documents = stored;
        let held = std::mem::take(&mut self.server.held);
        for ticket in held {
            let effects = self.server.engine.handle(Event::PersistFailed { ticket });
            self.run_server(effects);
        }
    }

    fn refusals(&self) -> Vec<String> {
        self.server
            .log
            .iter()
            .filter_map(|e| match e {
                Effect::Refused { refusal, .. }
                | Effect::ChangesRefused {
                    refusal,
                    repeat: false,
                    ..
                } => Some(refusal.rule.clone()),
                _ => None,
            })
            .collect()
    }

    /// How many offers of changes refused before the server answered from memory.
    fn repeated_refusals(&self) -> usize {
        self.server
            .log
            .iter()
            .filter(|e| matches!(e, Effect::ChangesRefused { repeat: true, .. }))
            .count()
    }
}

/// Carries out a storage effect and returns the effects of the answer.
pub fn answer<G: Gate>(node: &mut Node<G>, effect: &Effect) -> Vec<Effect> {
    match effect {
        Effect::Load { document } => {
            let bytes = node.storage.documents.get(document).cloned();
            node.engine.handle(Event::Loaded {
                document: *document,
                bytes,
            })
        }
        Effect::LoadSyncState { storage, document } => {
            let bytes = node
                .storage
                .sync_states
                .get(&(storage.clone(), *document))
                .cloned();
            node.engine.handle(Event::SyncStateLoaded {
                storage: storage.clone(),
                document: *document,
                bytes,
            })
        }
        Effect::Persist {
            ticket,
            document,
            changes,
            ..
        } => {
            let stored = node.storage.documents.entry(*document).or_default();
            for change in changes {
                stored.extend_from_slice(change.raw_bytes());
            }
            if node.hold_persists {
                node.held.push(*ticket);
                Vec::new()
            } else {
                node.engine.handle(Event::Persisted { ticket: *ticket })
            }
        }
        Effect::SaveSyncState {
            storage,
            document,
            bytes,
        } => {
            node.storage
                .sync_states
                .insert((storage.clone(), *document), bytes.clone());
            Vec::new()
        }
        Effect::Send { .. }
        | Effect::Close { .. }
        | Effect::Refused { .. }
        | Effect::ChangesRefused { .. }
        | Effect::Unavailable { .. }
        | Effect::Changed { .. }
        | Effect::Ephemeral { .. } => Vec::new(),
    }
}

/// A village whose documents the server has stored, with the catalogue of their scopes.
/// A frame as a stock server reads it: a `join` without our `quiet` list.
fn without_quiet(bytes: Vec<u8>) -> Vec<u8> {
    match Message::decode(&bytes) {
        Ok(Message::Join {
            sender_id,
            mut peer_metadata,
            supported_protocol_versions,
        }) => {
            peer_metadata.quiet = None;
            let join = Message::Join {
                sender_id,
                peer_metadata,
                supported_protocol_versions,
            };
            join.encode().unwrap()
        }
        _ => bytes,
    }
}

struct World {
    village: Village,
    branch_id: DocumentId,
    li_notebook: DocumentId,
    net: Net,
}

fn world() -> World {
    let mut village = Village::new();
    let li_notebook = village.li.notebook_id;
    let branch_id = DocumentId::generate().unwrap();
    let mut notebook = village.notebook_of(&village.li);
    let catalogue: BTreeMap<DocumentId, Scope> = [
        (branch_id, *village.branch.scope()),
        (li_notebook, *notebook.scope()),
    ]
    .into_iter()
    .collect();
    let stored = vec![
        (branch_id, village.branch.document_mut().save()),
        (li_notebook, notebook.document_mut().save()),
    ];
    World {
        village,
        branch_id,
        li_notebook,
        net: Net::new(catalogue, stored),
    }
}

/// A device holding `document` as the server has it, left by an earlier session, and open.
fn phone_holding(net: &mut Net, name: &str, document: DocumentId) -> usize {
    let device = net.add_device(name);
    let bytes = net.server.storage.documents[&document].clone();
    net.devices[device]
        .storage
        .documents
        .insert(document, bytes);
    net.device_event(device, Event::Open { document });
    device
}

/// Records lectures on a device's copy of a notebook, as the app does offline, and returns
/// the size of the new changes.
fn record_on(
    net: &mut Net,
    device: usize,
    document: DocumentId,
    who: &Person,
    at: &[Millis],
) -> usize {
    let engine = &mut net.devices[device].engine;
    let held = engine.document(document).unwrap();
    let before = held.get_heads();
    let mut notebook = Notebook::load(&held.save(), Limits::default()).unwrap();
    for &at in at {
        notebook
            .record_lecture(&who.principal, at, lecture(who, &[]))
            .unwrap();
    }
    let changes = notebook.automerge().save_after(&before);
    engine
        .document_mut(document)
        .unwrap()
        .load_incremental(&changes)
        .unwrap();
    changes.len()
}

/// The lectures a node has stored of a notebook.
pub fn stored_lectures(storage: &Storage, document: DocumentId) -> Vec<Lecture> {
    let bytes = storage.documents.get(&document).unwrap();
    Notebook::load(bytes, Limits::default())
        .unwrap()
        .records::<Lecture>(&schema::LECTURES)
        .into_iter()
        .map(|(_, l)| l)
        .collect()
}

#[test]
fn an_offline_lecture_reaches_the_server_and_another_device() {
    let World {
        village,
        li_notebook,
        mut net,
        ..
    } = world();
    // 李章桂's phone holds his notebook from an earlier sync and records a lecture offline.
    let li_phone = phone_holding(&mut net, "li-phone", li_notebook);
    record_on(&mut net, li_phone, li_notebook, &village.li, &[later(5)]);
    net.device_event(
        li_phone,
        Event::LocalChange {
            document: li_notebook,
        },
    );
    assert!(
        stored_lectures(&net.server.storage, li_notebook).is_empty(),
        "nothing moves while offline"
    );

    net.connect(li_phone, &village.li.principal);
    assert_eq!(stored_lectures(&net.server.storage, li_notebook).len(), 1);
    assert!(net.refusals().is_empty(), "{:?}", net.refusals());

    // The secretary's phone has never seen the notebook: it asks, and receives the lecture.
    let secretary_phone = net.add_device("secretary-phone");
    net.connect(secretary_phone, &village.secretary.principal);
    net.device_event(
        secretary_phone,
        Event::Open {
            document: li_notebook,
        },
    );
    let received = net.devices[secretary_phone]
        .engine
        .document(li_notebook)
        .unwrap();
    let lectures = Notebook::load(&received.save(), Limits::default())
        .unwrap()
        .records::<Lecture>(&schema::LECTURES);
    assert_eq!(lectures.len(), 1);
    assert_eq!(
        received.get_heads(),
        net.devices[li_phone]
            .engine
            .document(li_notebook)
            .unwrap()
            .get_heads()
    );
}

#[test]
fn documents_one_may_not_read_are_unavailable_like_missing_ones() {
    let World {
        village,
        branch_id,
        mut net,
        ..
    } = world();
    let phone = net.add_device("outsider");
    let mut outsider = village.li.principal.clone();
    outsider.branch = Some(client_core::BranchId::generate().unwrap());
    net.connect(phone, &outsider);
    let before = net.server.storage.documents.clone();
    net.device_event(
        phone,
        Event::Open {
            document: branch_id,
        },
    );
    let missing = DocumentId::generate().unwrap();
    net.device_event(phone, Event::Open { document: missing });
    let unavailable: Vec<DocumentId> = net.devices[phone]
        .log
        .iter()
        .filter_map(|e| match e {
            Effect::Unavailable { document } => Some(*document),
            _ => None,
        })
        .collect();
    assert_eq!(unavailable, vec![branch_id, missing]);
    // Audited alike too: the server cannot tell a curious member from a mistaken id.
    assert_eq!(
        net.refusals(),
        vec!["read_denied".to_string(), "read_denied".to_string()]
    );
    assert_eq!(net.server.storage.documents, before);
}

#[test]
fn a_change_that_breaks_the_schema_is_refused_and_nothing_is_stored() {
    let World {
        village,
        li_notebook,
        mut net,
        ..
    } = world();
    let phone = phone_holding(&mut net, "li-phone", li_notebook);
    net.connect(phone, &village.li.principal);
    let before = net.server.storage.clone_documents();

    // A tampered client writes a record naming another member into li's notebook.
    let doc = net.devices[phone].engine.document_mut(li_notebook).unwrap();
    let mut tx = doc.transaction();
    let lectures = tx.get(automerge::ROOT, "lectures").unwrap().unwrap().1;
    let foreign = lecture(&village.member, &[]);
    autosurgeon::reconcile_prop(
        &mut tx,
        &lectures,
        client_core::RecordId::generate(NOW)
            .unwrap()
            .to_string()
            .as_str(),
        &foreign,
    )
    .unwrap();
    tx.commit();
    net.device_event(
        phone,
        Event::LocalChange {
            document: li_notebook,
        },
    );

    assert_eq!(net.refusals(), vec!["not_owner".to_string()]);
    assert!(
        net.links.contains_key(&phone),
        "the session stays open for the phone's other documents"
    );
    assert_eq!(
        net.server.storage.clone_documents(),
        before,
        "storage is byte-for-byte unchanged"
    );
    assert_eq!(
        net.server.engine.loaded_documents(),
        0,
        "the tainted copy was dropped"
    );
    // The phone is told which document, which rule, which change, and what the server
    // keeps: the heads it had before the change.
    let server_heads = Automerge::load(&before[&li_notebook]).unwrap().get_heads();
    let tampered = net.devices[phone]
        .engine
        .document(li_notebook)
        .unwrap()
        .get_heads();
    let told: Vec<_> = net.devices[phone]
        .log
        .iter()
        .filter_map(|e| match e {
            Effect::ChangesRefused { changes, .. } => Some(changes.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].document_id, li_notebook);
    assert_eq!(told[0].rule, "not_owner");
    assert_eq!(told[0].refused, tampered);
    assert_eq!(told[0].heads, server_heads);

    // Offered again in a new session, the same change is answered from memory: no second
    // refusal for the audit log, a repeat counted, storage unchanged.
    net.disconnect(phone);
    net.connect(phone, &village.li.principal);
    assert_eq!(net.refusals(), vec!["not_owner".to_string()]);
    assert_eq!(net.repeated_refusals(), 1);
    assert_eq!(net.server.storage.clone_documents(), before);
}

#[test]
fn nothing_is_acknowledged_or_relayed_before_it_is_durable() {
    let World {
        village,
        li_notebook,
        mut net,
        ..
    } = world();
    let secretary_phone = net.add_device("secretary-phone");
    net.connect(secretary_phone, &village.secretary.principal);
    net.device_event(
        secretary_phone,
        Event::Open {
            document: li_notebook,
        },
    );
    let li_phone = phone_holding(&mut net, "li-phone", li_notebook);
    net.connect(li_phone, &village.li.principal);

    net.server.hold_persists = true;
    record_on(&mut net, li_phone, li_notebook, &village.li, &[later(1)]);
    let sent_before = net.bytes_to_devices;
    net.device_event(
        li_phone,
        Event::LocalChange {
            document: li_notebook,
        },
    );
    assert_eq!(
        net.bytes_to_devices, sent_before,
        "no reply and no relay while the write is not durable"
    );
    assert_eq!(
        net.devices[secretary_phone]
            .engine
            .document(li_notebook)
            .unwrap()
            .get_heads()
            .len(),
        1
    );

    net.server.hold_persists = false;
    net.release_persists();
    let heads = net.devices[li_phone]
        .engine
        .document(li_notebook)
        .unwrap()
        .get_heads();
    assert_eq!(
        net.devices[secretary_phone]
            .engine
            .document(li_notebook)
            .unwrap()
            .get_heads(),
        heads
    );
}

#[test]
fn a_failed_write_acknowledges_nothing_and_the_phone_sends_it_again() {
    let World {
        village,
        li_notebook,
        mut net,
        ..
    } = world();
    let li_phone = phone_holding(&mut net, "li-phone", li_notebook);
    net.connect(li_phone, &village.li.principal);
    let stored = net.server.storage.clone_documents();

    net.server.hold_persists = true;
    record_on(&mut net, li_phone, li_notebook, &village.li, &[later(1)]);
    net.device_event(
        li_phone,
        Event::LocalChange {
            document: li_notebook,
        },
    );
    // The disk fails.
    net.server.hold_persists = false;
    net.fail_persists(stored);
    assert!(!net.links.contains_key(&li_phone), "the session is closed");
    assert_eq!(
        net.server.engine.loaded_documents(),
        0,
        "the copy is dropped"
    );
    assert!(stored_lectures(&net.server.storage, li_notebook).is_empty());
    assert!(!net.devices[li_phone].engine.acknowledged(li_notebook));

    // The phone kept its lecture and sends it again when it reconnects.
    net.connect(li_phone, &village.li.principal);
    assert_eq!(stored_lectures(&net.server.storage, li_notebook).len(), 1);
    assert!(net.devices[li_phone].engine.acknowledged(li_notebook));
}

#[test]
fn a_phone_waiting_on_a_busy_server_offers_again_less_and_less_often() {
    let World {
        village,
        li_notebook,
        mut net,
        ..
    } = world();
    let li_phone = phone_holding(&mut net, "li-phone", li_notebook);
    net.connect(li_phone, &village.li.principal);
    net.server.hold_persists = true;
    record_on(&mut net, li_phone, li_notebook, &village.li, &[later(1)]);
    net.device_event(
        li_phone,
        Event::LocalChange {
            document: li_notebook,
        },
    );

    // The server is still storing it, and says nothing: the phone offers again after one
    // tick, then two, four, eight and sixteen, not on every tick.
    let mut offers = Vec::new();
    for tick in 1..=40 {
        let sent = net.bytes_to_server;
        net.device_event(li_phone, Event::Tick);
        if net.bytes_to_server > sent {
            offers.push(tick);
        }
    }
    assert_eq!(offers, [1, 3, 7, 15, 31]);

    net.server.hold_persists = false;
    net.release_persists();
    assert!(net.devices[li_phone].engine.acknowledged(li_notebook));
    assert_eq!(stored_lectures(&net.server.storage, li_notebook).len(), 1);
}

#[test]
fn a_reconnecting_device_exchanges_only_what_is_new() {
    let World {
        village,
        li_notebook,
        mut net,
        ..
    } = world();
    let phone = phone_holding(&mut net, "li-phone", li_notebook);
    let ten: Vec<Millis> = (0..10).map(later).collect();
    record_on(&mut net, phone, li_notebook, &village.li, &ten);
    net.connect(phone, &village.li.principal);
    let first = net.bytes_to_server + net.bytes_to_devices;
    net.disconnect(phone);
    // The server remembers, under the phone's storage id, what they share.
    let key = (StorageId("li-phone-storage".into()), li_notebook);
    let state = automerge::sync::State::decode(&net.server.storage.sync_states[&key]).unwrap();
    let heads = net.devices[phone]
        .engine
        .document(li_notebook)
        .unwrap()
        .get_heads();
    assert_eq!(state.shared_heads, heads);

    // One more lecture offline; the server kept this phone's sync state by its storage id.
    let one_lecture = record_on(&mut net, phone, li_notebook, &village.li, &[later(100)]);
    let (to_server, to_devices) = (net.bytes_to_server, net.bytes_to_devices);
    net.connect(phone, &village.li.principal);
    let up = net.bytes_to_server - to_server;
    let down = net.bytes_to_devices - to_devices;
    assert_eq!(stored_lectures(&net.server.storage, li_notebook).len(), 11);
    // The new lecture goes up once, with the handshake and sync bookkeeping (heads, a bloom
    // filter): nothing of the ten lectures the server already had.
    assert!(
        up < one_lecture + 1_000,
        "sent {up} bytes up for a {one_lecture}-byte change"
    );
    assert!(down < 1_000, "sent {down} bytes down");
    assert!(
        up + down < first,
        "reconnect {} bytes, first sync {first}",
        up + down
    );
}

/// Li's phone, holding her notebook and the branch, with a lecture recorded offline, then
/// connected and synced.
fn li_synced_with_a_lecture(world: &mut World) -> usize {
    let net = &mut world.net;
    let phone = phone_holding(net, "li-phone", world.li_notebook);
    net.device_event(
        phone,
        Event::Open {
            document: world.branch_id,
        },
    );
    record_on(
        net,
        phone,
        world.li_notebook,
        &world.village.li,
        &[later(1)],
    );
    net.connect(phone, &world.village.li.principal);
    phone
}

/// How many frames go up to the server and down to devices while `run` runs.
fn frames_during(net: &mut Net, run: impl FnOnce(&mut Net)) -> (usize, usize) {
    let (up, down) = (net.frames_to_server, net.frames_to_devices);
    run(net);
    (net.frames_to_server - up, net.frames_to_devices - down)
}

#[test]
fn a_quiet_reconnect_costs_the_handshake_alone() {
    let mut world = world();
    let phone = li_synced_with_a_lecture(&mut world);
    let World {
        village,
        branch_id,
        li_notebook,
        mut net,
    } = world;
    assert!(net.devices[phone].engine.acknowledged(li_notebook));
    net.disconnect(phone);

    // Days later, nothing new on either side: `join` goes up naming both documents as quiet,
    // `peer` comes down, and the phone knows the server holds everything it has.
    let (up, down) = frames_during(&mut net, |net| net.connect(phone, &village.li.principal));
    assert_eq!((up, down), (1, 1), "frames up and down");
    for document in [li_notebook, branch_id] {
        assert!(net.devices[phone].engine.acknowledged(document));
    }
    // Its sync state still tells the server's news: a lecture recorded on another device of
    // the same person reaches the phone, relayed by the server.
    let tablet = phone_holding(&mut net, "li-tablet", li_notebook);
    record_on(&mut net, tablet, li_notebook, &village.li, &[later(2)]);
    net.connect(tablet, &village.li.principal);
    assert_eq!(lectures_held(&net, phone, li_notebook), 2);

    // News while the phone was away: from the digest in `join` the server knows the phone
    // is at the heads they last shared, and sends what it lacks at once; the phone's
    // acknowledgement is the last word. The other document stays quiet.
    net.disconnect(phone);
    record_and_offer(&mut net, tablet, li_notebook, &village.li, later(3));
    assert_eq!(stored_lectures(&net.server.storage, li_notebook).len(), 3);
    let (up, down) = frames_during(&mut net, |net| net.connect(phone, &village.li.principal));
    assert_eq!((up, down), (2, 2), "frames up and down");
    assert_eq!(lectures_held(&net, phone, li_notebook), 3);

    // A phone that kept no sync state cannot know what the server holds: it is told.
    net.disconnect(phone);
    net.devices[phone].storage.sync_states.clear();
    let (up, down) = frames_during(&mut net, |net| net.connect(phone, &village.li.principal));
    assert_eq!((up, down), (3, 3), "frames up and down");
    for document in [li_notebook, branch_id] {
        assert!(net.devices[phone].engine.acknowledged(document));
    }

    // A phone that recorded offline is not quiet about that notebook: it offers it at once,
    // and the server keeps the lecture.
    net.disconnect(phone);
    record_on(&mut net, phone, li_notebook, &village.li, &[later(4)]);
    net.connect(phone, &village.li.principal);
    assert_eq!(stored_lectures(&net.server.storage, li_notebook).len(), 4);
    for document in [li_notebook, branch_id] {
        assert!(net.devices[phone].engine.acknowledged(document));
    }
}

/// How many lectures a device holds in a notebook.
fn lectures_held(net: &Net, device: usize, notebook: DocumentId) -> usize {
    let bytes = net.devices[device]
        .engine
        .document(notebook)
        .unwrap()
        .save();
    Notebook::load(&bytes, Limits::default())
        .unwrap()
        .records::<Lecture>(&schema::LECTURES)
        .len()
}

/// The server forgets what it last shared with each device (as after a restore from a
/// backup), and `tablet` records a lecture it syncs.
fn news_the_server_cannot_place(
    net: &mut Net,
    tablet: usize,
    notebook: DocumentId,
    who: &Person,
    at: Millis,
) {
    net.server.storage.sync_states.clear();
    record_and_offer(net, tablet, notebook, who, at);
}

/// `device` records a lecture at `at` and offers it to the server it is connected to.
fn record_and_offer(net: &mut Net, device: usize, notebook: DocumentId, who: &Person, at: Millis) {
    record_on(net, device, notebook, who, &[at]);
    net.device_event(device, Event::LocalChange { document: notebook });
}

#[test]
fn a_quiet_join_the_server_cannot_place_is_synced_as_before() {
    let mut world = world();
    let phone = li_synced_with_a_lecture(&mut world);
    let World {
        village,
        branch_id,
        li_notebook,
        mut net,
    } = world;
    let tablet = phone_holding(&mut net, "li-tablet", li_notebook);
    net.connect(tablet, &village.li.principal);
    net.disconnect(phone);

    // The server lost its sync states (restored from a backup) and has news: the phone's
    // digest names heads it cannot place, so it opens the exchange itself.
    news_the_server_cannot_place(&mut net, tablet, li_notebook, &village.li, later(2));
    net.connect(phone, &village.li.principal);
    assert_eq!(lectures_held(&net, phone, li_notebook), 2);
    for document in [li_notebook, branch_id] {
        assert!(net.devices[phone].engine.acknowledged(document));
    }

    // The same with `peer` overtaken by the server's first message about the notebook, as
    // when another of the server's shards holds it: the phone keeps that message for when
    // the handshake is done.
    net.disconnect(phone);
    news_the_server_cannot_place(&mut net, tablet, li_notebook, &village.li, later(3));
    net.peer_late = true;
    net.connect(phone, &village.li.principal);
    net.peer_late = false;
    assert_eq!(lectures_held(&net, phone, li_notebook), 3);
    for document in [li_notebook, branch_id] {
        assert!(net.devices[phone].engine.acknowledged(document));
    }

    // Restored from a backup with nothing lost: the server takes the list (it holds those
    // heads), but the phone's sync states are with the server before, so it cannot know the
    // server holds them and shows its heads, to hear that it does.
    net.disconnect(phone);
    net.disconnect(tablet);
    net.restore_server();
    net.connect(phone, &village.li.principal);
    for document in [li_notebook, branch_id] {
        assert!(net.devices[phone].engine.acknowledged(document));
    }

    // A stock server does not take the list: the phone shows its heads for each document as
    // a stock client does, and still hears nothing back it already knows.
    net.disconnect(phone);
    net.stock_server = true;
    let (up, down) = frames_during(&mut net, |net| net.connect(phone, &village.li.principal));
    assert_eq!((up, down), (3, 1), "frames up and down");
    for document in [li_notebook, branch_id] {
        assert!(net.devices[phone].engine.acknowledged(document));
    }
}

#[test]
fn a_quiet_list_is_checked_like_the_requests_it_stands_for() {
    let World {
        village,
        li_notebook,
        mut net,
        ..
    } = world();
    let join = |quiet: Vec<u8>| {
        Message::Join {
            sender_id: PeerId("stranger".into()),
            peer_metadata: PeerMetadata {
                storage_id: Some(StorageId("stranger-storage".into())),
                is_ephemeral: Some(false),
                rules: None,
                quiet: Some(quiet),
            },
            supported_protocol_versions: vec!["1".into()],
        }
        .encode()
        .unwrap()
    };
    let sent = |effects: &[Effect]| -> Vec<Message> {
        effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::Send { bytes, .. } => Message::decode(bytes).ok(),
                _ => None,
            })
            .collect()
    };
    let server = &mut net.server.engine;

    // Not a whole number of entries: the list is ignored, and `peer` does not take it.
    server.handle(Event::Connected {
        connection: ConnectionId(90),
        identity: village.member.principal.clone(),
        shared: Vec::new(),
    });
    let effects = server.handle(Event::Frame {
        connection: ConnectionId(90),
        bytes: join(vec![0; 23]),
    });
    let [Message::Peer { peer_metadata, .. }] = &sent(&effects)[..] else {
        panic!("expected `peer` alone, got {effects:?}");
    };
    assert_eq!(peer_metadata.quiet, None);

    // Someone else's notebook named as quiet: unavailable, as if it did not exist, and
    // refused for the audit log; nothing is loaded for it.
    server.handle(Event::Connected {
        connection: ConnectionId(91),
        identity: village.member.principal.clone(),
        shared: Vec::new(),
    });
    let effects = server.handle(Event::Frame {
        connection: ConnectionId(91),
        bytes: join(quiet::encode(&[(li_notebook, [0; 8])])),
    });
    let messages = sent(&effects);
    assert!(
        matches!(&messages[0], Message::Peer { peer_metadata, .. } if peer_metadata.quiet == Some(vec![]))
    );
    assert!(matches!(
        &messages[1],
        Message::DocUnavailable { document_id, .. } if *document_id == li_notebook
    ));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Refused { document: Some(d), .. } if *d == li_notebook))
    );
    assert!(!effects.iter().any(|e| matches!(e, Effect::Load { .. })));
}

#[test]
fn documents_are_held_while_synced_and_dropped_when_idle() {
    let mut world = world();
    let phone = li_synced_with_a_lecture(&mut world);
    let World {
        village,
        li_notebook,
        mut net,
        ..
    } = world;
    assert_eq!(net.server.engine.loaded_documents(), 2, "both are in use");

    // Once nobody syncs them, the server holds nothing: memory follows the documents in use,
    // not the documents ever touched.
    net.disconnect(phone);
    assert_eq!(net.server.engine.loaded_documents(), 0);

    // They come back from storage on demand.
    record_on(&mut net, phone, li_notebook, &village.li, &[later(2)]);
    net.connect(phone, &village.li.principal);
    assert_eq!(stored_lectures(&net.server.storage, li_notebook).len(), 2);
    assert_eq!(net.server.engine.loaded_documents(), 2);
}

#[test]
fn presence_is_relayed_to_the_other_peers_of_a_document_and_never_stored() {
    use client_core::sync::message::Message;
    let World {
        village,
        li_notebook,
        mut net,
        ..
    } = world();
    let li_phone = net.add_device("li-phone");
    let secretary_phone = net.add_device("secretary-phone");
    for (phone, who) in [
        (li_phone, &village.li.principal),
        (secretary_phone, &village.secretary.principal),
    ] {
        net.connect(phone, who);
        net.device_event(
            phone,
            Event::Open {
                document: li_notebook,
            },
        );
    }
    let before = net.server.storage.clone_documents();
    let presence = Message::Ephemeral {
        sender_id: PeerId("li-phone".into()),
        target_id: PeerId("server".into()),
        document_id: li_notebook,
        count: 1,
        session_id: "s1".into(),
        data: b"typing".to_vec(),
    };
    let connection = net.links[&li_phone];
    net.deliver(To::Server(connection), presence.encode().unwrap());
    let received: Vec<(PeerId, Vec<u8>)> = net.devices[secretary_phone]
        .log
        .iter()
        .filter_map(|e| match e {
            Effect::Ephemeral { sender, data, .. } => Some((sender.clone(), data.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        received,
        vec![(PeerId("li-phone".into()), b"typing".to_vec())]
    );
    assert!(
        net.devices[li_phone]
            .log
            .iter()
            .all(|e| !matches!(e, Effect::Ephemeral { .. }))
    );
    assert_eq!(net.server.storage.clone_documents(), before);
}

trait CloneDocuments {
    fn clone_documents(&self) -> BTreeMap<DocumentId, Vec<u8>>;
}

impl CloneDocuments for Storage {
    fn clone_documents(&self) -> BTreeMap<DocumentId, Vec<u8>> {
        self.documents.clone()
    }
}
