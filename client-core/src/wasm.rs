//! The JavaScript face of the core, for the PWA: a thin wrapper over [`Documents`], the
//! operations and the views. Values cross as plain JavaScript objects (serde), documents as
//! `Uint8Array`s, times as milliseconds since the epoch. Each error becomes a JavaScript
//! exception whose message starts with a stable code (`denied`, `invalid:too_long`, …) that
//! the app can map to a message in the reader's language.

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;

use crate::access::Principal;
use crate::document::{DocumentError, OpError};
use crate::documents::{Documents, HeldError};
use crate::ids::{DocumentId, IdError, RecordId, UserId};
use crate::model::branch::{
    Election, FeedItem, Meeting, Plan, Rectification, RosterEntry, ScheduleEntry, Screening,
};
use crate::model::common::{ProgressStatus, RecordRef, ReviewableKind};
use crate::model::ledger::{Contact, LedgerEntry};
use crate::model::notebook::{Lecture, Pledge, Service, Visit};
use crate::model::supervision::{Assessment, Problem, SupervisionNote};
use crate::ops::{Record, ReviewDecision, Reviewable};
use crate::replica::{Replica, ReplicaError};
use crate::schema::Collection;
use crate::session::Session;
use crate::sync::message::{PeerId, StorageId};
use crate::time::{Date, Millis, Month};
use crate::uploads::{Network, UploadQueue};
use crate::views;

/// Every failure of an exported function, with the code JavaScript sees.
#[derive(Debug, thiserror::Error)]
enum WasmError {
    #[error("{0}")]
    Op(#[from] OpError),
    #[error("{0}")]
    Held(#[from] HeldError),
    #[error("{0}")]
    Document(#[from] DocumentError),
    #[error("{0}")]
    Id(#[from] IdError),
    #[error("{0}")]
    Replica(#[from] ReplicaError),
    #[error("{0}")]
    Input(String),
}

impl WasmError {
    fn code(&self) -> String {
        match self {
            WasmError::Op(error) => op_code(error),
            WasmError::Held(error) | WasmError::Replica(ReplicaError::Held(error)) => {
                held_code(error)
            }
            WasmError::Document(_) | WasmError::Replica(ReplicaError::Document(_)) => {
                "bad_document".into()
            }
            WasmError::Replica(ReplicaError::NotSyncing(_)) => "not_open".into(),
            WasmError::Replica(ReplicaError::Apply(..)) => "internal".into(),
            WasmError::Id(_) | WasmError::Input(_) => "bad_input".into(),
        }
    }
}

fn held_code(error: &HeldError) -> String {
    match error {
        HeldError::Op(error) => op_code(error),
        HeldError::NotOpen(_) => "not_open".into(),
        HeldError::WrongKind { .. } => "wrong_kind".into(),
        HeldError::Document(_) => "bad_document".into(),
    }
}

fn op_code(error: &OpError) -> String {
    match error {
        OpError::Denied(_) => "denied".into(),
        OpError::Invalid(violation) => format!("invalid:{}", violation.rule()),
        OpError::NotFound { .. } => "not_found".into(),
        OpError::NotAllowed(_) => "not_allowed".into(),
        OpError::Automerge(_) | OpError::Reconcile(_) | OpError::Hydrate(_) | OpError::Id(_) => {
            "internal".into()
        }
    }
}

impl From<WasmError> for JsValue {
    fn from(error: WasmError) -> JsValue {
        JsError::new(&format!("{}: {error}", error.code())).into()
    }
}

// Let `?` turn any core error straight into a JavaScript exception.
macro_rules! into_js {
    ($($error:ty),+) => {$(
        impl From<$error> for JsValue {
            fn from(error: $error) -> JsValue {
                WasmError::from(error).into()
            }
        }
    )+};
}
into_js!(OpError, HeldError, DocumentError, IdError, ReplicaError);

type Result<T> = std::result::Result<T, WasmError>;

fn input<T: DeserializeOwned>(value: JsValue) -> Result<T> {
    serde_wasm_bindgen::from_value(value).map_err(|e| WasmError::Input(e.to_string()))
}

fn output<T: Serialize + ?Sized>(value: &T) -> Result<JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| WasmError::Input(e.to_string()))
}

/// A state the app saved as JSON, or a fresh one for `undefined` or `null` (a first start).
fn restored<T: DeserializeOwned + Default>(saved: JsValue) -> Result<T> {
    if saved.is_undefined() || saved.is_null() {
        Ok(T::default())
    } else {
        input(saved)
    }
}

fn id(text: &str) -> Result<DocumentId> {
    Ok(DocumentId::from_url(text)?)
}

fn record_id(text: &str) -> Result<RecordId> {
    Ok(text.parse()?)
}

fn millis(now: f64) -> Millis {
    // JavaScript times are whole milliseconds well inside i64.
    Millis(now as i64)
}

/// The documents of this device, kept in sync with the server, and everything that can be
/// done with them. Each change is made through client-core's operations and queued as tasks
/// (store these bytes, send this frame) that the app takes with [`Tianjian::tasks`] and
/// carries out in order; see [`Replica`].
#[wasm_bindgen]
#[derive(Debug)]
pub struct Tianjian {
    replica: Replica,
}

#[wasm_bindgen]
impl Tianjian {
    /// The replica of the device `peer` whose IndexedDB is named `storage`.
    #[wasm_bindgen(constructor)]
    pub fn new(peer: String, storage: String) -> Tianjian {
        Tianjian {
            replica: Replica::new(PeerId(peer), StorageId(storage)),
        }
    }

    /// Opens a document from its stored chunks, concatenated, and keeps it in sync; returns
    /// its scope.
    pub fn open(&mut self, document: &str, bytes: &[u8]) -> std::result::Result<JsValue, JsValue> {
        let document = id(document)?;
        self.replica.open(document, bytes)?;
        let held = self.replica.documents().get(document)?;
        Ok(output(held.document().scope())?)
    }

    /// Keeps a document in sync, fetching it from the server if this device has none of it.
    pub fn sync(&mut self, document: &str) -> std::result::Result<(), JsValue> {
        self.replica.sync(id(document)?);
        Ok(())
    }

    /// Whether this device holds `document` (it may still be on its way from the server).
    pub fn holds(&self, document: &str) -> std::result::Result<bool, JsValue> {
        Ok(self.replica.documents().get(id(document)?).is_ok())
    }

    /// A sync state the app saved from a `saveSyncState` task.
    #[wasm_bindgen(js_name = restoreSyncState)]
    pub fn restore_sync_state(
        &mut self,
        server: String,
        document: &str,
        bytes: Vec<u8>,
    ) -> std::result::Result<(), JsValue> {
        self.replica
            .restore_sync_state(StorageId(server), id(document)?, bytes);
        Ok(())
    }

    /// The whole document as one chunk, to replace its stored chunks when they grow many.
    pub fn save(&mut self, document: &str) -> std::result::Result<Vec<u8>, JsValue> {
        Ok(self.replica.save(id(document)?)?)
    }

    /// Sets the actor id (hex) every change on this device is written with.
    #[wasm_bindgen(js_name = setActor)]
    pub fn set_actor(&mut self, actor_hex: &str) -> std::result::Result<(), JsValue> {
        let actor = automerge::ActorId::try_from(actor_hex)
            .map_err(|e| WasmError::Input(format!("actor id: {e}")))?;
        self.replica.set_actor(actor);
        Ok(())
    }

    /// Puts the person's work back after a refusal, from the quarantine a `quarantine` task
    /// gave (stored first), writing as `by` (`Replica::recover`).
    pub fn recover(
        &mut self,
        quarantine: JsValue,
        by: JsValue,
        now: f64,
    ) -> std::result::Result<(), JsValue> {
        let quarantine: crate::recovery::Quarantine = input(quarantine)?;
        let by: Principal = input(by)?;
        Ok(self.replica.recover(&quarantine, &by, millis(now))?)
    }

    // ---- sync ---------------------------------------------------------------------------

    /// The tasks queued since the last call, oldest first: `{task: "send", bytes}`,
    /// `{task: "close", reason}`, `{task: "store", document, bytes, ticket}`,
    /// `{task: "saveSyncState", server, document, bytes}`, `{task: "changed", document}`,
    /// `{task: "unavailable", document}`, and after a refusal `{task: "quarantine",
    /// quarantine}`, `{task: "actor", actor}`, `{task: "replace", document, bytes}`,
    /// `{task: "returned", item}`, `{task: "recovered", document}`.
    pub fn tasks(&mut self) -> std::result::Result<JsValue, JsValue> {
        Ok(output(&self.replica.take_tasks())?)
    }

    pub fn connected(&mut self) {
        self.replica.connected();
    }

    pub fn received(&mut self, bytes: Vec<u8>) {
        self.replica.received(bytes);
    }

    pub fn disconnected(&mut self) {
        self.replica.disconnected();
    }

    pub fn tick(&mut self) {
        self.replica.tick();
    }

    /// The `store` task with this ticket is durable.
    pub fn stored(&mut self, ticket: f64) {
        self.replica.stored(ticket as u64);
    }

    /// The `store` task with this ticket failed; the server will send it again.
    #[wasm_bindgen(js_name = storeFailed)]
    pub fn store_failed(&mut self, ticket: f64) {
        self.replica.store_failed(ticket as u64);
    }

    /// Whether the server has kept everything this device has of `document`.
    pub fn acknowledged(&self, document: &str) -> std::result::Result<bool, JsValue> {
        Ok(self.replica.acknowledged(id(document)?))
    }

    /// How many records of `document` the server has not yet confirmed keeping.
    pub fn waiting(&self, document: &str) -> std::result::Result<u32, JsValue> {
        Ok(self.replica.waiting(id(document)?) as u32)
    }

    fn edit<T>(
        &mut self,
        document: DocumentId,
        edit: impl FnOnce(&mut Documents) -> Result<T>,
    ) -> std::result::Result<T, JsValue> {
        Ok(self.replica.edit(document, edit)?)
    }

    /// Every record of a collection, as `[{id, record}]`.
    pub fn records(
        &self,
        document: &str,
        collection: &str,
    ) -> std::result::Result<JsValue, JsValue> {
        let held = self.replica.documents().get(id(document)?)?;
        let doc = held.document();
        let collection = Collection::named(doc.scope().kind, collection)
            .ok_or_else(|| WasmError::Input(format!("no collection {collection:?}")))?;
        Ok(read_all(doc, collection)?)
    }

    // ---- a member's notebook ----------------------------------------------------------

    /// Adds a new record to a collection of a document: a lecture, service, visit or pledge
    /// to a notebook; a schedule entry, meeting, screening, rectification, election or feed
    /// item to a branch; a note, problem or assessment to a supervision document. Returns the
    /// new record's id.
    pub fn add(
        &mut self,
        document: &str,
        by: JsValue,
        now: f64,
        collection: &str,
        record: JsValue,
    ) -> std::result::Result<String, JsValue> {
        let by: Principal = input(by)?;
        let (document, now) = (id(document)?, millis(now));
        let added = self.edit(document, |documents| {
            let doc = documents.get_mut(document)?.document_mut();
            match collection {
                "lectures" => add::<Lecture>(doc, &by, now, record),
                "services" => add::<Service>(doc, &by, now, record),
                "visits" => add::<Visit>(doc, &by, now, record),
                "pledges" => add::<Pledge>(doc, &by, now, record),
                "schedule" => add::<ScheduleEntry>(doc, &by, now, record),
                "meetings" => add::<Meeting>(doc, &by, now, record),
                "screenings" => add::<Screening>(doc, &by, now, record),
                "rectifications" => add::<Rectification>(doc, &by, now, record),
                "elections" => add::<Election>(doc, &by, now, record),
                "feed" => add::<FeedItem>(doc, &by, now, record),
                "notes" => add::<SupervisionNote>(doc, &by, now, record),
                "problems" => add::<Problem>(doc, &by, now, record),
                "assessments" => add::<Assessment>(doc, &by, now, record),
                _ => Err(WasmError::Input(format!("cannot add to {collection:?}"))),
            }
        })?;
        Ok(added.to_string())
    }

    /// Replaces the content of a record of the branch or supervision document (a screening,
    /// meeting, schedule entry, rectification, problem, note, assessment): what its author
    /// may not change (who made it and when, its progress) is kept as stored. A member's
    /// records change through `updateRecord`.
    pub fn update(
        &mut self,
        document: &str,
        by: JsValue,
        now: f64,
        collection: &str,
        record: &str,
        content: JsValue,
    ) -> std::result::Result<(), JsValue> {
        let by: Principal = input(by)?;
        let (document, now, record) = (id(document)?, millis(now), record_id(record)?);
        self.edit(document, |documents| {
            let doc = documents.get_mut(document)?.document_mut();
            match collection {
                "schedule" => update::<ScheduleEntry>(doc, &by, now, record, content),
                "meetings" => update::<Meeting>(doc, &by, now, record, content),
                "screenings" => update::<Screening>(doc, &by, now, record, content),
                "rectifications" => update::<Rectification>(doc, &by, now, record, content),
                "notes" => update::<SupervisionNote>(doc, &by, now, record, content),
                "problems" => update::<Problem>(doc, &by, now, record, content),
                "assessments" => update::<Assessment>(doc, &by, now, record, content),
                _ => Err(WasmError::Input(format!("cannot update in {collection:?}"))),
            }
        })
    }

    /// Replaces the content of a lecture, service or visit (`kind`); a submitted record goes
    /// back to draft.
    #[wasm_bindgen(js_name = updateRecord)]
    pub fn update_record(
        &mut self,
        notebook: &str,
        by: JsValue,
        now: f64,
        kind: &str,
        record: &str,
        content: JsValue,
    ) -> std::result::Result<(), JsValue> {
        let by: Principal = input(by)?;
        let (now, record) = (millis(now), record_id(record)?);
        let (notebook, kind) = (id(notebook)?, reviewable(kind)?);
        self.edit(notebook, |documents| {
            let notebook = documents.notebook_mut(notebook)?;
            Ok(match kind {
                ReviewableKind::Lecture => {
                    notebook.update_record(&by, now, record, input::<Lecture>(content)?)
                }
                ReviewableKind::Service => {
                    notebook.update_record(&by, now, record, input::<Service>(content)?)
                }
                ReviewableKind::Visit => {
                    notebook.update_record(&by, now, record, input::<Visit>(content)?)
                }
                ReviewableKind::Pledge => {
                    notebook
                        .document_mut()
                        .update(&by, now, record, input::<Pledge>(content)?)
                }
            }?)
        })
    }

    /// Hands a lecture, service or visit in for review; returns the new revision.
    pub fn submit(
        &mut self,
        notebook: &str,
        by: JsValue,
        now: f64,
        kind: &str,
        record: &str,
    ) -> std::result::Result<f64, JsValue> {
        let by: Principal = input(by)?;
        let (now, record) = (millis(now), record_id(record)?);
        let (notebook, kind) = (id(notebook)?, reviewable(kind)?);
        let revision = self.edit(notebook, |documents| {
            let notebook = documents.notebook_mut(notebook)?;
            Ok(match kind {
                ReviewableKind::Lecture => notebook.submit::<Lecture>(&by, now, record),
                ReviewableKind::Service => notebook.submit::<Service>(&by, now, record),
                ReviewableKind::Visit => notebook.submit::<Visit>(&by, now, record),
                ReviewableKind::Pledge => {
                    Err(OpError::NotAllowed("pledges are published, not submitted"))
                }
            }?)
        })?;
        Ok(revision as f64)
    }

    #[wasm_bindgen(js_name = castBallot)]
    pub fn cast_ballot(
        &mut self,
        notebook: &str,
        branch: &str,
        by: JsValue,
        now: f64,
        election: &str,
        choices: JsValue,
    ) -> std::result::Result<(), JsValue> {
        let (by, choices): (Principal, Vec<RecordId>) = (input(by)?, input(choices)?);
        let (notebook, branch, election) = (id(notebook)?, id(branch)?, record_id(election)?);
        self.edit(notebook, |documents| {
            Ok(documents.cast_ballot(notebook, branch, &by, millis(now), election, choices)?)
        })
    }

    /// Withdraws a record of any collection that allows it.
    pub fn withdraw(
        &mut self,
        document: &str,
        by: JsValue,
        now: f64,
        collection: &str,
        record: &str,
        reason: Option<String>,
    ) -> std::result::Result<(), JsValue> {
        let by: Principal = input(by)?;
        let (now, record) = (millis(now), record_id(record)?);
        let document = id(document)?;
        self.edit(document, |documents| {
            let doc = documents.get_mut(document)?.document_mut();
            Ok(match collection {
                "lectures" => doc.withdraw::<Lecture>(&by, now, record, reason),
                "services" => doc.withdraw::<Service>(&by, now, record, reason),
                "visits" => doc.withdraw::<Visit>(&by, now, record, reason),
                "pledges" => doc.withdraw::<Pledge>(&by, now, record, reason),
                "plans" => Err(OpError::NotAllowed(
                    "plans are keyed by month; edit the plan instead",
                )),
                "schedule" => doc.withdraw::<ScheduleEntry>(&by, now, record, reason),
                "meetings" => doc.withdraw::<Meeting>(&by, now, record, reason),
                "screenings" => doc.withdraw::<Screening>(&by, now, record, reason),
                "elections" => doc.withdraw::<Election>(&by, now, record, reason),
                "rectifications" => doc.withdraw::<Rectification>(&by, now, record, reason),
                "feed" => doc.withdraw::<FeedItem>(&by, now, record, reason),
                "notes" => doc.withdraw::<SupervisionNote>(&by, now, record, reason),
                "problems" => doc.withdraw::<Problem>(&by, now, record, reason),
                "assessments" => doc.withdraw::<Assessment>(&by, now, record, reason),
                _ => Err(OpError::NotAllowed(
                    "this collection has nothing to withdraw",
                )),
            }?)
        })
    }

    // ---- a branch admin's branch document --------------------------------------------

    #[wasm_bindgen(js_name = enrolMember)]
    pub fn enrol_member(
        &mut self,
        branch: &str,
        by: JsValue,
        now: f64,
        member: &str,
        entry: JsValue,
    ) -> std::result::Result<(), JsValue> {
        let (by, entry): (Principal, RosterEntry) = (input(by)?, input(entry)?);
        let member: UserId = member.parse()?;
        let branch = id(branch)?;
        self.edit(branch, |documents| {
            Ok(documents
                .branch_mut(branch)?
                .enrol_member(&by, millis(now), member, entry)?)
        })
    }

    #[wasm_bindgen(js_name = setPlan)]
    pub fn set_plan(
        &mut self,
        branch: &str,
        by: JsValue,
        now: f64,
        month: &str,
        plan: JsValue,
    ) -> std::result::Result<(), JsValue> {
        let (by, plan): (Principal, Plan) = (input(by)?, input(plan)?);
        let month: Month = month.parse().map_err(calendar)?;
        let branch = id(branch)?;
        self.edit(branch, |documents| {
            Ok(documents
                .branch_mut(branch)?
                .set_plan(&by, millis(now), month, plan)?)
        })
    }

    /// Records a review of a member's record, read from its notebook held here: an approval
    /// carries what the record counts.
    pub fn review(
        &mut self,
        branch: &str,
        by: JsValue,
        now: f64,
        decision: JsValue,
    ) -> std::result::Result<String, JsValue> {
        let (by, decision): (Principal, ReviewDecision) = (input(by)?, input(decision)?);
        let branch = id(branch)?;
        let review = self.edit(branch, |documents| {
            let (by, now) = (&by, millis(now));
            match decision.record.kind {
                ReviewableKind::Lecture => {
                    review_as::<Lecture>(documents, branch, by, now, decision)
                }
                ReviewableKind::Service => {
                    review_as::<Service>(documents, branch, by, now, decision)
                }
                ReviewableKind::Visit => review_as::<Visit>(documents, branch, by, now, decision),
                ReviewableKind::Pledge => {
                    Err(OpError::NotAllowed("pledges are published, not reviewed").into())
                }
            }
        })?;
        Ok(review.to_string())
    }

    /// Publishes a member's lecture, service or visit (`kind`) to the branch feed, or their
    /// pledge to the pledge wall, copied from their notebook held here; returns the feed
    /// item's id. `fine_example` means nothing for a pledge.
    #[allow(clippy::too_many_arguments)]
    pub fn publish(
        &mut self,
        branch: &str,
        notebook: &str,
        by: JsValue,
        now: f64,
        kind: &str,
        record: &str,
        fine_example: bool,
    ) -> std::result::Result<String, JsValue> {
        let by: Principal = input(by)?;
        let (branch, notebook, id) = (id(branch)?, id(notebook)?, record_id(record)?);
        let kind = reviewable(kind)?;
        let source = RecordRef { notebook, kind, id };
        let published = self.edit(branch, |documents| {
            let (by, now) = (&by, millis(now));
            let publish = (branch, by, now, source, fine_example);
            match kind {
                ReviewableKind::Lecture => publish_as::<Lecture>(documents, publish),
                ReviewableKind::Service => publish_as::<Service>(documents, publish),
                ReviewableKind::Visit => publish_as::<Visit>(documents, publish),
                ReviewableKind::Pledge => {
                    let pledge: Pledge = held(documents, source)?;
                    Ok(documents
                        .branch_mut(branch)?
                        .publish_pledge(by, now, source, &pledge)?)
                }
            }
        })?;
        Ok(published.to_string())
    }

    #[wasm_bindgen(js_name = advanceRectification)]
    pub fn advance_rectification(
        &mut self,
        branch: &str,
        by: JsValue,
        now: f64,
        record: &str,
        status: &str,
        note: Option<String>,
    ) -> std::result::Result<(), JsValue> {
        let by: Principal = input(by)?;
        let (record, status) = (record_id(record)?, progress_status(status)?);
        let branch = id(branch)?;
        self.edit(branch, |documents| {
            Ok(documents.branch_mut(branch)?.advance_rectification(
                &by,
                millis(now),
                record,
                status,
                note,
            )?)
        })
    }

    /// Counts a closed election from the ballots in the members' notebooks held here.
    #[wasm_bindgen(js_name = countElection)]
    pub fn count_election(
        &mut self,
        branch: &str,
        by: JsValue,
        now: f64,
        election: &str,
    ) -> std::result::Result<JsValue, JsValue> {
        let by: Principal = input(by)?;
        let (branch, election) = (id(branch)?, record_id(election)?);
        let result = self.edit(branch, |documents| {
            let ballots = documents.ballots(documents.branch(branch)?, election);
            Ok(documents.branch_mut(branch)?.count_election(
                &by,
                millis(now),
                election,
                &ballots,
            )?)
        })?;
        Ok(output(&result)?)
    }

    // ---- the ledger and supervision ---------------------------------------------------

    #[wasm_bindgen(js_name = setLedgerEntry)]
    pub fn set_ledger_entry(
        &mut self,
        ledger: &str,
        by: JsValue,
        now: f64,
        member: &str,
        entry: JsValue,
    ) -> std::result::Result<(), JsValue> {
        let (by, entry): (Principal, LedgerEntry) = (input(by)?, input(entry)?);
        let member: UserId = member.parse()?;
        let ledger = id(ledger)?;
        self.edit(ledger, |documents| {
            Ok(documents
                .ledger_mut(ledger)?
                .set_entry(&by, millis(now), member, entry)?)
        })
    }

    #[wasm_bindgen(js_name = logContact)]
    pub fn log_contact(
        &mut self,
        ledger: &str,
        by: JsValue,
        now: f64,
        member: &str,
        contact: JsValue,
    ) -> std::result::Result<String, JsValue> {
        let (by, contact): (Principal, Contact) = (input(by)?, input(contact)?);
        let member: UserId = member.parse()?;
        let ledger = id(ledger)?;
        let contact = self.edit(ledger, |documents| {
            Ok(documents
                .ledger_mut(ledger)?
                .log_contact(&by, millis(now), member, contact)?)
        })?;
        Ok(contact.to_string())
    }

    #[wasm_bindgen(js_name = advanceProblem)]
    pub fn advance_problem(
        &mut self,
        supervision: &str,
        by: JsValue,
        now: f64,
        record: &str,
        status: &str,
        note: Option<String>,
    ) -> std::result::Result<(), JsValue> {
        let by: Principal = input(by)?;
        let (record, status) = (record_id(record)?, progress_status(status)?);
        let supervision = id(supervision)?;
        self.edit(supervision, |documents| {
            Ok(documents.supervision_mut(supervision)?.advance_problem(
                &by,
                millis(now),
                record,
                status,
                note,
            )?)
        })
    }

    // ---- views ----------------------------------------------------------------------------

    #[wasm_bindgen(js_name = reviewQueue)]
    pub fn review_queue(&self, branch: &str) -> std::result::Result<JsValue, JsValue> {
        let branch = self.replica.documents().branch(id(branch)?)?;
        let notebooks = self.replica.documents().notebooks_of(branch);
        Ok(output(&views::review_queue(branch, &notebooks))?)
    }

    #[wasm_bindgen(js_name = mySubmissions)]
    pub fn my_submissions(
        &self,
        notebook: &str,
        branch: &str,
    ) -> std::result::Result<JsValue, JsValue> {
        let notebook_id = id(notebook)?;
        let notebook = self.replica.documents().notebook(notebook_id)?;
        let branch = self.replica.documents().branch(id(branch)?)?;
        Ok(output(&views::my_submissions(
            notebook,
            notebook_id,
            branch,
        ))?)
    }

    /// The lectures scheduled from `from` (`YYYY-MM-DD`) on, soonest first.
    pub fn schedule(&self, branch: &str, from: &str) -> std::result::Result<JsValue, JsValue> {
        let from: Date = from.parse().map_err(calendar)?;
        let branch = self.replica.documents().branch(id(branch)?)?;
        Ok(output(&views::schedule(branch, from))?)
    }

    /// The branch's lecture team (微讲队): members on it and the schedule's guest experts.
    #[wasm_bindgen(js_name = lectureTeam)]
    pub fn lecture_team(&self, branch: &str) -> std::result::Result<JsValue, JsValue> {
        let branch = self.replica.documents().branch(id(branch)?)?;
        Ok(output(&views::lecture_team(branch))?)
    }

    pub fn feed(&self, branch: &str) -> std::result::Result<JsValue, JsValue> {
        let branch = self.replica.documents().branch(id(branch)?)?;
        Ok(output(&views::feed(branch))?)
    }

    /// The pledge wall of `year`.
    #[wasm_bindgen(js_name = pledgeWall)]
    pub fn pledge_wall(&self, branch: &str, year: i32) -> std::result::Result<JsValue, JsValue> {
        let branch = self.replica.documents().branch(id(branch)?)?;
        Ok(output(&views::pledge_wall(branch, year))?)
    }

    /// The members' pledges for `year` from the notebooks held here, with where each stands
    /// with the wall, and who has yet to pledge.
    pub fn pledges(&self, branch: &str, year: i32) -> std::result::Result<JsValue, JsValue> {
        let branch = self.replica.documents().branch(id(branch)?)?;
        let notebooks = self.replica.documents().notebooks_of(branch);
        Ok(output(&views::pledges(branch, &notebooks, year))?)
    }

    #[wasm_bindgen(js_name = planProgress)]
    pub fn plan_progress(
        &self,
        branch: &str,
        month: &str,
    ) -> std::result::Result<JsValue, JsValue> {
        let month: Month = month.parse().map_err(calendar)?;
        let branch = self.replica.documents().branch(id(branch)?)?;
        Ok(output(&views::plan_progress(branch, month))?)
    }

    /// The migrant members of the branch out of touch for more than `after_days` days.
    #[wasm_bindgen(js_name = contactReminders)]
    pub fn contact_reminders(
        &self,
        branch: &str,
        ledger: &str,
        now: f64,
        after_days: f64,
    ) -> std::result::Result<JsValue, JsValue> {
        let documents = self.replica.documents();
        let branch = documents.branch(id(branch)?)?;
        let ledger = documents.ledger(id(ledger)?)?;
        Ok(output(&views::contact_reminders(
            branch,
            ledger,
            millis(now),
            after_days as i64,
        ))?)
    }

    /// The branch's figures for `[from, until)` (milliseconds), with `today` as `YYYY-MM-DD`.
    pub fn figures(
        &self,
        branch: &str,
        from: f64,
        until: f64,
        today: &str,
    ) -> std::result::Result<JsValue, JsValue> {
        let today: Date = today.parse().map_err(calendar)?;
        let branch = self.replica.documents().branch(id(branch)?)?;
        Ok(output(&views::figures(
            branch,
            millis(from),
            millis(until),
            today,
        ))?)
    }
}

fn update<T: Record + DeserializeOwned>(
    doc: &mut crate::Document,
    by: &Principal,
    now: Millis,
    id: RecordId,
    content: JsValue,
) -> Result<()> {
    Ok(doc.update(by, now, id, input::<T>(content)?)?)
}

fn add<T: Record + DeserializeOwned>(
    doc: &mut crate::Document,
    by: &Principal,
    now: Millis,
    record: JsValue,
) -> Result<RecordId> {
    Ok(doc.add(by, now, input::<T>(record)?)?)
}

/// A member's record as the notebook held on this phone has it.
fn held<T: Record>(documents: &Documents, source: RecordRef) -> Result<T> {
    Ok(documents
        .notebook(source.notebook)?
        .require::<T>(&source.id.to_string())?)
}

/// Reviews the record `decision` names, as read in its notebook held here.
fn review_as<T: Reviewable>(
    documents: &mut Documents,
    branch: DocumentId,
    by: &Principal,
    now: Millis,
    decision: ReviewDecision,
) -> Result<RecordId> {
    let record: T = held(documents, decision.record)?;
    Ok(documents
        .branch_mut(branch)?
        .review(by, now, decision, &record)?)
}

/// Publishes a member's record, as read in its notebook held here, to the branch feed.
fn publish_as<T: Reviewable>(
    documents: &mut Documents,
    (branch, by, now, source, fine_example): (DocumentId, &Principal, Millis, RecordRef, bool),
) -> Result<RecordId> {
    let record: T = held(documents, source)?;
    Ok(documents
        .branch_mut(branch)?
        .publish_record(by, now, source, &record, fine_example)?)
}

/// A day or month the app sent that is not one.
fn calendar(error: crate::time::CalendarError) -> WasmError {
    WasmError::Input(error.to_string())
}

fn reviewable(kind: &str) -> Result<ReviewableKind> {
    ReviewableKind::parse(kind).ok_or_else(|| WasmError::Input(format!("no record kind {kind:?}")))
}

fn progress_status(status: &str) -> Result<ProgressStatus> {
    ProgressStatus::parse(status).ok_or_else(|| WasmError::Input(format!("no status {status:?}")))
}

/// One record with its key, as JavaScript sees it.
#[derive(Serialize)]
struct Keyed<T> {
    id: String,
    record: T,
}

fn keyed<T: autosurgeon::Hydrate + Serialize>(
    doc: &crate::Document,
    collection: &Collection,
) -> Result<JsValue> {
    let records: Vec<Keyed<T>> = doc
        .records::<T>(collection)
        .into_iter()
        .map(|(id, record)| Keyed { id, record })
        .collect();
    output(&records)
}

/// Reads a collection with the record type it holds.
fn read_all(doc: &crate::Document, collection: &Collection) -> Result<JsValue> {
    crate::model::with_record_type!(collection.name, T => keyed::<T>(doc, collection), _ => {
        Err(WasmError::Input(format!("no collection {:?}", collection.name)))
    })
}

/// The device's sign-in ([`Session`]): the app stores it as JSON and asks it what to do.
#[wasm_bindgen]
#[derive(Debug, Default)]
pub struct SignIn {
    session: Session,
}

#[wasm_bindgen]
impl SignIn {
    /// A sign-in restored from what [`SignIn::save`] gave, or a new one for `undefined`.
    #[wasm_bindgen(constructor)]
    pub fn new(saved: JsValue) -> std::result::Result<SignIn, JsValue> {
        Ok(SignIn {
            session: restored(saved)?,
        })
    }

    pub fn save(&self) -> std::result::Result<JsValue, JsValue> {
        Ok(output(&self.session)?)
    }

    /// Takes the server's answer to a sign-in or refresh; returns whether it is the person
    /// who last signed in on this device.
    pub fn signed_in(&mut self, credentials: JsValue) -> std::result::Result<bool, JsValue> {
        Ok(self.session.signed_in(input(credentials)?))
    }

    /// What to do next: `{step: "sync" | "refresh" | "sign_in" | "wait", …}`.
    pub fn next(&self, now: f64) -> std::result::Result<JsValue, JsValue> {
        Ok(output(&self.session.next(millis(now)))?)
    }

    /// The server refused with the `error` code `code`.
    pub fn refused(&mut self, code: &str, now: f64) -> std::result::Result<JsValue, JsValue> {
        Ok(output(&self.session.refused(code, millis(now)))?)
    }

    /// The actor to write with for `user`, in hex.
    pub fn actor_for(&mut self, user: &str) -> std::result::Result<String, JsValue> {
        let user: UserId = user.parse()?;
        Ok(self.session.actor_for(user)?)
    }

    /// Writes for `user` with `actor` (hex) from now on (after a recovery, `Task::Actor`).
    #[wasm_bindgen(js_name = replaceActor)]
    pub fn replace_actor(&mut self, user: &str, actor: String) -> std::result::Result<(), JsValue> {
        let user: UserId = user.parse()?;
        self.session.replace_actor(user, actor);
        Ok(())
    }
}

/// The device's upload queue ([`UploadQueue`]): the app stores it as JSON, makes the requests
/// it asks for and reports the answers.
#[wasm_bindgen]
#[derive(Debug, Default)]
pub struct Uploads {
    queue: UploadQueue,
}

fn network(text: &str) -> Result<Network> {
    match text {
        "offline" => Ok(Network::Offline),
        "metered" => Ok(Network::Metered),
        "unmetered" => Ok(Network::Unmetered),
        other => Err(WasmError::Input(format!("no network {other:?}"))),
    }
}

#[wasm_bindgen]
impl Uploads {
    /// A queue restored from what [`Uploads::save`] gave, or a new one for `undefined`.
    #[wasm_bindgen(constructor)]
    pub fn new(saved: JsValue) -> std::result::Result<Uploads, JsValue> {
        Ok(Uploads {
            queue: restored(saved)?,
        })
    }

    pub fn save(&self) -> std::result::Result<JsValue, JsValue> {
        Ok(output(&self.queue)?)
    }

    /// `{large_only_unmetered, large}`: "video only on Wi-Fi".
    pub fn set_policy(&mut self, policy: JsValue) -> std::result::Result<(), JsValue> {
        self.queue.policy = input(policy)?;
        Ok(())
    }

    /// Queues the media the records of an open document reference that this phone holds
    /// (`held`: the SHA-256 of each blob it keeps).
    pub fn need(
        &mut self,
        app: &Tianjian,
        document: &str,
        held: Vec<String>,
        now: f64,
    ) -> std::result::Result<(), JsValue> {
        let id = id(document)?;
        let doc = app.replica.documents().get(id)?.document();
        let projection = crate::projection::project_all(doc.automerge(), doc.scope().kind);
        let held: std::collections::HashSet<String> = held.into_iter().collect();
        self.queue
            .need_document(id, &projection, |sha256| held.contains(sha256), millis(now));
        Ok(())
    }

    /// The next request, or `undefined`; `network` is `offline`, `metered` or `unmetered`.
    pub fn next(&self, now: f64, network_now: &str) -> std::result::Result<JsValue, JsValue> {
        match self.queue.next(millis(now), network(network_now)?) {
            Some(action) => Ok(output(&action)?),
            None => Ok(JsValue::UNDEFINED),
        }
    }

    pub fn created(&mut self, sha256: &str, url: String, offset: f64) {
        self.queue.created(sha256, url, offset as u64);
    }

    pub fn reached(&mut self, sha256: &str, offset: f64) {
        self.queue.reached(sha256, offset as u64);
    }

    /// `failure` is `{failure: "retry" | "gone"}` or `{failure: "refused", reason}`.
    pub fn failed(
        &mut self,
        sha256: &str,
        failure: JsValue,
        now: f64,
    ) -> std::result::Result<(), JsValue> {
        self.queue.failed(sha256, input(failure)?, millis(now));
        Ok(())
    }

    pub fn progress(&self) -> std::result::Result<JsValue, JsValue> {
        Ok(output(&self.queue.progress())?)
    }
}
