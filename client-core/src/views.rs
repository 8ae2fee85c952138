//! Read-only views of a branch's organisational life, computed from its documents: the review
//! queue an admin works through, a member's own submissions and how their reviews stand, the
//! branch feed and pledge wall, how far a month's plan has been carried out, and the figures
//! the branch reports upward.
//!
//! The module owns one rule every view shares: when a member's record counts as approved
//! (`Reviews::judge`). It does no IO and reads no clock: callers pass the month, the period
//! or today's date. A view is only as complete as the notebooks it is given (an admin's device
//! passes the members' notebooks it has synced). No view ranks people: figures are totals for
//! the branch, because point quotas and leaderboards breed resentment.

mod pledges;

pub use pledges::{CollectedPledge, Member, Pledges, WallPledge, WallState, pledge_wall, pledges};

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use automerge::{Automerge, ObjId, ReadDoc};
use autosurgeon::Hydrate;
use serde::{Deserialize, Serialize};

use crate::document::Document;
use crate::ids::{DocumentId, RecordId, UserId};
use crate::model::branch::{
    Counted, Decision, FeedItem, Meeting, MeetingKind, Plan, Rectification, Review, RosterEntry,
    ScheduleEntry, Screening,
};
use crate::model::common::{
    ProgressStatus, RecordRef, ReviewableKind, Submission, SubmissionState,
};
use crate::model::ledger::LedgerEntry;
use crate::model::notebook::{Lecture, Service, Visit};
use crate::ops::{Branch, Ledger, Notebook, Record, Reviewable};
use crate::schema::{self, Collection};
use crate::time::{Date, Millis, Month};
use crate::validate;

/// Where a member's record stands in review.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReviewState {
    /// Still being written, or edited since it was last submitted.
    Draft,
    /// Submitted, and no admin has reviewed this revision yet.
    Pending,
    /// Approved, with whatever the admin said of it.
    Approved { comment: String },
    /// Sent back to the member, with the admin's reason.
    Returned { comment: String },
}

/// A submitted record waiting for an admin's review.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueItem {
    /// Where the record is; its `kind` tells a lecture from a service or a visit.
    pub record: RecordRef,
    /// The lecture's or service's title, or the household visited.
    pub title: String,
    /// Who recorded it: the owner of the notebook it is in.
    pub author: UserId,
    /// When the lecture or service was held, or the visit made.
    pub at: Millis,
    /// The revision a review of it must name.
    pub revision: i64,
    pub submitted_at: Option<Millis>,
    /// Its member withdrew it after an admin approved it: it counts until an admin takes the
    /// approval back (a return of that revision).
    pub withdrawn: bool,
}

/// One of a member's own records, with how its review stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubmissionView {
    pub record: RecordRef,
    /// The lecture's or service's title, or the household visited.
    pub title: String,
    /// When the lecture or service was held, or the visit made.
    pub at: Millis,
    pub revision: i64,
    pub submitted_at: Option<Millis>,
    /// Serialised flat, as `state` (and `comment` when returned).
    #[serde(flatten)]
    pub review: ReviewState,
    /// In the branch feed for every member to see.
    pub published: bool,
    /// Marked as a fine example (精品), by the approval that stands or in the feed.
    pub fine_example: bool,
    /// An approved revision of it counts in the branch's figures: the current one, or the
    /// one approved before the member edited it again (until the new one is reviewed).
    pub counted: bool,
}

/// How far a month's plan (一月一课一片一实践) has been carried out, from the branch document
/// alone, so that every member's phone, the secretary's and the server agree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanProgress {
    pub month: Month,
    pub plan: Plan,
    #[serde(flatten)]
    pub standing: PlanStanding,
    /// The records that carry out each part.
    pub carried_out: CarriedOut,
}

/// Which parts of a month's plan are done (the rule is `plan_progress`'s).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStanding {
    /// 一课: an approved lecture linked to the plan and held in its month.
    pub lecture_done: bool,
    /// 一片: a screening linked to the plan and held in its month.
    pub film_done: bool,
    /// 一实践: an approved volunteer service linked to the plan, held in its month, with
    /// participants and hours.
    pub practice_done: bool,
    /// A themed party day meeting held in the month.
    pub theme_day_held: bool,
    /// The lecture, the film and the practice are all done: the plan's "一课一片一实践". The
    /// themed party day is reported on its own, since the township follows it separately.
    pub complete: bool,
}

/// The records that carry out each part of a month's plan, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CarriedOut {
    pub lecture: Vec<PlanRecord>,
    pub film: Vec<PlanRecord>,
    pub practice: Vec<PlanRecord>,
    pub theme_day: Vec<PlanRecord>,
}

/// A record that carries out a part of a plan: a member's approved record (named by the
/// review that approved it) or a screening or meeting of the branch document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanRecord {
    /// `lectures`, `services`, `screenings` or `meetings`.
    pub collection: &'static str,
    pub id: RecordId,
    /// The member's notebook, for a lecture or a service.
    pub notebook: Option<DocumentId>,
    pub title: String,
    pub at: Millis,
}

/// The figures of one branch over a period, counted from approved records only.
///
/// `lecturers` lectured to an `audience` of `member_attendances + villagers`: the seeds'
/// "N members have given lectures to an audience of M" counts everyone present, members and
/// villagers (群众) alike, so `audience` is that sum and the two parts are kept for drill-down.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub lectures: u64,
    /// Lectures by category (`political_theory`, …) and by venue (`field`, `courtyard`, …),
    /// each choice that occurs at least once.
    pub lectures_by_category: BTreeMap<String, u64>,
    pub lectures_by_venue: BTreeMap<String, u64>,
    /// Distinct members who spoke; a guest speaker who is not a member is not counted.
    pub lecturers: u64,
    /// Members present at the lectures, summed over lectures. A member ticked twice on one
    /// lecture (two of the speaker's phones, offline) was there once.
    pub member_attendances: u64,
    /// Villagers present at the lectures, summed over lectures.
    pub villagers: u64,
    pub audience: u64,
    pub services: u64,
    /// Participants in volunteer services, summed over services (each once per service).
    pub volunteer_participants: u64,
    /// Hours served, each participant's hours counted.
    pub volunteer_hours: f64,
    /// Distinct households visited.
    pub households_visited: u64,
    /// Film screenings: recorded by admins in the branch document, so they need no review.
    pub screenings: u64,
    /// Rectifications not yet done, whatever the period: the list stands as of `today`.
    pub rectifications_open: u64,
    /// Rectifications not yet done whose deadline is before `today`.
    pub rectifications_overdue: u64,
    /// Rectifications done and awaiting verification.
    pub rectifications_done: u64,
    pub rectifications_verified: u64,
}

/// What waits for an admin, oldest submission first: every submitted, non-withdrawn lecture,
/// service and visit in the notebooks of the branch's members that no admin has reviewed in
/// its current revision, and every approved one its member has since withdrawn.
pub fn review_queue(branch: &Branch, notebooks: &[&Notebook]) -> Vec<QueueItem> {
    let records = Records::on_roster(branch, notebooks);
    let mut pending: Vec<Listed> = listed(records.pending::<Lecture>());
    pending.extend(listed(records.pending::<Service>()));
    pending.extend(listed(records.pending::<Visit>()));
    let mut queue: Vec<QueueItem> = pending
        .into_iter()
        .map(|entry| QueueItem {
            record: entry.reference,
            title: entry.title,
            author: entry.author,
            at: entry.at,
            revision: entry.submission.revision,
            submitted_at: entry.submission.submitted_at,
            withdrawn: false,
        })
        .collect();
    queue.extend(
        records
            .withdrawn_while_counted()
            .into_iter()
            .map(|(entry, revision)| QueueItem {
                record: entry.reference,
                title: entry.title,
                author: entry.author,
                at: entry.at,
                revision,
                submitted_at: entry.submission.submitted_at,
                withdrawn: true,
            }),
    );
    // The record id breaks ties so that every device shows the same order.
    queue.sort_by_key(|item| (item.submitted_at, item.record.id));
    queue
}

/// A member's non-withdrawn lectures, services and visits with how their reviews stand, the
/// most recent (by when they happened) first. `notebook_id` is the member's notebook, which
/// the branch's reviews and feed refer to.
pub fn my_submissions(
    notebook: &Notebook,
    notebook_id: DocumentId,
    branch: &Branch,
) -> Vec<SubmissionView> {
    let records = Records {
        notebooks: vec![(notebook_id, notebook)],
        reviews: Reviews::of(branch),
    };
    // Each published record, and whether the feed shows it as a fine example.
    let mut published: HashMap<RecordRef, bool> = HashMap::new();
    for (_, item) in feed(branch) {
        *published.entry(item.source).or_default() |= item.fine_example;
    }
    let mut views: Vec<SubmissionView> = live_listed(&records)
        .into_iter()
        .map(|entry| {
            let in_feed = published.get(&entry.reference).copied();
            SubmissionView {
                record: entry.reference,
                title: entry.title,
                at: entry.at,
                revision: entry.submission.revision,
                submitted_at: entry.submission.submitted_at,
                review: entry.state,
                published: in_feed.is_some(),
                fine_example: entry.fine_example || in_feed == Some(true),
                counted: entry.counted,
            }
        })
        .collect();
    views.sort_by_key(|view| std::cmp::Reverse((view.at, view.record.id)));
    views
}

/// The branch feed: published lectures, services and visits that have not been withdrawn,
/// newest first. Pledges have their own wall (`pledge_wall`).
pub fn feed(branch: &Branch) -> Vec<(RecordId, FeedItem)> {
    let mut items: Vec<(RecordId, FeedItem)> = live(branch, &schema::FEED)
        .filter(|(_, item)| pledges::is_broadcast(item))
        .collect();
    items.sort_by_key(|(id, item)| std::cmp::Reverse((item.published_at, *id)));
    items
}

/// The plan of `month` and how far it has been carried out, or `None` when the month has no
/// plan (or its plan was withdrawn).
///
/// Each part is done by a record linked to the plan and held in its month, so that a part is
/// never done while the month's figure behind it is nothing: the lecture by an approved
/// lecture, the practice by an approved service that someone served hours in (both known
/// from the approvals in the branch document, see `Counted`), the film by a screening. The
/// themed party day is a `theme_day` meeting held in the month. A formal party lecture (党课)
/// meeting does not carry out the plan's lecture, since the lecture figures do not count it.
pub fn plan_progress(branch: &Branch, month: Month) -> Option<PlanProgress> {
    let plan = branch.plan(month).filter(|plan| !plan.is_withdrawn())?;
    let in_month = |at: Millis| month.contains(at);
    let books = Books::of(branch, |held_at, plan| {
        plan == Some(month) && in_month(held_at)
    });
    let approved = |kind: ReviewableKind, does: fn(&Counted) -> bool| -> Vec<PlanRecord> {
        books
            .kind(kind)
            .filter(|(_, counted)| counted.plan == Some(month) && in_month(counted.held_at))
            .filter(|(_, counted)| does(counted))
            .map(|(reference, counted)| PlanRecord {
                collection: schema::reviewable(kind).name,
                id: reference.id,
                notebook: Some(reference.notebook),
                title: counted.title.clone(),
                at: counted.held_at,
            })
            .collect()
    };
    let lecture = approved(ReviewableKind::Lecture, |_| true);
    let practice = approved(ReviewableKind::Service, |service| {
        service.hours > 0.0 && !service.participants.is_empty()
    });
    let film: Vec<PlanRecord> = live::<Screening>(branch, &schema::SCREENINGS)
        .filter(|(_, s)| s.plan == Some(month) && in_month(s.held_at))
        .map(|(id, s)| PlanRecord {
            collection: schema::SCREENINGS.name,
            id,
            notebook: None,
            title: s.film,
            at: s.held_at,
        })
        .collect();
    let theme_day: Vec<PlanRecord> = live::<Meeting>(branch, &schema::MEETINGS)
        .filter(|(_, m)| m.kind == MeetingKind::ThemeDay && in_month(m.held_at))
        .map(|(id, m)| PlanRecord {
            collection: schema::MEETINGS.name,
            id,
            notebook: None,
            title: m.agenda,
            at: m.held_at,
        })
        .collect();
    let mut carried_out = CarriedOut {
        lecture,
        film,
        practice,
        theme_day,
    };
    for part in [
        &mut carried_out.lecture,
        &mut carried_out.film,
        &mut carried_out.practice,
        &mut carried_out.theme_day,
    ] {
        part.sort_by_key(|record| (record.at, record.id));
    }
    let (lecture_done, film_done, practice_done) = (
        !carried_out.lecture.is_empty(),
        !carried_out.film.is_empty(),
        !carried_out.practice.is_empty(),
    );
    Some(PlanProgress {
        month,
        plan,
        standing: PlanStanding {
            lecture_done,
            film_done,
            practice_done,
            theme_day_held: !carried_out.theme_day.is_empty(),
            complete: lecture_done && film_done && practice_done,
        },
        carried_out,
    })
}

/// A lecture on the branch's schedule (讲课安排表).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scheduled {
    pub id: RecordId,
    pub date: Date,
    pub topic: String,
    pub venue: crate::model::notebook::Venue,
    /// The member who lectures, if a member does.
    pub speaker: Option<UserId>,
    /// The speaker's name: the member's as the roster gives it, or the guest's.
    pub speaker_name: String,
    /// A guest expert (土专家), not a member.
    pub guest: bool,
}

/// The lectures scheduled on or after `from`, soonest first.
pub fn schedule(branch: &Branch, from: Date) -> Vec<Scheduled> {
    let names = roster_names(branch);
    let mut scheduled: Vec<Scheduled> = live::<ScheduleEntry>(branch, &schema::SCHEDULE)
        .filter(|(_, entry)| entry.date >= from)
        .map(|(id, entry)| {
            let member_name = entry.speaker.and_then(|s| names.get(&s).cloned());
            Scheduled {
                id,
                date: entry.date,
                guest: entry.speaker.is_none(),
                speaker_name: member_name
                    .or(entry.guest_speaker.clone())
                    .unwrap_or_default(),
                speaker: entry.speaker,
                topic: entry.topic,
                venue: entry.venue,
            }
        })
        .collect();
    scheduled.sort_by_key(|s| (s.date, s.id));
    scheduled
}

/// The branch's lecture team (微讲队): the members on it, and the guest experts (土专家) the
/// schedule names, each once, by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LectureTeam {
    pub members: Vec<(UserId, String)>,
    pub guests: Vec<String>,
}

pub fn lecture_team(branch: &Branch) -> LectureTeam {
    let mut members: Vec<(UserId, String)> = branch
        .records::<RosterEntry>(&schema::ROSTER)
        .into_iter()
        .filter(|(_, entry)| entry.lecturer && entry.left_at.is_none())
        .filter_map(|(key, entry)| Some((key.parse().ok()?, entry.name)))
        .collect();
    members.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    let guests: BTreeSet<String> = live::<ScheduleEntry>(branch, &schema::SCHEDULE)
        .filter_map(|(_, entry)| entry.guest_speaker)
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect();
    LectureTeam {
        members,
        guests: guests.into_iter().collect(),
    }
}

/// Each person on the roster by id, with the name it gives.
fn roster_names(branch: &Branch) -> HashMap<UserId, String> {
    branch
        .records::<RosterEntry>(&schema::ROSTER)
        .into_iter()
        .filter_map(|(key, entry)| Some((key.parse().ok()?, entry.name)))
        .collect()
}

/// A migrant member (流动党员) the branch has not been in touch with for too long.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactReminder {
    pub member: UserId,
    pub name: String,
    /// The last contact logged in the ledger, if any.
    pub last_contact: Option<Millis>,
    /// Whole days since then (since the entry was made, if never contacted).
    pub days: i64,
}

/// The migrant members on the roster whose last logged contact (家访, 函访, 走访, a call) is
/// more than `after_days` days before `now`, the longest out of touch first. A member who
/// has left the branch, or whose entry is withdrawn, is not the branch's to remind of.
pub fn contact_reminders(
    branch: &Branch,
    ledger: &Ledger,
    now: Millis,
    after_days: i64,
) -> Vec<ContactReminder> {
    const DAY_MS: i64 = 86_400_000;
    let mut reminders: Vec<ContactReminder> = ledger
        .records::<LedgerEntry>(&schema::LEDGER_ENTRIES)
        .into_iter()
        .filter(|(_, entry)| entry.migrant && !entry.is_withdrawn())
        .filter_map(|(key, entry)| {
            let member: UserId = key.parse().ok()?;
            let roster: RosterEntry = branch.get(&schema::ROSTER, &key).ok()??;
            if roster.left_at.is_some() {
                return None;
            }
            // Never contacted: out of touch since he joined the branch.
            let last_contact = entry.contacts.values().map(|c| c.at).max();
            let since = last_contact.unwrap_or(roster.joined_at);
            let days = (now.0 - since.0).div_euclid(DAY_MS);
            (days > after_days).then_some(ContactReminder {
                member,
                name: roster.name,
                last_contact,
                days,
            })
        })
        .collect();
    reminders.sort_by_key(|r| (std::cmp::Reverse(r.days), r.member));
    reminders
}

/// The branch's figures for approved records that happened in `[from, until)`, and its
/// rectification list as it stands on `today`. Everything is counted from the branch
/// document: approvals carry what they count (`Counted`), so a member's phone, the
/// secretary's and the server count the same.
pub fn figures(branch: &Branch, from: Millis, until: Millis, today: Date) -> Figures {
    let period = from..until;
    let books = Books::of(branch, |held_at, _| period.contains(&held_at));
    let in_period = |kind| {
        books
            .kind(kind)
            .map(|(_, counted)| counted)
            .filter(|counted| period.contains(&counted.held_at))
            .collect::<Vec<&Counted>>()
    };
    let lectures = in_period(ReviewableKind::Lecture);
    let services = in_period(ReviewableKind::Service);
    let visits = in_period(ReviewableKind::Visit);

    let member_attendances = lectures.iter().map(|l| distinct(&l.attendees)).sum();
    // Validation keeps audiences non-negative; a negative one could only be hostile.
    let villagers = lectures
        .iter()
        .map(|l| u64::try_from(l.audience).unwrap_or(0))
        .sum();
    let lecturers: HashSet<UserId> = lectures
        .iter()
        .flat_map(|l| l.speakers.iter().copied())
        .collect();
    // "张家" and "张家 " are the same household typed twice.
    let households: HashSet<&str> = visits.iter().map(|v| v.title.trim()).collect();
    let screenings = live::<Screening>(branch, &schema::SCREENINGS)
        .filter(|(_, s)| period.contains(&s.held_at))
        .count();
    let rectifications = Rectifications::of(branch);

    let mut lectures_by_category = BTreeMap::new();
    let mut lectures_by_venue = BTreeMap::new();
    for lecture in &lectures {
        if let Some(category) = lecture.category {
            *lectures_by_category
                .entry(category.as_str().to_owned())
                .or_default() += 1;
        }
        if let Some(venue) = lecture.venue {
            *lectures_by_venue
                .entry(venue.as_str().to_owned())
                .or_default() += 1;
        }
    }

    Figures {
        lectures: count(lectures.len()),
        lectures_by_category,
        lectures_by_venue,
        lecturers: count(lecturers.len()),
        member_attendances,
        villagers,
        audience: member_attendances + villagers,
        services: count(services.len()),
        volunteer_participants: services.iter().map(|s| distinct(&s.participants)).sum(),
        volunteer_hours: services
            .iter()
            .map(|s| s.hours * distinct(&s.participants) as f64)
            .sum(),
        households_visited: count(households.len()),
        screenings: count(screenings),
        rectifications_open: rectifications.count(RectificationStatus::open),
        rectifications_overdue: rectifications.count(|r| r.open() && r.deadline < today),
        rectifications_done: rectifications.count(|r| r.status == ProgressStatus::Done),
        rectifications_verified: rectifications.count(|r| r.status == ProgressStatus::Verified),
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// How many different people a list names.
fn distinct(people: &[UserId]) -> u64 {
    count(people.iter().collect::<HashSet<_>>().len())
}

// ---- records and how they are judged -------------------------------------------------------

/// The records of a collection that have not been withdrawn, with their ids.
fn live<T: Hydrate + Record>(
    document: &Document,
    collection: &Collection,
) -> impl Iterator<Item = (RecordId, T)> {
    keyed::<T>(document, collection).filter(|(_, record)| !record.is_withdrawn())
}

/// The records of a collection keyed by record id. A key that is not one could only come from
/// a document that was never validated; it is skipped rather than hiding everything else.
fn keyed<T: Hydrate>(
    document: &Document,
    collection: &Collection,
) -> impl Iterator<Item = (RecordId, T)> {
    document
        .records(collection)
        .into_iter()
        .filter_map(|(key, record)| Some((key.parse().ok()?, record)))
}

/// The review that stands on each record: the latest review of the latest revision any admin
/// has reviewed. Two admins may review the same revision offline: the later decision stands,
/// and the review id breaks a tie, so that every device reaches the same verdict.
///
/// Reviews are read field by field, and a whole review (its comment, what an approval
/// counts) only where a view needs it: hydrating one costs a tenth of a millisecond, and a
/// branch has thousands.
struct Reviews<'a> {
    branch: &'a Branch,
    standing: HashMap<RecordRef, ReviewHead>,
}

/// What the standing rule reads of a review.
struct ReviewHead {
    id: RecordId,
    revision: i64,
    at: Millis,
    decision: Decision,
}

impl<'a> Reviews<'a> {
    fn of(branch: &'a Branch) -> Self {
        let mut standing: HashMap<RecordRef, ReviewHead> = HashMap::new();
        let doc = branch.automerge();
        let Some(reviews) = validate::collection_obj(doc, &schema::REVIEWS, None) else {
            return Self { branch, standing };
        };
        for key in doc.keys(&reviews) {
            let Some((reference, head)) = review_head(doc, &reviews, &key) else {
                continue;
            };
            let later = standing.get(&reference).is_none_or(|stored| {
                (head.revision, head.at, head.id) > (stored.revision, stored.at, stored.id)
            });
            if later {
                standing.insert(reference, head);
            }
        }
        Self { branch, standing }
    }

    /// The whole review that stands on `record`.
    fn review(&self, head: &ReviewHead) -> Option<Review> {
        self.branch
            .get(&schema::REVIEWS, &head.id.to_string())
            .ok()
            .flatten()
    }

    /// Whether an approval stands on `record`.
    fn approved(&self, record: &RecordRef) -> bool {
        self.standing
            .get(record)
            .is_some_and(|head| head.decision == Decision::Approved)
    }

    /// What the standing approval of `record` counts, if it stands approved.
    fn counted(&self, record: &RecordRef) -> Option<Counted> {
        let head = self.standing.get(record)?;
        match head.decision {
            Decision::Approved => self.review(head)?.counted,
            Decision::Returned => None,
        }
    }

    /// Where `record` stands in review. This is the one rule for review states in every view:
    /// a submitted revision stands as the latest review of it decided, or pending while no
    /// admin has reviewed it. Whether it counts is the standing approval's business
    /// (`counted`), which keeps counting an approved revision while its member edits it again.
    fn judge<T: Reviewable>(&self, reference: RecordRef, record: T) -> Judged<T> {
        let submission = record.submission();
        let head = self.standing.get(&reference);
        let standing = head.and_then(|head| self.review(head));
        let of_this_revision = standing
            .as_ref()
            .filter(|review| review.revision == submission.revision);
        let state = match (submission.state, of_this_revision) {
            (SubmissionState::Draft, _) => ReviewState::Draft,
            (SubmissionState::Submitted, None) => ReviewState::Pending,
            (SubmissionState::Submitted, Some(review)) => match review.decision {
                Decision::Approved => ReviewState::Approved {
                    comment: review.comment.clone(),
                },
                Decision::Returned => ReviewState::Returned {
                    comment: review.comment.clone(),
                },
            },
        };
        let counted = self.approved(&reference);
        Judged {
            reference,
            record,
            state,
            counted,
            fine_example: counted && standing.is_some_and(|review| review.fine_example),
        }
    }
}

/// The record a review names and what the standing rule reads of it, or `None` for a review
/// no valid document holds.
fn review_head(doc: &Automerge, reviews: &ObjId, key: &str) -> Option<(RecordRef, ReviewHead)> {
    let obj = validate::object_field(doc, reviews, key, None)?;
    let record = validate::object_field(doc, &obj, "record", None)?;
    let reference = RecordRef {
        notebook: validate::str_field(doc, &record, "notebook", None)?
            .parse()
            .ok()?,
        kind: ReviewableKind::parse(&validate::str_field(doc, &record, "kind", None)?)?,
        id: validate::str_field(doc, &record, "id", None)?
            .parse()
            .ok()?,
    };
    let head = ReviewHead {
        id: key.parse().ok()?,
        revision: validate::int_field(doc, &obj, "revision", None)?,
        at: validate::time_field(doc, &obj, "at")?,
        decision: Decision::parse(&validate::str_field(doc, &obj, "decision", None)?)?,
    };
    Some((reference, head))
}

/// The branch's books: what each standing approval counts, of the approvals `wanted` keeps
/// (read from the approval's `held_at` and `plan` before the whole of it is).
struct Books(Vec<(RecordRef, Counted)>);

impl Books {
    fn of(branch: &Branch, wanted: impl Fn(Millis, Option<Month>) -> bool) -> Self {
        let reviews = Reviews::of(branch);
        let doc = branch.automerge();
        let Some(collection) = validate::collection_obj(doc, &schema::REVIEWS, None) else {
            return Self(Vec::new());
        };
        let books = reviews
            .standing
            .iter()
            .filter(|(_, head)| head.decision == Decision::Approved)
            .filter_map(|(reference, head)| {
                let obj = validate::object_field(doc, &collection, &head.id.to_string(), None)?;
                let counted = validate::object_field(doc, &obj, "counted", None)?;
                let held_at = validate::time_field(doc, &counted, "held_at")?;
                let plan = validate::str_field(doc, &counted, "plan", None)
                    .and_then(|month| month.parse().ok());
                wanted(held_at, plan).then_some(())?;
                Some((*reference, reviews.counted(reference)?))
            })
            .collect();
        Self(books)
    }

    fn kind(&self, kind: ReviewableKind) -> impl Iterator<Item = (&RecordRef, &Counted)> {
        self.0
            .iter()
            .filter(move |(reference, _)| reference.kind == kind)
            .map(|(reference, counted)| (reference, counted))
    }
}

/// A member's record with where it stands in review.
struct Judged<T> {
    reference: RecordRef,
    record: T,
    state: ReviewState,
    /// An approval of some revision of it stands, and counts.
    counted: bool,
    fine_example: bool,
}

/// Members' notebooks, each under the id the branch's reviews know it by, with those reviews.
struct Records<'a> {
    notebooks: Vec<(DocumentId, &'a Notebook)>,
    reviews: Reviews<'a>,
}

impl<'a> Records<'a> {
    /// The notebooks of members on the branch's roster, which gives each notebook's id. A
    /// notebook whose owner is not on the roster is not the branch's to count; one passed twice
    /// is counted once. A member who has left (`left_at`) stays on the roster, and the work
    /// they did while in the branch still counts for it.
    fn on_roster(branch: &'a Branch, notebooks: &[&'a Notebook]) -> Self {
        Self {
            notebooks: on_roster(branch, notebooks)
                .into_iter()
                .map(|(_, entry, notebook)| (entry.notebook, notebook))
                .collect(),
            reviews: Reviews::of(branch),
        }
    }

    /// The records of kind `T` that `wanted` keeps, judged. `wanted` sees each record's
    /// submission and withdrawal, read field by field, so that only the records a view lists
    /// are read whole.
    fn judged<T: Reviewable>(&self, wanted: impl Fn(&RecordRef, &Head) -> bool) -> Vec<Judged<T>> {
        let mut judged = Vec::new();
        for &(notebook, document) in &self.notebooks {
            let doc = document.automerge();
            let Some(collection) = validate::collection_obj(doc, T::COLLECTION, None) else {
                continue;
            };
            for key in doc.keys(&collection) {
                let Ok(id) = key.parse() else { continue };
                let reference = RecordRef {
                    notebook,
                    kind: T::KIND,
                    id,
                };
                let Some(head) = Head::read(doc, &collection, &key) else {
                    continue;
                };
                if !wanted(&reference, &head) {
                    continue;
                }
                if let Ok(Some(record)) = document.get::<T>(T::COLLECTION, &key) {
                    judged.push(self.reviews.judge(reference, record));
                }
            }
        }
        judged
    }

    /// Every record of kind `T` its member has not withdrawn, judged.
    fn live<T: Reviewable>(&self) -> Vec<Judged<T>> {
        self.judged::<T>(|_, head| !head.withdrawn)
    }

    /// The records waiting for a review: submitted, not withdrawn, and no review of the
    /// revision submitted.
    fn pending<T: Reviewable>(&self) -> Vec<Judged<T>> {
        self.judged::<T>(|reference, head| {
            head.submitted
                && !head.withdrawn
                && self
                    .reviews
                    .standing
                    .get(reference)
                    .is_none_or(|review| review.revision != head.revision)
        })
    }

    /// The records their members withdrew while an approval of them stands, each with the
    /// revision that approval must be taken back in.
    fn withdrawn_while_counted(&self) -> Vec<(Listed, i64)> {
        let mut all = self.withdrawn_while_counted_of::<Lecture>();
        all.extend(self.withdrawn_while_counted_of::<Service>());
        all.extend(self.withdrawn_while_counted_of::<Visit>());
        all
    }

    fn withdrawn_while_counted_of<T: Reviewable>(&self) -> Vec<(Listed, i64)> {
        self.judged::<T>(|reference, head| head.withdrawn && self.reviews.approved(reference))
            .into_iter()
            .filter_map(|judged| {
                let revision = self.reviews.standing.get(&judged.reference)?.revision;
                Some((Listed::from(judged), revision))
            })
            .collect()
    }
}

/// What views read of a member's record before reading it whole.
struct Head {
    submitted: bool,
    revision: i64,
    withdrawn: bool,
}

impl Head {
    fn read(doc: &Automerge, collection: &ObjId, key: &str) -> Option<Head> {
        let obj = validate::object_field(doc, collection, key, None)?;
        let submission = validate::object_field(doc, &obj, "submission", None)?;
        let withdrawn = matches!(
            doc.get(&obj, "withdrawn"),
            Ok(Some((automerge::Value::Object(_), _)))
        );
        Some(Head {
            submitted: validate::str_field(doc, &submission, "state", None).as_deref()
                == Some(SubmissionState::Submitted.as_str()),
            revision: validate::int_field(doc, &submission, "revision", None)?,
            withdrawn,
        })
    }
}

/// The notebooks whose owners are on the branch's roster, each with its owner and roster
/// entry (which gives the notebook's id). A notebook whose owner is not on the roster is not
/// the branch's; one passed twice is taken once.
fn on_roster<'a>(
    branch: &Branch,
    notebooks: &[&'a Notebook],
) -> Vec<(UserId, RosterEntry, &'a Notebook)> {
    let mut seen = BTreeSet::new();
    notebooks
        .iter()
        .filter_map(|&notebook| {
            let owner = notebook.scope().owner?;
            let entry: RosterEntry = branch.get(&schema::ROSTER, &owner.to_string()).ok()??;
            seen.insert(entry.notebook)
                .then_some((owner, entry, notebook))
        })
        .collect()
}

/// A judged record of any kind, as lists show it.
struct Listed {
    reference: RecordRef,
    title: String,
    author: UserId,
    at: Millis,
    submission: Submission,
    state: ReviewState,
    counted: bool,
    fine_example: bool,
}

impl<T: Reviewable> From<Judged<T>> for Listed {
    fn from(judged: Judged<T>) -> Self {
        Self {
            reference: judged.reference,
            title: judged.record.title().to_owned(),
            author: judged.record.recorded_by(),
            at: judged.record.at(),
            submission: judged.record.submission().clone(),
            state: judged.state,
            counted: judged.counted,
            fine_example: judged.fine_example,
        }
    }
}

/// Every non-withdrawn lecture, service and visit, judged.
fn listed<T: Reviewable>(judged: Vec<Judged<T>>) -> Vec<Listed> {
    judged.into_iter().map(Listed::from).collect()
}

/// Every record its member has not withdrawn, of every kind, judged.
fn live_listed(records: &Records<'_>) -> Vec<Listed> {
    let mut all = listed(records.live::<Lecture>());
    all.extend(listed(records.live::<Service>()));
    all.extend(listed(records.live::<Visit>()));
    all
}

/// Where one rectification stands.
struct RectificationStatus {
    status: ProgressStatus,
    deadline: Date,
}

impl RectificationStatus {
    /// Not yet done: open or in progress.
    fn open(&self) -> bool {
        self.status < ProgressStatus::Done
    }
}

/// The branch's non-withdrawn rectifications.
struct Rectifications(Vec<RectificationStatus>);

impl Rectifications {
    fn of(branch: &Branch) -> Self {
        Self(
            live::<Rectification>(branch, &schema::RECTIFICATIONS)
                .map(|(_, r)| RectificationStatus {
                    status: r.progress.status(),
                    deadline: r.deadline,
                })
                .collect(),
        )
    }

    fn count(&self, which: impl Fn(&RectificationStatus) -> bool) -> u64 {
        count(self.0.iter().filter(|r| which(r)).count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Principal, Role};
    use crate::document::OpError;
    use crate::document::{DocKind, Scope};
    use crate::ids::{BranchId, TownshipId};
    use crate::model::branch::BranchRole;
    use crate::model::common::{Progress, Prose, ReviewableKind};
    use crate::model::notebook::Pledge;
    use crate::model::notebook::{LectureCategory, ServiceKind, Venue, VisitKind};
    use crate::ops::ReviewDecision;

    /// 2026-10-26 in Beijing: every operation in these tests happens on or after it.
    const START: Millis = Millis(1_793_000_000_000);

    fn day(year: i32, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    /// Noon, Beijing time, of a day in 2026.
    fn noon(month: u8, d: u8) -> Millis {
        Millis(day(2026, month, d).cst_start().0 + 12 * 3_600_000)
    }

    fn october() -> Month {
        Month {
            year: 2026,
            month: 10,
        }
    }

    /// Someone the operations stamp over: the author of a new record is whoever writes it.
    fn nobody() -> UserId {
        UserId::from_uuid(uuid::Uuid::nil())
    }

    /// A branch with two admins, a clock, and members joining it.
    struct Village {
        branch: Branch,
        branch_id: BranchId,
        township: TownshipId,
        secretary: Principal,
        deputy: Principal,
        clock: i64,
    }

    /// A member of the village with their notebook.
    struct Member {
        who: Principal,
        notebook: Notebook,
        id: DocumentId,
    }

    impl Village {
        fn new() -> Self {
            let branch_id = BranchId::generate().unwrap();
            let township = TownshipId::generate().unwrap();
            let admin = |user| Principal {
                user,
                role: Role::BranchAdmin,
                branch: Some(branch_id),
                township: Some(township),
            };
            let scope = Scope {
                kind: DocKind::Branch,
                branch: branch_id,
                township,
                owner: None,
            };
            Self {
                branch: Branch::create(scope, START).unwrap(),
                branch_id,
                township,
                secretary: admin(UserId::generate().unwrap()),
                deputy: admin(UserId::generate().unwrap()),
                clock: START.0,
            }
        }

        /// A second later than the last operation.
        fn now(&mut self) -> Millis {
            self.clock += 1_000;
            Millis(self.clock)
        }

        /// A member with a notebook, not (yet) on the roster.
        fn stranger(&self) -> Member {
            let user = UserId::generate().unwrap();
            let scope = Scope {
                kind: DocKind::Notebook,
                branch: self.branch_id,
                township: self.township,
                owner: Some(user),
            };
            Member {
                who: Principal {
                    user,
                    role: Role::Member,
                    branch: Some(self.branch_id),
                    township: Some(self.township),
                },
                notebook: Notebook::create(scope, START).unwrap(),
                id: DocumentId::generate().unwrap(),
            }
        }

        fn join(&mut self, name: &str) -> Member {
            let member = self.stranger();
            let entry = RosterEntry {
                name: name.into(),
                role: BranchRole::Member,
                notebook: member.id,
                joined_at: START,
                left_at: None,
                silver: false,
                lecturer: false,
            };
            let (secretary, now) = (self.secretary.clone(), self.now());
            self.branch
                .enrol_member(&secretary, now, member.who.user, entry)
                .unwrap();
            member
        }

        fn review<T: Reviewable>(
            &mut self,
            member: &Member,
            id: RecordId,
            revision: i64,
            decision: Decision,
            comment: &str,
        ) -> RecordId {
            let (secretary, now) = (self.secretary.clone(), self.now());
            let record: T = member
                .notebook
                .get(T::COLLECTION, &id.to_string())
                .unwrap()
                .unwrap();
            self.branch
                .review(
                    &secretary,
                    now,
                    ReviewDecision {
                        record: RecordRef {
                            notebook: member.id,
                            kind: T::KIND,
                            id,
                        },
                        revision,
                        decision,
                        comment: comment.into(),
                        publish: false,
                        fine_example: false,
                    },
                    &record,
                )
                .unwrap()
        }

        fn submit<T: Reviewable>(&mut self, member: &mut Member, id: RecordId) -> i64 {
            let now = self.now();
            member.notebook.submit::<T>(&member.who, now, id).unwrap()
        }

        /// Submits the record and approves the revision submitted.
        fn approve<T: Reviewable>(&mut self, member: &mut Member, id: RecordId) -> i64 {
            let revision = self.submit::<T>(member, id);
            self.review::<T>(member, id, revision, Decision::Approved, "");
            revision
        }

        fn send_back<T: Reviewable>(&mut self, member: &mut Member, id: RecordId, why: &str) {
            let revision = self.submit::<T>(member, id);
            self.review::<T>(member, id, revision, Decision::Returned, why);
        }

        /// Records a lecture, service or visit in the member's notebook.
        fn record<T: Record>(&mut self, member: &mut Member, record: T) -> RecordId {
            let now = self.now();
            member
                .notebook
                .document_mut()
                .add(&member.who, now, record)
                .unwrap()
        }

        fn withdraw<T: Reviewable>(&mut self, member: &mut Member, id: RecordId) {
            let now = self.now();
            member
                .notebook
                .withdraw::<T>(&member.who, now, id, None)
                .unwrap();
        }

        fn publish(&mut self, member: &Member, id: RecordId, title: &str, fine: bool) -> RecordId {
            let (secretary, now) = (self.secretary.clone(), self.now());
            let item = FeedItem {
                source: RecordRef {
                    notebook: member.id,
                    kind: ReviewableKind::Lecture,
                    id,
                },
                kind: ReviewableKind::Lecture,
                title: title.into(),
                body: String::new(),
                speakers: vec!["李章桂".into()],
                held_at: noon(10, 10),
                media: Vec::new(),
                fine_example: fine,
                published_by: nobody(),
                published_at: START,
                withdrawn: None,
            };
            self.branch.publish(&secretary, now, item).unwrap()
        }

        fn screening(&mut self, held_at: Millis, plan: Option<Month>) -> RecordId {
            let (secretary, now) = (self.secretary.clone(), self.now());
            let screening = Screening {
                film: "榜样".into(),
                held_at,
                place: "党员活动室".into(),
                attendees: Vec::new(),
                audience: 20,
                discussion: String::new(),
                media: Vec::new(),
                plan,
                recorded_by: nobody(),
                created_at: START,
                withdrawn: None,
            };
            self.branch
                .record_screening(&secretary, now, screening)
                .unwrap()
        }

        fn meeting(&mut self, kind: MeetingKind, held_at: Millis, plan: Option<Month>) {
            let (secretary, now) = (self.secretary.clone(), self.now());
            let meeting = Meeting {
                kind,
                held_at,
                attendees: Vec::new(),
                agenda: "学习".into(),
                minutes: Prose::default(),
                decisions: Vec::new(),
                plan,
                recorded_by: nobody(),
                created_at: START,
                withdrawn: None,
            };
            self.branch
                .record_meeting(&secretary, now, meeting)
                .unwrap();
        }

        fn rectification(&mut self, deadline: Date, reached: &[ProgressStatus]) -> RecordId {
            let (secretary, now) = (self.secretary.clone(), self.now());
            let rectification = Rectification {
                problem: "村道路灯损坏".into(),
                measure: "更换路灯".into(),
                deadline,
                standard: "全部亮灯".into(),
                responsible: None,
                from_visit: None,
                from_supervision: None,
                progress: Progress::default(),
                evidence: Vec::new(),
                created_by: nobody(),
                created_at: START,
                withdrawn: None,
            };
            let id = self
                .branch
                .open_rectification(&secretary, now, rectification)
                .unwrap();
            for status in reached {
                let now = self.now();
                self.branch
                    .advance_rectification(&secretary, now, id, *status, None)
                    .unwrap();
            }
            id
        }
    }

    fn lecture(
        held_at: Millis,
        speakers: &[UserId],
        attendees: &[UserId],
        audience: i64,
    ) -> Lecture {
        Lecture {
            title: "学习二十大精神".into(),
            category: LectureCategory::PoliticalTheory,
            venue: Venue::Courtyard,
            held_at,
            duration_min: 30,
            place: "屋场坪".into(),
            gps: None,
            speakers: speakers.to_vec(),
            guest_speaker: None,
            recorded_by: nobody(),
            attendees: attendees.to_vec(),
            audience,
            summary: String::new(),
            media: Vec::new(),
            plan: None,
            submission: Submission::draft(),
            created_at: START,
            withdrawn: None,
        }
    }

    fn titled(title: &str, held_at: Millis, speaker: UserId) -> Lecture {
        Lecture {
            title: title.into(),
            ..lecture(held_at, &[speaker], &[], 0)
        }
    }

    fn service(held_at: Millis, hours: f64, participants: &[UserId]) -> Service {
        Service {
            kind: ServiceKind::Patrol,
            title: "秸秆禁烧巡逻".into(),
            held_at,
            hours,
            participants: participants.to_vec(),
            beneficiaries: 0,
            place: "合益村".into(),
            notes: String::new(),
            media: Vec::new(),
            plan: None,
            recorded_by: nobody(),
            submission: Submission::draft(),
            created_at: START,
            withdrawn: None,
        }
    }

    fn visit(visited_at: Millis, household: &str) -> Visit {
        Visit {
            kind: VisitKind::Walk,
            household: household.into(),
            visitors: Vec::new(),
            visited_at,
            needs: String::new(),
            follow_up: String::new(),
            media: Vec::new(),
            recorded_by: nobody(),
            submission: Submission::draft(),
            created_at: START,
            withdrawn: None,
        }
    }

    fn plan() -> Plan {
        Plan {
            lecture_topic: "乡村振兴".into(),
            lecture_speaker: None,
            film_title: "榜样".into(),
            practice: "卫生清理".into(),
            theme_day: Some(day(2026, 10, 15)),
            notes: Prose::default(),
            created_by: nobody(),
            created_at: START,
            withdrawn: None,
        }
    }

    #[test]
    fn the_queue_holds_unreviewed_submissions_oldest_first() {
        let mut v = Village::new();
        let mut li = v.join("李章桂");
        let lz = li.who.user;
        let mut he = v.join("贺俊爱");
        let hj = he.who.user;

        let draft = v.record(&mut li, titled("草稿", noon(10, 1), lz));
        let patrol = v.record(&mut he, service(noon(10, 2), 2.0, &[hj]));
        let patrol_revision = v.submit::<Service>(&mut he, patrol);
        let fresh = v.record(&mut li, titled("新课", noon(10, 3), lz));
        v.submit::<Lecture>(&mut li, fresh);
        let approved = v.record(&mut li, titled("已批", noon(10, 4), lz));
        v.approve::<Lecture>(&mut li, approved);
        let returned = v.record(&mut li, titled("退回", noon(10, 5), lz));
        v.send_back::<Lecture>(&mut li, returned, "请补充照片");
        let withdrawn = v.record(&mut li, titled("撤回", noon(10, 6), lz));
        v.submit::<Lecture>(&mut li, withdrawn);
        v.withdraw::<Lecture>(&mut li, withdrawn);
        // Approved, then edited and handed in again: the new revision waits for review.
        v.approve::<Lecture>(&mut li, draft);
        let now = v.now();
        li.notebook
            .edit_record::<Lecture>(&li.who, now, draft, |l| l.summary = "补充".into())
            .unwrap();
        let second = v.submit::<Lecture>(&mut li, draft);
        let household = v.record(&mut he, visit(noon(10, 7), "张家"));
        v.submit::<Visit>(&mut he, household);
        // Someone not on the roster: the branch has no notebook id for them.
        let mut outsider = v.stranger();
        let stranger = outsider.who.user;
        let stray = v.record(&mut outsider, titled("外人", noon(10, 8), stranger));
        v.submit::<Lecture>(&mut outsider, stray);

        let queue = review_queue(&v.branch, &[&li.notebook, &he.notebook, &outsider.notebook]);

        let order: Vec<(&str, i64)> = queue
            .iter()
            .map(|i| (i.title.as_str(), i.revision))
            .collect();
        assert_eq!(
            order,
            [("秸秆禁烧巡逻", 1), ("新课", 1), ("草稿", 2), ("张家", 1)]
        );
        assert_eq!(second, 2);
        let first = &queue[0];
        assert_eq!(
            first.record,
            RecordRef {
                notebook: he.id,
                kind: ReviewableKind::Service,
                id: patrol,
            }
        );
        assert_eq!(first.author, he.who.user);
        assert_eq!(first.at, noon(10, 2));
        assert_eq!(first.revision, patrol_revision);
        assert!(
            queue
                .windows(2)
                .all(|w| w[0].submitted_at < w[1].submitted_at)
        );
        assert_eq!(queue[3].record.kind, ReviewableKind::Visit);
    }

    #[test]
    fn a_member_sees_how_each_of_their_records_stands() {
        let mut v = Village::new();
        let mut li = v.join("李章桂");
        let lz = li.who.user;

        let draft = v.record(&mut li, titled("草稿", noon(10, 1), lz));
        let pending = v.record(&mut li, titled("待审", noon(10, 2), lz));
        v.submit::<Lecture>(&mut li, pending);
        let returned = v.record(&mut li, titled("退回", noon(10, 3), lz));
        v.send_back::<Lecture>(&mut li, returned, "请补充照片");
        let approved = v.record(&mut li, titled("已批", noon(10, 4), lz));
        v.approve::<Lecture>(&mut li, approved);
        v.publish(&li, approved, "已批", true);
        let withdrawn = v.record(&mut li, titled("撤回", noon(10, 5), lz));
        v.withdraw::<Lecture>(&mut li, withdrawn);
        let patrol = v.record(&mut li, service(noon(10, 6), 1.0, &[lz]));
        // Returned, re-recorded, and approved as a fine example in its second revision.
        v.send_back::<Service>(&mut li, patrol, "时长有误");
        let now = v.now();
        li.notebook
            .edit_record::<Service>(&li.who, now, patrol, |s| s.hours = 2.0)
            .unwrap();
        let revision = v.submit::<Service>(&mut li, patrol);
        let (deputy, now) = (v.deputy.clone(), v.now());
        let record: Service = li
            .notebook
            .get(&schema::SERVICES, &patrol.to_string())
            .unwrap()
            .unwrap();
        v.branch
            .review(
                &deputy,
                now,
                ReviewDecision {
                    record: RecordRef {
                        notebook: li.id,
                        kind: ReviewableKind::Service,
                        id: patrol,
                    },
                    revision,
                    decision: Decision::Approved,
                    comment: String::new(),
                    publish: false,
                    fine_example: true,
                },
                &record,
            )
            .unwrap();

        let mine = my_submissions(&li.notebook, li.id, &v.branch);

        let seen: Vec<(&str, &ReviewState, bool, bool)> = mine
            .iter()
            .map(|s| (s.title.as_str(), &s.review, s.published, s.fine_example))
            .collect();
        let returned_state = ReviewState::Returned {
            comment: "请补充照片".into(),
        };
        let approved_state = ReviewState::Approved {
            comment: String::new(),
        };
        assert_eq!(
            seen,
            [
                ("秸秆禁烧巡逻", &approved_state, false, true),
                ("已批", &approved_state, true, true),
                ("退回", &returned_state, false, false),
                ("待审", &ReviewState::Pending, false, false),
                ("草稿", &ReviewState::Draft, false, false),
            ]
        );
        assert_eq!(mine[0].revision, 2);
        assert_eq!(mine[4].submitted_at, None);
        assert_eq!(mine[2].record.id, returned);
        assert_eq!(mine[4].record.id, draft);
    }

    #[test]
    fn the_latest_review_of_a_revision_stands_and_ties_go_to_the_greater_id() {
        let mut v = Village::new();
        let mut li = v.join("李章桂");
        let lz = li.who.user;
        let id = v.record(&mut li, titled("课", noon(10, 1), lz));
        let revision = v.submit::<Lecture>(&mut li, id);
        // Two admins decide offline at the same instant: one returns, the other approves.
        let at = v.now();
        let record: Lecture = li
            .notebook
            .get(&schema::LECTURES, &id.to_string())
            .unwrap()
            .unwrap();
        let mut decide = |by: Principal, decision, comment: &str| {
            v.branch
                .review(
                    &by,
                    at,
                    ReviewDecision {
                        record: RecordRef {
                            notebook: li.id,
                            kind: ReviewableKind::Lecture,
                            id,
                        },
                        revision,
                        decision,
                        comment: comment.into(),
                        publish: false,
                        fine_example: false,
                    },
                    &record,
                )
                .unwrap()
        };
        let returned = decide(v.secretary.clone(), Decision::Returned, "重录");
        let approved = decide(v.deputy.clone(), Decision::Approved, "");
        let expected = if approved > returned {
            ReviewState::Approved {
                comment: String::new(),
            }
        } else {
            ReviewState::Returned {
                comment: "重录".into(),
            }
        };
        assert_eq!(
            my_submissions(&li.notebook, li.id, &v.branch)[0].review,
            expected
        );

        // A later decision on the same revision overrides both.
        v.review::<Lecture>(&li, id, revision, Decision::Returned, "再改");
        assert_eq!(
            my_submissions(&li.notebook, li.id, &v.branch)[0].review,
            ReviewState::Returned {
                comment: "再改".into()
            }
        );
    }

    #[test]
    fn review_states_cross_to_javascript_flat() {
        let mut v = Village::new();
        let mut li = v.join("李章桂");
        let lz = li.who.user;
        let id = v.record(&mut li, titled("课", noon(10, 1), lz));
        v.send_back::<Lecture>(&mut li, id, "请补充照片");
        let view = &my_submissions(&li.notebook, li.id, &v.branch)[0];
        let json = serde_json::to_value(view).unwrap();
        assert_eq!(json["state"], "returned");
        assert_eq!(json["comment"], "请补充照片");
        assert_eq!(json["record"]["kind"], "lecture");
        assert_eq!(
            serde_json::to_value(ReviewState::Pending).unwrap()["state"],
            "pending"
        );
    }

    #[test]
    fn the_feed_shows_live_items_newest_first() {
        let mut v = Village::new();
        let mut li = v.join("李章桂");
        let lz = li.who.user;
        let id = v.record(&mut li, titled("课", noon(10, 1), lz));
        v.approve::<Lecture>(&mut li, id);
        let first = v.publish(&li, id, "第一", false);
        let second = v.publish(&li, id, "第二", false);
        let third = v.publish(&li, id, "第三", true);
        let (secretary, now) = (v.secretary.clone(), v.now());
        v.branch
            .withdraw::<FeedItem>(&secretary, now, second, None)
            .unwrap();

        let shown: Vec<(RecordId, String)> = feed(&v.branch)
            .into_iter()
            .map(|(id, item)| (id, item.title))
            .collect();
        assert_eq!(
            shown,
            [(third, "第三".to_owned()), (first, "第一".to_owned())]
        );
    }

    #[test]
    fn a_withdrawn_feed_item_no_longer_publishes_its_record() {
        let mut v = Village::new();
        let mut li = v.join("李章桂");
        let lz = li.who.user;
        let id = v.record(&mut li, titled("课", noon(10, 1), lz));
        v.approve::<Lecture>(&mut li, id);
        let item = v.publish(&li, id, "课", true);
        let view = &my_submissions(&li.notebook, li.id, &v.branch)[0];
        assert!(view.published && view.fine_example);

        let (secretary, now) = (v.secretary.clone(), v.now());
        v.branch
            .withdraw::<FeedItem>(&secretary, now, item, None)
            .unwrap();
        let view = &my_submissions(&li.notebook, li.id, &v.branch)[0];
        assert!(!view.published && !view.fine_example);
    }

    #[test]
    fn a_month_without_a_plan_has_no_progress() {
        let v = Village::new();
        assert_eq!(plan_progress(&v.branch, october()), None);
    }

    #[test]
    fn a_plan_is_complete_once_its_lecture_film_and_practice_are_done() {
        let mut v = Village::new();
        let mut li = v.join("李章桂");
        let lz = li.who.user;
        let (secretary, now) = (v.secretary.clone(), v.now());
        v.branch
            .set_plan(&secretary, now, october(), plan())
            .unwrap();
        let month = Some(october());

        let progress = plan_progress(&v.branch, october()).unwrap();
        assert_eq!(progress.plan.lecture_topic, "乡村振兴");
        assert!(
            !progress.standing.lecture_done
                && !progress.standing.film_done
                && !progress.standing.practice_done
        );
        assert!(!progress.standing.theme_day_held && !progress.standing.complete);

        // Work for the month that does not (yet) count: pending, returned, another month's.
        let pending = v.record(
            &mut li,
            Lecture {
                plan: month,
                ..titled("待审", noon(10, 2), lz)
            },
        );
        v.submit::<Lecture>(&mut li, pending);
        let practice = v.record(
            &mut li,
            Service {
                plan: month,
                ..service(noon(10, 3), 2.0, &[lz])
            },
        );
        v.send_back::<Service>(&mut li, practice, "缺少照片");
        v.screening(
            noon(9, 20),
            Some(Month {
                year: 2026,
                month: 9,
            }),
        );
        v.meeting(MeetingKind::ThemeDay, noon(11, 1), None);
        v.meeting(MeetingKind::Committee, noon(10, 15), month);
        let progress = plan_progress(&v.branch, october()).unwrap();
        assert!(
            !progress.standing.lecture_done
                && !progress.standing.film_done
                && !progress.standing.practice_done
        );
        assert!(!progress.standing.theme_day_held);

        v.review::<Lecture>(&li, pending, 1, Decision::Approved, "");
        v.screening(noon(10, 12), month);
        v.meeting(MeetingKind::ThemeDay, day(2026, 10, 1).cst_start(), None);
        let progress = plan_progress(&v.branch, october()).unwrap();
        assert!(
            progress.standing.lecture_done
                && progress.standing.film_done
                && progress.standing.theme_day_held
        );
        assert!(!progress.standing.practice_done && !progress.standing.complete);

        let now = v.now();
        li.notebook
            .edit_record::<Service>(&li.who, now, practice, |s| s.notes = "已补".into())
            .unwrap();
        v.approve::<Service>(&mut li, practice);
        let progress = plan_progress(&v.branch, october()).unwrap();
        assert!(progress.standing.practice_done && progress.standing.complete);
        assert_eq!(progress.month, october());
    }

    #[test]
    fn a_party_lecture_meeting_does_not_carry_out_the_plans_lecture() {
        let mut v = Village::new();
        let (secretary, now) = (v.secretary.clone(), v.now());
        v.branch
            .set_plan(&secretary, now, october(), plan())
            .unwrap();
        v.meeting(MeetingKind::PartyLecture, noon(10, 9), Some(october()));
        let progress = plan_progress(&v.branch, october()).unwrap();
        // The month's lecture figure would still be nothing.
        assert!(!progress.standing.lecture_done);
        assert!(progress.carried_out.lecture.is_empty());
    }

    /// Lectures, services, visits and screenings in and around October 2026; the expected
    /// figures are worked out by hand beside each record.
    #[test]
    fn figures_count_approved_records_of_the_period_only() {
        let mut v = Village::new();
        let mut li = v.join("李章桂");
        let lz = li.who.user;
        let mut he = v.join("贺俊爱");
        let hj = he.who.user;
        let (a, b) = (lz, hj);
        let (c, d) = (UserId::generate().unwrap(), UserId::generate().unwrap());
        let from = day(2026, 10, 1).cst_start();
        let until = day(2026, 11, 1).cst_start();

        // Counted lectures: speakers {a}, {a, b}, {c}, guest only → lecturers {a, b, c} = 3;
        // attendees 3 + 2 (d ticked twice) + 0 + 1 = 6; villagers 30 + 12 + 5 + 20 = 67; one
        // in the field, the rest in courtyards; one on skills.
        let counted = [
            lecture(noon(10, 10), &[a], &[a, b, c], 30),
            lecture(noon(10, 20), &[a, b], &[b, d, d], 12),
            Lecture {
                venue: Venue::Field,
                category: LectureCategory::Skills,
                ..lecture(from, &[c], &[], 5)
            },
            Lecture {
                guest_speaker: Some("土专家".into()),
                ..lecture(noon(10, 21), &[], &[a], 20)
            },
        ];
        for l in counted {
            let id = v.record(&mut he, l);
            v.approve::<Lecture>(&mut he, id);
        }
        // Not counted: held at `until`, returned, withdrawn after approval and taken back by
        // an admin, re-submitted after approval and returned, pending, and a draft.
        let late = v.record(&mut li, lecture(until, &[d], &[a], 100));
        v.approve::<Lecture>(&mut li, late);
        let returned = v.record(&mut li, lecture(noon(10, 11), &[d], &[a], 100));
        v.send_back::<Lecture>(&mut li, returned, "请补充");
        let withdrawn = v.record(&mut li, lecture(noon(10, 12), &[d], &[a], 100));
        v.approve::<Lecture>(&mut li, withdrawn);
        v.withdraw::<Lecture>(&mut li, withdrawn);
        v.review::<Lecture>(&li, withdrawn, 1, Decision::Returned, "成员已撤回");
        let resubmitted = v.record(&mut li, lecture(noon(10, 13), &[d], &[a], 100));
        v.approve::<Lecture>(&mut li, resubmitted);
        let now = v.now();
        li.notebook
            .edit_record::<Lecture>(&li.who, now, resubmitted, |l| l.audience = 101)
            .unwrap();
        v.submit::<Lecture>(&mut li, resubmitted);
        v.review::<Lecture>(&li, resubmitted, 2, Decision::Returned, "人数有误");
        let pending = v.record(&mut li, lecture(noon(10, 14), &[d], &[a], 100));
        v.submit::<Lecture>(&mut li, pending);
        v.record(&mut li, lecture(noon(10, 15), &[d], &[a], 100));

        // Services: 2.5 h × 3 + 1 h × 1 = 8.5 h by 4 participants; a returned one and one
        // held the day before the period are not counted.
        let counted = [
            service(noon(10, 5), 2.5, &[a, b, c]),
            service(noon(10, 6), 1.0, &[d]),
        ];
        for s in counted {
            let id = v.record(&mut li, s);
            v.approve::<Service>(&mut li, id);
        }
        let returned = v.record(&mut li, service(noon(10, 7), 8.0, &[a, b]));
        v.send_back::<Service>(&mut li, returned, "时长有误");
        let september = v.record(&mut li, service(Millis(from.0 - 1), 8.0, &[a, b]));
        v.approve::<Service>(&mut li, september);

        // Visits: 张家 twice (once with a stray space) and 李家 → 2 households; 王家 is a draft.
        for household in ["张家", "张家 ", "李家"] {
            let id = v.record(&mut he, visit(noon(10, 8), household));
            v.approve::<Visit>(&mut he, id);
        }
        v.record(&mut he, visit(noon(10, 8), "王家"));

        // Screenings: one in the period; one withdrawn; one in November.
        v.screening(noon(10, 5), None);
        let withdrawn = v.screening(noon(10, 12), None);
        let (secretary, now) = (v.secretary.clone(), v.now());
        v.branch
            .withdraw::<Screening>(&secretary, now, withdrawn, None)
            .unwrap();
        v.screening(noon(11, 2), None);

        let today = day(2026, 10, 26);
        let figures = figures(&v.branch, from, until, today);

        assert_eq!(
            figures,
            Figures {
                lectures: 4,
                lectures_by_category: [("political_theory".into(), 3), ("skills".into(), 1)].into(),
                lectures_by_venue: [("courtyard".into(), 3), ("field".into(), 1)].into(),
                lecturers: 3,
                member_attendances: 6,
                villagers: 67,
                audience: 73,
                services: 2,
                volunteer_participants: 4,
                volunteer_hours: 8.5,
                households_visited: 2,
                screenings: 1,
                ..Figures::default()
            }
        );
    }

    #[test]
    fn migrant_members_out_of_touch_for_too_long_are_reminded_longest_first() {
        use crate::model::ledger::{Contact, ContactKind};
        const DAY: i64 = 86_400_000;
        let mut v = Village::new();
        let members: Vec<Member> = ["贺俊爱", "贺立雄", "刘岳云", "彭军", "李章桂"]
            .iter()
            .map(|name| v.join(name))
            .collect();
        let scope = Scope {
            kind: DocKind::Ledger,
            branch: v.branch_id,
            township: v.township,
            owner: None,
        };
        let mut ledger = Ledger::create(scope, START).unwrap();
        let secretary = v.secretary.clone();
        let entry = |migrant| LedgerEntry {
            migrant,
            inflow: false,
            elderly: false,
            infirm: false,
            phone: String::new(),
            city: "广东东莞".into(),
            employer: String::new(),
            study_partner: None,
            contacts: Default::default(),
            updated_by: secretary.user,
            updated_at: START,
            withdrawn: None,
        };
        let contact = |at: Millis| Contact {
            kind: ContactKind::Phone,
            at,
            by: secretary.user,
            notes: "电话联系".into(),
        };
        let now = Millis(START.0 + 100 * DAY);
        // 贺俊爱: called 40 days ago, then 10 days ago → fine. 贺立雄: called 45 days ago →
        // reminded. 刘岳云: never called, on the roster since START → reminded. 彭军: not a
        // migrant. 李章桂: a migrant who has left the branch.
        for (member, migrant, calls) in [
            (&members[0], true, vec![60, 90]),
            (&members[1], true, vec![55]),
            (&members[2], true, vec![]),
            (&members[3], false, vec![]),
            (&members[4], true, vec![]),
        ] {
            let user = member.who.user;
            ledger
                .set_entry(&secretary, START, user, entry(migrant))
                .unwrap();
            for day in calls {
                ledger
                    .log_contact(
                        &secretary,
                        START,
                        user,
                        contact(Millis(START.0 + day * DAY)),
                    )
                    .unwrap();
            }
        }
        let mut left: RosterEntry = v
            .branch
            .get(&schema::ROSTER, &members[4].who.user.to_string())
            .unwrap()
            .unwrap();
        left.left_at = Some(START);
        let (secretary, at) = (v.secretary.clone(), v.now());
        v.branch
            .enrol_member(&secretary, at, members[4].who.user, left)
            .unwrap();

        let reminders = contact_reminders(&v.branch, &ledger, now, 30);
        let names: Vec<(&str, i64)> = reminders
            .iter()
            .map(|r| (r.name.as_str(), r.days))
            .collect();
        // 刘岳云 was enrolled seconds after START: 99 whole days.
        assert_eq!(names, [("刘岳云", 99), ("贺立雄", 45)]);
        assert_eq!(reminders[1].last_contact, Some(Millis(START.0 + 55 * DAY)));
        assert!(contact_reminders(&v.branch, &ledger, now, 100).is_empty());
    }

    #[test]
    fn the_schedule_lists_coming_lectures_and_the_team_its_members_and_guests() {
        let mut v = Village::new();
        let li = v.join("李章桂");
        let he = v.join("贺俊爱");
        let (secretary, now) = (v.secretary.clone(), v.now());
        let mut entry: RosterEntry = v
            .branch
            .get(&schema::ROSTER, &li.who.user.to_string())
            .unwrap()
            .unwrap();
        entry.lecturer = true;
        v.branch
            .enrol_member(&secretary, now, li.who.user, entry)
            .unwrap();
        let entry = |date: Date, speaker: Option<UserId>, guest: Option<&str>| ScheduleEntry {
            date,
            speaker,
            guest_speaker: guest.map(str::to_owned),
            topic: "讲党史".into(),
            venue: Venue::Courtyard,
            created_by: nobody(),
            withdrawn: None,
        };
        for scheduled in [
            entry(day(2026, 11, 20), Some(li.who.user), None),
            entry(day(2026, 11, 5), None, Some("王德顺（种粮大户）")),
            entry(day(2026, 10, 5), Some(he.who.user), None),
        ] {
            let now = v.now();
            v.branch
                .schedule_lecture(&secretary, now, scheduled)
                .unwrap();
        }
        // Nobody to speak: refused, nothing written.
        let heads = v.branch.heads();
        let now = v.now();
        assert!(
            v.branch
                .schedule_lecture(&secretary, now, entry(day(2026, 12, 1), None, Some(" ")))
                .is_err()
        );
        assert_eq!(v.branch.heads(), heads);

        let coming = schedule(&v.branch, day(2026, 11, 1));
        let seen: Vec<(&str, bool)> = coming
            .iter()
            .map(|s| (s.speaker_name.as_str(), s.guest))
            .collect();
        assert_eq!(seen, [("王德顺（种粮大户）", true), ("李章桂", false)]);
        let team = lecture_team(&v.branch);
        assert_eq!(team.members, [(li.who.user, "李章桂".to_owned())]);
        assert_eq!(team.guests, ["王德顺（种粮大户）"]);
    }

    #[test]
    fn an_approved_revision_counts_until_an_admin_reviews_what_replaced_it() {
        let mut v = Village::new();
        let mut li = v.join("李章桂");
        let lz = li.who.user;
        let (from, until) = (day(2026, 10, 1).cst_start(), day(2026, 11, 1).cst_start());
        let today = day(2026, 10, 26);
        let id = v.record(&mut li, lecture(noon(10, 10), &[lz], &[], 10));
        v.approve::<Lecture>(&mut li, id);
        let villagers = |v: &Village| figures(&v.branch, from, until, today).villagers;
        assert_eq!(villagers(&v), 10);

        // Edited: a draft again, and the approved revision still counts, as approved.
        let now = v.now();
        li.notebook
            .edit_record::<Lecture>(&li.who, now, id, |l| l.audience = 40)
            .unwrap();
        let mine = &my_submissions(&li.notebook, li.id, &v.branch)[0];
        assert_eq!((&mine.review, mine.counted), (&ReviewState::Draft, true));
        assert_eq!(villagers(&v), 10);
        // Submitted again: pending, and still the approved 10 until it is reviewed.
        let revision = v.submit::<Lecture>(&mut li, id);
        assert_eq!(revision, 2);
        assert_eq!(villagers(&v), 10);
        assert_eq!(review_queue(&v.branch, &[&li.notebook]).len(), 1);
        v.review::<Lecture>(&li, id, 2, Decision::Approved, "好");
        assert_eq!(villagers(&v), 40);
        let mine = &my_submissions(&li.notebook, li.id, &v.branch)[0];
        let approved = ReviewState::Approved {
            comment: "好".into(),
        };
        assert_eq!((&mine.review, mine.counted), (&approved, true));

        // Withdrawn by its member: it waits in the queue and counts until an admin takes the
        // approval back; nothing leaves the figures unseen.
        v.withdraw::<Lecture>(&mut li, id);
        assert_eq!(villagers(&v), 40);
        let queue = review_queue(&v.branch, &[&li.notebook]);
        assert_eq!(queue.len(), 1);
        assert!(queue[0].withdrawn && queue[0].revision == 2);
        v.review::<Lecture>(&li, id, 2, Decision::Returned, "成员已撤回");
        assert_eq!(villagers(&v), 0);
        assert!(review_queue(&v.branch, &[&li.notebook]).is_empty());
    }

    #[test]
    fn rectifications_are_counted_as_they_stand_today() {
        use ProgressStatus::{Done, InProgress, Verified};
        let mut v = Village::new();
        let today = day(2026, 10, 26);
        v.rectification(day(2026, 10, 20), &[]); // open and overdue
        v.rectification(today, &[InProgress]); // in progress, due today: not overdue
        v.rectification(day(2026, 12, 31), &[]); // open, not due yet
        v.rectification(day(2026, 9, 1), &[InProgress, Done]); // late but done
        v.rectification(day(2026, 9, 1), &[InProgress, Done, Verified]);
        let withdrawn = v.rectification(day(2026, 9, 1), &[]);
        let (secretary, now) = (v.secretary.clone(), v.now());
        v.branch
            .withdraw::<Rectification>(&secretary, now, withdrawn, None)
            .unwrap();

        // The period does not matter (this one is empty): the list is what stands that day.
        let on = |today| figures(&v.branch, START, START, today);
        let standing = on(today);
        assert_eq!(
            (
                standing.rectifications_open,
                standing.rectifications_overdue,
                standing.rectifications_done,
                standing.rectifications_verified,
            ),
            (3, 1, 1, 1)
        );
        assert_eq!(on(day(2026, 10, 27)).rectifications_overdue, 2);
    }

    fn pledge(year: i64, commitments: &[&str]) -> Pledge {
        Pledge {
            year,
            member: nobody(),
            commitments: commitments.iter().map(|c| (*c).to_owned()).collect(),
            created_at: START,
            withdrawn: None,
        }
    }

    /// Why an operation was not allowed.
    fn refusal<T: std::fmt::Debug>(result: Result<T, OpError>) -> &'static str {
        match result {
            Err(OpError::NotAllowed(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    impl Village {
        /// Publishes the member's pledge `id` as the notebook holds it now.
        fn publish_pledge(&mut self, member: &Member, id: RecordId) -> Result<RecordId, OpError> {
            let (secretary, now) = (self.secretary.clone(), self.now());
            let pledge: Pledge = member
                .notebook
                .get(&schema::PLEDGES, &id.to_string())?
                .unwrap();
            let source = RecordRef {
                notebook: member.id,
                kind: ReviewableKind::Pledge,
                id,
            };
            self.branch.publish_pledge(&secretary, now, source, &pledge)
        }
    }

    #[test]
    fn a_pledge_goes_on_the_wall_once_and_follows_the_members_edits() {
        let mut v = Village::new();
        let mut li = v.join("李文静");
        let he = v.join("贺俊爱");
        let id = v.record(
            &mut li,
            pledge(2026, &["带头秸秆禁烧", "每月上门看望两户老人"]),
        );
        v.record(&mut li, pledge(2025, &["去年的承诺"]));
        let collected =
            |v: &Village, li: &Member| pledges(&v.branch, &[&li.notebook, &he.notebook], 2026);

        let before = collected(&v, &li);
        assert_eq!(
            before.pledges.len(),
            1,
            "only the year's pledges: {before:?}"
        );
        assert_eq!(before.pledges[0].wall, WallState::Unpublished);
        assert_eq!(before.pledges[0].name, "李文静");
        assert_eq!(
            before
                .not_yet
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>(),
            ["贺俊爱"]
        );
        assert!(pledge_wall(&v.branch, 2026).is_empty());

        let copy = v.publish_pledge(&li, id).unwrap();
        let wall = pledge_wall(&v.branch, 2026);
        assert_eq!(wall.len(), 1);
        assert_eq!((wall[0].id, wall[0].name.as_str()), (copy, "李文静"));
        assert_eq!(
            wall[0].commitments,
            ["带头秸秆禁烧", "每月上门看望两户老人"]
        );
        assert!(
            pledge_wall(&v.branch, 2025).is_empty(),
            "the wall is the year's"
        );
        assert!(
            feed(&v.branch).is_empty(),
            "pledges are not broadcast in the feed"
        );
        assert_eq!(collected(&v, &li).pledges[0].wall, WallState::Published);

        // The member edits it: the wall still shows what was published, marked changed.
        let now = v.now();
        li.notebook
            .document_mut()
            .update(&li.who, now, id, pledge(2026, &["带头秸秆禁烧"]))
            .unwrap();
        assert_eq!(collected(&v, &li).pledges[0].wall, WallState::Changed);
        assert_eq!(pledge_wall(&v.branch, 2026)[0].commitments.len(), 2);

        // Publishing again replaces the copy rather than adding a second.
        assert_eq!(v.publish_pledge(&li, id).unwrap(), copy);
        let wall = pledge_wall(&v.branch, 2026);
        assert_eq!(wall.len(), 1);
        assert_eq!(wall[0].commitments, ["带头秸秆禁烧"]);
        assert_eq!(collected(&v, &li).pledges[0].wall, WallState::Published);

        // Withdrawn by the member: the admin is told to take it down; once down, it is gone.
        let now = v.now();
        li.notebook
            .withdraw::<Pledge>(&li.who, now, id, None)
            .unwrap();
        let after = collected(&v, &li);
        assert_eq!(after.pledges[0].wall, WallState::Withdrawn);
        assert_eq!(after.not_yet.len(), 2, "a withdrawn pledge is no pledge");
        assert_eq!(
            refusal(v.publish_pledge(&li, id)),
            "the member has withdrawn this pledge; it cannot be published"
        );
        let (secretary, now) = (v.secretary.clone(), v.now());
        v.branch
            .withdraw::<FeedItem>(&secretary, now, copy, None)
            .unwrap();
        assert!(pledge_wall(&v.branch, 2026).is_empty());
        assert!(collected(&v, &li).pledges.is_empty());
    }

    #[test]
    fn a_pledge_is_published_from_its_members_own_notebook_only() {
        let mut v = Village::new();
        let mut li = v.join("李文静");
        let mut stranger = v.stranger();
        let id = v.record(&mut li, pledge(2026, &["带头秸秆禁烧"]));
        let theirs = v.record(&mut stranger, pledge(2026, &["不在花名册上"]));

        assert_eq!(
            refusal(v.publish_pledge(&stranger, theirs)),
            "only a member on the branch's roster can pledge on its wall"
        );
        // Li's pledge claimed as coming from someone else's notebook.
        let (secretary, now) = (v.secretary.clone(), v.now());
        let held: Pledge = li
            .notebook
            .get(&schema::PLEDGES, &id.to_string())
            .unwrap()
            .unwrap();
        let elsewhere = RecordRef {
            notebook: stranger.id,
            kind: ReviewableKind::Pledge,
            id,
        };
        assert_eq!(
            refusal(v.branch.publish_pledge(&secretary, now, elsewhere, &held)),
            "a pledge is published from its member's own notebook"
        );
        let as_lecture = RecordRef {
            kind: ReviewableKind::Lecture,
            ..elsewhere
        };
        assert_eq!(
            refusal(v.branch.publish_pledge(&secretary, now, as_lecture, &held)),
            "only a pledge goes on the pledge wall"
        );
        // Only the branch's admins write its wall.
        let source = RecordRef {
            notebook: li.id,
            ..elsewhere
        };
        assert!(matches!(
            v.branch.publish_pledge(&li.who, now, source, &held),
            Err(OpError::Denied(_))
        ));
        assert!(pledge_wall(&v.branch, 2026).is_empty());
        assert!(
            pledges(&v.branch, &[&stranger.notebook], 2026)
                .pledges
                .is_empty()
        );
    }
}
