use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{Automerge, ReadDoc, ScalarValue};
use client_core::model::branch::{Candidate, Election, Rectification};
use client_core::model::common::{Progress, ProgressStatus};
use client_core::sync::message::{Message, RefusedChanges};
use client_core::validate::Elections;
use client_core::{Branch, DocumentId, Limits, Millis, Notebook, Principal, RecordId};
use tianjian_server::store::Store;
use tianjian_server::writer::{WriteError, Writer};
use tianjian_tests::device::Device;

use tianjian_tests::fixture::{
    Database, NOW, STORAGE, lecture, lectures_in, november, operate, plan_of, served, table_rows,
    token,
};

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_lecture_recorded_offline_reaches_the_secretary_through_the_server() {
    let (db, server) = served().await;
    let Database {
        path: _,
        store,
        v,
        keys,
        ..
    } = &db;

    // 李章桂 records a lecture with no signal, on the notebook his phone already holds.
    let mut li_phone = Device::new("li-phone");
    li_phone.hold(v.notebook, v.notebook_bytes.clone());
    li_phone.open(v.notebook).await.unwrap();
    let li = v.li.clone();
    li_phone
        .edit(v.notebook, |doc| {
            let mut notebook = Notebook::load(&doc.save(), Limits::default()).unwrap();
            notebook.record_lecture(&li, NOW, lecture(&li)).unwrap();
            doc.load_incremental(&notebook.automerge().save()).unwrap();
        })
        .await
        .unwrap();

    // Back in signal: the lecture reaches the server's database without anything else.
    li_phone
        .connect(server.addr, &token(keys, &v.li))
        .await
        .unwrap();
    let store_view = store.clone();
    let notebook = v.notebook;
    let stored = li_phone
        .sync_until(LIMIT, |_| {
            let store = store_view.clone();
            async move {
                store
                    .load_document(notebook)
                    .await
                    .unwrap()
                    .is_some_and(|b| lectures_in(&b) == 1)
            }
        })
        .await
        .unwrap();
    assert!(stored, "the lecture never reached the server's storage");

    // The secretary's phone asks for the notebook and receives the lecture.
    let mut secretary_phone = Device::new("secretary-phone");
    secretary_phone
        .connect(server.addr, &token(keys, &v.secretary))
        .await
        .unwrap();
    secretary_phone.open(v.notebook).await.unwrap();
    let received = secretary_phone
        .sync_until(LIMIT, |d| {
            let count = d
                .document(notebook)
                .map_or(0, |doc| lectures_in(&doc.save()));
            async move { count == 1 }
        })
        .await
        .unwrap();
    assert!(received);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn another_branchs_document_is_unavailable_and_bad_tokens_are_refused() {
    let (db, server) = served().await;
    let Database { v, keys, .. } = &db;

    let mut curious = Device::new("curious-phone");
    curious
        .connect(server.addr, &token(keys, &v.outsider))
        .await
        .unwrap();
    curious.open(v.branch).await.unwrap();
    let refused = curious
        .sync_until_unavailable(LIMIT, v.branch)
        .await
        .unwrap();
    assert!(
        refused,
        "the document of another branch must be unavailable"
    );
    assert!(
        curious
            .document(v.branch)
            .is_none_or(|doc| doc.get_heads().is_empty())
    );

    let mut forged = Device::new("forged");
    let wrong_key =
        tianjian_server::auth::KeyRing::new(b"someone else's key, 32 bytes long", &[]).unwrap();
    assert!(
        forged
            .connect(server.addr, &token(&wrong_key, &v.li))
            .await
            .is_err()
    );
    assert!(forged.connect(server.addr, "not-a-token").await.is_err());
    server.stop().await.unwrap();
}

async fn stored_state(store: &Store) -> Vec<String> {
    table_rows(store, STORAGE).await
}

/// What the server stores once the writes of earlier, accepted exchanges (a sync state is
/// saved just after the changes it follows) have landed: the same twice in a row.
async fn settled_state(store: &Store) -> Vec<String> {
    let mut state = stored_state(store).await;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = stored_state(store).await;
        if now == state {
            return now;
        }
        state = now;
    }
}

/// Waits until the audit log names `rule`, and returns how many refusals name it.
async fn audited(store: &Store, rule: &str) -> usize {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let events = store.audit_since(Millis(0)).await.unwrap();
        let count = events
            .iter()
            .filter(|e| e.event == "refusal" && e.rule.as_deref() == Some(rule))
            .count();
        if count > 0 || tokio::time::Instant::now() >= deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the server said it refused of `document`'s changes from `phone`, which stays
/// connected for its other documents.
async fn refused(phone: &mut Device, document: DocumentId) -> RefusedChanges {
    let refused = phone.sync_until_refused(LIMIT, document).await.unwrap();
    let refused = refused.unwrap_or_else(|| panic!("the server refused nothing of {document}"));
    assert!(
        phone.is_connected(),
        "a refused change does not end the session"
    );
    refused
}

#[tokio::test]
async fn garbage_oversized_frames_and_hostile_changes_are_audited_and_change_nothing() {
    let (db, server) = served().await;
    let Database { store, v, keys, .. } = &db;
    let before = stored_state(store).await;

    // Garbage instead of a frame: the session ends.
    let mut phone = Device::new("li-phone");
    phone
        .connect(server.addr, &token(keys, &v.li))
        .await
        .unwrap();
    phone.send_raw(vec![0xff, 0x00, 0x13, 0x37]).await.unwrap();
    assert!(
        phone.sync_until_closed(LIMIT).await.unwrap(),
        "garbage must end the session"
    );
    assert_eq!(audited(store, "bad_frame").await, 1);

    // A frame over the size limit: refused before it is read.
    let mut phone = Device::new("li-phone");
    phone
        .connect(server.addr, &token(keys, &v.li))
        .await
        .unwrap();
    let _ = phone
        .send_raw(vec![0u8; tianjian_server::sync::MAX_FRAME_BYTES + 1])
        .await;
    assert!(
        phone.sync_until_closed(LIMIT).await.unwrap(),
        "an oversized frame must end the session"
    );
    assert_eq!(audited(store, "frame_too_large").await, 1);

    // A tampered phone writes a lecture naming someone else into li's notebook.
    let mut phone = Device::new("li-phone");
    phone.hold(v.notebook, v.notebook_bytes.clone());
    phone.open(v.notebook).await.unwrap();
    let stranger = v.outsider.clone();
    phone
        .edit(v.notebook, |doc| {
            use automerge::ReadDoc;
            let mut tx = doc.transaction();
            let lectures = tx.get(automerge::ROOT, "lectures").unwrap().unwrap().1;
            let key = RecordId::generate(NOW).unwrap().to_string();
            autosurgeon::reconcile_prop(&mut tx, &lectures, key.as_str(), lecture(&stranger))
                .unwrap();
            tx.commit();
        })
        .await
        .unwrap();
    phone
        .connect(server.addr, &token(keys, &v.li))
        .await
        .unwrap();
    let told = refused(&mut phone, v.notebook).await;
    assert_eq!(told.rule, "not_owner");
    assert_eq!(
        told.heads,
        Automerge::load(&v.notebook_bytes).unwrap().get_heads(),
        "the phone is told what the server keeps"
    );
    assert_eq!(audited(store, "not_owner").await, 1);
    // A client that cannot recover offers the same change in every session: answered from
    // the server's memory, counted on the first refusal's line, never a new line.
    for _ in 0..3 {
        phone.disconnect().await.unwrap();
        phone.log.clear();
        phone
            .connect(server.addr, &token(keys, &v.li))
            .await
            .unwrap();
        assert_eq!(refused(&mut phone, v.notebook).await, told);
    }
    phone.disconnect().await.unwrap();
    let deadline = tokio::time::Instant::now() + LIMIT;
    let repeats = loop {
        let events = store.audit_since(Millis(0)).await.unwrap();
        let lines: Vec<_> = events
            .iter()
            .filter(|e| e.rule.as_deref() == Some("not_owner"))
            .collect();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0].refused, Some(told.refused[0].to_string()));
        if lines[0].repeats == 3 || tokio::time::Instant::now() >= deadline {
            break lines[0].repeats;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(repeats, 3);

    // The secretary may read li's notebook but not write it.
    let mut phone = Device::new("secretary-phone");
    phone.hold(v.notebook, v.notebook_bytes.clone());
    phone.open(v.notebook).await.unwrap();
    let secretary = v.secretary.clone();
    phone
        .edit(v.notebook, |doc| {
            let mut notebook = Notebook::load(&doc.save(), Limits::default()).unwrap();
            let written = notebook.record_lecture(&secretary, NOW, lecture(&secretary));
            assert!(written.is_err(), "client-core refuses it on the device too");
            // A tampered app skips the device's own check and writes anyway.
            use automerge::transaction::Transactable;
            let mut tx = doc.transaction();
            tx.put(automerge::ROOT, "graffiti", "x").unwrap();
            tx.commit();
        })
        .await
        .unwrap();
    phone
        .connect(server.addr, &token(keys, &v.secretary))
        .await
        .unwrap();
    assert_eq!(refused(&mut phone, v.notebook).await.rule, "write_denied");
    assert_eq!(audited(store, "write_denied").await, 1);

    // A member of another branch cannot even see li's notebook.
    let mut phone = Device::new("outsider-phone");
    phone
        .connect(server.addr, &token(keys, &v.outsider))
        .await
        .unwrap();
    phone.open(v.notebook).await.unwrap();
    let unavailable = phone
        .sync_until_unavailable(LIMIT, v.notebook)
        .await
        .unwrap();
    assert!(unavailable);
    assert!(audited(store, "read_denied").await >= 1);

    assert!(
        stored_state(store).await == before,
        "storage must be unchanged but for the audit log"
    );
    assert_eq!(
        lectures_in(&store.load_document(v.notebook).await.unwrap().unwrap()),
        0
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_change_written_with_another_persons_actor_is_refused() {
    let (db, server) = served().await;
    let Database { store, v, keys, .. } = &db;

    // li writes in his notebook; the server binds his phone's actor to him.
    let li_actor = automerge::ActorId::random();
    let mut li_phone = Device::new("li-phone");
    li_phone.hold(v.notebook, v.notebook_bytes.clone());
    li_phone.open(v.notebook).await.unwrap();
    let (li, actor) = (v.li.clone(), li_actor.clone());
    li_phone
        .edit(v.notebook, |doc| {
            let mut notebook = Notebook::load(&doc.save(), Limits::default()).unwrap();
            notebook.document_mut().set_actor(actor);
            notebook.record_lecture(&li, NOW, lecture(&li)).unwrap();
            doc.load_incremental(&notebook.automerge().save()).unwrap();
        })
        .await
        .unwrap();
    li_phone
        .connect(server.addr, &token(keys, &v.li))
        .await
        .unwrap();
    let (store_view, notebook) = (store.clone(), v.notebook);
    assert!(
        li_phone
            .sync_until(LIMIT, |_| {
                let store = store_view.clone();
                async move {
                    store
                        .load_document(notebook)
                        .await
                        .unwrap()
                        .is_some_and(|b| lectures_in(&b) == 1)
                }
            })
            .await
            .unwrap()
    );
    assert!(
        store
            .actor_bindings()
            .await
            .unwrap()
            .contains(&(li_actor.clone(), v.li.user))
    );

    // The deputy's phone writes the branch document with li's actor: the change claims to
    // be li's, and li may not write the branch document.
    let before = settled_state(store).await;
    let mut deputy_phone = Device::new("deputy-phone");
    deputy_phone.open(v.branch).await.unwrap();
    deputy_phone
        .connect(server.addr, &token(keys, &v.deputy))
        .await
        .unwrap();
    let branch = v.branch;
    assert!(
        deputy_phone
            .sync_until(LIMIT, |d| {
                let loaded = d
                    .document(branch)
                    .is_some_and(|doc| !doc.get_heads().is_empty());
                async move { loaded }
            })
            .await
            .unwrap()
    );
    let (deputy, actor) = (v.deputy.clone(), li_actor.clone());
    deputy_phone
        .edit(v.branch, |doc| {
            let mut branch = Branch::load(&doc.save(), Limits::default()).unwrap();
            branch.document_mut().set_actor(actor);
            branch
                .set_plan(&deputy, NOW, november(), plan_of(&deputy))
                .unwrap();
            doc.load_incremental(&branch.automerge().save()).unwrap();
        })
        .await
        .unwrap();
    refused(&mut deputy_phone, v.branch).await;
    assert_eq!(audited(store, "foreign_actor").await, 1);
    assert!(stored_state(store).await == before);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn ballots_are_checked_against_the_branchs_election_on_the_server() {
    let (db, server) = served().await;
    let Database { store, v, keys, .. } = &db;
    let branch_bytes = store.load_document(v.branch).await.unwrap().unwrap();

    // The secretary opens an election of 优秀党员 with two candidates.
    let day = 24 * 3_600_000;
    let candidates = [
        RecordId::generate(NOW).unwrap(),
        RecordId::generate(NOW).unwrap(),
    ];
    let election = Election {
        title: "2026年度优秀党员评选".into(),
        candidates: vec![
            Candidate {
                id: candidates[0],
                label: "李章桂".into(),
                member: Some(v.li.user),
            },
            Candidate {
                id: candidates[1],
                label: "贺俊爱".into(),
                member: Some(v.deputy.user),
            },
        ],
        max_choices: 1,
        opens_at: Millis(NOW.0 - day),
        closes_at: Millis(NOW.0 + day),
        created_by: v.secretary.user,
        created_at: NOW,
        result: None,
        withdrawn: None,
    };
    let mut secretary_phone = Device::new("secretary-phone");
    secretary_phone.hold(v.branch, branch_bytes.clone());
    secretary_phone.open(v.branch).await.unwrap();
    let (secretary, mut election_id) = (v.secretary.clone(), None);
    secretary_phone
        .edit(v.branch, |doc| {
            operate(doc, Branch::load, |branch| {
                election_id = Some(branch.create_election(&secretary, NOW, election).unwrap());
            });
        })
        .await
        .unwrap();
    let election_id = election_id.unwrap();
    secretary_phone
        .connect(server.addr, &token(keys, &v.secretary))
        .await
        .unwrap();
    assert!(
        secretary_phone
            .sync_until_acknowledged(LIMIT, &[v.branch])
            .await
            .unwrap()
    );

    // The server keeps it whole, for a restarted server to check ballots against.
    let kept = store.elections().await.unwrap();
    assert!(
        kept.iter()
            .any(|(id, _, e)| *id == election_id && e.candidates.len() == 2)
    );

    // li's phone receives the election and he votes, on time.
    let mut li_phone = Device::new("li-phone");
    li_phone.hold(v.branch, branch_bytes);
    li_phone.hold(v.notebook, v.notebook_bytes.clone());
    li_phone.open(v.branch).await.unwrap();
    li_phone.open(v.notebook).await.unwrap();
    li_phone
        .connect(server.addr, &token(keys, &v.li))
        .await
        .unwrap();
    let branch_id = v.branch;
    let branch_of = |d: &Device| {
        let bytes = d.document(branch_id).map(|doc| doc.save());
        bytes.and_then(|b| Branch::load(&b, Limits::default()).ok())
    };
    assert!(
        li_phone
            .sync_until(LIMIT, |d| {
                let seen = branch_of(d).is_some_and(|b| b.election(election_id).is_some());
                async move { seen }
            })
            .await
            .unwrap()
    );
    let branch = branch_of(&li_phone).unwrap();
    let li = v.li.clone();
    li_phone
        .edit(v.notebook, |doc| {
            operate(doc, Notebook::load, |notebook| {
                notebook
                    .cast_ballot(&li, NOW, &branch, election_id, vec![candidates[1]])
                    .unwrap();
            });
        })
        .await
        .unwrap();
    assert!(
        li_phone
            .sync_until_acknowledged(LIMIT, &[v.notebook])
            .await
            .unwrap(),
        "a ballot cast on time is kept"
    );

    // A tampered phone moves the ballot past the close: the server refuses it.
    let before = settled_state(store).await;
    li_phone
        .edit(v.notebook, |doc| {
            let mut tx = doc.transaction();
            let ballots = tx.get(automerge::ROOT, "ballots").unwrap().unwrap().1;
            let ballot = tx
                .get(&ballots, election_id.to_string())
                .unwrap()
                .unwrap()
                .1;
            tx.put(&ballot, "cast_at", ScalarValue::Timestamp(NOW.0 + 2 * day))
                .unwrap();
            tx.commit();
        })
        .await
        .unwrap();
    refused(&mut li_phone, v.notebook).await;
    assert_eq!(audited(store, "election_closed").await, 1);
    assert!(stored_state(store).await == before);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_township_verifies_a_branchs_rectification_through_the_server_and_touches_nothing_else()
{
    let (db, server) = served().await;
    let Database { store, v, keys, .. } = &db;

    // The secretary put a problem from a household visit on the list and finished it.
    let secretary = v.secretary.clone();
    let rectification = Writer::new(store, NOW)
        .branch(v.branch, &secretary, |b| {
            let id = b.open_rectification(
                &secretary,
                NOW,
                Rectification {
                    problem: "五保户张大爷屋顶漏雨".into(),
                    measure: "组织党员修缮".into(),
                    deadline: "2026-12-20".parse().unwrap(),
                    standard: "雨天不漏".into(),
                    responsible: Some(v.li.user),
                    from_visit: None,
                    from_supervision: None,
                    progress: Progress::default(),
                    evidence: Vec::new(),
                    created_by: secretary.user,
                    created_at: NOW,
                    withdrawn: None,
                },
            )?;
            b.advance_rectification(&secretary, NOW, id, ProgressStatus::Done, None)?;
            Ok::<_, WriteError>(id)
        })
        .await
        .unwrap();

    // The township's supervisor syncs the branch document and verifies it.
    let township = v.township_admin.clone();
    let mut phone = Device::new("township-phone");
    phone.open(v.branch).await.unwrap();
    phone
        .connect(server.addr, &token(keys, &township))
        .await
        .unwrap();
    let branch = v.branch;
    assert!(
        phone
            .sync_until(LIMIT, |d| {
                let loaded = d.document(branch).is_some_and(|doc| {
                    Branch::load(&doc.save(), Limits::default()).is_ok_and(|b| {
                        b.require::<Rectification>(&rectification.to_string())
                            .is_ok()
                    })
                });
                async move { loaded }
            })
            .await
            .unwrap()
    );
    phone
        .edit(v.branch, |doc| {
            operate(doc, Branch::load, |b| {
                b.advance_rectification(
                    &township,
                    NOW,
                    rectification,
                    ProgressStatus::Verified,
                    Some("已到现场验收".into()),
                )
                .unwrap();
            });
        })
        .await
        .unwrap();
    let verified = |store: Store| async move {
        let bytes = store.load_document(branch).await.unwrap().unwrap();
        Branch::load(&bytes, Limits::default())
            .unwrap()
            .require::<Rectification>(&rectification.to_string())
            .unwrap()
            .progress
            .status()
            == ProgressStatus::Verified
    };
    let store_view = store.clone();
    assert!(
        phone
            .sync_until(LIMIT, |_| verified(store_view.clone()))
            .await
            .unwrap()
    );

    // A change of anything else (here the plan, written around the operations, which would
    // refuse it) is refused by the server, audited, and stores nothing.
    let before = settled_state(store).await;
    phone
        .edit(v.branch, |doc| {
            let plans = match doc.get(automerge::ROOT, "plans").unwrap().unwrap() {
                (automerge::Value::Object(_), id) => id,
                _ => unreachable!(),
            };
            let mut tx = doc.transaction();
            autosurgeon::reconcile_prop(&mut tx, &plans, "2026-11", plan_of(&township)).unwrap();
            tx.commit();
        })
        .await
        .unwrap();
    refused(&mut phone, v.branch).await;
    assert_eq!(audited(store, "only_advance").await, 1);
    assert!(stored_state(store).await == before);
    server.stop().await.unwrap();
}

/// A phone that comes back with nothing new names its documents in `join` and the server,
/// its documents shared out among its shards, answers `peer` and nothing else; news from
/// another device, while it is away or connected, still reaches it.
#[tokio::test]
async fn a_quiet_reconnect_is_the_handshake_alone_and_news_still_arrives() {
    let (db, server) = served().await;
    let Database { v, keys, .. } = &db;
    let token = token(keys, &v.li);
    let documents = [v.notebook, v.branch];
    let mut phone = Device::new("li-phone");
    for document in documents {
        phone.open(document).await.unwrap();
    }
    phone.connect(server.addr, &token).await.unwrap();
    let arrived = |d: &Device| {
        let here = documents
            .iter()
            .all(|doc| d.document(*doc).is_some_and(|a| !a.get_heads().is_empty()));
        async move { here }
    };
    assert!(phone.sync_until(LIMIT, arrived).await.unwrap());
    assert!(
        phone
            .sync_until_acknowledged(LIMIT, &documents)
            .await
            .unwrap()
    );
    phone.disconnect().await.unwrap();

    let lectures = |phone: &Device| lectures_in(&phone.document(v.notebook).unwrap().save());
    let before = lectures(&phone);
    // Another device of 李章桂 records a lecture.
    let mut tablet = Device::new("li-tablet");
    tablet.open(v.notebook).await.unwrap();
    tablet.connect(server.addr, &token).await.unwrap();
    let notebook = v.notebook;
    let here = move |d: &Device| {
        let here = d
            .document(notebook)
            .is_some_and(|a| !a.get_heads().is_empty());
        async move { here }
    };
    assert!(tablet.sync_until(LIMIT, here).await.unwrap());

    // Nothing new: `join` and `peer`, and the phone knows the server keeps all it has.
    phone.frames = Some(Vec::new());
    phone.connect(server.addr, &token).await.unwrap();
    phone
        .sync_until(Duration::from_secs(2), |_| async { false })
        .await
        .unwrap();
    let frames = phone.frames.take().unwrap();
    let types: Vec<&str> = frames
        .iter()
        .map(|f| match Message::decode(&f.bytes).unwrap() {
            Message::Join { .. } => "join",
            Message::Peer { .. } => "peer",
            _ => "other",
        })
        .collect();
    assert_eq!(types, ["join", "peer"]);
    for document in documents {
        assert!(phone.acknowledged(document));
    }

    // News while it is connected is relayed to it.
    record(&mut tablet, v.notebook, &v.li, NOW).await;
    assert!(
        tablet
            .sync_until_acknowledged(LIMIT, &[v.notebook])
            .await
            .unwrap()
    );
    let one_more = |d: &Device| {
        let n = lectures_in(&d.document(notebook).unwrap().save());
        async move { n == before + 1 }
    };
    assert!(phone.sync_until(LIMIT, one_more).await.unwrap());

    // News while it was away comes at once after `peer`.
    phone.disconnect().await.unwrap();
    record(&mut tablet, v.notebook, &v.li, Millis(NOW.0 + 1)).await;
    assert!(
        tablet
            .sync_until_acknowledged(LIMIT, &[v.notebook])
            .await
            .unwrap()
    );
    phone.connect(server.addr, &token).await.unwrap();
    let two_more = |d: &Device| {
        let n = lectures_in(&d.document(notebook).unwrap().save());
        async move { n == before + 2 }
    };
    assert!(phone.sync_until(LIMIT, two_more).await.unwrap());
    assert!(
        phone
            .sync_until_acknowledged(LIMIT, &documents)
            .await
            .unwrap()
    );
    assert_eq!(lectures(&phone), before + 2);
}

/// A lecture recorded on a device's copy of a notebook, as the app does.
async fn record(device: &mut Device, notebook: DocumentId, who: &Principal, at: Millis) {
    let who = who.clone();
    let edit = move |doc: &mut Automerge| {
        let mut notebook = Notebook::load(&doc.save(), Limits::default()).unwrap();
        notebook.record_lecture(&who, at, lecture(&who)).unwrap();
        doc.load_incremental(&notebook.automerge().save()).unwrap();
    };
    device.edit(notebook, edit).await.unwrap();
}
