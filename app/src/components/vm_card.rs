use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::vms::{act_on_vm, delete_vm};
use crate::components::create_form::QuotaRefresh;
use crate::error::AppError;
use crate::i18n::Locale;
use crate::language::{error_sentence, use_locale, Label};
use crate::live::{gauge_in, use_live};
use crate::machine::boot_check;
use crate::store::VmStore;
use crate::tr;
use crate::types::{DeleteReport, Vm, VmAction, VmId, VmStatus};

// The calls a card makes are loaded with their first use (split off the main WASM: a card is
// shown on every first load, an action is not taken on every one).
#[leptos::lazy]
async fn act_lazily(id: VmId, action: VmAction) -> Result<Vm, AppError> {
    act_on_vm(id, action).await
}

#[leptos::lazy]
async fn delete_lazily(id: VmId) -> Result<DeleteReport, AppError> {
    delete_vm(id).await
}

/// A running VM's use, as its card says it ("CPU 12% · memory 40%") and the CSS variables the
/// card's two small bars are drawn from: one element, so it costs the first load little.
fn usage_line(locale: Locale, cpu: Option<u8>, memory: Option<u8>) -> (String, String) {
    let mut words = Vec::new();
    let mut style = String::new();
    if let Some(cpu) = cpu {
        words.push(tr!(locale, dashboard.usage_cpu, percent = cpu).to_string());
        style.push_str(&format!("--cpu: {cpu}%;"));
    }
    if let Some(memory) = memory {
        words.push(tr!(locale, dashboard.usage_memory, percent = memory).to_string());
        style.push_str(&format!("--memory: {memory}%;"));
    }
    (words.join(" · "), style)
}

/// One VM: its state badge, sizes (and its host, where VMs are on several), its CPU and memory
/// use while it runs, and the actions that make sense right now.
#[component]
pub fn VmCard(id: VmId, store: VmStore) -> impl IntoView {
    let locale = use_locale();
    let vm = Memo::new(move |_| store.get(id));
    let name = move || vm.with(|vm| vm.as_ref().map(|vm| vm.name.clone()).unwrap_or_default());
    let status = move || vm.with(|vm| vm.as_ref().map_or(VmStatus::Unknown, |vm| vm.status));

    let busy = RwSignal::new(false);
    let confirming_delete = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    // What the last action asked of the guest, said in words until the state moves on.
    let requested = RwSignal::new(None::<VmAction>);
    let quota_refresh = use_context::<QuotaRefresh>();
    let gauges = use_live().gauges;

    // The answer goes into the store like everything else: it keeps whichever version of the VM
    // is newer, the answer's or an event's that overtook it.
    let act = move |action: VmAction| {
        busy.set(true);
        spawn_local(async move {
            let answer = act_lazily(id, action).await;
            busy.set(false);
            match answer {
                Ok(updated) => {
                    error.set(None);
                    requested.set(Some(action).filter(|action| action.needs_guest()));
                    store.apply(updated);
                }
                Err(failure) => error.set(Some(error_sentence(locale, &failure))),
            }
        });
    };
    let delete = move || {
        busy.set(true);
        spawn_local(async move {
            let answer = delete_lazily(id).await;
            busy.set(false);
            match answer {
                // Gone for certain: no list or late answer may bring it back.
                Ok(_) => {
                    store.delete(id);
                    if let Some(refresh) = quota_refresh {
                        refresh.bump();
                    }
                }
                Err(failure) => {
                    confirming_delete.set(false);
                    error.set(Some(error_sentence(locale, &failure)));
                }
            }
        });
    };
    let busy = move || busy.get();

    // A focused button that gets disabled (while its call runs, or for good when the new state
    // does not allow it) or replaced drops the keyboard focus to the page. Keep it in the card:
    // the same button once it is enabled again, else the card's next enabled action, else the
    // card itself.
    let card = NodeRef::<leptos::html::Li>::new();
    let focus = StoredValue::new(FocusMemory::default());
    Effect::new(move |_| {
        // Everything that enables, disables or replaces a button of this card.
        let _ = (busy(), status(), confirming_delete.get());
        if focus.with_value(|memory| memory.inside) {
            let preferred = focus.with_value(|memory| memory.label.clone());
            let confirming = confirming_delete.get_untracked();
            request_animation_frame(move || keep_focus(card, preferred, confirming));
        }
    });

    view! {
        <li
            class="vm-card"
            aria-label=move || tr!(locale, dashboard.card_label, name = name()).to_string()
            tabindex="-1"
            node_ref=card
            on:focusin=move |ev| {
                let label = focused_label(&ev);
                focus.try_update_value(|memory| *memory = FocusMemory { inside: true, label });
            }
            on:focusout=move |ev| {
                let lost = focus_lost(&ev);
                // The card may be going away (deleted): its memory with it.
                focus.try_update_value(|memory| memory.inside = lost);
            }
        >
            <div class="vm-card-head">
                <h2 class="vm-name">
                    <a href=format!("/vms/{id}")>{name}</a>
                </h2>
                {move || {
                    vm.with(|vm| vm.as_ref().and_then(|vm| vm.role.clone()))
                        .map(|role| {
                            view! {
                                <span class="role-tag" aria-label=move || tr!(locale, dashboard.role_of, name = name()).to_string()>
                                    {role}
                                </span>
                            }
                        })
                }}
                // Which host it is on, where there is more than one.
                {move || {
                    store
                        .several_hosts()
                        .then(|| vm.with(|vm| vm.as_ref().map(|vm| vm.host.clone())))
                        .flatten()
                        .map(|host| {
                            view! {
                                <span class="host-tag" aria-label=move || tr!(locale, dashboard.host_of, name = name()).to_string()>
                                    {host}
                                </span>
                            }
                        })
                }}
                <span
                    class=move || format!("badge badge-{}", status().as_str())
                    role="status"
                    aria-label=move || tr!(locale, dashboard.status_of, name = name()).to_string()
                >
                    {move || status().label_in(locale)}
                </span>
            </div>
            {move || {
                vm.get()
                    .map(|vm| {
                        view! {
                            <dl class="vm-specs">
                                <dt>{tr!(locale, dashboard.spec_vcpu)}</dt>
                                <dd>{vm.cpu}</dd>
                                <dt>{tr!(locale, dashboard.memory)}</dt>
                                <dd>{format!("{} MiB", vm.memory)}</dd>
                                <dt>{tr!(locale, dashboard.spec_disk)}</dt>
                                <dd>{format!("{} GiB", vm.disk_size)}</dd>
                                <dt>{tr!(locale, dashboard.spec_media)}</dt>
                                <dd>
                                    {vm
                                        .current_media
                                        .unwrap_or_else(|| tr!(locale, dashboard.media_none).into())}
                                </dd>
                                <dt>{tr!(locale, dashboard.spec_boot)}</dt>
                                <dd>{vm.boot_order.label_in(locale)}</dd>
                            </dl>
                        }
                    })
            }}
            // Always there (empty until the VM runs and its use is known), so nothing on the card
            // moves when the numbers come; each round patches the words and bars in place.
            {move || {
                let running = status() == VmStatus::Running;
                let (cpu, memory) = gauges
                    .with(|(_, payload)| gauge_in(payload, id))
                    .filter(|_| running)
                    .unwrap_or_default();
                let (words, style) = usage_line(locale, cpu, memory);
                view! { <p class="vm-gauges" style=style>{words}</p> }
            }}
            {move || {
                vm.with(|vm| {
                        vm.as_ref()
                            .and_then(|vm| boot_warning(locale, vm.boot_order, vm.current_media.as_deref()))
                    })
                    .map(|warning| view! { <p class="warning">{warning}</p> })
            }}
            <div class="vm-actions">
                // Opening the console starts a stopped VM (autostart), so it is offered whatever
                // the state.
                <a
                    class="console-link"
                    href=format!("/vms/{id}/console")
                    aria-label=move || tr!(locale, dashboard.console_of, name = name()).to_string()
                >
                    {tr!(locale, dashboard.console)}
                </a>
                {VmAction::ALL
                    .into_iter()
                    .map(|action| {
                        view! {
                            <button
                                type="button"
                                aria-label=move || {
                                    tr!(
                                        locale, dashboard.action_on_vm, action = action.label_in(locale), name = name()
                                    )
                                    .to_string()
                                }
                                disabled=move || busy() || !action.allowed_in(status())
                                on:click=move |_| act(action)
                            >
                                {action.label_in(locale)}
                            </button>
                        }
                    })
                    .collect_view()}
                <Show
                    when=move || confirming_delete.get()
                    fallback=move || {
                        view! {
                            <button
                                type="button"
                                class="danger"
                                aria-label=move || tr!(locale, dashboard.delete_vm, name = name()).to_string()
                                disabled=busy
                                on:click=move |_| confirming_delete.set(true)
                            >
                                {tr!(locale, dashboard.delete)}
                            </button>
                        }
                    }
                >
                    <button
                        type="button"
                        class="danger"
                        aria-label=move || tr!(locale, dashboard.confirm_delete_vm, name = name()).to_string()
                        disabled=busy
                        on:click=move |_| delete()
                    >
                        {tr!(locale, dashboard.confirm_delete)}
                    </button>
                    <button type="button" on:click=move |_| confirming_delete.set(false)>
                        {tr!(locale, dashboard.cancel)}
                    </button>
                </Show>
            </div>
            {move || {
                let still_running = status() == VmStatus::Running;
                requested
                    .get()
                    .filter(|_| still_running)
                    .map(|action| {
                        view! {
                            <p class="notice" role="note">
                                {guest_request_notice(locale, action)}
                            </p>
                        }
                    })
            }}
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        </li>
    }
    // Erasing the type here keeps the list's view type shallow enough for the WASM build.
    .into_any()
}

/// Where the keyboard focus was in a card: whether it is there (or was, until its button was
/// disabled or replaced), and the accessible name of the button that had it.
#[derive(Default)]
struct FocusMemory {
    inside: bool,
    label: Option<String>,
}

#[cfg(feature = "hydrate")]
use browser_focus::{focus_lost, focused_label, keep_focus};

// Server rendering never runs event handlers or effects' frames.
#[cfg(not(feature = "hydrate"))]
fn focused_label(_: &leptos::ev::FocusEvent) -> Option<String> {
    None
}
#[cfg(not(feature = "hydrate"))]
fn focus_lost(_: &leptos::ev::FocusEvent) -> bool {
    false
}
#[cfg(not(feature = "hydrate"))]
fn keep_focus(_: NodeRef<leptos::html::Li>, _: Option<String>, _: bool) {}

#[cfg(feature = "hydrate")]
mod browser_focus {
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use web_sys::{Element, HtmlElement};

    fn element(target: Option<web_sys::EventTarget>) -> Option<Element> {
        target.and_then(|target| target.dyn_into::<Element>().ok())
    }

    pub fn focused_label(ev: &leptos::ev::FocusEvent) -> Option<String> {
        element(ev.target()).and_then(|element| element.get_attribute("aria-label"))
    }

    /// Focus leaving for nowhere because its element was disabled or removed (not because the
    /// person moved it elsewhere).
    pub fn focus_lost(ev: &leptos::ev::FocusEvent) -> bool {
        ev.related_target().is_none()
            && element(ev.target()).is_some_and(|element| {
                !element.is_connected() || element.matches(":disabled").unwrap_or(false)
            })
    }

    /// If the focus fell to the page, puts it back in `card`: on the button named `preferred`
    /// if it is enabled, else on the delete confirmation while it is asked, else on the first
    /// enabled button, else on the card.
    pub fn keep_focus(
        card: NodeRef<leptos::html::Li>,
        preferred: Option<String>,
        confirming: bool,
    ) {
        // The card may have gone (deleted) since the frame was requested.
        let Some(card) = card.try_get_untracked().flatten() else {
            return;
        };
        // Lost: on the body, on a disabled button of the card, or parked on the card itself
        // (while every button was disabled) when a button can take it now.
        let lost = document().active_element().is_none_or(|active| {
            active.tag_name() == "BODY"
                || active == **card
                || (card.contains(Some(&active)) && active.matches(":disabled").unwrap_or(false))
        });
        if !lost {
            return;
        }
        let buttons: Vec<HtmlElement> = card
            .query_selector_all("button:not(:disabled)")
            .map(|list| {
                (0..list.length())
                    .filter_map(|i| list.item(i))
                    .filter_map(|node| node.dyn_into::<HtmlElement>().ok())
                    .collect()
            })
            .unwrap_or_default();
        let same = buttons
            .iter()
            .find(|button| preferred.is_some() && button.get_attribute("aria-label") == preferred);
        let confirm = buttons
            .iter()
            .find(|button| confirming && button.class_list().contains("danger"));
        let _ = match same.or(confirm).or(buttons.first()) {
            Some(button) => button.focus(),
            None => card.focus(),
        };
    }
}

/// What the card warns of about how the VM will boot, if anything (the VM page's words).
fn boot_warning(
    locale: Locale,
    order: crate::types::BootOrder,
    media: Option<&str>,
) -> Option<&'static str> {
    match boot_check(order, media) {
        Err(_) => Some(tr!(locale, vm.boot_cannot_boot)),
        Ok(Some(_)) => Some(tr!(locale, vm.boot_drive_empty)),
        Ok(None) => None,
    }
}

/// Shutdown and reboot are requests to the guest's OS; say so, and what to do if it ignores them.
fn guest_request_notice(locale: Locale, action: VmAction) -> &'static str {
    match action {
        VmAction::Reboot => tr!(locale, dashboard.notice_reboot_requested),
        _ => tr!(locale, dashboard.notice_shutdown_requested),
    }
}

#[cfg(test)]
mod tests {
    use super::{guest_request_notice, usage_line};
    use crate::i18n::Locale;
    use crate::types::VmAction;

    #[test]
    fn the_usage_line_says_what_is_known() {
        assert_eq!(
            usage_line(Locale::en, Some(12), Some(40)),
            (
                "CPU 12% · memory 40%".into(),
                "--cpu: 12%;--memory: 40%;".into()
            )
        );
        assert_eq!(
            usage_line(Locale::en, Some(3), None),
            ("CPU 3%".into(), "--cpu: 3%;".into())
        );
        assert_eq!(
            usage_line(Locale::ko, Some(12), Some(40)).0,
            "CPU 12% · 메모리 40%"
        );
    }

    #[test]
    fn guest_requests_say_what_to_do_if_ignored() {
        assert!(guest_request_notice(Locale::en, VmAction::Reboot).ends_with("use Reset."));
        assert!(guest_request_notice(Locale::en, VmAction::Shutdown).ends_with("use Stop."));
        assert!(guest_request_notice(Locale::ko, VmAction::Shutdown).contains("강제 종료"));
    }
}
