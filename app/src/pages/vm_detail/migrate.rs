//! Moving the VM to another host (admins, where Limen manages more than one): the other enabled
//! hosts to choose from, and a button. While libvirt works, the page's progress bar of work on
//! the VM says where it goes (the snapshots section shows every operation on the VM); the
//! answer puts the VM, on its new host, into the store; a refusal or a failure is said in the
//! server's words.

use leptos::prelude::*;

use super::section::Call;
use crate::api::hosts::list_hosts;
use crate::api::vms::migrate_vm;
use crate::error::AppError;
use crate::hosts::{Host, MigrateRequest};
use crate::language::use_locale;
use crate::live::use_live;
use crate::store::VmStore;
use crate::tr;
use crate::types::{Vm, VmId};

/// The hosts to choose from, loaded again whenever one is added, changed or removed. Made
/// with the page, not in the admins-only part that waits for the session: a resource made after
/// an await is numbered differently on the server and in the browser, which breaks hydration.
pub fn hosts_resource() -> HostsResource {
    let live = use_live();
    Resource::new(move || live.hosts.get(), |_| list_hosts())
}

pub type HostsResource = Resource<Result<Vec<Host>, AppError>>;

#[component]
pub fn MigrateSection(
    id: VmId,
    vm: Memo<Option<Vm>>,
    store: VmStore,
    hosts: HostsResource,
) -> impl IntoView {
    let locale = use_locale();
    let here = move || {
        vm.try_with(|vm| vm.as_ref().map(|vm| vm.host.clone()))
            .flatten()
            .unwrap_or_default()
    };
    let target = RwSignal::new(String::new());
    let call = Call::new();
    let migrate = move |_| {
        let host = target.get_untracked();
        if host.is_empty() {
            return;
        }
        let request = MigrateRequest { host, live: None };
        call.run(store, id, migrate_vm(id, request), move |_| {
            target.set(String::new())
        });
    };
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let hosts = hosts.await.unwrap_or_default();
                (hosts.len() > 1)
                    .then(|| {
                        // Every enabled host, its own hidden (it changes with a move): the
                        // options are the same on the server and in the browser, which may
                        // know the VM at different moments while the page hydrates.
                        let options = hosts
                            .into_iter()
                            .filter(|host| host.enabled)
                            .map(|host| {
                                let key = host.key.clone();
                                let own = move || here() == key;
                                view! {
                                    <option value=host.key.clone() hidden=own.clone() disabled=own>
                                        {host.name}
                                    </option>
                                }
                            })
                            .collect_view();
                        view! {
                            <section class="vm-section" aria-labelledby="migrate-heading">
                                <h2 id="migrate-heading">{tr!(locale, vm.migration)}</h2>
                                <p class="muted">{tr!(locale, vm.migrate_hint)}</p>
                                <div class="section-row">
                                    <label>
                                        {tr!(locale, vm.migrate_to)}
                                        <select
                                            name="migrate_to"
                                            on:change=move |ev| target.set(event_target_value(&ev))
                                            prop:value=target
                                        >
                                            <option value="">{tr!(locale, vm.choose_host)}</option>
                                            {options}
                                        </select>
                                    </label>
                                    <button
                                        type="button"
                                        disabled=move || {
                                            call.busy() || target.try_with(String::is_empty).unwrap_or(true)
                                        }
                                        on:click=migrate
                                    >
                                        {tr!(locale, vm.migrate)}
                                    </button>
                                </div>
                                {call.error_view()}
                            </section>
                        }
                    })
            })}
        </Transition>
    }
    // Erasing the type keeps the page's view type shallow enough for the release build.
    .into_any()
}
