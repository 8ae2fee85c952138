//! Whose figures and ledgers a request asks for, and over which period: the query string
//! shared by statistics and exports.

use client_core::access::administers;
use client_core::time::CalendarError;
use client_core::{Date, Month, Period, Role, TownshipId};
use serde::Deserialize;

use super::path_id;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Result};
use crate::store::{BranchRecord, Scope};

/// Whose figures or ledgers: `branch=` or `township=`, read as text so that a bad value gets the API's
/// own error.
#[derive(Debug, Deserialize)]
pub(super) struct Whose {
    branch: Option<String>,
    township: Option<String>,
}

impl Whose {
    /// The branches the caller asked for, if they are his business. Naming neither means a
    /// branch admin's own branch, or a township admin's own township.
    pub(super) async fn branches(
        &self,
        state: &AppState,
        caller: &Caller,
    ) -> Result<Vec<BranchRecord>> {
        let who = &caller.who;
        if who.role == Role::Member {
            return Err(ApiError::Forbidden(
                "only admins read statistics and ledgers",
            ));
        }
        let store = &state.auth()?.store;
        let (branch, township) = match (self.branch.as_deref(), self.township.as_deref()) {
            (Some(_), Some(_)) => {
                return Err(ApiError::Invalid(
                    "name a branch or a township, not both".to_owned(),
                ));
            }
            (None, None) => match (who.role, who.branch, who.township) {
                (Role::BranchAdmin, Some(branch), _) => (Some(branch), None),
                (_, _, Some(township)) => (None, Some(township)),
                _ => return Err(ApiError::Invalid("name a branch or a township".to_owned())),
            },
            (branch, township) => (
                branch.map(path_id).transpose()?,
                township.map(path_id).transpose()?,
            ),
        };
        if let Some(branch) = branch {
            return match store.branch(branch).await? {
                Some(record) if administers(who, record.township, Some(record.id)) => {
                    Ok(vec![record])
                }
                _ => Err(ApiError::NotFound),
            };
        }
        let township: TownshipId = township.ok_or(ApiError::NotFound)?;
        if !administers(who, township, None) || !store.township_exists(township).await? {
            return Err(ApiError::NotFound);
        }
        Ok(store.branches_of(township).await?)
    }
}

/// A month, period or date from the query string.
pub(super) fn calendar<T: std::str::FromStr<Err = CalendarError>>(text: &str) -> Result<T> {
    text.parse()
        .map_err(|e: CalendarError| ApiError::Invalid(e.to_string()))
}

pub(super) fn scope(branches: &[BranchRecord]) -> Scope {
    Scope {
        branches: branches.iter().map(|b| b.id).collect(),
    }
}

/// Today in China Standard Time, by the server's clock: what rectifications are overdue on.
pub(super) fn today() -> Date {
    crate::now().cst_date()
}

pub(super) fn period(text: Option<&str>) -> Result<Period> {
    text.map_or(Ok(Period::Month(today().month_of())), calendar)
}

pub(super) fn month(text: Option<&str>) -> Result<Month> {
    text.map_or(Ok(today().month_of()), calendar)
}
