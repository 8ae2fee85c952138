//! Townships, branches and people: created, listed, changed and moved by the admins whose
//! business they are (client-core's `administers` and `may_grant`).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use client_core::access::{administers, may_grant};
use client_core::{BranchId, Principal, Role, TownshipId};
use serde::{Deserialize, Serialize};

use super::{ApiJson, path_id};
use crate::admin::{NewUser, Organisation, has_branch};
use crate::auth::{Auth, Caller, invite_qr};
use crate::error::{ApiError, Result};
use crate::store::{AuditEvent, BranchRecord, UserRecord};
use crate::{AppState, now};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/townships", get(townships).post(create_township))
        .route("/townships/{id}/branches", get(branches_of_township))
        .route("/branches", post(create_branch))
        .route("/branches/{id}", get(branch))
        .route("/branches/{id}/users", get(users_of_branch))
        .route("/users", post(create_user))
        .route("/users/{id}", get(user).patch(update_user))
        .route("/users/{id}/move", post(move_user))
        .route("/users/{id}/invites", post(invite))
}

/// Members reach none of these endpoints: refused by role before any identifier is looked
/// at, so the answer says nothing about what exists.
fn admin_only(caller: &Caller) -> Result<()> {
    if caller.who.role == Role::Member {
        return Err(ApiError::Forbidden("only admins manage the organisation"));
    }
    Ok(())
}

/// Whether `who` manages `user`: administers his branch (or township) and could have given
/// him his role.
pub(super) fn manages(who: &Principal, user: &UserRecord) -> bool {
    who.user != user.id && administers(who, user.township, user.branch) && may_grant(who, user.role)
}

fn organisation(auth: &Auth) -> Organisation<'_> {
    Organisation {
        store: &auth.store,
        hub: Some(&auth.hub),
    }
}

/// A branch `who` administers, or not found.
async fn administered_branch(auth: &Auth, who: &Principal, id: BranchId) -> Result<BranchRecord> {
    match auth.store.branch(id).await? {
        Some(branch) if administers(who, branch.township, Some(branch.id)) => Ok(branch),
        _ => Err(ApiError::NotFound),
    }
}

/// A person `who` may see: himself, or someone he manages.
pub(super) async fn visible_user(auth: &Auth, who: &Principal, id: &str) -> Result<UserRecord> {
    let id = path_id(id)?;
    match auth.store.user(id).await? {
        Some(user) if user.id == who.user || manages(who, &user) => Ok(user),
        _ => Err(ApiError::NotFound),
    }
}

/// A person `who` manages.
async fn managed_user(auth: &Auth, who: &Principal, id: &str) -> Result<UserRecord> {
    let id = path_id(id)?;
    match auth.store.user(id).await? {
        Some(user) if manages(who, &user) => Ok(user),
        _ => Err(ApiError::NotFound),
    }
}

#[derive(Debug, Serialize)]
struct Township {
    id: TownshipId,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTownship {
    name: String,
}

async fn create_township(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<NewTownship>,
) -> Result<(StatusCode, Json<Township>)> {
    if caller.who.role != Role::SystemAdmin {
        return Err(ApiError::Forbidden("only system admins create townships"));
    }
    let auth = state.auth()?;
    let name = crate::admin::name(&request.name, "the township's name")?;
    let id = organisation(auth).township(&name).await?;
    let event = AuditEvent::new(now(), "township_created", name.clone())
        .by(&caller.who)
        .concerning(None, Some(id));
    auth.audit(event).await;
    Ok((StatusCode::CREATED, Json(Township { id, name })))
}

async fn townships(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<Township>>> {
    admin_only(&caller)?;
    let auth = state.auth()?;
    let townships = auth
        .store
        .townships()
        .await?
        .into_iter()
        .filter(|(id, _)| administers(&caller.who, *id, None))
        .map(|(id, name)| Township { id, name })
        .collect();
    Ok(Json(townships))
}

async fn branches_of_township(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<BranchRecord>>> {
    admin_only(&caller)?;
    let auth = state.auth()?;
    let township: TownshipId = path_id(&id)?;
    if !administers(&caller.who, township, None) || !auth.store.township_exists(township).await? {
        return Err(ApiError::NotFound);
    }
    Ok(Json(auth.store.branches_of(township).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBranch {
    township: TownshipId,
    name: String,
}

async fn create_branch(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<NewBranch>,
) -> Result<(StatusCode, Json<BranchRecord>)> {
    if !matches!(caller.who.role, Role::SystemAdmin | Role::TownshipAdmin) {
        return Err(ApiError::Forbidden(
            "only township and system admins create branches",
        ));
    }
    let auth = state.auth()?;
    if !administers(&caller.who, request.township, None)
        || !auth.store.township_exists(request.township).await?
    {
        return Err(ApiError::NotFound);
    }
    let branch = organisation(auth)
        .create_branch(request.township, &request.name, now())
        .await?;
    auth.directory.refresh(&auth.store).await?;
    auth.audit(
        AuditEvent::new(now(), "branch_created", branch.name.clone())
            .by(&caller.who)
            .concerning(Some(branch.id), Some(branch.township)),
    )
    .await;
    Ok((StatusCode::CREATED, Json(branch)))
}

async fn branch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<BranchRecord>> {
    let auth = state.auth()?;
    let id: BranchId = path_id(&id)?;
    match auth.store.branch(id).await? {
        Some(branch)
            if caller.who.branch == Some(id)
                || administers(&caller.who, branch.township, Some(id)) =>
        {
            Ok(Json(branch))
        }
        _ => Err(ApiError::NotFound),
    }
}

async fn users_of_branch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<UserRecord>>> {
    admin_only(&caller)?;
    let auth = state.auth()?;
    let branch = administered_branch(auth, &caller.who, path_id(&id)?).await?;
    Ok(Json(auth.store.users_of_branch(branch.id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    name: String,
    role: Role,
    /// For members and branch admins.
    branch: Option<BranchId>,
    /// For township and system admins; a branch's people belong to its township.
    township: Option<TownshipId>,
    phone: Option<String>,
    password: Option<String>,
}

async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<UserRecord>)> {
    admin_only(&caller)?;
    if !may_grant(&caller.who, request.role) {
        return Err(ApiError::Forbidden("you may not give this role"));
    }
    let auth = state.auth()?;
    let (township, branch) = if has_branch(request.role) {
        let id = request
            .branch
            .ok_or_else(|| ApiError::Invalid(format!("a {} belongs to a branch", request.role)))?;
        let branch = administered_branch(auth, &caller.who, id).await?;
        (branch.township, Some(branch.id))
    } else {
        let township = request.township.ok_or_else(|| {
            ApiError::Invalid(format!("a {} belongs to a township", request.role))
        })?;
        if !administers(&caller.who, township, None)
            || !auth.store.township_exists(township).await?
        {
            return Err(ApiError::NotFound);
        }
        (township, None)
    };
    let user = organisation(auth)
        .create_user(
            NewUser {
                name: request.name,
                role: request.role,
                township,
                branch,
                phone: request.phone,
                password: request.password,
            },
            now(),
        )
        .await?;
    auth.directory.refresh(&auth.store).await?;
    auth.audit(
        AuditEvent::new(
            now(),
            "user_created",
            format!("{} ({}) {}", user.name, user.role, user.id),
        )
        .by(&caller.who)
        .concerning(user.branch, Some(user.township)),
    )
    .await;
    Ok((StatusCode::CREATED, Json(user)))
}

async fn user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<UserRecord>> {
    let auth = state.auth()?;
    Ok(Json(visible_user(auth, &caller.who, &id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateUser {
    name: Option<String>,
    phone: Option<String>,
    role: Option<Role>,
}

async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<UpdateUser>,
) -> Result<Json<UserRecord>> {
    admin_only(&caller)?;
    let auth = state.auth()?;
    let user = managed_user(auth, &caller.who, &id).await?;
    if let Some(role) = request.role
        && !may_grant(&caller.who, role)
    {
        return Err(ApiError::Forbidden("you may not give this role"));
    }
    let before = user.role;
    let updated = organisation(auth)
        .update_user(
            user,
            request.name.as_deref(),
            request.phone.as_deref(),
            request.role,
            now(),
        )
        .await?;
    auth.directory.refresh(&auth.store).await?;
    if updated.role != before {
        auth.hub.end_sessions_of_user(updated.id).await;
        auth.audit(
            AuditEvent::new(
                now(),
                "role_changed",
                format!("{} from {before} to {}", updated.id, updated.role),
            )
            .by(&caller.who)
            .concerning(updated.branch, Some(updated.township)),
        )
        .await;
    }
    Ok(Json(updated))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Move {
    branch: BranchId,
    /// The role in the new branch; a member unless said otherwise.
    role: Option<Role>,
}

async fn move_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<Move>,
) -> Result<Json<UserRecord>> {
    admin_only(&caller)?;
    let auth = state.auth()?;
    let user = managed_user(auth, &caller.who, &id).await?;
    let to = administered_branch(auth, &caller.who, request.branch).await?;
    let role = request.role.unwrap_or(Role::Member);
    if !may_grant(&caller.who, role) {
        return Err(ApiError::Forbidden("you may not give this role"));
    }
    let from = user.branch;
    let moved = organisation(auth)
        .move_member(user, to.id, role, now())
        .await?;
    auth.directory.refresh(&auth.store).await?;
    auth.hub.end_sessions_of_user(moved.id).await;
    for branch in [from, moved.branch] {
        auth.audit(
            AuditEvent::new(
                now(),
                "member_moved",
                format!("{} from {from:?} to {}", moved.id, to.id),
            )
            .by(&caller.who)
            .concerning(branch, Some(moved.township)),
        )
        .await;
    }
    Ok(Json(moved))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteRequest {
    /// How long the code stays good; seven days if not said, thirty at most.
    valid_for_seconds: Option<u64>,
}

#[derive(Debug, Serialize)]
struct InviteAnswer {
    code: String,
    expires_at: client_core::Millis,
    /// What the QR code holds: the app's address with the code after `#`, which browsers
    /// never send to a server.
    link: String,
    qr_svg: String,
}

const MAX_INVITE: Duration = Duration::from_secs(30 * 24 * 3600);

async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<InviteRequest>,
) -> Result<(StatusCode, Json<InviteAnswer>)> {
    admin_only(&caller)?;
    let auth = state.auth()?;
    let user = managed_user(auth, &caller.who, &id).await?;
    let ttl = match request.valid_for_seconds.map(Duration::from_secs) {
        Some(ttl) if ttl.is_zero() || ttl > MAX_INVITE => {
            return Err(ApiError::Invalid(
                "an invite is good for 1 second to 30 days".into(),
            ));
        }
        ttl => ttl,
    };
    let invite = auth.invite(&caller.who, &user, ttl, now()).await?;
    let link = format!("{}/#enrol={}", origin(&headers), invite.code);
    let qr_svg = invite_qr(&link).map_err(|error| ApiError::Internal(error.to_string()))?;
    Ok((
        StatusCode::CREATED,
        Json(InviteAnswer {
            code: invite.code,
            expires_at: invite.expires_at,
            link,
            qr_svg,
        }),
    ))
}

/// Where the app is served, as the admin's own request says (behind a TLS proxy, from the
/// forwarded protocol). A host that is not a plain host name gives a relative link.
fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        });
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|p| p.to_str().ok())
        == Some("https");
    match host {
        Some(host) => format!("{}://{host}", if https { "https" } else { "http" }),
        None => String::new(),
    }
}
