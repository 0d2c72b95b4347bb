//! The event bus: every change to a VM that a browser or script should see, in order, with an
//! id. Publishers are the operations (create, delete), the writer of observed state and the
//! service's own verbs; subscribers are the `/api/v1/events` streams and the list cache.
//!
//! Ids grow for the life of the process and start from the clock (microseconds), so an id a
//! client kept from an earlier run of the server is older than every id of this one.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use app::types::{Vm, VmId};
use tokio::sync::broadcast;

use crate::host::HostKey;

#[derive(Debug, Clone)]
pub enum VmChange {
    /// A VM with its generation (and its host) is the whole change.
    Created(Vm),
    Updated(Vm),
    /// The owner travels with the deletion so a stream can decide who may see it.
    Deleted {
        uuid: VmId,
        owner: Option<String>,
        host: HostKey,
    },
    /// Many things may have changed at once (reconnect, reconcile): send a fresh snapshot.
    Resync,
    /// A file came into or left the ISO or base-image library: lists of them are stale.
    MediaChanged,
    /// A host was added, changed or removed, or was lost or reached again: lists of hosts are
    /// stale.
    Hosts,
    /// How a long operation is getting on: seen by admins, and by the owner of the VM it works
    /// on when it is a user's own (a snapshot; `owner: None` for the library's operations).
    Progress {
        progress: app::machine::OperationProgress,
        owner: Option<String>,
    },
    /// A VM's snapshots changed (taken, reverted to or deleted, by Limen or outside it): their
    /// lists are stale.
    Snapshots {
        uuid: VmId,
        owner: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct BusEvent {
    pub id: u64,
    pub change: VmChange,
}

pub struct EventBus {
    sender: broadcast::Sender<Arc<BusEvent>>,
    /// Held while an id is taken and the event sent, so ids arrive in order.
    last_id: Mutex<u64>,
}

impl EventBus {
    /// `capacity`: how many events a subscriber may fall behind before it is told it lagged
    /// (and then gets a snapshot instead).
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(0));
        Self {
            sender,
            last_id: Mutex::new(started),
        }
    }

    pub fn publish(&self, change: VmChange) -> u64 {
        let mut last = self.last_id.lock().unwrap_or_else(|p| p.into_inner());
        *last += 1;
        // No subscribers is fine: nobody is watching.
        let _ = self.sender.send(Arc::new(BusEvent { id: *last, change }));
        *last
    }

    /// A receiver of every event after the returned id.
    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<BusEvent>>, u64) {
        let last = self.last_id.lock().unwrap_or_else(|p| p.into_inner());
        (self.sender.subscribe(), *last)
    }

    /// The id of the last event published: the version of everything it describes.
    pub fn last_id(&self) -> u64 {
        *self.last_id.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn subscriber_count(&self) -> usize {
        self.sender.receiver_count()
    }
}
