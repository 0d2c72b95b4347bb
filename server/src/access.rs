//! Who may see what. Every place that decides whether a VM is visible to a client (the event
//! stream now; lists, actions and the console with users) asks here, so the rule lives once.

/// The party a response is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    /// No users exist yet (until authentication lands, every client sees every VM).
    Anyone,
}

impl Viewer {
    pub fn anyone() -> Self {
        Viewer::Anyone
    }

    /// Whether this viewer may see a VM owned by `owner`.
    pub fn may_see(&self, _owner: Option<&str>) -> bool {
        match self {
            Viewer::Anyone => true,
        }
    }
}
