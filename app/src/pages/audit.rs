use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{lazy_route, LazyRoute};

use crate::api::accounts::{audit, Audit};
use crate::auth::{AuditEntry, AuditPage, AuditQuery, Outcome};

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
            <Title text="Audit log · Limen"/>
            <h1>"Audit log"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading the audit log…"</p> }>
                {move || Suspend::new(async move {
                    match first.await {
                        Ok(page) => view! { <AuditLog first=page/> }.into_any(),
                        Err(error) => {
                            view! { <p class="error" role="alert">{error.message}</p> }.into_any()
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
    if first.entries.is_empty() {
        return view! { <p class="muted">"No entries yet."</p> }.into_any();
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
        Some(Err(failure)) => error.set(Some(failure.message)),
        None => {}
    });

    let rows = first.entries.into_iter().map(entry_row).collect_view();
    view! {
        <div class="table-wrap">
            <table class="data-table audit-table" aria-label="Audit log">
                <thead>
                    <tr>
                        <th scope="col">"Time"</th>
                        <th scope="col">"User"</th>
                        <th scope="col">"Address"</th>
                        <th scope="col">"Action"</th>
                        <th scope="col">"Target"</th>
                        <th scope="col">"Outcome"</th>
                        <th scope="col">"Detail"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows}
                    {move || older.get().into_iter().map(entry_row).collect_view()}
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
                {move || if load.pending().get() { "Loading…" } else { "Older entries" }}
            </button>
        </Show>
        {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
    }
    .into_any()
}

fn entry_row(entry: AuditEntry) -> AnyView {
    let dash = || "—".to_string();
    let (outcome, class) = match entry.outcome {
        Outcome::Success => ("success", "outcome-success"),
        Outcome::Failure => ("failure", "outcome-failure"),
    };
    view! {
        <tr>
            <td class="nowrap">{entry.at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</td>
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
