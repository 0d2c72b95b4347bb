//! The browser's view of the VMs: one signal that every card reads. The live event stream and
//! the server's answers write into it; nothing refetches on a timer.

use leptos::prelude::*;

use crate::types::{Vm, VmId};

#[derive(Clone, Copy)]
pub struct VmStore {
    vms: RwSignal<Vec<Vm>>,
    /// Set once the event stream delivered a snapshot: from then on it is the authority, and a
    /// page's server-rendered list (possibly older) must not overwrite it.
    streamed: RwSignal<bool>,
}

impl Default for VmStore {
    fn default() -> Self {
        Self {
            vms: RwSignal::new(Vec::new()),
            streamed: RwSignal::new(false),
        }
    }
}

impl VmStore {
    /// A list a page loaded (server-rendered or fetched): taken unless the stream is newer.
    pub fn replace(&self, vms: Vec<Vm>) {
        if !self.streamed.get_untracked() {
            self.set_sorted(vms);
        }
    }

    /// One VM a page loaded: taken unless the stream is the authority already (it then holds
    /// the VM if it exists, and must not get back one it saw deleted).
    pub fn offer(&self, vm: Vm) {
        if !self.streamed.get_untracked() {
            self.upsert(vm);
        }
    }

    /// A snapshot from the event stream: always the truth.
    pub fn replace_from_stream(&self, vms: Vec<Vm>) {
        self.streamed.set(true);
        self.set_sorted(vms);
    }

    fn set_sorted(&self, mut vms: Vec<Vm>) {
        vms.sort_by(|a, b| a.name.cmp(&b.name));
        self.vms.set(vms);
    }

    pub fn upsert(&self, vm: Vm) {
        self.vms.update(
            |vms| match vms.iter_mut().find(|known| known.uuid == vm.uuid) {
                Some(known) => *known = vm,
                None => {
                    vms.push(vm);
                    vms.sort_by(|a, b| a.name.cmp(&b.name));
                }
            },
        );
    }

    pub fn remove(&self, id: VmId) {
        self.vms.update(|vms| vms.retain(|vm| vm.uuid != id));
    }

    /// Ids in display order (by name).
    pub fn ids(&self) -> Vec<VmId> {
        self.vms.with(|vms| vms.iter().map(|vm| vm.uuid).collect())
    }

    pub fn get(&self, id: VmId) -> Option<Vm> {
        self.vms
            .with(|vms| vms.iter().find(|vm| vm.uuid == id).cloned())
    }

    pub fn is_empty(&self) -> bool {
        self.vms.with(Vec::is_empty)
    }
}
