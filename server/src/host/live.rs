//! The live view: every domain's state as Limen last observed it, kept current by libvirt's
//! events, so that listing VMs costs no hypervisor call.
//!
//! Every change to the view takes the next generation number as it is applied, and the database
//! write of an observation is guarded by it: the record and the view end in the same state, and
//! an older observation never overwrites a newer one. Reads of libvirt that feed the view are
//! serialized by a second lock (held on the blocking pool only), so they apply in the order
//! libvirt was read; the view's own lock is only ever held for a moment, so async code can read
//! it without waiting for libvirt.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use app::types::VmStatus;
use uuid::Uuid;
use virt::connect::Connect;
use virt::domain::Domain;
use virt::sys;

use super::{lookup, read_state, HostError, HostKey};

/// One domain as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainSummary {
    pub uuid: Uuid,
    pub name: String,
    pub status: VmStatus,
    /// The generation of the observation this status comes from.
    pub generation: u64,
}

/// Every domain at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub domains: HashMap<Uuid, DomainSummary>,
    /// The generation of the last full listing: a domain absent from `domains` has been known
    /// absent since at least then…
    pub listed_at: u64,
    /// …or since the generation here, for those seen to go after it.
    pub gone: HashMap<Uuid, u64>,
}

impl Snapshot {
    /// What this snapshot says of domain `id`.
    pub fn state_of(&self, id: Uuid) -> LiveState {
        match self.domains.get(&id) {
            Some(domain) => LiveState::Is {
                status: domain.status,
                generation: domain.generation,
            },
            None => LiveState::NoDomain {
                since: self.gone.get(&id).copied().unwrap_or(self.listed_at),
            },
        }
    }
}

/// What the hypervisor says of a domain as far as Limen knows it now, with the generation of
/// that knowledge (a change to it always takes a larger one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveState {
    /// The domain exists and is in this state.
    Is { status: VmStatus, generation: u64 },
    /// libvirt has no such domain, known since `since`.
    NoDomain { since: u64 },
    /// Its host cannot be asked right now.
    Unknown,
}

impl LiveState {
    pub fn generation(self) -> u64 {
        match self {
            LiveState::Is { generation, .. } => generation,
            LiveState::NoDomain { since } => since,
            LiveState::Unknown => 0,
        }
    }
}

/// The result of looking at one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub host: HostKey,
    pub uuid: Uuid,
    /// `None`: libvirt has no such domain (any more).
    pub status: Option<VmStatus>,
    pub generation: u64,
    /// Whether this differs from what the view held before.
    pub changed: bool,
}

impl Observation {
    /// What it says, as a live state.
    pub fn live_state(&self) -> LiveState {
        match self.status {
            Some(status) => LiveState::Is {
                status,
                generation: self.generation,
            },
            None => LiveState::NoDomain {
                since: self.generation,
            },
        }
    }
}

#[derive(Default)]
struct Inner {
    domains: HashMap<Uuid, DomainSummary>,
    listed_at: u64,
    /// Domains seen to go since the last full listing, with the generation they went at.
    gone: HashMap<Uuid, u64>,
    /// False until the first full listing, and again after the connection is lost.
    synced: bool,
    last_generation: u64,
}

impl Inner {
    /// Generations are microseconds since the epoch, made strictly increasing: they survive a
    /// restart (the database keeps the last one written) without being stored anywhere else.
    fn next_generation(&mut self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        self.last_generation = now.max(self.last_generation + 1);
        self.last_generation
    }
}

pub struct LiveView {
    /// The host whose domains these are.
    host: HostKey,
    inner: Mutex<Inner>,
    /// Held across each read of libvirt that feeds the view (never on an async thread).
    reads: Mutex<()>,
}

impl LiveView {
    pub fn new(host: HostKey) -> Self {
        Self {
            host,
            inner: Mutex::default(),
            reads: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every domain, if the view is in step with libvirt.
    pub fn snapshot(&self) -> Option<Snapshot> {
        let inner = self.lock();
        inner.synced.then(|| Snapshot {
            domains: inner.domains.clone(),
            listed_at: inner.listed_at,
            gone: inner.gone.clone(),
        })
    }

    /// One domain's state from the view; `None` if the view is not in step with libvirt.
    pub fn state(&self, id: Uuid) -> Option<LiveState> {
        let inner = self.lock();
        inner.synced.then(|| match inner.domains.get(&id) {
            Some(domain) => LiveState::Is {
                status: domain.status,
                generation: domain.generation,
            },
            None => LiveState::NoDomain {
                since: inner.gone.get(&id).copied().unwrap_or(inner.listed_at),
            },
        })
    }

    /// One domain's status from the view: `Some(None)` if the view knows it does not exist,
    /// `None` if the view is not in step with libvirt.
    pub fn status(&self, id: Uuid) -> Option<Option<VmStatus>> {
        self.state(id).map(|state| match state {
            LiveState::Is { status, .. } => Some(status),
            _ => None,
        })
    }

    pub fn is_synced(&self) -> bool {
        self.lock().synced
    }

    /// The connection was lost: events may be missed until the next full listing.
    pub fn mark_unsynced(&self) {
        self.lock().synced = false;
    }

    fn serialize_reads(&self) -> MutexGuard<'_, ()> {
        self.reads.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks libvirt for one domain's state and records it. Blocking: call on the blocking pool.
    pub fn observe(&self, conn: &Connect, id: Uuid) -> Result<Observation, HostError> {
        let _reads = self.serialize_reads();
        let found = match lookup(conn, id) {
            Ok(domain) => match summarize(&domain, None, 0) {
                Ok(summary) => Some(summary),
                Err(HostError::NoDomain) => None,
                Err(e) => return Err(e),
            },
            Err(HostError::NoDomain) => None,
            Err(e) => return Err(e),
        };
        let mut inner = self.lock();
        let generation = inner.next_generation();
        let found = found.map(|summary| DomainSummary {
            generation,
            ..summary
        });
        let status = found.as_ref().map(|domain| domain.status);
        let before = inner.domains.get(&id).map(|domain| domain.status);
        match found {
            Some(summary) => {
                inner.gone.remove(&id);
                inner.domains.insert(id, summary);
            }
            None => {
                if inner.domains.remove(&id).is_some() {
                    inner.gone.insert(id, generation);
                }
            }
        }
        Ok(Observation {
            host: self.host.clone(),
            uuid: id,
            status,
            generation,
            // Before the first listing everything is news.
            changed: before != status || !inner.synced,
        })
    }

    /// What a lifecycle event said the domain's state now is, recorded without asking libvirt.
    /// `None` if the view cannot take it (out of step, or a domain it does not know): then
    /// libvirt must be asked.
    pub fn apply_reported(&self, id: Uuid, status: VmStatus) -> Option<Observation> {
        let mut inner = self.lock();
        if !inner.synced || !inner.domains.contains_key(&id) {
            return None;
        }
        let generation = inner.next_generation();
        let domain = inner.domains.get_mut(&id)?;
        let changed = domain.status != status;
        domain.status = status;
        domain.generation = generation;
        Some(Observation {
            host: self.host.clone(),
            uuid: id,
            status: Some(status),
            generation,
            changed,
        })
    }

    /// Lists every domain with its state and replaces the view; returns what changed.
    /// Blocking: call on the blocking pool.
    pub fn resync(&self, conn: &Connect) -> Result<Vec<Observation>, HostError> {
        let _reads = self.serialize_reads();
        let mut listed = list_with_states(conn, 0)?;
        let mut inner = self.lock();
        let listed_at = inner.next_generation();
        for domain in listed.values_mut() {
            domain.generation = listed_at;
        }
        let mut changes = Vec::new();
        for (id, domain) in &mut listed {
            match inner.domains.get(id) {
                // Unchanged: it keeps the generation it was observed at.
                Some(known) if known.status == domain.status => {
                    domain.generation = known.generation
                }
                _ => changes.push(Observation {
                    host: self.host.clone(),
                    uuid: *id,
                    status: Some(domain.status),
                    generation: listed_at,
                    changed: true,
                }),
            }
        }
        let gone: Vec<Uuid> = inner
            .domains
            .keys()
            .filter(|id| !listed.contains_key(id))
            .copied()
            .collect();
        for id in gone {
            changes.push(Observation {
                host: self.host.clone(),
                uuid: id,
                status: None,
                generation: listed_at,
                changed: true,
            });
        }
        inner.domains = listed;
        inner.listed_at = listed_at;
        // Every domain absent now is known absent since this listing.
        inner.gone.clear();
        inner.synced = true;
        Ok(changes)
    }

    /// Generations continue after the newest one recorded, even if the clock went back.
    pub fn seed_generation(&self, recorded: u64) {
        let mut inner = self.lock();
        inner.last_generation = inner.last_generation.max(recorded);
    }

    /// The next generation, for a writer that observed nothing new (e.g. `creating` → done).
    pub fn next_generation(&self) -> u64 {
        self.lock().next_generation()
    }
}

/// A domain's UUID and name (which come with it, no call) and its state: `known` if the listing
/// it came from says it, else asked of libvirt.
fn summarize(
    domain: &Domain,
    known: Option<VmStatus>,
    generation: u64,
) -> Result<DomainSummary, HostError> {
    Ok(DomainSummary {
        uuid: domain
            .uuid()
            .map_err(|e| HostError::from_virt("read the domain UUID", e))?,
        name: domain
            .name()
            .map_err(|e| HostError::from_virt("read the domain name", e))?,
        status: match known {
            Some(status) => status,
            None => read_state(domain)?,
        },
        generation,
    })
}

/// Every domain with its state in a handful of calls, however many domains there are: libvirt
/// filters listings by state, and a domain's UUID and name come with the listing. Only the rare
/// domains in some other state (shutting down, crashed), or that changed state between two
/// listings, are asked one by one.
fn list_with_states(
    conn: &Connect,
    generation: u64,
) -> Result<HashMap<Uuid, DomainSummary>, HostError> {
    let everything = conn
        .list_all_domains(0)
        .map_err(|e| HostError::from_virt("list domains", e))?;
    let mut out = HashMap::with_capacity(everything.len());
    for (flag, status) in [
        (
            sys::VIR_CONNECT_LIST_DOMAINS_RUNNING,
            Some(VmStatus::Running),
        ),
        (sys::VIR_CONNECT_LIST_DOMAINS_PAUSED, Some(VmStatus::Paused)),
        (
            sys::VIR_CONNECT_LIST_DOMAINS_SHUTOFF,
            Some(VmStatus::Stopped),
        ),
        (sys::VIR_CONNECT_LIST_DOMAINS_OTHER, None),
    ] {
        let domains = conn
            .list_all_domains(flag)
            .map_err(|e| HostError::from_virt("list domains", e))?;
        for domain in domains {
            let summary = match summarize(&domain, status, generation) {
                Ok(summary) => summary,
                // Undefined between the listing and this look: it is gone.
                Err(HostError::NoDomain) => continue,
                Err(e) => return Err(e),
            };
            out.insert(summary.uuid, summary);
        }
    }
    for domain in everything {
        let Ok(id) = domain.uuid() else { continue };
        if out.contains_key(&id) {
            continue;
        }
        match summarize(&domain, None, generation) {
            Ok(summary) => {
                out.insert(id, summary);
            }
            Err(HostError::NoDomain) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
