use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{lazy_route, LazyRoute};

use crate::api::accounts::{list_tokens, CreateToken, RevokeToken};
use crate::auth::{ApiToken, CreateTokenRequest};
use crate::language::{error_sentence, format_time, use_locale};
use crate::pages::optional_number;
use crate::tr;

/// The route: this page's code is split off the main WASM and loaded when the page is visited.
pub struct TokensRoute;

#[lazy_route]
impl LazyRoute for TokensRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <TokensPage/> }.into_any()
    }
}

/// The caller's API tokens: create one (its secret shown once, here), list them, revoke them.
#[component]
pub fn TokensPage() -> impl IntoView {
    let locale = use_locale();
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_tokens(),
    );
    let name = RwSignal::new(String::new());
    let days = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);

    Effect::new(move |_| match create.value().get() {
        Some(Ok(_)) => {
            error.set(None);
            name.set(String::new());
            days.set(String::new());
        }
        Some(Err(failure)) => error.set(Some(error_sentence(locale, &failure))),
        None => {}
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let token_name = name.get_untracked().trim().to_string();
        if token_name.is_empty() {
            error.set(Some(tr!(locale, account.name_the_token).into()));
            return;
        }
        let field = tr!(locale, account.expires_in_days);
        let expires_in_days = match optional_number::<u32>(locale, field, &days.get_untracked()) {
            Ok(days) => days,
            Err(_) => {
                error.set(Some(tr!(locale, account.expiry_not_a_number).into()));
                return;
            }
        };
        error.set(None);
        create.dispatch(CreateToken {
            request: CreateTokenRequest {
                name: token_name,
                expires_in_days,
            },
        });
    };

    let secret = move || {
        create.value().get().and_then(Result::ok).map(|new| {
            view! {
                <div class="new-secret" role="region" aria-label=tr!(locale, account.new_api_token)>
                    <label>
                        {tr!(locale, account.new_token)}
                        <input type="text" readonly value=new.secret.clone() prop:value=new.secret/>
                    </label>
                    <p>
                        {tr!(locale, account.copy_token_now, name = new.token.name.as_str()).to_string()}
                        " "
                        {tr!(locale, account.send_token_in_header)}
                        " "
                        <code>"Authorization: Bearer …"</code>
                        "."
                    </p>
                </div>
            }
        })
    };

    view! {
        <section class="tokens">
            <Title text=tr!(locale, account.tokens_title)/>
            <h1>{tr!(locale, account.api_tokens)}</h1>
            <p class="muted">
                {tr!(locale, account.tokens_explanation)}
            </p>
            <form class="create-form" aria-label=tr!(locale, account.create_token_form) on:submit=on_submit>
                <label>
                    {tr!(locale, account.token_name)}
                    <input type="text" name="token_name" autocomplete="off" required bind:value=name/>
                </label>
                <label>
                    {tr!(locale, account.expires_in_days)}
                    <input
                        type="number"
                        name="expires_in_days"
                        min=1
                        step=1
                        placeholder=tr!(locale, account.never_expires)
                        bind:value=days
                    />
                </label>
                <button type="submit" disabled=move || create.pending().get()>
                    {move || {
                        if create.pending().get() {
                            tr!(locale, account.creating)
                        } else {
                            tr!(locale, account.create_token)
                        }
                    }}
                </button>
                {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            </form>
            {secret}
            {move || {
                revoke
                    .value()
                    .get()
                    .and_then(Result::err)
                    .map(|error| view! { <p class="error" role="alert">{error_sentence(locale, &error)}</p> })
            }}
            <Transition fallback=move || {
                view! { <p class="muted">{tr!(locale, account.loading_tokens)}</p> }
            }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Ok(list) if list.is_empty() => {
                            view! { <p class="muted">{tr!(locale, account.no_tokens)}</p> }.into_any()
                        }
                        Ok(list) => view! { <TokenTable tokens=list revoke/> }.into_any(),
                        Err(error) => {
                            view! { <p class="error" role="alert">{error_sentence(locale, &error)}</p> }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn TokenTable(tokens: Vec<ApiToken>, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    let locale = use_locale();
    let never_expires = move || tr!(locale, account.never_expires).to_string();
    let never_used = move || tr!(locale, account.never_used).to_string();
    let time = move |at: &chrono::DateTime<chrono::Utc>| format_time(locale, at);
    view! {
        <div class="table-wrap">
            <table class="data-table" aria-label=tr!(locale, account.api_tokens)>
                <thead>
                    <tr>
                        <th scope="col">{tr!(locale, account.column_name)}</th>
                        <th scope="col">{tr!(locale, account.column_created)}</th>
                        <th scope="col">{tr!(locale, account.column_expires)}</th>
                        <th scope="col">{tr!(locale, account.column_last_used)}</th>
                        <th scope="col">
                            <span class="visually-hidden">{tr!(locale, account.actions)}</span>
                        </th>
                    </tr>
                </thead>
                <tbody>
                    {tokens
                        .into_iter()
                        .map(|token| {
                            let id = token.id;
                            view! {
                                <tr>
                                    <td>{token.name.clone()}</td>
                                    <td>{time(&token.created_at)}</td>
                                    <td>{token.expires_at.as_ref().map_or_else(never_expires, time)}</td>
                                    <td>{token.last_used_at.as_ref().map_or_else(never_used, time)}</td>
                                    <td>
                                        <button
                                            type="button"
                                            class="danger"
                                            aria-label=tr!(locale, account.revoke_named, name = token.name.as_str()).to_string()
                                            disabled=move || revoke.pending().get()
                                            on:click=move |_| {
                                                revoke.dispatch(RevokeToken { id });
                                            }
                                        >
                                            {tr!(locale, account.revoke)}
                                        </button>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
