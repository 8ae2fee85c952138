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
    /// The member whose notebook it is, while he belongs to its branch. A member who moves
    /// to another branch (组织关系转接) keeps reading the notebook of his old branch, which
    /// that branch keeps reading too, and writes in the notebook of his new one.
    OwnerInBranch,
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
    /// Who may only move the document's existing items forward: take a step of their
    /// progress and add evidence, and change nothing else (see [`STEP_ROLES`]).
    pub advance: &'static [Relation],
}

/// The document-level access rules. Everything not listed is refused.
pub static DOCUMENT_RULES: &[DocumentRule] = &[
    DocumentRule {
        kind: DocKind::Branch,
        read: &[Relation::BranchMember, Relation::TownshipAdmin],
        write: &[Relation::BranchAdmin],
        // The township verifies the branch's rectifications.
        advance: &[Relation::TownshipAdmin],
    },
    DocumentRule {
        kind: DocKind::Notebook,
        read: &[
            Relation::Owner,
            Relation::BranchAdmin,
            Relation::TownshipAdmin,
        ],
        write: &[Relation::OwnerInBranch],
        advance: &[],
    },
    DocumentRule {
        kind: DocKind::Ledger,
        read: &[Relation::BranchAdmin, Relation::TownshipAdmin],
        write: &[Relation::BranchAdmin],
        advance: &[],
    },
    DocumentRule {
        kind: DocKind::Supervision,
        read: &[Relation::TownshipAdmin, Relation::BranchAdmin],
        write: &[Relation::TownshipAdmin],
        // The branch answers the township's problems: in progress, done, with evidence.
        advance: &[Relation::BranchAdmin],
    },
];

/// Who may record each step of a rectification (the branch's own problem list) or a problem
/// (the township's, in its supervision document). The branch works on both; `verified`
/// closes an item, so a branch's own item is closed by its admins or the township, and the
/// township's problem by the township alone.
pub const STEP_ROLES: &[(&str, Steps)] = &[
    (
        "rectifications",
        &[
            ("in_progress", &[Role::BranchAdmin]),
            ("done", &[Role::BranchAdmin]),
            ("verified", &[Role::BranchAdmin, Role::TownshipAdmin]),
        ],
    ),
    (
        "problems",
        &[
            ("in_progress", &[Role::BranchAdmin, Role::TownshipAdmin]),
            ("done", &[Role::BranchAdmin, Role::TownshipAdmin]),
            ("verified", &[Role::TownshipAdmin]),
        ],
    ),
];

/// The steps of one collection's items, each with the roles that may take it.
pub type Steps = &'static [(&'static str, &'static [Role])];

/// The steps of `collection`'s items, each with who may take it.
pub fn steps(collection: &str) -> Steps {
    STEP_ROLES
        .iter()
        .find(|(name, _)| *name == collection)
        .map_or(&[], |(_, steps)| steps)
}

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
            Relation::OwnerInBranch => in_branch && scope.owner == Some(who.user),
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

/// Whether `who` may move the items of the document described by `scope` forward without
/// writing it: progress steps and evidence only, which validation holds him to.
pub fn can_advance(who: &Principal, scope: &Scope) -> bool {
    rule(scope.kind).advance.iter().any(|r| r.holds(who, scope))
}

/// Whether `who` may change the document at all, fully or by advancing its items.
pub fn can_change(who: &Principal, scope: &Scope) -> bool {
    can_write(who, scope) || can_advance(who, scope)
}

/// Whether `who` administers the people and organisation of `branch` (or, with `None`, of
/// the township itself) in `township`: a system admin everywhere, a township admin in his
/// township, a branch admin in his branch.
pub fn administers(who: &Principal, township: TownshipId, branch: Option<BranchId>) -> bool {
    match who.role {
        Role::SystemAdmin => true,
        Role::TownshipAdmin => who.township == Some(township),
        Role::BranchAdmin => branch.is_some() && who.branch == branch,
        Role::Member => false,
    }
}

/// Whether `who` may give someone `role`, and so manage someone who has it: nobody hands out
/// more than he holds, and a branch admin appoints no fellow admins (the township does).
pub fn may_grant(who: &Principal, role: Role) -> bool {
    match who.role {
        Role::SystemAdmin => true,
        Role::TownshipAdmin => matches!(role, Role::BranchAdmin | Role::Member),
        Role::BranchAdmin => role == Role::Member,
        Role::Member => false,
    }
}

pub fn check(who: &Principal, scope: &Scope, action: Action) -> Result<(), Denied> {
    let allowed = match action {
        Action::Read => can_read(who, scope),
        Action::Write => can_change(who, scope),
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

    #[test]
    fn admins_administer_their_own_branch_or_township_and_grant_less_than_they_hold() {
        let township = TownshipId::generate().unwrap();
        let branch = BranchId::generate().unwrap();
        let person = |role, branch| Principal {
            user: UserId::generate().unwrap(),
            role,
            branch,
            township: Some(township),
        };
        let secretary = person(Role::BranchAdmin, Some(branch));
        let township_admin = person(Role::TownshipAdmin, None);
        let member = person(Role::Member, Some(branch));
        let elsewhere = TownshipId::generate().unwrap();
        assert!(administers(&secretary, township, Some(branch)));
        assert!(!administers(&secretary, township, None));
        assert!(!administers(
            &secretary,
            township,
            Some(BranchId::generate().unwrap())
        ));
        assert!(administers(&township_admin, township, Some(branch)));
        assert!(!administers(&township_admin, elsewhere, None));
        assert!(!administers(&member, township, Some(branch)));
        assert!(may_grant(&secretary, Role::Member) && !may_grant(&secretary, Role::BranchAdmin));
        assert!(may_grant(&township_admin, Role::BranchAdmin));
        assert!(!may_grant(&township_admin, Role::TownshipAdmin));
        assert!(!may_grant(&member, Role::Member));
    }

    #[test]
    fn a_member_who_moved_reads_his_old_notebook_and_no_longer_writes_it() {
        let old = BranchId::generate().unwrap();
        let new = BranchId::generate().unwrap();
        let township = TownshipId::generate().unwrap();
        let member = UserId::generate().unwrap();
        let notebook = Scope {
            kind: DocKind::Notebook,
            branch: old,
            township,
            owner: Some(member),
        };
        let mut who = Principal {
            user: member,
            role: Role::Member,
            branch: Some(old),
            township: Some(township),
        };
        assert!(can_read(&who, &notebook) && can_write(&who, &notebook));
        who.branch = Some(new);
        assert!(can_read(&who, &notebook));
        assert!(!can_write(&who, &notebook));
    }
}
