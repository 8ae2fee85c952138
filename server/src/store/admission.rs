//! What lets a phone in, kept where every node of the server sees it: single-use sync tickets
//! (a browser's WebSocket cannot carry a token) and the failed sign-ins counted against an
//! account or a network address. Held in the database, not in one process's memory, so that a
//! ticket issued by one node opens a connection on another, and guessing spread over nodes is
//! counted once.

use super::sql::{OptionalExtension, params};
use client_core::{DeviceId, Millis, UserId};

use super::{Result, SecretHash, Store, parse};

impl Store {
    /// Keeps a sync ticket (its hash) for `device` of `user` until `expires_at`; tickets
    /// already past go.
    pub async fn put_sync_ticket(
        &self,
        ticket: SecretHash,
        user: UserId,
        device: DeviceId,
        expires_at: Millis,
        now: Millis,
    ) -> Result<()> {
        self.call(move |connection| {
            let tx = connection.transaction()?;
            tx.execute("DELETE FROM sync_tickets WHERE expires_at <= ?1", [now.0])?;
            tx.execute(
                "INSERT INTO sync_tickets (ticket, \"user\", device, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![ticket.as_slice(), user.to_string(), device.to_string(), expires_at.0],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Uses a ticket up: whose it was, if it was kept and is still fresh at `now`. Taking it
    /// and deleting it is one statement, so two connections cannot both open with it.
    pub async fn take_sync_ticket(
        &self,
        ticket: SecretHash,
        now: Millis,
    ) -> Result<Option<(UserId, DeviceId)>> {
        self.call(move |connection| {
            let taken: Option<(String, String, i64)> = connection
                .query_row(
                    "DELETE FROM sync_tickets WHERE ticket = ?1 RETURNING \"user\", device, expires_at",
                    [ticket.as_slice()],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .optional()?;
            let Some((user, device, expires_at)) = taken else {
                return Ok(None);
            };
            if expires_at <= now.0 {
                return Ok(None);
            }
            Ok(Some((
                parse(&user, "ticket user")?,
                parse(&device, "ticket device")?,
            )))
        })
        .await
    }

    /// For each of `guessers` (a key and how many failures it may have), the failures it has
    /// in the window open at `now`, if that window began less than `window_ms` ago: the
    /// longest wait, in milliseconds, among those at their limit.
    pub async fn sign_in_wait(
        &self,
        guessers: Vec<(String, u32)>,
        window_ms: i64,
        now: Millis,
    ) -> Result<Option<i64>> {
        self.call(move |connection| {
            let mut statement = connection
                .prepare("SELECT started, failures FROM sign_in_failures WHERE guesser = ?1")?;
            let mut wait: Option<i64> = None;
            for (guesser, limit) in guessers {
                let found: Option<(i64, i64)> = statement
                    .query_row([&guesser], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()?;
                if let Some((started, failures)) = found {
                    let ends = started + window_ms;
                    if failures >= i64::from(limit) && ends > now.0 {
                        wait = Some(wait.unwrap_or(0).max(ends - now.0));
                    }
                }
            }
            Ok(wait)
        })
        .await
    }

    /// Counts a failure against each of `guessers`: a window past `window_ms` starts again.
    /// Windows long past go, so a flood of addresses leaves nothing behind.
    pub async fn sign_in_failed(
        &self,
        guessers: Vec<String>,
        window_ms: i64,
        now: Millis,
    ) -> Result<()> {
        self.call(move |connection| {
            let tx = connection.transaction()?;
            tx.execute(
                "DELETE FROM sign_in_failures WHERE started <= ?1",
                [now.0 - window_ms],
            )?;
            for guesser in guessers {
                tx.execute(
                    "INSERT INTO sign_in_failures (guesser, started, failures) VALUES (?1, ?2, 1)
                     ON CONFLICT (guesser) DO UPDATE SET
                         failures = CASE WHEN sign_in_failures.started + ?3 <= ?2 THEN 1
                                    ELSE sign_in_failures.failures + 1 END,
                         started = CASE WHEN sign_in_failures.started + ?3 <= ?2 THEN ?2
                                   ELSE sign_in_failures.started END",
                    params![guesser, now.0, window_ms],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Forgets the failures against `guesser`, an account that has now signed in.
    pub async fn sign_in_succeeded(&self, guesser: String) -> Result<()> {
        self.call(move |connection| {
            connection.execute("DELETE FROM sign_in_failures WHERE guesser = ?1", [guesser])?;
            Ok(())
        })
        .await
    }
}
