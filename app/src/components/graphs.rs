//! Resource graphs (a VM's, the host's): `graphs.js` draws them into this component's element
//! with uPlot — the range switch, the charts of the chosen range from `…/stats?range=…` (fed
//! live from `…/stats/live` while the range is the last hour) and, for the host, its capacity.
//! The glue and uPlot load with the first graph shown, never on other pages; the words and the
//! drawing live in the glue, so they weigh nothing on the dashboard's first load.

use leptos::html::Div;
use leptos::prelude::*;

/// `kind`: `vm` or `host` (what `graphs.js` draws); `base`: the stats URL without its query
/// (`/api/v1/vms/{uuid}/stats`).
#[component]
pub fn Graphs(kind: &'static str, base: String) -> impl IntoView {
    let target = NodeRef::<Div>::new();
    #[cfg(feature = "hydrate")]
    browser::draw(kind, base, target);
    #[cfg(not(feature = "hydrate"))]
    let _ = (kind, base);
    view! {
        <div class="graph-area" node_ref=target>
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

    #[wasm_bindgen]
    extern "C" {
        /// `window.limenGraphs`, which `graphs.js` sets.
        type GraphsApi;
        #[wasm_bindgen(method)]
        fn mount(this: &GraphsApi, target: &web_sys::Element, options: &JsValue) -> Handle;

        /// The graphs of one mount.
        type Handle;
        /// Resolves once the first range is drawn; rejects if it could not be loaded.
        #[wasm_bindgen(method, getter)]
        fn ready(this: &Handle) -> js_sys::Promise;
        #[wasm_bindgen(method)]
        fn destroy(this: &Handle);
    }

    const NOT_LOADED: &str =
        "The graphs could not be loaded from Limen; reload the page to try again.";

    /// Mounts the graphs once the element is there, and takes them down with the page.
    pub fn draw(kind: &'static str, base: String, target: NodeRef<Div>) {
        let current = StoredValue::new_local(None::<Handle>);
        Effect::new(move |_| {
            let Some(element) = target.get() else { return };
            let element = SendWrapper::new(element);
            let base = base.clone();
            leptos::task::spawn_local(async move {
                let api =
                    crate::glue::load_global("/graphs.js", "limen-graphs-js", "limenGraphs").await;
                let Ok(api) = api.map(JsCast::unchecked_into::<GraphsApi>) else {
                    element.set_inner_html(&format!(
                        "<p class=\"error\" role=\"alert\">{NOT_LOADED}</p>"
                    ));
                    return;
                };
                let options = js_sys::Object::new();
                let _ = js_sys::Reflect::set(&options, &"kind".into(), &kind.into());
                let _ = js_sys::Reflect::set(&options, &"base".into(), &base.as_str().into());
                let handle = api.mount(&element, &options);
                let ready = handle.ready();
                match current.try_update_value(|slot| slot.replace(handle)) {
                    Some(Some(old)) => old.destroy(),
                    Some(None) => {}
                    // The page went away meanwhile.
                    None => return,
                }
                // Its failure is shown by the glue itself; awaited so it is not "unhandled".
                let _ = wasm_bindgen_futures::JsFuture::from(ready).await;
            });
        });
        on_cleanup(move || {
            if let Some(handle) = current.try_update_value(Option::take).flatten() {
                handle.destroy();
            }
        });
    }
}
