//! The web app in headless Chromium against the real server, as the people of PRODUCT.md use
//! it: offline, reloaded, and back in signal. What the app did is checked on the server.

use std::path::PathBuf;
use std::time::Duration;

use client_core::model::branch::{Decision, FeedItem, Plan, Review};
use client_core::model::notebook::Lecture;
use client_core::{Branch, Document, DocumentId, Limits, Notebook, schema, views};
use tianjian_server::auth::Settings;
use tianjian_server::sync::Hub;
use tianjian_server::{AppState, Config};
use tianjian_tests::browser;
use tianjian_tests::device::Device;
use tianjian_tests::fixture::{Database, config, database, sha256, token, wav};
use tianjian_tests::{TestServer, http};

const LIMIT: Duration = Duration::from_secs(20);

/// The app's build; `cargo xtask test` makes it before the tests run.
fn web_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../pwa/dist");
    assert!(
        dir.join("index.html").is_file(),
        "the web app is not built: run `cargo xtask build-pwa` (cargo xtask test does)"
    );
    dir
}

/// Where the screenshots go, for people to look at.
fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots")
}

/// The village's server with the app, and its sync hub, through which a test writes what the
/// server itself would (an election's count) so that phones syncing see it.
async fn served_with_app() -> (Database, TestServer, Hub) {
    let database = database().await;
    let config = Config {
        web_dir: Some(web_dir()),
        ..config(Settings::default())
    };
    let state = AppState::open(database.store.clone(), config)
        .await
        .unwrap();
    let hub = state.hub.clone().unwrap();
    let server = TestServer::start_with(state).await.unwrap();
    (database, server, hub)
}

/// The server's copy of `document`, as the secretary's office computer receives it, once
/// `ready` holds of it; panics with `what` if it does not within the limit.
async fn on_server(
    server: &TestServer,
    token: &str,
    document: DocumentId,
    what: &str,
    ready: impl Fn(&Document) -> bool,
) -> Vec<u8> {
    let mut office = Device::new("office");
    office.open(document).await.unwrap();
    office.connect(server.addr, token).await.unwrap();
    let held = office
        .sync_until(LIMIT, |d| {
            let done = d.document(document).is_some_and(|doc| {
                Document::load(&doc.save(), Limits::default()).is_ok_and(|doc| ready(&doc))
            });
            async move { done }
        })
        .await
        .unwrap();
    assert!(held, "{what}");
    office.document(document).unwrap().save()
}

/// The blob `sha` as the server serves it to `token`'s holder; panics unless it is served
/// whole, its bytes hashing to `sha`.
async fn blob_on_server(server: &TestServer, token: &str, sha: &str) -> Vec<u8> {
    let headers = [("Authorization".to_owned(), format!("Bearer {token}"))];
    let fetched = http(server.addr, "GET", &format!("/blobs/{sha}"), &headers, &[])
        .await
        .unwrap();
    assert_eq!(fetched.status, 200, "the blob {sha} is served");
    assert_eq!(sha256(&fetched.bytes), sha, "the blob {sha} is whole");
    fetched.bytes
}

/// The lecture called `title` in `notebook`, as the server holds it once it arrived.
async fn lecture_on_server(
    server: &TestServer,
    token: &str,
    notebook: DocumentId,
    title: &str,
) -> Lecture {
    let bytes = on_server(
        server,
        token,
        notebook,
        &format!("the lecture {title} reached the server"),
        |doc| {
            doc.records::<Lecture>(&schema::LECTURES)
                .iter()
                .any(|(_, l)| l.title == title)
        },
    )
    .await;
    Notebook::load(&bytes, Limits::default())
        .unwrap()
        .records::<Lecture>(&schema::LECTURES)
        .into_iter()
        .find(|(_, l)| l.title == title)
        .unwrap()
        .1
}

async fn invite(server: &TestServer, admin: &str, user: &str) -> String {
    let answer = server
        .request(
            "POST",
            &format!("/api/v1/users/{user}/invites"),
            Some(admin),
            Some("{}"),
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer.json()["code"].as_str().unwrap().to_owned()
}

/// The core, the most of a first visit, reaches a browser that takes Brotli in Brotli (even
/// when it takes gzip too), one that takes only gzip in gzip, and any other whole: each the
/// very file the build wrote, marked so that no shared cache hands one to another.
#[tokio::test]
async fn the_core_is_sent_in_brotli_to_a_browser_that_takes_it_and_in_gzip_to_one_that_does_not() {
    let (_database, server, _hub) = served_with_app().await;
    let core = std::fs::read_dir(web_dir().join("assets"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|e| e == "wasm"))
        .expect("the app's build holds the WASM core");
    let twin = |extension: &str| {
        let mut name = core.clone().into_os_string();
        name.push(extension);
        std::fs::read(name).unwrap()
    };
    let path = format!("/assets/{}", core.file_name().unwrap().to_string_lossy());
    for (accepted, encoding, sent) in [
        ("gzip, deflate, br, zstd", Some("br"), twin(".br")),
        ("gzip, deflate", Some("gzip"), twin(".gz")),
        ("identity", None, std::fs::read(&core).unwrap()),
    ] {
        let headers = [("Accept-Encoding".to_owned(), accepted.to_owned())];
        let response = http(server.addr, "GET", &path, &headers, &[])
            .await
            .unwrap();
        assert_eq!(response.status, 200, "{accepted}");
        assert_eq!(response.header("content-encoding"), encoding, "{accepted}");
        assert_eq!(response.header("content-type"), Some("application/wasm"));
        assert_eq!(response.header("vary"), Some("accept-encoding"));
        assert!(response.bytes == sent, "{accepted}: not the build's file");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn li_records_a_lecture_offline_and_it_reaches_the_server_by_itself() {
    let (db, server, _) = served_with_app().await;
    let Database { v, keys, .. } = &db;
    let secretary = token(keys, &v.secretary);
    let code = invite(&server, &secretary, &v.li.user.to_string()).await;

    // A photo of the 屋场坪 and ten seconds of his voice.
    let files = tempfile::tempdir().unwrap();
    let photo = std::fs::read(web_dir().join("icons/icon-512.png")).unwrap();
    let audio = wav(10);
    let (photo_path, audio_path) = (
        files.path().join("屋场坪.png"),
        files.path().join("讲课录音.wav"),
    );
    std::fs::write(&photo_path, &photo).unwrap();
    std::fs::write(&audio_path, &audio).unwrap();

    let story = browser::run_json(
        "offline-lecture.mjs",
        vec![
            format!("http://{}", server.addr),
            code,
            photo_path.display().to_string(),
            audio_path.display().to_string(),
            screenshots().display().to_string(),
        ],
        Duration::from_secs(180),
    )
    .await;
    assert_eq!(
        story["offlineStart"], true,
        "the app started offline from its service worker"
    );

    // The server has the lecture, as edited offline, and submitted.
    let bytes = on_server(
        &server,
        &secretary,
        v.notebook,
        "the lecture reached the server",
        |doc| !doc.records::<Lecture>(&schema::LECTURES).is_empty(),
    )
    .await;
    let notebook = Notebook::load(&bytes, Limits::default()).unwrap();
    let lectures = notebook.records::<Lecture>(&schema::LECTURES);
    assert_eq!(lectures.len(), 1);
    let lecture = &lectures[0].1;
    assert_eq!(lecture.title, story["title"].as_str().unwrap());
    assert_eq!(lecture.summary, story["summary"].as_str().unwrap());
    assert_eq!(lecture.audience, 30);
    assert_eq!(
        lecture.attendees.len() as u64,
        story["attendees"].as_u64().unwrap()
    );
    assert!(lecture.attendees.len() >= 2, "the roster was offered");
    assert!(lecture.gps.is_some());
    assert_eq!(lecture.recorded_by, v.li.user);
    assert_eq!(
        lecture.submission.state,
        client_core::model::common::SubmissionState::Submitted
    );

    // And its photo and audio, byte for byte, for the branch to fetch.
    let mut media: Vec<(String, String)> = lecture
        .media
        .iter()
        .map(|m| (m.sha256.clone(), m.media_type.clone()))
        .collect();
    media.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        media,
        vec![
            (sha256(&audio), "audio/wav".to_owned()),
            (sha256(&photo), "image/png".to_owned()),
        ]
    );
    for bytes in [&photo, &audio] {
        assert_eq!(
            &blob_on_server(&server, &secretary, &sha256(bytes)).await,
            bytes
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_video_lesson_is_returned_resubmitted_published_and_played_offline() {
    let (db, server, _) = served_with_app().await;
    let Database { v, keys, .. } = &db;
    let secretary = token(keys, &v.secretary);
    // The township admin manages the branch's admins as well as its members.
    let township = token(keys, &v.township_admin);
    let mut codes = Vec::new();
    for who in [&v.li, &v.secretary, &v.deputy] {
        codes.push(invite(&server, &township, &who.user.to_string()).await);
    }
    let mut args = vec![format!("http://{}", server.addr)];
    args.extend(codes);
    args.push(screenshots().display().to_string());
    let story = browser::run_json("video-lesson.mjs", args, Duration::from_secs(300)).await;
    for played in ["duration", "offlineDuration"] {
        assert!(
            story[played]
                .as_f64()
                .is_some_and(|d| d.is_finite() && d > 2.0),
            "the recorded lesson plays and knows its length: {story}"
        );
    }

    // The server's branch document has the lesson in its feed, approved at its second
    // revision, and the video is an MP4 the branch can fetch.
    let title = story["title"].as_str().unwrap().to_owned();
    let bytes = on_server(
        &server,
        &secretary,
        v.branch,
        "the lesson is in the branch feed on the server",
        |doc| {
            doc.records::<FeedItem>(&schema::FEED)
                .iter()
                .any(|(_, item)| item.title == title)
        },
    )
    .await;
    let branch = Branch::load(&bytes, Limits::default()).unwrap();
    let reviews = branch.records::<Review>(&schema::REVIEWS);
    let mut decisions: Vec<(i64, Decision)> = reviews
        .iter()
        .map(|(_, r)| (r.revision, r.decision))
        .collect();
    decisions.sort_by_key(|(revision, _)| *revision);
    assert_eq!(
        decisions,
        vec![(1, Decision::Returned), (2, Decision::Approved)]
    );
    let feed = views::feed(&branch);
    let video = &feed[0].1.media[0];
    assert_eq!(video.media_type, "video/mp4");
    let fetched = blob_on_server(&server, &secretary, &video.sha256).await;
    assert_eq!(fetched.len() as i64, video.size);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn two_secretaries_edit_the_plan_offline_and_both_edits_survive() {
    let (db, server, _) = served_with_app().await;
    let Database { v, keys, .. } = &db;
    let township = token(keys, &v.township_admin);
    let mut args = vec![format!("http://{}", server.addr)];
    for who in [&v.secretary, &v.deputy] {
        args.push(invite(&server, &township, &who.user.to_string()).await);
    }
    args.push(screenshots().display().to_string());
    let seen = browser::run_json("plan-offline.mjs", args, Duration::from_secs(240)).await;
    for phone in ["secretary", "deputy"] {
        assert_eq!(seen[phone]["film"], "《榜样9》", "{seen}");
        assert_eq!(seen[phone]["practice"], "秸秆禁烧巡逻", "{seen}");
    }

    // The server holds the merged plan.
    let secretary = token(keys, &v.secretary);
    on_server(
        &server,
        &secretary,
        v.branch,
        "the server keeps both edits",
        |doc| {
            doc.records::<Plan>(&schema::PLANS)
                .iter()
                .any(|(_, p)| p.film_title == "《榜样9》" && p.practice == "秸秆禁烧巡逻")
        },
    )
    .await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn every_main_screen_shows_what_it_must_at_360_pixels_and_the_office_screens_at_1280() {
    let (db, server, _) = served_with_app().await;
    let Database { v, keys, .. } = &db;
    let township = token(keys, &v.township_admin);
    let secretary = v.secretary.user.to_string();
    let args = vec![
        format!("http://{}", server.addr),
        invite(&server, &township, &secretary).await,
        invite(&server, &township, &secretary).await,
        screenshots().display().to_string(),
    ];
    let shown = browser::run_json("screens.mjs", args, Duration::from_secs(240)).await;
    // A screenshot's width in pixels.
    let width = |screen: &serde_json::Value| {
        let file = screenshots().join(format!("{}.png", screen.as_str().unwrap()));
        let png = std::fs::read(&file).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        u32::from_be_bytes(png[16..20].try_into().unwrap())
    };
    let screens = shown["screens"].as_array().unwrap();
    assert_eq!(screens.len(), 16, "{shown}");
    for screen in screens {
        // 360 CSS pixels at a device scale of 2.
        assert_eq!(width(screen), 720, "{screen}");
    }
    let desk = shown["desk"].as_array().unwrap();
    assert_eq!(desk.len(), 3, "{shown}");
    for screen in desk {
        assert_eq!(width(screen), 1280, "{screen}");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_township_sees_every_branch_drills_into_a_figure_and_opens_the_year_end() {
    let (db, server, _) = served_with_app().await;
    crate::statistics::write_october(&db).await;
    let Database { v, keys, .. } = &db;
    // Two devices of the township's officer: her desk and her phone.
    let system = token(keys, &v.system_admin);
    let user = v.township_admin.user.to_string();
    let args = vec![
        format!("http://{}", server.addr),
        invite(&server, &system, &user).await,
        invite(&server, &system, &user).await,
        screenshots().display().to_string(),
    ];
    let seen = browser::run_json("township-overview.mjs", args, Duration::from_secs(240)).await;
    // 合益村 carried out October's plan; its lectures, audience and the overdue
    // rectification, marked; 双桥村 made no plan.
    let heyi = &seen["heyi"];
    assert_eq!(
        heyi["plan"],
        serde_json::json!(["✓", "✓", "✓", "✓"]),
        "{seen}"
    );
    assert_eq!(
        (heyi["lectures"].as_u64(), heyi["audience"].as_u64()),
        (Some(3), Some(58))
    );
    assert_eq!(
        (heyi["overdue"].as_u64(), heyi["overdueMarked"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        seen["shuangqiao"]["plan"],
        serde_json::json!(["—", "—", "—", "—"])
    );
    assert_eq!(seen["shuangqiao"]["lectures"], 1);
    assert_eq!(seen["total"], 4, "the township's lectures");
    assert_eq!(seen["drill"].as_array().unwrap().len(), 3, "{seen}");
    assert_eq!(seen["october"], 4);
    assert_eq!(seen["yearEnd"]["lectures"], 5);
    assert!(
        seen["yearEnd"]["tables"]
            .as_array()
            .unwrap()
            .contains(&"问题整改台账".into())
    );
    assert_eq!(seen["supervision"]["overdueMarked"], true, "{seen}");
    assert_eq!(seen["supervision"]["status"], "in_progress");
    // The township's writing reached the server: the problem, moved on.
    let heyi = db.store.branch(v.heyi).await.unwrap().unwrap();
    let township = token(keys, &v.township_admin);
    on_server(
        &server,
        &township,
        heyi.supervision_document,
        "the township's problem reached the server",
        |doc| {
            doc.records::<client_core::model::supervision::Problem>(&schema::PROBLEMS)
                .iter()
                .any(|(_, p)| p.problem == "三会一课记录不全" && p.progress.in_progress.is_some())
        },
    )
    .await;
    for (name, width) in [
        ("supervision-1280", 1280),
        ("overview-1280", 1280),
        ("overview-360", 720),
        ("drilldown-360", 720),
        ("year-end-1280", 1280),
    ] {
        let png = std::fs::read(screenshots().join(format!("{name}.png"))).unwrap();
        assert_eq!(
            u32::from_be_bytes(png[16..20].try_into().unwrap()),
            width,
            "{name}"
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_election_is_created_voted_on_phones_counted_by_the_server_and_its_result_shown() {
    use client_core::Millis;
    use client_core::model::branch::Election;
    use tianjian_server::elections::count_closed;

    let (db, server, hub) = served_with_app().await;
    let Database { v, keys, .. } = &db;
    let township = token(keys, &v.township_admin);
    let secretary = token(keys, &v.secretary);
    let args = vec![
        format!("http://{}", server.addr),
        invite(&server, &township, &v.secretary.user.to_string()).await,
        invite(&server, &secretary, &v.li.user.to_string()).await,
        // A branch admin is the township's to invite.
        invite(&server, &township, &v.deputy.user.to_string()).await,
        screenshots().display().to_string(),
    ];
    // Once the three ballots have reached the server, the election is closed and counted, as
    // the server's own minutely round would once its closing time had passed.
    let (store, branch) = (db.store.clone(), v.heyi);
    let counter = tokio::spawn(async move {
        loop {
            let found = store
                .elections()
                .await
                .unwrap()
                .into_iter()
                .find(|(_, b, e)| *b == branch && e.title == "发展之星");
            if let Some((id, _, election)) = found
                && store.ballots(branch, id).await.unwrap().len() == 3
            {
                let closed = Millis(election.closes_at.0 + 1);
                assert_eq!(count_closed(&store, Some(&hub), closed).await.unwrap(), 1);
                return id;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let seen = browser::run_json("election.mjs", args, Duration::from_secs(300)).await;
    let election = counter.await.unwrap();
    let results = seen["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{seen}");
    for result in results {
        assert_eq!(result["李章桂"], 1, "{seen}");
        assert_eq!(result["贺俊爱"], 2, "{seen}");
    }
    let bytes = on_server(
        &server,
        &secretary,
        v.branch,
        "the result is in the branch",
        |doc| {
            doc.get::<Election>(&schema::ELECTIONS, &election.to_string())
                .ok()
                .flatten()
                .is_some_and(|e| e.result.is_some())
        },
    )
    .await;
    let branch = Branch::load(&bytes, Limits::default()).unwrap();
    let counted: Election = branch
        .get(&schema::ELECTIONS, &election.to_string())
        .unwrap()
        .unwrap();
    assert_eq!(counted.result.unwrap().ballots, 3);
    for name in [
        "election-new-360",
        "election-result-360",
        "election-result-1280",
    ] {
        assert!(
            screenshots().join(format!("{name}.png")).is_file(),
            "{name}"
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_pledge_written_offline_goes_on_the_wall_and_an_edit_is_republished_once() {
    let (db, server, _) = served_with_app().await;
    let Database { v, keys, .. } = &db;
    let township = token(keys, &v.township_admin);
    let secretary = token(keys, &v.secretary);
    let year = tianjian_server::now().cst_date().year;
    let args = vec![
        format!("http://{}", server.addr),
        invite(&server, &township, &v.secretary.user.to_string()).await,
        invite(&server, &secretary, &v.li.user.to_string()).await,
        year.to_string(),
        screenshots().display().to_string(),
    ];
    let seen = browser::run_json("pledge-wall.mjs", args, Duration::from_secs(300)).await;
    assert_eq!(
        seen["first"],
        serde_json::json!(["带头学习宣传党的政策", "带头遵守村规民约"]),
        "{seen}"
    );
    assert_eq!(
        seen["second"],
        serde_json::json!(["带头学习宣传党的政策，每月讲一次微党课", "带头遵守村规民约"]),
        "{seen}"
    );
    assert_eq!(seen["pledged"], "1", "{seen}");
    assert_eq!(
        seen["states"],
        serde_json::json!(["unpublished", "published", "changed"]),
        "{seen}"
    );

    // The server's branch holds one live copy on the wall, of the edited pledge.
    let bytes = on_server(
        &server,
        &secretary,
        v.branch,
        "the republished pledge is in the branch",
        |doc| {
            doc.records::<FeedItem>(&schema::FEED)
                .iter()
                .any(|(_, item)| item.body.contains("每月讲一次微党课"))
        },
    )
    .await;
    let branch = Branch::load(&bytes, Limits::default()).unwrap();
    let wall = views::pledge_wall(&branch, year);
    assert_eq!(wall.len(), 1, "{wall:?}");
    assert_eq!(wall[0].name, "李章桂");
    assert!(views::feed(&branch).is_empty(), "a pledge is not broadcast");
    for name in ["pledge-mine-360", "pledge-wall-360", "pledge-collect-1280"] {
        assert!(
            screenshots().join(format!("{name}.png")).is_file(),
            "{name}"
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_secretary_runs_a_month_in_the_app_and_every_phone_and_the_server_agree() {
    use client_core::model::branch::{Rectification, Screening};
    use client_core::model::common::ReviewableKind;

    let (db, server, _) = served_with_app().await;
    let Database { v, keys, .. } = &db;
    let township = token(keys, &v.township_admin);
    let secretary = token(keys, &v.secretary);
    let system = token(keys, &v.system_admin);
    let files = tempfile::tempdir().unwrap();
    let photo = std::fs::read(web_dir().join("icons/icon-512.png")).unwrap();
    let photo_path = files.path().join("屋顶修好了.png");
    std::fs::write(&photo_path, &photo).unwrap();
    let args = vec![
        format!("http://{}", server.addr),
        invite(&server, &township, &v.secretary.user.to_string()).await,
        invite(&server, &township, &v.secretary.user.to_string()).await,
        invite(&server, &secretary, &v.li.user.to_string()).await,
        invite(&server, &system, &v.township_admin.user.to_string()).await,
        photo_path.display().to_string(),
        screenshots().display().to_string(),
    ];
    let story = browser::run_json("month-story.mjs", args, Duration::from_secs(480)).await;

    // The forms the checklist opened were filled in from the plan.
    let prefilled = &story["prefilled"];
    assert_eq!(
        prefilled["lectureTitle"], "学习贯彻党的二十届四中全会精神",
        "{story}"
    );
    assert_eq!(prefilled["serviceTitle"], "秸秆禁烧巡逻", "{story}");
    assert_eq!(prefilled["film"], "《榜样9》", "{story}");
    assert_eq!(prefilled["problem"], "独居老人李大爷家屋顶漏雨", "{story}");
    assert_eq!(prefilled["lecturePlan"], true, "{story}");
    assert_eq!(prefilled["filmPlan"], true, "{story}");
    let seen = &story["seen"];
    assert_eq!(
        seen["planned"],
        serde_json::json!([false, false, false, false]),
        "{story}"
    );
    assert_eq!(seen["meetingKind"], "theme_day", "{story}");
    assert_eq!(
        seen["fine"], true,
        "the member sees his lecture marked 精品: {story}"
    );
    assert_eq!(
        seen["edited"], "已修改，待重新审核 · 原审核版本仍计入统计",
        "{story}"
    );
    assert_eq!(
        seen["lectureStillDone"], true,
        "the approved version still counts"
    );
    assert_eq!(
        seen["screeningsListed"], 1,
        "the withdrawn screening is gone: {story}"
    );
    assert_eq!(
        seen["townshipButtons"], 1,
        "the township may only verify: {story}"
    );
    assert_eq!(
        seen["memberMayEdit"], false,
        "a member reads screenings only"
    );

    // Before the screening, 一片 was not done on either phone; at the end, all four parts on
    // both: lecture, film, practice, themed party day.
    for phone in ["secretary", "li"] {
        assert_eq!(
            story["before"][phone],
            serde_json::json!([true, false, true, false]),
            "{phone} before the screening: {story}"
        );
        assert_eq!(
            story["after"][phone],
            serde_json::json!([true, true, true, true]),
            "{phone} at the end: {story}"
        );
    }

    // The server's standing of the month says the same.
    let month = story["month"].as_str().unwrap();
    let answer = server
        .request(
            "GET",
            &format!("/api/v1/statistics/plans?month={month}"),
            Some(&secretary),
            None,
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    let plans = answer.json();
    let heyi = plans
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "合益村")
        .unwrap_or_else(|| panic!("合益村 in {plans}"));
    for flag in [
        "lecture_done",
        "film_done",
        "practice_done",
        "theme_day_held",
        "complete",
    ] {
        assert_eq!(heyi[flag], true, "{flag}: {heyi}");
    }

    // The branch on the server: the screening as changed, linked to the plan, with its photo;
    // the visit's problem verified by the township, with the photo of the repair; and the
    // withdrawn visit's approval taken back.
    let bytes = on_server(
        &server,
        &secretary,
        v.branch,
        "the verified rectification reached the server",
        |doc| {
            doc.records::<Rectification>(&schema::RECTIFICATIONS)
                .iter()
                .any(|(_, r)| r.progress.verified.is_some())
        },
    )
    .await;
    let branch = Branch::load(&bytes, Limits::default()).unwrap();
    let screenings = branch.records::<Screening>(&schema::SCREENINGS);
    let live: Vec<&Screening> = screenings
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.withdrawn.is_none())
        .collect();
    assert_eq!(live.len(), 1, "{screenings:?}");
    assert_eq!(live[0].film, "《榜样9》");
    assert_eq!(live[0].audience, 30);
    assert_eq!(live[0].attendees.len(), 2);
    assert_eq!(live[0].plan.map(|m| m.to_string()).as_deref(), Some(month));
    assert_eq!(live[0].media[0].sha256, sha256(&photo));
    assert_eq!(screenings.len(), 2, "one withdrawn, still kept");
    let rectifications = branch.records::<Rectification>(&schema::RECTIFICATIONS);
    assert_eq!(rectifications.len(), 1);
    let fixed = &rectifications[0].1;
    assert_eq!(fixed.problem, "独居老人李大爷家屋顶漏雨");
    assert_eq!(fixed.responsible, Some(v.li.user));
    let visit = fixed.from_visit.expect("it came from the visit");
    assert_eq!(
        (visit.notebook, visit.kind),
        (v.notebook, ReviewableKind::Visit)
    );
    assert_eq!(fixed.evidence.len(), 1);
    assert_eq!(fixed.evidence[0].sha256, sha256(&photo));
    assert_eq!(fixed.progress.done.as_ref().unwrap().by, v.secretary.user);
    assert_eq!(
        fixed.progress.done.as_ref().unwrap().note.as_deref(),
        Some("屋顶已修好")
    );
    assert_eq!(
        fixed.progress.verified.as_ref().unwrap().by,
        v.township_admin.user
    );
    let reviews = branch.records::<Review>(&schema::REVIEWS);
    let of_visit: Vec<(Decision, &str)> = reviews
        .iter()
        .filter(|(_, r)| r.record.kind == ReviewableKind::Visit)
        .map(|(_, r)| (r.decision, r.comment.as_str()))
        .collect();
    assert!(
        of_visit.contains(&(Decision::Returned, "成员已撤回")),
        "{of_visit:?}"
    );
    // The photo of the repair, byte for byte, for the township to see.
    assert_eq!(
        blob_on_server(&server, &township, &sha256(&photo)).await,
        photo
    );

    // Every new or changed screen, on a phone and on a desk.
    for name in story["shots"].as_array().unwrap() {
        let name = name.as_str().unwrap();
        let png = std::fs::read(screenshots().join(format!("{name}.png"))).unwrap();
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let expected = if name.ends_with("-1280") { 1280 } else { 720 };
        assert_eq!(width, expected, "{name}");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_secretary_schedules_lectures_li_records_his_turn_and_a_study_visit_reaches_the_ledger()
{
    use client_core::model::branch::{RosterEntry, ScheduleEntry};
    use client_core::model::common::ReviewableKind;
    use client_core::model::notebook::{Visit, VisitKind};

    let (db, server, _) = served_with_app().await;
    let Database { v, keys, .. } = &db;
    let township = token(keys, &v.township_admin);
    let secretary = token(keys, &v.secretary);
    // 曾德福, an old member of 合益村, put on the roster by the secretary.
    let body = format!(
        r#"{{"name":"曾德福","role":"member","branch":"{}","phone":null}}"#,
        v.heyi
    );
    let added = server
        .request("POST", "/api/v1/users", Some(&secretary), Some(&body))
        .await
        .unwrap();
    assert!(added.status == 201 || added.status == 200, "{}", added.body);
    let zeng = added.json()["id"].as_str().unwrap().to_owned();
    let args = vec![
        format!("http://{}", server.addr),
        invite(&server, &township, &v.secretary.user.to_string()).await,
        invite(&server, &township, &v.secretary.user.to_string()).await,
        invite(&server, &secretary, &v.li.user.to_string()).await,
        screenshots().display().to_string(),
    ];
    let story = browser::run_json("schedule-story.mjs", args, Duration::from_secs(480)).await;
    let (seen, prefilled) = (&story["seen"], &story["prefilled"]);
    let [li_day, guest_day] = [0, 1].map(|i| story["days"][i].as_str().unwrap().to_owned());
    let [topic, guest_topic, mistake] =
        [0, 1, 2].map(|i| story["topics"][i].as_str().unwrap().to_owned());
    let guest = story["guest"].as_str().unwrap();

    // The ledger shows the export's columns, in its order and words.
    let labels: Vec<&str> = seen["ledgerLabels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(
        labels[..9],
        [
            "流动党员",
            "流入党员",
            "老党员",
            "体弱党员",
            "银发党员",
            "联系电话",
            "所在城市",
            "工作单位",
            "结对帮学"
        ],
        "{story}"
    );
    // His turn, first on his home, and the form filled in from it.
    let month_day = |day: &str| {
        format!(
            "{}月{}日",
            day[5..7].parse::<u32>().unwrap(),
            day[8..10].parse::<u32>().unwrap()
        )
    };
    assert_eq!(
        seen["myTurn"],
        format!("你的下一次讲课：{} · {topic}", month_day(&li_day)),
        "{story}"
    );
    assert_eq!(seen["myTurnFirst"], true, "{story}");
    assert_eq!(prefilled["title"], topic.as_str(), "{story}");
    assert!(
        prefilled["heldAt"].as_str().unwrap().starts_with(&li_day),
        "{story}"
    );
    assert_eq!(prefilled["speaker"], "我自己", "{story}");
    assert_eq!(prefilled["venue"], "field", "{story}");
    assert_eq!(prefilled["household"], "曾德福", "{story}");
    // The kind wherever visits are listed.
    assert!(
        seen["homeVisitMeta"]
            .as_str()
            .unwrap()
            .starts_with("送学上门 · "),
        "{story}"
    );
    assert!(
        seen["queueVisitMeta"]
            .as_str()
            .unwrap()
            .starts_with("送学上门 · "),
        "{story}"
    );
    assert_eq!(seen["itemKind"], "送学上门", "{story}");
    // An admin recording the guest's lecture gets the guest as its speaker.
    assert_eq!(prefilled["guestTitle"], guest_topic.as_str(), "{story}");
    assert_eq!(prefilled["guestSpeakerChoice"], "", "{story}");
    assert_eq!(prefilled["guest"], guest, "{story}");
    assert!(
        prefilled["guestHeldAt"]
            .as_str()
            .unwrap()
            .starts_with(&guest_day),
        "{story}"
    );
    // His approved lecture is read first; the warning comes with 修改.
    assert_eq!(seen["readOnlyTitle"], topic.as_str(), "{story}");
    assert_eq!(seen["warnedBeforeReading"], false, "{story}");
    assert_eq!(seen["formBeforeEdit"], false, "{story}");
    assert_eq!(seen["formAfterEdit"], topic.as_str(), "{story}");
    assert_eq!(seen["memberMaySchedule"], false, "{story}");
    assert_eq!(seen["memberTeam"], "队员：李章桂", "{story}");
    assert_eq!(
        seen["adminOffered"],
        serde_json::json!(["曾德福"]),
        "{story}"
    );

    // The branch on the server: the schedule (the mistake withdrawn), the team, the silver
    // member, and both records approved.
    let bytes = on_server(
        &server,
        &secretary,
        v.branch,
        "the schedule, the roster and the approvals reached the server",
        |doc| doc.records::<Review>(&schema::REVIEWS).len() >= 2,
    )
    .await;
    let branch = Document::load(&bytes, Limits::default()).unwrap();
    let mut entries: Vec<ScheduleEntry> = branch
        .records::<ScheduleEntry>(&schema::SCHEDULE)
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    entries.sort_by_key(|e| e.date);
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert_eq!(entries[0].date.to_string(), li_day);
    assert_eq!(entries[0].topic, topic);
    assert_eq!(entries[0].speaker, Some(v.li.user));
    assert_eq!(entries[0].guest_speaker, None);
    assert_eq!(entries[0].created_by, v.secretary.user);
    assert_eq!(entries[1].date.to_string(), guest_day);
    assert_eq!(entries[1].speaker, None);
    assert_eq!(entries[1].guest_speaker.as_deref(), Some(guest));
    assert!(entries[0].withdrawn.is_none() && entries[1].withdrawn.is_none());
    assert_eq!(entries[2].topic, mistake);
    assert!(entries[2].withdrawn.is_some(), "the mistake is withdrawn");
    let roster: std::collections::HashMap<String, RosterEntry> = branch
        .records::<RosterEntry>(&schema::ROSTER)
        .into_iter()
        .collect();
    assert!(roster[&v.li.user.to_string()].lecturer);
    assert!(!roster[&v.secretary.user.to_string()].lecturer);
    assert!(roster[&zeng].silver, "曾德福 is a silver-haired member");
    let reviews = branch.records::<Review>(&schema::REVIEWS);
    for kind in [ReviewableKind::Lecture, ReviewableKind::Visit] {
        assert!(
            reviews
                .iter()
                .any(|(_, r)| r.record.kind == kind && r.decision == Decision::Approved),
            "{kind:?} approved: {reviews:?}"
        );
    }

    // 李章桂's notebook: the lecture as the schedule filled it in, and the visit's kind.
    let bytes = on_server(
        &server,
        &secretary,
        v.notebook,
        "the lecture and the visit reached the server",
        |doc| {
            !doc.records::<Lecture>(&schema::LECTURES).is_empty()
                && !doc.records::<Visit>(&schema::VISITS).is_empty()
        },
    )
    .await;
    let notebook = Notebook::load(&bytes, Limits::default()).unwrap();
    let lectures = notebook.records::<Lecture>(&schema::LECTURES);
    assert_eq!(lectures.len(), 1);
    let lecture = &lectures[0].1;
    assert_eq!(lecture.title, topic);
    assert_eq!(lecture.held_at.cst_date().to_string(), li_day);
    assert_eq!(lecture.speakers, vec![v.li.user]);
    assert_eq!(lecture.guest_speaker, None);
    assert_eq!(lecture.recorded_by, v.li.user);
    assert_eq!(lecture.audience, 15);
    assert_eq!(lecture.place, "柑橘园");
    let visits = notebook.records::<Visit>(&schema::VISITS);
    assert_eq!(visits.len(), 1);
    assert_eq!(visits[0].1.kind, VisitKind::StudyDelivery);
    assert_eq!(visits[0].1.household, "曾德福");

    // The visits ledger's 方式 column says 送学上门 for it.
    let month = story["month"].as_str().unwrap();
    let answer = server
        .request(
            "GET",
            &format!(
                "/api/v1/exports/visits?branch={}&period={month}&format=csv",
                v.heyi
            ),
            Some(&secretary),
            None,
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    let text = answer.body.trim_start_matches('\u{feff}').to_owned();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let kind_at = header
        .iter()
        .position(|h| *h == "方式")
        .expect("a 方式 column");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 1, "{text}");
    assert!(rows[0].contains(&"曾德福"), "{text}");
    assert_eq!(rows[0][kind_at], "送学上门", "{text}");

    // Every new or changed screen, on a phone and on a desk.
    for name in story["shots"].as_array().unwrap() {
        let name = name.as_str().unwrap();
        let png = std::fs::read(screenshots().join(format!("{name}.png"))).unwrap();
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let expected = if name.ends_with("-1280") { 1280 } else { 720 };
        assert_eq!(width, expected, "{name}");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_secretary_answers_the_townships_problem_with_a_photo_and_may_not_verify_it() {
    use client_core::model::common::Progress;
    use client_core::model::supervision::Problem;
    use tianjian_server::writer::{WriteError, Writer};

    let (db, server, hub) = served_with_app().await;
    let Database { v, keys, .. } = &db;
    let township = token(keys, &v.township_admin);
    let heyi = db.store.branch(v.heyi).await.unwrap().unwrap();
    let supervision = heyi.supervision_document;
    // The township raises a problem for 合益村 on the server, as its supervisor's phone would.
    let now = client_core::Millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    );
    let admin = &v.township_admin;
    Writer::new(&db.store, now)
        .through(Some(&hub))
        .supervision(supervision, admin, |s| {
            s.raise_problem(
                admin,
                now,
                Problem {
                    problem: "三会一课记录不全".into(),
                    measure: "按月整理会议记录".into(),
                    deadline: "2099-12-31".parse().unwrap(),
                    standard: "资料齐全".into(),
                    owner: "赵杰辉".into(),
                    progress: Progress::default(),
                    evidence: Vec::new(),
                    created_by: admin.user,
                    created_at: now,
                    withdrawn: None,
                },
            )
            .map_err(WriteError::from)
        })
        .await
        .unwrap();

    let files = tempfile::tempdir().unwrap();
    let photo = std::fs::read(web_dir().join("icons/icon-512.png")).unwrap();
    let photo_path = files.path().join("会议记录.png");
    std::fs::write(&photo_path, &photo).unwrap();
    let args = vec![
        format!("http://{}", server.addr),
        invite(&server, &township, &v.secretary.user.to_string()).await,
        photo_path.display().to_string(),
        screenshots().display().to_string(),
    ];
    let story = browser::run_json("township-problem.mjs", args, Duration::from_secs(240)).await;
    assert_eq!(
        story["before"],
        serde_json::json!(["in_progress", "done"]),
        "no verify button before: {story}"
    );
    assert_eq!(story["status"], "done", "{story}");
    assert_eq!(
        story["after"],
        serde_json::json!([]),
        "nothing to do once done, and no verify button: {story}"
    );
    assert_eq!(story["evidence"], 1, "{story}");

    // The supervision document on the server: the photo as evidence, done by the secretary.
    let bytes = on_server(
        &server,
        &township,
        supervision,
        "the done step reached the server",
        |doc| {
            doc.records::<Problem>(&schema::PROBLEMS)
                .iter()
                .any(|(_, p)| p.progress.done.is_some())
        },
    )
    .await;
    let doc = Document::load(&bytes, Limits::default()).unwrap();
    let problems = doc.records::<Problem>(&schema::PROBLEMS);
    assert_eq!(problems.len(), 1);
    let problem = &problems[0].1;
    assert_eq!(problem.problem, "三会一课记录不全", "nothing else changed");
    let evidence: Vec<&str> = problem.evidence.iter().map(|m| m.sha256.as_str()).collect();
    assert_eq!(evidence, vec![sha256(&photo).as_str()]);
    let done = problem.progress.done.as_ref().unwrap();
    assert_eq!(done.by, v.secretary.user);
    assert_eq!(done.note.as_deref(), Some("已按月整理三会一课记录"));
    assert!(problem.progress.verified.is_none());
    for name in story["shots"].as_array().unwrap() {
        let png =
            std::fs::read(screenshots().join(format!("{}.png", name.as_str().unwrap()))).unwrap();
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 720);
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_secretarys_phone_offline_shows_the_branchs_figures_and_plan_as_the_server_counts_them()
{
    let (db, server, _) = served_with_app().await;
    crate::statistics::write_october(&db).await;
    let Database { v, keys, .. } = &db;
    let secretary = token(keys, &v.secretary);
    // What the server counts for 合益村's October.
    let (figures, plans) = (
        server
            .request(
                "GET",
                &format!("/api/v1/statistics?branch={}&period=2026-10", v.heyi),
                Some(&secretary),
                None,
            )
            .await
            .unwrap()
            .json(),
        server
            .request(
                "GET",
                &format!("/api/v1/statistics/plans?branch={}&month=2026-10", v.heyi),
                Some(&secretary),
                None,
            )
            .await
            .unwrap()
            .json(),
    );
    let counted = &figures["branches"][0];
    let standing = &plans[0];

    // The township appoints secretaries, and enrols their phones.
    let township = token(keys, &v.township_admin);
    let args = vec![
        format!("http://{}", server.addr),
        invite(&server, &township, &v.secretary.user.to_string()).await,
        screenshots().display().to_string(),
    ];
    let seen = browser::run_json("offline-figures.mjs", args, Duration::from_secs(240)).await;
    for figure in [
        "lectures",
        "lecturers",
        "audience",
        "volunteer_hours",
        "households_visited",
        "screenings",
        "rectifications_overdue",
    ] {
        let shown: f64 = seen["figures"][figure].as_str().unwrap().parse().unwrap();
        assert_eq!(shown, counted[figure].as_f64().unwrap(), "{figure}: {seen}");
    }
    // The township's problems are the server's to count.
    assert_eq!(seen["figures"]["problems_overdue"], "—");
    let mark = |done: &serde_json::Value| if done == true { "✓" } else { "✗" };
    assert_eq!(
        seen["plan"],
        serde_json::json!([
            mark(&standing["lecture_done"]),
            mark(&standing["film_done"]),
            mark(&standing["practice_done"]),
            mark(&standing["theme_day_held"]),
        ]),
        "{seen} {standing}"
    );
    assert!(
        seen["notice"].as_str().unwrap().contains("没有网络"),
        "{seen}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_invite_qr_code_shown_to_the_fake_camera_is_read_in_the_app_and_enrols_the_phone() {
    /// A video for Chromium's fake camera (Y4M, 4:2:0): each text as a QR code, black on
    /// white with its quiet zone, as a screen or a printed sheet shows it, for a second each.
    fn qr_video(texts: &[&str]) -> Vec<u8> {
        const WIDTH: usize = 640;
        const HEIGHT: usize = 480;
        const FRAMES_EACH: usize = 5;
        let mut video =
            format!("YUV4MPEG2 W{WIDTH} H{HEIGHT} F5:1 Ip A1:1 C420jpeg\n").into_bytes();
        for text in texts {
            let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
            let (modules, colors) = (code.width(), code.to_colors());
            let side = modules + 8;
            let scale = HEIGHT / side;
            let (left, top) = (
                (WIDTH - side * scale) / 2 + 4 * scale,
                (HEIGHT - side * scale) / 2 + 4 * scale,
            );
            let mut luma = vec![235u8; WIDTH * HEIGHT];
            for (at, color) in colors.iter().enumerate() {
                if *color == qrcode::Color::Dark {
                    let (x, y) = (left + at % modules * scale, top + at / modules * scale);
                    for row in y..y + scale {
                        luma[row * WIDTH + x..row * WIDTH + x + scale].fill(16);
                    }
                }
            }
            let chroma = vec![128u8; WIDTH * HEIGHT / 4];
            for _ in 0..FRAMES_EACH {
                video.extend_from_slice(b"FRAME\n");
                video.extend_from_slice(&luma);
                video.extend_from_slice(&chroma);
                video.extend_from_slice(&chroma);
            }
        }
        video
    }

    let (db, server, _) = served_with_app().await;
    let Database { v, keys, .. } = &db;
    let secretary = token(keys, &v.secretary);
    let devices = || async {
        let listed = server
            .request(
                "GET",
                &format!("/api/v1/users/{}/devices", v.li.user),
                Some(&secretary),
                None,
            )
            .await
            .unwrap();
        assert_eq!(listed.status, 200, "{}", listed.body);
        listed.json().as_array().unwrap().len()
    };
    let before = devices().await;

    // The secretary makes 李章桂 an invite; its QR code holds the app's link.
    let answer = server
        .request(
            "POST",
            &format!("/api/v1/users/{}/invites", v.li.user),
            Some(&secretary),
            Some("{}"),
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 201, "{}", answer.body);
    let (code, link) = (
        answer.json()["code"].as_str().unwrap().to_owned(),
        answer.json()["link"].as_str().unwrap().to_owned(),
    );
    assert!(link.ends_with(&format!("#enrol={code}")), "{link}");

    let files = tempfile::tempdir().unwrap();
    let (invite_video, others_video) = (
        files.path().join("invite.y4m"),
        files.path().join("others.y4m"),
    );
    std::fs::write(&invite_video, qr_video(&[&link])).unwrap();
    // Another site's link with something that is not a code after `enrol=`, and the office's
    // Wi-Fi password: neither is an invite.
    std::fs::write(
        &others_video,
        qr_video(&[
            "https://example.com/#enrol=7KQ4-MZ2P-XW9D-0000",
            "WIFI:S:HEYI-CUN;T:WPA;P:12345678;;",
        ]),
    )
    .unwrap();

    let story = browser::run_json(
        "scan-invite.mjs",
        vec![
            format!("http://{}", server.addr),
            invite_video.display().to_string(),
            others_video.display().to_string(),
            screenshots().display().to_string(),
        ],
        Duration::from_secs(240),
    )
    .await;
    println!("read by: {}", story["invite"]["decoder"]);

    // Signed in with the invite, once, and the camera is off again.
    let invited = &story["invite"];
    assert_eq!(invited["enrolments"], 1, "{story}");
    assert_eq!(invited["camera"]["opened"], 1, "{story}");
    assert_eq!(invited["camera"]["live"], 0, "the camera is off: {story}");
    assert_eq!(devices().await, before + 1, "the phone is enrolled");
    let again = server
        .request(
            "POST",
            "/api/v1/enrol",
            None,
            Some(&serde_json::json!({ "code": code, "device_name": "again" }).to_string()),
        )
        .await
        .unwrap();
    assert_eq!(again.status, 401, "{}", again.body);
    assert_eq!(again.json()["error"], "invite_used");

    // The other QR codes: each named for what it is; nobody signed in, nothing opened.
    let others = &story["others"];
    assert_eq!(others["enrolments"], 0, "{story}");
    assert_eq!(others["elsewhere"], serde_json::json!([]), "{story}");
    assert_eq!(others["sameAddress"], true, "{story}");
    assert_eq!(others["signedIn"], false, "{story}");
    assert_eq!(others["camera"]["live"], 0, "the camera is off: {story}");
    assert_eq!(others["decoder"], invited["decoder"], "{story}");

    // No camera allowed: said in plain words, and the code can still be typed.
    let refused = &story["refused"];
    assert!(
        refused["message"].as_str().unwrap().contains("相机"),
        "{story}"
    );
    assert_eq!(refused["typing"], true, "{story}");
    assert_eq!(refused["camera"]["live"], 0, "{story}");
    assert_eq!(devices().await, before + 1, "no other phone was enrolled");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_full_phone_refuses_a_recording_before_it_starts_and_one_cut_off_is_offered_back() {
    let (db, server, _) = served_with_app().await;
    let Database { v, keys, .. } = &db;
    let secretary = token(keys, &v.secretary);
    // Two phones of 李章桂: a full one, and one that an older app left its database on.
    let li = v.li.user.to_string();
    let args = vec![
        format!("http://{}", server.addr),
        invite(&server, &secretary, &li).await,
        invite(&server, &secretary, &li).await,
        screenshots().display().to_string(),
    ];
    let story = browser::run_json("phone-storage.mjs", args, Duration::from_secs(300)).await;
    let upgraded = &story["upgraded"];
    assert_eq!(upgraded["version"], 2, "{story}");
    assert_eq!(upgraded["probe"], "kept from version 1", "{story}");
    assert!(
        upgraded["stores"]
            .as_array()
            .unwrap()
            .contains(&"recordings".into()),
        "{story}"
    );

    // The lesson kept from the recording cut off by closing the page reached the server, and
    // so did its video.
    let lesson = lecture_on_server(
        &server,
        &secretary,
        v.notebook,
        story["title"].as_str().unwrap(),
    )
    .await;
    assert_eq!(lesson.media.len(), 1, "{:?}", lesson.media);
    let video = &lesson.media[0];
    assert_eq!(video.sha256, story["sha256"].as_str().unwrap());
    assert_eq!(video.media_type, "video/mp4");
    assert!(
        video.duration_ms.is_some_and(|ms| ms >= 5_000),
        "the kept recording knows about how long it is: {:?}",
        video.duration_ms
    );
    let fetched = blob_on_server(&server, &secretary, &video.sha256).await;
    assert_eq!(fetched.len() as i64, video.size);

    for name in [
        "settings-storage-full",
        "recording-refused",
        "settings-storage",
        "interrupted-recording",
    ] {
        let png = std::fs::read(screenshots().join(format!("{name}.png"))).unwrap();
        assert_eq!(
            u32::from_be_bytes(png[16..20].try_into().unwrap()),
            720,
            "{name}"
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_old_member_records_a_lecture_in_three_taps_large_type_clips_nothing_and_video_waits_for_wifi()
 {
    let (db, server, _) = served_with_app().await;
    let Database { v, keys, store, .. } = &db;
    let secretary = token(keys, &v.secretary);
    // 贺俊爱 plays the silver-haired member: what she sees is what any member sees.
    let silver = &v.deputy;
    // The township admin invites the branch's admins as well as its members.
    let township = token(keys, &v.township_admin);
    let codes = [
        invite(&server, &township, &silver.user.to_string()).await,
        invite(&server, &township, &v.li.user.to_string()).await,
    ];
    let story = browser::run_json(
        "short-paths.mjs",
        vec![
            format!("http://{}", server.addr),
            codes[0].clone(),
            codes[1].clone(),
            screenshots().display().to_string(),
        ],
        Duration::from_secs(300),
    )
    .await;

    // At most six taps from home, the title typed, and the whole roster was there.
    let taps = story["silver"]["taps"].as_u64().unwrap();
    assert!(taps <= 6, "{taps} taps: {story}");
    assert_eq!(story["silver"]["roster"], 3, "{story}");
    assert_eq!(story["silver"]["attendees"], 3, "{story}");
    let notebook = store
        .user(silver.user)
        .await
        .unwrap()
        .unwrap()
        .notebook_document
        .unwrap();
    let title = story["silver"]["title"].as_str().unwrap();
    let lecture = lecture_on_server(&server, &secretary, notebook, title).await;
    let mut attendees = lecture.attendees.clone();
    attendees.sort();
    let mut roster = vec![v.li.user, v.secretary.user, v.deputy.user];
    roster.sort();
    assert_eq!(attendees, roster);
    assert_eq!(lecture.speakers, vec![silver.user]);
    assert_eq!(
        lecture.submission.state,
        client_core::model::common::SubmissionState::Submitted
    );

    for (form, clipped) in story["clipped"].as_object().unwrap() {
        assert_eq!(
            clipped.as_array().unwrap().len(),
            0,
            "large type clips the {form} at 360 pixels: {clipped}"
        );
    }

    // The lesson form asks for what a remote lesson is, and nothing of a lecture in the
    // village.
    let lesson = &story["lesson"];
    let asked: Vec<&str> = lesson["asked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for never in [
        "attendee",
        "audience",
        "place",
        "venue",
        "speaker",
        "guest_speaker",
        "photo",
        "audio",
    ] {
        assert!(
            !asked.contains(&never),
            "the lesson asks {never}: {asked:?}"
        );
    }
    for needed in ["title", "summary", "held_at", "video"] {
        assert!(
            asked.contains(&needed),
            "the lesson needs {needed}: {asked:?}"
        );
    }
    assert_eq!(lesson["locate"], 0, "no GPS for a lesson");
    assert_eq!(lesson["offered"], serde_json::json!(["record-video"]));
    assert!(
        lesson["status"].as_str().unwrap().starts_with("等待 Wi-Fi"),
        "{lesson}"
    );
    assert_eq!(lesson["stillWaiting"], 1, "{lesson}");
    assert!(
        lesson["mediaSays"].as_str().unwrap().contains("等 Wi-Fi"),
        "the video on the form says what the status line says: {lesson}"
    );

    // On Wi-Fi the video went: the server holds it, whole.
    let lesson = lecture_on_server(
        &server,
        &secretary,
        v.notebook,
        lesson["title"].as_str().unwrap(),
    )
    .await;
    assert_eq!(lesson.venue, client_core::model::notebook::Venue::Remote);
    assert!(lesson.attendees.is_empty() && lesson.gps.is_none());
    blob_on_server(&server, &secretary, &lesson.media[0].sha256).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_moved_members_offline_lectures_come_back_first_on_home_one_into_his_new_notebook_one_discarded()
 {
    let (db, server, _) = served_with_app().await;
    let Database { v, keys, store, .. } = &db;
    let township = token(keys, &v.township_admin);
    let code = invite(&server, &township, &v.li.user.to_string()).await;
    let story = browser::run_json(
        "returned-records.mjs",
        vec![
            format!("http://{}", server.addr),
            code,
            township.clone(),
            v.li.user.to_string(),
            v.shuangqiao.to_string(),
            screenshots().display().to_string(),
        ],
        Duration::from_secs(240),
    )
    .await;
    assert_eq!(
        story["first"], true,
        "returned records come first on home: {story}"
    );
    assert!(
        story["status"].as_str().unwrap().contains("被退回"),
        "{story}"
    );
    assert!(story["why"].as_str().unwrap().contains("权限"), "{story}");
    assert_eq!(story["afterDiscard"], 0);

    // The old notebook kept nothing of them.
    let old = Notebook::load(
        &store.load_document(v.notebook).await.unwrap().unwrap(),
        Limits::default(),
    )
    .unwrap();
    let (title, discarded) = (
        story["title"].as_str().unwrap(),
        story["discarded"].as_str().unwrap(),
    );
    assert!(
        old.records::<Lecture>(&schema::LECTURES)
            .iter()
            .all(|(_, l)| l.title != title && l.title != discarded)
    );
    // The one he kept is in his new branch's notebook, held when he said, sent for review;
    // the discarded one is nowhere.
    let new_notebook = store
        .user(v.li.user)
        .await
        .unwrap()
        .unwrap()
        .notebook_document
        .unwrap();
    assert_ne!(new_notebook, v.notebook);
    let kept = lecture_on_server(&server, &township, new_notebook, title).await;
    assert_eq!(
        client_core::Millis(kept.held_at.0).cst_date().to_string(),
        "2026-11-28"
    );
    assert_eq!(kept.recorded_by, v.li.user);
    assert_eq!(
        kept.submission.state,
        client_core::model::common::SubmissionState::Submitted
    );
    let new = Notebook::load(
        &store.load_document(new_notebook).await.unwrap().unwrap(),
        Limits::default(),
    )
    .unwrap();
    assert!(
        new.records::<Lecture>(&schema::LECTURES)
            .iter()
            .all(|(_, l)| l.title != discarded)
    );
    let refusals = store
        .audit_since(client_core::Millis(0))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event == "refusal" && e.document == Some(v.notebook))
        .count();
    assert!(refusals >= 1, "the refusal is audited");
    server.stop().await.unwrap();
}
