//! Loading a page's JavaScript glue (browser only): `console.js` on the console page,
//! `graphs.js` where graphs are drawn. Each is a module script that sets a global object the
//! page then calls; it is added to the document once, when a page first needs it.

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::oneshot;
use leptos::prelude::{document, window};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::js_sys;

/// `window[global]`, after adding `src` as a module script (element id `id`) if it is not
/// there yet. A WASM chunk of its own: two pages' chunks call it, and code they share would
/// otherwise be part of the dashboard's first load.
#[leptos::lazy]
pub async fn load_global(
    src: &'static str,
    id: &'static str,
    global: &'static str,
) -> Result<JsValue, ()> {
    let window = window();
    let found = || {
        js_sys::Reflect::get(&window, &JsValue::from_str(global))
            .ok()
            .filter(JsValue::is_object)
    };
    if let Some(api) = found() {
        return Ok(api);
    }
    let document = document();
    let script = match document.get_element_by_id(id) {
        Some(script) => script,
        None => {
            let script = document.create_element("script").map_err(|_| ())?;
            script.set_id(id);
            script.set_attribute("type", "module").map_err(|_| ())?;
            script.set_attribute("src", src).map_err(|_| ())?;
            let head = document.query_selector("head").ok().flatten().ok_or(())?;
            head.append_child(&script).map_err(|_| ())?;
            script
        }
    };
    // A module script's `load` comes after it ran; `error` if it could not be fetched.
    let (sender, receiver) = oneshot::channel::<bool>();
    let sender = Rc::new(RefCell::new(Some(sender)));
    for (event, loaded) in [("load", true), ("error", false)] {
        let sender = Rc::clone(&sender);
        let listener = Closure::once_into_js(move || {
            if let Some(sender) = sender.borrow_mut().take() {
                let _ = sender.send(loaded);
            }
        });
        script
            .add_event_listener_with_callback(event, listener.unchecked_ref())
            .map_err(|_| ())?;
    }
    let loaded = receiver.await.unwrap_or(false);
    let api = if loaded { found() } else { None };
    if api.is_none() {
        // Not fetched, or it ran and failed: the next attempt adds it again (and hears its
        // `load` or `error`, which an element that already fired them would never send).
        script.remove();
    }
    api.ok_or(())
}
