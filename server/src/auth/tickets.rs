//! Sync tickets: a browser cannot set headers on a WebSocket, so it trades its access token
//! for a ticket that opens one sync connection, once, within a minute. Tickets live in
//! memory only: one lost in a restart costs the browser a new request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use client_core::{DeviceId, UserId};

use super::secrets::{self, SecretError};
use crate::store::SecretHash;

#[derive(Debug, Clone, Copy)]
struct Ticket {
    user: UserId,
    device: DeviceId,
    expires: Instant,
}

#[derive(Debug)]
pub struct Tickets {
    ttl: Duration,
    issued: Mutex<HashMap<SecretHash, Ticket>>,
}

impl Tickets {
    pub fn new(ttl: Duration) -> Tickets {
        Tickets {
            ttl,
            issued: Mutex::new(HashMap::new()),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new ticket for `device` of `user`.
    pub fn issue(&self, user: UserId, device: DeviceId) -> Result<String, SecretError> {
        let ticket = secrets::random_token()?;
        let now = Instant::now();
        if let Ok(mut issued) = self.issued.lock() {
            issued.retain(|_, t| t.expires > now);
            issued.insert(
                secrets::hash(&ticket),
                Ticket {
                    user,
                    device,
                    expires: now + self.ttl,
                },
            );
        }
        Ok(ticket)
    }

    /// Uses a ticket up: whose it was, if it was good and still fresh.
    pub fn redeem(&self, ticket: &str) -> Option<(UserId, DeviceId)> {
        let found = self.issued.lock().ok()?.remove(&secrets::hash(ticket))?;
        (found.expires > Instant::now()).then_some((found.user, found.device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_opens_once_and_only_while_fresh() {
        let (user, device) = (UserId::generate().unwrap(), DeviceId::generate().unwrap());
        let tickets = Tickets::new(Duration::from_secs(60));
        let ticket = tickets.issue(user, device).unwrap();
        assert_eq!(tickets.redeem("not a ticket"), None);
        assert_eq!(tickets.redeem(&ticket), Some((user, device)));
        assert_eq!(tickets.redeem(&ticket), None);
        let stale = Tickets::new(Duration::ZERO);
        let ticket = stale.issue(user, device).unwrap();
        assert_eq!(stale.redeem(&ticket), None);
    }
}
