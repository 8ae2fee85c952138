//! Who is connecting: access tokens (JWT, HS256) verified before a WebSocket is upgraded.
//!
//! The algorithm is fixed here; nothing in a token chooses it. The identity issue adds
//! enrolment, refresh tokens, device ids, key rotation and sync tickets on top of this.

use client_core::{BranchId, Principal, Role, TownshipId, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: UserId,
    pub role: Role,
    #[serde(default)]
    pub branch: Option<BranchId>,
    #[serde(default)]
    pub township: Option<TownshipId>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
}

impl Claims {
    pub fn principal(&self) -> Principal {
        Principal {
            user: self.sub,
            role: self.role,
            branch: self.branch,
            township: self.township,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no access token")]
    Missing,
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid")]
    Invalid,
}

/// The key access tokens are signed with.
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(redacted)")
    }
}

impl Keys {
    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    pub fn issue(&self, claims: &Claims) -> Result<String, AuthError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|_| AuthError::Invalid)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
                _ => AuthError::Invalid,
            })
    }

    /// Reads `Authorization: Bearer <token>`.
    pub fn verify_header(&self, headers: &axum::http::HeaderMap) -> Result<Claims, AuthError> {
        let value = headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or(AuthError::Missing)?
            .to_str()
            .map_err(|_| AuthError::Invalid)?;
        let token = value.strip_prefix("Bearer ").ok_or(AuthError::Invalid)?;
        self.verify(token.trim())
    }
}
