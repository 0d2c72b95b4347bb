//! Failed logins, counted per username and per client address over a sliding window (in
//! memory: one server per database). Past the limit, logins are refused without checking the
//! password until the oldest failure leaves the window.
//!
//! An attempt counts as a failure from the moment it starts, before its password is checked,
//! so many attempts sent at once are counted as they arrive, not after each one's hash; a
//! success takes its own count back.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const PER_USER: usize = 5;
pub const PER_ADDRESS: usize = 20;
/// Past this many keys, keys with no failure left in the window are dropped.
const SWEEP_ABOVE: usize = 10_000;

/// Failures per key within the window, and whether the current refusal was already reported.
#[derive(Default)]
struct Failures {
    at: VecDeque<Instant>,
    refusal_reported: bool,
}

struct Counter<K> {
    keys: Mutex<HashMap<K, Failures>>,
    limit: usize,
}

impl<K: Hash + Eq + Clone> Counter<K> {
    fn new(limit: usize) -> Self {
        Self {
            keys: Mutex::new(HashMap::new()),
            limit,
        }
    }

    /// `Some(wait)` if `key` is at its limit now.
    fn blocked(failures: &mut Failures, limit: usize, now: Instant) -> Option<Duration> {
        while failures
            .at
            .front()
            .is_some_and(|at| now.duration_since(*at) >= WINDOW)
        {
            failures.at.pop_front();
        }
        if failures.at.len() < limit {
            failures.refusal_reported = false;
            return None;
        }
        Some(WINDOW - now.duration_since(failures.at[0]))
    }

    /// Refused (how long to wait, and whether this is the first refusal of the streak), or
    /// counted as a failure until [`Counter::forgive`].
    fn begin(&self, key: &K, now: Instant) -> Result<(), (Duration, bool)> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if keys.len() > SWEEP_ABOVE {
            keys.retain(|_, failures| {
                failures
                    .at
                    .back()
                    .is_some_and(|at| now.duration_since(*at) < WINDOW)
            });
        }
        let failures = keys.entry(key.clone()).or_default();
        if let Some(wait) = Self::blocked(failures, self.limit, now) {
            let first = !failures.refusal_reported;
            failures.refusal_reported = true;
            return Err((wait, first));
        }
        failures.at.push_back(now);
        Ok(())
    }

    /// Takes back the count of one attempt that succeeded.
    fn forgive_one(&self, key: &K) {
        if let Some(failures) = self
            .keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(key)
        {
            failures.at.pop_back();
        }
    }

    fn clear(&self, key: &K) {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// Why an attempt may not go ahead now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub wait: Duration,
    /// The first refusal since the limit was reached (worth an audit entry; the rest are not).
    pub first: bool,
}

pub struct LoginLimiter {
    users: Counter<String>,
    addresses: Counter<IpAddr>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self {
            users: Counter::new(PER_USER),
            addresses: Counter::new(PER_ADDRESS),
        }
    }
}

impl LoginLimiter {
    /// Counts an attempt for this user and address as failed unless it is refused outright.
    pub fn begin(&self, username: &str, address: Option<IpAddr>) -> Result<(), Refused> {
        let now = Instant::now();
        if let Some(address) = address {
            self.addresses
                .begin(&address, now)
                .map_err(|(wait, first)| Refused { wait, first })?;
        }
        self.users
            .begin(&username.to_string(), now)
            .map_err(|(wait, first)| {
                // Not tried after all: the address's count for it goes back.
                if let Some(address) = address {
                    self.addresses.forgive_one(&address);
                }
                Refused { wait, first }
            })
    }

    /// A first-admin setup attempt: counted per address only (a username is not involved).
    pub fn begin_setup(&self, address: Option<IpAddr>) -> Result<(), Refused> {
        match address {
            Some(address) => self
                .addresses
                .begin(&address, Instant::now())
                .map_err(|(wait, first)| Refused { wait, first }),
            None => Ok(()),
        }
    }

    /// A successful login clears the user's failures and takes back this attempt's count for the
    /// address (not the address's earlier failures: one good password must not reset a guesser
    /// working through many accounts).
    pub fn succeeded(&self, username: &str, address: Option<IpAddr>) {
        self.users.clear(&username.to_string());
        if let Some(address) = address {
            self.addresses.forgive_one(&address);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_blocked_after_the_limit_and_an_address_after_its_own() {
        let limiter = LoginLimiter::default();
        let address: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..PER_USER {
            limiter.begin("alice", Some(address)).unwrap();
        }
        let refused = limiter.begin("alice", Some(address)).unwrap_err();
        assert!(refused.first);
        assert!(refused.wait > WINDOW - Duration::from_secs(5) && refused.wait <= WINDOW);
        assert!(
            !limiter.begin("alice", None).unwrap_err().first,
            "reported once"
        );
        // Another user from elsewhere is not affected.
        assert!(limiter.begin("bob", None).is_ok());
        // The address is blocked for every user once it reaches its own limit.
        for i in 0..PER_ADDRESS - PER_USER {
            limiter.begin(&format!("user{i}"), Some(address)).unwrap();
        }
        assert!(limiter.begin("carol", Some(address)).is_err());
        limiter.succeeded("alice", None);
        assert!(limiter.begin("alice", None).is_ok());
    }

    #[test]
    fn attempts_count_when_they_start_and_a_success_takes_its_count_back() {
        let limiter = LoginLimiter::default();
        let address: IpAddr = "192.0.2.2".parse().unwrap();
        // Many attempts at once: only the first PER_USER get to check a password.
        let started = (0..50)
            .filter(|_| limiter.begin("alice", Some(address)).is_ok())
            .count();
        assert_eq!(started, PER_USER);
        // Logging in successfully many times from one address never blocks it.
        let home: IpAddr = "192.0.2.3".parse().unwrap();
        for _ in 0..PER_ADDRESS * 2 {
            limiter.begin("bob", Some(home)).unwrap();
            limiter.succeeded("bob", Some(home));
        }
    }
}
