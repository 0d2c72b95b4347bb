use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use leptos_router::{lazy_route, LazyRoute};

use crate::api::auth::{setup_needed, Login};
use crate::auth::LoginRequest;
use crate::components::fields::{PasswordField, UsernameField};
use crate::language::{error_sentence, use_locale};
use crate::pages::{go_to, safe_next};
use crate::tr;

/// The route: this page's code is split off the main WASM and loaded when the page is visited.
pub struct LoginRoute;

#[lazy_route]
impl LazyRoute for LoginRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <LoginPage/> }.into_any()
    }
}

/// The login form. A success loads the page the visitor was sent away from (`?next=`), in full,
/// so the server renders it with the new session.
#[component]
pub fn LoginPage() -> impl IntoView {
    let locale = use_locale();
    let query = use_query_map();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let login = ServerAction::<Login>::new();
    let needs_setup = Resource::new(|| (), |_| setup_needed());

    Effect::new(move |_| {
        if let Some(Ok(_)) = login.value().get() {
            let next = query.with_untracked(|query| query.get("next"));
            go_to(safe_next(next.as_deref()));
        }
    });
    let succeeded = move || matches!(login.value().get(), Some(Ok(_)));
    let error = move || {
        login.value().get().and_then(Result::err).map(
            |error| view! { <p class="error" role="alert">{error_sentence(locale, &error)}</p> },
        )
    };

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        login.dispatch(Login {
            request: LoginRequest {
                username: username.get_untracked().trim().to_string(),
                password: password.get_untracked(),
            },
        });
    };

    view! {
        <section class="auth-page">
            <Title text=tr!(locale, account.login_title)/>
            <h1>{tr!(locale, account.log_in)}</h1>
            // POST: a submit before the page is interactive must not put the password in a URL.
            <form class="stack-form" method="post" aria-label=tr!(locale, account.log_in) on:submit=on_submit>
                <UsernameField value=username autocomplete="username"/>
                <PasswordField value=password label=tr!(locale, account.password) name="password" new=false/>
                <button type="submit" disabled=move || login.pending().get() || succeeded()>
                    {move || {
                        if login.pending().get() {
                            tr!(locale, account.logging_in)
                        } else {
                            tr!(locale, account.log_in)
                        }
                    }}
                </button>
                {error}
            </form>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    matches!(needs_setup.await, Ok(true))
                        .then(|| {
                            view! {
                                <p class="notice" role="note">
                                    {tr!(locale, account.no_admin_yet)}
                                    " "
                                    <a href="/setup">{tr!(locale, account.set_up_first_admin)}</a>
                                </p>
                            }
                        })
                })}
            </Suspense>
        </section>
    }
}
