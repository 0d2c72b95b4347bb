//! The VM page: everything Limen records about one VM, with its actions, its usage graphs, and
//! a section for each thing a user changes after create (media, boot order, installation, snapshots, disk, role,
//! and for admins its host and a base image of its disk).

mod boot;
mod disk;
mod media;
mod migrate;
mod role;
mod section;
mod snapshots;
mod template;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use leptos_router::{lazy_route, LazyRoute};

use crate::api::vms::get_vm;
use crate::auth::Role;
use crate::components::graphs::Graphs;
use crate::components::vm_card::VmCard;
use crate::error::{AppError, ErrorCode};
use crate::i18n::Locale;
use crate::language::{error_sentence, format_time, format_time_seconds, use_locale, Label};
use crate::live::use_live;
use crate::store::VmStore;
use crate::tr;
use crate::types::{Vm, VmId};
use crate::use_session;
use boot::{BootSection, InstallationSection};
use disk::DiskSection;
use media::MediaSection;
use migrate::{hosts_resource, MigrateSection};
use role::RoleSection;
use snapshots::SnapshotsSection;
use template::TemplateSection;

/// The route: split off the main WASM (the dashboard is the first load; this page is loaded when
/// visited).
pub struct VmDetailRoute;

#[lazy_route]
impl LazyRoute for VmDetailRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <VmDetailPage/> }.into_any()
    }
}

/// One VM: everything Limen records about it, with its actions, kept current by the same live
/// stream as the dashboard.
#[component]
pub fn VmDetailPage() -> impl IntoView {
    let store = use_live().store;
    let locale = use_locale();
    view! {
        <section class="vm-detail">
            <p>
                <a href="/">{tr!(locale, vm.back_to_all)}</a>
            </p>
            {route_vm_page(move |vm| {
                let (id, name) = (vm.uuid, vm.name);
                view! {
                    <Title text=format!("{name} · Limen")/>
                    <h1>{name}</h1>
                    <VmDetails id store/>
                }
                .into_any()
            })}
        </section>
    }
}

/// A page about the VM the route's `{uuid}` names (this one, the console): fetched, put in the
/// store every page reads, then `render`ed; an unknown VM or a failure is said in words.
pub(crate) fn route_vm_page(
    render: impl Fn(Vm) -> AnyView + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let store = use_live().store;
    let locale = use_locale();
    let initial = vm_of_route();
    view! {
        <Suspense fallback=move || view! { <p class="muted">{tr!(locale, vm.loading)}</p> }>
            {move || {
                let render = render.clone();
                Suspend::new(async move {
                    match initial.await {
                        Ok(Some(vm)) => {
                            store.apply(vm.clone());
                            render(vm)
                        }
                        Ok(None) => {
                            unavailable(locale, true, tr!(locale, vm.no_such_vm).into())
                        }
                        Err(error) => unavailable(
                            locale,
                            error.code == ErrorCode::VmNotFound,
                            error_sentence(locale, &error),
                        ),
                    }
                })
            }}
        </Suspense>
    }
}

/// The VM the route's `{uuid}` names, as the server has it (`None` for a malformed UUID).
fn vm_of_route() -> Resource<Result<Option<Vm>, AppError>> {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("uuid")
            .and_then(|raw| raw.parse::<VmId>().ok())
    };
    Resource::new(id, |id| async move {
        match id {
            Some(id) => get_vm(id).await.map(Some),
            None => Ok(None),
        }
    })
}

/// No VM to show: an unknown or malformed UUID, one the caller may not see, or a failure to load
/// it; said in words.
fn unavailable(locale: Locale, not_found: bool, message: String) -> AnyView {
    let heading = if not_found {
        tr!(locale, vm.not_found)
    } else {
        tr!(locale, vm.virtual_machine)
    };
    view! {
        <Title text=format!("{heading} · Limen")/>
        <h1>{heading}</h1>
        <p class="error" role="alert">{message}</p>
    }
    .into_any()
}

#[component]
fn VmDetails(id: VmId, store: VmStore) -> impl IntoView {
    let vm = Memo::new(move |_| store.get(id));
    let me = use_session().me;
    let locale = use_locale();
    let hosts = hosts_resource();
    view! {
        <Show
            when=move || vm.with(Option::is_some)
            fallback=move || {
                view! { <p class="notice" role="note">{tr!(locale, vm.deleted)}</p> }
            }
        >
            <ul class="vm-grid single" aria-label=tr!(locale, vm.virtual_machine)>
                <VmCard id store/>
            </ul>
            {move || {
                vm.get()
                    .map(|vm| {
                        view! {
                            <dl class="vm-facts" aria-label=tr!(locale, vm.details)>
                                <dt>"UUID"</dt>
                                <dd>{vm.uuid.to_string()}</dd>
                                <dt>{tr!(locale, vm.operating_system)}</dt>
                                <dd>{vm.os_type}</dd>
                                <dt>{tr!(locale, vm.installation)}</dt>
                                <dd>{vm.installation_status.label_in(locale)}</dd>
                                <dt>{tr!(locale, vm.role)}</dt>
                                <dd>{vm.role.unwrap_or_else(|| tr!(locale, vm.none).into())}</dd>
                                <dt>{tr!(locale, vm.owner)}</dt>
                                <dd>{vm.owner.unwrap_or_else(|| tr!(locale, vm.none).into())}</dd>
                                <dt>{tr!(locale, vm.host)}</dt>
                                <dd>{vm.host}</dd>
                                <dt>{tr!(locale, vm.created)}</dt>
                                <dd>{format_time(locale, &vm.created_at)}</dd>
                                <dt>{tr!(locale, vm.updated)}</dt>
                                <dd>{format_time_seconds(locale, &vm.updated_at)}</dd>
                            </dl>
                        }
                    })
            }}
            <section class="vm-usage" aria-labelledby="usage-heading">
                <h2 id="usage-heading">{tr!(locale, vm.usage)}</h2>
                <Graphs kind="vm" base=format!("/api/v1/vms/{id}/stats")/>
            </section>
            <div class="vm-sections">
                <MediaSection id vm store/>
                <BootSection id vm store/>
                <InstallationSection id vm store/>
                <SnapshotsSection id vm store/>
                <DiskSection id vm store/>
                <RoleSection id vm store/>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let admin = matches!(me.await, Ok(Some(user)) if user.role == Role::Admin);
                        admin
                            .then(|| {
                                view! {
                                    <MigrateSection id vm store hosts/>
                                    <TemplateSection id vm/>
                                }
                            })
                    })}
                </Transition>
            </div>
        </Show>
    }
    .into_any()
}
