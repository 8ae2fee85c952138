//! Hostile input: hand-made documents and changes that an honest client would never make, and
//! random bytes. Each is refused with the rule it breaks; nothing panics.

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjType, ROOT, ReadDoc, ScalarValue};
use client_core::model::branch::Decision;
use client_core::model::common::{RecordRef, ReviewableKind};
use client_core::model::notebook::Lecture;
use client_core::ops::ReviewDecision;
use client_core::validate::{self, Context, Limits};
use client_core::{Document, Principal, Violation, schema};
use proptest::prelude::*;

use crate::fixture::{NOW, Village, later, lecture, submitted_lecture};

/// A notebook of 李章桂 with one lecture, as raw Automerge, and the lecture's id.
fn notebook_with_lecture(village: &Village) -> (Automerge, String) {
    let li = &village.li;
    let mut notebook = village.notebook_of(li);
    let id = notebook
        .record_lecture(&li.principal, NOW, lecture(li, &[]))
        .unwrap();
    notebook
        .withdraw::<Lecture>(&li.principal, later(1), id, None)
        .unwrap();
    let bytes = notebook.into_document().save();
    (Automerge::load(&bytes).unwrap(), id.to_string())
}

/// Applies `hostile` as a change by `author` and returns what validation says of it.
fn check_change(
    village: &Village,
    mut doc: Automerge,
    author: &Principal,
    scope: client_core::Scope,
    hostile: impl FnOnce(&mut automerge::transaction::Transaction<'_>, &automerge::ObjId),
) -> Result<(), Violation> {
    let _ = village;
    let before = doc.get_heads();
    let mut tx = doc.transaction();
    let collection = match tx.get(ROOT, "lectures").unwrap() {
        Some((_, obj)) => obj,
        None => ROOT,
    };
    hostile(&mut tx, &collection);
    tx.commit();
    let ctx = Context {
        scope,
        authors: std::slice::from_ref(author),
        elections: None,
        limits: Limits::default(),
        rules: validate::RULES,
    };
    validate::validate_changes(&doc, &before, &ctx)
}

fn record(
    tx: &automerge::transaction::Transaction<'_>,
    lectures: &automerge::ObjId,
    id: &str,
) -> automerge::ObjId {
    tx.get(lectures, id).unwrap().unwrap().1
}

macro_rules! refused {
    ($result:expr, $pattern:pat) => {{
        let result = $result;
        assert!(
            matches!(result, Err($pattern)),
            "expected {}, got {:?}",
            stringify!($pattern),
            result
        );
    }};
}

#[test]
fn hostile_patches_to_a_notebook_are_refused() {
    let village = Village::new();
    let li = village.li.principal.clone();
    let scope = village.notebook_scope(&village.li);
    let change =
        |f: &dyn Fn(&mut automerge::transaction::Transaction<'_>, &automerge::ObjId, &str)| {
            let (doc, id) = notebook_with_lecture(&village);
            check_change(&village, doc, &li, scope, |tx, lectures| {
                f(tx, lectures, &id)
            })
        };

    // An honest edit passes, so the refusals below are about what they change.
    change(&|tx, l, id| {
        let r = record(tx, l, id);
        tx.put(&r, "audience", 31_i64).unwrap();
    })
    .unwrap();

    refused!(
        change(&|tx, l, id| {
            let r = record(tx, l, id);
            tx.put(&r, "title", 42_i64).unwrap();
        }),
        Violation::WrongType { .. }
    );
    refused!(
        change(&|tx, l, id| {
            let r = record(tx, l, id);
            tx.put(&r, "bitcoin_address", "1abc").unwrap();
        }),
        Violation::UnknownKey { .. }
    );
    refused!(
        change(&|tx, l, id| {
            let r = record(tx, l, id);
            tx.put(&r, "summary", "长".repeat(10 << 20)).unwrap();
        }),
        Violation::TooLong { .. } | Violation::ChangesTooLarge { .. }
    );
    refused!(
        change(&|tx, l, id| {
            let r = record(tx, l, id);
            tx.put(&r, "venue", "moon").unwrap();
        }),
        Violation::NotAllowed { .. }
    );
    refused!(
        change(&|tx, l, id| {
            let r = record(tx, l, id);
            tx.put(&r, "held_at", ScalarValue::Timestamp(i64::MAX))
                .unwrap();
        }),
        Violation::OutOfRange { .. }
    );
    refused!(
        change(&|tx, l, id| {
            let r = record(tx, l, id);
            tx.delete(&r, "title").unwrap();
        }),
        Violation::Missing { .. }
    );
    // Someone else's record inside this member's notebook.
    refused!(
        change(&|tx, l, id| {
            let r = record(tx, l, id);
            tx.put(&r, "recorded_by", village.member.principal.user.to_string())
                .unwrap();
        }),
        Violation::NotOwner { .. } | Violation::Immutable { .. }
    );
    // A new record naming another member, slipped into this member's notebook.
    refused!(
        change(&|tx, l, _| {
            let mut foreign = lecture(&village.member, &[]);
            foreign.recorded_by = village.member.principal.user;
            let key = client_core::RecordId::generate(NOW).unwrap().to_string();
            autosurgeon::reconcile_prop(tx, l, key.as_str(), &foreign).unwrap();
        }),
        Violation::NotOwner { .. }
    );
    // Records are withdrawn, never deleted; and a withdrawal is never undone.
    refused!(
        change(&|tx, l, id| {
            tx.delete(l, id).unwrap();
        }),
        Violation::Deleted { .. }
    );
    refused!(
        change(&|tx, l, id| {
            let r = record(tx, l, id);
            tx.put(&r, "withdrawn", ScalarValue::Null).unwrap();
        }),
        Violation::Immutable { .. }
    );
    refused!(
        change(&|tx, l, id| {
            let r = record(tx, l, id);
            let s = tx.get(&r, "submission").unwrap().unwrap().1;
            tx.put(&s, "revision", -1_i64).unwrap();
        }),
        Violation::OutOfRange { .. }
    );
    // Keys must be record ids, and the layout made by the server never changes.
    refused!(
        change(&|tx, l, _| {
            tx.put_object(l, "not-a-uuid", ObjType::Map).unwrap();
        }),
        Violation::BadKey { .. }
    );
    refused!(
        change(&|tx, _, _| {
            tx.put(ROOT, "extra", 1_i64).unwrap();
        }),
        Violation::Immutable { .. }
    );
    refused!(
        change(&|tx, _, _| {
            tx.put_object(ROOT, "lectures", ObjType::Map).unwrap();
        }),
        Violation::Immutable { .. }
    );
    refused!(
        change(&|tx, _, _| {
            let m = tx.get(ROOT, "meta").unwrap().unwrap().1;
            tx.put(&m, "owner", village.member.principal.user.to_string())
                .unwrap();
        }),
        Violation::MetaMismatch
    );
    // Deeply nested values go nowhere: refused at the first level the schema does not expect.
    refused!(
        change(&|tx, l, id| {
            let r = record(tx, l, id);
            let mut obj = tx.put_object(&r, "summary", ObjType::Map).unwrap();
            for _ in 0..2_000 {
                obj = tx.put_object(&obj, "x", ObjType::Map).unwrap();
            }
        }),
        Violation::WrongType { .. } | Violation::TooDeep { .. }
    );
    refused!(
        change(&|tx, l, id| {
            let r = record(tx, l, id);
            let mut obj = tx.put_object(&r, "gps", ObjType::Map).unwrap();
            for _ in 0..2_000 {
                let list = tx.put_object(&obj, "lat", ObjType::List).unwrap();
                obj = tx.insert_object(&list, 0, ObjType::Map).unwrap();
            }
        }),
        Violation::WrongType { .. } | Violation::TooDeep { .. }
    );
}

#[test]
fn writes_by_people_who_may_not_write_are_refused() {
    let village = Village::new();
    let scope = village.notebook_scope(&village.li);
    let (doc, id) = notebook_with_lecture(&village);
    let result = check_change(&village, doc, &village.member.principal, scope, |tx, l| {
        let r = tx.get(l, &id).unwrap().unwrap().1;
        tx.put(&r, "audience", 1_i64).unwrap();
    });
    refused!(result, Violation::WriteDenied { .. });

    // Changes nobody answers for are never accepted.
    let (mut doc, id) = notebook_with_lecture(&village);
    let before = doc.get_heads();
    let mut tx = doc.transaction();
    let lectures = tx.get(ROOT, "lectures").unwrap().unwrap().1;
    let record = tx.get(&lectures, id.as_str()).unwrap().unwrap().1;
    tx.put(&record, "audience", 2_i64).unwrap();
    tx.commit();
    let ctx = Context {
        scope,
        authors: &[],
        elections: None,
        limits: Limits::default(),
        rules: validate::RULES,
    };
    refused!(
        validate::validate_changes(&doc, &before, &ctx),
        Violation::Unattributed
    );
}

#[test]
fn a_review_written_by_a_member_is_refused() {
    let mut village = Village::new();
    let secretary = village.secretary.principal.clone();
    let mut notebook = village.notebook_of(&village.li);
    let id = notebook
        .record_lecture(&village.li.principal, NOW, lecture(&village.li, &[]))
        .unwrap();
    let decision = ReviewDecision {
        record: RecordRef {
            notebook: village.li.notebook_id,
            kind: ReviewableKind::Lecture,
            id,
        },
        revision: 1,
        decision: Decision::Approved,
        comment: String::new(),
        publish: false,
        fine_example: false,
    };
    // The member forges the review on his own copy of the branch document, as the secretary.
    let before = village.branch.heads();
    let mut forged = Automerge::load(&village.branch.document_mut().save()).unwrap();
    let mut tx = forged.transaction();
    let reviews = tx.get(ROOT, "reviews").unwrap().unwrap().1;
    autosurgeon::reconcile_prop(
        &mut tx,
        &reviews,
        client_core::RecordId::generate(NOW)
            .unwrap()
            .to_string()
            .as_str(),
        &client_core::model::branch::Review {
            record: decision.record,
            revision: 1,
            decision: Decision::Approved,
            comment: String::new(),
            reviewer: secretary.user,
            at: NOW,
            publish: false,
            fine_example: false,
            counted: None,
        },
    )
    .unwrap();
    tx.commit();
    fn ctx<'a>(scope: client_core::Scope, author: &'a Principal) -> Context<'a> {
        Context {
            scope,
            authors: std::slice::from_ref(author),
            elections: None,
            limits: Limits::default(),
            rules: validate::RULES,
        }
    }
    let scope = *village.branch.scope();
    refused!(
        validate::validate_changes(&forged, &before, &ctx(scope, &village.li.principal)),
        Violation::WriteDenied { .. }
    );
    // Even from an admin, a review must name its real author.
    refused!(
        validate::validate_changes(&forged, &before, &ctx(scope, &village.deputy.principal)),
        Violation::NotAuthor { .. }
    );
    validate::validate_changes(&forged, &before, &ctx(scope, &secretary)).unwrap();
    let _ = village.branch.review(
        &secretary,
        NOW,
        decision,
        &submitted_lecture(&village.li, 1),
    );
}

#[test]
fn whole_documents_that_do_not_match_their_scope_are_refused() {
    let village = Village::new();
    let mut notebook = village.notebook_of(&village.li);
    let bytes = notebook.document_mut().save();
    let doc = Automerge::load(&bytes).unwrap();
    let ctx = |scope| Context {
        scope,
        authors: &[],
        elections: None,
        limits: Limits::default(),
        rules: validate::RULES,
    };
    validate::validate_document(&doc, &ctx(village.notebook_scope(&village.li))).unwrap();
    refused!(
        validate::validate_document(&doc, &ctx(village.notebook_scope(&village.member))),
        Violation::MetaMismatch
    );
    refused!(
        validate::validate_document(&doc, &ctx(*village.branch.scope())),
        Violation::UnknownKey { .. } | Violation::MetaMismatch
    );
    refused!(
        validate::validate_document(&Automerge::new(), &ctx(village.notebook_scope(&village.li))),
        Violation::Missing { .. }
    );

    let ownerless = client_core::Scope {
        owner: None,
        ..village.notebook_scope(&village.li)
    };
    assert!(matches!(
        client_core::Notebook::create(ownerless, NOW),
        Err(client_core::DocumentError::Invalid(Violation::MetaMismatch))
    ));

    let too_small = Limits {
        max_document_bytes: 16,
        ..Limits::default()
    };
    assert!(matches!(
        Document::load(&bytes, too_small),
        Err(client_core::DocumentError::TooLarge { .. })
    ));
    assert!(matches!(
        client_core::Branch::load(&bytes, Limits::default()),
        Err(client_core::DocumentError::WrongKind { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = Document::load(&bytes, Limits::default());
        let _ = automerge::Change::from_bytes(bytes.clone());
        let mut doc = Automerge::new();
        let _ = doc.load_incremental(&bytes);
    }

    #[test]
    fn damaged_documents_never_panic(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let village = Village::new();
        let mut notebook = village.notebook_of(&village.li);
        notebook.record_lecture(&village.li.principal, NOW, lecture(&village.li, &[])).unwrap();
        let mut bytes = notebook.document_mut().save();
        for (index, byte) in flips {
            let at = index.index(bytes.len());
            bytes[at] ^= byte | 1;
        }
        if let Ok(document) = Document::load(&bytes, Limits::default()) {
            let _ = document.validate();
            let _ = document.records::<Lecture>(&schema::LECTURES);
        }
    }
}
