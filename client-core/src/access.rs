//! Who may read and write which document: the access rules, as data and in one place.
//!
//! Document-level rules live in [`DOCUMENT_RULES`]; record-level rules (a notebook's records
//! belong to its owner, reviews are written by admins and never by the author of what they
//! review, progress moves only forward, ballots only while the election is open) are checked by
//! [`crate::validate`], using the per-collection ownership and immutability in
//! [`crate::schema`] and [`STEP_ROLES`].

use serde::{Deserialize, Serialize};

use crate::document::{DocKind, Scope};
use crate::ids::{BranchId, TownshipId, UserId};
use crate::model::domain_enum;

domain_enum!(
    /// What a person may do, given by the server in their access token.
    Role {
        Member = "member",
        BranchAdmin = "branch_admin",
        TownshipAdmin = "township_admin",
        /// Runs the installation: creates townships, branches and accounts. Reads no one's
        /// records: organisational life is the branches' and the township's business.
        SystemAdmin = "system_admin",
    }
);

/// The person acting, as the server vouches for them (from a verified token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub user: UserId,
    pub role: Role,
    /// The branch a member or branch admin belongs to.
    #[serde(default)]
    pub branch: Option<BranchId>,
    /// The township of the branch, or the township a township admin supervises.
    #[serde(default)]
    pub township: Option<TownshipId>,
}

/// How a person relates to a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The member whose notebook it is.
    Owner,
    /// Anyone belonging to the document's branch, admin or not.
    BranchMember,
    /// An admin of the document's branch.
    BranchAdmin,
    /// An admin of the township the document's branch belongs to.
    TownshipAdmin,
}

/// Who may read and who may write one kind of document.
#[derive(Debug)]
pub struct DocumentRule {
    pub kind: DocKind,
    pub read: &'static [Relation],
    pub write: &'static [Relation],
}

/// The document-level access rules. Everything not listed is refused.
pub static DOCUMENT_RULES: &[DocumentRule] = &[
    DocumentRule {
        kind: DocKind::Branch,
        read: &[Relation::BranchMember, Relation::TownshipAdmin],
        write: &[Relation::BranchAdmin],
    },
    DocumentRule {
        kind: DocKind::Notebook,
        read: &[
            Relation::Owner,
            Relation::BranchAdmin,
            Relation::TownshipAdmin,
        ],
        write: &[Relation::Owner],
    },
    DocumentRule {
        kind: DocKind::Ledger,
        read: &[Relation::BranchAdmin, Relation::TownshipAdmin],
        write: &[Relation::BranchAdmin],
    },
    DocumentRule {
        kind: DocKind::Supervision,
        read: &[Relation::TownshipAdmin, Relation::BranchAdmin],
        write: &[Relation::TownshipAdmin],
    },
];

/// Who may record each step of a rectification or problem. `verified` is the step that
/// closes an item, so it is kept for those who answer for the branch's work.
pub const STEP_ROLES: &[(&str, &[Role])] = &[
    ("in_progress", &[Role::BranchAdmin, Role::TownshipAdmin]),
    ("done", &[Role::BranchAdmin, Role::TownshipAdmin]),
    ("verified", &[Role::BranchAdmin, Role::TownshipAdmin]),
];

/// What someone tried to do to a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Read,
    Write,
}

/// A refusal at document level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {role} may not {action:?} this {kind} document")]
pub struct Denied {
    pub role: Role,
    pub kind: DocKind,
    pub action: Action,
}

impl Relation {
    pub fn holds(self, who: &Principal, scope: &Scope) -> bool {
        let in_branch = who.branch == Some(scope.branch);
        match self {
            Relation::Owner => scope.owner == Some(who.user),
            Relation::BranchMember => {
                in_branch && matches!(who.role, Role::Member | Role::BranchAdmin)
            }
            Relation::BranchAdmin => in_branch && who.role == Role::BranchAdmin,
            Relation::TownshipAdmin => {
                who.role == Role::TownshipAdmin && who.township == Some(scope.township)
            }
        }
    }
}

fn rule(kind: DocKind) -> &'static DocumentRule {
    // Every kind has exactly one rule; a test checks the table is complete.
    DOCUMENT_RULES
        .iter()
        .find(|rule| rule.kind == kind)
        .unwrap_or(&DOCUMENT_RULES[0])
}

/// Whether `who` may read the document described by `scope`.
pub fn can_read(who: &Principal, scope: &Scope) -> bool {
    rule(scope.kind).read.iter().any(|r| r.holds(who, scope))
}

/// Whether `who` may write the document described by `scope`.
pub fn can_write(who: &Principal, scope: &Scope) -> bool {
    rule(scope.kind).write.iter().any(|r| r.holds(who, scope))
}

pub fn check(who: &Principal, scope: &Scope, action: Action) -> Result<(), Denied> {
    let allowed = match action {
        Action::Read => can_read(who, scope),
        Action::Write => can_write(who, scope),
    };
    if allowed {
        Ok(())
    } else {
        Err(Denied {
            role: who.role,
            kind: scope.kind,
            action,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_document_kind_has_exactly_one_rule() {
        for kind in DocKind::ALL {
            assert_eq!(DOCUMENT_RULES.iter().filter(|r| r.kind == *kind).count(), 1);
        }
    }
}
