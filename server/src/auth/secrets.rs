//! Secrets: refresh tokens, sync tickets and invite codes (random, stored only as SHA-256),
//! and passwords (argon2id).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

use crate::store::SecretHash;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the system's source of randomness failed")]
    NoEntropy,
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// Invite codes use letters and digits nobody misreads off a screen or a sheet of paper
/// (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Twelve characters from 31: about 59 bits, and attempts are rate-limited.
const CODE_LENGTH: usize = 12;

fn random_bytes<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| SecretError::NoEntropy)?;
    Ok(bytes)
}

/// A random token of 256 bits, as hex: refresh tokens and sync tickets.
pub fn random_token() -> Result<String, SecretError> {
    Ok(random_bytes::<32>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// What is stored of a secret.
pub fn hash(secret: &str) -> SecretHash {
    Sha256::digest(secret.as_bytes()).into()
}

/// A new invite code, grouped for reading aloud: `7KQ4-MZ2P-XW9D`.
pub fn invite_code() -> Result<String, SecretError> {
    let mut code = String::with_capacity(CODE_LENGTH + 2);
    let mut filled = 0;
    while filled < CODE_LENGTH {
        for byte in random_bytes::<32>()? {
            // Rejection sampling keeps every character equally likely.
            let Some(&c) = CODE_ALPHABET.get(usize::from(byte & 0x1f)) else {
                continue;
            };
            if filled > 0 && filled % 4 == 0 {
                code.push('-');
            }
            code.push(char::from(c));
            filled += 1;
            if filled == CODE_LENGTH {
                break;
            }
        }
    }
    Ok(code)
}

/// An invite code as typed or scanned, in its canonical form (`7KQ4MZ2PXW9D`), if it could
/// be one. Case, spaces and dashes do not matter.
pub fn normalise_invite(typed: &str) -> Option<String> {
    if typed.len() > 64 {
        return None;
    }
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == CODE_LENGTH && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

/// An argon2id hash of a password, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, SecretError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|error| SecretError::Hash(error.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| SecretError::Hash(error.to_string()))
}

/// Whether `password` matches `stored`; with no stored hash, the same work is done against a
/// made-up one, so that the time taken does not tell whether a phone number has an account.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let decoy = DECOY.get_or_init(|| hash_password("decoy").unwrap_or_default());
    let (phc, real) = match stored {
        Some(phc) => (phc, true),
        None => (decoy.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    real && matches
}

/// [`verify_password`] on a blocking thread: argon2 takes tens of milliseconds of CPU, which
/// the executor must not spend.
pub async fn password_matches(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || verify_password(&password, stored.as_deref()))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_codes_read_back_however_they_are_typed() {
        let code = invite_code().unwrap();
        assert_eq!(code.len(), CODE_LENGTH + 2);
        let canonical = normalise_invite(&code).unwrap();
        assert_eq!(
            normalise_invite(&code.to_lowercase().replace('-', " ")),
            Some(canonical)
        );
        assert_eq!(normalise_invite("0000-0000-0000"), None);
        assert_eq!(normalise_invite("short"), None);
        assert_ne!(invite_code().unwrap(), code);
    }

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let stored = hash_password("合益村2026").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify_password("合益村2026", Some(&stored)));
        assert!(!verify_password("合益村2025", Some(&stored)));
        assert!(!verify_password("decoy", None));
        assert_eq!(hash("x"), hash("x"));
        assert_ne!(random_token().unwrap(), random_token().unwrap());
    }
}
