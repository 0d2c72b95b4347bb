//! The browser's view of the VMs: one signal that every card reads. The live event stream, the
//! pages' lists and the actions' answers all write into it, and it keeps the newer version of
//! each VM by its `generation` (the server raises it with every change to the VM; equal means
//! the same), whatever order they arrive in. Nothing refetches on a timer.

use std::collections::{BTreeMap, HashSet};

use leptos::prelude::*;

use crate::machine::{role_counts, RoleCount};
use crate::types::{Vm, VmId};

/// The VMs known to this page and the ids the stream said were deleted. Plain data with the
/// ordering rules, so they are tested without a browser; [`VmStore`] puts it in a signal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VmSet {
    /// By name, for display.
    vms: Vec<Vm>,
    /// Deleted, according to the stream: no page list or answer brings these back, only the
    /// stream does (a forgotten record that was adopted again).
    deleted: HashSet<VmId>,
}

impl VmSet {
    /// A VM from a page's list or an action's answer: inserted if unknown, taking the place of
    /// the known one if it is at least as new. Never brings back a deleted VM.
    pub fn apply(&mut self, vm: Vm) -> bool {
        if self.deleted.contains(&vm.uuid) {
            return false;
        }
        self.keep_newer(vm)
    }

    /// `vm_created` / `vm_updated` from the stream: as [`apply`](Self::apply), and the id is
    /// no longer deleted (the stream saw it again).
    pub fn streamed(&mut self, vm: Vm) -> bool {
        self.deleted.remove(&vm.uuid);
        self.keep_newer(vm)
    }

    /// `vm_deleted` from the stream.
    pub fn delete(&mut self, id: VmId) -> bool {
        self.deleted.insert(id);
        let before = self.vms.len();
        self.vms.retain(|vm| vm.uuid != id);
        self.vms.len() != before
    }

    /// A `snapshot` from the stream: the set becomes exactly its VMs (the others are deleted),
    /// each in the newer of the known and the snapshot's version.
    pub fn snapshot(&mut self, vms: Vec<Vm>) -> bool {
        let ids: HashSet<VmId> = vms.iter().map(|vm| vm.uuid).collect();
        let mut changed = false;
        for gone in self.vms.iter().filter(|vm| !ids.contains(&vm.uuid)) {
            self.deleted.insert(gone.uuid);
        }
        let before = self.vms.len();
        self.vms.retain(|vm| ids.contains(&vm.uuid));
        changed |= self.vms.len() != before;
        for vm in vms {
            changed |= self.streamed(vm);
        }
        changed
    }

    fn keep_newer(&mut self, vm: Vm) -> bool {
        match self.vms.iter_mut().find(|known| known.uuid == vm.uuid) {
            Some(known) if vm.generation < known.generation || *known == vm => false,
            Some(known) => {
                let renamed = known.name != vm.name;
                *known = vm;
                if renamed {
                    self.sort();
                }
                true
            }
            None => {
                self.vms.push(vm);
                self.sort();
                true
            }
        }
    }

    fn sort(&mut self) {
        self.vms
            .sort_by(|a, b| a.name.cmp(&b.name).then(a.uuid.cmp(&b.uuid)));
    }

    pub fn get(&self, id: VmId) -> Option<&Vm> {
        self.vms.iter().find(|vm| vm.uuid == id)
    }

    /// Ids in display order (by name).
    pub fn ids(&self) -> Vec<VmId> {
        self.vms.iter().map(|vm| vm.uuid).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.vms.is_empty()
    }

    /// Ids in display order of the VMs with `role` on the host of key `host` (`None`: any).
    pub fn ids_matching(&self, role: Option<&str>, host: Option<&str>) -> Vec<VmId> {
        self.vms
            .iter()
            .filter(|vm| role.is_none() || vm.role.as_deref() == role)
            .filter(|vm| host.is_none_or(|host| vm.host == host))
            .map(|vm| vm.uuid)
            .collect()
    }

    /// The roles in use, with counts, by name.
    pub fn roles(&self) -> Vec<RoleCount> {
        role_counts(&self.vms)
    }

    /// The hosts the VMs are on, by key, each with how many.
    pub fn hosts(&self) -> Vec<(String, u64)> {
        let mut counts = BTreeMap::<&str, u64>::new();
        for vm in &self.vms {
            *counts.entry(vm.host.as_str()).or_default() += 1;
        }
        counts
            .into_iter()
            .map(|(host, count)| (host.to_string(), count))
            .collect()
    }

    /// Whether the VMs are on more than one host (a card then says which).
    pub fn several_hosts(&self) -> bool {
        self.vms
            .first()
            .is_some_and(|first| self.vms.iter().any(|vm| vm.host != first.host))
    }
}

/// [`VmSet`] in a signal: what the pages and the stream use.
#[derive(Clone, Copy)]
pub struct VmStore {
    set: RwSignal<VmSet>,
}

impl Default for VmStore {
    fn default() -> Self {
        Self {
            set: RwSignal::new(VmSet::default()),
        }
    }
}

impl VmStore {
    /// Runs `change` on the set; readers are notified only if it changed something.
    fn change(&self, change: impl FnOnce(&mut VmSet) -> bool) {
        let changed = self.set.try_update_untracked(change).unwrap_or(false);
        if changed {
            self.set.notify();
        }
    }

    /// A page's list (server-rendered or fetched): every VM through [`VmSet::apply`]; nothing
    /// is removed.
    pub fn apply_all(&self, vms: Vec<Vm>) {
        self.change(|set| {
            vms.into_iter()
                .fold(false, |changed, vm| set.apply(vm) | changed)
        });
    }

    /// One VM a page loaded or an action answered.
    pub fn apply(&self, vm: Vm) {
        self.change(|set| set.apply(vm));
    }

    pub fn streamed(&self, vm: Vm) {
        self.change(|set| set.streamed(vm));
    }

    pub fn delete(&self, id: VmId) {
        self.change(|set| set.delete(id));
    }

    pub fn snapshot(&self, vms: Vec<Vm>) {
        self.change(|set| set.snapshot(vms));
    }

    /// Ids in display order (by name).
    pub fn ids(&self) -> Vec<VmId> {
        self.set.with(VmSet::ids)
    }

    pub fn get(&self, id: VmId) -> Option<Vm> {
        self.set.with(|set| set.get(id).cloned())
    }

    pub fn is_empty(&self) -> bool {
        self.set.with(VmSet::is_empty)
    }

    pub fn ids_matching(&self, role: Option<&str>, host: Option<&str>) -> Vec<VmId> {
        self.set.with(|set| set.ids_matching(role, host))
    }

    pub fn roles(&self) -> Vec<RoleCount> {
        self.set.with(VmSet::roles)
    }

    pub fn hosts(&self) -> Vec<(String, u64)> {
        self.set.with(VmSet::hosts)
    }

    pub fn several_hosts(&self) -> bool {
        self.set.with(VmSet::several_hosts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::VmStatus;
    use uuid::Uuid;

    fn id(n: u128) -> VmId {
        VmId(Uuid::from_u128(n))
    }

    fn vm(n: u128, name: &str, status: VmStatus, generation: u64) -> Vm {
        crate::types::test_vm(n, name, status, generation)
    }

    fn status(set: &VmSet, n: u128) -> Option<VmStatus> {
        set.get(id(n)).map(|vm| vm.status)
    }

    #[test]
    fn apply_inserts_unknown_and_keeps_the_newer_generation() {
        let mut set = VmSet::default();
        assert!(set.apply(vm(1, "b", VmStatus::Stopped, 5)));
        // An older answer that arrives late (e.g. overtaken by a stream event) changes nothing.
        assert!(!set.apply(vm(1, "b", VmStatus::Running, 4)));
        assert_eq!(status(&set, 1), Some(VmStatus::Stopped));
        // A newer one replaces it, and so does the same generation (the same version).
        assert!(set.apply(vm(1, "b", VmStatus::Running, 6)));
        assert_eq!(status(&set, 1), Some(VmStatus::Running));
        assert!(set.apply(vm(1, "b", VmStatus::Paused, 6)));
        assert_eq!(status(&set, 1), Some(VmStatus::Paused));
        // Nothing to do for an identical copy.
        assert!(!set.apply(vm(1, "b", VmStatus::Paused, 6)));
    }

    #[test]
    fn ids_are_in_name_order_whatever_the_arrival_order() {
        let mut set = VmSet::default();
        set.apply(vm(1, "m", VmStatus::Stopped, 1));
        set.apply(vm(2, "a", VmStatus::Stopped, 1));
        set.streamed(vm(3, "z", VmStatus::Stopped, 1));
        assert_eq!(set.ids(), vec![id(2), id(1), id(3)]);
        // A rename moves it.
        set.apply(vm(3, "b", VmStatus::Stopped, 2));
        assert_eq!(set.ids(), vec![id(2), id(3), id(1)]);
    }

    #[test]
    fn a_deleted_vm_is_not_brought_back_by_a_page_list_or_a_late_answer() {
        let mut set = VmSet::default();
        set.apply(vm(1, "a", VmStatus::Running, 3));
        assert!(set.delete(id(1)));
        assert!(set.is_empty());
        // An older server-rendered list, or an action's answer that was on its way.
        assert!(!set.apply(vm(1, "a", VmStatus::Running, 3)));
        assert!(!set.apply(vm(1, "a", VmStatus::Stopped, 4)));
        assert!(set.is_empty());
        // Deleting what is not known still remembers it (the list may come later).
        assert!(!set.delete(id(2)));
        assert!(!set.apply(vm(2, "b", VmStatus::Stopped, 1)));
        assert!(set.is_empty());
    }

    #[test]
    fn the_stream_can_bring_a_deleted_id_back() {
        let mut set = VmSet::default();
        set.apply(vm(1, "a", VmStatus::Running, 3));
        set.delete(id(1));
        // A forgotten record adopted again: the stream announces it.
        assert!(set.streamed(vm(1, "a", VmStatus::Stopped, 9)));
        assert_eq!(status(&set, 1), Some(VmStatus::Stopped));
        // From then on it follows the ordinary rules again.
        assert!(set.apply(vm(1, "a", VmStatus::Running, 10)));
        assert_eq!(status(&set, 1), Some(VmStatus::Running));
        // The stream's own events are ordered by generation too.
        assert!(!set.streamed(vm(1, "a", VmStatus::Paused, 8)));
        assert_eq!(status(&set, 1), Some(VmStatus::Running));
    }

    #[test]
    fn a_snapshot_makes_the_set_exactly_its_vms_keeping_the_newer_of_each() {
        let mut set = VmSet::default();
        set.apply(vm(1, "a", VmStatus::Running, 7));
        set.apply(vm(2, "b", VmStatus::Stopped, 2));
        set.apply(vm(3, "c", VmStatus::Stopped, 2));
        set.delete(id(4));
        let changed = set.snapshot(vec![
            // Older than what an action's answer already brought: the known one stays.
            vm(1, "a", VmStatus::Stopped, 6),
            // Newer: taken.
            vm(2, "b", VmStatus::Running, 3),
            // Deleted before, in the snapshot now: back.
            vm(4, "d", VmStatus::Stopped, 5),
        ]);
        assert!(changed);
        assert_eq!(set.ids(), vec![id(1), id(2), id(4)]);
        assert_eq!(status(&set, 1), Some(VmStatus::Running));
        assert_eq!(status(&set, 2), Some(VmStatus::Running));
        // Not in the snapshot: gone, and a late list does not bring it back.
        assert!(!set.apply(vm(3, "c", VmStatus::Stopped, 2)));
        assert_eq!(set.get(id(3)), None);
        // The same snapshot again changes nothing.
        assert!(!set.snapshot(vec![
            vm(1, "a", VmStatus::Running, 7),
            vm(2, "b", VmStatus::Running, 3),
            vm(4, "d", VmStatus::Stopped, 5),
        ]));
    }

    #[test]
    fn vms_are_filtered_by_role_and_host_and_the_hosts_counted() {
        let mut set = VmSet::default();
        assert!(!set.several_hosts());
        let mut web = vm(1, "a", VmStatus::Stopped, 1);
        web.role = Some("web".into());
        set.apply(web);
        set.apply(vm(2, "b", VmStatus::Stopped, 1));
        assert!(!set.several_hosts(), "every VM on the local host");
        assert_eq!(set.hosts(), vec![("local".to_string(), 2)]);
        let mut elsewhere = vm(3, "c", VmStatus::Stopped, 1);
        elsewhere.host = "second".into();
        elsewhere.role = Some("web".into());
        set.apply(elsewhere);
        assert!(set.several_hosts());
        assert_eq!(
            set.hosts(),
            vec![("local".to_string(), 2), ("second".to_string(), 1)]
        );
        assert_eq!(set.ids_matching(None, None), vec![id(1), id(2), id(3)]);
        assert_eq!(set.ids_matching(None, Some("local")), vec![id(1), id(2)]);
        assert_eq!(set.ids_matching(Some("web"), None), vec![id(1), id(3)]);
        assert_eq!(set.ids_matching(Some("web"), Some("second")), vec![id(3)]);
        assert!(set.ids_matching(None, Some("nowhere")).is_empty());
    }

    #[test]
    fn the_store_signal_follows_the_same_rules() {
        use leptos::prelude::Owner;
        let owner = Owner::new();
        owner.with(|| {
            let store = VmStore::default();
            store.apply_all(vec![
                vm(2, "b", VmStatus::Stopped, 1),
                vm(1, "a", VmStatus::Stopped, 1),
            ]);
            assert_eq!(store.ids(), vec![id(1), id(2)]);
            store.delete(id(1));
            store.apply(vm(1, "a", VmStatus::Running, 2));
            assert_eq!(store.ids(), vec![id(2)]);
            store.snapshot(vec![vm(1, "a", VmStatus::Running, 2)]);
            assert_eq!(
                store.get(id(1)).map(|vm| vm.status),
                Some(VmStatus::Running)
            );
            assert_eq!(store.ids(), vec![id(1)]);
        });
    }
}
