//! Operations, per persona: what a member, a branch admin and a township admin can do to the
//! document kind they write. Every operation checks the access rules, writes in one Automerge
//! transaction, runs the same validation the server runs, and commits only if it passes.

use std::ops::Deref;

use autosurgeon::{Hydrate, Reconcile};

use crate::access::Principal;
use crate::document::{DocKind, Document, DocumentError, OpError, Scope};
use crate::ids::{RecordId, UserId};
use crate::model::branch::{
    Counted, Decision, Election, ElectionResult, FeedItem, Meeting, Plan, Rectification, Review,
    RosterEntry, ScheduleEntry, Screening, Tally,
};
use crate::model::common::{
    MediaRef, Progress, ProgressStatus, RecordRef, ReviewableKind, Step, Submission,
    SubmissionState, Withdrawal,
};
use crate::model::ledger::{Contact, LedgerEntry};
use crate::model::notebook::{Ballot, Lecture, Pledge, Service, Visit};
use crate::model::supervision::{Assessment, Problem, SupervisionNote};
use crate::schema::{self, Collection};
use crate::time::{Millis, Month};
use crate::validate::{Elections, Limits};

/// A record type stored in a collection of some document kind.
pub trait Record: Reconcile + Hydrate + Clone + PartialEq {
    const COLLECTION: &'static Collection;

    /// Sets what the author does not choose on a new record: who made it and when.
    fn stamp_new(&mut self, by: &Principal, now: Millis);

    /// Copies from the stored record what an edit must not change.
    fn carry_over(&mut self, stored: &Self);

    fn withdrawn_mut(&mut self) -> Option<&mut Option<Withdrawal>>;

    fn withdrawal(&self) -> Option<&Withdrawal>;

    fn is_withdrawn(&self) -> bool {
        self.withdrawal().is_some()
    }
}

/// A record a member submits for review.
pub trait Reviewable: Record {
    const KIND: ReviewableKind;
    fn submission(&self) -> &Submission;
    fn submission_mut(&mut self) -> &mut Submission;
    /// What lists show as its name.
    fn title(&self) -> &str;
    /// When it happened, which decides the period it counts in.
    fn at(&self) -> Millis;
    fn recorded_by(&self) -> UserId;
    /// What the feed shows as its text: a lecture's summary, a service's notes, the needs a
    /// visit found.
    fn body(&self) -> &str;
    /// The people it names: speakers, participants, visitors.
    fn people(&self) -> &[UserId];
    fn media(&self) -> &[MediaRef];
    /// What an approval of it counts in the branch's books.
    fn counted(&self) -> Counted;
}

/// Declares how a record type is stamped when made and what an edit keeps from the stored
/// record:
///
/// - `author`: set to the acting person when the record is made, never changed after;
/// - `at`: set to `now` when made, never changed after;
/// - `kept`: other fields an edit cannot change (they move only through their own operation);
/// - `fresh`: fields a new record starts with, whatever the caller passed;
/// - `withdrawable` or `permanent`: whether the record has a `withdrawn` field.
macro_rules! record {
    (
        $type:ident in $collection:path,
        author: [$($author:ident)?],
        at: [$($at:ident)?],
        kept: [$($kept:ident),*],
        fresh: [$($fresh:ident = $value:expr),*],
        $withdrawn:ident
    ) => {
        impl Record for $type {
            const COLLECTION: &'static Collection = &$collection;

            #[allow(unused_variables)]
            fn stamp_new(&mut self, by: &Principal, now: Millis) {
                $(self.$author = by.user;)?
                $(self.$at = now;)?
                $(self.$fresh = $value;)*
                record!(@fresh self, $withdrawn);
            }

            #[allow(unused_variables)]
            fn carry_over(&mut self, stored: &Self) {
                $(self.$author = stored.$author.clone();)?
                $(self.$at = stored.$at;)?
                $(self.$kept = stored.$kept.clone();)*
                record!(@carry self, stored, $withdrawn);
            }

            fn withdrawn_mut(&mut self) -> Option<&mut Option<Withdrawal>> {
                record!(@slot self, $withdrawn)
            }

            fn withdrawal(&self) -> Option<&Withdrawal> {
                record!(@read self, $withdrawn)
            }
        }
    };
    (@fresh $self:ident, withdrawable) => { $self.withdrawn = None };
    (@fresh $self:ident, permanent) => { () };
    (@carry $self:ident, $stored:ident, withdrawable) => {
        $self.withdrawn = $stored.withdrawn.clone()
    };
    (@carry $self:ident, $stored:ident, permanent) => { () };
    (@slot $self:ident, withdrawable) => { Some(&mut $self.withdrawn) };
    (@slot $self:ident, permanent) => { None };
    (@read $self:ident, withdrawable) => { $self.withdrawn.as_ref() };
    (@read $self:ident, permanent) => { None };
}

macro_rules! reviewable {
    ($($type:ident in $collection:path, title: $title:ident, at: $at:ident, body: $body:ident,
        people: $people:ident);+ $(;)?) => {$(
        record!($type in $collection, author: [recorded_by], at: [created_at],
            kept: [submission], fresh: [submission = Submission::draft()], withdrawable);

        impl Reviewable for $type {
            const KIND: ReviewableKind = ReviewableKind::$type;
            fn submission(&self) -> &Submission {
                &self.submission
            }
            fn submission_mut(&mut self) -> &mut Submission {
                &mut self.submission
            }
            fn title(&self) -> &str {
                &self.$title
            }
            fn at(&self) -> Millis {
                self.$at
            }
            fn recorded_by(&self) -> UserId {
                self.recorded_by
            }
            fn body(&self) -> &str {
                &self.$body
            }
            fn people(&self) -> &[UserId] {
                &self.$people
            }
            fn media(&self) -> &[MediaRef] {
                &self.media
            }
            fn counted(&self) -> Counted {
                self.counted_facts()
            }
        }
    )+};
}

reviewable!(
    Lecture in schema::LECTURES, title: title, at: held_at, body: summary, people: speakers;
    Service in schema::SERVICES, title: title, at: held_at, body: notes, people: participants;
    Visit in schema::VISITS, title: household, at: visited_at, body: needs, people: visitors;
);
impl Lecture {
    fn counted_facts(&self) -> Counted {
        Counted {
            plan: self.plan,
            category: Some(self.category),
            venue: Some(self.venue),
            speakers: self.speakers.clone(),
            attendees: self.attendees.clone(),
            audience: self.audience,
            ..Counted::of(&self.title, self.held_at)
        }
    }
}

impl Service {
    fn counted_facts(&self) -> Counted {
        Counted {
            plan: self.plan,
            hours: self.hours,
            participants: self.participants.clone(),
            ..Counted::of(&self.title, self.held_at)
        }
    }
}

impl Visit {
    fn counted_facts(&self) -> Counted {
        Counted::of(&self.household, self.visited_at)
    }
}

record!(Ballot in schema::BALLOTS, author: [voter], at: [cast_at], kept: [], fresh: [], permanent);
record!(Pledge in schema::PLEDGES, author: [member], at: [created_at], kept: [], fresh: [], withdrawable);
record!(RosterEntry in schema::ROSTER, author: [], at: [joined_at], kept: [notebook], fresh: [], permanent);
record!(Plan in schema::PLANS, author: [created_by], at: [created_at], kept: [], fresh: [], withdrawable);
record!(ScheduleEntry in schema::SCHEDULE, author: [created_by], at: [], kept: [], fresh: [], withdrawable);
record!(Meeting in schema::MEETINGS, author: [recorded_by], at: [created_at], kept: [], fresh: [], withdrawable);
record!(Screening in schema::SCREENINGS, author: [recorded_by], at: [created_at], kept: [], fresh: [], withdrawable);
record!(Review in schema::REVIEWS, author: [reviewer], at: [at],
    kept: [record, revision, decision, comment, publish, fine_example, counted], fresh: [], permanent);
record!(Election in schema::ELECTIONS, author: [created_by], at: [created_at],
    kept: [candidates, max_choices, opens_at, closes_at, result], fresh: [result = None], withdrawable);
record!(Rectification in schema::RECTIFICATIONS, author: [created_by], at: [created_at],
    kept: [progress], fresh: [progress = Progress::default()], withdrawable);
record!(FeedItem in schema::FEED, author: [published_by], at: [published_at],
    kept: [source, kind], fresh: [], withdrawable);
// A ledger entry names whoever updated it last; `Ledger::set_entry` stamps that on every write.
record!(LedgerEntry in schema::LEDGER_ENTRIES, author: [], at: [], kept: [], fresh: [], withdrawable);
record!(SupervisionNote in schema::NOTES, author: [by], at: [at], kept: [], fresh: [], withdrawable);
record!(Problem in schema::PROBLEMS, author: [created_by], at: [created_at],
    kept: [progress], fresh: [progress = Progress::default()], withdrawable);
record!(Assessment in schema::ASSESSMENTS, author: [by], at: [at], kept: [], fresh: [], withdrawable);

/// Operations every document kind shares.
impl Document {
    /// Adds a new record under a fresh UUIDv7.
    pub fn add<T: Record>(
        &mut self,
        by: &Principal,
        now: Millis,
        mut record: T,
    ) -> Result<RecordId, OpError> {
        let id = RecordId::generate(now)?;
        record.stamp_new(by, now);
        self.write(by, now, T::COLLECTION, &id.to_string(), &record, None)?;
        Ok(id)
    }

    /// Adds or replaces the record under a natural key (a month, a member, an election).
    fn put_keyed<T: Record>(
        &mut self,
        by: &Principal,
        now: Millis,
        key: &str,
        mut record: T,
        elections: Option<&dyn Elections>,
    ) -> Result<(), OpError> {
        match self.get::<T>(T::COLLECTION, key)? {
            Some(stored) => record.carry_over(&stored),
            None => record.stamp_new(by, now),
        }
        self.write(by, now, T::COLLECTION, key, &record, elections)
    }

    /// Replaces a record's content; what the author may not change is kept as stored.
    pub fn update<T: Record>(
        &mut self,
        by: &Principal,
        now: Millis,
        id: RecordId,
        mut record: T,
    ) -> Result<(), OpError> {
        let stored = self.require::<T>(&id.to_string())?;
        record.carry_over(&stored);
        self.write(by, now, T::COLLECTION, &id.to_string(), &record, None)
    }

    /// Reads a record, changes it with `edit`, and writes it back.
    pub fn edit<T: Record>(
        &mut self,
        by: &Principal,
        now: Millis,
        id: RecordId,
        edit: impl FnOnce(&mut T),
    ) -> Result<(), OpError> {
        let mut record = self.require::<T>(&id.to_string())?;
        edit(&mut record);
        self.update(by, now, id, record)
    }

    /// Takes a record out of use. It stays in the document; it is no longer shown or counted.
    pub fn withdraw<T: Record>(
        &mut self,
        by: &Principal,
        now: Millis,
        id: RecordId,
        reason: Option<String>,
    ) -> Result<(), OpError> {
        let mut record = self.require::<T>(&id.to_string())?;
        let slot = record.withdrawn_mut().ok_or(OpError::NotAllowed(
            "this kind of record cannot be withdrawn",
        ))?;
        if slot.is_some() {
            return Ok(());
        }
        *slot = Some(Withdrawal {
            at: now,
            by: by.user,
            reason,
        });
        self.write(by, now, T::COLLECTION, &id.to_string(), &record, None)
    }

    /// The record `key` of `T`'s collection, or `NotFound`.
    pub fn require<T: Record>(&self, key: &str) -> Result<T, OpError> {
        self.get::<T>(T::COLLECTION, key)?
            .ok_or_else(|| OpError::NotFound {
                collection: T::COLLECTION.name,
                key: key.to_owned(),
            })
    }

    /// Moves a rectification or problem forward to `status`, recording who and when.
    fn advance<T: Record>(
        &mut self,
        by: &Principal,
        now: Millis,
        id: RecordId,
        status: ProgressStatus,
        note: Option<String>,
        progress: impl FnOnce(&mut T) -> &mut Progress,
    ) -> Result<(), OpError> {
        let mut record = self.require::<T>(&id.to_string())?;
        let progress = progress(&mut record);
        if status <= progress.status() {
            return Err(OpError::Invalid(crate::Violation::Backward {
                path: format!("{}/{id}/progress/{status}", T::COLLECTION.name),
            }));
        }
        let slot = progress
            .step_mut(status)
            .ok_or(OpError::NotAllowed("open is where progress starts"))?;
        *slot = Some(Step {
            at: now,
            by: by.user,
            note,
        });
        self.write(by, now, T::COLLECTION, &id.to_string(), &record, None)
    }
}

macro_rules! document_handle {
    ($(#[$doc:meta])* $name:ident, $kind:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(Document);

        impl $name {
            /// Creates the document (the server does this).
            pub fn create(mut scope: Scope, now: Millis) -> Result<Self, DocumentError> {
                scope.kind = DocKind::$kind;
                Document::create(scope, now).map(Self)
            }

            pub fn load(bytes: &[u8], limits: Limits) -> Result<Self, DocumentError> {
                Document::load_kind(bytes, DocKind::$kind, limits).map(Self)
            }

            pub fn into_document(self) -> Document {
                self.0
            }

            pub fn document_mut(&mut self) -> &mut Document {
                &mut self.0
            }

            pub fn document(&self) -> &Document {
                &self.0
            }

            /// Wraps a document whose kind the caller has just checked.
            pub(crate) fn from_checked(document: Document) -> Self {
                debug_assert_eq!(document.scope().kind, DocKind::$kind);
                Self(document)
            }
        }

        impl Deref for $name {
            type Target = Document;
            fn deref(&self) -> &Document {
                &self.0
            }
        }

        impl TryFrom<Document> for $name {
            type Error = DocumentError;
            fn try_from(document: Document) -> Result<Self, DocumentError> {
                let found = document.scope().kind;
                if found == DocKind::$kind {
                    Ok(Self(document))
                } else {
                    Err(DocumentError::WrongKind { expected: DocKind::$kind, found })
                }
            }
        }
    };
}

document_handle!(
    /// A member's notebook. Only its owner writes it.
    Notebook, Notebook
);
document_handle!(
    /// A branch's shared document. Its admins write it.
    Branch, Branch
);
document_handle!(
    /// A branch's private member ledger. Its admins write it.
    Ledger, Ledger
);
document_handle!(
    /// The township's supervision of one branch. The township writes it.
    Supervision, Supervision
);

/// A member's operations on their own notebook.
impl Notebook {
    pub fn record_lecture(
        &mut self,
        by: &Principal,
        now: Millis,
        lecture: Lecture,
    ) -> Result<RecordId, OpError> {
        self.0.add(by, now, lecture)
    }

    pub fn record_service(
        &mut self,
        by: &Principal,
        now: Millis,
        service: Service,
    ) -> Result<RecordId, OpError> {
        self.0.add(by, now, service)
    }

    pub fn record_visit(
        &mut self,
        by: &Principal,
        now: Millis,
        visit: Visit,
    ) -> Result<RecordId, OpError> {
        self.0.add(by, now, visit)
    }

    pub fn make_pledge(
        &mut self,
        by: &Principal,
        now: Millis,
        pledge: Pledge,
    ) -> Result<RecordId, OpError> {
        self.0.add(by, now, pledge)
    }

    /// Edits a reviewable record. Editing a submitted record takes it back to draft: what an
    /// admin approves must be exactly what they saw, so it has to be submitted again.
    pub fn edit_record<T: Reviewable>(
        &mut self,
        by: &Principal,
        now: Millis,
        id: RecordId,
        edit: impl FnOnce(&mut T),
    ) -> Result<(), OpError> {
        let stored = self.0.require::<T>(&id.to_string())?;
        let mut record = stored.clone();
        edit(&mut record);
        self.replace_record(by, now, id, &stored, record)
    }

    /// Replaces a reviewable record's content (see [`Notebook::edit_record`]).
    pub fn update_record<T: Reviewable>(
        &mut self,
        by: &Principal,
        now: Millis,
        id: RecordId,
        record: T,
    ) -> Result<(), OpError> {
        let stored = self.0.require::<T>(&id.to_string())?;
        self.replace_record(by, now, id, &stored, record)
    }

    fn replace_record<T: Reviewable>(
        &mut self,
        by: &Principal,
        now: Millis,
        id: RecordId,
        stored: &T,
        mut record: T,
    ) -> Result<(), OpError> {
        record.carry_over(stored);
        if record == *stored {
            // Unchanged: nothing to write, and no reason to recall a submission.
            return Ok(());
        }
        record.submission_mut().state = SubmissionState::Draft;
        self.0
            .write(by, now, T::COLLECTION, &id.to_string(), &record, None)
    }

    /// Hands a record in for review: each submission is a new revision.
    pub fn submit<T: Reviewable>(
        &mut self,
        by: &Principal,
        now: Millis,
        id: RecordId,
    ) -> Result<i64, OpError> {
        let mut record = self.0.require::<T>(&id.to_string())?;
        let submission = record.submission_mut();
        if submission.state == SubmissionState::Submitted {
            return Ok(submission.revision);
        }
        submission.state = SubmissionState::Submitted;
        submission.revision += 1;
        submission.submitted_at = Some(now);
        let revision = submission.revision;
        self.0
            .write(by, now, T::COLLECTION, &id.to_string(), &record, None)?;
        Ok(revision)
    }

    pub fn withdraw<T: Record>(
        &mut self,
        by: &Principal,
        now: Millis,
        id: RecordId,
        reason: Option<String>,
    ) -> Result<(), OpError> {
        self.0.withdraw::<T>(by, now, id, reason)
    }

    /// Casts (or, while the election is open, changes) this member's ballot.
    pub fn cast_ballot(
        &mut self,
        by: &Principal,
        now: Millis,
        branch: &Branch,
        election: RecordId,
        choices: Vec<RecordId>,
    ) -> Result<(), OpError> {
        let ballot = Ballot {
            voter: by.user,
            choices,
            cast_at: now,
        };
        let key = election.to_string();
        let mut ballot = ballot;
        ballot.stamp_new(by, now);
        self.0
            .write(by, now, &schema::BALLOTS, &key, &ballot, Some(branch))
    }
}

impl Elections for Branch {
    fn election(&self, id: RecordId) -> Option<Election> {
        self.0
            .get(&schema::ELECTIONS, &id.to_string())
            .ok()
            .flatten()
    }
}

/// What an admin decides about one revision of a member's record.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReviewDecision {
    pub record: RecordRef,
    pub revision: i64,
    pub decision: Decision,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub publish: bool,
    #[serde(default)]
    pub fine_example: bool,
}

/// A branch admin's operations on the branch document.
impl Branch {
    /// Puts a member on the roster, or updates their entry.
    pub fn enrol_member(
        &mut self,
        by: &Principal,
        now: Millis,
        member: UserId,
        entry: RosterEntry,
    ) -> Result<(), OpError> {
        self.0.put_keyed(by, now, &member.to_string(), entry, None)
    }

    /// Creates or edits the plan of `month`. Two admins planning the same month edit one plan.
    pub fn set_plan(
        &mut self,
        by: &Principal,
        now: Millis,
        month: Month,
        plan: Plan,
    ) -> Result<(), OpError> {
        self.0.put_keyed(by, now, &month.to_string(), plan, None)
    }

    pub fn plan(&self, month: Month) -> Option<Plan> {
        self.0
            .get(&schema::PLANS, &month.to_string())
            .ok()
            .flatten()
    }

    /// Puts a lecture on the schedule (讲课安排表), by a member or a guest expert.
    pub fn schedule_lecture(
        &mut self,
        by: &Principal,
        now: Millis,
        entry: ScheduleEntry,
    ) -> Result<RecordId, OpError> {
        if entry.speaker.is_none() && entry.guest_speaker.as_deref().is_none_or(str::is_empty) {
            return Err(OpError::NotAllowed(
                "a scheduled lecture names its speaker: a member or a guest",
            ));
        }
        self.0.add(by, now, entry)
    }

    pub fn record_meeting(
        &mut self,
        by: &Principal,
        now: Millis,
        meeting: Meeting,
    ) -> Result<RecordId, OpError> {
        self.0.add(by, now, meeting)
    }

    pub fn record_screening(
        &mut self,
        by: &Principal,
        now: Millis,
        screening: Screening,
    ) -> Result<RecordId, OpError> {
        self.0.add(by, now, screening)
    }

    /// Records a review decision on `record`, the member's record as the admin read it. An
    /// approval copies what the record counts into the review (`Counted`), so that the
    /// branch's figures and plan are known from the branch document alone. Returning a record
    /// needs a comment saying why.
    pub fn review<T: Reviewable>(
        &mut self,
        by: &Principal,
        now: Millis,
        decision: ReviewDecision,
        record: &T,
    ) -> Result<RecordId, OpError> {
        let submission = record.submission();
        if decision.record.kind != T::KIND
            || submission.state != SubmissionState::Submitted
            || submission.revision != decision.revision
        {
            // The admin must have read the very revision the review names.
            return Err(OpError::NotAllowed(
                "a review names the submitted revision of the record it judges",
            ));
        }
        let counted = (decision.decision == Decision::Approved).then(|| record.counted());
        let review = Review {
            record: decision.record,
            revision: decision.revision,
            decision: decision.decision,
            comment: decision.comment,
            reviewer: by.user,
            at: now,
            publish: decision.publish,
            fine_example: decision.fine_example,
            counted,
        };
        self.0.add(by, now, review)
    }

    /// Copies approved material into the branch feed for every member to see.
    pub fn publish(
        &mut self,
        by: &Principal,
        now: Millis,
        item: FeedItem,
    ) -> Result<RecordId, OpError> {
        self.0.add(by, now, item)
    }

    /// Publishes a member's record to the feed (展播): what the feed shows is copied from it,
    /// with the people it names as the roster calls them.
    pub fn publish_record<T: Reviewable>(
        &mut self,
        by: &Principal,
        now: Millis,
        source: RecordRef,
        record: &T,
        fine_example: bool,
    ) -> Result<RecordId, OpError> {
        let roster: std::collections::BTreeMap<String, RosterEntry> =
            self.0.records(&schema::ROSTER).into_iter().collect();
        let speakers = record
            .people()
            .iter()
            .filter_map(|user| {
                roster
                    .get(&user.to_string())
                    .map(|entry| entry.name.clone())
            })
            .collect();
        self.publish(
            by,
            now,
            FeedItem {
                source,
                kind: T::KIND,
                title: record.title().to_owned(),
                body: record.body().to_owned(),
                speakers,
                held_at: record.at(),
                media: record.media().to_vec(),
                fine_example,
                published_by: by.user,
                published_at: now,
                withdrawn: None,
            },
        )
    }

    /// Puts a member's pledge (承诺) on the branch's pledge wall, copied from their notebook: a
    /// feed item of kind pledge whose title is the member's name as the roster calls them,
    /// whose body is the commitments one to a line, and which is dated the first moment of
    /// the pledge's year, the year it counts in. Publishing a pledge already on the wall
    /// replaces the copy there with what the member has now, so an edited pledge is
    /// republished rather than shown twice.
    pub fn publish_pledge(
        &mut self,
        by: &Principal,
        now: Millis,
        source: RecordRef,
        pledge: &Pledge,
    ) -> Result<RecordId, OpError> {
        if source.kind != ReviewableKind::Pledge {
            return Err(OpError::NotAllowed("only a pledge goes on the pledge wall"));
        }
        if pledge.is_withdrawn() {
            return Err(OpError::NotAllowed(
                "the member has withdrawn this pledge; it cannot be published",
            ));
        }
        let member: RosterEntry = self
            .0
            .get(&schema::ROSTER, &pledge.member.to_string())?
            .ok_or(OpError::NotAllowed(
                "only a member on the branch's roster can pledge on its wall",
            ))?;
        if member.notebook != source.notebook {
            return Err(OpError::NotAllowed(
                "a pledge is published from its member's own notebook",
            ));
        }
        let year = i32::try_from(pledge.year).map_err(|_| {
            OpError::Invalid(crate::Violation::OutOfRange {
                path: "pledges/year".to_owned(),
            })
        })?;
        let item = FeedItem {
            source,
            kind: ReviewableKind::Pledge,
            title: member.name.clone(),
            body: pledge.commitments.join("\n"),
            speakers: vec![member.name],
            held_at: crate::time::Period::Year(year).range().start,
            media: Vec::new(),
            fine_example: false,
            published_by: by.user,
            published_at: now,
            withdrawn: None,
        };
        let on_wall = self
            .0
            .records::<FeedItem>(&schema::FEED)
            .into_iter()
            .find(|(_, item)| item.source == source && !item.is_withdrawn())
            .and_then(|(key, _)| key.parse::<RecordId>().ok());
        match on_wall {
            Some(id) => self.0.update(by, now, id, item).map(|()| id),
            None => self.publish(by, now, item),
        }
    }

    pub fn open_rectification(
        &mut self,
        by: &Principal,
        now: Millis,
        rectification: Rectification,
    ) -> Result<RecordId, OpError> {
        self.0.add(by, now, rectification)
    }

    pub fn advance_rectification(
        &mut self,
        by: &Principal,
        now: Millis,
        id: RecordId,
        status: ProgressStatus,
        note: Option<String>,
    ) -> Result<(), OpError> {
        self.0
            .advance::<Rectification>(by, now, id, status, note, |r| &mut r.progress)
    }

    pub fn create_election(
        &mut self,
        by: &Principal,
        now: Millis,
        election: Election,
    ) -> Result<RecordId, OpError> {
        self.0.add(by, now, election)
    }

    /// Counts the ballots of a closed election and publishes the result to the branch.
    pub fn count_election<'a>(
        &mut self,
        by: &Principal,
        now: Millis,
        id: RecordId,
        ballots: impl IntoIterator<Item = &'a Ballot>,
    ) -> Result<ElectionResult, OpError> {
        let mut election = self.0.require::<Election>(&id.to_string())?;
        if now < election.closes_at {
            return Err(OpError::NotAllowed(
                "an election is counted only after it closes",
            ));
        }
        if election.result.is_some() {
            return Err(OpError::NotAllowed(
                "this election has already been counted",
            ));
        }
        let mut tallies: Vec<Tally> = election
            .candidates
            .iter()
            .map(|c| Tally {
                candidate: c.id,
                votes: 0,
            })
            .collect();
        let mut counted = 0;
        for ballot in ballots {
            if !(election.opens_at <= ballot.cast_at && ballot.cast_at < election.closes_at) {
                continue;
            }
            counted += 1;
            for choice in &ballot.choices {
                if let Some(tally) = tallies.iter_mut().find(|t| t.candidate == *choice) {
                    tally.votes += 1;
                }
            }
        }
        let result = ElectionResult {
            counted_at: now,
            ballots: counted,
            tallies,
        };
        election.result = Some(result.clone());
        self.0.write(
            by,
            now,
            &schema::ELECTIONS,
            &id.to_string(),
            &election,
            None,
        )?;
        Ok(result)
    }

    pub fn withdraw<T: Record>(
        &mut self,
        by: &Principal,
        now: Millis,
        id: RecordId,
        reason: Option<String>,
    ) -> Result<(), OpError> {
        self.0.withdraw::<T>(by, now, id, reason)
    }

    pub fn edit<T: Record>(
        &mut self,
        by: &Principal,
        now: Millis,
        id: RecordId,
        edit: impl FnOnce(&mut T),
    ) -> Result<(), OpError> {
        self.0.edit(by, now, id, edit)
    }
}

/// A branch admin's operations on the member ledger.
impl Ledger {
    pub fn set_entry(
        &mut self,
        by: &Principal,
        now: Millis,
        member: UserId,
        mut entry: LedgerEntry,
    ) -> Result<(), OpError> {
        entry.updated_by = by.user;
        entry.updated_at = now;
        self.0.put_keyed(by, now, &member.to_string(), entry, None)
    }

    /// Logs a contact with a member (家访, 函访, 走访 …).
    pub fn log_contact(
        &mut self,
        by: &Principal,
        now: Millis,
        member: UserId,
        contact: Contact,
    ) -> Result<RecordId, OpError> {
        let mut entry = self.0.require::<LedgerEntry>(&member.to_string())?;
        let id = RecordId::generate(now)?;
        entry.contacts.insert(
            id.to_string(),
            Contact {
                by: by.user,
                ..contact
            },
        );
        entry.updated_by = by.user;
        entry.updated_at = now;
        self.0.write(
            by,
            now,
            &schema::LEDGER_ENTRIES,
            &member.to_string(),
            &entry,
            None,
        )?;
        Ok(id)
    }

    pub fn entry(&self, member: UserId) -> Option<LedgerEntry> {
        self.0
            .get(&schema::LEDGER_ENTRIES, &member.to_string())
            .ok()
            .flatten()
    }
}

/// A township admin's operations on the supervision of one branch.
impl Supervision {
    pub fn write_note(
        &mut self,
        by: &Principal,
        now: Millis,
        note: SupervisionNote,
    ) -> Result<RecordId, OpError> {
        self.0.add(by, now, note)
    }

    pub fn raise_problem(
        &mut self,
        by: &Principal,
        now: Millis,
        problem: Problem,
    ) -> Result<RecordId, OpError> {
        self.0.add(by, now, problem)
    }

    pub fn advance_problem(
        &mut self,
        by: &Principal,
        now: Millis,
        id: RecordId,
        status: ProgressStatus,
        note: Option<String>,
    ) -> Result<(), OpError> {
        self.0
            .advance::<Problem>(by, now, id, status, note, |p| &mut p.progress)
    }

    pub fn assess(
        &mut self,
        by: &Principal,
        now: Millis,
        assessment: Assessment,
    ) -> Result<RecordId, OpError> {
        self.0.add(by, now, assessment)
    }
}
