use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::vms::list_vms;
use crate::components::create_form::{CreateVmForm, QuotaRefresh};
use crate::components::vm_card::VmCard;
use crate::language::{error_sentence, use_locale};
use crate::live::use_live;
use crate::store::VmStore;
use crate::tr;

/// The create dialog, split off the main WASM (loaded with its first opening).
#[leptos::lazy]
async fn create_dialog_lazily(store: VmStore) -> AnyView {
    view! { <CreateVmForm store/> }.into_any()
}

/// The VM list: rendered on the server with the current state, then kept current in the browser
/// by the live event stream.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let locale = use_locale();
    let store = use_live().store;
    // Deleting a VM (on its card) frees quota the create form shows.
    QuotaRefresh::provide();
    let initial = Resource::new(|| (), |_| list_vms());
    let open_create = RwSignal::new(false);
    // `?role=web`: only the VMs with that role (seed 004); kept in the URL, so it can be
    // bookmarked and survives a reload.
    let query = use_query_map();
    let role = Memo::new(move |_| query.read().get("role").filter(|role| !role.is_empty()));

    view! {
        <section class="dashboard">
            <div class="dashboard-head">
                <Title text=tr!(locale, dashboard.title)/>
                <h1>{tr!(locale, dashboard.virtual_machines)}</h1>
                <button
                    type="button"
                    aria-expanded=move || if open_create.get() { "true" } else { "false" }
                    on:click=move |_| open_create.update(|open| *open = !*open)
                >
                    {tr!(locale, dashboard.new_vm_button)}
                </button>
            </div>
            // The create dialog's code loads when it is first opened: the first load is the list.
            <Show when=move || open_create.get()>
                <Suspense fallback=move || {
                    view! { <p class="muted">{tr!(locale, dashboard.loading)}</p> }
                }>
                    {move || Suspend::new(create_dialog_lazily(store))}
                </Suspense>
            </Show>
            <Suspense fallback=move || {
                view! { <p class="muted">{tr!(locale, dashboard.loading_vms)}</p> }
            }>
                {move || Suspend::new(async move {
                    match initial.await {
                        Ok(vms) => {
                            store.apply_all(vms);
                            view! {
                                <RoleFilter store role/>
                                <VmList store role/>
                            }
                            .into_any()
                        }
                        Err(error) => {
                            view! { <p class="error" role="alert">{error_sentence(locale, &error)}</p> }.into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

/// One link per role in use, with its count, and one for all: the same records the list shows.
/// Plain links (the router takes their clicks) and one re-render per change: kept small, this
/// is part of the dashboard's first load.
#[component]
fn RoleFilter(store: VmStore, role: Memo<Option<String>>) -> impl IntoView {
    let locale = use_locale();
    let roles = Memo::new(move |_| store.roles());
    move || {
        let roles = roles.get();
        (!roles.is_empty()).then(|| {
            let current = role.get();
            let all = current.is_none().then_some("true");
            view! {
                <nav class="role-filter" aria-label=tr!(locale, dashboard.role_filter_label)>
                    <a href="/" aria-current=all>{tr!(locale, dashboard.role_filter_all)}</a>
                    {roles
                        .into_iter()
                        .map(|count| {
                            let here = (current.as_deref() == Some(count.role.as_str())).then_some("true");
                            view! {
                                <a
                                    href=format!("/?role={}", count.role)
                                    aria-current=here
                                    aria-label=tr!(locale, dashboard.role_filter_link, role = &count.role).to_string()
                                >
                                    {format!("{} ({})", count.role, count.count)}
                                </a>
                            }
                        })
                        .collect_view()}
                </nav>
            }
        })
    }
}

#[component]
fn VmList(store: VmStore, role: Memo<Option<String>>) -> impl IntoView {
    let locale = use_locale();
    let ids = Memo::new(move |_| role.with(|role| store.ids_with_role(role.as_deref())));
    // Nothing to list: no VM at all, or none with the chosen role.
    let empty = move || match role.get() {
        _ if store.is_empty() => tr!(locale, dashboard.empty_no_vms).to_string(),
        Some(role) => tr!(locale, dashboard.empty_no_vm_with_role, role).to_string(),
        None => String::new(),
    };
    view! {
        <Show
            when=move || !ids.with(Vec::is_empty)
            fallback=move || view! { <p class="muted">{empty}</p> }
        >
            <ul class="vm-grid" aria-label=tr!(locale, dashboard.virtual_machines)>
                <For each=move || ids.get() key=|id| *id let:id>
                    <VmCard id store/>
                </For>
            </ul>
        </Show>
    }
}
