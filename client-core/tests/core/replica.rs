//! The replica (a phone's typed documents and sync engine, joined) against a server engine on
//! an in-memory line. A phone keeps only what its tasks told it to store, so reopening a
//! phone from that is exactly what restarting the app does.

use std::collections::{BTreeMap, VecDeque};
use std::error::Error;

use automerge::ActorId;
use client_core::model::branch::Plan;
use client_core::model::common::Prose;
use client_core::model::notebook::Lecture;
use client_core::recovery::{Quarantine, Returned};
use client_core::replica::{Replica, Task};
use client_core::sync::engine::{ConnectionId, Effect, Engine, Event, Side};
use client_core::sync::message::{PeerId, PeerMetadata, StorageId};
use client_core::{DocumentId, Month, Principal, RecordId, Scope, UserId, schema};

use crate::fixture::{NOW, Person, Village, later, lecture};
use crate::sync::{Node, ServerGate, answer, stored_lectures};

type Outcome<T = ()> = Result<T, Box<dyn Error>>;

const SERVER_STORAGE: &str = "server-storage";

struct Phone {
    name: String,
    who: Principal,
    replica: Replica,
    /// What the app stored: each document's chunks, concatenated, and its sync state.
    stored: BTreeMap<DocumentId, Vec<u8>>,
    sync_states: BTreeMap<DocumentId, Vec<u8>>,
    /// When set, stores are done but not reported, as if the app died before saying so.
    hold_reports: bool,
    /// Every task the phone carried out, in order.
    log: Vec<Task>,
    link: Option<ConnectionId>,
    /// What the app keeps of refused documents until they are recovered, the actor it writes
    /// with, and the person's returned items, by document, collection and key.
    quarantines: BTreeMap<DocumentId, Quarantine>,
    actor: Option<String>,
    returned: BTreeMap<(DocumentId, String, String), Returned>,
    /// When set, the app dies after carrying out this many more tasks.
    dies_after: Option<usize>,
    /// When set, the app dies this many tasks after a refusal is quarantined.
    die_after_quarantine: Option<usize>,
}

impl Phone {
    fn new(name: &str, who: &Principal) -> Phone {
        Phone {
            name: name.to_owned(),
            who: who.clone(),
            replica: replica(name),
            stored: BTreeMap::new(),
            sync_states: BTreeMap::new(),
            hold_reports: false,
            log: Vec::new(),
            link: None,
            quarantines: BTreeMap::new(),
            actor: None,
            returned: BTreeMap::new(),
            dies_after: None,
            die_after_quarantine: None,
        }
    }

    /// The app starts again from what it stored, and goes on recovering what it quarantined.
    fn restart(&mut self) -> Outcome {
        self.replica = replica(&self.name);
        self.link = None;
        self.dies_after = None;
        if let Some(actor) = &self.actor {
            self.replica.set_actor(ActorId::try_from(actor.as_str())?);
        }
        for (document, bytes) in &self.sync_states {
            self.replica.restore_sync_state(
                StorageId(SERVER_STORAGE.into()),
                *document,
                bytes.clone(),
            );
        }
        for (document, bytes) in &self.stored {
            self.replica.open(*document, bytes)?;
        }
        for quarantine in self.quarantines.values() {
            self.replica.recover(quarantine, &self.who, later(60))?;
        }
        Ok(())
    }

    /// `person` records a lecture in their notebook on this phone, as the app does.
    fn record_lecture(&mut self, person: &Person) -> Outcome<RecordId> {
        let notebook = person.notebook_id;
        self.replica.edit(notebook, |d| -> Outcome<_> {
            Ok(d.notebook_mut(notebook)?.record_lecture(
                &person.principal,
                later(10),
                lecture(person, &[]),
            )?)
        })
    }

    fn lectures(&self, notebook: DocumentId) -> Vec<Lecture> {
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
}

/// October's plan with only its lecture topic set.
fn plan(topic: &str, by: UserId) -> Plan {
    Plan {
        lecture_topic: topic.into(),
        lecture_speaker: None,
        film_title: String::new(),
        practice: String::new(),
        theme_day: None,
        notes: Prose::default(),
        created_by: by,
        created_at: NOW,
        withdrawn: None,
    }
}

fn replica(name: &str) -> Replica {
    Replica::new(
        PeerId(name.to_owned()),
        StorageId(format!("{name}-storage")),
    )
}

struct Line {
    server: Node<ServerGate>,
    phones: Vec<Phone>,
    next_connection: u64,
}

impl Line {
    fn new(village: &mut Village, notebooks: &[&Person]) -> (Line, DocumentId) {
        let branch = DocumentId::generate().unwrap();
        let mut catalogue: BTreeMap<DocumentId, Scope> = BTreeMap::new();
        let mut stored = BTreeMap::new();
        catalogue.insert(branch, *village.branch.scope());
        stored.insert(branch, village.branch.document_mut().save());
        for person in notebooks {
            let mut notebook = village.notebook_of(person);
            catalogue.insert(person.notebook_id, *notebook.scope());
            stored.insert(person.notebook_id, notebook.document_mut().save());
        }
        let mut server = Node::new(Engine::new(
            PeerId("server".into()),
            PeerMetadata {
                storage_id: Some(StorageId(SERVER_STORAGE.into())),
                is_ephemeral: Some(false),
                rules: None,
                quiet: None,
            },
            Side::Server,
            ServerGate { catalogue },
        ));
        server.storage.documents = stored;
        let line = Line {
            server,
            phones: Vec::new(),
            next_connection: 1,
        };
        (line, branch)
    }

    fn phone(&mut self, name: &str, who: &Principal, documents: &[DocumentId]) -> usize {
        let mut phone = Phone::new(name, who);
        for document in documents {
            phone.replica.sync(*document);
        }
        self.phones.push(phone);
        self.phones.len() - 1
    }

    fn connect(&mut self, phone: usize) {
        let connection = ConnectionId(self.next_connection);
        self.next_connection += 1;
        self.phones[phone].link = Some(connection);
        let effects = self.server.engine.handle(Event::Connected {
            connection,
            identity: self.phones[phone].who.clone(),
            shared: Vec::new(),
        });
        self.server_effects(effects);
        self.phones[phone].replica.connected();
        self.run();
    }

    fn disconnect(&mut self, phone: usize) {
        if let Some(connection) = self.phones[phone].link.take() {
            let effects = self
                .server
                .engine
                .handle(Event::Disconnected { connection });
            self.server_effects(effects);
            self.phones[phone].replica.disconnected();
        }
        self.run();
    }

    /// Carries out every phone's tasks, and what they cause, until nothing is left.
    fn run(&mut self) {
        loop {
            let mut busy = false;
            for index in 0..self.phones.len() {
                let tasks = self.phones[index].replica.take_tasks();
                busy |= !tasks.is_empty();
                for task in tasks {
                    self.carry_out(index, task);
                }
            }
            if !busy {
                return;
            }
        }
    }

    fn carry_out(&mut self, index: usize, task: Task) {
        let phone = &mut self.phones[index];
        match phone.dies_after {
            Some(0) => return,
            Some(n) => phone.dies_after = Some(n - 1),
            None => {}
        }
        phone.log.push(task.clone());
        match task {
            Task::Send { bytes } => {
                if let Some(connection) = phone.link {
                    let effects = self
                        .server
                        .engine
                        .handle(Event::Frame { connection, bytes });
                    self.server_effects(effects);
                }
            }
            Task::Close { .. } => {
                if let Some(connection) = phone.link.take() {
                    phone.replica.disconnected();
                    let effects = self
                        .server
                        .engine
                        .handle(Event::Disconnected { connection });
                    self.server_effects(effects);
                }
            }
            Task::Store {
                document,
                bytes,
                ticket,
            } => {
                phone
                    .stored
                    .entry(document)
                    .or_default()
                    .extend_from_slice(&bytes);
                if let (Some(ticket), false) = (ticket, phone.hold_reports) {
                    phone.replica.stored(ticket);
                }
            }
            Task::SaveSyncState {
                document, bytes, ..
            } => {
                phone.sync_states.insert(document, bytes);
            }
            // As the app does: kept durably first, then recovered.
            Task::Quarantine { quarantine } => {
                phone
                    .quarantines
                    .insert(quarantine.document, quarantine.clone());
                if let Some(dies) = phone.die_after_quarantine.take() {
                    phone.dies_after = Some(dies);
                }
                if phone.dies_after != Some(0) {
                    let who = phone.who.clone();
                    phone.replica.recover(&quarantine, &who, later(60)).unwrap();
                }
            }
            Task::Actor { actor } => phone.actor = Some(actor),
            Task::Replace { document, bytes } => {
                phone.stored.insert(document, bytes);
                phone.sync_states.remove(&document);
            }
            Task::Returned { item } => {
                let key = (item.document, item.collection.clone(), item.key.clone());
                phone.returned.insert(key, item);
            }
            Task::Recovered { document } => {
                phone.quarantines.remove(&document);
            }
            Task::Changed { .. } | Task::Unavailable { .. } => {}
        }
    }

    fn server_effects(&mut self, effects: Vec<Effect>) {
        let mut queue = VecDeque::from(effects);
        while let Some(effect) = queue.pop_front() {
            match &effect {
                Effect::Send { connection, bytes } => {
                    if let Some(phone) =
                        self.phones.iter_mut().find(|p| p.link == Some(*connection))
                    {
                        phone.replica.received(bytes.clone());
                    }
                }
                Effect::Close { connection, .. } => {
                    if let Some(phone) =
                        self.phones.iter_mut().find(|p| p.link == Some(*connection))
                    {
                        phone.link = None;
                        phone.replica.disconnected();
                    }
                }
                other => queue.extend(answer(&mut self.server, other)),
            }
        }
    }
}

/// The village on a line whose server holds the branch and 李章桂's notebook.
fn with_li() -> (Village, Line, DocumentId) {
    let mut village = Village::new();
    let li = village.li.clone();
    let (line, branch) = Line::new(&mut village, &[&li]);
    (village, line, branch)
}

#[test]
fn a_lecture_recorded_offline_survives_restarts_and_reaches_the_server_and_the_secretary() -> Outcome
{
    let (village, mut line, branch) = with_li();
    let (notebook, li) = (village.li.notebook_id, village.li.principal.clone());

    // 李章桂's phone gets his notebook once, in signal.
    let phone = line.phone("li", &li, &[notebook]);
    line.connect(phone);
    assert!(
        line.phones[phone]
            .replica
            .documents()
            .notebook(notebook)
            .is_ok()
    );
    line.disconnect(phone);

    // At the 屋场坪, with no signal: the lecture is stored before anything else happens.
    let record = line.phones[phone].record_lecture(&village.li)?;
    let tasks = line.phones[phone].replica.take_tasks();
    assert!(
        matches!(tasks.first(), Some(Task::Store { document, ticket: None, .. }) if *document == notebook),
        "{tasks:?}"
    );
    for task in tasks {
        line.carry_out(phone, task);
    }

    assert_eq!(line.phones[phone].replica.waiting(notebook), 1);

    // He closes the app and opens it again, still offline, and edits the summary.
    line.phones[phone].restart()?;
    let lectures = line.phones[phone].lectures(notebook);
    assert_eq!(lectures.len(), 1);
    let mut edited = lectures[0].clone();
    edited.summary = "讲身份意识、宗旨意识、服务意识，群众提问三个。".into();
    line.phones[phone].replica.edit(notebook, |d| -> Outcome {
        Ok(d.notebook_mut(notebook)?
            .update_record(&li, later(20), record, edited)?)
    })?;
    line.run();
    line.phones[phone].restart()?;
    assert_eq!(
        line.phones[phone].replica.waiting(notebook),
        1,
        "one record, edited twice, waits"
    );
    assert_eq!(
        line.phones[phone].lectures(notebook)[0].summary,
        "讲身份意识、宗旨意识、服务意识，群众提问三个。"
    );

    // Two days later, in signal: everything reaches the server by itself.
    line.connect(phone);
    assert!(line.phones[phone].replica.acknowledged(notebook));
    assert_eq!(line.phones[phone].replica.waiting(notebook), 0);
    line.disconnect(phone);
    line.phones[phone].restart()?;
    assert_eq!(
        line.phones[phone].replica.waiting(notebook),
        0,
        "offline again after a restart, nothing waits"
    );
    let on_server = stored_lectures(&line.server.storage, notebook);
    assert_eq!(on_server.len(), 1);
    assert!(on_server[0].summary.starts_with("讲身份意识"));

    // The secretary's phone, new, receives the notebook and the branch, and keeps them.
    let secretary = village.secretary.principal.clone();
    let office = line.phone("secretary", &secretary, &[notebook, branch]);
    line.connect(office);
    assert_eq!(line.phones[office].lectures(notebook).len(), 1);
    assert!(
        line.phones[office]
            .replica
            .documents()
            .branch(branch)
            .is_ok()
    );
    line.phones[office].restart()?;
    assert_eq!(line.phones[office].lectures(notebook).len(), 1);
    Ok(())
}

#[test]
fn changes_from_the_server_count_as_received_only_once_stored() -> Outcome {
    let (village, mut line, _) = with_li();
    let (notebook, li) = (village.li.notebook_id, village.li.principal.clone());
    let phone = line.phone("li", &li, &[notebook]);
    line.connect(phone);
    line.phones[phone].record_lecture(&village.li)?;
    line.run();

    // The secretary's phone stores what arrives but dies before reporting it.
    let secretary = village.secretary.principal.clone();
    let office = line.phone("secretary", &secretary, &[notebook]);
    line.phones[office].hold_reports = true;
    line.connect(office);
    let log = &line.phones[office].log;
    let first_store = log
        .iter()
        .position(|t| {
            matches!(
                t,
                Task::Store {
                    ticket: Some(_),
                    ..
                }
            )
        })
        .unwrap();
    assert!(
        !log[first_store..]
            .iter()
            .any(|t| matches!(t, Task::Send { .. })),
        "the phone answers the server only once it has said it stored what came: {log:?}"
    );
    assert!(
        !line.phones[office]
            .log
            .iter()
            .any(|t| matches!(t, Task::Changed { .. })),
        "nor shown"
    );

    // It lost what it stored, too: on restart it has nothing, and sync brings it all again.
    line.disconnect(office);
    line.phones[office].stored.clear();
    line.phones[office].hold_reports = false;
    line.phones[office].restart()?;
    line.phones[office].replica.sync(notebook);
    line.connect(office);
    assert_eq!(line.phones[office].lectures(notebook).len(), 1);
    assert!(line.phones[office].replica.acknowledged(notebook));
    Ok(())
}

#[test]
fn two_secretaries_edit_the_plan_offline_and_both_edits_survive() -> Outcome {
    let mut village = Village::new();
    let (mut line, branch) = Line::new(&mut village, &[]);
    let month = Month {
        year: 2026,
        month: 10,
    };
    let secretary = village.secretary.principal.clone();
    let deputy = village.deputy.principal.clone();
    let a = line.phone("secretary", &secretary, &[branch]);
    let b = line.phone("deputy", &deputy, &[branch]);
    line.connect(a);
    let plan = plan("学习贯彻党的二十届四中全会精神", secretary.user);
    let first = plan.clone();
    line.phones[a].replica.edit(branch, |d| -> Outcome {
        Ok(d.branch_mut(branch)?
            .set_plan(&secretary, later(1), month, first)?)
    })?;
    line.run();
    line.connect(b);
    line.disconnect(a);
    line.disconnect(b);

    // Offline on both phones: one sets the film, the other the practice.
    let mut with_film = plan.clone();
    with_film.film_title = "《榜样9》".into();
    line.phones[a].replica.edit(branch, |d| -> Outcome {
        Ok(d.branch_mut(branch)?
            .set_plan(&secretary, later(30), month, with_film)?)
    })?;
    let mut with_practice = plan;
    with_practice.practice = "秸秆禁烧巡逻".into();
    line.phones[b].replica.edit(branch, |d| -> Outcome {
        Ok(d.branch_mut(branch)?
            .set_plan(&deputy, later(31), month, with_practice)?)
    })?;
    line.run();

    line.connect(a);
    line.connect(b);
    line.connect(a);
    for phone in [a, b] {
        let plan = line.phones[phone]
            .replica
            .documents()
            .branch(branch)?
            .plan(month)
            .unwrap();
        assert_eq!(
            (plan.film_title.as_str(), plan.practice.as_str()),
            ("《榜样9》", "秸秆禁烧巡逻"),
            "on {}",
            line.phones[phone].name
        );
    }
    Ok(())
}

#[test]
fn a_refused_edit_changes_and_queues_nothing() -> Outcome {
    let mut village = Village::new();
    let (mut line, branch) = Line::new(&mut village, &[]);
    let li = village.li.principal.clone();
    let phone = line.phone("li", &li, &[branch]);
    line.connect(phone);
    line.disconnect(phone);
    let before = line.phones[phone].replica.save(branch)?;
    line.phones[phone].replica.take_tasks();

    let plan = plan("自己定的", li.user);
    let refused = line.phones[phone].replica.edit(branch, |d| -> Outcome {
        Ok(d.branch_mut(branch)?.set_plan(
            &li,
            later(1),
            Month {
                year: 2026,
                month: 10,
            },
            plan,
        )?)
    });
    assert!(
        refused.is_err(),
        "a member does not plan the branch's month"
    );
    assert!(line.phones[phone].replica.take_tasks().is_empty());
    assert_eq!(line.phones[phone].replica.save(branch)?, before);
    Ok(())
}

/// 李章桂's phone holds his notebook, then records `offline` lectures in it with no signal;
/// meanwhile he is moved to another branch (组织关系转接), which his phone learns when it
/// signs in again. Returns the line, the phone and his principal after the move.
fn moved_with_lectures_offline(
    offline: usize,
    dies: Option<usize>,
) -> Outcome<(Village, Line, usize)> {
    let (village, mut line, _) = with_li();
    let notebook = village.li.notebook_id;
    let phone = line.phone("li", &village.li.principal, &[notebook]);
    line.connect(phone);
    line.disconnect(phone);
    for _ in 0..offline {
        line.phones[phone].record_lecture(&village.li)?;
    }
    line.run();
    let mut moved = village.li.principal.clone();
    moved.branch = Some(client_core::BranchId::generate()?);
    line.phones[phone].who = moved;
    line.phones[phone].dies_after = None;
    line.phones[phone].die_after_quarantine = dies;
    line.connect(phone);
    Ok((village, line, phone))
}

#[test]
fn a_moved_members_offline_lectures_come_back_to_him_and_nothing_is_stuck() -> Outcome {
    let (village, mut line, phone) = moved_with_lectures_offline(3, None)?;
    let notebook = village.li.notebook_id;
    let li = &line.phones[phone];
    // Quarantined first, before anything else was done about it.
    let first = li
        .log
        .iter()
        .position(|t| matches!(t, Task::Quarantine { .. }))
        .expect("the refusal was quarantined");
    assert!(
        !li.log[..first]
            .iter()
            .any(|t| matches!(t, Task::Replace { .. } | Task::Actor { .. })),
        "{:?}",
        li.log
    );
    // All three came back, as he wrote them, with the rule; none reached the server.
    assert_eq!(li.returned.len(), 3, "{:?}", li.returned.keys());
    for item in li.returned.values() {
        assert_eq!(
            (item.document, item.collection.as_str()),
            (notebook, "lectures")
        );
        assert_eq!(item.rule, "write_denied");
        let lecture: Lecture = item.record.deserialized()?;
        assert_eq!(lecture.recorded_by, village.li.principal.user);
    }
    assert!(stored_lectures(&line.server.storage, notebook).is_empty());
    // Nothing waits, nothing is quarantined, and the phone's notebook is the server's.
    assert!(li.quarantines.is_empty());
    assert_eq!(li.replica.waiting(notebook), 0);
    assert!(li.lectures(notebook).is_empty());
    // Restarted, the phone stays so, and its items stay.
    line.phones[phone].restart()?;
    line.connect(phone);
    assert_eq!(line.phones[phone].returned.len(), 3);
    assert!(line.phones[phone].quarantines.is_empty());
    Ok(())
}

#[test]
fn a_phone_that_dies_at_any_step_of_a_recovery_ends_the_same_when_started_again() -> Outcome {
    let (_, whole, phone) = moved_with_lectures_offline(2, None)?;
    // Each run is a new village: what came back is compared by what it is, not by ids.
    let shape = |phone: &Phone| -> Vec<(String, String)> {
        phone
            .returned
            .values()
            .map(|r| (r.collection.clone(), r.rule.clone()))
            .collect()
    };
    let expected = shape(&whole.phones[phone]);
    assert_eq!(expected.len(), 2);
    let steps = whole.phones[phone]
        .log
        .iter()
        .skip_while(|t| !matches!(t, Task::Quarantine { .. }))
        .count();
    assert!(steps > 3, "the recovery has steps to die between");
    for dies in 0..steps {
        let (village, mut line, phone) = moved_with_lectures_offline(2, Some(dies))?;
        let notebook = village.li.notebook_id;
        line.disconnect(phone);
        line.phones[phone].restart()?;
        line.connect(phone);
        line.run();
        let li = &line.phones[phone];
        assert_eq!(
            shape(li),
            expected,
            "died after {dies} steps of the recovery"
        );
        assert!(li.quarantines.is_empty(), "died after {dies}");
        assert_eq!(li.replica.waiting(notebook), 0, "died after {dies}");
        assert!(stored_lectures(&line.server.storage, notebook).is_empty());
    }
    Ok(())
}

#[test]
fn a_demoted_admins_offline_plan_comes_back_while_her_lecture_syncs() -> Outcome {
    let mut village = Village::new();
    let deputy = village.deputy.clone();
    let (mut line, branch) = Line::new(&mut village, &[&deputy]);
    let notebook = deputy.notebook_id;
    let phone = line.phone("deputy", &deputy.principal, &[branch, notebook]);
    line.connect(phone);
    line.disconnect(phone);
    let server_branch = line.server.storage.documents[&branch].clone();

    // Offline, as the branch's deputy secretary: October's plan, and her own lecture.
    let month = Month {
        year: 2026,
        month: 10,
    };
    line.phones[phone].replica.edit(branch, |d| -> Outcome {
        Ok(d.branch_mut(branch)?.set_plan(
            &deputy.principal,
            later(5),
            month,
            plan("学习四中全会精神", deputy.principal.user),
        )?)
    })?;
    line.phones[phone].record_lecture(&deputy)?;
    line.run();

    // The township takes her role away; her phone learns it when it signs in again.
    let mut member = deputy.principal.clone();
    member.role = client_core::Role::Member;
    line.phones[phone].who = member;
    line.connect(phone);
    line.run();

    let phone = &line.phones[phone];
    let returned: Vec<_> = phone
        .returned
        .keys()
        .map(|(d, c, k)| (*d, c.clone(), k.clone()))
        .collect();
    assert_eq!(
        returned,
        vec![(branch, "plans".to_owned(), "2026-10".to_owned())]
    );
    assert_eq!(
        stored_lectures(&line.server.storage, notebook).len(),
        1,
        "her lecture synced"
    );
    assert_eq!(
        line.server.storage.documents[&branch], server_branch,
        "the branch is unchanged"
    );
    let held = phone.replica.documents().branch(branch)?;
    assert!(
        held.plan(month).is_none(),
        "the phone shows what the server keeps"
    );
    assert_eq!(phone.replica.waiting(branch), 0);
    assert!(phone.quarantines.is_empty());
    Ok(())
}
