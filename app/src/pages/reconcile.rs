use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::reconcile::{AdoptVm, ForgetVm, Reconcile};
use crate::report::{AdoptRequest, ReconcileReport};
use crate::types::VmId;

/// The reconcile report (SPEC §6): run it, review it, adopt ghosts and remove missing records.
/// Nothing here is deleted without a click on that very item, and removing a missing VM's
/// record removes only the record.
#[component]
pub fn ReconcilePage() -> impl IntoView {
    let run = ServerAction::<Reconcile>::new();
    let report = move || run.value().get();

    view! {
        <section class="reconcile">
            <div class="dashboard-head">
                <Title text="Reconcile · Limen"/>
                <h1>"Reconcile"</h1>
                <button
                    type="button"
                    disabled=move || run.pending().get()
                    on:click=move |_| {
                        run.dispatch(Reconcile {});
                    }
                >
                    {move || if run.pending().get() { "Reconciling…" } else { "Run reconcile" }}
                </button>
            </div>
            <p class="muted">
                "Compares libvirt, the database and the disk directory. Status drift is corrected \
                 and cut-off operations are finished; everything else is listed here for you to decide."
            </p>
            {move || match report() {
                None => None,
                Some(Err(error)) => {
                    Some(view! { <p class="error" role="alert">{error.message}</p> }.into_any())
                }
                Some(Ok(report)) => Some(view! { <Report report/> }.into_any()),
            }}
        </section>
    }
}

#[component]
fn Report(report: ReconcileReport) -> impl IntoView {
    let summary = if report.is_clean() {
        format!("Everything agrees (checked in {} ms).", report.duration_ms)
    } else {
        format!("Checked in {} ms.", report.duration_ms)
    };
    view! {
        <div class="report" aria-label="Reconcile report">
            <p role="status" aria-label="Reconcile summary">{summary}</p>
            <ReportSection title="Ghost VMs: in libvirt, not in Limen" empty=report.ghosts.is_empty()>
                {report
                    .ghosts
                    .into_iter()
                    .map(|ghost| {
                        let label = format!("{} ({})", ghost.name, ghost.status.label());
                        view! { <GhostRow id=ghost.uuid name=ghost.name label/> }
                    })
                    .collect_view()}
            </ReportSection>
            <ReportSection title="Missing VMs: in Limen, not in libvirt" empty=report.missing.is_empty()>
                {report
                    .missing
                    .into_iter()
                    .map(|missing| view! { <MissingRow id=missing.uuid name=missing.name/> })
                    .collect_view()}
            </ReportSection>
            <ReportSection title="Status corrected" empty=report.drift.is_empty()>
                {report
                    .drift
                    .into_iter()
                    .map(|drift| {
                        view! {
                            <li>
                                {format!(
                                    "{}: recorded {}, libvirt says {}",
                                    drift.name,
                                    drift.recorded.label().to_lowercase(),
                                    drift.observed.label().to_lowercase(),
                                )}
                            </li>
                        }
                    })
                    .collect_view()}
            </ReportSection>
            <ReportSection title="Orphan disks: files no VM uses" empty=report.orphan_disks.is_empty()>
                {report
                    .orphan_disks
                    .into_iter()
                    .map(|disk| view! { <li>{format!("{} ({} bytes)", disk.file, disk.size)}</li> })
                    .collect_view()}
            </ReportSection>
            <ReportSection title="Cut-off operations" empty=report.operations.is_empty()>
                {report
                    .operations
                    .into_iter()
                    .map(|op| view! { <li>{format!("{} of {}: {}", op.kind, op.vm, op.outcome)}</li> })
                    .collect_view()}
            </ReportSection>
            <ReportSection
                title="Snapshot records without a snapshot"
                empty=report.stale_snapshots.is_empty()
            >
                {report
                    .stale_snapshots
                    .into_iter()
                    .map(|stale| {
                        view! {
                            <li>{format!("\"{}\" of {}: {}", stale.name, stale.vm_name, stale.reason)}</li>
                        }
                    })
                    .collect_view()}
            </ReportSection>
        </div>
    }
    .into_any()
}

#[component]
fn ReportSection(title: &'static str, empty: bool, children: Children) -> impl IntoView {
    view! {
        <section class="report-section" aria-label=title>
            <h2>{title}</h2>
            {if empty {
                view! { <p class="muted">"None."</p> }.into_any()
            } else {
                view! { <ul>{children()}</ul> }.into_any()
            }}
        </section>
    }
}

#[component]
fn GhostRow(id: VmId, name: String, label: String) -> impl IntoView {
    let adopt = ServerAction::<AdoptVm>::new();
    let outcome = move || {
        adopt.value().get().map(|result| match result {
            Ok(vm) => {
                view! { <span role="note">{format!("Adopted as {}.", vm.name)}</span> }.into_any()
            }
            Err(error) => {
                view! { <span class="error" role="alert">{error.message}</span> }.into_any()
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
                aria-label=format!("Adopt {name}")
                disabled=move || adopt.pending().get() || done()
                on:click=move |_| {
                    adopt.dispatch(AdoptVm {
                        request: AdoptRequest { uuid: id, owner: None, role: None },
                    });
                }
            >
                "Adopt"
            </button>
            " "
            {outcome}
        </li>
    }
}

#[component]
fn MissingRow(id: VmId, name: String) -> impl IntoView {
    let remove = ServerAction::<ForgetVm>::new();
    let done = move || matches!(remove.value().get(), Some(Ok(_)));
    let outcome = move || {
        remove.value().get().map(|result| match result {
            Ok(_) => view! { <span role="note">"Record removed."</span> }.into_any(),
            Err(error) => {
                view! { <span class="error" role="alert">{error.message}</span> }.into_any()
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
                aria-label=format!("Remove record of {name}")
                disabled=move || remove.pending().get() || done()
                on:click=move |_| {
                    remove.dispatch(ForgetVm { id });
                }
            >
                "Remove record"
            </button>
            " "
            {outcome}
        </li>
    }
}
