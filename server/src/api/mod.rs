//! The HTTP API, version 1, JSON: signing in, the organisation and its people, devices, the
//! audit log and statistics. Handlers are grouped by what they are about; every one answers with
//! [`ApiError`] when it fails.
//!
//! Identifiers in paths are answered alike whether they do not exist or are not the caller's
//! business: both are `404`, so probing tells nothing.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::auth::{Auth, AuthError, Caller};
use crate::error::{ApiError, Result};

mod audit;
mod devices;
mod exports;
mod organisation;
mod scope;
mod session;
mod statistics;

/// The largest request body: every request is a small JSON object.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The routes under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(session::routes())
        .merge(organisation::routes())
        .merge(devices::routes())
        .merge(audit::routes())
        .merge(statistics::routes())
        .merge(exports::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

impl AppState {
    /// The identity service, absent from a server started without storage.
    pub(crate) fn auth(&self) -> Result<&Arc<Auth>> {
        self.auth.as_ref().ok_or(ApiError::NotFound)
    }
}

/// The token of `Authorization: Bearer <token>`.
pub fn bearer(headers: &HeaderMap) -> Result<&str, AuthError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(AuthError::TokenMissing)?
        .to_str()
        .map_err(|_| AuthError::TokenInvalid)?;
    value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .ok_or(AuthError::TokenInvalid)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let auth = state.auth()?;
        let token = bearer(&parts.headers)?;
        let caller = auth.authenticate(token)?;
        crate::telemetry::identify(&caller);
        Ok(caller)
    }
}

/// The network address a request came from, when the server knows it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        Ok(ClientAddress(address))
    }
}

/// A JSON body whose rejections are [`ApiError`]s like every other failure.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::JsonDataError(error)) => Err(ApiError::Invalid(error.body_text())),
            Err(JsonRejection::BytesRejection(error))
                if error.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(ApiError::TooLarge)
            }
            Err(other) => Err(ApiError::Malformed(other.body_text())),
        }
    }
}

/// An identifier from a path: one that does not parse cannot exist.
fn path_id<T: std::str::FromStr>(text: &str) -> Result<T> {
    text.parse().map_err(|_| ApiError::NotFound)
}
