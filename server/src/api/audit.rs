//! The audit log, for admins: a branch admin reads his branch's entries, a township admin
//! his township's, a system admin everything.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use client_core::{Millis, Role};
use serde::Deserialize;

use super::path_id;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Result};
use crate::store::{AUDIT_PAGE, AuditEvent, AuditQuery};

pub fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(audit))
}

/// The query string, read as text so that a bad value gets the API's own error.
#[derive(Debug, Deserialize)]
struct Filter {
    branch: Option<String>,
    township: Option<String>,
    /// Milliseconds since the epoch, inclusive.
    from: Option<String>,
    /// Milliseconds since the epoch, exclusive.
    to: Option<String>,
    limit: Option<String>,
}

fn number<T: std::str::FromStr>(text: Option<&str>, what: &str) -> Result<Option<T>> {
    text.map(|t| {
        t.parse()
            .map_err(|_| ApiError::Invalid(format!("{what} is not a number")))
    })
    .transpose()
}

async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<Filter>,
) -> Result<Json<Vec<AuditEvent>>> {
    let who = &caller.who;
    let limit: Option<usize> = number(filter.limit.as_deref(), "limit")?;
    let mut query = AuditQuery {
        branch: filter.branch.as_deref().map(path_id).transpose()?,
        township: filter.township.as_deref().map(path_id).transpose()?,
        from: number(filter.from.as_deref(), "from")?.map(Millis),
        to: number(filter.to.as_deref(), "to")?.map(Millis),
        limit: Some(limit.unwrap_or(AUDIT_PAGE).clamp(1, AUDIT_PAGE)),
    };
    let auth = state.auth()?;
    match who.role {
        Role::Member => return Err(ApiError::Forbidden("only admins read the audit log")),
        Role::SystemAdmin => {}
        // Narrowed to what is theirs; asking for someone else's is asking for nothing there is.
        Role::TownshipAdmin => {
            if query.township.is_some_and(|t| Some(t) != who.township) {
                return Err(ApiError::NotFound);
            }
            if let Some(branch) = query.branch {
                let branch = auth.store.branch(branch).await?;
                if branch.is_none_or(|b| Some(b.township) != who.township) {
                    return Err(ApiError::NotFound);
                }
            }
            query.township = who.township;
        }
        Role::BranchAdmin => {
            if query.branch.is_some_and(|b| Some(b) != who.branch)
                || query.township.is_some_and(|t| Some(t) != who.township)
            {
                return Err(ApiError::NotFound);
            }
            query.branch = who.branch;
            query.township = None;
        }
    }
    Ok(Json(auth.store.audit_log(query).await?))
}
