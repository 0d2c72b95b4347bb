//! Limen's dashboard: the Leptos app shared by server-side rendering and the WASM hydrate build,
//! plus the wire types and errors shared with the REST API.

pub mod api;
pub mod components;
pub mod error;
pub mod live;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ports;
pub mod report;
pub mod store;
pub mod types;
pub mod validate;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    ParamSegment, StaticSegment,
};

use crate::live::provide_live;

/// The HTML document around the app (server-side only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.ico"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser: this marker tells a test (and a person debugging) that the
    // WASM loaded and hydrated, not just that the server rendered HTML.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let live = provide_live();

    view! {
        <Stylesheet id="leptos" href="/pkg/limen.css"/>
        <Title text="Limen"/>
        <Router>
            <header class="topbar">
                <a class="brand" href="/">"Limen"</a>
                <nav aria-label="Main">
                    <A href="/">"Machines"</A>
                    <A href="/admin/reconcile">"Reconcile"</A>
                </nav>
                <span
                    class=move || format!("live-indicator live-{}", live.link.get().as_str())
                    role="status"
                    aria-label="Live updates"
                >
                    {move || live.link.get().label()}
                </span>
            </header>
            <main data-hydrated=move || hydrated.get().to_string()>
                <Routes fallback=|| view! { <p>"Page not found."</p> }>
                    <Route path=StaticSegment("") view=pages::dashboard::DashboardPage/>
                    <Route
                        path=(StaticSegment("vms"), ParamSegment("uuid"))
                        view=pages::vm_detail::VmDetailPage
                    />
                    <Route
                        path=(StaticSegment("admin"), StaticSegment("reconcile"))
                        view=pages::reconcile::ReconcilePage
                    />
                </Routes>
            </main>
        </Router>
    }
}
