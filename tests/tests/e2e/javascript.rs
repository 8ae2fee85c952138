//! A stock `@automerge/automerge-repo` 2.x client in Node (`tests/js/sync-client.mjs`), as the
//! PWA will run it, syncs a notebook with our server both ways, and cannot read another
//! branch's notebook.
//!
//! Node 20+ and npm are required: without them these tests fail, they do not skip. The
//! packages pinned in `tests/js/package-lock.json` are installed the first time.

use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use client_core::model::common::{MediaRef, Submission};
use client_core::model::notebook::{Lecture, LectureCategory, Venue};
use client_core::{Limits, Millis, Notebook, Principal, RecordId, UserId, schema};
use tianjian_tests::TestServer;
use tianjian_tests::device::Device;
use tianjian_tests::node::{Run, js_dir, prepare_node, run_blocking};

use tianjian_tests::fixture::{Database, NOW, lecture, lectures_in, served, token};

/// How long anything may take before the test gives up (the script gives up after `SCRIPT`).
const LIMIT: Duration = Duration::from_secs(30);
const SCRIPT: Duration = Duration::from_secs(20);

/// The URL a browser opens: it cannot set headers on a WebSocket, so it trades its access
/// token for a single-use ticket first.
async fn sync_url(server: &TestServer, token: &str) -> String {
    let ticket = server
        .request("POST", "/api/v1/sync-ticket", Some(token), None)
        .await
        .unwrap();
    assert_eq!(ticket.status, 200, "{}", ticket.body);
    let ticket = ticket.json()["ticket"].as_str().unwrap().to_owned();
    format!("ws://{}/sync?ticket={ticket}", server.addr)
}

/// The lecture the browser records: other values and shapes than the native one (a guest
/// speaker, a video with a duration, quotes and a newline to escape).
fn field_lecture(li: &Principal, at: Millis) -> Lecture {
    Lecture {
        title: "田间课堂：\"稻虾共养\"技术".into(),
        category: LectureCategory::Skills,
        venue: Venue::Field,
        held_at: at,
        duration_min: 40,
        place: "合益村三组稻田".into(),
        gps: None,
        speakers: vec![li.user],
        guest_speaker: Some("县农技站 王技术员".into()),
        recorded_by: li.user,
        attendees: vec![li.user],
        audience: 12,
        summary: "讲了稻虾共养的水位管理。\n群众提问踊跃。".into(),
        media: vec![MediaRef {
            sha256: "cd".repeat(32),
            size: 1_200_000,
            media_type: "video/mp4".into(),
            duration_ms: Some(60_000),
            caption: Some("田埂上的讲解".into()),
        }],
        plan: None,
        submission: Submission::draft(),
        created_at: at,
        withdrawn: None,
    }
}

/// The record as the script's JSON: `{"$time": ms}` for timestamps, JSON strings for scalar
/// strings (see `tests/js/sync-client.mjs`).
fn lecture_json(l: &Lecture) -> String {
    assert!(
        l.gps.is_none() && l.plan.is_none() && l.withdrawn.is_none(),
        "lecture_json writes gps, plan and withdrawn as null only"
    );
    let time = |t: Millis| format!("{{\"$time\":{}}}", t.0);
    let opt_str = |s: &Option<String>| s.as_deref().map_or("null".into(), json_string);
    let people = |ids: &[UserId]| {
        let ids: Vec<String> = ids.iter().map(|id| json_string(&id.to_string())).collect();
        format!("[{}]", ids.join(","))
    };
    let media: Vec<String> = l
        .media
        .iter()
        .map(|m| {
            format!(
                "{{\"sha256\":{},\"size\":{},\"media_type\":{},\"duration_ms\":{},\"caption\":{}}}",
                json_string(&m.sha256),
                m.size,
                json_string(&m.media_type),
                m.duration_ms.map_or("null".into(), |d| d.to_string()),
                opt_str(&m.caption),
            )
        })
        .collect();
    let submission = format!(
        "{{\"state\":{},\"revision\":{},\"submitted_at\":{}}}",
        json_string(l.submission.state.as_str()),
        l.submission.revision,
        l.submission.submitted_at.map_or("null".into(), time),
    );
    let fields = [
        format!("\"title\":{}", json_string(&l.title)),
        format!("\"category\":{}", json_string(l.category.as_str())),
        format!("\"venue\":{}", json_string(l.venue.as_str())),
        format!("\"held_at\":{}", time(l.held_at)),
        format!("\"duration_min\":{}", l.duration_min),
        format!("\"place\":{}", json_string(&l.place)),
        "\"gps\":null".into(),
        format!("\"speakers\":{}", people(&l.speakers)),
        format!("\"guest_speaker\":{}", opt_str(&l.guest_speaker)),
        format!(
            "\"recorded_by\":{}",
            json_string(&l.recorded_by.to_string())
        ),
        format!("\"attendees\":{}", people(&l.attendees)),
        format!("\"audience\":{}", l.audience),
        format!("\"summary\":{}", json_string(&l.summary)),
        format!("\"media\":[{}]", media.join(",")),
        "\"plan\":null".into(),
        format!("\"submission\":{submission}"),
        format!("\"created_at\":{}", time(l.created_at)),
        "\"withdrawn\":null".into(),
    ];
    format!("{{{}}}", fields.join(","))
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---- running Node ------------------------------------------------------------------------

/// Runs blocking work off the test's runtime, which keeps serving meanwhile; a panic in it
/// fails the test with its own message.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

/// Runs `tests/js/sync-client.mjs` with `args`, killing it after [`LIMIT`].
async fn sync_client(args: Vec<String>) -> Run {
    let mut node = Command::new("node");
    node.arg("sync-client.mjs")
        .args(args)
        .current_dir(js_dir())
        .env("TIMEOUT_MS", SCRIPT.as_millis().to_string());
    blocking(move || run_blocking(node, LIMIT)).await
}

// ---- tests -------------------------------------------------------------------------------

#[tokio::test]
async fn a_stock_automerge_repo_client_receives_a_notebook_and_adds_a_lecture() {
    blocking(prepare_node).await;
    let (db, server) = served().await;
    let Database { store, v, keys, .. } = &db;

    // 李章桂's phone (native) records a lecture and syncs it to the server.
    let mut li_phone = Device::new("li-phone");
    li_phone.hold(v.notebook, v.notebook_bytes.clone());
    li_phone.open(v.notebook).await.unwrap();
    let (li, mut seeded) = (v.li.clone(), None);
    li_phone
        .edit(v.notebook, |doc| {
            let mut notebook = Notebook::load(&doc.save(), Limits::default()).unwrap();
            seeded = Some(notebook.record_lecture(&li, NOW, lecture(&li)).unwrap());
            doc.load_incremental(&notebook.automerge().save()).unwrap();
        })
        .await
        .unwrap();
    let seeded = seeded.unwrap();
    li_phone
        .connect(server.addr, &token(keys, &v.li))
        .await
        .unwrap();
    let (store_view, notebook) = (store.clone(), v.notebook);
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
    assert!(
        stored,
        "the native phone's lecture never reached the server"
    );

    // The same member in a browser: the stock client finds the notebook, shows the lecture,
    // records another one and waits until the server holds it.
    let later = Millis(NOW.0 + 86_400_000);
    let written = RecordId::generate(later).unwrap();
    let expected = field_lecture(&v.li, later);
    let payload = format!(
        "{{\"collection\":\"lectures\",\"id\":\"{written}\",\"record\":{}}}",
        lecture_json(&expected)
    );
    let run = sync_client(vec![
        sync_url(&server, &token(keys, &v.li)).await,
        v.notebook.url(),
        "write".into(),
        payload,
    ])
    .await;
    assert_eq!(run.status, Some(0), "the JavaScript client failed:\n{run}");
    let shown = format!("LECTURE {seeded} {}", lecture(&v.li).title);
    assert!(
        run.stdout.lines().any(|line| line == shown),
        "the JavaScript client did not receive the server's lecture ({shown:?}):\n{run}"
    );
    assert!(
        run.stdout.lines().any(|l| l.starts_with("ACKNOWLEDGED ")),
        "{run}"
    );

    // The server accepted the browser's change and stored it durably: the notebook in SQLite
    // has both lectures, passes validation, and the new one reads back exactly as written.
    let deadline = Instant::now() + LIMIT;
    let bytes = loop {
        let bytes = store.load_document(v.notebook).await.unwrap().unwrap();
        if lectures_in(&bytes) == 2 || Instant::now() >= deadline {
            break bytes;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let stored = Notebook::load(&bytes, Limits::default()).unwrap();
    assert_eq!(
        stored.records::<Lecture>(&schema::LECTURES).len(),
        2,
        "the server's storage does not hold the JavaScript client's lecture:\n{run}"
    );
    stored.validate().unwrap();
    let from_js: Lecture = stored
        .get(&schema::LECTURES, &written.to_string())
        .unwrap()
        .unwrap();
    assert_eq!(from_js, expected);

    // And the server relays it to the member's native phone.
    let received = li_phone
        .sync_until(LIMIT, |d| {
            let count = d
                .document(notebook)
                .map_or(0, |doc| lectures_in(&doc.save()));
            async move { count == 2 }
        })
        .await
        .unwrap();
    assert!(
        received,
        "the native phone never received the browser's lecture"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_stock_automerge_repo_client_of_another_branch_finds_the_notebook_unavailable() {
    blocking(prepare_node).await;
    let (db, server) = served().await;
    let Database {
        store: _, v, keys, ..
    } = &db;

    let started = Instant::now();
    let run = sync_client(vec![
        sync_url(&server, &token(keys, &v.outsider)).await,
        v.notebook.url(),
        "read".into(),
    ])
    .await;
    assert_eq!(
        run.status,
        Some(2),
        "another branch's client must be told the notebook is unavailable:\n{run}"
    );
    assert!(
        run.stdout.lines().any(|l| l.starts_with("UNAVAILABLE ")),
        "{run}"
    );
    assert!(!run.stdout.contains("LECTURE") && !run.stdout.contains("DOC "));
    // Refused at once, not by the script's own timeout.
    assert!(started.elapsed() < SCRIPT, "{run}");
    server.stop().await.unwrap();
}
