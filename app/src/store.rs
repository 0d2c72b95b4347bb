//! The browser's view of the VMs: one signal that every card reads. Server answers (and, later,
//! the live event stream) write into it; nothing refetches on a timer.

use leptos::prelude::*;

use crate::types::{Vm, VmId};

#[derive(Clone, Copy)]
pub struct VmStore(RwSignal<Vec<Vm>>);

impl Default for VmStore {
    fn default() -> Self {
        Self(RwSignal::new(Vec::new()))
    }
}

impl VmStore {
    pub fn replace(&self, mut vms: Vec<Vm>) {
        vms.sort_by(|a, b| a.name.cmp(&b.name));
        self.0.set(vms);
    }

    pub fn upsert(&self, vm: Vm) {
        self.0.update(
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
        self.0.update(|vms| vms.retain(|vm| vm.uuid != id));
    }

    /// Ids in display order (by name).
    pub fn ids(&self) -> Vec<VmId> {
        self.0.with(|vms| vms.iter().map(|vm| vm.uuid).collect())
    }

    pub fn get(&self, id: VmId) -> Option<Vm> {
        self.0
            .with(|vms| vms.iter().find(|vm| vm.uuid == id).cloned())
    }

    pub fn is_empty(&self) -> bool {
        self.0.with(Vec::is_empty)
    }
}
