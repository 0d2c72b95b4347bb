//! The words for the states and actions the wire types carry. Their `as_str` stays the API's
//! value and their English `label` the server's sentences'; pages show `label_in`.

use crate::auth::{Outcome, Role};
use crate::i18n::Locale;
use crate::live::LinkState;
use crate::machine::Suggestion;
use crate::snapshots::SnapshotState;
use crate::tr;
use crate::types::{BootOrder, InstallationStatus, VmAction, VmStatus};

/// A value as the page's language names it.
pub trait Label {
    fn label_in(self, locale: Locale) -> &'static str;
}

impl Label for VmStatus {
    fn label_in(self, locale: Locale) -> &'static str {
        match self {
            VmStatus::Running => tr!(locale, labels.status_running),
            VmStatus::Stopped => tr!(locale, labels.status_stopped),
            VmStatus::Paused => tr!(locale, labels.status_paused),
            VmStatus::ShuttingDown => tr!(locale, labels.status_shutting_down),
            VmStatus::Crashed => tr!(locale, labels.status_crashed),
            VmStatus::Creating => tr!(locale, labels.status_creating),
            VmStatus::Deleting => tr!(locale, labels.status_deleting),
            VmStatus::Missing => tr!(locale, labels.status_missing),
            VmStatus::Unknown => tr!(locale, labels.status_unknown),
        }
    }
}

impl Label for BootOrder {
    fn label_in(self, locale: Locale) -> &'static str {
        match self {
            BootOrder::CdromHd => tr!(locale, labels.boot_cdrom_hd),
            BootOrder::Hd => tr!(locale, labels.boot_hd),
            BootOrder::Cdrom => tr!(locale, labels.boot_cdrom),
            BootOrder::HdCdrom => tr!(locale, labels.boot_hd_cdrom),
        }
    }
}

impl Label for InstallationStatus {
    fn label_in(self, locale: Locale) -> &'static str {
        match self {
            InstallationStatus::NotInstalled => {
                tr!(locale, labels.installation_not_installed)
            }
            InstallationStatus::Installing => tr!(locale, labels.installation_installing),
            InstallationStatus::Installed => tr!(locale, labels.installation_installed),
            InstallationStatus::InstallationFailed => {
                tr!(locale, labels.installation_failed)
            }
        }
    }
}

impl Label for VmAction {
    fn label_in(self, locale: Locale) -> &'static str {
        match self {
            VmAction::Start => tr!(locale, labels.action_start),
            VmAction::Shutdown => tr!(locale, labels.action_shutdown),
            VmAction::Stop => tr!(locale, labels.action_stop),
            VmAction::Reboot => tr!(locale, labels.action_reboot),
            VmAction::Reset => tr!(locale, labels.action_reset),
            VmAction::Pause => tr!(locale, labels.action_pause),
            VmAction::Resume => tr!(locale, labels.action_resume),
        }
    }
}

impl Label for LinkState {
    fn label_in(self, locale: Locale) -> &'static str {
        match self {
            LinkState::Connecting => tr!(locale, labels.link_connecting),
            LinkState::Live => tr!(locale, labels.link_live),
            LinkState::Reconnecting => tr!(locale, labels.link_reconnecting),
        }
    }
}

impl Label for Suggestion {
    fn label_in(self, locale: Locale) -> &'static str {
        match self {
            Suggestion::BootFromDisk => tr!(locale, labels.suggest_boot_from_disk),
            Suggestion::EjectMedia => tr!(locale, labels.suggest_eject_media),
        }
    }
}

impl Label for SnapshotState {
    fn label_in(self, locale: Locale) -> &'static str {
        match self {
            SnapshotState::Running => tr!(locale, labels.snapshot_running),
            SnapshotState::Paused => tr!(locale, labels.snapshot_paused),
            SnapshotState::Stopped => tr!(locale, labels.snapshot_stopped),
            SnapshotState::DiskOnly => tr!(locale, labels.snapshot_disk_only),
        }
    }
}

impl Label for Role {
    fn label_in(self, locale: Locale) -> &'static str {
        match self {
            Role::Admin => tr!(locale, labels.role_admin),
            Role::User => tr!(locale, labels.role_user),
        }
    }
}

impl Label for Outcome {
    fn label_in(self, locale: Locale) -> &'static str {
        match self {
            Outcome::Success => tr!(locale, labels.outcome_success),
            Outcome::Failure => tr!(locale, labels.outcome_failure),
        }
    }
}
