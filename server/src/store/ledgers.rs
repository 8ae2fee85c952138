//! The records of a ledger (台账), read from the projections for export: a branch's approved
//! lectures, services or visits of a period, its meetings and rectifications, or its members
//! with their ledger entries; each record with every scalar field, the names of the people it
//! names, and how many files it references.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use super::sql::{Db, params};
use client_core::Millis;
use client_core::projection::Cell;

use super::statistics::{Scope, standing_approvals};
use super::{Result, Store};

/// Which records a ledger lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Members' approved records of a collection (`lectures`, `services`, `visits`).
    Approved(&'static str),
    /// A branch's records of some collections that stand (`meetings`; `rectifications` with
    /// the township's `problems`, which the branch's problem list shows together).
    Standing(&'static [&'static str]),
    /// The roster, each member with his ledger entry.
    Members,
}

/// One record of a ledger.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LedgerRecord {
    pub branch: String,
    pub document: String,
    /// Its collection: `problems` beside `rectifications` in the problem list.
    pub collection: String,
    pub key: String,
    /// The collection of the record it came from (`visits`, for a problem a visit found).
    pub from: Option<String>,
    pub occurred_at: Option<Millis>,
    pub status: String,
    /// Each scalar field (for members: the roster entry's and the ledger entry's).
    pub values: BTreeMap<String, Cell>,
    /// The names of the people scalar fields name (`recorded_by`, `responsible`), by field.
    pub names: BTreeMap<String, String>,
    /// The names of the people list fields name (`attendees`, `participants`), by field.
    pub people: BTreeMap<String, Vec<String>>,
    /// How many files (photos, audio, video) the record references.
    pub media: usize,
}

/// A file an approved record references, with where the record stands, for the media
/// archive of a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFile {
    pub branch: String,
    pub collection: String,
    pub key: String,
    pub occurred_at: Option<Millis>,
    /// The title, or the household visited.
    pub title: String,
    pub sha256: String,
    pub media_type: String,
    pub size: i64,
}

impl Store {
    /// The files of the members' approved lectures, services and visits of `period` in the
    /// branches of `scope`, by branch, record and file.
    pub async fn approved_files(
        &self,
        scope: Scope,
        period: Range<Millis>,
    ) -> Result<Vec<RecordFile>> {
        self.read(move |connection| {
            // Each record when and under the title its approval counts; its files as its
            // notebook holds them.
            let mut statement = connection.prepare(&format!(
                "SELECT coalesce(b.name, s.branch), s.subject_collection, s.subject, s.held_at,
                        coalesce(s.title, ''), m.sha256, m.media_type, m.size
                 FROM standings s
                 CROSS JOIN record_media m ON m.document = s.subject_document
                   AND m.collection = s.subject_collection AND m.key = s.subject
                 LEFT JOIN branches b ON b.id = s.branch
                 WHERE {}
                 ORDER BY 1, 4, 3, m.field, m.sha256",
                standing_approvals("?1", "?2", "?3")
            ))?;
            let rows = statement.query_map(
                params![scope.json(), period.start.0, period.end.0],
                |row| {
                    Ok(RecordFile {
                        branch: row.get(0)?,
                        collection: row.get(1)?,
                        key: row.get(2)?,
                        occurred_at: row.get::<_, Option<i64>>(3)?.map(Millis),
                        title: row.get(4)?,
                        sha256: row.get(5)?,
                        media_type: row.get(6)?,
                        size: row.get(7)?,
                    })
                },
            )?;
            rows.collect::<Result<_>>()
        })
        .await
    }

    /// The records `listing` lists for the branches of `scope`, in `period` (ignored for
    /// members), by branch and then by when they happened.
    pub async fn ledger_records(
        &self,
        listing: Listing,
        scope: Scope,
        period: Range<Millis>,
    ) -> Result<Vec<LedgerRecord>> {
        self.read(move |connection| records(connection, listing, &scope, &period))
            .await
    }
}

fn records(
    connection: &Db,
    listing: Listing,
    scope: &Scope,
    period: &Range<Millis>,
) -> Result<Vec<LedgerRecord>> {
    // `via_document` and `via_key` name the approval of an approved record, whose counted
    // values stand over the record's own (they stay while its member edits it again).
    connection.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS listed (
             document TEXT, collection TEXT, key TEXT, branch TEXT, occurred_at BIGINT,
             status TEXT, via_document TEXT, via_key TEXT, came_from TEXT,
             PRIMARY KEY (document, collection, key)
         );
         DELETE FROM temp.listed;",
    )?;
    let (collections, inserted): (Vec<&str>, String) = match listing {
        Listing::Approved(collection) => (
            vec![collection],
            format!(
                "INSERT INTO temp.listed
                 SELECT s.subject_document, s.subject_collection, s.subject, s.branch,
                        s.held_at, 'approved', s.document, s.review, NULL
                 FROM standings s
                 WHERE s.subject_collection = '{collection}' AND CAST(?4 AS TEXT) IS NOT NULL
                   AND {}
                 ON CONFLICT DO NOTHING",
                standing_approvals("?1", "?2", "?3")
            ),
        ),
        Listing::Standing(collections) => (
            collections.to_vec(),
            "INSERT INTO temp.listed
             SELECT r.document, r.collection, r.key, r.branch, r.occurred_at, r.status,
                    NULL, NULL, r.subject_collection
             FROM records r
             WHERE r.collection IN (SELECT value FROM json_each(?4))
               AND r.branch IN (SELECT value FROM json_each(?1))
               AND r.occurred_at >= ?2 AND r.occurred_at < ?3 AND r.status <> 'withdrawn'"
                .to_owned(),
        ),
        Listing::Members => (
            vec!["roster"],
            "INSERT INTO temp.listed
             SELECT r.document, r.collection, r.key, r.branch, r.occurred_at, r.status, NULL, NULL,
                    r.subject_collection
             FROM records r
             WHERE r.collection = 'roster' AND r.branch IN (SELECT value FROM json_each(?1))
               AND CAST(?2 AS BIGINT) IS NOT NULL AND CAST(?3 AS BIGINT) IS NOT NULL
               AND CAST(?4 AS TEXT) IS NOT NULL"
                .to_owned(),
        ),
    };
    let listed_collections = serde_json::Value::from(collections).to_string();
    connection.execute(
        &inserted,
        params![
            scope.json(),
            period.start.0,
            period.end.0,
            listed_collections
        ],
    )?;
    if listing == Listing::Members {
        // A member's ledger entry is keyed by his user id, as his roster entry is.
        connection.execute(
            "INSERT INTO temp.listed
             SELECT e.document, e.collection, e.key, e.branch, e.occurred_at, e.status,
                    NULL, NULL, e.subject_collection
             FROM temp.listed m CROSS JOIN records e ON m.key = e.key AND m.branch = e.branch
             WHERE e.collection = 'entries' AND e.status <> 'withdrawn'",
            (),
        )?;
    }

    // Each listed record by its branch and key (`slot`), for the rows of its values and people
    // that follow: hundreds of thousands of them for a township's year.
    let mut listed: HashMap<String, LedgerRecord> = HashMap::new();
    let mut statement = connection.prepare(
        "SELECT l.branch, coalesce(b.name, l.branch), l.document, l.key, l.occurred_at, l.status,
                l.collection, l.came_from
         FROM temp.listed l LEFT JOIN branches b ON b.id = l.branch
         WHERE l.collection IN (SELECT value FROM json_each(?1))",
    )?;
    let mut rows = statement.query([&listed_collections])?;
    while let Some(row) = rows.next()? {
        let (branch_id, key): (String, String) = (row.get(0)?, row.get(3)?);
        listed.insert(
            slot(&branch_id, &key),
            LedgerRecord {
                branch: row.get(1)?,
                document: row.get(2)?,
                collection: row.get(6)?,
                key,
                from: row.get(7)?,
                occurred_at: row.get::<_, Option<i64>>(4)?.map(Millis),
                status: row.get(5)?,
                ..LedgerRecord::default()
            },
        );
    }

    // The record's own values, then what its approval counts over them (each statement read
    // whole before the next, so no sort is needed). A visit's approval counts its household
    // as its title, and when it was made as when it was held.
    for sql in [
        "SELECT l.branch, l.key, t.field, t.text, t.number, u.name
         FROM temp.listed l
         CROSS JOIN record_values t
           ON t.document = l.document AND t.collection = l.collection AND t.key = l.key
         LEFT JOIN users u ON u.id = t.text",
        "SELECT l.branch, l.key,
                CASE WHEN l.collection = 'visits' AND t.field = 'title' THEN 'household'
                     WHEN l.collection = 'visits' AND t.field = 'held_at' THEN 'visited_at'
                     ELSE t.field END,
                t.text, t.number, u.name
         FROM temp.listed l
         CROSS JOIN record_values t
           ON t.document = l.via_document AND t.collection = 'reviews' AND t.key = l.via_key
         LEFT JOIN users u ON u.id = t.text
         WHERE t.field IN ('title', 'held_at', 'plan', 'category', 'venue', 'audience', 'hours')",
    ] {
        let mut values = connection.prepare(sql)?;
        let mut rows = values.query(())?;
        while let Some(row) = rows.next()? {
            let Some(record) =
                listed.get_mut(&slot(&row.get::<_, String>(0)?, &row.get::<_, String>(1)?))
            else {
                continue;
            };
            let field: String = row.get(2)?;
            let cell = match (
                row.get::<_, Option<String>>(3)?,
                row.get::<_, Option<f64>>(4)?,
            ) {
                (Some(text), _) => Cell::Text(text),
                (None, Some(number)) => Cell::Number(number),
                (None, None) => continue,
            };
            if let Some(name) = row.get::<_, Option<String>>(5)? {
                record.names.insert(field.clone(), name);
            }
            record.values.insert(field, cell);
        }
    }

    // The people a record names, those its approval counts standing over its own lists.
    let mut people = connection.prepare(
        "SELECT l.branch, l.key, t.field, coalesce(u.name, t.person)
         FROM temp.listed l
         CROSS JOIN record_people t
           ON t.document = l.document AND t.collection = l.collection AND t.key = l.key
         LEFT JOIN users u ON u.id = t.person
         WHERE l.via_key IS NULL OR t.field NOT IN ('speakers', 'attendees', 'participants')
         UNION ALL
         SELECT l.branch, l.key, t.field, coalesce(u.name, t.person)
         FROM temp.listed l
         CROSS JOIN record_people t
           ON t.document = l.via_document AND t.collection = 'reviews' AND t.key = l.via_key
         LEFT JOIN users u ON u.id = t.person
         ORDER BY 4",
    )?;
    let mut rows = people.query(())?;
    while let Some(row) = rows.next()? {
        if let Some(record) =
            listed.get_mut(&slot(&row.get::<_, String>(0)?, &row.get::<_, String>(1)?))
        {
            record
                .people
                .entry(row.get(2)?)
                .or_default()
                .push(row.get(3)?);
        }
    }

    let mut media = connection.prepare(
        "SELECT l.branch, l.key, count(DISTINCT t.sha256)
         FROM temp.listed l
         CROSS JOIN record_media t
           ON t.document = l.document AND t.collection = l.collection AND t.key = l.key
         GROUP BY l.branch, l.document, l.collection, l.key",
    )?;
    let mut rows = media.query(())?;
    while let Some(row) = rows.next()? {
        if let Some(record) =
            listed.get_mut(&slot(&row.get::<_, String>(0)?, &row.get::<_, String>(1)?))
        {
            record.media += usize::try_from(row.get::<_, i64>(2)?).unwrap_or(0);
        }
    }

    let mut records: Vec<LedgerRecord> = listed.into_values().collect();
    records.sort_by(|a, b| {
        (&a.branch, a.occurred_at, &a.key).cmp(&(&b.branch, b.occurred_at, &b.key))
    });
    Ok(records)
}

/// A listed record's place among the rows read for it: its branch and key.
fn slot(branch: &str, key: &str) -> String {
    format!("{branch} {key}")
}
