//! Boot order and installation status (seed 003): the order is the firmware's, read at a cold
//! boot; completing an installation changes nothing by itself and offers the next steps.

use leptos::prelude::*;

use super::section::Call;
use super::snapshots::take_installed_snapshot;
use crate::api::machine::{change_media, complete_installation, set_boot_order};
use crate::components::boot_order_select::BootOrderSelect;
use crate::i18n::Locale;
use crate::language::{use_locale, Label};
use crate::machine::{boot_check, Suggestion};
use crate::store::VmStore;
use crate::tr;
use crate::types::{BootOrder, InstallationStatus, Vm, VmId, VmStatus};

#[component]
pub fn BootSection(id: VmId, vm: Memo<Option<Vm>>, store: VmStore) -> impl IntoView {
    let locale = use_locale();
    let current = move || vm.with(|vm| vm.as_ref().map(|vm| vm.boot_order).unwrap_or_default());
    let chosen = RwSignal::new(current().as_str().to_string());
    // The record changes (here, elsewhere, behind Limen's back): the choice follows it.
    Effect::new(move |_| chosen.set(current().as_str().to_string()));
    let running =
        move || vm.with(|vm| vm.as_ref().is_some_and(|vm| vm.status == VmStatus::Running));
    let warning = move || {
        vm.with(|vm| {
            vm.as_ref().and_then(|vm| {
                boot_words(
                    locale,
                    boot_check(vm.boot_order, vm.current_media.as_deref()),
                )
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
            <h2 id="boot-heading">{tr!(locale, vm.boot_heading)}</h2>
            <div class="section-row">
                <BootOrderSelect label=tr!(locale, vm.boot_from) value=chosen/>
                <button
                    type="button"
                    disabled=move || {
                        call.busy() || chosen.try_get().is_none_or(|chosen| chosen == current().as_str())
                    }
                    on:click=save
                >
                    {tr!(locale, vm.boot_save)}
                </button>
            </div>
            <Show when=running>
                <p class="notice" role="note">{tr!(locale, vm.boot_running_note)}</p>
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
    let locale = use_locale();
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
            <h2 id="install-heading">{tr!(locale, vm.installation)}</h2>
            <p role="status" aria-label=tr!(locale, vm.installation_status)>
                {move || status().label_in(locale)}
            </p>
            <div class="section-row">
                <Show when=move || status() != InstallationStatus::Installed>
                    <button type="button" disabled=move || call.busy() on:click=move |_| complete(false)>
                        {tr!(locale, vm.mark_installed)}
                    </button>
                </Show>
                <Show when=move || {
                    matches!(status(), InstallationStatus::NotInstalled | InstallationStatus::Installing)
                }>
                    <button type="button" disabled=move || call.busy() on:click=move |_| complete(true)>
                        {tr!(locale, vm.mark_installation_failed)}
                    </button>
                </Show>
            </div>
            <Show when=move || !suggestions().is_empty()>
                <div class="suggestions" role="group" aria-label=tr!(locale, vm.next_steps)>
                    <p>{tr!(locale, vm.installed_next)}</p>
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
                                        {suggestion.label_in(locale)}
                                    </button>
                                }
                            })
                            .collect_view()
                    }}
                </div>
            </Show>
            <Show when=move || offer_snapshot.try_get().unwrap_or(false)>
                <div class="suggestions" role="group" aria-label=tr!(locale, vm.snapshot_offer_group)>
                    {move || {
                        if snapshot_taken.try_get().unwrap_or(false) {
                            view! { <p role="status">{tr!(locale, vm.installed_snapshot_taken)}</p> }
                                .into_any()
                        } else {
                            view! {
                                <span class="suggestions">
                                    <p>{tr!(locale, vm.snapshot_offer)}</p>
                                    <button
                                        type="button"
                                        disabled=move || call.busy()
                                        on:click=move |_| {
                                            take_installed_snapshot(call, store, id, snapshot_taken)
                                        }
                                    >
                                        {tr!(locale, vm.take_snapshot_now)}
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

/// What `boot_check` says of the boot order and the drive, in the page's language: the refusal
/// (it cannot boot) or the warning, if any.
fn boot_words(locale: Locale, check: Result<Option<String>, String>) -> Option<&'static str> {
    match check {
        Err(_) => Some(tr!(locale, vm.boot_cannot_boot)),
        Ok(Some(_)) => Some(tr!(locale, vm.boot_drive_empty)),
        Ok(None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_words_say_what_boot_check_says() {
        for order in BootOrder::ALL {
            for media in [None, Some("debian.iso")] {
                let check = boot_check(order, media);
                let english = match check.clone() {
                    Ok(warning) => warning,
                    Err(refusal) => Some(refusal),
                };
                assert_eq!(
                    boot_words(Locale::en, check.clone()).map(str::to_string),
                    english
                );
                assert_eq!(boot_words(Locale::ko, check).is_some(), english.is_some());
            }
        }
        assert!(boot_words(Locale::ko, boot_check(BootOrder::Cdrom, None))
            .is_some_and(|words| words.contains("CD-ROM만")));
    }
}
