//! Password hashes: argon2id with the crate's defaults (19 MiB, 2 passes: OWASP's minimum),
//! computed on the blocking pool since each takes tens of milliseconds on purpose, and at most
//! one per core at a time: a flood of logins queues instead of taking the host's memory.

use std::sync::OnceLock;

use tokio::sync::Semaphore;

use app::error::AppError;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 1024;

pub fn validate(password: &str) -> Result<(), AppError> {
    let length = password.chars().count();
    if length < MIN_LEN {
        return Err(AppError::validation(format!(
            "The password must have at least {MIN_LEN} characters."
        )));
    }
    if password.len() > MAX_LEN {
        return Err(AppError::validation(format!(
            "The password must have at most {MAX_LEN} bytes."
        )));
    }
    Ok(())
}

/// Hashing slots: one per core.
fn slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Semaphore::new(cores)
    })
}

/// Runs a hash computation in a slot, on the blocking pool.
async fn in_slot<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let _slot = slots().acquire().await.ok()?;
    tokio::task::spawn_blocking(work).await.ok()
}

fn decoy() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_now("not the password of anyone"))
}

/// Computes the decoy hash now, so the first login of an unknown user takes no longer than
/// any other (call once at start, on the blocking pool).
pub fn warm_up() {
    decoy();
}

fn hash_now(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password up to MAX_LEN")
        .to_string()
}

pub async fn hash(password: String) -> Result<String, AppError> {
    in_slot(move || hash_now(&password)).await.ok_or_else(|| {
        AppError::new(
            app::error::ErrorCode::Internal,
            "Hashing the password failed.",
        )
    })
}

/// Whether `password` matches `stored`. Without a stored hash (no such user) a decoy hash is
/// checked, so the answer takes as long and does not tell which usernames exist.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    in_slot(move || {
        let exists = stored.is_some();
        let stored = stored.unwrap_or_else(|| decoy().to_string());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        exists && matches
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse".into(), Some(stored.clone())).await);
        assert!(!verify("wrong horse".into(), Some(stored)).await);
        assert!(!verify("correct horse".into(), None).await);
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(validate("1234567").is_err());
        assert!(validate("12345678").is_ok());
        assert!(validate(&"x".repeat(MAX_LEN + 1)).is_err());
    }
}
