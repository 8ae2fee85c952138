//! Creating townships, branches and people, with their documents. Only the server creates
//! documents; the roster entry that names a member's notebook is written by the server on the
//! branch's behalf, through client-core's operations and validation like any other change.

use client_core::model::branch::{BranchRole, RosterEntry};
use client_core::projection;
use client_core::{
    Branch, BranchId, DocKind, DocumentId, Ledger, Millis, Notebook, Principal, Role, Scope,
    Supervision, TownshipId, UserId,
};

use crate::store::{BranchRecord, Store, StoreError, UserRecord, Write};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no branch {0}")]
    NoBranch(BranchId),
    #[error("a {0} belongs to a branch")]
    NeedsBranch(Role),
    #[error("the document could not be made: {0}")]
    Document(String),
}

pub type Result<T, E = AdminError> = std::result::Result<T, E>;

fn document_error(error: impl std::fmt::Display) -> AdminError {
    AdminError::Document(error.to_string())
}

/// Creates a township, or finds it by name.
pub async fn township(store: &Store, name: &str) -> Result<TownshipId> {
    if let Some(id) = store.township_named(name.to_owned()).await? {
        return Ok(id);
    }
    let id = TownshipId::generate().map_err(document_error)?;
    store.create_township(id, name.to_owned()).await?;
    Ok(id)
}

/// Creates a branch with its branch, ledger and supervision documents.
pub async fn create_branch(
    store: &Store,
    township: TownshipId,
    name: &str,
    now: Millis,
) -> Result<BranchRecord> {
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
        name: name.to_owned(),
        branch_document: new_id()?,
        ledger_document: new_id()?,
        supervision_document: new_id()?,
    };
    let mut branch = Branch::create(scope(DocKind::Branch), now).map_err(document_error)?;
    let mut ledger = Ledger::create(scope(DocKind::Ledger), now).map_err(document_error)?;
    let mut supervision =
        Supervision::create(scope(DocKind::Supervision), now).map_err(document_error)?;
    for (document, bytes) in [
        (record.branch_document, branch.document_mut().save()),
        (record.ledger_document, ledger.document_mut().save()),
        (
            record.supervision_document,
            supervision.document_mut().save(),
        ),
    ] {
        let scope =
            client_core::Document::load(&bytes, Default::default()).map_err(document_error)?;
        store
            .create_document(document, *scope.scope(), now.0, bytes)
            .await?;
    }
    store.create_branch(record.clone()).await?;
    Ok(record)
}

/// Creates a person. A member or branch admin gets a notebook and a place on the roster.
pub async fn create_user(
    store: &Store,
    township: TownshipId,
    branch: Option<BranchId>,
    name: &str,
    role: Role,
    now: Millis,
) -> Result<UserRecord> {
    let id = UserId::generate().map_err(document_error)?;
    let mut user = UserRecord {
        id,
        name: name.to_owned(),
        role,
        branch,
        township,
        notebook_document: None,
    };
    if matches!(role, Role::Member | Role::BranchAdmin) {
        let branch_id = branch.ok_or(AdminError::NeedsBranch(role))?;
        let branch_record = store
            .branch(branch_id)
            .await?
            .ok_or(AdminError::NoBranch(branch_id))?;
        let notebook_id = DocumentId::generate().map_err(document_error)?;
        let scope = Scope {
            kind: DocKind::Notebook,
            branch: branch_id,
            township: branch_record.township,
            owner: Some(id),
        };
        let mut notebook = Notebook::create(scope, now).map_err(document_error)?;
        store
            .create_document(notebook_id, scope, now.0, notebook.document_mut().save())
            .await?;

        // The server enrols the member on the branch's behalf.
        let bytes = store
            .load_document(branch_record.branch_document)
            .await?
            .ok_or(AdminError::NoBranch(branch_id))?;
        let mut branch_doc = Branch::load(&bytes, Default::default()).map_err(document_error)?;
        let before = branch_doc.heads();
        let acting = Principal {
            user: UserId::SYSTEM,
            role: Role::BranchAdmin,
            branch: Some(branch_id),
            township: Some(branch_record.township),
        };
        let entry = RosterEntry {
            name: name.to_owned(),
            role: if role == Role::BranchAdmin {
                BranchRole::Admin
            } else {
                BranchRole::Member
            },
            notebook: notebook_id,
            joined_at: now,
            left_at: None,
            silver: false,
        };
        branch_doc
            .enrol_member(&acting, now, id, entry)
            .map_err(document_error)?;
        let changes = branch_doc.automerge().get_changes(&before);
        store
            .append_changes(Write {
                document: branch_record.branch_document,
                changes: changes.iter().map(|c| c.raw_bytes().to_vec()).collect(),
                actors: vec![(branch_doc.automerge().get_actor().clone(), UserId::SYSTEM)],
                projection: projection::project_changes(
                    branch_doc.automerge(),
                    DocKind::Branch,
                    &changes,
                ),
                at: now,
            })
            .await?;
        user.notebook_document = Some(notebook_id);
    }
    store.create_user(user.clone()).await?;
    Ok(user)
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
    use client_core::schema;

    use super::*;

    #[tokio::test]
    async fn a_member_gets_a_notebook_and_a_place_on_the_roster() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("tianjian.sqlite3")).unwrap();
        let now = Millis(1_791_770_400_000);
        let township = township(&store, "周官桥乡").await.unwrap();
        assert_eq!(super::township(&store, "周官桥乡").await.unwrap(), township);
        let branch = create_branch(&store, township, "合益村", now)
            .await
            .unwrap();
        let li = create_user(
            &store,
            township,
            Some(branch.id),
            "李章桂",
            Role::Member,
            now,
        )
        .await
        .unwrap();
        assert!(matches!(
            create_user(&store, township, None, "无支部", Role::Member, now).await,
            Err(AdminError::NeedsBranch(_))
        ));

        let bytes = store
            .load_document(branch.branch_document)
            .await
            .unwrap()
            .unwrap();
        let branch_doc = Branch::load(&bytes, Default::default()).unwrap();
        branch_doc.validate().unwrap();
        let roster: Vec<(String, RosterEntry)> = branch_doc.records(&schema::ROSTER);
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
}
