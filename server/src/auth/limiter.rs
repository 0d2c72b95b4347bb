//! Failed logins, counted per username and per client address over a sliding window (in
//! memory: one server per database). Past the limit, logins are refused without checking the
//! password until the oldest failure leaves the window.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const PER_USER: usize = 5;
pub const PER_ADDRESS: usize = 20;

#[derive(Default)]
pub struct LoginLimiter {
    users: Mutex<HashMap<String, VecDeque<Instant>>>,
    addresses: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

/// Drops failures older than the window; `Some(wait)` if `limit` failures remain.
fn blocked(failures: &mut VecDeque<Instant>, limit: usize, now: Instant) -> Option<Duration> {
    while failures
        .front()
        .is_some_and(|at| now.duration_since(*at) >= WINDOW)
    {
        failures.pop_front();
    }
    (failures.len() >= limit).then(|| WINDOW - now.duration_since(failures[0]))
}

impl LoginLimiter {
    /// How long until this user and address may try again, if they may not now.
    pub fn wait_for(&self, username: &str, address: Option<IpAddr>) -> Option<Duration> {
        let now = Instant::now();
        let by_user = {
            let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
            users
                .get_mut(username)
                .and_then(|failures| blocked(failures, PER_USER, now))
        };
        let by_address = address.and_then(|address| {
            let mut addresses = self.addresses.lock().unwrap_or_else(|p| p.into_inner());
            addresses
                .get_mut(&address)
                .and_then(|failures| blocked(failures, PER_ADDRESS, now))
        });
        by_user.max(by_address)
    }

    pub fn failed(&self, username: &str, address: Option<IpAddr>) {
        let now = Instant::now();
        self.users
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(username.to_string())
            .or_default()
            .push_back(now);
        if let Some(address) = address {
            self.addresses
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(address)
                .or_default()
                .push_back(now);
        }
    }

    /// A successful login clears the user's failures (not the address's: one good password
    /// must not reset a guesser working through many accounts).
    pub fn succeeded(&self, username: &str) {
        self.users
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(username);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_blocked_after_the_limit_and_an_address_after_its_own() {
        let limiter = LoginLimiter::default();
        let address: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..PER_USER - 1 {
            limiter.failed("alice", Some(address));
        }
        assert!(limiter.wait_for("alice", Some(address)).is_none());
        limiter.failed("alice", Some(address));
        let wait = limiter.wait_for("alice", None).unwrap();
        assert!(wait > WINDOW - Duration::from_secs(5) && wait <= WINDOW);
        // Another user from elsewhere is not affected.
        assert!(limiter.wait_for("bob", None).is_none());
        // The address is blocked for every user once it reaches its own limit.
        for i in 0..PER_ADDRESS - PER_USER {
            limiter.failed(&format!("user{i}"), Some(address));
        }
        assert!(limiter.wait_for("bob", Some(address)).is_some());
        limiter.succeeded("alice");
        assert!(limiter.wait_for("alice", None).is_none());
    }
}
