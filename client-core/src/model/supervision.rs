//! The supervision document: the township's notes on one branch, its problem list and the
//! year-end assessment. Written by the township, read by the township and the branch's admins.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::common::{MediaRef, Progress, Withdrawal};
use super::domain_enum;
use crate::ids::UserId;
use crate::time::{Date, Millis};

domain_enum!(
    /// How the township learned what a note records.
    SupervisionMethod {
        /// 平时调度
        Dispatch = "dispatch",
        /// 听取汇报
        Report = "report",
        /// 党群座谈
        Forum = "forum",
        /// 查阅资料
        Documents = "documents",
        /// 实地查看
        OnSite = "on_site",
    }
);

/// A supervision note (督查) on the branch.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct SupervisionNote {
    pub method: SupervisionMethod,
    pub at: Millis,
    pub by: UserId,
    pub body: String,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub withdrawn: Option<Withdrawal>,
}

/// A problem the township asks the branch to fix, tracked by the township to `verified`.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Problem {
    pub problem: String,
    pub measure: String,
    pub deadline: Date,
    pub standard: String,
    /// Who answers for it: a member of the branch, or a name.
    pub owner: String,
    pub progress: Progress,
    /// What the branch shows of its work on it (photos); absent from problems raised before
    /// branches could add any.
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub evidence: Vec<MediaRef>,
    pub created_by: UserId,
    pub created_at: Millis,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub withdrawn: Option<Withdrawal>,
}

domain_enum!(
    /// The year-end grade of a branch.
    Grade {
        /// 好
        Excellent = "excellent",
        /// 较好
        Good = "good",
        /// 一般
        Fair = "fair",
        /// 差
        Poor = "poor",
    }
);

/// The year-end assessment of the branch.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Assessment {
    pub year: i64,
    pub grade: Grade,
    pub summary: String,
    pub by: UserId,
    pub at: Millis,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub withdrawn: Option<Withdrawal>,
}
