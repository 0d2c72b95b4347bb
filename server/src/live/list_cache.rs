//! The VM list, computed once per change rather than once per request: every change to a VM
//! goes through the event bus, so the bus's last id names the list's version. A list computed
//! while a change was published is returned but not kept.

use std::sync::{Arc, Mutex};

use app::types::Vm;
use axum::body::Bytes;

/// One version of the list, as values (for filtering and server functions) and as JSON.
#[derive(Clone)]
pub struct CachedList {
    pub vms: Arc<Vec<Vm>>,
    pub json: Bytes,
}

impl CachedList {
    pub fn new(vms: Vec<Vm>) -> Self {
        let json = serde_json::to_vec(&vms).expect("a VM list serializes");
        Self {
            vms: Arc::new(vms),
            json: Bytes::from(json),
        }
    }
}

#[derive(Default)]
pub struct ListCache(Mutex<Option<(u64, CachedList)>>);

impl ListCache {
    /// The list of `version`, if it is the one kept.
    pub fn get(&self, version: u64) -> Option<CachedList> {
        let kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        kept.as_ref()
            .filter(|(kept_version, _)| *kept_version == version)
            .map(|(_, list)| list.clone())
    }

    pub fn put(&self, version: u64, list: CachedList) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((version, list));
    }
}
