//! Creating townships, branches and people with their documents, changing a person's role,
//! and moving a member to another branch (组织关系转接). Only the server creates documents;
//! the roster entries that name members' notebooks are written by the server on the branch's
//! behalf, through client-core's operations and validation like any other change.
//!
//! Who may do which of these is decided by the API (`crate::api`) with client-core's rules;
//! this module does what it is told, on behalf of whoever the API vouched for.

use client_core::model::branch::{BranchRole, RosterEntry};
use client_core::schema::{self, MAX_NAME};
use client_core::{
    Branch, BranchId, DocKind, DocumentId, Ledger, Millis, Notebook, Principal, Role, Scope,
    Supervision, TownshipId, UserId,
};

use crate::auth::secrets;
use crate::store::{BranchRecord, Store, StoreError, UserRecord};
use crate::sync::Hub;
use crate::writer::{WriteError, Writer};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no branch {0}")]
    NoBranch(BranchId),
    #[error("a {0} belongs to a branch")]
    NeedsBranch(Role),
    #[error("{0}")]
    Invalid(String),
    #[error("the document could not be made: {0}")]
    Document(String),
    #[error(transparent)]
    Auth(#[from] secrets::SecretError),
    #[error(transparent)]
    Write(#[from] WriteError),
}

pub type Result<T, E = AdminError> = std::result::Result<T, E>;

fn document_error(error: impl std::fmt::Display) -> AdminError {
    AdminError::Document(error.to_string())
}

/// The shortest password accepted, and the longest (hashing a huge one is work for nothing).
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 8..=128;

/// A name as people are called: trimmed, not empty, no control characters, not too long.
pub fn name(text: &str, what: &str) -> Result<String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(AdminError::Invalid(format!("{what} is empty")));
    }
    if text.len() > MAX_NAME * 4 || trimmed.chars().count() > MAX_NAME {
        return Err(AdminError::Invalid(format!(
            "{what} is longer than {MAX_NAME} characters"
        )));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(AdminError::Invalid(format!(
            "{what} contains control characters"
        )));
    }
    Ok(trimmed.to_owned())
}

/// A phone number as typed (spaces and dashes allowed), as stored: digits, perhaps a
/// leading `+`.
pub fn phone(text: &str) -> Result<String> {
    let kept: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits = kept.strip_prefix('+').unwrap_or(&kept);
    if text.len() > 40
        || !(5..=20).contains(&digits.len())
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(AdminError::Invalid(
            "a phone number is 5 to 20 digits, perhaps after a +".into(),
        ));
    }
    Ok(kept)
}

/// Hashes a new password, off the executor.
pub async fn password_hash(password: &str) -> Result<String> {
    if !PASSWORD_CHARS.contains(&password.chars().count()) || password.len() > 512 {
        return Err(AdminError::Invalid(format!(
            "a password has {} to {} characters",
            PASSWORD_CHARS.start(),
            PASSWORD_CHARS.end()
        )));
    }
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || secrets::hash_password(&password))
        .await
        .map_err(|error| AdminError::Document(error.to_string()))?
        .map_err(AdminError::Auth)
}

/// A person to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: String,
    pub role: Role,
    pub township: TownshipId,
    pub branch: Option<BranchId>,
    pub phone: Option<String>,
    pub password: Option<String>,
}

/// Where the administration writes: the store, and the sync hub if the server is running in
/// this process, so that peers syncing a branch see its new roster entries at once.
#[derive(Debug, Clone, Copy)]
pub struct Organisation<'a> {
    pub store: &'a Store,
    pub hub: Option<&'a Hub>,
}

/// The server writing on a branch's behalf: roster entries, election results.
pub(crate) fn system(branch: &BranchRecord) -> Principal {
    Principal {
        user: UserId::SYSTEM,
        role: Role::BranchAdmin,
        branch: Some(branch.id),
        township: Some(branch.township),
    }
}

impl Organisation<'_> {
    /// Creates a township, or finds it by name.
    pub async fn township(&self, name: &str) -> Result<TownshipId> {
        let name = self::name(name, "the township's name")?;
        if let Some(id) = self.store.township_named(name.clone()).await? {
            return Ok(id);
        }
        let id = TownshipId::generate().map_err(document_error)?;
        self.store.create_township(id, name).await?;
        Ok(id)
    }

    /// Creates a branch with its branch, ledger and supervision documents.
    pub async fn create_branch(
        &self,
        township: TownshipId,
        name: &str,
        now: Millis,
    ) -> Result<BranchRecord> {
        let name = self::name(name, "the branch's name")?;
        let id = BranchId::generate().map_err(document_error)?;
        let scope = |kind| Scope {
            kind,
            branch: id,
            township,
            owner: None,
        };
        let new_id = || DocumentId::generate().map_err(document_error);
        let record = BranchRecord {
            id,
            township,
            name,
            branch_document: new_id()?,
            ledger_document: new_id()?,
            supervision_document: new_id()?,
        };
        let mut branch = Branch::create(scope(DocKind::Branch), now).map_err(document_error)?;
        let mut ledger = Ledger::create(scope(DocKind::Ledger), now).map_err(document_error)?;
        let mut supervision =
            Supervision::create(scope(DocKind::Supervision), now).map_err(document_error)?;
        for (document, kind, bytes) in [
            (
                record.branch_document,
                DocKind::Branch,
                branch.document_mut().save(),
            ),
            (
                record.ledger_document,
                DocKind::Ledger,
                ledger.document_mut().save(),
            ),
            (
                record.supervision_document,
                DocKind::Supervision,
                supervision.document_mut().save(),
            ),
        ] {
            self.store
                .create_document(document, scope(kind), now.0, bytes)
                .await?;
        }
        self.store.create_branch(record.clone()).await?;
        Ok(record)
    }

    /// Creates a person. A member or branch admin gets a notebook and a place on the roster.
    pub async fn create_user(&self, new: NewUser, now: Millis) -> Result<UserRecord> {
        let id = UserId::generate().map_err(document_error)?;
        let password_hash = match &new.password {
            Some(password) => Some(password_hash(password).await?),
            None => None,
        };
        let mut user = UserRecord {
            id,
            name: name(&new.name, "the name")?,
            role: new.role,
            branch: None,
            township: new.township,
            notebook_document: None,
            phone: new.phone.as_deref().map(phone).transpose()?,
        };
        // Everything that can refuse is checked before the first document is written.
        self.check_phone(&user).await?;
        if has_branch(new.role) {
            let branch_id = new.branch.ok_or(AdminError::NeedsBranch(new.role))?;
            let branch = self.branch(branch_id).await?;
            if branch.township != new.township {
                return Err(AdminError::NoBranch(branch_id));
            }
            user.branch = Some(branch_id);
            user.notebook_document = Some(self.join(&user, &branch, now).await?);
        }
        self.store.create_user(user.clone(), password_hash).await?;
        Ok(user)
    }

    /// Changes a person's name, phone or role. A member may become a branch admin and back;
    /// a township admin a system admin and back. Anything else is a move.
    pub async fn update_user(
        &self,
        mut user: UserRecord,
        new_name: Option<&str>,
        new_phone: Option<&str>,
        new_role: Option<Role>,
        now: Millis,
    ) -> Result<UserRecord> {
        if let Some(text) = new_name {
            user.name = name(text, "the name")?;
        }
        if let Some(text) = new_phone {
            user.phone = Some(phone(text)?);
        }
        if let Some(role) = new_role {
            if has_branch(role) != has_branch(user.role) {
                return Err(AdminError::Invalid(format!(
                    "a {} cannot become a {role}",
                    user.role
                )));
            }
            user.role = role;
        }
        self.check_phone(&user).await?;
        if let Some(branch) = user.branch {
            let branch = self.branch(branch).await?;
            self.write_roster(&branch, &user, None, now).await?;
        }
        self.store.update_user(user.clone()).await?;
        Ok(user)
    }

    /// Moves a member to another branch (组织关系转接), as `role` there.
    ///
    /// His notebook in the old branch stays where it is: he keeps reading it, the old branch
    /// keeps reading what he recorded while he belonged to it, and nobody writes it any
    /// more. In the new branch he writes in a notebook of that branch: a new one, or the one
    /// he kept there before if he is coming back.
    pub async fn move_member(
        &self,
        mut user: UserRecord,
        to: BranchId,
        role: Role,
        now: Millis,
    ) -> Result<UserRecord> {
        if !has_branch(role) || !has_branch(user.role) {
            return Err(AdminError::Invalid(
                "only members and branch admins move between branches".into(),
            ));
        }
        let to = self.branch(to).await?;
        if user.branch == Some(to.id) {
            return Err(AdminError::Invalid(
                "the member already belongs to this branch".into(),
            ));
        }
        if let Some(from) = user.branch {
            let from = self.branch(from).await?;
            self.write_roster(&from, &user, Some(now), now).await?;
        }
        user.role = role;
        user.branch = Some(to.id);
        user.township = to.township;
        user.notebook_document = Some(self.join(&user, &to, now).await?);
        self.store.update_user(user.clone()).await?;
        Ok(user)
    }

    /// Refuses a phone number someone else has, before anything is written. (The store
    /// checks again when it writes the person, for two requests racing.)
    async fn check_phone(&self, user: &UserRecord) -> Result<()> {
        if let Some(phone) = &user.phone
            && self
                .store
                .phone_taken_by_other(phone.clone(), user.id)
                .await?
        {
            return Err(StoreError::PhoneTaken.into());
        }
        Ok(())
    }

    async fn branch(&self, id: BranchId) -> Result<BranchRecord> {
        self.store.branch(id).await?.ok_or(AdminError::NoBranch(id))
    }

    /// Puts `user` on `branch`'s roster with his notebook there (made if he has none);
    /// returns the notebook.
    async fn join(
        &self,
        user: &UserRecord,
        branch: &BranchRecord,
        now: Millis,
    ) -> Result<DocumentId> {
        let notebook = match self.store.notebook_in(user.id, branch.id).await? {
            Some(notebook) => notebook,
            None => {
                let notebook = DocumentId::generate().map_err(document_error)?;
                let scope = Scope {
                    kind: DocKind::Notebook,
                    branch: branch.id,
                    township: branch.township,
                    owner: Some(user.id),
                };
                let mut doc = Notebook::create(scope, now).map_err(document_error)?;
                self.store
                    .create_document(notebook, scope, now.0, doc.document_mut().save())
                    .await?;
                notebook
            }
        };
        let mut joined = user.clone();
        joined.notebook_document = Some(notebook);
        self.write_roster(branch, &joined, None, now).await?;
        Ok(notebook)
    }

    /// Writes `user`'s roster entry in `branch` (keeping what must not change of an existing
    /// one), stores the change and hands it to the hub.
    async fn write_roster(
        &self,
        branch: &BranchRecord,
        user: &UserRecord,
        left_at: Option<Millis>,
        now: Millis,
    ) -> Result<()> {
        let writer = Writer::new(self.store, now).through(self.hub);
        writer
            .branch(branch.branch_document, &system(branch), |doc| {
                let existing: Option<RosterEntry> = doc
                    .get(&schema::ROSTER, &user.id.to_string())
                    .map_err(document_error)?;
                let notebook = match (&existing, user.notebook_document) {
                    (Some(entry), _) => entry.notebook,
                    (None, Some(notebook)) => notebook,
                    (None, None) => return Err(AdminError::NeedsBranch(user.role)),
                };
                let entry = RosterEntry {
                    name: user.name.clone(),
                    role: if user.role == Role::BranchAdmin {
                        BranchRole::Admin
                    } else {
                        BranchRole::Member
                    },
                    notebook,
                    joined_at: existing.as_ref().map_or(now, |e| e.joined_at),
                    left_at,
                    silver: existing.as_ref().is_some_and(|e| e.silver),
                    lecturer: existing.as_ref().is_some_and(|e| e.lecturer),
                };
                doc.enrol_member(&system(branch), now, user.id, entry)
                    .map_err(document_error)
            })
            .await
    }
}

/// Whether a role belongs to a branch (and so has a notebook and a roster entry).
pub fn has_branch(role: Role) -> bool {
    matches!(role, Role::Member | Role::BranchAdmin)
}

/// Rebuilds the projections of every document from the documents; returns how many
/// documents and records it went through.
pub async fn rebuild_projections(store: &Store) -> Result<(usize, usize)> {
    let documents = store.catalogue().await?;
    let mut records = 0;
    for (document, _) in &documents {
        records += store.rebuild_projection(*document).await?;
    }
    Ok((documents.len(), records))
}

#[cfg(test)]
mod tests {
    use client_core::model::branch::RosterEntry;
    use client_core::{access, schema};

    use super::*;

    fn person(name: &str, role: Role, township: TownshipId, branch: BranchId) -> NewUser {
        NewUser {
            name: name.into(),
            role,
            township,
            branch: Some(branch),
            phone: None,
            password: None,
        }
    }

    async fn roster(store: &Store, branch: &BranchRecord) -> Vec<(String, RosterEntry)> {
        let bytes = store
            .load_document(branch.branch_document)
            .await
            .unwrap()
            .unwrap();
        let doc = Branch::load(&bytes, Default::default()).unwrap();
        doc.validate().unwrap();
        doc.records(&schema::ROSTER)
    }

    #[tokio::test]
    async fn a_member_gets_a_notebook_and_a_place_on_the_roster() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("tianjian.sqlite3")).unwrap();
        let org = Organisation {
            store: &store,
            hub: None,
        };
        let now = Millis(1_791_770_400_000);
        let township = org.township("周官桥乡").await.unwrap();
        assert_eq!(org.township(" 周官桥乡 ").await.unwrap(), township);
        let branch = org.create_branch(township, "合益村", now).await.unwrap();
        let li = org
            .create_user(person("李章桂", Role::Member, township, branch.id), now)
            .await
            .unwrap();
        let mut nobody = person("无支部", Role::Member, township, branch.id);
        nobody.branch = None;
        assert!(matches!(
            org.create_user(nobody, now).await,
            Err(AdminError::NeedsBranch(_))
        ));
        let roster = roster(&store, &branch).await;
        assert_eq!(roster.len(), 1);
        assert_eq!(roster[0].0, li.id.to_string());
        assert_eq!(Some(roster[0].1.notebook), li.notebook_document);
        let notebook = store
            .load_document(li.notebook_document.unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            Notebook::load(&notebook, Default::default())
                .unwrap()
                .scope()
                .owner,
            Some(li.id)
        );
        assert_eq!(store.user(li.id).await.unwrap().unwrap(), li);
        assert_eq!(store.catalogue().await.unwrap().len(), 4);
    }

    #[tokio::test]
    async fn a_moved_member_leaves_one_roster_joins_another_and_can_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("tianjian.sqlite3")).unwrap();
        let org = Organisation {
            store: &store,
            hub: None,
        };
        let (now, later) = (Millis(1_791_770_400_000), Millis(1_791_856_800_000));
        let township = org.township("周官桥乡").await.unwrap();
        let heyi = org.create_branch(township, "合益村", now).await.unwrap();
        let sanlian = org.create_branch(township, "三联村", now).await.unwrap();
        let li = org
            .create_user(person("李章桂", Role::Member, township, heyi.id), now)
            .await
            .unwrap();
        let old_notebook = li.notebook_document.unwrap();
        let moved = org
            .move_member(li.clone(), sanlian.id, Role::Member, later)
            .await
            .unwrap();
        let new_notebook = moved.notebook_document.unwrap();
        assert_ne!(new_notebook, old_notebook);
        assert_eq!(store.user(li.id).await.unwrap().unwrap(), moved);

        let left = &roster(&store, &heyi).await[0].1;
        assert_eq!((left.notebook, left.left_at), (old_notebook, Some(later)));
        let joined = &roster(&store, &sanlian).await[0].1;
        assert_eq!((joined.notebook, joined.left_at), (new_notebook, None));

        // He reads both notebooks and writes only the new one.
        let who = Principal {
            user: li.id,
            role: Role::Member,
            branch: Some(sanlian.id),
            township: Some(township),
        };
        let scope_of = |branch: BranchId| Scope {
            kind: DocKind::Notebook,
            branch,
            township,
            owner: Some(li.id),
        };
        assert!(access::can_read(&who, &scope_of(heyi.id)));
        assert!(!access::can_write(&who, &scope_of(heyi.id)));
        assert!(access::can_write(&who, &scope_of(sanlian.id)));

        // Coming back, he writes in the notebook he kept there.
        let back = org
            .move_member(moved, heyi.id, Role::Member, later)
            .await
            .unwrap();
        assert_eq!(back.notebook_document, Some(old_notebook));
        assert_eq!(roster(&store, &heyi).await[0].1.left_at, None);
        assert!(matches!(
            org.move_member(back, heyi.id, Role::Member, later).await,
            Err(AdminError::Invalid(_))
        ));
    }
}
