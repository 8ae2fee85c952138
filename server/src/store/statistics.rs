//! The figures branches report upward, counted in SQL over the projections (never by loading
//! documents): per branch, for the branches of a scope and a period, with the records behind
//! each figure, and each branch's monthly plan as it stands.
//!
//! The rules are client-core's (`views::figures`, `views::plan_progress`), restated as SQL;
//! the end-to-end tests check the two agree on the same documents. A member's record counts
//! while the review that stands on it (the latest review of the latest revision any admin
//! reviewed) approved it, with what that approval counts (`Counted`, projected as the
//! review's own fields): the branch document alone decides, as on every phone. Each record's
//! standing is kept with its reviews (`standings.rs`), so a period's figures are one pass
//! over the period's approvals.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

use super::sql::{Db, Params, Row, params};
use client_core::views::{self, Figures};
use client_core::{BranchId, Date, Millis, Month};
use serde::Serialize;

use super::{Result, Store, parse};

/// The approvals that stand (`standings.rs`) on the records of the branches of `scope` (a
/// JSON list) held in `[from, until)`, as rows of `standings s`: a range of the index of
/// approvals for each branch. The arguments are SQL placeholders or expressions.
pub(super) fn standing_approvals(scope: &str, from: &str, until: &str) -> String {
    format!(
        "s.decision = 'approved' AND s.branch IN (SELECT value FROM json_each({scope}))
         AND s.held_at >= {from} AND s.held_at < {until}"
    )
}

/// The branches figures are counted for: one, or all of a township's.
#[derive(Debug, Clone)]
pub struct Scope {
    pub branches: Vec<BranchId>,
}

impl Scope {
    pub(super) fn json(&self) -> String {
        let ids: Vec<String> = self.branches.iter().map(|b| b.to_string()).collect();
        serde_json::Value::from(ids).to_string()
    }
}

/// What figures are counted over: approved records held in `period`, and rectifications as
/// they stand on `today` (China Standard Time).
#[derive(Debug, Clone)]
pub struct Count {
    pub scope: Scope,
    pub period: Range<Millis>,
    pub today: Date,
}

/// One branch's figures, and the counts that need more than the branch document and its
/// members' notebooks.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BranchFigures {
    #[serde(flatten)]
    pub figures: Figures,
    /// Approved records of members the branch's ledger marks as migrant (流动党员).
    pub migrant_submissions: u64,
    /// The problems the township's supervision raised (督查问题) not yet done, and those of
    /// them past their deadline: what escalates to the township.
    pub problems_open: u64,
    pub problems_overdue: u64,
    /// Members whose pledge (承诺) is on the branch's wall for a year whose first day falls
    /// in the period: a figure of years, which a month other than January does not hold.
    pub members_pledged: u64,
}

/// The figures of each branch of a scope, and of all of them together.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    pub branches: BTreeMap<BranchId, BranchFigures>,
    /// The scope's total. Distinct members who lectured are distinct across the scope (a
    /// member who moved counts once); households are told apart per branch, since two villages
    /// may each have a 张家.
    pub total: BranchFigures,
}

/// A figure whose records can be listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// Approved lectures; behind `lectures`, `lecturers`, attendances, villagers and audience.
    Lectures,
    /// Approved services; behind participants and hours.
    Services,
    /// Approved visits; behind households visited.
    Visits,
    Screenings,
    RectificationsOpen,
    RectificationsOverdue,
    RectificationsDone,
    RectificationsVerified,
    MigrantSubmissions,
    ProblemsOpen,
    ProblemsOverdue,
    MembersPledged,
}

impl Figure {
    /// A figure by the name it has in `Figures`.
    pub fn named(name: &str) -> Option<Figure> {
        Some(match name {
            "lectures" | "lecturers" | "member_attendances" | "villagers" | "audience" => {
                Figure::Lectures
            }
            "services" | "volunteer_participants" | "volunteer_hours" => Figure::Services,
            "households_visited" => Figure::Visits,
            "screenings" => Figure::Screenings,
            "rectifications_open" => Figure::RectificationsOpen,
            "rectifications_overdue" => Figure::RectificationsOverdue,
            "rectifications_done" => Figure::RectificationsDone,
            "rectifications_verified" => Figure::RectificationsVerified,
            "migrant_submissions" => Figure::MigrantSubmissions,
            "problems_open" => Figure::ProblemsOpen,
            "problems_overdue" => Figure::ProblemsOverdue,
            "members_pledged" => Figure::MembersPledged,
            _ => return None,
        })
    }
}

/// A field and value the records behind a figure are narrowed to: lectures by category or
/// venue.
#[derive(Debug, Clone)]
pub struct Narrowing {
    pub field: &'static str,
    pub value: String,
}

/// A record behind a figure. Records are listed by when they happened; nobody is ranked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordLine {
    pub branch: String,
    pub document: String,
    pub collection: String,
    pub key: String,
    pub at: Option<Millis>,
    /// The title, household, film or problem.
    pub title: String,
    /// Whose record it is, or who recorded it for the branch.
    pub person: Option<String>,
    pub person_name: Option<String>,
    /// A rectification's deadline.
    pub deadline: Option<String>,
    pub status: String,
}

/// How far a branch has carried out a month's plan (一月一课一片一实践), by client-core's
/// rules (`views::plan_progress`): nothing is done of a month without a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PlanStanding {
    pub planned: bool,
    #[serde(flatten)]
    pub standing: views::PlanStanding,
}

impl Store {
    /// The figures of each branch in `count.scope`, and their total.
    pub async fn figures(&self, count: Count) -> Result<Tally> {
        self.read(move |connection| tally(connection, &count)).await
    }

    /// The records behind `figure` in `count`, oldest first, at most `limit`.
    pub async fn records_behind(
        &self,
        count: Count,
        figure: Figure,
        narrowing: Option<Narrowing>,
        limit: usize,
    ) -> Result<Vec<RecordLine>> {
        self.read(move |connection| behind(connection, &count, figure, narrowing, limit))
            .await
    }

    /// Each branch's standing on the plan of `month`.
    pub async fn plan_standing(
        &self,
        scope: Scope,
        month: Month,
    ) -> Result<BTreeMap<BranchId, PlanStanding>> {
        self.read(move |connection| plans(connection, &scope, month))
            .await
    }
}

/// The rows of `sql`, whose first column is a branch id, each read by `read`.
fn branch_rows<T>(
    connection: &Db,
    sql: &str,
    values: impl Params,
    read: impl Fn(&Row<'_>) -> Result<T>,
) -> Result<Vec<(BranchId, T)>> {
    let mut statement = connection.prepare(sql)?;
    let mut rows = statement.query(values)?;
    let mut read_rows = Vec::new();
    while let Some(row) = rows.next()? {
        let branch: BranchId = parse(&row.get::<_, String>(0)?, "branch id")?;
        read_rows.push((branch, read(&row)?));
    }
    Ok(read_rows)
}

fn figures_of(branches: &mut BTreeMap<BranchId, BranchFigures>, branch: BranchId) -> &mut Figures {
    &mut branches.entry(branch).or_default().figures
}

/// A count from SQL, which is never negative.
fn counted(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The live copies on the wall of the scope's branches (`?1`) of pledges for years that begin
/// in `[start, end)`, as `records r`.
fn pledges_on_wall(start: &str, end: &str) -> String {
    format!(
        "r.collection = 'feed' AND r.subject_collection = 'pledges' AND r.status <> 'withdrawn'
         AND r.branch IN (SELECT value FROM json_each(?1))
         AND r.occurred_at >= {start} AND r.occurred_at < {end}"
    )
}

fn tally(connection: &Db, count: &Count) -> Result<Tally> {
    let mut branches: BTreeMap<BranchId, BranchFigures> = count
        .scope
        .branches
        .iter()
        .map(|&b| (b, BranchFigures::default()))
        .collect();
    let period = params![count.scope.json(), count.period.start.0, count.period.end.0];
    let approvals = standing_approvals("?1", "?2", "?3");

    // A migrant member is one the branch's ledger marks so, and whose entry stands.
    let mut migrants: HashMap<BranchId, HashSet<String>> = HashMap::new();
    for (branch, member) in branch_rows(
        connection,
        "SELECT l.branch, l.key FROM records l
         CROSS JOIN record_values m ON m.document = l.document AND m.collection = l.collection
           AND m.key = l.key AND m.field = 'migrant' AND m.number = 1
         WHERE l.collection = 'entries' AND l.status <> 'withdrawn'
           AND l.branch IN (SELECT value FROM json_each(?1))",
        [count.scope.json()],
        |row| row.get::<_, String>(1),
    )? {
        migrants.entry(branch).or_default().insert(member);
    }
    // The members' approved records, in one pass over the period's approvals (read from
    // their index alone), counted as `views::figures` counts them. Lecturers and households
    // are distinct values, told apart here: households trimmed as devices trim them (Unicode
    // white space, such as a full-width space, included). A visit's approval counts its
    // household as its title.
    let mut lecturers: BTreeMap<BranchId, HashSet<String>> = BTreeMap::new();
    let mut households: BTreeMap<BranchId, HashSet<String>> = BTreeMap::new();
    let mut statement = connection.prepare(&format!(
        "SELECT s.branch, s.subject_collection, s.owner, s.category, s.venue, s.audience,
                s.attendees, s.participants, s.hours, s.speakers, s.title
         FROM standings s WHERE {approvals}"
    ))?;
    let mut rows = statement.query(period)?;
    // Approvals come branch by branch: the branch's id is read once.
    let mut branch: Option<(String, BranchId)> = None;
    while let Some(row) = rows.next()? {
        let spelled: String = row.get(0)?;
        let id = match &branch {
            Some((known, id)) if *known == spelled => *id,
            _ => {
                let id = parse(&spelled, "branch id")?;
                branch = Some((spelled, id));
                id
            }
        };
        let line = branches.entry(id).or_default();
        if let Some(owner) = row.get::<_, Option<String>>(2)?
            && migrants.get(&id).is_some_and(|m| m.contains(&owner))
        {
            line.migrant_submissions += 1;
        }
        let figures = &mut line.figures;
        match row.get::<_, String>(1)?.as_str() {
            "lectures" => {
                figures.lectures += 1;
                for (choices, column) in [
                    (&mut figures.lectures_by_category, 3),
                    (&mut figures.lectures_by_venue, 4),
                ] {
                    if let Some(choice) = row.get::<_, Option<String>>(column)? {
                        *choices.entry(choice).or_default() += 1;
                    }
                }
                // Validation keeps audiences non-negative; a negative one could only be
                // hostile.
                let audience = row.get::<_, Option<f64>>(5)?.unwrap_or(0.0);
                figures.villagers += audience.max(0.0) as u64;
                figures.member_attendances += counted(row.get(6)?);
                let speakers: String = row.get(9)?;
                let told = lecturers.entry(id).or_default();
                for speaker in speakers.split(' ').filter(|s| !s.is_empty()) {
                    if !told.contains(speaker) {
                        told.insert(speaker.to_owned());
                    }
                }
            }
            "services" => {
                let participants = counted(row.get(7)?);
                figures.services += 1;
                figures.volunteer_participants += participants;
                figures.volunteer_hours +=
                    row.get::<_, Option<f64>>(8)?.unwrap_or(0.0) * participants as f64;
            }
            "visits" => {
                let title = row.get::<_, Option<String>>(10)?.unwrap_or_default();
                households
                    .entry(id)
                    .or_default()
                    .insert(title.trim().to_owned());
            }
            _ => {}
        }
    }
    for (branch, people) in &lecturers {
        figures_of(&mut branches, *branch).lecturers = counted(people.len() as i64);
    }
    for (branch, names) in &households {
        figures_of(&mut branches, *branch).households_visited = counted(names.len() as i64);
    }
    for (branch, n) in branch_rows(
        connection,
        "SELECT branch, count(*) FROM records
         WHERE collection = 'screenings' AND status <> 'withdrawn'
           AND branch IN (SELECT value FROM json_each(?1))
           AND occurred_at >= ?2 AND occurred_at < ?3
         GROUP BY branch",
        period,
        |row| Ok(counted(row.get(1)?)),
    )? {
        figures_of(&mut branches, branch).screenings = n;
    }
    // A pledge's copy on the wall is dated the first moment of the year it is for.
    for (branch, n) in branch_rows(
        connection,
        &format!(
            "SELECT branch, count(DISTINCT subject_document) FROM records r
             WHERE {}
             GROUP BY branch",
            pledges_on_wall("?2", "?3")
        ),
        period,
        |row| Ok(counted(row.get(1)?)),
    )? {
        branches.entry(branch).or_default().members_pledged = n;
    }
    // The branch's own rectifications, and the problems the township raised, as they stand.
    for (branch, (collection, status, late, n)) in branch_rows(
        connection,
        "SELECT r.branch, r.collection, r.status, CASE WHEN t.text < ?2 THEN 1 ELSE 0 END, count(*)
         FROM records r LEFT JOIN record_values t
           ON t.document = r.document AND t.collection = r.collection AND t.key = r.key
          AND t.field = 'deadline'
         WHERE r.collection IN ('rectifications', 'problems') AND r.status <> 'withdrawn'
           AND r.branch IN (SELECT value FROM json_each(?1))
         GROUP BY r.branch, r.collection, r.status, 4",
        params![count.scope.json(), count.today.to_string()],
        |row| {
            Ok((
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, bool>(3)?,
                counted(row.get(4)?),
            ))
        },
    )? {
        let line = branches.entry(branch).or_default();
        let open = matches!(status.as_str(), "open" | "in_progress");
        if collection == "problems" {
            if open {
                line.problems_open += n;
                if late {
                    line.problems_overdue += n;
                }
            }
            continue;
        }
        let figures = &mut line.figures;
        match status.as_str() {
            _ if open => {
                figures.rectifications_open += n;
                if late {
                    figures.rectifications_overdue += n;
                }
            }
            "done" => figures.rectifications_done += n,
            "verified" => figures.rectifications_verified += n,
            _ => {}
        }
    }
    for figures in branches.values_mut() {
        let f = &mut figures.figures;
        f.audience = f.member_attendances + f.villagers;
    }

    let mut total = BranchFigures::default();
    for branch in branches.values() {
        total.add(branch);
    }
    let everyone: HashSet<&String> = lecturers.values().flatten().collect();
    total.figures.lecturers = counted(everyone.len() as i64);
    Ok(Tally { branches, total })
}

impl BranchFigures {
    /// Adds another branch's figures to these, except distinct lecturers, which only the
    /// people themselves can tell.
    fn add(&mut self, other: &BranchFigures) {
        let (f, o) = (&mut self.figures, &other.figures);
        f.lectures += o.lectures;
        for (choice, n) in &o.lectures_by_category {
            *f.lectures_by_category.entry(choice.clone()).or_default() += n;
        }
        for (choice, n) in &o.lectures_by_venue {
            *f.lectures_by_venue.entry(choice.clone()).or_default() += n;
        }
        f.member_attendances += o.member_attendances;
        f.villagers += o.villagers;
        f.audience += o.audience;
        f.services += o.services;
        f.volunteer_participants += o.volunteer_participants;
        f.volunteer_hours += o.volunteer_hours;
        f.households_visited += o.households_visited;
        f.screenings += o.screenings;
        f.rectifications_open += o.rectifications_open;
        f.rectifications_overdue += o.rectifications_overdue;
        f.rectifications_done += o.rectifications_done;
        f.rectifications_verified += o.rectifications_verified;
        self.migrant_submissions += other.migrant_submissions;
        self.problems_open += other.problems_open;
        self.problems_overdue += other.problems_overdue;
        self.members_pledged += other.members_pledged;
    }
}

/// The field that names a record in a list, by collection, read from where the record's
/// values are (`r.vdocument`, `r.vcollection`, `r.vkey`).
const TITLE: &str = "coalesce(
    (SELECT text FROM record_values t WHERE t.document = r.vdocument
       AND t.collection = r.vcollection AND t.key = r.vkey
       AND t.field IN ('title', 'household', 'film', 'problem')), '')";

/// A row of `records r` as a line of `behind`'s list, whose values are its own.
const OWN_VALUES: &str = "r.branch, r.document, r.collection, r.key, r.occurred_at, r.owner,
    r.status, r.document AS vdocument, r.collection AS vcollection, r.key AS vkey";

/// The approvals of the period (`?3`, `?4`) of the scope (`?1`) as lines of `behind`'s list:
/// the member's record, with the values its approval counts.
fn approved_lines() -> String {
    format!(
        "SELECT s.branch, s.subject_document AS document, s.subject_collection AS collection,
             s.subject AS key, s.held_at AS occurred_at, s.owner, 'approved' AS status,
             s.document AS vdocument, 'reviews' AS vcollection, s.review AS vkey
         FROM standings s WHERE {}",
        standing_approvals("?1", "?3", "?4")
    )
}

fn behind(
    connection: &Db,
    count: &Count,
    figure: Figure,
    narrowing: Option<Narrowing>,
    limit: usize,
) -> Result<Vec<RecordLine>> {
    // A member's record as its approval counts it: when it was held, its title and choices
    // are the approval's, which stay while its member edits it again.
    let approved = |kind: &str| format!("{} AND s.subject_collection = '{kind}'", approved_lines());
    let standing = |collection: &str, which: &str| {
        format!(
            "SELECT {OWN_VALUES} FROM records r
             LEFT JOIN record_values d ON d.document = r.document
               AND d.collection = r.collection AND d.key = r.key AND d.field = 'deadline'
             WHERE r.collection = '{collection}'
               AND r.branch IN (SELECT value FROM json_each(?1)) AND {which}"
        )
    };
    let rectifications = |which: &str| standing("rectifications", which);
    let source = match figure {
        Figure::Lectures => approved("lectures"),
        Figure::Services => approved("services"),
        Figure::Visits => approved("visits"),
        Figure::MigrantSubmissions => format!(
            "{} AND EXISTS (SELECT 1 FROM records l
                 CROSS JOIN record_values m ON m.document = l.document
                   AND m.collection = l.collection AND m.key = l.key AND m.field = 'migrant'
                   AND m.number = 1
                 WHERE l.collection = 'entries' AND l.key = s.owner AND l.branch = s.branch
                   AND l.status <> 'withdrawn')",
            approved_lines()
        ),
        Figure::Screenings => format!(
            "SELECT {OWN_VALUES} FROM records r
             WHERE r.collection = 'screenings' AND r.status <> 'withdrawn'
               AND r.branch IN (SELECT value FROM json_each(?1))
               AND r.occurred_at >= ?3 AND r.occurred_at < ?4"
        ),
        Figure::MembersPledged => format!(
            "SELECT {OWN_VALUES} FROM records r WHERE {}",
            pledges_on_wall("?3", "?4")
        ),
        Figure::RectificationsOpen => rectifications("r.status IN ('open', 'in_progress')"),
        Figure::RectificationsOverdue => {
            rectifications("r.status IN ('open', 'in_progress') AND d.text < ?2")
        }
        Figure::RectificationsDone => rectifications("r.status = 'done'"),
        Figure::RectificationsVerified => rectifications("r.status = 'verified'"),
        Figure::ProblemsOpen => standing("problems", "r.status IN ('open', 'in_progress')"),
        Figure::ProblemsOverdue => standing(
            "problems",
            "r.status IN ('open', 'in_progress') AND d.text < ?2",
        ),
    };
    let narrowed = match &narrowing {
        Some(_) => {
            "AND EXISTS (SELECT 1 FROM record_values n WHERE n.document = r.vdocument
               AND n.collection = r.vcollection AND n.key = r.vkey AND n.field = ?5
               AND n.text = ?6)"
        }
        None => "AND CAST(?5 AS TEXT) IS NULL AND CAST(?6 AS TEXT) IS NULL",
    };
    let sql = format!(
        "WITH listed AS ({source})
         SELECT r.branch, r.document, r.collection, r.key, r.occurred_at, {TITLE}, r.owner,
                (SELECT name FROM users WHERE id = r.owner),
                (SELECT text FROM record_values t WHERE t.document = r.vdocument
                   AND t.collection = r.vcollection AND t.key = r.vkey
                   AND t.field = 'deadline'),
                r.status
         FROM listed r WHERE 1 = 1 {narrowed}
         ORDER BY r.occurred_at, r.key
         LIMIT ?7"
    );
    let (field, value) = match narrowing {
        Some(n) => (Some(n.field), Some(n.value)),
        None => (None, None),
    };
    let lines = branch_rows(
        connection,
        &sql,
        params![
            count.scope.json(),
            count.today.to_string(),
            count.period.start.0,
            count.period.end.0,
            field,
            value,
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
        |row| {
            Ok(RecordLine {
                branch: row.get(0)?,
                document: row.get(1)?,
                collection: row.get(2)?,
                key: row.get(3)?,
                at: row.get::<_, Option<i64>>(4)?.map(Millis),
                title: row.get(5)?,
                person: row.get(6)?,
                person_name: row.get(7)?,
                deadline: row.get(8)?,
                status: row.get(9)?,
            })
        },
    )?;
    Ok(lines.into_iter().map(|(_, line)| line).collect())
}

fn plans(connection: &Db, scope: &Scope, month: Month) -> Result<BTreeMap<BranchId, PlanStanding>> {
    let range = month.first_day().cst_start()..month.next().first_day().cst_start();
    // Every branch's parts at once, never all of a branch's records: a member's record
    // carries out a part by its standing approval, linked to the plan and held in the month
    // (the month's approvals, by their index), by client-core's `plan_progress` rules; the
    // practice only if someone served, for some hours. The film is a screening linked to the
    // plan (few rows, by the partial index of what names a plan).
    let sql = format!(
        "SELECT s.branch, CASE s.subject_collection WHEN 'lectures' THEN 'lecture'
                                                     ELSE 'practice' END
         FROM standings s
         WHERE {} AND s.plan = ?2
           AND (s.subject_collection = 'lectures'
                OR (s.subject_collection = 'services' AND s.hours > 0 AND s.participants > 0))
         UNION
         SELECT r.branch, 'film'
         FROM record_values p CROSS JOIN records r
           ON r.document = p.document AND r.collection = p.collection AND r.key = p.key
         WHERE p.collection = 'screenings' AND p.field = 'plan' AND p.text = ?2
           AND r.branch IN (SELECT value FROM json_each(?1)) AND r.status <> 'withdrawn'
           AND r.occurred_at >= ?3 AND r.occurred_at < ?4
         UNION
         SELECT r.branch, 'theme_day'
         FROM records r JOIN record_values k
           ON k.document = r.document AND k.collection = r.collection AND k.key = r.key
         WHERE r.collection = 'meetings' AND r.branch IN (SELECT value FROM json_each(?1))
           AND r.status <> 'withdrawn' AND r.occurred_at >= ?3 AND r.occurred_at < ?4
           AND k.field = 'kind' AND k.text = 'theme_day'
         UNION
         SELECT r.branch, 'planned' FROM records r
         WHERE r.collection = 'plans' AND r.key = ?2 AND r.status <> 'withdrawn'
           AND r.branch IN (SELECT value FROM json_each(?1))",
        standing_approvals("?1", "?3", "?4")
    );
    let mut standings: BTreeMap<BranchId, PlanStanding> = scope
        .branches
        .iter()
        .map(|&branch| (branch, PlanStanding::default()))
        .collect();
    for (branch, part) in branch_rows(
        connection,
        &sql,
        params![scope.json(), month.to_string(), range.start.0, range.end.0],
        |row| row.get::<_, String>(1),
    )? {
        let standing = standings.entry(branch).or_default();
        match part.as_str() {
            "planned" => standing.planned = true,
            "lecture" => standing.standing.lecture_done = true,
            "film" => standing.standing.film_done = true,
            "practice" => standing.standing.practice_done = true,
            _ => standing.standing.theme_day_held = true,
        }
    }
    for standing in standings.values_mut() {
        // Without a plan there is nothing to carry out, as on a phone.
        if !standing.planned {
            standing.standing = views::PlanStanding::default();
        }
        let parts = &mut standing.standing;
        parts.complete = parts.lecture_done && parts.film_done && parts.practice_done;
    }
    Ok(standings)
}
