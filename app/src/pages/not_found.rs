use leptos::prelude::*;
use leptos_meta::Title;

use crate::language::use_locale;
use crate::tr;

/// What an unknown address shows: said in words, with the way back, and answered with HTTP 404.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    let locale = use_locale();
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text=tr!(locale, dashboard.not_found_title)/>
        <section class="not-found">
            <h1>{tr!(locale, dashboard.not_found_heading)}</h1>
            <p>{tr!(locale, dashboard.not_found_text)}</p>
            <p>
                <a href="/">{tr!(locale, dashboard.not_found_back)}</a>
            </p>
        </section>
    }
}
