//! Where a VM's or the host's graphs go. `graphs.js` (loaded by the module script here, once
//! per page load) finds this element, draws the range switch, the charts (uPlot; the last hour
//! fed live from `…/stats/live`) and the host's capacity into it, and takes them down when the
//! element leaves the page. No WASM is involved: the dashboard's first load carries none of it.
//! The words it shows are the page's language's (`graphs.json`), handed to it on the element.

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::i18n::{td_string, Locale};
use crate::language::use_locale;

/// `kind`: `vm` or `host` (what `graphs.js` draws); `base`: the stats URL without its query
/// (`/api/v1/vms/{uuid}/stats`). The element stays empty for the glue to fill (hydration does
/// not look inside it); `data-graphs-words` holds the glue's words, `data-graphs-loading` what
/// the empty element says (`graphs.css`).
#[component]
pub fn Graphs(kind: &'static str, base: String) -> impl IntoView {
    let locale = use_locale();
    view! {
        <div
            class="graph-area"
            data-graphs-kind=kind
            data-graphs-base=base
            data-graphs-words=words(locale)
            data-graphs-loading=td_string!(locale, graphs.loading)
        ></div>
        <script type="module" src="/graphs.js"></script>
    }
}

/// Every word `graphs.js` shows, as a JSON object by the translation key's name. A sentence
/// with values has `{name}` where the glue puts each value (numbers it formats itself).
fn words(locale: Locale) -> String {
    let words: BTreeMap<&str, String> = [
        ("failed", td_string!(locale, graphs.failed)),
        ("empty_vm", td_string!(locale, graphs.empty_vm)),
        ("empty_host", td_string!(locale, graphs.empty_host)),
        ("range_group", td_string!(locale, graphs.range_group)),
        ("range_hour", td_string!(locale, graphs.range_hour)),
        ("range_day", td_string!(locale, graphs.range_day)),
        ("range_week", td_string!(locale, graphs.range_week)),
        ("range_month", td_string!(locale, graphs.range_month)),
        ("usage", td_string!(locale, graphs.usage)),
        ("cpu", td_string!(locale, graphs.cpu)),
        ("memory", td_string!(locale, graphs.memory)),
        ("disk_io", td_string!(locale, graphs.disk_io)),
        ("network", td_string!(locale, graphs.network)),
        ("data_dir_free", td_string!(locale, graphs.data_dir_free)),
        ("cpu_graph", td_string!(locale, graphs.cpu_graph)),
        ("memory_graph", td_string!(locale, graphs.memory_graph)),
        ("disk_io_graph", td_string!(locale, graphs.disk_io_graph)),
        ("network_graph", td_string!(locale, graphs.network_graph)),
        ("host_cpu_graph", td_string!(locale, graphs.host_cpu_graph)),
        (
            "host_memory_graph",
            td_string!(locale, graphs.host_memory_graph),
        ),
        (
            "data_dir_free_graph",
            td_string!(locale, graphs.data_dir_free_graph),
        ),
        ("assigned", td_string!(locale, graphs.assigned)),
        ("used", td_string!(locale, graphs.used)),
        ("read", td_string!(locale, graphs.read)),
        ("write", td_string!(locale, graphs.write)),
        ("receive", td_string!(locale, graphs.receive)),
        ("transmit", td_string!(locale, graphs.transmit)),
        ("total", td_string!(locale, graphs.total)),
        ("free", td_string!(locale, graphs.free)),
        ("capacity", td_string!(locale, graphs.capacity)),
        (
            "capacity_unreadable",
            td_string!(locale, graphs.capacity_unreadable),
        ),
        (
            "vcpus_allocated",
            td_string!(locale, graphs.vcpus_allocated),
        ),
        (
            "memory_allocated",
            td_string!(locale, graphs.memory_allocated),
        ),
        ("data_dir", td_string!(locale, graphs.data_dir)),
    ]
    .into_iter()
    .map(|(key, text)| (key, text.to_string()))
    .chain([
        (
            "vcpus_value",
            td_string!(
                locale,
                graphs.vcpus_value,
                allocated = "{allocated}",
                host = "{host}",
                running = "{running}",
                overcommit = "{overcommit}",
            )
            .to_string(),
        ),
        (
            "memory_value",
            td_string!(
                locale,
                graphs.memory_value,
                allocated = "{allocated}",
                host = "{host}",
                running = "{running}",
                overcommit = "{overcommit}",
            )
            .to_string(),
        ),
        (
            "disk_value",
            td_string!(
                locale,
                graphs.disk_value,
                free = "{free}",
                total = "{total}",
                used = "{used}"
            )
            .to_string(),
        ),
        (
            "disk_low",
            td_string!(locale, graphs.disk_low, free = "{free}").to_string(),
        ),
    ])
    .collect();
    serde_json::to_string(&words).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_glue_gets_its_words_with_places_for_values() {
        let english: BTreeMap<String, String> = serde_json::from_str(&words(Locale::en)).unwrap();
        assert_eq!(english["failed"], "Could not load the graphs.");
        assert_eq!(english["range_day"], "Day");
        assert_eq!(english["cpu_graph"], "CPU usage graph");
        assert_eq!(
            english["vcpus_value"],
            "{allocated} of {host} CPUs ({running} running) · overcommit {overcommit}"
        );
        let korean: BTreeMap<String, String> = serde_json::from_str(&words(Locale::ko)).unwrap();
        assert_eq!(
            korean.keys().collect::<Vec<_>>(),
            english.keys().collect::<Vec<_>>()
        );
        assert!(korean["disk_low"].contains("{free}"));
        assert_eq!(korean["range_group"], "그래프 기간");
    }
}
