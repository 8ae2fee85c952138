//! Signing in on a device: the tokens the server issued, when to refresh them, what a refusal
//! means, and which Automerge actor the device writes with for whom.
//!
//! This is state and decisions only; the app makes the requests. It never touches documents:
//! a refused token stops sync, never local work. Everything recorded while signed out, or
//! after the sign-in expired, stays on the device and goes to the server once the person has
//! signed in again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::access::Principal;
use crate::ids::{DeviceId, IdError, UserId};
use crate::time::Millis;

/// An access token this close to expiry is refreshed first, so that a sync started with it
/// does not fail half-way.
pub const REFRESH_MARGIN_MS: i64 = 60_000;

/// What the server issued at sign-in or at the last refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub user: UserId,
    pub device: DeviceId,
    pub principal: Principal,
    pub access_token: String,
    pub access_expires_at: Millis,
    pub refresh_token: String,
    pub refresh_expires_at: Millis,
}

/// Why the server refused, from the `error` code of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The access token ran out: refresh it.
    TokenExpired,
    /// An admin revoked this device, or its refresh token was used twice.
    DeviceRevoked,
    /// The device stayed away longer than a sign-in lasts.
    SignInExpired,
    /// The token or refresh token is not one the server knows.
    Invalid,
    /// Too many failed attempts: wait.
    TooManyAttempts,
    /// Anything else (a bad request, a server fault): try again later.
    Other,
}

impl Refusal {
    /// Reads the `error` code of an API error body.
    pub fn from_code(code: &str) -> Refusal {
        match code {
            "token_expired" => Refusal::TokenExpired,
            "device_revoked" => Refusal::DeviceRevoked,
            "refresh_expired" => Refusal::SignInExpired,
            "token_invalid" | "token_missing" | "refresh_invalid" | "ticket_invalid" => {
                Refusal::Invalid
            }
            "too_many_attempts" => Refusal::TooManyAttempts,
            _ => Refusal::Other,
        }
    }
}

/// What the app should do next to sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Sync with this access token.
    Sync { access_token: String },
    /// Trade this refresh token for new tokens first.
    Refresh { refresh_token: String },
    /// Ask the person to sign in again (scan a new invite, or phone and password); say why.
    SignIn { because: Option<Refusal> },
    /// Try again later.
    Wait,
}

/// A device's sign-in, kept in its durable storage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    credentials: Option<Credentials>,
    /// Why the last sign-in ended, shown to the person until they sign in again.
    ended: Option<Refusal>,
    /// The last person signed in on this device, kept after the sign-in ends.
    last_user: Option<UserId>,
    /// The actor the device writes with for each person who has signed in on it, in hex. A
    /// phone passed to someone else writes with another actor, so that the server never
    /// takes one person's changes for another's.
    actors: BTreeMap<UserId, String>,
}

impl Session {
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// The person whose records this device holds, signed in or not.
    pub fn last_user(&self) -> Option<UserId> {
        self.last_user
    }

    /// Takes the credentials of a sign-in or a refresh. Returns whether the person is the one
    /// who last signed in here: if not, the app keeps the earlier person's records apart.
    pub fn signed_in(&mut self, credentials: Credentials) -> bool {
        let same = self.last_user.is_none_or(|user| user == credentials.user);
        self.last_user = Some(credentials.user);
        self.credentials = Some(credentials);
        self.ended = None;
        same
    }

    /// What to do next at `now`.
    pub fn next(&self, now: Millis) -> Step {
        let Some(credentials) = &self.credentials else {
            return Step::SignIn {
                because: self.ended,
            };
        };
        if credentials.access_expires_at.0 - now.0 > REFRESH_MARGIN_MS {
            Step::Sync {
                access_token: credentials.access_token.clone(),
            }
        } else if credentials.refresh_expires_at.0 > now.0 {
            Step::Refresh {
                refresh_token: credentials.refresh_token.clone(),
            }
        } else {
            Step::SignIn {
                because: Some(Refusal::SignInExpired),
            }
        }
    }

    /// The server refused a request with `code`; what to do now. A refusal that only a new
    /// sign-in can cure ends the sign-in (and nothing else).
    pub fn refused(&mut self, code: &str, now: Millis) -> Step {
        let refusal = Refusal::from_code(code);
        match refusal {
            Refusal::TokenExpired => {
                if let Some(credentials) = &mut self.credentials {
                    // The server's clock says so, whatever ours says.
                    credentials.access_expires_at = now;
                }
                self.next(now)
            }
            Refusal::DeviceRevoked | Refusal::SignInExpired | Refusal::Invalid => {
                self.credentials = None;
                self.ended = Some(refusal);
                Step::SignIn {
                    because: Some(refusal),
                }
            }
            Refusal::TooManyAttempts | Refusal::Other => Step::Wait,
        }
    }

    /// Writes for `user` with `actor` (hex) from now on: the one a recovery started afresh
    /// with, since the old one's next sequence numbers were refused.
    pub fn replace_actor(&mut self, user: UserId, actor: String) {
        self.actors.insert(user, actor);
    }

    /// The actor this device writes with for `user`, made the first time it is asked for.
    /// The app registers it with the server right after signing in.
    pub fn actor_for(&mut self, user: UserId) -> Result<String, IdError> {
        if let Some(actor) = self.actors.get(&user) {
            return Ok(actor.clone());
        }
        let actor = crate::ids::random_uuid()?.simple().to_string();
        self.actors.insert(user, actor.clone());
        Ok(actor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Role;

    fn credentials(user: UserId, now: Millis) -> Credentials {
        Credentials {
            user,
            device: DeviceId::generate().unwrap(),
            principal: Principal {
                user,
                role: Role::Member,
                branch: None,
                township: None,
            },
            access_token: "access".into(),
            access_expires_at: Millis(now.0 + 15 * 60_000),
            refresh_token: "refresh".into(),
            refresh_expires_at: Millis(now.0 + 90 * 86_400_000),
        }
    }

    #[test]
    fn tokens_are_used_then_refreshed_then_a_new_sign_in_is_asked_for() {
        let now = Millis(1_791_770_400_000);
        let li = UserId::generate().unwrap();
        let mut session = Session::default();
        assert_eq!(session.next(now), Step::SignIn { because: None });
        assert!(session.signed_in(credentials(li, now)));
        assert!(matches!(session.next(now), Step::Sync { .. }));
        assert!(matches!(
            session.next(Millis(now.0 + 15 * 60_000)),
            Step::Refresh { .. }
        ));
        assert_eq!(
            session.next(Millis(now.0 + 91 * 86_400_000)),
            Step::SignIn {
                because: Some(Refusal::SignInExpired)
            }
        );
        // The server says the token expired before our clock does: refresh.
        assert!(matches!(
            session.refused("token_expired", now),
            Step::Refresh { .. }
        ));
        assert_eq!(session.refused("too_many_attempts", now), Step::Wait);
        assert!(session.credentials().is_some());
    }

    #[test]
    fn a_revoked_device_signs_in_again_and_keeps_its_person_and_actor() {
        let now = Millis(1_791_770_400_000);
        let (li, zhao) = (UserId::generate().unwrap(), UserId::generate().unwrap());
        let mut session = Session::default();
        session.signed_in(credentials(li, now));
        let actor = session.actor_for(li).unwrap();
        assert_eq!(
            session.refused("device_revoked", now),
            Step::SignIn {
                because: Some(Refusal::DeviceRevoked)
            }
        );
        assert_eq!(session.credentials(), None);
        assert_eq!(session.last_user(), Some(li));
        assert_eq!(
            session.next(now),
            Step::SignIn {
                because: Some(Refusal::DeviceRevoked)
            }
        );
        assert!(session.signed_in(credentials(li, now)));
        assert_eq!(session.actor_for(li).unwrap(), actor);
        // Someone else on the same phone writes with an actor of his own.
        assert!(!session.signed_in(credentials(zhao, now)));
        assert_ne!(session.actor_for(zhao).unwrap(), actor);
        assert_eq!(
            Refusal::from_code("refresh_expired"),
            Refusal::SignInExpired
        );
        assert_eq!(Refusal::from_code("teapot"), Refusal::Other);
    }
}
