//! Making a base image of the VM's disk (admins): runs in the background, its progress comes
//! over the event stream, and it can be cancelled.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::media::{cancel_operation, create_image};
use crate::language::{error_sentence, use_locale};
use crate::live::use_live;
use crate::machine::{
    latest_operations, percent_of, progress_payload, CreateImageRequest, OperationKind,
    ProgressState,
};
use crate::tr;
use crate::types::{Vm, VmId, VmStatus};
use crate::validate::{validate_label, NAME_MAX_LEN};

#[component]
pub fn TemplateSection(id: VmId, vm: Memo<Option<Vm>>) -> impl IntoView {
    let live = use_live();
    let locale = use_locale();
    let name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let stopped =
        move || vm.with(|vm| vm.as_ref().is_some_and(|vm| vm.status == VmStatus::Stopped));
    // This VM's base-image operations, newest last (its snapshot work shows in its section).
    let all = Memo::new(move |_| live.operations.with(|events| latest_operations(events)));
    let operations = move || {
        all.try_with(|all| {
            all.iter()
                .filter(|op| op.vm == id && op.kind == OperationKind::ImageCreate)
                .cloned()
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
    };
    let running = move || operations().iter().any(|op| !op.state.is_over());
    let start = move |_| {
        let request = CreateImageRequest {
            vm: id,
            name: name.get_untracked().trim().to_string(),
        };
        if let Err(invalid) = validate_label("The image name", &request.name) {
            error.set(Some(error_sentence(locale, &invalid)));
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match create_image(request).await {
                Ok(started) => {
                    live.operation_event(progress_payload(&started));
                    name.set(String::new());
                }
                Err(failure) => error.set(Some(error_sentence(locale, &failure))),
            }
            busy.set(false);
        });
    };
    let cancel = move |operation| {
        spawn_local(async move {
            if let Err(failure) = cancel_operation(operation).await {
                error.set(Some(error_sentence(locale, &failure)));
            }
        });
    };
    view! {
        <section class="vm-section" aria-labelledby="template-heading">
            <h2 id="template-heading">{tr!(locale, vm.base_image_heading)}</h2>
            <p class="muted">{tr!(locale, vm.base_image_hint)}</p>
            <div class="section-row">
                <label>
                    {tr!(locale, vm.image_name)}
                    <input type="text" name="image_name" maxlength=NAME_MAX_LEN autocomplete="off" bind:value=name/>
                </label>
                <button
                    type="button"
                    disabled=move || {
                        busy.try_get().unwrap_or(true)
                            || running()
                            || !stopped()
                            || name.try_with(|n| n.trim().is_empty()).unwrap_or(true)
                    }
                    on:click=start
                >
                    {tr!(locale, vm.make_base_image)}
                </button>
            </div>
            // A row is made again when its operation's state changes, not at every percent: its
            // Cancel button stays the same button (focus, a click in flight) while it runs.
            <For each=operations key=|op| (op.id, op.state) let:op>
                <div
                    class="operation"
                    role="group"
                    aria-label=tr!(locale, vm.image_making, target = &op.target).to_string()
                >
                    {match op.state {
                        ProgressState::Running => {
                            let operation = op.id;
                            let percent = move || all.try_with(|all| percent_of(all, operation)).unwrap_or(0);
                            let target = op.target.clone();
                            view! {
                                <progress
                                    max="100"
                                    value=percent
                                    aria-label=tr!(locale, vm.image_progress, target = &op.target).to_string()
                                ></progress>
                                <span class="muted">{move || format!("{target} — {} %", percent())}</span>
                                <button type="button" on:click=move |_| cancel(operation)>
                                    {tr!(locale, vm.cancel)}
                                </button>
                            }
                            .into_any()
                        }
                        ProgressState::Done => {
                            view! {
                                <p class="notice" role="status">
                                    {tr!(locale, vm.image_ready, target = &op.target).to_string()}
                                </p>
                            }
                            .into_any()
                        }
                        ProgressState::Cancelled => {
                            view! {
                                <p class="notice" role="status">
                                    {tr!(locale, vm.image_cancelled, target = &op.target).to_string()}
                                </p>
                            }
                            .into_any()
                        }
                        ProgressState::Failed => {
                            view! {
                                <p class="error" role="alert">
                                    {tr!(
                                        locale,
                                        vm.image_failed,
                                        target = &op.target,
                                        error = op.error.clone().unwrap_or_default(),
                                    )
                                    .to_string()}
                                </p>
                            }
                            .into_any()
                        }
                    }}
                </div>
            </For>
            {move || error.try_get().flatten().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        </section>
    }
    // Erasing the type keeps the page's view type shallow enough for the release build.
    .into_any()
}
