//! Sync tickets: a browser cannot set headers on a WebSocket, so it trades its access token
//! for a ticket that opens one sync connection, once, within a minute. Tickets are kept (as
//! hashes) in the database, so that any node of the server takes a ticket another issued.

use std::time::Duration;

use client_core::{DeviceId, Millis, UserId};

use super::secrets;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct Tickets {
    store: Store,
    ttl: Duration,
}

impl Tickets {
    pub fn new(store: Store, ttl: Duration) -> Tickets {
        Tickets { store, ttl }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new ticket for `device` of `user`.
    pub async fn issue(
        &self,
        user: UserId,
        device: DeviceId,
        now: Millis,
    ) -> Result<String, super::AuthError> {
        let ticket = secrets::random_token()?;
        let ttl = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX);
        let expires_at = Millis(now.0.saturating_add(ttl));
        self.store
            .put_sync_ticket(secrets::hash(&ticket), user, device, expires_at, now)
            .await?;
        Ok(ticket)
    }

    /// Uses a ticket up: whose it was, if it was good and still fresh.
    pub async fn redeem(&self, ticket: &str, now: Millis) -> Option<(UserId, DeviceId)> {
        self.store
            .take_sync_ticket(secrets::hash(ticket), now)
            .await
            .ok()
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_ticket_opens_once_and_only_while_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("tianjian.sqlite3")).unwrap();
        let (user, device) = (UserId::generate().unwrap(), DeviceId::generate().unwrap());
        let now = Millis(1_791_770_400_000);
        let tickets = Tickets::new(store.clone(), Duration::from_secs(60));
        let ticket = tickets.issue(user, device, now).await.unwrap();
        assert_eq!(tickets.redeem("not a ticket", now).await, None);
        // Another node, sharing the database, takes it: once.
        let other = Tickets::new(store.clone(), Duration::from_secs(60));
        assert_eq!(other.redeem(&ticket, now).await, Some((user, device)));
        assert_eq!(tickets.redeem(&ticket, now).await, None);
        let ticket = tickets.issue(user, device, now).await.unwrap();
        assert_eq!(
            tickets.redeem(&ticket, Millis(now.0 + 60_000)).await,
            None,
            "stale"
        );
    }
}
