//! Townships, branches and people.

use client_core::{BranchId, DocumentId, Principal, TownshipId, UserId};
use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError, parse};

impl Store {
    /// The people created after row `since`, as principals, and the last row read.
    pub async fn people_since(&self, since: i64) -> Result<(Vec<Principal>, i64)> {
        self.call(move |connection| {
            let mut statement = connection.prepare(
                "SELECT rowid, id, role, branch, township FROM users WHERE rowid > ?1 ORDER BY rowid",
            )?;
            let rows = statement.query_map([since], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, String>(4)?,
                ))
            })?;
            let mut people = Vec::new();
            let mut last = since;
            for row in rows {
                let (rowid, id, role, branch, township) = row?;
                people.push(Principal {
                    user: parse(&id, "user id")?,
                    role: client_core::Role::parse(&role)
                        .ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
                    branch: branch.map(|b| parse(&b, "user branch")).transpose()?,
                    township: Some(parse(&township, "user township")?),
                });
                last = rowid;
            }
            Ok((people, last))
        })
        .await
    }

    pub async fn create_township(&self, id: TownshipId, name: String) -> Result<()> {
        self.call(move |connection| {
            connection.execute(
                "INSERT INTO townships (id, name) VALUES (?1, ?2)",
                params![id.to_string(), name],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn township_named(&self, name: String) -> Result<Option<TownshipId>> {
        self.call(move |connection| {
            let id: Option<String> = connection
                .query_row("SELECT id FROM townships WHERE name = ?1", [name], |row| {
                    row.get(0)
                })
                .optional()?;
            id.map(|id| parse(&id, "township id")).transpose()
        })
        .await
    }

    pub async fn create_branch(&self, branch: BranchRecord) -> Result<()> {
        self.call(move |connection| {
            connection.execute(
                "INSERT INTO branches (id, township, name, branch_document, ledger_document, supervision_document)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    branch.id.to_string(),
                    branch.township.to_string(),
                    branch.name,
                    branch.branch_document.to_string(),
                    branch.ledger_document.to_string(),
                    branch.supervision_document.to_string()
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn branch(&self, id: BranchId) -> Result<Option<BranchRecord>> {
        self.call(move |connection| {
            let row: Option<[String; 5]> = connection
                .query_row(
                    "SELECT township, name, branch_document, ledger_document, supervision_document
                     FROM branches WHERE id = ?1",
                    [id.to_string()],
                    |row| {
                        Ok([
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                        ])
                    },
                )
                .optional()?;
            let Some(
                [
                    township,
                    name,
                    branch_document,
                    ledger_document,
                    supervision_document,
                ],
            ) = row
            else {
                return Ok(None);
            };
            Ok(Some(BranchRecord {
                id,
                township: parse(&township, "branch township")?,
                name,
                branch_document: parse(&branch_document, "branch document")?,
                ledger_document: parse(&ledger_document, "ledger document")?,
                supervision_document: parse(&supervision_document, "supervision document")?,
            }))
        })
        .await
    }

    pub async fn create_user(&self, user: UserRecord) -> Result<()> {
        self.call(move |connection| {
            connection.execute(
                "INSERT INTO users (id, name, role, branch, township, notebook_document)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    user.id.to_string(),
                    user.name,
                    user.role.as_str(),
                    user.branch.map(|b| b.to_string()),
                    user.township.to_string(),
                    user.notebook_document.map(|d| d.to_string())
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn user(&self, id: UserId) -> Result<Option<UserRecord>> {
        self.call(move |connection| {
            type Row = (String, String, Option<String>, String, Option<String>);
            let row: Option<Row> = connection
                .query_row(
                    "SELECT name, role, branch, township, notebook_document FROM users WHERE id = ?1",
                    [id.to_string()],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)),
                )
                .optional()?;
            let Some((name, role, branch, township, notebook)) = row else {
                return Ok(None);
            };
            Ok(Some(UserRecord {
                id,
                name,
                role: client_core::Role::parse(&role)
                    .ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
                branch: branch.map(|b| parse(&b, "user branch")).transpose()?,
                township: parse(&township, "user township")?,
                notebook_document: notebook.map(|d| parse(&d, "notebook")).transpose()?,
            }))
        })
        .await
    }
}

/// A branch and the documents the server made for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchRecord {
    pub id: BranchId,
    pub township: TownshipId,
    pub name: String,
    pub branch_document: DocumentId,
    pub ledger_document: DocumentId,
    pub supervision_document: DocumentId,
}

/// A person with an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    pub name: String,
    pub role: client_core::Role,
    pub branch: Option<BranchId>,
    pub township: TownshipId,
    pub notebook_document: Option<DocumentId>,
}
