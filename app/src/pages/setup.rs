use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{lazy_route, LazyRoute};

use crate::api::auth::{setup_needed, SetupAdmin};
use crate::auth::SetupRequest;
use crate::components::fields::{PasswordField, UsernameField};
use crate::language::{error_sentence, use_locale};
use crate::pages::go_to;
use crate::tr;

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
    let locale = use_locale();
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
        Some(Err(failure)) => error.set(Some(error_sentence(locale, &failure))),
        None => {}
    });
    let succeeded = move || matches!(setup.value().get(), Some(Ok(_)));

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let password = password.get_untracked();
        if password != repeat.get_untracked() {
            error.set(Some(tr!(locale, account.passwords_differ).into()));
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
            <Title text=tr!(locale, account.setup_title)/>
            <h1>{tr!(locale, account.set_up_first_admin)}</h1>
            <p class="muted">
                {tr!(locale, account.setup_explanation)}
            </p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    matches!(needed.await, Ok(false))
                        .then(|| {
                            view! {
                                <p class="notice" role="note">
                                    {tr!(locale, account.admin_exists)}
                                    " "
                                    <a href="/login">{tr!(locale, account.log_in)}</a>
                                </p>
                            }
                        })
                })}
            </Suspense>
            <form class="stack-form" method="post" aria-label=tr!(locale, account.set_up_first_admin) on:submit=on_submit>
                <label>
                    {tr!(locale, account.setup_token)}
                    <input type="text" name="setup_token" autocomplete="off" required bind:value=token/>
                </label>
                <UsernameField value=username autocomplete="username"/>
                <PasswordField value=password label=tr!(locale, account.password) name="password" new=true/>
                <PasswordField value=repeat label=tr!(locale, account.repeat_password) name="repeat_password" new=true/>
                <button type="submit" disabled=move || setup.pending().get() || succeeded()>
                    {move || {
                        if setup.pending().get() {
                            tr!(locale, account.creating)
                        } else {
                            tr!(locale, account.create_admin)
                        }
                    }}
                </button>
                {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            </form>
        </section>
    }
}
