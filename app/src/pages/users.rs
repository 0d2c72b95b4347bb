use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::accounts::{list_users, CreateUser, DeleteUser, UpdateUser};
use crate::auth::{CreateUserRequest, Quota, Role, UpdateUserRequest, UserDetail};
use crate::components::fields::{PasswordField, UsernameField};
use crate::i18n::Locale;
use crate::language::{error_sentence, use_locale, Label};
use crate::pages::{confirm, optional_number, used_of};
use crate::tr;
use crate::use_session;

/// Users and their quotas (admins only; the server functions refuse anyone else anyway).
#[component]
pub fn UsersPage() -> impl IntoView {
    let locale = use_locale();
    let session = use_session();
    // Bumped after every change that succeeded: the list is then loaded again.
    let refresh = RwSignal::new(0_u64);
    let users = Resource::new(move || refresh.get(), |_| list_users());

    view! {
        <section class="users">
            <Title text=tr!(locale, admin.users_title)/>
            <h1>{tr!(locale, admin.users)}</h1>
            <Suspense fallback=move || {
                view! { <p class="muted">{tr!(locale, admin.loading_users)}</p> }
            }>
                {move || Suspend::new(async move {
                    let admin = matches!(
                        session.me.await, Ok(Some(user)) if user.role == Role::Admin
                    );
                    if admin {
                        view! { <UsersAdmin users refresh/> }.into_any()
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

type UsersResource = Resource<Result<Vec<UserDetail>, crate::error::AppError>>;

#[component]
fn UsersAdmin(users: UsersResource, refresh: RwSignal<u64>) -> impl IntoView {
    let locale = use_locale();
    view! {
        <NewUserForm refresh/>
        <Transition fallback=move || {
            view! { <p class="muted">{tr!(locale, admin.loading_users)}</p> }
        }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(list) if list.is_empty() => {
                        view! { <p class="muted">{tr!(locale, admin.no_users)}</p> }.into_any()
                    }
                    Ok(list) => view! { <UserTable users=list refresh/> }.into_any(),
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

    fn parse(&self, locale: Locale) -> Result<Quota, String> {
        Ok(Quota {
            max_vms: optional_number(
                locale,
                tr!(locale, admin.max_vms),
                &self.vms.get_untracked(),
            )?,
            max_vcpus: optional_number(
                locale,
                tr!(locale, admin.max_vcpus),
                &self.vcpus.get_untracked(),
            )?,
            max_memory_mib: optional_number(
                locale,
                tr!(locale, admin.max_memory),
                &self.memory.get_untracked(),
            )?,
            max_disk_gb: optional_number(
                locale,
                tr!(locale, admin.max_disk),
                &self.disk.get_untracked(),
            )?,
        })
    }
}

/// A number input for one limit; `label` is its accessible name, `shown` the visible text.
#[component]
fn LimitInput(label: String, shown: &'static str, value: RwSignal<String>) -> impl IntoView {
    let locale = use_locale();
    view! {
        <label>
            {shown}
            <input
                type="number"
                min=0
                step=1
                placeholder=tr!(locale, admin.no_limit)
                aria-label=label
                value=value.get_untracked()
                bind:value=value
            />
        </label>
    }
}

#[component]
fn NewUserForm(refresh: RwSignal<u64>) -> impl IntoView {
    let locale = use_locale();
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
            created.set(Some(
                tr!(
                    locale,
                    admin.user_created,
                    name = detail.user.username.as_str()
                )
                .to_string(),
            ));
            username.set(String::new());
            password.set(String::new());
            role.set("user".into());
            quota.clear();
            refresh.update(|n| *n += 1);
        }
        Some(Err(failure)) => {
            created.set(None);
            error.set(Some(error_sentence(locale, &failure)));
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
                quota: quota.parse(locale)?,
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
        <form
            class="create-form"
            method="post"
            aria-label=tr!(locale, admin.new_user)
            on:submit=on_submit
        >
            <h2 class="form-title">{tr!(locale, admin.new_user)}</h2>
            <UsernameField value=username autocomplete="off"/>
            <PasswordField value=password label=tr!(locale, admin.password) name="password" new=true/>
            <label>
                {tr!(locale, admin.role)}
                <select
                    name="role"
                    on:change=move |ev| role.set(event_target_value(&ev))
                    prop:value=role
                >
                    <option value="user">{Role::User.label_in(locale)}</option>
                    <option value="admin">{Role::Admin.label_in(locale)}</option>
                </select>
            </label>
            <LimitInput
                label=tr!(locale, admin.max_vms).into()
                shown=tr!(locale, admin.max_vms)
                value=quota.vms
            />
            <LimitInput
                label=tr!(locale, admin.max_vcpus).into()
                shown=tr!(locale, admin.max_vcpus)
                value=quota.vcpus
            />
            <LimitInput
                label=tr!(locale, admin.max_memory).into()
                shown=tr!(locale, admin.max_memory)
                value=quota.memory
            />
            <LimitInput
                label=tr!(locale, admin.max_disk).into()
                shown=tr!(locale, admin.max_disk)
                value=quota.disk
            />
            <button type="submit" disabled=move || create.pending().get()>
                {move || {
                if create.pending().get() {
                    tr!(locale, admin.creating)
                } else {
                    tr!(locale, admin.create_user)
                }
            }}
            </button>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            {move || created.get().map(|message| view! { <p class="ok" role="status">{message}</p> })}
        </form>
    }
    .into_any()
}

#[component]
fn UserTable(users: Vec<UserDetail>, refresh: RwSignal<u64>) -> impl IntoView {
    let locale = use_locale();
    view! {
        <div class="table-wrap">
            <table class="data-table" aria-label=tr!(locale, admin.users)>
                <thead>
                    <tr>
                        <th scope="col">{tr!(locale, admin.column_username)}</th>
                        <th scope="col">{tr!(locale, admin.role)}</th>
                        <th scope="col">{tr!(locale, admin.column_disabled)}</th>
                        <th scope="col">{tr!(locale, admin.column_vms)}</th>
                        <th scope="col">{tr!(locale, admin.column_vcpus)}</th>
                        <th scope="col">{tr!(locale, admin.column_memory)}</th>
                        <th scope="col">{tr!(locale, admin.column_disk)}</th>
                        <th scope="col">
                            <span class="visually-hidden">{tr!(locale, admin.actions)}</span>
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
    let locale = use_locale();
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
                note.set(Some(tr!(locale, admin.password_changed).into()));
            } else {
                refresh.update(|n| *n += 1);
            }
        }
        Some(Err(failure)) => {
            note.set(None);
            error.set(Some(error_sentence(locale, &failure)));
        }
        None => {}
    });
    Effect::new(move |_| match delete.value().get() {
        Some(Ok(())) => refresh.update(|n| *n += 1),
        Some(Err(failure)) => error.set(Some(error_sentence(locale, &failure))),
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
        let question = tr!(
            locale,
            admin.confirm_delete_user,
            name = delete_name.as_str()
        )
        .to_string();
        if confirm(&question) {
            error.set(None);
            delete.dispatch(DeleteUser {
                username: delete_name.clone(),
            });
        }
    };
    let on_quota = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match fields.parse(locale) {
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
            error.set(Some(tr!(locale, admin.type_new_password_first).into()));
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
                <td>{user.role.label_in(locale)}</td>
                <td>
                    {if disabled {
                        tr!(locale, admin.yes)
                    } else {
                        tr!(locale, admin.no)
                    }}
                </td>
                <td>{used_of(locale, used.vms, limits.max_vms)}</td>
                <td>{used_of(locale, used.vcpus, limits.max_vcpus)}</td>
                <td>{used_of(locale, used.memory_mib, limits.max_memory_mib)}</td>
                <td>{used_of(locale, used.disk_gb, limits.max_disk_gb)}</td>
                <td class="row-actions">
                    <button
                        type="button"
                        aria-label=if disabled {
                            tr!(locale, admin.enable_named, name = u.as_str()).to_string()
                        } else {
                            tr!(locale, admin.disable_named, name = u.as_str()).to_string()
                        }
                        disabled=busy
                        on:click=on_toggle
                    >
                        {if disabled {
                            tr!(locale, admin.enable)
                        } else {
                            tr!(locale, admin.disable)
                        }}
                    </button>
                    <button
                        type="button"
                        class="danger"
                        aria-label=tr!(locale, admin.delete_named, name = u.as_str()).to_string()
                        disabled=busy
                        on:click=on_delete
                    >
                        {tr!(locale, admin.delete)}
                    </button>
                </td>
            </tr>
            <tr class="user-edit">
                <td colspan="8">
                    <form
                        class="inline-form"
                        aria-label=tr!(locale, admin.edit_quota_of, name = u.as_str()).to_string()
                        on:submit=on_quota
                    >
                        <LimitInput
                            label=tr!(locale, admin.max_vms_for, name = u.as_str()).to_string()
                            shown=tr!(locale, admin.max_vms)
                            value=fields.vms
                        />
                        <LimitInput
                            label=tr!(locale, admin.max_vcpus_for, name = u.as_str()).to_string()
                            shown=tr!(locale, admin.max_vcpus)
                            value=fields.vcpus
                        />
                        <LimitInput
                            label=tr!(locale, admin.max_memory_for, name = u.as_str()).to_string()
                            shown=tr!(locale, admin.max_memory)
                            value=fields.memory
                        />
                        <LimitInput
                            label=tr!(locale, admin.max_disk_for, name = u.as_str()).to_string()
                            shown=tr!(locale, admin.max_disk)
                            value=fields.disk
                        />
                        <button
                            type="submit"
                            aria-label=tr!(locale, admin.save_quota_for, name = u.as_str()).to_string()
                            disabled=busy
                        >
                            {tr!(locale, admin.save_quota)}
                        </button>
                    </form>
                    <form
                        class="inline-form"
                        method="post"
                        aria-label=tr!(locale, admin.password_of, name = u.as_str()).to_string()
                        on:submit=on_password
                    >
                        <label>
                            {tr!(locale, admin.new_password)}
                            <input
                                type="password"
                                autocomplete="new-password"
                                aria-label=tr!(locale, admin.new_password_for, name = u.as_str()).to_string()
                                bind:value=new_password
                            />
                        </label>
                        <button
                            type="submit"
                            aria-label=tr!(locale, admin.reset_password_of, name = u.as_str()).to_string()
                            disabled=busy
                        >
                            {tr!(locale, admin.reset_password)}
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
