//! A member's notebook: what one member records, written only from their own devices.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::common::{Gps, MediaRef, Submission, Withdrawal};
use super::domain_enum;
use crate::ids::{RecordId, UserId};
use crate::time::{Millis, Month};

domain_enum!(
    /// What a lecture is about.
    LectureCategory {
        /// 思政 / 政治理论
        PoliticalTheory = "political_theory",
        /// 基层业务
        GrassrootsWork = "grassroots_work",
        /// 技能提升
        Skills = "skills",
        Other = "other",
    }
);

domain_enum!(
    /// Where a lecture was given.
    Venue {
        /// 田间课堂
        Field = "field",
        /// 屋场会
        Courtyard = "courtyard",
        /// 集市微讲台
        Market = "market",
        /// 党员活动室
        ActivityRoom = "activity_room",
        /// 上门送课
        HomeDelivery = "home_delivery",
        /// A migrant member's recorded lesson.
        Remote = "remote",
    }
);

/// A micro-lecture (微党课), recorded by the member who gave it or on a speaker's behalf.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Lecture {
    pub title: String,
    pub category: LectureCategory,
    pub venue: Venue,
    pub held_at: Millis,
    pub duration_min: i64,
    pub place: String,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub gps: Option<Gps>,
    /// Members who spoke; may differ from `recorded_by` (a secretary records for an old member).
    pub speakers: Vec<UserId>,
    /// A guest speaker who is not a member, such as a local expert (土专家).
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub guest_speaker: Option<String>,
    pub recorded_by: UserId,
    /// Members present, ticked from the roster.
    pub attendees: Vec<UserId>,
    /// Villagers present who are not members (群众).
    pub audience: i64,
    pub summary: String,
    pub media: Vec<MediaRef>,
    /// The month whose plan this lecture fulfils.
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub plan: Option<Month>,
    pub submission: Submission,
    pub created_at: Millis,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub withdrawn: Option<Withdrawal>,
}

domain_enum!(
    /// The kind of volunteer service.
    ServiceKind {
        /// 秸秆禁烧、森林防火巡逻
        Patrol = "patrol",
        /// 卫生清理
        Sanitation = "sanitation",
        /// 义诊
        Clinic = "clinic",
        /// 重阳慰问
        ElderlyCare = "elderly_care",
        /// 应急处置
        Emergency = "emergency",
        Other = "other",
    }
);

/// Volunteer service (志愿服务), the practice (实践) of the monthly plan.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Service {
    pub kind: ServiceKind,
    pub title: String,
    pub held_at: Millis,
    /// Hours each participant served.
    pub hours: f64,
    pub participants: Vec<UserId>,
    /// How many people were served.
    pub beneficiaries: i64,
    pub place: String,
    pub notes: String,
    pub media: Vec<MediaRef>,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub plan: Option<Month>,
    pub recorded_by: UserId,
    pub submission: Submission,
    pub created_at: Millis,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub withdrawn: Option<Withdrawal>,
}

domain_enum!(
    /// How a visit was made (the seeds' 家访, 函访, 走访, and the study taken to a member's
    /// home).
    VisitKind {
        /// 走访: calling on a household (联系户) to hear its needs.
        Walk = "walk",
        /// 家访: a home visit to a member's family.
        HomeVisit = "home_visit",
        /// 函访: by letter or message, to a member far away.
        Letter = "letter",
        /// 谈心谈话: a heart-to-heart talk.
        HeartTalk = "heart_talk",
        /// 送学上门: the "one-person party lecture" taken to an old or infirm member's home
        /// (一对一帮学).
        StudyDelivery = "study_delivery",
    }
);

impl Default for VisitKind {
    /// Visits recorded before they had a kind were calls on households.
    fn default() -> Self {
        VisitKind::Walk
    }
}

/// A household visit (走访 / 联系户), or another kind of visit (`kind`).
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Visit {
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub kind: VisitKind,
    /// The household visited, or the member for a visit to a member.
    pub household: String,
    pub visitors: Vec<UserId>,
    pub visited_at: Millis,
    /// Needs and problems found.
    pub needs: String,
    pub follow_up: String,
    pub media: Vec<MediaRef>,
    pub recorded_by: UserId,
    pub submission: Submission,
    pub created_at: Millis,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub withdrawn: Option<Withdrawal>,
}

/// A member's ballot in a branch election, kept under the election's id so that each member
/// has at most one ballot per election (re-voting while open replaces it).
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Ballot {
    pub voter: UserId,
    /// Ids of the chosen candidates.
    pub choices: Vec<RecordId>,
    pub cast_at: Millis,
}

/// A member's public commitments for a year (承诺).
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Pledge {
    pub year: i64,
    pub member: UserId,
    pub commitments: Vec<String>,
    pub created_at: Millis,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub withdrawn: Option<Withdrawal>,
}
