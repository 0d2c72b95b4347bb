//! Where a VM's or the host's graphs go. `graphs.js` (loaded by the module script here, once
//! per page load) finds this element, draws the range switch, the charts (uPlot; the last hour
//! fed live from `…/stats/live`) and the host's capacity into it, and takes them down when the
//! element leaves the page. No WASM is involved: the dashboard's first load carries none of it.

use leptos::prelude::*;

/// `kind`: `vm` or `host` (what `graphs.js` draws); `base`: the stats URL without its query
/// (`/api/v1/vms/{uuid}/stats`). The element stays empty for the glue to fill (hydration does
/// not look inside it).
#[component]
pub fn Graphs(kind: &'static str, base: String) -> impl IntoView {
    view! {
        <div class="graph-area" data-graphs-kind=kind data-graphs-base=base></div>
        <script type="module" src="/graphs.js"></script>
    }
}
