use leptos::prelude::*;
use leptos_meta::Title;

/// What an unknown address shows: said in words, with the way back, and answered with HTTP 404.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found · Limen"/>
        <section class="not-found">
            <h1>"Page not found"</h1>
            <p>"There is no page at this address: the link may be mistyped, or the page has moved."</p>
            <p>
                <a href="/">"Back to the virtual machines"</a>
            </p>
        </section>
    }
}
