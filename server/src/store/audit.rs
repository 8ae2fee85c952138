//! The audit log.

use client_core::{DocumentId, Millis, UserId};
use rusqlite::params;

use super::{Result, Store, parse};

impl Store {
    /// Records something for the audit log.
    pub async fn audit(&self, event: AuditEvent) -> Result<()> {
        self.call(move |connection| {
            connection.execute(
                "INSERT INTO audit (at, event, user, document, rule, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    event.at.0,
                    event.event,
                    event.user.map(|u| u.to_string()),
                    event.document.map(|d| d.to_string()),
                    event.rule,
                    event.detail
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// The audit log from `since` on, oldest first.
    pub async fn audit_since(&self, since: Millis) -> Result<Vec<AuditEvent>> {
        self.call(move |connection| {
            let mut statement = connection.prepare(
                "SELECT at, event, user, document, rule, detail FROM audit WHERE at >= ?1 ORDER BY id",
            )?;
            let rows = statement.query_map([since.0], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, String>(5)?,
                ))
            })?;
            let mut events = Vec::new();
            for row in rows {
                let (at, event, user, document, rule, detail) = row?;
                events.push(AuditEvent {
                    at: Millis(at),
                    event,
                    user: user.map(|u| parse(&u, "audited user")).transpose()?,
                    document: document.map(|d| parse(&d, "audited document")).transpose()?,
                    rule,
                    detail,
                });
            }
            Ok(events)
        })
        .await
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: Millis,
    /// What happened: `refusal`, and in time logins, reviews, revocations.
    pub event: String,
    pub user: Option<UserId>,
    pub document: Option<DocumentId>,
    /// For refusals, the rule that refused.
    pub rule: Option<String>,
    pub detail: String,
}
