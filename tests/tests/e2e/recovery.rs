//! Refused work comes back to the person who wrote it, and nothing strands a phone: native
//! phones running client-core's replica, as the app does, against the real server.

use std::time::Duration;

use client_core::model::branch::{Decision, Review};
use client_core::model::common::{RecordRef, ReviewableKind, Submission, SubmissionState};
use client_core::model::notebook::{Lecture, Service, ServiceKind};
use client_core::ops::ReviewDecision;
use client_core::{DocumentId, Limits, Millis, Notebook, Principal, RecordId, Role, schema};
use serde_json::{Value, json};
use tianjian_tests::TestServer;
use tianjian_tests::device::Device;
use tianjian_tests::fixture::{Database, NOW, lecture, served, token};
use tianjian_tests::phone::Phone;

const LIMIT: Duration = Duration::from_secs(20);

async fn call(server: &TestServer, path: &str, token: &str, method: &str, body: Value) -> Value {
    let body = body.to_string();
    let answer = server
        .request(method, path, Some(token), Some(&body))
        .await
        .unwrap();
    assert!(answer.status < 300, "{path}: {}", answer.body);
    answer.json()
}

/// Who `user` is now, as the phone learns it from the server when it signs in again.
async fn now_is(server: &TestServer, token: &str) -> (Principal, DocumentId) {
    let me = call(server, "/api/v1/me", token, "GET", Value::Null).await;
    let principal: Principal = serde_json::from_value(me["principal"].clone()).unwrap();
    let notebook = DocumentId::from_url(me["notebook"].as_str().unwrap()).unwrap();
    (principal, notebook)
}

/// `by` records a lecture called `title`, held `at` minutes after NOW, on `phone`.
async fn record(phone: &mut Phone, notebook: DocumentId, by: &Principal, title: &str, at: i64) {
    let mut written = lecture(by);
    title.clone_into(&mut written.title);
    written.held_at = Millis(NOW.0 + at * 60_000);
    keep(phone, notebook, by, written).await;
}

/// `by` records `written` in `notebook` on `phone`, as the lecture screen does.
async fn keep(phone: &mut Phone, notebook: DocumentId, by: &Principal, written: Lecture) {
    let by = by.clone();
    phone
        .edit(notebook, move |d| {
            Ok(d.notebook_mut(notebook)?
                .record_lecture(&by, NOW, written)?)
        })
        .await
        .unwrap();
}

/// The titles of the lectures that came back to the phone's person, in order.
fn returned_titles(phone: &Phone) -> Vec<String> {
    let mut titles: Vec<String> = phone
        .kept
        .returned
        .values()
        .map(|r| r.record.deserialized::<Lecture>().unwrap().title)
        .collect();
    titles.sort();
    titles
}

fn lectures_of(db_notebook: &[u8]) -> Vec<Lecture> {
    Notebook::load(db_notebook, Limits::default())
        .unwrap()
        .records::<Lecture>(&schema::LECTURES)
        .into_iter()
        .map(|(_, l)| l)
        .collect()
}

/// 李章桂's phone holds his notebook; offline he records `before` lectures, the township moves
/// him to 双桥村, and he records `after` more, his phone not knowing yet. Then his phone learns
/// who he is now and reconnects; `dies` makes it die that many tasks into the recovery.
async fn moved_while_offline(
    db: &Database,
    server: &TestServer,
    before: usize,
    after: usize,
    dies: Option<usize>,
) -> (Phone, DocumentId, Vec<String>) {
    let Database { v, keys, .. } = db;
    let li_token = token(keys, &v.li);
    let mut phone = Phone::new("li-phone", &v.li, NOW);
    phone.follow(v.notebook);
    phone.connect(server.addr, &li_token).await.unwrap();
    assert!(phone.settle(LIMIT, &[v.notebook]).await.unwrap());
    phone.disconnect().await.unwrap();

    let mut titles = Vec::new();
    for i in 0..before + after {
        if i == before {
            let township = token(keys, &v.township_admin);
            let path = format!("/api/v1/users/{}/move", v.li.user);
            call(
                server,
                &path,
                &township,
                "POST",
                json!({ "branch": v.shuangqiao }),
            )
            .await;
        }
        let title = format!("第{}次屋场会微党课", i + 1);
        record(&mut phone, v.notebook, &v.li, &title, i as i64).await;
        titles.push(title);
    }

    let (moved, new_notebook) = now_is(server, &li_token).await;
    assert_eq!(moved.branch, Some(v.shuangqiao));
    phone.who = moved;
    phone.follow(new_notebook);
    phone.dies_in_recovery = dies;
    phone.connect(server.addr, &li_token).await.unwrap();
    (phone, new_notebook, titles)
}

#[tokio::test]
async fn a_moved_members_five_offline_lectures_reach_his_new_notebook_none_lost_none_doubled() {
    let (db, server) = served().await;
    let v = &db.v;
    let (mut phone, new_notebook, titles) = moved_while_offline(&db, &server, 3, 2, None).await;
    assert!(
        phone
            .settle(LIMIT, &[v.notebook, new_notebook])
            .await
            .unwrap()
    );

    // All five came back to him, as he wrote them; the old notebook kept none.
    let mut expected = titles.clone();
    expected.sort();
    assert_eq!(returned_titles(&phone), expected);
    for item in phone.kept.returned.values() {
        assert_eq!(
            (item.document, item.rule.as_str()),
            (v.notebook, "write_denied")
        );
    }
    let old = db.store.load_document(v.notebook).await.unwrap().unwrap();
    assert!(lectures_of(&old).is_empty());
    assert!(
        phone.lectures(v.notebook).is_empty(),
        "the phone shows what the server keeps"
    );

    // He sends them where they now belong: his new branch's notebook, dated and attributed
    // as they were.
    let items: Vec<_> = std::mem::take(&mut phone.kept.returned)
        .into_values()
        .collect();
    let li = phone.who.clone();
    for item in items {
        let mut lecture: Lecture = item.record.deserialized().unwrap();
        lecture.submission.state = SubmissionState::Draft;
        keep(&mut phone, new_notebook, &li, lecture).await;
    }
    // And his later changes sync.
    record(&mut phone, new_notebook, &li, "到新支部后的第一课", 99).await;
    assert!(phone.settle(LIMIT, &[new_notebook]).await.unwrap());
    let kept = lectures_of(&db.store.load_document(new_notebook).await.unwrap().unwrap());
    let mut on_server: Vec<String> = kept.iter().map(|l| l.title.clone()).collect();
    on_server.sort();
    let mut expected = titles.clone();
    expected.push("到新支部后的第一课".into());
    expected.sort();
    assert_eq!(on_server, expected, "each once, none lost");
    for (i, title) in titles.iter().enumerate() {
        let held = kept.iter().find(|l| &l.title == title).unwrap().held_at;
        assert_eq!(held.0, NOW.0 + i as i64 * 60_000, "{title} keeps its time");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_phone_dropped_at_each_step_of_its_recovery_ends_the_same_when_started_again() {
    let mut dies = 0;
    let steps = loop {
        let (db, server) = served().await;
        let v = &db.v;
        let (mut phone, new_notebook, titles) =
            moved_while_offline(&db, &server, 1, 1, Some(dies)).await;
        phone
            .sync_until(LIMIT, |p| {
                p.is_dead() || p.kept.quarantines.is_empty() && !p.kept.returned.is_empty()
            })
            .await
            .unwrap();
        let died = phone.is_dead();
        if died {
            // The battery ran out: the app starts again from what it kept.
            phone.disconnect().await.unwrap();
            phone.restart().unwrap();
            phone
                .connect(server.addr, &token(&db.keys, &v.li))
                .await
                .unwrap();
        }
        let settled = phone
            .settle(LIMIT, &[v.notebook, new_notebook])
            .await
            .unwrap();
        assert!(
            settled,
            "died after {dies} steps, it settles: {}",
            phone.state(&[v.notebook, new_notebook])
        );
        assert_eq!(returned_titles(&phone), titles, "died after {dies} steps");
        let old = db.store.load_document(v.notebook).await.unwrap().unwrap();
        assert!(lectures_of(&old).is_empty(), "died after {dies} steps");
        server.stop().await.unwrap();
        if !died {
            // The recovery finished before the phone would have died: every step was tried.
            break dies;
        }
        dies += 1;
    };
    assert!(steps >= 4, "the recovery has steps to die between: {steps}");
}

#[tokio::test]
async fn a_demoted_admins_offline_review_comes_back_while_her_lectures_sync() {
    let (db, server) = served().await;
    let Database { v, keys, store, .. } = &db;

    // 李章桂 sends a lecture for review.
    let mut li_phone = Phone::new("li-phone", &v.li, NOW);
    li_phone.follow(v.notebook);
    li_phone
        .connect(server.addr, &token(keys, &v.li))
        .await
        .unwrap();
    assert!(li_phone.settle(LIMIT, &[v.notebook]).await.unwrap());
    record(&mut li_phone, v.notebook, &v.li, "讲身份意识", 0).await;
    let id: RecordId = li_phone
        .documents()
        .notebook(v.notebook)
        .unwrap()
        .records::<Lecture>(&schema::LECTURES)[0]
        .0
        .parse()
        .unwrap();
    let li = v.li.clone();
    li_phone
        .edit(v.notebook, move |d| {
            Ok(d.notebook_mut(v.notebook)?
                .submit::<Lecture>(&li, NOW, id)?)
        })
        .await
        .unwrap();
    assert!(li_phone.settle(LIMIT, &[v.notebook]).await.unwrap());

    // The deputy's phone holds the branch, 李章桂's notebook and her own.
    let deputy_token = token(keys, &v.deputy);
    let (_, her_notebook) = now_is(&server, &deputy_token).await;
    let mut phone = Phone::new("deputy-phone", &v.deputy, NOW);
    for document in [v.branch, v.notebook, her_notebook] {
        phone.follow(document);
    }
    phone.connect(server.addr, &deputy_token).await.unwrap();
    assert!(
        phone
            .settle(LIMIT, &[v.branch, v.notebook, her_notebook])
            .await
            .unwrap()
    );
    phone.disconnect().await.unwrap();

    // Offline she approves it and records her own lecture.
    let submitted = phone
        .documents()
        .notebook(v.notebook)
        .unwrap()
        .records::<Lecture>(&schema::LECTURES)[0]
        .1
        .clone();
    let decision = ReviewDecision {
        record: RecordRef {
            notebook: v.notebook,
            kind: ReviewableKind::Lecture,
            id,
        },
        revision: submitted.submission.revision,
        decision: Decision::Approved,
        comment: String::new(),
        publish: false,
        fine_example: false,
    };
    let deputy = v.deputy.clone();
    phone
        .edit(v.branch, move |d| {
            Ok(d.branch_mut(v.branch)?
                .review(&deputy, NOW, decision, &submitted)?)
        })
        .await
        .unwrap();
    record(&mut phone, her_notebook, &v.deputy, "支委讲党课", 5).await;

    // The township takes her role away; her phone learns it when it signs in again.
    let township = token(keys, &v.township_admin);
    let path = format!("/api/v1/users/{}", v.deputy.user);
    call(
        &server,
        &path,
        &township,
        "PATCH",
        json!({ "role": "member" }),
    )
    .await;
    let (now_member, _) = now_is(&server, &deputy_token).await;
    assert_eq!(now_member.role, Role::Member);
    phone.who = now_member;
    phone.connect(server.addr, &deputy_token).await.unwrap();
    assert!(
        phone
            .settle(LIMIT, &[v.branch, her_notebook])
            .await
            .unwrap()
    );

    let returned: Vec<_> = phone.kept.returned.values().collect();
    assert_eq!(returned.len(), 1, "{returned:?}");
    assert_eq!(
        (returned[0].document, returned[0].collection.as_str()),
        (v.branch, "reviews")
    );
    let review: Review = returned[0].record.deserialized().unwrap();
    assert_eq!(review.decision, Decision::Approved);
    let branch = client_core::Branch::load(
        &store.load_document(v.branch).await.unwrap().unwrap(),
        Limits::default(),
    )
    .unwrap();
    assert!(
        branch.records::<Review>(&schema::REVIEWS).is_empty(),
        "the branch kept no review"
    );
    let hers = lectures_of(&store.load_document(her_notebook).await.unwrap().unwrap());
    assert_eq!(hers.len(), 1, "her lecture synced");
    server.stop().await.unwrap();
}

/// A volunteer patrol sent for review with no hours and nobody on it, written as an app of
/// the previous rules could write it.
async fn empty_service_sent(device: &mut Device, notebook: DocumentId, who: &Principal) {
    let service = Service {
        kind: ServiceKind::Patrol,
        title: "秸秆禁烧巡逻".into(),
        held_at: NOW,
        hours: 0.0,
        participants: Vec::new(),
        beneficiaries: 0,
        place: "后山林区".into(),
        notes: String::new(),
        media: Vec::new(),
        plan: None,
        recorded_by: who.user,
        submission: Submission {
            state: SubmissionState::Submitted,
            revision: 1,
            submitted_at: Some(NOW),
        },
        created_at: NOW,
        withdrawn: None,
    };
    device
        .edit(notebook, move |doc| {
            use automerge::ReadDoc;
            let mut tx = doc.transaction();
            let services = tx.get(automerge::ROOT, "services").unwrap().unwrap().1;
            let key = RecordId::generate(NOW).unwrap().to_string();
            autosurgeon::reconcile_prop(&mut tx, &services, key.as_str(), &service).unwrap();
            tx.commit();
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn the_server_takes_what_an_app_of_the_previous_rules_wrote_and_tells_an_older_one_to_update()
{
    let (db, server) = served().await;
    let Database { v, keys, store, .. } = &db;
    let current = client_core::validate::RULES;
    // Service sent for review with no hours and nobody: fine by the rules before these,
    // refused by these.
    let mut answers = Vec::new();
    for rules in [Some(current - 1), Some(current), None, Some(current - 2)] {
        let mut device = Device::writing_by(&format!("li-rules-{rules:?}"), rules);
        device.hold(v.notebook, v.notebook_bytes.clone());
        device.open(v.notebook).await.unwrap();
        empty_service_sent(&mut device, v.notebook, &v.li).await;
        device
            .connect(server.addr, &token(keys, &v.li))
            .await
            .unwrap();
        let refused = device
            .sync_until_refused(Duration::from_secs(3), v.notebook)
            .await
            .unwrap();
        let kept = device.acknowledged(v.notebook);
        answers.push((rules, refused.map(|r| r.rule), kept));
    }
    assert_eq!(
        answers,
        vec![
            (Some(current - 1), None, true),
            (Some(current), Some("incomplete".into()), false),
            (None, Some("incomplete".into()), false),
            (Some(current - 2), Some("app_too_old".into()), false),
        ],
        "the previous rules' app is taken, this one and a stock client are held to these rules, an older one is told to update"
    );
    let services = Notebook::load(
        &store.load_document(v.notebook).await.unwrap().unwrap(),
        Limits::default(),
    )
    .unwrap()
    .records::<Service>(&schema::SERVICES)
    .len();
    assert_eq!(services, 1, "only the previous version's service was kept");
    let told = store
        .audit_since(Millis(0))
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.rule.as_deref() == Some("app_too_old"))
        .unwrap();
    assert!(told.detail.contains("请更新应用"), "{}", told.detail);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_app_too_old_gets_all_its_work_back_instead_of_putting_it_back_by_its_own_rules() {
    let (db, server) = served().await;
    let Database { v, keys, .. } = &db;
    // A phone whose app writes by rules too old for the server (its replica says so).
    let mut phone = Phone::new("li-phone", &v.li, NOW);
    phone.follow(v.notebook);
    phone
        .connect(server.addr, &token(keys, &v.li))
        .await
        .unwrap();
    assert!(phone.settle(LIMIT, &[v.notebook]).await.unwrap());
    phone.disconnect().await.unwrap();
    record(&mut phone, v.notebook, &v.li, "旧版本记下的党课", 0).await;
    phone.writes_by(client_core::validate::RULES - 2);
    phone
        .connect(server.addr, &token(keys, &v.li))
        .await
        .unwrap();
    assert!(phone.settle(LIMIT, &[v.notebook]).await.unwrap());
    let returned: Vec<_> = phone.kept.returned.values().collect();
    assert_eq!(returned.len(), 1, "{returned:?}");
    assert_eq!(returned[0].rule, "app_too_old");
    server.stop().await.unwrap();
}
