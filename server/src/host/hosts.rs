//! The libvirt hosts Limen manages, each named by a key. Today there is one, `local`; SPEC §13
//! makes it several: a second host is a second [`Host`] in this map (and a row in the
//! configuration), while everything above `host/` already goes through the key.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

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

/// Every managed host by key. Fixed for the life of the process.
#[derive(Clone)]
pub struct Hosts(Arc<BTreeMap<HostKey, Arc<Host>>>);

impl Hosts {
    pub fn new(hosts: impl IntoIterator<Item = Arc<Host>>) -> Self {
        Self(Arc::new(
            hosts
                .into_iter()
                .map(|host| (host.key().clone(), host))
                .collect(),
        ))
    }

    pub fn get(&self, key: &str) -> Result<&Arc<Host>, HostError> {
        self.0
            .get(key)
            .ok_or_else(|| HostError::UnknownHost(key.to_string()))
    }

    /// Where new VMs are placed while there is one host (placement arrives with SPEC §13).
    pub fn local(&self) -> &Arc<Host> {
        self.0
            .get(HostKey::LOCAL)
            .expect("the local host is always configured")
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Host>> {
        self.0.values()
    }
}
