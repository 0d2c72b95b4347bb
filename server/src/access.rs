//! Who may see what. Every place that decides whether a VM is visible to a client (lists, the
//! event stream, actions, and the console) asks here, so the rule lives once.

use app::auth::Principal;

/// The party a response is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    /// Limen itself (internal use and tests): sees everything.
    System,
    /// A logged-in caller: an admin sees every VM, a user their own.
    Caller(Principal),
}

impl Viewer {
    pub fn system() -> Self {
        Viewer::System
    }

    /// Whether this viewer may see a VM owned by `owner`.
    pub fn may_see(&self, owner: Option<&str>) -> bool {
        match self {
            Viewer::System => true,
            Viewer::Caller(caller) => caller.may_see(owner),
        }
    }

    /// Whether this viewer sees every VM (so shared, unfiltered data may be served as it is).
    pub fn sees_all(&self) -> bool {
        match self {
            Viewer::System => true,
            Viewer::Caller(caller) => caller.is_admin(),
        }
    }
}
