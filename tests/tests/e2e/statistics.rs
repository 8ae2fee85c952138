//! Statistics over a branch whose records the test writes itself, so every figure can be
//! counted by hand: the SQL figures equal the hand count and client-core's own figures for
//! the same documents, at the edges of months in China Standard Time; only approved records
//! count; nothing of one branch or township shows in another's; and each figure lists the
//! records behind it.

use std::collections::BTreeMap;

use client_core::model::branch::{
    Decision, FeedItem, Meeting, MeetingKind, Plan, Rectification, Screening,
};
use client_core::model::common::{
    Progress, ProgressStatus, Prose, RecordRef, ReviewableKind, Submission,
};
use client_core::model::ledger::LedgerEntry;
use client_core::model::notebook::{
    Lecture, LectureCategory, Pledge, Service, ServiceKind, Venue, Visit, VisitKind,
};
use client_core::ops::{ReviewDecision, Reviewable};
use client_core::views::{self, Figures};
use client_core::{
    Branch, Date, DocumentId, Limits, Millis, Month, Notebook, Period, Principal, RecordId, Role,
    UserId,
};
use serde_json::Value;
use tianjian_server::store::Store;
use tianjian_server::writer::{WriteError, Writer};
use tianjian_tests::TestServer;
use tianjian_tests::fixture::{Database, NOW, person, served, token};

/// `hh:mm` on a day, Beijing time.
fn cst(day: &str, hour: i64, minute: i64) -> Millis {
    let day: Date = day.parse().unwrap();
    Millis(day.cst_start().0 + (hour * 60 + minute) * 60_000)
}

fn october() -> Month {
    "2026-10".parse().unwrap()
}

fn lecture(
    by: &Principal,
    held_at: Millis,
    speakers: &[UserId],
    attendees: &[UserId],
    audience: i64,
    venue: Venue,
    category: LectureCategory,
) -> Lecture {
    Lecture {
        title: format!("微党课 {held_at:?}"),
        category,
        venue,
        held_at,
        duration_min: 30,
        place: "合益村屋场坪".into(),
        gps: None,
        speakers: speakers.to_vec(),
        guest_speaker: None,
        recorded_by: by.user,
        attendees: attendees.to_vec(),
        audience,
        summary: String::new(),
        media: Vec::new(),
        plan: None,
        submission: Submission::draft(),
        created_at: NOW,
        withdrawn: None,
    }
}

fn service(by: &Principal, held_at: Millis, hours: f64, participants: &[UserId]) -> Service {
    Service {
        kind: ServiceKind::Patrol,
        title: "秸秆禁烧巡逻".into(),
        held_at,
        hours,
        participants: participants.to_vec(),
        beneficiaries: 0,
        place: "合益村".into(),
        notes: String::new(),
        media: Vec::new(),
        plan: None,
        recorded_by: by.user,
        submission: Submission::draft(),
        created_at: NOW,
        withdrawn: None,
    }
}

fn visit(by: &Principal, visited_at: Millis, household: &str) -> Visit {
    Visit {
        kind: VisitKind::Walk,
        household: household.into(),
        visitors: vec![by.user],
        visited_at,
        needs: String::new(),
        follow_up: String::new(),
        media: Vec::new(),
        recorded_by: by.user,
        submission: Submission::draft(),
        created_at: NOW,
        withdrawn: None,
    }
}

fn rectification(by: &Principal, problem: &str, deadline: &str) -> Rectification {
    Rectification {
        problem: problem.into(),
        measure: "逐户上门".into(),
        deadline: deadline.parse().unwrap(),
        standard: "全部到位".into(),
        responsible: None,
        from_visit: None,
        from_supervision: None,
        progress: Progress::default(),
        evidence: Vec::new(),
        created_by: by.user,
        created_at: NOW,
        withdrawn: None,
    }
}

fn screening(by: &Principal, held_at: Millis, plan: Option<Month>) -> Screening {
    Screening {
        film: "《榜样9》".into(),
        held_at,
        place: "党员活动室".into(),
        attendees: Vec::new(),
        audience: 18,
        discussion: String::new(),
        media: Vec::new(),
        plan,
        recorded_by: by.user,
        created_at: NOW,
        withdrawn: None,
    }
}

/// A member with a notebook, and the admin who reviews what he writes.
struct Member<'a> {
    who: &'a Principal,
    notebook: DocumentId,
    branch: DocumentId,
    reviewer: &'a Principal,
}

impl Member<'_> {
    /// Records `record` and submits it; returns its id.
    async fn submit<T: Reviewable>(
        &self,
        w: Writer<'_>,
        record: T,
        add: fn(&mut Notebook, &Principal, Millis, T) -> Result<RecordId, client_core::OpError>,
    ) -> RecordId {
        w.notebook(self.notebook, self.who, |n| {
            let id = add(n, self.who, NOW, record)?;
            n.submit::<T>(self.who, NOW, id)?;
            Ok::<_, WriteError>(id)
        })
        .await
        .unwrap()
    }

    async fn review<T: Reviewable>(
        &self,
        w: Writer<'_>,
        id: RecordId,
        revision: i64,
        decision: Decision,
    ) {
        let reviewer = self.reviewer;
        let record = RecordRef {
            notebook: self.notebook,
            kind: T::KIND,
            id,
        };
        let decision = ReviewDecision {
            record,
            revision,
            decision,
            comment: if decision == Decision::Returned {
                "请补充".into()
            } else {
                String::new()
            },
            publish: false,
            fine_example: false,
        };
        w.review::<T>(self.branch, reviewer, decision)
            .await
            .unwrap();
    }

    async fn approved<T: Reviewable>(
        &self,
        w: Writer<'_>,
        record: T,
        add: fn(&mut Notebook, &Principal, Millis, T) -> Result<RecordId, client_core::OpError>,
    ) -> RecordId {
        let id = self.submit(w, record, add).await;
        self.review::<T>(w, id, 1, Decision::Approved).await;
        id
    }
}

/// What the test wrote that the assertions name.
pub(crate) struct Written {
    /// 合益村's approved lectures of October, by their ids.
    october_lectures: Vec<RecordId>,
    overdue: RecordId,
}

/// 合益村's October, with every kind of record that must and must not count, and a lecture
/// of 双桥村 that must stay in 双桥村.
pub(crate) async fn write_october(db: &Database) -> Written {
    let store: &Store = &db.store;
    let v = &db.v;
    let w = Writer::new(store, NOW);
    let (li, secretary, deputy) = (&v.li, &v.secretary, &v.deputy);
    let notebook_of = |user: UserId, branch| async move {
        store.notebook_in(user, branch).await.unwrap().unwrap()
    };
    let deputy_notebook = notebook_of(deputy.user, v.heyi).await;
    let li_m = Member {
        who: li,
        notebook: v.notebook,
        branch: v.branch,
        reviewer: secretary,
    };
    let deputy_m = Member {
        who: deputy,
        notebook: deputy_notebook,
        branch: v.branch,
        reviewer: secretary,
    };
    let (l, s, d) = (li.user, secretary.user, deputy.user);
    let add_lecture = Notebook::record_lecture;

    // Counted in October: the last half hour of October 31st in Beijing (15:30 UTC), with an
    // attendee ticked twice and the month's plan; the first instant of October 1st; and the
    // deputy's lecture with li as co-speaker.
    let last_of_october = li_m
        .approved(
            w,
            Lecture {
                plan: Some(october()),
                ..lecture(
                    li,
                    cst("2026-10-31", 23, 30),
                    &[l],
                    &[s, d, d],
                    30,
                    Venue::Courtyard,
                    LectureCategory::PoliticalTheory,
                )
            },
            add_lecture,
        )
        .await;
    let first_of_october = li_m
        .approved(
            w,
            lecture(
                li,
                cst("2026-10-01", 0, 0),
                &[d],
                &[],
                5,
                Venue::Market,
                LectureCategory::GrassrootsWork,
            ),
            add_lecture,
        )
        .await;
    let deputys = deputy_m
        .approved(
            w,
            lecture(
                deputy,
                cst("2026-10-20", 19, 0),
                &[d, l],
                &[l],
                20,
                Venue::Field,
                LectureCategory::PoliticalTheory,
            ),
            add_lecture,
        )
        .await;
    // November in Beijing though still October 31st in UTC; and September 30th at 23:59.
    li_m.approved(
        w,
        lecture(
            li,
            cst("2026-11-01", 0, 30),
            &[l],
            &[s],
            12,
            Venue::Field,
            LectureCategory::Skills,
        ),
        add_lecture,
    )
    .await;
    li_m.approved(
        w,
        lecture(
            li,
            cst("2026-09-30", 23, 59),
            &[l],
            &[s],
            7,
            Venue::Field,
            LectureCategory::Skills,
        ),
        add_lecture,
    )
    .await;
    // Not counted: returned; withdrawn after approval, and the approval taken back by the
    // secretary; re-submitted after approval with its new revision returned; pending; a draft.
    // (Until the secretary's second word, each of the two counted as approved.)
    let big = |day: &str| {
        lecture(
            li,
            cst(day, 10, 0),
            &[s],
            &[s, d],
            100,
            Venue::Courtyard,
            LectureCategory::Other,
        )
    };
    let returned = li_m.submit(w, big("2026-10-10"), add_lecture).await;
    li_m.review::<Lecture>(w, returned, 1, Decision::Returned)
        .await;
    let withdrawn = li_m.approved(w, big("2026-10-11"), add_lecture).await;
    w.notebook(v.notebook, li, |n| {
        n.withdraw::<Lecture>(li, NOW, withdrawn, Some("记错了".into()))?;
        Ok::<_, WriteError>(())
    })
    .await
    .unwrap();
    // The secretary's second word comes a minute after the first.
    let a_minute_later = Writer::new(store, Millis(NOW.0 + 60_000));
    li_m.review::<Lecture>(a_minute_later, withdrawn, 1, Decision::Returned)
        .await;
    let resubmitted = li_m.approved(w, big("2026-10-12"), add_lecture).await;
    w.notebook(v.notebook, li, |n| {
        n.edit_record::<Lecture>(li, NOW, resubmitted, |l| l.audience = 101)?;
        n.submit::<Lecture>(li, NOW, resubmitted)?;
        Ok::<_, WriteError>(())
    })
    .await
    .unwrap();
    li_m.review::<Lecture>(a_minute_later, resubmitted, 2, Decision::Returned)
        .await;
    li_m.submit(w, big("2026-10-13"), add_lecture).await;
    w.notebook(v.notebook, li, |n| {
        n.record_lecture(li, NOW, big("2026-10-14"))?;
        Ok::<_, WriteError>(())
    })
    .await
    .unwrap();

    // Services: 2.5 h by three and 1 h by one; a returned one is not counted.
    li_m.approved(
        w,
        Service {
            plan: Some(october()),
            ..service(li, cst("2026-10-05", 9, 0), 2.5, &[l, s, d])
        },
        Notebook::record_service,
    )
    .await;
    deputy_m
        .approved(
            w,
            service(deputy, cst("2026-10-06", 9, 0), 1.0, &[l]),
            Notebook::record_service,
        )
        .await;
    let sent_back = li_m
        .submit(
            w,
            service(li, cst("2026-10-07", 9, 0), 8.0, &[l, s]),
            Notebook::record_service,
        )
        .await;
    li_m.review::<Service>(w, sent_back, 1, Decision::Returned)
        .await;

    // Visits: 张家 twice (once with a full-width space typed after it) and 李家; 王家 returned.
    for household in ["张家", "张家\u{3000}", "李家"] {
        li_m.approved(
            w,
            visit(li, cst("2026-10-08", 15, 0), household),
            Notebook::record_visit,
        )
        .await;
    }
    let wang = li_m
        .submit(
            w,
            visit(li, cst("2026-10-09", 15, 0), "王家"),
            Notebook::record_visit,
        )
        .await;
    li_m.review::<Visit>(w, wang, 1, Decision::Returned).await;

    // The branch document: October's plan carried out (film, theme day), screenings, and
    // rectifications in every state.
    let overdue = w
        .branch(v.branch, secretary, |b| {
            b.set_plan(
                secretary,
                NOW,
                october(),
                Plan {
                    lecture_topic: "忆扶贫故事".into(),
                    lecture_speaker: None,
                    film_title: "《榜样9》".into(),
                    practice: "秸秆禁烧巡逻".into(),
                    theme_day: None,
                    notes: Prose::default(),
                    created_by: s,
                    created_at: NOW,
                    withdrawn: None,
                },
            )?;
            b.record_screening(
                secretary,
                NOW,
                screening(secretary, cst("2026-10-15", 20, 0), Some(october())),
            )?;
            let gone = b.record_screening(
                secretary,
                NOW,
                screening(secretary, cst("2026-10-16", 20, 0), None),
            )?;
            b.withdraw::<Screening>(secretary, NOW, gone, None)?;
            b.record_screening(
                secretary,
                NOW,
                screening(secretary, cst("2026-11-02", 20, 0), None),
            )?;
            b.record_meeting(
                secretary,
                NOW,
                Meeting {
                    kind: MeetingKind::ThemeDay,
                    held_at: cst("2026-10-25", 9, 0),
                    attendees: vec![l, s, d],
                    agenda: "主题党日".into(),
                    minutes: Prose::default(),
                    decisions: Vec::new(),
                    plan: Some(october()),
                    recorded_by: s,
                    created_at: NOW,
                    withdrawn: None,
                },
            )?;
            let overdue = b.open_rectification(
                secretary,
                NOW,
                rectification(secretary, "路灯不亮", "2020-01-01"),
            )?;
            let going = b.open_rectification(
                secretary,
                NOW,
                rectification(secretary, "水渠淤塞", "2099-12-31"),
            )?;
            b.advance_rectification(secretary, NOW, going, ProgressStatus::InProgress, None)?;
            for (problem, reached) in [
                ("垃圾清运", ProgressStatus::Done),
                ("危房排查", ProgressStatus::Verified),
            ] {
                let id = b.open_rectification(
                    secretary,
                    NOW,
                    rectification(secretary, problem, "2020-01-01"),
                )?;
                b.advance_rectification(secretary, NOW, id, ProgressStatus::InProgress, None)?;
                b.advance_rectification(secretary, NOW, id, ProgressStatus::Done, None)?;
                if reached == ProgressStatus::Verified {
                    b.advance_rectification(secretary, NOW, id, reached, None)?;
                }
            }
            let dropped = b.open_rectification(
                secretary,
                NOW,
                rectification(secretary, "重复登记", "2020-01-01"),
            )?;
            b.withdraw::<Rectification>(secretary, NOW, dropped, None)?;
            Ok::<_, WriteError>(overdue)
        })
        .await
        .unwrap();

    // The ledger marks li as a migrant member (流动党员).
    let heyi = store.branch(v.heyi).await.unwrap().unwrap();
    w.ledger(heyi.ledger_document, secretary, |ledger| {
        ledger.set_entry(
            secretary,
            NOW,
            l,
            LedgerEntry {
                migrant: true,
                inflow: false,
                elderly: false,
                infirm: false,
                phone: "13800000001".into(),
                city: "广东东莞".into(),
                employer: "电子厂".into(),
                study_partner: None,
                contacts: BTreeMap::new(),
                updated_by: s,
                updated_at: NOW,
                withdrawn: None,
            },
        )?;
        Ok::<_, WriteError>(())
    })
    .await
    .unwrap();

    // 双桥村: its own admin approves its member's lecture of 50 villagers.
    let shuangqiao_admin = person(
        store,
        v.township,
        Some(v.shuangqiao),
        "刘国强",
        Role::BranchAdmin,
    )
    .await
    .principal();
    let outsider = Member {
        who: &v.outsider,
        notebook: notebook_of(v.outsider.user, v.shuangqiao).await,
        branch: v.branch_of_outsider,
        reviewer: &shuangqiao_admin,
    };
    outsider
        .approved(
            w,
            lecture(
                &v.outsider,
                cst("2026-10-18", 10, 0),
                &[v.outsider.user],
                &[],
                50,
                Venue::ActivityRoom,
                LectureCategory::PoliticalTheory,
            ),
            add_lecture,
        )
        .await;

    Written {
        october_lectures: vec![first_of_october, deputys, last_of_october],
        overdue,
    }
}

async fn get(server: &TestServer, path: &str, token: &str) -> (u16, Value) {
    let response = server
        .request("GET", path, Some(token), None)
        .await
        .unwrap();
    let body = if response.body.is_empty() {
        Value::Null
    } else {
        response.json()
    };
    (response.status, body)
}

/// The figures of a branch (or the total) in an answer of `/api/v1/statistics`, as
/// client-core's type, so that they compare with client-core's own count.
fn figures_in(answer: &Value, branch: Option<&str>) -> (Figures, u64) {
    let line = match branch {
        Some(id) => answer["branches"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["branch"] == id)
            .unwrap()
            .clone(),
        None => answer["total"].clone(),
    };
    let migrant = line["migrant_submissions"].as_u64().unwrap();
    (serde_json::from_value(line).unwrap(), migrant)
}

#[tokio::test]
async fn figures_are_counted_by_hand_and_agree_with_the_core_at_every_month_edge() {
    let (db, server) = served().await;
    let written = write_october(&db).await;
    let v = &db.v;
    let secretary = token(&db.keys, &v.secretary);

    let (status, answer) = get(
        &server,
        &format!("/api/v1/statistics?branch={}&period=2026-10", v.heyi),
        &secretary,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (figures, migrant) = figures_in(&answer, Some(&v.heyi.to_string()));
    assert_eq!(
        figures,
        Figures {
            lectures: 3,
            lectures_by_category: [
                ("grassroots_work".into(), 1),
                ("political_theory".into(), 2)
            ]
            .into(),
            lectures_by_venue: [
                ("courtyard".into(), 1),
                ("field".into(), 1),
                ("market".into(), 1)
            ]
            .into(),
            // li and the deputy; the deputy spoke at two lectures.
            lecturers: 2,
            // {secretary, deputy (ticked twice)} + {} + {li}.
            member_attendances: 3,
            villagers: 30 + 5 + 20,
            audience: 58,
            services: 2,
            volunteer_participants: 4,
            volunteer_hours: 8.5,
            households_visited: 2,
            screenings: 1,
            rectifications_open: 2,
            rectifications_overdue: 1,
            rectifications_done: 1,
            rectifications_verified: 1,
        }
    );
    // li's approved lectures, service and visits of October; the deputy is not a migrant.
    assert_eq!(migrant, 2 + 1 + 3);
    assert_eq!(answer["from"], "2026-10-01");
    assert_eq!(answer["until"], "2026-11-01");

    // November holds only the lecture given half an hour into November 1st in Beijing.
    let (_, november) = get(
        &server,
        &format!("/api/v1/statistics?branch={}&period=2026-11", v.heyi),
        &secretary,
    )
    .await;
    let (figures, migrant) = figures_in(&november, Some(&v.heyi.to_string()));
    assert_eq!(
        (
            figures.lectures,
            figures.villagers,
            figures.screenings,
            migrant
        ),
        (1, 12, 1, 1)
    );

    // Client-core, counting the stored branch document alone (as every phone does), agrees
    // for every kind of period.
    let today = tianjian_server::now().cst_date();
    let load = |document: DocumentId| {
        let store = db.store.clone();
        async move { store.load_document(document).await.unwrap().unwrap() }
    };
    let branch = Branch::load(&load(v.branch).await, Limits::default()).unwrap();
    for period in [
        "2026-09",
        "2026-10",
        "2026-11",
        "2026-Q4",
        "2026",
        "2026-10-31..2026-11-01",
        "2026-10-01..2026-10-01",
    ] {
        let (_, answer) = get(
            &server,
            &format!("/api/v1/statistics?branch={}&period={period}", v.heyi),
            &secretary,
        )
        .await;
        let range = period.parse::<Period>().unwrap().range();
        let core = views::figures(&branch, range.start, range.end, today);
        assert_eq!(
            figures_in(&answer, Some(&v.heyi.to_string())).0,
            core,
            "{period}"
        );
    }

    // Each figure lists the records behind it, oldest first.
    let (status, behind) = get(
        &server,
        &format!(
            "/api/v1/statistics/records?branch={}&period=2026-10&figure=villagers",
            v.heyi
        ),
        &secretary,
    )
    .await;
    assert_eq!(status, 200, "{behind}");
    let keys: Vec<&str> = behind
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["key"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = written
        .october_lectures
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(keys, expected);
    assert_eq!(behind[0]["person_name"], "李章桂");
    let (_, in_fields) = get(
        &server,
        &format!(
            "/api/v1/statistics/records?branch={}&period=2026-10&figure=lectures&venue=field",
            v.heyi
        ),
        &secretary,
    )
    .await;
    assert_eq!(in_fields.as_array().unwrap().len(), 1);
    assert_eq!(in_fields[0]["person_name"], "贺俊爱");
    let (_, overdue) = get(
        &server,
        &format!(
            "/api/v1/statistics/records?branch={}&figure=rectifications_overdue",
            v.heyi
        ),
        &secretary,
    )
    .await;
    assert_eq!(overdue.as_array().unwrap().len(), 1, "{overdue}");
    assert_eq!(overdue[0]["key"], written.overdue.to_string());
    assert_eq!(overdue[0]["title"], "路灯不亮");
    assert_eq!(overdue[0]["deadline"], "2020-01-01");
    for (figure, count) in [
        ("households_visited", 3),
        ("volunteer_hours", 2),
        ("screenings", 1),
        ("migrant_submissions", 6),
        ("rectifications_open", 2),
        ("rectifications_verified", 1),
    ] {
        let (_, lines) = get(
            &server,
            &format!(
                "/api/v1/statistics/records?branch={}&period=2026-10&figure={figure}",
                v.heyi
            ),
            &secretary,
        )
        .await;
        assert_eq!(lines.as_array().unwrap().len(), count, "{figure}: {lines}");
    }

    // October's plan: 合益村 held its lecture, film and practice and its themed party day;
    // 双桥村 made no plan.
    let (status, plans) = get(
        &server,
        &format!(
            "/api/v1/statistics/plans?township={}&month=2026-10",
            v.township
        ),
        &token(&db.keys, &v.township_admin),
    )
    .await;
    assert_eq!(status, 200, "{plans}");
    let standing = |name: &str| {
        plans
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()
            .clone()
    };
    let heyi = standing("合益村");
    for flag in [
        "planned",
        "lecture_done",
        "film_done",
        "practice_done",
        "theme_day_held",
        "complete",
    ] {
        assert_eq!(heyi[flag], true, "{flag}: {heyi}");
    }
    assert_eq!(standing("双桥村")["planned"], false);
    assert_eq!(standing("双桥村")["complete"], false);
    let core = views::plan_progress(&branch, october()).unwrap();
    assert!(core.standing.complete && core.standing.theme_day_held);

    // The township's twelve months: the trend's October and November are the total's.
    let (status, trend) = get(
        &server,
        &format!(
            "/api/v1/statistics/trend?township={}&until=2026-11",
            v.township
        ),
        &token(&db.keys, &v.township_admin),
    )
    .await;
    assert_eq!(status, 200, "{trend}");
    let months = trend.as_array().unwrap();
    assert_eq!(months.len(), 12);
    assert_eq!(months[0]["month"], "2025-12");
    assert_eq!(months[10]["month"], "2026-10");
    assert_eq!(months[10]["lectures"], 4);
    assert_eq!(months[11]["lectures"], 1);
    assert_eq!(months[9]["lectures"], 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn figures_stay_inside_their_branch_and_township_and_admins_see_only_their_own() {
    let (db, server) = served().await;
    write_october(&db).await;
    let v = &db.v;
    let october = |whose: String| format!("/api/v1/statistics?{whose}&period=2026-10");

    // The township sees both branches: 双桥村's lecture is in 双桥村 and the total only.
    let township = token(&db.keys, &v.township_admin);
    let (status, answer) = get(
        &server,
        &october(format!("township={}", v.township)),
        &township,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (heyi, _) = figures_in(&answer, Some(&v.heyi.to_string()));
    let (shuangqiao, _) = figures_in(&answer, Some(&v.shuangqiao.to_string()));
    let (total, migrant) = figures_in(&answer, None);
    assert_eq!((heyi.lectures, heyi.villagers), (3, 55));
    assert_eq!((shuangqiao.lectures, shuangqiao.villagers), (1, 50));
    assert_eq!(shuangqiao.rectifications_open, 0);
    assert_eq!(
        (total.lectures, total.villagers, total.lecturers),
        (4, 105, 3)
    );
    assert_eq!(migrant, 6);
    // Naming nothing, a township admin gets his own township.
    let (_, own) = get(&server, "/api/v1/statistics?period=2026-10", &township).await;
    assert_eq!(own["total"], answer["total"]);

    // Another township's admin sees nothing of it, and his own township has nothing of it.
    let far = token(&db.keys, &v.far_admin);
    for whose in [
        format!("township={}", v.township),
        format!("branch={}", v.heyi),
    ] {
        let (status, _) = get(&server, &october(whose), &far).await;
        assert_eq!(status, 404);
    }
    let (status, own) = get(
        &server,
        &october(format!("township={}", v.far_admin.township.unwrap())),
        &far,
    )
    .await;
    assert_eq!(status, 200, "{own}");
    assert_eq!(own["total"]["lectures"], 0);
    assert_eq!(own["total"]["rectifications_open"], 0);

    // A branch admin sees his branch only; a member sees no statistics at all.
    let secretary = token(&db.keys, &v.secretary);
    for whose in [
        format!("branch={}", v.shuangqiao),
        format!("township={}", v.township),
    ] {
        let (status, _) = get(&server, &october(whose), &secretary).await;
        assert_eq!(status, 404);
    }
    let (status, mine) = get(&server, "/api/v1/statistics?period=2026-10", &secretary).await;
    assert_eq!(status, 200);
    assert_eq!(mine["branches"].as_array().unwrap().len(), 1);
    assert_eq!(mine["total"]["lectures"], 3);
    let (status, _) = get(
        &server,
        &october(format!("branch={}", v.heyi)),
        &token(&db.keys, &v.li),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = get(
        &server,
        &format!(
            "/api/v1/statistics/records?branch={}&figure=lectures",
            v.shuangqiao
        ),
        &secretary,
    )
    .await;
    assert_eq!(status, 404);

    // Bad input is named, and changes nothing.
    for (query, status) in [
        ("/api/v1/statistics?period=2026-13", 422),
        ("/api/v1/statistics?period=2026-11-01..2026-10-01", 422),
        ("/api/v1/statistics/records?figure=points", 422),
        (
            "/api/v1/statistics/records?figure=services&venue=field",
            422,
        ),
        ("/api/v1/statistics/trend?months=0", 422),
        ("/api/v1/statistics/trend?months=1000", 422),
        ("/api/v1/statistics/plans?month=October", 422),
    ] {
        let (got, body) = get(&server, query, &secretary).await;
        assert_eq!(got, status, "{query}: {body}");
        assert_eq!(body["error"], "invalid");
    }
    server.stop().await.unwrap();
}

/// A downloaded ledger: its status, type, file name and bytes.
async fn download(server: &TestServer, path: &str, token: &str) -> (u16, String, String, Vec<u8>) {
    let response = server
        .request("GET", path, Some(token), None)
        .await
        .unwrap();
    (
        response.status,
        response.header("content-type").unwrap_or("").to_owned(),
        response
            .header("content-disposition")
            .unwrap_or("")
            .to_owned(),
        response.bytes,
    )
}

/// The cells of the one sheet of an XLSX file, as text, read by calamine; and whether any
/// cell holds a formula.
fn spreadsheet(bytes: Vec<u8>, title: &str) -> (Vec<Vec<String>>, bool) {
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(book.sheet_names(), [title]);
    let range = book.worksheet_range(title).unwrap();
    let rows = range
        .rows()
        .map(|row| row.iter().map(|cell| cell.to_string()).collect())
        .collect();
    let formulas = book.worksheet_formula(title).unwrap();
    let any_formula = formulas.used_cells().any(|(_, _, f)| !f.is_empty());
    (rows, any_formula)
}

#[tokio::test]
async fn ledgers_download_as_xlsx_and_csv_with_chinese_headers_and_inert_formulas() {
    let (db, server) = served().await;
    write_october(&db).await;
    let v = &db.v;
    let li = &v.li;
    let hostile = "=HYPERLINK(\"http://evil.example\",\"点我\")";
    let w = Writer::new(&db.store, NOW);
    Member {
        who: li,
        notebook: v.notebook,
        branch: v.branch,
        reviewer: &v.secretary,
    }
    .approved(
        w,
        Lecture {
            title: hostile.into(),
            ..lecture(
                li,
                cst("2026-10-30", 9, 0),
                &[li.user],
                &[],
                9,
                Venue::HomeDelivery,
                LectureCategory::Skills,
            )
        },
        Notebook::record_lecture,
    )
    .await;
    let secretary = token(&db.keys, &v.secretary);

    let (status, media_type, disposition, bytes) = download(
        &server,
        &format!("/api/v1/exports/lectures?branch={}&period=2026-10", v.heyi),
        &secretary,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert!(media_type.contains("spreadsheetml"), "{media_type}");
    // 合益村-微党课台账-2026-10.xlsx, percent-encoded.
    assert!(
        disposition.contains("UTF-8''%E5%90%88%E7%9B%8A%E6%9D%91-"),
        "{disposition}"
    );
    let (rows, any_formula) = spreadsheet(bytes, "微党课台账");
    assert!(!any_formula, "a title became a formula");
    let header = &rows[0];
    assert_eq!(&header[..4], ["支部", "时间", "题目", "类别"]);
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    // The three approved lectures of October and the hostile one, by time; nothing else.
    assert_eq!(rows.len(), 1 + 4, "{rows:?}");
    let times: Vec<&str> = rows[1..].iter().map(|r| r[at("时间")].as_str()).collect();
    assert_eq!(
        times,
        [
            "2026-10-01 00:00",
            "2026-10-20 19:00",
            "2026-10-30 09:00",
            "2026-10-31 23:30"
        ]
    );
    let last = &rows[4];
    assert_eq!(last[at("支部")], "合益村");
    assert_eq!(last[at("类别")], "政治理论");
    assert_eq!(last[at("形式")], "屋场会");
    assert_eq!(last[at("主讲人")], "李章桂");
    assert_eq!(last[at("参加党员人数")], "2");
    assert_eq!(last[at("群众人数")], "30");
    assert_eq!(last[at("落实月计划")], "2026-10");
    let hostile_row = &rows[3];
    assert_eq!(
        hostile_row[at("题目")],
        hostile,
        "the title is kept exactly, as text"
    );
    assert_eq!(hostile_row[at("形式")], "上门送课");

    // The same as CSV: a byte-order mark for Excel, and the formula made inert.
    let (status, media_type, _, bytes) = download(
        &server,
        &format!(
            "/api/v1/exports/lectures?branch={}&period=2026-10&format=csv",
            v.heyi
        ),
        &secretary,
    )
    .await;
    assert_eq!(status, 200);
    assert!(media_type.starts_with("text/csv"));
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with("\u{feff}支部,时间,题目,类别,"));
    assert!(
        text.contains(",\"'=HYPERLINK(\"\"http://evil.example\"\""),
        "{text}"
    );
    assert_eq!(text.lines().count(), 5);

    // Rectifications as they stand, the overdue one marked; members with their ledger.
    let (_, _, _, bytes) = download(
        &server,
        &format!(
            "/api/v1/exports/rectifications?branch={}&period=2026",
            v.heyi
        ),
        &secretary,
    )
    .await;
    let (rows, _) = spreadsheet(bytes, "问题整改台账");
    // Five raised (one withdrawn); the fixture raised them at NOW, in October 2026.
    assert_eq!(rows.len(), 1 + 4, "{rows:?}");
    let overdue: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r.contains(&"逾期".to_owned()))
        .collect();
    assert_eq!(overdue.len(), 1);
    assert!(overdue[0].contains(&"路灯不亮".to_owned()));
    // Where each came from, and who answers for it.
    assert_eq!(rows[0][1], "来源");
    assert!(rows[1..].iter().all(|r| r[1] == "支部自查"), "{rows:?}");
    let (_, _, _, bytes) = download(
        &server,
        &format!("/api/v1/exports/visits?branch={}&period=2026-10", v.heyi),
        &secretary,
    )
    .await;
    let (rows, _) = spreadsheet(bytes, "走访台账");
    assert_eq!(rows[0][2], "方式");
    assert!(rows[1..].iter().all(|r| r[2] == "走访"), "{rows:?}");
    let (_, _, _, bytes) = download(
        &server,
        &format!("/api/v1/exports/members?branch={}", v.heyi),
        &secretary,
    )
    .await;
    let (rows, _) = spreadsheet(bytes, "党员台账");
    let li_row = rows
        .iter()
        .find(|r| r.contains(&"李章桂".to_owned()))
        .unwrap();
    for expected in ["是", "13800000001", "广东东莞", "电子厂"] {
        assert!(
            li_row.contains(&expected.to_owned()),
            "{expected} in {li_row:?}"
        );
    }
    assert_eq!(
        rows.len(),
        1 + 3,
        "li, the secretary and the deputy: {rows:?}"
    );

    // The township's ledger holds both branches; nobody else gets one.
    let township = token(&db.keys, &v.township_admin);
    let (_, _, _, bytes) = download(
        &server,
        &format!(
            "/api/v1/exports/lectures?township={}&period=2026-10",
            v.township
        ),
        &township,
    )
    .await;
    let (rows, _) = spreadsheet(bytes, "微党课台账");
    let branches: std::collections::BTreeSet<&str> =
        rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(branches, ["双桥村", "合益村"].into());
    for (path, who, status) in [
        (
            format!("/api/v1/exports/lectures?branch={}", v.heyi),
            token(&db.keys, li),
            403,
        ),
        (
            format!("/api/v1/exports/members?branch={}", v.heyi),
            token(&db.keys, &v.far_admin),
            404,
        ),
        (
            format!("/api/v1/exports/members?branch={}", v.shuangqiao),
            secretary.clone(),
            404,
        ),
        ("/api/v1/exports/ballots".to_owned(), secretary.clone(), 404),
        (
            "/api/v1/exports/lectures?format=pdf".to_owned(),
            secretary.clone(),
            422,
        ),
    ] {
        let (got, _, _, body) = download(&server, &path, &who).await;
        assert_eq!(got, status, "{path}: {}", String::from_utf8_lossy(&body));
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_year_end_material_gathers_a_branchs_year_and_its_supervision() {
    use client_core::model::supervision::{
        Assessment, Grade, Problem, SupervisionMethod, SupervisionNote,
    };
    let (db, server) = served().await;
    write_october(&db).await;
    let v = &db.v;
    let heyi = db.store.branch(v.heyi).await.unwrap().unwrap();
    let township = &v.township_admin;
    Writer::new(&db.store, NOW)
        .supervision(heyi.supervision_document, township, |s| {
            s.write_note(
                township,
                NOW,
                SupervisionNote {
                    method: SupervisionMethod::Forum,
                    at: cst("2026-10-20", 15, 0),
                    by: township.user,
                    body: "党群座谈：群众反映路灯不亮。".into(),
                    withdrawn: None,
                },
            )?;
            s.raise_problem(
                township,
                NOW,
                Problem {
                    problem: "三会一课记录不全".into(),
                    measure: "按月整理".into(),
                    deadline: "2020-06-30".parse().unwrap(),
                    standard: "资料齐全".into(),
                    owner: "赵杰辉".into(),
                    progress: Progress::default(),
                    evidence: Vec::new(),
                    created_by: township.user,
                    created_at: NOW,
                    withdrawn: None,
                },
            )?;
            // The assessment of 2026 is written in January 2027, and belongs to 2026.
            s.assess(
                township,
                NOW,
                Assessment {
                    year: 2026,
                    grade: Grade::Good,
                    summary: "主题党日按月开展，微党课覆盖面广。".into(),
                    by: township.user,
                    at: cst("2027-01-10", 10, 0),
                    withdrawn: None,
                },
            )?;
            Ok::<_, WriteError>(())
        })
        .await
        .unwrap();

    // Pledges: 李章桂's for 2026 on the wall (published twice, once after an edit), the
    // deputy's for 2026 taken down again, and 李章桂's for 2025: one member pledged in 2026.
    let w = Writer::new(&db.store, NOW);
    let deputy_notebook = db
        .store
        .notebook_in(v.deputy.user, v.heyi)
        .await
        .unwrap()
        .unwrap();
    let mut on_wall = Vec::new();
    for (who, notebook, year, times) in [
        (&v.li, v.notebook, 2026, 2),
        (&v.deputy, deputy_notebook, 2026, 1),
        (&v.li, v.notebook, 2025, 1),
    ] {
        let pledge = Pledge {
            year,
            member: who.user,
            commitments: vec![format!("{year} 年带头遵守村规民约")],
            created_at: NOW,
            withdrawn: None,
        };
        let id = w
            .notebook(notebook, who, |n| {
                Ok::<_, WriteError>(n.make_pledge(who, NOW, pledge.clone())?)
            })
            .await
            .unwrap();
        let source = RecordRef {
            notebook,
            kind: ReviewableKind::Pledge,
            id,
        };
        for _ in 0..times {
            let copy = w
                .branch(v.branch, &v.secretary, |b| {
                    Ok::<_, WriteError>(b.publish_pledge(&v.secretary, NOW, source, &pledge)?)
                })
                .await
                .unwrap();
            on_wall.push(copy);
        }
    }
    assert_eq!(
        on_wall[0], on_wall[1],
        "a republished pledge keeps its one copy"
    );
    w.branch(v.branch, &v.secretary, |b| {
        Ok::<_, WriteError>(b.withdraw::<FeedItem>(&v.secretary, NOW, on_wall[2], None)?)
    })
    .await
    .unwrap();

    let path = format!("/api/v1/statistics/year-end?branch={}&year=2026", v.heyi);
    let (status, year) = get(&server, &path, &token(&db.keys, township)).await;
    assert_eq!(status, 200, "{year}");
    assert_eq!(year["name"], "合益村");
    // September's, October's three and November's lecture.
    assert_eq!(year["figures"]["lectures"], 5);
    let plans = year["plans"].as_array().unwrap();
    assert_eq!(plans.len(), 12);
    assert_eq!(plans[9]["month"], "2026-10");
    assert_eq!(plans[9]["complete"], true);
    assert_eq!(plans[10]["planned"], false);
    let table = |title: &str| {
        year["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["title"] == title)
            .unwrap_or_else(|| panic!("no table {title}"))
            .clone()
    };
    // The branch's problem list: its four rectifications and the township's problem for it.
    let list = table("问题整改台账");
    let rows = list["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    let from_township: Vec<&Value> = rows.iter().filter(|r| r[1] == "乡镇督查").collect();
    assert_eq!(from_township.len(), 1);
    assert_eq!(from_township[0][3], "三会一课记录不全");
    let problems = table("督查问题清单");
    assert_eq!(problems["rows"][0][2], "三会一课记录不全");
    assert!(
        problems["rows"][0]
            .as_array()
            .unwrap()
            .contains(&"逾期".into())
    );
    assert_eq!(table("督查记录")["rows"][0][2], "党群座谈");
    let assessment = table("年度考核");
    assert_eq!(assessment["rows"].as_array().unwrap().len(), 1);
    assert_eq!(assessment["rows"][0][2], "较好");
    // The township's problem, past its deadline, escalates in the branch's figures.
    assert_eq!(year["figures"]["problems_open"], 1);
    assert_eq!(year["figures"]["problems_overdue"], 1);
    let (_, behind) = get(
        &server,
        &format!(
            "/api/v1/statistics/records?branch={}&figure=problems_overdue",
            v.heyi
        ),
        &token(&db.keys, township),
    )
    .await;
    assert_eq!(behind[0]["title"], "三会一课记录不全", "{behind}");
    assert_eq!(year["figures"]["members_pledged"], 1);
    let (_, pledged) = get(
        &server,
        &format!(
            "/api/v1/statistics/records?branch={}&period=2026&figure=members_pledged",
            v.heyi
        ),
        &token(&db.keys, township),
    )
    .await;
    assert_eq!(pledged.as_array().unwrap().len(), 1, "{pledged}");
    assert_eq!(pledged[0]["title"], "李章桂", "{pledged}");
    // A year's pledges count in the year, not in its months but January.
    for (period, pledged) in [("2025", 1), ("2026-01", 1), ("2026-10", 0), ("2026-Q1", 1)] {
        let (status, answer) = get(
            &server,
            &format!("/api/v1/statistics?branch={}&period={period}", v.heyi),
            &token(&db.keys, township),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let heyi = v.heyi.to_string();
        let line = answer["branches"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["branch"] == heyi.as_str())
            .unwrap();
        assert_eq!(line["members_pledged"], pledged, "{period}: {answer}");
    }

    // The branch's own admin reads it; another township's admin and a member do not; a
    // township is not a branch.
    let (status, _) = get(&server, &path, &token(&db.keys, &v.secretary)).await;
    assert_eq!(status, 200);
    let (status, _) = get(&server, &path, &token(&db.keys, &v.far_admin)).await;
    assert_eq!(status, 404);
    let (status, _) = get(&server, &path, &token(&db.keys, &v.li)).await;
    assert_eq!(status, 403);
    let (status, body) = get(
        &server,
        &format!("/api/v1/statistics/year-end?township={}", v.township),
        &token(&db.keys, township),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = get(
        &server,
        &format!("/api/v1/statistics/year-end?branch={}&year=2026-10", v.heyi),
        &token(&db.keys, township),
    )
    .await;
    assert_eq!(status, 422);
    server.stop().await.unwrap();
}
