//! The WASM entry point: hydrate the server-rendered page. Pages behind `Lazy` routes live in
//! WASM chunks of their own (`cargo leptos build --split`), loaded when they are visited, so
//! hydration waits for the current page's chunk (`hydrate_lazy`).
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_lazy(app::App);
}
