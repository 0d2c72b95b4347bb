//! The hosts page (admins): every libvirt host Limen manages — whether Limen reaches it, what it
//! has and how many VMs are on it — adding one by its name and URI, renaming, enabling or
//! disabling, and removing one that has no VM left. The list loads again whenever the event
//! stream says a host changed (here or anywhere: a host lost or reached again too).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::hosts::{list_hosts, AddHost, RemoveHost, UpdateHost};
use crate::auth::Role;
use crate::hosts::{AddHostRequest, Host, HostState, UpdateHostRequest};
use crate::i18n::Locale;
use crate::language::{error_sentence, format_time, size_words, use_locale};
use crate::live::use_live;
use crate::pages::confirm;
use crate::tr;
use crate::use_session;

#[component]
pub fn HostsPage() -> impl IntoView {
    let locale = use_locale();
    let session = use_session();
    let live = use_live();
    // Bumped after every change that succeeded; the stream's `hosts_changed` bumps `live.hosts`.
    let refresh = RwSignal::new(0_u64);
    let hosts = Resource::new(move || (refresh.get(), live.hosts.get()), |_| list_hosts());

    view! {
        <section class="hosts">
            <Title text=tr!(locale, admin.hosts_title)/>
            <h1>{tr!(locale, admin.hosts)}</h1>
            <Suspense fallback=move || {
                view! { <p class="muted">{tr!(locale, admin.loading_hosts)}</p> }
            }>
                {move || Suspend::new(async move {
                    let admin = matches!(
                        session.me.await, Ok(Some(user)) if user.role == Role::Admin
                    );
                    if admin {
                        view! { <HostsAdmin hosts refresh/> }.into_any()
                    } else {
                        view! {
                            <p class="notice" role="note">{tr!(locale, admin.admins_only)}</p>
                        }
                        .into_any()
                    }
                })}
            </Suspense>
        </section>
    }
}

type HostsResource = Resource<Result<Vec<Host>, crate::error::AppError>>;

#[component]
fn HostsAdmin(hosts: HostsResource, refresh: RwSignal<u64>) -> impl IntoView {
    let locale = use_locale();
    view! {
        <NewHostForm refresh/>
        <Transition fallback=move || {
            view! { <p class="muted">{tr!(locale, admin.loading_hosts)}</p> }
        }>
            {move || Suspend::new(async move {
                match hosts.await {
                    Ok(list) => view! { <HostTable hosts=list refresh/> }.into_any(),
                    Err(error) => {
                        view! { <p class="error" role="alert">{error_sentence(locale, &error)}</p> }
                            .into_any()
                    }
                }
            })}
        </Transition>
    }
    .into_any()
}

#[component]
fn NewHostForm(refresh: RwSignal<u64>) -> impl IntoView {
    let locale = use_locale();
    let name = RwSignal::new(String::new());
    let uri = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let added = RwSignal::new(None::<String>);
    let add = ServerAction::<AddHost>::new();

    Effect::new(move |_| match add.value().get() {
        Some(Ok(host)) => {
            error.set(None);
            added.set(Some(
                tr!(locale, admin.host_added, name = host.name.as_str()).to_string(),
            ));
            name.set(String::new());
            uri.set(String::new());
            refresh.update(|n| *n += 1);
        }
        Some(Err(failure)) => {
            added.set(None);
            error.set(Some(error_sentence(locale, &failure)));
        }
        None => {}
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        added.set(None);
        error.set(None);
        add.dispatch(AddHost {
            request: AddHostRequest {
                name: name.get_untracked().trim().to_string(),
                uri: uri.get_untracked().trim().to_string(),
            },
        });
    };

    view! {
        <form
            class="create-form"
            method="post"
            aria-label=tr!(locale, admin.new_host)
            on:submit=on_submit
        >
            <h2 class="form-title">{tr!(locale, admin.new_host)}</h2>
            <p class="muted">{tr!(locale, admin.new_host_hint)}</p>
            <label>
                {tr!(locale, admin.host_name)}
                <input
                    type="text"
                    name="name"
                    required
                    maxlength=63
                    autocomplete="off"
                    value=name.get_untracked()
                    bind:value=name
                />
            </label>
            <label>
                {tr!(locale, admin.host_uri)}
                <input
                    type="text"
                    name="uri"
                    required
                    autocomplete="off"
                    spellcheck="false"
                    placeholder="qemu+ssh://root@host2.example/system"
                    value=uri.get_untracked()
                    bind:value=uri
                />
            </label>
            <button type="submit" disabled=move || add.pending().get()>
                {move || {
                    if add.pending().get() {
                        tr!(locale, admin.adding_host)
                    } else {
                        tr!(locale, admin.add_host)
                    }
                }}
            </button>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            {move || added.get().map(|message| view! { <p class="ok" role="status">{message}</p> })}
        </form>
    }
    .into_any()
}

#[component]
fn HostTable(hosts: Vec<Host>, refresh: RwSignal<u64>) -> impl IntoView {
    let locale = use_locale();
    view! {
        <div class="table-wrap">
            <table class="data-table" aria-label=tr!(locale, admin.hosts)>
                <thead>
                    <tr>
                        <th scope="col">{tr!(locale, admin.host_name)}</th>
                        <th scope="col">{tr!(locale, admin.host_uri)}</th>
                        <th scope="col">{tr!(locale, admin.column_state)}</th>
                        <th scope="col">{tr!(locale, admin.column_enabled)}</th>
                        <th scope="col">{tr!(locale, admin.column_cpus)}</th>
                        <th scope="col">{tr!(locale, admin.column_host_memory)}</th>
                        <th scope="col">{tr!(locale, admin.column_free_memory)}</th>
                        <th scope="col">{tr!(locale, admin.column_vms)}</th>
                        <th scope="col">{tr!(locale, admin.column_added)}</th>
                        <th scope="col">
                            <span class="visually-hidden">{tr!(locale, admin.actions)}</span>
                        </th>
                    </tr>
                </thead>
                {hosts
                    .into_iter()
                    .map(|host| view! { <HostRows host refresh/> })
                    .collect_view()}
            </table>
        </div>
    }
    .into_any()
}

/// MiB as people read them ("7.8 GiB"); "unknown" when libvirt could not say.
fn mib_words(locale: Locale, mib: Option<u64>) -> String {
    match mib {
        Some(mib) => size_words(locale, mib.saturating_mul(1024 * 1024)),
        None => tr!(locale, admin.unknown).to_string(),
    }
}

/// One host: a row of facts and actions, and a row to rename it (with what its actions said).
#[component]
fn HostRows(host: Host, refresh: RwSignal<u64>) -> impl IntoView {
    let locale = use_locale();
    let update = ServerAction::<UpdateHost>::new();
    let remove = ServerAction::<RemoveHost>::new();
    let new_name = RwSignal::new(host.name.clone());
    let error = RwSignal::new(None::<String>);

    Effect::new(move |_| match update.value().get() {
        Some(Ok(_)) => {
            error.set(None);
            refresh.update(|n| *n += 1);
        }
        Some(Err(failure)) => error.set(Some(error_sentence(locale, &failure))),
        None => {}
    });
    Effect::new(move |_| match remove.value().get() {
        Some(Ok(())) => refresh.update(|n| *n += 1),
        Some(Err(failure)) => error.set(Some(error_sentence(locale, &failure))),
        None => {}
    });
    let busy = move || update.pending().get() || remove.pending().get();

    let Host {
        key,
        name,
        uri,
        enabled,
        local,
        state,
        reason,
        capacity,
        vms,
        added_at,
    } = host;
    let send = {
        let key = key.clone();
        move |request: UpdateHostRequest| {
            error.set(None);
            update.dispatch(UpdateHost {
                key: key.clone(),
                request,
            });
        }
    };
    let send_toggle = send.clone();
    let on_toggle = move |_| {
        send_toggle(UpdateHostRequest {
            enabled: Some(!enabled),
            ..Default::default()
        })
    };
    let on_rename = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        send(UpdateHostRequest {
            name: Some(new_name.get_untracked().trim().to_string()),
            ..Default::default()
        })
    };
    let on_remove = {
        let (key, name) = (key.clone(), name.clone());
        move |_| {
            let question = tr!(locale, admin.confirm_remove_host, name = name.as_str()).to_string();
            if confirm(&question) {
                error.set(None);
                remove.dispatch(RemoveHost { key: key.clone() });
            }
        }
    };

    let shown_key = (key != name).then(|| {
        view! { <span class="muted host-key">{tr!(locale, admin.host_key, key = key.as_str()).to_string()}</span> }
    });
    let (state_class, state_words) = match state {
        HostState::Connected => ("badge badge-running", tr!(locale, admin.host_connected)),
        HostState::Unreachable => ("badge badge-crashed", tr!(locale, admin.host_unreachable)),
    };
    let n = name.clone();
    view! {
        <tbody class="host" aria-label=n.clone()>
            <tr>
                <th scope="row">{n.clone()} {shown_key}</th>
                <td class="host-uri">{uri.unwrap_or_default()}</td>
                <td>
                    <span
                        class=state_class
                        role="status"
                        aria-label=tr!(locale, admin.state_of_host, name = n.as_str()).to_string()
                    >
                        {state_words}
                    </span>
                    {reason.map(|reason| view! { <p class="host-reason">{reason}</p> })}
                </td>
                <td>
                    {if enabled {
                        tr!(locale, admin.yes)
                    } else {
                        tr!(locale, admin.no)
                    }}
                </td>
                <td>
                    {capacity
                        .map(|c| c.cpus.to_string())
                        .unwrap_or_else(|| tr!(locale, admin.unknown).to_string())}
                </td>
                <td class="nowrap">{mib_words(locale, capacity.map(|c| c.memory))}</td>
                <td class="nowrap">{mib_words(locale, capacity.and_then(|c| c.free_memory))}</td>
                <td>{vms}</td>
                <td class="nowrap">{format_time(locale, &added_at)}</td>
                <td class="row-actions">
                    {if local {
                        view! { <span class="muted">{tr!(locale, admin.host_is_local)}</span> }
                            .into_any()
                    } else {
                        view! {
                            <button
                                type="button"
                                aria-label=if enabled {
                                    tr!(locale, admin.disable_named, name = n.as_str()).to_string()
                                } else {
                                    tr!(locale, admin.enable_named, name = n.as_str()).to_string()
                                }
                                disabled=busy
                                on:click=on_toggle
                            >
                                {if enabled {
                                    tr!(locale, admin.disable)
                                } else {
                                    tr!(locale, admin.enable)
                                }}
                            </button>
                            <button
                                type="button"
                                class="danger"
                                aria-label=tr!(locale, admin.remove_host_named, name = n.as_str()).to_string()
                                disabled=busy
                                on:click=on_remove
                            >
                                {tr!(locale, admin.remove_host)}
                            </button>
                        }
                            .into_any()
                    }}
                </td>
            </tr>
            <tr class="host-edit">
                <td colspan="10">
                    <form
                        class="inline-form"
                        aria-label=tr!(locale, admin.rename_host_named, name = n.as_str()).to_string()
                        on:submit=on_rename
                    >
                        <label>
                            {tr!(locale, admin.new_host_name)}
                            <input
                                type="text"
                                maxlength=63
                                autocomplete="off"
                                aria-label=tr!(locale, admin.new_name_of_host, name = n.as_str()).to_string()
                                value=new_name.get_untracked()
                                bind:value=new_name
                            />
                        </label>
                        <button
                            type="submit"
                            aria-label=tr!(locale, admin.rename_host_named, name = n.as_str()).to_string()
                            disabled=busy
                        >
                            {tr!(locale, admin.rename_host)}
                        </button>
                    </form>
                    {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
                </td>
            </tr>
        </tbody>
    }
    .into_any()
}
