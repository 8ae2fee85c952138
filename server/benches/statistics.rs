//! What the township's figures and ledgers cost, against merely reading the records once.
//!
//! Run with `cargo bench -p tianjian-server --bench statistics` (add `-- --members 10` for a
//! quick look at a smaller township, `--records 20000` for fewer records). It builds a township of 30 branches and 3,000 members
//! (100 per branch) who recorded 200,000 lectures, services and visits over 2026, each
//! reviewed by the branch's secretary (nine in ten approved, the rest returned or waiting),
//! all written through client-core's operations and stored with their projections, as phones
//! would have sent them. The database is kept under `target/` and reused by later runs (it
//! takes minutes to build).
//!
//! Then, in the same run, median of `--runs` (default 7):
//! - the baseline: one full scan of the `records` table;
//! - the township overview of October: every branch's figures and its plan standing;
//! - the plan standing alone;
//! - the township's figures for the whole year;
//! - the township's approved lectures of the year as the ledger lists them (every field and
//!   person of each), and their XLSX export (listing, table and file).
//!
//! And once each (they write a copy of the database): `tianjian backup`'s work on this
//! database, against copying its file with `std::fs::copy` and an fsync.
//!
//! It prints each time and its ratio to the scan. Machines here are noisy: read the ratios.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use client_core::model::branch::{Decision, Plan};
use client_core::model::common::{Prose, RecordRef, ReviewableKind, Submission};
use client_core::model::notebook::{
    Lecture, LectureCategory, Service, ServiceKind, Venue, Visit, VisitKind,
};
use client_core::ops::{ReviewDecision, Reviewable};
use client_core::{Date, Millis, Month, Notebook, Period, Principal, RecordId, Role};
use tianjian_server::admin::{NewUser, Organisation};
use tianjian_server::export::{self, Ledger};
use tianjian_server::store::{Count, Scope, Store};
use tianjian_server::writer::{WriteError, Writer};

const BRANCHES: usize = 30;

struct Options {
    members_per_branch: usize,
    records: usize,
    runs: usize,
}

fn options() -> Options {
    let mut options = Options {
        members_per_branch: 100,
        records: 200_000,
        runs: 7,
    };
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        match pair[0].as_str() {
            "--members" => options.members_per_branch = pair[1].parse().unwrap(),
            "--records" => options.records = pair[1].parse().unwrap(),
            "--runs" => options.runs = pair[1].parse().unwrap(),
            _ => {}
        }
    }
    options
}

/// Noon of the `day`-th day of 2026 (from 0), Beijing time.
fn day_of_2026(day: usize) -> Millis {
    let start: Date = "2026-01-01".parse().unwrap();
    Millis(start.cst_start().0 + (day as i64 % 365) * 86_400_000 + 12 * 3_600_000)
}

/// A deterministic stream of small numbers, so that every run builds the same township.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % sides as u64) as usize
    }
}

fn build(path: &Path, members_per_branch: usize, records: usize) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = Store::open(path).unwrap();
    let started = Instant::now();
    // The secretary reviews; the other members record, the township's records shared out
    // among them as evenly as whole numbers allow.
    let recorders = BRANCHES * (members_per_branch - 1);
    let share = |index: usize| records / recorders + usize::from(index < records % recorders);
    runtime.block_on(async {
        let org = Organisation {
            store: &store,
            hub: None,
        };
        let now = day_of_2026(0);
        let township = org.township("周官桥乡").await.unwrap();
        let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
        for b in 0..BRANCHES {
            let branch = org
                .create_branch(township, &format!("第{:02}村", b + 1), now)
                .await
                .unwrap();
            let person = |name: String, role| NewUser {
                name,
                role,
                township,
                branch: Some(branch.id),
                phone: None,
                password: None,
            };
            let secretary = org
                .create_user(person(format!("书记{b}"), Role::BranchAdmin), now)
                .await
                .unwrap()
                .principal();
            let writer = Writer::new(&store, day_of_2026(364));
            // Each month's plan, so that the overview has plans to judge.
            writer
                .branch(branch.branch_document, &secretary, |doc| {
                    for month in 1..=12u8 {
                        let month = Month { year: 2026, month };
                        doc.set_plan(&secretary, now, month, plan(&secretary))?;
                    }
                    Ok::<_, WriteError>(())
                })
                .await
                .unwrap();
            let mut reviews: Vec<(RecordRef, Written, bool)> = Vec::new();
            for m in 1..members_per_branch {
                let member = org
                    .create_user(person(format!("党员{b}-{m}"), Role::Member), now)
                    .await
                    .unwrap();
                let who = member.principal();
                let notebook = member.notebook_document.unwrap();
                let rolls: Vec<(usize, usize, usize)> =
                    (0..share(b * (members_per_branch - 1) + m - 1))
                        .map(|_| (dice.roll(10), dice.roll(365), dice.roll(20)))
                        .collect();
                let written = writer
                    .notebook(notebook, &who, |n: &mut Notebook| {
                        let mut written = Vec::new();
                        for (index, (kind, day, n_people)) in rolls.iter().copied().enumerate() {
                            let at = day_of_2026(day);
                            // Everyone records a lecture and a service at least.
                            let (id, kind) = match (index, kind) {
                                (0, _) | (_, 0..=4) => {
                                    let id = n.record_lecture(
                                        &who,
                                        at,
                                        Lecture {
                                            // The first carries out the month's plan.
                                            plan: (index == 0).then(|| at.cst_date().month_of()),
                                            ..lecture(&who, at, n_people)
                                        },
                                    )?;
                                    n.submit::<Lecture>(&who, at, id)?;
                                    (id, Written::Lecture(submitted(n, id)?))
                                }
                                (1, _) | (_, 5..=7) => {
                                    let id = n.record_service(
                                        &who,
                                        at,
                                        Service {
                                            plan: (index == 1).then(|| at.cst_date().month_of()),
                                            ..service(&who, at)
                                        },
                                    )?;
                                    n.submit::<Service>(&who, at, id)?;
                                    (id, Written::Service(submitted(n, id)?))
                                }
                                _ => {
                                    let id = n.record_visit(&who, at, visit(&who, at, n_people))?;
                                    n.submit::<Visit>(&who, at, id)?;
                                    (id, Written::Visit(submitted(n, id)?))
                                }
                            };
                            written.push((id, kind));
                        }
                        Ok::<_, WriteError>(written)
                    })
                    .await
                    .unwrap();
                for (id, read) in written {
                    let record = RecordRef {
                        notebook,
                        kind: read.kind(),
                        id,
                    };
                    match dice.roll(20) {
                        // One in twenty waits for review.
                        0 => {}
                        // One in twenty is returned.
                        1 => reviews.push((record, read, false)),
                        _ => reviews.push((record, read, true)),
                    }
                }
            }
            writer
                .branch(branch.branch_document, &secretary, |doc| {
                    for (record, read, approve) in &reviews {
                        let decision = ReviewDecision {
                            record: *record,
                            revision: 1,
                            decision: if *approve {
                                Decision::Approved
                            } else {
                                Decision::Returned
                            },
                            comment: if *approve {
                                String::new()
                            } else {
                                "请补充".into()
                            },
                            publish: false,
                            fine_example: false,
                        };
                        let at = day_of_2026(364);
                        match read {
                            Written::Lecture(l) => doc.review(&secretary, at, decision, l)?,
                            Written::Service(s) => doc.review(&secretary, at, decision, s)?,
                            Written::Visit(v) => doc.review(&secretary, at, decision, v)?,
                        };
                    }
                    Ok::<_, WriteError>(())
                })
                .await
                .unwrap();
            eprintln!(
                "built branch {}/{BRANCHES} in {:.0?}",
                b + 1,
                started.elapsed()
            );
        }
    });
}

fn plan(secretary: &Principal) -> Plan {
    Plan {
        lecture_topic: "学习党的二十大精神".into(),
        lecture_speaker: None,
        film_title: "《榜样9》".into(),
        practice: "秸秆禁烧巡逻".into(),
        theme_day: None,
        notes: Prose::default(),
        created_by: secretary.user,
        created_at: day_of_2026(0),
        withdrawn: None,
    }
}

fn lecture(who: &Principal, at: Millis, audience: usize) -> Lecture {
    Lecture {
        title: "忆扶贫故事、做合格党员、推乡村振兴".into(),
        category: LectureCategory::PoliticalTheory,
        venue: Venue::Courtyard,
        held_at: at,
        duration_min: 30,
        place: "屋场坪".into(),
        gps: None,
        speakers: vec![who.user],
        guest_speaker: None,
        recorded_by: who.user,
        attendees: vec![who.user],
        audience: audience as i64 + 5,
        summary: "结合自己的经历讲身份意识、宗旨意识、服务意识。".into(),
        media: Vec::new(),
        plan: None,
        submission: Submission::draft(),
        created_at: at,
        withdrawn: None,
    }
}

fn service(who: &Principal, at: Millis) -> Service {
    Service {
        kind: ServiceKind::Patrol,
        title: "秸秆禁烧巡逻".into(),
        held_at: at,
        hours: 2.0,
        participants: vec![who.user],
        beneficiaries: 10,
        place: "村道".into(),
        notes: String::new(),
        media: Vec::new(),
        plan: None,
        recorded_by: who.user,
        submission: Submission::draft(),
        created_at: at,
        withdrawn: None,
    }
}

fn visit(who: &Principal, at: Millis, household: usize) -> Visit {
    Visit {
        kind: VisitKind::Walk,
        household: format!("{household}组 张家"),
        visitors: vec![who.user],
        visited_at: at,
        needs: "想了解高龄补贴怎么申请".into(),
        follow_up: String::new(),
        media: Vec::new(),
        recorded_by: who.user,
        submission: Submission::draft(),
        created_at: at,
        withdrawn: None,
    }
}

/// The median of `runs` timings of `work`.
fn median(runs: usize, mut work: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let options = options();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-statistics");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!(
        "township-{}-{}-planned.sqlite3",
        options.members_per_branch, options.records
    ));
    if !path.exists() {
        let building = path.with_extension("building");
        let _ = std::fs::remove_file(&building);
        build(&building, options.members_per_branch, options.records);
        std::fs::rename(&building, &path).unwrap();
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = Store::open(&path).unwrap();
    let scan_db =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let (township, branches) = runtime.block_on(async {
        let townships = store.townships().await.unwrap();
        let township = townships[0].0;
        let branches = store.branches_of(township).await.unwrap();
        (township, branches)
    });
    let scope = Scope {
        branches: branches.iter().map(|b| b.id).collect(),
    };
    let records: i64 = scan_db
        .query_row("SELECT count(*) FROM records", [], |row| row.get(0))
        .unwrap();
    println!(
        "township {township}: {} branches, {records} records in the records table",
        branches.len()
    );
    let today: Date = "2026-12-31".parse().unwrap();
    let october: Month = "2026-10".parse().unwrap();
    let year: Period = "2026".parse().unwrap();

    let scan = median(options.runs, || {
        let total: i64 = scan_db
            .query_row(
                "SELECT sum(length(key) + coalesce(occurred_at, 0) % 7) FROM records NOT INDEXED",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert!(total > 0);
    });
    let overview = median(options.runs, || {
        runtime.block_on(async {
            let tally = store
                .figures(Count {
                    scope: scope.clone(),
                    period: Period::Month(october).range(),
                    today,
                })
                .await
                .unwrap();
            assert!(tally.total.figures.lectures > 0);
            let plans = store.plan_standing(scope.clone(), october).await.unwrap();
            assert_eq!(plans.len(), branches.len());
        })
    });
    let plan_standing = median(options.runs, || {
        runtime.block_on(async {
            let plans = store.plan_standing(scope.clone(), october).await.unwrap();
            assert_eq!(plans.len(), branches.len());
        })
    });
    let year_figures = median(options.runs, || {
        runtime.block_on(async {
            let tally = store
                .figures(Count {
                    scope: scope.clone(),
                    period: year.range(),
                    today,
                })
                .await
                .unwrap();
            assert!(tally.total.figures.lectures > 0);
        })
    });
    let listing = median(options.runs, || {
        runtime.block_on(async {
            let records = store
                .ledger_records(Ledger::Lectures.listing(), scope.clone(), year.range())
                .await
                .unwrap();
            assert!(!records.is_empty());
        })
    });
    let mut rows = 0;
    let mut size = 0;
    let export = median(options.runs, || {
        runtime.block_on(async {
            let records = store
                .ledger_records(Ledger::Lectures.listing(), scope.clone(), year.range())
                .await
                .unwrap();
            let sheet = export::sheet(Ledger::Lectures, &records, today);
            rows = sheet.rows.len();
            size = export::xlsx::write(&sheet).unwrap().len();
        })
    });

    let (copied, backed_up, backup_bytes) = backup_against_copy(&dir, &path);

    println!("median of {} runs:", options.runs);
    println!("  scan the records table once        {scan:>10.1?}   1.0");
    let ratio = |d: Duration| d.as_secs_f64() / scan.as_secs_f64();
    println!(
        "  township overview, October          {overview:>10.1?}   {:.1}",
        ratio(overview)
    );
    println!(
        "  township plan standing, October      {plan_standing:>10.1?}   {:.1}",
        ratio(plan_standing)
    );
    println!(
        "  township figures, the year           {year_figures:>10.1?}   {:.1}",
        ratio(year_figures)
    );
    println!(
        "  the year's lectures, listed          {listing:>10.1?}   {:.1}",
        ratio(listing)
    );
    println!(
        "  XLSX of the year's lectures          {export:>10.1?}   {:.1}   ({rows} rows, {} KiB)",
        ratio(export),
        size / 1024
    );
    let file = std::fs::metadata(&path).unwrap().len();
    println!("once each:");
    println!(
        "  copy the database file (fs::copy)  {copied:>10.1?}   1.0   ({} MiB)",
        file >> 20
    );
    println!(
        "  tianjian backup of it               {backed_up:>10.1?}   {:.2}   ({} MiB)",
        backed_up.as_secs_f64() / copied.as_secs_f64(),
        backup_bytes >> 20
    );
}

/// The time to copy the database file, and the time and size of a backup of it.
fn backup_against_copy(dir: &Path, database: &Path) -> (Duration, Duration, u64) {
    let scratch = dir.join("backup-scratch");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let started = Instant::now();
    let copy = scratch.join("copy.sqlite3");
    std::fs::copy(database, &copy).unwrap();
    std::fs::File::open(&copy).unwrap().sync_all().unwrap();
    let copied = started.elapsed();
    std::fs::remove_file(&copy).unwrap();
    let dest = scratch.join("backup");
    let report = tianjian_server::backup::backup_files(database, &scratch, &dest).unwrap();
    let bytes = report.manifest.database_bytes + report.manifest.blob_bytes;
    std::fs::remove_dir_all(&scratch).unwrap();
    (copied, report.elapsed, bytes)
}

/// A member's record as the secretary reads it for review.
enum Written {
    Lecture(Lecture),
    Service(Service),
    Visit(Visit),
}

impl Written {
    fn kind(&self) -> ReviewableKind {
        match self {
            Written::Lecture(_) => ReviewableKind::Lecture,
            Written::Service(_) => ReviewableKind::Service,
            Written::Visit(_) => ReviewableKind::Visit,
        }
    }
}

/// The record `id` of `notebook` as it stands, once submitted.
fn submitted<T: Reviewable>(notebook: &Notebook, id: RecordId) -> Result<T, WriteError> {
    Ok(notebook
        .get::<T>(T::COLLECTION, &id.to_string())?
        .expect("just written"))
}
