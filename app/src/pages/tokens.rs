use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{lazy_route, LazyRoute};

use crate::api::accounts::{list_tokens, CreateToken, RevokeToken};
use crate::auth::{ApiToken, CreateTokenRequest};
use crate::pages::{format_time, optional_number};

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
        Some(Err(failure)) => error.set(Some(failure.message)),
        None => {}
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let token_name = name.get_untracked().trim().to_string();
        if token_name.is_empty() {
            error.set(Some("Give the token a name.".into()));
            return;
        }
        let expires_in_days = match optional_number::<u32>("Expires in days", &days.get_untracked())
        {
            Ok(days) => days,
            Err(_) => {
                error.set(Some(
                    "Expires in days must be a whole number, or empty for a token that does not expire."
                        .into(),
                ));
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
                <div class="new-secret" role="region" aria-label="New API token">
                    <label>
                        "New token"
                        <input type="text" readonly value=new.secret.clone() prop:value=new.secret/>
                    </label>
                    <p>
                        {format!("Copy the token \u{201c}{}\u{201d} now: it will not be shown again. ", new.token.name)}
                        "Send it with each API request in the header "
                        <code>"Authorization: Bearer …"</code>
                        "."
                    </p>
                </div>
            }
        })
    };

    view! {
        <section class="tokens">
            <Title text="API tokens · Limen"/>
            <h1>"API tokens"</h1>
            <p class="muted">
                "Tokens let scripts use the REST API as you. They can do everything you can."
            </p>
            <form class="create-form" aria-label="Create an API token" on:submit=on_submit>
                <label>
                    "Token name"
                    <input type="text" name="token_name" autocomplete="off" required bind:value=name/>
                </label>
                <label>
                    "Expires in days"
                    <input
                        type="number"
                        name="expires_in_days"
                        min=1
                        step=1
                        placeholder="never"
                        bind:value=days
                    />
                </label>
                <button type="submit" disabled=move || create.pending().get()>
                    {move || if create.pending().get() { "Creating…" } else { "Create token" }}
                </button>
                {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            </form>
            {secret}
            {move || {
                revoke
                    .value()
                    .get()
                    .and_then(Result::err)
                    .map(|error| view! { <p class="error" role="alert">{error.message}</p> })
            }}
            <Transition fallback=|| view! { <p class="muted">"Loading tokens…"</p> }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Ok(list) if list.is_empty() => {
                            view! { <p class="muted">"No API tokens yet."</p> }.into_any()
                        }
                        Ok(list) => view! { <TokenTable tokens=list revoke/> }.into_any(),
                        Err(error) => {
                            view! { <p class="error" role="alert">{error.message}</p> }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn TokenTable(tokens: Vec<ApiToken>, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    let never = || "never".to_string();
    view! {
        <div class="table-wrap">
            <table class="data-table" aria-label="API tokens">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Expires"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col">
                            <span class="visually-hidden">"Actions"</span>
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
                                    <td>{format_time(&token.created_at)}</td>
                                    <td>{token.expires_at.as_ref().map_or_else(never, format_time)}</td>
                                    <td>{token.last_used_at.as_ref().map_or_else(never, format_time)}</td>
                                    <td>
                                        <button
                                            type="button"
                                            class="danger"
                                            aria-label=format!("Revoke {}", token.name)
                                            disabled=move || revoke.pending().get()
                                            on:click=move |_| {
                                                revoke.dispatch(RevokeToken { id });
                                            }
                                        >
                                            "Revoke"
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
