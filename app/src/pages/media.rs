//! The ISO and base-image libraries (SPEC §8): what is in them and which VMs use each file;
//! admins upload ISOs, delete what nothing uses, and follow (or cancel) base images being made.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::{lazy_route, LazyRoute};

use crate::api::media::{
    cancel_operation, delete_image, delete_iso, list_images, list_isos, list_operations,
};
use crate::auth::Role;
use crate::components::iso_upload::IsoUpload;
use crate::error::AppError;
use crate::language::{error_sentence, size_words, use_locale};
use crate::live::use_live;
use crate::machine::{
    latest_operations, percent_of, progress_payload, OperationKind, ProgressState,
};
use crate::tr;
use crate::types::MediaFile;
use crate::use_session;

/// The route: split off the main WASM, loaded when the page is visited.
pub struct MediaRoute;

#[lazy_route]
impl LazyRoute for MediaRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <MediaPage/> }.into_any()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Iso,
    Image,
}

#[component]
pub fn MediaPage() -> impl IntoView {
    let locale = use_locale();
    let live = use_live();
    let me = use_session().me;
    // Both lists load again whenever a library changes (an upload, a delete, a new image).
    let isos = Resource::new(move || live.library.get(), |_| list_isos());
    let images = Resource::new(move || live.library.get(), |_| list_images());
    // Operations already running when the page opened; the stream brings the rest.
    let running = Resource::new(|| (), |_| list_operations());
    let seeded = StoredValue::new(false);
    let error = RwSignal::new(None::<String>);
    let remove = move |kind: Kind, name: String| {
        error.set(None);
        spawn_local(async move {
            let answer = match kind {
                Kind::Iso => delete_iso(name).await,
                Kind::Image => delete_image(name).await,
            };
            match answer {
                Ok(()) => live.library_changed(),
                Err(failure) => error.set(Some(error_sentence(locale, &failure))),
            }
        });
    };
    view! {
        <section class="media">
            <Title text=tr!(locale, media.title)/>
            <h1>{tr!(locale, media.media)}</h1>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <h2>{tr!(locale, media.iso_images)}</h2>
            // Outside the lists' boundary: a list loading again (an upload finished) must not
            // make a new upload control and lose what it says.
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let admin = matches!(me.await, Ok(Some(user)) if user.role == Role::Admin);
                    admin.then(|| view! { <IsoUpload/> })
                })}
            </Transition>
            <Transition fallback=move || {
                view! { <p class="muted">{tr!(locale, media.loading)}</p> }
            }>
                {move || Suspend::new(async move {
                    let admin = matches!(me.await, Ok(Some(user)) if user.role == Role::Admin);
                    // Once: this boundary runs again whenever a library changes.
                    if let Ok(operations) = running.await {
                        if !seeded.get_value() {
                            seeded.set_value(true);
                            for operation in &operations {
                                live.operation_event(progress_payload(operation));
                            }
                        }
                    }
                    let (isos, images) = (isos.await, images.await);
                    view! {
                        <Library kind=Kind::Iso files=isos admin remove/>
                        <h2>{tr!(locale, media.base_images)}</h2>
                        <p class="muted">{tr!(locale, media.base_images_explanation)}</p>
                        <Library kind=Kind::Image files=images admin remove/>
                    }
                })}
            </Transition>
            <Operations/>
        </section>
    }
}

#[component]
fn Library(
    kind: Kind,
    files: Result<Vec<MediaFile>, AppError>,
    admin: bool,
    remove: impl Fn(Kind, String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let locale = use_locale();
    let label = match kind {
        Kind::Iso => tr!(locale, media.iso_images),
        Kind::Image => tr!(locale, media.base_images),
    };
    match files {
        Err(error) => {
            view! { <p class="error" role="alert">{error_sentence(locale, &error)}</p> }.into_any()
        }
        Ok(files) if files.is_empty() => {
            view! { <p class="muted">{tr!(locale, media.none_yet)}</p> }.into_any()
        }
        Ok(files) => view! {
            <div class="table-wrap">
            <table class="data-table" aria-label=label>
                <thead>
                    <tr>
                        <th scope="col">{tr!(locale, media.column_name)}</th>
                        <th scope="col">{tr!(locale, media.column_size)}</th>
                        <th scope="col">{tr!(locale, media.column_used_by)}</th>
                        {admin.then(|| view! { <th scope="col"><span class="visually-hidden">{tr!(locale, media.actions)}</span></th> })}
                    </tr>
                </thead>
                <tbody>
                    {files
                        .into_iter()
                        .map(|file| {
                            let used = !file.used_by.is_empty();
                            let name = file.name.clone();
                            view! {
                                <tr>
                                    <td>{file.name.clone()}</td>
                                    <td>{size_words(locale, file.size)}</td>
                                    <td>{if used {
                                        file.used_by.join(", ")
                                    } else {
                                        tr!(locale, media.used_by_nothing).into()
                                    }}</td>
                                    {admin.then(|| view! {
                                        <td>
                                            <button
                                                type="button"
                                                class="danger"
                                                aria-label=tr!(locale, media.delete_named, name = file.name.as_str()).to_string()
                                                title=used.then_some(tr!(locale, media.in_use))
                                                disabled=used
                                                on:click=move |_| remove(kind, name.clone())
                                            >
                                                {tr!(locale, media.delete)}
                                            </button>
                                        </td>
                                    })}
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
            </div>
        }
        .into_any(),
    }
}

/// Base images being made, with their progress as the stream reports it.
#[component]
fn Operations() -> impl IntoView {
    let locale = use_locale();
    let live = use_live();
    // The stream also reports snapshot work on VMs (shown on their pages): base images only.
    let operations = Memo::new(move |_| {
        live.operations.with(|events| {
            let mut all = latest_operations(events);
            all.retain(|op| op.kind == OperationKind::ImageCreate);
            all
        })
    });
    let running = move || {
        operations.with(|all| {
            all.iter()
                .filter(|op| !op.state.is_over())
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    view! {
        <Show when=move || !running().is_empty()>
            <h2>{tr!(locale, media.in_progress)}</h2>
            // Keyed by operation: its Cancel button stays the same button while the percent moves.
            <For each=running key=|op| op.id let:op>
                <div class="operation" role="group" aria-label=tr!(locale, media.making, name = op.target.as_str()).to_string()>
                    <progress
                        max="100"
                        value=move || operations.try_with(|all| percent_of(all, op.id)).unwrap_or(0)
                        aria-label=tr!(locale, media.progress_of, name = op.target.as_str()).to_string()
                    ></progress>
                    <span class="muted">
                        {
                            let target = op.target.clone();
                            move || format!("{target} — {} %", operations.try_with(|all| percent_of(all, op.id)).unwrap_or(0))
                        }
                    </span>
                    <button
                        type="button"
                        on:click=move |_| {
                            let id = op.id;
                            spawn_local(async move {
                                let _ = cancel_operation(id).await;
                            });
                        }
                    >
                        {tr!(locale, media.cancel)}
                    </button>
                </div>
            </For>
        </Show>
        {move || {
            operations
                .with(|all| all.iter().rev().find(|op| op.state == ProgressState::Failed).cloned())
                .map(|op| view! {
                    <p class="error" role="alert">
                        {tr!(
                            locale,
                            media.making_failed,
                            name = op.target.as_str(),
                            error = op.error.unwrap_or_default(),
                        )
                            .to_string()}
                    </p>
                })
        }}
    }
}
