//! The libvirt hosts Limen manages (SPEC §13): listed for everyone (a user sees the hosts of
//! their own VMs), added, changed and removed by admins. Every change is audited; the registry
//! of connections (`Hosts`) follows the `hosts` table.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use app::auth::Principal;
use app::error::{AppError, ErrorCode};
use app::hosts::{AddHostRequest, Host as HostInfo, HostResources, HostState, UpdateHostRequest};
use app::validate::validate_label;
use futures::future::join_all;

use super::reconciliation::require_admin;
use super::{refused, ServiceError, VmService};
use crate::db::hosts::{self as q, HostChange, HostRow};
use crate::db::DbError;
use crate::host::{Host, HostKey};

/// How long adding a host waits for its first answer (an SSH host that drops packets would
/// otherwise hold the request for the TCP timeout).
const ADD_TIMEOUT: Duration = Duration::from_secs(20);

/// The URI schemes Limen reaches libvirt with: its own transports, and the test driver.
const SCHEMES: [&str; 7] = [
    "qemu",
    "qemu+ssh",
    "qemu+libssh",
    "qemu+libssh2",
    "qemu+tls",
    "qemu+tcp",
    "qemu+unix",
];

impl VmService {
    /// Writes the local host's row (with `local_uri`, the configuration's) and makes the
    /// registry of connections hold every host of the `hosts` table.
    pub async fn load_hosts(&self, local_uri: Option<String>) -> Result<(), DbError> {
        crate::reconcile::hosts::follow_table(&self.cx, local_uri).await
    }

    /// `limen host add`: an admin's add, by the command line (audited by it).
    pub async fn add_host_directly(&self, request: AddHostRequest) -> Result<HostInfo, AppError> {
        self.host_add(&command_line(), request)
            .await
            .map_err(crate::error::report)
    }

    /// `limen host list`: the hosts as an admin sees them.
    pub async fn hosts_directly(&self) -> Result<Vec<HostInfo>, AppError> {
        self.hosts_list(&command_line())
            .await
            .map_err(crate::error::report)
    }

    pub(super) async fn hosts_list(
        &self,
        caller: &Principal,
    ) -> Result<Vec<HostInfo>, ServiceError> {
        let rows = self.cx.db.run(q::host_list).await?;
        let vms = self.list_now().await?;
        let mut counts: HashMap<&str, u32> = HashMap::new();
        for vm in vms
            .vms
            .iter()
            .filter(|vm| caller.is_admin() || vm.owner.as_deref() == Some(caller.username.as_str()))
        {
            *counts.entry(vm.host.as_str()).or_default() += 1;
        }
        let visible = rows
            .into_iter()
            .filter(|row| caller.is_admin() || counts.contains_key(row.key.as_str()));
        let described = visible.map(|row| {
            let vms = counts.get(row.key.as_str()).copied().unwrap_or(0);
            let host = self.cx.hosts.get(&row.key).ok();
            describe(row, host, vms, caller.is_admin())
        });
        Ok(join_all(described).await)
    }

    pub(super) async fn host_add(
        &self,
        caller: &Principal,
        request: AddHostRequest,
    ) -> Result<HostInfo, ServiceError> {
        require_admin(caller).map_err(refused)?;
        validate_label("The host's name", &request.name).map_err(refused)?;
        let allow_test = self.cx.hosts.local().uri().starts_with("test:");
        validate_uri(&request.uri, allow_test).map_err(refused)?;
        let key = request.name.to_ascii_lowercase();
        let taken = {
            let key = key.clone();
            self.cx
                .db
                .run(move |conn| q::host_fetch(conn, &key))
                .await?
        };
        if taken.is_some() || key == HostKey::LOCAL {
            return Err(already_managed(format!(
                "A host named \"{}\" is already managed.",
                request.name
            )));
        }
        let host = self
            .cx
            .hosts
            .make(HostKey::from(key.as_str()), &request.uri);
        let answer = tokio::time::timeout(ADD_TIMEOUT, host.libvirt_uuid()).await;
        let libvirt_uuid = match answer {
            Ok(Ok(uuid)) => uuid,
            Ok(Err(_)) | Err(_) => {
                let reason = host.unreachable().unwrap_or("it did not answer in time");
                // An attempt still in flight holds the connection: closed off this thread.
                let closing = Arc::clone(&host);
                drop(tokio::task::spawn_blocking(move || closing.disconnect()));
                return Err(refused(AppError::new(
                    ErrorCode::HypervisorUnavailable,
                    format!("Limen could not reach libvirt at that URI: {reason}."),
                )));
            }
        };
        // The connection opened to check it is not the one the monitor opens (with events).
        let closing = Arc::clone(&host);
        drop(tokio::task::spawn_blocking(move || closing.disconnect()));
        if let Some(uuid) = libvirt_uuid {
            let same = self
                .cx
                .db
                .run(q::host_list)
                .await?
                .into_iter()
                .find(|row| row.libvirt_uuid == Some(uuid));
            if let Some(same) = same {
                return Err(already_managed(format!(
                    "That URI reaches the same libvirt as the host \"{}\".",
                    same.name
                )));
            }
            if self.cx.hosts.local().libvirt_uuid().await.ok().flatten() == Some(uuid) {
                return Err(already_managed(
                    "That URI reaches the libvirt of the local host.".to_string(),
                ));
            }
        }
        let row = HostRow {
            key,
            name: request.name.clone(),
            uri: request.uri,
            enabled: true,
            libvirt_uuid,
            added_at: chrono::Utc::now(),
        };
        let inserted = self.cx.db.run(move |conn| q::host_insert(conn, &row)).await;
        let row = match inserted {
            Ok(row) => row,
            Err(error)
                if error.is_unique_violation(q::HOSTS_PKEY)
                    || error.is_unique_violation(q::HOSTS_NAME_KEY)
                    || error.is_unique_violation(q::HOSTS_LIBVIRT_UUID_KEY) =>
            {
                return Err(already_managed(format!(
                    "A host named \"{}\", or with the same libvirt, is already managed.",
                    request.name
                )));
            }
            Err(error) => return Err(error.into()),
        };
        self.cx.hosts.add(Arc::clone(&host));
        self.host_changed();
        Ok(describe(row, Some(host), 0, true).await)
    }

    pub(super) async fn host_update(
        &self,
        caller: &Principal,
        key: String,
        request: UpdateHostRequest,
    ) -> Result<HostInfo, ServiceError> {
        require_admin(caller).map_err(refused)?;
        if let Some(name) = &request.name {
            validate_label("The host's name", name).map_err(refused)?;
        }
        if key == HostKey::LOCAL && request.enabled == Some(false) {
            return Err(refused(AppError::new(
                ErrorCode::InvalidState,
                "The local host cannot be disabled: it is where Limen runs.",
            )));
        }
        let change = HostChange {
            name: request.name.clone(),
            enabled: request.enabled,
        };
        let updated = {
            let key = key.clone();
            self.cx
                .db
                .run(move |conn| q::host_update(conn, &key, &change))
                .await
        };
        let row = match updated {
            Ok(Some(row)) => row,
            Ok(None) => return Err(host_not_found()),
            Err(error) if error.is_unique_violation(q::HOSTS_NAME_KEY) => {
                return Err(already_managed(format!(
                    "A host named \"{}\" is already managed.",
                    request.name.unwrap_or_default()
                )));
            }
            Err(error) => return Err(error.into()),
        };
        let vms = self.vms_on(&key).await?;
        self.host_changed();
        Ok(describe(row, self.cx.hosts.get(&key).ok(), vms, true).await)
    }

    pub(super) async fn host_remove(
        &self,
        caller: &Principal,
        key: String,
    ) -> Result<(), ServiceError> {
        require_admin(caller).map_err(refused)?;
        if key == HostKey::LOCAL {
            return Err(refused(AppError::new(
                ErrorCode::InvalidState,
                "The local host cannot be removed: it is where Limen runs.",
            )));
        }
        let deleted = {
            let key = key.clone();
            self.cx.db.run(move |conn| q::host_delete(conn, &key)).await
        };
        match deleted {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => return Err(host_not_found()),
            Ok(Err(names)) => return Err(host_in_use(&names)),
            // A VM was placed on it meanwhile.
            Err(error) if error.is_foreign_key_violation(q::VMS_HOST_FKEY) => {
                return Err(host_in_use(&["(a VM just created)".to_string()]));
            }
            Err(error) => return Err(error.into()),
        }
        self.cx.hosts.remove(&key);
        self.host_changed();
        Ok(())
    }

    async fn vms_on(&self, key: &str) -> Result<u32, ServiceError> {
        let list = self.list_now().await?;
        let count = list.vms.iter().filter(|vm| vm.host == key).count();
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    /// Every open dashboard reads the hosts again.
    fn host_changed(&self) {
        self.cx.bus.publish(crate::live::VmChange::Hosts);
    }
}

/// Whoever runs `limen` on the machine: the admin of it.
fn command_line() -> Principal {
    Principal {
        username: String::new(),
        role: app::auth::Role::Admin,
        credential: String::new(),
        by_session: false,
        expires_at: None,
        address: None,
        language: None,
    }
}

/// A host as the caller may see it: the URI and capacity for admins only.
async fn describe(row: HostRow, host: Option<Arc<Host>>, vms: u32, admin: bool) -> HostInfo {
    let capacity = match (&host, admin) {
        (Some(host), true) if host.unreachable().is_none() || !host.is_watched() => {
            host.capacity().await.ok()
        }
        _ => None,
    };
    let reason = match &host {
        Some(host) => host.unreachable(),
        None => Some("Limen has not connected to it yet"),
    };
    let state = match (reason, &capacity, admin) {
        (Some(_), _, _) => HostState::Unreachable,
        _ => HostState::Connected,
    };
    HostInfo {
        local: row.key == HostKey::LOCAL,
        key: row.key,
        name: row.name,
        uri: admin.then_some(row.uri),
        enabled: row.enabled,
        state,
        reason: reason.map(str::to_string),
        capacity: capacity.map(|c| HostResources {
            cpus: c.cpus,
            memory: c.memory_mib,
            free_memory: c.free_memory_mib,
        }),
        vms,
        added_at: row.added_at,
    }
}

/// A libvirt URI Limen may connect to: a transport of its own to a host's system daemon
/// (`/system`), with no query parameter but the socket of `qemu+unix`. libvirt's other
/// parameters are refused: `command=` would run a program on Limen's machine, `keyfile=` pick
/// any key Limen can read (the key comes from `LIMEN_SSH_KEYFILE`), `no_verify=` turn off host
/// key checks. `test:///FILE` (libvirt's test driver) only where the local host is one too
/// (the tests).
fn validate_uri(uri: &str, allow_test: bool) -> Result<(), AppError> {
    let refuse = |why: &str| Err(AppError::validation(format!("The URI {why}.")));
    if uri.is_empty() || uri.len() > 1024 {
        return refuse("must be 1–1024 characters long");
    }
    if let Some(bad) = uri
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\\' | '`'))
    {
        return refuse(&format!("may not contain {bad:?}"));
    }
    let Some((scheme, rest)) = uri.split_once("://") else {
        return refuse(&format!(
            "must be a libvirt URI starting with one of {}:// (e.g. qemu+ssh://root@host/system)",
            SCHEMES.join("://, ")
        ));
    };
    if scheme == "test" && allow_test && !rest.contains('?') {
        return Ok(());
    }
    if !SCHEMES.contains(&scheme) {
        return refuse(&format!(
            "must start with one of {}:// (e.g. qemu+ssh://root@host/system)",
            SCHEMES.join("://, ")
        ));
    }
    let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = location.split_at(location.find('/').unwrap_or(location.len()));
    if path != "/system" {
        return refuse("must name the host's system daemon: …/system");
    }
    let host_chars =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@' | ':' | '[' | ']');
    if !authority.chars().all(host_chars) {
        return refuse("names its host with characters a host name does not have");
    }
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let key = pair.split_once('=').map_or(pair, |(key, _)| key);
        if !(scheme == "qemu+unix" && key == "socket") {
            return refuse(&format!(
                "may not set {key:?}: Limen decides how it connects (an SSH key comes from LIMEN_SSH_KEYFILE)"
            ));
        }
    }
    Ok(())
}

fn already_managed(message: String) -> ServiceError {
    refused(AppError::new(ErrorCode::HostAlreadyExists, message))
}

fn host_not_found() -> ServiceError {
    refused(AppError::new(ErrorCode::HostNotFound, "No such host."))
}

fn host_in_use(names: &[String]) -> ServiceError {
    refused(AppError::new(
        ErrorCode::HostInUse,
        format!(
            "The host still has {} VM(s): {}. Move them to another host or delete them first.",
            names.len(),
            names.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::validate_uri;

    #[test]
    fn only_libvirts_own_transports_to_a_system_daemon_are_taken() {
        for good in [
            "qemu:///system",
            "qemu+ssh://root@10.0.0.2/system",
            "qemu+ssh://admin@rack-2.lan:2222/system",
            "qemu+tls://lab.example/system",
            "qemu+unix:///system?socket=/run/other/libvirt-sock",
            "qemu+ssh://root@[fd00::2]/system",
        ] {
            assert_eq!(validate_uri(good, false), Ok(()), "{good}");
        }
        for bad in [
            "qemu+ssh://x/system?command=python3&keyfile=/var/lib/limen/isos/x.iso",
            "qemu+ssh://x/system?keyfile=/root/.ssh/id_rsa",
            "qemu+ssh://x/system?no_verify=1",
            "qemu+tcp://x/system?socket=/run/x",
            "qemu:///session",
            "qemu:///embed?root=/tmp/x",
            "qemu+ext:///system?command=/bin/sh",
            "test:///etc/shadow",
            "http://example.com/system",
            "qemu+ssh://x;rm/system",
            "qemu+ssh://x/system/../session",
        ] {
            assert!(validate_uri(bad, false).is_err(), "{bad}");
        }
        assert_eq!(validate_uri("test:///tmp/node.xml", true), Ok(()));
        assert!(validate_uri("test:///tmp/node.xml?x=1", true).is_err());
    }
}
