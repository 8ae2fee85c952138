//! Access tokens: short-lived JWTs signed with HS256 by a key ring.
//!
//! The algorithm is fixed here; nothing in a token chooses it. A token names the key that
//! signed it (`kid`), so a new key can be put in place while tokens signed with the previous
//! one run out.

use client_core::{BranchId, DeviceId, Role, TownshipId, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The shortest signing key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: UserId,
    /// The device it was issued to.
    pub dev: DeviceId,
    pub role: Role,
    #[serde(default)]
    pub branch: Option<BranchId>,
    #[serde(default)]
    pub township: Option<TownshipId>,
    /// Issued and expiring, seconds since the epoch.
    pub iat: u64,
    pub exp: u64,
}

/// What a blob ticket says: who may fetch which blob until when. A browser's `<video>` cannot
/// send an `Authorization` header, so it gets a URL carrying one of these instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobClaims {
    pub sub: UserId,
    pub dev: DeviceId,
    /// The blob's SHA-256, hex.
    pub blob: String,
    pub exp: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid")]
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a signing key must be at least {MIN_KEY_BYTES} bytes")]
pub struct WeakKey;

struct SigningKey {
    id: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl SigningKey {
    /// The key id is derived from the key, so that rotating needs no second setting; it
    /// says nothing useful about a key of 32 random bytes.
    fn new(secret: &[u8]) -> Result<SigningKey, WeakKey> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(WeakKey);
        }
        let digest = Sha256::new()
            .chain_update(b"tianjian signing key id\0")
            .chain_update(secret)
            .finalize();
        Ok(SigningKey {
            id: digest[..8].iter().map(|b| format!("{b:02x}")).collect(),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        })
    }
}

/// The key tokens are signed with, and the previous ones still accepted.
#[derive(Clone)]
pub struct KeyRing {
    keys: std::sync::Arc<Vec<SigningKey>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("KeyRing").field("key_ids", &ids).finish()
    }
}

impl KeyRing {
    /// Signs with `current`; also accepts tokens signed with any of `previous`.
    pub fn new(current: &[u8], previous: &[&[u8]]) -> Result<KeyRing, WeakKey> {
        let mut keys = vec![SigningKey::new(current)?];
        for secret in previous {
            keys.push(SigningKey::new(secret)?);
        }
        Ok(KeyRing {
            keys: std::sync::Arc::new(keys),
        })
    }

    /// The id of the key new tokens are signed with.
    pub fn current_id(&self) -> &str {
        &self.keys[0].id
    }

    pub fn issue(&self, claims: &Claims) -> Result<String, TokenError> {
        self.sign(claims)
    }

    /// Checks the signature with the key the token names, then the expiry (no leeway).
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.check(token)
    }

    /// Signs a blob ticket.
    pub fn issue_blob(&self, claims: &BlobClaims) -> Result<String, TokenError> {
        self.sign(claims)
    }

    /// Checks a blob ticket. An access token is not one (it names no blob), and a blob
    /// ticket is not an access token (it has no role).
    pub fn verify_blob(&self, token: &str) -> Result<BlobClaims, TokenError> {
        self.check(token)
    }

    fn sign(&self, claims: &impl Serialize) -> Result<String, TokenError> {
        let key = &self.keys[0];
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.id.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|_| TokenError::Invalid)
    }

    fn check<T: serde::de::DeserializeOwned>(&self, token: &str) -> Result<T, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let key = self
            .keys
            .iter()
            .find(|key| key.id == kid)
            .ok_or(TokenError::Invalid)?;
        // Only HS256, whatever the header says: `none` and the asymmetric algorithms fail here.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<T>(token, &key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> Claims {
        Claims {
            sub: UserId::generate().unwrap(),
            dev: DeviceId::generate().unwrap(),
            role: Role::Member,
            branch: None,
            township: None,
            iat: 0,
            exp,
        }
    }

    const OLD: &[u8] = b"the key of last year, 32 bytes long";
    const NEW: &[u8] = b"the key of this year, 32 bytes long";
    const FAR: u64 = 4_102_444_800;

    #[test]
    fn a_rotated_ring_accepts_the_previous_key_until_it_is_dropped() {
        let old = KeyRing::new(OLD, &[]).unwrap();
        let token = old.issue(&claims(FAR)).unwrap();
        let rotated = KeyRing::new(NEW, &[OLD]).unwrap();
        assert_eq!(rotated.verify(&token).unwrap(), old.verify(&token).unwrap());
        assert_ne!(rotated.current_id(), old.current_id());
        let dropped = KeyRing::new(NEW, &[]).unwrap();
        assert_eq!(dropped.verify(&token), Err(TokenError::Invalid));
    }

    #[test]
    fn expiry_is_told_apart_and_short_keys_are_refused() {
        let ring = KeyRing::new(NEW, &[]).unwrap();
        let token = ring.issue(&claims(1)).unwrap();
        assert_eq!(ring.verify(&token), Err(TokenError::Expired));
        assert_eq!(ring.verify("a.b.c"), Err(TokenError::Invalid));
        assert!(KeyRing::new(b"short", &[]).is_err());
    }
}
