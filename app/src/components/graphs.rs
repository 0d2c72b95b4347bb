//! Resource graphs (a VM's, the host's): a range switch and the charts `graphs.js` draws with
//! uPlot from `…/stats?range=…`, fed live from `…/stats/live` while the range is the last
//! hour. The glue and uPlot load with the first graph shown, never on other pages.

use leptos::html::Div;
use leptos::prelude::*;

use crate::stats::StatsRange;

fn range_label(range: StatsRange) -> &'static str {
    match range {
        StatsRange::Hour => "Hour",
        StatsRange::Day => "Day",
        StatsRange::Week => "Week",
        StatsRange::Month => "Month",
    }
}

/// [`Graphs`], as a WASM chunk of its own (the VM page and the host page share it; shared code
/// would otherwise be part of the dashboard's first load), in a `Suspense`.
#[component]
pub fn LazyGraphs(kind: &'static str, base: String) -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading graphs…"</p> }>
            {
                let base = base.clone();
                move || Suspend::new(graphs_lazily(kind, base.clone()))
            }
        </Suspense>
    }
}

#[leptos::lazy]
async fn graphs_lazily(kind: &'static str, base: String) -> AnyView {
    view! { <Graphs kind base/> }.into_any()
}

/// `kind`: `vm` or `host` (which charts `graphs.js` draws); `base`: the stats URL without its
/// query (`/api/v1/vms/{uuid}/stats`).
#[component]
pub fn Graphs(kind: &'static str, base: String) -> impl IntoView {
    let range = RwSignal::new(StatsRange::Hour);
    let target = NodeRef::<Div>::new();
    #[cfg(feature = "hydrate")]
    browser::draw(kind, base, range, target);
    #[cfg(not(feature = "hydrate"))]
    let _ = (kind, base);
    view! {
        <div class="graph-ranges" role="group" aria-label="Graph range">
            {StatsRange::ALL
                .into_iter()
                .map(|choice| {
                    view! {
                        <button
                            type="button"
                            aria-pressed=move || (range.get() == choice).to_string()
                            on:click=move |_| range.set(choice)
                        >
                            {range_label(choice)}
                        </button>
                    }
                })
                .collect_view()}
        </div>
        <div class="graphs" node_ref=target aria-live="off">
            <p class="muted">"Loading graphs…"</p>
        </div>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::html::Div;
    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;
    use web_sys::js_sys;

    use crate::stats::StatsRange;

    #[wasm_bindgen]
    extern "C" {
        /// `window.limenGraphs`, which `graphs.js` sets.
        type GraphsApi;
        #[wasm_bindgen(method)]
        fn mount(this: &GraphsApi, target: &web_sys::Element, options: &JsValue) -> Handle;

        /// The charts of one mount.
        type Handle;
        /// Resolves once the history is drawn; rejects if it could not be loaded.
        #[wasm_bindgen(method, getter)]
        fn ready(this: &Handle) -> js_sys::Promise;
        #[wasm_bindgen(method)]
        fn destroy(this: &Handle);
    }

    const NOT_LOADED: &str =
        "The graphs could not be loaded from Limen; reload the page to try again.";

    /// Draws the charts of the current range, again whenever the range changes, and takes
    /// them down with the page.
    pub fn draw(
        kind: &'static str,
        base: String,
        range: RwSignal<StatsRange>,
        target: NodeRef<Div>,
    ) {
        let current = StoredValue::new_local(None::<Handle>);
        // Which drawing is the latest: one started before another range was chosen (or the
        // same one chosen again) while the glue loaded never mounts.
        let latest = StoredValue::new(0u64);
        let drop_current = move || {
            if let Some(handle) = current.try_update_value(Option::take).flatten() {
                handle.destroy();
            }
        };
        Effect::new(move |_| {
            let shown = range.get();
            let Some(element) = target.get() else { return };
            drop_current();
            let mine = latest.try_update_value(|n| {
                *n += 1;
                *n
            });
            let element = SendWrapper::new(element);
            let (history, live) = urls(&base, shown);
            leptos::task::spawn_local(async move {
                let api =
                    crate::glue::load_global("/graphs.js", "limen-graphs-js", "limenGraphs").await;
                if mine.is_none() || latest.try_get_value() != mine {
                    // Another drawing was asked for (or the page left) while the glue loaded.
                    return;
                }
                let Ok(api) = api.map(JsCast::unchecked_into::<GraphsApi>) else {
                    element.set_inner_html(&format!(
                        "<p class=\"error\" role=\"alert\">{NOT_LOADED}</p>"
                    ));
                    return;
                };
                let options = js_sys::Object::new();
                let set = |key: &str, value: JsValue| {
                    let _ = js_sys::Reflect::set(&options, &JsValue::from_str(key), &value);
                };
                set("kind", JsValue::from_str(kind));
                set("history", JsValue::from_str(&history));
                set(
                    "live",
                    live.as_deref().map_or(JsValue::NULL, JsValue::from_str),
                );
                let handle = api.mount(&element, &options);
                let ready = handle.ready();
                let replaced = current.try_update_value(|slot| slot.replace(handle));
                match replaced {
                    Some(Some(old)) => old.destroy(),
                    Some(None) => {}
                    // The page went away meanwhile: the new one goes too.
                    None => return,
                }
                // Its failure is shown by the glue itself; awaited so it is not "unhandled".
                let _ = wasm_bindgen_futures::JsFuture::from(ready).await;
            });
        });
        on_cleanup(drop_current);
    }

    /// The history's URL for `range`, and the live stream's while the range is the last hour
    /// (the longer ranges step by minutes or more).
    fn urls(base: &str, range: StatsRange) -> (String, Option<String>) {
        let history = format!("{base}?range={}", range.as_str());
        let live = (range == StatsRange::Hour).then(|| format!("{base}/live"));
        (history, live)
    }
}
