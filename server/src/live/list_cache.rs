//! The VM list, computed once per change rather than once per request: every change to a VM
//! goes through the event bus, so the bus's last id names the list's version. A list computed
//! while a change was published is returned but not kept. How it is encoded on the wire (gzip
//! or not) is the HTTP edge's business (`api::vms`).

use std::sync::{Arc, Mutex};

use app::types::Vm;
use bytes::Bytes;

/// One version of the list, as values (for filtering and server functions) and as JSON (a
/// list of 1,000 VMs is ~400 KB: serialized once, not per request).
#[derive(Clone)]
pub struct CachedList {
    /// The bus id the list includes every change up to.
    pub version: u64,
    pub vms: Arc<Vec<Vm>>,
    pub json: Bytes,
}

impl CachedList {
    pub fn new(version: u64, vms: Vec<Vm>) -> Self {
        let json = serde_json::to_vec(&vms).expect("a VM list serializes");
        Self {
            version,
            vms: Arc::new(vms),
            json: Bytes::from(json),
        }
    }
}

#[derive(Default)]
pub struct ListCache(Mutex<Option<CachedList>>);

impl ListCache {
    /// The list of `version`, if it is the one kept.
    pub fn get(&self, version: u64) -> Option<CachedList> {
        let kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        kept.as_ref()
            .filter(|list| list.version == version)
            .cloned()
    }

    pub fn put(&self, list: CachedList) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(list);
    }
}
