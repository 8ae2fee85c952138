//! The reconnect storm: a township's phones, each with records written offline, come back
//! into signal at the same moment. Measures the time until every phone's records are kept by
//! the server, the server's peak memory, and the bytes on the wire per record against the
//! size of the Automerge changes themselves.
//!
//! The same native devices run the same workload against our server (the `tianjian`
//! command, SQLite on disk) and against the stock automerge-repo sync server in Node
//! (`tests/js/sync-server.mjs`), one after the other in the same run, so the two can be
//! compared as a ratio.
//!
//!     cargo bench -p tianjian-tests --bench storm -- [--devices 1000] [--branches 50]
//!                             [--records 20] [--only ours|node] [--limit SECONDS]
//!                             [--server PATH-TO-ANOTHER-BUILD-OF-tianjian]
//!                             [--telemetry RUNS]
//!
//! `--telemetry RUNS` instead runs our server RUNS times in each of two ways, alternately,
//! each on a fresh copy of the same database: logging off and nobody reading `/metrics`, and
//! logging every request and session as JSON lines to a file while `/metrics` is read every
//! second. It reports the median of each and their ratio.

// A benchmark that cannot set itself up has nothing to report: panicking says why.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use client_core::validate::{self, Context};
use client_core::{DocumentId, Limits, Notebook, Principal, Role};
use tianjian_server::admin::Organisation;
use tianjian_server::auth::KeyRing;
use tianjian_server::store::Store;
use tianjian_tests::device::Device;
use tianjian_tests::fixture::{NOW, keys, lecture, person, token};
use tianjian_tests::node::{js_dir, prepare_node};
use tianjian_tests::process::ServerProcess;
use tokio::task::JoinSet;

#[derive(Debug, Clone)]
struct Options {
    devices: usize,
    branches: usize,
    records: usize,
    ours: bool,
    node: bool,
    /// How long a storm may take before the benchmark stops waiting and reports how many
    /// phones were acknowledged by then.
    limit: Duration,
    /// Another build of our server to run instead, for a before-and-after comparison.
    server: Option<std::path::PathBuf>,
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
                // `cargo bench` passes `--bench`; anything else is a mistake worth hearing of.
                "--bench" => {}
                other => panic!("unknown argument {other:?}"),
            }
        }
        options
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
    /// Every document, as the server stored it: for seeding the Node server.
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
struct Outcome {
    phones: usize,
    /// How many phones the server acknowledged within the limit.
    acknowledged: usize,
    /// From the first connection to the last acknowledgement.
    elapsed: Duration,
    peak_memory_kib: Option<u64>,
    wire_bytes: u64,
}

impl Outcome {
    /// The time until every phone was acknowledged, if all were.
    fn converged(&self) -> Option<Duration> {
        (self.acknowledged == self.phones).then_some(self.elapsed)
    }
}

/// Every phone connects at once and syncs until the server holds all its records, or until
/// `limit`.
async fn storm(
    server: &ServerProcess,
    phones: &[Phone],
    keys: &KeyRing,
    limit: Duration,
) -> Outcome {
    let addr = server.addr;
    let started = Instant::now();
    let mut running = JoinSet::new();
    for (index, phone) in phones.iter().cloned().enumerate() {
        let token = token(keys, &phone.who);
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
        acknowledged: 0,
        elapsed: Duration::ZERO,
        peak_memory_kib: None,
        wire_bytes: 0,
    };
    while let Some(done) = running.join_next().await {
        let (kept, at, bytes) = done.unwrap();
        if kept {
            outcome.acknowledged += 1;
            outcome.elapsed = outcome.elapsed.max(at);
        }
        outcome.wire_bytes += bytes;
    }
    outcome.peak_memory_kib = server.peak_memory_kib();
    outcome
}

fn ours(data: &Path, build: Option<&Path>) -> ServerProcess {
    let program = build.unwrap_or(Path::new(env!("CARGO_BIN_EXE_tianjian-under-test")));
    ServerProcess::tianjian(program, data)
}

/// The stock Node server, seeded with the same documents under the same ids.
fn node(dir: &Path, documents: &[(DocumentId, Vec<u8>)]) -> ServerProcess {
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
    let mut command = Command::new("node");
    command
        .arg(js_dir().join("sync-server.mjs"))
        .arg("--dir")
        .arg(dir.join("repo"))
        .arg("--seed")
        .arg(&seed);
    ServerProcess::start(command).unwrap()
}

fn report(name: &str, outcome: &Outcome, records: usize, change_bytes: u64) {
    let time = match outcome.converged() {
        Some(time) => format!("converged in {:>7.2} s", time.as_secs_f64()),
        None => format!(
            "NOT converged: {}/{} phones acknowledged",
            outcome.acknowledged, outcome.phones
        ),
    };
    println!(
        "{name:<22} {time}   peak memory {:>9}   wire {:>6.0} B/record ({:.2}× the changes)",
        outcome
            .peak_memory_kib
            .map_or("?".into(), |kib| format!("{:.1} MiB", kib as f64 / 1024.0)),
        outcome.wire_bytes as f64 / records as f64,
        outcome.wire_bytes as f64 / change_bytes as f64,
    );
}

fn main() {
    let options = Options::parse();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let keys = keys();
        let setup = Instant::now();
        let township = {
            let store = Store::open(&dir.path().join("tianjian.sqlite3")).unwrap();
            township(&store, &options).await
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
        if let Some(runs) = options.telemetry {
            telemetry(dir.path(), &township, &keys, &options, runs).await;
            return;
        }
        let mut results = Vec::new();
        if options.ours {
            let server = ours(dir.path(), options.server.as_deref());
            let outcome = storm(&server, &township.phones, &keys, options.limit).await;
            report("tianjian (SQLite)", &outcome, records, township.change_bytes);
            results.push(outcome);
        }
        if options.node {
            tokio::task::spawn_blocking(prepare_node).await.unwrap();
            let server = node(&dir.path().join("node"), &township.documents);
            let outcome = storm(&server, &township.phones, &keys, options.limit).await;
            report("automerge-repo (Node)", &outcome, records, township.change_bytes);
            results.push(outcome);
        }
        if let [ours, node] = results.as_slice() {
            let time = match (ours.converged(), node.converged()) {
                (Some(a), Some(b)) => format!("{:.2}", a.as_secs_f64() / b.as_secs_f64()),
                _ => "n/a (one did not converge)".into(),
            };
            println!(
                "ratio tianjian / Node: time {time}, peak memory {}, wire bytes {:.2}",
                match (ours.peak_memory_kib, node.peak_memory_kib) {
                    (Some(a), Some(b)) => format!("{:.2}", a as f64 / b as f64),
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
    let program = options
        .server
        .clone()
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_tianjian-under-test").into());
    let records = township.phones.len() * options.records;
    let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for run in 0..runs {
        for (mode, on) in [false, true].into_iter().enumerate() {
            let data = dir.join(format!("run-{run}-{mode}"));
            std::fs::create_dir_all(&data).unwrap();
            tianjian_server::backup::copy_database(
                &dir.join("tianjian.sqlite3"),
                &data.join("tianjian.sqlite3"),
            )
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
            let server = ServerProcess::tianjian_with(&program, &data, env, log);
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
            let outcome = storm(&server, &township.phones, keys, options.limit).await;
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
                println!("{:<22} {lines} log lines", "");
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
