//! Validation of whole documents and of the changes between two sets of heads.
//!
//! The server runs exactly this code on every incoming change, and every operation runs it on
//! its own transaction before committing, so an honest client never makes a change the server
//! refuses. It must therefore be fast (only records touched by a change are checked) and must
//! trust nothing: it walks documents against [`crate::schema`] without building typed values,
//! never descends into anything the schema does not name, and quotes hostile input only in
//! truncated form.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use automerge::{
    Automerge, ChangeHash, ObjId, ObjType, Prop, ROOT, ReadDoc, ScalarValue, Value, legacy,
};

use crate::access::{self, Principal};
use crate::document::{DocKind, SCHEMA_VERSION, Scope};
use crate::ids::{DocumentId, RecordId, UserId};
use crate::model::branch::Election;
use crate::quote;
use crate::schema::{self, Collection, Field, KeyShape, Ownership, Shape};
use crate::time::{Date, Millis, Month};

/// Size limits that are not about a single field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest saved document accepted.
    pub max_document_bytes: usize,
    /// The most bytes of new changes accepted in one batch.
    pub max_changes_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_document_bytes: 64 << 20,
            max_changes_bytes: 16 << 20,
        }
    }
}

/// The version of the rules this code writes by and checks with. A server checks a change by
/// the rules of the app that wrote it, back to the version before its own; older apps are
/// refused as `app_too_old` (ARCHITECTURE.md, "Versions of the rules"). Version 2: volunteer
/// service sent for review has hours and participants.
pub const RULES: u32 = 2;

/// Why a document or a change is refused. Every variant names the rule that refused it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error("{path}: not allowed here")]
    UnknownKey { path: String },
    #[error("{path}: required")]
    Missing { path: String },
    #[error("{path}: a record sent for review is complete")]
    Incomplete { path: String },
    #[error("{path}: expected {expected}")]
    WrongType {
        path: String,
        expected: &'static str,
    },
    #[error("{path}: longer than {max} characters")]
    TooLong { path: String, max: usize },
    #[error("{path}: more than {max} entries")]
    TooMany { path: String, max: usize },
    #[error("{path}: out of range")]
    OutOfRange { path: String },
    #[error("{path}: {value:?} is not one of the allowed values")]
    NotAllowed { path: String, value: String },
    #[error("{path}: not a valid key for this collection")]
    BadKey { path: String },
    #[error("the document's meta does not match what the server created")]
    MetaMismatch,
    #[error("{path}: records are withdrawn, never deleted")]
    Deleted { path: String },
    #[error("{path}: cannot change once set")]
    Immutable { path: String },
    #[error("{path}: may only move forward")]
    Backward { path: String },
    #[error("{path}: a notebook holds only its owner's records")]
    NotOwner { path: String },
    #[error("{path}: must name the person who wrote it")]
    NotAuthor { path: String },
    #[error("{path}: a {role} may not take this step")]
    StepNotPermitted { path: String, role: access::Role },
    #[error("{path}: may only be moved forward here (a step of its progress and evidence)")]
    OnlyAdvance { path: String },
    #[error("{path}: nobody may review their own record")]
    SelfReview { path: String },
    #[error("{path}: refers to something that does not exist")]
    UnknownReference { path: String },
    #[error("{path}: the election is not open at that time")]
    ElectionClosed { path: String },
    #[error("{path}: not a valid choice in this election")]
    InvalidChoice { path: String },
    #[error("changes without a known author are never accepted")]
    Unattributed,
    #[error("a {role} may not write this {kind} document")]
    WriteDenied { role: access::Role, kind: DocKind },
    #[error("objects nested more than {max} deep")]
    TooDeep { max: usize },
    #[error("{size} bytes of changes is more than the {max} accepted at once")]
    ChangesTooLarge { size: usize, max: usize },
}

impl Violation {
    /// A stable code for the rule, for audit logs and error bodies.
    pub fn rule(&self) -> &'static str {
        match self {
            Violation::UnknownKey { .. } => "unknown_key",
            Violation::Incomplete { .. } => "incomplete",
            Violation::Missing { .. } => "missing",
            Violation::WrongType { .. } => "wrong_type",
            Violation::TooLong { .. } => "too_long",
            Violation::TooMany { .. } => "too_many",
            Violation::OutOfRange { .. } => "out_of_range",
            Violation::NotAllowed { .. } => "not_allowed",
            Violation::BadKey { .. } => "bad_key",
            Violation::MetaMismatch => "meta_mismatch",
            Violation::Deleted { .. } => "deleted",
            Violation::Immutable { .. } => "immutable",
            Violation::Backward { .. } => "backward",
            Violation::NotOwner { .. } => "not_owner",
            Violation::NotAuthor { .. } => "not_author",
            Violation::StepNotPermitted { .. } => "step_not_permitted",
            Violation::OnlyAdvance { .. } => "only_advance",
            Violation::SelfReview { .. } => "self_review",
            Violation::UnknownReference { .. } => "unknown_reference",
            Violation::ElectionClosed { .. } => "election_closed",
            Violation::InvalidChoice { .. } => "invalid_choice",
            Violation::Unattributed => "unattributed",
            Violation::WriteDenied { .. } => "write_denied",
            Violation::TooDeep { .. } => "too_deep",
            Violation::ChangesTooLarge { .. } => "changes_too_large",
        }
    }
}

pub type Result<T = (), E = Violation> = std::result::Result<T, E>;

/// Where a notebook's ballots find their elections: the branch document.
pub trait Elections {
    fn election(&self, id: RecordId) -> Option<Election>;
}

/// What validation needs to know beyond the document itself.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// What the document is, from the server's catalogue (never from the document).
    pub scope: Scope,
    /// Everyone who authored the changes being checked. The server knows them from the
    /// actor-to-user binding; an operation has exactly one.
    pub authors: &'a [Principal],
    /// For notebooks: the branch's elections, to check ballots.
    pub elections: Option<&'a dyn Elections>,
    pub limits: Limits,
    /// The rules the change is checked by: the writing app's version ([`RULES`] for this
    /// code's own writes and whole documents).
    pub rules: u32,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("scope", &self.scope)
            .field("authors", &self.authors)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Checks a whole document: its layout, its meta against `ctx.scope`, and every record.
pub fn validate_document(doc: &Automerge, ctx: &Context<'_>) -> Result {
    check_root(doc, ctx)?;
    let lookups = Lookups::default();
    for collection in Collection::of_kind(ctx.scope.kind) {
        let Some(obj) = collection_obj(doc, collection, None) else {
            continue;
        };
        check_count(doc, collection, &obj)?;
        for key in doc.keys(&obj) {
            check_record(doc, None, collection, &key, ctx, &lookups)?;
        }
    }
    Ok(())
}

/// Checks what changed in `doc` since `before`: the authors' right to write, the size of the
/// new changes, and every record the changes touched, including how it moved from its old
/// state. The root layout and meta may never change after creation.
pub fn validate_changes(doc: &Automerge, before: &[ChangeHash], ctx: &Context<'_>) -> Result {
    validate_offered(doc, before, &doc.get_changes(before), ctx).map(drop)
}

/// [`validate_changes`], for `changes`, which are what `doc` gained since `before`, already
/// read from it; answers the records they touched.
pub fn validate_offered(
    doc: &Automerge,
    before: &[ChangeHash],
    changes: &[automerge::Change],
    ctx: &Context<'_>,
) -> Result<Touched> {
    if ctx.authors.is_empty() && !changes.is_empty() {
        return Err(Violation::Unattributed);
    }
    for author in ctx.authors {
        if !access::can_change(author, &ctx.scope) {
            return Err(Violation::WriteDenied {
                role: author.role,
                kind: ctx.scope.kind,
            });
        }
    }
    let size: usize = changes.iter().map(|change| change.raw_bytes().len()).sum();
    if size > ctx.limits.max_changes_bytes {
        return Err(Violation::ChangesTooLarge {
            size,
            max: ctx.limits.max_changes_bytes,
        });
    }
    let touched = touched_records(doc, ctx.scope.kind, changes)?;
    check_touched(doc, before, &touched, ctx)?;
    Ok(touched)
}

/// The records touched by changes: each one's collection and key.
pub type Touched = BTreeSet<(&'static str, String)>;

/// The deepest any valid document nests objects (root › collection › record › field › item ›
/// field › …), with room to spare.
const MAX_DEPTH: usize = 8;

/// Where an object lies in a document's layout.
#[derive(Debug, Clone)]
enum Place {
    Root,
    /// The `meta` map, written once by the server.
    Meta,
    /// A collection map: its keys are records.
    Collection(&'static str),
    /// Inside a record, this many levels below the root.
    Record {
        collection: &'static str,
        key: String,
        depth: usize,
    },
    /// Not reachable any more (overwritten or deleted): changes to it are invisible.
    Detached,
}

/// Finds the records that new changes touch, reading their operations directly, so the cost
/// follows the size of the changes, not of the document. Anything outside a record is
/// refused: the root and the meta are laid out by the server at creation and never change.
/// Objects nested deeper than any valid record goes are refused before anything else reads
/// them.
pub(crate) fn touched_records(
    doc: &Automerge,
    kind: DocKind,
    changes: &[automerge::Change],
) -> Result<Touched> {
    let mut touched = Touched::new();
    // Keyed by the object's id as the change spells it: formatting ids to look them up
    // costs more than all the rest.
    let mut places: HashMap<legacy::ObjectId, Place> = HashMap::new();
    for change in changes {
        let expanded = change.decode();
        let start = expanded.start_op.get();
        for (index, op) in (0u64..).zip(&expanded.operations) {
            let place = match places.get(&op.obj) {
                Some(place) => place.clone(),
                None => {
                    let place = existing_place(doc, kind, &op.obj.to_string())?;
                    places.insert(op.obj.clone(), place.clone());
                    place
                }
            };
            let key = match &op.key {
                legacy::Key::Map(key) => Some(key.to_string()),
                legacy::Key::Seq(_) => None,
            };
            let child = match (place, key) {
                (Place::Root, key) => {
                    return Err(if key.as_deref() == Some("meta") {
                        Violation::MetaMismatch
                    } else {
                        Violation::Immutable {
                            path: quote(key.as_deref().unwrap_or_default()),
                        }
                    });
                }
                (Place::Meta, _) => return Err(Violation::MetaMismatch),
                (Place::Collection(collection), Some(key)) => {
                    touched.insert((collection, key.clone()));
                    Place::Record {
                        collection,
                        key,
                        depth: 2,
                    }
                }
                (Place::Collection(collection), None) => {
                    return Err(Violation::WrongType {
                        path: collection.into(),
                        expected: "a map",
                    });
                }
                (
                    Place::Record {
                        collection,
                        key,
                        depth,
                    },
                    _,
                ) => {
                    touched.insert((collection, key.clone()));
                    if depth + 1 > MAX_DEPTH {
                        return Err(Violation::TooDeep { max: MAX_DEPTH });
                    }
                    Place::Record {
                        collection,
                        key,
                        depth: depth + 1,
                    }
                }
                (Place::Detached, _) => Place::Detached,
            };
            if matches!(op.action, legacy::OpType::Make(_)) {
                let made = legacy::OpId::new(start + index, &expanded.actor_id);
                places.insert(legacy::ObjectId::Id(made), child);
            }
        }
    }
    Ok(touched)
}

/// Where an object that existed before these changes lies.
fn existing_place(doc: &Automerge, kind: DocKind, obj: &str) -> Result<Place> {
    if obj == "_root" {
        return Ok(Place::Root);
    }
    let Some(path) = doc
        .import_obj(obj)
        .ok()
        .and_then(|id| doc.parents(&id).ok())
        .and_then(|parents| parents.visible_path())
    else {
        return Ok(Place::Detached);
    };
    let name = |prop: &Prop| match prop {
        Prop::Map(key) => key.clone(),
        Prop::Seq(index) => index.to_string(),
    };
    Ok(match path.as_slice() {
        [] => Place::Root,
        [(_, root)] if name(root) == "meta" => Place::Meta,
        [(_, root)] => match Collection::named(kind, &name(root)) {
            Some(collection) => Place::Collection(collection.name),
            None => Place::Detached,
        },
        [(_, root), (_, _), ..] if name(root) == "meta" => Place::Meta,
        [(_, root), (_, record), ..] => match Collection::named(kind, &name(root)) {
            Some(collection) => Place::Record {
                collection: collection.name,
                key: name(record),
                depth: path.len(),
            },
            None => Place::Detached,
        },
    })
}

/// Checks the touched records of a document, against their state at `before`.
pub(crate) fn check_touched<D: ReadDoc>(
    doc: &D,
    before: &[ChangeHash],
    touched: &Touched,
    ctx: &Context<'_>,
) -> Result {
    let mut counted: Option<&str> = None;
    let lookups = Lookups::default();
    for (name, key) in touched {
        let Some(collection) = Collection::named(ctx.scope.kind, name) else {
            return Err(Violation::UnknownKey { path: quote(name) });
        };
        if counted != Some(collection.name) {
            if let Some(obj) = collection_obj(doc, collection, None) {
                check_count(doc, collection, &obj)?;
            }
            counted = Some(collection.name);
        }
        check_record(doc, Some(before), collection, key, ctx, &lookups)?;
    }
    Ok(())
}

fn check_root<D: ReadDoc>(doc: &D, ctx: &Context<'_>) -> Result {
    for key in doc.keys(ROOT) {
        if key != "meta" && Collection::named(ctx.scope.kind, &key).is_none() {
            return Err(Violation::UnknownKey { path: quote(&key) });
        }
    }
    let mut path = Path::new("meta");
    let meta = check_field(doc, &ROOT, "meta", &Shape::Object(schema::META), &mut path)?;
    let meta = meta.ok_or(Violation::Missing {
        path: "meta".into(),
    })?;
    let scope = ctx.scope;
    let matches = str_field(doc, &meta, "kind", None).as_deref() == Some(scope.kind.as_str())
        && int_field(doc, &meta, "schema", None) == Some(SCHEMA_VERSION)
        && str_field(doc, &meta, "branch", None) == Some(scope.branch.to_string())
        && str_field(doc, &meta, "township", None) == Some(scope.township.to_string())
        && str_field(doc, &meta, "owner", None) == scope.owner.map(|o| o.to_string());
    // A notebook belongs to one member; no other kind belongs to anyone.
    let owned_as_it_should = (scope.kind == DocKind::Notebook) == scope.owner.is_some();
    if !matches || !owned_as_it_should {
        return Err(Violation::MetaMismatch);
    }
    for collection in Collection::of_kind(scope.kind) {
        match doc.get(ROOT, collection.name) {
            Ok(Some((Value::Object(ObjType::Map), _))) => {}
            Ok(None) => {
                return Err(Violation::Missing {
                    path: collection.name.into(),
                });
            }
            Ok(Some(_)) | Err(_) => {
                return Err(Violation::WrongType {
                    path: collection.name.into(),
                    expected: "a map",
                });
            }
        }
    }
    Ok(())
}

pub(crate) fn collection_obj<D: ReadDoc>(
    doc: &D,
    collection: &Collection,
    heads: Option<&[ChangeHash]>,
) -> Option<ObjId> {
    match read(doc, &ROOT, collection.name, heads)? {
        (Value::Object(ObjType::Map), obj) => Some(obj),
        (Value::Object(_) | Value::Scalar(_), _) => None,
    }
}

fn check_count<D: ReadDoc>(doc: &D, collection: &Collection, obj: &ObjId) -> Result {
    if doc.length(obj) > collection.max_records {
        return Err(Violation::TooMany {
            path: collection.name.into(),
            max: collection.max_records,
        });
    }
    Ok(())
}

/// Checks one record: its key, its shape, and its rules. With `before`, also how it changed.
fn check_record<D: ReadDoc>(
    doc: &D,
    before: Option<&[ChangeHash]>,
    collection: &'static Collection,
    key: &str,
    ctx: &Context<'_>,
    lookups: &Lookups,
) -> Result {
    let mut path = Path::new(collection.name);
    path.push(key);
    if !key_is_valid(collection.key, key) {
        return Err(Violation::BadKey {
            path: path.render(),
        });
    }
    let Some(obj) = collection_obj(doc, collection, None) else {
        return Err(Violation::Missing {
            path: collection.name.into(),
        });
    };
    let old = before.and_then(|heads| {
        let old_collection = collection_obj(doc, collection, Some(heads))?;
        match doc.get_at(&old_collection, key, heads) {
            Ok(Some((Value::Object(ObjType::Map), old))) => Some((old, heads)),
            Ok(_) | Err(_) => None,
        }
    });
    // Two devices may create a record under the same natural key (a month's plan) without
    // seeing each other. Automerge keeps both maps and shows one; when the one shown is the
    // other device's, it is checked as a new record. A map replaced by an overwrite, though,
    // would erase a record: refused.
    let shown = doc.get(&obj, key).ok().flatten().map(|(_, id)| id);
    if shown.is_none() {
        return match old {
            Some(_) => Err(Violation::Deleted {
                path: path.render(),
            }),
            // Made and unmade within the same changes: nothing visible remains.
            None => Ok(()),
        };
    }
    let old = match &old {
        Some((old_obj, _)) if shown.as_ref().is_some_and(|shown| shown != old_obj) => {
            let kept = doc
                .get_all(&obj, key)
                .is_ok_and(|all| all.iter().any(|(_, id)| id == old_obj));
            if kept {
                None
            } else {
                return Err(Violation::Deleted {
                    path: path.render(),
                });
            }
        }
        Some(_) | None => old,
    };
    let Some(record) = check_field(doc, &obj, key, &Shape::Object(collection.record), &mut path)?
    else {
        return match old {
            Some(_) => Err(Violation::Deleted {
                path: path.render(),
            }),
            // Made and unmade within the same changes: nothing visible remains.
            None => Ok(()),
        };
    };
    let record = Record {
        doc,
        collection,
        key,
        obj: &record,
        old: old.as_ref().map(|(obj, heads)| (obj, *heads)),
        checking_changes: before.is_some(),
        path: &path,
        lookups,
    };
    // Someone who may only advance the document's items (the township on a branch's
    // rectifications, a branch on the township's problems) changes nothing else.
    if before.is_some()
        && ctx
            .authors
            .iter()
            .any(|a| !access::can_write(a, &ctx.scope))
    {
        record.check_advance_only()?;
    }
    record.check_ownership(ctx)?;
    record.check_complete(ctx)?;
    record.check_history(ctx)?;
    record.check_specific(ctx)
}

fn key_is_valid(shape: KeyShape, key: &str) -> bool {
    match shape {
        KeyShape::RecordId | KeyShape::ElectionId => key.parse::<RecordId>().is_ok(),
        KeyShape::UserId => key.parse::<UserId>().is_ok(),
        KeyShape::Month => key.parse::<Month>().is_ok(),
    }
}

/// One record being checked, with its state before the change if it existed.
struct Record<'a, D> {
    doc: &'a D,
    collection: &'static Collection,
    key: &'a str,
    obj: &'a ObjId,
    old: Option<(&'a ObjId, &'a [ChangeHash])>,
    /// Whether a change is being checked (who wrote what is known), rather than a whole
    /// document (where authorship was checked when each change arrived).
    checking_changes: bool,
    path: &'a Path,
    lookups: &'a Lookups,
}

/// Indexes built at most once per validation, for rules that look across records.
#[derive(Debug, Default)]
struct Lookups {
    /// The roster's notebooks: notebook id → member.
    notebook_owners: std::cell::OnceCell<HashMap<String, String>>,
}

impl Lookups {
    fn notebook_owners<D: ReadDoc>(&self, doc: &D) -> &HashMap<String, String> {
        self.notebook_owners.get_or_init(|| {
            let roster = collection_obj(doc, &schema::ROSTER, None).unwrap_or(ROOT);
            map_entries(doc, &roster)
                .into_iter()
                .filter_map(|(member, entry)| {
                    Some((str_field(doc, &entry, "notebook", None)?, member))
                })
                .collect()
        })
    }
}

/// Fields that may be set once and then never change or disappear.
const SET_ONCE: &[&str] = &["withdrawn", "result"];

impl<D: ReadDoc> Record<'_, D> {
    fn path(&self, field: &str) -> String {
        format!("{}/{}", self.path.render(), field)
    }

    /// Only a step of the record's progress and its evidence changed, on a record that
    /// existed, and no evidence was taken away.
    fn check_advance_only(&self) -> Result {
        let refused = |field: &str| Violation::OnlyAdvance {
            path: self.path(field),
        };
        let Some((old, heads)) = self.old else {
            return Err(refused(""));
        };
        if access::steps(self.collection.name).is_empty() {
            return Err(refused("progress"));
        }
        for field in self.collection.record {
            let (was, now) = (
                field_value(self.doc, old, field.name, Some(heads)),
                field_value(self.doc, self.obj, field.name, None),
            );
            let unchanged = match field.name {
                "progress" => true,
                "evidence" => evidence_kept(&was, &now),
                _ => was == now,
            };
            if !unchanged {
                return Err(refused(field.name));
            }
        }
        Ok(())
    }

    /// Whether the change being checked creates this record.
    fn is_new(&self) -> bool {
        self.checking_changes && self.old.is_none()
    }

    fn str(&self, field: &str) -> Option<String> {
        str_field(self.doc, self.obj, field, None)
    }

    /// Since rules version 2, volunteer service sent for review says how long it was and who
    /// served: one with no hours or nobody counts for no figure and no plan, and the secretary
    /// can only send it back. Checked when a change sends it (a new revision), so records sent
    /// before stay as they are.
    fn check_complete(&self, ctx: &Context<'_>) -> Result {
        if ctx.rules < 2 || !self.checking_changes || self.collection.name != "services" {
            return Ok(());
        }
        let submitted = object_field(self.doc, self.obj, "submission", None)
            .and_then(|s| str_field(self.doc, &s, "state", None))
            .is_some_and(|state| state == "submitted");
        let sent_now = self.old.is_none()
            || self.submission_revision(self.old) != self.submission_revision(None);
        if !submitted || !sent_now {
            return Ok(());
        }
        let hours = match self.doc.get(self.obj, "hours") {
            Ok(Some((Value::Scalar(value), _))) => match value.as_ref() {
                ScalarValue::F64(h) => *h,
                ScalarValue::Int(h) => *h as f64,
                ScalarValue::Uint(h) => *h as f64,
                _ => 0.0,
            },
            _ => 0.0,
        };
        let participants = match self.doc.get(self.obj, "participants") {
            Ok(Some((Value::Object(ObjType::List), list))) => self.doc.length(&list),
            _ => 0,
        };
        if hours <= 0.0 || participants == 0 {
            return Err(Violation::Incomplete {
                path: self.path(if hours <= 0.0 {
                    "hours"
                } else {
                    "participants"
                }),
            });
        }
        Ok(())
    }

    fn check_ownership(&self, ctx: &Context<'_>) -> Result {
        match self.collection.ownership {
            Ownership::NotebookOwner { field } => {
                let owner = ctx.scope.owner.map(|o| o.to_string());
                if owner.is_none() || self.str(field) != owner {
                    return Err(Violation::NotOwner {
                        path: self.path(field),
                    });
                }
            }
            Ownership::Author { field } => {
                if self.is_new() && !is_author(ctx, self.str(field).as_deref()) {
                    return Err(Violation::NotAuthor {
                        path: self.path(field),
                    });
                }
            }
            Ownership::None => {}
        }
        Ok(())
    }

    /// Rules about how an existing record may change.
    fn check_history(&self, ctx: &Context<'_>) -> Result {
        if let Some((old, heads)) = self.old {
            for field in self.collection.immutable.iter().chain(SET_ONCE) {
                if !kept(self.doc, (old, heads), self.obj, field) {
                    return Err(Violation::Immutable {
                        path: self.path(field),
                    });
                }
            }
            if let (Some(was), Some(now)) = (
                self.submission_revision(Some((old, heads))),
                self.submission_revision(None),
            ) && now < was
            {
                let old_submission = object_field(self.doc, old, "submission", Some(heads));
                let submission = object_field(self.doc, self.obj, "submission", None);
                let concurrent = match (old_submission, submission) {
                    (Some(old), Some(new)) => kept(self.doc, (&old, heads), &new, "revision"),
                    _ => false,
                };
                if !concurrent {
                    return Err(Violation::Backward {
                        path: self.path("submission/revision"),
                    });
                }
            }
        }
        self.check_progress(ctx)
    }

    fn submission_revision(&self, at: Option<(&ObjId, &[ChangeHash])>) -> Option<i64> {
        let (obj, heads) = match at {
            Some((obj, heads)) => (obj, Some(heads)),
            None => (self.obj, None),
        };
        let submission = object_field(self.doc, obj, "submission", heads)?;
        int_field(self.doc, &submission, "revision", heads)
    }

    /// Progress steps are a grow-only set: an existing step never changes, and a new one is
    /// taken by one of the change's authors whose role may take it.
    fn check_progress(&self, ctx: &Context<'_>) -> Result {
        if !self.checking_changes {
            return Ok(());
        }
        let Some(progress) = object_field(self.doc, self.obj, "progress", None) else {
            return Ok(());
        };
        let old_progress = self.old.and_then(|(old, heads)| {
            Some((object_field(self.doc, old, "progress", Some(heads))?, heads))
        });
        for (step, roles) in access::steps(self.collection.name) {
            if let Some((old, heads)) = &old_progress
                && !is_null(&field_value(self.doc, old, step, Some(heads)))
            {
                if !kept(self.doc, (old, heads), &progress, step) {
                    return Err(Violation::Backward {
                        path: self.path(&format!("progress/{step}")),
                    });
                }
                // Unchanged, or taken concurrently by someone else: either way not this
                // change's step to authorise.
                if field_value(self.doc, old, step, Some(heads))
                    == field_value(self.doc, &progress, step, None)
                {
                    continue;
                }
            }
            if is_null(&field_value(self.doc, &progress, step, None)) {
                continue;
            }
            let Some(step_obj) = object_field(self.doc, &progress, step, None) else {
                continue;
            };
            let by = str_field(self.doc, &step_obj, "by", None);
            let Some(author) = ctx.authors.iter().find(|a| Some(a.user.to_string()) == by) else {
                return Err(Violation::NotAuthor {
                    path: self.path(&format!("progress/{step}/by")),
                });
            };
            if !roles.contains(&author.role) {
                return Err(Violation::StepNotPermitted {
                    path: self.path(&format!("progress/{step}")),
                    role: author.role,
                });
            }
        }
        Ok(())
    }

    /// Rules that belong to one kind of record.
    fn check_specific(&self, ctx: &Context<'_>) -> Result {
        match self.collection.name {
            "lectures" => {
                let speakers = object_field(self.doc, self.obj, "speakers", None)
                    .map_or(0, |list| self.doc.length(&list));
                if speakers == 0
                    && self
                        .str("guest_speaker")
                        .is_none_or(|s| s.trim().is_empty())
                {
                    return Err(Violation::Missing {
                        path: self.path("speakers"),
                    });
                }
                Ok(())
            }
            "ballots" => self.check_ballot(ctx),
            "reviews" => {
                let returned = self.str("decision").as_deref() == Some("returned");
                if returned && self.str("comment").is_none_or(|c| c.trim().is_empty()) {
                    return Err(Violation::Missing {
                        path: self.path("comment"),
                    });
                }
                self.check_review()
            }
            "elections" => {
                let opens = time_field(self.doc, self.obj, "opens_at");
                let closes = time_field(self.doc, self.obj, "closes_at");
                if opens >= closes {
                    return Err(Violation::OutOfRange {
                        path: self.path("closes_at"),
                    });
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A ballot must be cast while its election is open, by the clock of the device that cast
    /// it, for at most `max_choices` distinct candidates. Judging by the time of casting rather
    /// than of arrival means a ballot cast offline before the close is never refused later
    /// (which would block every later change of that notebook); counting only ballots that
    /// arrived before the close is the server's business.
    fn check_ballot(&self, ctx: &Context<'_>) -> Result {
        let election = self
            .key
            .parse::<RecordId>()
            .ok()
            .and_then(|id| ctx.elections?.election(id))
            .ok_or_else(|| Violation::UnknownReference {
                path: self.path.render(),
            })?;
        let cast_at = time_field(self.doc, self.obj, "cast_at").unwrap_or(Millis(i64::MIN));
        if !(election.opens_at <= cast_at && cast_at < election.closes_at) {
            return Err(Violation::ElectionClosed {
                path: self.path("cast_at"),
            });
        }
        let choices = object_field(self.doc, self.obj, "choices", None).unwrap_or(ROOT);
        let mut seen = BTreeSet::new();
        let count = self.doc.length(&choices);
        if count == 0 || count > usize::try_from(election.max_choices).unwrap_or(0) {
            return Err(Violation::InvalidChoice {
                path: self.path("choices"),
            });
        }
        for index in 0..count {
            let choice = match self.doc.get(&choices, index) {
                Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
                    ScalarValue::Str(s) => s.parse::<RecordId>().ok(),
                    _ => None,
                },
                Ok(_) | Err(_) => None,
            };
            let valid = choice.is_some_and(|choice| {
                seen.insert(choice) && election.candidates.iter().any(|c| c.id == choice)
            });
            if !valid {
                return Err(Violation::InvalidChoice {
                    path: self.path("choices"),
                });
            }
        }
        Ok(())
    }

    /// A review must be of a record in the notebook of someone on the roster, and not by that
    /// person: nobody approves their own work.
    fn check_review(&self) -> Result {
        let Some(record) = object_field(self.doc, self.obj, "record", None) else {
            return Ok(());
        };
        let notebook = str_field(self.doc, &record, "notebook", None).unwrap_or_default();
        match self.lookups.notebook_owners(self.doc).get(&notebook) {
            Some(owner) if Some(owner) == self.str("reviewer").as_ref() => {
                Err(Violation::SelfReview {
                    path: self.path("reviewer"),
                })
            }
            Some(_) => Ok(()),
            None => Err(Violation::UnknownReference {
                path: self.path("record/notebook"),
            }),
        }
    }
}

/// Whether every file of the evidence as it was is still in it.
fn evidence_kept(was: &Option<Snapshot>, now: &Option<Snapshot>) -> bool {
    let items = |value: &Option<Snapshot>| match value {
        Some(Snapshot::List(items)) => items.clone(),
        _ => Vec::new(),
    };
    let now = items(now);
    items(was).iter().all(|file| now.contains(file))
}

fn is_author(ctx: &Context<'_>, user: Option<&str>) -> bool {
    user.is_some_and(|user| ctx.authors.iter().any(|a| a.user.to_string() == user))
}

fn map_entries<D: ReadDoc>(doc: &D, obj: &ObjId) -> Vec<(String, ObjId)> {
    doc.keys(obj)
        .filter_map(|key| match doc.get(obj, key.as_str()) {
            Ok(Some((Value::Object(ObjType::Map), id))) => Some((key, id)),
            Ok(_) | Err(_) => None,
        })
        .collect()
}

fn is_null(value: &Option<Snapshot>) -> bool {
    matches!(value, None | Some(Snapshot::Scalar(ScalarValue::Null)))
}

/// Whether the value `field` had at `heads` in `old` is still there in `new`: unchanged, or
/// shown beside a value another device set concurrently (Automerge keeps both as a conflict),
/// but not overwritten by a change that saw it. Overwriting with an equal value is harmless.
fn kept<D: ReadDoc>(
    doc: &D,
    (old, heads): (&ObjId, &[ChangeHash]),
    new: &ObjId,
    field: &str,
) -> bool {
    let was = match doc.get_at(old, field, heads) {
        Ok(Some(was)) => was,
        Ok(None) => return true,
        Err(_) => return false,
    };
    if matches!(&was.0, Value::Scalar(s) if matches!(s.as_ref(), ScalarValue::Null)) {
        return true;
    }
    let still_there = doc
        .get_all(new, field)
        .is_ok_and(|now| now.iter().any(|(_, id)| *id == was.1));
    match was.0 {
        Value::Scalar(_) if still_there => true,
        // An object kept in place may still have been edited inside.
        Value::Object(_) if still_there => {
            snapshot(doc, &was.1, Some(heads)) == snapshot(doc, &was.1, None)
        }
        Value::Scalar(_) | Value::Object(_) => {
            field_value(doc, old, field, Some(heads)) == field_value(doc, new, field, None)
        }
    }
}

/// Reads `obj[prop]` now, or as it was at `heads`.
fn read<'a, D: ReadDoc>(
    doc: &'a D,
    obj: &ObjId,
    prop: &str,
    heads: Option<&[ChangeHash]>,
) -> Option<(Value<'a>, ObjId)> {
    let got = match heads {
        Some(heads) => doc.get_at(obj, prop, heads),
        None => doc.get(obj, prop),
    };
    got.ok().flatten()
}

/// The full value of a field, for comparing before and after.
fn field_value<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    field: &str,
    heads: Option<&[ChangeHash]>,
) -> Option<Snapshot> {
    match read(doc, obj, field, heads)? {
        (Value::Scalar(s), _) => Some(Snapshot::Scalar(s.into_owned())),
        (Value::Object(_), id) => Some(snapshot(doc, &id, heads)),
    }
}

/// A value as it stands, or stood at some heads, whole, for comparing.
#[derive(Debug, Clone, PartialEq)]
enum Snapshot {
    Scalar(ScalarValue),
    Map(BTreeMap<String, Snapshot>),
    List(Vec<Snapshot>),
    Text(String),
}

/// The object `obj` whole, now or as at `heads`. Read with the `_at` calls one value at a
/// time: Automerge 0.12's `hydrate` at heads, inside a transaction (where operations
/// validate what they are about to commit), returns the object as it is now.
fn snapshot<D: ReadDoc>(doc: &D, obj: &ObjId, heads: Option<&[ChangeHash]>) -> Snapshot {
    let value = |got: Option<(Value<'_>, ObjId)>| match got {
        Some((Value::Scalar(s), _)) => Snapshot::Scalar(s.into_owned()),
        Some((Value::Object(_), id)) => snapshot(doc, &id, heads),
        None => Snapshot::Scalar(ScalarValue::Null),
    };
    match doc.object_type(obj) {
        Ok(ObjType::Map | ObjType::Table) => {
            let keys: Vec<String> = match heads {
                Some(heads) => doc.keys_at(obj, heads).collect(),
                None => doc.keys(obj).collect(),
            };
            Snapshot::Map(
                keys.into_iter()
                    .map(|key| {
                        let got = read(doc, obj, &key, heads);
                        (key, value(got))
                    })
                    .collect(),
            )
        }
        Ok(ObjType::List) => {
            let length = match heads {
                Some(heads) => doc.length_at(obj, heads),
                None => doc.length(obj),
            };
            Snapshot::List(
                (0..length)
                    .map(|index| {
                        let got = match heads {
                            Some(heads) => doc.get_at(obj, index, heads),
                            None => doc.get(obj, index),
                        };
                        value(got.ok().flatten())
                    })
                    .collect(),
            )
        }
        Ok(ObjType::Text) => Snapshot::Text(
            match heads {
                Some(heads) => doc.text_at(obj, heads),
                None => doc.text(obj),
            }
            .unwrap_or_default(),
        ),
        Err(_) => Snapshot::Scalar(ScalarValue::Null),
    }
}

pub(crate) fn object_field<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    field: &str,
    heads: Option<&[ChangeHash]>,
) -> Option<ObjId> {
    match read(doc, obj, field, heads)? {
        (Value::Object(_), id) => Some(id),
        (Value::Scalar(_), _) => None,
    }
}

pub(crate) fn str_field<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    field: &str,
    heads: Option<&[ChangeHash]>,
) -> Option<String> {
    match read(doc, obj, field, heads)? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        (Value::Object(_), _) => None,
    }
}

pub(crate) fn int_field<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    field: &str,
    heads: Option<&[ChangeHash]>,
) -> Option<i64> {
    match read(doc, obj, field, heads)? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Int(i) => Some(*i),
            ScalarValue::Uint(u) => i64::try_from(*u).ok(),
            _ => None,
        },
        (Value::Object(_), _) => None,
    }
}

pub(crate) fn time_field<D: ReadDoc>(doc: &D, obj: &ObjId, field: &str) -> Option<Millis> {
    match doc.get(obj, field).ok()?? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Timestamp(t) => Some(Millis(*t)),
            _ => None,
        },
        (Value::Object(_), _) => None,
    }
}

/// A path inside a document, kept as segments and rendered only for an error message.
#[derive(Debug, Clone)]
struct Path(Vec<String>);

impl Path {
    fn new(root: &str) -> Self {
        Self(vec![root.to_owned()])
    }

    fn push(&mut self, segment: &str) {
        self.0.push(quote(segment));
    }

    fn pop(&mut self) {
        self.0.pop();
    }

    fn render(&self) -> String {
        self.0.join("/")
    }
}

/// Checks the value at `obj[prop]` against `shape`. Returns the object id when the value is an
/// object, and `None` when it is absent or null (already known to be allowed).
fn check_field<D: ReadDoc, P: Into<Prop> + Clone>(
    doc: &D,
    obj: &ObjId,
    prop: P,
    shape: &Shape,
    path: &mut Path,
) -> Result<Option<ObjId>> {
    let value = doc.get(obj, prop).map_err(|_| Violation::WrongType {
        path: path.render(),
        expected: "a readable value",
    })?;
    check_value(doc, value, shape, path)
}

fn check_value<D: ReadDoc>(
    doc: &D,
    value: Option<(Value<'_>, ObjId)>,
    shape: &Shape,
    path: &mut Path,
) -> Result<Option<ObjId>> {
    let wrong = |path: &Path, expected| Violation::WrongType {
        path: path.render(),
        expected,
    };
    let Some((value, id)) = value else {
        return match shape {
            Shape::Optional(_) => Ok(None),
            _ => Err(Violation::Missing {
                path: path.render(),
            }),
        };
    };
    let scalar = match &value {
        Value::Scalar(s) => Some(s.as_ref()),
        Value::Object(_) => None,
    };
    match shape {
        Shape::Optional(inner) => {
            if matches!(scalar, Some(ScalarValue::Null)) {
                return Ok(None);
            }
            check_value(doc, Some((value, id)), inner, path)
        }
        Shape::Shared(inner) => check_value(doc, Some((value, id)), inner, path),
        Shape::Str { max } | Shape::Name { max } => {
            let Some(ScalarValue::Str(s)) = scalar else {
                return Err(wrong(path, "a string"));
            };
            check_length(s, *max, path)?;
            if matches!(shape, Shape::Name { .. }) && s.trim().is_empty() {
                return Err(Violation::Missing {
                    path: path.render(),
                });
            }
            Ok(None)
        }
        Shape::Prose { max } => {
            if !matches!(value, Value::Object(ObjType::Text)) {
                return Err(wrong(path, "text"));
            }
            if doc.length(&id) > *max {
                return Err(Violation::TooLong {
                    path: path.render(),
                    max: *max,
                });
            }
            Ok(None)
        }
        Shape::Enum(names) => {
            let Some(ScalarValue::Str(s)) = scalar else {
                return Err(wrong(path, "a string"));
            };
            if names.contains(&s.as_str()) {
                Ok(None)
            } else {
                Err(Violation::NotAllowed {
                    path: path.render(),
                    value: quote(s),
                })
            }
        }
        Shape::Int { min, max } => {
            let n = match scalar {
                Some(ScalarValue::Int(i)) => Some(*i),
                Some(ScalarValue::Uint(u)) => i64::try_from(*u).ok(),
                _ => return Err(wrong(path, "an integer")),
            };
            match n {
                Some(n) if (*min..=*max).contains(&n) => Ok(None),
                _ => Err(Violation::OutOfRange {
                    path: path.render(),
                }),
            }
        }
        Shape::Float { min, max } => {
            let f = match scalar {
                Some(ScalarValue::F64(f)) => *f,
                Some(ScalarValue::Int(i)) => *i as f64,
                Some(ScalarValue::Uint(u)) => *u as f64,
                _ => return Err(wrong(path, "a number")),
            };
            // NaN fails both comparisons and is refused.
            if f >= *min && f <= *max {
                Ok(None)
            } else {
                Err(Violation::OutOfRange {
                    path: path.render(),
                })
            }
        }
        Shape::Bool => match scalar {
            Some(ScalarValue::Boolean(_)) => Ok(None),
            _ => Err(wrong(path, "true or false")),
        },
        Shape::Time => match scalar {
            Some(ScalarValue::Timestamp(t)) if Millis(*t).is_plausible() => Ok(None),
            Some(ScalarValue::Timestamp(_)) => Err(Violation::OutOfRange {
                path: path.render(),
            }),
            _ => Err(wrong(path, "a timestamp")),
        },
        Shape::Date => parsed::<Date>(scalar, path, "a date (YYYY-MM-DD)"),
        Shape::Month => parsed::<Month>(scalar, path, "a month (YYYY-MM)"),
        Shape::Uuid => parsed::<UserId>(scalar, path, "a UUID"),
        Shape::DocumentId => parsed::<DocumentId>(scalar, path, "a document id"),
        Shape::Sha256 => match scalar {
            Some(ScalarValue::Str(s))
                if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
            {
                Ok(None)
            }
            _ => Err(wrong(path, "a lower-case hex SHA-256")),
        },
        Shape::MediaType => match scalar {
            Some(ScalarValue::Str(s)) if is_media_type(s) => Ok(None),
            Some(ScalarValue::Str(s)) => Err(Violation::NotAllowed {
                path: path.render(),
                value: quote(s),
            }),
            _ => Err(wrong(path, "a media type")),
        },
        Shape::List { item, max } => {
            if !matches!(value, Value::Object(ObjType::List)) {
                return Err(wrong(path, "a list"));
            }
            let length = doc.length(&id);
            if length > *max {
                return Err(Violation::TooMany {
                    path: path.render(),
                    max: *max,
                });
            }
            for index in 0..length {
                path.push(&index.to_string());
                let got = doc
                    .get(&id, index)
                    .map_err(|_| wrong(path, "a list item"))?;
                if got.is_none() {
                    return Err(Violation::Missing {
                        path: path.render(),
                    });
                }
                check_value(doc, got, item, path)?;
                path.pop();
            }
            Ok(Some(id))
        }
        Shape::Object(fields) => {
            if !matches!(value, Value::Object(ObjType::Map)) {
                return Err(wrong(path, "a map"));
            }
            check_object(doc, &id, fields, path)?;
            Ok(Some(id))
        }
        Shape::MapOf { item, max } => {
            if !matches!(value, Value::Object(ObjType::Map)) {
                return Err(wrong(path, "a map"));
            }
            if doc.length(&id) > *max {
                return Err(Violation::TooMany {
                    path: path.render(),
                    max: *max,
                });
            }
            for key in doc.keys(&id) {
                path.push(&key);
                if key.parse::<RecordId>().is_err() {
                    return Err(Violation::BadKey {
                        path: path.render(),
                    });
                }
                check_field(doc, &id, key.as_str(), item, path)?;
                path.pop();
            }
            Ok(Some(id))
        }
    }
}

fn check_object<D: ReadDoc>(doc: &D, obj: &ObjId, fields: &[Field], path: &mut Path) -> Result {
    // One pass over the map: refuse an unknown key before reading its value, so nothing
    // hostile is walked into; then make sure every required field was there.
    let mut present = 0u64;
    for item in doc.map_range(obj, ..) {
        let key: &str = &item.key;
        let Some(index) = fields.iter().position(|f| f.name == key) else {
            path.push(key);
            return Err(Violation::UnknownKey {
                path: path.render(),
            });
        };
        present |= 1 << index;
        path.push(key);
        let id = item.id();
        check_value(
            doc,
            Some((item.value.into_value(), id)),
            &fields[index].shape,
            path,
        )?;
        path.pop();
    }
    for (index, field) in fields.iter().enumerate() {
        if present & (1 << index) == 0 && !matches!(field.shape, Shape::Optional(_)) {
            path.push(field.name);
            return Err(Violation::Missing {
                path: path.render(),
            });
        }
    }
    Ok(())
}

fn check_length(s: &str, max: usize, path: &Path) -> Result {
    // A string has at least len/4 characters: refuse huge ones without counting them.
    if s.len() > max * 4 || s.chars().count() > max {
        return Err(Violation::TooLong {
            path: path.render(),
            max,
        });
    }
    Ok(())
}

fn parsed<T: std::str::FromStr>(
    scalar: Option<&ScalarValue>,
    path: &Path,
    expected: &'static str,
) -> Result<Option<ObjId>> {
    match scalar {
        Some(ScalarValue::Str(s)) if s.len() <= 64 && s.parse::<T>().is_ok() => Ok(None),
        _ => Err(Violation::WrongType {
            path: path.render(),
            expected,
        }),
    }
}

/// Photos, audio and video only: `type/subtype` with a short, plain subtype.
fn is_media_type(s: &str) -> bool {
    let Some((top, sub)) = s.split_once('/') else {
        return false;
    };
    matches!(top, "image" | "audio" | "video")
        && !sub.is_empty()
        && sub.len() <= 64
        && sub.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'+' | b'-')
        })
}
