//! A quiet reconnect: a phone that holds every document its person may read, synced, comes
//! back after days with nothing new on either side. Measures what the reconnect costs on the
//! wire, per document: WebSocket payload bytes each way (and with the WebSocket framing added),
//! frames each way, and round trips, with the handshake (`join`/`peer`) shown alone and spread
//! over the documents.
//!
//! Our server (the `tianjian` command) runs as a process of its own on the fixture's village.
//! The phone is client-core's engine over a real WebSocket (`tests/src/device.rs`), introduced
//! as the web app introduces itself (`p` and 72 random bits in base64, a UUID as its storage id, the rules
//! it writes by), and it syncs the documents `GET /api/v1/me` lists, as the app does. Each
//! phone: a first sync of every document, twenty lectures recorded and synced, a pause until
//! the line is quiet, a disconnect; then the measured reconnect, received until nothing more
//! comes for `--quiet` milliseconds (longer than the second after which a phone offers again
//! what the server has not acknowledged).
//!
//! Two people: a member (李章桂: their notebook and the branch document) and a branch
//! secretary (赵杰辉: the branch, its ledger and supervision documents, and the branch's
//! notebooks). Each with a storage id, so that both sides persisted what they share (the normal
//! case), and for contrast without one and with the phone's own sync states forgotten, so that
//! neither side kept anything. Each once more naming nothing quiet in its `join`, as the app
//! did before client-core's quiet reconnect (and as a stock client does): the baseline.
//!
//! A round trip is counted, per document, each time frames sent about it are followed by a
//! frame received about it; a frame nobody answers costs no round trip. Bytes of `join` and
//! `peer` count for the handshake. Each frame is listed at the end, with the automerge sync
//! message it carries taken apart.
//!
//!     cargo bench -p tianjian-tests --bench reconnect -- [--quiet MILLISECONDS]
//!                             [--server PATH-TO-ANOTHER-BUILD-OF-tianjian]
//!                             [--before PATH-TO-ANOTHER-BUILD-OF-tianjian]
//!
//! `--before PATH` runs the same phones against that build first, each server on its own copy
//! of the village, for a before-and-after comparison in one run.

// A benchmark that cannot set itself up has nothing to report: panicking says why.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use client_core::sync::message::{Message, PeerMetadata, StorageId};
use client_core::{DocumentId, Principal, validate};
use tianjian_server::backup::DATABASE;
use tianjian_server::store::Store;
use tianjian_tests::device::{Device, Frame};
use tianjian_tests::fixture::{keys, record_lectures, token, village};
use tianjian_tests::process::{Builds, ServerProcess};

/// Lectures each phone records and syncs before it goes away.
const LECTURES: usize = 20;

/// The goal of issue 20, per document, both ways, handshake included.
const GOAL_BYTES: f64 = 200.0;

struct Options {
    quiet: Duration,
    builds: Builds,
}

impl Options {
    fn parse() -> Options {
        let mut options = Options {
            quiet: Duration::from_millis(3_000),
            builds: Builds::default(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quiet" => {
                    let millis = args.next().and_then(|v| v.parse().ok()).unwrap();
                    options.quiet = Duration::from_millis(millis);
                }
                // `cargo bench` passes `--bench` to every benchmark.
                "--bench" => {}
                arg if options.builds.take(arg, &mut args) => {}
                other => panic!("unknown argument {other:?}"),
            }
        }
        options
    }
}

/// What one direction of one part of the exchange cost.
#[derive(Debug, Default, Clone, Copy)]
struct Flow {
    frames: u64,
    /// WebSocket payload bytes.
    payload: u64,
    /// The same with each frame's WebSocket header (and a client's masking key).
    framed: u64,
    /// Of the payload, the automerge sync messages carried in `request` and `sync` frames.
    automerge: u64,
}

impl Flow {
    fn add(&mut self, frame: &Frame, automerge: usize) {
        let len = frame.bytes.len() as u64;
        let length_field = match len {
            0..=125 => 0,
            126..=65_535 => 2,
            _ => 8,
        };
        // RFC 6455: two bytes of header, the extended length, and a masking key on frames a
        // client sends. TCP and IP headers are not counted.
        let mask = if frame.sent { 4 } else { 0 };
        self.frames += 1;
        self.payload += len;
        self.framed += len + 2 + length_field + mask;
        self.automerge += automerge as u64;
    }
}

/// The traffic of one part of the exchange (the handshake, or one document).
#[derive(Debug, Default, Clone, Copy)]
struct Part {
    up: Flow,
    down: Flow,
    round_trips: u64,
}

/// A reconnect, taken apart.
#[derive(Debug, Default)]
struct Traffic {
    handshake: Part,
    documents: BTreeMap<DocumentId, Part>,
    /// Frames about no document and not the handshake (there should be none).
    other: Part,
}

fn take_apart(frames: &[Frame]) -> Traffic {
    let mut traffic = Traffic::default();
    // Per part, whether the last frame was sent (waiting for an answer).
    let mut waiting: BTreeMap<Option<DocumentId>, bool> = BTreeMap::new();
    for frame in frames {
        let message = Message::decode(&frame.bytes).unwrap();
        let (key, automerge) = match &message {
            Message::Join { .. } | Message::Peer { .. } => (None, 0),
            Message::Request(body) | Message::Sync(body) => {
                (Some(body.document_id), body.data.len())
            }
            Message::DocUnavailable { document_id, .. }
            | Message::Ephemeral { document_id, .. }
            | Message::RemoteHeadsChanged { document_id, .. } => (Some(*document_id), 0),
            Message::Error { refused, .. } => (refused.as_ref().map(|r| r.document_id), 0),
            Message::RemoteSubscriptionChange { .. }
            | Message::Leave { .. }
            | Message::Unknown { .. } => {
                let flow = if frame.sent {
                    &mut traffic.other.up
                } else {
                    &mut traffic.other.down
                };
                flow.add(frame, 0);
                continue;
            }
        };
        let part = match key {
            None => &mut traffic.handshake,
            Some(document) => traffic.documents.entry(document).or_default(),
        };
        let was_waiting = waiting.insert(key, frame.sent).unwrap_or(false);
        if frame.sent {
            part.up.add(frame, automerge);
        } else {
            part.down.add(frame, automerge);
            if was_waiting {
                part.round_trips += 1;
            }
        }
    }
    traffic
}

/// One phone's measured reconnect.
struct Run {
    person: &'static str,
    keeps_states: bool,
    names_quiet: bool,
    /// The documents the phone syncs, with their kinds.
    documents: Vec<(DocumentId, String)>,
    frames: Vec<Frame>,
    traffic: Traffic,
    /// Every document acknowledged by the server when the reconnect went quiet.
    acknowledged: bool,
}

/// A phone introduced as the web app introduces itself (`peerId` in `pwa/src/data/app.ts`).
fn phone(keeps_states: bool, names_quiet: bool) -> Device {
    // Twelve characters of base64, as 72 random bits spell.
    let hex = StorageId::generate().unwrap().0.replace('-', "");
    let peer = format!("p{}", &hex[..12]);
    let metadata = PeerMetadata {
        storage_id: keeps_states.then(|| StorageId::generate().unwrap()),
        is_ephemeral: Some(false),
        rules: Some(validate::RULES),
        quiet: None,
    };
    let mut device = Device::introduced_as(&peer, metadata);
    device.names_quiet = names_quiet;
    device
}

/// What `GET /api/v1/me` says the phone syncs, and the person's notebook.
async fn readable(addr: SocketAddr, token: &str) -> (Vec<(DocumentId, String)>, DocumentId) {
    let me = tianjian_tests::request(addr, "GET", "/api/v1/me", Some(token), None)
        .await
        .unwrap();
    assert_eq!(me.status, 200, "{}", me.body);
    let me = me.json();
    let documents = me["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let id = DocumentId::from_url(d["url"].as_str().unwrap()).unwrap();
            (id, d["kind"].as_str().unwrap().to_owned())
        })
        .collect();
    let notebook = DocumentId::from_url(me["notebook"].as_str().unwrap()).unwrap();
    (documents, notebook)
}

/// Syncs until nothing has come for `quiet`.
async fn until_quiet(device: &mut Device, quiet: Duration) {
    loop {
        let received = device.bytes_received;
        device.sync_until(quiet, |_| async { false }).await.unwrap();
        if device.bytes_received == received {
            return;
        }
    }
}

async fn reconnect(
    addr: SocketAddr,
    person: &'static str,
    who: &Principal,
    keeps_states: bool,
    names_quiet: bool,
    quiet: Duration,
) -> Run {
    let limit = Duration::from_secs(60);
    let token = token(&keys(), who);
    let (kinds, notebook) = readable(addr, &token).await;
    let documents: Vec<DocumentId> = kinds.iter().map(|(id, _)| *id).collect();
    let mut device = phone(keeps_states, names_quiet);
    for document in &documents {
        device.open(*document).await.unwrap();
    }
    device.connect(addr, &token).await.unwrap();
    // An empty document counts as acknowledged: wait for every one to arrive.
    let all_here = |d: &Device| {
        let here = documents.iter().all(|doc| {
            d.document(*doc).is_some_and(|a| !a.get_heads().is_empty()) && d.acknowledged(*doc)
        });
        async move { here }
    };
    assert!(device.sync_until(limit, all_here).await.unwrap());
    let who = who.clone();
    device
        .edit(notebook, move |doc| record_lectures(doc, &who, LECTURES))
        .await
        .unwrap();
    assert!(
        device
            .sync_until_acknowledged(limit, &documents)
            .await
            .unwrap()
    );
    until_quiet(&mut device, quiet).await;
    device.disconnect().await.unwrap();
    if !keeps_states {
        device.forget_sync_states();
    }
    // The server stores its side of what they share when the session ends.
    tokio::time::sleep(Duration::from_millis(500)).await;

    device.frames = Some(Vec::new());
    device.connect(addr, &token).await.unwrap();
    until_quiet(&mut device, quiet).await;
    let acknowledged = documents.iter().all(|d| device.acknowledged(*d));
    let frames = device.frames.take().unwrap();
    device.disconnect().await.unwrap();
    Run {
        person,
        keeps_states,
        names_quiet,
        documents: kinds,
        traffic: take_apart(&frames),
        frames,
        acknowledged,
    }
}

fn states(run: &Run) -> &'static str {
    match (run.keeps_states, run.names_quiet) {
        (true, true) => "persisted, quiet join",
        (true, false) => "persisted, nothing named quiet (before)",
        (false, _) => "none",
    }
}

/// The table of `BENCHMARKS.md`: per phone, the handshake alone, a document on average, and
/// a document with the handshake spread over the documents.
fn report(runs: &[Run]) {
    println!();
    println!(
        "| phone | sync states | documents | handshake: bytes up / down, round trips | a document: bytes up / down | frames up / down | round trips | Automerge's part | **a document, handshake spread: bytes both ways** | framed | frames | round trips | goal |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for run in runs {
        let n = run.documents.len() as f64;
        let handshake = run.traffic.handshake;
        let mut all = Part::default();
        for part in run.traffic.documents.values() {
            for (sum, flow) in [(&mut all.up, part.up), (&mut all.down, part.down)] {
                sum.frames += flow.frames;
                sum.payload += flow.payload;
                sum.framed += flow.framed;
                sum.automerge += flow.automerge;
            }
            all.round_trips += part.round_trips;
        }
        let both = |p: &Part| (p.up.payload + p.down.payload) as f64;
        let framed = |p: &Part| (p.up.framed + p.down.framed) as f64;
        let frames = |p: &Part| (p.up.frames + p.down.frames) as f64;
        let spread = (both(&handshake) + both(&all)) / n;
        println!(
            "| {} | {} | {} | {} / {}, {} | {:.0} / {:.0} | {:.1} / {:.1} | {:.1} | {:.0} B | **{:.0} B** | {:.0} B | {:.1} | {:.1} | {} |",
            run.person,
            states(run),
            run.documents.len(),
            handshake.up.payload,
            handshake.down.payload,
            handshake.round_trips,
            all.up.payload as f64 / n,
            all.down.payload as f64 / n,
            all.up.frames as f64 / n,
            all.down.frames as f64 / n,
            all.round_trips as f64 / n,
            (all.up.automerge + all.down.automerge) as f64 / n,
            spread,
            (framed(&handshake) + framed(&all)) / n,
            (frames(&handshake) + frames(&all)) / n,
            (handshake.round_trips + all.round_trips) as f64 / n,
            if spread <= GOAL_BYTES && all.round_trips as f64 <= n {
                "met"
            } else {
                "not met"
            },
        );
    }
    println!();
    for run in runs {
        let other = run.traffic.other.up.frames + run.traffic.other.down.frames;
        println!(
            "{} ({} sync states): every document acknowledged when quiet: {}; frames about no document: {other}",
            run.person,
            states(run),
            run.acknowledged,
        );
    }
}

/// Each frame of a reconnect, for the record: its part, its type, its size and, of that, the
/// automerge sync message's.
fn frames_of(run: &Run) {
    println!();
    println!(
        "{} ({} sync states), frame by frame:",
        run.person,
        states(run)
    );
    let kinds: BTreeMap<DocumentId, &str> = run
        .documents
        .iter()
        .map(|(id, kind)| (*id, kind.as_str()))
        .collect();
    for frame in &run.frames {
        let message = Message::decode(&frame.bytes).unwrap();
        let (about, data) = match &message {
            Message::Request(body) | Message::Sync(body) => (
                kinds.get(&body.document_id).copied().unwrap_or("?"),
                Some(&body.data),
            ),
            _ => ("", None),
        };
        let detail = data.map_or(String::new(), |data| {
            let sync = automerge::sync::Message::decode(data).unwrap();
            format!(
                "; of it the sync message {} B: {} heads, {} needs, {} haves ({} B of bloom), {} B of changes",
                data.len(),
                sync.heads.len(),
                sync.need.len(),
                sync.have.len(),
                sync.have.iter().map(|h| h.bloom.to_bytes().len()).sum::<usize>(),
                sync.changes.iter().map(<[u8]>::len).sum::<usize>(),
            )
        });
        println!(
            "  {} {:<6} {:<11} {:>4} B{detail}",
            if frame.sent { "->" } else { "<-" },
            message.type_name(),
            about,
            frame.bytes.len(),
        );
    }
}

fn main() {
    let options = Options::parse();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let v = {
            let store = Store::open(&dir.path().join(DATABASE)).unwrap();
            village(&store).await
        };
        let phones = [
            ("member", &v.li, true, false),
            ("member", &v.li, true, true),
            ("member", &v.li, false, true),
            ("branch secretary", &v.secretary, true, false),
            ("branch secretary", &v.secretary, true, true),
            ("branch secretary", &v.secretary, false, true),
        ];
        let programs = options
            .builds
            .in_order(env!("CARGO_BIN_EXE_tianjian-under-test"));
        for program in programs {
            // Each server from its own copy of the village, so that each starts alike.
            let data = tempfile::tempdir().unwrap();
            tianjian_server::backup::copy_database(
                &dir.path().join(DATABASE),
                &data.path().join(DATABASE),
            )
            .unwrap();
            let server = ServerProcess::tianjian(&program, data.path());
            println!();
            println!(
                "## {}; quiet after {} ms without a frame",
                program.display(),
                options.quiet.as_millis()
            );
            let mut runs = Vec::new();
            for (person, who, keeps_states, names_quiet) in phones {
                let run = reconnect(
                    server.addr,
                    person,
                    who,
                    keeps_states,
                    names_quiet,
                    options.quiet,
                );
                runs.push(run.await);
            }
            report(&runs);
            for run in &runs {
                frames_of(run);
            }
        }
    });
}
