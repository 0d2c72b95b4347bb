//! The language menu: in the top bar, and on the login and setup pages. Each language is named
//! in itself, so a person who cannot read the current one still finds theirs.

use leptos::prelude::*;

use crate::error::AppError;
use crate::i18n::td_string;
use crate::language::{all_languages, code, use_locale};

/// Stores the choice (loaded when it is made: split off the main WASM).
#[leptos::lazy]
async fn choose_language(language: String) -> Result<(), AppError> {
    crate::api::auth::set_language(language).await
}

#[component]
pub fn LanguageSwitch() -> impl IntoView {
    let locale = use_locale();
    let choosing = RwSignal::new(false);
    let choose = move |event: leptos::ev::Event| {
        let language = event_target_value(&event);
        choosing.set(true);
        leptos::task::spawn_local(async move {
            // The server renders the page again in the new language: nothing of the old one is
            // left, and nothing on the page has to change language by itself.
            if choose_language(language).await.is_ok() {
                crate::pages::reload();
            }
            choosing.set(false);
        });
    };
    view! {
        <select
            class="language"
            aria-label=td_string!(locale, common.language)
            disabled=move || choosing.get()
            on:change=choose
        >
            {all_languages()
                .iter()
                .map(|&language| {
                    view! {
                        <option value=code(language) lang=code(language) selected=language == locale>
                            {td_string!(language, common.language_name)}
                        </option>
                    }
                })
                .collect_view()}
        </select>
    }
}
