//! Memory bounded by configuration (issue 20): the server's resident memory after its phones
//! have touched 1,000, 10,000 and 100,000 documents, which should stay within 20 % of the first
//! figure.
//!
//! The township is built directly in the store, not through phones (100,000 documents through
//! phones would take most of an hour): `--documents` members (100 a branch, `--members`), each
//! with a notebook, an enrolled phone and a place on the branch's roster, written by the
//! server's own store and client-core's operations. It is kept under `target/` and reused by
//! later runs of the same size.
//!
//! Our server (the `tianjian` command) then runs as a process of its own on a copy of it.
//! Phones (client-core's engine over a real WebSocket, `tests/src/device.rs`), `--concurrent`
//! at a time, each of the next branch in turn, so that the phones syncing at any moment are
//! of many branches: each connects, opens its member's notebook and the branch document,
//! receives them, records `--lectures` lectures in the notebook, syncs until the server has
//! kept them, and disconnects. At each milestone (1,000, 10,000, 100,000 documents touched, up
//! to `--documents`) no phone is connected; after `--quiet` seconds, so that the server has
//! finished what the last phones left it to do, the benchmark reads the server process's
//! resident memory (`VmRSS`) and its peak so far (`VmHWM`) from `/proc`, and the documents the
//! server holds in memory from its `/metrics`.
//!
//!     cargo bench -p tianjian-tests --bench memory -- [--documents 100000] [--members 100]
//!                             [--concurrent 50] [--lectures 3] [--quiet SECONDS]
//!                             [--server PATH-TO-ANOTHER-BUILD-OF-tianjian]
//!                             [--before PATH-TO-ANOTHER-BUILD-OF-tianjian]
//!
//! `--before PATH` runs the same phones against that build first, each server on its own copy
//! of the township, for a before-and-after comparison in one run.

// A benchmark that cannot set itself up has nothing to report: panicking says why.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use client_core::model::branch::{BranchRole, RosterEntry};
use client_core::{DocKind, DocumentId, Notebook, Principal, Role, Scope, UserId, validate};
use tianjian_server::admin::Organisation;
use tianjian_server::auth::KeyRing;
use tianjian_server::backup::DATABASE;
use tianjian_server::store::{Store, UserRecord};
use tianjian_server::writer::{WriteError, Writer};
use tianjian_tests::device::Device;
use tianjian_tests::fixture::{NOW, give_phone, keys, record_lectures, token};
use tianjian_tests::process::{Builds, ServerProcess};
use tokio::task::JoinSet;

/// The milestones of issue 20; a smaller run stops at `--documents`.
const MILESTONES: [usize; 3] = [1_000, 10_000, 100_000];

/// How long a phone may take to sync before the benchmark gives up on it.
const PHONE_LIMIT: Duration = Duration::from_secs(120);

struct Options {
    documents: usize,
    members_per_branch: usize,
    concurrent: usize,
    lectures: usize,
    quiet: Duration,
    builds: Builds,
}

impl Options {
    fn parse() -> Options {
        let mut options = Options {
            documents: 100_000,
            members_per_branch: 100,
            concurrent: 50,
            lectures: 3,
            quiet: Duration::from_secs(5),
            builds: Builds::default(),
        };
        let mut args = std::env::args().skip(1);
        let number = |args: &mut dyn Iterator<Item = String>, name: &str| -> usize {
            args.next()
                .and_then(|v| v.replace(['_', ','], "").parse().ok())
                .unwrap_or_else(|| panic!("{name} takes a number"))
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--documents" => options.documents = number(&mut args, "--documents"),
                "--members" => options.members_per_branch = number(&mut args, "--members"),
                "--concurrent" => options.concurrent = number(&mut args, "--concurrent"),
                "--lectures" => options.lectures = number(&mut args, "--lectures"),
                "--quiet" => {
                    options.quiet = Duration::from_secs(number(&mut args, "--quiet") as u64);
                }
                // `cargo bench` passes `--bench` to every benchmark.
                "--bench" => {}
                arg if options.builds.take(arg, &mut args) => {}
                other => panic!("unknown argument {other:?}"),
            }
        }
        assert!(options.members_per_branch > 0 && options.concurrent > 0);
        options
    }

    /// The documents touched at which memory is read: the milestones up to `--documents`,
    /// and `--documents` itself.
    fn milestones(&self) -> Vec<usize> {
        let mut milestones: Vec<usize> = MILESTONES
            .iter()
            .copied()
            .filter(|m| *m < self.documents)
            .collect();
        milestones.push(self.documents);
        milestones
    }

    /// Branches enough for `documents` members.
    fn branches(&self) -> usize {
        self.documents.div_ceil(self.members_per_branch)
    }
}

/// One member's phone: who, and the two documents it syncs.
#[derive(Debug, Clone)]
struct Phone {
    who: Principal,
    notebook: DocumentId,
    branch: DocumentId,
}

/// Builds the township into a new database at `path`: `branches` branches of `members`
/// members each, every member with a notebook, an enrolled phone and a roster entry.
async fn build(path: &Path, branches: usize, members: usize) {
    let store = Store::open(path).unwrap();
    let org = Organisation {
        store: &store,
        hub: None,
    };
    let started = Instant::now();
    let township = org.township("周官桥乡").await.unwrap();
    for b in 0..branches {
        let branch = org
            .create_branch(township, &format!("第{:04}村", b + 1), NOW)
            .await
            .unwrap();
        // The members of a branch at once: the storage thread takes their writes one after
        // another, while the next notebooks are made.
        let mut making = JoinSet::new();
        for m in 0..members {
            let store = store.clone();
            let branch = branch.clone();
            making.spawn(async move {
                let id = UserId::generate().unwrap();
                let notebook = DocumentId::generate().unwrap();
                let scope = Scope {
                    kind: DocKind::Notebook,
                    branch: branch.id,
                    township: branch.township,
                    owner: Some(id),
                };
                let mut doc = Notebook::create(scope, NOW).unwrap();
                store
                    .create_document(notebook, scope, NOW.0, doc.document_mut().save())
                    .await
                    .unwrap();
                let user = UserRecord {
                    id,
                    name: format!("党员{b}-{m}"),
                    role: Role::Member,
                    branch: Some(branch.id),
                    township: branch.township,
                    notebook_document: Some(notebook),
                    phone: None,
                };
                store.create_user(user.clone(), None).await.unwrap();
                give_phone(&store, id).await;
                user
            });
        }
        let mut joined = Vec::new();
        while let Some(user) = making.join_next().await {
            joined.push(user.unwrap());
        }
        // The roster, as the server writes it on the branch's behalf: one change for all.
        let system = Principal {
            user: UserId::SYSTEM,
            role: Role::BranchAdmin,
            branch: Some(branch.id),
            township: Some(township),
        };
        Writer::new(&store, NOW)
            .branch(branch.branch_document, &system, |doc| {
                for user in &joined {
                    let entry = RosterEntry {
                        name: user.name.clone(),
                        role: BranchRole::Member,
                        notebook: user.notebook_document.unwrap(),
                        joined_at: NOW,
                        left_at: None,
                        silver: false,
                        lecturer: false,
                    };
                    doc.enrol_member(&system, NOW, user.id, entry)?;
                }
                Ok::<_, WriteError>(())
            })
            .await
            .unwrap();
        if (b + 1) % 50 == 0 || b + 1 == branches {
            println!(
                "  built {} of {branches} branches ({} members) in {:.0} s",
                b + 1,
                (b + 1) * members,
                started.elapsed().as_secs_f64()
            );
        }
    }
}

/// The township's database under `target/`, built if this size was never built before.
fn township(options: &Options) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-memory");
    std::fs::create_dir_all(&dir).unwrap();
    let (branches, members) = (options.branches(), options.members_per_branch);
    let path = dir.join(format!("township-{branches}x{members}.sqlite3"));
    if !path.exists() {
        println!("building a township of {branches} branches of {members} members, once");
        let building = path.with_extension("building");
        for stale in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{stale}", building.display()));
        }
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(build(&building, branches, members));
        drop(runtime);
        // Folded into one file, so that a copy of it is the whole database.
        tianjian_server::backup::copy_database(&building, &path).unwrap();
        for stale in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{stale}", building.display()));
        }
    }
    path
}

/// Every member's phone, the branches taken in turn: the first phone of each branch, then
/// the second of each, and so on.
async fn phones(store: &Store) -> Vec<Phone> {
    let townships = store.townships().await.unwrap();
    let branches = store.branches_of(townships[0].0).await.unwrap();
    let mut by_branch = Vec::new();
    for branch in &branches {
        let members = store.users_of_branch(branch.id).await.unwrap();
        by_branch.push((branch.branch_document, members));
    }
    let most = by_branch.iter().map(|(_, m)| m.len()).max().unwrap_or(0);
    let mut phones = Vec::new();
    for m in 0..most {
        for (branch, members) in &by_branch {
            if let Some(user) = members.get(m) {
                phones.push(Phone {
                    who: user.principal(),
                    notebook: user.notebook_document.unwrap(),
                    branch: *branch,
                });
            }
        }
    }
    phones
}

/// One phone's session: connect, receive both documents, record, sync until kept, leave.
async fn session(addr: SocketAddr, index: usize, phone: Phone, token: String, lectures: usize) {
    let documents = [phone.notebook, phone.branch];
    let mut device = Device::writing_by(&format!("phone-{index}"), Some(validate::RULES));
    for document in documents {
        device.open(document).await.unwrap();
    }
    let started = Instant::now();
    // A refused connection (a full accept queue) is retried, as a phone would.
    while let Err(error) = device.connect(addr, &token).await {
        assert!(started.elapsed() < PHONE_LIMIT, "phone {index}: {error}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let here = |d: &Device| {
        let here = documents.iter().all(|doc| {
            d.document(*doc).is_some_and(|a| !a.get_heads().is_empty()) && d.acknowledged(*doc)
        });
        async move { here }
    };
    assert!(
        device.sync_until(PHONE_LIMIT, here).await.unwrap(),
        "phone {index}: its documents did not arrive"
    );
    let who = phone.who.clone();
    device
        .edit(phone.notebook, move |doc| {
            record_lectures(doc, &who, lectures)
        })
        .await
        .unwrap();
    assert!(
        device
            .sync_until_acknowledged(PHONE_LIMIT, &documents)
            .await
            .unwrap(),
        "phone {index}: its lectures were not kept"
    );
    device.disconnect().await.unwrap();
}

/// What Linux says of a process's memory, in KiB: resident now, and its peak.
#[derive(Debug, Clone, Copy, Default)]
struct Resident {
    rss: u64,
    hwm: u64,
    anonymous: u64,
    file: u64,
}

fn resident(pid: u32) -> Resident {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Resident {
        rss: field("VmRSS:"),
        hwm: field("VmHWM:"),
        anonymous: field("RssAnon:"),
        file: field("RssFile:"),
    }
}

/// A gauge or counter from the server's `/metrics`.
async fn metric(addr: SocketAddr, name: &str) -> Option<f64> {
    let metrics = tianjian_tests::request(addr, "GET", "/metrics", None, None)
        .await
        .ok()?;
    metrics.body.lines().find_map(|line| {
        let (key, value) = line.split_once(' ')?;
        (key == name).then(|| value.trim().parse().ok())?
    })
}

/// One reading, at a milestone.
#[derive(Debug, Clone, Copy)]
struct Reading {
    touched: usize,
    phones: usize,
    memory: Resident,
    held: Option<f64>,
    elapsed: Duration,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

async fn reading(
    server: &ServerProcess,
    touched: usize,
    phones: usize,
    started: Instant,
    quiet: Duration,
) -> Reading {
    tokio::time::sleep(quiet).await;
    let reading = Reading {
        touched,
        phones,
        memory: resident(server.pid()),
        held: metric(server.addr, "tianjian_documents_in_memory").await,
        elapsed: started.elapsed(),
    };
    println!(
        "  {:>7} documents touched by {:>6} phones in {:>6.1} s: resident {:>7.1} MiB (anonymous {:.1}, file {:.1}), peak {:>7.1} MiB, documents in memory {}",
        reading.touched,
        reading.phones,
        reading.elapsed.as_secs_f64(),
        mib(reading.memory.rss),
        mib(reading.memory.anonymous),
        mib(reading.memory.file),
        mib(reading.memory.hwm),
        reading.held.map_or("?".into(), |h| format!("{h:.0}")),
    );
    reading
}

/// Runs the phones against one server until every milestone is passed.
async fn run(program: &Path, pristine: &Path, phones: &[Phone], options: &Options) -> Vec<Reading> {
    let data = tempfile::tempdir().unwrap();
    tianjian_server::backup::copy_database(pristine, &data.path().join(DATABASE)).unwrap();
    let server = ServerProcess::tianjian(program, data.path());
    let keys: KeyRing = keys();
    println!();
    println!("## {}", program.display());
    let started = Instant::now();
    let mut readings = vec![reading(&server, 0, 0, started, options.quiet).await];
    let mut touched: HashSet<DocumentId> = HashSet::new();
    let mut next = 0;
    for milestone in options.milestones() {
        let mut running = JoinSet::new();
        while touched.len() < milestone {
            let Some(phone) = phones.get(next).cloned() else {
                println!("  (only {} documents to touch)", touched.len());
                break;
            };
            while running.len() >= options.concurrent {
                running.join_next().await.unwrap().unwrap();
            }
            touched.insert(phone.notebook);
            touched.insert(phone.branch);
            let token = token(&keys, &phone.who);
            running.spawn(session(server.addr, next, phone, token, options.lectures));
            next += 1;
        }
        while let Some(done) = running.join_next().await {
            done.unwrap();
        }
        readings.push(reading(&server, touched.len(), next, started, options.quiet).await);
    }
    readings
}

/// The table of `BENCHMARKS.md`: each milestone against the first.
fn report(program: &Path, readings: &[Reading]) {
    println!();
    println!("{}:", program.display());
    println!();
    println!(
        "| documents touched | phones | resident memory | × at {} | peak so far | documents in memory | time |",
        readings.get(1).map_or(0, |r| r.touched)
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let first = readings.get(1).map_or(1, |r| r.memory.rss.max(1));
    for reading in readings {
        println!(
            "| {} | {} | {:.1} MiB | {:.2} | {:.1} MiB | {} | {:.0} s |",
            reading.touched,
            reading.phones,
            mib(reading.memory.rss),
            reading.memory.rss as f64 / first as f64,
            mib(reading.memory.hwm),
            reading.held.map_or("?".into(), |h| format!("{h:.0}")),
            reading.elapsed.as_secs_f64(),
        );
    }
}

fn main() {
    let options = Options::parse();
    let pristine = township(&options);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let phones = {
            let store = Store::open(&pristine).unwrap();
            phones(&store).await
        };
        println!(
            "{} phones of {} branches; {} at a time, {} lectures each; memory read {} s after the last phone left",
            phones.len(),
            options.branches(),
            options.concurrent,
            options.lectures,
            options.quiet.as_secs()
        );
        let programs = options
            .builds
            .in_order(env!("CARGO_BIN_EXE_tianjian-under-test"));
        let mut all = Vec::new();
        for program in &programs {
            all.push(run(program, &pristine, &phones, &options).await);
        }
        for (program, readings) in programs.iter().zip(&all) {
            report(program, readings);
        }
    });
}
