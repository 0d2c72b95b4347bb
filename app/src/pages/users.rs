use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::accounts::{list_users, CreateUser, DeleteUser, UpdateUser};
use crate::auth::{CreateUserRequest, Quota, Role, UpdateUserRequest, UserDetail};
use crate::components::fields::{PasswordField, UsernameField};
use crate::pages::{confirm, optional_number, used_of};
use crate::use_session;

/// Users and their quotas (admins only; the server functions refuse anyone else anyway).
#[component]
pub fn UsersPage() -> impl IntoView {
    let session = use_session();
    // Bumped after every change that succeeded: the list is then loaded again.
    let refresh = RwSignal::new(0_u64);
    let users = Resource::new(move || refresh.get(), |_| list_users());

    view! {
        <section class="users">
            <Title text="Users · Limen"/>
            <h1>"Users"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading users…"</p> }>
                {move || Suspend::new(async move {
                    let admin = matches!(
                        session.me.await, Ok(Some(user)) if user.role == Role::Admin
                    );
                    if admin {
                        view! { <UsersAdmin users refresh/> }.into_any()
                    } else {
                        view! { <p class="notice" role="note">"Only admins can see this page."</p> }
                            .into_any()
                    }
                })}
            </Suspense>
        </section>
    }
}

type UsersResource = Resource<Result<Vec<UserDetail>, crate::error::AppError>>;

#[component]
fn UsersAdmin(users: UsersResource, refresh: RwSignal<u64>) -> impl IntoView {
    view! {
        <NewUserForm refresh/>
        <Transition fallback=|| view! { <p class="muted">"Loading users…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(list) if list.is_empty() => {
                        view! { <p class="muted">"No users."</p> }.into_any()
                    }
                    Ok(list) => view! { <UserTable users=list refresh/> }.into_any(),
                    Err(error) => {
                        view! { <p class="error" role="alert">{error.message}</p> }.into_any()
                    }
                }
            })}
        </Transition>
    }
    .into_any()
}

/// The four quota inputs' text: empty is no limit.
#[derive(Clone, Copy)]
struct QuotaFields {
    vms: RwSignal<String>,
    vcpus: RwSignal<String>,
    memory: RwSignal<String>,
    disk: RwSignal<String>,
}

impl QuotaFields {
    fn new(quota: &Quota) -> Self {
        fn text<T: ToString>(limit: Option<T>) -> RwSignal<String> {
            RwSignal::new(limit.map(|limit| limit.to_string()).unwrap_or_default())
        }
        Self {
            vms: text(quota.max_vms),
            vcpus: text(quota.max_vcpus),
            memory: text(quota.max_memory_mib),
            disk: text(quota.max_disk_gb),
        }
    }

    fn clear(&self) {
        for field in [self.vms, self.vcpus, self.memory, self.disk] {
            field.set(String::new());
        }
    }

    fn parse(&self) -> Result<Quota, String> {
        Ok(Quota {
            max_vms: optional_number("Max VMs", &self.vms.get_untracked())?,
            max_vcpus: optional_number("Max vCPUs", &self.vcpus.get_untracked())?,
            max_memory_mib: optional_number("Max memory (MiB)", &self.memory.get_untracked())?,
            max_disk_gb: optional_number("Max disk (GiB)", &self.disk.get_untracked())?,
        })
    }
}

/// A number input for one limit; `label` is its accessible name, `shown` the visible text.
#[component]
fn LimitInput(label: String, shown: &'static str, value: RwSignal<String>) -> impl IntoView {
    view! {
        <label>
            {shown}
            <input
                type="number"
                min=0
                step=1
                placeholder="no limit"
                aria-label=label
                value=value.get_untracked()
                bind:value=value
            />
        </label>
    }
}

#[component]
fn NewUserForm(refresh: RwSignal<u64>) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let role = RwSignal::new("user".to_string());
    let quota = QuotaFields::new(&Quota::default());
    let error = RwSignal::new(None::<String>);
    let created = RwSignal::new(None::<String>);
    let create = ServerAction::<CreateUser>::new();

    Effect::new(move |_| match create.value().get() {
        Some(Ok(detail)) => {
            error.set(None);
            created.set(Some(format!("Created user {}.", detail.user.username)));
            username.set(String::new());
            password.set(String::new());
            role.set("user".into());
            quota.clear();
            refresh.update(|n| *n += 1);
        }
        Some(Err(failure)) => {
            created.set(None);
            error.set(Some(failure.message));
        }
        None => {}
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        created.set(None);
        let request = (|| {
            Ok::<_, String>(CreateUserRequest {
                username: username.get_untracked().trim().to_string(),
                password: password.get_untracked(),
                role: role.get_untracked().parse::<Role>()?,
                quota: quota.parse()?,
            })
        })();
        match request {
            Ok(request) => {
                error.set(None);
                create.dispatch(CreateUser { request });
            }
            Err(message) => error.set(Some(message)),
        }
    };

    view! {
        <form class="create-form" method="post" aria-label="New user" on:submit=on_submit>
            <h2 class="form-title">"New user"</h2>
            <UsernameField value=username autocomplete="off"/>
            <PasswordField value=password label="Password" name="password" new=true/>
            <label>
                "Role"
                <select
                    name="role"
                    on:change=move |ev| role.set(event_target_value(&ev))
                    prop:value=role
                >
                    <option value="user">"user"</option>
                    <option value="admin">"admin"</option>
                </select>
            </label>
            <LimitInput label="Max VMs".into() shown="Max VMs" value=quota.vms/>
            <LimitInput label="Max vCPUs".into() shown="Max vCPUs" value=quota.vcpus/>
            <LimitInput label="Max memory (MiB)".into() shown="Max memory (MiB)" value=quota.memory/>
            <LimitInput label="Max disk (GiB)".into() shown="Max disk (GiB)" value=quota.disk/>
            <button type="submit" disabled=move || create.pending().get()>
                {move || if create.pending().get() { "Creating…" } else { "Create user" }}
            </button>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            {move || created.get().map(|message| view! { <p class="ok" role="status">{message}</p> })}
        </form>
    }
    .into_any()
}

#[component]
fn UserTable(users: Vec<UserDetail>, refresh: RwSignal<u64>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="data-table" aria-label="Users">
                <thead>
                    <tr>
                        <th scope="col">"Username"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Disabled"</th>
                        <th scope="col">"VMs"</th>
                        <th scope="col">"vCPUs"</th>
                        <th scope="col">"Memory (MiB)"</th>
                        <th scope="col">"Disk (GiB)"</th>
                        <th scope="col">
                            <span class="visually-hidden">"Actions"</span>
                        </th>
                    </tr>
                </thead>
                {users
                    .into_iter()
                    .map(|detail| view! { <UserRows detail refresh/> })
                    .collect_view()}
            </table>
        </div>
    }
    .into_any()
}

/// One user: a row of facts and actions, and a row to edit the quota and reset the password.
#[component]
fn UserRows(detail: UserDetail, refresh: RwSignal<u64>) -> impl IntoView {
    let UserDetail {
        user,
        quota: report,
    } = detail;
    let name = user.username.clone();
    let disabled = user.disabled;
    let (limits, used) = (report.limits, report.used);

    let update = ServerAction::<UpdateUser>::new();
    let delete = ServerAction::<DeleteUser>::new();
    let fields = QuotaFields::new(&limits);
    let new_password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let note = RwSignal::new(None::<String>);
    // What the last update changed, to say so (a password change leaves the list as it is).
    let password_change = RwSignal::new(false);

    Effect::new(move |_| match update.value().get() {
        Some(Ok(_)) => {
            error.set(None);
            if password_change.get_untracked() {
                new_password.set(String::new());
                note.set(Some("Password changed.".into()));
            } else {
                refresh.update(|n| *n += 1);
            }
        }
        Some(Err(failure)) => {
            note.set(None);
            error.set(Some(failure.message));
        }
        None => {}
    });
    Effect::new(move |_| match delete.value().get() {
        Some(Ok(())) => refresh.update(|n| *n += 1),
        Some(Err(failure)) => error.set(Some(failure.message)),
        None => {}
    });
    let busy = move || update.pending().get() || delete.pending().get();

    let send = move |request: UpdateUserRequest, password: bool| {
        password_change.set(password);
        note.set(None);
        error.set(None);
        update.dispatch(UpdateUser {
            username: name.clone(),
            request,
        });
    };
    let send_toggle = send.clone();
    let send_quota = send.clone();
    let send_password = send;

    let on_toggle = move |_| {
        send_toggle(
            UpdateUserRequest {
                disabled: Some(!disabled),
                ..Default::default()
            },
            false,
        )
    };
    let delete_name = user.username.clone();
    let on_delete = move |_| {
        let question =
            format!("Delete the user {delete_name}? Their sessions and API tokens stop working.");
        if confirm(&question) {
            error.set(None);
            delete.dispatch(DeleteUser {
                username: delete_name.clone(),
            });
        }
    };
    let on_quota = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match fields.parse() {
            Ok(quota) => send_quota(
                UpdateUserRequest {
                    quota: Some(quota),
                    ..Default::default()
                },
                false,
            ),
            Err(message) => error.set(Some(message)),
        }
    };
    let on_password = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let password = new_password.get_untracked();
        if password.is_empty() {
            error.set(Some("Type the new password first.".into()));
            return;
        }
        send_password(
            UpdateUserRequest {
                password: Some(password),
                ..Default::default()
            },
            true,
        )
    };

    let u = user.username.clone();
    view! {
        <tbody class="user">
            <tr>
                <th scope="row">{u.clone()}</th>
                <td>{user.role.as_str()}</td>
                <td>{if disabled { "yes" } else { "no" }}</td>
                <td>{used_of(used.vms, limits.max_vms)}</td>
                <td>{used_of(used.vcpus, limits.max_vcpus)}</td>
                <td>{used_of(used.memory_mib, limits.max_memory_mib)}</td>
                <td>{used_of(used.disk_gb, limits.max_disk_gb)}</td>
                <td class="row-actions">
                    <button
                        type="button"
                        aria-label=format!("{} {u}", if disabled { "Enable" } else { "Disable" })
                        disabled=busy
                        on:click=on_toggle
                    >
                        {if disabled { "Enable" } else { "Disable" }}
                    </button>
                    <button
                        type="button"
                        class="danger"
                        aria-label=format!("Delete {u}")
                        disabled=busy
                        on:click=on_delete
                    >
                        "Delete"
                    </button>
                </td>
            </tr>
            <tr class="user-edit">
                <td colspan="8">
                    <form
                        class="inline-form"
                        aria-label=format!("Edit quota of {u}")
                        on:submit=on_quota
                    >
                        <LimitInput label=format!("Max VMs for {u}") shown="Max VMs" value=fields.vms/>
                        <LimitInput label=format!("Max vCPUs for {u}") shown="Max vCPUs" value=fields.vcpus/>
                        <LimitInput
                            label=format!("Max memory (MiB) for {u}")
                            shown="Max memory (MiB)"
                            value=fields.memory
                        />
                        <LimitInput
                            label=format!("Max disk (GiB) for {u}")
                            shown="Max disk (GiB)"
                            value=fields.disk
                        />
                        <button
                            type="submit"
                            aria-label=format!("Save quota for {u}")
                            disabled=busy
                        >
                            "Save quota"
                        </button>
                    </form>
                    <form
                        class="inline-form"
                        method="post"
                        aria-label=format!("Password of {u}")
                        on:submit=on_password
                    >
                        <label>
                            "New password"
                            <input
                                type="password"
                                autocomplete="new-password"
                                aria-label=format!("New password for {u}")
                                bind:value=new_password
                            />
                        </label>
                        <button
                            type="submit"
                            aria-label=format!("Reset password of {u}")
                            disabled=busy
                        >
                            "Reset password"
                        </button>
                    </form>
                    {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
                    {move || note.get().map(|message| view! { <p class="ok" role="status">{message}</p> })}
                </td>
            </tr>
        </tbody>
    }
    .into_any()
}
