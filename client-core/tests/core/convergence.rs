//! Random operations on several replicas of each document kind, synced in random pairs and
//! finally merged in a random order, always converge to equal documents that pass validation,
//! and every merge passes the server's change validation.

use automerge::{ActorId, ReadDoc};
use client_core::model::branch::{Decision, Meeting, MeetingKind, Plan, Rectification};
use client_core::model::common::{
    Progress, ProgressStatus, Prose, RecordRef, ReviewableKind, Submission,
};
use client_core::model::ledger::{Contact, ContactKind, LedgerEntry};
use client_core::model::notebook::{Lecture, Service, ServiceKind};
use client_core::model::supervision::{Problem, SupervisionMethod, SupervisionNote};
use client_core::ops::ReviewDecision;
use client_core::validate::{self, Context, Limits};
use client_core::{Document, Month, Principal, RecordId, schema};
use proptest::prelude::*;

use crate::fixture::{NOW, Village, later, lecture, submitted_lecture};

/// One step of a random history: which replica acts, what it does, and a free parameter.
#[derive(Debug, Clone)]
enum Step {
    Act {
        replica: usize,
        action: u8,
        param: u16,
    },
    Sync {
        from: usize,
        to: usize,
    },
}

fn steps(replicas: usize) -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        3 => (0..replicas, any::<u8>(), any::<u16>()).prop_map(|(replica, action, param)| Step::Act { replica, action, param }),
        1 => (0..replicas, 0..replicas).prop_map(|(from, to)| Step::Sync { from, to }),
    ];
    proptest::collection::vec(step, 1..24)
}

/// A typed document handle that can be replicated.
trait Replica: std::ops::Deref<Target = Document> + Sized {
    fn load(bytes: &[u8]) -> Self;
    fn document_mut(&mut self) -> &mut Document;
}

macro_rules! replica {
    ($($handle:ident),+) => {$(
        impl Replica for client_core::$handle {
            fn load(bytes: &[u8]) -> Self {
                client_core::$handle::load(bytes, Limits::default()).unwrap()
            }
            fn document_mut(&mut self) -> &mut Document {
                client_core::$handle::document_mut(self)
            }
        }
    )+};
}
replica!(Notebook, Branch, Ledger, Supervision);

/// Replicas of one document, each with its own actor, and who writes on each.
struct Replicas<H> {
    docs: Vec<H>,
    writers: Vec<Principal>,
}

impl<H: Replica> Replicas<H> {
    fn new(mut origin: H, writers: Vec<Principal>) -> Self {
        let bytes = origin.document_mut().save();
        let docs = writers
            .iter()
            .map(|_| {
                let mut doc = H::load(&bytes);
                doc.document_mut().set_actor(ActorId::random());
                doc
            })
            .collect();
        Self { docs, writers }
    }

    /// Merges `from` into `to` and checks the merge as the server would check it.
    fn sync(&mut self, from: usize, to: usize, elections: Option<&dyn validate::Elections>) {
        if from == to {
            return;
        }
        let mut source =
            Document::load(&self.docs[from].automerge().save(), Limits::default()).unwrap();
        let target = self.docs[to].document_mut();
        let before = target.heads();
        target.merge(&mut source).unwrap();
        let ctx = Context {
            scope: *target.scope(),
            authors: &self.writers,
            elections,
            limits: Limits::default(),
            rules: validate::RULES,
        };
        validate::validate_changes(target.automerge(), &before, &ctx).unwrap();
    }

    /// Merges everything into every replica in the given order, then checks they are equal.
    fn converge(mut self, order: &[usize]) {
        let n = self.docs.len();
        for &i in order.iter().chain(order.iter()) {
            self.sync(i % n, (i + 1) % n, None);
        }
        for from in 0..n {
            for to in 0..n {
                self.sync(from, to, None);
            }
        }
        let first = ReadDoc::hydrate(self.docs[0].automerge(), automerge::ROOT, None).unwrap();
        for doc in &self.docs {
            assert_eq!(doc.heads(), self.docs[0].heads());
            assert_eq!(
                ReadDoc::hydrate(doc.automerge(), automerge::ROOT, None).unwrap(),
                first
            );
            doc.validate().unwrap();
        }
    }
}

/// Operations may be refused (say, advancing a finished item); a refusal must leave the
/// document unchanged, which the final validation and convergence confirm.
fn ignore_refusal<T>(_: Result<T, client_core::OpError>) {}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    // 24 histories each by default; set PROPTEST_CASES for a longer hunt.
    #![proptest_config(ProptestConfig { cases: cases(24), ..ProptestConfig::default() })]

    #[test]
    fn notebooks_converge(history in steps(3), order in Just(vec![2usize, 0, 1]).prop_shuffle()) {
        let village = Village::new();
        let li = village.li.clone();
        let origin = village.notebook_of(&li);
        let mut replicas = Replicas::new(origin, vec![li.principal.clone(); 3]);
        for step in history {
            match step {
                Step::Sync { from, to } => replicas.sync(from, to, None),
                Step::Act { replica, action, param } => {
                    let notebook = &mut replicas.docs[replica];
                    let existing: Vec<RecordId> = notebook.records::<Lecture>(&schema::LECTURES).iter().map(|(k, _)| k.parse().unwrap()).collect();
                    let at = later(i64::from(param));
                    match (action % 5, existing.first()) {
                        (0, _) | (_, None) => ignore_refusal(notebook.record_lecture(&li.principal, at, lecture(&li, &[village.member.principal.user]))),
                        (1, Some(id)) => ignore_refusal(notebook.edit_record::<Lecture>(&li.principal, at, existing[usize::from(param) % existing.len()], |l| {
                            l.audience = i64::from(param % 200);
                            l.summary = format!("修改 {param}");
                            let _ = id;
                        })),
                        (2, Some(_)) => ignore_refusal(notebook.submit::<Lecture>(&li.principal, at, existing[usize::from(param) % existing.len()])),
                        (3, Some(_)) => ignore_refusal(notebook.withdraw::<Lecture>(&li.principal, at, existing[usize::from(param) % existing.len()], None)),
                        (_, Some(_)) => ignore_refusal(notebook.record_service(&li.principal, at, Service {
                            kind: ServiceKind::Sanitation,
                            title: "卫生清理".into(),
                            held_at: at,
                            hours: f64::from(param % 8),
                            participants: vec![li.principal.user],
                            beneficiaries: 0,
                            place: String::new(),
                            notes: String::new(),
                            media: vec![],
                            plan: None,
                            recorded_by: li.principal.user,
                            submission: Submission::draft(),
                            created_at: at,
                            withdrawn: None,
                        })),
                    }
                }
            }
        }
        replicas.converge(&order);
    }

    #[test]
    fn branches_converge(history in steps(3), order in Just(vec![0usize, 1, 2]).prop_shuffle()) {
        let mut village = Village::new();
        let admins = [village.secretary.principal.clone(), village.deputy.principal.clone(), village.secretary.principal.clone()];
        let li = village.li.clone();
        let rectification = Rectification {
            problem: "道路照明不足".into(),
            measure: String::new(),
            deadline: "2026-12-31".parse().unwrap(),
            standard: String::new(),
            responsible: None,
            from_visit: None,
            from_supervision: None,
            progress: Progress::default(),
            evidence: vec![],
            created_by: admins[0].user,
            created_at: NOW,
            withdrawn: None,
        };
        let rectification_id = village.branch.open_rectification(&admins[0], NOW, rectification).unwrap();
        let origin = village.branch;
        let mut replicas = Replicas::new(origin, admins.to_vec());
        let october: Month = "2026-10".parse().unwrap();
        for step in history {
            match step {
                Step::Sync { from, to } => replicas.sync(from, to, None),
                Step::Act { replica, action, param } => {
                    let admin = admins[replica].clone();
                    let branch = &mut replicas.docs[replica];
                    let at = later(i64::from(param));
                    match action % 5 {
                        0 => {
                            let mut plan = branch.plan(october).unwrap_or(Plan {
                                lecture_topic: String::new(),
                                lecture_speaker: None,
                                film_title: String::new(),
                                practice: String::new(),
                                theme_day: None,
                                notes: Prose::default(),
                                created_by: admin.user,
                                created_at: at,
                                withdrawn: None,
                            });
                            match param % 3 {
                                0 => plan.lecture_topic = format!("主题 {param}"),
                                1 => plan.film_title = format!("影片 {param}"),
                                _ => plan.notes.0.push_str(&format!("第{replica}号手机:{param}\n")),
                            }
                            ignore_refusal(branch.set_plan(&admin, at, october, plan));
                        }
                        1 => {
                            let status = [ProgressStatus::InProgress, ProgressStatus::Done, ProgressStatus::Verified][usize::from(param) % 3];
                            ignore_refusal(branch.advance_rectification(&admin, at, rectification_id, status, None));
                        }
                        2 => ignore_refusal(branch.review(&admin, at, ReviewDecision {
                            record: RecordRef { notebook: li.notebook_id, kind: ReviewableKind::Lecture, id: RecordId::generate(NOW).unwrap() },
                            revision: 1 + i64::from(param % 3),
                            decision: if param % 2 == 0 { Decision::Approved } else { Decision::Returned },
                            comment: "请补充照片".into(),
                            publish: false,
                            fine_example: false,
                        }, &submitted_lecture(&li, 1 + i64::from(param % 3)))),
                        3 => ignore_refusal(branch.record_meeting(&admin, at, Meeting {
                            kind: MeetingKind::Committee,
                            held_at: at,
                            attendees: vec![admin.user],
                            agenda: "支委会".into(),
                            minutes: Prose::from("会议记录"),
                            decisions: vec![],
                            plan: None,
                            recorded_by: admin.user,
                            created_at: at,
                            withdrawn: None,
                        })),
                        _ => ignore_refusal(branch.withdraw::<Rectification>(&admin, at, rectification_id, None)),
                    }
                }
            }
        }
        replicas.converge(&order);
    }

    #[test]
    fn ledgers_and_supervision_converge(history in steps(2), order in Just(vec![0usize, 1]).prop_shuffle()) {
        let mut village = Village::new();
        let admins = [village.secretary.principal.clone(), village.deputy.principal.clone()];
        let member = village.member.principal.user;
        village.ledger.set_entry(&admins[0], NOW, member, LedgerEntry {
            migrant: true, inflow: false, elderly: false, infirm: false,
            phone: String::new(), city: "广州".into(), employer: String::new(),
            study_partner: None, contacts: Default::default(),
            updated_by: admins[0].user, updated_at: NOW, withdrawn: None,
        }).unwrap();
        let mut ledgers = Replicas::new(village.ledger, admins.to_vec());
        let township = vec![village.township_admin.clone(); 2];
        let mut supervision = Replicas::new(village.supervision, township.clone());
        for step in history {
            match step {
                Step::Sync { from, to } => {
                    ledgers.sync(from, to, None);
                    supervision.sync(from, to, None);
                }
                Step::Act { replica, action, param } => {
                    let at = later(i64::from(param));
                    if action % 2 == 0 {
                        let ledger = &mut ledgers.docs[replica];
                        ignore_refusal(ledger.log_contact(&admins[replica], at, member, Contact { kind: ContactKind::Letter, at, by: admins[replica].user, notes: format!("函访 {param}") }));
                    } else {
                        let sup = &mut supervision.docs[replica];
                        if param % 2 == 0 {
                            ignore_refusal(sup.write_note(&township[0], at, SupervisionNote { method: SupervisionMethod::Report, at, by: township[0].user, body: format!("听取汇报 {param}"), withdrawn: None }));
                        } else {
                            let problems = sup.records::<Problem>(&schema::PROBLEMS);
                            match problems.first() {
                                Some((id, _)) => ignore_refusal(sup.advance_problem(&township[0], at, id.parse().unwrap(), ProgressStatus::Done, None)),
                                None => ignore_refusal(sup.raise_problem(&township[0], at, Problem {
                                    problem: "资料不全".into(), measure: String::new(), deadline: "2026-12-01".parse().unwrap(),
                                    standard: String::new(), owner: "王建国".into(), progress: Progress::default(), evidence: Vec::new(),
                                    created_by: township[0].user, created_at: at, withdrawn: None,
                                })),
                            }
                        }
                    }
                }
            }
        }
        ledgers.converge(&order);
        supervision.converge(&order);
    }
}
