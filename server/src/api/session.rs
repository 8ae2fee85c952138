//! Signing in and staying signed in: enrolment with an invite code, phone and password,
//! refreshing tokens, sync tickets, who am I, my password, my actors, signing out.

use automerge::ActorId;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use client_core::{DeviceId, DocKind, Principal, UserId};
use serde::{Deserialize, Serialize};

use super::{ApiJson, ClientAddress};
use crate::admin;
use crate::auth::{AuthError, Caller, Session, secrets};
use crate::error::{ApiError, Result};
use crate::store::AuditEvent;
use crate::{AppState, now};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/enrol", post(enrol))
        .route("/login", post(login))
        .route("/token", post(refresh))
        .route("/sync-ticket", post(sync_ticket))
        .route("/me", get(me))
        .route("/me/password", put(set_password))
        .route("/me/actors", post(register_actors))
        .route("/me/sign-out", post(sign_out))
}

/// The longest secret anyone could honestly send (tokens are 64 hex characters).
const MAX_SECRET: usize = 256;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Enrolment {
    code: String,
    device_name: String,
}

async fn enrol(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(request): ApiJson<Enrolment>,
) -> Result<Json<Session>> {
    let device_name = admin::name(&request.device_name, "the device's name")?;
    let session = state
        .auth()?
        .enrol(&request.code, &device_name, address, now())
        .await?;
    crate::telemetry::signed_in(&session);
    Ok(Json(session))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    phone: String,
    password: String,
    device_name: String,
}

async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(request): ApiJson<Login>,
) -> Result<Json<Session>> {
    let device_name = admin::name(&request.device_name, "the device's name")?;
    // A malformed number or an absurd password cannot match: no account is worth hashing
    // megabytes for.
    let Ok(phone) = admin::phone(&request.phone) else {
        return Err(AuthError::BadCredentials.into());
    };
    if request.password.len() > MAX_SECRET {
        return Err(AuthError::BadCredentials.into());
    }
    let session = state
        .auth()?
        .login(&phone, &request.password, &device_name, address, now())
        .await?;
    crate::telemetry::signed_in(&session);
    Ok(Json(session))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Refresh {
    refresh_token: String,
}

async fn refresh(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(request): ApiJson<Refresh>,
) -> Result<Json<Session>> {
    if request.refresh_token.len() > MAX_SECRET {
        return Err(AuthError::RefreshInvalid.into());
    }
    let session = state
        .auth()?
        .refresh(&request.refresh_token, address, now())
        .await?;
    crate::telemetry::signed_in(&session);
    Ok(Json(session))
}

#[derive(Debug, Serialize)]
struct Ticket {
    ticket: String,
    expires_in_seconds: u64,
}

async fn sync_ticket(State(state): State<AppState>, caller: Caller) -> Result<Json<Ticket>> {
    let auth = state.auth()?;
    Ok(Json(Ticket {
        ticket: auth.sync_ticket(&caller, now()).await?,
        expires_in_seconds: auth.ticket_ttl().as_secs(),
    }))
}

/// A document the caller may sync.
#[derive(Debug, Serialize)]
struct Readable {
    url: String,
    kind: DocKind,
    branch: client_core::BranchId,
    owner: Option<UserId>,
}

#[derive(Debug, Serialize)]
struct Me {
    principal: Principal,
    device: DeviceId,
    name: String,
    phone: Option<String>,
    notebook: Option<String>,
    documents: Vec<Readable>,
}

async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Me>> {
    let auth = state.auth()?;
    let user = auth
        .store
        .user(caller.who.user)
        .await?
        .ok_or(ApiError::NotFound)?;
    let documents = auth
        .directory
        .readable_by(&caller.who)
        .into_iter()
        .map(|(id, scope)| Readable {
            url: format!("automerge:{id}"),
            kind: scope.kind,
            branch: scope.branch,
            owner: scope.owner,
        })
        .collect();
    Ok(Json(Me {
        principal: caller.who,
        device: caller.device,
        name: user.name,
        phone: user.phone,
        notebook: user.notebook_document.map(|d| format!("automerge:{d}")),
        documents,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    /// Required when there is a password already.
    current: Option<String>,
    new: String,
}

async fn set_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<PasswordChange>,
) -> Result<StatusCode> {
    let auth = state.auth()?;
    if let Some(stored) = auth.store.password_hash(caller.who.user).await? {
        let current = request.current.unwrap_or_default();
        if current.len() > MAX_SECRET {
            return Err(AuthError::BadCredentials.into());
        }
        if !secrets::password_matches(current, Some(stored)).await {
            return Err(AuthError::BadCredentials.into());
        }
    }
    let hash = admin::password_hash(&request.new).await?;
    auth.store.set_password(caller.who.user, hash).await?;
    auth.audit(
        AuditEvent::new(now(), "password_set", "")
            .by(&caller.who)
            .device(Some(caller.device)),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The most actors one request registers: a device writes with one per person signed in.
const MAX_ACTORS: usize = 16;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Actors {
    /// Automerge actor ids, in hex.
    actors: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Registered {
    registered: usize,
}

async fn register_actors(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<Actors>,
) -> Result<Json<Registered>> {
    if request.actors.is_empty() || request.actors.len() > MAX_ACTORS {
        return Err(ApiError::Invalid(format!(
            "register 1 to {MAX_ACTORS} actors at a time"
        )));
    }
    let mut actors = Vec::new();
    for text in &request.actors {
        let valid = (2..=64).contains(&text.len()) && text.len() % 2 == 0;
        let actor = valid
            .then(|| ActorId::try_from(text.as_str()).ok())
            .flatten()
            .ok_or_else(|| ApiError::Invalid(format!("not an actor id: {:.70}", text)))?;
        actors.push(actor);
    }
    let auth = state.auth()?;
    let count = actors.len();
    let taken = auth
        .store
        .register_actors(caller.who.user, caller.device, actors.clone(), now())
        .await?;
    if !taken.is_empty() {
        auth.audit(
            AuditEvent::new(now(), "refusal", "an actor registered to someone else")
                .by(&caller.who)
                .device(Some(caller.device))
                .rule("foreign_actor"),
        )
        .await;
        return Err(ApiError::Conflict(
            "an actor is registered to someone else: write with a new one".into(),
        ));
    }
    auth.directory.bind(&actors, caller.who.user);
    Ok(Json(Registered { registered: count }))
}

async fn sign_out(State(state): State<AppState>, caller: Caller) -> Result<StatusCode> {
    state
        .auth()?
        .revoke(caller.device, &caller.who, now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
