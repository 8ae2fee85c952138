//! The ledger: private data about the branch's members, for its admins and the township only.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::common::Withdrawal;
use super::domain_enum;
use crate::ids::UserId;
use crate::time::Millis;

domain_enum!(
    /// How a member was contacted.
    ContactKind {
        /// 家访
        HomeVisit = "home_visit",
        /// 函访
        Letter = "letter",
        /// 走访
        Visit = "visit",
        Phone = "phone",
        Online = "online",
    }
);

/// One contact with a member, in the ledger's contact log.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Contact {
    pub kind: ContactKind,
    pub at: Millis,
    pub by: UserId,
    pub notes: String,
}

/// A member's ledger entry (台账), keyed by their user id.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// 外出党员: works away from the village.
    pub migrant: bool,
    /// 流入党员: came to the village from elsewhere.
    pub inflow: bool,
    pub elderly: bool,
    pub infirm: bool,
    pub phone: String,
    pub city: String,
    pub employer: String,
    /// The member paired with this one for study help (一对一帮学).
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub study_partner: Option<UserId>,
    /// Contact log keyed by record id, so that two admins logging at once both keep theirs.
    pub contacts: BTreeMap<String, Contact>,
    pub updated_by: UserId,
    pub updated_at: Millis,
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub withdrawn: Option<Withdrawal>,
}
