//! The VM's system disk: what it is, and growing it (never shrinking).

use leptos::prelude::*;

use super::section::Call;
use crate::api::machine::{resize_disk, vm_disk};
use crate::language::{error_sentence, size_words, use_locale};
use crate::store::VmStore;
use crate::tr;
use crate::types::{Vm, VmId, VmStatus};
use crate::validate::DISK_MAX_GIB;

#[component]
pub fn DiskSection(id: VmId, vm: Memo<Option<Vm>>, store: VmStore) -> impl IntoView {
    let locale = use_locale();
    // The recorded size, kept while the VM goes away (no read of a deleted VM's disk).
    let recorded = Memo::new(move |last: Option<&u64>| {
        vm.with(|vm| vm.as_ref().map(|vm| vm.disk_size))
            .or(last.copied())
            .unwrap_or(0)
    });
    // Read again whenever the recorded size changes (a resize, here or elsewhere).
    let disk = Resource::new(move || recorded.get(), move |_| vm_disk(id));
    let size = RwSignal::new(String::new());
    let running =
        move || vm.with(|vm| vm.as_ref().is_some_and(|vm| vm.status == VmStatus::Running));
    let call = Call::new();
    let grow = move |_| match size.get_untracked().trim().parse::<u64>() {
        Ok(size_gb) => call.run(store, id, resize_disk(id, size_gb), move |_| {
            size.set(String::new())
        }),
        Err(_) => call.error.set(Some(tr!(locale, vm.disk_not_whole).into())),
    };
    view! {
        <section class="vm-section" aria-labelledby="disk-heading">
            <h2 id="disk-heading">{tr!(locale, vm.disk_heading)}</h2>
            <Transition fallback=move || view! { <p class="muted">{tr!(locale, vm.loading)}</p> }>
                {move || Suspend::new(async move {
                    match disk.await {
                        Ok(disk) => {
                            view! {
                                <dl class="vm-facts" aria-label=tr!(locale, vm.disk_heading)>
                                    <dt>{tr!(locale, vm.disk_size)}</dt>
                                    <dd aria-label=tr!(locale, vm.disk_size_label)>
                                        {size_words(locale, disk.virtual_size)}
                                    </dd>
                                    <dt>{tr!(locale, vm.disk_on_host)}</dt>
                                    <dd>{size_words(locale, disk.allocated_size)}</dd>
                                    <dt>{tr!(locale, vm.disk_format)}</dt>
                                    <dd>{disk.format}</dd>
                                    <dt>{tr!(locale, vm.disk_built_on)}</dt>
                                    <dd>
                                        {disk
                                            .backing_image
                                            .unwrap_or_else(|| tr!(locale, vm.disk_own).into())}
                                    </dd>
                                    <dt>{tr!(locale, vm.disk_file)}</dt>
                                    <dd>{disk.path}</dd>
                                </dl>
                            }
                            .into_any()
                        }
                        Err(error) => {
                            view! { <p class="error" role="alert">{error_sentence(locale, &error)}</p> }
                                .into_any()
                        }
                    }
                })}
            </Transition>
            <div class="section-row">
                <label>
                    {tr!(locale, vm.disk_new_size)}
                    <input
                        type="number"
                        name="size_gb"
                        min=move || recorded.try_get().unwrap_or(0) + 1
                        max=DISK_MAX_GIB
                        step="1"
                        bind:value=size
                    />
                </label>
                <button
                    type="button"
                    disabled=move || {
                        call.busy() || size.try_with(|size| size.trim().is_empty()).unwrap_or(true)
                    }
                    on:click=grow
                >
                    {tr!(locale, vm.disk_grow)}
                </button>
            </div>
            <p class="muted">
                {move || if running() {
                    tr!(locale, vm.disk_running_hint)
                } else {
                    tr!(locale, vm.disk_stopped_hint)
                }}
            </p>
            {call.error_view()}
        </section>
    }
    // Erasing the type keeps the page's view type shallow enough for the release build.
    .into_any()
}
