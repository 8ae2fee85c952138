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

/// The network address a request came from, when the server knows it: the peer's, or,
/// when the peer is a reverse proxy the configuration trusts, the client's as the proxies
/// recorded it in `X-Forwarded-For`.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| client_of(info.0.ip(), &parts.headers, &state.trusted_proxies));
        Ok(ClientAddress(address))
    }
}

/// The client behind `peer`. Each proxy appends the address it was reached from to
/// `X-Forwarded-For`, so the list is read from its end: past the trusted proxies, the first
/// address is the client's. Anything further left was written by the client itself, and
/// proves nothing; a peer that is not trusted is the client.
fn client_of(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|item| item.trim().parse::<IpAddr>().ok())
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    forwarded
        .iter()
        .rev()
        .find(|address| !trusted.contains(address))
        .copied()
        .unwrap_or(peer)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_client_is_found_past_the_trusted_proxies_only() {
        let proxy = ip("127.0.0.1");
        let trusted = [proxy, ip("10.0.0.2")];
        // Straight from a phone: its own address, whatever it claims.
        assert_eq!(
            client_of(ip("203.0.113.9"), &forwarded(&["198.51.100.1"]), &trusted),
            ip("203.0.113.9")
        );
        // Through the proxy: the address the proxy saw.
        assert_eq!(
            client_of(proxy, &forwarded(&["203.0.113.9"]), &trusted),
            ip("203.0.113.9")
        );
        // A client that forges the header gets its forgery ignored: the proxy appended the
        // real address after it.
        assert_eq!(
            client_of(proxy, &forwarded(&["198.51.100.1, 203.0.113.9"]), &trusted),
            ip("203.0.113.9")
        );
        // Two proxies in a row, in one header or two.
        assert_eq!(
            client_of(proxy, &forwarded(&["203.0.113.9", "10.0.0.2"]), &trusted),
            ip("203.0.113.9")
        );
        // No header, or one that does not parse: the proxy is all there is.
        assert_eq!(client_of(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(client_of(proxy, &forwarded(&["nonsense"]), &trusted), proxy);
        // Nobody trusted: the header counts for nothing.
        assert_eq!(client_of(proxy, &forwarded(&["203.0.113.9"]), &[]), proxy);
    }
}
