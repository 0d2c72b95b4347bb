use leptos::prelude::*;

use crate::api::vms::{ActOnVm, DeleteVm};
use crate::components::create_form::QuotaRefresh;
use crate::live::{use_live, LinkState};
use crate::store::VmStore;
use crate::types::{VmAction, VmId, VmStatus};

/// One VM: its state badge, sizes, and the actions that make sense right now.
#[component]
pub fn VmCard(id: VmId, store: VmStore) -> impl IntoView {
    let vm = Memo::new(move |_| store.get(id));
    let name = move || vm.with(|vm| vm.as_ref().map(|vm| vm.name.clone()).unwrap_or_default());
    let status = move || vm.with(|vm| vm.as_ref().map_or(VmStatus::Unknown, |vm| vm.status));

    let act = ServerAction::<ActOnVm>::new();
    let delete = ServerAction::<DeleteVm>::new();
    let confirming_delete = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    // What the last action asked of the guest, said in words until the state moves on.
    let requested = RwSignal::new(None::<VmAction>);
    let dispatched = RwSignal::new(None::<VmAction>);

    // While the event stream is live it brings every change, in order; the answer (which may
    // be older than an event that overtook it) is only used when the stream is down.
    let link = use_live().link;
    Effect::new(move |_| match act.value().get() {
        Some(Ok(updated)) => {
            error.set(None);
            requested.set(
                dispatched
                    .get_untracked()
                    .filter(|action| action.needs_guest()),
            );
            if link.get_untracked() != LinkState::Live {
                store.upsert(updated);
            }
        }
        Some(Err(failure)) => error.set(Some(failure.message)),
        None => {}
    });
    let quota_refresh = use_context::<QuotaRefresh>();
    Effect::new(move |_| match delete.value().get() {
        Some(Ok(_)) => {
            store.remove(id);
            if let Some(refresh) = quota_refresh {
                refresh.bump();
            }
        }
        Some(Err(failure)) => {
            confirming_delete.set(false);
            error.set(Some(failure.message));
        }
        None => {}
    });
    let busy = move || act.pending().get() || delete.pending().get();

    view! {
        <li class="vm-card" aria-label=move || format!("VM {}", name())>
            <div class="vm-card-head">
                <h2 class="vm-name">
                    <a href=format!("/vms/{id}")>{name}</a>
                </h2>
                <span
                    class=move || format!("badge badge-{}", status().as_str())
                    role="status"
                    aria-label=move || format!("Status of {}", name())
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
                                <dt>"Disk"</dt>
                                <dd>{format!("{} GiB", vm.disk_size)}</dd>
                                <dt>"Media"</dt>
                                <dd>{vm.current_media.unwrap_or_else(|| "none".into())}</dd>
                                <dt>"Boot"</dt>
                                <dd>{vm.boot_order.label()}</dd>
                            </dl>
                        }
                    })
            }}
            <div class="vm-actions">
                {VmAction::ALL
                    .into_iter()
                    .map(|action| {
                        view! {
                            <button
                                type="button"
                                aria-label=move || format!("{} {}", action.label(), name())
                                disabled=move || busy() || !action.allowed_in(status())
                                on:click=move |_| {
                                    dispatched.set(Some(action));
                                    act.dispatch(ActOnVm { id, action });
                                }
                            >
                                {action.label()}
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
                                aria-label=move || format!("Delete {}", name())
                                disabled=busy
                                on:click=move |_| confirming_delete.set(true)
                            >
                                "Delete"
                            </button>
                        }
                    }
                >
                    <button
                        type="button"
                        class="danger"
                        aria-label=move || format!("Confirm delete {}", name())
                        disabled=busy
                        on:click=move |_| {
                            delete.dispatch(DeleteVm { id });
                        }
                    >
                        "Confirm delete"
                    </button>
                    <button type="button" on:click=move |_| confirming_delete.set(false)>
                        "Cancel"
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
                                {guest_request_notice(action)}
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

/// Shutdown and reboot are requests to the guest's OS; say so, and what to do if it ignores them.
fn guest_request_notice(action: VmAction) -> &'static str {
    match action {
        VmAction::Reboot => {
            "Reboot requested: the guest's operating system must restart itself. If it does not \
             respond, use Reset."
        }
        _ => {
            "Shutdown requested: the guest's operating system must power itself off. If it does \
             not respond (no OS, or still booting), use Stop."
        }
    }
}
