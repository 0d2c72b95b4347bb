//! The host page (admins): is the host full? Its capacity (vCPUs and memory given to VMs
//! against what it has, the data dir's free space, with a warning when it runs low) and its
//! CPU, memory and disk graphs, all drawn by `graphs.js` from `/api/v1/host/stats`.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::graphs::Graphs;
use crate::language::use_locale;
use crate::tr;

#[component]
pub fn HostPage() -> impl IntoView {
    let locale = use_locale();
    view! {
        <section class="host">
            <Title text=tr!(locale, admin.host_title)/>
            <h1>{tr!(locale, admin.host)}</h1>
            <Graphs kind="host" base="/api/v1/host/stats".to_string()/>
        </section>
    }
}
