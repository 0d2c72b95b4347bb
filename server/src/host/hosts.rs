//! The libvirt hosts Limen manages, each named by a key (SPEC §13): `local`, the host Limen runs
//! on, and every host an admin added (the `hosts` table).

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};

use super::{Host, HostError};

/// A host's name, as records (`vms.host`), operations and events carry it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HostKey(Arc<str>);

impl HostKey {
    /// The host Limen runs on (the configured `LIMEN_LIBVIRT_URI`).
    pub const LOCAL: &'static str = "local";

    pub fn local() -> Self {
        Self(Arc::from(Self::LOCAL))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for HostKey {
    fn from(key: &str) -> Self {
        Self(Arc::from(key))
    }
}

impl Default for HostKey {
    fn default() -> Self {
        Self::local()
    }
}

impl fmt::Display for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Borrow<str> for HostKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// Called with each host added while Limen serves (the background work starts its monitor).
pub type OnAdded = Arc<dyn Fn(Arc<Host>) + Send + Sync>;

/// Every managed host by key: the local one from the configuration, the others from the
/// `hosts` table. Hosts are added and removed while Limen runs; a caller holds an
/// `Arc<Host>`, so a host removed meanwhile finishes the call it is in.
#[derive(Clone)]
pub struct Hosts(Arc<Inner>);

struct Inner {
    hosts: RwLock<BTreeMap<HostKey, Arc<Host>>>,
    on_added: Mutex<Option<OnAdded>>,
    /// The SSH key for `qemu+ssh://` hosts whose URI names none (`LIMEN_SSH_KEYFILE`).
    ssh_keyfile: Option<PathBuf>,
}

impl Hosts {
    pub fn new(hosts: impl IntoIterator<Item = Arc<Host>>) -> Self {
        Self::with_ssh_keyfile(hosts, None)
    }

    pub fn with_ssh_keyfile(
        hosts: impl IntoIterator<Item = Arc<Host>>,
        ssh_keyfile: Option<PathBuf>,
    ) -> Self {
        Self(Arc::new(Inner {
            hosts: RwLock::new(
                hosts
                    .into_iter()
                    .map(|host| (host.key().clone(), host))
                    .collect(),
            ),
            on_added: Mutex::new(None),
            ssh_keyfile,
        }))
    }

    /// A host (not yet in the registry) reached at `uri` like the others: the local host's
    /// domain type setting, and the configured SSH key for an SSH URI that names none.
    pub fn make(&self, key: HostKey, uri: &str) -> Arc<Host> {
        let uri = match &self.0.ssh_keyfile {
            Some(keyfile) => with_keyfile(uri, keyfile),
            None => uri.to_string(),
        };
        Host::new(key, uri, self.local().domain_type_setting())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<HostKey, Arc<Host>>> {
        self.0.hosts.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, key: &str) -> Result<Arc<Host>, HostError> {
        self.read()
            .get(key)
            .cloned()
            .ok_or_else(|| HostError::UnknownHost(key.to_string()))
    }

    /// The host Limen runs on (`LIMEN_LIBVIRT_URI`): always there, never removed.
    pub fn local(&self) -> Arc<Host> {
        self.get(HostKey::LOCAL)
            .expect("the local host is always configured")
    }

    /// Every host now, by key.
    pub fn all(&self) -> Vec<Arc<Host>> {
        self.read().values().cloned().collect()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.read().contains_key(key)
    }

    /// From now on, `on_added` is called with every host added (and at once with every host
    /// there is): what the serving process uses to start each host's monitor.
    pub fn on_added(&self, on_added: OnAdded) {
        let existing = self.all();
        *self.0.on_added.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&on_added));
        for host in existing {
            on_added(host);
        }
    }

    /// Adds a host (a key already there keeps its host: the same record read twice).
    pub fn add(&self, host: Arc<Host>) {
        {
            let mut hosts = self.0.hosts.write().unwrap_or_else(|p| p.into_inner());
            if hosts.contains_key(host.key()) {
                return;
            }
            hosts.insert(host.key().clone(), Arc::clone(&host));
        }
        let on_added = self
            .0
            .on_added
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(on_added) = on_added {
            on_added(host);
        }
    }

    /// Removes a host: its background work stops and its connection closes.
    pub fn remove(&self, key: &str) -> Option<Arc<Host>> {
        if key == HostKey::LOCAL {
            return None;
        }
        let removed = self
            .0
            .hosts
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        if let Some(host) = &removed {
            host.retire();
        }
        removed
    }
}

/// `uri` with `keyfile=` added if it is an SSH URI that has none (libvirt's own parameter).
fn with_keyfile(uri: &str, keyfile: &Path) -> String {
    let ssh = ["qemu+ssh://", "qemu+libssh://", "qemu+libssh2://"]
        .iter()
        .any(|scheme| uri.starts_with(scheme));
    if !ssh || uri.contains("keyfile=") {
        return uri.to_string();
    }
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}keyfile={}", keyfile.display())
}

#[cfg(test)]
mod tests {
    use super::with_keyfile;
    use std::path::Path;

    #[test]
    fn an_ssh_uri_without_a_keyfile_gets_the_configured_one() {
        let key = Path::new("/etc/limen/id_ed25519");
        assert_eq!(
            with_keyfile("qemu+ssh://root@10.0.0.2/system", key),
            "qemu+ssh://root@10.0.0.2/system?keyfile=/etc/limen/id_ed25519"
        );
        assert_eq!(
            with_keyfile("qemu+ssh://root@h/system?no_verify=1", key),
            "qemu+ssh://root@h/system?no_verify=1&keyfile=/etc/limen/id_ed25519"
        );
        for kept in [
            "qemu+ssh://root@h/system?keyfile=/root/.ssh/other",
            "qemu+tls://h/system",
            "qemu:///system",
        ] {
            assert_eq!(with_keyfile(kept, key), kept);
        }
    }
}
