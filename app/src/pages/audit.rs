use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{lazy_route, LazyRoute};

use crate::api::accounts::{audit, Audit};
use crate::auth::{AuditEntry, AuditPage, AuditQuery, Outcome};
use crate::i18n::Locale;
use crate::language::{error_sentence, format_time_seconds, use_locale, Label};
use crate::tr;

/// Entries per page.
const PAGE: u32 = 50;

/// The route: this page's code is split off the main WASM and loaded when the page is visited.
pub struct AuditLogRoute;

#[lazy_route]
impl LazyRoute for AuditLogRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <AuditLogPage/> }.into_any()
    }
}

/// The audit log, newest first (an admin sees everyone's entries, a user their own).
#[component]
pub fn AuditLogPage() -> impl IntoView {
    let locale = use_locale();
    let first = Resource::new(
        || (),
        |_| {
            audit(AuditQuery {
                before: None,
                limit: Some(PAGE),
            })
        },
    );
    view! {
        <section class="audit">
            <Title text=tr!(locale, admin.audit_title)/>
            <h1>{tr!(locale, admin.audit_log)}</h1>
            <Suspense fallback=move || {
                view! { <p class="muted">{tr!(locale, admin.loading_audit)}</p> }
            }>
                {move || Suspend::new(async move {
                    match first.await {
                        Ok(page) => view! { <AuditLog first=page/> }.into_any(),
                        Err(error) => {
                            view! { <p class="error" role="alert">{error_sentence(locale, &error)}</p> }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

/// The first page as loaded with the page, then older pages appended below it on request.
#[component]
fn AuditLog(first: AuditPage) -> impl IntoView {
    let locale = use_locale();
    if first.entries.is_empty() {
        return view! { <p class="muted">{tr!(locale, admin.no_entries)}</p> }.into_any();
    }
    let older = RwSignal::new(Vec::<AuditEntry>::new());
    let next = RwSignal::new(first.next_before);
    let load = ServerAction::<Audit>::new();
    let error = RwSignal::new(None::<String>);

    Effect::new(move |_| match load.value().get() {
        Some(Ok(page)) => {
            error.set(None);
            older.update(|entries| entries.extend(page.entries));
            next.set(page.next_before);
        }
        Some(Err(failure)) => error.set(Some(error_sentence(locale, &failure))),
        None => {}
    });

    let rows = first
        .entries
        .into_iter()
        .map(|entry| entry_row(locale, entry))
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="data-table audit-table" aria-label=tr!(locale, admin.audit_log)>
                <thead>
                    <tr>
                        <th scope="col">{tr!(locale, admin.column_time)}</th>
                        <th scope="col">{tr!(locale, admin.column_user)}</th>
                        <th scope="col">{tr!(locale, admin.column_address)}</th>
                        <th scope="col">{tr!(locale, admin.column_action)}</th>
                        <th scope="col">{tr!(locale, admin.column_target)}</th>
                        <th scope="col">{tr!(locale, admin.column_outcome)}</th>
                        <th scope="col">{tr!(locale, admin.column_detail)}</th>
                    </tr>
                </thead>
                <tbody>
                    {rows}
                    {move || {
                        older
                            .get()
                            .into_iter()
                            .map(|entry| entry_row(locale, entry))
                            .collect_view()
                    }}
                </tbody>
            </table>
        </div>
        <Show when=move || next.get().is_some()>
            <button
                type="button"
                class="secondary"
                disabled=move || load.pending().get()
                on:click=move |_| {
                    load.dispatch(Audit {
                        query: AuditQuery {
                            before: next.get_untracked(),
                            limit: Some(PAGE),
                        },
                    });
                }
            >
                {move || {
                    if load.pending().get() {
                        tr!(locale, admin.loading)
                    } else {
                        tr!(locale, admin.older_entries)
                    }
                }}
            </button>
        </Show>
        {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
    }
    .into_any()
}

/// One entry; its action (`vm.create`) is the log's own code and stays as it is.
fn entry_row(locale: Locale, entry: AuditEntry) -> AnyView {
    let dash = || "—".to_string();
    let class = match entry.outcome {
        Outcome::Success => "outcome-success",
        Outcome::Failure => "outcome-failure",
    };
    let outcome = entry.outcome.label_in(locale);
    view! {
        <tr>
            <td class="nowrap">{format_time_seconds(locale, &entry.at)}</td>
            <td>{entry.username.unwrap_or_else(dash)}</td>
            <td>{entry.address.unwrap_or_else(dash)}</td>
            <td>{entry.action}</td>
            <td>{entry.target.unwrap_or_else(dash)}</td>
            <td class=class>{outcome}</td>
            <td>{entry.detail.unwrap_or_else(dash)}</td>
        </tr>
    }
    .into_any()
}
