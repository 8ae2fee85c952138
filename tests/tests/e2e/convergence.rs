//! Three devices of 合益村 work offline, then reconnect in every possible order: everything
//! each wrote reaches the server and every other device, and the server's projections say
//! exactly what a rebuild from the documents says.

use std::time::Duration;

use automerge::ChangeHash;
use client_core::model::branch::ScheduleEntry;
use client_core::model::notebook::{Lecture, Venue};
use client_core::{Branch, DocumentId, Limits, Notebook, schema};
use tianjian_server::store::Store;
use tianjian_tests::TestServer;
use tianjian_tests::device::Device;

use tianjian_tests::fixture::{
    NOW, PROJECTIONS, keys, lecture, november, open, operate, plan_of, table_rows, token, village,
};

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn three_devices_converge_whatever_order_they_reconnect_in() {
    for order in [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ] {
        reconnect_in(order).await;
    }
}

async fn stored_heads(store: &Store, document: DocumentId) -> Vec<ChangeHash> {
    let bytes = store.load_document(document).await.unwrap().unwrap();
    automerge::Automerge::load(&bytes).unwrap().get_heads()
}

async fn reconnect_in(order: [usize; 3]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tianjian.sqlite3");
    let store = Store::open(&path).unwrap();
    let v = village(&store).await;
    let keys = keys();
    let branch_bytes = store.load_document(v.branch).await.unwrap().unwrap();

    // 李章桂 records and submits a lecture two admins attended.
    let mut li_phone = Device::new("li-phone");
    li_phone.hold(v.notebook, v.notebook_bytes.clone());
    li_phone.open(v.notebook).await.unwrap();
    let (li, attendees) = (v.li.clone(), vec![v.secretary.user, v.deputy.user]);
    li_phone
        .edit(v.notebook, |doc| {
            operate(doc, Notebook::load, |notebook| {
                let lecture = Lecture {
                    attendees,
                    ..lecture(&li)
                };
                let id = notebook.record_lecture(&li, NOW, lecture).unwrap();
                notebook.submit::<Lecture>(&li, NOW, id).unwrap();
            });
        })
        .await
        .unwrap();

    // The secretary plans November; she also follows li's notebook to review it.
    let mut secretary_phone = Device::new("secretary-phone");
    secretary_phone.hold(v.branch, branch_bytes.clone());
    secretary_phone.open(v.branch).await.unwrap();
    secretary_phone.open(v.notebook).await.unwrap();
    let secretary = v.secretary.clone();
    secretary_phone
        .edit(v.branch, |doc| {
            operate(doc, Branch::load, |branch| {
                branch
                    .set_plan(&secretary, NOW, november(), plan_of(&secretary))
                    .unwrap();
            });
        })
        .await
        .unwrap();

    // The deputy, at the same time, puts li on the lecture schedule.
    let mut deputy_phone = Device::new("deputy-phone");
    deputy_phone.hold(v.branch, branch_bytes);
    deputy_phone.open(v.branch).await.unwrap();
    let (deputy, speaker) = (v.deputy.clone(), v.li.user);
    deputy_phone
        .edit(v.branch, |doc| {
            operate(doc, Branch::load, |branch| {
                let entry = ScheduleEntry {
                    date: "2026-11-20".parse().unwrap(),
                    speaker: Some(speaker),
                    guest_speaker: None,
                    topic: "乡村振兴".into(),
                    venue: Venue::Courtyard,
                    created_by: deputy.user,
                    withdrawn: None,
                };
                branch.schedule_lecture(&deputy, NOW, entry).unwrap();
            });
        })
        .await
        .unwrap();

    let server = TestServer::start_with(open(&store).await).await.unwrap();
    let mut devices = [
        (li_phone, token(&keys, &v.li), vec![v.notebook]),
        (
            secretary_phone,
            token(&keys, &v.secretary),
            vec![v.branch, v.notebook],
        ),
        (deputy_phone, token(&keys, &v.deputy), vec![v.branch]),
    ];

    // One after another they come back into signal, and wait until the server has kept
    // what they wrote.
    for index in order {
        let (device, token, documents) = &mut devices[index];
        device.connect(server.addr, token).await.unwrap();
        let kept = device
            .sync_until_acknowledged(LIMIT, documents)
            .await
            .unwrap();
        assert!(
            kept,
            "device {index} of order {order:?} was never acknowledged"
        );
    }

    // Then every device receives what the others wrote.
    let mut expected = Vec::new();
    for document in [v.notebook, v.branch] {
        expected.push((document, stored_heads(&store, document).await));
    }
    for (device, _, documents) in &mut devices {
        let converged = device
            .sync_until(LIMIT, |d| {
                let done = expected
                    .iter()
                    .filter(|(doc, _)| documents.contains(doc))
                    .all(|(doc, heads)| d.document(*doc).is_some_and(|a| a.get_heads() == *heads));
                async move { done }
            })
            .await
            .unwrap();
        assert!(converged, "a device did not converge in order {order:?}");
    }

    // Nothing was lost.
    let notebook = Notebook::load(
        &store.load_document(v.notebook).await.unwrap().unwrap(),
        Limits::default(),
    )
    .unwrap();
    let lectures: Vec<(String, Lecture)> = notebook.records(&schema::LECTURES);
    assert_eq!(lectures.len(), 1);
    let branch = Branch::load(
        &store.load_document(v.branch).await.unwrap().unwrap(),
        Limits::default(),
    )
    .unwrap();
    assert!(branch.plan(november()).is_some());
    let schedule: Vec<(String, ScheduleEntry)> = branch.records(&schema::SCHEDULE);
    assert_eq!(schedule.len(), 1);

    // The projections kept change by change are what a rebuild from the documents gives.
    let live = table_rows(&store, PROJECTIONS).await;
    let lecture_key = &lectures[0].0;
    for expected in [
        format!("records: '{}' | 'lectures' | '{lecture_key}'", v.notebook),
        "'submitted'".to_owned(),
        format!(
            "record_people: '{}' | 'lectures' | '{lecture_key}' | 'attendees'",
            v.notebook
        ),
        format!(
            "record_media: '{}' | 'lectures' | '{lecture_key}' | 'media'",
            v.notebook
        ),
        format!(
            "record_values: '{}' | 'lectures' | '{lecture_key}' | 'venue' | 'courtyard'",
            v.notebook
        ),
        format!(
            "record_values: '{}' | 'lectures' | '{lecture_key}' | 'audience' | NULL | 30",
            v.notebook
        ),
        "| 'schedule' |".to_owned(),
        "| 'plans' | '2026-11' |".to_owned(),
        "| 'roster' |".to_owned(),
    ] {
        assert!(
            live.iter().any(|row| row.contains(&expected)),
            "no projected row with {expected}"
        );
    }
    for (document, _) in store.catalogue().await.unwrap() {
        store.rebuild_projection(document).await.unwrap();
    }
    assert_eq!(
        table_rows(&store, PROJECTIONS).await,
        live,
        "order {order:?}"
    );
    server.stop().await.unwrap();
}
