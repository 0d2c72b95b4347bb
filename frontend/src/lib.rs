//! The WASM entry point: hydrate the server-rendered page. Pages behind `Lazy` routes live in
//! WASM chunks of their own (`cargo leptos build --split`), loaded when they are visited, so
//! hydration is asynchronous: it waits for the current page's chunk.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    wasm_bindgen_futures::spawn_local(async {
        let body = leptos::prelude::document()
            .body()
            .expect("a page has a body");
        leptos::mount::hydrate_from_async(body, app::App)
            .await
            .forget();
        // Only now is every part of the page interactive, a lazily loaded page included.
        app::mark_hydrated();
    });
}
