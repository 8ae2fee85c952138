//! Exports: the ledgers (台账) a branch keeps and a township collects, as tables with Chinese
//! column headers, written as CSV or XLSX. A ledger is a list of columns, each saying where
//! its cells come from in a projected record; the store lists the records.
//!
//! Every text cell that a spreadsheet would read as a formula (starting with `=`, `+`, `-`,
//! `@`, a tab or a carriage return) is neutralised: a title typed as `=HYPERLINK(...)` must
//! stay a title in the secretary's spreadsheet.

use client_core::projection::Cell;
use client_core::{Date, Millis};

use crate::store::{LedgerRecord, Listing};

pub mod archive;
pub mod csv;
mod labels;
pub mod xlsx;

/// A ledger that can be exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ledger {
    Lectures,
    Services,
    Visits,
    Rectifications,
    Meetings,
    Members,
    /// The township's supervision of a branch (督查): its notes, its problem list, and the
    /// year-end assessments.
    SupervisionNotes,
    Problems,
    Assessments,
}

impl Ledger {
    pub const ALL: &[Ledger] = &[
        Ledger::Lectures,
        Ledger::Services,
        Ledger::Visits,
        Ledger::Rectifications,
        Ledger::Meetings,
        Ledger::Members,
        Ledger::SupervisionNotes,
        Ledger::Problems,
        Ledger::Assessments,
    ];

    /// The ledger by its name in URLs.
    pub fn named(name: &str) -> Option<Ledger> {
        Self::ALL.iter().copied().find(|l| l.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Ledger::Lectures => "lectures",
            Ledger::Services => "services",
            Ledger::Visits => "visits",
            Ledger::Rectifications => "rectifications",
            Ledger::Meetings => "meetings",
            Ledger::Members => "members",
            Ledger::SupervisionNotes => "supervision-notes",
            Ledger::Problems => "problems",
            Ledger::Assessments => "assessments",
        }
    }

    /// Its title, as the sheet and the file are called.
    pub fn title(self) -> &'static str {
        match self {
            Ledger::Lectures => "微党课台账",
            Ledger::Services => "志愿服务台账",
            Ledger::Visits => "走访台账",
            Ledger::Rectifications => "问题整改台账",
            Ledger::Meetings => "三会一课台账",
            Ledger::Members => "党员台账",
            Ledger::SupervisionNotes => "督查记录",
            Ledger::Problems => "督查问题清单",
            Ledger::Assessments => "年度考核",
        }
    }

    /// Which records it lists. Lectures, services and visits count once approved; the
    /// branch's own meetings as they stand, and its problem list (its rectifications and the
    /// township's problems for it) as it stands.
    pub fn listing(self) -> Listing {
        match self {
            Ledger::Lectures => Listing::Approved("lectures"),
            Ledger::Services => Listing::Approved("services"),
            Ledger::Visits => Listing::Approved("visits"),
            Ledger::Rectifications => Listing::Standing(&["rectifications", "problems"]),
            Ledger::Meetings => Listing::Standing(&["meetings"]),
            Ledger::Members => Listing::Members,
            Ledger::SupervisionNotes => Listing::Standing(&["notes"]),
            Ledger::Problems => Listing::Standing(&["problems"]),
            Ledger::Assessments => Listing::Standing(&["assessments"]),
        }
    }

    fn columns(self) -> &'static [Column] {
        use Source::*;
        match self {
            Ledger::Lectures => &[
                Column("支部", Branch),
                Column("时间", Time("held_at")),
                Column("题目", Text("title")),
                Column("类别", Choice("category")),
                Column("形式", Choice("venue")),
                Column("地点", Text("place")),
                Column("时长（分钟）", Number("duration_min")),
                Column("主讲人", Speakers),
                Column("记录人", Person("recorded_by")),
                Column("参加党员", People("attendees")),
                Column("参加党员人数", Count("attendees")),
                Column("群众人数", Number("audience")),
                Column("内容摘要", Text("summary")),
                Column("落实月计划", Text("plan")),
                Column("照片音视频", Media),
            ],
            Ledger::Services => &[
                Column("支部", Branch),
                Column("时间", Time("held_at")),
                Column("类型", Choice("kind")),
                Column("名称", Text("title")),
                Column("地点", Text("place")),
                Column("参加人员", People("participants")),
                Column("参加人数", Count("participants")),
                Column("每人时长（小时）", Number("hours")),
                Column("服务总时长（小时）", HoursServed),
                Column("受益人数", Number("beneficiaries")),
                Column("备注", Text("notes")),
                Column("落实月计划", Text("plan")),
                Column("记录人", Person("recorded_by")),
                Column("照片音视频", Media),
            ],
            Ledger::Visits => &[
                Column("支部", Branch),
                Column("时间", Time("visited_at")),
                Column("方式", Choice("kind")),
                Column("走访户", Text("household")),
                Column("走访人", People("visitors")),
                Column("群众需求和问题", Text("needs")),
                Column("跟进情况", Text("follow_up")),
                Column("记录人", Person("recorded_by")),
                Column("照片音视频", Media),
            ],
            Ledger::Rectifications => &[
                Column("支部", Branch),
                Column("来源", Origin),
                Column("提出时间", Time("created_at")),
                Column("问题", Text("problem")),
                Column("整改措施", Text("measure")),
                Column("完成时限", Text("deadline")),
                Column("工作标准", Text("standard")),
                Column("责任人", Responsible),
                Column("状态", Status),
                Column("是否逾期", Overdue),
                Column("佐证材料", Media),
            ],
            Ledger::Meetings => &[
                Column("支部", Branch),
                Column("时间", Time("held_at")),
                Column("类型", Choice("kind")),
                Column("议程", Text("agenda")),
                Column("出席人员", People("attendees")),
                Column("出席人数", Count("attendees")),
                Column("会议记录", Text("minutes")),
                Column("决定事项", Text("decisions")),
                Column("落实月计划", Text("plan")),
                Column("记录人", Person("recorded_by")),
            ],
            Ledger::Members => &[
                Column("支部", Branch),
                Column("姓名", Text("name")),
                Column("支部职务", Choice("role")),
                Column("流动党员", Flag("migrant")),
                Column("流入党员", Flag("inflow")),
                Column("老党员", Flag("elderly")),
                Column("体弱党员", Flag("infirm")),
                Column("银发党员", Flag("silver")),
                Column("联系电话", Text("phone")),
                Column("所在城市", Text("city")),
                Column("工作单位", Text("employer")),
                Column("结对帮学", Person("study_partner")),
                Column("加入支部", Time("joined_at")),
                Column("离开支部", Time("left_at")),
            ],
            Ledger::SupervisionNotes => &[
                Column("支部", Branch),
                Column("时间", Time("at")),
                Column("方式", Choice("method")),
                Column("内容", Text("body")),
                Column("督查人", Person("by")),
            ],
            Ledger::Problems => &[
                Column("支部", Branch),
                Column("提出时间", Time("created_at")),
                Column("问题", Text("problem")),
                Column("整改措施", Text("measure")),
                Column("完成时限", Text("deadline")),
                Column("工作标准", Text("standard")),
                Column("责任人", Text("owner")),
                Column("状态", Status),
                Column("是否逾期", Overdue),
                Column("佐证材料", Media),
            ],
            Ledger::Assessments => &[
                Column("支部", Branch),
                Column("年度", Number("year")),
                Column("等次", Choice("grade")),
                Column("评语", Text("summary")),
                Column("考核人", Person("by")),
                Column("时间", Time("at")),
            ],
        }
    }
}

/// Where a column's cells come from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// The branch's name.
    Branch,
    /// A text field as it is.
    Text(&'static str),
    /// A number field.
    Number(&'static str),
    /// A choice, by its Chinese name.
    Choice(&'static str),
    /// A time, as a day and minute in China Standard Time.
    Time(&'static str),
    /// The name of the person a field names.
    Person(&'static str),
    /// The names of the people a list names, joined with 、.
    People(&'static str),
    /// How many people a list names.
    Count(&'static str),
    /// A yes-or-no, as 是 or blank.
    Flag(&'static str),
    /// The speakers, with a guest speaker (土专家) who is not a member.
    Speakers,
    /// Hours per participant times participants.
    HoursServed,
    /// Where an item of the problem list came from: the township's supervision, a visit, or
    /// the branch itself.
    Origin,
    /// Who answers for an item of the problem list: a member of the branch, or the name the
    /// township wrote on its problem.
    Responsible,
    /// A rectification's progress.
    Status,
    /// Not done and past its deadline.
    Overdue,
    /// How many files the record references.
    Media,
}

/// A column: its header, and where its cells come from.
#[derive(Debug, Clone, Copy)]
struct Column(&'static str, Source);

/// A cell of an exported table; in JSON a string, a number or null.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Value {
    Text(String),
    Number(f64),
    Empty,
}

/// A table ready to be written.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Sheet {
    pub title: &'static str,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<Value>>,
}

/// The table of `ledger` for `records`; overdue is judged on `today`.
pub fn sheet(ledger: Ledger, records: &[LedgerRecord], today: Date) -> Sheet {
    let columns = ledger.columns();
    let mut rows: Vec<Vec<Value>> = records
        .iter()
        .map(|record| columns.iter().map(|c| cell(c.1, record, today)).collect())
        .collect();
    if ledger == Ledger::Members {
        // By branch, then by name: members have no time of their own.
        rows.sort_by(|a, b| text_of(&a[..2]).cmp(&text_of(&b[..2])));
    }
    Sheet {
        title: ledger.title(),
        headers: columns.iter().map(|c| c.0).collect(),
        rows,
    }
}

fn text_of(values: &[Value]) -> Vec<&str> {
    values
        .iter()
        .map(|v| match v {
            Value::Text(text) => text.as_str(),
            _ => "",
        })
        .collect()
}

fn cell(source: Source, record: &LedgerRecord, today: Date) -> Value {
    let text = |field: &str| match record.values.get(field) {
        Some(Cell::Text(text)) => Some(text.as_str()),
        _ => None,
    };
    let number = |field: &str| match record.values.get(field) {
        Some(Cell::Number(n)) => Some(*n),
        _ => None,
    };
    let people = |field: &str| record.people.get(field).map(Vec::as_slice).unwrap_or(&[]);
    let some_text = |text: Option<&str>| match text {
        Some(text) if !text.is_empty() => Value::Text(text.to_owned()),
        _ => Value::Empty,
    };
    match source {
        Source::Branch => Value::Text(record.branch.clone()),
        Source::Text(field) => some_text(text(field)),
        Source::Number(field) => number(field).map_or(Value::Empty, Value::Number),
        Source::Choice(field) => some_text(text(field).map(|code| labels::zh(field, code))),
        Source::Time(field) => {
            number(field).map_or(Value::Empty, |at| Value::Text(minute(Millis(at as i64))))
        }
        Source::Person(field) => some_text(
            record
                .names
                .get(field)
                .map(String::as_str)
                .or_else(|| text(field)),
        ),
        Source::People(field) => some_text(Some(&people(field).join("、"))),
        Source::Count(field) => Value::Number(people(field).len() as f64),
        Source::Flag(field) => match number(field) {
            Some(n) if n != 0.0 => Value::Text("是".into()),
            _ => Value::Empty,
        },
        Source::Speakers => {
            let mut speakers = people("speakers").to_vec();
            if let Some(guest) = text("guest_speaker").filter(|g| !g.is_empty()) {
                speakers.push(format!("{guest}（土专家）"));
            }
            some_text(Some(&speakers.join("、")))
        }
        Source::HoursServed => {
            Value::Number(number("hours").unwrap_or(0.0) * people("participants").len() as f64)
        }
        Source::Origin => Value::Text(
            match (record.collection.as_str(), record.from.as_deref()) {
                ("problems", _) => "乡镇督查",
                (_, Some("visits")) => "走访发现",
                _ => "支部自查",
            }
            .into(),
        ),
        Source::Responsible => match record.collection.as_str() {
            "problems" => some_text(text("owner")),
            _ => cell(Source::Person("responsible"), record, today),
        },
        Source::Status => Value::Text(labels::zh("status", &record.status).to_owned()),
        Source::Overdue => {
            let open = matches!(record.status.as_str(), "open" | "in_progress");
            let late = text("deadline")
                .and_then(|d| d.parse::<Date>().ok())
                .is_some_and(|deadline| deadline < today);
            if open && late {
                Value::Text("逾期".into())
            } else {
                Value::Empty
            }
        }
        Source::Media => Value::Number(record.media as f64),
    }
}

/// An instant as `YYYY-MM-DD HH:MM` in China Standard Time.
fn minute(at: Millis) -> String {
    let date = at.cst_date();
    let minutes = (at.0 - date.cst_start().0) / 60_000;
    format!("{date} {:02}:{:02}", minutes / 60, minutes % 60)
}

/// Whether a spreadsheet would take `text` for a formula (or a command, in old spreadsheets).
pub fn formula_like(text: &str) -> bool {
    text.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_like_text_is_recognised() {
        for text in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
        ] {
            assert!(formula_like(text), "{text:?}");
        }
        for text in ["学习二十大", "1+1", " =1", ""] {
            assert!(!formula_like(text), "{text:?}");
        }
    }

    #[test]
    fn times_are_written_in_beijing() {
        // 2026-10-31T15:30:00Z is 23:30 in Beijing.
        assert_eq!(minute(Millis(1_793_460_600_000)), "2026-10-31 23:30");
    }
}
