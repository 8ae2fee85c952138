//! What each document kind may contain, as data: every collection, every field, its shape and
//! its limits. The validator ([`crate::validate`]) walks documents against these tables.
//!
//! Keeping the schema as data, apart from the Rust types, lets the server check hostile input
//! without first building typed values from it, and gives one place to read every limit.

use crate::document::DocKind;
use crate::model::branch::{BranchRole, Decision, MeetingKind};
use crate::model::common::{ReviewableKind, SubmissionState};
use crate::model::ledger::ContactKind;
use crate::model::notebook::{LectureCategory, ServiceKind, Venue, VisitKind};
use crate::model::supervision::{Grade, SupervisionMethod};

/// The shape a value must have.
#[derive(Debug)]
pub enum Shape {
    /// A scalar string of at most `max` characters (Unicode code points).
    Str {
        max: usize,
    },
    /// A scalar string that must not be empty.
    Name {
        max: usize,
    },
    /// A collaborative text object of at most `max` characters.
    Prose {
        max: usize,
    },
    /// A scalar string from a closed list.
    Enum(&'static [&'static str]),
    Int {
        min: i64,
        max: i64,
    },
    Float {
        min: f64,
        max: f64,
    },
    Bool,
    /// An Automerge timestamp between 2000 and 2100.
    Time,
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM`.
    Month,
    /// A canonical UUID string (a record or a person).
    Uuid,
    /// An automerge-repo document id.
    DocumentId,
    /// 64 lower-case hex digits.
    Sha256,
    /// `image/…`, `audio/…` or `video/…`.
    MediaType,
    /// The inner shape, or null, or absent.
    Optional(&'static Shape),
    List {
        item: &'static Shape,
        max: usize,
    },
    Object(&'static [Field]),
    /// A map keyed by record id, of at most `max` entries.
    MapOf {
        item: &'static Shape,
        max: usize,
    },
    /// A shape defined once and used by several fields.
    Shared(&'static Shape),
}

/// A named field of an object.
#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub shape: Shape,
}

const fn field(name: &'static str, shape: Shape) -> Field {
    Field { name, shape }
}

/// How the records of a collection are keyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyShape {
    /// A UUIDv7 made on the device: the default.
    RecordId,
    /// A person: one entry per member (roster, ledger).
    UserId,
    /// An election's id: one ballot per member and election.
    ElectionId,
    /// A month: one plan per month, so concurrent planning merges into one plan.
    Month,
}

/// Who must a record name as its author, and who may move it forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Records of a notebook: `field` must be the notebook's owner.
    NotebookOwner { field: &'static str },
    /// Shared records: `field` must be one of the authors of the change that created it.
    Author { field: &'static str },
    /// No author field (the roster, written as the branch's membership changes).
    None,
}

/// One collection of records inside a document.
#[derive(Debug)]
pub struct Collection {
    pub name: &'static str,
    pub kind: DocKind,
    pub key: KeyShape,
    pub max_records: usize,
    pub record: &'static [Field],
    pub ownership: Ownership,
    /// Fields that never change once the record exists.
    pub immutable: &'static [&'static str],
}

const MAX_TITLE: usize = 200;
pub const MAX_NAME: usize = 100;
const MAX_PARAGRAPH: usize = 2_000;
const MAX_LONG_TEXT: usize = 20_000;
const MAX_PEOPLE: usize = 1_000;
const MAX_MEDIA: usize = 50;
const MAX_COUNT: i64 = 1_000_000;

const UUID: Shape = Shape::Uuid;
static PEOPLE: Shape = Shape::List {
    item: &UUID,
    max: MAX_PEOPLE,
};

static MEDIA_REF: Shape = Shape::Object(&[
    field("sha256", Shape::Sha256),
    field(
        "size",
        Shape::Int {
            min: 0,
            max: 1 << 40,
        },
    ),
    field("media_type", Shape::MediaType),
    field(
        "duration_ms",
        Shape::Optional(&Shape::Int {
            min: 0,
            max: 24 * 3_600_000,
        }),
    ),
    field("caption", Shape::Optional(&Shape::Str { max: MAX_TITLE })),
]);
/// Villagers (群众) present: at a lecture, a screening.
static AUDIENCE: Shape = Shape::Int {
    min: 0,
    max: MAX_COUNT,
};

/// Hours each participant served in a day's volunteer service.
static HOURS: Shape = Shape::Float {
    min: 0.0,
    max: 24.0,
};

static MEDIA: Shape = Shape::List {
    item: &MEDIA_REF,
    max: MAX_MEDIA,
};

static GPS: Shape = Shape::Object(&[
    field(
        "lat",
        Shape::Float {
            min: -90.0,
            max: 90.0,
        },
    ),
    field(
        "lon",
        Shape::Float {
            min: -180.0,
            max: 180.0,
        },
    ),
    field(
        "accuracy_m",
        Shape::Float {
            min: 0.0,
            max: 100_000.0,
        },
    ),
]);

static WITHDRAWAL: Shape = Shape::Object(&[
    field("at", Shape::Time),
    field("by", Shape::Uuid),
    field(
        "reason",
        Shape::Optional(&Shape::Str { max: MAX_PARAGRAPH }),
    ),
]);

static SUBMISSION: Shape = Shape::Object(&[
    field("state", Shape::Enum(SubmissionState::NAMES)),
    field(
        "revision",
        Shape::Int {
            min: 0,
            max: 10_000,
        },
    ),
    field("submitted_at", Shape::Optional(&Shape::Time)),
]);

static RECORD_REF: Shape = Shape::Object(&[
    field("notebook", Shape::DocumentId),
    field("kind", Shape::Enum(ReviewableKind::NAMES)),
    field("id", Shape::Uuid),
]);

static STEP: Shape = Shape::Object(&[
    field("at", Shape::Time),
    field("by", Shape::Uuid),
    field("note", Shape::Optional(&Shape::Str { max: MAX_PARAGRAPH })),
]);
static PROGRESS: Shape = Shape::Object(&[
    field("in_progress", Shape::Optional(&STEP)),
    field("done", Shape::Optional(&STEP)),
    field("verified", Shape::Optional(&STEP)),
]);

// ---- meta --------------------------------------------------------------------------------

/// The `meta` map the server writes when it creates a document; it never changes afterwards.
pub static META: &[Field] = &[
    field("kind", Shape::Enum(DocKind::NAMES)),
    field("schema", Shape::Int { min: 1, max: 1 }),
    field("branch", Shape::Uuid),
    field("township", Shape::Uuid),
    field("owner", Shape::Optional(&UUID)),
    field("created_at", Shape::Time),
];

// ---- notebook ----------------------------------------------------------------------------

static LECTURE: &[Field] = &[
    field("title", Shape::Name { max: MAX_TITLE }),
    field("category", Shape::Enum(LectureCategory::NAMES)),
    field("venue", Shape::Enum(Venue::NAMES)),
    field("held_at", Shape::Time),
    field(
        "duration_min",
        Shape::Int {
            min: 1,
            max: 24 * 60,
        },
    ),
    field("place", Shape::Str { max: MAX_TITLE }),
    field("gps", Shape::Optional(&GPS)),
    field(
        "speakers",
        Shape::List {
            item: &UUID,
            max: 20,
        },
    ),
    field(
        "guest_speaker",
        Shape::Optional(&Shape::Str { max: MAX_NAME }),
    ),
    field("recorded_by", Shape::Uuid),
    field("attendees", Shape::Shared(&PEOPLE)),
    field("audience", Shape::Shared(&AUDIENCE)),
    field("summary", Shape::Str { max: MAX_LONG_TEXT }),
    field("media", Shape::Shared(&MEDIA)),
    field("plan", Shape::Optional(&Shape::Month)),
    field("submission", Shape::Shared(&SUBMISSION)),
    field("created_at", Shape::Time),
    field("withdrawn", Shape::Optional(&WITHDRAWAL)),
];

static SERVICE: &[Field] = &[
    field("kind", Shape::Enum(ServiceKind::NAMES)),
    field("title", Shape::Name { max: MAX_TITLE }),
    field("held_at", Shape::Time),
    field("hours", Shape::Shared(&HOURS)),
    field("participants", Shape::Shared(&PEOPLE)),
    field(
        "beneficiaries",
        Shape::Int {
            min: 0,
            max: MAX_COUNT,
        },
    ),
    field("place", Shape::Str { max: MAX_TITLE }),
    field("notes", Shape::Str { max: MAX_LONG_TEXT }),
    field("media", Shape::Shared(&MEDIA)),
    field("plan", Shape::Optional(&Shape::Month)),
    field("recorded_by", Shape::Uuid),
    field("submission", Shape::Shared(&SUBMISSION)),
    field("created_at", Shape::Time),
    field("withdrawn", Shape::Optional(&WITHDRAWAL)),
];

static VISIT: &[Field] = &[
    field("kind", Shape::Optional(&Shape::Enum(VisitKind::NAMES))),
    field("household", Shape::Name { max: MAX_NAME }),
    field(
        "visitors",
        Shape::List {
            item: &UUID,
            max: 20,
        },
    ),
    field("visited_at", Shape::Time),
    field("needs", Shape::Str { max: MAX_LONG_TEXT }),
    field("follow_up", Shape::Str { max: MAX_LONG_TEXT }),
    field("media", Shape::Shared(&MEDIA)),
    field("recorded_by", Shape::Uuid),
    field("submission", Shape::Shared(&SUBMISSION)),
    field("created_at", Shape::Time),
    field("withdrawn", Shape::Optional(&WITHDRAWAL)),
];

static BALLOT: &[Field] = &[
    field("voter", Shape::Uuid),
    field(
        "choices",
        Shape::List {
            item: &UUID,
            max: 100,
        },
    ),
    field("cast_at", Shape::Time),
];

static PLEDGE: &[Field] = &[
    field(
        "year",
        Shape::Int {
            min: 2000,
            max: 2099,
        },
    ),
    field("member", Shape::Uuid),
    field(
        "commitments",
        Shape::List {
            item: &Shape::Name { max: MAX_PARAGRAPH },
            max: 20,
        },
    ),
    field("created_at", Shape::Time),
    field("withdrawn", Shape::Optional(&WITHDRAWAL)),
];

// ---- branch ------------------------------------------------------------------------------

static ROSTER_ENTRY: &[Field] = &[
    field("name", Shape::Name { max: MAX_NAME }),
    field("role", Shape::Enum(BranchRole::NAMES)),
    field("notebook", Shape::DocumentId),
    field("joined_at", Shape::Time),
    field("left_at", Shape::Optional(&Shape::Time)),
    field("silver", Shape::Bool),
    field("lecturer", Shape::Optional(&Shape::Bool)),
];

static PLAN: &[Field] = &[
    field("lecture_topic", Shape::Str { max: MAX_TITLE }),
    field("lecture_speaker", Shape::Optional(&UUID)),
    field("film_title", Shape::Str { max: MAX_TITLE }),
    field("practice", Shape::Str { max: MAX_TITLE }),
    field("theme_day", Shape::Optional(&Shape::Date)),
    field("notes", Shape::Prose { max: MAX_LONG_TEXT }),
    field("created_by", Shape::Uuid),
    field("created_at", Shape::Time),
    field("withdrawn", Shape::Optional(&WITHDRAWAL)),
];

static SCHEDULE_ENTRY: &[Field] = &[
    field("date", Shape::Date),
    field("speaker", Shape::Optional(&UUID)),
    field(
        "guest_speaker",
        Shape::Optional(&Shape::Name { max: MAX_NAME }),
    ),
    field("topic", Shape::Name { max: MAX_TITLE }),
    field("venue", Shape::Enum(Venue::NAMES)),
    field("created_by", Shape::Uuid),
    field("withdrawn", Shape::Optional(&WITHDRAWAL)),
];

static MEETING: &[Field] = &[
    field("kind", Shape::Enum(MeetingKind::NAMES)),
    field("held_at", Shape::Time),
    field("attendees", Shape::Shared(&PEOPLE)),
    field("agenda", Shape::Str { max: MAX_PARAGRAPH }),
    field("minutes", Shape::Prose { max: MAX_LONG_TEXT }),
    field(
        "decisions",
        Shape::List {
            item: &Shape::Name { max: MAX_PARAGRAPH },
            max: 50,
        },
    ),
    field("plan", Shape::Optional(&Shape::Month)),
    field("recorded_by", Shape::Uuid),
    field("created_at", Shape::Time),
    field("withdrawn", Shape::Optional(&WITHDRAWAL)),
];

static SCREENING: &[Field] = &[
    field("film", Shape::Name { max: MAX_TITLE }),
    field("held_at", Shape::Time),
    field("place", Shape::Str { max: MAX_TITLE }),
    field("attendees", Shape::Shared(&PEOPLE)),
    field("audience", Shape::Shared(&AUDIENCE)),
    field("discussion", Shape::Str { max: MAX_LONG_TEXT }),
    field("media", Shape::Optional(&MEDIA)),
    field("plan", Shape::Optional(&Shape::Month)),
    field("recorded_by", Shape::Uuid),
    field("created_at", Shape::Time),
    field("withdrawn", Shape::Optional(&WITHDRAWAL)),
];

static REVIEW: &[Field] = &[
    field("record", Shape::Shared(&RECORD_REF)),
    field(
        "revision",
        Shape::Int {
            min: 1,
            max: 10_000,
        },
    ),
    field("decision", Shape::Enum(Decision::NAMES)),
    field("comment", Shape::Str { max: MAX_PARAGRAPH }),
    field("reviewer", Shape::Uuid),
    field("at", Shape::Time),
    field("publish", Shape::Bool),
    field("fine_example", Shape::Bool),
    field("counted", Shape::Optional(&COUNTED)),
];

/// What an approval counts (`model::branch::Counted`): the largest of each record kind's
/// limits, since one shape serves lectures, services and visits.
pub static COUNTED: Shape = Shape::Object(COUNTED_FIELDS);
pub static COUNTED_FIELDS: &[Field] = &[
    field("title", Shape::Str { max: MAX_TITLE }),
    field("held_at", Shape::Time),
    field("plan", Shape::Optional(&Shape::Month)),
    field(
        "category",
        Shape::Optional(&Shape::Enum(LectureCategory::NAMES)),
    ),
    field("venue", Shape::Optional(&Shape::Enum(Venue::NAMES))),
    field("speakers", Shape::Shared(&PEOPLE)),
    field("attendees", Shape::Shared(&PEOPLE)),
    field("audience", Shape::Shared(&AUDIENCE)),
    field("hours", Shape::Shared(&HOURS)),
    field("participants", Shape::Shared(&PEOPLE)),
];

static CANDIDATE: Shape = Shape::Object(&[
    field("id", Shape::Uuid),
    field("label", Shape::Name { max: MAX_TITLE }),
    field("member", Shape::Optional(&UUID)),
]);

static TALLY: Shape = Shape::Object(&[
    field("candidate", Shape::Uuid),
    field(
        "votes",
        Shape::Int {
            min: 0,
            max: MAX_COUNT,
        },
    ),
]);

static ELECTION_RESULT: Shape = Shape::Object(&[
    field("counted_at", Shape::Time),
    field(
        "ballots",
        Shape::Int {
            min: 0,
            max: MAX_COUNT,
        },
    ),
    field(
        "tallies",
        Shape::List {
            item: &TALLY,
            max: 100,
        },
    ),
]);

static ELECTION: &[Field] = &[
    field("title", Shape::Name { max: MAX_TITLE }),
    field(
        "candidates",
        Shape::List {
            item: &CANDIDATE,
            max: 100,
        },
    ),
    field("max_choices", Shape::Int { min: 1, max: 100 }),
    field("opens_at", Shape::Time),
    field("closes_at", Shape::Time),
    field("created_by", Shape::Uuid),
    field("created_at", Shape::Time),
    field("result", Shape::Optional(&ELECTION_RESULT)),
    field("withdrawn", Shape::Optional(&WITHDRAWAL)),
];

static RECTIFICATION: &[Field] = &[
    field("problem", Shape::Name { max: MAX_PARAGRAPH }),
    field("measure", Shape::Str { max: MAX_PARAGRAPH }),
    field("deadline", Shape::Date),
    field("standard", Shape::Str { max: MAX_PARAGRAPH }),
    field("responsible", Shape::Optional(&UUID)),
    field("from_visit", Shape::Optional(&RECORD_REF)),
    field("from_supervision", Shape::Optional(&UUID)),
    field("progress", Shape::Shared(&PROGRESS)),
    field("evidence", Shape::Shared(&MEDIA)),
    field("created_by", Shape::Uuid),
    field("created_at", Shape::Time),
    field("withdrawn", Shape::Optional(&WITHDRAWAL)),
];

static FEED_ITEM: &[Field] = &[
    field("source", Shape::Shared(&RECORD_REF)),
    field("kind", Shape::Enum(ReviewableKind::NAMES)),
    field("title", Shape::Name { max: MAX_TITLE }),
    field("body", Shape::Str { max: MAX_LONG_TEXT }),
    field(
        "speakers",
        Shape::List {
            item: &Shape::Str { max: MAX_NAME },
            max: 20,
        },
    ),
    field("held_at", Shape::Time),
    field("media", Shape::Shared(&MEDIA)),
    field("fine_example", Shape::Bool),
    field("published_by", Shape::Uuid),
    field("published_at", Shape::Time),
    field("withdrawn", Shape::Optional(&WITHDRAWAL)),
];

// ---- ledger ------------------------------------------------------------------------------

static CONTACT: Shape = Shape::Object(&[
    field("kind", Shape::Enum(ContactKind::NAMES)),
    field("at", Shape::Time),
    field("by", Shape::Uuid),
    field("notes", Shape::Str { max: MAX_PARAGRAPH }),
]);

static LEDGER_ENTRY: &[Field] = &[
    field("migrant", Shape::Bool),
    field("inflow", Shape::Bool),
    field("elderly", Shape::Bool),
    field("infirm", Shape::Bool),
    field("phone", Shape::Str { max: 32 }),
    field("city", Shape::Str { max: MAX_NAME }),
    field("employer", Shape::Str { max: MAX_NAME }),
    field("study_partner", Shape::Optional(&UUID)),
    field(
        "contacts",
        Shape::MapOf {
            item: &CONTACT,
            max: 5_000,
        },
    ),
    field("updated_by", Shape::Uuid),
    field("updated_at", Shape::Time),
    field("withdrawn", Shape::Optional(&WITHDRAWAL)),
];

// ---- supervision -------------------------------------------------------------------------

static SUPERVISION_NOTE: &[Field] = &[
    field("method", Shape::Enum(SupervisionMethod::NAMES)),
    field("at", Shape::Time),
    field("by", Shape::Uuid),
    field("body", Shape::Name { max: MAX_LONG_TEXT }),
    field("withdrawn", Shape::Optional(&WITHDRAWAL)),
];

static PROBLEM: &[Field] = &[
    field("problem", Shape::Name { max: MAX_PARAGRAPH }),
    field("measure", Shape::Str { max: MAX_PARAGRAPH }),
    field("deadline", Shape::Date),
    field("standard", Shape::Str { max: MAX_PARAGRAPH }),
    field("owner", Shape::Str { max: MAX_NAME }),
    field("progress", Shape::Shared(&PROGRESS)),
    field("evidence", Shape::Optional(&MEDIA)),
    field("created_by", Shape::Uuid),
    field("created_at", Shape::Time),
    field("withdrawn", Shape::Optional(&WITHDRAWAL)),
];

static ASSESSMENT: &[Field] = &[
    field(
        "year",
        Shape::Int {
            min: 2000,
            max: 2099,
        },
    ),
    field("grade", Shape::Enum(Grade::NAMES)),
    field("summary", Shape::Str { max: MAX_LONG_TEXT }),
    field("by", Shape::Uuid),
    field("at", Shape::Time),
    field("withdrawn", Shape::Optional(&WITHDRAWAL)),
];

// ---- collections -------------------------------------------------------------------------

macro_rules! collections {
    ($($ident:ident: $name:literal in $kind:ident keyed by $key:ident, at most $max:literal of $record:ident, $ownership:expr, immutable $immutable:expr;)+) => {
        $(
            pub static $ident: Collection = Collection {
                name: $name,
                kind: DocKind::$kind,
                key: KeyShape::$key,
                max_records: $max,
                record: $record,
                ownership: $ownership,
                immutable: $immutable,
            };
        )+
        /// Every collection of every document kind.
        pub static COLLECTIONS: &[&Collection] = &[$(&$ident),+];
    };
}

/// The collection a member's reviewable record of `kind` lives in.
pub fn reviewable(kind: ReviewableKind) -> &'static Collection {
    match kind {
        ReviewableKind::Lecture => &LECTURES,
        ReviewableKind::Service => &SERVICES,
        ReviewableKind::Visit => &VISITS,
        ReviewableKind::Pledge => &PLEDGES,
    }
}

const RECORDED: Ownership = Ownership::NotebookOwner {
    field: "recorded_by",
};
const NOTEBOOK_RECORD: &[&str] = &["recorded_by", "created_at"];

collections! {
    LECTURES: "lectures" in Notebook keyed by RecordId, at most 20_000 of LECTURE, RECORDED, immutable NOTEBOOK_RECORD;
    SERVICES: "services" in Notebook keyed by RecordId, at most 20_000 of SERVICE, RECORDED, immutable NOTEBOOK_RECORD;
    VISITS: "visits" in Notebook keyed by RecordId, at most 20_000 of VISIT, RECORDED, immutable NOTEBOOK_RECORD;
    BALLOTS: "ballots" in Notebook keyed by ElectionId, at most 5_000 of BALLOT,
        Ownership::NotebookOwner { field: "voter" }, immutable &["voter"];
    PLEDGES: "pledges" in Notebook keyed by RecordId, at most 1_000 of PLEDGE,
        Ownership::NotebookOwner { field: "member" }, immutable &["member", "created_at"];
    ROSTER: "roster" in Branch keyed by UserId, at most 5_000 of ROSTER_ENTRY,
        Ownership::None, immutable &["notebook", "joined_at"];
    PLANS: "plans" in Branch keyed by Month, at most 1_200 of PLAN,
        Ownership::Author { field: "created_by" }, immutable &["created_by", "created_at"];
    SCHEDULE: "schedule" in Branch keyed by RecordId, at most 20_000 of SCHEDULE_ENTRY,
        Ownership::Author { field: "created_by" }, immutable &["created_by"];
    MEETINGS: "meetings" in Branch keyed by RecordId, at most 20_000 of MEETING,
        Ownership::Author { field: "recorded_by" }, immutable &["recorded_by", "created_at"];
    SCREENINGS: "screenings" in Branch keyed by RecordId, at most 20_000 of SCREENING,
        Ownership::Author { field: "recorded_by" }, immutable &["recorded_by", "created_at"];
    REVIEWS: "reviews" in Branch keyed by RecordId, at most 200_000 of REVIEW,
        Ownership::Author { field: "reviewer" },
        immutable &["record", "revision", "decision", "comment", "reviewer", "at", "publish", "fine_example", "counted"];
    ELECTIONS: "elections" in Branch keyed by RecordId, at most 5_000 of ELECTION,
        Ownership::Author { field: "created_by" },
        immutable &["candidates", "max_choices", "opens_at", "closes_at", "created_by", "created_at"];
    RECTIFICATIONS: "rectifications" in Branch keyed by RecordId, at most 20_000 of RECTIFICATION,
        Ownership::Author { field: "created_by" }, immutable &["created_by", "created_at"];
    FEED: "feed" in Branch keyed by RecordId, at most 50_000 of FEED_ITEM,
        Ownership::Author { field: "published_by" }, immutable &["source", "kind", "published_by", "published_at"];
    LEDGER_ENTRIES: "entries" in Ledger keyed by UserId, at most 5_000 of LEDGER_ENTRY,
        Ownership::None, immutable &[];
    NOTES: "notes" in Supervision keyed by RecordId, at most 20_000 of SUPERVISION_NOTE,
        Ownership::Author { field: "by" }, immutable &["by", "at"];
    PROBLEMS: "problems" in Supervision keyed by RecordId, at most 20_000 of PROBLEM,
        Ownership::Author { field: "created_by" }, immutable &["created_by", "created_at"];
    ASSESSMENTS: "assessments" in Supervision keyed by RecordId, at most 1_000 of ASSESSMENT,
        Ownership::Author { field: "by" }, immutable &["by", "at"];
}

impl Collection {
    pub fn named(kind: DocKind, name: &str) -> Option<&'static Collection> {
        COLLECTIONS
            .iter()
            .copied()
            .find(|c| c.kind == kind && c.name == name)
    }

    pub fn of_kind(kind: DocKind) -> impl Iterator<Item = &'static Collection> {
        COLLECTIONS.iter().copied().filter(move |c| c.kind == kind)
    }
}
