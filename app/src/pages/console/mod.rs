//! The console page (SPEC §7, issue 10): the VM's screen through noVNC and its serial port
//! through xterm.js, both over Limen's authenticated WebSocket proxies, beside the VM's state
//! from the event stream.
//!
//! How a console connects: a single-use ticket is asked for with a POST (a refusal there is
//! readable, unlike a refused WebSocket upgrade, which a browser only sees as close code 1006),
//! then the WebSocket is opened with `?ticket=`. The server may start the VM first (autostart):
//! the status line says "Starting the VM…" while the store says it is not running. A failure
//! after the upgrade arrives as one JSON text message `{"error", "code"}` before the close; its
//! sentence is what the status line says. Nothing here waits on a timer: the console reconnects
//! by itself when the store says the VM runs again.
//!
//! The browser libraries are served by Limen from the built site (`/novnc/`, `/xterm/`; see
//! scripts/build.sh) and loaded by `public/console.js`, which this page adds as a module script
//! when it opens: no other page loads any of it.

#[cfg(feature = "hydrate")]
mod browser;
mod connection;
mod view;
pub mod words;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{lazy_route, LazyRoute};

use crate::language::use_locale;
use crate::live::use_live;
use crate::pages::vm_detail::route_vm_page;
use crate::tr;
use view::ConsoleView;

/// The route: split off the main WASM like every page but the dashboard.
pub struct ConsoleRoute;

#[lazy_route]
impl LazyRoute for ConsoleRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <ConsolePage/> }.into_any()
    }
}

/// The console page: the VM's name and state come from the same store as every page.
#[component]
pub fn ConsolePage() -> impl IntoView {
    let store = use_live().store;
    let locale = use_locale();
    view! {
        <section class="console-page">
            {route_vm_page(move |vm| {
                let (id, name) = (vm.uuid, vm.name);
                let title = tr!(locale, console.page_title, name = name.as_str()).to_string();
                view! {
                    <Title text=title/>
                    <ConsoleView id name store/>
                }
                .into_any()
            })}
        </section>
    }
}
