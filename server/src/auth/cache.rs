//! Recently resolved credentials, so a busy client (a script polling the list, the dashboard's
//! calls) does not cost a database round trip per request. Everything that ends or changes a
//! credential in this process (logout, revoke, a user disabled, demoted, given a new password or
//! deleted) removes the user's entries at once; entries also age out, for changes made outside.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use app::auth::Role;
use chrono::{DateTime, Utc};

/// How long a resolved credential is trusted without asking the database again.
const FRESH_FOR: Duration = Duration::from_secs(30);
/// Past this many entries the cache starts over (a bound, not a tuning knob).
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone)]
pub struct CachedCredential {
    pub username: String,
    pub role: Role,
    pub is_session: bool,
    /// When the session or token stops working, if it does.
    pub expires_at: Option<DateTime<Utc>>,
    cached_at: Instant,
}

impl CachedCredential {
    pub fn new(
        username: String,
        role: Role,
        is_session: bool,
        expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            username,
            role,
            is_session,
            expires_at,
            cached_at: Instant::now(),
        }
    }
}

#[derive(Default)]
pub struct CredentialCache(Mutex<HashMap<String, CachedCredential>>);

impl CredentialCache {
    /// The credential with this secret hash, if cached, fresh and not expired.
    pub fn get(&self, hash: &str) -> Option<CachedCredential> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let entry = map.get(hash)?;
        let usable = entry.cached_at.elapsed() < FRESH_FOR
            && entry.expires_at.is_none_or(|at| at > Utc::now());
        if usable {
            Some(entry.clone())
        } else {
            map.remove(hash);
            None
        }
    }

    pub fn put(&self, hash: String, credential: CachedCredential) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(hash, credential);
    }

    pub fn forget(&self, hash: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(hash);
    }

    /// Every credential of this user (their account changed).
    pub fn forget_user(&self, username: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, credential| credential.username != username);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_are_forgotten_per_user() {
        let cache = CredentialCache::default();
        let alice = CachedCredential::new("alice".into(), Role::User, true, None);
        cache.put("a1".into(), alice.clone());
        cache.put("a2".into(), alice);
        cache.put(
            "b1".into(),
            CachedCredential::new("bob".into(), Role::User, false, None),
        );
        let expired = CachedCredential::new(
            "carol".into(),
            Role::User,
            true,
            Some(Utc::now() - chrono::TimeDelta::seconds(1)),
        );
        cache.put("c1".into(), expired);
        assert!(cache.get("a1").is_some());
        assert!(
            cache.get("c1").is_none(),
            "an expired session is not served"
        );
        cache.forget_user("alice");
        assert!(cache.get("a1").is_none() && cache.get("a2").is_none());
        assert!(cache.get("b1").is_some());
        cache.forget("b1");
        assert!(cache.get("b1").is_none());
    }
}
