//! The branch document: what the branch's admins keep and every member of the branch reads.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::common::{MediaRef, Progress, Prose, RecordRef, ReviewableKind, Withdrawal};
use super::domain_enum;
use super::notebook::{LectureCategory, Venue};
use crate::ids::{DocumentId, RecordId, UserId};
use crate::time::{Date, Millis, Month};

domain_enum!(
    /// A person's role within their branch, as the roster shows it.
    BranchRole {
        Member = "member",
        Admin = "admin",
    }
);

/// One member of the branch, keyed by their user id in the roster.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct RosterEntry {
    pub name: String,
    pub role: BranchRole,
    /// The member's notebook document.
    pub notebook: DocumentId,
    pub joined_at: Millis,
    /// Set when the member moved to another branch (组织关系转接) or left.
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub left_at: Option<Millis>,
    /// An older member (银发党员) whom a secretary may record for.
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub silver: bool,
    /// On the branch's lecture team (微讲队).
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub lecturer: bool,
}

/// The monthly plan 一月一课一片一实践: one lecture, one film, one practice. Plans are keyed
/// by their month (`YYYY-MM`), so two admins planning the same month offline edit one plan.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Plan {
    pub lecture_topic: String,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub lecture_speaker: Option<UserId>,
    pub film_title: String,
    pub practice: String,
    /// The themed party day (主题党日).
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub theme_day: Option<Date>,
    /// Free notes; collaborative text, so that two admins writing at once both keep their words.
    pub notes: Prose,
    pub created_by: UserId,
    pub created_at: Millis,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub withdrawn: Option<Withdrawal>,
}

/// An entry of the lecture schedule (讲课安排表): who lectures when, on what. The speaker is
/// a member of the branch, or a guest expert (土专家) who is not.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct ScheduleEntry {
    pub date: Date,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub speaker: Option<UserId>,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub guest_speaker: Option<String>,
    pub topic: String,
    pub venue: Venue,
    pub created_by: UserId,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub withdrawn: Option<Withdrawal>,
}

domain_enum!(
    /// 三会一课 and the themed party day.
    MeetingKind {
        /// 支部党员大会
        MembersAssembly = "members_assembly",
        /// 支委会
        Committee = "committee",
        /// 党小组会
        Group = "group",
        /// 党课
        PartyLecture = "party_lecture",
        /// 主题党日
        ThemeDay = "theme_day",
    }
);

/// A meeting with its attendance and minutes.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Meeting {
    pub kind: MeetingKind,
    pub held_at: Millis,
    pub attendees: Vec<UserId>,
    pub agenda: String,
    pub minutes: Prose,
    pub decisions: Vec<String>,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub plan: Option<Month>,
    pub recorded_by: UserId,
    pub created_at: Millis,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub withdrawn: Option<Withdrawal>,
}

/// A film screening (一片).
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Screening {
    pub film: String,
    pub held_at: Millis,
    pub place: String,
    pub attendees: Vec<UserId>,
    pub audience: i64,
    pub discussion: String,
    /// Photos of the screening; absent from screenings recorded before they had any.
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub media: Vec<MediaRef>,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub plan: Option<Month>,
    pub recorded_by: UserId,
    pub created_at: Millis,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub withdrawn: Option<Withdrawal>,
}

domain_enum!(
    /// An admin's decision on a submitted record.
    Decision {
        Approved = "approved",
        Returned = "returned",
    }
);

/// An admin's review (审核) of one revision of a member's record.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Review {
    pub record: RecordRef,
    pub revision: i64,
    pub decision: Decision,
    pub comment: String,
    pub reviewer: UserId,
    pub at: Millis,
    /// Published for broadcast (展播).
    pub publish: bool,
    /// Marked as a fine example (精品).
    pub fine_example: bool,
    /// What an approval puts in the branch's books; absent from a return.
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub counted: Option<Counted>,
}

/// The facts of an approved revision that the branch's figures and monthly plan count,
/// copied from the member's record by the admin who approves it.
///
/// Members never read one another's notebooks, so without this copy a member's phone could
/// not tell whether the month's lecture was given; and the figures must keep counting the
/// revision an admin approved while its member edits it again, which the notebook no longer
/// holds. With it, every phone, the server and the exports count the same approvals from the
/// branch document alone.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Counted {
    /// The lecture's or service's title, or the household visited.
    pub title: String,
    /// When it was held, or the visit made: the period it counts in.
    pub held_at: Millis,
    /// The month whose plan it carries out.
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub plan: Option<Month>,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub category: Option<LectureCategory>,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub venue: Option<Venue>,
    /// A lecture's speakers who are members.
    pub speakers: Vec<UserId>,
    /// Members present at a lecture.
    pub attendees: Vec<UserId>,
    /// Villagers present at a lecture.
    pub audience: i64,
    /// A service's hours per participant.
    pub hours: f64,
    pub participants: Vec<UserId>,
}

impl Counted {
    /// A record of `title` held at `held_at` that counts nothing else yet.
    pub fn of(title: &str, held_at: Millis) -> Self {
        Self {
            title: title.to_owned(),
            held_at,
            plan: None,
            category: None,
            venue: None,
            speakers: Vec::new(),
            attendees: Vec::new(),
            audience: 0,
            hours: 0.0,
            participants: Vec::new(),
        }
    }
}

/// A candidate in an election: a member, or a record such as a lecture for 十佳党课.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Candidate {
    pub id: RecordId,
    pub label: String,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub member: Option<UserId>,
}

/// The counted result of an election, written once it has closed.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct ElectionResult {
    pub counted_at: Millis,
    pub ballots: i64,
    pub tallies: Vec<Tally>,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Tally {
    pub candidate: RecordId,
    pub votes: i64,
}

/// An election (评选) such as 发展之星 or 十佳党课. Its candidates and window are fixed when
/// it is created, so that a ballot valid when cast stays valid.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Election {
    pub title: String,
    pub candidates: Vec<Candidate>,
    pub max_choices: i64,
    pub opens_at: Millis,
    pub closes_at: Millis,
    pub created_by: UserId,
    pub created_at: Millis,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub result: Option<ElectionResult>,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub withdrawn: Option<Withdrawal>,
}

impl Election {
    pub fn is_open_at(&self, at: Millis) -> bool {
        self.withdrawn.is_none() && self.opens_at <= at && at < self.closes_at
    }
}

/// A problem the branch must fix (问题清单 / 整改), tracked to verification.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Rectification {
    pub problem: String,
    /// 整改措施
    pub measure: String,
    /// 完成时限
    pub deadline: Date,
    /// 工作标准
    pub standard: String,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub responsible: Option<UserId>,
    /// The visit that found the problem, if any.
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub from_visit: Option<RecordRef>,
    /// The township problem (in the supervision document) this answers, if any.
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub from_supervision: Option<RecordId>,
    pub progress: Progress,
    pub evidence: Vec<MediaRef>,
    pub created_by: UserId,
    pub created_at: Millis,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub withdrawn: Option<Withdrawal>,
}

/// Published material in the branch feed: a copy made by the reviewing admin, so that members
/// never need to read one another's notebooks.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct FeedItem {
    pub source: RecordRef,
    pub kind: ReviewableKind,
    pub title: String,
    pub body: String,
    /// Names as shown, copied at publication.
    pub speakers: Vec<String>,
    pub held_at: Millis,
    pub media: Vec<MediaRef>,
    pub fine_example: bool,
    pub published_by: UserId,
    pub published_at: Millis,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub withdrawn: Option<Withdrawal>,
}
