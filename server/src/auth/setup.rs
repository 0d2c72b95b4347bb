//! The one-time setup token of a fresh install: made at start while no admin exists, printed
//! in the log, and used up by creating the first admin. Only its hash is kept, in memory.

use std::sync::Mutex;

use super::secret::{hash_secret, new_random_secret};

#[derive(Default)]
pub struct SetupToken(Mutex<Option<String>>);

impl SetupToken {
    /// A new token (replacing any earlier one).
    pub fn issue(&self) -> String {
        let secret = new_random_secret();
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(hash_secret(&secret));
        secret
    }

    /// Whether a setup token is waiting to be used.
    pub fn is_open(&self) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    pub fn matches(&self, candidate: &str) -> bool {
        let hash = hash_secret(candidate.trim());
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_deref()
            .is_some_and(|kept| kept == hash)
    }

    pub fn consume(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}
