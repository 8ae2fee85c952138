//! The village every end-to-end test starts from: 合益村's branch document and 李章桂's
//! notebook on a fresh server database, the people who use them, and their tokens.

use client_core::model::branch::{BranchRole, RosterEntry};
use client_core::model::common::{MediaRef, Submission};
use client_core::model::notebook::{Lecture, LectureCategory, Venue};
use client_core::{
    Branch, BranchId, DocKind, DocumentId, Limits, Millis, Notebook, Principal, Role, Scope,
    TownshipId, UserId, schema,
};
use tianjian_server::auth::{Claims, Keys};
use tianjian_server::store::Store;

pub const NOW: Millis = Millis(1_791_770_400_000);
pub const SECRET: &[u8] = b"test signing key, not a real one";

pub struct Village {
    pub li: Principal,
    pub secretary: Principal,
    pub outsider: Principal,
    pub branch: DocumentId,
    pub notebook: DocumentId,
    pub notebook_bytes: Vec<u8>,
}

/// A server database with 合益村's branch document and 李章桂's notebook.
pub async fn village(store: &Store) -> Village {
    let (township, branch_id) = (
        TownshipId::generate().unwrap(),
        BranchId::generate().unwrap(),
    );
    let person = |role| Principal {
        user: UserId::generate().unwrap(),
        role,
        branch: Some(branch_id),
        township: Some(township),
    };
    let (li, secretary) = (person(Role::Member), person(Role::BranchAdmin));
    let outsider = Principal {
        branch: Some(BranchId::generate().unwrap()),
        ..person(Role::Member)
    };
    let (branch, notebook) = (
        DocumentId::generate().unwrap(),
        DocumentId::generate().unwrap(),
    );
    let scope = |kind, owner| Scope {
        kind,
        branch: branch_id,
        township,
        owner,
    };
    let mut branch_doc = Branch::create(scope(DocKind::Branch, None), NOW).unwrap();
    let entry = RosterEntry {
        name: "李章桂".into(),
        role: BranchRole::Member,
        notebook,
        joined_at: NOW,
        left_at: None,
        silver: false,
    };
    branch_doc
        .enrol_member(&secretary, NOW, li.user, entry)
        .unwrap();
    let mut notebook_doc = Notebook::create(scope(DocKind::Notebook, Some(li.user)), NOW).unwrap();
    let notebook_bytes = notebook_doc.document_mut().save();
    store
        .create_document(
            branch,
            *branch_doc.scope(),
            NOW.0,
            branch_doc.document_mut().save(),
        )
        .await
        .unwrap();
    store
        .create_document(
            notebook,
            *notebook_doc.scope(),
            NOW.0,
            notebook_bytes.clone(),
        )
        .await
        .unwrap();
    Village {
        li,
        secretary,
        outsider,
        branch,
        notebook,
        notebook_bytes,
    }
}

pub fn token(keys: &Keys, who: &Principal) -> String {
    let claims = Claims {
        sub: who.user,
        role: who.role,
        branch: who.branch,
        township: who.township,
        exp: 4_102_444_800,
    };
    keys.issue(&claims).unwrap()
}

pub fn lecture(speaker: &Principal) -> Lecture {
    Lecture {
        title: "忆扶贫故事、做合格党员、推乡村振兴".into(),
        category: LectureCategory::PoliticalTheory,
        venue: Venue::Courtyard,
        held_at: NOW,
        duration_min: 25,
        place: "合益村屋场坪".into(),
        gps: None,
        speakers: vec![speaker.user],
        guest_speaker: None,
        recorded_by: speaker.user,
        attendees: vec![],
        audience: 30,
        summary: "屋场坪上讲党课".into(),
        media: vec![MediaRef {
            sha256: "ab".repeat(32),
            size: 2_400_000,
            media_type: "image/jpeg".into(),
            duration_ms: None,
            caption: None,
        }],
        plan: None,
        submission: Submission::draft(),
        created_at: NOW,
        withdrawn: None,
    }
}

pub fn lectures_in(bytes: &[u8]) -> usize {
    Notebook::load(bytes, Limits::default())
        .map(|n| n.records::<Lecture>(&schema::LECTURES).len())
        .unwrap_or(0)
}
