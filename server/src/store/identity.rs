//! Devices, their refresh tokens, invite codes and registered actors.
//!
//! Secrets are stored only as hashes: a copy of the database gives nobody a way in. Every
//! decision that reads and then changes a secret's state (redeeming an invite, rotating a
//! refresh token) happens in one transaction, so two requests racing with the same secret
//! cannot both win.

use super::sql::{Db, OptionalExtension, params};
use automerge::ActorId;
use client_core::{DeviceId, Millis, UserId};

use super::{Result, Store, parse};

/// The SHA-256 of a secret (a refresh token, an invite code).
pub type SecretHash = [u8; 32];

/// An enrolled device, as an admin sees it in the list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceRecord {
    pub id: DeviceId,
    pub user: UserId,
    pub name: String,
    pub enrolled_at: Millis,
    pub last_seen_at: Millis,
    pub revoked_at: Option<Millis>,
    pub revoked_because: Option<String>,
}

/// A new device and the refresh token it starts with.
#[derive(Debug, Clone)]
pub struct NewDevice {
    pub id: DeviceId,
    pub user: UserId,
    pub name: String,
    pub refresh: SecretHash,
    pub refresh_expires_at: Millis,
}

/// What became of an invite code someone tried to redeem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redemption {
    /// The device is enrolled for this person.
    Enrolled(UserId),
    Unknown,
    AlreadyUsed,
    Expired,
}

/// What became of a refresh token someone presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The token was good: the new one replaces it.
    Rotated {
        device: DeviceId,
        user: UserId,
    },
    Unknown,
    Expired {
        device: DeviceId,
        user: UserId,
    },
    /// The device had been revoked.
    Revoked {
        device: DeviceId,
        user: UserId,
    },
    /// The token had been used before: someone holds a copy, so the device is now revoked.
    Reused {
        device: DeviceId,
        user: UserId,
    },
}

/// How a refresh is asked for.
#[derive(Debug, Clone, Copy)]
pub struct RefreshRequest {
    pub presented: SecretHash,
    pub replacement: SecretHash,
    pub now: Millis,
    pub expires_at: Millis,
    /// A token used this recently, whose replacement has never been used, may be presented
    /// again: the answer to the first request was lost on a bad connection.
    pub retry_within_ms: i64,
}

impl Store {
    /// Stores an invite code's hash.
    pub async fn create_invite(
        &self,
        code: SecretHash,
        user: UserId,
        issued_by: UserId,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()> {
        self.call(move |connection| {
            connection.execute(
                "INSERT INTO invites (hash, \"user\", issued_by, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![code, user.to_string(), issued_by.to_string(), now.0, expires_at.0],
            )?;
            Ok(())
        })
        .await
    }

    /// Redeems an invite code: if it is good, enrols `device` for its person, in one
    /// transaction.
    pub async fn redeem_invite(
        &self,
        code: SecretHash,
        now: Millis,
        device: impl FnOnce(UserId) -> NewDevice + Send + 'static,
    ) -> Result<Redemption> {
        self.call(move |connection| {
            let tx = connection.transaction()?;
            let row: Option<(String, i64, Option<i64>)> = tx
                .query_row(
                    "SELECT \"user\", expires_at, redeemed_at FROM invites WHERE hash = ?1",
                    [code],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .optional()?;
            let Some((user, expires_at, redeemed_at)) = row else {
                return Ok(Redemption::Unknown);
            };
            if redeemed_at.is_some() {
                return Ok(Redemption::AlreadyUsed);
            }
            if expires_at <= now.0 {
                return Ok(Redemption::Expired);
            }
            let user: UserId = parse(&user, "invited user")?;
            let device = device(user);
            insert_device(&tx, &device, now)?;
            tx.execute(
                "UPDATE invites SET redeemed_at = ?2, device = ?3 WHERE hash = ?1",
                params![code, now.0, device.id.to_string()],
            )?;
            tx.commit()?;
            Ok(Redemption::Enrolled(user))
        })
        .await
    }

    /// Enrols a device for a person who signed in with a password.
    pub async fn enrol_device(&self, device: NewDevice, now: Millis) -> Result<()> {
        self.call(move |connection| {
            let tx = connection.transaction()?;
            insert_device(&tx, &device, now)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Rotates a refresh token, detecting reuse.
    pub async fn rotate_refresh(&self, request: RefreshRequest) -> Result<Rotation> {
        self.call(move |connection| {
            let tx = connection.transaction()?;
            let rotation = rotate(&tx, &request)?;
            tx.commit()?;
            Ok(rotation)
        })
        .await
    }

    /// Revokes a device and every refresh token it holds. Returns whether it was active.
    pub async fn revoke_device(
        &self,
        device: DeviceId,
        now: Millis,
        because: String,
    ) -> Result<bool> {
        self.call(move |connection| revoke(connection, device, now, &because))
            .await
    }

    pub async fn device(&self, device: DeviceId) -> Result<Option<DeviceRecord>> {
        self.call(move |connection| {
            let mut found = devices_where(connection, "id = ?1", &device.to_string())?;
            Ok(found.pop())
        })
        .await
    }

    /// A person's devices, newest first.
    pub async fn devices_of(&self, user: UserId) -> Result<Vec<DeviceRecord>> {
        self.call(move |connection| devices_where(connection, "\"user\" = ?1", &user.to_string()))
            .await
    }

    /// Every device, revoked or not, for the directory.
    pub async fn all_devices(&self) -> Result<Vec<DeviceRecord>> {
        self.call(|connection| devices_where(connection, "?1 = ?1", ""))
            .await
    }

    /// What tells the directory whether any device changed since it last read them all:
    /// how many devices there are and how many of them are revoked. A device is only ever
    /// enrolled or revoked (once, never undone), so each change the directory keeps moves one
    /// of the two; reading them is a count, where reading every device is a row a device.
    pub async fn devices_fingerprint(&self) -> Result<(i64, i64)> {
        self.read(|connection| {
            connection.query_row(
                "SELECT count(*), count(revoked_at) FROM devices",
                (),
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
        })
        .await
    }

    /// Notes that a device was seen (it refreshed its token).
    pub async fn device_seen(&self, device: DeviceId, now: Millis) -> Result<()> {
        self.call(move |connection| {
            connection.execute(
                "UPDATE devices SET last_seen_at = ?2 WHERE id = ?1",
                params![device.to_string(), now.0],
            )?;
            Ok(())
        })
        .await
    }

    /// Registers actors a device writes with for its person. An actor already registered
    /// to someone else is not taken over: the answer lists those, and registers none.
    pub async fn register_actors(
        &self,
        user: UserId,
        device: DeviceId,
        actors: Vec<ActorId>,
        now: Millis,
    ) -> Result<Vec<ActorId>> {
        self.call(move |connection| {
            let tx = connection.transaction()?;
            let mut taken = Vec::new();
            for actor in &actors {
                let owner: Option<String> = tx
                    .query_row(
                        "SELECT \"user\" FROM actors WHERE actor = ?1",
                        [actor.to_bytes()],
                        |row| row.get(0),
                    )
                    .optional()?;
                match owner {
                    Some(owner) if owner != user.to_string() => taken.push(actor.clone()),
                    Some(_) => {}
                    None => {
                        tx.execute(
                            "INSERT INTO actors (actor, \"user\", bound_at, device) VALUES (?1, ?2, ?3, ?4)",
                            params![actor.to_bytes(), user.to_string(), now.0, device.to_string()],
                        )?;
                    }
                }
            }
            if taken.is_empty() {
                tx.commit()?;
            }
            Ok(taken)
        })
        .await
    }

    /// Sets or replaces a person's password hash (argon2id, PHC string).
    pub async fn set_password(&self, user: UserId, hash: String) -> Result<()> {
        self.call(move |connection| {
            connection.execute(
                "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                params![user.to_string(), hash],
            )?;
            Ok(())
        })
        .await
    }

    /// The person with this phone number and their password hash, if any.
    pub async fn credentials(&self, phone: String) -> Result<Option<(UserId, Option<String>)>> {
        self.call(move |connection| {
            let row: Option<(String, Option<String>)> = connection
                .query_row(
                    "SELECT id, password_hash FROM users WHERE phone = ?1",
                    [phone],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            row.map(|(id, hash)| Ok((parse(&id, "user id")?, hash)))
                .transpose()
        })
        .await
    }

    /// A person's password hash.
    pub async fn password_hash(&self, user: UserId) -> Result<Option<String>> {
        self.call(move |connection| {
            Ok(connection
                .query_row(
                    "SELECT password_hash FROM users WHERE id = ?1",
                    [user.to_string()],
                    |row| row.get(0),
                )
                .optional()?
                .flatten())
        })
        .await
    }
}

fn insert_device(tx: &Db, device: &NewDevice, now: Millis) -> Result<()> {
    tx.execute(
        "INSERT INTO devices (id, \"user\", name, enrolled_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![
            device.id.to_string(),
            device.user.to_string(),
            device.name,
            now.0
        ],
    )?;
    tx.execute(
        "INSERT INTO refresh_tokens (hash, device, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![
            device.refresh,
            device.id.to_string(),
            now.0,
            device.refresh_expires_at.0
        ],
    )?;
    Ok(())
}

fn rotate(tx: &Db, request: &RefreshRequest) -> Result<Rotation> {
    type Row = (
        String,
        String,
        i64,
        Option<i64>,
        Option<Vec<u8>>,
        Option<i64>,
    );
    let row: Option<Row> = tx
        .query_row(
            "SELECT t.device, d.\"user\", t.expires_at, t.used_at, t.replaced_by, d.revoked_at
             FROM refresh_tokens t JOIN devices d ON d.id = t.device WHERE t.hash = ?1",
            [request.presented],
            |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            },
        )
        .optional()?;
    let Some((device, user, expires_at, used_at, replaced_by, revoked_at)) = row else {
        return Ok(Rotation::Unknown);
    };
    let (device, user): (DeviceId, UserId) = (parse(&device, "device")?, parse(&user, "user")?);
    if revoked_at.is_some() {
        return Ok(Rotation::Revoked { device, user });
    }
    if let Some(used_at) = used_at {
        let successor_unused = match &replaced_by {
            Some(successor) => tx
                .query_row(
                    "SELECT used_at IS NULL FROM refresh_tokens WHERE hash = ?1",
                    [successor],
                    |row| row.get::<_, bool>(0),
                )
                .optional()?
                .unwrap_or(false),
            None => false,
        };
        if request.now.0 - used_at > request.retry_within_ms || !successor_unused {
            revoke(tx, device, request.now, "refresh token reused")?;
            return Ok(Rotation::Reused { device, user });
        }
        // A retry: the successor was never received, so it is retired unused.
        tx.execute(
            "UPDATE refresh_tokens SET used_at = ?2 WHERE hash = ?1",
            params![replaced_by, request.now.0],
        )?;
    } else if expires_at <= request.now.0 {
        return Ok(Rotation::Expired { device, user });
    }
    tx.execute(
        "UPDATE refresh_tokens SET used_at = COALESCE(used_at, ?2), replaced_by = ?3 WHERE hash = ?1",
        params![request.presented, request.now.0, request.replacement],
    )?;
    tx.execute(
        "INSERT INTO refresh_tokens (hash, device, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![
            request.replacement,
            device.to_string(),
            request.now.0,
            request.expires_at.0
        ],
    )?;
    tx.execute(
        "UPDATE devices SET last_seen_at = ?2 WHERE id = ?1",
        params![device.to_string(), request.now.0],
    )?;
    Ok(Rotation::Rotated { device, user })
}

fn revoke(connection: &Db, device: DeviceId, now: Millis, because: &str) -> Result<bool> {
    let changed = connection.execute(
        "UPDATE devices SET revoked_at = ?2, revoked_because = ?3 WHERE id = ?1 AND revoked_at IS NULL",
        params![device.to_string(), now.0, because],
    )?;
    connection.execute(
        "UPDATE refresh_tokens SET used_at = COALESCE(used_at, ?2) WHERE device = ?1",
        params![device.to_string(), now.0],
    )?;
    Ok(changed > 0)
}

fn devices_where(connection: &Db, clause: &str, value: &str) -> Result<Vec<DeviceRecord>> {
    let mut statement = connection.prepare(&format!(
        "SELECT id, \"user\", name, enrolled_at, last_seen_at, revoked_at, revoked_because
         FROM devices WHERE {clause} ORDER BY enrolled_at DESC, id"
    ))?;
    let mut rows = statement.query([value])?;
    let mut devices = Vec::new();
    while let Some(row) = rows.next()? {
        let (id, user): (String, String) = (row.get(0)?, row.get(1)?);
        devices.push(DeviceRecord {
            id: parse(&id, "device id")?,
            user: parse(&user, "device user")?,
            name: row.get(2)?,
            enrolled_at: Millis(row.get(3)?),
            last_seen_at: Millis(row.get(4)?),
            revoked_at: row.get::<_, Option<i64>>(5)?.map(Millis),
            revoked_because: row.get(6)?,
        });
    }
    Ok(devices)
}
