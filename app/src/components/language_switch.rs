//! The language menu: in the top bar, and on the login and setup pages. Each language is named
//! in itself, so a person who cannot read the current one still finds theirs.

use leptos::prelude::*;

use crate::error::AppError;
use crate::language::{all_languages, code, error_sentence, use_locale};
use crate::tr;

/// Stores the choice (loaded when it is made: split off the main WASM).
#[leptos::lazy]
async fn choose_language(language: String) -> Result<(), AppError> {
    crate::api::auth::set_language(language).await
}

#[component]
pub fn LanguageSwitch() -> impl IntoView {
    let locale = use_locale();
    let choosing = RwSignal::new(false);
    let failed = RwSignal::new(None::<String>);
    let choose = move |event: leptos::ev::Event| {
        let language = event_target_value(&event);
        choosing.set(true);
        leptos::task::spawn_local(async move {
            match choose_language(language).await {
                // The server renders the page again in the new language: nothing of the old one
                // is left, and nothing on the page has to change language by itself.
                Ok(()) => crate::pages::reload(),
                Err(error) => {
                    choosing.set(false);
                    failed.set(Some(error_sentence(locale, &error)));
                }
            }
        });
    };
    view! {
        <select
            class="language"
            aria-label=tr!(locale, common.language)
            disabled=move || choosing.get()
            // After a refusal the menu shows the page's language again.
            prop:value=move || failed.with(|_| code(locale))
            on:change=choose
        >
            {all_languages()
                .iter()
                .map(|&language| {
                    view! {
                        <option value=code(language) lang=code(language) selected=language == locale>
                            {tr!(language, common.language_name)}
                        </option>
                    }
                })
                .collect_view()}
        </select>
        {move || failed.get().map(|message| view! { <span class="topbar-error" role="alert">{message}</span> })}
    }
}
