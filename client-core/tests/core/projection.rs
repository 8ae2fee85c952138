use client_core::model::branch::{Decision, Rectification};
use client_core::model::common::{Progress, ProgressStatus, RecordRef, ReviewableKind};
use client_core::model::notebook::Lecture;
use client_core::ops::ReviewDecision;
use client_core::projection::{Cell, project_all, project_changes};
use client_core::{DocKind, RecordId};

use crate::fixture::{NOW, Village, later, lecture, submitted_lecture};

#[test]
fn a_lecture_projects_its_owner_time_status_people_and_media() {
    let village = Village::new();
    let li = village.li.principal.clone();
    let mut notebook = village.notebook_of(&village.li);
    let attendees = [
        village.secretary.principal.user,
        village.member.principal.user,
    ];
    let draft = notebook
        .record_lecture(&li, NOW, lecture(&village.li, &attendees))
        .unwrap();
    let submitted = notebook
        .record_lecture(&li, NOW, lecture(&village.li, &[]))
        .unwrap();
    notebook
        .submit::<Lecture>(&li, later(1), submitted)
        .unwrap();
    let withdrawn = notebook
        .record_lecture(&li, NOW, lecture(&village.li, &[]))
        .unwrap();
    let before = notebook.heads();
    notebook
        .withdraw::<Lecture>(&li, later(2), withdrawn, None)
        .unwrap();

    let all = project_all(notebook.automerge(), DocKind::Notebook);
    let row = |id: RecordId| {
        all.records
            .iter()
            .find(|r| r.key == id.to_string())
            .unwrap()
            .clone()
    };
    assert_eq!(row(draft).status, "draft");
    assert_eq!(row(draft).collection, "lectures");
    assert_eq!(row(draft).owner, Some(li.user.to_string()));
    assert_eq!(row(draft).occurred_at, Some(NOW.0));
    assert_eq!(row(submitted).status, "submitted");
    assert_eq!(row(submitted).revision, Some(1));
    assert_eq!(row(withdrawn).status, "withdrawn");
    let people: Vec<(&str, &str)> = all
        .people
        .iter()
        .filter(|p| p.key == draft.to_string())
        .map(|p| (p.field, p.person.as_str()))
        .collect();
    assert_eq!(people.len(), 3, "two attendees and the speaker: {people:?}");
    assert!(people.contains(&("speakers", li.user.to_string().as_str())));
    assert_eq!(all.media.len(), 3, "one photo per lecture");
    assert_eq!(all.media[0].sha256, "ab".repeat(32));

    // Every scalar field, for figures to count and group by and ledgers to list: choices,
    // numbers, times, people and text alike.
    let values: Vec<(&str, Cell)> = all
        .values
        .iter()
        .filter(|v| v.key == draft.to_string())
        .map(|v| (v.field, v.value.clone()))
        .collect();
    for expected in [
        ("category", Cell::Text("political_theory".into())),
        ("venue", Cell::Text("courtyard".into())),
        ("duration_min", Cell::Number(25.0)),
        ("audience", Cell::Number(30.0)),
        ("held_at", Cell::Number(NOW.0 as f64)),
        ("recorded_by", Cell::Text(li.user.to_string())),
        ("place", Cell::Text("合益村屋场坪".into())),
    ] {
        assert!(values.contains(&expected), "{expected:?} in {values:?}");
    }
    assert!(
        !values
            .iter()
            .any(|(field, _)| ["plan", "gps", "media", "attendees", "submission"].contains(field)),
        "a plan left empty, objects and lists have no value rows: {values:?}"
    );

    // The projection of a change holds just the records it touched.
    let changes = notebook.automerge().get_changes(&before);
    let changed = project_changes(notebook.automerge(), DocKind::Notebook, &changes);
    assert_eq!(changed.touched, vec![("lectures", withdrawn.to_string())]);
    assert_eq!(changed.records, vec![row(withdrawn)]);
}

#[test]
fn reviews_and_rectifications_project_their_subject_decision_and_progress() {
    let mut village = Village::new();
    let secretary = village.secretary.principal.clone();
    let lecture_id = RecordId::generate(NOW).unwrap();
    let decision = ReviewDecision {
        record: RecordRef {
            notebook: village.li.notebook_id,
            kind: ReviewableKind::Lecture,
            id: lecture_id,
        },
        revision: 1,
        decision: Decision::Returned,
        comment: "请补充照片".into(),
        publish: false,
        fine_example: false,
    };
    let review = village
        .branch
        .review(
            &secretary,
            NOW,
            decision,
            &submitted_lecture(&village.li, 1),
        )
        .unwrap();
    let rectification = Rectification {
        problem: "党员活动室资料归档不规范".into(),
        measure: "按月整理三会一课记录".into(),
        deadline: "2026-11-30".parse().unwrap(),
        standard: "资料齐全、分类清楚".into(),
        responsible: None,
        from_visit: None,
        from_supervision: None,
        progress: Progress::default(),
        evidence: vec![],
        created_by: secretary.user,
        created_at: NOW,
        withdrawn: None,
    };
    let open = village
        .branch
        .open_rectification(&secretary, NOW, rectification)
        .unwrap();
    village
        .branch
        .advance_rectification(&secretary, later(5), open, ProgressStatus::Done, None)
        .unwrap();

    let all = project_all(village.branch.automerge(), DocKind::Branch);
    let row = |id: RecordId| {
        all.records
            .iter()
            .find(|r| r.key == id.to_string())
            .unwrap()
            .clone()
    };
    assert_eq!(row(review).collection, "reviews");
    assert_eq!(row(review).status, "returned");
    assert_eq!(row(review).subject, Some(lecture_id.to_string()));
    assert_eq!(
        row(review).subject_document,
        Some(village.li.notebook_id.to_string())
    );
    assert_eq!(row(review).subject_collection, Some("lectures"));
    assert_eq!(row(review).revision, Some(1));
    assert_eq!(row(review).owner, Some(secretary.user.to_string()));
    assert_eq!(row(open).status, "done");
    assert!(all.values.iter().any(|v| v.key == open.to_string()
        && v.field == "deadline"
        && v.value == Cell::Text("2026-11-30".into())));
    // The roster projects one row per member, owned by the member it describes.
    assert!(
        all.records
            .iter()
            .any(|r| r.collection == "roster" && r.owner.as_deref() == Some(r.key.as_str()))
    );
}
