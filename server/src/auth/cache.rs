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
/// At most this many entries (a bound on memory; stale ones are dropped first, and past it new
/// credentials are simply not cached).
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone)]
pub struct CachedCredential {
    pub username: String,
    pub role: Role,
    pub is_session: bool,
    /// When the session or token stops working, if it does.
    pub expires_at: Option<DateTime<Utc>>,
    /// The user's dashboard language (a change forgets the user's entries).
    pub language: Option<String>,
    cached_at: Instant,
}

impl CachedCredential {
    pub fn new(
        username: String,
        role: Role,
        is_session: bool,
        expires_at: Option<DateTime<Utc>>,
        language: Option<String>,
    ) -> Self {
        Self {
            username,
            role,
            is_session,
            expires_at,
            language,
            cached_at: Instant::now(),
        }
    }
}

#[derive(Default)]
struct Entries {
    by_hash: HashMap<String, CachedCredential>,
    /// Counts every removal: a lookup that started before one must not cache its answer (it
    /// may be of a credential ended meanwhile).
    removals: u64,
}

#[derive(Default)]
pub struct CredentialCache(Mutex<Entries>);

/// When a lookup started, for [`CredentialCache::put_unless_removed_since`].
#[derive(Debug, Clone, Copy)]
pub struct Stamp(u64);

impl CredentialCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The credential with this secret hash, if cached, fresh and not expired.
    pub fn get(&self, hash: &str) -> Option<CachedCredential> {
        let mut entries = self.entries();
        let entry = entries.by_hash.get(hash)?;
        let usable = entry.cached_at.elapsed() < FRESH_FOR
            && entry.expires_at.is_none_or(|at| at > Utc::now());
        if usable {
            Some(entry.clone())
        } else {
            entries.by_hash.remove(hash);
            None
        }
    }

    /// Take before asking the database.
    pub fn stamp(&self) -> Stamp {
        Stamp(self.entries().removals)
    }

    /// Caches what the database said, unless something was removed since `stamp`.
    pub fn put_unless_removed_since(
        &self,
        stamp: Stamp,
        hash: String,
        credential: CachedCredential,
    ) {
        let mut entries = self.entries();
        if entries.removals != stamp.0 {
            return;
        }
        if entries.by_hash.len() >= MAX_ENTRIES {
            entries
                .by_hash
                .retain(|_, c| c.cached_at.elapsed() < FRESH_FOR);
        }
        if entries.by_hash.len() < MAX_ENTRIES {
            entries.by_hash.insert(hash, credential);
        }
    }

    /// Updates an entry in place (a renewed session), if it is still there.
    pub fn renewed(&self, hash: &str, expires_at: DateTime<Utc>) {
        if let Some(entry) = self.entries().by_hash.get_mut(hash) {
            entry.expires_at = Some(expires_at);
        }
    }

    pub fn forget(&self, hash: &str) {
        let mut entries = self.entries();
        entries.by_hash.remove(hash);
        entries.removals += 1;
    }

    /// Every credential of this user (their account changed).
    pub fn forget_user(&self, username: &str) {
        let mut entries = self.entries();
        entries
            .by_hash
            .retain(|_, credential| credential.username != username);
        entries.removals += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(cache: &CredentialCache, hash: &str, credential: CachedCredential) {
        cache.put_unless_removed_since(cache.stamp(), hash.into(), credential);
    }

    #[test]
    fn entries_expire_and_are_forgotten_per_user() {
        let cache = CredentialCache::default();
        let alice = CachedCredential::new("alice".into(), Role::User, true, None, None);
        put(&cache, "a1", alice.clone());
        put(&cache, "a2", alice);
        put(
            &cache,
            "b1",
            CachedCredential::new("bob".into(), Role::User, false, None, None),
        );
        let expired = CachedCredential::new(
            "carol".into(),
            Role::User,
            true,
            Some(Utc::now() - chrono::TimeDelta::seconds(1)),
            None,
        );
        put(&cache, "c1", expired);
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

    #[test]
    fn a_lookup_overtaken_by_a_removal_is_not_cached() {
        let cache = CredentialCache::default();
        let stamp = cache.stamp();
        // Meanwhile the session is logged out…
        cache.forget("a1");
        // …so what the lookup read before that must not be cached.
        let alice = CachedCredential::new("alice".into(), Role::User, true, None, None);
        cache.put_unless_removed_since(stamp, "a1".into(), alice);
        assert!(cache.get("a1").is_none());
    }
}
