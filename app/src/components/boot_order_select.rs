//! The boot-order choice the create dialog and the VM page share.

use leptos::prelude::*;

use crate::language::{use_locale, Label};
use crate::types::BootOrder;

/// A labelled choice of boot order; `value` holds the chosen one's wire name (`cdrom_hd`, …).
#[component]
pub fn BootOrderSelect(label: &'static str, value: RwSignal<String>) -> impl IntoView {
    let locale = use_locale();
    view! {
        <label>
            {label}
            <select name="boot_order" on:change=move |ev| value.set(event_target_value(&ev)) prop:value=value>
                {BootOrder::ALL
                    .into_iter()
                    .map(|order| view! { <option value=order.as_str()>{order.label_in(locale)}</option> })
                    .collect_view()}
            </select>
        </label>
    }
}
