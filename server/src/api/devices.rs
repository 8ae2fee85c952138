//! A person's devices: listed and revoked by himself or by an admin who manages him (a lost
//! or stolen phone, a phone passed on to someone else).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use client_core::DeviceId;
use serde::Serialize;

use super::organisation::{manages, visible_user};
use super::path_id;
use crate::auth::Caller;
use crate::error::{ApiError, Result};
use crate::store::DeviceRecord;
use crate::{AppState, now};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/users/{id}/devices", get(devices_of_user))
        .route("/devices/{id}/revoke", post(revoke))
}

async fn devices_of_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<DeviceRecord>>> {
    let auth = state.auth()?;
    let user = visible_user(auth, &caller.who, &id).await?;
    Ok(Json(auth.store.devices_of(user.id).await?))
}

#[derive(Debug, Serialize)]
struct Revoked {
    device: DeviceId,
    /// False if it had been revoked already.
    revoked: bool,
}

async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Revoked>> {
    let auth = state.auth()?;
    let device: DeviceId = path_id(&id)?;
    let record = auth.store.device(device).await?.ok_or(ApiError::NotFound)?;
    let allowed = record.user == caller.who.user
        || auth
            .store
            .user(record.user)
            .await?
            .is_some_and(|owner| manages(&caller.who, &owner));
    if !allowed {
        return Err(ApiError::NotFound);
    }
    let revoked = auth.revoke(device, &caller.who, now()).await?;
    Ok(Json(Revoked { device, revoked }))
}
