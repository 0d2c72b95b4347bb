//! The VM's role (seed 004): a label the dashboard filters by.

use leptos::prelude::*;

use super::section::Call;
use crate::api::machine::set_role;
use crate::language::use_locale;
use crate::store::VmStore;
use crate::tr;
use crate::types::{Vm, VmId};
use crate::validate::{validate_label, NAME_MAX_LEN};

#[component]
pub fn RoleSection(id: VmId, vm: Memo<Option<Vm>>, store: VmStore) -> impl IntoView {
    let locale = use_locale();
    let current = move || vm.with(|vm| vm.as_ref().and_then(|vm| vm.role.clone()));
    let role = RwSignal::new(current().unwrap_or_default());
    Effect::new(move |_| role.set(current().unwrap_or_default()));
    let call = Call::new();
    let save = move |_| {
        let value = role.get_untracked().trim().to_string();
        if value.is_empty() {
            call.run(store, id, set_role(id, None), |_| {});
            return;
        }
        match validate_label("The role", &value) {
            Ok(()) => call.run(store, id, set_role(id, Some(value)), |_| {}),
            Err(error) => call.fail(&error),
        }
    };
    view! {
        <section class="vm-section" aria-labelledby="role-heading">
            <h2 id="role-heading">{tr!(locale, vm.role)}</h2>
            <div class="section-row">
                <label>
                    {tr!(locale, vm.role)}
                    <input
                        type="text"
                        name="role"
                        maxlength=NAME_MAX_LEN
                        placeholder=tr!(locale, vm.role_placeholder)
                        autocomplete="off"
                        bind:value=role
                    />
                </label>
                <button
                    type="button"
                    disabled=move || {
                        call.busy()
                            || role
                                .try_with(|role| role.trim() == current().unwrap_or_default())
                                .unwrap_or(true)
                    }
                    on:click=save
                >
                    {tr!(locale, vm.save_role)}
                </button>
            </div>
            <p class="muted">{tr!(locale, vm.role_hint)}</p>
            {call.error_view()}
        </section>
    }
    // Erasing the type keeps the page's view type shallow enough for the release build.
    .into_any()
}
