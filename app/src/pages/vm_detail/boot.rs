//! Boot order and installation status (seed 003): the order is the firmware's, read at a cold
//! boot; completing an installation changes nothing by itself and offers the next steps.

use leptos::prelude::*;

use super::section::Call;
use super::snapshots::take_installed_snapshot;
use crate::api::machine::{change_media, complete_installation, set_boot_order};
use crate::components::boot_order_select::BootOrderSelect;
use crate::machine::{boot_check, Suggestion};
use crate::store::VmStore;
use crate::types::{BootOrder, InstallationStatus, Vm, VmId, VmStatus};

#[component]
pub fn BootSection(id: VmId, vm: Memo<Option<Vm>>, store: VmStore) -> impl IntoView {
    let current = move || vm.with(|vm| vm.as_ref().map(|vm| vm.boot_order).unwrap_or_default());
    let chosen = RwSignal::new(current().as_str().to_string());
    // The record changes (here, elsewhere, behind Limen's back): the choice follows it.
    Effect::new(move |_| chosen.set(current().as_str().to_string()));
    let running =
        move || vm.with(|vm| vm.as_ref().is_some_and(|vm| vm.status == VmStatus::Running));
    let warning = move || {
        vm.with(|vm| {
            vm.as_ref().and_then(|vm| {
                match boot_check(vm.boot_order, vm.current_media.as_deref()) {
                    Ok(warning) => warning,
                    Err(refusal) => Some(refusal),
                }
            })
        })
    };
    let call = Call::new();
    let save = move |_| {
        if let Ok(order) = chosen.get_untracked().parse::<BootOrder>() {
            call.run(store, id, set_boot_order(id, order), |_| {});
        }
    };
    view! {
        <section class="vm-section" aria-labelledby="boot-heading">
            <h2 id="boot-heading">"Boot order"</h2>
            <div class="section-row">
                <BootOrderSelect label="Boot from" value=chosen/>
                <button
                    type="button"
                    disabled=move || {
                        call.busy() || chosen.try_get().is_none_or(|chosen| chosen == current().as_str())
                    }
                    on:click=save
                >
                    "Save boot order"
                </button>
            </div>
            <Show when=running>
                <p class="notice" role="note">
                    "The VM is running: it reads its boot order when it starts, so a change applies at its next cold boot (Stop, then Start — not Reboot)."
                </p>
            </Show>
            {move || warning().map(|warning| view! { <p class="warning">{warning}</p> })}
            {call.error_view()}
        </section>
    }
    // Erasing the type keeps the page's view type shallow enough for the release build.
    .into_any()
}

#[component]
pub fn InstallationSection(id: VmId, vm: Memo<Option<Vm>>, store: VmStore) -> impl IntoView {
    let status = move || {
        vm.with(|vm| {
            vm.as_ref()
                .map(|vm| vm.installation_status)
                .unwrap_or_default()
        })
    };
    let suggestions = move || vm.with(|vm| vm.as_ref().map(Suggestion::for_vm).unwrap_or_default());
    let call = Call::new();
    // Right after the installation is marked complete: the moment to keep (seed 003).
    let snapshot_taken = RwSignal::new(false);
    let just_installed = RwSignal::new(false);
    // Offered once the next steps are done: a snapshot taken before "Boot from disk" and
    // "Eject" would bring the installer back with a revert.
    let offer_snapshot = Memo::new(move |_| {
        just_installed.get()
            && status() == InstallationStatus::Installed
            && suggestions().is_empty()
    });
    let complete = move |failed: bool| {
        call.run(store, id, complete_installation(id, failed), move |_| {
            just_installed.set(!failed)
        })
    };
    let follow = move |suggestion: Suggestion| match suggestion {
        Suggestion::BootFromDisk => call.run(store, id, set_boot_order(id, BootOrder::Hd), |_| {}),
        Suggestion::EjectMedia => call.run(store, id, change_media(id, None), |_| {}),
    };
    view! {
        <section class="vm-section" aria-labelledby="install-heading">
            <h2 id="install-heading">"Installation"</h2>
            <p role="status" aria-label="Installation status">{move || status().label()}</p>
            <div class="section-row">
                <Show when=move || status() != InstallationStatus::Installed>
                    <button type="button" disabled=move || call.busy() on:click=move |_| complete(false)>
                        "Mark installed"
                    </button>
                </Show>
                <Show when=move || {
                    matches!(status(), InstallationStatus::NotInstalled | InstallationStatus::Installing)
                }>
                    <button type="button" disabled=move || call.busy() on:click=move |_| complete(true)>
                        "Mark installation failed"
                    </button>
                </Show>
            </div>
            <Show when=move || !suggestions().is_empty()>
                <div class="suggestions" role="group" aria-label="Next steps">
                    <p>"Installed. Next:"</p>
                    {move || {
                        suggestions()
                            .into_iter()
                            .map(|suggestion| {
                                view! {
                                    <button
                                        type="button"
                                        disabled=move || call.busy()
                                        on:click=move |_| follow(suggestion)
                                    >
                                        {suggestion.label()}
                                    </button>
                                }
                            })
                            .collect_view()
                    }}
                </div>
            </Show>
            <Show when=move || offer_snapshot.try_get().unwrap_or(false)>
                <div class="suggestions" role="group" aria-label="Snapshot">
                    {move || {
                        if snapshot_taken.try_get().unwrap_or(false) {
                            view! { <p role="status">"Snapshot \"installed\" taken."</p> }.into_any()
                        } else {
                            view! {
                                <span class="suggestions">
                                    <p>"Take a snapshot now, to come back to a fresh installation at any time."</p>
                                    <button
                                        type="button"
                                        disabled=move || call.busy()
                                        on:click=move |_| {
                                            take_installed_snapshot(call, store, id, snapshot_taken)
                                        }
                                    >
                                        "Take a snapshot now"
                                    </button>
                                </span>
                            }
                                .into_any()
                        }
                    }}
                </div>
            </Show>
            {call.error_view()}
        </section>
    }
    // Erasing the type keeps the page's view type shallow enough for the release build.
    .into_any()
}
