//! Every operation: a permitted call succeeds; a forbidden one fails with its specific error and
//! leaves the document exactly as it was.

use client_core::access::{self, Denied};
use client_core::model::branch::{
    Candidate, Decision, Election, FeedItem, Meeting, MeetingKind, Plan, Rectification, Review,
    ScheduleEntry, Screening,
};
use client_core::model::common::{MediaRef, Submission};
use client_core::model::common::{
    Progress, ProgressStatus, Prose, RecordRef, ReviewableKind, SubmissionState,
};
use client_core::model::ledger::{Contact, ContactKind, LedgerEntry};
use client_core::model::notebook::{Lecture, Pledge, Service, ServiceKind, Visit, VisitKind};
use client_core::model::supervision::{
    Assessment, Grade, Problem, SupervisionMethod, SupervisionNote,
};
use client_core::ops::ReviewDecision;
use client_core::{
    BranchId, Date, DocKind, DocumentId, Millis, Month, OpError, RecordId, Role, Scope, TownshipId,
    Violation, schema,
};

use crate::fixture::{NOW, Village, later, lecture};

macro_rules! assert_refused {
    ($doc:expr, $op:expr, $pattern:pat) => {{
        let before = $doc.heads();
        let result = $op;
        assert!(
            matches!(result, Err($pattern)),
            "expected {}, got {:?}",
            stringify!($pattern),
            result
        );
        assert_eq!(
            $doc.heads(),
            before,
            "a refused operation changed the document"
        );
    }};
}

fn review_of(
    notebook: DocumentId,
    id: RecordId,
    revision: i64,
    decision: Decision,
    comment: &str,
) -> ReviewDecision {
    ReviewDecision {
        record: RecordRef {
            notebook,
            kind: ReviewableKind::Lecture,
            id,
        },
        revision,
        decision,
        comment: comment.into(),
        publish: false,
        fine_example: false,
    }
}

#[test]
fn a_member_records_edits_and_submits_a_lecture_in_his_own_notebook() {
    let village = Village::new();
    let li = &village.li;
    let mut notebook = village.notebook_of(li);
    let attendees = [
        village.member.principal.user,
        village.secretary.principal.user,
    ];
    let id = notebook
        .record_lecture(&li.principal, NOW, lecture(li, &attendees))
        .unwrap();

    let stored: Lecture = notebook
        .get(&schema::LECTURES, &id.to_string())
        .unwrap()
        .unwrap();
    assert_eq!(stored.recorded_by, li.principal.user);
    assert_eq!(stored.submission.state, SubmissionState::Draft);

    let revision = notebook
        .submit::<Lecture>(&li.principal, later(1), id)
        .unwrap();
    assert_eq!(revision, 1);
    notebook
        .edit_record::<Lecture>(&li.principal, later(2), id, |l| {
            l.summary.push_str("补充:听课群众踊跃发言。")
        })
        .unwrap();
    let edited: Lecture = notebook
        .get(&schema::LECTURES, &id.to_string())
        .unwrap()
        .unwrap();
    assert_eq!(
        edited.submission.state,
        SubmissionState::Draft,
        "an edit recalls the submission"
    );
    assert_eq!(
        notebook
            .submit::<Lecture>(&li.principal, later(3), id)
            .unwrap(),
        2
    );
    notebook.validate().unwrap();
}

#[test]
fn a_member_cannot_write_another_members_notebook() {
    let village = Village::new();
    let mut notebook = village.notebook_of(&village.li);
    let intruder = &village.member;
    assert_refused!(
        notebook,
        notebook.record_lecture(&intruder.principal, NOW, lecture(intruder, &[])),
        OpError::Denied(Denied {
            role: Role::Member,
            kind: DocKind::Notebook,
            ..
        })
    );
    // Not even the branch's secretary writes a member's notebook.
    assert_refused!(
        notebook,
        notebook.record_lecture(
            &village.secretary.principal,
            NOW,
            lecture(&village.secretary, &[])
        ),
        OpError::Denied(_)
    );
}

#[test]
fn oversized_and_incomplete_lectures_are_refused() {
    let village = Village::new();
    let li = &village.li;
    let mut notebook = village.notebook_of(li);
    let mut long = lecture(li, &[]);
    long.title = "讲".repeat(201);
    assert_refused!(
        notebook,
        notebook.record_lecture(&li.principal, NOW, long),
        OpError::Invalid(Violation::TooLong { max: 200, .. })
    );

    let mut huge = lecture(li, &[]);
    huge.summary = "x".repeat(10 << 20);
    assert_refused!(
        notebook,
        notebook.record_lecture(&li.principal, NOW, huge),
        OpError::Invalid(Violation::TooLong { .. })
    );

    let mut nobody = lecture(li, &[]);
    nobody.speakers.clear();
    assert_refused!(
        notebook,
        notebook.record_lecture(&li.principal, NOW, nobody),
        OpError::Invalid(Violation::Missing { .. })
    );

    let mut negative = lecture(li, &[]);
    negative.audience = -3;
    assert_refused!(
        notebook,
        notebook.record_lecture(&li.principal, NOW, negative),
        OpError::Invalid(Violation::OutOfRange { .. })
    );

    let mut bad_media = lecture(li, &[]);
    bad_media.media[0].media_type = "application/x-msdownload".into();
    assert_refused!(
        notebook,
        notebook.record_lecture(&li.principal, NOW, bad_media),
        OpError::Invalid(Violation::NotAllowed { .. })
    );

    // A guest speaker (土专家) alone is enough.
    let mut guest = lecture(li, &[]);
    guest.speakers.clear();
    guest.guest_speaker = Some("种植大户 张师傅".into());
    notebook.record_lecture(&li.principal, NOW, guest).unwrap();
}

#[test]
fn services_visits_and_pledges_belong_to_their_recorder() {
    let village = Village::new();
    let li = &village.li;
    let mut notebook = village.notebook_of(li);
    let service = Service {
        kind: ServiceKind::Patrol,
        title: "秸秆禁烧巡逻".into(),
        held_at: NOW,
        hours: 3.5,
        participants: vec![li.principal.user, village.member.principal.user],
        beneficiaries: 120,
        place: "合益村".into(),
        notes: String::new(),
        media: vec![],
        plan: Some("2026-10".parse().unwrap()),
        recorded_by: li.principal.user,
        submission: Submission::draft(),
        created_at: NOW,
        withdrawn: None,
    };
    notebook
        .record_service(&li.principal, NOW, service.clone())
        .unwrap();
    let mut too_long = service.clone();
    too_long.hours = 25.0;
    assert_refused!(
        notebook,
        notebook.record_service(&li.principal, NOW, too_long),
        OpError::Invalid(Violation::OutOfRange { .. })
    );
    let mut nan = service;
    nan.hours = f64::NAN;
    assert_refused!(
        notebook,
        notebook.record_service(&li.principal, NOW, nan),
        OpError::Invalid(Violation::OutOfRange { .. })
    );

    let visit = Visit {
        kind: VisitKind::Walk,
        household: "五保户 李大爷家".into(),
        visitors: vec![li.principal.user],
        visited_at: NOW,
        needs: "屋顶漏雨".into(),
        follow_up: "联系村委维修".into(),
        media: vec![],
        recorded_by: li.principal.user,
        submission: Submission::draft(),
        created_at: NOW,
        withdrawn: None,
    };
    notebook
        .record_visit(&li.principal, NOW, visit.clone())
        .unwrap();
    assert_refused!(
        notebook,
        notebook.record_visit(&village.member.principal, NOW, visit),
        OpError::Denied(_)
    );

    let pledge = Pledge {
        year: 2026,
        member: li.principal.user,
        commitments: vec!["带头参加秸秆禁烧巡逻".into(), "每月为群众办一件实事".into()],
        created_at: NOW,
        withdrawn: None,
    };
    notebook
        .make_pledge(&li.principal, NOW, pledge.clone())
        .unwrap();
    let mut empty = pledge;
    empty.commitments.push("   ".into());
    assert_refused!(
        notebook,
        notebook.make_pledge(&li.principal, NOW, empty),
        OpError::Invalid(Violation::Missing { .. })
    );
}

#[test]
fn withdrawal_keeps_the_record() {
    let village = Village::new();
    let li = &village.li;
    let mut notebook = village.notebook_of(li);
    let id = notebook
        .record_lecture(&li.principal, NOW, lecture(li, &[]))
        .unwrap();
    notebook
        .withdraw::<Lecture>(&li.principal, later(1), id, Some("重复录入".into()))
        .unwrap();
    let stored: Lecture = notebook
        .get(&schema::LECTURES, &id.to_string())
        .unwrap()
        .unwrap();
    assert_eq!(stored.withdrawn.unwrap().by, li.principal.user);
    // Withdrawing twice changes nothing; an edit cannot bring it back.
    let heads = notebook.heads();
    notebook
        .withdraw::<Lecture>(&li.principal, later(2), id, None)
        .unwrap();
    assert_eq!(notebook.heads(), heads);
}

#[test]
fn reviews_are_written_by_admins_and_never_of_their_own_records() {
    let mut village = Village::new();
    let li = village.li.clone();
    let mut notebook = village.notebook_of(&li);
    let id = notebook
        .record_lecture(&li.principal, NOW, lecture(&li, &[]))
        .unwrap();
    let revision = notebook.submit::<Lecture>(&li.principal, NOW, id).unwrap();
    let read: Lecture = notebook
        .get(&schema::LECTURES, &id.to_string())
        .unwrap()
        .unwrap();

    // A member cannot approve his own lecture: he cannot write the branch document at all.
    let approve = review_of(li.notebook_id, id, revision, Decision::Approved, "");
    let branch = &mut village.branch;
    assert_refused!(
        branch,
        branch.review(&li.principal, NOW, approve.clone(), &read),
        OpError::Denied(Denied {
            role: Role::Member,
            kind: DocKind::Branch,
            ..
        })
    );

    // A return needs a comment saying why.
    let secretary = village.secretary.principal.clone();
    let silent = review_of(li.notebook_id, id, revision, Decision::Returned, " ");
    assert_refused!(
        branch,
        branch.review(&secretary, NOW, silent, &read),
        OpError::Invalid(Violation::Missing { .. })
    );

    // A record in a notebook that is not on the roster does not exist for this branch.
    let stranger = review_of(
        DocumentId::generate().unwrap(),
        id,
        revision,
        Decision::Approved,
        "",
    );
    assert_refused!(
        branch,
        branch.review(&secretary, NOW, stranger, &read),
        OpError::Invalid(Violation::UnknownReference { .. })
    );

    // An admin approves only the revision he read: an older or newer one is refused.
    let stale = review_of(li.notebook_id, id, revision + 1, Decision::Approved, "");
    assert_refused!(
        branch,
        branch.review(&secretary, NOW, stale, &read),
        OpError::NotAllowed(_)
    );

    branch.review(&secretary, NOW, approve, &read).unwrap();
    // The approval carries what the lecture counts, for every phone to count alike.
    let (_, review) = branch.records::<Review>(&schema::REVIEWS).remove(0);
    let counted = review.counted.unwrap();
    assert_eq!(
        (counted.title.as_str(), counted.held_at, counted.audience),
        (read.title.as_str(), read.held_at, read.audience)
    );
    assert_eq!(counted.attendees, read.attendees);

    // The secretary's own lecture must be reviewed by someone else.
    let own = review_of(
        village.secretary.notebook_id,
        RecordId::generate(NOW).unwrap(),
        revision,
        Decision::Approved,
        "",
    );
    assert_refused!(
        branch,
        branch.review(&secretary, NOW, own.clone(), &read),
        OpError::Invalid(Violation::SelfReview { .. })
    );
    branch
        .review(&village.deputy.principal, NOW, own, &read)
        .unwrap();

    // Another branch's admin cannot review here.
    let mut outsider = secretary.clone();
    outsider.branch = Some(BranchId::generate().unwrap());
    let approve = review_of(li.notebook_id, id, revision, Decision::Approved, "");
    assert_refused!(
        branch,
        branch.review(&outsider, NOW, approve, &read),
        OpError::Denied(_)
    );
    branch.validate().unwrap();
}

#[test]
fn elections_take_ballots_only_while_open_and_only_from_the_voter() {
    let mut village = Village::new();
    let secretary = village.secretary.principal.clone();
    let candidates: Vec<Candidate> = [&village.li, &village.member]
        .iter()
        .map(|p| Candidate {
            id: RecordId::generate(NOW).unwrap(),
            label: p.name.into(),
            member: Some(p.principal.user),
        })
        .collect();
    let election = Election {
        title: "发展之星评选".into(),
        candidates: candidates.clone(),
        max_choices: 1,
        opens_at: NOW,
        closes_at: later(60 * 24 * 7),
        created_by: secretary.user,
        created_at: NOW,
        result: None,
        withdrawn: None,
    };
    let mut backwards = election.clone();
    backwards.closes_at = Millis(NOW.0 - 1);
    let branch = &mut village.branch;
    assert_refused!(
        branch,
        branch.create_election(&secretary, NOW, backwards),
        OpError::Invalid(Violation::OutOfRange { .. })
    );
    let election_id = branch.create_election(&secretary, NOW, election).unwrap();

    let li = village.li.clone();
    let mut notebook = village.notebook_of(&li);
    notebook
        .cast_ballot(
            &li.principal,
            later(10),
            &village.branch,
            election_id,
            vec![candidates[1].id],
        )
        .unwrap();
    // Changing one's mind while open replaces the ballot.
    notebook
        .cast_ballot(
            &li.principal,
            later(20),
            &village.branch,
            election_id,
            vec![candidates[0].id],
        )
        .unwrap();

    assert_refused!(
        notebook,
        notebook.cast_ballot(
            &li.principal,
            later(60 * 24 * 8),
            &village.branch,
            election_id,
            vec![candidates[1].id]
        ),
        OpError::Invalid(Violation::ElectionClosed { .. })
    );
    assert_refused!(
        notebook,
        notebook.cast_ballot(
            &li.principal,
            later(30),
            &village.branch,
            election_id,
            vec![candidates[0].id, candidates[1].id]
        ),
        OpError::Invalid(Violation::InvalidChoice { .. })
    );
    assert_refused!(
        notebook,
        notebook.cast_ballot(
            &li.principal,
            later(30),
            &village.branch,
            election_id,
            vec![RecordId::generate(NOW).unwrap()]
        ),
        OpError::Invalid(Violation::InvalidChoice { .. })
    );
    assert_refused!(
        notebook,
        notebook.cast_ballot(
            &li.principal,
            later(30),
            &village.branch,
            RecordId::generate(NOW).unwrap(),
            vec![candidates[0].id]
        ),
        OpError::Invalid(Violation::UnknownReference { .. })
    );
    assert_refused!(
        notebook,
        notebook.cast_ballot(
            &village.member.principal,
            later(30),
            &village.branch,
            election_id,
            vec![candidates[0].id]
        ),
        OpError::Denied(_)
    );

    let ballots: Vec<client_core::model::notebook::Ballot> = notebook
        .records(&schema::BALLOTS)
        .into_iter()
        .map(|(_, ballot)| ballot)
        .collect();
    let branch = &mut village.branch;
    assert_refused!(
        branch,
        branch.count_election(&secretary, later(60), election_id, &ballots),
        OpError::NotAllowed(_)
    );
    let result = branch
        .count_election(&secretary, later(60 * 24 * 7), election_id, &ballots)
        .unwrap();
    assert_eq!(result.ballots, 1);
    assert_eq!(
        result
            .tallies
            .iter()
            .find(|t| t.candidate == candidates[0].id)
            .unwrap()
            .votes,
        1
    );
    assert_refused!(
        branch,
        branch.count_election(&secretary, later(60 * 24 * 8), election_id, &ballots),
        OpError::NotAllowed(_)
    );
}

#[test]
fn rectifications_move_only_forward() {
    let mut village = Village::new();
    let secretary = village.secretary.principal.clone();
    let rectification = Rectification {
        problem: "党员活动室资料归档不规范".into(),
        measure: "按月整理三会一课记录".into(),
        deadline: "2026-11-30".parse().unwrap(),
        standard: "资料齐全、分类清楚".into(),
        responsible: Some(village.deputy.principal.user),
        from_visit: None,
        from_supervision: None,
        progress: Progress::default(),
        evidence: vec![],
        created_by: secretary.user,
        created_at: NOW,
        withdrawn: None,
    };
    let branch = &mut village.branch;
    assert_refused!(
        branch,
        branch.open_rectification(&village.li.principal, NOW, rectification.clone()),
        OpError::Denied(_)
    );
    let id = branch
        .open_rectification(&secretary, NOW, rectification)
        .unwrap();
    branch
        .advance_rectification(&secretary, later(1), id, ProgressStatus::InProgress, None)
        .unwrap();
    branch
        .advance_rectification(
            &village.deputy.principal,
            later(2),
            id,
            ProgressStatus::Done,
            Some("已归档".into()),
        )
        .unwrap();
    assert_refused!(
        branch,
        branch.advance_rectification(&secretary, later(3), id, ProgressStatus::InProgress, None),
        OpError::Invalid(Violation::Backward { .. })
    );
    assert_refused!(
        branch,
        branch.advance_rectification(&secretary, later(3), id, ProgressStatus::Done, None),
        OpError::Invalid(Violation::Backward { .. })
    );
    // An edit cannot rewrite progress either: it is carried over from what is stored.
    branch
        .edit::<Rectification>(&secretary, later(4), id, |r| {
            r.progress = Progress::default()
        })
        .unwrap();
    branch
        .advance_rectification(&secretary, later(5), id, ProgressStatus::Verified, None)
        .unwrap();
    let stored: Rectification = branch
        .get(&schema::RECTIFICATIONS, &id.to_string())
        .unwrap()
        .unwrap();
    assert_eq!(stored.progress.status(), ProgressStatus::Verified);
}

#[test]
fn plans_meetings_screenings_and_schedules_are_the_admins_work() {
    let mut village = Village::new();
    let secretary = village.secretary.principal.clone();
    let member = village.li.principal.clone();
    let october: Month = "2026-10".parse().unwrap();
    let plan = Plan {
        lecture_topic: "学习二十大精神".into(),
        lecture_speaker: Some(member.user),
        film_title: "《初心》".into(),
        practice: "秸秆禁烧巡逻".into(),
        theme_day: Some("2026-10-10".parse().unwrap()),
        notes: Prose::default(),
        created_by: secretary.user,
        created_at: NOW,
        withdrawn: None,
    };
    let branch = &mut village.branch;
    assert_refused!(
        branch,
        branch.set_plan(&member, NOW, october, plan.clone()),
        OpError::Denied(_)
    );
    branch.set_plan(&secretary, NOW, october, plan).unwrap();
    assert_eq!(branch.plan(october).unwrap().created_by, secretary.user);

    let meeting = Meeting {
        kind: MeetingKind::ThemeDay,
        held_at: NOW,
        attendees: vec![member.user],
        agenda: "主题党日".into(),
        minutes: Prose::from("学习、巡逻、交流"),
        decisions: vec!["下月走访五保户".into()],
        plan: Some(october),
        recorded_by: secretary.user,
        created_at: NOW,
        withdrawn: None,
    };
    assert_refused!(
        branch,
        branch.record_meeting(&member, NOW, meeting.clone()),
        OpError::Denied(_)
    );
    branch.record_meeting(&secretary, NOW, meeting).unwrap();

    let screening = Screening {
        film: "《初心》".into(),
        held_at: NOW,
        place: "党员活动室".into(),
        attendees: vec![member.user],
        audience: 12,
        discussion: String::new(),
        media: Vec::new(),
        plan: Some(october),
        recorded_by: secretary.user,
        created_at: NOW,
        withdrawn: None,
    };
    branch.record_screening(&secretary, NOW, screening).unwrap();

    let entry = ScheduleEntry {
        date: Date {
            year: 2026,
            month: 11,
            day: 5,
        },
        speaker: Some(member.user),
        guest_speaker: None,
        topic: "土专家讲种植".into(),
        venue: client_core::model::notebook::Venue::Field,
        created_by: secretary.user,
        withdrawn: None,
    };
    let mut impostor = entry.clone();
    impostor.created_by = village.deputy.principal.user;
    let id = branch.schedule_lecture(&secretary, NOW, entry).unwrap();
    // created_by is stamped by the operation, so it always names the author.
    let stored: ScheduleEntry = branch
        .get(&schema::SCHEDULE, &id.to_string())
        .unwrap()
        .unwrap();
    assert_eq!(stored.created_by, secretary.user);
    let _ = impostor;

    let item = FeedItem {
        source: RecordRef {
            notebook: village.li.notebook_id,
            kind: ReviewableKind::Lecture,
            id: RecordId::generate(NOW).unwrap(),
        },
        kind: ReviewableKind::Lecture,
        title: "忆扶贫故事".into(),
        body: String::new(),
        speakers: vec!["李章桂".into()],
        held_at: NOW,
        media: vec![],
        fine_example: true,
        published_by: secretary.user,
        published_at: NOW,
        withdrawn: None,
    };
    assert_refused!(
        branch,
        branch.publish(&member, NOW, item.clone()),
        OpError::Denied(_)
    );
    branch.publish(&secretary, NOW, item).unwrap();
    branch.validate().unwrap();
}

#[test]
fn the_ledger_is_for_admins_and_the_township_only() {
    let mut village = Village::new();
    let secretary = village.secretary.principal.clone();
    let migrant = village.member.principal.user;
    let entry = LedgerEntry {
        migrant: true,
        inflow: false,
        elderly: false,
        infirm: false,
        phone: "13800000000".into(),
        city: "广东东莞".into(),
        employer: "电子厂".into(),
        study_partner: Some(village.li.principal.user),
        contacts: Default::default(),
        updated_by: secretary.user,
        updated_at: NOW,
        withdrawn: None,
    };
    let ledger = &mut village.ledger;
    assert_refused!(
        ledger,
        ledger.set_entry(&village.li.principal, NOW, migrant, entry.clone()),
        OpError::Denied(_)
    );
    ledger.set_entry(&secretary, NOW, migrant, entry).unwrap();
    let contact = Contact {
        kind: ContactKind::Phone,
        at: NOW,
        by: secretary.user,
        notes: "电话询问近况".into(),
    };
    ledger
        .log_contact(&village.deputy.principal, later(1), migrant, contact)
        .unwrap();
    assert_eq!(ledger.entry(migrant).unwrap().contacts.len(), 1);

    assert!(!access::can_read(&village.li.principal, ledger.scope()));
    assert!(access::can_read(&village.township_admin, ledger.scope()));
    assert!(!access::can_write(&village.township_admin, ledger.scope()));
}

#[test]
fn the_township_supervises_and_the_branch_reads() {
    let mut village = Village::new();
    let township = village.township_admin.clone();
    let supervision = &mut village.supervision;
    let note = SupervisionNote {
        method: SupervisionMethod::Forum,
        at: NOW,
        by: township.user,
        body: "党群座谈:群众反映道路照明不足".into(),
        withdrawn: None,
    };
    assert_refused!(
        supervision,
        supervision.write_note(&village.secretary.principal, NOW, note.clone()),
        OpError::Invalid(Violation::OnlyAdvance { .. })
    );
    supervision.write_note(&township, NOW, note).unwrap();
    let problem = Problem {
        problem: "村道照明不足".into(),
        measure: "增设路灯".into(),
        deadline: "2026-12-31".parse().unwrap(),
        standard: "主干道夜间照明全覆盖".into(),
        owner: "王建国".into(),
        progress: Progress::default(),
        evidence: Vec::new(),
        created_by: township.user,
        created_at: NOW,
        withdrawn: None,
    };
    let id = supervision.raise_problem(&township, NOW, problem).unwrap();
    supervision
        .advance_problem(&township, later(1), id, ProgressStatus::Verified, None)
        .unwrap();
    assert_refused!(
        supervision,
        supervision.advance_problem(&township, later(2), id, ProgressStatus::Done, None),
        OpError::Invalid(Violation::Backward { .. })
    );
    supervision
        .assess(
            &township,
            NOW,
            Assessment {
                year: 2026,
                grade: Grade::Good,
                summary: "组织生活规范".into(),
                by: township.user,
                at: NOW,
                withdrawn: None,
            },
        )
        .unwrap();

    assert!(access::can_read(
        &village.secretary.principal,
        supervision.scope()
    ));
    assert!(!access::can_read(
        &village.li.principal,
        supervision.scope()
    ));
    // Another township's admin sees nothing of this branch.
    let mut foreign = township.clone();
    foreign.township = Some(TownshipId::generate().unwrap());
    assert!(!access::can_read(&foreign, supervision.scope()));
    assert!(!access::can_read(&foreign, village.branch.scope()));
}

#[test]
fn members_read_their_branch_and_never_another() {
    let village = Village::new();
    let li = &village.li.principal;
    assert!(access::can_read(li, village.branch.scope()));
    let other_branch = Scope {
        branch: BranchId::generate().unwrap(),
        ..*village.branch.scope()
    };
    assert!(!access::can_read(li, &other_branch));
    let other_notebook = village.notebook_scope(&village.member);
    assert!(!access::can_read(li, &other_notebook));
    assert!(access::can_read(
        &village.secretary.principal,
        &other_notebook
    ));
    let system = client_core::Principal {
        user: li.user,
        role: Role::SystemAdmin,
        branch: None,
        township: None,
    };
    assert!(!access::can_read(&system, &other_notebook));
}

#[test]
fn two_admins_planning_the_same_month_offline_keep_both_edits() {
    let village = Village::new();
    let october: Month = "2026-10".parse().unwrap();
    let secretary = &village.secretary.principal;
    let deputy = &village.deputy.principal;
    let mut phone_a = village.branch;
    let plan = Plan {
        lecture_topic: "学习二十大精神".into(),
        lecture_speaker: None,
        film_title: String::new(),
        practice: String::new(),
        theme_day: None,
        notes: Prose::from("十月计划"),
        created_by: secretary.user,
        created_at: NOW,
        withdrawn: None,
    };
    phone_a.set_plan(secretary, NOW, october, plan).unwrap();
    let saved = phone_a.document_mut().save();
    let mut phone_b = client_core::Branch::load(&saved, Default::default()).unwrap();

    let mut a_plan = phone_a.plan(october).unwrap();
    a_plan.film_title = "《初心》".into();
    a_plan.notes = Prose::from(
        "十月计划
书记:请各位准时参加",
    );
    phone_a
        .set_plan(secretary, later(1), october, a_plan)
        .unwrap();

    let mut b_plan = phone_b.plan(october).unwrap();
    b_plan.practice = "重阳慰问老人".into();
    b_plan.notes = Prose::from(
        "副书记:记得带慰问品
十月计划",
    );
    phone_b.set_plan(deputy, later(2), october, b_plan).unwrap();

    let mut b = phone_b.into_document();
    phone_a.document_mut().merge(&mut b).unwrap();
    let merged = phone_a.plan(october).unwrap();
    assert_eq!(merged.film_title, "《初心》");
    assert_eq!(merged.practice, "重阳慰问老人");
    assert!(merged.notes.as_str().contains("书记:请各位准时参加"));
    assert!(merged.notes.as_str().contains("副书记:记得带慰问品"));
    phone_a.validate().unwrap();
}

#[test]
fn every_admin_operation_is_refused_to_a_member_and_changes_nothing() {
    let mut village = Village::new();
    let member = village.li.principal.clone();
    let secretary = village.secretary.principal.clone();
    let id = RecordId::generate(NOW).unwrap();
    let branch = &mut village.branch;
    let entry = client_core::model::branch::RosterEntry {
        name: "彭军".into(),
        role: client_core::model::branch::BranchRole::Member,
        notebook: DocumentId::generate().unwrap(),
        joined_at: NOW,
        left_at: None,
        silver: false,
        lecturer: false,
    };
    assert_refused!(
        branch,
        branch.enrol_member(&member, NOW, member.user, entry),
        OpError::Denied(_)
    );
    let schedule = ScheduleEntry {
        date: Date {
            year: 2026,
            month: 11,
            day: 5,
        },
        speaker: Some(member.user),
        guest_speaker: None,
        topic: "自荐讲课".into(),
        venue: client_core::model::notebook::Venue::Field,
        created_by: member.user,
        withdrawn: None,
    };
    assert_refused!(
        branch,
        branch.schedule_lecture(&member, NOW, schedule),
        OpError::Denied(_)
    );
    let screening = Screening {
        film: "《初心》".into(),
        held_at: NOW,
        place: String::new(),
        attendees: vec![],
        audience: 0,
        discussion: String::new(),
        media: Vec::new(),
        plan: None,
        recorded_by: member.user,
        created_at: NOW,
        withdrawn: None,
    };
    assert_refused!(
        branch,
        branch.record_screening(&member, NOW, screening),
        OpError::Denied(_)
    );
    let election = Election {
        title: "十佳党课".into(),
        candidates: vec![Candidate {
            id,
            label: "党课".into(),
            member: None,
        }],
        max_choices: 1,
        opens_at: NOW,
        closes_at: later(60),
        created_by: member.user,
        created_at: NOW,
        result: None,
        withdrawn: None,
    };
    assert_refused!(
        branch,
        branch.create_election(&member, NOW, election.clone()),
        OpError::Denied(_)
    );
    let election_id = branch.create_election(&secretary, NOW, election).unwrap();
    assert_refused!(
        branch,
        branch.count_election(&member, later(61), election_id, &[]),
        OpError::Denied(_)
    );
    assert_refused!(
        branch,
        branch.advance_rectification(&member, NOW, id, ProgressStatus::Done, None),
        OpError::NotFound { .. } | OpError::Denied(_)
    );
    assert_refused!(
        branch,
        branch.withdraw::<Election>(&member, NOW, election_id, None),
        OpError::Denied(_)
    );

    let ledger = &mut village.ledger;
    assert_refused!(
        ledger,
        ledger.log_contact(
            &member,
            NOW,
            member.user,
            Contact {
                kind: ContactKind::Visit,
                at: NOW,
                by: member.user,
                notes: String::new()
            }
        ),
        OpError::NotFound { .. } | OpError::Denied(_)
    );

    // The branch's admins read the supervision document and answer its problems, but write
    // nothing else there.
    let supervision = &mut village.supervision;
    let problem = Problem {
        problem: "资料不全".into(),
        measure: String::new(),
        deadline: "2026-12-01".parse().unwrap(),
        standard: String::new(),
        owner: String::new(),
        progress: Progress::default(),
        evidence: Vec::new(),
        created_by: secretary.user,
        created_at: NOW,
        withdrawn: None,
    };
    assert_refused!(
        supervision,
        supervision.raise_problem(&secretary, NOW, problem.clone()),
        OpError::Invalid(Violation::OnlyAdvance { .. })
    );
    let problem_id = supervision
        .raise_problem(&village.township_admin, NOW, problem)
        .unwrap();
    assert_refused!(
        supervision,
        supervision.advance_problem(&secretary, NOW, problem_id, ProgressStatus::Verified, None),
        OpError::Invalid(Violation::StepNotPermitted { .. })
    );
    let assessment = Assessment {
        year: 2026,
        grade: Grade::Excellent,
        summary: "自评".into(),
        by: secretary.user,
        at: NOW,
        withdrawn: None,
    };
    assert_refused!(
        supervision,
        supervision.assess(&secretary, NOW, assessment),
        OpError::Invalid(Violation::OnlyAdvance { .. })
    );
}

#[test]
fn the_township_verifies_the_branchs_rectifications_and_the_branch_answers_the_townships_problems()
{
    let mut village = Village::new();
    let secretary = village.secretary.principal.clone();
    let township = village.township_admin.clone();
    let photo = |n: u8| MediaRef {
        sha256: format!("{n:02x}").repeat(32),
        size: 1_000,
        media_type: "image/jpeg".into(),
        duration_ms: None,
        caption: None,
    };

    // The branch's own rectification: the branch works on it, the township verifies it and
    // may touch nothing else in the branch document.
    let branch = &mut village.branch;
    let rectification = Rectification {
        problem: "五保户张大爷屋顶漏雨".into(),
        measure: "组织党员修缮".into(),
        deadline: "2026-12-20".parse().unwrap(),
        standard: "雨天不漏".into(),
        responsible: Some(village.li.principal.user),
        from_visit: None,
        from_supervision: None,
        progress: Progress::default(),
        evidence: Vec::new(),
        created_by: secretary.user,
        created_at: NOW,
        withdrawn: None,
    };
    assert_refused!(
        branch,
        branch.open_rectification(&township, NOW, rectification.clone()),
        OpError::Invalid(Violation::OnlyAdvance { .. })
    );
    let id = branch
        .open_rectification(&secretary, NOW, rectification)
        .unwrap();
    assert_refused!(
        branch,
        branch.advance_rectification(&township, later(1), id, ProgressStatus::Done, None),
        OpError::Invalid(Violation::StepNotPermitted { .. })
    );
    branch
        .edit::<Rectification>(&secretary, later(2), id, |r| r.evidence.push(photo(1)))
        .unwrap();
    branch
        .advance_rectification(&secretary, later(3), id, ProgressStatus::Done, None)
        .unwrap();
    assert_refused!(
        branch,
        branch.edit::<Rectification>(&township, later(4), id, |r| r.measure = "改了".into()),
        OpError::Invalid(Violation::OnlyAdvance { .. })
    );
    assert_refused!(
        branch,
        branch.edit::<Rectification>(&township, later(4), id, |r| r.evidence.clear()),
        OpError::Invalid(Violation::OnlyAdvance { .. })
    );
    assert_refused!(
        branch,
        branch.set_plan(
            &township,
            later(4),
            "2026-12".parse().unwrap(),
            Plan {
                lecture_topic: "乡镇代定".into(),
                lecture_speaker: None,
                film_title: String::new(),
                practice: String::new(),
                theme_day: None,
                notes: Prose::default(),
                created_by: township.user,
                created_at: NOW,
                withdrawn: None,
            }
        ),
        OpError::Invalid(Violation::OnlyAdvance { .. })
    );
    branch
        .advance_rectification(
            &township,
            later(5),
            id,
            ProgressStatus::Verified,
            Some("已验收".into()),
        )
        .unwrap();
    let verified: Rectification = branch.require(&id.to_string()).unwrap();
    assert_eq!(verified.progress.verified.unwrap().by, township.user);

    // The township's problem: the branch moves it on and adds evidence; only the township
    // verifies it.
    let supervision = &mut village.supervision;
    let problem = Problem {
        problem: "党员活动室资料归档不规范".into(),
        measure: "按月整理三会一课记录".into(),
        deadline: "2026-12-31".parse().unwrap(),
        standard: "资料齐全".into(),
        owner: "赵杰辉".into(),
        progress: Progress::default(),
        evidence: Vec::new(),
        created_by: township.user,
        created_at: NOW,
        withdrawn: None,
    };
    let id = supervision.raise_problem(&township, NOW, problem).unwrap();
    supervision
        .advance_problem(&secretary, later(1), id, ProgressStatus::InProgress, None)
        .unwrap();
    supervision
        .document_mut()
        .edit::<Problem>(&secretary, later(2), id, |p| p.evidence.push(photo(2)))
        .unwrap();
    supervision
        .advance_problem(
            &secretary,
            later(3),
            id,
            ProgressStatus::Done,
            Some("已整理".into()),
        )
        .unwrap();
    for edit in [
        (|p: &mut Problem| p.deadline = "2027-06-30".parse().unwrap()) as fn(&mut Problem),
        |p| p.evidence.clear(),
    ] {
        assert_refused!(
            supervision,
            supervision
                .document_mut()
                .edit::<Problem>(&secretary, later(4), id, edit),
            OpError::Invalid(Violation::OnlyAdvance { .. })
        );
    }
    assert_refused!(
        supervision,
        supervision
            .document_mut()
            .withdraw::<Problem>(&secretary, later(4), id, None),
        OpError::Invalid(Violation::OnlyAdvance { .. })
    );
    assert_refused!(
        supervision,
        supervision.advance_problem(&secretary, later(5), id, ProgressStatus::Verified, None),
        OpError::Invalid(Violation::StepNotPermitted { .. })
    );
    supervision
        .advance_problem(&township, later(6), id, ProgressStatus::Verified, None)
        .unwrap();
    supervision.validate().unwrap();
    village.branch.validate().unwrap();
}

#[test]
fn a_member_writes_only_his_own_pledges_and_services() {
    let village = Village::new();
    let mut notebook = village.notebook_of(&village.li);
    let other = &village.member.principal;
    let pledge = Pledge {
        year: 2026,
        member: other.user,
        commitments: vec!["带头致富".into()],
        created_at: NOW,
        withdrawn: None,
    };
    assert_refused!(
        notebook,
        notebook.make_pledge(other, NOW, pledge),
        OpError::Denied(_)
    );
    let service = Service {
        kind: ServiceKind::Clinic,
        title: "义诊".into(),
        held_at: NOW,
        hours: 2.0,
        participants: vec![other.user],
        beneficiaries: 40,
        place: String::new(),
        notes: String::new(),
        media: vec![],
        plan: None,
        recorded_by: other.user,
        submission: Submission::draft(),
        created_at: NOW,
        withdrawn: None,
    };
    assert_refused!(
        notebook,
        notebook.record_service(other, NOW, service),
        OpError::Denied(_)
    );
    let id = RecordId::generate(NOW).unwrap();
    assert_refused!(
        notebook,
        notebook.submit::<Lecture>(&village.li.principal, NOW, id),
        OpError::NotFound { .. }
    );
}
