//! Credentials ended while in use: a logout, a revoked token, a user disabled, given another
//! role or a new password, or deleted. Long-lived connections (event streams, later the console) listen
//! and close, so an ended credential stops receiving anything at once, not at its next request.

use app::auth::Principal;
use tokio::sync::broadcast;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// One session or token (the hash of its secret) ended.
    Credential(String),
    /// Everything of this user ended.
    User(String),
}

impl Revocation {
    /// Whether this ends the credential `caller` came with.
    pub fn ends(&self, caller: &Principal) -> bool {
        match self {
            Revocation::Credential(hash) => caller.credential == *hash,
            Revocation::User(username) => caller.username == *username,
        }
    }
}

pub struct Revocations(broadcast::Sender<Revocation>);

impl Default for Revocations {
    fn default() -> Self {
        Self(broadcast::channel(256).0)
    }
}

impl Revocations {
    pub fn announce(&self, revocation: Revocation) {
        // Nobody listening is fine.
        let _ = self.0.send(revocation);
    }

    /// Completes when `caller`'s credential is ended (or, having fallen behind the channel,
    /// when it may have been: the connection then closes and its client reconnects).
    pub fn ended(
        &self,
        caller: Principal,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut receiver = self.0.subscribe();
        async move {
            loop {
                match receiver.recv().await {
                    Ok(revocation) if revocation.ends(&caller) => return,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::auth::Role;

    fn caller(username: &str, credential: &str) -> Principal {
        Principal {
            username: username.into(),
            role: Role::User,
            credential: credential.into(),
            by_session: true,
            expires_at: None,
            address: None,
            language: None,
        }
    }

    #[test]
    fn each_revocation_ends_what_it_names() {
        let alice = caller("alice", "h1");
        assert!(Revocation::Credential("h1".into()).ends(&alice));
        assert!(!Revocation::Credential("h2".into()).ends(&alice));
        assert!(Revocation::User("alice".into()).ends(&alice));
        assert!(!Revocation::User("bob".into()).ends(&alice));
    }

    #[tokio::test]
    async fn a_listener_wakes_only_for_its_own_credential() {
        let revocations = Revocations::default();
        let ended = revocations.ended(caller("alice", "h1"));
        revocations.announce(Revocation::User("bob".into()));
        revocations.announce(Revocation::Credential("h1".into()));
        tokio::time::timeout(std::time::Duration::from_secs(5), ended)
            .await
            .expect("ended by its own credential's revocation");
    }
}
