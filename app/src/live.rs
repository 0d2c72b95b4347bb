//! The browser's side of live state (SPEC §5): one `EventSource` on `/api/v1/events` for the
//! whole app, writing into the [`VmStore`] every page reads. No timer anywhere: the browser
//! reconnects by itself when the stream drops, and the server answers with a fresh snapshot.

use leptos::prelude::*;

use crate::store::VmStore;

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
    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use serde::Deserialize;
    use wasm_bindgen::prelude::*;
    use web_sys::{EventSource, MessageEvent};

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

    fn listen(source: &EventSource, name: &str, handle: impl Fn(&str) + 'static) {
        let callback = Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(data) = event.data().as_string() {
                handle(&data);
            }
        });
        let _ = source.add_event_listener_with_callback(name, callback.as_ref().unchecked_ref());
        // Lives as long as the page: the stream is the page's for its whole life.
        callback.forget();
    }

    pub fn open_stream(live: Live) {
        let Ok(source) = EventSource::new("/api/v1/events") else {
            live.link.set(LinkState::Reconnecting);
            return;
        };
        let store = live.store;
        let link = live.link;
        listen(&source, "snapshot", move |data| {
            if let Ok(snapshot) = serde_json::from_str::<Snapshot>(data) {
                store.replace_from_stream(snapshot.vms);
                link.set(LinkState::Live);
            }
        });
        for name in ["vm_created", "vm_updated"] {
            listen(&source, name, move |data| {
                if let Ok(vm) = serde_json::from_str::<Vm>(data) {
                    store.upsert(vm);
                }
            });
        }
        listen(&source, "vm_deleted", move |data| {
            if let Ok(deleted) = serde_json::from_str::<Deleted>(data) {
                store.remove(deleted.uuid);
            }
        });
        let on_error = Closure::<dyn Fn()>::new(move || link.set(LinkState::Reconnecting));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();
        let source = SendWrapper::new(source);
        on_cleanup(move || source.close());
    }
}
