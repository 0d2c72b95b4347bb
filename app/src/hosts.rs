//! Wire types of the libvirt hosts Limen manages (SPEC §13).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Whether Limen reaches a host now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HostState {
    /// Connected: its VMs are followed live.
    Connected,
    /// It could not be reached at the last attempt (`reason` says why); Limen keeps trying
    /// and its VMs show `unknown`.
    Unreachable,
}

/// What a host has, from libvirt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HostResources {
    pub cpus: u32,
    /// MiB.
    pub memory: u64,
    /// MiB not in use now; `null` when libvirt cannot say.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub free_memory: Option<u64>,
}

/// A host as `GET /api/v1/hosts` lists it. A user who is not an admin sees only the hosts of
/// their own VMs, without `uri` and `capacity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Host {
    /// What VMs (`Vm.host`), filters and requests name it by; never changes.
    pub key: String,
    /// What people call it (an admin may rename it).
    pub name: String,
    /// libvirt's URI of it; `null` for users who are not admins.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub uri: Option<String>,
    /// A disabled host keeps its VMs, but no new VM is placed on it.
    pub enabled: bool,
    /// Whether this is the host Limen runs on (it cannot be disabled or removed).
    pub local: bool,
    pub state: HostState,
    /// Why it is unreachable, in words; `null` when connected.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub reason: Option<String>,
    /// `null` while unreachable, and for users who are not admins.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub capacity: Option<HostResources>,
    /// How many VMs it has (the caller's, for a user who is not an admin).
    pub vms: u32,
    pub added_at: DateTime<Utc>,
}

/// `POST /api/v1/hosts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddHostRequest {
    /// 1–63 letters, digits, `.`, `_` and `-`, starting with a letter or digit; its lower case
    /// becomes the host's key.
    pub name: String,
    /// libvirt's URI: `qemu:///system`, `qemu+ssh://user@host/system` (the key file from
    /// `LIMEN_SSH_KEYFILE`), `qemu+tls://host/system`, `qemu+unix:///system?socket=…`.
    pub uri: String,
}

/// `PATCH /api/v1/hosts/{key}`: what is absent stays.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateHostRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `POST /api/v1/vms/{uuid}/migrate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MigrateRequest {
    /// The destination host's key.
    pub host: String,
    /// `true`: a running (or paused) VM moves while it runs; `false`: a stopped VM moves by its
    /// definition. Absent: live if it runs, offline if it is stopped.
    #[serde(default)]
    pub live: Option<bool>,
}
