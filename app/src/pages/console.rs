//! The console page (SPEC §7, issue 10): the VM's screen through noVNC and its serial port
//! through xterm.js, both over Limen's authenticated WebSocket proxies, beside the VM's state
//! from the event stream.
//!
//! How a console connects: a single-use ticket is asked for with a POST (a refusal there is
//! readable, unlike a refused WebSocket upgrade, which a browser only sees as close code 1006),
//! then the WebSocket is opened with `?ticket=`. The server may start the VM first (autostart):
//! the status line says "Starting the VM…" while the store says it is not running. A failure
//! after the upgrade arrives as one JSON text message `{"error", "code"}` before the close; its
//! sentence is what the status line says. Nothing here waits on a timer: the console reconnects
//! by itself when the store says the VM runs again.
//!
//! The browser libraries are served by Limen from the built site (`/novnc/`, `/xterm/`; see
//! scripts/build.sh) and loaded by `public/console.js`, which this page adds as a module script
//! when it opens: no other page loads any of it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use leptos_router::{lazy_route, LazyRoute};
use serde::Deserialize;

use crate::api::vms::{act_on_vm, get_vm};
use crate::error::ErrorCode;
use crate::live::{use_live, LinkState};
use crate::pages::vm_detail::unavailable;
use crate::store::VmStore;
use crate::types::{Vm, VmAction, VmId, VmStatus};

/// The route: split off the main WASM like every page but the dashboard.
pub struct ConsoleRoute;

#[lazy_route]
impl LazyRoute for ConsoleRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <ConsolePage/> }.into_any()
    }
}

/// The most text "Paste text" types at once: typing is paced (a keyboard queue overflows
/// otherwise), and 4,096 characters already take about forty seconds.
pub const PASTE_LIMIT: usize = 4096;

/// Which of the page's two consoles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The graphical console (VNC through noVNC).
    Screen,
    /// The serial port (through xterm.js).
    Serial,
}

impl Which {
    /// The endpoint under `/api/v1/vms/{uuid}/`.
    pub fn endpoint(self) -> &'static str {
        match self {
            Which::Screen => "console",
            Which::Serial => "serial",
        }
    }

    fn tab_label(self) -> &'static str {
        match self {
            Which::Screen => "Screen",
            Which::Serial => "Serial console",
        }
    }

    fn id(self) -> &'static str {
        match self {
            Which::Screen => "screen",
            Which::Serial => "serial",
        }
    }
}

/// Where one console's connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Not opened yet (the serial console until its tab is first shown).
    Idle,
    /// Loading the viewer, asking for a ticket, opening the WebSocket, or (screen) the VNC
    /// handshake. `accepted`: the server took the WebSocket (it may be starting the VM).
    Connecting {
        accepted: bool,
    },
    /// The screen finished the VNC handshake; the serial socket is open.
    Connected,
    Closed(Closed),
}

/// A connection that ended, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub kind: CloseKind,
    /// The sentence the status line shows.
    pub reason: String,
    /// The VM's generation when it closed: the console reconnects by itself only when a newer
    /// version of the VM says it runs (so a stale store never makes it loop).
    pub generation: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind {
    /// The VM is not running (it stopped, or autostart is off): the page offers Start, and
    /// reconnects when the VM runs again.
    VmNotRunning,
    /// The session or token ended: log in again.
    SessionEnded,
    /// Limen is shutting down or restarting: reconnect once its event stream is back.
    ServerStopping,
    /// Anything else, in words.
    Failed,
}

/// The server's words for a refusal: a ticket request's error body, or the one text message
/// before a WebSocket closes. The code is kept as text: the console adds codes of its own
/// (`VM_START_FAILED`, `VNC_UNAVAILABLE`, …).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Refusal {
    pub error: String,
    #[serde(default)]
    pub code: String,
}

impl Refusal {
    /// A text message from the server: JSON `{"error", "code"}`, or (never expected) any other
    /// text, which is then the sentence itself.
    pub fn from_text(text: &str) -> Option<Refusal> {
        match serde_json::from_str::<Refusal>(text) {
            Ok(refusal) if !refusal.error.trim().is_empty() => Some(refusal),
            _ if !text.trim().is_empty() && !text.trim_start().starts_with('{') => Some(Refusal {
                error: text.trim().to_string(),
                code: String::new(),
            }),
            _ => None,
        }
    }

    /// An HTTP error answer (the ticket request): its body if it is ours, else the status in
    /// words.
    pub fn from_response(status: u16, body: &str) -> Refusal {
        serde_json::from_str::<Refusal>(body)
            .ok()
            .filter(|refusal| !refusal.error.trim().is_empty())
            .unwrap_or_else(|| Refusal {
                error: match status {
                    401 => "Log in again to open the console.".into(),
                    404 => "No such virtual machine.".into(),
                    502..=504 => "Limen could not be reached to open the console.".into(),
                    _ => format!("Limen refused to open the console (HTTP status {status})."),
                },
                code: match status {
                    401 => "UNAUTHORIZED".into(),
                    404 => "VM_NOT_FOUND".into(),
                    _ => String::new(),
                },
            })
    }

    pub fn kind(&self) -> CloseKind {
        match self.code.as_str() {
            "VM_NOT_RUNNING" => CloseKind::VmNotRunning,
            "UNAUTHORIZED" => CloseKind::SessionEnded,
            _ => CloseKind::Failed,
        }
    }
}

/// What one connection attempt saw before it closed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// The server accepted the WebSocket.
    pub accepted: bool,
    /// The screen's VNC handshake finished.
    pub connected: bool,
    /// The server's text message.
    pub refusal: Option<Refusal>,
    /// The VNC session failed on the browser's side (noVNC), in words.
    pub vnc_error: Option<String>,
}

/// Why a WebSocket closed, in words: the server's own sentence when it sent one (the text
/// message, else the close reason), else what the close code means. Never "unknown reason".
pub fn close_words(seen: &Seen, code: u16, reason: &str) -> (CloseKind, String) {
    if let Some(refusal) = &seen.refusal {
        return (refusal.kind(), refusal.error.clone());
    }
    if let Some(error) = &seen.vnc_error {
        return (CloseKind::Failed, error.clone());
    }
    let reason = reason.trim();
    let given = |fallback: &str| {
        if reason.is_empty() {
            fallback.to_string()
        } else {
            reason.to_string()
        }
    };
    match code {
        1000 => (CloseKind::Failed, given("Limen closed the console.")),
        1001 => (
            CloseKind::ServerStopping,
            given("Limen is shutting down or restarting; the console reconnects when it is back."),
        ),
        1008 => (
            CloseKind::SessionEnded,
            given(
                "Your session ended (logged out, token revoked or account disabled): log in again.",
            ),
        ),
        1011 => (
            CloseKind::Failed,
            given("The console failed on the server (its log says why)."),
        ),
        // The browser's own code: the connection broke without a close frame, or the upgrade
        // was refused (a browser cannot read why).
        1006 if !seen.accepted => (
            CloseKind::Failed,
            "Could not connect to the console: Limen refused or did not answer the connection."
                .into(),
        ),
        1006 => (
            CloseKind::Failed,
            "The connection to Limen was lost.".into(),
        ),
        code => (
            CloseKind::Failed,
            given(&format!("The console connection closed (code {code}).")),
        ),
    }
}

/// What the status line says for a console in `link`, given the VM's status in the store.
pub fn status_line(link: &Link, vm: Option<VmStatus>) -> String {
    let not_running = matches!(vm, Some(VmStatus::Stopped | VmStatus::Crashed));
    match link {
        Link::Idle => "Not connected.".into(),
        Link::Connecting { .. } if not_running => "Starting the VM…".into(),
        Link::Connecting { .. } if vm == Some(VmStatus::Paused) => "Resuming the VM…".into(),
        Link::Connecting { .. } => "Connecting…".into(),
        // The serial socket opens before the server has started the VM.
        Link::Connected if not_running => "Starting the VM…".into(),
        Link::Connected if vm == Some(VmStatus::Paused) => "Connected; the VM is paused.".into(),
        Link::Connected => "Connected.".into(),
        Link::Closed(closed) => closed.reason.clone(),
    }
}

/// Whether a closed console should reconnect by itself now: the VM runs, in a newer version
/// than when the console closed, and it closed because the VM was not running or failed (a VM
/// that could not start and was started since).
pub fn reconnects(link: &Link, vm: Option<&Vm>) -> bool {
    match (link, vm) {
        (Link::Closed(closed), Some(vm)) => {
            matches!(closed.kind, CloseKind::VmNotRunning | CloseKind::Failed)
                && vm.status == VmStatus::Running
                && vm.generation > closed.generation
        }
        _ => false,
    }
}

/// Why `text` cannot be typed, in words; `None` if it can.
pub fn paste_problem(text: &str) -> Option<String> {
    let count = text.chars().count();
    if count == 0 {
        Some("There is no text to type.".into())
    } else if count > PASTE_LIMIT {
        Some(format!(
            "That is {count} characters; at most {PASTE_LIMIT} can be typed at once. Paste a \
             shorter text."
        ))
    } else {
        None
    }
}

/// How the screen is fitted into the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaling {
    /// Scaled down (or up) to the space the page has.
    Fit,
    /// One screen pixel per page pixel; scroll to see the rest.
    Actual,
    /// Ask the guest to change its resolution to the space the page has.
    Remote,
}

impl Scaling {
    pub const ALL: [Scaling; 3] = [Scaling::Fit, Scaling::Actual, Scaling::Remote];

    /// The value `console.js` knows.
    pub fn as_str(self) -> &'static str {
        match self {
            Scaling::Fit => "fit",
            Scaling::Actual => "actual",
            Scaling::Remote => "remote",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Scaling::Fit => "Fit to the page",
            Scaling::Actual => "Actual size (1:1)",
            Scaling::Remote => "Resize the guest's screen",
        }
    }
}

/// The console page: the VM's name and state come from the same store as every page.
#[component]
pub fn ConsolePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("uuid")
            .and_then(|raw| raw.parse::<VmId>().ok())
    };
    let store = use_live().store;
    let initial = Resource::new(id, |id| async move {
        match id {
            Some(id) => get_vm(id).await.map(Some),
            None => Ok(None),
        }
    });

    view! {
        <section class="console-page">
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match initial.await {
                        Ok(Some(vm)) => {
                            let id = vm.uuid;
                            let name = vm.name.clone();
                            store.apply(vm);
                            view! {
                                <Title text=format!("Console of {name} · Limen")/>
                                <ConsoleView id name store/>
                            }
                            .into_any()
                        }
                        Ok(None) => unavailable(true, "No such virtual machine.".into()),
                        Err(error) => {
                            unavailable(error.code == ErrorCode::VmNotFound, error.message)
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

/// One console's state on the page.
#[derive(Clone, Copy)]
struct Conn {
    link: RwSignal<Link>,
    /// Raised by every connect: a ticket that comes back for an older attempt is dropped.
    attempt: StoredValue<u32>,
    seen: StoredValue<Seen>,
}

impl Conn {
    fn new(link: Link) -> Self {
        Self {
            link: RwSignal::new(link),
            attempt: StoredValue::new(0),
            seen: StoredValue::new(Seen::default()),
        }
    }
}

/// Both consoles of the page, and (in the browser) the viewers that `console.js` made.
#[derive(Clone, Copy)]
struct Console {
    id: VmId,
    store: VmStore,
    screen: Conn,
    serial: Conn,
    /// Reports from `console.js`, handled by an effect of the page (see `browser::prepare`).
    reports: RwSignal<Vec<Report>>,
    #[cfg(feature = "hydrate")]
    viewers: StoredValue<browser::Viewers>,
}

/// One report from `console.js`: which console, its kind, a close code, a text.
type Report = (Which, String, u16, String);

impl Console {
    fn new(id: VmId, store: VmStore) -> Self {
        Self {
            id,
            store,
            // The screen connects as soon as the page is interactive.
            screen: Conn::new(Link::Connecting { accepted: false }),
            serial: Conn::new(Link::Idle),
            reports: RwSignal::new(Vec::new()),
            #[cfg(feature = "hydrate")]
            viewers: StoredValue::new(browser::Viewers::default()),
        }
    }

    fn conn(self, which: Which) -> Conn {
        match which {
            Which::Screen => self.screen,
            Which::Serial => self.serial,
        }
    }

    fn generation(self) -> u64 {
        self.store.get(self.id).map_or(0, |vm| vm.generation)
    }

    fn close(self, which: Which, kind: CloseKind, reason: String) {
        let generation = self.generation();
        self.conn(which).link.try_set(Link::Closed(Closed {
            kind,
            reason,
            generation,
        }));
    }

    /// (Re)connects `which`: a new ticket, a new WebSocket.
    fn connect(self, which: Which) {
        let conn = self.conn(which);
        let Some(attempt) = conn.attempt.try_update_value(|n| {
            *n += 1;
            *n
        }) else {
            return;
        };
        conn.seen.set_value(Seen::default());
        conn.link.set(Link::Connecting { accepted: false });
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let current = move || conn.attempt.try_get_value() == Some(attempt);
            match browser::prepare(self, which).await {
                Ok(()) => {}
                Err(problem) if current() => return self.close(which, CloseKind::Failed, problem),
                Err(_) => return,
            }
            let ticket = browser::ticket(self.id).await;
            if !current() {
                return;
            }
            match ticket {
                Ok(ticket) => browser::open(self, which, &ticket),
                Err(refusal) => self.close(which, refusal.kind(), refusal.error),
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = attempt;
    }

    /// A report from `console.js` about `which`'s connection (see the top of that file).
    fn report(self, which: Which, kind: &str, code: u16, text: String) {
        let conn = self.conn(which);
        match kind {
            "open" => {
                conn.seen.try_update_value(|seen| seen.accepted = true);
                conn.link.try_set(match which {
                    Which::Screen => Link::Connecting { accepted: true },
                    // No handshake to wait for: bytes flow from now on.
                    Which::Serial => Link::Connected,
                });
            }
            "connected" => {
                conn.seen.try_update_value(|seen| seen.connected = true);
                conn.link.try_set(Link::Connected);
            }
            "failure" => {
                let refusal = Refusal::from_text(&text);
                conn.seen.try_update_value(|seen| seen.refusal = refusal);
            }
            "vnc-error" => {
                conn.seen
                    .try_update_value(|seen| seen.vnc_error = Some(text));
            }
            "library" => self.close(
                which,
                CloseKind::Failed,
                "The console viewer could not be loaded from Limen; reload the page to try again."
                    .into(),
            ),
            "closed" => {
                let seen = conn.seen.try_get_value().unwrap_or_default();
                // Refused before the upgrade: the browser saw 1006 and nothing else. Limen says
                // why to a plain request, which is asked now.
                #[cfg(feature = "hydrate")]
                if code == 1006 && !seen.accepted && seen.refusal.is_none() {
                    let attempt = conn.attempt.get_value();
                    leptos::task::spawn_local(async move {
                        let refusal = browser::diagnose(self.id, which).await;
                        if conn.attempt.try_get_value() != Some(attempt) {
                            return;
                        }
                        let (kind, reason) = match refusal {
                            Some(refusal) => (refusal.kind(), refusal.error),
                            None => close_words(&seen, code, &text),
                        };
                        self.close(which, kind, reason);
                    });
                    return;
                }
                let (kind, reason) = close_words(&seen, code, &text);
                self.close(which, kind, reason);
            }
            _ => {}
        }
    }
}

/// The console itself: tabs for the screen and the serial port, their toolbars and status
/// lines, and the VM's state beside them.
#[component]
fn ConsoleView(id: VmId, name: String, store: VmStore) -> impl IntoView {
    let live = use_live();
    let vm = Memo::new(move |_| store.get(id));
    let status = Memo::new(move |_| vm.with(|vm| vm.as_ref().map(|vm| vm.status)));
    let console = Console::new(id, store);
    let tab = RwSignal::new(Which::Screen);
    let scaling = RwSignal::new(Scaling::Fit);
    let fullscreen = RwSignal::new(false);
    let frame = NodeRef::<leptos::html::Div>::new();
    let screen_target = NodeRef::<leptos::html::Div>::new();
    let serial_target = NodeRef::<leptos::html::Div>::new();

    // What `console.js` reported, in order.
    Effect::new(move |_| {
        console.reports.track();
        let queue = console
            .reports
            .try_update_untracked(std::mem::take)
            .unwrap_or_default();
        for (which, kind, code, text) in queue {
            console.report(which, &kind, code, text);
        }
    });

    // Once the page is interactive: the viewers get their elements and the screen connects.
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        let (Some(_screen), Some(_serial)) = (screen_target.get(), serial_target.get()) else {
            return false;
        };
        #[cfg(feature = "hydrate")]
        browser::attach(
            console,
            (*_screen).clone().into(),
            (*_serial).clone().into(),
        );
        console.connect(Which::Screen);
        true
    });

    // The VM runs again (started here, on another page, or by a script): a console that closed
    // because it was not running reconnects. No timer: this follows the store.
    Effect::new(move |_| {
        let vm = vm.get();
        for which in [Which::Screen, Which::Serial] {
            let conn = console.conn(which);
            if conn.link.with(|link| reconnects(link, vm.as_ref())) {
                console.connect(which);
            }
        }
    });

    // Limen restarted: a console it closed for that reconnects once the event stream is back.
    let stream_dropped = StoredValue::new(false);
    Effect::new(move |_| {
        let state = live.link.get();
        let waiting = |which: Which| {
            console.conn(which).link.with_untracked(|link| {
                matches!(link, Link::Closed(closed) if closed.kind == CloseKind::ServerStopping)
            })
        };
        if state != LinkState::Live {
            stream_dropped.set_value(true);
        } else if stream_dropped.get_value() {
            stream_dropped.set_value(false);
            for which in [Which::Screen, Which::Serial] {
                if waiting(which) {
                    console.connect(which);
                }
            }
        }
    });

    #[cfg(feature = "hydrate")]
    {
        let listener = window_event_listener_untyped("fullscreenchange", move |_| {
            fullscreen.set(document().fullscreen_element().is_some());
        });
        on_cleanup(move || listener.remove());
        let viewers = console.viewers.get_value();
        on_cleanup(move || browser::detach(viewers));
    }

    let show = move |which: Which| {
        tab.set(which);
        if console
            .conn(which)
            .link
            .with_untracked(|link| *link == Link::Idle)
        {
            console.connect(which);
        }
    };
    let toggle_fullscreen = move || {
        #[cfg(feature = "hydrate")]
        browser::toggle_fullscreen(frame);
    };
    let vm_name = name.clone();

    view! {
        <p class="console-back">
            <a href=format!("/vms/{id}")>{format!("← {name}")}</a>
        </p>
        <h1>{format!("Console of {name}")}</h1>
        <div class="console-layout">
            <div class="console-frame" node_ref=frame>
                <div class="console-tabs" role="tablist" aria-label="Consoles">
                    {[Which::Screen, Which::Serial]
                        .into_iter()
                        .map(|which| {
                            view! {
                                <button
                                    type="button"
                                    role="tab"
                                    id=format!("console-tab-{}", which.id())
                                    aria-controls=format!("console-panel-{}", which.id())
                                    aria-selected=move || (tab.get() == which).to_string()
                                    tabindex=move || if tab.get() == which { "0" } else { "-1" }
                                    on:click=move |_| show(which)
                                    on:keydown=move |ev| {
                                        let other = match which {
                                            Which::Screen => Which::Serial,
                                            Which::Serial => Which::Screen,
                                        };
                                        if matches!(ev.key().as_str(), "ArrowLeft" | "ArrowRight") {
                                            ev.prevent_default();
                                            show(other);
                                            #[cfg(feature = "hydrate")]
                                            browser::focus_by_id(&format!("console-tab-{}", other.id()));
                                        }
                                    }
                                >
                                    {which.tab_label()}
                                </button>
                            }
                            .into_any()
                        })
                        .collect_view()}
                </div>
                <div
                    class="console-panel"
                    role="tabpanel"
                    id="console-panel-screen"
                    aria-labelledby="console-tab-screen"
                    hidden=move || tab.get() != Which::Screen
                >
                    <ScreenToolbar console scaling fullscreen toggle_fullscreen/>
                    <StatusLine console which=Which::Screen status label="Screen connection"/>
                    <div
                        class="console-screen"
                        role="application"
                        aria-label=format!("Screen of {vm_name}")
                        node_ref=screen_target
                    ></div>
                </div>
                <div
                    class="console-panel"
                    role="tabpanel"
                    id="console-panel-serial"
                    aria-labelledby="console-tab-serial"
                    hidden=move || tab.get() != Which::Serial
                >
                    <SerialToolbar console name=vm_name.clone() fullscreen toggle_fullscreen/>
                    <StatusLine console which=Which::Serial status label="Serial connection"/>
                    <div
                        class="console-terminal"
                        role="region"
                        aria-label=format!("Serial console of {vm_name}")
                        node_ref=serial_target
                    ></div>
                </div>
            </div>
            <VmSide id name vm/>
        </div>
    }
    .into_any()
}

/// One console's status line, in words; with a way back in when the session ended.
#[component]
fn StatusLine(
    console: Console,
    which: Which,
    status: Memo<Option<VmStatus>>,
    label: &'static str,
) -> impl IntoView {
    let conn = console.conn(which);
    let text = move || conn.link.with(|link| status_line(link, status.get()));
    let state = move || {
        conn.link.with(|link| match link {
            Link::Idle => "idle",
            Link::Connecting { .. } => "connecting",
            Link::Connected => "connected",
            Link::Closed(_) => "closed",
        })
    };
    let session_ended = move || {
        conn.link.with(
            |link| matches!(link, Link::Closed(closed) if closed.kind == CloseKind::SessionEnded),
        )
    };
    let login = format!("/login?next=/vms/{}/console", console.id);
    view! {
        <div class=move || format!("console-status console-{}", state())>
            <p role="status" aria-label=label>{text}</p>
            <Show when=session_ended>
                <a href=login.clone()>"Log in again"</a>
            </Show>
        </div>
    }
    .into_any()
}

/// The screen's controls.
#[component]
fn ScreenToolbar(
    console: Console,
    scaling: RwSignal<Scaling>,
    fullscreen: RwSignal<bool>,
    toggle_fullscreen: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let connected = move || console.screen.link.with(|link| *link == Link::Connected);
    let keys_open = RwSignal::new(false);
    let paste_open = RwSignal::new(false);
    let paste_text = RwSignal::new(String::new());
    let paste_state = RwSignal::new(None::<Result<String, String>>);
    let typing = RwSignal::new(false);

    let type_text = move || {
        let text = paste_text.get_untracked();
        if let Some(problem) = paste_problem(&text) {
            paste_state.set(Some(Err(problem)));
            return;
        }
        let count = text.chars().count();
        typing.set(true);
        paste_state.set(Some(Ok(format!("Typing {count} characters…"))));
        let done = move |typed: u32| {
            typing.try_set(false);
            let typed = typed as usize;
            paste_state.try_set(Some(if typed == count {
                Ok(format!("Typed {count} characters."))
            } else {
                Err(format!(
                    "Typed {typed} of {count} characters: the console closed meanwhile."
                ))
            }));
        };
        #[cfg(feature = "hydrate")]
        browser::type_text(console, &text, done);
        #[cfg(not(feature = "hydrate"))]
        let _ = done;
    };

    view! {
        <div class="console-toolbar" role="toolbar" aria-label="Screen controls">
            <button type="button" on:click=move |_| toggle_fullscreen()>
                {move || if fullscreen.get() { "Exit fullscreen" } else { "Fullscreen" }}
            </button>
            <label class="console-scaling">
                "Scaling"
                <select
                    on:change=move |ev| {
                        let value = event_target_value(&ev);
                        if let Some(mode) = Scaling::ALL.into_iter().find(|m| m.as_str() == value) {
                            scaling.set(mode);
                            #[cfg(feature = "hydrate")]
                            browser::set_scaling(console, mode);
                        }
                    }
                >
                    {Scaling::ALL
                        .into_iter()
                        .map(|mode| {
                            view! {
                                <option value=mode.as_str() selected=move || scaling.get() == mode>
                                    {mode.label()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <button
                type="button"
                aria-label="Send Ctrl+Alt+Del"
                disabled=move || !connected()
                on:click=move |_| {
                    #[cfg(feature = "hydrate")]
                    browser::ctrl_alt_del(console);
                }
            >
                "Ctrl+Alt+Del"
            </button>
            <button
                type="button"
                aria-expanded=move || keys_open.get().to_string()
                aria-controls="console-function-keys"
                on:click=move |_| keys_open.update(|open| *open = !*open)
            >
                "Ctrl+Alt+F…"
            </button>
            <button
                type="button"
                aria-expanded=move || paste_open.get().to_string()
                aria-controls="console-paste"
                on:click=move |_| paste_open.update(|open| *open = !*open)
            >
                "Paste text"
            </button>
            <button type="button" on:click=move |_| console.connect(Which::Screen)>
                "Reconnect"
            </button>
        </div>
        <div
            class="console-keys"
            id="console-function-keys"
            role="group"
            aria-label="Function keys"
            hidden=move || !keys_open.get()
        >
            {(1..=12u8)
                .map(|n| {
                    view! {
                        <button
                            type="button"
                            aria-label=format!("Send Ctrl+Alt+F{n}")
                            disabled=move || !connected()
                            on:click=move |_| {
                                #[cfg(feature = "hydrate")]
                                browser::ctrl_alt_fn(console, n);
                            }
                        >
                            {format!("F{n}")}
                        </button>
                    }
                })
                .collect_view()}
        </div>
        <form
            class="console-paste"
            id="console-paste"
            aria-label="Paste text as keystrokes"
            hidden=move || !paste_open.get()
            on:submit=move |ev| {
                ev.prevent_default();
                type_text();
            }
        >
            <label>
                "Text to type"
                <textarea
                    rows="3"
                    prop:value=move || paste_text.get()
                    on:input=move |ev| {
                        paste_text.set(event_target_value(&ev));
                        paste_state.set(None);
                    }
                ></textarea>
            </label>
            <p class="muted">
                {format!(
                    "Typed into the VM key by key, on a US keyboard layout: at most {PASTE_LIMIT} characters."
                )}
            </p>
            <button type="submit" disabled=move || !connected() || typing.get()>
                "Type text"
            </button>
            {move || {
                paste_state
                    .get()
                    .map(|state| match state {
                        Ok(message) => view! { <p class="muted" role="status">{message}</p> }.into_any(),
                        Err(problem) => view! { <p class="error" role="alert">{problem}</p> }.into_any(),
                    })
            }}
        </form>
    }
    .into_any()
}

/// The serial console's controls.
#[component]
fn SerialToolbar(
    console: Console,
    name: String,
    fullscreen: RwSignal<bool>,
    toggle_fullscreen: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let opened = move || console.serial.link.with(|link| *link != Link::Idle);
    let filename = format!("{name}-serial.log");
    view! {
        <div class="console-toolbar" role="toolbar" aria-label="Serial console controls">
            <button type="button" on:click=move |_| toggle_fullscreen()>
                {move || if fullscreen.get() { "Exit fullscreen" } else { "Fullscreen" }}
            </button>
            <button
                type="button"
                aria-label="Save the serial log"
                disabled=move || !opened()
                on:click=move |_| {
                    #[cfg(feature = "hydrate")]
                    browser::save_log(console, &filename);
                    #[cfg(not(feature = "hydrate"))]
                    let _ = &filename;
                }
            >
                "Save log"
            </button>
            <button type="button" on:click=move |_| console.connect(Which::Serial)>
                "Reconnect"
            </button>
        </div>
    }
    .into_any()
}

/// Starting (or resuming) the VM from the console page.
#[leptos::lazy]
async fn act_lazily(id: VmId, action: VmAction) -> Result<Vm, crate::error::AppError> {
    act_on_vm(id, action).await
}

/// The VM beside its console: its state from the event stream, and Start (or Resume) when it
/// is not running.
#[component]
fn VmSide(id: VmId, name: String, vm: Memo<Option<Vm>>) -> impl IntoView {
    let store = use_live().store;
    let status = move || vm.with(|vm| vm.as_ref().map_or(VmStatus::Unknown, |vm| vm.status));
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let action = move || {
        [VmAction::Start, VmAction::Resume]
            .into_iter()
            .find(|action| action.allowed_in(status()))
    };
    let act = move |action: VmAction| {
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let answer = act_lazily(id, action).await;
            busy.try_set(false);
            match answer {
                Ok(vm) => store.apply(vm),
                Err(failure) => {
                    error.try_set(Some(failure.message));
                }
            }
        });
    };
    let label_name = name.clone();
    view! {
        <aside class="console-side" aria-label="Virtual machine">
            <Show
                when=move || vm.with(Option::is_some)
                fallback=|| view! { <p class="notice" role="note">"This virtual machine was deleted."</p> }
            >
                <div class="vm-card-head">
                    <h2 class="vm-name">
                        <a href=format!("/vms/{id}")>{name.clone()}</a>
                    </h2>
                    <span
                        class=move || format!("badge badge-{}", status().as_str())
                        role="status"
                        aria-label=format!("Status of {label_name}")
                    >
                        {move || status().label()}
                    </span>
                </div>
                {move || {
                    vm.get()
                        .map(|vm| {
                            view! {
                                <dl class="vm-specs">
                                    <dt>"vCPU"</dt>
                                    <dd>{vm.cpu}</dd>
                                    <dt>"Memory"</dt>
                                    <dd>{format!("{} MiB", vm.memory)}</dd>
                                    <dt>"Media"</dt>
                                    <dd>{vm.current_media.unwrap_or_else(|| "none".into())}</dd>
                                </dl>
                            }
                        })
                }}
                {
                    let name = name.clone();
                    move || {
                        let name = name.clone();
                        action()
                            .map(move |action| {
                                let note = match action {
                                    VmAction::Resume => "The VM is paused.",
                                    _ => "The VM is not running.",
                                };
                                view! {
                                    <p class="notice" role="note">{note}</p>
                                    <button
                                        type="button"
                                        aria-label=format!("{} {name}", action.label())
                                        disabled=move || busy.get()
                                        on:click=move |_| act(action)
                                    >
                                        {action.label()}
                                    </button>
                                }
                            })
                    }
                }
                {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            </Show>
        </aside>
    }
    .into_any()
}

/// The browser's side: `console.js` and the viewers it makes, the ticket request, fullscreen.
#[cfg(feature = "hydrate")]
mod browser {
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

    use super::{Console, Refusal, Scaling, Which};
    use crate::types::VmId;

    /// Where the page's glue is (`public/console.js`, copied to the site root).
    const SCRIPT: &str = "/console.js";
    const SCRIPT_ID: &str = "limen-console-js";

    #[wasm_bindgen]
    extern "C" {
        /// `window.limenConsole`, which `console.js` sets.
        pub type ConsoleApi;
        #[wasm_bindgen(method, js_name = openScreen)]
        fn open_screen(
            this: &ConsoleApi,
            target: &web_sys::Element,
            emit: &js_sys::Function,
        ) -> Viewer;
        #[wasm_bindgen(method, js_name = openSerial)]
        fn open_serial(
            this: &ConsoleApi,
            target: &web_sys::Element,
            emit: &js_sys::Function,
        ) -> Viewer;

        /// A screen or serial viewer (the methods a serial viewer lacks are never called on it).
        #[derive(Clone)]
        pub type Viewer;
        #[wasm_bindgen(method)]
        fn connect(this: &Viewer, path: &str);
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

    /// Makes sure `console.js` is loaded and `which`'s viewer exists.
    pub async fn prepare(console: Console, which: Which) -> Result<(), String> {
        if viewer(console, which).is_some() {
            return Ok(());
        }
        let api = load_api().await.map_err(|_| {
            "The console viewer could not be loaded from Limen; reload the page to try again."
                .to_string()
        })?;
        let Some(viewers) = console.viewers.try_get_value() else {
            return Err("The page was closed.".into());
        };
        let mut inner = viewers.0.borrow_mut();
        if inner.gone {
            return Err("The page was closed.".into());
        }
        let existing = match which {
            Which::Screen => inner.screen.is_some(),
            Which::Serial => inner.serial.is_some(),
        };
        if existing {
            return Ok(());
        }
        let Some((screen, serial)) = inner.targets.clone() else {
            return Err("The console is not on the page yet.".into());
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
            Which::Screen => inner.screen = Some(viewer),
            Which::Serial => inner.serial = Some(viewer),
        }
        Ok(())
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
        if !loaded {
            // The next attempt adds it again.
            script.remove();
            return Err(());
        }
        found().ok_or(())
    }

    #[derive(Deserialize)]
    struct Ticket {
        ticket: String,
    }

    /// A single-use console ticket for this VM. Asked for first because a refusal here can be
    /// read (a refused WebSocket upgrade cannot).
    pub async fn ticket(id: VmId) -> Result<String, Refusal> {
        let unreachable = || Refusal {
            error: "Limen could not be reached to open the console.".into(),
            code: String::new(),
        };
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
                .map_err(|_| Refusal {
                    error: "Limen's answer to the console ticket request could not be read.".into(),
                    code: String::new(),
                })
        } else {
            Err(Refusal::from_response(status, &body))
        }
    }

    /// Why a WebSocket upgrade was refused (the browser only saw close code 1006): the same
    /// endpoint asked for with a fresh ticket as a plain request answers the refusal in words,
    /// or 426 if it would let the connection in (then the cause was something else: `None`).
    pub async fn diagnose(id: VmId, which: Which) -> Option<Refusal> {
        let ticket = match ticket(id).await {
            Ok(ticket) => ticket,
            Err(refusal) => return Some(refusal),
        };
        let ticket = String::from(js_sys::encode_uri_component(&ticket));
        let response = Request::get(&format!(
            "/api/v1/vms/{id}/{}?ticket={ticket}",
            which.endpoint()
        ))
        .send()
        .await
        .ok()?;
        let status = response.status();
        if status == 426 || (200..300).contains(&status) {
            return None;
        }
        let body = response.text().await.unwrap_or_default();
        Some(Refusal::from_response(status, &body))
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen() -> Seen {
        Seen::default()
    }

    fn accepted() -> Seen {
        Seen {
            accepted: true,
            ..Seen::default()
        }
    }

    #[test]
    fn the_servers_sentence_wins_over_the_close_code() {
        let seen = Seen {
            accepted: true,
            refusal: Refusal::from_text(
                r#"{"error":"libvirt could not start the VM: a disk image or ISO file it uses is missing.","code":"VM_START_FAILED"}"#,
            ),
            ..Seen::default()
        };
        let (kind, words) = close_words(&seen, 1011, "libvirt could not start the VM: a disk");
        assert_eq!(kind, CloseKind::Failed);
        assert_eq!(
            words,
            "libvirt could not start the VM: a disk image or ISO file it uses is missing."
        );
    }

    #[test]
    fn a_vm_that_is_not_running_is_its_own_kind() {
        let seen = Seen {
            accepted: true,
            refusal: Refusal::from_text(
                r#"{"error":"The VM is not running.","code":"VM_NOT_RUNNING"}"#,
            ),
            ..Seen::default()
        };
        assert_eq!(
            close_words(&seen, 1000, ""),
            (CloseKind::VmNotRunning, "The VM is not running.".into())
        );
        let unauthorized =
            Refusal::from_response(401, r#"{"error":"Log in first.","code":"UNAUTHORIZED"}"#);
        assert_eq!(unauthorized.kind(), CloseKind::SessionEnded);
        assert_eq!(unauthorized.error, "Log in first.");
    }

    #[test]
    fn every_close_code_is_said_in_words() {
        // The browser's 1006 before the socket opened: a refused upgrade, whose body it cannot
        // read.
        let (kind, words) = close_words(&seen(), 1006, "");
        assert_eq!(kind, CloseKind::Failed);
        assert!(words.starts_with("Could not connect"), "{words}");
        assert_eq!(
            close_words(&accepted(), 1006, "").1,
            "The connection to Limen was lost."
        );
        assert_eq!(
            close_words(&accepted(), 1001, "").0,
            CloseKind::ServerStopping
        );
        assert_eq!(
            close_words(&accepted(), 1008, "").0,
            CloseKind::SessionEnded
        );
        assert_eq!(
            close_words(&accepted(), 1008, "The session ended.").1,
            "The session ended."
        );
        assert!(close_words(&accepted(), 1011, "")
            .1
            .contains("failed on the server"));
        assert_eq!(
            close_words(&accepted(), 4000, "").1,
            "The console connection closed (code 4000)."
        );
        for code in [1000, 1001, 1005, 1006, 1008, 1011, 1015, 4999] {
            for seen in [seen(), accepted()] {
                let words = close_words(&seen, code, "").1;
                assert!(!words.is_empty());
                assert!(!words.to_lowercase().contains("unknown"), "{code}: {words}");
            }
        }
    }

    #[test]
    fn a_vnc_failure_on_this_side_is_said_too() {
        let seen = Seen {
            accepted: true,
            vnc_error: Some("The VNC handshake with the VM failed.".into()),
            ..Seen::default()
        };
        assert_eq!(
            close_words(&seen, 1005, ""),
            (
                CloseKind::Failed,
                "The VNC handshake with the VM failed.".into()
            )
        );
    }

    #[test]
    fn refusals_are_read_from_json_or_said_from_the_status() {
        assert_eq!(Refusal::from_text(""), None);
        assert_eq!(Refusal::from_text("{not json"), None);
        assert_eq!(
            Refusal::from_text("plain words").map(|r| r.error),
            Some("plain words".into())
        );
        let refusal = Refusal::from_response(
            409,
            r#"{"error":"The VM is not running and console autostart is off.","code":"VM_NOT_RUNNING"}"#,
        );
        assert_eq!(refusal.kind(), CloseKind::VmNotRunning);
        let bare = Refusal::from_response(502, "<html>Bad gateway</html>");
        assert_eq!(
            bare.error,
            "Limen could not be reached to open the console."
        );
        let other = Refusal::from_response(418, "");
        assert_eq!(
            other.error,
            "Limen refused to open the console (HTTP status 418)."
        );
        assert_eq!(Refusal::from_response(404, "").kind(), CloseKind::Failed);
    }

    #[test]
    fn the_status_line_follows_the_link_and_the_vms_state() {
        let connecting = Link::Connecting { accepted: true };
        assert_eq!(
            status_line(&connecting, Some(VmStatus::Stopped)),
            "Starting the VM…"
        );
        assert_eq!(
            status_line(&connecting, Some(VmStatus::Paused)),
            "Resuming the VM…"
        );
        assert_eq!(
            status_line(&connecting, Some(VmStatus::Running)),
            "Connecting…"
        );
        assert_eq!(
            status_line(&Link::Connected, Some(VmStatus::Running)),
            "Connected."
        );
        assert_eq!(
            status_line(&Link::Connected, Some(VmStatus::Stopped)),
            "Starting the VM…"
        );
        let closed = Link::Closed(Closed {
            kind: CloseKind::VmNotRunning,
            reason: "The VM stopped.".into(),
            generation: 3,
        });
        assert_eq!(
            status_line(&closed, Some(VmStatus::Stopped)),
            "The VM stopped."
        );
        assert_eq!(status_line(&Link::Idle, None), "Not connected.");
    }

    fn vm(status: VmStatus, generation: u64) -> Vm {
        let at = chrono::DateTime::<chrono::Utc>::default();
        Vm {
            uuid: VmId(uuid::Uuid::nil()),
            name: "a".into(),
            owner: None,
            status,
            cpu: 1,
            memory: 256,
            disk_size: 1,
            os_type: "linux".into(),
            boot_order: Default::default(),
            installation_status: Default::default(),
            current_media: None,
            role: None,
            host: "local".into(),
            created_at: at,
            updated_at: at,
            generation,
        }
    }

    #[test]
    fn a_closed_console_reconnects_only_when_a_newer_vm_runs() {
        let closed = |kind| {
            Link::Closed(Closed {
                kind,
                reason: String::new(),
                generation: 5,
            })
        };
        let stopped = closed(CloseKind::VmNotRunning);
        assert!(!reconnects(&stopped, Some(&vm(VmStatus::Stopped, 6))));
        // The same version that was there when it closed: the store had not caught up.
        assert!(!reconnects(&stopped, Some(&vm(VmStatus::Running, 5))));
        assert!(reconnects(&stopped, Some(&vm(VmStatus::Running, 6))));
        assert!(reconnects(
            &closed(CloseKind::Failed),
            Some(&vm(VmStatus::Running, 9))
        ));
        // A session that ended needs a login; a stopping server waits for the stream.
        assert!(!reconnects(
            &closed(CloseKind::SessionEnded),
            Some(&vm(VmStatus::Running, 9))
        ));
        assert!(!reconnects(
            &closed(CloseKind::ServerStopping),
            Some(&vm(VmStatus::Running, 9))
        ));
        assert!(!reconnects(
            &Link::Connected,
            Some(&vm(VmStatus::Running, 9))
        ));
        assert!(!reconnects(&stopped, None));
    }

    #[test]
    fn paste_has_a_limit_said_in_words() {
        assert_eq!(paste_problem("echo hi\n"), None);
        assert_eq!(paste_problem(&"é".repeat(PASTE_LIMIT)), None);
        let too_long = paste_problem(&"x".repeat(PASTE_LIMIT + 1)).unwrap();
        assert!(too_long.contains("4097 characters"), "{too_long}");
        assert!(too_long.contains("at most 4096"), "{too_long}");
        assert!(paste_problem("").is_some());
    }
}
