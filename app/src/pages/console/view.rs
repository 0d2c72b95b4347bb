//! The console's view: tabs for the screen and the serial port, their toolbars and status
//! lines, and the VM beside them.

use leptos::prelude::*;

#[cfg(feature = "hydrate")]
use super::browser;
use super::connection::Console;
use super::words::{
    paste_problem, reconnects, status_line, CloseKind, Link, Scaling, Which, PASTE_LIMIT,
};
use crate::api::vms::act_on_vm;
use crate::language::{error_sentence, use_locale, Label};
use crate::live::{use_live, LinkState};
use crate::store::VmStore;
use crate::tr;
use crate::types::{Vm, VmAction, VmId, VmStatus};

/// The console itself: tabs for the screen and the serial port, their toolbars and status
/// lines, and the VM's state beside them.
#[component]
pub(super) fn ConsoleView(id: VmId, name: String, store: VmStore) -> impl IntoView {
    let live = use_live();
    let locale = use_locale();
    let vm = Memo::new(move |_| store.get(id));
    let status = Memo::new(move |_| vm.with(|vm| vm.as_ref().map(|vm| vm.status)));
    let console = Console::new(id, store, locale);
    let tab = RwSignal::new(Which::Screen);
    let scaling = console.scaling;
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

    // Limen restarted (or the connection to it broke): a console closed for that reconnects
    // once the event stream is back — if the VM still runs. One that stopped meanwhile is not
    // started again by the reconnect (autostart): the page says so and offers Start.
    let stream_dropped = StoredValue::new(false);
    Effect::new(move |_| {
        let state = live.link.get();
        let waiting = |which: Which| {
            console.conn(which).link.with_untracked(
                |link| matches!(link, Link::Closed(closed) if closed.kind == CloseKind::LimenAway),
            )
        };
        if state != LinkState::Live {
            stream_dropped.set_value(true);
        } else if stream_dropped.get_value() {
            stream_dropped.set_value(false);
            let status = status.get_untracked();
            for which in [Which::Screen, Which::Serial] {
                if !waiting(which) {
                    continue;
                }
                match status {
                    Some(VmStatus::Running) => console.connect(which),
                    Some(VmStatus::Paused) => console.close(
                        which,
                        CloseKind::VmNotRunning,
                        tr!(locale, console.vm_paused).into(),
                    ),
                    _ => console.close(
                        which,
                        CloseKind::VmNotRunning,
                        tr!(locale, console.vm_not_running).into(),
                    ),
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
        // A hidden screen measures 0×0: "resize the guest's screen" would ask the guest for
        // that. The viewer keeps the guest's size while the screen is hidden.
        #[cfg(feature = "hydrate")]
        if scaling.get_untracked() == Scaling::Remote {
            let mode = match which {
                Which::Screen => Scaling::Remote,
                Which::Serial => Scaling::Actual,
            };
            browser::set_scaling(console, mode);
        }
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
        <h1>{tr!(locale, console.heading, name = name.as_str()).to_string()}</h1>
        <div class="console-layout">
            <div class="console-frame" node_ref=frame>
                <div class="console-tabs" role="tablist" aria-label=tr!(locale, console.tabs)>
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
                                    {which.tab_label(locale)}
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
                    <StatusLine
                        console
                        which=Which::Screen
                        status
                        label=tr!(locale, console.screen_connection)
                    />
                    <div
                        class="console-screen"
                        role="application"
                        aria-label=tr!(locale, console.screen_of_vm, name = vm_name.as_str())
                            .to_string()
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
                    <StatusLine
                        console
                        which=Which::Serial
                        status
                        label=tr!(locale, console.serial_connection)
                    />
                    <div
                        class="console-terminal"
                        role="region"
                        aria-label=tr!(locale, console.serial_console_of_vm, name = vm_name.as_str())
                            .to_string()
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
    let locale = console.locale;
    let conn = console.conn(which);
    let text = move || {
        conn.link
            .with(|link| status_line(locale, link, status.get()))
    };
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
                <a href=login.clone()>{tr!(locale, console.log_in_again)}</a>
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
    let locale = console.locale;
    let connected = move || console.screen.link.with(|link| *link == Link::Connected);
    let keys_open = RwSignal::new(false);
    let paste_open = RwSignal::new(false);
    let paste_text = RwSignal::new(String::new());
    let paste_state = RwSignal::new(None::<Result<String, String>>);
    let typing = RwSignal::new(false);

    let type_text = move || {
        let text = paste_text.get_untracked();
        if let Some(problem) = paste_problem(locale, &text) {
            paste_state.set(Some(Err(problem)));
            return;
        }
        let count = text.chars().count();
        typing.set(true);
        paste_state.set(Some(Ok(
            tr!(locale, console.paste_typing, count = count).to_string()
        )));
        let done = move |typed: u32| {
            typing.try_set(false);
            let typed = typed as usize;
            paste_state.try_set(Some(if typed == count {
                Ok(tr!(locale, console.paste_typed, count = count).to_string())
            } else {
                Err(tr!(
                    locale,
                    console.paste_typed_partly,
                    typed = typed,
                    count = count
                )
                .to_string())
            }));
        };
        #[cfg(feature = "hydrate")]
        browser::type_text(console, &text, done);
        #[cfg(not(feature = "hydrate"))]
        let _ = done;
    };

    view! {
        <div class="console-toolbar" role="toolbar" aria-label=tr!(locale, console.screen_controls)>
            <button type="button" on:click=move |_| toggle_fullscreen()>
                {move || fullscreen_label(locale, fullscreen.get())}
            </button>
            <label class="console-scaling">
                {tr!(locale, console.scaling)}
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
                                    {mode.label(locale)}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <button
                type="button"
                aria-label=tr!(locale, console.send_ctrl_alt_del)
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
                {tr!(locale, console.paste_text)}
            </button>
            <button type="button" on:click=move |_| console.connect(Which::Screen)>
                {tr!(locale, console.reconnect)}
            </button>
        </div>
        <div
            class="console-keys"
            id="console-function-keys"
            role="group"
            aria-label=tr!(locale, console.function_keys)
            hidden=move || !keys_open.get()
        >
            {(1..=12u8)
                .map(|n| {
                    view! {
                        <button
                            type="button"
                            aria-label=tr!(locale, console.send_ctrl_alt_fn, n = n).to_string()
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
            aria-label=tr!(locale, console.paste_form)
            hidden=move || !paste_open.get()
            on:submit=move |ev| {
                ev.prevent_default();
                type_text();
            }
        >
            <label>
                {tr!(locale, console.paste_text_to_type)}
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
                {tr!(locale, console.paste_hint, limit = PASTE_LIMIT).to_string()}
            </p>
            <button type="submit" disabled=move || !connected() || typing.get()>
                {tr!(locale, console.paste_type_text)}
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
    let locale = console.locale;
    let opened = move || console.serial.link.with(|link| *link != Link::Idle);
    let filename = format!("{name}-serial.log");
    view! {
        <div class="console-toolbar" role="toolbar" aria-label=tr!(locale, console.serial_controls)>
            <button type="button" on:click=move |_| toggle_fullscreen()>
                {move || fullscreen_label(locale, fullscreen.get())}
            </button>
            <button
                type="button"
                aria-label=tr!(locale, console.save_serial_log)
                disabled=move || !opened()
                on:click=move |_| {
                    #[cfg(feature = "hydrate")]
                    browser::save_log(console, &filename);
                    #[cfg(not(feature = "hydrate"))]
                    let _ = &filename;
                }
            >
                {tr!(locale, console.save_log)}
            </button>
            <button type="button" on:click=move |_| console.connect(Which::Serial)>
                {tr!(locale, console.reconnect)}
            </button>
        </div>
    }
    .into_any()
}

/// The fullscreen button's words.
fn fullscreen_label(locale: crate::i18n::Locale, fullscreen: bool) -> &'static str {
    if fullscreen {
        tr!(locale, console.exit_fullscreen)
    } else {
        tr!(locale, console.fullscreen)
    }
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
    let locale = use_locale();
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
                    error.try_set(Some(error_sentence(locale, &failure)));
                }
            }
        });
    };
    let status_label = tr!(locale, console.status_of_vm, name = name.as_str()).to_string();
    view! {
        <aside class="console-side" aria-label=tr!(locale, console.vm_side)>
            <Show
                when=move || vm.with(Option::is_some)
                fallback=move || {
                    view! {
                        <p class="notice" role="note">{tr!(locale, console.vm_deleted)}</p>
                    }
                }
            >
                <div class="vm-card-head">
                    <h2 class="vm-name">
                        <a href=format!("/vms/{id}")>{name.clone()}</a>
                    </h2>
                    <span
                        class=move || format!("badge badge-{}", status().as_str())
                        role="status"
                        aria-label=status_label.clone()
                    >
                        {move || status().label_in(locale)}
                    </span>
                </div>
                {move || {
                    vm.get()
                        .map(|vm| {
                            view! {
                                <dl class="vm-specs">
                                    <dt>{tr!(locale, console.spec_vcpu)}</dt>
                                    <dd>{vm.cpu}</dd>
                                    <dt>{tr!(locale, console.spec_memory)}</dt>
                                    <dd>{format!("{} MiB", vm.memory)}</dd>
                                    <dt>{tr!(locale, console.spec_media)}</dt>
                                    <dd>
                                        {vm
                                            .current_media
                                            .unwrap_or_else(|| tr!(locale, console.spec_media_none).into())}
                                    </dd>
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
                                    VmAction::Resume => tr!(locale, console.vm_paused),
                                    _ => tr!(locale, console.vm_not_running),
                                };
                                let label = action.label_in(locale);
                                let aria = tr!(
                                    locale, console.act_on_vm, action = label, name = name.as_str()
                                )
                                    .to_string();
                                view! {
                                    <p class="notice" role="note">{note}</p>
                                    <button
                                        type="button"
                                        aria-label=aria
                                        disabled=move || busy.get()
                                        on:click=move |_| act(action)
                                    >
                                        {label}
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
