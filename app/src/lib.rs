//! Limen's dashboard: the Leptos app shared by server-side rendering and the WASM hydrate build,
//! plus the wire types and errors shared with the REST API.

pub mod api;
pub mod auth;
pub mod components;
pub mod error;
pub mod language;
pub mod live;
pub mod machine;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ports;
pub mod report;
pub mod snapshots;
pub mod stats;
pub mod store;
pub mod types;
pub mod validate;

// The generated `i18n` module (app/build.rs): `Locale`, the keys, `t!` and the context provider.
include!(concat!(env!("OUT_DIR"), "/i18n/mod.rs"));

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    Lazy, ParamSegment, SsrMode, StaticSegment,
};

use crate::api::auth::{logout, me};
use crate::auth::{Role, User};
use crate::components::language_switch::LanguageSwitch;
use crate::error::{AppError, ErrorCode};
use crate::i18n::td_string;
use crate::language::{use_locale, Label};
use crate::live::{provide_live, Live};

/// The HTML document around the app (server-side only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The WASM reads the page's language back from here.
    let lang = language::code(language::resolve());
    view! {
        <!DOCTYPE html>
        <html lang=lang>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.ico"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Marks `<main data-hydrated="true">`. The WASM entry point calls it once hydration has
/// finished, the current page's lazily loaded chunk included: it tells a test (and a person
/// debugging) that the page is interactive, not just server-rendered HTML. (An effect in `App`
/// would run before a lazy page's own handlers are attached.)
#[cfg(feature = "hydrate")]
pub fn mark_hydrated() {
    if let Ok(Some(main)) = leptos::prelude::document().query_selector("main[data-hydrated]") {
        let _ = main.set_attribute("data-hydrated", "true");
    }
}

/// Who is logged in, loaded once per page load (`None` on the login and setup pages). Read it
/// inside `Suspense`/`Transition` so the server-rendered HTML and the hydrated page agree.
#[derive(Clone, Copy)]
pub struct Session {
    pub me: Resource<Result<Option<User>, AppError>>,
}

pub fn use_session() -> Session {
    use_context::<Session>().expect("App provides the session")
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    language::provide_locale();
    let session = Session {
        me: Resource::new(|| (), |_| me()),
    };
    provide_context(session);
    // The event stream needs a session: without one the server answers 401, after which an
    // EventSource never retries.
    let logged_in = Memo::new(move |_| matches!(session.me.get(), Some(Ok(Some(_)))));
    let live = provide_live(logged_in.into());

    view! {
        <Stylesheet id="leptos" href="/pkg/limen.css"/>
        <Title text="Limen"/>
        <Router>
            <header class="topbar">
                <a class="brand" href="/">"Limen"</a>
                <Transition fallback=|| ()>
                    {move || {
                        let locale = use_locale();
                        Suspend::new(async move {
                            match session.me.await {
                                Ok(Some(user)) => view! { <TopNav user live/> }.into_any(),
                                // The login and setup pages: only the language.
                                Ok(None) => view! { <LanguageSwitch/> }.into_any(),
                                Err(error) => {
                                    let sentence = language::error_sentence(locale, &error);
                                    view! { <span class="topbar-error" role="alert">{sentence}</span> }
                                        .into_any()
                                }
                            }
                        })
                    }}
                </Transition>
            </header>
            // "true" once hydration has finished (see `mark_hydrated`).
            <main data-hydrated="false">
                // Every page is rendered whole on the server (`SsrMode::Async`): what the first
                // paint shows is what the hydrated page shows, so nothing shifts (and each page's
                // <Title>, set once its data is there, reaches the server-rendered <head>).
                // Every page but the dashboard (the first load) is a `Lazy` route: its code is a
                // WASM chunk of its own, fetched when the page is visited, so a new page costs
                // the dashboard's first load nothing (scripts/first-load.sh holds it to 300 KiB).
                <Routes fallback=|| view! { <pages::not_found::NotFoundPage/> }>
                    <Route
                        path=StaticSegment("")
                        view=pages::dashboard::DashboardPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("vms"), ParamSegment("uuid"))
                        view={Lazy::<pages::vm_detail::VmDetailRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("vms"), ParamSegment("uuid"), StaticSegment("console"))
                        view={Lazy::<pages::console::ConsoleRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route path=StaticSegment("login") view={Lazy::<pages::login::LoginRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("setup") view={Lazy::<pages::setup::SetupRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("media") view={Lazy::<pages::media::MediaRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("tokens") view={Lazy::<pages::tokens::TokensRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("audit") view={Lazy::<pages::audit::AuditLogRoute>::new()} ssr=SsrMode::Async/>
                    // Every admin page (users, host, reconcile) in one route and chunk.
                    <Route
                        path=(StaticSegment("admin"), ParamSegment("page"))
                        view={Lazy::<pages::admin::AdminRoute>::new()}
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
        </Router>
    }
}

/// Logging out is loaded when it is done (split off the main WASM).
#[leptos::lazy]
async fn log_out_lazily() -> Result<(), AppError> {
    logout().await
}

/// The logged-in top bar: the pages this user may open, the live indicator, who they are, and
/// logging out.
#[component]
fn TopNav(user: User, live: Live) -> impl IntoView {
    let admin = user.role == Role::Admin;
    let locale = use_locale();
    let logging_out = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let log_out = move || {
        error.set(None);
        logging_out.set(true);
        leptos::task::spawn_local(async move {
            match log_out_lazily().await {
                // Without a session (expired, or logged out in another tab) the result is the same.
                Ok(()) => pages::go_to("/login"),
                Err(failure) if failure.code == ErrorCode::Unauthorized => pages::go_to("/login"),
                Err(failure) => {
                    logging_out.set(false);
                    error.set(Some(language::error_sentence(locale, &failure)));
                }
            }
        });
    };

    view! {
        <nav aria-label=td_string!(locale, common.nav_label)>
            <A href="/">{td_string!(locale, common.nav_machines)}</A>
            <A href="/media">{td_string!(locale, common.nav_media)}</A>
            <A href="/tokens">{td_string!(locale, common.nav_tokens)}</A>
            <A href="/audit">{td_string!(locale, common.nav_audit)}</A>
            {admin
                .then(|| {
                    view! {
                        <A href="/admin/host">{td_string!(locale, common.nav_host)}</A>
                        <A href="/admin/users">{td_string!(locale, common.nav_users)}</A>
                        <A href="/admin/reconcile">{td_string!(locale, common.nav_reconcile)}</A>
                    }
                })}
        </nav>
        <span
            class=move || format!("live-indicator live-{}", live.link.get().as_str())
            role="status"
            aria-label=td_string!(locale, common.live_updates)
        >
            {move || live.link.get().label_in(locale)}
        </span>
        <span class="whoami">
            {td_string!(
                locale, common.whoami, username = user.username.as_str(), role = user.role.label_in(locale)
            )
                .to_string()}
        </span>
        <LanguageSwitch/>
        <button
            type="button"
            class="logout"
            disabled=move || logging_out.get()
            on:click=move |_| log_out()
        >
            {td_string!(locale, common.log_out)}
        </button>
        {move || {
            error.get().map(|message| view! { <span class="topbar-error" role="alert">{message}</span> })
        }}
    }
    .into_any()
}
