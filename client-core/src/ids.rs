//! Identifiers: records, people, organisations and documents.
//!
//! Every identifier crosses the wire as a string, so that a stock automerge-repo client sees
//! plain JSON-like values. Parsing is strict: anything else is rejected, never guessed.

use std::fmt;
use std::str::FromStr;

use autosurgeon::{Hydrate, HydrateError, Reconcile, Reconciler};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::quote;
use crate::time::Millis;

/// Why a string is not an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("not a UUID: {0:?}")]
    NotUuid(String),
    #[error("not a document id: {0:?}")]
    NotDocumentId(String),
    #[error("the system's source of randomness failed")]
    NoEntropy,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                parse_uuid(s).map(Self)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl Reconcile for $name {
            type Key<'a> = autosurgeon::reconcile::NoKey;
            fn reconcile<R: Reconciler>(&self, reconciler: R) -> Result<(), R::Error> {
                self.to_string().reconcile(reconciler)
            }
        }

        impl Hydrate for $name {
            fn hydrate_string(s: &'_ str) -> Result<Self, HydrateError> {
                s.parse().map_err(|_| HydrateError::unexpected("a UUID string", s.to_owned()))
            }
        }
    };
}

uuid_id!(
    /// A record inside a document: made on the device, UUIDv7 so that ids sort by creation time.
    RecordId
);
uuid_id!(
    /// A person with an account.
    UserId
);
uuid_id!(
    /// A village party branch (党支部).
    BranchId
);
uuid_id!(
    /// A township party committee (乡镇党委) supervising branches.
    TownshipId
);
uuid_id!(
    /// One enrolled phone or browser of a person: what tokens are issued to and what an
    /// admin revokes when a phone is lost.
    DeviceId
);

impl RecordId {
    /// A new UUIDv7 for time `now`. Time comes from the caller because the core does no IO;
    /// randomness comes from the platform (the browser's `crypto.getRandomValues` in WASM).
    pub fn generate(now: Millis) -> Result<Self, IdError> {
        let mut random = [0u8; 10];
        getrandom::fill(&mut random).map_err(|_| IdError::NoEntropy)?;
        let millis = u64::try_from(now.0).unwrap_or(0);
        Ok(Self(
            uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid(),
        ))
    }
}

impl UserId {
    /// The server itself, when it writes on an organisation's behalf (enrolling a member it
    /// has just created, for instance). No account has this id.
    pub const SYSTEM: UserId = UserId(Uuid::nil());

    /// A random id; used by the server when it creates accounts and by tests.
    pub fn generate() -> Result<Self, IdError> {
        random_uuid().map(Self)
    }
}

impl BranchId {
    pub fn generate() -> Result<Self, IdError> {
        random_uuid().map(Self)
    }
}

impl TownshipId {
    pub fn generate() -> Result<Self, IdError> {
        random_uuid().map(Self)
    }
}

impl DeviceId {
    pub fn generate() -> Result<Self, IdError> {
        random_uuid().map(Self)
    }
}

pub(crate) fn random_uuid() -> Result<Uuid, IdError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| IdError::NoEntropy)?;
    Ok(uuid::Builder::from_random_bytes(bytes).into_uuid())
}

/// Only the canonical lower-case hyphenated form is accepted, so one id has one spelling and
/// map keys cannot alias each other.
fn parse_uuid(s: &str) -> Result<Uuid, IdError> {
    let uuid = Uuid::try_parse(s).map_err(|_| IdError::NotUuid(quote(s)))?;
    if uuid.hyphenated().to_string() == s {
        Ok(uuid)
    } else {
        Err(IdError::NotUuid(quote(s)))
    }
}

/// A document id in automerge-repo's form: 16 random bytes, written as base58check.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DocumentId([u8; 16]);

impl DocumentId {
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    pub fn generate() -> Result<Self, IdError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|_| IdError::NoEntropy)?;
        Ok(Self(bytes))
    }

    /// The `automerge:` URL that automerge-repo clients use to name this document.
    pub fn url(&self) -> String {
        format!("automerge:{self}")
    }

    /// Parses either the bare id or its `automerge:` URL.
    pub fn from_url(url: &str) -> Result<Self, IdError> {
        url.strip_prefix("automerge:").unwrap_or(url).parse()
    }
}

impl FromStr for DocumentId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        // A 16-byte id with its 4-byte checksum is at most 28 base58 digits; refuse to decode
        // anything longer rather than spend time on it.
        if s.len() > 32 {
            return Err(IdError::NotDocumentId(quote(s)));
        }
        let bytes = bs58::decode(s)
            .into_vec()
            .map_err(|_| IdError::NotDocumentId(quote(s)))?;
        let checked: [u8; 20] = bytes
            .try_into()
            .map_err(|_| IdError::NotDocumentId(quote(s)))?;
        let (id, check) = checked.split_at(16);
        let id: [u8; 16] = id
            .try_into()
            .map_err(|_| IdError::NotDocumentId(quote(s)))?;
        if checksum(&id) != check {
            return Err(IdError::NotDocumentId(quote(s)));
        }
        Ok(Self(id))
    }
}

impl TryFrom<String> for DocumentId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        s.parse()
    }
}

impl From<DocumentId> for String {
    fn from(id: DocumentId) -> String {
        id.to_string()
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut checked = [0; 20];
        checked[..16].copy_from_slice(&self.0);
        checked[16..].copy_from_slice(&checksum(&self.0));
        f.write_str(&bs58::encode(checked).into_string())
    }
}

/// Base58Check's checksum, as automerge-repo spells document ids: the first four bytes of the
/// id's SHA-256, hashed again.
fn checksum(id: &[u8; 16]) -> [u8; 4] {
    let twice = Sha256::digest(Sha256::digest(id));
    [twice[0], twice[1], twice[2], twice[3]]
}

impl fmt::Debug for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentId({self})")
    }
}

impl Reconcile for DocumentId {
    type Key<'a> = autosurgeon::reconcile::NoKey;
    fn reconcile<R: Reconciler>(&self, reconciler: R) -> Result<(), R::Error> {
        self.to_string().reconcile(reconciler)
    }
}

impl Hydrate for DocumentId {
    fn hydrate_string(s: &'_ str) -> Result<Self, HydrateError> {
        s.parse()
            .map_err(|_| HydrateError::unexpected("a document id", quote(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_ids_round_trip_through_base58check() {
        let id = DocumentId::from_bytes([7; 16]);
        let text = id.to_string();
        assert_eq!(text.parse::<DocumentId>().unwrap(), id);
        assert_eq!(DocumentId::from_url(&id.url()).unwrap(), id);
        // Base58Check as automerge-repo (and any other implementation) spells it.
        assert_eq!(text, "6gMHXjsZ5cxdn4qSbgGYYY8CnKK");
    }

    #[test]
    fn document_ids_with_a_bad_checksum_are_refused() {
        let mut text = DocumentId::from_bytes([7; 16]).to_string();
        let last = text.pop().unwrap();
        text.push(if last == '2' { '3' } else { '2' });
        assert!(text.parse::<DocumentId>().is_err());
        assert!("".parse::<DocumentId>().is_err());
        assert!("x".repeat(10_000).parse::<DocumentId>().is_err());
    }

    #[test]
    fn uuids_must_be_canonical() {
        let id = RecordId::generate(Millis(1_700_000_000_000)).unwrap();
        assert_eq!(id.as_uuid().get_version_num(), 7);
        assert_eq!(id.to_string().parse::<RecordId>().unwrap(), id);
        assert!(id.to_string().to_uppercase().parse::<RecordId>().is_err());
        assert!(
            id.as_uuid()
                .simple()
                .to_string()
                .parse::<RecordId>()
                .is_err()
        );
    }
}
