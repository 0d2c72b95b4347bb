//! The VM's CD-ROM drive: which ISO is in it; insert one from the library, eject it. A running
//! VM sees the new disc at once.

use leptos::prelude::*;

use super::section::Call;
use crate::api::machine::change_media;
use crate::api::media::list_isos;
use crate::language::use_locale;
use crate::live::use_live;
use crate::store::VmStore;
use crate::tr;
use crate::types::{Vm, VmId};

#[component]
pub fn MediaSection(id: VmId, vm: Memo<Option<Vm>>, store: VmStore) -> impl IntoView {
    let library = use_live().library;
    let locale = use_locale();
    let isos = Resource::new(move || library.get(), |_| list_isos());
    let chosen = RwSignal::new(String::new());
    let call = Call::new();
    let media = move || vm.with(|vm| vm.as_ref().and_then(|vm| vm.current_media.clone()));
    let insert = move |_| {
        let iso = chosen.get_untracked();
        if !iso.is_empty() {
            call.run(store, id, change_media(id, Some(iso)), |_| {});
        }
    };
    let eject = move |_| call.run(store, id, change_media(id, None), |_| {});
    view! {
        <section class="vm-section" aria-labelledby="media-heading">
            <h2 id="media-heading">{tr!(locale, vm.media_heading)}</h2>
            <p role="status" aria-label=tr!(locale, vm.media_in_drive_label)>
                {move || match media() {
                    Some(iso) => tr!(locale, vm.media_in_drive, iso = iso).to_string(),
                    None => tr!(locale, vm.media_drive_empty).to_string(),
                }}
            </p>
            <div class="section-row">
                <label>
                    {tr!(locale, vm.media_iso)}
                    <Transition fallback=|| view! { <select disabled=true></select> }>
                        {move || Suspend::new(async move {
                            let names: Vec<String> = isos
                                .await
                                .map(|files| files.into_iter().map(|file| file.name).collect())
                                .unwrap_or_default();
                            view! {
                                <select
                                    on:change=move |ev| chosen.set(event_target_value(&ev))
                                    prop:value=chosen
                                >
                                    <option value="">{tr!(locale, vm.media_choose_iso)}</option>
                                    {names
                                        .into_iter()
                                        .map(|name| view! { <option value=name.clone()>{name.clone()}</option> })
                                        .collect_view()}
                                </select>
                            }
                        })}
                    </Transition>
                </label>
                <button
                    type="button"
                    disabled=move || call.busy() || chosen.try_with(String::is_empty).unwrap_or(true)
                    on:click=insert
                >
                    {tr!(locale, vm.media_insert)}
                </button>
                <button
                    type="button"
                    disabled=move || call.busy() || media().is_none()
                    on:click=eject
                >
                    {tr!(locale, vm.media_eject)}
                </button>
            </div>
            <p class="muted">{tr!(locale, vm.media_hint)}</p>
            {call.error_view()}
        </section>
    }
    // Erasing the type keeps the page's view type shallow enough for the release build.
    .into_any()
}
