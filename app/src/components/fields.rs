//! The labelled inputs every account form shares (login, setup, new user), so they are named,
//! typed and autocompleted alike.

use leptos::prelude::*;

use crate::language::use_locale;
use crate::tr;

/// "Username". `autocomplete` is `username` for one's own account, `off` when naming someone
/// else's.
#[component]
pub fn UsernameField(value: RwSignal<String>, autocomplete: &'static str) -> impl IntoView {
    let locale = use_locale();
    view! {
        <label>
            {tr!(locale, dashboard.username)}
            <input
                type="text"
                name="username"
                autocomplete=autocomplete
                autocapitalize="none"
                required
                bind:value=value
            />
        </label>
    }
}

/// A password input labelled `label`; `new` when one is being chosen (browsers then offer to
/// generate and save it), else the current one.
#[component]
pub fn PasswordField(
    value: RwSignal<String>,
    label: &'static str,
    name: &'static str,
    new: bool,
) -> impl IntoView {
    let autocomplete = if new {
        "new-password"
    } else {
        "current-password"
    };
    view! {
        <label>
            {label}
            <input type="password" name=name autocomplete=autocomplete required bind:value=value/>
        </label>
    }
}
