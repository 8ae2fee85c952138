//! What authentication and the permission check cost, against what a sync message costs.
//!
//! Run with `cargo bench -p tianjian-server --bench auth`. It sets up a township of 10
//! branches of 20 members on a temporary database, then times, one after another on one core:
//!
//! - verifying an access token (HS256, key chosen by `kid`), done once per connection;
//! - authenticating (the token, then the device and the person in the directory);
//! - the permission check the hub makes for each message about a document (`can_read`);
//! - the baseline: the Automerge work of one steady-state sync message for a notebook of 20
//!   lectures (decode the frame, receive the sync message, generate the answer), which is
//!   the cheapest message the server handles.
//!
//! It prints each per second and the ratios to the baseline. Timing is noisy here: read the
//! ratios, and run it twice.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use automerge::sync::{self, SyncDoc};
use client_core::sync::engine::Gate;
use client_core::sync::message::{DocumentMessage, Message, PeerId};
use client_core::{DeviceId, DocKind, Limits, Millis, Notebook, Principal, Role, Scope, access};
use tianjian_server::admin::{NewUser, Organisation};
use tianjian_server::auth::{Claims, KeyRing, Settings};
use tianjian_server::store::{NewDevice, Store};
use tianjian_server::sync::ServerGate;

const NOW: Millis = Millis(1_791_770_400_000);

/// Runs `work` repeatedly for about `budget`; returns operations per second.
fn per_second(budget: Duration, mut work: impl FnMut()) -> f64 {
    let mut runs = 0u64;
    let started = Instant::now();
    while started.elapsed() < budget {
        for _ in 0..100 {
            work();
        }
        runs += 100;
    }
    runs as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tianjian.sqlite3")).unwrap();
    let (member, notebook_id, device) = runtime.block_on(async {
        let org = Organisation {
            store: &store,
            hub: None,
        };
        let township = org.township("周官桥乡").await.unwrap();
        let mut last = None;
        for b in 0..10 {
            let branch = org
                .create_branch(township, &format!("第{b}村"), NOW)
                .await
                .unwrap();
            for m in 0..20 {
                let new = NewUser {
                    name: format!("党员{b}-{m}"),
                    role: Role::Member,
                    township,
                    branch: Some(branch.id),
                    phone: None,
                    password: None,
                };
                let user = org.create_user(new, NOW).await.unwrap();
                let device = DeviceId::generate().unwrap();
                let mut refresh = [0u8; 32];
                refresh[..16].copy_from_slice(device.as_uuid().as_bytes());
                let phone = NewDevice {
                    id: device,
                    user: user.id,
                    name: "phone".into(),
                    refresh,
                    refresh_expires_at: NOW,
                };
                store.enrol_device(phone, NOW).await.unwrap();
                last = Some((user, device));
            }
        }
        let (user, device) = last.unwrap();
        let principal = Principal {
            user: user.id,
            role: user.role,
            branch: user.branch,
            township: Some(user.township),
        };
        (principal, user.notebook_document.unwrap(), device)
    });
    let keys = KeyRing::new(b"a signing key of at least 32 bytes", &[]).unwrap();
    let state = runtime
        .block_on(tianjian_server::AppState::open(
            store.clone(),
            tianjian_server::Config {
                auth: Settings::default(),
                ..tianjian_server::Config::new(keys.clone(), dir.path())
            },
        ))
        .unwrap();
    let auth = state.auth.clone().unwrap();
    let gate = ServerGate::new(auth.directory.clone());
    let token = keys
        .issue(&Claims {
            sub: member.user,
            dev: device,
            role: member.role,
            branch: member.branch,
            township: member.township,
            iat: 1_791_770_400,
            exp: 4_102_444_800,
        })
        .unwrap();

    // Two replicas of a notebook of 20 lectures, in sync.
    let scope = Scope {
        kind: DocKind::Notebook,
        branch: member.branch.unwrap(),
        township: member.township.unwrap(),
        owner: Some(member.user),
    };
    let mut phone = Notebook::create(scope, NOW).unwrap();
    for i in 0..20 {
        let lecture = client_core::model::notebook::Lecture {
            title: format!("第{i}课：忆扶贫故事、做合格党员"),
            category: client_core::model::notebook::LectureCategory::PoliticalTheory,
            venue: client_core::model::notebook::Venue::Courtyard,
            held_at: NOW,
            duration_min: 25,
            place: "合益村屋场坪".into(),
            gps: None,
            speakers: vec![member.user],
            guest_speaker: None,
            recorded_by: member.user,
            attendees: vec![],
            audience: 30,
            summary: "屋场坪上讲党课".into(),
            media: vec![],
            plan: None,
            submission: client_core::model::common::Submission::draft(),
            created_at: NOW,
            withdrawn: None,
        };
        phone.record_lecture(&member, NOW, lecture).unwrap();
    }
    let mut server = Notebook::load(&phone.document_mut().save(), Limits::default())
        .unwrap()
        .automerge()
        .clone();
    let mut phone = phone.automerge().clone();
    let (mut phone_state, mut server_state) = (sync::State::new(), sync::State::new());
    for _ in 0..10 {
        if let Some(m) = phone.generate_sync_message(&mut phone_state) {
            server.receive_sync_message(&mut server_state, m).unwrap();
        }
        if let Some(m) = server.generate_sync_message(&mut server_state) {
            phone.receive_sync_message(&mut phone_state, m).unwrap();
        }
    }
    // The phone's next message (it says again what it has, as after a reconnect).
    let mut fresh = sync::State::new();
    let steady = phone.generate_sync_message(&mut fresh).unwrap();
    let frame = Message::Sync(DocumentMessage {
        sender_id: PeerId("phone".into()),
        target_id: PeerId("server".into()),
        document_id: notebook_id,
        data: steady.encode(),
    })
    .encode()
    .unwrap();

    let budget = Duration::from_secs(3);
    let verify = per_second(budget, || {
        black_box(keys.verify(black_box(&token)).unwrap());
    });
    let authenticate = per_second(budget, || {
        black_box(auth.authenticate(black_box(&token)).unwrap());
    });
    let can_read = per_second(budget, || {
        black_box(gate.can_read(black_box(&member), black_box(notebook_id)));
    });
    let rule = per_second(budget, || {
        black_box(access::can_read(black_box(&member), black_box(&scope)));
    });
    let message = per_second(budget, || {
        let Message::Sync(body) = Message::decode(black_box(&frame)).unwrap() else {
            unreachable!()
        };
        let decoded = sync::Message::decode(&body.data).unwrap();
        let mut state = sync::State::new();
        server.receive_sync_message(&mut state, decoded).unwrap();
        black_box(server.generate_sync_message(&mut state));
    });
    println!("on one core, per second (and each one's cost as a share of a sync message's):");
    for (what, rate) in [
        ("verify an access token (once per connection)", verify),
        ("authenticate: token, device, person", authenticate),
        ("permission check per message (directory + rule)", can_read),
        ("  of which the access rule alone", rule),
        ("baseline: one steady-state sync message", message),
    ] {
        println!(
            "  {what:<50} {rate:>12.0}/s  {:>6.2}%",
            100.0 * message / rate
        );
    }
}
