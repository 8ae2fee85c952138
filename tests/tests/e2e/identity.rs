//! Identity end to end: phones enrol with invite codes or passwords, refresh their tokens,
//! are revoked and cut off, and sign in again without losing what they recorded; members
//! move between branches; admins read the audit log. Each step is a real request to a real
//! server, and the client's side is client-core's `Session`.

use std::time::{Duration, Instant};

use client_core::session::{Credentials, Session, Step};
use client_core::{DocumentId, Limits, Millis, Notebook, Principal, Role};
use serde_json::{Value, json};
use tianjian_server::AppState;
use tianjian_server::auth::Settings;
use tianjian_tests::device::Device;
use tianjian_tests::fixture::{
    Database, NOW, config, database, lecture, lectures_in, served, token,
};
use tianjian_tests::{Response, TestServer};

const LIMIT: Duration = Duration::from_secs(20);

async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Response {
    let body = (!body.is_null()).then(|| body.to_string());
    server
        .request(method, path, token, body.as_deref())
        .await
        .unwrap()
}

/// Issues an invite for `user` as `admin` and redeems it, as a phone does.
async fn enrol(server: &TestServer, admin: &str, user: &str, phone: &str) -> Credentials {
    let invite = call(
        server,
        "POST",
        &format!("/api/v1/users/{user}/invites"),
        Some(admin),
        json!({}),
    )
    .await;
    assert_eq!(invite.status, 201, "{}", invite.body);
    let code = invite.json()["code"].as_str().unwrap().to_owned();
    let enrolled = call(
        server,
        "POST",
        "/api/v1/enrol",
        None,
        json!({"code": code, "device_name": phone}),
    )
    .await;
    assert_eq!(enrolled.status, 200, "{}", enrolled.body);
    serde_json::from_str(&enrolled.body).unwrap()
}

fn now() -> Millis {
    tianjian_server::now()
}

/// Records a lecture in `notebook` on `device`, as `who`, writing with `actor`.
async fn record_lecture(device: &mut Device, notebook: DocumentId, who: &Principal, actor: &str) {
    let (who, actor) = (who.clone(), actor.to_owned());
    device
        .edit(notebook, move |doc| {
            let mut handle = Notebook::load(&doc.save(), Limits::default()).unwrap();
            handle
                .document_mut()
                .set_actor(automerge::ActorId::try_from(actor.as_str()).unwrap());
            handle.record_lecture(&who, NOW, lecture(&who)).unwrap();
            doc.load_incremental(&handle.automerge().save()).unwrap();
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_new_member_enrols_with_an_invite_syncs_and_keeps_refreshing() {
    let (db, server) = served().await;
    let Database { v, keys, .. } = &db;
    let secretary = token(keys, &v.secretary);

    // The secretary adds 李新 to 合益村 and prints him an invite.
    let created = call(
        &server,
        "POST",
        "/api/v1/users",
        Some(&secretary),
        json!({"name": "李新", "role": "member", "branch": v.heyi, "phone": "138 0000 1234"}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let user = created.json()["id"].as_str().unwrap().to_owned();
    let invite = call(
        &server,
        "POST",
        &format!("/api/v1/users/{user}/invites"),
        Some(&secretary),
        json!({}),
    )
    .await;
    assert_eq!(invite.status, 201, "{}", invite.body);
    let answer = invite.json();
    let code = answer["code"].as_str().unwrap();
    assert!(answer["qr_svg"].as_str().unwrap().contains("<svg"));
    assert!(
        answer["link"]
            .as_str()
            .unwrap()
            .ends_with(&format!("#enrol={code}"))
    );
    let week = answer["expires_at"].as_i64().unwrap() - now().0;
    assert!((7 * 86_400_000 - 60_000..=7 * 86_400_000).contains(&week));

    // His phone redeems it, typed in lower case with spaces, and learns what to sync.
    let typed = code.to_lowercase().replace('-', " ");
    let enrolled = call(
        &server,
        "POST",
        "/api/v1/enrol",
        None,
        json!({"code": typed, "device_name": "李新的手机"}),
    )
    .await;
    assert_eq!(enrolled.status, 200, "{}", enrolled.body);
    let mut session = Session::default();
    assert!(session.signed_in(serde_json::from_str(&enrolled.body).unwrap()));
    let Step::Sync { access_token } = session.next(now()) else {
        panic!("a fresh sign-in syncs");
    };
    let me = call(
        &server,
        "GET",
        "/api/v1/me",
        Some(&access_token),
        Value::Null,
    )
    .await;
    assert_eq!(me.status, 200, "{}", me.body);
    let me = me.json();
    assert_eq!(me["principal"]["role"], "member");
    let notebook = DocumentId::from_url(me["notebook"].as_str().unwrap()).unwrap();
    let urls: Vec<&str> = me["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["url"].as_str().unwrap())
        .collect();
    assert!(urls.contains(&notebook.url().as_str()) && urls.contains(&v.branch.url().as_str()));

    // It registers the actor it writes with, records a lecture and syncs it.
    let who: Principal = serde_json::from_value(me["principal"].clone()).unwrap();
    let actor = session.actor_for(who.user).unwrap();
    let registered = call(
        &server,
        "POST",
        "/api/v1/me/actors",
        Some(&access_token),
        json!({"actors": [actor]}),
    )
    .await;
    assert_eq!(registered.status, 200, "{}", registered.body);
    let mut phone = Device::new("li-xin-phone");
    let bytes = db.store.load_document(notebook).await.unwrap().unwrap();
    phone.hold(notebook, bytes);
    phone.open(notebook).await.unwrap();
    record_lecture(&mut phone, notebook, &who, &actor).await;
    phone.connect(server.addr, &access_token).await.unwrap();
    assert!(
        phone
            .sync_until_acknowledged(LIMIT, &[notebook])
            .await
            .unwrap()
    );
    let stored = db.store.load_document(notebook).await.unwrap().unwrap();
    assert_eq!(lectures_in(&stored), 1);

    // Refreshing rotates the refresh token; the old one, presented again after its successor
    // was used, gives the phone away as copied: it is revoked, and so is the new token.
    let first = session.credentials().unwrap().refresh_token.clone();
    let refresh = |token: &str| {
        let body = json!({ "refresh_token": token });
        let server = &server;
        async move { call(server, "POST", "/api/v1/token", None, body).await }
    };
    let second = refresh(&first).await;
    assert_eq!(second.status, 200, "{}", second.body);
    session.signed_in(serde_json::from_str(&second.body).unwrap());
    let second = session.credentials().unwrap().refresh_token.clone();
    assert_ne!(second, first);
    let third = refresh(&second).await;
    assert_eq!(third.status, 200, "{}", third.body);
    let third: Credentials = serde_json::from_str(&third.body).unwrap();
    let reused = refresh(&first).await;
    assert_eq!(
        (reused.status, reused.error().as_deref()),
        (401, Some("device_revoked"))
    );
    let after = refresh(&third.refresh_token).await;
    assert_eq!(after.error().as_deref(), Some("device_revoked"));
    let me = call(
        &server,
        "GET",
        "/api/v1/me",
        Some(&third.access_token),
        Value::Null,
    )
    .await;
    assert_eq!(me.error().as_deref(), Some("device_revoked"));
    assert!(matches!(
        session.refused("device_revoked", now()),
        Step::SignIn { .. }
    ));

    // The secretary reads it all in 合益村's audit log.
    let audit = call(
        &server,
        "GET",
        &format!("/api/v1/audit?branch={}", v.heyi),
        Some(&secretary),
        Value::Null,
    )
    .await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    let events: Vec<String> = audit
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "user_created",
        "invite_issued",
        "enrolled",
        "token_refreshed",
        "refresh_reused",
    ] {
        assert!(
            events.iter().any(|e| e == expected),
            "{expected} in {events:?}"
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_refresh_whose_answer_was_lost_may_be_retried_once() {
    let (db, server) = served().await;
    let secretary = token(&db.keys, &db.v.secretary);
    let li = db.v.li.user.to_string();
    let credentials = enrol(&server, &secretary, &li, "李章桂的手机").await;
    let body = json!({ "refresh_token": credentials.refresh_token });
    let lost = call(&server, "POST", "/api/v1/token", None, body.clone()).await;
    assert_eq!(lost.status, 200);
    // The phone never saw that answer and asks again with the same token.
    let retried = call(&server, "POST", "/api/v1/token", None, body).await;
    assert_eq!(retried.status, 200, "{}", retried.body);
    let retried: Credentials = serde_json::from_str(&retried.body).unwrap();
    let next = json!({ "refresh_token": retried.refresh_token });
    assert_eq!(
        call(&server, "POST", "/api/v1/token", None, next)
            .await
            .status,
        200
    );
    // The answer it never saw is dead: whoever shows it is not the phone.
    let lost: Credentials = serde_json::from_str(&lost.body).unwrap();
    let stolen = json!({ "refresh_token": lost.refresh_token });
    let refused = call(&server, "POST", "/api/v1/token", None, stolen).await;
    assert_eq!(refused.error().as_deref(), Some("device_revoked"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_revoked_phone_is_cut_off_within_seconds_and_keeps_its_records() {
    let (db, server) = served().await;
    let Database { v, keys, .. } = &db;
    let mut phone = Device::new("li-phone");
    phone.hold(v.notebook, v.notebook_bytes.clone());
    phone.open(v.notebook).await.unwrap();
    phone
        .connect(server.addr, &token(keys, &v.li))
        .await
        .unwrap();
    assert!(
        phone
            .sync_until_acknowledged(LIMIT, &[v.notebook])
            .await
            .unwrap()
    );

    // The phone is lost; the secretary revokes it.
    let device = tianjian_tests::fixture::phone_of(v.li.user);
    let revoked = call(
        &server,
        "POST",
        &format!("/api/v1/devices/{device}/revoke"),
        Some(&token(keys, &v.secretary)),
        Value::Null,
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(revoked.json()["revoked"], true);
    let started = Instant::now();
    assert!(
        phone
            .sync_until_closed(Duration::from_secs(5))
            .await
            .unwrap()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        phone
            .connect(server.addr, &token(keys, &v.li))
            .await
            .is_err()
    );
    assert!(phone.document(v.notebook).is_some());

    let devices = call(
        &server,
        "GET",
        &format!("/api/v1/users/{}/devices", v.li.user),
        Some(&token(keys, &v.secretary)),
        Value::Null,
    )
    .await;
    assert!(devices.json()[0]["revoked_at"].is_i64(), "{}", devices.body);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn nothing_recorded_is_lost_across_an_expired_sign_in_and_a_re_enrolment() {
    let db = database().await;
    let settings = Settings {
        access_ttl: Duration::from_secs(1),
        refresh_ttl: Duration::from_secs(2),
        ..Settings::default()
    };
    let state = AppState::open(db.store.clone(), config(settings))
        .await
        .unwrap();
    let server = TestServer::start_with(state).await.unwrap();
    let Database { v, keys, .. } = &db;
    let secretary = token(keys, &v.secretary);
    let li = v.li.user.to_string();

    let mut session = Session::default();
    session.signed_in(enrol(&server, &secretary, &li, "李章桂的手机").await);
    let actor = session.actor_for(v.li.user).unwrap();
    let mut phone = Device::new("li-phone");
    phone.hold(v.notebook, v.notebook_bytes.clone());
    phone.open(v.notebook).await.unwrap();

    // Weeks without signal (here, three seconds): he records a lecture all the same.
    record_lecture(&mut phone, v.notebook, &v.li, &actor).await;
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    let Step::SignIn { because } = session.next(now()) else {
        panic!("the sign-in has run out");
    };
    assert!(because.is_some());
    // Even a phone whose clock is slow hears it from the server.
    let refresh_token = session.credentials().unwrap().refresh_token.clone();
    let refused = call(
        &server,
        "POST",
        "/api/v1/token",
        None,
        json!({ "refresh_token": refresh_token }),
    )
    .await;
    assert_eq!(refused.error().as_deref(), Some("refresh_expired"));
    assert!(matches!(
        session.refused("refresh_expired", now()),
        Step::SignIn { .. }
    ));
    assert_eq!(session.credentials(), None);
    assert_eq!(lectures_in(&phone.document(v.notebook).unwrap().save()), 1);

    // The secretary gives him a new code; the same phone signs in again as the same person,
    // with the same actor, and the lecture goes through.
    assert!(session.signed_in(enrol(&server, &secretary, &li, "李章桂的手机").await));
    assert_eq!(session.actor_for(v.li.user).unwrap(), actor);
    let access = session.credentials().unwrap().access_token.clone();
    let registered = call(
        &server,
        "POST",
        "/api/v1/me/actors",
        Some(&access),
        json!({ "actors": [actor] }),
    )
    .await;
    assert_eq!(registered.status, 200, "{}", registered.body);
    phone.connect(server.addr, &access).await.unwrap();
    assert!(
        phone
            .sync_until_acknowledged(LIMIT, &[v.notebook])
            .await
            .unwrap()
    );
    let stored = db.store.load_document(v.notebook).await.unwrap().unwrap();
    assert_eq!(lectures_in(&stored), 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_actor_registered_by_one_person_cannot_be_taken_by_another() {
    let (db, server) = served().await;
    let Database { v, keys, .. } = &db;
    let actor = json!({ "actors": ["0123456789abcdef0123456789abcdef"] });
    let li = call(
        &server,
        "POST",
        "/api/v1/me/actors",
        Some(&token(keys, &v.li)),
        actor.clone(),
    )
    .await;
    assert_eq!(li.status, 200, "{}", li.body);
    let again = call(
        &server,
        "POST",
        "/api/v1/me/actors",
        Some(&token(keys, &v.li)),
        actor.clone(),
    )
    .await;
    assert_eq!(
        again.status, 200,
        "registering one's own actor again is harmless"
    );
    let deputy = call(
        &server,
        "POST",
        "/api/v1/me/actors",
        Some(&token(keys, &v.deputy)),
        actor,
    )
    .await;
    assert_eq!(
        (deputy.status, deputy.error().as_deref()),
        (409, Some("conflict"))
    );
    let bindings = db.store.actor_bindings().await.unwrap();
    assert_eq!(
        bindings
            .iter()
            .filter(|(_, user)| *user == v.li.user)
            .count(),
        1
    );
    assert!(bindings.iter().all(|(_, user)| *user != v.deputy.user));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_member_moved_to_another_branch_keeps_his_history_readable_and_writes_the_new_one() {
    let (db, server) = served().await;
    let Database { v, keys, store, .. } = &db;
    let mut phone = Device::new("li-phone");
    phone.hold(v.notebook, v.notebook_bytes.clone());
    phone.open(v.notebook).await.unwrap();
    phone
        .connect(server.addr, &token(keys, &v.li))
        .await
        .unwrap();
    assert!(
        phone
            .sync_until_acknowledged(LIMIT, &[v.notebook])
            .await
            .unwrap()
    );

    // The township moves 李章桂 to 双桥村 (组织关系转接); his session ends at once.
    let township = token(keys, &v.township_admin);
    let moved = call(
        &server,
        "POST",
        &format!("/api/v1/users/{}/move", v.li.user),
        Some(&township),
        json!({ "branch": v.shuangqiao }),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    let new_notebook: DocumentId = moved.json()["notebook_document"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(new_notebook, v.notebook);
    assert!(
        phone
            .sync_until_closed(Duration::from_secs(5))
            .await
            .unwrap()
    );

    // His phone signs in again as who he is now: it may still read the old notebook, but
    // what it writes there is refused; the new notebook takes his lectures.
    let me = call(
        &server,
        "GET",
        "/api/v1/me",
        Some(&token(keys, &v.li)),
        Value::Null,
    )
    .await;
    assert_eq!(me.json()["principal"]["branch"], v.shuangqiao.to_string());
    let now_li: Principal = serde_json::from_value(me.json()["principal"].clone()).unwrap();
    let before = tianjian_tests::fixture::table_rows(&db.store, &["changes"]).await;
    let mut old_writer = Device::new("li-phone-old");
    old_writer.hold(v.notebook, v.notebook_bytes.clone());
    old_writer.open(v.notebook).await.unwrap();
    record_lecture(&mut old_writer, v.notebook, &v.li, "aa".repeat(16).as_str()).await;
    old_writer
        .connect(server.addr, &token(keys, &v.li))
        .await
        .unwrap();
    old_writer
        .sync_until_closed(Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(
        tianjian_tests::fixture::table_rows(&db.store, &["changes"]).await,
        before
    );

    let mut new_phone = Device::new("li-phone-new");
    new_phone.hold(
        new_notebook,
        store.load_document(new_notebook).await.unwrap().unwrap(),
    );
    new_phone.open(new_notebook).await.unwrap();
    record_lecture(
        &mut new_phone,
        new_notebook,
        &now_li,
        "bb".repeat(16).as_str(),
    )
    .await;
    new_phone
        .connect(server.addr, &token(keys, &v.li))
        .await
        .unwrap();
    assert!(
        new_phone
            .sync_until_acknowledged(LIMIT, &[new_notebook])
            .await
            .unwrap()
    );

    // 合益村 keeps reading what he recorded while he belonged to it, and nothing after.
    let mut secretary = Device::new("secretary-phone");
    secretary.open(v.notebook).await.unwrap();
    secretary.open(new_notebook).await.unwrap();
    secretary
        .connect(server.addr, &token(keys, &v.secretary))
        .await
        .unwrap();
    assert!(
        secretary
            .sync_until_unavailable(LIMIT, new_notebook)
            .await
            .unwrap()
    );
    let old = v.notebook;
    assert!(
        secretary
            .sync_until(LIMIT, |d| {
                let held = d
                    .document(old)
                    .is_some_and(|doc| !doc.get_heads().is_empty());
                async move { held }
            })
            .await
            .unwrap()
    );
    // The rosters say so too.
    let audit = store.audit_since(Millis(0)).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.event == "member_moved" && e.branch == Some(v.heyi))
    );
    assert!(
        audit
            .iter()
            .any(|e| e.event == "refusal" && e.rule.as_deref() == Some("write_denied"))
    );
    assert_eq!(Role::Member, now_li.role);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_member_signs_in_with_phone_and_password_and_changes_it() {
    let (db, server) = served().await;
    let Database { v, keys, .. } = &db;
    let secretary = token(keys, &v.secretary);
    let created = call(
        &server,
        "POST",
        "/api/v1/users",
        Some(&secretary),
        json!({"name": "贺小英", "role": "member", "branch": v.heyi,
               "phone": "+86 139-0000-0001", "password": "稻虾共养2026"}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json()["phone"], "+8613900000001");
    let login = |phone: &str, password: &str| {
        let body = json!({"phone": phone, "password": password, "device_name": "家里的平板"});
        let server = &server;
        async move { call(server, "POST", "/api/v1/login", None, body).await }
    };
    let wrong = login("+8613900000001", "稻虾共养2025").await;
    assert_eq!(
        (wrong.status, wrong.error().as_deref()),
        (401, Some("bad_credentials"))
    );
    let nobody = login("+8613900000009", "稻虾共养2026").await;
    assert_eq!(
        nobody.body, wrong.body,
        "an unknown number answers like a wrong password"
    );
    let signed_in = login("+86 139 0000 0001", "稻虾共养2026").await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    let credentials: Credentials = serde_json::from_str(&signed_in.body).unwrap();

    // She changes her password: the old one no longer signs in, the new one does.
    let access = credentials.access_token.as_str();
    let change = |current: &str, new: &str| {
        let body = json!({"current": current, "new": new});
        let server = &server;
        async move { call(server, "PUT", "/api/v1/me/password", Some(access), body).await }
    };
    let refused = change("不是这个", "新的密码二〇二六年").await;
    assert_eq!(refused.error().as_deref(), Some("bad_credentials"));
    let short = change("稻虾共养2026", "短").await;
    assert_eq!(short.error().as_deref(), Some("invalid"));
    assert_eq!(
        change("稻虾共养2026", "新的密码二〇二六年").await.status,
        204
    );
    assert_eq!(login("+8613900000001", "稻虾共养2026").await.status, 401);
    assert_eq!(
        login("+8613900000001", "新的密码二〇二六年").await.status,
        200
    );

    // Signing out revokes this device and nothing else.
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/v1/me/sign-out",
            Some(access),
            Value::Null
        )
        .await
        .status,
        204
    );
    let me = call(&server, "GET", "/api/v1/me", Some(access), Value::Null).await;
    assert_eq!(me.error().as_deref(), Some("device_revoked"));
    server.stop().await.unwrap();
}
