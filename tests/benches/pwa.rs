//! What the web app costs a phone, in headless Chromium against our server on loopback: the
//! bytes of a first visit (gzipped, as the server sends them), and the time from navigation
//! to an interactive home screen offline, against the time the service worker takes to hand
//! over the page itself, in the same run. The person signing in is the demo's 李章桂, whose
//! home shows his branch's lectures.
//!
//! Then the secretary's phone with a year of 合益村's records on it (every month's plan,
//! lectures, services and visits of four members, all approved; a screening, a themed party
//! day and rectifications each month): the time to open the month's plan checklist and the
//! problem list, against the time to show home, in the same run.
//!
//! Then the member's forms (lecture, video lesson, service, visit) for an old hand: taps to a
//! record sent for review, and how tall each form is, in normal and in large type.
//!
//!     cargo xtask build-pwa && cargo bench -p tianjian-tests --bench pwa -- [--runs 10] [--dist PATH] [first-visit] [forms] [year]

// A benchmark that cannot set itself up has nothing to report: panicking says why.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Duration;

use client_core::model::branch::{Decision, Meeting, MeetingKind, Plan, Rectification, Screening};
use client_core::model::common::{Progress, ProgressStatus, Prose, RecordRef, Submission};
use client_core::model::notebook::{
    Lecture, LectureCategory, Service, ServiceKind, Venue, Visit, VisitKind,
};
use client_core::ops::{ReviewDecision, Reviewable};
use client_core::{Millis, Month, Notebook, Principal, RecordId};
use tianjian_server::auth::Settings;
use tianjian_server::demo::DemoPerson;
use tianjian_server::store::Store;
use tianjian_server::writer::{WriteError, Writer};
use tianjian_server::{AppState, Config, demo};
use tianjian_tests::TestServer;
use tianjian_tests::browser;
use tianjian_tests::fixture::config;

/// What the command line asks: `--runs N` (10), `--dist PATH` (the app's build to measure,
/// `pwa/dist` by default: a baseline's build measures the same way), and the parts to run
/// (`first-visit`, `forms`, `year`), all when none is named.
struct Options {
    runs: usize,
    dist: PathBuf,
    parts: Vec<String>,
}

impl Options {
    fn parse() -> Options {
        let mut options = Options {
            runs: 10,
            dist: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../pwa/dist"),
            parts: Vec::new(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--runs" => options.runs = args.next().and_then(|v| v.parse().ok()).unwrap(),
                "--dist" => options.dist = args.next().map(PathBuf::from).unwrap(),
                // What cargo passes to every bench binary.
                "--bench" => {}
                part => options.parts.push(part.to_owned()),
            }
        }
        assert!(
            options.dist.join("index.html").is_file(),
            "no app in {}: run `cargo xtask build-pwa` first",
            options.dist.display()
        );
        options
    }

    fn runs_part(&self, part: &str) -> bool {
        self.parts.is_empty() || self.parts.iter().any(|p| p == part)
    }
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tianjian.sqlite3")).unwrap();
    let people = demo::load(&store, tianjian_server::now())
        .await
        .unwrap()
        .unwrap();
    let config = || Config {
        web_dir: Some(options.dist.clone()),
        ..config(Settings::default())
    };
    if options.runs_part("first-visit") {
        let state = AppState::open(store.clone(), config()).await.unwrap();
        let server = TestServer::start_with(state).await.unwrap();
        first_visit(
            &server,
            &invite(&store, &people, "李章桂").await,
            options.runs,
        )
        .await;
        server.stop().await.unwrap();
    }
    if options.runs_part("forms") {
        let state = AppState::open(store.clone(), config()).await.unwrap();
        let server = TestServer::start_with(state).await.unwrap();
        forms(&server, &invite(&store, &people, "李章桂").await).await;
        server.stop().await.unwrap();
    }
    if options.runs_part("year") {
        // The secretary's phone with a year of records: written before a server starts
        // over them, as if the phones had sent them over the year.
        let written = a_year_of_records(&store, &people, tianjian_server::now()).await;
        let state = AppState::open(store.clone(), config()).await.unwrap();
        let server = TestServer::start_with(state).await.unwrap();
        let secretary = invite(&store, &people, "曾国平").await;
        year_screens(&server, &secretary, written, options.runs).await;
        server.stop().await.unwrap();
    }
}

/// An invite code for the demo person called `name`.
async fn invite(store: &Store, people: &[DemoPerson], name: &str) -> String {
    let person = people.iter().find(|p| p.user.name == name).unwrap();
    tianjian_server::auth::issue_invite(
        store,
        &person.principal,
        &person.user,
        Duration::from_secs(3600),
        tianjian_server::now(),
    )
    .await
    .unwrap()
    .code
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The bytes of a first visit and the time to an interactive home offline, for 李章桂.
async fn first_visit(server: &TestServer, code: &str, runs: usize) {
    let measured = browser::run_json(
        "measure-app.mjs",
        vec![
            format!("http://{}", server.addr),
            code.to_owned(),
            runs.to_string(),
        ],
        Duration::from_secs(600),
    )
    .await;

    println!("first visit, as sent (gzip) and as used:");
    let files = measured["firstVisit"]["files"].as_array().unwrap();
    for file in files {
        println!(
            "  {:<48} {:>9} B  {:>9} B",
            file["name"].as_str().unwrap(),
            file["encoded"],
            file["decoded"]
        );
    }
    let kib = |v: &serde_json::Value| v.as_f64().unwrap() / 1024.0;
    println!(
        "  {:<48} {:>7.0} KiB  {:>7.0} KiB",
        "total",
        kib(&measured["firstVisit"]["encoded"]),
        kib(&measured["firstVisit"]["decoded"])
    );

    let mut shell: Vec<f64> = Vec::new();
    let mut home: Vec<f64> = Vec::new();
    for run in measured["offline"].as_array().unwrap() {
        shell.push(run["shell"].as_f64().unwrap());
        home.push(run["home"].as_f64().unwrap());
    }
    let (shell, home) = (median(&mut shell), median(&mut home));
    println!("offline start, median of {runs}:");
    println!("  the page from the service worker (DOMContentLoaded): {shell:.0} ms");
    println!("  home screen with the records:                        {home:.0} ms");
    println!("  ratio: {:.1} ×", home / shell);
}

/// The member's forms for 李章桂, in normal and large type: taps from home to a record sent
/// for review, the form's height as it opens, the fields it shows, and what is clipped.
async fn forms(server: &TestServer, code: &str) {
    let measured = browser::run_json(
        "measure-forms.mjs",
        vec![format!("http://{}", server.addr), code.to_owned()],
        Duration::from_secs(600),
    )
    .await;
    println!("the member's forms at 360×740, from home to submitted:");
    println!("  form     type    taps  typed  height   screens  fields  clipped");
    for form in measured["forms"].as_array().unwrap() {
        let number = |name: &str| form[name].as_f64().unwrap();
        println!(
            "  {:<8} {:<7} {:>4}  {:>5}  {:>5} px  {:>7.1}  {:>6}  {}",
            form["form"].as_str().unwrap(),
            form["type"].as_str().unwrap(),
            number("taps"),
            number("typed"),
            number("height"),
            number("screens"),
            number("fields"),
            form["clipped"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
}

/// The secretary's phone with a year of 合益村's records: the plan checklist and the problem
/// list against home.
async fn year_screens(server: &TestServer, code: &str, written: usize, runs: usize) {
    let measured = browser::run_json(
        "measure-screens.mjs",
        vec![
            format!("http://{}", server.addr),
            code.to_owned(),
            runs.to_string(),
        ],
        Duration::from_secs(900),
    )
    .await;
    let times = |name: &str| {
        let mut values: Vec<f64> = measured[name]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        median(&mut values)
    };
    let (home, plan, problems) = (times("home"), times("plan"), times("problems"));
    println!("the secretary's phone with a year of 合益村 ({written} records), median of {runs}:");
    println!("  home screen:                  {home:.0} ms   1.0");
    println!(
        "  the month's plan checklist:   {plan:.0} ms   {:.1}",
        plan / home
    );
    println!(
        "  the problem list:             {problems:.0} ms   {:.1}",
        problems / home
    );
}

const DAY: i64 = 86_400_000;

/// Writes a year of 合益村's organisational life before `now`, as its people would have:
/// returns how many records it wrote.
async fn a_year_of_records(store: &Store, people: &[DemoPerson], now: Millis) -> usize {
    let person = |name: &str| people.iter().find(|p| p.user.name == name).unwrap();
    let secretary = &person("曾国平").principal;
    let branch = store
        .branch(secretary.branch.unwrap())
        .await
        .unwrap()
        .unwrap()
        .branch_document;
    let members = ["李章桂", "赵杰辉", "李秋云", "曾德福"].map(person);
    let mut written = 0;
    let this_month = now.cst_date().month_of();
    let mut month = this_month;
    for _ in 0..12 {
        month = month.previous();
    }
    while month < this_month {
        let start = month.first_day().cst_start().0;
        let day = |n: i64| Millis(start + n * DAY + 10 * 3_600_000);
        let w = Writer::new(store, day(27));
        let mut approvals: Vec<(DocumentRecord, Principal)> = Vec::new();
        for (index, member) in members.iter().enumerate() {
            let who = &member.principal;
            let notebook = member.user.notebook_document.unwrap();
            let ids = w
                .notebook(notebook, who, |n| {
                    let mut ids = Vec::new();
                    for k in 0..6 {
                        let at = day(1 + k * 4 + index as i64);
                        let lecture = Lecture {
                            plan: (k == 0 && index == 0).then_some(month),
                            ..lecture(who, at, &members)
                        };
                        let id = n.record_lecture(who, at, lecture)?;
                        ids.push(DocumentRecord::Lecture(notebook, id));
                    }
                    for k in 0..2 {
                        let at = day(3 + k * 10 + index as i64);
                        let service = Service {
                            plan: (k == 0 && index == 0).then_some(month),
                            ..service(who, at, &members)
                        };
                        ids.push(DocumentRecord::Service(
                            notebook,
                            n.record_service(who, at, service)?,
                        ));
                    }
                    for k in 0..4 {
                        let at = day(2 + k * 6 + index as i64);
                        ids.push(DocumentRecord::Visit(
                            notebook,
                            n.record_visit(who, at, visit(who, at, k))?,
                        ));
                    }
                    for record in &ids {
                        record.submit(n, who, day(26))?;
                    }
                    Ok::<_, WriteError>(ids)
                })
                .await
                .unwrap();
            written += ids.len();
            approvals.extend(ids.into_iter().map(|id| (id, who.clone())));
        }
        // The secretary reads each in its notebook and approves it.
        let mut read = Vec::new();
        for (record, _) in &approvals {
            read.push(record.read(&w).await);
        }
        w.branch(branch, secretary, |b| {
            b.set_plan(secretary, day(0), month, plan(secretary))?;
            for read in &read {
                read.approve(b, secretary, day(27))?;
            }
            b.record_screening(secretary, day(12), screening(secretary, day(12), month))?;
            b.record_meeting(
                secretary,
                day(14),
                theme_day(secretary, day(14), month, &members),
            )?;
            for k in 0..4 {
                let id =
                    b.open_rectification(secretary, day(k * 5), rectification(secretary, k))?;
                // Older months' problems are done and verified; this year's last ones are open.
                if k < 3 {
                    b.advance_rectification(
                        secretary,
                        day(k * 5 + 2),
                        id,
                        ProgressStatus::InProgress,
                        None,
                    )?;
                    b.advance_rectification(
                        secretary,
                        day(k * 5 + 4),
                        id,
                        ProgressStatus::Done,
                        None,
                    )?;
                }
                if k < 2 {
                    b.advance_rectification(
                        secretary,
                        day(k * 5 + 5),
                        id,
                        ProgressStatus::Verified,
                        None,
                    )?;
                }
            }
            Ok::<_, WriteError>(())
        })
        .await
        .unwrap();
        written += approvals.len() + 7;
        month = month.next();
    }
    written
}

/// A member's record of a year of records, by kind.
enum DocumentRecord {
    Lecture(client_core::DocumentId, RecordId),
    Service(client_core::DocumentId, RecordId),
    Visit(client_core::DocumentId, RecordId),
}

/// A member's record as the secretary read it.
enum Read {
    Lecture(RecordRef, Lecture),
    Service(RecordRef, Service),
    Visit(RecordRef, Visit),
}

impl DocumentRecord {
    fn submit(&self, n: &mut Notebook, who: &Principal, at: Millis) -> Result<i64, WriteError> {
        Ok(match *self {
            DocumentRecord::Lecture(_, id) => n.submit::<Lecture>(who, at, id),
            DocumentRecord::Service(_, id) => n.submit::<Service>(who, at, id),
            DocumentRecord::Visit(_, id) => n.submit::<Visit>(who, at, id),
        }?)
    }

    async fn read(&self, w: &Writer<'_>) -> Read {
        async fn get<T: Reviewable>(
            w: &Writer<'_>,
            notebook: client_core::DocumentId,
            id: RecordId,
        ) -> (RecordRef, T) {
            let record = w.record::<T>(notebook, id).await.unwrap();
            (
                RecordRef {
                    notebook,
                    kind: T::KIND,
                    id,
                },
                record,
            )
        }
        match *self {
            DocumentRecord::Lecture(notebook, id) => {
                let (r, l) = get(w, notebook, id).await;
                Read::Lecture(r, l)
            }
            DocumentRecord::Service(notebook, id) => {
                let (r, s) = get(w, notebook, id).await;
                Read::Service(r, s)
            }
            DocumentRecord::Visit(notebook, id) => {
                let (r, v) = get(w, notebook, id).await;
                Read::Visit(r, v)
            }
        }
    }
}

impl Read {
    fn approve(
        &self,
        b: &mut client_core::Branch,
        by: &Principal,
        at: Millis,
    ) -> Result<RecordId, WriteError> {
        let decision = |record: RecordRef| ReviewDecision {
            record,
            revision: 1,
            decision: Decision::Approved,
            comment: String::new(),
            publish: false,
            fine_example: false,
        };
        Ok(match self {
            Read::Lecture(r, l) => b.review(by, at, decision(*r), l),
            Read::Service(r, s) => b.review(by, at, decision(*r), s),
            Read::Visit(r, v) => b.review(by, at, decision(*r), v),
        }?)
    }
}

fn lecture(who: &Principal, at: Millis, members: &[&DemoPerson]) -> Lecture {
    Lecture {
        title: "忆扶贫故事、做合格党员、推乡村振兴".into(),
        category: LectureCategory::PoliticalTheory,
        venue: Venue::Courtyard,
        held_at: at,
        duration_min: 30,
        place: "合益村屋场坪".into(),
        gps: None,
        speakers: vec![who.user],
        guest_speaker: None,
        recorded_by: who.user,
        attendees: members.iter().map(|m| m.principal.user).collect(),
        audience: 25,
        summary: "结合自己的经历讲身份意识、宗旨意识、服务意识，群众提了产业发展的问题。".into(),
        media: Vec::new(),
        plan: None,
        submission: Submission::draft(),
        created_at: at,
        withdrawn: None,
    }
}

fn service(who: &Principal, at: Millis, members: &[&DemoPerson]) -> Service {
    Service {
        kind: ServiceKind::Patrol,
        title: "秸秆禁烧巡逻".into(),
        held_at: at,
        hours: 2.5,
        participants: members.iter().map(|m| m.principal.user).collect(),
        beneficiaries: 0,
        place: "合益村".into(),
        notes: String::new(),
        media: Vec::new(),
        plan: None,
        recorded_by: who.user,
        submission: Submission::draft(),
        created_at: at,
        withdrawn: None,
    }
}

fn visit(who: &Principal, at: Millis, household: i64) -> Visit {
    Visit {
        kind: VisitKind::Walk,
        household: format!("合益村{}组 联系户", household + 1),
        visitors: vec![who.user],
        visited_at: at,
        needs: "了解产业发展和看病难的问题。".into(),
        follow_up: "下月再访。".into(),
        media: Vec::new(),
        recorded_by: who.user,
        submission: Submission::draft(),
        created_at: at,
        withdrawn: None,
    }
}

fn plan(by: &Principal) -> Plan {
    Plan {
        lecture_topic: "忆扶贫故事、做合格党员、推乡村振兴".into(),
        lecture_speaker: None,
        film_title: "《榜样9》".into(),
        practice: "秸秆禁烧巡逻".into(),
        theme_day: None,
        notes: Prose::default(),
        created_by: by.user,
        created_at: Millis(0),
        withdrawn: None,
    }
}

fn screening(by: &Principal, at: Millis, month: Month) -> Screening {
    Screening {
        film: "《榜样9》".into(),
        held_at: at,
        place: "党员活动室".into(),
        attendees: vec![by.user],
        audience: 18,
        discussion: "看完谈心得。".into(),
        media: Vec::new(),
        plan: Some(month),
        recorded_by: by.user,
        created_at: at,
        withdrawn: None,
    }
}

fn theme_day(by: &Principal, at: Millis, month: Month, members: &[&DemoPerson]) -> Meeting {
    Meeting {
        kind: MeetingKind::ThemeDay,
        held_at: at,
        attendees: members.iter().map(|m| m.principal.user).collect(),
        agenda: "重温入党誓词".into(),
        minutes: Prose::from("书记领学，党员逐一谈体会。"),
        decisions: vec!["本月完成秸秆禁烧巡逻排班".into()],
        plan: Some(month),
        recorded_by: by.user,
        created_at: at,
        withdrawn: None,
    }
}

fn rectification(by: &Principal, k: i64) -> Rectification {
    Rectification {
        problem: format!("走访发现的问题 {}", k + 1),
        measure: "党员上门帮办".into(),
        deadline: Millis(tianjian_server::now().0 + (k - 2) * 10 * DAY).cst_date(),
        standard: "群众满意".into(),
        responsible: Some(by.user),
        from_visit: None,
        from_supervision: None,
        progress: Progress::default(),
        evidence: Vec::new(),
        created_by: by.user,
        created_at: Millis(0),
        withdrawn: None,
    }
}
