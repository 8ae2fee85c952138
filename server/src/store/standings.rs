//! The review that stands on each member's record that an admin reviewed, kept as a table of
//! its own (`standings`) beside the projections and written in the same transaction as the
//! reviews it comes from: figures, plans, ledgers and the media archive start from it, so
//! that counting a year is one pass over its approvals rather than a search for each
//! approval's latest review.
//!
//! The rule is client-core's (`views`): the review that stands is the latest review of the
//! latest revision any admin of the branch reviewed, by revision, then time, then review id.
//! The record counts while that review approved it, with what the approval counts (`Counted`,
//! projected as the review's own fields). A record is published while a live item of the
//! branch's feed shows it, and a fine example if its standing approval or its feed item
//! says so, as a member's phone shows it (`my_submissions`).
//!
//! A standing depends only on rows of the branch document's projection (its reviews and feed
//! items), so it is rebuilt from them whenever a write touches a review or a feed item of the
//! record, and with the document's projection. Writes to one document are serialised by
//! its row in `documents`, which every write locks first: the rows read here include every
//! review committed before.

use std::collections::BTreeSet;

use client_core::DocumentId;
use client_core::projection::Projection;
use serde::Serialize;

use super::sql::{Db, Dialect, params};
use super::{Result, Store};

/// The collections of a branch document whose records a standing is made of.
const STANDING_FROM: [&str; 2] = ["reviews", "feed"];

/// A member's record, by its notebook, collection and id: record ids are made on devices, so
/// only all three name one record for sure.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Subject {
    document: String,
    collection: String,
    key: String,
}

/// How a reviewed record stands, as the server keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Standing {
    /// The member's record.
    pub notebook: String,
    pub collection: String,
    pub key: String,
    /// The review that stands, and the revision it judged.
    pub review: String,
    pub revision: Option<i64>,
    /// `approved` or `returned`.
    pub decision: String,
    /// When the record was held, as its approval counts it (none for a return).
    pub held_at: Option<i64>,
    pub published: bool,
    pub fine_example: bool,
}

impl Store {
    /// How each reviewed record of `notebook` stands in the review of `branch_document`.
    pub async fn standings(
        &self,
        branch_document: DocumentId,
        notebook: DocumentId,
    ) -> Result<Vec<Standing>> {
        self.read(move |connection| {
            let mut statement = connection.prepare(
                "SELECT subject_document, subject_collection, subject, review, revision,
                        decision, held_at, published, fine_example
                 FROM standings WHERE document = ?1 AND subject_document = ?2
                 ORDER BY subject_collection, subject",
            )?;
            let rows = statement.query_map(
                params![branch_document.to_string(), notebook.to_string()],
                |row| {
                    Ok(Standing {
                        notebook: row.get(0)?,
                        collection: row.get(1)?,
                        key: row.get(2)?,
                        review: row.get(3)?,
                        revision: row.get(4)?,
                        decision: row.get(5)?,
                        held_at: row.get(6)?,
                        published: row.get::<_, i64>(7)? != 0,
                        fine_example: row.get::<_, i64>(8)? != 0,
                    })
                },
            )?;
            rows.collect()
        })
        .await
    }
}

/// The records whose standing the rows `projection` replaces may speak for: the subjects of
/// the reviews and feed items it touched, as their rows stand before it is written. With
/// [`restand`] once it is.
pub(super) fn subjects_before(
    tx: &Db,
    document: &str,
    projection: &Projection,
) -> Result<BTreeSet<Subject>> {
    let mut subjects = BTreeSet::new();
    let touched = projection
        .touched
        .iter()
        .filter(|(collection, _)| STANDING_FROM.contains(collection));
    let mut statement = None;
    for (collection, key) in touched {
        let statement = match &mut statement {
            Some(statement) => statement,
            None => statement.insert(tx.prepare(
                "SELECT subject_document, subject_collection, subject FROM records
                 WHERE document = ?1 AND collection = ?2 AND key = ?3
                   AND subject_document IS NOT NULL AND subject_collection IS NOT NULL
                   AND subject IS NOT NULL",
            )?),
        };
        let mut rows = statement.query(params![document, collection, key])?;
        while let Some(row) = rows.next()? {
            subjects.insert(Subject {
                document: row.get(0)?,
                collection: row.get(1)?,
                key: row.get(2)?,
            });
        }
    }
    Ok(subjects)
}

/// Rebuilds the standing of `subjects`, and of the subjects of the reviews and feed items
/// `projection` wrote, from the rows of `document` as they now are.
pub(super) fn restand(
    tx: &Db,
    document: &str,
    mut subjects: BTreeSet<Subject>,
    projection: &Projection,
) -> Result<()> {
    for row in &projection.records {
        if !STANDING_FROM.contains(&row.collection) {
            continue;
        }
        if let (Some(notebook), Some(collection), Some(key)) =
            (&row.subject_document, row.subject_collection, &row.subject)
        {
            subjects.insert(Subject {
                document: notebook.clone(),
                collection: collection.to_owned(),
                key: key.clone(),
            });
        }
    }
    if subjects.is_empty() {
        return Ok(());
    }
    let mut clear = tx.prepare(
        "DELETE FROM standings WHERE document = ?1 AND subject_document = ?2
           AND subject_collection = ?3 AND subject = ?4",
    )?;
    let mut stand = tx.prepare(&standing_sql(tx.dialect()))?;
    for subject in &subjects {
        let place = params![document, subject.document, subject.collection, subject.key];
        clear.execute(place)?;
        stand.execute(place)?;
    }
    Ok(())
}

/// Forgets every standing `document`'s reviews made, before its projection is made afresh.
pub(super) fn forget(tx: &Db, document: &str) -> Result<()> {
    tx.execute("DELETE FROM standings WHERE document = ?1", [document])?;
    Ok(())
}

/// The statement that writes one record's standing (`?1` the branch document, `?2`, `?3`,
/// `?4` the record), if any review of it is left. Counts of people are distinct already: the
/// people table holds each person once a field.
fn standing_sql(dialect: Dialect) -> String {
    // The speakers, space-separated (user ids hold no space), as each database joins them.
    let speakers = match dialect {
        Dialect::Sqlite => "group_concat(p.person, ' ')",
        Dialect::Postgres => "string_agg(p.person, ' ')",
    };
    let text = |field: &str| {
        format!(
            "(SELECT t.text FROM record_values t WHERE t.document = v.document
               AND t.collection = 'reviews' AND t.key = v.key AND t.field = '{field}')"
        )
    };
    let number = |field: &str| {
        format!(
            "(SELECT t.number FROM record_values t WHERE t.document = v.document
               AND t.collection = 'reviews' AND t.key = v.key AND t.field = '{field}')"
        )
    };
    let people = |field: &str| {
        format!(
            "(SELECT count(*) FROM record_people p WHERE p.document = v.document
               AND p.collection = 'reviews' AND p.key = v.key AND p.field = '{field}')"
        )
    };
    // A live item of the feed that shows the record, fine example or not.
    let in_feed = |fine: &str| {
        format!(
            "EXISTS (SELECT 1 FROM records f WHERE f.document = v.document
               AND f.collection = 'feed' AND f.subject_document = v.subject_document
               AND f.subject_collection = v.subject_collection AND f.subject = v.subject
               AND f.status <> 'withdrawn' {fine})"
        )
    };
    let fine_in_feed = in_feed(
        "AND EXISTS (SELECT 1 FROM record_values t WHERE t.document = f.document
           AND t.collection = f.collection AND t.key = f.key AND t.field = 'fine_example'
           AND t.number = 1)",
    );
    format!(
        "INSERT INTO standings (document, subject_document, subject_collection, subject, branch,
             review, revision, decision, held_at, owner, title, category, venue, plan, audience,
             hours, attendees, participants, speakers, published, fine_example)
         SELECT v.document, v.subject_document, v.subject_collection, v.subject, v.branch,
             v.key, v.revision, v.status, CAST({held_at} AS INTEGER),
             (SELECT d.owner FROM documents d WHERE d.id = v.subject_document),
             {title}, {category}, {venue}, {plan}, {audience}, {hours},
             {attendees}, {participants},
             coalesce((SELECT {speakers} FROM record_people p WHERE p.document = v.document
                 AND p.collection = 'reviews' AND p.key = v.key AND p.field = 'speakers'), ''),
             CASE WHEN {published} THEN 1 ELSE 0 END,
             CASE WHEN (v.status = 'approved' AND {fine_example} = 1) OR {fine_in_feed}
                  THEN 1 ELSE 0 END
         FROM records v
         WHERE v.document = ?1 AND v.collection = 'reviews' AND v.subject_document = ?2
           AND v.subject_collection = ?3 AND v.subject = ?4
         ORDER BY v.revision DESC NULLS LAST, v.occurred_at DESC NULLS LAST, v.key DESC
         LIMIT 1",
        held_at = number("held_at"),
        title = text("title"),
        category = text("category"),
        venue = text("venue"),
        plan = text("plan"),
        audience = number("audience"),
        hours = number("hours"),
        attendees = people("attendees"),
        participants = people("participants"),
        published = in_feed(""),
        fine_example = number("fine_example"),
    )
}
