//! What the server's SQL tables hold about each record, read from a document: one row per
//! record (its collection, owner, time, status), the people a record names (attendees,
//! participants, speakers, visitors), the media it references, and the value of each of its
//! scalar fields (a lecture's title, category, venue and audience, a service's hours), which
//! figures count and group by and ledgers list.
//!
//! Documents are the truth; a projection is a view of them that statistics, review queues,
//! exports and media permissions can query without loading documents. It is computed here,
//! from the schema, so that the rows are the same whether the server maintains them change by
//! change or rebuilds them from scratch.

use std::borrow::Cow;

use automerge::{
    Automerge, Change, ObjId, ObjType, ReadDoc, ScalarValue, ScalarValueRef, Value, ValueRef,
};

use crate::document::DocKind;
use crate::model::branch::Election;
use crate::model::common::ReviewableKind;
use crate::schema::{self, Collection, Field, Ownership, Shape};
use crate::validate::{self, Touched, collection_obj, object_field};

/// One record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RecordRow {
    /// The collection, which is the record's type: `lectures`, `reviews`, `rectifications`.
    pub collection: &'static str,
    pub key: String,
    /// The person the record belongs to: its recorder, author, voter or (for the roster and
    /// the ledger) the member it describes.
    pub owner: Option<String>,
    /// When it happened (held, visited, written), as an Automerge timestamp.
    pub occurred_at: Option<i64>,
    /// `withdrawn`; else the submission state (`draft`, `submitted`), the progress
    /// (`open`, `in_progress`, `done`, `verified`), a review's decision, or `recorded`.
    pub status: String,
    /// The submitted revision, or the revision a review saw.
    pub revision: Option<i64>,
    /// The record this one is about: a review's record, a feed item's source.
    pub subject: Option<String>,
    /// The notebook and collection of that record: record ids are made on devices, so only
    /// all three name one record for sure.
    pub subject_document: Option<String>,
    pub subject_collection: Option<&'static str>,
}

/// A person named by a record, in one of its fields (`attendees`, `speakers`, …).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PersonRow {
    pub collection: &'static str,
    pub key: String,
    pub field: &'static str,
    pub person: String,
}

/// A blob a record references.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MediaRow {
    pub collection: &'static str,
    pub key: String,
    pub field: &'static str,
    pub sha256: String,
    pub media_type: String,
    pub size: i64,
}

/// One field's value, as a table cell: text (a title, a choice such as a lecture's venue, a
/// day, a month, a person), or a number (an audience, a service's hours, a time as an
/// Automerge timestamp, a yes or no as 1 or 0).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
}

/// One such value of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueRow {
    pub collection: &'static str,
    pub key: String,
    pub field: &'static str,
    pub value: Cell,
}

/// The rows of some records of one document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    /// The records projected: their old rows are replaced by these.
    pub touched: Vec<(&'static str, String)>,
    pub records: Vec<RecordRow>,
    pub people: Vec<PersonRow>,
    pub media: Vec<MediaRow>,
    pub values: Vec<ValueRow>,
    /// The elections among the records, whole: a notebook's ballots are checked against
    /// them, and what they are checked against never changes once set.
    pub elections: Vec<(String, Election)>,
}

/// The rows of every record in `doc`.
pub fn project_all(doc: &Automerge, kind: DocKind) -> Projection {
    let mut touched = Vec::new();
    for collection in Collection::of_kind(kind) {
        if let Some(obj) = collection_obj(doc, collection, None) {
            touched.extend(doc.keys(&obj).map(|key| (collection.name, key)));
        }
    }
    project(doc, kind, touched)
}

/// The rows of the records that `changes` (already applied to `doc`) touched.
pub fn project_changes(doc: &Automerge, kind: DocKind, changes: &[Change]) -> Projection {
    // Accepted changes always lie inside records; anything else touches no row.
    let touched: Touched = validate::touched_records(doc, kind, changes).unwrap_or_default();
    project_touched(doc, kind, touched)
}

/// The rows of `touched` records, as validation found them.
pub fn project_touched(doc: &Automerge, kind: DocKind, touched: Touched) -> Projection {
    project(doc, kind, touched.into_iter().collect())
}

fn project(doc: &Automerge, kind: DocKind, touched: Vec<(&'static str, String)>) -> Projection {
    let mut projection = Projection::default();
    for (name, key) in &touched {
        let Some(collection) = Collection::named(kind, name) else {
            continue;
        };
        let Some(records) = collection_obj(doc, collection, None) else {
            continue;
        };
        let Some(obj) = object_field(doc, &records, key, None) else {
            continue;
        };
        project_record(&Fields::of(doc, &obj), collection, key, &mut projection);
        if collection.name == schema::ELECTIONS.name
            && let Ok(election) = autosurgeon::hydrate_prop(doc, &records, key.as_str())
        {
            projection.elections.push((key.clone(), election));
        }
    }
    projection.touched = touched;
    projection
}

/// The time fields that say when a record happened, most telling first.
const OCCURRED: &[&str] = &[
    "held_at",
    "visited_at",
    "at",
    "published_at",
    "opens_at",
    "created_at",
    "updated_at",
];

/// The fields that point at the record a record is about.
const SUBJECT: &[&str] = &["record", "source", "from_visit"];

fn project_record(
    record: &Fields<'_>,
    collection: &'static Collection,
    key: &str,
    projection: &mut Projection,
) {
    let owner = match collection.ownership {
        Ownership::NotebookOwner { field } | Ownership::Author { field } => record.str(field),
        Ownership::None => Some(key.to_owned()),
    };
    let submission = record.object("submission");
    let revision = submission
        .as_ref()
        .and_then(|s| s.int("revision"))
        .or_else(|| record.int("revision"));
    let reference = SUBJECT.iter().find_map(|field| record.object(field));
    projection.records.push(RecordRow {
        collection: collection.name,
        key: key.to_owned(),
        owner,
        occurred_at: OCCURRED.iter().find_map(|field| record.time(field)),
        status: status(record, submission.as_ref()),
        revision,
        subject: reference.as_ref().and_then(|r| r.str("id")),
        subject_document: reference.as_ref().and_then(|r| r.str("notebook")),
        subject_collection: reference
            .as_ref()
            .and_then(|r| r.str("kind"))
            .and_then(|kind| ReviewableKind::parse(&kind))
            .map(|kind| schema::reviewable(kind).name),
    });
    project_fields(record, collection, key, collection.record, projection);
    // What an approval counts is projected as the review's own fields, so that figures count
    // approvals by the same columns whatever the record kind.
    if collection.name == schema::REVIEWS.name
        && let Some(counted) = record.object("counted")
    {
        project_fields(
            &counted,
            collection,
            key,
            schema::COUNTED_FIELDS,
            projection,
        );
    }
}

/// The people, media and values of the `fields` of `obj`, as rows of the record `key`.
fn project_fields(
    obj: &Fields<'_>,
    collection: &'static Collection,
    key: &str,
    fields: &'static [Field],
    projection: &mut Projection,
) {
    for field in fields {
        match list_item(&field.shape) {
            Some(Shape::Uuid) => {
                for person in obj.strings(field.name) {
                    projection.people.push(PersonRow {
                        collection: collection.name,
                        key: key.to_owned(),
                        field: field.name,
                        person,
                    });
                }
            }
            Some(Shape::Object(fields)) if fields.iter().any(|f| f.name == "sha256") => {
                for item in obj.objects(field.name) {
                    let (Some(sha256), Some(media_type)) =
                        (item.str("sha256"), item.str("media_type"))
                    else {
                        continue;
                    };
                    projection.media.push(MediaRow {
                        collection: collection.name,
                        key: key.to_owned(),
                        field: field.name,
                        sha256,
                        media_type,
                        size: item.int("size").unwrap_or(0),
                    });
                }
            }
            // A list of short texts (a meeting's decisions, a pledge's commitments) is one
            // cell, a line each.
            Some(Shape::Str { .. } | Shape::Name { .. }) => {
                projection.values.push(ValueRow {
                    collection: collection.name,
                    key: key.to_owned(),
                    field: field.name,
                    value: Cell::Text(obj.strings(field.name).join("\n")),
                });
            }
            _ => {}
        }
        if let Some(value) = scalar(&field.shape).then(|| obj.cell(field.name)).flatten() {
            projection.values.push(ValueRow {
                collection: collection.name,
                key: key.to_owned(),
                field: field.name,
                value,
            });
        }
    }
}

/// Whether a field holds one value that a table cell can show: a choice, a number, a
/// yes-or-no, a time, day or month, a person, or text. Lists (people, media) have rows of their
/// own; nested objects (a GPS fix, the submission) are not shown as cells.
fn scalar(shape: &'static Shape) -> bool {
    match shape {
        Shape::Optional(inner) | Shape::Shared(inner) => scalar(inner),
        Shape::Str { .. }
        | Shape::Name { .. }
        | Shape::Prose { .. }
        | Shape::Enum(_)
        | Shape::Int { .. }
        | Shape::Float { .. }
        | Shape::Bool
        | Shape::Time
        | Shape::Date
        | Shape::Month
        | Shape::Uuid
        | Shape::DocumentId => true,
        Shape::Sha256
        | Shape::MediaType
        | Shape::List { .. }
        | Shape::Object(_)
        | Shape::MapOf { .. } => false,
    }
}

fn status(record: &Fields<'_>, submission: Option<&Fields<'_>>) -> String {
    let withdrawn = record
        .get("withdrawn")
        .is_some_and(|(value, _)| !matches!(value, ValueRef::Scalar(ScalarValueRef::Null)));
    if withdrawn {
        return "withdrawn".into();
    }
    if let Some(state) = submission.and_then(|s| s.str("state")) {
        return state;
    }
    if let Some(progress) = record.object("progress") {
        let reached = ["verified", "done", "in_progress"]
            .into_iter()
            .find(|step| progress.object_id(step).is_some());
        return reached.unwrap_or("open").into();
    }
    if let Some(decision) = record.str("decision") {
        return decision;
    }
    "recorded".into()
}

/// The item shape of a list field, looking through shared shapes.
fn list_item(shape: &'static Shape) -> Option<&'static Shape> {
    match shape {
        Shape::Shared(inner) => list_item(inner),
        Shape::List { item, .. } => Some(match item {
            Shape::Shared(inner) => inner,
            other => other,
        }),
        _ => None,
    }
}

/// The fields of one map object, read in one pass. Looking up a field seeks through the
/// document's operations, and a record is read field by field, a dozen and more of them,
/// most absent: one scan of its keys costs about what two lookups do.
struct Fields<'a> {
    doc: &'a Automerge,
    /// Each present key's value, and the id of the object it holds if it holds one.
    entries: Vec<(Cow<'a, str>, ValueRef<'a>, Option<ObjId>)>,
}

impl<'a> Fields<'a> {
    fn of(doc: &'a Automerge, obj: &ObjId) -> Self {
        let entries = doc
            .map_range(obj, ..)
            .map(|item| {
                let id = matches!(item.value, ValueRef::Object(_)).then(|| item.id());
                (item.key, item.value, id)
            })
            .collect();
        Fields { doc, entries }
    }

    fn get(&self, name: &str) -> Option<(&ValueRef<'a>, Option<&ObjId>)> {
        self.entries
            .iter()
            .find(|(key, ..)| key == name)
            .map(|(_, value, id)| (value, id.as_ref()))
    }

    fn object_id(&self, name: &str) -> Option<&ObjId> {
        self.get(name).and_then(|(_, id)| id)
    }

    fn object(&self, name: &str) -> Option<Fields<'a>> {
        self.object_id(name).map(|id| Fields::of(self.doc, id))
    }

    fn scalar(&self, name: &str) -> Option<&ScalarValueRef<'a>> {
        match self.get(name)? {
            (ValueRef::Scalar(scalar), _) => Some(scalar),
            (ValueRef::Object(_), _) => None,
        }
    }

    fn str(&self, name: &str) -> Option<String> {
        match self.scalar(name)? {
            ScalarValueRef::Str(text) => Some(text.to_string()),
            _ => None,
        }
    }

    fn int(&self, name: &str) -> Option<i64> {
        match self.scalar(name)? {
            ScalarValueRef::Int(i) => Some(*i),
            ScalarValueRef::Uint(u) => i64::try_from(*u).ok(),
            _ => None,
        }
    }

    /// A time field, as an Automerge timestamp.
    fn time(&self, name: &str) -> Option<i64> {
        match self.scalar(name)? {
            ScalarValueRef::Timestamp(t) => Some(*t),
            _ => None,
        }
    }

    /// A field as a table cell: a scalar, or the whole of a text object.
    fn cell(&self, name: &str) -> Option<Cell> {
        match self.get(name)? {
            (ValueRef::Scalar(scalar), _) => match scalar {
                ScalarValueRef::Str(text) => Some(Cell::Text(text.to_string())),
                ScalarValueRef::Int(i) | ScalarValueRef::Timestamp(i) => {
                    Some(Cell::Number(*i as f64))
                }
                ScalarValueRef::Uint(u) => Some(Cell::Number(*u as f64)),
                ScalarValueRef::F64(f) => Some(Cell::Number(*f)),
                ScalarValueRef::Boolean(b) => Some(Cell::Number(if *b { 1.0 } else { 0.0 })),
                _ => None,
            },
            (ValueRef::Object(ObjType::Text), Some(text)) => {
                self.doc.text(text).ok().map(Cell::Text)
            }
            (ValueRef::Object(_), _) => None,
        }
    }

    /// The items of a list field.
    fn items(&self, name: &str) -> impl Iterator<Item = (Value<'a>, ObjId)> + use<'a> {
        let doc = self.doc;
        self.object_id(name)
            .cloned()
            .into_iter()
            .flat_map(move |list| doc.values(&list).collect::<Vec<_>>())
    }

    /// The texts of a list field.
    fn strings(&self, name: &str) -> Vec<String> {
        self.items(name)
            .filter_map(|(value, _)| match value {
                Value::Scalar(s) => match s.as_ref() {
                    ScalarValue::Str(s) => Some(s.to_string()),
                    _ => None,
                },
                Value::Object(_) => None,
            })
            .collect()
    }

    /// The objects of a list field.
    fn objects(&self, name: &str) -> Vec<Fields<'a>> {
        self.items(name)
            .filter_map(|(value, id)| match value {
                Value::Object(_) => Some(Fields::of(self.doc, &id)),
                Value::Scalar(_) => None,
            })
            .collect()
    }
}
