//! One truth for the monthly plan: random months of a branch's organisational life (records
//! linked to the plan or not, held in the month or beside it, approved, returned, edited and
//! re-submitted, withdrawn; screenings; themed party days) are written as phones would write
//! them, approvals marked fine examples and published to the feed (and taken off it again) at
//! random. Then a member's phone (which holds the branch document only), the secretary's phone
//! and the server's SQL must show the same standing on every month's plan and the same
//! figures for every month and year, and no part of a plan may show done while the month's
//! figure behind it is nothing. The review standing the server keeps of each record must say
//! what each member's phone says of his records (`my_submissions`), and all of it must hold
//! again once every projection is rebuilt from the documents.

use std::time::Duration;

use client_core::model::branch::{Decision, FeedItem, Meeting, MeetingKind, Plan, Screening};
use client_core::model::common::{Prose, RecordRef, Submission};
use client_core::model::notebook::{Lecture, LectureCategory, Service, ServiceKind, Venue};
use client_core::ops::{Record, ReviewDecision, Reviewable};
use client_core::views::{self, PlanStanding, ReviewState};
use client_core::{
    Branch, DocumentId, Limits, Millis, Month, Notebook, Period, Principal, RecordId, schema,
};
use tianjian_server::store::{Count, Scope, Store};
use tianjian_server::writer::{WriteError, Writer};
use tianjian_tests::TestServer;
use tianjian_tests::device::Device;
use tianjian_tests::fixture::{Database, NOW, database, open, token};

const LIMIT: Duration = Duration::from_secs(30);
/// Random months, from January 2026 on.
const MONTHS: u32 = 24;
const DAY: i64 = 86_400_000;

/// A small deterministic generator, so that a failing history replays exactly.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % sides
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.roll(100) < percent
    }
}

/// What becomes of a member's record after it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Draft,
    Pending,
    Returned,
    Approved,
    /// Approved, then edited by its member: a draft again.
    EditedAfterApproval,
    /// Approved, edited and submitted again; the new revision not yet reviewed.
    ResubmittedAfterApproval,
    /// Approved, edited, submitted again, and the new revision returned.
    ReturnedAfterApproval,
    /// Approved, then withdrawn by its member.
    WithdrawnAfterApproval,
    /// Approved, withdrawn, and the approval taken back by the secretary.
    WithdrawalConfirmed,
}

const FATES: [Fate; 9] = [
    Fate::Draft,
    Fate::Pending,
    Fate::Returned,
    Fate::Approved,
    Fate::EditedAfterApproval,
    Fate::ResubmittedAfterApproval,
    Fate::ReturnedAfterApproval,
    Fate::WithdrawnAfterApproval,
    Fate::WithdrawalConfirmed,
];

/// 合益村 as its people write it, one write a minute after the other.
struct Village<'a> {
    store: &'a Store,
    clock: Millis,
    branch: DocumentId,
    secretary: Principal,
    /// Whether an approval marks a fine example and the record goes to the feed: a stream of
    /// its own, so that the histories of records stay as they were.
    marks: Dice,
}

impl<'a> Village<'a> {
    fn writer(&mut self) -> Writer<'a> {
        self.clock = Millis(self.clock.0 + 60_000);
        Writer::new(self.store, self.clock)
    }

    async fn review<T: Reviewable>(
        &mut self,
        record: RecordRef,
        revision: i64,
        decision: Decision,
    ) {
        let decision = ReviewDecision {
            record,
            revision,
            decision,
            comment: match decision {
                Decision::Approved => String::new(),
                Decision::Returned => "请补充".into(),
            },
            publish: false,
            fine_example: decision == Decision::Approved && self.marks.chance(30),
        };
        let secretary = self.secretary.clone();
        self.writer()
            .review::<T>(self.branch, &secretary, decision.clone())
            .await
            .unwrap();
        if decision.decision == Decision::Approved && self.marks.chance(40) {
            let fine = self.marks.chance(50);
            let unpublish = self.marks.chance(25);
            let w = self.writer();
            let read: T = w.record(record.notebook, record.id).await.unwrap();
            w.branch(self.branch, &secretary, |b| {
                let item = b.publish_record(&secretary, w.now(), record, &read, fine)?;
                if unpublish {
                    b.withdraw::<FeedItem>(&secretary, w.now(), item, None)?;
                }
                Ok::<_, WriteError>(())
            })
            .await
            .unwrap();
        }
    }

    /// Runs `change` on `who`'s notebook.
    async fn as_member(
        &mut self,
        who: &Principal,
        notebook: DocumentId,
        change: impl FnOnce(&mut Notebook, Millis) -> Result<(), WriteError>,
    ) {
        let w = self.writer();
        w.notebook(notebook, who, |n| change(n, w.now()))
            .await
            .unwrap();
    }

    /// Writes `record` into `who`'s notebook and lets `fate` befall it; `edit` is what its
    /// member changes when he edits it after approval.
    async fn member_record<T: Reviewable>(
        &mut self,
        who: &Principal,
        notebook: DocumentId,
        record: T,
        fate: Fate,
        edit: fn(&mut T),
    ) {
        let w = self.writer();
        let id: RecordId = w
            .notebook(notebook, who, |n| {
                let id = n.document_mut().add(who, w.now(), record)?;
                if fate != Fate::Draft {
                    n.submit::<T>(who, w.now(), id)?;
                }
                Ok::<_, WriteError>(id)
            })
            .await
            .unwrap();
        let reference = RecordRef {
            notebook,
            kind: T::KIND,
            id,
        };
        match fate {
            Fate::Draft | Fate::Pending => return,
            Fate::Returned => return self.review::<T>(reference, 1, Decision::Returned).await,
            _ => self.review::<T>(reference, 1, Decision::Approved).await,
        }
        if matches!(
            fate,
            Fate::EditedAfterApproval
                | Fate::ResubmittedAfterApproval
                | Fate::ReturnedAfterApproval
        ) {
            self.as_member(who, notebook, |n, at| {
                Ok(n.edit_record::<T>(who, at, id, edit)?)
            })
            .await;
        }
        if matches!(
            fate,
            Fate::ResubmittedAfterApproval | Fate::ReturnedAfterApproval
        ) {
            self.as_member(who, notebook, |n, at| {
                n.submit::<T>(who, at, id)?;
                Ok(())
            })
            .await;
        }
        if fate == Fate::ReturnedAfterApproval {
            self.review::<T>(reference, 2, Decision::Returned).await;
        }
        if matches!(
            fate,
            Fate::WithdrawnAfterApproval | Fate::WithdrawalConfirmed
        ) {
            self.as_member(who, notebook, |n, at| {
                Ok(n.withdraw::<T>(who, at, id, Some("记错了".into()))?)
            })
            .await;
        }
        if fate == Fate::WithdrawalConfirmed {
            self.review::<T>(reference, 1, Decision::Returned).await;
        }
    }

    /// The secretary records `record` in the branch document, and withdraws it again if
    /// `withdraw`.
    async fn branch_record<T: Record>(&mut self, record: T, withdraw: bool) {
        self.as_secretary(|b, by, at| {
            let id = b.document_mut().add(by, at, record)?;
            if withdraw {
                b.withdraw::<T>(by, at, id, None)?;
            }
            Ok(())
        })
        .await;
    }

    /// Writes to the branch document as the secretary.
    async fn as_secretary(
        &mut self,
        change: impl FnOnce(&mut Branch, &Principal, Millis) -> Result<(), WriteError>,
    ) {
        let secretary = self.secretary.clone();
        let w = self.writer();
        w.branch(self.branch, &secretary, |b| change(b, &secretary, w.now()))
            .await
            .unwrap();
    }
}

fn month(index: u32) -> Month {
    Month {
        year: 2026 + i32::try_from(index / 12).unwrap(),
        month: u8::try_from(index % 12 + 1).unwrap(),
    }
}

/// A time in `month`, or (one time in five) just before or after it.
fn time_around(dice: &mut Dice, month: Month) -> Millis {
    let start = month.first_day().cst_start().0;
    let end = month.next().first_day().cst_start().0;
    match dice.roll(10) {
        0 => Millis(start - 1 - i64::try_from(dice.roll(3 * DAY as u64)).unwrap()),
        1 => Millis(end + i64::try_from(dice.roll(3 * DAY as u64)).unwrap()),
        // The first and last instants of the month are the edges that matter.
        2 => Millis(start),
        3 => Millis(end - 1),
        _ => Millis(start + i64::try_from(dice.roll(u64::try_from(end - start).unwrap())).unwrap()),
    }
}

/// The plan a record names: this month's (usually), another's, or none.
fn linked(dice: &mut Dice, month: Month) -> Option<Month> {
    match dice.roll(6) {
        0 => None,
        1 => Some(month.next()),
        _ => Some(month),
    }
}

/// Writes a random month of the branch's life.
async fn write_month(
    v: &mut Village<'_>,
    dice: &mut Dice,
    month: Month,
    people: &[(Principal, DocumentId)],
) {
    let secretary = v.secretary.user;
    if dice.chance(85) {
        let plan = Plan {
            lecture_topic: "学习贯彻党的二十大精神".into(),
            lecture_speaker: None,
            film_title: "《榜样9》".into(),
            practice: "秸秆禁烧巡逻".into(),
            theme_day: None,
            notes: Prose::default(),
            created_by: secretary,
            created_at: NOW,
            withdrawn: None,
        };
        v.as_secretary(|b, by, at| Ok(b.set_plan(by, at, month, plan)?))
            .await;
    }
    let everyone: Vec<_> = people.iter().map(|(p, _)| p.user).collect();
    for _ in 0..dice.roll(4) {
        let (who, notebook) = &people[usize::try_from(dice.roll(people.len() as u64)).unwrap()];
        let fate = FATES[usize::try_from(dice.roll(FATES.len() as u64)).unwrap()];
        let attendees: Vec<_> = everyone
            .iter()
            .copied()
            .filter(|_| dice.chance(50))
            .collect();
        let lecture = Lecture {
            title: format!("{month} 微党课"),
            category: LectureCategory::PoliticalTheory,
            venue: Venue::Courtyard,
            held_at: time_around(dice, month),
            duration_min: 30,
            place: "屋场坪".into(),
            gps: None,
            speakers: vec![who.user],
            guest_speaker: None,
            recorded_by: who.user,
            attendees,
            audience: i64::try_from(dice.roll(3) * 10).unwrap(),
            summary: String::new(),
            media: Vec::new(),
            plan: linked(dice, month),
            submission: Submission::draft(),
            created_at: NOW,
            withdrawn: None,
        };
        // An edit after approval may move the lecture to another month, or off the plan.
        v.member_record(who, *notebook, lecture, fate, |l| {
            l.held_at = Millis(l.held_at.0 + 20 * DAY);
            l.plan = None;
            l.audience += 5;
        })
        .await;
    }
    for _ in 0..dice.roll(6) {
        let (who, notebook) = &people[usize::try_from(dice.roll(people.len() as u64)).unwrap()];
        let fate = FATES[usize::try_from(dice.roll(FATES.len() as u64)).unwrap()];
        let participants: Vec<_> = everyone
            .iter()
            .copied()
            .filter(|_| dice.chance(60))
            .collect();
        let service = Service {
            kind: ServiceKind::Patrol,
            title: "秸秆禁烧巡逻".into(),
            held_at: time_around(dice, month),
            // No hours one time in four: the practice must not be done by it.
            hours: [0.0, 1.5, 2.0, 3.5][usize::try_from(dice.roll(4)).unwrap()],
            participants,
            beneficiaries: 0,
            place: "合益村".into(),
            notes: String::new(),
            media: Vec::new(),
            plan: linked(dice, month),
            recorded_by: who.user,
            submission: Submission::draft(),
            created_at: NOW,
            withdrawn: None,
        };
        // Service with no hours or nobody cannot be sent for review (rules version 2): the
        // phone keeps it as a draft, which counts for nothing either.
        let fate = if service.hours > 0.0 && !service.participants.is_empty() {
            fate
        } else {
            Fate::Draft
        };
        v.member_record(who, *notebook, service, fate, |s| {
            s.hours = 0.5;
            s.participants.truncate(1);
        })
        .await;
    }
    for _ in 0..dice.roll(3) {
        let screening = Screening {
            film: "《榜样9》".into(),
            held_at: time_around(dice, month),
            place: "党员活动室".into(),
            attendees: vec![secretary],
            audience: 12,
            discussion: String::new(),
            media: Vec::new(),
            plan: linked(dice, month),
            recorded_by: secretary,
            created_at: NOW,
            withdrawn: None,
        };
        v.branch_record(screening, dice.chance(20)).await;
    }
    for _ in 0..dice.roll(3) {
        let kind = if dice.chance(60) {
            MeetingKind::ThemeDay
        } else {
            MeetingKind::PartyLecture
        };
        let meeting = Meeting {
            kind,
            held_at: time_around(dice, month),
            attendees: vec![secretary],
            agenda: "主题党日".into(),
            minutes: Prose::default(),
            decisions: Vec::new(),
            plan: linked(dice, month),
            recorded_by: secretary,
            created_at: NOW,
            withdrawn: None,
        };
        v.branch_record(meeting, dice.chance(20)).await;
    }
}

/// The standing a phone shows for `month`, from the branch document it holds.
fn on_phone(branch: &Branch, month: Month) -> (bool, PlanStanding) {
    match views::plan_progress(branch, month) {
        Some(progress) => (true, progress.standing),
        None => (false, PlanStanding::default()),
    }
}

/// The branch document as a phone of `who` holds it once synced with the server.
async fn synced(server: &TestServer, db: &Database, who: &Principal, name: &str) -> Branch {
    let expected = Branch::load(
        &db.store.load_document(db.v.branch).await.unwrap().unwrap(),
        Limits::default(),
    )
    .unwrap()
    .heads();
    let mut phone = Device::new(name);
    phone
        .connect(server.addr, &token(&db.keys, who))
        .await
        .unwrap();
    phone.open(db.v.branch).await.unwrap();
    let branch = db.v.branch;
    let arrived = phone
        .sync_until(LIMIT, |d| {
            let heads = d.document(branch).map(|doc| doc.get_heads());
            let done = heads.is_some_and(|h| h == expected);
            async move { done }
        })
        .await
        .unwrap();
    assert!(arrived, "{name} received the branch document");
    Branch::load(&phone.document(branch).unwrap().save(), Limits::default()).unwrap()
}

#[tokio::test]
async fn a_members_phone_the_secretarys_and_the_server_agree_on_every_months_plan() {
    let db = database().await;
    let people: Vec<(Principal, DocumentId)> = {
        let deputy = db
            .store
            .notebook_in(db.v.deputy.user, db.v.heyi)
            .await
            .unwrap()
            .unwrap();
        vec![
            (db.v.li.clone(), db.v.notebook),
            (db.v.deputy.clone(), deputy),
        ]
    };
    let mut village = Village {
        store: &db.store,
        clock: NOW,
        branch: db.v.branch,
        secretary: db.v.secretary.clone(),
        marks: Dice(0xf1e_e4a3),
    };
    let mut dice = Dice(0x5eed_2026_1205);
    for index in 0..MONTHS {
        write_month(&mut village, &mut dice, month(index), &people).await;
    }

    let server = TestServer::start_with(open(&db.store).await).await.unwrap();
    let members_phone = synced(&server, &db, &db.v.li, "li-phone").await;
    let secretarys_phone = synced(&server, &db, &db.v.secretary, "secretary-phone").await;
    let phones = [&members_phone, &secretarys_phone];
    let done_somewhere = agree(&db, phones, &people, "as written").await;
    // The history is varied enough that every part is done in some months and not in others.
    for count in done_somewhere {
        assert!(count > 0 && count < MONTHS as usize, "{done_somewhere:?}");
    }
    tianjian_server::admin::rebuild_projections(&db.store)
        .await
        .unwrap();
    agree(&db, phones, &people, "rebuilt").await;
}

/// Checks that the phones and the server agree on every month's plan and figures, every
/// year's figures, and each member's records' review standing; returns in how many months
/// each part of the plan (lecture, film, practice, themed party day) was done.
async fn agree(
    db: &Database,
    [members_phone, secretarys_phone]: [&Branch; 2],
    people: &[(Principal, DocumentId)],
    when: &str,
) -> [usize; 4] {
    let scope = Scope {
        branches: vec![db.v.heyi],
    };
    let today = tianjian_server::now().cst_date();
    let figures_of = |period: std::ops::Range<Millis>| {
        let scope = scope.clone();
        async move {
            let counted = db
                .store
                .figures(Count {
                    scope,
                    period,
                    today,
                })
                .await
                .unwrap();
            counted.branches[&db.v.heyi].figures.clone()
        }
    };
    let mut done_somewhere = [0; 4];
    for index in 0..MONTHS {
        let month = month(index);
        let sql = db.store.plan_standing(scope.clone(), month).await.unwrap()[&db.v.heyi];
        let phone = on_phone(members_phone, month);
        assert_eq!(phone, on_phone(secretarys_phone, month), "{month}, {when}");
        assert_eq!((sql.planned, sql.standing), phone, "{month}, {when}");

        // The month's figures, on the phone and the server, and what stands behind each part.
        let range = month.first_day().cst_start()..month.next().first_day().cst_start();
        let figures = views::figures(members_phone, range.start, range.end, today);
        assert_eq!(figures_of(range).await, figures, "{month}, {when}");
        let standing = phone.1;
        assert!(!standing.lecture_done || figures.lectures > 0, "{month}");
        assert!(!standing.film_done || figures.screenings > 0, "{month}");
        assert!(
            !standing.practice_done || (figures.services > 0 && figures.volunteer_hours > 0.0),
            "{month}"
        );
        for (count, done) in done_somewhere.iter_mut().zip([
            standing.lecture_done,
            standing.film_done,
            standing.practice_done,
            standing.theme_day_held,
        ]) {
            *count += usize::from(done);
        }
    }
    for year in [2026, 2027] {
        let range = Period::Year(year).range();
        let figures = views::figures(members_phone, range.start, range.end, today);
        assert!(figures.lectures > 0, "{year}");
        assert_eq!(figures_of(range).await, figures, "{year}, {when}");
    }

    // Each member's records as his phone shows them, against the standing the server keeps.
    let (mut counted, mut fine, mut published) = (0, 0, 0);
    for (_, notebook_id) in people {
        let bytes = db.store.load_document(*notebook_id).await.unwrap().unwrap();
        let notebook = Notebook::load(&bytes, Limits::default()).unwrap();
        let kept = db.store.standings(db.v.branch, *notebook_id).await.unwrap();
        for view in views::my_submissions(&notebook, *notebook_id, members_phone) {
            let record = view.record;
            let standing = kept.iter().find(|s| {
                s.notebook == record.notebook.to_string()
                    && s.collection == schema::reviewable(record.kind).name
                    && s.key == record.id.to_string()
            });
            let what = format!("{record:?} ({view:?}, {standing:?}), {when}");
            let approved = standing.is_some_and(|s| s.decision == "approved");
            assert_eq!(view.counted, approved, "{what}");
            assert_eq!(
                view.fine_example,
                standing.is_some_and(|s| s.fine_example),
                "{what}"
            );
            assert_eq!(
                view.published,
                standing.is_some_and(|s| s.published),
                "{what}"
            );
            let of_this_revision = standing.filter(|s| s.revision == Some(view.revision));
            match view.review {
                ReviewState::Approved { .. } => {
                    assert_eq!(
                        of_this_revision.map(|s| s.decision.as_str()),
                        Some("approved"),
                        "{what}"
                    );
                }
                ReviewState::Returned { .. } => {
                    assert_eq!(
                        of_this_revision.map(|s| s.decision.as_str()),
                        Some("returned"),
                        "{what}"
                    );
                }
                ReviewState::Pending => assert!(of_this_revision.is_none(), "{what}"),
                ReviewState::Draft => {}
            }
            counted += usize::from(view.counted);
            fine += usize::from(view.fine_example);
            published += usize::from(view.published);
        }
    }
    // The marks are varied enough to be told apart.
    assert!(
        counted > fine && fine > 0 && published > 0,
        "{counted} {fine} {published}"
    );
    done_somewhere
}
