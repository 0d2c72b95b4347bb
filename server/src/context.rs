//! What every layer below the HTTP edge works with: the database, the hosts, the disk
//! directory and the ISO and base-image libraries, the event bus, the resource statistics, and where detached work runs. Built once by `build_state`; cheap to
//! clone.

use std::sync::Arc;

use tokio_util::task::TaskTracker;

use crate::db::Db;
use crate::host::disk::DiskStore;
use crate::host::library::Library;
use crate::host::Hosts;
use crate::live::EventBus;
use crate::stats::Stats;

#[derive(Clone)]
pub struct Context {
    pub db: Db,
    pub hosts: Hosts,
    pub disks: DiskStore,
    pub isos: Library,
    pub images: Library,
    pub bus: Arc<EventBus>,
    /// The resource statistics: the last hour in memory, the live rounds, the cards' gauges.
    pub stats: Arc<Stats>,
    /// Where operations and background work run, detached from any request: a shutdown waits
    /// for them before the process exits.
    pub tasks: TaskTracker,
}
