//! Townships, branches and people.

use super::sql::{Db, OptionalExtension, Serial, params};
use client_core::{BranchId, DocumentId, Principal, TownshipId, UserId};

use super::{Result, Store, StoreError, parse};

impl Store {
    /// The people created or changed after revision `since`, as principals, and the last
    /// revision read.
    pub async fn people_since(&self, since: i64) -> Result<(Vec<Principal>, i64)> {
        self.call(move |connection| {
            let mut statement = connection.prepare(
                "SELECT revision, id, role, branch, township FROM users WHERE revision > ?1 ORDER BY revision",
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

    /// Creates a person. Fails with [`StoreError::PhoneTaken`] if someone has the phone number.
    pub async fn create_user(&self, user: UserRecord, password_hash: Option<String>) -> Result<()> {
        self.put_user(user, password_hash).await
    }

    /// Replaces what the users table says of a person (name, phone, role, branch, notebook),
    /// keeping the password.
    pub async fn update_user(&self, user: UserRecord) -> Result<()> {
        self.put_user(user, None).await
    }

    /// Writes a person, new or not; every write gives him the next revision.
    async fn put_user(&self, user: UserRecord, password_hash: Option<String>) -> Result<()> {
        self.call(move |connection| {
            let tx = connection.transaction()?;
            // The directory reads people in the order of their revisions: on several nodes,
            // one person is written at a time, so no revision commits behind a later one.
            tx.serialize(Serial::People)?;
            if let Some(phone) = &user.phone
                && phone_taken(&tx, phone, user.id)?
            {
                return Err(StoreError::PhoneTaken);
            }
            tx.execute(
                "INSERT INTO users (id, name, role, branch, township, notebook_document, phone, password_hash, revision)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, (SELECT COALESCE(MAX(revision), 0) + 1 FROM users))
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role,
                     branch = excluded.branch, township = excluded.township,
                     notebook_document = excluded.notebook_document, phone = excluded.phone,
                     password_hash = COALESCE(excluded.password_hash, users.password_hash),
                     revision = excluded.revision",
                params![
                    user.id.to_string(),
                    user.name,
                    user.role.as_str(),
                    user.branch.map(|b| b.to_string()),
                    user.township.to_string(),
                    user.notebook_document.map(|d| d.to_string()),
                    user.phone,
                    password_hash,
                ],
            )?;
            tx.commit()
        })
        .await
    }

    /// Whether someone other than `user` has this phone number.
    pub async fn phone_taken_by_other(&self, phone: String, user: UserId) -> Result<bool> {
        self.call(move |connection| phone_taken(connection, &phone, user))
            .await
    }

    /// The people of a branch, by name.
    pub async fn users_of_branch(&self, branch: BranchId) -> Result<Vec<UserRecord>> {
        self.call(move |connection| users_where(connection, "branch = ?1", &branch.to_string()))
            .await
    }

    /// The township admins of a township, by name.
    pub async fn township_admins(&self, township: TownshipId) -> Result<Vec<UserRecord>> {
        self.call(move |connection| {
            users_where(
                connection,
                "township = ?1 AND role = 'township_admin'",
                &township.to_string(),
            )
        })
        .await
    }

    /// The notebook a person keeps in a branch, if he has belonged to it before.
    pub async fn notebook_in(&self, user: UserId, branch: BranchId) -> Result<Option<DocumentId>> {
        self.call(move |connection| {
            let id: Option<String> = connection
                .query_row(
                    "SELECT id FROM documents WHERE kind = 'notebook' AND owner = ?1 AND branch = ?2",
                    [user.to_string(), branch.to_string()],
                    |row| row.get(0),
                )
                .optional()?;
            id.map(|id| parse(&id, "notebook")).transpose()
        })
        .await
    }

    /// Every township, by name.
    pub async fn townships(&self) -> Result<Vec<(TownshipId, String)>> {
        self.call(|connection| {
            let mut statement =
                connection.prepare("SELECT id, name FROM townships ORDER BY name")?;
            let rows =
                statement.query_map((), |row| Ok((row.get::<_, String>(0)?, row.get(1)?)))?;
            let mut townships = Vec::new();
            for row in rows {
                let (id, name) = row?;
                townships.push((parse(&id, "township id")?, name));
            }
            Ok(townships)
        })
        .await
    }

    pub async fn township_exists(&self, id: TownshipId) -> Result<bool> {
        self.call(move |connection| {
            Ok(connection
                .query_row(
                    "SELECT 1 FROM townships WHERE id = ?1",
                    [id.to_string()],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        })
        .await
    }

    /// The branches of a township, by name.
    pub async fn branches_of(&self, township: TownshipId) -> Result<Vec<BranchRecord>> {
        let ids: Vec<String> = self
            .call(move |connection| {
                let mut statement = connection
                    .prepare("SELECT id FROM branches WHERE township = ?1 ORDER BY name")?;
                let rows = statement.query_map([township.to_string()], |row| row.get(0))?;
                rows.collect::<Result<_>>()
            })
            .await?;
        let mut branches = Vec::new();
        for id in ids {
            if let Some(branch) = self.branch(parse(&id, "branch id")?).await? {
                branches.push(branch);
            }
        }
        Ok(branches)
    }

    pub async fn user(&self, id: UserId) -> Result<Option<UserRecord>> {
        self.call(move |connection| Ok(users_where(connection, "id = ?1", &id.to_string())?.pop()))
            .await
    }
}

fn phone_taken(connection: &Db, phone: &str, user: UserId) -> Result<bool> {
    Ok(connection
        .query_row(
            "SELECT 1 FROM users WHERE phone = ?1 AND id != ?2",
            [phone, &user.to_string()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn users_where(connection: &Db, clause: &str, value: &str) -> Result<Vec<UserRecord>> {
    let mut statement = connection.prepare(&format!(
        "SELECT id, name, role, branch, township, notebook_document, phone FROM users
         WHERE {clause} ORDER BY name, id"
    ))?;
    let mut rows = statement.query([value])?;
    let mut users = Vec::new();
    while let Some(row) = rows.next()? {
        let (id, role, branch, township, notebook): (
            String,
            String,
            Option<String>,
            String,
            Option<String>,
        ) = (
            row.get(0)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
        );
        users.push(UserRecord {
            id: parse(&id, "user id")?,
            name: row.get(1)?,
            role: client_core::Role::parse(&role)
                .ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
            branch: branch.map(|b| parse(&b, "user branch")).transpose()?,
            township: parse(&township, "user township")?,
            notebook_document: notebook.map(|d| parse(&d, "notebook")).transpose()?,
            phone: row.get(6)?,
        });
    }
    Ok(users)
}

/// A branch and the documents the server made for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BranchRecord {
    pub id: BranchId,
    pub township: TownshipId,
    pub name: String,
    pub branch_document: DocumentId,
    pub ledger_document: DocumentId,
    pub supervision_document: DocumentId,
}

/// A person with an account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserRecord {
    pub id: UserId,
    pub name: String,
    pub role: client_core::Role,
    pub branch: Option<BranchId>,
    pub township: TownshipId,
    pub notebook_document: Option<DocumentId>,
    /// The phone number a person signs in with, digits only (a leading `+` kept).
    pub phone: Option<String>,
}

impl UserRecord {
    /// The person as the access rules see them.
    pub fn principal(&self) -> Principal {
        Principal {
            user: self.id,
            role: self.role,
            branch: self.branch,
            township: Some(self.township),
        }
    }
}
