//! Benchmarks of whole documents at realistic sizes, without a benchmark framework.
//!
//! Two fixtures are built (untimed): a member's notebook of 1,000 lectures (Chinese titles and
//! summaries of a few hundred characters, 10–20 attendees, one or two JPEG media references,
//! each recorded with `Notebook::record_lecture` and then submitted) and a branch document with
//! 100 members on the roster and 5,000 reviews (`Branch::review`) of lectures in those members'
//! notebooks (the notebooks themselves are not built: a review names a notebook id and a record
//! id). For each it measures the saved size, a full save, a load, one edit followed by
//! `save_incremental` (and the incremental bytes), the server-side validation of the changes
//! that add one more lecture (recorded and submitted) or one more review (made on a second
//! replica, applied to a raw `automerge::Automerge`, then checked with
//! `validate::validate_changes`), and the validation of the whole document. Every timing is the
//! median and minimum over N iterations, N chosen so that each measurement's timed total is
//! about two seconds (capped at about twelve seconds of wall time, untimed setup included).
//!
//! Run with `cargo bench -p client-core --bench documents`. Pass `--quick` (or set
//! `TIANJIAN_BENCH_QUICK=1`) for a smoke run with 100 lectures and 500 reviews:
//! `cargo bench -p client-core --bench documents -- --quick`.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use automerge::Automerge;
use client_core::model::branch::{BranchRole, Decision, RosterEntry};
use client_core::model::common::Gps;
use client_core::model::common::{
    MediaRef, RecordRef, ReviewableKind, Submission, SubmissionState,
};
use client_core::model::notebook::{Lecture, LectureCategory, Venue};
use client_core::ops::ReviewDecision;
use client_core::validate::{self, Context};
use client_core::{
    Branch, BranchId, DocKind, DocumentId, Limits, Millis, Notebook, Principal, RecordId, Role,
    Scope, TownshipId, UserId,
};

/// October 2026, when the fixtures are made.
const START: Millis = Millis(1_793_000_000_000);
/// The timed total each measurement aims for.
const TARGET: Duration = Duration::from_secs(2);
/// The most wall time (including untimed per-iteration setup) a measurement may take.
const WALL_CAP: Duration = Duration::from_secs(12);
const MIN_ITERATIONS: usize = 5;
const MAX_ITERATIONS: usize = 200_000;
const MEMBERS: usize = 100;
const ADMINS: usize = 3;

fn main() {
    let quick = std::env::args().skip(1).any(|a| a == "--quick")
        || std::env::var("TIANJIAN_BENCH_QUICK").is_ok_and(|v| v == "1");
    let (lectures, reviews) = if quick { (100, 500) } else { (1_000, 5_000) };
    println!(
        "Tianjian document benchmarks{} (median and min over N iterations)\n",
        if quick { " (quick)" } else { "" }
    );
    let mut rng = Rng(0x7469_616e_6a69_616e);
    bench_notebook(&mut rng, lectures);
    println!();
    bench_branch(&mut rng, reviews);
}

// ---- the notebook ------------------------------------------------------------------------

fn bench_notebook(rng: &mut Rng, lectures: usize) {
    let name = format!("notebook-{lectures}");
    let branch = BranchId::generate().unwrap();
    let township = TownshipId::generate().unwrap();
    let members: Vec<UserId> = (0..MEMBERS).map(|_| UserId::generate().unwrap()).collect();
    let owner = members[0];
    let me = Principal {
        user: owner,
        role: Role::Member,
        branch: Some(branch),
        township: Some(township),
    };
    let scope = Scope {
        kind: DocKind::Notebook,
        branch,
        township,
        owner: Some(owner),
    };

    let built = Instant::now();
    let mut notebook = Notebook::create(scope, START).unwrap();
    let mut now = START;
    let mut ids = Vec::with_capacity(lectures);
    for _ in 0..lectures {
        now = Millis(now.0 + 3_600_000);
        let id = notebook
            .record_lecture(&me, now, lecture(rng, owner, &members, now))
            .unwrap();
        now = Millis(now.0 + 60_000);
        notebook.submit::<Lecture>(&me, now, id).unwrap();
        ids.push(id);
    }
    let bytes = notebook.document_mut().save();
    eprintln!("built {name} in {:.1} s", built.elapsed().as_secs_f64());
    let scope = *notebook.scope();

    // 1. Size, and the full save.
    row_bytes(&name, "size (save)", bytes.len());
    measure(&name, "save (full)", || {
        let start = Instant::now();
        black_box(notebook.document_mut().save());
        start.elapsed()
    });

    // 2. Load.
    measure(&name, "load", || {
        let start = Instant::now();
        let loaded = Notebook::load(black_box(&bytes), Limits::default()).unwrap();
        let elapsed = start.elapsed();
        drop(black_box(loaded));
        elapsed
    });

    // 3. One edit, then an incremental save.
    let mut replica = Notebook::load(&bytes, Limits::default()).unwrap();
    let mut edit_times = Vec::new();
    let mut incremental_bytes = Vec::new();
    let mut next = 0;
    measure(&name, "save_incremental after edit", || {
        let id = ids[next % ids.len()];
        next += 1;
        now = Millis(now.0 + 60_000);
        let start = Instant::now();
        replica
            .edit_record::<Lecture>(&me, now, id, |l| {
                l.audience += 1;
                l.place.push('村');
                if l.place.chars().count() > 150 {
                    l.place = "村党员活动室".to_owned();
                }
            })
            .unwrap();
        edit_times.push(start.elapsed());
        let start = Instant::now();
        let saved = replica.document_mut().save_incremental();
        let elapsed = start.elapsed();
        incremental_bytes.push(saved.len());
        black_box(saved);
        elapsed
    });
    row_times(&name, "  edit_record (the edit itself)", &mut edit_times);
    row_bytes_median(&name, "  incremental bytes", &mut incremental_bytes);

    // 4. The server validating the changes of one new lecture.
    let mut second = Notebook::load(&bytes, Limits::default()).unwrap();
    let old_heads = second.heads();
    now = Millis(now.0 + 3_600_000);
    let id = second
        .record_lecture(&me, now, lecture(rng, owner, &members, now))
        .unwrap();
    second
        .submit::<Lecture>(&me, Millis(now.0 + 60_000), id)
        .unwrap();
    let changes = second.automerge().get_changes(&old_heads);
    measure_validation(
        &name,
        "validate_changes (1 lecture)",
        &bytes,
        changes,
        scope,
        &me,
    );
}

fn lecture(rng: &mut Rng, owner: UserId, members: &[UserId], now: Millis) -> Lecture {
    let attendees = rng.range(10, 20);
    let mut people: Vec<UserId> = members.to_vec();
    rng.shuffle(&mut people);
    let media = (0..rng.range(1, 2))
        .map(|i| MediaRef {
            sha256: rng.hex(64),
            size: i64::try_from(rng.range(300_000, 4_000_000)).unwrap(),
            media_type: "image/jpeg".to_owned(),
            duration_ms: None,
            caption: (i == 0).then(|| format!("{}现场照片", rng.pick(PLACES))),
        })
        .collect();
    Lecture {
        title: rng.title(),
        category: *rng.pick(LectureCategory::ALL),
        venue: *rng.pick(Venue::ALL),
        held_at: Millis(now.0 - 7_200_000),
        duration_min: i64::try_from(rng.range(20, 90)).unwrap(),
        place: format!("{}{}", rng.pick(VILLAGES), rng.pick(PLACES)),
        gps: Some(Gps {
            lat: 27.5 + rng.unit() * 0.2,
            lon: 111.7 + rng.unit() * 0.2,
            accuracy_m: 5.0 + rng.unit() * 30.0,
        }),
        speakers: vec![owner],
        guest_speaker: None,
        recorded_by: owner,
        attendees: people.into_iter().take(attendees).collect(),
        audience: i64::try_from(rng.range(0, 60)).unwrap(),
        summary: rng.paragraph(200, 400),
        media,
        plan: Some(now.cst_date().month_of()),
        // Set by `record_lecture`.
        submission: Submission::draft(),
        created_at: now,
        withdrawn: None,
    }
}

// ---- the branch --------------------------------------------------------------------------

struct Member {
    user: UserId,
    notebook: DocumentId,
    /// Records in the member's notebook (their lectures), for reviews to point at.
    records: Vec<RecordId>,
}

fn bench_branch(rng: &mut Rng, reviews: usize) {
    let name = format!("branch-{MEMBERS}m-{reviews}r");
    let branch = BranchId::generate().unwrap();
    let township = TownshipId::generate().unwrap();
    let members: Vec<Member> = (0..MEMBERS)
        .map(|i| Member {
            user: UserId::generate().unwrap(),
            notebook: DocumentId::generate().unwrap(),
            records: (0..reviews.div_ceil(MEMBERS))
                .map(|j| {
                    let at = Millis(START.0 - 86_400_000 + i64::try_from(i * 1_000 + j).unwrap());
                    RecordId::generate(at).unwrap()
                })
                .collect(),
        })
        .collect();
    let admins: Vec<Principal> = members[..ADMINS]
        .iter()
        .map(|m| Principal {
            user: m.user,
            role: Role::BranchAdmin,
            branch: Some(branch),
            township: Some(township),
        })
        .collect();
    let scope = Scope {
        kind: DocKind::Branch,
        branch,
        township,
        owner: None,
    };

    let built = Instant::now();
    let mut doc = Branch::create(scope, START).unwrap();
    let mut now = START;
    for (i, member) in members.iter().enumerate() {
        now = Millis(now.0 + 1_000);
        let entry = RosterEntry {
            name: rng.name(),
            role: if i < ADMINS {
                BranchRole::Admin
            } else {
                BranchRole::Member
            },
            notebook: member.notebook,
            joined_at: now,
            left_at: None,
            silver: i % 7 == 0,
            lecturer: false,
        };
        doc.enrol_member(&admins[0], now, member.user, entry)
            .unwrap();
    }
    for i in 0..reviews {
        now = Millis(now.0 + 600_000);
        let (by, decision, read) = review(rng, &members, &admins, i);
        doc.review(by, now, decision, &read).unwrap();
    }
    let bytes = doc.document_mut().save();
    eprintln!("built {name} in {:.1} s", built.elapsed().as_secs_f64());
    let scope = *doc.scope();

    // 1. Size, and the full save.
    row_bytes(&name, "size (save)", bytes.len());
    measure(&name, "save (full)", || {
        let start = Instant::now();
        black_box(doc.document_mut().save());
        start.elapsed()
    });

    // 2. Load.
    measure(&name, "load", || {
        let start = Instant::now();
        let loaded = Branch::load(black_box(&bytes), Limits::default()).unwrap();
        let elapsed = start.elapsed();
        drop(black_box(loaded));
        elapsed
    });

    // 3. One new review, then an incremental save.
    let mut replica = Branch::load(&bytes, Limits::default()).unwrap();
    let mut review_times = Vec::new();
    let mut incremental_bytes = Vec::new();
    let mut next = reviews;
    measure(&name, "save_incremental after review", || {
        now = Millis(now.0 + 600_000);
        let (by, decision, read) = review(rng, &members, &admins, next);
        next += 1;
        let start = Instant::now();
        replica.review(by, now, decision, &read).unwrap();
        review_times.push(start.elapsed());
        let start = Instant::now();
        let saved = replica.document_mut().save_incremental();
        let elapsed = start.elapsed();
        incremental_bytes.push(saved.len());
        black_box(saved);
        elapsed
    });
    row_times(&name, "  review (the edit itself)", &mut review_times);
    row_bytes_median(&name, "  incremental bytes", &mut incremental_bytes);

    // 4. The server validating the changes of one new review.
    let mut second = Branch::load(&bytes, Limits::default()).unwrap();
    let old_heads = second.heads();
    let (by, decision, read) = review(rng, &members, &admins, reviews);
    second
        .review(by, Millis(now.0 + 600_000), decision, &read)
        .unwrap();
    let changes = second.automerge().get_changes(&old_heads);
    measure_validation(
        &name,
        "validate_changes (1 review)",
        &bytes,
        changes,
        scope,
        by,
    );
}

/// 4 and 5: the server applying `changes` to the saved document and validating them, then
/// validating the whole document.
fn measure_validation(
    name: &str,
    label: &str,
    saved: &[u8],
    changes: Vec<automerge::Change>,
    scope: Scope,
    author: &Principal,
) {
    let mut server = Automerge::load(saved).unwrap();
    let before = server.get_heads();
    server.apply_changes(changes).unwrap();
    let ctx = Context {
        scope,
        authors: std::slice::from_ref(author),
        elections: None,
        limits: Limits::default(),
        rules: validate::RULES,
    };
    validate::validate_changes(&server, &before, &ctx).unwrap();
    measure(name, label, || {
        let start = Instant::now();
        black_box(validate::validate_changes(
            black_box(&server),
            &before,
            &ctx,
        ))
        .unwrap();
        start.elapsed()
    });

    // 5. The whole document.
    let whole = Context {
        scope,
        authors: &[],
        elections: None,
        limits: Limits::default(),
        rules: validate::RULES,
    };
    validate::validate_document(&server, &whole).unwrap();
    measure(name, "validate_document", || {
        let start = Instant::now();
        black_box(validate::validate_document(black_box(&server), &whole)).unwrap();
        start.elapsed()
    });
}

/// The `i`th review: of some member's record, by an admin who is not that member. About one
/// in five is returned, with a comment saying why.
fn review<'a>(
    rng: &mut Rng,
    members: &[Member],
    admins: &'a [Principal],
    i: usize,
) -> (&'a Principal, ReviewDecision, Lecture) {
    let member = &members[i % members.len()];
    let record = member.records[(i / members.len()) % member.records.len()];
    let by = admins
        .iter()
        .cycle()
        .skip(i % admins.len())
        .find(|a| a.user != member.user)
        .unwrap();
    let returned = rng.range(0, 4) == 0;
    let comment = if returned {
        format!(
            "{}，请补充{}后重新提交。",
            rng.pick(RETURN_REASONS),
            rng.pick(RETURN_ASKS)
        )
    } else if rng.range(0, 2) == 0 {
        rng.pick(PRAISE).to_string()
    } else {
        String::new()
    };
    let decision = ReviewDecision {
        record: RecordRef {
            notebook: member.notebook,
            kind: ReviewableKind::Lecture,
            id: record,
        },
        revision: i64::try_from(rng.range(1, 3)).unwrap(),
        decision: if returned {
            Decision::Returned
        } else {
            Decision::Approved
        },
        comment,
        publish: !returned && rng.range(0, 9) == 0,
        fine_example: !returned && rng.range(0, 29) == 0,
    };
    // The lecture as the admin read it: an approval copies what it counts.
    let everyone: Vec<UserId> = members.iter().map(|m| m.user).collect();
    let mut read = lecture(rng, member.user, &everyone, START);
    read.submission = Submission {
        state: SubmissionState::Submitted,
        revision: decision.revision,
        submitted_at: Some(START),
    };
    (by, decision, read)
}

// ---- measuring and reporting -------------------------------------------------------------

/// Runs `iteration` (which times its own interesting part and returns that duration) enough
/// times for the timed total to reach [`TARGET`], and prints the median and minimum.
fn measure(fixture: &str, what: &str, mut iteration: impl FnMut() -> Duration) {
    // Warm up (the first run may pay for caches and lazy work), then estimate both the timed
    // and the whole cost of one iteration from a second run.
    iteration();
    let wall = Instant::now();
    let timed = iteration().max(Duration::from_nanos(1));
    let warmup_wall = wall.elapsed();
    let by_target = TARGET.as_nanos() / timed.as_nanos();
    let by_wall = WALL_CAP.as_nanos() / warmup_wall.as_nanos().max(1);
    let n = usize::try_from(by_target.min(by_wall))
        .unwrap_or(MAX_ITERATIONS)
        .clamp(MIN_ITERATIONS, MAX_ITERATIONS);
    let mut times = Vec::with_capacity(n);
    let wall = Instant::now();
    for _ in 0..n {
        times.push(iteration());
        // A first iteration that was unusually fast must not make this run for ever.
        if times.len() >= MIN_ITERATIONS && wall.elapsed() > WALL_CAP {
            break;
        }
    }
    row_times(fixture, what, &mut times);
}

fn row_times(fixture: &str, what: &str, times: &mut [Duration]) {
    times.sort_unstable();
    let median = times[times.len() / 2];
    let min = times[0];
    println!(
        "{fixture:<20} {what:<32} median {:>12}  min {:>12}  (N = {})",
        human(median),
        human(min),
        times.len()
    );
}

fn row_bytes(fixture: &str, what: &str, bytes: usize) {
    println!("{fixture:<20} {what:<32} {:>19}", size(bytes));
}

fn row_bytes_median(fixture: &str, what: &str, bytes: &mut [usize]) {
    bytes.sort_unstable();
    println!(
        "{fixture:<20} {what:<32} median {:>12}  min {:>12}",
        size(bytes[bytes.len() / 2]),
        size(bytes[0])
    );
}

fn human(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 10_000 {
        format!("{ns} ns")
    } else if ns < 10_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else if ns < 10_000_000_000 {
        format!("{:.1} ms", ns as f64 / 1e6)
    } else {
        format!("{:.2} s", ns as f64 / 1e9)
    }
}

fn size(bytes: usize) -> String {
    if bytes < 10_000 {
        format!("{bytes} B")
    } else {
        format!("{bytes} B ({:.1} KiB)", bytes as f64 / 1024.0)
    }
}

// ---- deterministic fake content ----------------------------------------------------------

/// xorshift64*: reproducible content without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        let span = u64::try_from(hi - lo + 1).unwrap();
        lo + usize::try_from(self.next() % span).unwrap()
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() - 1)]
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.range(0, i));
        }
    }

    fn hex(&mut self, digits: usize) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        (0..digits)
            .map(|_| char::from(HEX[self.range(0, 15)]))
            .collect()
    }

    fn title(&mut self) -> String {
        format!(
            "{}：{}{}",
            self.pick(TOPICS),
            self.pick(TITLE_ANGLES),
            self.pick(TITLE_ENDS)
        )
    }

    fn name(&mut self) -> String {
        format!("{}{}", self.pick(SURNAMES), self.pick(GIVEN_NAMES))
    }

    /// Sentences until the text has between `min` and `max` characters.
    fn paragraph(&mut self, min: usize, max: usize) -> String {
        let target = self.range(min, max);
        let mut text = String::new();
        let mut chars = 0;
        while chars < target {
            let sentence = self.pick(SENTENCES);
            chars += sentence.chars().count();
            text.push_str(sentence);
        }
        text.chars().take(max).collect()
    }
}

const TOPICS: &[&str] = &[
    "学习贯彻党的二十大精神",
    "乡村振兴战略",
    "基层党组织建设",
    "党风廉政建设",
    "人居环境整治",
    "秸秆禁烧与森林防火",
    "农业技术推广",
    "新时代文明实践",
    "红色家风传承",
    "村级集体经济发展",
];

const TITLE_ANGLES: &[&str] = &[
    "从田间地头谈",
    "结合本村实际谈",
    "老党员讲",
    "用身边事说",
    "围绕产业发展谈",
];

const TITLE_ENDS: &[&str] = &["微党课", "学习体会", "屋场会分享", "田间课堂", "专题讲座"];

const SENTENCES: &[&str] = &[
    "本次微党课围绕党的创新理论，结合村里近年来的发展变化展开讲解。",
    "讲课人以自己参加抗洪救灾的亲身经历，讲述了共产党员冲锋在前的责任担当。",
    "大家一致认为，要把学习成果转化为推动乡村振兴的实际行动。",
    "会上还就今年的油茶种植和水稻病虫害防治进行了交流。",
    "部分年纪较大的党员行动不便，支部安排专人上门送学。",
    "群众代表发言，希望党员在人居环境整治中带头示范。",
    "讲课结束后，党员们围绕如何发展村级集体经济展开了热烈讨论。",
    "支部书记对下一阶段的森林防火巡逻和秸秆禁烧工作作了具体安排。",
    "通过讲身边人、身边事，进一步增强了党员的宗旨意识和服务意识。",
    "与会党员重温了入党誓词，表示要立足岗位、为民服务。",
    "本次活动采用屋场会的形式，群众参与度高，效果良好。",
    "会后党员志愿者对村道两侧的垃圾进行了集中清理。",
];

const VILLAGES: &[&str] = &["枫林村", "石门村", "荷塘村", "青山村", "大坪村", "柳溪村"];

const PLACES: &[&str] = &[
    "党员活动室",
    "村部会议室",
    "文化广场",
    "油茶基地",
    "晒谷坪",
    "村小学",
];

const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "黄", "周", "吴", "彭"];

const GIVEN_NAMES: &[&str] = &[
    "建国", "秀英", "志强", "桂兰", "德明", "玉梅", "光辉", "春花", "国平", "小军",
];

const RETURN_REASONS: &[&str] = &[
    "现场照片不清晰",
    "参加人员名单与签到表不一致",
    "内容摘要过于简略",
    "未注明所属月度计划",
    "讲课时长与实际不符",
];

const RETURN_ASKS: &[&str] = &["现场照片", "签到名单", "学习心得", "活动小结"];

const PRAISE: &[&str] = &[
    "内容充实，联系实际，值得推广。",
    "形式新颖，群众反响好。",
    "材料齐全，同意。",
];
