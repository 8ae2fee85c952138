//! Slowing down guessing: failed sign-ins counted per account and per network address.
//!
//! Once a key has failed too often within the window, every attempt under it is refused
//! until the window has passed, right or wrong: otherwise guessing could simply go on.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// The failures counted so far.
#[derive(Debug)]
pub struct Attempts {
    limits: AttemptLimits,
    windows: Mutex<HashMap<Guesser, Window>>,
}

/// The most keys kept before old windows are swept out, bounding memory under a flood.
const SWEEP_AT: usize = 100_000;

impl Attempts {
    pub fn new(limits: AttemptLimits) -> Attempts {
        Attempts {
            limits,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn limit(&self, guesser: &Guesser) -> u32 {
        match guesser {
            Guesser::Account(_) => self.limits.per_account,
            Guesser::Address(_) => self.limits.per_address,
        }
    }

    /// `Err(wait)` if any of `guessers` must wait before trying again.
    pub fn check(&self, guessers: &[Guesser]) -> Result<(), Duration> {
        let Ok(windows) = self.windows.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        let wait = guessers
            .iter()
            .filter_map(|guesser| {
                let window = windows.get(guesser)?;
                let ends = window.started + self.limits.window;
                (window.failures >= self.limit(guesser) && ends > now).then(|| ends - now)
            })
            .max();
        match wait {
            Some(wait) => Err(wait.max(Duration::from_secs(1))),
            None => Ok(()),
        }
    }

    /// Counts a failure against each of `guessers`.
    pub fn failed(&self, guessers: &[Guesser]) {
        let Ok(mut windows) = self.windows.lock() else {
            return;
        };
        let now = Instant::now();
        if windows.len() >= SWEEP_AT {
            let window = self.limits.window;
            windows.retain(|_, w| w.started + window > now);
        }
        for guesser in guessers {
            let window = windows.entry(guesser.clone()).or_insert(Window {
                started: now,
                failures: 0,
            });
            if window.started + self.limits.window <= now {
                *window = Window {
                    started: now,
                    failures: 0,
                };
            }
            window.failures += 1;
        }
    }

    /// Forgets the failures against an account that has now signed in.
    pub fn succeeded(&self, account: &Guesser) {
        if let Ok(mut windows) = self.windows.lock() {
            windows.remove(account);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_locked_after_its_limit_and_others_are_not() {
        let attempts = Attempts::new(AttemptLimits {
            per_account: 3,
            per_address: 5,
            window: Duration::from_secs(60),
        });
        let li = Guesser::Account("13800000001".into());
        let zhao = Guesser::Account("13800000002".into());
        let address = Guesser::Address([10, 0, 0, 7].into());
        for _ in 0..3 {
            assert!(attempts.check(&[li.clone(), address.clone()]).is_ok());
            attempts.failed(&[li.clone(), address.clone()]);
        }
        let wait = attempts.check(&[li.clone(), address.clone()]).unwrap_err();
        assert!(wait <= Duration::from_secs(60) && wait >= Duration::from_secs(1));
        assert!(attempts.check(&[zhao.clone(), address.clone()]).is_ok());
        attempts.failed(&[zhao.clone(), address.clone()]);
        attempts.failed(&[zhao.clone(), address.clone()]);
        // The address has now failed five times, whichever account it tried.
        assert!(
            attempts
                .check(&[Guesser::Account("x".into()), address])
                .is_err()
        );
        attempts.succeeded(&li);
        assert!(attempts.check(&[li]).is_ok());
    }
}
