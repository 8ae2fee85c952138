//! 周官桥乡's 合益村 branch: the people of the seed articles and their documents.

use client_core::model::branch::{BranchRole, RosterEntry};
use client_core::model::common::{MediaRef, Submission, SubmissionState};
use client_core::model::notebook::{Lecture, LectureCategory, Venue};
use client_core::{
    Branch, BranchId, DocumentId, Millis, Notebook, Principal, Role, Scope, Supervision,
    TownshipId, UserId,
};
use client_core::{DocKind, Ledger};

/// 2026-10-12T02:00:00Z, a Monday morning in October in Beijing.
pub const NOW: Millis = Millis(1_791_770_400_000);

pub fn later(minutes: i64) -> Millis {
    Millis(NOW.0 + minutes * 60_000)
}

#[derive(Debug, Clone)]
pub struct Person {
    pub name: &'static str,
    pub principal: Principal,
    pub notebook_id: DocumentId,
}

pub struct Village {
    pub township: TownshipId,
    pub branch_id: BranchId,
    pub secretary: Person,
    pub deputy: Person,
    /// 李章桂, who gives the lecture at the 屋场坪.
    pub li: Person,
    pub member: Person,
    pub township_admin: Principal,
    pub branch: Branch,
    pub ledger: Ledger,
    pub supervision: Supervision,
}

impl Village {
    pub fn new() -> Self {
        let township = TownshipId::generate().unwrap();
        let branch_id = BranchId::generate().unwrap();
        let person = |name, role| Person {
            name,
            principal: Principal {
                user: UserId::generate().unwrap(),
                role,
                branch: Some(branch_id),
                township: Some(township),
            },
            notebook_id: DocumentId::generate().unwrap(),
        };
        let secretary = person("王建国", Role::BranchAdmin);
        let deputy = person("刘秀英", Role::BranchAdmin);
        let li = person("李章桂", Role::Member);
        let member = person("彭军", Role::Member);
        let township_admin = Principal {
            user: UserId::generate().unwrap(),
            role: Role::TownshipAdmin,
            branch: None,
            township: Some(township),
        };
        let scope = |kind| Scope {
            kind,
            branch: branch_id,
            township,
            owner: None,
        };
        let mut branch = Branch::create(scope(DocKind::Branch), NOW).unwrap();
        for p in [&secretary, &deputy, &li, &member] {
            let role = if p.principal.role == Role::BranchAdmin {
                BranchRole::Admin
            } else {
                BranchRole::Member
            };
            let entry = RosterEntry {
                name: p.name.into(),
                role,
                notebook: p.notebook_id,
                joined_at: NOW,
                left_at: None,
                silver: false,
                lecturer: false,
            };
            branch
                .enrol_member(&secretary.principal, NOW, p.principal.user, entry)
                .unwrap();
        }
        Self {
            township,
            branch_id,
            ledger: Ledger::create(scope(DocKind::Ledger), NOW).unwrap(),
            supervision: Supervision::create(scope(DocKind::Supervision), NOW).unwrap(),
            secretary,
            deputy,
            li,
            member,
            township_admin,
            branch,
        }
    }

    pub fn notebook_of(&self, person: &Person) -> Notebook {
        Notebook::create(self.notebook_scope(person), NOW).unwrap()
    }

    pub fn notebook_scope(&self, person: &Person) -> Scope {
        Scope {
            kind: DocKind::Notebook,
            branch: self.branch_id,
            township: self.township,
            owner: Some(person.principal.user),
        }
    }
}

/// 李章桂's lecture at the 屋场坪 of 合益村: 12 attendees and 30 villagers.
/// `lecture` as an admin reads it once its `revision` has been submitted.
pub fn submitted_lecture(speaker: &Person, revision: i64) -> Lecture {
    Lecture {
        submission: Submission {
            state: SubmissionState::Submitted,
            revision,
            submitted_at: Some(NOW),
        },
        ..lecture(speaker, &[])
    }
}

pub fn lecture(speaker: &Person, attendees: &[UserId]) -> Lecture {
    Lecture {
        title: "忆扶贫故事、做合格党员、推乡村振兴".into(),
        category: LectureCategory::PoliticalTheory,
        venue: Venue::Courtyard,
        held_at: NOW,
        duration_min: 25,
        place: "合益村屋场坪".into(),
        gps: None,
        speakers: vec![speaker.principal.user],
        guest_speaker: None,
        recorded_by: speaker.principal.user,
        attendees: attendees.to_vec(),
        audience: 30,
        summary: "结合扶贫经历讲身份意识、宗旨意识、服务意识。".into(),
        media: vec![MediaRef {
            sha256: "ab".repeat(32),
            size: 2_400_000,
            media_type: "image/jpeg".into(),
            duration_ms: None,
            caption: Some("屋场坪上讲党课".into()),
        }],
        plan: None,
        submission: Submission::draft(),
        created_at: NOW,
        withdrawn: None,
    }
}
