//! The browser's side of live state (SPEC §5): one `EventSource` on `/api/v1/events` for the
//! whole app, writing into the [`VmStore`] every page reads. No timer anywhere: the browser
//! reconnects by itself when the stream drops, and the server answers with a fresh snapshot.

use leptos::prelude::*;

use crate::stats::Gauge;
use crate::store::VmStore;
use crate::types::VmId;

/// What the small indicator in the top bar says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// The page is rendering or the stream is opening.
    Connecting,
    /// The stream is open: what is shown is current.
    Live,
    /// The stream dropped; the browser is reconnecting.
    Reconnecting,
}

impl LinkState {
    pub fn label(self) -> &'static str {
        match self {
            LinkState::Connecting => "Connecting…",
            LinkState::Live => "Live",
            LinkState::Reconnecting => "Reconnecting…",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Connecting => "connecting",
            LinkState::Live => "live",
            LinkState::Reconnecting => "reconnecting",
        }
    }
}

/// The live store and link state, provided once by `App`.
#[derive(Clone, Copy)]
pub struct Live {
    pub store: VmStore,
    pub link: RwSignal<LinkState>,
    /// Grows whenever a library (ISOs, base images) may have changed: lists of them load again.
    pub library: RwSignal<u64>,
    /// Grows whenever the hosts may have changed (one added, changed, removed, lost or reached
    /// again): lists of them load again.
    pub hosts: RwSignal<u64>,
    /// The stream's `operation_progress` payloads (making a base image), newest last, at most
    /// [`OPERATION_EVENTS`]: kept as they came and read with [`latest_operations`] by the pages
    /// that show them, so the dashboard's first load carries no parser for them.
    ///
    /// [`latest_operations`]: crate::machine::latest_operations
    pub operations: RwSignal<Vec<String>>,
    /// The last `vm_snapshots` payload (`{"uuid": …}`, a VM whose snapshots changed) with a
    /// count that grows with each: the VM page's snapshot list loads again when it names its
    /// VM. After a reconnection the payload is empty: every list loads again.
    pub snapshots: RwSignal<(u64, String)>,
    /// The stream's last `vm_gauges` payload (the running VMs' CPU and memory use, replaced whole
    /// each statistics round) with a count that grows with each, like `snapshots` (the same
    /// signal type: a new one would cost the first load); a card reads its own with
    /// [`gauge_in`].
    pub gauges: RwSignal<(u64, String)>,
}

/// The gauge of `id` in a `vm_gauges` payload (`{"<uuid>":[cpu|null,memory|null],…}`, as the
/// server writes it), read without a JSON map parser: the dashboard's first load stays small.
pub fn gauge_in(payload: &str, id: VmId) -> Option<Gauge> {
    let key = format!("\"{id}\":[");
    let rest = &payload[payload.find(&key)? + key.len()..];
    let (cpu, rest) = rest.split_once(',')?;
    let memory = rest.split(']').next()?;
    Some((cpu.parse().ok(), memory.parse().ok()))
}

/// How many operation events the page keeps.
pub const OPERATION_EVENTS: usize = 64;

impl Live {
    /// A library changed: whatever lists it loads again.
    pub fn library_changed(&self) {
        self.library.update(|version| *version += 1);
    }

    /// A host was added, changed, removed, lost or reached again: whatever lists them loads
    /// again.
    pub fn hosts_changed(&self) {
        self.hosts.update(|version| *version += 1);
    }

    /// A VM's snapshots changed (`payload` names it; empty: any VM's may have).
    pub fn snapshots_changed(&self, payload: String) {
        self.snapshots.update(|(count, last)| {
            *count += 1;
            *last = payload;
        });
    }

    /// One more word on an operation (a `operation_progress` payload).
    pub fn operation_event(&self, payload: String) {
        self.operations.update(|events| {
            if events.len() == OPERATION_EVENTS {
                events.remove(0);
            }
            events.push(payload);
        });
    }
}

pub fn use_live() -> Live {
    use_context::<Live>().expect("App provides the live store")
}

/// Provides the store and, in the browser, opens the stream that feeds it once `logged_in` is
/// true (the stream needs a session; on the login and setup pages there is none).
pub fn provide_live(logged_in: Signal<bool>) -> Live {
    let live = Live {
        store: VmStore::default(),
        link: RwSignal::new(LinkState::Connecting),
        library: RwSignal::new(0),
        hosts: RwSignal::new(0),
        operations: RwSignal::new(Vec::new()),
        snapshots: RwSignal::new((0, String::new())),
        gauges: RwSignal::new((0, String::new())),
    };
    provide_context(live);
    // Effects run only in the browser, once hydrated. `logged_in` is a memo: it changes once,
    // when the current user is known, so the stream opens once (and would close on logout).
    Effect::new(move |_| {
        if logged_in.get() {
            #[cfg(feature = "hydrate")]
            browser::open_stream(live);
        }
    });
    live
}

#[cfg(feature = "hydrate")]
mod browser {
    use futures::stream::{select_all, StreamExt};
    use gloo_net::eventsource::futures::EventSource;
    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use serde::Deserialize;

    use super::{LinkState, Live};
    use crate::types::{Vm, VmId};

    #[derive(Deserialize)]
    struct Snapshot {
        vms: Vec<Vm>,
    }

    #[derive(Deserialize)]
    struct Deleted {
        uuid: VmId,
    }

    /// The stream's events, in the order they came; `error` is the browser's own event (the
    /// stream dropped, and it reconnects by itself unless the server refused it).
    const EVENTS: [&str; 10] = [
        "snapshot",
        "vm_created",
        "vm_updated",
        "vm_deleted",
        "media_changed",
        "hosts_changed",
        "operation_progress",
        "vm_snapshots",
        "vm_gauges",
        "error",
    ];

    pub fn open_stream(live: Live) {
        let link = live.link;
        let Ok(mut source) = EventSource::new("/api/v1/events") else {
            link.set(LinkState::Reconnecting);
            return;
        };
        let subscriptions = EVENTS
            .into_iter()
            .filter_map(|name| source.subscribe(name).ok())
            .collect::<Vec<_>>();
        let mut events = select_all(subscriptions);
        leptos::task::spawn_local(async move {
            while let Some(event) = events.next().await {
                match event {
                    Ok((name, message)) => {
                        let data = message.data().as_string().unwrap_or_default();
                        handle(live, &name, &data);
                    }
                    // Closed for good (refused, or closed on cleanup): nothing more will come.
                    Err(_) => {
                        link.set(LinkState::Reconnecting);
                        break;
                    }
                }
            }
        });
        // Dropping the source closes it.
        let source = SendWrapper::new(source);
        on_cleanup(move || drop(source));
    }

    fn handle(live: Live, name: &str, data: &str) {
        let Live { store, link, .. } = live;
        match name {
            // Sent first on every (re)connection: from now on what is shown is current (a
            // library or host change may have been missed while disconnected).
            "snapshot" => {
                if let Ok(snapshot) = serde_json::from_str::<Snapshot>(data) {
                    store.snapshot(snapshot.vms);
                    if link.get_untracked() == LinkState::Reconnecting {
                        live.library_changed();
                        live.hosts_changed();
                        live.snapshots_changed(String::new());
                    }
                    link.set(LinkState::Live);
                }
            }
            "media_changed" => live.library_changed(),
            "hosts_changed" => live.hosts_changed(),
            "operation_progress" => live.operation_event(data.to_string()),
            "vm_snapshots" => live.snapshots_changed(data.to_string()),
            "vm_gauges" => live.gauges.update(|(rounds, payload)| {
                *rounds += 1;
                *payload = data.to_string();
            }),
            "vm_created" | "vm_updated" => {
                if let Ok(vm) = serde_json::from_str::<Vm>(data) {
                    store.streamed(vm);
                }
            }
            "vm_deleted" => {
                if let Ok(deleted) = serde_json::from_str::<Deleted>(data) {
                    store.delete(deleted.uuid);
                }
            }
            _ => link.set(LinkState::Reconnecting),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_finds_its_gauge_in_the_payload() {
        let (a, b, c) = (
            VmId(uuid::Uuid::new_v4()),
            VmId(uuid::Uuid::new_v4()),
            VmId(uuid::Uuid::new_v4()),
        );
        // As the server writes it (serde_json of a map of (u8, Option<u8>)).
        let payload = serde_json::json!({
            a.to_string(): (Some(12u8), Some(34u8)),
            b.to_string(): (None::<u8>, None::<u8>),
        })
        .to_string();
        assert_eq!(gauge_in(&payload, a), Some((Some(12), Some(34))));
        assert_eq!(gauge_in(&payload, b), Some((None, None)));
        assert_eq!(gauge_in(&payload, c), None);
        assert_eq!(gauge_in("{}", a), None);
        assert_eq!(gauge_in("", a), None);
    }
}
