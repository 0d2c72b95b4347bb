//! A VM's snapshots (internal qcow2 snapshots, through libvirt): the wire types, the rules
//! both sides check, and the tree the VM page draws. libvirt is the truth for which snapshots
//! exist; Limen's records add who made each one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::types::VmStatus;
use crate::validate::validate_label;

/// A description's longest length, in characters.
pub const DESCRIPTION_MAX_LEN: usize = 1000;

/// One snapshot as libvirt has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Snapshot {
    pub name: String,
    /// `null`: none.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The state the VM was in when it was taken; a revert brings it back to it.
    pub state: SnapshotState,
    /// Whether it holds the VM's memory (a running or paused VM's): a revert resumes the VM
    /// where it was, instead of booting it.
    pub memory: bool,
    /// The snapshot it was taken after (`null`: a root).
    #[cfg_attr(feature = "ssr", schema(required))]
    pub parent: Option<String>,
    /// The snapshot the VM's disk now builds on (the last one taken or reverted to).
    pub current: bool,
    /// Who took it through Limen; `null` for one made outside Limen (virsh).
    #[cfg_attr(feature = "ssr", schema(required))]
    pub created_by: Option<String>,
}

/// The VM's state a snapshot captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SnapshotState {
    Running,
    Paused,
    Stopped,
    /// Disks only, taken outside Limen (an external snapshot): Limen lists and deletes it,
    /// but does not revert to it.
    DiskOnly,
}

impl SnapshotState {
    /// libvirt's `<state>` of a snapshot.
    pub fn from_libvirt(state: &str) -> Self {
        match state {
            "running" | "blocked" => SnapshotState::Running,
            "paused" | "pmsuspended" => SnapshotState::Paused,
            "disk-snapshot" => SnapshotState::DiskOnly,
            _ => SnapshotState::Stopped,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SnapshotState::Running => "running",
            SnapshotState::Paused => "paused",
            SnapshotState::Stopped => "stopped",
            SnapshotState::DiskOnly => "disks only",
        }
    }
}

/// `POST /api/v1/vms/{uuid}/snapshots`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateSnapshotRequest {
    /// 1–63 letters, digits, `.`, `_` and `-`, starting with a letter or digit; unique per VM.
    pub name: String,
    /// At most 1000 characters, no control characters but line breaks and tabs.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether to capture the memory. Default: yes for a running or paused VM (it cannot be
    /// snapshotted without it), no for a stopped one (it has none).
    #[serde(default)]
    pub memory: Option<bool>,
}

/// Names follow the VM-name rule: safe in a path, in markup and in a shell.
pub fn validate_snapshot_name(name: &str) -> Result<(), AppError> {
    validate_label("The snapshot name", name)
}

/// A description: at most [`DESCRIPTION_MAX_LEN`] characters, no control characters but
/// line breaks and tabs.
pub fn validate_description(description: &str) -> Result<(), AppError> {
    if description.chars().count() > DESCRIPTION_MAX_LEN {
        return Err(AppError::validation(format!(
            "The description may have at most {DESCRIPTION_MAX_LEN} characters."
        )));
    }
    // What XML cannot carry (libvirt keeps the description in XML) is refused too.
    if description.chars().any(|c| {
        c.is_control() && !matches!(c, '\n' | '\t') || matches!(c, '\u{fffe}' | '\u{ffff}')
    }) {
        return Err(AppError::validation(
            "The description may not contain control characters.",
        ));
    }
    Ok(())
}

/// Whether a VM in `status` can be snapshotted with (`memory`) or without its memory: an
/// internal snapshot of a running VM must hold its memory, and a stopped VM has none. The
/// refusal is a sentence.
pub fn memory_rule(status: VmStatus, memory: Option<bool>) -> Result<bool, String> {
    let active = matches!(status, VmStatus::Running | VmStatus::Paused);
    match (active, memory) {
        (true, Some(false)) => Err(
            "A running VM's snapshot holds its memory; stop the VM for a snapshot of its disk only."
                .into(),
        ),
        (false, Some(true)) => {
            Err("A stopped VM has no memory to capture; its snapshot holds its disk.".into())
        }
        (active, _) => Ok(active),
    }
}

/// The snapshots in tree order: each after its parent, siblings oldest first, with its depth
/// (0 for a root). A snapshot whose parent is not in the list counts as a root.
pub fn tree_order(snapshots: &[Snapshot]) -> Vec<(usize, &Snapshot)> {
    let mut sorted: Vec<&Snapshot> = snapshots.iter().collect();
    sorted.sort_by(|a, b| (a.created_at, &a.name).cmp(&(b.created_at, &b.name)));
    let known = |name: &str| sorted.iter().any(|s| s.name == name);
    let mut order = Vec::with_capacity(sorted.len());
    let mut stack: Vec<(usize, &Snapshot)> = sorted
        .iter()
        .rev()
        .filter(|s| !s.parent.as_deref().is_some_and(known))
        .map(|s| (0, *s))
        .collect();
    while let Some((depth, snapshot)) = stack.pop() {
        order.push((depth, snapshot));
        // Guard against a cycle in what libvirt reported: each snapshot once.
        if order.len() > sorted.len() {
            break;
        }
        stack.extend(
            sorted
                .iter()
                .rev()
                .filter(|s| s.parent.as_deref() == Some(snapshot.name.as_str()))
                .map(|s| (depth + 1, *s)),
        );
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn snapshot(name: &str, parent: Option<&str>, at: i64) -> Snapshot {
        Snapshot {
            name: name.into(),
            description: None,
            created_at: Utc.timestamp_opt(at, 0).unwrap(),
            state: SnapshotState::Stopped,
            memory: false,
            parent: parent.map(Into::into),
            current: false,
            created_by: None,
        }
    }

    #[test]
    fn the_tree_puts_children_under_their_parent_oldest_first() {
        let list = [
            snapshot("b2", Some("a"), 4),
            snapshot("a", None, 1),
            snapshot("b1", Some("a"), 2),
            snapshot("c", Some("b1"), 3),
            snapshot("orphan", Some("gone"), 5),
        ];
        let order: Vec<_> = tree_order(&list)
            .into_iter()
            .map(|(depth, s)| (depth, s.name.as_str()))
            .collect();
        assert_eq!(
            order,
            [(0, "a"), (1, "b1"), (2, "c"), (1, "b2"), (0, "orphan")]
        );
    }

    #[test]
    fn memory_follows_the_vm_state_unless_asked_for_what_cannot_be() {
        assert_eq!(memory_rule(VmStatus::Running, None), Ok(true));
        assert_eq!(memory_rule(VmStatus::Paused, Some(true)), Ok(true));
        assert_eq!(memory_rule(VmStatus::Stopped, None), Ok(false));
        assert!(memory_rule(VmStatus::Running, Some(false)).is_err());
        assert!(memory_rule(VmStatus::Stopped, Some(true)).is_err());
    }

    #[test]
    fn descriptions_are_bounded_and_plain() {
        assert!(validate_description("before the upgrade\nto 12.4").is_ok());
        assert!(validate_description(&"x".repeat(DESCRIPTION_MAX_LEN + 1)).is_err());
        assert!(validate_description("a\u{1b}[31mred").is_err());
        assert!(validate_description("not xml \u{ffff}").is_err());
    }
}
