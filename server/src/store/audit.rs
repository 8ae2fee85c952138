//! The audit log: who did what, and what was refused by which rule.

use super::sql::{Db, Row, Value, params};
use client_core::{BranchId, DeviceId, DocumentId, Millis, Principal, TownshipId, UserId};

use super::{Result, Store, parse};

/// The most entries one query returns.
pub const AUDIT_PAGE: usize = 1_000;

impl Store {
    /// Records something for the audit log.
    pub async fn audit(&self, event: AuditEvent) -> Result<()> {
        self.call(move |connection| insert(connection, &event))
            .await
    }

    /// Counts `repeats` more offers of the changes refused on the line naming `first` (the
    /// first change refused) of `document`.
    pub async fn audit_repeats(
        &self,
        document: DocumentId,
        first: String,
        repeats: u64,
    ) -> Result<()> {
        self.call(move |connection| {
            connection
                .prepare(
                    "UPDATE audit SET repeats = repeats + ?3 WHERE refused = ?2 AND document = ?1",
                )?
                .execute(params![
                    document.to_string(),
                    first,
                    i64::try_from(repeats).unwrap_or(i64::MAX)
                ])?;
            Ok(())
        })
        .await
    }

    /// The audit log from `since` on, oldest first.
    pub async fn audit_since(&self, since: Millis) -> Result<Vec<AuditEvent>> {
        self.audit_log(AuditQuery {
            from: Some(since),
            ..AuditQuery::default()
        })
        .await
    }

    /// The entries `query` selects, oldest first, at most [`AUDIT_PAGE`] of them.
    pub async fn audit_log(&self, query: AuditQuery) -> Result<Vec<AuditEvent>> {
        self.call(move |connection| {
            let mut sql = String::from(
                "SELECT at, event, \"user\", device, branch, township, document, rule, address, detail,
                        refused, repeats
                 FROM audit WHERE 1 = 1",
            );
            let mut values: Vec<Value<'static>> = Vec::new();
            let mut filter = |clause: &str, value: Value<'static>| {
                values.push(value);
                sql.push_str(&format!(" AND {clause} ?{}", values.len()));
            };
            if let Some(branch) = query.branch {
                filter("branch =", branch.to_string().into());
            }
            if let Some(township) = query.township {
                filter("township =", township.to_string().into());
            }
            if let Some(from) = query.from {
                filter("at >=", from.0.into());
            }
            if let Some(to) = query.to {
                filter("at <", to.0.into());
            }
            let limit = query.limit.unwrap_or(AUDIT_PAGE).min(AUDIT_PAGE);
            sql.push_str(&format!(" ORDER BY id LIMIT {limit}"));
            let mut statement = connection.prepare(&sql)?;
            let mut rows = statement.query(values)?;
            let mut events = Vec::new();
            while let Some(row) = rows.next()? {
                events.push(AuditEvent {
                    at: Millis(row.get(0)?),
                    event: row.get(1)?,
                    user: optional(&row, 2, "audited user")?,
                    device: optional(&row, 3, "audited device")?,
                    branch: optional(&row, 4, "audited branch")?,
                    township: optional(&row, 5, "audited township")?,
                    document: optional(&row, 6, "audited document")?,
                    rule: row.get(7)?,
                    address: row.get(8)?,
                    detail: row.get(9)?,
                    refused: row.get(10)?,
                    repeats: u64::try_from(row.get::<_, i64>(11)?).unwrap_or_default(),
                });
            }
            Ok(events)
        })
        .await
    }
}

/// Writes one entry, in whatever transaction `connection` is in.
pub(super) fn insert(connection: &Db, event: &AuditEvent) -> Result<()> {
    connection
        .prepare(
            "INSERT INTO audit (at, event, \"user\", device, branch, township, document, rule, address, detail, refused)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![
            event.at.0,
            event.event,
            event.user.map(|u| u.to_string()),
            event.device.map(|d| d.to_string()),
            event.branch.map(|b| b.to_string()),
            event.township.map(|t| t.to_string()),
            event.document.map(|d| d.to_string()),
            event.rule,
            event.address,
            event.detail,
            event.refused
        ])?;
    Ok(())
}

/// An optional id in column `index`.
fn optional<T: std::str::FromStr>(row: &Row<'_>, index: usize, what: &str) -> Result<Option<T>> {
    let text: Option<String> = row.get(index)?;
    text.map(|text| parse(&text, what)).transpose()
}

/// Which entries of the audit log to read.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub branch: Option<BranchId>,
    pub township: Option<TownshipId>,
    pub from: Option<Millis>,
    pub to: Option<Millis>,
    pub limit: Option<usize>,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEvent {
    pub at: Millis,
    /// What happened: `refusal`, `login`, `enrolled`, `token_refreshed`, `review`, …
    pub event: String,
    /// Who did it, or tried to.
    pub user: Option<UserId>,
    pub device: Option<DeviceId>,
    /// Whose business it is.
    pub branch: Option<BranchId>,
    pub township: Option<TownshipId>,
    pub document: Option<DocumentId>,
    /// For refusals, the rule that refused.
    pub rule: Option<String>,
    /// The network address a request came from.
    pub address: Option<String>,
    pub detail: String,
    /// For a refusal of changes, the first change refused (hex), which names it.
    pub refused: Option<String>,
    /// How many times the same changes were offered again after this refusal.
    pub repeats: u64,
}

impl AuditEvent {
    pub fn new(at: Millis, event: &str, detail: impl Into<String>) -> AuditEvent {
        AuditEvent {
            at,
            event: event.to_owned(),
            user: None,
            device: None,
            branch: None,
            township: None,
            document: None,
            rule: None,
            address: None,
            detail: detail.into(),
            refused: None,
            repeats: 0,
        }
    }

    /// Done by `who`, which also says whose business it is.
    pub fn by(mut self, who: &Principal) -> AuditEvent {
        self.user = Some(who.user);
        self.branch = self.branch.or(who.branch);
        self.township = self.township.or(who.township);
        self
    }

    pub fn user(mut self, user: UserId) -> AuditEvent {
        self.user = Some(user);
        self
    }

    pub fn device(mut self, device: Option<DeviceId>) -> AuditEvent {
        self.device = device;
        self
    }

    /// About something of `branch` in `township`.
    pub fn concerning(mut self, branch: Option<BranchId>, township: Option<TownshipId>) -> Self {
        self.branch = branch;
        self.township = township;
        self
    }

    pub fn document(mut self, document: Option<DocumentId>) -> AuditEvent {
        self.document = document;
        self
    }

    pub fn rule(mut self, rule: impl Into<String>) -> AuditEvent {
        self.rule = Some(rule.into());
        self
    }

    /// A refusal of changes, named by the first change it refused.
    pub fn refused(mut self, first: impl Into<String>) -> AuditEvent {
        self.refused = Some(first.into());
        self
    }

    pub fn address(mut self, address: Option<std::net::IpAddr>) -> AuditEvent {
        self.address = address.map(|a| a.to_string());
        self
    }
}
