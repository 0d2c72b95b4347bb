use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{lazy_route, LazyRoute};

use crate::api::auth::{setup_needed, SetupAdmin};
use crate::auth::SetupRequest;
use crate::components::fields::{PasswordField, UsernameField};
use crate::pages::go_to;

/// The route: this page's code is split off the main WASM and loaded when the page is visited.
pub struct SetupRoute;

#[lazy_route]
impl LazyRoute for SetupRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <SetupPage/> }.into_any()
    }
}

/// The first admin of a fresh install, authorised by the one-time token in the server's log.
#[component]
pub fn SetupPage() -> impl IntoView {
    let token = RwSignal::new(String::new());
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let repeat = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let setup = ServerAction::<SetupAdmin>::new();
    let needed = Resource::new(|| (), |_| setup_needed());

    Effect::new(move |_| match setup.value().get() {
        Some(Ok(_)) => {
            error.set(None);
            go_to("/");
        }
        Some(Err(failure)) => error.set(Some(failure.message)),
        None => {}
    });
    let succeeded = move || matches!(setup.value().get(), Some(Ok(_)));

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let password = password.get_untracked();
        if password != repeat.get_untracked() {
            error.set(Some("The two passwords differ.".into()));
            return;
        }
        error.set(None);
        setup.dispatch(SetupAdmin {
            request: SetupRequest {
                setup_token: token.get_untracked().trim().to_string(),
                username: username.get_untracked().trim().to_string(),
                password,
            },
        });
    };

    view! {
        <section class="auth-page">
            <Title text="Set up · Limen"/>
            <h1>"Set up the first admin"</h1>
            <p class="muted">
                "While no admin exists, the server prints a one-time setup token in its log when it starts; paste it here."
            </p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    matches!(needed.await, Ok(false))
                        .then(|| {
                            view! {
                                <p class="notice" role="note">
                                    "An admin exists already. "
                                    <a href="/login">"Log in"</a>
                                </p>
                            }
                        })
                })}
            </Suspense>
            <form class="stack-form" method="post" aria-label="Set up the first admin" on:submit=on_submit>
                <label>
                    "Setup token"
                    <input type="text" name="setup_token" autocomplete="off" required bind:value=token/>
                </label>
                <UsernameField value=username autocomplete="username"/>
                <PasswordField value=password label="Password" name="password" new=true/>
                <PasswordField value=repeat label="Repeat password" name="repeat_password" new=true/>
                <button type="submit" disabled=move || setup.pending().get() || succeeded()>
                    {move || if setup.pending().get() { "Creating…" } else { "Create admin" }}
                </button>
                {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            </form>
        </section>
    }
}
