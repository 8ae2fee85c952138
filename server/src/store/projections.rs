//! Projections: the SQL rows derived from documents (records, the people they name, the
//! media they reference, their scalar fields), written in the transaction of the changes they come from and
//! rebuilt from the documents on demand.

use std::borrow::Cow;
use std::collections::HashSet;

use super::sql::{Db, Dialect, Value, params};
use client_core::model::branch::Election;
use client_core::model::notebook::Ballot;
use client_core::projection::{self, Cell, Projection};
use client_core::{BranchId, DocKind, DocumentId, Millis, RecordId};

use super::documents::stored_bytes;
use super::standings;
use super::{Result, Store, StoreError, parse};

impl Store {
    /// Every election, with its branch: what the directory checks ballots against.
    pub async fn elections(&self) -> Result<Vec<(RecordId, BranchId, Election)>> {
        self.call(|connection| {
            let mut statement = connection.prepare("SELECT id, branch, election FROM elections")?;
            let rows = statement.query_map((), |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })?;
            let mut elections = Vec::new();
            for row in rows {
                let (id, branch, json) = row?;
                let election = serde_json::from_str(&json)
                    .map_err(|e| StoreError::Corrupt(format!("election {id}: {e}")))?;
                elections.push((
                    parse(&id, "election id")?,
                    parse(&branch, "election branch")?,
                    election,
                ));
            }
            Ok(elections)
        })
        .await
    }

    /// The ballots cast in `branch`'s members' notebooks for `election`, from the projection:
    /// the voter, the candidates chosen, and when the device says it was cast.
    pub async fn ballots(&self, branch: BranchId, election: RecordId) -> Result<Vec<Ballot>> {
        self.read(move |connection| {
            // The choices as a JSON array, as each database spells one.
            let choices = match connection.dialect() {
                Dialect::Sqlite => "json_group_array(p.person)",
                Dialect::Postgres => "coalesce(json_agg(p.person)::text, '[]')",
            };
            let mut statement = connection.prepare(&format!(
                "SELECT r.document, r.owner, t.number,
                        (SELECT {choices} FROM record_people p
                         WHERE p.document = r.document AND p.collection = r.collection
                           AND p.key = r.key AND p.field = 'choices')
                 FROM records r JOIN documents d ON d.id = r.document AND d.kind = 'notebook'
                 LEFT JOIN record_values t ON t.document = r.document
                   AND t.collection = r.collection AND t.key = r.key AND t.field = 'cast_at'
                 WHERE r.collection = 'ballots' AND r.key = ?1 AND r.branch = ?2"
            ))?;
            let mut rows = statement.query(params![election.to_string(), branch.to_string()])?;
            let mut ballots = Vec::new();
            while let Some(row) = rows.next()? {
                let document: String = row.get(0)?;
                let corrupt =
                    |what: &str| StoreError::Corrupt(format!("{what} of a ballot in {document}"));
                let voter: String = row
                    .get::<_, Option<String>>(1)?
                    .ok_or_else(|| corrupt("voter"))?;
                let cast_at: f64 = row
                    .get::<_, Option<f64>>(2)?
                    .ok_or_else(|| corrupt("time"))?;
                let choices: Vec<String> = serde_json::from_str(&row.get::<_, String>(3)?)
                    .map_err(|_| corrupt("choices"))?;
                ballots.push(Ballot {
                    voter: parse(&voter, "voter")?,
                    choices: choices
                        .iter()
                        .map(|c| parse(c, "choice"))
                        .collect::<Result<_>>()?,
                    cast_at: Millis(cast_at as i64),
                });
            }
            Ok(ballots)
        })
        .await
    }

    /// Rebuilds every projected row of `document` from the document itself, in one
    /// transaction on the storage thread, so no write can slip in between the read and the
    /// rebuilt rows. Returns how many records it holds.
    pub async fn rebuild_projection(&self, document: DocumentId) -> Result<usize> {
        self.call(move |connection| {
            let tx = connection.transaction()?;
            let records = reproject(&tx, document)?;
            tx.commit()?;
            Ok(records)
        })
        .await
    }
}

/// Replaces the rows of the records `projection` touched.
pub(super) fn project(tx: &Db, document: DocumentId, projection: &Projection) -> Result<()> {
    let id = document.to_string();
    let restanding = standings::subjects_before(tx, &id, projection)?;
    let clear = |table: &str| {
        tx.prepare(&format!(
            "DELETE FROM {table} WHERE document = ?1 AND collection = ?2 AND key = ?3"
        ))
    };
    let mut clear_record = clear("records")?;
    let mut clear_fields = [
        clear("record_people")?,
        clear("record_media")?,
        clear("record_values")?,
    ];
    for (collection, key) in &projection.touched {
        // A record's people, media and values are only ever written beside its row: a
        // record without one (a new record, most often) has none to clear.
        if clear_record.execute(params![id, collection, key])? == 0 {
            continue;
        }
        for statement in &mut clear_fields {
            statement.execute(params![id, collection, key])?;
        }
    }
    let mut record = tx.prepare(
        "INSERT INTO records (document, collection, key, branch, owner, occurred_at, status, revision, subject, subject_document, subject_collection)
         SELECT ?1, ?2, ?3, branch, ?4, ?5, ?6, ?7, ?8, ?9, ?10 FROM documents WHERE id = ?1",
    )?;
    for row in &projection.records {
        record.execute(params![
            id,
            row.collection,
            row.key,
            row.owner,
            row.occurred_at,
            row.status,
            row.revision,
            row.subject,
            row.subject_document,
            row.subject_collection
        ])?;
    }
    let mut people = Rows::new();
    for row in &projection.people {
        people.push(
            [&id, row.collection, &row.key, row.field],
            [text(&row.person)],
        );
    }
    people.insert(tx, "record_people", &["person"], "ON CONFLICT DO NOTHING")?;
    let mut media = Rows::new();
    for row in &projection.media {
        media.push(
            [&id, row.collection, &row.key, row.field],
            [
                text(&row.sha256),
                text(&row.media_type),
                Value::Int(row.size),
            ],
        );
    }
    media.insert(
        tx,
        "record_media",
        &["sha256", "media_type", "size"],
        "ON CONFLICT DO NOTHING",
    )?;
    // Texts and numbers apart, so that no parameter is ever null: PostgreSQL prepares a
    // statement for the types of its parameters, and a null's would multiply them. A field
    // written twice (it cannot be, by the schema) keeps its last value, as a row at a time
    // did: one statement may not update a row twice.
    let mut seen = HashSet::new();
    let (mut texts, mut numbers) = (Rows::new(), Rows::new());
    for row in projection.values.iter().rev() {
        if !seen.insert((row.collection, row.key.as_str(), row.field)) {
            continue;
        }
        let place = [id.as_str(), row.collection, &row.key, row.field];
        match &row.value {
            Cell::Text(value) => texts.push(place, [text(value)]),
            Cell::Number(value) => numbers.push(place, [Value::Real(*value)]),
        }
    }
    for (rows, column, other) in [(&texts, "text", "number"), (&numbers, "number", "text")] {
        rows.insert(
            tx,
            "record_values",
            &[column, other],
            "ON CONFLICT (document, collection, key, field)
             DO UPDATE SET text = excluded.text, number = excluded.number",
        )?;
    }
    let mut election = tx.prepare(
        "INSERT INTO elections (id, branch, document, election)
         SELECT ?1, branch, ?2, ?3 FROM documents WHERE id = ?2
         ON CONFLICT (id) DO UPDATE SET election = excluded.election",
    )?;
    for (key, row) in &projection.elections {
        let json = serde_json::to_string(row).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        election.execute(params![key, id, json])?;
    }
    standings::restand(tx, &id, restanding, projection)
}

/// Replaces a document's projection with one made afresh from the document; returns how many
/// records it holds. The caller holds the transaction.
pub(super) fn reproject(tx: &Db, document: DocumentId) -> Result<usize> {
    let kind: String = tx.query_row(
        "SELECT kind FROM documents WHERE id = ?1",
        [document.to_string()],
        |row| row.get(0),
    )?;
    let kind = DocKind::parse(&kind)
        .ok_or_else(|| StoreError::Corrupt(format!("kind of document {document}")))?;
    let bytes = stored_bytes(tx, document)?;
    let doc =
        automerge::Automerge::load(&bytes).map_err(|e| StoreError::BadChange(e.to_string()))?;
    let projection = projection::project_all(&doc, kind);
    standings::forget(tx, &document.to_string())?;
    for table in [
        "records",
        "record_people",
        "record_media",
        "record_values",
        "elections",
    ] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE document = ?1"),
            [document.to_string()],
        )?;
    }
    project(tx, document, &projection)?;
    Ok(projection.records.len())
}

fn text(text: &str) -> Value<'_> {
    Value::Text(Cow::Borrowed(text))
}

/// The most rows one statement inserts.
const MOST_ROWS: usize = 32;

/// Rows of a projection table, each the record's place (document, collection, key, field)
/// and then values of its own, written with as few statements as they fit in: a statement a
/// row is a round trip a row to PostgreSQL.
struct Rows<'a> {
    rows: Vec<Vec<Value<'a>>>,
}

impl<'a> Rows<'a> {
    fn new() -> Self {
        Rows { rows: Vec::new() }
    }

    fn push<const N: usize>(&mut self, place: [&'a str; 4], values: [Value<'a>; N]) {
        self.rows
            .push(place.into_iter().map(text).chain(values).collect());
    }

    /// Inserts the rows into `table`, their values into `columns` after the place; any
    /// column named beyond the values is null. Rows go in runs of 32, 16, … 1, so that a
    /// handful of statement shapes serve every batch and each is prepared once.
    fn insert(&self, tx: &Db, table: &str, columns: &[&str], conflict: &str) -> Result<()> {
        let named = ["document", "collection", "key", "field"]
            .iter()
            .chain(columns)
            .copied()
            .collect::<Vec<_>>();
        let insert = format!("INSERT INTO {table} ({})", named.join(", "));
        let mut rest = self.rows.as_slice();
        while let Some(width) = rest.first().map(Vec::len) {
            let run = MOST_ROWS.min(1 << rest.len().ilog2());
            let (these, after) = rest.split_at(run);
            let mut sql = format!("{insert} VALUES ");
            for row in 0..run {
                let cells: Vec<String> = (1..=width)
                    .map(|column| format!("?{}", row * width + column))
                    .chain((width..named.len()).map(|_| "NULL".to_owned()))
                    .collect();
                if row > 0 {
                    sql.push_str(", ");
                }
                sql.push('(');
                sql.push_str(&cells.join(", "));
                sql.push(')');
            }
            sql.push(' ');
            sql.push_str(conflict);
            let values: Vec<&Value<'_>> = these.iter().flatten().collect();
            tx.prepare(&sql)?.execute(values.as_slice())?;
            rest = after;
        }
        Ok(())
    }
}
