//! The VM list, computed once per change rather than once per request: every change to a VM
//! goes through the event bus, so the bus's last id names the list's version. A list computed
//! while a change was published is returned but not kept.

use std::sync::{Arc, Mutex};

use std::io::Write;

use app::types::Vm;
use axum::body::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;

/// One version of the list, as values (for filtering and server functions), as JSON, and as
/// gzipped JSON (a list of 1,000 VMs is ~400 KB, ~10 times less gzipped).
#[derive(Clone)]
pub struct CachedList {
    pub vms: Arc<Vec<Vm>>,
    pub json: Bytes,
    pub gzip: Bytes,
}

impl CachedList {
    pub fn new(vms: Vec<Vm>) -> Self {
        let json = serde_json::to_vec(&vms).expect("a VM list serializes");
        let mut encoder = GzEncoder::new(Vec::with_capacity(json.len() / 8), Compression::fast());
        encoder
            .write_all(&json)
            .expect("writing to memory cannot fail");
        let gzip = encoder.finish().expect("writing to memory cannot fail");
        Self {
            vms: Arc::new(vms),
            json: Bytes::from(json),
            gzip: Bytes::from(gzip),
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
