//! The browser's side: `console.js` and the viewers it makes, the ticket request, fullscreen.

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::oneshot;
use gloo_net::http::Request;
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::js_sys;

use super::connection::Console;
use super::words::{not_loaded, Refusal, Scaling, Which};
use crate::i18n::Locale;
use crate::tr;
use crate::types::VmId;

/// Where the page's glue is (`public/console.js`, copied to the site root).
const SCRIPT: &str = "/console.js";
const SCRIPT_ID: &str = "limen-console-js";

#[wasm_bindgen]
extern "C" {
    /// `window.limenConsole`, which `console.js` sets.
    pub type ConsoleApi;
    #[wasm_bindgen(method, js_name = openScreen)]
    fn open_screen(this: &ConsoleApi, target: &web_sys::Element, emit: &js_sys::Function)
        -> Viewer;
    #[wasm_bindgen(method, js_name = openSerial)]
    fn open_serial(this: &ConsoleApi, target: &web_sys::Element, emit: &js_sys::Function)
        -> Viewer;

    /// A screen or serial viewer (the methods a serial viewer lacks are never called on it).
    #[derive(Clone)]
    pub type Viewer;
    /// Loads the viewer's library: resolves once it can connect.
    #[wasm_bindgen(method)]
    fn ready(this: &Viewer) -> js_sys::Promise;
    #[wasm_bindgen(method)]
    fn connect(this: &Viewer, path: &str);
    #[wasm_bindgen(method)]
    fn disconnect(this: &Viewer);
    #[wasm_bindgen(method)]
    fn destroy(this: &Viewer);
    #[wasm_bindgen(method, js_name = setScaling)]
    fn set_scaling(this: &Viewer, mode: &str);
    #[wasm_bindgen(method, js_name = sendCtrlAltDel)]
    fn send_ctrl_alt_del(this: &Viewer);
    #[wasm_bindgen(method, js_name = sendCtrlAltFn)]
    fn send_ctrl_alt_fn(this: &Viewer, n: u8);
    #[wasm_bindgen(method, js_name = typeText)]
    fn type_text(this: &Viewer, text: &str, done: &JsValue);
    #[wasm_bindgen(method, js_name = saveLog)]
    fn save_log(this: &Viewer, filename: &str);
}

type Emit = Closure<dyn FnMut(String, u16, String)>;

/// What the page holds in the browser: the elements the viewers draw into, the viewers once
/// made, and the callbacks they report through (dropped after the viewers, on cleanup).
#[derive(Default)]
struct Inner {
    targets: Option<(web_sys::Element, web_sys::Element)>,
    screen: Option<Viewer>,
    serial: Option<Viewer>,
    emits: Vec<Emit>,
    gone: bool,
}

#[derive(Clone)]
pub struct Viewers(SendWrapper<Rc<RefCell<Inner>>>);

impl Default for Viewers {
    fn default() -> Self {
        Self(SendWrapper::new(Rc::default()))
    }
}

pub fn attach(console: Console, screen: web_sys::Element, serial: web_sys::Element) {
    console.viewers.with_value(|viewers| {
        viewers.0.borrow_mut().targets = Some((screen, serial));
    });
}

/// The page is gone: close both consoles and drop their callbacks.
pub fn detach(viewers: Viewers) {
    let mut inner = viewers.0.borrow_mut();
    inner.gone = true;
    for viewer in [inner.screen.take(), inner.serial.take()]
        .into_iter()
        .flatten()
    {
        viewer.destroy();
    }
    inner.emits.clear();
}

fn viewer(console: Console, which: Which) -> Option<Viewer> {
    console.viewers.try_with_value(|viewers| {
        let inner = viewers.0.borrow();
        match which {
            Which::Screen => inner.screen.clone(),
            Which::Serial => inner.serial.clone(),
        }
    })?
}

/// Makes sure `console.js` is loaded, `which`'s viewer exists and has loaded its library
/// (before a ticket is asked for: a ticket is valid for 30 s, loading may take longer).
pub async fn prepare(console: Console, which: Which) -> Result<(), String> {
    let viewer = match viewer(console, which) {
        Some(viewer) => viewer,
        None => make_viewer(console, which).await?,
    };
    wasm_bindgen_futures::JsFuture::from(viewer.ready())
        .await
        .map(|_| ())
        .map_err(|_| not_loaded(console.locale))
}

/// `which`'s viewer, made now.
async fn make_viewer(console: Console, which: Which) -> Result<Viewer, String> {
    let locale = console.locale;
    let api = load_api().await.map_err(|_| not_loaded(locale))?;
    let page_closed = || tr!(locale, console.page_closed).to_string();
    let Some(viewers) = console.viewers.try_get_value() else {
        return Err(page_closed());
    };
    let mut inner = viewers.0.borrow_mut();
    if inner.gone {
        return Err(page_closed());
    }
    let existing = match which {
        Which::Screen => inner.screen.clone(),
        Which::Serial => inner.serial.clone(),
    };
    if let Some(viewer) = existing {
        return Ok(viewer);
    }
    let Some((screen, serial)) = inner.targets.clone() else {
        return Err(tr!(locale, console.not_on_page_yet).into());
    };
    // Queued, not handled here: whatever a callback from JS reaches is kept in the main
    // WASM module by the splitter (its data, at least), so this callback stays small and
    // the page's effect does the rest.
    let reports = console.reports;
    let emit: Emit = Closure::new(move |kind: String, code: u16, text: String| {
        reports.try_update(|queue| queue.push((which, kind, code, text)));
    });
    let viewer = match which {
        Which::Screen => api.open_screen(&screen, emit.as_ref().unchecked_ref()),
        Which::Serial => api.open_serial(&serial, emit.as_ref().unchecked_ref()),
    };
    inner.emits.push(emit);
    match which {
        Which::Screen => {
            // Chosen before the viewer existed, perhaps.
            viewer.set_scaling(console.scaling.get_untracked().as_str());
            inner.screen = Some(viewer.clone());
        }
        Which::Serial => inner.serial = Some(viewer.clone()),
    }
    Ok(viewer)
}

/// `window.limenConsole`, after adding `console.js` as a module script if it is not there.
async fn load_api() -> Result<ConsoleApi, ()> {
    let window = window();
    let found = || {
        js_sys::Reflect::get(&window, &JsValue::from_str("limenConsole"))
            .ok()
            .filter(|api| api.is_object())
            .map(JsCast::unchecked_into::<ConsoleApi>)
    };
    if let Some(api) = found() {
        return Ok(api);
    }
    let document = document();
    let script = match document.get_element_by_id(SCRIPT_ID) {
        Some(script) => script,
        None => {
            let script = document.create_element("script").map_err(|_| ())?;
            script.set_id(SCRIPT_ID);
            script.set_attribute("type", "module").map_err(|_| ())?;
            script.set_attribute("src", SCRIPT).map_err(|_| ())?;
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

#[derive(Deserialize)]
struct Ticket {
    ticket: String,
}

/// A single-use console ticket for this VM. Asked for first because a refusal here can be
/// read (a refused WebSocket upgrade cannot).
pub async fn ticket(locale: Locale, id: VmId) -> Result<String, Refusal> {
    let unreachable = || Refusal::unreachable(locale);
    let request = Request::post(&format!("/api/v1/vms/{id}/console/ticket"))
        .header("content-type", "application/json")
        .body("{}")
        .map_err(|_| unreachable())?;
    let response = request.send().await.map_err(|_| unreachable())?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if (200..300).contains(&status) {
        serde_json::from_str::<Ticket>(&body)
            .map(|ticket| ticket.ticket)
            .map_err(|_| Refusal::unreadable(locale))
    } else {
        Err(Refusal::from_response(locale, status, &body))
    }
}

/// Opens `which` with `ticket`.
pub fn open(console: Console, which: Which, ticket: &str) {
    if let Some(viewer) = viewer(console, which) {
        let ticket = String::from(js_sys::encode_uri_component(ticket));
        viewer.connect(&format!(
            "/api/v1/vms/{}/{}?ticket={ticket}",
            console.id,
            which.endpoint()
        ));
    }
}

/// `which`'s socket (if any) closes and goes silent.
pub fn disconnect(console: Console, which: Which) {
    if let Some(viewer) = viewer(console, which) {
        viewer.disconnect();
    }
}

pub fn set_scaling(console: Console, mode: Scaling) {
    if let Some(viewer) = viewer(console, Which::Screen) {
        viewer.set_scaling(mode.as_str());
    }
}

pub fn ctrl_alt_del(console: Console) {
    if let Some(viewer) = viewer(console, Which::Screen) {
        viewer.send_ctrl_alt_del();
    }
}

pub fn ctrl_alt_fn(console: Console, n: u8) {
    if let Some(viewer) = viewer(console, Which::Screen) {
        viewer.send_ctrl_alt_fn(n);
    }
}

pub fn type_text(console: Console, text: &str, done: impl FnOnce(u32) + 'static) {
    match viewer(console, Which::Screen) {
        Some(viewer) => viewer.type_text(text, &Closure::once_into_js(done)),
        None => done(0),
    }
}

pub fn save_log(console: Console, filename: &str) {
    if let Some(viewer) = viewer(console, Which::Serial) {
        viewer.save_log(filename);
    }
}

pub fn toggle_fullscreen(frame: NodeRef<leptos::html::Div>) {
    let document = document();
    if document.fullscreen_element().is_some() {
        document.exit_fullscreen();
    } else if let Some(frame) = frame.get_untracked() {
        let _ = frame.request_fullscreen();
    }
}

pub fn focus_by_id(id: &str) {
    if let Some(element) = document()
        .get_element_by_id(id)
        .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = element.focus();
    }
}
