//! Locks by key: work on one key (a VM, a user's quota) runs one at a time, different keys in
//! parallel. A key's entry lives only while someone holds or awaits its lock, so keys nobody
//! uses any more (a deleted VM, a made-up id a client sent) take no memory.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

type Entries<K> = Arc<Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>>;

pub struct KeyedLocks<K>(Entries<K>);

impl<K> Default for KeyedLocks<K> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

/// Holds one key's lock; dropping it lets the next holder in, and removes the key's entry if
/// nobody else holds or awaits it.
pub struct KeyedGuard<K: Hash + Eq> {
    guard: Option<OwnedMutexGuard<()>>,
    key: K,
    entries: Entries<K>,
}

impl<K: Hash + Eq + Clone> KeyedLocks<K> {
    pub async fn lock(&self, key: &K) -> KeyedGuard<K> {
        let lock = {
            let mut entries = self.0.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(entries.entry(key.clone()).or_default())
        };
        KeyedGuard {
            guard: Some(lock.lock_owned().await),
            key: key.clone(),
            entries: Arc::clone(&self.0),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl<K: Hash + Eq> Drop for KeyedGuard<K> {
    fn drop(&mut self) {
        // Under the map's lock nobody can take a new reference to the key's lock: if only the
        // map's is left once this guard's is gone, nobody holds or awaits it.
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        drop(self.guard.take());
        if entries
            .get(&self.key)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            entries.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_holder_per_key_and_no_entry_left_behind() {
        let locks = Arc::new(KeyedLocks::<u32>::default());
        let first = locks.lock(&1).await;
        // Another key is not held up.
        drop(locks.lock(&2).await);
        // The same key waits for the first holder.
        let waiter = tokio::spawn({
            let locks = Arc::clone(&locks);
            async move { drop(locks.lock(&1).await) }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        assert_eq!(locks.len(), 1, "key 2's entry went with its guard");
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            locks.len(),
            0,
            "nothing left once nobody holds or awaits a key"
        );
    }
}
