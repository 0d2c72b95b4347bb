//! Where a VM's or the host's graphs go. `graphs.js` (loaded by the module script here, once
//! per page load) finds this element, draws the range switch, the charts (uPlot; the last hour
//! fed live from `…/stats/live`) and the host's capacity into it, and takes them down when the
//! element leaves the page. No WASM is involved: the dashboard's first load carries none of it.
//! The words it shows are the page's language's (`graphs.json`), handed to it on the element.

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::i18n::Locale;
use crate::language::use_locale;
use crate::tr;

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
            data-graphs-loading=tr!(locale, graphs.loading)
        ></div>
        <script type="module" src="/graphs.js"></script>
    }
}

/// Every word `graphs.js` shows, as a JSON object by the translation key's name. A sentence
/// with values has `{name}` where the glue puts each value (numbers it formats itself).
fn words(locale: Locale) -> String {
    let words: BTreeMap<&str, String> = [
        ("failed", tr!(locale, graphs.failed)),
        ("time", tr!(locale, graphs.time)),
        ("empty_vm", tr!(locale, graphs.empty_vm)),
        ("empty_host", tr!(locale, graphs.empty_host)),
        ("range_group", tr!(locale, graphs.range_group)),
        ("range_hour", tr!(locale, graphs.range_hour)),
        ("range_day", tr!(locale, graphs.range_day)),
        ("range_week", tr!(locale, graphs.range_week)),
        ("range_month", tr!(locale, graphs.range_month)),
        ("usage", tr!(locale, graphs.usage)),
        ("cpu", tr!(locale, graphs.cpu)),
        ("memory", tr!(locale, graphs.memory)),
        ("disk_io", tr!(locale, graphs.disk_io)),
        ("network", tr!(locale, graphs.network)),
        ("data_dir_free", tr!(locale, graphs.data_dir_free)),
        ("cpu_graph", tr!(locale, graphs.cpu_graph)),
        ("memory_graph", tr!(locale, graphs.memory_graph)),
        ("disk_io_graph", tr!(locale, graphs.disk_io_graph)),
        ("network_graph", tr!(locale, graphs.network_graph)),
        ("host_cpu_graph", tr!(locale, graphs.host_cpu_graph)),
        ("host_memory_graph", tr!(locale, graphs.host_memory_graph)),
        (
            "data_dir_free_graph",
            tr!(locale, graphs.data_dir_free_graph),
        ),
        ("assigned", tr!(locale, graphs.assigned)),
        ("used", tr!(locale, graphs.used)),
        ("read", tr!(locale, graphs.read)),
        ("write", tr!(locale, graphs.write)),
        ("receive", tr!(locale, graphs.receive)),
        ("transmit", tr!(locale, graphs.transmit)),
        ("total", tr!(locale, graphs.total)),
        ("free", tr!(locale, graphs.free)),
        ("capacity", tr!(locale, graphs.capacity)),
        (
            "capacity_unreadable",
            tr!(locale, graphs.capacity_unreadable),
        ),
        ("vcpus_allocated", tr!(locale, graphs.vcpus_allocated)),
        ("memory_allocated", tr!(locale, graphs.memory_allocated)),
        ("data_dir", tr!(locale, graphs.data_dir)),
        // Sentences with `{placeholders}` graphs.js fills with its numbers.
        ("vcpus_value", tr!(locale, graphs.vcpus_value)),
        ("memory_value", tr!(locale, graphs.memory_value)),
        ("disk_value", tr!(locale, graphs.disk_value)),
        ("disk_low", tr!(locale, graphs.disk_low)),
    ]
    .into_iter()
    .map(|(key, text)| (key, text.to_string()))
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
