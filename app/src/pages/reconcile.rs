use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::reconcile::{AdoptVm, ForgetVm, Reconcile};
use crate::language::{error_sentence, format_count, use_locale, Label};
use crate::report::{AdoptRequest, ReconcileReport};
use crate::tr;
use crate::types::VmId;

/// The reconcile report (SPEC §6): run it, review it, adopt ghosts and remove missing records.
/// Nothing here is deleted without a click on that very item, and removing a missing VM's
/// record removes only the record.
#[component]
pub fn ReconcilePage() -> impl IntoView {
    let locale = use_locale();
    let run = ServerAction::<Reconcile>::new();
    let report = move || run.value().get();

    view! {
        <section class="reconcile">
            <div class="dashboard-head">
                <Title text=tr!(locale, admin.reconcile_title)/>
                <h1>{tr!(locale, admin.reconcile)}</h1>
                <button
                    type="button"
                    disabled=move || run.pending().get()
                    on:click=move |_| {
                        run.dispatch(Reconcile {});
                    }
                >
                    {move || {
                        if run.pending().get() {
                            tr!(locale, admin.reconciling)
                        } else {
                            tr!(locale, admin.run_reconcile)
                        }
                    }}
                </button>
            </div>
            <p class="muted">
                {tr!(locale, admin.reconcile_explanation)}
            </p>
            {move || match report() {
                None => None,
                Some(Err(error)) => {
                    Some(
                        view! { <p class="error" role="alert">{error_sentence(locale, &error)}</p> }
                            .into_any(),
                    )
                }
                Some(Ok(report)) => Some(view! { <Report report/> }.into_any()),
            }}
        </section>
    }
}

#[component]
fn Report(report: ReconcileReport) -> impl IntoView {
    let locale = use_locale();
    let ms = format_count(locale, report.duration_ms);
    let summary = if report.is_clean() {
        tr!(locale, admin.everything_agrees, ms = ms).to_string()
    } else {
        tr!(locale, admin.checked_in, ms = ms).to_string()
    };
    view! {
        <div class="report" aria-label=tr!(locale, admin.reconcile_report)>
            <p role="status" aria-label=tr!(locale, admin.reconcile_summary)>
                {summary}
            </p>
            <ReportSection
                title=tr!(locale, admin.ghosts_title)
                empty=report.ghosts.is_empty()
            >
                {report
                    .ghosts
                    .into_iter()
                    .map(|ghost| {
                        let label = format!("{} ({})", ghost.name, ghost.status.label_in(locale));
                        view! { <GhostRow id=ghost.uuid name=ghost.name label/> }
                    })
                    .collect_view()}
            </ReportSection>
            <ReportSection
                title=tr!(locale, admin.missing_title)
                empty=report.missing.is_empty()
            >
                {report
                    .missing
                    .into_iter()
                    .map(|missing| view! { <MissingRow id=missing.uuid name=missing.name/> })
                    .collect_view()}
            </ReportSection>
            <ReportSection title=tr!(locale, admin.drift_title) empty=report.drift.is_empty()>
                {report
                    .drift
                    .into_iter()
                    .map(|drift| {
                        view! {
                            <li>
                                {tr!(
                                    locale,
                                    admin.drift_line,
                                    name = drift.name.as_str(),
                                    recorded = drift.recorded.label_in(locale).to_lowercase(),
                                    observed = drift.observed.label_in(locale).to_lowercase(),
                                )
                                    .to_string()}
                            </li>
                        }
                    })
                    .collect_view()}
            </ReportSection>
            <ReportSection
                title=tr!(locale, admin.orphans_title)
                empty=report.orphan_disks.is_empty()
            >
                {report
                    .orphan_disks
                    .into_iter()
                    .map(|disk| {
                        let line = tr!(
                            locale,
                            admin.orphan_line,
                            file = disk.file.as_str(),
                            size = format_count(locale, disk.size),
                        )
                        .to_string();
                        view! { <li>{line}</li> }
                    })
                    .collect_view()}
            </ReportSection>
            <ReportSection
                title=tr!(locale, admin.cut_off_title)
                empty=report.operations.is_empty()
            >
                {report
                    .operations
                    .into_iter()
                    .map(|op| {
                        let line = tr!(
                            locale,
                            admin.cut_off_line,
                            kind = op.kind.as_str(),
                            vm = op.vm,
                            outcome = op.outcome.as_str(),
                        )
                        .to_string();
                        view! { <li>{line}</li> }
                    })
                    .collect_view()}
            </ReportSection>
            <ReportSection
                title=tr!(locale, admin.stale_snapshots_title)
                empty=report.stale_snapshots.is_empty()
            >
                {report
                    .stale_snapshots
                    .into_iter()
                    .map(|stale| {
                        let line = tr!(
                            locale,
                            admin.stale_snapshot_line,
                            name = stale.name.as_str(),
                            vm = stale.vm_name.as_str(),
                            reason = stale.reason.as_str(),
                        )
                        .to_string();
                        view! { <li>{line}</li> }
                    })
                    .collect_view()}
            </ReportSection>
        </div>
    }
    .into_any()
}

#[component]
fn ReportSection(title: &'static str, empty: bool, children: Children) -> impl IntoView {
    let locale = use_locale();
    view! {
        <section class="report-section" aria-label=title>
            <h2>{title}</h2>
            {if empty {
                view! { <p class="muted">{tr!(locale, admin.none)}</p> }.into_any()
            } else {
                view! { <ul>{children()}</ul> }.into_any()
            }}
        </section>
    }
}

#[component]
fn GhostRow(id: VmId, name: String, label: String) -> impl IntoView {
    let locale = use_locale();
    let adopt = ServerAction::<AdoptVm>::new();
    let outcome = move || {
        adopt.value().get().map(|result| match result {
            Ok(vm) => {
                let note = tr!(locale, admin.adopted_as, name = vm.name.as_str()).to_string();
                view! { <span role="note">{note}</span> }.into_any()
            }
            Err(error) => {
                view! { <span class="error" role="alert">{error_sentence(locale, &error)}</span> }
                    .into_any()
            }
        })
    };
    let done = move || matches!(adopt.value().get(), Some(Ok(_)));
    view! {
        <li>
            {label}
            " "
            <button
                type="button"
                aria-label=tr!(locale, admin.adopt_named, name = name.as_str()).to_string()
                disabled=move || adopt.pending().get() || done()
                on:click=move |_| {
                    adopt.dispatch(AdoptVm {
                        request: AdoptRequest { uuid: id, owner: None, role: None },
                    });
                }
            >
                {tr!(locale, admin.adopt)}
            </button>
            " "
            {outcome}
        </li>
    }
}

#[component]
fn MissingRow(id: VmId, name: String) -> impl IntoView {
    let locale = use_locale();
    let remove = ServerAction::<ForgetVm>::new();
    let done = move || matches!(remove.value().get(), Some(Ok(_)));
    let outcome = move || {
        remove.value().get().map(|result| match result {
            Ok(_) => {
                view! { <span role="note">{tr!(locale, admin.record_removed)}</span> }.into_any()
            }
            Err(error) => {
                view! { <span class="error" role="alert">{error_sentence(locale, &error)}</span> }
                    .into_any()
            }
        })
    };
    view! {
        <li>
            {name.clone()}
            " "
            <button
                type="button"
                class="danger"
                aria-label=tr!(locale, admin.remove_record_of, name = name.as_str()).to_string()
                disabled=move || remove.pending().get() || done()
                on:click=move |_| {
                    remove.dispatch(ForgetVm { id });
                }
            >
                {tr!(locale, admin.remove_record)}
            </button>
            " "
            {outcome}
        </li>
    }
}
