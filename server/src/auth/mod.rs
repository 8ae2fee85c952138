//! Who is asking: enrolment (invite codes, phone and password), access and refresh tokens,
//! devices and their revocation, and sync tickets for browsers.
//!
//! An access token says who and which device; what that person may do is read from the
//! directory at every request, so a new role or a move to another branch counts at once, and
//! a revoked device is refused at once, whatever its token still says.

use std::net::IpAddr;
use std::time::Duration;

use client_core::{DeviceId, Millis, Principal, UserId};
use serde::Serialize;

use crate::directory::Directory;
use crate::store::{
    AuditEvent, NewDevice, Redemption, RefreshRequest, Rotation, Store, StoreError, UserRecord,
};
use crate::sync::Hub;

pub mod attempts;
pub mod secrets;
pub mod tickets;
pub mod tokens;

use crate::telemetry::metrics::Outcome;
pub use attempts::{AttemptLimits, Guesser};
pub use secrets::SecretError;
pub use tokens::{BlobClaims, Claims, KeyRing, TokenError, WeakKey};

use attempts::Attempts;
use tickets::Tickets;

/// Why a request is not let in. Each is its own code on the wire, so that a device can tell
/// "sign in again" from "try later", and an expired token from a revoked device.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no access token")]
    TokenMissing,
    #[error("the access token has expired")]
    TokenExpired,
    #[error("the access token is not valid")]
    TokenInvalid,
    #[error("this device has been signed out; sign in again")]
    DeviceRevoked,
    #[error("the sign-in on this device has expired; sign in again")]
    RefreshExpired,
    #[error("the refresh token is not valid")]
    RefreshInvalid,
    #[error("the sync ticket is not valid, used or too old")]
    TicketInvalid,
    #[error("no such invite code")]
    InviteUnknown,
    #[error("this invite code has been used")]
    InviteUsed,
    #[error("this invite code has expired; ask for a new one")]
    InviteExpired,
    #[error("wrong phone number or password")]
    BadCredentials,
    #[error("too many failed attempts; try again in {} seconds", .0.as_secs())]
    TooManyAttempts(Duration),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

pub type Result<T, E = AuthError> = std::result::Result<T, E>;

/// How long a blob URL works: long enough to watch a video, seeking as one goes.
pub const BLOB_TICKET_TTL: Duration = Duration::from_secs(12 * 3600);

/// Lifetimes and limits.
#[derive(Debug, Clone)]
pub struct Settings {
    pub access_ttl: Duration,
    /// How long a device may stay away and still refresh without signing in again.
    pub refresh_ttl: Duration,
    /// How soon a used refresh token may be presented again, if its replacement was never
    /// used: on a bad connection the answer to a refresh can be lost.
    pub refresh_retry: Duration,
    pub invite_ttl: Duration,
    pub ticket_ttl: Duration,
    pub attempts: AttemptLimits,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(90 * 24 * 3600),
            refresh_retry: Duration::from_secs(120),
            invite_ttl: Duration::from_secs(7 * 24 * 3600),
            ticket_ttl: Duration::from_secs(60),
            attempts: AttemptLimits::default(),
        }
    }
}

/// Someone whose access token checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who they are now, as the directory says.
    pub who: Principal,
    pub device: DeviceId,
}

/// What a device keeps after signing in or refreshing: client-core's own type, so the app
/// reads exactly what the server writes.
pub use client_core::session::Credentials as Session;

/// An invite code just issued; the code itself is never stored.
#[derive(Debug, Clone, Serialize)]
pub struct Invite {
    pub user: UserId,
    pub code: String,
    pub expires_at: Millis,
}

/// Issues an invite code: the store keeps its hash, the audit log that it was issued.
pub async fn issue_invite(
    store: &Store,
    by: &Principal,
    user: &UserRecord,
    ttl: Duration,
    now: Millis,
) -> Result<Invite> {
    let code = secrets::invite_code()?;
    let canonical = secrets::normalise_invite(&code).unwrap_or_default();
    let expires_at = later(now, ttl);
    store
        .create_invite(secrets::hash(&canonical), user.id, by.user, now, expires_at)
        .await?;
    let event = AuditEvent::new(now, "invite_issued", format!("for {}", user.id))
        .by(by)
        .concerning(user.branch, Some(user.township));
    store.audit(event).await?;
    Ok(Invite {
        user: user.id,
        code,
        expires_at,
    })
}

/// The QR code of an invite link, as SVG, for the app to scan.
pub fn invite_qr(link: &str) -> Result<String, qrcode::types::QrError> {
    Ok(qrcode::QrCode::new(link.as_bytes())?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(256, 256)
        .build())
}

/// A device being enrolled: its id, name and first refresh token.
#[derive(Clone)]
struct NewPhone {
    id: DeviceId,
    name: String,
    refresh: String,
    refresh_expires_at: Millis,
}

impl std::fmt::Debug for NewPhone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPhone")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl NewPhone {
    fn new(name: &str, refresh_expires_at: Millis) -> Result<NewPhone> {
        Ok(NewPhone {
            id: DeviceId::generate().map_err(|_| SecretError::NoEntropy)?,
            name: name.to_owned(),
            refresh: secrets::random_token()?,
            refresh_expires_at,
        })
    }

    /// What the store keeps of it: the refresh token only as its hash.
    fn record(&self, user: UserId) -> NewDevice {
        NewDevice {
            id: self.id,
            user,
            name: self.name.clone(),
            refresh: secrets::hash(&self.refresh),
            refresh_expires_at: self.refresh_expires_at,
        }
    }
}

/// The identity service.
#[derive(Debug)]
pub struct Auth {
    pub store: Store,
    pub directory: Directory,
    pub hub: Hub,
    pub keys: KeyRing,
    pub settings: Settings,
    attempts: Attempts,
    tickets: Tickets,
}

fn later(now: Millis, ttl: Duration) -> Millis {
    Millis(
        now.0
            .saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)),
    )
}

impl Auth {
    pub fn new(
        store: Store,
        directory: Directory,
        hub: Hub,
        keys: KeyRing,
        settings: Settings,
    ) -> Auth {
        Auth {
            attempts: Attempts::new(store.clone(), settings.attempts),
            tickets: Tickets::new(store.clone(), settings.ticket_ttl),
            store,
            directory,
            hub,
            keys,
            settings,
        }
    }

    /// Checks an access token: its signature and expiry, then that its device is still
    /// enrolled and its person still has an account.
    pub fn authenticate(&self, token: &str) -> Result<Caller> {
        let claims = self.keys.verify(token).map_err(|error| match error {
            TokenError::Expired => AuthError::TokenExpired,
            TokenError::Invalid => AuthError::TokenInvalid,
        })?;
        self.caller(claims.sub, claims.dev, AuthError::TokenInvalid)
    }

    /// A URL ticket for one blob, for a browser's `<video>` or `<img>`, good for
    /// [`BLOB_TICKET_TTL`]. Each request with it is checked again (device, permission).
    pub fn blob_ticket(&self, caller: &Caller, blob: &str, now: Millis) -> Result<String> {
        let exp = later(now, BLOB_TICKET_TTL).0 / 1000;
        let claims = BlobClaims {
            sub: caller.who.user,
            dev: caller.device,
            blob: blob.to_owned(),
            exp: u64::try_from(exp).unwrap_or(0),
        };
        self.keys
            .issue_blob(&claims)
            .map_err(|_| AuthError::TokenInvalid)
    }

    /// Checks a blob ticket for `blob`.
    pub fn authenticate_blob(&self, ticket: &str, blob: &str) -> Result<Caller> {
        let claims = self.keys.verify_blob(ticket).map_err(|error| match error {
            TokenError::Expired => AuthError::TokenExpired,
            TokenError::Invalid => AuthError::TicketInvalid,
        })?;
        if claims.blob != blob {
            return Err(AuthError::TicketInvalid);
        }
        self.caller(claims.sub, claims.dev, AuthError::TicketInvalid)
    }

    /// Checks and uses up a sync ticket.
    pub async fn authenticate_ticket(&self, ticket: &str, now: Millis) -> Result<Caller> {
        let (user, device) = self
            .tickets
            .redeem(ticket, now)
            .await
            .ok_or(AuthError::TicketInvalid)?;
        self.caller(user, device, AuthError::TicketInvalid)
    }

    fn caller(&self, user: UserId, device: DeviceId, invalid: AuthError) -> Result<Caller> {
        match self.directory.device(device) {
            Some(entry) if entry.user != user => return Err(invalid),
            Some(entry) if entry.revoked => return Err(AuthError::DeviceRevoked),
            Some(_) => {}
            None => return Err(invalid),
        }
        let who = self.directory.person(user).ok_or(invalid)?;
        Ok(Caller { who, device })
    }

    /// A single-use ticket for one sync connection.
    pub async fn sync_ticket(&self, caller: &Caller, now: Millis) -> Result<String> {
        self.tickets
            .issue(caller.who.user, caller.device, now)
            .await
    }

    pub fn ticket_ttl(&self) -> Duration {
        self.tickets.ttl()
    }

    /// Issues an invite code for `user`, valid for `ttl` (the default if `None`).
    pub async fn invite(
        &self,
        by: &Principal,
        user: &UserRecord,
        ttl: Option<Duration>,
        now: Millis,
    ) -> Result<Invite> {
        let ttl = ttl.unwrap_or(self.settings.invite_ttl);
        issue_invite(&self.store, by, user, ttl, now).await
    }

    /// Enrols a device with an invite code.
    pub async fn enrol(
        &self,
        code: &str,
        device_name: &str,
        address: Option<IpAddr>,
        now: Millis,
    ) -> Result<Session> {
        let guessers: Vec<Guesser> = address.map(Guesser::Address).into_iter().collect();
        self.wait_turn(&guessers, now).await?;
        let Some(canonical) = secrets::normalise_invite(code) else {
            self.attempts.failed(&guessers, now).await;
            return Err(AuthError::InviteUnknown);
        };
        let new = NewPhone::new(device_name, later(now, self.settings.refresh_ttl))?;
        let stored = new.clone();
        let redemption = self
            .store
            .redeem_invite(secrets::hash(&canonical), now, move |user| {
                stored.record(user)
            })
            .await?;
        let user = match redemption {
            Redemption::Enrolled(user) => user,
            failed => {
                self.attempts.failed(&guessers, now).await;
                let event = AuditEvent::new(now, "enrolment_failed", format!("{failed:?}"))
                    .address(address);
                self.audit(event).await;
                return Err(match failed {
                    Redemption::AlreadyUsed => AuthError::InviteUsed,
                    Redemption::Expired => AuthError::InviteExpired,
                    _ => AuthError::InviteUnknown,
                });
            }
        };
        self.enrolled(new, user, "enrolled", address, now).await
    }

    /// Enrols a device with a phone number and password.
    pub async fn login(
        &self,
        phone: &str,
        password: &str,
        device_name: &str,
        address: Option<IpAddr>,
        now: Millis,
    ) -> Result<Session> {
        let account = Guesser::Account(phone.to_owned());
        let mut guessers = vec![account.clone()];
        guessers.extend(address.map(Guesser::Address));
        self.wait_turn(&guessers, now).await?;
        let found = self.store.credentials(phone.to_owned()).await?;
        let stored = found.as_ref().and_then(|(_, hash)| hash.clone());
        let matches = secrets::password_matches(password.to_owned(), stored).await;
        let user = match (found, matches) {
            (Some((user, _)), true) => user,
            (found, _) => {
                self.attempts.failed(&guessers, now).await;
                let mut event = AuditEvent::new(now, "login_failed", "wrong phone or password")
                    .address(address);
                if let Some(who) = found.and_then(|(user, _)| self.directory.person(user)) {
                    event = event.by(&who);
                }
                self.audit(event).await;
                return Err(AuthError::BadCredentials);
            }
        };
        self.attempts.succeeded(&account).await;
        let new = NewPhone::new(device_name, later(now, self.settings.refresh_ttl))?;
        self.store.enrol_device(new.record(user), now).await?;
        self.enrolled(new, user, "login", address, now).await
    }

    /// The end of every sign-in: the directory learns the device, the audit log the event,
    /// and the device its tokens.
    async fn enrolled(
        &self,
        new: NewPhone,
        user: UserId,
        event: &str,
        address: Option<IpAddr>,
        now: Millis,
    ) -> Result<Session> {
        self.directory.add_device(new.id, user);
        let session = self.session(user, new.id, new.refresh, new.refresh_expires_at, now)?;
        self.audit(
            AuditEvent::new(now, event, format!("device {:?}", new.name))
                .by(&session.principal)
                .device(Some(new.id))
                .address(address),
        )
        .await;
        Ok(session)
    }

    /// Trades a refresh token for a new pair. Presenting a used token again revokes its
    /// device: one of the two holders is a thief, and the server cannot tell which.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        address: Option<IpAddr>,
        now: Millis,
    ) -> Result<Session> {
        let refreshed = self.rotate(refresh_token, address, now).await;
        self.hub.metrics().refresh(match refreshed {
            Ok(_) => Outcome::Ok,
            Err(_) => Outcome::Failed,
        });
        refreshed
    }

    async fn rotate(
        &self,
        refresh_token: &str,
        address: Option<IpAddr>,
        now: Millis,
    ) -> Result<Session> {
        let guessers: Vec<Guesser> = address.map(Guesser::Address).into_iter().collect();
        self.wait_turn(&guessers, now).await?;
        let replacement = secrets::random_token()?;
        let expires_at = later(now, self.settings.refresh_ttl);
        let rotation = self
            .store
            .rotate_refresh(RefreshRequest {
                presented: secrets::hash(refresh_token),
                replacement: secrets::hash(&replacement),
                now,
                expires_at,
                retry_within_ms: i64::try_from(self.settings.refresh_retry.as_millis())
                    .unwrap_or(0),
            })
            .await?;
        let event = |name: &str, user: UserId, device: DeviceId| {
            let event = AuditEvent::new(now, name, "")
                .device(Some(device))
                .address(address);
            match self.directory.person(user) {
                Some(who) => event.by(&who),
                None => event.user(user),
            }
        };
        match rotation {
            Rotation::Rotated { device, user } => {
                let session = self.session(user, device, replacement, expires_at, now)?;
                self.audit(event("token_refreshed", user, device)).await;
                Ok(session)
            }
            Rotation::Unknown => {
                self.attempts.failed(&guessers, now).await;
                Err(AuthError::RefreshInvalid)
            }
            Rotation::Expired { device, user } => {
                self.audit(event("refresh_expired", user, device)).await;
                Err(AuthError::RefreshExpired)
            }
            Rotation::Revoked { .. } => Err(AuthError::DeviceRevoked),
            Rotation::Reused { device, user } => {
                self.directory.revoke_device(device);
                self.hub.end_sessions_of_device(device).await;
                self.audit(event("refresh_reused", user, device).rule("refresh_reused"))
                    .await;
                Err(AuthError::DeviceRevoked)
            }
        }
    }

    /// Revokes a device: its tokens stop working and its sync connections close.
    pub async fn revoke(&self, device: DeviceId, by: &Principal, now: Millis) -> Result<bool> {
        let revoked = self
            .store
            .revoke_device(device, now, format!("revoked by {}", by.user))
            .await?;
        self.directory.revoke_device(device);
        self.hub.end_sessions_of_device(device).await;
        if revoked {
            let owner = self
                .directory
                .device(device)
                .and_then(|entry| self.directory.person(entry.user));
            let mut event = AuditEvent::new(now, "device_revoked", format!("device {device}"))
                .device(Some(device));
            if let Some(owner) = owner {
                event = event.concerning(owner.branch, owner.township);
            }
            self.audit(event.by(by)).await;
        }
        Ok(revoked)
    }

    async fn wait_turn(&self, guessers: &[Guesser], now: Millis) -> Result<()> {
        self.attempts
            .check(guessers, now)
            .await
            .map_err(AuthError::TooManyAttempts)
    }

    fn session(
        &self,
        user: UserId,
        device: DeviceId,
        refresh_token: String,
        refresh_expires_at: Millis,
        now: Millis,
    ) -> Result<Session> {
        let principal = self
            .directory
            .person(user)
            .ok_or(AuthError::RefreshInvalid)?;
        let access_expires_at = later(now, self.settings.access_ttl);
        let seconds = |at: Millis| u64::try_from(at.0 / 1000).unwrap_or(0);
        let claims = Claims {
            sub: user,
            dev: device,
            role: principal.role,
            branch: principal.branch,
            township: principal.township,
            iat: seconds(now),
            exp: seconds(access_expires_at),
        };
        let access_token = self
            .keys
            .issue(&claims)
            .map_err(|_| AuthError::TokenInvalid)?;
        Ok(Session {
            user,
            device,
            principal,
            access_token,
            access_expires_at,
            refresh_token,
            refresh_expires_at,
        })
    }

    /// Records an event; a failure to is logged, and does not fail what was audited.
    pub async fn audit(&self, event: AuditEvent) {
        if let Err(error) = self.store.audit(event).await {
            tracing::error!(%error, "cannot write the audit log");
        }
    }
}
