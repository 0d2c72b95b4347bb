//! The words for the states and actions the wire types carry. Their `as_str` stays the API's
//! value and their English `label` the server's sentences'; pages show `label_in`.

use crate::auth::{Outcome, Role};
use crate::i18n::{td_string, Locale};
use crate::live::LinkState;
use crate::machine::Suggestion;
use crate::snapshots::SnapshotState;
use crate::types::{BootOrder, InstallationStatus, VmAction, VmStatus};

/// A value as the page's language names it.
pub trait Label {
    fn label_in(self, locale: Locale) -> &'static str;
}

impl Label for VmStatus {
    fn label_in(self, locale: Locale) -> &'static str {
        match self {
            VmStatus::Running => td_string!(locale, labels.status_running),
            VmStatus::Stopped => td_string!(locale, labels.status_stopped),
            VmStatus::Paused => td_string!(locale, labels.status_paused),
            VmStatus::ShuttingDown => td_string!(locale, labels.status_shutting_down),
            VmStatus::Crashed => td_string!(locale, labels.status_crashed),
            VmStatus::Creating => td_string!(locale, labels.status_creating),
            VmStatus::Deleting => td_string!(locale, labels.status_deleting),
            VmStatus::Missing => td_string!(locale, labels.status_missing),
            VmStatus::Unknown => td_string!(locale, labels.status_unknown),
        }
    }
}

impl Label for BootOrder {
    fn label_in(self, locale: Locale) -> &'static str {
        match self {
            BootOrder::CdromHd => td_string!(locale, labels.boot_cdrom_hd),
            BootOrder::Hd => td_string!(locale, labels.boot_hd),
            BootOrder::Cdrom => td_string!(locale, labels.boot_cdrom),
            BootOrder::HdCdrom => td_string!(locale, labels.boot_hd_cdrom),
        }
    }
}

impl Label for InstallationStatus {
    fn label_in(self, locale: Locale) -> &'static str {
        match self {
            InstallationStatus::NotInstalled => {
                td_string!(locale, labels.installation_not_installed)
            }
            InstallationStatus::Installing => td_string!(locale, labels.installation_installing),
            InstallationStatus::Installed => td_string!(locale, labels.installation_installed),
            InstallationStatus::InstallationFailed => {
                td_string!(locale, labels.installation_failed)
            }
        }
    }
}

impl Label for VmAction {
    fn label_in(self, locale: Locale) -> &'static str {
        match self {
            VmAction::Start => td_string!(locale, labels.action_start),
            VmAction::Shutdown => td_string!(locale, labels.action_shutdown),
            VmAction::Stop => td_string!(locale, labels.action_stop),
            VmAction::Reboot => td_string!(locale, labels.action_reboot),
            VmAction::Reset => td_string!(locale, labels.action_reset),
            VmAction::Pause => td_string!(locale, labels.action_pause),
            VmAction::Resume => td_string!(locale, labels.action_resume),
        }
    }
}

impl Label for LinkState {
    fn label_in(self, locale: Locale) -> &'static str {
        match self {
            LinkState::Connecting => td_string!(locale, labels.link_connecting),
            LinkState::Live => td_string!(locale, labels.link_live),
            LinkState::Reconnecting => td_string!(locale, labels.link_reconnecting),
        }
    }
}

impl Label for Suggestion {
    fn label_in(self, locale: Locale) -> &'static str {
        match self {
            Suggestion::BootFromDisk => td_string!(locale, labels.suggest_boot_from_disk),
            Suggestion::EjectMedia => td_string!(locale, labels.suggest_eject_media),
        }
    }
}

impl Label for SnapshotState {
    fn label_in(self, locale: Locale) -> &'static str {
        match self {
            SnapshotState::Running => td_string!(locale, labels.snapshot_running),
            SnapshotState::Paused => td_string!(locale, labels.snapshot_paused),
            SnapshotState::Stopped => td_string!(locale, labels.snapshot_stopped),
            SnapshotState::DiskOnly => td_string!(locale, labels.snapshot_disk_only),
        }
    }
}

impl Label for Role {
    fn label_in(self, locale: Locale) -> &'static str {
        match self {
            Role::Admin => td_string!(locale, labels.role_admin),
            Role::User => td_string!(locale, labels.role_user),
        }
    }
}

impl Label for Outcome {
    fn label_in(self, locale: Locale) -> &'static str {
        match self {
            Outcome::Success => td_string!(locale, labels.outcome_success),
            Outcome::Failure => td_string!(locale, labels.outcome_failure),
        }
    }
}
