//! Slowing down guessing: failed sign-ins counted per account and per network address.
//!
//! Once a key has failed too often within the window, every attempt under it is refused
//! until the window has passed, right or wrong: otherwise guessing could simply go on. The
//! counts are kept in the database, where every node of the server sees them.

use std::time::Duration;

use client_core::Millis;

use crate::store::Store;

/// How many failures are allowed, and over how long.
#[derive(Debug, Clone, Copy)]
pub struct AttemptLimits {
    pub per_account: u32,
    pub per_address: u32,
    pub window: Duration,
}

impl Default for AttemptLimits {
    fn default() -> Self {
        AttemptLimits {
            per_account: 10,
            per_address: 50,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// Who is guessing: the account they guess at, or where they guess from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Guesser {
    Account(String),
    Address(std::net::IpAddr),
}

impl Guesser {
    /// How it is kept in the database.
    fn key(&self) -> String {
        match self {
            Guesser::Account(phone) => format!("account:{phone}"),
            Guesser::Address(address) => format!("address:{address}"),
        }
    }
}

/// The failures counted so far, kept in the database so that every node counts the same.
#[derive(Debug, Clone)]
pub struct Attempts {
    limits: AttemptLimits,
    store: Store,
}

impl Attempts {
    pub fn new(store: Store, limits: AttemptLimits) -> Attempts {
        Attempts { limits, store }
    }

    fn limit(&self, guesser: &Guesser) -> u32 {
        match guesser {
            Guesser::Account(_) => self.limits.per_account,
            Guesser::Address(_) => self.limits.per_address,
        }
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.limits.window.as_millis()).unwrap_or(i64::MAX)
    }

    /// `Err(wait)` if any of `guessers` must wait before trying again. If the count cannot
    /// be read, the attempt goes on: a sign-in is never refused for the database's fault.
    pub async fn check(&self, guessers: &[Guesser], now: Millis) -> Result<(), Duration> {
        let keyed = guessers.iter().map(|g| (g.key(), self.limit(g))).collect();
        match self.store.sign_in_wait(keyed, self.window_ms(), now).await {
            Ok(Some(wait)) => {
                Err(Duration::from_millis(u64::try_from(wait).unwrap_or(0))
                    .max(Duration::from_secs(1)))
            }
            Ok(None) | Err(_) => Ok(()),
        }
    }

    /// Counts a failure against each of `guessers`.
    pub async fn failed(&self, guessers: &[Guesser], now: Millis) {
        let keys = guessers.iter().map(Guesser::key).collect();
        if let Err(error) = self.store.sign_in_failed(keys, self.window_ms(), now).await {
            tracing::warn!(%error, "cannot count a failed sign-in");
        }
    }

    /// Forgets the failures against an account that has now signed in.
    pub async fn succeeded(&self, account: &Guesser) {
        if let Err(error) = self.store.sign_in_succeeded(account.key()).await {
            tracing::warn!(%error, "cannot forget failed sign-ins");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_account_is_locked_after_its_limit_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("tianjian.sqlite3")).unwrap();
        let limits = AttemptLimits {
            per_account: 3,
            per_address: 5,
            window: Duration::from_secs(60),
        };
        let attempts = Attempts::new(store.clone(), limits);
        // A second node, sharing the database, counts the same failures.
        let other = Attempts::new(store, limits);
        let now = Millis(1_791_770_400_000);
        let li = Guesser::Account("13800000001".into());
        let zhao = Guesser::Account("13800000002".into());
        let address = Guesser::Address([10, 0, 0, 7].into());
        for node in [&attempts, &other, &attempts] {
            assert!(
                node.check(&[li.clone(), address.clone()], now)
                    .await
                    .is_ok()
            );
            node.failed(&[li.clone(), address.clone()], now).await;
        }
        let wait = other
            .check(&[li.clone(), address.clone()], now)
            .await
            .unwrap_err();
        assert!(wait <= Duration::from_secs(60) && wait >= Duration::from_secs(1));
        assert!(
            attempts
                .check(&[zhao.clone(), address.clone()], now)
                .await
                .is_ok()
        );
        attempts.failed(&[zhao.clone(), address.clone()], now).await;
        attempts.failed(&[zhao.clone(), address.clone()], now).await;
        // The address has now failed five times, whichever account it tried.
        assert!(
            attempts
                .check(&[Guesser::Account("x".into()), address.clone()], now)
                .await
                .is_err()
        );
        attempts.succeeded(&li).await;
        assert!(attempts.check(std::slice::from_ref(&li), now).await.is_ok());
        // Once the window has passed, the address may try again.
        let later = Millis(now.0 + 60_000);
        assert!(
            attempts
                .check(std::slice::from_ref(&address), later)
                .await
                .is_ok()
        );
        attempts.failed(std::slice::from_ref(&address), later).await;
        assert!(
            attempts.check(&[address], later).await.is_ok(),
            "a new window counts from one"
        );
    }
}
