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
    // `?role=web`: only the VMs with that role (seed 004); `?host=second`: only those on that
    // host (by key); both kept in the URL, so they can be bookmarked and survive a reload.
    let query = use_query_map();
    let role = Memo::new(move |_| query.read().get("role").filter(|role| !role.is_empty()));
    let host = Memo::new(move |_| query.read().get("host").filter(|host| !host.is_empty()));

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
                                <RoleFilter store role host/>
                                <HostFilter store role host/>
                                <VmList store role host/>
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

/// The dashboard's address with these filters.
fn filtered(role: Option<&str>, host: Option<&str>) -> String {
    match (role, host) {
        (Some(role), Some(host)) => format!("/?role={role}&host={host}"),
        (Some(role), None) => format!("/?role={role}"),
        (None, Some(host)) => format!("/?host={host}"),
        (None, None) => "/".to_string(),
    }
}

/// One filter: a link for all, then one per value with its count ("web (3)"), the one shown
/// marked current. Plain links (the router takes their clicks) and one re-render per change.
/// One function for both filters, not generic: this is part of the dashboard's first load.
fn filter_links(
    label: String,
    all: (String, String),
    current: Option<String>,
    links: Vec<FilterLink>,
) -> AnyView {
    let here = |value: Option<&str>| (current.as_deref() == value).then_some("true");
    let (all_text, all_href) = all;
    view! {
        <nav class="role-filter" aria-label=label>
            <a href=all_href aria-current=here(None)>{all_text}</a>
            {links
                .into_iter()
                .map(|link| {
                    view! {
                        <a href=link.href aria-current=here(Some(&link.value)) aria-label=link.name>
                            {format!("{} ({})", link.value, link.count)}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
    }
    .into_any()
}

/// A value of a filter: what it is, how many VMs have it, its address and accessible name.
struct FilterLink {
    value: String,
    count: u64,
    href: String,
    name: String,
}

/// One link per role in use, and one for all: the same records the list shows. The host filter
/// stays as it is.
#[component]
fn RoleFilter(
    store: VmStore,
    role: Memo<Option<String>>,
    host: Memo<Option<String>>,
) -> impl IntoView {
    let locale = use_locale();
    let roles = Memo::new(move |_| store.roles());
    move || {
        let roles = roles.get();
        (!roles.is_empty()).then(|| {
            let host = host.get();
            let links = roles
                .into_iter()
                .map(|count| FilterLink {
                    href: filtered(Some(&count.role), host.as_deref()),
                    name: tr!(locale, dashboard.role_filter_link, role = &count.role).to_string(),
                    value: count.role,
                    count: count.count,
                })
                .collect();
            let all = tr!(locale, dashboard.role_filter_all).to_string();
            let label = tr!(locale, dashboard.role_filter_label).to_string();
            filter_links(
                label,
                (all, filtered(None, host.as_deref())),
                role.get(),
                links,
            )
        })
    }
}

/// Where there are VMs on more than one host: one link per host (by key), and one for all, like
/// the roles' (the role filter stays as it is).
#[component]
fn HostFilter(
    store: VmStore,
    role: Memo<Option<String>>,
    host: Memo<Option<String>>,
) -> impl IntoView {
    let locale = use_locale();
    let hosts = Memo::new(move |_| store.hosts());
    move || {
        let hosts = hosts.get();
        let current = host.get();
        (hosts.len() > 1 || current.is_some()).then(|| {
            let role = role.get();
            let links = hosts
                .into_iter()
                .map(|(key, count)| FilterLink {
                    href: filtered(role.as_deref(), Some(&key)),
                    name: tr!(locale, dashboard.host_filter_link, host = &key).to_string(),
                    value: key,
                    count,
                })
                .collect();
            let all = tr!(locale, dashboard.host_filter_all).to_string();
            let label = tr!(locale, dashboard.host_filter_label).to_string();
            filter_links(
                label,
                (all, filtered(role.as_deref(), None)),
                current,
                links,
            )
        })
    }
}

#[component]
fn VmList(store: VmStore, role: Memo<Option<String>>, host: Memo<Option<String>>) -> impl IntoView {
    let locale = use_locale();
    let ids = Memo::new(move |_| {
        role.with(|role| host.with(|host| store.ids_matching(role.as_deref(), host.as_deref())))
    });
    // Nothing to list: no VM at all, or none with the chosen role, or on the chosen host.
    let empty = move || match (role.get(), host.get()) {
        _ if store.is_empty() => tr!(locale, dashboard.empty_no_vms).to_string(),
        (Some(role), _) => tr!(locale, dashboard.empty_no_vm_with_role, role).to_string(),
        (None, Some(host)) => tr!(locale, dashboard.empty_no_vm_on_host, host).to_string(),
        (None, None) => String::new(),
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
