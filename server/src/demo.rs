//! The demo township, from the seed articles: 周官桥乡 with 合益村, 三联村 and 双桥村, their
//! people, and a few weeks of their organisational life, loaded into an empty database by
//! `tianjian demo` (which `cargo xtask run` calls).
//!
//! Everything is written the way the people themselves would write it: each member's records
//! by that member's own actor in their own notebook, each review by the secretary in the
//! branch document, all through client-core's operations, so the demo passes every check a
//! real phone's changes pass. The secretaries' names are invented; the seeds do not give them.

use client_core::model::branch::{
    Candidate, Decision, Election, Meeting, MeetingKind, Plan, Rectification, RosterEntry,
    ScheduleEntry, Screening,
};
use client_core::model::common::{
    Progress, Prose, RecordRef, ReviewableKind, Submission, SubmissionState,
};
use client_core::model::ledger::{Contact, ContactKind, LedgerEntry};
use client_core::model::notebook::{
    Lecture, LectureCategory, Pledge, Service, ServiceKind, Venue, Visit, VisitKind,
};
use client_core::model::supervision::{Problem, SupervisionMethod, SupervisionNote};
use client_core::ops::{ReviewDecision, Reviewable};
use client_core::{
    Branch, DocumentId, Ledger, Millis, Month, Notebook, OpError, Principal, RecordId, Role,
    Supervision, UserId,
};

use crate::admin::{AdminError, NewUser, Organisation};
use crate::store::{BranchRecord, Store, UserRecord};
use crate::writer::{WriteError, Writer};

/// The password every demo account signs in with, with its phone number.
pub const PASSWORD: &str = "tianjian-demo";

const DAY: i64 = 86_400_000;

/// Why the demo could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("demo record refused: {0}")]
    Op(Box<OpError>),
    #[error("demo document: {0}")]
    Document(String),
    #[error(transparent)]
    Write(#[from] WriteError),
}

pub type Result<T, E = DemoError> = std::result::Result<T, E>;

// Boxed: Automerge's errors are large, and these travel through every `Result` here.
impl From<OpError> for DemoError {
    fn from(error: OpError) -> Self {
        DemoError::Op(Box::new(error))
    }
}

/// A person of the demo, with how to sign in as them.
#[derive(Debug, Clone)]
pub struct DemoPerson {
    pub user: UserRecord,
    pub principal: Principal,
    /// Who they are in the story, for the list printed at start.
    pub part: &'static str,
    /// Whether `tianjian demo` prints an invite link for them.
    pub invite: bool,
}

impl DemoPerson {
    fn new(user: UserRecord, part: &Part) -> DemoPerson {
        DemoPerson {
            principal: user.principal(),
            user,
            part: part.part,
            invite: part.invite,
        }
    }
}

const BRANCHES: [&str; 3] = ["合益村", "三联村", "双桥村"];

/// One person of the story.
struct Part {
    name: &'static str,
    role: Role,
    branch: Option<&'static str>,
    part: &'static str,
    invite: bool,
}

const fn part(
    name: &'static str,
    role: Role,
    branch: Option<&'static str>,
    part: &'static str,
    invite: bool,
) -> Part {
    Part {
        name,
        role,
        branch,
        part,
        invite,
    }
}

/// The people of the demo, in the order of their phone numbers.
const CAST: [Part; 12] = [
    part("王敏", Role::TownshipAdmin, None, "周官桥乡组织委员", true),
    part(
        "曾国平",
        Role::BranchAdmin,
        Some("合益村"),
        "合益村支部书记",
        true,
    ),
    part(
        "李章桂",
        Role::Member,
        Some("合益村"),
        "合益村党员，屋场坪讲党课",
        true,
    ),
    part(
        "赵杰辉",
        Role::Member,
        Some("合益村"),
        "合益村邻长，联系11户群众",
        false,
    ),
    part("李秋云", Role::Member, Some("合益村"), "合益村党员", false),
    part(
        "曾德福",
        Role::Member,
        Some("合益村"),
        "合益村银发党员",
        false,
    ),
    part(
        "彭建华",
        Role::BranchAdmin,
        Some("三联村"),
        "三联村支部书记",
        false,
    ),
    part(
        "彭军",
        Role::Member,
        Some("三联村"),
        "三联村青年党员，致富带头人",
        false,
    ),
    part(
        "刘国强",
        Role::BranchAdmin,
        Some("双桥村"),
        "双桥村支部书记",
        true,
    ),
    part(
        "贺俊爱",
        Role::Member,
        Some("双桥村"),
        "双桥村流动党员，在广东务工",
        true,
    ),
    part("刘岳云", Role::Member, Some("双桥村"), "双桥村党员", false),
    part("贺立雄", Role::Member, Some("双桥村"), "双桥村党员", false),
];

/// The phone number of the demo's `index`th person.
fn phone(index: usize) -> String {
    format!("138000000{:02}", index + 1)
}

/// The demo's people, if this database holds the demo (and nothing else), else none.
pub async fn people(store: &Store) -> Result<Vec<DemoPerson>> {
    let mut people = Vec::new();
    for (index, part) in CAST.iter().enumerate() {
        let Some((id, _)) = store.credentials(phone(index)).await? else {
            return Ok(Vec::new());
        };
        match store.user(id).await? {
            Some(user) if user.name == part.name => people.push(DemoPerson::new(user, part)),
            _ => return Ok(Vec::new()),
        }
    }
    Ok(people)
}

/// Loads the demo into an empty database. Returns `None`, changing nothing, if the database
/// already has a township: the demo never mixes with real data.
pub async fn load(store: &Store, now: Millis) -> Result<Option<Vec<DemoPerson>>> {
    if !store.townships().await?.is_empty() {
        return Ok(None);
    }
    let org = Organisation { store, hub: None };
    let township = org.township("周官桥乡").await?;
    let since = Millis(now.0 - 60 * DAY);
    let mut branches = Vec::new();
    for name in BRANCHES {
        branches.push(org.create_branch(township, name, since).await?);
    }
    let mut people = Vec::new();
    for (index, part) in CAST.iter().enumerate() {
        let branch = part
            .branch
            .and_then(|name| branches.iter().find(|b| b.name == name));
        let user = org
            .create_user(
                NewUser {
                    name: part.name.into(),
                    role: part.role,
                    township,
                    branch: branch.map(|b| b.id),
                    phone: Some(phone(index)),
                    password: Some(PASSWORD.into()),
                },
                since,
            )
            .await?;
        people.push(DemoPerson::new(user, part));
    }
    let find = |name: &str| {
        people
            .iter()
            .find(|p| p.user.name == name)
            .cloned()
            .ok_or_else(|| DemoError::Document(format!("{name} is not in the cast")))
    };
    let [heyi, sanlian, shuangqiao] = [0, 1, 2].map(|i| branches[i].clone());
    let heyi_secretary = find("曾国平")?;
    let li = find("李章桂")?;
    let zhao = find("赵杰辉")?;
    let heyi_members = [find("李秋云")?, find("曾德福")?];
    let sanlian_secretary = find("彭建华")?;
    let peng = find("彭军")?;
    let shuangqiao_secretary = find("刘国强")?;
    let he = find("贺俊爱")?;
    let liu = find("刘岳云")?;
    let he_lixiong = find("贺立雄")?;

    let w = Story {
        writer: Writer::new(store, now),
    };
    let month: Month = now.cst_date().month_of();
    for (branch, secretary, topic, practice) in [
        (
            &heyi,
            &heyi_secretary,
            "忆扶贫故事、做合格党员、推乡村振兴",
            "秸秆禁烧巡逻",
        ),
        (
            &sanlian,
            &sanlian_secretary,
            "回乡创业与带头致富",
            "村道卫生清理",
        ),
        (
            &shuangqiao,
            &shuangqiao_secretary,
            "流动党员微感悟：学习党的二十大精神",
            "重阳节慰问老人",
        ),
    ] {
        w.branch(branch, &secretary.principal, |b| {
            b.set_plan(
                &secretary.principal,
                w.ago(20),
                month,
                Plan {
                    lecture_topic: topic.into(),
                    lecture_speaker: None,
                    film_title: "《榜样9》".into(),
                    practice: practice.into(),
                    theme_day: None,
                    notes: Prose::default(),
                    created_by: secretary.principal.user,
                    created_at: w.ago(20),
                    withdrawn: None,
                },
            )?;
            b.record_screening(
                &secretary.principal,
                w.in_month(6),
                Screening {
                    film: "《榜样9》".into(),
                    held_at: w.in_month(6),
                    place: "党员活动室".into(),
                    attendees: Vec::new(),
                    audience: 18,
                    discussion: "看完大家谈心得：做好本职，带头服务群众。".into(),
                    media: Vec::new(),
                    plan: Some(month),
                    recorded_by: secretary.principal.user,
                    created_at: w.in_month(6),
                    withdrawn: None,
                },
            )
            .map(|_| ())
            .map_err(DemoError::from)
        })
        .await?;
    }

    // 李章桂's lecture at the 屋场坪, approved and published for the branch.
    let attendees: Vec<UserId> = [&zhao, &heyi_members[0], &heyi_members[1], &heyi_secretary]
        .iter()
        .map(|p| p.principal.user)
        .collect();
    let li_lecture = w
        .notebook(&li, |n| {
            let id = n.record_lecture(
                &li.principal,
                w.in_month(9),
                Lecture {
                    // The month's planned lecture (一课).
                    plan: Some(month),
                    ..lecture(&li, "忆扶贫故事、做合格党员、推乡村振兴", Venue::Courtyard, "合益村屋场坪", w.in_month(9), &attendees, 30,
                        "结合自己参与扶贫的经历，讲身份意识、宗旨意识、服务意识；群众提了三个关于产业的问题。")
                },
            )?;
            n.submit::<Lecture>(&li.principal, w.in_month(9), id)?;
            Ok(id)
        })
        .await?;
    w.approve::<Lecture>(&heyi, &heyi_secretary, &li, li_lecture, true)
        .await?;

    // 赵杰辉 visits the households he looks after.
    let mut zhao_visits = Vec::new();
    for (days, household, needs) in [
        (
            12,
            "合益村5组 李大爷家",
            "独居老人，想了解高龄补贴怎么申请；帮忙晒被子、打扫卫生。",
        ),
        (
            5,
            "合益村3组 王奶奶家",
            "留守老人，电话打不通儿子，帮她拨了视频电话。",
        ),
    ] {
        let visit = w
            .notebook(&zhao, |n| {
                let id = n.record_visit(
                    &zhao.principal,
                    w.ago(days),
                    Visit {
                        kind: VisitKind::Walk,
                        household: household.into(),
                        visitors: vec![zhao.principal.user],
                        visited_at: w.ago(days),
                        needs: needs.into(),
                        follow_up: "下周再去看看。".into(),
                        media: Vec::new(),
                        recorded_by: zhao.principal.user,
                        submission: Submission::draft(),
                        created_at: w.ago(days),
                        withdrawn: None,
                    },
                )?;
                n.submit::<Visit>(&zhao.principal, w.ago(days), id)?;
                Ok(id)
            })
            .await?;
        w.approve::<Visit>(&heyi, &heyi_secretary, &zhao, visit, false)
            .await?;
        zhao_visits.push(visit);
    }

    // 彭军's lecture to 三联村, waiting for review.
    w.notebook(&peng, |n| {
        let id = n.record_lecture(
            &peng.principal,
            w.ago(3),
            lecture(
                &peng,
                "回乡创业的心路历程",
                Venue::ActivityRoom,
                "三联村党员活动室",
                w.ago(3),
                &[],
                25,
                "结合回乡创业经历，讲入党以来的心路历程，承诺带领大家共同致富。",
            ),
        )?;
        n.submit::<Lecture>(&peng.principal, w.ago(3), id)?;
        Ok(id)
    })
    .await?;

    // 双桥村 at 重阳节: a visit to the elderly, approved.
    let service = w
        .notebook(&liu, |n| {
            let id = n.record_service(
                &liu.principal,
                w.in_month(15),
                Service {
                    kind: ServiceKind::ElderlyCare,
                    title: "重阳节为全村老人赠送慰问物资".into(),
                    held_at: w.in_month(15),
                    hours: 3.0,
                    participants: vec![liu.principal.user, he_lixiong.principal.user],
                    beneficiaries: 46,
                    place: "双桥村".into(),
                    notes: "送去米、油和牛奶，陪老人拉家常。".into(),
                    media: Vec::new(),
                    plan: Some(month),
                    recorded_by: liu.principal.user,
                    submission: Submission::draft(),
                    created_at: w.in_month(15),
                    withdrawn: None,
                },
            )?;
            n.submit::<Service>(&liu.principal, w.in_month(15), id)?;
            Ok(id)
        })
        .await?;
    w.approve::<Service>(&shuangqiao, &shuangqiao_secretary, &liu, service, false)
        .await?;

    // 贺俊爱's micro-lesson from Guangdong, returned with a comment for her to redo.
    let lesson = w
        .notebook(&he, |n| {
            let id = n.record_lecture(
                &he.principal,
                w.ago(4),
                lecture(
                    &he,
                    "在外务工不忘党员身份",
                    Venue::Remote,
                    "广东东莞",
                    w.ago(4),
                    &[],
                    0,
                    "讲在工厂里带头遵守纪律、帮助同乡的体会。",
                ),
            )?;
            n.submit::<Lecture>(&he.principal, w.ago(4), id)?;
            Ok(id)
        })
        .await?;
    let (source, read) = w.read::<Lecture>(&he, lesson).await?;
    w.branch(&shuangqiao, &shuangqiao_secretary.principal, |b| {
        b.review(
            &shuangqiao_secretary.principal,
            w.ago(2),
            ReviewDecision {
                record: source,
                revision: 1,
                decision: Decision::Returned,
                comment: "内容很好，请再结合党的二十大精神谈一谈，重新录一段发回来。".into(),
                publish: false,
                fine_example: false,
            },
            &read,
        )
        .map(|_| ())
        .map_err(DemoError::from)
    })
    .await?;

    // 合益村's members pledge publicly for the year (党员公开承诺) as 湖中村's did; the
    // secretary has put two on the wall and has 李秋云's still to publish.
    let year = i64::from(now.cst_date().year);
    for (person, commitments, on_wall) in [
        (
            &li,
            &[
                "带头学习宣传党的政策，每月在屋场坪讲一次微党课",
                "带头遵守村规民约",
            ][..],
            true,
        ),
        (
            &heyi_members[1],
            &["尽自己一份力量，发挥老党员一份余热", "带头做好自家环境卫生"][..],
            true,
        ),
        (
            &heyi_members[0],
            &["带头参加秸秆禁烧巡逻", "每月上门看望两户独居老人"][..],
            false,
        ),
    ] {
        w.pledge(&heyi, &heyi_secretary, person, year, commitments, on_wall)
            .await?;
    }

    let township_officer = find("王敏")?;
    let heyi_attendees: Vec<UserId> = std::iter::once(&li)
        .chain([&zhao, &heyi_secretary])
        .chain(heyi_members.iter())
        .map(|p| p.principal.user)
        .collect();
    w.branch(&heyi, &heyi_secretary.principal, |b| {
        theme_day(b, &heyi_secretary, w.in_month(5), month, heyi_attendees)
    })
    .await?;
    lectures_and_problems(
        &w,
        &heyi,
        &heyi_secretary,
        &li,
        &zhao,
        &heyi_members[1],
        zhao_visits[0],
    )
    .await?;
    w.branch(&shuangqiao, &shuangqiao_secretary.principal, |b| {
        open_election(b, &shuangqiao_secretary, w.ago(1), [&liu, &he_lixiong])
    })
    .await?;
    let by = &shuangqiao_secretary.principal;
    w.writer
        .ledger(shuangqiao.ledger_document, by, |ledger| {
            migrant_entry(ledger, by, &he, w.ago(40))
        })
        .await?;
    let officer = &township_officer.principal;
    w.writer
        .supervision(sanlian.supervision_document, officer, |s| {
            supervise(s, officer, w.ago(20), w.ago(3))
        })
        .await?;
    Ok(Some(people))
}

/// 合益村 beyond the month's plan: 李章桂 on the lecture team (微讲队); next month's
/// schedule, one lecture by a guest expert (土专家); 李章桂 taking the study to 曾德福, an
/// old member who cannot come to the activity room (送学上门); and the problem 赵杰辉 found
/// at 李大爷家 on the branch's problem list.
async fn lectures_and_problems(
    w: &Story<'_>,
    heyi: &BranchRecord,
    secretary: &DemoPerson,
    li: &DemoPerson,
    zhao: &DemoPerson,
    elder: &DemoPerson,
    visit: RecordId,
) -> Result<()> {
    let by = &secretary.principal;
    let next = w.writer.now().cst_date().month_of().next().first_day();
    let day_of_next = |day: i64| Millis(next.cst_start().0 + (day - 1) * DAY).cst_date();
    let schedule = [
        (
            day_of_next(10),
            Some(li.principal.user),
            None,
            "从扶贫故事看党的宗旨",
            Venue::Courtyard,
        ),
        (
            day_of_next(18),
            None,
            Some("刘师傅（柑橘种植能手）"),
            "冬季柑橘管护技术",
            Venue::Field,
        ),
    ];
    let visit_ref = RecordRef {
        notebook: notebook_of(zhao)?,
        kind: ReviewableKind::Visit,
        id: visit,
    };
    w.branch(heyi, by, |b| {
        let mut entry: RosterEntry = b
            .get(&client_core::schema::ROSTER, &li.principal.user.to_string())?
            .ok_or_else(|| DemoError::Document("李章桂 is not on the roster".into()))?;
        entry.lecturer = true;
        b.enrol_member(by, w.ago(30), li.principal.user, entry)?;
        for (date, speaker, guest, topic, venue) in schedule {
            b.schedule_lecture(
                by,
                w.ago(3),
                ScheduleEntry {
                    date,
                    speaker,
                    guest_speaker: guest.map(str::to_owned),
                    topic: topic.into(),
                    venue,
                    created_by: by.user,
                    withdrawn: None,
                },
            )?;
        }
        b.open_rectification(
            by,
            w.ago(2),
            Rectification {
                problem: "李大爷高龄补贴一直没有申请".into(),
                measure: "帮李大爷备齐材料，到镇便民服务中心代办申请".into(),
                deadline: Millis(w.writer.now().0 + 14 * DAY).cst_date(),
                standard: "补贴按月到账，李大爷知道怎么查".into(),
                responsible: Some(zhao.principal.user),
                from_visit: Some(visit_ref),
                from_supervision: None,
                progress: Progress::default(),
                evidence: Vec::new(),
                created_by: by.user,
                created_at: w.ago(2),
                withdrawn: None,
            },
        )?;
        Ok(())
    })
    .await?;
    let delivery = w
        .notebook(li, |n| {
            let id = n.record_visit(
                &li.principal,
                w.ago(4),
                Visit {
                    kind: VisitKind::StudyDelivery,
                    household: format!("{}家（银发党员）", elder.user.name),
                    visitors: vec![li.principal.user],
                    visited_at: w.ago(4),
                    needs: "腿脚不便，来不了活动室；送去学习读本，一起读了党的二十大报告摘要。"
                        .into(),
                    follow_up: "每月上门一次，一对一帮学。".into(),
                    media: Vec::new(),
                    recorded_by: li.principal.user,
                    submission: Submission::draft(),
                    created_at: w.ago(4),
                    withdrawn: None,
                },
            )?;
            n.submit::<Visit>(&li.principal, w.ago(4), id)?;
            Ok(id)
        })
        .await?;
    w.approve::<Visit>(heyi, secretary, li, delivery, false)
        .await
}

/// 合益村's themed party day of the month (主题党日), with who came and what was decided.
fn theme_day(
    b: &mut Branch,
    secretary: &DemoPerson,
    held_at: Millis,
    month: Month,
    attendees: Vec<UserId>,
) -> Result<()> {
    b.record_meeting(
        &secretary.principal,
        held_at,
        Meeting {
            kind: MeetingKind::ThemeDay,
            held_at,
            attendees,
            agenda: "重温入党誓词，学习党的二十大精神".into(),
            minutes: Prose::from("书记领学，党员逐一谈体会；群众代表列席，提了村道修缮的意见。"),
            decisions: vec![
                "本月完成秸秆禁烧巡逻排班".into(),
                "走访独居老人，每名党员联系两户".into(),
            ],
            plan: Some(month),
            recorded_by: secretary.principal.user,
            created_at: held_at,
            withdrawn: None,
        },
    )?;
    Ok(())
}

/// 双桥村's 发展之星, open for a week, for members to vote on.
fn open_election(
    b: &mut Branch,
    secretary: &DemoPerson,
    opens_at: Millis,
    candidates: [&DemoPerson; 2],
) -> Result<()> {
    let mut listed = Vec::new();
    for person in candidates {
        listed.push(Candidate {
            id: RecordId::generate(opens_at).map_err(|e| DemoError::Document(e.to_string()))?,
            label: person.user.name.clone(),
            member: Some(person.principal.user),
        });
    }
    b.create_election(
        &secretary.principal,
        opens_at,
        Election {
            title: "发展之星".into(),
            candidates: listed,
            max_choices: 1,
            opens_at,
            closes_at: Millis(opens_at.0 + 7 * DAY),
            created_by: secretary.principal.user,
            created_at: opens_at,
            result: None,
            withdrawn: None,
        },
    )?;
    Ok(())
}

/// 贺俊爱 in the ledger as a migrant member in Guangdong, last called weeks ago: the
/// secretary's reminder to call again.
fn migrant_entry(
    ledger: &mut Ledger,
    by: &Principal,
    member: &DemoPerson,
    last_call: Millis,
) -> Result<()> {
    let entry = LedgerEntry {
        migrant: true,
        inflow: false,
        elderly: false,
        infirm: false,
        phone: String::new(),
        city: "广东东莞".into(),
        employer: "电子厂".into(),
        study_partner: None,
        contacts: Default::default(),
        updated_by: by.user,
        updated_at: last_call,
        withdrawn: None,
    };
    ledger.set_entry(by, last_call, member.principal.user, entry)?;
    ledger.log_contact(
        by,
        last_call,
        member.principal.user,
        Contact {
            kind: ContactKind::Phone,
            at: last_call,
            by: by.user,
            notes: "电话联系，在厂里一切都好，按时交党费。".into(),
        },
    )?;
    Ok(())
}

/// The township's supervision of 三联村: a forum with villagers, and a problem now overdue.
fn supervise(s: &mut Supervision, officer: &Principal, raised: Millis, due: Millis) -> Result<()> {
    s.write_note(
        officer,
        raised,
        SupervisionNote {
            method: SupervisionMethod::Forum,
            at: raised,
            by: officer.user,
            body: "党群座谈：群众肯定党员带头致富，反映三会一课记录不全。".into(),
            withdrawn: None,
        },
    )?;
    s.raise_problem(
        officer,
        raised,
        Problem {
            problem: "三会一课记录不全".into(),
            measure: "按月整理会议记录和签到".into(),
            deadline: due.cst_date(),
            standard: "资料齐全、分类清楚".into(),
            owner: "彭建华".into(),
            progress: Default::default(),
            evidence: Vec::new(),
            created_by: officer.user,
            created_at: raised,
            withdrawn: None,
        },
    )?;
    Ok(())
}

fn notebook_of(person: &DemoPerson) -> Result<DocumentId> {
    person
        .user
        .notebook_document
        .ok_or_else(|| DemoError::Document(format!("{} has no notebook", person.user.name)))
}

#[allow(clippy::too_many_arguments)]
fn lecture(
    speaker: &DemoPerson,
    title: &str,
    venue: Venue,
    place: &str,
    held_at: Millis,
    attendees: &[UserId],
    audience: i64,
    summary: &str,
) -> Lecture {
    Lecture {
        title: title.into(),
        category: LectureCategory::PoliticalTheory,
        venue,
        held_at,
        duration_min: 25,
        place: place.into(),
        gps: None,
        speakers: vec![speaker.principal.user],
        guest_speaker: None,
        recorded_by: speaker.principal.user,
        attendees: attendees.to_vec(),
        audience,
        summary: summary.into(),
        media: Vec::new(),
        plan: None,
        submission: Submission {
            state: SubmissionState::Draft,
            revision: 0,
            submitted_at: None,
        },
        created_at: held_at,
        withdrawn: None,
    }
}

/// Writes the demo's changes, each as the person who would make them.
struct Story<'a> {
    writer: Writer<'a>,
}

impl Story<'_> {
    fn ago(&self, days: i64) -> Millis {
        Millis(self.writer.now().0 - days * DAY)
    }

    /// `days` ago, or the first moment of this month if that is earlier: what carries out
    /// this month's plan must have happened in this month, whatever day the demo is loaded.
    fn in_month(&self, days: i64) -> Millis {
        let start = self
            .writer
            .now()
            .cst_date()
            .month_of()
            .first_day()
            .cst_start();
        self.ago(days).max(start)
    }

    async fn notebook<T>(
        &self,
        person: &DemoPerson,
        edit: impl FnOnce(&mut Notebook) -> Result<T>,
    ) -> Result<T> {
        self.writer
            .notebook(notebook_of(person)?, &person.principal, edit)
            .await
    }

    async fn branch<T>(
        &self,
        branch: &BranchRecord,
        by: &Principal,
        edit: impl FnOnce(&mut Branch) -> Result<T>,
    ) -> Result<T> {
        self.writer.branch(branch.branch_document, by, edit).await
    }

    /// A member writes their pledge for `year`; the secretary puts it on the wall if asked.
    async fn pledge(
        &self,
        branch: &BranchRecord,
        secretary: &DemoPerson,
        member: &DemoPerson,
        year: i64,
        commitments: &[&str],
        on_wall: bool,
    ) -> Result<()> {
        let pledge = Pledge {
            year,
            member: member.principal.user,
            commitments: commitments.iter().map(|c| (*c).to_owned()).collect(),
            created_at: self.ago(8),
            withdrawn: None,
        };
        let id = self
            .notebook(member, |n| {
                Ok(n.make_pledge(&member.principal, self.ago(8), pledge.clone())?)
            })
            .await?;
        if on_wall {
            let source = RecordRef {
                notebook: notebook_of(member)?,
                kind: ReviewableKind::Pledge,
                id,
            };
            let by = &secretary.principal;
            self.branch(branch, by, |b| {
                Ok(b.publish_pledge(by, self.ago(7), source, &pledge)
                    .map(|_| ())?)
            })
            .await?;
        }
        Ok(())
    }

    /// The secretary approves a submitted record as he reads it in its notebook, and
    /// publishes it to the feed if asked.
    async fn approve<T: Reviewable>(
        &self,
        branch: &BranchRecord,
        secretary: &DemoPerson,
        author: &DemoPerson,
        record: RecordId,
        publish: bool,
    ) -> Result<()> {
        let (source, read) = self.read::<T>(author, record).await?;
        let by = &secretary.principal;
        self.branch(branch, by, |b| {
            b.review(
                by,
                self.ago(1),
                ReviewDecision {
                    record: source,
                    revision: read.submission().revision,
                    decision: Decision::Approved,
                    comment: String::new(),
                    publish,
                    fine_example: false,
                },
                &read,
            )?;
            if publish {
                b.publish_record(by, self.ago(1), source, &read, false)?;
            }
            Ok(())
        })
        .await
    }

    /// A member's record as his notebook holds it now.
    async fn read<T: Reviewable>(
        &self,
        author: &DemoPerson,
        record: RecordId,
    ) -> Result<(RecordRef, T)> {
        let notebook = notebook_of(author)?;
        let read = self.writer.record::<T>(notebook, record).await?;
        let source = RecordRef {
            notebook,
            kind: T::KIND,
            id: record,
        };
        Ok((source, read))
    }
}

#[cfg(test)]
mod tests {
    use client_core::{Document, Limits, views};

    use super::*;

    #[tokio::test]
    async fn the_demo_loads_once_into_an_empty_database_and_every_document_validates() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("tianjian.sqlite3")).unwrap();
        let now = Millis(1_791_770_400_000);
        let cast = load(&store, now).await.unwrap().unwrap();
        assert_eq!(cast.len(), CAST.len());
        assert!(load(&store, now).await.unwrap().is_none(), "never twice");
        assert_eq!(names(&people(&store).await.unwrap()), names(&cast));

        for (document, _) in store.catalogue().await.unwrap() {
            let bytes = store.load_document(document).await.unwrap().unwrap();
            let doc = Document::load(&bytes, Limits::default()).unwrap();
            doc.validate().unwrap_or_else(|v| panic!("{document}: {v}"));
        }

        // 贺俊爱 finds her lesson returned, with the secretary's comment.
        let he = cast.iter().find(|p| p.user.name == "贺俊爱").unwrap();
        let branches = store.branches_of(he.user.township).await.unwrap();
        let shuangqiao = branches.iter().find(|b| b.name == "双桥村").unwrap();
        let notebook_id = he.user.notebook_document.unwrap();
        let notebook = Notebook::load(
            &store.load_document(notebook_id).await.unwrap().unwrap(),
            Limits::default(),
        )
        .unwrap();
        let branch = branch_of(&store, shuangqiao).await;
        // 李章桂's lecture is in 合益村's feed, under his name from the roster.
        let heyi = branches.iter().find(|b| b.name == "合益村").unwrap();
        let heyi_branch = branch_of(&store, heyi).await;
        let heyi_notebooks: Vec<Notebook> = {
            let mut held = Vec::new();
            for person in cast.iter().filter(|p| p.user.branch == Some(heyi.id)) {
                if let Some(id) = person.user.notebook_document {
                    let bytes = store.load_document(id).await.unwrap().unwrap();
                    held.push(Notebook::load(&bytes, Limits::default()).unwrap());
                }
            }
            held
        };
        let refs: Vec<&Notebook> = heyi_notebooks.iter().collect();
        let progress = views::plan_progress(&heyi_branch, now.cst_date().month_of()).unwrap();
        assert!(progress.standing.lecture_done && progress.standing.film_done);
        assert!(!progress.standing.practice_done && progress.standing.theme_day_held);
        assert_eq!(views::lecture_team(&heyi_branch).guests.len(), 1);
        assert_eq!(views::schedule(&heyi_branch, now.cst_date()).len(), 2);

        // Every branch's plan, on the server, stands on the figures of the month: no part is
        // done that the month's figures do not show (the demo is loaded on any day).
        let month = now.cst_date().month_of();
        let scope = crate::store::Scope {
            branches: branches.iter().map(|b| b.id).collect(),
        };
        let plans = store.plan_standing(scope.clone(), month).await.unwrap();
        let tally = store
            .figures(crate::store::Count {
                scope,
                period: month.first_day().cst_start()..month.next().first_day().cst_start(),
                today: now.cst_date(),
            })
            .await
            .unwrap();
        for branch in &branches {
            let (plan, figures) = (
                plans[&branch.id].standing,
                &tally.branches[&branch.id].figures,
            );
            assert!(
                !plan.lecture_done || figures.lectures > 0,
                "{}",
                branch.name
            );
            assert!(!plan.film_done || figures.screenings > 0, "{}", branch.name);
            assert!(
                !plan.practice_done || figures.volunteer_hours > 0.0,
                "{}",
                branch.name
            );
        }
        assert!(plans[&heyi.id].standing.lecture_done);
        let feed = views::feed(&heyi_branch);
        assert_eq!(feed.len(), 1);
        assert_eq!(feed[0].1.speakers, vec!["李章桂".to_owned()]);
        let year = now.cst_date().year;
        let mut wall: Vec<String> = views::pledge_wall(&heyi_branch, year)
            .into_iter()
            .map(|p| p.name)
            .collect();
        wall.sort();
        assert_eq!(wall, ["曾德福", "李章桂"]);
        let pledges = views::pledges(&heyi_branch, &refs, year);
        let waiting: Vec<&str> = pledges
            .pledges
            .iter()
            .filter(|p| p.wall == views::WallState::Unpublished)
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(waiting, ["李秋云"]);

        // Her secretary is reminded to call her; 双桥村's election is open.
        let ledger = Ledger::load(
            &store
                .load_document(shuangqiao.ledger_document)
                .await
                .unwrap()
                .unwrap(),
            Limits::default(),
        )
        .unwrap();
        let reminders = views::contact_reminders(&branch, &ledger, now, 30);
        assert_eq!(reminders.len(), 1);
        assert_eq!(reminders[0].name, "贺俊爱");
        let elections: Vec<(String, Election)> = branch.records(&client_core::schema::ELECTIONS);
        assert!(elections.iter().any(|(_, e)| e.is_open_at(now)));

        let mine = views::my_submissions(&notebook, notebook_id, &branch);
        assert!(
            matches!(&mine[0].review, views::ReviewState::Returned { comment } if comment.contains("二十大")),
            "{mine:?}"
        );
    }

    async fn branch_of(store: &Store, branch: &BranchRecord) -> Branch {
        let bytes = store.load_document(branch.branch_document).await.unwrap();
        Branch::load(&bytes.unwrap(), Limits::default()).unwrap()
    }

    fn names(people: &[DemoPerson]) -> Vec<String> {
        people.iter().map(|p| p.user.name.clone()).collect()
    }
}
