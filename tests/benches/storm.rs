//! The reconnect storm: a township's phones, each with records written offline, come back
//! into signal at the same moment. Measures the time until every phone's records are kept by
//! the server, the CPU time the server spent on them and its peak memory, and the bytes on the
//! wire per record against the size of the Automerge changes themselves.
//!
//! The same native devices run the same workload, one storm after another in the same run,
//! against our server (the `tianjian` command) in each of three ways, and against the stock
//! automerge-repo sync server in Node (`tests/js/sync-server.mjs`), so that they can be
//! compared as ratios:
//!
//! - `sqlite`: one node, its data in SQLite on disk;
//! - `postgres`: one node, its data in PostgreSQL;
//! - `two-nodes`: two nodes on one PostgreSQL database, the phones shared out between them
//!   alternately (CPU time is the two processes' sum; peak memory each one's).
//!
//! Each storm starts from its own copy of the same township, made once in SQLite (copied into a
//! new database for each PostgreSQL storm). The PostgreSQL modes need `TIANJIAN_TEST_POSTGRES`,
//! a superuser's `postgres://` URL, as the end-to-end tests do (`cargo xtask test` starts a
//! throwaway server); without it they are left out, unless `--modes` asks for them. Where the
//! PostgreSQL server runs on this machine, the CPU time of the backends serving the nodes is
//! reported beside theirs.
//!
//! The floor, in the same run: the engine alone does the same work, with no IO and no sockets.
//! One server engine, with the server's own gate (permissions and validation), runs on a
//! thread of its own; each phone in turn, an engine of its own on the benchmark's thread,
//! connects to it over in-memory channels and syncs until its records are acknowledged, the
//! server engine's storage answered from memory at once. Its CPU time is the server engine's
//! thread's. The server's CPU time per record is reported against it: everything but the
//! engine's work (sockets, storage, projections, the runtime) is in the difference.
//!
//! CPU time is user and system time from `/proc/<pid>/stat`, from the first connection until
//! the server is idle again after the last acknowledgement (what the departing phones leave it
//! to do is the storm's).
//!
//!     cargo bench -p tianjian-tests --bench storm -- [--devices 1000] [--branches 50]
//!                             [--records 20] [--only ours|node]
//!                             [--modes sqlite,postgres,two-nodes] [--cores LIST]
//!                             [--limit SECONDS] [--server PATH-TO-ANOTHER-BUILD-OF-tianjian]
//!                             [--telemetry RUNS]
//!
//! `--only ours` runs the floor and our server's modes, `--only node` the Node server alone.
//! `--cores LIST` holds every server process to those CPUs (`taskset -c LIST`: `0` for one
//! core, `0,1` for two); the phones are not held. `--server PATH` runs another build of our
//! server in every mode, for a before-and-after comparison.
//!
//! `--telemetry RUNS` instead runs our server RUNS times in each of two ways, alternately,
//! each on a fresh copy of the same database: logging off and nobody reading `/metrics`, and
//! logging every request and session as JSON lines to a file while `/metrics` is read every
//! second. It reports the median of each and their ratio.

// A benchmark that cannot set itself up has nothing to report: panicking says why.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc as channel;
use std::time::{Duration, Instant};

use client_core::sync::engine::{ConnectionId, Effect, Engine, Event, Side, Trusting};
use client_core::sync::message::{PeerId, PeerMetadata, StorageId};
use client_core::validate::{self, Context};
use client_core::{DocumentId, Limits, Notebook, Principal, Role};
use tianjian_server::admin::Organisation;
use tianjian_server::auth::KeyRing;
use tianjian_server::backup::DATABASE;
use tianjian_server::directory::Directory;
use tianjian_server::store::{Database, Store};
use tianjian_server::sync::ServerGate;
use tianjian_tests::device::Device;
use tianjian_tests::fixture::{NOW, keys, lecture, person, token};
use tianjian_tests::node::{js_dir, prepare_node};
use tianjian_tests::postgres::{TEST_POSTGRES, backends, drop_database, fresh_database};
use tianjian_tests::process::{ServerProcess, command_on, cpu_time, thread_cpu_time};
use tokio::task::JoinSet;

/// How our server keeps its data, and how many processes serve the phones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One node, SQLite.
    Sqlite,
    /// One node, PostgreSQL.
    Postgres,
    /// Two nodes on one PostgreSQL database.
    TwoNodes,
}

impl Mode {
    const ALL: [Mode; 3] = [Mode::Sqlite, Mode::Postgres, Mode::TwoNodes];

    fn parse(name: &str) -> Mode {
        match name.trim() {
            "sqlite" => Mode::Sqlite,
            "postgres" => Mode::Postgres,
            "two-nodes" => Mode::TwoNodes,
            other => panic!("--modes takes sqlite, postgres and two-nodes, not {other:?}"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Sqlite => "sqlite",
            Mode::Postgres => "postgres",
            Mode::TwoNodes => "two-nodes",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Mode::Sqlite => "tianjian, SQLite",
            Mode::Postgres => "tianjian, PostgreSQL",
            Mode::TwoNodes => "tianjian, 2 nodes, PostgreSQL",
        }
    }

    fn nodes(self) -> usize {
        match self {
            Mode::Sqlite | Mode::Postgres => 1,
            Mode::TwoNodes => 2,
        }
    }
}

#[derive(Debug, Clone)]
struct Options {
    devices: usize,
    branches: usize,
    records: usize,
    ours: bool,
    node: bool,
    /// The ways of running our server, in order.
    modes: Vec<Mode>,
    /// Whether `--modes` chose them (then a mode that cannot run is an error, not a note).
    modes_chosen: bool,
    /// The CPUs the server processes are held to (`taskset -c`), if any.
    cores: Option<String>,
    /// How long a storm may take before the benchmark stops waiting and reports how many
    /// phones were acknowledged by then.
    limit: Duration,
    /// Another build of our server to run instead, for a before-and-after comparison.
    server: Option<PathBuf>,
    /// Runs of our server with telemetry off and on, to compare.
    telemetry: Option<usize>,
}

impl Options {
    fn parse() -> Options {
        let mut options = Options {
            devices: 1000,
            branches: 50,
            records: 20,
            ours: true,
            node: true,
            modes: Mode::ALL.to_vec(),
            modes_chosen: false,
            cores: None,
            limit: Duration::from_secs(300),
            server: None,
            telemetry: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut number = || args.next().and_then(|n| n.parse().ok()).unwrap();
            match arg.as_str() {
                "--devices" => options.devices = number(),
                "--branches" => options.branches = number(),
                "--records" => options.records = number(),
                "--limit" => options.limit = Duration::from_secs(number() as u64),
                "--server" => options.server = args.next().map(Into::into),
                "--telemetry" => options.telemetry = Some(number()),
                "--only" => match args.next().as_deref() {
                    Some("ours") => options.node = false,
                    Some("node") => options.ours = false,
                    other => panic!("--only ours|node, not {other:?}"),
                },
                "--modes" => {
                    let list = args.next().expect("--modes sqlite,postgres,two-nodes");
                    options.modes = list.split(',').map(Mode::parse).collect();
                    options.modes_chosen = true;
                }
                "--cores" => {
                    let list = args.next().filter(|list| !list.trim().is_empty());
                    options.cores = Some(list.expect("--cores LIST, as taskset -c takes it"));
                }
                // `cargo bench` passes `--bench`; anything else is a mistake worth hearing of.
                "--bench" => {}
                other => panic!("unknown argument {other:?}"),
            }
        }
        let postgres = std::env::var_os(TEST_POSTGRES).is_some();
        if !postgres && !options.modes_chosen && options.ours {
            println!(
                "{TEST_POSTGRES} is not set: the storms on PostgreSQL are left out \
                 (set it to a superuser's postgres:// URL to run them)"
            );
            options.modes.retain(|mode| *mode == Mode::Sqlite);
        }
        options
    }

    /// Our server: the build under test, or the one `--server` names.
    fn program(&self) -> PathBuf {
        self.server
            .clone()
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_tianjian-under-test").into())
    }
}

/// One phone as it comes back into signal: its person, the documents it holds, and the
/// notebook with the records it wrote offline.
#[derive(Clone)]
struct Phone {
    who: Principal,
    notebook: DocumentId,
    notebook_bytes: Vec<u8>,
    branch: DocumentId,
    branch_bytes: Vec<u8>,
}

/// The township as the server knows it before the storm, and the phones' offline work.
struct Township {
    phones: Vec<Phone>,
    /// Every document, as the server stored it: for seeding the Node server and the floor.
    documents: Vec<(DocumentId, Vec<u8>)>,
    /// The size of the Automerge changes the phones wrote offline, all together.
    change_bytes: u64,
    /// How long the server's validation of every phone's batch takes, one after another.
    validation: Duration,
}

async fn township(store: &Store, options: &Options) -> Township {
    let org = Organisation { store, hub: None };
    let township = org.township("周官桥乡").await.unwrap();
    let per_branch = options.devices.div_ceil(options.branches);
    let mut phones = Vec::with_capacity(options.devices);
    let mut documents = Vec::new();
    let mut change_bytes = 0;
    let mut validation = Duration::ZERO;
    for b in 0..options.branches {
        let branch = org
            .create_branch(township, &format!("第{b}村"), NOW)
            .await
            .unwrap();
        let mut members = Vec::new();
        for m in 0..per_branch.min(options.devices - phones.len() - members.len()) {
            let name = format!("党员{b}-{m}");
            let user = person(store, township, Some(branch.id), &name, Role::Member).await;
            members.push(user);
        }
        let branch_bytes = store
            .load_document(branch.branch_document)
            .await
            .unwrap()
            .unwrap();
        documents.push((branch.branch_document, branch_bytes.clone()));
        for user in members {
            let notebook = user.notebook_document.unwrap();
            let stored = store.load_document(notebook).await.unwrap().unwrap();
            documents.push((notebook, stored.clone()));
            let who = Principal {
                user: user.id,
                role: user.role,
                branch: user.branch,
                township: Some(user.township),
            };
            let mut offline = Notebook::load(&stored, Limits::default()).unwrap();
            let before = offline.heads();
            for r in 0..options.records {
                let lecture = client_core::model::notebook::Lecture {
                    title: format!("第{r}讲"),
                    ..lecture(&who)
                };
                offline.record_lecture(&who, NOW, lecture).unwrap();
            }
            // What the server's gate will spend on this batch, measured here on one core.
            let ctx = Context {
                scope: *offline.scope(),
                authors: std::slice::from_ref(&who),
                elections: None,
                limits: Limits::default(),
                rules: validate::RULES,
            };
            let started = Instant::now();
            validate::validate_changes(offline.automerge(), &before, &ctx).unwrap();
            validation += started.elapsed();
            change_bytes += offline
                .automerge()
                .get_changes(&before)
                .iter()
                .map(|c| c.raw_bytes().len() as u64)
                .sum::<u64>();
            phones.push(Phone {
                who,
                notebook,
                notebook_bytes: offline.document_mut().save(),
                branch: branch.branch_document,
                branch_bytes: branch_bytes.clone(),
            });
        }
    }
    Township {
        phones,
        documents,
        change_bytes,
        validation,
    }
}

/// What one storm measured.
#[derive(Debug, Default)]
struct Outcome {
    phones: usize,
    /// How many phones the server acknowledged within the limit.
    acknowledged: usize,
    /// From the first connection to the last acknowledgement.
    elapsed: Duration,
    wire_bytes: u64,
    /// The CPU time of the server processes, together, from the first connection until they
    /// were idle again.
    cpu: Option<Duration>,
    /// Each server process's peak memory (its peak resident set).
    peak_memory_kib: Vec<Option<u64>>,
    /// The CPU time of the PostgreSQL backends serving the server processes meanwhile, where
    /// PostgreSQL runs on this machine.
    database_cpu: Option<Duration>,
    /// The CPU time of this process, the phones', meanwhile.
    phones_cpu: Option<Duration>,
}

impl Outcome {
    /// The time until every phone was acknowledged, if all were.
    fn converged(&self) -> Option<Duration> {
        (self.acknowledged == self.phones).then_some(self.elapsed)
    }

    /// The largest of the processes' peak memory, and their sum, if every one is known.
    fn memory_kib(&self) -> Option<(u64, u64)> {
        let each: Option<Vec<u64>> = self.peak_memory_kib.iter().copied().collect();
        let each = each.filter(|each| !each.is_empty())?;
        Some((each.iter().copied().max().unwrap_or(0), each.iter().sum()))
    }
}

/// Every phone connects at once, phone `i` to server `i % servers.len()`, and syncs until the
/// server holds all its records, or until `limit`.
async fn storm(
    servers: &[SocketAddr],
    phones: &[Phone],
    keys: &KeyRing,
    limit: Duration,
) -> Outcome {
    let started = Instant::now();
    let mut running = JoinSet::new();
    for (index, phone) in phones.iter().cloned().enumerate() {
        let token = token(keys, &phone.who);
        let addr = servers[index % servers.len()];
        running.spawn(async move {
            let mut device = Device::new(&format!("phone-{index}"));
            device.hold(phone.notebook, phone.notebook_bytes);
            device.hold(phone.branch, phone.branch_bytes);
            device.open(phone.notebook).await.unwrap();
            device.open(phone.branch).await.unwrap();
            // A refused connection (a full accept queue) is retried, as a phone would.
            while let Err(error) = device.connect(addr, &token).await {
                if started.elapsed() > limit {
                    return (false, started.elapsed(), 0);
                }
                eprintln!("phone {index}: {error}; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let (notebook, branch) = (phone.notebook, phone.branch);
            let remaining = limit.saturating_sub(started.elapsed());
            let kept = device
                .sync_until_acknowledged(remaining, &[notebook, branch])
                .await
                .unwrap();
            (
                kept,
                started.elapsed(),
                device.bytes_sent + device.bytes_received,
            )
        });
    }
    let mut outcome = Outcome {
        phones: phones.len(),
        ..Outcome::default()
    };
    while let Some(done) = running.join_next().await {
        let (kept, at, bytes) = done.unwrap();
        if kept {
            outcome.acknowledged += 1;
            outcome.elapsed = outcome.elapsed.max(at);
        }
        outcome.wire_bytes += bytes;
    }
    outcome
}

/// The CPU time of `servers` together so far.
fn cpu_of(servers: &[ServerProcess]) -> Option<Duration> {
    servers.iter().map(ServerProcess::cpu_time).sum()
}

/// The CPU time of each backend serving the database at `url` so far.
fn backends_cpu(url: &str) -> BTreeMap<u32, Duration> {
    backends(url)
        .into_iter()
        .filter_map(|pid| Some((pid, cpu_time(pid)?)))
        .collect()
}

/// A storm against `servers`, with what it cost them: their CPU time, from the first
/// connection until they are idle again, their peak memory, and, if they keep their data in
/// PostgreSQL at `database`, the CPU time of the backends serving them.
async fn measured(
    servers: &[ServerProcess],
    database: Option<&str>,
    phones: &[Phone],
    keys: &KeyRing,
    limit: Duration,
) -> Outcome {
    let database_before = database.map(backends_cpu);
    let phones_before = cpu_time(std::process::id());
    let before = cpu_of(servers);
    let addrs: Vec<SocketAddr> = servers.iter().map(|server| server.addr).collect();
    let mut outcome = storm(&addrs, phones, keys, limit).await;
    let phones_after = cpu_time(std::process::id());
    // What the phones leave the servers to do as they go (their sync states saved) is the
    // storm's: wait until the servers use under 4 % of a core for half a second, at most 10 s.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = cpu_of(servers);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = cpu_of(servers);
        let busy = match (last, now) {
            (Some(last), Some(now)) => now.saturating_sub(last) >= Duration::from_millis(20),
            _ => false,
        };
        last = now;
        if !busy {
            break;
        }
    }
    outcome.cpu = before
        .zip(last)
        .map(|(before, after)| after.saturating_sub(before));
    outcome.phones_cpu = phones_before
        .zip(phones_after)
        .map(|(before, after)| after.saturating_sub(before));
    outcome.peak_memory_kib = servers.iter().map(ServerProcess::peak_memory_kib).collect();
    if let (Some(url), Some(before)) = (database, database_before) {
        let after = backends_cpu(url);
        outcome.database_cpu = (!after.is_empty()).then(|| {
            after
                .iter()
                .map(|(pid, cpu)| cpu.saturating_sub(before.get(pid).copied().unwrap_or_default()))
                .sum()
        });
    }
    outcome
}

/// A storm on our server in `mode`, each from its own copy of the township at `pristine`.
async fn ours(
    mode: Mode,
    dir: &Path,
    pristine: &Path,
    township: &Township,
    keys: &KeyRing,
    options: &Options,
) -> Outcome {
    let program = options.program();
    let cores = options.cores.as_deref();
    let run = dir.join(mode.name());
    std::fs::create_dir_all(&run).unwrap();
    match mode {
        Mode::Sqlite => {
            tianjian_server::backup::copy_database(pristine, &run.join(DATABASE)).unwrap();
            let env = [("TIANJIAN__LOG__LEVEL", "warn")];
            let server = ServerProcess::tianjian_on(&program, &run, &env, None, cores);
            measured(&[server], None, &township.phones, keys, options.limit).await
        }
        Mode::Postgres | Mode::TwoNodes => {
            let url = fresh_database();
            let seeding = Instant::now();
            let (from, to) = (
                Database::Sqlite(pristine.to_owned()),
                Database::Postgres(url.clone()),
            );
            // Blocking, with a runtime of its own: on a thread of its own.
            std::thread::spawn(move || tianjian_server::store::copy_database(&from, &to))
                .join()
                .unwrap()
                .unwrap();
            println!(
                "  (the township copied into a new PostgreSQL database in {:.1} s)",
                seeding.elapsed().as_secs_f64()
            );
            let env = [
                ("TIANJIAN__STORAGE__DATABASE", url.as_str()),
                ("TIANJIAN__LOG__LEVEL", "warn"),
            ];
            let servers: Vec<ServerProcess> = (0..mode.nodes())
                .map(|node| {
                    // Each node keeps its media in a directory of its own.
                    let data = run.join(format!("node-{node}"));
                    std::fs::create_dir_all(&data).unwrap();
                    ServerProcess::tianjian_on(&program, &data, &env, None, cores)
                })
                .collect();
            let outcome =
                measured(&servers, Some(&url), &township.phones, keys, options.limit).await;
            drop(servers);
            drop_database(&url);
            outcome
        }
    }
}

/// The stock Node server, seeded with the same documents under the same ids.
fn node(dir: &Path, documents: &[(DocumentId, Vec<u8>)], cores: Option<&str>) -> ServerProcess {
    let seeds = dir.join("seeds");
    std::fs::create_dir_all(&seeds).unwrap();
    let mut list = Vec::new();
    for (id, bytes) in documents {
        let file = seeds.join(id.to_string());
        std::fs::write(&file, bytes).unwrap();
        list.push(format!(
            "{{\"id\":\"{id}\",\"file\":\"{}\"}}",
            file.display()
        ));
    }
    let seed = dir.join("seed.json");
    std::fs::write(&seed, format!("[{}]", list.join(","))).unwrap();
    let mut command = command_on("node", cores);
    command
        .arg(js_dir().join("sync-server.mjs"))
        .arg("--dir")
        .arg(dir.join("repo"))
        .arg("--seed")
        .arg(&seed);
    ServerProcess::start(command).unwrap()
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// CPU time per 1,000 records, in seconds.
fn per_thousand(cpu: Duration, records: usize) -> f64 {
    cpu.as_secs_f64() * 1000.0 / records as f64
}

fn report(name: &str, outcome: &Outcome, records: usize, change_bytes: u64) {
    let time = match outcome.converged() {
        Some(time) => format!("converged in {:>7.2} s", time.as_secs_f64()),
        None => format!(
            "NOT converged: {}/{} phones acknowledged",
            outcome.acknowledged, outcome.phones
        ),
    };
    let cpu = outcome.cpu.map_or("?".into(), |cpu| {
        format!(
            "{:.2} s ({:.3} s/1,000 records)",
            cpu.as_secs_f64(),
            per_thousand(cpu, records)
        )
    });
    let memory = match outcome.peak_memory_kib.as_slice() {
        [one] => one.map_or("?".into(), mib),
        each => each
            .iter()
            .map(|kib| kib.map_or("?".into(), mib))
            .collect::<Vec<_>>()
            .join(" + "),
    };
    println!(
        "{name:<30} {time}   CPU {cpu}   peak memory {memory}   wire {:.0} B/record ({:.2}× the changes)",
        outcome.wire_bytes as f64 / records as f64,
        outcome.wire_bytes as f64 / change_bytes as f64,
    );
    let mut besides = Vec::new();
    if let Some(cpu) = outcome.database_cpu {
        besides.push(format!(
            "PostgreSQL's backends {:.2} CPU-s",
            cpu.as_secs_f64()
        ));
    }
    if let Some(cpu) = outcome.phones_cpu {
        besides.push(format!("the phones {:.2} CPU-s", cpu.as_secs_f64()));
    }
    if !besides.is_empty() {
        println!("{:<30} meanwhile: {}", "", besides.join(", "));
    }
}

/// Every storm of the run in one table, against the floor (whose time, in parentheses, is
/// that of its phones one after another).
fn summary(rows: &[(&str, Outcome)], floor: Option<&Floor>, records: usize) {
    let floor_per_thousand = floor
        .and_then(|floor| floor.cpu)
        .map(|cpu| per_thousand(cpu, records));
    println!();
    println!(
        "| server | acknowledged | converged | server CPU-s | CPU-s / 1,000 records | × floor | peak memory (max; sum) | PostgreSQL backends CPU-s | phones CPU-s | wire B/record |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    if let Some(floor) = floor {
        println!(
            "| floor: the engine alone, no IO, no sockets | {}/{} | ({:.2} s) | {} | {} | 1.00 | | | | {:.0} |",
            floor.acknowledged,
            floor.phones,
            floor.wall.as_secs_f64(),
            floor
                .cpu
                .map_or("?".into(), |cpu| format!("{:.2}", cpu.as_secs_f64())),
            floor_per_thousand.map_or("?".into(), |f| format!("{f:.3}")),
            floor.wire_bytes as f64 / records as f64,
        );
    }
    for (name, outcome) in rows {
        let per = outcome.cpu.map(|cpu| per_thousand(cpu, records));
        let memory = match (outcome.memory_kib(), outcome.peak_memory_kib.len()) {
            (Some((max, _)), 1) => mib(max),
            (Some((max, sum)), _) => format!("{}; {}", mib(max), mib(sum)),
            (None, _) => "?".into(),
        };
        let seconds = |cpu: Option<Duration>| {
            cpu.map_or(String::new(), |c| format!("{:.2}", c.as_secs_f64()))
        };
        println!(
            "| {name} | {}/{} | {} | {} | {} | {} | {memory} | {} | {} | {:.0} |",
            outcome.acknowledged,
            outcome.phones,
            outcome
                .converged()
                .map_or("not converged".into(), |t| format!(
                    "{:.2} s",
                    t.as_secs_f64()
                )),
            seconds(outcome.cpu),
            per.map_or("?".into(), |p| format!("{p:.3}")),
            per.zip(floor_per_thousand)
                .map_or("?".into(), |(p, f)| format!("{:.2}", p / f)),
            seconds(outcome.database_cpu),
            seconds(outcome.phones_cpu),
            outcome.wire_bytes as f64 / records as f64,
        );
    }
}

/// What the engine alone spent on the storm's work.
#[derive(Debug)]
struct Floor {
    phones: usize,
    acknowledged: usize,
    /// The server engine's thread's CPU time.
    cpu: Option<Duration>,
    /// From the first phone's connection to the last one's acknowledgement.
    wall: Duration,
    /// Changes or frames the engine refused: none, if the floor did the storm's work.
    refused: usize,
    /// The frames' bytes, both ways.
    wire_bytes: u64,
}

/// What a phone tells the floor's server engine.
enum ToEngine {
    Connected(ConnectionId, Principal, channel::Sender<Vec<u8>>),
    Frame(ConnectionId, Vec<u8>),
    Disconnected(ConnectionId),
}

/// The floor: each phone in turn syncs with one server engine, with the server's gate, over
/// in-memory channels, until its records are acknowledged.
fn floor(township: &Township, directory: Directory, limit: Duration) -> Floor {
    let (to_engine, inbox) = channel::channel();
    let storage: HashMap<DocumentId, Vec<u8>> = township.documents.iter().cloned().collect();
    let gate = ServerGate::new(directory);
    let engine = std::thread::spawn(move || serve(gate, storage, inbox));
    let started = Instant::now();
    let (mut acknowledged, mut wire_bytes) = (0, 0);
    for (index, phone) in township.phones.iter().enumerate() {
        let (kept, bytes) = in_memory_phone(index, phone, &to_engine, limit);
        acknowledged += usize::from(kept);
        wire_bytes += bytes;
    }
    let wall = started.elapsed();
    drop(to_engine);
    let (cpu, refused) = engine.join().unwrap();
    Floor {
        phones: township.phones.len(),
        acknowledged,
        cpu,
        wall,
        refused,
        wire_bytes,
    }
}

/// The floor's server engine: handles what the phones send until they are all gone, its
/// storage answered from memory at once; returns its thread's CPU time, and how many
/// refusals it made.
fn serve(
    gate: ServerGate,
    mut storage: HashMap<DocumentId, Vec<u8>>,
    inbox: channel::Receiver<ToEngine>,
) -> (Option<Duration>, usize) {
    let started = thread_cpu_time();
    let mut engine = Engine::new(
        PeerId("floor".into()),
        PeerMetadata {
            storage_id: Some(StorageId("floor-storage".into())),
            is_ephemeral: Some(false),
            rules: Some(validate::RULES),
            quiet: None,
        },
        Side::Server,
        gate,
    );
    let mut outboxes = HashMap::new();
    let mut refused = 0;
    while let Ok(input) = inbox.recv() {
        let event = match input {
            ToEngine::Connected(connection, identity, outbox) => {
                outboxes.insert(connection, outbox);
                Event::Connected {
                    connection,
                    identity,
                    shared: Vec::new(),
                }
            }
            ToEngine::Frame(connection, bytes) => Event::Frame { connection, bytes },
            ToEngine::Disconnected(connection) => {
                outboxes.remove(&connection);
                Event::Disconnected { connection }
            }
        };
        let mut pending = VecDeque::from([event]);
        while let Some(event) = pending.pop_front() {
            for effect in engine.handle(event) {
                if let Some(answer) = stored_in_memory(&mut storage, &effect) {
                    pending.push_back(answer);
                    continue;
                }
                match effect {
                    Effect::Send { connection, bytes } => {
                        if let Some(outbox) = outboxes.get(&connection) {
                            let _ = outbox.send(bytes);
                        }
                    }
                    Effect::Close { connection, .. } => {
                        outboxes.remove(&connection);
                    }
                    Effect::ChangesRefused { .. } | Effect::Refused { .. } => refused += 1,
                    _ => {}
                }
            }
        }
    }
    let cpu = started
        .zip(thread_cpu_time())
        .map(|(started, now)| now.saturating_sub(started));
    (cpu, refused)
}

/// The floor's storage, the same for the server engine and the phones': documents loaded
/// from memory at once, no sync state ever saved before, changes appended and durable at
/// once. The answer to `effect` if it is one for storage.
fn stored_in_memory<I>(
    storage: &mut HashMap<DocumentId, Vec<u8>>,
    effect: &Effect,
) -> Option<Event<I>> {
    match effect {
        Effect::Load { document } => Some(Event::Loaded {
            document: *document,
            bytes: storage.get(document).cloned(),
        }),
        Effect::LoadSyncState {
            storage: peer,
            document,
        } => Some(Event::SyncStateLoaded {
            storage: peer.clone(),
            document: *document,
            bytes: None,
        }),
        Effect::Persist {
            ticket,
            document,
            changes,
            ..
        } => {
            let stored = storage.entry(*document).or_default();
            for change in changes {
                stored.extend_from_slice(change.raw_bytes());
            }
            Some(Event::Persisted { ticket: *ticket })
        }
        _ => None,
    }
}

/// One phone of the floor, an engine of its own as in the storm: connects to the server
/// engine, syncs until both its documents are acknowledged (or `limit` passes), and leaves;
/// returns whether they were, and the frames' bytes both ways.
fn in_memory_phone(
    index: usize,
    phone: &Phone,
    engine: &channel::Sender<ToEngine>,
    limit: Duration,
) -> (bool, u64) {
    const LINK: ConnectionId = ConnectionId(1);
    let connection = ConnectionId(index as u64 + 1);
    let name = format!("phone-{index}");
    let mut device = Engine::new(
        PeerId(name.clone()),
        PeerMetadata {
            storage_id: Some(StorageId(format!("{name}-storage"))),
            is_ephemeral: Some(false),
            rules: None,
            quiet: None,
        },
        Side::Client,
        Trusting,
    );
    let mut storage = HashMap::from([
        (phone.notebook, phone.notebook_bytes.clone()),
        (phone.branch, phone.branch_bytes.clone()),
    ]);
    let (outbox, inbox) = channel::channel();
    engine
        .send(ToEngine::Connected(connection, phone.who.clone(), outbox))
        .unwrap();
    // Runs an event through the phone's engine and carries out what it asks, as the storm's
    // devices do, sending its frames to the server engine.
    let (mut sent, mut received) = (0, 0);
    let mut handle = |device: &mut Engine<Trusting>, event: Event<()>| {
        let mut pending = vec![event];
        while let Some(event) = pending.pop() {
            for effect in device.handle(event) {
                if let Some(answer) = stored_in_memory(&mut storage, &effect) {
                    pending.push(answer);
                } else if let Effect::Send { bytes, .. } = effect {
                    sent += bytes.len() as u64;
                    engine.send(ToEngine::Frame(connection, bytes)).unwrap();
                }
            }
        }
    };
    handle(
        &mut device,
        Event::Open {
            document: phone.notebook,
        },
    );
    handle(
        &mut device,
        Event::Open {
            document: phone.branch,
        },
    );
    handle(
        &mut device,
        Event::Connected {
            connection: LINK,
            identity: (),
            // A phone that has never synced: it has shared nothing.
            shared: Vec::new(),
        },
    );
    let deadline = Instant::now() + limit;
    let kept = loop {
        if device.acknowledged(phone.notebook) && device.acknowledged(phone.branch) {
            break true;
        }
        if Instant::now() >= deadline {
            break false;
        }
        match inbox.recv_timeout(Duration::from_secs(1)) {
            Ok(bytes) => {
                received += bytes.len() as u64;
                handle(
                    &mut device,
                    Event::Frame {
                        connection: LINK,
                        bytes,
                    },
                );
            }
            // A second without word: offer again what has not been acknowledged.
            Err(channel::RecvTimeoutError::Timeout) => handle(&mut device, Event::Tick),
            Err(channel::RecvTimeoutError::Disconnected) => break false,
        }
    };
    engine.send(ToEngine::Disconnected(connection)).unwrap();
    (kept, sent + received)
}

fn main() {
    let options = Options::parse();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let keys = keys();
        let setup = Instant::now();
        // The township as every storm starts from it; no server runs on this copy.
        let pristine = dir.path().join(DATABASE);
        let (township, directory) = {
            let store = Store::open(&pristine).unwrap();
            let township = township(&store, &options).await;
            (township, Directory::load(&store).await.unwrap())
        };
        let records = township.phones.len() * options.records;
        println!(
            "{} phones in {} branches, {} offline records ({} bytes of changes, {:.0} B/record); set up in {:.1} s",
            township.phones.len(),
            options.branches,
            records,
            township.change_bytes,
            township.change_bytes as f64 / records as f64,
            setup.elapsed().as_secs_f64()
        );
        println!(
            "validating every phone's batch, one after another as the hub does: {:.2} s",
            township.validation.as_secs_f64()
        );
        let online = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        match &options.cores {
            Some(cores) => println!(
                "server processes held to CPU {cores} (taskset -c {cores}) of the {online} online"
            ),
            None => println!("server processes free to use all {online} CPUs"),
        }
        if let Some(server) = &options.server {
            println!("our server: {}", server.display());
        }
        if let Some(runs) = options.telemetry {
            telemetry(dir.path(), &township, &keys, &options, runs).await;
            return;
        }
        let floor = options.ours.then(|| {
            let floor = floor(&township, directory, options.limit);
            println!(
                "{:<30} {}/{} phones acknowledged in {:.2} s   engine CPU {}   wire {:.0} B/record   refusals {}",
                "floor (the engine alone)",
                floor.acknowledged,
                floor.phones,
                floor.wall.as_secs_f64(),
                floor.cpu.map_or("?".into(), |cpu| format!(
                    "{:.2} s ({:.3} s/1,000 records)",
                    cpu.as_secs_f64(),
                    per_thousand(cpu, records)
                )),
                floor.wire_bytes as f64 / records as f64,
                floor.refused,
            );
            floor
        });
        let mut rows: Vec<(&str, Outcome)> = Vec::new();
        if options.ours {
            for &mode in &options.modes {
                let outcome = ours(mode, dir.path(), &pristine, &township, &keys, &options).await;
                report(mode.label(), &outcome, records, township.change_bytes);
                rows.push((mode.label(), outcome));
            }
        }
        if options.node {
            tokio::task::spawn_blocking(prepare_node).await.unwrap();
            let server = node(
                &dir.path().join("node"),
                &township.documents,
                options.cores.as_deref(),
            );
            let outcome = measured(&[server], None, &township.phones, &keys, options.limit).await;
            report("automerge-repo (Node)", &outcome, records, township.change_bytes);
            rows.push(("automerge-repo (Node)", outcome));
        }
        summary(&rows, floor.as_ref(), records);
        let first = |label: &str| rows.iter().find(|(name, _)| *name == label).map(|(_, o)| o);
        if let (Some(ours), Some(node)) = (
            first(Mode::Sqlite.label()),
            first("automerge-repo (Node)"),
        ) {
            let time = match (ours.converged(), node.converged()) {
                (Some(a), Some(b)) => format!("{:.2}", a.as_secs_f64() / b.as_secs_f64()),
                _ => "n/a (one did not converge)".into(),
            };
            println!(
                "ratio tianjian (SQLite) / Node: time {time}, peak memory {}, wire bytes {:.2}",
                match (ours.memory_kib(), node.memory_kib()) {
                    (Some((a, _)), Some((b, _))) => format!("{:.2}", a as f64 / b as f64),
                    _ => "?".into(),
                },
                ours.wire_bytes as f64 / node.wire_bytes as f64
            );
        }
    });
}

/// Our server with logging and metrics off and on, alternately, on fresh copies of the
/// township's database; prints each storm and the medians' ratio.
async fn telemetry(
    dir: &Path,
    township: &Township,
    keys: &KeyRing,
    options: &Options,
    runs: usize,
) {
    let program = options.program();
    let records = township.phones.len() * options.records;
    let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for run in 0..runs {
        for (mode, on) in [false, true].into_iter().enumerate() {
            let data = dir.join(format!("run-{run}-{mode}"));
            std::fs::create_dir_all(&data).unwrap();
            tianjian_server::backup::copy_database(&dir.join(DATABASE), &data.join(DATABASE))
                .unwrap();
            let (env, log): (&[(&str, &str)], _) = if on {
                (
                    &[
                        ("TIANJIAN__LOG__LEVEL", "info"),
                        ("TIANJIAN__LOG__FORMAT", "json"),
                    ],
                    Some(std::fs::File::create(data.join("server.log")).unwrap()),
                )
            } else {
                (&[("TIANJIAN__LOG__LEVEL", "off")], None)
            };
            let server =
                ServerProcess::tianjian_on(&program, &data, env, log, options.cores.as_deref());
            // Prometheus, reading every second for as long as the storm lasts.
            let scraper = on.then(|| {
                let addr = server.addr;
                tokio::spawn(async move {
                    loop {
                        let _ = tianjian_tests::http(addr, "GET", "/metrics", &[], &[]).await;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                })
            });
            let outcome = measured(&[server], None, &township.phones, keys, options.limit).await;
            if let Some(scraper) = scraper {
                scraper.abort();
            }
            let name = if on {
                "logs and /metrics on"
            } else {
                "logs off"
            };
            report(name, &outcome, records, township.change_bytes);
            if let Some(time) = outcome.converged() {
                times[mode].push(time.as_secs_f64());
            }
            if on {
                let lines = std::fs::read_to_string(data.join("server.log"))
                    .map_or(0, |log| log.lines().count());
                println!("{:<30} {lines} log lines", "");
            }
        }
    }
    let median = |times: &mut Vec<f64>| {
        times.sort_by(f64::total_cmp);
        times.get(times.len() / 2).copied()
    };
    match (median(&mut times[0]), median(&mut times[1])) {
        (Some(off), Some(on)) => println!(
            "median of {runs}: off {off:.2} s, on {on:.2} s; ratio on / off {:.3}",
            on / off
        ),
        _ => println!("some storms did not converge: no ratio"),
    }
}
